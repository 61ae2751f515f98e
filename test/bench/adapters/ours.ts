/**
 * Our parser: `parseMessage(data: string | Uint8Array, options?: { lazy?: boolean })` from web/src/sip/index.ts.
 *
 * - routing mode: `parseMessage(raw, { lazy: true })`, then `readRoutingFields(message)`.
 * - full mode:    `parseMessage(raw, { lazy: false })`, then `decodeFull(message)`.
 * - RFC 4475:     `parseMessage(bytes, { lazy: false })` on the file's Buffer itself; a throw or a
 *                 null/undefined/false/Error result counts as a rejection.
 *
 * The timed modes get the same latin1 string as the string-based parsers (the corpus is ASCII, so it is also
 * the UTF-8 reading). `readRoutingFields` and `decodeFull` are the two functions to complete once the message
 * API exists; until then they throw AdapterUnavailableError and the harness reports that mode as unavailable.
 * Loading throws AdapterUnavailableError while web/src/sip/index.ts is missing, fails to import, or does not
 * export `parseMessage`, and the harness reports "ours: unavailable" and benchmarks the others.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SipMessage } from '../../../web/src/sip/index.ts';
import { AdapterUnavailableError, type FullResult, type ParserAdapter, type RoutingFields } from './types.ts';

export interface OursParseOptions {
  readonly lazy?: boolean;
}
export type OursParseMessage = (data: string | Uint8Array, options?: OursParseOptions) => unknown;

const CORE_INDEX = new URL('../../../web/src/sip/index.ts', import.meta.url);

/**
 * Routing mode: from a message parsed with `{ lazy: true }` (which has already checked the start line and the
 * routing headers), read the routing fields through the typed getters.
 */
export function readRoutingFields(message: unknown): RoutingFields {
  const m = message as SipMessage;
  const route = m.route;
  return {
    method: m.kind === 'request' ? m.method : undefined,
    status: m.kind === 'response' ? m.status : undefined,
    viaBranch: m.topVia?.branch,
    fromTag: m.fromTag,
    toTag: m.toTag,
    callId: m.callId,
    cseq: m.cseq.seq,
    cseqMethod: m.cseq.method,
    maxForwards: m.maxForwards,
    routeCount: route.length,
    route,
    contentLength: m.bodyLength,
  };
}

/**
 * Full mode: a strict parse (`{ lazy: false }`) has already decoded every typed header, every URI (Request-URI,
 * From, To, Contact, Route, Record-Route…) into its parts; collect all of it, and every raw header value.
 */
export function decodeFull(message: unknown): FullResult {
  const m = message as SipMessage;
  const decoded: unknown[] = [
    m.kind === 'request' ? m.uri : m.status,
    m.via,
    m.from,
    m.to,
    m.callId,
    m.cseq,
    m.maxForwards,
    m.contacts,
    m.route,
    m.recordRoute,
    m.path,
    m.contentType,
    m.expires,
    m.supported,
    m.require,
    m.allow,
    m.accept,
    m.event,
    m.subscriptionState,
    m.wwwAuthenticate,
    m.authorization,
    m.date,
  ];
  for (const f of m.headers.fields) decoded.push(f.value);
  return { message, decoded };
}

function isParsed(result: unknown): boolean {
  return result !== undefined && result !== null && result !== false && !(result instanceof Error);
}

export function createOursAdapter(parseMessage: OursParseMessage): ParserAdapter {
  return {
    name: 'ours',
    routing: (raw) => readRoutingFields(parseMessage(raw, { lazy: true })),
    full: (raw) => decodeFull(parseMessage(raw, { lazy: false })),
    accepts: (raw) => {
      try {
        return isParsed(parseMessage(raw, { lazy: false }));
      } catch {
        return false;
      }
    },
  };
}

/**
 * Our core is measured as it ships: bundled to plain JavaScript by esbuild (the app's and the gateway's builds
 * do the same), not through tsx's on-the-fly transform, which wraps every function for name-keeping and would
 * handicap ours against the anchors (plain JavaScript from node_modules).
 */
async function bundleCore(): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = fileURLToPath(new URL('../../../.tmp/bench/sip-core.mjs', import.meta.url));
  await build({
    entryPoints: [fileURLToPath(CORE_INDEX)],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'node20',
    outfile,
    logLevel: 'silent',
  });
  return pathToFileURL(outfile).href;
}

export async function loadOursAdapter(): Promise<ParserAdapter> {
  if (!existsSync(CORE_INDEX)) {
    throw new AdapterUnavailableError(`${fileURLToPath(CORE_INDEX)} does not exist yet`);
  }
  let core: { parseMessage?: unknown };
  try {
    core = (await import(await bundleCore())) as { parseMessage?: unknown };
  } catch (error) {
    throw new AdapterUnavailableError(`importing web/src/sip/index.ts failed: ${String(error)}`);
  }
  if (typeof core.parseMessage !== 'function') {
    throw new AdapterUnavailableError('web/src/sip/index.ts does not export parseMessage yet');
  }
  return createOursAdapter(core.parseMessage as OursParseMessage);
}
