import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it, vi } from 'vitest';
import {
  IndexedDbChatStorage,
  chatDatabaseName,
  openChatStorage,
  type ChatMessage,
  type OutboxEntry,
} from '../../../web/src/drivers/index.ts';

const ALICE = 'sip:alice@example.com';
const BOB = 'sip:bob@example.com';

function message(id: string, at: number, text = `text ${id}`, conversationId = BOB): ChatMessage {
  return {
    id,
    conversationId,
    direction: 'out',
    from: ALICE,
    to: [BOB],
    group: false,
    text,
    at,
    state: 'sending',
    stateAt: at,
  };
}

function entry(id: string, queuedAt: number, seq: number): OutboxEntry {
  return { id, conversationId: BOB, to: [BOB], group: false, text: id, queuedAt, seq };
}

describe('IndexedDbChatStorage', () => {
  it('keeps history per conversation in time order across a close and reopen', async () => {
    const idb = new IDBFactory();
    const storage = await openChatStorage(idb, ALICE);
    await Promise.all([
      storage.saveMessage(message('b', 20)),
      storage.saveMessage(message('a', 10)),
      storage.saveMessage(message('c', 5, 'other', 'sip:carol@example.com')),
    ]);
    storage.close();
    const again = await openChatStorage(idb, ALICE);
    expect((await again.loadMessages(BOB)).map((m) => m.id)).toEqual(['a', 'b']);
    expect(await again.getMessage('c')).toMatchObject({ text: 'other' });
  });

  it('one database per account', async () => {
    const idb = new IDBFactory();
    const alice = await openChatStorage(idb, ALICE);
    const bob = await openChatStorage(idb, BOB);
    await alice.saveContact({ address: 'sip:carol@example.com', name: 'Carol', addedAt: 1 });
    expect(await bob.loadContacts()).toEqual([]);
    expect(await alice.loadContacts()).toHaveLength(1);
  });

  it('a read sees every write issued before it, even in the same task', async () => {
    const storage = await openChatStorage(new IDBFactory(), ALICE);
    void storage.saveMessage(message('x', 1));
    void storage.saveMessage({ ...message('x', 1), state: 'delivered' });
    expect(await storage.getMessage('x')).toMatchObject({ state: 'delivered' });
  });

  it('enqueue writes the message and its outbox entry together; the outbox comes back in send order', async () => {
    const idb = new IDBFactory();
    const storage = await openChatStorage(idb, ALICE);
    await storage.enqueue(message('2', 100), entry('2', 100, 2));
    await storage.enqueue(message('1', 100), entry('1', 100, 1));
    await storage.enqueue(message('0', 50), entry('0', 50, 3));
    storage.close();
    const again = await openChatStorage(idb, ALICE);
    expect((await again.loadOutbox()).map((e) => e.id)).toEqual(['0', '1', '2']);
    expect(await again.getMessage('1')).toBeDefined();
    await again.dequeue('1');
    expect((await again.loadOutbox()).map((e) => e.id)).toEqual(['0', '2']);
  });

  it('searches text across conversations, case-insensitively, newest first, up to the limit', async () => {
    const storage = await openChatStorage(new IDBFactory(), ALICE);
    await Promise.all([
      storage.saveMessage(message('1', 1, 'Lunch at noon?')),
      storage.saveMessage(message('2', 2, 'no lunch today', 'sip:carol@example.com')),
      storage.saveMessage(message('3', 3, 'LUNCH!')),
      storage.saveMessage(message('4', 4, 'dinner')),
    ]);
    expect((await storage.searchMessages('lunch', 10)).map((m) => m.id)).toEqual(['3', '2', '1']);
    expect((await storage.searchMessages('lunch', 2)).map((m) => m.id)).toEqual(['3', '2']);
    expect(await storage.searchMessages('   ', 10)).toEqual([]);
  });

  it('stores capability notes per peer and kind, the latest winning', async () => {
    const storage = await openChatStorage(new IDBFactory(), ALICE);
    await storage.saveCapability({ peer: BOB, capability: 'cpim', supported: false, reason: '415', at: 1 });
    await storage.saveCapability({
      peer: BOB,
      capability: 'cpim',
      supported: false,
      reason: '415 again',
      at: 2,
    });
    await storage.saveCapability({ peer: BOB, capability: 'imdn', supported: false, reason: '488', at: 3 });
    expect((await storage.loadCapabilities()).map((n) => [n.capability, n.reason])).toEqual([
      ['cpim', '415 again'],
      ['imdn', '488'],
    ]);
  });

  it('coalesces a burst of writes into one transaction (500 messages arrive at once)', async () => {
    const idb = new IDBFactory();
    (await openChatStorage(idb, ALICE)).close();
    const open = idb.open(chatDatabaseName(ALICE), 1);
    const db = await new Promise<IDBDatabase>((resolve) => {
      open.onsuccess = () => {
        resolve(open.result);
      };
    });
    const transaction = vi.spyOn(db, 'transaction');
    const storage = new IndexedDbChatStorage(db);
    const writes = Array.from({ length: 500 }, (_, i) => storage.saveMessage(message(`m${i}`, i)));
    await Promise.all(writes);
    expect(transaction).toHaveBeenCalledTimes(1);
    expect(await storage.loadMessages(BOB)).toHaveLength(500);
  });
});
