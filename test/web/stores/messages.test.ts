import { describe, expect, it } from 'vitest';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { useMessagesStore } from '../../../web/src/stores/messages.ts';
import { useOutboxStore } from '../../../web/src/stores/outbox.ts';
import { ALICE, BOB, CAROL, GATEWAY, createHarness, settle } from '../support/app-harness.ts';

async function online() {
  const h = createHarness();
  const account = useAccountStore(h.pinia);
  await account.start();
  await account.signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
  h.client.goOnline();
  return {
    h,
    account,
    conversations: useConversationsStore(h.pinia),
    messages: useMessagesStore(h.pinia),
    outbox: useOutboxStore(h.pinia),
  };
}

describe('incoming messages, conversations and unread counters', () => {
  it('a message from a new peer creates its conversation with preview and unread count', async () => {
    const { h, conversations, messages } = await online();
    h.client.receive({ from: BOB, text: 'hi Alice\nhow are you?' });
    await settle();
    expect(conversations.list).toMatchObject([
      { id: BOB, kind: 'direct', peers: [BOB], preview: 'hi Alice how are you?', unread: 1 },
    ]);
    expect(messages.listOf(BOB).map((m) => [m.direction, m.text, m.state])).toEqual([
      ['in', 'hi Alice\nhow are you?', 'delivered'],
    ]);
    expect(conversations.totalUnread).toBe(1);
  });

  it('conversations are ordered by last activity', async () => {
    const { h, conversations } = await online();
    h.client.receive({ from: BOB, text: 'first', at: 1000 });
    h.client.receive({ from: CAROL, text: 'second', at: 2000 });
    await settle();
    expect(conversations.list.map((c) => c.id)).toEqual([CAROL, BOB]);
    h.client.receive({ from: BOB, text: 'third', at: 3000 });
    await settle();
    expect(conversations.list.map((c) => c.id)).toEqual([BOB, CAROL]);
    expect(conversations.list[0]?.unread).toBe(2);
  });

  it('the same message twice (forked or retransmitted, or again after a reload) is shown once', async () => {
    const { h, messages, conversations } = await online();
    h.client.receive({ id: 'imdn-1', from: BOB, text: 'once' });
    h.client.receive({ id: 'imdn-1', from: BOB, text: 'once' });
    await settle();
    expect(messages.listOf(BOB)).toHaveLength(1);
    expect(conversations.get(BOB)?.unread).toBe(1);
  });

  it('opening a conversation marks it seen and sends display notifications only where asked', async () => {
    const { h, conversations, messages } = await online();
    h.client.receive({ id: 'a', from: BOB, text: 'read receipt please', wantsDisplayed: true });
    h.client.receive({ id: 'b', from: BOB, text: 'no receipt', wantsDisplayed: false });
    await settle();
    expect(h.client.displayed).toEqual([]);
    await conversations.open(BOB);
    expect(h.client.displayed).toEqual([['a']]);
    expect(messages.listOf(BOB).map((m) => m.state)).toEqual(['displayed', 'displayed']);
    expect(conversations.get(BOB)?.unread).toBe(0);
    // A message into the open, visible conversation is seen at once.
    h.client.receive({ id: 'c', from: BOB, text: 'live' });
    await settle();
    expect(h.client.displayed).toEqual([['a'], ['c']]);
    expect(conversations.get(BOB)?.unread).toBe(0);
  });

  it('marking seen touches only what was not seen yet, after a reload too, and notifies each message once', async () => {
    const { h, conversations, messages } = await online();
    h.client.receive({ id: 'old', from: BOB, text: 'before the reload', wantsDisplayed: true });
    await settle();
    // A reload: the history (one message not seen yet) comes back from storage.
    messages.reset();
    for (let i = 0; i < 3; i++)
      h.client.receive({ id: `n${i}`, from: BOB, text: `new ${i}`, wantsDisplayed: true });
    await settle();
    await conversations.open(BOB);
    expect(h.client.displayed).toEqual([['old', 'n0', 'n1', 'n2']]);
    for (let i = 3; i < 6; i++)
      h.client.receive({ id: `n${i}`, from: BOB, text: `new ${i}`, wantsDisplayed: true });
    await settle();
    expect(h.client.displayed).toEqual([['old', 'n0', 'n1', 'n2'], ['n3'], ['n4'], ['n5']]);
    messages.markSeen(BOB);
    expect(h.client.displayed).toHaveLength(4);
    expect(messages.listOf(BOB).every((m) => m.state === 'displayed')).toBe(true);
  });

  it('a hidden page counts unread, notifies, and marks seen when it becomes visible again', async () => {
    const { h, conversations } = await online();
    await conversations.openWith([BOB]);
    conversations.setPageVisible(false);
    h.client.receive({ id: 'x', from: BOB, text: 'are you there?' });
    await settle();
    expect(conversations.get(BOB)?.unread).toBe(1);
    expect(h.attention.notices).toMatchObject([{ title: 'bob', body: 'are you there?', tag: BOB }]);
    expect(h.client.displayed).toEqual([]);
    conversations.setPageVisible(true);
    expect(h.client.displayed).toEqual([['x']]);
    expect(conversations.get(BOB)?.unread).toBe(0);
  });

  it('the typing indicator follows the peer and clears when its message arrives', async () => {
    const { h, conversations } = await online();
    h.client.remoteComposing(BOB, true);
    expect(conversations.typing.has(BOB)).toBe(true);
    h.client.remoteComposing(BOB, false);
    expect(conversations.typing.has(BOB)).toBe(false);
    h.client.remoteComposing(BOB, true);
    h.client.receive({ from: BOB, text: 'done typing' });
    await settle();
    expect(conversations.typing.has(BOB)).toBe(false);
  });

  it('our typing goes to the peer of a direct conversation, never to a group', async () => {
    const { h, conversations } = await online();
    conversations.ensure([BOB]);
    const group = conversations.ensure([BOB, CAROL]);
    conversations.typed(BOB, true);
    conversations.typed(group.id, true);
    conversations.typed(BOB, false);
    expect(h.client.composing).toEqual([
      { peer: BOB, active: true },
      { peer: BOB, active: false },
    ]);
  });
});

describe('outgoing message states', () => {
  it('moves sending → sent → stored → delivered → displayed, with the time of each', async () => {
    const { h, messages, outbox, conversations } = await online();
    conversations.ensure([BOB]);
    const message = await outbox.send(BOB, 'hello');
    expect(h.client.sent).toMatchObject([{ id: message.id, to: [BOB], text: 'hello', group: false }]);
    const seen: string[] = [];
    for (const state of ['sent', 'stored', 'delivered', 'displayed'] as const) {
      h.client.now += 1000;
      h.client.state(message.id, state);
      const now = messages.find(message.id);
      seen.push(`${now?.state}@${(now?.stateAt ?? 0) - message.at}`);
    }
    expect(seen).toEqual(['sent@1000', 'stored@2000', 'delivered@3000', 'displayed@4000']);
  });

  it('never goes backwards: a late "stored" after "delivered" is ignored, as is a duplicate', async () => {
    const { h, messages, outbox, conversations } = await online();
    conversations.ensure([BOB]);
    const { id } = await outbox.send(BOB, 'hello');
    h.client.state(id, 'delivered');
    h.client.state(id, 'stored');
    h.client.state(id, 'sent');
    h.client.state(id, 'delivered');
    expect(messages.find(id)?.state).toBe('delivered');
    h.client.state(id, 'displayed');
    h.client.state(id, 'failed', { code: 500, reason: 'late' });
    expect(messages.find(id)?.state).toBe('displayed');
  });

  it('a peer failure shows the SIP status and reason; retry sends it again under the same id', async () => {
    const { h, messages, outbox, conversations } = await online();
    conversations.ensure([BOB]);
    const { id } = await outbox.send(BOB, 'are you there?');
    h.client.state(id, 'failed', { code: 480, reason: 'Temporarily Unavailable' });
    expect(messages.find(id)).toMatchObject({
      state: 'failed',
      failure: { code: 480, reason: 'Temporarily Unavailable' },
    });
    expect(outbox.has(id)).toBe(false);
    await outbox.retry(id);
    expect(messages.find(id)).toMatchObject({ state: 'sending', failure: undefined });
    expect(h.client.sent.map((s) => [s.id, s.retry])).toEqual([
      [id, false],
      [id, true],
    ]);
    h.client.state(id, 'delivered');
    expect(messages.find(id)?.state).toBe('delivered');
  });

  it('an expired message says so and can be sent again', async () => {
    const { h, messages, outbox, conversations } = await online();
    conversations.ensure([BOB]);
    const { id } = await outbox.send(BOB, 'meet at 5?');
    h.client.state(id, 'stored');
    h.client.state(id, 'expired');
    expect(messages.find(id)?.state).toBe('expired');
    await outbox.retry(id);
    expect(messages.find(id)?.state).toBe('sending');
  });

  it('the truth wins over a local timeout: a delivery notification after "failed" shows delivered', async () => {
    const { h, messages, outbox, conversations } = await online();
    conversations.ensure([BOB]);
    const { id } = await outbox.send(BOB, 'slow network');
    h.client.state(id, 'failed', { code: 408, reason: 'Request Timeout', local: true });
    h.client.state(id, 'failed', { code: 408, reason: 'Request Timeout', local: true });
    expect(messages.find(id)?.state).toBe('failed');
    h.client.state(id, 'delivered');
    expect(messages.find(id)?.state).toBe('delivered');
  });

  it('a state change for a message not in memory updates the stored copy', async () => {
    const { h, outbox, conversations, messages } = await online();
    conversations.ensure([BOB]);
    const { id } = await outbox.send(BOB, 'x');
    await settle();
    messages.reset();
    h.client.state(id, 'delivered');
    await settle();
    await messages.load(BOB);
    expect(messages.find(id)?.state).toBe('delivered');
  });
});

describe('page-mode groups', () => {
  it('a group message shows as a group conversation with every participant; reply-to-all goes to them all', async () => {
    const { h, conversations, outbox, messages } = await online();
    h.client.receive({ id: 'g1', from: BOB, text: 'hi both', participants: [ALICE, CAROL] });
    await settle();
    const group = conversations.list[0];
    expect(group).toMatchObject({ kind: 'group', peers: [BOB, CAROL] });
    expect(messages.listOf(group!.id)[0]).toMatchObject({ from: BOB, group: true });
    const reply = await outbox.send(group!.id, 'hi all');
    expect(h.client.sent).toMatchObject([{ id: reply.id, to: [BOB, CAROL], group: true, text: 'hi all' }]);
  });

  it('keeps each recipient state beside the aggregate', async () => {
    const { h, conversations, outbox, messages } = await online();
    const group = conversations.ensure([BOB, CAROL]);
    const { id } = await outbox.send(group.id, 'lunch?');
    h.client.state(id, 'stored');
    h.client.state(id, 'delivered', undefined, BOB);
    h.client.state(id, 'failed', { code: 404, reason: 'Not Found' }, CAROL);
    h.client.state(id, 'displayed', undefined, BOB);
    h.client.state(id, 'delivered', undefined, BOB);
    const message = messages.find(id);
    expect(message?.state).toBe('stored');
    expect(message?.recipients?.map((r) => [r.address, r.state, r.failure?.code])).toEqual([
      [BOB, 'displayed', undefined],
      [CAROL, 'failed', 404],
    ]);
    expect(outbox.has(id)).toBe(false);
  });
});

describe('capability notes', () => {
  it('what a peer refused is shown in its conversation and kept for the next sign-in', async () => {
    const { h, conversations, account } = await online();
    conversations.ensure([BOB]);
    h.client.learn({
      peer: BOB,
      capability: 'composing',
      supported: false,
      reason: '415 Unsupported Media Type',
    });
    expect(conversations.notesFor(BOB)).toMatchObject([{ capability: 'composing', supported: false }]);
    await settle();
    await account.signOut();
    await account.signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
    expect(h.client.signIns[1]?.capabilities).toMatchObject([{ peer: BOB, capability: 'composing' }]);
    expect(useConversationsStore(h.pinia).notesFor(BOB)).toHaveLength(1);
  });
});
