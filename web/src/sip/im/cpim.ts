/**
 * Message/CPIM (RFC 3862): parse and build `message/cpim` bodies, and RFC 3339 DateTime values.
 *
 *   From: "Alice" <im:alice@example.com>        ┐
 *   To: <im:bob@example.com>                      │ message headers (case-sensitive names, no folding)
 *   DateTime: 2026-03-01T10:00:00.250+01:00       │
 *   NS: imdn <urn:ietf:params:imdn>               │
 *   imdn.Message-ID: 7Ghf2                        ┘
 *                                                 blank line
 *   Content-Type: text/plain;charset=utf-8       ┐ the encapsulated MIME headers
 *                                                ┘ blank line
 *   Hello                                          the content, kept as bytes
 *
 * Decisions where the RFC leaves room:
 * - Lines end in CRLF; a bare LF is accepted too (nothing is lost by it). Control characters in a message
 *   header (TAB included) are refused: RFC 3862 §3.6 allows only UCS-no-CTL and escapes there.
 * - A namespaced header (`prefix.Name`) must use a prefix declared by an earlier NS header; an undeclared prefix
 *   is a ParseError. Declared ones are all kept in `headers` with their namespace URN, never dropped (the two
 *   IMDN ones are lifted into `messageId` and `dispositionNotification` instead). Unknown un-prefixed headers are
 *   kept too. An NS header without a prefix is recorded under '' but does not change how From, To … are read.
 * - From and DateTime may appear once; a second one is a ParseError.
 */
import { ParseError } from '../errors.ts';
import { formatDate, parseDate, parseUri } from '../message/index.ts';

/** The namespace of the IMDN message headers (RFC 5438 §6.1). */
export const IMDN_HEADER_NS = 'urn:ietf:params:imdn';

export interface CpimAddress {
  displayName?: string | undefined;
  uri: string;
}

export interface CpimSubject {
  text: string;
  lang?: string | undefined;
}

/** A message header this module does not structure, with its namespace when it has a prefix. */
export interface CpimHeader {
  name: string;
  value: string;
  prefix?: string | undefined;
  ns?: string | undefined;
  params?: Record<string, string> | undefined;
}

export interface CpimMessage {
  from?: CpimAddress | undefined;
  to: CpimAddress[];
  cc: CpimAddress[];
  /** epoch milliseconds */
  dateTime?: number | undefined;
  subjects: CpimSubject[];
  /** NS declarations: prefix ('' when none) → namespace URN */
  ns: Record<string, string>;
  require: string[];
  headers: CpimHeader[];
  /** imdn.Message-ID (RFC 5438 §6.3) */
  messageId?: string | undefined;
  /** imdn.Disposition-Notification tokens, lowercased (RFC 5438 §6.2) */
  dispositionNotification?: string[] | undefined;
  /** the encapsulated MIME headers, in order, as written */
  contentHeaders: [string, string][];
  contentType?: string | undefined;
  content: Uint8Array;
}

/** What `buildCpim` takes; a parsed CpimMessage is one. */
export interface CpimInput {
  from?: CpimAddress | undefined;
  to?: CpimAddress[] | undefined;
  cc?: CpimAddress[] | undefined;
  dateTime?: number | undefined;
  subjects?: CpimSubject[] | undefined;
  ns?: Record<string, string> | undefined;
  require?: string[] | undefined;
  headers?: CpimHeader[] | undefined;
  messageId?: string | undefined;
  dispositionNotification?: string[] | undefined;
  contentHeaders?: [string, string][] | undefined;
  contentType?: string | undefined;
  content?: Uint8Array | string | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function fail(what: string, at: number): never {
  throw new ParseError(`CPIM: ${what}`, at);
}
function misuse(what: string): never {
  throw new TypeError(`CPIM: ${what}`);
}
const enc = new TextEncoder();

// RFC 3862 §3.6: NAMECHAR (no "." — it separates a prefix), and Token = NAMECHAR / "." / UCS-high.
const NAME = "[!#-'*+\\-0-9A-Z^-z|~]+";
const IS_NAME = new RegExp(`^${NAME}$`);
const TOKEN = /^[!#-'*+\-.0-9A-Z^-z|~]+$/;
const NS_VALUE = new RegExp(`^(?:(${NAME}) +)?<([^<> ]+)>$`);
const HEADER_NAME = new RegExp(`^(?:${NAME}\\.)?${NAME}$`);
const HEADER = new RegExp(
  `^(?:(${NAME})\\.)?(${NAME}):((?:;${NAME}=(?:"(?:[^"\\\\]|\\\\.)*"|[^;" ]+))*) ([^]*)$`,
);
const PARAM = new RegExp(`;(${NAME})=("(?:[^"\\\\]|\\\\.)*"|[^;" ]+)`, 'g');
// §3.6: From-header-value = [ Formal-name ] "<" URI ">", Formal-name = 1*( Token SP ) / String
const ADDRESS = /^(?:"((?:[^"\\]|\\.)*)" *|((?:[!#-'*+\-.0-9A-Z^-z|~\u0080-\uffff]+ +)+))?<([^<> ]+)>$/;
const ESCAPES = 'btnr"\'\\';
const ESCAPED = '\b\t\n\r"\'\\';

// RFC 3862 §2.3: a header value escapes with "\": \u plus four hex digits, \b \t \n \r \" \' and \\. Any
// other backslash is an error.
function unescapeValue(v: string, at: number): string {
  if (!v.includes('\\')) return v;
  return v.replace(/\\(u[\dA-Fa-f]{4}|[btnr"'\\]|)/g, (_, e: string, off: number) => {
    if (!e) fail('bad escape', at + off);
    return e.length > 1 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (ESCAPED[ESCAPES.indexOf(e)] ?? e);
  });
}

function escapeValue(v: string, inString = false): string {
  return v.replace(inString ? /[\x00-\x1f\x7f"\\]/g : /[\x00-\x1f\x7f\\]/g, (c) => {
    const k = ESCAPED.indexOf(c);
    return k >= 0 ? '\\' + ESCAPES[k] : '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
  });
}

/** [ Formal-name ] "<" URI ">" (RFC 3862 §3.6): From, To, cc, and IMDN's Original-To and routes. */
export function parseCpimAddress(v: string, at = 0): CpimAddress {
  const m = ADDRESS.exec(v);
  if (!m) fail('bad address', at);
  const uri = m[3] ?? '';
  parseUri(uri, at + v.indexOf('<') + 1);
  const name = m[1] !== undefined ? unescapeValue(m[1], at + 1) : m[2]?.trimEnd();
  return name === undefined ? { uri } : { displayName: name, uri };
}

function formatAddress(a: CpimAddress): string {
  if (/[<>\s]/.test(a.uri) || !a.uri) misuse(`bad address URI "${a.uri}"`);
  return (a.displayName ? `"${escapeValue(a.displayName, true)}" ` : '') + `<${a.uri}>`;
}

/** The lines of one header block up to its blank line, each with its offset. */
function block(bytes: Uint8Array, pos: { i: number }): [string, number][] {
  const lines: [string, number][] = [];
  for (;;) {
    const at = pos.i;
    const nl = bytes.indexOf(10, at);
    if (nl < 0) fail('no blank line', at);
    pos.i = nl + 1;
    let line = '';
    try {
      line = utf8.decode(bytes.subarray(at, nl > at && bytes[nl - 1] === 13 ? nl - 1 : nl));
    } catch {
      fail('header not UTF-8', at);
    }
    if (!line) return lines;
    lines.push([line, at]);
  }
}

/** Parse a message/cpim body (RFC 3862 §2, §3). Throws ParseError. */
export function parseCpim(body: Uint8Array | string): CpimMessage {
  const bytes = typeof body === 'string' ? enc.encode(body) : body;
  const pos = { i: 0 };
  const msg: CpimMessage = {
    to: [],
    cc: [],
    subjects: [],
    ns: {},
    require: [],
    headers: [],
    contentHeaders: [],
    content: bytes,
  };
  for (const [line, at] of block(bytes, pos)) {
    const m = HEADER.exec(line);
    if (!m) fail('bad header', at);
    const [, prefix, name = '', rawParams = '', raw = ''] = m;
    const vat = at + line.length - raw.length;
    if (/[\x00-\x1f\x7f]/.test(raw)) fail('control character', vat);
    const params: Record<string, string> = {};
    for (const [, k = '', v = ''] of rawParams.matchAll(PARAM))
      params[k] = v.startsWith('"') ? unescapeValue(v.slice(1, -1), at) : v;
    // §3.4: a prefixed name belongs to the namespace an NS header bound to that prefix.
    if (prefix !== undefined) {
      const ns = msg.ns[prefix];
      if (ns === undefined) fail(`undeclared prefix ${prefix}`, at);
      const value = unescapeValue(raw, vat);
      if (ns === IMDN_HEADER_NS && name === 'Message-ID' && msg.messageId === undefined)
        msg.messageId = value;
      else if (ns === IMDN_HEADER_NS && name === 'Disposition-Notification' && !msg.dispositionNotification)
        msg.dispositionNotification = parseDispositionNotification(value, vat);
      else msg.headers.push({ name, value, prefix, ns, ...(rawParams ? { params } : {}) });
      continue;
    }
    switch (name) {
      case 'From': // §4.1: once
        if (msg.from) fail('more than one From', at);
        msg.from = parseCpimAddress(raw, vat);
        break;
      case 'To': // §4.2, §4.3: any number
      case 'cc':
        (name === 'To' ? msg.to : msg.cc).push(parseCpimAddress(raw, vat));
        break;
      case 'DateTime': // §4.4: once, RFC 3339 date-time
        if (msg.dateTime !== undefined) fail('more than one DateTime', at);
        msg.dateTime = parseDateTime(raw, vat);
        break;
      case 'Subject': // §4.5: any number, each with an optional ;lang=
        msg.subjects.push(
          params.lang
            ? { text: unescapeValue(raw, vat), lang: params.lang }
            : { text: unescapeValue(raw, vat) },
        );
        break;
      case 'NS': {
        // §4.6: NS: [ prefix SP ] "<" URI ">"
        const n = NS_VALUE.exec(raw);
        if (!n) fail('bad NS header', vat);
        msg.ns[n[1] ?? ''] = n[2] ?? '';
        break;
      }
      case 'Require': // §4.7: header names, comma separated
        for (const r of raw.split(',')) {
          const t = r.trim();
          if (!HEADER_NAME.test(t)) fail('bad Require header', vat);
          msg.require.push(t);
        }
        break;
      default:
        msg.headers.push({ name, value: unescapeValue(raw, vat), ...(rawParams ? { params } : {}) });
    }
  }
  // §2.4: the encapsulated MIME headers (RFC 2045 style: names case-insensitive, folding allowed).
  for (const [line, at] of block(bytes, pos)) {
    const last = msg.contentHeaders[msg.contentHeaders.length - 1];
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const m = /^([!-9;-~]+)[ \t]*:[ \t]*([^]*)$/.exec(line);
    if (!m) fail('bad MIME header', at);
    msg.contentHeaders.push([m[1] ?? '', (m[2] ?? '').trimEnd()]);
  }
  msg.contentType = msg.contentHeaders.find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  msg.content = bytes.slice(pos.i);
  return msg;
}

/** Build a message/cpim body. NS headers are added for prefixes the IMDN fields and `headers` use. */
export function buildCpim(m: CpimInput): Uint8Array {
  const ns: Record<string, string> = { ...m.ns };
  // A prefix already bound to this URI is reused; a hint bound to another URI gets a number appended.
  const prefixFor = (uri: string, hint: string): string => {
    let p = Object.keys(ns).find((k) => k && ns[k] === uri);
    for (let n = 1; !p; n++) if (ns[(p = n > 1 ? hint + n : hint)] !== undefined) p = undefined;
    ns[p] = uri;
    return p;
  };
  const name = (n: string): string => {
    if (!IS_NAME.test(n)) misuse(`bad header name "${n}"`);
    return n;
  };
  const ext: string[] = [];
  if (m.messageId !== undefined)
    ext.push(`${prefixFor(IMDN_HEADER_NS, 'imdn')}.Message-ID: ${escapeValue(m.messageId)}`);
  if (m.dispositionNotification?.length)
    ext.push(
      `${prefixFor(IMDN_HEADER_NS, 'imdn')}.Disposition-Notification: ${formatDispositionNotification(m.dispositionNotification)}`,
    );
  for (const h of m.headers ?? []) {
    let p = h.prefix;
    if (h.ns !== undefined && (p === undefined || ns[p] !== h.ns)) p = prefixFor(h.ns, p ?? 'ns');
    else if (p !== undefined && ns[p] === undefined) misuse(`prefix "${p}" has no namespace`);
    let params = '';
    for (const [k, v] of Object.entries(h.params ?? {}))
      params += `;${name(k)}=${/^[!#-'*+\-.0-9A-Z^-z|~\u0080-\uffff]+$/.test(v) ? v : `"${escapeValue(v, true)}"`}`;
    ext.push(`${p !== undefined ? name(p) + '.' : ''}${name(h.name)}:${params} ${escapeValue(h.value)}`);
  }
  const lines: string[] = [];
  if (m.from) lines.push(`From: ${formatAddress(m.from)}`);
  for (const a of m.to ?? []) lines.push(`To: ${formatAddress(a)}`);
  for (const a of m.cc ?? []) lines.push(`cc: ${formatAddress(a)}`);
  if (m.dateTime !== undefined) lines.push(`DateTime: ${formatDateTime(m.dateTime)}`);
  for (const s of m.subjects ?? []) {
    if (s.lang !== undefined && !/^[A-Za-z]{1,8}(-[A-Za-z\d]{1,8})*$/.test(s.lang))
      misuse(`bad language tag "${s.lang}"`);
    lines.push(`Subject:${s.lang ? `;lang=${s.lang}` : ''} ${escapeValue(s.text)}`);
  }
  for (const [p, uri] of Object.entries(ns)) {
    if (/[<>\s]/.test(uri)) misuse(`bad NS URI "${uri}"`);
    lines.push(`NS: ${p ? name(p) + ' ' : ''}<${uri}>`);
  }
  for (const r of m.require ?? []) if (!HEADER_NAME.test(r)) misuse(`bad Require entry "${r}"`);
  if (m.require?.length) lines.push(`Require: ${m.require.join(',')}`);
  lines.push(...ext, '');
  const mime = [...(m.contentHeaders ?? [])];
  if (m.contentType !== undefined && !mime.some(([k]) => k.toLowerCase() === 'content-type'))
    mime.unshift(['Content-Type', m.contentType]);
  for (const [k, v] of mime) {
    if (!/^[!-9;-~]+$/.test(k) || /[\r\n]/.test(v)) misuse(`bad MIME header "${k}"`);
    lines.push(`${k}: ${v}`);
  }
  const head = enc.encode(lines.join('\r\n') + '\r\n\r\n');
  const content = typeof m.content === 'string' ? enc.encode(m.content) : (m.content ?? new Uint8Array(0));
  const out = new Uint8Array(head.length + content.length);
  out.set(head);
  out.set(content, head.length);
  return out;
}

// ---------------------------------------------------------------------------------------------- IMDN header

/**
 * imdn.Disposition-Notification (RFC 5438 §6.2): a comma list of notify-req tokens (positive-delivery,
 * negative-delivery, display, processing, or an extension token), each with optional ;params that are dropped.
 */
export function parseDispositionNotification(value: string, at = 0): string[] {
  if (!value.trim()) return [];
  return value.split(',').map((item) => {
    const t = item.split(';')[0]?.trim() ?? '';
    if (!TOKEN.test(t)) fail('bad Disposition-Notification', at);
    return t.toLowerCase();
  });
}

export function formatDispositionNotification(list: readonly string[]): string {
  for (const t of list) if (!TOKEN.test(t)) misuse(`bad notify-req "${t}"`);
  return list.join(', ');
}

// ---------------------------------------------------------------------------------------------- DateTime

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

/**
 * RFC 3339 §5.6 date-time ("T" and "Z" in either case, any fraction of a second, "Z" or ±hh:mm) to epoch
 * milliseconds; fractions beyond the millisecond are truncated. The calendar arithmetic is the message layer's
 * RFC 1123 Date code, fed the same fields.
 */
export function parseDateTime(value: string, at = 0): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d):(\d\d))$/.exec(
    value,
  );
  const n = (k: number): number => Number(m?.[k] ?? 0);
  const bad = (): never => fail('bad RFC 3339 date-time', at);
  if (
    !m ||
    n(2) < 1 ||
    n(2) > 12 ||
    n(3) < 1 ||
    n(4) > 23 ||
    n(5) > 59 ||
    n(6) > 60 ||
    n(9) > 23 ||
    n(10) > 59
  )
    return bad();
  const day = parseDate(`Mon, ${m[3]} ${MONTHS.slice(n(2) * 3 - 3, n(2) * 3)} ${m[1]} 00:00:00 GMT`) ?? bad();
  if (formatDate(day).slice(5, 7) !== m[3]) bad(); // 30 February and the like roll over: refuse them
  const offset = m[8] ? (m[8] === '-' ? -1 : 1) * (n(9) * 60 + n(10)) : 0;
  return (
    day + ((n(4) * 60 + n(5) - offset) * 60 + n(6)) * 1000 + Number((m[7] ?? '').padEnd(3, '0').slice(0, 3))
  );
}

/** Epoch milliseconds as an RFC 3339 date-time in UTC ("…Z"), with milliseconds only when there are some. */
export function formatDateTime(ms: number): string {
  const t = Math.floor(ms);
  const m = /^\w+, (\d\d) (\w+) (\d+) ([\d:]+)/.exec(Number.isFinite(t) ? formatDate(t) : '');
  if (!m) return misuse(`not a time: ${ms}`);
  const month = String(MONTHS.indexOf(m[2] ?? '') / 3 + 1).padStart(2, '0');
  const frac = ((t % 1000) + 1000) % 1000;
  return `${(m[3] ?? '').padStart(4, '0')}-${month}-${m[1]}T${m[4]}${frac ? '.' + String(frac).padStart(3, '0') : ''}Z`;
}
