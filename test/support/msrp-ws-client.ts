// An MSRP client over WebSocket (RFC 7977) as a browser would run it: the core's MsrpSession on a `ws` socket
// with subprotocol `msrp`, one frame per message, a random `.invalid` host in its URI, and AUTH to a relay
// (RFC 4976) before anything else.
//
//   const alice = await MsrpWsClient.connect({ url: gw.wsUrl });
//   const usePath = await alice.authenticate(relayUri, { username: 'alice', password: 'secret' });
//   alice.session.setRemotePath([peer.uri]);       // the peer's a=path
//   alice.send({ contentType: 'text/plain', body: 'hello' }, { successReport: true });
//   await alice.waitFor('report');
//   await alice.close();

import { WebSocket, type RawData } from 'ws';

import type { DigestCredentials, MsrpSessionOptions } from '../../web/src/sip/index.ts';
import type { MsrpContent, MsrpSendOptions } from '../../web/src/sip/index.ts';
import { MsrpDriver, token } from './msrp-driver.ts';

export interface MsrpWsClientOptions {
  readonly url: string;
  /** the client's URI (default msrp://<random>.invalid:2855/<random>;ws) */
  readonly localUri?: string;
  readonly origin?: string;
  /** more MsrpSession options (chunkSize, window, bufferLimit …) */
  readonly session?: Partial<MsrpSessionOptions>;
  /** bytes the WebSocket may buffer before the session is asked for more (default 8 MiB) */
  readonly maxBuffered?: number;
}

export class MsrpWsClient extends MsrpDriver {
  readonly uri: string;
  closeCode: number | undefined;
  readonly #maxBuffered: number;

  private constructor(
    readonly ws: WebSocket,
    options: MsrpWsClientOptions,
    uri: string,
  ) {
    super({ localUri: uri, random: Math.random, ...options.session });
    this.uri = uri;
    this.#maxBuffered = options.maxBuffered ?? 8 << 20;
    ws.on('message', (data: RawData) => {
      this.session.receive(toBytes(data), this.now, { flowId: 'ws' });
      this.pump();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.session.flowDown(this.now);
      this.stopTimer();
      this.pump();
    });
    ws.on('error', () => undefined);
    this.session.flowUp(this.now, { flowId: 'ws' });
  }

  static connect(options: MsrpWsClientOptions): Promise<MsrpWsClient> {
    const uri = options.localUri ?? `msrp://${token()}.invalid:2855/${token()};ws`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(options.url, 'msrp', {
        // The page's origin: by default the gateway's own (the app served from the WebSocket's port).
        headers: { Origin: options.origin ?? sameOrigin(options.url) },
        perMessageDeflate: false,
      });
      ws.once('open', () => resolve(new MsrpWsClient(ws, options, uri)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  /** AUTH to the relay; resolves with the Use-Path (rejects with the refusal). */
  async authenticate(relayUri: string, credentials: DigestCredentials, expires?: number): Promise<string[]> {
    this.session.authenticate(relayUri, {
      credentials,
      now: this.now,
      ...(expires === undefined ? {} : { expires }),
    });
    this.pump();
    const auth = await this.waitFor('auth');
    if (!auth.ok) throw new Error(`AUTH refused: ${auth.status} ${auth.comment}`);
    return [...auth.usePath];
  }

  send(content: MsrpContent, options: MsrpSendOptions = {}): string {
    const id = this.session.send(content, { now: this.now, ...options });
    this.pump();
    return id;
  }

  protected room(): number {
    if (this.ws.readyState !== WebSocket.OPEN) return 0;
    return this.#maxBuffered - this.ws.bufferedAmount;
  }

  protected transmit(data: Uint8Array): void {
    // RFC 7977 §5: one frame, one WebSocket message. The callback asks for more once the socket took it.
    this.ws.send(data, { binary: true }, () => this.pump());
  }

  close(): Promise<void> {
    this.stopTimer();
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
      setTimeout(() => this.ws.terminate(), 1000).unref();
    });
  }
}

function sameOrigin(url: string): string {
  const u = new URL(url);
  return `${u.protocol === 'wss:' ? 'https' : 'http'}://${u.host}`;
}

function toBytes(data: RawData): Uint8Array {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return new Uint8Array(data);
}
