import { describe, expect, it } from 'vitest';

import { DigestGuard } from '../../../gateway/core/digest-guard.ts';
import { userRecord, type UserDirectory } from '../../../gateway/core/users.ts';
import { computeDigestResponse, parseChallenges } from '../../../web/src/sip/index.ts';

const REALM = 'localhost';
const users: UserDirectory = {
  realm: REALM,
  lookup: (u) => (u === 'alice' ? userRecord('alice', REALM, 'secret') : undefined),
  has: (u) => u === 'alice',
};

function answer(challenge: string, password: string, nc = 1, user = 'alice'): string {
  const c = parseChallenges(challenge)[0]!;
  const response = computeDigestResponse({
    algorithm: c.algorithm as 'MD5' | 'SHA-256',
    username: user,
    realm: c.realm,
    password,
    method: 'REGISTER',
    uri: 'sip:localhost',
    nonce: c.nonce,
    cnonce: 'abc',
    nc,
    qop: 'auth',
  });
  return `Digest username="${user}", realm="${c.realm}", nonce="${c.nonce}", uri="sip:localhost", response="${response}", algorithm=${c.algorithm}, cnonce="abc", nc=${nc.toString(16).padStart(8, '0')}, qop=auth`;
}

describe('digest guard (registrar side of RFC 3261 §22 / RFC 7616)', () => {
  it('offers SHA-256 then MD5; both verify against the stored HA1s', () => {
    const guard = new DigestGuard({ realm: REALM, users });
    const [sha, md5] = guard.challenges(0, false);
    expect(sha).toMatch(/algorithm=SHA-256/);
    expect(md5).toMatch(/algorithm=MD5/);
    expect(guard.check([answer(sha!, 'secret')], 'REGISTER', 'alice', 's', 'ip', 1)).toEqual({
      kind: 'ok',
      user: 'alice',
    });
    expect(guard.check([answer(md5!, 'secret', 2)], 'REGISTER', 'alice', 's', 'ip', 1).kind).toBe('ok');
  });

  it('offers the challenges in the configured order (MD5 first for clients that stop at the first one)', () => {
    const guard = new DigestGuard({ realm: REALM, users, algorithms: ['MD5', 'SHA-256'] });
    const [first, second] = guard.challenges(0, false);
    expect(first).toMatch(/algorithm=MD5/);
    expect(second).toMatch(/algorithm=SHA-256/);
    const md5Only = new DigestGuard({ realm: REALM, users, algorithms: ['MD5'] }).challenges(0, false);
    expect(md5Only).toHaveLength(1);
    expect(guard.check([answer(first!, 'secret')], 'REGISTER', 'alice', 's', 'ip', 1).kind).toBe('ok');
  });

  it('no credentials or a nonce not ours: a challenge; an old nonce: stale; a replay: stale', () => {
    const guard = new DigestGuard({ realm: REALM, users, nonceLifetimeMs: 1000 });
    expect(guard.check([], 'REGISTER', 'alice', 's', 'ip', 0)).toEqual({ kind: 'challenge', stale: false });
    const [sha] = guard.challenges(0, false);
    const forged = answer(sha!, 'secret').replace(/nonce="[^"]+"/, 'nonce="bm90LW91cnM"');
    expect(guard.check([forged], 'REGISTER', 'alice', 's', 'ip', 10)).toEqual({
      kind: 'challenge',
      stale: false,
    });
    expect(guard.check([answer(sha!, 'secret')], 'REGISTER', 'alice', 's', 'ip', 2000)).toEqual({
      kind: 'challenge',
      stale: true,
    });
    const fresh = guard.challenges(3000, false)[0]!;
    expect(guard.check([answer(fresh, 'secret', 1)], 'REGISTER', 'alice', 's', 'ip', 3001).kind).toBe('ok');
    expect(guard.check([answer(fresh, 'secret', 1)], 'REGISTER', 'alice', 's', 'ip', 3002)).toEqual({
      kind: 'challenge',
      stale: true,
    });
    expect(guard.check([answer(fresh, 'secret', 2)], 'REGISTER', 'alice', 's', 'ip', 3003).kind).toBe('ok');
  });

  it('credentials of another user for this AOR: forbidden', () => {
    const guard = new DigestGuard({ realm: REALM, users });
    const [sha] = guard.challenges(0, false);
    expect(guard.check([answer(sha!, 'secret')], 'REGISTER', 'bob', 's', 'ip', 1).kind).toBe('forbidden');
  });

  it('limits failures per source, not per account, and forgets them after the window', () => {
    const guard = new DigestGuard({
      realm: REALM,
      users,
      maxFailures: 3,
      failureWindowMs: 10_000,
      maxFailuresPerIp: 100,
    });
    const [sha] = guard.challenges(0, false);
    const kinds: string[] = [];
    for (let i = 0; i < 5; i++)
      kinds.push(guard.check([answer(sha!, `wrong${i}`)], 'REGISTER', 'alice', 'evil:1', 'ip', 10 + i).kind);
    expect(kinds).toEqual(['failed', 'failed', 'failed', 'forbidden', 'forbidden']);
    // The right password from the blocked source is not even checked …
    expect(guard.check([answer(sha!, 'secret', 9)], 'REGISTER', 'alice', 'evil:1', 'ip', 20).kind).toBe(
      'forbidden',
    );
    // … the real user elsewhere is fine …
    expect(guard.check([answer(sha!, 'secret', 10)], 'REGISTER', 'alice', 'home:2', 'ip', 21).kind).toBe(
      'ok',
    );
    // … and the block ends with the window.
    expect(
      guard.check(
        [answer(guard.challenges(20_000, false)[0]!, 'secret')],
        'REGISTER',
        'alice',
        'evil:1',
        'ip',
        20_001,
      ).kind,
    ).toBe('ok');
  });

  it('limits failures per IP address across sources', () => {
    const guard = new DigestGuard({ realm: REALM, users, maxFailures: 100, maxFailuresPerIp: 4 });
    const [sha] = guard.challenges(0, false);
    for (let i = 0; i < 4; i++)
      guard.check([answer(sha!, 'wrong')], 'REGISTER', 'alice', `evil:${i}`, '10.0.0.1', 1);
    expect(guard.check([answer(sha!, 'secret')], 'REGISTER', 'alice', 'evil:99', '10.0.0.1', 2).kind).toBe(
      'forbidden',
    );
    expect(guard.check([answer(sha!, 'secret')], 'REGISTER', 'alice', 'x:1', '10.0.0.2', 2).kind).toBe('ok');
  });
});
