import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { buildIfNeeded, newestSource } from '../../../gateway/core/start.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A checkout with one source file and a build, with the given modification times (seconds). */
function checkout(sourceTime: number, buildTime: number | undefined): string {
  const root = mkdtempSync(join(tmpdir(), 'start-'));
  dirs.push(root);
  mkdirSync(join(root, 'web/src/components'), { recursive: true });
  const source = join(root, 'web/src/components/ChatThing.vue');
  writeFileSync(source, '<template><p>hi</p></template>\n');
  utimesSync(source, sourceTime, sourceTime);
  if (buildTime !== undefined) {
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'dist/index.html'), '<!doctype html>');
    utimesSync(join(root, 'dist/index.html'), buildTime, buildTime);
    writeFileSync(join(root, 'dist/widget.js'), '"use strict";');
    utimesSync(join(root, 'dist/widget.js'), buildTime, buildTime);
  }
  return root;
}

describe('npm start: build the app only when needed', () => {
  it('finds the newest source under web/src', () => {
    const root = checkout(1_000_000, undefined);
    expect(newestSource(root)).toBe(1_000_000_000);
  });

  it('serves a build that is newer than every source as it is', () => {
    const root = checkout(1_000_000, 2_000_000);
    const lines: string[] = [];
    expect(buildIfNeeded(root, join(root, 'dist'), (l) => lines.push(l))).toBe(true);
    expect(lines).toEqual([]);
  });

  it('rebuilds when the widget is missing from an otherwise current build', () => {
    const root = checkout(1_000_000, 2_000_000);
    rmSync(join(root, 'dist/widget.js'));
    const lines: string[] = [];
    expect(() => buildIfNeeded(root, join(root, 'dist'), (l) => lines.push(l))).toThrow(
      /vite is not installed/,
    );
    expect(lines[0]).toMatch(/^building the app and the widget/);
  });

  it('rebuilds a build older than the sources (an updated checkout), and a missing one', () => {
    for (const root of [checkout(2_000_000, 1_000_000), checkout(2_000_000, undefined)]) {
      const lines: string[] = [];
      // No node_modules in the temporary checkout: the attempt to build is what this test sees.
      expect(() => buildIfNeeded(root, join(root, 'dist'), (l) => lines.push(l))).toThrow(
        /vite is not installed/,
      );
      expect(lines[0]).toMatch(/^building the app/);
    }
  });
});
