/**
 * The INVITE client transaction: RFC 3261 §17.1.1 with the Accepted state of RFC 6026 §8.4.
 *
 *                  INVITE sent; A (unreliable only) and B start
 *                        |
 *                        v
 *                 +-------------+   on Timer A: INVITE sent again, A doubles
 *                 |   Calling   |
 *                 +-------------+ -----------------------------------------+
 *                        |                       Timer B: timeout to TU    |
 *                        | 1xx: to TU                                      |
 *                        v                                                 |
 *                 +-------------+                                          |
 *                 | Proceeding  |   on 1xx: to TU                          |
 *                 +-------------+                                          |
 *      from Calling   |       |   from Calling                             |
 *      or Proceeding: |       |   or Proceeding:                           |
 *      2xx: to TU     v       v   300-699: ACK sent, to TU                 |
 *         +-------------+   +-------------+                                |
 *         |  Accepted   |   |  Completed  |   on 300-699: ACK sent again   |
 *         +-------------+   +-------------+                                |
 *    on 2xx: to TU, | Timer M       | Timer D                              |
 *    each one       v               v                                      |
 *         +-------------------------------+                                |
 *         |          Terminated           | <------------------------------+
 *         +-------------------------------+   also on a transport error
 *
 * How it works. Constructing the machine sends the INVITE and enters Calling. Over UDP Timer A resends the INVITE
 * at T1, 3·T1, 7·T1 … (the interval doubles each time, without cap) until a response arrives or Timer B gives up
 * at 64·T1. A provisional response stops the retransmissions (Proceeding) and every provisional goes to the TU.
 * A final non-2xx response is acknowledged by the transaction itself: it builds the ACK of §17.1.1.3, sends it,
 * passes the response up once, and in Completed answers every retransmission of that response with the same ACK
 * until Timer D ends it. A 2xx belongs to the TU, which ACKs it end to end: the machine passes it up and, per
 * RFC 6026, waits in Accepted for 64·T1 passing up every further 2xx (retransmissions, flagged, and 2xx from other
 * forks) so that each can be ACKed. Timers are deadlines in a TimerSet; `handleTimers(now)` fires the due ones.
 */
import { InvalidStateError } from '../errors.ts';
import { SipRequest, splitTopLevelCommas, type SipResponse } from '../message/index.ts';
import { RequestSummary } from './summary.ts';
import { TimerSet, checkTransition, type StateTable } from './timer-set.ts';
import { TIMER_A, TIMER_B, TIMER_CANCEL, TIMER_D, TIMER_M, doubled } from './timers.ts';
import type { FlowInfo, Transaction, TransactionOptions, TransactionSink } from './transaction.ts';

export type InviteClientState = 'Calling' | 'Proceeding' | 'Completed' | 'Accepted' | 'Terminated';
type Timer = 'A' | 'B' | 'D' | 'M' | 'cancel';

const TABLE: StateTable<InviteClientState, Timer> = {
  Calling: { next: ['Proceeding', 'Completed', 'Accepted', 'Terminated'], arm: ['A', 'B'], keep: [] },
  Proceeding: { next: ['Completed', 'Accepted', 'Terminated'], arm: [], keep: ['cancel'] },
  Completed: { next: ['Terminated'], arm: ['D'], keep: [] },
  Accepted: { next: ['Terminated'], arm: ['M'], keep: [] },
  Terminated: { next: [], arm: [], keep: [] },
};

const RULES = { A: TIMER_A, B: TIMER_B, D: TIMER_D, M: TIMER_M, cancel: TIMER_CANCEL };
const PRIORITY: readonly Timer[] = ['B', 'cancel', 'D', 'M', 'A'];

export class InviteClientTransaction implements Transaction {
  readonly kind = 'client' as const;
  readonly method = 'INVITE';
  readonly id: string;
  readonly reliable: boolean;
  readonly flow: FlowInfo | undefined;
  #state: InviteClientState = 'Calling';
  /** the INVITE, until a final response makes it useless: then only its summary (and the built ACK) is kept */
  #request: SipRequest | undefined;
  #summary: RequestSummary | undefined;
  readonly #sink: TransactionSink;
  readonly #timers: TimerSet<Timer>;
  /** the ACK of the first non-2xx final response, re-sent for each of its retransmissions */
  #ack: SipRequest | undefined;
  #provisionalReceived = false;
  /** To tags of the 2xx responses passed up, to flag their retransmissions */
  readonly #acceptedTags = new Set<string>();

  constructor(options: TransactionOptions) {
    if (options.request.method !== 'INVITE')
      throw new TypeError('an INVITE client transaction needs an INVITE');
    this.id = options.id;
    this.#request = options.request;
    this.reliable = options.reliable;
    this.flow = options.flow;
    this.#sink = options.sink;
    this.#timers = new TimerSet<Timer>(RULES, PRIORITY, options.timers, options.reliable);
    // §17.1.1.2: the TU's INVITE enters Calling and goes to the transport; A (unreliable only) and B start.
    this.#send(options.request);
    this.#enter('Calling', options.now);
  }

  get state(): InviteClientState {
    return this.#state;
  }

  /**
   * The INVITE, while it may still be sent again or CANCELled (Calling, Proceeding). From Completed or Accepted
   * on, the transaction holds only a summary of it (request line, Via, From, To, Call-ID, CSeq; see
   * RequestSummary) and this is a stand-in built from that.
   */
  get request(): SipRequest {
    return this.#request ?? (this.#summary as RequestSummary).request;
  }

  /** True while the transaction still holds the INVITE itself (Calling, Proceeding). */
  get holdsRequest(): boolean {
    return this.#request !== undefined;
  }

  /** True once any provisional response arrived (a CANCEL may be sent from then on, §9.1). */
  get provisionalReceived(): boolean {
    return this.#provisionalReceived;
  }

  /** The ACK the transaction built for a non-2xx final response, if any. */
  get ack(): SipRequest | undefined {
    return this.#ack;
  }

  nextDeadline(): number | undefined {
    return this.#timers.next();
  }

  receiveResponse(response: SipResponse, now: number, flow?: FlowInfo): void {
    const status = response.status;
    switch (this.#state) {
      case 'Calling':
      case 'Proceeding':
        if (status < 200) {
          // §17.1.1.2: a provisional response moves Calling to Proceeding (no more retransmissions); it and
          // every later provisional go to the TU.
          this.#provisionalReceived = true;
          if (this.#state === 'Calling') this.#transition('Proceeding', now);
          this.#toTu(response, flow, false);
        } else if (status < 300) {
          // RFC 6026 §8.4: a 2xx goes to the TU (which ACKs it itself, §13.2.2.4) and the transaction waits in
          // Accepted for more 2xx.
          this.#toTu2xx(response, flow);
          this.#transition('Accepted', now);
        } else {
          // §17.1.1.2: a 300-699 response is ACKed by the transaction, passed up, and Completed is entered.
          this.#ack = createAck(this.request, response);
          this.#release();
          this.#send(this.#ack);
          this.#toTu(response, flow, false);
          this.#transition('Completed', now);
        }
        return;
      case 'Completed':
        if (status >= 300) {
          // §17.1.1.2: a retransmitted final response in Completed gets the ACK again and is not passed up. A
          // final from another branch (another To tag) gets its own ACK.
          const ack = this.#ack;
          const same = ack !== undefined && ack.headers.get('to') === response.headers.get('to');
          if (ack !== undefined) this.#send(same ? ack : retargetAck(ack, response));
        } else if (status >= 200) {
          // §16.7 step 10: a proxy forwards a late 2xx even after a non-2xx final; the TU must ACK it and end
          // that dialog, so it goes up (the RFC 3261 machine is silent about this case).
          this.#toTu2xx(response, flow);
        }
        return;
      case 'Accepted':
        // RFC 6026 §8.4: every 2xx received in Accepted goes to the TU; anything else is absorbed.
        if (status >= 200 && status < 300) this.#toTu2xx(response, flow);
        return;
      case 'Terminated':
        return;
    }
  }

  /**
   * The layer sent a CANCEL for this INVITE (§9.1): if no final response comes within 64·T1, the transaction
   * is considered cancelled and is destroyed.
   */
  cancelSent(now: number): void {
    if (this.#state !== 'Proceeding')
      throw new InvalidStateError(`a CANCEL is sent only in Proceeding, not ${this.#state}`);
    this.#timers.start('cancel', now);
  }

  handleTimers(now: number): void {
    for (let due = this.#timers.takeDue(now); due !== undefined; due = this.#timers.takeDue(now)) {
      switch (due.timer) {
        case 'A':
          // §17.1.1.2: Timer A resends the INVITE and restarts at twice its last value.
          if (this.#request !== undefined) this.#send(this.#request);
          this.#timers.arm('A', now, doubled(due.interval));
          break;
        case 'B':
          // §17.1.1.2: Timer B in Calling: the TU is told of the timeout and the transaction ends.
          this.#sink.emit({ type: 'timeout', transactionId: this.id, timer: 'B' });
          this.#transition('Terminated', now);
          break;
        case 'cancel':
          // §9.1: no final response 64·T1 after the CANCEL: consider the INVITE cancelled and destroy it.
          this.#sink.emit({ type: 'timeout', transactionId: this.id, timer: 'cancel' });
          this.#transition('Terminated', now);
          break;
        case 'D':
        case 'M':
          // §17.1.1.2 (D) and RFC 6026 §8.4 (M): the absorbing wait is over.
          this.#transition('Terminated', now);
          break;
      }
    }
  }

  transportError(now: number): void {
    if (this.#state === 'Terminated') return;
    // §17.1.1.2, §17.1.4: a transport failure is reported to the TU and ends the transaction.
    this.#sink.emit({ type: 'transport-error', transactionId: this.id });
    this.#transition('Terminated', now);
  }

  #transition(to: InviteClientState, now: number): void {
    checkTransition(TABLE, this.#state, to, `INVITE client transaction ${this.id}`);
    this.#state = to;
    this.#enter(to, now);
  }

  #enter(state: InviteClientState, now: number): void {
    // Completed re-sends the ACK already built and Accepted only passes 2xx up: the INVITE is not needed.
    if (state === 'Completed' || state === 'Accepted' || state === 'Terminated') this.#release();
    // Timer D is 0 on reliable transports: Completed ends at once.
    this.#timers.enterState(
      TABLE[state],
      state === 'Terminated',
      now,
      () => this.#sink.emit({ type: 'terminated', transactionId: this.id }),
      (at) => this.handleTimers(at),
    );
  }

  /** Drop the INVITE, keeping its summary. */
  #release(): void {
    if (this.#request === undefined) return;
    this.#summary = new RequestSummary(this.#request);
    this.#request = undefined;
  }

  #toTu(response: SipResponse, flow: FlowInfo | undefined, retransmission: boolean): void {
    this.#sink.emit({ type: 'response', transactionId: this.id, response, flow, retransmission });
  }

  #toTu2xx(response: SipResponse, flow: FlowInfo | undefined): void {
    const tag = response.toTag ?? '';
    const retransmission = this.#acceptedTags.has(tag);
    this.#acceptedTags.add(tag);
    this.#toTu(response, flow, retransmission);
  }

  #send(request: SipRequest): void {
    this.#sink.transmit(request, this.flow, this.id);
  }
}

/**
 * RFC 3261 §17.1.1.3: the ACK for a non-2xx final response. It has the INVITE's Request-URI, Call-ID, From and
 * CSeq number (method ACK), the To of the response (with its tag), one Via equal to the INVITE's top Via, and
 * the INVITE's Route headers; Max-Forwards is the INVITE's (§8.1.1.6 wants one in every request).
 */
export function createAck(invite: SipRequest, response: SipResponse): SipRequest {
  const ack = new SipRequest('ACK', invite.uri);
  const h = ack.headers;
  h.append('Via', topViaText(invite));
  h.append('Max-Forwards', invite.headers.get('max-forwards') ?? '70');
  for (const route of invite.headers.getAll('route')) h.append('Route', route);
  h.append('From', required(invite, 'from'));
  h.append('To', required(response, 'to'));
  h.append('Call-ID', required(invite, 'call-id'));
  h.append('CSeq', `${invite.cseq.seq} ACK`);
  return ack;
}

/**
 * The ACK for another final response to the same INVITE (another To tag): the ACK already built, with that
 * response's To. Everything else in a §17.1.1.3 ACK comes from the INVITE, which the transaction no longer holds.
 */
function retargetAck(ack: SipRequest, response: SipResponse): SipRequest {
  const other = ack.clone();
  other.headers.set('To', required(response, 'to'));
  return other;
}

/** The text of the topmost Via value, split off a comma-separated field if need be. */
export function topViaText(request: SipRequest): string {
  const first = request.headers.get('via');
  const top = first === undefined ? undefined : splitTopLevelCommas(first)[0];
  if (top === undefined || top === '') throw new TypeError('the request has no Via');
  return top;
}

function required(message: SipRequest | SipResponse, name: string): string {
  const value = message.headers.get(name);
  if (value === undefined) throw new TypeError(`the message has no ${name} header`);
  return value;
}
