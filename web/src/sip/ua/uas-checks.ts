/**
 * The checks a UAS core applies to a new request before anything else sees it (RFC 3261 §8.2), in the RFC's
 * order; the first one that fails decides the response:
 *
 *   §8.2.1    method inspection     unknown method 501; known but not allowed 405 with Allow
 *   §8.2.2.1  Request-URI           scheme not served 416; not an address of ours 404
 *   §12.2.2   To tag                a request within a dialog we do not have 481
 *   §8.2.2.2  merged requests       no To tag, same From tag / Call-ID / CSeq as another live request 482
 *   §8.2.2.3  Require               option tags we do not support 420 with Unsupported
 *   §8.2.3    content processing    a body we cannot read 415 with Accept / Accept-Encoding / Accept-Language
 *   §20.1     Accept                an INVITE whose Accept names nothing we can produce 406 (not OPTIONS: its
 *                                   answer carries no body, which every Accept allows, §11.2)
 *
 * A version other than SIP/2.0 (505), a missing mandatory header and a CSeq method that differs from the
 * request's (400) never get this far: the parser refuses them with that `statusHint`. Max-Forwards is not
 * checked: a UAS processes a request with Max-Forwards 0 normally (only a proxy answers 483, §16.3).
 *
 * ACK is never answered and CANCEL is the transaction layer's (§9.2); the caller handles both before this.
 */
import { ParseError } from '../errors.ts';
import type { SipRequest, Uri } from '../message/index.ts';
import {
  KNOWN_METHODS,
  acceptsMediaType,
  canProduceFor,
  type UserAgentCapabilities,
} from './capabilities.ts';

export interface InspectContext {
  readonly capabilities: UserAgentCapabilities;
  /** §8.2.2.1: does this (served-scheme) Request-URI identify this agent? */
  readonly acceptsRequestUri: (uri: Uri) => boolean;
  /** §12.2.2: is there a dialog (or a subscription a NOTIFY may still create one for) for this request? */
  readonly knowsDialog: (request: SipRequest) => boolean;
  /** §8.2.2.2: does another live server transaction have this request's From tag, Call-ID and CSeq? */
  readonly isMerged: (request: SipRequest) => boolean;
}

/** The automatic answer to a request the core refuses. */
export interface Rejection {
  readonly status: number;
  readonly reason?: string | undefined;
  readonly headers: Record<string, string>;
}

/**
 * Methods whose answer must carry a body of a type the request's Accept allows (§20.1, RFC 4475 §3.3.15): the
 * SDP of an INVITE's answer. An OPTIONS answer MAY carry a body (§11.2) and the core's carries none, so an Accept
 * without application/sdp (a monitor asking for text/plain) still gets 200.
 */
const ANSWERED_WITH_BODY = new Set(['INVITE']);

/** Run the §8.2 checks; undefined means the request may go on to the usage or the application. */
export function inspectRequest(request: SipRequest, ctx: InspectContext): Rejection | undefined {
  try {
    return inspect(request, ctx);
  } catch (e) {
    // Strict parsing validated every typed header already; a failure here is still the peer's fault.
    if (e instanceof ParseError) return { status: 400, reason: 'Bad Request', headers: {} };
    throw e;
  }
}

function inspect(request: SipRequest, ctx: InspectContext): Rejection | undefined {
  const caps = ctx.capabilities;
  const method = request.method;

  // RFC 3261 §8.2.1: a method we do not know is 501; one we know but do not take is 405 with Allow.
  if (!caps.allow.includes(method)) {
    if (!KNOWN_METHODS.has(method)) return { status: 501, headers: { Allow: caps.allow.join(', ') } };
    return { status: 405, headers: { Allow: caps.allow.join(', ') } };
  }

  // RFC 3261 §8.2.2.1: a Request-URI scheme we do not serve is 416; an address that is not ours is 404.
  if (!caps.schemes.includes(request.uri.scheme)) return { status: 416, headers: {} };
  if (!ctx.acceptsRequestUri(request.uri)) return { status: 404, headers: {} };

  // RFC 3261 §12.2.2: a To tag names a dialog; if we have none with that id, 481.
  const toTag = request.toTag;
  if (toTag !== undefined && !ctx.knowsDialog(request)) return { status: 481, headers: {} };

  // RFC 3261 §8.2.2.2: the same request reaching us twice by different paths (a fork merged back): 482.
  if (toTag === undefined && ctx.isMerged(request)) return { status: 482, headers: {} };

  // RFC 3261 §8.2.2.3: every option tag in Require must be one we support; list the others in Unsupported.
  const supported = new Set(caps.supported.map((t) => t.toLowerCase()));
  const unsupported = request.require.filter((tag) => !supported.has(tag.toLowerCase()));
  if (unsupported.length > 0) return { status: 420, headers: { Unsupported: unsupported.join(', ') } };

  // RFC 3261 §8.2.3: a body of a type, encoding or language we cannot process is 415, saying what we take.
  if (caps.bodyMethods.includes(method)) {
    const refusal = inspectContent(request, caps);
    if (refusal !== undefined) return refusal;
  }

  // RFC 3261 §20.1 / RFC 4475 §3.3.15: an Accept that allows nothing we could answer with is 406.
  if (ANSWERED_WITH_BODY.has(method) && request.headers.has('accept')) {
    const accept = request.accept;
    if (accept.length > 0 && !canProduceFor(accept, caps.produces)) return { status: 406, headers: {} };
  }
  return undefined;
}

function inspectContent(request: SipRequest, caps: UserAgentCapabilities): Rejection | undefined {
  const type = request.contentType;
  const hasBody = request.body.length > 0;
  if (type === undefined && !hasBody) return undefined;
  // RFC 3261 §20.11: a body marked handling=optional may be ignored rather than refused.
  if (isOptional(request.headers.get('content-disposition'))) return undefined;
  const encodings = request.headers
    .typedList<string>('content-encoding')
    .filter((coding) => coding.toLowerCase() !== 'identity');
  const knownEncodings = new Set(caps.acceptEncoding.map((c) => c.toLowerCase()));
  const typeOk = type !== undefined && acceptsMediaType(caps.accept, type);
  const encodingOk = encodings.every((coding) => knownEncodings.has(coding.toLowerCase()));
  if (typeOk && encodingOk) return undefined;
  // RFC 3261 §7.4.1: a body without Content-Type cannot be interpreted; it is refused like an unknown type.
  const headers: Record<string, string> = { Accept: caps.accept.join(', ') };
  headers['Accept-Encoding'] = caps.acceptEncoding.length > 0 ? caps.acceptEncoding.join(', ') : 'identity';
  if (caps.acceptLanguage.length > 0) headers['Accept-Language'] = caps.acceptLanguage.join(', ');
  return { status: 415, headers };
}

/** RFC 3261 §20.11: Content-Disposition: <type>;handling=optional. */
function isOptional(disposition: string | undefined): boolean {
  if (disposition === undefined) return false;
  return /;\s*handling\s*=\s*"?optional"?\s*(;|$)/i.test(disposition);
}

/** RFC 3261 §8.2.1: the ordering of the checks is part of the contract; exposed for documentation and tests. */
export const CHECK_ORDER = ['405/501', '416', '404', '481', '482', '420', '415', '406'] as const;
