/**
 * JsSIP 3.x: `require('jssip/lib/Parser.js').parseMessage(data, ua)`.
 *
 * The parser never touches `ua` (it is only stored on IncomingRequest for later replies), so an empty object
 * stands in for it. It returns `undefined` on failure (after a `debug` log line, silenced here). While parsing
 * it already runs its PEG grammar on the top Via, From, To, Call-ID, CSeq, Contact, Record-Route,
 * Content-Length/-Type, Max-Forwards and a few more; every other header stays raw until `parseHeader(name, i)`.
 */
import { createRequire } from 'node:module';
import { acceptsVia, fail, type FullResult, type ParserAdapter, type RoutingFields } from './types.ts';

interface JsSipUri {
  readonly scheme: string;
  readonly user: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
}
interface JsSipNameAddr {
  readonly uri: JsSipUri;
  getParam(name: string): string | null | undefined;
}
interface JsSipHeaderEntry {
  readonly raw: string;
  parsed?: unknown;
}
interface JsSipIncomingMessage {
  readonly headers: Record<string, JsSipHeaderEntry[]>;
  readonly method: string;
  readonly status_code?: number;
  readonly ruri?: JsSipUri | null;
  readonly via_branch: string | null;
  readonly from_tag: string | null | undefined;
  readonly to_tag: string | null | undefined;
  readonly call_id: string | null;
  readonly cseq: number | null;
  getHeaders(name: string): string[];
  parseHeader(name: string, index?: number): unknown;
}
interface JsSipParser {
  readonly parseMessage: (data: string, ua: object) => JsSipIncomingMessage | undefined;
}
interface JsSipGrammar {
  /** Returns the parsed data, or -1 when the input does not match the rule. */
  parse(input: string, rule: string): unknown;
}

const require = createRequire(import.meta.url);
const parserPath = require.resolve('jssip/lib/Parser.js');
const { parseMessage } = require(parserPath) as JsSipParser;
const Grammar = require('jssip/lib/Grammar.js') as JsSipGrammar;
// JsSIP logs through `debug`; make sure a DEBUG=* in the environment cannot flood the benchmark.
(createRequire(parserPath)('debug') as { disable(): string }).disable();

/** The parser only stores the UA on incoming requests (for `reply()`); it never calls it. */
const stubUa = Object.freeze({});

/** Start rules of JsSIP's grammar that decode a whole header value (header name with '-' → '_'). */
const HEADER_RULES = new Set([
  'Allow_Events',
  'Call_ID',
  'Contact',
  'Content_Disposition',
  'Content_Encoding',
  'Content_Length',
  'Content_Type',
  'CSeq',
  'Event',
  'Expires',
  'From',
  'Max_Forwards',
  'Min_Expires',
  'Proxy_Authenticate',
  'Proxy_Require',
  'Reason',
  'Record_Route',
  'Refer_To',
  'Replaces',
  'Require',
  'Session_Expires',
  'Subject',
  'Subscription_State',
  'Supported',
  'To',
  'Via',
  'WWW_Authenticate',
]);
const NAME_ADDR_HEADERS = new Set(['From', 'To', 'Contact', 'Record-Route', 'Refer-To']);

function parse(raw: string): JsSipIncomingMessage {
  return parseMessage(raw, stubUa) ?? fail('JsSIP: parseMessage returned undefined');
}

function uriOf(value: unknown, where: string): JsSipUri {
  const uri = (value as Partial<JsSipNameAddr> | null)?.uri;
  if (uri === undefined || typeof uri.host !== 'string') fail(`JsSIP: no URI in ${where}`);
  return uri;
}

function routing(raw: string): RoutingFields {
  const m = parse(raw);
  const isResponse = m.status_code !== undefined;
  const cseq = m.parseHeader('cseq') as { value: number; method: string } | undefined;
  const route = m.getHeaders('route');
  return {
    method: isResponse ? undefined : m.method,
    status: m.status_code,
    viaBranch: m.via_branch ?? undefined,
    fromTag: m.from_tag ?? undefined,
    toTag: m.to_tag ?? undefined,
    callId: m.call_id ?? undefined,
    cseq: cseq?.value,
    cseqMethod: cseq?.method,
    maxForwards: m.parseHeader('max-forwards') as number | undefined,
    routeCount: route.length,
    route,
    contentLength: m.parseHeader('content-length') as number | undefined,
  };
}

function full(raw: string): FullResult {
  const m = parse(raw);
  const decoded: unknown[] = [];
  // A sip:/sips: Request-URI arrives as a parsed URI; any other scheme is accepted with only its scheme kept
  // (no URI object), which is JsSIP's representation, not a failure.
  if (m.status_code === undefined) decoded.push(m.ruri);
  for (const name of Object.keys(m.headers)) {
    const entries = m.headers[name]!;
    if (name === 'Route') {
      // JsSIP's own `Route` rule keeps only the last URI of a value; its Record_Route rule (same ABNF) keeps all.
      for (const entry of entries) {
        const values = Grammar.parse(entry.raw, 'Record_Route');
        if (!Array.isArray(values)) fail('JsSIP: Route');
        for (const value of values as { parsed: unknown }[]) decoded.push(uriOf(value.parsed, 'Route'));
      }
      continue;
    }
    if (!HEADER_RULES.has(name.replace(/-/g, '_'))) {
      for (const entry of entries) decoded.push(entry.raw);
      continue;
    }
    for (let i = 0; i < entries.length; i++) {
      const value = m.parseHeader(name, i);
      if (value === undefined) fail(`JsSIP: ${name}`);
      if (NAME_ADDR_HEADERS.has(name)) uriOf(value, name);
      decoded.push(value);
    }
  }
  return { message: m, decoded };
}

export const jssipAdapter: ParserAdapter = {
  name: 'JsSIP',
  routing,
  full,
  accepts: (raw) => acceptsVia(full, raw),
};
