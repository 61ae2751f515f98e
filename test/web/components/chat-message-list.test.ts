// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { enableAutoUnmount, flushPromises } from '@vue/test-utils';
import ChatMessageList from '../../../web/src/components/chat/ChatMessageList.vue';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { useMessagesStore } from '../../../web/src/stores/messages.ts';
import { useOutboxStore } from '../../../web/src/stores/outbox.ts';
import { BOB, CAROL, settle } from '../support/app-harness.ts';
import { mountWith, signedInHarness } from '../support/mount.ts';

enableAutoUnmount(afterEach);

/** A conversation with `count` messages of history in storage (as after a reload). */
async function withHistory(count: number) {
  const h = await signedInHarness();
  useConversationsStore(h.pinia).ensure([BOB]);
  const start = Date.UTC(2026, 0, 1);
  const storage = h.storages[0]!;
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      storage.saveMessage({
        id: `b${i}`,
        conversationId: BOB,
        direction: 'in',
        from: BOB,
        to: ['sip:alice@example.com'],
        group: false,
        text: `message number ${i}`,
        at: start + i * 60_000,
        state: 'displayed',
        stateAt: start,
      }),
    ),
  );
  await useMessagesStore(h.pinia).load(BOB);
  const wrapper = mountWith(h, ChatMessageList, {
    props: { conversationId: BOB, label: 'Messages with Bob', group: false },
  });
  await flushPromises();
  return { h, wrapper };
}

describe('ChatMessageList (virtualized)', () => {
  it('keeps only the rows in view in the DOM for 10,000 messages, and starts at the newest', async () => {
    const { wrapper } = await withHistory(10_000);
    const rows = wrapper.findAll('[data-index]');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(60);
    expect(rows.at(-1)?.text()).toContain('message number 9999');
    const feed = wrapper.find('[role="feed"]');
    expect(feed.attributes('aria-label')).toBe('Messages with Bob');
    expect(rows.at(-1)?.find('article').attributes('aria-setsize')).toBe('10000');
    expect(rows.at(-1)?.find('article').attributes('aria-posinset')).toBe('10000');
  }, 30_000);

  it('scrolls to a message found by search and highlights it', async () => {
    const { h, wrapper } = await withHistory(2_000);
    expect(wrapper.text()).not.toContain('message number 17 ');
    useMessagesStore(h.pinia).focusOn(BOB, 'b17');
    await flushPromises();
    await settle();
    const row = wrapper.findAll('[data-index]').find((r) => r.text().includes('message number 17'));
    expect(row).toBeDefined();
    expect(row?.find('.bubble--highlight').exists()).toBe(true);
  }, 30_000);

  it('a new message at the bottom is rendered; the retry button of a failed one resends it', async () => {
    const h = await signedInHarness();
    useConversationsStore(h.pinia).ensure([BOB]);
    const wrapper = mountWith(h, ChatMessageList, {
      props: { conversationId: BOB, label: 'Messages', group: false },
    });
    expect(wrapper.text()).toContain('No messages yet');
    const { id } = await useOutboxStore(h.pinia).send(BOB, 'are you there?');
    h.client.state(id, 'failed', { code: 486, reason: 'Busy Here' });
    await flushPromises();
    expect(wrapper.text()).toContain('Not delivered: 486 Busy Here');
    await wrapper.find('.bubble__retry').trigger('click');
    await settle();
    expect(h.client.sent.map((s) => s.id)).toEqual([id, id]);
    expect(wrapper.text()).not.toContain('Not delivered');
  });

  it('names the sender once per run of messages in a group', async () => {
    const h = await signedInHarness();
    const group = useConversationsStore(h.pinia).ensure([BOB, CAROL]);
    const participants = ['sip:alice@example.com', BOB, CAROL];
    h.client.receive({ id: 'g1', from: BOB, text: 'one', participants, at: 1 });
    h.client.receive({ id: 'g2', from: BOB, text: 'two', participants, at: 2 });
    h.client.receive({ id: 'g3', from: CAROL, text: 'three', participants, at: 3 });
    await settle();
    const wrapper = mountWith(h, ChatMessageList, {
      props: { conversationId: group.id, label: 'Group', group: true },
    });
    await flushPromises();
    expect(wrapper.findAll('.bubble__sender').map((s) => s.text())).toEqual(['bob', 'carol']);
  });
});
