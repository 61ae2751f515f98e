import { createHash } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { sha256, sha512_256 } from '../../../web/src/sip/auth/sha256.ts';

const oracle = (algorithm: string, data: Uint8Array): string =>
  createHash(algorithm).update(data).digest('hex');
const pattern = (length: number): Uint8Array => new Uint8Array(length).map((_, i) => (i * 31 + 7) & 0xff);

describe('sha256', () => {
  // FIPS 180-2 appendix B / NIST examples.
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    ],
  ])('sha256(%j) is the FIPS value', (input, expected) => {
    expect(sha256(input)).toBe(expected);
  });

  it('hashes a million "a"s', () => {
    expect(sha256('a'.repeat(1_000_000))).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('handles every length around the padding and block boundaries', () => {
    for (const length of [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
      const bytes = pattern(length);
      expect(sha256(bytes), `length ${length}`).toBe(oracle('sha256', bytes));
    }
  });

  it('encodes strings as UTF-8', () => {
    const text = 'J\u00e4s\u00f8n Doe \u20ac \u{1f600}';
    expect(sha256(text)).toBe(oracle('sha256', new TextEncoder().encode(text)));
  });

  it('agrees with node:crypto on arbitrary input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => sha256(bytes) === oracle('sha256', bytes)),
      { numRuns: 300 },
    );
  });
});

describe('sha512_256', () => {
  // FIPS 180-4 / NIST SHA-512/256 examples.
  it.each([
    ['', 'c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a'],
    ['abc', '53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23'],
  ])('sha512_256(%j) is the FIPS value', (input, expected) => {
    expect(sha512_256(input)).toBe(expected);
  });

  it('handles every length around the padding and block boundaries', () => {
    for (const length of [0, 1, 110, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 257, 1000]) {
      const bytes = pattern(length);
      expect(sha512_256(bytes), `length ${length}`).toBe(oracle('sha512-256', bytes));
    }
  });

  it('hashes a long input', () => {
    const bytes = pattern(1_000_000);
    expect(sha512_256(bytes)).toBe(oracle('sha512-256', bytes));
  });

  it('agrees with node:crypto on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        (bytes) => sha512_256(bytes) === oracle('sha512-256', bytes),
      ),
      { numRuns: 300 },
    );
  });
});
