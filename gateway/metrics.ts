/**
 * Counters, gauges and histograms, written out in the Prometheus text exposition format (version 0.0.4) by
 * hand: one `# HELP` and `# TYPE` line per family, then one line per label set; histograms as cumulative
 * `_bucket{le=…}` lines ending with `le="+Inf"`, then `_sum` and `_count`.
 */

type Labels = Readonly<Record<string, string>>;

const NO_LABELS: Labels = Object.freeze({});

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k] ?? ''}`)
    .join('\n');
}

/**
 * The series of one family by label set, found without building a string on the hot path: a frozen labels
 * object (as `GatewayMetrics.labels` returns) is looked up by identity, a one-label set through a map per label
 * name; only sets of two or more labels passed as fresh objects fall back to the sorted key string. Series are
 * created (and rendered) in first-use order.
 */
class SeriesMap<S extends { readonly labels: Labels }> {
  /** every series, in first-use order */
  readonly #all: S[] = [];
  /** sets of zero or two and more labels, by `labelKey` */
  readonly #byKey = new Map<string, S>();
  readonly #single = new Map<string, Map<string, S>>();
  readonly #frozen = new WeakMap<Labels, S>();
  readonly #make: (labels: Labels) => S;

  constructor(make: (labels: Labels) => S) {
    this.#make = make;
  }

  find(labels: Labels): S | undefined {
    const frozen = Object.isFrozen(labels);
    if (frozen) {
      const hit = this.#frozen.get(labels);
      if (hit !== undefined) return hit;
    }
    let series: S | undefined;
    let only: string | undefined;
    let n = 0;
    for (const name in labels) {
      only = name;
      if (++n > 1) break;
    }
    if (n === 0) series = this.#byKey.get('');
    else if (n === 1) series = this.#single.get(only as string)?.get(labels[only as string] ?? '');
    else series = this.#byKey.get(labelKey(labels));
    if (series !== undefined && frozen) this.#frozen.set(labels, series);
    return series;
  }

  /** The series of `labels`, created on first use. */
  get(labels: Labels): S {
    const found = this.find(labels);
    if (found !== undefined) return found;
    const series = this.#make({ ...labels });
    this.#all.push(series);
    const names = Object.keys(labels);
    if (names.length === 1) {
      const name = names[0] as string;
      let byValue = this.#single.get(name);
      if (byValue === undefined) this.#single.set(name, (byValue = new Map<string, S>()));
      byValue.set(labels[name] ?? '', series);
    } else {
      this.#byKey.set(labelKey(labels), series);
    }
    if (Object.isFrozen(labels)) this.#frozen.set(labels, series);
    return series;
  }

  values(): IterableIterator<S> {
    return this.#all.values();
  }
}

/** Prometheus label value escaping: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`);
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

export class Counter implements Family {
  readonly type = 'counter';
  readonly #values = new SeriesMap<{ labels: Labels; value: number }>((labels) => ({ labels, value: 0 }));

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = NO_LABELS, by = 1): void {
    this.#values.get(labels).value += by;
  }

  get(labels: Labels = NO_LABELS): number {
    return this.#values.find(labels)?.value ?? 0;
  }

  /** The sum over every label set. */
  total(): number {
    let sum = 0;
    for (const entry of this.#values.values()) sum += entry.value;
    return sum;
  }

  render(): string[] {
    return [...this.#values.values()].map(
      (e) => `${this.name}${formatLabels(e.labels)} ${formatNumber(e.value)}`,
    );
  }
}

export class Gauge implements Family {
  readonly type = 'gauge';
  readonly #values = new SeriesMap<{ labels: Labels; value: number }>((labels) => ({ labels, value: 0 }));
  #collect: (() => number) | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    collect?: () => number,
  ) {
    this.#collect = collect;
  }

  /** Read the value from a function at render time (for sizes of live tables). */
  collectWith(collect: () => number): void {
    this.#collect = collect;
  }

  set(value: number, labels: Labels = NO_LABELS): void {
    this.#values.get(labels).value = value;
  }

  inc(labels: Labels = NO_LABELS, by = 1): void {
    this.#values.get(labels).value += by;
  }

  dec(labels: Labels = NO_LABELS, by = 1): void {
    this.inc(labels, -by);
  }

  get(labels: Labels = NO_LABELS): number {
    if (this.#collect !== undefined && Object.keys(labels).length === 0) return this.#collect();
    return this.#values.find(labels)?.value ?? 0;
  }

  render(): string[] {
    if (this.#collect !== undefined) return [`${this.name} ${formatNumber(this.#collect())}`];
    return [...this.#values.values()].map(
      (e) => `${this.name}${formatLabels(e.labels)} ${formatNumber(e.value)}`,
    );
  }
}

export class Histogram implements Family {
  readonly type = 'histogram';
  readonly #series: SeriesMap<{ labels: Labels; counts: number[]; sum: number; count: number }>;

  /** `buckets`: upper bounds, ascending; `+Inf` is implied. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    for (let i = 1; i < buckets.length; i++)
      if (!((buckets[i] ?? 0) > (buckets[i - 1] ?? 0))) throw new TypeError('histogram buckets must ascend');
    this.#series = new SeriesMap((labels) => ({ labels, counts: buckets.map(() => 0), sum: 0, count: 0 }));
  }

  observe(value: number, labels: Labels = NO_LABELS): void {
    const series = this.#series.get(labels);
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] ?? 0)) series.counts[i]! += 1;
    series.sum += value;
    series.count += 1;
  }

  count(labels: Labels = NO_LABELS): number {
    return this.#series.find(labels)?.count ?? 0;
  }

  render(): string[] {
    const lines: string[] = [];
    for (const s of this.#series.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(
          `${this.name}_bucket${formatLabels(s.labels, ['le', formatNumber(bound)])} ${s.counts[i] ?? 0}`,
        );
      });
      lines.push(`${this.name}_bucket${formatLabels(s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${formatLabels(s.labels)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${formatLabels(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export class Registry {
  readonly #families: Family[] = [];

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string, collect?: () => number): Gauge {
    return this.#add(new Gauge(name, help, collect));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  /** The exposition text, ending with a line feed. */
  render(): string {
    const lines: string[] = [];
    for (const family of this.#families) {
      lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${family.name} ${family.type}`);
      lines.push(...family.render());
    }
    return lines.join('\n') + '\n';
  }

  #add<F extends Family>(family: F): F {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(family.name))
      throw new TypeError(`bad metric name ${family.name}`);
    if (this.#families.some((f) => f.name === family.name))
      throw new TypeError(`metric ${family.name} exists`);
    this.#families.push(family);
    return family;
  }
}

/** The `Content-Type` of the exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const KNOWN_METHODS = new Set([
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'INFO',
  'REFER',
  'MESSAGE',
  'UPDATE',
]);

/** GatewayMetrics.labels' interned label sets, by side (a handful: ws, udp, tcp). */
const LABELS_BY_SIDE = new Map<
  string,
  { requests: Map<string, Labels>; responses: (Labels | undefined)[] }
>();

/** The gateway's metrics (SPEC.md §4: connections, flows, messages in/out, relay latency, drops, retransmissions). */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly connections = this.registry.gauge('gateway_ws_connections', 'Open SIP WebSocket connections.');
  readonly flows = this.registry.gauge(
    'gateway_flows',
    'WebSocket connections that registered through the gateway (flows named in a Path or Contact).',
  );
  readonly transactions = this.registry.gauge(
    'gateway_transactions',
    'Live SIP transactions in the edge proxy.',
  );
  readonly messagesIn = this.registry.counter(
    'gateway_sip_messages_in_total',
    'SIP messages received, by side (ws, udp, tcp), method (requests) or status class (responses).',
  );
  readonly messagesOut = this.registry.counter(
    'gateway_sip_messages_out_total',
    'SIP messages sent (retransmissions included), by side, method or status class.',
  );
  readonly relayLatency = this.registry.histogram(
    'gateway_relay_latency_seconds',
    'From a request arriving on a WebSocket to its final response going back, by method.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 32],
  );
  readonly drops = this.registry.counter(
    'gateway_drops_total',
    'Messages or connections dropped, by reason.',
  );
  readonly retransmissions = this.registry.counter(
    'gateway_udp_retransmissions_total',
    'Messages sent again over UDP by the gateway (request retransmissions, re-sent responses, 2xx).',
  );
  readonly rejectedUpgrades = this.registry.counter(
    'gateway_ws_rejected_total',
    'WebSocket handshakes refused, by reason (origin, subprotocol, per-ip-limit, shutting-down).',
  );
  readonly closes = this.registry.counter(
    'gateway_ws_closes_total',
    'WebSocket connections closed, by close code.',
  );
  // ---- the MSRP relay (gateway/msrp/, SPEC.md §5) ----
  readonly msrpConnections = this.registry.gauge(
    'gateway_msrp_connections',
    'Open MSRP connections of the relay, by side (ws: browsers, tcp: MSRP peers and relays).',
  );
  readonly msrpSessions = this.registry.gauge(
    'gateway_msrp_sessions',
    'Relay sessions granted by AUTH (RFC 4976) and not yet expired.',
  );
  readonly msrpBytes = this.registry.counter(
    'gateway_msrp_bytes_total',
    'MSRP bytes received (in) and sent (out) by the relay, by side.',
  );
  readonly msrpFrames = this.registry.counter(
    'gateway_msrp_frames_total',
    'MSRP frames received (in) and sent (out) by the relay, by side and kind (SEND, REPORT, AUTH, response, other).',
  );
  readonly msrpErrors = this.registry.counter(
    'gateway_msrp_errors_total',
    'MSRP frames refused or failed by the relay, by reason.',
  );

  /**
   * Labels of a message for the in/out counters (unknown methods count as `other`: bounded cardinality). The
   * same frozen object comes back for the same side and method or status class, so that the counters find their
   * series by identity, without building a key string per message.
   */
  static labels(
    side: string,
    message: { kind: 'request'; method: string } | { kind: 'response'; status: number },
  ): Labels {
    let forSide = LABELS_BY_SIDE.get(side);
    if (forSide === undefined) {
      forSide = { requests: new Map(), responses: [] };
      if (LABELS_BY_SIDE.size < 64) LABELS_BY_SIDE.set(side, forSide);
    }
    if (message.kind === 'request') {
      const method = KNOWN_METHODS.has(message.method) ? message.method : 'other';
      let labels = forSide.requests.get(method);
      if (labels === undefined)
        forSide.requests.set(method, (labels = Object.freeze({ side, kind: 'request', method })));
      return labels;
    }
    const hundreds = Math.floor(message.status / 100);
    const cacheable = Number.isInteger(hundreds) && hundreds >= 0 && hundreds < 10;
    const cached = cacheable ? forSide.responses[hundreds] : undefined;
    if (cached !== undefined) return cached;
    const labels = Object.freeze({ side, kind: 'response', class: `${hundreds}xx` });
    if (cacheable) forSide.responses[hundreds] = labels;
    return labels;
  }
}
