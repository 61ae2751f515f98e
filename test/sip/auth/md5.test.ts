import { createHash } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { md5 } from '../../../web/src/sip/auth/md5.ts';

const oracle = (data: Uint8Array): string => createHash('md5').update(data).digest('hex');
const pattern = (length: number): Uint8Array => new Uint8Array(length).map((_, i) => (i * 31 + 7) & 0xff);

describe('md5', () => {
  // RFC 1321 §A.5 test suite.
  it.each([
    ['', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['a', '0cc175b9c0f1b6a831c399e269772661'],
    ['abc', '900150983cd24fb0d6963f7d28e17f72'],
    ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
    ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
    ['1234567890'.repeat(8), '57edf4a22be3c955ac49da2e2107b67a'],
  ])('md5(%j) is the RFC 1321 value', (input, expected) => {
    expect(md5(input)).toBe(expected);
  });

  it('hashes a million "a"s', () => {
    expect(md5('a'.repeat(1_000_000))).toBe('7707d6ae4e027c70eea2a935c2296f21');
  });

  it('handles every length around the padding and block boundaries', () => {
    for (const length of [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 191, 192, 1000]) {
      const bytes = pattern(length);
      expect(md5(bytes), `length ${length}`).toBe(oracle(bytes));
    }
  });

  it('encodes strings as UTF-8', () => {
    const text = 'J\u00e4s\u00f8n Doe \u20ac \u{1f600}';
    expect(md5(text)).toBe(oracle(new TextEncoder().encode(text)));
    expect(md5(text)).toBe(md5(new TextEncoder().encode(text)));
  });

  it('hashes a subarray view, not its whole buffer', () => {
    const whole = pattern(200);
    expect(md5(whole.subarray(13, 113))).toBe(oracle(whole.slice(13, 113)));
  });

  it('agrees with node:crypto on arbitrary input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => md5(bytes) === oracle(bytes)),
      { numRuns: 300 },
    );
  });
});
