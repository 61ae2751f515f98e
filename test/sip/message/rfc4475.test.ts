import { describe, expect, it } from 'vitest';
import { ParseError, parseMessage, serializeMessage, type SipMessage } from '../../../web/src/sip/index.ts';
import { loadTortureCases } from '../../support/conformance.ts';
import { meaning } from '../../support/sip-meaning.ts';

const cases = loadTortureCases();

describe('RFC 4475 torture messages: the parse column of EXPECTED.tsv', () => {
  it('reads all 49 cases', () => {
    expect(cases).toHaveLength(49);
  });

  for (const c of cases) {
    it(`${c.file} (§${c.section}) → ${c.parse}: ${c.what}`, () => {
      let msg: SipMessage | undefined;
      let error: unknown;
      try {
        msg = parseMessage(c.bytes);
      } catch (e) {
        error = e;
      }
      if (error !== undefined) {
        expect(error).toBeInstanceOf(ParseError);
        expect((error as Error).cause, 'an internal error wrapped as ParseError').toBeUndefined();
      }
      if (c.parse === 'accept') expect(error, String(error)).toBeUndefined();
      if (c.parse === 'reject') expect(msg).toBeUndefined();
      // An either row whose uas column names a status must still end with it (badvers → 505).
      if (c.parse === 'either' && error instanceof ParseError && /^\d{3}$/.test(c.uas)) {
        expect(error.statusHint).toBe(Number(c.uas));
      }
      if (msg === undefined) return;
      // Accepted: parse → serialize → parse keeps the meaning and drops every oddity.
      const wire = serializeMessage(msg);
      const again = parseMessage(wire);
      expect(meaning(again)).toEqual(meaning(msg));
      expect(serializeMessage(again)).toEqual(wire);
      const text = new TextDecoder().decode(wire.subarray(0, wire.indexOf(13)));
      expect(text).toMatch(/^(\S+ \S+ SIP\/2\.0|SIP\/2\.0 \d{3} .*)$/);
    });
  }

  // Each refusal for the reason the RFC gives, not by accident.
  const reasons: Record<string, RegExp> = {
    'badinv01.dat': /parameter name/,
    'clerr.dat': /Content-Length 9999/,
    'ncl.dat': /Content-Length "-999"/,
    'scalar02.dat': /out of range/,
    'scalarlg.dat': /out of range/,
    'quotbal.dat': /unterminated quoted string/,
    'ltgtruri.dat': /URI scheme "<sip"/,
    'lwsruri.dat': /request line/,
    'baddn.dat': /name-addr|addr-spec|URI|display/,
    'bigcode.dat': /status code/,
  };
  for (const [file, reason] of Object.entries(reasons)) {
    it(`${file} is refused because: ${String(reason)}`, () => {
      const c = cases.find((x) => x.file === file)!;
      expect(() => parseMessage(c.bytes)).toThrow(reason);
    });
  }

  it('badvers.dat is refused with statusHint 505', () => {
    const c = cases.find((x) => x.file === 'badvers.dat')!;
    expect(() => parseMessage(c.bytes)).toThrow(expect.objectContaining({ statusHint: 505 }));
  });

  it('escnull.dat keeps the %00 escapes in the user part (never truncated)', () => {
    const c = cases.find((x) => x.file === 'escnull.dat')!;
    const msg = parseMessage(c.bytes);
    expect(msg.to.uri.user).toContain('%00');
    expect(serializeMessage(msg).length).toBeGreaterThan(0);
  });

  it('dblreq.dat: the second request after Content-Length is not part of the message', () => {
    const c = cases.find((x) => x.file === 'dblreq.dat')!;
    const msg = parseMessage(c.bytes);
    expect(msg.body.length).toBe(0);
    expect(new TextDecoder().decode(serializeMessage(msg))).not.toMatch(/\r\n\r\n.*INVITE/s);
  });

  it('mpart01.dat: the multipart body stays bytes, binary part included', () => {
    const c = cases.find((x) => x.file === 'mpart01.dat')!;
    const msg = parseMessage(c.bytes);
    expect(msg.body.length).toBe(Number(msg.headers.get('Content-Length')));
    const tail = c.bytes.subarray(c.bytes.length - msg.body.length);
    expect(msg.body).toEqual(tail);
  });

  it('wsinv.dat: folding, LWS and compact names are understood', () => {
    const c = cases.find((x) => x.file === 'wsinv.dat')!;
    const msg = parseMessage(c.bytes);
    expect(msg.toTag).toBe('1918181833n');
    expect(msg.fromTag).toBe('98asjd8');
    expect(msg.from.displayName).toBe('J Rosenberg \\"');
    expect(msg.maxForwards).toBe(68);
    expect(msg.cseq).toEqual({ seq: 9, method: 'INVITE' });
    expect(msg.via.map((v) => [v.transport, v.host, v.branch])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(msg.headers.get('NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(msg.headers.get('UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
    expect(msg.contacts[0]?.params.get('q')).toBe('0.33');
  });
});
