/**
 * Message builders for transaction-level tests: requests written as text and parsed strictly (so every typed
 * header is valid), responses made with `createResponse`, and a seeded random source. Defaults describe Alice
 * at atlanta.example.com calling Bob at biloxi.example.com; each call gets a fresh branch and Call-ID unless one
 * is given.
 */
import {
  createResponse,
  parseMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../web/src/sip/index.ts';
export { seededRandom } from './seeded-random.ts';

export interface RequestSpec {
  method?: string;
  uri?: string;
  /** the top Via branch; `null` leaves the branch parameter out (an RFC 2543 peer) */
  branch?: string | null;
  transport?: 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';
  /** host[:port] of the top Via */
  sentBy?: string;
  /** Via values below the top one */
  lowerVias?: string[];
  callId?: string;
  cseq?: number;
  fromTag?: string;
  toTag?: string;
  route?: string[];
  maxForwards?: number;
  headers?: Record<string, string>;
  body?: string;
}

let counter = 0;

/** A unique token for branches and Call-IDs, deterministic within a test run. */
export function uniqueToken(prefix: string): string {
  counter += 1;
  return `${prefix}${counter}`;
}

/** A request as its sender's transaction layer would get it from the UA layer (top Via with branch included). */
export function buildRequest(spec: RequestSpec = {}): SipRequest {
  const method = spec.method ?? 'MESSAGE';
  const uri = spec.uri ?? 'sip:bob@biloxi.example.com';
  const branch = spec.branch === undefined ? uniqueToken('z9hG4bKtest') : spec.branch;
  const via =
    `SIP/2.0/${spec.transport ?? 'UDP'} ${spec.sentBy ?? 'pc33.atlanta.example.com:5060'}` +
    (branch === null ? '' : `;branch=${branch}`);
  const lines = [
    `${method} ${uri} SIP/2.0`,
    `Via: ${via}`,
    ...(spec.lowerVias ?? []).map((v) => `Via: ${v}`),
    `Max-Forwards: ${spec.maxForwards ?? 70}`,
    ...(spec.route ?? []).map((r) => `Route: ${r}`),
    `From: Alice <sip:alice@atlanta.example.com>;tag=${spec.fromTag ?? '1928301774'}`,
    `To: Bob <sip:bob@biloxi.example.com>${spec.toTag === undefined ? '' : `;tag=${spec.toTag}`}`,
    `Call-ID: ${spec.callId ?? uniqueToken('a84b4c76e66710@pc33.atlanta.example.com-')}`,
    `CSeq: ${spec.cseq ?? 314159} ${method}`,
    `Contact: <sip:alice@pc33.atlanta.example.com>`,
    ...Object.entries(spec.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  const body = spec.body ?? '';
  if (body !== '') lines.push('Content-Type: text/plain');
  const text =
    lines.join('\r\n') + `\r\nContent-Length: ${new TextEncoder().encode(body).length}\r\n\r\n` + body;
  const message = parseMessage(text);
  if (message.kind !== 'request') throw new Error('built a response');
  return message;
}

export function buildInvite(spec: RequestSpec = {}): SipRequest {
  return buildRequest({ ...spec, method: 'INVITE' });
}

/** A response to `request` (§8.2.6.2), with `toTag` on the To unless the request had one (or status is 100). */
export function buildResponse(request: SipRequest, status: number, toTag?: string): SipResponse {
  return createResponse(request, status, toTag === undefined ? {} : { toTag });
}

/** The message as a transaction layer reads it: `INVITE`, `ACK`, `180 INVITE`, `200 CANCEL` … */
export function summarize(message: SipMessage): string {
  return message.kind === 'request' ? message.method : `${message.status} ${message.cseq.method}`;
}
