/**
 * SIP over TCP (RFC 3261 §18): a listener for peers that connect to us (the PBX sending toward a Path or
 * Record-Route that says transport=tcp) and a pool of connections we open (requests to the upstream). Each
 * connection frames its byte stream by Content-Length with the core's StreamFramer; keep-alive pings (CRLFCRLF,
 * RFC 5626 §3.5.1) are answered with a CRLF.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

import { StreamFramer, type ParseError, type SipMessage } from '../../web/src/sip/server.ts';

export interface TcpPeer {
  readonly connectionId: number;
  readonly host: string;
  readonly port: number;
}

export interface TcpHandlers {
  onMessage(message: SipMessage, peer: TcpPeer): void;
  /** A message that framed but did not parse; `reply` sends bytes back on its connection. */
  onInvalid(bytes: Uint8Array, error: ParseError, reply: (data: Uint8Array) => void): void;
  /** A stream that cannot be framed any more: the connection is closed. */
  onFramingError(error: ParseError, peer: TcpPeer): void;
  onClose(connectionId: number): void;
}

export interface TcpTransportOptions {
  /** Idle connections are closed after this long (ms). Default 15 min. */
  readonly idleTimeoutMs?: number | undefined;
  /** Largest message body accepted on a stream (default 64 KiB); a bigger one closes the connection. */
  readonly maxMessageBytes?: number | undefined;
}

class TcpConnection {
  readonly framer: StreamFramer;
  connected: boolean;
  /** callbacks of writes made before the connection was up: told if it never comes up */
  pendingErrors: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly host: string,
    readonly port: number,
    readonly outbound: boolean,
    maxBody: number,
  ) {
    this.connected = !outbound;
    this.framer = new StreamFramer({
      lazy: true,
      maxBodyBytes: maxBody,
      keepAliveRole: outbound ? 'client' : 'server',
    });
  }

  get peer(): TcpPeer {
    return { connectionId: this.id, host: this.host, port: this.port };
  }
}

const normalizeHost = (host: string | undefined): string =>
  (host ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

export class TcpTransport {
  readonly #server: Server;
  readonly #handlers: TcpHandlers;
  readonly #byId = new Map<number, TcpConnection>();
  readonly #pool = new Map<string, TcpConnection>();
  readonly #idleMs: number;
  readonly #maxBody: number;
  #nextId = 1;
  #closed = false;

  private constructor(
    server: Server,
    handlers: TcpHandlers,
    readonly host: string,
    readonly port: number,
    options: TcpTransportOptions,
  ) {
    this.#server = server;
    this.#handlers = handlers;
    this.#idleMs = options.idleTimeoutMs ?? 15 * 60_000;
    this.#maxBody = options.maxMessageBytes ?? 65_536;
  }

  static async listen(
    host: string,
    port: number,
    handlers: TcpHandlers,
    options: TcpTransportOptions = {},
  ): Promise<TcpTransport> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const bound = typeof address === 'object' && address !== null ? address.port : port;
    const transport = new TcpTransport(server, handlers, host, bound, options);
    server.on('connection', (socket) =>
      transport.#adopt(socket, normalizeHost(socket.remoteAddress), socket.remotePort ?? 0, false),
    );
    server.on('error', () => undefined);
    return transport;
  }

  /**
   * Sends on connection `connectionId` when given (it must still be open), else on the pooled connection to
   * host:port, opening it when needed. `onError` is called (maybe later) when the bytes cannot be delivered.
   */
  send(
    data: Uint8Array,
    target: { connectionId?: number | undefined; host: string; port: number },
    onError: () => void,
  ): void {
    if (this.#closed) return onError();
    let connection: TcpConnection | undefined;
    if (target.connectionId !== undefined) {
      connection = this.#byId.get(target.connectionId);
      if (connection === undefined || connection.socket.destroyed) return onError();
    } else {
      const key = `${target.host}|${target.port}`;
      connection = this.#pool.get(key);
      if (connection === undefined || connection.socket.destroyed) {
        const socket = connect({ host: target.host, port: target.port });
        connection = this.#adopt(socket, target.host, target.port, true);
        this.#pool.set(key, connection);
      }
    }
    if (!connection.connected) connection.pendingErrors.push(onError);
    connection.socket.write(data);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const connection of this.#byId.values()) connection.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #adopt(socket: Socket, host: string, port: number, outbound: boolean): TcpConnection {
    const connection = new TcpConnection(this.#nextId++, socket, host, port, outbound, this.#maxBody);
    this.#byId.set(connection.id, connection);
    socket.setNoDelay(true);
    socket.setTimeout(this.#idleMs, () => socket.destroy());
    if (outbound) {
      socket.once('connect', () => {
        connection.connected = true;
        connection.pendingErrors = [];
      });
    }
    socket.on('data', (chunk: Buffer) => this.#onData(connection, chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#byId.delete(connection.id);
      const key = `${host}|${port}`;
      if (this.#pool.get(key) === connection) this.#pool.delete(key);
      const failed = connection.pendingErrors;
      connection.pendingErrors = [];
      for (const onError of failed) onError();
      this.#handlers.onClose(connection.id);
    });
    return connection;
  }

  #onData(connection: TcpConnection, chunk: Buffer): void {
    for (const event of connection.framer.push(chunk)) {
      switch (event.type) {
        case 'message':
          this.#handlers.onMessage(event.message, connection.peer);
          break;
        case 'invalid':
          this.#handlers.onInvalid(event.bytes, event.error, (data) => connection.socket.write(data));
          break;
        case 'keepalive':
          // RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a CRLF pong.
          if (event.kind === 'ping') connection.socket.write('\r\n');
          break;
        case 'error':
          this.#handlers.onFramingError(event.error, connection.peer);
          connection.socket.destroy();
          return;
      }
    }
  }
}
