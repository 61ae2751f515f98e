import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay } from '../../../web/src/drivers/index.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const bounds = { minDelay: 1_000, maxDelay: 60_000 };

describe('backoffDelay', () => {
  it('the window ceiling doubles from 2·minDelay and stops at maxDelay', () => {
    const ceilings = Array.from({ length: 9 }, (_, n) => backoffCeiling(n, bounds));
    expect(ceilings).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
    expect(backoffCeiling(10_000, bounds)).toBe(60_000);
  });

  it('random() = 0 gives the floor, random() → 1 the ceiling: the delays grow with the failures', () => {
    expect(Array.from({ length: 7 }, (_, n) => backoffDelay(n, () => 0, bounds))).toEqual(Array(7).fill(1_000));
    const top = Array.from({ length: 7 }, (_, n) => backoffDelay(n, () => 0.999_999, bounds));
    expect(top).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  });

  it('is jittered within [minDelay, ceiling] and spread over the window (seeded random)', () => {
    const random = seededRandom(42);
    for (let failures = 0; failures < 10; failures++) {
      const ceiling = backoffCeiling(failures, bounds);
      const samples = Array.from({ length: 500 }, () => backoffDelay(failures, random, bounds));
      for (const delay of samples) {
        expect(delay).toBeGreaterThanOrEqual(1_000);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
      // Spread: not all alike, and both halves of the window are used.
      const middle = (1_000 + ceiling) / 2;
      expect(new Set(samples).size).toBeGreaterThan(50);
      expect(samples.some((d) => d < middle)).toBe(true);
      expect(samples.some((d) => d > middle)).toBe(true);
    }
  });

  it('the mean wait grows with the number of failures', () => {
    const mean = (failures: number) => {
      const random = seededRandom(1);
      let sum = 0;
      for (let i = 0; i < 2_000; i++) sum += backoffDelay(failures, random, bounds);
      return sum / 2_000;
    };
    const means = [0, 1, 2, 3, 4].map(mean);
    for (let i = 1; i < means.length; i++) expect(means[i]!).toBeGreaterThan(means[i - 1]!);
  });

  it('uses 1 s … 60 s by default and clamps a random() outside [0, 1)', () => {
    expect(backoffDelay(0, () => 0)).toBe(1_000);
    expect(backoffDelay(20, () => 5)).toBe(60_000);
    expect(backoffDelay(3, () => -1)).toBe(1_000);
  });

  it('rejects a negative or non-finite failure count', () => {
    expect(() => backoffDelay(-1, () => 0)).toThrow(RangeError);
    expect(() => backoffDelay(Number.NaN, () => 0)).toThrow(RangeError);
  });
});
