import { describe, expect, it } from 'vitest';
import { NonInviteClientTransaction, type TransactionEvent } from '../../../web/src/sip/transaction/index.ts';
import { DEFAULT_TIMERS } from '../../../web/src/sip/transaction/index.ts';
import { isResponse, transactionPair } from '../../support/linked-pair.ts';
import { buildRequest, buildResponse } from '../../support/sip-builders.ts';

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('retransmits over UDP with Timer E doubling up to T2: 0.5, 1.5, 3.5, 7.5, 11.5, 15.5 … s, then Timer F at 32 s', () => {
    const pair = transactionPair();
    pair.toServer.drop();
    const tx = pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });

    pair.advanceTo(60_000);

    expect(pair.times('client', 'MESSAGE')).toEqual([
      0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
    ]);
    expect(pair.eventsOf('client').map((e) => [e.at, e.event])).toEqual([
      [32_000, { type: 'timeout', transactionId: tx.id, timer: 'F' }],
      [32_000, { type: 'terminated', transactionId: tx.id }],
    ]);
    expect(pair.client.size).toBe(0);
    expect(pair.client.nextDeadline()).toBeUndefined();
  });

  it('retransmits every T2 once a provisional response has arrived (Proceeding), and passes each 1xx up', () => {
    const pair = transactionPair();
    pair.onEvent = (side, e) => {
      if (side === 'server' && e.type === 'request')
        pair.server.respond(e.transactionId, buildResponse(e.request, 100), pair.now);
    };
    const tx = pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });

    pair.advanceTo(40_000);

    // Timer E was armed at T1 in Trying; when it fires in Proceeding it is reset to T2.
    const retransmissions = [500, 4_500, 8_500, 12_500, 16_500, 20_500, 24_500, 28_500];
    expect(pair.times('client', 'MESSAGE')).toEqual([0, ...retransmissions]);
    // The server answers each retransmission with its last provisional response.
    expect(pair.times('server', '100 MESSAGE')).toEqual([0, ...retransmissions]);
    expect(pair.eventsOf('client', 'response')).toHaveLength(9);
    expect(pair.eventsOf('client', 'timeout').map((e) => [e.at, e.event.timer])).toEqual([[32_000, 'F']]);
    expect(tx.state).toBe('Terminated');
  });

  it('sends exactly one copy on a reliable transport and still times out after 64·T1', () => {
    const pair = transactionPair({ transport: 'TCP' });
    const tx = pair.client.sendRequest(buildRequest({ transport: 'TCP' }), pair.now, {
      reliable: true,
      flow: pair.clientFlow,
    });

    pair.advanceTo(60_000);

    expect(pair.sent('client')).toHaveLength(1);
    expect(pair.eventsOf('server', 'request')).toHaveLength(1);
    expect(pair.eventsOf('client', 'timeout')).toEqual([
      { at: 32_000, side: 'client', event: { type: 'timeout', transactionId: tx.id, timer: 'F' } },
    ]);
  });

  it('passes the final response up once and absorbs its retransmissions for Timer K = T4 over UDP', () => {
    const pair = transactionPair();
    pair.toClient.duplicate(isResponse(200));
    pair.onEvent = (side, e) => {
      if (side === 'server' && e.type === 'request')
        pair.server.respond(e.transactionId, buildResponse(e.request, 200, 'bob'), pair.now);
    };
    const tx = pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });

    pair.advanceTo(1_000);
    expect(tx.state).toBe('Completed');
    pair.advanceTo(60_000);

    const responses = pair.eventsOf('client', 'response');
    expect(responses.map((e) => [e.at, e.event.response.status])).toEqual([[0, 200]]);
    expect(pair.eventsOf('client', 'terminated').map((e) => e.at)).toEqual([DEFAULT_TIMERS.T4]);
    expect(pair.times('client', 'MESSAGE')).toEqual([0]);
  });

  it('terminates at once on a reliable transport (Timer K = 0)', () => {
    const pair = transactionPair({ transport: 'TCP' });
    pair.onEvent = (side, e) => {
      if (side === 'server' && e.type === 'request')
        pair.server.respond(e.transactionId, buildResponse(e.request, 202, 'bob'), pair.now);
    };
    pair.advanceTo(100);
    pair.client.sendRequest(buildRequest({ transport: 'TCP' }), pair.now, {
      reliable: true,
      flow: pair.clientFlow,
    });
    pair.advanceTo(60_000);

    expect(pair.eventsOf('client').map((e) => [e.at, e.event.type])).toEqual([
      [100, 'response'],
      [100, 'terminated'],
    ]);
  });

  it('can be driven on its own: the machine alone, with a sink and explicit now', () => {
    let now = 1_000;
    const sent: number[] = [];
    const events: TransactionEvent[] = [];
    const tx = new NonInviteClientTransaction({
      id: 't1',
      request: buildRequest(),
      reliable: false,
      timers: DEFAULT_TIMERS,
      now,
      sink: { transmit: () => sent.push(now), emit: (e) => events.push(e) },
    });
    for (; now <= 4_000; now += 100) tx.handleTimers(now);
    expect(sent).toEqual([1_000, 1_500, 2_500]);
    tx.receiveResponse(buildResponse(tx.request, 404, 'x'), now);
    tx.receiveResponse(buildResponse(tx.request, 404, 'x'), now);
    expect(events.map((e) => e.type)).toEqual(['response']);
    expect(tx.nextDeadline()).toBe(now + DEFAULT_TIMERS.T4);
    tx.handleTimers(now + DEFAULT_TIMERS.T4);
    expect(tx.state).toBe('Terminated');
    expect(events.map((e) => e.type)).toEqual(['response', 'terminated']);
  });

  it('reports a transport error and ends', () => {
    const pair = transactionPair();
    const tx = pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });
    pair.client.transportError(tx.id, 10);
    pair.advanceTo(60_000);
    expect(pair.eventsOf('client').map((e) => e.event.type)).toEqual(['transport-error', 'terminated']);
    expect(pair.times('client', 'MESSAGE')).toEqual([0]);
  });
});
