/**
 * A binary min-heap of (deadline, item), ties in insertion order, so that the layer finds its next deadline in
 * O(log n) however many transactions run. Entries are never updated in place: the owner pushes a new entry when
 * an item's deadline changes and discards stale ones as they surface (`peek`/`pop` then `isStale`).
 */
interface Entry<T> {
  readonly at: number;
  readonly seq: number;
  readonly item: T;
}

export class DeadlineQueue<T> {
  readonly #heap: Entry<T>[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(at: number, item: T): void {
    const heap = this.#heap;
    heap.push({ at, seq: this.#seq++, item });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  peek(): { readonly at: number; readonly item: T } | undefined {
    return this.#heap[0];
  }

  pop(): { readonly at: number; readonly item: T } | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.#less(l, m)) m = l;
      if (r < heap.length && this.#less(r, m)) m = r;
      if (m === i) break;
      this.#swap(i, m);
      i = m;
    }
    return top;
  }

  #less(a: number, b: number): boolean {
    const x = this.#heap[a];
    const y = this.#heap[b];
    if (x === undefined || y === undefined) return false;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const x = heap[a];
    const y = heap[b];
    if (x === undefined || y === undefined) return;
    heap[a] = y;
    heap[b] = x;
  }
}
