/**
 * The files store: file transfers as messages of their conversation, their progress in memory, their states in
 * history (IndexedDB, without the bytes), offers answered through the client.
 */
import { describe, expect, it } from 'vitest';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { useConversationsStore } from '../../../web/src/stores/conversations.ts';
import { INTERRUPTED, fileOf, useFilesStore, type FileMessage } from '../../../web/src/stores/files.ts';
import { useMessagesStore } from '../../../web/src/stores/messages.ts';
import {
  ALICE,
  BOB,
  CAROL,
  GATEWAY,
  createHarness,
  settle,
  type HarnessOptions,
} from '../support/app-harness.ts';

async function online(options: HarnessOptions = {}) {
  const h = createHarness(options);
  const account = useAccountStore(h.pinia);
  await account.start();
  await account.signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
  h.client.goOnline();
  return {
    h,
    account,
    conversations: useConversationsStore(h.pinia),
    messages: useMessagesStore(h.pinia),
    files: useFilesStore(h.pinia),
  };
}

const picked = (text: string, name: string, type = 'text/plain') => new File([text], name, { type });

describe('sending a file', () => {
  it('shows a file message at once, hands the File to the client, and follows its progress and states', async () => {
    const { h, conversations, messages, files } = await online();
    const conversation = conversations.ensure([BOB]);
    const message = files.send(conversation.id, picked('0123456789', 'notes.txt'));
    expect(h.client.filesSent).toHaveLength(1);
    const sent = h.client.filesSent[0];
    expect(sent?.id).toBe(message.id);
    expect(sent?.to).toBe(BOB);
    expect(sent?.file).toMatchObject({ name: 'notes.txt', type: 'text/plain', size: 10 });
    expect(await sent?.file.data.text()).toBe('0123456789');
    expect(messages.listOf(BOB).map((m) => [m.direction, m.text, fileOf(m)?.state])).toEqual([
      ['out', 'File: notes.txt', 'preparing'],
    ]);
    expect(conversations.get(BOB)?.preview).toBe('File: notes.txt');

    const base = { id: message.id, direction: 'send' as const, peer: BOB, name: 'notes.txt', size: 10 };
    h.client.file({ ...base, state: 'offered' });
    h.client.file({ ...base, state: 'transferring', bytes: 0 });
    h.client.file({ ...base, state: 'transferring', bytes: 5 });
    await settle();
    expect(files.view(messages.find(message.id) as FileMessage)).toMatchObject({
      state: 'transferring',
      bytes: 5,
      percent: 50,
    });
    // History has the state, not every progress step.
    const storage = h.storages[0];
    expect(fileOf((await storage?.getMessage(message.id)) as FileMessage)?.state).toBe('transferring');

    h.client.file({ ...base, state: 'complete', bytes: 10 });
    await settle();
    const done = messages.find(message.id) as FileMessage;
    expect([done.state, done.file.state]).toEqual(['delivered', 'complete']);
    expect(files.view(done)).toMatchObject({ state: 'complete', percent: 100, unavailable: false });
  });

  it('a refused or failed file shows why; cancel goes to the client; files go to one person only', async () => {
    const { h, conversations, messages, files } = await online();
    const message = files.send(conversations.ensure([BOB]).id, picked('x', 'a.bin', ''));
    expect(h.client.filesSent[0]?.file.type).toBe('application/octet-stream');
    files.cancel(message.id);
    expect(h.client.fileAnswers).toEqual([{ op: 'cancel', id: message.id }]);
    h.client.file({ id: message.id, peer: BOB, state: 'failed', reason: 'declined' });
    await settle();
    const failed = messages.find(message.id) as FileMessage;
    expect(failed.state).toBe('failed');
    expect(failed.failure?.reason).toBe('declined');
    expect(files.view(failed)).toMatchObject({ state: 'failed', reason: 'declined' });

    const group = conversations.ensure([BOB, CAROL]);
    expect(() => files.send(group.id, picked('x', 'a.txt'))).toThrow(TypeError);
  });
});

describe('receiving a file', () => {
  it('an offer becomes a message (unread) with Accept/Decline going to the client; the received Blob is kept in memory', async () => {
    const { h, conversations, messages, files } = await online();
    const offer = {
      id: 'in-1',
      direction: 'receive' as const,
      peer: BOB,
      name: 'photo.png',
      type: 'image/png',
      size: 4,
    };
    h.client.file({ ...offer, state: 'offered' });
    await settle();
    expect(conversations.get(BOB)).toMatchObject({ preview: 'File: photo.png', unread: 1 });
    const message = messages.find('in-1') as FileMessage;
    expect([message.direction, message.from, message.file.state]).toEqual(['in', BOB, 'offered']);
    files.accept('in-1');
    files.decline('in-1');
    expect(h.client.fileAnswers).toEqual([
      { op: 'accept', id: 'in-1' },
      { op: 'decline', id: 'in-1' },
    ]);
    h.client.file({ ...offer, state: 'transferring', bytes: 2 });
    const data = new Blob(['abcd'], { type: 'image/png' });
    h.client.file({ ...offer, state: 'complete', bytes: 4, data });
    await settle();
    const view = files.view(messages.find('in-1') as FileMessage);
    expect(view).toMatchObject({ state: 'complete', unavailable: false });
    expect(view.data).toBe(data);
    // Opening the conversation marks the file seen, without a display notification (none was asked).
    await conversations.open(BOB);
    expect(messages.find('in-1')?.state).toBe('displayed');
    expect(h.client.displayed).toEqual([]);
  });

  it('after a reload: a received file is no longer available (no bytes stored), a transfer under way shows interrupted', async () => {
    const first = await online();
    const offer = { direction: 'receive' as const, peer: BOB, name: 'a.txt', size: 4 };
    first.h.client.file({ ...offer, id: 'got', state: 'complete', bytes: 4, data: new Blob(['abcd']) });
    first.h.client.file({ ...offer, id: 'going', state: 'transferring', bytes: 1 });
    await settle();
    await first.account.signOut();

    const { conversations, messages, files } = await online({ idb: first.h.idb });
    await conversations.open(BOB);
    const got = files.view(messages.find('got') as FileMessage);
    expect(got).toMatchObject({ state: 'complete', unavailable: true, data: undefined });
    const going = files.view(messages.find('going') as FileMessage);
    expect(going).toMatchObject({ state: 'failed', reason: INTERRUPTED });
  });
});
