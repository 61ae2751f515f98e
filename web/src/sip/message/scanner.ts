/**
 * A cursor over one header value (folding already undone, so LWS is SP/HTAB runs) with the RFC 3261 §25.1
 * lexical pieces: token, quoted-string, separators with their optional surrounding whitespace, generic-params.
 * Every failure throws ParseError with the offset in the message (`base` + position in the value).
 */
import { ParseError } from '../errors.ts';
import { TOKEN } from './chars.ts';
import { ParamMap, resetParams, setParam, takeParams } from './param-map.ts';
import { Resident } from './resident.ts';

export type Params = ParamMap;

/** A recent Scanner, kept alive (resident.ts). */
const RESIDENT = new Resident<Scanner>(1024);

export class Scanner {
  i = 0;
  constructor(
    readonly s: string,
    readonly base = 0,
  ) {
    if (RESIDENT.due()) RESIDENT.keep(this);
  }

  fail(reason: string, at = this.i): never {
    throw new ParseError(reason, this.base + at);
  }

  get done(): boolean {
    return this.i >= this.s.length;
  }

  peek(): number {
    // -1 at the end: reading past a string's end would make V8 drop its optimised code.
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }

  ws(): this {
    const s = this.s;
    let i = this.i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09) break;
      i++;
    }
    this.i = i;
    return this;
  }

  /** token = 1*tokenchar */
  token(what = 'token'): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c >= 128 || TOKEN[c] !== 1) break;
      i++;
    }
    if (i === start) this.fail(`expected ${what}`);
    this.i = i;
    return s.slice(start, i);
  }

  /** Consume `ch` if it is next (after optional whitespace when `lws`). */
  eat(ch: number, lws = true): boolean {
    if (lws) this.ws();
    if (this.i >= this.s.length || this.s.charCodeAt(this.i) !== ch) return false;
    this.i++;
    if (lws) this.ws();
    return true;
  }

  expect(ch: number, what: string): void {
    if (!this.eat(ch)) this.fail(`expected ${what}`);
  }

  /** quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE; returns the raw text including quotes. */
  quotedRaw(): string {
    const s = this.s;
    const start = this.i;
    if (s.charCodeAt(start) !== 0x22) this.fail('expected quoted string');
    let i = start + 1;
    for (;;) {
      if (i >= s.length) this.fail('unterminated quoted string', start);
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
        const n = s.charCodeAt(i + 1);
        if (i + 1 >= s.length || n === 0x0a || n === 0x0d || n > 0x7f)
          this.fail('bad escape in quoted string', i);
        i += 2;
        continue;
      }
      if (c === 0x0d || c === 0x0a) this.fail('line break in quoted string', i);
      i++;
    }
    this.i = i + 1;
    return s.slice(start, i + 1);
  }

  /** The string a quoted-string stands for (escapes removed). */
  quoted(): string {
    return unquote(this.quotedRaw());
  }

  /** Everything up to the next top-level comma (outside quotes and < >), trimmed. */
  untilComma(): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    let inQuote = false;
    let inAngle = false;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (inQuote) {
        if (c === 0x5c) i++;
        else if (c === 0x22) inQuote = false;
      } else if (c === 0x22) inQuote = true;
      else if (c === 0x3c) inAngle = true;
      else if (c === 0x3e) inAngle = false;
      else if (c === 0x2c && !inAngle) break;
    }
    this.i = i;
    return s.slice(start, i).trim();
  }

  /**
   * *( SEMI generic-param ), generic-param = token [ EQUAL gen-value ], gen-value = token / host / quoted-string.
   * Names are lowercased (they compare case-insensitively); values are kept as written, quotes included.
   */
  params(): ParamMap {
    this.ws();
    if (this.i >= this.s.length || this.s.charCodeAt(this.i) !== 0x3b) return ParamMap.EMPTY;
    resetParams();
    for (;;) {
      this.ws();
      if (this.i >= this.s.length || this.s.charCodeAt(this.i) !== 0x3b) return takeParams();
      this.i++;
      this.ws();
      const name = this.token('parameter name').toLowerCase();
      let value: string | null = null;
      // RFC 3261 §20.42: via-received = "received" EQUAL (IPv4address / IPv6address), the IPv6 form bare.
      if (this.eat(0x3d)) value = name === 'received' ? this.addressValue() : this.genValue();
      setParam(name, value);
    }
  }

  /** An IPv4 or bare IPv6 address (hex digits, ":" and "."), else an ordinary gen-value. */
  addressValue(): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    let colon = false;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x3a) colon = true;
      else if (!(
        (c >= 0x30 && c <= 0x39) ||
        (c >= 0x41 && c <= 0x46) ||
        (c >= 0x61 && c <= 0x66) ||
        c === 0x2e
      ))
        break;
    }
    if (!colon) return this.genValue();
    this.i = i;
    return s.slice(start, i);
  }

  genValue(): string {
    const c = this.peek();
    if (c === 0x22) return this.quotedRaw();
    if (c === 0x5b) {
      const close = this.s.indexOf(']', this.i);
      if (close < 0) this.fail('unterminated IPv6 reference');
      const v = this.s.slice(this.i, close + 1);
      this.i = close + 1;
      return v;
    }
    return this.token('parameter value');
  }

  /** Only whitespace may remain. */
  end(what: string): void {
    this.ws();
    if (this.i < this.s.length) this.fail(`unexpected "${this.s.slice(this.i, this.i + 20)}" after ${what}`);
  }

  /** After a list element: true if a comma follows (consumed), false at the end, error otherwise. */
  nextInList(what: string): boolean {
    this.ws();
    if (this.i >= this.s.length) return false;
    if (this.s.charCodeAt(this.i) !== 0x2c) this.fail(`expected "," or end after ${what}`);
    this.i++;
    this.ws();
    if (this.i >= this.s.length) this.fail(`empty element after "," in ${what}`);
    return true;
  }
}

export function unquote(raw: string): string {
  if (raw.length < 2 || raw.charCodeAt(0) !== 0x22) return raw;
  const inner = raw.slice(1, -1);
  return inner.indexOf('\\') < 0 ? inner : inner.replace(/\\([\s\S])/g, '$1');
}

/** quoted-string for a value; a control character (other than HTAB) could never be sent, so it is refused. */
export function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f)
      throw new TypeError(`control character in a header value: ${JSON.stringify(s)}`);
  }
  return '"' + s.replace(/["\\]/g, '\\$&') + '"';
}

/** The unquoted value of a parameter (`undefined` when absent, '' when present without value). */
export function paramValue(params: ReadonlyMap<string, string | null>, name: string): string | undefined {
  const v = params.get(name);
  if (v === undefined) return undefined;
  return v === null ? '' : unquote(v);
}

export function formatParams(params: ReadonlyMap<string, string | null>): string {
  let s = '';
  for (const [k, v] of params) s += v === null ? ';' + k : ';' + k + '=' + v;
  return s;
}
