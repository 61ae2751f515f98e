import { describe, expect, it } from 'vitest';

import { coreBranch, isLoop, loopHash } from '../../../gateway/core/loop.ts';
import { parseMessage, type SipRequest } from '../../../web/src/sip/index.ts';

const request = (uri: string, vias: string[]) =>
  parseMessage(
    [
      `MESSAGE ${uri} SIP/2.0`,
      ...vias.map((v) => `Via: ${v}`),
      'From: <sip:a@x>;tag=1',
      'To: <sip:b@x>',
      'Call-ID: c1',
      'CSeq: 1 MESSAGE',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  ) as SipRequest;

describe('loop detection (RFC 3261 §16.3 step 4)', () => {
  it('a request that comes back unchanged is a loop; one with a new Request-URI (a spiral) is not', () => {
    const first = request('sip:b@x', ['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1']);
    const hash = loopHash(first);
    const via = `SIP/2.0/UDP 10.0.0.9:5060;branch=${coreBranch(hash, '1.0')}`;
    expect(isLoop(request('sip:b@x', [via, 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1']), hash)).toBe(true);
    const spiral = request('sip:b@y', [via, 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1']);
    expect(isLoop(spiral, loopHash(spiral))).toBe(false);
  });
});
