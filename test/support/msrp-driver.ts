// What the two MSRP test drivers share (msrp-ws-client.ts over `ws`, msrp-tcp-peer.ts over node:net): one
// MsrpSession, pumped after every input (transmissions out within the transport's room, events to listeners),
// one timer at the session's next deadline, and promises that wait for events.

import { performance } from 'node:perf_hooks';

import { MsrpSession, type MsrpSessionEvent, type MsrpSessionOptions } from '../../web/src/sip/index.ts';

export type EventOf<T extends MsrpSessionEvent['type']> = Extract<MsrpSessionEvent, { type: T }>;

/** A random token for URIs (session ids, .invalid host names). */
export function token(length = 10): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < length; i++) s += chars.charAt(Math.floor(Math.random() * chars.length));
  return s;
}

export abstract class MsrpDriver {
  readonly session: MsrpSession;
  readonly events: MsrpSessionEvent[] = [];
  readonly #listeners = new Set<(event: MsrpSessionEvent) => void>();
  #timer: NodeJS.Timeout | undefined;
  #pumping = false;
  /** keep every event in `events` (turn off for long transfers: data events are many) */
  record = true;

  constructor(options: MsrpSessionOptions) {
    this.session = new MsrpSession(options);
  }

  /** Bytes the transport may take now (its free room); Infinity when unbounded. */
  protected abstract room(): number;
  protected abstract transmit(data: Uint8Array): void;

  get now(): number {
    return performance.now();
  }

  onEvent(listener: (event: MsrpSessionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The first event (already seen or to come) of `type` that `match` accepts. */
  waitFor<T extends MsrpSessionEvent['type']>(
    type: T,
    match: (event: EventOf<T>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<EventOf<T>> {
    const seen = this.events.find((e): e is EventOf<T> => e.type === type && match(e as EventOf<T>));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${type} event within ${timeoutMs} ms; events: ${this.describe()}`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e.type !== type || !match(e as EventOf<T>)) return;
        clearTimeout(timer);
        off();
        resolve(e as EventOf<T>);
      });
    });
  }

  of<T extends MsrpSessionEvent['type']>(type: T): EventOf<T>[] {
    return this.events.filter((e): e is EventOf<T> => e.type === type);
  }

  describe(): string {
    return JSON.stringify(
      this.events
        .slice(-12)
        .map((e) => ('bytes' in e && typeof e.bytes !== 'number' ? { ...e, bytes: '…' } : e)),
    );
  }

  /** Takes what the session wants to write (within the room) and its events; re-arms the timer. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (;;) {
        const room = this.room();
        const out = room > 0 ? this.session.takeTransmissions(room) : [];
        for (const t of out) this.transmit(t.data);
        const events = this.session.takeEvents();
        for (const e of events) {
          if (this.record) this.events.push(e);
          for (const l of [...this.#listeners]) l(e);
        }
        if (out.length === 0 && events.length === 0) break;
      }
    } finally {
      this.#pumping = false;
    }
    this.#arm();
  }

  protected stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.stopTimer();
    const at = this.session.nextDeadline();
    if (at === undefined || this.session.closed) return;
    this.#timer = setTimeout(
      () => {
        this.session.handleTimers(this.now);
        this.pump();
      },
      Math.max(0, at - this.now),
    );
    this.#timer.unref();
  }
}
