// The README's start command on a clean checkout, as a new user runs it: the files git would check out (no dist/,
// data/ or node_modules/) copied to a temporary directory, node_modules linked from this checkout (installing
// again would take minutes), then `npm start` with environment variables that pick free ports. It must build the
// app (there is no dist/ yet), print the URL and how to add a user, serve the app's page and its assets at that
// URL, and stop cleanly on SIGTERM.
//
// "The files git would check out": tracked files as they are in the working tree (uncommitted edits included)
// and new files not yet committed but not ignored either (what the next commit adds; tracked files already
// import some of them).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { requireTool } from '../support/require-tool.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const LEFT_OUT = /^(dist|data|node_modules)\//;

/** Copies what a clean checkout holds into `into`; returns the number of files. */
function copyCheckout(into: string): number {
  const git = requireTool('git', 'apt-get install -y git');
  const listed = spawnSync(git, ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  let count = 0;
  for (const file of new Set(listed.stdout.split('\0'))) {
    // Deleted in the working tree but still in the index: a checkout of the next commit will not have it.
    if (file === '' || LEFT_OUT.test(file) || !existsSync(join(REPO, file))) continue;
    mkdirSync(dirname(join(into, file)), { recursive: true });
    copyFileSync(join(REPO, file), join(into, file));
    count++;
  }
  return count;
}

/** Resolves when `text()` matches, rejects after `ms` with what was printed. */
async function waitForOutput(text: () => string, pattern: RegExp, ms: number, child: ChildProcess) {
  const deadline = Date.now() + ms;
  for (;;) {
    const match = pattern.exec(text());
    if (match !== null) return match;
    if (child.exitCode !== null)
      throw new Error(`npm start exited (${child.exitCode}) before printing ${pattern}:\n${text()}`);
    if (Date.now() > deadline) throw new Error(`npm start printed no ${pattern} within ${ms} ms:\n${text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm start on a clean checkout (README)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clean-checkout-'));
  let child: ChildProcess | undefined;

  afterAll(() => {
    // Whatever is left of the process group of the npm we started (only when the test failed half-way).
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // nothing left: the normal case
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the app, prints the URL and how to add a user, serves the page and its assets, stops on SIGTERM', async () => {
    const npm = requireTool('npm', 'install Node.js 20 (npm comes with it)');
    expect(copyCheckout(dir)).toBeGreaterThan(50);
    expect(existsSync(join(dir, 'dist'))).toBe(false);
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');

    let output = '';
    child = spawn(npm, ['start'], {
      cwd: dir,
      // Free ports instead of 8080 and 5060 (every flag has a GATEWAY_* variable, gateway/config.ts).
      env: {
        ...process.env,
        GATEWAY_PORT: '0',
        GATEWAY_SIP_UDP: '127.0.0.1:0',
        GATEWAY_SIP_TCP: '127.0.0.1:0',
        GATEWAY_SHUTDOWN_GRACE: '500',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group, so that a failed test can clean up everything it started (afterAll)
      detached: true,
    });
    const started = child;
    let openStreams = 2;
    const streamsClosed = new Promise<void>((resolve) => {
      for (const stream of [started.stdout, started.stderr]) {
        stream?.on('data', (d: Buffer) => (output += d.toString()));
        stream?.on('close', () => {
          if (--openStreams === 0) resolve();
        });
      }
    });

    const url = (
      await waitForOutput(() => output, /is running: (http:\/\/127\.0\.0\.1:\d+\/)/, 90_000, started)
    )[1]!;
    // There was no dist/: `npm start` built the app first.
    expect(output).toMatch(/building the app and the widget \(vite build/);
    expect(existsSync(join(dir, 'dist', 'index.html'))).toBe(true);
    expect(existsSync(join(dir, 'dist', 'widget.js'))).toBe(true);
    // It tells a new user what to do next.
    expect(output).toMatch(/add a user: +npm run user -- add \w+ \w+/);

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toBe(readFileSync(join(dir, 'dist', 'index.html'), 'utf8'));
    expect(html).toContain('<div id="app"></div>');
    // Every script and stylesheet the page names loads.
    const assets = [...html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    for (const asset of assets) {
      const response = await fetch(new URL(asset, url));
      expect(response.status, asset).toBe(200);
      const type = response.headers.get('content-type') ?? '';
      if (asset.endsWith('.js')) expect(type).toMatch(/javascript/);
      if (asset.endsWith('.css')) expect(type).toMatch(/text\/css/);
      expect((await response.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }

    // SIGTERM to npm, as a service manager stops it: the gateway shuts down gracefully and nothing is left over
    // (every process that held the output pipes has exited).
    started.kill('SIGTERM');
    await Promise.race([
      streamsClosed,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`still running 15 s after SIGTERM:\n${output}`)), 15_000),
      ),
    ]);
    expect(output).toMatch(/"msg":"gateway stopped"/);
    await expect(fetch(url)).rejects.toThrow();
  }, 150_000);
});
