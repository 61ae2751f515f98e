/**
 * StreamFramer: a byte stream (TCP, TLS) in, whole SIP messages out (RFC 3261 §18.3).
 *
 *   push(bytes) ──► [ skip CRLF keep-alives ] ──► [ header section complete? ] ──► [ Content-Length bytes? ] ──► message
 *
 * Messages are delimited by Content-Length, which is therefore mandatory on a stream. A missing, negative,
 * repeated or absurd Content-Length cannot be recovered from (there is no way to find the next message), so it
 * is reported once as `{ type: 'error' }` and the framer stops: the driver closes the connection. A message
 * that frames correctly but does not parse is reported as `{ type: 'invalid' }` with its bytes and the error,
 * and framing continues (the UA may answer it 400).
 *
 * RFC 5626 §3.5.1: a double CRLF is a keep-alive "ping", a single CRLF the "pong"; both are reported. Which
 * one a CRLF at the very end of the data starts depends on the side: a `server` (the default) receives pings,
 * so it waits for the second CRLF (the result is then the same however the bytes were split); a `client`
 * receives pongs, so it reports a trailing CRLF at once instead of waiting for bytes that will never come.
 */
import { ParseError } from '../errors.ts';
import { utf8Decoder } from './chars.ts';
import type { SipMessage } from './message.ts';
import { findHeaderEnd, parseMessage, type ParseOptions } from './parser.ts';

export type FrameEvent =
  | { type: 'message'; message: SipMessage; bytes: Uint8Array }
  | { type: 'invalid'; bytes: Uint8Array; error: ParseError }
  | { type: 'keepalive'; kind: 'ping' | 'pong' }
  | { type: 'error'; error: ParseError };

export interface StreamFramerOptions extends ParseOptions {
  /** Largest header section accepted before a blank line (default 64 KiB). */
  maxHeaderBytes?: number;
  /** Largest body accepted (default 16 MiB). */
  maxBodyBytes?: number;
  /** Which keep-alive this side expects to receive: `server` waits for a whole ping, `client` reports pongs at once. */
  keepAliveRole?: 'server' | 'client';
}

export class StreamFramer {
  #buf = new Uint8Array(0);
  #len = 0;
  #failed = false;
  readonly #maxHeader: number;
  readonly #maxBody: number;
  readonly #parse: ParseOptions;
  readonly #client: boolean;

  constructor(options: StreamFramerOptions = {}) {
    this.#maxHeader = options.maxHeaderBytes ?? 65536;
    this.#maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.#parse = { lazy: options.lazy ?? false };
    this.#client = options.keepAliveRole === 'client';
  }

  /** Bytes received but not yet part of a complete message. */
  get buffered(): number {
    return this.#len;
  }

  get failed(): boolean {
    return this.#failed;
  }

  push(chunk: Uint8Array): FrameEvent[] {
    if (this.#failed) return [];
    this.#append(chunk);
    const events: FrameEvent[] = [];
    let pos = 0;
    const buf = this.#buf;
    const len = this.#len;
    while (pos < len) {
      // Keep-alives: CRLFCRLF (ping) or a lone CRLF (pong) between messages.
      if (buf[pos] === 13) {
        if (pos + 1 >= len) break;
        if (buf[pos + 1] !== 10) return this.#fail(events, 'CR not followed by LF between messages', pos);
        if (pos + 3 < len && buf[pos + 2] === 13 && buf[pos + 3] === 10) {
          events.push({ type: 'keepalive', kind: 'ping' });
          pos += 4;
          continue;
        }
        // "CRLF CR" could still become a ping; so could a trailing CRLF, except for a client.
        if (pos + 3 >= len && buf[pos + 2] === 13) break;
        if (pos + 2 >= len && !this.#client) break;
        events.push({ type: 'keepalive', kind: 'pong' });
        pos += 2;
        continue;
      }
      const end = findHeaderEnd(buf.subarray(0, len), pos);
      if (end < 0) {
        if (len - pos > this.#maxHeader) return this.#fail(events, 'header section too large', pos, 413);
        break;
      }
      if (end - pos > this.#maxHeader) return this.#fail(events, 'header section too large', pos, 413);
      const cl = contentLengthOf(buf.subarray(pos, end));
      if (typeof cl === 'string') return this.#fail(events, cl, pos);
      if (cl > this.#maxBody) return this.#fail(events, `body of ${cl} bytes exceeds the limit`, pos, 413);
      const total = end + 4 + cl - pos;
      if (len - pos < total) break;
      const bytes = buf.slice(pos, pos + total);
      pos += total;
      try {
        events.push({ type: 'message', message: parseMessage(bytes, this.#parse), bytes });
      } catch (e) {
        events.push({
          type: 'invalid',
          bytes,
          error: e instanceof ParseError ? e : new ParseError(String(e)),
        });
      }
    }
    this.#consume(pos);
    return events;
  }

  #fail(events: FrameEvent[], reason: string, offset: number, status = 400): FrameEvent[] {
    this.#failed = true;
    this.#len = 0;
    this.#buf = new Uint8Array(0);
    events.push({ type: 'error', error: new ParseError(reason, offset, status) });
    return events;
  }

  #append(chunk: Uint8Array): void {
    const need = this.#len + chunk.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2, 4096));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#len);
    this.#len = need;
  }

  #consume(n: number): void {
    if (n === 0) return;
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
  }
}

/**
 * Find the single Content-Length (or "l") header in a header section without a full parse.
 * Returns the length, or a reason string when framing is impossible.
 */
function contentLengthOf(head: Uint8Array): number | string {
  const text = utf8Decoder.decode(head);
  let found: number | undefined;
  const re = /\r\n(?:content-length|l)[ \t]*:((?:[^\r]|\r\n[ \t])*)/gi;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const v = (m[1] ?? '').trim();
    if (found !== undefined) return 'more than one Content-Length on a stream';
    if (!/^\d{1,10}$/.test(v)) return `bad Content-Length "${v.slice(0, 20)}" on a stream`;
    found = Number(v);
  }
  if (found === undefined) return 'Content-Length is mandatory on a stream (RFC 3261 §18.3)';
  return found;
}
