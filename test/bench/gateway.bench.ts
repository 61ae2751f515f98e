/**
 * `npm run bench:gateway` — three WebSocket→UDP relays under the same closed-loop MESSAGE load:
 *
 *   (a) ours      N WS clients ── WS ──► our gateway (child process)  ── UDP ──► SIPp UAS (200 to every MESSAGE)
 *   (b) kamailio  N WS clients ── WS ──► Kamailio's WebSocket listener ── UDP ──► SIPp UAS (tm, $du = the UAS)
 *   (c) raw       N WS clients ── WS ──► a byte forwarder (no SIP: one UDP socket per connection) ──► SIPp UAS
 *
 *   1. check the tools (kamailio, sipp; the install hint if one is missing); bundle the gateway (gateway/main.ts,
 *      its real command line) and this file with esbuild, so every Node child runs plain JavaScript as shipped
 *   2. start one SIPp UAS per setup, the three relays, and the load generator (a child process: its event loop and
 *      CPU are not the relays'); each setup keeps its own N connections for the whole run
 *   3. warm each setup up (6 s: past the 5 s that finished transactions live in both stateful relays), then 3
 *      interleaved rounds (a b c, b c a, c a b) of fixed duration; each round gives
 *      completed MESSAGEs/s, latency p50/p99 (send → 200), errors and timeouts; the relay's CPU (% of one core,
 *      utime+stime from /proc/PID/stat) over the round and its memory (sampled /proc/PID/status, smaps_rollup)
 *   4. idle connections: a fresh gateway, 10,000 WebSockets opened from a child whose `ulimit -n` is raised, left
 *      idle; (RSS after − RSS before) / 10,000. The same for a fresh Kamailio (Σ PSS of its processes).
 *   5. print the table, the ratios and the targets; write test/bench/results/gateway.json
 *
 * The load: each client sends a pager MESSAGE (unique Call-ID, branch, CSeq), waits for its final response, sends
 * the next one (closed loop: at most one outstanding MESSAGE per client). A client waits TIMEOUT_MS at most for
 * an answer (then counts a timeout and sends the next one). Throughput of a round = 200s received inside the
 * round / round duration. The clients send nothing but MESSAGE and answer nothing.
 *
 * The gateway runs with its defaults except: every port on 127.0.0.1, an Origin allow-list naming the clients'
 * Origin, and the per-IP and per-connection limits raised (all clients come from 127.0.0.1, and 50 closed-loop
 * clients stand for many browsers: the default 50 messages/s per connection would refuse the load). The rate
 * limiter stays on (its cost is measured), log level `info` as in production.
 *
 * Knobs (environment): BENCH_CLIENTS (50), BENCH_ROUND_MS (5000), BENCH_WARMUP_MS (6000), BENCH_IDLE (10000,
 * 0 = skip), BENCH_KAMAILIO_IDLE (1; 0 = skip Kamailio's idle test), BENCH_CPU_PROF=1 (the gateway child runs
 * with --cpu-prof, profiles in .tmp/bench-gateway/prof), BENCH_GATEWAY_NODE_FLAGS='…' (node flags for the gateway
 * child, for experiments), BENCH_GATEWAY_ENTRY=path/to/main.ts (bundle another gateway tree, for before/after
 * comparisons), BENCH_ONLY=a,c (run only these setups; the JSON is then not written).
 *
 * Child roles (this file, bundled, run with `--role`): `loadgen` (IPC-driven WebSocket clients) and `raw`
 * (the raw forwarder).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { WebSocket, WebSocketServer, type RawData } from 'ws';

import { startKamailio, type Kamailio } from '../support/kamailio.ts';
import { requireTool } from '../support/require-tool.ts';
import { describeSipp, startSippUas, type SippUas } from '../support/sipp.ts';
import {
  CLK_TCK,
  allPids,
  cpuTicks,
  groupPids,
  killGroup,
  median,
  pssKb,
  readStat,
  statusKb,
  sumKb,
  systemTicks,
} from './support/proc.ts';
import { delay, envNumber, printTable } from './support/report.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS_FILE = path.join(REPO_ROOT, 'test/bench/results/gateway.json');
const WORK_DIR = path.join(REPO_ROOT, '.tmp/bench-gateway');
const KAMAILIO_RELAY_CFG = path.join(REPO_ROOT, 'test/bench/kamailio-relay.cfg');

const CLIENTS = envNumber('BENCH_CLIENTS', 50);
const ROUND_MS = envNumber('BENCH_ROUND_MS', 5000);
/**
 * Long enough for the stateful relays to reach their steady transaction population: a completed UDP client
 * transaction lives Timer K = 5 s in the gateway, Kamailio keeps a finished one wt_timer = 5 s. A shorter warm-up
 * measures the gateway with a small heap, which flatters it.
 */
const WARMUP_MS = envNumber('BENCH_WARMUP_MS', 6000);
const ROUNDS = 3;
const IDLE_CONNECTIONS = envNumber('BENCH_IDLE', 10_000);
const KAMAILIO_IDLE = envNumber('BENCH_KAMAILIO_IDLE', 1) !== 0;
const CPU_PROF = envNumber('BENCH_CPU_PROF', 0) !== 0;
/** Another gateway entry to bundle instead of gateway/main.ts (before/after comparisons of a change). */
const GATEWAY_ENTRY = process.env.BENCH_GATEWAY_ENTRY ?? path.join(REPO_ROOT, 'gateway/main.ts');
/** Extra node flags for the gateway child (experiments, e.g. `--max-semi-space-size=64`); none by default. */
const GATEWAY_NODE_FLAGS = (process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
/** A client gives up on a MESSAGE after this long (counted as a timeout) and sends the next one. */
const TIMEOUT_MS = 3000;
/** Kamailio's workers: UDP receivers (replies from the UAS) and TCP/WS workers (the clients' frames). */
const KAMAILIO_CHILDREN = 4;
const KAMAILIO_TCP_CHILDREN = 4;
/** Every child's life is bounded by timeout(1), so nothing outlives a killed bench for long. */
const CHILD_MAX_SECONDS = 600;
const NOFILE = 65_535;
/** The bench's hard bound: past it, everything is stopped and the run fails. */
const RUN_BOUND_MS = 8 * 60_000;
const ORIGIN = 'http://bench.invalid';
const SETUP_KEYS = ['ours', 'kamailio', 'raw'] as const;
type SetupKey = (typeof SETUP_KEYS)[number];
const SETUP_LABEL: Record<SetupKey, string> = {
  ours: '(a) our gateway',
  kamailio: '(b) Kamailio',
  raw: '(c) raw WS→UDP forwarder',
};

const TARGETS = {
  throughputVsKamailio: 1,
  throughputVsRaw: 0.5,
  idleBytesPerConnection: 10 * 1024,
};

// ---------------------------------------------------------------------------------------------------------
// The load generator's protocol (parent ⇄ child over IPC)

type LoadCommand =
  | { type: 'connect'; setup: SetupKey; url: string; clients: number }
  | { type: 'run'; setup: SetupKey; ms: number }
  | { type: 'disconnect'; setup: SetupKey }
  | { type: 'idle-open'; url: string; count: number; concurrency: number }
  | { type: 'idle-close' }
  | { type: 'exit' };

interface RunStats {
  ms: number;
  sent: number;
  completed: number;
  msgPerSec: number;
  /** final responses other than 200 */
  errors: number;
  errorStatuses: Record<string, number>;
  timeouts: number;
  /** responses that matched no outstanding MESSAGE (late after a timeout, or unexpected) */
  strays: number;
  /** connections lost during the round */
  closed: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** the generator's own CPU over the round, % of one core */
  generatorCpuPct: number;
}

type LoadReply =
  | { type: 'ready'; pid: number; nofile: string }
  | { type: 'connected'; setup: SetupKey }
  | { type: 'ran'; setup: SetupKey; stats: RunStats }
  | { type: 'disconnected'; setup: SetupKey }
  | { type: 'idle-opened'; opened: number; failed: number; firstError?: string; ms: number }
  | { type: 'idle-closed' }
  | { type: 'error'; message: string };

// ---------------------------------------------------------------------------------------------------------
// Child role: the load generator

class LoadClient {
  seq = 0;
  pendingCallId: string | undefined;
  sentAt = 0;
  readonly #prefix: string;
  readonly #from: string;

  constructor(
    readonly ws: WebSocket,
    readonly index: number,
    readonly onFrame: (client: LoadClient, text: string) => void,
  ) {
    const id = `c${index}x${Math.random().toString(36).slice(2, 8)}`;
    this.#prefix = id;
    // What a browser's pager MESSAGE looks like (JsSIP-like headers), minus the per-message fields.
    this.#from = `From: <sip:${id}@bench.invalid>;tag=${id}t\r\n`;
    ws.on('message', (data: RawData) => this.onFrame(this, rawText(data)));
  }

  /** Builds and sends the next MESSAGE; unique Call-ID, branch and CSeq. */
  send(): void {
    const seq = ++this.seq;
    const callId = `${this.#prefix}-${seq}@bench`;
    const body = `Hello #${seq} from the bench client ${this.index}.`;
    const text =
      `MESSAGE sip:uas@127.0.0.1 SIP/2.0\r\n` +
      `Via: SIP/2.0/WS ${this.#prefix}.invalid;branch=z9hG4bK${this.#prefix}b${seq}\r\n` +
      `Max-Forwards: 70\r\n` +
      `To: <sip:uas@127.0.0.1>\r\n` +
      this.#from +
      `Call-ID: ${callId}\r\n` +
      `CSeq: ${seq} MESSAGE\r\n` +
      `Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n` +
      `Supported: outbound\r\n` +
      `User-Agent: gateway-bench\r\n` +
      `Content-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    this.pendingCallId = callId;
    this.sentAt = performance.now();
    this.ws.send(text);
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('latin1');
  if (Array.isArray(data)) return Buffer.concat(data).toString('latin1');
  return Buffer.from(data).toString('latin1');
}

function openWebSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['sip'], { origin: ORIGIN, perMessageDeflate: false });
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => undefined);
      resolve(ws);
    });
    ws.once('unexpected-response', (_request, response) => {
      ws.terminate();
      reject(new Error(`WebSocket refused: HTTP ${response.statusCode}`));
    });
    ws.once('error', reject);
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function loadGenerator(): void {
  const send = (reply: LoadReply): void => {
    process.send?.(reply);
  };
  process.on('disconnect', () => process.exit(0));

  const setups = new Map<SetupKey, LoadClient[]>();
  let idle: WebSocket[] = [];

  // The state of the round in progress (one at a time).
  let running = false;
  let deadline = 0;
  let latencies = new Float64Array(1 << 20);
  let completed = 0;
  let sent = 0;
  let errors = 0;
  let timeouts = 0;
  let strays = 0;
  let closed = 0;
  let errorStatuses: Record<string, number> = {};

  const record = (ms: number): void => {
    if (completed === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[completed++] = ms;
  };

  const next = (client: LoadClient): void => {
    client.pendingCallId = undefined;
    if (!running || client.ws.readyState !== WebSocket.OPEN) return;
    sent++;
    client.send();
  };

  const onFrame = (client: LoadClient, text: string): void => {
    if (!text.startsWith('SIP/2.0 ')) {
      strays++;
      return;
    }
    const status = Number(text.slice(8, 11));
    if (status < 200) return;
    const callId = client.pendingCallId;
    if (callId === undefined || !text.includes(callId)) {
      strays++;
      return;
    }
    const now = performance.now();
    if (now <= deadline) {
      if (status === 200) record(now - client.sentAt);
      else {
        errors++;
        errorStatuses[status] = (errorStatuses[status] ?? 0) + 1;
      }
    }
    next(client);
  };

  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const clients of setups.values())
      for (const client of clients) {
        if (client.pendingCallId !== undefined && now - client.sentAt > TIMEOUT_MS) {
          if (client.sentAt <= deadline) timeouts++;
          next(client);
        }
      }
  }, 100);
  watchdog.unref();

  const run = async (setup: SetupKey, ms: number): Promise<RunStats> => {
    const clients = setups.get(setup);
    if (clients === undefined) throw new Error(`no clients for ${setup}`);
    completed = 0;
    sent = 0;
    errors = 0;
    timeouts = 0;
    strays = 0;
    closed = 0;
    errorStatuses = {};
    const cpu = process.cpuUsage();
    const start = performance.now();
    deadline = start + ms;
    running = true;
    for (const client of clients) next(client);
    await new Promise((resolve) => setTimeout(resolve, ms));
    running = false;
    const elapsed = performance.now() - start;
    const used = process.cpuUsage(cpu);
    // Let the outstanding MESSAGEs finish (not counted), so the next round starts from a quiet relay.
    const drainUntil = performance.now() + TIMEOUT_MS + 500;
    while (clients.some((c) => c.pendingCallId !== undefined) && performance.now() < drainUntil)
      await new Promise((resolve) => setTimeout(resolve, 10));
    for (const c of clients) c.pendingCallId = undefined;
    const sorted = latencies.slice(0, completed).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      ms: elapsed,
      sent,
      completed,
      msgPerSec: completed / (elapsed / 1000),
      errors,
      errorStatuses,
      timeouts,
      strays,
      closed,
      latencyMs: {
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
        mean: sorted.length === 0 ? NaN : sum / sorted.length,
      },
      generatorCpuPct: ((used.user + used.system) / 1000 / elapsed) * 100,
    };
  };

  const handle = async (command: LoadCommand): Promise<void> => {
    switch (command.type) {
      case 'connect': {
        const sockets = await Promise.all(
          Array.from({ length: command.clients }, () => openWebSocket(command.url)),
        );
        const clients = sockets.map((ws, i) => {
          ws.on('close', () => {
            if (running) closed++;
          });
          return new LoadClient(ws, i, onFrame);
        });
        setups.set(command.setup, clients);
        send({ type: 'connected', setup: command.setup });
        return;
      }
      case 'run':
        send({ type: 'ran', setup: command.setup, stats: await run(command.setup, command.ms) });
        return;
      case 'disconnect': {
        for (const c of setups.get(command.setup) ?? []) c.ws.terminate();
        setups.delete(command.setup);
        send({ type: 'disconnected', setup: command.setup });
        return;
      }
      case 'idle-open': {
        const started = performance.now();
        let opened = 0;
        let failed = 0;
        let firstError: string | undefined;
        let nextIndex = 0;
        const worker = async (): Promise<void> => {
          while (nextIndex < command.count) {
            nextIndex++;
            try {
              idle.push(await openWebSocket(command.url));
              opened++;
            } catch (error) {
              failed++;
              firstError ??= error instanceof Error ? error.message : String(error);
            }
          }
        };
        await Promise.all(Array.from({ length: command.concurrency }, worker));
        send({
          type: 'idle-opened',
          opened,
          failed,
          ms: performance.now() - started,
          ...(firstError === undefined ? {} : { firstError }),
        });
        return;
      }
      case 'idle-close': {
        for (const ws of idle) ws.terminate();
        idle = [];
        send({ type: 'idle-closed' });
        return;
      }
      case 'exit':
        process.exit(0);
    }
  };

  process.on('message', (command: LoadCommand) => {
    handle(command).catch((error: unknown) =>
      send({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
    );
  });
  send({ type: 'ready', pid: process.pid, nofile: openFilesLimit(process.pid) });
}

// ---------------------------------------------------------------------------------------------------------
// Child role: the raw forwarder — WebSocket frames to UDP and back, no SIP logic at all

function rawForwarder(uasPort: number): void {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    clientTracking: false,
    maxPayload: 65_536,
    handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
  });
  wss.on('connection', (ws: WebSocket) => {
    // One UDP socket per connection: whatever comes back on it belongs to this connection.
    const udp = createSocket('udp4');
    udp.on('error', () => undefined);
    udp.on('message', (data) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary: false });
    });
    ws.on('message', (data: RawData) => {
      udp.send(data as Buffer, uasPort, '127.0.0.1');
    });
    ws.on('error', () => undefined);
    ws.on('close', () => udp.close());
  });
  wss.on('listening', () => {
    const address = wss.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    console.log(JSON.stringify({ rawForwarderPort: port }));
  });
}

// ---------------------------------------------------------------------------------------------------------
// /proc: CPU and memory of a process (or of every process of a group)

function openFilesLimit(pid: number): string {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'));
    return m === null ? '?' : `${m[1]} (hard ${m[2]})`;
  } catch {
    return '?';
  }
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------------------
// Children of the bench

/** Every process group the bench started itself (killed at exit, on error and on Ctrl-C). */
const groups = new Set<number>();

interface NodeChild {
  readonly name: string;
  /** the node process (the child of timeout(1)) */
  readonly pid: number;
  /** its process group (every process it starts stays in it) */
  readonly group: number;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  hasExited(): boolean;
  /** the last lines it printed (stdout and stderr) */
  tail(lines?: number): string;
  /** resolves with the first line matching `test` (rejects when the child exits first or after `ms`) */
  waitLine(test: (line: string) => boolean, ms: number): Promise<string>;
  stop(): Promise<void>;
  /** IPC messages (children spawned with `ipc`), including those that came before the listener was set */
  onMessage(listener: (message: unknown) => void): void;
}

/**
 * `bash -c 'ulimit -n NOFILE; exec timeout … node ARGS'`, in its own process group (detached: a Ctrl-C in the
 * terminal reaches only the bench, which stops the children itself), bounded by timeout(1).
 */
async function spawnNode(name: string, args: readonly string[], ipc = false): Promise<NodeChild> {
  const script = `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec timeout --kill-after=5 ${CHILD_MAX_SECONDS} "$@"`;
  const proc = spawn('bash', ['-c', script, 'bash', process.execPath, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
  });
  if (proc.pid === undefined) throw new Error(`${name}: spawn failed`);
  const group = proc.pid;
  groups.add(group);
  const lines: string[] = [];
  const waiters = new Set<{ test: (line: string) => boolean; resolve: (line: string) => void }>();
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      groups.delete(group);
      killGroup(group, 'SIGKILL');
      resolve();
    }),
  );
  for (const stream of [proc.stdout, proc.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 200) lines.splice(0, lines.length - 200);
        for (const w of waiters)
          if (w.test(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
      }
    });
  }
  const inbox: unknown[] = [];
  let listener: ((message: unknown) => void) | undefined;
  proc.on('message', (message: unknown) => {
    if (listener === undefined) inbox.push(message);
    else listener(message);
  });
  // The node process is timeout(1)'s child.
  let pid: number | undefined;
  for (let i = 0; i < 200 && pid === undefined && !exited; i++) {
    pid = allPids()
      .map(readStat)
      .find((s) => s !== undefined && s.ppid === group && s.comm === 'node')?.pid;
    if (pid === undefined) await delay(10);
  }
  if (pid === undefined) {
    killGroup(group, 'SIGKILL');
    throw new Error(`${name}: no node process appeared\n${lines.join('\n')}`);
  }
  const tail = (n = 30): string => lines.slice(-n).join('\n');
  return {
    name,
    pid,
    group,
    proc,
    exited: exitedPromise,
    hasExited: () => exited,
    tail,
    waitLine(test, ms) {
      const seen = lines.find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { test, resolve };
        waiters.add(waiter);
        const fail = (why: string): void => {
          if (!waiters.delete(waiter)) return;
          reject(new Error(`${name}: ${why}\n${tail()}`));
        };
        setTimeout(() => fail(`nothing expected within ${ms} ms`), ms).unref();
        void exitedPromise.then(() => fail('exited'));
      });
    },
    onMessage(fn) {
      listener = fn;
      for (const message of inbox.splice(0)) fn(message);
    },
    async stop() {
      if (exited) return;
      killGroup(group, 'SIGTERM');
      await Promise.race([exitedPromise, delay(3000)]);
      if (!exited) killGroup(group, 'SIGKILL');
      await Promise.race([exitedPromise, delay(2000)]);
    },
  };
}

class LoadGenerator {
  readonly #waiting: ((reply: LoadReply) => void)[] = [];
  #exited = false;
  /** replies that came while nobody waited (the first `ready`) */
  readonly #unclaimed: LoadReply[] = [];

  private constructor(readonly child: NodeChild) {
    child.onMessage((reply) => {
      const waiter = this.#waiting.shift();
      if (waiter === undefined) this.#unclaimed.push(reply as LoadReply);
      else waiter(reply as LoadReply);
    });
    // A generator that dies fails whatever waits for it now, not at its time limit.
    void child.exited.then(() => {
      this.#exited = true;
      for (const waiter of this.#waiting.splice(0)) waiter({ type: 'error', message: 'the process exited' });
    });
  }

  static async start(bundle: string): Promise<{ generator: LoadGenerator; nofile: string }> {
    const child = await spawnNode('load generator', [bundle, '--role', 'loadgen'], true);
    const generator = new LoadGenerator(child);
    const ready = await generator.#next(10_000);
    if (ready.type !== 'ready') throw new Error(`load generator: ${JSON.stringify(ready)}`);
    return { generator, nofile: ready.nofile };
  }

  #next(ms: number): Promise<LoadReply> {
    const early = this.#unclaimed.shift();
    if (early !== undefined)
      return early.type === 'error'
        ? Promise.reject(new Error(`load generator: ${early.message}`))
        : Promise.resolve(early);
    if (this.#exited) return Promise.reject(new Error('load generator: the process exited'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load generator: no answer in ${ms} ms`)), ms);
      this.#waiting.push((reply) => {
        clearTimeout(timer);
        if (reply.type === 'error') reject(new Error(`load generator: ${reply.message}`));
        else resolve(reply);
      });
    });
  }

  async ask<T extends LoadReply['type']>(
    command: LoadCommand,
    expect: T,
    ms: number,
  ): Promise<Extract<LoadReply, { type: T }>> {
    const answer = this.#next(ms);
    this.child.proc.send(command);
    const reply = await answer;
    if (reply.type !== expect) throw new Error(`load generator answered ${JSON.stringify(reply)}`);
    return reply as Extract<LoadReply, { type: T }>;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The relays

interface Relay {
  readonly key: SetupKey;
  readonly url: string;
  /** the processes whose CPU and memory are the relay's */
  readonly pids: readonly number[];
  /** how it was started, for the JSON */
  readonly wiring: string;
  readonly uas: SippUas;
  stop(): Promise<void>;
  tail(): string;
}

/** The UAS of every setup: 200 to each MESSAGE, then the call ends (every MESSAGE has its own Call-ID). */
const UAS_SCENARIO = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="bench MESSAGE UAS">
  <recv request="MESSAGE" />
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Server: SIPp bench-uas
      Content-Length: 0

    ]]>
  </send>
</scenario>
`;

function startUas(): Promise<SippUas> {
  return startSippUas({
    scenarioXml: UAS_SCENARIO,
    // Big socket buffers (PEERS.md); finished calls are remembered 5 s to absorb retransmissions.
    extraArgs: ['-buff_size', '4194304', '-deadcall_wait', '5000', '-max_recv_loops', '10000'],
    maxLifetimeSeconds: CHILD_MAX_SECONDS,
  });
}

function gatewayArgs(bundle: string, uasPort: number): string[] {
  return [
    ...GATEWAY_NODE_FLAGS,
    ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', path.join(WORK_DIR, 'prof')] : []),
    bundle,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--sip-udp',
    '127.0.0.1:0',
    '--sip-tcp',
    '127.0.0.1:0',
    '--public-host',
    '127.0.0.1',
    '--upstream',
    `sip:127.0.0.1:${uasPort};transport=udp`,
    '--origin',
    ORIGIN,
    '--flow-secret',
    'bench-flow-secret-0123456789abcdef',
    '--max-connections-per-ip',
    '100000',
    '--message-rate',
    '100000',
    '--message-burst',
    '100000',
    '--shutdown-grace',
    '0',
    '--log-level',
    'info',
  ];
}

async function startGatewayChild(
  bundle: string,
  uasPort: number,
): Promise<{ child: NodeChild; port: number; args: string[] }> {
  const args = gatewayArgs(bundle, uasPort);
  const child = await spawnNode('gateway', args);
  const line = await child.waitLine((l) => l.includes('"gateway listening"'), 15_000);
  const port = (JSON.parse(line) as { http: number }).http;
  return { child, port, args };
}

async function startOurs(bundle: string): Promise<Relay> {
  const uas = await startUas();
  const { child, port, args } = await startGatewayChild(bundle, uas.port);
  // The gateway runs one worker per CPU beside a PBX (node:cluster): its primary and workers are the node
  // processes of the child's group; all of them count.
  const pids = groupPids(child.group, 'node');
  return {
    key: 'ours',
    url: `ws://127.0.0.1:${port}`,
    pids: pids.length > 0 ? pids : [child.pid],
    wiring: `node ${args.map((a) => (a === bundle ? path.relative(REPO_ROOT, a) : a)).join(' ')}`,
    uas,
    stop: () => child.stop(),
    tail: () => child.tail(),
  };
}

function startKamailioProcess(uasPort: number): Promise<Kamailio> {
  return startKamailio({
    configFile: KAMAILIO_RELAY_CFG,
    logLevel: 1,
    children: KAMAILIO_CHILDREN,
    tcpChildren: KAMAILIO_TCP_CHILDREN,
    shmMb: 1024,
    defines: [`UAS_PORT=${uasPort}`, `MAX_TCP=${IDLE_CONNECTIONS + 1000}`],
    maxLifetimeSeconds: CHILD_MAX_SECONDS,
  });
}

async function startKamailioRelay(): Promise<{ relay: Relay; kamailio: Kamailio }> {
  const uas = await startUas();
  const kamailio = await startKamailioProcess(uas.port);
  const pids = groupPids(kamailio.pid, 'kamailio');
  return {
    kamailio,
    relay: {
      key: 'kamailio',
      url: kamailio.wsUrl,
      pids,
      wiring: `kamailio -f test/bench/kamailio-relay.cfg -m 1024 -M 16 (children=${KAMAILIO_CHILDREN}, tcp_children=${KAMAILIO_TCP_CHILDREN}, ${pids.length} processes), $du = sip:127.0.0.1:${uas.port}`,
      uas,
      stop: () => kamailio.stop(),
      tail: () => kamailio.logTail(30),
    },
  };
}

async function startRaw(bundle: string): Promise<Relay> {
  const uas = await startUas();
  const child = await spawnNode('raw forwarder', [bundle, '--role', 'raw', String(uas.port)]);
  const line = await child.waitLine((l) => l.includes('rawForwarderPort'), 10_000);
  const port = (JSON.parse(line) as { rawForwarderPort: number }).rawForwarderPort;
  return {
    key: 'raw',
    url: `ws://127.0.0.1:${port}`,
    pids: [child.pid],
    wiring: `node ${path.relative(REPO_ROOT, bundle)} --role raw ${uas.port} (ws server; one UDP socket per connection)`,
    uas,
    stop: () => child.stop(),
    tail: () => child.tail(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Bundling: the gateway as it would ship, and this file for the child roles

async function bundle(): Promise<{ gateway: string; bench: string }> {
  const { build } = await import('esbuild');
  mkdirSync(WORK_DIR, { recursive: true });
  const gateway = path.join(WORK_DIR, 'gateway.mjs');
  const bench = path.join(WORK_DIR, 'bench.mjs');
  // packages stay external: the bundles sit under the repository, so node_modules resolves as usual.
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  } as const;
  await build({ ...common, entryPoints: [path.resolve(GATEWAY_ENTRY)], outfile: gateway });
  await build({ ...common, entryPoints: [fileURLToPath(import.meta.url)], outfile: bench });
  return { gateway, bench };
}

// ---------------------------------------------------------------------------------------------------------
// Measurements

interface RoundResult {
  round: number;
  stats: RunStats;
  relayCpuPct: number;
  /** the relay's CPU time per completed MESSAGE, µs (less sensitive than msg/s to other load on the machine) */
  relayCpuUsPerMsg: number;
  /** the kernel's share of the relay's CPU time (stime / (utime + stime)) */
  relaySystemShare: number;
  uasCpuPct: number;
  /** sampled during the round, MB */
  rssPeakMb: number;
  pssPeakMb: number;
}

interface SetupReport {
  label: string;
  wiring: string;
  processes: number;
  rounds: RoundResult[];
  median: {
    msgPerSec: number;
    p50Ms: number;
    p99Ms: number;
    relayCpuPct: number;
    relayCpuUsPerMsg: number;
    generatorCpuPct: number;
    uasCpuPct: number;
  } | null;
  /** peak over the throughput phase, MB: VmHWM for one process, Σ VmRSS for several (counts shm once each) */
  rssPeakMb: number | null;
  /** peak of the sampled Σ PSS, MB (shared memory counted once) */
  pssPeakMb: number | null;
  errors: number;
  timeouts: number;
  strays: number;
  closed: number;
}

async function measureRound(
  generator: LoadGenerator,
  relay: Relay,
  round: number,
  ms: number,
): Promise<RoundResult> {
  const cpu0 = cpuTicks(relay.pids);
  const sys0 = systemTicks(relay.pids);
  const uas0 = cpuTicks([relay.uas.pid]);
  const t0 = performance.now();
  let rssPeak = 0;
  let pssPeak = 0;
  const sample = (): void => {
    rssPeak = Math.max(
      rssPeak,
      sumKb(relay.pids, (pid) => statusKb(pid, 'VmRSS')),
    );
    pssPeak = Math.max(pssPeak, sumKb(relay.pids, pssKb));
  };
  const sampler = setInterval(sample, 250);
  const reply = await generator.ask({ type: 'run', setup: relay.key, ms }, 'ran', ms + TIMEOUT_MS + 10_000);
  clearInterval(sampler);
  sample();
  // The CPU is read after the drain too: the relay's work for the round's last MESSAGEs is in it; the wall time
  // is the whole span, so the % is a little diluted by the quiet drain (a few ms).
  const seconds = (performance.now() - t0) / 1000;
  const relaySeconds = (cpuTicks(relay.pids) - cpu0) / CLK_TCK;
  const relaySystemSeconds = (systemTicks(relay.pids) - sys0) / CLK_TCK;
  const relayCpuPct = (relaySeconds / seconds) * 100;
  const uasCpuPct = ((cpuTicks([relay.uas.pid]) - uas0) / CLK_TCK / seconds) * 100;
  return {
    round,
    stats: reply.stats,
    relayCpuPct,
    relayCpuUsPerMsg: (relaySeconds * 1e6) / Math.max(1, reply.stats.completed),
    relaySystemShare: relaySeconds > 0 ? relaySystemSeconds / relaySeconds : 0,
    uasCpuPct,
    rssPeakMb: rssPeak / 1024,
    pssPeakMb: pssPeak / 1024,
  };
}

function summarize(relay: Relay, rounds: RoundResult[]): SetupReport {
  const pick = (f: (r: RoundResult) => number): number => median(rounds.map(f));
  const hwm =
    relay.pids.length === 1
      ? statusKb(relay.pids[0]!, 'VmHWM') / 1024
      : Math.max(...rounds.map((r) => r.rssPeakMb));
  return {
    label: SETUP_LABEL[relay.key],
    wiring: relay.wiring,
    processes: relay.pids.length,
    rounds,
    median:
      rounds.length === 0
        ? null
        : {
            msgPerSec: pick((r) => r.stats.msgPerSec),
            p50Ms: pick((r) => r.stats.latencyMs.p50),
            p99Ms: pick((r) => r.stats.latencyMs.p99),
            relayCpuPct: pick((r) => r.relayCpuPct),
            relayCpuUsPerMsg: pick((r) => r.relayCpuUsPerMsg),
            generatorCpuPct: pick((r) => r.stats.generatorCpuPct),
            uasCpuPct: pick((r) => r.uasCpuPct),
          },
    rssPeakMb: rounds.length === 0 ? null : hwm,
    pssPeakMb: rounds.length === 0 ? null : Math.max(...rounds.map((r) => r.pssPeakMb)),
    errors: sum(rounds.map((r) => r.stats.errors)),
    timeouts: sum(rounds.map((r) => r.stats.timeouts)),
    strays: sum(rounds.map((r) => r.stats.strays)),
    closed: sum(rounds.map((r) => r.stats.closed)),
  };
}

/** Open SIP WebSockets over every worker: the sum of gateway_ws_connections in /metrics. */
function healthConnections(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpGet({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        let sum = 0;
        for (const m of body.matchAll(/^gateway_ws_connections(?:\{[^}]*\})? (\d+)$/gm)) sum += Number(m[1]);
        resolve(sum);
      });
    });
    request.on('error', reject);
    request.on('timeout', () => request.destroy(new Error('metrics timeout')));
  });
}

interface IdleReport {
  connections: number;
  opened: number;
  failed: number;
  firstError?: string;
  openMs: number;
  /** what the relay itself reported (the gateway's /healthz), when it can */
  relayCount: number | null;
  beforeMb: number;
  afterMb: number;
  /** the samples after opening, MB, 500 ms apart (the last is `afterMb`) */
  settleMb: number[];
  bytesPerConnection: number;
  metric: string;
  nofile: { generator: string; relay: string };
}

/** Opens `count` idle WebSockets to `url`, waits for the memory to settle, reports the delta per connection. */
async function idleMemory(
  generator: LoadGenerator,
  nofile: string,
  url: string,
  count: number,
  memoryKb: () => number,
  metric: string,
  relayNofile: string,
  relayCount: () => Promise<number | null>,
): Promise<IdleReport> {
  await delay(1000);
  const before = memoryKb();
  const opened = await generator.ask(
    { type: 'idle-open', url, count, concurrency: 100 },
    'idle-opened',
    120_000,
  );
  // Idle: let the handshakes' garbage be collected (V8's memory reducer runs on an idle heap), sample every
  // 500 ms for 5 s, keep the last sample.
  const settle: number[] = [];
  for (let i = 0; i < 10; i++) {
    await delay(500);
    settle.push(memoryKb() / 1024);
  }
  const count2 = await relayCount();
  const after = memoryKb();
  await generator.ask({ type: 'idle-close' }, 'idle-closed', 60_000);
  return {
    connections: count,
    opened: opened.opened,
    failed: opened.failed,
    ...(opened.firstError === undefined ? {} : { firstError: opened.firstError }),
    openMs: opened.ms,
    relayCount: count2,
    beforeMb: before / 1024,
    afterMb: after / 1024,
    settleMb: settle,
    bytesPerConnection: ((after - before) * 1024) / Math.max(1, opened.opened),
    metric,
    nofile: { generator: nofile, relay: relayNofile },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Report

const fmtInt = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US');
const fmtMs = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v < 10 ? v.toFixed(2) : v.toFixed(1);
const fmtRatio = (v: number | null): string =>
  v === null || !Number.isFinite(v) ? '—' : `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×`;

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const phase = (what: string): void => {
    console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${what}`);
  };
  // Missing tools: a clear error with the install hint, before anything starts.
  requireTool('kamailio');
  requireTool('kamcmd');
  requireTool('sipp');
  requireTool('timeout', 'apt-get install -y coreutils');
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const letters: Record<string, SetupKey> = { a: 'ours', b: 'kamailio', c: 'raw' };
  const active = SETUP_KEYS.filter(
    (key) => only.length === 0 || only.some((o) => letters[o] === key || o === key),
  );
  const loadBefore = os.loadavg()[0]!;

  const relays = new Map<SetupKey, Relay>();
  const stoppers: (() => Promise<unknown>)[] = [];
  let generator: LoadGenerator | undefined;
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await Promise.allSettled(stoppers.reverse().map((stop) => stop()));
    for (const group of groups) killGroup(group, 'SIGKILL');
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    console.log(`\n${signal}: stopping every child…`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    for (const group of groups) killGroup(group, 'SIGKILL');
  });
  const bound = setTimeout(() => {
    console.error(`bench: still running after ${RUN_BOUND_MS / 1000} s; stopping`);
    void cleanup().finally(() => process.exit(1));
  }, RUN_BOUND_MS);
  bound.unref();

  try {
    phase(
      `Bundling ${path.relative(REPO_ROOT, path.resolve(GATEWAY_ENTRY))} and the bench children with esbuild`,
    );
    const bundles = await bundle();

    phase(`Starting ${active.join(', ')} (each with its own SIPp UAS) and the load generator`);
    const started2: Promise<void>[] = [];
    let kamailio: Kamailio | undefined;
    if (active.includes('ours'))
      started2.push(
        startOurs(bundles.gateway).then((r) => {
          relays.set('ours', r);
          stoppers.push(
            () => r.stop(),
            () => r.uas.stop(1000),
          );
        }),
      );
    if (active.includes('kamailio'))
      started2.push(
        startKamailioRelay().then(({ relay, kamailio: k }) => {
          kamailio = k;
          relays.set('kamailio', relay);
          stoppers.push(
            () => relay.stop(),
            () => relay.uas.stop(1000),
          );
        }),
      );
    if (active.includes('raw'))
      started2.push(
        startRaw(bundles.bench).then((r) => {
          relays.set('raw', r);
          stoppers.push(
            () => r.stop(),
            () => r.uas.stop(1000),
          );
        }),
      );
    const started3 = await Promise.allSettled(started2);
    for (const s of started3) if (s.status === 'rejected') throw s.reason;
    const load = await LoadGenerator.start(bundles.bench);
    generator = load.generator;
    const gen = generator;
    stoppers.push(() => gen.child.stop());

    const order = SETUP_KEYS.filter((key) => relays.has(key));
    for (const key of order) {
      const relay = relays.get(key)!;
      await gen.ask({ type: 'connect', setup: key, url: relay.url, clients: CLIENTS }, 'connected', 20_000);
    }
    phase(
      `${CLIENTS} WebSocket clients per setup, closed loop; warm-up ${WARMUP_MS} ms each, then ${ROUNDS} interleaved rounds of ${ROUND_MS} ms`,
    );
    const warmups: Record<string, RunStats> = {};
    for (const key of order) {
      warmups[key] = (
        await gen.ask({ type: 'run', setup: key, ms: WARMUP_MS }, 'ran', WARMUP_MS + 20_000)
      ).stats;
    }
    const rounds = new Map<SetupKey, RoundResult[]>(order.map((key) => [key, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const rotated = order.map((_, i) => order[(i + round) % order.length]!);
      for (const key of rotated) {
        const result = await measureRound(gen, relays.get(key)!, round + 1, ROUND_MS);
        rounds.get(key)!.push(result);
        const s = result.stats;
        console.log(
          `  round ${round + 1} ${key.padEnd(8)} ${fmtInt(s.msgPerSec).padStart(7)} msg/s  p50 ${fmtMs(s.latencyMs.p50)} ms  p99 ${fmtMs(s.latencyMs.p99)} ms  relay CPU ${result.relayCpuPct.toFixed(0)}% (${result.relayCpuUsPerMsg.toFixed(0)} µs/msg, ${(result.relaySystemShare * 100).toFixed(0)}% kernel)  gen ${s.generatorCpuPct.toFixed(0)}%  UAS ${result.uasCpuPct.toFixed(0)}%  RSS ${fmtInt(result.rssPeakMb)} MB` +
            (s.errors + s.timeouts + s.closed > 0
              ? `  errors ${s.errors} timeouts ${s.timeouts} closed ${s.closed}`
              : ''),
        );
      }
    }
    const reports = new Map<SetupKey, SetupReport>();
    for (const key of order) reports.set(key, summarize(relays.get(key)!, rounds.get(key)!));
    for (const key of order) await gen.ask({ type: 'disconnect', setup: key }, 'disconnected', 10_000);

    // ---------------------------------------------------------------- idle connections
    let idleOurs: IdleReport | null = null;
    let idleKamailio: IdleReport | null = null;
    if (IDLE_CONNECTIONS > 0 && active.includes('ours')) {
      phase(`Idle connections: a fresh gateway, ${IDLE_CONNECTIONS.toLocaleString('en-US')} WebSockets`);
      const oursRelay = relays.get('ours')!;
      const fresh = await startGatewayChild(bundles.gateway, oursRelay.uas.port);
      stoppers.push(() => fresh.child.stop());
      idleOurs = await idleMemory(
        gen,
        load.nofile,
        `ws://127.0.0.1:${fresh.port}`,
        IDLE_CONNECTIONS,
        () => sumKb(groupPids(fresh.child.group, 'node'), (pid) => statusKb(pid, 'VmRSS')),
        'Σ VmRSS of the gateway processes (primary and workers)',
        openFilesLimit(fresh.child.pid),
        () => healthConnections(fresh.port).catch(() => null),
      );
      await fresh.child.stop();
      console.log(
        `  ours: ${fmtInt(idleOurs.opened)} open (gateway says ${fmtInt(idleOurs.relayCount)}), RSS ${idleOurs.beforeMb.toFixed(1)} → ${idleOurs.afterMb.toFixed(1)} MB: ${fmtInt(idleOurs.bytesPerConnection)} B/connection`,
      );
    }
    if (IDLE_CONNECTIONS > 0 && KAMAILIO_IDLE && kamailio !== undefined) {
      phase(`Idle connections: a fresh Kamailio, ${IDLE_CONNECTIONS.toLocaleString('en-US')} WebSockets`);
      const k = await startKamailioProcess(relays.get('kamailio')!.uas.port);
      stoppers.push(() => k.stop());
      const pids = groupPids(k.pid, 'kamailio');
      idleKamailio = await idleMemory(
        gen,
        load.nofile,
        k.wsUrl,
        IDLE_CONNECTIONS,
        () => sumKb(pids, pssKb),
        `Σ PSS of the ${pids.length} Kamailio processes (shm counted once)`,
        openFilesLimit(pids[0]!),
        async () => {
          try {
            const out = await k.kamcmd('core.tcp_info');
            const m = /opened_connections:\s*(\d+)/.exec(out);
            return m === null ? null : Number(m[1]);
          } catch {
            return null;
          }
        },
      );
      await k.stop();
      console.log(
        `  kamailio: ${fmtInt(idleKamailio.opened)} open (tcp_info says ${fmtInt(idleKamailio.relayCount)}), Σ PSS ${idleKamailio.beforeMb.toFixed(1)} → ${idleKamailio.afterMb.toFixed(1)} MB: ${fmtInt(idleKamailio.bytesPerConnection)} B/connection`,
      );
    }

    phase('Stopping');
    const uasRuns = new Map<SetupKey, string>();
    for (const key of order) {
      const relay = relays.get(key)!;
      await relay.stop();
      const run = await relay.uas.stop(1000);
      uasRuns.set(key, `successful ${run.successful ?? '?'}, failed ${run.failed ?? '?'}`);
      if (run.code !== 0 && run.code !== 97 && run.code !== 1)
        console.log(`  UAS ${key}: ${describeSipp(run)}`);
    }
    await gen.child.stop();

    // ---------------------------------------------------------------- print
    console.log('');
    printTable(
      [
        'setup',
        'msg/s',
        'p50 ms',
        'p99 ms',
        'relay CPU %',
        'CPU µs/msg',
        'RSS peak MB',
        'PSS peak MB',
        'errors',
        'timeouts',
        'gen CPU %',
        'UAS CPU %',
      ],
      order.map((key) => {
        const r = reports.get(key)!;
        const m = r.median;
        return [
          `${r.label}${r.processes > 1 ? ` [${r.processes} proc]` : ''}`,
          fmtInt(m?.msgPerSec),
          fmtMs(m?.p50Ms),
          fmtMs(m?.p99Ms),
          fmtInt(m?.relayCpuPct),
          fmtInt(m?.relayCpuUsPerMsg),
          `${fmtInt(r.rssPeakMb)}${r.processes > 1 ? '†' : ''}`,
          fmtInt(r.pssPeakMb),
          fmtInt(r.errors),
          fmtInt(r.timeouts),
          fmtInt(m?.generatorCpuPct),
          fmtInt(m?.uasCpuPct),
        ];
      }),
      new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    );
    console.log(
      `Medians of ${ROUNDS} interleaved ${ROUND_MS / 1000} s rounds; latency = send → 200 at the client; CPU % of one core (utime+stime over the round, all the relay's processes); CPU µs/msg = that CPU time / completed MESSAGEs. RSS peak: VmHWM (one process)` +
        (reports.has('kamailio')
          ? '; † Σ VmRSS of all Kamailio processes (counts its shared memory once per process: PSS is the fair figure)'
          : '') +
        `. errors/timeouts summed over the rounds.`,
    );
    for (const key of order) {
      const r = reports.get(key)!;
      if (r.strays + r.closed > 0)
        console.log(`  ${key}: ${r.strays} stray responses, ${r.closed} connections lost`);
    }
    if (idleOurs !== null || idleKamailio !== null) {
      console.log('');
      printTable(
        ['idle WebSockets', 'opened', 'before MB', 'after MB', 'bytes/connection', 'measured'],
        [
          ...(idleOurs === null ? [] : [['(a) our gateway', idleOurs] as const]),
          ...(idleKamailio === null ? [] : [['(b) Kamailio', idleKamailio] as const]),
        ].map(([label, r]) => [
          label,
          fmtInt(r.opened),
          r.beforeMb.toFixed(1),
          r.afterMb.toFixed(1),
          fmtInt(r.bytesPerConnection),
          r.metric,
        ]),
        new Set([1, 2, 3, 4]),
      );
      const gLimit = idleOurs?.nofile ?? idleKamailio?.nofile;
      if (gLimit !== undefined)
        console.log(
          `open files limit: clients ${gLimit.generator}${idleOurs === null ? '' : `, gateway ${idleOurs.nofile.relay}`}${idleKamailio === null ? '' : `, Kamailio ${idleKamailio.nofile.relay}`}`,
        );
    }

    const ours = reports.get('ours')?.median ?? null;
    const kam = reports.get('kamailio')?.median ?? null;
    const raw = reports.get('raw')?.median ?? null;
    const vsKamailio = ours !== null && kam !== null ? ours.msgPerSec / kam.msgPerSec : null;
    const vsRaw = ours !== null && raw !== null ? ours.msgPerSec / raw.msgPerSec : null;
    const p99Ratio = ours !== null && kam !== null ? ours.p99Ms / kam.p99Ms : null;
    const idleBytes = idleOurs?.bytesPerConnection ?? null;
    const headline = `ours/Kamailio throughput = ${fmtRatio(vsKamailio)}, ours/raw = ${fmtRatio(vsRaw)}; p99 ours ${fmtMs(ours?.p99Ms)} ms vs Kamailio ${fmtMs(kam?.p99Ms)} ms (${fmtRatio(p99Ratio)}); idle: ${fmtInt(idleBytes)} B/connection`;
    console.log(`\n${'═'.repeat(headline.length)}\n${headline}\n${'═'.repeat(headline.length)}`);
    const targets = [
      {
        target: `throughput ≥ ${TARGETS.throughputVsKamailio}× Kamailio at a p99 no worse than Kamailio's`,
        value: vsKamailio,
        pass:
          vsKamailio !== null &&
          p99Ratio !== null &&
          vsKamailio >= TARGETS.throughputVsKamailio &&
          p99Ratio <= 1,
        shown: `${fmtRatio(vsKamailio)}, p99 ${fmtMs(ours?.p99Ms)} vs ${fmtMs(kam?.p99Ms)} ms`,
      },
      {
        target: `throughput ≥ ${TARGETS.throughputVsRaw * 100}% of the raw forwarder`,
        value: vsRaw,
        pass: vsRaw !== null && vsRaw >= TARGETS.throughputVsRaw,
        shown: vsRaw === null ? '—' : `${(vsRaw * 100).toFixed(0)}%`,
      },
      {
        target: `memory per idle connection ≤ ${TARGETS.idleBytesPerConnection / 1024} KB`,
        value: idleBytes,
        pass: idleBytes !== null && idleBytes <= TARGETS.idleBytesPerConnection,
        shown: idleBytes === null ? '—' : `${(idleBytes / 1024).toFixed(1)} KB`,
      },
    ];
    for (const t of targets) console.log(`  [${t.pass ? 'PASS' : 'FAIL'}] ${t.target}: ${t.shown}`);
    const loadAfter = os.loadavg()[0]!;
    console.log(
      `\nNote: ${os.cpus().length} CPUs shared by the load generator, the relay and the SIPp UAS (their CPU % are in the table): the figures are relative, for this machine.`,
    );
    if (Math.max(loadBefore, loadAfter) > os.cpus().length / 2)
      console.log(
        `Note: 1-min load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} on ${os.cpus().length} CPUs: other work competed for the CPU, so msg/s and latencies are noisy (CPU µs/msg less so; every round is in the JSON).`,
      );

    // ---------------------------------------------------------------- JSON
    const results = {
      timestamp: new Date().toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cpuCount: os.cpus().length,
      platform: `${os.platform()} ${os.arch()} ${os.release()}`,
      loadAverage1m: { before: loadBefore, after: loadAfter },
      method: {
        clients: CLIENTS,
        load: 'closed loop: each WebSocket client has at most one MESSAGE outstanding and sends the next as soon as the final response arrives',
        roundMs: ROUND_MS,
        warmupMs: WARMUP_MS,
        rounds: ROUNDS,
        order: 'interleaved, rotated each round (a b c, b c a, c a b)',
        statistic: 'median of the rounds',
        throughput: '200 OK received within the round / round duration',
        latency: 'client send → 200 received (performance.now in the generator)',
        timeoutMs: TIMEOUT_MS,
        cpu: 'Δ(utime+stime) of the relay processes from /proc/PID/stat over the round (incl. its drain), % of one core',
        memory:
          'VmHWM (peak RSS) for a one-process relay; for Kamailio Σ VmRSS over its processes (sampled every 250 ms; counts shm once per process) and Σ PSS (smaps_rollup, shm counted once)',
        idle: 'fresh relay; memory before; N WebSockets opened (100 at a time) from the generator child (ulimit -n raised), idle; memory sampled every 500 ms for 5 s, the last sample is "after"; (after − before) / opened',
        generator:
          'a separate Node child process (ws clients, perMessageDeflate off); each setup has its own connections',
        uas: 'one SIPp UAS per setup (UDP, -buff_size 4194304): 200 to every MESSAGE, the call ends after it',
        bundles:
          'gateway/main.ts and this file bundled by esbuild (esm, node20, packages external) and run by plain node',
        message: 'a pager MESSAGE of about 430 bytes (JsSIP-like headers, 40-byte text/plain body)',
      },
      setups: Object.fromEntries(
        order.map((key) => {
          const r = reports.get(key)!;
          return [key, { ...r, warmup: warmups[key], uas: uasRuns.get(key) }];
        }),
      ),
      idle: { ours: idleOurs, kamailio: idleKamailio },
      ratios: {
        throughputOursOverKamailio: vsKamailio,
        throughputOursOverRaw: vsRaw,
        p99OursOverKamailio: p99Ratio,
        idleBytesPerConnection: idleBytes,
      },
      targets: targets.map(({ target, value, pass }) => ({ target, value, pass })),
      durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
    if (only.length === 0 && process.env.BENCH_GATEWAY_ENTRY === undefined) {
      mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
      writeFileSync(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n');
      console.log(`\nWrote ${path.relative(REPO_ROOT, RESULTS_FILE)} (${results.durationSeconds} s)`);
    } else {
      console.log(
        `\nBENCH_ONLY / BENCH_GATEWAY_ENTRY set: ${path.relative(REPO_ROOT, RESULTS_FILE)} not written (${results.durationSeconds} s)`,
      );
    }
  } catch (error) {
    for (const relay of relays.values()) {
      const tail = relay.tail();
      if (tail !== '') console.error(`--- ${relay.key} (last lines) ---\n${tail}`);
    }
    if (generator !== undefined) console.error(`--- load generator ---\n${generator.child.tail()}`);
    throw error;
  } finally {
    await cleanup();
    clearTimeout(bound);
  }
}

const roleIndex = process.argv.indexOf('--role');
const role = roleIndex === -1 ? undefined : process.argv[roleIndex + 1];
if (role === 'loadgen') loadGenerator();
else if (role === 'raw') rawForwarder(Number(process.argv[roleIndex + 2]));
else if (role !== undefined) throw new Error(`unknown role ${role}`);
else
  await main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
