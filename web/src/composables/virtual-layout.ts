/**
 * VirtualLayout: where each row of a long list sits when rows differ in height and a height is only known once
 * the row has been rendered. Pure arithmetic, no DOM: the list component feeds it keys and measured heights
 * and asks which rows a scroll position shows.
 *
 *   keys ──setKeys──► heights (measured, else the estimate) ──prefix sums, computed lazily──► offsets
 *   scrollTop, viewport ──range()──► [start, end) rows to render (plus an overscan either side)
 *
 * How it works. Heights are remembered by key, so a row keeps its measured height when rows are inserted
 * before it. `setKeys` finds the first index where the keys changed (appending a message changes nothing
 * before the end) and only the offsets from there on are recomputed, on demand; a lookup by position is a
 * binary search over the offsets. 10,000 rows cost a few arrays of numbers, never 10,000 DOM nodes.
 */
export class VirtualLayout {
  readonly estimate: number;
  #keys: string[] = [];
  #heights: number[] = [];
  readonly #known = new Map<string, number>();
  /** offsets[i]: top of row i; valid for i <= #valid */
  #offsets: number[] = [0];
  #valid = 0;

  constructor(estimate = 72) {
    this.estimate = estimate;
  }

  get count(): number {
    return this.#keys.length;
  }

  keyAt(index: number): string | undefined {
    return this.#keys[index];
  }

  /** Replaces the rows; returns the first index whose row changed. */
  setKeys(keys: readonly string[]): number {
    const old = this.#keys;
    let first = 0;
    const common = Math.min(old.length, keys.length);
    while (first < common && old[first] === keys[first]) first++;
    if (first === old.length && first === keys.length) return first;
    this.#keys = old.slice(0, first).concat(keys.slice(first));
    this.#heights.length = first;
    for (let i = first; i < keys.length; i++)
      this.#heights.push(this.#known.get(keys[i] ?? '') ?? this.estimate);
    this.#offsets.length = Math.min(this.#offsets.length, first + 1);
    this.#valid = Math.min(this.#valid, first);
    return first;
  }

  /** Adds rows at the end (a new message): nothing before them changes, no key is compared. */
  appendKeys(keys: readonly string[]): void {
    for (const key of keys) {
      this.#keys.push(key);
      this.#heights.push(this.#known.get(key) ?? this.estimate);
    }
  }

  /** Whether row `index` has a measured height (else it sits at the estimate). */
  isMeasured(index: number): boolean {
    const key = this.#keys[index];
    return key !== undefined && this.#known.has(key);
  }

  /** Records a row's rendered height; returns how much it changed (0: nothing to redo). */
  setHeight(index: number, height: number): number {
    const key = this.#keys[index];
    const old = this.#heights[index];
    if (key === undefined || old === undefined || height <= 0 || old === height) return 0;
    this.#heights[index] = height;
    this.#known.set(key, height);
    this.#valid = Math.min(this.#valid, index);
    return height - old;
  }

  heightOf(index: number): number {
    return this.#heights[index] ?? 0;
  }

  /** Top of row `index` (index = count gives the total height). */
  offsetOf(index: number): number {
    const target = Math.max(0, Math.min(index, this.#keys.length));
    for (let i = this.#valid; i < target; i++)
      this.#offsets[i + 1] = (this.#offsets[i] ?? 0) + (this.#heights[i] ?? 0);
    if (target > this.#valid) this.#valid = target;
    return this.#offsets[target] ?? 0;
  }

  get total(): number {
    return this.offsetOf(this.#keys.length);
  }

  /** The row at vertical position `y` (clamped to the rows there are). */
  indexAt(y: number): number {
    const n = this.#keys.length;
    if (n === 0) return 0;
    this.offsetOf(n);
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#offsets[mid] ?? 0) <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Rows to render for a viewport: [start, end), with `overscan` rows either side. */
  range(scrollTop: number, viewport: number, overscan = 6): { start: number; end: number } {
    const n = this.#keys.length;
    if (n === 0) return { start: 0, end: 0 };
    const first = this.indexAt(Math.max(0, scrollTop));
    const last = this.indexAt(Math.max(0, scrollTop + viewport));
    return { start: Math.max(0, first - overscan), end: Math.min(n, last + 1 + overscan) };
  }
}
