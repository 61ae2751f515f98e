/**
 * What the gateway's two WebSocket services (SIP, gateway/net/ws-sip-service.ts; MSRP,
 * gateway/msrp/ws-msrp-service.ts) share: the server for one subprotocol, the per-IP connection limit, the
 * ping sweep that drops dead peers, and frame decoding.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import { WebSocketServer, type RawData, type WebSocket } from 'ws';

import { refuseUpgrade } from './http-server.ts';

/** A WebSocketServer for one subprotocol (the HTTP server already checked that it is offered), no compression. */
export function subprotocolServer(protocol: string, maxPayload: number): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    maxPayload,
    handleProtocols: (protocols) => (protocols.has(protocol) ? protocol : false),
    perMessageDeflate: false,
    clientTracking: false,
  });
}

/** Open connections per client IP, at most `max`. */
export class PerIpLimit {
  readonly #open = new Map<string, number>();

  constructor(readonly max: number) {}

  count(host: string): number {
    return this.#open.get(host) ?? 0;
  }

  /** Takes a place for `host`: a release function (idempotent), or undefined when the limit is reached. */
  admit(host: string): (() => void) | undefined {
    const open = this.count(host);
    if (open >= this.max) return undefined;
    this.#open.set(host, open + 1);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      const left = this.count(host) - 1;
      if (left <= 0) this.#open.delete(host);
      else this.#open.set(host, left);
    };
  }
}

/**
 * Completes a WebSocket handshake within the per-IP limit (503 + Retry-After above it, after `refused` is told).
 * The place is given back when the socket closes before the handshake ends; after, `adopt` owns `release`.
 */
export function upgradeWithinLimit(
  wss: WebSocketServer,
  perIp: PerIpLimit,
  upgrade: { readonly request: IncomingMessage; readonly socket: Duplex; readonly head: Buffer },
  refused: (host: string, open: number) => void,
  adopt: (ws: WebSocket, host: string, port: number, release: () => void) => void,
): void {
  const { request, socket, head } = upgrade;
  const host = normalizeHost(request.socket.remoteAddress);
  const port = request.socket.remotePort ?? 0;
  const release = perIp.admit(host);
  if (release === undefined) {
    refused(host, perIp.count(host));
    refuseUpgrade(socket, 503, 'Service Unavailable', { 'Retry-After': '30' });
    return;
  }
  socket.once('close', release);
  wss.handleUpgrade(request, socket, head, (ws) => {
    socket.removeListener('close', release);
    adopt(ws, host, port, release);
  });
}

/**
 * One ping round (RFC 6455 §5.5.2): a peer that has not answered the previous ping since is terminated (`onDead`
 * first); the others are pinged and must answer before the next round.
 */
export function pingSweep<P extends { alive: boolean; readonly ws: WebSocket }>(
  peers: Iterable<P>,
  onDead: (peer: P) => void,
): void {
  for (const peer of peers) {
    if (!peer.alive) {
      onDead(peer);
      peer.ws.terminate();
      continue;
    }
    peer.alive = false;
    peer.ws.ping();
  }
}

export function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** The client's address without the IPv4-mapped IPv6 prefix. */
export function normalizeHost(host: string | undefined): string {
  return (host ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}
