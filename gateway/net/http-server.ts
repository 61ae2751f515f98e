/**
 * The one HTTP(S) port of the gateway. Plain requests are routed by path (`/healthz`, `/metrics`; the app's static
 * files and other endpoints are added as routes later); WebSocket upgrades are checked here once (shutdown, Origin
 * allow-list) and handed to the service that speaks the subprotocol the client offers (`sip`, `msrp`).
 * An upgrade offering no subprotocol we serve is refused with 400 before any WebSocket exists.
 */
import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Duplex } from 'node:stream';

import type { Logger } from 'pino';

export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** A WebSocket service behind the shared port, selected by its subprotocol (RFC 6455 §1.9). */
export interface UpgradeService {
  readonly protocol: string;
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export type UpgradeRejection = 'shutting-down' | 'origin' | 'subprotocol' | 'not-websocket';

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly routes: ReadonlyMap<string, HttpHandler>;
  /** for paths no route names (the app's static files); default 404 */
  readonly fallback?: HttpHandler | undefined;
  readonly services: readonly UpgradeService[];
  readonly origins: OriginPolicy;
  readonly log: Logger;
  readonly onRejected?: ((reason: UpgradeRejection) => void) | undefined;
}

/**
 * The Origin allow-list (RFC 6455 §10.2: the server decides which pages may open a WebSocket to it).
 *  - an entry `*` allows every origin;
 *  - the same origin as the HTTP Host (the app served from this port), always;
 *  - the listed origins besides (pages elsewhere that embed the widget or run their own client);
 *  - a request without Origin (not a browser) only when `allowMissing`.
 */
export class OriginPolicy {
  readonly #origins: ReadonlySet<string>;

  constructor(
    origins: readonly string[],
    readonly allowMissing: boolean,
  ) {
    this.#origins = new Set(origins.map(normalizeOrigin));
  }

  allows(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined || origin === '') return this.allowMissing;
    if (this.#origins.has('*')) return true;
    const normalized = normalizeOrigin(origin);
    if (this.#origins.has(normalized)) return true;
    // The gateway's own pages (the app it serves) are always allowed: a list only adds other sites' pages (the
    // widget embedded elsewhere), it does not shut out the app.
    if (host === undefined) return false;
    try {
      return new URL(normalized).host === host.toLowerCase();
    } catch {
      return false;
    }
  }
}

function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

/**
 * The 'error' listener of an upgrade socket (it stays for the WebSocket's whole life). A module-level function
 * on purpose: an arrow function in the upgrade handler would share that handler's closure context, which holds
 * the upgrade request, and so keep the request (its headers and stream state, about 1.5 KB) alive as long as the
 * connection.
 */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  reason: string,
  headers: Record<string, string> = {},
): void {
  const body = `${reason}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  if (socket.writable) socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  socket.destroy();
}

/** The subprotocols a client offers (Sec-WebSocket-Protocol, comma-separated, RFC 6455 §4.1). */
export function offeredProtocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

export class HttpServer {
  readonly server: Server;
  readonly #state: { shuttingDown: boolean };

  private constructor(
    server: Server,
    readonly port: number,
    state: { shuttingDown: boolean },
  ) {
    this.server = server;
    this.#state = state;
  }

  static async start(options: HttpServerOptions): Promise<HttpServer> {
    const handler = (request: IncomingMessage, response: ServerResponse): void => {
      const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
      const route = options.routes.get(path) ?? options.fallback;
      if (route === undefined) {
        response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      try {
        route(request, response);
      } catch (error) {
        options.log.error({ err: error, path }, 'http handler failed');
        if (!response.headersSent) response.writeHead(500).end();
      }
    };
    const server =
      options.tls === undefined
        ? createHttp(handler)
        : createHttps({ cert: options.tls.cert, key: options.tls.key }, handler);
    // A server behind the shared port must not be slowed by idle keep-alive connections at shutdown.
    server.keepAliveTimeout = 5000;
    const state = { shuttingDown: false };
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', destroyOnError);
      const reject = (reason: UpgradeRejection, status: number, text: string): void => {
        options.onRejected?.(reason);
        options.log.info(
          { reason, remote: request.socket.remoteAddress, origin: request.headers.origin },
          'upgrade refused',
        );
        refuseUpgrade(socket, status, text);
      };
      if (state.shuttingDown) return reject('shutting-down', 503, 'Service Unavailable');
      if ((request.headers.upgrade ?? '').toLowerCase() !== 'websocket')
        return reject('not-websocket', 400, 'Bad Request');
      if (!options.origins.allows(request.headers.origin, request.headers.host))
        return reject('origin', 403, 'Forbidden');
      const offered = offeredProtocols(request);
      const service = options.services.find((s) => offered.includes(s.protocol));
      if (service === undefined)
        return reject(
          'subprotocol',
          400,
          `Bad Request: WebSocket subprotocol required (${options.services.map((s) => s.protocol).join(', ')})`,
        );
      service.handleUpgrade(request, socket, head);
    });
    server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host, port: options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    return new HttpServer(server, port, state);
  }

  get shuttingDown(): boolean {
    return this.#state.shuttingDown;
  }

  /** Stops accepting connections and refuses further upgrades; open WebSockets are left to their services. */
  stopAccepting(): void {
    this.#state.shuttingDown = true;
    this.server.close();
  }

  /** Closes every remaining HTTP connection and waits for the server to be closed. */
  async close(): Promise<void> {
    this.#state.shuttingDown = true;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
