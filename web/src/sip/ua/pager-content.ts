/**
 * What a received MESSAGE body means to the pager: a text to show (plain, CPIM-wrapped, or the message part of
 * an RFC 5365 page-mode group), IMDN notifications (RFC 5438), an is-composing status (RFC 3994), or a body it
 * must refuse (400 for one that does not parse, 415 for a type it does not take).
 *
 *   text/plain ─────────────────────────────────────────────▶ text
 *   message/cpim ─┬─ text/plain inside ─────────────────────▶ text (with the CPIM headers: IMDN requests …)
 *                 ├─ message/imdn+xml, multipart of them ───▶ imdn
 *                 └─ application/im-iscomposing+xml ────────▶ composing
 *   application/im-iscomposing+xml ─────────────────────────▶ composing
 *   message/imdn+xml ───────────────────────────────────────▶ imdn
 *   multipart/mixed ── message part + resource list ────────▶ text of a group (the list: who else got it)
 *   anything else ──────────────────────────────────────────▶ refused 415
 */
import { ParseError } from '../errors.ts';
import { paramValue, parseMediaType, parseMultipart, type MediaType } from '../message/index.ts';
import {
  ISCOMPOSING_CONTENT_TYPE,
  IMDN_CONTENT_TYPE,
  RESOURCE_LISTS_CONTENT_TYPE,
  parseCpim,
  parseImdn,
  parseIsComposing,
  parseResourceLists,
  readImdnContent,
  type CpimMessage,
  type Imdn,
  type IsComposing,
} from '../im/index.ts';

export type PagerContent =
  | {
      readonly kind: 'text';
      readonly text: string;
      /** the CPIM wrapper, when the text came in one */
      readonly cpim: CpimMessage | undefined;
      /** RFC 5365: the to/cc recipients of a page-mode group message (bcc and anonymous entries left out) */
      readonly group: readonly string[] | undefined;
    }
  | { readonly kind: 'imdn'; readonly notifications: readonly Imdn[]; readonly cpim: CpimMessage | undefined }
  | { readonly kind: 'composing'; readonly status: IsComposing }
  | { readonly kind: 'refused'; readonly status: 400 | 415; readonly reason: string };

const text = new TextDecoder();
const mime = (t: MediaType): string => `${t.type}/${t.subtype}`;

/** Read a MESSAGE body of the given Content-Type. Never throws: a bad body is `refused`. */
export function decodePagerBody(type: MediaType | undefined, body: Uint8Array): PagerContent {
  try {
    return decode(type ?? parseMediaType('text/plain'), body, true);
  } catch (e) {
    if (e instanceof ParseError) return { kind: 'refused', status: 400, reason: `Bad Body (${e.message})` };
    throw e;
  }
}

function decode(type: MediaType, body: Uint8Array, outer: boolean): PagerContent {
  switch (mime(type)) {
    case 'text/plain':
      return { kind: 'text', text: text.decode(body), cpim: undefined, group: undefined };
    case ISCOMPOSING_CONTENT_TYPE:
      return { kind: 'composing', status: parseIsComposing(body) };
    case IMDN_CONTENT_TYPE:
      return { kind: 'imdn', notifications: [parseImdn(body)], cpim: undefined };
    case 'message/cpim': {
      // RFC 3862 §2: the headers, then the encapsulated MIME object; a missing Content-Type reads as text/plain.
      const cpim = parseCpim(body);
      const notifications = readImdnContent(cpim);
      if (notifications !== undefined) return { kind: 'imdn', notifications, cpim };
      const inner = decode(parseMediaType(cpim.contentType ?? 'text/plain'), cpim.content, false);
      return inner.kind === 'text' ? { ...inner, cpim } : inner;
    }
    case 'multipart/mixed': {
      if (!outer) break;
      return group(type, body);
    }
    default:
      break;
  }
  return { kind: 'refused', status: 415, reason: `Unsupported Media Type (${mime(type)})` };
}

/**
 * RFC 5365 §5: what a URI-list server sends each recipient: the message part, and a resource list of the other
 * recipients (Content-Disposition recipient-list-history; the sender's own recipient-list is read the same way).
 */
function group(type: MediaType, body: Uint8Array): PagerContent {
  const boundary = paramValue(type.params, 'boundary');
  if (boundary === undefined) throw new ParseError('multipart without boundary');
  let message: PagerContent | undefined;
  let recipients: string[] | undefined;
  for (const part of parseMultipart(body, boundary)) {
    const partType = parseMediaType(part.headers.get('content-type') ?? 'text/plain');
    if (mime(partType) === RESOURCE_LISTS_CONTENT_TYPE) {
      // RFC 5364: bcc recipients are never shown; an anonymized one (anonymize, or rewritten by the server to an
      // anonymous.invalid URI) names nobody.
      recipients ??= parseResourceLists(part.body)
        .entries.filter(
          (e) => e.copyControl !== 'bcc' && !e.anonymize && !/@anonymous\.invalid$/i.test(e.uri),
        )
        .map((e) => e.uri);
    } else if (message === undefined || message.kind === 'refused') {
      message = decode(partType, part.body, false);
    }
  }
  if (message === undefined) return { kind: 'refused', status: 415, reason: 'No Message Part' };
  return message.kind === 'text' ? { ...message, group: recipients } : message;
}
