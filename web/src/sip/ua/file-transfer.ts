/**
 * One file transfer over an MSRP session (RFC 5547): what the file selector says, how far the bytes have come,
 * whether the hash matched, and where a resumed transfer starts.
 *
 *   offered ──accepted──▶ transferring ──all bytes (and the peer's report)──▶ complete
 *      │                     │   ▲
 *      │                     │   └── the connection broke: resumed with a=file-range (same transfer id)
 *      └──refused / BYE──────┴──cancel, BYE, hash mismatch, failure──▶ failed | cancelled
 *
 * How it works. The sender describes the file (name, type, size and hash, RFC 5547 §5) and gives a readable
 * source; the core has no crypto, so the hash is the app's (it passes the value) or comes from an injected
 * FileHasher, which the sender runs over the source before the offer and the receiver over the bytes as they
 * arrive (in order: pieces that come early wait for the gap before them). The receiver counts the bytes it holds
 * from the first one on without a gap: that prefix is what survives a broken connection, and a resumed offer or
 * answer says `a=file-range:<prefix+1>-<size>` so only the rest is sent again. Each transfer is a small state
 * machine (a table and one transition).
 */
import { InvalidStateError } from '../errors.ts';
import type { MsrpBodySource } from '../msrp/index.ts';
import type { FileSelector } from '../sdp/index.ts';

/** An incremental hash (SHA-1 or SHA-256), injected: the core owns no crypto. */
export interface FileHasher {
  /** the RFC 5547 hash-algorithm token: `sha-1` (the one RFC 5547 registers) or `sha-256` */
  readonly algorithm: string;
  create(): { update(bytes: Uint8Array): void; digest(): Uint8Array };
}

/** A file to send. */
export interface FileOffer {
  readonly name: string;
  /** a MIME type; application/octet-stream when unknown */
  readonly type?: string;
  /** the bytes, read chunk by chunk (a Blob slice, a file descriptor …) */
  readonly source: MsrpBodySource;
  /** the hash the app computed; without it the FileHasher option hashes the source before the offer */
  readonly hash?: { readonly algorithm: string; readonly value: string };
  /** `attachment` (default) or `render` */
  readonly disposition?: string;
}

export type FileTransferState = 'offered' | 'transferring' | 'complete' | 'failed' | 'cancelled';

/** A file transfer, as the app shows it. */
export interface FileTransferSnapshot {
  readonly transferId: string;
  readonly direction: 'send' | 'receive';
  readonly name: string | undefined;
  readonly type: string | undefined;
  readonly size: number;
  readonly hash: { readonly algorithm: string; readonly value: string } | undefined;
  readonly state: FileTransferState;
  /** bytes acknowledged by the next hop (sending) or held without a gap from the first byte (receiving) */
  readonly bytes: number;
  /** the byte (from 1) the last (re)start began at */
  readonly startedAt: number;
  /** how often the transfer was resumed */
  readonly resumes: number;
  /** receiving, with a hasher and a hash in the selector: whether the bytes match it (undefined until known) */
  readonly verified: boolean | undefined;
  readonly reason: string | undefined;
}

const TRANSITIONS: Readonly<Record<FileTransferState, readonly FileTransferState[]>> = {
  offered: ['transferring', 'failed', 'cancelled'],
  transferring: ['complete', 'failed', 'cancelled'],
  complete: [],
  failed: [],
  cancelled: [],
};

/** RFC 5547 §6: hash values are upper-case hex pairs joined by colons. */
export function formatHash(digest: Uint8Array): string {
  return Array.from(digest, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

/** Hash a whole source with the injected hasher, 1 MiB at a time. */
export function hashSource(hasher: FileHasher, source: MsrpBodySource): { algorithm: string; value: string } {
  const state = hasher.create();
  for (let at = 0; at < source.size; at += 1 << 20)
    state.update(source.read(at, Math.min(1 << 20, source.size - at)));
  return { algorithm: hasher.algorithm, value: formatHash(state.digest()) };
}

export class FileTransfer {
  readonly transferId: string;
  readonly direction: 'send' | 'receive';
  readonly selector: FileSelector;
  readonly size: number;
  /** the sender's source; undefined on the receiving side */
  readonly source: MsrpBodySource | undefined;
  state: FileTransferState = 'offered';
  bytes = 0;
  startedAt = 1;
  resumes = 0;
  verified: boolean | undefined;
  reason: string | undefined;
  /** the MSRP Message-ID the file travels under (the same across resumes) */
  messageId: string | undefined;
  readonly #hash: ReturnType<FileHasher['create']> | undefined;
  /** receiving: pieces past a gap, waiting for it (offset from 1 → bytes) */
  readonly #early = new Map<number, Uint8Array>();

  constructor(init: {
    transferId: string;
    direction: 'send' | 'receive';
    selector: FileSelector;
    source?: MsrpBodySource | undefined;
    hasher?: FileHasher | undefined;
  }) {
    this.transferId = init.transferId;
    this.direction = init.direction;
    this.selector = init.selector;
    this.size = init.selector.size ?? init.source?.size ?? 0;
    this.source = init.source;
    const wanted = init.selector.hash?.algorithm;
    this.#hash =
      init.direction === 'receive' && wanted !== undefined && init.hasher?.algorithm === wanted
        ? init.hasher.create()
        : undefined;
  }

  /** Move to `to` where the table allows; false (and nothing changes) otherwise. */
  transition(to: FileTransferState, reason?: string): boolean {
    if (!TRANSITIONS[this.state].includes(to)) return false;
    this.state = to;
    if (reason !== undefined) this.reason = reason;
    return true;
  }

  get finished(): boolean {
    return TRANSITIONS[this.state].length === 0;
  }

  /** Receiving: where a resumed transfer starts (the first byte not held), counting from 1. */
  get resumeFrom(): number {
    return this.bytes + 1;
  }

  /**
   * Receiving: bytes at `offset` (from 1). The gap-free prefix grows (and is hashed) as far as the bytes allow;
   * bytes past a gap are kept until it closes. Bytes already held are ignored.
   */
  received(offset: number, bytes: Uint8Array): void {
    if (this.direction !== 'receive') throw new InvalidStateError('not a receiving transfer');
    if (offset - 1 > this.bytes) {
      this.#early.set(offset, bytes.slice());
      return;
    }
    this.#takeFrom(offset, bytes);
    for (let closed = true; closed;) {
      closed = false;
      for (const [at, piece] of this.#early) {
        if (at - 1 > this.bytes) continue;
        this.#early.delete(at);
        this.#takeFrom(at, piece);
        closed = true;
      }
    }
  }

  /** Receiving, all bytes in: check the hash (when there is a hasher for its algorithm). */
  finish(): void {
    if (this.#hash !== undefined && this.bytes === this.size)
      this.verified = formatHash(this.#hash.digest()) === this.selector.hash?.value.toUpperCase();
  }

  snapshot(): FileTransferSnapshot {
    return {
      transferId: this.transferId,
      direction: this.direction,
      name: this.selector.name,
      type: this.selector.type,
      size: this.size,
      hash: this.selector.hash,
      state: this.state,
      bytes: this.bytes,
      startedAt: this.startedAt,
      resumes: this.resumes,
      verified: this.verified,
      reason: this.reason,
    };
  }

  #takeFrom(offset: number, bytes: Uint8Array): void {
    const skip = this.bytes - (offset - 1);
    if (skip >= bytes.length) return;
    const fresh = bytes.subarray(skip);
    this.#hash?.update(fresh);
    this.bytes += fresh.length;
  }
}
