/**
 * Session-mode chat (web/src/sip/ua/chat-sessions.ts) on the in-memory network of mini-registrar.ts, with the two
 * things session mode needs from the network, as small test doubles:
 *
 *   romeo ─┐                       ┌─ ForkingRegistrar: the registrar plus a forking proxy for INVITE (RFC 3261
 *   juliet ┼─ SIP ─ MiniNetwork ───┤   §16): the highest q-value group of an AOR's bindings in parallel, after
 *   nurse ─┘  (links: loss, dup…)  │   `branchTimeout` ms without a 2xx their ringing branches are CANCELled and
 *      │                           │   the next group is tried; a 2xx is forwarded at once and CANCELs the rest; a
 *      │                           │   6xx stops; at the end the best response goes back (RFC 3261 §16.7)
 *      └─ MSRP ─ MemoryRelay: the gateway relay's contract (RFC 4976): AUTH → Use-Path, To-Path/From-Path rewriting,
 *                 delivery to the client that AUTHed; a fate per frame (drop, duplicate, hold) and `cut()` to break a
 *                 connection the way a dead WebSocket does
 *
 * The proxy's branch timer runs as a pseudo-endpoint (`~proxy`) of the MiniNetwork, so time stays explicit: its
 * deadline is one of the network's, and what it decides reaches the registrar as a tick message. MSRP moves
 * whenever the network asks an endpoint for its transmissions; an endpoint reports a deadline of "now" while the
 * relay moved something, so the network keeps settling until MSRP is quiet too.
 */
import {
  ChatSessions,
  Conversations,
  MsrpFramer,
  Pager,
  SipRequest,
  createResponse,
  msrpHeader,
  msrpReport,
  msrpResponse,
  parseByteRange,
  parseMessage,
  rewritePaths,
  serializeMessage,
  serializeMsrpFrame,
  type ChatSessionsOptions,
  type ConversationsEvent,
  type ConversationsOptions,
  type FlowInfo,
  type MsrpFrame,
  type SipMessage,
  type SipResponse,
  type UserAgent,
  type UserAgentOptions,
} from '../../web/src/sip/server.ts';
import {
  MiniNetwork,
  MiniRegistrar,
  type Binding,
  type Delivery,
  type MiniRegistrarOptions,
} from './mini-registrar.ts';
import { seededRandom } from './seeded-random.ts';
import { DOMAIN, instanceOf, makeUa } from './ua-builders.ts';

export const SESSION_USERS: Readonly<Record<string, string>> = {
  alice: 'alice-secret',
  bob: 'bob-secret',
  romeo: 'montague',
  juliet: 'capulet',
};

const TICK = '~proxy';
const TICK_MESSAGE = `OPTIONS sip:tick@proxy.${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/WS tick.invalid;branch=z9hG4bKtick\r\nMax-Forwards: 70\r\nFrom: <sip:tick@${DOMAIN}>;tag=t\r\nTo: <sip:tick@${DOMAIN}>\r\nCall-ID: tick\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;

// ---- the forking proxy -------------------------------------------------------------------------------------

interface Branch {
  readonly fork: Fork;
  readonly binding: Binding;
  readonly request: SipRequest;
  state: 'trying' | 'proceeding' | 'done';
}

interface Fork {
  readonly invite: SipRequest;
  readonly from: string;
  readonly groups: Binding[][];
  group: number;
  readonly branches: Branch[];
  readonly finals: SipResponse[];
  answered: boolean;
  done: boolean;
  deadline: number | undefined;
}

export class ForkingRegistrar extends MiniRegistrar {
  branchTimeout: number;
  /** endpoint → q-value of its binding (RFC 3261 §16.6: higher first; equal ones in parallel) */
  readonly q = new Map<string, number>();
  readonly #forks = new Map<string, Fork>();
  readonly #branches = new Map<string, Branch>();
  #pending: Delivery[] = [];
  #ticking = false;
  #n = 0;

  constructor(options: MiniRegistrarOptions, branchTimeout = 5000) {
    super(options);
    this.branchTimeout = branchTimeout;
  }

  /** Something the timer decided waits for the tick that carries it to the network (once per batch). */
  takeTick(): boolean {
    if (this.#pending.length === 0 || this.#ticking) return false;
    this.#ticking = true;
    return true;
  }

  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const f of this.#forks.values())
      if (f.deadline !== undefined && (next === undefined || f.deadline < next)) next = f.deadline;
    return next;
  }

  /** Branch timeouts: CANCEL the ringing branches of the current group (their 487s move the fork on). */
  fire(now: number): void {
    for (const f of this.#forks.values()) {
      if (f.deadline === undefined || f.deadline > now) continue;
      f.deadline = undefined;
      this.#pending.push(...this.#cancelAll(f));
    }
  }

  override handle(message: SipMessage, from: string, now: number): Delivery[] {
    if (from === TICK) {
      this.#ticking = false;
      return this.#pending.splice(0);
    }
    if (message.kind === 'response') {
      const branch = this.#branches.get(message.topVia?.branch ?? '');
      return branch === undefined ? super.handle(message, from, now) : this.#onResponse(branch, message, now);
    }
    const key = message.topVia?.branch ?? '';
    const fork = this.#forks.get(key);
    if (message.method === 'CANCEL' && fork !== undefined)
      return [{ to: from, message: createResponse(message, 200) }, ...this.#cancelAll(fork)];
    if (message.method === 'ACK' && fork !== undefined) return []; // the ACK of a final we made up
    if (message.method === 'INVITE' && message.toTag === undefined) {
      if (fork !== undefined) return []; // a retransmission
      const uri = message.uri;
      const bindings = uri.user !== undefined && uri.host === this.domain ? this.live(uri.aor, now) : [];
      if (bindings.length > 0) return this.#fork(message, from, bindings, now);
    }
    return super.handle(message, from, now);
  }

  #fork(invite: SipRequest, from: string, bindings: Binding[], now: number): Delivery[] {
    const qs = [...new Set(bindings.map((b) => this.q.get(b.endpoint) ?? 1))].sort((a, b) => b - a);
    const fork: Fork = {
      invite,
      from,
      groups: qs.map((q) => bindings.filter((b) => (this.q.get(b.endpoint) ?? 1) === q)),
      group: 0,
      branches: [],
      finals: [],
      answered: false,
      done: false,
      deadline: undefined,
    };
    this.#forks.set(invite.topVia?.branch ?? '', fork);
    return [{ to: from, message: createResponse(invite, 100) }, ...this.#startGroup(fork, now)];
  }

  #startGroup(fork: Fork, now: number): Delivery[] {
    const out: Delivery[] = [];
    for (const binding of fork.groups[fork.group] ?? []) {
      const branch = `z9hG4bKfork${String(++this.#n)}`;
      const request = fork.invite.clone();
      request.uri = binding.contact;
      request.headers.set('Max-Forwards', String((fork.invite.maxForwards ?? 70) - 1));
      request.headers.prepend('Via', `SIP/2.0/WS ${this.host};branch=${branch}`);
      const b: Branch = { fork, binding, request, state: 'trying' };
      fork.branches.push(b);
      this.#branches.set(branch, b);
      out.push({ to: binding.endpoint, message: request });
    }
    fork.deadline = now + this.branchTimeout;
    return out;
  }

  #onResponse(b: Branch, response: SipResponse, now: number): Delivery[] {
    const fork = b.fork;
    if (response.cseq.method !== 'INVITE' || response.status === 100) return [];
    const up = response.clone();
    up.headers.shift('Via');
    if (response.status < 200) {
      if (b.state === 'done' || fork.done) return [];
      b.state = 'proceeding';
      return [{ to: fork.from, message: up }];
    }
    const wasDone = b.state === 'done';
    b.state = 'done';
    if (response.status < 300) {
      // RFC 3261 §16.7: every 2xx goes up; the first one ends the search and CANCELs the other branches.
      const out: Delivery[] = [{ to: fork.from, message: up }];
      if (!fork.answered) {
        fork.answered = true;
        fork.done = true;
        fork.deadline = undefined;
        out.push(...this.#cancelAll(fork));
      }
      return out;
    }
    if (wasDone) return [this.#ack(b, response)];
    fork.finals.push(response);
    const out: Delivery[] = [this.#ack(b, response)];
    if (fork.done) return out;
    if (response.status >= 600) out.push(...this.#cancelAll(fork));
    const group = fork.groups[fork.group] ?? [];
    const open = fork.branches.filter((x) => group.includes(x.binding) && x.state !== 'done');
    if (open.length > 0) return out;
    const sixxx = fork.finals.some((r) => r.status >= 600);
    if (!sixxx && fork.group + 1 < fork.groups.length) {
      fork.group += 1;
      return [...out, ...this.#startGroup(fork, now)];
    }
    fork.done = true;
    fork.deadline = undefined;
    const best = bestResponse(fork.finals);
    const down = best.clone();
    down.headers.shift('Via');
    return [...out, { to: fork.from, message: down }];
  }

  #cancelAll(fork: Fork): Delivery[] {
    const out: Delivery[] = [];
    for (const b of fork.branches) {
      if (b.state === 'trying') b.state = 'done';
      if (b.state !== 'proceeding') continue;
      // RFC 3261 §9.1: CANCEL only after a provisional; same Request-URI, Via (branch), From, To, Call-ID.
      out.push({
        to: b.binding.endpoint,
        message: this.#request('CANCEL', b, b.request.headers.get('to') ?? ''),
      });
    }
    return out;
  }

  #ack(b: Branch, response: SipResponse): Delivery {
    return { to: b.binding.endpoint, message: this.#request('ACK', b, response.headers.get('to') ?? '') };
  }

  #request(method: string, b: Branch, to: string): SipRequest {
    const r = b.request;
    return new SipRequest(method, r.uri, [
      ['Via', r.headers.getAll('via')[0] ?? ''],
      ['Max-Forwards', '70'],
      ['From', r.headers.get('from') ?? ''],
      ['To', to],
      ['Call-ID', r.callId],
      ['CSeq', `${String(r.cseq.seq)} ${method}`],
    ]);
  }
}

/** RFC 3261 §16.7: a 6xx first, else the lowest status that is not a 408/487 of a branch we gave up on. */
function bestResponse(finals: readonly SipResponse[]): SipResponse {
  const six = finals.find((r) => r.status >= 600);
  if (six !== undefined) return six;
  const ranked = [...finals].sort((a, b) => rank(a) - rank(b));
  return ranked[0]!;
}

function rank(r: SipResponse): number {
  return r.status === 487 || r.status === 408 ? 1000 + r.status : r.status;
}

// ---- the MSRP relay --------------------------------------------------------------------------------------

export type MsrpFate = 'deliver' | 'drop' | 'duplicate' | 'hold';

interface RelayLink {
  readonly name: string;
  readonly core: ChatSessions;
  readonly conn: string;
  readonly framer: MsrpFramer;
}

export interface RelayRecord {
  readonly at: number;
  readonly from: string;
  readonly frame: MsrpFrame;
  readonly fate: MsrpFate;
}

export const RELAY_URI = 'msrp://relay.example.com:2855;tcp';

export class MemoryRelay {
  readonly log: RelayRecord[] = [];
  /** decides each frame's fate (AUTH and its answer always pass) */
  policy: ((frame: MsrpFrame, from: string) => MsrpFate) | undefined;
  readonly held: { link: RelayLink; bytes: Uint8Array }[] = [];
  /** the relay moved something in its last pump of some endpoint */
  dirty = false;
  /** chunk bytes taken from a connection per pump: progress shows between network rounds */
  budget = 64 * 1024;
  readonly #moved = new Map<RelayLink, boolean>();
  /** bytes of SEND bodies relayed, by sender */
  readonly bodyBytes = new Map<string, number>();
  readonly #links = new Map<string, RelayLink>();
  /** relay session URI → the client URI that AUTHed and its link */
  readonly #sessions = new Map<string, { client: string; link: RelayLink }>();
  /** SENDs passed on, awaiting the next hop's answer: the original and who sent it */
  readonly #forwarded = new Map<string, { frame: MsrpFrame; link: RelayLink; self: string }>();
  #n = 0;
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  open(name: string, core: ChatSessions, conn: string): void {
    const link: RelayLink = { name, core, conn, framer: new MsrpFramer({ streamAbove: Infinity }) };
    this.#links.set(`${name}/${conn}`, link);
    core.msrpUp(conn, this.#now());
    this.dirty = true;
  }

  /** The client closed the connection (after a last write). */
  close(name: string, conn: string): void {
    const link = this.#links.get(`${name}/${conn}`);
    if (link === undefined) return;
    this.#pumpLink(link);
    this.#drop(link);
  }

  /** The connection breaks under both ends (a dead WebSocket): what is in flight is lost. */
  cut(name: string, conn: string): void {
    const link = this.#links.get(`${name}/${conn}`);
    if (link === undefined) throw new Error(`no MSRP connection ${name}/${conn}`);
    this.#drop(link);
    link.core.msrpDown(conn, this.#now());
    this.dirty = true;
  }

  /** The connections of an endpoint. */
  connections(name: string): string[] {
    return [...this.#links.values()].filter((l) => l.name === name).map((l) => l.conn);
  }

  /** Delivers the held frames (all, or those at `order`), in that order. */
  release(order?: readonly number[]): void {
    const held = this.held.splice(0);
    for (const i of order ?? held.map((_, k) => k)) {
      const h = held[i]!;
      if (this.#links.has(`${h.link.name}/${h.link.conn}`))
        h.link.core.msrpReceive(h.link.conn, h.bytes, this.#now());
    }
    this.dirty = true;
  }

  /** Moves what one endpoint's connections have to write (at most `budget` bytes of chunk body each). */
  pump(name: string): void {
    for (const link of [...this.#links.values()])
      if (link.name === name) this.#moved.set(link, this.#pumpLink(link, this.budget));
    this.dirty = [...this.#moved].some(
      ([link, moved]) => moved && this.#links.has(`${link.name}/${link.conn}`),
    );
  }

  /** Frames relayed from `name`, optionally only requests of a method. */
  frames(name: string, method?: string): MsrpFrame[] {
    return this.log
      .filter((r) => r.from === name && (method === undefined || r.frame.method === method))
      .map((r) => r.frame);
  }

  #drop(link: RelayLink): void {
    this.#links.delete(`${link.name}/${link.conn}`);
    this.#moved.delete(link);
    for (const [uri, s] of this.#sessions) if (s.link === link) this.#sessions.delete(uri);
  }

  #pumpLink(link: RelayLink, budget = Infinity): boolean {
    let moved = false;
    for (const data of link.core.takeMsrpTransmissions(link.conn, budget)) {
      moved = true;
      for (const ev of link.framer.push(data)) {
        if (ev.type !== 'frame')
          throw new Error(`${link.name} wrote a bad MSRP frame: ${JSON.stringify(ev)}`);
        this.#route(link, ev.frame);
      }
    }
    return moved;
  }

  #route(link: RelayLink, frame: MsrpFrame): void {
    const now = this.#now();
    const toPath = (msrpHeader(frame, 'To-Path') ?? '').split(' ');
    if (frame.method === 'AUTH') {
      // RFC 4976 §5.1: a session of ours for the client, returned in Use-Path.
      const uri = `msrp://relay.example.com:2855/r${String(++this.#n)};tcp`;
      const client = (msrpHeader(frame, 'From-Path') ?? '').trim();
      this.#sessions.set(uri, { client, link });
      const ok = msrpResponse(frame, 200, {
        self: RELAY_URI,
        headers: [
          ['Use-Path', uri],
          ['Expires', '600'],
        ],
      });
      link.core.msrpReceive(link.conn, serializeMsrpFrame(ok), now);
      return;
    }
    const first = toPath[0] ?? '';
    if (frame.method === undefined) {
      // RFC 4976 §6.3: SEND is answered hop by hop; the next hop's answer is ours. An error becomes a REPORT.
      const sent = this.#forwarded.get(frame.transactionId);
      this.#forwarded.delete(frame.transactionId);
      if (sent === undefined || frame.status === 200 || !this.#sessions.has(first)) return;
      const report = msrpReport(sent.frame, frame.status ?? 500, {
        transactionId: `rprt${String(++this.#n)}`,
        self: sent.self,
        byteRange: parseByteRange(msrpHeader(sent.frame, 'Byte-Range') ?? '1-*/*'),
      });
      sent.link.core.msrpReceive(sent.link.conn, serializeMsrpFrame(report), now);
      return;
    }
    const fate = this.policy?.(frame, link.name) ?? 'deliver';
    this.log.push({ at: now, from: link.name, frame, fate });
    if (frame.method === 'SEND') {
      this.bodyBytes.set(link.name, (this.bodyBytes.get(link.name) ?? 0) + (frame.body?.length ?? 0));
      if (this.#sessions.has(first) && msrpHeader(frame, 'Failure-Report') === undefined)
        link.core.msrpReceive(link.conn, serializeMsrpFrame(msrpResponse(frame, 200, { self: first })), now);
    }
    // RFC 4976 §6: each of our URIs at the front of To-Path comes off and goes on the front of From-Path.
    let out: MsrpFrame = frame;
    let self = first;
    for (const uri of toPath) {
      if (!this.#sessions.has(uri)) break;
      const next = rewritePaths(out, uri);
      if (!('headers' in next)) return;
      out = next;
      self = uri;
    }
    const next = (msrpHeader(out, 'To-Path') ?? '').split(' ')[0] ?? '';
    const target = [...this.#sessions.values()].find((s) => s.client === next)?.link;
    if (out === frame) return;
    if (target === undefined) {
      // RFC 4976 §6.3: the next hop is gone: the sender hears it in a failure REPORT (481).
      if (frame.method === 'SEND' && msrpHeader(frame, 'Failure-Report') === undefined) {
        const report = msrpReport(frame, 481, {
          transactionId: `rprt${String(++this.#n)}`,
          self,
          byteRange: parseByteRange(msrpHeader(frame, 'Byte-Range') ?? '1-*/*'),
        });
        link.core.msrpReceive(link.conn, serializeMsrpFrame(report), now);
      }
      return;
    }
    if (frame.method === 'SEND') this.#forwarded.set(frame.transactionId, { frame, link, self });
    const bytes = serializeMsrpFrame(out);
    if (fate === 'drop') return;
    if (fate === 'hold') {
      this.held.push({ link: target, bytes });
      return;
    }
    target.core.msrpReceive(target.conn, bytes, now);
    if (fate === 'duplicate') target.core.msrpReceive(target.conn, bytes, now);
  }
}

// ---- the network -----------------------------------------------------------------------------------------

export interface SessionEndpoint {
  /** the user whose AOR the endpoint registers (several endpoints may share one: forking) */
  readonly user: string;
  /** q-value of its binding (1 by default) */
  readonly q?: number;
  readonly ua?: Partial<UserAgentOptions>;
  readonly chat?: Partial<Omit<ChatSessionsOptions, 'ua' | 'pager'>>;
  /** wrap a Pager too (the ChatSessions then drives it) */
  readonly pager?: (ua: UserAgent) => Pager;
  /** run Conversations (with a Pager) on top: the network then drives it */
  readonly conversations?: Partial<Omit<ConversationsOptions, 'sessions'>>;
}

export interface SessionNetOptions {
  readonly endpoints: Readonly<Record<string, SessionEndpoint>>;
  readonly branchTimeout?: number;
  readonly registrar?: Partial<MiniRegistrarOptions>;
  /** endpoints not signed in at the start */
  readonly offline?: readonly string[];
  readonly start?: number;
}

export class SessionNet {
  readonly net: MiniNetwork;
  readonly proxy: ForkingRegistrar;
  readonly relay: MemoryRelay;
  readonly cores = new Map<string, ChatSessions>();
  readonly convs = new Map<string, Conversations>();
  readonly uas = new Map<string, UserAgent>();
  /** the test's application: called for every event of every endpoint, at `now` */
  onEvent: ((name: string, event: ConversationsEvent) => void) | undefined;

  constructor(options: SessionNetOptions) {
    this.proxy = new ForkingRegistrar(
      { domain: DOMAIN, users: SESSION_USERS, random: seededRandom(7), ...options.registrar },
      options.branchTimeout,
    );
    this.net = new MiniNetwork(this.proxy, options.start ?? 1_000_000);
    this.relay = new MemoryRelay(() => this.net.now);
    let seed = 300;
    for (const [name, e] of Object.entries(options.endpoints)) {
      const ua = makeUa(e.user, {
        now: this.net.now,
        instanceId: instanceOf(name),
        contactHost: `${name}-host.invalid`,
        credentials: { username: e.user, password: SESSION_USERS[e.user] ?? 'secret' },
        random: seededRandom(++seed),
        ...e.ua,
      });
      const pager =
        e.pager?.(ua) ??
        (e.conversations === undefined ? undefined : new Pager({ ua, random: seededRandom(++seed) }));
      const core = new ChatSessions({
        ua,
        pager,
        random: seededRandom(++seed),
        ...e.chat,
        msrp: {
          relay: RELAY_URI,
          host: `${name}.invalid`,
          credentials: { username: e.user, password: 'x' },
          ...e.chat?.msrp,
        },
      });
      this.cores.set(name, core);
      this.uas.set(name, ua);
      if (e.q !== undefined) this.proxy.q.set(name, e.q);
      const conv =
        e.conversations === undefined ? undefined : new Conversations({ sessions: core, ...e.conversations });
      if (conv !== undefined) this.convs.set(name, conv);
      this.net.add(name, this.#adapter(name, conv ?? core) as unknown as UserAgent);
    }
    this.net.add(TICK, this.#tick() as unknown as UserAgent);
    this.net.connect(TICK);
    this.net.onEvent = (name, event) => {
      const e = event as unknown as ConversationsEvent;
      const core = this.cores.get(name);
      if (core !== undefined && e.type === 'msrp-connect') this.relay.open(name, core, e.connection);
      if (core !== undefined && e.type === 'msrp-close') this.relay.close(name, e.connection);
      this.onEvent?.(name, e);
    };
    for (const name of Object.keys(options.endpoints))
      if (!options.offline?.includes(name)) this.signIn(name);
  }

  core(name: string): ChatSessions {
    const c = this.cores.get(name);
    if (c === undefined) throw new Error(`no endpoint ${name}`);
    return c;
  }

  conv(name: string): Conversations {
    const c = this.convs.get(name);
    if (c === undefined) throw new Error(`no conversations at ${name}`);
    return c;
  }

  get now(): number {
    return this.net.now;
  }

  signIn(name: string): void {
    const ua = this.uas.get(name)!;
    ua.register(this.net.now);
    this.net.connect(name);
    this.net.settle();
    if (ua.registration.state !== 'Registered') throw new Error(`${name} is ${ua.registration.state}`);
  }

  settle(): void {
    this.net.settle();
  }

  advanceBy(ms: number): void {
    this.net.advanceBy(ms);
  }

  /** The events of an endpoint, optionally of one type. */
  events<T extends ConversationsEvent['type']>(
    name: string,
    type?: T,
  ): Extract<ConversationsEvent, { type: T }>[] {
    return this.net.events
      .filter((e) => e.name === name)
      .map((e) => e.event as unknown as ConversationsEvent)
      .filter((e): e is Extract<ConversationsEvent, { type: T }> => type === undefined || e.type === type);
  }

  /** Texts an endpoint showed, in order. */
  texts(name: string): string[] {
    return this.events(name, 'message').map((e) => e.message.text);
  }

  /** The states an outgoing text went through (a session's, or a conversation's with its mode: `pager:sent`). */
  states(name: string, id: string): string[] {
    return this.events(name, 'message-state').flatMap((e) => {
      if ('id' in e) return e.id === id && !('recipient' in e && e.recipient !== undefined) ? [e.state] : [];
      return e.message.id === id ? [`${e.message.mode}:${e.message.state}`] : [];
    });
  }

  /** The states a session went through (deduplicated runs). */
  sessionStates(name: string, id: string): string[] {
    const out: string[] = [];
    for (const e of this.events(name, 'session'))
      if (e.session.id === id && out.at(-1) !== e.session.state) out.push(e.session.state);
    return out;
  }

  /** The first incoming session an endpoint was offered (its id). */
  incoming(name: string, index = 0): string {
    const e = this.events(name, 'incoming-session')[index];
    if (e === undefined) throw new Error(`${name} was offered no session`);
    return e.session.id;
  }

  /** SIP messages an endpoint sent (requests of a method, or `180 INVITE` …). */
  sent(name: string, summary?: string): SipMessage[] {
    return this.net
      .sent(name, summary)
      .map((w) => w.message)
      .filter((m): m is SipMessage => m !== undefined);
  }

  #adapter(name: string, core: ChatSessions | Conversations): object {
    const relay = this.relay;
    const net = (): MiniNetwork => this.net;
    return {
      receive: (data: Uint8Array | string, now: number, flow?: FlowInfo) => {
        core.receive(data, now, flow);
      },
      handleTimers: (now: number) => {
        core.handleTimers(now);
      },
      nextDeadline: () => (relay.dirty ? net().now : core.nextDeadline()),
      takeTransmissions: () => {
        relay.pump(name);
        return core.takeTransmissions();
      },
      takeEvents: () => core.takeEvents(),
      flowUp: (now: number, flow: FlowInfo) => {
        core.flowUp(now, flow);
      },
      flowDown: (now: number) => {
        core.flowDown(now);
      },
    };
  }

  #tick(): object {
    const proxy = this.proxy;
    return {
      receive: () => {},
      handleTimers: (now: number) => {
        proxy.fire(now);
      },
      // Last in the network's round: while MSRP moved in this round, another round (MSRP moves between SIP).
      nextDeadline: () => (this.relay.dirty ? this.net.now : proxy.nextDeadline()),
      takeTransmissions: () => {
        if (!proxy.takeTick()) return [];
        const message = parseMessage(TICK_MESSAGE);
        return [{ data: serializeMessage(message), flow: undefined, message }];
      },
      takeEvents: () => [],
      flowUp: () => {},
      flowDown: () => {},
    };
  }
}
