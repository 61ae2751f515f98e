/**
 * The express lane: the edge proxy's relaying of the commonest traffic — a browser's non-INVITE request that opens
 * no dialog (pager MESSAGE above all) toward a UDP upstream, and the responses to it — done on the bytes.
 *
 *      browser ──WS──► fromWs: scan the head, check it, splice  ──UDP──► upstream
 *                      (own Via on top, received/rport on the browser's, Max-Forwards − 1)
 *      browser ◄─WS─── fromNet: find the branch, cut our Via    ◄─UDP─── upstream
 *
 * It does what the full path (EdgeProxy through the TransactionLayer) does for these requests, with none of its
 * objects: no parse into a message, no server transaction (over a reliable WebSocket the non-INVITE server
 * transaction ends with its final response, RFC 3261 §17.2.2 Timer J = 0), and a client transaction reduced to
 * an entry keyed by our branch that holds the bytes for retransmission. Anything it does not fully understand it
 * leaves to the full path (the caller then parses the message as before), so it never answers an error itself:
 * folded or repeated headers, a Via list on one line, an RFC 2543 branch, a Route, Proxy-Require, Max-Forwards 0,
 * a Content-Length that does not match, control characters, anything over 1300 bytes (§18.1.1, TCP).
 *
 * Timers (RFC 3261 §17.1.2.2): E re-sends at T1, doubling up to T2 (T2 once a provisional response came); F
 * gives up after 64·T1 with a 408 to the browser (§16.8); K keeps a completed entry T4 to absorb retransmitted
 * responses. All entries of one interval fall due in the order they were made, so each interval has a FIFO
 * instead of a priority queue, and the owner is asked for one wake-up per GRAIN ms at most.
 */
import type { Logger } from 'pino';

import {
  createResponse,
  parseCallId,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseVia,
  serializeMessage,
  type SipRequest,
  type TimerValues,
  type Via,
} from '../../web/src/sip/server.ts';
import { GatewayMetrics } from '../metrics.ts';
import { BRANCH_PREFIX, bareHost, branchFromSeed, formatOwnVia, randomTag } from './rewrite.ts';

/** What the lane needs of a browser connection (EdgeProxy's WsFlowHandle). */
export interface ExpressFlow {
  readonly connectionId: number;
  readonly token: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  send(data: Uint8Array): boolean;
}

export interface ExpressLaneOptions {
  /** the upstream's address (UDP) */
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  /** what goes into our Via: the public host and our UDP port */
  readonly viaHost: string;
  readonly viaPort: number;
  readonly timers: Pick<TimerValues, 'T1' | 'T2' | 'T4'>;
  /** §18.1.1: a bigger request is left to the full path (which sends it over TCP) */
  readonly maxUdpBytes: number;
  readonly flow: (connectionId: number) => ExpressFlow | undefined;
  readonly sendUdp: (data: Uint8Array, host: string, port: number) => void;
  /** call tick() at (or after) `at` */
  readonly schedule: (at: number) => void;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly random: () => number;
}

/** The methods the lane relays: non-INVITE, never dialog-forming (RFC 3261 §12.1, RFC 6665 §4.1). */
const METHODS = ['MESSAGE', 'OPTIONS', 'INFO', 'PUBLISH', 'BYE', 'UPDATE', 'PRACK'] as const;

const TRYING = 0;
const PROCEEDING = 1;
const COMPLETED = 2;

interface Entry {
  readonly branch: string;
  readonly connectionId: number;
  readonly method: string;
  readonly startedAt: number;
  /** Timer F */
  readonly deadline: number;
  state: number;
  /** what was sent, for Timer E; dropped at the final response */
  bytes: Buffer | undefined;
  /** when Timer E fires next (matches the queue item that is current) */
  nextAt: number;
}

/** Entries in the order they fall due (every item of one queue is pushed at now + the same interval). */
class Fifo {
  #entries: Entry[] = [];
  #dues: number[] = [];
  #head = 0;

  push(due: number, entry: Entry): void {
    this.#entries.push(entry);
    this.#dues.push(due);
  }

  /** the first due time, Infinity when empty */
  get due(): number {
    return this.#head < this.#dues.length ? this.#dues[this.#head]! : Infinity;
  }

  /** Removes the head (call only when `due` is finite). */
  shift(): Entry {
    const entry = this.#entries[this.#head]!;
    this.#head++;
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#dues = [];
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#dues = this.#dues.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }
}

export class ExpressLane {
  readonly #o: ExpressLaneOptions;
  readonly #entries = new Map<string, Entry>();
  /** Timer E, one FIFO per interval (T1, 2·T1, … T2) */
  readonly #resend = new Map<number, Fifo>();
  /** Timer K */
  readonly #linger = new Fifo();
  /** Timer F for the few entries whose next re-send would come after it, sorted by deadline */
  readonly #giveUp: Entry[] = [];
  readonly #grain: number;
  #armedAt = Infinity;
  #pending = 0;
  #closed = false;

  constructor(options: ExpressLaneOptions) {
    this.#o = options;
    this.#grain = Math.max(1, Math.min(10, Math.floor(options.timers.T1 / 10)));
  }

  /** Entries alive (pending or lingering to absorb retransmissions). */
  get size(): number {
    return this.#entries.size;
  }

  /** Requests still waiting for their final response. */
  get inFlight(): number {
    return this.#pending;
  }

  close(): void {
    this.#closed = true;
  }

  /**
   * A WebSocket frame from a browser. True when the lane took it (relayed, or absorbed as a duplicate); false
   * when the full path must handle it.
   */
  fromWs(flow: ExpressFlow, data: Buffer, now: number): boolean {
    if (this.#closed) return false;
    const head = scanRequest(data);
    if (head === undefined) return false;
    const body = data.length - head.bodyStart;
    if (head.contentLength >= 0 && head.contentLength !== body) return false;
    const viaText = data.toString('latin1', head.viaStart, head.viaEnd);
    const via = checkedVia(data, head, viaText);
    if (via === undefined) return false;

    // RFC 3261 §16.11: the branch is a function of the browser's branch and sent-by (EdgeProxy's branchSeed).
    const seed = `3261\n${(via.branch ?? '').toLowerCase()}\n${via.host.toLowerCase()}:${via.port ?? ''}`;
    const branch = branchFromSeed(seed, flow.token);
    const method = head.method;
    const labels = GatewayMetrics.labels('ws', { kind: 'request', method });
    if (this.#entries.has(branch)) {
      // The same request again (a browser never retransmits over WebSocket): one copy upstream is enough.
      this.#o.metrics.messagesIn.inc(labels);
      this.#o.metrics.drops.inc({ reason: 'duplicate-request' });
      return true;
    }

    // RFC 3581 §4, RFC 7118 §5.2: where the request really came from, on the browser's Via.
    const source = bareHost(flow.remoteHost);
    const stamped = via.params.has('rport')
      ? `${viaText.replace(BARE_RPORT, `;rport=${flow.remotePort}`)};received=${source}`
      : `${viaText};received=${source};rport=${flow.remotePort}`;
    // §16.6 steps 3 and 8: Max-Forwards decremented (70 when absent), our Via on top.
    let extra = '';
    if (head.maxForwards < 0) extra += 'Max-Forwards: 70\r\n';
    if (head.contentLength < 0) extra += `Content-Length: ${body}\r\n`;
    const ownVia = `Via: ${formatOwnVia('udp', this.#o.viaHost, this.#o.viaPort, branch)}\r\n`;
    const edits: Edit[] = [
      { at: head.firstHeader, end: head.firstHeader, text: ownVia },
      { at: head.viaStart, end: head.viaEnd, text: stamped },
    ];
    if (head.maxForwards >= 0) {
      const mf: Edit = { at: head.mfStart, end: head.mfEnd, text: String(head.maxForwards - 1) };
      if (head.mfStart < head.viaStart) edits.splice(1, 0, mf);
      else edits.push(mf);
    }
    if (extra !== '') edits.push({ at: head.bodyStart - 2, end: head.bodyStart - 2, text: extra });
    const out = splice(data, edits);
    if (out.length > this.#o.maxUdpBytes) return false;
    this.#o.metrics.messagesIn.inc(labels);

    const { T1 } = this.#o.timers;
    const entry: Entry = {
      branch,
      connectionId: flow.connectionId,
      method,
      startedAt: now,
      deadline: now + 64 * T1,
      state: TRYING,
      bytes: out,
      nextAt: now + T1,
    };
    this.#entries.set(branch, entry);
    this.#pending++;
    this.#queue(T1).push(entry.nextAt, entry);
    this.#arm(entry.nextAt);
    this.#send(entry, out);
    if (this.#o.log.isLevelEnabled('debug'))
      this.#o.log.debug(
        { method, connectionId: flow.connectionId, branch, lane: 'express' },
        'relayed request',
      );
    return true;
  }

  /**
   * A datagram from the network side. True when it was a response to one of the lane's requests (forwarded or
   * absorbed); false for anything else, which the full path handles.
   */
  fromNet(data: Buffer, now: number): boolean {
    const head = scanResponse(data);
    if (head === undefined) return false;
    const branch = branchOf(data.toString('latin1', head.viaStart, head.viaEnd));
    if (branch === undefined) return false;
    const entry = this.#entries.get(branch);
    // §17.1.3: the branch and the CSeq method must both match.
    if (entry === undefined || entry.method !== head.cseqMethod) return false;
    const status = head.status;
    const labels = GatewayMetrics.labels('udp', { kind: 'response', status });
    this.#o.metrics.messagesIn.inc(labels);
    // §17.1.2.2: in Completed, retransmitted responses are absorbed.
    if (entry.state === COMPLETED) return true;
    if (status < 200) {
      entry.state = PROCEEDING;
      // §16.7 step 5: a 100 is not forwarded.
      if (status === 100) return true;
    } else {
      entry.state = COMPLETED;
      entry.bytes = undefined;
      this.#pending--;
      this.#linger.push(now + this.#o.timers.T4, entry);
      this.#arm(now + this.#o.timers.T4);
      this.#o.metrics.relayLatency.observe((now - entry.startedAt) / 1000, { method: entry.method });
    }
    // §16.7 step 3: our Via goes; the rest is the browser's business.
    const out = cut(data, head.cutStart, head.cutEnd);
    const flow = this.#o.flow(entry.connectionId);
    if (flow === undefined) {
      this.#o.metrics.drops.inc({ reason: 'flow-gone' });
      return true;
    }
    if (flow.send(out))
      this.#o.metrics.messagesOut.inc(GatewayMetrics.labels('ws', { kind: 'response', status }));
    else this.#o.metrics.drops.inc({ reason: 'send-failed' });
    return true;
  }

  /** The timers that are due. */
  tick(now: number): void {
    this.#armedAt = Infinity;
    const { T2 } = this.#o.timers;
    for (const [interval, fifo] of this.#resend) {
      while (fifo.due <= now) {
        const due = fifo.due;
        const entry = fifo.shift();
        if (entry.state === COMPLETED || entry.nextAt !== due || entry.bytes === undefined) continue;
        if (now >= entry.deadline) {
          this.#timeout(entry, now);
          continue;
        }
        this.#o.metrics.retransmissions.inc({ kind: 'request' });
        this.#send(entry, entry.bytes);
        const next = entry.state === PROCEEDING ? T2 : Math.min(interval * 2, T2);
        if (now + next >= entry.deadline) {
          entry.nextAt = Infinity;
          insertByDeadline(this.#giveUp, entry);
        } else {
          entry.nextAt = now + next;
          this.#queue(next).push(entry.nextAt, entry);
        }
      }
    }
    while (this.#giveUp.length > 0 && this.#giveUp[0]!.deadline <= now) {
      const entry = this.#giveUp.shift()!;
      if (entry.state !== COMPLETED && this.#entries.get(entry.branch) === entry) this.#timeout(entry, now);
    }
    while (this.#linger.due <= now) {
      const entry = this.#linger.shift();
      if (this.#entries.get(entry.branch) === entry) this.#entries.delete(entry.branch);
    }
    let next = this.#linger.due;
    for (const fifo of this.#resend.values()) next = Math.min(next, fifo.due);
    if (this.#giveUp.length > 0) next = Math.min(next, this.#giveUp[0]!.deadline);
    if (next < Infinity) this.#arm(next);
  }

  #send(entry: Entry, bytes: Buffer): void {
    this.#o.metrics.messagesOut.inc(GatewayMetrics.labels('udp', { kind: 'request', method: entry.method }));
    this.#o.sendUdp(bytes, this.#o.upstreamHost, this.#o.upstreamPort);
  }

  /** §17.1.2.2 Timer F, §16.8: no final response in time: the browser gets a 408. */
  #timeout(entry: Entry, now: number): void {
    const bytes = entry.bytes;
    this.#entries.delete(entry.branch);
    entry.state = COMPLETED;
    entry.bytes = undefined;
    this.#pending--;
    this.#o.metrics.relayLatency.observe((now - entry.startedAt) / 1000, { method: entry.method });
    const flow = this.#o.flow(entry.connectionId);
    if (flow === undefined || bytes === undefined) return;
    try {
      const request = parseMessage(bytes) as SipRequest;
      request.headers.shift('via');
      const response = createResponse(request, 408, { toTag: randomTag(this.#o.random) });
      if (flow.send(serializeMessage(response)))
        this.#o.metrics.messagesOut.inc(GatewayMetrics.labels('ws', { kind: 'response', status: 408 }));
    } catch (error) {
      this.#o.log.warn({ err: error, branch: entry.branch }, 'cannot answer 408');
    }
  }

  #queue(interval: number): Fifo {
    let fifo = this.#resend.get(interval);
    if (fifo === undefined) this.#resend.set(interval, (fifo = new Fifo()));
    return fifo;
  }

  /** One wake-up per grain at most: a due time is rounded up to the grain. */
  #arm(at: number): void {
    const rounded = Math.ceil(at / this.#grain) * this.#grain;
    if (rounded >= this.#armedAt) return;
    this.#armedAt = rounded;
    this.#o.schedule(rounded);
  }
}

function insertByDeadline(list: Entry[], entry: Entry): void {
  let i = list.length;
  while (i > 0 && list[i - 1]!.deadline > entry.deadline) i--;
  list.splice(i, 0, entry);
}

// ---- byte surgery -------------------------------------------------------------------------------------------

interface Edit {
  readonly at: number;
  readonly end: number;
  /** ASCII */
  readonly text: string;
}

/** `data` with each [at, end) replaced by its text; edits in order, not overlapping. */
function splice(data: Buffer, edits: readonly Edit[]): Buffer {
  let size = data.length;
  for (const e of edits) size += e.text.length - (e.end - e.at);
  const out = Buffer.allocUnsafe(size);
  let from = 0;
  let to = 0;
  for (const e of edits) {
    to += data.copy(out, to, from, e.at);
    to += out.write(e.text, to, 'latin1');
    from = e.end;
  }
  data.copy(out, to, from);
  return out;
}

/** `data` without [start, end). */
function cut(data: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(data.length - (end - start));
  data.copy(out, 0, 0, start);
  data.copy(out, start, end);
  return out;
}

// ---- scanning ------------------------------------------------------------------------------------------------

const H_OTHER = 0;
const H_VIA = 1;
const H_MAX_FORWARDS = 2;
const H_ROUTE = 3;
const H_CSEQ = 4;
const H_CALL_ID = 5;
const H_FROM = 6;
const H_TO = 7;
const H_CONTENT_LENGTH = 8;
const H_PROXY_REQUIRE = 9;

/** RFC 3261 §25.1 token characters. */
const TOKEN = new Uint8Array(128);
for (const c of "-.!%*_+`'~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN[c] = TOKEN[c + 32] = 1;

/** Whether data[start, start + name.length) is `name` (lowercase ASCII), case-insensitively. */
function named(data: Buffer, start: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    let c = data[start + i]!;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether data[start, start + text.length) is `text` (ASCII), exactly. */
function ascii(data: Buffer, start: number, text: string): boolean {
  if (start + text.length > data.length) return false;
  for (let i = 0; i < text.length; i++) if (data[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** Which header the name data[start, end) is (long and compact forms, RFC 3261 §7.3.3). */
function headerKind(data: Buffer, start: number, end: number): number {
  switch (end - start) {
    case 1: {
      const c = data[start]! | 0x20;
      return c === 118
        ? H_VIA
        : c === 105
          ? H_CALL_ID
          : c === 102
            ? H_FROM
            : c === 116
              ? H_TO
              : c === 108
                ? H_CONTENT_LENGTH
                : H_OTHER;
    }
    case 2:
      return named(data, start, 'to') ? H_TO : H_OTHER;
    case 3:
      return named(data, start, 'via') ? H_VIA : H_OTHER;
    case 4:
      return named(data, start, 'cseq') ? H_CSEQ : named(data, start, 'from') ? H_FROM : H_OTHER;
    case 5:
      return named(data, start, 'route') ? H_ROUTE : H_OTHER;
    case 7:
      return named(data, start, 'call-id') ? H_CALL_ID : H_OTHER;
    case 12:
      return named(data, start, 'max-forwards') ? H_MAX_FORWARDS : H_OTHER;
    case 13:
      return named(data, start, 'proxy-require') ? H_PROXY_REQUIRE : H_OTHER;
    case 14:
      return named(data, start, 'content-length') ? H_CONTENT_LENGTH : H_OTHER;
    default:
      return H_OTHER;
  }
}

/** Where the colon of the line lineEnd() read last is (-1: none). */
let colonAt = -1;

/**
 * The CR of the CRLF that ends the line at `pos`; -1 when the line holds a control character (HT aside), a bare
 * CR or LF, or has no end. Notes the first colon in `colonAt`.
 */
function lineEnd(data: Buffer, pos: number): number {
  colonAt = -1;
  for (let i = pos; i < data.length; i++) {
    const c = data[i]!;
    if (c >= 32) {
      if (c === 127) return -1;
      if (c === 58 && colonAt < 0) colonAt = i;
      continue;
    }
    if (c === 9) continue;
    if (c === 13) return data[i + 1] === 10 ? i : -1;
    return -1;
  }
  return -1;
}

/** A decimal number of 1 to `digits` digits in data[start, end); -1 when it is not one. */
function decimal(data: Buffer, start: number, end: number, digits: number): number {
  if (end <= start || end - start > digits) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = data[i]!;
    if (c < 48 || c > 57) return -1;
    n = n * 10 + c - 48;
  }
  return n;
}

/** A header line's parts, filled by header(). */
const line = { end: 0, nameEnd: 0, valueStart: 0, valueEnd: 0 };

/** Reads the header line at `pos` into `line`; false when it is not a well-formed single line. */
function header(data: Buffer, pos: number): boolean {
  const first = data[pos];
  // §7.3.1: a line starting with whitespace continues the previous one (folding): left to the full parser.
  if (first === 32 || first === 9) return false;
  const end = lineEnd(data, pos);
  if (end < 0 || colonAt < 0) return false;
  let nameEnd = colonAt;
  while (nameEnd > pos && (data[nameEnd - 1] === 32 || data[nameEnd - 1] === 9)) nameEnd--;
  if (nameEnd === pos) return false;
  for (let i = pos; i < nameEnd; i++) {
    const c = data[i]!;
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  let valueStart = colonAt + 1;
  while (valueStart < end && (data[valueStart] === 32 || data[valueStart] === 9)) valueStart++;
  let valueEnd = end;
  while (valueEnd > valueStart && (data[valueEnd - 1] === 32 || data[valueEnd - 1] === 9)) valueEnd--;
  line.end = end;
  line.nameEnd = nameEnd;
  line.valueStart = valueStart;
  line.valueEnd = valueEnd;
  return true;
}

interface RequestHead {
  method: string;
  /** how many Via header lines */
  vias: number;
  /** value ranges of From, To, Call-ID, CSeq (start, end pairs) */
  readonly values: number[];
  /** where the first header line starts */
  firstHeader: number;
  viaStart: number;
  viaEnd: number;
  /** -1: absent */
  maxForwards: number;
  mfStart: number;
  mfEnd: number;
  /** -1: absent */
  contentLength: number;
  bodyStart: number;
}

const request: RequestHead = {
  method: '',
  vias: 0,
  values: [0, 0, 0, 0, 0, 0, 0, 0],
  firstHeader: 0,
  viaStart: -1,
  viaEnd: -1,
  maxForwards: -1,
  mfStart: 0,
  mfEnd: 0,
  contentLength: -1,
  bodyStart: 0,
};

const SIP_VERSION = ' SIP/2.0';

/**
 * The head of a request the lane can take, or undefined. RFC 3261 §7.1 request line, §8.1.1 the mandatory
 * headers once each (Via at least once), and none of what only the full path handles.
 */
function scanRequest(data: Buffer): RequestHead | undefined {
  let method: string | undefined;
  for (const m of METHODS)
    if (data[m.length] === 32 && ascii(data, 0, m)) {
      method = m;
      break;
    }
  if (method === undefined) return undefined;
  const lineOneEnd = lineEnd(data, 0);
  const uriStart = method.length + 1;
  const uriEnd = lineOneEnd - SIP_VERSION.length;
  if (lineOneEnd < 0 || uriEnd <= uriStart || !ascii(data, uriEnd, SIP_VERSION)) return undefined;
  for (let i = uriStart; i < uriEnd; i++) if (data[i] === 32 || data[i] === 9) return undefined;

  const r = request;
  r.method = method;
  r.firstHeader = lineOneEnd + 2;
  r.viaStart = -1;
  r.vias = 0;
  r.maxForwards = -1;
  r.contentLength = -1;
  let seen = 0;
  let pos = r.firstHeader;
  for (;;) {
    if (data[pos] === 13 && data[pos + 1] === 10) break;
    if (!header(data, pos)) return undefined;
    const { valueStart, valueEnd } = line;
    const kind = headerKind(data, pos, line.nameEnd);
    switch (kind) {
      case H_OTHER:
        break;
      case H_ROUTE:
      case H_PROXY_REQUIRE:
        return undefined;
      case H_VIA:
        if (r.viaStart < 0) {
          r.viaStart = valueStart;
          r.viaEnd = valueEnd;
        }
        r.vias++;
        break;
      default: {
        const bit = 1 << kind;
        if ((seen & bit) !== 0 || valueEnd === valueStart) return undefined;
        seen |= bit;
        if (kind === H_MAX_FORWARDS) {
          // §16.3 step 3: 0 is answered 483 by the full path.
          r.maxForwards = decimal(data, valueStart, valueEnd, 3);
          if (r.maxForwards <= 0 || r.maxForwards > 255) return undefined;
          r.mfStart = valueStart;
          r.mfEnd = valueEnd;
        } else if (kind === H_CONTENT_LENGTH) {
          r.contentLength = decimal(data, valueStart, valueEnd, 9);
          if (r.contentLength < 0) return undefined;
        } else {
          const slot = VALUE_SLOT[kind]!;
          r.values[slot] = valueStart;
          r.values[slot + 1] = valueEnd;
        }
      }
    }
    pos = line.end + 2;
  }
  const required = (1 << H_CSEQ) | (1 << H_CALL_ID) | (1 << H_FROM) | (1 << H_TO);
  if (r.viaStart < 0 || (seen & required) !== required) return undefined;
  r.bodyStart = pos + 2;
  return r;
}

/** Where scanRequest puts the value range of each of these headers in `values`. */
const VALUE_SLOT: Partial<Record<number, number>> = { [H_FROM]: 0, [H_TO]: 2, [H_CALL_ID]: 4, [H_CSEQ]: 6 };

/** `;rport` without a value (RFC 3581 §3), to be given the source port. */
const BARE_RPORT = /;[ \t]*rport[ \t]*(?=;|$)/i;

/**
 * What the full path's parse checks of every request (Via, From, To, Call-ID, CSeq: RFC 3261 §8.1.1 and the CSeq
 * method, RFC 4475 §3.1.2.17), with the core's own value parsers, so both paths take and refuse the same
 * requests; and the browser's Via the lane can take: one value with the magic cookie, no received, a bare rport
 * or none. The Via, or undefined.
 */
function checkedVia(data: Buffer, head: RequestHead, viaText: string): Via | undefined {
  if (head.vias !== 1) return undefined;
  const v = head.values;
  try {
    const vias = parseVia(viaText);
    const via = vias[0];
    // §8.1.1.7: only a branch with the magic cookie identifies the transaction on its own.
    if (
      vias.length !== 1 ||
      via === undefined ||
      via.branch === undefined ||
      !via.branch.startsWith('z9hG4bK')
    )
      return undefined;
    if (via.received !== undefined || (via.params.has('rport') && via.rport !== null)) return undefined;
    parseNameAddr(data.toString('utf8', v[0], v[1]), 0, true);
    parseNameAddr(data.toString('utf8', v[2], v[3]), 0, true);
    parseCallId(data.toString('latin1', v[4], v[5]));
    const cseq = parseCSeq(data.toString('latin1', v[6], v[7]));
    return cseq.method === head.method ? via : undefined;
  } catch {
    return undefined;
  }
}

interface ResponseHead {
  status: number;
  viaStart: number;
  viaEnd: number;
  /** the bytes to remove: our Via (its line, or its value up to the next one on the same line) */
  cutStart: number;
  cutEnd: number;
  cseqMethod: string;
}

const response: ResponseHead = { status: 0, viaStart: 0, viaEnd: 0, cutStart: 0, cutEnd: 0, cseqMethod: '' };

/**
 * The parts of a response the lane needs: status, the top Via (and what removing it takes), that a Via follows
 * it, the CSeq method. Undefined for anything else (requests, garbage): the full path looks at those.
 */
function scanResponse(data: Buffer): ResponseHead | undefined {
  // §7.2: SIP/2.0 SP 3DIGIT SP
  if (data.length < 14 || !ascii(data, 0, 'SIP/2.0 ')) return undefined;
  const status = decimal(data, 8, 11, 3);
  if (status < 100 || data[11] !== 32) return undefined;
  const first = lineEnd(data, 0);
  if (first < 0) return undefined;
  const r = response;
  r.status = status;
  r.viaStart = -1;
  r.cseqMethod = '';
  let nextVia = false;
  let pos = first + 2;
  for (;;) {
    if (data[pos] === 13 && data[pos + 1] === 10) break;
    if (!header(data, pos)) return undefined;
    const kind = headerKind(data, pos, line.nameEnd);
    if (kind === H_VIA) {
      if (r.viaStart >= 0) nextVia = true;
      else {
        const comma = data.indexOf(44, line.valueStart);
        if (comma >= 0 && comma < line.valueEnd) {
          // Several values on the line: remove ours and the comma (and whitespace) after it.
          let next = comma + 1;
          while (next < line.valueEnd && (data[next] === 32 || data[next] === 9)) next++;
          if (next === line.valueEnd) return undefined;
          r.viaStart = line.valueStart;
          r.viaEnd = comma;
          r.cutStart = line.valueStart;
          r.cutEnd = next;
          nextVia = true;
        } else {
          r.viaStart = line.valueStart;
          r.viaEnd = line.valueEnd;
          r.cutStart = pos;
          r.cutEnd = line.end + 2;
        }
      }
    } else if (kind === H_CSEQ) {
      let i = line.valueStart;
      while (i < line.valueEnd && data[i] !== 32 && data[i] !== 9) i++;
      while (i < line.valueEnd && (data[i] === 32 || data[i] === 9)) i++;
      r.cseqMethod = data.toString('latin1', i, line.valueEnd);
    }
    if (nextVia && r.cseqMethod !== '') break;
    pos = line.end + 2;
  }
  return r.viaStart >= 0 && nextVia && r.cseqMethod !== '' ? r : undefined;
}

/** The branch of one of our Vias (value text), undefined when the Via is not ours. */
function branchOf(text: string): string | undefined {
  const at = text.indexOf(';branch=');
  if (at < 0) return undefined;
  const start = at + ';branch='.length;
  const end = text.indexOf(';', start);
  const branch = (end < 0 ? text.slice(start) : text.slice(start, end)).trim();
  return branch.startsWith(BRANCH_PREFIX) ? branch : undefined;
}
