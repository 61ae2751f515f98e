/**
 * MsrpRelayServer: MsrpRelay on Node. The WebSocket side (WsMsrpService, subprotocol `msrp` on the gateway's HTTP
 * port), the TCP side (a listener for MSRP peers and relays, and the connections the relay opens), and one timer.
 *
 *   HTTP :port ── upgrade msrp ──► WsMsrpService ─┐
 *                                                 ├─► MsrpRelay ─► one setTimeout at relay.nextDeadline()
 *   TCP :msrp ─── accept / connect ──► TcpLink ───┘
 *
 * Two steps, because the WebSocket service must be handed to the HTTP server before it listens and the relay's
 * URIs need the port it got: `new MsrpRelayServer(…)` makes the service; `start(self)` binds the TCP listener
 * and makes the relay. Every input is followed by re-arming the one timer (kept when it already fires early
 * enough). The TCP listener is exclusive: in a cluster each worker has its own port, named in its Use-Path, so
 * every peer's connection reaches the worker holding the session.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';

import type { Logger } from 'pino';

import type { MsrpUri } from '../../web/src/sip/server.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { MsrpAuthPolicy } from './msrp-auth.ts';
import { MsrpRelay, type MsrpRelayOptions, type RelayCloseCause, type RelayLink } from './msrp-relay.ts';
import { WsMsrpService, type WsMsrpLimits } from './ws-msrp-service.ts';

export interface MsrpTcpListen {
  readonly host: string;
  readonly port: number;
  /** when `port` is taken, listen on an ephemeral port instead (the default `auto`): Use-Path names it */
  readonly fallback: boolean;
}

export interface MsrpRelayServerOptions {
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly ws: WsMsrpLimits;
  /** undefined: no TCP listener (the relay still opens connections when allowed) */
  readonly tcp: MsrpTcpListen | undefined;
  readonly auth: MsrpAuthPolicy;
  /** where the relay may open connections for its clients (default: anywhere) */
  readonly mayConnect?: ((uri: MsrpUri) => boolean) | undefined;
  /** bytes queued toward a link before the links feeding it pause (4 MiB) */
  readonly highWater?: number;
  /** most bytes queued toward a TCP peer before it is closed as a slow consumer (4 × highWater) */
  readonly maxBufferedBytes?: number;
  /** the rest of the relay's options (timeouts, Expires bounds; tests) */
  readonly relay?: Partial<Omit<MsrpRelayOptions, 'self' | 'auth' | 'log' | 'metrics' | 'connect'>>;
}

export interface MsrpRelaySelf {
  /** the host our URIs name */
  readonly publicHost: string;
  /** the WebSocket's advertised port */
  readonly wsPort: number;
  readonly wsSecure: boolean;
  /** every name and address of this host that peers may use (lowercase) */
  readonly hosts: ReadonlySet<string>;
  /** our other ports (the HTTP port when it differs from the advertised one) */
  readonly ports: readonly number[];
  /** the MSRP TCP port to advertise when it differs from the bound one */
  readonly publicTcpPort?: number | undefined;
}

class TcpLink implements RelayLink {
  readonly side = 'tcp';
  readonly framing = 'stream';
  readonly maxBody = Infinity;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly remoteHost: string,
    readonly remotePort: number,
    private readonly maxBuffered: number,
    private readonly onSlow: (link: TcpLink) => void,
  ) {}

  get buffered(): number {
    return this.socket.writableLength;
  }

  write(parts: readonly Uint8Array[]): boolean {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return false;
    let total = 0;
    for (const p of parts) total += p.length;
    if (socket.writableLength + total > this.maxBuffered) {
      this.onSlow(this);
      return false;
    }
    // One writev for the frame's pieces: the body goes out as the view it is.
    socket.cork();
    for (const p of parts) socket.write(p);
    socket.uncork();
    return true;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(cause: RelayCloseCause): void {
    if (cause === 'shutdown' || cause === 'idle') {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    } else {
      this.socket.destroy();
    }
  }
}

const normalizeHost = (host: string | undefined): string =>
  (host ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

export class MsrpRelayServer {
  readonly service: WsMsrpService;
  readonly #o: MsrpRelayServerOptions;
  readonly #tcpLinks = new Map<number, TcpLink>();
  readonly #highWater: number;
  #relay: MsrpRelay | undefined;
  #server: Server | undefined;
  #tcpPort = 0;
  #nextId = 1;
  #timer: NodeJS.Timeout | undefined;
  #timerAt: number | undefined;
  #closed = false;

  constructor(options: MsrpRelayServerOptions) {
    this.#o = options;
    this.#highWater = options.highWater ?? 4 << 20;
    this.service = new WsMsrpService({
      limits: options.ws,
      log: options.log,
      metrics: options.metrics,
      highWater: this.#highWater,
      nextId: () => this.#nextId++,
    });
    this.service.handlers = {
      open: (link) => {
        const relay = this.#relay;
        if (relay === undefined) return link.close('shutdown', 'not ready');
        relay.open(link, performance.now());
        this.#arm();
      },
      message: (link, data) => this.#input((relay, now) => relay.receive(link, data, now)),
      drained: (link) => this.#relay?.drained(link),
      closed: (link) => this.#input((relay, now) => relay.closed(link, now)),
    };
  }

  get relay(): MsrpRelay | undefined {
    return this.#relay;
  }

  /** The bound TCP port (0 when there is no listener). */
  get tcpPort(): number {
    return this.#tcpPort;
  }

  async start(self: MsrpRelaySelf): Promise<void> {
    const tcp = this.#o.tcp;
    if (tcp !== undefined) {
      this.#server = await this.#listen(tcp);
      const address = this.#server.address();
      this.#tcpPort = typeof address === 'object' && address !== null ? address.port : tcp.port;
    }
    const tcpPort = tcp === undefined ? undefined : (self.publicTcpPort ?? this.#tcpPort);
    const ports = new Set<number>([self.wsPort, ...self.ports]);
    if (tcpPort !== undefined) ports.add(tcpPort).add(this.#tcpPort);
    const hosts = new Set([...self.hosts].map((h) => h.toLowerCase()));
    hosts.add(self.publicHost.toLowerCase());
    const maxBuffered = this.#o.maxBufferedBytes ?? this.#highWater * 4;
    this.#relay = new MsrpRelay({
      newId: () => randomBytes(12).toString('base64url').replace(/[-_]/g, 'x'),
      ...this.#o.relay,
      self: {
        host: self.publicHost,
        tcpPort,
        wsPort: self.wsPort,
        wsSecure: self.wsSecure,
        hosts,
        ports,
      },
      auth: this.#o.auth,
      log: this.#o.log,
      metrics: this.#o.metrics,
      highWater: this.#highWater,
      mayConnect: this.#o.mayConnect,
      connect: (uri) => {
        if (this.#closed || uri.port === undefined) return undefined;
        const socket = connect({ host: uri.host.replace(/^\[|\]$/g, ''), port: uri.port });
        return this.#adoptTcp(socket, uri.host, uri.port, maxBuffered, false);
      },
    });
    this.#server?.on('connection', (socket: Socket) => {
      if (this.#closed) return socket.destroy();
      this.#adoptTcp(socket, normalizeHost(socket.remoteAddress), socket.remotePort ?? 0, maxBuffered, true);
    });
    this.#o.log.info(
      { tcp: tcp === undefined ? 'off' : this.#tcpPort, ws: self.wsPort, uri: this.#relay.uri },
      'msrp relay listening',
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.service.closeAll();
    this.#relay?.close();
    for (const link of this.#tcpLinks.values()) link.socket.destroy();
    this.service.stop();
    const server = this.#server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #listen(tcp: MsrpTcpListen): Promise<Server> {
    const attempt = (port: number): Promise<Server> =>
      new Promise((resolve, reject) => {
        const server = createServer({ noDelay: true });
        server.once('error', reject);
        server.listen({ host: tcp.host, port, exclusive: true }, () => {
          server.off('error', reject);
          server.on('error', (error) => this.#o.log.warn({ err: error.message }, 'msrp tcp listener error'));
          resolve(server);
        });
      });
    try {
      return await attempt(tcp.port);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (!tcp.fallback || tcp.port === 0 || (code !== 'EADDRINUSE' && code !== 'EACCES')) throw error;
      this.#o.log.warn(
        { port: tcp.port, code },
        'msrp: the default MSRP port is taken; listening on an ephemeral port (Use-Path names it)',
      );
      return attempt(0);
    }
  }

  #adoptTcp(socket: Socket, host: string, port: number, maxBuffered: number, accepted: boolean): TcpLink {
    const link = new TcpLink(this.#nextId++, socket, host, port, maxBuffered, (slow) => {
      this.#o.metrics.msrpErrors.inc({ reason: 'slow-consumer' });
      this.#o.log.warn({ link: slow.id, remote: slow.remoteHost }, 'closing a slow MSRP peer');
      slow.socket.destroy();
    });
    this.#tcpLinks.set(link.id, link);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#input((relay, now) => relay.receive(link, chunk, now)));
    socket.on('drain', () => this.#relay?.drained(link));
    socket.on('error', (error) => this.#o.log.debug({ link: link.id, err: error.message }, 'msrp tcp error'));
    socket.on('close', () => {
      this.#tcpLinks.delete(link.id);
      this.#input((relay, now) => relay.closed(link, now));
    });
    if (accepted) this.#relay?.open(link, performance.now());
    return link;
  }

  #input(work: (relay: MsrpRelay, now: number) => void): void {
    const relay = this.#relay;
    if (relay === undefined) return;
    const now = performance.now();
    try {
      work(relay, now);
    } catch (error) {
      // A bug, never the peer's doing (the relay turns bad input into answers): log it and go on.
      this.#o.log.error({ err: error }, 'msrp relay failed on an input');
    }
    this.#arm();
  }

  #arm(): void {
    const at = this.#relay?.nextDeadline();
    if (at === undefined || this.#closed) return;
    if (this.#timer !== undefined && this.#timerAt !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = undefined;
        this.#input((relay, now) => relay.handleTimers(now));
      },
      Math.max(0, at - performance.now()),
    );
    this.#timer.unref();
  }
}
