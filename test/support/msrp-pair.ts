/**
 * Two MsrpSessions wired in memory, as over one connection, through a wire the test controls.
 *
 *     alice ── takeTransmissions ──► [wire framer ─ fate per frame] ──► bob.receive
 *     alice.receive ◄── [fate per frame ─ wire framer] ◄── takeTransmissions ── bob
 *
 * In `frames` mode (the default) what a session writes is re-framed on the wire so each frame can be dropped,
 * duplicated or held (and released later, which reorders), and is logged; in `raw` mode the pieces go through
 * untouched, as a TCP stream would carry them. Time is explicit: `settle()` moves bytes until nothing moves,
 * `advance(ms)` moves the clock and runs both sessions' timers.
 */
import {
  MsrpFramer,
  MsrpSession,
  serializeMsrpFrame,
  type MsrpFrame,
  type MsrpSessionEvent,
  type MsrpSessionOptions,
} from '../../web/src/sip/index.ts';
import { seededRandom } from './seeded-random.ts';

export const ALICE = 'msrp://atlanta.example.com:7654/jshA7weztas;tcp';
export const BOB = 'msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp';

export type PairSide = 'alice' | 'bob';
export type Fate = 'deliver' | 'drop' | 'duplicate' | 'hold';

export interface WireEntry {
  readonly from: PairSide;
  readonly frame: MsrpFrame;
  readonly fate: Fate;
}

export interface MsrpPairOptions {
  readonly alice?: Partial<MsrpSessionOptions>;
  readonly bob?: Partial<MsrpSessionOptions>;
  readonly seed?: number;
  /** pieces straight through (no fates, no log) */
  readonly raw?: boolean;
}

export class MsrpPair {
  readonly alice: MsrpSession;
  readonly bob: MsrpSession;
  readonly events: Record<PairSide, MsrpSessionEvent[]> = { alice: [], bob: [] };
  readonly wire: WireEntry[] = [];
  readonly held: { to: PairSide; bytes: Uint8Array }[] = [];
  /** decides each frame's fate (frames mode) */
  policy: (frame: MsrpFrame, from: PairSide) => Fate = () => 'deliver';
  /** the budget passed to takeTransmissions */
  budget = Infinity;
  now = 0;
  readonly #raw: boolean;
  readonly #framers: Record<PairSide, MsrpFramer> = {
    alice: new MsrpFramer({ streamAbove: Infinity }),
    bob: new MsrpFramer({ streamAbove: Infinity }),
  };

  constructor(options: MsrpPairOptions = {}) {
    const random = seededRandom(options.seed ?? 7);
    this.alice = new MsrpSession({ localUri: ALICE, remotePath: [BOB], random, ...options.alice });
    this.bob = new MsrpSession({ localUri: BOB, remotePath: [ALICE], random, ...options.bob });
    this.#raw = options.raw ?? false;
  }

  session(side: PairSide): MsrpSession {
    return side === 'alice' ? this.alice : this.bob;
  }

  /** Moves bytes both ways until neither side has anything to write. */
  settle(): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      let moved = false;
      for (const from of ['alice', 'bob'] as const) {
        const to: PairSide = from === 'alice' ? 'bob' : 'alice';
        for (const t of this.session(from).takeTransmissions(this.budget)) {
          moved = true;
          if (this.#raw) this.deliver(to, t.data);
          else this.#frame(from, to, t.data);
        }
        this.#collect();
      }
      if (!moved) return;
    }
    throw new Error('the pair never settled');
  }

  /** Moves the clock by `ms`, runs both sessions' timers, and settles. */
  advance(ms: number): void {
    this.now += ms;
    this.alice.handleTimers(this.now);
    this.bob.handleTimers(this.now);
    this.#collect();
    this.settle();
  }

  deliver(to: PairSide, bytes: Uint8Array): void {
    this.session(to).receive(bytes, this.now);
    this.#collect();
  }

  /** Delivers the held frames, in the order given by `order` (indexes into `held`; all, in order, by default). */
  release(order?: readonly number[]): void {
    const held = this.held.splice(0);
    for (const i of order ?? held.map((_, k) => k)) this.deliver(held[i]!.to, held[i]!.bytes);
    this.settle();
  }

  /** The events of one side of a type, with their specific shape. */
  of<T extends MsrpSessionEvent['type']>(side: PairSide, type: T): Extract<MsrpSessionEvent, { type: T }>[] {
    return this.events[side].filter((e): e is Extract<MsrpSessionEvent, { type: T }> => e.type === type);
  }

  #frame(from: PairSide, to: PairSide, bytes: Uint8Array): void {
    for (const ev of this.#framers[from].push(bytes)) {
      if (ev.type !== 'frame') throw new Error(`the session wrote a bad frame: ${JSON.stringify(ev)}`);
      const fate = this.policy(ev.frame, from);
      this.wire.push({ from, frame: ev.frame, fate });
      const data = serializeMsrpFrame(ev.frame);
      if (fate === 'hold') this.held.push({ to, bytes: data });
      if (fate === 'deliver' || fate === 'duplicate') this.deliver(to, data);
      if (fate === 'duplicate') this.deliver(to, data);
    }
  }

  #collect(): void {
    this.events.alice.push(...this.alice.takeEvents());
    this.events.bob.push(...this.bob.takeEvents());
  }
}

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
export const bytesOf = (s: string): Uint8Array => new TextEncoder().encode(s);
