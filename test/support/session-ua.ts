// Our session-mode stack in Node, for interop tests: Conversations over ChatSessions over the Pager over the
// UserAgent, driven by SipDriver on a WebSocketTransport (`ws`) for SIP, plus the MSRP side the core asks for:
// a WebSocket with subprotocol `msrp` to the gateway's relay per session (as a browser has, RFC 7977), or, with
// `tcp`, a listening MSRP endpoint over node:net (RFC 4975 §5.4 passive, as a peer beside a PBX). A test
// composition root: it wires the system clock, Math.random and node:crypto; nothing in web/ or gateway/ imports it.
//
//   const alice = await startSessionUa({ wsUrl: gw.wsUrl, aor: 'sip:alice@localhost', password: 'a' });
//   await alice.registered();
//   const { id } = alice.run((c, now) => c.send('sip:bob@localhost', long, {}, now));   // a session, by itself
//   await bob.waitForEvent((e) => e.type === 'message', 'a message');
//   alice.cutMsrp();                                  // the MSRP WebSocket dies (no close frame)
//   await alice.stop();
//
// Every wait is event-driven and bounded; a timeout rejects with the last lines of the trace.

import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';

import { SipDriver, WebSocketTransport, systemClock, type Logger } from '../../web/src/drivers/index.ts';
import {
  ChatSessions,
  Conversations,
  Pager,
  UserAgent,
  type ChatSessionsOptions,
  type ConversationsEvent,
  type ConversationsOptions,
  type FileHasher,
} from '../../web/src/sip/index.ts';

export const sha1Hasher: FileHasher = {
  algorithm: 'sha-1',
  create: () => {
    const h = createHash('sha1');
    return { update: (b) => void h.update(b), digest: () => new Uint8Array(h.digest()) };
  },
};

export interface SessionUaOptions {
  readonly wsUrl: string;
  readonly aor: string;
  readonly password: string;
  /** the relay's MSRP URI to AUTH to; `msrp://<host>:<port>;ws` of `wsUrl` by default */
  readonly relayUri?: string;
  /** MSRP as a listening TCP endpoint on 127.0.0.1 instead of WebSockets to the relay */
  readonly tcp?: boolean;
  /** a q-value for the registered Contact (RFC 3261 §10.2.1.2), written into the REGISTER on its way out */
  readonly contactQ?: number;
  readonly chat?: Partial<Omit<ChatSessionsOptions, 'ua' | 'pager' | 'random'>>;
  readonly conversations?: Partial<Omit<ConversationsOptions, 'sessions'>>;
  /** the app: told every event (answer sessions here with `ua.run`) */
  readonly onEvent?: (event: ConversationsEvent, ua: SessionUa) => void;
  readonly log?: (line: string) => void;
}

export interface SessionUa {
  readonly aor: string;
  readonly conv: Conversations;
  readonly sessions: ChatSessions;
  readonly ua: UserAgent;
  readonly events: readonly ConversationsEvent[];
  /** MSRP bytes written, per connection, in order of opening */
  readonly msrpWritten: readonly { readonly connection: string; bytes: number }[];
  /** Runs a command against the core with the current time (then everything is flushed). */
  run<T>(command: (conv: Conversations, now: number) => T): T;
  registered(timeoutMs?: number): Promise<void>;
  waitFor<T>(check: () => T | undefined, what: string, timeoutMs?: number): Promise<T>;
  waitForEvent<T extends ConversationsEvent>(
    predicate: (event: ConversationsEvent) => event is T,
    what: string,
    timeoutMs?: number,
  ): Promise<T>;
  /** Kills the open MSRP connections abruptly (a dead WebSocket or socket: no close frame). */
  cutMsrp(): void;
  trace(lines?: number): string;
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUT = 15_000;
const HIGH_WATER = 4 << 20;

export async function startSessionUa(options: SessionUaOptions): Promise<SessionUa> {
  // A listening endpoint listens first: its MSRP URIs name the port.
  let accept: (socket: Socket) => void = (socket) => {
    socket.destroy();
  };
  let server: Server | undefined;
  let tcpPort = 0;
  if (options.tcp === true) {
    const listening = createServer({ noDelay: true }, (socket) => {
      accept(socket);
    });
    server = listening;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen({ host: '127.0.0.1', port: 0 }, () => {
        resolve();
      });
    });
    const address = listening.address();
    tcpPort = typeof address === 'object' && address !== null ? address.port : 0;
  }
  const clock = systemClock();
  const random = Math.random;
  const traceLines: string[] = [];
  const trace = (line: string): void => {
    traceLines.push(line);
    if (traceLines.length > 300) traceLines.splice(0, traceLines.length - 300);
    options.log?.(line);
  };
  const logger: Logger = {
    debug: (m) => trace(`  debug ${m}`),
    info: (m) => trace(`  ${m}`),
    warn: (m) => trace(`  warn ${m}`),
    error: (m) => trace(`  error ${m}`),
  };
  class SipSocket extends WebSocket {
    override send(data: string | Uint8Array): void {
      trace(`> ${(typeof data === 'string' ? data : Buffer.from(data).toString()).split('\r\n', 1)[0] ?? ''}`);
      super.send(data);
    }
  }

  const user = /^sips?:([^@;]+)@/.exec(options.aor)?.[1] ?? '';
  const credentials = { username: user, password: options.password };
  const url = new URL(options.wsUrl);
  const ua = new UserAgent({
    aor: options.aor,
    transport: 'WS',
    instanceId: `urn:uuid:${crypto.randomUUID()}`,
    random,
    credentials,
    userAgent: 'simple-chat-test (session-ua)',
    registration: { expires: 300, q: options.contactQ },
    log: (line) => trace(`  core: ${line}`),
    now: clock.now(),
  });
  const pager = new Pager({ ua, random });
  const sessions = new ChatSessions({
    ua,
    pager,
    random,
    hasher: sha1Hasher,
    ...options.chat,
    msrp:
      options.tcp === true
        ? { passive: true, host: '127.0.0.1', port: tcpPort, transport: 'tcp', ...options.chat?.msrp }
        : {
            relay: options.relayUri ?? `msrp://${url.hostname}:${url.port};ws`,
            credentials,
            ...options.chat?.msrp,
          },
  });
  const conv = new Conversations({ sessions, ...options.conversations });
  const transport = new WebSocketTransport({
    url: options.wsUrl,
    WebSocketImpl: SipSocket,
    clock,
    random,
    logger,
    minDelay: 200,
    maxDelay: 2_000,
  });
  const driver = new SipDriver<Conversations>({ core: conv, transport, clock, logger });

  // ---- the MSRP connections -------------------------------------------------------------------------------------

  interface Link {
    readonly id: string;
    write(data: Uint8Array): void;
    room(): number;
    kill(): void;
    close(): void;
  }
  const links = new Map<string, Link>();
  const msrpWritten: { connection: string; bytes: number }[] = [];
  let stopped = false;

  const flush = (): void => {
    for (const link of [...links.values()]) {
      const counter = msrpWritten.find((w) => w.connection === link.id);
      for (let room = link.room(); room > 0; room = link.room()) {
        const out = sessions.takeMsrpTransmissions(link.id, room);
        if (out.length === 0) break;
        for (const data of out) {
          link.write(data);
          if (counter !== undefined) counter.bytes += data.length;
        }
      }
    }
  };
  const input = (work: (now: number) => void): void => {
    if (stopped) return;
    try {
      driver.run((_c, now) => {
        work(now);
      });
    } catch (error) {
      trace(`  msrp input threw: ${String(error)}`);
    }
    flush();
  };
  const poll = setInterval(flush, 5);

  const openWs = (connection: string): void => {
    const ws = new WebSocket(options.wsUrl, 'msrp', { perMessageDeflate: false });
    const link: Link = {
      id: connection,
      write: (data) => {
        ws.send(data);
      },
      room: () => (ws.readyState === WebSocket.OPEN ? HIGH_WATER - ws.bufferedAmount : 0),
      kill: () => {
        ws.terminate();
      },
      close: () => {
        ws.close(1000);
      },
    };
    msrpWritten.push({ connection, bytes: 0 });
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      links.set(connection, link);
      trace(`  msrp ${connection} open`);
      input((now) => {
        sessions.msrpUp(connection, now);
      });
    });
    ws.on('message', (data: RawData) => {
      input((now) => {
        sessions.msrpReceive(connection, toBytes(data), now);
      });
    });
    ws.on('close', () => {
      trace(`  msrp ${connection} closed`);
      links.delete(connection);
      input((now) => {
        sessions.msrpDown(connection, now);
      });
    });
    ws.on('error', (e) => {
      trace(`  msrp ${connection} error ${e.message}`);
    });
  };

  accept = (socket: Socket): void => {
    const connection = `tcp-${String(msrpWritten.length + 1)}`;
    socket.setNoDelay(true);
    const link: Link = {
      id: connection,
      write: (data) => {
        socket.write(data);
      },
      room: () => (socket.destroyed ? 0 : HIGH_WATER - socket.writableLength),
      kill: () => {
        socket.destroy();
      },
      close: () => {
        socket.end();
      },
    };
    msrpWritten.push({ connection, bytes: 0 });
    links.set(connection, link);
    input((now) => {
      sessions.msrpAccept(connection, now);
    });
    socket.on('data', (data: Buffer) => {
      input((now) => {
        sessions.msrpReceive(connection, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), now);
      });
    });
    socket.on('close', () => {
      links.delete(connection);
      input((now) => {
        sessions.msrpDown(connection, now);
      });
    });
    socket.on('error', () => undefined);
  };

  const self = (): SessionUa => api;
  const events: ConversationsEvent[] = [];
  const waiters = new Set<() => boolean>();
  const wake = (): void => {
    for (const w of [...waiters]) if (w()) waiters.delete(w);
  };
  driver.events.on('event', (event) => {
    events.push(event);
    if (event.type === 'msrp-connect') {
      trace(`  msrp-connect ${event.connection}`);
      openWs(event.connection);
    } else if (event.type === 'msrp-close') {
      flush();
      links.get(event.connection)?.close();
    } else if (event.type === 'session') {
      trace(`  session ${event.session.id} ${event.session.state} ${event.session.reason ?? ''}`);
    }
    options.onEvent?.(event, self());
    queueMicrotask(flush);
    wake();
  });
  driver.events.on('error', (error) => {
    trace(`  error: ${error.message}`);
  });

  const waitFor = <T>(check: () => T | undefined, what: string, timeoutMs = DEFAULT_TIMEOUT): Promise<T> => {
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const waiter = (): boolean => {
        const value = check();
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new Error(
            `${options.aor}: no ${what} within ${timeoutMs} ms; trace:\n${traceLines.slice(-40).join('\n')}`,
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  };

  const api: SessionUa = {
    aor: options.aor,
    conv,
    sessions,
    ua,
    events,
    msrpWritten,
    run: (command) => {
      const result = driver.run(command);
      flush();
      return result;
    },
    registered: async (timeoutMs) => {
      await waitFor(
        () => (ua.registration.state === 'Registered' ? true : undefined),
        'registration',
        timeoutMs,
      );
    },
    waitFor,
    waitForEvent: (predicate, what, timeoutMs) => waitFor(() => events.find(predicate), what, timeoutMs),
    cutMsrp: () => {
      trace('  test: killing the MSRP connections');
      for (const link of links.values()) link.kill();
    },
    trace: (lines = 60) => traceLines.slice(-lines).join('\n'),
    stop: async () => {
      if (stopped) return;
      if (ua.registration.state === 'Registered' && ua.connected) {
        driver.run((_c, now) => {
          ua.unregister(now);
        });
        await waitFor(
          () => (ua.registration.state === 'Unregistered' ? true : undefined),
          'unregister',
          3_000,
        ).catch(() => undefined);
      }
      stopped = true;
      clearInterval(poll);
      for (const link of links.values()) link.kill();
      links.clear();
      driver.stop();
      await new Promise<void>((resolve) =>
        server === undefined ? resolve() : server.close(() => resolve()),
      );
      wake();
    },
  };

  driver.start();
  driver.run((_c, now) => {
    ua.register(now);
  });
  return api;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
