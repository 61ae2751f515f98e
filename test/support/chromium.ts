// Debian's Chromium driven by playwright-core, for the e2e tests and the in-browser benchmark: exactly as
// /work/shared/PEERS.md says — executablePath /usr/bin/chromium (never a browser download), a persistent
// context on a fresh temporary profile, and arguments that keep the browser off the network: every name but
// 127.0.0.1 and localhost resolves to nothing.
//
//   const browser = await launchChromium({ name: 'alice' });
//   await browser.page.goto(server.httpUrl);
//   await browser.screenshot('chat-alice');      // → test-results/chat-alice.png
//   await browser.close();                       // browser gone, profile deleted
//
// Each launch is one browser process with its own profile, so two launches are two independent "browsers"
// (separate IndexedDB, localStorage, Web Locks): two users, or one user on two devices. Console errors and
// uncaught page errors are collected in `problems` for failure messages.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { chromium, type BrowserContext, type Page } from 'playwright-core';

import { INSTALL_HINTS, requireTool } from './require-tool.ts';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The arguments PEERS.md lists; the resolver rule keeps Chromium from looking up Google hosts at start. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost',
];

/** Where screenshots go: test-results/ at the repository root. */
export const RESULTS_DIR = resolve(import.meta.dirname, '..', '..', 'test-results');

export interface ChromiumOptions {
  /** a label for screenshots and messages */
  readonly name?: string;
  readonly viewport?: { readonly width: number; readonly height: number };
  /** extra Chromium arguments */
  readonly args?: readonly string[];
}

export interface ChromiumSession {
  readonly name: string;
  readonly context: BrowserContext;
  /** the first tab */
  readonly page: Page;
  /** the temporary profile directory */
  readonly profile: string;
  /** console errors and page errors seen so far, newest last */
  readonly problems: string[];
  /** Saves a PNG of `page` (default: the first tab) under test-results/; returns its path. */
  screenshot(file: string, page?: Page): Promise<string>;
  /** Closes the browser and deletes its profile. Idempotent. */
  close(): Promise<void>;
}

/** Fails with the apt-get line when Debian's Chromium is missing (never downloads a browser). */
export function requireChromium(): string {
  return requireTool(CHROMIUM_PATH, INSTALL_HINTS.chromium);
}

export async function launchChromium(options: ChromiumOptions = {}): Promise<ChromiumSession> {
  const executablePath = requireChromium();
  const name = options.name ?? 'chromium';
  const profile = mkdtempSync(join(tmpdir(), `chromium-${name.replace(/[^\w-]/g, '_')}-`));
  let context: BrowserContext;
  try {
    // Playwright refuses --user-data-dir among the args: the profile is the persistent context's directory.
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
      viewport: options.viewport ?? { width: 1100, height: 760 },
      timeout: 60_000,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const problems: string[] = [];
  const watch = (page: Page): void => {
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  let closed = false;
  return {
    name,
    context,
    page,
    profile,
    problems,
    async screenshot(file, target = page) {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const path = join(RESULTS_DIR, file.endsWith('.png') ? file : `${file}.png`);
      await target.screenshot({ path, fullPage: false });
      return path;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}
