// baresip (Debian `baresip-core`) as a child process for interop tests: a fresh copy of its config directory per
// test, registered over UDP to a registrar, driven and watched through the `cons` module (a TCP console that
// takes `/command args` lines and prints every UI event, incoming messages included).
//
//   const bs = await startBaresip({ user: 'bare', password: 'b', registrar: { port: gw.gateway.udpPort },
//     contacts: ['sip:ours@localhost'] });
//   await bs.registered();
//   bs.sendMessage('hello');                                   // /message → the first contact
//   await bs.waitForMessage((m) => m.text === 'hi baresip');   // `sip:ours@localhost: "hi baresip"`
//   await bs.stop();                                           // SIGTERM (SIGKILL after 3 s), config dir removed
//
// baresip 1.0.0 (libre) cannot answer a SHA-256 digest challenge: it gives up with "Function not implemented"
// instead of taking the MD5 challenge offered beside it (RFC 8760 §2.3), whatever their order. Against a
// registrar that offers only MD5 (the gateway's `--digest-algorithms MD5`) pass `direct: true`; otherwise it talks to the
// registrar through a DigestRelay (digest-relay.ts) that drops the SHA-256 challenges, and the registrar sees
// the relay's address as baresip's (as behind a NAT).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket as TcpSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DigestRelay } from './digest-relay.ts';
import { LOOPBACK, freePort, freeUdpTcpPort } from './ports.ts';
import { requireTool } from './require-tool.ts';

export interface BaresipOptions {
  /** the account's user and digest password; the AOR is sip:<user>@<domain> */
  readonly user: string;
  readonly password: string;
  /** default localhost */
  readonly domain?: string;
  /** where REGISTER (and everything else) goes: a UDP SIP port on 127.0.0.1 */
  readonly registrar: { readonly port: number };
  /** address book, in order: `/message` goes to the first */
  readonly contacts?: readonly string[];
  /** register at start-up (default true); false: regint=0 */
  readonly register?: boolean;
  /** told every line baresip prints (stdout, stderr and the console) */
  readonly log?: (line: string) => void;
  /** register straight to the registrar (it offers MD5 first) instead of through a DigestRelay */
  readonly direct?: boolean;
}

/** A message baresip showed on its console: `<from>: "<text>"`. */
export interface BaresipMessage {
  readonly from: string;
  readonly text: string;
}

export interface Baresip {
  readonly pid: number;
  readonly sipPort: number;
  readonly aor: string;
  /** everything printed so far (stdout + stderr) */
  readonly output: string;
  /** everything the console printed so far */
  readonly console: string;
  /** messages shown on the console, in order */
  readonly messages: readonly BaresipMessage[];
  /** Resolves once the registrar answered 200 to its REGISTER; rejects on a refusal or after `timeoutMs`. */
  registered(timeoutMs?: number): Promise<void>;
  /** Sends one console command, e.g. `/contact_next` (the leading slash is added when missing). */
  command(line: string): void;
  /** `/message <text>`: a pager MESSAGE (text/plain) to the current contact. */
  sendMessage(text: string): void;
  waitForMessage(
    predicate: (message: BaresipMessage) => boolean,
    timeoutMs?: number,
  ): Promise<BaresipMessage>;
  /** Resolves once `pattern` appears in the output or on the console. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, SIGKILL after 3 s; closes the relay (if any) and the console; removes the config dir. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUT = 10_000;
const live = new Set<ChildProcess>();
let exitHook = false;

/** Starts baresip with a fresh config dir; resolves once its console accepts commands. */
export async function startBaresip(options: BaresipOptions): Promise<Baresip> {
  const binary = requireTool('baresip');
  const domain = options.domain ?? 'localhost';
  const aor = `sip:${options.user}@${domain}`;
  const relay = options.direct === true ? undefined : await DigestRelay.open(options.registrar.port);
  const outboundPort = relay?.port ?? options.registrar.port;
  const sipPort = await freeUdpTcpPort();
  const consPort = await freePort('tcp');
  const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
  // Only what a headless messaging client needs: no audio device, no video, no HTTP or TCP control.
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      `sip_listen ${LOOPBACK}:${String(sipPort)}`,
      `net_interface ${LOOPBACK}`,
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module cons.so',
      'module_tmp uuid.so',
      'module_tmp account.so',
      'module_app contact.so',
      'module_app menu.so',
      `cons_listen ${LOOPBACK}:${String(consPort)}`,
      '',
    ].join('\n'),
  );
  const regint = options.register === false ? 0 : 300;
  writeFileSync(
    join(dir, 'accounts'),
    `<${aor}>;auth_pass=${options.password};outbound="sip:${LOOPBACK}:${String(outboundPort)}";regint=${String(regint)}\n`,
  );
  writeFileSync(join(dir, 'contacts'), (options.contacts ?? []).map((c) => `<${c}>\n`).join(''));

  const child = spawn(binary, ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  let output = '';
  let consoleText = '';
  const messages: BaresipMessage[] = [];
  const waiters = new Set<() => boolean>();
  const wake = (): void => {
    for (const w of [...waiters]) if (w()) waiters.delete(w);
  };
  const onOutput = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output += text;
    for (const line of text.split('\n')) if (line.trim() !== '') options.log?.(`baresip: ${line}`);
    wake();
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);

  const waitFor = <T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> => {
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const waiter = (): boolean => {
        const value = check();
        if (value === undefined && child.exitCode === null) return false;
        clearTimeout(timer);
        if (value === undefined)
          reject(
            new Error(
              `baresip exited (${String(child.exitCode)}) waiting for ${what}:\n${output.slice(-2000)}`,
            ),
          );
        else resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new Error(
            `baresip: no ${what} within ${String(timeoutMs)} ms; output:\n${output.slice(-2000)}\nconsole:\n${consoleText.slice(-1000)}`,
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  child.once('exit', wake);

  // The console: wait for baresip to listen, then connect.
  await waitFor(() => (/baresip is ready/.test(output) ? true : undefined), 'start-up', DEFAULT_TIMEOUT);
  const cons: TcpSocket = await new Promise((resolve, reject) => {
    const socket = connect(consPort, LOOPBACK, () => resolve(socket));
    socket.once('error', reject);
  });
  cons.on('error', () => undefined);
  cons.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    consoleText += text;
    // An incoming MESSAGE is printed as `<from>: "<text>"` (typed commands echo back after a CR, never quoted).
    for (const line of text.split(/[\r\n]/)) {
      const m = /^(\S+): "(.*)"$/.exec(line);
      if (m !== null) messages.push({ from: m[1] ?? '', text: m[2] ?? '' });
      if (line.trim() !== '') options.log?.(`baresip console: ${line}`);
    }
    wake();
  });

  let stopped = false;
  return {
    pid: child.pid ?? 0,
    sipPort,
    aor,
    get output() {
      return output;
    },
    get console() {
      return consoleText;
    },
    messages,
    async registered(timeoutMs = DEFAULT_TIMEOUT) {
      // e.g. `bare@localhost: {0/UDP/v4} 200 OK () [1 binding]`, or `reg: sip:bare@localhost: 403 Forbidden`
      const result = await waitFor(
        () => {
          if (/\} 200 OK .*binding/.test(output)) return 'ok';
          const refused = /reg: \S+: (\d{3} [^\n]*|[A-Z][^\n]*)/.exec(output);
          return refused === null ? undefined : refused[1];
        },
        'registration',
        timeoutMs,
      );
      if (result !== 'ok')
        throw new Error(`baresip could not register: ${result ?? ''}\n${output.slice(-2000)}`);
    },
    command(line) {
      cons.write(`${line.startsWith('/') ? line : `/${line}`}\n`);
    },
    sendMessage(text) {
      cons.write(`/message ${text}\n`);
    },
    waitForMessage(predicate, timeoutMs = DEFAULT_TIMEOUT) {
      return waitFor(() => messages.find(predicate), 'matching message', timeoutMs);
    },
    waitForOutput(pattern, timeoutMs = DEFAULT_TIMEOUT) {
      return waitFor(
        () => pattern.exec(output)?.[0] ?? pattern.exec(consoleText)?.[0],
        `output ${String(pattern)}`,
        timeoutMs,
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      cons.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      await relay?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
