/**
 * The text of digest authentication headers: parsing `WWW-Authenticate` / `Proxy-Authenticate` challenges and
 * `Authorization` / `Proxy-Authorization` credentials, and formatting both back.
 *
 * This layer works on header VALUE strings (what follows `Name:`), so it does not depend on the message layer.
 * The grammar is RFC 7235 §2.1 / §4.1 (an auth-scheme, then a token68 or comma-separated auth-params), which is
 * a superset of RFC 3261 §25.1's `challenge` and `credentials`:
 *
 *   challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param  = token LWS "=" LWS ( token / quoted-string )
 *
 * LWS (including an obsolete CRLF fold) is allowed around "=" and ",", empty list elements are skipped, param
 * names and the scheme are case-insensitive, quoted strings may hold backslash escapes. A value may hold several
 * challenges ("Digest realm=a, nonce=b, Basic realm=c"): after a comma, a token that is not followed by "=" starts
 * a new challenge. Anything malformed throws ParseError and nothing else; `offset` counts UTF-16 code units in the
 * value string. Formatting throws TypeError on values that cannot be put in a header (CR, LF, other controls).
 */
import { ParseError } from '../errors.ts';
import { quote } from '../message/index.ts';

/** One challenge or credentials in its generic RFC 7235 form: scheme plus either a token68 or auth-params. */
export interface AuthSchemeParams {
  /** The auth-scheme as written (compare case-insensitively). */
  scheme: string;
  /** The token68 form (`Basic dXNlcjpwYXNz`), for schemes that use it; Digest never does. */
  token68?: string;
  /** Auth-params by lowercased name, quoted strings unquoted and unescaped. */
  params: Map<string, string>;
  /** Where this challenge starts in the header value. */
  offset: number;
}

/** A parsed `WWW-Authenticate` / `Proxy-Authenticate` Digest challenge (RFC 7616 §3.3, RFC 3261 §22.4). */
export interface DigestChallenge {
  scheme: 'Digest';
  realm: string;
  nonce: string;
  opaque?: string;
  /** The algorithm, canonically spelt if it is one RFC 7616 defines (`md5` → `MD5`); `MD5` when absent. */
  algorithm: string;
  /** The offered qop values, lowercased; empty for an RFC 2069-style challenge without qop. */
  qop: string[];
  stale: boolean;
  userhash?: boolean;
  charset?: string;
  /** The protection space as sent: a space-separated list of URIs. */
  domain?: string;
  params: Map<string, string>;
}

/** A parsed `Authorization` / `Proxy-Authorization` Digest credentials value (RFC 7616 §3.4, RFC 3261 §25.1). */
export interface DigestAuthorization {
  scheme: 'Digest';
  /** The username, or the hashed username when `userhash` is true; decoded from `username*` if that was used. */
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  cnonce?: string;
  /** The nonce count exactly as sent: 8 hex digits. */
  nc?: string;
  qop?: string;
  opaque?: string;
  userhash?: boolean;
  params: Map<string, string>;
}

/** What `formatAuthorization` needs; `nc` may be given as a number and is then written as 8 hex digits. */
export interface DigestAuthorizationInit {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  cnonce?: string;
  nc?: number | string;
  qop?: string;
  opaque?: string;
  userhash?: boolean;
}

/** What `formatChallenge` needs. */
export interface DigestChallengeInit {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm?: string;
  qop?: readonly string[];
  stale?: boolean;
  userhash?: boolean;
  charset?: string;
  domain?: string;
}

/** The algorithms RFC 7616 §6.1 registers, in canonical spelling; lookups are case-insensitive. */
const CANONICAL_ALGORITHMS = new Map(
  ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'].map((name) => [
    name.toLowerCase(),
    name,
  ]),
);

// ---------------------------------------------------------------------------------------------------------------
// Generic auth-param lists
// ---------------------------------------------------------------------------------------------------------------

/**
 * Parses a header value into its challenges (or credentials) in generic form. Throws ParseError on anything
 * that does not follow the grammar, including a repeated param name (RFC 7235 §2.1: each name at most once).
 */
export function parseAuthSchemes(value: string): AuthSchemeParams[] {
  const parser = new AuthParamParser(value);
  return parser.parse();
}

/**
 * Parses every Digest challenge in one `WWW-Authenticate` / `Proxy-Authenticate` value; challenges of other
 * schemes are checked for syntax and then left out. Throws ParseError on malformed input or on a Digest
 * challenge without realm or nonce.
 */
export function parseChallenges(value: string): DigestChallenge[] {
  return parseAuthSchemes(value)
    .filter((item) => isDigest(item.scheme))
    .map((item) => toDigestChallenge(item));
}

/** Parses a `WWW-Authenticate` / `Proxy-Authenticate` value that must hold a Digest challenge (the first one). */
export function parseChallenge(value: string): DigestChallenge {
  const challenge = parseChallenges(value)[0];
  if (challenge === undefined) throw new ParseError('no Digest challenge in the header value', 0);
  return challenge;
}

/**
 * Parses an `Authorization` / `Proxy-Authorization` value holding one Digest credentials.
 * RFC 3261 §7.3.1: these headers are never combined into one line, so a second credentials is an error.
 */
export function parseAuthorization(value: string): DigestAuthorization {
  const items = parseAuthSchemes(value);
  if (items.length !== 1) {
    throw new ParseError('expected exactly one credentials in the header value', items[1]?.offset ?? 0);
  }
  const item = items[0]!;
  if (!isDigest(item.scheme))
    throw new ParseError(`unsupported authentication scheme ${item.scheme}`, item.offset);
  return toDigestAuthorization(item);
}

function isDigest(scheme: string): boolean {
  return scheme.toLowerCase() === 'digest';
}

// RFC 7616 §3.3: realm and nonce are mandatory; algorithm defaults to MD5; qop-options is a quoted,
// comma-separated list; stale is "true" (case-insensitive) or anything else meaning false.
function toDigestChallenge(item: AuthSchemeParams): DigestChallenge {
  if (item.token68 !== undefined) throw new ParseError('a Digest challenge takes auth-params', item.offset);
  const params = item.params;
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined) throw new ParseError('Digest challenge without realm', item.offset);
  if (nonce === undefined) throw new ParseError('Digest challenge without nonce', item.offset);

  const challenge: DigestChallenge = {
    scheme: 'Digest',
    realm,
    nonce,
    algorithm: canonicalAlgorithm(params.get('algorithm') ?? 'MD5'),
    qop: splitQop(params.get('qop')),
    stale: params.get('stale')?.toLowerCase() === 'true',
    params,
  };
  const opaque = params.get('opaque');
  if (opaque !== undefined) challenge.opaque = opaque;
  const userhash = params.get('userhash');
  if (userhash !== undefined) challenge.userhash = userhash.toLowerCase() === 'true';
  const charset = params.get('charset');
  if (charset !== undefined) challenge.charset = charset;
  const domain = params.get('domain');
  if (domain !== undefined) challenge.domain = domain;
  return challenge;
}

// RFC 7616 §3.4 / RFC 3261 §25.1: username, realm, nonce, uri and response are mandatory; nc is exactly 8 hex
// digits; RFC 7616 §3.4.4: `username*` (RFC 5987 ext-value) replaces `username` when the name is not plain.
function toDigestAuthorization(item: AuthSchemeParams): DigestAuthorization {
  if (item.token68 !== undefined) throw new ParseError('Digest credentials take auth-params', item.offset);
  const params = item.params;
  const required = (name: string): string => {
    const value = params.get(name);
    if (value === undefined) throw new ParseError(`Digest credentials without ${name}`, item.offset);
    return value;
  };

  let username = params.get('username');
  const extended = params.get('username*');
  if (extended !== undefined) {
    if (username !== undefined) throw new ParseError('both username and username* present', item.offset);
    username = decodeExtValue(extended, item.offset);
  }
  if (username === undefined) throw new ParseError('Digest credentials without username', item.offset);

  const authorization: DigestAuthorization = {
    scheme: 'Digest',
    username,
    realm: required('realm'),
    nonce: required('nonce'),
    uri: required('uri'),
    response: required('response'),
    params,
  };
  const algorithm = params.get('algorithm');
  if (algorithm !== undefined) authorization.algorithm = canonicalAlgorithm(algorithm);
  const cnonce = params.get('cnonce');
  if (cnonce !== undefined) authorization.cnonce = cnonce;
  const nc = params.get('nc');
  if (nc !== undefined) {
    if (!/^[0-9a-fA-F]{8}$/.test(nc)) throw new ParseError('nc must be 8 hex digits', item.offset);
    authorization.nc = nc;
  }
  const qop = params.get('qop');
  if (qop !== undefined) authorization.qop = qop.toLowerCase();
  const opaque = params.get('opaque');
  if (opaque !== undefined) authorization.opaque = opaque;
  const userhash = params.get('userhash');
  if (userhash !== undefined) authorization.userhash = userhash.toLowerCase() === 'true';
  return authorization;
}

function canonicalAlgorithm(name: string): string {
  return CANONICAL_ALGORITHMS.get(name.toLowerCase()) ?? name;
}

function splitQop(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter((part) => part !== '');
}

// RFC 5987 §3.2: ext-value = charset "'" [ language ] "'" value-chars, with %XX escapes; RFC 7616 §3.4.4
// allows only UTF-8.
function decodeExtValue(value: string, offset: number): string {
  const match = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (match === null) throw new ParseError('malformed username* ext-value', offset);
  if (match[1]!.toLowerCase() !== 'utf-8') throw new ParseError('username* must use UTF-8', offset);
  const encoded = match[2]!;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const code = encoded.charCodeAt(i);
    if (code === 0x25) {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new ParseError('malformed %-escape in username*', offset);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (code > 0x20 && code < 0x7f) {
      bytes.push(code);
    } else {
      throw new ParseError('invalid character in username*', offset);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    throw new ParseError('username* is not valid UTF-8', offset);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The tokenizer
// ---------------------------------------------------------------------------------------------------------------

// RFC 7230 §3.2.6 tchar (a superset of RFC 3261's token characters).
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

// RFC 7235 §2.1 token68 characters (before the trailing "="s).
const TOKEN68 = new Uint8Array(128);
for (const c of '-._~+/') TOKEN68[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN68[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN68[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN68[c] = 1;

const isTchar = (code: number): boolean => code < 128 && TCHAR[code] === 1;
const isToken68 = (code: number): boolean => code < 128 && TOKEN68[code] === 1;

/**
 * Interop: some peers send unquoted values that are not tokens (`uri=sip:bob@b.example`, base64 nonces with
 * "/" and "="). They are accepted as long as they hold no whitespace, control, comma, quote or backslash.
 */
const isBareValueChar = (code: number): boolean =>
  code > 0x20 && code < 0x7f && code !== 0x22 && code !== 0x2c && code !== 0x5c;

class AuthParamParser {
  readonly #s: string;
  #i = 0;

  constructor(s: string) {
    this.#s = s;
  }

  parse(): AuthSchemeParams[] {
    const items: AuthSchemeParams[] = [];
    this.#skipSeparators();
    if (this.#i >= this.#s.length) throw new ParseError('empty authentication header value', this.#i);

    while (this.#i < this.#s.length) {
      items.push(this.#parseOne());
      this.#skipSeparators();
    }
    return items;
  }

  /** One scheme and its params; returns with the cursor at the end or just after a comma. */
  #parseOne(): AuthSchemeParams {
    const offset = this.#i;
    const scheme = this.#readToken('authentication scheme');
    const item: AuthSchemeParams = { scheme, params: new Map(), offset };

    const afterScheme = this.#i;
    this.#skipLws();
    if (this.#atEnd()) return item;
    if (this.#peek() === 0x2c) {
      this.#i++;
      return item;
    }
    // RFC 7235 §2.1: at least one space separates the scheme from what follows.
    if (this.#i === afterScheme)
      throw new ParseError('expected whitespace after the authentication scheme', this.#i);

    const token68 = this.#tryToken68();
    if (token68 !== undefined) {
      item.token68 = token68;
      return this.#endOfElement(item);
    }

    for (;;) {
      this.#parseParam(item);
      this.#skipLws();
      if (this.#atEnd()) return item;
      if (this.#peek() !== 0x2c) throw new ParseError('expected "," between auth-params', this.#i);
      this.#i++;
      this.#skipSeparators();
      if (this.#atEnd()) return item;
      // After a comma: a token followed by "=" is another param; anything else starts the next challenge.
      if (!this.#nextIsParam()) return item;
    }
  }

  #endOfElement(item: AuthSchemeParams): AuthSchemeParams {
    this.#skipLws();
    if (this.#atEnd()) return item;
    if (this.#peek() !== 0x2c) throw new ParseError('expected "," after token68', this.#i);
    this.#i++;
    return item;
  }

  #parseParam(item: AuthSchemeParams): void {
    const nameAt = this.#i;
    const name = this.#readToken('auth-param name').toLowerCase();
    this.#skipLws();
    if (this.#peek() !== 0x3d) throw new ParseError(`expected "=" after ${name}`, this.#i);
    this.#i++;
    this.#skipLws();
    const value = this.#peek() === 0x22 ? this.#readQuoted() : this.#readBare();
    if (item.params.has(name)) throw new ParseError(`auth-param ${name} repeated`, nameAt);
    item.params.set(name, value);
  }

  #nextIsParam(): boolean {
    const save = this.#i;
    let j = this.#i;
    while (j < this.#s.length && isTchar(this.#s.charCodeAt(j))) j++;
    if (j === save) throw new ParseError('expected a token', save);
    this.#i = j;
    this.#skipLws();
    const isParam = this.#peek() === 0x3d;
    this.#i = save;
    return isParam;
  }

  /** A token68 is 1*(token68 char) *"=" followed by the end or a comma; otherwise this is an auth-param list. */
  #tryToken68(): string | undefined {
    let j = this.#i;
    while (j < this.#s.length && isToken68(this.#s.charCodeAt(j))) j++;
    if (j === this.#i) return undefined;
    while (j < this.#s.length && this.#s.charCodeAt(j) === 0x3d) j++;
    let k = j;
    while (k < this.#s.length && (this.#s.charCodeAt(k) === 0x20 || this.#s.charCodeAt(k) === 0x09)) k++;
    if (k < this.#s.length && this.#s.charCodeAt(k) !== 0x2c) return undefined;
    // "realm=x" is a param; "abc" alone or "abc==" is a token68. A bare token with no "=" is a token68 too.
    const text = this.#s.slice(this.#i, j);
    this.#i = j;
    return text;
  }

  #readToken(what: string): string {
    const start = this.#i;
    while (this.#i < this.#s.length && isTchar(this.#s.charCodeAt(this.#i))) this.#i++;
    if (this.#i === start) throw new ParseError(`expected ${what}`, start);
    return this.#s.slice(start, this.#i);
  }

  #readBare(): string {
    const start = this.#i;
    while (this.#i < this.#s.length && isBareValueChar(this.#s.charCodeAt(this.#i))) this.#i++;
    if (this.#i === start) throw new ParseError('expected a token or quoted-string value', start);
    return this.#s.slice(start, this.#i);
  }

  // RFC 3261 §25.1: quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE; qdtext is LWS, %x21, %x23-5B,
  // %x5D-7E or UTF-8 non-ASCII; quoted-pair = "\" followed by any character but CR and LF.
  #readQuoted(): string {
    const open = this.#i;
    this.#i++;
    let out = '';
    let runStart = this.#i;
    for (;;) {
      if (this.#i >= this.#s.length) throw new ParseError('unterminated quoted-string', open);
      const code = this.#s.charCodeAt(this.#i);
      if (code === 0x22) {
        out += this.#s.slice(runStart, this.#i);
        this.#i++;
        return out;
      }
      if (code === 0x5c) {
        out += this.#s.slice(runStart, this.#i);
        const next = this.#s.charCodeAt(this.#i + 1);
        if (Number.isNaN(next)) throw new ParseError('unterminated quoted-string', open);
        if (next === 0x0d || next === 0x0a)
          throw new ParseError('CR or LF escaped in quoted-string', this.#i);
        out += this.#s[this.#i + 1]!;
        this.#i += 2;
        runStart = this.#i;
        continue;
      }
      if (code === 0x0d) {
        // An obsolete line fold inside the string reads as one space.
        if (!this.#isFoldAt(this.#i)) throw new ParseError('bare CR in quoted-string', this.#i);
        out += this.#s.slice(runStart, this.#i) + ' ';
        this.#i += 2;
        runStart = this.#i;
        continue;
      }
      if ((code < 0x20 && code !== 0x09) || code === 0x7f) {
        throw new ParseError('control character in quoted-string', this.#i);
      }
      this.#i++;
    }
  }

  #isFoldAt(at: number): boolean {
    const after = this.#s.charCodeAt(at + 2);
    return this.#s.charCodeAt(at + 1) === 0x0a && (after === 0x20 || after === 0x09);
  }

  // RFC 3261 §25.1: LWS = [*WSP CRLF] 1*WSP; a CRLF must be followed by whitespace to be a fold.
  #skipLws(): void {
    for (;;) {
      const code = this.#s.charCodeAt(this.#i);
      if (code === 0x20 || code === 0x09) this.#i++;
      else if (code === 0x0d && this.#isFoldAt(this.#i)) this.#i += 3;
      else return;
    }
  }

  /** RFC 7230 §7: list elements may be empty ("a, , b"). */
  #skipSeparators(): void {
    for (;;) {
      this.#skipLws();
      if (this.#peek() !== 0x2c) return;
      this.#i++;
    }
  }

  #peek(): number {
    return this.#s.charCodeAt(this.#i);
  }

  #atEnd(): boolean {
    return this.#i >= this.#s.length;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------------------------

/**
 * Formats Digest credentials as an `Authorization` / `Proxy-Authorization` value.
 * RFC 7616 §3.4 / RFC 3261 §25.1: username, realm, nonce, uri, response, cnonce and opaque are quoted strings;
 * algorithm, qop, nc (8 lowercase hex digits) and userhash are bare tokens.
 */
export function formatAuthorization(init: DigestAuthorizationInit): string {
  const parts = [
    `username=${quote(init.username)}`,
    `realm=${quote(init.realm)}`,
    `nonce=${quote(init.nonce)}`,
    `uri=${quote(init.uri)}`,
    `response=${quote(init.response)}`,
  ];
  if (init.algorithm !== undefined) parts.push(`algorithm=${bareToken(init.algorithm)}`);
  if (init.cnonce !== undefined) parts.push(`cnonce=${quote(init.cnonce)}`);
  if (init.opaque !== undefined) parts.push(`opaque=${quote(init.opaque)}`);
  if (init.qop !== undefined) parts.push(`qop=${bareToken(init.qop)}`);
  if (init.nc !== undefined) parts.push(`nc=${formatNonceCount(init.nc)}`);
  if (init.userhash !== undefined) parts.push(`userhash=${init.userhash ? 'true' : 'false'}`);
  return `Digest ${parts.join(', ')}`;
}

/**
 * Formats a Digest challenge as a `WWW-Authenticate` / `Proxy-Authenticate` value.
 * RFC 7616 §3.3: realm, domain, nonce, opaque and the qop list are quoted; algorithm, stale, charset and userhash
 * are bare. `stale` is written only when true, `qop` only when non-empty.
 */
export function formatChallenge(init: DigestChallengeInit): string {
  const parts = [`realm=${quote(init.realm)}`];
  if (init.domain !== undefined) parts.push(`domain=${quote(init.domain)}`);
  parts.push(`nonce=${quote(init.nonce)}`);
  if (init.opaque !== undefined) parts.push(`opaque=${quote(init.opaque)}`);
  if (init.stale === true) parts.push('stale=true');
  if (init.algorithm !== undefined) parts.push(`algorithm=${bareToken(init.algorithm)}`);
  if (init.qop !== undefined && init.qop.length > 0) {
    parts.push(`qop=${quote(init.qop.map((value) => bareToken(value)).join(','))}`);
  }
  if (init.charset !== undefined) parts.push(`charset=${bareToken(init.charset)}`);
  if (init.userhash !== undefined) parts.push(`userhash=${init.userhash ? 'true' : 'false'}`);
  return `Digest ${parts.join(', ')}`;
}

/** RFC 7616 §3.4: nc-value = 8LHEX, the count of requests sent with this nonce, starting at 00000001. */
export function formatNonceCount(nc: number | string): string {
  if (typeof nc === 'string') {
    if (!/^[0-9a-fA-F]{8}$/.test(nc))
      throw new TypeError(`nc must be 8 hex digits, got ${JSON.stringify(nc)}`);
    return nc.toLowerCase();
  }
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) throw new TypeError(`nc out of range: ${nc}`);
  return nc.toString(16).padStart(8, '0');
}

function bareToken(value: string): string {
  if (value === '' || ![...value].every((c) => isTchar(c.charCodeAt(0)))) {
    throw new TypeError(`not a token: ${JSON.stringify(value)}`);
  }
  return value;
}
