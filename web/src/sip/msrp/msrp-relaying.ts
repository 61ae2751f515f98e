/**
 * What an MSRP relay (RFC 4976) does to frames on their way, without touching their bodies:
 *
 *   readMsrpHead(bytes)        the start line and headers of a frame at the front of a buffer (no body scan)
 *   rewritePaths(frame, self)  RFC 4976 §6: take our URI off the front of To-Path, put it on the front of From-Path
 *   rechunk(frame, max, id)    RFC 4976 §6 / RFC 4975 §5.1: split a SEND into smaller chunks of the same message
 *
 * Streamed frames (MsrpFramer's start/data/end) are relayed with rewritePaths on the `start` frame,
 * serializeMsrpHead, the data as it comes, and msrpEndLine with the flag of `end`.
 */
import { ParseError } from '../errors.ts';
import {
  formatByteRange,
  msrpHeader,
  parseByteRange,
  readHead,
  type MsrpFrame,
  type MsrpHeader,
} from './msrp-frame.ts';
import { msrpUriEquals } from './msrp-uri.ts';

/**
 * The head of the frame at the start of `bytes` (its `body` undefined, its `flag` meaningless unless the frame
 * has no body), or undefined when the head is not complete yet. Throws ParseError when the bytes cannot start a
 * frame or the head is malformed.
 */
export function readMsrpHead(bytes: Uint8Array): MsrpFrame | undefined {
  const head = readHead(bytes, 0, bytes.length);
  if (head?.error !== undefined) throw head.error;
  return head?.frame;
}

/**
 * RFC 4976 §6: a relay forwarding a request removes the first To-Path URI, which must be its own, and adds its
 * URI at the front of From-Path. Returns the rewritten frame (same body), or a ParseError (for a 400 or 403)
 * when the frame is not addressed to `self` or names nobody after it.
 */
export function rewritePaths(frame: MsrpFrame, self: string): MsrpFrame | ParseError {
  const to = msrpHeader(frame, 'To-Path')?.trim().split(/ +/);
  const from = msrpHeader(frame, 'From-Path');
  if (to === undefined || from === undefined) return new ParseError('To-Path or From-Path missing');
  if (!msrpUriEquals(to[0]!, self)) return new ParseError('the first To-Path URI is not this relay', 0, 403);
  if (to.length < 2) return new ParseError('To-Path names nobody after this relay');
  const headers = frame.headers.map(([n, v]): MsrpHeader => {
    const lower = n.toLowerCase();
    if (lower === 'to-path') return [n, to.slice(1).join(' ')];
    if (lower === 'from-path') return [n, `${self} ${v}`];
    return [n, v];
  });
  return { ...frame, headers };
}

/**
 * Splits a SEND whose body is longer than `maxBody` into chunks of at most `maxBody` bytes (views of the same
 * body), each with its own transaction id from `newId` and its exact Byte-Range; all but the last end with `+`,
 * the last with the original flag. A frame that needs no split is returned alone, unchanged. Throws ParseError
 * when the SEND's Byte-Range is malformed.
 */
export function rechunk(frame: MsrpFrame, maxBody: number, newId: () => string): MsrpFrame[] {
  const body = frame.body;
  if (frame.method !== 'SEND' || body === undefined || body.length <= maxBody) return [frame];
  if (!(maxBody > 0)) throw new TypeError('maxBody must be positive');
  const br = msrpHeader(frame, 'Byte-Range');
  const range = br === undefined ? { start: 1, end: undefined, total: undefined } : parseByteRange(br);
  const out: MsrpFrame[] = [];
  for (let at = 0; at < body.length; at += maxBody) {
    const piece = body.subarray(at, at + maxBody);
    const start = range.start + at;
    const byteRange = formatByteRange({ start, end: start + piece.length - 1, total: range.total });
    const headers: MsrpHeader[] = frame.headers.map(([n, v]) => [
      n,
      n.toLowerCase() === 'byte-range' ? byteRange : v,
    ]);
    // RFC 4975 §7.1.1: Byte-Range sits with the other MSRP headers, before the MIME ones.
    if (br === undefined) headers.splice(2, 0, ['Byte-Range', byteRange]);
    const last = at + maxBody >= body.length;
    out.push({ ...frame, transactionId: newId(), headers, body: piece, flag: last ? frame.flag : '+' });
  }
  return out;
}
