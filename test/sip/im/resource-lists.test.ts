import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../web/src/sip/errors.ts';
import { buildResourceLists, parseResourceLists, type ResourceEntry } from '../../../web/src/sip/im/index.ts';

// RFC 5365 §4's URI-list MESSAGE body (names changed): one flat list, every entry with cp:copyControl, some
// anonymized.
const RFC5365_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"
        xmlns:cp="urn:ietf:params:xml:ns:copycontrol">
  <list>
    <entry uri="sip:ivy@example.com" cp:copyControl="to" />
    <entry uri="sip:ravi@example.net" cp:copyControl="to" cp:anonymize="true"/>
    <entry uri="sip:jo@example.org" cp:copyControl="cc" />
    <entry uri="sip:kai@example.net" cp:copyControl="cc" cp:anonymize="true"/>
    <entry uri="sip:lu@example.net" cp:copyControl="bcc" />
  </list>
</resource-lists>`;

// RFC 4826 §3.3's example shape: a named list with display names, a nested list, an entry-ref and an external.
const RFC4826_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <list name="team">
    <entry uri="sip:mo@example.com">
      <display-name>Mo Ahmed</display-name>
    </entry>
    <entry-ref ref="resource-lists/users/sip:mo@example.com/index/~~/resource-lists/list%5b@name=%22a%22%5d"/>
    <list name="inner-circle">
      <display-name>Inner circle</display-name>
      <entry uri="sip:ny@example.com">
        <display-name xml:lang="en">Ny Rivera</display-name>
      </entry>
      <entry uri="tel:+15550100"/>
      <external anchor="http://xcap.example.org/resource-lists/users/sip:a@example.org/index/~~/resource-lists/list%5b@name=%22ops%22%5d">
        <display-name>Operations</display-name>
      </external>
    </list>
  </list>
</resource-lists>`;

describe('parseResourceLists', () => {
  it('reads the RFC 5365 recipient list with its copy control', () => {
    expect(parseResourceLists(RFC5365_EXAMPLE)).toEqual({
      entries: [
        { uri: 'sip:ivy@example.com', copyControl: 'to', anonymize: false },
        { uri: 'sip:ravi@example.net', copyControl: 'to', anonymize: true },
        { uri: 'sip:jo@example.org', copyControl: 'cc', anonymize: false },
        { uri: 'sip:kai@example.net', copyControl: 'cc', anonymize: true },
        { uri: 'sip:lu@example.net', copyControl: 'bcc', anonymize: false },
      ],
      refs: [],
    });
  });

  it('flattens the RFC 4826 nested lists and returns references instead of dropping them', () => {
    const lists = parseResourceLists(RFC4826_EXAMPLE);
    expect(lists.entries).toEqual([
      { uri: 'sip:mo@example.com', displayName: 'Mo Ahmed', copyControl: 'to', anonymize: false },
      { uri: 'sip:ny@example.com', displayName: 'Ny Rivera', copyControl: 'to', anonymize: false },
      { uri: 'tel:+15550100', copyControl: 'to', anonymize: false },
    ]);
    expect(lists.refs.map((r) => r.type)).toEqual(['entry-ref', 'external']);
    expect(lists.refs[1]?.ref).toMatch(/^http:\/\/xcap\.example\.org\//);
  });

  const head =
    '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists" xmlns:cp="urn:ietf:params:xml:ns:copycontrol"><list>';
  it.each([
    ['another root', '<lists xmlns="urn:ietf:params:xml:ns:resource-lists"/>'],
    ['an entry without uri', `${head}<entry/></list></resource-lists>`],
    ['a bad uri', `${head}<entry uri="sip:"/></list></resource-lists>`],
    ['an unknown copyControl', `${head}<entry uri="sip:a@b" cp:copyControl="fwd"/></list></resource-lists>`],
    ['a bad anonymize', `${head}<entry uri="sip:a@b" cp:anonymize="yes"/></list></resource-lists>`],
    ['an entry-ref without ref', `${head}<entry-ref/></list></resource-lists>`],
    ['malformed XML', `${head}<entry uri="sip:a@b"></list></resource-lists>`],
  ])('refuses %s', (_, body) => {
    expect(() => parseResourceLists(body)).toThrow(ParseError);
  });

  it('takes copyControl only from the copycontrol namespace', () => {
    const lists = parseResourceLists(
      '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list><entry uri="sip:a@b" copyControl="bcc"/></list></resource-lists>',
    );
    expect(lists.entries[0]?.copyControl).toBe('to');
  });
});

describe('buildResourceLists', () => {
  it('writes one list in the RFC 5365 form, and round-trips', () => {
    const entries: ResourceEntry[] = [
      { uri: 'sip:ivy@example.com', displayName: 'Ivy & co', copyControl: 'to', anonymize: false },
      { uri: 'sip:ravi@example.net', copyControl: 'cc', anonymize: true },
      { uri: 'sip:lu@example.net', copyControl: 'bcc', anonymize: false },
    ];
    const xml = buildResourceLists(entries);
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists" xmlns:cp="urn:ietf:params:xml:ns:copycontrol"><list>' +
        '<entry uri="sip:ivy@example.com" cp:copyControl="to"><display-name>Ivy &amp; co</display-name></entry>' +
        '<entry uri="sip:ravi@example.net" cp:copyControl="cc" cp:anonymize="true"/>' +
        '<entry uri="sip:lu@example.net" cp:copyControl="bcc"/></list></resource-lists>',
    );
    expect(parseResourceLists(xml)).toEqual({ entries, refs: [] });
  });

  it('defaults to "to"', () => {
    expect(parseResourceLists(buildResourceLists([{ uri: 'sip:a@example.com' }])).entries).toEqual([
      { uri: 'sip:a@example.com', copyControl: 'to', anonymize: false },
    ]);
  });
});
