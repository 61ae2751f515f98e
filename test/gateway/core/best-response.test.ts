import { describe, expect, it } from 'vitest';

import { bestResponseIndex, chooseBestResponse } from '../../../gateway/core/best-response.ts';
import { SipResponse } from '../../../web/src/sip/index.ts';

const response = (status: number, headers: Record<string, string | string[]> = {}) =>
  new SipResponse(status, 'x', headers);

describe('best response (RFC 3261 §16.7 step 6)', () => {
  it('6xx wins, then the lowest class, preferring 401/407/415/420/484 within 4xx', () => {
    expect(bestResponseIndex([486, 603, 302])).toBe(1);
    expect(bestResponseIndex([503, 486, 302])).toBe(2);
    expect(bestResponseIndex([480, 486, 407, 500])).toBe(2);
    expect(bestResponseIndex([503, 480])).toBe(1);
    expect(bestResponseIndex([480, 486])).toBe(0);
    expect(bestResponseIndex([])).toBe(-1);
  });

  it('merges the challenges of every 401/407', () => {
    const best = chooseBestResponse([
      response(401, { 'WWW-Authenticate': 'Digest realm="a", nonce="1"' }),
      response(486),
      response(407, { 'Proxy-Authenticate': 'Digest realm="b", nonce="2"' }),
      response(401, { 'WWW-Authenticate': ['Digest realm="c", nonce="3"', 'Digest realm="a", nonce="1"'] }),
    ]);
    expect(best?.status).toBe(401);
    expect(best?.headers.getAll('www-authenticate')).toEqual([
      'Digest realm="a", nonce="1"',
      'Digest realm="c", nonce="3"',
    ]);
    expect(best?.headers.getAll('proxy-authenticate')).toEqual(['Digest realm="b", nonce="2"']);
  });

  it('a chosen 503 is sent as 500', () => {
    const best = chooseBestResponse([response(503, { 'Retry-After': '5' })]);
    expect(best?.status).toBe(500);
    expect(best?.headers.has('retry-after')).toBe(false);
  });
});
