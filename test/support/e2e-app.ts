// The app as `npm start` serves it, for the e2e tests and the in-browser benchmark: `vite build` into a
// temporary directory (dist/ is left alone), then the gateway in embedded mode (its SIP core, store-and-forward
// and URI-list service) serving that build and the SIP WebSocket on one ephemeral port, with a temporary data
// directory whose users are written through gateway/core/users.ts (as `npm run user -- add` does).
//
//   const app = await startChatApp({ users: { alice: 'alice-pw', bob: 'bob-pw' } });
//   await page.goto(app.httpUrl);                  // the sign-in page; the gateway URL is prefilled
//   await app.restart();                           // same port, same data: the gateway went away and came back
//   await app.close();
//
// The build is made once per process and shared by the apps open at a time (the e2e files run one after another,
// each in its own worker: about two seconds per file); the last app to close deletes it.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { GatewayConfig } from '../../gateway/config.ts';
import { BUILD_OUTPUTS, buildSteps, viteBin } from '../../gateway/core/start.ts';
import { makeDataDir, startEmbeddedGateway, type EmbeddedGateway } from './embedded-gateway.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

let built: Promise<string> | undefined;
/** apps open on the shared build; the last one to close deletes it */
let users = 0;

/**
 * `npm run build`'s steps (the app, then the widget beside it: gateway/core/start.ts) with the repo's config into a
 * temporary directory; resolves with that directory. Built once per test file, shared by its apps.
 */
export function buildApp(timeoutMs = 240_000): Promise<string> {
  built ??= (async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'simple-chat-e2e-dist-'));
    const vite = viteBin(REPO_ROOT);
    for (const step of buildSteps(outDir)) await runVite(vite, step, timeoutMs);
    for (const file of BUILD_OUTPUTS)
      if (!existsSync(join(outDir, file))) throw new Error(`the build left no ${file} in ${outDir}`);
    return outDir;
  })();
  return built;
}

function runVite(vite: string, args: readonly string[], timeoutMs: number): Promise<void> {
  return new Promise<void>((resolveStep, reject) => {
    const child = spawn(process.execPath, [vite, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vite ${args.join(' ')} took more than ${String(timeoutMs)} ms:\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolveStep();
      else reject(new Error(`vite ${args.join(' ')} failed (exit ${String(code)}):\n${output}`));
    });
  });
}

export interface ChatAppOptions {
  /** user → password */
  readonly users: Readonly<Record<string, string>>;
  /** more gateway configuration (rate limits for a benchmark …) */
  readonly config?: Partial<GatewayConfig>;
  /** an app already built (bench:app builds its own); default: buildApp() */
  readonly staticDir?: string;
}

export interface ChatApp {
  /** http://127.0.0.1:PORT/ — the app and its WebSocket */
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly domain: string;
  readonly gateway: EmbeddedGateway;
  /** `sip:user@domain` */
  aor(user: string): string;
  /**
   * Stops the gateway (connections drop, the port closes); `start()` brings it back on the same port and data,
   * optionally with other settings (`limits.maxConnectionsPerIp: 0`: the page loads, its WebSocket is refused —
   * the gateway unreachable for SIP while the page can still be reloaded).
   */
  stop(): Promise<void>;
  start(config?: Partial<GatewayConfig>): Promise<void>;
  /** Stops everything and deletes the data directory. */
  close(): Promise<void>;
}

export async function startChatApp(options: ChatAppOptions): Promise<ChatApp> {
  const ownBuild = options.staticDir === undefined;
  const staticDir = options.staticDir ?? (await buildApp());
  if (ownBuild) users++;
  const release = (): void => {
    if (!ownBuild || --users > 0) return;
    built = undefined;
    rmSync(staticDir, { recursive: true, force: true });
  };
  const domain = 'localhost';
  const dataDir = makeDataDir(options.users, domain);
  const launch = (port: number, config: Partial<GatewayConfig> = {}): Promise<EmbeddedGateway> =>
    startEmbeddedGateway({ dataDir, domain, config: { staticDir, port, ...options.config, ...config } });
  let gateway: EmbeddedGateway | undefined;
  try {
    gateway = await launch(0);
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    release();
    throw error;
  }
  const port = gateway.gateway.httpPort;
  const current = (): EmbeddedGateway => {
    if (gateway === undefined) throw new Error('the gateway is stopped');
    return gateway;
  };
  return {
    httpUrl: `http://127.0.0.1:${String(port)}/`,
    wsUrl: `ws://127.0.0.1:${String(port)}/`,
    domain,
    get gateway() {
      return current();
    },
    aor: (user) => `sip:${user}@${domain}`,
    async stop() {
      const running = gateway;
      gateway = undefined;
      await running?.close();
    },
    async start(config) {
      if (gateway !== undefined) return;
      // The port was ours a moment ago; another process may take it in between (then this fails loudly).
      gateway = await launch(port, config);
    },
    async close() {
      const running = gateway;
      gateway = undefined;
      try {
        await running?.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        release();
      }
    },
  };
}
