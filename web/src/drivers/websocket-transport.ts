/**
 * WebSocketTransport: SIP over WebSocket (RFC 7118) as an RFC 5626 flow, for the browser's WebSocket and `ws`.
 *
 *   offline ─start()─► connecting ──open, protocol "sip"──► online ──┐ close · error · no pong in pongTimeout
 *      ▲                 │  ▲  (open with another protocol,            │ · send failure
 *      │                 │  │   connect timeout, close, error)         ▼
 *      └── stop() ───────┴──┴────── timer at `at` = now + backoff ── reconnecting
 *
 * How it works. One connection at a time; each has its own record (socket, flow, timers), and every socket
 * callback first checks that its record is still the current one, so a late event from an abandoned socket is
 * ignored. On open the server must have selected the `sip` subprotocol (RFC 7118 §4.1), else the connection is
 * failed. Once open, the transport sends what was queued while connecting, reports `flowUp` to the sink (the
 * core re-registers, RFC 5626 §4.2.1), and starts the keep-alive: a CRLFCRLF ping every 80–100 % of
 * `keepAliveInterval`, and a CRLF pong is expected within `pongTimeout` (RFC 5626 §4.4.1: 10 s) or the flow has
 * failed. A received ping is answered with a pong. Keep-alive over WebSocket is this transport's alone: the
 * SIP driver passes it a registrar's Flow-Timer through `setKeepAliveInterval`, and the user-agent core
 * schedules no pings on such a flow. Keep-alives do not reach the core, with one exception: a core may still
 * send a one-off CRLFCRLF probe (UserAgent.ping()) like any message, and the pong answering it is handed to the
 * core. Pongs carry nothing to tell them apart, so each connection keeps the owners of its outstanding pings in
 * order, and each pong goes to the oldest. Losing the connection, for whatever reason, reports `flowDown` (if
 * the flow was up) and schedules the next attempt with exponential back-off and jitter (backoff.ts); the failure
 * count resets when a connection had stayed up `stableAfter`.
 *
 * Frames: one SIP message per frame (RFC 7118 §5.3). A message that is valid UTF-8 goes as a text frame, which
 * JsSIP, SIP.js and Kamailio expect; anything else as a binary frame. Both kinds are received: text is handed
 * over as a string, binary (ArrayBuffer, a Node Buffer, or a Blob, read in order) as a Uint8Array.
 *
 * Sending never throws. While connecting, messages wait in a bounded queue (the oldest dropped beyond
 * `maxQueue`, each with an error event; none older than `maxQueueAge`, whose transaction has timed out anyway).
 * A message pinned to a flow that is gone (a response to a request that came on a dead connection) is dropped.
 */
import { InvalidStateError, type FlowInfo } from '../sip/index.ts';
import { backoffDelay, DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY } from './backoff.ts';
import type { Clock } from './clock.ts';
import { Emitter, type ReadonlyEmitter } from './emitter.ts';
import { describeError, silentLogger, type Logger } from './logger.ts';
import {
  SipTransportError,
  type ConnectionState,
  type SipTransport,
  type TransportErrorCode,
  type TransportEvents,
  type TransportSink,
} from './transport.ts';

/** RFC 7118 §4.1: the WebSocket subprotocol for SIP. */
export const SIP_SUBPROTOCOL = 'sip';

/** WebSocket readyState values (the same in the browser and in `ws`). */
const CONNECTING = 0;
const OPEN = 1;

/** Close codes the browser lets a page use: 1000, or 3000–4999 (4000+ are private to the application). */
const CLOSE_NORMAL = 1000;
const CLOSE_FLOW_FAILED = 4000;

const CRLF = '\r\n';
const DOUBLE_CRLF = '\r\n\r\n';

// A method-shaped handler type is checked bivariantly, so the browser's `(ev: MessageEvent) => any` and ws's
// `(event: WebSocket.MessageEvent) => void` both fit a handler declared on the minimal event shape below.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of a WebSocket (browser or `ws`) the transport uses. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  /** the subprotocol the server selected, '' for none */
  readonly protocol: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ readonly data: unknown }> | null;
  onclose: Handler<{ readonly code: number; readonly reason: string }> | null;
  onerror: Handler<unknown> | null;
}

/** `WebSocket` in the browser, `WebSocket` from `ws` in Node, or a test's wrapper. */
export type WebSocketConstructor = new (url: string, protocols: string | string[]) => WebSocketLike;

export interface WebSocketTransportOptions {
  /** ws: or wss: URL of the gateway / outbound proxy */
  readonly url: string;
  readonly WebSocketImpl: WebSocketConstructor;
  readonly clock: Clock;
  /** randomness in [0, 1), for jitter and flow ids */
  readonly random: () => number;
  readonly logger?: Logger | undefined;
  /** ms between CRLF pings, each jittered to 80–100 % (RFC 5626 §4.4.1); 0 turns keep-alive off. Default 25 000. */
  readonly keepAliveInterval?: number | undefined;
  /** ms to wait for the CRLF pong before the flow is declared failed (RFC 5626 §4.4.1: 10 s). Default 10 000. */
  readonly pongTimeout?: number | undefined;
  /** ms for the opening handshake. Default 15 000. */
  readonly connectTimeout?: number | undefined;
  /** shortest reconnection wait, ms. Default 1 000. */
  readonly minDelay?: number | undefined;
  /** longest reconnection wait, ms. Default 60 000. */
  readonly maxDelay?: number | undefined;
  /** a connection that stayed up this long (ms) resets the back-off. Default 10 000. */
  readonly stableAfter?: number | undefined;
  /** most messages held while connecting; beyond it the oldest is dropped. Default 64. */
  readonly maxQueue?: number | undefined;
  /** ms a message may wait in the queue: 64·T1 = 32 s, when its transaction has timed out. Default 32 000. */
  readonly maxQueueAge?: number | undefined;
  /** told when an app listener of `events` throws (default: the logger's `error`; without one, a microtask rethrow) */
  readonly onListenerError?: ((error: unknown, event: string) => void) | undefined;
}

const DEFAULTS = {
  keepAliveInterval: 25_000,
  pongTimeout: 10_000,
  connectTimeout: 15_000,
  stableAfter: 10_000,
  maxQueue: 64,
  maxQueueAge: 32_000,
} as const;

/** A one-shot timer on the injected clock. */
class OneShot {
  #handle: { readonly value: unknown } | undefined;

  constructor(private readonly clock: Clock) {}

  get armed(): boolean {
    return this.#handle !== undefined;
  }

  arm(fn: () => void, ms: number): void {
    this.cancel();
    const handle = {
      value: this.clock.setTimer(() => {
        if (this.#handle !== handle) return;
        this.#handle = undefined;
        fn();
      }, ms),
    };
    this.#handle = handle;
  }

  cancel(): void {
    if (this.#handle === undefined) return;
    this.clock.clearTimer(this.#handle.value);
    this.#handle = undefined;
  }
}

/** One connection attempt and, once open, its flow. */
interface Connection {
  readonly socket: WebSocketLike;
  readonly connectTimer: OneShot;
  readonly pingTimer: OneShot;
  readonly pongTimer: OneShot;
  flow: FlowInfo | undefined;
  openedAt: number;
  /** who sent each ping still waiting for its pong, oldest first: the transport's keep-alive, or the core */
  pingOwners: ('transport' | 'core')[];
  /** Blob frames are read asynchronously; frames after one wait for it, so the order is kept. */
  inbound: Promise<void> | undefined;
  inboundPending: number;
}

interface Queued {
  readonly data: Uint8Array;
  readonly flow: FlowInfo | undefined;
  readonly queuedAt: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of `bytes` if they are valid UTF-8 (the text re-encodes to exactly these bytes), else undefined. */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function isBytes(frame: Uint8Array, text: string): boolean {
  if (frame.length !== text.length) return false;
  for (let i = 0; i < frame.length; i++) if (frame[i] !== text.charCodeAt(i)) return false;
  return true;
}

const isPing = (frame: Uint8Array | string): boolean =>
  typeof frame === 'string' ? frame === DOUBLE_CRLF : isBytes(frame, DOUBLE_CRLF);
const isPong = (frame: Uint8Array | string): boolean =>
  typeof frame === 'string' ? frame === CRLF : isBytes(frame, CRLF);

function randomToken(random: () => number, length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let token = '';
  for (let i = 0; i < length; i++) token += alphabet[Math.floor(random() * alphabet.length) % alphabet.length];
  return token;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result < 0) throw new RangeError(`${name} must be a finite number ≥ 0`);
  return result;
}

export class WebSocketTransport implements SipTransport {
  readonly #url: string;
  readonly #transport: 'WS' | 'WSS';
  readonly #remote: string;
  readonly #WebSocketImpl: WebSocketConstructor;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #log: Logger;
  readonly #pongTimeout: number;
  readonly #connectTimeout: number;
  readonly #minDelay: number;
  readonly #maxDelay: number;
  readonly #stableAfter: number;
  readonly #maxQueue: number;
  readonly #maxQueueAge: number;
  readonly #emitter: Emitter<TransportEvents>;
  readonly #reconnectTimer: OneShot;
  #keepAliveInterval: number;
  #state: ConnectionState = { status: 'offline' };
  #sink: TransportSink | undefined;
  #conn: Connection | undefined;
  #queue: Queued[] = [];
  /** consecutive failed connections (or flows that did not stay up `stableAfter`) */
  #failures = 0;
  #flowCounter = 0;

  constructor(options: WebSocketTransportOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(`not a URL: ${options.url}`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new TypeError(`SIP over WebSocket needs a ws: or wss: URL, got ${options.url}`);
    }
    if (typeof options.WebSocketImpl !== 'function') throw new TypeError('WebSocketImpl must be a constructor');
    if (typeof options.random !== 'function') throw new TypeError('random must be a function');
    this.#url = options.url;
    this.#transport = url.protocol === 'wss:' ? 'WSS' : 'WS';
    this.#remote = url.host;
    this.#WebSocketImpl = options.WebSocketImpl;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#log = options.logger ?? silentLogger;
    this.#keepAliveInterval = positive('keepAliveInterval', options.keepAliveInterval, DEFAULTS.keepAliveInterval);
    this.#pongTimeout = positive('pongTimeout', options.pongTimeout, DEFAULTS.pongTimeout);
    this.#connectTimeout = positive('connectTimeout', options.connectTimeout, DEFAULTS.connectTimeout);
    this.#minDelay = positive('minDelay', options.minDelay, DEFAULT_MIN_DELAY);
    this.#maxDelay = positive('maxDelay', options.maxDelay, DEFAULT_MAX_DELAY);
    this.#stableAfter = positive('stableAfter', options.stableAfter, DEFAULTS.stableAfter);
    this.#maxQueue = positive('maxQueue', options.maxQueue, DEFAULTS.maxQueue);
    this.#maxQueueAge = positive('maxQueueAge', options.maxQueueAge, DEFAULTS.maxQueueAge);
    const log = options.logger;
    this.#emitter = new Emitter<TransportEvents>({
      // Without a reporter or a logger, the Emitter's default rethrows from a microtask: never silent.
      onListenerError:
        options.onListenerError ??
        (log &&
          ((error, event) => {
            log.error(`ws: a '${event}' listener threw: ${describeError(error)}`);
          })),
    });
    this.#reconnectTimer = new OneShot(this.#clock);
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get events(): ReadonlyEmitter<TransportEvents> {
    return this.#emitter;
  }

  /** The flow while online, else undefined. */
  get flow(): FlowInfo | undefined {
    return this.#conn?.flow;
  }

  /** Messages waiting for a connection. */
  get queued(): number {
    return this.#queue.length;
  }

  get keepAliveInterval(): number {
    return this.#keepAliveInterval;
  }

  start(sink: TransportSink): void {
    if (this.#state.status !== 'offline') throw new InvalidStateError(`start() while ${this.#state.status}`);
    if (typeof sink?.receive !== 'function') throw new TypeError('start() needs a TransportSink');
    this.#sink = sink;
    this.#failures = 0;
    this.#connect();
  }

  stop(): void {
    if (this.#state.status === 'offline') return;
    this.#reconnectTimer.cancel();
    const conn = this.#conn;
    this.#conn = undefined;
    const dropped = this.#queue.length;
    this.#queue = [];
    if (dropped > 0) this.#log.debug(`ws: stopped with ${dropped} queued message(s), dropped`);
    if (conn) this.#teardown(conn, CLOSE_NORMAL, 'stopped');
    this.#setState({ status: 'offline' });
    if (conn?.flow) this.#sink?.flowDown();
  }

  /** Skips the wait of `reconnecting` and tries now (a "retry now" button, the browser going back online). */
  reconnectNow(): void {
    if (this.#state.status !== 'reconnecting') return;
    this.#reconnectTimer.cancel();
    this.#connect();
  }

  /**
   * Changes the keep-alive interval, e.g. to 80–100 % of a Flow-Timer the registrar sent (RFC 5626 §4.4.1:
   * pass the Flow-Timer value; the jitter is applied here). 0 turns keep-alive off. Takes effect at once.
   */
  setKeepAliveInterval(ms: number): void {
    this.#keepAliveInterval = positive('keepAliveInterval', ms, 0);
    const conn = this.#conn;
    if (!conn?.flow || conn.pongTimer.armed) return;
    this.#scheduleKeepAlive(conn);
  }

  send(data: Uint8Array, flow?: FlowInfo): void {
    if (this.#state.status === 'offline') {
      this.#error('offline', 'the transport is stopped; message dropped');
      return;
    }
    const conn = this.#conn;
    const flowId = flow?.flowId;
    if (flowId !== undefined && flowId !== conn?.flow?.flowId) {
      this.#error('stale-flow', `message for flow ${flowId} dropped: that connection is gone`);
      return;
    }
    if (conn?.flow && conn.socket.readyState === OPEN) {
      this.#writeFromCore(conn, data);
      return;
    }
    if (isPing(data)) return; // the core's keep-alive for a flow that is not up: nothing to keep alive
    this.#enqueue(data, flow);
  }

  // ---- connection lifecycle ---------------------------------------------------------------------------------

  #connect(): void {
    const attempt = this.#failures;
    this.#setState({ status: 'connecting', url: this.#url, attempt });
    if (this.#state.status !== 'connecting') return; // a state listener stopped us
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocketImpl(this.#url, SIP_SUBPROTOCOL);
    } catch (error) {
      this.#error('connect-failed', `cannot open ${this.#url}: ${describeError(error)}`);
      this.#scheduleReconnect('cannot open the WebSocket');
      return;
    }
    const conn: Connection = {
      socket,
      connectTimer: new OneShot(this.#clock),
      pingTimer: new OneShot(this.#clock),
      pongTimer: new OneShot(this.#clock),
      flow: undefined,
      openedAt: 0,
      pingOwners: [],
      inbound: undefined,
      inboundPending: 0,
    };
    this.#conn = conn;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      this.#onOpen(conn);
    };
    socket.onmessage = (event) => {
      this.#onMessage(conn, event.data);
    };
    socket.onclose = (event) => {
      this.#onClose(conn, event.code, event.reason);
    };
    socket.onerror = (event) => {
      this.#onSocketError(conn, event);
    };
    conn.connectTimer.arm(() => {
      if (conn !== this.#conn) return;
      this.#error('connect-timeout', `no connection to ${this.#url} within ${this.#connectTimeout} ms`);
      this.#lose(conn, 'connect timeout');
    }, this.#connectTimeout);
  }

  #onOpen(conn: Connection): void {
    if (conn !== this.#conn) return;
    conn.connectTimer.cancel();
    const protocol = conn.socket.protocol;
    if (protocol !== SIP_SUBPROTOCOL) {
      // RFC 7118 §4.1: without the "sip" subprotocol agreed, this is not a SIP WebSocket connection.
      this.#error('subprotocol', `the server did not select the "sip" subprotocol (got "${protocol}")`);
      this.#lose(conn, 'subprotocol refused');
      return;
    }
    const flow: FlowInfo = {
      transport: this.#transport,
      reliable: true,
      remote: this.#remote,
      flowId: `${this.#transport.toLowerCase()}-${++this.#flowCounter}-${randomToken(this.#random, 8)}`,
    };
    conn.flow = flow;
    conn.openedAt = this.#clock.now();
    this.#log.info(`ws: connected to ${this.#url}, flow ${flow.flowId}`);
    this.#setState({ status: 'online', flow, since: conn.openedAt });
    if (conn !== this.#conn) return;
    this.#scheduleKeepAlive(conn);
    this.#drainQueue(conn);
    if (conn !== this.#conn) return;
    // RFC 5626 §4.2.1: a new flow; the core registers (and refreshes its subscriptions) over it.
    this.#sink?.flowUp(flow);
  }

  #onClose(conn: Connection, code: number, reason: string): void {
    if (conn !== this.#conn) return;
    const how = `code ${code}${reason ? `, "${reason}"` : ''}`;
    this.#lose(conn, conn.flow ? `connection closed (${how})` : `connection failed (${how})`);
  }

  #onSocketError(conn: Connection, event: unknown): void {
    if (conn !== this.#conn) return;
    // A browser's error event says nothing; ws's carries a message. A close event follows either way.
    const message =
      typeof event === 'object' && event !== null && 'message' in event && typeof event.message === 'string'
        ? event.message
        : 'WebSocket error';
    this.#error('socket-error', message);
  }

  /** The connection is gone (or given up): tear it down, report flowDown, schedule the next attempt. */
  #lose(conn: Connection, reason: string): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    this.#teardown(conn, CLOSE_FLOW_FAILED, reason);
    if (conn.flow && this.#clock.now() - conn.openedAt >= this.#stableAfter) this.#failures = 0;
    this.#log.warn(`ws: ${reason}`);
    this.#scheduleReconnect(reason);
    // After scheduling: a flowDown that makes the app stop() cancels the attempt just scheduled.
    if (conn.flow) this.#sink?.flowDown();
  }

  #scheduleReconnect(reason: string): void {
    const delay = backoffDelay(this.#failures, this.#random, { minDelay: this.#minDelay, maxDelay: this.#maxDelay });
    this.#failures++;
    const at = this.#clock.now() + delay;
    this.#reconnectTimer.arm(() => {
      this.#connect();
    }, delay);
    this.#log.info(`ws: reconnecting in ${delay} ms (failure ${this.#failures})`);
    this.#setState({ status: 'reconnecting', attempt: this.#failures, at, reason });
  }

  #teardown(conn: Connection, code: number, reason: string): void {
    conn.connectTimer.cancel();
    conn.pingTimer.cancel();
    conn.pongTimer.cancel();
    const socket = conn.socket;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    // Keep an error handler: ws reports closing a CONNECTING socket as an error, and an EventEmitter 'error'
    // without a listener would throw.
    socket.onerror = () => {};
    try {
      if (socket.readyState === CONNECTING || socket.readyState === OPEN) socket.close(code, reason.slice(0, 120));
    } catch (error) {
      this.#log.debug(`ws: close() threw: ${describeError(error)}`);
    }
  }

  // ---- frames ------------------------------------------------------------------------------------------------

  #onMessage(conn: Connection, data: unknown): void {
    if (conn !== this.#conn) return;
    if (typeof data === 'string') this.#deliver(conn, data);
    else if (data instanceof ArrayBuffer) this.#deliver(conn, new Uint8Array(data));
    else if (ArrayBuffer.isView(data)) this.#deliver(conn, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else if (typeof Blob !== 'undefined' && data instanceof Blob) {
      this.#deliver(
        conn,
        data.arrayBuffer().then((buffer) => new Uint8Array(buffer)),
      );
    } else this.#log.warn(`ws: frame of unexpected type ${Object.prototype.toString.call(data)} ignored`);
  }

  /** Hands a frame on, in arrival order even when an earlier one (a Blob) is still being read. */
  #deliver(conn: Connection, frame: Uint8Array | string | Promise<Uint8Array>): void {
    if (!(frame instanceof Promise) && conn.inboundPending === 0) {
      this.#onFrame(conn, frame);
      return;
    }
    conn.inboundPending++;
    const previous = conn.inbound ?? Promise.resolve();
    conn.inbound = previous
      .then(() => frame)
      .then(
        (value) => {
          if (conn === this.#conn) this.#onFrame(conn, value);
        },
        (error: unknown) => {
          this.#log.warn(`ws: could not read a binary frame: ${describeError(error)}`);
        },
      )
      .finally(() => {
        conn.inboundPending--;
      });
  }

  #onFrame(conn: Connection, frame: Uint8Array | string): void {
    // RFC 5626 §4.4.1 / RFC 7118: CRLFCRLF is a ping, answered with a CRLF pong; neither reaches the core.
    if (isPing(frame)) {
      this.#write(conn, CRLF);
      return;
    }
    if (isPong(frame)) {
      this.#onPong(conn, frame);
      return;
    }
    if (!conn.flow) return;
    this.#sink?.receive(frame, conn.flow);
  }

  /** A message from the core; a CRLFCRLF among them is the core's own probe (UserAgent.ping()), whose pong is its. */
  #writeFromCore(conn: Connection, data: Uint8Array): void {
    if (isPing(data)) conn.pingOwners.push('core');
    this.#write(conn, data);
  }

  /** Sends one frame: text when the bytes are UTF-8, binary otherwise. A failure loses the connection. */
  #write(conn: Connection, data: Uint8Array | string): void {
    const frame = typeof data === 'string' ? data : (utf8Text(data) ?? data);
    try {
      conn.socket.send(frame);
    } catch (error) {
      this.#error('send-failed', `send failed: ${describeError(error)}`);
      this.#lose(conn, 'send failed');
    }
  }

  // ---- keep-alive (RFC 5626 §4.4.1) --------------------------------------------------------------------------

  #scheduleKeepAlive(conn: Connection): void {
    conn.pingTimer.cancel();
    if (this.#keepAliveInterval <= 0) return;
    // RFC 5626 §4.4.1: each interval is chosen at random between 80 % and 100 % of the nominal one.
    const delay = this.#keepAliveInterval * (0.8 + 0.2 * this.#random());
    conn.pingTimer.arm(() => {
      this.#ping(conn);
    }, delay);
  }

  #ping(conn: Connection): void {
    if (conn !== this.#conn) return;
    conn.pingOwners.push('transport');
    this.#write(conn, DOUBLE_CRLF);
    if (conn !== this.#conn) return;
    conn.pongTimer.arm(() => {
      if (conn !== this.#conn) return;
      // RFC 5626 §4.4.1: no pong within 10 s of the ping, the flow has failed.
      this.#error('keepalive-timeout', `no CRLF pong within ${this.#pongTimeout} ms: the flow has failed`);
      this.#lose(conn, 'keep-alive timeout');
    }, this.#pongTimeout);
  }

  #onPong(conn: Connection, frame: Uint8Array | string): void {
    const owner = conn.pingOwners.shift();
    if (owner === undefined) return; // an unsolicited pong is allowed and means nothing
    if (owner === 'core') {
      if (conn.flow) this.#sink?.receive(frame, conn.flow);
      return;
    }
    conn.pongTimer.cancel();
    this.#scheduleKeepAlive(conn);
  }

  // ---- queue -------------------------------------------------------------------------------------------------

  #enqueue(data: Uint8Array, flow: FlowInfo | undefined): void {
    if (this.#maxQueue < 1) {
      this.#error('queue-overflow', 'not connected and queueing is off: message dropped');
      return;
    }
    while (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.#error('queue-overflow', `more than ${this.#maxQueue} messages waiting for a connection: oldest dropped`);
    }
    this.#queue.push({ data, flow, queuedAt: this.#clock.now() });
  }

  #drainQueue(conn: Connection): void {
    const queue = this.#queue;
    this.#queue = [];
    const now = this.#clock.now();
    for (const [index, item] of queue.entries()) {
      if (conn !== this.#conn) {
        // The connection failed while draining: keep the rest for the next one.
        this.#queue = [...queue.slice(index), ...this.#queue];
        return;
      }
      if (now - item.queuedAt > this.#maxQueueAge) {
        this.#error('queue-expired', `a message waited ${now - item.queuedAt} ms for a connection: dropped`);
      } else if (item.flow?.flowId !== undefined && item.flow.flowId !== conn.flow?.flowId) {
        this.#error('stale-flow', `message for flow ${item.flow.flowId} dropped: that connection is gone`);
      } else {
        this.#writeFromCore(conn, item.data);
      }
    }
  }

  // ---- reporting ---------------------------------------------------------------------------------------------

  #setState(state: ConnectionState): void {
    this.#state = state;
    this.#emitter.emit('state', state);
  }

  #error(code: TransportErrorCode, message: string): void {
    this.#log.debug(`ws: ${code}: ${message}`);
    this.#emitter.emit('error', new SipTransportError(code, message));
  }
}
