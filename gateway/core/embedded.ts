/**
 * Embedded mode's wiring, used by startGateway when there is no `--upstream`: the state in the data directory
 * and the link between the edge proxy and the SIP core.
 *
 * The edge proxy keeps doing what it does in front of a PBX (WebSocket hygiene, flow tokens, Path, 430), with
 * the core as its upstream: every message the edge "sends upstream over TCP" is handed to the core, and every
 * message the core sends to the edge arrives as if from that upstream. Each crossing serializes and re-parses
 * the message (the two transaction layers never share an object) and is queued as a microtask (neither side is
 * re-entered while it is handling a message).
 */
import type { Logger } from 'pino';

import { parseMessage, serializeMessage, type SipMessage, type Uri } from '../../web/src/sip/server.ts';
import type { GatewayConfig } from '../config.ts';
import type { EdgeProxy, NetSender, UpstreamTarget } from '../edge/edge-proxy.ts';
import type { OwnAddresses } from '../edge/rewrite.ts';
import { MessageStore } from './message-store.ts';
import type { CoreLink, SipCore } from './sip-core.ts';
import { UsersFile } from './users.ts';

/** The connection id under which the edge sees the core (the edge's TCP ids come from its own listener: none). */
const LINK_CONNECTION_ID = 1;

export interface EmbeddedState {
  readonly users: UsersFile;
  readonly store: MessageStore;
  close(): void;
}

export function openEmbeddedState(config: GatewayConfig, log: Logger): EmbeddedState {
  const users = UsersFile.open(config.dataDir, config.domain);
  const store = new MessageStore(config.dataDir);
  log.info(
    { dataDir: config.dataDir, domain: config.domain, users: users.list().length, stored: store.size },
    'embedded SIP core: state opened',
  );
  return { users, store, close: () => store.close() };
}

/** What the edge believes its upstream is: the core, at the gateway's public host and the core's SIP port. */
export function linkUpstream(publicHost: string, corePort: number): UpstreamTarget {
  return { host: publicHost, port: corePort, transport: 'tcp' };
}

function crossing(message: SipMessage): SipMessage | undefined {
  try {
    return parseMessage(serializeMessage(message));
  } catch {
    return undefined;
  }
}

/** The edge's sockets in embedded mode: everything it sends goes to the core. */
export function edgeNetToCore(core: () => SipCore | undefined, log: Logger): NetSender {
  return {
    sendUdp: () => undefined,
    sendTcp: (data) => {
      let message: SipMessage;
      try {
        message = parseMessage(data);
      } catch (error) {
        log.warn({ err: error }, 'embedded: the edge produced a message the core cannot parse');
        return;
      }
      queueMicrotask(() => core()?.receiveFromEdge(message));
    },
    tcpAvailable: true,
  };
}

/** The core's side of the link. */
export function coreLinkToEdge(
  edge: () => EdgeProxy | undefined,
  upstream: UpstreamTarget,
  edgeOwn: OwnAddresses,
): CoreLink {
  return {
    send: (message) => {
      const copy = crossing(message);
      if (copy === undefined) return;
      queueMicrotask(() =>
        edge()?.receiveFromNet(copy, {
          transport: 'tcp',
          host: upstream.host,
          port: upstream.port,
          connectionId: LINK_CONNECTION_ID,
        }),
      );
    },
    isEdgeUri: (uri: Uri) => uri.user !== undefined && edgeOwn.isOurs(uri),
    via: { host: upstream.host, port: upstream.port },
  };
}
