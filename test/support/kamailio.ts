// Starts Kamailio 5.6 as a child process on ephemeral loopback ports, for interop tests and benchmarks.
//
//   const kamailio = await startKamailio();
//   … SIP to 127.0.0.1:kamailio.udpPort (UDP) / kamailio.tcpPort (TCP), WebSocket to kamailio.wsUrl …
//   console.log(kamailio.logTail(50));   // when something failed
//   await kamailio.stop();
//
// The script (test/support/kamailio/kamailio.cfg) is a registrar + proxy for any domain without
// authentication; see its header. Each instance runs in a fresh temp dir that keeps the config it ran,
// its log (stderr, -E) and its control socket (kamcmd). The child runs under timeout(1), so it is ended
// even when this Node process dies without running its exit handlers.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { LOOPBACK, freePort, freeUdpTcpPort } from './ports.ts';
import { INSTALL_HINTS, requireFile, requireTool } from './require-tool.ts';
import { SipUdpSocket, sipRequest, sipToken } from './sip-udp.ts';

export const KAMAILIO_CONFIG = join(dirname(fileURLToPath(import.meta.url)), 'kamailio', 'kamailio.cfg');

export interface KamailioOptions {
  /** Shared memory in MB (`-m`). Default 1024: 64 MB runs out near 2,000 MESSAGE/s. */
  shmMb?: number;
  /** Private memory per process in MB (`-M`). Default 16. */
  pkgMb?: number;
  /** Kamailio `debug` level (LOG_LEVEL define): 1 warnings, 2 info (default), 3 debug. */
  logLevel?: number;
  /** UDP workers (`children`), default 2, and TCP/WS workers (`tcp_children`), default 2. */
  children?: number;
  tcpChildren?: number;
  /** More pre-processor defines, each passed as `-A define` (e.g. `WITH_EXTRA_REQUEST`, `N=1`). */
  defines?: string[];
  /** loadmodule/modparam lines, written to extra-globals.cfg (read after the built-in modules). */
  extraGlobals?: string;
  /** route blocks, written to extra-routes.cfg (read at the end of the script). */
  extraRoutes?: string;
  /** Another script to run instead of test/support/kamailio/kamailio.cfg (same defines are passed). */
  configFile?: string;
  /** How long to wait for the first answer to OPTIONS. Default 10,000 ms. */
  readyTimeoutMs?: number;
  /** Hard bound on the child's life (timeout(1)), default 1,800 s. */
  maxLifetimeSeconds?: number;
}

export interface Kamailio {
  readonly host: '127.0.0.1';
  /** SIP over UDP and over TCP share one port number. */
  readonly udpPort: number;
  readonly tcpPort: number;
  /** SIP (and MSRP) over WebSocket, sub-protocols `sip` and `msrp`. */
  readonly wsPort: number;
  readonly wsUrl: string;
  readonly runDir: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly pid: number;
  /** True once the child has exited (stopped or crashed). */
  readonly exited: boolean;
  /** The last `lines` lines of the log (default 80). */
  logTail(lines?: number): string;
  /** Runs `kamcmd -s unix:RUNDIR/kamailio_ctl …args` (bounded: 5 s) and resolves with its stdout. */
  kamcmd(...args: string[]): Promise<string>;
  /** `kamcmd ul.dump`: the registrations. */
  dumpLocations(): Promise<string>;
  /** SIGTERM, then SIGKILL to the whole process group after `graceMs` (default 5,000); waits for exit. */
  stop(graceMs?: number): Promise<void>;
}

// ---- child-process bookkeeping: kill every live peer group if Node exits.

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const group of liveGroups) killGroup(group, 'SIGKILL');
  });
}

// ---- logs

/** The last `lines` lines of a text file (reads at most its last 1 MiB); '' when it does not exist. */
export function fileTail(path: string, lines = 80): string {
  if (!existsSync(path)) return '';
  const size = statSync(path).size;
  const length = Math.min(size, 1 << 20);
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  const text = buffer.toString('utf8').replace(/\n$/, '');
  return text.split('\n').slice(-lines).join('\n');
}

/** The directory that holds Kamailio's modules (/usr/lib/<multiarch>/kamailio/modules), or null. */
export function kamailioModuleDir(): string | null {
  const candidates = [
    '/usr/lib/kamailio/modules',
    '/usr/local/lib64/kamailio/modules',
    '/usr/local/lib/kamailio/modules',
  ];
  try {
    for (const entry of readdirSync('/usr/lib'))
      candidates.unshift(join('/usr/lib', entry, 'kamailio', 'modules'));
  } catch {
    // No /usr/lib: fall through.
  }
  return candidates.find((dir) => existsSync(join(dir, 'tm.so'))) ?? null;
}

function requireKamailio(): { kamailio: string; kamcmd: string } {
  const kamailio = requireTool('kamailio');
  const kamcmd = requireTool('kamcmd');
  const modules = kamailioModuleDir();
  const hint = INSTALL_HINTS.kamailio;
  if (modules === null) requireFile('/usr/lib/<arch>/kamailio/modules/tm.so', hint);
  else for (const module of ['xhttp.so', 'msrp.so', 'websocket.so']) requireFile(join(modules, module), hint);
  return { kamailio, kamcmd };
}

// ---- readiness

async function answersOptions(port: number, timeoutMs: number): Promise<boolean> {
  const socket = await SipUdpSocket.open();
  try {
    const uri = `sip:${LOOPBACK}:${port}`;
    const options = sipRequest({
      method: 'OPTIONS',
      uri,
      local: { port: socket.port },
      callId: `ready-${sipToken()}`,
    });
    const answer = await socket.request(options, port, LOOPBACK, timeoutMs);
    return answer.status === 200;
  } catch {
    return false;
  } finally {
    await socket.close();
  }
}

function acceptsTcp(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- start

class KamailioProcess implements Kamailio {
  readonly host = LOOPBACK;
  readonly wsUrl: string;
  readonly pid: number;
  private readonly exit: Promise<void>;
  private hasExited = false;

  constructor(
    private readonly child: ChildProcess,
    private readonly kamcmdPath: string,
    readonly udpPort: number,
    readonly tcpPort: number,
    readonly wsPort: number,
    readonly runDir: string,
    readonly configFile: string,
    readonly logFile: string,
  ) {
    if (child.pid === undefined) throw new Error('kamailio: spawn gave no pid');
    this.pid = child.pid;
    this.wsUrl = `ws://${LOOPBACK}:${wsPort}`;
    trackGroup(this.pid);
    this.exit = new Promise((resolve) => {
      child.once('exit', () => {
        this.hasExited = true;
        liveGroups.delete(this.pid);
        // timeout(1) has gone; make sure no worker of its group is left behind.
        killGroup(this.pid, 'SIGKILL');
        resolve();
      });
    });
  }

  get exited(): boolean {
    return this.hasExited;
  }

  logTail(lines = 80): string {
    return fileTail(this.logFile, lines);
  }

  kamcmd(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        this.kamcmdPath,
        ['-s', `unix:${join(this.runDir, 'kamailio_ctl')}`, ...args],
        { timeout: 5000, killSignal: 'SIGKILL' },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`kamcmd ${args.join(' ')} failed: ${error.message}\n${stderr}`));
          else resolve(stdout);
        },
      );
    });
  }

  dumpLocations(): Promise<string> {
    return this.kamcmd('ul.dump');
  }

  async stop(graceMs = 5000): Promise<void> {
    if (this.hasExited) return;
    // timeout(1) passes SIGTERM on to kamailio, whose main process stops its workers.
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        killGroup(this.pid, 'SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exit, killed]);
    clearTimeout(timer);
    await this.exit;
  }

  /** Resolves when the child exits. */
  waitExit(): Promise<void> {
    return this.exit;
  }
}

function spawnKamailio(
  tools: { kamailio: string; kamcmd: string },
  options: KamailioOptions,
  ports: { sip: number; ws: number },
): KamailioProcess {
  const runDir = mkdtempSync(join(tmpdir(), 'kamailio-'));
  const configFile = join(runDir, 'kamailio.cfg');
  copyFileSync(options.configFile ?? KAMAILIO_CONFIG, configFile);
  writeFileSync(join(runDir, 'extra-globals.cfg'), `${options.extraGlobals ?? ''}\n`);
  writeFileSync(join(runDir, 'extra-routes.cfg'), `${options.extraRoutes ?? ''}\n`);
  const logFile = join(runDir, 'kamailio.log');
  const defines = [
    `SIP_PORT=${ports.sip}`,
    `WS_PORT=${ports.ws}`,
    `LOG_LEVEL=${options.logLevel ?? 2}`,
    `CHILDREN=${options.children ?? 2}`,
    `TCP_CHILDREN=${options.tcpChildren ?? 2}`,
    ...(options.defines ?? []),
  ];
  // prettier-ignore
  const args = [
    '--kill-after=5',
    String(options.maxLifetimeSeconds ?? 1800),
    tools.kamailio,
    '-f', configFile,
    '-DD', '-E',
    '-Y', runDir,
    '-w', runDir,
    '-m', String(options.shmMb ?? 1024),
    '-M', String(options.pkgMb ?? 16),
    ...defines.flatMap((define) => ['-A', define]),
  ];
  const log = openSync(logFile, 'a');
  try {
    writeFileSync(log, `# timeout ${args.join(' ')}\n`);
    // detached: the child leads its own process group, so the whole group can be killed at once.
    const child = spawn('timeout', args, { cwd: runDir, detached: true, stdio: ['ignore', log, log] });
    child.unref();
    return new KamailioProcess(
      child,
      tools.kamcmd,
      ports.sip,
      ports.sip,
      ports.ws,
      runDir,
      configFile,
      logFile,
    );
  } finally {
    closeSync(log);
  }
}

/**
 * Starts Kamailio and resolves once it answers OPTIONS over UDP and accepts TCP on its WebSocket port.
 * Throws (with the log tail) when the tools are missing, the child exits, or it is not ready in time.
 */
export async function startKamailio(options: KamailioOptions = {}): Promise<Kamailio> {
  const tools = requireKamailio();
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  let lastError: Error | undefined;
  // Another process may grab a port between our probe and Kamailio's bind: try again with new ports.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const sip = await freeUdpTcpPort();
    let ws = await freePort('tcp');
    while (ws === sip) ws = await freePort('tcp');
    const kamailio = spawnKamailio(tools, options, { sip, ws });
    const deadline = Date.now() + readyTimeoutMs;
    let ready = false;
    while (!ready && !kamailio.exited && Date.now() < deadline) {
      ready = (await answersOptions(sip, 300)) && (await acceptsTcp(ws, 500)) && (await acceptsTcp(sip, 500));
      if (!ready) await delay(100);
    }
    if (ready && !kamailio.exited) return kamailio;

    const crashed = kamailio.exited;
    await kamailio.stop(1000);
    const tail = kamailio.logTail(40);
    lastError = new Error(
      `kamailio ${crashed ? 'exited' : 'did not answer OPTIONS'} ` +
        `(udp/tcp ${sip}, ws ${ws}, within ${readyTimeoutMs} ms); log ${kamailio.logFile}:\n${tail}`,
    );
    if (!/address already in use|bind.*failed|cannot bind/i.test(tail)) break;
  }
  throw lastError ?? new Error('kamailio: failed to start');
}
