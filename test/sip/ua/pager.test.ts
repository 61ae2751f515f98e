/**
 * The pager (RFC 3428 pager mode with CPIM and IMDN) between users of example.com on the in-memory network:
 * per-message states from the SIP answers and the notifications, the FIFO per destination, duplicates, loss and
 * reordering, expiry, and IMDN batching. Groups, typing and capability learning have their own files.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidStateError,
  Pager,
  buildImdnMessage,
  parseCpim,
  parseImdn,
  parseMultipart,
  readImdnContent,
  serializeMessage,
  type SipRequest,
} from '../../../web/src/sip/index.ts';
import { isRequest } from '../../support/linked-pair.ts';
import { PagerNet, START } from '../../support/pager-net.ts';
import { makeUa } from '../../support/ua-builders.ts';

const BOB = 'sip:bob@example.com';
const CAROL = 'sip:carol@example.com';

function net(options: Partial<ConstructorParameters<typeof PagerNet>[0]> = {}): PagerNet {
  return new PagerNet({ pagers: ['alice', 'bob', 'carol'], ...options });
}

function sendOk(pager: Pager, ...args: Parameters<Pager['send']>): string {
  const result = pager.send(...args);
  if (!result.ok) throw new Error(`send refused: ${result.reason}`);
  return result.id;
}

describe('sending (RFC 3428 §4)', () => {
  it('text/plain without Contact, with Date and Expires: sending → sent → delivered on 200', () => {
    const n = net();
    const id = sendOk(n.pager('alice'), BOB, 'hello bob', { expires: 3600, subject: 'hi' });
    // on the wire at once (there is a flow and nothing else in flight to bob)
    expect(n.pager('alice').message(id)?.state).toBe('sent');
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered']);
    const wire = n.sent('alice', 'MESSAGE')[0] as SipRequest;
    expect(wire.headers.has('contact')).toBe(false);
    expect(wire.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(wire.bodyText).toBe('hello bob');
    expect(wire.date).toBe(START);
    expect(wire.expires).toBe(3600);
    expect(wire.headers.get('subject')).toBe('hi');
    const shown = n.events('bob', 'message');
    expect(shown).toHaveLength(1);
    expect(shown[0]!.message).toMatchObject({
      from: 'sip:alice@example.com',
      text: 'hello bob',
      subject: 'hi',
      sentAt: START,
      expiresAt: START + 3_600_000,
      displayRequested: false,
    });
    const snapshot = n.pager('alice').message(id)!;
    expect(snapshot).toMatchObject({ state: 'delivered', format: 'text/plain', to: [BOB], group: false });
    expect(snapshot.recipients).toEqual([
      { uri: BOB, state: 'delivered', at: n.now, status: 200, reason: undefined },
    ]);
  });

  it('a body over 1300 bytes is refused for pager mode: use a session; nothing is sent', () => {
    const n = net();
    const result = n.pager('alice').send(BOB, 'x'.repeat(1301));
    expect(result).toEqual({ ok: false, reason: 'use-session', bytes: 1301, limit: 1300 });
    expect(n.pager('alice').send(BOB, 'é'.repeat(651))).toMatchObject({ ok: false, bytes: 1302 });
    expect(n.pager('alice').send(BOB, 'x'.repeat(1300)).ok).toBe(true);
    n.settle();
    expect(n.sent('alice', 'MESSAGE')).toHaveLength(1);
    expect(n.pager('alice').messages).toHaveLength(1);
  });

  it('misuse throws: a bad URI, a bad expires, retry of a delivered message', () => {
    const n = net();
    const alice = n.pager('alice');
    expect(() => alice.send('not a uri', 'x')).toThrow(TypeError);
    expect(() => alice.send(BOB, 'x', { expires: -1 })).toThrow(TypeError);
    expect(() => alice.sendGroup([], 'x')).toThrow(TypeError);
    const id = sendOk(alice, BOB, 'x');
    n.settle();
    expect(() => alice.retry(id)).toThrow(InvalidStateError);
    expect(() => alice.retry('nope')).toThrow(InvalidStateError);
    expect(() => new Pager({ ua: makeUa('zed'), random: undefined as unknown as () => number })).toThrow(
      TypeError,
    );
  });

  it('a failure carries the SIP status and reason; retry is a new attempt under the same id', () => {
    const n = net();
    const alice = n.pager('alice');
    const id = sendOk(alice, 'sip:nobody@example.com', 'anyone?', { imdn: true });
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'failed']);
    expect(alice.message(id)).toMatchObject({
      state: 'failed',
      status: 404,
      reason: '404 Not Found',
      attempt: 1,
    });
    expect(alice.retry(id)).toEqual({ ok: true, id });
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'failed', 'sending', 'sent', 'failed']);
    expect(alice.message(id)?.attempt).toBe(2);
    const ids = n.messagesOfType('alice', 'message/cpim').map((m) => parseCpim(m.body).messageId);
    expect(ids).toEqual([id, id]);
  });

  it('a failure says whether a peer sent it or this UA made it up (no answer: 408 after Timer F)', () => {
    const n = net();
    const alice = n.pager('alice');
    const refused = sendOk(alice, 'sip:nobody@example.com', 'anyone?');
    n.settle();
    expect(alice.message(refused)).toMatchObject({ state: 'failed', status: 404, local: false });
    // Every MESSAGE to bob is lost: the non-INVITE client transaction gives up after 64·T1.
    n.net.link('alice', 'up').drop(isRequest('MESSAGE'));
    const lost = sendOk(alice, BOB, 'into the void');
    n.advanceBy(64 * 500 + 1);
    expect(alice.message(lost)).toMatchObject({ state: 'failed', status: 408, local: true });
    const last = n.events('alice', 'message-state').at(-1)!;
    expect(last).toMatchObject({ id: lost, state: 'failed', local: true });
  });

  it('the app may choose the id; handing the same message over again while it is on its way is a no-op', () => {
    const n = net();
    const alice = n.pager('alice');
    n.net.link('alice', 'up').hold(isRequest('MESSAGE'), 1);
    expect(alice.send(BOB, 'from the outbox', { id: 'outbox-17' })).toEqual({ ok: true, id: 'outbox-17' });
    expect(alice.send(BOB, 'from the outbox', { id: 'outbox-17' })).toEqual({ ok: true, id: 'outbox-17' });
    n.settle();
    expect(n.net.link('alice', 'up').heldCount).toBe(1);
    n.net.link('alice', 'up').release(n.now);
    n.settle();
    expect(alice.send(BOB, 'from the outbox', { id: 'outbox-17' })).toEqual({ ok: true, id: 'outbox-17' });
    n.settle();
    expect(n.texts('bob')).toEqual(['from the outbox']);
    expect(() => alice.send(BOB, 'x', { id: 'has space' })).toThrow(TypeError);
  });

  it('one MESSAGE in flight per destination: the rest wait in order; another peer is not held up', () => {
    const n = net();
    const alice = n.pager('alice');
    n.net.link('alice', 'up').delay(isRequest('MESSAGE'), 200, 1);
    const ids = ['one', 'two', 'three'].map((t) => sendOk(alice, BOB, t));
    const toCarol = sendOk(alice, CAROL, 'carol');
    n.settle();
    // At once: the first to bob and the one to carol; the second to bob only after the first's answer.
    expect(n.sent('alice', 'MESSAGE').map((m) => m.bodyText)).toEqual(['one', 'carol']);
    expect(alice.message(ids[1]!)?.state).toBe('sending');
    expect(alice.message(toCarol)?.state).toBe('delivered');
    n.advanceBy(1_000);
    expect(n.sent('alice', 'MESSAGE').map((m) => m.bodyText)).toEqual(['one', 'carol', 'two', 'three']);
    expect(n.texts('bob')).toEqual(['one', 'two', 'three']);
    for (const id of ids) expect(alice.message(id)?.state).toBe('delivered');
  });

  it('a lost request is retransmitted and shown once; a lost 200 makes a retransmission that is not shown again', () => {
    const n = net({ uaOptions: { alice: { transport: 'UDP' } } });
    n.net.link('alice', 'up').drop(isRequest('MESSAGE'), 1);
    n.net.link('alice', 'down').drop((m) => m.kind === 'response' && m.cseq.method === 'MESSAGE', 1);
    const id = sendOk(n.pager('alice'), BOB, 'through the storm');
    n.advanceBy(10_000);
    expect(n.sent('alice', 'MESSAGE').length).toBeGreaterThanOrEqual(3);
    expect(n.texts('bob')).toEqual(['through the storm']);
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered']);
  });

  it('a duplicated request (forking, a store re-delivering) is answered again but shown once', () => {
    const n = net();
    n.net.link('bob', 'down').duplicate(isRequest('MESSAGE'));
    sendOk(n.pager('alice'), BOB, 'twice?', { imdn: true });
    sendOk(n.pager('alice'), BOB, 'plain twice?');
    n.settle();
    expect(n.texts('bob')).toEqual(['twice?', 'plain twice?']);
    expect(n.sent('bob', '200 MESSAGE').length).toBeGreaterThanOrEqual(4);
    // one delivery notification, not two
    expect(n.messagesOfType('bob', 'message/cpim')).toHaveLength(1);
  });

  it('the same imdn.Message-ID under another Call-ID (a store re-delivery) is shown once', () => {
    const n = net();
    const id = sendOk(n.pager('alice'), BOB, 'once', { imdn: ['positive-delivery'] });
    n.settle();
    const original = n.sent('alice', 'MESSAGE')[0] as SipRequest;
    const copy = original.clone();
    copy.headers.set('Call-ID', 'redelivered-by-a-store');
    copy.uri = n.ua('bob').contactUri;
    n.net.link('bob', 'down').send(serializeMessage(copy), copy, n.now);
    n.settle();
    expect(n.events('bob', 'message').map((e) => e.message.id)).toEqual([id]);
  });

  it('the pager passes the UA events it does not consume through', () => {
    const n = net();
    const kinds = n.events('alice', 'ua').map((e) => e.event.type);
    expect(kinds).toContain('registration');
  });
});

describe('receiving (RFC 3428 §7)', () => {
  it('a message whose Expires had passed (by its Date) is reported as expired, not shown', () => {
    const n = net();
    n.ua('carol').request('MESSAGE', BOB, {
      body: 'stale news',
      contentType: 'text/plain',
      headers: { Date: 'Sun, 01 Mar 2026 09:00:00 GMT', Expires: '60' },
      now: n.now,
    });
    n.settle();
    expect(n.texts('bob')).toEqual([]);
    const expired = n.events('bob', 'message-expired');
    expect(expired.map((e) => e.message.text)).toEqual(['stale news']);
    expect(expired[0]!.message.expiresAt).toBe(Date.UTC(2026, 2, 1, 9, 1, 0));
    expect(n.sent('bob', '200 MESSAGE')).toHaveLength(1);
  });

  it('413 over the configured size, 415 with Accept for a body it does not take, 400 for a bad CPIM', () => {
    const n = net({ pagerOptions: { bob: { maxReceiveBytes: 200 } } });
    const carol = n.ua('carol');
    const finals: Record<string, number> = {};
    n.onPagerEvent = (name, e) => {
      if (name === 'carol' && e.type === 'ua' && e.event.type === 'final')
        finals[e.event.outgoing.request.bodyText.slice(0, 5)] = e.event.response.status;
    };
    carol.request('MESSAGE', BOB, { body: `more ${'x'.repeat(200)}`, contentType: 'text/plain', now: n.now });
    carol.request('MESSAGE', BOB, { body: '<b/>', contentType: 'text/html', now: n.now });
    carol.request('MESSAGE', BOB, { body: 'garbage', contentType: 'message/cpim', now: n.now });
    carol.request('MESSAGE', BOB, {
      body: 'From: <sip:carol@example.com>\r\n\r\nContent-Type: image/png\r\n\r\nPNG',
      contentType: 'message/cpim',
      now: n.now,
    });
    n.settle();
    expect(finals).toEqual({ 'more ': 413, '<b/>': 415, garba: 400, 'From:': 415 });
    const refusals = n.sent('bob').filter((m) => m.kind === 'response' && m.status === 415);
    for (const r of refusals) expect(r.headers.get('accept')).toContain('text/plain');
    expect(n.sent('bob').find((m) => m.kind === 'response' && m.status === 413)?.kind).toBe('response');
    expect(n.texts('bob')).toEqual([]);
  });
});

describe('IMDN (RFC 5438)', () => {
  it('sent → delivered → displayed: CPIM out, a delivery notification at once, display only on markDisplayed', () => {
    const n = net();
    const alice = n.pager('alice');
    const id = sendOk(alice, BOB, 'read me', { imdn: true, subject: 'news' });
    n.settle();
    const wire = n.messagesOfType('alice', 'message/cpim')[0]!;
    const cpim = parseCpim(wire.body);
    expect(cpim.messageId).toBe(id);
    expect(cpim.dispositionNotification).toEqual([
      'positive-delivery',
      'negative-delivery',
      'display',
      'processing',
    ]);
    expect(cpim.from?.uri).toBe('sip:alice@example.com');
    expect(cpim.to).toEqual([{ uri: BOB }]);
    expect(cpim.dateTime).toBe(START);
    expect(cpim.subjects).toEqual([{ text: 'news' }]);
    expect(new TextDecoder().decode(cpim.content)).toBe('read me');
    const shown = n.events('bob', 'message')[0]!.message;
    expect(shown).toMatchObject({ id, text: 'read me', displayRequested: true, subject: 'news' });
    // the delivery notification: CPIM, asks for nothing itself, never shown to alice as a message
    const notes = n.messagesOfType('bob', 'message/cpim');
    expect(notes).toHaveLength(1);
    const note = parseCpim(notes[0]!.body);
    expect(note.dispositionNotification).toBeUndefined();
    expect(readImdnContent(note)).toEqual([
      {
        messageId: id,
        dateTime: START,
        recipientUri: BOB,
        originalRecipientUri: BOB,
        kind: 'delivery',
        status: 'delivered',
      },
    ]);
    expect(n.events('alice', 'message')).toHaveLength(0);
    expect(alice.message(id)?.state).toBe('delivered');
    n.advanceBy(5_000);
    n.pager('bob').markDisplayed([id, 'unknown-id'], n.now);
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered', 'displayed']);
    expect(alice.message(id)?.at).toBe(n.now);
    // once only
    n.pager('bob').markDisplayed([id], n.now);
    n.settle();
    expect(n.messagesOfType('bob', 'message/cpim')).toHaveLength(2);
  });

  it('nothing is sent back for a message that asked for nothing', () => {
    const n = net();
    sendOk(n.pager('alice'), BOB, 'quiet');
    n.settle();
    n.pager('bob').markDisplayed([n.events('bob', 'message')[0]!.message.id]);
    n.settle();
    expect(n.sent('bob', 'MESSAGE')).toHaveLength(0);
  });

  it('notifications out of order: displayed overtakes delivered; late "delivered" and "stored" are ignored', () => {
    const n = net({ offline: ['bob'] });
    const alice = n.pager('alice');
    const id = sendOk(alice, BOB, 'hello', { imdn: true });
    n.settle();
    expect(alice.message(id)?.state).toBe('stored');
    const cpim = parseCpim((n.messagesOfType('alice', 'message/cpim')[0] as SipRequest).body);
    const notice = (kind: 'delivery' | 'display' | 'processing', status: string, k: number): void => {
      const { body } = buildImdnMessage({
        im: cpim,
        from: { uri: BOB },
        notification: { kind, status } as never,
        messageId: `n${String(k)}`,
        now: n.now,
      });
      n.ua('carol').request('MESSAGE', 'sip:alice@example.com', {
        body,
        contentType: 'message/cpim',
        now: n.now,
      });
      n.settle();
    };
    notice('display', 'displayed', 1);
    notice('delivery', 'delivered', 2);
    notice('processing', 'stored', 3);
    notice('delivery', 'failed', 4);
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'stored', 'displayed']);
    expect(alice.message(id)?.state).toBe('displayed');
  });

  it('a failed delivery notification fails the message and says why', () => {
    const n = net();
    const alice = n.pager('alice');
    // bob is offline: the store takes it (202) …
    n.net.disconnect('bob');
    n.registrar.bindings.delete(BOB);
    const id = sendOk(alice, BOB, 'will fail', { imdn: true });
    n.settle();
    const cpim = parseCpim((n.messagesOfType('alice', 'message/cpim')[0] as SipRequest).body);
    // … and later reports that it could not deliver it.
    const failed = buildImdnMessage({
      im: cpim,
      from: { uri: BOB },
      notification: { kind: 'delivery', status: 'failed' },
      messageId: 'f-1',
      now: n.now,
    });
    n.ua('carol').request('MESSAGE', 'sip:alice@example.com', {
      body: failed.body,
      contentType: 'message/cpim',
      now: n.now,
    });
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'stored', 'failed']);
    expect(alice.message(id)).toMatchObject({
      state: 'failed',
      reason: 'delivery failed (IMDN)',
      status: undefined,
    });
  });

  it('display notifications asked for together leave as one aggregated IMDN (RFC 5438 §8.3)', () => {
    const n = net();
    const ids = ['a', 'b', 'c'].map((t) => sendOk(n.pager('alice'), BOB, t, { imdn: ['display'] }));
    n.settle();
    expect(n.messagesOfType('bob', 'message/cpim')).toHaveLength(0);
    n.pager('bob').markDisplayed(ids);
    n.settle();
    const notes = n.messagesOfType('bob', 'message/cpim');
    expect(notes).toHaveLength(1);
    const cpim = parseCpim(notes[0]!.body);
    expect(cpim.contentType).toMatch(/^multipart\/mixed/);
    expect(cpim.contentHeaders).toContainEqual(['Content-Disposition', 'notification']);
    expect(readImdnContent(cpim)?.map((x) => [x.messageId, x.status])).toEqual(
      ids.map((id) => [id, 'displayed']),
    );
    for (const id of ids) expect(n.pager('alice').message(id)?.state).toBe('displayed');
  });

  it('delivery notifications that queue behind one in flight leave together', () => {
    const n = net();
    n.net.link('bob', 'up').delay(isRequest('MESSAGE'), 300, 1);
    const first = sendOk(n.pager('alice'), BOB, '1', { imdn: ['positive-delivery'] });
    n.settle();
    const more = ['2', '3'].map((t) => sendOk(n.pager('alice'), BOB, t, { imdn: ['positive-delivery'] }));
    n.advanceBy(1_000);
    const notes = n
      .messagesOfType('bob', 'message/cpim')
      .map((m) => readImdnContent(parseCpim(m.body))!.map((x) => x.messageId));
    expect(notes).toEqual([[first], more]);
  });

  it('a notification whose datetime and ids parse is matched by imdn.Message-ID only', () => {
    const doc = parseImdn(
      '<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>zz</message-id><datetime>2026-03-01T10:00:00Z</datetime><display-notification><status><displayed/></status></display-notification></imdn>',
    );
    expect(doc.messageId).toBe('zz');
    const n = net();
    n.ua('carol').request('MESSAGE', 'sip:alice@example.com', {
      body: 'From: <sip:carol@example.com>\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: q1\r\n\r\nContent-Type: message/imdn+xml\r\n\r\n<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>zz</message-id><datetime>2026-03-01T10:00:00Z</datetime><display-notification><status><displayed/></status></display-notification></imdn>',
      contentType: 'message/cpim',
      now: n.now,
    });
    n.settle();
    // unknown id: accepted, nothing happens, nothing shown
    expect(n.events('alice', 'message')).toHaveLength(0);
    expect(n.events('alice', 'message-state')).toHaveLength(0);
  });
});

describe('store-and-forward: 202 is not 200', () => {
  it('to an offline user: sent → stored; delivered and displayed after the user signs in', () => {
    const n = net({ offline: ['bob'] });
    const alice = n.pager('alice');
    const id = sendOk(alice, BOB, 'while you were out', { imdn: true, expires: 3600 });
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'stored']);
    expect(alice.message(id)?.status).toBe(202);
    n.advanceBy(60_000);
    n.signIn('bob');
    n.settle();
    expect(n.texts('bob')).toEqual(['while you were out']);
    expect(alice.message(id)?.state).toBe('delivered');
    n.pager('bob').markDisplayed([id]);
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'stored', 'delivered', 'displayed']);
  });

  it('stored without notifications asked for stays stored (202 is no delivery)', () => {
    const n = net({ offline: ['bob'] });
    const id = sendOk(n.pager('alice'), BOB, 'no receipts');
    n.settle();
    n.signIn('bob');
    n.settle();
    expect(n.texts('bob')).toEqual(['no receipts']);
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'stored']);
  });

  it('a processing "stored" notification moves a message to stored as a 202 does', () => {
    const n = net({ offline: ['bob'] });
    const id = sendOk(n.pager('alice'), BOB, 'x', { imdn: ['processing'] });
    n.settle();
    const notes = n.sent('registrar', 'MESSAGE');
    expect(notes.some((m) => readImdnContent(parseCpim(m.body))?.[0]?.status === 'stored')).toBe(true);
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'stored']);
  });
});

describe('expiry', () => {
  it('a message still queued when its Expires passes is never sent: expired', () => {
    const n = net();
    const alice = n.pager('alice');
    n.net.link('alice', 'up').hold(isRequest('MESSAGE'), 1);
    const first = sendOk(alice, BOB, 'first');
    const second = sendOk(alice, BOB, 'short-lived', { expires: 5 });
    n.advanceBy(5_000);
    expect(n.states('alice', second)).toEqual(['sending', 'expired']);
    expect(alice.message(second)?.reason).toBe('expired before delivery');
    n.net.link('alice', 'up').release(n.now);
    n.advanceBy(1_000);
    expect(alice.message(first)?.state).toBe('delivered');
    expect(n.texts('bob')).toEqual(['first']);
  });

  it('a stored message never confirmed delivered expires with its Expires', () => {
    const n = net({ offline: ['bob'] });
    const id = sendOk(n.pager('alice'), BOB, 'hurry', { imdn: ['positive-delivery'], expires: 30 });
    n.settle();
    n.advanceBy(30_000);
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'stored', 'expired']);
    // the store drops it too: bob never sees it
    n.signIn('bob');
    n.settle();
    expect(n.texts('bob')).toEqual([]);
  });
});

describe('flows', () => {
  it('messages wait while there is no flow and leave when it comes back', () => {
    const n = net();
    n.net.disconnect('alice');
    const id = sendOk(n.pager('alice'), BOB, 'offline draft');
    n.settle();
    expect(n.pager('alice').message(id)?.state).toBe('sending');
    n.net.connect('alice');
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered']);
    expect(n.texts('bob')).toEqual(['offline draft']);
  });

  it('a MESSAGE in flight when the flow drops is sent again on the next one', () => {
    const n = net();
    n.net.link('alice', 'up').hold(isRequest('MESSAGE'), 1);
    const id = sendOk(n.pager('alice'), BOB, 'in flight');
    n.settle();
    n.net.disconnect('alice');
    expect(n.pager('alice').message(id)?.state).toBe('sent');
    n.net.connect('alice');
    n.settle();
    expect(n.pager('alice').message(id)?.state).toBe('delivered');
    expect(n.texts('bob')).toEqual(['in flight']);
  });
});

describe('aggregated IMDN body', () => {
  it('parses as multipart/mixed of message/imdn+xml parts', () => {
    const n = net();
    const ids = ['x', 'y'].map((t) => sendOk(n.pager('alice'), BOB, t, { imdn: ['display'] }));
    n.settle();
    n.pager('bob').markDisplayed(ids);
    n.settle();
    const cpim = parseCpim(n.messagesOfType('bob', 'message/cpim')[0]!.body);
    const boundary = /boundary="([^"]+)"/.exec(cpim.contentType ?? '')![1]!;
    const parts = parseMultipart(cpim.content, boundary);
    expect(parts.map((p) => p.headers.get('content-type'))).toEqual(['message/imdn+xml', 'message/imdn+xml']);
  });
});
