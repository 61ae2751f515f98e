import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../web/src/sip/errors.ts';
import {
  formatAuthorization,
  formatChallenge,
  formatNonceCount,
  parseAuthSchemes,
  parseAuthorization,
  parseChallenge,
  parseChallenges,
} from '../../../web/src/sip/auth/challenge.ts';

describe('parseChallenge', () => {
  it('reads the RFC 3261 §25 example challenge', () => {
    const c = parseChallenge(
      'Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", ' +
        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5',
    );
    expect(c).toMatchObject({
      scheme: 'Digest',
      realm: 'atlanta.com',
      domain: 'sip:boxesbybob.com',
      qop: ['auth'],
      nonce: 'f84f1cec41e6cbe5aea9c8e88d359',
      opaque: '',
      stale: false,
      algorithm: 'MD5',
    });
    expect(c.userhash).toBeUndefined();
  });

  it('reads the RFC 7616 §3.9.1 challenge with folded lines', () => {
    const c = parseChallenge(
      'Digest\r\n       realm="http-auth@example.org",\r\n       qop="auth, auth-int",\r\n' +
        '       algorithm=SHA-256,\r\n       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n' +
        '       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
    expect(c.realm).toBe('http-auth@example.org');
    expect(c.qop).toEqual(['auth', 'auth-int']);
    expect(c.algorithm).toBe('SHA-256');
    expect(c.opaque).toBe('FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS');
  });

  it('defaults the algorithm to MD5 and qop to none, and canonicalises names and case', () => {
    const c = parseChallenge(
      'dIgEsT REALM="r", Nonce=abc, ALGORITHM=sha-256-SESS, Stale=True, UserHash=TRUE',
    );
    expect(c).toMatchObject({
      realm: 'r',
      nonce: 'abc',
      algorithm: 'SHA-256-sess',
      stale: true,
      userhash: true,
    });
    expect(parseChallenge('Digest realm="r", nonce="n"')).toMatchObject({
      algorithm: 'MD5',
      qop: [],
      stale: false,
    });
  });

  it('keeps unknown algorithms and params as written', () => {
    const c = parseChallenge('Digest realm="r", nonce="n", algorithm=AKAv1-MD5, x-extra="a b"');
    expect(c.algorithm).toBe('AKAv1-MD5');
    expect(c.params.get('x-extra')).toBe('a b');
  });

  it('tolerates odd whitespace around "=" and ",", empty list elements and trailing commas', () => {
    const c = parseChallenge('  Digest \t realm \t=\t "r" ,,  nonce=  "n"\t,qop = "auth ,auth-int" , , ');
    expect(c).toMatchObject({ realm: 'r', nonce: 'n', qop: ['auth', 'auth-int'] });
  });

  it('unescapes quoted-pairs and keeps commas, "=" and UTF-8 inside quoted strings', () => {
    const c = parseChallenge(
      String.raw`Digest realm="a \"quoted\" realm, with = and \\ and ü", nonce="x\yz"`,
    );
    expect(c.realm).toBe('a "quoted" realm, with = and \\ and ü');
    expect(c.nonce).toBe('xyz');
  });

  it('accepts unquoted base64 nonces and URIs from sloppy peers', () => {
    const c = parseChallenge('Digest realm=example.com, nonce=ab/cd+ef==, domain=sip:a@b.example');
    expect(c).toMatchObject({ realm: 'example.com', nonce: 'ab/cd+ef==', domain: 'sip:a@b.example' });
  });

  it('splits several challenges in one value and leaves out other schemes', () => {
    const value =
      'Basic realm="basic", Digest realm="one", nonce="1", algorithm=SHA-256, ' +
      'Bearer abc.def==, Digest realm="two", nonce="2"';
    const all = parseAuthSchemes(value);
    expect(all.map((c) => c.scheme)).toEqual(['Basic', 'Digest', 'Bearer', 'Digest']);
    expect(all[2]!.token68).toBe('abc.def==');
    expect(parseChallenges(value).map((c) => [c.realm, c.nonce, c.algorithm])).toEqual([
      ['one', '1', 'SHA-256'],
      ['two', '2', 'MD5'],
    ]);
  });

  it.each([
    ['empty', ''],
    ['only whitespace', '   '],
    ['no realm', 'Digest nonce="n"'],
    ['no nonce', 'Digest realm="r"'],
    ['no Digest challenge at all', 'Basic realm="r"'],
    ['unterminated quoted-string', 'Digest realm="r, nonce="n'],
    ['backslash at the end', 'Digest realm="r", nonce="n\\'],
    ['missing comma between params', 'Digest realm="r" nonce="n"'],
    ['junk after a quoted string', 'Digest realm="r"x, nonce="n"'],
    ['missing value', 'Digest realm=, nonce="n"'],
    ['missing value at the end', 'Digest realm="r", nonce='],
    ['param without "="', 'Digest realm="r", nonce "n"'],
    ['no space after the scheme', 'Digest,realm="r", nonce="n"'],
    ['scheme glued to a quote', 'Digest"realm"'],
    ['a param before any scheme', 'realm="r", nonce="n"'],
    ['a repeated param', 'Digest realm="r", nonce="n", realm="s"'],
    ['a control character in a quoted string', 'Digest realm="r\u0001", nonce="n"'],
    ['a bare CR', 'Digest realm="r",\r nonce="n"'],
    ['a CRLF not followed by whitespace', 'Digest realm="r",\r\nnonce="n"'],
    ['a non-token name', 'Digest realm="r", n@nce="n"'],
    ['a token68 for Digest', 'Digest abcdef=='],
    ['a non-ASCII unquoted value', 'Digest realm=ü, nonce="n"'],
  ])('throws ParseError for %s', (_label, value) => {
    expect(() => parseChallenge(value)).toThrow(ParseError);
  });

  it('reports where the problem is', () => {
    try {
      parseChallenge('Digest realm="r" nonce="n"');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ParseError);
      expect((error as ParseError).offset).toBe(17);
      expect((error as ParseError).statusHint).toBe(400);
    }
  });

  it('throws nothing but ParseError on arbitrary input', () => {
    const alphabet = fc.constantFrom(...'Digest realm="nonce=,\\ \t\r\nqop-auth*ü\u0001\''.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 60 })), (value) => {
        try {
          parseChallenges(value);
          parseAuthorization(value);
        } catch (error) {
          if (!(error instanceof ParseError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseAuthorization', () => {
  const rfc2617 =
    'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
    'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", ' +
    'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';

  it('reads the RFC 2617 §3.5 credentials', () => {
    expect(parseAuthorization(rfc2617)).toMatchObject({
      scheme: 'Digest',
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
      response: '6629fae49393a05397450978507c4ef1',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
    });
  });

  it('decodes an RFC 5987 username*', () => {
    const a = parseAuthorization(
      'Digest username*=UTF-8\'\'J%C3%A4s%C3%B8n%20Doe, realm="r", nonce="n", uri="/", response="00"',
    );
    expect(a.username).toBe('Jäsøn Doe');
  });

  it.each([
    ['no username', 'Digest realm="r", nonce="n", uri="/", response="0"'],
    ['no response', 'Digest username="u", realm="r", nonce="n", uri="/"'],
    ['no uri', 'Digest username="u", realm="r", nonce="n", response="0"'],
    [
      'an nc that is not 8 hex digits',
      'Digest username="u", realm="r", nonce="n", uri="/", response="0", nc=1',
    ],
    [
      'both username and username*',
      'Digest username="u", username*=UTF-8\'\'u, realm="r", nonce="n", uri="/", response="0"',
    ],
    [
      'username* in another charset',
      'Digest username*=ISO-8859-1\'\'u, realm="r", nonce="n", uri="/", response="0"',
    ],
    [
      'username* with bad UTF-8',
      'Digest username*=UTF-8\'\'%C3, realm="r", nonce="n", uri="/", response="0"',
    ],
    [
      'username* with a bad escape',
      'Digest username*=UTF-8\'\'%zz, realm="r", nonce="n", uri="/", response="0"',
    ],
    [
      'two credentials in one value',
      `${'Digest username="u", realm="r", nonce="n", uri="/", response="0"'}, Digest x=y`,
    ],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
  ])('throws ParseError for %s', (_label, value) => {
    expect(() => parseAuthorization(value)).toThrow(ParseError);
  });
});

describe('formatting', () => {
  it('quotes what RFC 7616 quotes and leaves algorithm, qop and nc bare', () => {
    const value = formatAuthorization({
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: '/dir/index.html',
      response: '6629fae49393a05397450978507c4ef1',
      algorithm: 'MD5',
      cnonce: '0a4f113b',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
      qop: 'auth',
      nc: 1,
    });
    expect(value).toBe(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", ' +
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001',
    );
  });

  it('round-trips credentials with characters that need escaping', () => {
    const init = {
      username: 'a "tricky" \\ user, ü',
      realm: 'r',
      nonce: 'n',
      uri: 'sip:bob@biloxi.example.com;transport=ws',
      response: 'abc',
      nc: 'ABCDEF01',
      qop: 'auth-int',
      cnonce: 'c',
      userhash: false,
    };
    const parsed = parseAuthorization(formatAuthorization(init));
    expect(parsed).toMatchObject({ ...init, nc: 'abcdef01' });
  });

  it('round-trips challenges', () => {
    const value = formatChallenge({
      realm: 'example.com',
      nonce: 'a/b+c==',
      opaque: 'o',
      algorithm: 'SHA-256',
      qop: ['auth', 'auth-int'],
      stale: true,
      userhash: true,
      charset: 'UTF-8',
      domain: 'sip:a.example sip:b.example',
    });
    expect(value).toBe(
      'Digest realm="example.com", domain="sip:a.example sip:b.example", nonce="a/b+c==", opaque="o", ' +
        'stale=true, algorithm=SHA-256, qop="auth,auth-int", charset=UTF-8, userhash=true',
    );
    expect(parseChallenge(value)).toMatchObject({
      realm: 'example.com',
      nonce: 'a/b+c==',
      opaque: 'o',
      algorithm: 'SHA-256',
      qop: ['auth', 'auth-int'],
      stale: true,
      userhash: true,
      charset: 'UTF-8',
      domain: 'sip:a.example sip:b.example',
    });
  });

  it('round-trips arbitrary printable values', () => {
    const text = fc
      .string({ unit: 'grapheme', maxLength: 30 })
      .filter((s) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(s));
    fc.assert(
      fc.property(text, text, (realm, nonce) => {
        const c = parseChallenge(formatChallenge({ realm, nonce, algorithm: 'MD5' }));
        return c.realm === realm && c.nonce === nonce;
      }),
    );
  });

  it('refuses values that cannot be carried in a header', () => {
    expect(() => formatChallenge({ realm: 'a\r\nVia: x', nonce: 'n' })).toThrow(TypeError);
    expect(() => formatChallenge({ realm: 'r', nonce: 'n', algorithm: 'MD5, x=y' })).toThrow(TypeError);
    expect(() => formatNonceCount(0)).toThrow(TypeError);
    expect(() => formatNonceCount(2 ** 32)).toThrow(TypeError);
    expect(() => formatNonceCount('123')).toThrow(TypeError);
    expect(formatNonceCount(0xffffffff)).toBe('ffffffff');
    expect(formatNonceCount(26)).toBe('0000001a');
  });
});
