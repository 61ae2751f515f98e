import { describe, expect, it } from 'vitest';

import { MessageRateLimiter, TokenBucket } from '../../gateway/net/rate-limiter.ts';

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(bucket.take(0)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.waitSeconds(0)).toBeCloseTo(0.1);
    expect(bucket.take(99)).toBe(false);
    expect(bucket.take(100)).toBe(true);
    // Refill is capped at the burst.
    expect(bucket.available(60_000)).toBe(5);
  });

  it('ignores a clock going backwards', () => {
    const bucket = new TokenBucket(1, 1, 1000);
    expect(bucket.take(1000)).toBe(true);
    expect(bucket.take(500)).toBe(false);
    expect(bucket.take(2000)).toBe(true);
  });

  it('refuses nonsense', () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow(TypeError);
    expect(() => new TokenBucket(1, 0, 0)).toThrow(TypeError);
  });
});

describe('MessageRateLimiter', () => {
  it('limits, then closes a peer that keeps exceeding the limit', () => {
    const limiter = new MessageRateLimiter(10, 4, 0);
    const verdicts = Array.from({ length: 12 }, () => limiter.check(0));
    expect(verdicts.slice(0, 4)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(verdicts.slice(4, 8)).toEqual(['limited', 'limited', 'limited', 'limited']);
    expect(verdicts[8]).toBe('close');
    expect(limiter.retryAfter(0)).toBe(1);
  });

  it('forgives a peer that slows down', () => {
    const limiter = new MessageRateLimiter(10, 2, 0);
    expect([limiter.check(0), limiter.check(0), limiter.check(0)]).toEqual(['ok', 'ok', 'limited']);
    // At the allowed rate from then on: never closed.
    for (let t = 100; t < 10_000; t += 100) expect(limiter.check(t)).toBe('ok');
  });
});
