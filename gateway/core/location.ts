/**
 * The location service of the embedded registrar (RFC 3261 §10.3): the bindings of each address of record, in
 * memory. Pure: time comes in as `now` (monotonic milliseconds).
 *
 * A binding is keyed (RFC 5626 §6) by `+sip.instance` and `reg-id` when the Contact has both, so a new
 * registration of the same instance and reg-id replaces the old one whatever its Contact URI; otherwise by the
 * Contact URI. RFC 3261 §10.3 step 7: a binding with the same Call-ID is only changed by a higher CSeq.
 *
 * Decision: bindings live in memory. The flows they point at (WebSocket connections) do not survive a restart
 * either, and browsers re-register when they reconnect; outside UDP/TCP peers re-register at their refresh.
 */
import type { FeatureSet } from './caller-prefs.ts';

export interface Binding {
  readonly aor: string;
  readonly key: string;
  /** the Contact URI (what the request is sent to) */
  readonly uri: string;
  /** the Contact header value as registered, without `expires`, for the 200 */
  readonly contact: string;
  readonly q: number;
  readonly expiresAt: number;
  readonly callId: string;
  readonly cseq: number;
  /** Path header values, topmost first (RFC 3327): they become the Route of requests for this contact */
  readonly path: readonly string[];
  /** the flow token of the gateway's WebSocket connection, when the Path leads to one */
  readonly flowToken: string | undefined;
  readonly instance: string | undefined;
  readonly regId: number | undefined;
  readonly features: FeatureSet;
  readonly registeredAt: number;
  /** where the REGISTER came from, for contacts reached without a Path (outside UDP/TCP peers) */
  readonly source: string | undefined;
}

export type BindingInput = Omit<Binding, 'aor' | 'expiresAt' | 'callId' | 'cseq' | 'registeredAt'> & {
  /** seconds; 0 removes */
  readonly expires: number;
};

export type UpdateResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'out-of-order' };

export class LocationService {
  readonly #aors = new Map<string, Map<string, Binding>>();

  /**
   * RFC 3261 §10.3 steps 6–8 for one REGISTER: all changes or none (an out-of-order CSeq for a binding of the
   * same Call-ID rejects the whole request). Returns whether the AOR gained or refreshed a contact.
   */
  update(
    aor: string,
    inputs: readonly BindingInput[],
    callId: string,
    cseq: number,
    now: number,
  ): UpdateResult {
    const current = this.#aors.get(aor) ?? new Map<string, Binding>();
    for (const input of inputs) {
      const old = current.get(input.key);
      if (old !== undefined && old.callId === callId && cseq <= old.cseq && old.expiresAt > now)
        return { ok: false, reason: 'out-of-order' };
    }
    for (const input of inputs) {
      if (input.expires === 0) {
        current.delete(input.key);
        continue;
      }
      const { expires, ...rest } = input;
      current.set(input.key, {
        ...rest,
        aor,
        expiresAt: now + expires * 1000,
        callId,
        cseq,
        registeredAt: now,
      });
    }
    if (current.size === 0) this.#aors.delete(aor);
    else this.#aors.set(aor, current);
    return { ok: true };
  }

  /** `Contact: *` with `Expires: 0` (§10.3 step 6): every binding of the AOR goes. */
  removeAll(aor: string): void {
    this.#aors.delete(aor);
  }

  remove(aor: string, key: string): void {
    const bindings = this.#aors.get(aor);
    if (bindings === undefined) return;
    bindings.delete(key);
    if (bindings.size === 0) this.#aors.delete(aor);
  }

  /** The live bindings of an AOR, newest registration first (expired ones are dropped on the way). */
  lookup(aor: string, now: number): Binding[] {
    const bindings = this.#aors.get(aor);
    if (bindings === undefined) return [];
    const out: Binding[] = [];
    for (const [key, b] of bindings) {
      if (b.expiresAt <= now) bindings.delete(key);
      else out.push(b);
    }
    if (bindings.size === 0) this.#aors.delete(aor);
    return out.sort((a, b) => b.registeredAt - a.registeredAt);
  }

  /** RFC 5626 §5.3: the flow died; the bindings that lead to it go. Returns the AORs that lost one. */
  removeFlow(token: string): string[] {
    const affected: string[] = [];
    for (const [aor, bindings] of this.#aors) {
      for (const [key, b] of bindings) {
        if (b.flowToken !== token) continue;
        bindings.delete(key);
        if (!affected.includes(aor)) affected.push(aor);
      }
      if (bindings.size === 0) this.#aors.delete(aor);
    }
    return affected;
  }

  /** How many bindings are live (for metrics). */
  get size(): number {
    let n = 0;
    for (const bindings of this.#aors.values()) n += bindings.size;
    return n;
  }
}
