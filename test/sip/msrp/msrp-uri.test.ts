import { describe, expect, it } from 'vitest';
import {
  ParseError,
  formatMsrpUri,
  msrpUriEquals,
  parseMsrpUri,
  tryMsrpUri,
} from '../../../web/src/sip/index.ts';

describe('MSRP URIs (RFC 4975 §6, RFC 7977 §5.2)', () => {
  it('reads scheme, user, host, port, session id, transport and parameters', () => {
    expect(parseMsrpUri('msrp://atlanta.example.com:7654/jshA7weztas;tcp')).toMatchObject({
      secure: false,
      user: undefined,
      host: 'atlanta.example.com',
      port: 7654,
      sessionId: 'jshA7weztas',
      transport: 'tcp',
      params: [],
    });
    expect(parseMsrpUri('msrps://alice@[2001:db8::7]/98c+j=s/x;WS;foo=bar;baz')).toMatchObject({
      secure: true,
      user: 'alice',
      host: '[2001:db8::7]',
      port: undefined,
      sessionId: '98c+j=s/x',
      transport: 'ws',
      params: ['foo=bar', 'baz'],
    });
    // A relay's own URI has no session id (RFC 4976 §5).
    expect(parseMsrpUri('msrps://relay.example.net;tcp').sessionId).toBeUndefined();
  });

  it.each([
    'sip:alice@example.com',
    'msrp://host.example/session', // no transport
    'msrp:/host.example/s;tcp',
    'msrp://host.example:99999/s;tcp', // port out of range
    'msrp://host example/s;tcp',
    'msrp://host.example/s?x;tcp',
    'msrp://host.example/s;tcp;',
    '',
  ])('refuses %j with a ParseError', (text) => {
    expect(() => parseMsrpUri(text)).toThrow(ParseError);
    expect(tryMsrpUri(text)).toBeUndefined();
  });

  it('compares scheme, host and transport without case, the session id exactly, the port with its default (§6.1)', () => {
    const a = 'msrp://Atlanta.Example.COM:2855/jshA7weztas;TCP';
    expect(msrpUriEquals(a, 'MSRP://atlanta.example.com/jshA7weztas;tcp')).toBe(true);
    expect(msrpUriEquals(a, 'msrp://alice@atlanta.example.com:2855/jshA7weztas;tcp;x=y')).toBe(true);
    expect(msrpUriEquals(a, 'msrp://atlanta.example.com:2855/JSHA7WEZTAS;tcp')).toBe(false);
    expect(msrpUriEquals(a, 'msrps://atlanta.example.com:2855/jshA7weztas;tcp')).toBe(false);
    expect(msrpUriEquals(a, 'msrp://atlanta.example.com:2856/jshA7weztas;tcp')).toBe(false);
    expect(msrpUriEquals(a, 'msrp://atlanta.example.com:2855/jshA7weztas;ws')).toBe(false);
    expect(msrpUriEquals(a, 'not a uri')).toBe(false);
  });

  it('writes a URI back from its parts', () => {
    const uri = parseMsrpUri('msrps://bob@df7jal23ls0d.invalid:443/98cjs;ws;x=1');
    expect(formatMsrpUri(uri)).toBe('msrps://bob@df7jal23ls0d.invalid:443/98cjs;ws;x=1');
    expect(
      formatMsrpUri({
        secure: false,
        user: undefined,
        host: 'h.example',
        port: undefined,
        sessionId: 's1',
        transport: 'tcp',
      }),
    ).toBe('msrp://h.example/s1;tcp');
  });
});
