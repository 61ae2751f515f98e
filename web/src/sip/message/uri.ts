/**
 * URIs: sip/sips (RFC 3261 §19.1), tel (RFC 3966), im (RFC 3860), pres (RFC 3859), and any other absolute URI
 * kept opaque (RFC 3261 §19.1 allows them in To, From, Contact; RFC 4475 §3.3.4).
 *
 * A parsed Uri is immutable: change one with `with({...})`. Escapes are kept as written in the fields
 * (so `toString()` re-emits what came in) and decoded for comparison (RFC 3261 §19.1.4).
 */
import { ParseError } from '../errors.ts';
import { ParamMap, resetParams, setParam, takeParams } from './param-map.ts';
import { HOSTCHAR, HNVCHAR, PARAMCHAR, PASSWORD, URIC, USER, isEscapedOf, isHex, unescape } from './chars.ts';

export type UriParams = ParamMap;

export interface UriParts {
  scheme: string;
  user?: string | undefined;
  password?: string | undefined;
  host: string;
  port?: number | undefined;
  /** URI parameters: a ParamMap, or any entries (names are lowercased) */
  params?: ParamMap | Iterable<readonly [string, string | null]> | undefined;
  headers?: ReadonlyMap<string, string> | undefined;
  /** for schemes this stack does not structure: everything after "scheme:" */
  opaque?: string | undefined;
}

const EMPTY_HEADERS: ReadonlyMap<string, string> = new Map();

interface ParsedUri {
  scheme: string;
  user: string | undefined;
  password: string | undefined;
  host: string;
  port: number | undefined;
  params: ParamMap;
  headers: ReadonlyMap<string, string>;
  opaque: string | undefined;
}

const LAZY = Symbol('lazy');
const PARSED = Symbol('parsed');

/**
 * The one object every URI parser leaves its parts in, reused: the Uri being built copies them at once, so a
 * parsed URI is one object rather than a Uri holding a parts object.
 */
const OUT: ParsedUri = {
  scheme: '',
  user: undefined,
  password: undefined,
  host: '',
  port: undefined,
  params: ParamMap.EMPTY,
  headers: EMPTY_HEADERS,
  opaque: undefined,
};

function setOut(
  scheme: string,
  user: string | undefined,
  password: string | undefined,
  host: string,
  port: number | undefined,
  params: ParamMap,
  headers: ReadonlyMap<string, string>,
  opaque: string | undefined,
): ParsedUri {
  OUT.scheme = scheme;
  OUT.user = user;
  OUT.password = password;
  OUT.host = host;
  OUT.port = port;
  OUT.params = params;
  OUT.headers = headers;
  OUT.opaque = opaque;
  return OUT;
}

function normalizeParts(parts: UriParts): ParsedUri {
  const p = parts.params;
  return setOut(
    lowerScheme(parts.scheme),
    parts.user,
    parts.password,
    parts.host,
    parts.port,
    p === undefined ? ParamMap.EMPTY : p instanceof ParamMap ? p : ParamMap.from(p),
    parts.headers ?? EMPTY_HEADERS,
    parts.opaque,
  );
}

function lowerScheme(scheme: string): string {
  return scheme === 'sip' || scheme === 'sips' || scheme === 'tel' ? scheme : scheme.toLowerCase();
}

export class Uri {
  #text: string | undefined;
  readonly #base: number;
  /** false until first use for a URI made by `Uri.lazy` */
  #parsed: boolean;
  #scheme = '';
  #user: string | undefined = undefined;
  #password: string | undefined = undefined;
  #host = '';
  #port: number | undefined = undefined;
  #params: ParamMap = ParamMap.EMPTY;
  #headers: ReadonlyMap<string, string> = EMPTY_HEADERS;
  #opaque: string | undefined = undefined;

  /** `parts`: the parts of a new URI (PARSED: those a parser has just left in OUT). */
  constructor(parts: UriParts | typeof LAZY | typeof PARSED, text?: string, base = 0) {
    this.#text = text;
    this.#base = base;
    this.#parsed = parts !== LAZY;
    if (parts === LAZY) return;
    this.#take(parts === PARSED ? OUT : normalizeParts(parts));
  }

  /**
   * A URI whose text is kept and parsed on first use (lazy message parsing, for relays): reading any part
   * parses it and throws ParseError if it is not a URI. `toString()` never parses.
   */
  static lazy(text: string, base = 0): Uri {
    return new Uri(LAZY, text, base);
  }

  #take(p: ParsedUri): void {
    this.#scheme = p.scheme;
    this.#user = p.user;
    this.#password = p.password;
    this.#host = p.host;
    this.#port = p.port;
    this.#params = p.params;
    this.#headers = p.headers;
    this.#opaque = p.opaque;
  }

  #parse(): void {
    this.#take(parseUriParts(this.#text ?? '', this.#base));
    this.#parsed = true;
  }

  get scheme(): string {
    if (!this.#parsed) this.#parse();
    return this.#scheme;
  }
  get user(): string | undefined {
    if (!this.#parsed) this.#parse();
    return this.#user;
  }
  get password(): string | undefined {
    if (!this.#parsed) this.#parse();
    return this.#password;
  }
  get host(): string {
    if (!this.#parsed) this.#parse();
    return this.#host;
  }
  get port(): number | undefined {
    if (!this.#parsed) this.#parse();
    return this.#port;
  }
  get params(): ParamMap {
    if (!this.#parsed) this.#parse();
    return this.#params;
  }
  get headers(): ReadonlyMap<string, string> {
    if (!this.#parsed) this.#parse();
    return this.#headers;
  }
  get opaque(): string | undefined {
    if (!this.#parsed) this.#parse();
    return this.#opaque;
  }

  /** True for sip: and sips: URIs. */
  get isSip(): boolean {
    return this.scheme === 'sip' || this.scheme === 'sips';
  }

  /** The value of a URI parameter (`null` when present without a value, `undefined` when absent). */
  param(name: string): string | null | undefined {
    return this.params.get(name.toLowerCase());
  }

  /** A copy with some parts replaced. Pass `undefined` explicitly to remove an optional part. */
  with(parts: Partial<UriParts>): Uri {
    return new Uri({
      scheme: this.scheme,
      user: this.user,
      password: this.password,
      host: this.host,
      port: this.port,
      params: this.params,
      headers: this.headers,
      opaque: this.opaque,
      ...parts,
    });
  }

  /** A copy with one URI parameter set (`null`: present without value) or removed (`undefined`). */
  withParam(name: string, value: string | null | undefined): Uri {
    return this.with({ params: this.params.with(name, value) });
  }

  /** AOR form used as a registrar key: scheme, user and host only, host lowercased (RFC 3261 §10.3 step 5). */
  get aor(): string {
    const user = this.user === undefined ? '' : unescape(this.user) + '@';
    return `${this.scheme === 'sips' ? 'sip' : this.scheme}:${user}${this.host.toLowerCase()}`;
  }

  toString(): string {
    if (this.#text !== undefined) return this.#text;
    let s = this.scheme + ':';
    if (this.opaque !== undefined) return (this.#text = s + this.opaque);
    if (this.user !== undefined) {
      s += this.user;
      if (this.password !== undefined) s += ':' + this.password;
      s += '@';
    }
    s += this.host;
    if (this.port !== undefined) s += ':' + String(this.port);
    for (const [k, v] of this.params) s += v === null ? ';' + k : ';' + k + '=' + v;
    let sep = '?';
    for (const [k, v] of this.headers) {
      s += sep + k + '=' + v;
      sep = '&';
    }
    return (this.#text = s);
  }

  /** RFC 3261 §19.1.4 URI comparison (for tel, im and pres the analogous rules; others compare as text). */
  equals(other: Uri): boolean {
    if (this.scheme !== other.scheme) return false;
    if (this.opaque !== undefined || other.opaque !== undefined) return this.opaque === other.opaque;
    // User and password compare case-sensitively once escapes are decoded; the host does not.
    if (!sameEscaped(this.user, other.user) || !sameEscaped(this.password, other.password)) return false;
    if (this.host.toLowerCase() !== other.host.toLowerCase() || this.port !== other.port) return false;
    // user, ttl, method, maddr and transport must match when either side has them; any other parameter
    // is compared only when both sides carry it.
    for (const [k, v] of this.params) {
      const o = other.params.get(k);
      if (o === undefined) {
        if (STRICT_URI_PARAMS.has(k)) return false;
        continue;
      }
      if (!sameParam(v, o)) return false;
    }
    for (const k of STRICT_URI_PARAMS) if (other.params.has(k) && !this.params.has(k)) return false;
    // Header components are never ignored: same set both ways.
    if (this.headers.size !== other.headers.size) return false;
    for (const [k, v] of this.headers) {
      let match = false;
      for (const [ok, ov] of other.headers) {
        if (ok.toLowerCase() === k.toLowerCase() && unescape(ov) === unescape(v)) match = true;
      }
      if (!match) return false;
    }
    return true;
  }
}

const STRICT_URI_PARAMS = new Set(['user', 'ttl', 'method', 'maddr', 'transport']);

function sameEscaped(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a === b || unescape(a) === unescape(b);
}

function sameParam(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return a.toLowerCase() === b.toLowerCase() || unescape(a).toLowerCase() === unescape(b).toLowerCase();
}

/**
 * Parse a URI that stands alone (Request-URI, or the inside of < >). `base` is the offset of `text` in the
 * message, for error positions. Whitespace anywhere is an error (RFC 4475 §3.1.2.8).
 */
export function parseUri(text: string, base = 0): Uri {
  parseUriParts(text, base);
  return new Uri(PARSED, text, base);
}

function parseUriParts(text: string, base: number): ParsedUri {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new ParseError(`not a URI: "${clip(text)}"`, base);
  const scheme = text.slice(0, colon);
  if (!isScheme(scheme)) throw new ParseError(`bad URI scheme "${clip(scheme)}"`, base);
  switch (scheme.toLowerCase()) {
    case 'sip':
    case 'sips':
      return parseSipUri(text, colon + 1, base);
    case 'tel':
      return parseTelUri(text, colon + 1, base);
    case 'im':
    case 'pres':
      return parseMailboxUri(text, colon + 1, base);
    default:
      return parseOpaqueUri(text, colon + 1, base);
  }
}

function isScheme(s: string): boolean {
  const c0 = s.charCodeAt(0);
  if (!((c0 >= 0x41 && c0 <= 0x5a) || (c0 >= 0x61 && c0 <= 0x7a))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2b ||
      c === 0x2d ||
      c === 0x2e;
    if (!ok) return false;
  }
  return true;
}

// RFC 3261 §19.1.1 / §25.1: SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
function parseSipUri(text: string, start: number, base: number): ParsedUri {
  let user: string | undefined;
  let password: string | undefined;
  let i = start;
  // The userinfo ends at the first "@": neither params, headers nor the host may hold an unescaped "@".
  const at = text.indexOf('@', start);
  if (at >= 0) {
    const userinfo = text.slice(start, at);
    const pc = userinfo.indexOf(':');
    user = pc < 0 ? userinfo : userinfo.slice(0, pc);
    if (pc >= 0) password = userinfo.slice(pc + 1);
    if (user.length === 0 && !(password !== undefined)) throw new ParseError('empty user part', base + start);
    if (!isEscapedOf(user, USER))
      throw new ParseError(`bad character in URI user "${clip(user)}"`, base + start);
    if (password !== undefined && !isEscapedOf(password, PASSWORD))
      throw new ParseError('bad character in URI password', base + start);
    i = at + 1;
  }
  const { host, port, end } = parseHostPort(text, i, base);
  const { params, headers } = parseParamsAndHeaders(text, end, base);
  const scheme = start === 4 ? 'sip' : start === 5 ? 'sips' : '';
  return setOut(
    scheme || lowerScheme(text.slice(0, start - 1)),
    user,
    password,
    host,
    port,
    params,
    headers,
    undefined,
  );
}

interface HostPort {
  host: string;
  port: number | undefined;
  end: number;
}

/** The one result object of parseHostPort, reused: callers read it before the next call. */
const HOST_PORT: HostPort = { host: '', port: undefined, end: 0 };

/**
 * hostport = host [ ":" port ]; host = hostname / IPv4address / IPv6reference.
 * Returns a shared object, valid until the next call (this runs several times per message).
 */
export function parseHostPort(text: string, i: number, base: number): HostPort {
  const start = i;
  let host: string;
  if (i < text.length && text.charCodeAt(i) === 0x5b /* [ */) {
    const close = text.indexOf(']', i);
    if (close < 0) throw new ParseError('unterminated IPv6 reference', base + i);
    for (let j = i + 1; j < close; j++) {
      const c = text.charCodeAt(j);
      if (!(isHex(c) || c === 0x3a || c === 0x2e)) throw new ParseError('bad IPv6 reference', base + j);
    }
    i = close + 1;
    host = text.slice(start, i);
  } else {
    // hostname / IPv4address: alphanumerics, "-" and "."; no leading "." or "-", no empty label.
    const len = text.length;
    let prev = 0x2e;
    for (; i < len; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128 || HOSTCHAR[c] !== 1) break;
      if (prev === 0x2e && (c === 0x2e || c === 0x2d))
        throw new ParseError(`bad host "${clip(text.slice(start))}"`, base + i);
      prev = c;
    }
    if (i === start) throw new ParseError(`bad host "${clip(text.slice(start))}"`, base + start);
    host = text.slice(start, i);
  }
  let port: number | undefined;
  if (i < text.length && text.charCodeAt(i) === 0x3a /* : */) {
    const ps = ++i;
    let n = 0;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + c - 0x30;
    }
    if (i === ps || i - ps > 5) throw new ParseError('bad port', base + ps);
    if (n > 65535) throw new ParseError('port out of range', base + ps);
    port = n;
  }
  HOST_PORT.host = host;
  HOST_PORT.port = port;
  HOST_PORT.end = i;
  return HOST_PORT;
}

function parseParamsAndHeaders(
  text: string,
  i: number,
  base: number,
): { params: UriParams; headers: ReadonlyMap<string, string> } {
  let params = ParamMap.EMPTY;
  let headers: Map<string, string> | undefined;
  if (i < text.length && text.charCodeAt(i) === 0x3b) resetParams();
  // uri-parameters = *( ";" uri-parameter ), uri-parameter = pname [ "=" pvalue ]
  while (i < text.length && text.charCodeAt(i) === 0x3b) {
    let end = i + 1;
    while (end < text.length && text.charCodeAt(end) !== 0x3b && text.charCodeAt(end) !== 0x3f) end++;
    const p = text.slice(i + 1, end);
    const eq = p.indexOf('=');
    const name = eq < 0 ? p : p.slice(0, eq);
    const value = eq < 0 ? null : p.slice(eq + 1);
    if (
      name.length === 0 ||
      !isEscapedOf(name, PARAMCHAR) ||
      (value !== null && (value.length === 0 || !isEscapedOf(value, PARAMCHAR)))
    )
      throw new ParseError(`bad URI parameter "${clip(p)}"`, base + i);
    setParam(name.toLowerCase(), value);
    i = end;
    if (i >= text.length || text.charCodeAt(i) !== 0x3b) params = takeParams();
  }
  // headers = "?" header *( "&" header ), header = hname "=" hvalue
  if (i < text.length && text.charCodeAt(i) === 0x3f) {
    for (const h of text.slice(i + 1).split('&')) {
      const eq = h.indexOf('=');
      const name = eq < 0 ? h : h.slice(0, eq);
      const value = eq < 0 ? '' : h.slice(eq + 1);
      if (eq < 0 || name.length === 0 || !isEscapedOf(name, HNVCHAR) || !isEscapedOf(value, HNVCHAR))
        throw new ParseError(`bad URI header "${clip(h)}"`, base + i);
      (headers ??= new Map()).set(name, value);
    }
    i = text.length;
  }
  if (i !== text.length) throw new ParseError(`unexpected "${clip(text.slice(i))}" in URI`, base + i);
  return {
    params,
    headers: headers ?? EMPTY_HEADERS,
  };
}

// RFC 3966 §3: telephone-subscriber = global-number / local-number, then ;par parameters.
function parseTelUri(text: string, start: number, base: number): ParsedUri {
  let i = start;
  while (i < text.length && text.charCodeAt(i) !== 0x3b) {
    const c = text.charCodeAt(i);
    const ok =
      isHex(c) ||
      c === 0x2b ||
      c === 0x2d ||
      c === 0x2e ||
      c === 0x28 ||
      c === 0x29 ||
      c === 0x2a ||
      c === 0x23;
    if (!ok) throw new ParseError('bad character in telephone number', base + i);
    i++;
  }
  const number = text.slice(start, i);
  if (number.length === 0) throw new ParseError('empty telephone number', base + start);
  const { params, headers } = parseParamsAndHeaders(text, i, base);
  if (headers.size > 0) throw new ParseError('tel URI cannot have headers', base + i);
  return normalizeParts({ scheme: 'tel', user: number, host: '', params });
}

// RFC 3860 §3 / RFC 3859 §3: im:/pres: [ to ] [ hnames ], to = mailbox (local-part "@" domain).
function parseMailboxUri(text: string, start: number, base: number): ParsedUri {
  const q = text.indexOf('?', start);
  const mailbox = text.slice(start, q < 0 ? text.length : q);
  const at = mailbox.lastIndexOf('@');
  if (at <= 0) throw new ParseError('im/pres URI needs user@domain', base + start);
  const user = mailbox.slice(0, at);
  if (!isEscapedOf(user, USER)) throw new ParseError('bad character in URI user', base + start);
  const { host, port, end } = parseHostPort(mailbox, at + 1, base + start);
  if (end !== mailbox.length || port !== undefined)
    throw new ParseError('bad domain in im/pres URI', base + start + at + 1);
  const { headers } = parseParamsAndHeaders(text, q < 0 ? text.length : q, base);
  return normalizeParts({ scheme: text.slice(0, start - 1), user, host, headers });
}

// RFC 3261 §25.1 absoluteURI: scheme ":" ( hier-part / opaque-part ), kept as text.
function parseOpaqueUri(text: string, start: number, base: number): ParsedUri {
  if (start >= text.length) throw new ParseError('empty URI', base + start);
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || URIC[c] !== 1) throw new ParseError('bad character in URI', base + i);
    if (c === 0x25 && !(isHex(text.charCodeAt(i + 1)) && isHex(text.charCodeAt(i + 2))))
      throw new ParseError('bad escape in URI', base + i);
  }
  return normalizeParts({ scheme: text.slice(0, start - 1), host: '', opaque: text.slice(start) });
}

export function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}
