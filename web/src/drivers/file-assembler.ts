/**
 * FileAssembler: a received file (RFC 5547 over MSRP) put back together as a Blob, with bounded memory: the
 * core hands over each byte once, with its offset (`file-data` events, views of the input), and the assembler
 * copies runs of consecutive bytes into a small buffer that becomes a Blob part every PART_BYTES. The parts are
 * ordered by offset at the end, so pieces that arrive out of order (or after a resumed transfer) still land in
 * place; the browser may keep Blob parts outside the JavaScript heap (on disk for big files).
 *
 *   add(offset, bytes)… ──► run buffer ──(1 MiB or a gap)──► Blob parts ──blob(type)──► one Blob, in order
 */

/** bytes collected before they become a Blob part */
const PART_BYTES = 1 << 20;

export class FileAssembler {
  readonly #parts: { readonly offset: number; readonly blob: Blob }[] = [];
  #run: Uint8Array[] = [];
  /** offset (from 1) of the run's first byte, and of the byte after its last */
  #runStart = 0;
  #runEnd = 0;
  #held = 0;

  /** bytes held so far */
  get held(): number {
    return this.#held;
  }

  /** Bytes at `offset` (from 1, as the core counts them); copied, since the core's views are reused. */
  add(offset: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#run.length > 0 && offset !== this.#runEnd) this.#flush();
    if (this.#run.length === 0) this.#runStart = this.#runEnd = offset;
    this.#run.push(bytes.slice());
    this.#runEnd += bytes.length;
    this.#held += bytes.length;
    if (this.#runEnd - this.#runStart >= PART_BYTES) this.#flush();
  }

  /** The file so far as one Blob of `type`, its parts in byte order. */
  blob(type: string): Blob {
    this.#flush();
    const parts = [...this.#parts].sort((a, b) => a.offset - b.offset).map((part) => part.blob);
    return new Blob(parts, { type });
  }

  #flush(): void {
    if (this.#run.length === 0) return;
    this.#parts.push({ offset: this.#runStart, blob: new Blob(this.#run as BlobPart[]) });
    this.#run = [];
  }
}
