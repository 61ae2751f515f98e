/**
 * A typed event emitter whose listeners cannot disturb the code that emits (as mediasoup-client's `safeEmit`).
 *
 *   emit('state', s) ──► listener 1 ──► listener 2 (throws → reported, not rethrown) ──► listener 3
 *
 * The drivers emit from inside protocol processing (a frame arrived, a timer fired). A listener is app code: if
 * it throws, the exception is caught and handed to `onListenerError`, and the remaining listeners still run, so
 * a bug in a view can never leave a socket handler or the core half-way through an input. A listener added
 * during an emit is first called by the next emit; one removed during an emit is not called again, even by the
 * emit under way (a view torn down by an earlier listener hears nothing more).
 *
 * An event map names each event and the arguments its listeners receive, as a tuple:
 *   interface TransportEvents { state: [state: ConnectionState]; error: [error: Error] }
 * App code gets the `ReadonlyEmitter` face (subscribe only); the owner keeps `emit`.
 */

/** Event name → listener argument tuple. Works with interfaces (no index signature needed). */
export type EventMap<E> = { [K in keyof E]: unknown[] };

export type Listener<Args extends unknown[]> = (...args: Args) => void;

/** The subscribe-only face of an emitter, for the code that listens. */
export interface ReadonlyEmitter<E extends EventMap<E>> {
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void;
  /** Adds a listener that is removed before its first call. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void;
  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void;
  listenerCount(event: keyof E): number;
}

export interface EmitterOptions {
  /**
   * Told when a listener throws. The default rethrows it from a microtask, so it is reported the way an
   * uncaught exception is (devtools, test runner) without ever unwinding through the emitter's caller.
   */
  readonly onListenerError?: ((error: unknown, event: string) => void) | undefined;
}

interface Entry {
  /** a Listener of the event it is filed under */
  readonly listener: unknown;
  readonly once: boolean;
  removed: boolean;
}

export class Emitter<E extends EventMap<E>> implements ReadonlyEmitter<E> {
  readonly #listeners = new Map<keyof E, Entry[]>();
  readonly #onListenerError: (error: unknown, event: string) => void;

  constructor(options: EmitterOptions = {}) {
    this.#onListenerError =
      options.onListenerError ??
      ((error) => {
        queueMicrotask(() => {
          throw error;
        });
      });
  }

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    return this.#add(event, listener, false);
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    return this.#add(event, listener, true);
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    const entries = this.#listeners.get(event);
    if (!entries) return;
    const index = entries.findIndex((entry) => entry.listener === listener);
    if (index < 0) return;
    const [entry] = entries.splice(index, 1);
    if (entry) entry.removed = true;
    if (entries.length === 0) this.#listeners.delete(event);
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  removeAllListeners(event?: keyof E): void {
    const events = event === undefined ? [...this.#listeners.keys()] : [event];
    for (const name of events) {
      for (const entry of this.#listeners.get(name) ?? []) entry.removed = true;
      this.#listeners.delete(name);
    }
  }

  /**
   * Calls every listener of `event` with `args`. A listener's exception is reported to `onListenerError` and
   * never reaches the caller. Returns whether there was any listener.
   */
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const entries = this.#listeners.get(event);
    if (!entries || entries.length === 0) return false;
    for (const entry of [...entries]) {
      if (entry.removed) continue;
      if (entry.once) this.#remove(event, entry);
      try {
        (entry.listener as Listener<E[K]>)(...args);
      } catch (error) {
        this.#report(error, String(event));
      }
    }
    return true;
  }

  #add<K extends keyof E>(event: K, listener: Listener<E[K]>, once: boolean): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    const entry: Entry = { listener, once, removed: false };
    const entries = this.#listeners.get(event);
    if (entries) entries.push(entry);
    else this.#listeners.set(event, [entry]);
    return () => {
      this.#remove(event, entry);
    };
  }

  #remove(event: keyof E, entry: Entry): void {
    const entries = this.#listeners.get(event);
    if (!entries) return;
    entry.removed = true;
    const index = entries.indexOf(entry);
    if (index >= 0) entries.splice(index, 1);
    if (entries.length === 0) this.#listeners.delete(event);
  }

  #report(error: unknown, event: string): void {
    try {
      this.#onListenerError(error, event);
    } catch {
      // The reporter itself failed: nothing sensible is left to do, and the emitter must not throw.
    }
  }
}
