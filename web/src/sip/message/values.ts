/**
 * Typed header values (RFC 3261 §20 and the extensions SPEC.md §2 lists). Each parser takes the unfolded value
 * and its offset in the message, and returns a plain object or throws ParseError. `HEADER_TYPES` tells the
 * header container which parser belongs to which header and whether the header is a comma list.
 */
import { ParseError } from '../errors.ts';
import { isWord } from './chars.ts';
import { Scanner, paramValue, quote, type Params } from './scanner.ts';
import { Uri, parseHostPort, parseUri, clip } from './uri.ts';

// ---------------------------------------------------------------------------------------------- name-addr

/**
 * List parsers gather elements in a scratch array of their own and return an exact-size copy: an array grown
 * by push keeps room for 17 elements for the life of the message. (They never nest, so one each is enough.)
 */
const NAME_ADDRS: NameAddr[] = [];
const VIAS: Via[] = [];
const TOKENS: string[] = [];
const MEDIA_TYPES: MediaType[] = [];

/** name-addr / addr-spec with header parameters: To, From, Contact, Route, Record-Route, Path, Refer-To … */
export interface NameAddr {
  displayName?: string | undefined;
  uri: Uri;
  params: Params;
}

// RFC 3261 §20.10: name-addr = [ display-name ] LAQUOT addr-spec RAQUOT; display-name = *(token LWS) / quoted-string.
// Without < >, a ';' starts the header parameters, and the URI may hold no ',' '?' or ';'.
function nameAddr(sc: Scanner, lazy = false): NameAddr {
  sc.ws();
  const s = sc.s;
  let displayName: string | undefined;
  let c = sc.peek();
  if (c === 0x22) {
    displayName = sc.quoted();
    sc.ws();
    if (sc.peek() !== 0x3c) sc.fail('expected "<" after display name');
    c = 0x3c;
  } else if (c !== 0x3c) {
    // Either unquoted display-name tokens followed by "<", or a bare addr-spec.
    const start = sc.i;
    let j = start;
    for (;;) {
      const t = j;
      while (j < s.length && isTokenChar(s.charCodeAt(j))) j++;
      if (j === t) break;
      while (j < s.length && (s.charCodeAt(j) === 0x20 || s.charCodeAt(j) === 0x09)) j++;
    }
    if (j > start && s.charCodeAt(j) === 0x3c) {
      displayName = s.slice(start, j).trimEnd();
      sc.i = j;
      c = 0x3c;
    }
  }
  let uri: Uri;
  if (c === 0x3c) {
    const open = sc.i;
    const close = s.indexOf('>', open);
    if (close < 0) sc.fail('missing ">"', open);
    const text = s.slice(open + 1, close);
    uri = lazy ? Uri.lazy(text, sc.base + open + 1) : parseUri(text, sc.base + open + 1);
    sc.i = close + 1;
  } else {
    const start = sc.i;
    let j = start;
    while (j < s.length) {
      const d = s.charCodeAt(j);
      if (d === 0x3b || d === 0x2c || d === 0x20 || d === 0x09) break;
      j++;
    }
    if (j === start) sc.fail('expected a name-addr or addr-spec');
    const text = s.slice(start, j);
    if (text.indexOf('?') >= 0) sc.fail(`URI with headers must be enclosed in < >: "${clip(text)}"`, start);
    uri = lazy ? Uri.lazy(text, sc.base + start) : parseUri(text, sc.base + start);
    sc.i = j;
  }
  const params = sc.params();
  // One shape for every NameAddr (displayName present even when undefined): code reading them stays monomorphic.
  return { displayName, uri, params };
}

function isTokenChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x21 ||
    c === 0x25 ||
    c === 0x2a ||
    c === 0x5f ||
    c === 0x2b ||
    c === 0x60 ||
    c === 0x27 ||
    c === 0x7e
  );
}

export function parseNameAddr(value: string, base = 0, lazy = false): NameAddr {
  const sc: Scanner = new Scanner(value, base);
  const na = nameAddr(sc, lazy);
  sc.end('name-addr');
  return na;
}

export function parseNameAddrList(value: string, base = 0, lazy = false): NameAddr[] {
  const sc: Scanner = new Scanner(value, base);
  const out = NAME_ADDRS;
  let n = 0;
  do out[n++] = nameAddr(sc, lazy);
  while (sc.nextInList('name-addr'));
  return out.slice(0, n);
}

/** name-addr text: display name quoted when present, URI always in < > (so its parameters stay its own). */
export function formatNameAddr(na: NameAddr): string {
  let s = na.displayName !== undefined && na.displayName !== '' ? quote(na.displayName) + ' ' : '';
  s += '<' + na.uri.toString() + '>';
  for (const [k, v] of na.params) s += v === null ? ';' + k : ';' + k + '=' + v;
  return s;
}

/** The tag parameter of To/From (RFC 3261 §19.3). */
export function tagOf(na: NameAddr | undefined): string | undefined {
  return na === undefined ? undefined : paramValue(na.params, 'tag');
}

/** Contact (RFC 3261 §20.10): "*" or a list of contact-params, each with optional q (0–1) and expires. */
export type ContactValue = NameAddr | '*';

export function parseContact(value: string, base = 0): ContactValue[] {
  if (value.trim() === '*') return ['*'];
  const contacts = parseNameAddrList(value, base);
  for (const c of contacts) {
    const q = c.params.get('q');
    if (q !== undefined && (q === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(q)))
      throw new ParseError(`bad q value "${q}"`, base);
    const e = c.params.get('expires');
    if (e !== undefined) deltaSeconds(e ?? '', base, 'Contact expires');
  }
  return contacts;
}

// ---------------------------------------------------------------------------------------------- Via

export interface Via {
  /** e.g. "SIP/2.0" */
  protocol: string;
  /** uppercased: UDP, TCP, TLS, SCTP, WS, WSS, or an extension */
  transport: string;
  host: string;
  port?: number | undefined;
  params: Params;
  branch?: string | undefined;
  received?: string | undefined;
  /** undefined: absent; null: present without value (a request for rport, RFC 3581 §3) */
  rport?: number | null | undefined;
}

// RFC 3261 §20.42: via-parm = sent-protocol LWS sent-by *( SEMI via-params ), LWS allowed around "/" and ":".
function via(sc: Scanner): Via {
  sc.ws();
  const name = sc.token('protocol name');
  sc.expect(0x2f, '"/" in Via');
  const version = sc.token('protocol version');
  sc.expect(0x2f, '"/" in Via');
  const transport = upper(sc.token('transport'));
  const before = sc.i;
  sc.ws();
  if (sc.i === before) sc.fail('expected whitespace before Via sent-by');
  const { host, port: sentPort, end } = parseHostPort(sc.s, sc.i, sc.base);
  sc.i = end;
  let port = sentPort;
  if (port === undefined && sc.eat(0x3a)) {
    const start = sc.i;
    const stop = digitsEnd(sc.s, start);
    if (stop === start || stop - start > 5) sc.fail('bad Via port');
    port = readUint(sc.s, start, stop, 65535, sc.base, 'Via port');
    sc.i = stop;
  }
  const params = sc.params();
  const branch = params.get('branch');
  if (branch === null) sc.fail('Via branch without value');
  const received = params.get('received');
  const rport = params.get('rport');
  let rportValue: number | null | undefined;
  if (rport !== undefined) {
    if (rport !== null && (rport.length === 0 || digitsEnd(rport, 0) !== rport.length || rport.length > 5))
      sc.fail('bad Via rport');
    rportValue = rport === null ? null : readUint(rport, 0, rport.length, 65535, sc.base, 'Via rport');
  }
  const ttl = params.get('ttl');
  if (ttl !== undefined && (ttl === null || !/^\d{1,3}$/.test(ttl) || Number(ttl) > 255))
    sc.fail('bad Via ttl');
  // Every Via has the same shape (all properties present), so code reading them stays monomorphic.
  return {
    protocol: name === 'SIP' && version === '2.0' ? 'SIP/2.0' : upper(name) + '/' + version,
    transport,
    host,
    port,
    params,
    branch,
    received: received === undefined ? undefined : (received ?? ''),
    rport: rportValue,
  };
}

/** Uppercase, without a new string for the spellings that are already upper case. */
function upper(s: string): string {
  return s === 'UDP' || s === 'TCP' || s === 'TLS' || s === 'WS' || s === 'WSS' || s === 'SCTP'
    ? s
    : s.toUpperCase();
}

export function parseVia(value: string, base = 0): Via[] {
  const sc: Scanner = new Scanner(value, base);
  const out = VIAS;
  let n = 0;
  do out[n++] = via(sc);
  while (sc.nextInList('Via'));
  return out.slice(0, n);
}

export function formatVia(v: Via): string {
  let s = `${v.protocol}/${v.transport} ${v.host}`;
  if (v.port !== undefined) s += ':' + String(v.port);
  for (const [k, val] of v.params) s += val === null ? ';' + k : ';' + k + '=' + val;
  return s;
}

// ---------------------------------------------------------------------------------------------- scalars

export interface CSeq {
  seq: number;
  method: string;
}

// RFC 3261 §20.16: CSeq = 1*DIGIT LWS Method; the number is below 2**31 (§8.1.1.5).
export function parseCSeq(value: string, base = 0): CSeq {
  const sc: Scanner = new Scanner(value, base);
  sc.ws();
  const start = sc.i;
  const end = digitsEnd(value, start);
  if (end === start) sc.fail('bad CSeq number');
  const seq = readUint(value, start, end, 2 ** 31 - 1, base, 'CSeq');
  sc.i = end;
  const before = sc.i;
  sc.ws();
  if (sc.i === before) sc.fail('expected whitespace in CSeq');
  const method = sc.token('CSeq method');
  sc.end('CSeq');
  return { seq, method };
}

/** Index just past the run of ASCII digits starting at i. */
function digitsEnd(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i;
}

/** The digits s[start, end) as a number, refused above max (no regex, no substring on the common path). */
function readUint(s: string, start: number, end: number, max: number, base: number, what: string): number {
  if (end - start > 12) return toInt(s.slice(start, end), max, base, what);
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (s.charCodeAt(i) - 0x30);
  if (n > max) throw new ParseError(`${what} value ${clip(s.slice(start, end))} out of range`, base);
  return n;
}

/** A header value that is only digits (surrounding whitespace allowed), as a number up to max. */
function wholeUint(value: string, max: number, base: number, what: string): number {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  if (end === start || digitsEnd(value, start) !== end)
    throw new ParseError(`bad ${what} "${clip(value.trim())}"`, base);
  return readUint(value, start, end, max, base, what);
}

function toInt(digits: string, max: number, base: number, what: string): number {
  const n = digits.length > 12 ? Infinity : Number(digits);
  if (n > max) throw new ParseError(`${what} value ${clip(digits)} out of range`, base);
  return n;
}

/** delta-seconds = 1*DIGIT, at most 2**32-1 (RFC 3261 §20.19, §25.1). */
export function deltaSeconds(text: string, base: number, what: string): number {
  return wholeUint(text, 2 ** 32 - 1, base, what);
}

export function parseDeltaSeconds(value: string, base = 0): number {
  return deltaSeconds(value, base, 'delta-seconds');
}

// RFC 3261 §20.22: Max-Forwards = 1*DIGIT, 0–255.
export function parseMaxForwards(value: string, base = 0): number {
  return wholeUint(value, 255, base, 'Max-Forwards');
}

export function parseContentLength(value: string, base = 0): number {
  return wholeUint(value, 2 ** 31 - 1, base, 'Content-Length');
}

// RFC 3261 §8.1.1.4: callid = word [ "@" word ]
export function parseCallId(value: string, base = 0): string {
  const t = value.trim();
  const at = t.indexOf('@');
  const ok = at < 0 ? isWord(t) : isWord(t.slice(0, at)) && isWord(t.slice(at + 1));
  if (!ok) throw new ParseError(`bad Call-ID "${clip(t)}"`, base);
  return t;
}

/** A single token such as SIP-ETag, SIP-If-Match. */
export function parseToken(value: string, base = 0): string {
  const sc: Scanner = new Scanner(value, base);
  sc.ws();
  const t = sc.token();
  sc.end('token');
  return t;
}

/** Comma list of tokens: Require, Supported, Unsupported, Proxy-Require, Allow, Allow-Events, Content-Encoding … */
export function parseTokenList(value: string, base = 0): string[] {
  const sc: Scanner = new Scanner(value, base);
  sc.ws();
  if (sc.done) return []; // an empty Supported/Allow is legal
  const out = TOKENS;
  let n = 0;
  do out[n++] = sc.token();
  while (sc.nextInList('token list'));
  return out.slice(0, n);
}

// ---------------------------------------------------------------------------------------------- media types

export interface MediaType {
  /** lowercased, "*" allowed in Accept */
  type: string;
  subtype: string;
  params: Params;
}

// RFC 3261 §20.15: media-type = m-type SLASH m-subtype *(SEMI m-parameter)
function mediaType(sc: Scanner): MediaType {
  sc.ws();
  const type = sc.token('media type').toLowerCase();
  sc.expect(0x2f, '"/" in media type');
  const subtype = sc.token('media subtype').toLowerCase();
  return { type, subtype, params: sc.params() };
}

export function parseMediaType(value: string, base = 0): MediaType {
  const sc: Scanner = new Scanner(value, base);
  const m = mediaType(sc);
  sc.end('media type');
  return m;
}

/** Accept = [ accept-range *(COMMA accept-range) ]; an empty Accept means "no body accepted". */
export function parseMediaTypeList(value: string, base = 0): MediaType[] {
  const sc: Scanner = new Scanner(value, base);
  sc.ws();
  if (sc.done) return [];
  const out = MEDIA_TYPES;
  let n = 0;
  do out[n++] = mediaType(sc);
  while (sc.nextInList('media range'));
  return out.slice(0, n);
}

export function formatMediaType(m: MediaType): string {
  let s = `${m.type}/${m.subtype}`;
  for (const [k, v] of m.params) s += v === null ? ';' + k : ';' + k + '=' + v;
  return s;
}

/** Does `range` (possibly with wildcards) cover `type`/`subtype`? */
export function mediaMatches(range: MediaType, type: string, subtype: string): boolean {
  return (range.type === '*' || range.type === type) && (range.subtype === '*' || range.subtype === subtype);
}

// ---------------------------------------------------------------------------------------------- events

/** Event (RFC 6665 §8.2.1): event-type *( SEMI event-param ), with the id parameter lifted out. */
export interface EventHeader {
  event: string;
  id?: string | undefined;
  params: Params;
}

export function parseEvent(value: string, base = 0): EventHeader {
  const sc: Scanner = new Scanner(value, base);
  sc.ws();
  const event = sc.token('event type');
  const params = sc.params();
  sc.end('Event');
  return { event, id: paramValue(params, 'id'), params };
}

/** Subscription-State (RFC 6665 §8.2.3): substate-value with expires, reason, retry-after. */
export interface SubscriptionState {
  state: string;
  expires?: number | undefined;
  reason?: string | undefined;
  retryAfter?: number | undefined;
  params: Params;
}

export function parseSubscriptionState(value: string, base = 0): SubscriptionState {
  const sc: Scanner = new Scanner(value, base);
  sc.ws();
  const state = sc.token('subscription state').toLowerCase();
  const params = sc.params();
  sc.end('Subscription-State');
  const e = params.get('expires');
  const r = params.get('retry-after');
  return {
    state,
    expires: e === undefined ? undefined : deltaSeconds(e ?? '', base, 'expires'),
    reason: paramValue(params, 'reason'),
    retryAfter: r === undefined ? undefined : deltaSeconds(r ?? '', base, 'retry-after'),
    params,
  };
}

// ---------------------------------------------------------------------------------------------- reliability (RFC 3262)

export function parseRSeq(value: string, base = 0): number {
  const t = value.trim();
  if (!/^\d+$/.test(t)) throw new ParseError('bad RSeq', base);
  const n = toInt(t, 2 ** 32 - 1, base, 'RSeq');
  if (n === 0) throw new ParseError('RSeq must be 1 or more', base);
  return n;
}

export interface RAck {
  rseq: number;
  cseq: number;
  method: string;
}

// RFC 3262 §7.2: RAck = response-num LWS CSeq-num LWS Method
export function parseRAck(value: string, base = 0): RAck {
  const m = /^[ \t]*(\d+)[ \t]+(\d+)[ \t]+(\S+)[ \t]*$/.exec(value);
  if (!m) throw new ParseError('bad RAck', base);
  const method = parseToken(m[3] ?? '', base);
  return {
    rseq: toInt(m[1] ?? '', 2 ** 32 - 1, base, 'RAck'),
    cseq: toInt(m[2] ?? '', 2 ** 32 - 1, base, 'RAck'),
    method,
  };
}

// ---------------------------------------------------------------------------------------------- misc

/** Retry-After (RFC 3261 §20.33): delta-seconds [ comment ] *( SEMI retry-param ) */
export interface RetryAfter {
  seconds: number;
  comment?: string | undefined;
  params: Params;
}

export function parseRetryAfter(value: string, base = 0): RetryAfter {
  const sc: Scanner = new Scanner(value, base);
  sc.ws();
  const m = /^\d+/.exec(value.slice(sc.i));
  if (!m) sc.fail('bad Retry-After');
  const seconds = deltaSeconds(m[0], base, 'Retry-After');
  sc.i += m[0].length;
  sc.ws();
  let comment: string | undefined;
  if (sc.peek() === 0x28) {
    let depth = 0;
    const start = sc.i;
    for (; sc.i < value.length; sc.i++) {
      const c = value.charCodeAt(sc.i);
      if (c === 0x5c) sc.i++;
      else if (c === 0x28) depth++;
      else if (c === 0x29 && --depth === 0) break;
    }
    if (depth !== 0) sc.fail('unterminated comment in Retry-After', start);
    sc.i++;
    comment = value.slice(start + 1, sc.i - 1);
  }
  const params = sc.params();
  sc.end('Retry-After');
  const d = params.get('duration');
  if (d !== undefined) deltaSeconds(d ?? '', base, 'duration');
  return { seconds, comment, params };
}

/** Warning (RFC 3261 §20.43): warn-code (3 digits) SP warn-agent SP warn-text */
export interface Warning {
  code: number;
  agent: string;
  text: string;
}

export function parseWarningList(value: string, base = 0): Warning[] {
  const sc: Scanner = new Scanner(value, base);
  const out: Warning[] = [];
  do {
    sc.ws();
    const m = /^(\d{3})[ \t]+([^ \t,"]+)[ \t]+/.exec(value.slice(sc.i));
    if (!m) sc.fail('bad Warning (warn-code is three digits, then agent, then quoted text)');
    sc.i += m[0].length;
    out.push({ code: Number(m[1]), agent: m[2] ?? '', text: sc.quoted() });
  } while (sc.nextInList('Warning'));
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/**
 * RFC 3261 §20.17: SIP-date = rfc1123-date, always in GMT. Returns milliseconds since the epoch, or undefined
 * for a date in another zone (RFC 4475 §3.1.2.12 lets a parser accept it; the value is then not trusted).
 */
export function parseDate(value: string, base = 0): number | undefined {
  const m =
    /^[ \t]*([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([A-Za-z]+)[ \t]*$/.exec(
      value,
    );
  if (!m || !DAYS.includes(m[1] ?? '')) throw new ParseError(`bad Date "${clip(value)}"`, base);
  const month = MONTHS.indexOf(m[3] ?? '');
  if (month < 0) throw new ParseError(`bad month in Date "${clip(value)}"`, base);
  if (m[8] !== 'GMT') return undefined;
  const [d, y, hh, mm, ss] = [Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])];
  if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) throw new ParseError('Date out of range', base);
  return daysFromCivil(y, month + 1, d) * 86_400_000 + ((hh * 60 + mm) * 60 + ss) * 1000;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-days algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Format epoch milliseconds as an RFC 1123 date in GMT. */
export function formatDate(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  let rem = Math.floor((ms - days * 86_400_000) / 1000);
  const ss = rem % 60;
  rem = (rem - ss) / 60;
  const mm = rem % 60;
  const hh = (rem - mm) / 60;
  // civil-from-days
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const wd = DAYS[((days % 7) + 7 + 3) % 7] ?? 'Mon';
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${wd}, ${p(d)} ${MONTHS[m - 1] ?? 'Jan'} ${y} ${p(hh)}:${p(mm)}:${p(ss)} GMT`;
}

/** Accept-Contact / Reject-Contact (RFC 3841 §10): "*" *(SEMI ac-params) per element. */
export interface ContactPreference {
  params: Params;
}

export function parseContactPreferenceList(value: string, base = 0): ContactPreference[] {
  const sc: Scanner = new Scanner(value, base);
  const out: ContactPreference[] = [];
  do {
    sc.ws();
    if (!sc.eat(0x2a, false)) sc.fail('expected "*"');
    out.push({ params: sc.params() });
  } while (sc.nextInList('contact preference'));
  return out;
}

/** Replaces (RFC 3891 §6.1): callid *(SEMI replaces-param) with to-tag, from-tag, early-only. */
export interface Replaces {
  callId: string;
  toTag: string;
  fromTag: string;
  earlyOnly: boolean;
  params: Params;
}

export function parseReplaces(value: string, base = 0): Replaces {
  const semi = value.indexOf(';');
  const callId = parseCallId(semi < 0 ? value : value.slice(0, semi), base);
  const sc: Scanner = new Scanner(value, base);
  sc.i = semi < 0 ? value.length : semi;
  const params = sc.params();
  sc.end('Replaces');
  const toTag = paramValue(params, 'to-tag');
  const fromTag = paramValue(params, 'from-tag');
  if (toTag === undefined || fromTag === undefined) sc.fail('Replaces needs to-tag and from-tag');
  return { callId, toTag, fromTag, earlyOnly: params.has('early-only'), params };
}

/** WWW-Authenticate / Authorization and their Proxy- forms (RFC 3261 §25.1, RFC 7616): scheme + auth-params. */
export interface AuthValue {
  scheme: string;
  /** names lowercased, values unquoted */
  params: Map<string, string>;
}

export function parseAuthValue(value: string, base = 0): AuthValue {
  const sc: Scanner = new Scanner(value, base);
  sc.ws();
  const scheme = sc.token('auth scheme');
  const params = new Map<string, string>();
  const before = sc.i;
  sc.ws();
  if (sc.done) return { scheme, params };
  if (sc.i === before) sc.fail('expected whitespace after auth scheme');
  for (;;) {
    const name = sc.token('auth-param name').toLowerCase();
    sc.expect(0x3d, '"=" in auth-param');
    params.set(name, sc.peek() === 0x22 ? sc.quoted() : sc.token('auth-param value'));
    sc.ws();
    if (sc.done) break;
    sc.expect(0x2c, '"," between auth-params');
  }
  return { scheme, params };
}

/** Request-Disposition (RFC 3841 §10): comma list of directives such as proxy, redirect, cancel, no-cancel, fork, no-fork, recurse, no-recurse, parallel, sequential, queue, no-queue. */
export const parseDirectiveList = parseTokenList;
