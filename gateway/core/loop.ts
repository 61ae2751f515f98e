/**
 * RFC 3261 §16.6 step 8 and §16.3 step 4: the core's Via branches carry a hash of the request as it arrived
 * (Request-URI, From tag, To tag, Call-ID, CSeq number, Proxy-Require), so a request that comes back unchanged
 * (a loop) is recognised and refused with 482, while one that comes back with a new Request-URI (a spiral) is not.
 *
 *   z9hG4bKcore.<loop hash>.<unique part>
 */
import { createHash } from 'node:crypto';

import type { SipRequest } from '../../web/src/sip/server.ts';

export const CORE_BRANCH_PREFIX = 'z9hG4bKcore.';

export function loopHash(request: SipRequest): string {
  const h = createHash('sha256');
  h.update(request.uri.toString());
  h.update('\n');
  h.update(request.fromTag ?? '');
  h.update('\n');
  h.update(request.toTag ?? '');
  h.update('\n');
  h.update(request.callId);
  h.update('\n');
  h.update(String(request.cseq.seq));
  h.update('\n');
  h.update(request.headers.getAll('proxy-require').join(','));
  return h.digest('base64url').slice(0, 16);
}

/** A branch of ours for this request; `unique` tells the branches of one fork apart. */
export function coreBranch(hash: string, unique: string): string {
  return `${CORE_BRANCH_PREFIX}${hash}.${unique}`;
}

/** §16.3 step 4: one of the request's Vias is ours with the same loop hash. */
export function isLoop(request: SipRequest, hash: string): boolean {
  return request.via.some((via) => via.branch?.startsWith(`${CORE_BRANCH_PREFIX}${hash}.`) === true);
}
