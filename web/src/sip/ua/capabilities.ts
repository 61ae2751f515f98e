/**
 * What this user agent announces and accepts: the methods it allows, the bodies it takes, the option tags it
 * supports, the event packages it handles and the URI schemes it serves. One value feeds both sides of the
 * truth: the headers it sends (Allow, Accept, Supported, Allow-Events in OPTIONS answers, 405, 415, REGISTER)
 * and the checks it applies to incoming requests (RFC 3261 §8.2), so what it says is what it does.
 */
import { parseMediaType, mediaMatches, type MediaType } from '../message/index.ts';

export interface UserAgentCapabilities {
  /** Methods answered (RFC 3261 §8.2.1: a known method not listed here gets 405 with Allow). */
  readonly allow: readonly string[];
  /** Media types accepted in request bodies (§8.2.3: anything else gets 415 with Accept). */
  readonly accept: readonly string[];
  /** Content codings understood; `identity` is always understood (§20.2). */
  readonly acceptEncoding: readonly string[];
  /** Languages announced in a 415's Accept-Language; empty: the header is left out (no language is refused). */
  readonly acceptLanguage: readonly string[];
  /** Option tags (§8.2.2.3: a Require naming anything else gets 420 with Unsupported). */
  readonly supported: readonly string[];
  /** Event packages (RFC 6665 §8.2.2 Allow-Events). */
  readonly allowEvents: readonly string[];
  /** Request-URI schemes served (§8.2.2.1: anything else gets 416). */
  readonly schemes: readonly string[];
  /** Body types this agent can put in an answer to INVITE (an INVITE whose Accept names none of them: 406). */
  readonly produces: readonly string[];
  /** Methods whose body the core checks against `accept` (§8.2.3); other bodies are the usage's business. */
  readonly bodyMethods: readonly string[];
}

/**
 * Every method this stack knows (RFC 3261 and the extensions it names): a method outside this list is
 * "unknown" (501), one inside it but not in `allow` is "not allowed" (405).
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'INVITE',
  'ACK',
  'CANCEL',
  'BYE',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'INFO',
  'REFER',
  'MESSAGE',
  'UPDATE',
]);

/**
 * The defaults describe the client the product ships: pager and session IM (RFC 3428, RFC 4975 via SDP),
 * CPIM, IMDN, is-composing, presence watching and REFER. `100rel` is listed because the core sends the PRACK of
 * a reliable provisional response (RFC 3262 §4) and sends its own provisional responses reliably when asked to.
 */
export const DEFAULT_CAPABILITIES: UserAgentCapabilities = Object.freeze({
  allow: Object.freeze([
    'INVITE',
    'ACK',
    'CANCEL',
    'BYE',
    'OPTIONS',
    'MESSAGE',
    'NOTIFY',
    'SUBSCRIBE',
    'PRACK',
    'UPDATE',
    'INFO',
    'REFER',
  ]),
  accept: Object.freeze([
    'text/plain',
    'message/cpim',
    'application/im-iscomposing+xml',
    'message/imdn+xml',
    'application/sdp',
    'multipart/mixed',
  ]),
  acceptEncoding: Object.freeze(['identity']),
  acceptLanguage: Object.freeze([]),
  supported: Object.freeze(['outbound', 'path', 'gruu', '100rel']),
  allowEvents: Object.freeze(['presence', 'refer']),
  schemes: Object.freeze(['sip', 'sips']),
  produces: Object.freeze(['application/sdp']),
  bodyMethods: Object.freeze(['INVITE', 'UPDATE', 'PRACK', 'MESSAGE']),
});

/** The defaults with some lists replaced; validates media types and methods so a typo fails at startup. */
export function capabilitiesWith(overrides: Partial<UserAgentCapabilities> = {}): UserAgentCapabilities {
  const caps: UserAgentCapabilities = { ...DEFAULT_CAPABILITIES, ...overrides };
  for (const list of [caps.accept, caps.produces]) for (const t of list) parseMediaType(t);
  for (const m of caps.allow)
    if (!/^[A-Za-z0-9.!%*_+`'~-]+$/.test(m)) throw new TypeError(`bad method "${m}"`);
  return Object.freeze({
    ...caps,
    allow: [...caps.allow],
    accept: [...caps.accept],
    acceptEncoding: [...caps.acceptEncoding],
    acceptLanguage: [...caps.acceptLanguage],
    supported: [...caps.supported],
    allowEvents: [...caps.allowEvents],
    schemes: caps.schemes.map((s) => s.toLowerCase()),
    produces: [...caps.produces],
    bodyMethods: [...caps.bodyMethods],
  });
}

/** The headers that describe the agent (an OPTIONS 200, RFC 3261 §11.2), omitting empty lists. */
export function capabilityHeaders(caps: UserAgentCapabilities): Record<string, string> {
  const headers: Record<string, string> = {
    Allow: caps.allow.join(', '),
    Accept: caps.accept.join(', '),
  };
  if (caps.acceptEncoding.length > 0) headers['Accept-Encoding'] = caps.acceptEncoding.join(', ');
  if (caps.acceptLanguage.length > 0) headers['Accept-Language'] = caps.acceptLanguage.join(', ');
  if (caps.supported.length > 0) headers.Supported = caps.supported.join(', ');
  if (caps.allowEvents.length > 0) headers['Allow-Events'] = caps.allowEvents.join(', ');
  return headers;
}

/** Is `type` covered by one of the ranges in `list` (wildcards allowed on our side)? */
export function acceptsMediaType(list: readonly string[], type: MediaType): boolean {
  return list.some((range) => mediaMatches(parseMediaType(range), type.type, type.subtype));
}

/**
 * RFC 3261 §20.1: can we produce something the peer's Accept allows? An Accept range with q=0 allows nothing.
 */
export function canProduceFor(accept: readonly MediaType[], produces: readonly string[]): boolean {
  return produces.some((p) => {
    const ours = parseMediaType(p);
    return accept.some((range) => qValue(range) > 0 && mediaMatches(range, ours.type, ours.subtype));
  });
}

function qValue(range: MediaType): number {
  const q = range.params.get('q');
  if (q === undefined || q === null) return 1;
  const n = Number(q);
  return Number.isFinite(n) ? n : 1;
}
