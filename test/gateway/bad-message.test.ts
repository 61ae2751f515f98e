import { describe, expect, it } from 'vitest';

import { answerUnparseable, looksLikeSip } from '../../gateway/edge/bad-message.ts';
import { parseMessage, type SipResponse } from '../../web/src/sip/index.ts';

const head = [
  'Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK1',
  'v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0',
  'From: <sip:a@x>;tag=1',
  'To: <sip:b@x>',
  'Call-ID: c1',
  'CSeq: 1 INVITE',
];

describe('unparseable input', () => {
  it('answers a request whose transaction headers can be read, echoing them (RFC 3261 §8.2.6)', () => {
    const broken = ['MESSAGE sip:b@x SIP/2.0', ...head, 'Content-Length: 0', '', ''].join('\r\n');
    const answer = answerUnparseable(broken, 400);
    expect(answer).toBeDefined();
    const response = parseMessage(answer!) as SipResponse;
    expect(response.status).toBe(400);
    expect(response.via.map((v) => v.host)).toEqual(['abc.invalid', '10.0.0.1']);
    expect(response.toTag).toBeDefined();
    expect(response.callId).toBe('c1');
  });

  it('uses 505 for another SIP version, and the status hint otherwise', () => {
    const v3 = ['MESSAGE sip:b@x SIP/3.0', ...head, '', ''].join('\r\n');
    expect((parseMessage(answerUnparseable(v3, 400)!) as SipResponse).status).toBe(505);
    const fine = ['OPTIONS sip:b@x SIP/2.0', ...head, '', ''].join('\r\n');
    expect((parseMessage(answerUnparseable(fine, 413)!) as SipResponse).status).toBe(413);
  });

  it('never answers an ACK, a response, or a request missing a transaction header', () => {
    expect(answerUnparseable(['ACK sip:b@x SIP/2.0', ...head, '', ''].join('\r\n'), 400)).toBeUndefined();
    expect(answerUnparseable(['SIP/2.0 200 OK', ...head, '', ''].join('\r\n'), 400)).toBeUndefined();
    expect(
      answerUnparseable(['MESSAGE sip:b@x SIP/2.0', ...head.slice(0, 4), '', ''].join('\r\n'), 400),
    ).toBeUndefined();
  });

  it('tells SIP-looking bytes from garbage', () => {
    expect(looksLikeSip('MESSAGE sip:b@x SIP/2.0\r\n')).toBe(true);
    expect(looksLikeSip('\r\nSIP/2.0 200 OK\r\n')).toBe(true);
    expect(looksLikeSip('GET / HTTP/1.1\r\n')).toBe(false);
    expect(looksLikeSip(new Uint8Array([0, 1, 2, 255]))).toBe(false);
  });
});
