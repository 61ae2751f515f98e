import { describe, expect, it } from 'vitest';
import { ParseError, parseUri } from '../../../web/src/sip/index.ts';

describe('parseUri', () => {
  it('splits a SIP URI into its parts, keeping escapes as written', () => {
    const u = parseUri(
      'sips:al%69ce:secret@Atlanta.example.com:5061;transport=tcp;lr;maddr=[2001:db8::1]?subject=hi%20there&priority=urgent',
    );
    expect(u.scheme).toBe('sips');
    expect(u.user).toBe('al%69ce');
    expect(u.password).toBe('secret');
    expect(u.host).toBe('Atlanta.example.com');
    expect(u.port).toBe(5061);
    expect([...u.params]).toEqual([
      ['transport', 'tcp'],
      ['lr', null],
      ['maddr', '[2001:db8::1]'],
    ]);
    expect([...u.headers]).toEqual([
      ['subject', 'hi%20there'],
      ['priority', 'urgent'],
    ]);
    expect(u.aor).toBe('sip:alice@atlanta.example.com');
  });

  it('takes IPv6 references, tel, im, pres and unknown schemes', () => {
    expect(parseUri('sip:[2001:db8::10]:5070').host).toBe('[2001:db8::10]');
    const tel = parseUri('tel:+1-201-555-0123;phone-context=example.com');
    expect([tel.scheme, tel.user, tel.param('phone-context')]).toEqual([
      'tel',
      '+1-201-555-0123',
      'example.com',
    ]);
    const im = parseUri('im:juliet@capulet.example');
    expect([im.scheme, im.user, im.host]).toEqual(['im', 'juliet', 'capulet.example']);
    expect(parseUri('pres:romeo@montague.example').scheme).toBe('pres');
    const other = parseUri('http://example.com/a?b=c');
    expect([other.scheme, other.opaque]).toEqual(['http', '//example.com/a?b=c']);
  });

  it('re-emits exactly what it parsed, and rebuilds a changed URI', () => {
    const text = 'sip:bob@biloxi.example.com;transport=ws;ob';
    const u = parseUri(text);
    expect(u.toString()).toBe(text);
    expect(u.withParam('ob', undefined).withParam('lr', null).toString()).toBe(
      'sip:bob@biloxi.example.com;transport=ws;lr',
    );
  });

  it.each([
    ['whitespace', 'sip:bob@biloxi .com'],
    ['no scheme', 'bob@biloxi.com'],
    ['bad port', 'sip:bob@biloxi.com:99999'],
    ['bad escape', 'sip:b%zzob@biloxi.com'],
    ['empty host', 'sip:bob@'],
    ['header without =', 'sip:bob@b.com?subject'],
    ['empty param', 'sip:bob@b.com;=x'],
  ])('refuses %s with ParseError', (_what, text) => {
    expect(() => parseUri(text)).toThrow(ParseError);
  });
});

// RFC 3261 §19.1.4 lists these pairs.
describe('URI comparison (RFC 3261 §19.1.4)', () => {
  it.each([
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    [
      'sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
      'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com',
    ],
    [
      'sip:alice@atlanta.com?subject=project%20x&priority=urgent',
      'sip:alice@atlanta.com?priority=urgent&subject=project%20x',
    ],
  ])('%s equals %s', (a, b) => {
    expect(parseUri(a).equals(parseUri(b))).toBe(true);
    expect(parseUri(b).equals(parseUri(a))).toBe(true);
  });

  it.each([
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:bob@biloxi.com', 'sips:bob@biloxi.com'],
  ])('%s differs from %s', (a, b) => {
    expect(parseUri(a).equals(parseUri(b))).toBe(false);
    expect(parseUri(b).equals(parseUri(a))).toBe(false);
  });

  it('compares %00 escapes without truncating (RFC 4475 §3.1.1.4)', () => {
    expect(parseUri('sip:null-%00-null@example.com').equals(parseUri('sip:null-%00-nulL@example.com'))).toBe(
      false,
    );
    expect(parseUri('sip:%61%00b@example.com').equals(parseUri('sip:a%00b@example.com'))).toBe(true);
  });
});
