/**
 * drachtio-sip 0.6: `require('drachtio-sip').parser.parseSipMessage(raw, lazy)`, plus the same module's
 * `getParser(name)` and `parseUri(uri)` (what drachtio's `SipMessage#getParsedHeader` uses).
 *
 * `parseSipMessage` returns `undefined` when the start line or a header line does not match; a header parser
 * that fails throws out of it (non-lazy mode has no try/catch). With `lazy = true` every header stays the raw
 * string (repeated headers joined with ','); routing mode then decodes only Via, From, To and CSeq through
 * `getParser`. With `lazy = false` it decodes Via, CSeq, To/From/Contact (URI left a string), Route/
 * Record-Route/Path (URI parsed) and the auth headers; full mode then calls `parseUri` on the Request-URI and
 * every name-addr URI. `parseUri` returns `undefined` for a URI it cannot parse (anything but sip:/sips:).
 */
import { createRequire } from 'node:module';
import { acceptsVia, fail, type FullResult, type ParserAdapter, type RoutingFields } from './types.ts';

interface DrachtioUri {
  readonly scheme: string;
  readonly user: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly params: Record<string, string | null>;
}
interface DrachtioAor {
  readonly name: string | undefined;
  uri: string | DrachtioUri | undefined;
  readonly params: Record<string, string | undefined>;
}
interface DrachtioVia {
  readonly host: string;
  readonly params: Record<string, string | undefined>;
}
interface DrachtioCSeq {
  readonly seq: number;
  readonly method: string;
}
interface DrachtioMessage {
  readonly method?: string;
  readonly uri?: string;
  readonly status?: number;
  readonly headers: Record<string, unknown>;
  readonly body: string;
}
type HeaderParser = (input: { s: string; i: number }) => unknown;
interface DrachtioParser {
  parseSipMessage(raw: string, lazy: boolean): DrachtioMessage | undefined;
  getParser(name: string): HeaderParser;
  parseUri(uri: string | object): DrachtioUri | undefined;
}

const require = createRequire(import.meta.url);
const { parser } = require('drachtio-sip') as { parser: DrachtioParser };
const parseVia = parser.getParser('via') as (input: { s: string; i: number }) => DrachtioVia[];
const parseAor = parser.getParser('from') as (input: { s: string; i: number }) => DrachtioAor;
const parseCSeq = parser.getParser('cseq') as (input: { s: string; i: number }) => DrachtioCSeq;

/** The headers drachtio reads as name-addr/addr-spec (its `parsers` table). */
const AOR_HEADERS = [
  'to',
  'from',
  'contact',
  'route',
  'record-route',
  'path',
  'refer-to',
  'referred-by',
  'p-asserted-identity',
  'remote-party-id',
] as const;

function parse(raw: string, lazy: boolean): DrachtioMessage {
  return parser.parseSipMessage(raw, lazy) ?? fail('drachtio-sip: parseSipMessage returned undefined');
}

function rawHeader(m: DrachtioMessage, name: string): string | undefined {
  return m.headers[name] as string | undefined;
}

function routing(raw: string): RoutingFields {
  const m = parse(raw, true);
  const via = rawHeader(m, 'via');
  const from = rawHeader(m, 'from');
  const to = rawHeader(m, 'to');
  const cseqRaw = rawHeader(m, 'cseq');
  const cseq = cseqRaw === undefined ? undefined : parseCSeq({ s: cseqRaw, i: 0 });
  const maxForwards = rawHeader(m, 'max-forwards');
  const contentLength = rawHeader(m, 'content-length');
  return {
    method: m.method,
    status: m.status,
    viaBranch: via === undefined ? undefined : parseVia({ s: via, i: 0 })[0]?.params.branch,
    fromTag: from === undefined ? undefined : parseAor({ s: from, i: 0 }).params.tag,
    toTag: to === undefined ? undefined : parseAor({ s: to, i: 0 }).params.tag,
    callId: rawHeader(m, 'call-id'),
    cseq: cseq?.seq,
    cseqMethod: cseq?.method,
    maxForwards: maxForwards === undefined ? undefined : Number(maxForwards),
    // Lazy mode keeps Route as one comma-joined string; counting its values would mean parsing it.
    routeCount: undefined,
    route: rawHeader(m, 'route'),
    contentLength: contentLength === undefined ? undefined : Number(contentLength),
  };
}

function parseUri(uri: string | DrachtioUri | undefined, where: string): DrachtioUri {
  if (uri === undefined) fail(`drachtio-sip: no URI in ${where}`);
  return parser.parseUri(uri) ?? fail(`drachtio-sip: parseUri failed on ${where}`);
}

function full(raw: string): FullResult {
  const m = parse(raw, false);
  const decoded: unknown[] = [];
  if (m.method !== undefined) decoded.push(parseUri(m.uri, 'Request-URI'));
  for (const name of AOR_HEADERS) {
    const value = m.headers[name] as DrachtioAor | DrachtioAor[] | '*' | undefined;
    if (value === undefined || value === '*') continue;
    for (const aor of Array.isArray(value) ? value : [value]) {
      aor.uri = parseUri(aor.uri, name);
      decoded.push(aor);
    }
  }
  for (const name of Object.keys(m.headers)) decoded.push(m.headers[name]);
  return { message: m, decoded };
}

export const drachtioAdapter: ParserAdapter = {
  name: 'drachtio-sip',
  routing,
  full,
  accepts: (raw) => acceptsVia(full, raw),
};
