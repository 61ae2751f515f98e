/**
 * The users file of the embedded core: `<data-dir>/users.json`, one entry per user with the HA1s only
 * (RFC 3261 §22.4, RFC 7616 §3.4.2: HA1 = H(username ":" realm ":" password), MD5 and SHA-256), never a password.
 *
 *   { "realm": "localhost", "users": { "alice": { "md5": "…", "sha256": "…" } } }
 *
 * The realm is the SIP domain the HA1s were computed for: a file made for another domain cannot authenticate
 * anyone (the hashes would not match), so `UsersFile.open` refuses such a file with a clear message instead.
 * Writes go to a temporary file renamed over the old one (atomic on POSIX), mode 0600.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { computeHa1 } from '../../web/src/sip/server.ts';

export interface UserRecord {
  /** MD5 HA1, lowercase hex */
  readonly md5: string;
  /** SHA-256 HA1, lowercase hex */
  readonly sha256: string;
}

/** What the registrar needs: HA1s by user name (the user part of an AOR in the configured domain). */
export interface UserDirectory {
  readonly realm: string;
  lookup(user: string): UserRecord | undefined;
  has(user: string): boolean;
  /** Picks up changes made while running (optional). */
  refresh?(): void;
}

interface UsersJson {
  realm: string;
  users: Record<string, UserRecord>;
}

export const USERS_FILE = 'users.json';

/** RFC 3261 §25.1 `user` without escapes, kept simple: what a person types as a chat name. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._~+-]{0,63}$/;

export function isValidUserName(name: string): boolean {
  return USER_NAME.test(name);
}

export function userRecord(user: string, realm: string, password: string): UserRecord {
  return {
    md5: computeHa1(user, realm, password, 'MD5'),
    sha256: computeHa1(user, realm, password, 'SHA-256'),
  };
}

export class UsersFileError extends Error {
  override name = 'UsersFileError';
}

export class UsersFile implements UserDirectory {
  readonly path: string;
  readonly realm: string;
  #users: Map<string, UserRecord>;
  #mtime = -1;

  private constructor(path: string, realm: string, users: Map<string, UserRecord>) {
    this.path = path;
    this.realm = realm;
    this.#users = users;
  }

  /** Opens (or, when absent, starts empty) the users file of `dataDir` for `realm`. */
  static open(dataDir: string, realm: string): UsersFile {
    const path = join(dataDir, USERS_FILE);
    if (!existsSync(path)) return new UsersFile(path, realm, new Map());
    let parsed: UsersJson;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8')) as UsersJson;
    } catch (error) {
      throw new UsersFileError(`${path}: not valid JSON (${error instanceof Error ? error.message : ''})`);
    }
    if (typeof parsed.realm !== 'string' || typeof parsed.users !== 'object' || parsed.users === null)
      throw new UsersFileError(`${path}: expected { "realm": …, "users": { … } }`);
    if (parsed.realm !== realm)
      throw new UsersFileError(
        `${path} was made for the domain "${parsed.realm}", not "${realm}": its password hashes only work for ` +
          `"${parsed.realm}" (start with --domain ${parsed.realm}, or move the file away and add the users again)`,
      );
    const users = new Map<string, UserRecord>();
    for (const [name, record] of Object.entries(parsed.users)) {
      if (typeof record.md5 === 'string' && typeof record.sha256 === 'string')
        users.set(name, { md5: record.md5, sha256: record.sha256 });
    }
    return new UsersFile(path, realm, users);
  }

  /**
   * Re-reads the file when its modification time changed (the CLI may have changed it while the gateway runs).
   * Keeps the old list when the new file cannot be read.
   */
  refresh(): void {
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch {
      mtime = 0;
    }
    if (mtime === this.#mtime) return;
    this.#mtime = mtime;
    try {
      this.#users = UsersFile.open(join(this.path, '..'), this.realm).#users;
    } catch {
      // keep what we had
    }
  }

  lookup(user: string): UserRecord | undefined {
    return this.#users.get(user);
  }

  has(user: string): boolean {
    return this.#users.has(user);
  }

  list(): string[] {
    return [...this.#users.keys()].sort();
  }

  /** Adds or replaces a user. Throws TypeError on a bad name or an empty password. */
  set(user: string, password: string): void {
    if (!isValidUserName(user)) throw new TypeError(`not a valid user name: "${user}"`);
    if (password === '') throw new TypeError('the password is empty');
    this.#users.set(user, userRecord(user, this.realm, password));
    this.#save();
  }

  /** Removes a user; false when there was none. */
  remove(user: string): boolean {
    const had = this.#users.delete(user);
    if (had) this.#save();
    return had;
  }

  #save(): void {
    mkdirSync(join(this.path, '..'), { recursive: true });
    const json: UsersJson = { realm: this.realm, users: Object.fromEntries([...this.#users].sort()) };
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
