/**
 * What the SIP driver asks of a transport, and what a transport tells the app. WebSocketTransport implements
 * it; a test can put a fake behind the same interface.
 *
 *   offline ──start()──► connecting ──open (subprotocol sip)──► online
 *      ▲                  │    ▲                                 │ closed, error, no pong, stop()
 *      │  stop()          │    └──── timer at `at` ◄──────┐      │
 *      └──────────────────┴──────────────────────── reconnecting ◄┘
 *
 * Protocol-relevant news (a frame, the flow going up or down) goes to the TransportSink, which feeds the core.
 * App-relevant news (the state, errors) goes through a safe emitter whose listeners cannot disturb the former.
 */
import { TransportError, type FlowInfo } from '../sip/index.ts';
import type { ReadonlyEmitter } from './emitter.ts';

/** Where a transport delivers what concerns the protocol core. The SIP driver implements it. */
export interface TransportSink {
  /** One SIP message (one frame). Keep-alives never come here. */
  receive(data: Uint8Array | string, flow: FlowInfo): void;
  flowUp(flow: FlowInfo): void;
  flowDown(): void;
}

export type ConnectionState =
  /** Opening a connection. `attempt` counts the consecutive failures before it (0 on a fresh start). */
  | { readonly status: 'connecting'; readonly url: string; readonly attempt: number }
  /** The flow is up since `since`; SIP flows over it. */
  | { readonly status: 'online'; readonly flow: FlowInfo; readonly since: number }
  /**
   * Waiting to try again: the next attempt is at `at` (on the transport's clock), for a countdown in the UI.
   * `attempt` counts consecutive failures so far, `reason` says what ended the last connection.
   */
  | { readonly status: 'reconnecting'; readonly attempt: number; readonly at: number; readonly reason: string }
  /** Stopped by the user (or never started). */
  | { readonly status: 'offline' };

export type ConnectionStatus = ConnectionState['status'];

export type TransportErrorCode =
  /** the server did not select the `sip` subprotocol (RFC 7118 §4.1) */
  | 'subprotocol'
  /** the connection did not open within `connectTimeout` */
  | 'connect-timeout'
  /** the WebSocket could not even be created (bad URL, blocked by the page's CSP …) */
  | 'connect-failed'
  /** the WebSocket reported an error (the browser says nothing more; `ws` gives a message) */
  | 'socket-error'
  /** no CRLF pong within `pongTimeout` of a ping: the flow failed (RFC 5626 §4.4.1) */
  | 'keepalive-timeout'
  /** the WebSocket refused a frame */
  | 'send-failed'
  /** the outgoing queue was full while connecting: the oldest message was dropped */
  | 'queue-overflow'
  /** a queued message waited longer than `maxQueueAge` and was dropped (its transaction has timed out) */
  | 'queue-expired'
  /** a message pinned to a flow that is gone (a response on a dead connection) was dropped */
  | 'stale-flow'
  /** a message was sent while the transport is stopped */
  | 'offline';

/** A transport failure, for the app: what happened (`code`) and in words (`message`). */
export class SipTransportError extends TransportError {
  override name = 'SipTransportError';
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface TransportEvents {
  state: [state: ConnectionState];
  error: [error: SipTransportError];
}

export interface SipTransport {
  readonly state: ConnectionState;
  readonly events: ReadonlyEmitter<TransportEvents>;
  /** Starts connecting, and keeps a connection up until `stop()`. Throws InvalidStateError unless offline. */
  start(sink: TransportSink): void;
  /** Closes the connection, cancels any reconnection, reports flowDown if the flow was up. Idempotent. */
  stop(): void;
  /** Sends one SIP message; `flow`, when it names a flowId, pins it to that connection. Never throws. */
  send(data: Uint8Array, flow?: FlowInfo): void;
  /** ms between the transport's own CRLF keep-alive pings (0: off), for a transport that sends them. */
  readonly keepAliveInterval?: number;
  /** Changes that interval (the SIP driver passes the core's Flow-Timer); takes effect at once. */
  setKeepAliveInterval?(ms: number): void;
}
