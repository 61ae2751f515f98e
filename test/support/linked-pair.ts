/**
 * Two sans-IO SIP endpoints wired in memory through a network the test controls.
 *
 *     client ──► toServer link ──► server
 *     client ◄── toClient link ◄── server
 *
 * Every message an endpoint transmits is serialized to bytes, written to the wire log (with the time, the
 * sender and what the link decided), and parsed again on arrival, as on a real network. Each link can drop,
 * duplicate, delay or hold messages, by rule (`drop(matcher, times)` …) or by a policy function (for property
 * tests); held messages are released later in the order the test chooses, which is how reordering is made.
 *
 * Time is explicit: `advanceTo(t)` jumps from one event to the next (a timer deadline of either endpoint or an
 * arrival), and at each instant `settle()` runs the endpoints' due timers, moves their transmissions onto the
 * links, hands their events to `onEvent` (the test's TU, which may act at `pair.now`), and delivers arrivals one
 * at a time, until nothing more happens. Nothing sleeps; the same test gives the same wire log every time.
 */
import { parseMessage, serializeMessage, type SipMessage } from '../../web/src/sip/index.ts';
import {
  TransactionLayer,
  type FlowInfo,
  type TimerValues,
  type TransactionEvent,
} from '../../web/src/sip/transaction/index.ts';
import { seededRandom, summarize } from './sip-builders.ts';

export type Side = 'client' | 'server';
const SIDES: readonly Side[] = ['client', 'server'];

/** What the pair drives. The transaction layer fits, and so will the layers above it. */
export interface SansIoEndpoint<Flow, Event> {
  receive(message: SipMessage, now: number, flow?: Flow): void;
  handleTimers(now: number): void;
  nextDeadline(): number | undefined;
  takeTransmissions(): readonly { readonly message: SipMessage }[];
  takeEvents(): readonly Event[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any endpoint, whatever its flow and event types
type AnyEndpoint = SansIoEndpoint<any, unknown>;
type EventOf<E extends AnyEndpoint> = ReturnType<E['takeEvents']>[number];
type FlowOf<E extends AnyEndpoint> = E extends SansIoEndpoint<infer F, unknown> ? F : never;

/** What a link does with one message. `hold` parks it until `release()`. */
export type Fate = 'deliver' | 'drop' | 'duplicate' | 'hold' | { readonly delay: number };

export type Matcher = (message: SipMessage) => boolean;

export const any: Matcher = () => true;
/** Requests of a method. */
export const isRequest =
  (method: string): Matcher =>
  (m) =>
    m.kind === 'request' && m.method === method;
/** Responses with a status (and, when given, to a method). */
export const isResponse =
  (status: number, method?: string): Matcher =>
  (m) =>
    m.kind === 'response' && m.status === status && (method === undefined || m.cseq.method === method);

export interface WireRecord {
  readonly at: number;
  readonly from: Side;
  /** a parsed copy of what went on the wire */
  readonly message: SipMessage;
  /** see `summarize`: `INVITE`, `ACK`, `486 INVITE` … */
  readonly summary: string;
  readonly fate: Fate;
}

export interface TimedEvent<Event> {
  readonly at: number;
  readonly side: Side;
  readonly event: Event;
}

interface Rule {
  readonly match: Matcher;
  readonly fate: Fate;
  remaining: number;
}

export class Link {
  /** one-way delay in ms */
  latency: number;
  /** decides the fate of messages no rule claims; `index` counts messages sent on this link */
  policy: ((message: SipMessage, index: number) => Fate) | undefined;
  readonly #rules: Rule[] = [];
  #held: Uint8Array[] = [];
  #inFlight: { at: number; seq: number; bytes: Uint8Array }[] = [];
  #sent = 0;
  #seq = 0;

  constructor(latency = 0) {
    this.latency = latency;
  }

  drop(match: Matcher = any, times = Infinity): this {
    return this.#rule(match, 'drop', times);
  }

  duplicate(match: Matcher = any, times = Infinity): this {
    return this.#rule(match, 'duplicate', times);
  }

  delay(match: Matcher, ms: number, times = Infinity): this {
    return this.#rule(match, { delay: ms }, times);
  }

  hold(match: Matcher = any, times = Infinity): this {
    return this.#rule(match, 'hold', times);
  }

  /** Remove every rule (held messages stay held). */
  clearRules(): this {
    this.#rules.length = 0;
    return this;
  }

  get heldCount(): number {
    return this.#held.length;
  }

  /**
   * Put the held messages in flight at `now`, in the order they were sent or reversed; with `copies` > 1 the
   * whole sequence is delivered that many times (duplicates arriving after the originals).
   */
  release(now: number, order: 'sent' | 'reversed' = 'sent', copies = 1): void {
    const held = order === 'sent' ? this.#held : [...this.#held].reverse();
    this.#held = [];
    for (let i = 0; i < copies; i++) for (const bytes of held) this.#fly(now + this.latency, bytes);
  }

  /** Decide the fate of a message and act on it. */
  send(bytes: Uint8Array, message: SipMessage, now: number): Fate {
    const index = this.#sent++;
    const rule = this.#rules.find((r) => r.remaining > 0 && r.match(message));
    let fate: Fate = this.policy?.(message, index) ?? 'deliver';
    if (rule !== undefined) {
      rule.remaining -= 1;
      fate = rule.fate;
    }
    if (fate === 'drop') return fate;
    if (fate === 'hold') this.#held.push(bytes);
    else if (fate === 'deliver') this.#fly(now + this.latency, bytes);
    else if (fate === 'duplicate') {
      this.#fly(now + this.latency, bytes);
      this.#fly(now + this.latency, bytes);
    } else this.#fly(now + this.latency + fate.delay, bytes);
    return fate;
  }

  nextArrival(): number | undefined {
    let min: number | undefined;
    for (const f of this.#inFlight) if (min === undefined || f.at < min) min = f.at;
    return min;
  }

  /** Take the first message arriving at or before `now` (in arrival order), if any. */
  nextDue(now: number): Uint8Array | undefined {
    let best: { at: number; seq: number; bytes: Uint8Array } | undefined;
    for (const f of this.#inFlight) {
      if (f.at <= now && (best === undefined || f.at < best.at || (f.at === best.at && f.seq < best.seq)))
        best = f;
    }
    if (best === undefined) return undefined;
    this.#inFlight.splice(this.#inFlight.indexOf(best), 1);
    return best.bytes;
  }

  #fly(at: number, bytes: Uint8Array): void {
    this.#inFlight.push({ at, seq: this.#seq++, bytes });
  }

  #rule(match: Matcher, fate: Fate, times: number): this {
    this.#rules.push({ match, fate, remaining: times });
    return this;
  }
}

export interface LinkedPairOptions<Flow> {
  /** the flow the server is told client messages came on, and the reverse */
  serverSideFlow?: Flow | undefined;
  clientSideFlow?: Flow | undefined;
  latency?: number;
  start?: number;
}

export class LinkedPair<E extends AnyEndpoint> {
  now: number;
  readonly toServer: Link;
  readonly toClient: Link;
  readonly wire: WireRecord[] = [];
  readonly events: TimedEvent<EventOf<E>>[] = [];
  /** the test's TU: called for every event, in order, at `pair.now` */
  onEvent: ((side: Side, event: EventOf<E>) => void) | undefined;
  readonly #flows: { readonly client: FlowOf<E> | undefined; readonly server: FlowOf<E> | undefined };

  constructor(
    readonly client: E,
    readonly server: E,
    options: LinkedPairOptions<FlowOf<E>> = {},
  ) {
    this.now = options.start ?? 0;
    this.toServer = new Link(options.latency ?? 0);
    this.toClient = new Link(options.latency ?? 0);
    this.#flows = { client: options.clientSideFlow, server: options.serverSideFlow };
  }

  endpoint(side: Side): E {
    return side === 'client' ? this.client : this.server;
  }

  /** The link that carries what `from` sends. */
  linkFrom(from: Side): Link {
    return from === 'client' ? this.toServer : this.toClient;
  }

  /** Put a message on the wire towards `to` as if the other side had sent it (a fork, a stray, a 2543 peer). */
  inject(to: Side, message: SipMessage): void {
    this.#put(to === 'client' ? 'server' : 'client', message);
  }

  /** Process everything that happens at `now`. */
  settle(): void {
    for (let round = 0; ; round++) {
      if (round > 10_000) throw new Error('the linked pair does not settle');
      let progress = false;
      for (const side of SIDES) {
        const endpoint = this.endpoint(side);
        const deadline = endpoint.nextDeadline();
        if (deadline !== undefined && deadline <= this.now) {
          endpoint.handleTimers(this.now);
          progress = true;
        }
        for (const t of endpoint.takeTransmissions()) {
          this.#put(side, t.message);
          progress = true;
        }
        for (const event of endpoint.takeEvents() as readonly EventOf<E>[]) {
          this.events.push({ at: this.now, side, event });
          this.onEvent?.(side, event);
          progress = true;
        }
      }
      if (progress) continue;
      // One arrival at a time, so that each endpoint and its TU act on a message before the next one lands.
      for (const to of SIDES) {
        const bytes = (to === 'server' ? this.toServer : this.toClient).nextDue(this.now);
        if (bytes === undefined) continue;
        this.endpoint(to).receive(parseMessage(bytes), this.now, this.#flows[to]);
        progress = true;
        break;
      }
      if (!progress) return;
    }
  }

  /** Run until `t`, stopping at every deadline and arrival on the way. */
  advanceTo(t: number): void {
    this.settle();
    for (;;) {
      const next = min([
        this.client.nextDeadline(),
        this.server.nextDeadline(),
        this.toServer.nextArrival(),
        this.toClient.nextArrival(),
      ]);
      if (next === undefined || next > t) break;
      this.now = Math.max(this.now, next);
      this.settle();
    }
    this.now = Math.max(this.now, t);
    this.settle();
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.now + ms);
  }

  /** What `from` put on the wire, optionally only messages with this summary. */
  sent(from: Side, summary?: string): WireRecord[] {
    return this.wire.filter((w) => w.from === from && (summary === undefined || w.summary === summary));
  }

  /** When `from` sent messages with this summary. */
  times(from: Side, summary: string): number[] {
    return this.sent(from, summary).map((w) => w.at);
  }

  /** The events one side's endpoint emitted, optionally of one type. */
  eventsOf<T extends string>(side: Side, type?: T): TimedEvent<Extract<EventOf<E>, { type: T }>>[] {
    return this.events.filter(
      (e) => e.side === side && (type === undefined || (e.event as { type?: unknown }).type === type),
    ) as TimedEvent<Extract<EventOf<E>, { type: T }>>[];
  }

  #put(from: Side, message: SipMessage): void {
    const bytes = serializeMessage(message);
    const copy = parseMessage(bytes);
    const fate = this.linkFrom(from).send(bytes, copy, this.now);
    this.wire.push({ at: this.now, from, message: copy, summary: summarize(copy), fate });
  }
}

function min(values: (number | undefined)[]): number | undefined {
  let out: number | undefined;
  for (const v of values) if (v !== undefined && (out === undefined || v < out)) out = v;
  return out;
}

// ---- the transaction layer on both ends ---------------------------------------------------------------------

export const CLIENT_ADDRESS = 'pc33.atlanta.example.com:5060';
export const SERVER_ADDRESS = 'biloxi.example.com:5060';

export interface TransactionPairOptions {
  transport?: 'UDP' | 'TCP' | 'WS';
  latency?: number;
  timers?: Partial<TimerValues>;
  seed?: number;
}

export type TransactionPair = LinkedPair<TransactionLayer> & {
  /** the flow the client sends on (pass to `sendRequest`) */
  readonly clientFlow: FlowInfo;
  readonly reliable: boolean;
};

/** A client TransactionLayer and a server TransactionLayer over one transport. */
export function transactionPair(options: TransactionPairOptions = {}): TransactionPair {
  const transport = options.transport ?? 'UDP';
  const reliable = transport !== 'UDP';
  const random = seededRandom(options.seed ?? 1);
  const client = new TransactionLayer({ random, timers: options.timers });
  const server = new TransactionLayer({ random, timers: options.timers });
  const clientFlow: FlowInfo = {
    transport,
    reliable,
    remote: SERVER_ADDRESS,
    flowId: reliable ? 'flow-1' : undefined,
  };
  const serverFlow: FlowInfo = {
    transport,
    reliable,
    remote: CLIENT_ADDRESS,
    flowId: reliable ? 'flow-1' : undefined,
  };
  const pair = new LinkedPair(client, server, {
    clientSideFlow: clientFlow,
    serverSideFlow: serverFlow,
    latency: options.latency ?? 0,
  });
  return Object.assign(pair, { clientFlow, reliable });
}

export type { TransactionEvent };
