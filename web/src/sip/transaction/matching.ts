/**
 * Transaction matching keys (RFC 3261 §17.1.3, §17.2.3, §9.2) and branch ids (§8.1.1.7).
 *
 * A key is a string built from the fields the RFC compares, so that matching is one Map lookup:
 *  - responses to client transactions: top Via branch + CSeq method;
 *  - requests to server transactions, when the branch has the magic cookie: branch + sent-by + method (an ACK
 *    looks for the INVITE);
 *  - otherwise (an RFC 2543 peer): Request-URI, To tag, From tag, Call-ID, CSeq and top Via; an ACK carries the
 *    To tag of the response it acknowledges, so its key is built without the INVITE's To tag and with that one;
 *  - a CANCEL finds the request it cancels with the same fields minus the method (and, for RFC 2543, the CSeq
 *    method).
 * Branches compare case-insensitively (§7.3.1: parameter values are case-insensitive unless stated otherwise).
 * Fields are joined with LF, which no header value can hold.
 */
import type { SipRequest, SipResponse, Via } from '../message/index.ts';
import { formatVia } from '../message/index.ts';

/** §8.1.1.7: a branch starting with this was made by an RFC 3261 element and is unique in space and time. */
export const MAGIC_COOKIE = 'z9hG4bK';

const TOKEN_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A fresh branch: the magic cookie and `length` random characters from [0-9a-z] (16 give 82 bits). */
export function newBranch(random: () => number, length = 16): string {
  return MAGIC_COOKIE + randomToken(random, length);
}

/** `length` random characters from [0-9a-z]: a token (§25.1) fit for a branch or a tag. */
export function randomToken(random: () => number, length = 16): string {
  let token = '';
  for (let i = 0; i < length; i++) {
    const r = random();
    if (!(r >= 0 && r < 1)) throw new TypeError('random() must return a number in [0, 1)');
    token += TOKEN_ALPHABET.charAt(Math.floor(r * TOKEN_ALPHABET.length));
  }
  return token;
}

/** §17.2.3: does this branch promise RFC 3261 matching? */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.startsWith(MAGIC_COOKIE) && branch.length > MAGIC_COOKIE.length;
}

/** §17.1.3: the key a client transaction is found by: its top Via branch and its method. */
export function clientKey(branch: string, method: string): string {
  return `${branch.toLowerCase()}\n${method}`;
}

/** §17.1.3: the key of the client transaction a response belongs to; undefined when the top Via has no branch. */
export function responseKey(response: SipResponse): string | undefined {
  const branch = response.topVia?.branch;
  return branch === undefined ? undefined : clientKey(branch, response.cseq.method);
}

/**
 * §17.2.3: the key of the server transaction a request belongs to (an ACK: the INVITE's). Throws TypeError for a
 * request without Via.
 */
export function serverKey(request: SipRequest): string {
  const via = topVia(request);
  const method = request.method === 'ACK' ? 'INVITE' : request.method;
  if (isRfc3261Branch(via.branch)) return ['3261', via.branch.toLowerCase(), sentBy(via), method].join('\n');
  // §17.2.3: without the cookie, an ACK matches by the To tag of the response it acknowledges.
  if (request.method === 'ACK') return ackKey2543(request, request.toTag);
  return [
    '2543',
    request.uri.toString(),
    request.toTag ?? '',
    request.fromTag ?? '',
    request.callId,
    String(request.cseq.seq),
    request.cseq.method,
    viaText(via),
  ].join('\n');
}

/**
 * §17.2.3 (RFC 2543 fallback): what an ACK acknowledging a response with To tag `toTag` to `request` (an INVITE,
 * or the ACK itself) is keyed by: Request-URI, From tag, Call-ID, CSeq number, top Via, and that To tag.
 */
export function ackKey2543(request: SipRequest, toTag: string | undefined): string {
  return [
    '2543-ACK',
    request.uri.toString(),
    request.fromTag ?? '',
    request.callId,
    String(request.cseq.seq),
    viaText(topVia(request)),
    toTag ?? '',
  ].join('\n');
}

/**
 * §9.2: the key shared by a CANCEL and the request it cancels: the §17.2.3 fields without the method. Computed
 * alike for both, so the server indexes each request under it and looks each CANCEL up with it.
 */
export function cancelKey(request: SipRequest): string {
  const via = topVia(request);
  if (isRfc3261Branch(via.branch)) return ['3261-CANCEL', via.branch.toLowerCase(), sentBy(via)].join('\n');
  return [
    '2543-CANCEL',
    request.uri.toString(),
    request.toTag ?? '',
    request.fromTag ?? '',
    request.callId,
    String(request.cseq.seq),
    viaText(via),
  ].join('\n');
}

function topVia(request: SipRequest): Via {
  const via = request.topVia;
  if (via === undefined) throw new TypeError('the request has no Via');
  return via;
}

/** §18.2.1 sent-by: host (case-insensitive) and port as written. */
function sentBy(via: Via): string {
  return `${via.host.toLowerCase()}:${via.port ?? ''}`;
}

/**
 * The top Via as compared for RFC 2543 matching: everything but `received` and `rport`, which the receiving
 * transport may add (§18.2.1, RFC 3581) and which are not the sender's.
 */
function viaText(via: Via): string {
  const params = via.params.with('received', undefined).with('rport', undefined);
  return formatVia({ ...via, host: via.host.toLowerCase(), params });
}
