/**
 * The whole-message examples of the pager-mode RFCs, written out again with other names and values, read the
 * way the pager reads them (decodePagerBody): RFC 3428 §4's MESSAGE and its 200, RFC 5365's URI-list MESSAGE and
 * the copy a recipient gets, RFC 5438 §8.3's aggregated notification, RFC 3994's status in a MESSAGE. The body
 * documents on their own (CPIM, IMDN, isComposing, resource lists) are in the sibling files.
 */
import { describe, expect, it } from 'vitest';
import {
  buildImdnBatch,
  decodePagerBody,
  parseCpim,
  parseMediaType,
  parseMessage,
  readImdnContent,
  type SipRequest,
  type SipResponse,
} from '../../../web/src/sip/index.ts';

const crlf = (...lines: string[]): string => lines.join('\r\n');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function body(message: SipRequest): ReturnType<typeof decodePagerBody> {
  return decodePagerBody(message.contentType, message.body);
}

describe('RFC 3428 §4: a MESSAGE and its answer', () => {
  const MESSAGE = crlf(
    'MESSAGE sip:ada@lab.example.org SIP/2.0',
    'Via: SIP/2.0/TCP desk7.lab.example.org;branch=z9hG4bK776sgdkse',
    'Max-Forwards: 70',
    'From: sip:charles@lab.example.org;tag=49583',
    'To: sip:ada@lab.example.org',
    'Call-ID: asd88asd77a@1.2.3.4',
    'CSeq: 1 MESSAGE',
    'Content-Type: text/plain',
    'Content-Length: 22',
    '',
    'Ada, bring the engine.',
  );

  it('is a request outside any dialog, without Contact, carrying text/plain', () => {
    const m = parseMessage(MESSAGE) as SipRequest;
    expect(m.method).toBe('MESSAGE');
    expect(m.toTag).toBeUndefined();
    expect(m.headers.has('contact')).toBe(false);
    expect(body(m)).toEqual({
      kind: 'text',
      text: 'Ada, bring the engine.',
      cpim: undefined,
      group: undefined,
    });
  });

  it('its 200 carries neither Contact nor a body', () => {
    const ok = parseMessage(
      crlf(
        'SIP/2.0 200 OK',
        'Via: SIP/2.0/TCP desk7.lab.example.org;branch=z9hG4bK776sgdkse;received=1.2.3.4',
        'From: sip:charles@lab.example.org;tag=49583',
        'To: sip:ada@lab.example.org;tag=ab8asdasd9',
        'Call-ID: asd88asd77a@1.2.3.4',
        'CSeq: 1 MESSAGE',
        'Content-Length: 0',
        '',
        '',
      ),
    ) as SipResponse;
    expect(ok.status).toBe(200);
    expect(ok.headers.has('contact')).toBe(false);
    expect(ok.body.length).toBe(0);
  });
});

// RFC 5365 §4's request to a URI-list service (names, boundary and values changed).
const LIST = crlf(
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"',
  '    xmlns:cp="urn:ietf:params:xml:ns:copycontrol">',
  '  <list>',
  '    <entry uri="sip:nia@town.example.com" cp:copyControl="to"/>',
  '    <entry uri="sip:oz@village.example.net" cp:copyControl="cc"/>',
  '    <entry uri="sip:pat@city.example.org" cp:copyControl="bcc"/>',
  '    <entry uri="sip:quin@town.example.com" cp:copyControl="to" cp:anonymize="true"/>',
  '  </list>',
  '</resource-lists>',
);
const LIST_REQUEST = crlf(
  'MESSAGE sip:exploder@lists.example.com SIP/2.0',
  'Via: SIP/2.0/TCP term.example.com;branch=z9hG4bKwq5',
  'Max-Forwards: 70',
  'From: "Mara" <sip:mara@town.example.com>;tag=3s9d',
  'To: Lists <sip:exploder@lists.example.com>',
  'Call-ID: 9Kq1pLm2@term.example.com',
  'CSeq: 7 MESSAGE',
  'Require: recipient-list',
  'Content-Type: multipart/mixed;boundary="zz-part"',
  `Content-Length: ${String(
    bytes(
      crlf(
        '--zz-part',
        'Content-Type: text/plain',
        '',
        'Greetings, everyone!',
        '--zz-part',
        'Content-Type: application/resource-lists+xml',
        'Content-Disposition: recipient-list',
        '',
        LIST,
        '--zz-part--',
        '',
      ),
    ).length,
  )}`,
  '',
  '--zz-part',
  'Content-Type: text/plain',
  '',
  'Greetings, everyone!',
  '--zz-part',
  'Content-Type: application/resource-lists+xml',
  'Content-Disposition: recipient-list',
  '',
  LIST,
  '--zz-part--',
  '',
);

describe('RFC 5365: page-mode groups', () => {
  it('§4: the sender’s request names the service, requires recipient-list, and carries text and list', () => {
    const m = parseMessage(LIST_REQUEST) as SipRequest;
    expect(m.require).toEqual(['recipient-list']);
    const content = body(m);
    expect(content.kind).toBe('text');
    if (content.kind !== 'text') return;
    expect(content.text).toBe('Greetings, everyone!');
    // what a reader may show: to and cc, never bcc or an anonymized entry
    expect(content.group).toEqual(['sip:nia@town.example.com', 'sip:oz@village.example.net']);
  });

  it('§5: the copy a recipient gets: message part and recipient-list-history, in either order, anonymous left out', () => {
    const copy = crlf(
      '--h1',
      'Content-Type: application/resource-lists+xml',
      'Content-Disposition: recipient-list-history; handling=optional',
      '',
      LIST.replace(
        '  </list>',
        '    <entry uri="sip:anonymous@anonymous.invalid" cp:copyControl="cc"/>\r\n  </list>',
      ),
      '--h1',
      'Content-Type: message/cpim',
      '',
      crlf(
        'From: Mara <sip:mara@town.example.com>',
        'To: <sip:nia@town.example.com>',
        'NS: imdn <urn:ietf:params:imdn>',
        'imdn.Message-ID: K9xq',
        'imdn.Disposition-Notification: positive-delivery',
        '',
        'Content-Type: text/plain;charset=utf-8',
        '',
        'Greetings, everyone!',
      ),
      '--h1--',
      '',
    );
    const content = decodePagerBody(
      parseMessage(
        crlf(
          'MESSAGE sip:a@b SIP/2.0',
          'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
          'From: <sip:m@t>;tag=1',
          'To: <sip:a@b>',
          'Call-ID: c',
          'CSeq: 1 MESSAGE',
          'Content-Type: multipart/mixed;boundary=h1',
          '',
          '',
        ),
      ).contentType,
      bytes(copy),
    );
    expect(content).toMatchObject({
      kind: 'text',
      text: 'Greetings, everyone!',
      group: ['sip:nia@town.example.com', 'sip:oz@village.example.net'],
    });
    expect(content.kind === 'text' && content.cpim?.messageId).toBe('K9xq');
  });
});

describe('RFC 5438 §8.3: aggregated notifications', () => {
  const doc = (id: string, kind: string, status: string): string =>
    crlf(
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<imdn xmlns="urn:ietf:params:xml:ns:imdn">',
      `<message-id>${id}</message-id>`,
      '<datetime>2026-05-06T07:08:09-05:00</datetime>',
      '<recipient-uri>im:uma@example.com</recipient-uri>',
      '<original-recipient-uri>im:uma@example.com</original-recipient-uri>',
      `<${kind}-notification><status><${status}/></status></${kind}-notification>`,
      '</imdn>',
    );
  const AGGREGATED = crlf(
    'From: Uma <im:uma@example.com>',
    'To: Vic <im:vic@example.com>',
    'NS: imdn <urn:ietf:params:imdn>',
    'imdn.Message-ID: agg77',
    'DateTime: 2026-05-06T12:08:10Z',
    '',
    'Content-Type: multipart/mixed; boundary="agg-b"',
    'Content-Disposition: notification',
    '',
    '--agg-b',
    'Content-Type: message/imdn+xml',
    '',
    doc('w8Q2', 'delivery', 'delivered'),
    '--agg-b',
    'Content-Type: message/imdn+xml',
    '',
    doc('w8Q2', 'display', 'displayed'),
    '--agg-b--',
    '',
  );

  it('reads one multipart/mixed of message/imdn+xml parts as several notifications', () => {
    const cpim = parseCpim(AGGREGATED);
    expect(readImdnContent(cpim)?.map((n) => [n.messageId, n.kind, n.status])).toEqual([
      ['w8Q2', 'delivery', 'delivered'],
      ['w8Q2', 'display', 'displayed'],
    ]);
    const content = decodePagerBody(parseMediaType('message/cpim'), bytes(AGGREGATED));
    expect(content.kind === 'imdn' && content.notifications.length).toBe(2);
  });

  it('buildImdnBatch writes that shape, and one notification alone stays a single document', () => {
    const im = parseCpim(
      crlf(
        'From: <sip:vic@example.com>',
        'To: <sip:uma@example.com>',
        'NS: imdn <urn:ietf:params:imdn>',
        'imdn.Message-ID: one',
        'imdn.Disposition-Notification: positive-delivery, display',
        '',
        'Content-Type: text/plain',
        '',
        'x',
      ),
    );
    const item = (status: 'delivered' | 'displayed') => ({
      im,
      from: { uri: 'sip:uma@example.com' },
      notification:
        status === 'delivered'
          ? ({ kind: 'delivery', status } as const)
          : ({ kind: 'display', status } as const),
      messageId: 'n1',
      now: Date.UTC(2026, 4, 6),
    });
    const both = buildImdnBatch([item('delivered'), item('displayed')]);
    expect(both.target).toBe('sip:vic@example.com');
    const cpim = parseCpim(both.body);
    expect(cpim.contentType).toBe('multipart/mixed;boundary="imdn-n1"');
    expect(cpim.contentHeaders).toContainEqual(['Content-Disposition', 'notification']);
    expect(cpim.dispositionNotification).toBeUndefined();
    expect(readImdnContent(cpim)?.map((n) => n.status)).toEqual(['delivered', 'displayed']);
    const single = parseCpim(buildImdnBatch([item('delivered')]).body);
    expect(single.contentType).toBe('message/imdn+xml;charset=utf-8');
    expect(() => buildImdnBatch([])).toThrow(TypeError);
  });

  it('a multipart without notification parts is no notification', () => {
    const cpim = parseCpim(
      crlf(
        'From: <sip:a@b>',
        '',
        'Content-Type: multipart/mixed;boundary=q',
        '',
        '--q',
        'Content-Type: text/plain',
        '',
        'hi',
        '--q--',
        '',
      ),
    );
    expect(readImdnContent(cpim)).toBeUndefined();
  });
});

describe('RFC 3994 §3: a status message is a MESSAGE of its own', () => {
  it('reads as composing, never as text', () => {
    const content = decodePagerBody(
      parseMediaType('application/im-iscomposing+xml'),
      bytes(
        '<?xml version="1.0" encoding="UTF-8"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><contenttype>text/plain</contenttype><refresh>90</refresh></isComposing>',
      ),
    );
    expect(content).toEqual({
      kind: 'composing',
      status: { state: 'active', contentType: 'text/plain', refresh: 90 },
    });
    expect(decodePagerBody(parseMediaType('application/im-iscomposing+xml'), bytes('<x/>'))).toMatchObject({
      kind: 'refused',
      status: 400,
    });
  });
});
