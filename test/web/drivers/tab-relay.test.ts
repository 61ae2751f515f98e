import { describe, expect, it } from 'vitest';
import { TabRelayClient, type ChatEvent } from '../../../web/src/drivers/index.ts';
import { FakeChatClient } from '../support/fake-chat-client.ts';
import { FakeChannelHub, FakeLockManager } from '../support/fake-tabs.ts';

const ALICE = 'sip:alice@example.com';
const BOB = 'sip:bob@example.com';
const SESSION = { address: ALICE, password: 'secret', gatewayUrl: 'ws://127.0.0.1:8080/' };

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A browser: one lock manager, one channel hub; each tab() opens a page with its own relay. */
function browser() {
  const locks = new FakeLockManager();
  const hub = new FakeChannelHub();
  const clients: FakeChatClient[] = [];
  let ids = 0;
  const tab = (name: string) => {
    const seen: ChatEvent[] = [];
    const relay = new TabRelayClient({
      locks,
      channel: hub.channel(),
      createClient: () => {
        const client = new FakeChatClient();
        clients.push(client);
        return client;
      },
      newId: () => `${name}-${++ids}`,
    });
    relay.subscribe((event) => seen.push(event));
    return { relay, seen };
  };
  /** clients signed in now: the registrations this browser holds */
  const registered = () => clients.filter((client) => client.address !== undefined);
  return { locks, hub, clients, tab, registered };
}

/** Tab one leads (it holds the lock and the real client), tab two follows and signs in through it. */
async function leaderAndSignedInFollower(): Promise<{
  b: ReturnType<typeof browser>;
  two: ReturnType<ReturnType<typeof browser>['tab']>;
}> {
  const b = browser();
  b.tab('one');
  await settle();
  const two = b.tab('two');
  await settle();
  two.relay.signIn(SESSION);
  await settle();
  return { b, two };
}

describe('TabRelayClient: one registration per browser', () => {
  it('the first tab leads and holds the only client; the second follows', async () => {
    const b = browser();
    const one = b.tab('one');
    await settle();
    const two = b.tab('two');
    await settle();
    expect(one.relay.role).toBe('leader');
    expect(two.relay.role).toBe('follower');
    expect(b.clients).toHaveLength(1);
  });

  it('a follower signs in through the leader, and both tabs see the connection', async () => {
    const b = browser();
    const one = b.tab('one');
    await settle();
    const two = b.tab('two');
    await settle();
    two.relay.signIn(SESSION);
    await settle();
    expect(b.registered()).toHaveLength(1);
    expect(b.clients[0]?.signIns).toEqual([SESSION]);
    b.clients[0]?.goOnline();
    await settle();
    expect(one.relay.connection.status).toBe('online');
    expect(two.relay.connection.status).toBe('online');
    expect(two.relay.address).toBe(ALICE);
    expect(two.seen.filter((e) => e.type === 'connection').at(-1)).toMatchObject({
      state: { status: 'online' },
    });
  });

  it("a follower's message goes out through the leader under the follower's id, and its states come back", async () => {
    const { b, two } = await leaderAndSignedInFollower();
    const id = two.relay.send(BOB, 'from tab two');
    await settle();
    const leader = b.clients[0]!;
    expect(leader.sent).toMatchObject([{ id, to: [BOB], text: 'from tab two' }]);
    leader.state(id, 'delivered');
    leader.receive({ id: 'in-1', from: BOB, text: 'reply' });
    await settle();
    expect(two.seen.map((e) => e.type)).toContain('message');
    expect(two.seen.find((e) => e.type === 'message-state')).toMatchObject({ id, state: 'delivered' });
  });

  it('when the leader tab closes, a follower takes over and registers with the shared session', async () => {
    const b = browser();
    const one = b.tab('one');
    await settle();
    const two = b.tab('two');
    await settle();
    one.relay.signIn(SESSION);
    await settle();
    one.relay.close();
    void b.clients[0]?.signOut(); // the closed tab's page is gone: its connection with it
    await settle();
    expect(two.relay.role).toBe('leader');
    expect(b.clients).toHaveLength(2);
    expect(b.clients[1]?.signIns).toEqual([SESSION]);
    expect(b.registered()).toHaveLength(1);
    const id = two.relay.send(BOB, 'after the takeover');
    expect(b.clients[1]?.sent).toMatchObject([{ id, text: 'after the takeover' }]);
  });

  it('signing out in any tab signs every tab out', async () => {
    const b = browser();
    const one = b.tab('one');
    await settle();
    const two = b.tab('two');
    await settle();
    one.relay.signIn(SESSION);
    await settle();
    expect(two.relay.address).toBe(ALICE);
    await two.relay.signOut();
    await settle();
    expect(b.registered()).toHaveLength(0);
    expect(one.relay.address).toBeUndefined();
    expect(two.relay.address).toBeUndefined();
    expect(() => two.relay.send(BOB, 'x')).toThrow(/signed out/);
  });

  it('commands given before the election are held and replayed', async () => {
    const b = browser();
    const one = b.tab('one');
    one.relay.signIn(SESSION);
    expect(one.relay.role).toBe('pending');
    await settle();
    expect(b.clients[0]?.signIns).toEqual([SESSION]);
  });

  it('another account cannot sign in while one is signed in in this browser', async () => {
    const b = browser();
    const one = b.tab('one');
    await settle();
    one.relay.signIn(SESSION);
    await settle();
    expect(() => {
      one.relay.signIn({ ...SESSION, address: BOB });
    }).toThrow(/another tab|signed in/);
    // The same account again is a no-op (a reloaded tab restoring its session).
    one.relay.signIn(SESSION);
    expect(b.clients[0]?.signIns).toHaveLength(1);
  });

  it('without Web Locks every tab leads on its own', async () => {
    const hub = new FakeChannelHub();
    const relay = new TabRelayClient({
      locks: undefined,
      channel: hub.channel(),
      createClient: () => new FakeChatClient(),
      newId: () => 'x',
    });
    await settle();
    expect(relay.role).toBe('leader');
  });
});

describe('TabRelayClient: files', () => {
  it('a follower sends a file through the leader (its Blob crosses the channel); the received Blob comes back', async () => {
    const { b, two } = await leaderAndSignedInFollower();
    const leader = b.clients[0];
    if (!leader) throw new Error('no leader client');
    const data = new Blob(['report bytes'], { type: 'text/plain' });
    const id = two.relay.sendFile(BOB, { name: 'r.txt', type: 'text/plain', size: data.size, data });
    await settle();
    expect(leader.filesSent).toHaveLength(1);
    const sent = leader.filesSent[0];
    expect(sent?.id).toBe(id);
    expect(sent?.file.name).toBe('r.txt');
    expect(await sent?.file.data.text()).toBe('report bytes');

    two.relay.acceptFile('in-1');
    two.relay.declineFile('in-2');
    two.relay.cancelFile(id);
    await settle();
    expect(leader.fileAnswers).toEqual([
      { op: 'accept', id: 'in-1' },
      { op: 'decline', id: 'in-2' },
      { op: 'cancel', id },
    ]);

    leader.file({
      id: 'in-1',
      direction: 'receive',
      state: 'complete',
      size: 3,
      bytes: 3,
      data: new Blob(['abc']),
    });
    await settle();
    const event = two.seen.find((e) => e.type === 'file');
    expect(event?.type === 'file' && event.transfer.state).toBe('complete');
    const got = event?.type === 'file' ? event.transfer.data : undefined;
    expect(got).toBeInstanceOf(Blob);
    expect(await got?.text()).toBe('abc');
  });
});

describe('TabRelayClient: presence', () => {
  it("a follower's status and watches reach the leader's client; its presence events reach every tab", async () => {
    const { b, two } = await leaderAndSignedInFollower();
    two.relay.setPresence('away', 'In a meeting');
    two.relay.watchPresence([BOB]);
    await settle();
    const leader = b.clients[0];
    expect(leader?.presenceSet).toEqual([{ status: 'away', note: 'In a meeting' }]);
    expect([...(leader?.watching ?? [])]).toEqual([BOB]);
    leader?.presence(BOB, 'busy', 'On a call');
    await settle();
    expect(two.seen.filter((e) => e.type === 'presence')).toMatchObject([
      { address: BOB, status: 'busy', note: 'On a call' },
    ]);
    two.relay.unwatchPresence([BOB]);
    await settle();
    expect(leader?.watching.size).toBe(0);
  });

  it('a tab opened later hears the presence known so far; a tab that takes over keeps the status and watches', async () => {
    const b = browser();
    const one = b.tab('one');
    await settle();
    one.relay.signIn(SESSION);
    one.relay.watchPresence([BOB]);
    one.relay.setPresence('dnd');
    b.clients[0]?.presence(BOB, 'away');
    await settle();
    const two = b.tab('two');
    await settle();
    expect(two.seen.filter((e) => e.type === 'presence')).toMatchObject([{ address: BOB, status: 'away' }]);

    one.relay.close();
    void b.clients[0]?.signOut();
    await settle();
    expect(two.relay.role).toBe('leader');
    expect(b.clients[1]?.signIns).toEqual([
      { ...SESSION, watch: [BOB], presence: { status: 'dnd', note: undefined } },
    ]);
    expect([...(b.clients[1]?.watching ?? [])]).toEqual([BOB]);
  });
});
