import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TIMERS,
  DeadlineQueue,
  T1,
  T2,
  T4,
  TIMER_A,
  TIMER_B,
  TIMER_C,
  TIMER_D,
  TIMER_E,
  TIMER_F,
  TIMER_G,
  TIMER_H,
  TIMER_I,
  TIMER_J,
  TIMER_K,
  TIMER_L,
  TIMER_M,
  TIMER_TRYING,
  TimerSet,
  doubled,
  timerValues,
} from '../../../web/src/sip/transaction/index.ts';

describe('timers (RFC 3261 §17, Table 4; RFC 6026 §8)', () => {
  it('has the RFC defaults', () => {
    expect([T1, T2, T4]).toEqual([500, 4_000, 5_000]);
    expect(DEFAULT_TIMERS).toEqual({ T1: 500, T2: 4_000, T4: 5_000, D: 32_000, trying: 200 });
  });

  it('derives every lettered timer, unreliable vs reliable', () => {
    const t = DEFAULT_TIMERS;
    const table = Object.fromEntries(
      Object.entries({
        TIMER_A,
        TIMER_B,
        TIMER_C,
        TIMER_D,
        TIMER_E,
        TIMER_F,
        TIMER_G,
        TIMER_H,
        TIMER_I,
        TIMER_J,
        TIMER_K,
        TIMER_L,
        TIMER_M,
        TIMER_TRYING,
      }).map(([name, rule]) => [name, [rule(t, false), rule(t, true)]]),
    );
    expect(table).toEqual({
      TIMER_A: [500, undefined],
      TIMER_B: [32_000, 32_000],
      TIMER_C: [180_000, 180_000],
      TIMER_D: [32_000, 0],
      TIMER_E: [500, undefined],
      TIMER_F: [32_000, 32_000],
      TIMER_G: [500, undefined],
      TIMER_H: [32_000, 32_000],
      TIMER_I: [5_000, 0],
      TIMER_J: [32_000, 0],
      TIMER_K: [5_000, 0],
      TIMER_L: [32_000, 32_000],
      TIMER_M: [32_000, 32_000],
      TIMER_TRYING: [200, 200],
    });
  });

  it('follows configured T1/T4', () => {
    const t = timerValues({ T1: 250, T4: 2_500 });
    expect([
      TIMER_B(t, false),
      TIMER_F(t, true),
      TIMER_H(t, true),
      TIMER_J(t, false),
      TIMER_L(t, true),
      TIMER_M(t, false),
    ]).toEqual([16_000, 16_000, 16_000, 16_000, 16_000, 16_000]);
    expect([TIMER_I(t, false), TIMER_K(t, false)]).toEqual([2_500, 2_500]);
  });

  it('doubles without cap (A) or up to T2 (E, G)', () => {
    const a: number[] = [500];
    const e: number[] = [500];
    for (let i = 0; i < 6; i++) {
      a.push(doubled(a.at(-1)!));
      e.push(doubled(e.at(-1)!, T2));
    }
    expect(a).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000]);
    expect(e).toEqual([500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000]);
  });

  it('rejects nonsense values', () => {
    expect(() => timerValues({ T1: 0 })).toThrow(TypeError);
    expect(() => timerValues({ T4: -1 })).toThrow(TypeError);
    expect(() => timerValues({ T2: Number.NaN })).toThrow(TypeError);
  });
});

describe('TimerSet', () => {
  const rules = { X: TIMER_F, Y: TIMER_E, Z: TIMER_K };

  it('arms on entry, keeps what the state keeps, clears the rest, and reports zero-length timers', () => {
    const set = new TimerSet(rules, ['X', 'Z', 'Y'], DEFAULT_TIMERS, false);
    expect(set.enter({ next: [], arm: ['X', 'Y'], keep: [] }, 100)).toEqual([]);
    expect(set.next()).toBe(600);
    set.enter({ next: [], arm: [], keep: ['X'] }, 200);
    expect(set.has('Y')).toBe(false);
    expect(set.next()).toBe(32_100);
    const reliable = new TimerSet(rules, ['X', 'Z', 'Y'], DEFAULT_TIMERS, true);
    expect(reliable.enter({ next: [], arm: ['Y', 'Z'], keep: [] }, 0)).toEqual(['Z']);
    expect(reliable.next()).toBeUndefined();
  });

  it('hands out due timers earliest first, ties by priority', () => {
    const set = new TimerSet(rules, ['X', 'Z', 'Y'], DEFAULT_TIMERS, false);
    set.arm('Y', 0, 1_000);
    set.arm('X', 0, 1_000);
    set.arm('Z', 0, 500);
    expect(set.takeDue(999)?.timer).toBe('Z');
    expect(set.takeDue(1_000)).toEqual({ timer: 'X', interval: 1_000 });
    expect(set.takeDue(1_000)?.timer).toBe('Y');
    expect(set.takeDue(5_000)).toBeUndefined();
  });
});

describe('DeadlineQueue', () => {
  it('pops in deadline order, ties in insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (deadlines) => {
        const queue = new DeadlineQueue<number>();
        deadlines.forEach((at, i) => queue.push(at, i));
        const out: [number, number][] = [];
        for (let e = queue.pop(); e !== undefined; e = queue.pop()) out.push([e.at, e.item]);
        const expected = deadlines
          .map((at, i): [number, number] => [at, i])
          .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(out).toEqual(expected);
        expect(queue.size).toBe(0);
      }),
    );
  });
});
