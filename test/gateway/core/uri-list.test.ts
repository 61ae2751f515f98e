// The MESSAGE URI-list service (RFC 5365 with RFC 4826 lists and RFC 5364 copy control): what the embedded core
// accepts and refuses, what each recipient receives, and what the sender learns — first the pure functions of
// gateway/core/uri-list.ts, then the service inside the core (test/support/core-harness.ts: no sockets).

import { afterEach, describe, expect, it } from 'vitest';

import {
  ANONYMOUS_URI,
  buildCopy,
  copyBody,
  parseUriListRequest,
  type UriListRequest,
} from '../../../gateway/core/uri-list.ts';
import { parseMessage, serializeMessage, type SipRequest } from '../../../web/src/sip/index.ts';
import { coreHarness, type CoreHarness } from '../../support/core-harness.ts';
import {
  cpimMessage,
  imdnOf,
  recipientView,
  uriListBody,
  type ListEntry,
} from '../../support/uri-list-builders.ts';

/** A request for the service as a client sends it (strictly parsed, like the core would get it). */
function listRequest(
  body: { contentType: string; body: string },
  headers: string[] = ['Require: recipient-list'],
): SipRequest {
  const text = [
    'MESSAGE sip:uri-list@localhost SIP/2.0',
    'Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK1',
    'Max-Forwards: 70',
    'From: "Alice" <sip:alice@localhost>;tag=a1',
    'To: <sip:uri-list@localhost>',
    'Call-ID: list-1',
    'CSeq: 1 MESSAGE',
    'Expires: 3600',
    'Date: Sun, 22 Nov 2026 12:00:00 GMT',
    ...headers,
    ...(body.body === '' ? [] : [`Content-Type: ${body.contentType}`]),
    `Content-Length: ${Buffer.byteLength(body.body)}`,
    '',
    body.body,
  ].join('\r\n');
  return parseMessage(text) as SipRequest;
}

const text = { contentType: 'text/plain;charset=utf-8', body: 'Meet at the balcony at nine.' };
const three: ListEntry[] = [
  { uri: 'sip:bob@localhost', displayName: 'Bob', copyControl: 'to' },
  { uri: 'sip:carol@localhost', copyControl: 'cc' },
  { uri: 'sip:dave@localhost', copyControl: 'bcc' },
];

function accepted(request: SipRequest): UriListRequest {
  const result = parseUriListRequest(request);
  if (!result.ok) throw new Error(`refused: ${result.refusal.status} ${result.refusal.reason}`);
  return result.value;
}

function refusal(request: SipRequest, max?: number) {
  const result = parseUriListRequest(request, { maxRecipients: max });
  if (result.ok) throw new Error('accepted');
  return result.refusal;
}

describe('URI-list requests (RFC 5365 §5, §7): what is accepted', () => {
  it('reads every recipient and the message part; the history names to and cc, never bcc', () => {
    const list = accepted(listRequest(uriListBody(three, text)));
    expect(list.recipients.map((r) => [r.uri, r.copyControl])).toEqual([
      ['sip:bob@localhost', 'to'],
      ['sip:carol@localhost', 'cc'],
      ['sip:dave@localhost', 'bcc'],
    ]);
    expect(new TextDecoder().decode(list.message.body)).toBe(text.body);
    expect(list.message.contentType).toBe(text.contentType);
    expect(list.history.map((e) => e.uri)).toEqual(['sip:bob@localhost', 'sip:carol@localhost']);
  });

  it('sends one copy per recipient however often the list names them, keeping the most private role', () => {
    const list = accepted(
      listRequest(
        uriListBody(
          [
            { uri: 'sip:bob@localhost', copyControl: 'to' },
            { uri: 'sip:bob@LOCALHOST', copyControl: 'cc' },
            { uri: 'sip:carol@localhost', copyControl: 'to' },
            { uri: 'sip:carol@localhost;transport=tcp', copyControl: 'bcc' },
            { uri: 'sip:erin@localhost', copyControl: 'to' },
            { uri: 'sip:erin@localhost', copyControl: 'to', anonymize: true },
          ],
          text,
        ),
      ),
    );
    expect(list.recipients.map((r) => [r.uri, r.copyControl, r.anonymize])).toEqual([
      ['sip:bob@localhost', 'cc', false],
      ['sip:carol@localhost', 'bcc', false],
      ['sip:erin@localhost', 'to', true],
    ]);
    // Carol (bcc) is not shown; Erin is shown only as anonymous.
    expect(list.history.map((e) => e.uri)).toEqual(['sip:bob@localhost', ANONYMOUS_URI]);
  });

  it('keeps a message/cpim part as it is and reads its IMDN request', () => {
    const cpim = cpimMessage({
      from: 'sip:alice@localhost',
      to: 'sip:uri-list@localhost',
      text: 'hi all',
      messageId: 'group-7',
      notify: ['positive-delivery', 'negative-delivery'],
    });
    const list = accepted(listRequest(uriListBody(three, { contentType: 'message/cpim', body: cpim })));
    expect(list.message.cpim?.messageId).toBe('group-7');
    expect(list.message.cpim?.dispositionNotification).toEqual(['positive-delivery', 'negative-delivery']);
    expect(new TextDecoder().decode(list.message.body)).toBe(cpim);
  });

  it('takes exactly the limit of recipients (duplicates do not count)', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => ({ uri: `sip:user${i}@localhost` }));
    const list = accepted(listRequest(uriListBody([...fifty, ...fifty.slice(0, 10)], text)));
    expect(list.recipients).toHaveLength(50);
  });
});

describe('URI-list requests: what is refused, and with which status', () => {
  it('421 with Require when the request does not require recipient-list; 420 for unknown option tags', () => {
    const missing = refusal(listRequest(uriListBody(three, text), []));
    expect(missing.status).toBe(421);
    expect(missing.headers.Require).toBe('recipient-list');
    const unknown = refusal(listRequest(uriListBody(three, text), ['Require: recipient-list, foo']));
    expect(unknown.status).toBe(420);
    expect(unknown.headers.Unsupported).toBe('foo');
  });

  it('400 without a body, 415 (with Accept) for a body that is not multipart/mixed', () => {
    expect(refusal(listRequest({ contentType: 'text/plain', body: '' })).status).toBe(400);
    const plain = refusal(listRequest({ contentType: 'text/plain', body: 'just text' }));
    expect(plain.status).toBe(415);
    expect(plain.headers.Accept).toMatch(/multipart\/mixed/);
  });

  it('400 when the list part or the message part is missing, or there are two message parts', () => {
    const noList = uriListBody(three, text);
    const withoutList = {
      contentType: noList.contentType,
      body: noList.body.replace(
        'Content-Disposition: recipient-list;handling=required',
        'Content-Disposition: render',
      ),
    };
    const r1 = refusal(listRequest(withoutList));
    expect(r1.status).toBe(400);
    expect(r1.reason).toMatch(/recipient.list/i);
    const onlyList = uriListBody(three, text, { extraParts: -1 });
    expect(refusal(listRequest(onlyList)).reason).toMatch(/message body part/);
    expect(refusal(listRequest(uriListBody(three, text, { extraParts: 1 }))).status).toBe(400);
  });

  it('400 for a malformed list or multipart body, 415 for a list in another format', () => {
    const bad = refusal(listRequest(uriListBody(three, text, { listXml: '<resource-lists><list>' })));
    expect(bad.status).toBe(400);
    expect(bad.reason).toMatch(/Malformed recipient list/);
    const noUri = refusal(
      listRequest(
        uriListBody(three, text, {
          listXml:
            '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list><entry/></list></resource-lists>',
        }),
      ),
    );
    expect(noUri.status).toBe(400);
    const broken = uriListBody(three, text);
    expect(
      refusal(listRequest({ contentType: broken.contentType, body: broken.body.slice(0, 60) })).status,
    ).toBe(400);
    expect(refusal(listRequest(uriListBody(three, text, { listType: 'text/uri-list' }))).status).toBe(415);
  });

  it('400 for an empty list and for a malformed message/cpim part', () => {
    expect(refusal(listRequest(uriListBody([], text))).reason).toMatch(/Empty recipient list/);
    expect(
      refusal(listRequest(uriListBody(three, { contentType: 'message/cpim', body: 'From: nobody\r\n' })))
        .status,
    ).toBe(400);
  });

  it('403 for too many recipients (saying the limit) and for list references it cannot resolve', () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ uri: `sip:user${i}@localhost` }));
    const tooMany = refusal(listRequest(uriListBody(many, text)));
    expect(tooMany.status).toBe(403);
    expect(tooMany.reason).toMatch(/at most 50/);
    expect(refusal(listRequest(uriListBody(three, text)), 2).reason).toMatch(/at most 2/);
    const ref = refusal(
      listRequest(
        uriListBody(three, text, {
          listXml:
            '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list>' +
            '<entry-ref ref="users/alice/friends"/></list></resource-lists>',
        }),
      ),
    );
    expect(ref.status).toBe(403);
  });
});

describe('the copy each recipient gets (RFC 5365 §4, §7)', () => {
  it('From the sender, To the recipient, its own Call-ID and tag, Expires and Date kept, no Contact', () => {
    const original = listRequest(uriListBody(three, text));
    const list = accepted(original);
    const copy = buildCopy(original, list.recipients[0]!, copyBody(list, 'b1'), {
      callId: 'copy-1',
      fromTag: 'f1',
      via: 'SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKcore.int.1',
    });
    // What goes on the wire parses strictly.
    const wire = parseMessage(serializeMessage(copy)) as SipRequest;
    expect(wire.uri.toString()).toBe('sip:bob@localhost');
    expect(wire.from.uri.toString()).toBe('sip:alice@localhost');
    expect(wire.from.displayName).toBe('Alice');
    expect(wire.fromTag).toBe('f1');
    expect(wire.headers.get('to')).toBe('"Bob" <sip:bob@localhost>');
    expect(wire.callId).toBe('copy-1');
    expect(wire.cseq).toMatchObject({ seq: 1, method: 'MESSAGE' });
    expect(wire.expires).toBe(3600);
    expect(wire.headers.get('date')).toBe('Sun, 22 Nov 2026 12:00:00 GMT');
    expect(wire.headers.has('contact')).toBe(false);
    expect(wire.headers.has('require')).toBe(false);
  });

  it('a multipart body with the message part unchanged and the recipient-list-history (optional handling)', () => {
    const original = listRequest(uriListBody(three, text));
    const list = accepted(original);
    const body = copyBody(list, 'b2');
    expect(body.contentType).toBe('multipart/mixed;boundary=b2');
    const copy = buildCopy(original, list.recipients[2]!, body, {
      callId: 'c',
      fromTag: 't',
      via: 'SIP/2.0/TCP h;branch=z9hG4bKx',
    });
    const seen = recipientView(copy);
    expect(seen.text).toBe(text.body);
    expect(seen.contentType).toBe(text.contentType);
    // Dave (bcc) gets the message and sees Bob and Carol — but nobody sees Dave.
    expect(seen.history?.map((e) => [e.uri, e.copyControl])).toEqual([
      ['sip:bob@localhost', 'to'],
      ['sip:carol@localhost', 'cc'],
    ]);
    expect(new TextDecoder().decode(copy.body)).toMatch(
      /Content-Disposition: recipient-list-history;handling=optional/,
    );
  });

  it('only the message part when every recipient is bcc (there is nobody to show)', () => {
    const original = listRequest(
      uriListBody(
        [
          { uri: 'sip:bob@localhost', copyControl: 'bcc' },
          { uri: 'sip:carol@localhost', copyControl: 'bcc' },
        ],
        text,
      ),
    );
    const body = copyBody(accepted(original), 'b3');
    expect(body.contentType).toBe(text.contentType);
    expect(new TextDecoder().decode(body.body)).toBe(text.body);
  });
});

describe('the URI-list service in the embedded core', () => {
  let h: CoreHarness | undefined;
  afterEach(() => {
    h?.close();
    h = undefined;
  });

  const users = { alice: 'a', bob: 'b', carol: 'c', dave: 'd' };

  it('authenticates the sender: 401 with a challenge, then 202 with credentials; others are refused', () => {
    h = coreHarness({ users });
    const body = uriListBody(three, text);
    const options = { body: body.body, contentType: body.contentType, headers: ['Require: recipient-list'] };
    const challenged = h.request('alice', 'MESSAGE', 'sip:uri-list@localhost', options);
    expect(challenged.status).toBe(401);
    expect(challenged.headers.getAll('www-authenticate').length).toBeGreaterThan(0);
    expect(h.core.listStats.accepted).toBe(0);
    const wrong = h.request('alice', 'MESSAGE', 'sip:uri-list@localhost', {
      ...options,
      authenticate: 'nope',
    });
    expect(wrong.status).toBe(401);
    // A user the core does not know may not use the service at all.
    expect(h.request('mallory', 'MESSAGE', 'sip:uri-list@localhost', options).status).toBe(403);
    const ok = h.request('alice', 'MESSAGE', 'sip:uri-list@localhost', { ...options, authenticate: 'a' });
    expect(ok.status).toBe(202);
    expect(h.core.listStats.accepted).toBe(1);
  });

  it('answers OPTIONS with what it supports and 405 to other methods', () => {
    h = coreHarness({ users });
    const options = h.request('alice', 'OPTIONS', 'sip:uri-list@localhost');
    expect(options.status).toBe(200);
    expect(options.headers.get('supported')).toBe('recipient-list');
    expect(h.request('alice', 'INVITE', 'sip:uri-list@localhost').status).toBe(405);
  });

  it('refusals reach the sender with their status and reason (after authentication)', () => {
    h = coreHarness({ users });
    const many = Array.from({ length: 51 }, (_, i) => ({ uri: `sip:u${i}@localhost` }));
    const body = uriListBody(many, text);
    const answer = h.request('alice', 'MESSAGE', 'sip:uri-list@localhost', {
      body: body.body,
      contentType: body.contentType,
      headers: ['Require: recipient-list'],
      authenticate: 'a',
    });
    expect(answer.status).toBe(403);
    expect(answer.reason).toMatch(/at most 50/);
    const noRequire = h.request('alice', 'MESSAGE', 'sip:uri-list@localhost', {
      body: body.body,
      contentType: body.contentType,
      authenticate: 'a',
    });
    expect(noRequire.status).toBe(421);
    expect(noRequire.headers.get('require')).toBe('recipient-list');
    expect(h.core.listStats.refused).toBeGreaterThanOrEqual(2);
  });

  it('online recipients get one copy each, offline ones get it stored; outcomes are counted', () => {
    h = coreHarness({ users });
    expect(h.register('bob', 'b').status).toBe(200);
    expect(h.register('carol', 'c').status).toBe(200);
    const body = uriListBody(
      [...three, { uri: 'sip:bob@localhost', copyControl: 'to' } satisfies ListEntry],
      text,
    );
    const answer = h.request('alice', 'MESSAGE', 'sip:uri-list@localhost', {
      body: body.body,
      contentType: body.contentType,
      headers: ['Require: recipient-list'],
      authenticate: 'a',
    });
    expect(answer.status).toBe(202);
    const copies = h.requestsToEdge('MESSAGE');
    expect(copies.map((c) => c.to.uri.toString()).sort()).toEqual([
      'sip:bob@localhost',
      'sip:carol@localhost',
    ]);
    for (const copy of copies) {
      expect(copy.from.uri.toString()).toBe('sip:alice@localhost');
      expect(recipientView(copy).history?.map((e) => e.uri)).toEqual([
        'sip:bob@localhost',
        'sip:carol@localhost',
      ]);
      h.answer(copy, 200);
    }
    // Dave is offline: his copy waits in the store, with the same history.
    const stored = h.stored('dave@localhost');
    expect(stored).toHaveLength(1);
    expect(recipientView(stored[0]!).text).toBe(text.body);
    expect(h.core.listStats).toMatchObject({ accepted: 1, delivered: 2, stored: 1, failed: 0 });
    // When Dave registers, the stored copy reaches him.
    h.register('dave', 'd');
    const late = h.requestsToEdge('MESSAGE').filter((m) => m.to.uri.toString() === 'sip:dave@localhost');
    expect(late).toHaveLength(1);
    expect(recipientView(late[0]!).text).toBe(text.body);
  });

  it('a recipient it cannot reach is reported to the sender with an IMDN "failed" when negative delivery was asked', () => {
    h = coreHarness({ users });
    h.register('bob', 'b');
    const cpim = cpimMessage({
      from: 'sip:alice@localhost',
      to: 'sip:uri-list@localhost',
      text: 'who is there?',
      messageId: 'grp-1',
      notify: ['negative-delivery'],
    });
    const body = uriListBody(
      [{ uri: 'sip:bob@localhost' }, { uri: 'sip:nobody@localhost' }, { uri: 'sip:zed@elsewhere.example' }],
      { contentType: 'message/cpim', body: cpim },
    );
    const answer = h.request('alice', 'MESSAGE', 'sip:uri-list@localhost', {
      body: body.body,
      contentType: body.contentType,
      headers: ['Require: recipient-list'],
      authenticate: 'a',
    });
    expect(answer.status).toBe(202);
    const bobCopy = h.requestsToEdge('MESSAGE').find((m) => m.to.uri.toString() === 'sip:bob@localhost');
    expect(bobCopy).toBeDefined();
    // Bob's copy keeps the sender's imdn.Message-ID, so Bob's own IMDNs correlate at Alice.
    expect(recipientView(bobCopy!).text).toBe(cpim);
    h.answer(bobCopy!, 200);
    expect(h.core.listStats).toMatchObject({ delivered: 1, failed: 2 });
    // Alice is offline: the two failure notices wait for her in the store.
    const notices = h.stored('alice@localhost').map((r) => ({ request: r, imdn: imdnOf(r) }));
    expect(notices.map((n) => n.imdn?.recipientUri).sort()).toEqual([
      'sip:nobody@localhost',
      'sip:zed@elsewhere.example',
    ]);
    for (const { request, imdn } of notices) {
      expect(imdn).toMatchObject({ kind: 'delivery', status: 'failed', messageId: 'grp-1' });
      expect(imdn?.originalRecipientUri).toBe(imdn?.recipientUri);
      expect(request.from.uri.toString()).toBe('sip:uri-list@localhost');
      expect(request.uri.toString()).toBe('sip:alice@localhost');
    }
  });

  it('no IMDN when the message did not ask for negative delivery notifications', () => {
    h = coreHarness({ users });
    const body = uriListBody([{ uri: 'sip:nobody@localhost' }], text);
    const answer = h.request('alice', 'MESSAGE', 'sip:uri-list@localhost', {
      body: body.body,
      contentType: body.contentType,
      headers: ['Require: recipient-list'],
      authenticate: 'a',
    });
    expect(answer.status).toBe(202);
    expect(h.core.listStats.failed).toBe(1);
    expect(h.stored('alice@localhost')).toHaveLength(0);
    expect(h.core.stats.imdnSent).toBe(0);
  });
});
