import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidStateError } from '../../../web/src/sip/errors.ts';
import { SipRequest, SipResponse, parseUri } from '../../../web/src/sip/index.ts';
import {
  TransactionLayer,
  createCancel,
  newBranch,
  type Transaction,
  type TransactionEvent,
} from '../../../web/src/sip/transaction/index.ts';
import {
  any,
  isRequest,
  isResponse,
  transactionPair,
  type Fate,
  type TransactionPair,
} from '../../support/linked-pair.ts';
import { buildInvite, buildRequest, buildResponse, seededRandom } from '../../support/sip-builders.ts';

function sendInvite(
  pair: TransactionPair,
  invite = buildInvite({ transport: pair.clientFlow.transport as 'UDP' }),
) {
  return pair.client.sendRequest(invite, pair.now, { reliable: pair.reliable, flow: pair.clientFlow });
}

/** A server TU that answers INVITE with `provisional` (if any) and CANCELed INVITEs with 487. */
function callee(pair: TransactionPair, provisional?: number): { invites: string[]; requests: SipRequest[] } {
  const seen = { invites: [] as string[], requests: [] as SipRequest[] };
  pair.onEvent = (side, e) => {
    if (side !== 'server') return;
    switch (e.type) {
      case 'request':
        seen.requests.push(e.request);
        if (e.request.method !== 'INVITE') break;
        seen.invites.push(e.transactionId);
        if (provisional !== undefined)
          pair.server.respond(e.transactionId, buildResponse(e.request, provisional, 'bob'), pair.now);
        break;
      case 'cancel': {
        const invite = seen.requests[seen.invites.indexOf(e.transactionId)]!;
        pair.server.respond(e.transactionId, buildResponse(invite, 487, e.toTag), pair.now);
        break;
      }
      case 'response':
      case 'timeout':
      case 'transport-error':
      case 'terminated':
      case 'ack':
      case 'stray-response':
        break;
    }
  };
  return seen;
}

describe('CANCEL (RFC 3261 §9)', () => {
  it('cancels a ringing INVITE: CANCEL answered 200 by the layer, 487 by the TU, ACKed by the client', () => {
    const pair = transactionPair();
    const seen = callee(pair, 180);
    const invite = buildInvite({ route: ['<sip:p1.example.com;lr>'], cseq: 7 });
    const tx = sendInvite(pair, invite);
    pair.advanceTo(1_000);
    const cancelId = pair.client.cancel(tx.id, pair.now);
    pair.advanceTo(60_000);

    expect(pair.sent('client').map((w) => [w.at, w.summary])).toEqual([
      [0, 'INVITE'],
      [1_000, 'CANCEL'],
      [1_000, 'ACK'],
    ]);
    expect(pair.sent('server').map((w) => [w.at, w.summary])).toEqual([
      [0, '180 INVITE'],
      [1_000, '200 CANCEL'],
      [1_000, '487 INVITE'],
    ]);
    // The server's TU heard of the INVITE once and of the CANCEL as a `cancel`, not as a new request.
    expect(seen.requests.map((r) => r.method)).toEqual(['INVITE']);
    const cancels = pair.eventsOf('server', 'cancel');
    expect(cancels).toHaveLength(1);
    expect(cancels[0]!.event).toMatchObject({ transactionId: seen.invites[0], toTag: 'bob' });
    // The client's TU: 180 and 487 on the INVITE, 200 on the CANCEL.
    expect(
      pair.eventsOf('client', 'response').map((e) => [e.event.transactionId, e.event.response.status]),
    ).toEqual([
      [tx.id, 180],
      [cancelId, 200],
      [tx.id, 487],
    ]);

    // §9.1: the CANCEL copies Request-URI, Call-ID, To, From, CSeq number, the top Via and the Route set.
    const cancel = pair.sent('client', 'CANCEL')[0]!.message as SipRequest;
    expect(cancel.uri.toString()).toBe(invite.uri.toString());
    expect(cancel.callId).toBe(invite.callId);
    expect(cancel.headers.get('to')).toBe(invite.headers.get('to'));
    expect(cancel.headers.get('from')).toBe(invite.headers.get('from'));
    expect(cancel.cseq).toEqual({ seq: 7, method: 'CANCEL' });
    expect(cancel.via).toEqual([invite.topVia]);
    expect(cancel.headers.getAll('route')).toEqual(['<sip:p1.example.com;lr>']);
    // §9.2: the 200 to the CANCEL carries the To tag of the INVITE's responses.
    expect(pair.sent('server', '200 CANCEL')[0]!.message.toTag).toBe('bob');
  });

  it('holds a CANCEL asked for before any provisional response until the 180 arrives', () => {
    const pair = transactionPair();
    const seen = callee(pair);
    pair.toClient.drop(isResponse(100)); // so that the 180 is the first provisional the client gets
    const tx = sendInvite(pair);
    pair.advanceTo(100);
    const cancelId = pair.client.cancel(tx.id, pair.now);
    expect(pair.client.cancel(tx.id, pair.now)).toBe(cancelId); // asking again changes nothing
    pair.advanceTo(2_000);
    expect(pair.sent('client', 'CANCEL')).toEqual([]);
    expect(pair.times('client', 'INVITE')).toEqual([0, 500, 1_500]);
    pair.server.respond(seen.invites[0]!, buildResponse(seen.requests[0]!, 180, 'bob'), pair.now);
    pair.advanceTo(60_000);

    expect(pair.times('client', 'CANCEL')).toEqual([2_000]);
    expect(
      pair.eventsOf('client', 'response').map((e) => [e.at, e.event.transactionId, e.event.response.status]),
    ).toEqual([
      [2_000, tx.id, 180],
      [2_000, cancelId, 200],
      [2_000, tx.id, 487],
    ]);
  });

  it('sends the held CANCEL on a 100 (Trying) too: any provisional will do', () => {
    const pair = transactionPair();
    callee(pair);
    const tx = sendInvite(pair);
    pair.client.cancel(tx.id, pair.now);
    pair.advanceTo(1_000);
    expect(pair.times('server', '100 INVITE')).toEqual([200]);
    expect(pair.times('client', 'CANCEL')).toEqual([200]);
  });

  it('never sends a held CANCEL when a final response comes first', () => {
    const pair = transactionPair();
    const seen = callee(pair);
    pair.toClient.drop(isResponse(100));
    const tx = sendInvite(pair);
    const cancelId = pair.client.cancel(tx.id, pair.now);
    pair.advanceTo(300);
    pair.server.respond(seen.invites[0]!, buildResponse(seen.requests[0]!, 486, 'bob'), pair.now);
    pair.advanceTo(60_000);

    expect(pair.sent('client').map((w) => w.summary)).toEqual(['INVITE', 'ACK']);
    expect(pair.eventsOf('client', 'terminated').map((e) => [e.at, e.event.transactionId])).toEqual([
      [300, cancelId],
      [300 + 32_000, tx.id],
    ]);
    expect(() => pair.client.cancel(tx.id, pair.now)).toThrow(InvalidStateError);
  });

  it('refuses to cancel an INVITE that already has a final response', () => {
    const pair = transactionPair();
    const seen = callee(pair);
    const tx = sendInvite(pair);
    pair.advanceTo(10);
    pair.server.respond(seen.invites[0]!, buildResponse(seen.requests[0]!, 200, 'bob'), pair.now);
    pair.advanceTo(20);
    expect(() => pair.client.cancel(tx.id, pair.now)).toThrow(InvalidStateError);
  });

  it('gives the INVITE up 64·T1 after the CANCEL when no final response comes (§9.1)', () => {
    const pair = transactionPair();
    pair.onEvent = () => undefined; // a callee that ignores the CANCEL's news
    const tx = sendInvite(pair);
    pair.advanceTo(1_000);
    pair.client.cancel(tx.id, pair.now);
    pair.advanceTo(60_000);
    expect(pair.times('client', 'CANCEL')).toEqual([1_000]);
    expect(
      pair.eventsOf('client', 'timeout').map((e) => [e.at, e.event.transactionId, e.event.timer]),
    ).toEqual([[33_000, tx.id, 'cancel']]);
  });

  it('answers a retransmitted CANCEL from its own server transaction, with one cancel event', () => {
    const pair = transactionPair();
    callee(pair, 180);
    pair.toClient.drop(isResponse(200, 'CANCEL'), 1);
    const tx = sendInvite(pair);
    pair.advanceTo(1_000);
    pair.client.cancel(tx.id, pair.now);
    pair.advanceTo(60_000);
    expect(pair.times('client', 'CANCEL')).toEqual([1_000, 1_500]);
    expect(pair.times('server', '200 CANCEL')).toEqual([1_000, 1_500]);
    expect(pair.eventsOf('server', 'cancel')).toHaveLength(1);
  });

  it('passes a CANCEL that matches nothing to the TU as a request (it answers 481, §9.2)', () => {
    const pair = transactionPair();
    const seen = callee(pair);
    pair.client.sendRequest(createCancel(buildInvite()), pair.now, {
      reliable: false,
      flow: pair.clientFlow,
    });
    pair.advanceTo(10);
    expect(seen.requests.map((r) => r.method)).toEqual(['CANCEL']);
    const [request] = pair.eventsOf('server', 'request');
    pair.server.respond(request!.event.transactionId, buildResponse(seen.requests[0]!, 481, 'x'), pair.now);
    pair.advanceTo(100);
    expect(pair.eventsOf('client', 'response').map((e) => e.event.response.status)).toEqual([481]);
  });
});

describe('forked INVITE: several 2xx (RFC 6026)', () => {
  it('delivers the 2xx of both forks and the retransmitted 2xx flagged, absorbs the INVITE retransmission, ends on M and L', () => {
    const pair = transactionPair();
    const seen = callee(pair);
    pair.toClient.drop(isResponse(200, 'INVITE'), 1);
    const tx = sendInvite(pair);
    pair.advanceTo(0);
    const okA = buildResponse(seen.requests[0]!, 200, 'fork-a');
    pair.server.respond(seen.invites[0]!, okA, pair.now); // lost
    pair.advanceTo(1_000);
    // The INVITE retransmitted at 500 met an Accepted server transaction: absorbed, not passed up, nothing sent.
    expect(pair.times('client', 'INVITE')).toEqual([0, 500]);
    expect(pair.times('server', '200 INVITE')).toEqual([0]);
    expect(seen.requests).toHaveLength(1);

    pair.server.respond(seen.invites[0]!, okA, pair.now); // the TU's 2xx retransmission (§13.3.1.4)
    pair.advanceTo(1_200);
    pair.inject('client', buildResponse(seen.requests[0]!, 200, 'fork-b')); // another fork, via a proxy
    pair.advanceTo(2_000);
    pair.server.respond(seen.invites[0]!, okA, pair.now);
    pair.advanceTo(2_100);

    const responses = pair
      .eventsOf('client', 'response')
      .map((e) => [e.at, e.event.transactionId, e.event.response.toTag, e.event.retransmission]);
    expect(responses).toEqual([
      [1_000, tx.id, 'fork-a', false],
      [1_200, tx.id, 'fork-b', false],
      [2_000, tx.id, 'fork-a', true],
    ]);

    // The UAC core ACKs each 2xx itself, with a new branch: those ACKs match no server transaction.
    for (const tag of ['fork-a', 'fork-b']) {
      const ack = buildRequest({
        method: 'ACK',
        callId: tx.request.callId,
        toTag: tag,
        cseq: tx.request.cseq.seq,
      });
      pair.client.sendStateless(ack, pair.clientFlow);
    }
    pair.advanceTo(60_000);
    expect(pair.eventsOf('server', 'ack').map((e) => [e.event.transactionId, e.event.request.toTag])).toEqual(
      [
        [undefined, 'fork-a'],
        [undefined, 'fork-b'],
      ],
    );
    // Timer M from the first 2xx received (1 s); Timer L from the 2xx sent (0 s).
    expect(pair.eventsOf('client', 'terminated').map((e) => e.at)).toEqual([1_000 + 32_000]);
    expect(pair.eventsOf('server', 'terminated').map((e) => e.at)).toEqual([32_000]);

    // After Timer M a late 2xx matches no transaction: it still reaches the TU, as a stray.
    pair.inject('client', buildResponse(seen.requests[0]!, 200, 'fork-c'));
    pair.advanceTo(60_001);
    const strays = pair.eventsOf('client', 'stray-response');
    expect(strays.map((e) => [e.event.response.status, e.event.response.toTag])).toEqual([[200, 'fork-c']]);
  });

  it('passes up a late 2xx that arrives after a non-2xx final (a proxy forwards it, §16.7)', () => {
    const pair = transactionPair();
    const seen = callee(pair);
    const tx = sendInvite(pair);
    pair.advanceTo(0);
    pair.server.respond(seen.invites[0]!, buildResponse(seen.requests[0]!, 603, 'fork-a'), pair.now);
    pair.advanceTo(100);
    pair.inject('client', buildResponse(seen.requests[0]!, 200, 'fork-b'));
    pair.advanceTo(200);
    expect(tx.state).toBe('Completed');
    expect(
      pair.eventsOf('client', 'response').map((e) => [e.event.response.status, e.event.retransmission]),
    ).toEqual([
      [603, false],
      [200, false],
    ]);
  });
});

describe('duplicates and reordering', () => {
  it('non-INVITE: 100 and 200 delivered reversed and twice give one final event and no late provisional', () => {
    const pair = transactionPair();
    pair.toClient.hold();
    pair.onEvent = (side, e) => {
      if (side === 'server' && e.type === 'request') {
        pair.server.respond(e.transactionId, buildResponse(e.request, 100), pair.now);
        pair.server.respond(e.transactionId, buildResponse(e.request, 200, 'bob'), pair.now);
      }
    };
    const tx = pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });
    pair.advanceTo(300);
    expect(pair.toClient.heldCount).toBe(2);
    pair.toClient.release(pair.now, 'reversed', 2);
    pair.advanceTo(60_000);

    expect(
      pair.eventsOf('client', 'response').map((e) => [e.at, e.event.transactionId, e.event.response.status]),
    ).toEqual([[300, tx.id, 200]]);
    expect(pair.times('client', 'MESSAGE')).toEqual([0]);
  });

  it('INVITE: 180 and 486 reversed and twice: one 486 event, one ACK per 486 copy, 180s ignored', () => {
    const pair = transactionPair();
    pair.toClient.hold();
    pair.onEvent = (side, e) => {
      if (side === 'server' && e.type === 'request') {
        pair.server.respond(e.transactionId, buildResponse(e.request, 180, 'bob'), pair.now);
        pair.server.respond(e.transactionId, buildResponse(e.request, 486, 'bob'), pair.now);
      }
    };
    sendInvite(pair);
    pair.advanceTo(400);
    pair.toClient.clearRules();
    pair.toClient.release(pair.now, 'reversed', 2);
    pair.advanceTo(60_000);

    // Held: 180 and 486 at 0; Timer G's 486 at 500 and later went through, but the ACK at 400 stopped G.
    expect(pair.eventsOf('client', 'response').map((e) => [e.at, e.event.response.status])).toEqual([
      [400, 486],
    ]);
    expect(pair.times('client', 'ACK')).toEqual([400, 400]);
    expect(pair.times('client', 'INVITE')).toEqual([0]);
  });

  it('INVITE: 180 after 200 is ignored; the duplicate 200 goes up flagged as a retransmission', () => {
    const pair = transactionPair();
    pair.toClient.hold();
    pair.onEvent = (side, e) => {
      if (side === 'server' && e.type === 'request') {
        pair.server.respond(e.transactionId, buildResponse(e.request, 180, 'bob'), pair.now);
        pair.server.respond(e.transactionId, buildResponse(e.request, 200, 'bob'), pair.now);
      }
    };
    sendInvite(pair);
    pair.advanceTo(100);
    pair.toClient.release(pair.now, 'reversed', 2);
    pair.advanceTo(200);
    expect(
      pair.eventsOf('client', 'response').map((e) => [e.event.response.status, e.event.retransmission]),
    ).toEqual([
      [200, false],
      [200, true],
    ]);
  });

  it('whatever the network does, each side’s TU sees at most one request and one final, and everything ends', () => {
    const fate = fc.constantFrom<Fate>(
      'deliver',
      'deliver',
      'drop',
      'duplicate',
      { delay: 300 },
      { delay: 2_700 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom('MESSAGE', 'INVITE'),
        fc.constantFrom(200, 404, 486, 603),
        fc.array(fate, { minLength: 1, maxLength: 40 }),
        fc.array(fate, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (method, status, up, down, provisional) => {
          const pair = transactionPair();
          pair.toServer.policy = (_m, i) => up[i % up.length]!;
          pair.toClient.policy = (_m, i) => down[i % down.length]!;
          let okFor: { id: string; response: SipResponse } | undefined;
          pair.onEvent = (side, e) => {
            if (side !== 'server' || e.type !== 'request') return;
            if (provisional)
              pair.server.respond(e.transactionId, buildResponse(e.request, 180, 'bob'), pair.now);
            const final = buildResponse(e.request, status, 'bob');
            pair.server.respond(e.transactionId, final, pair.now);
            if (method === 'INVITE' && status === 200) okFor = { id: e.transactionId, response: final };
          };
          const request = method === 'INVITE' ? buildInvite() : buildRequest();
          const tx = pair.client.sendRequest(request, pair.now, { reliable: false, flow: pair.clientFlow });
          // The TU retransmits its 2xx at T1, 2·T1 … (§13.3.1.4); the ACK is not modelled, so it goes on to 32 s.
          for (let t = 500, step = 500; t < 32_000; t += step, step = Math.min(step * 2, 4_000)) {
            pair.advanceTo(t);
            if (okFor !== undefined && pair.server.transaction(okFor.id) !== undefined)
              pair.server.respond(okFor.id, okFor.response, pair.now);
          }
          pair.advanceTo(200_000);

          expect(pair.eventsOf('server', 'request').length).toBeLessThanOrEqual(1);
          const finals = pair
            .eventsOf('client', 'response')
            .filter((e) => e.event.response.status >= 200 && !e.event.retransmission);
          expect(finals.length).toBeLessThanOrEqual(1);
          for (const f of finals) expect(f.event.response.status).toBe(status);
          const timeouts = pair.eventsOf('client', 'timeout');
          expect(finals.length + timeouts.length).toBeLessThanOrEqual(1);
          if (pair.eventsOf('server', 'request').length === 0) expect(finals).toHaveLength(0);
          expect(pair.eventsOf('client', 'terminated').map((e) => e.event.transactionId)).toEqual([tx.id]);
          expect(pair.client.size + pair.server.size).toBe(0);
          expect(pair.client.nextDeadline()).toBeUndefined();
          expect(pair.server.nextDeadline()).toBeUndefined();
        },
      ),
      { numRuns: 200, seed: 20_260_401 },
    );
  });
});

describe('RFC 2543 fallback matching (§17.2.3)', () => {
  it('absorbs a retransmitted INVITE without a branch and re-sends the last response', () => {
    const pair = transactionPair();
    const seen = callee(pair, 180);
    const invite = buildInvite({ branch: null });
    pair.inject('server', invite);
    pair.advanceTo(100);
    pair.inject('server', invite);
    pair.advanceTo(200);
    expect(seen.requests).toHaveLength(1);
    expect(pair.times('server', '180 INVITE')).toEqual([0, 100]);
    // A different CSeq is another transaction.
    pair.inject('server', buildInvite({ branch: null, callId: invite.callId, cseq: invite.cseq.seq + 1 }));
    pair.advanceTo(300);
    expect(seen.requests).toHaveLength(2);
  });

  it('matches the ACK by the To tag of the final response sent; an ACK with another To tag goes up', () => {
    const pair = transactionPair();
    const seen = callee(pair);
    const invite = buildInvite({ branch: null });
    pair.inject('server', invite);
    pair.advanceTo(0);
    pair.server.respond(seen.invites[0]!, buildResponse(seen.requests[0]!, 486, 'busy'), pair.now);
    pair.advanceTo(700);
    expect(pair.times('server', '486 INVITE')).toEqual([0, 500]);

    const ackFor = (toTag: string) =>
      buildRequest({ method: 'ACK', branch: null, callId: invite.callId, cseq: invite.cseq.seq, toTag });
    pair.inject('server', ackFor('someone-else'));
    pair.advanceTo(800);
    expect(pair.eventsOf('server', 'ack').map((e) => e.event.transactionId)).toEqual([undefined]);

    pair.inject('server', ackFor('busy'));
    pair.advanceTo(60_000);
    // Confirmed at 0.8 s: Timer G (due at 1.5 s) never fires again; Timer I ends it at 0.8 + T4.
    expect(pair.times('server', '486 INVITE')).toEqual([0, 500]);
    expect(pair.eventsOf('server', 'ack')).toHaveLength(1);
    expect(pair.eventsOf('server', 'terminated').map((e) => e.at)).toEqual([5_800]);
  });

  it('works end to end with a client whose branch lacks the magic cookie: retransmission, lost final, CANCEL', () => {
    const pair = transactionPair();
    callee(pair, 180);
    pair.toClient.drop(isResponse(180), 1);
    const tx = sendInvite(pair, buildInvite({ branch: 'old-style-1' }));
    pair.advanceTo(1_000);
    expect(pair.eventsOf('server', 'request')).toHaveLength(1);
    expect(pair.times('server', '180 INVITE')).toEqual([0, 500]);
    pair.client.cancel(tx.id, pair.now);
    pair.advanceTo(60_000);
    expect(pair.eventsOf('server', 'cancel')).toHaveLength(1);
    expect(pair.eventsOf('client', 'response').map((e) => e.event.response.status)).toEqual([180, 200, 487]);
    expect(pair.times('client', 'ACK')).toEqual([1_000]);
  });
});

describe('the layer API', () => {
  it('reports a response that matches no client transaction as a stray', () => {
    const pair = transactionPair();
    pair.inject('client', buildResponse(buildInvite(), 200, 'x'));
    pair.inject('client', buildResponse(buildRequest(), 404, 'y'));
    pair.advanceTo(1);
    expect(pair.eventsOf('client', 'stray-response').map((e) => e.event.response.status)).toEqual([200, 404]);
  });

  it('separates server transactions by sent-by: the same branch from two hosts is two transactions', () => {
    const pair = transactionPair();
    const seen = callee(pair);
    pair.inject('server', buildRequest({ branch: 'z9hG4bKsame', sentBy: 'a.example.com' }));
    pair.inject('server', buildRequest({ branch: 'z9hG4bKsame', sentBy: 'b.example.com' }));
    pair.inject('server', buildRequest({ branch: 'z9hG4bKsame', sentBy: 'b.example.com' }));
    pair.advanceTo(1);
    expect(seen.requests.map((r) => r.topVia?.host)).toEqual(['a.example.com', 'b.example.com']);
  });

  it('drops a malformed message without throwing, and says why to the injected log', () => {
    const lines: string[] = [];
    const layer = new TransactionLayer({ random: seededRandom(1), log: (l) => lines.push(l) });
    const noVia = new SipRequest('MESSAGE', parseUri('sip:bob@example.com'), {
      From: '<sip:a@example.com>;tag=1',
      To: '<sip:bob@example.com>',
      'Call-ID': 'x',
      CSeq: '1 MESSAGE',
    });
    const badCSeq = new SipResponse(200, 'OK', {
      Via: 'SIP/2.0/UDP h;branch=z9hG4bK1',
      From: '<sip:a@example.com>;tag=1',
      To: '<sip:bob@example.com>',
      'Call-ID': 'x',
      CSeq: 'one MESSAGE',
    });
    expect(() => layer.receive(noVia, 0)).not.toThrow();
    expect(() => layer.receive(badCSeq, 0)).not.toThrow();
    expect(layer.takeEvents()).toEqual([]);
    expect(layer.takeTransmissions()).toEqual([]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/no Via/);
    expect(lines[1]).toMatch(/CSeq/);
  });

  it('throws on API misuse', () => {
    const layer = new TransactionLayer({ random: seededRandom(1) });
    const message = buildRequest();
    expect(() => layer.sendRequest(buildRequest({ method: 'ACK' }), 0, { reliable: false })).toThrow(
      TypeError,
    );
    expect(() => layer.sendRequest(buildRequest({ branch: null }), 0, { reliable: false })).toThrow(
      TypeError,
    );
    const tx = layer.sendRequest(message, 0, { reliable: false });
    expect(() => layer.sendRequest(message, 0, { reliable: false })).toThrow(InvalidStateError);
    expect(() => layer.respond(tx, buildResponse(message, 200, 'x'), 0)).toThrow(InvalidStateError);
    expect(() => layer.respond('server-99', buildResponse(message, 200, 'x'), 0)).toThrow(InvalidStateError);
    expect(() => layer.cancel(tx, 0)).toThrow(InvalidStateError);
    expect(() => layer.cancel('client-99', 0)).toThrow(InvalidStateError);
    expect(() => new TransactionLayer({ random: seededRandom(1), timers: { T1: -1 } })).toThrow(TypeError);
    expect(() => new TransactionLayer({} as never)).toThrow(TypeError);
  });

  it('adds nothing to the request it sends', () => {
    const layer = new TransactionLayer({ random: seededRandom(1) });
    const request = buildInvite();
    layer.sendRequest(request, 0, { reliable: false });
    const [t] = layer.takeTransmissions();
    expect(t!.message).toBe(request);
    expect(t!.message.headers.fields.map((f) => f.name)).toEqual(request.headers.fields.map((f) => f.name));
  });

  it('fails every transaction of a flow that closed', () => {
    const pair = transactionPair({ transport: 'TCP' });
    const a = pair.client.sendRequest(buildRequest({ transport: 'TCP' }), 0, {
      reliable: true,
      flow: pair.clientFlow,
    });
    const b = pair.client.sendRequest(buildInvite({ transport: 'TCP' }), 0, {
      reliable: true,
      flow: pair.clientFlow,
    });
    const other = pair.client.sendRequest(buildRequest({ transport: 'TCP' }), 0, {
      reliable: true,
      flow: { ...pair.clientFlow, flowId: 'flow-2' },
    });
    pair.client.flowFailed('flow-1', 10);
    const events = pair.client.takeEvents();
    expect(events.filter((e) => e.type === 'transport-error').map((e) => e.transactionId)).toEqual([
      a.id,
      b.id,
    ]);
    expect(pair.client.transaction(other.id)?.state).toBe('Trying');
    expect(pair.client.size).toBe(1);
  });

  it('keeps nextDeadline() exact across many transactions', () => {
    const layer = new TransactionLayer({ random: seededRandom(9) });
    const random = seededRandom(4);
    const ids: string[] = [];
    const earliest = (): number | undefined => {
      const deadlines = ids
        .map((id) => (layer.transaction(id) as Transaction | undefined)?.nextDeadline())
        .filter((d): d is number => d !== undefined);
      return deadlines.length === 0 ? undefined : Math.min(...deadlines);
    };
    const starts = Array.from({ length: 200 }, () => Math.floor(random() * 10_000)).sort((a, b) => a - b);
    for (const start of starts) {
      const tx = layer.sendRequest(buildRequest({ branch: newBranch(random) }), start, { reliable: false });
      ids.push(tx.id);
      expect(layer.nextDeadline()).toBe(earliest());
    }
    let steps = 0;
    for (let now = layer.nextDeadline(); now !== undefined && steps < 100_000; now = layer.nextDeadline()) {
      layer.handleTimers(now);
      expect(layer.nextDeadline()).toBe(earliest());
      if (layer.nextDeadline() !== undefined) expect(layer.nextDeadline()).toBeGreaterThan(now);
      steps++;
    }
    const events: TransactionEvent[] = layer.takeEvents();
    expect(events.filter((e) => e.type === 'timeout')).toHaveLength(200);
    expect(layer.size).toBe(0);
  });
});

describe('drop-everything sanity', () => {
  it('a link that drops all leaves the TU with only the timeout', () => {
    const pair = transactionPair();
    pair.toServer.drop(any);
    pair.client.sendRequest(buildRequest(), 0, { reliable: false, flow: pair.clientFlow });
    pair.advanceTo(40_000);
    expect(pair.eventsOf('client').map((e) => e.event.type)).toEqual(['timeout', 'terminated']);
    expect(pair.eventsOf('server')).toEqual([]);
  });

  it('the INVITE request matcher sees through the wire', () => {
    const pair = transactionPair();
    pair.toServer.drop(isRequest('INVITE'), 1);
    sendInvite(pair);
    pair.advanceTo(600);
    expect(pair.sent('client', 'INVITE').map((w) => w.fate)).toEqual(['drop', 'deliver']);
  });
});
