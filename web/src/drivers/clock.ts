/**
 * Time for the drivers: a clock and one-shot timers, injected so that tests run on a fake clock. The runtime's
 * own functions are wired by a composition root, with `systemClock()`; nothing here picks them by default.
 */

export interface Clock {
  /** Milliseconds. The core's deadlines and the transport's `reconnecting.at` are on this clock. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; the handle is only ever given back to `clearTimer`. */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/**
 * The runtime's clock: `Date.now()` (SIP needs wall-clock time for Date and Expires), `setTimeout`,
 * `clearTimeout`. For composition roots and network tests.
 */
export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (handle) => {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
}

/** setTimeout fires at once for delays beyond 2^31 − 1 ms; longer waits are cut to this and re-armed. */
export const MAX_TIMER_DELAY = 0x7fffffff;
