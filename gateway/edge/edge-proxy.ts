/**
 * The SIP edge proxy (RFC 3261 §16 stateful proxy, RFC 5626 §5 edge proxy, RFC 7118 WebSocket transport): the
 * browsers on one side, each on its WebSocket connection (a flow), the upstream PBX on the other, over UDP or TCP.
 *
 *      browser ──WS──► server txn ─┐                     ┌─► client txn ──UDP/TCP──► upstream
 *                                  ├── EdgeProxy (TU) ───┤
 *      browser ◄─WS─── client txn ─┘                     └── server txn ◄─UDP/TCP─── upstream
 *
 * How it works. Every message goes into one TransactionLayer from the core (RFC 3261 §17), with a FlowInfo that
 * says where it came from: `ws:N` for WebSocket connection N, the peer's address for UDP, `tcp:N` for a TCP
 * connection. The layer absorbs retransmissions and tells this TU of new requests, responses, ACKs, CANCELs and
 * timeouts. For each new request the TU builds the forwarded copy (Max-Forwards, Route popping, Path, double
 * Record-Route, our Via) and starts a client transaction on the other side; responses of that client transaction
 * are forwarded on the server transaction. So toward UDP the gateway retransmits requests (Timers A/E), absorbs
 * retransmitted responses, and answers retransmitted requests with the last response the browser gave, which a
 * browser never does itself over its reliable WebSocket.
 *
 * Decisions:
 *  - CANCEL is hop by hop (§16.10): the layer answers a CANCEL that matches a server transaction with 200 and
 *    reports it; the TU then cancels its client transaction, which sends a CANCEL of its own (after a provisional
 *    response, §9.1). A CANCEL that matches nothing is answered 481.
 *  - ACK for a non-2xx is hop by hop (the layer ACKs downstream and absorbs the upstream one); ACK for a 2xx is
 *    end to end and forwarded statelessly with a §16.11 branch.
 *  - A 2xx to INVITE that a browser sends toward UDP is re-sent by the gateway (T1 doubling up to T2, for 64·T1)
 *    until the ACK passes: over WebSocket the browser's UA core does not retransmit it (§13.3.1.4).
 *  - The flow token (flow-token.ts) rides in the user part of Path and Record-Route URIs and in our Via branch;
 *    in compatibility mode (`usePath` false) in the Contact URI of a REGISTER instead.
 *  - Never an open relay: requests from a browser go to the upstream only; requests from the network side need a
 *    valid flow token and go to that browser only; responses follow transactions, and stray ones only go to a
 *    live flow or to the upstream. Nothing is ever resolved through DNS (so no `.invalid` host either).
 */
import { performance } from 'node:perf_hooks';

import type { Logger } from 'pino';
import { TransactionDriver } from '../net/transaction-driver.ts';

import {
  InvalidStateError,
  TransactionLayer,
  createResponse,
  serializeHead,
  serializeMessage,
  type FlowInfo,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type TimerValues,
  type TransactionEvent,
  type Transmission,
} from '../../web/src/sip/server.ts';
import { GatewayMetrics } from '../metrics.ts';
import { ExpressLane } from './express-lane.ts';
import type { FlowTokens } from './flow-token.ts';
import {
  addPath,
  addRecordRoutes,
  bareHost,
  branchFromSeed,
  branchSeed,
  compatTokenOf,
  deriveBranch,
  describeMessage,
  formatOwnVia,
  formatRemote,
  formsDialog,
  hopUri,
  originalContactUri,
  parseRemote,
  popOwnRoutes,
  popVia,
  pushVia,
  randomTag,
  redactedHead,
  restoreContactsForCompat,
  rewriteContactsForCompat,
  stampReceived,
  takeMaxForwards,
  tokenOfBranch,
  wantsOutbound,
  type OwnAddresses,
  type SignalTransport,
} from './rewrite.ts';

/** One browser connection as the proxy sees it. */
export interface WsFlowHandle {
  readonly connectionId: number;
  readonly token: string;
  readonly transport: 'ws' | 'wss';
  readonly remoteHost: string;
  readonly remotePort: number;
  /** false when the connection is gone or refused the data (slow consumer) */
  send(data: Uint8Array): boolean;
}

/** Where a message from the network side came from. */
export interface NetSource {
  readonly transport: 'udp' | 'tcp';
  readonly host: string;
  readonly port: number;
  /** the TCP connection it came on */
  readonly connectionId?: number | undefined;
}

/** The network side's sockets. */
export interface NetSender {
  sendUdp(data: Uint8Array, host: string, port: number): void;
  /**
   * Over TCP: on connection `connectionId` when given (a response goes back on the connection of its request),
   * else on a pooled connection to host:port, opened when needed. `onError` when it cannot be delivered.
   */
  sendTcp(
    data: Uint8Array,
    target: { connectionId?: number | undefined; host: string; port: number },
    onError: () => void,
  ): void;
  /** Whether a TCP listener runs (requests over 1300 bytes need one, §18.1.1). */
  readonly tcpAvailable: boolean;
}

export interface UpstreamTarget {
  /** an IP address (resolved once at start) */
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp';
}

export interface EdgeProxyOptions {
  readonly upstream: UpstreamTarget;
  /** what goes into Via, Record-Route and Path */
  readonly publicHost: string;
  /** the advertised ports of the SIP listeners and of the WebSocket (HTTP) listener */
  readonly publicPorts: {
    readonly udp?: number | undefined;
    readonly tcp?: number | undefined;
    readonly ws: number;
  };
  readonly wsTransport: 'ws' | 'wss';
  readonly own: OwnAddresses;
  /** false: compatibility mode for registrars without Path (RFC 3327) support */
  readonly usePath: boolean;
  readonly tokens: FlowTokens;
  readonly net: NetSender;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** milliseconds, monotonic; default performance.now */
  readonly clock?: (() => number) | undefined;
  readonly timers?: Partial<TimerValues> | undefined;
  readonly random?: (() => number) | undefined;
  /** RFC 3261 §18.1.1: a request larger than this goes over TCP even toward a UDP upstream. Default 1300. */
  readonly maxUdpRequestBytes?: number | undefined;
  /** §16.6 step 11: Timer C for INVITE client transactions. Default 180 s. */
  readonly timerCMs?: number | undefined;
}

/** A request relayed from a server transaction to a client transaction. */
interface Relay {
  readonly serverId: string;
  clientId: string | undefined;
  readonly method: string;
  /** where the request came from */
  readonly from: 'ws' | 'net';
  /** the WebSocket connection on the browser side */
  readonly connectionId: number;
  /** where the server transaction's responses go (kept for a 2xx that outlives the transaction) */
  readonly serverFlow: FlowInfo;
  readonly startedAt: number;
  finalSent: boolean;
  provisionalSeen: boolean;
  cancelled: boolean;
  /** Timer C deadline (INVITE only) */
  timerC: number | undefined;
}

/** A 2xx to INVITE re-sent toward UDP until its ACK passes (see the decisions above). */
interface Pending2xx {
  readonly key: string;
  readonly response: SipResponse;
  readonly flow: FlowInfo;
  interval: number;
  nextAt: number;
  readonly until: number;
}

type OwnTimer =
  | { kind: '2xx'; key: string; at: number }
  | { kind: 'C'; serverId: string; at: number }
  | { kind: 'lane'; at: number };

const WS_FLOW_PREFIX = 'ws:';
const TCP_FLOW_PREFIX = 'tcp:';

export class EdgeProxy {
  readonly #o: EdgeProxyOptions;
  readonly #layer: TransactionLayer;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #maxUdp: number;
  readonly #timerC: number;
  readonly #flows = new Map<number, WsFlowHandle>();
  /** connections that registered through us (the `flows` gauge) */
  readonly #registered = new Set<number>();
  readonly #relaysByServer = new Map<string, Relay>();
  readonly #relaysByClient = new Map<string, Relay>();
  readonly #pending2xx = new Map<string, Pending2xx>();
  readonly #driver: TransactionDriver<OwnTimer>;
  /** the byte-level relaying of plain non-INVITE requests toward a UDP upstream (express-lane.ts) */
  readonly #lane: ExpressLane | undefined;
  /**
   * The bytes last sent over UDP by each transaction, kept for its retransmissions (Timers A/E, a response
   * re-sent for a retransmitted request) until its final response (client) or its end; UDP only: nothing is
   * ever re-sent over a reliable transport.
   */
  readonly #udpBytes = new Map<string, { message: SipMessage; bytes: Uint8Array }>();
  /** the same for stateless UDP sends (a 2xx to INVITE re-sent until its ACK) */
  readonly #statelessUdpBytes = new WeakMap<SipMessage, Uint8Array>();
  /** one FlowInfo per browser connection, made at its first message (not a new object per message) */
  readonly #wsFlowInfos = new Map<number, FlowInfo>();
  /** FlowInfo toward the upstream (and of UDP datagrams from its address), per transport */
  readonly #upstreamFlows: { readonly udp: FlowInfo; readonly tcp: FlowInfo };
  /** `remote` strings of FlowInfo parsed into host and port (few distinct values: the upstream, TCP peers) */
  readonly #remotes = new Map<string, { host: string; port: number } | undefined>();
  /** the request receiveFromWs is handing to the layer, and its wire size (for the §18.1.1 transport choice) */
  #receiving: SipMessage | undefined;
  #receivingSize = 0;
  #closed = false;

  constructor(options: EdgeProxyOptions) {
    this.#o = options;
    this.#clock = options.clock ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#maxUdp = options.maxUdpRequestBytes ?? 1300;
    this.#timerC = options.timerCMs ?? 180_000;
    this.#layer = new TransactionLayer({
      random: this.#random,
      timers: options.timers,
      log: (line) => {
        options.metrics.drops.inc({ reason: 'transaction-layer' });
        options.log.debug({ detail: line }, 'transaction layer dropped a message');
      },
    });
    this.#driver = new TransactionDriver<OwnTimer>({
      layer: this.#layer,
      clock: this.#clock,
      transmit: (t) => this.#transmit(t),
      handle: (event, now) => this.#handle(event, now),
      fire: (item, now) => this.#fireOwn(item, now),
    });
    const upstream = formatRemote(options.upstream.host, options.upstream.port);
    this.#upstreamFlows = {
      udp: { transport: 'UDP', reliable: false, remote: upstream },
      tcp: { transport: 'TCP', reliable: true, remote: upstream },
    };
    const udpPort = options.publicPorts.udp;
    this.#lane =
      options.upstream.transport !== 'udp' || udpPort === undefined
        ? undefined
        : new ExpressLane({
            upstreamHost: options.upstream.host,
            upstreamPort: options.upstream.port,
            viaHost: options.publicHost,
            viaPort: udpPort,
            timers: this.#layer.timers,
            maxUdpBytes: this.#maxUdp,
            flow: (id) => this.#flows.get(id),
            sendUdp: (data, host, port) => options.net.sendUdp(data, host, port),
            schedule: (at) => this.#driver.schedule(at, { kind: 'lane', at }),
            metrics: options.metrics,
            log: options.log,
            random: this.#random,
          });
    options.metrics.flows.collectWith(() => this.#registered.size);
    options.metrics.transactions.collectWith(() => this.#layer.size + (this.#lane?.size ?? 0));
  }

  // ---- inputs ------------------------------------------------------------------------------------------------

  addFlow(flow: WsFlowHandle): void {
    this.#flows.set(flow.connectionId, flow);
  }

  /** The connection closed: its transactions fail (RFC 5626 §5.3: requests for it now get 430). */
  removeFlow(connectionId: number): void {
    if (!this.#flows.delete(connectionId)) return;
    this.#wsFlowInfos.delete(connectionId);
    this.#registered.delete(connectionId);
    const now = this.#clock();
    this.#layer.flowFailed(WS_FLOW_PREFIX + String(connectionId), now);
    this.#driver.pump(now);
  }

  /** A TCP connection on the network side closed. */
  tcpClosed(connectionId: number): void {
    const now = this.#clock();
    this.#layer.flowFailed(TCP_FLOW_PREFIX + String(connectionId), now);
    this.#driver.pump(now);
  }

  /**
   * A frame from browser connection `connectionId`, before it is parsed: true when the express lane relayed it
   * (a plain non-INVITE request toward a UDP upstream); false when it must be parsed and given to receiveFromWs.
   * With trace logging on, everything takes the full path (which logs every message).
   */
  expressFromWs(connectionId: number, data: Buffer): boolean {
    const lane = this.#lane;
    if (lane === undefined || this.#closed || this.#o.log.isLevelEnabled('trace')) return false;
    const flow = this.#flows.get(connectionId);
    return flow !== undefined && lane.fromWs(flow, data, this.#clock());
  }

  /** A datagram from the network side, before it is parsed: true when it answered one of the lane's requests. */
  expressFromNet(data: Buffer): boolean {
    const lane = this.#lane;
    if (lane === undefined || this.#closed || this.#o.log.isLevelEnabled('trace')) return false;
    return lane.fromNet(data, this.#clock());
  }

  /** A parsed message from browser connection `connectionId`; `size` is its length in bytes on the wire. */
  receiveFromWs(connectionId: number, message: SipMessage, size = 0): void {
    const flow = this.#flows.get(connectionId);
    if (flow === undefined || this.#closed) return;
    const now = this.#clock();
    this.#o.metrics.messagesIn.inc(GatewayMetrics.labels('ws', message));
    // Headers only, credentials redacted, never the body (SPEC.md §10).
    if (this.#o.log.isLevelEnabled('trace'))
      this.#o.log.trace({ side: 'ws', connectionId, head: redactedHead(message) }, 'received');
    // The Via gets received/rport (RFC 3581) in the request handlers, after the layer has matched the request:
    // rewriting a header drops every parsed view of the message, which the layer would then parse again.
    if (message.kind === 'request') {
      this.#receiving = message;
      this.#receivingSize = size;
    }
    this.#layer.receive(message, now, this.#wsFlowInfo(flow));
    this.#driver.pump(now);
    this.#receiving = undefined;
  }

  /** A parsed message from the network side (UDP datagram or TCP stream). */
  receiveFromNet(message: SipMessage, source: NetSource): void {
    if (this.#closed) return;
    const now = this.#clock();
    this.#o.metrics.messagesIn.inc(GatewayMetrics.labels(source.transport, message));
    if (this.#o.log.isLevelEnabled('trace'))
      this.#o.log.trace(
        {
          side: source.transport,
          remote: formatRemote(source.host, source.port),
          head: redactedHead(message),
        },
        'received',
      );
    this.#layer.receive(message, now, this.#netFlowInfo(source));
    this.#driver.pump(now);
  }

  /** Client transactions still waiting for a final response (graceful shutdown waits for them briefly). */
  get inFlight(): number {
    let n = 0;
    for (const relay of this.#relaysByServer.values()) if (!relay.finalSent) n++;
    return n + (this.#lane?.inFlight ?? 0);
  }

  close(): void {
    this.#closed = true;
    this.#lane?.close();
    this.#driver.close();
  }

  // ---- transmissions out (the loop that drains the layer is TransactionDriver) ----------------------------

  #transmit(t: Transmission): void {
    const message = t.message;
    const flow = t.flow;
    if (flow === undefined) {
      this.#drop('no-flow', message);
      return;
    }
    const udp = flow.transport === 'UDP';
    const id = t.transactionId;
    let bytes: Uint8Array | undefined;
    if (udp) {
      if (id === undefined) bytes = this.#statelessUdpBytes.get(message);
      else {
        const kept = this.#udpBytes.get(id);
        if (kept?.message === message) bytes = kept.bytes;
      }
    }
    const again = bytes !== undefined;
    if (bytes === undefined) {
      try {
        bytes = serialize(message);
      } catch (error) {
        this.#o.log.warn({ err: error, ...describeMessage(message) }, 'cannot serialize');
        this.#drop('serialize', message);
        return;
      }
      if (udp) {
        // Stateless: only a 2xx to INVITE is ever sent again (the same response object, see #start2xx).
        if (id === undefined) {
          if (message.kind === 'response') this.#statelessUdpBytes.set(message, bytes);
        } else this.#udpBytes.set(id, { message, bytes });
      }
    }
    const fail = (): void => {
      if (t.transactionId !== undefined) this.#layer.transportError(t.transactionId, this.#clock());
      else this.#drop('send-failed', message);
    };
    switch (flow.transport) {
      case 'WS':
      case 'WSS': {
        const id = Number(flow.flowId?.slice(WS_FLOW_PREFIX.length));
        const ws = this.#flows.get(id);
        this.#o.metrics.messagesOut.inc(GatewayMetrics.labels('ws', message));
        if (ws === undefined || !ws.send(bytes)) fail();
        return;
      }
      case 'UDP': {
        const to = this.#remote(flow.remote);
        if (to === undefined) return fail();
        this.#o.metrics.messagesOut.inc(GatewayMetrics.labels('udp', message));
        if (again) this.#o.metrics.retransmissions.inc({ kind: message.kind });
        this.#o.net.sendUdp(bytes, to.host, to.port);
        return;
      }
      case 'TCP': {
        const to = this.#remote(flow.remote);
        if (to === undefined) return fail();
        const connectionId = flow.flowId?.startsWith(TCP_FLOW_PREFIX)
          ? Number(flow.flowId.slice(TCP_FLOW_PREFIX.length))
          : undefined;
        this.#o.metrics.messagesOut.inc(GatewayMetrics.labels('tcp', message));
        this.#o.net.sendTcp(bytes, { connectionId, host: to.host, port: to.port }, () => {
          // Reported asynchronously (a failed connect): feed it back through the loop.
          fail();
          this.#driver.pump(this.#clock());
        });
        return;
      }
      case 'TLS':
      case 'SCTP':
        fail();
        return;
    }
  }

  #handle(event: TransactionEvent, now: number): void {
    switch (event.type) {
      case 'request':
        this.#onRequest(event.transactionId, event.request, event.flow, now);
        return;
      case 'response':
        this.#onResponse(event.transactionId, event.response, event.retransmission, now);
        return;
      case 'ack':
        this.#onAck(event.request, event.flow);
        return;
      case 'stray-response':
        this.#onStrayResponse(event.response, event.flow);
        return;
      case 'cancel':
        this.#onCancel(event.transactionId, now);
        return;
      case 'timeout':
        this.#onTimeout(event.transactionId, event.timer, now);
        return;
      case 'transport-error':
        this.#onTransportError(event.transactionId, now);
        return;
      case 'terminated':
        this.#udpBytes.delete(event.transactionId);
        this.#onTerminated(event.transactionId);
        return;
    }
  }

  // ---- requests ----------------------------------------------------------------------------------------------

  #onRequest(serverId: string, request: SipRequest, flow: FlowInfo | undefined, now: number): void {
    if (flow === undefined) return;
    const fromWs = flow.transport === 'WS' || flow.transport === 'WSS';
    try {
      if (fromWs) this.#requestFromWs(serverId, request, flow, now);
      else this.#requestFromNet(serverId, request, flow, now);
    } catch (error) {
      // A malformed header the lazy parse had not looked at yet, or a value we cannot re-serialize.
      this.#o.log.info({ err: error, ...describeMessage(request) }, 'cannot relay request');
      this.#reply(serverId, request, 400, now);
    }
  }

  /** RFC 3261 §16.3–§16.6 for a request from a browser: it goes to the upstream, and only there. */
  #requestFromWs(serverId: string, request: SipRequest, flow: FlowInfo, now: number): void {
    const connectionId = Number(flow.flowId?.slice(WS_FLOW_PREFIX.length));
    const ws = this.#flows.get(connectionId);
    if (ws === undefined) return;
    // What the parse (and the layer) already read, read before the Via is rewritten (which drops it all).
    const maxForwards = request.maxForwards;
    const routes = request.route;
    const dialog = formsDialog(request);
    const seed = branchSeed(request);
    // RFC 7118 §5.2 / RFC 3581: the sent-by is an .invalid name; record where the request really came from.
    if (!this.#stamp(serverId, request, ws.remoteHost, ws.remotePort, true, now)) return;
    // §9.2 / §16.10: a CANCEL that matched no transaction (the layer answers matching ones).
    if (request.method === 'CANCEL') return this.#reply(serverId, request, 481, now);

    const forwarded = request.clone();
    // §16.3 step 3 / §16.6 step 3.
    if (!takeMaxForwards(forwarded, maxForwards)) return this.#reply(serverId, request, 483, now);
    // §16.4: loose routing; the next hop is the upstream whatever the rest of the route set says.
    if (routes.length > 0) popOwnRoutes(forwarded, this.#o.own, routes);

    const upstream = this.#o.upstream;
    let transport: SignalTransport = upstream.transport;
    const port = (t: SignalTransport): number =>
      (t === 'tcp' ? this.#o.publicPorts.tcp : this.#o.publicPorts.udp) ?? this.#o.publicPorts.ws;

    if (request.method === 'REGISTER') {
      if (this.#o.usePath) {
        // RFC 3327 §5.2, RFC 5626 §5.1: we are the first hop; later requests for this contact come back through us.
        addPath(
          forwarded,
          hopUri(ws.token, this.#o.publicHost, port(transport), transport, wantsOutbound(request)),
        );
      } else {
        rewriteContactsForCompat(forwarded, ws.token, this.#o.publicHost, port(transport), transport);
      }
      this.#registered.add(connectionId);
    }
    // §18.1.1: a request over 1300 bytes goes over a congestion-controlled transport. The size is the browser's
    // plus what we add (Via, received/rport, Path or two Record-Routes); serialized only when unknown.
    if (transport === 'udp' && this.#o.net.tcpAvailable) {
      const base =
        (request === this.#receiving ? this.#receivingSize : 0) || serializeMessage(forwarded).length;
      const added = 160 + (request.method === 'REGISTER' ? 100 : 0) + (dialog ? 200 : 0);
      if (base + added > this.#maxUdp) transport = 'tcp';
    }
    if (dialog) {
      // RFC 5658 §4: one Record-Route for each side, both naming the flow.
      addRecordRoutes(
        forwarded,
        hopUri(ws.token, this.#o.publicHost, this.#o.publicPorts.ws, ws.transport),
        hopUri(ws.token, this.#o.publicHost, port(upstream.transport), upstream.transport),
      );
    }
    const branch = branchFromSeed(seed, ws.token);
    pushVia(forwarded, formatOwnVia(transport, this.#o.publicHost, port(transport), branch));
    this.#startClient(
      serverId,
      request,
      forwarded,
      'ws',
      connectionId,
      flow,
      this.#upstreamFlow(transport),
      now,
    );
  }

  /** A request from the network side: it must name a live flow with a valid token. */
  #requestFromNet(serverId: string, request: SipRequest, flow: FlowInfo, now: number): void {
    // What the parse (and the layer) already read, read before the Via may be rewritten (which drops it all).
    const maxForwards = request.maxForwards;
    const routes = request.route;
    const dialog = formsDialog(request);
    const seed = branchSeed(request);
    const source = this.#remote(flow.remote);
    if (source !== undefined && !this.#stamp(serverId, request, source.host, source.port, false, now)) return;
    if (request.method === 'CANCEL') return this.#reply(serverId, request, 481, now);
    const forwarded = request.clone();
    const target = this.#targetFlow(forwarded, flow, routes);
    if (target.kind !== 'ok') {
      if (target.kind === 'us') {
        // A request for the gateway itself: keep-alive OPTIONS are answered, anything else is not served here.
        return this.#reply(serverId, request, request.method === 'OPTIONS' ? 200 : 404, now);
      }
      this.#o.log.info(
        { ...describeMessage(request), reason: target.kind, source: flow.remote },
        'refused request',
      );
      this.#o.metrics.drops.inc({ reason: `net-${target.kind}` });
      return this.#reply(serverId, request, target.status, now);
    }
    const ws = target.flow;
    if (!takeMaxForwards(forwarded, maxForwards)) return this.#reply(serverId, request, 483, now);
    if (dialog) {
      const netTransport: SignalTransport = flow.transport === 'TCP' ? 'tcp' : 'udp';
      const netPort = (netTransport === 'tcp' ? this.#o.publicPorts.tcp : this.#o.publicPorts.udp) ?? 5060;
      addRecordRoutes(
        forwarded,
        hopUri(ws.token, this.#o.publicHost, netPort, netTransport),
        hopUri(ws.token, this.#o.publicHost, this.#o.publicPorts.ws, ws.transport),
      );
    }
    const branch = branchFromSeed(seed, ws.token);
    pushVia(forwarded, formatOwnVia(ws.transport, this.#o.publicHost, this.#o.publicPorts.ws, branch));
    this.#startClient(serverId, request, forwarded, 'net', ws.connectionId, flow, this.#wsFlowInfo(ws), now);
  }

  /**
   * Which browser a request from the network side is for: the flow token in the Route values naming us (Path or
   * Record-Route), else in the Request-URI (compatibility mode). Pops our Route values and, in compatibility
   * mode, restores the Request-URI the browser registered.
   */
  #targetFlow(
    request: SipRequest,
    from: FlowInfo,
    routes = request.route,
  ):
    | { kind: 'ok'; flow: WsFlowHandle }
    | { kind: 'us' }
    | { kind: 'no-token' | 'forged' | 'gone'; status: number } {
    const popped = popOwnRoutes(request, this.#o.own, routes);
    let token = popped.find((route) => route.uri.user !== undefined)?.uri.user;
    if (token === undefined) {
      token = compatTokenOf(request.uri);
      const original = token === undefined ? undefined : originalContactUri(request.uri);
      if (original !== undefined) request.uri = original;
    }
    if (token === undefined) {
      if (request.headers.has('route'))
        return { kind: 'no-token', status: this.#fromUpstream(from) ? 404 : 403 };
      if (this.#o.own.isOurs(request.uri) && request.uri.user === undefined) return { kind: 'us' };
      return { kind: 'no-token', status: this.#fromUpstream(from) ? 404 : 403 };
    }
    const check = this.#o.tokens.verify(token);
    if (check.status === 'forged') return { kind: 'forged', status: 403 };
    const ws = check.status === 'ok' ? this.#flows.get(check.connectionId) : undefined;
    // RFC 5626 §5.3: the flow is gone.
    if (ws === undefined) return { kind: 'gone', status: 430 };
    return { kind: 'ok', flow: ws };
  }

  #fromUpstream(flow: FlowInfo): boolean {
    const from = this.#remote(flow.remote);
    const up = this.#o.upstream;
    if (from === undefined || bareHost(from.host) !== bareHost(up.host)) return false;
    // A TCP peer connects from an ephemeral port; a UDP one sends from its listening port.
    return flow.transport === 'TCP' || from.port === up.port;
  }

  #startClient(
    serverId: string,
    original: SipRequest,
    forwarded: SipRequest,
    from: 'ws' | 'net',
    connectionId: number,
    serverFlow: FlowInfo,
    target: FlowInfo,
    now: number,
  ): void {
    const relay: Relay = {
      serverId,
      clientId: undefined,
      method: original.method,
      from,
      connectionId,
      serverFlow,
      startedAt: now,
      finalSent: false,
      provisionalSeen: false,
      cancelled: false,
      timerC: undefined,
    };
    this.#relaysByServer.set(serverId, relay);
    let handle;
    try {
      handle = this.#layer.sendRequest(forwarded, now, { reliable: target.reliable, flow: target });
    } catch (error) {
      // A client transaction with this branch exists: the same request came twice on different flows.
      this.#o.log.info({ err: error, ...describeMessage(original) }, 'duplicate client transaction');
      return this.#reply(serverId, original, 482, now);
    }
    relay.clientId = handle.id;
    this.#relaysByClient.set(handle.id, relay);
    if (original.method === 'INVITE') this.#armTimerC(relay, now);
    if (this.#o.log.isLevelEnabled('debug'))
      this.#o.log.debug({ ...describeMessage(original), from, connectionId }, 'relayed request');
  }

  #upstreamFlow(transport: SignalTransport): FlowInfo {
    return transport === 'tcp' ? this.#upstreamFlows.tcp : this.#upstreamFlows.udp;
  }

  // ---- responses ---------------------------------------------------------------------------------------------

  #onResponse(clientId: string, response: SipResponse, retransmission: boolean, now: number): void {
    const relay = this.#relaysByClient.get(clientId);
    // The responses to our own CANCELs end here (§16.10).
    if (relay === undefined) return;
    // A final response ends the retransmissions of the request (Timers E/A stop): its bytes are not needed (an
    // ACK the layer sent for a non-2xx, and re-sends for each retransmitted response, stays).
    if (response.status >= 200) {
      const kept = this.#udpBytes.get(clientId)?.message;
      if (kept?.kind === 'request' && kept.method !== 'ACK') this.#udpBytes.delete(clientId);
    }
    // §16.7 step 3: our Via goes.
    popVia(response);
    if (response.headers.get('via') === undefined) return;
    const status = response.status;
    if (relay.method === 'INVITE' && status > 100 && status < 200) {
      relay.provisionalSeen = true;
      this.#armTimerC(relay, now);
    }
    // §16.7 step 5: a 100 is not forwarded (the server transaction sends its own).
    if (status === 100) return;
    if (relay.method === 'REGISTER' && relay.from === 'ws') {
      try {
        restoreContactsForCompat(response);
      } catch {
        // A Contact we cannot parse is passed on as it came.
      }
    }
    this.#forwardResponse(relay, response, retransmission, now);
  }

  #forwardResponse(relay: Relay, response: SipResponse, retransmission: boolean, now: number): void {
    const status = response.status;
    const final = status >= 200;
    try {
      if (this.#layer.transaction(relay.serverId) === undefined)
        throw new InvalidStateError('server transaction gone');
      this.#layer.respond(relay.serverId, response, now);
    } catch (error) {
      if (!(error instanceof InvalidStateError)) throw error;
      // §16.7 step 10: a 2xx to INVITE is forwarded even when the server transaction cannot take it.
      if (relay.method === 'INVITE' && status >= 200 && status < 300) {
        this.#layer.sendStateless(response, relay.serverFlow);
      } else {
        this.#drop('late-response', response);
        return;
      }
    }
    if (final && !relay.finalSent) {
      relay.finalSent = true;
      relay.timerC = undefined;
      if (relay.from === 'ws') {
        this.#o.metrics.relayLatency.observe((now - relay.startedAt) / 1000, { method: relay.method });
      }
    }
    // The browser will not re-send its 2xx over WebSocket: re-send it toward UDP until the ACK comes.
    if (
      relay.method === 'INVITE' &&
      status >= 200 &&
      status < 300 &&
      relay.from === 'net' &&
      !retransmission &&
      relay.serverFlow.transport === 'UDP'
    ) {
      this.#start2xx(response, relay.serverFlow, now);
    }
  }

  #onStrayResponse(response: SipResponse, flow: FlowInfo | undefined): void {
    // §16.7 / §18.1.2: no transaction; forward statelessly when the top Via is ours and the next hop is allowed.
    const token = tokenOfBranch(response.topVia?.branch);
    if (token === undefined || flow === undefined) return this.#drop('stray-response', response);
    const check = this.#o.tokens.verify(token);
    if (check.status !== 'ok') return this.#drop('stray-response', response);
    popVia(response);
    const next = response.topVia;
    if (next === undefined) return this.#drop('stray-response', response);
    if (flow.transport === 'WS' || flow.transport === 'WSS') {
      // From a browser toward the network side: only ever to the upstream.
      const host = next.received ?? next.host;
      const port = typeof next.rport === 'number' ? next.rport : (next.port ?? 5060);
      const up = this.#o.upstream;
      if (bareHost(host) !== bareHost(up.host) || port !== up.port)
        return this.#drop('stray-response', response);
      this.#layer.sendStateless(response, this.#upstreamFlow(next.transport === 'TCP' ? 'tcp' : 'udp'));
      return;
    }
    const ws = this.#flows.get(check.connectionId);
    if (ws === undefined) return this.#drop('flow-gone', response);
    this.#layer.sendStateless(response, this.#wsFlowInfo(ws));
  }

  // ---- ACK, CANCEL, timeouts -----------------------------------------------------------------------------------

  #onAck(ack: SipRequest, flow: FlowInfo | undefined): void {
    if (flow === undefined) return;
    const fromWs = flow.transport === 'WS' || flow.transport === 'WSS';
    const ws = fromWs ? this.#flows.get(Number(flow.flowId?.slice(WS_FLOW_PREFIX.length))) : undefined;
    if (fromWs && ws === undefined) return;
    // RFC 3581 (RFC 7118 §5.2 for a browser): as for every request, where the ACK really came from.
    const source =
      ws === undefined ? this.#remote(flow.remote) : { host: ws.remoteHost, port: ws.remotePort };
    try {
      if (source !== undefined) stampReceived(ack, source.host, source.port, fromWs);
    } catch {
      return this.#drop('bad-via', ack);
    }
    try {
      if (ws !== undefined) {
        const forwarded = ack.clone();
        if (!takeMaxForwards(forwarded)) return this.#drop('max-forwards', ack);
        popOwnRoutes(forwarded, this.#o.own);
        const transport =
          this.#o.upstream.transport === 'udp' && serializeMessage(forwarded).length + 120 > this.#maxUdp
            ? 'tcp'
            : this.#o.upstream.transport;
        const port = (transport === 'tcp' ? this.#o.publicPorts.tcp : this.#o.publicPorts.udp) ?? 5060;
        pushVia(forwarded, formatOwnVia(transport, this.#o.publicHost, port, deriveBranch(ack, ws.token)));
        this.#layer.sendStateless(forwarded, this.#upstreamFlow(transport));
        return;
      }
      // From the network side: the ACK of a 2xx we were re-sending ends the re-sending.
      const key = ack2xxKey(ack.callId, ack.cseq.seq, ack.toTag);
      this.#pending2xx.delete(key);
      const forwarded = ack.clone();
      const target = this.#targetFlow(forwarded, flow);
      if (target.kind !== 'ok') return this.#drop(`ack-${target.kind}`, ack);
      if (!takeMaxForwards(forwarded)) return this.#drop('max-forwards', ack);
      const browser = target.flow;
      pushVia(
        forwarded,
        formatOwnVia(
          browser.transport,
          this.#o.publicHost,
          this.#o.publicPorts.ws,
          deriveBranch(ack, browser.token),
        ),
      );
      this.#layer.sendStateless(forwarded, this.#wsFlowInfo(browser));
    } catch (error) {
      this.#o.log.info({ err: error, ...describeMessage(ack) }, 'cannot relay ACK');
      this.#drop('bad-ack', ack);
    }
  }

  /** §16.10: a CANCEL matched a server transaction (and was answered 200): cancel what we forwarded. */
  #onCancel(serverId: string, now: number): void {
    const relay = this.#relaysByServer.get(serverId);
    if (relay === undefined || relay.clientId === undefined) return;
    relay.cancelled = true;
    this.#cancelClient(relay, now);
  }

  #cancelClient(relay: Relay, now: number): void {
    if (relay.clientId === undefined || relay.method !== 'INVITE') return;
    try {
      this.#layer.cancel(relay.clientId, now);
    } catch (error) {
      // Already final or gone: nothing to cancel.
      if (!(error instanceof InvalidStateError)) throw error;
    }
  }

  #onTimeout(transactionId: string, timer: string, now: number): void {
    const relay = this.#relaysByClient.get(transactionId);
    if (relay === undefined || relay.finalSent) return;
    // §16.8: a client transaction timing out counts as a 408; a cancelled INVITE that never answered, a 487.
    this.#replyFinal(relay, timer === 'cancel' || relay.cancelled ? 487 : 408, now);
  }

  #onTransportError(transactionId: string, now: number): void {
    const relay = this.#relaysByClient.get(transactionId);
    if (relay !== undefined) {
      if (relay.finalSent) return;
      // RFC 5626 §5.3: the browser's connection failed under the request → 430; the upstream failed → 503.
      this.#replyFinal(relay, relay.from === 'net' ? 430 : 503, now);
      return;
    }
    // A server transaction whose connection is gone: an INVITE it was waiting for is no longer wanted.
    const served = this.#relaysByServer.get(transactionId);
    if (served !== undefined && !served.finalSent) this.#cancelClient(served, now);
  }

  #onTerminated(transactionId: string): void {
    const asClient = this.#relaysByClient.get(transactionId);
    if (asClient !== undefined) {
      this.#relaysByClient.delete(transactionId);
      // The server transaction may outlive its client one (Timer J over UDP); the relay goes with the later one.
      if (this.#layer.transaction(asClient.serverId) === undefined)
        this.#relaysByServer.delete(asClient.serverId);
      return;
    }
    const asServer = this.#relaysByServer.get(transactionId);
    if (asServer !== undefined) {
      if (asServer.clientId === undefined || this.#layer.transaction(asServer.clientId) === undefined)
        this.#relaysByServer.delete(transactionId);
      else if (!asServer.finalSent) this.#cancelClient(asServer, this.#clock());
    }
  }

  // ---- own timers: Timer C, 2xx re-sending ---------------------------------------------------------------------

  #armTimerC(relay: Relay, now: number): void {
    const at = now + this.#timerC;
    relay.timerC = at;
    this.#driver.schedule(at, { kind: 'C', serverId: relay.serverId, at });
  }

  #start2xx(response: SipResponse, flow: FlowInfo, now: number): void {
    let key: string;
    try {
      key = ack2xxKey(response.callId, response.cseq.seq, response.toTag);
    } catch {
      return;
    }
    const t1 = this.#layer.timers.T1;
    const entry: Pending2xx = { key, response, flow, interval: t1, nextAt: now + t1, until: now + 64 * t1 };
    this.#pending2xx.set(key, entry);
    this.#driver.schedule(entry.nextAt, { kind: '2xx', key, at: entry.nextAt });
  }

  #fireOwn(timer: OwnTimer, now: number): void {
    if (timer.kind === 'lane') {
      this.#lane?.tick(now);
      return;
    }
    if (timer.kind === 'C') {
      const relay = this.#relaysByServer.get(timer.serverId);
      if (relay === undefined || relay.finalSent || relay.timerC !== timer.at) return;
      // §16.8: Timer C fired: CANCEL a branch that had a provisional response, else treat it as a 408.
      relay.timerC = undefined;
      if (relay.provisionalSeen) this.#cancelClient(relay, now);
      else this.#replyFinal(relay, 408, now);
      return;
    }
    const entry = this.#pending2xx.get(timer.key);
    if (entry === undefined || entry.nextAt !== timer.at) return;
    if (now >= entry.until) {
      this.#pending2xx.delete(timer.key);
      return;
    }
    this.#layer.sendStateless(entry.response, entry.flow);
    entry.interval = Math.min(entry.interval * 2, this.#layer.timers.T2);
    entry.nextAt = now + entry.interval;
    this.#driver.schedule(entry.nextAt, { kind: '2xx', key: timer.key, at: entry.nextAt });
  }

  // ---- local answers -----------------------------------------------------------------------------------------

  #replyFinal(relay: Relay, status: number, now: number): void {
    const server = this.#layer.transaction(relay.serverId);
    if (server === undefined) return;
    this.#reply(relay.serverId, server.request, status, now);
    relay.finalSent = true;
    if (relay.from === 'ws')
      this.#o.metrics.relayLatency.observe((now - relay.startedAt) / 1000, { method: relay.method });
  }

  #reply(serverId: string, request: SipRequest, status: number, now: number): void {
    const headers: Record<string, string> = {};
    if (status === 503) headers['Retry-After'] = '5';
    const toTag = status === 100 ? undefined : randomTag(this.#random);
    try {
      this.#layer.respond(serverId, createResponse(request, status, { toTag, headers }), now);
    } catch (error) {
      if (!(error instanceof InvalidStateError)) throw error;
    }
  }

  #drop(reason: string, message: SipMessage): void {
    this.#o.metrics.drops.inc({ reason });
    if (this.#o.log.isLevelEnabled('debug'))
      this.#o.log.debug({ reason, ...describeMessage(message) }, 'dropped');
  }

  /**
   * RFC 3581 / RFC 7118 §5.2: `received`/`rport` on the top Via of a request that opened a server transaction.
   * Done in the request handlers, after the layer matched the request and the handler read the parsed fields it
   * needs (rewriting the Via drops the message's parsed views). False (and a 400) when the Via cannot be written.
   */
  #stamp(
    serverId: string,
    request: SipRequest,
    host: string,
    port: number,
    always: boolean,
    now: number,
  ): boolean {
    try {
      stampReceived(request, host, port, always);
      return true;
    } catch {
      this.#drop('bad-via', request);
      this.#reply(serverId, request, 400, now);
      return false;
    }
  }

  /** A FlowInfo `remote` as host and port (memoised: nearly every one is the upstream's). */
  #remote(remote: string | undefined): { host: string; port: number } | undefined {
    if (remote === undefined) return undefined;
    let parsed = this.#remotes.get(remote);
    if (parsed === undefined && !this.#remotes.has(remote)) {
      parsed = parseRemote(remote);
      if (this.#remotes.size >= 1024) this.#remotes.clear();
      this.#remotes.set(remote, parsed);
    }
    return parsed;
  }

  // ---- flows -------------------------------------------------------------------------------------------------

  #wsFlowInfo(flow: WsFlowHandle): FlowInfo {
    let info = this.#wsFlowInfos.get(flow.connectionId);
    if (info === undefined) {
      info = {
        transport: flow.transport === 'wss' ? 'WSS' : 'WS',
        reliable: true,
        remote: formatRemote(flow.remoteHost, flow.remotePort),
        flowId: WS_FLOW_PREFIX + String(flow.connectionId),
      };
      // Only for a live flow (a handle of a flow that has gone must not come back into the map).
      if (this.#flows.get(flow.connectionId) === flow) this.#wsFlowInfos.set(flow.connectionId, info);
    }
    return info;
  }

  #netFlowInfo(source: NetSource): FlowInfo {
    const up = this.#o.upstream;
    // Datagrams from the upstream's own address: one FlowInfo for all of them.
    if (source.transport === 'udp' && source.port === up.port && source.host === up.host)
      return this.#upstreamFlows.udp;
    const remote = formatRemote(source.host, source.port);
    return source.transport === 'tcp'
      ? {
          transport: 'TCP',
          reliable: true,
          remote,
          flowId: TCP_FLOW_PREFIX + String(source.connectionId ?? 0),
        }
      : { transport: 'UDP', reliable: false, remote };
  }
}

/**
 * serializeMessage's bytes, in a buffer of their exact size from Node's pool: serializeMessage reserves three
 * bytes per character of the head (a fresh, zero-filled ArrayBuffer for every message), and the bytes of a
 * request stay with its transaction while it may be retransmitted.
 */
function serialize(message: SipMessage): Uint8Array {
  const body = message.body;
  const head = serializeHead(message, body.length);
  const headBytes = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headBytes + body.length);
  out.write(head, 0, 'utf8');
  out.set(body, headBytes);
  return out;
}

function ack2xxKey(callId: string, seq: number, toTag: string | undefined): string {
  return `${callId}\n${seq}\n${toTag ?? ''}`;
}
