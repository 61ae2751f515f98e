/**
 * What the user agent core tells its application and driver. Consume with an exhaustive `switch (event.type)`.
 */
import type { DigestFailReason } from '../auth/index.ts';
import type { Dialog, DialogState } from '../dialog/index.ts';
import type { SipMessage, SipRequest, SipResponse } from '../message/index.ts';
import type { FlowInfo } from '../transaction/index.ts';
import type { IncomingRequest, OutgoingRequest } from './handles.ts';
import type { RegistrationSnapshot } from './registration.ts';

export type UserAgentEvent =
  /** A request passed every RFC 3261 §8.2 check: answer it with `progress` / `accept` / `reject`. */
  | { readonly type: 'incoming-request'; readonly incoming: IncomingRequest }
  /**
   * The peer cancelled a request we had not answered (a CANCEL, RFC 3261 §9.2, or a BYE of its dialog, §15.1.2);
   * the core answered it 487. `cancel` is the CANCEL or the BYE.
   */
  | { readonly type: 'incoming-cancelled'; readonly incoming: IncomingRequest; readonly cancel: SipRequest }
  /** The ACK of our 2xx to an INVITE (RFC 3261 §13.3.1.4): the session is established. */
  | { readonly type: 'ack'; readonly request: SipRequest; readonly dialog: Dialog }
  /** The PRACK of one of our reliable provisional responses (RFC 3262 §3); the core answered it 200. */
  | { readonly type: 'prack'; readonly incoming: IncomingRequest; readonly request: SipRequest }
  /** A provisional response to one of our requests (only in-order ones for reliable provisionals). */
  | {
      readonly type: 'progress';
      readonly outgoing: OutgoingRequest;
      readonly response: SipResponse;
      readonly dialog: Dialog | undefined;
    }
  /**
   * The final response to one of our requests, once. `local` when the core made it up: 408 for a timeout
   * (RFC 3261 §8.1.3.1), 503 for a transport error or no flow, 487 when a CANCEL got no answer (§9.1).
   * `authFailure` tells why a 401/407 was not answered again.
   */
  | {
      readonly type: 'final';
      readonly outgoing: OutgoingRequest;
      readonly response: SipResponse;
      readonly dialog: Dialog | undefined;
      readonly local: boolean;
      readonly authFailure: DigestFailReason | undefined;
    }
  /** The core answered a request itself: a §8.2 refusal, OPTIONS, a 481, a BYE, a PRACK … */
  | {
      readonly type: 'auto-response';
      readonly request: SipRequest;
      readonly status: number;
      readonly reason: string;
    }
  /**
   * Bytes that did not parse. A request whose routing headers could be read was answered with the parser's
   * `statusHint` (`answered`); anything else was dropped.
   */
  | {
      readonly type: 'malformed';
      readonly reason: string;
      readonly statusHint: number;
      readonly answered: boolean;
      readonly flow: FlowInfo | undefined;
    }
  /** A message the core ignored (a response matching nothing, an ACK for no dialog …), for logs. */
  | { readonly type: 'dropped'; readonly reason: string; readonly message: SipMessage }
  /** A dialog was created or changed state (Early, Confirmed, Terminated). */
  | { readonly type: 'dialog'; readonly dialog: Dialog; readonly state: DialogState; readonly reason: string }
  /** The registration changed state, or was refreshed. */
  | { readonly type: 'registration'; readonly registration: RegistrationSnapshot }
  /** RFC 5626 §4.4.1: a pong came back, or none came in time (the driver should drop the flow). */
  | { readonly type: 'keepalive'; readonly result: 'pong' | 'timeout' };

export type UserAgentEventType = UserAgentEvent['type'];

/** Bytes ready for the driver, with the flow they must leave by (undefined: the driver routes). */
export interface UserAgentTransmission {
  readonly data: Uint8Array;
  readonly flow: FlowInfo | undefined;
  /** the message the bytes encode (undefined for a keep-alive) */
  readonly message: SipMessage | undefined;
}
