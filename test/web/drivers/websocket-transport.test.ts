/**
 * WebSocketTransport against a real `ws` server on 127.0.0.1 (port 0). Time-driven behaviour (keep-alive, pong
 * timeout, back-off, queue age) runs on a FakeClock, so the test decides when timers fire and asserts exact
 * bounds without sleeping; only the socket I/O is real, and is awaited by polling for its effect. One group
 * runs on the real clock with small intervals, asserting only that things eventually happen.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  backoffCeiling,
  backoffDelay,
  systemClock,
  WebSocketTransport,
  type ConnectionState,
  type SipTransportError,
  type WebSocketLike,
  type WebSocketTransportOptions,
} from '../../../web/src/drivers/index.ts';
import type { FlowInfo } from '../../../web/src/sip/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { encode, RecordingSink, REGISTER, SipWsServer } from './fakes.ts';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(options?: Parameters<typeof SipWsServer.start>[0]): Promise<SipWsServer> {
  const server = await SipWsServer.start(options);
  cleanups.push(() => server.close());
  return server;
}

/** Polls until `check` stops throwing (socket I/O is real); generous bound, never a timing assertion. */
async function until(check: () => void, timeout = 5_000): Promise<void> {
  await vi.waitFor(check, { timeout, interval: 2 });
}

/** Lets real I/O run for a moment (to show that something does NOT happen). */
const settle = (ms = 100) => new Promise((resolve) => setTimeout(resolve, ms));

function makeTransport(url: string, options: Partial<WebSocketTransportOptions> = {}) {
  const clock = new FakeClock();
  const sink = new RecordingSink();
  const errors: SipTransportError[] = [];
  const states: ConnectionState[] = [];
  const transport = new WebSocketTransport({
    url,
    WebSocketImpl: WebSocket,
    clock,
    random: () => 0.5,
    keepAliveInterval: 1_000,
    ...options,
  });
  transport.events.on('error', (error) => errors.push(error));
  transport.events.on('state', (state) => states.push(state));
  cleanups.push(() => {
    transport.stop();
  });
  const online = () =>
    until(() => {
      expect(transport.state.status).toBe('online');
    });
  const statuses = () => states.map((s) => s.status);
  return { transport, clock, sink, errors, states, online, statuses };
}

describe('WebSocketTransport: connecting (RFC 7118 §4.1)', () => {
  it('offers the "sip" subprotocol and reports the flow up when the server selects it', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    expect(t.transport.state).toEqual({ status: 'connecting', url: server.url, attempt: 0 });
    await t.online();
    expect(server.last.offered).toEqual(['sip']);
    expect(t.sink.flowUps).toEqual([
      { transport: 'WS', reliable: true, remote: `127.0.0.1:${server.port}`, flowId: expect.stringMatching(/^ws-1-/) },
    ]);
    expect(t.transport.flow).toEqual(t.sink.flowUps[0]);
    expect(t.statuses()).toEqual(['connecting', 'online']);
    expect(t.errors).toEqual([]);
  });

  it('fails when the server selects no subprotocol: no flow, a clear error, a reconnection scheduled', async () => {
    const server = await startServer({ select: false });
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    await until(() => {
      expect(t.transport.state.status).toBe('reconnecting');
    });
    expect(t.sink.calls).toEqual([]);
    // `ws` enforces the subprotocol itself and fails the handshake; the transport passes its words on.
    expect(t.errors.map((e) => [e.code, e.message])).toEqual([['socket-error', 'Server sent no subprotocol']]);
  });

  it('fails, closing the socket, when the connection opens with another subprotocol (as a browser allows)', async () => {
    // A browser opens the connection when the server omits Sec-WebSocket-Protocol; the transport must refuse it.
    // Simulated here by a client that also offers "x-other", which the server picks.
    class OfferingMore extends WebSocket {
      constructor(url: string, protocols: string | string[]) {
        super(url, [...[protocols].flat(), 'x-other']);
      }
    }
    const server = await startServer({ select: (offered) => (offered.has('x-other') ? 'x-other' : false) });
    const t = makeTransport(server.url, { WebSocketImpl: OfferingMore });
    t.transport.start(t.sink);
    await until(() => {
      expect(t.errors.map((e) => e.code)).toEqual(['subprotocol']);
    });
    expect(t.errors[0]!.message).toContain('"x-other"');
    expect(t.transport.state.status).toBe('reconnecting');
    expect(t.sink.calls).toEqual([]);
    await until(() => {
      expect(server.last.closed?.code).toBe(4000);
    });
  });

  it('gives up on a handshake that does not complete within connectTimeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const { port } = silent.address() as { port: number };
    const t = makeTransport(`ws://127.0.0.1:${port}`, { connectTimeout: 5_000 });
    t.transport.start(t.sink);
    await until(() => {
      expect(sockets).toHaveLength(1);
    });
    t.clock.advance(4_999);
    expect(t.transport.state.status).toBe('connecting');
    t.clock.advance(1);
    expect(t.errors.map((e) => e.code)).toEqual(['connect-timeout']);
    expect(t.transport.state.status).toBe('reconnecting');
  });

  it('rejects a URL that is not ws: or wss:, and start() twice', async () => {
    const base = { WebSocketImpl: WebSocket, clock: new FakeClock(), random: Math.random };
    expect(() => new WebSocketTransport({ ...base, url: 'http://127.0.0.1/' })).toThrow(TypeError);
    expect(() => new WebSocketTransport({ ...base, url: 'not a url' })).toThrow(TypeError);
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    expect(() => t.transport.start(t.sink)).toThrow(/start\(\) while connecting/);
  });
});

describe('WebSocketTransport: frames (RFC 7118 §5)', () => {
  it('sends UTF-8 messages as text frames and anything else as binary frames, byte for byte', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    await t.online();
    const unicode = encode(REGISTER.replace('Content-Length: 0', 'Subject: héllo 👋 \uFEFF\r\nContent-Length: 0'));
    const notUtf8 = new Uint8Array([...encode('MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\n'), 0xff, 0xfe, 0x00]);
    t.transport.send(encode(REGISTER));
    t.transport.send(unicode);
    t.transport.send(notUtf8);
    await until(() => {
      expect(server.last.messages).toHaveLength(3);
    });
    const [register, text, binary] = server.last.messages;
    expect(register!.binary).toBe(false);
    expect(register!.text).toBe(REGISTER);
    expect(text!.binary).toBe(false);
    expect(new Uint8Array(text!.data)).toEqual(unicode);
    expect(binary!.binary).toBe(true);
    expect(new Uint8Array(binary!.data)).toEqual(notUtf8);
  });

  it('hands text frames over as strings and binary frames as bytes, one message per frame', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    await t.online();
    server.last.socket.send(REGISTER);
    server.last.socket.send(Buffer.from(REGISTER), { binary: true });
    await until(() => {
      expect(t.sink.received).toHaveLength(2);
    });
    const [text, bytes] = t.sink.received;
    expect(text).toBe(REGISTER);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(bytes as Uint8Array)).toBe(REGISTER);
    expect(t.sink.calls.filter((c) => c.method === 'receive').map((c) => c.flow)).toEqual([
      t.transport.flow,
      t.transport.flow,
    ]);
  });

  it('answers a CRLFCRLF ping with a CRLF pong; keep-alives (text or binary) never reach the sink', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    await t.online();
    server.last.socket.send('\r\n\r\n');
    server.last.socket.send(Buffer.from('\r\n\r\n'), { binary: true });
    server.last.socket.send('\r\n'); // an unsolicited pong: allowed, ignored
    server.last.socket.send(REGISTER);
    await until(() => {
      expect(t.sink.received).toEqual([REGISTER]);
    });
    await until(() => {
      expect(server.last.frames.map((f) => f.text)).toEqual(['\r\n', '\r\n']);
    });
    expect(server.last.frames.every((f) => !f.binary)).toBe(true);
    expect(t.sink.methods).toEqual(['flowUp', 'receive']);
  });
});

describe('WebSocketTransport: keep-alive (RFC 5626 §4.4.1), on a fake clock', () => {
  it('pings every 80–100 % of the interval; a server that answers keeps the flow', async () => {
    const server = await startServer({ answerPings: true });
    const t = makeTransport(server.url, { keepAliveInterval: 1_000, random: () => 0.5 });
    t.transport.start(t.sink);
    await t.online();
    for (let round = 1; round <= 3; round++) {
      // 0.8 + 0.2 · random() = 90 % of the interval
      expect(t.clock.deadlines).toEqual([t.clock.now() + 900]);
      t.clock.runNext();
      await until(() => {
        expect(server.last.pings).toBe(round);
      });
      // The pong is in when the pong deadline has given way to the next ping.
      await until(() => {
        expect(t.clock.deadlines).toEqual([t.clock.now() + 900]);
      });
    }
    expect(t.transport.state.status).toBe('online');
    expect(t.sink.methods).toEqual(['flowUp']);
    expect(t.errors).toEqual([]);
    expect(server.connections).toHaveLength(1);
    // Pings go as text frames and reach neither the sink nor the server's SIP messages.
    expect(server.last.frames.every((f) => f.text === '\r\n\r\n' && !f.binary)).toBe(true);
  });

  it('a server that stops answering gets the flow declared dead exactly at the 10 s pong bound', async () => {
    const server = await startServer({ answerPings: true });
    const t = makeTransport(server.url, { keepAliveInterval: 1_000 });
    t.transport.start(t.sink);
    await t.online();
    t.clock.runNext();
    await until(() => {
      expect(t.clock.deadlines).toEqual([t.clock.now() + 900]);
    });
    server.answerPings = false;
    t.clock.runNext();
    await until(() => {
      expect(server.last.pings).toBe(2);
    });
    const pingAt = t.clock.now();
    expect(t.clock.deadlines).toEqual([pingAt + 10_000]);
    await settle(50); // no pong is on its way
    t.clock.advance(9_999);
    expect(t.transport.state.status).toBe('online');
    t.clock.advance(1);
    expect(t.errors.map((e) => e.code)).toEqual(['keepalive-timeout']);
    expect(t.transport.state.status).toBe('reconnecting');
    expect(t.sink.methods).toEqual(['flowUp', 'flowDown']);
    await until(() => {
      expect(server.last.closed?.code).toBe(4000);
    });
  });

  it("a core's own ping goes out, and the pong answering it goes to the core (and only that pong)", async () => {
    const server = await startServer({ answerPings: true });
    const t = makeTransport(server.url, { keepAliveInterval: 1_000 });
    t.transport.send(encode('\r\n\r\n')); // offline: dropped with an error, as any message
    t.transport.start(t.sink);
    t.transport.send(encode('\r\n\r\n')); // connecting: a ping for no flow is not queued
    expect(t.transport.queued).toBe(0);
    await t.online();
    // The core pings, then the transport's keep-alive pings: two pongs come back, one for each, in order.
    t.transport.send(encode('\r\n\r\n'), t.transport.flow);
    t.clock.runNext();
    await until(() => {
      expect(server.last.pings).toBe(2);
    });
    await until(() => {
      expect(t.clock.deadlines).toEqual([t.clock.now() + 900]); // the transport got its pong
    });
    expect(t.sink.received).toEqual(['\r\n']); // and the core got exactly one
    // An unsolicited pong goes to nobody.
    server.last.socket.send('\r\n');
    server.last.socket.send(REGISTER);
    await until(() => {
      expect(t.sink.received).toEqual(['\r\n', REGISTER]);
    });
    expect(t.errors.map((e) => e.code)).toEqual(['offline']);
  });

  it('setKeepAliveInterval() (a Flow-Timer) reschedules at once; 0 turns keep-alive off', async () => {
    const server = await startServer();
    const t = makeTransport(server.url, { keepAliveInterval: 25_000 });
    t.transport.start(t.sink);
    await t.online();
    expect(t.clock.deadlines).toEqual([t.clock.now() + 22_500]);
    t.transport.setKeepAliveInterval(120_000);
    expect(t.clock.deadlines).toEqual([t.clock.now() + 108_000]);
    t.transport.setKeepAliveInterval(0);
    expect(t.clock.pending).toBe(0);
    expect(() => t.transport.setKeepAliveInterval(-1)).toThrow(RangeError);
  });
});

describe('WebSocketTransport: reconnection (RFC 5626 §4.5), on a fake clock', () => {
  it('server closes the socket → flowDown, reconnecting with a countdown, then a new flow up', async () => {
    const server = await startServer();
    const t = makeTransport(server.url, { minDelay: 1_000, maxDelay: 60_000 });
    t.transport.start(t.sink);
    await t.online();
    server.last.socket.close(1001, 'going away');
    await until(() => {
      expect(t.transport.state.status).toBe('reconnecting');
    });
    const state = t.transport.state as Extract<ConnectionState, { status: 'reconnecting' }>;
    expect(state.at - t.clock.now()).toBe(backoffDelay(0, () => 0.5, { minDelay: 1_000 }));
    expect(state.attempt).toBe(1);
    expect(state.reason).toContain('1001');
    expect(t.sink.methods).toEqual(['flowUp', 'flowDown']);
    t.clock.advanceTo(state.at - 1);
    await settle(50);
    expect(server.connections).toHaveLength(1);
    t.clock.advanceTo(state.at);
    expect(t.transport.state).toEqual({ status: 'connecting', url: server.url, attempt: 1 });
    await t.online();
    expect(t.sink.methods).toEqual(['flowUp', 'flowDown', 'flowUp']);
    const [first, second] = t.sink.flowUps;
    expect(second!.flowId).not.toBe(first!.flowId);
    expect(server.connections).toHaveLength(2);
    expect(t.statuses()).toEqual(['connecting', 'online', 'reconnecting', 'connecting', 'online']);
  });

  it('back-off delays are jittered within [minDelay, ceiling(failures)] while attempts keep failing', async () => {
    const server = await startServer({ select: false }); // every handshake fails
    const random = seededRandom(3);
    const draws: number[] = [];
    const recording = () => {
      const r = random();
      draws.push(r);
      return r;
    };
    const bounds = { minDelay: 1_000, maxDelay: 20_000 };
    const t = makeTransport(server.url, { ...bounds, random: recording });
    t.transport.start(t.sink);
    const delays: number[] = [];
    for (let n = 0; n < 7; n++) {
      await until(() => {
        expect(t.transport.state).toMatchObject({ status: 'reconnecting', attempt: n + 1 });
      });
      const state = t.transport.state as Extract<ConnectionState, { status: 'reconnecting' }>;
      const delay = state.at - t.clock.now();
      delays.push(delay);
      expect(delay).toBe(backoffDelay(n, () => draws[n]!, bounds));
      expect(delay).toBeGreaterThanOrEqual(1_000);
      expect(delay).toBeLessThanOrEqual(backoffCeiling(n, bounds));
      t.clock.advanceTo(state.at);
    }
    expect(new Set(delays).size).toBeGreaterThan(1);
    expect(t.sink.calls).toEqual([]);
  });

  it('with random() at the top of its range the delays double up to maxDelay', async () => {
    const server = await startServer({ select: false });
    const t = makeTransport(server.url, { minDelay: 500, maxDelay: 10_000, random: () => 0.999_999 });
    t.transport.start(t.sink);
    const delays: number[] = [];
    for (let n = 0; n < 6; n++) {
      await until(() => {
        expect(t.transport.state).toMatchObject({ status: 'reconnecting', attempt: n + 1 });
      });
      const state = t.transport.state as Extract<ConnectionState, { status: 'reconnecting' }>;
      delays.push(state.at - t.clock.now());
      t.clock.advanceTo(state.at);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });

  it('resets the back-off after a connection that stayed up stableAfter', async () => {
    const server = await startServer();
    const t = makeTransport(server.url, { keepAliveInterval: 0, stableAfter: 10_000, random: () => 0.999_999 });
    t.transport.start(t.sink);
    const reconnect = async (expectedAttempt: number, expectedDelay: number) => {
      await until(() => {
        expect(t.transport.state.status).toBe('reconnecting');
      });
      const state = t.transport.state as Extract<ConnectionState, { status: 'reconnecting' }>;
      expect([state.attempt, state.at - t.clock.now()]).toEqual([expectedAttempt, expectedDelay]);
      t.clock.advanceTo(state.at);
      await t.online();
    };
    await t.online();
    server.last.socket.close(); // up for 0 ms
    await reconnect(1, 2_000);
    server.last.socket.close(); // up for 0 ms again: the back-off grows
    await reconnect(2, 4_000);
    t.clock.advance(10_000); // this one stays up
    server.last.socket.close();
    await reconnect(1, 2_000);
  });

  it('reconnectNow() skips the countdown', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    await t.online();
    server.last.socket.close();
    await until(() => {
      expect(t.transport.state.status).toBe('reconnecting');
    });
    t.transport.reconnectNow();
    await t.online();
    expect(server.connections).toHaveLength(2);
  });
});

describe('WebSocketTransport: stop()', () => {
  it('while online: flowDown, offline, close code 1000, no timer left, no reconnection', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    await t.online();
    t.transport.stop();
    expect(t.transport.state).toEqual({ status: 'offline' });
    expect(t.sink.methods).toEqual(['flowUp', 'flowDown']);
    expect(t.clock.pending).toBe(0);
    await until(() => {
      expect(server.last.closed?.code).toBe(1000);
    });
    t.clock.advance(3_600_000);
    await settle();
    expect(server.connections).toHaveLength(1);
    t.transport.stop(); // idempotent
    expect(t.sink.methods).toEqual(['flowUp', 'flowDown']);
  });

  it('while reconnecting: the countdown is cancelled and flowDown is not reported twice', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    await t.online();
    server.last.socket.close();
    await until(() => {
      expect(t.transport.state.status).toBe('reconnecting');
    });
    t.transport.stop();
    expect(t.clock.pending).toBe(0);
    t.clock.advance(3_600_000);
    await settle();
    expect(server.connections).toHaveLength(1);
    expect(t.sink.methods).toEqual(['flowUp', 'flowDown']);
    expect(t.statuses().at(-1)).toBe('offline');
  });

  it('while connecting: the attempt is abandoned quietly, and start() works again afterwards', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    t.transport.stop();
    await settle();
    expect(t.sink.calls).toEqual([]);
    expect(t.errors).toEqual([]);
    expect(t.clock.pending).toBe(0);
    t.transport.start(t.sink);
    await t.online();
    expect(t.sink.methods).toEqual(['flowUp']);
  });

  it('an app listener may stop() the transport from inside a state event', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.events.on('state', (state) => {
      if (state.status === 'reconnecting') t.transport.stop();
    });
    t.transport.start(t.sink);
    await t.online();
    server.last.socket.close();
    await until(() => {
      expect(t.transport.state.status).toBe('offline');
    });
    expect(t.sink.methods).toEqual(['flowUp', 'flowDown']);
    expect(t.clock.pending).toBe(0);
  });
});

describe('WebSocketTransport: the outgoing queue', () => {
  it('holds messages while connecting and sends them, in order, before reporting flowUp', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    const queuedAtFlowUp: number[] = [];
    t.sink.onFlowUp = () => queuedAtFlowUp.push(t.transport.queued);
    t.transport.start(t.sink);
    t.transport.send(encode('A'));
    t.transport.send(encode('B'));
    expect(t.transport.queued).toBe(2);
    await t.online();
    await until(() => {
      expect(server.last.messages.map((m) => m.text)).toEqual(['A', 'B']);
    });
    expect(t.transport.queued).toBe(0);
    expect(queuedAtFlowUp).toEqual([0]); // the queue was written out before the core heard flowUp
  });

  it('drops the oldest beyond maxQueue, and anything older than maxQueueAge, with error events', async () => {
    const server = await startServer();
    const t = makeTransport(server.url, { maxQueue: 2, maxQueueAge: 5_000 });
    t.transport.start(t.sink);
    t.transport.send(encode('old'));
    t.clock.advance(6_000);
    t.transport.send(encode('A'));
    t.transport.send(encode('B'));
    expect(t.errors.map((e) => e.code)).toEqual(['queue-overflow']); // 'old' pushed out by B
    t.transport.send(encode('C'));
    expect(t.errors.map((e) => e.code)).toEqual(['queue-overflow', 'queue-overflow']);
    await t.online();
    await until(() => {
      expect(server.last.messages.map((m) => m.text)).toEqual(['B', 'C']);
    });
  });

  it('drops a message whose queue age ran out while connecting', async () => {
    const server = await startServer();
    const t = makeTransport(server.url, { maxQueueAge: 5_000 });
    t.transport.start(t.sink);
    t.transport.send(encode('stale'));
    t.clock.advance(6_000);
    t.transport.send(encode('fresh'));
    await t.online();
    await until(() => {
      expect(server.last.messages.map((m) => m.text)).toEqual(['fresh']);
    });
    expect(t.errors.map((e) => e.code)).toEqual(['queue-expired']);
  });

  it('drops a message pinned to a flow that is gone; sends one pinned to the current flow', async () => {
    const server = await startServer();
    const t = makeTransport(server.url);
    t.transport.start(t.sink);
    await t.online();
    const gone: FlowInfo = { transport: 'WS', reliable: true, flowId: 'ws-0-gone' };
    t.transport.send(encode('to the old flow'), gone);
    t.transport.send(encode('to this flow'), t.transport.flow);
    await until(() => {
      expect(server.last.messages.map((m) => m.text)).toEqual(['to this flow']);
    });
    expect(t.errors.map((e) => e.code)).toEqual(['stale-flow']);
  });

  it('drops a message sent while stopped, with an error event, and never throws', () => {
    const t = makeTransport('ws://127.0.0.1:9/');
    expect(() => t.transport.send(encode('x'))).not.toThrow();
    expect(t.errors.map((e) => e.code)).toEqual(['offline']);
  });
});

/** A WebSocketLike the test drives by hand: for what a real `ws` never does (Blob frames, throwing). */
class HandSocket implements WebSocketLike {
  static last: HandSocket | undefined;
  static throwOnConstruct = false;
  readyState = 0;
  binaryType = 'blob';
  protocol = '';
  sent: (string | Uint8Array)[] = [];
  throwOnSend = false;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string | string[],
  ) {
    if (HandSocket.throwOnConstruct) throw new SyntaxError('blocked by CSP');
    HandSocket.last = this;
  }

  send(data: string | Uint8Array): void {
    if (this.throwOnSend) throw new Error('InvalidStateError');
    this.sent.push(data);
  }

  close(): void {
    this.readyState = 3;
  }

  open(protocol = 'sip'): void {
    this.readyState = 1;
    this.protocol = protocol;
    this.onopen?.({});
  }
}

describe('WebSocketTransport: with a hand-driven socket', () => {
  afterEach(() => {
    HandSocket.last = undefined;
    HandSocket.throwOnConstruct = false;
  });

  it('asks for ArrayBuffers, yet reads Blob frames in order with the frames after them', async () => {
    const t = makeTransport('wss://gateway.example/sip', { WebSocketImpl: HandSocket });
    t.transport.start(t.sink);
    const socket = HandSocket.last!;
    expect(socket.protocols).toBe('sip');
    expect(socket.binaryType).toBe('arraybuffer');
    socket.open();
    expect(t.sink.flowUps[0]).toMatchObject({ transport: 'WSS', reliable: true, remote: 'gateway.example' });
    socket.onmessage?.({ data: new Blob(['first']) });
    socket.onmessage?.({ data: 'second' });
    socket.onmessage?.({ data: encode('third').buffer });
    await until(() => {
      expect(t.sink.received).toHaveLength(3);
    });
    expect(t.sink.received.map((d) => (typeof d === 'string' ? d : new TextDecoder().decode(d)))).toEqual([
      'first',
      'second',
      'third',
    ]);
  });

  it('a constructor that throws is a failed attempt, retried with back-off', () => {
    HandSocket.throwOnConstruct = true;
    const t = makeTransport('ws://gateway.example/', { WebSocketImpl: HandSocket });
    t.transport.start(t.sink);
    expect(t.errors.map((e) => e.code)).toEqual(['connect-failed']);
    expect(t.transport.state.status).toBe('reconnecting');
    HandSocket.throwOnConstruct = false;
    t.clock.runNext();
    expect(t.transport.state.status).toBe('connecting');
  });

  it('a send that throws loses the flow: error, flowDown, reconnecting', () => {
    const t = makeTransport('ws://gateway.example/', { WebSocketImpl: HandSocket });
    t.transport.start(t.sink);
    HandSocket.last!.open();
    HandSocket.last!.throwOnSend = true;
    t.transport.send(encode('x'));
    expect(t.errors.map((e) => e.code)).toEqual(['send-failed']);
    expect(t.sink.methods).toEqual(['flowUp', 'flowDown']);
    expect(t.transport.state.status).toBe('reconnecting');
  });

  it('ignores events from a socket it has abandoned', () => {
    const t = makeTransport('ws://gateway.example/', { WebSocketImpl: HandSocket, connectTimeout: 1_000 });
    t.transport.start(t.sink);
    const abandoned = HandSocket.last!;
    const { onopen, onclose } = abandoned;
    t.clock.advance(1_000); // connect timeout
    expect(t.transport.state.status).toBe('reconnecting');
    onopen?.({});
    onclose?.({ code: 1006, reason: '' });
    expect(t.sink.calls).toEqual([]);
    expect(t.transport.state.status).toBe('reconnecting');
  });

  it('an app listener that throws does not disturb the transport', () => {
    const reported: unknown[] = [];
    const t = makeTransport('ws://gateway.example/', {
      WebSocketImpl: HandSocket,
      onListenerError: (error) => reported.push(error),
    });
    t.transport.events.on('state', () => {
      throw new Error('view bug');
    });
    t.transport.start(t.sink);
    HandSocket.last!.open();
    expect(t.transport.state.status).toBe('online');
    expect(t.sink.methods).toEqual(['flowUp']);
    expect(reported).toHaveLength(2);
  });
});

describe('WebSocketTransport: on the real clock, small intervals', () => {
  function realTransport(url: string, options: Partial<WebSocketTransportOptions> = {}) {
    const t = makeTransport(url, {
      clock: systemClock(),
      random: seededRandom(9),
      keepAliveInterval: 50,
      pongTimeout: 150,
      minDelay: 20,
      maxDelay: 100,
      ...options,
    });
    return t;
  }

  it('a server that answers pings keeps the flow across many pings', async () => {
    const server = await startServer({ answerPings: true });
    // A generous pong bound: a loaded machine must not turn a slow pong into a failure here.
    const t = realTransport(server.url, { pongTimeout: 5_000 });
    t.transport.start(t.sink);
    await t.online();
    await until(() => {
      expect(server.last.pings).toBeGreaterThanOrEqual(5);
    });
    expect(t.errors).toEqual([]);
    expect(t.sink.methods).toEqual(['flowUp']);
    expect(server.connections).toHaveLength(1);
  });

  it('a server that stops answering has the flow declared dead, then the transport reconnects', async () => {
    const server = await startServer({ answerPings: true });
    const t = realTransport(server.url);
    t.transport.start(t.sink);
    await t.online();
    server.answerPings = false;
    await until(() => {
      expect(t.errors.map((e) => e.code)).toContain('keepalive-timeout');
    });
    server.answerPings = true;
    await until(() => {
      expect(t.sink.methods.slice(0, 3)).toEqual(['flowUp', 'flowDown', 'flowUp']);
    });
    expect(server.connections.length).toBeGreaterThanOrEqual(2);
  });
});
