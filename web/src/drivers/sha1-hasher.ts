/**
 * sha1Hasher: the core's FileHasher (sip/ua/file-transfer.ts) as an incremental SHA-1, for RFC 5547 §5/§6
 * a=file-selector hashes. RFC 5547 registers `sha-1` only, and the core hashes synchronously as bytes arrive,
 * which Web Crypto (`crypto.subtle.digest`: whole input, a Promise) cannot do: hence this small implementation.
 *
 *   create() → { update(bytes)… , digest() } — bytes go through a 64-byte block buffer; digest pads and ends.
 */
import type { FileHasher } from '../sip/index.ts';

const BLOCK = 64;

class Sha1 {
  readonly #h = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  readonly #w = new Uint32Array(80);
  readonly #block = new Uint8Array(BLOCK);
  #filled = 0;
  /** message length in bytes (a double holds any file size exactly up to 2^53) */
  #length = 0;
  #done = false;

  update(bytes: Uint8Array): void {
    if (this.#done) throw new TypeError('sha-1: update after digest');
    this.#length += bytes.length;
    let at = 0;
    if (this.#filled > 0) {
      const take = Math.min(BLOCK - this.#filled, bytes.length);
      this.#block.set(bytes.subarray(0, take), this.#filled);
      this.#filled += take;
      at = take;
      if (this.#filled < BLOCK) return;
      this.#compress(this.#block, 0);
      this.#filled = 0;
    }
    for (; at + BLOCK <= bytes.length; at += BLOCK) this.#compress(bytes, at);
    if (at < bytes.length) {
      this.#block.set(bytes.subarray(at), 0);
      this.#filled = bytes.length - at;
    }
  }

  digest(): Uint8Array {
    if (this.#done) throw new TypeError('sha-1: digest twice');
    // FIPS 180-4 §5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, then the length in bits as 64 bits big-endian.
    const bits = this.#length * 8;
    const tail = new Uint8Array(this.#filled < 56 ? BLOCK : 2 * BLOCK);
    tail.set(this.#block.subarray(0, this.#filled));
    tail[this.#filled] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 0x1_0000_0000));
    view.setUint32(tail.length - 4, bits >>> 0);
    for (let at = 0; at < tail.length; at += BLOCK) this.#compress(tail, at);
    this.#done = true;
    const out = new Uint8Array(20);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 5; i++) outView.setUint32(i * 4, this.#h[i] ?? 0);
    return out;
  }

  /** FIPS 180-4 §6.1.2: one 512-bit block. */
  #compress(bytes: Uint8Array, at: number): void {
    const w = this.#w;
    for (let t = 0; t < 16; t++) {
      const i = at + t * 4;
      w[t] =
        ((bytes[i] ?? 0) << 24) |
        ((bytes[i + 1] ?? 0) << 16) |
        ((bytes[i + 2] ?? 0) << 8) |
        (bytes[i + 3] ?? 0);
    }
    for (let t = 16; t < 80; t++) {
      const x = (w[t - 3] ?? 0) ^ (w[t - 8] ?? 0) ^ (w[t - 14] ?? 0) ^ (w[t - 16] ?? 0);
      w[t] = (x << 1) | (x >>> 31);
    }
    const h = this.#h;
    let a = h[0] ?? 0;
    let b = h[1] ?? 0;
    let c = h[2] ?? 0;
    let d = h[3] ?? 0;
    let e = h[4] ?? 0;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + (w[t] ?? 0)) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h[0] = (h[0] ?? 0) + a;
    h[1] = (h[1] ?? 0) + b;
    h[2] = (h[2] ?? 0) + c;
    h[3] = (h[3] ?? 0) + d;
    h[4] = (h[4] ?? 0) + e;
  }
}

/** RFC 5547 §5: `hash:sha-1 <value>` in a=file-selector; the core formats and compares the digest. */
export const sha1Hasher: FileHasher = {
  algorithm: 'sha-1',
  create: () => new Sha1(),
};
