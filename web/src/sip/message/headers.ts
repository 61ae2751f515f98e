/**
 * The header section: an ordered list of fields, names normalised, values kept verbatim (folding undone), and
 * typed views parsed on first use and cached until the header changes.
 */
import { ParseError } from '../errors.ts';
import { Resident } from './resident.ts';
import {
  parseAuthValue,
  parseCSeq,
  parseCallId,
  parseContact,
  parseContactPreferenceList,
  parseContentLength,
  parseDate,
  parseDeltaSeconds,
  parseDirectiveList,
  parseEvent,
  parseMaxForwards,
  parseMediaType,
  parseMediaTypeList,
  parseNameAddr,
  parseNameAddrList,
  parseRAck,
  parseRSeq,
  parseReplaces,
  parseRetryAfter,
  parseSubscriptionState,
  parseToken,
  parseTokenList,
  parseVia,
  parseWarningList,
  parseCallId as parseWordId,
} from './values.ts';

/** RFC 3261 §7.3.3 and later extensions: compact form → long name (lowercase). */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  b: 'referred-by',
  x: 'session-expires',
  y: 'identity',
  n: 'identity-info',
};

const CANONICAL_LIST = [
  'Accept',
  'Accept-Contact',
  'Accept-Encoding',
  'Accept-Language',
  'Alert-Info',
  'Allow',
  'Allow-Events',
  'Authentication-Info',
  'Authorization',
  'Call-ID',
  'Call-Info',
  'Contact',
  'Content-Disposition',
  'Content-Encoding',
  'Content-Language',
  'Content-Length',
  'Content-Type',
  'CSeq',
  'Date',
  'Error-Info',
  'Event',
  'Expires',
  'From',
  'In-Reply-To',
  'Max-Forwards',
  'MIME-Version',
  'Min-Expires',
  'Organization',
  'Path',
  'Priority',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'Proxy-Require',
  'RAck',
  'Record-Route',
  'Refer-To',
  'Referred-By',
  'Reject-Contact',
  'Replaces',
  'Reply-To',
  'Request-Disposition',
  'Require',
  'Retry-After',
  'Route',
  'RSeq',
  'Server',
  'Service-Route',
  'Session-Expires',
  'SIP-ETag',
  'SIP-If-Match',
  'Subject',
  'Subscription-State',
  'Supported',
  'Timestamp',
  'To',
  'Unsupported',
  'User-Agent',
  'Via',
  'Warning',
  'WWW-Authenticate',
  'Flow-Timer',
  'Min-SE',
  'P-Asserted-Identity',
  'P-Preferred-Identity',
  'Identity',
  'Identity-Info',
  'Privacy',
  'Reason',
  'Content-ID',
  'Suppress-If-Match',
  'Target-Dialog',
  'Accept-Resource-Priority',
];
const CANONICAL = new Map(CANONICAL_LIST.map((n) => [n.toLowerCase(), n]));

/** What a header name stands for: [display name, lookup key, typed parser if this stack types it]. */
export type NameInfo = readonly [display: string, key: string, type: HeaderType | undefined];

/**
 * Normalise a header name: compact forms expand to the long name (RFC 3261 §7.3.3), known names take their
 * canonical spelling, unknown names are kept as written (their case is the sender's).
 */
export function normalizeName(name: string): NameInfo {
  const hit = NAME_CACHE.get(name);
  if (hit !== undefined) return hit;
  let key = name.toLowerCase();
  if (key.length === 1) key = COMPACT[key] ?? key;
  const result: NameInfo = [CANONICAL.get(key) ?? name, key, HEADER_TYPES.get(key)];
  // Names repeat from message to message; a bounded cache keeps a flood of invented names from growing memory.
  if (NAME_CACHE.size < 2048) NAME_CACHE.set(name, result);
  return result;
}
const NAME_CACHE = new Map<string, NameInfo>();

/** Known names (long and compact) by the lowercase char code of their first letter; built on first use. */
let knownByFirst: (readonly [lower: string, info: NameInfo])[][] | undefined;

function buildKnownByFirst(): (readonly [lower: string, info: NameInfo])[][] {
  const table: (readonly [lower: string, info: NameInfo])[][] = [];
  for (const lower of [...CANONICAL.keys(), ...Object.keys(COMPACT)]) {
    const key = COMPACT[lower] ?? lower;
    (table[lower.charCodeAt(0)] ??= []).push([
      lower,
      [CANONICAL.get(key) ?? key, key, HEADER_TYPES.get(key)],
    ]);
  }
  return table;
}

/**
 * The NameInfo of a known header name standing at s[start, end), or undefined, compared in place without cutting
 * it out of s: case-insensitively, since setting bit 0x20 lowercases letters and turns no other token char into
 * another token char.
 */
export function knownNameAt(s: string, start: number, end: number): NameInfo | undefined {
  const len = end - start;
  const candidates = (knownByFirst ??= buildKnownByFirst())[s.charCodeAt(start) | 0x20];
  if (candidates !== undefined) {
    next: for (let c = 0; c < candidates.length; c++) {
      const candidate = candidates[c] as readonly [string, NameInfo];
      const lower = candidate[0];
      if (lower.length !== len) continue;
      for (let k = 1; k < len; k++)
        if ((s.charCodeAt(start + k) | 0x20) !== lower.charCodeAt(k)) continue next;
      return candidate[1];
    }
  }
  return undefined;
}

export interface HeaderType {
  /**
   * parse one field's value; list headers return an array whose elements are concatenated across fields.
   * `lazy`: URIs inside may be kept as text until used (Uri.lazy).
   */
  parse(value: string, base: number, lazy: boolean): unknown;
  list: boolean;
  /** lookup key; also the name of its entry in `T` */
  key: string;
  /** single-valued headers that may still appear several times (one challenge per field) */
  repeatable: boolean;
  /** position in T; single-valued headers come first */
  ord: number;
  /** bit of this type in a SipHeaders' presence mask (types beyond 31 share the "other" bit 31) */
  bit: number;
}

type Parse = (v: string, b: number, lazy: boolean) => unknown;
const single = (parse: Parse) => ({ parse, list: false });
const list = (parse: (v: string, b: number, lazy: boolean) => unknown[]) => ({ parse, list: true });

/** The typed headers, by lookup key. Single-valued ones may appear once (RFC 4475 §3.3.8). */
const DEFINITIONS = {
  // single-valued headers first: each gets a bit of its own in the presence mask
  from: single(parseNameAddr),
  to: single(parseNameAddr),
  'call-id': single(parseCallId),
  cseq: single(parseCSeq),
  'max-forwards': single(parseMaxForwards),
  'content-type': single(parseMediaType),
  'content-length': single(parseContentLength),
  expires: single(parseDeltaSeconds),
  'min-expires': single(parseDeltaSeconds),
  date: single(parseDate),
  event: single(parseEvent),
  'subscription-state': single(parseSubscriptionState),
  rseq: single(parseRSeq),
  rack: single(parseRAck),
  'refer-to': single(parseNameAddr),
  'referred-by': single(parseNameAddr),
  replaces: single(parseReplaces),
  'www-authenticate': single(parseAuthValue),
  'proxy-authenticate': single(parseAuthValue),
  authorization: single(parseAuthValue),
  'proxy-authorization': single(parseAuthValue),
  'sip-etag': single(parseToken),
  'sip-if-match': single(parseToken),
  'retry-after': single(parseRetryAfter),
  via: list(parseVia),
  contact: list(parseContact),
  route: list(parseNameAddrList),
  'record-route': list(parseNameAddrList),
  path: list(parseNameAddrList),
  'service-route': list(parseNameAddrList),
  require: list(parseTokenList),
  'proxy-require': list(parseTokenList),
  supported: list(parseTokenList),
  unsupported: list(parseTokenList),
  allow: list(parseTokenList),
  accept: list(parseMediaTypeList),
  'content-encoding': list(parseTokenList),
  'allow-events': list(parseTokenList),
  'accept-contact': list(parseContactPreferenceList),
  'reject-contact': list(parseContactPreferenceList),
  'request-disposition': list(parseDirectiveList),
  warning: list(parseWarningList),
  'in-reply-to': list((v, b) => v.split(',').map((x) => parseWordId(x, b))),
} satisfies Record<string, { parse: Parse; list: boolean }>;

/** Multi-instance auth headers: several challenges may come in one response, each its own field. */
const REPEATABLE_SINGLES = new Set([
  'www-authenticate',
  'proxy-authenticate',
  'authorization',
  'proxy-authorization',
]);

/** Every typed header by key, as constants (`T.via`), for code that knows which header it wants. */
export const T = Object.fromEntries(
  Object.entries(DEFINITIONS).map(([key, d], i) => [
    key,
    { ...d, key, repeatable: REPEATABLE_SINGLES.has(key), ord: i, bit: 1 << Math.min(i, 31) },
  ]),
) as { readonly [K in keyof typeof DEFINITIONS]: HeaderType };

export const HEADER_TYPES: ReadonlyMap<string, HeaderType> = new Map(Object.values(T).map((t) => [t.key, t]));

export interface HeaderField {
  /** display name: canonical for known headers, as written for unknown ones */
  readonly name: string;
  /** lowercase long name used for lookup */
  readonly key: string;
  /** the value with folding undone and surrounding whitespace removed */
  readonly value: string;
  /** offset of the value in the parsed message (0 for fields built in code) */
  readonly offset: number;
  /** the typed parser of this header, when known (filled by the parser and SipHeaders; looked up otherwise) */
  readonly type?: HeaderType | undefined;
}

/**
 * The header fields of one message. Lookups take any spelling of a name (compact or long, any case).
 * `get*` read raw values; `typed` and `typedList` parse through HEADER_TYPES and cache the result.
 */
export class SipHeaders implements Iterable<HeaderField> {
  readonly #fields: HeaderField[];
  /**
   * Typed values, index-aligned with #fields, created on first use and dropped on any change (typed reads
   * come before changes in practice: a proxy reads, then rewrites and sends).
   */
  #parsed: unknown[] | undefined;
  /** concatenated values of list headers spread over several fields, until a change */
  #lists: Map<HeaderType, unknown[]> | undefined;
  /** OR of the `bit`s of the typed headers present (undefined: not computed since the last change) */
  #mask: number | undefined;

  readonly #lazy: boolean;

  /** `lazy`: typed values keep their URIs as text until used (see parseMessage's lazy mode). */
  constructor(fields: HeaderField[] = [], lazy = false) {
    this.#fields = fields;
    this.#lazy = lazy;
  }

  static from(init: Iterable<[string, string]> | Record<string, string | string[]>): SipHeaders {
    const h = new SipHeaders();
    const entries = Symbol.iterator in init ? init : Object.entries(init);
    for (const [name, value] of entries as Iterable<[string, string | string[]]>) {
      for (const v of Array.isArray(value) ? value : [value]) h.append(name, v);
    }
    return h;
  }

  get fields(): readonly HeaderField[] {
    return this.#fields;
  }

  [Symbol.iterator](): Iterator<HeaderField> {
    return this.#fields[Symbol.iterator]();
  }

  clone(): SipHeaders {
    return new SipHeaders(this.#fields.slice());
  }

  has(name: string): boolean {
    const key = normalizeName(name)[1];
    return this.#fields.some((f) => f.key === key);
  }

  /** First value of the header, raw. */
  get(name: string): string | undefined {
    const key = normalizeName(name)[1];
    for (const f of this.#fields) if (f.key === key) return f.value;
    return undefined;
  }

  /** Every field of the header, raw, in order (one entry per header line, not split at commas). */
  getAll(name: string): string[] {
    const key = normalizeName(name)[1];
    const out: string[] = [];
    for (const f of this.#fields) if (f.key === key) out.push(f.value);
    return out;
  }

  /** Replace every field of the header by the given value(s), where the first one stood (or at the end). */
  set(name: string, value: string | readonly string[]): this {
    const [display, key, type] = normalizeName(name);
    const values = typeof value === 'string' ? [value] : value;
    const first = this.#fields.findIndex((f) => f.key === key);
    this.#remove(key);
    this.#changed();
    const fresh = values.map((v) => ({ name: display, key, value: v, offset: 0, type }));
    this.#fields.splice(first < 0 ? this.#fields.length : first, 0, ...fresh);
    return this;
  }

  append(name: string, value: string): this {
    const [display, key, type] = normalizeName(name);
    this.#fields.push({ name: display, key, value, offset: 0, type });
    this.#changed();
    return this;
  }

  /**
   * Insert above the topmost field of that header (Via, Route, Record-Route are pushed this way), or at the
   * very top when the header is not there yet.
   */
  prepend(name: string, value: string): this {
    const [display, key, type] = normalizeName(name);
    const first = this.#fields.findIndex((f) => f.key === key);
    this.#fields.splice(first < 0 ? 0 : first, 0, { name: display, key, value, offset: 0, type });
    this.#changed();
    return this;
  }

  delete(name: string): this {
    this.#remove(normalizeName(name)[1]);
    return this;
  }

  /**
   * Remove the first element of a list header (the top Via, the first Route), splitting a comma-separated
   * field when needed. Returns the removed element's text.
   */
  shift(name: string): string | undefined {
    const key = normalizeName(name)[1];
    const i = this.#fields.findIndex((f) => f.key === key);
    const f = this.#fields[i];
    if (f === undefined) return undefined;
    const parts = splitTopLevelCommas(f.value);
    this.#changed();
    if (parts.length <= 1) {
      this.#fields.splice(i, 1);
      return f.value;
    }
    this.#fields[i] = { ...f, value: parts.slice(1).join(', '), offset: 0 };
    return parts[0];
  }

  #changed(): void {
    this.#parsed = undefined;
    this.#lists = undefined;
    this.#mask = undefined;
  }

  /** Could a field of this type be present? (false is certain; true for shared bits means "look") */
  #maybe(type: HeaderType): boolean {
    let mask = this.#mask;
    if (mask === undefined) {
      mask = 0;
      for (const f of this.#fields) {
        const t = typeOf(f);
        if (t !== undefined) mask |= t.bit;
      }
      this.#mask = mask;
    }
    return (mask & type.bit) !== 0;
  }

  #remove(key: string): void {
    for (let i = this.#fields.length - 1; i >= 0; i--)
      if (this.#fields[i]?.key === key) this.#fields.splice(i, 1);
    this.#changed();
  }

  /** The typed value of field i, parsed once. */
  #parseAt(i: number, type: HeaderType): unknown {
    const parsed = (this.#parsed ??= new Array<unknown>(this.#fields.length));
    let v = parsed[i];
    if (v === undefined) {
      v = parseField(type, this.#fields[i] as HeaderField, this.#lazy);
      parsed[i] = v === undefined ? NONE : v;
      // The latest value of each type stays alive (resident.ts): values of headers a message may lack would
      // otherwise die with it.
      RESIDENT_VALUES.keep(v, type.ord);
    }
    return v === NONE ? undefined : v;
  }

  /** The parsed value of a single-valued typed header, or undefined when absent. Throws ParseError if bad. */
  typed<V>(key: string): V | undefined {
    const type = HEADER_TYPES.get(key);
    if (type === undefined || type.list) throw new TypeError(`${key} is not a single-valued typed header`);
    return this.typedOf<V>(type);
  }

  /** The parsed elements of a list header across all its fields (empty when absent). */
  typedList<V>(key: string): V[] {
    const type = HEADER_TYPES.get(key);
    if (type === undefined) throw new TypeError(`${key} is not a typed header`);
    return this.typedListOf<V>(type);
  }

  /** `typed` for a header type from `T` (no lookup by name). */
  typedOf<V>(type: HeaderType): V | undefined {
    if (!this.#maybe(type)) return undefined;
    const fields = this.#fields;
    let found = -1;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as HeaderField;
      if (typeOf(f) !== type) continue;
      if (found < 0) found = i;
      else if (!type.repeatable) throw new ParseError(`more than one ${f.name} header`, f.offset);
    }
    return found < 0 ? undefined : (this.#parseAt(found, type) as V);
  }

  /** `typedList` for a header type from `T` (no lookup by name). */
  typedListOf<V>(type: HeaderType): V[] {
    if (!this.#maybe(type)) return [];
    const cached = this.#lists?.get(type);
    if (cached !== undefined) return cached as V[];
    const fields = this.#fields;
    let out: unknown[] | undefined;
    let count = 0;
    for (let i = 0; i < fields.length; i++) {
      if (typeOf(fields[i] as HeaderField) !== type) continue;
      const v = this.#parseAt(i, type);
      const values = type.list ? (v as unknown[]) : [v];
      // One field: its own parsed array (cached with the field); more: one concatenation, cached here.
      out = out === undefined ? values : out.concat(values);
      count++;
    }
    if (out === undefined) return [];
    if (count > 1) (this.#lists ??= new Map()).set(type, out);
    return out as V[];
  }

  /** Parse every typed header once (strict mode): throws the first ParseError found. */
  validate(): void {
    if (this.#lazy) throw new TypeError('validate() is for strictly parsed headers');
    const fields = this.#fields;
    let seen = 0;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as HeaderField;
      const type = typeOf(f);
      if (type === undefined) continue;
      // Single-valued headers have bits of their own (they come first in T).
      if (!type.list && !type.repeatable) {
        if ((seen & type.bit) !== 0) throw new ParseError(`more than one ${f.name} header`, f.offset);
        seen |= type.bit;
      }
      this.#parseAt(i, type);
    }
  }
}

/** The typed parser of a field (fields built by hand may lack the cached one). */
function typeOf(f: HeaderField): HeaderType | undefined {
  return f.type !== undefined ? f.type : f.key.length > 0 ? HEADER_TYPES.get(f.key) : undefined;
}

/** The latest parsed value of each header type, by `ord` (period 1: every value replaces the last). */
const RESIDENT_VALUES = new Resident<unknown>(1);

/** Marks a field whose typed value is `undefined` (a Date in another zone) as already parsed. */
const NONE = Symbol('none');

/** Parse one field, naming the header in the error. */
function parseField(type: HeaderType, f: HeaderField, lazy: boolean): unknown {
  try {
    return type.parse(f.value, f.offset, lazy);
  } catch (e) {
    if (e instanceof ParseError) throw new ParseError(`${f.name}: ${e.reason}`, e.offset, e.statusHint);
    throw e;
  }
}

/** Split a header value at commas that are outside quoted strings and < >. */
export function splitTopLevelCommas(value: string): string[] {
  const out: string[] = [];
  let inQuote = false;
  let inAngle = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c) inAngle = true;
    else if (c === 0x3e) inAngle = false;
    else if (c === 0x2c && !inAngle) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out;
}

// validate() relies on every single-valued header having a presence bit of its own.
for (const t of HEADER_TYPES.values()) {
  if (!t.list && !t.repeatable && t.ord >= 31) throw new Error(`header type ${t.key} needs a bit of its own`);
}
