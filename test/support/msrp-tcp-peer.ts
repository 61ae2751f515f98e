// An MSRP endpoint over TCP (RFC 4975), the kind of peer that sits beside a PBX: the core's MsrpSession driven
// over node:net. It listens on 127.0.0.1 (its URI names that port) and takes the connection a relay opens to it,
// or connects itself (`connect`) to the first URI of the other side's path.
//
//   const peer = await MsrpTcpPeer.listen();
//   peer.session.setRemotePath([...usePath, alice.uri]);
//   peer.send({ contentType: 'text/plain', body: 'hi' });
//   await peer.waitFor('message');
//   await peer.close();

import { connect, createServer, type Server, type Socket } from 'node:net';

import type { MsrpContent, MsrpSendOptions, MsrpSessionOptions } from '../../web/src/sip/index.ts';
import { MsrpDriver, token } from './msrp-driver.ts';

export interface MsrpTcpPeerOptions {
  /** more MsrpSession options (chunkSize, bufferLimit, acceptTypes …) */
  readonly session?: Partial<MsrpSessionOptions>;
  /** bytes the socket may buffer before the session is asked for more (default 4 MiB) */
  readonly maxBuffered?: number;
}

export class MsrpTcpPeer extends MsrpDriver {
  readonly uri: string;
  socket: Socket | undefined;
  /** connections accepted (a relay may open more than one) */
  accepted = 0;
  readonly #server: Server;
  readonly #maxBuffered: number;

  private constructor(server: Server, port: number, options: MsrpTcpPeerOptions) {
    const uri = `msrp://127.0.0.1:${port}/${token()};tcp`;
    super({ localUri: uri, random: Math.random, ...options.session });
    this.uri = uri;
    this.#server = server;
    this.#maxBuffered = options.maxBuffered ?? 4 << 20;
    server.on('connection', (socket) => {
      this.accepted++;
      this.#attach(socket);
    });
  }

  static async listen(options: MsrpTcpPeerOptions = {}): Promise<MsrpTcpPeer> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    return new MsrpTcpPeer(server, address.port, options);
  }

  /** Connects to host:port (the first URI of the path toward the other side) and binds the session to it. */
  connect(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        this.#attach(socket);
        resolve();
      });
      socket.once('error', reject);
    });
  }

  send(content: MsrpContent, options: MsrpSendOptions = {}): string {
    const id = this.session.send(content, { now: this.now, ...options });
    this.pump();
    return id;
  }

  protected room(): number {
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return 0;
    return this.#maxBuffered - socket.writableLength;
  }

  protected transmit(data: Uint8Array): void {
    this.socket?.write(data);
  }

  async close(): Promise<void> {
    this.stopTimer();
    this.socket?.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #attach(socket: Socket): void {
    this.socket?.removeAllListeners('data');
    this.socket = socket;
    socket.setNoDelay(true);
    const flow = { flowId: `tcp${this.accepted}` };
    socket.on('data', (chunk: Buffer) => {
      this.session.receive(chunk, this.now, flow);
      this.pump();
    });
    socket.on('drain', () => this.pump());
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.session.flowDown(this.now);
      this.pump();
    });
    this.session.flowUp(this.now, flow);
    this.pump();
  }
}
