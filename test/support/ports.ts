// Free loopback ports for peers started as child processes (Kamailio, SIPp, baresip, the gateway).
//
// The kernel picks an ephemeral port when we bind port 0; we read it and close the socket, so the
// child can bind it a moment later. Another process could take it in between: launchers that fail
// with "address in use" should retry with a fresh port (startKamailio does).

import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

export type PortProtocol = 'tcp' | 'udp';

export const LOOPBACK = '127.0.0.1';

/** Binds `port` (0 = any) on `host` and resolves with the bound port, or null when it is taken. */
function tryBind(protocol: PortProtocol, port: number, host: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        socket.close();
        if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(null);
        else reject(error);
      });
      socket.bind({ port, address: host, exclusive: true }, () => {
        const bound = socket.address().port;
        socket.close(() => resolve(bound));
      });
      return;
    }
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(null);
      else reject(error);
    });
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : null;
      server.close(() => resolve(bound));
    });
  });
}

/** True when `port` can be bound right now for `protocol` on `host`. */
export async function isPortFree(protocol: PortProtocol, port: number, host = LOOPBACK): Promise<boolean> {
  return (await tryBind(protocol, port, host)) !== null;
}

/** A port that is free for `protocol` on `host` (default 127.0.0.1). */
export async function freePort(protocol: PortProtocol, host = LOOPBACK): Promise<number> {
  const port = await tryBind(protocol, 0, host);
  if (port === null) throw new Error(`freePort: the kernel gave no ephemeral ${protocol} port on ${host}`);
  return port;
}

/**
 * A port that is free for BOTH UDP and TCP on `host` (SIP listens on both with one number): takes an
 * ephemeral TCP port and checks that the same number binds for UDP, trying again when it does not.
 */
export async function freeUdpTcpPort(host = LOOPBACK, attempts = 50): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const port = await freePort('tcp', host);
    if (await isPortFree('udp', port, host)) return port;
  }
  throw new Error(`freeUdpTcpPort: no port free for both UDP and TCP on ${host} after ${attempts} attempts`);
}

/** `count` distinct free ports for `protocol` (each checked free; distinct among themselves). */
export async function freePorts(
  protocol: PortProtocol | 'both',
  count: number,
  host = LOOPBACK,
): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    ports.add(protocol === 'both' ? await freeUdpTcpPort(host) : await freePort(protocol, host));
  }
  return [...ports];
}
