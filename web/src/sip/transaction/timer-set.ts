/**
 * What the four transaction machines share: the shape of their state tables and the set of running timers.
 *
 * A machine's table says, for each state, which states may follow, which timers start on entering it and which
 * running timers it keeps; its one `transition()` checks the move against the table and lets `TimerSet.enter`
 * clear and arm the timers. Timers are absolute deadlines (`now` + duration), so the machines never read a clock:
 * `next()` tells the owner when to call back, `takeDue(now)` hands over the timers whose time has come.
 */
import { InvalidStateError } from '../errors.ts';
import type { TimerRule, TimerValues } from './timers.ts';

export interface StateSpec<S extends string, T extends string> {
  /** the states this one may move to */
  readonly next: readonly S[];
  /** timers started on entering the state */
  readonly arm: readonly T[];
  /** timers that keep running if they already were; every timer in neither list is cleared on entry */
  readonly keep: readonly T[];
}

export type StateTable<S extends string, T extends string> = { readonly [K in S]: StateSpec<S, T> };

export interface DueTimer<T extends string> {
  readonly timer: T;
  /** the duration it last ran for (retransmission timers double it) */
  readonly interval: number;
}

export class TimerSet<T extends string> {
  readonly #priority: readonly T[];
  readonly #rules: { readonly [K in T]: TimerRule };
  readonly #values: TimerValues;
  readonly #reliable: boolean;
  readonly #armed = new Map<T, { at: number; interval: number }>();

  /**
   * @param rules    each timer's starting duration
   * @param priority the order in which timers due at the same instant fire (a give-up timer before a
   *                 retransmission timer, so nothing is resent at the moment of a timeout)
   */
  constructor(
    rules: { readonly [K in T]: TimerRule },
    priority: readonly T[],
    values: TimerValues,
    reliable: boolean,
  ) {
    this.#rules = rules;
    this.#priority = priority;
    this.#values = values;
    this.#reliable = reliable;
  }

  /**
   * What every machine does on entering a state: start and stop timers as the table says; in Terminated clear
   * them all and tell the TU (`onTerminated`); a timer that is 0 on this transport (Timer D, I, J, K over a
   * reliable one) fires at once through the machine's `handleTimers`.
   */
  enterState(
    spec: StateSpec<string, T>,
    terminated: boolean,
    now: number,
    onTerminated: () => void,
    handleTimers: (now: number) => void,
  ): void {
    const immediate = this.enter(spec, now);
    if (terminated) {
      this.clearAll();
      onTerminated();
      return;
    }
    for (const timer of immediate) this.arm(timer, now, 0);
    if (immediate.length > 0) handleTimers(now);
  }

  /**
   * Enter a state: clear the timers it neither arms nor keeps, arm those it arms. Returns the timers whose
   * duration is 0 on this transport: they are not armed, the machine fires them at once.
   */
  enter(spec: StateSpec<string, T>, now: number): T[] {
    for (const timer of [...this.#armed.keys()]) {
      if (!spec.arm.includes(timer) && !spec.keep.includes(timer)) this.#armed.delete(timer);
    }
    const immediate: T[] = [];
    for (const timer of spec.arm) {
      const duration = this.#rules[timer](this.#values, this.#reliable);
      if (duration === undefined) continue;
      if (duration === 0) immediate.push(timer);
      else this.arm(timer, now, duration);
    }
    return immediate;
  }

  /** Start (or restart) a timer, independent of a state change. A rule yielding `undefined` leaves it off. */
  start(timer: T, now: number): void {
    const duration = this.#rules[timer](this.#values, this.#reliable);
    if (duration !== undefined) this.arm(timer, now, duration);
  }

  arm(timer: T, now: number, interval: number): void {
    this.#armed.set(timer, { at: now + interval, interval });
  }

  clear(timer: T): void {
    this.#armed.delete(timer);
  }

  clearAll(): void {
    this.#armed.clear();
  }

  has(timer: T): boolean {
    return this.#armed.has(timer);
  }

  /** The earliest deadline, or undefined when no timer runs. */
  next(): number | undefined {
    let min: number | undefined;
    for (const { at } of this.#armed.values()) if (min === undefined || at < min) min = at;
    return min;
  }

  /** Remove and return the earliest timer due at `now` (ties broken by priority), or undefined. */
  takeDue(now: number): DueTimer<T> | undefined {
    let best: T | undefined;
    let bestAt = Infinity;
    for (const timer of this.#priority) {
      const armed = this.#armed.get(timer);
      if (armed === undefined || armed.at > now) continue;
      if (armed.at < bestAt) {
        best = timer;
        bestAt = armed.at;
      }
    }
    if (best === undefined) return undefined;
    const { interval } = this.#armed.get(best) ?? { interval: 0 };
    this.#armed.delete(best);
    return { timer: best, interval };
  }
}

/** The table's check of a move (STYLE.md: a state machine is a table and one transition()). */
export function checkTransition<S extends string>(
  table: StateTable<S, string>,
  from: S,
  to: S,
  what: string,
): void {
  if (!table[from].next.includes(to)) throw new InvalidStateError(`${what}: no transition ${from} → ${to}`);
}
