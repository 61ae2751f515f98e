/**
 * What a client transaction holds once a final response has arrived: a summary of its request (request line,
 * Via, From, To, Call-ID, CSeq) and, for an INVITE, the ACK it built, not the request itself. At a few thousand
 * requests a second, holding every request for Timer K (T4 = 5 s) kept tens of thousands of them alive.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { serializeHead, type SipMessage, type SipRequest } from '../../../web/src/sip/index.ts';
import {
  TransactionLayer,
  createAck,
  type FlowInfo,
  type InviteClientTransaction,
  type NonInviteClientTransaction,
} from '../../../web/src/sip/transaction/index.ts';
import { buildInvite, buildRequest, buildResponse, seededRandom } from '../../support/sip-builders.ts';

const UDP: FlowInfo = { transport: 'UDP', reliable: false, remote: '192.0.2.4:5060' };

/** V8's gc(), exposed at run time when the process was not started with --expose-gc. */
function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

describe('client transactions drop their request once Completed (RFC 3261 §17.1.2.2, §17.1.1.2)', () => {
  it('a non-INVITE client transaction keeps only a summary in Completed, and the request can be collected', async () => {
    const layer = new TransactionLayer({ random: seededRandom(1) });
    let now = 1_000;
    const sent = (): { ref: WeakRef<SipRequest>; tx: NonInviteClientTransaction; callId: string } => {
      const request = buildRequest({ body: 'x'.repeat(4_000) });
      const tx = layer.sendRequest(request, now, { reliable: false, flow: UDP }) as NonInviteClientTransaction;
      expect(tx.holdsRequest).toBe(true);
      expect(tx.request).toBe(request);
      layer.receive(buildResponse(request, 200, 'bob'), (now += 10), UDP);
      return { ref: new WeakRef(request), tx, callId: request.callId };
    };
    const { ref, tx, callId } = sent();
    layer.takeTransmissions();
    layer.takeEvents();

    expect(tx.state).toBe('Completed');
    expect(layer.transaction(tx.id)).toBe(tx);
    expect(tx.holdsRequest).toBe(false);
    // The stand-in: what responses are built and matched by, no body, no other header.
    expect(tx.request).not.toBe(ref.deref());
    expect(tx.request.method).toBe('MESSAGE');
    expect(tx.request.uri.toString()).toBe('sip:bob@biloxi.example.com');
    expect(tx.request.callId).toBe(callId);
    expect(tx.request.cseq).toMatchObject({ seq: 314159, method: 'MESSAGE' });
    expect(tx.request.bodyLength).toBe(0);
    expect(tx.request.headers.has('Contact')).toBe(false);

    // Nothing in the layer keeps the request alive any more (WeakRefs hold their target to the end of the job).
    await new Promise((resolve) => setTimeout(resolve, 0));
    collector()();
    expect(ref.deref()).toBeUndefined();

    // A retransmitted final response is still absorbed, and Timer K still ends the transaction.
    layer.receive(buildResponse(tx.request, 200, 'bob'), (now += 10), UDP);
    expect(layer.takeEvents()).toEqual([]);
    layer.handleTimers(now + layer.timers.T4);
    expect(layer.takeEvents()).toEqual([{ type: 'terminated', transactionId: tx.id }]);
    expect(layer.size).toBe(0);
  });

  it('an INVITE client transaction keeps its ACK in Completed, and ACKs a final from another branch alike', () => {
    const layer = new TransactionLayer({ random: seededRandom(2) });
    const invite = buildInvite({ route: ['<sip:proxy.example.com;lr>'], body: 'v=0' });
    const tx = layer.sendRequest(invite, 0, { reliable: false, flow: UDP }) as InviteClientTransaction;
    const busy = buildResponse(invite, 486, 'bob');
    const elsewhere = buildResponse(invite, 603, 'carol');
    const ackFor = (response: typeof busy): string => serializeHead(createAck(invite, response));
    layer.takeTransmissions();

    layer.receive(busy, 10, UDP);
    expect(tx.state).toBe('Completed');
    expect(tx.holdsRequest).toBe(false);
    expect(tx.request.bodyLength).toBe(0);
    expect(tx.request.headers.has('Route')).toBe(false);
    expect(serializeHead(tx.ack as SipMessage)).toBe(ackFor(busy));

    layer.receive(busy, 20, UDP);
    layer.receive(elsewhere, 30, UDP);
    expect(layer.takeTransmissions().map((t) => serializeHead(t.message))).toEqual([
      ackFor(busy),
      ackFor(busy),
      ackFor(elsewhere),
    ]);
  });

  it('an INVITE client transaction drops the INVITE in Accepted', () => {
    const layer = new TransactionLayer({ random: seededRandom(3) });
    const invite = buildInvite();
    const tx = layer.sendRequest(invite, 0, { reliable: false, flow: UDP }) as InviteClientTransaction;
    expect(tx.holdsRequest).toBe(true);
    layer.receive(buildResponse(invite, 200, 'bob'), 10, UDP);
    expect(tx.state).toBe('Accepted');
    expect(tx.holdsRequest).toBe(false);
    expect(tx.request.callId).toBe(invite.callId);
  });
});
