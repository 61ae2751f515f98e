/**
 * MD5 (RFC 1321), the hash of RFC 2617 / RFC 3261 digest authentication.
 *
 * MD5 is broken as a general-purpose hash; it is here only because nearly every deployed SIP server still
 * offers (or only offers) `algorithm=MD5`. The implementation works on 64-byte blocks read straight out of the
 * input with typed arrays: one UTF-8 encoding for string input, one reused 16-word schedule and one reused
 * 128-byte tail buffer, no per-byte allocations.
 */

const encoder = new TextEncoder();

// RFC 1321 §3.4: T[i] = floor(2^32 · |sin(i + 1)|), written out so no engine's Math.sin can change them.
const K = new Int32Array([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8,
  0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
  0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87,
  0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
  0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
  0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
  0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
  0xeb86d391,
]);

// Per-round left-rotation amounts (RFC 1321 §3.4), four per round, repeated four times.
const S1 = [7, 12, 17, 22];
const S2 = [5, 9, 14, 20];
const S3 = [4, 11, 16, 23];
const S4 = [6, 10, 15, 21];

const M = new Int32Array(16);
const tail = new Uint8Array(128);

/** The MD5 digest of `data` (strings are UTF-8 encoded) as 32 lowercase hex digits. */
export function md5(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const h = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  const length = bytes.length;

  let offset = 0;
  for (; offset + 64 <= length; offset += 64) compress(h, bytes, offset);

  // RFC 1321 §3.1–3.2: append 0x80, zero-pad to 56 mod 64, then the bit length as a 64-bit little-endian number.
  const rest = length - offset;
  tail.fill(0);
  for (let i = 0; i < rest; i++) tail[i] = bytes[offset + i]!;
  tail[rest] = 0x80;
  const end = rest < 56 ? 64 : 128;
  const bitsLow = (length * 8) >>> 0;
  const bitsHigh = Math.floor(length / 0x20000000) >>> 0;
  writeLe(tail, end - 8, bitsLow);
  writeLe(tail, end - 4, bitsHigh);
  compress(h, tail, 0);
  if (end === 128) compress(h, tail, 64);

  // RFC 1321 §3.5: the output is A, B, C, D, each low-order byte first.
  let hex = '';
  for (let i = 0; i < 4; i++) {
    const w = h[i]!;
    const swapped = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | ((w >>> 24) & 0xff);
    hex += (swapped >>> 0).toString(16).padStart(8, '0');
  }
  return hex;
}

function writeLe(buffer: Uint8Array, at: number, value: number): void {
  buffer[at] = value & 0xff;
  buffer[at + 1] = (value >>> 8) & 0xff;
  buffer[at + 2] = (value >>> 16) & 0xff;
  buffer[at + 3] = (value >>> 24) & 0xff;
}

// RFC 1321 §3.4: process one 16-word block, four rounds of sixteen operations.
function compress(h: Int32Array, x: Uint8Array, offset: number): void {
  for (let i = 0, o = offset; i < 16; i++, o += 4) {
    M[i] = x[o]! | (x[o + 1]! << 8) | (x[o + 2]! << 16) | (x[o + 3]! << 24);
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;

  for (let i = 0; i < 16; i++) {
    const f = (b & c) | (~b & d);
    const sum = (a + f + K[i]! + M[i]!) | 0;
    const s = S1[i & 3]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  for (let i = 16; i < 32; i++) {
    const f = (d & b) | (~d & c);
    const sum = (a + f + K[i]! + M[(5 * i + 1) & 15]!) | 0;
    const s = S2[i & 3]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  for (let i = 32; i < 48; i++) {
    const f = b ^ c ^ d;
    const sum = (a + f + K[i]! + M[(3 * i + 5) & 15]!) | 0;
    const s = S3[i & 3]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  for (let i = 48; i < 64; i++) {
    const f = c ^ (b | ~d);
    const sum = (a + f + K[i]! + M[(7 * i) & 15]!) | 0;
    const s = S4[i & 3]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }

  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
}
