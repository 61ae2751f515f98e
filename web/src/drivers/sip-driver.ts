/**
 * SipDriver: runs a sans-IO SIP core over a transport, with one timer, and tells the app what happens.
 *
 *            app ── run((core, now) => core.command(…)) ──┐            ┌──► events: 'event' (the core's events),
 *                                                         ▼            │    'state' (connection), 'error'
 *   transport ── receive / flowUp / flowDown ──► core ──► Scheduler.flush() ──► transport.send(bytes, flow)
 *                                                 ▲            │
 *                                                 └─ handleTimers ◄── one timer at core.nextDeadline()
 *
 * How it works. Everything that reaches the core goes through the scheduler, which gives it `now` and flushes
 * afterwards: frames and flow changes from the transport (through the TransportSink below) and the app's
 * commands (through `run`). The core's events go to the app through a safe emitter, after the input that caused
 * them is fully processed; a listener that throws is reported to the logger and the remaining listeners still
 * run, and a listener that calls `run` again is queued behind the current flush, never nested inside it. An
 * exception out of the core while handling a frame or a timer is reported as an 'error' event, never thrown
 * into a socket or timer callback; an exception out of an app command is the app's, and is rethrown to it
 * (after the flush).
 *
 * Keep-alive (RFC 5626 §4.4.1) is the transport's: after every flush the driver reads the core's
 * `keepAliveInterval` (a registrar's Flow-Timer) and, when it changed, passes it to the transport's
 * `setKeepAliveInterval`; when the core stops asking (unregistered, no Flow-Timer), the transport's own interval
 * from construction time comes back. The core sends no keep-alives of its own on such a flow.
 */
import { InvalidStateError } from '../sip/index.ts';
import type { Clock } from './clock.ts';
import { Emitter, type ReadonlyEmitter } from './emitter.ts';
import { describeError, silentLogger, type Logger } from './logger.ts';
import type { CoreEvent, SansIoCore } from './sans-io-core.ts';
import { Scheduler } from './scheduler.ts';
import type { ConnectionState, SipTransport, TransportSink } from './transport.ts';

export interface SipDriverEvents<Event> {
  /** one event from the core */
  event: [event: Event];
  /** the connection's state changed (forwarded from the transport) */
  state: [state: ConnectionState];
  /** a transport failure (SipTransportError, with a `code`), or an exception out of the core */
  error: [error: Error];
}

export interface SipDriverOptions<C extends SansIoCore> {
  readonly core: C;
  readonly transport: SipTransport;
  readonly clock: Clock;
  readonly logger?: Logger | undefined;
  /** told when an app listener throws (default: the logger's `error`; without a logger, rethrown from a microtask) */
  readonly onListenerError?: ((error: unknown, event: string) => void) | undefined;
}

export class SipDriver<C extends SansIoCore = SansIoCore> {
  readonly #transport: SipTransport;
  readonly #core: C;
  readonly #scheduler: Scheduler<C>;
  /** the transport's keep-alive interval when the core asks for none; the one last given to the transport */
  readonly #defaultKeepAlive: number | undefined;
  #appliedKeepAlive: number | undefined;
  readonly #emitter: Emitter<SipDriverEvents<CoreEvent<C>>>;
  readonly #log: Logger;
  #started = false;
  #unsubscribe: (() => void)[] = [];

  readonly #sink: TransportSink = {
    receive: (data, flow) => {
      this.#input((core, now) => {
        core.receive(data, now, flow);
      });
    },
    flowUp: (flow) => {
      this.#input((core, now) => {
        core.flowUp(now, flow);
      });
    },
    flowDown: () => {
      this.#input((core, now) => {
        core.flowDown(now);
      });
    },
  };

  constructor(options: SipDriverOptions<C>) {
    this.#transport = options.transport;
    this.#core = options.core;
    this.#defaultKeepAlive = options.transport.keepAliveInterval;
    this.#appliedKeepAlive = this.#defaultKeepAlive;
    this.#log = options.logger ?? silentLogger;
    const log = options.logger;
    this.#emitter = new Emitter({
      // Without a reporter or a logger, the Emitter's default rethrows from a microtask: never silent.
      onListenerError:
        options.onListenerError ??
        (log &&
          ((error, event) => {
            log.error(`sip-driver: a '${event}' listener threw: ${describeError(error)}`);
          })),
    });
    this.#scheduler = new Scheduler({
      core: options.core,
      clock: options.clock,
      transmit: (transmission) => {
        this.#transport.send(transmission.data, transmission.flow);
      },
      onEvent: (event) => {
        this.#emitter.emit('event', event);
      },
      onError: (error) => {
        this.#report(error);
      },
      onFlushed: () => {
        this.#syncKeepAlive();
      },
    });
  }

  get events(): ReadonlyEmitter<SipDriverEvents<CoreEvent<C>>> {
    return this.#emitter;
  }

  get state(): ConnectionState {
    return this.#transport.state;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Connects, arms the core's timer, and keeps the flow up (reconnecting) until `stop()`. */
  start(): void {
    if (this.#started) throw new InvalidStateError('the SIP driver is already started');
    this.#started = true;
    const events = this.#transport.events;
    this.#unsubscribe = [
      events.on('state', (state) => {
        this.#emitter.emit('state', state);
      }),
      events.on('error', (error) => {
        this.#emitter.emit('error', error);
      }),
    ];
    this.#scheduler.start();
    try {
      this.#transport.start(this.#sink);
    } catch (error) {
      // Undo our half of start(); the transport's state is not ours to change.
      this.#started = false;
      this.#scheduler.stop();
      for (const unsubscribe of this.#unsubscribe) unsubscribe();
      this.#unsubscribe = [];
      throw error;
    }
  }

  /**
   * Closes the connection (the core hears flowDown) and the timer. Unregister first, if that is wanted: this
   * only stops the I/O. Idempotent.
   */
  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#transport.stop();
    this.#scheduler.stop();
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
  }

  /**
   * The send path: runs an app command against the core with the current time, then flushes (the bytes go out,
   * the events are emitted, the timer re-armed). Returns the command's result; rethrows its exception.
   */
  run<T>(command: (core: C, now: number) => T): T {
    return this.#scheduler.run(command);
  }

  #input(command: (core: C, now: number) => void): void {
    try {
      this.#scheduler.run(command);
    } catch (error) {
      this.#report(error);
    }
  }

  /** Hands the core's wanted keep-alive interval (or the transport's own, when it wants none) to the transport. */
  #syncKeepAlive(): void {
    if (this.#transport.setKeepAliveInterval === undefined) return;
    const wanted = this.#core.keepAliveInterval ?? this.#defaultKeepAlive;
    if (wanted === undefined || wanted === this.#appliedKeepAlive) return;
    this.#appliedKeepAlive = wanted;
    this.#transport.setKeepAliveInterval(wanted);
  }

  #report(error: unknown): void {
    const wrapped = error instanceof Error ? error : new Error(describeError(error));
    this.#log.error(`sip-driver: ${describeError(error)}`);
    this.#emitter.emit('error', wrapped);
  }
}
