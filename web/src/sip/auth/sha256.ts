/**
 * SHA-256 and SHA-512/256 (FIPS 180-4), the hashes RFC 7616 and RFC 8760 add to digest authentication.
 *
 * Both read big-endian words straight out of the input with typed arrays: one UTF-8 encoding for string input,
 * a reused message schedule and a reused tail buffer, no per-byte allocations. SHA-512/256 works on 64-bit words
 * held as (high, low) pairs of 32-bit integers, since the core avoids BigInt in hot paths.
 */

const encoder = new TextEncoder();

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

// FIPS 180-4 §5.3.3: the initial hash value of SHA-256.
const H256 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const W = new Int32Array(64);
const tail64 = new Uint8Array(128);

/** The SHA-256 digest of `data` (strings are UTF-8 encoded) as 64 lowercase hex digits. */
export function sha256(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const h = new Int32Array(H256);
  const length = bytes.length;

  let offset = 0;
  for (; offset + 64 <= length; offset += 64) compress256(h, bytes, offset);

  // FIPS 180-4 §5.1.1: append 0x80, zero-pad to 56 mod 64, then the bit length as a 64-bit big-endian number.
  const rest = length - offset;
  tail64.fill(0);
  for (let i = 0; i < rest; i++) tail64[i] = bytes[offset + i]!;
  tail64[rest] = 0x80;
  const end = rest < 56 ? 64 : 128;
  writeBe(tail64, end - 8, Math.floor(length / 0x20000000) >>> 0);
  writeBe(tail64, end - 4, (length * 8) >>> 0);
  compress256(h, tail64, 0);
  if (end === 128) compress256(h, tail64, 64);

  return toHex(h, 8);
}

// FIPS 180-4 §6.2.2: the SHA-256 compression of one 512-bit block.
function compress256(h: Int32Array, x: Uint8Array, offset: number): void {
  for (let t = 0, o = offset; t < 16; t++, o += 4) W[t] = readBe(x, o);
  for (let t = 16; t < 64; t++) {
    const w15 = W[t - 15]!;
    const w2 = W[t - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[t] = (s1 + W[t - 7]! + s0 + W[t - 16]!) | 0;
  }

  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let f = h[5]!;
  let g = h[6]!;
  let hh = h[7]!;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + S1 + ch + K256[t]! + W[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }

  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

// FIPS 180-4 §4.2.3: the SHA-512 constants, first 64 bits of the fractional parts of the cube roots of the first
// 80 primes, as (high, low) 32-bit pairs.
const K512 = new Int32Array([
  0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd, 0xb5c0fbcf, 0xec4d3b2f, 0xe9b5dba5, 0x8189dbbc, 0x3956c25b,
  0xf348b538, 0x59f111f1, 0xb605d019, 0x923f82a4, 0xaf194f9b, 0xab1c5ed5, 0xda6d8118, 0xd807aa98, 0xa3030242,
  0x12835b01, 0x45706fbe, 0x243185be, 0x4ee4b28c, 0x550c7dc3, 0xd5ffb4e2, 0x72be5d74, 0xf27b896f, 0x80deb1fe,
  0x3b1696b1, 0x9bdc06a7, 0x25c71235, 0xc19bf174, 0xcf692694, 0xe49b69c1, 0x9ef14ad2, 0xefbe4786, 0x384f25e3,
  0x0fc19dc6, 0x8b8cd5b5, 0x240ca1cc, 0x77ac9c65, 0x2de92c6f, 0x592b0275, 0x4a7484aa, 0x6ea6e483, 0x5cb0a9dc,
  0xbd41fbd4, 0x76f988da, 0x831153b5, 0x983e5152, 0xee66dfab, 0xa831c66d, 0x2db43210, 0xb00327c8, 0x98fb213f,
  0xbf597fc7, 0xbeef0ee4, 0xc6e00bf3, 0x3da88fc2, 0xd5a79147, 0x930aa725, 0x06ca6351, 0xe003826f, 0x14292967,
  0x0a0e6e70, 0x27b70a85, 0x46d22ffc, 0x2e1b2138, 0x5c26c926, 0x4d2c6dfc, 0x5ac42aed, 0x53380d13, 0x9d95b3df,
  0x650a7354, 0x8baf63de, 0x766a0abb, 0x3c77b2a8, 0x81c2c92e, 0x47edaee6, 0x92722c85, 0x1482353b, 0xa2bfe8a1,
  0x4cf10364, 0xa81a664b, 0xbc423001, 0xc24b8b70, 0xd0f89791, 0xc76c51a3, 0x0654be30, 0xd192e819, 0xd6ef5218,
  0xd6990624, 0x5565a910, 0xf40e3585, 0x5771202a, 0x106aa070, 0x32bbd1b8, 0x19a4c116, 0xb8d2d0c8, 0x1e376c08,
  0x5141ab53, 0x2748774c, 0xdf8eeb99, 0x34b0bcb5, 0xe19b48a8, 0x391c0cb3, 0xc5c95a63, 0x4ed8aa4a, 0xe3418acb,
  0x5b9cca4f, 0x7763e373, 0x682e6ff3, 0xd6b2b8a3, 0x748f82ee, 0x5defb2fc, 0x78a5636f, 0x43172f60, 0x84c87814,
  0xa1f0ab72, 0x8cc70208, 0x1a6439ec, 0x90befffa, 0x23631e28, 0xa4506ceb, 0xde82bde9, 0xbef9a3f7, 0xb2c67915,
  0xc67178f2, 0xe372532b, 0xca273ece, 0xea26619c, 0xd186b8c7, 0x21c0c207, 0xeada7dd6, 0xcde0eb1e, 0xf57d4f7f,
  0xee6ed178, 0x06f067aa, 0x72176fba, 0x0a637dc5, 0xa2c898a6, 0x113f9804, 0xbef90dae, 0x1b710b35, 0x131c471b,
  0x28db77f5, 0x23047d84, 0x32caab7b, 0x40c72493, 0x3c9ebe0a, 0x15c9bebc, 0x431d67c4, 0x9c100d4c, 0x4cc5d4be,
  0xcb3e42b6, 0x597f299c, 0xfc657e2a, 0x5fcb6fab, 0x3ad6faec, 0x6c44198c, 0x4a475817,
]);

// FIPS 180-4 §5.3.6.2: the initial hash value of SHA-512/256, as (high, low) pairs.
const H512_256 = [
  0x22312194, 0xfc2bf72c, 0x9f555fa3, 0xc84c64c2, 0x2393b86b, 0x6f53b151, 0x96387719, 0x5940eabd, 0x96283ee2,
  0xa88effe3, 0xbe5e1e25, 0x53863992, 0x2b0199fc, 0x2c85b8aa, 0x0eb72ddc, 0x81c52ca2,
];

const W512 = new Int32Array(160);
const tail128 = new Uint8Array(256);
const TWO_32 = 0x100000000;

/**
 * The SHA-512/256 digest of `data` (strings are UTF-8 encoded) as 64 lowercase hex digits: SHA-512 with its own
 * initial value, truncated to 256 bits (RFC 7616's `SHA-512-256`).
 */
export function sha512_256(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const h = new Int32Array(H512_256);
  const length = bytes.length;

  let offset = 0;
  for (; offset + 128 <= length; offset += 128) compress512(h, bytes, offset);

  // FIPS 180-4 §5.1.2: append 0x80, zero-pad to 112 mod 128, then the bit length as a 128-bit big-endian number
  // (inputs here are far below 2^53 bytes, so only the low 64 bits are ever non-zero).
  const rest = length - offset;
  tail128.fill(0);
  for (let i = 0; i < rest; i++) tail128[i] = bytes[offset + i]!;
  tail128[rest] = 0x80;
  const end = rest < 112 ? 128 : 256;
  writeBe(tail128, end - 8, Math.floor(length / 0x20000000) >>> 0);
  writeBe(tail128, end - 4, (length * 8) >>> 0);
  compress512(h, tail128, 0);
  if (end === 256) compress512(h, tail128, 128);

  // FIPS 180-4 §6.7: keep the leftmost 256 bits.
  return toHex(h, 8);
}

// FIPS 180-4 §6.4.2: the SHA-512 compression of one 1024-bit block, on (high, low) word pairs.
function compress512(h: Int32Array, x: Uint8Array, offset: number): void {
  for (let t = 0, o = offset; t < 32; t++, o += 4) W512[t] = readBe(x, o);
  for (let t = 16; t < 80; t++) {
    // σ0(W[t-15]) = ROTR1 ⊕ ROTR8 ⊕ SHR7
    const ah = W512[2 * (t - 15)]!;
    const al = W512[2 * (t - 15) + 1]!;
    const s0h = ((ah >>> 1) | (al << 31)) ^ ((ah >>> 8) | (al << 24)) ^ (ah >>> 7);
    const s0l = ((al >>> 1) | (ah << 31)) ^ ((al >>> 8) | (ah << 24)) ^ ((al >>> 7) | (ah << 25));
    // σ1(W[t-2]) = ROTR19 ⊕ ROTR61 ⊕ SHR6
    const bh = W512[2 * (t - 2)]!;
    const bl = W512[2 * (t - 2) + 1]!;
    const s1h = ((bh >>> 19) | (bl << 13)) ^ ((bl >>> 29) | (bh << 3)) ^ (bh >>> 6);
    const s1l = ((bl >>> 19) | (bh << 13)) ^ ((bh >>> 29) | (bl << 3)) ^ ((bl >>> 6) | (bh << 26));

    const lo = (s1l >>> 0) + (W512[2 * (t - 7) + 1]! >>> 0) + (s0l >>> 0) + (W512[2 * (t - 16) + 1]! >>> 0);
    const hi = s1h + W512[2 * (t - 7)]! + s0h + W512[2 * (t - 16)]! + Math.floor(lo / TWO_32);
    W512[2 * t] = hi | 0;
    W512[2 * t + 1] = lo | 0;
  }

  let ah = h[0]!,
    al = h[1]!,
    bh = h[2]!,
    bl = h[3]!,
    ch = h[4]!,
    cl = h[5]!,
    dh = h[6]!,
    dl = h[7]!;
  let eh = h[8]!,
    el = h[9]!,
    fh = h[10]!,
    fl = h[11]!,
    gh = h[12]!,
    gl = h[13]!,
    hh = h[14]!,
    hl = h[15]!;

  for (let t = 0; t < 80; t++) {
    // Σ1(e) = ROTR14 ⊕ ROTR18 ⊕ ROTR41
    const S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23));
    const S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23));
    const chh = (eh & fh) ^ (~eh & gh);
    const chl = (el & fl) ^ (~el & gl);
    const t1l = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K512[2 * t + 1]! >>> 0) + (W512[2 * t + 1]! >>> 0);
    const t1h = hh + S1h + chh + K512[2 * t]! + W512[2 * t]! + Math.floor(t1l / TWO_32);

    // Σ0(a) = ROTR28 ⊕ ROTR34 ⊕ ROTR39
    const S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25));
    const S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25));
    const majh = (ah & bh) ^ (ah & ch) ^ (bh & ch);
    const majl = (al & bl) ^ (al & cl) ^ (bl & cl);
    const t2l = (S0l >>> 0) + (majl >>> 0);
    const t2h = S0h + majh + Math.floor(t2l / TWO_32);

    hh = gh;
    hl = gl;
    gh = fh;
    gl = fl;
    fh = eh;
    fl = el;
    const el2 = (dl >>> 0) + (t1l >>> 0);
    eh = (dh + t1h + Math.floor(el2 / TWO_32)) | 0;
    el = el2 | 0;
    dh = ch;
    dl = cl;
    ch = bh;
    cl = bl;
    bh = ah;
    bl = al;
    const al2 = (t1l >>> 0) + (t2l >>> 0);
    ah = (t1h + t2h + Math.floor(al2 / TWO_32)) | 0;
    al = al2 | 0;
  }

  add64(h, 0, ah, al);
  add64(h, 2, bh, bl);
  add64(h, 4, ch, cl);
  add64(h, 6, dh, dl);
  add64(h, 8, eh, el);
  add64(h, 10, fh, fl);
  add64(h, 12, gh, gl);
  add64(h, 14, hh, hl);
}

function add64(h: Int32Array, i: number, high: number, low: number): void {
  const lo = (h[i + 1]! >>> 0) + (low >>> 0);
  h[i] = (h[i]! + high + Math.floor(lo / TWO_32)) | 0;
  h[i + 1] = lo | 0;
}

function readBe(x: Uint8Array, o: number): number {
  return (x[o]! << 24) | (x[o + 1]! << 16) | (x[o + 2]! << 8) | x[o + 3]!;
}

function writeBe(buffer: Uint8Array, at: number, value: number): void {
  buffer[at] = (value >>> 24) & 0xff;
  buffer[at + 1] = (value >>> 16) & 0xff;
  buffer[at + 2] = (value >>> 8) & 0xff;
  buffer[at + 3] = value & 0xff;
}

function toHex(words: Int32Array, count: number): string {
  let hex = '';
  for (let i = 0; i < count; i++) hex += (words[i]! >>> 0).toString(16).padStart(8, '0');
  return hex;
}
