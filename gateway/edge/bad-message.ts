/**
 * What to do with bytes that do not parse as SIP (SPEC.md §10: a clear SIP error or a close code, never a crash).
 *
 * A request whose start line and transaction headers (Via, From, To, Call-ID, CSeq) can still be read is
 * answerable: it gets the status the parser suggests (ParseError.statusHint: 400, or 505 for another SIP
 * version), built from those raw lines (RFC 3261 §8.2.6). A broken ACK is never answered (§17.2.1), nor is a
 * broken response. Bytes that do not even start like SIP are garbage: the caller counts them and closes the
 * connection after a few.
 */
import { reasonPhrase } from '../../web/src/sip/server.ts';

const REQUEST_LINE = /^([A-Za-z!%*_+`'~.-]+) (\S+) SIP\/(\d+)\.(\d+)$/i;
const STATUS_LINE = /^SIP\/\d+\.\d+ \d{3}( .*)?$/i;

/** The first line of `text` after any leading CRLFs (RFC 3261 §7.5). */
function startLine(text: string): string {
  const start = text.search(/[^\r\n]/);
  if (start < 0) return '';
  const end = text.indexOf('\n', start);
  return (end < 0 ? text.slice(start) : text.slice(start, end)).replace(/\r$/, '');
}

/** Does it start like a SIP request or response at all? */
export function looksLikeSip(data: Uint8Array | string): boolean {
  const text =
    typeof data === 'string' ? data.slice(0, 2048) : Buffer.from(data.subarray(0, 2048)).toString('latin1');
  const line = startLine(text);
  return REQUEST_LINE.test(line) || STATUS_LINE.test(line);
}

const COMPACT: Readonly<Record<string, string>> = { v: 'via', f: 'from', t: 'to', i: 'call-id' };
const WANTED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

/**
 * The bytes of a response to an unparseable request, or undefined when there is nothing to answer (not a request,
 * an ACK, or a transaction header missing). `status` comes from ParseError.statusHint.
 */
export function answerUnparseable(data: Uint8Array | string, status: number): Uint8Array | undefined {
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  const headEnd = text.indexOf('\r\n\r\n');
  const head = headEnd < 0 ? text : text.slice(0, headEnd);
  const lines = head.replace(/^(\r\n)+/, '').split(/\r?\n/);
  const request = REQUEST_LINE.exec(lines[0] ?? '');
  if (request === null || request[1] === 'ACK') return undefined;
  const found = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    // A folded line continues a header we would have to unfold: a broken message is answered without it.
    if (/^[ \t]/.test(line)) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    let name = line.slice(0, colon).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    if (!WANTED.has(name)) continue;
    const value = line.slice(colon + 1).trim();
    if (value === '' || /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) continue;
    found.set(name, [...(found.get(name) ?? []), value]);
  }
  for (const name of WANTED) if (!found.has(name)) return undefined;
  const version = `${request[3]}.${request[4]}`;
  const code = version !== '2.0' ? 505 : status >= 400 && status <= 699 ? status : 400;
  const out = [`SIP/2.0 ${code} ${reasonPhrase(code)}`];
  for (const via of found.get('via') ?? []) out.push(`Via: ${via}`);
  out.push(`From: ${found.get('from')?.[0] ?? ''}`);
  const to = found.get('to')?.[0] ?? '';
  out.push(`To: ${/;\s*tag=/i.test(to) ? to : `${to};tag=gw400`}`);
  out.push(`Call-ID: ${found.get('call-id')?.[0] ?? ''}`);
  out.push(`CSeq: ${found.get('cseq')?.[0] ?? ''}`);
  out.push('Content-Length: 0', '', '');
  return Buffer.from(out.join('\r\n'), 'utf8');
}
