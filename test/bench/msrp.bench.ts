/**
 * `npm run bench:msrp` — a 100 MB MSRP message WebSocket → TCP through three middles:
 *
 *   (a) ours      sender ══WS══► our gateway (child process, its MSRP relay)    ══TCP══► receiver
 *   (b) kamailio  sender ══WS══► Kamailio's msrp module (kamailio-msrp.cfg)      ══TCP══► receiver
 *   (c) raw       sender ══WS══► a WebSocket → TCP byte copier (no MSRP at all) ══TCP══► receiver (the floor)
 *
 * The sender is the core's MsrpSession over `ws` (test/support/msrp-ws-client.ts), the receiver the core's
 * MsrpSession over node:net (test/support/msrp-tcp-peer.ts), each in a child process of its own, the same code in
 * the three setups: in (a) and (b) the sender AUTHs and addresses the receiver through the relay's Use-Path; in (c)
 * it addresses the receiver directly and the copier passes bytes both ways. The sender's chunks are 1 MiB in (a)
 * and (c) (what a WebSocket message of our relay takes) and 10 KiB in (b) (Kamailio relays frames of at most about
 * 10 KiB of body); its window (bytes awaiting 200s) is 8 MiB. The receiver streams the message (1 MiB buffer), so
 * nothing holds 100 MB but the sender's source.
 *
 *   1. check the tools (kamailio; the install hint if missing); bundle the gateway (gateway/main.ts, its real
 *      command line) and this file with esbuild, so every Node child runs plain JavaScript as shipped
 *   2. start the three middles, one receiver and one sender per setup; each sender connects (and AUTHs) once
 *   3. one warm-up transfer per setup, then ROUNDS interleaved rounds (a b c, b c a, c a b): per transfer the
 *      wall time from "send" to the receiver holding the last byte (MB/s), the middle's CPU (utime+stime of its
 *      processes, /proc) and its memory (VmRSS and PSS sampled every 100 ms; VmHWM for one process)
 *   4. medians; the ratios ours ÷ raw and ours ÷ Kamailio against the targets (≥ 0.7, ≥ 2); print the table and
 *      write test/bench/results/msrp.json
 *
 * Knobs (environment): BENCH_MSRP_MB (100), BENCH_ROUNDS (3), BENCH_ONLY=a,c (only these setups; the JSON is
 * then not written).
 * Child roles (this file, bundled, run with `--role`): `sender`, `receiver`, `raw`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { WebSocketServer, type RawData, type WebSocket } from 'ws';

import { startKamailio, type Kamailio } from '../support/kamailio.ts';
import { MsrpTcpPeer } from '../support/msrp-tcp-peer.ts';
import { MsrpWsClient } from '../support/msrp-ws-client.ts';
import { requireTool } from '../support/require-tool.ts';
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
} from './support/proc.ts';
import { delay, envNumber } from './support/report.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS_FILE = path.join(REPO_ROOT, 'test/bench/results/msrp.json');
const WORK_DIR = path.join(REPO_ROOT, '.tmp/bench-msrp');
const KAMAILIO_MSRP_CFG = path.join(REPO_ROOT, 'test/support/kamailio/kamailio-msrp.cfg');

const MB = envNumber('BENCH_MSRP_MB', 100);
/** Extra node flags for every child (experiments, e.g. `--cpu-prof --cpu-prof-dir=DIR`); none by default. */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
const SIZE = MB * 1024 * 1024;
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const CHUNK_BIG = 1 << 20;
const CHUNK_KAMAILIO = 10 * 1024;
const WINDOW = 8 << 20;
const TRANSFER_TIMEOUT_MS = envNumber('BENCH_TRANSFER_TIMEOUT_MS', 180_000);
const CHILD_MAX_SECONDS = 900;
const SETUP_KEYS = ['ours', 'kamailio', 'raw'] as const;
type SetupKey = (typeof SETUP_KEYS)[number];
const SETUP_LABEL: Record<SetupKey, string> = {
  ours: '(a) our relay',
  kamailio: "(b) Kamailio's msrp relay",
  raw: '(c) raw WS→TCP copy',
};
const TARGETS = { oursVsRaw: 0.7, oursVsKamailio: 2 };

// ---------------------------------------------------------------------------------------------------------
// Child roles

type ToChild =
  | {
      type: 'connect';
      url: string;
      relayUri: string | undefined;
      chunkSize: number;
    }
  | { type: 'send'; toPath: string[]; size: number }
  | { type: 'listen' }
  | { type: 'copy'; receiverPort: number };
type FromChild =
  | { type: 'connected'; uri: string; usePath: string[] }
  | { type: 'sent'; ok: boolean; detail: string }
  | { type: 'ready'; uri: string; port: number }
  | { type: 'done'; bytes: number }
  | { type: 'copying'; port: number }
  | { type: 'error'; message: string };

function reply(message: FromChild): void {
  process.send?.(message);
}

function senderRole(): void {
  let client: MsrpWsClient | undefined;
  let usePath: string[] = [];
  // The message: made once, sent from memory each round (its source hands out views).
  const data = Buffer.allocUnsafe(SIZE);
  for (let i = 0; i < SIZE; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  process.on('message', (m: ToChild) => {
    void (async () => {
      try {
        if (m.type === 'connect') {
          client = await MsrpWsClient.connect({
            url: m.url,
            session: { chunkSize: m.chunkSize, window: WINDOW, transactionTimeout: 120_000 },
            maxBuffered: WINDOW,
          });
          client.record = false;
          usePath =
            m.relayUri === undefined
              ? []
              : await client.authenticate(m.relayUri, { username: 'alice', password: 'secret' });
          reply({ type: 'connected', uri: client.uri, usePath });
        } else if (m.type === 'send' && client !== undefined) {
          const c = client;
          c.session.setRemotePath(m.toPath);
          const id = c.send({
            contentType: 'application/octet-stream',
            body: { size: m.size, read: (offset, length) => data.subarray(offset, offset + length) },
          });
          const off = c.onEvent((e) => {
            if ((e.type === 'sent' || e.type === 'report') && e.messageId === id) {
              off();
              const ok = e.type === 'sent' || e.success;
              reply({ type: 'sent', ok, detail: e.type === 'report' ? `${e.status} ${e.comment}` : 'sent' });
            }
          });
        }
      } catch (error) {
        reply({ type: 'error', message: String(error) });
      }
    })();
  });
}

function receiverRole(): void {
  process.on('message', (m: ToChild) => {
    void (async () => {
      if (m.type !== 'listen') return;
      const peer = await MsrpTcpPeer.listen({ session: { bufferLimit: 1 << 20 }, maxBuffered: 4 << 20 });
      peer.record = false;
      let bytes = 0;
      peer.onEvent((e) => {
        if (e.type === 'data') bytes += e.bytes.length;
        if (e.type === 'message') {
          reply({ type: 'done', bytes: e.streamed ? bytes : e.bytes.length });
          bytes = 0;
        }
        if (e.type === 'error') reply({ type: 'error', message: `receiver: ${e.status} ${e.reason}` });
      });
      reply({ type: 'ready', uri: peer.uri, port: Number(/:(\d+)\//.exec(peer.uri)?.[1]) });
    })();
  });
}

/** The floor: WebSocket messages copied to a TCP connection and back, with the same back-pressure as a relay. */
function rawRole(): void {
  process.on('message', (m: ToChild) => {
    if (m.type !== 'copy') return;
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      maxPayload: 2 << 20,
      perMessageDeflate: false,
      handleProtocols: (p) => (p.has('msrp') ? 'msrp' : false),
    });
    wss.on('listening', () => {
      const address = wss.address();
      reply({ type: 'copying', port: typeof address === 'object' && address !== null ? address.port : 0 });
    });
    wss.on('connection', (ws: WebSocket) => {
      const socket: Socket = connect({ host: '127.0.0.1', port: m.receiverPort });
      socket.setNoDelay(true);
      ws.on('message', (data: RawData) => {
        socket.write(data as Buffer);
        if (socket.writableLength > 4 << 20) ws.pause();
      });
      socket.on('drain', () => ws.resume());
      socket.on('data', (chunk) => ws.send(chunk, { binary: true }));
      socket.on('close', () => ws.close());
      socket.on('error', () => undefined);
      ws.on('close', () => socket.destroy());
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// /proc

// ---------------------------------------------------------------------------------------------------------
// Children

const groups = new Set<number>();

interface Child {
  readonly name: string;
  readonly pid: number;
  readonly group: number;
  readonly proc: ChildProcess;
  tail(): string;
  waitLine(test: (line: string) => boolean, ms: number): Promise<string>;
  next(type: FromChild['type'], ms: number): Promise<FromChild>;
  send(message: ToChild): void;
  stop(): Promise<void>;
}

/** `timeout … node ARGS` in its own process group, with IPC; the node process is found under timeout(1). */
async function spawnNode(name: string, args: readonly string[]): Promise<Child> {
  const proc = spawn(
    'timeout',
    ['--kill-after=5', String(CHILD_MAX_SECONDS), process.execPath, ...NODE_FLAGS, ...args],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  if (proc.pid === undefined) throw new Error(`${name}: spawn failed`);
  const group = proc.pid;
  groups.add(group);
  const lines: string[] = [];
  const lineWaiters = new Set<{ test: (l: string) => boolean; resolve: (l: string) => void }>();
  let exited = false;
  proc.once('exit', () => {
    exited = true;
    groups.delete(group);
  });
  for (const stream of [proc.stdout, proc.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 200) lines.shift();
        for (const w of lineWaiters)
          if (w.test(line)) {
            lineWaiters.delete(w);
            w.resolve(line);
          }
      }
    });
  }
  const inbox: FromChild[] = [];
  const waiters: { type: FromChild['type']; resolve: (m: FromChild) => void }[] = [];
  proc.on('message', (m: FromChild) => {
    if (m.type === 'error') {
      lines.push(`IPC error: ${m.message}`);
      return;
    }
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
    else inbox.push(m);
  });
  let pid: number | undefined;
  for (let i = 0; i < 300 && pid === undefined && !exited; i++) {
    pid = allPids().find((p) => {
      const s = readStat(p);
      return s !== undefined && s.ppid === group && s.comm === 'node';
    });
    if (pid === undefined) await delay(10);
  }
  if (pid === undefined) throw new Error(`${name}: no node process appeared\n${lines.join('\n')}`);
  const tail = (): string => lines.slice(-30).join('\n');
  return {
    name,
    pid,
    group,
    proc,
    tail,
    waitLine(test, ms) {
      const seen = lines.find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { test, resolve };
        lineWaiters.add(w);
        setTimeout(() => {
          if (lineWaiters.delete(w))
            reject(new Error(`${name}: no expected line within ${ms} ms\n${tail()}`));
        }, ms).unref();
      });
    },
    next(type, ms) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!);
      return new Promise((resolve, reject) => {
        const w = { type, resolve };
        waiters.push(w);
        setTimeout(() => {
          const k = waiters.indexOf(w);
          if (k < 0) return;
          waiters.splice(k, 1);
          reject(new Error(`${name}: no ${type} within ${ms} ms\n${tail()}`));
        }, ms).unref();
      });
    },
    send(message) {
      proc.send(message);
    },
    async stop() {
      if (exited) return;
      killGroup(group, 'SIGTERM');
      for (let i = 0; i < 100 && !exited; i++) await delay(30);
      if (!exited) killGroup(group, 'SIGKILL');
    },
  };
}

async function bundle(): Promise<{ gateway: string; bench: string }> {
  const { build } = await import('esbuild');
  mkdirSync(WORK_DIR, { recursive: true });
  const gateway = path.join(WORK_DIR, 'gateway.mjs');
  const bench = path.join(WORK_DIR, 'bench.mjs');
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  } as const;
  await build({ ...common, entryPoints: [path.join(REPO_ROOT, 'gateway/main.ts')], outfile: gateway });
  await build({ ...common, entryPoints: [fileURLToPath(import.meta.url)], outfile: bench });
  return { gateway, bench };
}

// ---------------------------------------------------------------------------------------------------------
// Setups

interface Setup {
  readonly key: SetupKey;
  readonly wiring: string;
  /** the middle's processes (CPU and memory) */
  readonly pids: readonly number[];
  readonly sender: Child;
  readonly receiver: Child;
  /** the receiver's path as the sender addresses it */
  readonly toPath: string[];
  /** the middle's last lines (on failure) */
  tail(): string;
  stop(): Promise<void>;
}

async function endpoints(
  benchBundle: string,
): Promise<{ sender: Child; receiver: Child; receiverUri: string; port: number }> {
  const receiver = await spawnNode('receiver', [benchBundle, '--role', 'receiver']);
  receiver.send({ type: 'listen' });
  const ready = (await receiver.next('ready', 10_000)) as Extract<FromChild, { type: 'ready' }>;
  const sender = await spawnNode('sender', ['--max-old-space-size=512', benchBundle, '--role', 'sender']);
  return { sender, receiver, receiverUri: ready.uri, port: ready.port };
}

async function connectSender(
  sender: Child,
  url: string,
  relayUri: string | undefined,
  chunkSize: number,
): Promise<Extract<FromChild, { type: 'connected' }>> {
  sender.send({ type: 'connect', url, relayUri, chunkSize });
  return (await sender.next('connected', 20_000)) as Extract<FromChild, { type: 'connected' }>;
}

async function startOurs(gatewayBundle: string, benchBundle: string): Promise<Setup> {
  const { sender, receiver, receiverUri } = await endpoints(benchBundle);
  // Beside a "PBX" at 127.0.0.1 (never used: no SIP in this bench), one process, no users file: AUTH is granted
  // and the relay may connect to the upstream's host, where the receiver listens.
  const args = [
    gatewayBundle,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--sip-udp',
    '127.0.0.1:0',
    '--sip-tcp',
    'off',
    '--msrp-tcp',
    '127.0.0.1:0',
    '--public-host',
    '127.0.0.1',
    '--upstream',
    'sip:127.0.0.1:9;transport=udp',
    '--workers',
    '1',
    '--data-dir',
    path.join(WORK_DIR, 'no-data'),
    '--allow-missing-origin',
    '--origin',
    '*',
    '--log-level',
    'info',
    '--shutdown-grace',
    '0',
  ];
  const gateway = await spawnNode('gateway', args);
  const line = await gateway.waitLine((l) => l.includes('"gateway listening"'), 15_000);
  const port = (JSON.parse(line) as { http: number }).http;
  await connectSender(sender, `ws://127.0.0.1:${port}`, `msrp://127.0.0.1:${port};ws`, CHUNK_BIG);
  return {
    key: 'ours',
    wiring: `node ${args.map((a) => (a === gatewayBundle ? path.relative(REPO_ROOT, a) : a)).join(' ')}`,
    pids: groupPids(gateway.group, 'node'),
    sender,
    receiver,
    // The session puts its Use-Path in front itself (RFC 4976 §5.1).
    toPath: [receiverUri],
    tail: () => gateway.tail(),
    stop: async () => {
      await Promise.all([sender.stop(), receiver.stop(), gateway.stop()]);
    },
  };
}

async function startKamailioSetup(benchBundle: string): Promise<Setup> {
  const { sender, receiver, receiverUri } = await endpoints(benchBundle);
  const kamailio: Kamailio = await startKamailio({
    configFile: KAMAILIO_MSRP_CFG,
    logLevel: 1,
    children: 2,
    tcpChildren: 4,
    maxLifetimeSeconds: CHILD_MAX_SECONDS,
  });
  await connectSender(sender, kamailio.wsUrl, `msrp://127.0.0.1:${kamailio.wsPort};ws`, CHUNK_KAMAILIO);
  const pids = groupPids(kamailio.pid, 'kamailio');
  return {
    key: 'kamailio',
    wiring: `kamailio -f test/support/kamailio/kamailio-msrp.cfg (tcp_children=4, ${pids.length} processes); chunks of ${CHUNK_KAMAILIO} bytes`,
    pids,
    sender,
    receiver,
    toPath: [receiverUri],
    tail: () => kamailio.logTail(30),
    stop: async () => {
      await Promise.all([sender.stop(), receiver.stop(), kamailio.stop()]);
    },
  };
}

async function startRaw(benchBundle: string): Promise<Setup> {
  const { sender, receiver, receiverUri, port } = await endpoints(benchBundle);
  const copier = await spawnNode('raw copier', [benchBundle, '--role', 'raw']);
  copier.send({ type: 'copy', receiverPort: port });
  const copying = (await copier.next('copying', 10_000)) as Extract<FromChild, { type: 'copying' }>;
  await connectSender(sender, `ws://127.0.0.1:${copying.port}`, undefined, CHUNK_BIG);
  return {
    key: 'raw',
    wiring: `node ${path.relative(REPO_ROOT, benchBundle)} --role raw (ws server; one TCP connection per WebSocket, paused above 4 MiB)`,
    pids: [copier.pid],
    sender,
    receiver,
    toPath: [receiverUri],
    tail: () => copier.tail(),
    stop: async () => {
      await Promise.all([sender.stop(), receiver.stop(), copier.stop()]);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Measurements

interface Transfer {
  round: number;
  seconds: number;
  mbPerSec: number;
  /** the middle's CPU over the transfer, % of one core */
  cpuPct: number;
  /** the middle's CPU seconds per 100 MB */
  cpuSecondsPer100MB: number;
  rssPeakMb: number;
  pssPeakMb: number;
}

async function transfer(setup: Setup, round: number): Promise<Transfer> {
  const cpu0 = cpuTicks(setup.pids);
  let rssPeak = 0;
  let pssPeak = 0;
  const sample = (): void => {
    rssPeak = Math.max(
      rssPeak,
      sumKb(setup.pids, (p) => statusKb(p, 'VmRSS')),
    );
    pssPeak = Math.max(pssPeak, sumKb(setup.pids, pssKb));
  };
  const sampler = setInterval(sample, 100);
  const t0 = performance.now();
  const done = setup.receiver.next('done', TRANSFER_TIMEOUT_MS);
  const sent = setup.sender.next('sent', TRANSFER_TIMEOUT_MS);
  setup.sender.send({ type: 'send', toPath: setup.toPath, size: SIZE });
  // A refused transfer ends at once (the sender's failure report), not at the timeout.
  const failed = sent.then((o) => {
    const outcome = o as Extract<FromChild, { type: 'sent' }>;
    if (!outcome.ok) throw new Error(`${setup.key}: the sender's message failed: ${outcome.detail}`);
    return new Promise<never>(() => undefined);
  });
  const result = (await Promise.race([done, failed])) as Extract<FromChild, { type: 'done' }>;
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  sample();
  const outcome = (await sent) as Extract<FromChild, { type: 'sent' }>;
  if (!outcome.ok || result.bytes !== SIZE)
    throw new Error(`${setup.key}: transfer failed (${outcome.detail}; ${result.bytes} of ${SIZE} bytes)`);
  const cpuSeconds = (cpuTicks(setup.pids) - cpu0) / CLK_TCK;
  return {
    round,
    seconds,
    mbPerSec: MB / seconds,
    cpuPct: (cpuSeconds / seconds) * 100,
    cpuSecondsPer100MB: (cpuSeconds * 100) / MB,
    rssPeakMb: rssPeak / 1024,
    pssPeakMb: pssPeak / 1024,
  };
}

interface SetupReport {
  label: string;
  wiring: string;
  processes: number;
  rounds: Transfer[];
  median: { mbPerSec: number; seconds: number; cpuPct: number; cpuSecondsPer100MB: number };
  rssPeakMb: number;
  pssPeakMb: number;
  vmHwmMb: number | null;
}

async function main(): Promise<void> {
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (({ a: 'ours', b: 'kamailio', c: 'raw' }) as Record<string, SetupKey>)[s] ?? (s as SetupKey));
  const keys = SETUP_KEYS.filter((k) => only.length === 0 || only.includes(k));
  if (keys.includes('kamailio')) requireTool('kamailio');
  const started = Date.now();
  process.stdout.write(`Bundling gateway/main.ts and the bench children with esbuild …\n`);
  const bundles = await bundle();
  const setups = new Map<SetupKey, Setup>();
  const cleanup = async (): Promise<void> => {
    await Promise.all([...setups.values()].map((s) => s.stop().catch(() => undefined)));
    for (const g of groups) killGroup(g, 'SIGKILL');
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const bound = setTimeout(() => {
    process.stderr.write('bench:msrp: over its time bound; stopping\n');
    void cleanup().then(() => process.exit(1));
  }, 20 * 60_000);
  bound.unref();
  try {
    for (const key of keys) {
      process.stdout.write(`starting ${SETUP_LABEL[key]} …\n`);
      const setup =
        key === 'ours'
          ? await startOurs(bundles.gateway, bundles.bench)
          : key === 'kamailio'
            ? await startKamailioSetup(bundles.bench)
            : await startRaw(bundles.bench);
      setups.set(key, setup);
    }
    for (const setup of setups.values()) {
      const warm = await transfer(setup, 0);
      process.stdout.write(`  warm-up ${SETUP_LABEL[setup.key]}: ${warm.mbPerSec.toFixed(1)} MB/s\n`);
    }
    const transfers = new Map<SetupKey, Transfer[]>(keys.map((k) => [k, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      const order = keys.map((_, i) => keys[(i + round - 1) % keys.length]!);
      for (const key of order) {
        const t = await transfer(setups.get(key)!, round);
        transfers.get(key)!.push(t);
        process.stdout.write(
          `  round ${round} ${SETUP_LABEL[key]}: ${t.mbPerSec.toFixed(1)} MB/s, CPU ${t.cpuPct.toFixed(0)}%, ` +
            `RSS ${t.rssPeakMb.toFixed(0)} MB\n`,
        );
      }
    }
    const report: Partial<Record<SetupKey, SetupReport>> = Object.fromEntries(
      keys.map((key) => {
        const setup = setups.get(key)!;
        const rounds = transfers.get(key)!;
        const hwm = setup.pids.length === 1 ? statusKb(setup.pids[0]!, 'VmHWM') / 1024 : null;
        const entry: SetupReport = {
          label: SETUP_LABEL[key],
          wiring: setup.wiring,
          processes: setup.pids.length,
          rounds,
          median: {
            mbPerSec: median(rounds.map((r) => r.mbPerSec)),
            seconds: median(rounds.map((r) => r.seconds)),
            cpuPct: median(rounds.map((r) => r.cpuPct)),
            cpuSecondsPer100MB: median(rounds.map((r) => r.cpuSecondsPer100MB)),
          },
          rssPeakMb: Math.max(...rounds.map((r) => r.rssPeakMb)),
          pssPeakMb: Math.max(...rounds.map((r) => r.pssPeakMb)),
          vmHwmMb: hwm,
        };
        return [key, entry];
      }),
    );
    const ratio = (a: SetupKey, b: SetupKey): number | null => {
      const x = report[a];
      const y = report[b];
      return x !== undefined && y !== undefined ? x.median.mbPerSec / y.median.mbPerSec : null;
    };
    const ratios = { oursVsRaw: ratio('ours', 'raw'), oursVsKamailio: ratio('ours', 'kamailio') };
    const rows = keys.map((k) => {
      const r = report[k]!;
      return `| ${r.label} | ${r.median.mbPerSec.toFixed(1)} | ${r.median.cpuPct.toFixed(0)} % | ${r.median.cpuSecondsPer100MB.toFixed(2)} | ${r.rssPeakMb.toFixed(0)} (${r.pssPeakMb.toFixed(0)} PSS) |`;
    });
    const verdict = (v: number | null, target: number): string =>
      v === null ? 'n/a' : `${v.toFixed(2)}× (target ≥ ${target}×: ${v >= target ? 'met' : 'NOT met'})`;
    process.stdout.write(
      [
        '',
        `${MB} MB WebSocket → TCP, median of ${ROUNDS} interleaved rounds:`,
        '| setup | MB/s | middle CPU | CPU s / 100 MB | peak RSS MB |',
        '| --- | --- | --- | --- | --- |',
        ...rows,
        '',
        `ours ÷ raw floor: ${verdict(ratios.oursVsRaw, TARGETS.oursVsRaw)}`,
        `ours ÷ Kamailio:  ${verdict(ratios.oursVsKamailio, TARGETS.oursVsKamailio)}`,
        '',
      ].join('\n'),
    );
    const results = {
      benchmark: 'bench:msrp',
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model,
        node: process.version,
        platform: os.platform(),
      },
      messageMB: MB,
      rounds: ROUNDS,
      chunkBytes: { ours: CHUNK_BIG, raw: CHUNK_BIG, kamailio: CHUNK_KAMAILIO },
      senderWindowBytes: WINDOW,
      setups: report,
      ratios,
      targets: TARGETS,
      met: {
        oursVsRaw: ratios.oursVsRaw === null ? null : ratios.oursVsRaw >= TARGETS.oursVsRaw,
        oursVsKamailio:
          ratios.oursVsKamailio === null ? null : ratios.oursVsKamailio >= TARGETS.oursVsKamailio,
      },
      durationSeconds: Math.round((Date.now() - started) / 1000),
    };
    if (only.length === 0) {
      mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
      writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
      process.stdout.write(`wrote ${path.relative(REPO_ROOT, RESULTS_FILE)}\n`);
    } else {
      process.stdout.write('BENCH_ONLY set: the JSON is not written\n');
    }
  } catch (error) {
    for (const s of setups.values())
      process.stderr.write(
        `--- ${s.key} sender:\n${s.sender.tail()}\n--- receiver:\n${s.receiver.tail()}\n--- middle:\n${s.tail()}\n`,
      );
    throw error;
  } finally {
    clearTimeout(bound);
    await cleanup();
  }
}

const roleIndex = process.argv.indexOf('--role');
const role = roleIndex === -1 ? undefined : process.argv[roleIndex + 1];
// A child ends normally on SIGTERM, so that profiles asked for with BENCH_NODE_FLAGS are written.
if (role !== undefined) process.on('SIGTERM', () => process.exit(0));
if (role === 'sender') senderRole();
else if (role === 'receiver') receiverRole();
else if (role === 'raw') rawRole();
else
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `bench:msrp failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
