/**
 * readBlobSource: a Blob (a File the user picked or dropped) made into what the core sends a file from: an
 * MsrpBodySource (synchronous `read(offset, length)`, RFC 4975 chunking) and the RFC 5547 §5 hash for
 * a=file-selector. The Blob is read a slice at a time (Blob.slice + arrayBuffer), hashed as it goes.
 *
 *   Blob ──slice(1 MiB)──► arrayBuffer ──► hasher.update ──► pieces ──► source.read(offset, length)
 *
 * The core reads its source synchronously (while it cuts chunks for the socket), and a Blob can only be read
 * asynchronously, so the pieces are all read before the offer goes out and stay in memory until the transfer
 * ends: the sender holds the file once (the receiver never holds it whole, see file-assembler.ts).
 */
import { formatHash, type FileHasher, type MsrpBodySource } from '../sip/index.ts';

const PIECE_BYTES = 1 << 20;

export interface BlobSource {
  readonly source: MsrpBodySource;
  readonly hash: { readonly algorithm: string; readonly value: string };
}

/** Reads `data` into pieces and hashes it; `stopped()` is asked between pieces (a cancel while reading). */
export async function readBlobSource(
  data: Blob,
  hasher: FileHasher,
  stopped: () => boolean = () => false,
): Promise<BlobSource | undefined> {
  const pieces: Uint8Array[] = [];
  const hash = hasher.create();
  for (let at = 0; at < data.size; at += PIECE_BYTES) {
    const piece = new Uint8Array(await data.slice(at, Math.min(data.size, at + PIECE_BYTES)).arrayBuffer());
    if (stopped()) return undefined;
    hash.update(piece);
    pieces.push(piece);
  }
  const size = data.size;
  return {
    hash: { algorithm: hasher.algorithm, value: formatHash(hash.digest()) },
    source: {
      size,
      read(offset: number, length: number): Uint8Array {
        const end = Math.min(size, offset + length);
        if (end <= offset) return new Uint8Array(0);
        const first = Math.floor(offset / PIECE_BYTES);
        const last = Math.floor((end - 1) / PIECE_BYTES);
        const start = offset - first * PIECE_BYTES;
        if (first === last) return (pieces[first] ?? new Uint8Array(0)).subarray(start, start + end - offset);
        // A chunk across two pieces: copied into one array.
        const out = new Uint8Array(end - offset);
        for (let i = first, written = 0; i <= last; i++) {
          const piece = pieces[i] ?? new Uint8Array(0);
          const from = i === first ? start : 0;
          const to = Math.min(piece.length, from + out.length - written);
          out.set(piece.subarray(from, to), written);
          written += to - from;
        }
        return out;
      },
    },
  };
}
