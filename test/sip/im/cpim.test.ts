import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../web/src/sip/errors.ts';
import {
  IMDN_HEADER_NS,
  buildCpim,
  formatDateTime,
  parseCpim,
  parseDateTime,
  parseDispositionNotification,
  type CpimInput,
} from '../../../web/src/sip/im/index.ts';

const crlf = (...lines: string[]): string => lines.join('\r\n');
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

// The shape of RFC 3862 §5's example: display names as tokens, several Subjects (one with ;lang=), an NS
// declaration, a Require naming a namespaced header, two namespaced headers, then MIME headers and XML content.
const RFC3862_EXAMPLE = crlf(
  'From: CAPTAIN NEMO <im:nemo@nautilus.example>',
  'To: Ned Land <im:ned@nautilus.example>',
  'DateTime: 2026-06-01T09:30:00-07:00',
  'Subject: the sea will be calm tonight',
  'Subject:;lang=fr la mer sera calme ce soir',
  'NS: Ship <mid:Features@id.nautilus.example>',
  'Require: Ship.VitalOption',
  'Ship.VitalOption: Confirmation-requested',
  'Ship.QuirkyOption: Use-silly-font',
  '',
  'Content-type: text/xml; charset=utf-8',
  'Content-ID: <20000@nautilus.example>',
  '',
  '<body>',
  'Twenty thousand leagues.',
  '</body>',
);

// RFC 5438 §7.1.1's IM asking for notifications: NS imdn, imdn.Message-ID, DateTime, Disposition-Notification.
const IMDN_REQUEST = crlf(
  'From: Ann <im:ann@example.org>',
  'To: Bo <im:bo@example.net>',
  'NS: imdn <urn:ietf:params:imdn>',
  'imdn.Message-ID: Qx81pZr2',
  'DateTime: 2026-02-03T04:05:06.789Z',
  'imdn.Disposition-Notification: positive-delivery, Display',
  '',
  'Content-type: text/plain',
  'Content-length: 11',
  '',
  'Hello there',
);

describe('parseCpim', () => {
  it('reads the RFC 3862 example', () => {
    const m = parseCpim(RFC3862_EXAMPLE);
    expect(m.from).toEqual({ displayName: 'CAPTAIN NEMO', uri: 'im:nemo@nautilus.example' });
    expect(m.to).toEqual([{ displayName: 'Ned Land', uri: 'im:ned@nautilus.example' }]);
    expect(m.cc).toEqual([]);
    expect(m.dateTime).toBe(Date.UTC(2026, 5, 1, 16, 30));
    expect(m.subjects).toEqual([
      { text: 'the sea will be calm tonight' },
      { text: 'la mer sera calme ce soir', lang: 'fr' },
    ]);
    expect(m.ns).toEqual({ Ship: 'mid:Features@id.nautilus.example' });
    expect(m.require).toEqual(['Ship.VitalOption']);
    expect(m.headers).toEqual([
      {
        name: 'VitalOption',
        value: 'Confirmation-requested',
        prefix: 'Ship',
        ns: 'mid:Features@id.nautilus.example',
      },
      {
        name: 'QuirkyOption',
        value: 'Use-silly-font',
        prefix: 'Ship',
        ns: 'mid:Features@id.nautilus.example',
      },
    ]);
    expect(m.contentHeaders).toEqual([
      ['Content-type', 'text/xml; charset=utf-8'],
      ['Content-ID', '<20000@nautilus.example>'],
    ]);
    expect(m.contentType).toBe('text/xml; charset=utf-8');
    expect(text(m.content)).toBe('<body>\r\nTwenty thousand leagues.\r\n</body>');
  });

  it('lifts the IMDN headers (RFC 5438 §6) out, whatever the prefix', () => {
    const m = parseCpim(IMDN_REQUEST);
    expect(m.messageId).toBe('Qx81pZr2');
    expect(m.dispositionNotification).toEqual(['positive-delivery', 'display']);
    expect(m.dateTime).toBe(Date.UTC(2026, 1, 3, 4, 5, 6, 789));
    expect(m.headers).toEqual([]);
    expect(text(m.content)).toBe('Hello there');
    const other = parseCpim(
      IMDN_REQUEST.replaceAll('imdn', 'rcpt').replace(
        'rcpt <urn:ietf:params:rcpt>',
        'rcpt <urn:ietf:params:imdn>',
      ),
    );
    expect(other.messageId).toBe('Qx81pZr2');
  });

  it('keeps unknown and namespaced headers, parameters included, in order', () => {
    const m = parseCpim(
      crlf(
        'NS: ex <urn:example:ext>',
        'NS: imdn <urn:ietf:params:imdn>',
        'ex.Priority:;level=3;note="a \\"b\\"" urgent',
        'X-Unknown: kept',
        'imdn.Original-To: <sip:list@example.org>',
        '',
        '',
        '',
      ),
    );
    expect(m.headers).toEqual([
      {
        name: 'Priority',
        value: 'urgent',
        prefix: 'ex',
        ns: 'urn:example:ext',
        params: { level: '3', note: 'a "b"' },
      },
      { name: 'X-Unknown', value: 'kept' },
      { name: 'Original-To', value: '<sip:list@example.org>', prefix: 'imdn', ns: IMDN_HEADER_NS },
    ]);
    expect(m.contentHeaders).toEqual([]);
    expect(m.content.length).toBe(0);
  });

  it('decodes the §2.3 escapes in header values and quoted display names', () => {
    const m = parseCpim(
      crlf(
        'From: "Zo\\u00e9 \\"Z\\" \\\\o/" <im:zoe@example.org>',
        'To: "" <im:x@example.org>',
        'cc: Jöns Jacob <im:jj@example.org>',
        'cc: <im:kim@example.org>',
        "Subject: tab\\there\\nnew line \\'q\\' \\b\\r",
        '',
        '',
        '',
      ),
    );
    expect(m.from).toEqual({ displayName: 'Zoé "Z" \\o/', uri: 'im:zoe@example.org' });
    expect(m.to[0]).toEqual({ displayName: '', uri: 'im:x@example.org' });
    expect(m.cc).toEqual([
      { displayName: 'Jöns Jacob', uri: 'im:jj@example.org' },
      { uri: 'im:kim@example.org' },
    ]);
    expect(m.subjects[0]?.text).toBe("tab\there\nnew line 'q' \b\r");
  });

  it('accepts bare LF line ends', () => {
    const m = parseCpim(IMDN_REQUEST.replaceAll('\r\n', '\n'));
    expect(m.messageId).toBe('Qx81pZr2');
    expect(text(m.content)).toBe('Hello there');
  });

  it('treats header names as case-sensitive (RFC 3862 §3.6): "from" is not From', () => {
    const m = parseCpim(crlf('from: <im:a@example.org>', '', '', ''));
    expect(m.from).toBeUndefined();
    expect(m.headers).toEqual([{ name: 'from', value: '<im:a@example.org>' }]);
  });

  it('keeps the content as bytes, binary included', () => {
    const head = new TextEncoder().encode(
      crlf('From: <im:a@example.org>', '', 'Content-Type: application/octet-stream', '', ''),
    );
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    const m = parseCpim(new Uint8Array([...head, ...payload]));
    expect(m.content).toEqual(payload);
  });

  const bad: [string, string][] = [
    ['an undeclared prefix (strict: never guessed, never dropped)', crlf('imdn.Message-ID: 1', '', '', '')],
    [
      'a prefix declared only after its use',
      crlf('imdn.Message-ID: 1', 'NS: imdn <urn:ietf:params:imdn>', '', '', ''),
    ],
    ['no blank line after the message headers', 'From: <im:a@example.org>\r\n'],
    [
      'no blank line after the MIME headers',
      crlf('From: <im:a@example.org>', '', 'Content-Type: text/plain'),
    ],
    ['a header without the space after the colon', crlf('From:<im:a@example.org>', '', '', '')],
    ['a header line without a colon', crlf('From <im:a@example.org>', '', '', '')],
    ['a control character in a value', crlf('Subject: tab\there', '', '', '')],
    ['an unknown escape', crlf('Subject: C:\\path', '', '', '')],
    ['a short \\u escape', crlf('Subject: \\u12', '', '', '')],
    ['two From headers', crlf('From: <im:a@example.org>', 'From: <im:b@example.org>', '', '', '')],
    [
      'two DateTime headers',
      crlf('DateTime: 2026-01-01T00:00:00Z', 'DateTime: 2026-01-01T00:00:00Z', '', '', ''),
    ],
    ['a From without < >', crlf('From: im:a@example.org', '', '', '')],
    [
      'a display name with a separator outside quotes',
      crlf('From: Ann (home) <im:a@example.org>', '', '', ''),
    ],
    ['a bad URI', crlf('To: <sip:>', '', '', '')],
    ['a bad DateTime', crlf('DateTime: 2026-13-01T00:00:00Z', '', '', '')],
    ['a bad NS', crlf('NS: imdn urn:ietf:params:imdn', '', '', '')],
    ['a bad Require', crlf('Require: a..b', '', '', '')],
    [
      'a bad Disposition-Notification',
      crlf('NS: imdn <urn:ietf:params:imdn>', 'imdn.Disposition-Notification: display, ', '', '', ''),
    ],
    ['a bad MIME header', crlf('', 'Content Type: text/plain', '', '')],
  ];
  it.each(bad)('refuses %s', (_, body) => {
    expect(() => parseCpim(body)).toThrow(ParseError);
  });

  it('refuses headers that are not UTF-8', () => {
    expect(() =>
      parseCpim(
        new Uint8Array([0x53, 0x75, 0x62, 0x6a, 0x65, 0x63, 0x74, 0x3a, 0x20, 0xff, 13, 10, 13, 10, 13, 10]),
      ),
    ).toThrow(ParseError);
  });
});

describe('buildCpim', () => {
  it('writes the headers in order, declaring the namespaces the IMDN fields need', () => {
    const body = buildCpim({
      from: { displayName: 'Ann', uri: 'im:ann@example.org' },
      to: [{ uri: 'im:bo@example.net' }],
      dateTime: Date.UTC(2026, 1, 3, 4, 5, 6, 789),
      messageId: 'Qx81pZr2',
      dispositionNotification: ['positive-delivery', 'display'],
      contentType: 'text/plain',
      content: 'Hello there',
    });
    expect(text(body)).toBe(
      crlf(
        'From: "Ann" <im:ann@example.org>',
        'To: <im:bo@example.net>',
        'DateTime: 2026-02-03T04:05:06.789Z',
        'NS: imdn <urn:ietf:params:imdn>',
        'imdn.Message-ID: Qx81pZr2',
        'imdn.Disposition-Notification: positive-delivery, display',
        '',
        'Content-Type: text/plain',
        '',
        'Hello there',
      ),
    );
  });

  it('round-trips the RFC examples: parse → build → parse', () => {
    for (const example of [RFC3862_EXAMPLE, IMDN_REQUEST]) {
      const first = parseCpim(example);
      expect(parseCpim(buildCpim(first))).toEqual(first);
    }
  });

  it('escapes what needs escaping, and declares a header namespace it is given', () => {
    const input: CpimInput = {
      from: { displayName: 'Dr. "Q" \\ Ω\t', uri: 'sip:q@example.org' },
      subjects: [{ text: 'line\nbreak \\ \u0001', lang: 'en-GB' }],
      headers: [{ name: 'Mood', value: 'ok', prefix: 'x', ns: 'urn:x', params: { why: 'a b;c' } }],
      content: new Uint8Array([0, 13, 10, 13, 10, 255]),
    };
    const body = buildCpim(input);
    expect(text(body)).toContain('From: "Dr. \\"Q\\" \\\\ Ω\\t" <sip:q@example.org>');
    expect(text(body)).toContain('Subject:;lang=en-GB line\\nbreak \\\\ \\u0001');
    expect(text(body)).toContain('NS: x <urn:x>');
    expect(text(body)).toContain('x.Mood:;why="a b;c" ok');
    const m = parseCpim(body);
    expect(m.from).toEqual(input.from);
    expect(m.subjects).toEqual(input.subjects);
    expect(m.headers).toEqual(input.headers);
    expect(m.content).toEqual(input.content);
  });

  it('picks another prefix when the one it wants is bound to another namespace', () => {
    const m = parseCpim(
      buildCpim({
        ns: { imdn: 'urn:other' },
        messageId: '1',
        headers: [{ name: 'A', value: 'a', prefix: 'imdn', ns: 'urn:third' }],
      }),
    );
    expect(m.messageId).toBe('1');
    expect(m.ns).toEqual({ imdn: 'urn:other', imdn2: IMDN_HEADER_NS, imdn3: 'urn:third' });
    expect(m.headers).toEqual([{ name: 'A', value: 'a', prefix: 'imdn3', ns: 'urn:third' }]);
  });

  it('invents a prefix for a namespaced header given without one', () => {
    const m = parseCpim(buildCpim({ headers: [{ name: 'Color', value: 'blue', ns: 'urn:example:paint' }] }));
    expect(m.headers).toEqual([{ name: 'Color', value: 'blue', prefix: 'ns', ns: 'urn:example:paint' }]);
  });

  it('refuses what it cannot write', () => {
    expect(() => buildCpim({ from: { uri: 'im:a b' } })).toThrow(TypeError);
    expect(() => buildCpim({ headers: [{ name: 'Bad Name', value: 'x' }] })).toThrow(TypeError);
    expect(() => buildCpim({ headers: [{ name: 'X', value: 'x', prefix: 'p' }] })).toThrow(TypeError);
    expect(() => buildCpim({ contentHeaders: [['X-A', 'a\r\nInjected: 1']] })).toThrow(TypeError);
    expect(() => buildCpim({ require: ['A\r\nInjected'] })).toThrow(TypeError);
    expect(() => buildCpim({ subjects: [{ text: 'x', lang: 'not a tag' }] })).toThrow(TypeError);
  });

  it('property: build → parse gives back what was built', () => {
    const str = fc.string({ unit: 'grapheme', maxLength: 12 });
    const addr = fc.record({
      displayName: fc.option(str, { nil: undefined }),
      uri: fc.constantFrom('im:a@example.org', 'sip:b@example.net;transport=tcp', 'tel:+15551234'),
    });
    fc.assert(
      fc.property(
        fc.record({
          from: addr,
          to: fc.array(addr, { maxLength: 3 }),
          subjects: fc.array(fc.record({ text: str }), { maxLength: 2 }),
          messageId: fc.stringMatching(/^[A-Za-z0-9]{1,16}$/),
          dateTime: fc.integer({ min: 0, max: 4e12 }),
          content: fc.uint8Array({ maxLength: 64 }),
        }),
        (input) => {
          const m = parseCpim(buildCpim(input));
          expect(m.from).toEqual(
            input.from.displayName === undefined || input.from.displayName === ''
              ? { uri: input.from.uri }
              : input.from,
          );
          expect(m.to.map((a) => a.uri)).toEqual(input.to.map((a) => a.uri));
          expect(m.subjects).toEqual(input.subjects);
          expect([m.messageId, m.dateTime]).toEqual([input.messageId, input.dateTime]);
          expect(m.content).toEqual(input.content);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('DateTime (RFC 3339)', () => {
  it.each([
    ['2026-06-01T09:30:00-07:00', Date.UTC(2026, 5, 1, 16, 30)],
    ['2026-06-01T09:30:00+05:30', Date.UTC(2026, 5, 1, 4, 0)],
    ['2026-06-01t09:30:00z', Date.UTC(2026, 5, 1, 9, 30)],
    ['2026-06-01T09:30:00.5Z', Date.UTC(2026, 5, 1, 9, 30, 0, 500)],
    ['2026-06-01T09:30:00.123999Z', Date.UTC(2026, 5, 1, 9, 30, 0, 123)],
    ['2024-02-29T23:59:59Z', Date.UTC(2024, 1, 29, 23, 59, 59)],
    ['1969-12-31T23:59:59Z', -1000],
    ['0001-01-01T00:00:00Z', -62135596800000],
  ])('parses %s', (value, ms) => {
    expect(parseDateTime(value)).toBe(ms);
  });

  it.each([
    '2023-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:60:00Z',
    '2026-01-01 00:00:00Z',
    '2026-01-01T00:00:00',
    '2026-01-01T00:00:00+0100',
    '2026-01-01T00:00:00+24:00',
    '26-01-01T00:00:00Z',
    '2026-01-01T00:00:00.Z',
  ])('refuses %s', (value) => {
    expect(() => parseDateTime(value)).toThrow(ParseError);
  });

  it('formats in UTC, with milliseconds only when there are some', () => {
    expect(formatDateTime(Date.UTC(2026, 1, 3, 4, 5, 6))).toBe('2026-02-03T04:05:06Z');
    expect(formatDateTime(Date.UTC(2026, 1, 3, 4, 5, 6, 7))).toBe('2026-02-03T04:05:06.007Z');
    expect(formatDateTime(-1)).toBe('1969-12-31T23:59:59.999Z');
    expect(() => formatDateTime(NaN)).toThrow(TypeError);
  });

  it('property: format → parse is the identity', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62135596800000, max: 253402300799999 }), (ms) => {
        expect(parseDateTime(formatDateTime(ms))).toBe(ms);
        expect(formatDateTime(ms)).toBe(new Date(ms).toISOString().replace('.000Z', 'Z'));
      }),
    );
  });
});

describe('Disposition-Notification (RFC 5438 §6.2)', () => {
  it('lowercases tokens, drops parameters, keeps unknown ones', () => {
    expect(
      parseDispositionNotification('Positive-Delivery;x=1 ,negative-delivery, display,processing, delay'),
    ).toEqual(['positive-delivery', 'negative-delivery', 'display', 'processing', 'delay']);
    expect(parseDispositionNotification('  ')).toEqual([]);
  });
});
