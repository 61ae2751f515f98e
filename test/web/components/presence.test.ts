// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import AccountPresenceChooser from '../../../web/src/components/account/AccountPresenceChooser.vue';
import ChatConversationList from '../../../web/src/components/chat/ChatConversationList.vue';
import ChatConversationView from '../../../web/src/components/chat/ChatConversationView.vue';
import ContactsList from '../../../web/src/components/contacts/ContactsList.vue';
import { useContactsStore } from '../../../web/src/stores/contacts.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { usePresenceStore } from '../../../web/src/stores/presence.ts';
import { ALICE, BOB, CAROL } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

describe('presence dots', () => {
  it('a contact shows a dot named for screen readers, and the status and note under the name', async () => {
    const h = await signedInHarness();
    const contacts = useContactsStore(h.pinia);
    contacts.add(BOB, 'Bob');
    contacts.add(CAROL, 'Carol');
    const wrapper = mountWith(h, ContactsList);
    // Nothing heard yet: no dot, the address under the name.
    expect(wrapper.findAll('[role="img"]')).toHaveLength(0);
    h.client.presence(BOB, 'away', 'In a meeting');
    h.client.presence(CAROL, 'dnd');
    await flushPromises();
    const dots = wrapper.findAll('[role="img"]');
    expect(dots.map((d) => d.attributes('aria-label'))).toEqual(['Away — In a meeting', 'Do not disturb']);
    expect(dots.map((d) => d.classes().find((c) => c.startsWith('presence-dot--')))).toEqual([
      'presence-dot--away',
      'presence-dot--dnd',
    ]);
    expect(wrapper.findAll('.contact__address').map((n) => n.text())).toEqual([
      'Away — In a meeting',
      'Do not disturb',
    ]);
    h.client.presence(BOB, 'offline');
    await flushPromises();
    expect(wrapper.find('[role="img"]').attributes('aria-label')).toBe('Offline');
    expect(wrapper.find('.presence-dot--offline').exists()).toBe(true);
  });

  it("a direct conversation shows the peer's dot in the list and the status and note in its header; a group none", async () => {
    const h = await signedInHarness();
    useContactsStore(h.pinia).add(BOB, 'Bob');
    const conversations = useConversationsStore(h.pinia);
    await conversations.openWith([BOB]);
    await conversations.openWith([BOB, CAROL]);
    h.client.presence(BOB, 'busy', 'On a call');
    const list = mountWith(h, ChatConversationList);
    await flushPromises();
    // Inside the button the dot is hidden; the button's own text says it, after the name.
    const dots = list.findAll('.presence-dot');
    expect(dots).toHaveLength(1);
    expect(dots[0]?.attributes('aria-hidden')).toBe('true');
    expect(dots[0]?.classes()).toContain('presence-dot--busy');
    expect(list.text()).toContain('Bob, Busy — On a call');

    const direct = conversations.list.find((c) => c.kind === 'direct');
    if (!direct) throw new Error('no direct conversation');
    const view = mountWith(h, ChatConversationView, { props: { conversation: direct } });
    expect(view.find('.view__presence').text()).toBe('Busy — On a call');
    h.client.presence(BOB, 'available');
    await flushPromises();
    expect(view.find('.view__presence').text()).toBe('Available');
  });
});

describe('AccountPresenceChooser', () => {
  it('says our status; the dialog picks one with a note by keyboard and form, Escape changes nothing', async () => {
    const h = await signedInHarness();
    const wrapper = mountWith(h, AccountPresenceChooser);
    const button = wrapper.find('button[aria-haspopup="dialog"]');
    expect(button.attributes('aria-label')).toBe('Your status: Available. Change status');
    await button.trigger('click');
    await flushPromises();
    const dialog = (): ReturnType<typeof wrapper.find> => wrapper.find('[role="dialog"]');
    expect(dialog().attributes('aria-labelledby')).toBeTruthy();
    // The current status's radio has the focus (arrows then move between the five).
    const checked = wrapper.find<HTMLInputElement>('input[type="radio"]:checked');
    expect(checked.element.value).toBe('available');
    expect(document.activeElement).toBe(checked.element);
    expect(wrapper.findAll('label.status__choice').map((l) => l.text())).toEqual([
      'Available',
      'Away',
      'Busy',
      'Do not disturb',
      'Appear offline',
    ]);
    await wrapper.find('input[value="busy"]').setValue(true);
    await wrapper.find('input[name="presence-note"]').setValue('On a call');
    await dialog().trigger('keydown', { key: 'Escape' });
    expect(dialog().exists()).toBe(false);
    expect(h.client.presenceSet).toEqual([]);

    await button.trigger('click');
    await flushPromises();
    await wrapper.find('input[value="busy"]').setValue(true);
    await wrapper.find('input[name="presence-note"]').setValue('On a call');
    await wrapper.find('form[aria-label="Set your status"]').trigger('submit');
    expect(h.client.presenceSet).toEqual([{ status: 'busy', note: 'On a call' }]);
    expect(dialog().exists()).toBe(false);
    expect(button.attributes('aria-label')).toBe('Your status: Busy — On a call. Change status');
    expect(h.local.getItem('simple-chat.presence')).toContain('"busy"');

    // Appear offline: no note, nothing published; a refused publication says so.
    await button.trigger('click');
    await flushPromises();
    await wrapper.find('input[value="offline"]').setValue(true);
    expect(wrapper.find<HTMLInputElement>('input[name="presence-note"]').element.disabled).toBe(true);
    await wrapper.find('form[aria-label="Set your status"]').trigger('submit');
    expect(h.client.presenceSet.at(-1)).toEqual({ status: 'offline', note: undefined });
    expect(button.text()).toBe('Appearing offline');
    usePresenceStore(h.pinia).choose('away');
    h.client.publication('away', 'failed', undefined, '403 Forbidden');
    await flushPromises();
    expect(button.text()).toBe('Away (not published: 403 Forbidden)');
    expect(h.client.address).toBe(ALICE);
  });
});
