/**
 * The browser's I/O drivers for the sans-IO SIP core: a scheduler (one timer at the core's next deadline), SIP
 * over WebSocket as an RFC 5626 flow, and the driver that glues a core to both.
 */
export { Emitter, type EmitterOptions, type EventMap, type Listener, type ReadonlyEmitter } from './emitter.ts';
export { systemClock, MAX_TIMER_DELAY, type Clock } from './clock.ts';
export { silentLogger, describeError, type Logger } from './logger.ts';
export type { CoreEvent, CoreTransmission, SansIoCore } from './sans-io-core.ts';
export { Scheduler, STUCK_DELAY, STUCK_LIMIT, type SchedulerOptions } from './scheduler.ts';
export {
  SipTransportError,
  type ConnectionState,
  type ConnectionStatus,
  type SipTransport,
  type TransportErrorCode,
  type TransportEvents,
  type TransportSink,
} from './transport.ts';
export { backoffCeiling, backoffDelay, DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY, type BackoffOptions } from './backoff.ts';
export {
  WebSocketTransport,
  SIP_SUBPROTOCOL,
  utf8Text,
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketTransportOptions,
} from './websocket-transport.ts';
export { SipDriver, type SipDriverEvents, type SipDriverOptions } from './sip-driver.ts';
