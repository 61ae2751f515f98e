import { describe, expect, it } from 'vitest';
import { InvalidStateError } from '../../../web/src/sip/errors.ts';
import { DEFAULT_TIMERS } from '../../../web/src/sip/transaction/index.ts';
import type { SipRequest } from '../../../web/src/sip/index.ts';
import { isRequest, isResponse, transactionPair, type TransactionPair } from '../../support/linked-pair.ts';
import { buildInvite, buildRequest, buildResponse } from '../../support/sip-builders.ts';

/** Records the server transaction id of each new request; the server TU says nothing by itself. */
function silentServer(pair: TransactionPair): { ids: string[]; requests: SipRequest[] } {
  const seen = { ids: [] as string[], requests: [] as SipRequest[] };
  pair.onEvent = (side, e) => {
    if (side === 'server' && e.type === 'request') {
      seen.ids.push(e.transactionId);
      seen.requests.push(e.request);
    }
  };
  return seen;
}

function sendInvite(
  pair: TransactionPair,
  invite = buildInvite({ transport: pair.clientFlow.transport as 'UDP' }),
) {
  return pair.client.sendRequest(invite, pair.now, { reliable: pair.reliable, flow: pair.clientFlow });
}

describe('INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §8.5–8.7)', () => {
  it('sends 100 (Trying) itself 200 ms after the INVITE when the TU is silent', () => {
    const pair = transactionPair();
    silentServer(pair);
    pair.advanceTo(1_000);
    sendInvite(pair);
    pair.advanceTo(5_000);

    expect(pair.times('server', '100 INVITE')).toEqual([1_200]);
    const trying = pair.sent('server', '100 INVITE')[0]!.message;
    expect(trying.toTag).toBeUndefined();
    // The client went to Proceeding at 1.2 s, before its first retransmission at 1.5 s.
    expect(pair.times('client', 'INVITE')).toEqual([1_000]);
  });

  it('sends no 100 (Trying) when the TU answers within 200 ms', () => {
    const pair = transactionPair();
    const seen = silentServer(pair);
    sendInvite(pair);
    pair.advanceTo(199);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 180, 'bob'), pair.now);
    pair.advanceTo(5_000);

    expect(pair.sent('server').map((w) => [w.at, w.summary])).toEqual([[199, '180 INVITE']]);
  });

  it('absorbs INVITE retransmissions: the TU sees the INVITE once and the last provisional is re-sent each time', () => {
    const pair = transactionPair();
    const seen = silentServer(pair);
    pair.toClient.drop(isResponse(180), 2);
    pair.toServer.duplicate(isRequest('INVITE'), 1);
    sendInvite(pair);
    pair.advanceTo(100);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 180, 'bob'), pair.now);
    pair.advanceTo(10_000);

    expect(seen.ids).toHaveLength(1);
    expect(pair.times('client', 'INVITE')).toEqual([0, 500, 1_500]);
    // 180 at 100 (lost), again for the retransmission at 500 (lost), again at 1.5 s (delivered).
    expect(pair.times('server', '180 INVITE')).toEqual([100, 500, 1_500]);
    expect(pair.eventsOf('client', 'response').map((e) => [e.at, e.event.response.status])).toEqual([
      [1_500, 180],
    ]);
    // The duplicate of the first INVITE came before any response: absorbed silently.
    expect(pair.sent('server', '100 INVITE')).toEqual([]);
  });

  it('resends a 300-699 final with Timer G (doubling up to T2) until Timer H gives up at 64·T1', () => {
    const pair = transactionPair();
    const seen = silentServer(pair);
    // A peer that sends one INVITE and never ACKs: injected, so no client transaction retransmits.
    pair.inject('server', buildInvite());
    pair.advanceTo(0);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 486, 'bob'), pair.now);
    pair.advanceTo(60_000);

    expect(pair.times('server', '486 INVITE')).toEqual([
      0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
    ]);
    expect(pair.eventsOf('server').map((e) => [e.at, e.event.type])).toEqual([
      [0, 'request'],
      [32_000, 'timeout'],
      [32_000, 'terminated'],
    ]);
    expect(pair.eventsOf('server', 'timeout')[0]!.event.timer).toBe('H');
  });

  it('does not resend the final on a reliable transport, but Timer H still waits 64·T1 for the ACK', () => {
    const pair = transactionPair({ transport: 'TCP' });
    const seen = silentServer(pair);
    pair.inject('server', buildInvite({ transport: 'TCP' }));
    pair.advanceTo(0);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 486, 'bob'), pair.now);
    pair.advanceTo(60_000);
    expect(pair.times('server', '486 INVITE')).toEqual([0]);
    expect(pair.eventsOf('server', 'timeout').map((e) => e.at)).toEqual([32_000]);
  });

  it('re-sends the final for a retransmitted INVITE while Completed', () => {
    const pair = transactionPair();
    const seen = silentServer(pair);
    const invite = buildInvite();
    pair.inject('server', invite);
    pair.advanceTo(0);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 404, 'bob'), pair.now);
    pair.advanceTo(200);
    pair.inject('server', invite);
    pair.advanceTo(300);
    expect(pair.times('server', '404 INVITE')).toEqual([0, 200]);
    expect(seen.ids).toHaveLength(1);
  });

  it('moves to Confirmed on the ACK, absorbs later ACKs and stays for Timer I = T4 over UDP', () => {
    const pair = transactionPair();
    const seen = silentServer(pair);
    pair.toClient.duplicate(isResponse(486));
    sendInvite(pair);
    pair.advanceTo(0);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 486, 'bob'), pair.now);
    pair.advanceTo(60_000);

    // Two copies of the 486 arrive: two ACKs; the second is absorbed in Confirmed.
    expect(pair.times('client', 'ACK')).toEqual([0, 0]);
    expect(pair.times('server', '486 INVITE')).toEqual([0]);
    expect(pair.eventsOf('server', 'ack')).toEqual([]);
    const serverEvents = pair.eventsOf('server').map((e) => [e.at, e.event.type]);
    expect(serverEvents).toEqual([
      [0, 'request'],
      [DEFAULT_TIMERS.T4, 'terminated'],
    ]);
  });

  it('leaves Confirmed at once on a reliable transport (Timer I = 0)', () => {
    const pair = transactionPair({ transport: 'TCP' });
    const seen = silentServer(pair);
    sendInvite(pair, buildInvite({ transport: 'TCP' }));
    pair.advanceTo(50);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 480, 'bob'), pair.now);
    pair.advanceTo(60_000);
    expect(pair.eventsOf('server').map((e) => [e.at, e.event.type])).toEqual([
      [0, 'request'],
      [50, 'terminated'],
    ]);
  });

  it('Accepted: sends the TU’s 2xx and its retransmissions, absorbs INVITE retransmissions, ends after Timer L', () => {
    const pair = transactionPair();
    const seen = silentServer(pair);
    pair.toClient.drop(isResponse(200, 'INVITE'), 1);
    sendInvite(pair);
    pair.advanceTo(0);
    const ok = buildResponse(seen.requests[0]!, 200, 'bob');
    pair.server.respond(seen.ids[0]!, ok, pair.now);
    pair.advanceTo(900);
    // The client retransmitted the INVITE at 500 (its 200 was lost): absorbed, nothing re-sent by the transaction.
    expect(pair.times('client', 'INVITE')).toEqual([0, 500]);
    expect(pair.times('server', '200 INVITE')).toEqual([0]);
    // The TU retransmits its 2xx (§13.3.1.4); the transaction passes it through.
    pair.server.respond(seen.ids[0]!, ok, pair.now);
    pair.advanceTo(60_000);

    expect(pair.times('server', '200 INVITE')).toEqual([0, 900]);
    expect(seen.ids).toHaveLength(1);
    expect(pair.eventsOf('client', 'response').map((e) => [e.at, e.event.response.status])).toEqual([
      [900, 200],
    ]);
    expect(pair.eventsOf('server', 'terminated').map((e) => e.at)).toEqual([64 * DEFAULT_TIMERS.T1]);
    // After Timer L the transaction is gone: the TU can no longer send through it.
    expect(() => pair.server.respond(seen.ids[0]!, ok, pair.now)).toThrow(InvalidStateError);
  });

  it('Accepted refuses a non-2xx from the TU', () => {
    const pair = transactionPair();
    const seen = silentServer(pair);
    sendInvite(pair);
    pair.advanceTo(0);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 200, 'bob'), pair.now);
    expect(() =>
      pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 500, 'bob'), pair.now),
    ).toThrow(InvalidStateError);
    expect(() =>
      pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 180, 'bob'), pair.now),
    ).toThrow(InvalidStateError);
  });

  it('Accepted passes an ACK that matches it up to the TU (RFC 6026 §8.7)', () => {
    const pair = transactionPair();
    const seen = silentServer(pair);
    const invite = buildInvite();
    pair.inject('server', invite);
    pair.advanceTo(0);
    pair.server.respond(seen.ids[0]!, buildResponse(seen.requests[0]!, 200, 'bob'), pair.now);
    // A peer that (wrongly) reuses the INVITE's branch for the 2xx ACK: it matches the INVITE transaction.
    const ack = buildRequest({
      method: 'ACK',
      branch: invite.topVia!.branch!,
      callId: invite.callId,
      toTag: 'bob',
    });
    pair.inject('server', ack);
    pair.advanceTo(10);
    expect(
      pair.eventsOf('server', 'ack').map((e) => [e.event.transactionId, e.event.request.method]),
    ).toEqual([[seen.ids[0], 'ACK']]);
  });
});
