/**
 * The types the transaction layer and its four machines share: where a message came from or goes (FlowInfo),
 * what leaves the layer (Transmission, TransactionEvent), and what a machine asks of the layer that owns it
 * (TransactionSink).
 *
 * A machine never touches a socket or a clock: it is constructed with `now`, fed messages and timer calls with
 * `now`, and pushes bytes-to-be and TU events into its sink. The layer owns the sinks' queues and drains them
 * through `takeTransmissions()` and `takeEvents()`.
 */
import type { SipMessage, SipRequest, SipResponse } from '../message/index.ts';
import type { TimerValues } from './timers.ts';

export type TransportName = 'UDP' | 'TCP' | 'TLS' | 'SCTP' | 'WS' | 'WSS';

/** The transport and connection a message came on, or must leave by. */
export interface FlowInfo {
  readonly transport: TransportName;
  /** RFC 3261 §17: reliable transports (everything but UDP) turn retransmission timers off */
  readonly reliable: boolean;
  /** the peer's address as the driver knows it, e.g. "192.0.2.4:5060" */
  readonly remote?: string | undefined;
  /** the connection (RFC 5626 flow) for connection-oriented transports */
  readonly flowId?: string | undefined;
}

/** A message for the transport layer. `transactionId` is undefined for messages sent statelessly. */
export interface Transmission {
  readonly message: SipMessage;
  readonly flow: FlowInfo | undefined;
  readonly transactionId: string | undefined;
}

/** Which timer gave up: B (INVITE client), F (non-INVITE client), H (INVITE server, no ACK), cancel (§9.1). */
export type TimeoutTimer = 'B' | 'F' | 'H' | 'cancel';

/** What the transaction layer tells the TU. Consume with an exhaustive `switch (event.type)`. */
export type TransactionEvent =
  /** A request that created a new server transaction (§17.2.3: not a retransmission, not an ACK). */
  | {
      readonly type: 'request';
      readonly transactionId: string;
      readonly request: SipRequest;
      readonly flow: FlowInfo | undefined;
    }
  /**
   * A response passed up by a client transaction. `retransmission` is true for a 2xx to INVITE whose To tag
   * was already passed up: RFC 6026 §8.4 sends it up so that the TU re-sends its ACK (§13.2.2.4), but it does
   * not start a new dialog.
   */
  | {
      readonly type: 'response';
      readonly transactionId: string;
      readonly response: SipResponse;
      readonly flow: FlowInfo | undefined;
      readonly retransmission: boolean;
    }
  /**
   * A timer gave up. For B and F the TU treats it as a 408 (Request Timeout) (§8.1.3.1); for H the ACK never
   * came (§17.2.1); for `cancel` no final response came within 64·T1 of sending a CANCEL (§9.1).
   */
  | { readonly type: 'timeout'; readonly transactionId: string; readonly timer: TimeoutTimer }
  /** The driver reported a transport failure for this transaction (§17.1.4, §17.2.4). */
  | { readonly type: 'transport-error'; readonly transactionId: string }
  /** The transaction reached Terminated and is gone from the layer. */
  | { readonly type: 'terminated'; readonly transactionId: string }
  /**
   * An ACK for a 2xx: it matched no transaction (§17.2.3: its branch is new), or it matched an INVITE server
   * transaction in Accepted (RFC 6026 §8.7). Either way it is the dialog's business.
   */
  | {
      readonly type: 'ack';
      readonly request: SipRequest;
      readonly flow: FlowInfo | undefined;
      readonly transactionId: string | undefined;
    }
  /** A response that matched no client transaction (§18.1.2); a 2xx to INVITE from a fork lands here. */
  | { readonly type: 'stray-response'; readonly response: SipResponse; readonly flow: FlowInfo | undefined }
  /**
   * A CANCEL matched an INVITE server transaction still in Proceeding. The layer has already answered the CANCEL
   * with a 200 using `toTag` (§9.2); the TU should now answer the INVITE with 487 (Request Terminated), with the
   * same To tag.
   */
  | {
      readonly type: 'cancel';
      readonly transactionId: string;
      readonly cancelTransactionId: string;
      readonly request: SipRequest;
      readonly toTag: string;
      readonly flow: FlowInfo | undefined;
    };

export type TransactionEventType = TransactionEvent['type'];

/** What a machine asks of its owner. */
export interface TransactionSink {
  transmit(message: SipMessage, flow: FlowInfo | undefined, transactionId: string): void;
  emit(event: TransactionEvent): void;
}

/** How a machine is made. Constructing one is the RFC's "TU initiates / request arrives": it acts at once. */
export interface TransactionOptions {
  readonly id: string;
  /** the request that creates the transaction */
  readonly request: SipRequest;
  readonly reliable: boolean;
  readonly flow?: FlowInfo | undefined;
  readonly timers: TimerValues;
  readonly sink: TransactionSink;
  readonly now: number;
}

/** The read-only face of a transaction, as the TU sees it. */
export interface TransactionHandle {
  readonly id: string;
  readonly kind: 'client' | 'server';
  /** the method of the request that created it */
  readonly method: string;
  readonly state: string;
  readonly request: SipRequest;
  readonly reliable: boolean;
  readonly flow: FlowInfo | undefined;
}

/** What every machine offers its owner beyond the handle. */
export interface Transaction extends TransactionHandle {
  nextDeadline(): number | undefined;
  handleTimers(now: number): void;
  transportError(now: number): void;
}
