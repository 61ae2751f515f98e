/**
 * Several gateway processes on one machine (node:cluster), beside a PBX.
 *
 *                      ┌─ worker 0: WebSockets (shared HTTP port) · SIP UDP/TCP on P   · flow tokens "worker 0"
 *   primary ── fork ───┼─ worker 1: WebSockets (shared HTTP port) · SIP UDP/TCP on P+1 · flow tokens "worker 1"
 *   (no traffic)       └─ …
 *
 * How it works. The primary only forks, restarts and stops workers, and gathers /metrics. Every worker is a whole
 * gateway (startGateway). The HTTP/WebSocket port is shared: the primary accepts connections and hands them to
 * the workers in turn (node:cluster's round robin), so a browser's WebSocket lives in one worker for its whole
 * life. Each worker has SIP listeners of its own (the configured port + the worker's index; port 0 stays
 * ephemeral), and puts that port in the Via, Path and Record-Route it adds. So everything the PBX sends back for a
 * flow — a response to the Via, a request to the Path or Record-Route — arrives at the worker holding that
 * WebSocket, with no hand-over between processes. The flow token names the worker (RFC 5626 §5.2 leaves the
 * token's content to the edge proxy); a token of another worker arriving at a worker is stale there (430).
 *
 * Per-IP connection and per-connection rate limits are each worker's own (the round robin spreads one IP's
 * connections over the workers). /healthz answers for the worker that got the request; /metrics asks the primary,
 * which collects every worker's exposition and returns one text where each sample has a `worker` label.
 *
 * The embedded SIP core (no --upstream) keeps one registrar, location table and message store, so embedded mode
 * always runs one process.
 */
import cluster, { type Worker } from 'node:cluster';

import type { Logger } from 'pino';

import type { GatewayConfig, HostPort } from './config.ts';

/** GATEWAY_WORKER_INDEX tells a forked worker who it is. */
const WORKER_ENV = 'GATEWAY_WORKER_INDEX';
/** How long the primary waits for the workers' metrics before answering with what it has. */
const METRICS_TIMEOUT_MS = 1000;
/** A worker that exits within this long of its start is not restarted in a loop faster than that. */
const RESTART_DELAY_MS = 1000;

type ToPrimary =
  | { readonly kind: 'metrics-request'; readonly id: number }
  | { readonly kind: 'metrics-text'; readonly id: number; readonly text: string }
  | { readonly kind: 'ready'; readonly http: number; readonly udp: number; readonly tcp: number };
type ToWorker =
  | { readonly kind: 'metrics-render'; readonly id: number }
  | { readonly kind: 'metrics-answer'; readonly id: number; readonly text: string };

export interface WorkerRole {
  readonly index: number;
  readonly count: number;
  /** Tell the primary this worker listens (the primary logs "gateway listening" once all do). */
  ready(ports: { http: number; udp: number; tcp: number }): void;
  /** Every worker's exposition text merged, from the primary. */
  collectMetrics(): Promise<string>;
  /** Answer the primary's render requests with this worker's text. */
  serveMetrics(render: () => string): void;
}

/** This process's role: undefined when it is not a cluster worker. */
export function workerRole(count: number): WorkerRole | undefined {
  const index = process.env[WORKER_ENV];
  if (!cluster.isWorker || index === undefined) return undefined;
  const send = (message: ToPrimary): void => {
    process.send?.(message);
  };
  const pending = new Map<number, (text: string) => void>();
  let nextId = 0;
  let render: (() => string) | undefined;
  process.on('message', (message: ToWorker) => {
    if (message.kind === 'metrics-render') {
      send({ kind: 'metrics-text', id: message.id, text: render?.() ?? '' });
    } else if (message.kind === 'metrics-answer') {
      pending.get(message.id)?.(message.text);
      pending.delete(message.id);
    }
  });
  return {
    index: Number(index),
    count,
    ready: (ports) => send({ kind: 'ready', ...ports }),
    collectMetrics: () =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        send({ kind: 'metrics-request', id });
      }),
    serveMetrics: (fn) => {
      render = fn;
    },
  };
}

/** The SIP listen address of worker `index`: the configured port plus the index (0 stays ephemeral). */
export function workerListen(listen: HostPort | undefined, index: number): HostPort | undefined {
  if (listen === undefined || listen.port === 0 || index === 0) return listen;
  return { host: listen.host, port: listen.port + index };
}

/** The configuration a worker runs with: its own SIP ports and advertised ports. */
/**
 * Why `workers` workers cannot run with this configuration (undefined: they can). An MSRP session between two
 * browsers whose WebSockets landed in different workers is relayed from one worker's relay to the other's over
 * TCP (RFC 4976 §5: the relays' URIs are in the path), at the MSRP port + the worker's index: without a listener
 * on a fixed port those sessions would fail.
 */
export function clusterConfigProblem(config: GatewayConfig, workers: number): string | undefined {
  if (workers <= 1) return undefined;
  if (config.msrpTcp === undefined || config.msrpTcp.port === 0)
    return `--workers ${workers} needs the MSRP TCP listener on a fixed port (--msrp-tcp [HOST:]PORT, or the default auto): MSRP sessions between browsers on different workers are relayed through it`;
  return undefined;
}

export function workerConfig(config: GatewayConfig, index: number): GatewayConfig {
  const shift = (port: number | undefined): number | undefined =>
    port === undefined || index === 0 ? port : port + index;
  return {
    ...config,
    sipUdp: workerListen(config.sipUdp, index),
    sipTcp: workerListen(config.sipTcp, index),
    publicPorts: {
      udp: shift(config.publicPorts.udp),
      tcp: shift(config.publicPorts.tcp),
      ws: config.publicPorts.ws,
    },
  };
}

/**
 * Merges Prometheus expositions: every family once (HELP and TYPE from the first text that has it), with the
 * samples of every text under it, each labelled `worker="<index>"`.
 */
export function mergeExpositions(
  texts: readonly { readonly worker: number; readonly text: string }[],
): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const { worker, text } of texts) {
    let current: { head: string[]; samples: string[] } | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta !== null) {
        const name = meta[2] as string;
        let family = families.get(name);
        if (family === undefined) families.set(name, (family = { head: [], samples: [] }));
        if (!family.head.some((h) => h.startsWith(`# ${meta[1]} `))) family.head.push(line);
        current = family;
        continue;
      }
      if (current === undefined) continue;
      const brace = line.indexOf('{');
      const space = line.indexOf(' ');
      const label = `worker="${worker}"`;
      current.samples.push(
        brace >= 0 && brace < space
          ? `${line.slice(0, brace + 1)}${label}${line[brace + 1] === '}' ? '' : ','}${line.slice(brace + 1)}`
          : `${line.slice(0, space)}{${label}}${line.slice(space)}`,
      );
    }
  }
  const out: string[] = [];
  for (const family of families.values()) out.push(...family.head, ...family.samples);
  return out.join('\n') + '\n';
}

export interface ClusterOptions {
  readonly config: GatewayConfig;
  readonly workers: number;
  readonly log: Logger;
  /** node flags for the workers (the primary's own by default) */
  readonly execArgv?: readonly string[];
}

/**
 * The primary: forks `workers` gateways, restarts one that dies, logs "gateway listening" once all listen, answers
 * their /metrics requests, and stops them on SIGINT/SIGTERM (each drains gracefully; a second signal kills).
 */
export function runPrimary(options: ClusterOptions): void {
  const { log, workers: count } = options;
  const byIndex = new Map<number, Worker>();
  const ready = new Map<number, { http: number; udp: number; tcp: number }>();
  let stopping = false;
  let announced = false;
  let nextRequest = 0;
  const requests = new Map<number, { texts: { worker: number; text: string }[]; done: () => void }>();

  cluster.setupPrimary({ execArgv: [...(options.execArgv ?? process.execArgv)] });

  const fork = (index: number): void => {
    const worker = cluster.fork({ [WORKER_ENV]: String(index) });
    const started = Date.now();
    byIndex.set(index, worker);
    worker.on('message', (message: ToPrimary) => onMessage(index, worker, message));
    worker.on('exit', (code, signal) => {
      const wasReady = ready.delete(index);
      if (byIndex.get(index) === worker) byIndex.delete(index);
      if (stopping) {
        if (byIndex.size === 0) {
          log.info('gateway stopped');
          process.exit(process.exitCode ?? 0);
        }
        return;
      }
      if (!wasReady && !announced) {
        // It never listened (a port in use, a bad file): restarting would fail the same way.
        log.error({ worker: index, code, signal }, 'a gateway worker failed to start: stopping');
        stopping = true;
        for (const w of byIndex.values()) w.process.kill('SIGTERM');
        process.exitCode = 1;
        if (byIndex.size === 0) process.exit(1);
        return;
      }
      log.error({ worker: index, code, signal }, 'gateway worker died: restarting it');
      setTimeout(() => fork(index), Math.max(0, RESTART_DELAY_MS - (Date.now() - started)));
    });
  };

  const onMessage = (index: number, from: Worker, message: ToPrimary): void => {
    switch (message.kind) {
      case 'ready':
        ready.set(index, { http: message.http, udp: message.udp, tcp: message.tcp });
        if (!announced && ready.size === count) {
          announced = true;
          const ports = [...ready.entries()].sort((a, b) => a[0] - b[0]);
          log.info(
            {
              http: message.http,
              workers: count,
              udp: ports.map(([, p]) => p.udp),
              tcp: ports.map(([, p]) => p.tcp),
            },
            'gateway listening',
          );
        }
        return;
      case 'metrics-request': {
        const id = nextRequest++;
        const texts: { worker: number; text: string }[] = [];
        const answer = (): void => {
          if (!requests.delete(id)) return;
          clearTimeout(timer);
          texts.sort((a, b) => a.worker - b.worker);
          const reply: ToWorker = { kind: 'metrics-answer', id: message.id, text: mergeExpositions(texts) };
          if (from.isConnected()) from.send(reply);
        };
        const timer = setTimeout(answer, METRICS_TIMEOUT_MS);
        requests.set(id, { texts, done: answer });
        for (const w of byIndex.values()) if (w.isConnected()) w.send({ kind: 'metrics-render', id });
        return;
      }
      case 'metrics-text': {
        const request = requests.get(message.id);
        if (request === undefined) return;
        request.texts.push({ worker: index, text: message.text });
        if (request.texts.length >= byIndex.size) request.done();
        return;
      }
    }
  };

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: killing the workers');
      for (const w of byIndex.values()) w.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, workers: byIndex.size }, 'signal received: stopping the workers');
    for (const w of byIndex.values()) w.process.kill('SIGTERM');
    if (byIndex.size === 0) process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  for (let i = 0; i < count; i++) fork(i);
}
