/**
 * The INVITE server transaction: RFC 3261 §17.2.1 with the Accepted state of RFC 6026 §8.5–§8.7.
 *
 *                  INVITE received: to TU; the Trying timer (200 ms) starts
 *                        |
 *                        v
 *                 +-------------+   on the Trying timer: 100 (Trying) sent
 *                 | Proceeding  |   on 1xx from TU: sent
 *                 +-------------+   on INVITE again: the last 1xx sent again
 *      2xx from TU:   |       |   300-699 from TU:
 *      sent           v       v   sent
 *         +-------------+   +-------------+   on Timer G: final sent again, G = min(2G, T2)
 *         |  Accepted   |   |  Completed  |   on INVITE again: final sent again
 *         +-------------+   +-------------+ ---------------------------------+
 *    on 2xx from TU: sent |        | ACK              Timer H: timeout to TU |
 *    on INVITE: absorbed  |        v                                         |
 *    on ACK: to TU        |  +-------------+                                 |
 *                         |  |  Confirmed  |   on ACK, INVITE: absorbed      |
 *                         |  +-------------+                                 |
 *                 Timer L |        | Timer I                                 |
 *                         v        v                                         |
 *         +-------------------------------+                                  |
 *         |          Terminated           | <--------------------------------+
 *         +-------------------------------+   also on a transport error
 *
 * How it works. The layer constructs the machine for an INVITE that matched no transaction and hands the
 * request to the TU. If the TU has not answered within 200 ms the machine sends 100 (Trying) itself. A request
 * retransmission is answered with the last provisional response. A 300-699 answer moves to Completed, where over
 * UDP Timer G resends it at T1, 3·T1, 7·T1 … (doubling up to T2) until the ACK arrives (Confirmed, absorbing
 * further ACKs for Timer I) or Timer H gives up at 64·T1, which the TU hears as a timeout. A 2xx answer moves to
 * Accepted (RFC 6026): the machine no longer resends anything itself (2xx retransmission is the TU's job, §13.3.1.4,
 * and the TU's retransmitted 2xx pass through), it absorbs INVITE retransmissions, passes any ACK that reaches it
 * up to the TU, and ends after Timer L.
 */
import { InvalidStateError } from '../errors.ts';
import { createResponse, type SipRequest, type SipResponse } from '../message/index.ts';
import { TimerSet, checkTransition, type StateTable } from './timer-set.ts';
import { TIMER_G, TIMER_H, TIMER_I, TIMER_L, TIMER_TRYING, doubled } from './timers.ts';
import type { FlowInfo, Transaction, TransactionOptions, TransactionSink } from './transaction.ts';

export type InviteServerState = 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';
type Timer = 'Trying' | 'G' | 'H' | 'I' | 'L';

const TABLE: StateTable<InviteServerState, Timer> = {
  Proceeding: { next: ['Completed', 'Accepted', 'Terminated'], arm: ['Trying'], keep: [] },
  Completed: { next: ['Confirmed', 'Terminated'], arm: ['G', 'H'], keep: [] },
  Confirmed: { next: ['Terminated'], arm: ['I'], keep: [] },
  Accepted: { next: ['Terminated'], arm: ['L'], keep: [] },
  Terminated: { next: [], arm: [], keep: [] },
};

const RULES = { Trying: TIMER_TRYING, G: TIMER_G, H: TIMER_H, I: TIMER_I, L: TIMER_L };
const PRIORITY: readonly Timer[] = ['H', 'I', 'L', 'G', 'Trying'];

export class InviteServerTransaction implements Transaction {
  readonly kind = 'server' as const;
  readonly method = 'INVITE';
  readonly id: string;
  readonly request: SipRequest;
  readonly reliable: boolean;
  readonly flow: FlowInfo | undefined;
  #state: InviteServerState = 'Proceeding';
  readonly #sink: TransactionSink;
  readonly #timers: TimerSet<Timer>;
  readonly #T2: number;
  /** the most recent response sent: the last provisional in Proceeding, the final from then on */
  #lastResponse: SipResponse | undefined;

  constructor(options: TransactionOptions) {
    if (options.request.method !== 'INVITE')
      throw new TypeError('an INVITE server transaction needs an INVITE');
    this.id = options.id;
    this.request = options.request;
    this.reliable = options.reliable;
    this.flow = options.flow;
    this.#sink = options.sink;
    this.#T2 = options.timers.T2;
    this.#timers = new TimerSet<Timer>(RULES, PRIORITY, options.timers, options.reliable);
    // §17.2.1: the transaction starts in Proceeding; the 100 (Trying) timer runs until the TU answers.
    this.#enter('Proceeding', options.now);
  }

  get state(): InviteServerState {
    return this.#state;
  }

  /** The last response sent (provisional or final), if any. */
  get lastResponse(): SipResponse | undefined {
    return this.#lastResponse;
  }

  nextDeadline(): number | undefined {
    return this.#timers.next();
  }

  /** A request that matched this transaction (§17.2.3): a retransmitted INVITE, or an ACK. */
  receiveRequest(request: SipRequest, now: number, flow?: FlowInfo): void {
    if (request.method === 'ACK') {
      switch (this.#state) {
        case 'Completed':
          // §17.2.1: the ACK for the non-2xx final: Confirmed, where Timer I absorbs its retransmissions.
          this.#transition('Confirmed', now);
          return;
        case 'Accepted':
          // RFC 6026 §8.7: an ACK reaching the transaction in Accepted goes to the TU.
          this.#sink.emit({ type: 'ack', request, flow, transactionId: this.id });
          return;
        case 'Proceeding':
        case 'Confirmed':
        case 'Terminated':
          // §17.2.1: Confirmed absorbs ACKs; an ACK before any final response acknowledges nothing.
          return;
      }
    }
    switch (this.#state) {
      case 'Proceeding':
      case 'Completed':
        // §17.2.1: a retransmitted INVITE gets the most recent provisional (Proceeding) or the final (Completed).
        if (this.#lastResponse !== undefined) this.#send(this.#lastResponse);
        return;
      case 'Confirmed':
      case 'Accepted':
      case 'Terminated':
        // RFC 6026 §8.7: Accepted absorbs INVITE retransmissions (the TU's own 2xx retransmissions answer them).
        return;
    }
  }

  /** The TU's response. Throws InvalidStateError when the transaction can no longer send it. */
  respond(response: SipResponse, now: number): void {
    const status = response.status;
    if (!Number.isInteger(status) || status < 100 || status > 699)
      throw new TypeError(`bad status ${status}`);
    switch (this.#state) {
      case 'Proceeding':
        this.#timers.clear('Trying');
        this.#lastResponse = response;
        this.#send(response);
        // §17.2.1: a provisional keeps Proceeding; 300-699 moves to Completed.
        // RFC 6026 §8.5: a 2xx moves to Accepted.
        if (status >= 300) this.#transition('Completed', now);
        else if (status >= 200) this.#transition('Accepted', now);
        return;
      case 'Accepted':
        // RFC 6026 §8.7: the TU's retransmissions of the 2xx go to the transport; nothing else may be sent.
        if (status >= 200 && status < 300) {
          this.#send(response);
          return;
        }
        throw new InvalidStateError(
          `INVITE server transaction ${this.id} sent a 2xx; a ${status} cannot follow`,
        );
      case 'Completed':
      case 'Confirmed':
      case 'Terminated':
        throw new InvalidStateError(
          `INVITE server transaction ${this.id} is ${this.#state}: a final response was sent`,
        );
    }
  }

  handleTimers(now: number): void {
    for (let due = this.#timers.takeDue(now); due !== undefined; due = this.#timers.takeDue(now)) {
      switch (due.timer) {
        case 'Trying': {
          // §17.2.1: the TU said nothing within 200 ms: the transaction sends 100 (Trying) itself.
          const trying = createResponse(this.request, 100);
          this.#lastResponse = trying;
          this.#send(trying);
          break;
        }
        case 'G':
          // §17.2.1: Timer G resends the final response and restarts at min(2G, T2).
          if (this.#lastResponse !== undefined) this.#send(this.#lastResponse);
          this.#timers.arm('G', now, doubled(due.interval, this.#T2));
          break;
        case 'H':
          // §17.2.1: Timer H: the ACK never came; the TU is told, the transaction ends.
          this.#sink.emit({ type: 'timeout', transactionId: this.id, timer: 'H' });
          this.#transition('Terminated', now);
          break;
        case 'I':
        case 'L':
          // §17.2.1 (I) and RFC 6026 §8.7 (L): the absorbing wait is over.
          this.#transition('Terminated', now);
          break;
      }
    }
  }

  transportError(now: number): void {
    if (this.#state === 'Terminated') return;
    // §17.2.4: a response that cannot be delivered ends the transaction, and the TU is told.
    this.#sink.emit({ type: 'transport-error', transactionId: this.id });
    this.#transition('Terminated', now);
  }

  #transition(to: InviteServerState, now: number): void {
    checkTransition(TABLE, this.#state, to, `INVITE server transaction ${this.id}`);
    this.#state = to;
    this.#enter(to, now);
  }

  #enter(state: InviteServerState, now: number): void {
    // Timer I is 0 on reliable transports (Confirmed ends at once); a Trying delay of 0 sends 100 at once.
    this.#timers.enterState(
      TABLE[state],
      state === 'Terminated',
      now,
      () => this.#sink.emit({ type: 'terminated', transactionId: this.id }),
      (at) => this.handleTimers(at),
    );
  }

  #send(response: SipResponse): void {
    this.#sink.transmit(response, this.flow, this.id);
  }
}
