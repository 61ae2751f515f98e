/**
 * Builders for user-agent tests: UserAgents for the users of example.com (alice, bob, carol) with a persistent
 * instance id each, a MiniRegistrar + MiniNetwork that knows their passwords, and a direct-feeding harness for
 * a single UserAgent (bytes in, parsed transmissions and events out) used by the §8.2 tests.
 */
import {
  UserAgent,
  parseMessage,
  serializeMessage,
  type FlowInfo,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type UserAgentEvent,
  type UserAgentOptions,
} from '../../web/src/sip/index.ts';
import { MiniNetwork, MiniRegistrar, type MiniRegistrarOptions } from './mini-registrar.ts';
import { seededRandom } from './seeded-random.ts';

export const DOMAIN = 'example.com';
export const PASSWORDS: Readonly<Record<string, string>> = {
  alice: 'alice-secret',
  bob: 'bob-secret',
  carol: 'carol-secret',
};
const SEEDS: Readonly<Record<string, number>> = { alice: 11, bob: 22, carol: 33 };

export function instanceOf(user: string): string {
  const hex = Array.from(user, (c) => c.charCodeAt(0).toString(16))
    .join('')
    .padEnd(12, '0')
    .slice(0, 12);
  return `urn:uuid:00000000-0000-4000-8000-${hex}`;
}

/** A WebSocket user agent for `user`@example.com with the right password (unless overridden). */
export function makeUa(user: string, overrides: Partial<UserAgentOptions> = {}): UserAgent {
  return new UserAgent({
    aor: `sip:${user}@${DOMAIN}`,
    transport: 'WS',
    contactHost: `${user}-host.invalid`,
    instanceId: instanceOf(user),
    credentials: { username: user, password: PASSWORDS[user] ?? 'secret' },
    random: seededRandom(SEEDS[user] ?? 99),
    userAgent: 'simple-chat-test',
    ...overrides,
  });
}

/** A registrar for example.com and a network joining it to the given user agents (added, not connected). */
export function miniNet(
  uas: Record<string, UserAgent>,
  options: Partial<MiniRegistrarOptions> = {},
): MiniNetwork {
  const registrar = new MiniRegistrar({
    domain: DOMAIN,
    users: PASSWORDS,
    random: seededRandom(7),
    ...options,
  });
  const net = new MiniNetwork(registrar);
  for (const [name, ua] of Object.entries(uas)) net.add(name, ua);
  return net;
}

/** Connect and register every user agent of the network; returns when all are Registered. */
export function registerAll(net: MiniNetwork, names: string[]): void {
  for (const name of names) {
    net.ua(name).register(net.now);
    net.connect(name);
  }
  net.settle();
  for (const name of names) {
    const state = net.ua(name).registration.state;
    if (state !== 'Registered') throw new Error(`${name} is ${state}`);
  }
}

// ---- one user agent fed directly ------------------------------------------------------------------------------

export const UDP_FLOW: FlowInfo = { transport: 'UDP', reliable: false, remote: '192.0.2.10:5060' };

/** A UserAgent fed bytes by the test, with what it sends and tells kept for inspection. */
export class Harness {
  readonly ua: UserAgent;
  now = 1_000;
  readonly sent: SipMessage[] = [];
  readonly events: UserAgentEvent[] = [];

  constructor(options: Partial<UserAgentOptions> = {}) {
    this.ua = new UserAgent({
      aor: 'sip:bob@biloxi.example.com',
      transport: 'UDP',
      contactHost: 'bob-pc.biloxi.example.com',
      contactPort: 5060,
      random: seededRandom(5),
      now: 1_000,
      ...options,
    });
  }

  /** Feed a message (or raw text) and collect the results. */
  feed(message: SipMessage | string | Uint8Array, flow: FlowInfo = UDP_FLOW): this {
    const data =
      typeof message === 'string' || message instanceof Uint8Array ? message : serializeMessage(message);
    this.ua.receive(data, this.now, flow);
    return this.collect();
  }

  collect(): this {
    for (const t of this.ua.takeTransmissions()) this.sent.push(t.message ?? parseMessage(t.data));
    this.events.push(...this.ua.takeEvents());
    return this;
  }

  advanceTo(t: number): this {
    for (let next = this.ua.nextDeadline(); next !== undefined && next <= t; next = this.ua.nextDeadline()) {
      this.now = Math.max(this.now, next);
      this.ua.handleTimers(this.now);
      this.collect();
    }
    this.now = Math.max(this.now, t);
    this.ua.handleTimers(this.now);
    return this.collect();
  }

  responses(): SipResponse[] {
    return this.sent.filter((m): m is SipResponse => m.kind === 'response');
  }

  requests(method?: string): SipRequest[] {
    return this.sent.filter(
      (m): m is SipRequest => m.kind === 'request' && (method === undefined || m.method === method),
    );
  }

  lastResponse(): SipResponse {
    const r = this.responses().at(-1);
    if (r === undefined) throw new Error('nothing was answered');
    return r;
  }

  eventsOf<T extends UserAgentEvent['type']>(type: T): Extract<UserAgentEvent, { type: T }>[] {
    return this.events.filter((e) => e.type === type) as Extract<UserAgentEvent, { type: T }>[];
  }
}
