// The embedded core's proxy as a callee sees it (test/support/core-harness.ts: no sockets): what it passes on
// from the caller's request, and what it keeps for itself.

import { afterEach, describe, expect, it } from 'vitest';

import { coreHarness, type CoreHarness } from '../../support/core-harness.ts';

describe('the core as a proxy (RFC 3261 §16, §22)', () => {
  let h: CoreHarness | undefined;
  afterEach(() => {
    h?.close();
    h = undefined;
  });

  it('the caller’s credentials for the core’s realm never reach the callee; those for another realm do', () => {
    h = coreHarness({ users: { alice: 'a', bob: 'b' } });
    h.register('bob', 'b');
    const ours =
      'Digest username="alice", realm="localhost", nonce="n1", uri="sip:bob@localhost", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="c1"';
    const theirs =
      'Digest username="alice", realm="elsewhere.example", nonce="n2", uri="sip:bob@localhost", response="fedcba9876543210fedcba9876543210", algorithm=MD5';
    h.fromBrowser(
      h.requestText('alice', 'MESSAGE', 'sip:bob@localhost', {
        body: 'hi Bob',
        callId: 'creds-1',
        headers: [`Authorization: ${ours}`, `Proxy-Authorization: ${ours}`, `Authorization: ${theirs}`],
      }),
    );
    const delivered = h.requestsToEdge('MESSAGE').find((m) => m.uri.user === 'bob');
    expect(delivered?.bodyText).toBe('hi Bob');
    expect(delivered?.headers.getAll('authorization')).toEqual([theirs]);
    expect(delivered?.headers.has('proxy-authorization')).toBe(false);
    h.answer(delivered!, 200);
    expect(h.toEdge.some((m) => m.kind === 'response' && m.callId === 'creds-1' && m.status === 200)).toBe(
      true,
    );
  });
});
