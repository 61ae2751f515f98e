/**
 * Session descriptions (RFC 4566): a strict parser that returns an error value instead of throwing, and a
 * serializer that writes the lines in the order §5 requires.
 *
 *   v=0                                   session level: v o s [i u e p] [c] [b] t [r] [z k] [a …]
 *   o=- 2890844526 2890844526 IN IP4 …    then per media: m [i] [c] [b] [k] [a …]
 *   s=-
 *   c=IN IP4 atlanta.example.com
 *   t=0 0
 *   m=message 7654 TCP/MSRP *
 *   a=path:msrp://atlanta.example.com:7654/jshA7weztas;tcp
 *
 * Only what the product reads is typed (origin, connection, media lines, attributes); every other line is kept
 * as [type, value] in order, so nothing is lost between parse and serialize.
 */

export type SdpLine = readonly [type: string, value: string];

export interface SdpAttribute {
  readonly name: string;
  /** undefined for a property attribute (`a=sendonly`) */
  readonly value: string | undefined;
}

export interface SdpOrigin {
  readonly username: string;
  readonly sessionId: string;
  readonly sessionVersion: string;
  readonly netType: string;
  readonly addrType: string;
  readonly address: string;
}

export interface SdpMedia {
  /** message, audio, video … */
  readonly media: string;
  /** 0 declines the stream (RFC 3264 §6) */
  readonly port: number;
  readonly portCount: number | undefined;
  /** TCP/MSRP, TCP/TLS/MSRP, RTP/AVP … */
  readonly proto: string;
  readonly formats: readonly string[];
  /** the c= value (`IN IP4 192.0.2.1`), when the media line has its own */
  readonly connection: string | undefined;
  readonly attributes: readonly SdpAttribute[];
  /** i=, b=, k= lines, in order */
  readonly lines: readonly SdpLine[];
}

export interface SessionDescription {
  readonly origin: SdpOrigin;
  readonly name: string;
  readonly connection: string | undefined;
  readonly attributes: readonly SdpAttribute[];
  readonly media: readonly SdpMedia[];
  /** i= u= e= p= b= t= r= z= k= lines, in order (at least one t=) */
  readonly lines: readonly SdpLine[];
}

export type SdpParseResult =
  | { readonly ok: true; readonly sdp: SessionDescription }
  /** `line` counts from 1 (0: the description as a whole) */
  | { readonly ok: false; readonly reason: string; readonly line: number };

// RFC 4566 §5: the order of the lines; t= and r= interleave. Lines that may repeat are upper-cased here.
const SESSION_ORDER = 'vosiuEPcBTTzkA';
const SESSION_RANK: Readonly<Record<string, number>> = { r: 9 };
const MEDIA_ORDER = 'micBkA';

const TOKEN = /^[\w!#$%&'*+\-.^`{|}~]+$/;

/** Parses a description; never throws. Lines may end in CRLF or LF (RFC 4566 §5 asks parsers to take both). */
export function parseSdp(text: string): SdpParseResult {
  const raw = text.split(/\r?\n/);
  if (raw.at(-1) === '') raw.pop();
  let origin: SdpOrigin | undefined;
  let name: string | undefined;
  let connection: string | undefined;
  const attributes: SdpAttribute[] = [];
  const lines: SdpLine[] = [];
  const media: SdpMedia[] = [];
  let m: { attributes: SdpAttribute[]; lines: SdpLine[] } | undefined;
  let rank = -1;
  const seen = new Set<string>();
  const fail = (reason: string, line: number): SdpParseResult => ({ ok: false, reason, line });
  for (let n = 0; n < raw.length; n++) {
    const line = raw[n]!;
    const type = line.charAt(0);
    const value = line.slice(2);
    if (line.charAt(1) !== '=' || !/^[a-z]$/.test(type))
      return fail(`not a "<type>=<value>" line: "${line.slice(0, 40)}"`, n + 1);
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return fail('control character in a line', n + 1);
    if (n === 0 && line !== 'v=0') return fail('a description starts with v=0', 1);
    if (type === 'm') {
      const mm = /^([\w-]+) (\d{1,5})(?:\/(\d+))? ([\w\-/.]+)((?: [^ ]+)+)$/.exec(value);
      if (mm === null || Number(mm[2]) > 65535) return fail(`bad m= line "${value.slice(0, 40)}"`, n + 1);
      if (m === undefined && lines.every(([t]) => t !== 't'))
        return fail('no t= line before the media', n + 1);
      m = { attributes: [], lines: [] };
      media.push({
        media: mm[1]!,
        port: Number(mm[2]),
        portCount: mm[3] === undefined ? undefined : Number(mm[3]),
        proto: mm[4]!,
        formats: mm[5]!.slice(1).split(' '),
        connection: undefined,
        ...m,
      });
      rank = 0;
      seen.clear();
      continue;
    }
    const order = m === undefined ? SESSION_ORDER : MEDIA_ORDER;
    const at = (m === undefined ? SESSION_RANK[type] : undefined) ?? order.toLowerCase().indexOf(type);
    if (at < 0)
      return fail(
        `${type}= line not allowed ${m === undefined ? 'at session level' : 'in a media section'}`,
        n + 1,
      );
    if (at < rank) return fail(`${type}= line out of order`, n + 1);
    const repeatable = order[at] !== order[at]!.toLowerCase() || type === 'r';
    if (seen.has(type) && !repeatable) return fail(`more than one ${type}= line`, n + 1);
    if (type === 'r' && !seen.has('t')) return fail('r= without t=', n + 1);
    rank = at;
    seen.add(type);
    const bad = checkValue(type, value);
    if (bad !== undefined) return fail(bad, n + 1);
    const target = m ?? { attributes, lines };
    if (type === 'a') {
      const colon = value.indexOf(':');
      const attrName = colon < 0 ? value : value.slice(0, colon);
      if (!TOKEN.test(attrName)) return fail(`bad attribute name "${attrName.slice(0, 30)}"`, n + 1);
      target.attributes.push({ name: attrName, value: colon < 0 ? undefined : value.slice(colon + 1) });
    } else if (type === 'o') {
      const f = value.split(' ');
      origin = {
        username: f[0]!,
        sessionId: f[1]!,
        sessionVersion: f[2]!,
        netType: f[3]!,
        addrType: f[4]!,
        address: f[5]!,
      };
    } else if (type === 's') name = value;
    else if (type === 'c') {
      if (m === undefined) connection = value;
      else media[media.length - 1] = { ...media.at(-1)!, connection: value };
    } else if (type !== 'v') target.lines.push([type, value]);
  }
  if (origin === undefined || name === undefined) return fail('o= and s= are mandatory', 0);
  if (!lines.some(([t]) => t === 't')) return fail('at least one t= line is mandatory', 0);
  // RFC 4566 §5.7: every media needs a connection address, its own or the session's.
  const unconnected = media.findIndex((x) => x.connection === undefined && connection === undefined);
  if (unconnected >= 0) return fail(`m= line ${unconnected + 1} has no c= line`, 0);
  return { ok: true, sdp: { origin, name, connection, attributes, media, lines } };
}

function checkValue(type: string, value: string): string | undefined {
  switch (type) {
    case 'o':
      return /^\S+ \d+ \d+ \S+ \S+ \S+$/.test(value) ? undefined : `bad o= line "${value.slice(0, 40)}"`;
    case 'c':
      return /^\S+ \S+ \S+$/.test(value) ? undefined : `bad c= line "${value.slice(0, 40)}"`;
    case 't':
      return /^\d+ \d+$/.test(value) ? undefined : `bad t= line "${value.slice(0, 40)}"`;
    case 'b':
      return /^[\w-]+:\d+$/.test(value) ? undefined : `bad b= line "${value.slice(0, 40)}"`;
    default:
      return undefined;
  }
}

/** Writes a description, CRLF-terminated, its lines in RFC 4566 §5 order whatever order they were given in. */
export function serializeSdp(sdp: SessionDescription): string {
  const o = sdp.origin;
  let s = `v=0\r\no=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}\r\n`;
  s += `s=${sdp.name}\r\n`;
  s += linesOf(sdp.lines, 'iuep');
  if (sdp.connection !== undefined) s += `c=${sdp.connection}\r\n`;
  s += linesOf(sdp.lines, 'btrzk') + attributesOf(sdp.attributes);
  for (const m of sdp.media) {
    const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
    s += `m=${m.media} ${port} ${m.proto} ${m.formats.join(' ')}\r\n${linesOf(m.lines, 'i')}`;
    if (m.connection !== undefined) s += `c=${m.connection}\r\n`;
    s += linesOf(m.lines, 'bk') + attributesOf(m.attributes);
  }
  return s;
}

function linesOf(lines: readonly SdpLine[], types: string): string {
  let s = '';
  for (const t of types) for (const [type, value] of lines) if (type === t) s += `${type}=${value}\r\n`;
  return s;
}

function attributesOf(attributes: readonly SdpAttribute[]): string {
  let s = '';
  for (const a of attributes) s += a.value === undefined ? `a=${a.name}\r\n` : `a=${a.name}:${a.value}\r\n`;
  return s;
}

/** The value of the first attribute `name` (undefined when absent or a property attribute). */
export function sdpAttribute(attributes: readonly SdpAttribute[], name: string): string | undefined {
  return attributes.find((a) => a.name === name)?.value;
}

/** Whether the property or value attribute `name` is present. */
export function hasSdpAttribute(attributes: readonly SdpAttribute[], name: string): boolean {
  return attributes.some((a) => a.name === name);
}
