import { describe, expect, it } from 'vitest';
import { InvalidStateError } from '../../../web/src/sip/errors.ts';
import { DEFAULT_TIMERS } from '../../../web/src/sip/transaction/index.ts';
import { isRequest, isResponse, transactionPair, type TransactionPair } from '../../support/linked-pair.ts';
import { buildRequest, buildResponse } from '../../support/sip-builders.ts';

/** The server's TU answers every new request with `status` at once. */
function serverAnswers(pair: TransactionPair, status: number): void {
  pair.onEvent = (side, e) => {
    if (side === 'server' && e.type === 'request')
      pair.server.respond(e.transactionId, buildResponse(e.request, status, 'bob'), pair.now);
  };
}

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  it('absorbs retransmissions while Trying: the TU sees the request once and nothing is sent', () => {
    const pair = transactionPair();
    pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });

    pair.advanceTo(4_000);

    expect(pair.times('client', 'MESSAGE')).toEqual([0, 500, 1_500, 3_500]);
    expect(pair.eventsOf('server', 'request')).toHaveLength(1);
    expect(pair.sent('server')).toEqual([]);
  });

  it('re-sends the last provisional, then the final, for each retransmission (duplicated on the wire)', () => {
    const pair = transactionPair();
    pair.toServer.duplicate(isRequest('MESSAGE'));
    let serverTx = '';
    pair.onEvent = (side, e) => {
      if (side === 'server' && e.type === 'request') {
        serverTx = e.transactionId;
        pair.server.respond(e.transactionId, buildResponse(e.request, 100), pair.now);
      }
    };
    const tx = pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });
    pair.advanceTo(600);
    pair.server.respond(serverTx, buildResponse(tx.request, 200, 'bob'), pair.now);
    pair.advanceTo(4_600);

    // Every MESSAGE copy arrives twice. The first copy makes the transaction; the second (at 0) and both copies at
    // 500 (Proceeding) get the 100 again; the final at 600 ends the client's retransmissions.
    expect(pair.times('client', 'MESSAGE')).toEqual([0, 500]);
    expect(pair.times('server', '100 MESSAGE')).toEqual([0, 0, 500, 500]);
    expect(pair.times('server', '200 MESSAGE')).toEqual([600]);
    expect(pair.eventsOf('server', 'request')).toHaveLength(1);
    expect(pair.eventsOf('client', 'response').map((e) => e.event.response.status)).toEqual([
      100, 100, 100, 100, 200,
    ]);
  });

  it('recovers a lost final response: the client retransmits, the server re-sends the final, the TU gets it once', () => {
    const pair = transactionPair();
    pair.toClient.drop(isResponse(200), 1);
    serverAnswers(pair, 200);
    const tx = pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });

    pair.advanceTo(60_000);

    expect(pair.times('server', '200 MESSAGE')).toEqual([0, 500]);
    expect(pair.sent('server', '200 MESSAGE').map((w) => w.fate)).toEqual(['drop', 'deliver']);
    expect(pair.times('client', 'MESSAGE')).toEqual([0, 500]);
    expect(
      pair.eventsOf('client', 'response').map((e) => [e.at, e.event.transactionId, e.event.response.status]),
    ).toEqual([[500, tx.id, 200]]);
    expect(pair.eventsOf('server', 'request')).toHaveLength(1);
  });

  it('stays Completed for Timer J = 64·T1 over UDP', () => {
    const pair = transactionPair();
    serverAnswers(pair, 200);
    pair.advanceTo(250);
    pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });
    pair.advanceTo(60_000);

    expect(pair.eventsOf('server', 'terminated').map((e) => e.at)).toEqual([250 + 64 * DEFAULT_TIMERS.T1]);
  });

  it('ends at once on a reliable transport (Timer J = 0)', () => {
    const pair = transactionPair({ transport: 'TCP' });
    serverAnswers(pair, 200);
    pair.advanceTo(250);
    pair.client.sendRequest(buildRequest({ transport: 'TCP' }), pair.now, {
      reliable: true,
      flow: pair.clientFlow,
    });
    pair.advanceTo(60_000);

    expect(pair.eventsOf('server').map((e) => [e.at, e.event.type])).toEqual([
      [250, 'request'],
      [250, 'terminated'],
    ]);
  });

  it('refuses a second final response from the TU (InvalidStateError), and any response once terminated', () => {
    const pair = transactionPair();
    let id = '';
    pair.onEvent = (side, e) => {
      if (side === 'server' && e.type === 'request') id = e.transactionId;
    };
    const tx = pair.client.sendRequest(buildRequest(), pair.now, { reliable: false, flow: pair.clientFlow });
    pair.advanceTo(10);
    pair.server.respond(id, buildResponse(tx.request, 200, 'bob'), pair.now);
    expect(() => pair.server.respond(id, buildResponse(tx.request, 500, 'bob'), pair.now)).toThrow(
      InvalidStateError,
    );
    expect(() => pair.server.respond(id, buildResponse(tx.request, 180, 'bob'), pair.now)).toThrow(
      InvalidStateError,
    );
    pair.advanceTo(60_000);
    expect(() => pair.server.respond(id, buildResponse(tx.request, 200, 'bob'), pair.now)).toThrow(
      InvalidStateError,
    );
    expect(pair.times('server', '200 MESSAGE')).toEqual([10]);
  });
});
