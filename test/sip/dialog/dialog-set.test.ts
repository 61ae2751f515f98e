import { describe, expect, it } from 'vitest';
import { SipResponse, createResponse, type SipRequest } from '../../../web/src/sip/index.ts';
import { DialogSet, dialogSetKey, type DialogSetResult } from '../../../web/src/sip/dialog/index.ts';
import {
  answer,
  backThroughProxies,
  outOfDialogRequest,
  seededRandom,
  throughProxies,
  wire,
} from '../../support/dialog-builders.ts';

const P1 = 'sip:p1.atlanta.example.com;lr';
/** Two phones registered for Bob, reached through a forking proxy that record-routes. */
const PHONE = 'sip:bob@192.0.2.201:5060;transport=tcp';
const LAPTOP = 'sip:bob@192.0.2.202:5060;transport=tcp';

function forkedCall(invite: SipRequest = outOfDialogRequest()) {
  const set = new DialogSet(invite, { random: seededRandom(3) });
  const forked = throughProxies(wire(invite), [P1]);
  // Each branch's UAS answers with its own To tag and Contact; the proxy passes the answers back.
  const from =
    (tag: string, contact: string) =>
    (status: number, extra: Parameters<typeof answer>[2] = {}) =>
      backThroughProxies(answer(forked, status, { toTag: tag, contact, ...extra }), 1);
  return { invite, set, phone: from('phone', PHONE), laptop: from('laptop', LAPTOP) };
}

function expectType<T extends DialogSetResult['type']>(
  result: DialogSetResult,
  type: T,
): Extract<DialogSetResult, { type: T }> {
  expect(result.type).toBe(type);
  return result as Extract<DialogSetResult, { type: T }>;
}

describe('a forked INVITE (RFC 3261 §12.1.2, §13.2.2.4)', () => {
  it('two 180s with different To tags make two early dialogs', () => {
    const { set, phone, laptop } = forkedCall();
    expect(set.key).toBe(dialogSetKey('call-1@atlanta.example.com', 'a-tag'));
    const a = expectType(set.receiveResponse(phone(180)), 'provisional');
    const b = expectType(set.receiveResponse(laptop(180)), 'provisional');
    expect([a.created, b.created]).toEqual([true, true]);
    expect(a.dialog?.id.remoteTag).toBe('phone');
    expect(b.dialog?.id.remoteTag).toBe('laptop');
    expect(set.dialogs.map((d) => [d.id.remoteTag, d.state])).toEqual([
      ['phone', 'Early'],
      ['laptop', 'Early'],
    ]);
    // Both dialogs share the set's Call-ID and local tag, and each has its own remote target.
    expect(set.dialog('phone')?.remoteTarget.toString()).toBe(PHONE);
    expect(set.dialog('laptop')?.remoteTarget.toString()).toBe(LAPTOP);
    expect(set.dialog('phone')?.routeSet.map(String)).toEqual([P1]);
    // A second 180 from the same branch updates its dialog instead of making another.
    const again = expectType(set.receiveResponse(phone(183)), 'provisional');
    expect([again.created, again.dialog]).toEqual([false, set.dialog('phone')]);
    expect(set.dialogs).toHaveLength(2);
    expect(set.state).toBe('Pending');
  });

  it('a 200 confirms its own dialog and ends the other early one', () => {
    const { set, phone, laptop } = forkedCall();
    set.receiveResponse(phone(180));
    set.receiveResponse(laptop(180));
    const ok = phone(200);
    const accepted = expectType(set.receiveResponse(ok), 'accepted');
    expect(accepted.dialog).toBe(set.dialog('phone'));
    expect([accepted.created, accepted.retransmission]).toEqual([false, false]);
    expect(accepted.dialog.state).toBe('Confirmed');
    expect(accepted.ended).toEqual([set.dialog('laptop')]);
    expect(set.dialog('laptop')?.state).toBe('Terminated');
    expect(set.state).toBe('Accepted');
    expect(set.accepted).toBe(accepted.dialog);

    const ack = set.createAck(ok);
    expect(ack.method).toBe('ACK');
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(ack.uri.toString()).toBe(PHONE);
    expect(ack.toTag).toBe('phone');
    expect(ack.headers.getAll('Route')).toEqual([`<${P1}>`]);

    // The same 2xx again: ACK again, nothing else.
    const retransmitted = expectType(set.receiveResponse(phone(200)), 'accepted');
    expect([retransmitted.retransmission, retransmitted.ended]).toEqual([true, []]);
    // A late provisional response from any branch no longer matters.
    expect(set.receiveResponse(laptop(183)).type).toBe('ignored');
  });

  it('a second 200 from the other branch must be ACKed, then ended with BYE', () => {
    const { set, phone, laptop } = forkedCall();
    set.receiveResponse(phone(180));
    set.receiveResponse(laptop(180));
    set.receiveResponse(phone(200));
    const late = laptop(200);
    const redundant = expectType(set.receiveResponse(late), 'redundant');
    expect(redundant.dialog.id.remoteTag).toBe('laptop');
    expect(redundant.dialog.state).toBe('Confirmed');
    expect(redundant.dialog).toBe(set.dialog('laptop'));
    expect(redundant.answerNeeded).toBe(false);

    const { ack, bye } = redundant;
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect([ack.toTag, ack.fromTag, ack.callId]).toEqual(['laptop', 'a-tag', 'call-1@atlanta.example.com']);
    expect(ack.uri.toString()).toBe(LAPTOP);
    expect(bye?.method).toBe('BYE');
    expect(bye?.cseq).toEqual({ seq: 2, method: 'BYE' });
    expect(bye?.toTag).toBe('laptop');
    expect(bye?.uri.toString()).toBe(LAPTOP);
    expect(bye?.headers.getAll('Route')).toEqual([`<${P1}>`]);

    // Its retransmission is ACKed again, but the BYE is not handed out twice.
    const again = expectType(set.receiveResponse(laptop(200)), 'redundant');
    expect(again.ack.cseq.seq).toBe(1);
    expect(again.bye).toBeUndefined();

    // The BYE's 200 ends that dialog; the accepted call goes on.
    if (bye === undefined) throw new Error('expected a BYE');
    expect(redundant.dialog.receiveResponse(createResponse(bye, 200))).toMatchObject({ terminated: true });
    expect(set.accepted?.state).toBe('Confirmed');
  });

  it('a 2xx with no provisional response before it makes a confirmed dialog at once', () => {
    const { set, phone } = forkedCall();
    const accepted = expectType(set.receiveResponse(phone(200)), 'accepted');
    expect([accepted.created, accepted.dialog.state, accepted.ended]).toEqual([true, 'Confirmed', []]);
  });

  it('a non-2xx final response ends every early dialog (§12.3)', () => {
    const { set, phone, laptop } = forkedCall();
    set.receiveResponse(phone(180));
    set.receiveResponse(laptop(183));
    const rejected = expectType(
      set.receiveResponse(createResponse(wire(set.invite), 486, { toTag: 'proxy' })),
      'rejected',
    );
    expect(rejected.status).toBe(486);
    expect(rejected.ended.map((d) => d.id.remoteTag)).toEqual(['phone', 'laptop']);
    expect(set.dialogs.every((d) => d.state === 'Terminated')).toBe(true);
    expect(set.state).toBe('Failed');
    expect(set.receiveResponse(phone(180)).type).toBe('ignored');
    expect(set.receiveResponse(createResponse(set.invite, 487, { toTag: 'x' })).type).toBe('ignored');
  });

  it('terminate(): the transaction ended without a final response; early dialogs end', () => {
    const { set, phone } = forkedCall();
    set.receiveResponse(phone(180));
    expect(set.terminate().map((d) => d.id.remoteTag)).toEqual(['phone']);
    expect(set.state).toBe('Failed');
    expect(set.terminate()).toEqual([]);
    // Should a 2xx still come, that dialog is unwanted: ACK and BYE.
    expect(set.receiveResponse(phone(200)).type).toBe('redundant');
  });

  it('a 100 Trying or an untagged 1xx makes no dialog', () => {
    const { set, invite } = forkedCall();
    expect(set.receiveResponse(createResponse(invite, 100))).toEqual({
      type: 'provisional',
      dialog: undefined,
      created: false,
      reliable: undefined,
    });
    expect(set.receiveResponse(createResponse(invite, 180))).toMatchObject({ dialog: undefined });
    expect(set.dialogs).toEqual([]);
  });

  it('ignores responses that are not for its INVITE, and malformed ones, without throwing', () => {
    const { set, phone } = forkedCall();
    const otherCall = phone(180);
    otherCall.headers.set('Call-ID', 'another-call');
    expect(set.receiveResponse(otherCall)).toEqual({
      type: 'ignored',
      reason: 'the response belongs to another dialog set',
    });
    const otherRequest = phone(200);
    otherRequest.headers.set('CSeq', '2 INVITE');
    expect(set.receiveResponse(otherRequest)).toEqual({
      type: 'ignored',
      reason: 'the response answers another request',
    });
    const noContact = phone(200, { contact: null });
    expect(set.receiveResponse(noContact)).toEqual({
      type: 'ignored',
      reason: 'no Contact to use as the remote target',
    });
    expect(set.receiveResponse(new SipResponse(200, 'OK', { CSeq: 'one INVITE' })).type).toBe('ignored');
    expect(set.state).toBe('Pending');
  });

  it('ACKs carry the credentials of the INVITE (§13.2.2.4)', () => {
    const credentials =
      'Digest username="alice", realm="atlanta.example.com", nonce="n", uri="sip:bob@biloxi.example.com", response="0123456789abcdef0123456789abcdef"';
    const { set, phone, laptop } = forkedCall(
      outOfDialogRequest({ cseq: 2, headers: { 'Proxy-Authorization': credentials } }),
    );
    set.receiveResponse(phone(200));
    expect(set.createAck(phone(200)).headers.get('Proxy-Authorization')).toBe(credentials);
    const redundant = expectType(set.receiveResponse(laptop(200)), 'redundant');
    expect(redundant.ack.headers.get('Proxy-Authorization')).toBe(credentials);
    expect(redundant.ack.cseq).toEqual({ seq: 2, method: 'ACK' });
    expect(redundant.bye?.cseq.seq).toBe(3);
    expect(redundant.bye?.headers.has('Proxy-Authorization')).toBe(false);
    expect(() => set.createAck(createResponse(set.invite, 200, { toTag: 'nobody' }))).toThrow(TypeError);
  });

  it('says when the unwanted 2xx carried an offer the ACK must answer', () => {
    const { set, phone, laptop } = forkedCall();
    set.receiveResponse(phone(200));
    const sdp = 'v=0\r\no=- 1 1 IN IP4 192.0.2.202\r\ns=-\r\nc=IN IP4 192.0.2.202\r\nt=0 0\r\n';
    const offer = laptop(200, { body: sdp, headers: { 'Content-Type': 'application/sdp' } });
    expect(expectType(set.receiveResponse(offer), 'redundant').answerNeeded).toBe(true);
  });

  it('passes reliable provisional responses to their early dialog (RFC 3262)', () => {
    const { set, phone } = forkedCall(outOfDialogRequest({ headers: { Supported: '100rel' } }));
    const rel = (rseq: number) => phone(183, { headers: { Require: '100rel', RSeq: String(rseq) } });
    const first = rel(1);
    const created = expectType(set.receiveResponse(first), 'provisional');
    expect([created.created, created.reliable]).toEqual([true, 'in-order']);
    expect(created.dialog?.createPrack(first).rack).toEqual({ rseq: 1, cseq: 1, method: 'INVITE' });
    expect(expectType(set.receiveResponse(rel(1)), 'provisional').reliable).toBe('retransmission');
    expect(expectType(set.receiveResponse(rel(2)), 'provisional').reliable).toBe('in-order');
    expect(expectType(set.receiveResponse(rel(4)), 'provisional').reliable).toBe('out-of-order');
  });

  it('follows an INVITE only', () => {
    expect(
      () => new DialogSet(outOfDialogRequest({ method: 'SUBSCRIBE' }), { random: seededRandom(1) }),
    ).toThrow(TypeError);
    const untagged = outOfDialogRequest();
    untagged.headers.set('From', '<sip:alice@atlanta.example.com>');
    expect(() => new DialogSet(untagged, { random: seededRandom(1) })).toThrow(TypeError);
  });
});
