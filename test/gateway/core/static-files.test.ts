// The gateway's static files (dist/ after `npm run build`) over real HTTP on 127.0.0.1: the widget's script is
// loadable from pages of other origins (CORS, CORP) and cached briefly since its URL outlives a release; hashed
// assets are cached for long, the HTML is revalidated; a copy the browser holds is confirmed with 304.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { WIDGET_CACHE_CONTROL, staticFiles } from '../../../gateway/core/static-files.ts';

const WIDGET = 'customElements.define("simple-chat", class extends HTMLElement {});\n';

describe('static files', () => {
  let dir: string;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'static-files-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(dir, 'widget.js'), WIDGET);
    writeFileSync(join(dir, 'widget.js.map'), '{"version":3}');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1);');
    server = createServer(staticFiles(dir));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${String(address.port)}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves widget.js to other origins, as JavaScript, cached for minutes, not for a year', async () => {
    const response = await fetch(`${base}/widget.js`, { headers: { Origin: 'https://shop.example' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(WIDGET);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe(WIDGET_CACHE_CONTROL);
    expect(WIDGET_CACHE_CONTROL).not.toMatch(/immutable/);
    expect(Number(/max-age=(\d+)/.exec(WIDGET_CACHE_CONTROL)?.[1])).toBeLessThanOrEqual(3600);
    const map = await fetch(`${base}/widget.js.map`);
    expect(map.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('a browser holding the current copy gets 304 without the body; a changed file gets a new ETag', async () => {
    const first = await fetch(`${base}/widget.js`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/".+"$/);
    await first.arrayBuffer();
    const again = await fetch(`${base}/widget.js`, { headers: { 'If-None-Match': etag ?? '' } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(again.headers.get('access-control-allow-origin')).toBe('*');
    expect(again.headers.get('cache-control')).toBe(WIDGET_CACHE_CONTROL);

    writeFileSync(join(dir, 'widget.js'), `${WIDGET}// next release\n`);
    const changed = await fetch(`${base}/widget.js`, { headers: { 'If-None-Match': etag ?? '' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(await changed.text()).toContain('next release');
  });

  it('the app itself stays same-origin: no CORS on its HTML or assets; assets immutable, HTML revalidated', async () => {
    const html = await fetch(`${base}/`);
    expect(html.headers.get('access-control-allow-origin')).toBeNull();
    expect(html.headers.get('cache-control')).toBe('no-cache');
    const route = await fetch(`${base}/conversations`);
    expect(await route.text()).toContain('<title>app</title>');
    expect(route.headers.get('access-control-allow-origin')).toBeNull();
    const asset = await fetch(`${base}/assets/index-abc123.js`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('access-control-allow-origin')).toBeNull();
    // Only the file at the root is the widget: a widget.js elsewhere is an ordinary file.
    expect((await fetch(`${base}/assets/widget.js`)).status).toBe(404);
  });

  it('HEAD answers the headers only; other methods get 405', async () => {
    const head = await fetch(`${base}/widget.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');
    const post = await fetch(`${base}/widget.js`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});
