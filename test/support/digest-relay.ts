// A UDP relay between an old SIP client and a registrar that offers digest SHA-256 before MD5 (RFC 8760 §2.4,
// one WWW-Authenticate per algorithm, the strongest first). baresip 1.0.0 and SIPp 3.6.1 only look at the first
// challenge and give up on SHA-256 ("Function not implemented", "authentication must use MD5") although an MD5
// one follows. Through the relay they see only the MD5 challenges, as with a registrar offering only MD5.
//
//   client ──UDP──▶ relay (127.0.0.1:port) ──UDP──▶ registrar        start lines and headers naming the relay
//   client ◀──UDP── relay ◀──UDP──────────── registrar               are rewritten to name the registrar (so a
//                   (SHA-256 challenges dropped from 401/407)         Route to the relay reaches the registrar
//                                                                     as a Route to itself); bodies untouched
//
// The registrar sees the relay as the client's address (as behind a NAT), so requests it sends the client (a
// MESSAGE to the registered contact) come through the relay too: to the last client that sent a request, or to
// `requestsTo` (a second program that plays the client's UAS side, as SIPp needs: one scenario sends, another
// one receives).

import { createSocket, type Socket } from 'node:dgram';

import { LOOPBACK } from './ports.ts';

export class DigestRelay {
  #client: { address: string; port: number } | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    private readonly registrarPort: number,
    private readonly requestsTo: number | undefined,
  ) {
    socket.on('message', (data, from) => {
      if (from.port === this.registrarPort && from.address === LOOPBACK) this.#down(data);
      else this.#up(data, from);
    });
    socket.on('error', () => undefined);
  }

  /** Binds a relay on 127.0.0.1 (any free port) in front of the registrar's UDP port. */
  static async open(registrarPort: number, options: { requestsTo?: number } = {}): Promise<DigestRelay> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, LOOPBACK, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new DigestRelay(socket, socket.address().port, registrarPort, options.requestsTo);
  }

  #up(data: Buffer, from: { address: string; port: number }): void {
    const text = data.toString('latin1');
    if (!text.startsWith('SIP/2.0 ')) this.#client = { address: from.address, port: from.port };
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = text
      .slice(0, end)
      .split(`${LOOPBACK}:${String(this.port)}`)
      .join(`${LOOPBACK}:${String(this.registrarPort)}`);
    this.socket.send(Buffer.from(head + text.slice(end), 'latin1'), this.registrarPort, LOOPBACK);
  }

  #down(data: Buffer): void {
    let text = data.toString('latin1');
    if (this.requestsTo !== undefined && !text.startsWith('SIP/2.0 ')) {
      this.socket.send(data, this.requestsTo, LOOPBACK);
      return;
    }
    if (this.#client === undefined) return;
    if (/^SIP\/2\.0 40[17] /.test(text)) {
      const end = text.indexOf('\r\n\r\n');
      const head = text
        .slice(0, end)
        .split('\r\n')
        .filter(
          (line) => !(/^(www|proxy)-authenticate\s*:/i.test(line) && /algorithm\s*=\s*"?sha-256/i.test(line)),
        )
        .join('\r\n');
      text = head + text.slice(end);
    }
    this.socket.send(Buffer.from(text, 'latin1'), this.#client.port, this.#client.address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
