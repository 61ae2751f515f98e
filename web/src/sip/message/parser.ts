/**
 * parseMessage: bytes (or text) of one SIP message → SipRequest | SipResponse, or ParseError.
 *
 * How it works. The header section is found by its blank line and decoded as UTF-8 once; lines are split at
 * CRLF, folded continuation lines are joined with one SP (RFC 3261 §7.3.1), and each header becomes a field
 * whose name is normalised (compact forms expanded, §7.3.3) and whose value is kept verbatim. The body is the
 * bytes after the blank line, exactly Content-Length of them when that header is present (§18.3: extra octets
 * of a datagram are ignored, missing ones are an error).
 *
 * Two depths of checking:
 *  - strict (default): every header this stack types (HEADER_TYPES) is parsed now, so a malformed Contact,
 *    Expires or Warning rejects the message here, as RFC 4475 expects of a parser.
 *  - lazy (`{ lazy: true }`, for relays): only what routing needs is checked now: the start line, Via, From,
 *    To, Call-ID, CSeq, Max-Forwards, Route, Content-Length. Other typed headers parse on first use.
 *
 * Both depths enforce the message-level rules: the mandatory headers are present and single, the CSeq method
 * matches the request method (RFC 4475 §3.1.2.17), and the version is SIP/2.0 (else statusHint 505).
 */
import { ParseError } from '../errors.ts';
import { TOKEN, utf8Decoder, utf8Encoder } from './chars.ts';
import { Resident } from './resident.ts';
import { SipHeaders, T, knownNameAt, normalizeName, type HeaderField } from './headers.ts';
import { SipRequest, SipResponse, TextBody, type SipMessage } from './message.ts';
import { Uri, parseUri } from './uri.ts';
import { parseContentLength } from './values.ts';

export interface ParseOptions {
  /** Check only what routing needs now; parse the other typed headers on first access. */
  lazy?: boolean;
}

/** The headers checked in every mode: the mandatory ones, and those that must never repeat (all but Via). */
const MANDATORY = [T.via, T.from, T.to, T['call-id'], T.cseq];
const MANDATORY_BITS = MANDATORY.reduce((m, t) => m | t.bit, 0);
const ROUTING_MASK = MANDATORY_BITS | T['max-forwards'].bit | T['content-length'].bit;
const EMPTY = new Uint8Array(0);

export function parseMessage(data: Uint8Array | string, options: ParseOptions = {}): SipMessage {
  try {
    return typeof data === 'string' ? parseText(data, options) : parseBytes(data, options);
  } catch (e) {
    if (e instanceof ParseError) throw e;
    // The parser's own contract: nothing but ParseError leaves it, whatever the input. Such an error is a bug
    // of ours, not the peer's: it keeps the original as `cause` (tests assert there is none).
    const wrapped = new ParseError(`unparseable message: ${e instanceof Error ? e.message : String(e)}`, 0);
    Object.defineProperty(wrapped, 'cause', { value: e });
    throw wrapped;
  }
}

function parseBytes(data: Uint8Array, options: ParseOptions): SipMessage {
  let start = 0;
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  while (start + 1 < data.length && data[start] === 13 && data[start + 1] === 10) start += 2;
  let end = findHeaderEnd(data, start);
  let bodyStart = end + 4;
  if (end < 0) {
    // A datagram whose last header line ends the data has no body; the blank line is implied.
    if (data.length < 2 || data[data.length - 2] !== 13 || data[data.length - 1] !== 10)
      throw new ParseError('no blank line after the headers', data.length);
    end = data.length - 2;
    bodyStart = data.length;
  }
  const head = utf8Decoder.decode(data.subarray(start, end));
  try {
    return build(head, options, (length) => {
      const available = data.length - bodyStart;
      if (length === undefined) return available > 0 ? data.slice(bodyStart) : EMPTY;
      if (length > available)
        throw new ParseError(`Content-Length ${length} but only ${available} bytes follow`, data.length);
      return length > 0 ? data.slice(bodyStart, bodyStart + length) : EMPTY;
    });
  } catch (e) {
    if (e instanceof ParseError && e.offset <= head.length) {
      // Report a byte offset: the header section may hold multi-byte UTF-8.
      const byteOffset = start + utf8Encoder.encode(head.slice(0, e.offset)).length;
      if (byteOffset !== e.offset) throw new ParseError(e.reason, byteOffset, e.statusHint);
    }
    throw e;
  }
}

function parseText(text: string, options: ParseOptions): SipMessage {
  let start = 0;
  while (text.startsWith('\r\n', start)) start += 2;
  let end = text.indexOf('\r\n\r\n', start);
  if (end < 0) {
    if (!text.endsWith('\r\n')) throw new ParseError('no blank line after the headers', text.length);
    end = text.length - 2;
  }
  const head = start === 0 ? text.slice(0, end) : text.slice(start, end);
  return build(head, options, (length) => {
    const rest = text.length > end + 4 ? text.slice(end + 4) : '';
    const restBytes = utf8Length(rest);
    if (length === undefined) return new TextBody(rest, restBytes);
    if (length > restBytes)
      throw new ParseError(`Content-Length ${length} but only ${restBytes} bytes follow`, text.length);
    if (length === restBytes) return new TextBody(rest, restBytes);
    // Fewer bytes than the text holds: cut at a byte boundary (a datagram's extra octets are ignored, §18.3).
    return restBytes === rest.length
      ? new TextBody(rest.slice(0, length), length)
      : utf8Encoder.encode(rest).slice(0, length);
  });
}

/** Index of the CRLFCRLF that ends the header section, or -1. */
export function findHeaderEnd(data: Uint8Array, from: number): number {
  const n = data.length - 3;
  for (let i = from; i < n; i++) {
    if (data[i + 3] !== 10) {
      // Skip ahead: a match needs data[i+3] === LF.
      continue;
    }
    if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13) return i;
  }
  return -1;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** The UTF-8 length of a string, without encoding it. */
function utf8Length(s: string): number {
  let n = s.length;
  if (!NON_ASCII.test(s)) return n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a surrogate pair: 2 units, 4 bytes
        i++;
      } else n += 2; // a lone surrogate encodes as U+FFFD: 3 bytes
    } else n += 2;
  }
  return n;
}

function build(
  head: string,
  options: ParseOptions,
  body: (contentLength: number | undefined) => Uint8Array | TextBody,
): SipMessage {
  const lineEnd = endOfLine(head, 0);
  const startLine = head.slice(0, lineEnd);
  const fields = parseFields(head, lineEnd);
  const lazy = options.lazy === true;
  const headers = new SipHeaders(fields, lazy);

  // Presence and uniqueness of the headers every element relies on (RFC 3261 §8.1.1, RFC 4475 §3.3.8–9).
  let seen = 0;
  let clField: HeaderField | undefined;
  for (const f of fields) {
    const type = f.type;
    if (type === undefined || (type.bit & ROUTING_MASK) === 0) continue;
    if ((seen & type.bit) !== 0 && type !== T.via)
      throw new ParseError(`more than one ${f.name} header`, f.offset);
    seen |= type.bit;
    if (type === T['content-length']) clField = f;
  }
  if ((seen & MANDATORY_BITS) !== MANDATORY_BITS) {
    const missing = MANDATORY.find((t) => (seen & t.bit) === 0) ?? T.via;
    throw new ParseError(`missing ${normalizeName(missing.key)[0]} header`, head.length);
  }
  const contentLength = clField === undefined ? undefined : parseContentLength(clField.value, clField.offset);

  let msg: SipMessage;
  if (startLine.startsWith('SIP/') || startLine.startsWith('sip/')) {
    const { status, reason } = parseStatusLine(startLine);
    msg = new SipResponse(status, reason, headers, body(contentLength));
  } else {
    const { method, uriText } = parseRequestLine(startLine);
    const uri = lazy ? Uri.lazy(uriText, method.length + 1) : parseUri(uriText, method.length + 1);
    // RFC 3261 §19.1.1 Table 1: a Request-URI carries no header components (RFC 4475 §3.1.2.11).
    if (!lazy && uri.isSip && uri.headers.size > 0)
      throw new ParseError('headers are not allowed in the Request-URI', method.length + 1);
    msg = new SipRequest(method, uri, headers, body(contentLength));
  }

  // The routing set, always checked.
  void msg.via;
  void msg.from;
  void msg.to;
  void msg.callId;
  const cseq = msg.cseq;
  void msg.maxForwards;
  void msg.route;
  // RFC 4475 §3.1.2.17–18: the CSeq method must be the request's method.
  if (msg.kind === 'request' && cseq.method !== msg.method)
    throw new ParseError(`CSeq method ${cseq.method} differs from ${msg.method}`, 0);
  if (!lazy) headers.validate();
  const slot = (msg.kind === 'request' ? 0 : 2) + (lazy ? 1 : 0);
  if (RESIDENT.due(slot)) RESIDENT.keep(residentCopy(msg), slot);
  return msg;
}

/** Split the header lines after the start line, undoing folding. */
function parseFields(head: string, pos: number): HeaderField[] {
  // Fields are gathered in a shared scratch array and leave as an exact-size copy (a pushed-to array keeps
  // spare room for the life of the message).
  const fields = FIELDS;
  let count = 0;
  const len = head.length;
  while (pos < len) {
    pos += 2; // the CRLF that ended the previous line
    let end = endOfLine(head, pos);
    const c0 = head.charCodeAt(pos);
    // Continuation lines are consumed with their header below; one here has no header to continue.
    if (c0 === 0x20 || c0 === 0x09) throw new ParseError('continuation line before any header', pos);
    const colon = head.indexOf(':', pos);
    if (colon < 0 || colon > end) throw new ParseError('header line without ":"', pos);
    let nameEnd = colon;
    while (nameEnd > pos && (head.charCodeAt(nameEnd - 1) === 0x20 || head.charCodeAt(nameEnd - 1) === 0x09))
      nameEnd--;
    let info = knownNameAt(head, pos, nameEnd);
    if (info === undefined) {
      if (nameEnd === pos) throw new ParseError('empty header name', pos);
      for (let i = pos; i < nameEnd; i++) {
        const c = head.charCodeAt(i);
        if (c >= 128 || TOKEN[c] !== 1)
          throw new ParseError(`bad header name "${head.slice(pos, nameEnd)}"`, i);
      }
      info = normalizeName(head.slice(pos, nameEnd));
    }
    let vs = colon + 1;
    while (vs < end && (head.charCodeAt(vs) === 0x20 || head.charCodeAt(vs) === 0x09)) vs++;
    let value = head.slice(vs, end);
    // RFC 3261 §7.3.1: a line starting with whitespace continues the header; the fold becomes one SP.
    // (Reads stay inside the string: an out-of-bounds charCodeAt makes V8 drop its optimised code.)
    while (end + 2 < len && (head.charCodeAt(end + 2) === 0x20 || head.charCodeAt(end + 2) === 0x09)) {
      const next = endOfLine(head, end + 2);
      const more = head.slice(end + 2, next).trim();
      if (more !== '') value = value === '' ? more : value.trimEnd() + ' ' + more;
      end = next;
    }
    if (value.length > 0) {
      const last = value.charCodeAt(value.length - 1);
      if (last === 0x20 || last === 0x09) value = value.trimEnd();
    }
    fields[count++] = { name: info[0], key: info[1], value, offset: vs, type: info[2] };
    pos = end;
  }
  return fields.slice(0, count);
}
const FIELDS: HeaderField[] = [];

/**
 * The end of the line starting at `pos`: the index of its CR, or the end of the header section for the last
 * line. RFC 3261 §7: every line ends with CRLF; a lone CR or LF in the header section is not SIP.
 */
function endOfLine(head: string, pos: number): number {
  const len = head.length;
  let cr = head.indexOf('\r', pos);
  if (cr < 0) cr = len;
  else if (cr + 1 >= len || head.charCodeAt(cr + 1) !== 10)
    throw new ParseError('bare CR in the header section', cr);
  const lf = head.indexOf('\n', pos);
  if (lf >= 0 && lf < cr) throw new ParseError('bare LF in the header section', lf);
  return cr;
}

// RFC 3261 §7.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF (exactly one SP each; RFC 4475
// §3.1.2.9–10: extra or trailing whitespace is rejected rather than re-emitted).
function parseRequestLine(line: string): { method: string; uriText: string } {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0 || line.indexOf('\t') >= 0)
    throw new ParseError('malformed request line (Method SP Request-URI SP SIP-Version)', 0);
  const method = line.slice(0, sp1);
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) throw new ParseError(`bad method "${method}"`, i);
  }
  checkVersion(line.slice(sp2 + 1), sp2 + 1);
  const uriText = line.slice(sp1 + 1, sp2);
  if (uriText.length === 0) throw new ParseError('empty Request-URI', sp1 + 1);
  return { method, uriText };
}

// RFC 3261 §7.2: Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
function parseStatusLine(line: string): { status: number; reason: string } {
  const sp1 = line.indexOf(' ');
  if (sp1 < 0) throw new ParseError('malformed status line', 0);
  checkVersion(line.slice(0, sp1), 0);
  const code = line.slice(sp1 + 1, sp1 + 4);
  const after = line.charCodeAt(sp1 + 4);
  if (!/^[1-6]\d\d$/.test(code) || (line.length > sp1 + 4 && after !== 0x20))
    throw new ParseError(`bad status code "${line.slice(sp1 + 1, sp1 + 12)}"`, sp1 + 1);
  return { status: Number(code), reason: line.slice(sp1 + 5) };
}

function checkVersion(v: string, offset: number): void {
  if (v === 'SIP/2.0' || v.toUpperCase() === 'SIP/2.0') return;
  if (/^SIP\/\d+\.\d+$/i.test(v)) throw new ParseError(`unsupported version ${v}`, offset, 505);
  throw new ParseError(`bad SIP version "${v}"`, offset);
}

// ---------------------------------------------------------------------------------------------------------
// Resident shapes

/**
 * Stand-ins for recently parsed messages kept alive (resident.ts), one per kind and depth (slot 0–3), refreshed
 * every 256th parse; a recent Scanner, TextBody and value of each header type are kept likewise in their files.
 */
const RESIDENT = new Resident<SipMessage>(256);

function residentCopy(msg: SipMessage): SipMessage {
  // A stand-in sharing the headers but not the body (nor the message object: callers may count on it being
  // collected; a transaction that drops its request expects the request gone).
  return msg.kind === 'request'
    ? new SipRequest(msg.method, msg.uri, msg.headers, new TextBody('', 0))
    : new SipResponse(msg.status, msg.reason, msg.headers, new TextBody('', 0));
}
