// Raw SIP over UDP for tests and readiness probes: send bytes, collect what comes back.
//
// Deliberately dumb: it reads the start line (status code or method), Call-ID and CSeq and nothing
// else, so it does not depend on (or hide bugs of) the SIP stack under test.

import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

import { LOOPBACK } from './ports.ts';

export interface SipUdpMessage {
  raw: string;
  /** First line, e.g. `SIP/2.0 200 OK` or `MESSAGE sip:bob@127.0.0.1 SIP/2.0`. */
  startLine: string;
  /** Status code of a response; null for a request. */
  status: number | null;
  reason: string | null;
  /** Method of a request; null for a response. */
  method: string | null;
  callId: string | null;
  /** Raw CSeq value, e.g. `1 REGISTER`. */
  cseq: string | null;
  from: { address: string; port: number };
}

/** The first value of header `name` (compact form `compact` accepted too) in a raw message, else null. */
export function sipHeader(raw: string, name: string, compact?: string): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const wanted = [name.toLowerCase(), compact?.toLowerCase()];
  for (const line of head.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (wanted.includes(line.slice(0, colon).trim().toLowerCase())) return line.slice(colon + 1).trim();
  }
  return null;
}

/** Reads the start line, Call-ID and CSeq of raw SIP bytes. */
export function summarizeSip(data: string | Uint8Array, from = { address: '', port: 0 }): SipUdpMessage {
  const raw = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  const startLine = raw.slice(0, Math.max(0, raw.indexOf('\r\n'))) || raw.split('\n', 1)[0] || '';
  const response = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(startLine);
  const request = response ? null : /^([A-Za-z]+)\s+\S+\s+SIP\/2\.0$/.exec(startLine);
  return {
    raw,
    startLine,
    status: response ? Number(response[1]) : null,
    reason: response ? (response[2] ?? '') : null,
    method: request ? (request[1] ?? null) : null,
    callId: sipHeader(raw, 'Call-ID', 'i'),
    cseq: sipHeader(raw, 'CSeq'),
    from,
  };
}

/** A random token for branches, tags and Call-IDs. */
export function sipToken(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

export interface SipRequestOptions {
  method: string;
  /** Request-URI, e.g. `sip:bob@127.0.0.1:5060`. */
  uri: string;
  /** Where the request is sent from (Via sent-by, port left out when absent); `rport` is always requested. */
  local: { host?: string; port?: number; transport?: 'UDP' | 'TCP' | 'WS' };
  from?: string;
  to?: string;
  callId?: string;
  cseq?: number;
  /** Extra header lines without CRLF, e.g. `Contact: <sip:bob@127.0.0.1:5099>`. */
  headers?: string[];
  body?: string;
  contentType?: string;
}

/** Builds one well-formed request (CRLF line ends, Content-Length in bytes). */
export function sipRequest(options: SipRequestOptions): string {
  const host = options.local.host ?? LOOPBACK;
  const transport = options.local.transport ?? 'UDP';
  const body = options.body ?? '';
  const sentBy = options.local.port === undefined ? host : `${host}:${options.local.port}`;
  const lines = [
    `${options.method} ${options.uri} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${sentBy};branch=z9hG4bK${sipToken()};rport`,
    'Max-Forwards: 70',
    `From: ${options.from ?? `<sip:tester@${host}>`};tag=${sipToken(4)}`,
    `To: ${options.to ?? `<${options.uri}>`}`,
    `Call-ID: ${options.callId ?? sipToken(12)}`,
    `CSeq: ${options.cseq ?? 1} ${options.method}`,
    ...(options.headers ?? []),
    ...(body !== '' ? [`Content-Type: ${options.contentType ?? 'text/plain'}`] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

type Waiter = { predicate: (message: SipUdpMessage) => boolean; resolve: (message: SipUdpMessage) => void };

/** A UDP socket on loopback that records every SIP datagram it receives. */
export class SipUdpSocket {
  /** Everything received so far, oldest first. */
  readonly received: SipUdpMessage[] = [];
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
  ) {
    socket.on('message', (data, rinfo) => {
      const message = summarizeSip(data, { address: rinfo.address, port: rinfo.port });
      this.received.push(message);
      for (const waiter of this.waiters) {
        if (waiter.predicate(message)) {
          this.waiters.delete(waiter);
          waiter.resolve(message);
        }
      }
    });
  }

  /** Binds a socket on `host` (default 127.0.0.1), port `port` (default: any free one). */
  static open(options: { host?: string; port?: number } = {}): Promise<SipUdpSocket> {
    const host = options.host ?? LOOPBACK;
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, host, () => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve(new SipUdpSocket(socket, host, socket.address().port));
      });
    });
  }

  send(data: string | Uint8Array, port: number, host = LOOPBACK): Promise<void> {
    if (this.closed) return Promise.reject(new Error('SipUdpSocket: send after close'));
    return new Promise((resolve, reject) => {
      this.socket.send(typeof data === 'string' ? Buffer.from(data) : data, port, host, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  }

  /**
   * The first message (already received, unless `onlyNew`) that satisfies `predicate`; rejects after
   * `timeoutMs` with the start lines of what did arrive.
   */
  waitFor(
    predicate: (message: SipUdpMessage) => boolean,
    timeoutMs: number,
    options: { onlyNew?: boolean } = {},
  ): Promise<SipUdpMessage> {
    if (!options.onlyNew) {
      const found = this.received.find(predicate);
      if (found) return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const seen = this.received.map((m) => m.startLine).join(' | ') || 'nothing';
        reject(
          new Error(`SipUdpSocket(${this.port}): no matching message within ${timeoutMs} ms; got: ${seen}`),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /**
   * Sends a request and resolves with its final response (status >= 200, same Call-ID and CSeq),
   * retransmitting every 500 ms as a UDP client transaction would, until `timeoutMs`.
   */
  async request(data: string, port: number, host = LOOPBACK, timeoutMs = 5000): Promise<SipUdpMessage> {
    const sent = summarizeSip(data);
    if (sent.method === null || sent.callId === null)
      throw new Error('SipUdpSocket.request: not a request with a Call-ID');
    const isFinal = (m: SipUdpMessage): boolean =>
      m.status !== null && m.status >= 200 && m.callId === sent.callId && m.cseq === sent.cseq;
    const answer = this.waitFor(isFinal, timeoutMs, { onlyNew: true });
    await this.send(data, port, host);
    const retransmit = setInterval(() => void this.send(data, port, host).catch(() => undefined), 500);
    try {
      return await answer;
    } finally {
      clearInterval(retransmit);
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * One-shot: sends `data` to host:port from a fresh socket and collects every message that comes back
 * until `until` says stop (default: a final response) or `timeoutMs` passes; never rejects on timeout.
 */
export async function sendSipUdp(
  data: string | Uint8Array,
  target: { host?: string; port: number },
  options: { timeoutMs?: number; until?: (message: SipUdpMessage) => boolean } = {},
): Promise<SipUdpMessage[]> {
  const socket = await SipUdpSocket.open();
  const until = options.until ?? ((m: SipUdpMessage) => m.status !== null && m.status >= 200);
  try {
    await socket.send(data, target.port, target.host ?? LOOPBACK);
    await socket.waitFor(until, options.timeoutMs ?? 2000).catch(() => undefined);
    return [...socket.received];
  } finally {
    await socket.close();
  }
}
