import { describe, expect, it } from 'vitest';
import {
  MAGIC_COOKIE,
  ackKey2543,
  cancelKey,
  clientKey,
  createAck,
  createCancel,
  isRfc3261Branch,
  newBranch,
  responseKey,
  serverKey,
} from '../../../web/src/sip/transaction/index.ts';
import { buildInvite, buildRequest, buildResponse, seededRandom } from '../../support/sip-builders.ts';

describe('branches (§8.1.1.7)', () => {
  it('newBranch: the magic cookie and a token from the injected random', () => {
    const a = newBranch(seededRandom(7));
    expect(a).toMatch(/^z9hG4bK[0-9a-z]{16}$/);
    expect(newBranch(seededRandom(7))).toBe(a);
    expect(newBranch(seededRandom(8))).not.toBe(a);
    expect(newBranch(() => 0.999_999_9, 4)).toBe(`${MAGIC_COOKIE}zzzz`);
    expect(() => newBranch(() => 1)).toThrow(TypeError);
  });

  it('only the cookie promises RFC 3261 matching', () => {
    expect(isRfc3261Branch('z9hG4bK776asdhds')).toBe(true);
    expect(isRfc3261Branch('z9hG4bK')).toBe(false);
    expect(isRfc3261Branch('Z9HG4BK776')).toBe(false);
    expect(isRfc3261Branch('776asdhds')).toBe(false);
    expect(isRfc3261Branch(undefined)).toBe(false);
  });
});

describe('client matching (§17.1.3): top Via branch + CSeq method', () => {
  it('finds the transaction of a response, telling INVITE from CANCEL with the same branch', () => {
    const invite = buildInvite({ branch: 'z9hG4bKabc' });
    expect(responseKey(buildResponse(invite, 180, 't'))).toBe(clientKey('z9hG4bKabc', 'INVITE'));
    const cancel = createCancel(invite);
    expect(responseKey(buildResponse(cancel, 200, 't'))).toBe(clientKey('z9hG4bKabc', 'CANCEL'));
    expect(clientKey('z9hG4bKABC', 'INVITE')).toBe(clientKey('z9hG4bKabc', 'INVITE'));
  });
});

describe('server matching (§17.2.3)', () => {
  it('with the cookie: branch + sent-by + method; the ACK of a non-2xx finds the INVITE', () => {
    const invite = buildInvite({ branch: 'z9hG4bKxyz' });
    const ack = createAck(invite, buildResponse(invite, 486, 'busy'));
    expect(serverKey(ack)).toBe(serverKey(invite));
    expect(serverKey(buildInvite({ branch: 'z9hG4bKxyz', sentBy: 'other.example.com' }))).not.toBe(
      serverKey(invite),
    );
    expect(serverKey(buildRequest({ branch: 'z9hG4bKxyz' }))).not.toBe(serverKey(invite));
    // Nothing else counts: a different Call-ID or CSeq with the same branch is a retransmission by definition.
    expect(serverKey(buildInvite({ branch: 'z9hG4bKxyz', callId: 'other', cseq: 9 }))).toBe(
      serverKey(invite),
    );
  });

  it('without the cookie: Request-URI, To tag, From tag, Call-ID, CSeq and top Via', () => {
    const base = { branch: null, callId: 'c1', cseq: 5 } as const;
    const invite = buildInvite(base);
    expect(serverKey(buildInvite(base))).toBe(serverKey(invite));
    for (const changed of [
      buildInvite({ ...base, uri: 'sip:carol@biloxi.example.com' }),
      buildInvite({ ...base, toTag: 'x' }),
      buildInvite({ ...base, fromTag: 'other' }),
      buildInvite({ ...base, callId: 'c2' }),
      buildInvite({ ...base, cseq: 6 }),
      buildInvite({ ...base, sentBy: 'elsewhere.example.com' }),
      buildRequest({ ...base, method: 'OPTIONS' }),
    ])
      expect(serverKey(changed)).not.toBe(serverKey(invite));
    // A `received` added by the receiving transport does not make it another transaction.
    const received = buildInvite(base);
    received.headers.set('Via', `${received.headers.get('via')};received=192.0.2.1;rport=5062`);
    expect(serverKey(received)).toBe(serverKey(invite));
  });

  it('without the cookie an ACK matches by the To tag of the response it acknowledges', () => {
    const invite = buildInvite({ branch: null, callId: 'c1' });
    const ack = createAck(invite, buildResponse(invite, 486, 'busy'));
    expect(serverKey(ack)).toBe(ackKey2543(invite, 'busy'));
    expect(serverKey(ack)).not.toBe(ackKey2543(invite, 'other'));
  });

  it('a CANCEL shares its key with the request it cancels, with or without the cookie', () => {
    const invite = buildInvite({ branch: 'z9hG4bKq' });
    expect(cancelKey(createCancel(invite))).toBe(cancelKey(invite));
    expect(cancelKey(createCancel(buildInvite({ branch: 'z9hG4bKr' })))).not.toBe(cancelKey(invite));
    const old = buildInvite({ branch: null, callId: 'c1' });
    expect(cancelKey(createCancel(old))).toBe(cancelKey(old));
    expect(cancelKey(createCancel(buildInvite({ branch: null, callId: 'c2' })))).not.toBe(cancelKey(old));
  });
});
