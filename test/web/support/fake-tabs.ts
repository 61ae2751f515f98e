/**
 * Browser tabs in one process: a Web Locks manager (exclusive locks, `ifAvailable`, waiters granted in order
 * when the holder's callback settles) and BroadcastChannels (a message reaches every other open channel of the
 * hub, as a structured clone, asynchronously; never the sender). Both asynchronous like the real ones.
 */
import type { ChannelLike, LockManagerLike } from '../../../web/src/drivers/index.ts';

interface Waiter {
  readonly callback: (lock: unknown) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class FakeLockManager implements LockManagerLike {
  readonly #held = new Set<string>();
  readonly #waiters = new Map<string, Waiter[]>();

  request(
    name: string,
    options: { readonly ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      queueMicrotask(() => {
        if (this.#held.has(name)) {
          if (options.ifAvailable) {
            callback(null).then(resolve, reject);
            return;
          }
          const list = this.#waiters.get(name) ?? [];
          list.push({ callback, resolve, reject });
          this.#waiters.set(name, list);
          return;
        }
        this.#grant(name, { callback, resolve, reject });
      });
    });
  }

  holds(name: string): boolean {
    return this.#held.has(name);
  }

  #grant(name: string, waiter: Waiter): void {
    this.#held.add(name);
    const release = (): void => {
      this.#held.delete(name);
      const next = this.#waiters.get(name)?.shift();
      if (next) this.#grant(name, next);
    };
    waiter.callback({ name }).then(
      (value) => {
        release();
        waiter.resolve(value);
      },
      (error: unknown) => {
        release();
        waiter.reject(error);
      },
    );
  }
}

export class FakeChannelHub {
  readonly #open = new Set<FakeChannel>();
  /** every message posted, for assertions */
  readonly log: unknown[] = [];

  channel(): FakeChannel {
    const channel = new FakeChannel(this);
    this.#open.add(channel);
    return channel;
  }

  deliver(from: FakeChannel, message: unknown): void {
    this.log.push(message);
    for (const channel of this.#open) {
      if (channel === from) continue;
      const copy = structuredClone(message);
      queueMicrotask(() => {
        if (this.#open.has(channel)) channel.onmessage?.({ data: copy });
      });
    }
  }

  close(channel: FakeChannel): void {
    this.#open.delete(channel);
  }
}

export class FakeChannel implements ChannelLike {
  onmessage: ((event: { readonly data: unknown }) => void) | null = null;
  readonly #hub: FakeChannelHub;

  constructor(hub: FakeChannelHub) {
    this.#hub = hub;
  }

  postMessage(message: unknown): void {
    this.#hub.deliver(this, message);
  }

  close(): void {
    this.#hub.close(this);
  }
}
