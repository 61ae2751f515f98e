/**
 * The user agent core (RFC 3261 §8, §10, §13, RFC 3262, RFC 5626 client side), sans-IO: the one object an
 * application and its driver talk to.
 *
 *        application: usages (pager, session, subscription), stores
 *     request() / register() / IncomingRequest.accept … |  ^ takeEvents()
 *                                                        v  |
 *      +--------------------------------------------------------------+
 *      | UserAgent                                                    | <- handleTimers(now)
 *      |   UAC: builds requests, digest retry, dialog sets, ACK, PRACK | -> nextDeadline()
 *      |   UAS: §8.2 checks, OPTIONS, dialogs, 2xx / 100rel resends    |
 *      |   registration (refresh, 423, back-off), keep-alive          |
 *      |   TransactionLayer ─ Dialog / DialogSet ─ DigestAuthenticator |
 *      +--------------------------------------------------------------+
 *        receive(bytes, now, flow) ^  | takeTransmissions()   flowUp(now, flow) / flowDown(now)
 *                                  |  v
 *                 driver: WebSocket (or UDP/TCP), one timer at nextDeadline()
 *
 * How it works. Every input carries `now`; due timers (the transaction layer's, then the core's own) run first.
 * Bytes are parsed here: a message that does not parse becomes a `malformed` event, and a request among them is
 * answered statelessly with the parser's status hint when its routing headers can still be read. A parsed
 * message goes to the transaction layer, whose events this core consumes at once:
 *  - a new request passes the §8.2 checks in the RFC's order (see uas-checks.ts) or is answered by the core;
 *    OPTIONS, BYE and PRACK are answered here; in-dialog requests are checked by their Dialog (§12.2.2); the rest
 *    become `incoming-request` events whose IncomingRequest the application answers. A 2xx to INVITE is resent
 *    until its ACK (§13.3.1.4), a reliable provisional until its PRACK (RFC 3262 §3).
 *  - a response goes to the OutgoingRequest it answers: a 401/407 is answered once per challenge round with
 *    digest credentials (a new transaction, same handle); INVITE responses feed the request's DialogSet, whose
 *    2xx are ACKed here (§13.2.2.4) and whose reliable provisionals are PRACKed; the first final response
 *    becomes a `final` event. Timeouts and transport errors become local 408/503 finals (§8.1.3.1).
 * Transmissions are serialized when the driver takes them. Nothing here owns a socket, a clock or a timer.
 */
import { DigestAuthenticator, type DigestCredentials } from '../auth/index.ts';
import {
  Dialog,
  DialogSet,
  TARGET_REFRESH_METHODS,
  asRequestUri,
  checkDialogFields,
  copyRecordRoute,
  dialogKey,
  formatRoute,
  uacDialogId,
  uasDialogId,
  type DialogOptions,
} from '../dialog/index.ts';
import { InvalidStateError, ParseError, unlessMalformed } from '../errors.ts';
import {
  SipRequest,
  createResponse,
  isToken,
  parseMessage,
  parseUri,
  quote,
  serializeHead,
  serializeMessage,
  type SipBody,
  type SipMessage,
  type SipResponse,
  type Uri,
} from '../message/index.ts';
import {
  TransactionLayer,
  newBranch,
  randomToken,
  serverKey,
  type FlowInfo,
  type TimerValues,
  type TransactionEvent,
} from '../transaction/index.ts';
import { capabilitiesWith, capabilityHeaders, type UserAgentCapabilities } from './capabilities.ts';
import type { UserAgentEvent, UserAgentTransmission } from './events.ts';
import {
  IncomingRequest,
  OutgoingRequest,
  type IncomingState,
  type OutgoingState,
  type ProgressOptions,
  type RequestOwner,
} from './handles.ts';
import { answerMalformed } from './malformed.ts';
import {
  Registration,
  type RegisterOutcome,
  type RegistrationOptions,
  type RegistrationSnapshot,
} from './registration.ts';
import { inspectRequest } from './uas-checks.ts';
import { UaTimers, earliest } from './ua-timers.ts';

export type UaTransport = 'WS' | 'WSS' | 'UDP' | 'TCP' | 'TLS';

export interface UserAgentOptions {
  /** The user's address of record, e.g. `sip:alice@example.com`. */
  readonly aor: Uri | string;
  readonly displayName?: string;
  readonly transport: UaTransport;
  /** The host in Via sent-by and Contact; `<random>.invalid` by default (RFC 7118 §5). */
  readonly contactHost?: string;
  readonly contactPort?: number;
  /** The user part of the Contact URI; the AOR's by default. */
  readonly contactUser?: string;
  /** RFC 5626 `+sip.instance`, a `urn:uuid:…` the application keeps across reloads; enables outbound (`ob`). */
  readonly instanceId?: string;
  readonly credentials?: DigestCredentials;
  /** Uniform in [0, 1): tags, branches, Call-IDs, cnonces, back-off jitter. */
  readonly random: () => number;
  /** User-Agent header of requests (and Server of responses). */
  readonly userAgent?: string;
  readonly timers?: Partial<TimerValues>;
  readonly capabilities?: Partial<UserAgentCapabilities>;
  /** Sent in Route (with `lr`) on every request outside a dialog, REGISTER included. */
  readonly outboundProxy?: Uri | string;
  /** The Request-URI of REGISTER; `sip:<AOR host>` by default. */
  readonly registrar?: Uri | string;
  readonly registration?: RegistrationOptions;
  /**
   * RFC 3261 §8.2.2.1: does a Request-URI (of a served scheme) address this agent? By default: our contact
   * host, our GRUUs, our AOR, or the AOR's domain without a user. Return true always to take any user.
   */
  readonly acceptsRequestUri?: (uri: Uri) => boolean;
  /** Answer OPTIONS in the core (200 with the capabilities); true by default. */
  readonly answerOptions?: boolean;
  /**
   * RFC 5626 §4.4.1 CRLF keep-alive interval (ms) on connection-oriented flows once registered; a registrar's
   * Flow-Timer overrides it. Off when neither is set. With `keepAlive: 'driver'` it is what the driver is asked
   * for (`UserAgent.keepAliveInterval`); neither set, the driver keeps its own default.
   */
  readonly keepAliveInterval?: number;
  /**
   * Who sends the RFC 5626 §4.4.1 keep-alives: the core itself (CRLFCRLF transmissions on its timer), or the
   * driver, which reads `UserAgent.keepAliveInterval` (the Flow-Timer) after each input and keeps the
   * connection alive on its own timer. `'driver'` by default over WS/WSS (WebSocketTransport pings), `'core'`
   * over TCP/TLS; UDP flows are never kept alive here.
   */
  readonly keepAlive?: 'core' | 'driver';
  /** Told why a message was dropped (STYLE.md: logging is injected). */
  readonly log?: (line: string) => void;
  /** The time before the first input (ms); 0 by default. */
  readonly now?: number;
}

export interface UaRequestOptions {
  /** Extra headers; they replace what the core would put, except Via, From, Call-ID and CSeq. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: SipBody | string;
  readonly contentType?: string;
  /** Call-ID for a request outside a dialog (a new one by default). */
  readonly callId?: string;
  /** CSeq number for a request outside a dialog; one more than the last with that Call-ID by default. */
  readonly cseq?: number;
  /** Send within this dialog (§12.2.1.1): the target is then ignored. */
  readonly dialog?: Dialog;
  /** The To header value outside a dialog; `<target>` by default. */
  readonly to?: string;
  readonly now?: number;
}

/** RFC 3261 §8.1.1.8: the methods whose requests carry our Contact outside a dialog. */
const CONTACT_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY', 'UPDATE']);
/** Requests that say which extensions we support (§8.1.1.9; RFC 5626 §4.2.1 for REGISTER). */
const SUPPORTED_METHODS = new Set([
  'INVITE',
  'SUBSCRIBE',
  'REFER',
  'REGISTER',
  'OPTIONS',
  'UPDATE',
  'PUBLISH',
]);
/** A guard against a server that keeps inventing realms: digest rounds per request. */
const MAX_AUTH_ROUNDS = 4;
/** RFC 5626 §4.4.1: a pong must come within 10 s. */
const PONG_TIMEOUT = 10_000;
const CRLF = new Uint8Array([13, 10]);
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
const latin1 = new TextDecoder('latin1');

interface DialogEntry {
  readonly dialog: Dialog;
  last: Dialog['state'];
  reason: string | undefined;
}

interface ServerEntry {
  readonly state: IncomingState;
  readonly handle: IncomingRequest;
}

export class UserAgent {
  readonly aor: Uri;
  /** Our contact URI (RFC 5626 §4.2.1: with `ob` when an instance id is set). */
  readonly contactUri: Uri;
  readonly capabilities: UserAgentCapabilities;
  readonly transport: UaTransport;
  readonly instanceId: string | undefined;

  readonly #random: () => number;
  readonly #tx: TransactionLayer;
  readonly #auth: DigestAuthenticator | undefined;
  readonly #registration: Registration;
  readonly #timers = new UaTimers();
  readonly #reliable: boolean;
  readonly #displayName: string | undefined;
  readonly #contactHost: string;
  readonly #contactPort: number | undefined;
  readonly #userAgent: string | undefined;
  readonly #outboundProxy: Uri | undefined;
  readonly #registrar: Uri;
  readonly #acceptsRequestUri: ((uri: Uri) => boolean) | undefined;
  readonly #answerOptions: boolean;
  readonly #keepAliveInterval: number | undefined;
  readonly #keepAliveOwner: 'core' | 'driver';
  readonly #log: ((line: string) => void) | undefined;

  #now: number;
  #flow: FlowInfo | undefined;
  #connected: boolean;
  #events: UserAgentEvent[] = [];
  #out: UserAgentTransmission[] = [];
  #counter = 0;
  /** client transaction id → the request it carries */
  readonly #clients = new Map<string, OutgoingState>();
  /** server transaction id → the request passed up */
  readonly #servers = new Map<string, ServerEntry>();
  /** §8.2.2.2: From tag / Call-ID / CSeq of live server transactions → their id, and back */
  readonly #merged = new Map<string, string>();
  readonly #mergeKeys = new Map<string, string>();
  /** final answers to non-INVITE requests on reliable flows, to answer a duplicate that outlives Timer J = 0 */
  readonly #recentFinals = new Map<string, { response: SipResponse; until: number }>();
  readonly #dialogs = new Map<string, DialogEntry>();
  /** SUBSCRIBE/REFER outside a dialog awaiting their final response, by Call-ID | From tag (RFC 6665 §4.1.2.4) */
  readonly #subscriptions = new Map<string, OutgoingState>();
  /** the last CSeq per caller-chosen Call-ID */
  readonly #cseqs = new Map<string, number>();
  /** INVITE 2xx waiting for ACK (§13.3.1.4): dialog key | CSeq → server transaction id */
  readonly #awaitingAck = new Map<string, string>();
  readonly #handles = new WeakMap<OutgoingState, OutgoingRequest>();

  constructor(options: UserAgentOptions) {
    if (typeof options.random !== 'function') throw new TypeError('UserAgent needs a random() option');
    const aor = typeof options.aor === 'string' ? parseUri(options.aor) : options.aor;
    if (!aor.isSip || aor.user === undefined)
      throw new TypeError(`the AOR must be a sip/sips URI with a user: ${aor.toString()}`);
    if (!['WS', 'WSS', 'UDP', 'TCP', 'TLS'].includes(options.transport))
      throw new TypeError(`unknown transport ${String(options.transport)}`);
    if (options.instanceId !== undefined && !/^urn:[a-z0-9][a-z0-9-]*:\S+$/i.test(options.instanceId))
      throw new TypeError(`the instance id must be a URN (urn:uuid:…), not ${options.instanceId}`);
    this.#random = options.random;
    this.aor = aor;
    this.transport = options.transport;
    this.instanceId = options.instanceId;
    this.capabilities = capabilitiesWith(options.capabilities);
    this.#reliable = options.transport !== 'UDP';
    this.#displayName = options.displayName;
    this.#contactHost = options.contactHost ?? `${randomToken(this.#random, 12)}.invalid`;
    this.#contactPort = options.contactPort;
    this.#userAgent = options.userAgent;
    this.#acceptsRequestUri = options.acceptsRequestUri;
    this.#answerOptions = options.answerOptions ?? true;
    this.#keepAliveInterval = options.keepAliveInterval;
    if (options.keepAlive !== undefined && options.keepAlive !== 'core' && options.keepAlive !== 'driver')
      throw new TypeError(`keepAlive must be 'core' or 'driver', not ${String(options.keepAlive)}`);
    this.#keepAliveOwner =
      options.keepAlive ?? (options.transport === 'WS' || options.transport === 'WSS' ? 'driver' : 'core');
    this.#log = options.log;
    this.#now = options.now ?? 0;
    this.#connected = options.transport === 'UDP';
    this.#outboundProxy = options.outboundProxy === undefined ? undefined : looseRoute(options.outboundProxy);
    this.#registrar =
      options.registrar === undefined
        ? parseUri(`${aor.scheme}:${aor.host}${aor.port === undefined ? '' : `:${String(aor.port)}`}`)
        : typeof options.registrar === 'string'
          ? parseUri(options.registrar)
          : options.registrar;
    const user = options.contactUser ?? aor.user;
    const port = this.#contactPort === undefined ? '' : `:${String(this.#contactPort)}`;
    const transportParam = options.transport === 'UDP' ? '' : `;transport=${options.transport.toLowerCase()}`;
    this.contactUri = parseUri(
      `sip:${user}@${this.#contactHost}${port}${transportParam}${options.instanceId === undefined ? '' : ';ob'}`,
    );
    this.#tx = new TransactionLayer({ random: this.#random, timers: options.timers, log: options.log });
    this.#auth =
      options.credentials === undefined
        ? undefined
        : new DigestAuthenticator({ credentials: options.credentials, random: this.#random });
    this.#registration = new Registration(
      {
        random: this.#random,
        flowAvailable: () => this.#connected,
        sendRegister: (fields, now, done) => {
          this.#sendRegister(fields, now, done);
        },
        setTimer: (name, at, fire) => {
          this.#timers.set(name, at, fire);
        },
        clearTimer: (name) => {
          this.#timers.clear(name);
        },
        changed: (snapshot) => {
          this.#registrationChanged(snapshot);
        },
      },
      { contactUri: this.contactUri, instanceId: options.instanceId, callId: randomToken(this.#random, 24) },
      options.registration,
    );
  }

  // ---- state --------------------------------------------------------------------------------------------------

  /** The time of the latest input. */
  get now(): number {
    return this.#now;
  }
  get registration(): RegistrationSnapshot {
    return this.#registration.snapshot();
  }
  /** Is there a flow to send on (always, for UDP, until flowDown)? */
  get connected(): boolean {
    return this.#connected;
  }
  get flow(): FlowInfo | undefined {
    return this.#flow;
  }
  /**
   * RFC 5626 §4.4.1: the keep-alive interval (ms) the driver should keep on the flow when it owns keep-alive
   * (`keepAlive: 'driver'`): the registrar's Flow-Timer while registered, else the `keepAliveInterval` option;
   * undefined when neither is set (the driver's own default applies) or when the core sends keep-alives itself.
   */
  get keepAliveInterval(): number | undefined {
    if (this.#keepAliveOwner !== 'driver' || !this.#reliable) return undefined;
    const flowTimer = this.#registration.state === 'Registered' ? this.#registration.flowTimer : undefined;
    return flowTimer !== undefined && flowTimer > 0 ? flowTimer * 1000 : this.#keepAliveInterval;
  }
  /** Every live dialog. */
  get dialogs(): Dialog[] {
    return [...this.#dialogs.values()].map((e) => e.dialog);
  }
  /** The Contact our dialog-forming requests and answers carry: the public GRUU when we have one (RFC 5627). */
  get localContact(): Uri {
    return this.#registration.pubGruu ?? this.contactUri;
  }

  // ---- driver inputs ------------------------------------------------------------------------------------------

  /**
   * Bytes from the transport (one datagram, one WebSocket message, or one framed stream message). Never throws
   * at what the peer sent. `flow` defaults to the flow given to `flowUp`.
   */
  receive(data: Uint8Array | string, now: number, flow?: FlowInfo): void {
    this.#step(now, (t) => {
      this.#receive(data, t, flow ?? this.#flow);
    });
  }

  /** Run every timer due at `now`. */
  handleTimers(now: number): void {
    this.#step(now);
  }

  /** When `handleTimers` must next be called (undefined: no timer runs). */
  nextDeadline(): number | undefined {
    return earliest(this.#tx.nextDeadline(), this.#timers.next());
  }

  takeTransmissions(): UserAgentTransmission[] {
    this.#flush();
    const out = this.#out;
    this.#out = [];
    return out;
  }

  takeEvents(): UserAgentEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** The driver connected (or reconnected): requests leave on `flow`; a wanted registration is renewed at once. */
  flowUp(now: number, flow: FlowInfo): void {
    this.#step(now, (t) => {
      this.#flow = flow;
      this.#connected = true;
      this.#registration.flowUp(t);
    });
  }

  /** The connection dropped: pending transactions fail (503), the registration waits for the next flowUp. */
  flowDown(now: number): void {
    this.#step(now, (t) => {
      const old = this.#flow;
      this.#connected = false;
      this.#flow = undefined;
      this.#timers.clear('keepalive-ping');
      this.#timers.clear('keepalive-pong');
      this.#registration.flowDown();
      if (old?.flowId !== undefined) this.#tx.flowFailed(old.flowId, t);
      // RFC 3261 §8.1.3.1: requests still waiting are failed as by a transport error.
      for (const [id, st] of [...this.#clients])
        if (st.response === undefined) this.#tx.transportError(id, t);
    });
  }

  // ---- application commands -----------------------------------------------------------------------------------

  /** Register (RFC 3261 §10.2, RFC 5626 §4.2); over a connection-oriented transport it waits for flowUp. */
  register(now?: number): void {
    this.#step(now ?? this.#now, (t) => {
      this.#registration.register(t);
    });
  }

  /** Remove our binding (expires=0) and stop refreshing. */
  unregister(now?: number): void {
    this.#step(now ?? this.#now, (t) => {
      this.#registration.unregister(t);
    });
  }

  /**
   * Send a request: outside a dialog to `target`, or within `options.dialog` (or a Dialog given as target).
   * Throws TypeError for ACK and CANCEL (the core sends those: see OutgoingRequest.cancel), a malformed method
   * or target, or headers the core owns; InvalidStateError for a terminated dialog.
   */
  request(
    method: string,
    target: Uri | string | Dialog | undefined,
    options: UaRequestOptions = {},
  ): OutgoingRequest {
    if (!isToken(method)) throw new TypeError(`bad method "${method}"`);
    if (method === 'ACK' || method === 'CANCEL')
      throw new TypeError(`the core sends ${method} itself (ACK of a 2xx, OutgoingRequest.cancel())`);
    const dialog = options.dialog ?? (target instanceof Dialog ? target : undefined);
    if (dialog !== undefined && dialog.state === 'Terminated')
      throw new InvalidStateError(`dialog ${dialog.key} is terminated`);
    if (dialog === undefined && (target === undefined || target instanceof Dialog))
      throw new TypeError('a request outside a dialog needs a target URI');
    let uri: Uri | undefined;
    if (dialog === undefined && typeof target === 'string') uri = parseUri(target);
    else if (dialog === undefined && typeof target !== 'string' && !(target instanceof Dialog)) uri = target;
    let state: OutgoingState | undefined;
    this.#step(options.now ?? this.#now, (t) => {
      state = this.#startRequest(method, uri, dialog, options, 'app', undefined, t);
    });
    if (state === undefined) throw new Error('unreachable: the request was not started');
    return this.#handle(state);
  }

  /**
   * Send a CRLF keep-alive ping now (RFC 5626 §4.4.1); a `keepalive` event reports the pong or its absence. A
   * one-off probe: with `keepAlive: 'driver'` the core schedules no pings of its own.
   */
  ping(now?: number): void {
    this.#step(now ?? this.#now, (t) => {
      this.#ping(t);
    });
  }

  // ---- the step: timers, work, transaction events, transmissions ------------------------------------------------

  #step(now: number, work?: (now: number) => void): void {
    if (!Number.isFinite(now)) throw new TypeError(`now must be a finite number, not ${String(now)}`);
    this.#now = Math.max(this.#now, now);
    const t = this.#now;
    for (let guard = 0; guard < 10_000; guard++) {
      this.#tx.handleTimers(t);
      this.#pump(t);
      if (!this.#timers.runDue(t)) break;
      this.#pump(t);
    }
    if (work !== undefined) {
      work(t);
      this.#pump(t);
    }
    this.#flush();
  }

  #pump(now: number): void {
    for (let events = this.#tx.takeEvents(); events.length > 0; events = this.#tx.takeEvents())
      for (const event of events) this.#onTransactionEvent(event, now);
    this.#syncDialogs();
  }

  #flush(): void {
    for (const t of this.#tx.takeTransmissions())
      this.#out.push({ data: serializeMessage(t.message), flow: t.flow, message: t.message });
  }

  #emit(event: UserAgentEvent): void {
    this.#events.push(event);
  }

  // ---- receiving --------------------------------------------------------------------------------------------------

  #receive(data: Uint8Array | string, now: number, flow: FlowInfo | undefined): void {
    // RFC 5626 §4.4.1: CRLFCRLF is a ping (answered with CRLF), a lone CRLF the pong.
    const keepAlive = keepAliveKind(data);
    if (keepAlive === 'ping') {
      this.#flush();
      this.#out.push({ data: CRLF, flow, message: undefined });
      return;
    }
    if (keepAlive === 'pong') {
      this.#onPong(now);
      return;
    }
    if (keepAlive === 'blank') return;
    let message: SipMessage;
    try {
      message = parseMessage(data);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.#onMalformed(data, e, flow);
      return;
    }
    this.#tx.receive(message, now, flow);
  }

  #onMalformed(data: Uint8Array | string, error: ParseError, flow: FlowInfo | undefined): void {
    const result = answerMalformed(data, error, randomToken(this.#random, 10), this.#contactHost);
    if (result.response !== undefined) {
      this.#tx.sendStateless(result.response, flow);
      this.#emit({
        type: 'malformed',
        reason: error.message,
        statusHint: result.response.status,
        answered: true,
        flow,
      });
      return;
    }
    this.#log?.(
      `user agent: dropped unparseable ${result.method ?? 'message'}: ${error.message} (${result.unanswerable ?? ''})`,
    );
    this.#emit({
      type: 'malformed',
      reason: error.message,
      statusHint: error.statusHint,
      answered: false,
      flow,
    });
  }

  #onTransactionEvent(event: TransactionEvent, now: number): void {
    switch (event.type) {
      case 'request':
        this.#onRequest(event.transactionId, event.request, event.flow, now);
        return;
      case 'response':
        this.#onResponse(event.transactionId, event.response, now);
        return;
      case 'timeout': {
        // RFC 3261 §8.1.3.1: a timeout is a 408; §9.1: a CANCEL nobody answered ends the INVITE as cancelled.
        const st = this.#clients.get(event.transactionId);
        if (st !== undefined) this.#localFinal(st, event.timer === 'cancel' ? 487 : 408, now);
        return;
      }
      case 'transport-error': {
        // RFC 3261 §8.1.3.1: a transport error is a 503.
        const st = this.#clients.get(event.transactionId);
        if (st !== undefined) this.#localFinal(st, 503, now);
        return;
      }
      case 'terminated':
        this.#clients.delete(event.transactionId);
        this.#servers.delete(event.transactionId);
        this.#forgetMergeKey(event.transactionId);
        return;
      case 'ack':
        this.#onAck(event.request);
        return;
      case 'stray-response':
        this.#onStrayResponse(event.response);
        return;
      case 'cancel':
        this.#onCancel(event.transactionId, event.request, event.toTag, now);
        return;
    }
  }

  // ---- UAS ----------------------------------------------------------------------------------------------------

  #onRequest(transactionId: string, request: SipRequest, flow: FlowInfo | undefined, now: number): void {
    // RFC 3261 §9.2: a CANCEL that matched no transaction is answered 481.
    if (request.method === 'CANCEL') {
      this.#autoRespond(transactionId, request, 481, now);
      return;
    }
    const reliable = flow?.reliable ?? request.topVia?.transport !== 'UDP';
    const memoKey = request.method === 'INVITE' || !reliable ? undefined : serverKey(request);
    const memo = memoKey === undefined ? undefined : this.#recentFinals.get(memoKey);
    if (memo !== undefined && memo.until >= now) {
      // The same request again on a reliable flow after its transaction ended (Timer J = 0): same answer.
      this.#tx.respond(transactionId, memo.response, now);
      return;
    }
    const mergeKey = request.toTag === undefined ? mergeKeyOf(request) : undefined;
    const found = request.toTag === undefined ? undefined : this.#lookupDialog(request);
    const rejection = inspectRequest(request, {
      capabilities: this.capabilities,
      acceptsRequestUri: (uri) => this.#acceptsUri(uri),
      knowsDialog: () => found !== undefined,
      isMerged: () => {
        const other = mergeKey === undefined ? undefined : this.#merged.get(mergeKey);
        return other !== undefined && other !== transactionId && this.#tx.transaction(other) !== undefined;
      },
    });
    if (mergeKey !== undefined && !this.#merged.has(mergeKey)) {
      this.#merged.set(mergeKey, transactionId);
      this.#mergeKeys.set(transactionId, mergeKey);
    }
    if (rejection !== undefined) {
      this.#autoRespond(transactionId, request, rejection.status, now, rejection.headers, rejection.reason);
      return;
    }
    let dialog: Dialog | undefined;
    if (found !== undefined) {
      dialog = found.dialog ?? this.#dialogFromNotify(found.subscription, request);
      if (dialog === undefined) {
        this.#autoRespond(transactionId, request, 481, now);
        return;
      }
      // RFC 3261 §12.2.2: the dialog checks the request (481, CSeq order 500) and takes its target refresh.
      const result = dialog.receiveRequest(request);
      if (result.type === 'reject') {
        this.#autoRespond(transactionId, request, result.status, now, {}, result.reason);
        return;
      }
      if (result.terminated) this.#noteDialog(dialog, 'BYE received');
      switch (request.method) {
        case 'BYE':
          // RFC 3261 §15.1.2: the UAS core answers a BYE that matches a dialog with 200, and every request of
          // that dialog still unanswered with 487 (the caller may BYE an early dialog, §15).
          this.#autoRespond(transactionId, request, 200, now);
          for (const entry of [...this.#servers.values()]) {
            const s = entry.state;
            if (s.dialog !== dialog || (s.state !== 'Pending' && s.state !== 'Proceeding')) continue;
            if (this.#tx.transaction(s.transactionId) === undefined) continue;
            this.#clearReliable(s);
            this.#respond(s, 487, {}, now);
            s.state = 'Cancelled';
            this.#emit({ type: 'incoming-cancelled', incoming: entry.handle, cancel: request });
          }
          return;
        case 'PRACK':
          this.#onPrack(transactionId, request, dialog, now);
          return;
        default:
          break;
      }
    }
    // RFC 3261 §11.2: OPTIONS is answered as an INVITE would be, with what we support.
    if (request.method === 'OPTIONS' && this.#answerOptions) {
      this.#autoRespond(transactionId, request, 200, now, capabilityHeaders(this.capabilities));
      return;
    }
    const state: IncomingState = {
      transactionId,
      request,
      flow,
      toTag: request.toTag ?? randomToken(this.#random, 10),
      state: 'Pending',
      dialog,
      reliablePending: undefined,
    };
    const handle = new IncomingRequest(state, {
      respond: (s, status, options, at) => {
        this.#respondCommand(s, status, options, at);
      },
    });
    this.#servers.set(transactionId, { state, handle });
    this.#emit({ type: 'incoming-request', incoming: handle });
  }

  /** A response the core decides on its own (§8.2 refusals, OPTIONS, 481, BYE, PRACK). */
  #autoRespond(
    transactionId: string,
    request: SipRequest,
    status: number,
    now: number,
    headers: Readonly<Record<string, string>> = {},
    reason?: string,
  ): void {
    const response = createResponse(request, status, {
      toTag: request.toTag === undefined ? randomToken(this.#random, 10) : undefined,
      reason,
      headers: { ...this.#serverHeader(), ...headers },
    });
    const reliable = this.#tx.transaction(transactionId)?.reliable ?? false;
    this.#tx.respond(transactionId, response, now);
    this.#remember(reliable, request, response, now);
    this.#emit({ type: 'auto-response', request, status, reason: response.reason });
  }

  /** IncomingRequest.progress/accept/reject. Guards, then the work in a step. */
  #respondCommand(
    state: IncomingState,
    status: number,
    options: ProgressOptions,
    now: number | undefined,
  ): void {
    if (state.state === 'Answered' || state.state === 'Cancelled')
      throw new InvalidStateError(
        `${state.request.method} ${state.transactionId} is already ${state.state.toLowerCase()}`,
      );
    if (this.#tx.transaction(state.transactionId) === undefined)
      throw new InvalidStateError(
        `the transaction of ${state.request.method} ${state.transactionId} has ended`,
      );
    if (status < 200 && state.reliablePending !== undefined)
      throw new InvalidStateError('a reliable provisional response still waits for its PRACK (RFC 3262 §3)');
    for (const name of Object.keys(options.headers ?? {}))
      if (['via', 'from', 'to', 'call-id', 'cseq'].includes(name.toLowerCase()))
        throw new TypeError(`${name} is copied from the request, not set by the caller`);
    this.#step(now ?? this.#now, (t) => {
      this.#respond(state, status, options, t);
    });
  }

  #respond(state: IncomingState, status: number, options: ProgressOptions, now: number): void {
    const request = state.request;
    const method = request.method;
    let response = createResponse(request, status, {
      toTag: state.toTag,
      reason: options.reason,
      body: options.body,
      headers: this.#serverHeader(),
    });
    if (options.contentType !== undefined) response.headers.set('Content-Type', options.contentType);
    for (const [name, value] of Object.entries(options.headers ?? {})) response.headers.set(name, value);
    // RFC 3261 §12.1.1: a 1xx (with tag) or 2xx to INVITE, or a 2xx to SUBSCRIBE/REFER, makes the dialog.
    const creating =
      request.toTag === undefined &&
      ((method === 'INVITE' && status > 100 && status < 300) ||
        ((method === 'SUBSCRIBE' || method === 'REFER') && status >= 200 && status < 300));
    // RFC 3261 §13.3.1.4, RFC 6665 §4.2.1.1: a 2xx to a target refresh request (and a dialog-making 1xx)
    // carries our Contact.
    const refresh = response.status >= 200 && response.status < 300 && TARGET_REFRESH_METHODS.has(method);
    if ((creating || refresh) && !response.headers.has('contact'))
      response.headers.set('Contact', `<${this.localContact.toString()}>`);
    if (creating) {
      copyRecordRoute(request, response);
      if (state.dialog === undefined) {
        const problem = checkDialogFields(request);
        if (problem === undefined) {
          state.dialog = Dialog.uas(request, response, this.#dialogOptions());
          this.#addDialog(state.dialog, `${String(status)} sent`);
        } else if (status >= 200) {
          // RFC 3261 §12.1.1: a request that cannot make a dialog (no Contact …) is refused rather than accepted.
          response = createResponse(request, 400, {
            toTag: state.toTag,
            reason: 'Bad Request',
            headers: this.#serverHeader(),
          });
          response.headers.set('Warning', `399 ${this.#contactHost} "${problem.replace(/["\\]/g, "'")}"`);
        }
      } else {
        this.#noteDialog(state.dialog, `${String(status)} sent`);
        state.dialog.sendResponse(response);
      }
    } else if (state.dialog !== undefined && request.toTag === undefined && response.status >= 200) {
      // RFC 3261 §12.3: a non-2xx final answer to the INVITE ends its early dialog.
      this.#noteDialog(state.dialog, `${String(response.status)} sent`);
      state.dialog.sendResponse(response);
    }
    if (method === 'INVITE' && response.status >= 200 && response.status < 300) {
      if (!response.headers.has('allow')) response.headers.set('Allow', this.capabilities.allow.join(', '));
      if (!response.headers.has('supported') && this.capabilities.supported.length > 0)
        response.headers.set('Supported', this.capabilities.supported.join(', '));
    }
    if (method === 'INVITE' && response.status > 100 && response.status < 200 && state.dialog !== undefined)
      this.#maybeReliable(state, state.dialog, response, options, now);
    serializeHead(response); // a CR or LF in a caller's header value throws here, before anything is sent
    const reliable = this.#tx.transaction(state.transactionId)?.reliable ?? false;
    this.#tx.respond(state.transactionId, response, now);
    if (response.status < 200) {
      state.state = 'Proceeding';
      return;
    }
    state.state = 'Answered';
    this.#clearReliable(state);
    this.#remember(reliable, request, response, now);
    if (method === 'INVITE' && response.status < 300 && state.dialog !== undefined)
      this.#awaitAck(state, state.dialog, response, now);
  }

  /** RFC 3262 §3: a provisional response sent reliably, resent at T1, 2·T1 … until its PRACK, for 64·T1. */
  #maybeReliable(
    state: IncomingState,
    dialog: Dialog,
    response: SipResponse,
    options: ProgressOptions,
    now: number,
  ): void {
    const request = state.request;
    const has = (tags: string[]): boolean => tags.some((t) => t.toLowerCase() === '100rel');
    const required = has(request.require);
    if (!required && !(options.reliable === true && has(request.supported))) return;
    if (!this.capabilities.supported.some((t) => t.toLowerCase() === '100rel')) return;
    const rseq = dialog.nextRSeq();
    const require = response.headers.getAll('require');
    response.headers.set('Require', [...require, '100rel'].join(', '));
    response.headers.set('RSeq', String(rseq));
    state.reliablePending = { rseq, response };
    const t1 = this.#tx.timers.T1;
    const started = now;
    const name = `100rel:${state.transactionId}`;
    const resend = (interval: number) => (at: number) => {
      if (state.reliablePending?.rseq !== rseq) return;
      if (at - started >= 64 * t1) {
        // RFC 3262 §3: no PRACK within 64·T1: reject the request with a 5xx.
        state.reliablePending = undefined;
        if (this.#tx.transaction(state.transactionId) !== undefined && state.state === 'Proceeding') {
          this.#respond(state, 500, { reason: 'Reliable Provisional Response Not Acknowledged' }, at);
          this.#emit({ type: 'auto-response', request, status: 500, reason: 'no PRACK' });
        }
        return;
      }
      this.#tx.sendStateless(response, state.flow);
      const next = Math.min(interval * 2, 64 * t1 - (at - started));
      this.#timers.set(name, at + next, resend(interval * 2));
    };
    this.#timers.set(name, now + t1, resend(t1));
  }

  #clearReliable(state: IncomingState): void {
    state.reliablePending = undefined;
    this.#timers.clear(`100rel:${state.transactionId}`);
  }

  /** RFC 3262 §3: a PRACK names the reliable provisional it acknowledges in RAck; none matching: 481. */
  #onPrack(transactionId: string, prack: SipRequest, dialog: Dialog, now: number): void {
    const rack = unlessMalformed(() => prack.rack);
    for (const entry of this.#servers.values()) {
      const pending = entry.state.reliablePending;
      if (rack === undefined || pending === undefined || entry.state.dialog !== dialog) continue;
      const cseq = entry.state.request.cseq;
      if (rack.rseq !== pending.rseq || rack.cseq !== cseq.seq || rack.method !== cseq.method) continue;
      this.#clearReliable(entry.state);
      this.#autoRespond(transactionId, prack, 200, now);
      this.#emit({ type: 'prack', incoming: entry.handle, request: prack });
      return;
    }
    this.#autoRespond(transactionId, prack, 481, now, {}, 'No Matching Provisional Response');
  }

  /** RFC 3261 §13.3.1.4: resend the 2xx at T1, 2·T1 … T2 until the ACK; none after 64·T1: BYE. */
  #awaitAck(state: IncomingState, dialog: Dialog, response: SipResponse, now: number): void {
    const key = `${dialog.key}|${String(state.request.cseq.seq)}`;
    this.#awaitingAck.set(key, state.transactionId);
    const { T1, T2 } = this.#tx.timers;
    const name = `2xx:${key}`;
    const resend = (interval: number) => (at: number) => {
      if (this.#awaitingAck.get(key) !== state.transactionId) return;
      if (at - now >= 64 * T1) {
        this.#awaitingAck.delete(key);
        this.#noteDialog(dialog, 'no ACK for the 2xx');
        if (dialog.state !== 'Terminated')
          this.#startRequest('BYE', undefined, dialog, {}, 'core', undefined, at);
        return;
      }
      this.#tx.sendStateless(response, state.flow);
      const next = Math.min(interval * 2, T2);
      this.#timers.set(name, Math.min(at + next, now + 64 * T1), resend(next));
    };
    this.#timers.set(name, now + T1, resend(T1));
  }

  #onAck(ack: SipRequest): void {
    const id = unlessMalformed(() => uasDialogId(ack));
    const entry = id === undefined ? undefined : this.#dialogs.get(dialogKey(id));
    if (entry === undefined) {
      this.#emit({ type: 'dropped', reason: 'an ACK for no dialog of ours', message: ack });
      return;
    }
    entry.dialog.receiveRequest(ack);
    const key = `${entry.dialog.key}|${String(ack.cseq.seq)}`;
    if (!this.#awaitingAck.has(key)) return; // a retransmitted ACK
    this.#awaitingAck.delete(key);
    this.#timers.clear(`2xx:${key}`);
    this.#emit({ type: 'ack', request: ack, dialog: entry.dialog });
  }

  #onCancel(transactionId: string, cancel: SipRequest, toTag: string, now: number): void {
    const entry = this.#servers.get(transactionId);
    if (entry === undefined || entry.state.state === 'Answered' || entry.state.state === 'Cancelled') return;
    // RFC 3261 §9.2: the INVITE is answered 487, with the To tag the CANCEL's 200 carried.
    if (entry.state.state === 'Pending') entry.state.toTag = toTag;
    this.#clearReliable(entry.state);
    this.#respond(entry.state, 487, {}, now);
    entry.state.state = 'Cancelled';
    this.#emit({ type: 'incoming-cancelled', incoming: entry.handle, cancel });
  }

  /**
   * Keep the final answer to a non-INVITE request that came on a reliable flow, for 64·T1: its transaction ends
   * at once there (Timer J = 0), so a duplicate relayed by an upstream UDP hop would otherwise be new.
   */
  #remember(reliable: boolean, request: SipRequest, response: SipResponse, now: number): void {
    if (!reliable || request.method === 'INVITE' || response.status < 200) return;
    for (const [key, memo] of this.#recentFinals) if (memo.until < now) this.#recentFinals.delete(key);
    if (this.#recentFinals.size >= 1024) return;
    this.#recentFinals.set(serverKey(request), { response, until: now + 64 * this.#tx.timers.T1 });
  }

  #forgetMergeKey(transactionId: string): void {
    const key = this.#mergeKeys.get(transactionId);
    if (key === undefined) return;
    this.#mergeKeys.delete(transactionId);
    if (this.#merged.get(key) === transactionId) this.#merged.delete(key);
  }

  /** RFC 3261 §8.2.2.1: the default idea of "addressed to us". */
  #acceptsUri(uri: Uri): boolean {
    if (this.#acceptsRequestUri !== undefined) return this.#acceptsRequestUri(uri);
    if (!uri.isSip) return true; // a scheme the application chose to serve (tel …)
    const host = uri.host.toLowerCase();
    if (host === this.#contactHost.toLowerCase()) return true;
    for (const gruu of [this.#registration.pubGruu, this.#registration.tempGruu]) {
      if (gruu !== undefined && gruu.aor === uri.aor && gruu.param('gr') === uri.param('gr')) return true;
    }
    if (uri.user === undefined) return host === this.aor.host.toLowerCase();
    return uri.aor === this.aor.aor;
  }

  // ---- dialogs --------------------------------------------------------------------------------------------------

  /** The dialog a request with a To tag belongs to, or the subscription a NOTIFY may make one for. */
  #lookupDialog(request: SipRequest): { dialog?: Dialog; subscription?: OutgoingState } | undefined {
    const id = uasDialogId(request);
    if (id === undefined) return undefined;
    const entry = this.#dialogs.get(dialogKey(id));
    if (entry !== undefined) return { dialog: entry.dialog };
    // RFC 6665 §4.1.2.4: a NOTIFY may come before the 2xx of our SUBSCRIBE (or REFER) and create the dialog.
    if (request.method !== 'NOTIFY') return undefined;
    const subscription = this.#subscriptions.get(`${request.callId}|${request.toTag ?? ''}`);
    return subscription === undefined ? undefined : { subscription };
  }

  #dialogFromNotify(subscription: OutgoingState | undefined, notify: SipRequest): Dialog | undefined {
    if (subscription === undefined) return undefined;
    try {
      const dialog = Dialog.subscriber(subscription.request, notify, this.#dialogOptions());
      this.#addDialog(dialog, 'NOTIFY before the 2xx');
      subscription.dialog ??= dialog;
      return dialog;
    } catch (e) {
      if (e instanceof TypeError) return undefined;
      throw e;
    }
  }

  #addDialog(dialog: Dialog, reason: string): void {
    this.#dialogs.set(dialog.key, { dialog, last: dialog.state, reason: undefined });
    this.#emit({ type: 'dialog', dialog, state: dialog.state, reason });
  }

  #noteDialog(dialog: Dialog, reason: string): void {
    const entry = this.#dialogs.get(dialog.key);
    if (entry !== undefined) entry.reason = reason;
  }

  /** Report every dialog whose state changed since the last look; forget the terminated ones. */
  #syncDialogs(): void {
    for (const [key, entry] of this.#dialogs) {
      const state = entry.dialog.state;
      if (state !== entry.last) {
        entry.last = state;
        this.#emit({ type: 'dialog', dialog: entry.dialog, state, reason: entry.reason ?? 'state change' });
        entry.reason = undefined;
      }
      if (state === 'Terminated') this.#dialogs.delete(key);
    }
  }

  #dialogOptions(): DialogOptions {
    return { random: this.#random, secureTransport: this.transport === 'TLS' || this.transport === 'WSS' };
  }

  // ---- UAC ------------------------------------------------------------------------------------------------------

  /** The one handle of a request (events and `request()` hand out the same object). */
  #handle(state: OutgoingState): OutgoingRequest {
    let handle = this.#handles.get(state);
    if (handle === undefined) {
      handle = new OutgoingRequest(state, (s, now) => {
        this.#cancelCommand(s, now);
      });
      this.#handles.set(state, handle);
    }
    return handle;
  }

  #startRequest(
    method: string,
    target: Uri | undefined,
    dialog: Dialog | undefined,
    options: UaRequestOptions,
    owner: RequestOwner,
    onFinal: OutgoingState['onFinal'],
    now: number,
  ): OutgoingState {
    const extraHeaders: Record<string, string | readonly string[]> = { ...options.headers };
    if (options.contentType !== undefined) extraHeaders['Content-Type'] = options.contentType;
    const body = typeof options.body === 'string' ? new TextEncoder().encode(options.body) : options.body;
    let request: SipRequest;
    if (dialog !== undefined) {
      request = this.#inDialogRequest(dialog, method, extraHeaders, body);
    } else {
      if (target === undefined) throw new TypeError('a request outside a dialog needs a target URI');
      request = this.#outOfDialogRequest(method, target, extraHeaders, body, options);
    }
    serializeHead(request); // a CR or LF in a caller's value throws here
    this.#authorize(request);
    const state: OutgoingState = {
      id: `req-${String(++this.#counter)}`,
      method,
      owner,
      request,
      transactionId: undefined,
      state: 'Trying',
      response: undefined,
      dialogSet:
        method === 'INVITE' && dialog === undefined
          ? new DialogSet(request, this.#dialogOptions())
          : undefined,
      dialog,
      authRounds: 0,
      authFailure: undefined,
      extraHeaders,
      body,
      onFinal,
      cancelRequested: false,
    };
    if ((method === 'SUBSCRIBE' || method === 'REFER') && dialog === undefined)
      this.#subscriptions.set(`${request.callId}|${request.fromTag ?? ''}`, state);
    this.#send(state, now);
    return state;
  }

  #send(state: OutgoingState, now: number): void {
    if (!this.#connected) {
      // No flow to send on: fail at once (RFC 3261 §8.1.3.1 treats a transport failure as 503).
      this.#localFinal(state, 503, now, 'No Flow');
      return;
    }
    const handle = this.#tx.sendRequest(state.request, now, { reliable: this.#reliable, flow: this.#flow });
    state.transactionId = handle.id;
    this.#clients.set(handle.id, state);
  }

  #outOfDialogRequest(
    method: string,
    target: Uri,
    extraHeaders: Readonly<Record<string, string | readonly string[]>>,
    body: SipBody | undefined,
    options: UaRequestOptions,
  ): SipRequest {
    for (const name of Object.keys(extraHeaders))
      if (['via', 'from', 'call-id', 'cseq', 'i', 'f', 'v'].includes(name.toLowerCase()))
        throw new TypeError(`${name} is set by the user agent, not by the caller`);
    const request = new SipRequest(method, asRequestUri(target), undefined, body);
    const h = request.headers;
    h.append('Via', this.#via());
    // RFC 3261 §8.1.1.6: Max-Forwards 70.
    h.append('Max-Forwards', '70');
    // RFC 3261 §8.1.2 / RFC 3608 §6.1: the outbound proxy, then the Service-Route (not on REGISTER).
    for (const route of this.#preloadedRoute(method)) h.append('Route', formatRoute(route));
    // RFC 3261 §8.1.1.2–3: To is the target, From our AOR with a fresh tag.
    h.append('To', options.to ?? `<${target.toString()}>`);
    h.append('From', this.#fromValue(randomToken(this.#random, 10)));
    // RFC 3261 §8.1.1.4–5: a new Call-ID, or the caller's with the next CSeq number for it.
    const callId = options.callId ?? randomToken(this.#random, 24);
    h.append('Call-ID', callId);
    h.append('CSeq', `${String(this.#nextCSeq(callId, options))} ${method}`);
    // RFC 3428 §4: a pager MESSAGE does not start a dialog, so it carries no Contact.
    if (CONTACT_METHODS.has(method)) h.append('Contact', `<${this.localContact.toString()}>`);
    if (method === 'INVITE') h.append('Allow', this.capabilities.allow.join(', '));
    if (SUPPORTED_METHODS.has(method) && this.capabilities.supported.length > 0)
      h.append('Supported', this.capabilities.supported.join(', '));
    if (this.#userAgent !== undefined) h.append('User-Agent', this.#userAgent);
    for (const [name, value] of Object.entries(extraHeaders)) h.set(name, value);
    return request;
  }

  #inDialogRequest(
    dialog: Dialog,
    method: string,
    extraHeaders: Readonly<Record<string, string | readonly string[]>>,
    body: SipBody | undefined,
  ): SipRequest {
    const headers: Record<string, string | readonly string[]> = {};
    if ((method === 'INVITE' || method === 'UPDATE') && this.capabilities.supported.length > 0)
      headers.Supported = this.capabilities.supported.join(', ');
    if (this.#userAgent !== undefined) headers['User-Agent'] = this.#userAgent;
    const request = dialog.createRequest(method, { headers: { ...headers, ...extraHeaders }, body });
    request.headers.prepend('Via', this.#via());
    return request;
  }

  /** RFC 3261 §22.3: credentials cached from earlier challenges go on new requests pre-emptively. */
  #authorize(request: SipRequest): void {
    if (this.#auth === undefined) return;
    const uri = request.uri.toString();
    for (const h of this.#auth.authorize({ method: request.method, uri, body: request.body })) {
      if (!request.headers.has(h.name)) request.headers.append(h.name, h.value);
    }
  }

  #onResponse(transactionId: string, response: SipResponse, now: number): void {
    const st = this.#clients.get(transactionId);
    // A CANCEL's own 200, or a response of the transaction a digest retry replaced.
    if (st === undefined || st.transactionId !== transactionId) return;
    if (st.method === 'INVITE') {
      this.#onInviteResponse(st, response, now);
      return;
    }
    const status = response.status;
    if (status < 200) {
      if (st.response !== undefined) return;
      st.dialog?.receiveResponse(response);
      st.state = 'Proceeding';
      if (st.owner === 'app')
        this.#emit({ type: 'progress', outgoing: this.#handle(st), response, dialog: st.dialog });
      return;
    }
    if (st.response !== undefined) return;
    if ((status === 401 || status === 407) && this.#retryWithCredentials(st, response, now)) return;
    if (st.dialog !== undefined) st.dialog.receiveResponse(response);
    else if ((st.method === 'SUBSCRIBE' || st.method === 'REFER') && status < 300)
      st.dialog = this.#dialogFromResponse(st, response);
    this.#finish(st, response, false, now);
  }

  #onInviteResponse(st: OutgoingState, response: SipResponse, now: number): void {
    const status = response.status;
    const set = st.dialogSet;
    if (set === undefined) {
      // A re-INVITE within a dialog: the dialog reads it; the core ACKs each 2xx (§13.2.2.4).
      const dialog = st.dialog;
      dialog?.receiveResponse(response);
      if (dialog !== undefined && status >= 200 && status < 300)
        this.#sendAck(() => dialog.createAck(response));
      if (status < 200) {
        if (st.response !== undefined) return;
        st.state = 'Proceeding';
        if (st.owner === 'app')
          this.#emit({ type: 'progress', outgoing: this.#handle(st), response, dialog });
        return;
      }
      if (st.response !== undefined) return;
      if ((status === 401 || status === 407) && this.#retryWithCredentials(st, response, now)) return;
      this.#finish(st, response, false, now);
      return;
    }
    const result = set.receiveResponse(response);
    switch (result.type) {
      case 'provisional': {
        if (result.dialog !== undefined && result.created)
          this.#addDialog(result.dialog, `${String(status)} received`);
        // RFC 3262 §4: PRACK an in-order reliable provisional; one out of order or seen before goes no further.
        if (result.reliable !== undefined && result.reliable !== 'in-order') return;
        if (result.reliable === 'in-order' && result.dialog !== undefined) {
          const prack = result.dialog.createPrack(response);
          prack.headers.prepend('Via', this.#via());
          this.#sendBuilt(prack, result.dialog, now);
        }
        if (st.response !== undefined) return;
        st.state = 'Proceeding';
        if (st.owner === 'app')
          this.#emit({ type: 'progress', outgoing: this.#handle(st), response, dialog: result.dialog });
        return;
      }
      case 'accepted': {
        if (result.created) this.#addDialog(result.dialog, `${String(status)} received`);
        else this.#noteDialog(result.dialog, `${String(status)} received`);
        for (const ended of result.ended) this.#noteDialog(ended, 'another fork answered');
        // RFC 3261 §13.2.2.4: every 2xx is ACKed by the core, its retransmissions too.
        this.#sendAck(() => set.createAck(response));
        if (result.retransmission || st.response !== undefined) return;
        st.dialog = result.dialog;
        this.#finish(st, response, false, now);
        return;
      }
      case 'redundant':
        // RFC 3261 §13.2.2.4: a 2xx from another fork after the call was decided: ACK it, then BYE it.
        this.#sendAck(() => result.ack);
        if (!this.#dialogs.has(result.dialog.key)) this.#addDialog(result.dialog, 'a 2xx from another fork');
        if (result.bye !== undefined) {
          this.#noteDialog(result.dialog, 'another fork answered first');
          result.bye.headers.prepend('Via', this.#via());
          this.#sendBuilt(result.bye, result.dialog, now);
        }
        return;
      case 'rejected':
        for (const ended of result.ended) this.#noteDialog(ended, `${String(status)} received`);
        if (st.response !== undefined) return;
        if ((status === 401 || status === 407) && this.#retryWithCredentials(st, response, now)) return;
        this.#finish(st, response, false, now);
        return;
      case 'ignored':
        this.#log?.(`user agent: INVITE response ${String(status)} ignored: ${result.reason}`);
        if (status >= 200 && st.response === undefined) this.#finish(st, response, false, now);
        return;
    }
  }

  /** Send a request built elsewhere (the BYE of a redundant fork) in its own transaction, owned by the core. */
  #sendBuilt(request: SipRequest, dialog: Dialog, now: number): void {
    this.#authorize(request);
    const state: OutgoingState = {
      id: `req-${String(++this.#counter)}`,
      method: request.method,
      owner: 'core',
      request,
      transactionId: undefined,
      state: 'Trying',
      response: undefined,
      dialogSet: undefined,
      dialog,
      authRounds: 0,
      authFailure: undefined,
      extraHeaders: {},
      body: undefined,
      onFinal: undefined,
      cancelRequested: false,
    };
    this.#send(state, now);
  }

  #sendAck(build: () => SipRequest): void {
    let ack: SipRequest;
    try {
      ack = build();
    } catch (e) {
      if (e instanceof TypeError || e instanceof InvalidStateError) {
        this.#log?.(`user agent: cannot ACK: ${e.message}`);
        return;
      }
      throw e;
    }
    ack.headers.prepend('Via', this.#via());
    this.#tx.sendStateless(ack, this.#flow);
  }

  #dialogFromResponse(st: OutgoingState, response: SipResponse): Dialog | undefined {
    const id = unlessMalformed(() => uacDialogId(response));
    if (id === undefined) return undefined;
    const existing = this.#dialogs.get(dialogKey(id))?.dialog;
    if (existing !== undefined) {
      existing.receiveResponse(response);
      return existing;
    }
    try {
      const dialog = Dialog.uac(st.request, response, this.#dialogOptions());
      this.#addDialog(dialog, `${String(response.status)} received`);
      return dialog;
    } catch (e) {
      if (e instanceof TypeError) return undefined;
      throw e;
    }
  }

  /** RFC 3261 §22.2: answer a 401/407 with credentials, once per challenge round (the authenticator decides). */
  #retryWithCredentials(st: OutgoingState, response: SipResponse, now: number): boolean {
    if (this.#auth === undefined || st.cancelRequested) return false;
    if (st.authRounds >= MAX_AUTH_ROUNDS) {
      st.authFailure = 'rejected';
      return false;
    }
    const status = response.status === 401 ? 401 : 407;
    const sentName = status === 401 ? 'Authorization' : 'Proxy-Authorization';
    const result = this.#auth.handleChallenge({
      status,
      challenges: response.headers.getAll(status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate'),
      request: { method: st.method, uri: st.request.uri.toString(), body: st.request.body },
      sent: st.request.headers.getAll(sentName),
    });
    if (result.type === 'fail') {
      st.authFailure = result.reason;
      return false;
    }
    st.authRounds += 1;
    let next: SipRequest;
    if (st.dialog !== undefined && st.dialogSet === undefined && st.request.toTag !== undefined) {
      // Within a dialog the dialog numbers the retry (§12.2.1.1).
      const other = status === 401 ? 'Proxy-Authorization' : 'Authorization';
      const carried = st.request.headers.getAll(other);
      const headers: Record<string, string | readonly string[]> = {
        ...st.extraHeaders,
        [result.name]: result.values,
      };
      if (carried.length > 0) headers[other] = carried;
      next = this.#inDialogRequest(st.dialog, st.method, headers, st.body);
    } else {
      // RFC 3261 §8.1.3.5: same Call-ID, From tag and target; a new branch and the next CSeq.
      next = st.request.clone();
      next.headers.set('Via', this.#via());
      next.headers.set('CSeq', `${String(st.request.cseq.seq + 1)} ${st.method}`);
      next.headers.set(result.name, result.values);
      if (this.#cseqs.has(next.callId)) this.#cseqs.set(next.callId, st.request.cseq.seq + 1);
    }
    st.request = next;
    if (st.dialogSet !== undefined) st.dialogSet = new DialogSet(next, this.#dialogOptions());
    st.state = 'Trying';
    this.#send(st, now);
    return true;
  }

  #finish(st: OutgoingState, response: SipResponse, local: boolean, now: number): void {
    st.state = 'Completed';
    st.response = response;
    this.#subscriptions.delete(`${st.request.callId}|${st.request.fromTag ?? ''}`);
    if (st.owner === 'core') {
      st.onFinal?.(response, local, now);
      return;
    }
    this.#emit({
      type: 'final',
      outgoing: this.#handle(st),
      response,
      dialog: st.dialog,
      local,
      authFailure: st.authFailure,
    });
  }

  /** A final response made up here: 408 timeout, 503 transport error or no flow, 487 unanswered CANCEL. */
  #localFinal(st: OutgoingState, status: number, now: number, reason?: string): void {
    if (st.response !== undefined) return;
    const response = createResponse(st.request, status, { reason });
    // RFC 3261 §12.2.1.2: a 408 to a request within a dialog ends it; an INVITE's early dialogs end too.
    if (st.dialog !== undefined && st.dialogSet === undefined && st.request.toTag !== undefined)
      st.dialog.receiveResponse(createResponse(st.request, status, { toTag: st.request.toTag }));
    st.dialogSet?.terminate();
    this.#finish(st, response, true, now);
  }

  #cancelCommand(st: OutgoingState, now: number | undefined): void {
    if (st.method !== 'INVITE')
      throw new InvalidStateError(`only an INVITE can be cancelled, not ${st.method}`);
    if (st.response !== undefined) throw new InvalidStateError('the INVITE already has a final response');
    this.#step(now ?? this.#now, (t) => {
      st.cancelRequested = true;
      if (st.transactionId !== undefined && this.#tx.transaction(st.transactionId) !== undefined)
        this.#tx.cancel(st.transactionId, t);
    });
  }

  #onStrayResponse(response: SipResponse): void {
    // RFC 3261 §13.2.2.4: a 2xx to INVITE that outlived its transaction is ACKed again by its dialog.
    const isInvite2xx =
      unlessMalformed(() => response.cseq.method === 'INVITE') === true &&
      response.status >= 200 &&
      response.status < 300;
    const id = isInvite2xx ? unlessMalformed(() => uacDialogId(response)) : undefined;
    const dialog = id === undefined ? undefined : this.#dialogs.get(dialogKey(id))?.dialog;
    if (dialog !== undefined) {
      this.#sendAck(() => dialog.createAck(response));
      return;
    }
    this.#emit({ type: 'dropped', reason: 'a response that matches no request of ours', message: response });
  }

  // ---- registration -----------------------------------------------------------------------------------------------

  #sendRegister(
    fields: { callId: string; contact: string },
    now: number,
    done: (outcome: RegisterOutcome, now: number) => void,
  ): void {
    // The CSeq is the next for the registration's Call-ID (§10.2), digest retries included.
    let state: OutgoingState | undefined = undefined;
    state = this.#startRequest(
      'REGISTER',
      this.#registrar,
      undefined,
      {
        callId: fields.callId,
        // RFC 3261 §10.2: To and From both carry the AOR being registered.
        to: this.#addressOfRecord(),
        headers: { Contact: fields.contact },
      },
      'core',
      (response, local, at) => {
        done({ response, local, authFailure: state?.authFailure }, at);
      },
      now,
    );
  }

  #registrationChanged(snapshot: RegistrationSnapshot): void {
    this.#emit({ type: 'registration', registration: snapshot });
    if (snapshot.state === 'Registered') this.#scheduleKeepAlive(this.#now);
    else {
      this.#timers.clear('keepalive-ping');
      this.#timers.clear('keepalive-pong');
    }
  }

  // ---- keep-alive (RFC 5626 §4.4.1) ---------------------------------------------------------------------------

  #scheduleKeepAlive(now: number): void {
    if (this.#keepAliveOwner === 'driver') return; // the driver pings at `keepAliveInterval`
    const flowTimer = this.#registration.flowTimer;
    const interval = flowTimer !== undefined ? flowTimer * 1000 : this.#keepAliveInterval;
    if (interval === undefined || interval <= 0 || !this.#reliable || !this.#connected) return;
    if (this.#timers.has('keepalive-pong')) return;
    // RFC 5626 §4.4.1: a random time between 80% and 100% of the interval.
    this.#timers.set('keepalive-ping', now + interval * (0.8 + 0.2 * this.#random()), (t) => {
      this.#ping(t);
    });
  }

  #ping(now: number): void {
    if (!this.#connected) return;
    this.#flush();
    this.#out.push({ data: CRLFCRLF, flow: this.#flow, message: undefined });
    this.#timers.clear('keepalive-ping');
    this.#timers.set('keepalive-pong', now + PONG_TIMEOUT, () => {
      this.#emit({ type: 'keepalive', result: 'timeout' });
    });
  }

  #onPong(now: number): void {
    if (!this.#timers.has('keepalive-pong')) return;
    this.#timers.clear('keepalive-pong');
    this.#emit({ type: 'keepalive', result: 'pong' });
    if (this.#registration.state === 'Registered') this.#scheduleKeepAlive(now);
  }

  // ---- header values ----------------------------------------------------------------------------------------------

  /** RFC 3261 §8.1.1.7, RFC 3581, RFC 7118 §5: `SIP/2.0/<transport> <host>;branch=z9hG4bK…;rport`. */
  #via(): string {
    const port = this.#contactPort === undefined ? '' : `:${String(this.#contactPort)}`;
    return `SIP/2.0/${this.transport} ${this.#contactHost}${port};branch=${newBranch(this.#random)};rport`;
  }

  #fromValue(tag: string): string {
    return `${this.#addressOfRecord()};tag=${tag}`;
  }

  #addressOfRecord(): string {
    const name =
      this.#displayName === undefined || this.#displayName === '' ? '' : `${quote(this.#displayName)} `;
    return `${name}<${this.aor.toString()}>`;
  }

  #preloadedRoute(method: string): Uri[] {
    const routes: Uri[] = [];
    if (this.#outboundProxy !== undefined) routes.push(this.#outboundProxy);
    if (method === 'REGISTER') return routes;
    for (const uri of this.#registration.serviceRoute) {
      if (routes.length === 1 && routes[0]?.equals(uri) === true) continue;
      routes.push(uri);
    }
    return routes;
  }

  #nextCSeq(callId: string, options: UaRequestOptions): number {
    const seq = options.cseq ?? (options.callId === undefined ? 1 : (this.#cseqs.get(callId) ?? 0) + 1);
    if (!Number.isInteger(seq) || seq < 1 || seq > 2 ** 31 - 1)
      throw new TypeError(`bad CSeq ${String(seq)}`);
    if (options.callId !== undefined) {
      if (this.#cseqs.size >= 256 && !this.#cseqs.has(callId)) {
        const oldest = this.#cseqs.keys().next().value;
        if (oldest !== undefined) this.#cseqs.delete(oldest);
      }
      this.#cseqs.set(callId, seq);
    }
    return seq;
  }

  #serverHeader(): Record<string, string> {
    return this.#userAgent === undefined ? {} : { Server: this.#userAgent };
  }
}

/** An outbound proxy URI with `lr` (RFC 3261 §8.1.2: a pre-existing route set of loose routers). */
function looseRoute(value: Uri | string): Uri {
  const uri = typeof value === 'string' ? parseUri(value) : value;
  return uri.param('lr') === undefined ? uri.withParam('lr', null) : uri;
}

/** RFC 3261 §8.2.2.2: the fields that make two requests "the same request" arriving by two paths. */
function mergeKeyOf(request: SipRequest): string {
  return `${request.fromTag ?? ''}\n${request.callId}\n${String(request.cseq.seq)}\n${request.cseq.method}`;
}

function keepAliveKind(data: Uint8Array | string): 'ping' | 'pong' | 'blank' | undefined {
  const text = typeof data === 'string' ? data : data.length <= 4 ? latin1.decode(data) : undefined;
  if (text === undefined || text.length > 4) return undefined;
  if (text === '\r\n\r\n') return 'ping';
  if (text === '\r\n') return 'pong';
  return text.trim() === '' ? 'blank' : undefined;
}
