/**
 * The MESSAGE URI-list service of the embedded core (RFC 5365, with RFC 4826 resource lists and RFC 5364 copy
 * control): the pure part — reading the sender's request, and building the copy each recipient gets. The core
 * (sip-core.ts) authenticates the sender, answers 202 and sends the copies through its proxy and message store.
 *
 *   MESSAGE sip:uri-list@<domain>          Require: recipient-list
 *   Content-Type: multipart/mixed;boundary=…
 *     ├ application/resource-lists+xml     Content-Disposition: recipient-list   (who: to / cc / bcc)
 *     └ text/plain or message/cpim         (what: the message part)
 *
 *   → to each recipient, once:  MESSAGE <recipient>   From: the sender   To: the recipient
 *     body: the message part, or, when the list has to/cc recipients, multipart/mixed with the message part and
 *     an application/resource-lists+xml part (Content-Disposition: recipient-list-history) naming them.
 *
 * Decisions where the RFCs leave a choice:
 *  - Status codes: 421 (with Require) without `Require: recipient-list`, 420 for other option tags; 415 (with
 *    Accept) for a body that is not multipart/mixed or a list that is not resource-lists; 400 with a reason for
 *    a missing or malformed list or message part; 403 for too many recipients (not 413, which a client takes to
 *    mean "the body is too big, use a session") and for list references (entry-ref/external) we cannot resolve.
 *  - Exactly one message part besides the list (a second one is refused rather than guessed at).
 *  - Duplicates are the same address of record (RFC 3261 §10.3 step 5 form; ports and other schemes compare as
 *    text). When one address appears with several roles, the least visible one counts (bcc over cc over to) and
 *    `anonymize` on any occurrence counts: the sender's privacy choice is never weakened.
 *  - The message part is forwarded unchanged (same bytes, same imdn.Message-ID), so recipients' IMDNs correlate
 *    at the sender; no imdn.Original-To is added (each recipient's own URI is what the sender listed).
 */
import {
  ParseError,
  RECIPIENT_LIST_DISPOSITION,
  RESOURCE_LISTS_CONTENT_TYPE,
  SipHeaders,
  SipRequest,
  buildResourceLists,
  formatNameAddr,
  paramValue,
  parseCpim,
  parseMediaType,
  parseMultipart,
  parseResourceLists,
  parseUri,
  quote,
  serializeMultipart,
  type BodyPart,
  type CopyControl,
  type CpimMessage,
  type ResourceEntry,
  type Uri,
} from '../../web/src/sip/server.ts';

/** The user part of the service's Request-URI: `sip:uri-list@<domain>`. */
export const URI_LIST_USER = 'uri-list';
/** RFC 5365 §5: the option tag a request for the service carries in Require. */
export const RECIPIENT_LIST_OPTION = 'recipient-list';
/** RFC 5365 §4: the Content-Disposition of the list the recipients see. */
export const RECIPIENT_LIST_HISTORY_DISPOSITION = 'recipient-list-history';
export const DEFAULT_MAX_RECIPIENTS = 50;
/** RFC 5364: what an anonymized recipient looks like to the others. */
export const ANONYMOUS_URI = 'sip:anonymous@anonymous.invalid';
/** What the service takes (Accept in 415 and OPTIONS). */
export const URI_LIST_ACCEPT = `multipart/mixed, ${RESOURCE_LISTS_CONTENT_TYPE}, text/plain, message/cpim`;

export interface ListRecipient {
  /** the URI as the list wrote it */
  readonly uri: string;
  readonly parsed: Uri;
  readonly displayName: string | undefined;
  readonly copyControl: CopyControl;
  readonly anonymize: boolean;
}

export interface MessagePart {
  readonly contentType: string;
  readonly body: Uint8Array;
  /** the part parsed as message/cpim (for IMDN), when it is one */
  readonly cpim: CpimMessage | undefined;
}

export interface UriListRequest {
  /** each recipient once, in list order */
  readonly recipients: readonly ListRecipient[];
  readonly message: MessagePart;
  /** what the recipients see of each other: the to/cc recipients, anonymized where asked; empty: none */
  readonly history: readonly ResourceEntry[];
}

export interface UriListRefusal {
  readonly status: number;
  readonly reason: string;
  readonly headers: Readonly<Record<string, string>>;
}

export type UriListParse =
  | { readonly ok: true; readonly value: UriListRequest }
  | { readonly ok: false; readonly refusal: UriListRefusal };

export interface UriListOptions {
  readonly maxRecipients?: number | undefined;
}

const refuse = (status: number, reason: string, headers: Record<string, string> = {}): UriListParse => ({
  ok: false,
  refusal: { status, reason, headers },
});

/** The disposition type of a Content-Disposition value (`recipient-list;handling=required` → recipient-list). */
function dispositionOf(value: string | undefined): string | undefined {
  return value?.split(';', 1)[0]?.trim().toLowerCase();
}

function mediaTypeOf(value: string | undefined): { type: string; boundary: string | undefined } | undefined {
  if (value === undefined) return undefined;
  try {
    const m = parseMediaType(value);
    return { type: `${m.type}/${m.subtype}`, boundary: paramValue(m.params, 'boundary') };
  } catch {
    return undefined;
  }
}

/** RFC 5364: the key under which two list entries are the same recipient. */
function recipientKey(uri: Uri): string {
  if (!uri.isSip || uri.user === undefined) return uri.toString().toLowerCase();
  return `${uri.aor}:${uri.port ?? ''}`;
}

const VISIBILITY: Readonly<Record<CopyControl, number>> = { to: 0, cc: 1, bcc: 2 };

/**
 * Reads a request for the URI-list service (RFC 5365 §7): the option tag, the list and the message part. The
 * caller has checked the method and authenticated the sender. Never throws: a bad request becomes a refusal.
 */
export function parseUriListRequest(request: SipRequest, options: UriListOptions = {}): UriListParse {
  const max = options.maxRecipients ?? DEFAULT_MAX_RECIPIENTS;
  // RFC 3261 §8.2.2.3: option tags we do not know → 420 listing them.
  let require: string[];
  try {
    require = request.require.map((t) => t.toLowerCase());
  } catch {
    return refuse(400, 'Malformed Require');
  }
  const unknown = require.filter((t) => t !== RECIPIENT_LIST_OPTION);
  if (unknown.length > 0) return refuse(420, 'Bad Extension', { Unsupported: unknown.join(', ') });
  // RFC 5365 §5/§6: the client must require the extension; RFC 3261 §21.4.15: 421 names what is needed.
  if (!require.includes(RECIPIENT_LIST_OPTION))
    return refuse(421, 'Extension Required', { Require: RECIPIENT_LIST_OPTION });

  if (request.bodyLength === 0) return refuse(400, 'Missing recipient list (empty body)');
  const top = mediaTypeOf(request.headers.get('content-type'));
  if (top === undefined) return refuse(400, 'Malformed Content-Type');
  // RFC 5365 §7: the list and the message travel together in multipart/mixed.
  if (top.type !== 'multipart/mixed')
    return refuse(415, 'Unsupported Media Type (multipart/mixed with a recipient-list)', {
      Accept: URI_LIST_ACCEPT,
    });
  if (top.boundary === undefined || top.boundary === '')
    return refuse(400, 'Malformed multipart body (no boundary)');
  let parts: BodyPart[];
  try {
    parts = parseMultipart(request.body, top.boundary);
  } catch (error) {
    return refuse(400, `Malformed multipart body${error instanceof ParseError ? ` (${error.message})` : ''}`);
  }

  const lists = parts.filter(
    (p) => dispositionOf(p.headers.get('content-disposition')) === RECIPIENT_LIST_DISPOSITION,
  );
  const others = parts.filter((p) => !lists.includes(p));
  if (lists.length === 0) return refuse(400, 'Missing recipient list (no recipient-list body part)');
  if (lists.length > 1) return refuse(400, 'More than one recipient-list body part');
  const listPart = lists[0]!;
  if (mediaTypeOf(listPart.headers.get('content-type'))?.type !== RESOURCE_LISTS_CONTENT_TYPE)
    return refuse(415, `Unsupported Media Type (the recipient list must be ${RESOURCE_LISTS_CONTENT_TYPE})`, {
      Accept: URI_LIST_ACCEPT,
    });
  if (others.length === 0) return refuse(400, 'Missing message body part');
  if (others.length > 1) return refuse(400, 'More than one message body part');
  const messagePart = others[0]!;
  const contentType = messagePart.headers.get('content-type');
  const messageType = mediaTypeOf(contentType);
  if (contentType === undefined || messageType === undefined)
    return refuse(400, 'Message body part without a valid Content-Type');
  let cpim: CpimMessage | undefined;
  if (messageType.type === 'message/cpim') {
    try {
      cpim = parseCpim(messagePart.body);
    } catch (error) {
      return refuse(
        400,
        `Malformed message/cpim part${error instanceof ParseError ? ` (${error.message})` : ''}`,
      );
    }
  }

  // RFC 4826 §3 with RFC 5364's attributes.
  let entries: ResourceEntry[];
  try {
    const lists = parseResourceLists(listPart.body);
    if (lists.refs.length > 0)
      return refuse(403, 'Forbidden (entry-ref and external list references are not resolved here)');
    entries = lists.entries;
  } catch (error) {
    return refuse(400, `Malformed recipient list${error instanceof ParseError ? ` (${error.message})` : ''}`);
  }

  // RFC 5365 §7 / RFC 5364: one copy per recipient, however often the list names them.
  const byKey = new Map<string, ListRecipient>();
  for (const entry of entries) {
    let parsed: Uri;
    try {
      parsed = parseUri(entry.uri);
    } catch {
      return refuse(400, `Malformed recipient list (bad URI ${entry.uri})`);
    }
    const key = recipientKey(parsed);
    const seen = byKey.get(key);
    if (seen === undefined) {
      byKey.set(key, {
        uri: entry.uri,
        parsed,
        displayName: entry.displayName,
        copyControl: entry.copyControl,
        anonymize: entry.anonymize,
      });
      continue;
    }
    byKey.set(key, {
      ...seen,
      displayName: seen.displayName ?? entry.displayName,
      copyControl:
        VISIBILITY[entry.copyControl] > VISIBILITY[seen.copyControl] ? entry.copyControl : seen.copyControl,
      anonymize: seen.anonymize || entry.anonymize,
    });
  }
  const recipients = [...byKey.values()];
  if (recipients.length === 0) return refuse(400, 'Empty recipient list');
  // RFC 5365 (security considerations): a list server is an amplifier; the number of copies one request makes is bounded.
  if (recipients.length > max) return refuse(403, `Too many recipients (at most ${max})`);

  return {
    ok: true,
    value: {
      recipients,
      message: { contentType, body: messagePart.body, cpim },
      history: historyOf(recipients),
    },
  };
}

/**
 * RFC 5365 §4 / RFC 5364: what the recipients are told of each other — the "to" and "cc" recipients (never the
 * "bcc" ones), an anonymized one as an anonymous URI without its display name.
 */
export function historyOf(recipients: readonly ListRecipient[]): ResourceEntry[] {
  return recipients
    .filter((r) => r.copyControl !== 'bcc')
    .map((r) =>
      r.anonymize
        ? { uri: ANONYMOUS_URI, copyControl: r.copyControl, anonymize: true }
        : { uri: r.uri, displayName: r.displayName, copyControl: r.copyControl, anonymize: false },
    );
}

/**
 * The body of every copy: the message part as it came, or (when there is a history) multipart/mixed with the
 * message part and the recipient-list-history part (RFC 5365 §4: `handling=optional`, so a recipient that does
 * not know it still shows the message).
 */
export function copyBody(list: UriListRequest, boundary: string): { contentType: string; body: Uint8Array } {
  if (list.history.length === 0) return { contentType: list.message.contentType, body: list.message.body };
  const parts: BodyPart[] = [
    { headers: SipHeaders.from([['Content-Type', list.message.contentType]]), body: list.message.body },
    {
      headers: SipHeaders.from([
        ['Content-Type', RESOURCE_LISTS_CONTENT_TYPE],
        ['Content-Disposition', `${RECIPIENT_LIST_HISTORY_DISPOSITION};handling=optional`],
      ]),
      body: new TextEncoder().encode(buildResourceLists(list.history)),
    },
  ];
  return {
    contentType: `multipart/mixed;boundary=${boundary}`,
    body: serializeMultipart(parts, boundary),
  };
}

/** SIP headers of the sender's request that the copies keep (expiry, subject, caller preferences). */
const KEPT_HEADERS = [
  'Date',
  'Expires',
  'Subject',
  'Priority',
  'Accept-Contact',
  'Reject-Contact',
  'Request-Disposition',
] as const;

export interface CoreMessageInput {
  readonly target: Uri;
  /** From without tag, as a name-addr */
  readonly from: string;
  readonly to: string;
  readonly fromTag: string;
  readonly callId: string;
  /** a Via naming the core (the message store needs one; it is replaced when the request is forwarded) */
  readonly via: string;
  readonly contentType: string;
  readonly body: Uint8Array;
  readonly headers?: readonly (readonly [string, string])[] | undefined;
}

/** A MESSAGE the core itself originates (a list copy, an IMDN): CSeq 1, Max-Forwards 70, no Contact (RFC 3428 §4). */
export function coreMessage(input: CoreMessageInput): SipRequest {
  return new SipRequest(
    'MESSAGE',
    input.target,
    [
      ['Via', input.via],
      ['Max-Forwards', '70'],
      ['From', `${input.from};tag=${input.fromTag}`],
      ['To', input.to],
      ['Call-ID', input.callId],
      ['CSeq', '1 MESSAGE'],
      ...(input.headers ?? []).map(([k, v]): [string, string] => [k, v]),
      ['Content-Type', input.contentType],
    ],
    input.body,
  );
}

/**
 * RFC 5365 §7: the copy for one recipient — a new request (its own Call-ID and From tag) whose From is the
 * sender (without the sender's tag), To the recipient as listed, and whose body is `copyBody`.
 */
export function buildCopy(
  original: SipRequest,
  recipient: ListRecipient,
  body: { contentType: string; body: Uint8Array },
  ids: { callId: string; fromTag: string; via: string },
): SipRequest {
  const from = original.from;
  const kept: [string, string][] = [];
  for (const name of KEPT_HEADERS)
    for (const value of original.headers.getAll(name)) kept.push([name, value]);
  const to =
    recipient.displayName === undefined || recipient.displayName === ''
      ? `<${recipient.uri}>`
      : `${quote(recipient.displayName)} <${recipient.uri}>`;
  return coreMessage({
    target: recipient.parsed,
    from: formatNameAddr({ ...from, params: from.params.with('tag', undefined) }),
    to,
    fromTag: ids.fromTag,
    callId: ids.callId,
    via: ids.via,
    contentType: body.contentType,
    body: body.body,
    headers: kept,
  });
}
