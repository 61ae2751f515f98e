import { describe, expect, it } from 'vitest';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { useMessagesStore } from '../../../web/src/stores/messages.ts';
import { useOutboxStore } from '../../../web/src/stores/outbox.ts';
import { FakeChatClient } from '../support/fake-chat-client.ts';
import {
  ALICE,
  BOB,
  CAROL,
  GATEWAY,
  createHarness,
  settle,
  type HarnessOptions,
} from '../support/app-harness.ts';

async function signedIn(options: HarnessOptions = {}) {
  const h = createHarness(options);
  const account = useAccountStore(h.pinia);
  await account.start();
  if (account.phase !== 'signed-in')
    await account.signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
  return {
    h,
    account,
    conversations: useConversationsStore(h.pinia),
    messages: useMessagesStore(h.pinia),
    outbox: useOutboxStore(h.pinia),
  };
}

describe('outbox: nothing accepted is ever lost', () => {
  it('holds messages while offline and sends them in order when online', async () => {
    const { h, conversations, outbox, messages } = await signedIn();
    conversations.ensure([BOB]);
    conversations.ensure([CAROL]);
    await outbox.send(BOB, 'one');
    await outbox.send(CAROL, 'two');
    await outbox.send(BOB, 'three');
    expect(h.client.sent).toEqual([]);
    expect(outbox.waiting).toBe(3);
    expect(messages.listOf(BOB).map((m) => m.state)).toEqual(['sending', 'sending']);
    h.client.goOnline();
    expect(h.client.sent.map((s) => s.text)).toEqual(['one', 'two', 'three']);
  });

  it('survives a reload: the outbox and history come back and are sent in order', async () => {
    const first = await signedIn();
    first.conversations.ensure([BOB]);
    await first.outbox.send(BOB, 'before reload 1');
    await first.outbox.send(BOB, 'before reload 2');
    await settle();
    for (const storage of first.h.storages) storage.close();

    const { h, outbox, messages } = await signedIn({
      idb: first.h.idb,
      local: first.h.local,
      session: first.h.sessionStore,
      client: new FakeChatClient(),
    });
    expect(outbox.entries.map((e) => e.text)).toEqual(['before reload 1', 'before reload 2']);
    await messages.load(BOB);
    expect(messages.listOf(BOB).map((m) => [m.text, m.state])).toEqual([
      ['before reload 1', 'sending'],
      ['before reload 2', 'sending'],
    ]);
    h.client.goOnline();
    expect(h.client.sent.map((s) => s.text)).toEqual(['before reload 1', 'before reload 2']);
    const ids = h.client.sent.map((s) => s.id);
    h.client.state(ids[0]!, 'delivered');
    h.client.state(ids[1]!, 'stored');
    expect(outbox.waiting).toBe(0);
    await settle();
    expect(await h.storages[0]!.loadOutbox()).toEqual([]);
  });

  it('a message that failed because the connection dropped waits and goes again when back online', async () => {
    const { h, conversations, outbox, messages } = await signedIn();
    conversations.ensure([BOB]);
    h.client.goOnline();
    const { id } = await outbox.send(BOB, 'through a tunnel');
    h.client.state(id, 'sent');
    h.client.dropConnection(h.client.now + 2000);
    expect(messages.find(id)?.state).toBe('sending');
    expect(outbox.has(id)).toBe(true);
    h.client.goOnline();
    expect(h.client.sent.map((s) => s.id)).toEqual([id, id]);
    h.client.state(id, 'delivered');
    expect(messages.find(id)?.state).toBe('delivered');
    expect(outbox.has(id)).toBe(false);
  });

  it('every return online hands everything over again; the client ignores what it still has in flight', async () => {
    const { h, conversations, outbox } = await signedIn();
    conversations.ensure([BOB]);
    h.client.goOnline();
    const { id } = await outbox.send(BOB, 'in flight');
    h.client.setConnection({
      status: 'reconnecting',
      attempt: 1,
      at: h.client.now + 1000,
      reason: 'ping timeout',
    });
    h.client.goOnline();
    expect(h.client.sent.map((s) => s.id)).toEqual([id]);
    expect(outbox.has(id)).toBe(true);
  });

  it('a local failure while the connection looks up is retried once, then shown failed', async () => {
    const { h, conversations, outbox, messages } = await signedIn();
    conversations.ensure([BOB]);
    h.client.goOnline();
    const { id } = await outbox.send(BOB, 'nobody answers');
    h.client.state(id, 'failed', { code: 408, reason: 'Request Timeout', local: true });
    await settle();
    expect(h.client.sent.map((s) => s.id)).toEqual([id, id]);
    expect(messages.find(id)?.state).toBe('sending');
    h.client.state(id, 'failed', { code: 408, reason: 'Request Timeout', local: true });
    expect(messages.find(id)).toMatchObject({ state: 'failed', failure: { code: 408 } });
    expect(outbox.has(id)).toBe(false);
  });

  it('a message refused by the peer leaves the outbox (no endless resending)', async () => {
    const { h, conversations, outbox } = await signedIn();
    conversations.ensure([BOB]);
    h.client.goOnline();
    const { id } = await outbox.send(BOB, 'x');
    h.client.state(id, 'failed', { code: 404, reason: 'Not Found' });
    h.client.setConnection({ status: 'reconnecting', attempt: 1, at: 0, reason: 'x' });
    h.client.goOnline();
    expect(h.client.sent).toHaveLength(1);
  });

  it('refuses empty text and sending while signed out', async () => {
    const { conversations, outbox, account } = await signedIn();
    conversations.ensure([BOB]);
    await expect(outbox.send(BOB, '  \n ')).rejects.toThrow(TypeError);
    await account.signOut();
    await expect(outbox.send(BOB, 'x')).rejects.toThrow(/sign in/);
  });
});
