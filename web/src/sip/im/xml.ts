/**
 * A small, strict XML 1.0 + Namespaces 1.0 parser and serializer for the little documents SIP carries (IMDN,
 * is-composing, resource lists, PIDF). No third-party library: the whole core must stay small.
 *
 * The tree is plain data: an element is `{ ns, local, attrs, children }`, a text node is a string. Namespaces are
 * resolved (an element or attribute carries its namespace URI, '' for none); `xmlns` declarations are not kept
 * as attributes, and `prefix` is only a hint for the serializer. Adjacent text and CDATA merge into one string;
 * comments and processing instructions are skipped; whitespace is kept as written (after the line-end
 * normalization every XML processor does).
 *
 * Refused with ParseError: anything not well-formed (mismatched or unclosed tags, a duplicate attribute, an
 * undeclared prefix, a bad entity or character reference, a character XML forbids, junk after the root), any
 * DOCTYPE (so no entity can ever expand: no "billion laughs"), nesting deeper than 64, input over 1 MB.
 */
import { ParseError } from '../errors.ts';

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
export const MAX_XML_SIZE = 1 << 20;
export const MAX_XML_DEPTH = 64;

export interface XmlAttr {
  ns: string;
  local: string;
  value: string;
  prefix?: string | undefined;
}

export interface XmlElement {
  ns: string;
  local: string;
  attrs: XmlAttr[];
  children: XmlNode[];
  prefix?: string | undefined;
}

export type XmlNode = XmlElement | string;

// XML 1.0 §2.3: NameStartChar and NameChar (the ':' is split off afterwards, Namespaces §3 QName).
const START =
  'A-Z_a-z\\xC0-\\xD6\\xD8-\\xF6\\xF8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
// The classes hold combining marks and ZWJ/ZWNJ on purpose: XML names allow them.
// eslint-disable-next-line no-misleading-character-class
const NAME = new RegExp(`[:${START}][:${START}\\-.0-9\\xB7\\u0300-\\u036F\\u203F\\u2040]*`, 'uy');
// eslint-disable-next-line no-misleading-character-class
const NCNAME = new RegExp(`^[${START}][${START}\\-.0-9\\xB7\\u0300-\\u036F\\u203F\\u2040]*$`, 'u');
// XML 1.0 §2.2: Char; everything else (most C0 controls, lone surrogates, U+FFFE/FFFF) is refused.
const NOT_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };
const utf8 = new TextDecoder('utf-8', { fatal: true });

const isWs = (c: string | undefined): boolean => c === ' ' || c === '\n' || c === '\t';

export function parseXml(input: string | Uint8Array): XmlElement {
  if (input.length > MAX_XML_SIZE) throw new ParseError('XML document larger than 1 MB', 0, 413);
  let s: string;
  if (typeof input === 'string') s = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  else
    try {
      s = utf8.decode(input); // drops a BOM
    } catch {
      throw new ParseError('XML document is not UTF-8');
    }
  // XML 1.0 §2.11: CRLF and lone CR become LF before parsing.
  s = s.replace(/\r\n?/g, '\n');
  let i = 0;
  const fail = (why: string, at = i): never => {
    throw new ParseError(`XML: ${why}`, at);
  };
  const bad = NOT_CHAR.exec(s);
  if (bad) fail('character not allowed in XML', bad.index);

  const ws = (): boolean => {
    const start = i;
    while (isWs(s[i])) i++;
    return i > start;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(s);
    if (!m) return fail('expected a name');
    i += m[0].length;
    return m[0];
  };
  const expect = (t: string): void => {
    if (!s.startsWith(t, i)) fail(`expected "${t}"`);
    i += t.length;
  };

  // XML 1.0 §2.5: a comment ends at the first "--", which must be followed by ">".
  const comment = (): void => {
    const end = s.indexOf('--', i + 4);
    if (end < 0) fail('unterminated comment');
    if (s[end + 2] !== '>') fail('"--" inside a comment', end);
    i = end + 3;
  };
  // §2.6: PIs are skipped; the target "xml" is reserved for the declaration at the very start.
  const pi = (): void => {
    const at = (i += 2);
    if (name().toLowerCase() === 'xml') fail('XML declaration not at the start', at);
    const end = s.indexOf('?>', i);
    if (end < 0) fail('unterminated processing instruction');
    if (end > i && !isWs(s[i])) fail('expected whitespace after the PI target');
    i = end + 2;
  };
  const misc = (): void => {
    for (;;) {
      ws();
      if (s.startsWith('<!--', i)) comment();
      else if (s.startsWith('<?', i)) pi();
      else return;
    }
  };

  // §3.3.3 attribute-value normalization (whitespace characters become spaces), then §4.1 references:
  // the five predefined entities and character references to legal characters; nothing else exists here.
  const text = (raw: string, at: number, inAttr: boolean): string => {
    if (inAttr) {
      if (raw.includes('<')) fail('"<" in an attribute value', at);
      raw = raw.replace(/[\t\n]/g, ' ');
    } else if (raw.includes(']]>')) fail('"]]>" in text', at + raw.indexOf(']]>'));
    if (!raw.includes('&')) return raw;
    return raw.replace(/&([^;&<]*)(;?)/g, (_, ref: string, semi: string, off: number) => {
      if (semi && Object.hasOwn(ENTITIES, ref)) return ENTITIES[ref] ?? '';
      const m = semi ? /^#(?:x([\dA-Fa-f]{1,6})|(\d{1,7}))$/.exec(ref) : null;
      const cp = m ? parseInt(m[1] ?? m[2] ?? '', m[1] ? 16 : 10) : -1;
      if (cp < 0 || cp > 0x10ffff || NOT_CHAR.test(String.fromCodePoint(cp)))
        fail(`bad entity or character reference "&${ref.slice(0, 12)}${semi}"`, at + off);
      return String.fromCodePoint(cp);
    });
  };

  // Namespaces §3–§6: a scope maps prefixes ('' = default) to URIs, chained to its parent's.
  type Scope = Record<string, string | undefined>;
  const qname = (
    qn: string,
    scope: Scope,
    isAttr: boolean,
    at: number,
  ): [string, string, string | undefined] => {
    const colon = qn.indexOf(':');
    if (colon < 0) return [isAttr ? '' : (scope[''] ?? ''), qn, undefined];
    const prefix = qn.slice(0, colon);
    const local = qn.slice(colon + 1);
    if (!NCNAME.test(prefix) || !NCNAME.test(local)) fail(`bad qualified name "${qn}"`, at);
    const ns = scope[prefix];
    if (ns === undefined || prefix === 'xmlns') return fail(`undeclared namespace prefix "${prefix}"`, at);
    return [ns, local, prefix];
  };

  const parseElement = (parent: Scope, depth: number): XmlElement => {
    if (depth > MAX_XML_DEPTH) fail(`elements nested deeper than ${MAX_XML_DEPTH}`);
    const at = i++;
    const qn = name();
    const scope: Scope = Object.create(parent) as Scope;
    const raw: [string, string, number][] = [];
    const seen = new Set<string>();
    for (;;) {
      const spaced = ws();
      if (s[i] === '>' || s[i] === '/' || i >= s.length) break;
      if (!spaced) fail('expected whitespace before an attribute');
      const an = name();
      const aat = i - an.length;
      if (seen.has(an)) fail(`duplicate attribute "${an}"`, aat);
      seen.add(an);
      ws();
      expect('=');
      ws();
      const q = s[i];
      if (q !== '"' && q !== "'") fail('expected a quoted attribute value');
      const end = s.indexOf(q ?? '', ++i);
      if (end < 0) fail('unterminated attribute value');
      const value = text(s.slice(i, end), i, true);
      i = end + 1;
      if (an === 'xmlns' || an.startsWith('xmlns:')) {
        const prefix = an.slice(6);
        // Namespaces §3: "xmlns" is never declared, "xml" only to its own URI, and neither URI to anything else;
        // a prefix cannot be undeclared (NS 1.0), the default namespace can (xmlns="").
        if (
          prefix === 'xmlns' ||
          value === XMLNS_NS ||
          (prefix === 'xml') !== (value === XML_NS) ||
          (prefix !== '' && (value === '' || !NCNAME.test(prefix)))
        )
          fail(`bad namespace declaration ${an}="${value}"`, aat);
        scope[prefix] = value;
      } else raw.push([an, value, aat]);
    }
    const [ns, local, prefix] = qname(qn, scope, false, at + 1);
    const attrs: XmlAttr[] = [];
    const expanded = new Set<string>();
    for (const [an, value, aat] of raw) {
      const [ans, alocal, aprefix] = qname(an, scope, true, aat);
      // Namespaces §6.3: no two attributes with the same expanded name.
      const key = `{${ans}}${alocal}`;
      if (expanded.has(key)) fail(`duplicate attribute "${an}"`, aat);
      expanded.add(key);
      attrs.push(
        aprefix === undefined
          ? { ns: ans, local: alocal, value }
          : { ns: ans, local: alocal, value, prefix: aprefix },
      );
    }
    const el: XmlElement = { ns, local, attrs, children: [] };
    if (prefix !== undefined) el.prefix = prefix;
    if (s[i] === '/') {
      i++;
      expect('>');
      return el;
    }
    expect('>');
    let buf = '';
    for (;;) {
      const lt = s.indexOf('<', i);
      if (lt < 0) fail(`<${qn}> is never closed`, at);
      if (lt > i) buf += text(s.slice(i, lt), i, false);
      i = lt;
      if (s.startsWith('</', i)) {
        i += 2;
        const en = name();
        if (en !== qn) fail(`end tag </${en}> does not match <${qn}>`, lt);
        ws();
        expect('>');
        break;
      }
      if (s.startsWith('<!--', i)) comment();
      else if (s.startsWith('<![CDATA[', i)) {
        const end = s.indexOf(']]>', i + 9);
        if (end < 0) fail('unterminated CDATA section');
        buf += s.slice(i + 9, end);
        i = end + 3;
      } else if (s.startsWith('<?', i)) pi();
      else if (s.startsWith('<!', i)) fail('markup declaration (DOCTYPE, ENTITY …) not allowed');
      else {
        if (buf) el.children.push(buf);
        buf = '';
        el.children.push(parseElement(scope, depth + 1));
      }
    }
    if (buf) el.children.push(buf);
    return el;
  };

  // §2.8 prolog: an optional XML declaration, then comments, PIs and whitespace; a DOCTYPE is refused.
  const decl =
    /^<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])1\.\d+\1(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])([A-Za-z][\w.-]*)\2)?(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(?:yes|no)\4)?[ \t\n]*\?>/.exec(
      s,
    );
  if (decl) {
    // The bytes were decoded as UTF-8, so a document that says it is something else is refused.
    if (decl[3] && !/^(utf-8|us-ascii)$/i.test(decl[3])) fail(`unsupported encoding "${decl[3]}"`);
    i = decl[0].length;
  } else if (/^<\?xml[ \t\n?]/.test(s)) fail('malformed XML declaration');
  misc();
  if (s.startsWith('<!DOCTYPE', i)) fail('DOCTYPE is not allowed');
  if (s[i] !== '<') fail('expected the root element');
  const root = parseElement(Object.assign(Object.create(null) as Scope, { '': '', xml: XML_NS }), 1);
  misc();
  if (i < s.length) fail('content after the root element');
  return root;
}

// ---------------------------------------------------------------------------------------------- reading

/** Child elements, optionally only those with the given namespace and local name. */
export function childElements(e: XmlElement, ns?: string, local?: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of e.children)
    if (
      typeof c !== 'string' &&
      (ns === undefined || c.ns === ns) &&
      (local === undefined || c.local === local)
    )
      out.push(c);
  return out;
}

export function childElement(e: XmlElement, ns: string, local: string): XmlElement | undefined {
  return childElements(e, ns, local)[0];
}

/** Parse a document whose root must be the element {ns}local. */
export function parseRoot(input: string | Uint8Array, ns: string, local: string): XmlElement {
  const root = parseXml(input);
  if (root.ns !== ns || root.local !== local) throw new ParseError(`XML: root is not <${local}> of ${ns}`);
  return root;
}

/** The child {ns}local; more than one is a ParseError, and so is none when `required`. */
export function only(e: XmlElement, ns: string, local: string, required = false): XmlElement | undefined {
  const list = childElements(e, ns, local);
  if (list.length > 1 || (required && !list[0]))
    throw new ParseError(`XML: ${list[0] ? 'more than one' : 'no'} <${local}>`);
  return list[0];
}

/** The element's own text (its string children, joined). */
export function textOf(e: XmlElement): string {
  let t = '';
  for (const c of e.children) if (typeof c === 'string') t += c;
  return t;
}

export function attrOf(e: XmlElement, local: string, ns = ''): string | undefined {
  return e.attrs.find((a) => a.local === local && a.ns === ns)?.value;
}

// ---------------------------------------------------------------------------------------------- building

export type XmlChild = XmlNode | number | false | null | undefined | XmlChild[];
export type XmlAttrs = Record<string, string | number | undefined> | (XmlAttr | undefined)[];

/** A namespaced attribute for `el()`; undefined (so dropped) when the value is. */
export function attr(ns: string, qname: string, value: string | undefined): XmlAttr | undefined {
  if (value === undefined) return undefined;
  const [prefix, local] = split(qname);
  return { ns, local, value, prefix };
}

/**
 * An element. `qname` may carry a prefix hint ("dm:person"); attributes are a record of un-namespaced ones
 * ("xml:lang" is understood) or a list from `attr()`; undefined values and false/null/undefined children are
 * dropped, arrays flattened, adjacent text joined.
 */
export function el(ns: string, qname: string, attrs?: XmlAttrs | null, ...children: XmlChild[]): XmlElement {
  const [prefix, local] = split(qname);
  const list: XmlAttr[] = [];
  if (Array.isArray(attrs)) {
    for (const a of attrs) if (a) list.push(a);
  } else if (attrs)
    for (const [k, v] of Object.entries(attrs))
      if (v !== undefined)
        list.push(
          k.startsWith('xml:')
            ? { ns: XML_NS, local: k.slice(4), value: String(v), prefix: 'xml' }
            : { ns: '', local: k, value: String(v) },
        );
  const out: XmlNode[] = [];
  const add = (c: XmlChild): void => {
    if (Array.isArray(c)) c.forEach(add);
    else if (typeof c === 'number' || typeof c === 'string') {
      const t = String(c);
      const last = out.length - 1;
      if (typeof out[last] === 'string') out[last] += t;
      else if (t) out.push(t);
    } else if (c) out.push(c);
  };
  children.forEach(add);
  return { ns, local, attrs: list, children: out, prefix };
}

function split(qname: string): [string | undefined, string] {
  const c = qname.indexOf(':');
  return c < 0 ? [undefined, qname] : [qname.slice(0, c), qname.slice(c + 1)];
}

// ---------------------------------------------------------------------------------------------- serializing

const REFS: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
const esc = (t: string, re: RegExp): string => t.replace(re, (c) => REFS[c] ?? `&#${c.charCodeAt(0)};`);
const escText = (t: string): string => esc(t, /[&<>\r]/g);
const escAttr = (t: string): string => esc(t, /[&<"\t\n\r]/g);

/**
 * The document as text, with an XML declaration unless `declaration` is false. Every prefixed namespace is
 * declared once on the root (prefixes from the hints, renamed on a clash, generated where none was given);
 * un-prefixed elements use the default namespace, redeclared where it changes. Text and attribute values are
 * escaped so that parsing the output gives the same tree back.
 */
export function serializeXml(root: XmlElement, declaration = true): string {
  const prefixOf = new Map<string, string>([[XML_NS, 'xml']]);
  const taken = new Set(['xml', 'xmlns']);
  let decls = '';
  const bind = (ns: string, hint: string | undefined): void => {
    if (prefixOf.has(ns)) return;
    let p = hint && !taken.has(hint) && NCNAME.test(hint) ? hint : '';
    for (let n = 1; !p; n++) if (!taken.has(`ns${n}`)) p = `ns${n}`;
    taken.add(p);
    prefixOf.set(ns, p);
    decls += ` xmlns:${p}="${escAttr(ns)}"`;
  };
  const check = (what: string, t: string): void => {
    if (NOT_CHAR.test(t))
      throw new TypeError(`${what} holds a character XML cannot carry: ${JSON.stringify(t)}`);
  };
  const scan = (e: XmlElement): void => {
    if (e.prefix && e.ns) bind(e.ns, e.prefix);
    for (const a of e.attrs) if (a.ns) bind(a.ns, a.prefix);
    for (const c of e.children) if (typeof c !== 'string') scan(c);
  };
  scan(root);
  const write = (e: XmlElement, dflt: string, top: boolean): string => {
    if (!NCNAME.test(e.local)) throw new TypeError(`bad element name "${e.local}"`);
    const p = e.prefix && e.ns ? prefixOf.get(e.ns) : undefined;
    const name = p ? `${p}:${e.local}` : e.local;
    let s = `<${name}`;
    if (!p && e.ns !== dflt) {
      dflt = e.ns;
      s += ` xmlns="${escAttr(dflt)}"`;
    }
    if (top) s += decls;
    for (const a of e.attrs) {
      if (!NCNAME.test(a.local)) throw new TypeError(`bad attribute name "${a.local}"`);
      check('attribute', a.value);
      s += ` ${a.ns ? `${prefixOf.get(a.ns) ?? ''}:` : ''}${a.local}="${escAttr(a.value)}"`;
    }
    if (!e.children.length) return s + '/>';
    s += '>';
    for (const c of e.children)
      if (typeof c === 'string') {
        check('text', c);
        s += escText(c);
      } else s += write(c, dflt, false);
    return `${s}</${name}>`;
  };
  return (declaration ? '<?xml version="1.0" encoding="UTF-8"?>\n' : '') + write(root, '', true);
}
