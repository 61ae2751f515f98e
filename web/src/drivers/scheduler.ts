/**
 * Scheduler: drains a sans-IO core after each input and keeps exactly one timer armed at its next deadline.
 *
 *   input to the core ──► flush() ──► transmissions → transmit()
 *                                 ├─► events        → onEvent()
 *                                 ├─► onFlushed()   (the driver reads the core's state, e.g. keep-alive)
 *                                 └─► nextDeadline() changed? ── yes ─► clearTimer + setTimer(at the deadline)
 *                                                            └─ no ──► leave the armed timer alone
 *   timer fires ──► core.handleTimers(now) ──► flush()
 *
 * How it works. The driver feeds the core (`run` does it for you) and calls `flush()`. Flushing is re-entrant
 * safe: a transmit or event callback that feeds the core again (a send failure reporting flowDown, a listener
 * answering a request) only marks the flush to go round once more, so queues drain in order and nothing is
 * drained from inside a half-finished drain; and a flush goes round until a pass finds both queues empty, so a
 * listener that answers through a handle of the core (IncomingRequest.accept()) without `run` is sent too. Then
 * `onFlushed` lets the driver read the core's state. Re-arming compares the core's deadline with the one the
 * timer was set for and touches the timer only when they differ, so a busy connection costs no timer churn. A
 * timer that fires early (a clock step, a delay capped at 2^31 − 1 ms) is harmless: the core has nothing due,
 * and the flush re-arms. A deadline in the past fires at once (delay 0); a core that keeps reporting a past
 * deadline after handling its timers (a bug) would spin, so after STUCK_LIMIT such rounds it is reported and
 * polled every STUCK_DELAY ms instead. An exception from the core or a callback is reported to `onError`, never
 * thrown into a timer or socket callback.
 */
import { MAX_TIMER_DELAY, type Clock } from './clock.ts';
import type { CoreEvent, CoreTransmission, SansIoCore } from './sans-io-core.ts';

/** Consecutive timer rounds after which a deadline that does not move past `now` is treated as a core bug. */
export const STUCK_LIMIT = 16;
/** How often a stuck core is polled, ms. */
export const STUCK_DELAY = 1_000;

export interface SchedulerOptions<C extends SansIoCore> {
  readonly core: C;
  readonly clock: Clock;
  /** Bytes the core wants sent. */
  readonly transmit: (transmission: CoreTransmission) => void;
  /** One event from the core, after the input that caused it has been fully processed. */
  readonly onEvent: (event: CoreEvent<C>) => void;
  /** Something threw inside a flush or a timer callback. */
  readonly onError?: ((error: unknown) => void) | undefined;
  /** After each flush has drained the core (inputs and timer rounds alike), before the timer is re-armed. */
  readonly onFlushed?: (() => void) | undefined;
}

export class Scheduler<C extends SansIoCore = SansIoCore> {
  readonly #core: C;
  readonly #clock: Clock;
  readonly #transmit: (transmission: CoreTransmission) => void;
  readonly #onEvent: (event: CoreEvent<C>) => void;
  readonly #onError: (error: unknown) => void;
  readonly #onFlushed: (() => void) | undefined;
  #running = false;
  #flushing = false;
  #again = false;
  /** the deadline the timer is armed for, undefined when no timer is armed */
  #armedFor: number | undefined;
  #handle: unknown;
  /** the `now` of the timer round under way, and how many rounds in a row left a deadline ≤ their `now` */
  #firedAt: number | undefined;
  #stuck = 0;

  constructor(options: SchedulerOptions<C>) {
    this.#core = options.core;
    this.#clock = options.clock;
    this.#transmit = options.transmit;
    this.#onEvent = options.onEvent;
    this.#onError = options.onError ?? (() => {});
    this.#onFlushed = options.onFlushed;
  }

  get running(): boolean {
    return this.#running;
  }

  /** The deadline the one timer is armed for, or undefined. */
  get armedDeadline(): number | undefined {
    return this.#armedFor;
  }

  /** Starts arming the timer, and flushes whatever the core already holds. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.flush();
  }

  /** Clears the timer. Flushes still drain the core but arm nothing until `start()`. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#disarm();
  }

  /** Feeds the core (the command gets the current time), then flushes, even when the command throws. */
  run<T>(command: (core: C, now: number) => T): T {
    try {
      return command(this.#core, this.#clock.now());
    } finally {
      this.flush();
    }
  }

  /** Drains transmissions and events, then re-arms the timer if the core's next deadline changed. */
  flush(): void {
    if (this.#flushing) {
      this.#again = true;
      return;
    }
    this.#flushing = true;
    try {
      do {
        this.#again = false;
        // A listener may command the core straight through a handle (IncomingRequest.accept) without calling
        // run(): whatever that queued is drained by going round until a pass finds both queues empty.
        if (this.#drain()) this.#again = true;
        if (this.#again || this.#onFlushed === undefined) continue;
        try {
          this.#onFlushed();
        } catch (error) {
          this.#onError(error);
        }
      } while (this.#again);
    } finally {
      this.#flushing = false;
    }
    this.#arm();
  }

  /** Drains both queues once; true when there was anything in them. */
  #drain(): boolean {
    const transmissions = this.#core.takeTransmissions();
    for (const transmission of transmissions) {
      try {
        this.#transmit(transmission);
      } catch (error) {
        this.#onError(error);
      }
    }
    const events = this.#core.takeEvents() as readonly CoreEvent<C>[];
    for (const event of events) {
      try {
        this.#onEvent(event);
      } catch (error) {
        this.#onError(error);
      }
    }
    return transmissions.length > 0 || events.length > 0;
  }

  #arm(): void {
    let deadline: number | undefined;
    try {
      deadline = this.#running ? this.#core.nextDeadline() : undefined;
    } catch (error) {
      this.#onError(error);
      deadline = undefined;
    }
    if (deadline !== undefined && !Number.isFinite(deadline)) {
      this.#onError(new RangeError(`the core reported a non-finite deadline: ${deadline}`));
      deadline = undefined;
    }
    const firedAt = this.#firedAt;
    this.#firedAt = undefined;
    if (firedAt !== undefined) this.#stuck = deadline !== undefined && deadline <= firedAt ? this.#stuck + 1 : 0;
    else if (deadline === undefined || deadline > this.#clock.now()) this.#stuck = 0;
    if (deadline === this.#armedFor) return;
    this.#disarm();
    if (deadline === undefined) return;
    let delay = Math.min(MAX_TIMER_DELAY, Math.max(0, deadline - this.#clock.now()));
    if (this.#stuck >= STUCK_LIMIT) {
      if (this.#stuck === STUCK_LIMIT) {
        this.#onError(new Error(`the core's deadline stays at ${deadline} after handleTimers(${firedAt}): polling`));
      }
      delay = Math.max(delay, STUCK_DELAY);
    }
    this.#armedFor = deadline;
    this.#handle = this.#clock.setTimer(this.#fire, delay);
  }

  #disarm(): void {
    if (this.#armedFor === undefined) return;
    this.#clock.clearTimer(this.#handle);
    this.#armedFor = undefined;
    this.#handle = undefined;
  }

  readonly #fire = (): void => {
    this.#armedFor = undefined;
    this.#handle = undefined;
    if (!this.#running) return;
    const now = this.#clock.now();
    this.#firedAt = now;
    try {
      this.#core.handleTimers(now);
    } catch (error) {
      this.#onError(error);
    }
    this.flush();
  };
}
