/**
 * MsrpReassembly: the bytes of one incoming message, put together from chunks that may arrive out of order,
 * twice, overlapping, or interrupted (RFC 4975 §5.1, §7.3.1: the receiver places each chunk by its Byte-Range and
 * counts the bytes actually received).
 *
 * It records which byte ranges have arrived (a short sorted list of [start, end) pairs, usually one) and hands
 * back only the bytes not seen before, so a duplicate is neither stored nor reported twice. In buffered mode it
 * also copies them into one array, sized from the total when that is known and grown by doubling when not.
 */
export class MsrpReassembly {
  /** sorted, disjoint, non-adjacent [start, end) pairs of 0-based byte offsets */
  readonly #ranges: number[] = [];
  #buf: Uint8Array | undefined;
  readonly #size: number;
  /** how many distinct bytes have arrived */
  received = 0;

  /**
   * @param size the whole size when known, or 0. The buffer grows with the bytes that actually arrive (doubling,
   *             up to `size`), so a peer announcing a large total costs nothing until it sends the bytes.
   */
  constructor(buffered: boolean, size = 0) {
    this.#size = size;
    this.#buf = buffered ? new Uint8Array(Math.min(size, 1 << 16)) : undefined;
  }

  /** How many separate byte ranges have arrived (1 when in order). */
  get fragments(): number {
    return this.#ranges.length / 2;
  }

  get buffered(): boolean {
    return this.#buf !== undefined;
  }

  /** Takes `bytes` at 0-based `offset`; returns the parts not received before, as [offset, view] pairs. */
  add(offset: number, bytes: Uint8Array): [number, Uint8Array][] {
    const end = offset + bytes.length;
    const fresh: [number, Uint8Array][] = [];
    const r = this.#ranges;
    let cur = offset;
    for (let i = 0; i < r.length && cur < end; i += 2) {
      const a = r[i]!;
      const b = r[i + 1]!;
      if (b <= cur) continue;
      if (a >= end) break;
      if (a > cur) fresh.push([cur, bytes.subarray(cur - offset, a - offset)]);
      cur = Math.max(cur, b);
    }
    if (cur < end) fresh.push([cur, bytes.subarray(cur - offset)]);
    if (fresh.length === 0) return fresh;
    this.#merge(offset, end);
    for (const [at, piece] of fresh) {
      this.received += piece.length;
      if (this.#buf === undefined) continue;
      const need = at + piece.length;
      if (need > this.#buf.length) {
        const doubled = Math.max(need, this.#buf.length * 2);
        const grown = new Uint8Array(need <= this.#size ? Math.min(doubled, this.#size) : doubled);
        grown.set(this.#buf);
        this.#buf = grown;
      }
      this.#buf.set(piece, at);
    }
    return fresh;
  }

  /** Whether every byte of [from, to) has arrived. */
  covers(from: number, to: number): boolean {
    if (from >= to) return true;
    const r = this.#ranges;
    for (let i = 0; i < r.length; i += 2) if (r[i]! <= from && r[i + 1]! >= to) return true;
    return false;
  }

  /** The buffered bytes [0, end) (a view); empty when not buffered. */
  bytes(end: number): Uint8Array {
    return this.#buf === undefined ? new Uint8Array(0) : this.#buf.subarray(0, end);
  }

  /** Stops buffering; returns what was held, as [offset, view] pairs, for the caller to hand on. */
  unbuffer(): [number, Uint8Array][] {
    const buf = this.#buf;
    this.#buf = undefined;
    if (buf === undefined) return [];
    const out: [number, Uint8Array][] = [];
    for (let i = 0; i < this.#ranges.length; i += 2)
      out.push([this.#ranges[i]!, buf.subarray(this.#ranges[i], this.#ranges[i + 1])]);
    return out;
  }

  #merge(start: number, end: number): void {
    const r = this.#ranges;
    let i = 0;
    while (i < r.length && r[i + 1]! < start) i += 2;
    let j = i;
    while (j < r.length && r[j]! <= end) {
      start = Math.min(start, r[j]!);
      end = Math.max(end, r[j + 1]!);
      j += 2;
    }
    r.splice(i, j - i, start, end);
  }
}
