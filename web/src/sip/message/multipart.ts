/**
 * multipart/* bodies (RFC 2046 §5.1) as used by SIP (RFC 3261 §7.4, RFC 5621): parts are byte ranges of the
 * body, each with its own headers. Bodies are bytes: a binary part is never decoded as text.
 */
import { ParseError } from '../errors.ts';
import { utf8Decoder, utf8Encoder } from './chars.ts';
import { SipHeaders, normalizeName, type HeaderField } from './headers.ts';
import { findHeaderEnd } from './parser.ts';

export interface BodyPart {
  headers: SipHeaders;
  body: Uint8Array;
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (
    let i = hay.indexOf(first ?? 0, from);
    i >= 0 && i + needle.length <= hay.length;
    i = hay.indexOf(first ?? 0, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Split a multipart body with the given boundary (from the Content-Type's boundary parameter). */
export function parseMultipart(body: Uint8Array, boundary: string): BodyPart[] {
  if (boundary.length === 0 || boundary.length > 70) throw new ParseError('bad multipart boundary', 0);
  const delim = utf8Encoder.encode('--' + boundary);
  const parts: BodyPart[] = [];
  // The first delimiter may start the body; later ones are preceded by CRLF.
  let at = indexOfBytes(body, delim, 0);
  if (at < 0) throw new ParseError('multipart boundary not found', 0);
  for (;;) {
    let p = at + delim.length;
    if (body[p] === 0x2d && body[p + 1] === 0x2d) return parts; // close-delimiter
    while (body[p] === 0x20 || body[p] === 0x09) p++; // transport padding
    if (body[p] !== 13 || body[p + 1] !== 10) throw new ParseError('bad multipart delimiter line', p);
    p += 2;
    const next = indexOfBytes(body, utf8Encoder.encode('\r\n--' + boundary), p - 2);
    if (next < 0) throw new ParseError('multipart body not closed', body.length);
    const partBytes = body.subarray(p, next);
    parts.push(parsePart(partBytes));
    at = next + 2;
  }
}

function parsePart(bytes: Uint8Array): BodyPart {
  // A part with no headers starts with its blank line.
  if (bytes[0] === 13 && bytes[1] === 10) return { headers: new SipHeaders(), body: bytes.slice(2) };
  const end = findHeaderEnd(bytes, 0);
  if (end < 0) throw new ParseError('multipart part without blank line', 0);
  const fields: HeaderField[] = [];
  for (const line of utf8Decoder.decode(bytes.subarray(0, end)).split(/\r\n(?![ \t])/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ParseError('bad header in multipart part', 0);
    const [name, key] = normalizeName(line.slice(0, colon).trim());
    fields.push({
      name,
      key,
      value: line
        .slice(colon + 1)
        .replace(/\r\n[ \t]+/g, ' ')
        .trim(),
      offset: 0,
    });
  }
  return { headers: new SipHeaders(fields), body: bytes.slice(end + 4) };
}

/** Build a multipart body; returns the bytes (use the same boundary in the Content-Type). */
export function serializeMultipart(parts: readonly BodyPart[], boundary: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    let head = '--' + boundary + '\r\n';
    for (const f of part.headers) head += f.name + ': ' + f.value + '\r\n';
    chunks.push(utf8Encoder.encode(head + '\r\n'), part.body, utf8Encoder.encode('\r\n'));
  }
  chunks.push(utf8Encoder.encode('--' + boundary + '--\r\n'));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
