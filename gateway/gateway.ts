/**
 * startGateway(config): the listeners, the WebSocket service and the edge proxy wired together. The composition
 * root (main.ts) calls it with the parsed command line; tests call it in-process with port 0 everywhere.
 *
 *   HTTP(S) :port ── /healthz, /metrics
 *              └──── upgrade, subprotocol sip ──► WsSipService ──► EdgeProxy ◄──► UDP/TCP listeners ◄──► upstream
 */
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

import pino, { type Logger } from 'pino';

import { ParseError, parseMessage } from '../web/src/sip/index.ts';
import type { GatewayConfig } from './config.ts';
import { answerUnparseable } from './edge/bad-message.ts';
import { EdgeProxy, type UpstreamTarget } from './edge/edge-proxy.ts';
import { FlowTokens } from './edge/flow-token.ts';
import { OwnAddresses } from './edge/rewrite.ts';
import { GatewayMetrics, PROMETHEUS_CONTENT_TYPE } from './metrics.ts';
import { HttpServer, OriginPolicy, type HttpHandler } from './net/http-server.ts';
import { TcpTransport } from './net/tcp-transport.ts';
import { UdpTransport } from './net/udp-transport.ts';
import { WsSipService } from './net/ws-sip-service.ts';

export interface Gateway {
  readonly httpPort: number;
  /** bound SIP ports (0 when that listener is off) */
  readonly udpPort: number;
  readonly tcpPort: number;
  readonly publicHost: string;
  readonly metrics: GatewayMetrics;
  /** Graceful stop: no new connections, in-flight transactions get `graceMs`, WebSockets close with 1001. */
  close(graceMs?: number): Promise<void>;
}

export interface GatewayDeps {
  readonly log?: Logger | undefined;
  /** Overrides of RFC 3261 timers (tests). */
  readonly timers?: { T1?: number; T2?: number; T4?: number } | undefined;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** Every address of this host (for a wildcard listener, "us" is any of them). */
function localAddresses(): string[] {
  const out = ['127.0.0.1', '::1', 'localhost'];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address);
  return out;
}

function defaultPublicHost(config: GatewayConfig): string {
  for (const listen of [config.sipUdp, config.sipTcp]) {
    if (listen !== undefined && !WILDCARDS.has(listen.host)) return listen.host;
  }
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

async function resolveUpstream(config: GatewayConfig): Promise<UpstreamTarget> {
  const { host, port, transport } = config.upstream;
  if (host.toLowerCase().endsWith('.invalid')) throw new Error('the upstream host is .invalid');
  const ip = isIP(host) !== 0 ? host : (await lookup(host)).address;
  return { host: ip, port, transport };
}

export async function startGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const log = deps.log ?? pino({ level: config.logLevel, base: { service: 'gateway' } });
  const metrics = new GatewayMetrics();
  const upstream = await resolveUpstream(config);
  const tokens = new FlowTokens({ secret: config.flowSecret });
  const tls =
    config.tls === undefined
      ? undefined
      : { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };

  // The edge proxy is created once the ports are known; the listeners hand it messages through this slot.
  let edge: EdgeProxy | undefined;
  const cleanup: (() => Promise<void> | void)[] = [];

  try {
    const udp =
      config.sipUdp === undefined
        ? undefined
        : await UdpTransport.bind(config.sipUdp.host, config.sipUdp.port, (data, from) => {
            if (edge === undefined) return;
            // RFC 5626 §4.4.1 keep-alives over UDP are STUN, not CRLF; a bare CRLF datagram is ignored.
            if (data.length <= 4 && /^[\r\n]*$/.test(data.toString('latin1'))) return;
            let message;
            try {
              message = parseMessage(data, { lazy: true });
            } catch (error) {
              metrics.drops.inc({ reason: 'unparseable' });
              const answer = answerUnparseable(data, error instanceof ParseError ? error.statusHint : 400);
              if (answer !== undefined) udp?.send(answer, from.address, from.port);
              return;
            }
            edge.receiveFromNet(message, { transport: 'udp', host: from.address, port: from.port });
          });
    if (udp !== undefined) cleanup.push(() => udp.close());

    const tcp =
      config.sipTcp === undefined
        ? undefined
        : await TcpTransport.listen(
            config.sipTcp.host,
            config.sipTcp.port,
            {
              onMessage: (message, peer) =>
                edge?.receiveFromNet(message, {
                  transport: 'tcp',
                  host: peer.host,
                  port: peer.port,
                  connectionId: peer.connectionId,
                }),
              onInvalid: (bytes, error, reply) => {
                metrics.drops.inc({ reason: 'unparseable' });
                const answer = answerUnparseable(bytes, error.statusHint);
                if (answer !== undefined) reply(answer);
              },
              onFramingError: (error, peer) => {
                metrics.drops.inc({ reason: 'tcp-framing' });
                log.info(
                  { remote: peer.host, error: error.message },
                  'closing a TCP connection that cannot be framed',
                );
              },
              onClose: (connectionId) => edge?.tcpClosed(connectionId),
            },
            { maxMessageBytes: config.limits.maxMessageBytes },
          );
    if (tcp !== undefined) cleanup.push(() => tcp.close());

    const ws = new WsSipService({
      limits: config.limits,
      secure: tls !== undefined,
      log,
      metrics,
      onOpen: (connection) => {
        edge?.addFlow({
          connectionId: connection.id,
          token: tokens.mint(connection.id),
          transport: connection.secure ? 'wss' : 'ws',
          remoteHost: connection.remoteHost,
          remotePort: connection.remotePort,
          send: (data) => connection.send(data),
        });
      },
      onMessage: (connection, message, size) => edge?.receiveFromWs(connection.id, message, size),
      onClose: (connection) => edge?.removeFlow(connection.id),
    });
    cleanup.push(() => ws.stop());

    const health: HttpHandler = (_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(
        JSON.stringify({
          status: 'ok',
          connections: ws.size,
          flows: metrics.flows.get(),
          transactions: metrics.transactions.get(),
          upstream: `${upstream.transport}:${upstream.host}:${upstream.port}`,
        }),
      );
    };
    const metricsRoute: HttpHandler = (_request, response) => {
      response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE }).end(metrics.registry.render());
    };
    const http = await HttpServer.start({
      host: config.host,
      port: config.port,
      tls,
      routes: new Map([
        ['/healthz', health],
        ['/metrics', metricsRoute],
      ]),
      services: [ws],
      origins: new OriginPolicy(config.origins, config.allowMissingOrigin),
      log,
      onRejected: (reason) => metrics.rejectedUpgrades.inc({ reason }),
    });
    cleanup.push(() => http.close());

    const publicHost = config.publicHost ?? defaultPublicHost(config);
    const publicPorts = {
      udp: config.publicPorts.udp ?? udp?.port,
      tcp: config.publicPorts.tcp ?? tcp?.port,
      ws: config.publicPorts.ws ?? http.port,
    };
    const hosts = new Set<string>([publicHost]);
    for (const listen of [config.sipUdp, config.sipTcp, { host: config.host }]) {
      if (listen === undefined) continue;
      if (WILDCARDS.has(listen.host)) for (const a of localAddresses()) hosts.add(a);
      else hosts.add(listen.host);
    }
    const ports = [udp?.port, tcp?.port, http.port, publicPorts.udp, publicPorts.tcp, publicPorts.ws].filter(
      (p): p is number => p !== undefined,
    );
    edge = new EdgeProxy({
      upstream,
      publicHost,
      publicPorts,
      wsTransport: tls === undefined ? 'ws' : 'wss',
      own: new OwnAddresses(hosts, ports),
      usePath: config.usePath,
      tokens,
      net: {
        sendUdp: (data, host, port) => udp?.send(data, host, port),
        sendTcp: (data, target, onError) => (tcp === undefined ? onError() : tcp.send(data, target, onError)),
        tcpAvailable: tcp !== undefined,
      },
      metrics,
      log,
      timers: deps.timers,
    });
    const proxy = edge;
    if (config.flowSecret === undefined)
      log.warn(
        'no --flow-secret: a random one is used; a restart invalidates every flow token (browsers re-register)',
      );
    log.info(
      {
        http: http.port,
        udp: udp?.port,
        tcp: tcp?.port,
        publicHost,
        upstream: `${upstream.transport}:${upstream.host}:${upstream.port}`,
        path: config.usePath,
        tls: tls !== undefined,
      },
      'gateway listening',
    );

    let closing: Promise<void> | undefined;
    return {
      httpPort: http.port,
      udpPort: udp?.port ?? 0,
      tcpPort: tcp?.port ?? 0,
      publicHost,
      metrics,
      close(graceMs = config.shutdownGraceMs) {
        closing ??= (async () => {
          log.info({ graceMs }, 'shutting down');
          http.stopAccepting();
          // Let relayed requests get their final responses (the WebSockets are still open to carry them).
          const deadline = Date.now() + graceMs;
          while (proxy.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
          ws.closeAll();
          await ws.drain(Math.min(1000, Math.max(100, graceMs)));
          proxy.close();
          for (const step of cleanup.reverse()) await step();
          log.info('gateway stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const step of cleanup.reverse()) await step();
    throw error;
  }
}
