/**
 * The user agent core's own timers, beside the transaction layer's: registration refresh and retry, 2xx and
 * reliable-provisional retransmission (RFC 3261 §13.3.1.4, RFC 3262 §3), keep-alive pings (RFC 5626 §4.4.1).
 * Each is a named deadline with the work to do when it passes; a name holds one deadline, so re-arming replaces.
 * Nothing reads a clock: `runDue(now)` fires what is due, earliest first.
 */
export class UaTimers {
  readonly #timers = new Map<string, { at: number; fire: (now: number) => void }>();

  set(name: string, at: number, fire: (now: number) => void): void {
    if (!Number.isFinite(at)) throw new TypeError(`timer ${name}: deadline ${String(at)} is not finite`);
    this.#timers.set(name, { at, fire });
  }

  clear(name: string): void {
    this.#timers.delete(name);
  }

  has(name: string): boolean {
    return this.#timers.has(name);
  }

  at(name: string): number | undefined {
    return this.#timers.get(name)?.at;
  }

  next(): number | undefined {
    return earliest(...[...this.#timers.values()].map((t) => t.at));
  }

  /** Fire every timer due at or before `now`, earliest first (a timer armed while firing runs if it is due). */
  runDue(now: number): boolean {
    let fired = false;
    for (;;) {
      let best: [string, { at: number; fire: (now: number) => void }] | undefined;
      for (const entry of this.#timers)
        if (entry[1].at <= now && (best === undefined || entry[1].at < best[1].at)) best = entry;
      if (best === undefined) return fired;
      this.#timers.delete(best[0]);
      best[1].fire(now);
      fired = true;
    }
  }
}

/** The earliest of some optional deadlines; undefined when none is set. */
export function earliest(...times: readonly (number | undefined)[]): number | undefined {
  let min: number | undefined;
  for (const t of times) if (t !== undefined && (min === undefined || t < min)) min = t;
  return min;
}

/**
 * The clock of a layer over the user agent (Pager, ChatSessions, Conversations): an input's `now` must be finite,
 * and time never runs backwards — the latest of the layer's time, the layer below's and the input's.
 */
export function advance(current: number, below: number, now: number | undefined): number {
  if (now !== undefined && !Number.isFinite(now))
    throw new TypeError(`now must be a finite number, not ${String(now)}`);
  return Math.max(current, below, now ?? current);
}
