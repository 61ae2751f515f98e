/**
 * Counters, gauges and histograms, written out in the Prometheus text exposition format (version 0.0.4) by
 * hand: one `# HELP` and `# TYPE` line per family, then one line per label set; histograms as cumulative
 * `_bucket{le=…}` lines ending with `le="+Inf"`, then `_sum` and `_count`.
 */

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k] ?? ''}`)
    .join('\n');
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
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const entry = this.#values.get(key);
    if (entry === undefined) this.#values.set(key, { labels: { ...labels }, value: by });
    else entry.value += by;
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
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
  readonly #values = new Map<string, { labels: Labels; value: number }>();
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

  set(value: number, labels: Labels = {}): void {
    this.#values.set(labelKey(labels), { labels: { ...labels }, value });
  }

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const entry = this.#values.get(key);
    if (entry === undefined) this.#values.set(key, { labels: { ...labels }, value: by });
    else entry.value += by;
  }

  dec(labels: Labels = {}, by = 1): void {
    this.inc(labels, -by);
  }

  get(labels: Labels = {}): number {
    if (this.#collect !== undefined && Object.keys(labels).length === 0) return this.#collect();
    return this.#values.get(labelKey(labels))?.value ?? 0;
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
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  /** `buckets`: upper bounds, ascending; `+Inf` is implied. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    for (let i = 1; i < buckets.length; i++)
      if (!((buckets[i] ?? 0) > (buckets[i - 1] ?? 0))) throw new TypeError('histogram buckets must ascend');
  }

  observe(value: number, labels: Labels = {}): void {
    const key = labelKey(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] ?? 0)) series.counts[i]! += 1;
    series.sum += value;
    series.count += 1;
  }

  count(labels: Labels = {}): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
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

  /** Labels of a message for the in/out counters (unknown methods count as `other`: bounded cardinality). */
  static labels(
    side: string,
    message: { kind: 'request'; method: string } | { kind: 'response'; status: number },
  ): Labels {
    return message.kind === 'request'
      ? { side, kind: 'request', method: KNOWN_METHODS.has(message.method) ? message.method : 'other' }
      : { side, kind: 'response', class: `${Math.floor(message.status / 100)}xx` };
  }
}
