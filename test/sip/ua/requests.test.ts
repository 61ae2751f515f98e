/**
 * The UAC side of the core, fed directly: how requests are built (RFC 3261 §8.1.1), digest retries (§22.2),
 * timeouts and transport failures (§8.1.3.1). Bob at biloxi.example.com sends; the test plays the network.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidStateError,
  createChallenge,
  createResponse,
  type SipRequest,
} from '../../../web/src/sip/server.ts';
import { buildInvite, buildRequest } from '../../support/sip-builders.ts';
import { Harness, makeUa } from '../../support/ua-builders.ts';

function challenge(request: SipRequest, status: 401 | 407, nonce: string, stale = false) {
  const name = status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
  return createResponse(request, status, {
    toTag: 'proxy1',
    headers: { [name]: createChallenge({ realm: 'biloxi.example.com', nonce, algorithm: 'MD5', stale }) },
  });
}

describe('requests outside a dialog (RFC 3261 §8.1.1)', () => {
  it('MESSAGE: Via with branch and rport, Max-Forwards 70, To without tag, From with tag, no Contact', () => {
    const h = new Harness({ userAgent: 'simple-chat/1' });
    const out = h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', {
      body: 'hello',
      contentType: 'text/plain',
    });
    h.collect();
    const [m] = h.requests('MESSAGE');
    expect(m).toBeDefined();
    expect(out.request).toBe(m);
    expect(m!.headers.get('via')).toMatch(
      /^SIP\/2\.0\/UDP bob-pc\.biloxi\.example\.com:5060;branch=z9hG4bK\w+;rport$/,
    );
    expect(m!.maxForwards).toBe(70);
    expect(m!.uri.toString()).toBe('sip:alice@atlanta.example.com');
    expect(m!.headers.get('to')).toBe('<sip:alice@atlanta.example.com>');
    expect(m!.fromTag).toMatch(/^\w+$/);
    expect(m!.from.uri.toString()).toBe('sip:bob@biloxi.example.com');
    expect(m!.cseq).toEqual({ seq: 1, method: 'MESSAGE' });
    // RFC 3428 §4: MESSAGE requests do not initiate dialogs: no Contact
    expect(m!.headers.has('contact')).toBe(false);
    expect(m!.headers.get('content-type')).toBe('text/plain');
    expect(m!.bodyText).toBe('hello');
    expect(m!.headers.get('user-agent')).toBe('simple-chat/1');
    expect(out.state).toBe('Trying');
  });

  it('INVITE and SUBSCRIBE carry Contact, Supported (and Allow for INVITE)', () => {
    const h = new Harness();
    h.ua.request('INVITE', 'sip:alice@atlanta.example.com', {
      body: 'v=0\r\n',
      contentType: 'application/sdp',
    });
    h.ua.request('SUBSCRIBE', 'sip:alice@atlanta.example.com', { headers: { Event: 'presence' } });
    h.collect();
    const [invite] = h.requests('INVITE');
    const [subscribe] = h.requests('SUBSCRIBE');
    expect(invite!.contacts[0]!.uri.toString()).toBe('sip:bob@bob-pc.biloxi.example.com:5060');
    expect(invite!.allow).toContain('PRACK');
    expect(invite!.supported).toContain('100rel');
    expect(subscribe!.contacts).toHaveLength(1);
    expect(subscribe!.event?.event).toBe('presence');
  });

  it('a caller-chosen Call-ID gets increasing CSeq numbers', () => {
    const h = new Harness();
    for (let i = 0; i < 3; i++)
      h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', {
        callId: 'conv-1',
        body: 'x',
        contentType: 'text/plain',
      });
    h.collect();
    expect(h.requests('MESSAGE').map((m) => [m.callId, m.cseq.seq])).toEqual([
      ['conv-1', 1],
      ['conv-1', 2],
      ['conv-1', 3],
    ]);
  });

  it('refuses what the core sends itself and headers it owns', () => {
    const h = new Harness();
    expect(() => h.ua.request('ACK', 'sip:a@b')).toThrow(TypeError);
    expect(() => h.ua.request('CANCEL', 'sip:a@b')).toThrow(TypeError);
    expect(() => h.ua.request('MESSAGE', 'sip:a@b', { headers: { 'Call-ID': 'x' } })).toThrow(TypeError);
    expect(() => h.ua.request('MESSAGE', 'sip:a@b', { headers: { Subject: 'a\r\nVia: evil' } })).toThrow(
      TypeError,
    );
    expect(() => h.ua.request('BAD METHOD', 'sip:a@b')).toThrow(TypeError);
    expect(() => h.ua.request('MESSAGE', undefined)).toThrow(TypeError);
  });

  it('without a flow on a connection-oriented transport, fails at once with a local 503', () => {
    const ua = makeUa('alice');
    const out = ua.request('MESSAGE', 'sip:bob@example.com', { body: 'x', contentType: 'text/plain' });
    expect(out.response?.status).toBe(503);
    expect(ua.takeTransmissions()).toHaveLength(0);
    expect(ua.takeEvents()).toEqual([expect.objectContaining({ type: 'final', local: true })]);
  });
});

describe('responses to our requests', () => {
  it('progress and final events name the handle; the final comes once', () => {
    const h = new Harness();
    const out = h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', {
      body: 'x',
      contentType: 'text/plain',
    });
    h.collect();
    const m = h.requests('MESSAGE')[0]!;
    h.feed(createResponse(m, 100));
    h.feed(createResponse(m, 202, { toTag: 'a1' }));
    h.feed(createResponse(m, 202, { toTag: 'a1' }));
    expect(h.events.map((e) => e.type)).toEqual(['progress', 'final']);
    const final = h.eventsOf('final')[0]!;
    expect(final.outgoing.id).toBe(out.id);
    expect(final.response.status).toBe(202);
    expect(out.state).toBe('Completed');
    expect(out.response?.status).toBe(202);
  });

  it('a timeout is a local 408 after 64·T1 (§8.1.3.1), with retransmissions before it over UDP', () => {
    const h = new Harness();
    h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', { body: 'x', contentType: 'text/plain' });
    h.collect();
    const start = h.now;
    h.advanceTo(start + 31_999);
    expect(h.eventsOf('final')).toHaveLength(0);
    expect(h.requests('MESSAGE').length).toBeGreaterThan(5);
    h.advanceTo(start + 32_000);
    expect(h.eventsOf('final')[0]).toMatchObject({ local: true });
    expect(h.eventsOf('final')[0]!.response.status).toBe(408);
  });
});

describe('digest authentication (RFC 3261 §22.2)', () => {
  it('answers a 407 once with Proxy-Authorization: same Call-ID and From tag, next CSeq, new branch', () => {
    const h = new Harness({ credentials: { username: 'bob', password: 'pw' } });
    const out = h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', {
      body: 'x',
      contentType: 'text/plain',
    });
    h.collect();
    const first = h.requests('MESSAGE')[0]!;
    h.feed(challenge(first, 407, 'n1'));
    const second = h.requests('MESSAGE')[1]!;
    expect(second.callId).toBe(first.callId);
    expect(second.fromTag).toBe(first.fromTag);
    expect(second.cseq.seq).toBe(first.cseq.seq + 1);
    expect(second.topVia?.branch).not.toBe(first.topVia?.branch);
    expect(second.headers.get('proxy-authorization')).toMatch(
      /^Digest username="bob", realm="biloxi.example.com", nonce="n1"/,
    );
    expect(second.bodyText).toBe('x');
    expect(out.request).toBe(second);
    expect(h.eventsOf('final')).toHaveLength(0);
    h.feed(createResponse(second, 200, { toTag: 'a1' }));
    expect(h.eventsOf('final')[0]!.response.status).toBe(200);
    // later requests carry the credentials pre-emptively (nc=2)
    h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', { body: 'y', contentType: 'text/plain' });
    h.collect();
    expect(h.requests('MESSAGE')[2]!.headers.get('proxy-authorization')).toMatch(/nc=00000002/);
  });

  it('a wrong password: the second challenge ends it (one round, no loop)', () => {
    const h = new Harness({ credentials: { username: 'bob', password: 'wrong' } });
    const out = h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', {
      body: 'x',
      contentType: 'text/plain',
    });
    h.collect();
    h.feed(challenge(h.requests('MESSAGE')[0]!, 401, 'n1'));
    h.feed(challenge(h.requests('MESSAGE')[1]!, 401, 'n2'));
    expect(h.requests('MESSAGE')).toHaveLength(2);
    const final = h.eventsOf('final')[0]!;
    expect(final.response.status).toBe(401);
    expect(final.authFailure).toBe('rejected');
    expect(out.authFailure).toBe('rejected');
  });

  it('a stale nonce is answered again', () => {
    const h = new Harness({ credentials: { username: 'bob', password: 'pw' } });
    h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', { body: 'x', contentType: 'text/plain' });
    h.collect();
    h.feed(challenge(h.requests('MESSAGE')[0]!, 401, 'n1'));
    h.feed(challenge(h.requests('MESSAGE')[1]!, 401, 'n2', true));
    expect(h.requests('MESSAGE')).toHaveLength(3);
    expect(h.requests('MESSAGE')[2]!.headers.get('authorization')).toContain('nonce="n2"');
  });

  it('without credentials a challenge is the final response', () => {
    const h = new Harness();
    h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', { body: 'x', contentType: 'text/plain' });
    h.collect();
    h.feed(challenge(h.requests('MESSAGE')[0]!, 401, 'n1'));
    expect(h.requests('MESSAGE')).toHaveLength(1);
    expect(h.eventsOf('final')[0]!.response.status).toBe(401);
  });

  it('an INVITE challenged with 407 is ACKed by its transaction and sent again in a new dialog set', () => {
    const h = new Harness({ credentials: { username: 'bob', password: 'pw' } });
    const out = h.ua.request('INVITE', 'sip:alice@atlanta.example.com', {
      body: 'v=0\r\n',
      contentType: 'application/sdp',
    });
    h.collect();
    const first = h.requests('INVITE')[0]!;
    const firstSet = out.dialogSet;
    h.feed(challenge(first, 407, 'n1'));
    expect(h.requests('ACK')).toHaveLength(1);
    const second = h.requests('INVITE')[1]!;
    expect(second.headers.has('proxy-authorization')).toBe(true);
    expect(out.dialogSet).not.toBe(firstSet);
    h.feed(createResponse(second, 200, { toTag: 'callee', headers: { Contact: '<sip:alice@192.0.2.5>' } }));
    const ack = h.requests('ACK')[1]!;
    expect(ack.cseq).toEqual({ seq: second.cseq.seq, method: 'ACK' });
    // RFC 3261 §22.2: the 2xx ACK carries the INVITE's credentials
    expect(ack.headers.has('proxy-authorization')).toBe(true);
    expect(ack.uri.toString()).toBe('sip:alice@192.0.2.5');
    expect(out.dialog?.state).toBe('Confirmed');
  });

  it('cancel() is only for a pending INVITE', () => {
    const h = new Harness();
    const m = h.ua.request('MESSAGE', 'sip:alice@atlanta.example.com', {
      body: 'x',
      contentType: 'text/plain',
    });
    expect(() => m.cancel()).toThrow(InvalidStateError);
  });
});

describe('subscriptions (RFC 6665 §4.1.2.4)', () => {
  it('a NOTIFY arriving before the SUBSCRIBE’s 2xx creates the dialog, which the 2xx then joins', () => {
    const h = new Harness({ acceptsRequestUri: () => true });
    const out = h.ua.request('SUBSCRIBE', 'sip:alice@atlanta.example.com', {
      headers: { Event: 'presence', Expires: '600' },
    });
    h.collect();
    const subscribe = h.requests('SUBSCRIBE')[0]!;
    const notify = [
      `NOTIFY sip:bob@bob-pc.biloxi.example.com:5060 SIP/2.0`,
      'Via: SIP/2.0/UDP pa.atlanta.example.com;branch=z9hG4bKnotify1',
      'Max-Forwards: 70',
      `From: <sip:alice@atlanta.example.com>;tag=notifier`,
      `To: <sip:bob@biloxi.example.com>;tag=${subscribe.fromTag!}`,
      `Call-ID: ${subscribe.callId}`,
      'CSeq: 1 NOTIFY',
      'Contact: <sip:pa@pa.atlanta.example.com>',
      'Event: presence',
      'Subscription-State: active;expires=600',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    h.feed(notify);
    const incoming = h.eventsOf('incoming-request')[0]!.incoming;
    expect(incoming.method).toBe('NOTIFY');
    expect(incoming.dialog?.state).toBe('Confirmed');
    expect(incoming.dialog?.id).toEqual({
      callId: subscribe.callId,
      localTag: subscribe.fromTag,
      remoteTag: 'notifier',
    });
    incoming.accept();
    h.collect();
    h.feed(
      createResponse(subscribe, 200, {
        toTag: 'notifier',
        headers: { Contact: '<sip:pa@pa.atlanta.example.com>', Expires: '600' },
      }),
    );
    expect(out.dialog).toBe(incoming.dialog);
    expect(h.ua.dialogs).toHaveLength(1);
    // a NOTIFY of a subscription we never made is 481
    h.feed(
      notify
        .replace('tag=notifier', 'tag=other')
        .replace(subscribe.callId, 'unknown-call')
        .replace('notify1', 'notify2'),
    );
    expect(h.lastResponse().status).toBe(481);
  });
});

describe('INVITE forks (RFC 3261 §13.2.2.4)', () => {
  it('two early dialogs; the first 2xx wins; a late 2xx from the other fork is ACKed and BYEd', () => {
    const h = new Harness();
    const call = h.ua.request('INVITE', 'sip:alice@atlanta.example.com', {
      body: 'v=0\r\n',
      contentType: 'application/sdp',
    });
    h.collect();
    const invite = h.requests('INVITE')[0]!;
    const answer = (status: number, tag: string) =>
      createResponse(invite, status, {
        toTag: tag,
        headers: { Contact: `<sip:${tag}@192.0.2.${tag === 'a' ? 1 : 2}>` },
      });
    h.feed(answer(180, 'a')).feed(answer(180, 'b'));
    expect(h.eventsOf('progress').map((e) => e.dialog?.id.remoteTag)).toEqual(['a', 'b']);
    expect(h.ua.dialogs).toHaveLength(2);
    h.feed(answer(200, 'a'));
    expect(h.eventsOf('final')).toHaveLength(1);
    expect(call.dialog?.id.remoteTag).toBe('a');
    expect(h.ua.dialogs.map((d) => d.id.remoteTag)).toEqual(['a']); // b's early dialog ended
    h.feed(answer(200, 'b'));
    expect(h.requests('ACK').map((a) => a.uri.toString())).toEqual(['sip:a@192.0.2.1', 'sip:b@192.0.2.2']);
    expect(h.requests('BYE').map((b) => b.uri.toString())).toEqual(['sip:b@192.0.2.2']);
    expect(h.eventsOf('final')).toHaveLength(1);
    // the 2xx again (retransmitted): ACKed again, nothing else
    h.feed(answer(200, 'a'));
    expect(h.requests('ACK')).toHaveLength(3);
    expect(h.eventsOf('final')).toHaveLength(1);
  });
});

describe('answers the application gives', () => {
  it('accepting an INVITE without Contact becomes 400 (it could not make a dialog)', () => {
    const h = new Harness();
    const invite = buildInvite();
    invite.headers.delete('Contact');
    h.feed(invite);
    const incoming = h.eventsOf('incoming-request')[0]!.incoming;
    incoming.accept({ body: 'v=0\r\n', contentType: 'application/sdp' });
    h.collect();
    expect(h.lastResponse().status).toBe(400);
    expect(h.ua.dialogs).toHaveLength(0);
  });

  it('a second answer, or an answer outside its status range, is refused', () => {
    const h = new Harness();
    h.feed(buildRequest({ body: 'hi' }));
    const incoming = h.eventsOf('incoming-request')[0]!.incoming;
    expect(() => incoming.reject(200)).toThrow(TypeError);
    expect(() => incoming.progress(100)).toThrow(TypeError);
    expect(() => incoming.accept({ headers: { 'Call-ID': 'x' } })).toThrow(TypeError);
    incoming.accept();
    expect(incoming.state).toBe('Answered');
    expect(() => incoming.reject(486)).toThrow(InvalidStateError);
  });
});
