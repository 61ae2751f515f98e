/**
 * Message builders for the dialog tests: Alice (the caller, UAC) and Bob (the callee, UAS), record-routing
 * proxies between them, and a small model of how loose (RFC 3261) and strict (RFC 2543) routers pass an
 * in-dialog request along, so a test can check that a request built from a route set really reaches the
 * other party. Every message crosses `wire()` (serialize, then parse strictly) on its way, as on a network.
 */
import {
  SipRequest,
  createResponse,
  parseMessage,
  parseUri,
  serializeMessage,
  type SipMessage,
  type SipResponse,
  type Uri,
} from '../../web/src/sip/index.ts';
import { copyRecordRoute, formatRoute, isLooseRoute } from '../../web/src/sip/dialog/index.ts';
export { seededRandom } from './seeded-random.ts';

export interface Party {
  display: string;
  aor: string;
  contact: string;
}

export const ALICE: Party = {
  display: 'Alice',
  aor: 'sip:alice@atlanta.example.com',
  contact: 'sip:alice@192.0.2.101:5060;transport=tcp',
};

export const BOB: Party = {
  display: 'Bob',
  aor: 'sip:bob@biloxi.example.com',
  contact: 'sip:bob@192.0.2.201:5060;transport=tcp',
};

/** The message as the far end reads it: serialized to bytes and parsed back (strict). */
export function wire<T extends SipMessage>(msg: T): T {
  return parseMessage(serializeMessage(msg)) as T;
}

/**
 * An in-dialog request as its client transaction sends it: with a Via on top (the dialog adds none), then
 * across the wire.
 */
export function send(request: SipRequest, host = '192.0.2.101'): SipRequest {
  const out = request.clone();
  out.headers.prepend(
    'Via',
    `SIP/2.0/TCP ${host}:5060;branch=z9hG4bK-${request.method.toLowerCase()}-${String(request.cseq.seq)}`,
  );
  return wire(out);
}

export interface RequestInit {
  method?: string;
  from?: Party;
  to?: Party;
  fromTag?: string;
  callId?: string;
  cseq?: number;
  /** the Request-URI; the callee's AOR by default */
  requestUri?: string;
  /** the Contact; the caller's by default, `null` for none */
  contact?: string | null;
  headers?: Record<string, string | string[]>;
  body?: string;
}

/** A dialog-creating request as the caller sends it (Alice → Bob's AOR by default). */
export function outOfDialogRequest(init: RequestInit = {}): SipRequest {
  const method = init.method ?? 'INVITE';
  const from = init.from ?? ALICE;
  const to = init.to ?? BOB;
  const headers: Record<string, string | string[]> = {
    Via: 'SIP/2.0/TCP 192.0.2.101:5060;branch=z9hG4bK-uac-1',
    'Max-Forwards': '70',
    From: `"${from.display}" <${from.aor}>;tag=${init.fromTag ?? 'a-tag'}`,
    To: `"${to.display}" <${to.aor}>`,
    'Call-ID': init.callId ?? 'call-1@atlanta.example.com',
    CSeq: `${String(init.cseq ?? 1)} ${method}`,
  };
  if (init.contact !== null) headers.Contact = `<${init.contact ?? from.contact}>`;
  Object.assign(headers, init.headers);
  return new SipRequest(method, parseUri(init.requestUri ?? to.aor), headers, init.body);
}

/**
 * The request as it reaches the callee through record-routing proxies, listed from the caller's side: each
 * adds its Via and puts its Record-Route value on top (RFC 3261 §16.6 step 4), so the last proxy's ends first.
 */
export function throughProxies(request: SipRequest, recordRoutes: readonly string[]): SipRequest {
  const out = request.clone();
  recordRoutes.forEach((rr, i) => {
    out.headers.prepend('Via', `SIP/2.0/TCP ${parseUri(rr).host};branch=z9hG4bK-proxy-${String(i)}`);
    out.headers.prepend('Record-Route', `<${rr}>`);
  });
  return wire(out);
}

export interface AnswerInit {
  toTag?: string;
  /** the callee's Contact; Bob's by default, `null` for none */
  contact?: string | null;
  headers?: Record<string, string | string[]>;
  body?: string;
}

/**
 * The callee's response (§8.2.6, §12.1.1): createResponse with its To tag, Record-Route copied from the
 * request, and its Contact.
 */
export function answer(request: SipRequest, status: number, init: AnswerInit = {}): SipResponse {
  const response = createResponse(request, status, {
    toTag: init.toTag ?? 'b-tag',
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  if (status > 100 && status < 300) copyRecordRoute(request, response);
  if (init.contact !== null && status > 100)
    response.headers.set('Contact', `<${init.contact ?? BOB.contact}>`);
  for (const [name, value] of Object.entries(init.headers ?? {})) response.headers.set(name, value);
  return response;
}

/** The response as the caller reads it: each proxy took its Via off the top (§16.7 step 3). */
export function backThroughProxies(response: SipResponse, proxies: number): SipResponse {
  const out = response.clone();
  for (let i = 0; i < proxies; i++) out.headers.shift('Via');
  return wire(out);
}

/** A proxy on the path: its Record-Route URI, and whether it routes strictly (RFC 2543, no `lr`). */
export interface ProxyHop {
  uri: string;
  strict?: boolean;
}

export interface Delivery {
  request: SipRequest;
  /** the hosts of the proxies the request went through, in order */
  hops: string[];
  /** where the last proxy (or the UA) sent it */
  arrivedAt: Uri;
}

/**
 * Carry an in-dialog request from the UA that built it to the first element that is not one of `proxies`.
 * `firstHop` is where the sending UA sends it (the dialog's `target.nextHop`, §8.1.2). Loose proxies follow
 * RFC 3261 §16.4 (take their own Route value off; when a strict router put them in the Request-URI, restore
 * the Request-URI from the last Route) and §16.6 step 6 (before a strict next hop, move the Request-URI to the
 * end of Route and the strict router into the Request-URI); strict proxies do what RFC 2543 did (the first
 * Route becomes the Request-URI) and forward to the Request-URI.
 */
export function deliver(request: SipRequest, firstHop: Uri, proxies: readonly ProxyHop[]): Delivery {
  const req = request.clone();
  const hops: string[] = [];
  let next = firstHop;
  for (let guard = 0; guard < 16; guard++) {
    const proxy = proxies.find((p) => parseUri(p.uri).host === next.host);
    if (proxy === undefined) return { request: req, hops, arrivedAt: next };
    const self = parseUri(proxy.uri);
    hops.push(self.host);
    const routes = req.route.map((r) => r.uri);
    if (proxy.strict) {
      req.uri = routes.shift() ?? req.uri;
    } else if (req.uri.host === self.host) {
      req.uri = routes.pop() ?? req.uri;
    } else if (routes[0]?.host === self.host) {
      routes.shift();
    }
    const top = routes[0];
    if (proxy.strict || top === undefined) {
      next = req.uri;
    } else if (isLooseRoute(top)) {
      next = top;
    } else {
      routes.push(req.uri);
      req.uri = routes.shift() ?? req.uri;
      next = req.uri;
    }
    if (routes.length === 0) req.headers.delete('Route');
    else req.headers.set('Route', routes.map(formatRoute));
  }
  throw new Error('routing loop');
}
