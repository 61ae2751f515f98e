import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { runUsersCli } from '../../../gateway/core/users-cli.ts';
import { USERS_FILE, UsersFile, UsersFileError } from '../../../gateway/core/users.ts';
import { computeHa1 } from '../../../web/src/sip/index.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'users-'));
  dirs.push(d);
  return d;
};

function cli(args: string[], dataDir: string, domain = 'localhost') {
  const out: string[] = [];
  const err: string[] = [];
  const code = runUsersCli(
    [...args, '--data-dir', dataDir, '--domain', domain],
    {},
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe('users file and `npm run user`', () => {
  it('add, list, remove; only HA1s on disk, never the password, mode 0600', () => {
    const d = dir();
    expect(cli(['add', 'alice', 's3cret-pw'], d).code).toBe(0);
    expect(cli(['add', 'bob', 'pw'], d).code).toBe(0);
    expect(cli(['list'], d).out).toEqual(['sip:alice@localhost', 'sip:bob@localhost']);
    const text = readFileSync(join(d, USERS_FILE), 'utf8');
    expect(text).not.toContain('s3cret-pw');
    const json = JSON.parse(text) as {
      realm: string;
      users: Record<string, { md5: string; sha256: string }>;
    };
    expect(json.realm).toBe('localhost');
    expect(json.users.alice).toEqual({
      md5: computeHa1('alice', 'localhost', 's3cret-pw', 'MD5'),
      sha256: computeHa1('alice', 'localhost', 's3cret-pw', 'SHA-256'),
    });
    expect(statSync(join(d, USERS_FILE)).mode & 0o777).toBe(0o600);
    expect(cli(['remove', 'bob'], d).code).toBe(0);
    expect(cli(['remove', 'bob'], d).code).toBe(1);
    expect(cli(['list'], d).out).toEqual(['sip:alice@localhost']);
  });

  it('refuses bad names, missing arguments and a file made for another domain', () => {
    const d = dir();
    expect(cli(['add', 'bad name', 'x'], d).code).toBe(2);
    expect(cli(['add', 'alice'], d).code).toBe(2);
    expect(cli(['frobnicate'], d).code).toBe(2);
    // sip:uri-list@<domain> is the group-message service (RFC 5365), not a user.
    const reserved = cli(['add', 'uri-list', 'pw'], d);
    expect(reserved.code).toBe(2);
    expect(reserved.err.join('\n')).toMatch(/reserved/);
    expect(cli(['add', 'alice', 'pw'], d).code).toBe(0);
    const other = cli(['list'], d, 'example.com');
    expect(other.code).toBe(1);
    expect(other.err.join('\n')).toMatch(/made for the domain "localhost"/);
    expect(() => UsersFile.open(d, 'example.com')).toThrow(UsersFileError);
  });

  it('a running gateway picks up changes (refresh by modification time)', async () => {
    const d = dir();
    const live = UsersFile.open(d, 'localhost');
    expect(live.has('carol')).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    cli(['add', 'carol', 'pw'], d);
    live.refresh();
    expect(live.has('carol')).toBe(true);
  });
});
