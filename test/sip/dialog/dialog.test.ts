import { describe, expect, it } from 'vitest';
import {
  InvalidStateError,
  SipRequest,
  SipResponse,
  createResponse,
  parseUri,
  type SipHeaders,
} from '../../../web/src/sip/index.ts';
import {
  Dialog,
  checkDialogFields,
  createsDialog,
  type DialogOptions,
} from '../../../web/src/sip/dialog/index.ts';
import {
  ALICE,
  BOB,
  answer,
  backThroughProxies,
  deliver,
  outOfDialogRequest,
  seededRandom,
  send,
  throughProxies,
  wire,
  type ProxyHop,
} from '../../support/dialog-builders.ts';

const P1 = 'sip:p1.atlanta.example.com;lr';
const P2 = 'sip:p2.biloxi.example.com;lr';
const LOOSE: ProxyHop[] = [{ uri: P1 }, { uri: P2 }];

const options = (seed = 1): DialogOptions => ({ random: seededRandom(seed) });
const routeValues = (headers: SipHeaders): string[] => headers.getAll('Route');

/**
 * Alice INVITEs Bob through the given proxies; Bob answers 200; both make their dialog. Each side reads only
 * what crossed the wire to it.
 */
function call(proxies: readonly ProxyHop[] = LOOSE, init: Parameters<typeof outOfDialogRequest>[0] = {}) {
  const invite = outOfDialogRequest(init);
  const sentInvite = wire(invite);
  const atBob = throughProxies(
    sentInvite,
    proxies.map((p) => p.uri),
  );
  const ok = answer(atBob, 200);
  const bob = Dialog.uas(atBob, ok, options(2));
  bob.sendResponse(ok);
  const atAlice = backThroughProxies(wire(ok), proxies.length);
  const alice = Dialog.uac(invite, atAlice, options(1));
  return { invite, atBob, ok, atAlice, alice, bob };
}

describe('creating the dialog from INVITE / 200 (RFC 3261 §12.1)', () => {
  it('gives UAC and UAS the same dialog, each from its own side', () => {
    const { alice, bob } = call();
    const callId = 'call-1@atlanta.example.com';
    expect(alice.id).toEqual({ callId, localTag: 'a-tag', remoteTag: 'b-tag' });
    expect(bob.id).toEqual({ callId, localTag: 'b-tag', remoteTag: 'a-tag' });
    expect(alice.key).toBe('call-1@atlanta.example.com|a-tag|b-tag');
    expect([alice.state, bob.state]).toEqual(['Confirmed', 'Confirmed']);
    expect([alice.role, bob.role]).toEqual(['uac', 'uas']);
    // §12.1.2 / §12.1.1: local and remote URIs are the From and To of the INVITE, swapped at the UAS.
    expect([alice.localUri.toString(), alice.remoteUri.toString()]).toEqual([ALICE.aor, BOB.aor]);
    expect([bob.localUri.toString(), bob.remoteUri.toString()]).toEqual([BOB.aor, ALICE.aor]);
    // The remote target is the other side's Contact.
    expect(alice.remoteTarget.toString()).toBe(BOB.contact);
    expect(bob.remoteTarget.toString()).toBe(ALICE.contact);
    expect(alice.localTarget?.toString()).toBe(ALICE.contact);
    expect(bob.localTarget?.toString()).toBe(BOB.contact);
    // §12.1.2: the UAC's local CSeq is the INVITE's, its remote one empty; the UAS the other way round.
    expect([alice.localSeq, alice.remoteSeq]).toEqual([1, undefined]);
    expect([bob.localSeq, bob.remoteSeq]).toEqual([undefined, 1]);
    expect([alice.secure, bob.secure]).toEqual([false, false]);
  });

  it('keeps the Record-Route order at the UAS and reverses it at the UAC', () => {
    const { atBob, atAlice, alice, bob } = call();
    // Each proxy put its value on top: the INVITE reaches Bob with P2 (his neighbour) first.
    expect(atBob.recordRoute.map((r) => r.uri.toString())).toEqual([P2, P1]);
    expect(atAlice.recordRoute.map((r) => r.uri.toString())).toEqual([P2, P1]);
    // §12.1.1: the UAS takes it in order; §12.1.2: the UAC reverses it. Both start at their own neighbour.
    expect(bob.routeSet.map(String)).toEqual([P2, P1]);
    expect(alice.routeSet.map(String)).toEqual([P1, P2]);
  });

  it('has no route set without Record-Route: requests go straight to the remote target', () => {
    const { alice } = call([]);
    const bye = alice.createRequest('BYE');
    expect(alice.routeSet).toEqual([]);
    expect(bye.uri.toString()).toBe(BOB.contact);
    expect(bye.headers.has('Route')).toBe(false);
  });

  it('is secure when the Request-URI is sips and the transport was TLS (§12.1.1, §12.1.2)', () => {
    const sips = 'sips:bob@biloxi.example.com';
    const { alice, bob } = call(LOOSE, { requestUri: sips });
    expect([alice.secure, bob.secure]).toEqual([true, true]);

    const invite = outOfDialogRequest({ requestUri: sips });
    const ok = answer(invite, 200);
    expect(Dialog.uac(invite, ok, { ...options(), secureTransport: false }).secure).toBe(false);
    expect(Dialog.uas(invite, ok, { ...options(), secureTransport: false }).secure).toBe(false);
  });

  it('keeps display names in the From and To of later requests', () => {
    const { alice, bob } = call();
    const bye = alice.createRequest('BYE');
    expect(bye.headers.get('From')).toBe(`"Alice" <${ALICE.aor}>;tag=a-tag`);
    expect(bye.headers.get('To')).toBe(`"Bob" <${BOB.aor}>;tag=b-tag`);
    const info = bob.createRequest('INFO');
    expect(info.headers.get('From')).toBe(`"Bob" <${BOB.aor}>;tag=b-tag`);
    expect(info.headers.get('To')).toBe(`"Alice" <${ALICE.aor}>;tag=a-tag`);
  });

  it('leaves out the tag of an RFC 2543 caller that sent none (§12.1.1: the remote tag is null)', () => {
    const invite = outOfDialogRequest();
    invite.headers.set('From', `<${ALICE.aor}>`);
    const bob = Dialog.uas(invite, answer(invite, 200), options());
    expect(bob.id.remoteTag).toBe('');
    expect(bob.createRequest('BYE').headers.get('To')).toBe(`<${ALICE.aor}>`);
  });
});

describe('requests within the dialog (§12.2.1.1)', () => {
  it('builds the BYE from Alice: R-URI = Bob, Route = P1, P2, tags, Call-ID, CSeq, Max-Forwards', () => {
    const { alice, bob } = call();
    const bye = alice.createRequest('BYE');
    expect(bye.method).toBe('BYE');
    expect(bye.uri.toString()).toBe(BOB.contact);
    expect(routeValues(bye.headers)).toEqual([`<${P1}>`, `<${P2}>`]);
    expect(bye.fromTag).toBe('a-tag');
    expect(bye.toTag).toBe('b-tag');
    expect(bye.callId).toBe('call-1@atlanta.example.com');
    expect(bye.cseq).toEqual({ seq: 2, method: 'BYE' });
    expect(bye.maxForwards).toBe(70);
    // The client transaction adds Via; BYE is no target refresh, so no Contact.
    expect(bye.headers.has('Via')).toBe(false);
    expect(bye.headers.has('Contact')).toBe(false);
    expect(alice.target.nextHop.toString()).toBe(P1);

    const trip = deliver(send(bye), alice.target.nextHop, LOOSE);
    expect(trip.hops).toEqual(['p1.atlanta.example.com', 'p2.biloxi.example.com']);
    expect(trip.arrivedAt.toString()).toBe(BOB.contact);
    expect(trip.request.headers.has('Route')).toBe(false);
    expect(bob.receiveRequest(trip.request)).toEqual({
      type: 'accept',
      targetRefreshed: false,
      terminated: true,
    });
    expect(bob.state).toBe('Terminated');
  });

  it('builds the BYE from Bob: R-URI = Alice, Route = P2, P1, CSeq from a random start', () => {
    const { alice, bob } = call();
    const bye = bob.createRequest('BYE');
    expect(bye.uri.toString()).toBe(ALICE.contact);
    expect(routeValues(bye.headers)).toEqual([`<${P2}>`, `<${P1}>`]);
    expect([bye.fromTag, bye.toTag]).toEqual(['b-tag', 'a-tag']);
    // §12.2.1.1: the UAS's local CSeq was empty; its first request picks one (§8.1.1.5: below 2**31).
    const first = bye.cseq.seq;
    expect(first).toBe(bob.localSeq);
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThan(2 ** 31);
    expect(
      Dialog.uas(outOfDialogRequest(), answer(outOfDialogRequest(), 200), options(2)).createRequest('BYE')
        .cseq.seq,
    ).toBe(first);

    const trip = deliver(send(bye, '192.0.2.201'), bob.target.nextHop, LOOSE);
    expect(trip.hops).toEqual(['p2.biloxi.example.com', 'p1.atlanta.example.com']);
    expect(trip.arrivedAt.toString()).toBe(ALICE.contact);
    expect(alice.receiveRequest(trip.request)).toMatchObject({ type: 'accept', terminated: true });
    expect(alice.remoteSeq).toBe(first);
  });

  it('routes through a strict router: it goes in the R-URI and the remote target ends the Route', () => {
    const strictP1 = 'sip:p1.atlanta.example.com';
    const proxies: ProxyHop[] = [{ uri: strictP1, strict: true }, { uri: P2 }];
    const { alice, bob } = call(proxies);
    expect(alice.routeSet.map(String)).toEqual([strictP1, P2]);

    // Alice's first route lacks lr: strict routing (§12.2.1.1).
    const bye = alice.createRequest('BYE');
    expect(bye.uri.toString()).toBe(strictP1);
    expect(routeValues(bye.headers)).toEqual([`<${P2}>`, `<${BOB.contact}>`]);
    expect(alice.target.nextHop.toString()).toBe(strictP1);
    const there = deliver(send(bye), alice.target.nextHop, proxies);
    expect(there.hops).toEqual(['p1.atlanta.example.com', 'p2.biloxi.example.com']);
    expect(there.arrivedAt.toString()).toBe(BOB.contact);
    expect(there.request.uri.toString()).toBe(BOB.contact);
    expect(there.request.headers.has('Route')).toBe(false);

    // Bob's first route is P2, a loose router: loose routing, even though P1 behind it is strict.
    const info = bob.createRequest('INFO');
    expect(info.uri.toString()).toBe(ALICE.contact);
    expect(routeValues(info.headers)).toEqual([`<${P2}>`, `<${strictP1}>`]);
    const back = deliver(send(info, '192.0.2.201'), bob.target.nextHop, proxies);
    expect(back.hops).toEqual(['p2.biloxi.example.com', 'p1.atlanta.example.com']);
    expect(back.arrivedAt.toString()).toBe(ALICE.contact);
    expect(back.request.uri.toString()).toBe(ALICE.contact);
    expect(alice.receiveRequest(back.request).type).toBe('accept');
  });

  it('increments the local CSeq by one per request, but not for ACK (§12.2.1.1, §13.2.2.4)', () => {
    const { alice, atAlice } = call();
    expect(alice.createRequest('INFO').cseq).toEqual({ seq: 2, method: 'INFO' });
    expect(alice.createRequest('MESSAGE').cseq).toEqual({ seq: 3, method: 'MESSAGE' });
    const ack = alice.createAck(atAlice);
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(ack.uri.toString()).toBe(BOB.contact);
    expect(routeValues(ack.headers)).toEqual([`<${P1}>`, `<${P2}>`]);
    expect(alice.localSeq).toBe(3);
    expect(alice.createRequest('BYE').cseq.seq).toBe(4);
  });

  it('puts the local target as Contact on target refresh requests only', () => {
    const { alice } = call();
    expect(alice.createRequest('INVITE').headers.get('Contact')).toBe(`<${ALICE.contact}>`);
    expect(alice.createRequest('UPDATE').headers.get('Contact')).toBe(`<${ALICE.contact}>`);
    expect(alice.createRequest('MESSAGE').headers.has('Contact')).toBe(false);
    const own = alice.createRequest('INVITE', { headers: { m: '<sip:alice@198.51.100.7;ob>' } });
    expect(own.headers.getAll('Contact')).toEqual(['<sip:alice@198.51.100.7;ob>']);
  });

  it('takes extra headers and a body, and serializes to a request the parser accepts', () => {
    const { alice } = call();
    const message = alice.createRequest('MESSAGE', {
      headers: { 'Content-Type': 'text/plain', 'Max-Forwards': '10' },
      body: 'hello',
    });
    const parsed = send(message);
    expect(parsed.bodyText).toBe('hello');
    expect(parsed.maxForwards).toBe(10);
    expect(parsed.contentType).toMatchObject({ type: 'text', subtype: 'plain' });
  });

  it('refuses API misuse', () => {
    const { alice, bob } = call();
    expect(() => alice.createRequest('ACK')).toThrow(TypeError);
    expect(() => alice.createRequest('CANCEL')).toThrow(TypeError);
    expect(() => alice.createRequest('BAD METHOD')).toThrow(TypeError);
    expect(() => alice.createRequest('INFO', { headers: { CSeq: '9 INFO' } })).toThrow(TypeError);
    expect(() => alice.createRequest('INFO', { headers: { f: '<sip:mallory@example.com>' } })).toThrow(
      TypeError,
    );
    expect(() => alice.createRequest('INFO', { headers: { Route: '<sip:elsewhere>' } })).toThrow(TypeError);
    // The ACK is for a 2xx to an INVITE of this dialog only.
    const ringing = answer(outOfDialogRequest(), 180);
    expect(() => alice.createAck(ringing)).toThrow(TypeError);
    expect(() => alice.createAck(answer(outOfDialogRequest(), 200, { toTag: 'other' }))).toThrow(TypeError);
    alice.terminate();
    alice.terminate();
    expect(() => alice.createRequest('BYE')).toThrow(InvalidStateError);
    expect(() => alice.nextRSeq()).toThrow(InvalidStateError);
    expect(() => alice.setLocalTarget(parseUri('sip:a@b'))).toThrow(InvalidStateError);
    expect(() => bob.createRequest('OPTIONS', { body: 'x' })).not.toThrow();
  });
});

describe('requests from the peer (§12.2.2)', () => {
  it('accepts in-order requests and rejects a lower CSeq with 500', () => {
    const { alice, bob } = call();
    const info5 = send(alice.createRequest('INFO'));
    const info6 = send(alice.createRequest('INFO'));
    expect(bob.receiveRequest(info6)).toEqual({ type: 'accept', targetRefreshed: false, terminated: false });
    expect(bob.remoteSeq).toBe(3);
    expect(bob.receiveRequest(info5)).toEqual({ type: 'reject', status: 500, reason: 'CSeq Out of Order' });
    expect(bob.remoteSeq).toBe(3);
    // The caller answers with the status and reason given.
    const r = bob.receiveRequest(info5);
    if (r.type !== 'reject') throw new Error('expected a rejection');
    expect(createResponse(info5, r.status, { reason: r.reason }).reason).toBe('CSeq Out of Order');
  });

  it("lets an ACK through whatever its CSeq: it carries the INVITE's number", () => {
    const { alice, bob, atAlice } = call();
    bob.receiveRequest(send(alice.createRequest('INFO')));
    expect(bob.receiveRequest(send(alice.createAck(atAlice)))).toMatchObject({ type: 'accept' });
    expect(bob.remoteSeq).toBe(2);
  });

  it('sets an empty remote CSeq from the first request (the UAC side)', () => {
    const { alice, bob } = call();
    expect(alice.remoteSeq).toBeUndefined();
    const info = send(bob.createRequest('INFO'), '192.0.2.201');
    expect(alice.receiveRequest(info).type).toBe('accept');
    expect(alice.remoteSeq).toBe(info.cseq.seq);
  });

  it('answers 481 to a request of another dialog, or of a terminated one', () => {
    const { alice, bob } = call();
    const info = alice.createRequest('INFO');
    const otherTag = info.clone();
    otherTag.headers.set('To', `<${BOB.aor}>;tag=someone-else`);
    expect(bob.receiveRequest(send(otherTag))).toEqual({
      type: 'reject',
      status: 481,
      reason: 'Call/Transaction Does Not Exist',
    });
    const otherCall = info.clone();
    otherCall.headers.set('Call-ID', 'another-call');
    expect(bob.receiveRequest(send(otherCall))).toMatchObject({ status: 481 });
    const noTag = info.clone();
    noTag.headers.set('To', `<${BOB.aor}>`);
    expect(bob.receiveRequest(send(noTag))).toMatchObject({ status: 481 });
    bob.terminate();
    expect(bob.receiveRequest(send(info))).toMatchObject({ status: 481 });
  });

  it('answers 400 to a request whose dialog fields do not parse, without throwing', () => {
    const { bob } = call();
    const bad = new SipRequest('INFO', parseUri(BOB.contact), {
      From: `<${ALICE.aor}>;tag=a-tag`,
      To: `<${BOB.aor}>;tag=b-tag`,
      'Call-ID': 'call-1@atlanta.example.com',
      CSeq: 'two INFO',
    });
    expect(bob.receiveRequest(bad)).toMatchObject({ type: 'reject', status: 400 });
  });
});

describe('target refresh (§12.2)', () => {
  it('re-INVITE: the Contact of the request and of its 2xx replace the remote target; the route set stays', () => {
    const { alice, bob } = call();
    const aliceMoved = 'sip:alice@198.51.100.7:5060;transport=tcp';
    const bobMoved = 'sip:bob@203.0.113.9:5060;transport=tcp';
    alice.setLocalTarget(parseUri(aliceMoved));
    const reinvite = alice.createRequest('INVITE');
    expect(reinvite.headers.get('Contact')).toBe(`<${aliceMoved}>`);
    // A Record-Route on a re-INVITE changes nothing (§12.2: the route set is fixed once made).
    const atBob = send(reinvite);
    atBob.headers.prepend('Record-Route', '<sip:p9.example.net;lr>');
    expect(bob.receiveRequest(wire(atBob))).toEqual({
      type: 'accept',
      targetRefreshed: true,
      terminated: false,
    });
    expect(bob.remoteTarget.toString()).toBe(aliceMoved);
    expect(bob.routeSet.map(String)).toEqual([P2, P1]);

    const ok = answer(atBob, 200, { contact: bobMoved });
    bob.sendResponse(ok);
    expect(alice.receiveResponse(wire(ok))).toEqual({
      type: 'final',
      status: 200,
      confirmed: false,
      terminated: false,
      targetRefreshed: true,
    });
    expect(alice.remoteTarget.toString()).toBe(bobMoved);
    expect(alice.routeSet.map(String)).toEqual([P1, P2]);

    // The next requests follow the new targets over the same proxies.
    const bye = alice.createRequest('BYE');
    expect(bye.uri.toString()).toBe(bobMoved);
    expect(routeValues(bye.headers)).toEqual([`<${P1}>`, `<${P2}>`]);
    expect(bob.createRequest('INFO').uri.toString()).toBe(aliceMoved);
  });

  it('UPDATE refreshes the target too; INFO and MESSAGE with a Contact do not', () => {
    const { alice, bob } = call([]);
    const update = alice.createRequest('UPDATE', { headers: { Contact: '<sip:alice@198.51.100.8>' } });
    expect(bob.receiveRequest(send(update))).toMatchObject({ targetRefreshed: true });
    expect(bob.remoteTarget.toString()).toBe('sip:alice@198.51.100.8');
    const info = alice.createRequest('INFO', { headers: { Contact: '<sip:alice@198.51.100.9>' } });
    expect(bob.receiveRequest(send(info))).toMatchObject({ targetRefreshed: false });
    expect(bob.remoteTarget.toString()).toBe('sip:alice@198.51.100.8');
  });

  it('a non-2xx to a re-INVITE leaves the target and the dialog as they were (§14.1)', () => {
    const { alice } = call();
    const reinvite = alice.createRequest('INVITE');
    const busy = answer(reinvite, 491, { contact: 'sip:bob@203.0.113.9' });
    expect(alice.receiveResponse(busy)).toMatchObject({
      type: 'final',
      terminated: false,
      targetRefreshed: false,
    });
    expect(alice.remoteTarget.toString()).toBe(BOB.contact);
    expect(alice.state).toBe('Confirmed');
  });
});

describe('responses that end the dialog', () => {
  it('a 481 or a 408 to an in-dialog request terminates it (§12.2.1.2)', () => {
    for (const status of [481, 408]) {
      const { alice } = call();
      const info = alice.createRequest('INFO');
      expect(alice.receiveResponse(createResponse(info, status))).toMatchObject({
        type: 'final',
        terminated: true,
      });
      expect(alice.state).toBe('Terminated');
      expect(() => alice.createRequest('INFO')).toThrow(InvalidStateError);
      expect(alice.receiveResponse(createResponse(info, 200))).toMatchObject({ type: 'ignored' });
    }
  });

  it('other failures to in-dialog requests leave it alone', () => {
    const { alice } = call();
    const info = alice.createRequest('INFO');
    expect(alice.receiveResponse(createResponse(info, 415))).toMatchObject({ terminated: false });
    expect(alice.state).toBe('Confirmed');
  });

  it('the answer to our BYE terminates it, unless it is a challenge (§15.1.1)', () => {
    const { alice } = call();
    const bye = alice.createRequest('BYE');
    expect(alice.receiveResponse(createResponse(bye, 407))).toMatchObject({ terminated: false });
    const retry = alice.createRequest('BYE');
    expect(retry.cseq.seq).toBe(bye.cseq.seq + 1);
    expect(alice.receiveResponse(createResponse(retry, 200))).toMatchObject({
      type: 'final',
      terminated: true,
    });
    expect(alice.state).toBe('Terminated');
  });

  it('ignores responses it cannot place, without throwing', () => {
    const { alice } = call();
    const info = alice.createRequest('INFO');
    const future = createResponse(info, 200);
    future.headers.set('CSeq', '99 INFO');
    expect(alice.receiveResponse(future)).toEqual({
      type: 'ignored',
      reason: 'no request of ours has that CSeq',
    });
    const other = createResponse(info, 200);
    other.headers.set('To', `<${BOB.aor}>;tag=other`);
    expect(alice.receiveResponse(other)).toMatchObject({ type: 'ignored' });
    const malformed = new SipResponse(200, 'OK', { 'Call-ID': 'x', CSeq: 'nonsense' });
    expect(alice.receiveResponse(malformed)).toMatchObject({ type: 'ignored' });
  });
});

describe('early dialogs', () => {
  it('UAC: a 180 with a To tag makes an early dialog; the 200 confirms it and recomputes the route set', () => {
    const invite = outOfDialogRequest();
    const atBob = throughProxies(wire(invite), [P1, P2]);
    // An RFC 2543 proxy chain may leave Record-Route out of a 1xx.
    const ringing = answer(atBob, 180);
    ringing.headers.delete('Record-Route');
    const alice = Dialog.uac(invite, backThroughProxies(ringing, 2), options());
    expect(alice.state).toBe('Early');
    expect(alice.routeSet).toEqual([]);
    expect(alice.remoteTarget.toString()).toBe(BOB.contact);
    // Requests may be sent in the early dialog (an UPDATE here).
    expect(alice.createRequest('UPDATE').cseq.seq).toBe(2);
    expect(() => alice.createAck(answer(atBob, 200))).toThrow(InvalidStateError);

    const ok = backThroughProxies(answer(atBob, 200, { contact: 'sip:bob@192.0.2.202' }), 2);
    expect(alice.receiveResponse(ok)).toEqual({
      type: 'final',
      status: 200,
      confirmed: true,
      terminated: false,
      targetRefreshed: true,
    });
    expect(alice.state).toBe('Confirmed');
    expect(alice.routeSet.map(String)).toEqual([P1, P2]);
    expect(alice.remoteTarget.toString()).toBe('sip:bob@192.0.2.202');
    // §13.2.2.4: only the route set is recomputed; the local CSeq keeps its count.
    expect(alice.localSeq).toBe(2);
    expect(alice.createAck(ok).cseq).toEqual({ seq: 1, method: 'ACK' });
  });

  it('UAC: a later provisional response moves the remote target of the early dialog', () => {
    const invite = outOfDialogRequest();
    const alice = Dialog.uac(invite, answer(invite, 180, { contact: null }), options());
    // Without Contact, the Request-URI stands in as the remote target.
    expect(alice.remoteTarget.toString()).toBe(BOB.aor);
    expect(alice.receiveResponse(answer(invite, 183))).toEqual({
      type: 'provisional',
      reliable: undefined,
      targetRefreshed: true,
    });
    expect(alice.remoteTarget.toString()).toBe(BOB.contact);
  });

  it('UAC: a non-2xx final to the INVITE ends the early dialog (§12.3)', () => {
    const invite = outOfDialogRequest();
    const alice = Dialog.uac(invite, answer(invite, 180), options());
    expect(alice.receiveResponse(answer(invite, 486))).toMatchObject({ type: 'final', terminated: true });
    expect(alice.state).toBe('Terminated');
  });

  it('UAS: the 180 makes it early, the 200 it sends confirms it, a callee cannot BYE it early', () => {
    const invite = wire(outOfDialogRequest());
    const ringing = answer(invite, 180);
    const bob = Dialog.uas(invite, ringing, options());
    expect(bob.state).toBe('Early');
    expect(() => bob.createRequest('BYE')).toThrow(InvalidStateError);
    bob.sendResponse(ringing);
    expect(bob.state).toBe('Early');
    bob.sendResponse(answer(invite, 200));
    expect(bob.state).toBe('Confirmed');
    expect(bob.createRequest('BYE').method).toBe('BYE');
  });

  it('UAS: a non-2xx final it sends ends the early dialog; a response of another dialog is refused', () => {
    const invite = wire(outOfDialogRequest());
    const bob = Dialog.uas(invite, answer(invite, 180), options());
    expect(() => bob.sendResponse(answer(invite, 486, { toTag: 'other' }))).toThrow(TypeError);
    bob.sendResponse(answer(invite, 486));
    expect(bob.state).toBe('Terminated');
    expect(() => bob.sendResponse(answer(invite, 486))).not.toThrow();
  });
});

describe('reliable provisional responses (RFC 3262)', () => {
  const reliable = (invite: SipRequest, status: number, rseq: number) =>
    answer(invite, status, { headers: { Require: '100rel', RSeq: String(rseq) } });

  it('UAC: orders reliable 1xx by RSeq and PRACKs the in-order ones', () => {
    const invite = outOfDialogRequest({ headers: { Supported: '100rel' } });
    const first = reliable(invite, 180, 7);
    const alice = Dialog.uac(invite, first, options());
    expect(alice.remoteRSeq).toBe(7);
    const prack = alice.createPrack(first);
    expect(prack.method).toBe('PRACK');
    expect(prack.cseq).toEqual({ seq: 2, method: 'PRACK' });
    expect(prack.rack).toEqual({ rseq: 7, cseq: 1, method: 'INVITE' });
    expect(prack.toTag).toBe('b-tag');

    expect(alice.receiveResponse(reliable(invite, 183, 8))).toEqual({
      type: 'provisional',
      reliable: 'in-order',
      targetRefreshed: true,
    });
    expect(alice.remoteRSeq).toBe(8);
    expect(alice.receiveResponse(reliable(invite, 183, 8))).toMatchObject({ reliable: 'retransmission' });
    expect(alice.receiveResponse(reliable(invite, 183, 7))).toMatchObject({ reliable: 'retransmission' });
    const gap = reliable(invite, 183, 10);
    gap.headers.set('Contact', '<sip:bob@192.0.2.250>');
    expect(alice.receiveResponse(gap)).toEqual({
      type: 'provisional',
      reliable: 'out-of-order',
      targetRefreshed: false,
    });
    expect(alice.remoteTarget.toString()).toBe(BOB.contact);
    expect(alice.remoteRSeq).toBe(8);
    expect(() => alice.createPrack(answer(invite, 180))).toThrow(TypeError);
  });

  it('UAS: hands out RSeq values from a random start, one more each time', () => {
    const invite = wire(outOfDialogRequest());
    const bob = Dialog.uas(invite, answer(invite, 180), options(5));
    expect(bob.localRSeq).toBeUndefined();
    const first = bob.nextRSeq();
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThan(2 ** 31);
    expect(bob.nextRSeq()).toBe(first + 1);
    expect(bob.localRSeq).toBe(first + 1);
    const again = Dialog.uas(invite, answer(invite, 180), options(5));
    expect(again.nextRSeq()).toBe(first);
    const broken = Dialog.uas(invite, answer(invite, 180), { random: () => 1 });
    expect(() => broken.nextRSeq()).toThrow(TypeError);
  });
});

describe('a NOTIFY before the 2xx to SUBSCRIBE (RFC 6665 §4.1.2.4)', () => {
  it('creates the subscriber side of the dialog from the NOTIFY', () => {
    const subscribe = outOfDialogRequest({
      method: 'SUBSCRIBE',
      headers: { Event: 'presence', Expires: '600' },
    });
    const notify = new SipRequest('NOTIFY', parseUri(ALICE.contact), {
      Via: 'SIP/2.0/TCP p1.atlanta.example.com;branch=z9hG4bK-n1',
      'Max-Forwards': '69',
      'Record-Route': [`<${P1}>`, `<${P2}>`],
      From: `<${BOB.aor}>;tag=n-tag`,
      To: `<${ALICE.aor}>;tag=a-tag`,
      'Call-ID': 'call-1@atlanta.example.com',
      CSeq: '40 NOTIFY',
      Contact: `<${BOB.contact}>`,
      Event: 'presence',
      'Subscription-State': 'active;expires=600',
    });
    const alice = Dialog.subscriber(subscribe, wire(notify), options());
    expect(alice.id).toEqual({ callId: 'call-1@atlanta.example.com', localTag: 'a-tag', remoteTag: 'n-tag' });
    expect(alice.state).toBe('Confirmed');
    expect([alice.localSeq, alice.remoteSeq]).toEqual([1, 40]);
    // The NOTIFY is a request we receive: its Record-Route is taken in order.
    expect(alice.routeSet.map(String)).toEqual([P1, P2]);
    expect(alice.remoteTarget.toString()).toBe(BOB.contact);

    // The 2xx that follows belongs to the same dialog and refreshes the target (SUBSCRIBE is a target refresh).
    const ok = answer(subscribe, 200, { toTag: 'n-tag', contact: 'sip:bob@192.0.2.230' });
    expect(alice.receiveResponse(ok)).toMatchObject({
      type: 'final',
      confirmed: false,
      targetRefreshed: true,
    });
    const refresh = alice.createRequest('SUBSCRIBE', { headers: { Event: 'presence', Expires: '600' } });
    expect(refresh.cseq).toEqual({ seq: 2, method: 'SUBSCRIBE' });
    expect(refresh.uri.toString()).toBe('sip:bob@192.0.2.230');
    expect(refresh.headers.get('Contact')).toBe(`<${ALICE.contact}>`);

    const stray = notify.clone();
    stray.headers.set('To', `<${ALICE.aor}>;tag=not-ours`);
    expect(() => Dialog.subscriber(subscribe, stray, options())).toThrow(TypeError);
    expect(() => Dialog.subscriber(outOfDialogRequest(), notify, options())).toThrow(TypeError);
  });
});

describe('which messages make a dialog', () => {
  it('createsDialog: tagged 101–199 and 2xx to INVITE, 2xx to SUBSCRIBE and REFER', () => {
    const invite = outOfDialogRequest();
    expect(createsDialog(answer(invite, 100))).toBeUndefined();
    expect(createsDialog(answer(invite, 180))).toBe('Early');
    expect(createsDialog(answer(invite, 200))).toBe('Confirmed');
    expect(createsDialog(answer(invite, 486))).toBeUndefined();
    const untagged = createResponse(invite, 180);
    expect(createsDialog(untagged)).toBeUndefined();
    expect(createsDialog(answer(outOfDialogRequest({ method: 'SUBSCRIBE' }), 202))).toBe('Confirmed');
    expect(createsDialog(answer(outOfDialogRequest({ method: 'REFER' }), 202))).toBe('Confirmed');
    expect(createsDialog(answer(outOfDialogRequest({ method: 'MESSAGE' }), 200))).toBeUndefined();
    expect(createsDialog(answer(outOfDialogRequest({ method: 'SUBSCRIBE' }), 180))).toBeUndefined();
  });

  it('checkDialogFields and the factories refuse what cannot make a dialog', () => {
    const noContact = outOfDialogRequest({ contact: null });
    expect(checkDialogFields(noContact)).toBe('no Contact to use as the remote target');
    expect(() => Dialog.uas(noContact, answer(noContact, 200), options())).toThrow(TypeError);
    const telContact = outOfDialogRequest({ contact: 'tel:+15551234567' });
    expect(checkDialogFields(telContact)).toMatch(/not a SIP or SIPS URI/);
    const badRr = outOfDialogRequest({ headers: { 'Record-Route': '<sip:p1;lr' } });
    expect(checkDialogFields(badRr)).toMatch(/>/);
    expect(checkDialogFields(outOfDialogRequest())).toBeUndefined();
    // A 1xx may come without Contact.
    expect(checkDialogFields(answer(outOfDialogRequest(), 180, { contact: null }))).toBeUndefined();
    expect(checkDialogFields(answer(outOfDialogRequest(), 200, { contact: null }))).toBeDefined();

    const invite = outOfDialogRequest();
    expect(() => Dialog.uac(invite, answer(invite, 100), options())).toThrow(TypeError);
    expect(() => Dialog.uac(invite, answer(outOfDialogRequest({ cseq: 2 }), 200), options())).toThrow(
      TypeError,
    );
    const inDialog = outOfDialogRequest();
    inDialog.headers.set('To', `<${BOB.aor}>;tag=x`);
    expect(() => Dialog.uas(inDialog, answer(inDialog, 200), options())).toThrow(TypeError);
  });

  it('gives a plain snapshot for stores', () => {
    const { alice } = call();
    expect(alice.snapshot()).toEqual({
      key: 'call-1@atlanta.example.com|a-tag|b-tag',
      callId: 'call-1@atlanta.example.com',
      localTag: 'a-tag',
      remoteTag: 'b-tag',
      role: 'uac',
      state: 'Confirmed',
      localSeq: 1,
      remoteSeq: undefined,
      localUri: ALICE.aor,
      remoteUri: BOB.aor,
      remoteTarget: BOB.contact,
      routeSet: [P1, P2],
      secure: false,
    });
    expect(JSON.parse(JSON.stringify(alice.snapshot()))).toMatchObject({ state: 'Confirmed' });
  });
});
