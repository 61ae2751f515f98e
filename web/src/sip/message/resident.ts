/**
 * Resident: a few recent objects kept alive so that V8 keeps the parser's optimised code.
 *
 * V8's optimised code holds the object shapes ("maps") it was specialised for only weakly: a full GC at a moment
 * when no object of some shape is alive (an idle gateway or browser tab, a benchmark's gc()) frees that shape and
 * discards every optimised function that relied on it; the parser then runs unoptimised until recompiled
 * (measured: 2–3× slower per message for about half a second, plus the compiler's CPU time). Objects made by the
 * current code carry its current shapes, so keeping a few of them keeps the code. The cost is a bounded handful
 * of objects (and the strings they reference).
 */
export class Resident<T> {
  readonly #slots: (T | undefined)[] = [];
  readonly #mask: number;
  #calls = 0;

  /** A slot takes a fresh object when it is empty, and otherwise every `period`-th call (a power of two). */
  constructor(period: number) {
    this.#mask = period - 1;
  }

  /** Whether `slot` should take a fresh object now (counts a call). */
  due(slot = 0): boolean {
    return (++this.#calls & this.#mask) === 0 || this.#slots[slot] === undefined;
  }

  keep(value: T, slot = 0): void {
    this.#slots[slot] = value;
  }
}
