// SIPp (Debian `sip-tester`) as a child process: a bounded one-shot run (runSipp) and a background
// UAS (startSippUas). Both bind 127.0.0.1 only, never read stdin, never send BYE for aborted
// "calls" (MESSAGE/OPTIONS transactions), and parse SIPp's final statistics screen.
//
// SIPp exit codes: 0 every call succeeded, 1 at least one failed, 97 stopped by an internal command,
// 99 stopped before any call was processed, 255 fatal error, 254 fatal error binding a socket.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { LOOPBACK, freePort, freeUdpTcpPort, isPortFree } from './ports.ts';
import { requireTool } from './require-tool.ts';

/** test/support/sipp/: options-uac.xml, options-user-uac.xml, message-uac.xml, message-uac-inf.xml, message-uas.xml. */
export const SIPP_SCENARIOS = join(dirname(fileURLToPath(import.meta.url)), 'sipp');
export const sippScenario = (name: string): string => join(SIPP_SCENARIOS, name);

export type SippTransport = 'u1' | 't1' | 'un' | 'tn';

export interface SippScenarioOptions {
  /** Scenario XML text (written to a temp file) … */
  scenarioXml?: string;
  /** … or a scenario file (e.g. sippScenario('message-uac.xml')). Exactly one of the two. */
  scenarioFile?: string;
  /** SIPp transport mode (`-t`): u1 (default) one UDP socket, t1 one TCP connection. */
  transport?: SippTransport;
  /** Local SIP port (`-p`); default: a free one. */
  localPort?: number;
  /** More SIPp arguments, e.g. ['-buff_size', '4194304', '-trace_stat']. */
  extraArgs?: string[];
  /** Injection file content (`-inf`), first line SEQUENTIAL or RANDOM, then `field0;field1;…` lines. */
  injectionCsv?: string;
  /** `-s` service: the [service] keyword (the R-URI user in message-uac.xml). */
  service?: string;
}

export interface SippRunOptions extends SippScenarioOptions {
  /** Where to send, `host:port` (host should be 127.0.0.1). */
  remote: string;
  /** Number of calls (`-m`), default 1. */
  calls?: number;
  /** Calls per second (`-r`), default SIPp's 10. */
  rate?: number;
  /** Concurrent calls limit (`-l`). */
  limit?: number;
  /** SIPp's global timeout (`-timeout`): it stops by itself after this many seconds. */
  timeoutSeconds: number;
  /**
   * SIPp's `-timeout` does not cut calls still retransmitting (a MESSAGE to a dead port lasts ~32 s), so
   * Node ends it after this long: SIGTERM (SIPp still prints its statistics), SIGKILL 3 s later.
   * Default: timeoutSeconds + 5 s.
   */
  killAfterMs?: number;
}

export interface SippResult {
  /** SIPp's exit code; null when it was killed by a signal or Node had to end it (see `forcedBy`). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /**
   * The signal Node sent because SIPp outlived its bound (it then exits 0 with calls unfinished, so
   * `code` is reported as null); null when SIPp ended by itself or by a UAS's soft stop (SIGUSR1).
   */
  forcedBy: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Cumulative "Successful call" / "Failed call" from the final statistics; null when absent. */
  successful: number | null;
  failed: number | null;
  /** The command line, for failure messages. */
  command: string;
  /** The temp dir SIPp ran in (scenario copy, injection file, any trace files); kept when code !== 0. */
  workDir: string;
  durationMs: number;
}

// ---- child-process bookkeeping: kill every live SIPp if Node exits.

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const live of liveChildren) live.kill('SIGKILL');
  });
}

// ---- output

const OUTPUT_CAP = 1 << 20;

/** Keeps the last OUTPUT_CAP characters of a stream (the final statistics are at the end). */
function collect(stream: NodeJS.ReadableStream | null): { text: () => string } {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > 2 * OUTPUT_CAP) text = text.slice(-OUTPUT_CAP);
  });
  return { text: () => (text.length > OUTPUT_CAP ? text.slice(-OUTPUT_CAP) : text) };
}

/** The cumulative value of a counter row of SIPp's statistics screen (the last screen printed). */
export function sippCounter(stdout: string, counter: string): number | null {
  const row = new RegExp(`^\\s*${counter}\\s*\\|\\s*(\\d*)\\s*\\|\\s*(\\d+)`, 'gm');
  let value: number | null = null;
  for (const match of stdout.matchAll(row)) value = Number(match[2]);
  return value;
}

// ---- arguments

async function prepare(
  options: SippScenarioOptions,
  workDir: string,
): Promise<{ args: string[]; localPort: number; transport: SippTransport }> {
  if ((options.scenarioXml === undefined) === (options.scenarioFile === undefined)) {
    throw new TypeError('SIPp: give exactly one of scenarioXml and scenarioFile');
  }
  let scenario = options.scenarioFile ?? '';
  if (options.scenarioXml !== undefined) {
    scenario = join(workDir, 'scenario.xml');
    writeFileSync(scenario, options.scenarioXml);
  }
  const transport = options.transport ?? 'u1';
  const localPort = options.localPort ?? (await freeUdpTcpPort());
  // prettier-ignore
  const args = [
    '-sf', scenario,
    '-nostdin',
    '-i', LOOPBACK,
    '-p', String(localPort),
    '-t', transport,
    // SIPp's UDP control socket defaults to port 8888 and media sockets to 6000/6002: choose free ones.
    '-ci', LOOPBACK,
    '-cp', String(await freePort('udp')),
    '-mi', LOOPBACK,
    '-mp', String(await freePort('udp')),
    // Never send BYE for an aborted MESSAGE/OPTIONS "call".
    '-default_behaviors', 'all,-bye',
  ];
  if (options.service !== undefined) args.push('-s', options.service);
  if (options.injectionCsv !== undefined) {
    const file = join(workDir, 'injection.csv');
    writeFileSync(
      file,
      options.injectionCsv.endsWith('\n') ? options.injectionCsv : `${options.injectionCsv}\n`,
    );
    args.push('-inf', file);
  }
  return { args, localPort, transport };
}

function spawnSipp(sipp: string, args: string[], workDir: string): ChildProcess {
  const child = spawn(sipp, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  return child;
}

function waitExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

type Exit = { code: number | null; signal: NodeJS.Signals | null; forcedBy: NodeJS.Signals | null };

/** Waits for `child` to exit, sending each signal of `escalation` at its time (ms from now) if still alive. */
async function endWithin(
  child: ChildProcess,
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  escalation: Array<[afterMs: number, signal: NodeJS.Signals]>,
): Promise<Exit> {
  let forcedBy: NodeJS.Signals | null = null;
  const timers = escalation.map(([afterMs, signal]) =>
    setTimeout(() => {
      forcedBy = signal;
      child.kill(signal);
    }, afterMs),
  );
  const status = await exit;
  for (const timer of timers) clearTimeout(timer);
  return forcedBy === null
    ? { ...status, forcedBy }
    : { code: null, signal: status.signal ?? forcedBy, forcedBy };
}

function result(
  exit: Exit,
  stdout: string,
  stderr: string,
  command: string,
  workDir: string,
  startedAt: number,
): SippResult {
  if (exit.code === 0) rmSync(workDir, { recursive: true, force: true });
  return {
    ...exit,
    stdout,
    stderr,
    successful: sippCounter(stdout, 'Successful call'),
    failed: sippCounter(stdout, 'Failed call'),
    command,
    workDir,
    durationMs: Date.now() - startedAt,
  };
}

/** A one-line summary of a SIPp result for assertion messages. */
export function describeSipp(run: SippResult): string {
  const lastErrors = run.stderr.trim().split('\n').slice(-10).join('\n');
  return (
    `SIPp exited ${run.code ?? run.signal}${run.forcedBy ? ' (ended by Node after its bound)' : ''} (successful ${run.successful}, failed ${run.failed}) ` +
    `in ${run.durationMs} ms: ${run.command}\n${lastErrors}`
  );
}

// ---- one-shot run

/**
 * Runs SIPp once, bounded by its own `-timeout` (with `-timeout_error`: reaching it is a failure) and
 * by signals from Node (see killAfterMs), and resolves with its exit code and final statistics (never
 * rejects because calls failed: check `code === 0`). Retries once with fresh ports when SIPp cannot
 * bind (exit 254) and no localPort was forced.
 */
export async function runSipp(options: SippRunOptions): Promise<SippResult> {
  const sipp = requireTool('sipp');
  for (let attempt = 1; ; attempt++) {
    const workDir = mkdtempSync(join(tmpdir(), 'sipp-'));
    const { args } = await prepare(options, workDir);
    args.push('-m', String(options.calls ?? 1), '-timeout', `${options.timeoutSeconds}s`, '-timeout_error');
    if (options.rate !== undefined) args.push('-r', String(options.rate));
    if (options.limit !== undefined) args.push('-l', String(options.limit));
    args.push(...(options.extraArgs ?? []), options.remote);

    const startedAt = Date.now();
    const child = spawnSipp(sipp, args, workDir);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const killAfterMs = options.killAfterMs ?? options.timeoutSeconds * 1000 + 5000;
    const exit = await endWithin(child, waitExit(child), [
      [killAfterMs, 'SIGTERM'],
      [killAfterMs + 3000, 'SIGKILL'],
    ]);
    const run = result(exit, stdout.text(), stderr.text(), `sipp ${args.join(' ')}`, workDir, startedAt);
    if (run.code === 254 && options.localPort === undefined && attempt < 2) continue;
    return run;
  }
}

// ---- background UAS

export interface SippUasOptions extends SippScenarioOptions {
  /** Hard bound: SIPp's `-timeout`, so it ends even if Node dies without stopping it. Default 600 s. */
  maxLifetimeSeconds?: number;
  /** How long to wait for SIPp to bind its port. Default 5,000 ms. */
  readyTimeoutMs?: number;
}

export interface SippUas {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly transport: SippTransport;
  readonly pid: number;
  readonly exited: boolean;
  /** stdout and stderr so far (stdout is mostly empty until SIPp exits). */
  output(): { stdout: string; stderr: string };
  /**
   * Soft exit (SIGUSR1: no new calls, ongoing ones finish); SIGTERM after `graceMs` (default 5,000),
   * SIGKILL 3 s later; resolves with the final statistics.
   */
  stop(graceMs?: number): Promise<SippResult>;
}

async function bound(port: number, transport: SippTransport): Promise<boolean> {
  if (transport.startsWith('u')) return !(await isPortFree('udp', port));
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Starts SIPp as a UAS in the background (default scenario: message-uas.xml, 200 to every MESSAGE)
 * and resolves once it has bound its port.
 */
export async function startSippUas(options: SippUasOptions = {}): Promise<SippUas> {
  const sipp = requireTool('sipp');
  const workDir = mkdtempSync(join(tmpdir(), 'sipp-uas-'));
  const scenario =
    options.scenarioXml === undefined && options.scenarioFile === undefined
      ? { ...options, scenarioFile: sippScenario('message-uas.xml') }
      : options;
  const { args, localPort, transport } = await prepare(scenario, workDir);
  args.push('-timeout', `${options.maxLifetimeSeconds ?? 600}s`, ...(options.extraArgs ?? []));
  const command = `sipp ${args.join(' ')}`;

  const startedAt = Date.now();
  const child = spawnSipp(sipp, args, workDir);
  if (child.pid === undefined) throw new Error(`SIPp UAS: spawn failed: ${command}`);
  const pid = child.pid;
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const exit = waitExit(child);
  let exited = false;
  void exit.then(() => (exited = true));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 5000);
  while (!exited && !(await bound(localPort, transport))) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      throw new Error(
        `SIPp UAS did not bind ${transport} ${localPort} in time: ${command}\n${stderr.text()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (exited) {
    const run = result(
      { ...(await exit), forcedBy: null },
      stdout.text(),
      stderr.text(),
      command,
      workDir,
      startedAt,
    );
    throw new Error(`SIPp UAS exited at start: ${describeSipp(run)}`);
  }

  return {
    host: LOOPBACK,
    port: localPort,
    transport,
    pid,
    get exited() {
      return exited;
    },
    output: () => ({ stdout: stdout.text(), stderr: stderr.text() }),
    async stop(graceMs = 5000) {
      if (!exited) child.kill('SIGUSR1');
      const status = await endWithin(child, exit, [
        [graceMs, 'SIGTERM'],
        [graceMs + 3000, 'SIGKILL'],
      ]);
      return result(status, stdout.text(), stderr.text(), command, workDir, startedAt);
    },
  };
}
