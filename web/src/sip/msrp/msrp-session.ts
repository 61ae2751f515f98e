/**
 * MsrpSession: one MSRP session (RFC 4975) as an endpoint sees it, with the relay AUTH of RFC 4976, sans-IO.
 *
 *        app: send(content) → id · abort(id) · authenticate(relay) · setRemotePath(path)
 *                  │                                               ▲ takeEvents(): message, data, progress,
 *                  ▼                                               │   sent, report, aborted, auth, error, closed
 *   receive(bytes, now) ─► MsrpFramer ─► requests: SEND chunks → MsrpReassembly → message (+ REPORT)
 *                                        │          REPORT → report events
 *                                        └► responses: 200 / 4xx to our chunks and AUTH
 *   takeTransmissions(budget) ◄─ responses and REPORTs first, then chunks of the queued messages, round robin
 *   handleTimers(now) / nextDeadline(): transaction timeouts (30 s, §7.1.2) and the AUTH refresh
 *
 * Sending. `send` queues a message (bytes, text or a readable source such as a file) and returns its Message-ID.
 * Chunks are cut when the driver takes transmissions, never before, so a 100 MB file costs one chunk of memory at
 * a time: at most `chunkSize` bytes each, every chunk its own SEND transaction with a fresh transaction id. Queued
 * messages take turns chunk by chunk, so a short chat line is not stuck behind a file. With Failure-Report `yes`
 * (the default) at most `window` bytes may await their 200s; the 200s themselves trigger the next flush, which is
 * the session's flow control. With `framing: 'stream'` (TCP, TLS) a chunk that does not fit the caller's byte
 * budget is written in pieces with an open range end (`Byte-Range: 1-*∕N`, §7.1.1), and may then be interrupted:
 * with `+` when another message is waiting, with `#` when its message is aborted or refused. With
 * `framing: 'message'` (WebSocket, RFC 7977) every transmission is exactly one whole frame.
 *
 * Receiving. Each SEND is checked in §7.3's order (To-Path names this session, else 481; the connection is the
 * bound one, else 506; the headers are sound, else 400; the size is within `maxSize`, else 413; the type and, for
 * message/cpim, the wrapped type are accepted, else 415), answered according to its Failure-Report, and placed by
 * its Byte-Range: chunks may come out of order, twice, or cut short. A message is delivered once all its bytes
 * are in; up to `bufferLimit` bytes it is buffered and delivered whole, beyond that its bytes are handed on as
 * `data` events as they arrive and the final `message` event carries no bytes. Success-Report `yes` is answered
 * with a REPORT once the message is whole (§7.1.3).
 *
 * Each outgoing message moves through a small state machine (a table and one transition), as does the AUTH
 * exchange with a relay. Nothing a peer sends throws out of here: bad input becomes a response and an `error`
 * event; only API misuse throws (TypeError, InvalidStateError).
 */
import { DigestAuthenticator, type DigestCredentials } from '../auth/index.ts';
import { InvalidStateError, ParseError } from '../errors.ts';
import { acceptsContent, bareType, cpimInnerType } from './content-types.ts';
import {
  MSRP_REASONS,
  concatBytes,
  enumHeader,
  formatByteRange,
  framePath,
  integerHeader,
  isMsrpIdent,
  msrpEndLine,
  msrpFrameParts,
  msrpHeader,
  msrpHeaders,
  msrpIdent,
  msrpReport,
  msrpRequest,
  msrpResponse,
  parseByteRange,
  parseMsrpPath,
  parseMsrpStatus,
  serializeMsrpFrame,
  serializeMsrpHead,
  utf8,
  type ByteRange,
  type MsrpFlag,
  type MsrpFrame,
  type MsrpHeader,
} from './msrp-frame.ts';
import { MsrpFramer, type MsrpFramerEvent } from './msrp-framer.ts';
import { MsrpReassembly } from './msrp-reassembly.ts';
import { msrpUriEquals, parseMsrpUri, tryMsrpUri, type MsrpUri } from './msrp-uri.ts';

/** A message body read on demand, e.g. a file: `read` may return a view; it is not kept after it is written. */
export interface MsrpBodySource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export interface MsrpContent {
  /** e.g. `text/plain`, `message/cpim`, `image/png` */
  readonly contentType: string;
  /** bytes, text (sent as UTF-8), or a source read chunk by chunk */
  readonly body: Uint8Array | string | MsrpBodySource;
  /** other MIME headers sent in every chunk before Content-Type (Content-Disposition, Content-ID …) */
  readonly headers?: readonly MsrpHeader[];
}

export interface MsrpSendOptions {
  /** RFC 4975 §7.1.1: ask for a REPORT once the peer has the whole message (default false) */
  readonly successReport?: boolean;
  /** RFC 4975 §7.1.1: `yes` (default) every chunk is answered; `partial` only failures are; `no` nothing is */
  readonly failureReport?: 'yes' | 'no' | 'partial';
  /** the Message-ID; a random ident by default */
  readonly messageId?: string;
  /** the first byte to send, counting from 1 (a resumed transfer, RFC 5547 §8 `a=file-range`); 1 by default */
  readonly from?: number;
  readonly now?: number;
}

export interface MsrpSessionOptions {
  /** this endpoint's URI, with its session id (the last URI of its `a=path`) */
  readonly localUri: string;
  /** the peer's `a=path` (relays first, its own URI last), if known yet; see setRemotePath */
  readonly remotePath?: readonly string[];
  /** uniform in [0, 1): transaction ids, Message-IDs, digest cnonces */
  readonly random: () => number;
  /** what we accept (our `a=accept-types`); `*` by default */
  readonly acceptTypes?: readonly string[];
  /** what we accept inside message/cpim (our `a=accept-wrapped-types`) */
  readonly acceptWrappedTypes?: readonly string[];
  /** the largest message we take (our `a=max-size`); larger ones are refused 413 */
  readonly maxSize?: number;
  /** the largest chunk body we send (16 KiB by default) */
  readonly chunkSize?: number;
  /** `stream` for TCP/TLS, `message` for WebSocket; by default from the local URI's transport */
  readonly framing?: 'stream' | 'message';
  /** bytes that may await their 200s at once (1 MiB by default) */
  readonly window?: number;
  /** RFC 4975 §7.1.2: how long a SEND or AUTH waits for its response (30 s by default) */
  readonly transactionTimeout?: number;
  /** messages larger than this are streamed to the app as `data` events instead of buffered (64 MiB) */
  readonly bufferLimit?: number;
  /** a resumed transfer (RFC 5547 `a=file-range`): the first byte expected, counting from 1 */
  readonly receiveFrom?: number;
  /** we opened the connection: send an empty SEND on flowUp to bind it when nothing else is queued (§5.4) */
  readonly active?: boolean;
  /** passed to the framer: frames with bodies over this many bytes are streamed (1 MiB by default) */
  readonly streamAbove?: number;
}

export type OutgoingMessageState = 'queued' | 'sending' | 'sent' | 'delivered' | 'failed' | 'aborted';
export type MsrpAuthState = 'None' | 'Authenticating' | 'Authenticated' | 'Refreshing' | 'Failed';

export type MsrpSessionEvent =
  /** a whole incoming message; `bytes` is empty when `streamed` (its bytes came as `data` events) */
  | {
      readonly type: 'message';
      readonly messageId: string;
      readonly contentType: string;
      readonly bytes: Uint8Array;
      readonly headers: readonly MsrpHeader[];
      readonly streamed: boolean;
    }
  /** bytes of a streamed incoming message, each byte once, at `offset` (counting from 1); copy them to keep them */
  | {
      readonly type: 'data';
      readonly messageId: string;
      readonly contentType: string;
      readonly offset: number;
      readonly bytes: Uint8Array;
      readonly total: number | undefined;
    }
  /** how far a message has come: `in` bytes received, `out` bytes acknowledged by the next hop (or written) */
  | {
      readonly type: 'progress';
      readonly messageId: string;
      readonly direction: 'in' | 'out';
      readonly bytes: number;
      readonly total: number | undefined;
    }
  /** every chunk of an outgoing message was accepted by the next hop */
  | { readonly type: 'sent'; readonly messageId: string }
  /**
   * The outcome of an outgoing message: a success REPORT from the peer, or a failure (an error response, a
   * failure REPORT, or `local` — a timeout or a lost connection, with status 408).
   */
  | {
      readonly type: 'report';
      readonly messageId: string;
      readonly success: boolean;
      readonly status: number;
      readonly comment: string;
      readonly byteRange: ByteRange | undefined;
      readonly local: boolean;
    }
  /**
   * A message will not complete: an outgoing one we aborted (`local`), an incoming one the peer aborted with `#`
   * (`peer`), or an incoming one we refused part-way (`local`, with an `error` event saying why).
   */
  | { readonly type: 'aborted'; readonly messageId: string; readonly by: 'local' | 'peer' }
  /** RFC 4976: the relay accepted us (SENDs now go through `usePath`), or refused us */
  | {
      readonly type: 'auth';
      readonly ok: true;
      readonly usePath: readonly string[];
      readonly expires: number;
    }
  | { readonly type: 'auth'; readonly ok: false; readonly status: number; readonly comment: string }
  /**
   * The peer misbehaved: we answered `status` (undefined: nothing could be answered). `fatal` means the byte
   * stream cannot be framed any more: the driver should close the connection.
   */
  | {
      readonly type: 'error';
      readonly status: number | undefined;
      readonly reason: string;
      readonly fatal: boolean;
    }
  | { readonly type: 'closed'; readonly reason: string };

export interface MsrpTransmission {
  readonly data: Uint8Array;
}

/** What a driver tells about the connection bytes came on (the `flowId` of a SIP FlowInfo fits). */
export interface MsrpFlow {
  readonly flowId?: string | undefined;
}

// RFC 4975 §7.1.1, §7.3: an outgoing message is queued, then its chunks go out, then the next hop has them all,
// then (on request) the peer reports it whole; it may fail or be aborted until then.
const OUTGOING: Readonly<Record<OutgoingMessageState, readonly OutgoingMessageState[]>> = {
  queued: ['sending', 'failed', 'aborted'],
  sending: ['sent', 'delivered', 'failed', 'aborted'],
  sent: ['delivered', 'failed'],
  delivered: [],
  failed: [],
  aborted: [],
};

// RFC 4976 §5: AUTH, a 401 answered once with credentials, a 200 with Use-Path and Expires, refreshed before then.
const AUTH: Readonly<Record<MsrpAuthState, readonly MsrpAuthState[]>> = {
  None: ['Authenticating'],
  Authenticating: ['Authenticated', 'Failed'],
  Authenticated: ['Refreshing'],
  Refreshing: ['Authenticated', 'Failed'],
  Failed: ['Authenticating'],
};

interface Outgoing {
  readonly id: string;
  readonly contentType: string;
  readonly headers: readonly MsrpHeader[];
  readonly source: MsrpBodySource;
  readonly size: number;
  readonly success: boolean;
  readonly failure: 'yes' | 'no' | 'partial';
  state: OutgoingMessageState;
  /** the next byte (0-based) to put in a chunk */
  next: number;
  /** bytes acknowledged, counted from the first byte sent */
  acked: number;
  readonly first: number;
  /** chunk transactions awaiting a response */
  pending: number;
}

interface Tx {
  readonly msg: Outgoing | undefined;
  readonly length: number;
  readonly deadline: number;
}

interface OpenChunk {
  readonly msg: Outgoing;
  readonly tid: string;
  readonly bytes: Uint8Array;
  readonly start: number;
  written: number;
}

interface Incoming {
  readonly id: string;
  readonly contentType: string;
  readonly headers: readonly MsrpHeader[];
  /** the first chunk seen, whose From-Path and Message-ID a REPORT answers */
  readonly first: MsrpFrame;
  readonly success: boolean;
  readonly total: number | undefined;
  /** where the message ends (0-based, exclusive), once the total or the last chunk is known */
  end: number | undefined;
  data: MsrpReassembly;
}

/** A SEND being received: checked at its head, fed its body, finished (and answered) at its end-line. */
interface InChunk {
  readonly frame: MsrpFrame;
  failure: 'yes' | 'no' | 'partial';
  range: ByteRange;
  status: number;
  reason: string;
  msg: Incoming | undefined;
  got: number;
}

interface Auth {
  readonly relay: string;
  readonly authenticator: DigestAuthenticator;
  state: MsrpAuthState;
  expires: number | undefined;
  sent: string[];
  tid: string;
  tries: number;
  refreshAt: number | undefined;
}

const EMPTY = new Uint8Array(0);

export class MsrpSession {
  readonly localUri: string;
  readonly #local: MsrpUri;
  #remotePath: string[] = [];
  #usePath: string[] = [];
  readonly #random: () => number;
  readonly #accept: readonly string[];
  readonly #wrapped: readonly string[];
  readonly #maxSize: number;
  readonly #chunkSize: number;
  readonly #stream: boolean;
  readonly #window: number;
  readonly #timeout: number;
  readonly #bufferLimit: number;
  readonly #from: number;
  readonly #active: boolean;
  readonly #framer: MsrpFramer;
  #closed = false;
  #now = 0;
  #flowId: string | undefined;
  #out: MsrpTransmission[] = [];
  #events: MsrpSessionEvent[] = [];
  /** messages with bytes still to send, in turn order */
  readonly #queue: Outgoing[] = [];
  /** outgoing messages by Message-ID until their outcome is known */
  readonly #sent = new Map<string, Outgoing>();
  /** transactions awaiting a response with a deadline; insertion order is deadline order */
  readonly #txs = new Map<string, Tx>();
  /** Failure-Report: partial chunks, which are answered only on failure (no deadline; the last 256 kept) */
  readonly #quiet = new Map<string, Tx>();
  #inflight = 0;
  #open: OpenChunk | undefined;
  readonly #incoming = new Map<string, Incoming>();
  /** Message-IDs already whole, aborted or refused, with the status later chunks of them get (last 1024 kept) */
  readonly #finished = new Map<string, number>();
  #chunk: InChunk | undefined;
  #auth: Auth | undefined;

  constructor(options: MsrpSessionOptions) {
    try {
      this.#local = parseMsrpUri(options.localUri);
    } catch {
      throw new TypeError(`not an MSRP URI: ${options.localUri}`);
    }
    if (this.#local.sessionId === undefined) throw new TypeError('the local URI needs a session id');
    this.localUri = options.localUri;
    if (options.remotePath !== undefined) this.setRemotePath(options.remotePath);
    this.#random = options.random;
    this.#accept = options.acceptTypes ?? ['*'];
    this.#wrapped = options.acceptWrappedTypes ?? [];
    this.#maxSize = options.maxSize ?? Infinity;
    this.#chunkSize = positive(options.chunkSize ?? 16384, 'chunkSize');
    this.#stream = (options.framing ?? (this.#local.transport === 'ws' ? 'message' : 'stream')) === 'stream';
    this.#window = positive(options.window ?? 1 << 20, 'window');
    this.#timeout = options.transactionTimeout ?? 30_000;
    this.#bufferLimit = options.bufferLimit ?? 64 << 20;
    this.#from = (options.receiveFrom ?? 1) - 1;
    this.#active = options.active ?? false;
    this.#framer = new MsrpFramer(
      options.streamAbove === undefined ? {} : { streamAbove: options.streamAbove },
    );
  }

  // ---- state --------------------------------------------------------------------------------------------------

  get closed(): boolean {
    return this.#closed;
  }

  /** Our `a=path` for SDP: the relays of Use-Path (after AUTH), then our own URI (RFC 4976 §5). */
  get localPath(): readonly string[] {
    return [...this.#usePath, this.localUri];
  }

  get remotePath(): readonly string[] {
    return this.#remotePath;
  }

  get authState(): MsrpAuthState {
    return this.#auth?.state ?? 'None';
  }

  /** Where an outgoing message stands; undefined once its outcome was reported and forgotten. */
  messageState(messageId: string): OutgoingMessageState | undefined {
    return this.#sent.get(messageId)?.state;
  }

  /** Whether anything waits to be taken by takeTransmissions. */
  get wantsToSend(): boolean {
    return this.#out.length > 0 || (this.#queue.length > 0 && this.#remotePath.length > 0);
  }

  /** The peer's `a=path` from its SDP (relays first, its URI last). Throws TypeError on a bad URI. */
  setRemotePath(path: readonly string[]): void {
    if (path.length === 0) throw new TypeError('an empty MSRP path');
    for (const uri of path) if (tryMsrpUri(uri) === undefined) throw new TypeError(`not an MSRP URI: ${uri}`);
    this.#remotePath = [...path];
  }

  // ---- driver inputs --------------------------------------------------------------------------------------------

  /** Bytes from the connection (a stream read or one WebSocket message). Never throws at what the peer sent. */
  receive(data: Uint8Array | string, now: number, flow?: MsrpFlow): void {
    this.#step(now, () => {
      if (this.#closed) return;
      for (const ev of this.#framer.push(typeof data === 'string' ? utf8.encode(data) : data))
        this.#onFrameEvent(ev, flow);
    });
  }

  /** One event from a framer the driver shares between sessions (a connection carrying several). */
  handleFrameEvent(event: MsrpFramerEvent, now: number, flow?: MsrpFlow): void {
    this.#step(now, () => {
      if (!this.#closed) this.#onFrameEvent(event, flow);
    });
  }

  handleTimers(now: number): void {
    this.#step(now);
  }

  nextDeadline(): number | undefined {
    let next = this.#auth?.refreshAt;
    for (const tx of this.#txs.values()) {
      next = next === undefined ? tx.deadline : Math.min(next, tx.deadline);
      break;
    }
    return next;
  }

  /**
   * What to write, in order: responses and REPORTs, then chunks, about `budget` bytes of chunk body at most (the
   * room in the driver's send buffer; unbounded by default, `window` still applies to acknowledged messages).
   */
  takeTransmissions(budget = Infinity): MsrpTransmission[] {
    const out = this.#out;
    this.#out = [];
    if (!this.#closed) this.#fill(out, budget);
    return out;
  }

  takeEvents(): MsrpSessionEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** The connection is up; requests arriving on another flow are refused 506 (RFC 4975 §5.4). */
  flowUp(now: number, flow: MsrpFlow): void {
    this.#step(now, () => {
      this.#flowId = flow.flowId;
      // RFC 4975 §5.4: the endpoint that connected sends a SEND at once, an empty one if it has nothing to say.
      if (this.#active && this.#queue.length === 0 && this.#remotePath.length > 0) {
        const frame = msrpRequest({
          method: 'SEND',
          transactionId: msrpIdent(this.#random),
          toPath: this.#toPath(),
          fromPath: [this.localUri],
          headers: [
            ['Message-ID', msrpIdent(this.#random)],
            ['Byte-Range', '1-0/0'],
          ],
        });
        this.#control(serializeMsrpFrame(frame));
      }
    });
  }

  /** The connection is gone: an MSRP session does not outlive it (§5.4); unfinished messages fail with 408. */
  flowDown(now: number): void {
    this.#step(now, () => {
      if (this.#closed) return;
      for (const msg of [...this.#sent.values()])
        if (msg.state === 'queued' || msg.state === 'sending') this.#fail(msg, 408, 'Connection lost', true);
      this.#shut('connection lost');
    });
  }

  // ---- application commands -------------------------------------------------------------------------------------

  /** Queue a message; returns its Message-ID. Throws InvalidStateError when closed, TypeError on bad arguments. */
  send(content: MsrpContent, options: MsrpSendOptions = {}): string {
    if (this.#closed) throw new InvalidStateError('the MSRP session is closed');
    if (!/^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(?:[ \t]*;.*)?$/.test(content.contentType))
      throw new TypeError(`bad Content-Type "${content.contentType}"`);
    const source = toSource(content.body);
    const first = (options.from ?? 1) - 1;
    if (!Number.isInteger(first) || first < 0 || first > source.size)
      throw new TypeError(`bad start byte ${first + 1}`);
    const id = options.messageId ?? msrpIdent(this.#random);
    if (!isMsrpIdent(id) || this.#sent.has(id)) throw new TypeError(`bad or reused Message-ID "${id}"`);
    for (const [n] of content.headers ?? [])
      if (/^(to-path|from-path|message-id|byte-range|content-type|success-report|failure-report)$/i.test(n))
        throw new TypeError(`the session writes ${n} itself`);
    this.#step(options.now ?? this.#now, () => {
      const msg: Outgoing = {
        id,
        contentType: content.contentType,
        headers: content.headers ?? [],
        source,
        size: source.size,
        success: options.successReport ?? false,
        failure: options.failureReport ?? 'yes',
        state: 'queued',
        next: first,
        acked: 0,
        first,
        pending: 0,
      };
      this.#queue.push(msg);
      this.#sent.set(id, msg);
    });
    return id;
  }

  /**
   * Stop sending a message (RFC 4975 §7.1.1: a chunk ending in `#` tells the peer to drop what it has). Returns
   * false when the message is unknown or already sent.
   */
  abort(messageId: string, now?: number): boolean {
    const msg = this.#sent.get(messageId);
    if (msg === undefined || (msg.state !== 'queued' && msg.state !== 'sending')) return false;
    this.#step(now ?? this.#now, () => {
      this.#stop(msg, 'aborted');
      this.#emit({ type: 'aborted', messageId, by: 'local' });
    });
    return true;
  }

  /**
   * RFC 4976 §5: ask a relay for a route. The AUTH is answered 401 once with `credentials`, 423 with a corrected
   * Expires, and refreshed before it expires; an `auth` event tells the outcome. Throws InvalidStateError while an
   * AUTH is under way or done, TypeError on a bad relay URI.
   */
  authenticate(
    relay: string,
    options: { credentials: DigestCredentials; expires?: number; now?: number },
  ): void {
    if (this.#closed) throw new InvalidStateError('the MSRP session is closed');
    const state = this.authState;
    if (state !== 'None' && state !== 'Failed') throw new InvalidStateError(`AUTH is ${state}`);
    if (tryMsrpUri(relay) === undefined) throw new TypeError(`not an MSRP URI: ${relay}`);
    this.#step(options.now ?? this.#now, () => {
      this.#auth = {
        relay,
        authenticator: new DigestAuthenticator({ credentials: options.credentials, random: this.#random }),
        state: 'None',
        expires: options.expires,
        sent: [],
        tid: '',
        tries: 0,
        refreshAt: undefined,
      };
      this.#authTransition('Authenticating');
      this.#sendAuth([]);
    });
  }

  /** End the session (after a BYE): unfinished outgoing messages are reported aborted, nothing more is sent. */
  close(now?: number): void {
    if (this.#closed) return;
    this.#step(now ?? this.#now, () => {
      for (const msg of [...this.#sent.values()])
        if (msg.state === 'queued' || msg.state === 'sending') {
          this.#stop(msg, 'aborted');
          this.#emit({ type: 'aborted', messageId: msg.id, by: 'local' });
        }
      this.#shut('closed');
    });
  }

  // ---- the step: timers first, then the work ----------------------------------------------------------------

  #step(now: number, work?: () => void): void {
    if (!Number.isFinite(now)) throw new TypeError(`now must be a finite number, not ${String(now)}`);
    this.#now = Math.max(this.#now, now);
    // RFC 4975 §7.1.2: a transaction unanswered after its timeout fails (a local 408 failure report).
    for (const [tid, tx] of this.#txs) {
      if (tx.deadline > this.#now) break;
      this.#txs.delete(tid);
      if (tx.msg === undefined) {
        this.#authFailed(408, 'Request Timeout');
        continue;
      }
      this.#inflight -= tx.length;
      tx.msg.pending--;
      this.#fail(tx.msg, 408, 'Request Timeout', true);
    }
    const auth = this.#auth;
    if (auth?.refreshAt !== undefined && auth.refreshAt <= this.#now && !this.#closed) {
      auth.refreshAt = undefined;
      this.#authTransition('Refreshing');
      this.#sendAuth(this.#authorization(auth));
    }
    work?.();
  }

  /**
   * Queue a response, REPORT or AUTH. RFC 4975 §7.1.1: on a stream a chunk still open is ended first (`+`), so the
   * frame does not land inside its body; the rest of that chunk follows in a new one.
   */
  #control(data: Uint8Array): void {
    if (this.#open !== undefined) this.#endChunk(this.#out, '+');
    this.#out.push({ data });
  }

  #emit(event: MsrpSessionEvent): void {
    this.#events.push(event);
  }

  #shut(reason: string): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#open = undefined;
    this.#txs.clear();
    this.#incoming.clear();
    if (this.#auth !== undefined) this.#auth.refreshAt = undefined;
    this.#emit({ type: 'closed', reason });
  }

  // ---- sending ----------------------------------------------------------------------------------------------------

  #toPath(): string[] {
    return [...this.#usePath, ...this.#remotePath];
  }

  #fill(out: MsrpTransmission[], budget: number): void {
    if (this.#remotePath.length === 0) return;
    let room = budget;
    for (;;) {
      const open = this.#open;
      if (open !== undefined) {
        // RFC 4975 §7.1.1: an interruptible chunk may be ended early (`+`) so a waiting message goes first.
        if (this.#queue.length > 1 && open.written > 0) {
          this.#endChunk(out, '+');
          continue;
        }
        const n = Math.min(open.bytes.length - open.written, room, this.#room(open.msg));
        if (n <= 0) return;
        out.push({ data: open.bytes.subarray(open.written, open.written + n) });
        open.written += n;
        room -= n;
        if (open.written === open.bytes.length)
          this.#endChunk(out, open.start + open.bytes.length === open.msg.size ? '$' : '+');
        continue;
      }
      const msg = this.#queue[0];
      if (msg === undefined || room <= 0) return;
      const length = Math.min(this.#chunkSize, msg.size - msg.next);
      const space = Math.min(room, this.#room(msg));
      if (space <= 0 && length > 0) return;
      const bytes = msg.source.read(msg.next, length);
      if (bytes.length !== length)
        throw new TypeError(`the body source gave ${bytes.length} bytes, not ${length}`);
      const tid = this.#tidFor(bytes);
      const last = msg.next + length === msg.size;
      const whole = !this.#stream || length <= Math.max(space, 0);
      const frame = msrpRequest({
        method: 'SEND',
        transactionId: tid,
        toPath: this.#toPath(),
        fromPath: [this.localUri],
        headers: this.#chunkHeaders(msg, whole ? msg.next + length : undefined),
        body: bytes,
        contentType: msg.contentType,
        flag: last ? '$' : '+',
      });
      this.#transition(msg, 'sending');
      if (!whole) {
        // RFC 4975 §7.1.1: range-end `*` lets the chunk be cut short; its bytes follow as budget allows.
        out.push({ data: serializeMsrpHead(frame) });
        this.#open = { msg, tid, bytes, start: msg.next, written: 0 };
        continue;
      }
      const parts = msrpFrameParts(frame);
      if (this.#stream) for (const p of parts) if (p.length > 0) out.push({ data: p });
      if (!this.#stream) out.push({ data: concatBytes(parts) });
      room -= length;
      this.#queue.shift();
      this.#chunkSent(msg, tid, msg.next, length, last);
    }
  }

  #room(msg: Outgoing): number {
    return msg.failure === 'yes' ? this.#window - this.#inflight : Infinity;
  }

  #chunkHeaders(msg: Outgoing, end: number | undefined): MsrpHeader[] {
    const h: MsrpHeader[] = [
      ['Message-ID', msg.id],
      ['Byte-Range', formatByteRange({ start: msg.next + 1, end, total: msg.size })],
    ];
    if (msg.success) h.push(['Success-Report', 'yes']);
    if (msg.failure !== 'yes') h.push(['Failure-Report', msg.failure]);
    return [...h, ...msg.headers];
  }

  /** RFC 4975 §7.1.1: a fresh transaction id whose end-line does not occur in the body. */
  #tidFor(body: Uint8Array): string {
    for (;;) {
      const tid = msrpIdent(this.#random);
      if (!containsEndLine(body, tid)) return tid;
    }
  }

  #endChunk(out: MsrpTransmission[], flag: MsrpFlag): void {
    const c = this.#open!;
    this.#open = undefined;
    out.push({ data: msrpEndLine(c.tid, flag, true) });
    const i = this.#queue.indexOf(c.msg);
    if (i >= 0) this.#queue.splice(i, 1);
    if (flag !== '#') this.#chunkSent(c.msg, c.tid, c.start, c.written, flag === '$');
  }

  /** A chunk [start, start+length) is on the wire: await its response and give the message its next turn. */
  #chunkSent(msg: Outgoing, tid: string, start: number, length: number, last: boolean): void {
    msg.next = start + length;
    if (msg.failure === 'yes') {
      this.#txs.set(tid, { msg, length, deadline: this.#now + this.#timeout });
      this.#inflight += length;
      msg.pending++;
    } else {
      if (msg.failure === 'partial') this.#quiet.set(tid, { msg, length, deadline: Infinity });
      if (this.#quiet.size > 256) this.#quiet.delete(this.#quiet.keys().next().value!);
      msg.acked += length;
      this.#emit({
        type: 'progress',
        messageId: msg.id,
        direction: 'out',
        bytes: msg.first + msg.acked,
        total: msg.size,
      });
    }
    if (!last) this.#queue.push(msg);
    this.#maybeSent(msg);
  }

  #maybeSent(msg: Outgoing): void {
    if (msg.state !== 'sending' || msg.next < msg.size || msg.pending > 0) return;
    this.#transition(msg, 'sent');
    this.#emit({ type: 'sent', messageId: msg.id });
    if (!msg.success) this.#sent.delete(msg.id);
  }

  #transition(msg: Outgoing, to: OutgoingMessageState): boolean {
    if (msg.state === to) return true;
    if (!OUTGOING[msg.state].includes(to)) return false;
    msg.state = to;
    if (to === 'delivered' || to === 'failed' || to === 'aborted') this.#sent.delete(msg.id);
    return true;
  }

  /** Take a message out of the queue; a chunk of it half written ends with `#` (RFC 4975 §7.1.1). */
  #stop(msg: Outgoing, to: 'failed' | 'aborted'): boolean {
    const wasSending = msg.state === 'sending';
    if (!this.#transition(msg, to)) return false;
    const i = this.#queue.indexOf(msg);
    if (i >= 0) this.#queue.splice(i, 1);
    if (this.#open?.msg === msg) {
      this.#endChunk(this.#out, '#');
    } else if (to === 'aborted' && wasSending && msg.next < msg.size && this.#remotePath.length > 0) {
      // Nothing open to cut: an empty chunk with `#` tells the peer to drop what it has.
      const frame = msrpRequest({
        method: 'SEND',
        transactionId: msrpIdent(this.#random),
        toPath: this.#toPath(),
        fromPath: [this.localUri],
        headers: this.#chunkHeaders(msg, msg.next),
        body: EMPTY,
        contentType: msg.contentType,
        flag: '#',
      });
      this.#control(serializeMsrpFrame(frame));
    }
    return true;
  }

  #fail(msg: Outgoing, status: number, comment: string, local: boolean, byteRange?: ByteRange): void {
    if (!this.#stop(msg, 'failed')) return;
    this.#emit({ type: 'report', messageId: msg.id, success: false, status, comment, byteRange, local });
  }

  // ---- receiving ------------------------------------------------------------------------------------------------

  #onFrameEvent(ev: MsrpFramerEvent, flow: MsrpFlow | undefined): void {
    switch (ev.type) {
      case 'frame':
        if (ev.frame.method === undefined) this.#onResponse(ev.frame);
        else this.#onRequest(ev.frame, flow, true);
        return;
      case 'start':
        this.#onRequest(ev.frame, flow, false);
        return;
      case 'data':
        if (this.#chunk?.frame.transactionId === ev.transactionId) this.#chunkData(this.#chunk, ev.data);
        return;
      case 'end':
        if (this.#chunk?.frame.transactionId === ev.transactionId) this.#chunkEnd(this.#chunk, ev.flag);
        return;
      case 'invalid':
        // RFC 4975 §7.3: a request that cannot be understood is answered 400 (when it can be answered at all).
        if (ev.frame.method !== undefined) this.#reject(ev.frame, 400, ev.error.reason);
        else this.#emit({ type: 'error', status: undefined, reason: ev.error.reason, fatal: false });
        return;
      case 'error':
        this.#emit({ type: 'error', status: undefined, reason: ev.error.reason, fatal: true });
        return;
    }
  }

  #onRequest(frame: MsrpFrame, flow: MsrpFlow | undefined, whole: boolean): void {
    const method = frame.method!;
    this.#chunk = undefined;
    if (method === 'REPORT') {
      // RFC 4975 §7.1.2: REPORTs are never answered, so a bad one is only reported (a streamed one ignored).
      try {
        this.#onReport(frame);
      } catch (e) {
        this.#emit({ type: 'error', status: undefined, reason: (e as ParseError).reason, fatal: false });
      }
      return;
    }
    const chunk: InChunk = {
      frame,
      failure: 'yes',
      range: { start: 1, end: undefined, total: undefined },
      status: 200,
      reason: '',
      msg: undefined,
      got: 0,
    };
    try {
      // RFC 4975 §7.3: the request must be for this session (481), from its peer (403), on its connection (506).
      const to = framePath(frame, 'To-Path')[0]!;
      const from = framePath(frame, 'From-Path').at(-1)!;
      chunk.failure = enumHeader(frame, 'Failure-Report', ['yes', 'no', 'partial'], 'yes');
      if (!msrpUriEquals(to, this.#local)) this.#refuse(chunk, 481, 'No Such Session');
      else if (this.#remotePath.length > 0 && !msrpUriEquals(from, this.#remotePath.at(-1)!))
        this.#refuse(chunk, 403, 'From-Path is not the peer of this session');
      else if (flow?.flowId !== undefined && this.#flowId !== undefined && flow.flowId !== this.#flowId)
        this.#refuse(chunk, 506, 'Session Bound To Another Connection');
      else if (method !== 'SEND')
        // RFC 4975 §7.1: non-SEND bodies are at most 10240 bytes; unknown methods are answered 501 (§10.7).
        this.#refuse(chunk, (frame.body?.length ?? 0) > 10240 ? 413 : 501, '');
      else this.#sendHead(frame, chunk);
    } catch (e) {
      this.#refuse(chunk, 400, e instanceof ParseError ? e.reason : String(e));
    }
    if (!whole) {
      this.#chunk = chunk;
      return;
    }
    if (frame.body !== undefined) this.#chunkData(chunk, frame.body);
    this.#chunkEnd(chunk, frame.flag);
  }

  #refuse(chunk: InChunk, status: number, reason: string): void {
    chunk.status = status;
    chunk.reason = reason || (MSRP_REASONS[status] ?? '');
  }

  /** RFC 4975 §7.3.1: the checks a SEND's head allows, and the message it belongs to. */
  #sendHead(frame: MsrpFrame, chunk: InChunk): void {
    const success = enumHeader(frame, 'Success-Report', ['yes', 'no'], 'no') === 'yes';
    const id = msrpHeader(frame, 'Message-ID');
    if (id === undefined || !isMsrpIdent(id)) throw new ParseError('SEND without a valid Message-ID');
    const br = msrpHeader(frame, 'Byte-Range');
    // §7.3.1: without Byte-Range the chunk is the whole message (1-*/*).
    const range = br === undefined ? chunk.range : parseByteRange(br);
    chunk.range = range;
    const done = this.#finished.get(id);
    if (done !== undefined) return this.#refuse(chunk, done, '');
    const type = msrpHeader(frame, 'Content-Type');
    if (type === undefined) return; // an empty SEND: it binds the connection (§5.4) and carries nothing
    const size = range.total ?? range.end ?? 0;
    if (size > this.#maxSize) return this.#reject413(chunk, id, size);
    if (!acceptsContent(this.#accept, this.#wrapped, type)) return this.#refuseMessage(chunk, id, 415, '');
    let msg = this.#incoming.get(id);
    if (msg === undefined) {
      const buffered = size <= this.#bufferLimit;
      msg = {
        id,
        contentType: type,
        headers: frame.headers.filter(
          ([n]) => !/^(to-path|from-path|message-id|byte-range|success-report|failure-report)$/i.test(n),
        ),
        first: frame,
        success,
        total: range.total,
        end: range.total,
        data: new MsrpReassembly(buffered, buffered ? size : 0),
      };
      this.#incoming.set(id, msg);
    }
    chunk.msg = msg;
  }

  #reject413(chunk: InChunk, id: string, size: number): void {
    this.#refuseMessage(chunk, id, 413, `Message of ${size} bytes exceeds ${this.#maxSize}`);
  }

  /** A refusal that holds for the whole message: later chunks get it too, and what we had is dropped. */
  #refuseMessage(chunk: InChunk, id: string, status: number, reason: string): void {
    this.#refuse(chunk, status, reason);
    // Bytes of it may have reached the app already (progress, data): tell it the message will not complete.
    if ((this.#incoming.get(id)?.data.received ?? 0) > 0)
      this.#emit({ type: 'aborted', messageId: id, by: 'local' });
    this.#incoming.delete(id);
    this.#finish(id, status);
    chunk.msg = undefined;
  }

  #finish(id: string, status: number): void {
    this.#finished.set(id, status);
    if (this.#finished.size > 1024) this.#finished.delete(this.#finished.keys().next().value!);
  }

  #chunkData(chunk: InChunk, data: Uint8Array): void {
    const at = chunk.range.start - 1 + chunk.got;
    chunk.got += data.length;
    const msg = chunk.msg;
    if (msg === undefined || chunk.status !== 200) return;
    const { start, end } = chunk.range;
    if (end !== undefined && chunk.got > end - start + 1)
      return this.#refuseMessage(chunk, msg.id, 400, 'chunk body longer than its Byte-Range');
    if (at + data.length > this.#maxSize) return this.#reject413(chunk, msg.id, at + data.length);
    // RFC 4975 §8.6: the type wrapped in message/cpim must be one we accept too.
    if (at === 0 && bareType(msg.contentType) === 'message/cpim') {
      const inner = cpimInnerType(data);
      if (inner !== undefined && !acceptsContent(this.#accept, this.#wrapped, msg.contentType, inner))
        return this.#refuseMessage(chunk, msg.id, 415, `wrapped type ${bareType(inner)} not accepted`);
    }
    if (msg.data.buffered && at + data.length > this.#bufferLimit)
      for (const [o, piece] of msg.data.unbuffer()) this.#data(msg, o, piece);
    const fresh = msg.data.add(at, data);
    // A peer scattering tiny chunks would make every placement slower: past 4096 holes the message is refused.
    if (msg.data.fragments > 4096) return this.#refuseMessage(chunk, msg.id, 400, 'message too fragmented');
    if (!msg.data.buffered) for (const [o, piece] of fresh) this.#data(msg, o, piece);
  }

  #data(msg: Incoming, offset: number, bytes: Uint8Array): void {
    const { id: messageId, contentType, total } = msg;
    this.#emit({ type: 'data', messageId, contentType, offset: offset + 1, bytes, total });
  }

  #chunkEnd(chunk: InChunk, flag: MsrpFlag): void {
    if (this.#chunk === chunk) this.#chunk = undefined;
    const msg = chunk.msg;
    const { start, end } = chunk.range;
    if (msg !== undefined && chunk.status === 200) {
      if (flag === '$' && end !== undefined && chunk.got !== end - start + 1) {
        this.#refuseMessage(chunk, msg.id, 400, 'chunk body shorter than its Byte-Range');
      } else if (flag === '#') {
        // RFC 4975 §7.1.1: `#` aborts the message; what arrived of it is dropped.
        this.#incoming.delete(msg.id);
        this.#finish(msg.id, 200);
        this.#emit({ type: 'aborted', messageId: msg.id, by: 'peer' });
      } else {
        if (flag === '$') msg.end ??= start - 1 + chunk.got;
        const bytes = this.#from + msg.data.received;
        this.#emit({ type: 'progress', messageId: msg.id, direction: 'in', bytes, total: msg.total });
      }
    }
    this.#answer(chunk);
    if (msg !== undefined && chunk.status === 200 && flag !== '#') this.#maybeWhole(msg);
  }

  /** RFC 4975 §7.2: answer by the Failure-Report: `no` never, `partial` failures only, `yes` always. */
  #answer(chunk: InChunk): void {
    const { status, failure } = chunk;
    if (status !== 200) this.#emit({ type: 'error', status, reason: chunk.reason, fatal: false });
    if (failure === 'no' || (failure === 'partial' && status === 200)) return;
    this.#reply(chunk.frame, status, chunk.reason);
  }

  #reply(frame: MsrpFrame, status: number, comment: string): boolean {
    try {
      const response = msrpResponse(frame, status, {
        self: this.localUri,
        comment: comment || MSRP_REASONS[status],
      });
      this.#control(serializeMsrpFrame(response));
      return true;
    } catch {
      return false; // no usable From-Path: nobody to answer
    }
  }

  #reject(frame: MsrpFrame, status: number, reason: string): void {
    let failure = 'yes';
    try {
      failure = enumHeader(frame, 'Failure-Report', ['yes', 'no', 'partial'], 'yes');
    } catch {
      // a bad Failure-Report is itself a reason for the 400
    }
    const answered = frame.method !== 'REPORT' && failure !== 'no' && this.#reply(frame, status, reason);
    this.#emit({ type: 'error', status: answered ? status : undefined, reason, fatal: false });
  }

  #maybeWhole(msg: Incoming): void {
    const end = msg.end;
    if (end === undefined || !msg.data.covers(this.#from, end)) return;
    this.#incoming.delete(msg.id);
    this.#finish(msg.id, 200);
    const streamed = !msg.data.buffered;
    const bytes = msg.data.bytes(end);
    const { id: messageId, contentType, headers } = msg;
    this.#emit({ type: 'message', messageId, contentType, bytes, headers, streamed });
    // RFC 4975 §7.1.3: Success-Report yes is answered with a REPORT covering the whole message, status 200.
    if (msg.success) {
      const report = msrpReport(msg.first, 200, {
        transactionId: msrpIdent(this.#random),
        self: this.localUri,
        byteRange: { start: this.#from + 1, end, total: end },
      });
      this.#control(serializeMsrpFrame(report));
    }
  }

  /** RFC 4975 §7.3.2: a REPORT about one of our messages; never answered. */
  #onReport(frame: MsrpFrame): void {
    const ours = msrpUriEquals(framePath(frame, 'To-Path')[0]!, this.#local);
    const msg = this.#sent.get(msrpHeader(frame, 'Message-ID') ?? '');
    if (!ours || msg === undefined) {
      this.#emit({
        type: 'error',
        status: undefined,
        reason: 'REPORT for no message of this session',
        fatal: false,
      });
      return;
    }
    const { code, comment } = parseMsrpStatus(msrpHeader(frame, 'Status') ?? '');
    const br = msrpHeader(frame, 'Byte-Range');
    const byteRange = br === undefined ? undefined : parseByteRange(br);
    if (code !== 200) return this.#fail(msg, code, comment, false, byteRange);
    const whole = byteRange === undefined || (byteRange.end ?? 0) >= msg.size;
    if (whole && !this.#transition(msg, 'delivered')) return;
    this.#emit({
      type: 'report',
      messageId: msg.id,
      success: true,
      status: code,
      comment,
      byteRange,
      local: false,
    });
  }

  #onResponse(frame: MsrpFrame): void {
    const tid = frame.transactionId;
    const tx = this.#txs.get(tid) ?? this.#quiet.get(tid);
    if (tx === undefined) return; // late, duplicated, or for a chunk we cut off: nothing waits for it
    const quiet = !this.#txs.delete(tid);
    this.#quiet.delete(tid);
    const msg = tx.msg;
    if (msg === undefined) return this.#onAuthResponse(frame);
    if (!quiet) {
      this.#inflight -= tx.length;
      msg.pending--;
    }
    const status = frame.status!;
    // RFC 4975 §7.1.1: an error response to any chunk fails the message; 413 asks us to stop sending it.
    if (status !== 200) return this.#fail(msg, status, frame.comment ?? '', false);
    if (quiet || msg.state === 'failed' || msg.state === 'aborted') return;
    msg.acked += tx.length;
    this.#emit({
      type: 'progress',
      messageId: msg.id,
      direction: 'out',
      bytes: msg.first + msg.acked,
      total: msg.size,
    });
    this.#maybeSent(msg);
  }

  // ---- AUTH with a relay (RFC 4976 §5) ------------------------------------------------------------------------

  #authTransition(to: MsrpAuthState): void {
    const auth = this.#auth!;
    if (!AUTH[auth.state].includes(to))
      throw new InvalidStateError(`AUTH cannot go from ${auth.state} to ${to}`);
    auth.state = to;
  }

  #sendAuth(authorization: string[]): void {
    const auth = this.#auth!;
    auth.tid = msrpIdent(this.#random);
    auth.sent = authorization;
    auth.tries++;
    const headers: MsrpHeader[] = authorization.map((v) => ['Authorization', v]);
    if (auth.expires !== undefined) headers.push(['Expires', String(auth.expires)]);
    const frame = msrpRequest({
      method: 'AUTH',
      transactionId: auth.tid,
      toPath: [auth.relay],
      fromPath: [this.localUri],
      headers,
    });
    this.#control(serializeMsrpFrame(frame));
    this.#txs.set(auth.tid, { msg: undefined, length: 0, deadline: this.#now + this.#timeout });
  }

  /** RFC 4976 §5.1: the digest-uri is the relay's URI and the method AUTH. */
  #authorization(auth: Auth): string[] {
    return auth.authenticator.authorize({ method: 'AUTH', uri: auth.relay }).map((h) => h.value);
  }

  #onAuthResponse(frame: MsrpFrame): void {
    const auth = this.#auth;
    if (auth === undefined || frame.transactionId !== auth.tid) return;
    const status = frame.status!;
    try {
      if (status === 401 && auth.tries < 4) {
        // RFC 4976 §5.1: answer the relay's digest challenge once; a second 401 means wrong credentials.
        const result = auth.authenticator.handleChallenge({
          status: 401,
          challenges: msrpHeaders(frame, 'WWW-Authenticate'),
          request: { method: 'AUTH', uri: auth.relay },
          sent: auth.sent,
        });
        if (result.type === 'retry') return this.#sendAuth(result.values);
        return this.#authFailed(401, `digest: ${result.reason}`);
      }
      if (status === 423 && auth.tries < 4) {
        // RFC 4976 §5.1: the Expires asked for was out of the relay's bounds; ask again within them.
        const min = integerHeader(frame, 'Min-Expires');
        const max = integerHeader(frame, 'Max-Expires');
        if (min === undefined && max === undefined)
          throw new ParseError('423 without Min-Expires or Max-Expires');
        auth.expires = min ?? max;
        return this.#sendAuth(this.#authorization(auth));
      }
      if (status !== 200) return this.#authFailed(status, frame.comment ?? '');
      // RFC 4976 §5.1: the 200 carries the route to use (Use-Path) and how long it holds (Expires, seconds).
      const usePath = parseMsrpPath(msrpHeader(frame, 'Use-Path') ?? '').map((u) => u.text);
      const expires = integerHeader(frame, 'Expires') ?? auth.expires ?? 0;
      this.#usePath = usePath;
      auth.tries = 0;
      auth.expires = expires;
      auth.refreshAt = expires > 0 ? this.#now + Math.max(expires * 1000 - 60_000, expires * 500) : undefined;
      this.#authTransition('Authenticated');
      this.#emit({ type: 'auth', ok: true, usePath, expires });
    } catch (e) {
      this.#authFailed(status, e instanceof ParseError ? e.reason : String(e));
    }
  }

  #authFailed(status: number, comment: string): void {
    const auth = this.#auth!;
    auth.refreshAt = undefined;
    auth.tries = 0;
    this.#authTransition('Failed');
    this.#usePath = [];
    this.#emit({ type: 'auth', ok: false, status, comment });
  }
}

function toSource(body: MsrpContent['body']): MsrpBodySource {
  if (typeof body === 'string') body = utf8.encode(body);
  if (!(body instanceof Uint8Array)) {
    if (!Number.isSafeInteger(body.size) || body.size < 0) throw new TypeError(`bad body size ${body.size}`);
    return body;
  }
  const bytes = body;
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

function positive(n: number, name: string): number {
  if (!(n > 0)) throw new TypeError(`${name} must be positive`);
  return n;
}

/**
 * Whether `body` followed by our CRLF would hold the end-line of `tid` early: a whole end-line inside, or the body
 * ending in CRLF "-------" tid flag (which our CRLF would complete).
 */
function containsEndLine(body: Uint8Array, tid: string): boolean {
  const tail = `\r\n-------${tid}`;
  const pattern = utf8.encode(tail);
  for (let c = body.indexOf(13); c >= 0; c = body.indexOf(13, c + 1)) {
    let k = 0;
    while (k < pattern.length && body[c + k] === pattern[k]) k++;
    if (k === pattern.length && '$+#'.includes(String.fromCharCode(body[c + k] ?? 0))) return true;
  }
  return false;
}
