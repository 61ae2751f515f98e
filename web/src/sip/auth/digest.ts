/**
 * Digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760): the computation, the server-side helpers a
 * registrar needs, and a small client that answers 401/407 challenges.
 *
 * How the client works. A `DigestAuthenticator` holds one set of credentials and a cache with ONE entry per
 * (header kind, realm): the challenge last answered there, its nonce count and, for the -sess algorithms, the
 * session cnonce. On a 401/407 the caller hands over the challenge header values, the request being retried and
 * the Authorization/Proxy-Authorization values that request carried. For each realm the authenticator can answer,
 * it picks the strongest supported challenge and returns fresh credentials; it gives up instead of looping when a
 * realm it had already answered challenges again without `stale=true` (the password is wrong), or when a nonce
 * it received with `stale=true` is itself declared stale on its first use. One allowance for servers that forget
 * `stale=true`: a nonce we had already reused (nc > 1) and that is refused earns one retry at nc=1. `authorize()`
 * produces credentials pre-emptively for later requests from the cache, incrementing `nc` each time.
 *
 *   request ──401/407──▶ handleChallenge() ──▶ retry { name, values } ──▶ request again ──▶ 2xx
 *                                   │                                        │
 *                                   └──▶ fail { reason }                     └──401/407 again: stale? retry : fail
 *
 * Sans-IO: randomness for the cnonce is injected; nothing here reads a clock.
 */
import {
  formatAuthorization,
  formatChallenge,
  formatNonceCount,
  parseAuthorization,
  parseChallenges,
  type DigestAuthorization,
  type DigestChallenge,
} from './challenge.ts';
import { md5 } from './md5.ts';
import { sha256, sha512_256 } from './sha256.ts';

/** The digest algorithms RFC 7616 §6.1 registers and RFC 8760 §2.1 brings to SIP. */
export type DigestAlgorithm =
  'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';
/** The hash underneath an algorithm (what an HA1 was computed with). */
export type DigestHash = 'MD5' | 'SHA-256' | 'SHA-512-256';
export type DigestQop = 'auth' | 'auth-int';

const ALGORITHMS: readonly DigestAlgorithm[] = [
  'MD5',
  'MD5-sess',
  'SHA-256',
  'SHA-256-sess',
  'SHA-512-256',
  'SHA-512-256-sess',
];

const HASHES: Record<DigestHash, (data: Uint8Array | string) => string> = {
  MD5: md5,
  'SHA-256': sha256,
  'SHA-512-256': sha512_256,
};

// RFC 8760 §2.4 lets local policy set the preference; ours is the strength of the hash.
const STRENGTH: Record<DigestHash, number> = { MD5: 1, 'SHA-256': 2, 'SHA-512-256': 3 };

/** The algorithm named by `name` (case-insensitive), or undefined if it is not one we implement. */
export function parseAlgorithm(name: string): DigestAlgorithm | undefined {
  const lower = name.toLowerCase();
  return ALGORITHMS.find((algorithm) => algorithm.toLowerCase() === lower);
}

/** The hash underneath `algorithm` (`SHA-256-sess` → `SHA-256`). */
export function hashOf(algorithm: DigestAlgorithm): DigestHash {
  return algorithm.endsWith('-sess') ? (algorithm.slice(0, -5) as DigestHash) : (algorithm as DigestHash);
}

function isSess(algorithm: DigestAlgorithm): boolean {
  return algorithm.endsWith('-sess');
}

/**
 * H(username ":" realm ":" password): the HA1 a server stores instead of the password, with the hash of
 * `algorithm`. For the -sess algorithms this is still the stored form; the session HA1 is derived per nonce.
 */
export function computeHa1(
  username: string,
  realm: string,
  password: string,
  algorithm: DigestAlgorithm,
): string {
  return HASHES[hashOf(algorithm)](`${username}:${realm}:${password}`);
}

/** RFC 7616 §3.4.4: the username sent when `userhash=true`, H(username ":" realm). */
export function computeUserhash(username: string, realm: string, algorithm: DigestAlgorithm): string {
  return HASHES[hashOf(algorithm)](`${username}:${realm}`);
}

export interface DigestResponseOptions {
  algorithm: DigestAlgorithm;
  /** The plain username (never the userhash). Needed only with `password`. */
  username: string;
  realm: string;
  /** Either the password … */
  password?: string;
  /** … or the stored HA1 = H(username ":" realm ":" password), computed with this algorithm's hash. */
  ha1?: string;
  method: string;
  /** The digest-uri, i.e. the Request-URI (RFC 3261 §22.4). */
  uri: string;
  nonce: string;
  cnonce?: string;
  /** A number (written as 8 hex digits) or the 8 hex digits exactly as sent. */
  nc?: number | string;
  qop?: DigestQop;
  /** The message body, for qop=auth-int; empty when absent. */
  body?: Uint8Array | string;
}

/**
 * The request-digest (the `response` param) as lowercase hex. Throws TypeError when a value the computation
 * needs is missing.
 */
export function computeDigestResponse(options: DigestResponseOptions): string {
  const { algorithm, realm, method, uri, nonce, cnonce, qop } = options;
  const H = HASHES[hashOf(algorithm)];
  if (options.ha1 === undefined && options.password === undefined) {
    throw new TypeError('computeDigestResponse needs a password or an ha1');
  }
  if (qop !== undefined && (cnonce === undefined || options.nc === undefined)) {
    throw new TypeError('qop needs cnonce and nc');
  }
  if (isSess(algorithm) && cnonce === undefined) throw new TypeError(`${algorithm} needs a cnonce`);

  // RFC 7616 §3.4.2: A1 = username ":" realm ":" passwd; for -sess, A1 = H(that) ":" nonce ":" cnonce.
  let ha1 = options.ha1?.toLowerCase() ?? H(`${options.username}:${realm}:${options.password ?? ''}`);
  if (isSess(algorithm)) ha1 = H(`${ha1}:${nonce}:${cnonce ?? ''}`);

  // RFC 7616 §3.4.3: A2 = Method ":" request-uri, plus ":" H(entity-body) for qop=auth-int.
  const a2 = qop === 'auth-int' ? `${method}:${uri}:${H(options.body ?? '')}` : `${method}:${uri}`;
  const ha2 = H(a2);

  // RFC 7616 §3.4.1: response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)), KD(s, d) = H(s ":" d);
  // RFC 2617 §3.2.2.1: without qop (RFC 2069 compatibility), response = KD(H(A1), nonce ":" H(A2)).
  if (qop === undefined) return H(`${ha1}:${nonce}:${ha2}`);
  const nc = formatNonceCount(options.nc ?? 1);
  return H(`${ha1}:${nonce}:${nc}:${cnonce ?? ''}:${qop}:${ha2}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------------------------

export interface CreateChallengeOptions {
  realm: string;
  /** A fresh, unpredictable nonce from the server (its generation and expiry are the registrar's business). */
  nonce: string;
  algorithm: DigestAlgorithm;
  /** Offered qop values; `['auth']` when absent, `[]` for none (RFC 2069 style, not recommended). */
  qop?: readonly DigestQop[];
  stale?: boolean;
  opaque?: string;
  domain?: string;
  userhash?: boolean;
}

/**
 * A `WWW-Authenticate` / `Proxy-Authenticate` value. RFC 7616 §3.7 / RFC 8760 §2.4: to offer several algorithms,
 * send one header per algorithm, most preferred first (e.g. SHA-256 then MD5 for older clients).
 */
export function createChallenge(options: CreateChallengeOptions): string {
  const init: Parameters<typeof formatChallenge>[0] = {
    realm: options.realm,
    nonce: options.nonce,
    algorithm: options.algorithm,
    qop: options.qop ?? ['auth'],
    stale: options.stale ?? false,
  };
  if (options.opaque !== undefined) init.opaque = options.opaque;
  if (options.domain !== undefined) init.domain = options.domain;
  if (options.userhash !== undefined) init.userhash = options.userhash;
  return formatChallenge(init);
}

export interface VerifyCredentialsOptions {
  method: string;
  body?: Uint8Array | string;
  /** The stored H(username ":" realm ":" password), with the hash of the algorithm the client used … */
  ha1?: string;
  /** … or the password, with `username` when the client sent a userhash. */
  password?: string;
  username?: string;
}

/**
 * Whether `authorization.response` is right for the given secret. Checks the hash only: that the realm is ours,
 * the nonce is one we issued and still fresh, the nc has not been seen, and the uri matches the Request-URI are
 * the registrar's checks. Never throws on what the peer sent; an unsupported algorithm or qop verifies false.
 */
export function verifyCredentials(
  authorization: DigestAuthorization,
  options: VerifyCredentialsOptions,
): boolean {
  if (options.ha1 === undefined && options.password === undefined) {
    throw new TypeError('verifyCredentials needs an ha1 or a password');
  }
  const algorithm = parseAlgorithm(authorization.algorithm ?? 'MD5');
  if (algorithm === undefined) return false;
  const qop = authorization.qop;
  if (qop !== undefined && qop !== 'auth' && qop !== 'auth-int') return false;
  // RFC 7616 §3.4: with qop, cnonce and nc are mandatory; -sess needs a cnonce for A1.
  if (qop !== undefined && (authorization.cnonce === undefined || authorization.nc === undefined))
    return false;
  if (isSess(algorithm) && authorization.cnonce === undefined) return false;
  if (authorization.nc !== undefined && !/^[0-9a-fA-F]{8}$/.test(authorization.nc)) return false;

  const input: DigestResponseOptions = {
    algorithm,
    username: options.username ?? authorization.username,
    realm: authorization.realm,
    method: options.method,
    uri: authorization.uri,
    nonce: authorization.nonce,
  };
  if (options.ha1 !== undefined) input.ha1 = options.ha1;
  else if (options.password !== undefined) input.password = options.password;
  if (qop !== undefined) input.qop = qop;
  if (authorization.cnonce !== undefined) input.cnonce = authorization.cnonce;
  if (authorization.nc !== undefined) input.nc = authorization.nc;
  if (options.body !== undefined) input.body = options.body;
  return constantTimeEqual(computeDigestResponse(input), authorization.response.toLowerCase());
}

/** Compares without an early exit, so the time taken does not reveal how many leading characters matched. */
function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ (i < b.length ? b.charCodeAt(i) : 0);
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------------------------------

/** Username plus password; `realm` restricts the credentials to one realm (otherwise any realm is answered). */
export interface DigestPasswordCredentials {
  username: string;
  password: string;
  realm?: string;
}

/** Username plus a stored HA1; an HA1 is tied to one realm and one hash (MD5 unless `ha1Algorithm` says). */
export interface DigestHa1Credentials {
  username: string;
  ha1: string;
  ha1Algorithm?: DigestHash;
  realm?: string;
}

export type DigestCredentials = DigestPasswordCredentials | DigestHa1Credentials;

export interface DigestAuthenticatorOptions {
  credentials: DigestCredentials;
  /** Returns a fresh client nonce; takes precedence over `random`. */
  cnonce?: () => string;
  /** Uniform in [0, 1); used to build a 128-bit hex cnonce when `cnonce` is not given. */
  random?: () => number;
  /** The algorithms this client accepts (e.g. leave out MD5 to refuse it); all of them by default. */
  algorithms?: readonly DigestAlgorithm[];
}

export interface DigestRequest {
  method: string;
  /** The Request-URI, used as the digest-uri. */
  uri: string;
  body?: Uint8Array | string;
}

export type AuthorizationHeaderName = 'Authorization' | 'Proxy-Authorization';

export interface AuthorizationHeader {
  name: AuthorizationHeaderName;
  value: string;
  realm: string;
}

export interface DigestChallengeInput {
  /** 401 carries WWW-Authenticate (answered in Authorization), 407 Proxy-Authenticate (Proxy-Authorization). */
  status: 401 | 407;
  /** Every WWW-Authenticate (401) or Proxy-Authenticate (407) value of the response, in order. */
  challenges: readonly string[];
  /** The request that was challenged, as it will be re-sent. */
  request: DigestRequest;
  /** The Authorization (401) or Proxy-Authorization (407) values the challenged request carried; [] if none. */
  sent: readonly string[];
}

export type DigestFailReason =
  /** No parseable Digest challenge in the response. */
  | 'no-challenge'
  /** Digest challenges only for realms these credentials are not for. */
  | 'unknown-realm'
  /** Digest challenges only with algorithms or qop values we do not support (or cannot with an HA1). */
  | 'unsupported'
  /** A realm we had answered challenged again without stale=true: wrong username or password. */
  | 'rejected'
  /** A realm keeps declaring fresh nonces stale. */
  | 'stale-loop';

export type DigestChallengeResult =
  /** Replace every `name` header of the request with `values` (one per realm) and send it again. */
  | { type: 'retry'; name: AuthorizationHeaderName; values: string[] }
  | { type: 'fail'; reason: DigestFailReason; realm?: string };

interface CacheEntry {
  name: AuthorizationHeaderName;
  challenge: DigestChallenge;
  algorithm: DigestAlgorithm;
  qop: DigestQop | undefined;
  /** The last nc used with this nonce. */
  nc: number;
  /** For -sess: the cnonce fixed for the life of the nonce, since it is part of the session HA1. */
  sessionCnonce: string | undefined;
  /** Whether this nonce arrived in a stale=true challenge (a second stale on its first use is a loop). */
  fromStale: boolean;
}

export class DigestAuthenticator {
  readonly #credentials: DigestCredentials;
  readonly #nextCnonce: () => string;
  readonly #allowed: ReadonlySet<DigestAlgorithm>;
  /** One entry per (header kind, realm); kinds are kept apart since registrar and proxy often share a realm. */
  readonly #cache = new Map<string, CacheEntry>();

  constructor(options: DigestAuthenticatorOptions) {
    const { credentials, cnonce, random } = options;
    if (credentials.username === '') throw new TypeError('DigestAuthenticator needs a username');
    if (cnonce !== undefined) this.#nextCnonce = cnonce;
    else if (random !== undefined) this.#nextCnonce = () => randomHex(random);
    else throw new TypeError('DigestAuthenticator needs a cnonce or random source');
    this.#credentials = credentials;
    this.#allowed = new Set(options.algorithms ?? ALGORITHMS);
  }

  /**
   * Answers a 401/407. Per realm, takes the strongest challenge we support (ties: the first, the server's
   * preference); returns one credentials value per realm answered, plus refreshed values for realms the request
   * carried that this response did not challenge. Fails instead of looping on a wrong password.
   */
  handleChallenge(input: DigestChallengeInput): DigestChallengeResult {
    const status: number = input.status;
    if (status !== 401 && status !== 407) throw new TypeError(`not a challenge status: ${status}`);
    const name: AuthorizationHeaderName = input.status === 401 ? 'Authorization' : 'Proxy-Authorization';

    // A peer's malformed header is dropped, not thrown (STYLE.md: misbehaviour never throws out of the core).
    const challenges: DigestChallenge[] = [];
    for (const value of input.challenges) {
      try {
        challenges.push(...parseChallenges(value));
      } catch {
        continue;
      }
    }
    if (challenges.length === 0) return { type: 'fail', reason: 'no-challenge' };

    const sentByRealm = new Map<string, DigestAuthorization>();
    for (const value of input.sent) {
      try {
        const sent = parseAuthorization(value);
        if (!sentByRealm.has(sent.realm)) sentByRealm.set(sent.realm, sent);
      } catch {
        continue;
      }
    }

    // RFC 3261 §22.3: a 407 may aggregate challenges from several proxies, one realm each; answer every realm
    // we hold credentials for. RFC 7616 §3.7 / RFC 8760 §2.4: within a realm, choose by algorithm preference.
    const ours = challenges.filter(
      (c) => this.#credentials.realm === undefined || c.realm === this.#credentials.realm,
    );
    if (ours.length === 0) return { type: 'fail', reason: 'unknown-realm', realm: challenges[0]!.realm };
    const best = new Map<
      string,
      { challenge: DigestChallenge; algorithm: DigestAlgorithm; qop?: DigestQop }
    >();
    for (const challenge of ours) {
      const choice = this.#support(challenge);
      if (choice === undefined) continue;
      const current = best.get(challenge.realm);
      if (current === undefined || STRENGTH[hashOf(choice.algorithm)] > STRENGTH[hashOf(current.algorithm)]) {
        best.set(challenge.realm, { challenge, ...choice });
      }
    }
    if (best.size === 0) return { type: 'fail', reason: 'unsupported', realm: ours[0]!.realm };

    // Decide every realm before touching the cache, so a failure leaves it as it was.
    for (const [realm, { challenge }] of best) {
      const sent = sentByRealm.get(realm);
      if (sent === undefined) continue;
      const entry = this.#cache.get(cacheKey(name, realm));
      const sentNc = sent.nc === undefined ? 1 : parseInt(sent.nc, 16);
      const sentCachedNonce = entry?.challenge.nonce === sent.nonce;
      // The very nonce we answered, challenged again: no new nonce will make it pass.
      if (challenge.nonce === sent.nonce) {
        return { type: 'fail', reason: challenge.stale ? 'stale-loop' : 'rejected', realm };
      }
      if (!challenge.stale) {
        // RFC 7616 §3.3: stale=false after credentials means they were wrong; ask the user, do not retry.
        // Interop: some servers omit stale=true when a nonce expires. A nonce we had reused (nc > 1) had worked,
        // so its rejection earns one retry; that retry uses the new nonce at nc=1 and fails here if rejected.
        if (!(sentCachedNonce && sentNc > 1)) return { type: 'fail', reason: 'rejected', realm };
      } else if (sentCachedNonce && entry.fromStale && sentNc <= 1) {
        // RFC 7616 §3.3: stale=true means only the nonce was old, so retry with the new one; but a nonce that
        // itself came with stale=true being stale on its first use means the server will never accept us.
        return { type: 'fail', reason: 'stale-loop', realm };
      }
    }

    const values: string[] = [];
    for (const [realm, { challenge, algorithm, qop }] of best) {
      const entry = this.#remember(name, challenge, algorithm, qop);
      values.push(this.#credentialsFor(entry, input.request));
      sentByRealm.delete(realm);
    }
    // Realms the request carried that this response did not challenge keep their credentials, with a new nc.
    for (const realm of sentByRealm.keys()) {
      const entry = this.#cache.get(cacheKey(name, realm));
      if (entry === undefined) continue;
      const value = this.#nextCredentials(entry, input.request);
      if (value !== undefined) values.push(value);
    }
    return { type: 'retry', name, values };
  }

  /**
   * Pre-emptive credentials for a new request, one per cached realm (optionally of one header kind), each with
   * the next nonce count. RFC 3261 §22.3: a UAC may reuse credentials for later requests in the same realm.
   */
  authorize(request: DigestRequest, name?: AuthorizationHeaderName): AuthorizationHeader[] {
    const headers: AuthorizationHeader[] = [];
    for (const entry of this.#cache.values()) {
      if (name !== undefined && entry.name !== name) continue;
      const value = this.#nextCredentials(entry, request);
      if (value !== undefined) headers.push({ name: entry.name, value, realm: entry.challenge.realm });
    }
    return headers;
  }

  /** Drops the cached challenge of one realm (both header kinds), or of every realm. */
  forget(realm?: string): void {
    if (realm === undefined) {
      this.#cache.clear();
      return;
    }
    for (const [key, entry] of this.#cache) if (entry.challenge.realm === realm) this.#cache.delete(key);
  }

  /** The realms with a cached challenge, per header kind, for inspection and tests. */
  get realms(): { name: AuthorizationHeaderName; realm: string; nc: number }[] {
    return [...this.#cache.values()].map((e) => ({ name: e.name, realm: e.challenge.realm, nc: e.nc }));
  }

  /** Whether we can answer `challenge`, and with which algorithm and qop. */
  #support(challenge: DigestChallenge): { algorithm: DigestAlgorithm; qop?: DigestQop } | undefined {
    const algorithm = parseAlgorithm(challenge.algorithm);
    if (algorithm === undefined || !this.#allowed.has(algorithm)) return undefined;
    const credentials = this.#credentials;
    if ('ha1' in credentials && hashOf(algorithm) !== (credentials.ha1Algorithm ?? 'MD5')) return undefined;
    // RFC 7616 §3.3: qop-options lists what the server accepts; plain auth is preferred over auth-int.
    if (challenge.qop.length === 0) {
      // RFC 2617 §3.2.2: without qop there is no cnonce, which the -sess A1 needs.
      return isSess(algorithm) ? undefined : { algorithm };
    }
    if (challenge.qop.includes('auth')) return { algorithm, qop: 'auth' };
    if (challenge.qop.includes('auth-int')) return { algorithm, qop: 'auth-int' };
    return undefined;
  }

  #remember(
    name: AuthorizationHeaderName,
    challenge: DigestChallenge,
    algorithm: DigestAlgorithm,
    qop: DigestQop | undefined,
  ): CacheEntry {
    const key = cacheKey(name, challenge.realm);
    const previous = this.#cache.get(key);
    // RFC 7616 §3.4: nc counts the requests sent with one nonce; a new nonce starts again at 1.
    if (
      previous !== undefined &&
      previous.challenge.nonce === challenge.nonce &&
      previous.algorithm === algorithm
    ) {
      previous.challenge = challenge;
      previous.qop = qop;
      return previous;
    }
    const entry: CacheEntry = {
      name,
      challenge,
      algorithm,
      qop,
      nc: 0,
      sessionCnonce: isSess(algorithm) ? this.#nextCnonce() : undefined,
      fromStale: challenge.stale,
    };
    this.#cache.set(key, entry);
    return entry;
  }

  /** The next credentials from a cache entry, or undefined (and the entry dropped) once nc is exhausted. */
  #nextCredentials(entry: CacheEntry, request: DigestRequest): string | undefined {
    if (entry.nc >= 0xffffffff) {
      this.#cache.delete(cacheKey(entry.name, entry.challenge.realm));
      return undefined;
    }
    return this.#credentialsFor(entry, request);
  }

  #credentialsFor(entry: CacheEntry, request: DigestRequest): string {
    const { challenge, algorithm, qop } = entry;
    const credentials = this.#credentials;
    entry.nc += 1;
    const cnonce = qop === undefined ? undefined : (entry.sessionCnonce ?? this.#nextCnonce());

    const options: DigestResponseOptions = {
      algorithm,
      username: credentials.username,
      realm: challenge.realm,
      method: request.method,
      uri: request.uri,
      nonce: challenge.nonce,
    };
    if ('ha1' in credentials) options.ha1 = credentials.ha1;
    else options.password = credentials.password;
    if (qop !== undefined) {
      options.qop = qop;
      options.cnonce = cnonce;
      options.nc = entry.nc;
    }
    if (request.body !== undefined) options.body = request.body;

    // RFC 7616 §3.4.4: with userhash=true the username param carries H(username ":" realm).
    const userhash = challenge.userhash === true;
    const init: Parameters<typeof formatAuthorization>[0] = {
      username: userhash
        ? computeUserhash(credentials.username, challenge.realm, algorithm)
        : credentials.username,
      realm: challenge.realm,
      nonce: challenge.nonce,
      uri: request.uri,
      response: computeDigestResponse(options),
      // RFC 2617 §3.2.2: the algorithm echoes the challenge's (written even when MD5 was implied).
      algorithm,
    };
    if (challenge.opaque !== undefined) init.opaque = challenge.opaque;
    if (qop !== undefined) {
      init.qop = qop;
      init.nc = entry.nc;
      init.cnonce = cnonce;
    }
    if (userhash) init.userhash = true;
    return formatAuthorization(init);
  }
}

function cacheKey(name: AuthorizationHeaderName, realm: string): string {
  return `${name}\n${realm}`;
}

/** 128 bits from an injected uniform source, as 32 hex digits. */
function randomHex(random: () => number): string {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += (Math.floor(random() * 0x100000000) >>> 0).toString(16).padStart(8, '0');
  return hex;
}
