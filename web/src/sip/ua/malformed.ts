/**
 * The answer to a request the parser refused (RFC 3261 §8.2, §21.4.1; RFC 4475 §3.1.2): when enough of it can
 * be read to route a response back and match it to the request — a top Via with sent-protocol and sent-by, and
 * From, To, Call-ID and CSeq present — the UAS answers statelessly with the parser's `statusHint` (400, or 505
 * for a version it does not speak), copying those headers verbatim as §8.2.6.2 asks. Otherwise (a response, an
 * ACK, or a request missing one of them) nothing can be sent and the message is only reported.
 *
 * How it works. The header section is cut at the first blank line and decoded leniently (invalid UTF-8
 * becomes U+FFFD); lines are unfolded (§7.3.1) and split at the first colon; names are normalised as the
 * parser does, so compact forms count. Nothing is interpreted beyond what the response needs: a To that parses
 * gets our tag, a To that does not is copied as it came.
 */
import type { ParseError } from '../errors.ts';
import {
  SipHeaders,
  SipResponse,
  normalizeName,
  parseNameAddr,
  reasonPhrase,
  type HeaderField,
} from '../message/index.ts';

const lenientDecoder = new TextDecoder('utf-8');

/** §7.1 method token, or the start of a status line. */
const METHOD = /^[A-Za-z0-9.!%*_+`'~-]+/;
/** §20.42: the sent-protocol (any version: RFC 4475 §3.1.2.16 sends SIP/7.0 there too) and sent-by of a Via value, all a response needs to find its way back. */
const VIA_HEAD = /^SIP\s*\/\s*\d+\.\d+\s*\/\s*[A-Za-z0-9.!%*_+`'~-]+\s+[^\s;,]+/i;
const CSEQ = /^\d+\s+[A-Za-z0-9.!%*_+`'~-]+$/;

export interface MalformedRequest {
  /** the method of the request line, if it looked like a request */
  readonly method: string | undefined;
  /** the stateless response to send, or undefined when the request cannot be answered */
  readonly response: SipResponse | undefined;
  /** why no response can be sent */
  readonly unanswerable?: string | undefined;
}

/**
 * Build the response to a refused message. `toTag` is added to a To that parses and has none (§8.2.6.2).
 * `warnAgent` (the host this agent calls itself) adds a Warning 399 with the parser's reason, in ASCII.
 */
export function answerMalformed(
  data: Uint8Array | string,
  error: ParseError,
  toTag: string,
  warnAgent?: string,
): MalformedRequest {
  const text = typeof data === 'string' ? data : lenientDecoder.decode(data);
  let start = 0;
  while (text.startsWith('\r\n', start)) start += 2;
  const end = headerEnd(text, start);
  const lines = unfold(text.slice(start, end).split(/\r\n|\r|\n/));
  const startLine = lines[0] ?? '';
  if (/^SIP\//i.test(startLine))
    return { method: undefined, response: undefined, unanswerable: 'a response' };
  const method = METHOD.exec(startLine)?.[0];
  if (method === undefined) return { method, response: undefined, unanswerable: 'no request line' };
  // RFC 3261 §17.1.1.3: an ACK is never answered.
  if (method === 'ACK') return { method, response: undefined, unanswerable: 'an ACK is never answered' };

  const fields: HeaderField[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const rawName = line.slice(0, colon).trim();
    if (!METHOD.test(rawName) || METHOD.exec(rawName)?.[0] !== rawName) continue;
    const [name, key] = normalizeName(rawName);
    fields.push({ name, key, value: line.slice(colon + 1).trim(), offset: 0 });
  }
  const vias = fields.filter((f) => f.key === 'via');
  const first = (key: string): HeaderField | undefined => fields.find((f) => f.key === key);
  const from = first('from');
  const to = first('to');
  const callId = first('call-id');
  const cseq = first('cseq');
  const topVia = vias[0];
  if (topVia === undefined || !VIA_HEAD.test(topVia.value))
    return { method, response: undefined, unanswerable: 'no readable Via' };
  if (from === undefined || from.value === '')
    return { method, response: undefined, unanswerable: 'no From' };
  if (to === undefined || to.value === '') return { method, response: undefined, unanswerable: 'no To' };
  if (callId === undefined || callId.value === '')
    return { method, response: undefined, unanswerable: 'no Call-ID' };
  if (cseq === undefined || !CSEQ.test(cseq.value))
    return { method, response: undefined, unanswerable: 'no readable CSeq' };

  const copied: HeaderField[] = [...vias, from, { ...to, value: withTag(to.value, toTag) }, callId, cseq];
  const status = error.statusHint >= 300 && error.statusHint <= 699 ? error.statusHint : 400;
  const response = new SipResponse(status, reasonPhrase(status), new SipHeaders(copied));
  if (warnAgent !== undefined)
    response.headers.append('Warning', `399 ${warnAgent} "${asciiText(error.reason)}"`);
  return { method, response };
}

function headerEnd(text: string, start: number): number {
  const blank = /\r\n\r\n|\n\n|\r\r/.exec(text.slice(start));
  return blank === null ? text.length : start + blank.index;
}

/** §7.3.1: a line starting with whitespace continues the previous one. */
function unfold(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const c = line.charCodeAt(0);
    if ((c === 0x20 || c === 0x09) && out.length > 0) out[out.length - 1] += ' ' + line.trim();
    else out.push(line);
  }
  return out;
}

function withTag(value: string, tag: string): string {
  try {
    const na = parseNameAddr(value);
    return na.params.has('tag') ? value : `${value};tag=${tag}`;
  } catch {
    return value;
  }
}

/** A reason made safe for a quoted-string: printable ASCII only, quotes and backslashes escaped. */
function asciiText(s: string): string {
  return s
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/["\\]/g, '\\$&')
    .slice(0, 200);
}
