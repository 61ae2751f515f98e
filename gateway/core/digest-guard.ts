/**
 * The registrar's side of digest authentication (RFC 3261 §22, RFC 7616, RFC 8760) around the core's
 * createChallenge/verifyCredentials: nonces, their lifetime and replay, and a per-source failure limit.
 *
 * Nonces are stateless: base64url(issued-at ‖ random ‖ HMAC(secret, issued-at ‖ random)). A nonce with a bad MAC
 * is not ours (a fresh challenge); one older than `nonceLifetimeMs` is stale (RFC 7616 §3.3 `stale=true`: the
 * client retries with the same password without asking the user). The highest nonce-count seen per nonce is
 * kept until the nonce expires, so a replayed Authorization (same or lower nc) gets a fresh challenge.
 *
 * Failure limiting is per source, never per account: a source (the client's address and port, or its WebSocket
 * connection) that sent `maxFailures` wrong credentials within `failureWindowMs` gets 403 without a check until
 * the window has passed; a second, coarser limit per IP address (`maxFailuresPerIp`) stops an attacker who opens
 * new connections. The real user, from their own connection, is never locked out by someone else's guessing.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import {
  createChallenge,
  parseAuthorization,
  verifyCredentials,
  type DigestAuthorization,
} from '../../web/src/sip/server.ts';
import type { UserDirectory } from './users.ts';

export interface DigestGuardOptions {
  readonly realm: string;
  readonly users: UserDirectory;
  /** wall-clock or monotonic milliseconds, the same clock as every `now` passed in */
  readonly nonceLifetimeMs?: number | undefined;
  readonly maxFailures?: number | undefined;
  readonly maxFailuresPerIp?: number | undefined;
  readonly failureWindowMs?: number | undefined;
  readonly secret?: Buffer | undefined;
  /** the challenges offered, in order of preference (RFC 8760 §2.3); default SHA-256 then MD5 */
  readonly algorithms?: readonly DigestChallengeAlgorithm[] | undefined;
}

export type DigestChallengeAlgorithm = 'SHA-256' | 'MD5';

export type AuthOutcome =
  /** no usable credentials for our realm: send the challenges */
  | { readonly kind: 'challenge'; readonly stale: boolean }
  /** the source is blocked or the credentials are for another user than the AOR: 403 */
  | { readonly kind: 'forbidden'; readonly reason: string }
  /** wrong password or unknown user: 401 again (counted) */
  | { readonly kind: 'failed' }
  | { readonly kind: 'ok'; readonly user: string };

interface FailureCount {
  count: number;
  since: number;
}

const NONCE_RANDOM = 12;
const MAC_BYTES = 16;

export class DigestGuard {
  readonly realm: string;
  readonly #users: UserDirectory;
  readonly #secret: Buffer;
  readonly #lifetime: number;
  readonly #maxFailures: number;
  readonly #maxPerIp: number;
  readonly #window: number;
  readonly #algorithms: readonly DigestChallengeAlgorithm[];
  /** nonce → highest nc seen */
  readonly #seen = new Map<string, { nc: number; expires: number }>();
  readonly #bySource = new Map<string, FailureCount>();
  readonly #byIp = new Map<string, FailureCount>();

  constructor(options: DigestGuardOptions) {
    this.realm = options.realm;
    this.#users = options.users;
    this.#secret = options.secret ?? randomBytes(32);
    this.#lifetime = options.nonceLifetimeMs ?? 300_000;
    this.#maxFailures = options.maxFailures ?? 5;
    this.#maxPerIp = options.maxFailuresPerIp ?? 100;
    this.#window = options.failureWindowMs ?? 600_000;
    this.#algorithms = options.algorithms ?? ['SHA-256', 'MD5'];
    if (this.#algorithms.length === 0) throw new TypeError('at least one digest algorithm');
  }

  /**
   * RFC 8760 §2.3: one header per algorithm, in the order of our preference (by default the strongest first:
   * SHA-256, then MD5 for older clients; clients that give up at the first algorithm they do not know want MD5
   * first).
   */
  challenges(now: number, stale: boolean): string[] {
    const nonce = this.#nonce(now);
    return this.#algorithms.map((algorithm) =>
      createChallenge({ realm: this.realm, nonce, algorithm, qop: ['auth'], stale }),
    );
  }

  /**
   * Checks the Authorization values of a request for `aorUser`. `source` identifies the client connection,
   * `ip` its address.
   */
  check(
    authorizations: readonly string[],
    method: string,
    aorUser: string,
    source: string,
    ip: string,
    now: number,
  ): AuthOutcome {
    this.#sweep(now);
    if (this.#blocked(this.#bySource.get(source), this.#maxFailures, now))
      return { kind: 'forbidden', reason: 'too many failed attempts from this client' };
    if (this.#blocked(this.#byIp.get(ip), this.#maxPerIp, now))
      return { kind: 'forbidden', reason: 'too many failed attempts from this address' };

    let credentials: DigestAuthorization | undefined;
    for (const value of authorizations) {
      try {
        const parsed = parseAuthorization(value);
        if (parsed.realm === this.realm) credentials = parsed;
      } catch {
        // RFC 3261 §22.4: credentials we cannot read are as good as none.
      }
    }
    if (credentials === undefined) return { kind: 'challenge', stale: false };
    const issued = this.#nonceTime(credentials.nonce);
    if (issued === undefined) return { kind: 'challenge', stale: false };
    if (now - issued > this.#lifetime) return { kind: 'challenge', stale: true };
    const record = this.#users.lookup(credentials.username);
    const algorithm = (credentials.algorithm ?? 'MD5').toUpperCase();
    const ha1 =
      record === undefined ? undefined : algorithm.startsWith('SHA-256') ? record.sha256 : record.md5;
    const ok =
      ha1 !== undefined &&
      (algorithm === 'MD5' || algorithm === 'SHA-256') &&
      verifyCredentials(credentials, { method, ha1 });
    if (!ok) {
      this.#fail(source, ip, now);
      return { kind: 'failed' };
    }
    // RFC 7616 §3.4: nc must grow; a replay gets a fresh (stale) challenge rather than access.
    const nc = credentials.nc === undefined ? 0 : parseInt(credentials.nc, 16);
    const seen = this.#seen.get(credentials.nonce);
    if (seen !== undefined && nc <= seen.nc) return { kind: 'challenge', stale: true };
    this.#seen.set(credentials.nonce, { nc, expires: issued + this.#lifetime });
    this.#bySource.delete(source);
    if (credentials.username !== aorUser)
      return { kind: 'forbidden', reason: `${credentials.username} may not register ${aorUser}` };
    return { kind: 'ok', user: credentials.username };
  }

  #blocked(entry: FailureCount | undefined, max: number, now: number): boolean {
    return entry !== undefined && entry.count >= max && now - entry.since < this.#window;
  }

  #fail(source: string, ip: string, now: number): void {
    for (const [map, key] of [
      [this.#bySource, source],
      [this.#byIp, ip],
    ] as const) {
      const entry = map.get(key);
      if (entry === undefined || now - entry.since >= this.#window) map.set(key, { count: 1, since: now });
      else entry.count++;
    }
  }

  #sweep(now: number): void {
    if (this.#seen.size > 10_000)
      for (const [nonce, s] of this.#seen) if (s.expires < now) this.#seen.delete(nonce);
    for (const map of [this.#bySource, this.#byIp])
      if (map.size > 10_000) for (const [k, e] of map) if (now - e.since >= this.#window) map.delete(k);
  }

  #nonce(now: number): string {
    const payload = Buffer.alloc(8 + NONCE_RANDOM);
    payload.writeDoubleBE(Math.floor(now), 0);
    randomBytes(NONCE_RANDOM).copy(payload, 8);
    return Buffer.concat([payload, this.#mac(payload)]).toString('base64url');
  }

  /** When the nonce was issued, or undefined when it is not one of ours. */
  #nonceTime(nonce: string): number | undefined {
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== 8 + NONCE_RANDOM + MAC_BYTES) return undefined;
    const payload = bytes.subarray(0, 8 + NONCE_RANDOM);
    if (!timingSafeEqual(this.#mac(payload), bytes.subarray(8 + NONCE_RANDOM))) return undefined;
    return payload.readDoubleBE(0);
  }

  #mac(payload: Buffer): Buffer {
    return createHmac('sha256', this.#secret)
      .update(this.realm)
      .update(payload)
      .digest()
      .subarray(0, MAC_BYTES);
  }
}
