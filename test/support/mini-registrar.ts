/**
 * A tiny registrar and stateless proxy for user-agent tests, and the in-memory network that joins it to
 * several UserAgents, each over its own flow (a WebSocket, as the product's browsers have).
 *
 *      ua "alice" ──up link──▶ ┌───────────────────────────┐ ──down link──▶ ua "bob"
 *                 ◀─down link─ │ MiniRegistrar (example.com)│ ◀──up link───
 *                              └───────────────────────────┘
 *
 * The registrar stores bindings (RFC 3261 §10.3: Contact with expires, RFC 5626 instance/reg-id replacing),
 * challenges REGISTER with digest (MD5, qop=auth) and checks the answer with `verifyCredentials`, answers 423
 * below its Min-Expires, echoes Path, adds Service-Route, GRUUs and Flow-Timer when told to, and can be told to
 * fail the next REGISTERs. Every other request is proxied statelessly: a Route naming the proxy is popped, the
 * Request-URI (an AOR of the domain, or a registered contact) is looked up and the request goes down the flow
 * of the newest live binding, with the proxy's Via on top (its branch derived from the incoming one, so
 * retransmissions and CANCELs take the same branch) and a Record-Route when told to. Responses pop that Via and
 * go back down the flow its `flow` parameter names. Nothing keeps transaction state.
 *
 * The network moves bytes: each message is serialized, logged, passed through a Link (linked-pair.ts) that can
 * drop, duplicate, delay or hold it, and parsed again on arrival. Time is explicit: `advanceTo(t)` stops at
 * every deadline and arrival; at each instant `settle()` runs due timers, moves transmissions, hands events
 * to `onEvent` (the test's application) and delivers arrivals one at a time until nothing more happens.
 */
import type { UserAgent } from '../../web/src/sip/index.ts';
import {
  computeHa1,
  createChallenge,
  createResponse,
  paramValue,
  parseAuthorization,
  parseMessage,
  serializeMessage,
  verifyCredentials,
  type FlowInfo,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type Uri,
  type UserAgentEvent,
} from '../../web/src/sip/server.ts';
import { Link, type Fate } from './linked-pair.ts';
import { summarize } from './sip-builders.ts';

export interface MiniRegistrarOptions {
  readonly domain: string;
  /** user → password */
  readonly users: Readonly<Record<string, string>>;
  readonly random: () => number;
  readonly realm?: string;
  /** challenge REGISTER with digest (true by default) */
  readonly challenge?: boolean;
  /** RFC 3261 §10.3 step 7: below this (seconds) a REGISTER gets 423 */
  readonly minExpires?: number;
  /** the most a binding is granted (seconds); 3600 by default */
  readonly maxExpires?: number;
  /** Service-Route values for the 2xx (RFC 3608) */
  readonly serviceRoute?: readonly string[];
  /** Path values the 2xx echoes, as if an edge proxy had added them (RFC 3327) */
  readonly path?: readonly string[];
  /** offer pub-gruu / temp-gruu (RFC 5627) to instances */
  readonly gruu?: boolean;
  /** RFC 5626 §4.4.1 Flow-Timer (seconds) in the 2xx */
  readonly flowTimer?: number;
  /** Record-Route proxied dialog-forming requests */
  readonly recordRoute?: boolean;
}

export interface Binding {
  readonly aor: string;
  readonly contact: Uri;
  readonly instance: string | undefined;
  readonly regId: string | undefined;
  readonly expiresAt: number;
  /** the endpoint whose flow the REGISTER came on */
  readonly endpoint: string;
  readonly callId: string;
  readonly cseq: number;
}

/** Where the registrar sends a message: down the flow of `to`. */
export interface Delivery {
  readonly to: string;
  readonly message: SipMessage;
}

export class MiniRegistrar {
  readonly domain: string;
  readonly host: string;
  readonly realm: string;
  readonly #options: MiniRegistrarOptions;
  readonly #nonces = new Set<string>();
  #nonceCount = 0;
  /** AOR → bindings */
  readonly bindings = new Map<string, Binding[]>();
  /** REGISTERs seen, challenges sent, successes */
  readonly stats = { registers: 0, challenges: 0, ok: 0, refused: 0, proxied: 0 };
  #failures: { status: number; headers: Record<string, string>; remaining: number } | undefined;

  constructor(options: MiniRegistrarOptions) {
    this.#options = options;
    this.domain = options.domain;
    this.host = `proxy.${options.domain}`;
    this.realm = options.realm ?? options.domain;
  }

  /** Answer the next `times` REGISTERs with `status` (e.g. 503 with Retry-After). */
  failNext(status: number, times = 1, headers: Record<string, string> = {}): void {
    this.#failures = { status, headers, remaining: times };
  }

  /** The live bindings of an AOR (`sip:user@domain`) at `now`. */
  live(aor: string, now: number): Binding[] {
    return (this.bindings.get(aor) ?? []).filter((b) => b.expiresAt > now);
  }

  handle(message: SipMessage, from: string, now: number): Delivery[] {
    if (message.kind === 'response') return this.#relayResponse(message);
    const uri = message.uri;
    if (message.method === 'REGISTER' && uri.user === undefined && uri.host.toLowerCase() === this.domain)
      return [{ to: from, message: this.#register(message, from, now) }];
    return this.#proxy(message, from, now);
  }

  // ---- registrar ------------------------------------------------------------------------------------------------

  #register(request: SipRequest, from: string, now: number): SipResponse {
    this.stats.registers += 1;
    const respond = (status: number, headers: Record<string, string | string[]> = {}): SipResponse => {
      if (status >= 300) this.stats.refused += 1;
      return createResponse(request, status, { toTag: this.#tag(), headers });
    };
    const user = request.to.uri.user ?? '';
    const password = this.#options.users[user];
    if (password === undefined || request.to.uri.host.toLowerCase() !== this.domain) return respond(404);
    if (this.#failures !== undefined && this.#failures.remaining > 0) {
      this.#failures.remaining -= 1;
      return respond(this.#failures.status, this.#failures.headers);
    }
    if (this.#options.challenge !== false && !this.#authorized(request, user, password)) {
      this.stats.challenges += 1;
      const nonce = `nonce${String(++this.#nonceCount)}`;
      this.#nonces.add(nonce);
      return respond(401, {
        'WWW-Authenticate': createChallenge({ realm: this.realm, nonce, algorithm: 'MD5', qop: ['auth'] }),
      });
    }
    const aor = `sip:${user}@${this.domain}`;
    const headerExpires = request.expires;
    const bindings = this.live(aor, now);
    if (request.contactStar) {
      this.bindings.set(aor, []);
      return respond(200);
    }
    const callId = request.callId;
    const cseq = request.cseq.seq;
    for (const contact of request.contacts) {
      const raw = paramValue(contact.params, 'expires');
      let expires = raw !== undefined ? Number(raw) : (headerExpires ?? 3600);
      const min = this.#options.minExpires;
      // RFC 3261 §10.3 step 7: a non-zero interval below the minimum is refused with 423 and Min-Expires.
      if (expires !== 0 && min !== undefined && expires < min)
        return respond(423, { 'Min-Expires': String(min) });
      expires = Math.min(expires, this.#options.maxExpires ?? 3600);
      const instance = paramValue(contact.params, '+sip.instance');
      const regId = paramValue(contact.params, 'reg-id');
      // RFC 5626 §6: instance + reg-id identify the binding; otherwise the contact URI does (§10.3).
      const same = (b: Binding): boolean =>
        instance !== undefined ? b.instance === instance && b.regId === regId : b.contact.equals(contact.uri);
      const kept = bindings.filter((b) => !same(b));
      if (expires > 0) {
        kept.push({
          aor,
          contact: contact.uri,
          instance,
          regId,
          expiresAt: now + expires * 1000,
          endpoint: from,
          callId,
          cseq,
        });
      }
      bindings.length = 0;
      bindings.push(...kept);
    }
    this.bindings.set(aor, bindings);
    this.stats.ok += 1;
    const response = respond(200);
    const contacts = bindings.map((b) => {
      let value = `<${b.contact.toString()}>;expires=${String(Math.round((b.expiresAt - now) / 1000))}`;
      if (b.instance !== undefined) value += `;+sip.instance="${b.instance}";reg-id=${b.regId ?? '1'}`;
      if (this.#options.gruu === true && b.instance !== undefined) {
        const gr = b.instance.replace(/[<>]/g, '').replace(/^urn:uuid:/, '');
        value += `;pub-gruu="${aor};gr=urn:uuid:${gr}";temp-gruu="sip:tgruu.${gr.slice(0, 8)}@${this.domain};gr"`;
      }
      return value;
    });
    if (contacts.length > 0) response.headers.set('Contact', contacts);
    const supported = request.supported;
    if (supported.includes('outbound') && request.contacts.some((c) => c.params.has('reg-id')))
      response.headers.set('Require', 'outbound');
    if (this.#options.serviceRoute !== undefined)
      response.headers.set('Service-Route', [...this.#options.serviceRoute]);
    if (this.#options.path !== undefined) response.headers.set('Path', [...this.#options.path]);
    if (this.#options.flowTimer !== undefined)
      response.headers.set('Flow-Timer', String(this.#options.flowTimer));
    return response;
  }

  #authorized(request: SipRequest, user: string, password: string): boolean {
    for (const value of request.headers.getAll('Authorization')) {
      try {
        const auth = parseAuthorization(value);
        if (auth.username !== user || auth.realm !== this.realm || !this.#nonces.has(auth.nonce)) continue;
        const ha1 = computeHa1(user, this.realm, password, 'MD5');
        if (verifyCredentials(auth, { method: request.method, ha1 })) return true;
      } catch {
        continue;
      }
    }
    return false;
  }

  // ---- stateless proxy ------------------------------------------------------------------------------------------

  #proxy(request: SipRequest, from: string, now: number): Delivery[] {
    const out = request.clone();
    // RFC 3261 §16.4: a Route naming this proxy is removed.
    const top = out.route[0];
    if (top !== undefined && top.uri.host.toLowerCase() === this.host) out.headers.shift('Route');
    const target = this.#target(out.uri, now);
    if (target === undefined) {
      if (request.method === 'ACK') return [];
      const status = this.bindings.has(out.uri.aor) ? 480 : 404;
      return [{ to: from, message: createResponse(request, status, { toTag: this.#tag() }) }];
    }
    const maxForwards = out.maxForwards ?? 70;
    if (maxForwards <= 0)
      return [{ to: from, message: createResponse(request, 483, { toTag: this.#tag() }) }];
    out.headers.set('Max-Forwards', String(maxForwards - 1));
    out.uri = target.contact;
    // RFC 3261 §16.11: a stateless proxy's branch is a function of the incoming one (same for retransmissions
    // and for the CANCEL of an INVITE).
    const branch = `z9hG4bKp${(request.topVia?.branch ?? 'none').replace(/^z9hG4bK/, '')}`;
    out.headers.prepend('Via', `SIP/2.0/WS ${this.host};branch=${branch};flow=${from}`);
    const dialogForming =
      request.toTag === undefined && ['INVITE', 'SUBSCRIBE', 'REFER'].includes(request.method);
    if (this.#options.recordRoute === true && dialogForming)
      out.headers.prepend('Record-Route', `<sip:${this.host};lr>`);
    this.stats.proxied += 1;
    return [{ to: target.endpoint, message: out }];
  }

  /** An AOR of the domain (newest live binding), or a registered contact (by host). */
  #target(uri: Uri, now: number): Binding | undefined {
    if (uri.host.toLowerCase() === this.domain && uri.user !== undefined)
      return this.live(uri.aor, now).at(-1);
    for (const list of this.bindings.values())
      for (const b of list)
        if (b.expiresAt > now && b.contact.host.toLowerCase() === uri.host.toLowerCase()) return b;
    return undefined;
  }

  #relayResponse(response: SipResponse): Delivery[] {
    const via = response.topVia;
    if (via === undefined || via.host !== this.host) return [];
    const to = paramValue(via.params, 'flow');
    if (to === undefined) return [];
    const out = response.clone();
    out.headers.shift('Via');
    return [{ to, message: out }];
  }

  #tag(): string {
    return Math.floor(this.#options.random() * 2 ** 32).toString(36);
  }
}

// ---- the network ------------------------------------------------------------------------------------------------

export interface NetRecord {
  readonly at: number;
  /** endpoint name, or 'registrar' */
  readonly from: string;
  readonly to: string;
  readonly message: SipMessage | undefined;
  /** `MESSAGE`, `200 MESSAGE`, `ping` … */
  readonly summary: string;
  readonly fate: string;
}

interface Endpoint {
  readonly name: string;
  readonly ua: UserAgent;
  /** ua → registrar */
  readonly up: Link;
  /** registrar → ua */
  readonly down: Link;
  connected: boolean;
  flows: number;
  flow: FlowInfo | undefined;
}

export class MiniNetwork {
  now: number;
  readonly registrar: MiniRegistrar;
  readonly wire: NetRecord[] = [];
  readonly events: { at: number; name: string; event: UserAgentEvent }[] = [];
  /** the test's application: called for every event, in order, at `net.now` */
  onEvent: ((name: string, event: UserAgentEvent) => void) | undefined;
  readonly #endpoints = new Map<string, Endpoint>();
  /** keep-alive pongs owed to endpoints */
  #pongs: string[] = [];

  constructor(registrar: MiniRegistrar, start = 0) {
    this.registrar = registrar;
    this.now = start;
  }

  /** Attach a user agent (not yet connected). */
  add(name: string, ua: UserAgent): UserAgent {
    this.#endpoints.set(name, {
      name,
      ua,
      up: new Link(),
      down: new Link(),
      connected: false,
      flows: 0,
      flow: undefined,
    });
    return ua;
  }

  ua(name: string): UserAgent {
    return this.#endpoint(name).ua;
  }

  /** The link carrying what `name` sends ('up') or receives ('down'). */
  link(name: string, direction: 'up' | 'down'): Link {
    const e = this.#endpoint(name);
    return direction === 'up' ? e.up : e.down;
  }

  /** The WebSocket opened (a new flow each time): flowUp. */
  connect(name: string): FlowInfo {
    const e = this.#endpoint(name);
    e.flows += 1;
    const flow: FlowInfo = {
      transport: 'WS',
      reliable: true,
      flowId: `${name}-${String(e.flows)}`,
      remote: this.registrar.host,
    };
    e.flow = flow;
    e.connected = true;
    e.ua.flowUp(this.now, flow);
    this.settle();
    return flow;
  }

  /** The WebSocket dropped: flowDown; what is in flight to or from it is lost. */
  disconnect(name: string): void {
    const e = this.#endpoint(name);
    e.connected = false;
    e.flow = undefined;
    e.ua.flowDown(this.now);
    this.settle();
  }

  settle(): void {
    for (let round = 0; ; round++) {
      if (round > 100_000) throw new Error('the mini network does not settle');
      let progress = false;
      for (const e of this.#endpoints.values()) {
        const deadline = e.ua.nextDeadline();
        if (deadline !== undefined && deadline <= this.now) {
          e.ua.handleTimers(this.now);
          progress = true;
        }
        for (const t of e.ua.takeTransmissions()) {
          progress = true;
          if (t.message === undefined) {
            // RFC 5626 §4.4.1: the registrar's edge answers a CRLFCRLF ping with a CRLF pong.
            this.wire.push({
              at: this.now,
              from: e.name,
              to: 'registrar',
              message: undefined,
              summary: 'ping',
              fate: e.connected ? 'deliver' : 'drop',
            });
            if (e.connected) this.#pongs.push(e.name);
            continue;
          }
          const copy = parseMessage(t.data);
          const fate = e.connected ? e.up.send(t.data, copy, this.now) : 'drop';
          this.wire.push({
            at: this.now,
            from: e.name,
            to: 'registrar',
            message: copy,
            summary: summarize(copy),
            fate: fateText(fate),
          });
        }
        for (const event of e.ua.takeEvents()) {
          progress = true;
          this.events.push({ at: this.now, name: e.name, event });
          this.onEvent?.(e.name, event);
        }
      }
      if (progress) continue;
      const pong = this.#pongs.shift();
      if (pong !== undefined) {
        const e = this.#endpoint(pong);
        if (e.connected) e.ua.receive('\r\n', this.now, e.flow);
        continue;
      }
      // One arrival at a time.
      for (const e of this.#endpoints.values()) {
        const up = e.up.nextDue(this.now);
        if (up !== undefined) {
          for (const d of this.registrar.handle(parseMessage(up), e.name, this.now)) this.#deliver(d);
          progress = true;
          break;
        }
        const down = e.down.nextDue(this.now);
        if (down !== undefined) {
          if (e.connected) e.ua.receive(down, this.now, e.flow);
          progress = true;
          break;
        }
      }
      if (!progress) return;
    }
  }

  advanceTo(t: number): void {
    this.settle();
    for (;;) {
      const next = this.#nextEvent();
      if (next === undefined || next > t) break;
      this.now = Math.max(this.now, next);
      this.settle();
    }
    this.now = Math.max(this.now, t);
    this.settle();
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.now + ms);
  }

  /** Events of one endpoint, optionally of one type. */
  eventsOf<T extends UserAgentEvent['type']>(name: string, type?: T): Extract<UserAgentEvent, { type: T }>[] {
    return this.events
      .filter((e) => e.name === name && (type === undefined || e.event.type === type))
      .map((e) => e.event) as Extract<UserAgentEvent, { type: T }>[];
  }

  /** What went on the wire from `from` (an endpoint or 'registrar'), optionally with this summary. */
  sent(from: string, summary?: string): NetRecord[] {
    return this.wire.filter((w) => w.from === from && (summary === undefined || w.summary === summary));
  }

  #deliver(d: Delivery): void {
    const e = this.#endpoints.get(d.to);
    const bytes = serializeMessage(d.message);
    const copy = parseMessage(bytes);
    const fate = e === undefined || !e.connected ? 'drop' : e.down.send(bytes, copy, this.now);
    this.wire.push({
      at: this.now,
      from: 'registrar',
      to: d.to,
      message: copy,
      summary: summarize(copy),
      fate: fateText(fate),
    });
  }

  #nextEvent(): number | undefined {
    let min: number | undefined;
    const consider = (v: number | undefined): void => {
      if (v !== undefined && (min === undefined || v < min)) min = v;
    };
    for (const e of this.#endpoints.values()) {
      consider(e.ua.nextDeadline());
      consider(e.up.nextArrival());
      consider(e.down.nextArrival());
    }
    return min;
  }

  #endpoint(name: string): Endpoint {
    const e = this.#endpoints.get(name);
    if (e === undefined) throw new Error(`no endpoint ${name}`);
    return e;
  }
}

function fateText(fate: Fate): string {
  return typeof fate === 'string' ? fate : `delay ${String(fate.delay)}`;
}
