/**
 * `npm start`: the one command a new user runs. Builds the app when `dist/` has no build of the current sources (`npm run build`'s steps),
 * then starts the gateway in embedded mode (gateway/main.ts, which prints the URL and how to add a user):
 * http://127.0.0.1:8080 serving `dist/` and the WebSocket, SIP on UDP/TCP 5060, state in ./data. Any gateway
 * flag may follow: `npm start -- --port 9000 --domain chat.example.com`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** vite's command-line script (its package exports only the API, so it is found from the API's path). */
export function viteBin(root: string): string {
  let entry: string;
  try {
    entry = createRequire(join(root, 'package.json')).resolve('vite');
  } catch {
    throw new Error('vite is not installed (run npm install)');
  }
  let dir = dirname(entry);
  while (!existsSync(join(dir, 'bin', 'vite.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('vite is not installed (run npm install)');
    dir = up;
  }
  return join(dir, 'bin', 'vite.js');
}

/** The newest modification time (ms) of the app's sources: web/src, index.html, vite.config.ts, package.json. */
export function newestSource(root: string): number {
  let newest = 0;
  const visit = (path: string): void => {
    let st;
    try {
      st = statSync(path);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const entry of ['web/src', 'index.html', 'vite.config.ts', 'package.json']) visit(join(root, entry));
  return newest;
}

/**
 * `npm run build` into `outDir`: the app (`vite build`, which empties the directory first), then the embeddable
 * widget beside it (`vite build --mode widget` → widget.js). The vite arguments of each step, in order.
 */
export function buildSteps(outDir: string): string[][] {
  return [
    ['build', '--outDir', outDir, '--emptyOutDir'],
    ['build', '--mode', 'widget', '--outDir', outDir],
  ];
}

/** What a complete build leaves in its directory. */
export const BUILD_OUTPUTS = ['index.html', 'widget.js'] as const;

/**
 * Runs the build (buildSteps) when `distDir` lacks one of its outputs or they are older than the app's sources (a
 * checkout updated after an earlier `npm start` must not keep serving the old app). Returns false when the build
 * failed.
 */
export function buildIfNeeded(root: string, distDir: string, write: (line: string) => void): boolean {
  const outputs = BUILD_OUTPUTS.map((file) => join(distDir, file));
  const newest = newestSource(root);
  if (outputs.every((file) => existsSync(file) && statSync(file).mtimeMs >= newest)) return true;
  write(`building the app and the widget (vite build → ${distDir}) …`);
  const vite = viteBin(root);
  for (const step of buildSteps(distDir)) {
    const result = spawnSync(process.execPath, [vite, ...step], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) return false;
  }
  return outputs.every((file) => existsSync(file));
}

/** The gateway's arguments for `npm start`: loopback HTTP unless the user chose a host. */
export function startArguments(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const args = [...argv];
  const has = (flag: string): boolean => args.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));
  if (!has('host') && env.GATEWAY_HOST === undefined) args.push('--host', '127.0.0.1');
  return args;
}

/**
 * `npm start` runs this file through `sh -c`, and a SIGTERM sent to npm (a service manager, `kill <npm pid>`)
 * reaches only that shell, which dies without passing it on: the gateway would keep running, orphaned. So when
 * our parent goes away we stop as if we had been sent SIGTERM (gateway/main.ts's graceful shutdown). A signal
 * that reaches us first (Ctrl-C reaches the whole process group) turns the watch off, so it is never counted
 * as a second signal.
 */
export function stopWhenOrphaned(intervalMs = 250): void {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, intervalMs);
  watch.unref();
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    process.once(signal, () => {
      clearInterval(watch);
      // Before gateway/main.ts has its handlers (still starting), a signal keeps its default meaning: exit.
      if (process.listenerCount(signal) === 0) process.exit(code);
    });
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const root = process.cwd();
  const args = startArguments(process.argv.slice(2), process.env);
  const staticAt = args.indexOf('--static');
  const distDir = staticAt >= 0 ? (args[staticAt + 1] ?? 'dist') : (process.env.GATEWAY_STATIC ?? 'dist');
  if (distDir !== 'off' && !buildIfNeeded(root, distDir, (line) => process.stdout.write(`${line}\n`))) {
    process.stderr.write('npm start: the app could not be built (see above); the gateway was not started\n');
    process.exit(1);
  }
  stopWhenOrphaned();
  process.argv = [process.argv[0] ?? 'node', join(root, 'gateway', 'main.ts'), ...args];
  await import('../main.ts');
}
