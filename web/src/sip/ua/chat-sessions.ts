/**
 * Session-mode IM (RFC 4975 MSRP set up by an INVITE with SDP, RFC 3264 / RFC 4975 §8, RFC 7977 over WebSocket)
 * with file transfer (RFC 5547): a sans-IO core that wraps a UserAgent (or a Pager that wraps one) and is driven
 * like one, plus an MSRP side with connections of its own.
 *
 *   app: invite / accept / reject / end / send / setComposing / markDisplayed / update   ▲ takeEvents()
 *                          │                                                               │ session, message,
 *   ┌──────────────────────▼───────────────────────────────────────────────────────────────┴────────────────┐
 *   │ ChatSessions   sessions (chat-session.ts): INVITE usage, legs (one MsrpSession per dialog), texts     │
 *   │   ┌──────────────────────────────────────────────────┐   MSRP connections, one per session:          │
 *   │   │ Pager (optional) ── UserAgent                     │   msrp-connect ▶ driver ▶ msrpUp / msrpReceive  │
 *   │   │ INVITE, re-INVITE, UPDATE, PRACK, CANCEL, BYE …   │   takeMsrpTransmissions ◀ driver                │
 *   │   └──────────────────────────────────────────────────┘   AUTH to the relay (RFC 4976) → our a=path     │
 *   └─────────────────────────────────────────────────────────────────────────────────────────────────────────┘
 *      receive / handleTimers / flowUp / flowDown ▲   │ takeTransmissions, nextDeadline (the SIP driver's side)
 *
 * How it works. Each SIP input goes to the inner core first; then the UA events that belong to a session (its
 * INVITE's responses, an INVITE or a re-INVITE/UPDATE for it, CANCEL, PRACK, the end of its dialogs) are consumed
 * here and everything else is passed on (PagerEvents unchanged, bare UA events as `{ type: 'ua' }`). MSRP is
 * separate I/O: a session asks the driver for a connection (`msrp-connect`; a browser's goes to the gateway's
 * relay), AUTHs to the relay when there is one, and only then offers or answers, because its a=path is the relay's
 * Use-Path plus its own URI. Frames arriving on a connection are read by one framer and handed to the leg whose
 * peer sent them (From-Path): a forked INVITE's early sessions all arrive on the one connection of the session.
 *
 * Choices where the RFCs leave room (documented here once):
 *  - The caller's texts typed before the session is established go to every early session and to the one that
 *    finally answers (the seeds' scenario: "art thou hither?" is shown on each device that rang).
 *  - Incoming chat INVITEs are answered 180 with an early session (reliably when the caller supports 100rel) as
 *    soon as the MSRP path is ready; the 200 waits for the PRACK of that 180 (RFC 3262 §3). An INVITE without an
 *    offer is refused 488 (this client always offers). Only pushed files (sendonly offers) are taken.
 *  - A broken MSRP connection of an established session is replaced (new connection, new AUTH, new URI) and the
 *    new a=path goes out in a re-INVITE (or UPDATE); texts cut off by the break are sent again on the new leg, and a
 *    file resumes where the receiver's gap-free bytes end (a=file-range, the receiver's word wins).
 *  - A finished file transfer is ended (BYE) by its sender once the receiver's success report is in.
 */
import type { DigestCredentials } from '../auth/index.ts';
import type { Dialog } from '../dialog/index.ts';
import { InvalidStateError, ParseError } from '../errors.ts';
import {
  ComposingIndicator,
  IMDN_CONTENT_TYPE,
  ISCOMPOSING_CONTENT_TYPE,
  buildCpim,
  buildImdnMessage,
  buildIsComposing,
  wantsNotification,
  type ComposingIndicatorOptions,
  type ComposingState,
  type CpimMessage,
  type DispositionRequest,
  type Imdn,
  type ImdnMessageOptions,
  type IsComposing,
} from '../im/index.ts';
import { parseMediaType, parseUri, type SipMessage, type SipRequest } from '../message/index.ts';
import {
  MsrpFramer,
  MsrpSession,
  acceptsType,
  framePath,
  isMsrpIdent,
  msrpIdent,
  msrpUriEquals,
  type MsrpFrame,
  type MsrpFramerEvent,
  type MsrpSessionEvent,
} from '../msrp/index.ts';
import {
  answerMsrpOffer,
  createMsrpOffer,
  parseSdp,
  readMsrpAnswer,
  readMsrpMedia,
  serializeSdp,
  type FileTransferAttributes,
  type MsrpMedia,
  type MsrpMediaInit,
  type NegotiatedMsrp,
  type SessionDescription,
} from '../sdp/index.ts';
import { randomToken, type FlowInfo } from '../transaction/index.ts';
import {
  messageSnapshot,
  snapshot,
  transition,
  type ChatSessionSnapshot,
  type Leg,
  type OutMessage,
  type Session,
  type SessionMessage,
} from './chat-session.ts';
import type { UserAgentEvent, UserAgentTransmission } from './events.ts';
import {
  FileTransfer,
  hashSource,
  type FileHasher,
  type FileOffer,
  type FileTransferSnapshot,
} from './file-transfer.ts';
import type { IncomingRequest } from './handles.ts';
import { isFinalState, transition as messageTransition, type MessageState } from './message-state.ts';
import { decodePagerBody } from './pager-content.ts';
import { peerKey, type IncomingMessage, type Pager, type PagerEvent } from './pager.ts';
import { advance, earliest } from './ua-timers.ts';
import type { UserAgent } from './user-agent.ts';

export interface ChatMsrpOptions {
  /** the relay's MSRP URI to AUTH to (RFC 4976), e.g. `msrp://gateway.example.com:443;ws`; none: no relay */
  readonly relay?: string;
  /** digest credentials for the relay's AUTH challenge */
  readonly credentials?: DigestCredentials;
  /** the AUTH Expires asked for, seconds */
  readonly expires?: number;
  /** our MSRP URIs: host (`<random>.invalid` by default), port (none by default), transport (`ws` by default) */
  readonly host?: string;
  readonly port?: number;
  readonly transport?: 'ws' | 'tcp';
  /**
   * We listen (a TCP endpoint, RFC 4975 §5.4 passive): no `msrp-connect` events; the driver hands connections it
   * accepted to `msrpAccept`, and each is bound to the session its first request names in To-Path.
   */
  readonly passive?: boolean;
  /** the largest chunk body we send (16 KiB by default) */
  readonly chunkSize?: number;
}

export interface ChatSessionsOptions {
  readonly ua: UserAgent;
  /** a Pager wrapping `ua`: it is driven instead of the UA and its events pass through */
  readonly pager?: Pager;
  /** uniform in [0, 1): session ids, MSRP URIs and idents */
  readonly random: () => number;
  /** shown as the CPIM From display name */
  readonly displayName?: string;
  readonly msrp?: ChatMsrpOptions;
  /** hashes files for a=file-selector and checks received ones (RFC 5547 §6); the core has no crypto */
  readonly hasher?: FileHasher;
  /** our a=max-size (100 MiB by default); bigger messages are refused 413 by MSRP */
  readonly maxSize?: number;
  /** incoming chat: 180 with an early session once the MSRP path is ready (default true) */
  readonly earlySession?: boolean;
  /** outgoing: CANCEL an INVITE nobody answered within this many ms (default 120 000) */
  readonly ringTimeout?: number;
  /** how we send our own renegotiations once established: re-INVITE (default) or UPDATE (RFC 3311) */
  readonly updateMethod?: 'INVITE' | 'UPDATE';
  /** a file whose receiver's connection broke fails unless the receiver resumes it within this many ms (60 000) */
  readonly resumeTimeout?: number;
  readonly composing?: ComposingIndicatorOptions;
  /** ended sessions kept for snapshots (default 100) */
  readonly keepEnded?: number;
}

export interface SessionSendOptions {
  /** RFC 5438: ask for delivery and display notifications (the text then goes CPIM-wrapped) */
  readonly imdn?: boolean | readonly DispositionRequest[];
  /** the message id (its MSRP Message-ID and imdn.Message-ID): an MSRP ident, random by default */
  readonly id?: string;
}

export type ChatSessionEvent =
  /** A session was created or changed (state, legs, ringing, MSRP link, file progress …). */
  | { readonly type: 'session'; readonly session: ChatSessionSnapshot }
  /** An INVITE for a chat or a file: accept, reject, or let it ring (a chat rings with an early session). */
  | { readonly type: 'incoming-session'; readonly session: ChatSessionSnapshot; readonly request: SipRequest }
  /** A text to show (once per id), received on a session. */
  | { readonly type: 'message'; readonly sessionId: string; readonly message: IncomingMessage }
  /** An outgoing text of a session changed state (the pager's states, RFC 5438). */
  | {
      readonly type: 'message-state';
      readonly sessionId: string;
      readonly id: string;
      readonly state: MessageState;
      readonly at: number;
      readonly status: number | undefined;
      readonly reason: string | undefined;
      readonly message: SessionMessage;
    }
  /** RFC 3994 inside the session: the peer started or stopped typing. */
  | {
      readonly type: 'composing';
      readonly sessionId: string;
      readonly peer: string;
      readonly state: ComposingState;
      readonly at: number;
    }
  /** Receiving a file: bytes at `offset` (from 1), each once; copy them to keep them. */
  | {
      readonly type: 'file-data';
      readonly sessionId: string;
      readonly transferId: string;
      readonly offset: number;
      readonly bytes: Uint8Array;
    }
  /** A file transfer moved (bytes, state, verification). */
  | { readonly type: 'file'; readonly sessionId: string; readonly transfer: FileTransferSnapshot }
  /** Driver: open an MSRP connection (a WebSocket to the relay, subprotocol `msrp`), then call msrpUp. */
  | { readonly type: 'msrp-connect'; readonly connection: string; readonly sessionId: string }
  /** Driver: write what takeMsrpTransmissions still gives for this connection, then close it. */
  | { readonly type: 'msrp-close'; readonly connection: string };

export type ChatSessionsEvent = ChatSessionEvent | PagerEvent;

interface Conn {
  readonly id: string;
  session: Session | undefined;
  readonly framer: MsrpFramer;
  up: boolean;
  closing: boolean;
  /** streamed requests being read: transaction id → the leg taking them */
  readonly streaming: Map<string, MsrpSession>;
  /** requests from a peer no leg knows yet (a fork's SEND before its 18x): replayed when the leg appears */
  readonly held: MsrpFramerEvent[];
  heldBytes: number;
}

type Owned = { readonly session: Session; readonly kind: 'invite' | 'update' | 'bye' };

const SDP = 'application/sdp';
/** RFC 4975 §8.6 / RFC 3862 / RFC 3994 / RFC 5438: what a chat takes, and inside message/cpim. */
const CHAT_TYPES: readonly string[] = ['message/cpim', 'text/plain', ISCOMPOSING_CONTENT_TYPE];
const WRAPPED_TYPES: readonly string[] = ['text/plain', IMDN_CONTENT_TYPE, ISCOMPOSING_CONTENT_TYPE];
const TEXT = 'text/plain;charset=utf-8';
const ALL_IMDN: readonly DispositionRequest[] = ['positive-delivery', 'negative-delivery', 'display'];
/** bytes of early frames held for a leg not known yet (a window's worth) */
const MAX_HELD = 1 << 20;

export class ChatSessions {
  readonly ua: UserAgent;
  readonly pager: Pager | undefined;
  readonly #random: () => number;
  readonly #displayName: string | undefined;
  readonly #self: string;
  readonly #msrp: ChatMsrpOptions;
  readonly #host: string;
  readonly #hasher: FileHasher | undefined;
  readonly #maxSize: number;
  readonly #earlySession: boolean;
  readonly #ringTimeout: number;
  readonly #updateMethod: 'INVITE' | 'UPDATE';
  readonly #resumeTimeout: number;
  readonly #composing: ComposingIndicatorOptions | undefined;
  readonly #keepEnded: number;
  #now: number;
  #events: ChatSessionsEvent[] = [];
  #counter = 0;
  readonly #sessions = new Map<string, Session>();
  readonly #conns = new Map<string, Conn>();
  /** our requests (INVITE, re-INVITE/UPDATE, BYE) by OutgoingRequest id */
  readonly #owned = new Map<string, Owned>();
  /** legs replaced by a renegotiation, drained of what they still had to write */
  readonly #retired = new Map<string, MsrpSession[]>();

  constructor(options: ChatSessionsOptions) {
    if (typeof options.random !== 'function') throw new TypeError('ChatSessions needs a random() option');
    if (options.pager !== undefined && options.pager.ua !== options.ua)
      throw new TypeError('the pager must wrap the same UserAgent');
    this.ua = options.ua;
    this.pager = options.pager;
    this.#random = options.random;
    this.#displayName = options.displayName;
    this.#self = options.ua.aor.aor;
    this.#msrp = options.msrp ?? {};
    this.#host = this.#msrp.host ?? `${randomToken(this.#random, 12)}.invalid`;
    if (this.#msrp.relay !== undefined && this.#msrp.passive === true)
      throw new TypeError('a passive (listening) endpoint uses no relay');
    this.#hasher = options.hasher;
    this.#maxSize = options.maxSize ?? 100 << 20;
    this.#earlySession = options.earlySession ?? true;
    this.#ringTimeout = options.ringTimeout ?? 120_000;
    this.#updateMethod = options.updateMethod ?? 'INVITE';
    this.#resumeTimeout = options.resumeTimeout ?? 60_000;
    this.#composing = options.composing;
    new ComposingIndicator(options.composing); // refuses bad timing options here
    this.#keepEnded = options.keepEnded ?? 100;
    this.#now = options.ua.now;
  }

  // ---- snapshots ----------------------------------------------------------------------------------------------

  session(id: string): ChatSessionSnapshot | undefined {
    const s = this.#sessions.get(id);
    return s === undefined ? undefined : snapshot(s);
  }

  get sessions(): ChatSessionSnapshot[] {
    return [...this.#sessions.values()].map(snapshot);
  }

  /** An outgoing text of any session. */
  message(id: string): SessionMessage | undefined {
    for (const s of this.#sessions.values()) {
      const m = s.messages.get(id);
      if (m !== undefined) return messageSnapshot(s.id, m);
    }
    return undefined;
  }

  remoteComposing(sessionId: string): ComposingState {
    return this.#sessions.get(sessionId)?.typing.remote ?? 'idle';
  }

  // ---- app commands ---------------------------------------------------------------------------------------------

  /**
   * Start a session with `target`: a chat, or with `file` a file transfer (RFC 5547 push). The MSRP connection
   * comes first (`msrp-connect`), then the INVITE. Returns the session id. Throws TypeError on a bad URI or file.
   */
  invite(target: string, options: { readonly file?: FileOffer; readonly now?: number } = {}): string {
    checkUri(target);
    const file = options.file;
    if (file !== undefined) {
      if (typeof file.name !== 'string' || file.name === '') throw new TypeError('a file needs a name');
      if (!Number.isSafeInteger(file.source.size) || file.source.size < 0)
        throw new TypeError('bad file size');
    }
    return this.#command(options.now, (t) => {
      const transfer =
        file === undefined
          ? undefined
          : new FileTransfer({
              transferId: randomToken(this.#random, 24),
              direction: 'send',
              source: file.source,
              selector: {
                name: file.name,
                type: file.type ?? 'application/octet-stream',
                size: file.source.size,
                // RFC 5547 §5: the hash lets the receiver check the file; the app's, or the injected hasher's.
                hash:
                  file.hash ??
                  (this.#hasher === undefined ? undefined : hashSource(this.#hasher, file.source)),
              },
            });
      const s = this.#newSession('outgoing', peerKey(target), target, t, transfer);
      this.#emitSession(s);
      this.#connect(s, t);
      return s.id;
    });
  }

  /** Answer an incoming session 200 (once the MSRP path is ready and any reliable 180 is PRACKed). */
  accept(id: string, now?: number): void {
    const s = this.#incomingSession(id);
    this.#command(now, (t) => {
      s.acceptWanted = true;
      if (s.msrp === 'up') this.#answer(s, 200, t);
    });
  }

  /** Refuse an incoming session: 486 Busy Here (default), 603 Decline (do not disturb), 480 … */
  reject(id: string, status = 486, now?: number): void {
    const s = this.#incomingSession(id);
    if (!Number.isInteger(status) || status < 300 || status > 699)
      throw new TypeError(`bad status ${status}`);
    this.#command(now, (t) => {
      s.incoming?.reject(status, undefined, undefined, t);
      this.#terminate(s, status, status === 603 ? 'declined' : status === 486 ? 'busy' : 'rejected', t);
    });
  }

  /**
   * End a session: CANCEL an outgoing one not yet answered, decline (603) an incoming one not yet answered, BYE an
   * established one (a file still being sent is aborted first, RFC 4975 `#`). Ending an ended session does nothing.
   */
  end(id: string, now?: number): void {
    const s = this.#get(id);
    if (s.state === 'Terminated') return;
    this.#command(now, (t) => {
      this.#end(s, 'ended', t);
    });
  }

  /** Send a text on a session (queued until there is a leg to send it on). Returns its id. */
  send(id: string, text: string, options: SessionSendOptions = {}, now?: number): string {
    const s = this.#get(id);
    if (s.state === 'Terminated') throw new InvalidStateError(`session ${id} has ended`);
    if (s.kind !== 'chat') throw new InvalidStateError(`session ${id} carries a file, not texts`);
    if (typeof text !== 'string') throw new TypeError('the message text must be a string');
    const mid = options.id ?? msrpIdent(this.#random);
    if (!isMsrpIdent(mid)) throw new TypeError(`bad message id ${mid} (an MSRP ident, RFC 4975 §9)`);
    const imdn = options.imdn === true ? ALL_IMDN : options.imdn === false ? [] : [...(options.imdn ?? [])];
    return this.#command(now, (t) => {
      if (s.messages.has(mid)) return mid;
      const m: OutMessage = {
        id: mid,
        text,
        imdn,
        createdAt: t,
        state: 'sending',
        at: t,
        status: undefined,
        reason: undefined,
        legs: new Set(),
        failures: 0,
      };
      s.messages.set(mid, m);
      this.#emitState(s, m);
      // RFC 3994 §3.2: sending the message ends composition; the message itself tells the peer.
      s.typing.messageSent(t);
      if (s.state !== 'Established') s.early.push(m);
      const legs = [...s.legs.values()];
      if (s.state === 'Established' && legs.every((l) => l.msrp.closed)) s.resend.push(m);
      for (const leg of legs) if (!leg.msrp.closed) this.#sendText(s, leg, m, t);
      return mid;
    });
  }

  /** RFC 5438 §7.2.1.2: the user saw these texts of a session; display notifications go where they were asked. */
  markDisplayed(id: string, ids: Iterable<string>, now?: number): void {
    const s = this.#get(id);
    this.#command(now, (t) => {
      for (const mid of ids) {
        const cpim = s.displayable.get(mid);
        if (cpim === undefined) continue;
        s.displayable.delete(mid);
        this.#notify(s, cpim, { kind: 'display', status: 'displayed' }, t);
      }
    });
  }

  /** RFC 3994 inside the session: active on the first keystroke and refreshed, idle on stop or after 15 s. */
  setComposing(id: string, typing: boolean, now?: number): void {
    const s = this.#get(id);
    this.#command(now, (t) => {
      if (s.state === 'Terminated') return;
      if (typing) {
        if (s.typing.typed(t)) this.#sendComposing(s, s.typing.activeStatus, t);
        return;
      }
      const idle = s.typing.stopped(t);
      if (idle !== undefined) this.#sendComposing(s, idle, t);
    });
  }

  /**
   * Renegotiate (RFC 3264 §8): a new offer with our current path and, when given, new accept-types, in a
   * re-INVITE or an UPDATE (RFC 3311; always UPDATE in an early dialog).
   */
  update(
    id: string,
    options: { readonly acceptTypes?: readonly string[]; readonly method?: 'INVITE' | 'UPDATE' } = {},
    now?: number,
  ): void {
    const s = this.#get(id);
    if (s.state !== 'Established' && s.state !== 'Early')
      throw new InvalidStateError(`session ${id} is ${s.state}, not Early or Established`);
    if (options.acceptTypes !== undefined && options.acceptTypes.length === 0)
      throw new TypeError('accept-types cannot be empty');
    this.#command(now, (t) => {
      if (options.acceptTypes !== undefined) s.acceptTypes = [...options.acceptTypes];
      this.#sendUpdate(s, t, options.method);
    });
  }

  // ---- the SIP driver's side (SansIoCore) ------------------------------------------------------------------------

  receive(data: Uint8Array | string, now: number, flow?: FlowInfo): void {
    (this.pager ?? this.ua).receive(data, now, flow);
    this.#settle();
  }

  handleTimers(now: number): void {
    (this.pager ?? this.ua).handleTimers(now);
    const t = this.#at(now);
    for (const s of [...this.#sessions.values()]) {
      for (const m of [s.anchor, ...[...s.legs.values()].map((l) => l.msrp)]) {
        const due = m.nextDeadline();
        if (due !== undefined && due <= t) m.handleTimers(t);
      }
      if (s.ringDeadline !== undefined && s.ringDeadline <= t) {
        // The caller's own limit on ringing: CANCEL (RFC 3261 §9.1), reported as no answer.
        s.ringDeadline = undefined;
        this.#end(s, 'no answer', t, 408);
      }
      if (s.resumeDeadline !== undefined && s.resumeDeadline <= t) {
        s.resumeDeadline = undefined;
        s.file?.transition('failed', 'the peer did not come back');
        this.#emitFile(s);
        this.#end(s, 'transfer failed', t);
      }
      if (s.retryAt !== undefined && s.retryAt <= t) {
        s.retryAt = undefined;
        this.#sendUpdate(s, t);
      }
      const due = s.typing.nextDeadline();
      if (due !== undefined && due <= t)
        for (const e of s.typing.handleTimers(t)) {
          if (e.type === 'send') this.#sendComposing(s, e.status, t);
          else this.#emit({ type: 'composing', sessionId: s.id, peer: s.peer, state: e.state, at: t });
        }
    }
    this.#settle();
  }

  nextDeadline(): number | undefined {
    let next = (this.pager ?? this.ua).nextDeadline();
    const consider = (t: number | undefined): void => {
      next = earliest(next, t);
    };
    for (const s of this.#sessions.values()) {
      consider(s.anchor.nextDeadline());
      for (const leg of s.legs.values()) consider(leg.msrp.nextDeadline());
      consider(s.ringDeadline);
      consider(s.retryAt);
      consider(s.resumeDeadline);
      consider(s.typing.nextDeadline());
    }
    return next;
  }

  takeTransmissions(): UserAgentTransmission[] {
    this.#settle();
    return (this.pager ?? this.ua).takeTransmissions();
  }

  takeEvents(): ChatSessionsEvent[] {
    this.#settle();
    const out = this.#events;
    this.#events = [];
    return out;
  }

  flowUp(now: number, flow: FlowInfo): void {
    (this.pager ?? this.ua).flowUp(now, flow);
    this.#settle();
  }

  flowDown(now: number): void {
    (this.pager ?? this.ua).flowDown(now);
    this.#settle();
  }

  get keepAliveInterval(): number | undefined {
    return this.ua.keepAliveInterval;
  }

  // ---- the MSRP driver's side ---------------------------------------------------------------------------------

  /** The connection asked for by `msrp-connect` is open: AUTH to the relay, or go ahead. */
  msrpUp(connection: string, now: number): void {
    const c = this.#conns.get(connection);
    if (c === undefined || c.up || c.closing) return;
    this.#command(now, (t) => {
      c.up = true;
      const s = c.session;
      if (s === undefined || s.conn !== c.id) return;
      s.anchor.flowUp(t, { flowId: c.id });
      for (const leg of s.legs.values()) leg.msrp.flowUp(t, { flowId: c.id });
      const relay = this.#msrp.relay;
      if (relay === undefined) return this.#ready(s, t);
      // RFC 4976 §5.1: AUTH first; the 200's Use-Path goes in front of our URI in a=path.
      s.anchor.authenticate(relay, {
        credentials: this.#msrp.credentials ?? { username: this.ua.aor.user ?? '', password: '' },
        expires: this.#msrp.expires,
        now: t,
      });
    });
  }

  /** A passive endpoint accepted a connection: it is bound to the session its first request is for. */
  msrpAccept(connection: string, now: number): void {
    if (this.#conns.has(connection)) throw new InvalidStateError(`connection ${connection} is known`);
    this.#command(now, () => {
      this.#conns.set(connection, newConn(connection, undefined, true));
    });
  }

  /** The connection closed or failed: its session's legs end (RFC 4975 §5.4); an established one reconnects. */
  msrpDown(connection: string, now: number): void {
    const c = this.#conns.get(connection);
    if (c === undefined) return;
    this.#command(now, (t) => {
      this.#lost(c, t);
    });
  }

  /** Bytes from a connection (a stream read, or one WebSocket message). Never throws at what the peer sent. */
  msrpReceive(connection: string, data: Uint8Array | string, now: number): void {
    const c = this.#conns.get(connection);
    if (c === undefined) return;
    this.#command(now, (t) => {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      for (const ev of c.framer.push(bytes)) this.#onFrame(c, ev, t);
    });
  }

  /**
   * What to write on a connection, in order; `budget` bounds the chunk bytes (the room in the socket's buffer).
   * After `msrp-close`, what is left (a last REPORT, an abort) comes here once more.
   */
  takeMsrpTransmissions(connection: string, budget = Infinity): Uint8Array[] {
    const c = this.#conns.get(connection);
    const s = c?.session;
    if (c === undefined || s === undefined) return [];
    const out: Uint8Array[] = [];
    let room = budget;
    const take = (m: MsrpSession): void => {
      for (const t of m.takeTransmissions(Math.max(room, 0))) {
        out.push(t.data);
        room -= t.data.length;
      }
    };
    for (const m of this.#retired.get(c.id) ?? []) take(m);
    this.#retired.delete(c.id);
    take(s.anchor);
    for (const leg of s.legs.values()) take(leg.msrp);
    if (c.closing && out.length === 0) this.#conns.delete(c.id);
    return out;
  }

  /** The connections a driver should have open. */
  get msrpConnections(): string[] {
    return [...this.#conns.values()].filter((c) => !c.closing).map((c) => c.id);
  }

  // ---- the step -------------------------------------------------------------------------------------------------

  #at(now: number | undefined): number {
    this.#now = advance(this.#now, this.ua.now, now);
    return this.#now;
  }

  #command<T>(now: number | undefined, work: (now: number) => T): T {
    const t = this.#at(now);
    this.#settle();
    const result = work(t);
    this.#settle();
    return result;
  }

  /** Drain the inner core's events and every MSRP session's, until all are quiet. */
  #settle(): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const t = this.#at(undefined);
      let n = 0;
      if (this.pager !== undefined) {
        for (const e of this.pager.takeEvents()) {
          n++;
          if (e.type !== 'ua' || !this.#onUaEvent(e.event, t)) this.#emit(e);
        }
      } else {
        for (const e of this.ua.takeEvents()) {
          n++;
          if (!this.#onUaEvent(e, t)) this.#emit({ type: 'ua', event: e });
        }
      }
      for (const s of [...this.#sessions.values()]) {
        for (const e of s.anchor.takeEvents()) {
          n++;
          this.#onAnchorEvent(s, e, t);
        }
        for (const leg of [...s.legs.values()])
          for (const e of leg.msrp.takeEvents()) {
            n++;
            this.#onLegEvent(s, leg, e, t, false);
          }
      }
      if (n === 0) return;
    }
  }

  #emit(event: ChatSessionsEvent): void {
    this.#events.push(event);
  }

  #emitSession(s: Session): void {
    this.#emit({ type: 'session', session: snapshot(s) });
  }

  #emitState(s: Session, m: OutMessage): void {
    const { id, state, at, status, reason } = m;
    this.#emit({
      type: 'message-state',
      sessionId: s.id,
      id,
      state,
      at,
      status,
      reason,
      message: messageSnapshot(s.id, m),
    });
  }

  #emitFile(s: Session): void {
    if (s.file !== undefined) this.#emit({ type: 'file', sessionId: s.id, transfer: s.file.snapshot() });
  }

  // ---- sessions -------------------------------------------------------------------------------------------------

  #get(id: string): Session {
    const s = this.#sessions.get(id);
    if (s === undefined) throw new InvalidStateError(`no session ${id}`);
    return s;
  }

  #incomingSession(id: string): Session {
    const s = this.#get(id);
    if (s.direction !== 'incoming' || (s.state !== 'Incoming' && s.state !== 'Early'))
      throw new InvalidStateError(`session ${id} is not an unanswered incoming session`);
    return s;
  }

  #newSession(
    direction: 'outgoing' | 'incoming',
    peer: string,
    target: string,
    now: number,
    file: FileTransfer | undefined,
  ): Session {
    const localUri = this.#localUri();
    const s: Session = {
      id: `cs${String(++this.#counter)}-${randomToken(this.#random, 8)}`,
      kind: file === undefined ? 'chat' : 'file',
      direction,
      peer,
      target,
      createdAt: now,
      state: direction === 'outgoing' ? 'Connecting' : 'Incoming',
      at: now,
      status: undefined,
      reason: undefined,
      ringing: false,
      conn: '',
      localUri,
      anchor: new MsrpSession({ localUri, random: this.#random }),
      msrp: 'connecting',
      sdpId: String(Math.floor(this.#random() * 1e9) + 1),
      version: 1,
      acceptTypes: file === undefined ? CHAT_TYPES : [file.selector.type ?? 'application/octet-stream'],
      invite: undefined,
      incoming: undefined,
      offer: undefined,
      answer: undefined,
      negotiated: undefined,
      acceptWanted: false,
      prackPending: false,
      update: undefined,
      updateWanted: false,
      retryAt: undefined,
      ringDeadline: undefined,
      resumeDeadline: undefined,
      resume: undefined,
      legs: new Map(),
      messages: new Map(),
      early: [],
      resend: [],
      seen: new Set(),
      displayable: new Map(),
      typing: new ComposingIndicator(this.#composing),
      file,
    };
    this.#sessions.set(s.id, s);
    return s;
  }

  /** RFC 4975 §6, RFC 7977 §5.2: our URI for one session: a fresh session id on our host. */
  #localUri(): string {
    const { port, transport = 'ws' } = this.#msrp;
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `msrp://${host}${port === undefined ? '' : `:${String(port)}`}/${randomToken(this.#random, 16)};${transport}`;
  }

  /** Get an MSRP path: ask the driver for a connection (then AUTH), or, listening, be ready at once. */
  #connect(s: Session, now: number): void {
    s.msrp = 'connecting';
    if (this.#msrp.passive === true) {
      s.msrp = 'up';
      this.#ready(s, now);
      return;
    }
    const c = newConn(`m${String(++this.#counter)}-${randomToken(this.#random, 6)}`, s, false);
    s.conn = c.id;
    this.#conns.set(c.id, c);
    this.#emit({ type: 'msrp-connect', connection: c.id, sessionId: s.id });
  }

  /** The MSRP path is known (a=path): go on with whatever waited for it. */
  #ready(s: Session, now: number): void {
    s.msrp = 'up';
    if (s.state === 'Connecting') this.#sendInvite(s, now);
    else if (s.state === 'Incoming') {
      if (s.acceptWanted) this.#answer(s, 200, now);
      else if (this.#earlySession && s.kind === 'chat') this.#answer(s, 180, now);
    } else if (s.updateWanted) this.#sendUpdate(s, now);
    this.#emitSession(s);
  }

  #terminate(s: Session, status: number | undefined, reason: string, now: number): void {
    if (!transition(s, 'Terminated', now)) return;
    s.status = status;
    s.reason = reason;
    s.ringDeadline = undefined;
    s.retryAt = undefined;
    // RFC 4975 §5.4 / §8: the MSRP session does not outlive the SIP session.
    for (const leg of s.legs.values()) leg.msrp.close(now);
    s.anchor.close(now);
    for (const leg of s.legs.values())
      for (const e of leg.msrp.takeEvents()) this.#onLegEvent(s, leg, e, now, false);
    for (const m of s.messages.values())
      if (m.state === 'sending') this.#advance(s, m, 'failed', undefined, `session ${reason}`);
    const file = s.file;
    if (file !== undefined && !file.finished) {
      const stopped = ['ended', 'ended by the peer', 'cancelled'].includes(reason);
      file.transition(stopped ? 'cancelled' : 'failed', reason);
      this.#emitFile(s);
    }
    this.#closeConn(s);
    s.msrp = 'closed';
    this.#emitSession(s);
    this.#forgetEnded();
  }

  #closeConn(s: Session): void {
    const c = this.#conns.get(s.conn);
    if (c === undefined || c.closing) return;
    c.closing = true;
    this.#emit({ type: 'msrp-close', connection: c.id });
  }

  #forgetEnded(): void {
    const ended = [...this.#sessions.values()].filter((s) => s.state === 'Terminated');
    for (const s of ended.slice(0, Math.max(0, ended.length - this.#keepEnded))) this.#sessions.delete(s.id);
  }

  /** end(): CANCEL, decline or BYE, as the state allows. */
  #end(s: Session, reason: string, now: number, status?: number): void {
    switch (s.state) {
      case 'Connecting':
        return this.#terminate(s, status, reason, now);
      case 'Calling':
      case 'Early':
        if (s.direction === 'outgoing') {
          // RFC 3261 §9.1: CANCEL; the 487 (or a 2xx that crossed it, then BYEd) comes later.
          if (s.invite?.response === undefined) s.invite?.cancel(now);
          return this.#terminate(s, status ?? 487, reason === 'ended' ? 'cancelled' : reason, now);
        }
        s.incoming?.reject(603, undefined, undefined, now);
        return this.#terminate(s, 603, reason === 'ended' ? 'declined' : reason, now);
      case 'Incoming':
        if (s.incoming?.state === 'Pending' || s.incoming?.state === 'Proceeding')
          s.incoming.reject(603, undefined, undefined, now);
        return this.#terminate(s, 603, reason === 'ended' ? 'declined' : reason, now);
      case 'Established': {
        const id = s.file?.messageId;
        if (id !== undefined) for (const leg of s.legs.values()) leg.msrp.abort(id, now);
        for (const leg of s.legs.values()) this.#bye(s, leg.dialog, now);
        return this.#terminate(s, status, reason, now);
      }
      case 'Terminated':
        return;
    }
  }

  #bye(s: Session, dialog: Dialog, now: number): void {
    if (dialog.state === 'Terminated') return;
    const out = this.ua.request('BYE', dialog, { now });
    this.#owned.set(out.id, { session: s, kind: 'bye' });
  }

  // ---- SDP ------------------------------------------------------------------------------------------------------

  /** Our media line (RFC 4975 §8): path, accept-types, max-size, setup and, for a file, RFC 5547's attributes. */
  #media(s: Session, range?: { start: number; stop: number | undefined }): MsrpMediaInit {
    const file = s.file;
    return {
      path: s.anchor.localPath,
      acceptTypes: file?.direction === 'receive' ? ['*'] : s.acceptTypes,
      acceptWrappedTypes: s.kind === 'chat' ? WRAPPED_TYPES : undefined,
      maxSize: this.#maxSize,
      // RFC 6135: a browser cannot listen, so it is always the active side; a listening endpoint is passive.
      setup: this.#msrp.passive === true ? 'passive' : 'active',
      direction: file === undefined ? 'sendrecv' : file.direction === 'send' ? 'sendonly' : 'recvonly',
      file: file === undefined ? undefined : this.#fileAttributes(file, range),
    };
  }

  #fileAttributes(
    file: FileTransfer,
    range?: { start: number; stop: number | undefined },
  ): FileTransferAttributes {
    return { selector: file.selector, transferId: file.transferId, disposition: 'attachment', range };
  }

  /** The range a renegotiation of a file session asks for: what the receiver lacks, or what is not acked yet. */
  #resumeRange(s: Session): { start: number; stop: number | undefined } | undefined {
    const file = s.file;
    if (file === undefined || file.state !== 'transferring') return undefined;
    return { start: file.bytes + 1, stop: file.size };
  }

  #offer(s: Session): SessionDescription {
    return createMsrpOffer({
      sessionId: s.sdpId,
      sessionVersion: String(s.version),
      ...this.#media(s, this.#resumeRange(s)),
    });
  }

  #answerTo(s: Session, offer: SessionDescription): ReturnType<typeof answerMsrpOffer> {
    return answerMsrpOffer(offer, {
      sessionId: s.sdpId,
      sessionVersion: String(s.version),
      local: (offered: MsrpMedia) => {
        const file = s.file;
        if (file === undefined) return offered.file === undefined ? this.#media(s) : undefined;
        if (offered.file === undefined) return undefined;
        // RFC 5547 §8: the answer repeats the file's attributes; a resumed transfer's range is the receiver's.
        const range =
          file.direction === 'receive' && file.state === 'transferring'
            ? { start: file.resumeFrom, stop: file.size }
            : offered.file.range;
        return this.#media(s, range);
      },
    });
  }

  // ---- UAC --------------------------------------------------------------------------------------------------------

  #sendInvite(s: Session, now: number): void {
    const offer = this.#offer(s);
    s.offer = offer;
    const invite = this.ua.request('INVITE', s.target, { body: serializeSdp(offer), contentType: SDP, now });
    s.invite = invite;
    this.#owned.set(invite.id, { session: s, kind: 'invite' });
    transition(s, 'Calling', now);
    s.ringDeadline = now + this.#ringTimeout;
  }

  /** A provisional response to our INVITE: with SDP and a dialog, an early session with that fork. */
  #onProgress(s: Session, response: SipMessage, dialog: Dialog | undefined, now: number): void {
    if (s.state === 'Terminated' || response.kind !== 'response') return;
    if (response.status >= 180) s.ringing = true;
    const negotiated = dialog === undefined ? undefined : this.#readAnswer(s, response);
    if (dialog !== undefined && negotiated !== undefined && !s.legs.has(dialog.key)) {
      this.#newLeg(s, dialog, negotiated, true, now);
      transition(s, 'Early', now);
    }
    this.#emitSession(s);
  }

  #onInviteFinal(
    s: Session,
    response: SipMessage,
    dialog: Dialog | undefined,
    local: boolean,
    now: number,
  ): void {
    if (response.kind !== 'response') return;
    const status = response.status;
    s.ringDeadline = undefined;
    if (status >= 300) {
      // RFC 3261 §13.2.2.3: a failure ends the attempt: 486 busy, 603 declined, 487 cancelled, 408 no answer …
      const reason =
        status === 486
          ? 'busy'
          : status === 603
            ? 'declined'
            : status === 487
              ? 'cancelled'
              : status === 408 && local
                ? 'no answer'
                : `${String(status)} ${response.reason}`;
      this.#terminate(s, status, reason, now);
      return;
    }
    if (dialog === undefined) return;
    if (s.state === 'Terminated') {
      // A 2xx that crossed our CANCEL: the core ACKed it; the session is over, so BYE it (RFC 3261 §15).
      this.#bye(s, dialog, now);
      return;
    }
    // RFC 3261 §13.2.2.4: the dialog that answered is the session; the other forks' early sessions end.
    for (const [key, leg] of s.legs)
      if (key !== dialog.key) {
        leg.msrp.close(now);
        s.legs.delete(key);
      }
    let leg = s.legs.get(dialog.key);
    const negotiated = this.#readAnswer(s, response);
    if (negotiated !== undefined && (leg === undefined || changed(leg.negotiated, negotiated)))
      leg = this.#newLeg(s, dialog, negotiated, false, now);
    if (leg === undefined) {
      // RFC 3261 §13.2.1: the answer must be in the 2xx when no reliable provisional carried it.
      this.#bye(s, dialog, now);
      this.#terminate(s, undefined, 'no usable SDP answer', now);
      return;
    }
    leg.early = false;
    this.#established(s, leg, now);
  }

  #established(s: Session, leg: Leg, now: number): void {
    transition(s, 'Established', now);
    s.early.length = 0;
    if (s.file?.direction === 'receive' && s.file.transition('transferring')) this.#emitFile(s);
    if (s.file?.direction === 'send') this.#sendFile(s, leg, leg.negotiated.file?.range?.start ?? 1, now);
    this.#emitSession(s);
  }

  #readAnswer(s: Session, response: SipMessage): NegotiatedMsrp | undefined {
    const sdp = sdpOf(response);
    if (sdp === undefined || s.offer === undefined) return undefined;
    const result = readMsrpAnswer(s.offer, sdp);
    if (!result.ok) return undefined;
    s.answer = sdp;
    return result.media[0];
  }

  // ---- UAS --------------------------------------------------------------------------------------------------------

  #onInvite(incoming: IncomingRequest, now: number): void {
    const request = incoming.request;
    const offer = sdpOf(request);
    if (offer === undefined) {
      incoming.reject(
        request.bodyLength === 0 ? 488 : 400,
        request.bodyLength === 0 ? 'An SDP Offer Is Required' : 'Bad SDP',
      );
      return;
    }
    let media: MsrpMedia | undefined;
    for (let i = 0; i < offer.media.length && media === undefined; i++) {
      const m = readMsrpMedia(offer, i);
      if (m !== undefined && !(m instanceof ParseError)) media = m;
    }
    // RFC 3264 §6: nothing we can take is a 488; RFC 5547: we take pushed files only.
    if (media === undefined || (media.file !== undefined && media.direction !== 'sendonly')) {
      incoming.reject(488, media === undefined ? 'No MSRP Media' : 'Only Pushed Files Are Taken', {
        Warning: `304 ${this.#host} "media type not available"`,
      });
      return;
    }
    const file =
      media.file === undefined
        ? undefined
        : new FileTransfer({
            transferId: media.file.transferId ?? randomToken(this.#random, 24),
            direction: 'receive',
            selector: media.file.selector,
            hasher: this.#hasher,
          });
    const s = this.#newSession('incoming', peerKey(request.from.uri), request.from.uri.toString(), now, file);
    s.incoming = incoming;
    s.offer = offer;
    this.#emit({ type: 'incoming-session', session: snapshot(s), request });
    this.#emitSession(s);
    this.#connect(s, now);
  }

  /** Answer the INVITE: 180 with an early session, or 200 (RFC 3264 §6 answer in both, the same one). */
  #answer(s: Session, status: 180 | 200, now: number): void {
    const incoming = s.incoming;
    if (incoming === undefined || s.offer === undefined) return;
    if (incoming.state === 'Answered' || incoming.state === 'Cancelled') return;
    if (s.answer === undefined) {
      const result = this.#answerTo(s, s.offer);
      if (!result.ok) {
        incoming.reject(488, result.reason, undefined, now);
        return this.#terminate(s, 488, result.reason, now);
      }
      s.answer = result.answer;
      s.negotiated = result.accepted[0];
    }
    const neg = s.negotiated;
    const body = serializeSdp(s.answer);
    if (status === 180) {
      // RFC 3262 §3: reliably when the caller supports 100rel, so the early session's answer surely arrives.
      const reliable = [...incoming.request.supported, ...incoming.request.require].some(
        (t) => t.toLowerCase() === '100rel',
      );
      incoming.progress(180, { body, contentType: SDP, reliable: true }, now);
      s.prackPending = reliable && this.ua.capabilities.supported.includes('100rel');
      if (incoming.dialog !== undefined && neg !== undefined)
        this.#newLeg(s, incoming.dialog, neg, true, now);
      transition(s, 'Early', now);
      this.#emitSession(s);
      return;
    }
    // RFC 3262 §3: no 2xx before the PRACK of a reliable provisional that carried SDP.
    if (s.prackPending) {
      s.acceptWanted = true;
      return;
    }
    incoming.accept({ body, contentType: SDP }, now);
    const dialog = incoming.dialog;
    if (dialog === undefined || neg === undefined) return this.#terminate(s, 500, 'could not answer', now);
    const leg = s.legs.get(dialog.key) ?? this.#newLeg(s, dialog, neg, false, now);
    leg.early = false;
    this.#established(s, leg, now);
  }

  // ---- renegotiation (RFC 3261 §14, RFC 3311) -------------------------------------------------------------------

  #sendUpdate(s: Session, now: number, method?: 'INVITE' | 'UPDATE'): void {
    const leg = [...s.legs.values()][0];
    if (s.state === 'Terminated' || leg === undefined) return;
    if (s.update !== undefined || s.msrp !== 'up' || s.retryAt !== undefined) {
      s.updateWanted = true;
      return;
    }
    s.updateWanted = false;
    s.version += 1;
    const offer = this.#offer(s);
    // RFC 3311 §5.1: in an early dialog only UPDATE may carry a new offer.
    const how = leg.dialog.state === 'Early' ? 'UPDATE' : (method ?? this.#updateMethod);
    const outgoing = this.ua.request(how, leg.dialog, { body: serializeSdp(offer), contentType: SDP, now });
    s.update = { outgoing, offer };
    this.#owned.set(outgoing.id, { session: s, kind: 'update' });
  }

  #onUpdateFinal(s: Session, response: SipMessage, dialog: Dialog | undefined, now: number): void {
    const update = s.update;
    s.update = undefined;
    if (update === undefined || response.kind !== 'response' || s.state === 'Terminated') return;
    const status = response.status;
    if (status === 491) {
      // RFC 3261 §14.1: glare; the owner of the Call-ID waits 2.1–4 s, the other 0–2 s, then tries again.
      s.retryAt = now + (s.direction === 'outgoing' ? 2100 + this.#random() * 1900 : this.#random() * 2000);
      s.updateWanted = true;
      return;
    }
    const leg = dialog === undefined ? undefined : s.legs.get(dialog.key);
    const sdp = status < 300 ? sdpOf(response) : undefined;
    const result = sdp === undefined ? undefined : readMsrpAnswer(update.offer, sdp);
    if (leg !== undefined && result?.ok === true && result.media[0] !== undefined) {
      s.offer = update.offer;
      s.answer = sdp;
      const neg = result.media[0];
      const fresh = leg.msrp.closed || leg.msrp.localUri !== s.localUri || changed(leg.negotiated, neg);
      const next = fresh ? this.#newLeg(s, leg.dialog, neg, leg.early, now) : leg;
      // RFC 5547 §8: the answer's a=file-range (the receiver's) says where to go on from.
      if (fresh && s.state === 'Established' && s.file?.direction === 'send')
        this.#sendFile(s, next, neg.file?.range?.start ?? s.file.bytes + 1, now);
    } else if (leg === undefined || leg.msrp.closed) {
      // The renegotiation failed and there is no MSRP session left to go on with.
      this.#end(s, `renegotiation failed (${String(status)})`, now);
      return;
    }
    if (s.updateWanted) this.#sendUpdate(s, now);
    this.#emitSession(s);
  }

  /** A re-INVITE or UPDATE from the peer: answer with our current path; a changed peer means a new leg. */
  #onRenegotiation(s: Session, incoming: IncomingRequest, now: number): void {
    const request = incoming.request;
    // RFC 3261 §14.2 / RFC 3311 §5.2: an offer while ours is pending is glare: 491.
    if (s.update !== undefined) return incoming.reject(491, undefined, undefined, now);
    const offer = sdpOf(request);
    const dialog = incoming.dialog;
    if (offer === undefined || dialog === undefined) {
      // No offer (a session refresh): nothing changes; a re-INVITE gets our current description as its offer.
      const body =
        request.method === 'INVITE' && s.answer !== undefined ? serializeSdp(this.#offer(s)) : undefined;
      incoming.accept(body === undefined ? {} : { body, contentType: SDP }, now);
      return;
    }
    s.version += 1;
    const result = this.#answerTo(s, offer);
    if (!result.ok) return incoming.reject(488, result.reason, undefined, now);
    incoming.accept({ body: serializeSdp(result.answer), contentType: SDP }, now);
    s.offer = offer;
    s.answer = result.answer;
    const neg = result.accepted[0];
    const leg = s.legs.get(dialog.key);
    if (neg !== undefined && (leg === undefined || leg.msrp.closed || changed(leg.negotiated, neg))) {
      const fresh = this.#newLeg(s, dialog, neg, leg?.early ?? s.state !== 'Established', now);
      // RFC 5547 §8: the peer (the receiver) names the byte to go on from in a=file-range. After a re-INVITE the
      // bytes wait for the ACK: the offerer has its new MSRP session by then (no UPDATE has one to wait for).
      if (s.state === 'Established' && s.file?.direction === 'send') {
        const resume = { leg: fresh, from: neg.file?.range?.start ?? s.file.bytes + 1 };
        if (request.method === 'INVITE') s.resume = resume;
        else this.#sendFile(s, resume.leg, resume.from, now);
      }
    }
    this.#emitSession(s);
  }

  // ---- UA events --------------------------------------------------------------------------------------------------

  /** A UA event: consumed (true) when it belongs to a session. */
  #onUaEvent(e: UserAgentEvent, now: number): boolean {
    switch (e.type) {
      case 'incoming-request': {
        const incoming = e.incoming;
        if (incoming.method === 'INVITE' && incoming.request.toTag === undefined) {
          this.#onInvite(incoming, now);
          return true;
        }
        if (incoming.method !== 'INVITE' && incoming.method !== 'UPDATE') return false;
        const s = this.#byDialog(incoming.dialog);
        if (s === undefined) return false;
        this.#onRenegotiation(s, incoming, now);
        return true;
      }
      case 'incoming-cancelled': {
        const s = this.#byIncoming(e.incoming);
        if (s === undefined) return false;
        // RFC 3261 §9.2: the caller gave up (the core answered 487).
        this.#terminate(s, 487, 'cancelled', now);
        return true;
      }
      case 'prack': {
        const s = this.#byIncoming(e.incoming);
        if (s === undefined) return false;
        s.prackPending = false;
        if (s.acceptWanted) this.#answer(s, 200, now);
        return true;
      }
      case 'ack': {
        const s = this.#byDialog(e.dialog);
        const resume = s?.resume;
        if (s !== undefined && resume !== undefined) {
          s.resume = undefined;
          this.#sendFile(s, resume.leg, resume.from, now);
        }
        return s !== undefined;
      }
      case 'progress': {
        const owned = this.#owned.get(e.outgoing.id);
        if (owned === undefined) return false;
        if (owned.kind === 'invite') this.#onProgress(owned.session, e.response, e.dialog, now);
        return true;
      }
      case 'final': {
        const owned = this.#owned.get(e.outgoing.id);
        if (owned === undefined) return false;
        this.#owned.delete(e.outgoing.id);
        if (owned.kind === 'invite') this.#onInviteFinal(owned.session, e.response, e.dialog, e.local, now);
        else if (owned.kind === 'update')
          this.#onUpdateFinal(owned.session, e.response, e.outgoing.dialog, now);
        return true;
      }
      case 'dialog':
        if (e.state === 'Terminated') this.#onDialogEnded(e.dialog, e.reason, now);
        return false;
      case 'auto-response':
      case 'malformed':
      case 'dropped':
      case 'registration':
      case 'keepalive':
        return false;
    }
  }

  #byIncoming(incoming: IncomingRequest): Session | undefined {
    for (const s of this.#sessions.values()) if (s.incoming === incoming) return s;
    return undefined;
  }

  #byDialog(dialog: Dialog | undefined): Session | undefined {
    if (dialog === undefined) return undefined;
    for (const s of this.#sessions.values())
      if (s.state !== 'Terminated' && (s.legs.has(dialog.key) || s.incoming?.dialog === dialog)) return s;
    return undefined;
  }

  /** A dialog ended (BYE either way, a fork's failure, no ACK …): its leg ends; the last one ends the session. */
  #onDialogEnded(dialog: Dialog, reason: string, now: number): void {
    for (const s of this.#sessions.values()) {
      const leg = s.legs.get(dialog.key);
      if (leg === undefined) continue;
      s.legs.delete(dialog.key);
      if (s.state === 'Terminated') continue;
      leg.msrp.close(now);
      for (const e of leg.msrp.takeEvents()) this.#onLegEvent(s, leg, e, now, false);
      if (s.state === 'Established' && s.legs.size === 0)
        this.#terminate(s, undefined, reason === 'BYE received' ? 'ended by the peer' : reason, now);
      else this.#emitSession(s);
    }
  }

  // ---- legs -------------------------------------------------------------------------------------------------------

  /** One dialog's MSRP session towards the peer's a=path (through our relay: Use-Path first). */
  #newLeg(s: Session, dialog: Dialog, negotiated: NegotiatedMsrp, early: boolean, now: number): Leg {
    const old = s.legs.get(dialog.key);
    if (old !== undefined) {
      old.msrp.close(now);
      // Texts cut off on the old leg go again on the new one.
      for (const e of old.msrp.takeEvents()) {
        const m = e.type === 'aborted' ? s.messages.get(e.messageId) : undefined;
        if (m !== undefined && m.state === 'sending' && !s.resend.includes(m)) s.resend.push(m);
      }
      const retired = this.#retired.get(s.conn) ?? [];
      retired.push(old.msrp);
      this.#retired.set(s.conn, retired);
    }
    const file = s.file;
    const msrp = new MsrpSession({
      localUri: s.localUri,
      remotePath: [...s.anchor.localPath.slice(0, -1), ...negotiated.remotePath],
      random: this.#random,
      acceptTypes: file === undefined ? s.acceptTypes : ['*'],
      acceptWrappedTypes: s.kind === 'chat' ? WRAPPED_TYPES : undefined,
      maxSize: this.#maxSize,
      chunkSize: this.#msrp.chunkSize,
      active: negotiated.active,
      // A file goes to the app as it arrives (data events), never buffered whole; a resumed one from its range.
      bufferLimit: file === undefined ? undefined : 0,
      receiveFrom: file?.direction === 'receive' ? file.resumeFrom : undefined,
    });
    const leg: Leg = { dialog, msrp, negotiated, early };
    s.legs.set(dialog.key, leg);
    const c = this.#conns.get(s.conn);
    if (c?.up === true) msrp.flowUp(now, { flowId: c.id });
    // Texts waiting for a leg: those typed before the answer (each fork gets them), those cut off by a break.
    const resend = s.resend.splice(0);
    for (const m of s.early)
      if (!m.legs.has(dialog.key) && m.state !== 'failed' && !resend.includes(m))
        this.#sendText(s, leg, m, now);
    for (const m of resend) if (m.state === 'sending' || m.state === 'sent') this.#sendText(s, leg, m, now);
    if (c !== undefined) {
      const held = c.held.splice(0);
      c.heldBytes = 0;
      for (const ev of held) this.#onFrame(c, ev, now);
    }
    return leg;
  }

  #sendText(s: Session, leg: Leg, m: OutMessage, now: number): void {
    if (isFinalState(m.state)) return;
    if (leg.msrp.closed) {
      if (!s.resend.includes(m)) s.resend.push(m);
      return;
    }
    const { remoteAcceptTypes, remoteAcceptWrappedTypes } = leg.negotiated;
    // RFC 5438 §5 needs CPIM to carry the requests; a peer that takes no message/cpim gets text/plain.
    const cpim =
      m.imdn.length > 0 &&
      acceptsType(remoteAcceptTypes, 'message/cpim') &&
      (remoteAcceptWrappedTypes.length === 0 || acceptsType(remoteAcceptWrappedTypes, 'text/plain'));
    const body = cpim
      ? buildCpim({
          from: { displayName: this.#displayName, uri: this.#self },
          to: [{ uri: s.peer }],
          dateTime: m.createdAt,
          messageId: m.id,
          dispositionNotification: [...m.imdn],
          contentType: TEXT,
          content: m.text,
        })
      : m.text;
    const max = leg.negotiated.remoteMaxSize;
    const size = typeof body === 'string' ? new TextEncoder().encode(body).length : body.length;
    if (max !== undefined && size > max)
      return this.#advance(s, m, 'failed', 413, `larger than the peer's max-size (${String(max)} bytes)`);
    try {
      // RFC 4975 §7.1.1: Success-Report yes: the peer's REPORT says the whole text arrived.
      leg.msrp.send(
        { contentType: cpim ? 'message/cpim' : TEXT, body },
        { messageId: m.id, successReport: true, now },
      );
      m.legs.add(leg.dialog.key);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // the same Message-ID on this MSRP session already
    }
  }

  /** RFC 5547 §8: the file as one MSRP message, from byte `from` (a resumed transfer sends only the rest). */
  #sendFile(s: Session, leg: Leg, from: number, now: number): void {
    const file = s.file;
    s.resumeDeadline = undefined;
    if (file?.source === undefined || file.finished || leg.msrp.closed) return;
    const max = leg.negotiated.remoteMaxSize;
    if (max !== undefined && file.size > max) {
      // RFC 4975 §8.6: nothing larger than the peer's a=max-size is sent.
      file.transition('failed', `larger than the peer's max-size (${String(max)} bytes)`);
      this.#emitFile(s);
      return this.#end(s, 'transfer failed', now);
    }
    if (file.state === 'transferring') file.resumes += 1;
    file.transition('transferring');
    file.messageId ??= msrpIdent(this.#random);
    const start = Math.min(Math.max(from, 1), file.size + 1);
    file.startedAt = start;
    file.bytes = start - 1;
    leg.msrp.send(
      { contentType: file.selector.type ?? 'application/octet-stream', body: file.source },
      { messageId: file.messageId, successReport: true, from: start, now },
    );
    this.#emitFile(s);
  }

  #sendComposing(s: Session, status: IsComposing, now: number): void {
    // RFC 3994 §3: only to a peer whose accept-types take the status document.
    for (const leg of s.legs.values())
      if (!leg.msrp.closed && acceptsType(leg.negotiated.remoteAcceptTypes, ISCOMPOSING_CONTENT_TYPE))
        leg.msrp.send({ contentType: ISCOMPOSING_CONTENT_TYPE, body: buildIsComposing(status) }, { now });
  }

  #notify(
    s: Session,
    cpim: CpimMessage,
    notification: ImdnMessageOptions['notification'],
    now: number,
  ): void {
    const { body } = buildImdnMessage({
      im: cpim,
      from: { uri: this.#self },
      notification,
      messageId: msrpIdent(this.#random),
      now,
      recipientUri: this.#self,
    });
    // RFC 5438 §7.2.1.1 over MSRP: the notification goes back on the session, CPIM-wrapped.
    for (const leg of s.legs.values())
      if (!leg.msrp.closed) {
        leg.msrp.send({ contentType: 'message/cpim', body }, { now });
        return;
      }
  }

  // ---- MSRP input ---------------------------------------------------------------------------------------------------

  #onFrame(c: Conn, ev: MsrpFramerEvent, now: number): void {
    if (ev.type === 'error') return this.#lost(c, now);
    const flow = { flowId: c.id };
    if (ev.type === 'data' || ev.type === 'end') {
      c.streaming.get(ev.transactionId)?.handleFrameEvent(ev, now, flow);
      if (ev.type === 'end') c.streaming.delete(ev.transactionId);
      return;
    }
    const frame = ev.frame;
    const s = c.session ?? this.#bindPassive(c, frame, now);
    if (s === undefined) return;
    if (frame.method === undefined) {
      // A response: the transaction's owner takes it, the others ignore an id they do not know.
      s.anchor.handleFrameEvent(ev, now, flow);
      for (const leg of s.legs.values()) leg.msrp.handleFrameEvent(ev, now, flow);
      return;
    }
    const leg = this.#legFor(s, frame);
    if (leg === undefined) {
      const size = ev.type === 'frame' ? (frame.body?.length ?? 0) : Infinity;
      if (c.heldBytes + size <= MAX_HELD) {
        c.held.push(ev);
        c.heldBytes += size;
      }
      return;
    }
    if (ev.type === 'start') c.streaming.set(frame.transactionId, leg.msrp);
    leg.msrp.handleFrameEvent(ev, now, flow);
  }

  /** The leg a request is for: the one whose peer (last a=path URI) sent it (From-Path ends with its URI). */
  #legFor(s: Session, frame: MsrpFrame): Leg | undefined {
    let from: string | undefined;
    try {
      from = framePath(frame, 'From-Path').at(-1)?.text;
    } catch {
      from = undefined;
    }
    const legs = [...s.legs.values()].filter((l) => !l.msrp.closed);
    const match = legs.find(
      (l) => from !== undefined && msrpUriEquals(l.negotiated.remotePath.at(-1) ?? '', from),
    );
    if (match !== undefined) return match;
    // A fork whose 18x has not come yet may already send: hold it. Otherwise a leg answers (403, 400 …).
    const forksPending = s.direction === 'outgoing' && s.state !== 'Established' && s.state !== 'Terminated';
    return forksPending ? undefined : legs[0];
  }

  /** RFC 4975 §5.4: a connection a peer opened to us belongs to the session its first request names. */
  #bindPassive(c: Conn, frame: MsrpFrame, now: number): Session | undefined {
    let to: string | undefined;
    try {
      to = framePath(frame, 'To-Path')[0]?.text;
    } catch {
      return undefined;
    }
    for (const s of this.#sessions.values()) {
      if (s.state === 'Terminated' || to === undefined || !msrpUriEquals(s.localUri, to)) continue;
      if (this.#conns.get(s.conn)?.up === true) continue;
      c.session = s;
      s.conn = c.id;
      for (const leg of s.legs.values()) leg.msrp.flowUp(now, { flowId: c.id });
      return s;
    }
    return undefined;
  }

  /** A connection is gone: its legs fail what was in flight (sent again later); an established session reconnects. */
  #lost(c: Conn, now: number): void {
    this.#conns.delete(c.id);
    this.#retired.delete(c.id);
    const s = c.session;
    if (s === undefined || s.conn !== c.id || c.closing) return;
    for (const leg of s.legs.values()) {
      leg.msrp.flowDown(now);
      for (const e of leg.msrp.takeEvents()) this.#onLegEvent(s, leg, e, now, true);
    }
    s.anchor.flowDown(now);
    s.anchor.takeEvents();
    s.msrp = 'down';
    const passive = this.#msrp.passive === true;
    switch (s.state) {
      case 'Connecting':
      case 'Incoming':
        // Nothing was offered or answered with that path yet: get another.
        if (passive) return;
        this.#renew(s);
        return this.#connect(s, now);
      case 'Calling':
      case 'Early':
        return this.#end(s, 'MSRP connection lost', now, s.direction === 'incoming' ? 503 : undefined);
      case 'Established':
        if (passive) {
          // The peer connects again after its own re-INVITE; our path is unchanged.
          s.msrp = 'up';
          this.#emitSession(s);
          return;
        }
        // A new connection and URI, then a re-INVITE (or UPDATE) with the new a=path.
        this.#renew(s);
        s.updateWanted = true;
        this.#connect(s, now);
        this.#emitSession(s);
        return;
      case 'Terminated':
        return;
    }
  }

  #renew(s: Session): void {
    s.localUri = this.#localUri();
    s.anchor = new MsrpSession({ localUri: s.localUri, random: this.#random });
  }

  #onAnchorEvent(s: Session, e: MsrpSessionEvent, now: number): void {
    if (e.type !== 'auth') return;
    if (e.ok) {
      if (s.msrp === 'connecting') this.#ready(s, now);
      return;
    }
    // RFC 4976 §5.1: the relay refused us: there is no path to offer or answer with.
    if (s.msrp === 'up' || s.state === 'Terminated') return;
    this.#end(
      s,
      `MSRP relay refused AUTH (${String(e.status)} ${e.comment})`,
      now,
      s.direction === 'incoming' ? 500 : undefined,
    );
  }

  #onLegEvent(s: Session, leg: Leg, e: MsrpSessionEvent, now: number, broken: boolean): void {
    const file = s.file;
    switch (e.type) {
      case 'message':
        if (file?.direction === 'receive') {
          file.finish();
          if (file.verified === false) file.transition('failed', 'hash mismatch');
          else file.transition('complete');
          this.#emitFile(s);
          return;
        }
        return this.#onContent(s, e.messageId, e.contentType, e.bytes, now);
      case 'data':
        if (file?.direction !== 'receive') return;
        file.received(e.offset, e.bytes);
        this.#emit({
          type: 'file-data',
          sessionId: s.id,
          transferId: file.transferId,
          offset: e.offset,
          bytes: e.bytes,
        });
        return;
      case 'progress':
        if (file === undefined || file.finished) return;
        if (e.direction === 'out' && file.direction === 'send') file.bytes = Math.max(file.bytes, e.bytes);
        if ((e.direction === 'out') !== (file.direction === 'send')) return;
        return this.#emitFile(s);
      case 'sent': {
        const m = s.messages.get(e.messageId);
        if (m !== undefined) this.#advance(s, m, 'sent', undefined, undefined);
        return;
      }
      case 'report':
        return this.#onReport(s, e, now, broken);
      case 'aborted':
        if (
          e.by === 'peer' &&
          file?.direction === 'receive' &&
          file.transition('cancelled', 'the sender stopped')
        )
          this.#emitFile(s);
        return;
      case 'error':
      case 'auth':
      case 'closed':
        return;
    }
  }

  #onReport(
    s: Session,
    e: Extract<MsrpSessionEvent, { type: 'report' }>,
    now: number,
    broken: boolean,
  ): void {
    const file = s.file;
    if (file !== undefined && e.messageId === file.messageId) {
      // A break is not the end of a file: it resumes on the next leg. The peer's connection gone (481 from the
      // relay, RFC 4976 §6.3) or a timeout: the peer re-INVITEs when it is back; we wait for that, but not forever.
      if (broken && e.local) return;
      if (!e.success && (e.status === 481 || e.status === 408) && s.state === 'Established') {
        s.resumeDeadline ??= now + this.#resumeTimeout;
        return;
      }
      if (e.success) {
        file.bytes = file.size;
        file.transition('complete');
        this.#emitFile(s);
        // RFC 5547 §8: the transfer is done; the sender ends the session.
        if (s.state === 'Established') this.#end(s, 'transfer complete', now);
        return;
      }
      file.transition('failed', `${String(e.status)} ${e.comment}`);
      this.#emitFile(s);
      this.#end(s, 'transfer failed', now);
      return;
    }
    const m = s.messages.get(e.messageId);
    if (m === undefined) return;
    if (e.success) return this.#advance(s, m, 'delivered', 200, undefined);
    if (broken && e.local) {
      if (!s.resend.includes(m)) s.resend.push(m);
      return;
    }
    // A text sent on several early sessions fails only when every one of them failed it.
    m.failures += 1;
    if (m.failures >= m.legs.size)
      this.#advance(s, m, 'failed', e.status, `${String(e.status)} ${e.comment}`);
  }

  /** A whole MSRP message of a chat: a text, notifications about ours, or a typing status. */
  #onContent(s: Session, messageId: string, type: string, bytes: Uint8Array, now: number): void {
    let media;
    try {
      media = parseMediaType(type);
    } catch {
      return;
    }
    const content = decodePagerBody(media, bytes);
    switch (content.kind) {
      case 'refused':
        return;
      case 'composing': {
        const event = s.typing.received(content.status.state, content.status.refresh, now);
        if (event?.type === 'remote')
          this.#emit({ type: 'composing', sessionId: s.id, peer: s.peer, state: event.state, at: now });
        return;
      }
      case 'imdn':
        for (const n of content.notifications) this.#onNotification(s, n);
        return;
      case 'text': {
        const cpim = content.cpim;
        const id = cpim?.messageId ?? messageId;
        if (s.seen.has(id)) return;
        s.seen.add(id);
        if (s.seen.size > 1000) s.seen.delete(s.seen.values().next().value as string);
        // RFC 3994 §3.3: the message ends the sender's composing.
        if (s.typing.messageReceived(now)?.type === 'remote')
          this.#emit({ type: 'composing', sessionId: s.id, peer: s.peer, state: 'idle', at: now });
        const displayRequested = cpim !== undefined && wantsNotification(cpim, 'display');
        this.#emit({
          type: 'message',
          sessionId: s.id,
          message: {
            id,
            from: s.peer,
            fromName: cpim?.from?.displayName,
            to: this.#self,
            text: content.text,
            subject: cpim?.subjects[0]?.text,
            sentAt: cpim?.dateTime,
            receivedAt: now,
            expiresAt: undefined,
            group: undefined,
            displayRequested,
          },
        });
        if (cpim === undefined) return;
        // RFC 5438 §7.2.1.1: a delivery notification at once when asked; a display one on markDisplayed.
        if (wantsNotification(cpim, 'positive-delivery'))
          this.#notify(s, cpim, { kind: 'delivery', status: 'delivered' }, now);
        if (displayRequested) s.displayable.set(id, cpim);
        return;
      }
    }
  }

  /** RFC 5438 §7.1.2: a notification about one of our texts, matched by its imdn.Message-ID. */
  #onNotification(s: Session, n: Imdn): void {
    const m = s.messages.get(n.messageId);
    if (m === undefined) return;
    switch (n.kind) {
      case 'delivery':
        if (n.status === 'delivered') return this.#advance(s, m, 'delivered', undefined, undefined);
        return this.#advance(s, m, 'failed', undefined, `delivery ${n.status} (IMDN)`);
      case 'display':
        if (n.status === 'displayed') this.#advance(s, m, 'displayed', undefined, undefined);
        return;
      case 'processing':
        return;
    }
  }

  /** Move a text to `state` where message-state.ts's table allows, and say so. */
  #advance(
    s: Session,
    m: OutMessage,
    state: MessageState,
    status: number | undefined,
    reason: string | undefined,
  ): void {
    if (!messageTransition(m.state, state)) return;
    m.state = state;
    m.at = this.#now;
    m.status = status;
    m.reason = reason;
    this.#emitState(s, m);
  }
}

// ---- helpers ----------------------------------------------------------------------------------------------------

function newConn(id: string, session: Session | undefined, up: boolean): Conn {
  return {
    id,
    session,
    framer: new MsrpFramer(),
    up,
    closing: false,
    streaming: new Map(),
    held: [],
    heldBytes: 0,
  };
}

/** Did a renegotiation change what the leg's MsrpSession was built with? */
function changed(a: NegotiatedMsrp, b: NegotiatedMsrp): boolean {
  const same = (x: readonly string[], y: readonly string[]): boolean =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  return (
    !same(a.remotePath, b.remotePath) ||
    !same(a.remoteAcceptTypes, b.remoteAcceptTypes) ||
    a.remoteMaxSize !== b.remoteMaxSize ||
    a.file?.range?.start !== b.file?.range?.start
  );
}

/** The SDP body of a message, parsed; undefined when there is none or it does not parse. */
function sdpOf(message: SipMessage): SessionDescription | undefined {
  if (message.bodyLength === 0) return undefined;
  let type;
  try {
    type = message.contentType;
  } catch {
    return undefined;
  }
  if (type === undefined || `${type.type}/${type.subtype}`.toLowerCase() !== SDP) return undefined;
  const parsed = parseSdp(message.bodyText);
  return parsed.ok ? parsed.sdp : undefined;
}

function checkUri(uri: string): void {
  try {
    parseUri(uri);
  } catch {
    throw new TypeError(`not a URI: ${String(uri)}`);
  }
}
