/**
 * Resource lists (RFC 4826 §3) as a URI-list MESSAGE carries them (RFC 5365): `application/resource-lists+xml`
 * with `Content-Disposition: recipient-list`, each entry marked with the RFC 5364 copy-control attributes.
 *
 *   <resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists" xmlns:cp="urn:ietf:params:xml:ns:copycontrol">
 *     <list>
 *       <entry uri="sip:ann@example.org" cp:copyControl="to"><display-name>Ann</display-name></entry>
 *       <entry uri="sip:bo@example.org" cp:copyControl="bcc" cp:anonymize="true"/>
 *     </list>
 *   </resource-lists>
 *
 * Nested lists are flattened in document order. `entry-ref` and `external` (references an XCAP server would
 * resolve) are not followed but returned in `refs`, so a list server can refuse them rather than lose recipients.
 */
import { ParseError } from '../errors.ts';
import { parseUri } from '../message/index.ts';
import { attr, attrOf, el, only, parseRoot, serializeXml, textOf, type XmlElement } from './xml.ts';

export const RESOURCE_LISTS_NS = 'urn:ietf:params:xml:ns:resource-lists';
export const COPY_CONTROL_NS = 'urn:ietf:params:xml:ns:copycontrol';
export const RESOURCE_LISTS_CONTENT_TYPE = 'application/resource-lists+xml';
/** RFC 5365: the Content-Disposition of the list body in a URI-list MESSAGE */
export const RECIPIENT_LIST_DISPOSITION = 'recipient-list';

export type CopyControl = 'to' | 'cc' | 'bcc';

export interface ResourceEntry {
  uri: string;
  displayName?: string | undefined;
  /** RFC 5364: the role of the recipient; absent means "to" */
  copyControl: CopyControl;
  /** RFC 5364: hide this recipient's URI from the others */
  anonymize: boolean;
}

export interface ResourceLists {
  entries: ResourceEntry[];
  refs: { type: 'entry-ref' | 'external'; ref: string }[];
}

/** Parse a resource-lists document. Throws ParseError. */
export function parseResourceLists(body: string | Uint8Array): ResourceLists {
  const root = parseRoot(body, RESOURCE_LISTS_NS, 'resource-lists');
  const out: ResourceLists = { entries: [], refs: [] };
  const walk = (list: XmlElement): void => {
    for (const c of list.children) {
      if (typeof c === 'string' || c.ns !== RESOURCE_LISTS_NS) continue;
      if (c.local === 'list') walk(c);
      else if (c.local === 'entry') {
        const uri = attrOf(c, 'uri');
        if (!uri) throw new ParseError('resource-lists: <entry> without uri');
        parseUri(uri);
        const cc = attrOf(c, 'copyControl', COPY_CONTROL_NS) ?? 'to';
        if (cc !== 'to' && cc !== 'cc' && cc !== 'bcc')
          throw new ParseError(`resource-lists: bad copyControl "${cc}"`);
        const anon = attrOf(c, 'anonymize', COPY_CONTROL_NS) ?? 'false';
        if (!/^(true|false|1|0)$/.test(anon)) throw new ParseError(`resource-lists: bad anonymize "${anon}"`);
        const name = only(c, RESOURCE_LISTS_NS, 'display-name');
        out.entries.push({
          uri,
          ...(name && { displayName: textOf(name) }),
          copyControl: cc,
          anonymize: anon === 'true' || anon === '1',
        });
      } else if (c.local === 'entry-ref' || c.local === 'external') {
        const ref = attrOf(c, c.local === 'external' ? 'anchor' : 'ref');
        if (!ref) throw new ParseError(`resource-lists: <${c.local}> without its reference`);
        out.refs.push({ type: c.local, ref });
      }
    }
  };
  for (const list of root.children)
    if (typeof list !== 'string' && list.ns === RESOURCE_LISTS_NS && list.local === 'list') walk(list);
  return out;
}

/** One list of recipients, for a URI-list MESSAGE (RFC 5365). */
export function buildResourceLists(
  entries: readonly (Pick<ResourceEntry, 'uri'> & Partial<ResourceEntry>)[],
): string {
  const R = RESOURCE_LISTS_NS;
  return serializeXml(
    el(
      R,
      'resource-lists',
      null,
      el(
        R,
        'list',
        null,
        entries.map((e) =>
          el(
            R,
            'entry',
            [
              attr('', 'uri', e.uri),
              attr(COPY_CONTROL_NS, 'cp:copyControl', e.copyControl ?? 'to'),
              attr(COPY_CONTROL_NS, 'cp:anonymize', e.anonymize ? 'true' : undefined),
            ],
            e.displayName !== undefined && el(R, 'display-name', null, e.displayName),
          ),
        ),
      ),
    ),
  );
}
