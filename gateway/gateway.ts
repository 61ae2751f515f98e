/**
 * startGateway(config): the listeners, the WebSocket service and the edge proxy wired together. The composition
 * root (main.ts) calls it with the parsed command line; tests call it in-process with port 0 everywhere.
 *
 *   HTTP(S) :port ── /healthz, /metrics
 *              ├──── upgrade, subprotocol sip ──► WsSipService ──► EdgeProxy ◄──► UDP/TCP listeners ◄──► upstream
 *              └──── upgrade, subprotocol msrp ─► MsrpRelayServer (RFC 4976 relay) ◄──► MSRP TCP :2855 ◄──► peers
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

import pino, { type Logger } from 'pino';

import { ParseError, parseMessage, type MsrpUri } from '../web/src/sip/server.ts';
import type { WorkerRole } from './cluster.ts';
import type { GatewayConfig } from './config.ts';
import { DigestGuard } from './core/digest-guard.ts';
import { coreLinkToEdge, edgeNetToCore, linkUpstream, openEmbeddedState } from './core/embedded.ts';
import { SipCore } from './core/sip-core.ts';
import { staticFiles } from './core/static-files.ts';
import { USERS_FILE, UsersFile, type UserDirectory } from './core/users.ts';
import { answerUnparseable } from './edge/bad-message.ts';
import { EdgeProxy, type UpstreamTarget } from './edge/edge-proxy.ts';
import { FlowTokens } from './edge/flow-token.ts';
import { OwnAddresses } from './edge/rewrite.ts';
import { GatewayMetrics, PROMETHEUS_CONTENT_TYPE } from './metrics.ts';
import { digestAuth, openAuth } from './msrp/msrp-auth.ts';
import { MsrpRelayServer, type MsrpRelayServerOptions } from './msrp/msrp-relay-server.ts';
import { HttpServer, OriginPolicy, type HttpHandler } from './net/http-server.ts';
import { TcpTransport } from './net/tcp-transport.ts';
import { UdpTransport } from './net/udp-transport.ts';
import { WsSipService } from './net/ws-sip-service.ts';

export interface Gateway {
  readonly httpPort: number;
  /** bound SIP ports (0 when that listener is off) */
  readonly udpPort: number;
  readonly tcpPort: number;
  /** the MSRP relay's TCP port (0 when that listener is off) */
  readonly msrpTcpPort: number;
  readonly msrp: MsrpRelayServer;
  readonly publicHost: string;
  readonly metrics: GatewayMetrics;
  /** the embedded SIP core (undefined beside a PBX) */
  readonly core: SipCore | undefined;
  /** Graceful stop: no new connections, in-flight transactions get `graceMs`, WebSockets close with 1001. */
  close(graceMs?: number): Promise<void>;
}

export interface GatewayDeps {
  readonly log?: Logger | undefined;
  /** Overrides of RFC 3261 timers (tests). */
  readonly timers?: { T1?: number; T2?: number; T4?: number } | undefined;
  /** Embedded mode: the clock of Date/Expires for stored messages (tests). */
  readonly wallClock?: (() => number) | undefined;
  /** This process is one worker of several (gateway/cluster.ts): its index goes into the flow tokens. */
  readonly worker?: WorkerRole | undefined;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** RFC 7977 over the gateway's port: the largest MSRP WebSocket message (a chunk of up to 1 MiB and its head). */
const MSRP_WS_MAX_MESSAGE = (1 << 20) + 16384;
/** Bytes queued toward one MSRP WebSocket before it is closed as a slow consumer (the relay pauses at 4 MiB). */
const MSRP_WS_MAX_BUFFERED = 16 << 20;

/**
 * Who may AUTH to the MSRP relay, and where it may connect for them. Embedded mode: digest against the users
 * file, and anywhere. Beside a PBX: digest when <data-dir>/users.json exists (then anywhere); without it the PBX
 * holds the passwords, so AUTH is granted without a challenge, and the relay opens connections only to the
 * upstream's host, and to the MSRP ports of our own workers (browser to browser across workers); peers elsewhere
 * connect to the relay, whose URI they have from the SDP. Never an open relay (nor a way into local services).
 */
function msrpPolicy(
  config: GatewayConfig,
  embeddedUsers: UserDirectory | undefined,
  mayConnect: (uri: MsrpUri) => boolean,
): Pick<MsrpRelayServerOptions, 'auth' | 'mayConnect'> {
  const users =
    embeddedUsers ??
    (existsSync(join(config.dataDir, USERS_FILE))
      ? UsersFile.open(config.dataDir, config.domain)
      : undefined);
  if (users === undefined) {
    return {
      auth: openAuth(),
      mayConnect,
    };
  }
  const directory: UserDirectory = {
    realm: users.realm,
    lookup: (user) => {
      users.refresh?.();
      return users.lookup(user);
    },
    has: (user) => users.has(user),
  };
  return {
    auth: digestAuth(
      new DigestGuard({ realm: config.domain, users: directory, algorithms: config.digestAlgorithms }),
    ),
  };
}

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

/** Our names for MSRP URIs: those of the SIP side, plus every local address when MSRP listens on a wildcard. */
function msrpHosts(hosts: ReadonlySet<string>, listenHost: string | undefined): Set<string> {
  const out = new Set(hosts);
  if (listenHost !== undefined && WILDCARDS.has(listenHost)) for (const a of localAddresses()) out.add(a);
  else if (listenHost !== undefined) out.add(listenHost);
  return out;
}

async function resolveUpstream(config: GatewayConfig): Promise<UpstreamTarget | undefined> {
  if (config.upstream === undefined) return undefined;
  const { host, port, transport } = config.upstream;
  if (host.toLowerCase().endsWith('.invalid')) throw new Error('the upstream host is .invalid');
  const ip = isIP(host) !== 0 ? host : (await lookup(host)).address;
  return { host: ip, port, transport };
}

export async function startGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const log = deps.log ?? pino({ level: config.logLevel, base: { service: 'gateway' } });
  const metrics = new GatewayMetrics();
  const resolved = await resolveUpstream(config);
  // Embedded mode (no --upstream): the built-in SIP core takes the upstream's place (gateway/core/).
  const state = resolved === undefined ? openEmbeddedState(config, log) : undefined;
  let core: SipCore | undefined;
  const worker = deps.worker;
  const tokens = new FlowTokens({ secret: config.flowSecret, worker: worker?.index });
  const tls =
    config.tls === undefined
      ? undefined
      : { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };

  // The edge proxy is created once the ports are known; the listeners hand it messages through this slot.
  let edge: EdgeProxy | undefined;
  const cleanup: (() => Promise<void> | void)[] = [];
  if (state !== undefined) cleanup.push(() => state.close());
  /** flow token of each WebSocket connection (embedded mode: its bindings go when it closes) */
  const flowTokens = new Map<number, string>();

  try {
    const udp =
      config.sipUdp === undefined
        ? undefined
        : await UdpTransport.bind(config.sipUdp.host, config.sipUdp.port, (data, from) => {
            if (edge === undefined) return;
            // RFC 5626 §4.4.1 keep-alives over UDP are STUN, not CRLF; a bare CRLF datagram is ignored.
            if (data.length <= 4 && /^[\r\n]*$/.test(data.toString('latin1'))) return;
            // A response to a request the express lane relayed: forwarded (or absorbed) without a parse.
            if (core === undefined && edge.expressFromNet(data)) return;
            let message;
            try {
              message = parseMessage(data, { lazy: true });
            } catch (error) {
              metrics.drops.inc({ reason: 'unparseable' });
              const answer = answerUnparseable(data, error instanceof ParseError ? error.statusHint : 400);
              if (answer !== undefined) udp?.send(answer, from.address, from.port);
              return;
            }
            const source = { transport: 'udp', host: from.address, port: from.port } as const;
            if (core !== undefined) core.receiveFromNet(message, source);
            else edge.receiveFromNet(message, source);
          });
    if (udp !== undefined) cleanup.push(() => udp.close());

    const tcp =
      config.sipTcp === undefined
        ? undefined
        : await TcpTransport.listen(
            config.sipTcp.host,
            config.sipTcp.port,
            {
              onMessage: (message, peer) => {
                const source = {
                  transport: 'tcp',
                  host: peer.host,
                  port: peer.port,
                  connectionId: peer.connectionId,
                } as const;
                if (core !== undefined) core.receiveFromNet(message, source);
                else edge?.receiveFromNet(message, source);
              },
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
              onClose: (connectionId) =>
                core !== undefined ? core.tcpClosed(connectionId) : edge?.tcpClosed(connectionId),
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
        const token = tokens.mint(connection.id);
        if (state !== undefined) flowTokens.set(connection.id, token);
        edge?.addFlow({
          connectionId: connection.id,
          token,
          transport: connection.secure ? 'wss' : 'ws',
          remoteHost: connection.remoteHost,
          remotePort: connection.remotePort,
          send: (data) => connection.send(data),
        });
      },
      express: (connection, data) => edge?.expressFromWs(connection.id, data) ?? false,
      onMessage: (connection, message, size) => edge?.receiveFromWs(connection.id, message, size),
      onClose: (connection) => {
        edge?.removeFlow(connection.id);
        const token = flowTokens.get(connection.id);
        flowTokens.delete(connection.id);
        if (token !== undefined) core?.flowClosed(token);
      },
    });
    cleanup.push(() => ws.stop());

    // The MSRP relay (SPEC.md §5): WebSocket subprotocol `msrp` on the same port, TCP for MSRP peers.
    // In a cluster worker i listens on the port + i, strictly: sessions between workers are relayed to exactly
    // those ports, so an ephemeral fallback would break them silently (cluster.ts refuses port 0 and off).
    const msrpListen =
      config.msrpTcp === undefined || worker === undefined || config.msrpTcp.port === 0
        ? config.msrpTcp
        : { ...config.msrpTcp, port: config.msrpTcp.port + worker.index, fallback: false };
    // Where an unauthenticated relay may connect: the upstream's host; our own names (known once we listen) only
    // on the MSRP ports of our workers.
    const upstreamHosts = new Set(
      [resolved?.host, config.upstream?.host]
        .filter((h): h is string => h !== undefined)
        .map((h) => h.toLowerCase()),
    );
    const msrpOwnNames = new Set<string>();
    const msrpBase = config.msrpTcp?.port ?? 0;
    const mayConnectOpen = (uri: MsrpUri): boolean => {
      const host = uri.host.replace(/^\[|\]$/g, '').toLowerCase();
      if (upstreamHosts.has(host)) return true;
      const port = uri.port ?? 2855;
      return msrpOwnNames.has(host) && msrpBase > 0 && port >= msrpBase && port < msrpBase + 64;
    };
    const msrp = new MsrpRelayServer({
      log,
      metrics,
      ws: {
        maxMessageBytes: MSRP_WS_MAX_MESSAGE,
        maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
        maxBufferedBytes: MSRP_WS_MAX_BUFFERED,
        pingIntervalMs: config.limits.pingIntervalMs,
      },
      tcp: msrpListen,
      ...msrpPolicy(config, state?.users, mayConnectOpen),
    });
    cleanup.push(() => msrp.close());

    // The app's files (embedded mode's `npm start` serves dist/ on the WebSocket's port).
    const staticDir =
      config.staticDir !== undefined && existsSync(config.staticDir) ? config.staticDir : undefined;
    const health: HttpHandler = (_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(
        JSON.stringify({
          status: 'ok',
          connections: ws.size,
          flows: metrics.flows.get(),
          transactions: metrics.transactions.get(),
          upstream:
            upstream === undefined ? 'embedded' : `${upstream.transport}:${upstream.host}:${upstream.port}`,
          ...(state === undefined ? {} : { bindings: core?.location.size ?? 0, stored: state.store.size }),
        }),
      );
    };
    const metricsRoute: HttpHandler = (_request, response) => {
      if (worker === undefined) {
        response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE }).end(metrics.registry.render());
        return;
      }
      // Several workers: one exposition of all of them, each sample labelled with its worker.
      void worker.collectMetrics().then((text) => {
        if (!response.destroyed)
          response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE }).end(text);
      });
    };
    worker?.serveMetrics(() => metrics.registry.render());
    const http = await HttpServer.start({
      host: config.host,
      port: config.port,
      tls,
      routes: new Map([
        ['/healthz', health],
        ['/metrics', metricsRoute],
      ]),
      fallback: staticDir === undefined ? undefined : staticFiles(staticDir),
      services: [ws, msrp.service],
      origins: new OriginPolicy(config.origins, config.allowMissingOrigin),
      log,
      onRejected: (reason) => metrics.rejectedUpgrades.inc({ reason }),
    });
    cleanup.push(() => http.close());

    const publicHost = config.publicHost ?? defaultPublicHost(config);
    const sipPorts = {
      udp: config.publicPorts.udp ?? udp?.port,
      tcp: config.publicPorts.tcp ?? tcp?.port,
    };
    const wsPort = config.publicPorts.ws ?? http.port;
    // Embedded mode: the SIP listeners are the core's; the edge has only its WebSocket port, which also names
    // its side of the link to the core in Path and Record-Route (so the core and the edge tell their URIs apart).
    const publicPorts =
      state === undefined ? { ...sipPorts, ws: wsPort } : { udp: undefined, tcp: wsPort, ws: wsPort };
    const hosts = new Set<string>([publicHost]);
    for (const listen of [config.sipUdp, config.sipTcp, { host: config.host }]) {
      if (listen === undefined) continue;
      if (WILDCARDS.has(listen.host)) for (const a of localAddresses()) hosts.add(a);
      else hosts.add(listen.host);
    }
    const ports = [udp?.port, tcp?.port, http.port, publicPorts.udp, publicPorts.tcp, publicPorts.ws].filter(
      (p): p is number => p !== undefined,
    );
    const edgePorts = state === undefined ? ports : [http.port, wsPort];
    const msrpOwnHosts = msrpHosts(hosts, config.msrpTcp?.host);
    for (const h of msrpOwnHosts) msrpOwnNames.add(h.toLowerCase());
    await msrp.start({
      publicHost,
      wsPort,
      wsSecure: tls !== undefined,
      hosts: msrpOwnHosts,
      ports: [http.port],
    });
    const corePort = sipPorts.tcp ?? sipPorts.udp ?? 5060;
    const upstream = resolved ?? linkUpstream(publicHost, corePort);
    const edgeOwn = new OwnAddresses(hosts, edgePorts);
    if (state !== undefined) {
      const coreHosts = new Set([...hosts].map((h) => h.toLowerCase()));
      core = new SipCore({
        domain: config.domain,
        users: state.users,
        store: state.store,
        publicHost,
        ports: sipPorts,
        own: new OwnAddresses(
          hosts,
          [sipPorts.udp, sipPorts.tcp, udp?.port, tcp?.port].filter((p): p is number => p !== undefined),
        ),
        localHosts: coreHosts,
        link: coreLinkToEdge(() => edge, upstream, edgeOwn),
        net: {
          sendUdp: (data, host, port) => udp?.send(data, host, port),
          sendTcp: (data, target, onError) =>
            tcp === undefined ? onError() : tcp.send(data, target, onError),
          udpAvailable: udp !== undefined,
          tcpAvailable: tcp !== undefined,
        },
        log,
        metrics,
        timers: deps.timers,
        wallClock: deps.wallClock,
        branchTimeoutMs: config.branchTimeoutMs,
        minExpires: config.minExpires,
        digestAlgorithms: config.digestAlgorithms,
      });
    }
    const sipCore = core;
    edge = new EdgeProxy({
      upstream,
      publicHost,
      publicPorts,
      wsTransport: tls === undefined ? 'ws' : 'wss',
      own: edgeOwn,
      // The core stores Path (it is ours); compatibility mode is for registrars without it.
      usePath: state === undefined ? config.usePath : true,
      tokens,
      net:
        state !== undefined
          ? edgeNetToCore(() => core, log)
          : {
              sendUdp: (data, host, port) => udp?.send(data, host, port),
              sendTcp: (data, target, onError) =>
                tcp === undefined ? onError() : tcp.send(data, target, onError),
              tcpAvailable: tcp !== undefined,
            },
      metrics,
      log,
      timers: deps.timers,
    });
    const proxy = edge;
    if (config.flowSecret === undefined && state === undefined && worker === undefined)
      log.warn(
        'no --flow-secret: a random one is used; a restart invalidates every flow token (browsers re-register)',
      );
    log.info(
      {
        http: http.port,
        udp: udp?.port,
        tcp: tcp?.port,
        publicHost,
        upstream:
          resolved === undefined ? 'embedded' : `${upstream.transport}:${upstream.host}:${upstream.port}`,
        ...(state === undefined ? {} : { domain: config.domain, dataDir: config.dataDir, static: staticDir }),
        path: config.usePath,
        tls: tls !== undefined,
      },
      // With several workers the primary says "gateway listening" once every worker does.
      worker === undefined ? 'gateway listening' : 'worker listening',
    );
    worker?.ready({ http: http.port, udp: udp?.port ?? 0, tcp: tcp?.port ?? 0 });

    let closing: Promise<void> | undefined;
    return {
      httpPort: http.port,
      udpPort: udp?.port ?? 0,
      tcpPort: tcp?.port ?? 0,
      msrpTcpPort: msrp.tcpPort,
      msrp,
      publicHost,
      metrics,
      core: sipCore,
      close(graceMs = config.shutdownGraceMs) {
        closing ??= (async () => {
          log.info({ graceMs }, 'shutting down');
          http.stopAccepting();
          // Let relayed requests get their final responses (the WebSockets are still open to carry them).
          const deadline = Date.now() + graceMs;
          while ((proxy.inFlight > 0 || (sipCore?.inFlight ?? 0) > 0) && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 25));
          ws.closeAll();
          msrp.service.closeAll();
          await ws.drain(Math.min(1000, Math.max(100, graceMs)));
          await msrp.service.drain(Math.min(1000, Math.max(100, graceMs)));
          proxy.close();
          sipCore?.close();
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
