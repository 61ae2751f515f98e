/**
 * Pager-mode instant messaging (RFC 3428) with CPIM (RFC 3862), IMDN (RFC 5438), is-composing (RFC 3994) and
 * page-mode groups through a URI-list server (RFC 5365): the usage the app talks to, as a sans-IO core that wraps
 * a UserAgent and is driven like one (SipDriver takes it as its core).
 *
 *     app: send / sendGroup / replyAll / markDisplayed / setComposing / probe      ▲ takeEvents(): PagerEvent
 *                                   │                                               │ (message-state, message,
 *                                   ▼                                               │  composing, capability, ua)
 *   ┌──────────────────────────────────────────────────────────────────────────────┴──┐
 *   │ Pager   outbox: one FIFO per destination, one MESSAGE in flight in each         │
 *   │         records: per-message (and per-recipient) state, message-state.ts         │
 *   │         peers: what each peer takes, peer-capabilities.ts (injected store)       │
 *   │         typing: a ComposingIndicator per peer                                    │
 *   │         inbox: dedupe, expiry, IMDN out (batched), IMDN in (correlated)          │
 *   │   ┌────────────────────────────────────────────────────────────────────────┐     │
 *   │   │ UserAgent (its MESSAGE requests and finals are the pager's; the rest   │     │
 *   │   │ of its events pass through as { type: 'ua', event })                   │     │
 *   │   └────────────────────────────────────────────────────────────────────────┘     │
 *   └─────────────────────────────────────────────────────────────────────────────────┘
 *         receive / handleTimers / flowUp / flowDown ▲   │ takeTransmissions, nextDeadline
 *
 * Why a wrapping core rather than an object fed the UA's events: the pager has timers of its own (typing
 * refresh and idle, remote typing expiry, message expiry) and must answer incoming MESSAGEs within the input
 * that brought them, so it needs to see every input and report the earliest deadline. Wrapping gives the driver
 * one core and the app one event stream; UA events the pager does not consume are passed on unchanged.
 *
 * How it works. Each input goes to the UserAgent first; then the pager drains the UA's events (answering
 * MESSAGEs, matching finals to its requests) and starts the next request of every destination that has none
 * in flight, until both are quiet. Everything the pager sends is a job in a destination's FIFO (RFC 3428 §8:
 * never two MESSAGEs outstanding to one URI): an IM, IMDNs (consecutive ones are sent as one aggregated IMDN,
 * RFC 5438 §8.3 — that is the batching: what queued up behind a MESSAGE in flight, or was queued within one
 * input, leaves together), or an is-composing status (a newer one replaces a queued one; an IM drops it). Jobs
 * wait while there is no flow. An IM's body is built when it leaves, so what was learned about the peer in the
 * meantime counts: CPIM only when notifications are asked for and the peer is not known to refuse CPIM or IMDN.
 */
import { InvalidStateError, ParseError, unlessMalformed } from '../errors.ts';
import {
  SipHeaders,
  formatDate,
  parseUri,
  serializeMultipart,
  type MediaType,
  type SipRequest,
  type SipResponse,
  type Uri,
} from '../message/index.ts';
import {
  ComposingIndicator,
  IMDN_CONTENT_TYPE,
  IMDN_HEADER_NS,
  ISCOMPOSING_CONTENT_TYPE,
  RESOURCE_LISTS_CONTENT_TYPE,
  RECIPIENT_LIST_DISPOSITION,
  buildCpim,
  buildImdnBatch,
  buildIsComposing,
  buildResourceLists,
  parseCpimAddress,
  wantsNotification,
  type ComposingIndicatorOptions,
  type ComposingState,
  type CpimMessage,
  type DispositionRequest,
  type Imdn,
  type ImdnMessageOptions,
  type IsComposing,
} from '../im/index.ts';
import { randomToken, type FlowInfo } from '../transaction/index.ts';
import type { UserAgentEvent, UserAgentTransmission } from './events.ts';
import type { IncomingRequest, OutgoingRequest } from './handles.ts';
import { aggregate, isFinalState, transition, type MessageState } from './message-state.ts';
import { decodePagerBody } from './pager-content.ts';
import {
  PeerCapabilityTable,
  type CapabilityKind,
  type PeerCapabilities,
  type PeerCapabilityStore,
} from './peer-capabilities.ts';
import { advance, earliest } from './ua-timers.ts';
import type { UserAgent } from './user-agent.ts';

export interface PagerOptions {
  readonly ua: UserAgent;
  /** Uniform in [0, 1): message ids and MIME boundaries. */
  readonly random: () => number;
  /** Shown as the CPIM From display name. */
  readonly displayName?: string;
  /** RFC 5365 URI-list service: `sip:uri-list@<AOR domain>` by default. */
  readonly uriListService?: string;
  /** RFC 3428 §8: the largest body sent in pager mode, bytes (default 1300); bigger: use a session. */
  readonly maxSendBytes?: number;
  /** The largest MESSAGE body taken, bytes (default 16 KiB); bigger ones are answered 413. */
  readonly maxReceiveBytes?: number;
  /** Remembers what peers take across restarts. */
  readonly capabilityStore?: PeerCapabilityStore;
  /** The typing indicator's timing (RFC 3994: idle after 15 s, refresh announced 60 s). */
  readonly composing?: ComposingIndicatorOptions;
  /** Outgoing messages kept for snapshots and late notifications (default 1000; finished ones go first). */
  readonly keepMessages?: number;
}

export interface SendOptions {
  /**
   * RFC 5438 §5: ask for disposition notifications. `true`: positive and negative delivery, display, and
   * processing (a store's "stored"). The message then goes as message/cpim unless the peer refuses that.
   */
  readonly imdn?: boolean | readonly DispositionRequest[];
  /** RFC 3428 §4: how long the message stays valid, seconds (Expires, with Date). */
  readonly expires?: number;
  readonly subject?: string;
  /**
   * The message's id (and imdn.Message-ID), e.g. the app's outbox id; one is made up when absent. Sending an id
   * that is still on its way is a no-op, so an outbox may hand the same message over again safely.
   */
  readonly id?: string;
}

export type SendResult =
  | { readonly ok: true; readonly id: string }
  /** RFC 3428 §8: too big for pager mode; send it in a session (MSRP) instead. */
  | { readonly ok: false; readonly reason: 'use-session'; readonly bytes: number; readonly limit: number };

export interface RecipientStatus {
  readonly uri: string;
  readonly state: MessageState;
  readonly at: number;
  readonly status?: number | undefined;
  readonly reason?: string | undefined;
  /** the failure was made up here (no answer in time, no connection), not sent by a peer */
  readonly local?: boolean | undefined;
}

/** An outgoing message, as the app shows it. */
export interface OutgoingMessage {
  readonly id: string;
  /** the peer, or every recipient of a group message */
  readonly to: readonly string[];
  readonly group: boolean;
  readonly text: string;
  readonly subject?: string | undefined;
  readonly state: MessageState;
  /** when the state last changed */
  readonly at: number;
  readonly createdAt: number;
  readonly expiresAt?: number | undefined;
  /** the SIP status (or none, for an IMDN or an expiry) and a reason, when it failed */
  readonly status?: number | undefined;
  readonly reason?: string | undefined;
  /** the failure was made up here (no answer in time, no connection), not sent by a peer */
  readonly local?: boolean | undefined;
  readonly imdn: readonly DispositionRequest[];
  /** 1, then one more for each `retry` (a new attempt of the same message, under the same id) */
  readonly attempt: number;
  /** what went on the wire last: text/plain, message/cpim (undefined before it left) */
  readonly format?: string | undefined;
  readonly recipients: readonly RecipientStatus[];
}

/** A message received, as the app shows it. */
export interface IncomingMessage {
  /** imdn.Message-ID when the sender gave one (pass it to markDisplayed), else Call-ID:CSeq */
  readonly id: string;
  /** the sender's address of record */
  readonly from: string;
  readonly fromName?: string | undefined;
  readonly to: string;
  readonly text: string;
  readonly subject?: string | undefined;
  /** when the sender sent it (CPIM DateTime, else Date) */
  readonly sentAt?: number | undefined;
  readonly receivedAt: number;
  readonly expiresAt?: number | undefined;
  /** RFC 5365: a page-mode group message and the others it went to (to/cc) */
  readonly group?: { readonly recipients: readonly string[] } | undefined;
  /** the sender asked to be told when it is shown: call markDisplayed */
  readonly displayRequested: boolean;
}

export type PagerEvent =
  /** An outgoing message (or, for a group, one recipient's copy when `recipient` is set) changed state. */
  | {
      readonly type: 'message-state';
      readonly id: string;
      readonly state: MessageState;
      readonly at: number;
      readonly recipient: string | undefined;
      readonly status: number | undefined;
      readonly reason: string | undefined;
      /** a failure made up here (timeout, no connection, cannot send), not a peer's answer */
      readonly local: boolean;
      readonly message: OutgoingMessage;
    }
  /** A new message to show (once, however often it arrived). `request` is for logs, not for app state. */
  | { readonly type: 'message'; readonly message: IncomingMessage; readonly request: SipRequest }
  /** RFC 3428 §7: a message whose Expires had passed when it arrived: accepted, not shown as new. */
  | { readonly type: 'message-expired'; readonly message: IncomingMessage; readonly request: SipRequest }
  /** RFC 3994: the peer started or stopped typing (or its indication lapsed). */
  | { readonly type: 'composing'; readonly peer: string; readonly state: ComposingState; readonly at: number }
  /** Something was learned about what a peer takes; `reason` is for the UI ("… does not take CPIM"). */
  | {
      readonly type: 'capability';
      readonly peer: string;
      readonly kind: CapabilityKind;
      readonly support: 'yes' | 'no';
      readonly reason: string;
      readonly capabilities: PeerCapabilities;
    }
  /** An event of the UserAgent the pager did not consume (registration, other requests …). */
  | { readonly type: 'ua'; readonly event: UserAgentEvent };

// ---- internal state ----------------------------------------------------------------------------------------

interface Recipient {
  readonly uri: string;
  readonly key: string;
  state: MessageState;
  at: number;
  status?: number | undefined;
  reason?: string | undefined;
  local?: boolean | undefined;
}

interface Outgoing {
  readonly id: string;
  readonly target: string;
  readonly queue: string;
  readonly group: boolean;
  readonly text: string;
  readonly subject: string | undefined;
  readonly imdn: readonly DispositionRequest[];
  readonly attempt: number;
  readonly createdAt: number;
  readonly expires: number | undefined;
  readonly expiresAt: number | undefined;
  readonly recipients: Recipient[];
  state: MessageState;
  at: number;
  status?: number | undefined;
  reason?: string | undefined;
  local?: boolean | undefined;
  format?: string | undefined;
  /** CPIM was refused once: text/plain from now on */
  plain: boolean;
  /** local 503s (no flow) survived by requeueing */
  retries: number;
}

type Job =
  | { readonly kind: 'im'; readonly message: Outgoing }
  | { readonly kind: 'imdn'; readonly notice: Omit<ImdnMessageOptions, 'messageId' | 'now'> }
  | { readonly kind: 'composing'; readonly status: IsComposing };

interface Destination {
  readonly target: string;
  readonly jobs: Job[];
  /** the request in flight and what it carried */
  busy: { readonly id: string; readonly jobs: Job[]; readonly cpim: boolean } | undefined;
}

interface BuiltRequest {
  readonly target: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly headers: Record<string, string>;
  /** the body is message/cpim (a 415/488 to it teaches about CPIM or IMDN) */
  readonly cpim: boolean;
}

interface Displayable {
  readonly cpim: CpimMessage;
  readonly target: string;
}

const DEFAULT_MAX_SEND = 1300;
const DEFAULT_MAX_RECEIVE = 16 * 1024;
const MEMORY = 1000;
const ALL_REQUESTS: readonly DispositionRequest[] = [
  'positive-delivery',
  'negative-delivery',
  'display',
  'processing',
];
const enc = new TextEncoder();

/** The key of a peer: its address of record (`sip:user@host`, lowercased host, sips as sip). */
export function peerKey(uri: string | Uri): string {
  try {
    return (typeof uri === 'string' ? parseUri(uri) : uri).aor;
  } catch (e) {
    if (e instanceof ParseError) return typeof uri === 'string' ? uri : uri.toString();
    throw e;
  }
}

export class Pager {
  readonly ua: UserAgent;
  readonly #random: () => number;
  readonly #displayName: string | undefined;
  readonly #uriList: string;
  readonly #maxSend: number;
  readonly #maxReceive: number;
  readonly #composingOptions: ComposingIndicatorOptions | undefined;
  readonly #keep: number;
  readonly #self: string;
  readonly #peers: PeerCapabilityTable;

  #now: number;
  #events: PagerEvent[] = [];
  readonly #messages = new Map<string, Outgoing>();
  /** messages that may still expire */
  readonly #expiring = new Set<Outgoing>();
  readonly #queues = new Map<string, Destination>();
  /** our requests in flight → their destination key (MESSAGE) or peer (OPTIONS probe) */
  readonly #inFlight = new Map<string, { queue: string } | { probe: string }>();
  readonly #probed = new Set<string>();
  readonly #typing = new Map<string, ComposingIndicator>();
  /** dedupe keys of messages shown lately */
  readonly #seen = new Set<string>();
  /** received messages whose sender asked for a display notification, by their id */
  readonly #displayable = new Map<string, Displayable>();

  constructor(options: PagerOptions) {
    if (typeof options.random !== 'function') throw new TypeError('Pager needs a random() option');
    this.ua = options.ua;
    this.#random = options.random;
    this.#displayName = options.displayName;
    this.#self = options.ua.aor.aor;
    this.#uriList = options.uriListService ?? `sip:uri-list@${options.ua.aor.host}`;
    checkUri(this.#uriList);
    this.#maxSend = options.maxSendBytes ?? DEFAULT_MAX_SEND;
    this.#maxReceive = options.maxReceiveBytes ?? DEFAULT_MAX_RECEIVE;
    this.#composingOptions = options.composing;
    new ComposingIndicator(options.composing); // refuses bad timing options here, not at the first keystroke
    this.#keep = options.keepMessages ?? MEMORY;
    this.#peers = new PeerCapabilityTable(options.capabilityStore);
    this.#now = options.ua.now;
  }

  // ---- snapshots ----------------------------------------------------------------------------------------------

  /** An outgoing message by id (undefined once forgotten: see `keepMessages`). */
  message(id: string): OutgoingMessage | undefined {
    const m = this.#messages.get(id);
    return m === undefined ? undefined : snapshot(m);
  }

  /** The outgoing messages kept, oldest first. */
  get messages(): OutgoingMessage[] {
    return [...this.#messages.values()].map(snapshot);
  }

  /** What a peer is known to take. */
  peer(uri: string): PeerCapabilities {
    return this.#peers.get(peerKey(uri));
  }

  /** Every peer something was learned about. */
  get peers(): PeerCapabilities[] {
    return this.#peers.all();
  }

  /** Is the peer typing? */
  remoteComposing(peer: string): ComposingState {
    return this.#typing.get(peerKey(peer))?.remote ?? 'idle';
  }

  // ---- app commands ---------------------------------------------------------------------------------------------

  /**
   * Send `text` to one peer. Returns the message's id (also its imdn.Message-ID), or, for a body over the pager
   * limit, a result that says to use a session. Throws TypeError for a malformed URI or options.
   */
  send(to: string, text: string, options: SendOptions = {}, now?: number): SendResult {
    checkUri(to);
    return this.#submit([to], false, text, options, now);
  }

  /**
   * RFC 5365: one MESSAGE to the URI-list service, which sends each recipient a copy that names the others.
   * Per-recipient states come from the recipients' IMDNs and the service's failure notifications.
   */
  sendGroup(
    recipients: readonly string[],
    text: string,
    options: SendOptions = {},
    now?: number,
  ): SendResult {
    if (recipients.length === 0) throw new TypeError('sendGroup needs at least one recipient');
    for (const r of recipients) checkUri(r);
    return this.#submit(recipients, true, text, options, now);
  }

  /** Answer a group message to everyone in it: its recipients and its sender, less ourselves. */
  replyAll(message: IncomingMessage, text: string, options: SendOptions = {}, now?: number): SendResult {
    const all = [...(message.group?.recipients ?? []), message.from].filter(
      (uri, i, list) =>
        peerKey(uri) !== this.#self && list.findIndex((u) => peerKey(u) === peerKey(uri)) === i,
    );
    const [only] = all;
    if (only === undefined) throw new TypeError('nobody to reply to');
    return all.length === 1 ? this.send(only, text, options, now) : this.sendGroup(all, text, options, now);
  }

  /**
   * Send a failed or expired message again: a new attempt under the same id, so a recipient that did get the
   * first one (a 408 whose request had arrived) shows it once. Its states start again at sending — the one
   * place a message's state restarts, and only on the app's command. Throws InvalidStateError otherwise.
   */
  retry(id: string, now?: number): SendResult {
    const m = this.#messages.get(id);
    if (m === undefined) throw new InvalidStateError(`no message ${id}`);
    if (m.state !== 'failed' && m.state !== 'expired')
      throw new InvalidStateError(`message ${id} is ${m.state}, not failed or expired`);
    const options = { imdn: m.imdn, expires: m.expires, subject: m.subject, id };
    const to = m.recipients.map((r) => r.uri);
    return this.#submit(to, m.group, m.text, options, now);
  }

  /**
   * RFC 5438 §7.2.1.2: the user has seen these received messages; a display notification goes to each sender
   * that asked for one (only then, and once). Unknown ids are ignored.
   */
  markDisplayed(ids: Iterable<string>, now?: number): void {
    this.#command(now, (t) => {
      for (const id of ids) {
        const d = this.#displayable.get(id);
        if (d === undefined) continue;
        this.#displayable.delete(id);
        this.#notify(d.cpim, d.target, { kind: 'display', status: 'displayed' }, t);
      }
    });
  }

  /**
   * RFC 3994: the user is typing to `peer` (typing) or stopped without sending (not typing). An active status
   * goes out on the first keystroke and is refreshed while typing goes on; idle goes out 15 s after the last
   * keystroke, at once when typing stops, and never after a message (the message says it). Nothing goes to a
   * peer that has not shown it takes is-composing; while that is unknown, one OPTIONS asks.
   */
  setComposing(peer: string, typing: boolean, now?: number): void {
    checkUri(peer);
    this.#command(now, (t) => {
      const key = peerKey(peer);
      const indicator = this.#indicator(key);
      if (typing) {
        if (indicator.typed(t)) this.#sendComposing(key, indicator.activeStatus, t);
        return;
      }
      const idle = indicator.stopped(t);
      if (idle !== undefined) this.#sendComposing(key, idle, t);
    });
  }

  /** Ask the peer what it takes (OPTIONS, RFC 3261 §11): its Accept teaches CPIM, IMDN and is-composing. */
  probe(peer: string, now?: number): void {
    checkUri(peer);
    this.#command(now, (t) => {
      this.#probe(peerKey(peer), t);
    });
  }

  // ---- the driver's side (SansIoCore) --------------------------------------------------------------------------

  receive(data: Uint8Array | string, now: number, flow?: FlowInfo): void {
    this.ua.receive(data, now, flow);
    this.#settle();
  }

  handleTimers(now: number): void {
    this.ua.handleTimers(now);
    this.#at(now);
    this.#runTimers();
    this.#settle();
  }

  nextDeadline(): number | undefined {
    let next = this.ua.nextDeadline();
    const consider = (t: number | undefined): void => {
      next = earliest(next, t);
    };
    for (const indicator of this.#typing.values()) consider(indicator.nextDeadline());
    for (const m of this.#expiring) if (m.recipients.some((r) => canExpire(m, r))) consider(m.expiresAt);
    return next;
  }

  takeTransmissions(): UserAgentTransmission[] {
    this.#settle();
    return this.ua.takeTransmissions();
  }

  takeEvents(): PagerEvent[] {
    this.#settle();
    const out = this.#events;
    this.#events = [];
    return out;
  }

  flowUp(now: number, flow: FlowInfo): void {
    this.ua.flowUp(now, flow);
    this.#settle();
  }

  flowDown(now: number): void {
    this.ua.flowDown(now);
    this.#settle();
  }

  get keepAliveInterval(): number | undefined {
    return this.ua.keepAliveInterval;
  }

  // ---- the step -------------------------------------------------------------------------------------------------

  #at(now: number | undefined): number {
    this.#now = advance(this.#now, this.ua.now, now);
    return this.#now;
  }

  #command(now: number | undefined, work: (now: number) => void): void {
    const t = this.#at(now);
    this.#settle();
    work(t);
    this.#settle();
  }

  /** Drain the UA's events and start what can start, until both are quiet. */
  #settle(): void {
    for (let guard = 0; guard < 10_000; guard++) {
      this.#at(undefined);
      const events = this.ua.takeEvents();
      for (const event of events) this.#onUaEvent(event);
      if (events.length === 0 && !this.#dispatch()) return;
    }
  }

  #emit(event: PagerEvent): void {
    this.#events.push(event);
  }

  #onUaEvent(event: UserAgentEvent): void {
    switch (event.type) {
      case 'incoming-request':
        if (event.incoming.method === 'MESSAGE') return this.#onMessage(event.incoming);
        break;
      case 'final':
        if (this.#onFinal(event.outgoing, event.response, event.local)) return;
        break;
      case 'progress':
        if (this.#inFlight.has(event.outgoing.id)) return;
        break;
      case 'incoming-cancelled':
      case 'ack':
      case 'prack':
      case 'auto-response':
      case 'malformed':
      case 'dropped':
      case 'dialog':
      case 'registration':
      case 'keepalive':
        break;
    }
    this.#emit({ type: 'ua', event });
  }

  // ---- sending --------------------------------------------------------------------------------------------------

  #submit(
    to: readonly string[],
    group: boolean,
    text: string,
    options: SendOptions,
    now: number | undefined,
  ): SendResult {
    if (typeof text !== 'string') throw new TypeError('the message text must be a string');
    const id = options.id ?? randomToken(this.#random, 16);
    if (typeof id !== 'string' || !/^[!-~]{1,128}$/.test(id))
      throw new TypeError(`bad message id ${String(id)}`);
    const existing = this.#messages.get(id);
    if (existing !== undefined && existing.state !== 'failed' && existing.state !== 'expired')
      return { ok: true, id };
    const attempt = existing === undefined ? 1 : existing.attempt + 1;
    const { expires, subject } = options;
    if (expires !== undefined && !(Number.isInteger(expires) && expires >= 0 && expires < 2 ** 31))
      throw new TypeError(`bad expires ${String(expires)}`);
    if (subject !== undefined && /[\r\n]/.test(subject)) throw new TypeError('a subject is one line');
    const imdn =
      options.imdn === true ? ALL_REQUESTS : options.imdn === false ? [] : [...(options.imdn ?? [])];
    for (const r of imdn) if (!ALL_REQUESTS.includes(r)) throw new TypeError(`unknown IMDN request ${r}`);
    const t = this.#at(now);
    const target = group ? this.#uriList : (to[0] ?? '');
    const recipients: Recipient[] = [];
    for (const uri of to) {
      const key = peerKey(uri);
      if (!recipients.some((r) => r.key === key)) recipients.push({ uri, key, state: 'sending', at: t });
    }
    const m: Outgoing = {
      id,
      attempt,
      target,
      queue: peerKey(target),
      group,
      text,
      subject,
      imdn,
      createdAt: t,
      expires,
      expiresAt: expires === undefined ? undefined : t + expires * 1000,
      recipients,
      state: 'sending',
      at: t,
      plain: false,
      retries: 0,
    };
    // RFC 3428 §8: a pager-mode request stays under 1300 bytes; larger content belongs in a session.
    const bytes = this.#imBody(m).body.length;
    if (bytes > this.#maxSend) return { ok: false, reason: 'use-session', bytes, limit: this.#maxSend };
    this.#command(t, () => {
      this.#remember(m);
      this.#emitState(m, undefined);
      // RFC 3994 §3.2: sending the message ends composition; the message itself tells the peer.
      if (!group) this.#typing.get(m.queue)?.messageSent(t);
      const queue = this.#queue(m.queue, target);
      for (let i = queue.jobs.length - 1; i >= 0; i--)
        if (queue.jobs[i]?.kind === 'composing') queue.jobs.splice(i, 1);
      queue.jobs.push({ kind: 'im', message: m });
    });
    return { ok: true, id: m.id };
  }

  #remember(m: Outgoing): void {
    const old = this.#messages.get(m.id);
    if (old !== undefined) this.#expiring.delete(old);
    this.#messages.delete(m.id);
    this.#messages.set(m.id, m);
    if (m.expiresAt !== undefined) this.#expiring.add(m);
    if (this.#messages.size <= this.#keep) return;
    // Forget the oldest message that can no longer change much (finished first, then delivered).
    for (const pass of [isFinalState, (s: MessageState) => s === 'delivered']) {
      for (const [id, old] of this.#messages) {
        if (!pass(old.state)) continue;
        this.#messages.delete(id);
        this.#expiring.delete(old);
        return;
      }
    }
  }

  #queue(key: string, target: string): Destination {
    let q = this.#queues.get(key);
    if (q === undefined) {
      q = { target, jobs: [], busy: undefined };
      this.#queues.set(key, q);
    }
    return q;
  }

  /** Start the head job of every destination with nothing in flight; true when something was sent. */
  #dispatch(): boolean {
    if (!this.ua.connected) return false;
    let sent = false;
    for (const [key, q] of this.#queues) {
      if (q.busy !== undefined) continue;
      const job = q.jobs.shift();
      if (job === undefined) {
        this.#queues.delete(key);
        continue;
      }
      // A message that expired or failed while queued is not sent; look again at this queue.
      if (job.kind === 'im' && job.message.state !== 'sending' && job.message.state !== 'sent') {
        sent = true;
        continue;
      }
      const jobs = [job];
      // RFC 5438 §8.3: notifications waiting for one destination leave together, aggregated.
      while (job.kind === 'imdn' && q.jobs[0]?.kind === 'imdn') jobs.push(q.jobs.shift() as Job);
      let request: BuiltRequest;
      let outgoing: OutgoingRequest;
      try {
        // A notification is built from what a peer sent: anything in it we cannot write drops that job only.
        request = this.#build(jobs, q);
        outgoing = this.ua.request('MESSAGE', request.target, {
          body: request.body,
          contentType: request.contentType,
          headers: request.headers,
          now: this.#now,
        });
      } catch (e) {
        // A target out of a peer's notification request that is no URI: that job cannot be sent.
        if (!(e instanceof TypeError || e instanceof ParseError)) throw e;
        if (job.kind === 'im')
          this.#advance(job.message, 'failed', { reason: `cannot send: ${e.message}`, local: true });
        sent = true;
        continue;
      }
      q.busy = { id: outgoing.id, jobs, cpim: request.cpim };
      this.#inFlight.set(outgoing.id, { queue: key });
      sent = true;
      if (job.kind !== 'im') continue;
      job.message.format = request.cpim ? 'message/cpim' : 'text/plain';
      this.#advance(job.message, 'sent', {});
    }
    return sent;
  }

  #build(jobs: readonly Job[], q: Destination): BuiltRequest {
    const job = jobs[0] as Job;
    switch (job.kind) {
      case 'im':
        return { target: q.target, ...this.#imBody(job.message) };
      case 'imdn': {
        const messageId = randomToken(this.#random, 16);
        const now = this.#now;
        const batch = jobs.flatMap((j) => (j.kind === 'imdn' ? [{ ...j.notice, messageId, now }] : []));
        const { body } = buildImdnBatch(batch);
        // RFC 5438 §7.1.1.1: a notification never asks for notifications of its own.
        return { target: q.target, body, contentType: 'message/cpim', headers: {}, cpim: true };
      }
      case 'composing':
        return {
          target: q.target,
          body: enc.encode(buildIsComposing(job.status)),
          contentType: ISCOMPOSING_CONTENT_TYPE,
          headers: {},
          cpim: false,
        };
    }
  }

  /** The body and headers of an IM as it would leave now. */
  #imBody(m: Outgoing): Omit<BuiltRequest, 'target'> {
    const caps = this.#peers.get(m.queue);
    // RFC 5438 §5 needs CPIM to carry the requests; a peer that refused CPIM or IMDN gets text/plain (RFC 3428 §4).
    const cpim = m.imdn.length > 0 && !m.plain && caps.cpim !== 'no' && caps.imdn !== 'no';
    // RFC 3428 §4: a non-zero Expires comes with the Date the message was sent.
    const headers: Record<string, string> = { Date: formatDate(m.createdAt) };
    if (m.expires !== undefined) headers.Expires = String(m.expires);
    if (m.subject !== undefined) headers.Subject = m.subject;
    let body: Uint8Array = enc.encode(m.text);
    let contentType = 'text/plain;charset=UTF-8';
    if (cpim) {
      // RFC 3862 §3, RFC 5438 §6: From, To, DateTime, the message id and what the sender wants to hear.
      body = buildCpim({
        from: { displayName: this.#displayName, uri: this.#self },
        to: m.recipients.map((r) => ({ uri: r.uri })),
        dateTime: m.createdAt,
        subjects: m.subject === undefined ? undefined : [{ text: m.subject }],
        messageId: m.id,
        dispositionNotification: [...m.imdn],
        contentType,
        content: body,
      });
      contentType = 'message/cpim';
    }
    if (!m.group) return { body, contentType, headers, cpim };
    // RFC 5365 §4.1: Require recipient-list, and a multipart/mixed of the message and the list (RFC 5364: "to").
    const boundary = `list-${m.id}`;
    const list = buildResourceLists(m.recipients.map((r) => ({ uri: r.uri, copyControl: 'to' as const })));
    body = serializeMultipart(
      [
        { headers: SipHeaders.from({ 'Content-Type': contentType }), body },
        {
          headers: SipHeaders.from({
            'Content-Type': RESOURCE_LISTS_CONTENT_TYPE,
            'Content-Disposition': RECIPIENT_LIST_DISPOSITION,
          }),
          body: enc.encode(list),
        },
      ],
      boundary,
    );
    headers.Require = 'recipient-list';
    return { body, contentType: `multipart/mixed;boundary="${boundary}"`, headers, cpim };
  }

  /** A final response to one of our requests; false when it is not ours. */
  #onFinal(outgoing: OutgoingRequest, response: SipResponse, local: boolean): boolean {
    const owner = this.#inFlight.get(outgoing.id);
    if (owner === undefined) return false;
    this.#inFlight.delete(outgoing.id);
    if ('probe' in owner) {
      if (response.status < 300) this.#learnFromAccept(owner.probe, response, 'OPTIONS');
      // No answer from the peer (no flow, a timeout): ask again at the next keystroke.
      if (local) this.#probed.delete(owner.probe);
      return true;
    }
    const q = this.#queues.get(owner.queue);
    const busy = q?.busy;
    if (q === undefined || busy === undefined) return true;
    q.busy = undefined;
    const status = response.status;
    const job = busy.jobs[0] as Job;
    const refused = status === 415 || status === 488;
    switch (job.kind) {
      case 'im':
        this.#imFinal(job.message, q, response, local);
        return true;
      case 'imdn':
        if (refused && busy.cpim) this.#learnRefusal(owner.queue, response, 'an IMDN');
        return true;
      case 'composing':
        if (refused) this.#learn(owner.queue, 'composing', 'no', `${status} to is-composing`, true);
        return true;
    }
  }

  #imFinal(m: Outgoing, q: Destination, response: SipResponse, local: boolean): void {
    const status = response.status;
    const wasCpim = m.format === 'message/cpim';
    if (status < 300) {
      // RFC 3428 §4: 202 means a store or gateway took it; any other 2xx, delivered to a device. A URI-list
      // service's answer says nothing for the recipients: their notifications will.
      if (!m.group) this.#advance(m, status === 202 ? 'stored' : 'delivered', { status });
      return;
    }
    const requeue = (): void => {
      q.jobs.unshift({ kind: 'im', message: m });
    };
    // RFC 3261 §8.1.3.1: a transport failure (the flow went down) is worth another try on the next flow.
    if (local && status === 503 && m.retries < 3) {
      m.retries += 1;
      return requeue();
    }
    // The peer refused CPIM (or the IMDN in it): learn it and send the same message again as text/plain.
    if ((status === 415 || status === 488) && wasCpim) {
      this.#learnRefusal(m.queue, response, 'a CPIM message');
      m.plain = true;
      return requeue();
    }
    // RFC 3428: too large for the peer; the plain form is shorter, so try it once.
    if (status === 413 && wasCpim) {
      m.plain = true;
      return requeue();
    }
    let reason = `${String(status)} ${response.reason}`;
    if (status === 413) reason += ': too large for the recipient; use a session';
    if (status === 415) reason += ': the recipient takes none of our formats';
    if (local && status === 408) reason = '408 no answer (timeout)';
    this.#advance(m, 'failed', { status, reason, local });
  }

  /**
   * A 415/488 to a CPIM body (an IM asking for notifications, or a notification): when its Accept still lists
   * message/cpim the IMDN in it was refused, else CPIM itself. What else the Accept lists is learned too.
   */
  #learnRefusal(peer: string, response: SipResponse, label: string): void {
    const accept = acceptOf(response);
    if (accept !== undefined)
      this.#learnFromAccept(peer, response, `Accept of a ${String(response.status)}`, ['composing']);
    const kind = accept?.some((t) => matches(t, 'message', 'cpim')) === true ? 'imdn' : 'cpim';
    this.#learn(peer, kind, 'no', `${String(response.status)} to ${label}`, true);
  }

  /** An Accept header is explicit evidence for each kind (RFC 3261 §20.1). */
  #learnFromAccept(
    peer: string,
    response: SipResponse,
    where: string,
    kinds: readonly CapabilityKind[] = ['cpim', 'imdn', 'composing'],
  ): void {
    const accept = acceptOf(response);
    if (accept === undefined) return;
    for (const kind of kinds) {
      const type =
        kind === 'cpim' ? 'message/cpim' : kind === 'imdn' ? IMDN_CONTENT_TYPE : ISCOMPOSING_CONTENT_TYPE;
      const [major = '', minor = ''] = type.split('/');
      const yes = accept.some((t) => matches(t, major, minor));
      this.#learn(peer, kind, yes ? 'yes' : 'no', `${where} ${yes ? 'lists' : 'lacks'} ${type}`, true);
    }
  }

  #learn(peer: string, kind: CapabilityKind, support: 'yes' | 'no', reason: string, explicit: boolean): void {
    const entry = this.#peers.learn(peer, kind, support, reason, this.#now, explicit);
    if (entry === undefined) return;
    this.#emit({ type: 'capability', peer, kind, support, reason, capabilities: entry });
    // Learned mid-typing that the peer takes is-composing: tell it now rather than at the next refresh.
    const indicator = this.#typing.get(peer);
    if (kind === 'composing' && support === 'yes' && indicator?.local === 'active') {
      indicator.sent(this.#now);
      this.#sendComposing(peer, indicator.activeStatus, this.#now);
    }
  }

  #probe(peer: string, now: number): void {
    this.#probed.add(peer);
    const outgoing = this.ua.request('OPTIONS', peer, { now });
    this.#inFlight.set(outgoing.id, { probe: peer });
  }

  // ---- states ---------------------------------------------------------------------------------------------------

  /**
   * Move a message (all recipients, or the one named) to `state` where the table allows; then its aggregate.
   * Each change is an event.
   */
  #advance(
    m: Outgoing,
    state: MessageState,
    detail: {
      status?: number | undefined;
      reason?: string | undefined;
      recipient?: string | undefined;
      local?: boolean | undefined;
    },
  ): void {
    const at = this.#now;
    for (const r of m.recipients) {
      if (detail.recipient !== undefined && r.key !== detail.recipient) continue;
      if (!transition(r.state, state)) continue;
      r.state = state;
      r.at = at;
      r.status = detail.status;
      r.reason = detail.reason;
      r.local = detail.local;
      if (m.group) this.#emitState(m, r);
    }
    const next = aggregate(m.recipients.map((r) => r.state));
    if (next === m.state || !transition(m.state, next)) return;
    m.state = next;
    m.at = at;
    const failed = m.recipients.find((r) => r.state === next);
    m.status = failed?.status;
    m.reason = failed?.reason;
    m.local = failed?.local;
    if (isFinalState(next)) this.#expiring.delete(m);
    if (next === 'expired' || next === 'failed') this.#unqueue(m);
    this.#emitState(m, undefined);
  }

  #emitState(m: Outgoing, r: Recipient | undefined): void {
    const s = r ?? m;
    this.#emit({
      type: 'message-state',
      id: m.id,
      state: s.state,
      at: s.at,
      recipient: r?.uri,
      status: s.status,
      reason: s.reason,
      local: s.local === true,
      message: snapshot(m),
    });
  }

  #unqueue(m: Outgoing): void {
    const q = this.#queues.get(m.queue);
    if (q === undefined) return;
    const i = q.jobs.findIndex((j) => j.kind === 'im' && j.message === m);
    if (i >= 0) q.jobs.splice(i, 1);
  }

  #runTimers(): void {
    const now = this.#now;
    for (const m of [...this.#expiring]) {
      if (m.expiresAt === undefined || m.expiresAt > now) continue;
      // RFC 3428 §4: past its Expires a message is not sent; one stored and never confirmed delivered (when
      // delivery notifications were asked for) will not be delivered by the store any more either.
      for (const r of m.recipients)
        if (canExpire(m, r))
          this.#advance(m, 'expired', { recipient: r.key, reason: 'expired before delivery' });
      if (!m.recipients.some((r) => canExpire(m, r))) this.#expiring.delete(m);
    }
    for (const [peer, indicator] of this.#typing) {
      const due = indicator.nextDeadline();
      if (due === undefined || due > now) continue;
      for (const event of indicator.handleTimers(now)) {
        if (event.type === 'send') this.#sendComposing(peer, event.status, now);
        else this.#emit({ type: 'composing', peer, state: event.state, at: now });
      }
      if (indicator.local === 'idle' && indicator.remote === 'idle') this.#typing.delete(peer);
    }
  }

  // ---- typing (RFC 3994) ----------------------------------------------------------------------------------------

  #indicator(peer: string): ComposingIndicator {
    let indicator = this.#typing.get(peer);
    if (indicator === undefined) {
      indicator = new ComposingIndicator(this.#composingOptions);
      this.#typing.set(peer, indicator);
    }
    return indicator;
  }

  #sendComposing(peer: string, status: IsComposing, now: number): void {
    const support = this.#peers.get(peer).composing;
    // RFC 3994 §6 (spirit): only to a peer that showed it takes the status; ask once while it is unknown.
    if (support === 'unknown' && status.state === 'active' && !this.#probed.has(peer)) this.#probe(peer, now);
    if (support !== 'yes') return;
    const q = this.#queue(peer, peer);
    for (let i = q.jobs.length - 1; i >= 0; i--) if (q.jobs[i]?.kind === 'composing') q.jobs.splice(i, 1);
    q.jobs.push({ kind: 'composing', status });
  }

  // ---- receiving --------------------------------------------------------------------------------------------------

  #onMessage(incoming: IncomingRequest): void {
    const now = this.#now;
    const request = incoming.request;
    // RFC 3428 / RFC 3261 §21.4.11: too large for us.
    if (request.bodyLength > this.#maxReceive) {
      incoming.reject(413, `Message Too Large (at most ${String(this.#maxReceive)} bytes)`);
      return;
    }
    if (request.bodyLength === 0) {
      incoming.reject(400, 'Empty MESSAGE');
      return;
    }
    const content = decodePagerBody(
      unlessMalformed(() => request.contentType),
      request.body,
    );
    const peer = peerKey(request.from.uri);
    switch (content.kind) {
      case 'refused':
        // RFC 3261 §21.4.13: 415 says what we take.
        incoming.reject(
          content.status,
          content.reason,
          content.status === 415 ? { Accept: this.ua.capabilities.accept.join(', ') } : undefined,
        );
        return;
      case 'composing': {
        incoming.accept();
        // RFC 3994: a peer that sends is-composing takes it.
        this.#learn(peer, 'composing', 'yes', 'it sent is-composing', false);
        const event = this.#indicator(peer).received(content.status.state, content.status.refresh, now);
        if (event?.type === 'remote') this.#emit({ type: 'composing', peer, state: event.state, at: now });
        return;
      }
      case 'imdn':
        incoming.accept();
        if (content.cpim !== undefined) this.#learn(peer, 'cpim', 'yes', 'it sent CPIM', false);
        for (const n of content.notifications) this.#onNotification(n, peer);
        return;
      case 'text':
        return this.#onText(incoming, content.text, content.cpim, content.group, peer);
    }
  }

  #onText(
    incoming: IncomingRequest,
    text: string,
    cpim: CpimMessage | undefined,
    group: readonly string[] | undefined,
    peer: string,
  ): void {
    const now = this.#now;
    const request = incoming.request;
    incoming.accept();
    const id = cpim?.messageId ?? `${request.callId}:${String(request.cseq.seq)}`;
    // Forking and retransmission (and a store re-delivering after a lost 200) bring the same message again.
    const key = cpim?.messageId !== undefined ? `${peer} ${cpim.messageId}` : id;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    if (this.#seen.size > MEMORY) this.#seen.delete(this.#seen.values().next().value as string);
    if (cpim !== undefined) {
      this.#learn(peer, 'cpim', 'yes', 'it sent CPIM', false);
      if (cpim.messageId !== undefined && cpim.dispositionNotification?.length)
        this.#learn(peer, 'imdn', 'yes', 'it asked for IMDN', false);
    }
    // RFC 3428 §7: Expires counts from Date when there is one, else from arrival (so it cannot have passed yet).
    const expires = unlessMalformed(() => request.expires);
    const date = unlessMalformed(() => request.date);
    const expiresAt = expires !== undefined ? (date ?? now) + expires * 1000 : undefined;
    const subject = cpim?.subjects[0]?.text ?? request.headers.get('subject');
    const displayRequested = cpim !== undefined && wantsNotification(cpim, 'display');
    const message: IncomingMessage = {
      id,
      from: peer,
      fromName: request.from.displayName ?? cpim?.from?.displayName,
      to: request.to.uri.aor,
      text,
      subject,
      sentAt: cpim?.dateTime ?? date,
      receivedAt: now,
      expiresAt,
      group: group === undefined ? undefined : { recipients: group },
      displayRequested,
    };
    if (expiresAt !== undefined && expiresAt < now) {
      this.#emit({ type: 'message-expired', message, request });
      return;
    }
    // RFC 3994 §3.3: the message ends the sender's composing.
    if (group === undefined) {
      const event = this.#typing.get(peer)?.messageReceived(now);
      if (event?.type === 'remote') this.#emit({ type: 'composing', peer, state: 'idle', at: now });
    }
    this.#emit({ type: 'message', message, request });
    if (cpim === undefined) return;
    // RFC 5438 §7.2.1.1: a delivery notification at once when asked; display ones wait for markDisplayed.
    const target = notificationTarget(cpim, request);
    if (wantsNotification(cpim, 'positive-delivery'))
      this.#notify(cpim, target, { kind: 'delivery', status: 'delivered' }, now);
    if (displayRequested) {
      this.#displayable.set(id, { cpim, target });
      if (this.#displayable.size > MEMORY)
        this.#displayable.delete(this.#displayable.keys().next().value as string);
    }
  }

  /** Queue a notification about a received IM to its sender (RFC 5438 §7.2.1). */
  #notify(
    cpim: CpimMessage,
    target: string,
    notification: ImdnMessageOptions['notification'],
    _now: number,
  ): void {
    const key = peerKey(target);
    if (this.#peers.get(key).imdn === 'no' || this.#peers.get(key).cpim === 'no') return;
    this.#queue(key, target).jobs.push({
      kind: 'imdn',
      notice: { im: cpim, from: { uri: this.#self }, notification, recipientUri: this.#self },
    });
  }

  /** RFC 5438 §7.1.2: a notification about one of our messages, matched by its imdn.Message-ID. */
  #onNotification(n: Imdn, from: string): void {
    const m = this.#messages.get(n.messageId);
    if (m === undefined) return;
    let recipient: string | undefined;
    if (m.group) {
      // For a group, recipient-uri (or original-recipient-uri) names whose copy it is; failing that, its sender.
      recipient = [n.recipientUri, n.originalRecipientUri, from]
        .map((u) => (u === undefined ? undefined : peerKey(u)))
        .find((k) => k !== undefined && m.recipients.some((r) => r.key === k));
      if (recipient === undefined) return;
    }
    const detail = { recipient, reason: undefined as string | undefined };
    switch (n.kind) {
      case 'delivery':
        if (n.status === 'delivered') return this.#advance(m, 'delivered', detail);
        detail.reason = `delivery ${n.status} (IMDN)`;
        return this.#advance(m, 'failed', detail);
      case 'display':
        if (n.status === 'displayed') this.#advance(m, 'displayed', detail);
        return;
      case 'processing':
        if (n.status === 'stored') this.#advance(m, 'stored', detail);
        return;
    }
  }
}

// ---- helpers --------------------------------------------------------------------------------------------------

/** May this recipient's copy still expire? Queued ones, and stored ones whose delivery we would hear of. */
function canExpire(m: Outgoing, r: Recipient): boolean {
  if (r.state === 'sending') return true;
  const waiting = r.state === 'stored' || (m.group && r.state === 'sent');
  return waiting && m.imdn.includes('positive-delivery');
}

function snapshot(m: Outgoing): OutgoingMessage {
  return {
    id: m.id,
    to: m.recipients.map((r) => r.uri),
    group: m.group,
    text: m.text,
    subject: m.subject,
    state: m.state,
    at: m.at,
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    status: m.status,
    reason: m.reason,
    local: m.local,
    imdn: m.imdn,
    attempt: m.attempt,
    format: m.format,
    recipients: m.recipients.map((r) => ({
      uri: r.uri,
      state: r.state,
      at: r.at,
      status: r.status,
      reason: r.reason,
      local: r.local,
    })),
  };
}

/** RFC 5438 §7.2.1: notifications go to the first IMDN-Record-Route, else the CPIM From; a non-SIP URI (im:) to the SIP From. */
function notificationTarget(cpim: CpimMessage, request: SipRequest): string {
  try {
    const route = cpim.headers.find((h) => h.ns === IMDN_HEADER_NS && h.name === 'IMDN-Record-Route');
    const uri = parseUri(route !== undefined ? parseCpimAddress(route.value).uri : (cpim.from?.uri ?? ''));
    if (uri.isSip) return uri.toString();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
  return request.from.uri.aor;
}

function acceptOf(response: SipResponse): MediaType[] | undefined {
  if (!response.headers.has('accept')) return undefined;
  return unlessMalformed(() => response.accept) ?? [];
}

function matches(range: MediaType, type: string, subtype: string): boolean {
  return (range.type === '*' || range.type === type) && (range.subtype === '*' || range.subtype === subtype);
}

/** API misuse: a URI that does not parse is the caller's TypeError. */
function checkUri(uri: string): void {
  if (typeof uri !== 'string' || unlessMalformed(() => parseUri(uri)) === undefined)
    throw new TypeError(`not a URI: ${String(uri)}`);
}
