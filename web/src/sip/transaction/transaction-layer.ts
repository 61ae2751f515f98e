/**
 * The transaction layer (RFC 3261 §17), sans-IO: the one object a driver and a TU talk to.
 *
 *                  TU: UA core, dialogs, proxy core
 *         sendRequest / respond / cancel |  ^ takeEvents()
 *                                        v  |
 *      +------------------------------------------------------------+
 *      | TransactionLayer                                           | <- handleTimers(now)
 *      |   matching: responses §17.1.3, requests §17.2.3,           | -> nextDeadline()
 *      |             CANCEL §9.2                                    |
 *      |   four machines: (INVITE | non-INVITE) x (client | server) |
 *      +------------------------------------------------------------+
 *               receive(message, now, flow) ^  | takeTransmissions()
 *                                           |  v
 *                   driver: transport, one timer at nextDeadline()
 *
 * How it works. Every input carries `now`; due timers run first, so a late driver sees what would have happened
 * on time. A response goes to the client transaction keyed by its top Via branch and CSeq method, or up as a
 * stray. A request goes to the server transaction it matches (a retransmission or an ACK, absorbed there), or
 * creates one and goes up to the TU; an ACK that matches nothing goes up as the dialog's; a CANCEL that matches a
 * request is answered 200 here and, when it found an INVITE still in Proceeding, goes up as a `cancel` so the TU
 * answers 487. The TU's `cancel()` builds the CANCEL of §9.1 and holds it until the INVITE has a provisional
 * response. Machines push transmissions and events into the layer's two queues; `terminated` removes a machine
 * from the indexes. Deadlines sit in a heap, so `nextDeadline()` stays cheap with many transactions.
 */
import { InvalidStateError, ParseError } from '../errors.ts';
import { SipRequest, createResponse, type SipMessage, type SipResponse } from '../message/index.ts';
import { DeadlineQueue } from './deadline-queue.ts';
import { InviteClientTransaction, topViaText } from './invite-client.ts';
import { InviteServerTransaction } from './invite-server.ts';
import {
  ackKey2543,
  cancelKey,
  clientKey,
  isRfc3261Branch,
  randomToken,
  responseKey,
  serverKey,
} from './matching.ts';
import { NonInviteClientTransaction } from './non-invite-client.ts';
import { NonInviteServerTransaction } from './non-invite-server.ts';
import { timerValues, type TimerValues } from './timers.ts';
import type {
  FlowInfo,
  TransactionEvent,
  TransactionHandle,
  TransactionOptions,
  TransactionSink,
  Transmission,
} from './transaction.ts';

export interface TransactionLayerOptions {
  /** Randomness in [0, 1), for the To tags the layer picks itself (the 200 to a CANCEL, §9.2). */
  readonly random: () => number;
  /** T1, T2, T4, D and the 100 (Trying) delay; the RFC defaults otherwise. */
  readonly timers?: Partial<TimerValues> | undefined;
  /** Told why an incoming message was dropped (STYLE.md: logging is injected). */
  readonly log?: ((line: string) => void) | undefined;
}

export interface SendRequestOptions {
  /** true for TCP, TLS, WS, WSS, SCTP: no retransmissions, zero-length absorbing timers */
  readonly reliable: boolean;
  /** where the request (and its retransmissions, ACK and CANCEL) must go; undefined lets the driver route */
  readonly flow?: FlowInfo | undefined;
}

type ClientMachine = InviteClientTransaction | NonInviteClientTransaction;
type ServerMachine = InviteServerTransaction | NonInviteServerTransaction;
type Machine = ClientMachine | ServerMachine;

interface Entry {
  readonly machine: Machine;
  /** the keys under which the machine sits in the client or server index */
  readonly keys: string[];
  /** §9.2: the key a CANCEL finds this (server) transaction by */
  cancelKey: string | undefined;
  /** the deadline last pushed to the heap */
  scheduled: number | undefined;
}

/** A CANCEL the TU asked for: sent, or held until the INVITE has a provisional response (§9.1). */
interface CancelRequest {
  readonly id: string;
  sent: boolean;
}

export class TransactionLayer {
  readonly timers: TimerValues;
  readonly #random: () => number;
  readonly #log: ((line: string) => void) | undefined;
  readonly #entries = new Map<string, Entry>();
  readonly #clients = new Map<string, Entry>();
  readonly #servers = new Map<string, Entry>();
  readonly #cancelTargets = new Map<string, Entry>();
  /** INVITE client transaction id → its CANCEL */
  readonly #cancels = new Map<string, CancelRequest>();
  readonly #deadlines = new DeadlineQueue<Entry>();
  #transmissions: Transmission[] = [];
  #events: TransactionEvent[] = [];
  #counter = 0;
  readonly #sink: TransactionSink = {
    transmit: (message, flow, transactionId) => {
      this.#transmissions.push({ message, flow, transactionId });
    },
    emit: (event) => {
      this.#emit(event);
    },
  };

  constructor(options: TransactionLayerOptions) {
    if (typeof options.random !== 'function') throw new TypeError('TransactionLayer needs a random() option');
    this.#random = options.random;
    this.#log = options.log;
    this.timers = timerValues(options.timers);
  }

  // ---- inputs -----------------------------------------------------------------------------------------------

  /** A message from the transport. A malformed one is dropped; a peer's misbehaviour never throws. */
  receive(message: SipMessage, now: number, flow?: FlowInfo): void {
    this.handleTimers(now);
    const problem = check(message);
    if (problem !== undefined) {
      this.#log?.(`transaction layer: dropped a ${describe(message)}: ${problem}`);
      return;
    }
    if (message.kind === 'request') this.#receiveRequest(message, now, flow);
    else this.#receiveResponse(message, now, flow);
    this.#settleCancels(now);
  }

  /**
   * Start a client transaction (§17.1). The request must carry its top Via with a branch (see `newBranch`);
   * the transaction adds nothing to it. An ACK is not a transaction: send a 2xx ACK with `sendStateless`.
   */
  sendRequest(request: SipRequest, now: number, options: SendRequestOptions): TransactionHandle {
    const method = request.method;
    if (method === 'ACK') throw new TypeError('an ACK is not sent in a transaction: use sendStateless()');
    const branch = request.topVia?.branch;
    if (branch === undefined || branch === '')
      throw new TypeError('the request needs a top Via with a branch');
    if (request.cseq.method !== method)
      throw new TypeError(`CSeq method ${request.cseq.method} is not ${method}`);
    this.handleTimers(now);
    const key = clientKey(branch, method);
    if (this.#clients.has(key))
      throw new InvalidStateError(`a ${method} client transaction with branch ${branch} exists`);
    const machine = this.#createClient(request, now, options.reliable, options.flow);
    this.#schedule(machine);
    return machine;
  }

  /** The TU's response on a server transaction. Throws InvalidStateError when it is gone or already final. */
  respond(transaction: TransactionHandle | string, response: SipResponse, now: number): void {
    const entry = this.#entry(transaction);
    const machine = entry.machine;
    if (machine.kind !== 'server') throw new InvalidStateError(`${machine.id} is a client transaction`);
    this.handleTimers(now);
    if (this.#entries.get(machine.id) !== entry)
      throw new InvalidStateError(`transaction ${machine.id} has ended`);
    machine.respond(response, now);
    // §17.2.3: an RFC 2543 ACK is matched by the To tag of the final response it acknowledges.
    if (
      machine instanceof InviteServerTransaction &&
      response.status >= 200 &&
      !isRfc3261Branch(machine.request.topVia?.branch) &&
      this.#entries.get(machine.id) === entry
    ) {
      this.#index(this.#servers, entry, ackKey2543(machine.request, response.toTag));
    }
    this.#schedule(machine);
  }

  /**
   * Cancel a pending INVITE (§9.1). Returns the id of the CANCEL's own client transaction. The CANCEL leaves
   * only once a provisional response has arrived; if a final response comes first it is never sent and its id
   * gets a `terminated` event. Asking twice returns the same id. Throws InvalidStateError when the INVITE
   * already has a final response.
   */
  cancel(invite: TransactionHandle | string, now: number): string {
    const machine = this.#entry(invite).machine;
    if (!(machine instanceof InviteClientTransaction))
      throw new InvalidStateError(`${machine.id} is not an INVITE client transaction`);
    const existing = this.#cancels.get(machine.id);
    if (existing !== undefined) return existing.id;
    this.handleTimers(now);
    // §9.1: a CANCEL is pointless once a final response has arrived.
    if (machine.state !== 'Calling' && machine.state !== 'Proceeding')
      throw new InvalidStateError(`INVITE ${machine.id} is ${machine.state}: too late to cancel`);
    const id = this.#nextId('client');
    this.#cancels.set(machine.id, { id, sent: false });
    this.#settleCancels(now);
    return id;
  }

  /** Hand a message to the transport outside any transaction (a 2xx ACK, §13.2.2.4; a stateless response). */
  sendStateless(message: SipMessage, flow?: FlowInfo): void {
    this.#transmissions.push({ message, flow, transactionId: undefined });
  }

  /** The driver could not deliver a message of this transaction (§17.1.4, §17.2.4). Unknown ids are ignored. */
  transportError(transaction: TransactionHandle | string, now: number): void {
    this.handleTimers(now);
    const entry = this.#entries.get(typeof transaction === 'string' ? transaction : transaction.id);
    if (entry === undefined) return;
    entry.machine.transportError(now);
    this.#schedule(entry.machine);
    this.#settleCancels(now);
  }

  /** A connection closed: every transaction bound to it fails as by `transportError`. */
  flowFailed(flowId: string, now: number): void {
    this.handleTimers(now);
    for (const entry of [...this.#entries.values()]) {
      if (entry.machine.flow?.flowId !== flowId) continue;
      entry.machine.transportError(now);
      this.#schedule(entry.machine);
    }
    this.#settleCancels(now);
  }

  /** Fire every timer due at or before `now`, earliest first. */
  handleTimers(now: number): void {
    for (let top = this.#deadlines.peek(); top !== undefined && top.at <= now; top = this.#deadlines.peek()) {
      this.#deadlines.pop();
      const entry = top.item;
      if (!this.#current(entry, top.at)) continue;
      entry.scheduled = undefined;
      entry.machine.handleTimers(now);
      this.#schedule(entry.machine);
    }
    this.#settleCancels(now);
  }

  // ---- outputs ----------------------------------------------------------------------------------------------

  /** When `handleTimers` must next be called, or undefined when no timer runs. */
  nextDeadline(): number | undefined {
    for (let top = this.#deadlines.peek(); top !== undefined; top = this.#deadlines.peek()) {
      if (this.#current(top.item, top.at)) return top.at;
      this.#deadlines.pop();
    }
    return undefined;
  }

  takeTransmissions(): Transmission[] {
    const out = this.#transmissions;
    this.#transmissions = [];
    return out;
  }

  takeEvents(): TransactionEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** A live transaction by id. */
  transaction(id: string): TransactionHandle | undefined {
    return this.#entries.get(id)?.machine;
  }

  /** How many transactions are live. */
  get size(): number {
    return this.#entries.size;
  }

  // ---- matching ---------------------------------------------------------------------------------------------

  #receiveResponse(response: SipResponse, now: number, flow: FlowInfo | undefined): void {
    // §17.1.3: top Via branch and CSeq method find the client transaction.
    const key = responseKey(response);
    const machine = key === undefined ? undefined : this.#clients.get(key)?.machine;
    if (machine === undefined || machine.kind !== 'client') {
      // §18.1.2: no transaction: the response goes to the TU (a forked 2xx to INVITE must be ACKed there).
      this.#emit({ type: 'stray-response', response, flow });
      return;
    }
    machine.receiveResponse(response, now, flow);
    this.#schedule(machine);
  }

  #receiveRequest(request: SipRequest, now: number, flow: FlowInfo | undefined): void {
    // §17.2.3: branch + sent-by + method (ACK → INVITE), or the RFC 2543 fields without the magic cookie.
    const existing = this.#servers.get(serverKey(request))?.machine;
    if (request.method === 'ACK') {
      // An ACK never creates a transaction. One that matches an INVITE server transaction acknowledges its
      // final response; any other is for a 2xx, whose ACK has its own branch (§17.1.1.3): the dialog's.
      if (existing instanceof InviteServerTransaction) {
        existing.receiveRequest(request, now, flow);
        this.#schedule(existing);
      } else {
        this.#emit({ type: 'ack', request, flow, transactionId: undefined });
      }
      return;
    }
    if (existing !== undefined && existing.kind === 'server') {
      existing.receiveRequest(request, now, flow);
      this.#schedule(existing);
      return;
    }
    const reliable = flow?.reliable ?? request.topVia?.transport !== 'UDP';
    const machine = this.#createServer(request, now, reliable, flow);
    this.#schedule(machine);
    if (
      machine instanceof NonInviteServerTransaction &&
      request.method === 'CANCEL' &&
      this.#answerCancel(machine, now, flow)
    )
      return;
    this.#emit({ type: 'request', transactionId: machine.id, request, flow });
  }

  /**
   * §9.2: a CANCEL that matches a server transaction is answered 200 here, with the To tag of the response to the
   * original request; an INVITE still in Proceeding is reported to the TU, which answers it 487. A CANCEL that
   * matches nothing is left to the TU (481 for a UAS, §9.2; stateless forwarding for a proxy, §16.10).
   */
  #answerCancel(cancel: NonInviteServerTransaction, now: number, flow: FlowInfo | undefined): boolean {
    const target = this.#cancelTargets.get(cancelKey(cancel.request))?.machine;
    if (target === undefined || target.kind !== 'server') return false;
    const toTag = cancel.request.toTag ?? target.lastResponse?.toTag ?? randomToken(this.#random, 10);
    if (target instanceof InviteServerTransaction && target.state === 'Proceeding') {
      this.#emit({
        type: 'cancel',
        transactionId: target.id,
        cancelTransactionId: cancel.id,
        request: cancel.request,
        toTag,
        flow,
      });
    }
    cancel.respond(createResponse(cancel.request, 200, { toTag }), now);
    this.#schedule(cancel);
    return true;
  }

  /** §9.1: send the held CANCELs whose INVITE now has a provisional response; drop those that came too late. */
  #settleCancels(now: number): void {
    for (const [inviteId, cancel] of this.#cancels) {
      const invite = this.#entries.get(inviteId)?.machine;
      const live = invite instanceof InviteClientTransaction;
      if (cancel.sent) {
        if (!live) this.#cancels.delete(inviteId);
        continue;
      }
      if (live && invite.state === 'Calling') continue;
      if (live && invite.state === 'Proceeding') {
        const request = createCancel(invite.request);
        const branch = request.topVia?.branch ?? '';
        if (!this.#clients.has(clientKey(branch, 'CANCEL'))) {
          cancel.sent = true;
          const machine = this.#createClient(request, now, invite.reliable, invite.flow, cancel.id);
          invite.cancelSent(now);
          this.#schedule(machine);
          this.#schedule(invite);
          continue;
        }
      }
      // §9.1: a final response came first (or the INVITE is gone): the CANCEL is never sent.
      this.#cancels.delete(inviteId);
      this.#emit({ type: 'terminated', transactionId: cancel.id });
    }
  }

  // ---- bookkeeping ------------------------------------------------------------------------------------------

  #createClient(
    request: SipRequest,
    now: number,
    reliable: boolean,
    flow: FlowInfo | undefined,
    id = this.#nextId('client'),
  ): ClientMachine {
    const options = this.#options(id, request, now, reliable, flow);
    const machine =
      request.method === 'INVITE'
        ? new InviteClientTransaction(options)
        : new NonInviteClientTransaction(options);
    const entry: Entry = { machine, keys: [], cancelKey: undefined, scheduled: undefined };
    this.#entries.set(id, entry);
    this.#index(this.#clients, entry, clientKey(request.topVia?.branch ?? '', request.method));
    return machine;
  }

  #createServer(
    request: SipRequest,
    now: number,
    reliable: boolean,
    flow: FlowInfo | undefined,
  ): ServerMachine {
    const id = this.#nextId('server');
    const options = this.#options(id, request, now, reliable, flow);
    const machine =
      request.method === 'INVITE'
        ? new InviteServerTransaction(options)
        : new NonInviteServerTransaction(options);
    const entry: Entry = { machine, keys: [], cancelKey: undefined, scheduled: undefined };
    this.#entries.set(id, entry);
    this.#index(this.#servers, entry, serverKey(request));
    if (request.method !== 'CANCEL') {
      entry.cancelKey = cancelKey(request);
      this.#cancelTargets.set(entry.cancelKey, entry);
    }
    return machine;
  }

  #options(
    id: string,
    request: SipRequest,
    now: number,
    reliable: boolean,
    flow: FlowInfo | undefined,
  ): TransactionOptions {
    return { id, request, reliable, flow, now, timers: this.timers, sink: this.#sink };
  }

  #index(index: Map<string, Entry>, entry: Entry, key: string): void {
    index.set(key, entry);
    entry.keys.push(key);
  }

  #emit(event: TransactionEvent): void {
    this.#events.push(event);
    if (event.type === 'terminated') this.#forget(event.transactionId);
  }

  #forget(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    const index = entry.machine.kind === 'client' ? this.#clients : this.#servers;
    for (const key of entry.keys) if (index.get(key) === entry) index.delete(key);
    if (entry.cancelKey !== undefined && this.#cancelTargets.get(entry.cancelKey) === entry)
      this.#cancelTargets.delete(entry.cancelKey);
  }

  #entry(transaction: TransactionHandle | string): Entry {
    const id = typeof transaction === 'string' ? transaction : transaction.id;
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new InvalidStateError(`no live transaction ${id}`);
    return entry;
  }

  #schedule(machine: Machine): void {
    const entry = this.#entries.get(machine.id);
    if (entry === undefined) return;
    const at = machine.nextDeadline();
    if (at !== undefined && at !== entry.scheduled) this.#deadlines.push(at, entry);
    entry.scheduled = at;
  }

  #current(entry: Entry, at: number): boolean {
    return this.#entries.get(entry.machine.id) === entry && entry.machine.nextDeadline() === at;
  }

  #nextId(kind: 'client' | 'server'): string {
    this.#counter += 1;
    return `${kind}-${this.#counter}`;
  }
}

/**
 * RFC 3261 §9.1: the CANCEL for an INVITE: the same Request-URI, Call-ID, To, From and CSeq number (method
 * CANCEL), one Via equal to the INVITE's top Via (so it takes the same path and the server finds the INVITE by
 * its branch), and the INVITE's Route header fields. No Require or Proxy-Require.
 */
export function createCancel(invite: SipRequest): SipRequest {
  const cancel = new SipRequest('CANCEL', invite.uri);
  const h = cancel.headers;
  h.append('Via', topViaText(invite));
  h.append('Max-Forwards', invite.headers.get('max-forwards') ?? '70');
  for (const route of invite.headers.getAll('route')) h.append('Route', route);
  for (const name of ['from', 'to', 'call-id']) {
    const value = invite.headers.get(name);
    if (value === undefined) throw new TypeError(`the INVITE has no ${name} header`);
    h.append(name, value);
  }
  h.append('CSeq', `${invite.cseq.seq} CANCEL`);
  return cancel;
}

/** What makes a received message unusable here: the headers matching needs, parsed now (else undefined). */
function check(message: SipMessage): string | undefined {
  try {
    const via = message.topVia;
    if (via === undefined) return 'no Via';
    const cseq = message.cseq;
    void message.callId;
    void message.from;
    void message.to;
    if (message.kind === 'request') {
      if (cseq.method !== message.method) return `CSeq method ${cseq.method} is not ${message.method}`;
    } else if (!Number.isInteger(message.status) || message.status < 100 || message.status > 699) {
      return `status ${message.status}`;
    }
    return undefined;
  } catch (e) {
    if (e instanceof ParseError) return e.message;
    throw e;
  }
}

function describe(message: SipMessage): string {
  return message.kind === 'request' ? `${message.method} request` : `${message.status} response`;
}
