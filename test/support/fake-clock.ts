/**
 * A fake clock for drivers (web/src/drivers/clock.ts): time moves only when the test says, timers fire in
 * deadline order (ties in the order they were set), and the test can see how many timers are armed and how
 * often they were set and cleared.
 */
import type { Clock } from '../../web/src/drivers/index.ts';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, FakeTimer>();
  /** how many times setTimer / clearTimer (of an armed timer) were called */
  setCount = 0;
  clearCount = 0;
  /** every delay passed to setTimer, in order */
  readonly delays: number[] = [];

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.setCount++;
    this.delays.push(ms);
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    if (typeof handle === 'number' && this.#timers.delete(handle)) this.clearCount++;
  }

  /** Timers armed now. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Deadlines of the armed timers, soonest first. */
  get deadlines(): number[] {
    return [...this.#timers.values()].map((timer) => timer.at).sort((a, b) => a - b);
  }

  /** The soonest armed deadline. */
  nextAt(): number | undefined {
    return this.deadlines[0];
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (including ones set meanwhile). */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  advanceTo(target: number): void {
    for (;;) {
      const next = this.#soonest();
      if (!next || next.at > target) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = Math.max(this.#now, target);
  }

  /** Jumps to the soonest timer and fires it (and any others due at the same instant). Returns false if none. */
  runNext(): boolean {
    const next = this.#soonest();
    if (!next) return false;
    this.advanceTo(next.at);
    return true;
  }

  #soonest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    }
    return best;
  }
}
