/**
 * A token bucket: `burst` tokens at most, refilled at `rate` tokens per second. Time comes in as `now` (ms), so
 * the bucket is a pure object that tests drive with any clock.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    if (!(rate > 0) || !(burst >= 1)) throw new TypeError('a token bucket needs rate > 0 and burst >= 1');
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes `cost` tokens if there are enough (true), else takes nothing (false). */
  take(now: number, cost = 1): boolean {
    this.#refill(now);
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /** Tokens available at `now`. */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Seconds until `cost` tokens are available (0 when they are), for Retry-After. */
  waitSeconds(now: number, cost = 1): number {
    this.#refill(now);
    return this.#tokens >= cost ? 0 : (cost - this.#tokens) / this.rate;
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed / 1000) * this.rate);
      this.#last = now;
    }
  }
}

/**
 * The per-connection message limit of the WebSocket service: each message takes a token; a message over the limit
 * is refused (a request gets 503 with Retry-After), and every refusal takes a token from a second bucket, the
 * tolerance. When that one is empty the peer has kept exceeding the limit and the connection is closed (1008).
 */
export class MessageRateLimiter {
  readonly #messages: TokenBucket;
  readonly #tolerance: TokenBucket;

  constructor(rate: number, burst: number, now: number) {
    this.#messages = new TokenBucket(rate, burst, now);
    // Refusals are forgiven at a tenth of the message rate, up to one burst's worth.
    this.#tolerance = new TokenBucket(Math.max(rate / 10, 0.1), burst, now);
  }

  /** 'ok': go ahead; 'limited': refuse this message; 'close': the peer persists, close the connection. */
  check(now: number): 'ok' | 'limited' | 'close' {
    if (this.#messages.take(now)) return 'ok';
    return this.#tolerance.take(now) ? 'limited' : 'close';
  }

  /** Whole seconds a refused peer should wait (Retry-After, at least 1). */
  retryAfter(now: number): number {
    return Math.max(1, Math.ceil(this.#messages.waitSeconds(now)));
  }
}
