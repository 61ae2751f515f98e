// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import ChatConversationList from '../../../web/src/components/chat/ChatConversationList.vue';
import { useContactsStore } from '../../../web/src/stores/contacts.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { BOB, CAROL, settle } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

describe('ChatConversationList', () => {
  it('lists conversations by last activity with preview and unread count; opening one clears it', async () => {
    const h = await signedInHarness();
    useContactsStore(h.pinia).add(BOB, 'Bob');
    h.client.receive({ id: '1', from: BOB, text: 'older', at: Date.now() - 60_000 });
    h.client.receive({ id: '2', from: CAROL, text: 'newer', at: Date.now() });
    h.client.receive({ id: '3', from: CAROL, text: 'newest', at: Date.now() + 1 });
    await settle();
    const wrapper = mountWith(h, ChatConversationList);
    const items = wrapper.findAll('.conv');
    expect(items.map((i) => i.find('.conv__title').text())).toEqual(['carol', 'Bob']);
    expect(items[0]?.find('.conv__preview').text()).toBe('newest');
    expect(items[0]?.find('.conv__badge').text()).toBe('2');
    expect(items[0]?.find('.sr-only').text()).toBe('2 unread');
    await items[0]?.trigger('click');
    await flushPromises();
    expect(useConversationsStore(h.pinia).activeId).toBe(CAROL);
    expect(wrapper.find('.conv').attributes('aria-current')).toBe('true');
    expect(wrapper.findAll('.conv').map((i) => i.find('.conv__badge').exists())).toEqual([false, true]);
    expect(h.client.displayed).toEqual([['2', '3']]);
  });

  it('shows "typing…" for a peer that types, and our own last message as "You: …"', async () => {
    const h = await signedInHarness();
    const conversations = useConversationsStore(h.pinia);
    conversations.ensure([BOB]);
    const wrapper = mountWith(h, ChatConversationList);
    h.client.remoteComposing(BOB, true);
    await flushPromises();
    expect(wrapper.find('.conv__preview').text()).toBe('typing…');
    h.client.remoteComposing(BOB, false);
    const { useOutboxStore } = await import('../../../web/src/stores/outbox.ts');
    await useOutboxStore(h.pinia).send(BOB, 'hi there');
    await flushPromises();
    expect(wrapper.find('.conv__preview').text()).toBe('You: hi there');
  });

  it('arrow keys move between conversations', async () => {
    const h = await signedInHarness();
    h.client.receive({ id: '1', from: BOB, text: 'a', at: 1 });
    h.client.receive({ id: '2', from: CAROL, text: 'b', at: 2 });
    await settle();
    const wrapper = mountWith(h, ChatConversationList);
    const [first, second] = wrapper.findAll<HTMLButtonElement>('.conv');
    first?.element.focus();
    await wrapper.find('ul').trigger('keydown', { key: 'ArrowDown' });
    expect(document.activeElement).toBe(second?.element);
    await wrapper.find('ul').trigger('keydown', { key: 'Home' });
    expect(document.activeElement).toBe(first?.element);
  });
});
