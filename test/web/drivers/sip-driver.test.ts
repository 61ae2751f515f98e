/**
 * SipDriver: a fake core and a hand-driven transport for the glue (what goes where, with which `now`, in which
 * order, and what a misbehaving listener or core can and cannot do), then a fake core over a real
 * WebSocketTransport and `ws` server on 127.0.0.1 for the whole path, reconnection included.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  Emitter,
  SipDriver,
  SipTransportError,
  WebSocketTransport,
  type ConnectionState,
  type Logger,
  type SipTransport,
  type TransportEvents,
  type TransportSink,
  type WebSocketConstructor,
} from '../../../web/src/drivers/index.ts';
import { InvalidStateError, type FlowInfo } from '../../../web/src/sip/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { FakeCore, REGISTER, SipWsServer, type FakeCoreEvent } from './fakes.ts';

const FLOW: FlowInfo = { transport: 'WSS', reliable: true, flowId: 'wss-1-test' };

/** A transport the test drives by hand. */
class HandTransport implements SipTransport {
  state: ConnectionState = { status: 'offline' };
  readonly emitter = new Emitter<TransportEvents>();
  sink: TransportSink | undefined;
  readonly sent: { text: string; flow: FlowInfo | undefined }[] = [];
  starts = 0;
  stops = 0;

  get events() {
    return this.emitter;
  }

  start(sink: TransportSink): void {
    this.starts++;
    this.sink = sink;
    this.setState({ status: 'connecting', url: 'wss://hand', attempt: 0 });
  }

  stop(): void {
    this.stops++;
    const wasOnline = this.state.status === 'online';
    this.setState({ status: 'offline' });
    if (wasOnline) this.sink?.flowDown();
  }

  send(data: Uint8Array, flow?: FlowInfo): void {
    this.sent.push({ text: new TextDecoder().decode(data), flow });
  }

  up(flow = FLOW): void {
    this.setState({ status: 'online', flow, since: 0 });
    this.sink!.flowUp(flow);
  }

  setState(state: ConnectionState): void {
    this.state = state;
    this.emitter.emit('state', state);
  }
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function setup() {
  const clock = new FakeClock(10_000);
  const core = new FakeCore();
  const transport = new HandTransport();
  const logger = recordingLogger();
  const driver = new SipDriver({ core, transport, clock, logger });
  const events: FakeCoreEvent[] = [];
  const states: ConnectionState[] = [];
  const errors: Error[] = [];
  driver.events.on('event', (e) => events.push(e));
  driver.events.on('state', (s) => states.push(s));
  driver.events.on('error', (e) => errors.push(e));
  return { clock, core, transport, logger, driver, events, states, errors };
}

describe('SipDriver (hand-driven transport)', () => {
  it('feeds transport news to the core with now, sends what the core transmits, emits its events', () => {
    const { clock, core, transport, driver, events } = setup();
    core.onFlowUp = (_now, flow) => core.transmit(REGISTER, flow);
    core.onReceive = (_data, now) => {
      core.deadline = now + 500;
    };
    driver.start();
    expect(transport.starts).toBe(1);
    transport.up();
    expect(core.calls).toEqual([{ method: 'flowUp', now: 10_000, flow: FLOW }]);
    expect(transport.sent).toEqual([{ text: REGISTER, flow: FLOW }]);
    clock.advance(5);
    transport.sink!.receive('SIP/2.0 200 OK\r\n\r\n', FLOW);
    expect(core.calls[1]).toEqual({ method: 'receive', now: 10_005, data: 'SIP/2.0 200 OK\r\n\r\n', flow: FLOW });
    expect(events.map((e) => e.type)).toEqual(['flow-up', 'received']);
    // one timer, at the core's deadline
    expect(clock.deadlines).toEqual([10_505]);
    clock.advance(500);
    expect(core.calls.at(-1)).toEqual({ method: 'handleTimers', now: 10_505 });
    expect(events.at(-1)).toEqual({ type: 'timers', now: 10_505 });
  });

  it('forwards the transport state and errors to the app', () => {
    const { transport, driver, states, errors } = setup();
    driver.start();
    transport.up();
    const failure = new SipTransportError('keepalive-timeout', 'no pong');
    transport.emitter.emit('error', failure);
    expect(states.map((s) => s.status)).toEqual(['connecting', 'online']);
    expect(driver.state.status).toBe('online');
    expect(errors).toEqual([failure]);
  });

  it('run() is the send path: the command gets now, its bytes go out, its result comes back', () => {
    const { clock, core, transport, driver } = setup();
    driver.start();
    const result = driver.run((c, now) => {
      c.transmit(`MESSAGE at ${now}`);
      return 'handle';
    });
    expect(result).toBe('handle');
    expect(transport.sent.map((s) => s.text)).toEqual([`MESSAGE at ${clock.now()}`]);
    expect(() =>
      driver.run((c) => {
        c.transmit('before the throw');
        throw new InvalidStateError('misuse');
      }),
    ).toThrow(InvalidStateError);
    expect(transport.sent.map((s) => s.text).at(-1)).toBe('before the throw');
    void core;
  });

  it('a listener that throws is logged; the other listeners and the protocol carry on', () => {
    const { core, transport, driver, events, logger } = setup();
    driver.events.on('event', () => {
      throw new Error('view bug');
    });
    const after: string[] = [];
    driver.events.on('event', (e) => after.push(e.type));
    core.onReceive = () => core.transmit('answer');
    driver.start();
    transport.up();
    transport.sink!.receive('request', FLOW);
    expect(events.map((e) => e.type)).toEqual(['flow-up', 'received']);
    expect(after).toEqual(['flow-up', 'received']);
    expect(transport.sent.map((s) => s.text)).toEqual(['answer']);
    expect(logger.lines.filter((l) => l.includes('view bug'))).toHaveLength(2);
  });

  it('an exception out of the core on a frame becomes an error event, never thrown into the transport', () => {
    const { core, transport, driver, errors } = setup();
    core.onReceive = () => {
      throw new TypeError('core bug');
    };
    driver.start();
    transport.up();
    expect(() => transport.sink!.receive('x', FLOW)).not.toThrow();
    expect(errors.map((e) => e.message)).toEqual(['core bug']);
    // and the next input is processed normally
    core.onReceive = undefined;
    transport.sink!.receive('y', FLOW);
    expect(core.methods).toEqual(['flowUp', 'receive', 'receive']);
  });

  it('a listener may act on the core from inside an event; it runs after the current flush', () => {
    const { core, transport, driver } = setup();
    driver.events.on('event', (e) => {
      if (e.type === 'received') driver.run((c) => c.transmit('reply from listener'));
    });
    core.onReceive = () => core.transmit('automatic answer');
    driver.start();
    transport.up();
    transport.sink!.receive('request', FLOW);
    expect(transport.sent.map((s) => s.text)).toEqual(['automatic answer', 'reply from listener']);
  });

  it('stop(): the core hears flowDown, the timer is cleared, transport news is no longer forwarded', () => {
    const { clock, core, transport, driver, states } = setup();
    core.deadline = 20_000;
    driver.start();
    transport.up();
    expect(clock.pending).toBe(1);
    driver.stop();
    expect(transport.stops).toBe(1);
    expect(core.methods).toEqual(['flowUp', 'flowDown']);
    expect(clock.pending).toBe(0);
    expect(states.at(-1)).toEqual({ status: 'offline' });
    transport.setState({ status: 'connecting', url: 'x', attempt: 0 });
    expect(states.at(-1)).toEqual({ status: 'offline' });
    driver.stop(); // idempotent
    expect(transport.stops).toBe(1);
  });

  it("keep-alive is the transport's: the driver hands it the core's interval, and its own one back after", () => {
    const clock = new FakeClock();
    const core = new FakeCore();
    const intervals: number[] = [];
    const transport = Object.assign(new HandTransport(), {
      keepAliveInterval: 25_000,
      setKeepAliveInterval(ms: number) {
        intervals.push(ms);
        this.keepAliveInterval = ms;
      },
    });
    const driver = new SipDriver({ core, transport, clock });
    driver.start();
    transport.up();
    expect(intervals).toEqual([]); // the core asks for nothing: the transport keeps its own 25 s
    core.onReceive = () => {
      core.keepAliveInterval = 120_000; // a 200 to REGISTER with Flow-Timer: 120
    };
    transport.sink!.receive('SIP/2.0 200 OK', FLOW);
    expect(intervals).toEqual([120_000]);
    transport.sink!.receive('another', FLOW);
    expect(intervals).toEqual([120_000]); // told once per change
    // A change made in a timer round (a refresh that failed …) is seen too.
    core.deadline = clock.now() + 1_000;
    core.onTimers = () => {
      core.keepAliveInterval = undefined;
    };
    driver.run(() => undefined);
    clock.advance(1_000);
    expect(intervals).toEqual([120_000, 25_000]);
    // A transport without a settable keep-alive is left alone.
    const plain = new SipDriver({ core: new FakeCore(), transport: new HandTransport(), clock });
    expect(() => plain.run((c) => ((c.keepAliveInterval = 5_000), c.transmit('x')))).not.toThrow();
  });

  it('start() twice throws InvalidStateError; start() after stop() works', () => {
    const { transport, driver } = setup();
    driver.start();
    expect(() => driver.start()).toThrow(InvalidStateError);
    driver.stop();
    driver.start();
    expect(transport.starts).toBe(2);
  });

  it('a transport that refuses to start leaves the driver stopped, and the transport untouched', () => {
    const { transport, driver, states } = setup();
    transport.start = () => {
      throw new InvalidStateError('start() while online');
    };
    expect(() => driver.start()).toThrow(InvalidStateError);
    expect(driver.started).toBe(false);
    expect(transport.stops).toBe(0);
    transport.setState({ status: 'connecting', url: 'x', attempt: 0 });
    expect(states).toEqual([]);
  });

  it('without a logger or reporter, a throwing listener is rethrown from a microtask, not into the driver', () => {
    const clock = new FakeClock();
    const core = new FakeCore();
    const transport = new HandTransport();
    const driver = new SipDriver({ core, transport, clock });
    const bug = new Error('view bug');
    driver.events.on('event', () => {
      throw bug;
    });
    const microtasks: unknown[] = [];
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (fn) => {
      try {
        fn();
      } catch (error) {
        microtasks.push(error);
      }
    };
    try {
      driver.start();
      expect(() => transport.up()).not.toThrow();
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(microtasks).toEqual([bug]);
    expect(core.methods).toEqual(['flowUp']);
  });

  it('the browser WebSocket and ws both fit WebSocketConstructor (checked by tsc)', () => {
    const fits = (impl: WebSocketConstructor | undefined) => impl;
    const browser: typeof globalThis.WebSocket | undefined = (globalThis as { WebSocket?: typeof globalThis.WebSocket })
      .WebSocket;
    expect(fits(WebSocket)).toBe(WebSocket);
    expect(fits(browser)).toBe(browser);
  });
});

describe('SipDriver over a real WebSocketTransport and ws server', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const until = (check: () => void) => vi.waitFor(check, { timeout: 5_000, interval: 2 });

  it('registers on every new flow: flowUp, REGISTER out, 200 in; server closes; flowDown, back-off, again', async () => {
    const server = await SipWsServer.start();
    cleanups.push(() => server.close());
    const clock = new FakeClock();
    const core = new FakeCore();
    core.onFlowUp = (_now, flow) => core.transmit(REGISTER, flow);
    const transport = new WebSocketTransport({
      url: server.url,
      WebSocketImpl: WebSocket,
      clock,
      random: () => 0.5,
      keepAliveInterval: 0,
    });
    const driver = new SipDriver({ core, transport, clock });
    cleanups.push(() => {
      driver.stop();
    });
    const events: FakeCoreEvent[] = [];
    driver.events.on('event', (e) => events.push(e));

    driver.start();
    await until(() => {
      expect(server.connections[0]?.messages.map((m) => m.text)).toEqual([REGISTER]);
    });
    expect(server.connections[0]!.messages[0]!.binary).toBe(false);
    server.last.socket.send('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');
    await until(() => {
      expect(events.map((e) => e.type)).toEqual(['flow-up', 'received']);
    });

    server.last.socket.close(1012, 'service restart');
    await until(() => {
      expect(core.methods).toEqual(['flowUp', 'receive', 'flowDown']);
    });
    const state = driver.state;
    expect(state.status).toBe('reconnecting');
    if (state.status === 'reconnecting') clock.advanceTo(state.at);
    await until(() => {
      expect(server.connections[1]?.messages.map((m) => m.text)).toEqual([REGISTER]);
    });
    expect(core.methods).toEqual(['flowUp', 'receive', 'flowDown', 'flowUp']);
    const flows = core.calls.flatMap((c) => (c.method === 'flowUp' ? [c.flow.flowId] : []));
    expect(new Set(flows).size).toBe(2);

    driver.stop();
    expect(core.methods.at(-1)).toBe('flowDown');
    expect(clock.pending).toBe(0);
    clock.advance(3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.connections).toHaveLength(2);
  });
});
