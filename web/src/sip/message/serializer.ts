/**
 * serializeMessage: SipRequest | SipResponse → bytes, in the canonical form: one SP between start-line
 * elements, "SIP/2.0", long header names, folding never emitted, and a Content-Length that always equals the
 * body's byte length (RFC 3261 §20.14; written where the original stood, else last).
 */
import { utf8Encoder } from './chars.ts';
import type { SipMessage } from './message.ts';

export function serializeMessage(msg: SipMessage): Uint8Array {
  const body = msg.body;
  const head = serializeHead(msg, body.length);
  // Worst case 3 UTF-8 bytes per UTF-16 unit; encodeInto writes without an intermediate array.
  const out = new Uint8Array(head.length * 3 + body.length);
  const { written } = utf8Encoder.encodeInto(head, out);
  out.set(body, written);
  return out.subarray(0, written + body.length);
}

/** The start line and headers (with the blank line) as text. */
export function serializeHead(msg: SipMessage, bodyLength = msg.body.length): string {
  let s: string;
  if (msg.kind === 'request') {
    s = msg.method + ' ' + msg.uri.toString() + ' SIP/2.0\r\n';
  } else {
    checkText(msg.reason, 'reason phrase');
    s = 'SIP/2.0 ' + String(msg.status) + ' ' + msg.reason + '\r\n';
  }
  let wroteLength = false;
  for (const f of msg.headers) {
    if (f.key === 'content-length') {
      if (!wroteLength) s += 'Content-Length: ' + String(bodyLength) + '\r\n';
      wroteLength = true;
      continue;
    }
    checkText(f.value, f.name);
    s += f.name + ': ' + f.value + '\r\n';
  }
  if (!wroteLength) s += 'Content-Length: ' + String(bodyLength) + '\r\n';
  return s + '\r\n';
}

/** A CR or LF in a value would let it forge headers: refuse (API misuse, so TypeError). */
function checkText(v: string, what: string): void {
  if (v.indexOf('\n') >= 0 || v.indexOf('\r') >= 0) throw new TypeError(`line break in ${what}`);
}
