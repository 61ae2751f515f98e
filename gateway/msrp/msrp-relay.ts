/**
 * MsrpRelay: the gateway's MSRP relay (RFC 4976, with the WebSocket transport of RFC 7977), over connections it
 * is handed (links); no socket, timer or clock of its own: bytes and `now` go in, writes on links come out.
 *
 *   browser ══WS══╗                                    ╔══TCP══ MSRP peer / relay
 *                 ╠═► link ─► frames ─► route ─► link ═╣
 *   browser ══WS══╝      AUTH → session, Use-Path      ╚══TCP══ (opened by the relay when allowed)
 *
 * How it works. A client AUTHs (digest when the relay has users) and gets a session: a URI of ours with a fresh
 * session id, returned in Use-Path, bound to the client's connection and to the client's URI (the From-Path of the
 * AUTH), for Expires seconds. A request whose To-Path starts with a session URI is relayed (RFC 4976 §6): our URI
 * comes off the front of To-Path and goes on the front of From-Path; only the header section is rewritten, the
 * body goes on as the same bytes (views, no copy). Two directions only:
 *  - from the session's client (on its connection, From-Path ending with its URI, else 403) to the next hop: a
 *    connection to that URI we already have (one we opened, or one whose peer sent us frames from it), another
 *    session of ours (browser to browser), or a new TCP connection when the relay may open one;
 *  - from anywhere else to the session's client, and to nobody else (403): never an open relay.
 * SEND is answered hop by hop (RFC 4976 §6.3, RFC 4975 §7.1.1 Failure-Report): `yes` gets 200 once the relay has
 * taken the chunk on, errors found at once get their status (481, 403, 400, 413), and a failure further on (an
 * error response from the next hop, its connection closing: 481, no response within 30 s: 408) becomes a REPORT to
 * the sender; `partial` gets only the failures; `no` gets nothing. The next hop's responses to what we forwarded
 * are ours to take (never passed back). A chunk longer than the next link takes in one frame (a WebSocket message)
 * is re-chunked (RFC 4975 §5.1: new transaction ids, exact Byte-Ranges); a chunk too big to hold arriving on a
 * stream is relayed piece by piece as it comes.
 *
 * Back-pressure: after a write, when the next link holds more than `highWater` bytes not yet flushed, the link the
 * frame came from stops being read until the next link has drained; memory stays bounded by about one high-water
 * mark per pair of links. Idle links without a session are closed, and so are links that never sent a frame.
 *
 * A link is Open, Paused (not read: back-pressure) or Closed; `#transition()` checks each move against LINK_STATES.
 *
 *    Open ⇄ Paused
 *      ╲     ╱
 *      Closed
 */
import type { Logger } from 'pino';

import {
  MSRP_REASONS,
  MsrpFramer,
  ParseError,
  formatByteRange,
  integerHeader,
  msrpEndLine,
  msrpHeader,
  msrpHeaders,
  msrpRequest,
  msrpResponse,
  parseByteRange,
  parseMsrpPath,
  readMsrpHead,
  rechunk,
  serializeMsrpFrame,
  serializeMsrpHead,
  tryMsrpUri,
  type ByteRange,
  type MsrpFlag,
  type MsrpFrame,
  type MsrpFramerEvent,
  type MsrpHeader,
  type MsrpUri,
} from '../../web/src/sip/server.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { MsrpAuthPolicy } from './msrp-auth.ts';

/** Why a link is closed: the WebSocket side turns it into a close code. */
export type RelayCloseCause = 'garbage' | 'framing' | 'idle' | 'slow' | 'shutdown';

/** One connection the relay reads from and writes to (a WebSocket or a TCP socket). */
export interface RelayLink {
  readonly id: number;
  readonly side: 'ws' | 'tcp';
  /** `message`: one frame per message (WebSocket, RFC 7977); `stream`: a byte stream (TCP) */
  readonly framing: 'message' | 'stream';
  readonly remoteHost: string;
  readonly remotePort: number;
  /** the longest chunk body one frame may carry toward this link (a WebSocket message's room); Infinity */
  readonly maxBody: number;
  /** bytes written and not yet flushed toward the peer */
  readonly buffered: number;
  /** Writes one frame as its pieces (head, body, end-line); false when the link is gone. */
  write(parts: readonly Uint8Array[]): boolean;
  pause(): void;
  resume(): void;
  close(cause: RelayCloseCause, reason: string): void;
}

/** Where the relay is: what its URIs say, and which hosts and ports are its own. */
export interface RelaySelf {
  /** the host put in our URIs */
  readonly host: string;
  /** the MSRP TCP listener's (advertised) port; undefined when there is none */
  readonly tcpPort: number | undefined;
  /** the WebSocket's (advertised) port */
  readonly wsPort: number;
  /** WSS: our WebSocket URIs are msrps */
  readonly wsSecure: boolean;
  /** every name and address of ours (lowercase) and every port of ours, to recognise our URIs */
  readonly hosts: ReadonlySet<string>;
  readonly ports: ReadonlySet<number>;
}

export interface MsrpRelayOptions {
  readonly self: RelaySelf;
  readonly auth: MsrpAuthPolicy;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  /** Opens a connection to a next hop (TCP); undefined when it cannot. The relay adopts the link it returns. */
  readonly connect?: ((uri: MsrpUri) => RelayLink | undefined) | undefined;
  /** Whether the relay may open a connection to `uri` for a client (default: yes) */
  readonly mayConnect?: ((uri: MsrpUri) => boolean) | undefined;
  /** session ids and transaction ids (default: random from `random`) */
  readonly newId?: (() => string) | undefined;
  /** uniform in [0, 1), for ids (required unless newId is given) */
  readonly random?: (() => number) | undefined;
  /** RFC 4976 §5.1 Expires bounds and default, seconds (60, 3600, 1800) */
  readonly minExpires?: number;
  readonly maxExpires?: number;
  readonly defaultExpires?: number;
  /** how long a forwarded SEND waits for the next hop's response (RFC 4975 §7.1.2: 30 s) */
  readonly transactionTimeoutMs?: number;
  /** bytes buffered toward a link before the links feeding it are paused (4 MiB) */
  readonly highWater?: number;
  /** a link without a session and without traffic this long is closed (30 min) */
  readonly idleTimeoutMs?: number;
  /** a link that sent no frame this long after opening is closed (30 s) */
  readonly firstFrameTimeoutMs?: number;
  /** on streams, chunks with bodies over this many bytes are relayed as they come (1 MiB) */
  readonly streamAbove?: number;
  /** the longest header section taken on a stream (16 KiB); longer closes the link */
  readonly maxHeadBytes?: number;
  /** non-MSRP WebSocket messages tolerated before the link is closed (3) */
  readonly maxGarbage?: number;
}

export interface RelaySessionInfo {
  readonly id: string;
  /** our URI for the session (the Use-Path) */
  readonly uri: string;
  /** the client's URI (From-Path of its AUTH) */
  readonly client: string;
  readonly user: string | undefined;
  readonly linkId: number;
  readonly expiresAt: number;
}

type LinkStatus = 'Open' | 'Paused' | 'Closed';

// A link is read (Open) or not (Paused, while a link it feeds is full) until it is gone (Closed).
const LINK_STATES: Readonly<Record<LinkStatus, readonly LinkStatus[]>> = {
  Open: ['Paused', 'Closed'],
  Paused: ['Open', 'Closed'],
  Closed: [],
};

interface RelaySession {
  readonly id: string;
  readonly uri: string;
  readonly client: MsrpUri;
  readonly link: LinkState;
  readonly user: string | undefined;
  expiresAt: number;
}

/** Where a failure REPORT goes for a chunk we forwarded (RFC 4975 §7.1.2). */
interface ReportTarget {
  readonly back: LinkState;
  readonly toPath: string;
  readonly from: string;
  readonly messageId: string;
  readonly range: string;
}

/** A chunk forwarded on `out`, awaiting the next hop's response. */
interface Pending {
  readonly key: string;
  readonly out: LinkState;
  readonly report: ReportTarget;
  /** Infinity for Failure-Report partial (only failures are answered) */
  readonly deadline: number;
}

/** Where a request goes: the link, what is left of To-Path, and our URIs it passed (for From-Path). */
interface Route {
  readonly out: LinkState;
  readonly to: readonly string[];
  readonly hops: readonly string[];
}

interface Refusal {
  readonly status: number;
  readonly reason: string;
}

/** A SEND chunk arriving on a stream in pieces (MsrpFramer start/data/end). */
interface InStream {
  readonly tid: string;
  readonly original: MsrpFrame;
  /** the head to forward (paths rewritten); undefined when the chunk is refused (answered at its end) */
  readonly head: MsrpFrame | undefined;
  readonly route: Route | undefined;
  readonly refusal: Refusal | undefined;
  /** undefined: as the chunk's Failure-Report header says (the chunk was refused before it was read) */
  readonly failure: FailureReport | undefined;
  readonly range: ByteRange;
  readonly report: ReportTarget | undefined;
  /** bytes of body forwarded or held so far */
  offset: number;
  /** the last piece, kept back to carry the chunk's flag */
  held: Uint8Array | undefined;
}

interface LinkState {
  readonly link: RelayLink;
  readonly framer: MsrpFramer | undefined;
  readonly outbound: boolean;
  status: LinkStatus;
  readonly sessions: Set<RelaySession>;
  readonly pending: Set<Pending>;
  /** links whose full buffers keep this one paused */
  readonly blockers: Set<LinkState>;
  /** links paused because this one is full */
  readonly waiters: Set<LinkState>;
  /** authority keys of next hops reached over this link */
  readonly learned: string[];
  readonly openedAt: number;
  lastActivity: number;
  frames: number;
  garbage: number;
  stream: InStream | undefined;
}

type FailureReport = 'yes' | 'no' | 'partial';

const SIDE_LABELS = {
  ws: {
    in: Object.freeze({ direction: 'in', side: 'ws' }),
    out: Object.freeze({ direction: 'out', side: 'ws' }),
    conn: Object.freeze({ side: 'ws' }),
  },
  tcp: {
    in: Object.freeze({ direction: 'in', side: 'tcp' }),
    out: Object.freeze({ direction: 'out', side: 'tcp' }),
    conn: Object.freeze({ side: 'tcp' }),
  },
} as const;

const FRAME_KINDS = ['SEND', 'REPORT', 'AUTH', 'response', 'other'] as const;
type FrameKind = (typeof FRAME_KINDS)[number];
type Labels = Readonly<Record<string, string>>;
/** Frozen label sets, one per side, direction and kind: the counters find their series by identity. */
const FRAME_LABELS = {} as Record<'ws' | 'tcp', Record<'in' | 'out', Record<FrameKind, Labels>>>;
for (const side of ['ws', 'tcp'] as const) {
  FRAME_LABELS[side] = {} as Record<'in' | 'out', Record<FrameKind, Labels>>;
  for (const direction of ['in', 'out'] as const) {
    const byKind = {} as Record<FrameKind, Labels>;
    for (const kind of FRAME_KINDS) byKind[kind] = Object.freeze({ direction, side, kind });
    FRAME_LABELS[side][direction] = byKind;
  }
}

const ERROR_LABELS = new Map<string, Readonly<Record<string, string>>>();
function errorLabels(reason: string): Readonly<Record<string, string>> {
  let labels = ERROR_LABELS.get(reason);
  if (labels === undefined) ERROR_LABELS.set(reason, (labels = Object.freeze({ reason })));
  return labels;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MSRP_SP = Buffer.from('MSRP ');
const SWEEP_MS = 5000;
/** RFC 4975 §7.1: requests other than SEND carry at most this much body. */
const MAX_NON_SEND_BODY = 10240;
/** Failure-Report partial chunks remembered (only failures come back for them). */
const MAX_QUIET = 65_536;
/** Chunks awaiting a response, over all links (a bound on memory). */
const MAX_PENDING = 262_144;

function kindOf(frame: MsrpFrame): FrameKind {
  const m = frame.method;
  if (m === undefined) return 'response';
  return m === 'SEND' || m === 'REPORT' || m === 'AUTH' ? m : 'other';
}

/** RFC 4975 §6.1, without the session id: the same node (scheme, host, port, transport). */
function sameNode(a: MsrpUri, b: MsrpUri): boolean {
  return (
    a.secure === b.secure &&
    a.transport === b.transport &&
    a.host.toLowerCase() === b.host.toLowerCase() &&
    (a.port ?? 2855) === (b.port ?? 2855)
  );
}

function nodeKey(uri: MsrpUri): string {
  return `${uri.secure ? 's' : ''}${uri.host.toLowerCase()}:${uri.port ?? 2855};${uri.transport}`;
}

function hostForUri(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The header section with To-Path and From-Path replaced; the other headers as they came, in order. */
function rewriteHeaders(
  headers: readonly MsrpHeader[],
  to: readonly string[],
  hops: readonly string[],
): MsrpHeader[] {
  const out: MsrpHeader[] = [];
  for (const h of headers) {
    const name = h[0];
    if (name.length === 7 && name.toLowerCase() === 'to-path') out.push([name, to.join(' ')]);
    else if (name.length === 9 && name.toLowerCase() === 'from-path')
      out.push([name, `${[...hops].reverse().join(' ')} ${h[1]}`]);
    else out.push(h);
  }
  return out;
}

function withByteRange(headers: readonly MsrpHeader[], range: string): MsrpHeader[] {
  let found = false;
  const out = headers.map((h): MsrpHeader => {
    if (h[0].length !== 10 || h[0].toLowerCase() !== 'byte-range') return h;
    found = true;
    return [h[0], range];
  });
  // RFC 4975 §7.1.1: Byte-Range goes with the MSRP headers, before the MIME ones.
  if (!found) out.splice(2, 0, ['Byte-Range', range]);
  return out;
}

export class MsrpRelay {
  readonly #o: MsrpRelayOptions;
  readonly #self: RelaySelf;
  readonly #links = new Map<number, LinkState>();
  readonly #sessions = new Map<string, RelaySession>();
  /** the latest session of each client, by the nodeKey of its URI */
  readonly #byClient = new Map<string, RelaySession>();
  /** next hops we have a link to, by nodeKey */
  readonly #byNode = new Map<string, LinkState>();
  /** chunks with Failure-Report yes awaiting a response; insertion order is deadline order */
  readonly #pending = new Map<string, Pending>();
  /** chunks with Failure-Report partial (no deadline; bounded) */
  readonly #quiet = new Map<string, Pending>();
  readonly #newId: () => string;
  readonly #timeout: number;
  readonly #highWater: number;
  readonly #minExpires: number;
  readonly #maxExpires: number;
  readonly #defaultExpires: number;
  #nextSweep = 0;
  #closed = false;

  constructor(options: MsrpRelayOptions) {
    this.#o = options;
    this.#self = options.self;
    const random = options.random;
    if (options.newId === undefined && random === undefined)
      throw new TypeError('MsrpRelay needs newId or random');
    this.#newId =
      options.newId ??
      (() => {
        const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
        let s = '';
        for (let i = 0; i < 16; i++) s += chars.charAt(Math.floor(random!() * 62));
        return s;
      });
    this.#timeout = options.transactionTimeoutMs ?? 30_000;
    this.#highWater = options.highWater ?? 4 << 20;
    this.#minExpires = options.minExpires ?? 60;
    this.#maxExpires = options.maxExpires ?? 3600;
    this.#defaultExpires = options.defaultExpires ?? 1800;
    options.metrics.msrpSessions.collectWith(() => this.#sessions.size);
  }

  /** The relay's URI without a session (what clients put in the To-Path of AUTH). */
  get uri(): string {
    const s = this.#self;
    const host = hostForUri(s.host);
    return s.tcpPort !== undefined
      ? `msrp://${host}:${s.tcpPort};tcp`
      : `msrp${s.wsSecure ? 's' : ''}://${host}:${s.wsPort};ws`;
  }

  /** The relay's URI for WebSocket clients to AUTH to. */
  get wsUri(): string {
    const s = this.#self;
    return `msrp${s.wsSecure ? 's' : ''}://${hostForUri(s.host)}:${s.wsPort};ws`;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get linkCount(): number {
    return this.#links.size;
  }

  /** Chunks forwarded and awaiting the next hop's response. */
  get pendingCount(): number {
    return this.#pending.size + this.#quiet.size;
  }

  sessions(): RelaySessionInfo[] {
    return [...this.#sessions.values()].map((s) => ({
      id: s.id,
      uri: s.uri,
      client: s.client.text,
      user: s.user,
      linkId: s.link.link.id,
      expiresAt: s.expiresAt,
    }));
  }

  /** Whether link `id` is paused (back-pressure). */
  isPaused(id: number): boolean {
    return this.#links.get(id)?.status === 'Paused';
  }

  // ---- link events ------------------------------------------------------------------------------------------

  /** A new connection (accepted by a listener). */
  open(link: RelayLink, now: number): void {
    this.#adopt(link, now, false);
  }

  /** Bytes from a link: one WebSocket message, or a piece of a TCP stream. */
  receive(link: RelayLink, data: Uint8Array, now: number): void {
    const ls = this.#links.get(link.id);
    if (ls === undefined || ls.status === 'Closed') return;
    ls.lastActivity = now;
    const side = link.side;
    this.#o.metrics.msrpBytes.inc(SIDE_LABELS[side].in, data.length);
    if (ls.framer === undefined) this.#onMessage(ls, data, now);
    else for (const event of ls.framer.push(data)) this.#onFramerEvent(ls, event, now);
  }

  /** A link's buffer has drained (below half the high-water mark): the links it held back are read again. */
  drained(link: RelayLink): void {
    const ls = this.#links.get(link.id);
    if (ls === undefined || link.buffered > this.#highWater / 2) return;
    this.#release(ls);
  }

  /** A link is gone (closed by its peer, by us, or it failed to connect). */
  closed(link: RelayLink, now: number): void {
    const ls = this.#links.get(link.id);
    if (ls === undefined) return;
    this.#links.delete(link.id);
    this.#transition(ls, 'Closed');
    this.#o.metrics.msrpConnections.dec(SIDE_LABELS[link.side].conn);
    for (const session of ls.sessions) this.#dropSession(session, 'connection closed');
    for (const key of ls.learned) if (this.#byNode.get(key) === ls) this.#byNode.delete(key);
    // RFC 4976 §6.3: what was forwarded on this link and not answered has failed: REPORT 481 to its sender.
    for (const p of ls.pending) this.#settle(p, 481, 'Connection to the next hop closed');
    this.#release(ls);
    for (const blocker of ls.blockers) blocker.waiters.delete(ls);
    const stream = ls.stream;
    if (stream?.route !== undefined && stream.head !== undefined) {
      // The sender went away mid-chunk: tell the next hop the message is aborted (RFC 4975 §7.1.1 `#`).
      this.#streamPiece(stream, stream.held ?? new Uint8Array(0), '#', now);
    }
    ls.stream = undefined;
    this.#o.log.info({ link: link.id, side: link.side, frames: ls.frames }, 'msrp connection closed');
  }

  /** Runs what is due: timeouts of forwarded chunks (REPORT 408), session expiry, idle links. */
  handleTimers(now: number): void {
    for (const p of this.#pending.values()) {
      if (p.deadline > now) break;
      // RFC 4975 §7.1.2: no response within the timeout: the chunk failed with 408.
      this.#settle(p, 408, 'Request Timeout');
    }
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + SWEEP_MS;
      this.#sweep(now);
    }
  }

  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const p of this.#pending.values()) {
      next = p.deadline;
      break;
    }
    if (this.#links.size > 0 || this.#sessions.size > 0)
      next = next === undefined ? this.#nextSweep : Math.min(next, this.#nextSweep);
    return next;
  }

  /** Closes every link (shutdown). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ls of [...this.#links.values()]) ls.link.close('shutdown', 'Going Away');
  }

  // ---- links ------------------------------------------------------------------------------------------------

  #adopt(link: RelayLink, now: number, outbound: boolean): LinkState {
    const ls: LinkState = {
      link,
      framer:
        link.framing === 'stream'
          ? new MsrpFramer({
              maxHeadBytes: this.#o.maxHeadBytes ?? 16384,
              streamAbove: this.#o.streamAbove ?? 1 << 20,
            })
          : undefined,
      outbound,
      status: 'Open',
      sessions: new Set(),
      pending: new Set(),
      blockers: new Set(),
      waiters: new Set(),
      learned: [],
      openedAt: now,
      lastActivity: now,
      frames: 0,
      garbage: 0,
      stream: undefined,
    };
    this.#links.set(link.id, ls);
    this.#o.metrics.msrpConnections.inc(SIDE_LABELS[link.side].conn);
    this.#o.log.info(
      { link: link.id, side: link.side, remote: `${link.remoteHost}:${link.remotePort}`, outbound },
      'msrp connection open',
    );
    if (this.#nextSweep === 0) this.#nextSweep = now + SWEEP_MS;
    return ls;
  }

  #transition(ls: LinkState, to: LinkStatus): boolean {
    if (ls.status === to) return true;
    if (!LINK_STATES[ls.status].includes(to)) return false;
    ls.status = to;
    return true;
  }

  /** Pauses `from` while `out` is over the high-water mark. */
  #backPressure(from: LinkState | undefined, out: LinkState): void {
    if (from === undefined || from === out || out.link.buffered <= this.#highWater) return;
    if (from.status === 'Closed') return;
    from.blockers.add(out);
    out.waiters.add(from);
    if (this.#transition(from, 'Paused')) from.link.pause();
  }

  #release(out: LinkState): void {
    for (const w of out.waiters) {
      w.blockers.delete(out);
      if (w.blockers.size === 0 && w.status === 'Paused' && this.#transition(w, 'Open')) w.link.resume();
    }
    out.waiters.clear();
  }

  #write(ls: LinkState, parts: readonly Uint8Array[], kind: FrameKind): boolean {
    if (ls.status === 'Closed') return false;
    if (!ls.link.write(parts)) return false;
    let n = 0;
    for (const p of parts) n += p.length;
    const side = ls.link.side;
    this.#o.metrics.msrpBytes.inc(SIDE_LABELS[side].out, n);
    this.#o.metrics.msrpFrames.inc(FRAME_LABELS[side].out[kind]);
    return true;
  }

  #error(reason: string): void {
    this.#o.metrics.msrpErrors.inc(errorLabels(reason));
  }

  #sweep(now: number): void {
    for (const session of [...this.#sessions.values()])
      if (session.expiresAt <= now) this.#dropSession(session, 'expired');
    const idle = this.#o.idleTimeoutMs ?? 30 * 60_000;
    const first = this.#o.firstFrameTimeoutMs ?? 30_000;
    for (const ls of [...this.#links.values()]) {
      if (ls.sessions.size > 0 || ls.status === 'Closed') continue;
      if (ls.frames === 0 && now - ls.openedAt >= first) {
        this.#error('no-frame');
        ls.link.close('idle', 'no MSRP frame');
      } else if (now - ls.lastActivity >= idle && ls.pending.size === 0) {
        this.#error('idle');
        ls.link.close('idle', 'idle');
      }
    }
  }

  #dropSession(session: RelaySession, why: string): void {
    if (this.#sessions.get(session.id) !== session) return;
    this.#sessions.delete(session.id);
    session.link.sessions.delete(session);
    const key = nodeKey(session.client);
    if (this.#byClient.get(key) === session) this.#byClient.delete(key);
    this.#o.log.info({ link: session.link.link.id, session: session.id, why }, 'msrp session ended');
  }

  // ---- our URIs -------------------------------------------------------------------------------------------------

  #isOwn(uri: MsrpUri): boolean {
    const host = uri.host.replace(/^\[|\]$/g, '').toLowerCase();
    return this.#self.hosts.has(host) && this.#self.ports.has(uri.port ?? 2855);
  }

  #sessionUri(id: string): string {
    const s = this.#self;
    const host = hostForUri(s.host);
    // RFC 7977 §6: the Use-Path names the relay as the peer reaches it: over TCP when we listen for it.
    return s.tcpPort !== undefined
      ? `msrp://${host}:${s.tcpPort}/${id};tcp`
      : `msrp${s.wsSecure ? 's' : ''}://${host}:${s.wsPort}/${id};ws`;
  }

  #tid(): string {
    return `r${this.#newId()}`.padEnd(4, '0').slice(0, 32);
  }

  // ---- input ----------------------------------------------------------------------------------------------------

  /** RFC 7977 §5: a WebSocket message holds exactly one frame (a whole chunk). */
  #onMessage(ls: LinkState, data: Uint8Array, now: number): void {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
    if (bytes.length < 5 || bytes.compare(MSRP_SP, 0, 5, 0, 5) !== 0) {
      ls.garbage++;
      this.#error('garbage');
      if (ls.garbage >= (this.#o.maxGarbage ?? 3)) ls.link.close('garbage', 'not MSRP');
      return;
    }
    let head: MsrpFrame | undefined;
    try {
      head = readMsrpHead(bytes);
    } catch {
      head = undefined;
    }
    const whole = head === undefined ? undefined : splitMessage(bytes, head);
    if (head === undefined || whole === undefined) return this.#slowMessage(ls, bytes, now);
    ls.garbage = 0;
    this.#onFrame(ls, whole, now);
  }

  /** A WebSocket message the fast path could not take: framed properly to say what is wrong with it. */
  #slowMessage(ls: LinkState, bytes: Uint8Array, now: number): void {
    const events = new MsrpFramer({ streamAbove: Infinity }).push(bytes);
    const first = events[0];
    if (events.length !== 1 || first === undefined || first.type === 'error') {
      // Not one frame: garbage (or a frame cut short).
      ls.garbage++;
      this.#error('unframeable');
      if (ls.garbage >= (this.#o.maxGarbage ?? 3)) ls.link.close('garbage', 'not MSRP');
      return;
    }
    this.#onFramerEvent(ls, first, now);
  }

  #onFramerEvent(ls: LinkState, event: MsrpFramerEvent, now: number): void {
    switch (event.type) {
      case 'frame':
        return this.#onFrame(ls, event.frame, now);
      case 'invalid':
        return this.#onInvalid(ls, event.frame, event.error);
      case 'start':
        return this.#onStreamStart(ls, event.frame, now);
      case 'data':
        return this.#onStreamData(ls, event.transactionId, event.data, now);
      case 'end':
        return this.#onStreamEnd(ls, event.transactionId, event.flag, now);
      case 'error':
        // The stream cannot be framed any more (RFC 4975 §5.1 leaves no way to find the next frame).
        this.#error('framing');
        this.#o.log.info({ link: ls.link.id, error: event.error.reason }, 'msrp stream cannot be framed');
        ls.link.close('framing', event.error.reason);
        return;
    }
  }

  /** A frame that was delimited but is malformed: RFC 4975 §7.3: 400 to a request that can be answered. */
  #onInvalid(ls: LinkState, frame: MsrpFrame, error: ParseError): void {
    ls.frames++;
    this.#error('bad-request');
    this.#o.metrics.msrpFrames.inc(FRAME_LABELS[ls.link.side].in[kindOf(frame)]);
    if (frame.method === undefined || frame.method === 'REPORT') return;
    if (msrpHeader(frame, 'Failure-Report') === 'no') return;
    this.#respond(ls, frame, 400, error.reason, this.uri);
  }

  #onFrame(ls: LinkState, frame: MsrpFrame, now: number): void {
    ls.frames++;
    this.#o.metrics.msrpFrames.inc(FRAME_LABELS[ls.link.side].in[kindOf(frame)]);
    if (frame.method === undefined) return this.#onResponse(ls, frame, now);
    const checked = this.#checkRequest(ls, frame, now);
    if ('status' in checked) return this.#refuse(ls, frame, checked, this.uri);
    if (checked.kind === 'auth') return;
    const { failure, to, from, range } = checked;
    const route = this.#route(ls, to, from, now);
    if ('status' in route) return this.#refuse(ls, frame, route, to[0]!.text, failure);
    this.#learn(ls, from[0]!);
    const body = frame.body;
    if (frame.method !== 'SEND' && (body?.length ?? 0) > MAX_NON_SEND_BODY)
      return this.#refuse(ls, frame, { status: 413, reason: 'Message Too Large' }, to[0]!.text, failure);
    const report: ReportTarget | undefined =
      frame.method !== 'SEND' || failure === 'no'
        ? undefined
        : {
            back: ls,
            toPath: msrpHeader(frame, 'From-Path')!,
            from: to[0]!.text,
            messageId: msrpHeader(frame, 'Message-ID') ?? '',
            range: formatByteRange(range ?? { start: 1, end: body?.length, total: body?.length }),
          };
    const headers = rewriteHeaders(frame.headers, route.to, route.hops);
    const out = route.out;
    if (frame.method === 'SEND' && body !== undefined && body.length > out.link.maxBody) {
      // RFC 4975 §5.1, RFC 4976 §6: a chunk longer than the next hop takes is split, each piece its own SEND.
      for (const piece of rechunk({ ...frame, headers }, out.link.maxBody, () => this.#tid())) {
        const pieceRange = msrpHeader(piece, 'Byte-Range')!;
        this.#send(out, piece, failure, report && { ...report, range: pieceRange }, now);
      }
    } else {
      let tid = frame.transactionId;
      // Transaction ids are per hop: keep the sender's unless it is in use toward the same next hop.
      const key = `${out.link.id} ${tid}`;
      if (this.#pending.has(key) || this.#quiet.has(key)) tid = this.#tid();
      this.#send(
        out,
        { ...frame, transactionId: tid, headers },
        frame.method === 'SEND' ? failure : 'no',
        report,
        now,
      );
    }
    this.#backPressure(ls, out);
    // RFC 4976 §6.3: the relay answers a SEND it has taken on with 200 when Failure-Report is yes.
    if (frame.method === 'SEND' && failure === 'yes') this.#ok(ls, frame, from[0]!.text, to[0]!.text);
  }

  /**
   * The checks every request passes before it is routed: paths readable (400), Failure-Report valid (400), the
   * first To-Path URI ours (481); AUTH is handled here. A SEND needs a Message-ID and a sound Byte-Range (400).
   */
  #checkRequest(
    ls: LinkState,
    frame: MsrpFrame,
    now: number,
  ):
    | Refusal
    | { kind: 'auth' }
    | {
        kind: 'relay';
        failure: FailureReport;
        to: MsrpUri[];
        from: MsrpUri[];
        range: ByteRange | undefined;
      } {
    let to: MsrpUri[];
    let from: MsrpUri[];
    let failure: FailureReport = 'yes';
    try {
      to = parseMsrpPath(msrpHeader(frame, 'To-Path') ?? '');
      from = parseMsrpPath(msrpHeader(frame, 'From-Path') ?? '');
      const fr = msrpHeader(frame, 'Failure-Report');
      if (fr !== undefined) {
        if (fr !== 'yes' && fr !== 'no' && fr !== 'partial')
          throw new ParseError(`bad Failure-Report "${fr}"`);
        failure = fr;
      }
    } catch (e) {
      return { status: 400, reason: e instanceof ParseError ? e.reason : 'bad paths' };
    }
    if (!this.#isOwn(to[0]!)) return { status: 481, reason: 'To-Path does not start with this relay' };
    if (frame.method === 'AUTH') {
      this.#onAuth(ls, frame, to, from, now);
      return { kind: 'auth' };
    }
    let range: ByteRange | undefined;
    if (frame.method === 'SEND') {
      const id = msrpHeader(frame, 'Message-ID');
      if (id === undefined || id === '') return { status: 400, reason: 'SEND without Message-ID' };
      const br = msrpHeader(frame, 'Byte-Range');
      try {
        range = br === undefined ? undefined : parseByteRange(br);
      } catch (e) {
        return { status: 400, reason: (e as ParseError).reason };
      }
      const body = frame.body;
      if (range?.end !== undefined && body !== undefined) {
        const expected = range.end - range.start + 1;
        if (body.length > expected) return { status: 400, reason: 'chunk body longer than its Byte-Range' };
        if (frame.flag === '$' && body.length !== expected)
          return { status: 400, reason: 'chunk body shorter than its Byte-Range' };
      }
    }
    return { kind: 'relay', failure, to, from, range };
  }

  /**
   * RFC 4976 §6: where a request goes once our URIs are taken off the front of its To-Path. From the session's
   * client it may go on to any next hop (the client's From-Path checked first: 403); from anywhere else it may only
   * go to the session's client. Two sessions of ours in a row (browser to browser) are both passed.
   */
  #route(ls: LinkState, to: readonly MsrpUri[], from: readonly MsrpUri[], now: number): Route | Refusal {
    const hops: string[] = [];
    for (let i = 0; ; i++) {
      const hop = to[i]!;
      if (i > 0 && !this.#isOwn(hop)) {
        const out = this.#linkTo(hop, now);
        if (out === undefined) return { status: 481, reason: 'the next hop cannot be reached' };
        return { out, to: to.slice(i).map((u) => u.text), hops };
      }
      if (i >= 2) return { status: 403, reason: 'too many hops through this relay' };
      const session = hop.sessionId === undefined ? undefined : this.#sessions.get(hop.sessionId);
      if (session === undefined) return { status: 481, reason: 'No Such Session' };
      const next = to[i + 1];
      if (next === undefined) return { status: 400, reason: 'To-Path names nobody after this relay' };
      hops.push(session.uri);
      if (i === 0 && ls === session.link) {
        // RFC 4976 §6.1: the client may only send as itself: the last From-Path URI is the one that AUTHed.
        if (!sameNode(from.at(-1)!, session.client))
          return { status: 403, reason: 'From-Path is not the client of this session' };
        continue;
      }
      if (i === 0 && ls.sessions.size > 0)
        return { status: 403, reason: 'this connection holds another session' };
      // Toward the session's client, and only to it.
      if (to.length !== i + 2 || !sameNode(next, session.client))
        return { status: 403, reason: 'only the client of the session is reached through it' };
      return { out: session.link, to: [next.text], hops };
    }
  }

  /** A link to a next hop that is not ours: a client of ours, a link we know for it, or a new one. */
  #linkTo(uri: MsrpUri, now: number): LinkState | undefined {
    const key = nodeKey(uri);
    const client = this.#byClient.get(key);
    if (client !== undefined && client.link.status !== 'Closed') return client.link;
    const known = this.#byNode.get(key);
    if (known !== undefined && known.status !== 'Closed') return known;
    // Never resolved: .invalid hosts (RFC 7977 §5.2: WebSocket clients' names), other transports than TCP.
    if (uri.host.toLowerCase().endsWith('.invalid') || uri.transport !== 'tcp' || uri.secure)
      return undefined;
    if (this.#o.connect === undefined || !(this.#o.mayConnect?.(uri) ?? true)) return undefined;
    const link = this.#o.connect(uri);
    if (link === undefined) return undefined;
    const ls = this.#adopt(link, now, true);
    ls.frames = 1; // it is ours: no first-frame timeout
    this.#byNode.set(key, ls);
    ls.learned.push(key);
    return ls;
  }

  /** RFC 4975 §5.4: the peer at the other end of a link is the one whose URI its frames come from. */
  #learn(ls: LinkState, previous: MsrpUri): void {
    if (ls.sessions.size > 0 || this.#isOwn(previous)) return;
    const key = nodeKey(previous);
    const known = this.#byNode.get(key);
    if (known === ls || (known !== undefined && known.status !== 'Closed')) return;
    this.#byNode.set(key, ls);
    ls.learned.push(key);
  }

  /** Writes a request on `out`, remembering it when a response (or a failure) is to come back. */
  #send(
    out: LinkState,
    frame: MsrpFrame,
    failure: FailureReport,
    report: ReportTarget | undefined,
    now: number,
  ): void {
    const body = frame.body;
    const head = serializeMsrpHead(frame);
    const end = msrpEndLine(frame.transactionId, frame.flag, body !== undefined);
    const written = this.#write(out, body === undefined ? [head, end] : [head, body, end], kindOf(frame));
    if (report === undefined || failure === 'no') return;
    if (!written) {
      this.#report(report, 481, 'Connection to the next hop closed');
      return;
    }
    const key = `${out.link.id} ${frame.transactionId}`;
    const p: Pending = { key, out, report, deadline: failure === 'yes' ? now + this.#timeout : Infinity };
    const table = failure === 'yes' ? this.#pending : this.#quiet;
    if (table.size >= (failure === 'yes' ? MAX_PENDING : MAX_QUIET)) {
      const oldest = table.values().next().value;
      if (oldest !== undefined) this.#forget(oldest);
    }
    table.set(key, p);
    out.pending.add(p);
  }

  #forget(p: Pending): void {
    this.#pending.delete(p.key);
    this.#quiet.delete(p.key);
    p.out.pending.delete(p);
  }

  /** A forwarded chunk's outcome: 200 closes it; anything else is reported to its sender. */
  #settle(p: Pending, status: number, reason: string): void {
    this.#forget(p);
    if (status === 200) return;
    this.#error(status === 408 ? 'downstream-timeout' : 'downstream-error');
    this.#report(p.report, status, reason);
  }

  /** RFC 4975 §7.1.2, RFC 4976 §6.3: a failure REPORT to the sender of a chunk (its From-Path as received). */
  #report(target: ReportTarget, status: number, reason: string): void {
    if (target.back.status === 'Closed') return;
    let frame: MsrpFrame;
    try {
      frame = msrpRequest({
        method: 'REPORT',
        transactionId: this.#tid(),
        toPath: target.toPath.trim().split(/ +/),
        fromPath: [target.from],
        headers: [
          ['Message-ID', target.messageId],
          ['Byte-Range', target.range],
          ['Status', `000 ${status} ${reason.replace(/[\x00-\x1f\x7f]/g, ' ')}`.trimEnd()],
        ],
      });
    } catch {
      return;
    }
    // It goes back on the link the chunk came on: the sender, or the previous relay, which passes it on.
    this.#write(target.back, [serializeMsrpFrame(frame)], 'REPORT');
  }

  #onResponse(ls: LinkState, frame: MsrpFrame, now: number): void {
    const key = `${ls.link.id} ${frame.transactionId}`;
    const p = this.#pending.get(key) ?? this.#quiet.get(key);
    if (p !== undefined && p.out === ls) {
      // RFC 4976 §6.3: responses to SEND are hop by hop: ours to take, never passed back.
      const status = frame.status ?? 0;
      const comment =
        frame.comment !== undefined && frame.comment !== '' ? frame.comment : MSRP_REASONS[status];
      return this.#settle(p, status, comment ?? '');
    }
    // A response to another method travels end to end (RFC 4975 §7.2): relayed like a request, never answered.
    let to: MsrpUri[];
    let from: MsrpUri[];
    try {
      to = parseMsrpPath(msrpHeader(frame, 'To-Path') ?? '');
      from = parseMsrpPath(msrpHeader(frame, 'From-Path') ?? '');
    } catch {
      this.#error('stray-response');
      return;
    }
    if (to.length < 2 || !this.#isOwn(to[0]!)) {
      this.#error('stray-response');
      return;
    }
    const route = this.#route(ls, to, from, now);
    if ('status' in route) {
      this.#error('stray-response');
      return;
    }
    const headers = rewriteHeaders(frame.headers, route.to, route.hops);
    this.#write(route.out, [serializeMsrpFrame({ ...frame, headers })], 'response');
  }

  // ---- answers --------------------------------------------------------------------------------------------------

  /** An error for a request: a response unless it is a REPORT or asks for none (RFC 4975 §7.1.1, §7.1.2). */
  #refuse(ls: LinkState, frame: MsrpFrame, refusal: Refusal, self: string, failure?: FailureReport): void {
    this.#error(`refused-${refusal.status}`);
    this.#o.log.debug(
      { link: ls.link.id, method: frame.method, status: refusal.status, reason: refusal.reason },
      'msrp request refused',
    );
    if (frame.method === 'REPORT') return;
    const fr = failure ?? msrpHeader(frame, 'Failure-Report');
    if (fr === 'no') return;
    this.#respond(ls, frame, refusal.status, refusal.reason, self);
  }

  #respond(
    ls: LinkState,
    frame: MsrpFrame,
    status: number,
    comment: string,
    self: string,
    headers?: readonly MsrpHeader[],
  ): void {
    let response: MsrpFrame;
    try {
      response = msrpResponse(frame, status, {
        self,
        comment: comment.replace(/[\x00-\x1f\x7f]/g, ' '),
        ...(headers === undefined ? {} : { headers }),
      });
    } catch {
      return; // no From-Path to answer to
    }
    this.#write(ls, [serializeMsrpFrame(response)], 'response');
  }

  /** The hop-by-hop 200 to a SEND: To-Path the previous hop, From-Path this hop (RFC 4975 §7.2). */
  #ok(ls: LinkState, frame: MsrpFrame, previous: string, self: string): void {
    const tid = frame.transactionId;
    const text = `MSRP ${tid} 200 OK\r\nTo-Path: ${previous}\r\nFrom-Path: ${self}\r\n-------${tid}$\r\n`;
    this.#write(ls, [Buffer.from(text, 'latin1')], 'response');
  }

  // ---- AUTH (RFC 4976 §5.1, §6.1) -------------------------------------------------------------------------------

  #onAuth(ls: LinkState, frame: MsrpFrame, to: MsrpUri[], from: MsrpUri[], now: number): void {
    const self = to[0]!.text;
    const refuse = (status: number, reason: string, headers?: MsrpHeader[]): void => {
      this.#error(`auth-${status}`);
      this.#respond(ls, frame, status, reason, self, headers);
    };
    // RFC 4976 §5.1: an AUTH is addressed to this relay alone, from the client itself.
    if (to.length !== 1) return refuse(403, 'AUTH through this relay is not supported');
    if (from.length !== 1) return refuse(403, 'AUTH must come from the client itself');
    const client = from[0]!;
    if (this.#isOwn(client)) return refuse(403, 'From-Path names this relay');
    let expires: number | undefined;
    try {
      expires = integerHeader(frame, 'Expires');
    } catch (e) {
      return refuse(400, (e as ParseError).reason);
    }
    const link = ls.link;
    const outcome = this.#o.auth.check(
      msrpHeaders(frame, 'Authorization'),
      `msrp:${link.id}`,
      link.remoteHost,
      now,
    );
    if (outcome.kind === 'challenge')
      return refuse(
        401,
        'Unauthorized',
        outcome.challenges.map((c): MsrpHeader => ['WWW-Authenticate', c]),
      );
    if (outcome.kind === 'forbidden') return refuse(403, outcome.reason);
    // RFC 4976 §5.1: an Expires out of bounds is refused 423 with the bound it broke.
    if (expires !== undefined && expires < this.#minExpires)
      return refuse(423, 'Interval Out-of-Bounds', [['Min-Expires', String(this.#minExpires)]]);
    if (expires !== undefined && expires > this.#maxExpires)
      return refuse(423, 'Interval Out-of-Bounds', [['Max-Expires', String(this.#maxExpires)]]);
    const granted = expires ?? this.#defaultExpires;
    // A refresh from the same client on the same connection keeps its session (and so its Use-Path).
    let session = [...ls.sessions].find((s) => s.client.text === client.text);
    if (session === undefined) {
      let id = this.#newId();
      while (this.#sessions.has(id)) id = this.#newId();
      session = { id, uri: this.#sessionUri(id), client, link: ls, user: outcome.user, expiresAt: 0 };
      this.#sessions.set(id, session);
      this.#byClient.set(nodeKey(client), session);
      ls.sessions.add(session);
      ls.frames = Math.max(ls.frames, 1);
    }
    session.expiresAt = now + granted * 1000;
    this.#o.log.info(
      { link: link.id, session: session.id, user: outcome.user, expires: granted },
      'msrp AUTH accepted',
    );
    this.#respond(ls, frame, 200, 'OK', self, [
      ['Use-Path', session.uri],
      ['Expires', String(granted)],
    ]);
  }

  // ---- chunks arriving in pieces on a stream --------------------------------------------------------------------

  #onStreamStart(ls: LinkState, frame: MsrpFrame, now: number): void {
    ls.frames++;
    this.#o.metrics.msrpFrames.inc(FRAME_LABELS[ls.link.side].in[kindOf(frame)]);
    const base = {
      tid: frame.transactionId,
      original: frame,
      offset: 0,
      held: undefined,
    };
    const refused = (refusal: Refusal, failure: FailureReport | undefined): void => {
      ls.stream = {
        ...base,
        head: undefined,
        route: undefined,
        refusal,
        failure,
        range: { start: 1, end: undefined, total: undefined },
        report: undefined,
      };
    };
    if (frame.method !== 'SEND') {
      // RFC 4975 §7.1: only SEND may carry a long body.
      const refusal = { status: 413, reason: 'Message Too Large' };
      return refused(refusal, frame.method === 'REPORT' ? 'no' : 'yes');
    }
    const checked = this.#checkRequest(ls, { ...frame, body: undefined }, now);
    if ('status' in checked) return refused(checked, undefined);
    if (checked.kind === 'auth') return;
    const { failure, to, from } = checked;
    const range = checked.range ?? { start: 1, end: undefined, total: undefined };
    const route = this.#route(ls, to, from, now);
    if ('status' in route) return refused(route, failure);
    this.#learn(ls, from[0]!);
    ls.stream = {
      ...base,
      head: { ...frame, headers: rewriteHeaders(frame.headers, route.to, route.hops) },
      route,
      refusal: undefined,
      failure,
      range,
      report:
        failure === 'no'
          ? undefined
          : {
              back: ls,
              toPath: msrpHeader(frame, 'From-Path')!,
              from: to[0]!.text,
              messageId: msrpHeader(frame, 'Message-ID') ?? '',
              range: formatByteRange(range),
            },
    };
  }

  #onStreamData(ls: LinkState, tid: string, data: Uint8Array, now: number): void {
    const stream = ls.stream;
    if (stream?.tid !== tid || stream.route === undefined) return;
    const max = stream.route.out.link.maxBody;
    let piece = data;
    // Each piece is a chunk of its own (RFC 4975 §5.1); the last one is held back to carry the chunk's flag.
    if (stream.held !== undefined) this.#streamPiece(stream, stream.held, '+', now);
    stream.held = undefined;
    while (piece.length > max) {
      this.#streamPiece(stream, piece.subarray(0, max), '+', now);
      piece = piece.subarray(max);
    }
    stream.held = piece;
    this.#backPressure(ls, stream.route.out);
  }

  #onStreamEnd(ls: LinkState, tid: string, flag: MsrpFlag, now: number): void {
    const stream = ls.stream;
    if (stream?.tid !== tid) return;
    ls.stream = undefined;
    const original = stream.original;
    const from = msrpHeader(original, 'From-Path') ?? '';
    const self = tryMsrpUri((msrpHeader(original, 'To-Path') ?? '').trim().split(/ +/)[0] ?? '')?.text;
    if (stream.refusal !== undefined || stream.route === undefined) {
      const refusal = stream.refusal ?? { status: 481, reason: 'No Such Session' };
      return this.#refuse(ls, original, refusal, self ?? this.uri, stream.failure);
    }
    this.#streamPiece(stream, stream.held ?? new Uint8Array(0), flag, now);
    stream.held = undefined;
    const { start, end } = stream.range;
    if (flag === '$' && end !== undefined && stream.offset !== end - start + 1)
      return this.#refuse(
        ls,
        original,
        { status: 400, reason: 'chunk body shorter or longer than its Byte-Range' },
        self ?? this.uri,
        stream.failure,
      );
    if (stream.failure === 'yes' && self !== undefined)
      this.#ok(ls, original, from.trim().split(/ +/)[0]!, self);
  }

  /** One piece of a streamed chunk, forwarded as a chunk of its own with its exact Byte-Range. */
  #streamPiece(stream: InStream, piece: Uint8Array, flag: MsrpFlag, now: number): void {
    const route = stream.route;
    const head = stream.head;
    if (route === undefined || head === undefined || route.out.status === 'Closed') return;
    const start = stream.range.start + stream.offset;
    const range = formatByteRange({ start, end: start + piece.length - 1, total: stream.range.total });
    stream.offset += piece.length;
    const frame: MsrpFrame = {
      ...head,
      transactionId: this.#tid(),
      headers: withByteRange(head.headers, range),
      body: piece,
      flag,
    };
    this.#send(route.out, frame, stream.failure ?? 'yes', stream.report && { ...stream.report, range }, now);
  }
}

/**
 * A WebSocket message as one whole frame (RFC 7977 §5): the head was read, the end-line must close the message.
 * Returns the frame with its body (a view), or undefined when the message is not exactly one frame.
 */
function splitMessage(bytes: Buffer, head: MsrpFrame): MsrpFrame | undefined {
  const tid = head.transactionId;
  const endLength = 7 + tid.length + 3; // "-------" tid flag CRLF
  const len = bytes.length;
  const flagAt = len - 3;
  if (len < endLength || bytes[len - 2] !== 13 || bytes[len - 1] !== 10) return undefined;
  const flag = bytes[flagAt];
  if (flag !== 36 && flag !== 43 && flag !== 35) return undefined;
  const endAt = len - endLength;
  for (let i = 0; i < 7; i++) if (bytes[endAt + i] !== 45) return undefined;
  if (bytes.toString('latin1', endAt + 7, flagAt) !== tid) return undefined;
  // The head ends at the first blank line when the frame has a body; a bodyless frame has none.
  const blank = bytes.indexOf(CRLFCRLF);
  const flagChar = String.fromCharCode(flag) as MsrpFlag;
  if (blank < 0 || blank + 4 > endAt) {
    // Bodyless: the end-line follows the last header line.
    if (bytes[endAt - 1] !== 10 || bytes[endAt - 2] !== 13) return undefined;
    return { ...head, body: undefined, flag: flagChar };
  }
  const bodyStart = blank + 4;
  const bodyEnd = endAt - 2;
  if (bodyEnd < bodyStart || bytes[bodyEnd] !== 13 || bytes[bodyEnd + 1] !== 10) return undefined;
  return { ...head, body: bytes.subarray(bodyStart, bodyEnd), flag: flagChar };
}
