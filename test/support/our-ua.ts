// Our user agent in Node, for interop, gateway and app tests: the sans-IO UserAgent (web/src/sip/ua/) driven by
// SipDriver over a WebSocketTransport built on `ws`, on the system clock and Math.random. This file is a test
// composition root (the only place besides main.ts that may wire the runtime's clock and randomness); it is
// test glue, not product code, and nothing in web/ or gateway/ may import it.
//
//   const alice = startOurUa({ wsUrl: kamailio.wsUrl, aor: 'sip:alice@127.0.0.1' });  // connects at once
//   await alice.registered();
//   expect(await alice.sendMessage('sip:bob@127.0.0.1', 'hi')).toBe(200);
//   const m = await alice.waitForMessage((m) => m.text === 'hello');   // every MESSAGE is answered 200
//   alice.killSocket();                                                // a dead connection: it reconnects
//   await alice.stop();                                                // unregister, then close
//
// With `pager: true` the core is the Pager (web/src/sip/ua/pager.ts) wrapping the UserAgent: MESSAGEs are the
// pager's (IMDN, is-composing, groups, capability learning), its events are in `pagerEvents`, and
//
//   const id = alice.send('sip:bob@localhost', 'hi', { imdn: true });
//   await alice.waitForState(id, 'delivered');
//   bob.markDisplayed([id]);  bob.setComposing('sip:alice@localhost', true);
//
// Every wait is event-driven and bounded (default 10 s); a timeout rejects with what was seen so far. `trace()`
// gives the last SIP lines on the wire (first lines only), for failure messages.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';

import {
  SipDriver,
  WebSocketTransport,
  systemClock,
  type ConnectionState,
  type Logger,
} from '../../web/src/drivers/index.ts';
import {
  Pager,
  PresenceClient,
  UserAgent,
  type IncomingRequest,
  type MessageState,
  type OutgoingMessage,
  type PagerEvent,
  type PagerOptions,
  type PresenceEvent,
  type PresenceStatus,
  type SendOptions,
  type OutgoingRequest,
  type RegistrationSnapshot,
  type SipRequest,
  type SipResponse,
  type UaRequestOptions,
  type UserAgentEvent,
  type UserAgentOptions,
} from '../../web/src/sip/index.ts';

export interface OurUaOptions {
  /** ws: URL of the registrar / outbound proxy (Kamailio's wsUrl, the gateway's …) */
  readonly wsUrl: string;
  /** the address of record, e.g. `sip:alice@127.0.0.1` */
  readonly aor: string;
  /** digest password; the username is the AOR's user unless `username` says otherwise */
  readonly password?: string;
  readonly username?: string;
  /** RFC 5626 `+sip.instance` (a `urn:uuid:…`); a fresh one by default */
  readonly instanceId?: string;
  readonly displayName?: string;
  /** register when the flow comes up (default true) */
  readonly register?: boolean;
  /** registration expires asked for, seconds (default 300) */
  readonly expires?: number;
  /** the transport's own CRLF keep-alive interval, ms (its default 25 s; a registrar's Flow-Timer overrides it) */
  readonly keepAliveInterval?: number;
  /** reconnection back-off bounds, ms (defaults: 200 ms … 2 s, short for tests) */
  readonly minReconnectDelay?: number;
  readonly maxReconnectDelay?: number;
  /**
   * Answers an incoming request other than MESSAGE (OPTIONS is answered by the core). Return true when it was
   * handled; otherwise it is rejected 501. Called inside the driver's event dispatch: answer with the handle.
   */
  readonly onRequest?: (incoming: IncomingRequest) => boolean;
  /** more UserAgent options (contactHost, outboundProxy, capabilities …) */
  readonly core?: Partial<Omit<UserAgentOptions, 'aor' | 'transport' | 'random' | 'instanceId'>>;
  /** told every transport log line and SIP line (for debugging a test) */
  readonly log?: (line: string) => void;
  /**
   * Run the Pager as the core (true, or its options): it answers MESSAGEs (IMDN, is-composing, groups …) and
   * its events land in `pagerEvents`; `messages` then holds what it showed. Off: every MESSAGE is answered 200.
   */
  readonly pager?: boolean | Partial<Omit<PagerOptions, 'ua' | 'random'>>;
  /** Run the PresenceClient as the core instead (web/src/sip/ua/presence.ts): publish, watch, presenceEvents. */
  readonly presence?: boolean;
}

/** A MESSAGE our UA received (and answered 200). */
export interface ReceivedMessage {
  readonly from: string;
  readonly to: string;
  readonly requestUri: string;
  readonly contentType: string | undefined;
  readonly text: string;
  readonly request: SipRequest;
}

export interface RequestResult {
  readonly status: number;
  readonly response: SipResponse;
  /** the core made the response up (408 timeout, 503 no flow …) */
  readonly local: boolean;
}

export interface OurUa {
  readonly ua: UserAgent;
  /** drives the UserAgent, or the Pager around it with `pager`, or the PresenceClient with `presence` */
  readonly driver: SipDriver<UserAgent | Pager | PresenceClient>;
  /** the pager, with `pager` */
  readonly pager: Pager | undefined;
  /** every event of the pager but its pass-through UA events (those are in `events`), in order */
  readonly pagerEvents: readonly PagerEvent[];
  /** the presence layer, with `presence` */
  readonly presence: PresenceClient | undefined;
  /** every event of the presence layer but its pass-through UA events, in order */
  readonly presenceEvents: readonly PresenceEvent[];
  readonly transport: WebSocketTransport;
  readonly aor: string;
  readonly instanceId: string;
  /** every event of the core, in order */
  readonly events: readonly UserAgentEvent[];
  /** every MESSAGE received, in order */
  readonly messages: readonly ReceivedMessage[];
  /** every registration event, in order */
  readonly registrations: readonly RegistrationSnapshot[];
  /** every connection state, in order */
  readonly states: readonly ConnectionState[];
  /** transport failures and core exceptions reported by the driver */
  readonly errors: readonly Error[];
  /** WebSocket connections opened so far */
  readonly connections: number;
  /** the local TCP port of the current WebSocket connection (undefined before it is open) */
  readonly localPort: number | undefined;
  /** CRLF keep-alive pongs received on all connections */
  readonly pongs: number;
  /** Resolves with the snapshot once the registration is Registered (at once if it is). */
  registered(timeoutMs?: number): Promise<RegistrationSnapshot>;
  /** Resolves with the first registration event from index `from` on that matches. */
  waitForRegistration(
    predicate: (snapshot: RegistrationSnapshot) => boolean,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<RegistrationSnapshot>;
  /** Sends a request outside a dialog and resolves with its final response. */
  request(
    method: string,
    target: string,
    options?: UaRequestOptions,
    timeoutMs?: number,
  ): Promise<RequestResult>;
  /** Sends a pager-mode MESSAGE (RFC 3428) and resolves with the final status. */
  sendMessage(target: string, text: string, contentType?: string, timeoutMs?: number): Promise<number>;
  /** Sends OPTIONS and resolves with the final status. */
  options(target: string, timeoutMs?: number): Promise<number>;
  /** Resolves with the first received MESSAGE (already received or to come) that matches. */
  waitForMessage(
    predicate: (message: ReceivedMessage) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedMessage>;
  /** Resolves once `check` returns something other than undefined, re-checked at every event of the UA. */
  waitFor<T>(check: () => T | undefined, what: string, timeoutMs?: number): Promise<T>;
  /** Pager: send a text (RFC 3428); returns the message id. Throws when refused (too large: use a session). */
  send(to: string, text: string, options?: SendOptions): string;
  /** Pager: one page-mode group message (RFC 5365) through the URI-list service; returns the message id. */
  sendGroup(recipients: readonly string[], text: string, options?: SendOptions): string;
  /** Pager: the user saw these received messages (display notifications, RFC 5438). */
  markDisplayed(ids: readonly string[]): void;
  /** Pager: the user is (not) typing to `peer` (RFC 3994). */
  setComposing(peer: string, typing: boolean): void;
  /** Pager: resolves with the message's snapshot once it has been `state`; rejects when it failed or expired first. */
  waitForState(id: string, state: MessageState, timeoutMs?: number): Promise<OutgoingMessage>;
  /** Pager: resolves with the first pager event (already seen or to come) that matches. */
  waitForPagerEvent<T extends PagerEvent>(
    predicate: (event: PagerEvent) => event is T,
    what: string,
    timeoutMs?: number,
  ): Promise<T>;
  /** Presence: publish our status (offline unpublishes). */
  publish(status: PresenceStatus, note?: string): void;
  /** Presence: watch (SUBSCRIBE to) a buddy, or stop. */
  watch(uri: string): void;
  unwatch(uri: string): void;
  /**
   * Presence: resolves with the first presence report for `uri` with that status, among the presence events from
   * index `since` on (default 0: already seen or to come).
   */
  waitForPresence(
    uri: string,
    status: PresenceStatus,
    since?: number,
    timeoutMs?: number,
  ): Promise<Extract<PresenceEvent, { type: 'presence' }>>;
  /** Abruptly ends the current WebSocket from our side (ws.terminate(): no close frame): a dead connection. */
  killSocket(): void;
  /** The last SIP first lines and transport lines seen, newest last. */
  trace(lines?: number): string;
  /** Unregisters (bounded: 5 s) when registered over a live flow, then closes the connection. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUT = 10_000;
const TRACE_LINES = 400;

function firstLine(data: unknown): string {
  const text =
    typeof data === 'string'
      ? data
      : data instanceof Uint8Array
        ? Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
        : Array.isArray(data)
          ? Buffer.concat(data as Buffer[]).toString('utf8')
          : data instanceof ArrayBuffer
            ? Buffer.from(data).toString('utf8')
            : String(data);
  if (text === '\r\n') return 'CRLF (pong)';
  if (text === '\r\n\r\n') return 'CRLFCRLF (ping)';
  const line = text.slice(0, Math.max(0, text.indexOf('\r\n'))) || text.slice(0, 80);
  const cseq = /^CSeq:\s*(.+)$/im.exec(text)?.[1];
  return cseq === undefined ? line : `${line} (${cseq.trim()})`;
}

/** Starts the UA: connects, and registers unless `register: false`. Returns at once: await `registered()`. */
export function startOurUa(options: OurUaOptions): OurUa {
  const clock = systemClock();
  const random = Math.random;
  const traceLines: string[] = [];
  const trace = (line: string): void => {
    traceLines.push(line);
    if (traceLines.length > TRACE_LINES) traceLines.splice(0, traceLines.length - TRACE_LINES);
    options.log?.(line);
  };
  const logger: Logger = {
    debug: (m) => trace(`  debug ${m}`),
    info: (m) => trace(`  ${m}`),
    warn: (m) => trace(`  warn ${m}`),
    error: (m) => trace(`  error ${m}`),
  };

  // The WebSocket implementation: `ws`, watched so that a test can kill the connection and see its port.
  let current: WebSocket | undefined;
  let connections = 0;
  let localPort: number | undefined;
  let pongs = 0;
  const watch = (socket: WebSocket): void => {
    current = socket;
    connections++;
    localPort = undefined;
    socket.once('upgrade', (response: IncomingMessage) => {
      if (current === socket) localPort = response.socket.localPort;
    });
    socket.on('message', (data: unknown) => {
      const line = firstLine(data);
      trace(`< ${line}`);
      if (line !== 'CRLF (pong)') return;
      pongs++;
      wake(); // a pong is no event of the core: wake the waiters here
    });
  };
  class WatchedWebSocket extends WebSocket {
    constructor(url: string, protocols: string | string[]) {
      super(url, protocols);
      watch(this);
    }

    override send(data: string | Uint8Array): void {
      trace(`> ${firstLine(data)}`);
      super.send(data);
    }
  }

  const aorUser = /^sips?:([^@;]+)@/.exec(options.aor)?.[1];
  if (aorUser === undefined) throw new TypeError(`startOurUa: the AOR needs a user part: ${options.aor}`);
  const instanceId = options.instanceId ?? `urn:uuid:${randomUUID()}`;
  const ua = new UserAgent({
    aor: options.aor,
    transport: options.wsUrl.startsWith('wss:') ? 'WSS' : 'WS',
    instanceId,
    random,
    displayName: options.displayName,
    credentials:
      options.password === undefined
        ? undefined
        : { username: options.username ?? decodeURIComponent(aorUser), password: options.password },
    userAgent: 'simple-chat-test (our-ua)',
    registration: { expires: options.expires ?? 300 },
    log: (line) => trace(`  core: ${line}`),
    now: clock.now(),
    ...options.core,
  });
  const transport = new WebSocketTransport({
    url: options.wsUrl,
    WebSocketImpl: WatchedWebSocket,
    clock,
    random,
    logger,
    keepAliveInterval: options.keepAliveInterval,
    minDelay: options.minReconnectDelay ?? 200,
    maxDelay: options.maxReconnectDelay ?? 2_000,
  });
  const pager =
    options.pager === undefined || options.pager === false
      ? undefined
      : new Pager({ ua, random, ...(options.pager === true ? {} : options.pager) });
  const presence = options.presence === true ? new PresenceClient({ ua, random }) : undefined;
  if (presence !== undefined && pager !== undefined)
    throw new TypeError('our UA runs either the pager or the presence layer, not both');
  const driver = new SipDriver<UserAgent | Pager | PresenceClient>({
    core: pager ?? presence ?? ua,
    transport,
    clock,
    logger,
  });

  const events: UserAgentEvent[] = [];
  const pagerEvents: PagerEvent[] = [];
  const presenceEvents: PresenceEvent[] = [];
  const messages: ReceivedMessage[] = [];
  const registrations: RegistrationSnapshot[] = [];
  const states: ConnectionState[] = [];
  const errors: Error[] = [];
  const finals = new WeakMap<OutgoingRequest, RequestResult>();
  /** re-checked after every event; each returns true when it is done */
  const waiters = new Set<() => boolean>();
  const wake = (): void => {
    for (const waiter of [...waiters]) if (waiter()) waiters.delete(waiter);
  };
  let stopped = false;

  const onIncoming = (incoming: IncomingRequest): void => {
    const request = incoming.request;
    if (incoming.method === 'MESSAGE') {
      messages.push({
        from: request.from.uri.toString(),
        to: request.to.uri.toString(),
        requestUri: request.uri.toString(),
        contentType: request.headers.get('content-type'),
        text: request.bodyText,
        request,
      });
      // The documented way to act on the core from a listener: run(), queued behind the current flush.
      driver.run(() => {
        incoming.accept();
      });
      return;
    }
    if (options.onRequest?.(incoming) === true) return;
    driver.run(() => {
      incoming.reject(501, 'Not Implemented (our-ua)');
    });
  };

  const onEvent = (event: UserAgentEvent): void => {
    switch (event.type) {
      case 'incoming-request':
        onIncoming(event.incoming);
        return;
      case 'registration': {
        const r = event.registration;
        registrations.push(r);
        trace(`  registration: ${r.state}${r.status === undefined ? '' : ` ${r.status} ${r.reason ?? ''}`}`);
        return;
      }
      case 'final':
        finals.set(event.outgoing, {
          status: event.response.status,
          response: event.response,
          local: event.local,
        });
        if (event.local) trace(`  local final ${event.response.status} for ${event.outgoing.method}`);
        return;
      case 'malformed':
        trace(`  malformed (${event.answered ? 'answered' : 'dropped'}): ${event.reason}`);
        return;
      case 'dropped':
        trace(`  dropped: ${event.reason}`);
        return;
      case 'incoming-cancelled':
      case 'ack':
      case 'prack':
      case 'progress':
      case 'auto-response':
      case 'dialog':
      case 'keepalive':
        return;
    }
  };

  const onPagerEvent = (event: PagerEvent): void => {
    pagerEvents.push(event);
    switch (event.type) {
      case 'message': {
        const { request, message } = event;
        messages.push({
          from: message.from,
          to: request.to.uri.toString(),
          requestUri: request.uri.toString(),
          contentType: request.headers.get('content-type'),
          text: message.text,
          request,
        });
        trace(`  pager: message ${message.id} from ${message.from}`);
        return;
      }
      case 'message-state':
        trace(
          `  pager: ${event.id}${event.recipient === undefined ? '' : ` (${event.recipient})`} ${event.state}`,
        );
        return;
      case 'capability':
        trace(`  pager: ${event.peer} ${event.kind}=${event.support} (${event.reason})`);
        return;
      case 'composing':
      case 'message-expired':
      case 'ua':
        return;
    }
  };

  driver.events.on('event', (event) => {
    if (presence !== undefined) {
      const e = event as PresenceEvent;
      if (e.type === 'ua') {
        events.push(e.event);
        onEvent(e.event);
      } else {
        presenceEvents.push(e);
        if (e.type === 'presence')
          trace(`  presence: ${e.uri} ${e.status}${e.note === undefined ? '' : ` (${e.note})`}`);
      }
    } else if (pager === undefined) {
      const e = event as UserAgentEvent;
      events.push(e);
      onEvent(e);
    } else {
      const e = event as PagerEvent;
      if (e.type === 'ua') {
        events.push(e.event);
        onEvent(e.event);
      } else onPagerEvent(e);
    }
    wake();
  });
  driver.events.on('state', (state) => {
    states.push(state);
    trace(`  state: ${state.status}${state.status === 'reconnecting' ? ` (${state.reason})` : ''}`);
    wake();
  });
  driver.events.on('error', (error) => {
    errors.push(error);
    trace(`  error: ${error.message}`);
    wake();
  });

  function waitFor<T>(check: () => T | undefined, what: string, timeoutMs = DEFAULT_TIMEOUT): Promise<T> {
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    if (stopped) return Promise.reject(new Error(`our UA ${options.aor} is stopped: no ${what} to wait for`));
    return new Promise<T>((resolve, reject) => {
      const waiter = (): boolean => {
        if (stopped) {
          clearTimeout(timer);
          reject(new Error(`our UA ${options.aor} stopped while waiting for ${what}`));
          return true;
        }
        const value = check();
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new Error(`our UA ${options.aor}: no ${what} within ${timeoutMs} ms; trace:\n${traceTail(40)}`),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  }

  const traceTail = (lines = 80): string => traceLines.slice(-lines).join('\n');

  async function request(
    method: string,
    target: string,
    requestOptions: UaRequestOptions = {},
    timeoutMs = DEFAULT_TIMEOUT,
  ): Promise<RequestResult> {
    const outgoing = driver.run((_core, now) => ua.request(method, target, { ...requestOptions, now }));
    // The final response may already have come (a local 503 without a flow): `finals` keeps it.
    return waitFor(() => finals.get(outgoing), `final response to ${method} ${target}`, timeoutMs);
  }

  if (options.register ?? true) driver.run((_core, now) => ua.register(now));

  const needPager = (): Pager => {
    if (pager === undefined)
      throw new Error(`our UA ${options.aor} runs without the pager (start it with pager: true)`);
    return pager;
  };
  const needPresence = (): PresenceClient => {
    if (presence === undefined)
      throw new Error(`our UA ${options.aor} runs without presence (start it with presence: true)`);
    return presence;
  };
  const sent = (result: ReturnType<Pager['send']>): string => {
    if (!result.ok)
      throw new Error(`our UA ${options.aor}: refused (${result.reason}, ${String(result.bytes)} bytes)`);
    return result.id;
  };
  driver.start();

  return {
    ua,
    driver,
    pager,
    pagerEvents,
    presence,
    presenceEvents,
    transport,
    aor: options.aor,
    instanceId,
    events,
    messages,
    registrations,
    states,
    errors,
    get connections() {
      return connections;
    },
    get localPort() {
      return localPort;
    },
    get pongs() {
      return pongs;
    },
    registered(timeoutMs = DEFAULT_TIMEOUT) {
      return waitFor(
        () => (ua.registration.state === 'Registered' ? ua.registration : undefined),
        'Registered state',
        timeoutMs,
      );
    },
    waitForRegistration(predicate, { from = 0, timeoutMs = DEFAULT_TIMEOUT } = {}) {
      return waitFor(
        () => registrations.slice(from).find(predicate),
        'matching registration event',
        timeoutMs,
      );
    },
    request,
    async sendMessage(target, text, contentType = 'text/plain;charset=UTF-8', timeoutMs = DEFAULT_TIMEOUT) {
      return (await request('MESSAGE', target, { body: text, contentType }, timeoutMs)).status;
    },
    async options(target, timeoutMs = DEFAULT_TIMEOUT) {
      return (await request('OPTIONS', target, {}, timeoutMs)).status;
    },
    waitForMessage(predicate, timeoutMs = DEFAULT_TIMEOUT) {
      return waitFor(() => messages.find(predicate), 'matching MESSAGE', timeoutMs);
    },
    waitFor,
    send(to, text, sendOptions) {
      const p = needPager();
      return sent(driver.run((_core, now) => p.send(to, text, sendOptions, now)));
    },
    sendGroup(recipients, text, sendOptions) {
      const p = needPager();
      return sent(driver.run((_core, now) => p.sendGroup(recipients, text, sendOptions, now)));
    },
    markDisplayed(ids) {
      const p = needPager();
      driver.run((_core, now) => {
        p.markDisplayed(ids, now);
      });
    },
    setComposing(peer, typing) {
      const p = needPager();
      driver.run((_core, now) => {
        p.setComposing(peer, typing, now);
      });
    },
    async waitForState(id, state, timeoutMs = DEFAULT_TIMEOUT) {
      const p = needPager();
      // Every state the message went through is an event: look for this one; a final other one ends the wait.
      const outcome = await waitFor(
        () => {
          for (const e of pagerEvents) {
            if (e.type !== 'message-state' || e.id !== id || e.recipient !== undefined) continue;
            if (e.state === state) return { message: p.message(id) ?? e.message };
            if (e.state === 'failed' || e.state === 'expired')
              return { failed: `message ${id} ${e.state} (${e.reason ?? ''}) before ${state}` };
          }
          return undefined;
        },
        `message ${id} ${state}`,
        timeoutMs,
      );
      if ('failed' in outcome) throw new Error(outcome.failed);
      return outcome.message;
    },
    waitForPagerEvent(predicate, what, timeoutMs = DEFAULT_TIMEOUT) {
      needPager();
      return waitFor(() => pagerEvents.find(predicate), what, timeoutMs);
    },
    publish(status, note) {
      const p = needPresence();
      driver.run((_core, now) => {
        p.publish({ status, note }, now);
      });
    },
    watch(uri) {
      const p = needPresence();
      driver.run((_core, now) => {
        p.watch(uri, now);
      });
    },
    unwatch(uri) {
      const p = needPresence();
      driver.run((_core, now) => {
        p.unwatch(uri, now);
      });
    },
    waitForPresence(uri, status, since = 0, timeoutMs = DEFAULT_TIMEOUT) {
      needPresence();
      return waitFor(
        () =>
          presenceEvents
            .slice(since)
            .find(
              (e): e is Extract<PresenceEvent, { type: 'presence' }> =>
                e.type === 'presence' && e.uri === uri && e.status === status,
            ),
        `presence ${status} of ${uri}`,
        timeoutMs,
      );
    },
    killSocket() {
      if (current === undefined) throw new Error('our UA: no WebSocket to kill');
      trace('  test: terminating the WebSocket');
      current.terminate();
    },
    trace: traceTail,
    async stop() {
      if (stopped) return;
      const state = ua.registration.state;
      if ((state === 'Registered' || state === 'Registering') && ua.connected) {
        driver.run((_core, now) => ua.unregister(now));
        await waitFor(
          () => (ua.registration.state === 'Unregistered' ? true : undefined),
          'Unregistered state',
          5_000,
        ).catch((error: unknown) => trace(`  stop: ${String(error)}`));
      }
      stopped = true;
      driver.stop();
      wake();
    },
  };
}
