/**
 * The header surgery of the edge proxy, as pure functions on parsed messages (no sockets, no clock):
 *
 *   stampReceived        RFC 3261 §18.2.1 + RFC 3581 §4: `received`/`rport` on the top Via of an arriving request
 *   pushVia / popVia     RFC 3261 §16.6 step 8, §16.7 step 3
 *   deriveBranch         RFC 3261 §16.11: our branch is a function of the incoming request, so that a
 *                        retransmission, its CANCEL and a non-2xx ACK forwarded statelessly would match
 *   takeMaxForwards      RFC 3261 §16.3 step 3 (483 at 0), §16.6 step 3
 *   popOwnRoutes         RFC 3261 §16.4: pop the Route values that name us (loose routing)
 *   addPath              RFC 3327 §5.2, RFC 5626 §5.1 (`ob`)
 *   addRecordRoutes      RFC 3261 §16.6 step 4 and RFC 5658 §4: two values when the request changes transport
 *   compat contacts      without Path support at the registrar: the flow token rides in the Contact URI
 */
import { hash as oneShotHash } from 'node:crypto';

import {
  formatNameAddr,
  formatVia,
  ParamMap,
  parseUri,
  type NameAddr,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type Uri,
  type Via,
} from '../../web/src/sip/server.ts';

export type SignalTransport = 'udp' | 'tcp' | 'ws' | 'wss';

/** The Via transport names (RFC 3261 §20.42, RFC 7118 §5). */
export const VIA_TRANSPORT: Readonly<Record<SignalTransport, string>> = {
  udp: 'UDP',
  tcp: 'TCP',
  ws: 'WS',
  wss: 'WSS',
};

/** The branch prefix of every Via this gateway pushes: the magic cookie, then `gw.` (never made by a UA). */
export const BRANCH_PREFIX = 'z9hG4bKgw.';

// ---- addresses ------------------------------------------------------------------------------------------------

/** A host as it may appear in a URI or Via sent-by: IPv6 literals in brackets. */
export function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** A host without IPv6 brackets, lowercased, for comparisons and sockets. */
export function bareHost(host: string): string {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return h.toLowerCase();
}

/** `host:port` with IPv6 in brackets: the form FlowInfo.remote uses. */
export function formatRemote(host: string, port: number): string {
  return `${uriHost(host)}:${port}`;
}

export function parseRemote(remote: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(remote);
  if (m === null) return undefined;
  return { host: bareHost(m[1] ?? ''), port: Number(m[2]) };
}

/** The names and ports under which this gateway is reachable: what "a URI that points at us" means. */
export class OwnAddresses {
  readonly #hosts = new Set<string>();
  readonly #ports = new Set<number>();

  constructor(hosts: Iterable<string>, ports: Iterable<number>) {
    for (const host of hosts) this.#hosts.add(bareHost(host));
    for (const port of ports) this.#ports.add(port);
  }

  /** RFC 3261 §16.4: does this URI name this element (host and port, the default port 5060 when absent)? */
  isOurs(uri: Uri): boolean {
    if (!uri.isSip) return false;
    const port = uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060);
    return this.#hosts.has(bareHost(uri.host)) && this.#ports.has(port);
  }
}

// ---- Via ---------------------------------------------------------------------------------------------------------

/** Replaces the topmost Via value (splitting a comma-separated field if need be). */
function replaceTopVia(message: SipMessage, via: Via): void {
  message.headers.shift('via');
  message.headers.prepend('Via', formatVia(via));
}

/**
 * RFC 3261 §18.2.1 and RFC 3581 §4: the source address goes into `received`, the source port into `rport`. The
 * WebSocket sent-by is always a made-up `.invalid` host (RFC 7118 §5.2), so both are always written, as a
 * force_rport would; for other transports `received` is written when the sent-by differs from the source, and
 * `rport` when the client asked for it.
 */
export function stampReceived(request: SipRequest, host: string, port: number, always: boolean): void {
  const top = request.topVia;
  if (top === undefined) return;
  const source = bareHost(host);
  const addReceived = always || bareHost(top.host) !== source;
  const addRport = always || top.params.has('rport');
  // Nothing to add: the Via stays as the sender wrote it (and the message's parsed views stay valid).
  if (!addReceived && !addRport) return;
  const received = addReceived ? `;received=${source}` : '';
  const rport = addRport ? `;rport=${port}` : '';
  // The usual case: the first Via field is this Via alone, without received or rport yet: append to its text.
  const text = request.headers.get('via');
  if (text !== undefined && !text.includes(',') && !top.params.has('received') && !top.params.has('rport')) {
    request.headers.shift('via');
    request.headers.prepend('Via', text + received + rport);
    return;
  }
  const entries: [string, string | null][] = [...top.params];
  // RFC 3261 §20.42: an IPv6 `received` is written bare (IPv6address, not an IPv6reference).
  if (addReceived) entries.push(['received', source]);
  if (addRport) entries.push(['rport', String(port)]);
  replaceTopVia(request, { ...top, params: ParamMap.from(entries) });
}

export function pushVia(message: SipMessage, via: string): void {
  message.headers.prepend('Via', via);
}

/** Removes the top Via; returns it (undefined when there was none). */
export function popVia(response: SipResponse): Via | undefined {
  const top = response.topVia;
  if (top === undefined) return undefined;
  response.headers.shift('via');
  return top;
}

/** Our Via value; `rport` (RFC 3581) is asked for over UDP only, where the source port matters. */
export function formatOwnVia(transport: SignalTransport, host: string, port: number, branch: string): string {
  const rport = transport === 'udp' ? ';rport' : '';
  return `SIP/2.0/${VIA_TRANSPORT[transport]} ${uriHost(host)}:${port};branch=${branch}${rport}`;
}

/**
 * RFC 3261 §16.11: a branch computed from the incoming request's own branch and sent-by (or, for an RFC 2543 peer
 * without the magic cookie, from the fields that identify its transaction), never from the method, so that a
 * CANCEL or a non-2xx ACK would get the branch of its INVITE. The flow token of the WebSocket connection involved
 * leads the branch, so a response that outlived its transaction still finds its way (RFC 5626 §5.3).
 */
export function deriveBranch(request: SipRequest, flowToken: string): string {
  return branchFromSeed(branchSeed(request), flowToken);
}

/**
 * What deriveBranch hashes from the request: read it while the request's parsed views are current (before a
 * header of it is rewritten), combine it with the flow token later.
 */
export function branchSeed(request: SipRequest): string {
  const via = request.topVia;
  const branch = via?.branch;
  return branch !== undefined && branch.startsWith('z9hG4bK')
    ? `3261\n${branch.toLowerCase()}\n${via?.host.toLowerCase() ?? ''}:${via?.port ?? ''}`
    : [
        '2543',
        request.uri.toString(),
        request.toTag ?? '',
        request.fromTag ?? '',
        request.callId,
        String(request.cseq.seq),
        via === undefined ? '' : `${via.host}:${via.port ?? ''};${branch ?? ''}`,
      ].join('\n');
}

/** deriveBranch from a branchSeed: one-shot SHA-256 (no Hash object per request: this runs for every request). */
export function branchFromSeed(seed: string, flowToken: string): string {
  const digest = oneShotHash('sha256', `${seed}\n${flowToken}`, 'base64url');
  return `${BRANCH_PREFIX}${flowToken}.${digest.slice(0, 16)}`;
}

/** The flow token in one of our branches, or undefined when the branch is not ours. */
export function tokenOfBranch(branch: string | undefined): string | undefined {
  if (branch === undefined || !branch.startsWith(BRANCH_PREFIX)) return undefined;
  const rest = branch.slice(BRANCH_PREFIX.length);
  const dot = rest.indexOf('.');
  return dot <= 0 ? undefined : rest.slice(0, dot);
}

const TAG_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A To tag for a response the gateway makes itself (RFC 3261 §8.2.6.2, §19.3: at least 32 bits of randomness). */
export function randomTag(random: () => number): string {
  let tag = '';
  for (let i = 0; i < 10; i++) tag += TAG_ALPHABET.charAt(Math.floor(random() * TAG_ALPHABET.length));
  return tag;
}

// ---- Max-Forwards --------------------------------------------------------------------------------------------

/**
 * RFC 3261 §16.3 step 3 and §16.6 step 3: false when Max-Forwards is 0 (the caller answers 483); otherwise the
 * value is decremented, or set to 70 when absent.
 */
export function takeMaxForwards(request: SipRequest, value = request.maxForwards): boolean {
  if (value === 0) return false;
  request.headers.set('Max-Forwards', String(value === undefined ? 70 : value - 1));
  return true;
}

// ---- Route, Path, Record-Route ---------------------------------------------------------------------------------

/**
 * RFC 3261 §16.4: while the topmost Route names this element, remove it. Returns the removed values, topmost
 * first (their user parts hold our flow tokens). `routes`: the request's Route values when already parsed (from
 * a copy of the request with the same Route fields).
 */
export function popOwnRoutes(request: SipRequest, own: OwnAddresses, routes = request.route): NameAddr[] {
  const popped: NameAddr[] = [];
  for (const top of routes) {
    if (!own.isOurs(top.uri)) break;
    request.headers.shift('route');
    popped.push(top);
  }
  return popped;
}

/** The URI of one of our hops: the flow token as user part, the transport, `lr` (and `ob` for an RFC 5626 Path). */
export function hopUri(
  token: string,
  host: string,
  port: number,
  transport: SignalTransport,
  ob = false,
): string {
  return `sip:${token}@${uriHost(host)}:${port};transport=${transport};lr${ob ? ';ob' : ''}`;
}

/** RFC 3327 §5.2: our Path value goes on top of any already present. */
export function addPath(request: SipRequest, uri: string): void {
  request.headers.prepend('Path', `<${uri}>`);
}

/**
 * RFC 5626 §5.1: the first-hop edge proxy adds `ob` to its Path when the REGISTER asks for outbound: a Contact with
 * `reg-id` (or an `ob` URI parameter, which JsSIP and SIP.js set).
 */
export function wantsOutbound(request: SipRequest): boolean {
  return request.contacts.some(
    (contact) => contact.uri.param('ob') !== undefined || contact.params.has('reg-id'),
  );
}

/**
 * RFC 5658 §4 (double record-routing): `inbound` names us on the side the request came from, `outbound` on the
 * side it leaves by. Record-Route values are stacked, so the outbound one (the one the next hop will use to reach
 * us) ends on top.
 */
export function addRecordRoutes(request: SipRequest, inbound: string, outbound: string): void {
  request.headers.prepend('Record-Route', `<${inbound}>`);
  request.headers.prepend('Record-Route', `<${outbound}>`);
}

/** RFC 3261 §12.1: the requests that create a dialog (when sent without a To tag). */
const DIALOG_FORMING = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

export function formsDialog(request: SipRequest): boolean {
  return DIALOG_FORMING.has(request.method) && request.toTag === undefined;
}

// ---- compatibility mode: the flow token in the Contact URI -----------------------------------------------------

/** The URI parameters of a rewritten Contact: the flow token and the original URI. */
export const COMPAT_FLOW_PARAM = 'gw-flow';
export const COMPAT_CONTACT_PARAM = 'gw-ct';

/**
 * For a registrar without Path support: every Contact of a REGISTER is made to point at the gateway, with the flow
 * token and the original URI (base64url) as URI parameters. The user part is kept, so a UA still recognises its
 * binding in the 200 (JsSIP and SIP.js compare +sip.instance/reg-id or the user). Header parameters (expires, q,
 * +sip.instance, reg-id) are kept. "Contact: *" is left alone.
 */
export function rewriteContactsForCompat(
  request: SipRequest,
  token: string,
  host: string,
  port: number,
  transport: SignalTransport,
): void {
  if (request.contactStar) return;
  const contacts = request.contacts;
  if (contacts.length === 0) return;
  const rewritten = contacts.map((contact) => {
    const original = Buffer.from(contact.uri.toString(), 'utf8').toString('base64url');
    const user = contact.uri.user === undefined ? '' : `${contact.uri.user}@`;
    const uri = parseUri(
      `sip:${user}${uriHost(host)}:${port};transport=${transport};${COMPAT_FLOW_PARAM}=${token};${COMPAT_CONTACT_PARAM}=${original}`,
    );
    return formatNameAddr({ ...contact, uri });
  });
  request.headers.set('Contact', rewritten);
}

/** The original URI of a rewritten Contact (or Request-URI), or undefined when it is not one of ours. */
export function originalContactUri(uri: Uri): Uri | undefined {
  const encoded = uri.param(COMPAT_CONTACT_PARAM);
  if (encoded === undefined || encoded === null) return undefined;
  try {
    return parseUri(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The flow token of a rewritten Contact / Request-URI. */
export function compatTokenOf(uri: Uri): string | undefined {
  const token = uri.param(COMPAT_FLOW_PARAM);
  return token === null ? undefined : token;
}

/** In a REGISTER response: every Contact the gateway rewrote is shown to the UA as it registered it. */
export function restoreContactsForCompat(response: SipResponse): void {
  if (!response.headers.has('contact')) return;
  const contacts = response.contacts;
  if (!contacts.some((c) => originalContactUri(c.uri) !== undefined)) return;
  response.headers.set(
    'Contact',
    contacts.map((contact) => {
      const original = originalContactUri(contact.uri);
      return formatNameAddr(original === undefined ? contact : { ...contact, uri: original });
    }),
  );
}

// ---- logs ------------------------------------------------------------------------------------------------------

/** The headers whose values never reach a log (credentials). */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization']);

/** A one-line summary for logs: start line, Call-ID, CSeq. Never a body, never a credential. */
export function describeMessage(message: SipMessage): Record<string, string | number> {
  const out: Record<string, string | number> =
    message.kind === 'request'
      ? { method: message.method, ruri: message.uri.toString() }
      : { status: message.status };
  const callId = message.headers.get('call-id');
  const cseq = message.headers.get('cseq');
  if (callId !== undefined) out.callId = callId;
  if (cseq !== undefined) out.cseq = cseq;
  return out;
}

/** The header section for debug logs, credentials replaced by "<redacted>"; the body is left out. */
export function redactedHead(message: SipMessage): string[] {
  const lines = [
    message.kind === 'request'
      ? `${message.method} ${message.uri.toString()} SIP/2.0`
      : `SIP/2.0 ${message.status} ${message.reason}`,
  ];
  for (const field of message.headers) {
    if (SECRET_HEADERS.has(field.key)) {
      const scheme = /^\s*(\S+)/.exec(field.value)?.[1] ?? '';
      lines.push(`${field.name}: ${scheme} <redacted>`);
    } else {
      lines.push(`${field.name}: ${field.value}`);
    }
  }
  if (message.body.length > 0) lines.push(`(body: ${message.body.length} bytes)`);
  return lines;
}
