import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../web/src/sip/errors.ts';
import {
  XML_NS,
  attr,
  attrOf,
  childElement,
  childElements,
  el,
  parseXml,
  serializeXml,
  textOf,
  type XmlElement,
  type XmlNode,
} from '../../../web/src/sip/im/index.ts';

const enc = new TextEncoder();

/** The tree without serializer hints, for comparing. */
function strip(e: XmlElement): unknown {
  return {
    ns: e.ns,
    local: e.local,
    attrs: e.attrs.map((a) => ({ ns: a.ns, local: a.local, value: a.value })),
    children: e.children.map((c: XmlNode) => (typeof c === 'string' ? c : strip(c))),
  };
}

describe('parseXml', () => {
  it('resolves default and prefixed namespaces on elements and attributes', () => {
    const doc = parseXml(
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
        '<!-- a comment --><?app hint?>\n' +
        '<root xmlns="urn:a" xmlns:b="urn:b" b:flag="1" plain="2">' +
        '<b:item id="x" xml:lang="fr"/><inner xmlns=""><deep/></inner><b:other xmlns:b="urn:c"/>' +
        '</root>\n<!-- trailing -->\n',
    );
    expect(doc.ns).toBe('urn:a');
    expect(doc.local).toBe('root');
    expect(doc.attrs).toEqual([
      { ns: 'urn:b', local: 'flag', value: '1', prefix: 'b' },
      { ns: '', local: 'plain', value: '2' },
    ]);
    const item = childElement(doc, 'urn:b', 'item');
    expect(item?.prefix).toBe('b');
    expect(attrOf(item as XmlElement, 'lang', XML_NS)).toBe('fr');
    const inner = childElement(doc, '', 'inner') as XmlElement;
    expect(childElements(inner)[0]?.ns).toBe('');
    expect(childElement(doc, 'urn:c', 'other')).toBeDefined();
  });

  it('decodes the five entities, character references and CDATA, and keeps whitespace', () => {
    const doc = parseXml(
      '<t a="&lt;&gt;&amp;&apos;&quot; &#65;&#x1F600;">  x &amp; y\n <![CDATA[<not> &amp; markup]]>\t&#xD;</t>',
    );
    expect(attrOf(doc, 'a')).toBe(`<>&'" A😀`);
    expect(doc.children).toEqual(['  x & y\n <not> &amp; markup\t\r']);
  });

  it('normalizes line ends and attribute whitespace as XML 1.0 says', () => {
    const doc = parseXml('<t a="1\r\n2\t3&#10;4">a\r\nb\rc</t>');
    expect(attrOf(doc, 'a')).toBe('1 2 3\n4');
    expect(textOf(doc)).toBe('a\nb\nc');
  });

  it('takes bytes (UTF-8, with or without a BOM) and strings', () => {
    const bytes = enc.encode('<t>é 😀</t>');
    expect(textOf(parseXml(bytes))).toBe('é 😀');
    expect(textOf(parseXml(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes])))).toBe('é 😀');
    expect(textOf(parseXml('\uFEFF<t>x</t>'))).toBe('x');
  });

  it('skips comments and PIs inside content, joining the text around them', () => {
    const doc = parseXml('<t>a<!-- c -->b<?pi x?>c<e/>d</t>');
    expect(doc.children.map((c) => (typeof c === 'string' ? c : c.local))).toEqual(['abc', 'e', 'd']);
  });

  const malformed: [string, string | Uint8Array][] = [
    ['unclosed element', '<a><b></b>'],
    ['mismatched end tag', '<a><b></a></b>'],
    ['duplicate attribute', '<a x="1" x="2"/>'],
    ['duplicate expanded attribute', '<a xmlns:p="urn:x" xmlns:q="urn:x" p:k="1" q:k="2"/>'],
    ['undeclared element prefix', '<p:a/>'],
    ['undeclared attribute prefix', '<a p:x="1"/>'],
    ['unknown entity', '<a>&nbsp;</a>'],
    ['entity without semicolon', '<a>&amp</a>'],
    ['bare ampersand', '<a>fish & chips</a>'],
    ['reference to NUL', '<a>&#0;</a>'],
    ['reference to a surrogate', '<a>&#xD800;</a>'],
    ['reference beyond Unicode', '<a>&#x110000;</a>'],
    ['raw control character', '<a>\u0001</a>'],
    ['trailing junk', '<a/>junk'],
    ['two roots', '<a/><b/>'],
    ['no root', '<!-- nothing -->'],
    ['empty', ''],
    ['DOCTYPE', '<!DOCTYPE a><a/>'],
    ['entity expansion attack', '<!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>'],
    ['DOCTYPE after a comment', '<!-- x --><!DOCTYPE a><a/>'],
    ['markup declaration in content', '<a><!ENTITY x "y"></a>'],
    ['"--" in a comment', '<a><!-- a -- b --></a>'],
    ['unterminated comment', '<a><!-- x </a>'],
    ['unterminated CDATA', '<a><![CDATA[x</a>'],
    ['"]]>" in text', '<a>x]]>y</a>'],
    ['"<" in an attribute', '<a x="<"/>'],
    ['unquoted attribute', '<a x=1/>'],
    ['attributes without whitespace', '<a x="1"y="2"/>'],
    ['XML declaration not first', ' <?xml version="1.0"?><a/>'],
    ['malformed XML declaration', '<?xml encoding="UTF-8"?><a/>'],
    ['non-UTF-8 encoding declared', '<?xml version="1.0" encoding="ISO-8859-1"?><a/>'],
    ['invalid UTF-8 bytes', new Uint8Array([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e])],
    ['bad qualified name', '<a:b:c xmlns:a="urn:a"/>'],
    ['prefix bound to the empty URI', '<a xmlns:p=""/>'],
    ['xml prefix rebound', '<a xmlns:xml="urn:x"/>'],
    ['xmlns prefix declared', '<a xmlns:xmlns="urn:x"/>'],
    ['name starting with a digit', '<1a/>'],
  ];
  it.each(malformed)('refuses %s', (_, input) => {
    expect(() => parseXml(input)).toThrow(ParseError);
  });

  it('refuses nesting deeper than 64 and accepts exactly 64', () => {
    const nest = (n: number): string => '<a>'.repeat(n) + '</a>'.repeat(n);
    expect(() => parseXml(nest(64))).not.toThrow();
    expect(() => parseXml(nest(65))).toThrow(/deeper/);
  });

  it('refuses input over 1 MB', () => {
    const big = `<a>${'x'.repeat(1 << 20)}</a>`;
    expect(() => parseXml(big)).toThrow(ParseError);
    expect(() => parseXml(enc.encode(big))).toThrow(ParseError);
  });

  it('reports where the problem is', () => {
    try {
      parseXml('<a>\n  <b>\n</a>');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as ParseError).offset).toBe(10);
    }
  });
});

describe('el / serializeXml', () => {
  it('escapes text and attribute values', () => {
    const xml = serializeXml(el('', 't', { a: '"<&>\t\n' }, 'a<b & c>d\r'), false);
    expect(xml).toBe('<t a="&quot;&lt;&amp;>&#9;&#10;">a&lt;b &amp; c&gt;d&#13;</t>');
    expect(attrOf(parseXml(xml), 'a')).toBe('"<&>\t\n');
    expect(textOf(parseXml(xml))).toBe('a<b & c>d\r');
  });

  it('declares prefixed namespaces once on the root and the default where it changes', () => {
    const doc = el(
      'urn:a',
      'root',
      [attr('urn:cp', 'cp:mode', 'to'), attr(XML_NS, 'xml:lang', 'en'), attr('urn:z', 'k', 'v')],
      el('urn:d', 'd:child', null, el('urn:d', 'd:grand')),
      el('urn:e', 'other', null, el('', 'bare')),
      'text',
      1,
      [false, undefined, null],
    );
    expect(serializeXml(doc)).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<root xmlns="urn:a" xmlns:cp="urn:cp" xmlns:ns1="urn:z" xmlns:d="urn:d" cp:mode="to" xml:lang="en" ns1:k="v">' +
        '<d:child><d:grand/></d:child><other xmlns="urn:e"><bare xmlns=""/></other>text1</root>',
    );
  });

  it('renames a prefix hint that clashes', () => {
    const doc = el('urn:a', 'p:root', null, el('urn:b', 'p:child'));
    const xml = serializeXml(doc, false);
    expect(xml).toBe('<p:root xmlns:p="urn:a" xmlns:ns1="urn:b"><ns1:child/></p:root>');
    expect(strip(parseXml(xml))).toEqual(strip(doc));
  });

  it('refuses characters and names XML cannot carry', () => {
    expect(() => serializeXml(el('', 't', null, '\u0000'))).toThrow(TypeError);
    expect(() => serializeXml(el('', 't', { a: '\uFFFF' }))).toThrow(TypeError);
    expect(() => serializeXml(el('', '1t'))).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------- property

const NAMESPACES = ['', 'urn:x', 'urn:y:z', 'http://example.com/ns?a=1&b="2"'];
const name = fc.constantFrom('a', 'b-c', 'd.e', '_f', 'g1', 'été', 'x\u0300y');
const prefix = fc.option(fc.constantFrom('p', 'q', 'xml', 'r'), { nil: undefined });
// Any XML character, including the ones that need escaping or character references.
const text = fc
  .string({
    unit: fc.constantFrom('a', ' ', '\t', '\n', '\r', '<', '>', '&', '"', "'", ']', 'é', '😀', '\u2028'),
  })
  .filter((s) => s.length > 0);

const tree: fc.Arbitrary<XmlElement> = fc.letrec<{ node: XmlElement }>((tie) => ({
  node: fc
    .record({
      ns: fc.constantFrom(...NAMESPACES),
      local: name,
      prefix,
      attrs: fc.uniqueArray(
        fc.record({ ns: fc.constantFrom(...NAMESPACES), local: name, prefix, value: fc.string() }),
        { selector: (a) => `${a.ns} ${a.local}`, maxLength: 3 },
      ),
      children: fc.array(fc.oneof({ depthSize: 'small' }, text, tie('node')), { maxLength: 4 }),
    })
    .map((r) =>
      el(
        r.ns,
        r.prefix ? `${r.prefix}:${r.local}` : r.local,
        r.attrs.map((a) => ({ ...a, value: a.value.replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/g, '') })),
        ...r.children,
      ),
    ),
})).node;

describe('property', () => {
  it('build → serialize → parse gives the same tree', () => {
    fc.assert(
      fc.property(tree, fc.boolean(), (doc, declaration) => {
        const back = parseXml(serializeXml(doc, declaration));
        expect(strip(back)).toEqual(strip(doc));
        expect(serializeXml(back, declaration)).toBe(serializeXml(doc, declaration));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but ParseError on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            '<',
            '>',
            '/',
            'a',
            ':',
            '=',
            '"',
            '&',
            ';',
            '#',
            '!',
            '-',
            '?',
            ' ',
            'x',
            '[',
            ']',
          ),
        }),
        (s) => {
          try {
            parseXml(s);
          } catch (e) {
            expect(e).toBeInstanceOf(ParseError);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
