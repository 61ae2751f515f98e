/**
 * The non-INVITE server transaction: RFC 3261 §17.2.2.
 *
 *                  request received: to TU
 *                        |
 *                        v
 *                 +-------------+
 *                 |   Trying    |   on request again: absorbed
 *                 +-------------+
 *                        | 1xx from TU: sent
 *                        v
 *                 +-------------+   on 1xx from TU: sent
 *                 | Proceeding  |   on request again: the last 1xx sent again
 *                 +-------------+
 *      from Trying    |
 *      or Proceeding: | 200-699 from TU: sent
 *                     v
 *                 +-------------+
 *                 |  Completed  |   on request again: the final sent again
 *                 +-------------+
 *                        | Timer J
 *                        v
 *                 +-------------+
 *                 | Terminated  |   also on a transport error
 *                 +-------------+
 *
 * How it works. The layer constructs the machine for a request that matched no transaction and hands the
 * request to the TU. Until the TU answers, retransmissions are absorbed; after a provisional answer each one
 * gets that provisional again, and after the final answer each one gets the final again. The final answer starts
 * Timer J (64·T1 over UDP, 0 over reliable transports), the time a retransmission may still arrive; then the
 * transaction ends. The machine never retransmits on its own: the client's Timer E drives everything.
 */
import { InvalidStateError } from '../errors.ts';
import type { SipRequest, SipResponse } from '../message/index.ts';
import { TimerSet, checkTransition, type StateTable } from './timer-set.ts';
import { TIMER_J } from './timers.ts';
import type { FlowInfo, Transaction, TransactionOptions, TransactionSink } from './transaction.ts';

export type NonInviteServerState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';
type Timer = 'J';

const TABLE: StateTable<NonInviteServerState, Timer> = {
  Trying: { next: ['Proceeding', 'Completed', 'Terminated'], arm: [], keep: [] },
  Proceeding: { next: ['Completed', 'Terminated'], arm: [], keep: [] },
  Completed: { next: ['Terminated'], arm: ['J'], keep: [] },
  Terminated: { next: [], arm: [], keep: [] },
};

const RULES = { J: TIMER_J };
const PRIORITY: readonly Timer[] = ['J'];

export class NonInviteServerTransaction implements Transaction {
  readonly kind = 'server' as const;
  readonly id: string;
  readonly method: string;
  readonly request: SipRequest;
  readonly reliable: boolean;
  readonly flow: FlowInfo | undefined;
  #state: NonInviteServerState = 'Trying';
  readonly #sink: TransactionSink;
  readonly #timers: TimerSet<Timer>;
  #lastResponse: SipResponse | undefined;

  constructor(options: TransactionOptions) {
    const method = options.request.method;
    if (method === 'INVITE' || method === 'ACK')
      throw new TypeError(`${method} does not make a non-INVITE server transaction`);
    this.id = options.id;
    this.method = method;
    this.request = options.request;
    this.reliable = options.reliable;
    this.flow = options.flow;
    this.#sink = options.sink;
    this.#timers = new TimerSet<Timer>(RULES, PRIORITY, options.timers, options.reliable);
    // §17.2.2: the transaction starts in Trying.
    this.#enter('Trying', options.now);
  }

  get state(): NonInviteServerState {
    return this.#state;
  }

  /** The last response sent, if any. */
  get lastResponse(): SipResponse | undefined {
    return this.#lastResponse;
  }

  nextDeadline(): number | undefined {
    return this.#timers.next();
  }

  /** A retransmission of the request (§17.2.3 matched it to this transaction). */
  receiveRequest(_request: SipRequest, _now: number, _flow?: FlowInfo): void {
    switch (this.#state) {
      case 'Trying':
        // §17.2.2: retransmissions in Trying are discarded.
        return;
      case 'Proceeding':
      case 'Completed':
        // §17.2.2: a retransmission gets the most recent response again (provisional, or the final).
        if (this.#lastResponse !== undefined) this.#send(this.#lastResponse);
        return;
      case 'Terminated':
        return;
    }
  }

  /** The TU's response. Throws InvalidStateError once a final response has been sent. */
  respond(response: SipResponse, now: number): void {
    const status = response.status;
    if (!Number.isInteger(status) || status < 100 || status > 699)
      throw new TypeError(`bad status ${status}`);
    switch (this.#state) {
      case 'Trying':
      case 'Proceeding':
        this.#lastResponse = response;
        this.#send(response);
        // §17.2.2: a provisional moves Trying to Proceeding; a final moves to Completed.
        if (status >= 200) this.#transition('Completed', now);
        else if (this.#state === 'Trying') this.#transition('Proceeding', now);
        return;
      case 'Completed':
      case 'Terminated':
        // §17.2.2: any further response from the TU is discarded by the RFC; here it is a TU bug, so it throws.
        throw new InvalidStateError(
          `${this.method} server transaction ${this.id} is ${this.#state}: a final response was sent`,
        );
    }
  }

  handleTimers(now: number): void {
    for (let due = this.#timers.takeDue(now); due !== undefined; due = this.#timers.takeDue(now)) {
      switch (due.timer) {
        case 'J':
          // §17.2.2: Timer J ends the Completed state.
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

  #transition(to: NonInviteServerState, now: number): void {
    checkTransition(TABLE, this.#state, to, `non-INVITE server transaction ${this.id}`);
    this.#state = to;
    this.#enter(to, now);
  }

  #enter(state: NonInviteServerState, now: number): void {
    // Timer J is 0 on reliable transports: Completed ends at once.
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
