/**
 * MsrpWebSockets: the MSRP half of session mode's I/O in a browser — one WebSocket (subprotocol `msrp`, RFC 7977)
 * to the gateway's relay per chat session, driven by the ChatSessions core's connection contract.
 *
 *   core event msrp-connect(connection) ──► new WebSocket(url, 'msrp') ──open──► core.msrpUp(connection)
 *   WebSocket message (one MSRP frame, text or binary) ─────────────────────────► core.msrpReceive(connection, …)
 *   WebSocket closed or failed ──────────────────────────────────────────────────► core.msrpDown(connection)
 *   flush(): core.takeMsrpTransmissions(connection, room) ──► ws.send(…)   (room: what the socket may still buffer)
 *   core event msrp-close(connection) ──► flush, then close the WebSocket
 *
 * How it works. Every input enters the core through `run` (the SIP driver's, so the core gets `now` and the SIP
 * side is flushed too). Outgoing MSRP is pulled: after each input, after every core event (`flush`), and, while
 * a socket is open, on a short poll, because a big message is cut into chunks only as the socket has room
 * (bufferedAmount under HIGH_WATER): a 5,000-character text is one chunk, a large file many.
 */
import type { Clock } from './clock.ts';
import { describeError, silentLogger, type Logger } from './logger.ts';
import type { WebSocketConstructor, WebSocketLike } from './websocket-transport.ts';

/** What MsrpWebSockets needs from the session-mode core (ChatSessions). */
export interface MsrpConnectionCore {
  msrpUp(connection: string, now: number): void;
  msrpDown(connection: string, now: number): void;
  msrpReceive(connection: string, data: Uint8Array | string, now: number): void;
  takeMsrpTransmissions(connection: string, budget?: number): Uint8Array[];
}

export interface MsrpWebSocketsOptions {
  /** the gateway's WebSocket URL (the relay shares it, with subprotocol `msrp`) */
  readonly url: string;
  readonly WebSocketImpl: WebSocketConstructor;
  readonly clock: Clock;
  /** runs an input against the core with the current time (SipDriver.run) */
  readonly run: (input: (core: MsrpConnectionCore, now: number) => void) => void;
  readonly logger?: Logger | undefined;
}

/** bytes a socket may hold unsent before we stop handing it more */
const HIGH_WATER = 1 << 20;
/** ms between flushes while a socket is open (chunks waiting for room) */
const POLL_MS = 20;
/** ms before a WebSocket that could not even be created is reported down */
const FAILED_OPEN_DELAY_MS = 1_000;

interface Link {
  readonly ws: WebSocketLike;
  open: boolean;
  closing: boolean;
}

export class MsrpWebSockets {
  readonly #o: MsrpWebSocketsOptions;
  readonly #log: Logger;
  readonly #links = new Map<string, Link>();
  #core: MsrpConnectionCore | undefined;
  #poll: unknown;
  #stopped = false;

  constructor(options: MsrpWebSocketsOptions) {
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
  }

  /** The core, once known (the SIP driver's core is built before this). */
  attach(core: MsrpConnectionCore): void {
    this.#core = core;
  }

  get open(): number {
    return [...this.#links.values()].filter((link) => link.open).length;
  }

  /** RFC 7977 §5: the session asked for a connection to the relay: a WebSocket with subprotocol `msrp`. */
  connect(connection: string): void {
    if (this.#stopped || this.#links.has(connection)) return;
    let ws: WebSocketLike;
    try {
      ws = new this.#o.WebSocketImpl(this.#o.url, 'msrp');
    } catch (error) {
      this.#log.warn(`msrp: cannot open ${this.#o.url}: ${describeError(error)}`);
      // Told later, not from inside the event that asked: the session may ask again at once.
      this.#o.clock.setTimer(() => {
        this.#input((core, now) => {
          core.msrpDown(connection, now);
        });
      }, FAILED_OPEN_DELAY_MS);
      return;
    }
    ws.binaryType = 'arraybuffer';
    const link: Link = { ws, open: false, closing: false };
    this.#links.set(connection, link);
    ws.onopen = () => {
      link.open = true;
      this.#input((core, now) => {
        core.msrpUp(connection, now);
      });
      this.#arm();
    };
    ws.onmessage = (event) => {
      const data = event.data;
      const bytes =
        typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined;
      if (bytes === undefined) return;
      this.#input((core, now) => {
        core.msrpReceive(connection, bytes, now);
      });
    };
    ws.onclose = () => {
      if (this.#links.get(connection) !== link) return;
      this.#links.delete(connection);
      this.#input((core, now) => {
        core.msrpDown(connection, now);
      });
    };
    ws.onerror = () => {
      this.#log.debug(`msrp: ${connection}: WebSocket error`);
    };
  }

  /** The session is done with the connection: write what is left, then close it. */
  close(connection: string): void {
    const link = this.#links.get(connection);
    if (!link) return;
    this.flush();
    link.closing = true;
    this.#links.delete(connection);
    link.ws.close(1000);
  }

  /** Hands every open socket what the core has for it, as far as the socket has room. */
  flush(): void {
    const core = this.#core;
    if (!core) return;
    for (const [connection, link] of this.#links) {
      if (!link.open) continue;
      for (let room = this.#room(link); room > 0; room = this.#room(link)) {
        const out = core.takeMsrpTransmissions(connection, room);
        if (out.length === 0) break;
        try {
          for (const data of out) link.ws.send(data);
        } catch (error) {
          this.#log.warn(`msrp: ${connection}: send failed: ${describeError(error)}`);
          break;
        }
      }
    }
  }

  /** Closes every socket (sign-out); the core is not told (it is being dropped). */
  stop(): void {
    this.#stopped = true;
    if (this.#poll !== undefined) this.#o.clock.clearTimer(this.#poll);
    this.#poll = undefined;
    for (const link of this.#links.values()) {
      link.closing = true;
      link.ws.onopen = link.ws.onmessage = link.ws.onclose = null;
      link.ws.close(1000);
    }
    this.#links.clear();
  }

  #room(link: WebSocketLike | Link): number {
    const ws = 'ws' in link ? link.ws : link;
    if (ws.readyState !== 1) return 0;
    const buffered = (ws as { readonly bufferedAmount?: number }).bufferedAmount ?? 0;
    return HIGH_WATER - buffered;
  }

  #input(work: (core: MsrpConnectionCore, now: number) => void): void {
    if (this.#stopped) return;
    try {
      this.#o.run(work);
    } catch (error) {
      this.#log.warn(`msrp: input failed: ${describeError(error)}`);
    }
    this.flush();
  }

  /** Polls while a socket is open: chunks cut as room frees up. */
  #arm(): void {
    if (this.#poll !== undefined || this.#stopped) return;
    this.#poll = this.#o.clock.setTimer(() => {
      this.#poll = undefined;
      this.flush();
      if (this.open > 0) this.#arm();
    }, POLL_MS);
  }
}
