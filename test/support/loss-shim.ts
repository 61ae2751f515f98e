// A lossy UDP relay between the gateway and a SIP peer (Kamailio), for loss tests. Two sockets:
//
//    gateway ──► front ──(drop upLoss)──► back ──► peer        (the gateway's --upstream is `front`)
//    gateway ◄── front ◄──(drop downLoss)── back ◄── peer      (the gateway advertises `back` as its UDP port)
//
// so every datagram between the two crosses the shim in both directions: the peer answers and sends requests
// to the address in the gateway's Via/Path/Record-Route, which is `back`. The gateway's own address is learnt
// from the first datagram it sends to `front`. Drops are decided by a seeded PRNG: a given seed drops the same
// positions of each direction's sequence (which datagram that is still depends on timing).

import { createSocket, type Socket } from 'node:dgram';

import { LOOPBACK } from './ports.ts';
import { seededRandom } from './seeded-random.ts';

export interface LossShimOptions {
  /** Where `back` forwards to (the SIP peer). */
  peer: { host?: string; port: number };
  /** Share of datagrams dropped gateway → peer and peer → gateway, 0–1. */
  upLoss: number;
  downLoss: number;
  seed: number;
}

export interface LossShimStats {
  up: { passed: number; dropped: number };
  down: { passed: number; dropped: number };
}

export interface LossShim {
  /** The gateway's upstream port. */
  readonly frontPort: number;
  /** The port the gateway advertises (public UDP port). */
  readonly backPort: number;
  readonly stats: LossShimStats;
  close(): Promise<void>;
}

function bind(): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, LOOPBACK, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

export async function startLossShim(options: LossShimOptions): Promise<LossShim> {
  const front = await bind();
  const back = await bind();
  const upRandom = seededRandom(options.seed);
  const downRandom = seededRandom(options.seed ^ 0x5bd1e995);
  const stats: LossShimStats = { up: { passed: 0, dropped: 0 }, down: { passed: 0, dropped: 0 } };
  const peerHost = options.peer.host ?? LOOPBACK;
  let gateway: { address: string; port: number } | undefined;

  front.on('message', (data, from) => {
    gateway = { address: from.address, port: from.port };
    if (upRandom() < options.upLoss) {
      stats.up.dropped++;
      return;
    }
    stats.up.passed++;
    back.send(data, options.peer.port, peerHost);
  });
  back.on('message', (data) => {
    if (gateway === undefined) return;
    if (downRandom() < options.downLoss) {
      stats.down.dropped++;
      return;
    }
    stats.down.passed++;
    front.send(data, gateway.port, gateway.address);
  });

  let closed = false;
  return {
    frontPort: front.address().port,
    backPort: back.address().port,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([front, back].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
