import { describe, expect, it } from 'vitest';
import {
  ParseError,
  SipRequest,
  createResponse,
  formatDate,
  parseMessage,
  parseMultipart,
  parseUri,
  serializeMessage,
  serializeMultipart,
  SipHeaders,
} from '../../../web/src/sip/index.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const crlf = (lines: string[]): string => lines.join('\r\n');

const MESSAGE = crlf([
  'MESSAGE sip:juliet@capulet.example SIP/2.0',
  'v: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK776sgdkse;rport',
  'Max-Forwards: 70',
  'f: "Romeo Montague" <sip:romeo@montague.example>;tag=49583',
  't: <sip:juliet@capulet.example>',
  'i: asd88asd77a@1.2.3.4',
  'CSeq: 1 MESSAGE',
  'c: text/plain;charset=UTF-8',
  'Expires: 300',
  'Date: Sun, 22 Nov 2026 09:00:00 GMT',
  'Accept-Contact: *;+sip.text;require;explicit',
  'Request-Disposition: sequential, no-cancel',
  'l: 24',
  '',
  'Wherefore art thou? 🌹',
]);

describe('parseMessage', () => {
  it('gives typed access to the headers a chat needs, compact forms included', () => {
    const msg = parseMessage(enc.encode(MESSAGE));
    if (msg.kind !== 'request') throw new Error('expected a request');
    expect(msg.method).toBe('MESSAGE');
    expect(msg.uri.toString()).toBe('sip:juliet@capulet.example');
    expect(msg.topVia).toMatchObject({
      transport: 'WSS',
      host: 'df7jal23ls0d.invalid',
      branch: 'z9hG4bK776sgdkse',
      rport: null,
    });
    expect(msg.from.displayName).toBe('Romeo Montague');
    expect(msg.fromTag).toBe('49583');
    expect(msg.toTag).toBeUndefined();
    expect(msg.callId).toBe('asd88asd77a@1.2.3.4');
    expect(msg.cseq).toEqual({ seq: 1, method: 'MESSAGE' });
    expect(msg.contentType).toMatchObject({ type: 'text', subtype: 'plain' });
    expect(msg.expires).toBe(300);
    expect(msg.date).toBe(Date.UTC(2026, 10, 22, 9, 0, 0));
    expect([...(msg.acceptContact[0]?.params.keys() ?? [])]).toEqual(['+sip.text', 'require', 'explicit']);
    expect(msg.requestDisposition).toEqual(['sequential', 'no-cancel']);
    expect(msg.bodyText).toBe('Wherefore art thou? 🌹');
    expect(msg.body.length).toBe(24);
  });

  it('reads the same message given as text', () => {
    const msg = parseMessage(MESSAGE);
    expect(msg.bodyText).toBe('Wherefore art thou? 🌹');
  });

  it('reports a byte offset and a status hint', () => {
    const bad = enc.encode(MESSAGE.replace('CSeq: 1 MESSAGE', 'CSeq: one MESSAGE'));
    try {
      parseMessage(bad);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      const pe = e as ParseError;
      expect(dec.decode(bad.subarray(pe.offset, pe.offset + 9))).toBe('one MESSA');
      expect(pe.statusHint).toBe(400);
    }
  });

  it('lazy mode checks routing headers now and the rest on use', () => {
    const text = MESSAGE.replace('Expires: 300', 'Expires: soon');
    expect(() => parseMessage(text)).toThrow(/Expires/);
    const lazy = parseMessage(text, { lazy: true });
    expect(lazy.callId).toBe('asd88asd77a@1.2.3.4');
    expect(() => lazy.expires).toThrow(ParseError);
    expect(() =>
      parseMessage(MESSAGE.replace('Max-Forwards: 70', 'Max-Forwards: 256'), { lazy: true }),
    ).toThrow(/Max-Forwards/);
  });

  it('takes a bare IPv6 address in Via received (RFC 3261 §20.42)', () => {
    const msg = parseMessage(MESSAGE.replace(';rport\r\n', ';received=2001:db8::9;rport=5060\r\n'));
    expect(msg.topVia).toMatchObject({ received: '2001:db8::9', rport: 5060 });
    expect(msg.headers.get('Via')).toContain('received=2001:db8::9');
  });

  it('parses auth challenges, Event, Subscription-State, RAck, Replaces, Warning', () => {
    const res = parseMessage(
      crlf([
        'SIP/2.0 401 Unauthorized',
        'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
        'From: <sip:a@b>;tag=1',
        'To: <sip:a@b>;tag=2',
        'Call-ID: x',
        'CSeq: 2 REGISTER',
        'WWW-Authenticate: Digest realm="b", nonce="n\\"1", algorithm=SHA-256, qop="auth"',
        'WWW-Authenticate: Digest realm="b", nonce="n2", algorithm=MD5',
        'Warning: 399 proxy.example "Too \\"busy\\""',
        'Content-Length: 0',
        '',
        '',
      ]),
    );
    expect(
      res.wwwAuthenticate.map((a) => [a.scheme, a.params.get('nonce'), a.params.get('algorithm')]),
    ).toEqual([
      ['Digest', 'n"1', 'SHA-256'],
      ['Digest', 'n2', 'MD5'],
    ]);
    expect(res.warning).toEqual([{ code: 399, agent: 'proxy.example', text: 'Too "busy"' }]);
    const notify = parseMessage(
      crlf([
        'NOTIFY sip:a@b SIP/2.0',
        'Via: SIP/2.0/TCP h;branch=z9hG4bK2',
        'From: <sip:p@b>;tag=1',
        'To: <sip:a@b>;tag=2',
        'Call-ID: y',
        'CSeq: 5 NOTIFY',
        'Event: presence;id=7',
        'Subscription-State: terminated;reason=timeout;retry-after=30',
        'RAck: 776656 1 INVITE',
        'Replaces: 425928@bobster.example.org;to-tag=7743;from-tag=6472;early-only',
        'Content-Length: 0',
        '',
        '',
      ]),
    );
    expect(notify.event).toMatchObject({ event: 'presence', id: '7' });
    expect(notify.subscriptionState).toMatchObject({
      state: 'terminated',
      reason: 'timeout',
      retryAfter: 30,
    });
    expect(notify.rack).toEqual({ rseq: 776656, cseq: 1, method: 'INVITE' });
    expect(notify.replaces).toMatchObject({
      callId: '425928@bobster.example.org',
      toTag: '7743',
      fromTag: '6472',
      earlyOnly: true,
    });
  });

  it.each([
    ['a header line without a colon', (m: string) => m.replace('Max-Forwards: 70', 'Max-Forwards 70')],
    ['a bare LF', (m: string) => m.replace('Max-Forwards: 70', 'Max-Forwards: 7\n0')],
    ['a missing Call-ID', (m: string) => m.replace('i: asd88asd77a@1.2.3.4\r\n', '')],
    [
      'a repeated To',
      (m: string) => m.replace('t: <sip:juliet@capulet.example>', 't: <sip:a@b>\r\nTo: <sip:c@d>'),
    ],
    ['a short body', (m: string) => m.replace('l: 24', 'l: 99')],
    ['a status code out of range', () => 'SIP/2.0 99 Odd\r\nVia: SIP/2.0/UDP h\r\n\r\n'],
  ])('refuses %s with ParseError', (_what, mutate) => {
    expect(() => parseMessage(mutate(MESSAGE))).toThrow(ParseError);
  });
});

describe('building and serializing', () => {
  it('builds a request from scratch and serializes it canonically', () => {
    const req = new SipRequest(
      'MESSAGE',
      parseUri('sip:juliet@capulet.example'),
      [
        ['Via', 'SIP/2.0/WSS abc.invalid;branch=z9hG4bKx'],
        ['Max-Forwards', '70'],
        ['From', '<sip:romeo@montague.example>;tag=1'],
        ['To', '<sip:juliet@capulet.example>'],
        ['Call-ID', 'c1'],
        ['CSeq', '1 MESSAGE'],
        ['Content-Type', 'text/plain'],
      ],
      'hi',
    );
    expect(dec.decode(serializeMessage(req))).toBe(
      crlf([
        'MESSAGE sip:juliet@capulet.example SIP/2.0',
        'Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bKx',
        'Max-Forwards: 70',
        'From: <sip:romeo@montague.example>;tag=1',
        'To: <sip:juliet@capulet.example>',
        'Call-ID: c1',
        'CSeq: 1 MESSAGE',
        'Content-Type: text/plain',
        'Content-Length: 2',
        '',
        'hi',
      ]),
    );
  });

  it('expands compact names, unfolds, and rewrites a wrong Content-Length', () => {
    const msg = parseMessage(MESSAGE);
    msg.body = 'short';
    const out = dec.decode(serializeMessage(msg));
    expect(out).toContain('\r\nVia: SIP/2.0/WSS');
    expect(out).toContain('\r\nContent-Length: 5\r\n');
    expect(out.endsWith('\r\n\r\nshort')).toBe(true);
  });

  it('refuses a header value that would inject a line', () => {
    const msg = parseMessage(MESSAGE);
    msg.headers.set('Subject', 'x\r\nTo: <sip:evil@example.com>');
    expect(() => serializeMessage(msg)).toThrow(TypeError);
  });

  it('createResponse copies Via, From, To (+tag), Call-ID, CSeq (RFC 3261 §8.2.6.2)', () => {
    const req = parseMessage(MESSAGE);
    if (req.kind !== 'request') throw new Error('request expected');
    const res = createResponse(req, 202, { toTag: 'j1' });
    expect(res.reason).toBe('Accepted');
    expect(res.toTag).toBe('j1');
    expect(res.via).toEqual(req.via);
    expect([res.callId, res.cseq, res.fromTag]).toEqual([req.callId, req.cseq, req.fromTag]);
    expect(res.headers.has('Content-Type')).toBe(false);
    expect(createResponse(req, 100, { toTag: 'j1' }).toTag).toBeUndefined();
  });

  it('headers: prepend Via, shift a comma-separated Route, set in place', () => {
    const h = SipHeaders.from([
      ['Via', 'SIP/2.0/UDP a;branch=z9hG4bK1'],
      ['Route', '<sip:p1;lr>, <sip:p2;lr>'],
      ['To', '<sip:x@y>'],
    ]);
    h.prepend('v', 'SIP/2.0/TCP b;branch=z9hG4bK2');
    expect(h.getAll('Via')).toEqual(['SIP/2.0/TCP b;branch=z9hG4bK2', 'SIP/2.0/UDP a;branch=z9hG4bK1']);
    expect(h.shift('Route')).toBe('<sip:p1;lr>');
    expect(h.get('route')).toBe('<sip:p2;lr>');
    h.set('To', '<sip:z@y>');
    expect(h.fields.map((f) => f.name)).toEqual(['Via', 'Via', 'Route', 'To']);
  });

  it('formats dates as RFC 1123 GMT', () => {
    expect(formatDate(Date.UTC(2026, 10, 22, 9, 5, 7))).toBe('Sun, 22 Nov 2026 09:05:07 GMT');
    expect(formatDate(0)).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
  });
});

describe('multipart bodies', () => {
  it('splits and rebuilds parts as bytes, binary included', () => {
    const binary = new Uint8Array([0, 255, 13, 10, 45, 45, 1]);
    const parts = [
      { headers: SipHeaders.from([['Content-Type', 'text/plain']]), body: enc.encode('hello') },
      { headers: SipHeaders.from([['Content-Type', 'application/octet-stream']]), body: binary },
    ];
    const body = serializeMultipart(parts, 'boundary42');
    const back = parseMultipart(body, 'boundary42');
    expect(back.map((p) => p.headers.get('content-type'))).toEqual([
      'text/plain',
      'application/octet-stream',
    ]);
    expect(back[0]?.body).toEqual(enc.encode('hello'));
    expect(back[1]?.body).toEqual(binary);
  });

  it('refuses an unterminated multipart body', () => {
    expect(() => parseMultipart(enc.encode('--b\r\nContent-Type: text/plain\r\n\r\nx'), 'b')).toThrow(
      ParseError,
    );
  });
});
