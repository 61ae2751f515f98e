/**
 * npm `sip` 0.0.6 (kirm/sip.js): `require('sip').parse(raw)` and `require('sip').parseUri(uri)`.
 *
 * `parse` returns `undefined` when the start line or a header line does not match, and swallows an exception
 * thrown by a header's own parser (the header is then simply missing). It decodes Via, CSeq, To/From/Contact
 * (name-addr split, URI left as a string), Route/Record-Route/Path (URI parsed) and the auth headers eagerly;
 * every other header is a string. URIs of To/From/Contact/Refer-To and the Request-URI are parsed only when
 * `parseUri` is called — full mode calls it on each of them; `parseUri` returns `undefined` for a URI it cannot
 * parse (anything but sip:/sips:).
 */
import { createRequire } from 'node:module';
import { acceptsVia, fail, type FullResult, type ParserAdapter, type RoutingFields } from './types.ts';

interface SipUri {
  readonly schema: string;
  readonly user: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly params: Record<string, string | null>;
}
interface SipAor {
  readonly name: string | undefined;
  uri: string | SipUri | undefined;
  readonly params: Record<string, string | null>;
}
interface SipVia {
  readonly host: string;
  readonly params: Record<string, string | null>;
}
interface SipHeaders {
  readonly [name: string]: unknown;
  readonly via?: SipVia[];
  readonly to?: SipAor;
  readonly from?: SipAor;
  readonly 'call-id'?: string;
  readonly cseq?: { seq: number; method: string };
  readonly 'max-forwards'?: string;
  readonly route?: SipAor[];
  readonly 'content-length'?: number;
}
interface SipMessage {
  readonly method?: string;
  readonly uri?: string;
  readonly status?: number;
  readonly headers: SipHeaders;
}
interface SipModule {
  parse(raw: string): SipMessage | undefined;
  parseUri(uri: string | object): SipUri | undefined;
}

const require = createRequire(import.meta.url);
const sip = require('sip') as SipModule;

/** The headers `sip` reads as name-addr/addr-spec (its `parsers` table). */
const AOR_HEADERS = ['to', 'from', 'contact', 'route', 'record-route', 'path', 'refer-to'] as const;

function parse(raw: string): SipMessage {
  return sip.parse(raw) ?? fail('sip: parse returned undefined');
}

function parseUri(uri: string | SipUri | undefined, where: string): SipUri {
  if (uri === undefined) fail(`sip: no URI in ${where}`);
  return sip.parseUri(uri) ?? fail(`sip: parseUri failed on ${where}`);
}

function routing(raw: string): RoutingFields {
  const m = parse(raw);
  const h = m.headers;
  const maxForwards = h['max-forwards'];
  return {
    method: m.method,
    status: m.status,
    viaBranch: h.via?.[0]?.params.branch ?? undefined,
    fromTag: h.from?.params.tag ?? undefined,
    toTag: h.to?.params.tag ?? undefined,
    callId: h['call-id'],
    cseq: h.cseq?.seq,
    cseqMethod: h.cseq?.method,
    maxForwards: maxForwards === undefined ? undefined : Number(maxForwards),
    routeCount: h.route?.length ?? 0,
    route: h.route,
    contentLength: h['content-length'],
  };
}

function full(raw: string): FullResult {
  const m = parse(raw);
  const decoded: unknown[] = [];
  if (m.method !== undefined) decoded.push(parseUri(m.uri, 'Request-URI'));
  for (const name of AOR_HEADERS) {
    const value = m.headers[name] as SipAor | SipAor[] | '*' | undefined;
    if (value === undefined || value === '*') continue;
    for (const aor of Array.isArray(value) ? value : [value]) {
      // Keep the parsed URI on the name-addr, as a user of `sip` would.
      aor.uri = parseUri(aor.uri, name);
      decoded.push(aor);
    }
  }
  for (const name of Object.keys(m.headers)) decoded.push(m.headers[name]);
  return { message: m, decoded };
}

export const sipAdapter: ParserAdapter = {
  name: 'sip',
  routing,
  full,
  accepts: (raw) => acceptsVia(full, raw),
};
