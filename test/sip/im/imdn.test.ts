import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../web/src/sip/errors.ts';
import {
  IMDN_CONTENT_TYPE,
  IMDN_HEADER_NS,
  buildImdn,
  buildImdnMessage,
  parseCpim,
  parseImdn,
  wantsNotification,
  type Imdn,
} from '../../../web/src/sip/im/index.ts';

const crlf = (...lines: string[]): string => lines.join('\r\n');
const doc = (...inner: string[]): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<imdn xmlns="urn:ietf:params:xml:ns:imdn">\n  ${inner.join('\n  ')}\n</imdn>\n`;

// RFC 5438 §7.2.1.1's delivery notification, as the recipient sends it inside CPIM (values changed).
const DELIVERY_MESSAGE = crlf(
  'From: Bo <im:bo@example.net>',
  'To: Ann <im:ann@example.org>',
  'NS: imdn <urn:ietf:params:imdn>',
  'imdn.Message-ID: f83nd82kd0',
  'DateTime: 2026-02-03T04:05:09Z',
  '',
  'Content-type: message/imdn+xml',
  'Content-Disposition: notification',
  '',
  doc(
    '<message-id>Qx81pZr2</message-id>',
    '<datetime>2026-02-03T05:05:06-01:00</datetime>',
    '<recipient-uri>im:bo@example.net</recipient-uri>',
    '<original-recipient-uri>im:bo@example.net</original-recipient-uri>',
    '<delivery-notification>',
    '  <status>',
    '    <delivered/>',
    '  </status>',
    '</delivery-notification>',
  ),
);

describe('parseImdn', () => {
  it('reads the RFC 5438 delivery notification out of its CPIM wrapper', () => {
    const cpim = parseCpim(DELIVERY_MESSAGE);
    expect(cpim.contentType).toBe(IMDN_CONTENT_TYPE);
    expect(cpim.contentHeaders).toContainEqual(['Content-Disposition', 'notification']);
    expect(parseImdn(cpim.content)).toEqual({
      messageId: 'Qx81pZr2',
      dateTime: Date.UTC(2026, 1, 3, 6, 5, 6),
      recipientUri: 'im:bo@example.net',
      originalRecipientUri: 'im:bo@example.net',
      kind: 'delivery',
      status: 'delivered',
    });
  });

  it('reads display and processing notifications, with a subject', () => {
    expect(
      parseImdn(
        doc(
          '<message-id>m1</message-id>',
          '<datetime>2026-02-03T04:05:06Z</datetime>',
          '<recipient-uri>sip:bo@example.net</recipient-uri>',
          '<original-recipient-uri>sip:team@example.net</original-recipient-uri>',
          '<subject>Weekly  report </subject>',
          '<display-notification><status><displayed/></status></display-notification>',
        ),
      ),
    ).toEqual({
      messageId: 'm1',
      dateTime: Date.UTC(2026, 1, 3, 4, 5, 6),
      recipientUri: 'sip:bo@example.net',
      originalRecipientUri: 'sip:team@example.net',
      subject: 'Weekly  report ',
      kind: 'display',
      status: 'displayed',
    });
    expect(
      parseImdn(
        doc(
          '<message-id>m2</message-id>',
          '<datetime>2026-02-03T04:05:06Z</datetime>',
          '<processing-notification><status><stored/></status></processing-notification>',
        ),
      ),
    ).toMatchObject({ kind: 'processing', status: 'stored' });
  });

  it('ignores elements of other namespaces (vendor extensions)', () => {
    const n = parseImdn(
      doc(
        '<message-id>m3</message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<x:trace xmlns:x="urn:example:x">hop</x:trace>',
        '<delivery-notification><status><failed/><x:code xmlns:x="urn:example:x">503</x:code></status></delivery-notification>',
      ),
    );
    expect(n).toMatchObject({ kind: 'delivery', status: 'failed' });
  });

  const bad: [string, string][] = [
    ['a root that is not <imdn>', '<imdm xmlns="urn:ietf:params:xml:ns:imdn"/>'],
    ['the wrong namespace', '<imdn xmlns="urn:ietf:params:xml:ns:imdm"><message-id>1</message-id></imdn>'],
    [
      'no message-id',
      doc(
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<display-notification><status><displayed/></status></display-notification>',
      ),
    ],
    [
      'an empty message-id',
      doc(
        '<message-id> </message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<display-notification><status><displayed/></status></display-notification>',
      ),
    ],
    [
      'two message-ids',
      doc(
        '<message-id>1</message-id>',
        '<message-id>2</message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<display-notification><status><displayed/></status></display-notification>',
      ),
    ],
    [
      'no datetime',
      doc(
        '<message-id>1</message-id>',
        '<display-notification><status><displayed/></status></display-notification>',
      ),
    ],
    [
      'a bad datetime',
      doc(
        '<message-id>1</message-id>',
        '<datetime>yesterday</datetime>',
        '<display-notification><status><displayed/></status></display-notification>',
      ),
    ],
    ['no notification', doc('<message-id>1</message-id>', '<datetime>2026-02-03T04:05:06Z</datetime>')],
    [
      'two notifications',
      doc(
        '<message-id>1</message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<display-notification><status><displayed/></status></display-notification>',
        '<delivery-notification><status><delivered/></status></delivery-notification>',
      ),
    ],
    [
      'a status of another kind',
      doc(
        '<message-id>1</message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<delivery-notification><status><displayed/></status></delivery-notification>',
      ),
    ],
    [
      '"stored" in a display notification',
      doc(
        '<message-id>1</message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<display-notification><status><stored/></status></display-notification>',
      ),
    ],
    [
      'an empty status',
      doc(
        '<message-id>1</message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<delivery-notification><status/></delivery-notification>',
      ),
    ],
    [
      'two statuses',
      doc(
        '<message-id>1</message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<delivery-notification><status><delivered/><failed/></status></delivery-notification>',
      ),
    ],
    [
      'a bad recipient-uri',
      doc(
        '<message-id>1</message-id>',
        '<datetime>2026-02-03T04:05:06Z</datetime>',
        '<recipient-uri>not a uri</recipient-uri>',
        '<original-recipient-uri>sip:a@b</original-recipient-uri>',
        '<display-notification><status><displayed/></status></display-notification>',
      ),
    ],
    ['malformed XML', '<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>1</imdn>'],
  ];
  it.each(bad)('refuses %s', (_, body) => {
    expect(() => parseImdn(body)).toThrow(ParseError);
  });
});

describe('buildImdn', () => {
  const all: Imdn[] = [
    ...(['delivered', 'failed', 'forbidden', 'error'] as const).map((status) => ({
      kind: 'delivery' as const,
      status,
    })),
    ...(['displayed', 'forbidden', 'error'] as const).map((status) => ({ kind: 'display' as const, status })),
    ...(['processed', 'stored', 'forbidden', 'error'] as const).map((status) => ({
      kind: 'processing' as const,
      status,
    })),
  ].map((n, i) => ({ ...n, messageId: `id-${i}&<>`, dateTime: 1_700_000_000_000 + i }));

  it.each(all)('round-trips $kind/$status', (n) => {
    expect(parseImdn(buildImdn(n))).toEqual(n);
  });

  it('writes the RFC layout, recipient URIs as a pair', () => {
    expect(
      buildImdn({
        messageId: 'Qx81pZr2',
        dateTime: Date.UTC(2026, 1, 3, 6, 5, 6),
        recipientUri: 'im:bo@example.net',
        subject: 'Hi & bye',
        kind: 'display',
        status: 'displayed',
      }),
    ).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>Qx81pZr2</message-id>' +
        '<datetime>2026-02-03T06:05:06Z</datetime><recipient-uri>im:bo@example.net</recipient-uri>' +
        '<original-recipient-uri>im:bo@example.net</original-recipient-uri><subject>Hi &amp; bye</subject>' +
        '<display-notification><status><displayed/></status></display-notification></imdn>',
    );
  });

  it('refuses a status the kind does not have', () => {
    expect(() =>
      buildImdn({ messageId: '1', dateTime: 0, kind: 'display', status: 'stored' } as unknown as Imdn),
    ).toThrow(TypeError);
  });
});

describe('buildImdnMessage (RFC 5438 §7.2.1)', () => {
  const IM = parseCpim(
    crlf(
      'From: Ann <im:ann@example.org>',
      'To: Bo <im:bo@example.net>',
      'NS: imdn <urn:ietf:params:imdn>',
      'imdn.Message-ID: Qx81pZr2',
      'DateTime: 2026-02-03T04:05:06.789Z',
      'imdn.Disposition-Notification: positive-delivery, display',
      '',
      'Content-type: text/plain',
      '',
      'Hello there',
    ),
  );

  it('answers the IM: From the recipient, To its sender, a new Message-ID, the IM id and date inside', () => {
    expect(wantsNotification(IM, 'positive-delivery')).toBe(true);
    expect(wantsNotification(IM, 'display')).toBe(true);
    expect(wantsNotification(IM, 'negative-delivery')).toBe(false);
    const now = Date.UTC(2026, 1, 3, 4, 5, 9);
    const { body, target } = buildImdnMessage({
      im: IM,
      from: { displayName: 'Bo', uri: 'im:bo@example.net' },
      notification: { kind: 'delivery', status: 'delivered' },
      messageId: 'f83nd82kd0',
      now,
    });
    expect(target).toBe('im:ann@example.org');
    const cpim = parseCpim(body);
    expect(cpim.from).toEqual({ displayName: 'Bo', uri: 'im:bo@example.net' });
    expect(cpim.to).toEqual([{ displayName: 'Ann', uri: 'im:ann@example.org' }]);
    expect(cpim.messageId).toBe('f83nd82kd0');
    expect(cpim.dateTime).toBe(now);
    expect(cpim.dispositionNotification).toBeUndefined();
    expect(cpim.contentType).toBe('message/imdn+xml;charset=utf-8');
    expect(cpim.contentHeaders).toContainEqual(['Content-Disposition', 'notification']);
    expect(parseImdn(cpim.content)).toEqual({
      messageId: 'Qx81pZr2',
      dateTime: IM.dateTime,
      recipientUri: 'im:bo@example.net',
      originalRecipientUri: 'im:bo@example.net',
      kind: 'delivery',
      status: 'delivered',
    });
  });

  it('routes back along IMDN-Record-Route and reports the Original-To (§6.4–§6.6)', () => {
    const viaList = parseCpim(
      crlf(
        'From: <im:ann@example.org>',
        'To: <im:bo@example.net>',
        'NS: imdn <urn:ietf:params:imdn>',
        'imdn.Message-ID: L1st',
        'imdn.Original-To: Team <sip:team@lists.example.org>',
        'imdn.IMDN-Record-Route: <sip:imdn@lists.example.org>',
        'imdn.IMDN-Record-Route: <sip:imdn@edge.example.org>',
        'imdn.Disposition-Notification: display',
        '',
        '',
        'hi',
      ),
    );
    const { body, target } = buildImdnMessage({
      im: viaList,
      from: { uri: 'im:bo@example.net' },
      notification: { kind: 'display', status: 'displayed' },
      messageId: 'n2',
      now: 5_000,
    });
    expect(target).toBe('sip:imdn@lists.example.org');
    const cpim = parseCpim(body);
    expect(cpim.headers).toEqual([
      { name: 'IMDN-Route', value: '<sip:imdn@lists.example.org>', prefix: 'imdn', ns: IMDN_HEADER_NS },
      { name: 'IMDN-Route', value: '<sip:imdn@edge.example.org>', prefix: 'imdn', ns: IMDN_HEADER_NS },
    ]);
    expect(parseImdn(cpim.content)).toMatchObject({
      messageId: 'L1st',
      dateTime: 5_000, // the IM had no DateTime: the time of acknowledgement stands in
      recipientUri: 'im:bo@example.net',
      originalRecipientUri: 'sip:team@lists.example.org',
    });
  });

  it('refuses an IM it cannot answer', () => {
    const anonymous = parseCpim(
      crlf('To: <im:bo@example.net>', 'NS: imdn <urn:ietf:params:imdn>', 'imdn.Message-ID: x', '', '', ''),
    );
    expect(wantsNotification(anonymous, 'display')).toBe(false);
    expect(() =>
      buildImdnMessage({
        im: anonymous,
        from: { uri: 'im:bo@example.net' },
        notification: { kind: 'display', status: 'displayed' },
        messageId: 'n',
        now: 0,
      }),
    ).toThrow(TypeError);
  });
});
