/**
 * The two handles the application holds: an OutgoingRequest for each request it sends (whose responses arrive
 * as `progress` and `final` events naming it) and an IncomingRequest for each request the core passed up (which
 * the application answers with `progress`, `accept` or `reject`).
 *
 * A handle is a read-only view plus commands: the protocol state behind it (the request as last sent, the
 * transaction, the dialogs) is owned by the user agent and changed only by it, so nothing an application does
 * with a handle can corrupt it. Commands take an optional `now`; without it the user agent uses the time of
 * its latest input, which is the right time for an answer given while handling that input's events.
 */
import type { DigestFailReason } from '../auth/index.ts';
import type { Dialog, DialogSet } from '../dialog/index.ts';
import type { SipBody, SipRequest, SipResponse } from '../message/index.ts';
import type { FlowInfo } from '../transaction/index.ts';

export type OutgoingRequestState = 'Trying' | 'Proceeding' | 'Completed';

/** Who consumes the responses of an outgoing request: the application (events) or the core itself. */
export type RequestOwner = 'app' | 'core';

/** @internal The mutable state behind an OutgoingRequest; only the user agent holds it. */
export interface OutgoingState {
  readonly id: string;
  readonly method: string;
  readonly owner: RequestOwner;
  request: SipRequest;
  transactionId: string | undefined;
  state: OutgoingRequestState;
  response: SipResponse | undefined;
  /** INVITE outside a dialog: the dialogs its responses create (a new set for each digest retry) */
  dialogSet: DialogSet | undefined;
  /** the dialog the request was sent in, or the one its 2xx created */
  dialog: Dialog | undefined;
  /** digest rounds answered so far */
  authRounds: number;
  authFailure: DigestFailReason | undefined;
  /** what the caller asked for, kept to rebuild the request after a challenge */
  readonly extraHeaders: Readonly<Record<string, string | readonly string[]>>;
  readonly body: SipBody | undefined;
  /** the core's callback for requests it owns (REGISTER, PRACK, BYE of a redundant fork …) */
  readonly onFinal: ((response: SipResponse, local: boolean, now: number) => void) | undefined;
  cancelRequested: boolean;
}

export class OutgoingRequest {
  readonly #state: OutgoingState;
  readonly #cancel: (state: OutgoingState, now: number | undefined) => void;

  /** @internal made by UserAgent.request() */
  constructor(state: OutgoingState, cancel: (state: OutgoingState, now: number | undefined) => void) {
    this.#state = state;
    this.#cancel = cancel;
  }

  /** Stable for the life of the request, across digest retries (which change the transaction). */
  get id(): string {
    return this.#state.id;
  }
  get method(): string {
    return this.#state.method;
  }
  /** The request as last sent (a digest retry sends a new one). */
  get request(): SipRequest {
    return this.#state.request;
  }
  get state(): OutgoingRequestState {
    return this.#state.state;
  }
  /** The final response, once there is one. */
  get response(): SipResponse | undefined {
    return this.#state.response;
  }
  get dialog(): Dialog | undefined {
    return this.#state.dialog;
  }
  /** For an INVITE outside a dialog: every dialog its responses made (forks). */
  get dialogSet(): DialogSet | undefined {
    return this.#state.dialogSet;
  }
  get authFailure(): DigestFailReason | undefined {
    return this.#state.authFailure;
  }

  /**
   * Cancel an INVITE (RFC 3261 §9.1): the CANCEL leaves once a provisional response has arrived; the INVITE
   * then ends with 487 (a `final` event). Throws InvalidStateError for another method or after the final
   * response; asking twice is harmless.
   */
  cancel(now?: number): void {
    this.#cancel(this.#state, now);
  }
}

export type IncomingRequestState = 'Pending' | 'Proceeding' | 'Answered' | 'Cancelled';

/** @internal The mutable state behind an IncomingRequest. */
export interface IncomingState {
  readonly transactionId: string;
  readonly request: SipRequest;
  readonly flow: FlowInfo | undefined;
  /** our To tag for every response of this transaction (the request's own when it had one) */
  toTag: string;
  state: IncomingRequestState;
  /** the dialog the request came in, or the one our answer created */
  dialog: Dialog | undefined;
  /** RFC 3262: a reliable provisional response waiting for its PRACK */
  reliablePending: { rseq: number; response: SipResponse } | undefined;
}

export interface ResponseOptions {
  readonly reason?: string;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: SipBody | string;
  readonly contentType?: string;
}

export interface ProgressOptions extends ResponseOptions {
  /**
   * RFC 3262: send this provisional response reliably (Require: 100rel, RSeq) and retransmit it until its PRACK.
   * Forced when the request requires 100rel; allowed when it says it supports it.
   */
  readonly reliable?: boolean;
}

export interface AcceptOptions extends ResponseOptions {
  /** a 2xx status; 200 by default */
  readonly status?: number;
}

export interface Responder {
  respond(state: IncomingState, status: number, options: ProgressOptions, now: number | undefined): void;
}

export class IncomingRequest {
  readonly #state: IncomingState;
  readonly #responder: Responder;

  /** @internal made by the user agent for each request it passes up */
  constructor(state: IncomingState, responder: Responder) {
    this.#state = state;
    this.#responder = responder;
  }

  /** The server transaction's id. */
  get id(): string {
    return this.#state.transactionId;
  }
  get request(): SipRequest {
    return this.#state.request;
  }
  get method(): string {
    return this.#state.request.method;
  }
  get flow(): FlowInfo | undefined {
    return this.#state.flow;
  }
  get state(): IncomingRequestState {
    return this.#state.state;
  }
  /** The To tag our responses carry. */
  get toTag(): string {
    return this.#state.toTag;
  }
  /** The dialog the request belongs to (in-dialog requests) or that our answer created. */
  get dialog(): Dialog | undefined {
    return this.#state.dialog;
  }

  /** A provisional response (101–199; INVITE makes an early dialog with it). */
  progress(status = 180, options: ProgressOptions = {}, now?: number): void {
    if (!Number.isInteger(status) || status < 101 || status > 199)
      throw new TypeError(`progress() takes 101–199, not ${String(status)}`);
    this.#responder.respond(this.#state, status, options, now);
  }

  /** A 2xx (200 unless `options.status`); for INVITE, SUBSCRIBE and REFER it makes the dialog. */
  accept(options: AcceptOptions = {}, now?: number): void {
    const status = options.status ?? 200;
    if (!Number.isInteger(status) || status < 200 || status > 299)
      throw new TypeError(`accept() takes a 2xx, not ${String(status)}`);
    this.#responder.respond(this.#state, status, options, now);
  }

  /** A final failure response (300–699). */
  reject(
    status: number,
    reason?: string,
    headers?: Readonly<Record<string, string | readonly string[]>>,
    now?: number,
  ): void {
    if (!Number.isInteger(status) || status < 300 || status > 699)
      throw new TypeError(`reject() takes 300–699, not ${String(status)}`);
    this.#responder.respond(this.#state, status, { reason, headers }, now);
  }
}
