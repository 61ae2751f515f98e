import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../web/src/sip/errors.ts';
import { buildPidf, parsePidf, type Presence } from '../../../web/src/sip/im/index.ts';

// RFC 3863 §4.4's example shape (values changed): two tuples, a status extension in another namespace,
// contact priorities, notes in two languages, a timestamp, and document-level notes.
const RFC3863_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:im="urn:ietf:params:xml:ns:pidf:im"
    xmlns:myex="http://id.example.com/presence/"
    entity="pres:kim@example.com">
  <tuple id="bs35r9">
    <status>
      <basic>open</basic>
      <im:im>busy</im:im>
      <myex:location>home</myex:location>
    </status>
    <contact priority="0.8">im:kim@mobile.example.net</contact>
    <note xml:lang="en">Quiet please</note>
    <note xml:lang="fr">Silence, s'il vous plaît</note>
    <timestamp>2026-10-27T16:49:29Z</timestamp>
  </tuple>
  <tuple id="eg92n8">
    <status>
      <basic>closed</basic>
    </status>
    <contact priority="1.0">mailto:kim@example.com</contact>
  </tuple>
  <note xml:lang="en">In Lisbon next week</note>
  <note xml:lang="pt">Em Lisboa na próxima semana</note>
</presence>`;

// RFC 4480 §5's example shape: a tuple with data-model and RPID children, a dm:person with activities (and an
// rpid:note inside them), a mood, class, sphere, and a dm:device — most of which the app does not show.
const RFC4480_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
    xmlns:c="urn:ietf:params:xml:ns:pidf:cipid"
    entity="pres:lee@example.com">
  <tuple id="bs35r9">
    <status><basic>open</basic></status>
    <dm:deviceID>urn:device:0003ba4811e3</dm:deviceID>
    <rpid:relationship><rpid:self/></rpid:relationship>
    <rpid:service-class><rpid:electronic/></rpid:service-class>
    <contact priority="0.8">im:lee@mobile.example.net</contact>
    <note xml:lang="en">Mobile only</note>
    <timestamp>2026-05-30T16:09:44+05:00</timestamp>
  </tuple>
  <dm:person id="p1">
    <rpid:activities from="2026-05-30T12:00:00+05:00" until="2026-05-30T17:00:00+05:00">
      <rpid:note>Off-site</rpid:note>
      <rpid:meeting/>
      <rpid:on-the-phone/>
    </rpid:activities>
    <rpid:class>calendar</rpid:class>
    <rpid:mood><rpid:happy/></rpid:mood>
    <rpid:sphere>work</rpid:sphere>
    <dm:note>Back at five</dm:note>
    <dm:timestamp>2026-05-30T16:09:44+05:00</dm:timestamp>
  </dm:person>
  <dm:device id="pc122">
    <rpid:user-input idle-threshold="600" last-input="2026-05-30T13:20:00-05:00">idle</rpid:user-input>
    <dm:deviceID>urn:device:0003ba4811e3</dm:deviceID>
    <dm:note>PC</dm:note>
  </dm:device>
</presence>`;

describe('parsePidf', () => {
  it('reads the RFC 3863 example', () => {
    const p = parsePidf(RFC3863_EXAMPLE);
    expect(p).toEqual<Presence>({
      entity: 'pres:kim@example.com',
      basic: 'open',
      activities: [],
      note: 'In Lisbon next week',
      notes: [
        { text: 'In Lisbon next week', lang: 'en' },
        { text: 'Em Lisboa na próxima semana', lang: 'pt' },
      ],
      tuples: [
        {
          id: 'bs35r9',
          basic: 'open',
          contact: 'im:kim@mobile.example.net',
          priority: 0.8,
          notes: [
            { text: 'Quiet please', lang: 'en' },
            { text: "Silence, s'il vous plaît", lang: 'fr' },
          ],
          timestamp: Date.UTC(2026, 9, 27, 16, 49, 29),
        },
        { id: 'eg92n8', basic: 'closed', contact: 'mailto:kim@example.com', priority: 1, notes: [] },
      ],
    });
  });

  it('reads the RFC 4480 activities and person note, skipping what it does not show', () => {
    const p = parsePidf(RFC4480_EXAMPLE);
    expect(p.entity).toBe('pres:lee@example.com');
    expect(p.basic).toBe('open');
    expect(p.activities).toEqual(['meeting', 'on-the-phone']);
    expect(p.note).toBe('Back at five');
    expect(p.notes).toEqual([]);
    expect(p.tuples).toEqual([
      {
        id: 'bs35r9',
        basic: 'open',
        contact: 'im:lee@mobile.example.net',
        priority: 0.8,
        notes: [{ text: 'Mobile only', lang: 'en' }],
        timestamp: Date.UTC(2026, 4, 30, 11, 9, 44),
      },
    ]);
  });

  it('reads <rpid:unknown/> and <rpid:other>, and falls back to a tuple note', () => {
    const p = parsePidf(`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:ann@example.org"
        xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid">
      <tuple id="t"><status><basic>closed</basic></status><note>gone fishing</note></tuple>
      <dm:person id="p"><rpid:activities><rpid:unknown/></rpid:activities></dm:person>
      <dm:person id="q"><rpid:activities><rpid:other> Gardening </rpid:other><rpid:other/></rpid:activities></dm:person>
    </presence>`);
    expect(p.basic).toBe('closed');
    expect(p.activities).toEqual(['unknown', 'Gardening', 'other']);
    expect(p.note).toBe('gone fishing');
  });

  it('leaves basic undefined when no tuple says', () => {
    const p = parsePidf(
      '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b"><tuple id="x"><status/></tuple></presence>',
    );
    expect(p.basic).toBeUndefined();
    expect(p.tuples).toEqual([{ id: 'x', notes: [] }]);
  });

  const pidf = (inner: string, entity = 'pres:a@example.com'): string =>
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${entity}">${inner}</presence>`;
  it.each([
    ['another root', '<presense xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b"/>'],
    ['the wrong namespace', '<presence xmlns="urn:ietf:params:xml:ns:pidf:rpid" entity="pres:a@b"/>'],
    ['no entity', '<presence xmlns="urn:ietf:params:xml:ns:pidf"/>'],
    ['a bad entity', pidf('', 'not a uri')],
    ['a tuple without id', pidf('<tuple><status><basic>open</basic></status></tuple>')],
    [
      'a basic that is neither open nor closed',
      pidf('<tuple id="t"><status><basic>away</basic></status></tuple>'),
    ],
    ['a priority above 1', pidf('<tuple id="t"><status/><contact priority="1.5">sip:a@b</contact></tuple>')],
    ['a bad timestamp', pidf('<tuple id="t"><status/><timestamp>today</timestamp></tuple>')],
    ['malformed XML', pidf('<tuple id="t"><status></tuple>')],
  ])('refuses %s', (_, body) => {
    expect(() => parsePidf(body)).toThrow(ParseError);
  });
});

describe('buildPidf', () => {
  it('writes a PUBLISH body: one tuple, a person with activities and a note', () => {
    const xml = buildPidf({
      entity: 'sip:ann@example.org',
      basic: 'open',
      activities: ['away', 'Gardening'],
      note: 'Back <soon>',
    });
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" ' +
        'xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:ann@example.org">' +
        '<tuple id="t1"><status><basic>open</basic></status></tuple>' +
        '<dm:person id="p1"><rpid:activities><rpid:away/><rpid:other>Gardening</rpid:other></rpid:activities>' +
        '<dm:note>Back &lt;soon&gt;</dm:note></dm:person></presence>',
    );
    expect(parsePidf(xml)).toMatchObject({
      basic: 'open',
      activities: ['away', 'Gardening'],
      note: 'Back <soon>',
    });
  });

  it('round-trips what it parsed: parse → build → parse', () => {
    for (const example of [RFC3863_EXAMPLE, RFC4480_EXAMPLE]) {
      const first = parsePidf(example);
      expect(parsePidf(buildPidf(first))).toEqual(first);
    }
  });

  it('writes closed, and nothing about the person when there is nothing to say', () => {
    const xml = buildPidf({ entity: 'sip:ann@example.org', basic: 'closed', tupleId: 'dev-1' });
    expect(xml).not.toContain('person');
    expect(parsePidf(xml)).toEqual({
      entity: 'sip:ann@example.org',
      basic: 'closed',
      activities: [],
      notes: [],
      tuples: [{ id: 'dev-1', basic: 'closed', notes: [] }],
    });
  });
});
