/**
 * MsrpRelay with in-memory links, for synchronous tests: each link records what the relay writes to it, and can
 * be told that it is full (back-pressure) or that it closed. Clients are the core's MsrpSession, pumped through
 * the relay with `pump()`; raw frames can be sent with `send()`. Time is explicit (`now`).
 */
import pino from 'pino';

import { DigestGuard } from '../../../gateway/core/digest-guard.ts';
import { userRecord, type UserDirectory } from '../../../gateway/core/users.ts';
import { GatewayMetrics } from '../../../gateway/metrics.ts';
import { digestAuth, openAuth, type MsrpAuthPolicy } from '../../../gateway/msrp/msrp-auth.ts';
import {
  MsrpRelay,
  type MsrpRelayOptions,
  type RelayCloseCause,
  type RelayLink,
} from '../../../gateway/msrp/msrp-relay.ts';
import {
  MsrpFramer,
  MsrpSession,
  concatBytes,
  type MsrpFrame,
  type MsrpSessionEvent,
  type MsrpSessionOptions,
  type MsrpUri,
} from '../../../web/src/sip/index.ts';
import { seededRandom } from '../../support/seeded-random.ts';

export const REALM = 'example.com';
export const RELAY_WS = 'msrp://127.0.0.1:8080;ws';
export const RELAY_TCP = 'msrp://127.0.0.1:2855;tcp';

export class FakeLink implements RelayLink {
  readonly frames: MsrpFrame[] = [];
  /** every write as given (its pieces), to check the body went through as a view */
  readonly writes: (readonly Uint8Array[])[] = [];
  buffered = 0;
  /** when set, writes add their size to `buffered` (a peer that does not read) */
  holding = false;
  paused = false;
  closedWith: { cause: RelayCloseCause; reason: string } | undefined;
  #read = 0;
  readonly #framer = new MsrpFramer({ streamAbove: Infinity });

  constructor(
    readonly id: number,
    readonly side: 'ws' | 'tcp',
    readonly maxBody: number = side === 'ws' ? 1 << 20 : Infinity,
    readonly remoteHost = '127.0.0.1',
    readonly remotePort = 40000 + id,
  ) {}

  get framing(): 'message' | 'stream' {
    return this.side === 'ws' ? 'message' : 'stream';
  }

  write(parts: readonly Uint8Array[]): boolean {
    if (this.closedWith !== undefined) return false;
    this.writes.push(parts);
    const bytes = concatBytes(parts);
    if (this.holding) this.buffered += bytes.length;
    for (const ev of this.#framer.push(bytes)) {
      if (ev.type !== 'frame') throw new Error(`the relay wrote a bad frame: ${JSON.stringify(ev)}`);
      this.frames.push(ev.frame);
    }
    return true;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  close(cause: RelayCloseCause, reason: string): void {
    this.closedWith ??= { cause, reason };
  }

  /** The frames written since the last call. */
  take(): MsrpFrame[] {
    const out = this.frames.slice(this.#read);
    this.#read = this.frames.length;
    return out;
  }
}

export const users: UserDirectory = (() => {
  const records = new Map([
    ['alice', userRecord('alice', REALM, 'secret')],
    ['bob', userRecord('bob', REALM, 'hunter2')],
  ]);
  return { realm: REALM, lookup: (u) => records.get(u), has: (u) => records.has(u) };
})();

export interface HarnessOptions {
  readonly auth?: MsrpAuthPolicy;
  readonly relay?: Partial<MsrpRelayOptions>;
}

export class RelayHarness {
  readonly relay: MsrpRelay;
  readonly metrics = new GatewayMetrics();
  readonly connected: { uri: MsrpUri; link: FakeLink }[] = [];
  now = 1000;
  #nextLink = 1;
  #nextId = 1;
  /** what connect() returns; undefined refuses */
  connectable = true;

  constructor(options: HarnessOptions = {}) {
    this.relay = new MsrpRelay({
      self: {
        host: '127.0.0.1',
        tcpPort: 2855,
        wsPort: 8080,
        wsSecure: false,
        hosts: new Set(['127.0.0.1', 'relay.example.com']),
        ports: new Set([2855, 8080]),
      },
      auth: options.auth ?? digestAuth(new DigestGuard({ realm: REALM, users })),
      log: pino({ level: 'silent' }),
      metrics: this.metrics,
      newId: () => `id${String(this.#nextId++).padStart(4, '0')}`,
      connect: (uri) => {
        if (!this.connectable) return undefined;
        const link = new FakeLink(this.#nextLink++, 'tcp');
        this.connected.push({ uri, link });
        return link;
      },
      ...options.relay,
    });
  }

  link(side: 'ws' | 'tcp', maxBody?: number): FakeLink {
    const link = new FakeLink(this.#nextLink++, side, maxBody);
    this.relay.open(link, this.now);
    return link;
  }

  /** Bytes from a link, as a WebSocket message or a piece of stream. */
  send(link: FakeLink, data: Uint8Array | string): void {
    this.relay.receive(
      link,
      typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data),
      this.now,
    );
  }

  advance(ms: number): void {
    this.now += ms;
    this.relay.handleTimers(this.now);
  }
}

/** An MsrpSession attached to a link of the harness: what it writes goes to the relay, what the relay writes to it. */
export class Client {
  readonly session: MsrpSession;
  readonly events: MsrpSessionEvent[] = [];

  constructor(
    readonly h: RelayHarness,
    readonly link: FakeLink,
    options: Partial<MsrpSessionOptions> & { localUri: string },
  ) {
    this.session = new MsrpSession({ random: seededRandom(link.id), ...options });
    this.session.flowUp(h.now, { flowId: String(link.id) });
  }

  of<T extends MsrpSessionEvent['type']>(type: T): Extract<MsrpSessionEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<MsrpSessionEvent, { type: T }> => e.type === type);
  }
}

/** Moves bytes between the clients and the relay until nothing moves. */
export function pump(h: RelayHarness, clients: readonly Client[]): void {
  for (let guard = 0; guard < 100_000; guard++) {
    let moved = false;
    for (const c of clients) {
      for (const t of c.session.takeTransmissions()) {
        moved = true;
        h.send(c.link, t.data);
      }
      for (const f of c.link.take()) {
        moved = true;
        c.session.receive(serialize(f), h.now, { flowId: String(c.link.id) });
      }
      c.events.push(...c.session.takeEvents());
    }
    if (!moved) return;
  }
  throw new Error('pump never settled');
}

export function serialize(frame: MsrpFrame): Uint8Array {
  const head = `MSRP ${frame.transactionId} ${frame.method ?? `${frame.status} ${frame.comment ?? ''}`.trimEnd()}\r\n${frame.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}`;
  const end = `-------${frame.transactionId}${frame.flag}\r\n`;
  if (frame.body === undefined) return Buffer.from(head + end, 'utf8');
  return Buffer.concat([
    Buffer.from(`${head}\r\n`, 'utf8'),
    Buffer.from(frame.body),
    Buffer.from(`\r\n${end}`),
  ]);
}

/** A raw frame. */
export function frame(
  tid: string,
  method: string,
  headers: readonly (readonly [string, string])[],
  body?: Uint8Array | string,
  flag = '$',
): Buffer {
  const head = `MSRP ${tid} ${method}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}`;
  if (body === undefined) return Buffer.from(`${head}-------${tid}${flag}\r\n`, 'utf8');
  return Buffer.concat([
    Buffer.from(`${head}\r\n`, 'utf8'),
    typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body),
    Buffer.from(`\r\n-------${tid}${flag}\r\n`),
  ]);
}

export const header = (f: MsrpFrame, name: string): string | undefined =>
  f.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];

export { openAuth, seededRandom };
