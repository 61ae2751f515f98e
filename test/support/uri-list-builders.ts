// Bodies for URI-list MESSAGE tests (RFC 5365): the multipart/mixed a client sends to `sip:uri-list@<domain>`
// (a resource-lists part with Content-Disposition: recipient-list, plus the message part), CPIM messages that ask
// for IMDNs (RFC 5438), and readers for what the recipients and the sender get back.
//
//   const { contentType, body } = uriListBody([{ uri: 'sip:bob@localhost' }], { contentType: 'text/plain', body: 'hi' });
//   const cpim = cpimMessage({ from: 'sip:alice@localhost', to: 'sip:bob@localhost', text: 'hi', notify: ['processing'] });
//   const seen = recipientView(request);   // { text, history: [{ uri, copyControl }…] }

import {
  RECIPIENT_LIST_DISPOSITION,
  RESOURCE_LISTS_CONTENT_TYPE,
  SipHeaders,
  buildCpim,
  buildResourceLists,
  paramValue,
  parseCpim,
  parseImdn,
  parseMediaType,
  parseMultipart,
  parseResourceLists,
  serializeMultipart,
  type Imdn,
  type ResourceEntry,
  type SipRequest,
} from '../../web/src/sip/index.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface ListEntry {
  uri: string;
  displayName?: string;
  copyControl?: 'to' | 'cc' | 'bcc';
  anonymize?: boolean;
}

/** The multipart/mixed body of a URI-list MESSAGE; `listXml` replaces the list document (for malformed cases). */
export function uriListBody(
  entries: readonly ListEntry[],
  message: { contentType: string; body: string | Uint8Array },
  options: { boundary?: string; listXml?: string; listType?: string; extraParts?: number } = {},
): { contentType: string; body: string } {
  const boundary = options.boundary ?? 'list-boundary-42';
  const parts = [
    {
      headers: SipHeaders.from([
        ['Content-Type', options.listType ?? RESOURCE_LISTS_CONTENT_TYPE],
        ['Content-Disposition', `${RECIPIENT_LIST_DISPOSITION};handling=required`],
      ]),
      body: encoder.encode(options.listXml ?? buildResourceLists(entries)),
    },
    ...Array.from({ length: 1 + (options.extraParts ?? 0) }, () => ({
      headers: SipHeaders.from([['Content-Type', message.contentType]]),
      body: typeof message.body === 'string' ? encoder.encode(message.body) : message.body,
    })),
  ];
  return {
    contentType: `multipart/mixed;boundary=${boundary}`,
    body: decoder.decode(serializeMultipart(parts, boundary)),
  };
}

/** A message/cpim body with an imdn.Message-ID, asking for the given notifications. */
export function cpimMessage(o: {
  from: string;
  to: string;
  text: string;
  messageId?: string;
  notify?: string[];
  dateTime?: number;
}): string {
  return decoder.decode(
    buildCpim({
      from: { uri: o.from },
      to: [{ uri: o.to }],
      dateTime: o.dateTime ?? Date.UTC(2026, 10, 22, 12, 0, 0),
      messageId: o.messageId ?? 'msg-1',
      dispositionNotification: o.notify,
      contentType: 'text/plain;charset=utf-8',
      content: o.text,
    }),
  );
}

/** What a recipient of a list copy sees: the message part's text and type, and the recipient-list-history. */
export function recipientView(request: SipRequest): {
  contentType: string;
  text: string;
  history: ResourceEntry[] | undefined;
} {
  const type = parseMediaType(request.headers.get('content-type') ?? '');
  if (type.type !== 'multipart') {
    return { contentType: `${type.type}/${type.subtype}`, text: request.bodyText, history: undefined };
  }
  const parts = parseMultipart(request.body, paramValue(type.params, 'boundary') ?? '');
  const isHistory = (p: (typeof parts)[number]) =>
    /^recipient-list-history\b/i.test(p.headers.get('content-disposition') ?? '');
  const history = parts.find(isHistory);
  const message = parts.find((p) => !isHistory(p));
  return {
    contentType: message?.headers.get('content-type') ?? '',
    text: decoder.decode(message?.body),
    history: history === undefined ? undefined : parseResourceLists(history.body).entries,
  };
}

/** The IMDN document inside a CPIM-wrapped notification MESSAGE (RFC 5438), or undefined if it is none. */
export function imdnOf(request: SipRequest): Imdn | undefined {
  if (!/^message\/cpim/i.test(request.headers.get('content-type') ?? '')) return undefined;
  try {
    const cpim = parseCpim(request.body);
    if (!/^message\/imdn\+xml/i.test(cpim.contentType ?? '')) return undefined;
    return parseImdn(cpim.content);
  } catch {
    return undefined;
  }
}
