/**
 * MsrpFramer: a byte stream (TCP, TLS, or WebSocket messages, RFC 7977) in, MSRP frames out (RFC 4975 §5.1).
 *
 *   push(bytes) ─► [ start line "MSRP <id> …" ] ─► [ headers to a blank line or the end-line ]
 *                                                        │ blank line
 *                                                        ▼
 *                                  [ scan the body for CRLF "-------<id>" flag CRLF ] ─► frame
 *
 * An MSRP body has no length: it ends at its end-line, which holds the transaction id, so a body may contain
 * look-alike lines (other ids, or no CRLF around them) and still frame right. The scan is one native search for
 * CR per candidate, resumed where it stopped when more bytes come: nothing is scanned twice, and no string is
 * made of a body.
 *
 * Bodies are never copied when a frame lies inside one pushed chunk: the frame's body is a view into that chunk
 * (the caller must not reuse the chunk's memory afterwards; Node sockets and WebSocket messages hand out fresh
 * buffers). Bytes of a frame split across chunks are copied once into the framer's buffer, and the body is a
 * view into that; the buffer is never rewritten once a view of it is out.
 *
 * Memory stays bounded: a frame whose body grows past `streamAbove` bytes (1 MiB by default) is surfaced in
 * pieces instead of being held: `start` (the head, already checked), then `data` for each run of body bytes
 * known not to be part of the end-line, then `end` with the flag. Consumers that take whole frames only must
 * handle those three too, or set `streamAbove: Infinity` and accept the memory.
 *
 * Errors. A frame that is delimited but malformed (a bad header line, a missing To-Path, a body without
 * Content-Type …) is reported as `invalid` with what could be read and the ParseError; framing continues, and a
 * request can be answered 400. Bytes that cannot start a frame, or a header section longer than `maxHeadBytes`,
 * leave no way to find the next frame: one `error` is reported and the framer stops (the driver closes the
 * connection).
 */
import { ParseError } from '../errors.ts';
import {
  checkMsrpFrame,
  findEndLine,
  readHead,
  utf8,
  type HeadResult,
  type MsrpFlag,
  type MsrpFrame,
} from './msrp-frame.ts';

export type MsrpFramerEvent =
  | { readonly type: 'frame'; readonly frame: MsrpFrame }
  | { readonly type: 'invalid'; readonly frame: MsrpFrame; readonly error: ParseError }
  /** the head of a frame whose body is streamed; its `body` is empty and its `flag` unknown until `end` */
  | { readonly type: 'start'; readonly frame: MsrpFrame }
  | { readonly type: 'data'; readonly transactionId: string; readonly data: Uint8Array }
  | { readonly type: 'end'; readonly transactionId: string; readonly flag: MsrpFlag }
  | { readonly type: 'error'; readonly error: ParseError };

export interface MsrpFramerOptions {
  /** The longest start line plus header section accepted (default 16 KiB); longer is a fatal 413. */
  readonly maxHeadBytes?: number;
  /** Bodies longer than this are surfaced as start/data/end instead of being held (default 1 MiB). */
  readonly streamAbove?: number;
}

const EMPTY = new Uint8Array(0);

export class MsrpFramer {
  /** bytes kept from earlier pushes: buf[0, len) */
  #buf: Uint8Array = new Uint8Array(0);
  #len = 0;
  /** the frame whose body is being scanned, with its id as bytes and where the scan resumes */
  #head: HeadResult | undefined;
  #id: Uint8Array = new Uint8Array(0);
  #scan = 0;
  /** for a head still incomplete: how far it was read (a new LF must come before it can be complete) */
  #headFrom = 0;
  #streaming = false;
  #failed = false;
  readonly #maxHead: number;
  readonly #streamAbove: number;

  constructor(options: MsrpFramerOptions = {}) {
    this.#maxHead = options.maxHeadBytes ?? 16384;
    this.#streamAbove = options.streamAbove ?? 1 << 20;
  }

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.#len;
  }

  get failed(): boolean {
    return this.#failed;
  }

  push(chunk: Uint8Array): MsrpFramerEvent[] {
    const events: MsrpFramerEvent[] = [];
    if (this.#failed || chunk.length === 0) return events;
    const fromChunk = this.#len === 0;
    if (!fromChunk) this.#append(chunk);
    const data = fromChunk ? chunk : this.#buf;
    const len = fromChunk ? chunk.length : this.#len;
    let pos = 0;
    try {
      while (pos < len) {
        let h = this.#head;
        if (h === undefined) {
          // A head cut short is read again only once a new line has come (no quadratic re-reading).
          const nl = pos === 0 && this.#headFrom > 0 ? data.indexOf(10, this.#headFrom) : 0;
          h = nl < 0 || nl >= len ? undefined : readHead(data, pos, len);
          this.#headFrom = h === undefined ? len : 0;
          if (h === undefined || h.end - pos > this.#maxHead) {
            if (len - pos > this.#maxHead || h !== undefined)
              throw new ParseError('MSRP header section too large', pos, 413);
            break;
          }
          if (h.bodyStart === undefined) {
            events.push(checked(h.frame, h.error));
            pos = h.end;
            continue;
          }
          this.#head = h;
          this.#id = utf8.encode(h.frame.transactionId);
          this.#scan = h.bodyStart;
        }
        const start = h.bodyStart!;
        const found = findEndLine(data, this.#scan, len, this.#id);
        if (found.at >= 0) {
          const body = data.subarray(start, found.at);
          const id = h.frame.transactionId;
          if (this.#streaming) {
            if (body.length > 0) events.push({ type: 'data', transactionId: id, data: body });
            events.push({ type: 'end', transactionId: id, flag: found.flag });
          } else if (h.error === undefined) {
            events.push(checked({ ...h.frame, body, flag: found.flag }, undefined));
          } else {
            events.push({ type: 'invalid', frame: { ...h.frame, body, flag: found.flag }, error: h.error });
          }
          this.#head = undefined;
          this.#streaming = false;
          pos = found.next;
          continue;
        }
        this.#scan = found.safe;
        if (!this.#streaming && found.safe - start > this.#streamAbove) {
          // A huge body: check the head now and surface the body as it comes (or drop it if the head is bad).
          const first = checked({ ...h.frame, body: new Uint8Array(0), flag: '+' }, h.error);
          if (first.type === 'invalid') h.error = first.error;
          else {
            events.push({ type: 'start', frame: first.frame });
            this.#streaming = true;
          }
        }
        if (this.#streaming || h.error !== undefined) {
          const safe = data.subarray(start, found.safe);
          if (this.#streaming && safe.length > 0)
            events.push({ type: 'data', transactionId: h.frame.transactionId, data: safe });
          h.bodyStart = found.safe;
          pos = found.safe;
        }
        break;
      }
    } catch (e) {
      this.#failed = true;
      this.#head = undefined;
      this.#buf = new Uint8Array(0);
      this.#len = 0;
      events.push({ type: 'error', error: e instanceof ParseError ? e : new ParseError(String(e), pos) });
      return events;
    }
    this.#keep(data, pos, len, fromChunk);
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

  /** Keeps data[pos, len) for the next push, in a fresh buffer whenever views of the current one were handed out. */
  #keep(data: Uint8Array, pos: number, len: number, fromChunk: boolean): void {
    const h = this.#head;
    if (h !== undefined) {
      h.bodyStart = h.bodyStart! - pos;
      this.#scan -= pos;
    }
    this.#headFrom = Math.max(0, this.#headFrom - pos);
    if (!fromChunk && pos === 0) return;
    const rest = data.subarray(pos, len);
    this.#buf = rest.length === 0 ? EMPTY : new Uint8Array(Math.max(rest.length * 2, 4096));
    this.#buf.set(rest);
    this.#len = rest.length;
  }
}

function checked(
  frame: MsrpFrame,
  error: ParseError | undefined,
): Extract<MsrpFramerEvent, { type: 'frame' | 'invalid' }> {
  if (error !== undefined) return { type: 'invalid', frame, error };
  try {
    checkMsrpFrame(frame);
  } catch (e) {
    return { type: 'invalid', frame, error: e as ParseError };
  }
  return { type: 'frame', frame };
}
