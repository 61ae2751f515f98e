/**
 * Reconnection delays: exponential back-off with jitter (RFC 5626 §4.5, with the product's own bounds).
 *
 * RFC 5626 §4.5 waits min(max-time, base-time · 2^failures), then a random 50–100 % of that, with a base of
 * 30 s (all flows failed) or 90 s (some flows up). A browser has one flow and a user watching a spinner, so the
 * bounds are configurable and smaller by default (1 s … 60 s), and the jitter is "full" over the whole window
 * above the floor, which spreads a crowd of clients reconnecting after a gateway restart as widely as possible:
 *
 *   ceiling(n) = min(maxDelay, minDelay · 2^(n+1))
 *   delay(n)   = minDelay + random() · (ceiling(n) − minDelay)        n = consecutive failures so far (0, 1, 2 …)
 *
 * so delay(0) ∈ [1 s, 2 s], delay(1) ∈ [1 s, 4 s], delay(2) ∈ [1 s, 8 s] … delay(6+) ∈ [1 s, 60 s]. The floor keeps
 * a client from hammering the server; the growing ceiling makes the mean grow.
 */

export interface BackoffOptions {
  /** the shortest wait, ms (default 1000) */
  readonly minDelay?: number | undefined;
  /** the longest wait, ms (default 60 000) */
  readonly maxDelay?: number | undefined;
}

export const DEFAULT_MIN_DELAY = 1_000;
export const DEFAULT_MAX_DELAY = 60_000;

/** The upper end of the window for the given number of consecutive failures. */
export function backoffCeiling(failures: number, options: BackoffOptions = {}): number {
  const min = options.minDelay ?? DEFAULT_MIN_DELAY;
  const max = Math.max(min, options.maxDelay ?? DEFAULT_MAX_DELAY);
  // Cap the exponent: 2^1024 is Infinity, and min() of that is fine, but there is no point computing it.
  const exponent = Math.min(Math.max(0, Math.floor(failures)) + 1, 52);
  return Math.min(max, min * 2 ** exponent);
}

/** How long to wait before the next attempt. `random` returns values in [0, 1). */
export function backoffDelay(failures: number, random: () => number, options: BackoffOptions = {}): number {
  if (!Number.isFinite(failures) || failures < 0) throw new RangeError(`failures must be ≥ 0, got ${failures}`);
  const min = options.minDelay ?? DEFAULT_MIN_DELAY;
  if (!(min >= 0)) throw new RangeError(`minDelay must be ≥ 0, got ${min}`);
  const ceiling = backoffCeiling(failures, options);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(min + r * (ceiling - min));
}
