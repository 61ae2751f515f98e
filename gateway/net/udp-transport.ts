/** SIP over UDP (RFC 3261 §18): one socket, bound once; every datagram sent from it (so replies find us). */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export class UdpTransport {
  #closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
  ) {}

  static bind(
    host: string,
    port: number,
    onDatagram: (data: Buffer, from: RemoteInfo) => void,
  ): Promise<UdpTransport> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off('error', reject);
        // A send error (ICMP unreachable on some systems, a bad address) must not end the process.
        socket.on('error', () => undefined);
        socket.on('message', onDatagram);
        resolve(new UdpTransport(socket, host, socket.address().port));
      });
    });
  }

  send(data: Uint8Array, host: string, port: number): void {
    if (this.#closed) return;
    // No completion callback: a failed send is an 'error' event (ignored above), and a callback would cost a
    // completion round trip through the event loop for every datagram.
    this.socket.send(data, port, host);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
