/**
 * ParamMap: the parameters of a header value or URI (`;name=value`, `;flag`). A read-only Map over one flat
 * array [name0, value0, name1, value1, …]: messages carry thousands of these with one to four entries each,
 * and a real Map costs several times the memory. Names are lowercased (RFC 3261 §7.3.1: parameter names
 * compare case-insensitively); values are kept as written, quotes included; a flag's value is null.
 */
export class ParamMap implements ReadonlyMap<string, string | null> {
  /** The one empty instance (parsed values never change, so it can be shared). */
  static readonly EMPTY = new ParamMap([]);
  readonly #flat: (string | null)[];

  constructor(flat: (string | null)[]) {
    this.#flat = flat;
  }

  /** Build from entries (a Map, an array of pairs…); later duplicates win as in a Map. */
  static from(entries: Iterable<readonly [string, string | null]>): ParamMap {
    const flat: (string | null)[] = [];
    for (const [k, v] of entries) setFlat(flat, k.toLowerCase(), v);
    return flat.length === 0 ? ParamMap.EMPTY : new ParamMap(flat);
  }

  get size(): number {
    return this.#flat.length >> 1;
  }

  get(name: string): string | null | undefined {
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1];
    return undefined;
  }

  has(name: string): boolean {
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) return true;
    return false;
  }

  /** A copy with one parameter set (null: a flag) or removed (undefined). */
  with(name: string, value: string | null | undefined): ParamMap {
    const flat = this.#flat.slice();
    const key = name.toLowerCase();
    if (value === undefined) {
      for (let i = 0; i < flat.length; i += 2) if (flat[i] === key) flat.splice(i, 2);
    } else setFlat(flat, key, value);
    return flat.length === 0 ? ParamMap.EMPTY : new ParamMap(flat);
  }

  forEach(fn: (value: string | null, key: string, map: ReadonlyMap<string, string | null>) => void): void {
    for (const [k, v] of this) fn(v, k, this);
  }

  *entries(): MapIterator<[string, string | null]> {
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) yield [f[i] as string, f[i + 1] ?? null];
  }

  *keys(): MapIterator<string> {
    const f = this.#flat;
    for (let i = 0; i < f.length; i += 2) yield f[i] as string;
  }

  *values(): MapIterator<string | null> {
    const f = this.#flat;
    for (let i = 1; i < f.length; i += 2) yield f[i] ?? null;
  }

  [Symbol.iterator](): MapIterator<[string, string | null]> {
    return this.entries();
  }
}

/**
 * Parameters being parsed go into one shared scratch array and leave it as an exact-size copy: an array grown
 * by push reserves room for 17 entries, most of it never used, and parsed messages hold thousands of these.
 * Callers do not nest (a parameter value never holds parameters): reset, set…, take.
 */
const scratch: (string | null)[] = [];
let scratchLength = 0;

export function resetParams(): void {
  scratchLength = 0;
}

/** Append or replace a name among the parameters being parsed. */
export function setParam(name: string, value: string | null): void {
  for (let i = 0; i < scratchLength; i += 2) {
    if (scratch[i] === name) {
      scratch[i + 1] = value;
      return;
    }
  }
  scratch[scratchLength] = name;
  scratch[scratchLength + 1] = value;
  scratchLength += 2;
}

/** The parameters parsed since resetParams(), as a ParamMap of their own. */
export function takeParams(): ParamMap {
  return scratchLength === 0 ? ParamMap.EMPTY : new ParamMap(scratch.slice(0, scratchLength));
}

/** Append or replace a name in a flat parameter array being built. */
export function setFlat(flat: (string | null)[], name: string, value: string | null): void {
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === name) {
      flat[i + 1] = value;
      return;
    }
  }
  flat.push(name, value);
}
