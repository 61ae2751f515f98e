/**
 * What a driver needs of a sans-IO SIP core. The user-agent core in web/src/sip/ua/ follows this contract; the
 * drivers and their tests depend on this interface only, never on a concrete class.
 *
 *        receive(data, now, flow) · flowUp(now, flow) · flowDown(now) · handleTimers(now)
 *                       │                                   ▲
 *                       ▼                                   │ one timer at nextDeadline()
 *                 ┌───────────┐  takeTransmissions() ──► transport
 *                 │   core    │  takeEvents()        ──► app (through a safe emitter)
 *                 └───────────┘
 *
 * Every input carries `now` (milliseconds on the driver's clock). After every input the driver drains both
 * queues and re-arms its one timer (see Scheduler).
 */
import type { FlowInfo } from '../sip/index.ts';

/** Bytes the core wants sent; `flow` pins them to one connection (an RFC 5626 flow) when set. */
export interface CoreTransmission {
  readonly data: Uint8Array;
  readonly flow?: FlowInfo | undefined;
}

export interface SansIoCore<Event = unknown> {
  /** One whole SIP message (one WebSocket frame): bytes, or text when it came as a text frame. */
  receive(data: Uint8Array | string, now: number, flow?: FlowInfo): void;
  handleTimers(now: number): void;
  nextDeadline(): number | undefined;
  takeTransmissions(): readonly CoreTransmission[];
  takeEvents(): readonly Event[];
  /** A connection to the outbound proxy is open (RFC 5626: register, refresh subscriptions over it). */
  flowUp(now: number, flow: FlowInfo): void;
  /** That connection is gone: the core stops using it and waits for the next `flowUp`. */
  flowDown(now: number): void;
  /**
   * RFC 5626 §4.4.1: the keep-alive interval (ms) the core wants on the flow (a registrar's Flow-Timer), read
   * after every input; undefined for the transport's own default. Keep-alive over the driver's transport is the
   * transport's job; a core without an opinion leaves this out.
   */
  readonly keepAliveInterval?: number | undefined;
}

/** The event type of a core. */
export type CoreEvent<C extends SansIoCore> = ReturnType<C['takeEvents']>[number];
