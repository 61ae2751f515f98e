/**
 * The app's files on the gateway's HTTP port (`dist/` after `vite build`): GET and HEAD, the right
 * Content-Type, `index.html` for `/` and for any path without a file extension (the single-page app's routes),
 * no directory listings, nothing outside the root (a path is resolved and must stay under it).
 *
 * Caching: hashed assets (`assets/`) for a year; everything else is revalidated, with an ETag (size and mtime)
 * so that a browser holding the current copy gets a 304 (RFC 9110 §13.1.2 If-None-Match, weak comparison).
 * The widget's script (`widget.js`, and its source map) is loaded by pages on other origins: it carries
 * `Access-Control-Allow-Origin: *` and `Cross-Origin-Resource-Policy: cross-origin` (so pages that isolate
 * themselves can still load it), and a short max-age, as its URL stays the same from one release to the next.
 */
import { createReadStream, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';

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

/** Files at the root that other origins' pages load (the embeddable widget). */
const EMBEDDABLE = new Set(['widget.js', 'widget.js.map']);
/** How long a page may use its copy of the widget before asking again (it changes with each release). */
export const WIDGET_CACHE_CONTROL = 'public, max-age=300, stale-while-revalidate=86400';

/** A weak validator from what changes when the file does (RFC 9110 §8.8.3). */
function etagOf(size: number, mtimeMs: number): string {
  return `W/"${size.toString(36)}-${Math.trunc(mtimeMs).toString(36)}"`;
}

/** RFC 9110 §13.1.2: If-None-Match matches with the weak comparison, `*` matches any current representation. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}

export type StaticHandler = (request: IncomingMessage, response: ServerResponse) => void;

export function staticFiles(rootDir: string): StaticHandler {
  const root = resolve(rootDir);
  const fileAt = (path: string): { file: string; size: number; mtimeMs: number } | undefined => {
    try {
      const stat = statSync(path);
      return stat.isFile() ? { file: path, size: stat.size, mtimeMs: stat.mtimeMs } : undefined;
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
    const embeddable = EMBEDDABLE.has(relative(root, found.file));
    // Hashed assets may be cached for long; the HTML must be re-read to pick up a new build.
    const cache = found.file.includes(`${sep}assets${sep}`)
      ? 'public, max-age=31536000, immutable'
      : embeddable
        ? WIDGET_CACHE_CONTROL
        : 'no-cache';
    const etag = etagOf(found.size, found.mtimeMs);
    const headers: Record<string, string> = {
      'Content-Type': type,
      'Cache-Control': cache,
      ETag: etag,
      'X-Content-Type-Options': 'nosniff',
    };
    if (embeddable) {
      headers['Access-Control-Allow-Origin'] = '*';
      headers['Cross-Origin-Resource-Policy'] = 'cross-origin';
    }
    if (matchesEtag(request.headers['if-none-match'], etag)) {
      response.writeHead(304, headers).end();
      return;
    }
    headers['Content-Length'] = String(found.size);
    response.writeHead(200, headers);
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    createReadStream(found.file)
      .on('error', () => response.destroy())
      .pipe(response);
  };
}
