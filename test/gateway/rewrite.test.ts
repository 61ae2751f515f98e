import { describe, expect, it } from 'vitest';

import {
  OwnAddresses,
  addPath,
  addRecordRoutes,
  compatTokenOf,
  deriveBranch,
  formatOwnVia,
  formsDialog,
  hopUri,
  originalContactUri,
  popOwnRoutes,
  popVia,
  redactedHead,
  restoreContactsForCompat,
  rewriteContactsForCompat,
  stampReceived,
  takeMaxForwards,
  tokenOfBranch,
  wantsOutbound,
} from '../../gateway/edge/rewrite.ts';
import { parseMessage, serializeMessage, type SipRequest, type SipResponse } from '../../web/src/sip/index.ts';

const TOKEN = 'AQIDBAUGBwgJCgsMDQ4PEBESExQV';

function request(lines: string[], method = 'MESSAGE', uri = 'sip:bob@example.com'): SipRequest {
  return parseMessage(
    [
      `${method} ${uri} SIP/2.0`,
      'Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKnashds7',
      'From: <sip:alice@example.com>;tag=a1',
      'To: <sip:bob@example.com>',
      'Call-ID: c1@x',
      `CSeq: 1 ${method}`,
      ...lines,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    { lazy: true },
  ) as SipRequest;
}

const own = new OwnAddresses(['gw.example.com', '192.0.2.1'], [5070, 8080]);

describe('Via handling', () => {
  it('stamps received and rport for a WebSocket client (RFC 7118 §5.2, RFC 3581)', () => {
    const r = request([]);
    stampReceived(r, '203.0.113.9', 50123, true);
    expect(r.headers.getAll('via')).toEqual([
      'SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;received=203.0.113.9;rport=50123',
    ]);
    expect(r.topVia?.received).toBe('203.0.113.9');
    expect(r.topVia?.rport).toBe(50123);
  });

  it('over UDP adds received only when the sent-by differs, rport only when asked', () => {
    const same = parseMessage(
      'OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n',
    ) as SipRequest;
    stampReceived(same, '10.0.0.1', 5999, false);
    expect(same.topVia?.received).toBeUndefined();
    expect(same.topVia?.rport).toBe(5999);
    const natted = request([]);
    stampReceived(natted, '198.51.100.7', 4000, false);
    expect(natted.topVia?.received).toBe('198.51.100.7');
    expect(natted.topVia?.rport).toBeUndefined();
  });

  it('writes an IPv6 source bare, as RFC 3261 §20.42 spells received', () => {
    const r = request([]);
    stampReceived(r, '::1', 1, true);
    expect(r.topVia?.received).toBe('::1');
    expect(parseMessage(serializeMessage(r)).topVia?.received).toBe('::1');
  });

  it('pushes our Via on top and pops it from the response', () => {
    const r = request([]);
    const branch = deriveBranch(r, TOKEN);
    r.headers.prepend('Via', formatOwnVia('udp', 'gw.example.com', 5070, branch));
    expect(r.via.map((v) => v.transport)).toEqual(['UDP', 'WS']);
    expect(r.topVia?.params.has('rport')).toBe(true);
    const response = parseMessage(
      `SIP/2.0 200 OK\r\nVia: ${r.headers.getAll('via').join(', ')}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>;tag=2\r\nCall-ID: 1\r\nCSeq: 1 MESSAGE\r\n\r\n`,
    ) as SipResponse;
    expect(popVia(response)?.branch).toBe(branch);
    expect(response.via.map((v) => v.host)).toEqual(['df7jal23ls0d.invalid']);
  });

  it('derives the branch from the incoming transaction (RFC 3261 §16.11): same for its CANCEL, new for another', () => {
    const invite = request([], 'INVITE');
    const cancel = request([], 'CANCEL');
    const branch = deriveBranch(invite, TOKEN);
    expect(branch.startsWith('z9hG4bKgw.')).toBe(true);
    expect(tokenOfBranch(branch)).toBe(TOKEN);
    expect(deriveBranch(cancel, TOKEN)).toBe(branch);
    const other = parseMessage(serialize(invite).replace('z9hG4bKnashds7', 'z9hG4bKother')) as SipRequest;
    expect(deriveBranch(other, TOKEN)).not.toBe(branch);
    expect(deriveBranch(invite, 'BQIDBAUGBwgJCgsMDQ4PEBESExQV')).not.toBe(branch);
    expect(tokenOfBranch('z9hG4bKabc')).toBeUndefined();
  });
});

function serialize(r: SipRequest): string {
  return [
    `${r.method} ${r.uri.toString()} SIP/2.0`,
    ...[...r.headers].map((f) => `${f.name}: ${f.value}`),
    '',
    '',
  ].join('\r\n');
}

describe('Max-Forwards', () => {
  it('decrements, sets 70 when absent, refuses 0', () => {
    const r = request(['Max-Forwards: 10']);
    expect(takeMaxForwards(r)).toBe(true);
    expect(r.maxForwards).toBe(9);
    const none = request([]);
    expect(takeMaxForwards(none)).toBe(true);
    expect(none.maxForwards).toBe(70);
    expect(takeMaxForwards(request(['Max-Forwards: 0']))).toBe(false);
  });
});

describe('Route, Path and Record-Route', () => {
  it('pops every leading Route value that names us, whatever the field layout', () => {
    const r = request([
      `Route: <sip:${TOKEN}@gw.example.com:8080;transport=ws;lr>, <sip:${TOKEN}@192.0.2.1:5070;transport=udp;lr>`,
      'Route: <sip:pbx.example.com;lr>',
    ]);
    const popped = popOwnRoutes(r, own);
    expect(popped.map((p) => p.uri.user)).toEqual([TOKEN, TOKEN]);
    expect(r.headers.getAll('route')).toEqual(['<sip:pbx.example.com;lr>']);
    // A Route naming another port of the same host is not ours.
    const other = request(['Route: <sip:gw.example.com:5999;lr>']);
    expect(popOwnRoutes(other, own)).toEqual([]);
    // No port means 5060.
    expect(
      new OwnAddresses(['gw.example.com'], [5060]).isOurs(request([]).uri.with({ host: 'GW.example.com' })),
    ).toBe(true);
  });

  it('adds Path with ob when the REGISTER asks for outbound (RFC 5626 §5.1)', () => {
    const register = request(
      ['Contact: <sip:u@x.invalid;transport=ws;ob>;reg-id=1;+sip.instance="<urn:uuid:1>"'],
      'REGISTER',
      'sip:example.com',
    );
    expect(wantsOutbound(register)).toBe(true);
    expect(wantsOutbound(request(['Contact: <sip:u@x.invalid;transport=ws>'], 'REGISTER'))).toBe(false);
    addPath(register, hopUri(TOKEN, 'gw.example.com', 5070, 'udp', true));
    expect(register.path.map((p) => p.uri.toString())).toEqual([
      `sip:${TOKEN}@gw.example.com:5070;transport=udp;lr;ob`,
    ]);
  });

  it('double-record-routes with the outbound side on top (RFC 5658 §4)', () => {
    const invite = request(['Record-Route: <sip:upstream.example.com;lr>'], 'INVITE');
    expect(formsDialog(invite)).toBe(true);
    addRecordRoutes(
      invite,
      hopUri(TOKEN, 'gw.example.com', 8080, 'ws'),
      hopUri(TOKEN, 'gw.example.com', 5070, 'udp'),
    );
    expect(invite.recordRoute.map((rr) => rr.uri.toString())).toEqual([
      `sip:${TOKEN}@gw.example.com:5070;transport=udp;lr`,
      `sip:${TOKEN}@gw.example.com:8080;transport=ws;lr`,
      'sip:upstream.example.com;lr',
    ]);
    expect(formsDialog(request([], 'MESSAGE'))).toBe(false);
    const reInvite = parseMessage(
      serialize(invite).replace('To: <sip:bob@example.com>', 'To: <sip:bob@example.com>;tag=b1'),
    ) as SipRequest;
    expect(formsDialog(reInvite)).toBe(false);
  });
});

describe('compatibility mode: the flow token in the Contact', () => {
  it('rewrites Contacts to point at the gateway and restores them in the response', () => {
    const contact = '<sip:u1@x.invalid;transport=ws;ob>;expires=600;+sip.instance="<urn:uuid:1>";reg-id=1';
    const register = request([`Contact: ${contact}`], 'REGISTER', 'sip:example.com');
    rewriteContactsForCompat(register, TOKEN, 'gw.example.com', 5070, 'udp');
    const [rewritten] = register.contacts;
    expect(rewritten?.uri.host).toBe('gw.example.com');
    expect(rewritten?.uri.port).toBe(5070);
    expect(rewritten?.uri.user).toBe('u1');
    expect(compatTokenOf(rewritten!.uri)).toBe(TOKEN);
    expect(originalContactUri(rewritten!.uri)?.toString()).toBe('sip:u1@x.invalid;transport=ws;ob');
    expect(rewritten?.params.get('reg-id')).toBe('1');

    const ok = parseMessage(
      `SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: 1\r\nCSeq: 1 REGISTER\r\nContact: ${register.headers.get('contact') ?? ''}\r\n\r\n`,
    ) as SipResponse;
    restoreContactsForCompat(ok);
    expect(ok.contacts[0]?.uri.toString()).toBe('sip:u1@x.invalid;transport=ws;ob');
    expect(ok.contacts[0]?.params.get('expires')).toBe('600');
  });

  it('leaves Contact: * alone', () => {
    const star = request(['Contact: *', 'Expires: 0'], 'REGISTER');
    rewriteContactsForCompat(star, TOKEN, 'gw.example.com', 5070, 'udp');
    expect(star.headers.get('contact')).toBe('*');
  });
});

describe('logs', () => {
  it('redact credentials and leave bodies out', () => {
    const r = parseMessage(
      'REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 REGISTER\r\nAuthorization: Digest username="alice", response="secret"\r\nProxy-Authorization: Digest response="secret2"\r\nContent-Length: 4\r\n\r\nbody',
    ) as SipRequest;
    const lines = redactedHead(r).join('\n');
    expect(lines).not.toContain('secret');
    expect(lines).not.toContain('alice"');
    expect(lines).toContain('Authorization: Digest <redacted>');
    expect(lines).not.toMatch(/\nbody/);
    expect(lines).toContain('(body: 4 bytes)');
  });
});
