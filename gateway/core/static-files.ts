/**
 * The app's files on the gateway's HTTP port (`dist/` after `vite build`): GET and HEAD, the right
 * Content-Type, `index.html` for `/` and for any path without a file extension (the single-page app's routes),
 * no directory listings, nothing outside the root (a path is resolved and must stay under it).
 */
import { createReadStream, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';

import type { IncomingMessage, ServerResponse } from 'node:http';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

export type StaticHandler = (request: IncomingMessage, response: ServerResponse) => void;

export function staticFiles(rootDir: string): StaticHandler {
  const root = resolve(rootDir);
  const fileAt = (path: string): { file: string; size: number } | undefined => {
    try {
      const stat = statSync(path);
      return stat.isFile() ? { file: path, size: stat.size } : undefined;
    } catch {
      return undefined;
    }
  };
  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent((request.url ?? '/').split('?', 1)[0] ?? '/');
    } catch {
      response.writeHead(400).end();
      return;
    }
    const wanted = resolve(join(root, path));
    if (wanted !== root && !wanted.startsWith(root + sep)) {
      response.writeHead(404).end();
      return;
    }
    let found = fileAt(wanted);
    if (found === undefined && (path.endsWith('/') || extname(path) === ''))
      found = fileAt(join(root, 'index.html'));
    if (found === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    const type = TYPES[extname(found.file).toLowerCase()] ?? 'application/octet-stream';
    // Hashed assets may be cached for long; the HTML must be re-read to pick up a new build.
    const cache = found.file.includes(`${sep}assets${sep}`)
      ? 'public, max-age=31536000, immutable'
      : 'no-cache';
    response.writeHead(200, {
      'Content-Type': type,
      'Content-Length': String(found.size),
      'Cache-Control': cache,
      'X-Content-Type-Options': 'nosniff',
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    createReadStream(found.file)
      .on('error', () => response.destroy())
      .pipe(response);
  };
}
