/**
 * TransactionDriver: runs a sans-IO TransactionLayer on Node for the gateway's edge proxy and its embedded core.
 *
 *   input ─► layer.receive(…) ─► pump(now) ─► transmissions → transmit(), events → handle()
 *                                     └────► one setTimeout at min(layer.nextDeadline(), own deadlines) ─► fire()
 *
 * Besides the layer's RFC 3261 timers the owner keeps deadlines of its own (Timer C, 2xx retransmission, fork
 * group timeouts…) with `schedule(at, item)`; whichever is due first arms the single timer. A timer that would
 * fire no later than needed is kept rather than re-created after every message (firing early is harmless: nothing
 * is due, it re-arms), which keeps the hot path cheap.
 */
import {
  DeadlineQueue,
  type TransactionEvent,
  type TransactionLayer,
  type Transmission,
} from '../../web/src/sip/server.ts';

export interface TransactionDriverOptions<Own> {
  layer: TransactionLayer;
  clock: () => number;
  transmit: (t: Transmission) => void;
  handle: (event: TransactionEvent, now: number) => void;
  /** one of the owner's own deadlines is due */
  fire: (item: Own, now: number) => void;
  /** if given, an exception from handle() is reported here and the next event still runs */
  onHandlerError?: (error: unknown, event: TransactionEvent) => void;
}

export class TransactionDriver<Own> {
  readonly #o: TransactionDriverOptions<Own>;
  readonly #own = new DeadlineQueue<Own>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt: number | undefined;
  #pumping = false;
  #closed = false;

  constructor(options: TransactionDriverOptions<Own>) {
    this.#o = options;
  }

  /** Add a deadline of the owner's own; `fire(item)` runs when it is due. */
  schedule(at: number, item: Own): void {
    this.#own.push(at, item);
    this.#arm();
  }

  /** Drain the layer after an input: transmissions out, events to the owner (repeatedly, until both are empty). */
  pump(now: number): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const { layer, transmit, onHandlerError } = this.#o;
    try {
      for (let round = 0; round < 10_000; round++) {
        const transmissions = layer.takeTransmissions();
        const events = layer.takeEvents();
        if (transmissions.length === 0 && events.length === 0) break;
        for (const t of transmissions) transmit(t);
        for (const event of events) {
          if (onHandlerError === undefined) this.#o.handle(event, now);
          else
            try {
              this.#o.handle(event, now);
            } catch (error) {
              onHandlerError(error, event);
            }
        }
      }
    } finally {
      this.#pumping = false;
    }
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#closed) return;
    let at = this.#o.layer.nextDeadline();
    const own = this.#own.peek();
    if (own !== undefined && (at === undefined || own.at < at)) at = own.at;
    if (this.#timer !== undefined && this.#timerAt !== undefined && (at === undefined || this.#timerAt <= at))
      return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === undefined) return;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, at - this.#o.clock()));
    this.#timer.unref();
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = undefined;
    if (this.#closed) return;
    const now = this.#o.clock();
    this.#o.layer.handleTimers(now);
    for (let top = this.#own.peek(); top !== undefined && top.at <= now; top = this.#own.peek()) {
      this.#own.pop();
      this.#o.fire(top.item, now);
    }
    this.pump(now);
  }
}
