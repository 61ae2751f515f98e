/**
 * Test doubles for the drivers: a recording sans-IO core, a recording transport sink, and a SIP-over-WebSocket
 * server on 127.0.0.1 (port 0) built on `ws` that the test can steer (select the subprotocol or not, answer
 * CRLF pings or not, push frames, close connections).
 */
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import type { FlowInfo } from '../../../web/src/sip/index.ts';
import type { CoreTransmission, SansIoCore, TransportSink } from '../../../web/src/drivers/index.ts';

export type FakeCoreCall =
  | { readonly method: 'receive'; readonly now: number; readonly data: Uint8Array | string; readonly flow?: FlowInfo }
  | { readonly method: 'handleTimers'; readonly now: number }
  | { readonly method: 'flowUp'; readonly now: number; readonly flow: FlowInfo }
  | { readonly method: 'flowDown'; readonly now: number };

export type FakeCoreEvent =
  | { readonly type: 'received'; readonly data: Uint8Array | string }
  | { readonly type: 'flow-up'; readonly flowId: string | undefined }
  | { readonly type: 'flow-down' }
  | { readonly type: 'timers'; readonly now: number }
  | { readonly type: 'custom'; readonly value: unknown };

/**
 * Records every call, emits one event per input, returns `deadline` from nextDeadline(), and lets the test
 * react to inputs (queue transmissions, change the deadline) through hooks.
 */
export class FakeCore implements SansIoCore<FakeCoreEvent> {
  readonly calls: FakeCoreCall[] = [];
  deadline: number | undefined;
  /** what the core asks of the transport's keep-alive (a Flow-Timer), read by the driver after each flush */
  keepAliveInterval: number | undefined;
  outbox: CoreTransmission[] = [];
  events: FakeCoreEvent[] = [];
  nextDeadlineCalls = 0;
  onReceive: ((data: Uint8Array | string, now: number, flow: FlowInfo | undefined) => void) | undefined;
  onFlowUp: ((now: number, flow: FlowInfo) => void) | undefined;
  onFlowDown: ((now: number) => void) | undefined;
  onTimers: ((now: number) => void) | undefined;

  receive(data: Uint8Array | string, now: number, flow?: FlowInfo): void {
    this.calls.push(flow ? { method: 'receive', now, data, flow } : { method: 'receive', now, data });
    this.events.push({ type: 'received', data });
    this.onReceive?.(data, now, flow);
  }

  /** Like a real core, a deadline that is due is consumed; `onTimers` may set the next one. */
  handleTimers(now: number): void {
    this.calls.push({ method: 'handleTimers', now });
    if (this.deadline !== undefined && this.deadline <= now) this.deadline = undefined;
    this.events.push({ type: 'timers', now });
    this.onTimers?.(now);
  }

  nextDeadline(): number | undefined {
    this.nextDeadlineCalls++;
    return this.deadline;
  }

  takeTransmissions(): CoreTransmission[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  takeEvents(): FakeCoreEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  flowUp(now: number, flow: FlowInfo): void {
    this.calls.push({ method: 'flowUp', now, flow });
    this.events.push({ type: 'flow-up', flowId: flow.flowId });
    this.onFlowUp?.(now, flow);
  }

  flowDown(now: number): void {
    this.calls.push({ method: 'flowDown', now });
    this.events.push({ type: 'flow-down' });
    this.onFlowDown?.(now);
  }

  /** The methods called so far, in order (receive, flowUp …). */
  get methods(): string[] {
    return this.calls.map((call) => call.method);
  }

  /** Queues bytes for the driver to send. */
  transmit(text: string | Uint8Array, flow?: FlowInfo): void {
    this.outbox.push({ data: typeof text === 'string' ? new TextEncoder().encode(text) : text, flow });
  }
}

export type SinkCall =
  | { readonly method: 'receive'; readonly data: Uint8Array | string; readonly flow: FlowInfo }
  | { readonly method: 'flowUp'; readonly flow: FlowInfo }
  | { readonly method: 'flowDown' };

/** A TransportSink that records what the transport reports. */
export class RecordingSink implements TransportSink {
  readonly calls: SinkCall[] = [];
  onFlowUp: ((flow: FlowInfo) => void) | undefined;
  onFlowDown: (() => void) | undefined;

  receive(data: Uint8Array | string, flow: FlowInfo): void {
    this.calls.push({ method: 'receive', data, flow });
  }

  flowUp(flow: FlowInfo): void {
    this.calls.push({ method: 'flowUp', flow });
    this.onFlowUp?.(flow);
  }

  flowDown(): void {
    this.calls.push({ method: 'flowDown' });
    this.onFlowDown?.();
  }

  get methods(): string[] {
    return this.calls.map((call) => call.method);
  }

  get received(): (Uint8Array | string)[] {
    return this.calls.flatMap((call) => (call.method === 'receive' ? [call.data] : []));
  }

  get flowUps(): FlowInfo[] {
    return this.calls.flatMap((call) => (call.method === 'flowUp' ? [call.flow] : []));
  }
}

export interface ServerFrame {
  readonly data: Buffer;
  readonly binary: boolean;
  readonly text: string;
}

export interface ServerConnection {
  readonly socket: ServerSocket;
  /** the subprotocols the client offered */
  readonly offered: string[];
  readonly frames: ServerFrame[];
  /** frames other than keep-alive pings */
  readonly messages: ServerFrame[];
  pings: number;
  closed: { code: number; reason: string } | undefined;
}

export interface SipServerOptions {
  /** which subprotocol to select: 'sip' (the default) when offered, another offered one, or none (false) */
  readonly select?: 'sip' | false | ((offered: Set<string>) => string | false);
  /** answer CRLFCRLF pings with a CRLF pong (default true); can be changed later through `answerPings` */
  readonly answerPings?: boolean;
}

/** A steerable SIP-over-WebSocket server on 127.0.0.1, port 0. */
export class SipWsServer {
  readonly connections: ServerConnection[] = [];
  answerPings: boolean;
  readonly #wss: WebSocketServer;

  private constructor(wss: WebSocketServer, answerPings: boolean) {
    this.#wss = wss;
    this.answerPings = answerPings;
    wss.on('connection', (socket, request) => {
      const offered = (request.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      const connection: ServerConnection = { socket, offered, frames: [], messages: [], pings: 0, closed: undefined };
      this.connections.push(connection);
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        const frame = { data, binary: isBinary, text: data.toString('utf8') };
        connection.frames.push(frame);
        if (frame.text === '\r\n\r\n') {
          connection.pings++;
          if (this.answerPings) socket.send('\r\n');
        } else connection.messages.push(frame);
      });
      socket.on('close', (code: number, reason: Buffer) => {
        connection.closed = { code, reason: reason.toString() };
      });
      socket.on('error', () => {});
    });
  }

  static async start(options: SipServerOptions = {}): Promise<SipWsServer> {
    const select = options.select ?? 'sip';
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (offered: Set<string>) => {
        if (typeof select === 'function') return select(offered);
        if (select === false) return false;
        return offered.has(select) ? select : false;
      },
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new SipWsServer(wss, options.answerPings ?? true);
  }

  get port(): number {
    return (this.#wss.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The most recent connection. */
  get last(): ServerConnection {
    const last = this.connections.at(-1);
    if (!last) throw new Error('no connection yet');
    return last;
  }

  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => {
      this.#wss.close(() => {
        resolve();
      });
    });
  }
}

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

export const REGISTER =
  'REGISTER sip:example.invalid SIP/2.0\r\n' +
  'Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK1\r\n' +
  'From: <sip:alice@example.invalid>;tag=1\r\nTo: <sip:alice@example.invalid>\r\n' +
  'Call-ID: 1@abc.invalid\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n';
