/**
 * SIP requests and responses (RFC 3261 §7). A message is a start line, a SipHeaders and a body of bytes.
 * Typed getters parse on first use (and throw ParseError for a malformed value); the raw text of every
 * header stays available through `headers`.
 */
import { ParseError } from '../errors.ts';
import { utf8Decoder, utf8Encoder } from './chars.ts';
import { SipHeaders, T, type HeaderField, type HeaderType } from './headers.ts';
import { Resident } from './resident.ts';
import { paramValue } from './scanner.ts';
import type { Uri } from './uri.ts';
import type {
  AuthValue,
  CSeq,
  ContactPreference,
  ContactValue,
  EventHeader,
  MediaType,
  NameAddr,
  RAck,
  Replaces,
  RetryAfter,
  SubscriptionState,
  Via,
  Warning,
} from './values.ts';

export type SipBody = Uint8Array;
const EMPTY = new Uint8Array(0);

/** A recent TextBody, kept alive (resident.ts). */
const RESIDENT = new Resident<TextBody>(256);

/**
 * A body that arrived as text (a WebSocket text frame): kept as the string and encoded to bytes only when the
 * bytes are asked for. The parser has already checked its UTF-8 length against Content-Length.
 */
export class TextBody {
  constructor(
    readonly text: string,
    readonly byteLength: number,
  ) {
    if (RESIDENT.due()) RESIDENT.keep(this);
  }
}

abstract class SipMessageBase {
  readonly headers: SipHeaders;
  #body: SipBody | undefined;
  #text: string | undefined;
  #textBytes = 0;

  constructor(
    headers: SipHeaders | Iterable<[string, string]> | Record<string, string | string[]> | undefined,
    body: SipBody | string | TextBody | undefined,
  ) {
    this.headers =
      headers instanceof SipHeaders
        ? headers
        : headers === undefined
          ? new SipHeaders()
          : SipHeaders.from(headers);
    if (body instanceof TextBody) {
      this.#text = body.text;
      this.#textBytes = body.byteLength;
    } else this.body = body ?? EMPTY;
  }

  /** The body as bytes (RFC 3261 §7.4: the body is opaque octets; only its Content-Type says if it is text). */
  get body(): SipBody {
    return (this.#body ??=
      this.#text === undefined || this.#text === '' ? EMPTY : utf8Encoder.encode(this.#text));
  }

  set body(value: SipBody | string) {
    this.#body = typeof value === 'string' ? utf8Encoder.encode(value) : value;
    this.#text = undefined;
  }

  /** The body's length in bytes, without encoding a body that arrived as text. */
  get bodyLength(): number {
    return this.#body !== undefined ? this.#body.length : this.#text !== undefined ? this.#textBytes : 0;
  }

  /** The body decoded as UTF-8 (for text/* and the XML bodies of the IM extensions). */
  get bodyText(): string {
    return this.#text ?? utf8Decoder.decode(this.body);
  }

  // ---- the routing set -----------------------------------------------------------------------------------
  get via(): Via[] {
    return this.headers.typedListOf<Via>(T['via']);
  }
  get topVia(): Via | undefined {
    return this.via[0];
  }
  get from(): NameAddr {
    return this.#required<NameAddr>(T['from'], 'From');
  }
  get to(): NameAddr {
    return this.#required<NameAddr>(T['to'], 'To');
  }
  get fromTag(): string | undefined {
    return paramValue(this.from.params, 'tag');
  }
  get toTag(): string | undefined {
    return paramValue(this.to.params, 'tag');
  }
  get callId(): string {
    return this.#required<string>(T['call-id'], 'Call-ID');
  }
  get cseq(): CSeq {
    return this.#required<CSeq>(T['cseq'], 'CSeq');
  }
  get maxForwards(): number | undefined {
    return this.headers.typedOf<number>(T['max-forwards']);
  }
  get route(): NameAddr[] {
    return this.headers.typedListOf<NameAddr>(T['route']);
  }
  get recordRoute(): NameAddr[] {
    return this.headers.typedListOf<NameAddr>(T['record-route']);
  }
  get path(): NameAddr[] {
    return this.headers.typedListOf<NameAddr>(T['path']);
  }
  get serviceRoute(): NameAddr[] {
    return this.headers.typedListOf<NameAddr>(T['service-route']);
  }

  // ---- the rest of SPEC.md §2 -----------------------------------------------------------------------------
  /** Contact addresses; `contactStar` tells a REGISTER's "Contact: *". */
  get contacts(): NameAddr[] {
    return this.headers.typedListOf<ContactValue>(T['contact']).filter((c): c is NameAddr => c !== '*');
  }
  get contactStar(): boolean {
    return this.headers.typedListOf<ContactValue>(T['contact']).includes('*');
  }
  get contentType(): MediaType | undefined {
    return this.headers.typedOf<MediaType>(T['content-type']);
  }
  get expires(): number | undefined {
    return this.headers.typedOf<number>(T['expires']);
  }
  get minExpires(): number | undefined {
    return this.headers.typedOf<number>(T['min-expires']);
  }
  /** Date in epoch ms; undefined when absent or not in GMT. */
  get date(): number | undefined {
    return this.headers.typedOf<number>(T['date']);
  }
  get require(): string[] {
    return this.headers.typedListOf<string>(T['require']);
  }
  get proxyRequire(): string[] {
    return this.headers.typedListOf<string>(T['proxy-require']);
  }
  get supported(): string[] {
    return this.headers.typedListOf<string>(T['supported']);
  }
  get unsupported(): string[] {
    return this.headers.typedListOf<string>(T['unsupported']);
  }
  get allow(): string[] {
    return this.headers.typedListOf<string>(T['allow']);
  }
  get accept(): MediaType[] {
    return this.headers.typedListOf<MediaType>(T['accept']);
  }
  get event(): EventHeader | undefined {
    return this.headers.typedOf<EventHeader>(T['event']);
  }
  get allowEvents(): string[] {
    return this.headers.typedListOf<string>(T['allow-events']);
  }
  get subscriptionState(): SubscriptionState | undefined {
    return this.headers.typedOf<SubscriptionState>(T['subscription-state']);
  }
  get rseq(): number | undefined {
    return this.headers.typedOf<number>(T['rseq']);
  }
  get rack(): RAck | undefined {
    return this.headers.typedOf<RAck>(T['rack']);
  }
  get referTo(): NameAddr | undefined {
    return this.headers.typedOf<NameAddr>(T['refer-to']);
  }
  get replaces(): Replaces | undefined {
    return this.headers.typedOf<Replaces>(T['replaces']);
  }
  get sipETag(): string | undefined {
    return this.headers.typedOf<string>(T['sip-etag']);
  }
  get sipIfMatch(): string | undefined {
    return this.headers.typedOf<string>(T['sip-if-match']);
  }
  get acceptContact(): ContactPreference[] {
    return this.headers.typedListOf<ContactPreference>(T['accept-contact']);
  }
  get rejectContact(): ContactPreference[] {
    return this.headers.typedListOf<ContactPreference>(T['reject-contact']);
  }
  get requestDisposition(): string[] {
    return this.headers.typedListOf<string>(T['request-disposition']);
  }
  get wwwAuthenticate(): AuthValue[] {
    return this.headers.typedListOf<AuthValue>(T['www-authenticate']);
  }
  get proxyAuthenticate(): AuthValue[] {
    return this.headers.typedListOf<AuthValue>(T['proxy-authenticate']);
  }
  get authorization(): AuthValue[] {
    return this.headers.typedListOf<AuthValue>(T['authorization']);
  }
  get proxyAuthorization(): AuthValue[] {
    return this.headers.typedListOf<AuthValue>(T['proxy-authorization']);
  }
  get retryAfter(): RetryAfter | undefined {
    return this.headers.typedOf<RetryAfter>(T['retry-after']);
  }
  get warning(): Warning[] {
    return this.headers.typedListOf<Warning>(T['warning']);
  }

  #required<V>(type: HeaderType, name: string): V {
    const v = this.headers.typedOf<V>(type);
    if (v === undefined) throw new ParseError(`missing ${name} header`, 0);
    return v;
  }
}

export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const;
  /** Method names are case-sensitive (RFC 3261 §7.1). */
  method: string;
  uri: Uri;

  constructor(
    method: string,
    uri: Uri,
    headers?: SipHeaders | Iterable<[string, string]> | Record<string, string | string[]>,
    body?: SipBody | string | TextBody,
  ) {
    super(headers, body);
    this.method = method;
    this.uri = uri;
  }

  clone(): SipRequest {
    return new SipRequest(this.method, this.uri, this.headers.clone(), this.body);
  }
}

export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const;
  status: number;
  reason: string;

  constructor(
    status: number,
    reason: string,
    headers?: SipHeaders | Iterable<[string, string]> | Record<string, string | string[]>,
    body?: SipBody | string | TextBody,
  ) {
    super(headers, body);
    this.status = status;
    this.reason = reason;
  }

  clone(): SipResponse {
    return new SipResponse(this.status, this.reason, this.headers.clone(), this.body);
  }
}

export type SipMessage = SipRequest | SipResponse;

/** RFC 3261 §21: default reason phrases. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  412: 'Conditional Request Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  417: 'Unknown Resource-Priority',
  420: 'Bad Extension',
  421: 'Extension Required',
  423: 'Interval Too Brief',
  428: 'Use Identity Header',
  429: 'Provide Referrer Identity',
  430: 'Flow Failed',
  433: 'Anonymity Disallowed',
  439: 'First Hop Lacks Outbound Support',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  494: 'Security Agreement Required',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  580: 'Precondition Failure',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Progress' : status < 300 ? 'OK' : 'Error');
}

/**
 * RFC 3261 §8.2.6.2: a response copies Via (all, in order), From, Call-ID and CSeq from the request, and To,
 * adding `toTag` unless the request's To already has one (a 100 Trying carries no new tag, §8.2.6.1).
 * Timestamp is copied for 100 Trying (§8.2.6.1).
 */
export function createResponse(
  request: SipRequest,
  status: number,
  options: {
    reason?: string;
    toTag?: string;
    headers?: Record<string, string | string[]>;
    body?: SipBody | string;
  } = {},
): SipResponse {
  const fields: HeaderField[] = [];
  for (const f of request.headers) {
    if (f.key === 'via' || f.key === 'from' || f.key === 'call-id' || f.key === 'cseq') fields.push(f);
    else if (f.key === 'to') {
      const hasTag = request.toTag !== undefined;
      fields.push(
        hasTag || options.toTag === undefined || status === 100
          ? f
          : { ...f, value: `${f.value};tag=${options.toTag}`, offset: 0 },
      );
    } else if (f.key === 'timestamp' && status === 100) fields.push(f);
  }
  const response = new SipResponse(
    status,
    options.reason ?? reasonPhrase(status),
    new SipHeaders(fields),
    options.body,
  );
  if (options.headers) for (const [k, v] of Object.entries(options.headers)) response.headers.set(k, v);
  return response;
}
