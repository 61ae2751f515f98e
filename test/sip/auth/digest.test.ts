import { describe, it, expect } from 'vitest';
import {
  computeDigestResponse,
  computeHa1,
  computeUserhash,
  createChallenge,
  parseAlgorithm,
  verifyCredentials,
} from '../../../web/src/sip/auth/digest.ts';
import { md5 } from '../../../web/src/sip/auth/md5.ts';
import { sha512_256 } from '../../../web/src/sip/auth/sha256.ts';
import {
  formatAuthorization,
  parseAuthorization,
  parseChallenge,
} from '../../../web/src/sip/auth/challenge.ts';

// RFC 7616 §3.9.1.
const rfc7616 = {
  username: 'Mufasa',
  realm: 'http-auth@example.org',
  password: 'Circle of Life',
  method: 'GET',
  uri: '/dir/index.html',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nc: 1,
  qop: 'auth',
} as const;

describe('computeDigestResponse', () => {
  it('reproduces the RFC 2617 §3.5 example', () => {
    const response = computeDigestResponse({
      algorithm: 'MD5',
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      cnonce: '0a4f113b',
      nc: '00000001',
      qop: 'auth',
    });
    expect(response).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('reproduces the RFC 7616 §3.9.1 MD5 and SHA-256 examples', () => {
    expect(computeDigestResponse({ ...rfc7616, algorithm: 'MD5' })).toBe('8ca523f5e9506fed4657c9700eebdbec');
    expect(computeDigestResponse({ ...rfc7616, algorithm: 'SHA-256' })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });

  it('gives the same answer from a stored HA1 as from the password', () => {
    for (const algorithm of ['MD5', 'SHA-256', 'SHA-512-256', 'MD5-sess', 'SHA-256-sess'] as const) {
      const ha1 = computeHa1(rfc7616.username, rfc7616.realm, rfc7616.password, algorithm);
      const { password: _password, ...rest } = rfc7616;
      expect(computeDigestResponse({ ...rest, algorithm, ha1 })).toBe(
        computeDigestResponse({ ...rfc7616, algorithm }),
      );
    }
  });

  it('follows the RFC 2617 formulas for -sess, auth-int and no qop', () => {
    const H = md5;
    const base = {
      username: 'u',
      realm: 'r',
      password: 'p',
      method: 'MESSAGE',
      uri: 'sip:bob@b.example',
      nonce: 'N',
    };
    const ha1 = H('u:r:p');
    const ha2 = H('MESSAGE:sip:bob@b.example');
    // RFC 2617 §3.2.2.1: no qop.
    expect(computeDigestResponse({ ...base, algorithm: 'MD5' })).toBe(H(`${ha1}:N:${ha2}`));
    // RFC 2617 §3.2.2.2: MD5-sess.
    const sessHa1 = H(`${ha1}:N:C`);
    expect(computeDigestResponse({ ...base, algorithm: 'MD5-sess', cnonce: 'C', nc: 2, qop: 'auth' })).toBe(
      H(`${sessHa1}:N:00000002:C:auth:${ha2}`),
    );
    // RFC 2617 §3.2.2.3: auth-int hashes the body into A2.
    const body = 'hello \u00fc';
    const ha2Int = H(`MESSAGE:sip:bob@b.example:${H(body)}`);
    expect(
      computeDigestResponse({ ...base, algorithm: 'MD5', cnonce: 'C', nc: 1, qop: 'auth-int', body }),
    ).toBe(H(`${ha1}:N:00000001:C:auth-int:${ha2Int}`));
    expect(
      computeDigestResponse({
        ...base,
        algorithm: 'MD5',
        cnonce: 'C',
        nc: 1,
        qop: 'auth-int',
        body: new TextEncoder().encode(body),
      }),
    ).toBe(H(`${ha1}:N:00000001:C:auth-int:${ha2Int}`));
    // An absent body is the empty body.
    expect(computeDigestResponse({ ...base, algorithm: 'MD5', cnonce: 'C', nc: 1, qop: 'auth-int' })).toBe(
      H(`${ha1}:N:00000001:C:auth-int:${H(`MESSAGE:sip:bob@b.example:${H('')}`)}`),
    );
  });

  it('uses SHA-512/256 for SHA-512-256', () => {
    const H = sha512_256;
    const response = computeDigestResponse({ ...rfc7616, algorithm: 'SHA-512-256' });
    const expected = H(
      `${H('Mufasa:http-auth@example.org:Circle of Life')}:${rfc7616.nonce}:00000001:${rfc7616.cnonce}:auth:${H('GET:/dir/index.html')}`,
    );
    expect(response).toBe(expected);
  });

  it('throws TypeError when an input is missing', () => {
    const { password: _password, ...noSecret } = rfc7616;
    expect(() => computeDigestResponse({ ...noSecret, algorithm: 'MD5' })).toThrow(TypeError);
    const { cnonce: _cnonce, ...noCnonce } = rfc7616;
    expect(() => computeDigestResponse({ ...noCnonce, algorithm: 'MD5' })).toThrow(TypeError);
    const { cnonce: _c, qop: _q, ...plain } = rfc7616;
    expect(() => computeDigestResponse({ ...plain, algorithm: 'SHA-256-sess' })).toThrow(TypeError);
  });
});

describe('helpers', () => {
  it('reads algorithm names case-insensitively', () => {
    expect(parseAlgorithm('sha-512-256-SESS')).toBe('SHA-512-256-sess');
    expect(parseAlgorithm('md5')).toBe('MD5');
    expect(parseAlgorithm('AKAv1-MD5')).toBeUndefined();
  });

  it('computes the RFC 7616 §3.4.4 userhash as H(username ":" realm)', () => {
    expect(computeUserhash('J\u00e4s\u00f8n Doe', 'api@example.org', 'SHA-512-256')).toBe(
      sha512_256('J\u00e4s\u00f8n Doe:api@example.org'),
    );
  });
});

describe('server side', () => {
  const ha1 = computeHa1('alice', 'atlanta.example.com', 'secret', 'SHA-256');

  it('creates challenges with sensible defaults', () => {
    const value = createChallenge({
      realm: 'atlanta.example.com',
      nonce: 'n1',
      algorithm: 'SHA-256',
      opaque: 'o',
    });
    expect(value).toBe(
      'Digest realm="atlanta.example.com", nonce="n1", opaque="o", algorithm=SHA-256, qop="auth"',
    );
    expect(
      parseChallenge(createChallenge({ realm: 'r', nonce: 'n', algorithm: 'MD5', stale: true, qop: [] })),
    ).toMatchObject({
      stale: true,
      qop: [],
      algorithm: 'MD5',
    });
  });

  const credentials = (response: string, extra: Partial<Parameters<typeof formatAuthorization>[0]> = {}) =>
    parseAuthorization(
      formatAuthorization({
        username: 'alice',
        realm: 'atlanta.example.com',
        nonce: 'n1',
        uri: 'sip:atlanta.example.com',
        response,
        algorithm: 'SHA-256',
        cnonce: 'c1',
        nc: 1,
        qop: 'auth',
        ...extra,
      }),
    );
  const right = computeDigestResponse({
    algorithm: 'SHA-256',
    username: 'alice',
    realm: 'atlanta.example.com',
    password: 'secret',
    method: 'REGISTER',
    uri: 'sip:atlanta.example.com',
    nonce: 'n1',
    cnonce: 'c1',
    nc: 1,
    qop: 'auth',
  });

  it('accepts a correct response, by HA1 or by password, in either case', () => {
    expect(verifyCredentials(credentials(right), { ha1, method: 'REGISTER' })).toBe(true);
    expect(verifyCredentials(credentials(right.toUpperCase()), { ha1, method: 'REGISTER' })).toBe(true);
    expect(verifyCredentials(credentials(right), { password: 'secret', method: 'REGISTER' })).toBe(true);
  });

  it('rejects a wrong password, method, nc or algorithm', () => {
    const wrongHa1 = computeHa1('alice', 'atlanta.example.com', 'guess', 'SHA-256');
    expect(verifyCredentials(credentials(right), { ha1: wrongHa1, method: 'REGISTER' })).toBe(false);
    expect(verifyCredentials(credentials(right), { ha1, method: 'INVITE' })).toBe(false);
    expect(verifyCredentials(credentials(right, { nc: 2 }), { ha1, method: 'REGISTER' })).toBe(false);
    expect(verifyCredentials(credentials(right, { algorithm: 'MD5' }), { ha1, method: 'REGISTER' })).toBe(
      false,
    );
    expect(
      verifyCredentials(credentials(right, { algorithm: 'AKAv1-MD5' }), { ha1, method: 'REGISTER' }),
    ).toBe(false);
    expect(verifyCredentials(credentials(right, { qop: 'auth-conf' }), { ha1, method: 'REGISTER' })).toBe(
      false,
    );
    expect(verifyCredentials(credentials('0'.repeat(64)), { ha1, method: 'REGISTER' })).toBe(false);
    expect(verifyCredentials(credentials(right.slice(0, 32)), { ha1, method: 'REGISTER' })).toBe(false);
  });

  it('rejects qop without cnonce rather than throwing', () => {
    const auth = parseAuthorization(
      `Digest username="alice", realm="atlanta.example.com", nonce="n1", uri="sip:atlanta.example.com", response="${right}", algorithm=SHA-256, qop=auth`,
    );
    expect(verifyCredentials(auth, { ha1, method: 'REGISTER' })).toBe(false);
  });

  it('verifies qop=auth-int against the body', () => {
    const body = 'v=0\r\n';
    const response = computeDigestResponse({
      algorithm: 'SHA-256',
      username: 'alice',
      realm: 'atlanta.example.com',
      password: 'secret',
      method: 'MESSAGE',
      uri: 'sip:atlanta.example.com',
      nonce: 'n1',
      cnonce: 'c1',
      nc: 1,
      qop: 'auth-int',
      body,
    });
    const auth = credentials(response, { qop: 'auth-int' });
    expect(verifyCredentials(auth, { ha1, method: 'MESSAGE', body })).toBe(true);
    expect(verifyCredentials(auth, { ha1, method: 'MESSAGE', body: 'v=1\r\n' })).toBe(false);
  });
});
