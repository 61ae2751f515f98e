/**
 * The embedded SIP core: registrar (RFC 3261 §10), forking proxy (§16) with caller preferences (RFC 3840/3841),
 * store-and-forward for MESSAGE (RFC 3428 §7) with IMDN "stored" notifications (RFC 5438), and the MESSAGE
 * URI-list service (RFC 5365, uri-list.ts), behind the gateway's edge proxy.
 *
 *   browser ──WS── EdgeProxy ══ link ══ SipCore ──UDP/TCP :5060── outside SIP peers
 *                 (flow tokens,        (registrar, location,
 *                  Path, 430)           forking, message store)
 *
 * How it works. The edge proxy treats the core as its upstream: every request of a browser reaches the core with
 * the edge's Via and, on REGISTER, a Path naming the browser's flow; requests of the core for a browser go back to
 * the edge with that Path as Route, and the edge delivers them on the flow or answers 430 when it is gone. The
 * link carries parsed messages in both directions (serialized and re-parsed by the gateway so the two
 * transaction layers never share an object). Outside peers reach the core on its own UDP/TCP listeners.
 *
 * One TransactionLayer holds the core's transactions (the edge has its own). For each new request the TU decides:
 * REGISTER → registrar; OPTIONS for the core → 200; a request for a local user → the location service, caller
 * preferences, then a Fork: the targets grouped by q, each group forked in parallel, the next group tried when
 * every branch of the current one failed or the branch timeout passed (pending INVITE branches are then
 * CANCELled). A 2xx ends the search at once; a 6xx ends it when the cancelled branches have finished; otherwise
 * the best response (best-response.ts) goes back. A MESSAGE for a user with no contact (or whose contacts all
 * failed with 408/430/480/503) is stored and answered 202; stored messages are delivered, oldest first and one
 * at a time, by an internal Fork when a contact registers.
 *
 * A MESSAGE to `sip:uri-list@<domain>` goes to the URI-list service: the sender (a local user) is authenticated
 * with digest, the request is checked (uri-list.ts) and answered 202, then the core originates one copy per
 * recipient (#originate), which takes the same path as a request from a browser (location, caller preferences,
 * forking, the store) without a server transaction; each copy's outcome is logged and counted, and a failed one
 * is reported to the sender with an IMDN when the message asked for negative delivery notifications.
 *
 * The core is also the presence agent of its users (presence-agent.ts, RFC 3856 §3): a PUBLISH for a local AOR and
 * a SUBSCRIBE with Event: presence to one (or in one of the agent's dialogs, which name the core as Contact) is
 * authenticated with digest (the publisher must be the presentity, the watcher a local user) and handed to the
 * agent; its NOTIFYs go out through #proxy like any request the core originates (along the dialog's route set,
 * which leads back through the edge to the watcher's flow), and its expiry runs on the driver's timer.
 *
 * Decisions where the RFCs leave a choice:
 *  - Only local users are served: a request for another domain gets 403 (never an open relay), in-dialog
 *    requests are forwarded only along a route set the core is in (it Record-Routes dialog-forming requests).
 *  - Requests to local users are not authenticated (like mail to a local mailbox); REGISTER always is.
 *  - The branch timeout applies to every group but the last one; the last group runs to Timer C (180 s) for
 *    INVITE, and for other requests until 48·T1 (¾ of Timer F) after the fork began, so that the caller gets an
 *    answer before its own transaction times out. A MESSAGE branch cannot be cancelled (§9.1): at a timeout it is
 *    abandoned (a late 2xx still counts, a late failure is ignored); a MESSAGE that no device took is stored.
 *  - A 430 from the edge (the flow is gone) removes that binding (RFC 5626 §5.3).
 *  - Stored messages keep their From, To, Call-ID and CSeq so a device can recognise a re-delivery.
 *  - The IMDNs the core sends as an intermediary go only to local senders (never relayed elsewhere); a "stored"
 *    one comes From the recipient's AOR (it is about that recipient), a URI-list "failed" one From the service.
 */
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';

import type { Logger } from 'pino';
import { TransactionDriver } from '../net/transaction-driver.ts';

import {
  InvalidStateError,
  TransactionLayer,
  createResponse,
  formatDate,
  formatNameAddr,
  parseAuthorization,
  parseMessage,
  parseUri,
  serializeMessage,
  wantsNotification,
  type CpimMessage,
  type FlowInfo,
  type NameAddr,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type TimerValues,
  type TransactionEvent,
  type Transmission,
  type Uri,
} from '../../web/src/sip/server.ts';
import {
  bareHost,
  formatOwnVia,
  formatRemote,
  formsDialog,
  parseRemote,
  popOwnRoutes,
  popVia,
  pushVia,
  stampReceived,
  takeMaxForwards,
  tokenOfBranch,
  type OwnAddresses,
} from '../edge/rewrite.ts';
import type { Counter, GatewayMetrics } from '../metrics.ts';
import { chooseBestResponse } from './best-response.ts';
import { featureSet, parseQ, preference, requestDisposition, targetGroups } from './caller-prefs.ts';
import { DigestGuard, type DigestChallengeAlgorithm } from './digest-guard.ts';
import { imdnNotice, originalToOf, requestedNotification } from './imdn-notice.ts';
import { LocationService, type Binding, type BindingInput } from './location.ts';
import { coreBranch, isLoop, loopHash } from './loop.ts';
import type { MessageStore } from './message-store.ts';
import { PRESENCE_EVENT, PresenceAgent, type PresenceNotify } from './presence-agent.ts';
import {
  URI_LIST_ACCEPT,
  URI_LIST_USER,
  buildCopy,
  copyBody,
  parseUriListRequest,
  type ListRecipient,
} from './uri-list.ts';
import type { UserDirectory } from './users.ts';
import type { NetSender, NetSource } from '../edge/edge-proxy.ts';

/** Where a message from the network side came from (the edge's shape). */
export type CoreNetSource = NetSource;

/** The core's sockets toward outside peers: the edge's, and whether a UDP listener runs. */
export interface CoreNet extends NetSender {
  readonly udpAvailable: boolean;
}

/** The link to the edge proxy. */
export interface CoreLink {
  /** hand a message to the edge proxy (as if it came from its upstream) */
  send(message: SipMessage): void;
  /** does this URI name the edge proxy (a Path or Record-Route value with a flow token)? */
  isEdgeUri(uri: Uri): boolean;
  /** the sent-by of the core's Via on the link (what the edge takes for its upstream) */
  readonly via: { readonly host: string; readonly port: number };
}

export interface SipCoreOptions {
  /** the SIP domain of the users (and the digest realm) */
  readonly domain: string;
  readonly users: UserDirectory;
  readonly store: MessageStore | undefined;
  /** what goes into the core's Via and Record-Route toward outside peers */
  readonly publicHost: string;
  readonly ports: { readonly udp?: number | undefined; readonly tcp?: number | undefined };
  /** names and ports that mean the core (Route popping, Request-URIs for the core itself) */
  readonly own: OwnAddresses;
  /** host names that are aliases of the domain (any port): the local addresses */
  readonly localHosts: ReadonlySet<string>;
  readonly link: CoreLink;
  readonly net: CoreNet;
  readonly log: Logger;
  readonly metrics?: GatewayMetrics | undefined;
  /** monotonic milliseconds; default performance.now */
  readonly clock?: (() => number) | undefined;
  /** wall-clock milliseconds for Date/Expires; default Date.now */
  readonly wallClock?: (() => number) | undefined;
  readonly random?: (() => number) | undefined;
  readonly timers?: Partial<TimerValues> | undefined;
  /** how long a group of branches may ring before the next group is tried (ms); default 10 s */
  readonly branchTimeoutMs?: number | undefined;
  /** §16.6 step 11: Timer C for the last group of an INVITE fork (ms); default 180 s */
  readonly timerCMs?: number | undefined;
  readonly minExpires?: number | undefined;
  /** digest challenges offered, in order of preference (default SHA-256, MD5) */
  readonly digestAlgorithms?: readonly DigestChallengeAlgorithm[] | undefined;
  readonly maxExpires?: number | undefined;
  readonly defaultExpires?: number | undefined;
  readonly nonceLifetimeMs?: number | undefined;
  readonly maxAuthFailures?: number | undefined;
  /** how long a stored MESSAGE without Expires is kept (ms); default 7 days */
  readonly storeMaxAgeMs?: number | undefined;
  /** the most recipients one URI-list MESSAGE may name (RFC 5365); default 50 */
  readonly maxListRecipients?: number | undefined;
}

/** What became of one recipient of a URI-list MESSAGE. */
export type ListOutcome = 'delivered' | 'stored' | 'failed';

/** The result of storing a MESSAGE: the status to answer, and whether a new row was written. */
interface StoreResult {
  readonly status: number;
  readonly reason?: string | undefined;
  readonly headers?: Record<string, string> | undefined;
  /** stored now or before (a duplicate): delivery should be tried */
  readonly accepted: boolean;
  /** a new row (not a duplicate) */
  readonly stored: boolean;
}

interface Target {
  readonly uri: Uri;
  /** Route values to put on top (a binding's Path) */
  readonly route: readonly string[];
  readonly binding: Binding | undefined;
}

interface Branch {
  readonly clientId: string;
  readonly target: Target;
  readonly group: number;
  final: boolean;
  /** given up on at a group timeout (cancelled or, for non-INVITE, just no longer waited for) */
  abandoned: boolean;
}

/** A proxied request and its branches (RFC 3261 §16's "response context"). */
interface Fork {
  readonly id: number;
  readonly method: string;
  /** the request as it will be forwarded (Max-Forwards taken, own Routes popped, Record-Route added) */
  readonly request: SipRequest;
  /** the server transaction, or undefined for an internal delivery */
  readonly serverId: string | undefined;
  readonly onFinal: ((response: SipResponse | undefined) => void) | undefined;
  readonly hash: string;
  readonly groups: Target[][];
  groupIndex: number;
  readonly branches: Map<string, Branch>;
  readonly finals: SipResponse[];
  readonly noCancel: boolean;
  /** a 2xx went back */
  answered: boolean;
  /** the final response went back (or was handed to onFinal) */
  done: boolean;
  /** a 6xx arrived: no new groups */
  sixxx: boolean;
  /** the deadline of the current group */
  deadline: number | undefined;
  /** a MESSAGE to store when every contact failed */
  readonly storeOnFailure: { aor: string; original: SipRequest } | undefined;
  counter: number;
  readonly startedAt: number;
}

type OwnTimer =
  | { readonly type: 'fork'; readonly forkId: number; readonly at: number }
  | { readonly type: 'presence'; readonly at: number };

const LINK_FLOW_ID = 'edge';
const TCP_FLOW_PREFIX = 'tcp:';
const LINK_FLOW: FlowInfo = { transport: 'TCP', reliable: true, remote: 'edge', flowId: LINK_FLOW_ID };
/** RFC 3261 §20.1/§20.5: what the core answers to OPTIONS and 405 with. */
const ALLOW =
  'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, REFER, INFO, UPDATE, PRACK';
/** Option tags the registrar understands in Require. */
const SUPPORTED = new Set(['path', 'outbound', 'gruu']);
/** Failures after which a MESSAGE is stored rather than refused: no device took it, but none refused it. */
const STORE_ON = new Set([408, 430, 480, 503]);
/** A delivery that failed with one of these is retried at the next registration; others drop the message. */
const RETRY_DELIVERY = new Set([408, 430, 480, 500, 503]);

export class SipCore {
  readonly #o: SipCoreOptions;
  readonly #layer: TransactionLayer;
  readonly #clock: () => number;
  readonly #wall: () => number;
  readonly #random: () => number;
  readonly location = new LocationService();
  readonly #guard: DigestGuard;
  readonly #branchTimeout: number;
  readonly #timerC: number;
  readonly #minExpires: number;
  readonly #maxExpires: number;
  readonly #defaultExpires: number;
  readonly #storeMaxAge: number;
  readonly #forks = new Map<number, Fork>();
  readonly #forkByServer = new Map<string, Fork>();
  readonly #forkByClient = new Map<string, Fork>();
  readonly #delivering = new Set<string>();
  readonly #driver: TransactionDriver<OwnTimer>;
  readonly #serialized = new WeakMap<SipMessage, Uint8Array>();
  #forkIds = 0;
  #closed = false;
  /** messages stored, expired on arrival, and so on (also in /metrics) */
  readonly stats = { stored: 0, duplicates: 0, delivered: 0, refusedExpired: 0, imdnSent: 0 };
  /** the URI-list service: requests accepted (202) and refused, and per-recipient outcomes (also in /metrics) */
  readonly listStats = { accepted: 0, refused: 0, delivered: 0, stored: 0, failed: 0 };
  readonly #maxListRecipients: number;
  #listIds = 0;
  #listRequests: Counter | undefined;
  #listRecipients: Counter | undefined;
  #imdnCounter: Counter | undefined;
  /** the presence agent (presence-agent.ts) and the earliest expiry its timer is armed for */
  readonly presence: PresenceAgent;
  #presenceArmed: number | undefined;
  #presenceRequests: Counter | undefined;
  #presenceNotifies: Counter | undefined;

  constructor(options: SipCoreOptions) {
    this.#o = options;
    this.#clock = options.clock ?? (() => performance.now());
    this.#wall = options.wallClock ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#branchTimeout = options.branchTimeoutMs ?? 10_000;
    this.#timerC = options.timerCMs ?? 180_000;
    this.#minExpires = options.minExpires ?? 60;
    this.#maxExpires = options.maxExpires ?? 3600;
    this.#defaultExpires = Math.min(options.defaultExpires ?? 3600, this.#maxExpires);
    this.#storeMaxAge = options.storeMaxAgeMs ?? 7 * 86_400_000;
    this.#maxListRecipients = options.maxListRecipients ?? 50;
    this.#guard = new DigestGuard({
      realm: options.domain,
      users: options.users,
      nonceLifetimeMs: options.nonceLifetimeMs,
      maxFailures: options.maxAuthFailures,
      algorithms: options.digestAlgorithms,
    });
    this.#layer = new TransactionLayer({
      random: this.#random,
      timers: options.timers,
      log: (line) => {
        options.metrics?.drops.inc({ reason: 'core-transaction-layer' });
        options.log.debug({ detail: line }, 'core: transaction layer dropped a message');
      },
    });
    this.#driver = new TransactionDriver<OwnTimer>({
      layer: this.#layer,
      clock: this.#clock,
      transmit: (t) => this.#transmit(t),
      handle: (event, now) => this.#handle(event, now),
      fire: (item, now) =>
        item.type === 'fork' ? this.#groupTimeout(item, now) : this.#presenceTimer(item, now),
      onHandlerError: (error, event) =>
        options.log.error({ err: error, event: event.type }, 'core: event handling failed'),
    });
    this.presence = new PresenceAgent({
      domain: options.domain.toLowerCase(),
      random: this.#random,
      contact: this.#coreUri(),
      minExpires: this.#minExpires,
    });
    const registry = options.metrics?.registry;
    if (registry !== undefined) {
      registry.gauge(
        'gateway_core_bindings',
        'Registered contacts in the embedded core.',
        () => this.location.size,
      );
      registry.gauge(
        'gateway_core_transactions',
        'Live SIP transactions in the embedded core.',
        () => this.#layer.size,
      );
      registry.gauge(
        'gateway_store_messages',
        'Messages waiting in the store.',
        () => options.store?.size ?? 0,
      );
      registry.gauge(
        'gateway_store_expired',
        'Stored messages dropped because they expired (since the store was made).',
        () => options.store?.counter('expired') ?? 0,
      );
      this.#listRequests = registry.counter(
        'gateway_urilist_requests_total',
        'URI-list MESSAGEs (RFC 5365) by result: accepted (202) or refused (4xx).',
      );
      this.#listRecipients = registry.counter(
        'gateway_urilist_recipients_total',
        'Copies sent by the URI-list service by outcome: delivered, stored, failed.',
      );
      this.#imdnCounter = registry.counter(
        'gateway_core_imdn_total',
        'IMDNs the embedded core sent as an intermediary (RFC 5438), by status: stored, failed.',
      );
      registry.gauge(
        'gateway_presence_publications',
        'Presence publications (RFC 3903) held by the embedded presence agent.',
        () => this.presence.publicationCount,
      );
      registry.gauge(
        'gateway_presence_subscriptions',
        'Presence subscriptions (RFC 3856) served by the embedded presence agent.',
        () => this.presence.subscriptionCount,
      );
      this.#presenceRequests = registry.counter(
        'gateway_presence_requests_total',
        'PUBLISH and SUBSCRIBE answered by the presence agent, by method and status.',
      );
      this.#presenceNotifies = registry.counter(
        'gateway_presence_notifies_total',
        'NOTIFYs sent by the presence agent, by subscription state: active, terminated.',
      );
    }
  }

  // ---- inputs ------------------------------------------------------------------------------------------------

  /** A message from the edge proxy (a browser's request, or a response to the core's request for a browser). */
  receiveFromEdge(message: SipMessage): void {
    if (this.#closed) return;
    const now = this.#clock();
    this.#layer.receive(message, now, LINK_FLOW);
    this.#driver.pump(now);
  }

  /** A message from an outside peer on the core's UDP or TCP listener. */
  receiveFromNet(message: SipMessage, source: CoreNetSource): void {
    if (this.#closed) return;
    const now = this.#clock();
    if (message.kind === 'request') {
      try {
        stampReceived(message, source.host, source.port, false);
      } catch {
        this.#o.metrics?.drops.inc({ reason: 'core-bad-via' });
        return;
      }
    }
    const remote = formatRemote(source.host, source.port);
    const flow: FlowInfo =
      source.transport === 'tcp'
        ? {
            transport: 'TCP',
            reliable: true,
            remote,
            flowId: TCP_FLOW_PREFIX + String(source.connectionId ?? 0),
          }
        : { transport: 'UDP', reliable: false, remote };
    this.#layer.receive(message, now, flow);
    this.#driver.pump(now);
  }

  /** A browser's WebSocket closed: its bindings go (RFC 5626 §5.3). */
  flowClosed(token: string): void {
    const aors = this.location.removeFlow(token);
    if (aors.length > 0) this.#o.log.debug({ aors }, 'core: bindings of a closed flow removed');
    // What that browser published goes with it (presence-agent.ts flowClosed): its watchers see it now.
    const now = this.#clock();
    this.#sendNotifies(this.presence.flowClosed(token, now), now);
    this.#armPresence();
    this.#driver.pump(now);
  }

  /** An outside peer's TCP connection closed. */
  tcpClosed(connectionId: number): void {
    const now = this.#clock();
    this.#layer.flowFailed(TCP_FLOW_PREFIX + String(connectionId), now);
    this.#driver.pump(now);
  }

  /** Forks still waiting for a final response (shutdown waits for them briefly). */
  get inFlight(): number {
    let n = 0;
    for (const fork of this.#forks.values()) if (!fork.done && fork.serverId !== undefined) n++;
    return n;
  }

  close(): void {
    this.#closed = true;
    this.#driver.close();
  }

  // ---- transmissions out (the loop that drains the layer is TransactionDriver) ----------------------------

  #transmit(t: Transmission): void {
    const { message, flow } = t;
    if (flow === undefined) return;
    const fail = (): void => {
      if (t.transactionId !== undefined) this.#layer.transportError(t.transactionId, this.#clock());
    };
    if (flow.flowId === LINK_FLOW_ID) {
      this.#o.link.send(message);
      return;
    }
    let bytes = this.#serialized.get(message);
    if (bytes === undefined) {
      try {
        bytes = serializeMessage(message);
      } catch (error) {
        this.#o.log.warn({ err: error }, 'core: cannot serialize');
        return fail();
      }
      this.#serialized.set(message, bytes);
    }
    const to = flow.remote === undefined ? undefined : parseRemote(flow.remote);
    if (to === undefined) return fail();
    if (flow.transport === 'UDP') {
      this.#o.net.sendUdp(bytes, to.host, to.port);
      return;
    }
    const connectionId = flow.flowId?.startsWith(TCP_FLOW_PREFIX)
      ? Number(flow.flowId.slice(TCP_FLOW_PREFIX.length))
      : undefined;
    this.#o.net.sendTcp(bytes, { connectionId, host: to.host, port: to.port }, () => {
      fail();
      this.#driver.pump(this.#clock());
    });
  }

  #handle(event: TransactionEvent, now: number): void {
    switch (event.type) {
      case 'request':
        this.#onRequest(event.transactionId, event.request, event.flow, now);
        return;
      case 'response':
        this.#onResponse(event.transactionId, event.response, now);
        return;
      case 'ack':
        this.#onAck(event.request, event.flow);
        return;
      case 'stray-response':
        this.#onStrayResponse(event.response);
        return;
      case 'cancel':
        this.#onCancel(event.transactionId, event.toTag, now);
        return;
      case 'timeout':
        this.#onClientFailure(event.transactionId, event.timer === 'cancel' ? 487 : 408, now);
        return;
      case 'transport-error':
        this.#onClientFailure(event.transactionId, 503, now);
        return;
      case 'terminated':
        this.#onTerminated(event.transactionId);
        return;
    }
  }

  // ---- requests ----------------------------------------------------------------------------------------------

  #onRequest(serverId: string, request: SipRequest, flow: FlowInfo | undefined, now: number): void {
    if (flow === undefined) return;
    try {
      this.#route(serverId, request, flow, now);
    } catch (error) {
      // A header the lazy parse had not looked at and that turns out malformed.
      this.#o.log.info({ err: error, method: request.method }, 'core: cannot handle request');
      this.#reply(serverId, request, 400, now);
    }
  }

  #route(serverId: string, request: SipRequest, flow: FlowInfo, now: number): void {
    // §9.2: a CANCEL that matched no transaction (the layer answers the ones that match).
    if (request.method === 'CANCEL') return this.#reply(serverId, request, 481, now);
    const hash = loopHash(request);
    const forwarded = request.clone();
    this.#dropOwnCredentials(forwarded);
    const popped = popOwnRoutes(forwarded, this.#o.own);
    while (forwarded.route[0] !== undefined && this.#isDomainRoute(forwarded.route[0].uri)) {
      forwarded.headers.shift('route');
      popped.push(forwarded.route[0]);
    }
    const forUs = forwarded.route.length === 0 && this.#isCore(forwarded.uri);
    // §16.3 step 3: Max-Forwards (an OPTIONS for us is answered even at 0, §11).
    if (!(forUs && request.method === 'OPTIONS') && !takeMaxForwards(forwarded))
      return this.#reply(serverId, request, 483, now);
    // §16.3 step 4: a loop is the same request coming back through us.
    if (isLoop(request, hash)) return this.#reply(serverId, request, 482, now);
    // §16.3 step 6: Proxy-Require we do not support.
    const proxyRequire = request.proxyRequire;
    if (proxyRequire.length > 0)
      return this.#reply(serverId, request, 420, now, { Unsupported: proxyRequire.join(', ') });

    if (request.method === 'REGISTER' && forwarded.route.length === 0)
      return this.#register(serverId, request, flow, now);

    // In-dialog (or pre-routed) request: follow the route set, which we must be part of.
    if (forwarded.route.length > 0) {
      const next = forwarded.route[0]!.uri;
      if (!this.#o.link.isEdgeUri(next) && popped.length === 0)
        return this.#reply(serverId, request, 403, now);
      return this.#proxy(
        serverId,
        forwarded,
        hash,
        [[{ uri: forwarded.uri, route: [], binding: undefined }]],
        {
          noCancel: false,
        },
        now,
      );
    }
    // A refresh or removal of one of the presence agent's subscriptions (its Contact is the core).
    if (
      request.method === 'SUBSCRIBE' &&
      request.toTag !== undefined &&
      (forUs || this.presence.hasDialog(request))
    )
      return this.#presenceRequest(serverId, request, flow, undefined, now);
    if (forUs) {
      if (request.method === 'OPTIONS')
        return this.#reply(serverId, request, 200, now, {
          Allow: ALLOW,
          Accept: 'application/sdp, text/plain, message/cpim, application/resource-lists+xml',
          Supported: 'path, outbound',
          'Allow-Events': PRESENCE_EVENT,
        });
      return this.#reply(serverId, request, request.method === 'INVITE' ? 404 : 405, now, { Allow: ALLOW });
    }
    if (!this.#isLocal(forwarded.uri)) {
      // A request for a contact of a dialog with no Route (a UA that ignored Record-Route), or for elsewhere.
      if (request.toTag !== undefined && this.#o.link.isEdgeUri(forwarded.uri))
        return this.#proxy(
          serverId,
          forwarded,
          hash,
          [[{ uri: forwarded.uri, route: [], binding: undefined }]],
          {
            noCancel: false,
          },
          now,
        );
      return this.#reply(serverId, request, 403, now, {}, 'Not a local domain (this server is not a relay)');
    }
    const user = forwarded.uri.user;
    if (user === URI_LIST_USER) return this.#uriList(serverId, request, flow, now);
    this.#o.users.refresh?.();
    if (user === undefined || !this.#o.users.has(user)) return this.#reply(serverId, request, 404, now);
    const aor = this.#aor(user);
    // RFC 3856 §3: the core is the presence agent of its users (PUBLISH of any package: it is the compositor).
    if (
      request.method === 'PUBLISH' ||
      (request.method === 'SUBSCRIBE' && PresenceAgent.servesSubscribe(request))
    )
      return this.#presenceRequest(serverId, request, flow, aor, now);

    const bindings = this.location.lookup(aor, now);
    if (bindings.length === 0) {
      if (request.method === 'MESSAGE' && this.#o.store !== undefined)
        return this.#store(serverId, request, aor, now);
      return this.#reply(serverId, request, 480, now);
    }
    const groups = this.#targets(request, bindings);
    // RFC 3841 §7.2.4 (end): caller preferences left no contact.
    if (groups.length === 0) return this.#reply(serverId, request, 480, now);
    if (formsDialog(request)) this.#recordRoute(forwarded);
    const disposition = requestDisposition(request.requestDisposition);
    this.#proxy(
      serverId,
      forwarded,
      hash,
      groups,
      {
        noCancel: !disposition.cancel,
        storeOnFailure:
          request.method === 'MESSAGE' && this.#o.store !== undefined
            ? { aor, original: request }
            : undefined,
      },
      now,
    );
  }

  #targets(request: SipRequest, bindings: readonly Binding[]): Target[][] {
    const accept = request.acceptContact.map((p) => preference(p.params));
    const reject = request.rejectContact.map((p) => preference(p.params));
    const disposition = requestDisposition(request.requestDisposition);
    const candidates = bindings.map((binding) => ({ q: binding.q, features: binding.features, binding }));
    return targetGroups(candidates, accept, reject, disposition).map((group) =>
      group.map(({ binding }) => ({ uri: parseUri(binding.uri), route: binding.path, binding })),
    );
  }

  /** §16.6 step 4: our Record-Route, so in-dialog requests come back through the core to the right flow. */
  #recordRoute(request: SipRequest): void {
    request.headers.prepend('Record-Route', `<${this.#coreUri()};lr>`);
  }

  /** The core's own URI (no user part): its Record-Route, and the Contact of the presence agent's dialogs. */
  #coreUri(): string {
    const { udp, tcp } = this.#o.ports;
    const host = uriHostOf(this.#o.publicHost);
    return udp !== undefined
      ? `sip:${host}:${udp}`
      : tcp !== undefined
        ? `sip:${host}:${tcp};transport=tcp`
        : `sip:${host}:${this.#o.link.via.port};transport=tcp`;
  }

  // ---- registrar (RFC 3261 §10.3) ------------------------------------------------------------------------------

  #register(serverId: string, request: SipRequest, flow: FlowInfo, now: number): void {
    // Step 1: the domain must be ours.
    if (!this.#isLocal(request.uri) && !this.#isCore(request.uri))
      return this.#reply(serverId, request, 403, now, {}, 'Not a local domain');
    // Step 2: Require.
    const unsupported = request.require.filter((tag) => !SUPPORTED.has(tag.toLowerCase()));
    if (unsupported.length > 0)
      return this.#reply(serverId, request, 420, now, { Unsupported: unsupported.join(', ') });
    const to = request.to.uri;
    if (!this.#isLocal(to) || to.user === undefined) return this.#reply(serverId, request, 404, now);
    const user = to.user;
    const aor = this.#aor(user);
    // Step 3: authentication (per-source failure limits, see digest-guard.ts).
    this.#o.users.refresh?.();
    const { source, ip } = this.#clientOf(request, flow);
    const auth = this.#guard.check(
      request.headers.getAll('authorization'),
      'REGISTER',
      user,
      source,
      ip,
      now,
    );
    switch (auth.kind) {
      case 'challenge':
      case 'failed':
        if (auth.kind === 'failed')
          this.#o.log.info({ aor, source }, 'core: REGISTER with wrong credentials');
        return this.#reply(serverId, request, 401, now, {
          'WWW-Authenticate': this.#guard.challenges(now, auth.kind === 'challenge' && auth.stale),
        });
      case 'forbidden':
        this.#o.log.info({ aor, source, reason: auth.reason }, 'core: REGISTER refused');
        return this.#reply(serverId, request, 403, now, {}, 'Forbidden');
      case 'ok':
        break;
    }

    // Step 6: Contact: * with Expires: 0 removes everything.
    if (request.contactStar) {
      if (request.expires !== 0 || request.headers.getAll('contact').length !== 1)
        return this.#reply(
          serverId,
          request,
          400,
          now,
          {},
          'Contact: * needs Expires: 0 and no other Contact',
        );
      this.location.removeAll(aor);
      return this.#registered(serverId, request, aor, now);
    }
    const path = request.path.map((p) => formatNameAddr(p));
    const firstPath = request.path[0];
    const flowToken =
      firstPath !== undefined && this.#o.link.isEdgeUri(firstPath.uri) ? firstPath.uri.user : undefined;
    const headerExpires = request.expires;
    const inputs: BindingInput[] = [];
    for (const contact of request.contacts) {
      const raw = contact.params.get('expires');
      let expires = raw === undefined || raw === null || !/^\d+$/.test(raw) ? headerExpires : Number(raw);
      expires ??= this.#defaultExpires;
      // Step 6: too short → 423 with Min-Expires.
      if (expires > 0 && expires < this.#minExpires)
        return this.#reply(serverId, request, 423, now, { 'Min-Expires': String(this.#minExpires) });
      expires = Math.min(expires, this.#maxExpires);
      const instance = unquoted(contact.params.get('+sip.instance'));
      const regIdText = contact.params.get('reg-id');
      const regId = regIdText === undefined || regIdText === null ? undefined : Number(regIdText);
      // RFC 5626 §6: instance + reg-id name the binding (a new flow of the same device replaces the old one).
      const key =
        instance !== undefined && regId !== undefined ? `${instance}\n${regId}` : contact.uri.toString();
      inputs.push({
        key,
        uri: contact.uri.toString(),
        contact: contactWithout(contact, 'expires'),
        q: parseQ(contact.params.get('q')),
        path,
        flowToken,
        instance,
        regId,
        features: featureSet(contact.params),
        source: flow.flowId === LINK_FLOW_ID ? undefined : flow.remote,
        expires,
      });
    }
    const result = this.location.update(aor, inputs, request.callId, request.cseq.seq, now);
    if (!result.ok)
      return this.#reply(serverId, request, 500, now, { 'Retry-After': '1' }, 'Out of order CSeq');
    this.#registered(serverId, request, aor, now);
    if (inputs.some((i) => i.expires > 0)) this.#deliverStored(aor, now);
  }

  /** §10.3 step 8: 200 with every current binding and its remaining time. */
  #registered(serverId: string, request: SipRequest, aor: string, now: number): void {
    const bindings = this.location.lookup(aor, now);
    const headers: Record<string, string | string[]> = {
      Date: formatDate(this.#wall()),
      Supported: 'path, outbound',
    };
    if (bindings.length > 0)
      headers.Contact = bindings.map(
        (b) => `${b.contact};expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`,
      );
    // RFC 3327 §5.3: the Path is echoed when the UA supports it.
    if (request.supported.some((t) => t.toLowerCase() === 'path') && request.headers.has('path'))
      headers.Path = request.headers.getAll('path');
    // RFC 5626 §6: outbound processing was applied.
    if (
      request.contacts.some((c) => c.params.has('reg-id')) &&
      request.path.some((p) => p.uri.param('ob') !== undefined)
    )
      headers.Require = 'outbound';
    this.#reply(serverId, request, 200, now, headers);
  }

  // ---- store-and-forward (RFC 3428 §7) -------------------------------------------------------------------------

  #store(serverId: string, request: SipRequest, aor: string, now: number): void {
    const result = this.#storeMessage(request, aor);
    this.#reply(serverId, request, result.status, now, result.headers, result.reason);
    this.#afterStore(result, request, aor, now);
  }

  /** After the answer to a stored MESSAGE went out: the "stored" IMDN when asked for, then delivery. */
  #afterStore(result: StoreResult, request: SipRequest, aor: string, now: number): void {
    if (result.stored) this.#notifyStored(request, aor, now);
    if (result.accepted) this.#deliverStored(aor, now);
  }

  /** Writes a MESSAGE for `aor` to the store (committed on return) and says what to answer. */
  #storeMessage(request: SipRequest, aor: string): StoreResult {
    const store = this.#o.store;
    const refused = (status: number, reason?: string, headers?: Record<string, string>): StoreResult => ({
      status,
      reason,
      headers,
      accepted: false,
      stored: false,
    });
    if (store === undefined) return refused(480);
    const expires = request.expires;
    // `Expires: 0`: deliver now or never; it is never stored.
    if (expires === 0) return refused(480);
    const wall = this.#wall();
    let date: number | undefined;
    try {
      date = request.date;
    } catch {
      date = undefined;
    }
    const base = date !== undefined && date <= wall ? date : wall;
    const expiresAt = expires !== undefined ? base + expires * 1000 : wall + this.#storeMaxAge;
    if (expiresAt <= wall) {
      this.stats.refusedExpired++;
      return refused(480, 'Expired');
    }
    const copy = request.clone();
    // Via stays (the parser wants one); it is replaced at delivery.
    for (const name of ['route', 'record-route', 'max-forwards']) copy.headers.delete(name);
    const key = `${request.fromTag ?? ''}\n${request.callId}\n${request.cseq.seq}`;
    let outcome: 'stored' | 'duplicate';
    try {
      outcome = store.add(aor, key, serializeMessage(copy), wall, expiresAt);
    } catch (error) {
      // Nothing is accepted that is not on disk.
      this.#o.log.error({ err: error, aor }, 'core: cannot store a message');
      return refused(500, undefined, { 'Retry-After': '5' });
    }
    if (outcome === 'stored') this.stats.stored++;
    else this.stats.duplicates++;
    return { status: 202, accepted: true, stored: outcome === 'stored' };
  }

  /**
   * RFC 5438 §5/§7.2: a stored MESSAGE whose CPIM body asks for processing notifications gets one with status
   * "stored", sent to its (local) sender: the IM's Message-ID and DateTime, recipient-uri the AOR it waits for,
   * original-recipient-uri the address the sender used. Not sent when not asked for.
   */
  #notifyStored(request: SipRequest, aor: string, now: number): void {
    const im = requestedNotification(request, 'processing');
    if (im === undefined) return;
    const recipient = `sip:${aor}`;
    this.#sendImdn(request, im, now, {
      notifier: recipient,
      notification: { kind: 'processing', status: 'stored' },
      recipientUri: recipient,
      originalRecipientUri: originalToOf(im) ?? request.to.uri.toString(),
    });
  }

  /** Sends an IMDN about `request` to its sender, when the sender is a local user (never relayed elsewhere). */
  #sendImdn(
    request: SipRequest,
    im: CpimMessage,
    now: number,
    what: Pick<
      Parameters<typeof imdnNotice>[0],
      'notifier' | 'notification' | 'recipientUri' | 'originalRecipientUri'
    >,
  ): void {
    const sender = request.from.uri;
    if (!this.#isLocal(sender) || sender.user === undefined || !this.#o.users.has(sender.user)) {
      this.#o.log.debug(
        { sender: sender.toString() },
        'core: IMDN not sent (the sender is not a local user)',
      );
      return;
    }
    let notice: SipRequest;
    try {
      notice = imdnNotice({
        ...what,
        im,
        sender: parseUri(`sip:${this.#aor(sender.user)}`),
        now: this.#wall(),
        ids: {
          messageId: randomTag(this.#random, 16),
          callId: `${randomTag(this.#random, 16)}@imdn.core`,
          fromTag: randomTag(this.#random),
          via: this.#internalVia(),
        },
      });
    } catch (error) {
      this.#o.log.info({ err: error }, 'core: cannot build an IMDN');
      return;
    }
    const status = what.notification.status;
    this.stats.imdnSent++;
    this.#imdnCounter?.inc({ status });
    this.#o.log.info(
      { to: sender.toString(), about: what.recipientUri, status, messageId: im.messageId },
      'core: IMDN sent',
    );
    this.#originate(notice, now, () => undefined);
  }

  /** Delivers the stored messages of `aor` one at a time, oldest first, while it has contacts. */
  #deliverStored(aor: string, now: number): void {
    const store = this.#o.store;
    if (store === undefined || this.#delivering.has(aor)) return;
    const bindings = this.location.lookup(aor, now);
    if (bindings.length === 0) return;
    const row = store.next(aor, this.#wall());
    if (row === undefined) return;
    let request: SipRequest;
    try {
      const parsed = parseMessage(row.request);
      if (parsed.kind !== 'request') throw new TypeError('not a request');
      request = parsed;
    } catch (error) {
      this.#o.log.error({ err: error, id: row.id }, 'core: a stored message cannot be read; dropped');
      store.remove(row.id, 'rejected');
      return this.#deliverStored(aor, now);
    }
    const groups = this.#targets(request, bindings);
    if (groups.length === 0) return;
    for (const name of ['via', 'route', 'record-route']) request.headers.delete(name);
    request.headers.set('Max-Forwards', '70');
    this.#delivering.add(aor);
    this.#proxy(
      undefined,
      request,
      loopHash(request),
      groups,
      {
        noCancel: false,
        onFinal: (response) => {
          this.#delivering.delete(aor);
          const status = response?.status ?? 408;
          const at = this.#clock();
          if (status < 300) {
            store.remove(row.id, 'delivered');
            this.stats.delivered++;
          } else if (RETRY_DELIVERY.has(status)) {
            this.#o.log.info(
              { aor, status },
              'core: stored message not delivered; retried at the next registration',
            );
            return;
          } else {
            this.#o.log.info({ aor, status }, 'core: stored message refused by the device; dropped');
            store.remove(row.id, 'rejected');
          }
          this.#deliverStored(aor, at);
        },
      },
      now,
    );
  }

  // ---- requests the core originates (URI-list copies, IMDNs) ------------------------------------------------------

  /** A Via naming the core, for a request it makes (the store needs one; it is replaced when forwarded). */
  #internalVia(): string {
    const port = this.#o.ports.tcp ?? this.#o.ports.udp ?? this.#o.link.via.port;
    return `SIP/2.0/TCP ${uriHostOf(this.#o.publicHost)}:${port};branch=z9hG4bKcore.int.${randomTag(this.#random, 12)}`;
  }

  /**
   * Sends a MESSAGE the core made through the same path as one from a browser: only to local users (403
   * elsewhere, 404 for unknown ones), stored when the user has no contact or no contact took it, otherwise
   * forked by q-value and caller preferences. `done` gets the final status (202: stored).
   */
  #originate(request: SipRequest, now: number, done: (status: number) => void): void {
    const uri = request.uri;
    if (!uri.isSip) return done(416);
    if (!this.#isLocal(uri)) return done(403);
    const user = uri.user;
    this.#o.users.refresh?.();
    if (user === undefined || user === URI_LIST_USER || !this.#o.users.has(user)) return done(404);
    const aor = this.#aor(user);
    const bindings = this.location.lookup(aor, now);
    if (bindings.length === 0) {
      const result = this.#storeMessage(request, aor);
      done(result.status);
      return this.#afterStore(result, request, aor, now);
    }
    const groups = this.#targets(request, bindings);
    if (groups.length === 0) return done(480);
    const forwarded = request.clone();
    forwarded.headers.delete('via');
    this.#proxy(
      undefined,
      forwarded,
      loopHash(forwarded),
      groups,
      {
        noCancel: false,
        onFinal: (response) => done(response?.status ?? 408),
        storeOnFailure: this.#o.store === undefined ? undefined : { aor, original: request },
      },
      now,
    );
  }

  // ---- the URI-list service (RFC 5365) -----------------------------------------------------------------------------

  #uriList(serverId: string, request: SipRequest, flow: FlowInfo, now: number): void {
    // RFC 3261 §8.2.1: the service takes MESSAGE (and answers OPTIONS with what it supports).
    if (request.method === 'OPTIONS')
      return this.#reply(serverId, request, 200, now, {
        Allow: 'MESSAGE, OPTIONS',
        Accept: URI_LIST_ACCEPT,
        Supported: 'recipient-list',
      });
    if (request.method !== 'MESSAGE')
      return this.#reply(serverId, request, 405, now, { Allow: 'MESSAGE, OPTIONS' });
    const refused = (status: number, headers: Record<string, string | string[]> = {}, reason?: string) => {
      this.listStats.refused++;
      this.#listRequests?.inc({ result: 'refused' });
      this.#reply(serverId, request, status, now, headers, reason);
    };
    // RFC 5365 (security considerations): an amplifier serves only its own, authenticated users (RFC 3261 §22).
    const from = request.from.uri;
    this.#o.users.refresh?.();
    if (!this.#isLocal(from) || from.user === undefined || !this.#o.users.has(from.user))
      return refused(403, {}, 'Forbidden (the URI-list service is for local users)');
    const { source, ip } = this.#clientOf(request, flow);
    const auth = this.#guard.check(
      request.headers.getAll('authorization'),
      'MESSAGE',
      from.user,
      source,
      ip,
      now,
    );
    switch (auth.kind) {
      case 'challenge':
      case 'failed':
        return refused(401, {
          'WWW-Authenticate': this.#guard.challenges(now, auth.kind === 'challenge' && auth.stale),
        });
      case 'forbidden':
        return refused(403, {}, 'Forbidden');
      case 'ok':
        break;
    }
    const parsed = parseUriListRequest(request, { maxRecipients: this.#maxListRecipients });
    if (!parsed.ok) {
      const { status, reason, headers } = parsed.refusal;
      this.#o.log.info({ from: from.toString(), status, reason }, 'uri-list: request refused');
      return refused(status, headers, reason);
    }
    // RFC 5365 §7: accepted for delivery to each recipient; the outcomes come later (IMDN, logs).
    this.listStats.accepted++;
    this.#listRequests?.inc({ result: 'accepted' });
    this.#reply(serverId, request, 202, now);
    const list = parsed.value;
    const id = ++this.#listIds;
    const body = copyBody(list, `uri-list-${randomTag(this.#random, 16)}`);
    const tally = { delivered: 0, stored: 0, failed: 0, pending: list.recipients.length };
    this.#o.log.info(
      { list: id, from: from.toString(), recipients: list.recipients.length, history: list.history.length },
      'uri-list: request accepted',
    );
    for (const recipient of list.recipients) {
      const copy = buildCopy(request, recipient, body, {
        callId: `${randomTag(this.#random, 16)}@uri-list.core`,
        fromTag: randomTag(this.#random),
        via: this.#internalVia(),
      });
      this.#originate(copy, now, (status) => {
        const outcome: ListOutcome =
          status < 200 || status >= 300 ? 'failed' : status === 202 ? 'stored' : 'delivered';
        tally[outcome]++;
        tally.pending--;
        this.#listOutcome(id, request, recipient, status, outcome, list.message.cpim);
        if (tally.pending === 0)
          this.#o.log.info(
            { list: id, delivered: tally.delivered, stored: tally.stored, failed: tally.failed },
            'uri-list: every recipient done',
          );
      });
    }
  }

  /** One recipient's outcome: counted, logged, and a failure reported when the message asked for it. */
  #listOutcome(
    id: number,
    request: SipRequest,
    recipient: ListRecipient,
    status: number,
    outcome: ListOutcome,
    im: CpimMessage | undefined,
  ): void {
    this.listStats[outcome]++;
    this.#listRecipients?.inc({ outcome });
    this.#o.log.info({ list: id, recipient: recipient.uri, status, outcome }, 'uri-list: recipient outcome');
    if (outcome !== 'failed') return;
    // RFC 5438 §7 / RFC 5365: the list server tells the sender which recipient it could not reach, with the
    // IM's Message-ID, when the IM asked for negative delivery notifications.
    if (im === undefined || !wantsNotification(im, 'negative-delivery')) return;
    this.#sendImdn(request, im, this.#clock(), {
      notifier: `sip:${URI_LIST_USER}@${this.#o.domain.toLowerCase()}`,
      notification: { kind: 'delivery', status: 'failed' },
      recipientUri: recipient.uri,
      originalRecipientUri: recipient.uri,
    });
  }

  // ---- the presence agent (RFC 3856, RFC 3903, RFC 6665; presence-agent.ts) -----------------------------------

  /**
   * A PUBLISH for `presentity`, or a SUBSCRIBE (out of dialog for `presentity`, or in one of the agent's dialogs).
   * RFC 3903 §6 step 1 / RFC 3856 §6.6: digest first — a publisher must be the presentity itself, a watcher a
   * local user (a watcher from elsewhere cannot be authenticated here: 403).
   */
  #presenceRequest(
    serverId: string,
    request: SipRequest,
    flow: FlowInfo,
    presentity: string | undefined,
    now: number,
  ): void {
    const method = request.method;
    const answered = (status: number): void => {
      this.#presenceRequests?.inc({ method, status: String(status) });
    };
    const user = method === 'PUBLISH' ? request.uri.user : request.from.uri.user;
    this.#o.users.refresh?.();
    if (
      user === undefined ||
      (method === 'SUBSCRIBE' && !this.#isLocal(request.from.uri)) ||
      !this.#o.users.has(user)
    ) {
      answered(403);
      return this.#reply(serverId, request, 403, now, {}, 'Forbidden (presence is for local users)');
    }
    const { source, ip } = this.#clientOf(request, flow);
    const auth = this.#guard.check(request.headers.getAll('authorization'), method, user, source, ip, now);
    switch (auth.kind) {
      case 'challenge':
      case 'failed':
        answered(401);
        return this.#reply(serverId, request, 401, now, {
          'WWW-Authenticate': this.#guard.challenges(now, auth.kind === 'challenge' && auth.stale),
        });
      case 'forbidden':
        this.#o.log.info({ method, user, source, reason: auth.reason }, 'presence: request refused');
        answered(403);
        return this.#reply(serverId, request, 403, now, {}, 'Forbidden');
      case 'ok':
        break;
    }
    // What ran out while no timer fired yet goes first, so the request meets the current state.
    this.#sendNotifies(this.presence.expire(now), now);
    const result =
      method === 'PUBLISH'
        ? this.presence.publish(
            request,
            presentity ?? this.#aor(user),
            now,
            tokenOfBranch(request.topVia?.branch),
          )
        : this.presence.subscribe(request, parseUri(`sip:${this.#aor(user)}`), presentity, now);
    answered(result.response.status);
    try {
      this.#layer.respond(serverId, result.response, now);
    } catch (error) {
      if (!(error instanceof InvalidStateError)) throw error;
    }
    this.#sendNotifies(result.notifies, now);
    this.#armPresence();
  }

  /**
   * RFC 6665 §4.2.2: each NOTIFY goes along its dialog's route set (to the edge and the watcher's flow, or to an
   * outside watcher's Contact); with no route set, a Contact the watcher registered is reached through its Path.
   */
  #sendNotifies(notifies: readonly PresenceNotify[], now: number): void {
    for (const notify of notifies) {
      const request = notify.request;
      const binding =
        request.route.length > 0
          ? undefined
          : this.location.lookup(notify.watcher, now).find((b) => b.uri === request.uri.toString());
      this.#presenceNotifies?.inc({ state: notify.final ? 'terminated' : 'active' });
      this.#proxy(
        undefined,
        request,
        loopHash(request),
        [[{ uri: request.uri, route: binding?.path ?? [], binding }]],
        {
          noCancel: false,
          onFinal: (response) => {
            const at = this.#clock();
            const status = response?.status ?? 408;
            if (status >= 300)
              this.#o.log.debug({ status, watcher: notify.watcher }, 'presence: NOTIFY failed');
            this.#sendNotifies(
              this.presence.notifyAnswered(notify.subscriptionId, notify.cseq, status, at),
              at,
            );
            this.#armPresence();
          },
        },
        now,
      );
    }
  }

  /** One driver deadline at the agent's next expiry (a later one stays queued; firing early is harmless). */
  #armPresence(): void {
    const at = this.presence.nextDeadline();
    if (at === undefined || (this.#presenceArmed !== undefined && this.#presenceArmed <= at)) return;
    this.#presenceArmed = at;
    this.#driver.schedule(at, { type: 'presence', at });
  }

  #presenceTimer(timer: OwnTimer, now: number): void {
    if (this.#presenceArmed === timer.at) this.#presenceArmed = undefined;
    this.#sendNotifies(this.presence.expire(now), now);
    this.#armPresence();
  }

  // ---- the proxy (RFC 3261 §16) ----------------------------------------------------------------------------------

  #proxy(
    serverId: string | undefined,
    request: SipRequest,
    hash: string,
    groups: Target[][],
    options: {
      noCancel: boolean;
      onFinal?: (response: SipResponse | undefined) => void;
      storeOnFailure?: { aor: string; original: SipRequest } | undefined;
    },
    now: number,
  ): void {
    const fork: Fork = {
      id: ++this.#forkIds,
      method: request.method,
      request,
      serverId,
      onFinal: options.onFinal,
      hash,
      groups,
      groupIndex: -1,
      branches: new Map(),
      finals: [],
      noCancel: options.noCancel,
      answered: false,
      done: false,
      sixxx: false,
      deadline: undefined,
      storeOnFailure: options.storeOnFailure,
      counter: 0,
      startedAt: now,
    };
    this.#forks.set(fork.id, fork);
    if (serverId !== undefined) this.#forkByServer.set(serverId, fork);
    this.#nextGroup(fork, now);
  }

  #nextGroup(fork: Fork, now: number): void {
    fork.groupIndex++;
    const group = fork.groups[fork.groupIndex];
    if (group === undefined) return this.#finish(fork, now);
    const last = fork.groupIndex === fork.groups.length - 1;
    // §16.6 step 11 / RFC 3841 §9: the branch timeout moves on to the next group. The last group of an INVITE
    // runs to Timer C; that of a non-INVITE request until ¾ of Timer F after the fork began, so the caller (whose
    // own Timer F started first) gets an answer — for a MESSAGE, a 202 from the store — before it gives up.
    fork.deadline = !last
      ? now + this.#branchTimeout
      : fork.method === 'INVITE'
        ? now + this.#timerC
        : fork.startedAt + 48 * this.#layer.timers.T1;
    if (fork.deadline !== undefined)
      this.#driver.schedule(fork.deadline, { type: 'fork', forkId: fork.id, at: fork.deadline });
    for (const target of group) this.#startBranch(fork, target, now);
    this.#progress(fork, now);
  }

  #startBranch(fork: Fork, target: Target, now: number): void {
    const request = fork.request.clone();
    request.uri = target.uri;
    // RFC 3327 §5.3: the stored Path becomes the Route, in order.
    for (let i = target.route.length - 1; i >= 0; i--) request.headers.prepend('Route', target.route[i]!);
    const next = request.route[0]?.uri ?? target.uri;
    const branch = coreBranch(fork.hash, `${fork.id.toString(36)}.${(fork.counter++).toString(36)}`);
    let flow: FlowInfo;
    if (this.#o.link.isEdgeUri(next)) {
      const { host, port } = this.#o.link.via;
      pushVia(request, formatOwnVia('tcp', host, port, branch));
      flow = LINK_FLOW;
    } else {
      const hop = this.#netHop(next, target.binding);
      if (hop === undefined) {
        fork.finals.push(this.#synthetic(fork, 404));
        return;
      }
      let transport = hop.transport;
      if (transport === 'udp' && this.#o.net.tcpAvailable && serializeMessage(request).length + 120 > 1300)
        transport = 'tcp';
      const port = (transport === 'tcp' ? this.#o.ports.tcp : this.#o.ports.udp) ?? 5060;
      pushVia(request, formatOwnVia(transport, this.#o.publicHost, port, branch));
      const remote = formatRemote(hop.host, hop.port);
      flow =
        transport === 'tcp'
          ? { transport: 'TCP', reliable: true, remote }
          : { transport: 'UDP', reliable: false, remote };
    }
    let handle;
    try {
      handle = this.#layer.sendRequest(request, now, { reliable: flow.reliable, flow });
    } catch (error) {
      this.#o.log.info({ err: error }, 'core: cannot start a branch');
      fork.finals.push(this.#synthetic(fork, 500));
      return;
    }
    fork.branches.set(handle.id, {
      clientId: handle.id,
      target,
      group: fork.groupIndex,
      final: false,
      abandoned: false,
    });
    this.#forkByClient.set(handle.id, fork);
  }

  /** Where a request for an outside target goes: IP literals (and localhost) only, never a DNS lookup. */
  #netHop(
    uri: Uri,
    binding: Binding | undefined,
  ): { host: string; port: number; transport: 'udp' | 'tcp' } | undefined {
    const wanted = (uri.param('transport') ?? 'udp').toLowerCase();
    const transport: 'udp' | 'tcp' = wanted === 'tcp' ? 'tcp' : 'udp';
    if (transport === 'udp' && !this.#o.net.udpAvailable && !this.#o.net.tcpAvailable) return undefined;
    // RFC 3581 §4: a UDP contact registered from behind a NAT is reached where its REGISTER came from.
    const source =
      binding?.source === undefined || binding.path.length > 0 ? undefined : parseRemote(binding.source);
    if (source !== undefined && transport === 'udp') return { ...source, transport };
    let host = bareHost(uri.host);
    if (host === 'localhost') host = '127.0.0.1';
    if (isIP(host) === 0) return undefined;
    return {
      host,
      port: uri.port ?? 5060,
      transport: transport === 'udp' && !this.#o.net.udpAvailable ? 'tcp' : transport,
    };
  }

  #onResponse(clientId: string, response: SipResponse, now: number): void {
    const fork = this.#forkByClient.get(clientId);
    if (fork === undefined) return; // responses to our CANCELs end here (§16.10)
    const branch = fork.branches.get(clientId);
    if (branch === undefined) return;
    // §16.7 step 3: our Via goes.
    popVia(response);
    const status = response.status;
    if (status < 200) {
      if (status === 100 || fork.done || branch.abandoned) return;
      return this.#sendUp(fork, response, now);
    }
    if (status < 300) {
      // §16.7 step 5: a 2xx goes back at once; for INVITE the other branches are cancelled (unless no-cancel).
      branch.final = true;
      const first = !fork.answered;
      fork.answered = true;
      if (!fork.done || fork.method === 'INVITE') {
        fork.done = true;
        this.#sendUp(fork, response, now, first);
      }
      this.#cancelPending(fork, now, !fork.noCancel);
      return;
    }
    if (branch.final) return;
    branch.final = true;
    if (status === 430 && branch.target.binding !== undefined) {
      // RFC 5626 §5.3: the flow of this binding is gone.
      this.location.remove(branch.target.binding.aor, branch.target.binding.key);
    }
    if (branch.abandoned || fork.done) return this.#progress(fork, now);
    fork.finals.push(response);
    if (status >= 600) {
      // §16.7 step 5: a 6xx ends the search; pending branches are cancelled.
      fork.sixxx = true;
      this.#cancelPending(fork, now, true);
    }
    this.#progress(fork, now);
  }

  /** A client transaction timed out or failed: it counts as that response (§16.7 step 2, §16.8). */
  #onClientFailure(clientId: string, status: number, now: number): void {
    const fork = this.#forkByClient.get(clientId);
    const branch = fork?.branches.get(clientId);
    if (fork === undefined || branch === undefined || branch.final) return;
    branch.final = true;
    if (!branch.abandoned && !fork.done) fork.finals.push(this.#synthetic(fork, status));
    this.#progress(fork, now);
  }

  /** When no branch of the current group is pending any more: the next group, or the final answer. */
  #progress(fork: Fork, now: number): void {
    if (fork.done) return this.#maybeForget(fork);
    for (const b of fork.branches.values()) if (!b.final && !b.abandoned) return;
    if (fork.sixxx || fork.groupIndex >= fork.groups.length - 1) return this.#finish(fork, now);
    this.#nextGroup(fork, now);
  }

  #groupTimeout(timer: OwnTimer & { type: 'fork' }, now: number): void {
    const fork = this.#forks.get(timer.forkId);
    if (fork === undefined || fork.done || fork.deadline !== timer.at) return;
    fork.deadline = undefined;
    this.#o.log.debug({ fork: fork.id, group: fork.groupIndex }, 'core: branch timeout');
    // The group rang long enough: cancel it (INVITE) or stop waiting for it (non-INVITE), then move on.
    for (const b of fork.branches.values()) {
      if (b.final || b.abandoned) continue;
      b.abandoned = true;
      fork.finals.push(this.#synthetic(fork, 480));
      if (fork.method === 'INVITE') this.#cancelBranch(b, now);
    }
    this.#progress(fork, now);
  }

  #cancelPending(fork: Fork, now: number, cancel: boolean): void {
    for (const b of fork.branches.values()) {
      if (b.final || b.abandoned) continue;
      b.abandoned = true;
      if (cancel && fork.method === 'INVITE') this.#cancelBranch(b, now);
    }
  }

  #cancelBranch(branch: Branch, now: number): void {
    try {
      this.#layer.cancel(branch.clientId, now);
    } catch (error) {
      if (!(error instanceof InvalidStateError)) throw error;
    }
  }

  /** §16.7 step 6: no 2xx; the best response goes back (or the MESSAGE is stored). */
  #finish(fork: Fork, now: number): void {
    if (fork.done) return;
    fork.done = true;
    const best = chooseBestResponse(fork.finals) ?? this.#synthetic(fork, 480);
    const store = fork.storeOnFailure;
    if (store !== undefined && STORE_ON.has(best.status) && fork.serverId !== undefined) {
      this.#store(fork.serverId, store.original, store.aor, now);
    } else if (store !== undefined && STORE_ON.has(best.status)) {
      // A MESSAGE the core originated (a URI-list copy) that no device took: stored like any other.
      const result = this.#storeMessage(store.original, store.aor);
      fork.onFinal?.(this.#synthetic(fork, result.status));
      this.#afterStore(result, store.original, store.aor, now);
    } else {
      this.#sendUp(fork, best, now, true);
    }
    this.#maybeForget(fork);
  }

  #sendUp(fork: Fork, response: SipResponse, now: number, first = true): void {
    if (fork.serverId === undefined) {
      if (response.status >= 200 && first) fork.onFinal?.(response);
      return;
    }
    try {
      if (this.#layer.transaction(fork.serverId) === undefined)
        throw new InvalidStateError('server transaction gone');
      this.#layer.respond(fork.serverId, response, now);
    } catch (error) {
      if (!(error instanceof InvalidStateError)) throw error;
      // §16.7 step 10: a 2xx to INVITE goes back even when the server transaction cannot take it.
      if (fork.method === 'INVITE' && response.status >= 200 && response.status < 300) {
        const server = this.#serverFlowOf(response);
        if (server !== undefined) this.#layer.sendStateless(response, server);
      }
    }
  }

  /** Where a response goes when its server transaction is gone: the edge, or the top Via's address. */
  #serverFlowOf(response: SipResponse): FlowInfo | undefined {
    const via = response.topVia;
    if (via === undefined) return undefined;
    const host = via.received ?? via.host;
    const port = typeof via.rport === 'number' ? via.rport : (via.port ?? 5060);
    if (bareHost(host) === bareHost(this.#o.link.via.host) && via.branch?.startsWith('z9hG4bKgw.'))
      return LINK_FLOW;
    const remote = formatRemote(bareHost(host), port);
    return via.transport === 'TCP'
      ? { transport: 'TCP', reliable: true, remote }
      : { transport: 'UDP', reliable: false, remote };
  }

  #synthetic(fork: Fork, status: number): SipResponse {
    const toTag = fork.request.toTag === undefined ? randomTag(this.#random) : undefined;
    const response = createResponse(fork.request, status, toTag === undefined ? {} : { toTag });
    return response;
  }

  #maybeForget(fork: Fork): void {
    if (!fork.done) return;
    for (const b of fork.branches.values())
      if (!b.final && !(b.abandoned && fork.method !== 'INVITE')) return;
    this.#forget(fork);
  }

  #forget(fork: Fork): void {
    this.#forks.delete(fork.id);
    if (fork.serverId !== undefined && this.#forkByServer.get(fork.serverId) === fork)
      this.#forkByServer.delete(fork.serverId);
  }

  #onCancel(serverId: string, toTag: string, now: number): void {
    const fork = this.#forkByServer.get(serverId);
    const server = this.#layer.transaction(serverId);
    if (fork !== undefined) {
      // §16.10: cancel every pending branch; the caller gets its 487 now.
      this.#cancelPending(fork, now, true);
      fork.done = true;
    }
    if (server !== undefined) {
      try {
        this.#layer.respond(serverId, createResponse(server.request, 487, { toTag }), now);
      } catch (error) {
        if (!(error instanceof InvalidStateError)) throw error;
      }
    }
  }

  #onTerminated(transactionId: string): void {
    const fork = this.#forkByClient.get(transactionId);
    if (fork !== undefined) {
      this.#forkByClient.delete(transactionId);
      const branch = fork.branches.get(transactionId);
      if (branch !== undefined && !branch.final) {
        branch.final = true;
        if (!fork.done && !branch.abandoned) fork.finals.push(this.#synthetic(fork, 408));
        this.#progress(fork, this.#clock());
      }
      if (fork.done && [...fork.branches.keys()].every((id) => !this.#forkByClient.has(id)))
        this.#forget(fork);
      return;
    }
    const served = this.#forkByServer.get(transactionId);
    if (served !== undefined && served.done) this.#forkByServer.delete(transactionId);
  }

  // ---- ACK and stray responses (stateless, §16.11) ---------------------------------------------------------------

  #onAck(ack: SipRequest, flow: FlowInfo | undefined): void {
    if (flow === undefined) return;
    const forwarded = ack.clone();
    const popped = popOwnRoutes(forwarded, this.#o.own);
    if (!takeMaxForwards(forwarded)) return;
    const next = forwarded.route[0]?.uri ?? forwarded.uri;
    const branch = coreBranch(loopHash(ack), `a${(ack.topVia?.branch ?? '').slice(-12)}`);
    if (this.#o.link.isEdgeUri(next)) {
      pushVia(forwarded, formatOwnVia('tcp', this.#o.link.via.host, this.#o.link.via.port, branch));
      this.#layer.sendStateless(forwarded, LINK_FLOW);
      return;
    }
    if (popped.length === 0) return; // not along a route set we are in: not ours to relay
    const hop = this.#netHop(next, undefined);
    if (hop === undefined) return;
    const port = (hop.transport === 'tcp' ? this.#o.ports.tcp : this.#o.ports.udp) ?? 5060;
    pushVia(forwarded, formatOwnVia(hop.transport, this.#o.publicHost, port, branch));
    const remote = formatRemote(hop.host, hop.port);
    this.#layer.sendStateless(
      forwarded,
      hop.transport === 'tcp'
        ? { transport: 'TCP', reliable: true, remote }
        : { transport: 'UDP', reliable: false, remote },
    );
  }

  #onStrayResponse(response: SipResponse): void {
    // A 2xx retransmission of a fork whose client transaction is gone: forward along the Via.
    if (response.topVia?.branch?.startsWith('z9hG4bKcore.') !== true) return;
    popVia(response);
    const flow = this.#serverFlowOf(response);
    if (flow !== undefined) this.#layer.sendStateless(response, flow);
  }

  // ---- helpers -------------------------------------------------------------------------------------------------

  #reply(
    serverId: string,
    request: SipRequest,
    status: number,
    now: number,
    headers: Record<string, string | string[]> = {},
    reason?: string,
  ): void {
    const toTag = status === 100 || request.toTag !== undefined ? undefined : randomTag(this.#random);
    const options: Parameters<typeof createResponse>[2] = { headers };
    if (toTag !== undefined) options.toTag = toTag;
    if (reason !== undefined) options.reason = reason;
    try {
      this.#layer.respond(serverId, createResponse(request, status, options), now);
    } catch (error) {
      if (!(error instanceof InvalidStateError)) throw error;
    }
  }

  #aor(user: string): string {
    return `${user}@${this.#o.domain.toLowerCase()}`;
  }

  /**
   * RFC 3261 §22.2/§22.3: credentials for our realm answer our challenges; a UA sends them pre-emptively on
   * every request once it has them. They are not passed on: the callee would get the caller's digest response
   * (material for an offline password guess).
   */
  #dropOwnCredentials(request: SipRequest): void {
    const realm = this.#o.domain;
    for (const name of ['authorization', 'proxy-authorization']) {
      const values = request.headers.getAll(name);
      if (values.length === 0) continue;
      const kept = values.filter((value) => {
        try {
          return parseAuthorization(value).realm !== realm;
        } catch {
          return true;
        }
      });
      if (kept.length === values.length) continue;
      request.headers.delete(name);
      for (const value of kept) request.headers.append(name, value);
    }
  }

  /** A URI in our domain: the domain itself, or one of our addresses (any port). */
  #isLocal(uri: Uri): boolean {
    if (!uri.isSip) return false;
    const host = bareHost(uri.host);
    return host === this.#o.domain.toLowerCase() || this.#o.localHosts.has(host) || this.#o.own.isOurs(uri);
  }

  /** A URI that names the core itself (no user part): OPTIONS pings, REGISTER's Request-URI. */
  #isCore(uri: Uri): boolean {
    return uri.user === undefined && this.#isLocal(uri);
  }

  /** `Route: <sip:localhost;lr>` (a UA's outbound proxy set to the domain) names us too. */
  #isDomainRoute(uri: Uri): boolean {
    return uri.isSip && uri.user === undefined && bareHost(uri.host) === this.#o.domain.toLowerCase();
  }

  /** Who sent a request, for per-source limits: the browser's connection (its Via below the edge's) or the peer. */
  #clientOf(request: SipRequest, flow: FlowInfo): { source: string; ip: string } {
    const via = flow.flowId === LINK_FLOW_ID ? request.via[1] : request.via[0];
    if (flow.flowId !== LINK_FLOW_ID && flow.remote !== undefined) {
      const remote = parseRemote(flow.remote);
      return { source: flow.remote, ip: remote?.host ?? flow.remote };
    }
    const ip = via?.received ?? via?.host ?? 'unknown';
    const port = typeof via?.rport === 'number' ? via.rport : (via?.port ?? 0);
    return { source: `${ip}:${port}`, ip };
  }
}

function unquoted(value: string | null | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

function contactWithout(contact: NameAddr, param: string): string {
  const name = contact.displayName === undefined ? '' : `"${contact.displayName.replace(/["\\]/g, '\\$&')}" `;
  let text = `${name}<${contact.uri.toString()}>`;
  for (const [k, v] of contact.params) {
    if (k.toLowerCase() === param) continue;
    text += v === null ? `;${k}` : `;${k}=${v}`;
  }
  return text;
}

function uriHostOf(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

const TAG_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

function randomTag(random: () => number, length = 10): string {
  let tag = '';
  for (let i = 0; i < length; i++) tag += TAG_ALPHABET.charAt(Math.floor(random() * TAG_ALPHABET.length));
  return tag;
}
