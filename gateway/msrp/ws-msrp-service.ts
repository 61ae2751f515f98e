/**
 * MSRP over WebSocket (RFC 7977) on the gateway's one HTTP port, with the same hygiene as the SIP service:
 *
 *  - subprotocol `msrp` (the HTTP server checked the Origin allow-list and hands us upgrades offering it);
 *  - a per-IP connection limit (HTTP 503 at the upgrade);
 *  - a message cap (`maxPayload`): a bigger message closes the connection with 1009;
 *  - messages that are not MSRP close it with 1007 (after a few: MsrpRelay counts them);
 *  - WebSocket ping every `pingIntervalMs`; a peer that did not answer the previous ping is terminated;
 *  - bounded send buffers: the relay pauses the links feeding a full one, and a peer that still lets more than
 *    `maxBufferedBytes` pile up is closed with 1013.
 * Each connection is a RelayLink: one WebSocket message per MSRP frame both ways (RFC 7977 §5), sent as binary
 * messages; a frame with a large body goes out as one fragmented message (head, body, end-line) so the body is
 * never copied.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import type { Logger } from 'pino';
import type { RawData, WebSocket, WebSocketServer } from 'ws';

import type { GatewayMetrics } from '../metrics.ts';
import type { UpgradeService } from '../net/http-server.ts';
import { PerIpLimit, pingSweep, subprotocolServer, toBuffer, upgradeWithinLimit } from '../net/ws-common.ts';
import type { RelayCloseCause, RelayLink } from './msrp-relay.ts';

export interface WsMsrpLimits {
  /** largest WebSocket message taken (a chunk's head and body); bigger closes with 1009 */
  readonly maxMessageBytes: number;
  readonly maxConnectionsPerIp: number;
  /** bytes queued toward one peer before it is closed as a slow consumer */
  readonly maxBufferedBytes: number;
  /** 0 turns pings off */
  readonly pingIntervalMs: number;
}

/** What the service tells the relay. */
export interface WsMsrpHandlers {
  open(link: RelayLink): void;
  message(link: RelayLink, data: Buffer): void;
  drained(link: RelayLink): void;
  closed(link: RelayLink): void;
}

export interface WsMsrpServiceOptions {
  readonly limits: WsMsrpLimits;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  /** bytes queued toward a peer above which the relay holds back what feeds it (its highWater) */
  readonly highWater: number;
  /** room left for the header section when a chunk body is sized to fit a message */
  readonly headRoom?: number;
  /** the relay's link ids and the TCP side's come from one counter */
  readonly nextId: () => number;
}

/** RFC 6455 §7.4.1 close codes. */
const CLOSE_CODES: Readonly<Record<RelayCloseCause, number>> = {
  garbage: 1007,
  framing: 1007,
  idle: 1000,
  slow: 1013,
  shutdown: 1001,
};

const CONNECTION = Symbol('msrp-link');
type AdoptedWebSocket = WebSocket & { [CONNECTION]?: WsLink };

/** Below this a frame's pieces are joined into one buffer; above, they go as fragments of one message. */
const JOIN_BELOW = 16384;

class WsLink implements RelayLink {
  readonly side = 'ws';
  readonly framing = 'message';
  alive = true;
  closing = false;
  /** bytes handed to ws and not yet written to the socket */
  #queued = 0;
  #wasFull = false;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly remoteHost: string,
    readonly remotePort: number,
    readonly maxBody: number,
    private readonly service: WsMsrpService,
    readonly release: () => void,
  ) {}

  get buffered(): number {
    return this.#queued;
  }

  write(parts: readonly Uint8Array[]): boolean {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return false;
    let total = 0;
    for (const p of parts) total += p.length;
    if (this.#queued + total > this.service.limits.maxBufferedBytes) {
      this.service.slow(this);
      return false;
    }
    this.#queued += total;
    const high = this.service.highWater;
    this.#wasFull ||= this.#queued > high;
    const done = (): void => {
      this.#queued -= total;
      if (this.#wasFull && this.#queued <= high / 2) {
        this.#wasFull = false;
        this.service.handlers.drained(this);
      }
    };
    if (total < JOIN_BELOW || parts.length === 1) {
      this.ws.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts), { binary: true }, done);
      return true;
    }
    // RFC 6455 §5.4: one message in fragments; the receiver sees one message (RFC 7977: one frame).
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      this.ws.send(parts[i]!, { binary: true, fin: last }, last ? done : undefined);
    }
    return true;
  }

  pause(): void {
    if (!this.closing) this.ws.pause();
  }

  resume(): void {
    if (!this.closing) this.ws.resume();
  }

  close(cause: RelayCloseCause, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(CLOSE_CODES[cause], reason.slice(0, 100));
    // A peer that does not complete the closing handshake is cut off.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }
}

export class WsMsrpService implements UpgradeService {
  readonly protocol = 'msrp';
  readonly limits: WsMsrpLimits;
  readonly highWater: number;
  handlers: WsMsrpHandlers = {
    open: () => undefined,
    message: () => undefined,
    drained: () => undefined,
    closed: () => undefined,
  };
  readonly #o: WsMsrpServiceOptions;
  readonly #wss: WebSocketServer;
  readonly #links = new Map<number, WsLink>();
  readonly #perIp: PerIpLimit;
  readonly #pinger: NodeJS.Timeout | undefined;
  readonly #listeners: {
    readonly pong: (this: AdoptedWebSocket) => void;
    readonly message: (this: AdoptedWebSocket, data: RawData) => void;
    readonly error: (this: AdoptedWebSocket, error: Error) => void;
    readonly close: (this: AdoptedWebSocket, code: number) => void;
  };

  constructor(options: WsMsrpServiceOptions) {
    this.#perIp = new PerIpLimit(options.limits.maxConnectionsPerIp);
    this.#o = options;
    this.limits = options.limits;
    this.highWater = options.highWater;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners' own `this` is the WebSocket
    const service = this;
    this.#listeners = {
      pong(this: AdoptedWebSocket) {
        const link = this[CONNECTION];
        if (link !== undefined) link.alive = true;
      },
      message(this: AdoptedWebSocket, data: RawData) {
        const link = this[CONNECTION];
        if (link === undefined || link.closing) return;
        link.alive = true;
        service.handlers.message(link, toBuffer(data));
      },
      error(this: AdoptedWebSocket, error: Error) {
        options.log.info({ link: this[CONNECTION]?.id, err: error.message }, 'msrp websocket error');
      },
      close(this: AdoptedWebSocket, code: number) {
        const link = this[CONNECTION];
        if (link !== undefined) service.#closed(link, code);
      },
    };
    // RFC 7977 §4: the HTTP server checked that `msrp` is offered; choose it.
    this.#wss = subprotocolServer('msrp', options.limits.maxMessageBytes);
    if (options.limits.pingIntervalMs > 0) {
      this.#pinger = setInterval(() => this.#ping(), options.limits.pingIntervalMs);
      this.#pinger.unref();
    }
  }

  get size(): number {
    return this.#links.size;
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    upgradeWithinLimit(
      this.#wss,
      this.#perIp,
      { request, socket, head },
      (host, open) => {
        this.#o.metrics.rejectedUpgrades.inc({ reason: 'per-ip-limit' });
        this.#o.log.info({ remote: host, open }, 'msrp upgrade refused: per-IP connection limit');
      },
      (adopted, host, port, release) => this.#adopt(adopted, host, port, release),
    );
  }

  #adopt(ws: AdoptedWebSocket, host: string, port: number, release: () => void): void {
    const maxBody = this.limits.maxMessageBytes - (this.#o.headRoom ?? 16384);
    const link = new WsLink(this.#o.nextId(), ws, host, port, Math.max(1024, maxBody), this, release);
    ws[CONNECTION] = link;
    this.#links.set(link.id, link);
    const listeners = this.#listeners;
    ws.on('pong', listeners.pong);
    ws.on('message', listeners.message);
    ws.on('error', listeners.error);
    ws.on('close', listeners.close);
    this.handlers.open(link);
  }

  /** A peer that lets its buffer overflow: closed with 1013 (RFC 6455 Try Again Later). */
  slow(link: WsLink): void {
    this.#o.metrics.msrpErrors.inc({ reason: 'slow-consumer' });
    this.#o.log.warn({ link: link.id, remote: link.remoteHost }, 'closing a slow MSRP consumer');
    link.close('slow', 'send buffer full');
  }

  closeAll(cause: RelayCloseCause = 'shutdown', reason = 'Going Away'): void {
    for (const link of this.#links.values()) link.close(cause, reason);
  }

  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#links.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const link of this.#links.values()) link.ws.terminate();
  }

  stop(): void {
    if (this.#pinger !== undefined) clearInterval(this.#pinger);
    this.#wss.close();
  }

  #closed(link: WsLink, code: number): void {
    if (!this.#links.delete(link.id)) return;
    link.closing = true;
    link.release();
    this.#o.metrics.closes.inc({ code: String(code) });
    this.handlers.closed(link);
  }

  #ping(): void {
    pingSweep(this.#links.values(), () => {
      this.#o.metrics.msrpErrors.inc({ reason: 'dead-peer' });
    });
  }
}
