/**
 * SIP over WebSocket (RFC 7118), the connection hygiene around it, and nothing of SIP routing:
 *
 *  - subprotocol `sip` (the HTTP server only hands us upgrades that offer it; `handleProtocols` picks it);
 *  - a per-IP connection limit (HTTP 503 at the upgrade);
 *  - a message cap (`maxPayload`: a bigger frame closes the connection with 1009);
 *  - CRLF keep-alive: a `\r\n\r\n` frame is answered with `\r\n` (RFC 5626 §3.5.1 as RFC 7118 §6 uses it);
 *  - WebSocket ping every `pingIntervalMs`; a peer that did not answer the previous ping is terminated;
 *  - a token-bucket message rate per connection: a request over the limit gets 503 with Retry-After, and a peer
 *    that keeps exceeding it is closed with 1008;
 *  - bounded send buffers: a peer that does not read (bufferedAmount over `maxBufferedBytes`) is closed with 1013
 *    and terminated shortly after, never buffered without bound;
 *  - a frame that does not parse: a 400 (or the parser's statusHint) when the request can be answered, else it is
 *    dropped and counted; frames that are not SIP at all close the connection with 1007 after `maxGarbage`.
 * Parsed messages go to `onMessage`; SIP is sent as text frames when it is valid UTF-8 (JsSIP decodes binary
 * frames as UTF-8 anyway), as binary frames otherwise.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';

import type { Logger } from 'pino';
import type { RawData, WebSocket, WebSocketServer } from 'ws';

import {
  ParseError,
  createResponse,
  parseMessage,
  serializeMessage,
  type SipMessage,
} from '../../web/src/sip/server.ts';
import { answerUnparseable, looksLikeSip } from '../edge/bad-message.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { UpgradeService } from './http-server.ts';
import { PerIpLimit, pingSweep, subprotocolServer, toBuffer, upgradeWithinLimit } from './ws-common.ts';
import { MessageRateLimiter } from './rate-limiter.ts';

export interface WsLimits {
  /** Largest message (frame payload) accepted; default 64 KiB. */
  readonly maxMessageBytes: number;
  readonly maxConnectionsPerIp: number;
  /** Messages per second per connection (sustained) and the burst allowed above it. */
  readonly messageRate: number;
  readonly messageBurst: number;
  /** Most bytes queued toward one peer before it is closed as a slow consumer. */
  readonly maxBufferedBytes: number;
  /** WebSocket ping period; 0 turns pings off. */
  readonly pingIntervalMs: number;
  /** Non-SIP frames tolerated before closing with 1007. */
  readonly maxGarbage: number;
}

export const DEFAULT_WS_LIMITS: WsLimits = Object.freeze({
  maxMessageBytes: 65_536,
  maxConnectionsPerIp: 50,
  messageRate: 50,
  messageBurst: 100,
  maxBufferedBytes: 1 << 20,
  pingIntervalMs: 30_000,
  maxGarbage: 3,
});

/** RFC 6455 §7.4.1 close codes the service uses. */
export const CLOSE = Object.freeze({
  goingAway: 1001,
  protocolError: 1002,
  invalidPayload: 1007,
  policy: 1008,
  tooBig: 1009,
  tryAgainLater: 1013,
});

export interface WsSipConnection {
  readonly id: number;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly secure: boolean;
  /** Queues bytes toward the peer; false when the connection is gone or was closed as a slow consumer. */
  send(data: Uint8Array): boolean;
  close(code: number, reason: string): void;
}

export interface WsSipServiceOptions {
  readonly limits: WsLimits;
  readonly secure: boolean;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly onOpen: (connection: WsSipConnection) => void;
  /**
   * A frame that passed the keep-alive and rate checks, before it is parsed: true when it was taken as it is (the
   * edge proxy's express lane), false to parse it and call onMessage. Only valid UTF-8 is offered.
   */
  readonly express?: ((connection: WsSipConnection, data: Buffer) => boolean) | undefined;
  /** A parsed message and its size in bytes. */
  readonly onMessage: (connection: WsSipConnection, message: SipMessage, size: number) => void;
  readonly onClose: (connection: WsSipConnection) => void;
  /** ms, monotonic; default performance.now */
  readonly clock?: (() => number) | undefined;
}

const KEEPALIVE_PING = '\r\n\r\n';

/** What every connection of one service shares (one object, not one copy per connection). */
interface ConnectionShared {
  readonly limits: WsLimits;
  readonly onSlow: (connection: Connection) => void;
}

/** The Connection a WebSocket belongs to, set at adoption: the event listeners are shared by all connections. */
const CONNECTION = Symbol('connection');
type AdoptedWebSocket = WebSocket & { [CONNECTION]?: Connection };

class Connection implements WsSipConnection {
  alive = true;
  garbage = 0;
  closing = false;
  #limiter: MessageRateLimiter | undefined;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly remoteHost: string,
    readonly remotePort: number,
    readonly secure: boolean,
    private readonly shared: ConnectionShared,
    /** gives back the connection's place in the per-IP count */
    readonly release: () => void,
  ) {}

  /**
   * The message rate limiter, made at the first frame: a bucket made full when the connection opened would still
   * be full then, so nothing changes, and an idle connection does not carry one.
   */
  limiter(now: number): MessageRateLimiter {
    return (this.#limiter ??= new MessageRateLimiter(
      this.shared.limits.messageRate,
      this.shared.limits.messageBurst,
      now,
    ));
  }

  send(data: Uint8Array): boolean {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) return false;
    if (this.ws.bufferedAmount + data.length > this.shared.limits.maxBufferedBytes) {
      this.shared.onSlow(this);
      return false;
    }
    this.ws.send(data, { binary: !isUtf8(data) });
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(code, reason);
    // A peer that does not complete the closing handshake is cut off.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }
}

export class WsSipService implements UpgradeService {
  readonly protocol = 'sip';
  readonly #o: WsSipServiceOptions;
  readonly #wss: WebSocketServer;
  readonly #connections = new Map<number, Connection>();
  readonly #perIp: PerIpLimit;
  readonly #clock: () => number;
  readonly #pinger: NodeJS.Timeout | undefined;
  #nextId = 1;
  readonly #shared: ConnectionShared;
  /** the listeners of every adopted WebSocket (`this` is the WebSocket; its Connection is at CONNECTION) */
  readonly #listeners: {
    readonly pong: (this: AdoptedWebSocket) => void;
    readonly message: (this: AdoptedWebSocket, data: RawData, isBinary: boolean) => void;
    readonly error: (this: AdoptedWebSocket, error: Error) => void;
    readonly close: (this: AdoptedWebSocket, code: number) => void;
  };

  constructor(options: WsSipServiceOptions) {
    this.#perIp = new PerIpLimit(options.limits.maxConnectionsPerIp);
    this.#o = options;
    this.#shared = {
      limits: options.limits,
      onSlow: (slow) => {
        options.metrics.drops.inc({ reason: 'slow-consumer' });
        options.log.warn({ connection: slow.id, remote: slow.remoteHost }, 'closing a slow consumer');
        slow.close(CLOSE.tryAgainLater, 'send buffer full');
      },
    };
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the listeners' own `this` is the WebSocket
    const service = this;
    this.#listeners = {
      pong(this: AdoptedWebSocket) {
        const connection = this[CONNECTION];
        if (connection !== undefined) connection.alive = true;
      },
      message(this: AdoptedWebSocket, data: RawData, isBinary: boolean) {
        const connection = this[CONNECTION];
        if (connection !== undefined) service.#onFrame(connection, toBuffer(data), isBinary);
      },
      error(this: AdoptedWebSocket, error: Error) {
        options.log.info({ connection: this[CONNECTION]?.id, err: error.message }, 'websocket error');
      },
      close(this: AdoptedWebSocket, code: number) {
        const connection = this[CONNECTION];
        if (connection !== undefined) service.#closed(connection, code);
      },
    };
    this.#clock = options.clock ?? (() => performance.now());
    // The HTTP server checked that `sip` is offered; choose it (RFC 7118 §4).
    this.#wss = subprotocolServer('sip', options.limits.maxMessageBytes);
    if (options.limits.pingIntervalMs > 0) {
      this.#pinger = setInterval(() => this.#ping(), options.limits.pingIntervalMs);
      this.#pinger.unref();
    }
  }

  get size(): number {
    return this.#connections.size;
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    upgradeWithinLimit(
      this.#wss,
      this.#perIp,
      { request, socket, head },
      (host, open) => {
        this.#o.metrics.rejectedUpgrades.inc({ reason: 'per-ip-limit' });
        this.#o.log.info({ remote: host, open }, 'upgrade refused: per-IP connection limit');
      },
      (ws, host, port, release) => {
        if (ws.protocol !== 'sip') {
          ws.once('close', release);
          ws.close(CLOSE.protocolError, 'subprotocol sip required');
          return;
        }
        this.#adopt(ws, host, port, release);
      },
    );
  }

  /** Closes every connection with `code` (1001 Going Away at shutdown). */
  closeAll(code: number = CLOSE.goingAway, reason = 'Going Away'): void {
    for (const connection of this.#connections.values()) connection.close(code, reason);
  }

  /** Waits until every connection has closed, or `timeoutMs`; then terminates those left. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const connection of this.#connections.values()) connection.ws.terminate();
  }

  stop(): void {
    if (this.#pinger !== undefined) clearInterval(this.#pinger);
    this.#wss.close();
  }

  /**
   * A new WebSocket becomes a Connection. What an idle connection holds is kept small (10,000s of them): the
   * listeners are shared, the rate limiter waits for the first frame.
   */
  #adopt(ws: AdoptedWebSocket, host: string, port: number, release: () => void): void {
    const id = this.#nextId++;
    const connection = new Connection(id, ws, host, port, this.#o.secure, this.#shared, release);
    ws[CONNECTION] = connection;
    this.#connections.set(id, connection);
    this.#o.metrics.connections.inc();
    this.#o.log.info({ connection: id, remote: host, port }, 'websocket open');
    const listeners = this.#listeners;
    ws.on('pong', listeners.pong);
    ws.on('message', listeners.message);
    ws.on('error', listeners.error);
    ws.on('close', listeners.close);
    this.#o.onOpen(connection);
  }

  #closed(connection: Connection, code: number): void {
    connection.release();
    this.#connections.delete(connection.id);
    this.#o.metrics.connections.dec();
    this.#o.metrics.closes.inc({ code: String(code) });
    this.#o.log.info({ connection: connection.id, code }, 'websocket closed');
    this.#o.onClose(connection);
  }

  #onFrame(connection: Connection, data: Buffer, isBinary: boolean): void {
    if (connection.closing) return;
    connection.alive = true;
    // RFC 5626 §3.5.1 keep-alive: answer the ping, ignore a stray pong. Not rate limited.
    if (!isBinary && data.length <= 4) {
      const text = data.toString('latin1');
      if (text === KEEPALIVE_PING) {
        connection.send(Buffer.from('\r\n'));
        return;
      }
      if (text === '\r\n') return;
    }
    const now = this.#clock();
    const verdict = connection.limiter(now).check(now);
    if (verdict === 'close') {
      this.#o.metrics.drops.inc({ reason: 'rate-limit-close' });
      this.#o.log.warn(
        { connection: connection.id, remote: connection.remoteHost },
        'closing: message rate limit',
      );
      connection.close(CLOSE.policy, 'message rate limit');
      return;
    }
    const express = this.#o.express;
    if (
      verdict === 'ok' &&
      express !== undefined &&
      (!isBinary || isUtf8(data)) &&
      express(connection, data)
    ) {
      connection.garbage = 0;
      return;
    }
    let message: SipMessage;
    try {
      message = parseMessage(data, { lazy: true });
    } catch (error) {
      this.#unparseable(connection, data, error);
      return;
    }
    if (verdict === 'limited') {
      this.#o.metrics.drops.inc({ reason: 'rate-limit' });
      if (message.kind === 'request' && message.method !== 'ACK') {
        const retryAfter = String(connection.limiter(now).retryAfter(now));
        try {
          const busy = createResponse(message, 503, {
            toTag: `gw${connection.id}`,
            headers: { 'Retry-After': retryAfter },
          });
          connection.send(serializeMessage(busy));
        } catch {
          // Headers we cannot echo: the request is dropped.
        }
      }
      return;
    }
    connection.garbage = 0;
    this.#o.onMessage(connection, message, data.length);
  }

  #unparseable(connection: Connection, data: Buffer, error: unknown): void {
    const status = error instanceof ParseError ? error.statusHint : 400;
    if (!looksLikeSip(data)) {
      connection.garbage += 1;
      this.#o.metrics.drops.inc({ reason: 'garbage' });
      if (connection.garbage >= this.#o.limits.maxGarbage) {
        this.#o.log.info({ connection: connection.id, remote: connection.remoteHost }, 'closing: not SIP');
        connection.close(CLOSE.invalidPayload, 'not SIP');
      }
      return;
    }
    const answer = answerUnparseable(data, status);
    this.#o.metrics.drops.inc({ reason: 'unparseable' });
    this.#o.log.info(
      {
        connection: connection.id,
        error: error instanceof Error ? error.message : String(error),
        answered: answer !== undefined,
      },
      'unparseable SIP message',
    );
    if (answer !== undefined) connection.send(answer);
  }

  #ping(): void {
    pingSweep(this.#connections.values(), (connection) => {
      this.#o.metrics.drops.inc({ reason: 'dead-peer' });
      this.#o.log.info({ connection: connection.id }, 'terminating: no pong');
    });
  }
}
