/**
 * What the pager has learned about each peer's IM extensions (SPEC §7 "per-peer capability learning"): does it take
 * message/cpim (RFC 3862), IMDN (RFC 5438), is-composing (RFC 3994)?
 *
 *   unknown ──refused (415 / 488, an Accept without it)──▶ no
 *      │                                                   │ an explicit Accept listing it (OPTIONS)
 *      └──it sent us one / an Accept lists it──▶ yes ◀─────┘
 *
 * Evidence has two strengths. Explicit evidence (a response's Accept, a 415 or 488 to what we sent) always
 * wins. Implicit evidence (the peer sent us CPIM, asked us for IMDN, told us it was typing) only turns
 * `unknown` into `yes`: a peer that once refused something is not tried again because it spoke first. Every
 * change is handed to the injected store (`save`) so it survives a restart (`load` gives it back), and comes
 * back to the caller as the new entry, for the pager's `capability` event.
 */
export type Support = 'unknown' | 'yes' | 'no';
export type CapabilityKind = 'cpim' | 'imdn' | 'composing';

/** One peer's entry: plain data, for snapshots and storage. */
export interface PeerCapabilities {
  /** the peer's address of record, `sip:user@host` */
  readonly peer: string;
  readonly cpim: Support;
  readonly imdn: Support;
  readonly composing: Support;
  /** why the latest change was made, e.g. "415 to message/cpim" */
  readonly reason?: string | undefined;
  /** when (the `now` of the input that taught it) */
  readonly at?: number | undefined;
}

/** A small synchronous store the application injects (IndexedDB behind a cache, localStorage …). */
export interface PeerCapabilityStore {
  /** the entries remembered from earlier runs */
  load(): Iterable<PeerCapabilities>;
  /** an entry changed: remember it */
  save(entry: PeerCapabilities): void;
}

/** How many peers are remembered; the least recently changed are forgotten first. */
const MAX_PEERS = 2000;

export class PeerCapabilityTable {
  readonly #entries = new Map<string, PeerCapabilities>();
  readonly #store: PeerCapabilityStore | undefined;

  constructor(store?: PeerCapabilityStore) {
    this.#store = store;
    for (const e of store?.load() ?? []) {
      if (typeof e.peer === 'string') this.#entries.set(e.peer, Object.freeze({ ...e }));
    }
  }

  get(peer: string): PeerCapabilities {
    return this.#entries.get(peer) ?? { peer, cpim: 'unknown', imdn: 'unknown', composing: 'unknown' };
  }

  all(): PeerCapabilities[] {
    return [...this.#entries.values()];
  }

  /**
   * Record evidence about `kind`. Returns the new entry when something changed, else undefined. `explicit`
   * evidence overrides; implicit evidence only upgrades `unknown`.
   */
  learn(
    peer: string,
    kind: CapabilityKind,
    support: 'yes' | 'no',
    reason: string,
    at: number,
    explicit: boolean,
  ): PeerCapabilities | undefined {
    const old = this.get(peer);
    if (old[kind] === support || (!explicit && old[kind] !== 'unknown')) return undefined;
    const entry: PeerCapabilities = Object.freeze({ ...old, [kind]: support, reason, at });
    this.#entries.delete(peer);
    this.#entries.set(peer, entry);
    if (this.#entries.size > MAX_PEERS) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#store?.save(entry);
    return entry;
  }
}
