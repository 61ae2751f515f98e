// The IMDN "stored" processing notification of the embedded core's message store (RFC 5438 with RFC 3428 §7):
// sent to the sender only when the stored MESSAGE is CPIM asking for `processing`, with the IM's Message-ID and
// DateTime, naming the recipient; never for a duplicate, never when not asked for.

import { afterEach, describe, expect, it } from 'vitest';

import { imdnNotice, requestedNotification } from '../../../gateway/core/imdn-notice.ts';
import {
  parseCpim,
  parseMessage,
  parseUri,
  serializeMessage,
  type SipRequest,
} from '../../../web/src/sip/index.ts';
import { coreHarness, type CoreHarness } from '../../support/core-harness.ts';
import { cpimMessage, imdnOf } from '../../support/uri-list-builders.ts';

const SENT_AT = Date.UTC(2026, 10, 22, 11, 59, 30);

function message(contentType: string, body: string): SipRequest {
  return parseMessage(
    [
      'MESSAGE sip:bob@localhost SIP/2.0',
      'Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK1',
      'Max-Forwards: 70',
      'From: <sip:alice@localhost>;tag=a1',
      'To: <sip:bob@localhost>',
      'Call-ID: m-1',
      'CSeq: 1 MESSAGE',
      `Content-Type: ${contentType}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n'),
  ) as SipRequest;
}

describe('IMDN notices the core builds (RFC 5438)', () => {
  it('only a CPIM message that asks for the notification is answered with one', () => {
    const asks = cpimMessage({
      from: 'sip:alice@localhost',
      to: 'sip:bob@localhost',
      text: 'x',
      notify: ['processing'],
    });
    const other = cpimMessage({
      from: 'sip:alice@localhost',
      to: 'sip:bob@localhost',
      text: 'x',
      notify: ['display'],
    });
    expect(requestedNotification(message('message/cpim', asks), 'processing')?.messageId).toBe('msg-1');
    expect(requestedNotification(message('message/cpim', other), 'processing')).toBeUndefined();
    expect(requestedNotification(message('text/plain', 'processing'), 'processing')).toBeUndefined();
    expect(requestedNotification(message('message/cpim', 'not cpim'), 'processing')).toBeUndefined();
  });

  it('a "stored" notice goes to the sender with the IM’s Message-ID and DateTime, naming the recipient', () => {
    const im = parseCpim(
      cpimMessage({
        from: 'sip:alice@localhost',
        to: 'sip:bob@localhost',
        text: 'are you there?',
        messageId: 'abc-123',
        notify: ['processing'],
        dateTime: SENT_AT,
      }),
    );
    const notice = imdnNotice({
      im,
      notification: { kind: 'processing', status: 'stored' },
      notifier: 'sip:bob@localhost',
      sender: parseUri('sip:alice@localhost'),
      recipientUri: 'sip:bob@localhost',
      originalRecipientUri: 'sip:bob@127.0.0.1',
      now: SENT_AT + 5000,
      ids: {
        messageId: 'n-1',
        callId: 'call-n',
        fromTag: 'ft',
        via: 'SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKn',
      },
    });
    const wire = parseMessage(serializeMessage(notice)) as SipRequest;
    expect(wire.uri.toString()).toBe('sip:alice@localhost');
    expect(wire.from.uri.toString()).toBe('sip:bob@localhost');
    expect(wire.headers.get('content-type')).toBe('message/cpim');
    const cpim = parseCpim(wire.body);
    // The notice has its own Message-ID and asks for nothing back (an IMDN is never acknowledged).
    expect(cpim.messageId).toBe('n-1');
    expect(cpim.dispositionNotification).toBeUndefined();
    expect(cpim.to.map((a) => a.uri)).toEqual(['sip:alice@localhost']);
    expect(imdnOf(wire)).toEqual({
      kind: 'processing',
      status: 'stored',
      messageId: 'abc-123',
      dateTime: SENT_AT,
      recipientUri: 'sip:bob@localhost',
      originalRecipientUri: 'sip:bob@127.0.0.1',
    });
  });
});

describe('the message store sends a "stored" IMDN when asked (RFC 5438, RFC 3428 §7)', () => {
  let h: CoreHarness | undefined;
  afterEach(() => {
    h?.close();
    h = undefined;
  });

  const processing = (messageId: string) =>
    cpimMessage({
      from: 'sip:alice@localhost',
      to: 'sip:bob@localhost',
      text: 'see you at nine',
      messageId,
      notify: ['positive-delivery', 'processing'],
      dateTime: SENT_AT,
    });

  it('an online sender gets the notice right after the 202; a resent MESSAGE does not send a second one', () => {
    h = coreHarness({ users: { alice: 'a', bob: 'b' } });
    h.register('alice', 'a');
    h.fromBrowser(rawMessage('alice', 'sip:bob@localhost', processing('p-1'), 'same-call', 'z9hG4bKraw1'));
    expect(finalTo(h, 'same-call')).toBe(202);
    const notices = h.requestsToEdge('MESSAGE');
    expect(notices).toHaveLength(1);
    const notice = notices[0]!;
    expect(notice.uri.user).toBe('alice');
    expect(imdnOf(notice)).toEqual({
      kind: 'processing',
      status: 'stored',
      messageId: 'p-1',
      dateTime: SENT_AT,
      recipientUri: 'sip:bob@localhost',
      originalRecipientUri: 'sip:bob@localhost',
    });
    // The notice's own DateTime is the core's wall clock.
    expect(parseCpim(notice.body).dateTime).toBe(h.wall);
    // The 202 went out before the notice.
    const order = h.toEdge.map((m) => (m.kind === 'response' ? String(m.status) : m.method));
    expect(order.indexOf('202')).toBeLessThan(order.lastIndexOf('MESSAGE'));
    h.answer(notice, 200);
    // The same MESSAGE once more (its 202 was lost): recognised by its key, answered 202, no second notice.
    h.fromBrowser(rawMessage('alice', 'sip:bob@localhost', processing('p-1'), 'same-call', 'z9hG4bKraw1'));
    expect(h.toEdge.filter((m) => m.kind === 'response' && m.status === 202)).toHaveLength(2);
    expect(h.core.stats).toMatchObject({ stored: 1, duplicates: 1, imdnSent: 1 });
    expect(h.requestsToEdge('MESSAGE')).toHaveLength(1);
  });

  it('an offline sender finds the notice waiting when it registers', () => {
    h = coreHarness({ users: { alice: 'a', bob: 'b' } });
    expect(
      h.request('alice', 'MESSAGE', 'sip:bob@localhost', {
        body: processing('p-2'),
        contentType: 'message/cpim',
      }).status,
    ).toBe(202);
    const waiting = h.stored('alice@localhost');
    expect(waiting.map((r) => imdnOf(r)?.status)).toEqual(['stored']);
    h.register('alice', 'a');
    expect(imdnOf(h.requestsToEdge('MESSAGE')[0]!)).toMatchObject({ messageId: 'p-2', status: 'stored' });
  });

  it('no notice when the message did not ask for processing notifications, or is not CPIM', () => {
    h = coreHarness({ users: { alice: 'a', bob: 'b' } });
    h.register('alice', 'a');
    const quiet = cpimMessage({
      from: 'sip:alice@localhost',
      to: 'sip:bob@localhost',
      text: 'no receipts please',
      notify: ['positive-delivery'],
    });
    expect(
      h.request('alice', 'MESSAGE', 'sip:bob@localhost', { body: quiet, contentType: 'message/cpim' }).status,
    ).toBe(202);
    expect(h.request('alice', 'MESSAGE', 'sip:bob@localhost', { body: 'plain' }).status).toBe(202);
    expect(h.core.stats).toMatchObject({ stored: 2, imdnSent: 0 });
    expect(h.requestsToEdge('MESSAGE')).toHaveLength(0);
    expect(h.stored('alice@localhost')).toHaveLength(0);
  });

  it('a message the only device could not take (480) is stored, and the notice sent then', () => {
    h = coreHarness({ users: { alice: 'a', bob: 'b' } });
    h.register('alice', 'a');
    h.register('bob', 'b');
    h.fromBrowser(rawMessage('alice', 'sip:bob@localhost', processing('p-3'), 'busy-call', 'z9hG4bKraw3'));
    const toBob = h.requestsToEdge('MESSAGE').find((m) => m.uri.user === 'bob');
    expect(toBob).toBeDefined();
    h.answer(toBob!, 480);
    expect(finalTo(h, 'busy-call')).toBe(202);
    const notice = h.requestsToEdge('MESSAGE').find((m) => m.uri.user === 'alice');
    expect(imdnOf(notice!)).toMatchObject({ messageId: 'p-3', status: 'stored' });
  });
});

function finalTo(h: CoreHarness, callId: string): number | undefined {
  const response = h.toEdge.find((m) => m.kind === 'response' && m.status >= 200 && m.callId === callId);
  return response?.kind === 'response' ? response.status : undefined;
}

/** A MESSAGE from `user`'s browser as the edge hands it to the core (fixed tag, so a resend is the same request). */
function rawMessage(user: string, uri: string, body: string, callId: string, branch: string): string {
  return [
    `MESSAGE ${uri} SIP/2.0`,
    `Via: SIP/2.0/TCP 127.0.0.1:8080;branch=z9hG4bKgw.${branch}`,
    `Via: SIP/2.0/WS ${user}.invalid;received=127.0.0.1;rport=40000;branch=${branch}`,
    'Max-Forwards: 69',
    `From: <sip:${user}@localhost>;tag=raw`,
    `To: <${uri}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 MESSAGE',
    'Content-Type: message/cpim',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}
