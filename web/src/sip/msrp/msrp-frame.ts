/**
 * MSRP frames (RFC 4975 §5.1, §7, §9): the request or response, its header fields, its body and the end-line.
 *
 *   MSRP a786hjs2 SEND                                  ← start line: transaction id, method (or status)
 *   To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp
 *   From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp
 *   Message-ID: 87652491
 *   Byte-Range: 1-25/25
 *   Content-Type: text/plain                            ← the last header when there is a body
 *                                                       ← blank line
 *   Hey Bob, are you there?                             ← body (bytes), then CRLF
 *   -------a786hjs2$                                    ← end-line: 7 dashes, transaction id, continuation flag
 *
 * A frame is plain data: headers stay text in the order received and are read with one generic accessor
 * (`msrpHeader`) plus a few typed readers (paths, Byte-Range, Status, reports, Expires) that throw ParseError on
 * bad values. The body is a Uint8Array, usually a view into the bytes received (never copied here).
 */
import { ParseError } from '../errors.ts';
import { parseMsrpUri, type MsrpUri } from './msrp-uri.ts';

/** RFC 4975 §9 continuation-flag: `$` last chunk, `+` more chunks follow, `#` the message is aborted. */
export type MsrpFlag = '$' | '+' | '#';
export type MsrpHeader = readonly [name: string, value: string];

export interface MsrpFrame {
  readonly transactionId: string;
  /** SEND, REPORT, AUTH … for a request; undefined for a response */
  readonly method: string | undefined;
  /** the status code of a response */
  readonly status: number | undefined;
  /** the text after a response's status code */
  readonly comment: string | undefined;
  /** every header field in order; To-Path and From-Path first when built here */
  readonly headers: readonly MsrpHeader[];
  /** undefined when the frame has no content-stuff (no blank line); may be empty when it has */
  readonly body: Uint8Array | undefined;
  readonly flag: MsrpFlag;
}

export interface ByteRange {
  /** the first byte of the chunk, counting from 1 */
  readonly start: number;
  /** the last byte, or undefined for `*` (unknown or interruptible) */
  readonly end: number | undefined;
  /** the whole message's size, or undefined for `*` */
  readonly total: number | undefined;
}

export interface MsrpStatus {
  readonly code: number;
  readonly comment: string;
}

/** RFC 4975 §10 and RFC 4976 §7 status codes, with the comment this stack writes after them. */
export const MSRP_REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  408: 'Request Timeout',
  413: 'Message Too Large',
  415: 'Unsupported Media Type',
  423: 'Interval Out-of-Bounds',
  481: 'No Such Session',
  501: 'Not Implemented',
  506: 'Session Bound To Another Connection',
};

export const utf8 = new TextEncoder();
export const utf8Text = new TextDecoder('utf-8');

/** The first header field named `name` (case-insensitive), or undefined. */
export function msrpHeader(frame: Pick<MsrpFrame, 'headers'>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [n, v] of frame.headers) if (n.toLowerCase() === lower) return v;
  return undefined;
}

/** Every value of the header fields named `name`, in order (for WWW-Authenticate, which may repeat). */
export function msrpHeaders(frame: Pick<MsrpFrame, 'headers'>, name: string): string[] {
  const lower = name.toLowerCase();
  return frame.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

// ---- typed readers -------------------------------------------------------------------------------------------

/** RFC 4975 §9: To-Path / From-Path / Use-Path = MSRP-URI *( SP MSRP-URI ). Throws ParseError. */
export function parseMsrpPath(value: string): MsrpUri[] {
  const parts = value.trim().split(/[ \t]+/);
  if (parts[0] === '') throw new ParseError('empty MSRP path');
  return parts.map(parseMsrpUri);
}

/** The frame's To-Path or From-Path as URIs; throws ParseError (400) when absent or malformed. */
export function framePath(frame: Pick<MsrpFrame, 'headers'>, name: 'To-Path' | 'From-Path'): MsrpUri[] {
  const v = msrpHeader(frame, name);
  if (v === undefined) throw new ParseError(`${name} is missing`);
  return parseMsrpPath(v);
}

const RANGE = /^(\d{1,15})-(\d{1,15}|\*)\/(\d{1,15}|\*)$/;

/**
 * RFC 4975 §9: Byte-Range = range-start "-" range-end "/" total, `*` for an unknown end or total. Checks what the
 * numbers promise: start ≥ 1, end ≥ start − 1 (an empty chunk), end ≤ total.
 */
export function parseByteRange(value: string): ByteRange {
  const m = RANGE.exec(value.trim());
  if (m === null) throw new ParseError(`bad Byte-Range "${value.slice(0, 40)}"`);
  const start = Number(m[1]);
  const end = m[2] === '*' ? undefined : Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (start < 1 || (end !== undefined && end < start - 1) || (end ?? start - 1) > (total ?? Infinity))
    throw new ParseError(`inconsistent Byte-Range "${value}"`);
  return { start, end, total };
}

export function formatByteRange(r: ByteRange): string {
  return `${r.start}-${r.end ?? '*'}/${r.total ?? '*'}`;
}

/** RFC 4975 §9: Status = namespace SP status-code [SP text-reason], the namespace being "000". */
export function parseMsrpStatus(value: string): MsrpStatus {
  const m = /^000 (\d{3})(?: (.*))?$/.exec(value.trim());
  if (m === null) throw new ParseError(`bad Status "${value.slice(0, 40)}"`);
  return { code: Number(m[1]), comment: m[2] ?? '' };
}

/**
 * A header whose value is one of `allowed` (Success-Report: yes/no, Failure-Report: yes/no/partial), or
 * `fallback` when absent; throws ParseError on anything else.
 */
export function enumHeader<T extends string>(
  frame: Pick<MsrpFrame, 'headers'>,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = msrpHeader(frame, name);
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new ParseError(`bad ${name} "${v.slice(0, 20)}"`);
  return v as T;
}

/** An integer header (Expires, Min-Expires, Max-Expires of RFC 4976); throws ParseError when malformed. */
export function integerHeader(frame: Pick<MsrpFrame, 'headers'>, name: string): number | undefined {
  const v = msrpHeader(frame, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,10}$/.test(v)) throw new ParseError(`bad ${name} "${v.slice(0, 20)}"`);
  return Number(v);
}

// ---- building ---------------------------------------------------------------------------------------------------

/** An ident for a transaction or Message-ID (RFC 4975 §7.1: at least 64 bits of randomness): 12 of 62 chars. */
export function msrpIdent(random: () => number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let s = '';
  for (let i = 0; i < 12; i++) s += chars.charAt(Math.floor(random() * 62));
  return s;
}

const IDENT = /^[A-Za-z\d][\w.\-+%=]{3,31}$/;

/** RFC 4975 §9: ident = ALPHANUM 3*31ident-char (transaction ids, Message-IDs). */
export function isMsrpIdent(s: string): boolean {
  return IDENT.test(s);
}
const HEADER_NAME = /^[\w\-.!%*+`'~]+$/;

/**
 * A request frame. `headers` come after To-Path and From-Path; a body needs `contentType` (RFC 4975 §7.1: the
 * Content-Type is then the last header). Throws TypeError on values that cannot be written.
 */
export function msrpRequest(init: {
  method: string;
  transactionId: string;
  toPath: readonly string[];
  fromPath: readonly string[];
  headers?: readonly MsrpHeader[];
  body?: Uint8Array;
  contentType?: string;
  flag?: MsrpFlag;
}): MsrpFrame {
  if (!/^[A-Z]+$/.test(init.method)) throw new TypeError(`bad MSRP method "${init.method}"`);
  const headers = pathHeaders(init.toPath, init.fromPath, init.headers);
  if (init.body !== undefined) {
    if (init.contentType === undefined) throw new TypeError('a body needs a Content-Type');
    headers.push(['Content-Type', init.contentType]);
  }
  return checkFrame({
    transactionId: init.transactionId,
    method: init.method,
    status: undefined,
    comment: undefined,
    headers,
    body: init.body,
    flag: init.flag ?? '$',
  });
}

/**
 * RFC 4975 §7.2: the response to `request`. The To-Path is the previous hop (the first From-Path URI) for a SEND
 * and the whole From-Path reversed for other methods; the From-Path is `self`, by default the first To-Path URI
 * of the request (the node it was addressed to). The request's paths must be readable (framePath throws).
 */
export function msrpResponse(
  request: MsrpFrame,
  status: number,
  options: { comment?: string; self?: string; headers?: readonly MsrpHeader[] } = {},
): MsrpFrame {
  const from = framePath(request, 'From-Path').map((u) => u.text);
  const to = request.method === 'SEND' ? from.slice(0, 1) : from.reverse();
  const self = options.self ?? framePath(request, 'To-Path')[0]!.text;
  return checkFrame({
    transactionId: request.transactionId,
    method: undefined,
    status,
    comment: options.comment ?? MSRP_REASONS[status] ?? '',
    headers: pathHeaders(to, [self], options.headers),
    body: undefined,
    flag: '$',
  });
}

/**
 * RFC 4975 §7.1.2: a REPORT on the message of `send`, to its whole From-Path, with its Message-ID, the byte
 * range reported and `Status: 000 <code> <comment>`.
 */
export function msrpReport(
  send: MsrpFrame,
  status: number,
  init: { transactionId: string; self: string; byteRange: ByteRange; comment?: string },
): MsrpFrame {
  const to = framePath(send, 'From-Path').map((u) => u.text);
  return msrpRequest({
    method: 'REPORT',
    transactionId: init.transactionId,
    toPath: to,
    fromPath: [init.self],
    headers: [
      ['Message-ID', msrpHeader(send, 'Message-ID') ?? ''],
      ['Byte-Range', formatByteRange(init.byteRange)],
      ['Status', `000 ${status} ${init.comment ?? MSRP_REASONS[status] ?? ''}`.trimEnd()],
    ],
  });
}

function pathHeaders(
  to: readonly string[],
  from: readonly string[],
  rest: readonly MsrpHeader[] = [],
): [string, string][] {
  return [
    ['To-Path', to.join(' ')],
    ['From-Path', from.join(' ')],
    ...rest.map(([n, v]): [string, string] => [n, v]),
  ];
}

function checkFrame(frame: MsrpFrame): MsrpFrame {
  if (!IDENT.test(frame.transactionId)) throw new TypeError(`bad transaction id "${frame.transactionId}"`);
  for (const [n, v] of frame.headers)
    if (!HEADER_NAME.test(n) || /[\x00-\x08\x0a-\x1f\x7f]/.test(v)) throw new TypeError(`bad header ${n}`);
  return frame;
}

// ---- serializing ------------------------------------------------------------------------------------------------

/** The start line and headers, plus the blank line when there is a body: what precedes the body on the wire. */
export function serializeMsrpHead(frame: MsrpFrame): Uint8Array {
  let s = `MSRP ${frame.transactionId} ${frame.method ?? `${frame.status} ${frame.comment ?? ''}`.trimEnd()}\r\n`;
  for (const [n, v] of frame.headers) s += `${n}: ${v}\r\n`;
  return utf8.encode(frame.body === undefined ? s : s + '\r\n');
}

/** What follows the body: CRLF (when there is a body) and the end-line. */
export function msrpEndLine(transactionId: string, flag: MsrpFlag, afterBody: boolean): Uint8Array {
  return utf8.encode(`${afterBody ? '\r\n' : ''}-------${transactionId}${flag}\r\n`);
}

/** The frame as the three pieces a stream can write without copying the body: head, body, end. */
export function msrpFrameParts(frame: MsrpFrame): [Uint8Array, Uint8Array, Uint8Array] {
  const body = frame.body ?? new Uint8Array(0);
  return [
    serializeMsrpHead(frame),
    body,
    msrpEndLine(frame.transactionId, frame.flag, frame.body !== undefined),
  ];
}

/** The whole frame as one byte array (one WebSocket message, RFC 7977 §5). */
export function serializeMsrpFrame(frame: MsrpFrame): Uint8Array {
  return concatBytes(msrpFrameParts(frame));
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

// ---- parsing ------------------------------------------------------------------------------------------------

/** What the head parser knows once the start line is read: enough to find the end-line. */
export interface MsrpStartLine {
  readonly transactionId: string;
  readonly method: string | undefined;
  readonly status: number | undefined;
  readonly comment: string | undefined;
}

const START = /^MSRP ([A-Za-z\d][\w.\-+%=]{3,31}) (.+)$/;

/**
 * RFC 4975 §9 req-start / resp-start. Returns undefined when not even a transaction id can be read (the stream
 * cannot be framed); throws ParseError when the id is there but the rest is wrong (the frame is still
 * delimited, and a request can be answered 400).
 */
export function parseStartLine(line: string): MsrpStartLine | undefined {
  const m = START.exec(line);
  if (m === null) return undefined;
  const transactionId = m[1]!;
  const rest = m[2]!;
  if (/^[A-Z]+$/.test(rest)) return { transactionId, method: rest, status: undefined, comment: undefined };
  const r = /^(\d{3})(?: (.*))?$/.exec(rest);
  if (r === null) throw new ParseError(`bad MSRP start line "${line.slice(0, 80)}"`);
  return { transactionId, method: undefined, status: Number(r[1]), comment: r[2] ?? '' };
}

/** One header line (RFC 4975 §9: name ":" SP value, UTF-8 text without controls); throws ParseError. */
export function parseHeaderLine(line: string): MsrpHeader {
  const colon = line.indexOf(':');
  const name = line.slice(0, colon);
  if (colon < 1 || !HEADER_NAME.test(name)) throw new ParseError(`bad header line "${line.slice(0, 60)}"`);
  const value = line.slice(colon + 1).replace(/^[ \t]+/, '');
  if (/[\x00-\x08\x0a-\x1f\x7f\uFFFD]/.test(value)) throw new ParseError(`bad character in ${name}`);
  return [name, value];
}

/**
 * The semantic checks every frame must pass (RFC 4975 §7.1, §9): To-Path and From-Path present and made of MSRP
 * URIs; a body only with a Content-Type. Throws ParseError, whose reason a 400 can carry.
 */
export function checkMsrpFrame(frame: MsrpFrame): void {
  framePath(frame, 'To-Path');
  framePath(frame, 'From-Path');
  if (frame.body !== undefined && msrpHeader(frame, 'Content-Type') === undefined)
    throw new ParseError('a body without Content-Type');
}

/**
 * Parses exactly one whole frame from bytes (a WebSocket message, a test fixture). Strict: throws ParseError on
 * anything that is not a well-formed frame, including trailing bytes. Streams go through MsrpFramer instead.
 */
export function parseMsrpFrame(bytes: Uint8Array | string): MsrpFrame {
  const data = typeof bytes === 'string' ? utf8.encode(bytes) : bytes;
  const head = readHead(data, 0, data.length);
  if (head === undefined) throw new ParseError('incomplete or unframeable MSRP frame');
  if (head.error !== undefined) throw head.error;
  let body: Uint8Array | undefined;
  let end = head.end;
  if (head.bodyStart !== undefined) {
    const found = findEndLine(data, head.bodyStart, data.length, utf8.encode(head.frame.transactionId));
    if (found.at < 0) throw new ParseError('no end-line after the body', data.length);
    body = data.subarray(head.bodyStart, found.at);
    end = found.next;
    head.frame = { ...head.frame, body, flag: found.flag };
  }
  if (end !== data.length) throw new ParseError('bytes after the end-line', end);
  checkMsrpFrame(head.frame);
  return head.frame;
}

/** A head read by readHead: the frame so far (no body yet unless bodyless), where its body starts or it ends. */
export interface HeadResult {
  frame: MsrpFrame;
  /** where the body starts (after the blank line), or undefined when the end-line followed the headers */
  bodyStart: number | undefined;
  /** for a bodyless frame, the offset after its end-line */
  end: number;
  /** set when the frame is delimited but malformed */
  error: ParseError | undefined;
}

/**
 * Reads the head of the frame starting at `pos` in data[pos, len). Returns undefined when more bytes are needed;
 * throws ParseError when the bytes cannot start a frame at all (no `MSRP <id> ` start line).
 */
export function readHead(data: Uint8Array, pos: number, len: number): HeadResult | undefined {
  if (!startsWithMsrp(data, pos, len)) throw new ParseError('a frame must start with "MSRP "', pos);
  let nl = data.indexOf(10, pos);
  if (nl < 0 || nl >= len) return undefined;
  const first = utf8Text.decode(data.subarray(pos, nl - 1));
  let start: MsrpStartLine | undefined;
  let error: ParseError | undefined;
  try {
    start = data[nl - 1] === 13 ? parseStartLine(first) : undefined;
  } catch (e) {
    error = e as ParseError;
    start = {
      transactionId: START.exec(first)![1]!,
      method: undefined,
      status: undefined,
      comment: undefined,
    };
  }
  if (start === undefined) throw new ParseError(`bad MSRP start line "${first.slice(0, 60)}"`, pos);
  const endLine = `-------${start.transactionId}`;
  const headers: MsrpHeader[] = [];
  for (let at = nl + 1; ; at = nl + 1) {
    nl = data.indexOf(10, at);
    if (nl < 0 || nl >= len) return undefined;
    const crlf = data[nl - 1] === 13;
    const line = utf8Text.decode(data.subarray(at, crlf ? nl - 1 : nl));
    if (!crlf) error ??= new ParseError('header line not ended by CRLF', nl);
    const bodyless =
      line.length === endLine.length + 1 && line.startsWith(endLine) && '$+#'.includes(line.at(-1)!);
    if (bodyless || line === '') {
      const flag = bodyless ? (line.at(-1) as MsrpFlag) : '$';
      const frame: MsrpFrame = { ...start, headers, body: undefined, flag };
      return { frame, bodyStart: bodyless ? undefined : nl + 1, end: nl + 1, error };
    }
    try {
      headers.push(parseHeaderLine(line));
    } catch (e) {
      error ??= e as ParseError;
    }
  }
}

/** Whether data[pos, len) can be the start of "MSRP " (true while too short to tell). */
function startsWithMsrp(data: Uint8Array, pos: number, len: number): boolean {
  for (let i = 0; i < 5 && pos + i < len; i++) if (data[pos + i] !== 'MSRP '.charCodeAt(i)) return false;
  return true;
}

/**
 * Scans data[from, len) for CRLF "-------" <id> <flag> CRLF (RFC 4975 §9 end-line, with the CRLF that closes the
 * data). Returns where the body ends (`at`), the flag and the offset after the end-line; or, when it runs out of
 * bytes, `at: -1` and `safe`: every byte before `safe` is body for certain (no end-line can start there).
 * One native byte search for CR per candidate: no per-byte JavaScript on bodies without CRs.
 */
export function findEndLine(
  data: Uint8Array,
  from: number,
  len: number,
  id: Uint8Array,
): { at: number; flag: MsrpFlag; next: number; safe: number } {
  const need = 2 + 7 + id.length + 1 + 2;
  // A framer's buffer is larger than what it holds: search only [0, len), never the spare capacity behind it
  // (scanning that on every push made a big chunk quadratic).
  const bytes = data.length > len ? data.subarray(0, len) : data;
  for (let c = bytes.indexOf(13, from); c >= 0; c = bytes.indexOf(13, c + 1)) {
    if (c + need > len) return { at: -1, flag: '$', next: 0, safe: c };
    if (data[c + 1] !== 10) continue;
    let i = c + 2;
    while (i < c + 9 && data[i] === 45) i++;
    if (i < c + 9) continue;
    let k = 0;
    while (k < id.length && data[i + k] === id[k]) k++;
    if (k < id.length) continue;
    const f = data[i + k];
    if ((f !== 36 && f !== 43 && f !== 35) || data[i + k + 1] !== 13 || data[i + k + 2] !== 10) continue;
    return { at: c, flag: String.fromCharCode(f) as MsrpFlag, next: c + need, safe: c };
  }
  return { at: -1, flag: '$', next: 0, safe: len };
}
