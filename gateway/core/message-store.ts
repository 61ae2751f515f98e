/**
 * Store-and-forward for pager-mode MESSAGE (RFC 3428 §7): requests for a user with no registered contact, kept
 * in SQLite (better-sqlite3) in the data directory until a contact registers.
 *
 * Durability: WAL journal with `synchronous=FULL`, and better-sqlite3 is synchronous, so a message is on disk
 * (committed, fsynced) when `add` returns, before the 202 is sent. A SIGKILL or a power cut after the 202 loses
 * nothing. Exactly once: each message has a key (From tag, Call-ID, CSeq: RFC 3261 §8.2.2.2's merged-request
 * identity), unique in the table, so a retransmission that arrives after a restart is recognised and answered
 * 202 again without a second copy; a row is deleted only after a device answered its delivery with a 2xx.
 *
 * Expiry (RFC 3428 §7 / RFC 3261 §20.19): `expiresAt` is wall-clock milliseconds (Date + Expires, or the
 * arrival time + Expires); a row past it is dropped when met and counted in `expired`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';

export const STORE_FILE = 'messages.sqlite';

export interface StoredMessage {
  readonly id: number;
  readonly aor: string;
  readonly receivedAt: number;
  readonly expiresAt: number | null;
  /** the request as it arrived (serialized), Via/Route stripped */
  readonly request: Uint8Array;
}

interface Row {
  id: number;
  aor: string;
  received_at: number;
  expires_at: number | null;
  request: Buffer;
}

export class MessageStore {
  readonly #db: Database;
  readonly #insert;
  readonly #next;
  readonly #delete;
  readonly #countAor;
  readonly #count;
  readonly #bump;
  readonly #counter;
  readonly #expiredFor;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.#db = new Database(join(dataDir, STORE_FILE));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        aor TEXT NOT NULL,
        dedupe TEXT NOT NULL UNIQUE,
        received_at INTEGER NOT NULL,
        expires_at INTEGER,
        request BLOB NOT NULL
      );
      CREATE INDEX IF NOT EXISTS messages_by_aor ON messages (aor, id);
      CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    this.#insert = this.#db.prepare(
      'INSERT OR IGNORE INTO messages (aor, dedupe, received_at, expires_at, request) VALUES (?, ?, ?, ?, ?)',
    );
    this.#next = this.#db.prepare<Row>('SELECT * FROM messages WHERE aor = ? ORDER BY id LIMIT 1');
    this.#delete = this.#db.prepare('DELETE FROM messages WHERE id = ?');
    this.#countAor = this.#db.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM messages WHERE aor = ?');
    this.#count = this.#db.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM messages');
    this.#bump = this.#db.prepare(
      'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value',
    );
    this.#counter = this.#db.prepare<{ value: number }>('SELECT value FROM counters WHERE name = ?');
    this.#expiredFor = this.#db.prepare(
      'DELETE FROM messages WHERE aor = ? AND expires_at IS NOT NULL AND expires_at <= ?',
    );
  }

  /** Stores a message (committed when this returns). `duplicate` when its key was stored before. */
  add(
    aor: string,
    key: string,
    request: Uint8Array,
    receivedAt: number,
    expiresAt: number | null,
  ): 'stored' | 'duplicate' {
    const result = this.#insert.run(aor, key, receivedAt, expiresAt, Buffer.from(request));
    return result.changes === 1 ? 'stored' : 'duplicate';
  }

  /** The oldest unexpired message of an AOR; expired ones are deleted and counted on the way. */
  next(aor: string, now: number): StoredMessage | undefined {
    const expired = this.#expiredFor.run(aor, now).changes;
    if (expired > 0) this.#bump.run('expired', expired);
    const row = this.#next.get(aor);
    if (row === undefined) return undefined;
    return {
      id: row.id,
      aor: row.aor,
      receivedAt: row.received_at,
      expiresAt: row.expires_at,
      request: new Uint8Array(row.request),
    };
  }

  /** After the device's 2xx (`delivered`) or a final refusal (`rejected`). */
  remove(id: number, outcome: 'delivered' | 'rejected'): void {
    if (this.#delete.run(id).changes === 1) this.#bump.run(outcome, 1);
  }

  countFor(aor: string): number {
    return this.#countAor.get(aor)?.n ?? 0;
  }

  get size(): number {
    return this.#count.get()?.n ?? 0;
  }

  counter(name: 'expired' | 'delivered' | 'rejected'): number {
    return this.#counter.get(name)?.value ?? 0;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
