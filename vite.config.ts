/// <reference types="vitest/config" />
import { defineConfig, type UserConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// One file configures the app build, the widget build and the three test suites:
//  unit     – the protocol core and everything else that runs in memory (fast, deterministic)
//  interop  – real peers on loopback: Kamailio, SIPp, JsSIP, SIP.js, baresip (needs scripts/setup.sh)
//  e2e      – the app in headless Debian Chromium
//
// `vite build` builds the app into dist/. `vite build --mode widget` (the second half of `npm run build`) builds
// the embeddable widget (web/src/widget/) into the same directory as ONE classic script, dist/widget.js: every
// single-file component compiled in custom-element mode, so each component's CSS is a string the element puts
// into its shadow root (no CSS file, no other chunk to load).

const WIDGET_MODE = 'widget';

/**
 * A widget inside someone else's page must not depend on that page's root font size (`html { font-size: 40px }`
 * would scale every `rem` of ours): in the widget build, rem becomes px at the browsers' default 16 px per rem,
 * which is what it is in the app. (A PostCSS plugin is a plain object; no dependency.)
 */
const remToPx = {
  postcssPlugin: 'simple-chat-rem-to-px',
  Declaration(declaration: { value: string }): void {
    if (!declaration.value.includes('rem')) return;
    declaration.value = declaration.value.replace(
      /(-?\d*\.?\d+)rem\b/g,
      (_match, number: string) => `${String(Number(number) * 16)}px`,
    );
  },
};

const widgetConfig: UserConfig = {
  plugins: [vue({ customElement: true })],
  // Library mode leaves process.env.NODE_ENV alone; the page has no `process`, and Vue's production build is wanted.
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  css: { postcss: { plugins: [remToPx] } },
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    sourcemap: true,
    lib: {
      entry: 'web/src/widget/index.ts',
      name: 'SimpleChatWidget',
      formats: ['iife'],
      fileName: () => 'widget.js',
    },
  },
};

const appConfig: UserConfig = {
  plugins: [vue()],
  build: { outDir: 'dist', sourcemap: true },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/interop/**', 'test/e2e/**', 'node_modules/**'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 90_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
};

export default defineConfig(({ mode }) => (mode === WIDGET_MODE ? widgetConfig : appConfig));
