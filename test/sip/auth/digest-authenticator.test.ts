import { describe, it, expect } from 'vitest';
import {
  DigestAuthenticator,
  computeHa1,
  computeUserhash,
  createChallenge,
  verifyCredentials,
  type DigestAlgorithm,
  type DigestAuthenticatorOptions,
  type DigestChallengeResult,
} from '../../../web/src/sip/auth/digest.ts';
import { parseAuthorization } from '../../../web/src/sip/auth/challenge.ts';

const RFC7616_NONCE = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
const RFC7616_OPAQUE = 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS';
const RFC7616_CNONCE = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
const rfc7616Challenge = (algorithm: string): string =>
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
  `nonce="${RFC7616_NONCE}", opaque="${RFC7616_OPAQUE}"`;
const GET = { method: 'GET', uri: '/dir/index.html' };

/** Counts the cnonces it hands out, so tests can tell them apart. */
function counter(): () => string {
  let n = 0;
  return () => `cnonce${++n}`;
}

function authenticator(options: Partial<DigestAuthenticatorOptions> = {}): DigestAuthenticator {
  return new DigestAuthenticator({
    credentials: { username: 'alice', password: 'secret' },
    cnonce: counter(),
    ...options,
  });
}

function values(result: DigestChallengeResult): string[] {
  if (result.type !== 'retry') throw new Error(`expected a retry, got ${JSON.stringify(result)}`);
  return result.values;
}

const REGISTER = { method: 'REGISTER', uri: 'sip:atlanta.example.com' };
const challenge401 = (nonce: string, extra: Partial<Parameters<typeof createChallenge>[0]> = {}): string =>
  createChallenge({ realm: 'atlanta.example.com', nonce, algorithm: 'MD5', ...extra });

describe('DigestAuthenticator: the RFC 7616 §3.9.1 exchange', () => {
  const options = {
    credentials: { username: 'Mufasa', password: 'Circle of Life' },
    cnonce: () => RFC7616_CNONCE,
  };

  it('answers the SHA-256 challenge of the pair with the RFC response', () => {
    const auth = new DigestAuthenticator(options);
    const result = auth.handleChallenge({
      status: 401,
      challenges: [rfc7616Challenge('SHA-256'), rfc7616Challenge('MD5')],
      request: GET,
      sent: [],
    });
    expect(result).toMatchObject({ type: 'retry', name: 'Authorization' });
    const sent = parseAuthorization(values(result)[0]!);
    expect(sent).toMatchObject({
      username: 'Mufasa',
      realm: 'http-auth@example.org',
      uri: '/dir/index.html',
      algorithm: 'SHA-256',
      nonce: RFC7616_NONCE,
      nc: '00000001',
      cnonce: RFC7616_CNONCE,
      qop: 'auth',
      opaque: RFC7616_OPAQUE,
      response: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    });
  });

  it('answers the MD5 challenge with the RFC response when only MD5 is allowed', () => {
    const auth = new DigestAuthenticator({ ...options, algorithms: ['MD5'] });
    const result = auth.handleChallenge({
      status: 401,
      challenges: [rfc7616Challenge('SHA-256'), rfc7616Challenge('MD5')],
      request: GET,
      sent: [],
    });
    expect(parseAuthorization(values(result)[0]!)).toMatchObject({
      algorithm: 'MD5',
      response: '8ca523f5e9506fed4657c9700eebdbec',
    });
  });
});

describe('DigestAuthenticator: choosing a challenge', () => {
  const algorithmOf = (result: DigestChallengeResult): string | undefined =>
    parseAuthorization(values(result)[0]!).algorithm;

  it.each([
    [['MD5', 'SHA-256'], 'SHA-256'],
    [['SHA-256', 'MD5'], 'SHA-256'],
    [['MD5', 'SHA-512-256', 'SHA-256'], 'SHA-512-256'],
    [['AKAv1-MD5', 'MD5'], 'MD5'],
    [['MD5-sess', 'MD5'], 'MD5-sess'],
  ])('picks the strongest of %j', (offered, chosen) => {
    const challenges = offered.map(
      (algorithm) => `Digest realm="r", nonce="n", qop="auth", algorithm=${algorithm}`,
    );
    expect(
      algorithmOf(authenticator().handleChallenge({ status: 401, challenges, request: REGISTER, sent: [] })),
    ).toBe(chosen);
  });

  it('skips malformed headers and other schemes', () => {
    const result = authenticator().handleChallenge({
      status: 407,
      challenges: [
        'Digest realm="r", nonce=',
        'Basic realm="r"',
        'Bearer abc',
        'Digest realm="r", nonce="n"',
      ],
      request: REGISTER,
      sent: [],
    });
    expect(result).toMatchObject({ type: 'retry', name: 'Proxy-Authorization' });
    // No qop offered: RFC 2069-style answer without cnonce or nc.
    const sent = parseAuthorization(values(result)[0]!);
    expect(sent.qop).toBeUndefined();
    expect(sent.nc).toBeUndefined();
    expect(sent.cnonce).toBeUndefined();
  });

  it('prefers qop=auth and falls back to auth-int, hashing the body', () => {
    const body = 'hello';
    const auth = authenticator();
    const result = auth.handleChallenge({
      status: 401,
      challenges: ['Digest realm="r", nonce="n", qop="auth-int", algorithm=SHA-256'],
      request: { method: 'MESSAGE', uri: 'sip:bob@b.example', body },
      sent: [],
    });
    const sent = parseAuthorization(values(result)[0]!);
    expect(sent.qop).toBe('auth-int');
    expect(verifyCredentials(sent, { password: 'secret', method: 'MESSAGE', body })).toBe(true);
  });

  it.each<[string, string[], DigestAuthenticatorOptions['credentials'], string]>([
    [
      'no Digest challenge',
      ['Basic realm="r"', 'Digest garbage'],
      { username: 'a', password: 'p' },
      'no-challenge',
    ],
    [
      'only unknown algorithms',
      ['Digest realm="r", nonce="n", algorithm=AKAv1-MD5'],
      { username: 'a', password: 'p' },
      'unsupported',
    ],
    [
      'only unknown qop values',
      ['Digest realm="r", nonce="n", qop="auth-conf"'],
      { username: 'a', password: 'p' },
      'unsupported',
    ],
    [
      '-sess without qop',
      ['Digest realm="r", nonce="n", algorithm=MD5-sess'],
      { username: 'a', password: 'p' },
      'unsupported',
    ],
    [
      'an MD5 HA1 against SHA-256 only',
      ['Digest realm="r", nonce="n", algorithm=SHA-256'],
      { username: 'a', ha1: '0'.repeat(32), realm: 'r' },
      'unsupported',
    ],
    [
      'another realm',
      ['Digest realm="other", nonce="n"'],
      { username: 'a', password: 'p', realm: 'r' },
      'unknown-realm',
    ],
  ])('fails on %s', (_label, challenges, credentials, reason) => {
    const result = authenticator({ credentials }).handleChallenge({
      status: 401,
      challenges,
      request: REGISTER,
      sent: [],
    });
    expect(result).toMatchObject({ type: 'fail', reason });
  });

  it('answers with a stored HA1 of the matching hash', () => {
    const ha1 = computeHa1('alice', 'r', 'secret', 'SHA-256');
    const auth = authenticator({
      credentials: { username: 'alice', ha1, ha1Algorithm: 'SHA-256', realm: 'r' },
    });
    const result = auth.handleChallenge({
      status: 401,
      challenges: [
        'Digest realm="r", nonce="n", qop="auth", algorithm=MD5',
        'Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256',
      ],
      request: REGISTER,
      sent: [],
    });
    const sent = parseAuthorization(values(result)[0]!);
    expect(sent.algorithm).toBe('SHA-256');
    expect(verifyCredentials(sent, { ha1, method: 'REGISTER' })).toBe(true);
  });

  it('throws TypeError on misuse', () => {
    expect(() => new DigestAuthenticator({ credentials: { username: 'a', password: 'p' } })).toThrow(
      TypeError,
    );
    expect(() =>
      authenticator().handleChallenge({ status: 403 as 401, challenges: [], request: REGISTER, sent: [] }),
    ).toThrow(TypeError);
  });

  it('builds a 128-bit hex cnonce from an injected random source', () => {
    let seed = 0.1;
    const auth = new DigestAuthenticator({
      credentials: { username: 'a', password: 'p' },
      random: () => (seed = (seed * 9301 + 0.49297) % 1),
    });
    const result = auth.handleChallenge({
      status: 401,
      challenges: [challenge401('n')],
      request: REGISTER,
      sent: [],
    });
    expect(parseAuthorization(values(result)[0]!).cnonce).toMatch(/^[0-9a-f]{32}$/);
  });
});

/** A minimal registrar: issues nonces on demand and checks credentials like a real one would. */
function registrar(password: string, algorithm: DigestAlgorithm = 'SHA-256') {
  const realm = 'atlanta.example.com';
  const ha1 = computeHa1('alice', realm, password, algorithm);
  let nonces = 0;
  const live = new Set<string>();
  return {
    challenge(stale = false): string {
      const nonce = `nonce-${++nonces}`;
      live.add(nonce);
      return createChallenge({ realm, nonce, algorithm, stale });
    },
    expire(): void {
      live.clear();
    },
    /** 200 if the credentials are right and the nonce is live; otherwise a fresh challenge. */
    receive(authorization: string | undefined): { status: 200 } | { status: 401; challenge: string } {
      if (authorization === undefined) return { status: 401, challenge: this.challenge() };
      const parsed = parseAuthorization(authorization);
      const good = verifyCredentials(parsed, { ha1, method: 'REGISTER' });
      if (good && live.has(parsed.nonce)) return { status: 200 };
      return { status: 401, challenge: this.challenge(good) };
    },
  };
}

describe('DigestAuthenticator: retries and giving up', () => {
  it('registers against a server after one challenge', () => {
    const server = registrar('secret');
    const auth = authenticator();
    const first = server.receive(undefined);
    expect(first.status).toBe(401);
    if (first.status !== 401) return;
    const result = auth.handleChallenge({
      status: 401,
      challenges: [first.challenge],
      request: REGISTER,
      sent: [],
    });
    expect(server.receive(values(result)[0])).toEqual({ status: 200 });
  });

  it('gives up instead of looping when the password is wrong', () => {
    const server = registrar('other');
    const auth = authenticator();
    let sent: string[] = [];
    let challenge = server.challenge();
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round++) {
      const result = auth.handleChallenge({ status: 401, challenges: [challenge], request: REGISTER, sent });
      outcomes.push(result.type === 'fail' ? result.reason : result.type);
      if (result.type === 'fail') break;
      sent = result.values;
      const answer = server.receive(sent[0]);
      if (answer.status === 200) break;
      challenge = answer.challenge;
    }
    expect(outcomes).toEqual(['retry', 'rejected']);
  });

  it('gives up when the server re-challenges with the nonce it was answered with', () => {
    const auth = authenticator();
    const first = values(
      auth.handleChallenge({ status: 401, challenges: [challenge401('n1')], request: REGISTER, sent: [] }),
    );
    const again = auth.handleChallenge({
      status: 401,
      challenges: [challenge401('n1')],
      request: REGISTER,
      sent: first,
    });
    expect(again).toEqual({ type: 'fail', reason: 'rejected', realm: 'atlanta.example.com' });
    const stale = auth.handleChallenge({
      status: 401,
      challenges: [challenge401('n1', { stale: true })],
      request: REGISTER,
      sent: first,
    });
    expect(stale).toMatchObject({ type: 'fail', reason: 'stale-loop' });
  });

  it('retries with the new nonce when the server says stale=true', () => {
    const server = registrar('secret');
    const auth = authenticator();
    const first = values(
      auth.handleChallenge({ status: 401, challenges: [server.challenge()], request: REGISTER, sent: [] }),
    );
    expect(server.receive(first[0])).toEqual({ status: 200 });

    // Later the nonce expires; the pre-emptive credentials are refused with stale=true.
    server.expire();
    const preemptive = auth.authorize(REGISTER).map((h) => h.value);
    const refused = server.receive(preemptive[0]);
    expect(refused.status).toBe(401);
    if (refused.status !== 401) return;
    expect(refused.challenge).toContain('stale=true');
    const retry = auth.handleChallenge({
      status: 401,
      challenges: [refused.challenge],
      request: REGISTER,
      sent: preemptive,
    });
    const value = values(retry)[0]!;
    expect(parseAuthorization(value)).toMatchObject({ nonce: 'nonce-2', nc: '00000001' });
    expect(server.receive(value)).toEqual({ status: 200 });
  });

  it('retries a stale challenge right after a first answer, but not a second time in a row', () => {
    const auth = authenticator();
    const first = values(
      auth.handleChallenge({ status: 401, challenges: [challenge401('n1')], request: REGISTER, sent: [] }),
    );
    const second = auth.handleChallenge({
      status: 401,
      challenges: [challenge401('n2', { stale: true })],
      request: REGISTER,
      sent: first,
    });
    expect(parseAuthorization(values(second)[0]!).nonce).toBe('n2');
    const third = auth.handleChallenge({
      status: 401,
      challenges: [challenge401('n3', { stale: true })],
      request: REGISTER,
      sent: values(second),
    });
    expect(third).toEqual({ type: 'fail', reason: 'stale-loop', realm: 'atlanta.example.com' });
  });

  it('gives a reused nonce refused without stale one retry (servers that omit stale), then gives up', () => {
    const auth = authenticator();
    values(
      auth.handleChallenge({ status: 401, challenges: [challenge401('n1')], request: REGISTER, sent: [] }),
    );
    const reused = auth.authorize(REGISTER).map((h) => h.value);
    expect(parseAuthorization(reused[0]!).nc).toBe('00000002');
    const retry = auth.handleChallenge({
      status: 401,
      challenges: [challenge401('n2')],
      request: REGISTER,
      sent: reused,
    });
    const fresh = values(retry);
    expect(parseAuthorization(fresh[0]!)).toMatchObject({ nonce: 'n2', nc: '00000001' });
    const again = auth.handleChallenge({
      status: 401,
      challenges: [challenge401('n3')],
      request: REGISTER,
      sent: fresh,
    });
    expect(again).toMatchObject({ type: 'fail', reason: 'rejected' });
  });

  it('leaves the cache untouched when it gives up', () => {
    const auth = authenticator();
    const first = values(
      auth.handleChallenge({ status: 401, challenges: [challenge401('n1')], request: REGISTER, sent: [] }),
    );
    auth.handleChallenge({ status: 401, challenges: [challenge401('n2')], request: REGISTER, sent: first });
    expect(parseAuthorization(auth.authorize(REGISTER)[0]!.value)).toMatchObject({
      nonce: 'n1',
      nc: '00000002',
    });
  });
});

describe('DigestAuthenticator: one credential per realm', () => {
  it('keeps one entry per realm and increments nc on each reuse of the nonce', () => {
    const server = registrar('secret');
    const auth = authenticator();
    const first = values(
      auth.handleChallenge({ status: 401, challenges: [server.challenge()], request: REGISTER, sent: [] }),
    );
    expect(parseAuthorization(first[0]!).nc).toBe('00000001');
    expect(server.receive(first[0])).toEqual({ status: 200 });

    for (const expected of ['00000002', '00000003', '00000004']) {
      const headers = auth.authorize(REGISTER);
      expect(headers).toHaveLength(1);
      expect(headers[0]).toMatchObject({ name: 'Authorization', realm: 'atlanta.example.com' });
      const parsed = parseAuthorization(headers[0]!.value);
      expect(parsed.nc).toBe(expected);
      expect(parsed.cnonce).not.toBe(parseAuthorization(first[0]!).cnonce);
      expect(server.receive(headers[0]!.value)).toEqual({ status: 200 });
    }
    expect(auth.realms).toEqual([{ name: 'Authorization', realm: 'atlanta.example.com', nc: 4 }]);

    // A new challenge for the same realm replaces the entry and restarts nc.
    const next = values(
      auth.handleChallenge({ status: 401, challenges: [server.challenge()], request: REGISTER, sent: [] }),
    );
    expect(parseAuthorization(next[0]!)).toMatchObject({ nonce: 'nonce-2', nc: '00000001' });
    expect(auth.realms).toHaveLength(1);
  });

  it('increments nc when a challenge repeats the nonce it already has', () => {
    const auth = authenticator();
    auth.handleChallenge({ status: 401, challenges: [challenge401('n1')], request: REGISTER, sent: [] });
    const again = values(
      auth.handleChallenge({ status: 401, challenges: [challenge401('n1')], request: REGISTER, sent: [] }),
    );
    expect(parseAuthorization(again[0]!).nc).toBe('00000002');
  });

  it('keeps the -sess cnonce for the life of the nonce', () => {
    const ha1 = computeHa1('alice', 'r', 'secret', 'SHA-256-sess');
    const auth = authenticator();
    const first = values(
      auth.handleChallenge({
        status: 401,
        challenges: [createChallenge({ realm: 'r', nonce: 'n', algorithm: 'SHA-256-sess' })],
        request: REGISTER,
        sent: [],
      }),
    );
    const later = auth.authorize(REGISTER)[0]!.value;
    const [a, b] = [parseAuthorization(first[0]!), parseAuthorization(later)];
    expect(a.cnonce).toBe(b.cnonce);
    expect([a.nc, b.nc]).toEqual(['00000001', '00000002']);
    expect(verifyCredentials(a, { ha1, method: 'REGISTER' })).toBe(true);
    expect(verifyCredentials(b, { ha1, method: 'REGISTER' })).toBe(true);
  });

  it('answers every realm of an aggregated 407 and keeps registrar and proxy credentials apart', () => {
    const auth = authenticator();
    auth.handleChallenge({
      status: 401,
      challenges: [challenge401('reg', { realm: 'atlanta.example.com' })],
      request: REGISTER,
      sent: [],
    });
    const invite = { method: 'INVITE', uri: 'sip:bob@biloxi.example.com' };
    const result = auth.handleChallenge({
      status: 407,
      challenges: [
        createChallenge({ realm: 'atlanta.example.com', nonce: 'p1', algorithm: 'MD5' }),
        createChallenge({ realm: 'biloxi.example.com', nonce: 'p2', algorithm: 'MD5' }),
        createChallenge({ realm: 'biloxi.example.com', nonce: 'p3', algorithm: 'SHA-256' }),
      ],
      request: invite,
      sent: [],
    });
    expect(result).toMatchObject({ type: 'retry', name: 'Proxy-Authorization' });
    expect(
      values(result)
        .map((v) => parseAuthorization(v))
        .map((a) => [a.realm, a.nonce]),
    ).toEqual([
      ['atlanta.example.com', 'p1'],
      ['biloxi.example.com', 'p3'],
    ]);
    expect(auth.realms.map((r) => `${r.name} ${r.realm}`).sort()).toEqual([
      'Authorization atlanta.example.com',
      'Proxy-Authorization atlanta.example.com',
      'Proxy-Authorization biloxi.example.com',
    ]);
    expect(auth.authorize(invite, 'Proxy-Authorization')).toHaveLength(2);
    expect(auth.authorize(REGISTER, 'Authorization')).toHaveLength(1);

    auth.forget('atlanta.example.com');
    expect(auth.realms.map((r) => r.realm)).toEqual(['biloxi.example.com']);
    auth.forget();
    expect(auth.authorize(invite)).toEqual([]);
  });

  it('re-sends, with a new nc, the credentials of realms the retried request carried but were not challenged', () => {
    const auth = authenticator();
    const invite = { method: 'INVITE', uri: 'sip:bob@biloxi.example.com' };
    const first = values(
      auth.handleChallenge({
        status: 407,
        challenges: [createChallenge({ realm: 'atlanta.example.com', nonce: 'a1', algorithm: 'MD5' })],
        request: invite,
        sent: [],
      }),
    );
    // The first proxy let the request through; the next one challenges for its own realm.
    const second = values(
      auth.handleChallenge({
        status: 407,
        challenges: [createChallenge({ realm: 'biloxi.example.com', nonce: 'b1', algorithm: 'MD5' })],
        request: invite,
        sent: first,
      }),
    );
    expect(second.map((v) => parseAuthorization(v)).map((a) => [a.realm, a.nc])).toEqual([
      ['biloxi.example.com', '00000001'],
      ['atlanta.example.com', '00000002'],
    ]);
  });

  it('only answers the realm the credentials are for', () => {
    const auth = authenticator({
      credentials: { username: 'alice', password: 'secret', realm: 'biloxi.example.com' },
    });
    const result = auth.handleChallenge({
      status: 407,
      challenges: [
        createChallenge({ realm: 'atlanta.example.com', nonce: 'p1', algorithm: 'MD5' }),
        createChallenge({ realm: 'biloxi.example.com', nonce: 'p2', algorithm: 'MD5' }),
      ],
      request: REGISTER,
      sent: [],
    });
    expect(values(result).map((v) => parseAuthorization(v).realm)).toEqual(['biloxi.example.com']);
  });

  it('sends the userhash when the challenge asks for it', () => {
    const auth = authenticator();
    const result = auth.handleChallenge({
      status: 401,
      challenges: [createChallenge({ realm: 'r', nonce: 'n', algorithm: 'SHA-512-256', userhash: true })],
      request: REGISTER,
      sent: [],
    });
    const sent = parseAuthorization(values(result)[0]!);
    expect(sent.userhash).toBe(true);
    expect(sent.username).toBe(computeUserhash('alice', 'r', 'SHA-512-256'));
    expect(verifyCredentials(sent, { password: 'secret', username: 'alice', method: 'REGISTER' })).toBe(true);
  });
});
