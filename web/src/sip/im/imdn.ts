/**
 * IMDN (RFC 5438): the `message/imdn+xml` document, parse and build, and the whole CPIM-wrapped notification a
 * recipient sends back.
 *
 *   <imdn xmlns="urn:ietf:params:xml:ns:imdn">
 *     <message-id>…</message-id> <datetime>…</datetime>
 *     [<recipient-uri>…</recipient-uri> <original-recipient-uri>…</original-recipient-uri> [<subject>…</subject>]]
 *     <delivery-notification | display-notification | processing-notification>
 *       <status><delivered/ | failed/ | …></status>
 *     </…-notification>
 *   </imdn>
 *
 * Parsing is strict about this structure (one message-id, one datetime, exactly one notification, a status
 * the RFC defines for that kind); elements of other namespaces (vendor extensions) are ignored.
 */
import { ParseError } from '../errors.ts';
import {
  SipHeaders,
  paramValue,
  parseMediaType,
  parseMultipart,
  parseUri,
  serializeMultipart,
} from '../message/index.ts';
import {
  IMDN_HEADER_NS,
  buildCpim,
  formatDateTime,
  parseCpimAddress,
  parseDateTime,
  type CpimAddress,
  type CpimHeader,
  type CpimMessage,
} from './cpim.ts';
import { childElements, el, only, parseRoot, serializeXml, textOf, type XmlElement } from './xml.ts';

export const IMDN_NS = 'urn:ietf:params:xml:ns:imdn';
export const IMDN_CONTENT_TYPE = 'message/imdn+xml';

/** The notifications an IM sender may ask for in imdn.Disposition-Notification (RFC 5438 §6.2). */
export type DispositionRequest = 'positive-delivery' | 'negative-delivery' | 'display' | 'processing';

// RFC 5438's schema (§11): the status values each kind of notification may carry.
const STATUSES = {
  delivery: ['delivered', 'failed', 'forbidden', 'error'],
  display: ['displayed', 'forbidden', 'error'],
  processing: ['processed', 'stored', 'forbidden', 'error'],
} as const;

export type ImdnKind = keyof typeof STATUSES;
export type DeliveryStatus = (typeof STATUSES)['delivery'][number];
export type DisplayStatus = (typeof STATUSES)['display'][number];
export type ProcessingStatus = (typeof STATUSES)['processing'][number];
export type ImdnNotification =
  | { kind: 'delivery'; status: DeliveryStatus }
  | { kind: 'display'; status: DisplayStatus }
  | { kind: 'processing'; status: ProcessingStatus };

const enc = new TextEncoder();

export type Imdn = ImdnNotification & {
  /** the imdn.Message-ID of the IM this is about */
  messageId: string;
  /** the DateTime of that IM, epoch ms */
  dateTime: number;
  recipientUri?: string | undefined;
  originalRecipientUri?: string | undefined;
  subject?: string | undefined;
};

/** Parse a message/imdn+xml document. Throws ParseError. */
export function parseImdn(body: string | Uint8Array): Imdn {
  const root = parseRoot(body, IMDN_NS, 'imdn');
  const one = (local: string, required?: boolean): XmlElement | undefined =>
    only(root, IMDN_NS, local, required);
  const uri = (local: string): string | undefined => {
    const text = one(local) && textOf(one(local) as XmlElement).trim();
    if (text !== undefined) parseUri(text);
    return text;
  };
  const id = textOf(one('message-id', true) as XmlElement).trim();
  if (!id) throw new ParseError('IMDN: empty <message-id>');
  const notes = (Object.keys(STATUSES) as ImdnKind[]).flatMap((kind) =>
    childElements(root, IMDN_NS, `${kind}-notification`).map((e) => [kind, e] as const),
  );
  const [kind, note] = notes[0] ?? [];
  if (notes.length !== 1 || !kind || !note)
    throw new ParseError('IMDN: needs exactly one notification element');
  // §11: <status> holds one element naming the disposition.
  const status = childElements(note, IMDN_NS, 'status');
  const values = status.length === 1 ? childElements(status[0] as XmlElement, IMDN_NS) : [];
  const value = values[0]?.local ?? '';
  if (values.length !== 1 || !(STATUSES[kind] as readonly string[]).includes(value))
    throw new ParseError(`IMDN: bad status in <${kind}-notification>`);
  const recipientUri = uri('recipient-uri');
  const originalRecipientUri = uri('original-recipient-uri');
  const subject = one('subject');
  return {
    messageId: id,
    dateTime: parseDateTime(textOf(one('datetime', true) as XmlElement).trim()),
    ...(recipientUri !== undefined && { recipientUri }),
    ...(originalRecipientUri !== undefined && { originalRecipientUri }),
    ...(subject && { subject: textOf(subject) }),
    kind,
    status: value,
  } as Imdn;
}

/** The message/imdn+xml document for a notification. */
export function buildImdn(n: Imdn): string {
  const e = (local: string, ...children: (XmlElement | string | undefined)[]): XmlElement =>
    el(IMDN_NS, local, null, ...children);
  const status = (STATUSES[n.kind] as readonly string[]).includes(n.status) ? n.status : undefined;
  if (!status) throw new TypeError(`"${n.status}" is not a ${n.kind} status`);
  // The schema (§11): recipient-uri and original-recipient-uri come as a pair.
  const recipient = n.recipientUri ?? n.originalRecipientUri;
  return serializeXml(
    e(
      'imdn',
      e('message-id', n.messageId),
      e('datetime', formatDateTime(n.dateTime)),
      recipient !== undefined ? e('recipient-uri', recipient) : undefined,
      recipient !== undefined ? e('original-recipient-uri', n.originalRecipientUri ?? recipient) : undefined,
      n.subject !== undefined ? e('subject', n.subject) : undefined,
      e(`${n.kind}-notification`, e('status', e(status))),
    ),
  );
}

/** Whether an IM asked for this notification and carries what is needed to send one (RFC 5438 §7.2). */
export function wantsNotification(im: CpimMessage, what: DispositionRequest): boolean {
  return im.messageId !== undefined && im.from !== undefined && !!im.dispositionNotification?.includes(what);
}

export interface ImdnMessageOptions {
  /** the IM the notification is about, as parsed */
  im: CpimMessage;
  /** who sends the notification: the IM's recipient */
  from: CpimAddress;
  notification: ImdnNotification;
  /** a fresh, unique imdn.Message-ID for the notification itself (from the injected random source) */
  messageId: string;
  /** now, epoch ms: the notification's DateTime */
  now: number;
  /** defaults: the IM's first To; original-recipient-uri defaults to its imdn.Original-To, else the same */
  recipientUri?: string | undefined;
  originalRecipientUri?: string | undefined;
}

/**
 * The CPIM body of an IMDN (RFC 5438 §7.2.1): a message/cpim whose From is the recipient, To the IM's sender,
 * with its own imdn.Message-ID and DateTime and no Disposition-Notification (an IMDN is never acknowledged),
 * carrying the message/imdn+xml document with Content-Disposition: notification. The document repeats the
 * IM's Message-ID and DateTime so the sender can match it (§7.1.2). Where the IM had imdn.IMDN-Record-Route
 * headers they come back as imdn.IMDN-Route in the same order (§6.5, §6.6), and `target` is the first of them,
 * else the IM's sender: the Request-URI for the MESSAGE that carries this body (Content-Type message/cpim).
 */
export function buildImdnMessage(o: ImdnMessageOptions): { body: Uint8Array; target: string } {
  return buildImdnBatch([o]);
}

/**
 * Several notifications for one sender in one body. One alone is `buildImdnMessage`'s; more are aggregated as
 * RFC 5438 §8.3 says: the CPIM content is multipart/mixed with one message/imdn+xml part per notification,
 * Content-Disposition: notification on the whole. The wrapper (From, To, imdn.Message-ID, DateTime, routes) is
 * the first item's; the items are meant to share the IM sender (`target`).
 */
export function buildImdnBatch(items: readonly ImdnMessageOptions[]): { body: Uint8Array; target: string } {
  const first = items[0];
  if (first === undefined) throw new TypeError('buildImdnBatch: no notification');
  const docs = items.map(notificationXml);
  const { im } = first;
  const routes = imdnHeaders(im, 'IMDN-Record-Route').map((h) => ({
    name: 'IMDN-Route',
    value: h.value,
    prefix: 'imdn',
    ns: IMDN_HEADER_NS,
  }));
  let type = `${IMDN_CONTENT_TYPE};charset=utf-8`;
  let content: Uint8Array | string = docs[0] ?? '';
  if (docs.length > 1) {
    // §8.3: the boundary only needs to be absent from the parts; the documents never hold "--imdn-".
    const boundary = `imdn-${first.messageId}`;
    type = `multipart/mixed;boundary="${boundary}"`;
    content = serializeMultipart(
      docs.map((xml) => ({
        headers: SipHeaders.from({ 'Content-Type': IMDN_CONTENT_TYPE }),
        body: enc.encode(xml),
      })),
      boundary,
    );
  }
  const body = buildCpim({
    from: first.from,
    to: [im.from as CpimAddress],
    dateTime: first.now,
    messageId: first.messageId,
    headers: routes,
    contentHeaders: [
      ['Content-Type', type],
      ['Content-Disposition', 'notification'],
    ],
    content,
  });
  const route = routes[0]?.value;
  return { body, target: route ? parseCpimAddress(route).uri : (im.from as CpimAddress).uri };
}

function imdnHeaders(im: CpimMessage, name: string): CpimHeader[] {
  return im.headers.filter((h) => h.ns === IMDN_HEADER_NS && h.name === name);
}

/** §7.2.1: the document for one notification about `o.im`. */
function notificationXml(o: ImdnMessageOptions): string {
  const { im } = o;
  if (im.messageId === undefined || !im.from)
    throw new TypeError('an IMDN needs the IM to carry imdn.Message-ID and From (see wantsNotification)');
  const originalTo = imdnHeaders(im, 'Original-To')[0];
  const recipientUri = o.recipientUri ?? im.to[0]?.uri ?? o.from.uri;
  return buildImdn({
    ...o.notification,
    messageId: im.messageId,
    // §7.2.1: the datetime of the IM; an IM without one gets the time it is acknowledged.
    dateTime: im.dateTime ?? o.now,
    recipientUri,
    originalRecipientUri:
      o.originalRecipientUri ?? (originalTo ? parseCpimAddress(originalTo.value).uri : recipientUri),
  });
}

/**
 * The notifications a received CPIM body carries: one message/imdn+xml document, or several aggregated in a
 * multipart/mixed (§8.3); parts of other types are skipped. Undefined when the content is no notification at
 * all. Throws ParseError for a notification that does not parse.
 */
export function readImdnContent(cpim: CpimMessage): Imdn[] | undefined {
  const type = cpim.contentType === undefined ? undefined : parseMediaType(cpim.contentType);
  if (type === undefined) return undefined;
  if (`${type.type}/${type.subtype}` === IMDN_CONTENT_TYPE) return [parseImdn(cpim.content)];
  const boundary = type.type === 'multipart' ? paramValue(type.params, 'boundary') : undefined;
  if (boundary === undefined) return undefined;
  const docs = parseMultipart(cpim.content, boundary).filter((part) => {
    const t = part.headers.get('content-type');
    return t !== undefined && t.split(';')[0]?.trim().toLowerCase() === IMDN_CONTENT_TYPE;
  });
  return docs.length > 0 ? docs.map((part) => parseImdn(part.body)) : undefined;
}
