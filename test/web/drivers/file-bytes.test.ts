/**
 * The bytes of file transfer in the browser: the SHA-1 FileHasher (RFC 5547 §5 hashes), reading a Blob into the
 * core's body source, and putting a received file back together from pieces in any order.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FileAssembler, readBlobSource, sha1Hasher } from '../../../web/src/drivers/index.ts';
import { formatHash } from '../../../web/src/sip/index.ts';

function bytes(size: number, seed = 7): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const sha1 = (data: Uint8Array): string => createHash('sha1').update(data).digest('hex');
const hex = (digest: Uint8Array): string => Buffer.from(digest).toString('hex');

describe('sha1Hasher', () => {
  it('matches SHA-1 for lengths around the block and padding edges, fed whole', () => {
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]) {
      const data = bytes(n);
      const h = sha1Hasher.create();
      h.update(data);
      expect(hex(h.digest()), `length ${String(n)}`).toBe(sha1(data));
    }
    expect(sha1Hasher.algorithm).toBe('sha-1');
  });

  it('gives the same digest however the input is split (every split point, and a byte at a time)', () => {
    const data = bytes(150);
    const expected = sha1(data);
    for (let cut = 0; cut <= data.length; cut++) {
      const h = sha1Hasher.create();
      h.update(data.subarray(0, cut));
      h.update(data.subarray(cut));
      expect(hex(h.digest())).toBe(expected);
    }
    const h = sha1Hasher.create();
    for (let i = 0; i < data.length; i++) h.update(data.subarray(i, i + 1));
    expect(hex(h.digest())).toBe(expected);
  });
});

describe('readBlobSource', () => {
  it('reads a Blob of several MiB into a source that gives any range, and hashes it as RFC 5547 writes it', async () => {
    const data = bytes((3 << 20) + 17);
    const read = await readBlobSource(new Blob([data]), sha1Hasher);
    if (!read) throw new Error('stopped');
    expect(read.source.size).toBe(data.length);
    expect(read.hash).toEqual({
      algorithm: 'sha-1',
      value: formatHash(createHash('sha1').update(data).digest()),
    });
    // Ranges inside one piece, across the 1 MiB piece boundaries, and the tail.
    for (const [offset, length] of [
      [0, 16_384],
      [(1 << 20) - 100, 16_384],
      [(2 << 20) - 1, 2],
      [data.length - 17, 17],
    ] as const)
      expect(read.source.read(offset, length)).toEqual(data.subarray(offset, offset + length));
  });

  it('stops when asked between pieces (the user cancelled while it was reading)', async () => {
    let asked = 0;
    const read = await readBlobSource(new Blob([bytes(2 << 20)]), sha1Hasher, () => ++asked > 1);
    expect(read).toBeUndefined();
  });
});

describe('FileAssembler', () => {
  it('puts pieces that arrive out of order (and after a gap) back in place, copying what it is given', async () => {
    const data = bytes(50_000);
    const a = new FileAssembler();
    const pieces: [number, number][] = [
      [20_000, 30_000],
      [0, 10_000],
      [30_000, 50_000],
      [10_000, 20_000],
    ];
    for (const [from, to] of pieces) {
      const view = data.slice(from, to);
      a.add(from + 1, view);
      view.fill(0); // the core's views are reused: the assembler must have copied
    }
    expect(a.held).toBe(50_000);
    const blob = a.blob('application/octet-stream');
    expect(blob.type).toBe('application/octet-stream');
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(data);
  });

  it('a 3 MiB file in 16 KiB chunks comes out whole and identical', async () => {
    const data = bytes(3 << 20, 11);
    const a = new FileAssembler();
    for (let at = 0; at < data.length; at += 16_384) a.add(at + 1, data.subarray(at, at + 16_384));
    const out = new Uint8Array(await a.blob('x/y').arrayBuffer());
    expect(sha1(out)).toBe(sha1(data));
  });
});
