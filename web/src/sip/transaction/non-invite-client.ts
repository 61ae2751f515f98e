/**
 * The non-INVITE client transaction: RFC 3261 §17.1.2.
 *
 *                  request sent; E (unreliable only) and F start
 *                        |
 *                        v
 *                 +-------------+   on Timer E: request sent again, E = min(2E, T2)
 *                 |   Trying    | ------------------------------------------+
 *                 +-------------+                   Timer F: timeout to TU  |
 *                        | 1xx: to TU                                       |
 *                        v                                                  |
 *                 +-------------+   on 1xx: to TU                           |
 *                 | Proceeding  |   on Timer E: request sent again, E = T2  |
 *                 +-------------+ ------------------------------------------+
 *      from Trying    |                             Timer F: timeout to TU  |
 *      or Proceeding: | 200-699: to TU                                      |
 *                     v                                                     |
 *                 +-------------+                                           |
 *                 |  Completed  |   on any response: absorbed               |
 *                 +-------------+                                           |
 *                        | Timer K                                          |
 *                        v                                                  |
 *                 +-------------+                                           |
 *                 | Terminated  | <-----------------------------------------+
 *                 +-------------+   also on a transport error
 *
 * How it works. Constructing the machine sends the request and enters Trying. Over UDP Timer E resends it at
 * T1, 3·T1, 7·T1 … with the interval doubling up to T2 (so 0.5, 1.5, 3.5, 7.5, 11.5, 15.5 … s with the
 * defaults); once a provisional response has arrived the interval is T2 flat. Timer F gives up at 64·T1 in Trying
 * or Proceeding, which the TU reads as a 408. The first final response goes to the TU and the machine waits in
 * Completed for Timer K (T4 over UDP, 0 over reliable transports) so that retransmitted responses are absorbed
 * instead of reaching the TU again.
 */
import type { SipRequest, SipResponse } from '../message/index.ts';
import { RequestSummary } from './summary.ts';
import { TimerSet, checkTransition, type StateTable } from './timer-set.ts';
import { TIMER_E, TIMER_F, TIMER_K, doubled } from './timers.ts';
import type { FlowInfo, Transaction, TransactionOptions, TransactionSink } from './transaction.ts';

export type NonInviteClientState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';
type Timer = 'E' | 'F' | 'K';

const TABLE: StateTable<NonInviteClientState, Timer> = {
  Trying: { next: ['Proceeding', 'Completed', 'Terminated'], arm: ['E', 'F'], keep: [] },
  Proceeding: { next: ['Completed', 'Terminated'], arm: [], keep: ['E', 'F'] },
  Completed: { next: ['Terminated'], arm: ['K'], keep: [] },
  Terminated: { next: [], arm: [], keep: [] },
};

const RULES = { E: TIMER_E, F: TIMER_F, K: TIMER_K };
const PRIORITY: readonly Timer[] = ['F', 'K', 'E'];

export class NonInviteClientTransaction implements Transaction {
  readonly kind = 'client' as const;
  readonly id: string;
  readonly method: string;
  readonly reliable: boolean;
  readonly flow: FlowInfo | undefined;
  #state: NonInviteClientState = 'Trying';
  /** the request, until a final response (or the end) makes it useless: then only its summary is kept */
  #request: SipRequest | undefined;
  #summary: RequestSummary | undefined;
  readonly #sink: TransactionSink;
  readonly #timers: TimerSet<Timer>;
  readonly #T2: number;

  constructor(options: TransactionOptions) {
    const method = options.request.method;
    if (method === 'INVITE' || method === 'ACK')
      throw new TypeError(`${method} does not make a non-INVITE client transaction`);
    this.id = options.id;
    this.method = method;
    this.#request = options.request;
    this.reliable = options.reliable;
    this.flow = options.flow;
    this.#sink = options.sink;
    this.#T2 = options.timers.T2;
    this.#timers = new TimerSet<Timer>(RULES, PRIORITY, options.timers, options.reliable);
    // §17.1.2.2: the request goes to the transport as Trying is entered; E (unreliable only) and F start.
    this.#send();
    this.#enter('Trying', options.now);
  }

  get state(): NonInviteClientState {
    return this.#state;
  }

  /**
   * The request, while it may still be sent again (Trying, Proceeding). From Completed on, the transaction holds
   * only a summary of it (request line, Via, From, To, Call-ID, CSeq; see RequestSummary) and this is a stand-in
   * built from that.
   */
  get request(): SipRequest {
    return this.#request ?? (this.#summary as RequestSummary).request;
  }

  /** True while the transaction still holds the request itself (Trying, Proceeding). */
  get holdsRequest(): boolean {
    return this.#request !== undefined;
  }

  nextDeadline(): number | undefined {
    return this.#timers.next();
  }

  receiveResponse(response: SipResponse, now: number, flow?: FlowInfo): void {
    switch (this.#state) {
      case 'Trying':
      case 'Proceeding':
        // §17.1.2.2: provisional responses go to the TU and Trying becomes Proceeding; a final response goes to
        // the TU and the transaction is Completed.
        this.#sink.emit({ type: 'response', transactionId: this.id, response, flow, retransmission: false });
        if (response.status >= 200) this.#transition('Completed', now);
        else if (this.#state === 'Trying') this.#transition('Proceeding', now);
        return;
      case 'Completed':
        // §17.1.2.2: Completed absorbs retransmitted responses.
        return;
      case 'Terminated':
        return;
    }
  }

  handleTimers(now: number): void {
    for (let due = this.#timers.takeDue(now); due !== undefined; due = this.#timers.takeDue(now)) {
      switch (due.timer) {
        case 'E':
          // §17.1.2.2: Timer E resends the request; in Trying the interval doubles up to T2, in Proceeding it is T2.
          this.#send();
          this.#timers.arm('E', now, this.#state === 'Trying' ? doubled(due.interval, this.#T2) : this.#T2);
          break;
        case 'F':
          // §17.1.2.2: Timer F in Trying or Proceeding: timeout to the TU, Terminated.
          this.#sink.emit({ type: 'timeout', transactionId: this.id, timer: 'F' });
          this.#transition('Terminated', now);
          break;
        case 'K':
          // §17.1.2.2: Timer K ends the Completed state.
          this.#transition('Terminated', now);
          break;
      }
    }
  }

  transportError(now: number): void {
    if (this.#state === 'Terminated') return;
    // §17.1.2.2, §17.1.4: a transport failure is reported to the TU and ends the transaction.
    this.#sink.emit({ type: 'transport-error', transactionId: this.id });
    this.#transition('Terminated', now);
  }

  #transition(to: NonInviteClientState, now: number): void {
    checkTransition(TABLE, this.#state, to, `non-INVITE client transaction ${this.id}`);
    this.#state = to;
    this.#enter(to, now);
  }

  #enter(state: NonInviteClientState, now: number): void {
    // Completed only absorbs responses, which the layer matches by its key: the request is not needed any more.
    if ((state === 'Completed' || state === 'Terminated') && this.#request !== undefined) {
      this.#summary = new RequestSummary(this.#request);
      this.#request = undefined;
    }
    // Timer K is 0 on reliable transports: Completed ends at once.
    this.#timers.enterState(
      TABLE[state],
      state === 'Terminated',
      now,
      () => this.#sink.emit({ type: 'terminated', transactionId: this.id }),
      (at) => this.handleTimers(at),
    );
  }

  #send(): void {
    if (this.#request !== undefined) this.#sink.transmit(this.#request, this.flow, this.id);
  }
}
