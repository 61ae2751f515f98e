// A minimal browser-like SIP user agent over a raw WebSocket (RFC 7118), for gateway tests: `ws` for the
// socket, the core's parseMessage/serializeMessage for the bytes, and nothing else of the stack (no
// transactions, no dialogs), so a test sees exactly what crossed the wire.
//
//   const bob = await RawWsUa.connect(gatewayUrl, { user: 'bob', domain: '127.0.0.1' });
//   expect((await bob.register()).status).toBe(200);
//   const answer = await alice.request('MESSAGE', 'sip:bob@127.0.0.1', { body: 'hi' });
//   await bob.waitForRequest((r) => r.method === 'MESSAGE');
//   await bob.close();
//
// Like a browser, it never retransmits (WebSocket is reliable), its Via and Contact name a random `.invalid`
// host, and it answers what comes in: MESSAGE/OPTIONS/BYE/NOTIFY 200, INVITE 200 (copying Record-Route, with a
// Contact), ACK nothing; a test can replace the answer with `onRequest`.

import { randomBytes, randomUUID } from 'node:crypto';

import { WebSocket, type ClientOptions } from 'ws';

import {
  createResponse,
  parseMessage,
  serializeMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../web/src/sip/index.ts';

export interface RawWsUaOptions {
  user: string;
  domain: string;
  /** WebSocket subprotocols offered; default ['sip']. */
  protocols?: string[];
  /** Origin header; default none (like a non-browser client). */
  origin?: string;
  /** Contact URI parameters, e.g. ';ob'. Default ';transport=ws;ob'. */
  contactParams?: string;
  /** Contact header parameters (RFC 5626 instance and reg-id by default). */
  contactHeaderParams?: string;
  wsOptions?: ClientOptions;
}

export interface RequestOptions {
  headers?: string[];
  body?: string;
  contentType?: string;
  callId?: string;
  cseq?: number;
  /** To header value; default <uri>. */
  to?: string;
  fromTag?: string;
  /** ms to wait for the final response; default 10,000. */
  timeoutMs?: number;
}

/** What a test's handler returns for an incoming request: a response to send, or null to stay silent. */
export type RequestHandler = (request: SipRequest, ua: RawWsUa) => SipResponse | null | undefined;

const token = (bytes = 6): string => randomBytes(bytes).toString('hex');

type Waiter = { predicate: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void };

export class RawWsUa {
  /** Every SIP message received, oldest first. */
  readonly received: SipMessage[] = [];
  /** Raw text frames that were not SIP (keep-alive pongs). */
  readonly other: string[] = [];
  readonly viaHost = `${token(5)}.invalid`;
  readonly contactUser = token(4);
  readonly instance = `<urn:uuid:${randomUUID()}>`;
  readonly closed: Promise<{ code: number; reason: string }>;
  onRequest: RequestHandler | undefined;
  #waiters = new Set<Waiter>();
  #cseq = 1;
  readonly #registerCallId = `${token(8)}@reg`;

  private constructor(
    readonly ws: WebSocket,
    readonly options: RawWsUaOptions,
  ) {
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('message', (data: Buffer) => this.#onFrame(data));
    ws.on('error', () => undefined);
  }

  static connect(url: string, options: RawWsUaOptions): Promise<RawWsUa> {
    const ws = new WebSocket(url, options.protocols ?? ['sip'], {
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...options.wsOptions,
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawWsUa(ws, options)));
      ws.once('unexpected-response', (_request, response) => {
        reject(new Error(`WebSocket refused: HTTP ${response.statusCode}`));
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  get aor(): string {
    return `sip:${this.options.user}@${this.options.domain}`;
  }

  get contact(): string {
    const params = this.options.contactParams ?? ';transport=ws;ob';
    const headerParams = this.options.contactHeaderParams ?? `;+sip.instance="${this.instance}";reg-id=1`;
    return `<sip:${this.contactUser}@${this.viaHost}${params}>${headerParams}`;
  }

  /** Sends raw text (or bytes) as one frame. */
  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  send(message: SipMessage): void {
    this.ws.send(Buffer.from(serializeMessage(message)), { binary: false });
  }

  /** REGISTER this UA's contact; resolves with the final response. */
  register(expires = 300, options: RequestOptions = {}): Promise<SipResponse> {
    return this.request('REGISTER', `sip:${this.options.domain}`, {
      ...options,
      to: `<${this.aor}>`,
      callId: this.#registerCallId,
      headers: [
        `Contact: ${this.contact};expires=${expires}`,
        'Supported: path, outbound',
        ...(options.headers ?? []),
      ],
    });
  }

  /** Builds a request as a browser would (Via WS .invalid, no rport, Max-Forwards 70). */
  buildRequest(method: string, uri: string, options: RequestOptions = {}): string {
    const body = options.body ?? '';
    const cseq = options.cseq ?? this.#cseq++;
    const lines = [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.viaHost};branch=z9hG4bK${token(8)}`,
      'Max-Forwards: 70',
      `From: <${this.aor}>;tag=${options.fromTag ?? token(4)}`,
      `To: ${options.to ?? `<${uri}>`}`,
      `Call-ID: ${options.callId ?? token(10)}`,
      `CSeq: ${cseq} ${method}`,
      ...(options.headers ?? []),
      ...(body !== '' ? [`Content-Type: ${options.contentType ?? 'text/plain'}`] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    return `${lines.join('\r\n')}\r\n\r\n${body}`;
  }

  /** Sends a request and resolves with its final response (same Call-ID and CSeq). */
  async request(method: string, uri: string, options: RequestOptions = {}): Promise<SipResponse> {
    const text = this.buildRequest(method, uri, options);
    const sent = parseMessage(text) as SipRequest;
    const answer = this.waitFor(
      (m): m is SipResponse =>
        m.kind === 'response' &&
        m.status >= 200 &&
        m.headers.get('call-id') === sent.callId &&
        m.cseq.seq === sent.cseq.seq &&
        m.cseq.method === method,
      options.timeoutMs ?? 10_000,
      `final response to ${method} ${sent.callId}`,
    );
    this.ws.send(text);
    return (await answer) as SipResponse;
  }

  /** The first message (already received, or to come) that satisfies `predicate`. */
  waitFor(
    predicate: (m: SipMessage) => boolean,
    timeoutMs = 10_000,
    what = 'a message',
  ): Promise<SipMessage> {
    const found = this.received.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const seen = this.received.map(startLine).join(' | ') || 'nothing';
        reject(new Error(`RawWsUa(${this.options.user}): no ${what} within ${timeoutMs} ms; got: ${seen}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  waitForRequest(predicate: (r: SipRequest) => boolean, timeoutMs = 10_000): Promise<SipRequest> {
    return this.waitFor(
      (m) => m.kind === 'request' && predicate(m),
      timeoutMs,
      'matching request',
    ) as Promise<SipRequest>;
  }

  /** Incoming requests, oldest first. */
  requests(method?: string): SipRequest[] {
    return this.received.filter(
      (m): m is SipRequest => m.kind === 'request' && (method === undefined || m.method === method),
    );
  }

  /** The answer a browser would give (see the file header). */
  defaultAnswer(request: SipRequest): SipResponse | null {
    switch (request.method) {
      case 'ACK':
        return null;
      case 'INVITE': {
        const ok = createResponse(request, 200, {
          toTag: request.toTag === undefined ? token(4) : undefined,
          headers: { Contact: `<sip:${this.contactUser}@${this.viaHost};transport=ws>` },
        });
        // RFC 3261 §12.1.1: the UAS copies Record-Route into the 2xx.
        const rr = request.headers.getAll('record-route');
        if (rr.length > 0) ok.headers.set('Record-Route', rr);
        return ok;
      }
      default:
        return createResponse(request, 200, { toTag: request.toTag === undefined ? token(4) : undefined });
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), 2000);
    await this.closed;
    clearTimeout(timer);
  }

  #onFrame(data: Buffer): void {
    const text = data.toString('utf8');
    if (/^[\r\n]*$/.test(text)) {
      this.other.push(text);
      return;
    }
    let message: SipMessage;
    try {
      message = parseMessage(data);
    } catch {
      this.other.push(text);
      return;
    }
    this.received.push(message);
    if (message.kind === 'request') {
      const answer =
        this.onRequest !== undefined ? this.onRequest(message, this) : this.defaultAnswer(message);
      if (answer !== null && answer !== undefined) this.send(answer);
    }
    for (const waiter of this.#waiters) {
      if (waiter.predicate(message)) {
        this.#waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  }
}

export function startLine(m: SipMessage): string {
  return m.kind === 'request' ? `${m.method} ${m.uri.toString()}` : `${m.status} ${m.reason}`;
}
