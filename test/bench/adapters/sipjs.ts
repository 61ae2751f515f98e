/**
 * SIP.js 0.21: `Core.Parser.parseMessage(data, logger)` from the ESM package `sip.js`.
 *
 * Returns `undefined` on failure after logging through the logger, which comes from a LoggerFactory with its
 * built-in console output switched off (and no connector), so nothing is printed. Like JsSIP (its ancestor) it
 * runs its PEG grammar on the top Via, From, To, Call-ID, CSeq, Contact, Record-Route and a few more while
 * parsing; the rest stays raw until `parseHeader(name, i)`.
 */
import { Core, Grammar, NameAddrHeader, URI } from 'sip.js';
import { acceptsVia, fail, type FullResult, type ParserAdapter, type RoutingFields } from './types.ts';

type IncomingMessage = Core.IncomingRequestMessage | Core.IncomingResponseMessage;

const loggerFactory = new Core.LoggerFactory();
loggerFactory.builtinEnabled = false;
const logger = loggerFactory.getLogger('bench');

/** Start rules of SIP.js's grammar that decode a whole header value (header name with '-' → '_'). */
const HEADER_RULES = new Set([
  'Call_ID',
  'Contact',
  'Content_Disposition',
  'Content_Length',
  'Content_Type',
  'CSeq',
  'Event',
  'From',
  'Max_Forwards',
  'Min_SE',
  'Proxy_Authenticate',
  'Record_Route',
  'Refer_To',
  'Referred_By',
  'Replaces',
  'Require',
  'Session_Expires',
  'Subscription_State',
  'Supported',
  'To',
  'Via',
  'WWW_Authenticate',
]);
const NAME_ADDR_HEADERS = new Set(['From', 'To', 'Contact', 'Record-Route', 'Refer-To', 'Referred-By']);

function parse(raw: string): IncomingMessage {
  return Core.Parser.parseMessage(raw, logger) ?? fail('SIP.js: parseMessage returned undefined');
}

function checkUri(value: unknown, where: string): void {
  if (
    !(value instanceof NameAddrHeader) ||
    !(value.uri instanceof URI) ||
    typeof value.uri.host !== 'string'
  ) {
    fail(`SIP.js: no URI in ${where}`);
  }
}

function routing(raw: string): RoutingFields {
  const m = parse(raw);
  const isResponse = m instanceof Core.IncomingResponseMessage;
  const cseq = m.parseHeader('cseq') as { value: number; method: string } | undefined;
  const route = m.getHeaders('route');
  return {
    method: isResponse ? undefined : m.method,
    status: isResponse ? m.statusCode : undefined,
    viaBranch: m.viaBranch,
    fromTag: m.fromTag ?? undefined,
    toTag: m.toTag ?? undefined,
    callId: m.callId,
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
  // A sip:/sips: Request-URI arrives as a parsed URI; any other scheme is accepted without a URI object,
  // which is SIP.js's representation, not a failure.
  if (m instanceof Core.IncomingRequestMessage) decoded.push(m.ruri);
  for (const name of Object.keys(m.headers)) {
    const entries = m.headers[name]!;
    if (name === 'Route') {
      // SIP.js has no Route rule; its Record_Route rule is the same ABNF.
      for (const entry of entries) {
        const values: unknown = Grammar.parse(entry.raw, 'Record_Route');
        if (!Array.isArray(values)) fail('SIP.js: Route');
        for (const value of values as { parsed: unknown }[]) {
          checkUri(value.parsed, 'Route');
          decoded.push(value.parsed);
        }
      }
      continue;
    }
    if (!HEADER_RULES.has(name.replace(/-/g, '_'))) {
      for (const entry of entries) decoded.push(entry.raw);
      continue;
    }
    for (let i = 0; i < entries.length; i++) {
      const value: unknown = m.parseHeader(name, i);
      if (value === undefined) fail(`SIP.js: ${name}`);
      if (NAME_ADDR_HEADERS.has(name)) checkUri(value, name);
      decoded.push(value);
    }
  }
  return { message: m, decoded };
}

export const sipjsAdapter: ParserAdapter = {
  name: 'SIP.js',
  routing,
  full,
  accepts: (raw) => acceptsVia(full, raw),
};
