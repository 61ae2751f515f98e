// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import ChatConversationView from '../../../web/src/components/chat/ChatConversationView.vue';
import SearchPanel from '../../../web/src/components/search/SearchPanel.vue';
import { useContactsStore } from '../../../web/src/stores/contacts.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { useMessagesStore } from '../../../web/src/stores/messages.ts';
import { BOB, CAROL, settle } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

describe('ChatConversationView', () => {
  it('shows the typing indicator while the peer types, and clears it when the message arrives', async () => {
    const h = await signedInHarness();
    useContactsStore(h.pinia).add(BOB, 'Bob');
    const conversation = useConversationsStore(h.pinia).ensure([BOB]);
    const wrapper = mountWith(h, ChatConversationView, { props: { conversation } });
    h.client.remoteComposing(BOB, true);
    await flushPromises();
    expect(wrapper.find('.typing').text()).toBe('Bob is typing');
    h.client.receive({ id: 'm', from: BOB, text: 'here it is' });
    await settle();
    expect(wrapper.find('.typing').text()).toBe('');
    expect(wrapper.find('[aria-live="polite"].sr-only').text()).toBe('Bob: here it is');
  });

  it('shows the note when a peer refused something (capability learned)', async () => {
    const h = await signedInHarness();
    useContactsStore(h.pinia).add(BOB, 'Bob');
    const conversation = useConversationsStore(h.pinia).ensure([BOB]);
    const wrapper = mountWith(h, ChatConversationView, { props: { conversation } });
    h.client.learn({
      peer: BOB,
      capability: 'composing',
      supported: false,
      reason: '415 Unsupported Media Type',
    });
    await flushPromises();
    expect(wrapper.find('[role="note"]').text()).toBe(
      "Bob's app does not show typing indicators, so yours are not sent. (415 Unsupported Media Type)",
    );
  });

  it('a group conversation says who is in it and has no typing indicator', async () => {
    const h = await signedInHarness();
    const conversation = useConversationsStore(h.pinia).ensure([BOB, CAROL]);
    const wrapper = mountWith(h, ChatConversationView, { props: { conversation } });
    expect(wrapper.find('.view__subtitle').text()).toBe('Group · 3 people');
    expect(wrapper.find('textarea').attributes('aria-label')).toBe('Message everyone in bob, carol');
    h.client.remoteComposing(BOB, true);
    await flushPromises();
    expect(wrapper.find('.typing').text()).toBe('');
  });
});

describe('SearchPanel', () => {
  it('finds messages in any conversation and jumps to the one chosen', async () => {
    const h = await signedInHarness();
    h.client.receive({ id: 'b1', from: BOB, text: 'the quarterly report', at: 1 });
    h.client.receive({ id: 'c1', from: CAROL, text: 'lunch?', at: 2 });
    await settle();
    const wrapper = mountWith(h, SearchPanel);
    await wrapper.find('input[type="search"]').setValue('REPORT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await settle();
    const results = wrapper.findAll('.result');
    expect(results.map((r) => r.find('.result__text').text())).toEqual(['bob: the quarterly report']);
    await results[0]?.trigger('click');
    await flushPromises();
    expect(useConversationsStore(h.pinia).activeId).toBe(BOB);
    expect(useMessagesStore(h.pinia).focus).toMatchObject({ id: 'b1' });
  });

  it('Ctrl+K focuses the field from anywhere; Escape clears it', async () => {
    const h = await signedInHarness();
    const wrapper = mountWith(h, SearchPanel);
    document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'k', ctrlKey: true, bubbles: true }));
    const field = wrapper.find<HTMLInputElement>('input[type="search"]');
    expect(document.activeElement).toBe(field.element);
    await field.setValue('x');
    await field.trigger('keydown', { key: 'Escape' });
    expect(field.element.value).toBe('');
  });
});
