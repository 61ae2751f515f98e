import { describe, expect, it } from 'vitest';
import {
  hasSdpAttribute,
  parseSdp,
  sdpAttribute,
  serializeSdp,
  type SessionDescription,
} from '../../../web/src/sip/index.ts';

const crlf = (...lines: string[]): string => lines.map((l) => l + '\r\n').join('');

const audioAndChat = crlf(
  'v=0',
  'o=juliet 2890844526 2890844527 IN IP4 capulet.example.org',
  's=Balcony',
  'i=a conversation',
  'e=juliet@capulet.example.org',
  'c=IN IP4 192.0.2.7',
  'b=AS:64',
  't=0 0',
  'r=7d 1h 0 25h',
  'a=tool:none',
  'm=audio 49170 RTP/AVP 0 8',
  'i=voice',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  'm=message 7654 TCP/MSRP *',
  'c=IN IP6 2001:db8::7',
  'b=AS:10',
  'a=accept-types:text/plain message/cpim',
  'a=path:msrp://capulet.example.org:7654/s1c2;tcp',
);

describe('SDP (RFC 4566)', () => {
  it('parses session and media levels, keeping every line', () => {
    const r = parseSdp(audioAndChat);
    expect(r.ok).toBe(true);
    const sdp = (r as { sdp: SessionDescription }).sdp;
    expect(sdp.origin).toEqual({
      username: 'juliet',
      sessionId: '2890844526',
      sessionVersion: '2890844527',
      netType: 'IN',
      addrType: 'IP4',
      address: 'capulet.example.org',
    });
    expect(sdp.name).toBe('Balcony');
    expect(sdp.connection).toBe('IN IP4 192.0.2.7');
    expect(sdp.lines.map(([t]) => t)).toEqual(['i', 'e', 'b', 't', 'r']);
    expect(sdp.media.map((m) => [m.media, m.port, m.proto, m.formats])).toEqual([
      ['audio', 49170, 'RTP/AVP', ['0', '8']],
      ['message', 7654, 'TCP/MSRP', ['*']],
    ]);
    expect(sdp.media[1]!.connection).toBe('IN IP6 2001:db8::7');
    expect(sdpAttribute(sdp.media[1]!.attributes, 'accept-types')).toBe('text/plain message/cpim');
    expect(hasSdpAttribute(sdp.media[0]!.attributes, 'sendrecv')).toBe(true);
    expect(sdpAttribute(sdp.media[0]!.attributes, 'sendrecv')).toBeUndefined();
    expect(serializeSdp(sdp)).toBe(audioAndChat);
  });

  it('takes LF line ends too (§5) and writes CRLF', () => {
    const r = parseSdp(audioAndChat.replace(/\r\n/g, '\n'));
    expect(r.ok && serializeSdp(r.sdp)).toBe(audioAndChat);
  });

  it.each([
    ['an empty text', '', 0],
    ['no v=0 first', audioAndChat.replace('v=0\r\n', ''), 1],
    ['v=1', audioAndChat.replace('v=0', 'v=1'), 1],
    ['a space before =', audioAndChat.replace('s=Balcony', 's =Balcony'), 3],
    ['an unknown line type', audioAndChat.replace('a=tool:none', 'x=1'), 10],
    [
      'lines out of order',
      audioAndChat.replace('s=Balcony\r\ni=a conversation', 'i=a conversation\r\ns=Balcony'),
      4,
    ],
    ['two s= lines', audioAndChat.replace('i=a conversation', 's=again'), 4],
    ['r= in a media section', audioAndChat.replace('i=voice', 'r=7d 1h 0 25h'), 12],
    ['a bad o= line', audioAndChat.replace('o=juliet 2890844526', 'o=juliet x'), 2],
    ['a bad m= line', audioAndChat.replace('m=audio 49170 RTP/AVP 0 8', 'm=audio 99999 RTP/AVP 0'), 11],
    [
      'an m= line without formats',
      audioAndChat.replace('m=audio 49170 RTP/AVP 0 8', 'm=audio 49170 RTP/AVP'),
      11,
    ],
    ['a bad c= line', audioAndChat.replace('c=IN IP4 192.0.2.7', 'c=IN IP4'), 6],
    ['a bad t= line', audioAndChat.replace('t=0 0', 't=now'), 8],
    ['a bad attribute name', audioAndChat.replace('a=tool:none', 'a=to ol:none'), 10],
    ['a control character', audioAndChat.replace('Balcony', 'Bal\x01cony'), 3],
    ['an empty line inside', audioAndChat.replace('t=0 0\r\n', 't=0 0\r\n\r\n'), 9],
  ])('refuses a description with %s, saying which line', (_, text, line) => {
    const r = parseSdp(text);
    expect(r.ok).toBe(false);
    expect(r.ok === false && [typeof r.reason, r.line]).toEqual(['string', line]);
  });

  it('refuses a description missing what is mandatory: t=, or a connection for a media line (§5.7)', () => {
    expect(parseSdp(crlf('v=0', 'o=- 1 1 IN IP4 h.example', 's=-'))).toMatchObject({ ok: false, line: 0 });
    const noC = crlf('v=0', 'o=- 1 1 IN IP4 h.example', 's=-', 't=0 0', 'm=message 9 TCP/MSRP *');
    expect(parseSdp(noC)).toMatchObject({ ok: false, reason: 'm= line 1 has no c= line' });
    expect(
      parseSdp(crlf('v=0', 'o=- 1 1 IN IP4 h.example', 's=-', 'm=message 9 TCP/MSRP *', 't=0 0')),
    ).toMatchObject({ ok: false });
  });

  it('never throws, whatever the text', () => {
    for (const junk of ['\u0000', '=', 'v=0\r\no', 'v=0\r\nm=', 'v=0\n\n\n', 'v=0\r\na=:\r\n'])
      expect(() => parseSdp(junk)).not.toThrow();
  });
});
