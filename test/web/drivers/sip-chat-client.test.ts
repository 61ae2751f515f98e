/**
 * SipChatClient over the real core (UserAgent + Pager + SipDriver + WebSocketTransport), wired in memory: each
 * client's WebSocket is a fake whose frames reach a ServiceRegistrar (test/support/pager-net.ts: registrar with
 * digest, stateless proxy, store-and-forward, URI-list service), or the embedded core's PresenceAgent for PUBLISH
 * and presence SUBSCRIBE (NOTIFYs go back on the watcher's socket), after a few ms on a fake clock. Time moves only
 * when a test says so; connections can be refused, killed, and a user's inbound requests swallowed.
 */
import { describe, expect, it } from 'vitest';
import {
  INSTANCE_ID_KEY,
  SipChatClient,
  browserInstanceId,
  type ChatFileTransfer,
  type SipChatClientOptions,
  uuidFromBytes,
  type ChatConnectionState,
  type ChatEvent,
  type KeyValueStorage,
  type SignInOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../../../web/src/drivers/index.ts';
import {
  InvalidStateError,
  parseMessage,
  serializeMessage,
  type SipMessage,
} from '../../../web/src/sip/index.ts';
import { PresenceAgent, type PresenceNotify } from '../../../gateway/core/presence-agent.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { ServiceRegistrar, USERS } from '../../support/pager-net.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const DOMAIN = 'example.com';
const GATEWAY = 'ws://gateway.example.com/';
const LATENCY = 5;
const decoder = new TextDecoder();

interface WireRecord {
  readonly at: number;
  readonly from: string;
  readonly message: SipMessage;
}

/** The gateway side of the fake WebSockets: frames in, the registrar's deliveries out, after LATENCY ms each. */
class MemoryGateway {
  readonly registrar = new ServiceRegistrar({ domain: DOMAIN, users: USERS, random: seededRandom(5) });
  /** RFC 3856 / RFC 3903: the embedded core's presence agent (no digest here: the registrar's tests cover it) */
  readonly presence = new PresenceAgent({
    domain: DOMAIN,
    random: seededRandom(6),
    contact: `sip:presence@${DOMAIN};transport=ws`,
  });
  /** a subscription → the socket of its watcher; a NOTIFY's Call-ID and CSeq → its subscription */
  readonly #watcherSockets = new Map<string, string>();
  readonly #notifies = new Map<string, string>();
  #branches = 0;
  readonly sockets = new Map<string, MemorySocket>();
  /** every SIP message a client sent */
  readonly wire: WireRecord[] = [];
  /** connections are refused (the gateway is down) */
  refuse = false;
  /** AORs whose incoming requests vanish (a peer that never answers) */
  readonly swallow = new Set<string>();
  #count = 0;

  constructor(readonly clock: FakeClock) {}

  readonly WebSocketImpl: WebSocketConstructor = ((gateway: MemoryGateway) =>
    class extends MemorySocket {
      constructor(url: string, protocols: string | string[]) {
        super(gateway, url, protocols);
      }
    })(this);

  /** MSRP WebSockets (subprotocol `msrp`) the clients asked for: this gateway has no relay, they stay connecting */
  readonly msrpSockets: MemorySocket[] = [];

  open(socket: MemorySocket, protocols: string | string[]): string {
    const name = `ws${String(++this.#count)}`;
    if (protocols === 'msrp') {
      this.msrpSockets.push(socket);
      return name;
    }
    this.clock.setTimer(() => {
      if (socket.readyState !== 0) return;
      if (this.refuse) {
        socket.drop(1006);
        return;
      }
      this.sockets.set(name, socket);
      socket.readyState = 1;
      socket.protocol = 'sip';
      socket.onopen?.({});
    }, LATENCY);
    return name;
  }

  fromClient(socket: MemorySocket, data: string | Uint8Array): void {
    const text = typeof data === 'string' ? data : decoder.decode(data);
    if (text === '\r\n\r\n') {
      this.#deliver(socket.name, '\r\n');
      return;
    }
    const message = parseMessage(text);
    this.wire.push({ at: this.clock.now(), from: socket.name, message });
    if (this.#presenceMessage(socket.name, message)) return;
    this.clock.setTimer(() => {
      for (const delivery of this.registrar.handle(message, socket.name, this.clock.now())) {
        const out = delivery.message;
        if (out.kind === 'request' && this.swallow.has(out.to.uri.aor)) continue;
        this.#deliver(delivery.to, decoder.decode(serializeMessage(out)));
      }
    }, LATENCY);
  }

  /** PUBLISH, presence SUBSCRIBE and the answers to our NOTIFYs go to the presence agent. */
  #presenceMessage(from: string, message: SipMessage): boolean {
    const now = this.clock.now();
    if (message.kind === 'response') {
      if (message.cseq.method !== 'NOTIFY') return false;
      const key = `${message.callId}|${String(message.cseq.seq)}`;
      const id = this.#notifies.get(key);
      if (id === undefined) return true;
      this.#notifies.delete(key);
      this.#sendNotifies(this.presence.notifyAnswered(id, message.cseq.seq, message.status, now));
      return true;
    }
    const isPublish = message.method === 'PUBLISH';
    if (!isPublish && !(message.method === 'SUBSCRIBE' && PresenceAgent.servesSubscribe(message)))
      return false;
    const user = message.from.uri;
    const presentity = `${message.to.uri.user ?? ''}@${message.to.uri.host}`;
    this.clock.setTimer(() => {
      const result = isPublish
        ? this.presence.publish(message, presentity, this.clock.now())
        : this.presence.subscribe(message, user, presentity, this.clock.now());
      this.#deliver(from, decoder.decode(serializeMessage(result.response)));
      // A SUBSCRIBE's NOTIFYs go back to its socket (a PUBLISH's go to the watchers already known).
      if (!isPublish)
        for (const notify of result.notifies) this.#watcherSockets.set(notify.subscriptionId, from);
      this.#sendNotifies(result.notifies);
    }, LATENCY);
    return true;
  }

  #sendNotifies(notifies: readonly PresenceNotify[]): void {
    for (const notify of notifies) {
      const to = this.#watcherSockets.get(notify.subscriptionId);
      if (to === undefined) continue;
      const request = notify.request;
      // RFC 3261 §8.1.1.7: the agent's NOTIFY leaves with a Via of ours (the embedded core adds it the same way).
      request.headers.set('Via', `SIP/2.0/WS gateway.invalid;branch=z9hG4bKpa${String(++this.#branches)}`);
      this.#notifies.set(`${request.callId}|${String(notify.cseq)}`, notify.subscriptionId);
      this.#deliver(to, decoder.decode(serializeMessage(request)));
    }
  }

  /** Messages of one method a client sent. */
  sent(method: string): SipMessage[] {
    return this.wire
      .map((r) => r.message)
      .filter((m) => (m.kind === 'request' ? m.method : m.cseq.method) === method && m.kind === 'request');
  }

  #deliver(to: string, text: string): void {
    this.clock.setTimer(() => {
      const socket = this.sockets.get(to);
      if (socket?.readyState === 1) socket.onmessage?.({ data: text });
    }, LATENCY);
  }
}

class MemorySocket implements WebSocketLike {
  readyState = 0;
  binaryType = 'blob';
  protocol = '';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { readonly data: unknown }) => void) | null = null;
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly name: string;

  constructor(
    readonly gateway: MemoryGateway,
    readonly url: string,
    protocols: string | string[],
  ) {
    expect(['sip', 'msrp']).toContain(protocols);
    this.name = gateway.open(this, protocols);
  }

  send(data: string | Uint8Array): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.gateway.fromClient(this, data);
  }

  close(code = 1000, reason = ''): void {
    this.drop(code, reason);
  }

  /** The connection ends (either side): the close event comes a moment later. */
  drop(code: number, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.gateway.sockets.delete(this.name);
    this.gateway.clock.setTimer(() => this.onclose?.({ code, reason }), 0);
  }
}

function memoryStorage(): KeyValueStorage & { readonly map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => {
      map.set(key, value);
    },
    removeItem: (key) => {
      map.delete(key);
    },
  };
}

interface Harness {
  readonly clock: FakeClock;
  readonly gateway: MemoryGateway;
  client(user: string, storage?: KeyValueStorage, options?: Partial<SipChatClientOptions>): TestClient;
  /** Moves time on, timer by timer, until `done()` (or fails after `limitMs`). */
  until(done: () => boolean, what: string, limitMs?: number): void;
}

interface TestClient {
  readonly client: SipChatClient;
  readonly events: ChatEvent[];
  readonly aor: string;
  signIn(extra?: Partial<SignInOptions>): void;
  connections(): ChatConnectionState[];
  states(id: string): string[];
}

function harness(): Harness {
  const clock = new FakeClock(1_700_000_000_000);
  const gateway = new MemoryGateway(clock);
  let seed = 100;
  let uuid = 0;
  const until = (done: () => boolean, what: string, limitMs = 120_000): void => {
    const end = clock.now() + limitMs;
    while (!done()) {
      const next = clock.nextAt();
      if (next === undefined || next > end) throw new Error(`not ${what} within ${String(limitMs)} ms`);
      clock.runNext();
    }
  };
  return {
    clock,
    gateway,
    until,
    client(user, storage = memoryStorage(), options = {}) {
      const client = new SipChatClient({
        WebSocketImpl: gateway.WebSocketImpl,
        clock,
        random: seededRandom(seed++),
        instanceId: browserInstanceId(
          storage,
          () => `00000000-0000-4000-8000-${String(++uuid).padStart(12, '0')}`,
        ),
        transport: { minDelay: 1_000, maxDelay: 4_000 },
        onListenerError: (error) => {
          throw error;
        },
        ...options,
      });
      const events: ChatEvent[] = [];
      client.subscribe((event) => events.push(event));
      const aor = `sip:${user}@${DOMAIN}`;
      return {
        client,
        events,
        aor,
        signIn(extra = {}) {
          client.signIn({ address: aor, password: USERS[user] ?? 'x', gatewayUrl: GATEWAY, ...extra });
        },
        connections: () => events.flatMap((e) => (e.type === 'connection' ? [e.state] : [])),
        states: (id) =>
          events.flatMap((e) =>
            e.type === 'message-state' && e.id === id && e.recipient === undefined ? [e.state] : [],
          ),
      };
    },
  };
}

function online(h: Harness, ...clients: TestClient[]): void {
  for (const c of clients) {
    c.signIn();
    h.until(() => c.client.connection.status === 'online', `${c.aor} online`);
  }
}

function received(c: TestClient): Extract<ChatEvent, { type: 'message' }>['message'][] {
  return c.events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
}

describe('SipChatClient: signing in and out', () => {
  it('connects, registers with digest and goes online; the banner sees connecting then online', () => {
    const h = harness();
    const alice = h.client('alice');
    alice.signIn();
    expect(alice.client.address).toBe('sip:alice@example.com');
    expect(alice.client.connection.status).toBe('connecting');
    h.until(() => alice.client.connection.status === 'online', 'online');
    expect(alice.connections().map((s) => s.status)).toEqual(['connecting', 'online']);
    expect(h.gateway.registrar.stats.challenges).toBe(1);
    expect(h.gateway.registrar.live('sip:alice@example.com', h.clock.now())).toHaveLength(1);
    expect(() => {
      alice.signIn();
    }).toThrow(InvalidStateError);
  });

  it('registers as the same RFC 5626 instance from every tab and reload of one browser, another browser differs', () => {
    const h = harness();
    const browser = memoryStorage();
    const first = h.client('alice', browser);
    online(h, first);
    const binding = h.gateway.registrar.live('sip:alice@example.com', h.clock.now());
    expect(binding[0]?.instance).toMatch(/^"?<?urn:uuid:/);
    // The tab closes without unregistering; a reload (a new client on the same storage) registers again.
    h.gateway.sockets.forEach((s) => {
      s.drop(1001);
    });
    const reload = h.client('alice', browser);
    online(h, reload);
    const after = h.gateway.registrar.live('sip:alice@example.com', h.clock.now());
    expect(after).toHaveLength(1); // replaced, not added: same +sip.instance and reg-id
    expect(after[0]?.instance).toBe(binding[0]?.instance);
    const elsewhere = h.client('alice', memoryStorage());
    online(h, elsewhere);
    const both = h.gateway.registrar.live('sip:alice@example.com', h.clock.now());
    expect(both).toHaveLength(2);
    expect(new Set(both.map((b) => b.instance)).size).toBe(2);
  });

  it('a wrong password ends in auth-rejected and stops connecting; signing in again with the right one works', async () => {
    const h = harness();
    const alice = h.client('alice');
    alice.signIn({ password: 'wrong' });
    h.until(() => alice.client.connection.status === 'auth-rejected', 'auth-rejected');
    expect(alice.client.connection).toMatchObject({ status: 'auth-rejected', code: 401 });
    h.clock.advance(10);
    const registers = h.gateway.sent('REGISTER').length;
    h.clock.advance(120_000);
    expect(h.gateway.sent('REGISTER').length).toBe(registers); // no retry loop with a bad password
    expect(h.gateway.sockets.size).toBe(0);
    expect(alice.client.address).toBe('sip:alice@example.com'); // still signed in: the app asks again
    await alice.client.signOut();
    alice.signIn();
    h.until(() => alice.client.connection.status === 'online', 'online with the right password');
  });

  it('signing out unregisters, goes offline and refuses to send', async () => {
    const h = harness();
    const alice = h.client('alice');
    online(h, alice);
    const done = alice.client.signOut();
    expect(alice.client.address).toBeUndefined();
    expect(alice.client.connection).toEqual({ status: 'offline' });
    h.until(
      () =>
        h.gateway.registrar.live('sip:alice@example.com', h.clock.now()).length === 0 &&
        h.gateway.presence.publicationCount === 0,
      'unbound and unpublished',
    );
    h.clock.advance(2 * LATENCY); // the 200s to the unregister and to the removal come back
    await done;
    expect(h.gateway.sockets.size).toBe(0);
    const last = h.gateway.sent('REGISTER').at(-1);
    expect(last?.kind === 'request' && last.contacts[0]?.params.get('expires')).toBe('0');
    expect(() => alice.client.send('sip:bob@example.com', 'hi')).toThrow(InvalidStateError);
    expect(alice.client.retry('x')).toBe(false);
    await alice.client.signOut(); // idempotent
  });

  it('a lost connection shows reconnecting with the time of the next attempt, then online again', () => {
    const h = harness();
    const alice = h.client('alice');
    online(h, alice);
    h.gateway.refuse = true;
    h.gateway.sockets.forEach((s) => {
      s.drop(1006);
    });
    h.until(() => alice.client.connection.status === 'reconnecting', 'reconnecting');
    const state = alice.client.connection;
    if (state.status !== 'reconnecting') throw new Error('unreachable');
    expect(state.at).toBeGreaterThan(h.clock.now());
    expect(state.at - h.clock.now()).toBeLessThanOrEqual(4_000);
    h.gateway.refuse = false;
    h.until(() => alice.client.connection.status === 'online', 'online again');
    expect(alice.connections().map((s) => s.status)).toContain('connecting');
  });

  it('a registrar that answers 503 with Retry-After shows reconnecting until its retry', () => {
    const h = harness();
    h.gateway.registrar.failNext(503, 1, { 'Retry-After': '20' });
    const alice = h.client('alice');
    alice.signIn();
    h.until(() => alice.client.connection.status === 'reconnecting', 'reconnecting');
    const state = alice.client.connection;
    if (state.status !== 'reconnecting') throw new Error('unreachable');
    expect(state.at - h.clock.now()).toBeGreaterThan(15_000);
    expect(state.reason).toContain('503');
    h.until(() => alice.client.connection.status === 'online', 'online after the retry');
  });
});

describe('SipChatClient: messages', () => {
  it('sends under the app id; states go sent → delivered → displayed once the peer marks it seen', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    const id = alice.client.send(bob.aor, 'hello bob', { id: 'app-id-1' });
    expect(id).toBe('app-id-1');
    h.until(() => received(bob).length === 1, 'bob got it');
    const [message] = received(bob);
    expect(message).toMatchObject({
      id: 'app-id-1',
      from: alice.aor,
      text: 'hello bob',
      wantsDisplayed: true,
    });
    h.until(() => alice.states(id).includes('delivered'), 'delivered');
    bob.client.markDisplayed([id]);
    h.until(() => alice.states(id).includes('displayed'), 'displayed');
    expect(alice.states(id)).toEqual(['sending', 'sent', 'delivered', 'displayed']);
    // And back: Bob answers.
    bob.client.send(alice.aor, 'hi alice', { id: 'b1' });
    h.until(() => received(alice).some((m) => m.text === 'hi alice'), 'alice got the answer');
  });

  it('an id still on its way is not sent twice; a peer never sees a duplicate', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    alice.client.send(bob.aor, 'once', { id: 'dup1' });
    alice.client.send(bob.aor, 'once', { id: 'dup1' });
    h.until(() => alice.states('dup1').includes('delivered'), 'delivered');
    alice.client.send(bob.aor, 'once', { id: 'dup1' }); // delivered already: still a no-op
    h.clock.advance(1_000);
    expect(received(bob).filter((m) => m.id === 'dup1')).toHaveLength(1);
    expect(
      h.gateway.sent('MESSAGE').filter((m) => m.kind === 'request' && m.to.uri.user === 'bob'),
    ).toHaveLength(1);
  });

  it('a text over the pager-mode limit is not refused: it goes in a session, over an MSRP WebSocket to the gateway', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    const id = alice.client.send(bob.aor, 'x'.repeat(2_000), { id: 'big-one' });
    expect(id).toBe('big-one');
    h.clock.advance(1_000);
    // RFC 7977: the session's MSRP connection is a WebSocket with subprotocol msrp on the gateway's URL.
    expect(h.gateway.msrpSockets.map((s) => s.url)).toEqual([GATEWAY]);
    expect(alice.states('big-one')).toEqual(['sending']);
    expect(h.gateway.sent('MESSAGE').filter((m) => m.to.uri.user === 'bob')).toHaveLength(0);
    expect(alice.client.retry('big-one')).toBe(false);
  });

  it('an app id that is not an MSRP ident (a UUID) is sent as its hex digits and reported under the app id', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e';
    alice.client.send(bob.aor, 'hello', { id: uuid });
    h.until(() => alice.states(uuid).includes('delivered'), 'delivered');
    expect(received(bob).map((m) => m.id)).toEqual(['0f8fad5bd9cb469fa16570867728950e']);
  });

  it('a message for an offline user is stored (202) and delivered when that user signs in', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice);
    const id = alice.client.send(bob.aor, 'while you were away');
    h.until(() => alice.states(id).includes('stored'), 'stored');
    expect(received(bob)).toHaveLength(0);
    online(h, bob);
    h.until(() => received(bob).length === 1, 'bob got it');
    expect(received(bob)[0]?.text).toBe('while you were away');
    h.until(() => alice.states(id).includes('delivered'), 'delivered (IMDN)');
  });

  it('a message written while the connection is down waits and leaves once it is back', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    h.gateway.refuse = true;
    for (const [name, socket] of h.gateway.sockets) if (name === 'ws1') socket.drop(1006);
    h.until(() => alice.client.connection.status === 'reconnecting', 'reconnecting');
    const id = alice.client.send(bob.aor, 'queued', { id: 'q1' });
    h.clock.advance(500);
    expect(alice.states(id)).toEqual(['sending']);
    h.gateway.refuse = false;
    h.until(() => alice.states(id).includes('delivered'), 'delivered after reconnection');
    expect(received(bob).map((m) => m.text)).toEqual(['queued']);
  });

  it('no answer from the peer fails the message as local (408), so the app keeps it to send again; retry resends', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    h.gateway.swallow.add(bob.aor);
    const id = alice.client.send(bob.aor, 'anyone?', { id: 'lost' });
    h.until(() => alice.states(id).includes('failed'), 'failed', 60_000);
    const failed = alice.events.filter((e) => e.type === 'message-state' && e.id === id).at(-1);
    expect(failed).toMatchObject({ state: 'failed', failure: { code: 408, local: true } });
    expect(alice.client.retry('never-sent')).toBe(false);
    h.gateway.swallow.clear();
    expect(alice.client.retry(id)).toBe(true);
    h.until(() => alice.states(id).includes('delivered'), 'delivered on retry');
    expect(received(bob).filter((m) => m.id === id)).toHaveLength(1);
  });

  it('a peer that does not exist fails the message with the SIP status, not local', () => {
    const h = harness();
    const alice = h.client('alice');
    online(h, alice);
    const id = alice.client.send('sip:nobody@example.com', 'hello?');
    h.until(() => alice.states(id).includes('failed'), 'failed');
    const failed = alice.events.filter((e) => e.type === 'message-state' && e.id === id).at(-1);
    expect(failed).toMatchObject({ failure: { code: 404, reason: 'Not Found', local: false } });
  });

  it('a group message goes through the URI-list service; each recipient sees everyone in it', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    const carol = h.client('carol');
    online(h, alice, bob, carol);
    const id = alice.client.sendGroup([bob.aor, carol.aor], 'hi both', { id: 'g1' });
    h.until(() => received(bob).length === 1 && received(carol).length === 1, 'both got it');
    const list = h.gateway.registrar.listRequests[0];
    expect(list?.uri.toString()).toBe('sip:uri-list@example.com');
    for (const peer of [bob, carol]) {
      expect(received(peer)[0]).toMatchObject({ id: 'g1', from: alice.aor, text: 'hi both' });
      expect(new Set(received(peer)[0]?.participants)).toEqual(new Set([bob.aor, carol.aor]));
    }
    h.until(() => alice.states(id).includes('delivered'), 'delivered to both');
    const perRecipient = alice.events.filter(
      (e) =>
        e.type === 'message-state' && e.id === id && e.recipient !== undefined && e.state === 'delivered',
    );
    expect(new Set(perRecipient.map((e) => (e.type === 'message-state' ? e.recipient : '')))).toEqual(
      new Set([bob.aor, carol.aor]),
    );
  });

  it('typing reaches the peer once it showed it takes is-composing, and the message clears it', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    const composing = (): boolean[] =>
      bob.events.flatMap((e) => (e.type === 'composing' && e.peer === alice.aor ? [e.active] : []));
    alice.client.setComposing(bob.aor, true);
    h.until(() => composing().includes(true), 'bob sees alice typing');
    const learned = alice.events.find((e) => e.type === 'capability' && e.note.capability === 'composing');
    expect(learned).toMatchObject({ note: { peer: bob.aor, capability: 'composing', supported: true } });
    alice.client.send(bob.aor, 'done typing');
    h.until(() => composing().at(-1) === false, 'typing cleared');
  });

  it('what the app learned earlier is used: a peer known to refuse CPIM gets text/plain', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, bob);
    alice.signIn({
      capabilities: [
        { peer: bob.aor, capability: 'cpim', supported: false, reason: '415 to message/cpim', at: 1 },
      ],
    });
    h.until(() => alice.client.connection.status === 'online', 'online');
    const id = alice.client.send(bob.aor, 'plain please');
    h.until(() => alice.states(id).includes('delivered'), 'delivered');
    const message = h.gateway.sent('MESSAGE').find((m) => m.kind === 'request' && m.to.uri.user === 'bob');
    expect(message?.kind === 'request' && message.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(received(bob)[0]).toMatchObject({ text: 'plain please', wantsDisplayed: false });
  });

  it('a listener that throws does not disturb the client', () => {
    const h = harness();
    const errors: unknown[] = [];
    const client = new SipChatClient({
      WebSocketImpl: h.gateway.WebSocketImpl,
      clock: h.clock,
      random: seededRandom(9),
      instanceId: () => 'urn:uuid:00000000-0000-4000-8000-000000000009',
      onListenerError: (error) => errors.push(error),
    });
    client.subscribe(() => {
      throw new Error('view bug');
    });
    client.signIn({ address: 'sip:alice@example.com', password: USERS.alice ?? '', gatewayUrl: GATEWAY });
    h.until(() => client.connection.status === 'online', 'online');
    expect(errors.length).toBeGreaterThan(0);
  });

  it('API misuse throws: a bad address or gateway URL leaves the client signed out', () => {
    const h = harness();
    const alice = h.client('alice');
    expect(() => {
      alice.client.signIn({ address: 'not an address', password: 'x', gatewayUrl: GATEWAY });
    }).toThrow();
    expect(() => {
      alice.client.signIn({ address: alice.aor, password: 'x', gatewayUrl: 'http://example.com/' });
    }).toThrow(TypeError);
    expect(alice.client.address).toBeUndefined();
    expect(() => alice.client.sendGroup([alice.aor], 'x')).toThrow(InvalidStateError);
  });
});

type PresenceChatEvent = Extract<ChatEvent, { type: 'presence' }>;

/** The presence events a client reported about `address` (its own publication's when it is the client's). */
function presenceOf(c: TestClient, address: string): PresenceChatEvent[] {
  return c.events.flatMap((e) => (e.type === 'presence' && e.address === address ? [e] : []));
}

/** The PUBLISH requests sent for one presentity. */
function publishes(h: Harness, aor: string): SipMessage[] {
  return h.gateway.sent('PUBLISH').filter((m) => m.kind === 'request' && m.uri.aor === aor);
}

describe('SipChatClient: presence (RFC 3856, RFC 3903)', () => {
  it('publishes available once registered; a watcher sees it, then Away with its note, then offline at sign-out', async () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, bob);
    bob.client.watchPresence([alice.aor]);
    h.until(() => presenceOf(bob, alice.aor).length > 0, 'bob hears of alice');
    // Not signed in: the agent has nothing, which it shows as offline (RFC 3863 basic closed).
    expect(presenceOf(bob, alice.aor).at(-1)?.status).toBe('offline');
    expect(presenceOf(bob, alice.aor).at(-1)?.publication).toBeUndefined();

    online(h, alice);
    h.until(() => presenceOf(bob, alice.aor).at(-1)?.status === 'available', 'bob sees alice available');
    expect(presenceOf(alice, alice.aor).at(-1)).toMatchObject({
      status: 'available',
      publication: 'published',
    });
    expect(publishes(h, alice.aor)).toHaveLength(1);

    alice.client.setPresence('away', 'In a meeting');
    h.until(() => presenceOf(bob, alice.aor).at(-1)?.status === 'away', 'bob sees alice away');
    expect(presenceOf(bob, alice.aor).at(-1)).toMatchObject({ status: 'away', note: 'In a meeting' });
    expect(presenceOf(alice, alice.aor).at(-1)).toMatchObject({
      status: 'away',
      note: 'In a meeting',
      publication: 'published',
    });

    // Signing out removes the publication (Expires: 0) before the unregister: bob sees offline at once.
    const done = alice.client.signOut();
    h.until(() => presenceOf(bob, alice.aor).at(-1)?.status === 'offline', 'bob sees alice offline');
    const removal = publishes(h, alice.aor).at(-1);
    expect(removal?.headers.get('expires')).toBe('0');
    h.clock.advance(2 * LATENCY);
    await done;
  });

  it('a status chosen before registering is what goes out; appear offline removes it; watches wait for the registration', () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice);
    bob.signIn({ presence: { status: 'dnd', note: '  Focus time ' } });
    bob.client.watchPresence([alice.aor, 'sip:alice@example.com']);
    // Nothing leaves before the registration: no PUBLISH or SUBSCRIBE on an unregistered flow.
    expect(publishes(h, bob.aor)).toHaveLength(0);
    expect(h.gateway.sent('SUBSCRIBE')).toHaveLength(0);
    h.until(() => bob.client.connection.status === 'online', 'bob online');
    h.until(() => presenceOf(bob, bob.aor).at(-1)?.publication === 'published', 'bob published');
    expect(presenceOf(bob, bob.aor).at(-1)).toMatchObject({ status: 'dnd', note: 'Focus time' });
    h.until(() => presenceOf(bob, alice.aor).at(-1)?.status === 'available', 'bob sees alice');
    expect(h.gateway.sent('SUBSCRIBE')).toHaveLength(1); // one watch for the same address given twice

    alice.client.watchPresence([bob.aor]);
    h.until(() => presenceOf(alice, bob.aor).at(-1)?.status === 'dnd', 'alice sees bob dnd');
    expect(presenceOf(alice, bob.aor).at(-1)?.note).toBe('Focus time');
    // Appear offline: the publication is removed, the watcher sees offline.
    bob.client.setPresence('offline');
    h.until(() => presenceOf(alice, bob.aor).at(-1)?.status === 'offline', 'alice sees bob offline');
    expect(presenceOf(bob, bob.aor).at(-1)).toMatchObject({ status: 'offline', publication: 'unpublished' });

    // Unwatching ends the subscription (Expires: 0); later changes are not reported.
    alice.client.unwatchPresence([bob.aor]);
    h.until(() => h.gateway.presence.subscriptionCount === 1, 'alice unsubscribed');
    const before = presenceOf(alice, bob.aor).length;
    bob.client.setPresence('available');
    h.until(() => presenceOf(bob, bob.aor).at(-1)?.publication === 'published', 'bob published again');
    h.clock.advance(10 * LATENCY);
    expect(presenceOf(alice, bob.aor)).toHaveLength(before);
  });

  it('misuse throws (an unknown status, a bad address); signed out, presence commands do nothing', () => {
    const h = harness();
    const alice = h.client('alice');
    alice.client.setPresence('away');
    alice.client.watchPresence(['sip:bob@example.com']);
    expect(() => {
      alice.client.setPresence('sleeping' as never);
    }).toThrow(TypeError);
    expect(() => {
      alice.client.watchPresence(['not an address']);
    }).toThrow(TypeError);
    expect(() => {
      alice.signIn({ presence: { status: 'gone' as never } });
    }).toThrow(TypeError);
    expect(alice.client.address).toBeUndefined();
    online(h, alice);
    h.until(() => presenceOf(alice, alice.aor).at(-1)?.publication === 'published', 'published');
    // What was asked while signed out was dropped: available (the default) went out, nobody is watched.
    expect(presenceOf(alice, alice.aor).at(-1)?.status).toBe('available');
    expect(h.gateway.sent('SUBSCRIBE')).toHaveLength(0);
  });
});

describe('browserInstanceId (RFC 5626 +sip.instance per browser)', () => {
  it('makes one id, stores it, and gives the same one back on every later call and page', () => {
    const storage = memoryStorage();
    let made = 0;
    const uuid = (): string => `0000000${String(++made)}-0000-4000-8000-000000000000`;
    const id = browserInstanceId(storage, uuid)();
    expect(id).toBe('urn:uuid:00000001-0000-4000-8000-000000000000');
    expect(browserInstanceId(storage, uuid)()).toBe(id); // another tab, or a reload
    expect(made).toBe(1);
    storage.setItem(INSTANCE_ID_KEY, 'junk');
    expect(browserInstanceId(storage, uuid)()).toBe('urn:uuid:00000002-0000-4000-8000-000000000000');
  });

  it('without usable storage the id lasts for the page; UUIDs from random bytes are version 4', () => {
    const broken: KeyValueStorage = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
      removeItem: () => {},
    };
    const get = browserInstanceId(broken, () => uuidFromBytes(new Uint8Array(16).fill(0xff)));
    expect(get()).toBe('urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(get()).toBe(get());
  });
});

describe('SipChatClient: files (RFC 5547)', () => {
  /** Lets the Blob reads (real promises) finish. */
  async function settleReads(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  }

  function transfers(c: TestClient, id?: string): ChatFileTransfer[] {
    return c.events.flatMap((e) =>
      e.type === 'file' && (id === undefined || e.transfer.id === id) ? [e.transfer] : [],
    );
  }

  const file = (text: string, name = 'notes.txt') => {
    const data = new Blob([text], { type: 'text/plain' });
    return { name, type: 'text/plain', size: data.size, data };
  };

  it('reads the file, then offers it in a session of its own: its MSRP WebSocket opens; events carry the app id', async () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    expect(alice.client.sendFile(bob.aor, file('hello file'), { id: 'f1' })).toBe('f1');
    expect(transfers(alice, 'f1').map((t) => t.state)).toEqual(['preparing']);
    // The same id again while it is on its way: nothing new.
    expect(alice.client.sendFile(bob.aor, file('hello file'), { id: 'f1' })).toBe('f1');
    await settleReads();
    h.clock.advance(100);
    const seen = transfers(alice, 'f1');
    expect(seen.map((t) => t.state)).toEqual(['preparing', 'offered']);
    expect(seen[1]).toMatchObject({
      direction: 'send',
      peer: bob.aor,
      name: 'notes.txt',
      size: 10,
      bytes: 0,
    });
    // RFC 7977: the file session's MSRP connection, to the gateway's relay, comes before its INVITE.
    expect(h.gateway.msrpSockets).toHaveLength(1);
  });

  it('cancel while the offer is out ends it (cancelled, once); cancel while reading sends nothing at all', async () => {
    const h = harness();
    const alice = h.client('alice');
    const bob = h.client('bob');
    online(h, alice, bob);
    alice.client.sendFile(bob.aor, file('one'), { id: 'f1' });
    await settleReads();
    alice.client.cancelFile('f1');
    alice.client.cancelFile('f1');
    h.clock.advance(1_000);
    expect(transfers(alice, 'f1').map((t) => [t.state, t.reason])).toEqual([
      ['preparing', undefined],
      ['offered', undefined],
      ['cancelled', 'cancelled'],
    ]);

    alice.client.sendFile(bob.aor, file('two'), { id: 'f2' });
    alice.client.cancelFile('f2');
    await settleReads();
    h.clock.advance(1_000);
    expect(transfers(alice, 'f2').map((t) => t.state)).toEqual(['preparing', 'cancelled']);
    expect(h.gateway.msrpSockets).toHaveLength(1); // only f1's
  });

  it('a file over the size limit fails with the reason; misuse throws; answers to unknown ids do nothing', () => {
    const h = harness();
    const alice = h.client('alice', undefined, { maxFileSize: 4 });
    const bob = h.client('bob');
    expect(() => alice.client.sendFile(bob.aor, file('x'))).toThrow(InvalidStateError);
    online(h, alice, bob);
    alice.client.sendFile(bob.aor, file('too long'), { id: 'big' });
    expect(transfers(alice, 'big').map((t) => [t.state, t.reason])).toEqual([
      ['preparing', undefined],
      ['failed', 'larger than 4 bytes, the most this app sends'],
    ]);
    expect(() =>
      alice.client.sendFile(bob.aor, { name: '', type: '', size: 1, data: new Blob(['x']) }),
    ).toThrow(TypeError);
    expect(() =>
      alice.client.sendFile(bob.aor, { name: 'a', type: '', size: 1, data: 'x' as unknown as Blob }),
    ).toThrow(TypeError);
    alice.client.acceptFile('nope');
    alice.client.declineFile('nope');
    alice.client.cancelFile('nope');
    expect(transfers(alice).filter((t) => t.id === 'nope')).toEqual([]);
  });
});
