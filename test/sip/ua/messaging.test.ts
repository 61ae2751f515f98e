/**
 * Two (or three) UserAgents registered with the MiniRegistrar over WebSocket flows, talking through its
 * stateless proxy: pager MESSAGE, OPTIONS, and the INVITE paths the session usages are built on (dialogs,
 * ACK, CANCEL, reliable provisionals, BYE).
 */
import { describe, expect, it } from 'vitest';
import { type IncomingRequest, type SipRequest, type UserAgentEvent } from '../../../web/src/sip/index.ts';
import { isRequest } from '../../support/linked-pair.ts';
import { makeUa, miniNet, registerAll } from '../../support/ua-builders.ts';

const SDP = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n';

function pair(options: Parameters<typeof miniNet>[1] = {}) {
  const alice = makeUa('alice');
  const bob = makeUa('bob');
  const net = miniNet({ alice, bob }, options);
  registerAll(net, ['alice', 'bob']);
  return { alice, bob, net };
}

/** Collect bob's incoming requests and answer them with `answer`. */
function bobAnswers(
  net: ReturnType<typeof miniNet>,
  answer: (incoming: IncomingRequest) => void,
): IncomingRequest[] {
  const seen: IncomingRequest[] = [];
  net.onEvent = (name: string, event: UserAgentEvent) => {
    if (name !== 'bob' || event.type !== 'incoming-request') return;
    seen.push(event.incoming);
    answer(event.incoming);
  };
  return seen;
}

describe('pager mode MESSAGE (RFC 3428)', () => {
  it('alice → bob: 200, bob sees it once, even when the link duplicates it', () => {
    const { alice, net } = pair();
    net.link('bob', 'down').duplicate(isRequest('MESSAGE'));
    const seen = bobAnswers(net, (incoming) => incoming.accept());
    const out = alice.request('MESSAGE', 'sip:bob@example.com', {
      body: 'hello bob',
      contentType: 'text/plain',
    });
    net.settle();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.request.bodyText).toBe('hello bob');
    expect(seen[0]!.request.from.uri.toString()).toBe('sip:alice@example.com');
    // the duplicate was answered again with the same 200, and alice took one final
    expect(net.sent('bob', '200 MESSAGE')).toHaveLength(2);
    const finals = net.eventsOf('alice', 'final');
    expect(finals).toHaveLength(1);
    expect(finals[0]!.response.status).toBe(200);
    expect(finals[0]!.outgoing).toBe(out);
    expect(out.state).toBe('Completed');
    const wire = net.sent('alice', 'MESSAGE')[0]!.message as SipRequest;
    expect(wire.headers.has('contact')).toBe(false);
    expect(wire.toTag).toBeUndefined();
  });

  it('a MESSAGE to a user with no binding gets the proxy’s 404', () => {
    const { alice, net } = pair();
    alice.request('MESSAGE', 'sip:carol@example.com', { body: 'x', contentType: 'text/plain' });
    net.settle();
    expect(net.eventsOf('alice', 'final')[0]!.response.status).toBe(404);
  });

  it('bob refuses an unknown body with 415 and Accept; alice sees the 415', () => {
    const { alice, net } = pair();
    const seen = bobAnswers(net, (incoming) => incoming.accept());
    alice.request('MESSAGE', 'sip:bob@example.com', { body: '{}', contentType: 'application/json' });
    net.settle();
    expect(seen).toHaveLength(0);
    const final = net.eventsOf('alice', 'final')[0]!;
    expect(final.response.status).toBe(415);
    expect(final.response.accept.map((m) => m.subtype)).toContain('cpim');
  });
});

describe('OPTIONS (RFC 3261 §11)', () => {
  it('bob answers with the capabilities he really has', () => {
    const alice = makeUa('alice');
    const bob = makeUa('bob', {
      capabilities: { allow: ['MESSAGE', 'OPTIONS'], allowEvents: [], accept: ['text/plain'] },
    });
    const net = miniNet({ alice, bob });
    registerAll(net, ['alice', 'bob']);
    alice.request('OPTIONS', 'sip:bob@example.com', {});
    net.settle();
    const r = net.eventsOf('alice', 'final')[0]!.response;
    expect(r.status).toBe(200);
    expect(r.allow).toEqual(['MESSAGE', 'OPTIONS']);
    expect(r.accept.map((m) => `${m.type}/${m.subtype}`)).toEqual(['text/plain']);
    expect(r.supported).toEqual(['outbound', 'path', 'gruu', '100rel']);
    expect(r.headers.has('allow-events')).toBe(false);
    expect(net.eventsOf('bob', 'incoming-request')).toHaveLength(0);
  });
});

describe('INVITE sessions (RFC 3261 §13, §12)', () => {
  it('180, 200, ACK; then BYE ends both dialogs', () => {
    const { alice, bob, net } = pair({ recordRoute: true });
    const seen = bobAnswers(net, (incoming) => {
      if (incoming.method !== 'INVITE') return;
      incoming.progress(180);
      incoming.accept({ body: SDP, contentType: 'application/sdp' });
    });
    const call = alice.request('INVITE', 'sip:bob@example.com', {
      body: SDP,
      contentType: 'application/sdp',
    });
    net.settle();
    expect(seen).toHaveLength(1);
    expect(net.eventsOf('alice', 'progress').map((e) => e.response.status)).toEqual([180]);
    const final = net.eventsOf('alice', 'final')[0]!;
    expect(final.response.status).toBe(200);
    expect(final.response.contacts[0]!.uri.host).toBe('bob-host.invalid');
    const dialog = call.dialog!;
    expect(dialog.state).toBe('Confirmed');
    expect(dialog.routeSet.map((u) => u.toString())).toEqual(['sip:proxy.example.com;lr']);
    expect(net.sent('alice', 'ACK')).toHaveLength(1);
    expect(net.eventsOf('bob', 'ack')).toHaveLength(1);
    const bobDialog = seen[0]!.dialog!;
    expect(bobDialog.state).toBe('Confirmed');
    expect(bobDialog.id.remoteTag).toBe(dialog.id.localTag);
    expect(alice.dialogs).toHaveLength(1);
    expect(bob.dialogs).toHaveLength(1);
    // RFC 3261 §13.3.1.4: the 2xx is not resent once ACKed
    net.advanceBy(40_000);
    expect(net.sent('bob', '200 INVITE')).toHaveLength(1);

    const bye = alice.request('BYE', dialog, {});
    net.settle();
    expect(bye.response?.status).toBe(200);
    expect((net.sent('alice', 'BYE')[0]!.message as SipRequest).headers.getAll('route')).toEqual([
      '<sip:proxy.example.com;lr>',
    ]);
    expect(dialog.state).toBe('Terminated');
    expect(bobDialog.state).toBe('Terminated');
    expect(alice.dialogs).toHaveLength(0);
    expect(bob.dialogs).toHaveLength(0);
    expect(net.eventsOf('bob', 'dialog').map((e) => `${e.state}:${e.reason}`)).toEqual([
      'Early:180 sent',
      'Confirmed:200 sent',
      'Terminated:BYE received',
    ]);
  });

  it('the 2xx is resent at T1, 2·T1 … until the ACK comes (§13.3.1.4)', () => {
    const { alice, net } = pair();
    bobAnswers(net, (incoming) => incoming.accept({ body: SDP, contentType: 'application/sdp' }));
    net.link('alice', 'up').drop(isRequest('ACK'), 2);
    alice.request('INVITE', 'sip:bob@example.com', { body: SDP, contentType: 'application/sdp' });
    net.settle();
    const t0 = net.now;
    net.advanceBy(10_000);
    expect(net.sent('bob', '200 INVITE').map((w) => w.at - t0)).toEqual([0, 500, 1500]);
    expect(net.sent('alice', 'ACK').map((w) => w.at - t0)).toEqual([0, 500, 1500]);
    expect(net.eventsOf('bob', 'ack')).toHaveLength(1);
    expect(net.eventsOf('alice', 'final')).toHaveLength(1);
  });

  it('no ACK within 64·T1: the callee ends the session with BYE', () => {
    const { alice, net } = pair();
    const seen = bobAnswers(net, (incoming) =>
      incoming.accept({ body: SDP, contentType: 'application/sdp' }),
    );
    net.link('alice', 'up').drop(isRequest('ACK'));
    alice.request('INVITE', 'sip:bob@example.com', { body: SDP, contentType: 'application/sdp' });
    net.settle();
    const t0 = net.now;
    net.advanceBy(40_000);
    const resent = net.sent('bob', '200 INVITE').map((w) => w.at - t0);
    expect(resent.slice(0, 5)).toEqual([0, 500, 1500, 3500, 7500]);
    expect(Math.max(...resent)).toBeLessThan(32_000);
    expect(net.sent('bob', 'BYE').map((w) => w.at - t0)).toEqual([32_000]);
    expect(seen[0]!.dialog?.state).toBe('Terminated');
    expect(net.eventsOf('bob', 'ack')).toHaveLength(0);
  });

  it('CANCEL: a ringing INVITE ends with 487 on both sides', () => {
    const { alice, net } = pair();
    bobAnswers(net, (incoming) => incoming.progress(180));
    const call = alice.request('INVITE', 'sip:bob@example.com', {
      body: SDP,
      contentType: 'application/sdp',
    });
    net.settle();
    call.cancel(net.now);
    net.settle();
    expect(net.sent('alice', 'CANCEL')).toHaveLength(1);
    expect(net.eventsOf('bob', 'incoming-cancelled')).toHaveLength(1);
    expect(net.eventsOf('alice', 'final')[0]!.response.status).toBe(487);
    expect(net.sent('alice', 'ACK')).toHaveLength(1); // the transaction's ACK of the 487
    expect(call.dialogSet?.state).toBe('Failed');
    expect(net.eventsOf('bob', 'incoming-cancelled')[0]!.incoming.state).toBe('Cancelled');
  });

  it('a BYE on an early dialog ends it: 200 to the BYE, 487 to the INVITE (§15.1.2)', () => {
    const { alice, net } = pair();
    bobAnswers(net, (incoming) => {
      if (incoming.method === 'INVITE') incoming.progress(180);
    });
    const call = alice.request('INVITE', 'sip:bob@example.com', {
      body: SDP,
      contentType: 'application/sdp',
    });
    net.settle();
    const early = net.eventsOf('alice', 'progress')[0]!.dialog!;
    expect(early.state).toBe('Early');
    const bye = alice.request('BYE', early, {});
    net.settle();
    expect(bye.response?.status).toBe(200);
    expect(call.response?.status).toBe(487);
    expect(net.eventsOf('bob', 'incoming-cancelled')[0]!.cancel.method).toBe('BYE');
    expect(alice.dialogs).toHaveLength(0);
  });

  it('reliable provisional responses (RFC 3262): bob’s 183 is PRACKed by alice', () => {
    const { alice, net } = pair();
    bobAnswers(net, (incoming) => {
      if (incoming.method === 'INVITE')
        incoming.progress(183, { reliable: true, body: SDP, contentType: 'application/sdp' });
    });
    const answered = net.onEvent;
    net.onEvent = (name, event) => {
      answered?.(name, event);
      if (name === 'bob' && event.type === 'prack')
        event.incoming.accept({ body: SDP, contentType: 'application/sdp' });
    };
    alice.request('INVITE', 'sip:bob@example.com', { body: SDP, contentType: 'application/sdp' });
    net.settle();
    net.advanceBy(5_000);
    const provisional = net.sent('bob', '183 INVITE');
    expect(provisional).toHaveLength(1); // PRACKed at once: never resent
    const rseq = provisional[0]!.message!.headers.get('rseq');
    expect(rseq).toMatch(/^\d+$/);
    expect(provisional[0]!.message!.require).toContain('100rel');
    const prack = net.sent('alice', 'PRACK');
    expect(prack).toHaveLength(1);
    const invite = net.sent('alice', 'INVITE')[0]!.message as SipRequest;
    expect((prack[0]!.message as SipRequest).headers.get('rack')).toBe(
      `${rseq!} ${String(invite.cseq.seq)} INVITE`,
    );
    expect(net.sent('bob', '200 PRACK')).toHaveLength(1);
    expect(net.eventsOf('bob', 'prack')).toHaveLength(1);
    expect(net.eventsOf('alice', 'final')[0]!.response.status).toBe(200);
  });

  it('a reliable provisional never PRACKed is resent, then the INVITE is refused with 500 after 64·T1', () => {
    const { alice, net } = pair();
    bobAnswers(net, (incoming) => incoming.progress(180, { reliable: true }));
    net.link('alice', 'up').drop(isRequest('PRACK'));
    alice.request('INVITE', 'sip:bob@example.com', { body: SDP, contentType: 'application/sdp' });
    net.settle();
    const t0 = net.now;
    net.advanceBy(40_000);
    const times = net.sent('bob', '180 INVITE').map((w) => w.at - t0);
    expect(times.slice(0, 5)).toEqual([0, 500, 1500, 3500, 7500]);
    expect(net.sent('bob', '500 INVITE').map((w) => w.at - t0)).toEqual([32_000]);
    expect(net.eventsOf('alice', 'final')[0]!.response.status).toBe(500);
    // a retransmitted reliable provisional is not PRACKed again (RFC 3262 §4)
    expect(net.sent('alice', 'PRACK')).toHaveLength(1);
  });

  it('an INVITE within the dialog (re-INVITE) is ACKed and refreshes nothing it should not', () => {
    const { alice, net } = pair();
    bobAnswers(net, (incoming) => incoming.accept({ body: SDP, contentType: 'application/sdp' }));
    const call = alice.request('INVITE', 'sip:bob@example.com', {
      body: SDP,
      contentType: 'application/sdp',
    });
    net.settle();
    const reinvite = alice.request('INVITE', call.dialog, { body: SDP, contentType: 'application/sdp' });
    net.settle();
    expect(reinvite.response?.status).toBe(200);
    expect(net.sent('alice', 'ACK')).toHaveLength(2);
    expect(net.eventsOf('bob', 'ack')).toHaveLength(2);
    expect(net.sent('bob', '200 INVITE')).toHaveLength(2);
  });
});
