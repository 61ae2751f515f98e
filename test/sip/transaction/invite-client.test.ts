import { describe, expect, it } from 'vitest';
import { createAck, DEFAULT_TIMERS, newBranch } from '../../../web/src/sip/transaction/index.ts';
import type { SipRequest } from '../../../web/src/sip/index.ts';
import { isRequest, isResponse, transactionPair, type TransactionPair } from '../../support/linked-pair.ts';
import { buildInvite, buildResponse, seededRandom } from '../../support/sip-builders.ts';

/** The server's TU answers every new request with `status` at once. */
function serverAnswers(pair: TransactionPair, status: number, toTag = 'bob'): void {
  pair.onEvent = (side, e) => {
    if (side === 'server' && e.type === 'request')
      pair.server.respond(e.transactionId, buildResponse(e.request, status, toTag), pair.now);
  };
}

function sendInvite(
  pair: TransactionPair,
  invite: SipRequest = buildInvite({ transport: pair.clientFlow.transport as 'UDP' }),
) {
  return pair.client.sendRequest(invite, pair.now, { reliable: pair.reliable, flow: pair.clientFlow });
}

describe('INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §8.4)', () => {
  it('retransmits over UDP with Timer A doubling: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, then Timer B at 32 s', () => {
    const pair = transactionPair();
    pair.toServer.drop();
    const tx = sendInvite(pair);

    pair.advanceTo(60_000);

    expect(pair.times('client', 'INVITE')).toEqual([0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]);
    expect(pair.eventsOf('client').map((e) => [e.at, e.event])).toEqual([
      [32_000, { type: 'timeout', transactionId: tx.id, timer: 'B' }],
      [32_000, { type: 'terminated', transactionId: tx.id }],
    ]);
    expect(pair.client.size).toBe(0);
  });

  it('follows T1 when it is configured', () => {
    const pair = transactionPair({ timers: { T1: 100 } });
    pair.toServer.drop();
    sendInvite(pair);
    pair.advanceTo(60_000);
    expect(pair.times('client', 'INVITE')).toEqual([0, 100, 300, 700, 1_500, 3_100, 6_300]);
    expect(pair.eventsOf('client', 'timeout').map((e) => e.at)).toEqual([6_400]);
  });

  it('sends one copy over a reliable transport; Timer B still fires at 64·T1', () => {
    const pair = transactionPair({ transport: 'TCP' });
    pair.toClient.drop(); // not even the server's 100 (Trying) gets through
    const tx = sendInvite(pair, buildInvite({ transport: 'TCP' }));
    pair.advanceTo(60_000);
    expect(pair.times('client', 'INVITE')).toEqual([0]);
    expect(pair.times('server', '100 INVITE')).toEqual([200]);
    expect(pair.eventsOf('server', 'request')).toHaveLength(1);
    expect(pair.eventsOf('client', 'timeout')).toEqual([
      { at: 32_000, side: 'client', event: { type: 'timeout', transactionId: tx.id, timer: 'B' } },
    ]);
  });

  it('stops retransmitting on a provisional response and waits in Proceeding without Timer B', () => {
    const pair = transactionPair({ latency: 20 });
    serverAnswers(pair, 180);
    const tx = sendInvite(pair);
    pair.advanceTo(100_000);
    expect(pair.times('client', 'INVITE')).toEqual([0]);
    expect(pair.eventsOf('client', 'response').map((e) => [e.at, e.event.response.status])).toEqual([
      [40, 180],
    ]);
    expect(tx.state).toBe('Proceeding');
    expect(pair.client.nextDeadline()).toBeUndefined();
  });

  it('builds the ACK for a non-2xx final itself (§17.1.1.3)', () => {
    const pair = transactionPair();
    serverAnswers(pair, 486, 'busy-tag');
    const invite = buildInvite({
      lowerVias: ['SIP/2.0/UDP proxy.atlanta.example.com;branch=z9hG4bKupstream'],
      route: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'],
      cseq: 42,
      maxForwards: 69,
    });
    sendInvite(pair, invite);
    pair.advanceTo(100);

    const [ack] = pair.sent('client', 'ACK');
    const a = ack!.message as SipRequest;
    expect(a.uri.toString()).toBe(invite.uri.toString());
    expect(a.headers.getAll('via')).toEqual([invite.headers.getAll('via')[0]]);
    expect(a.via).toHaveLength(1);
    expect(a.topVia).toEqual(invite.topVia);
    expect(a.headers.getAll('route')).toEqual(invite.headers.getAll('route'));
    expect(a.headers.get('from')).toBe(invite.headers.get('from'));
    expect(a.callId).toBe(invite.callId);
    expect(a.cseq).toEqual({ seq: 42, method: 'ACK' });
    expect(a.toTag).toBe('busy-tag');
    expect(a.to.uri.toString()).toBe(invite.to.uri.toString());
    expect(a.maxForwards).toBe(69);
    expect(a.body).toHaveLength(0);
  });

  it('re-sends the ACK for every retransmitted 486, and the TU sees the 486 once', () => {
    const pair = transactionPair();
    serverAnswers(pair, 486);
    pair.toServer.drop(isRequest('ACK'), 2);
    const tx = sendInvite(pair);

    pair.advanceTo(60_000);

    // The server's Timer G resends the 486 at 0.5 and 1.5 s because the first two ACKs are lost.
    expect(pair.times('server', '486 INVITE')).toEqual([0, 500, 1_500]);
    expect(pair.times('client', 'ACK')).toEqual([0, 500, 1_500]);
    expect(pair.sent('client', 'ACK').map((w) => w.fate)).toEqual(['drop', 'drop', 'deliver']);
    const finals = pair.eventsOf('client', 'response');
    expect(finals.map((e) => [e.at, e.event.transactionId, e.event.response.status])).toEqual([
      [0, tx.id, 486],
    ]);
    // Timer D: 32 s in Completed over UDP.
    expect(pair.eventsOf('client', 'terminated').map((e) => e.at)).toEqual([DEFAULT_TIMERS.D]);
  });

  it('ends at once after the ACK on a reliable transport (Timer D = 0)', () => {
    const pair = transactionPair({ transport: 'TCP' });
    serverAnswers(pair, 603);
    pair.advanceTo(70);
    sendInvite(pair, buildInvite({ transport: 'TCP' }));
    pair.advanceTo(60_000);
    expect(pair.eventsOf('client').map((e) => [e.at, e.event.type])).toEqual([
      [70, 'response'],
      [70, 'terminated'],
    ]);
    expect(pair.times('client', 'ACK')).toEqual([70]);
  });

  it('passes a 2xx up and stays Accepted for Timer M = 64·T1, passing up 2xx retransmissions flagged', () => {
    const pair = transactionPair();
    pair.toClient.duplicate(isResponse(200, 'INVITE'));
    serverAnswers(pair, 200);
    const tx = sendInvite(pair);
    pair.advanceTo(10);
    expect(tx.state).toBe('Accepted');
    pair.advanceTo(60_000);

    expect(
      pair.eventsOf('client', 'response').map((e) => [e.at, e.event.response.status, e.event.retransmission]),
    ).toEqual([
      [0, 200, false],
      [0, 200, true],
    ]);
    expect(pair.times('client', 'ACK')).toEqual([]);
    expect(pair.eventsOf('client', 'terminated').map((e) => e.at)).toEqual([64 * DEFAULT_TIMERS.T1]);
  });

  it('is the same over a reliable transport: Timer M does not shrink to 0', () => {
    const pair = transactionPair({ transport: 'WS' });
    serverAnswers(pair, 200);
    sendInvite(pair, buildInvite({ transport: 'WS' }));
    pair.advanceTo(60_000);
    expect(pair.eventsOf('client', 'terminated').map((e) => e.at)).toEqual([32_000]);
  });

  it('createAck copies a comma-joined top Via only', () => {
    const invite = buildInvite({ branch: newBranch(seededRandom(3)) });
    invite.headers.set('Via', `${invite.headers.get('via')}, SIP/2.0/TCP other.example.com;branch=z9hG4bKx`);
    const ack = createAck(invite, buildResponse(invite, 404, 't'));
    expect(ack.via).toHaveLength(1);
    expect(ack.topVia?.branch).toBe(invite.topVia?.branch);
  });
});
