/**
 * The RFC 3261 §8.2 checks of the UAS core, fed directly to one UserAgent (Bob at biloxi.example.com, UDP).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES, type SipResponse } from '../../../web/src/sip/index.ts';
import { Harness } from '../../support/ua-builders.ts';
import { buildRequest, type RequestSpec } from '../../support/sip-builders.ts';

/** A harness whose application answers nothing (so requests stay in progress) unless told. */
function feedOne(
  spec: RequestSpec & { contentType?: string },
  h = new Harness(),
): { h: Harness; response: SipResponse | undefined } {
  const request = buildRequest(spec);
  if (spec.contentType !== undefined) request.headers.set('Content-Type', spec.contentType);
  h.feed(request);
  return { h, response: h.responses().at(-1) };
}

describe('method inspection (RFC 3261 §8.2.1)', () => {
  it('a known method we do not take is 405 with Allow', () => {
    const { h, response } = feedOne({ method: 'REGISTER', uri: 'sip:biloxi.example.com' });
    expect(response?.status).toBe(405);
    expect(response?.allow).toEqual([...DEFAULT_CAPABILITIES.allow]);
    expect(h.eventsOf('incoming-request')).toHaveLength(0);
    expect(h.eventsOf('auto-response')[0]).toMatchObject({ status: 405 });
  });

  it('an unknown method is 501 (with Allow)', () => {
    const { response } = feedOne({ method: 'FROBNICATE' });
    expect(response?.status).toBe(501);
    expect(response?.allow).toContain('MESSAGE');
  });

  it('the Allow list is the configured one', () => {
    const h = new Harness({ capabilities: { allow: ['MESSAGE', 'OPTIONS', 'ACK', 'CANCEL'] } });
    const { response } = feedOne({ method: 'INVITE' }, h);
    expect(response?.status).toBe(405);
    expect(response?.allow).toEqual(['MESSAGE', 'OPTIONS', 'ACK', 'CANCEL']);
  });
});

describe('header inspection (RFC 3261 §8.2.2)', () => {
  it('a Request-URI scheme we do not serve is 416; a served one passes', () => {
    expect(feedOne({ uri: 'tel:+15555551234' }).response?.status).toBe(416);
    expect(feedOne({ uri: 'im:bob@biloxi.example.com' }).response?.status).toBe(416);
    const h = new Harness({ capabilities: { schemes: ['sip', 'sips', 'tel'] } });
    feedOne({ uri: 'tel:+15555551234' }, h);
    expect(h.responses()).toHaveLength(0);
    expect(h.eventsOf('incoming-request')).toHaveLength(1);
  });

  it('a Request-URI that is not ours is 404; our AOR, contact host and domain are ours', () => {
    expect(feedOne({ uri: 'sip:carol@biloxi.example.com' }).response?.status).toBe(404);
    for (const uri of [
      'sip:bob@biloxi.example.com',
      'sip:bob@bob-pc.biloxi.example.com:5060;transport=udp',
      'sip:anything@bob-pc.biloxi.example.com',
      'sip:biloxi.example.com',
    ]) {
      const { h } = feedOne({ uri });
      expect(h.eventsOf('incoming-request'), uri).toHaveLength(1);
    }
  });

  it('a To tag naming no dialog of ours is 481, for any method', () => {
    for (const method of ['MESSAGE', 'BYE', 'INFO', 'NOTIFY', 'INVITE']) {
      const { h, response } = feedOne({ method, toTag: 'no-such-dialog' });
      expect(response?.status, method).toBe(481);
      expect(h.eventsOf('incoming-request')).toHaveLength(0);
    }
  });

  it('a CANCEL matching no transaction is 481 (§9.2)', () => {
    expect(feedOne({ method: 'CANCEL' }).response?.status).toBe(481);
  });

  it('merged requests (§8.2.2.2): same From tag, Call-ID and CSeq, another branch, while the first is in progress: 482', () => {
    const h = new Harness();
    const spec = { callId: 'merged-1@atlanta', cseq: 7, fromTag: 'ft1' };
    h.feed(buildRequest({ ...spec, branch: 'z9hG4bKpath1' }));
    h.feed(buildRequest({ ...spec, branch: 'z9hG4bKpath2' }));
    expect(h.responses().map((r) => r.status)).toEqual([482]);
    expect(h.eventsOf('incoming-request')).toHaveLength(1);
    // the first is answered; its transaction lives 64·T1 (Timer J) and the rule holds meanwhile
    h.eventsOf('incoming-request')[0]!.incoming.accept();
    h.collect();
    h.feed(buildRequest({ ...spec, branch: 'z9hG4bKpath3' }));
    expect(h.responses().map((r) => r.status)).toEqual([482, 200, 482]);
    // once it has ended, the same numbers are a new request
    h.advanceTo(h.now + 32_001);
    h.feed(buildRequest({ ...spec, branch: 'z9hG4bKpath4' }));
    expect(h.eventsOf('incoming-request')).toHaveLength(2);
  });

  it('a retransmission (same branch) is not merged: it is absorbed', () => {
    const h = new Harness();
    const request = buildRequest({ branch: 'z9hG4bKsame', callId: 'rtx@atlanta' });
    h.feed(request).feed(request);
    expect(h.responses()).toHaveLength(0);
    expect(h.eventsOf('incoming-request')).toHaveLength(1);
  });

  it('Require naming extensions we lack is 420 with Unsupported listing only those', () => {
    const { response } = feedOne({ headers: { Require: 'foo, 100rel, bar', 'Proxy-Require': 'baz' } });
    expect(response?.status).toBe(420);
    expect(response?.unsupported).toEqual(['foo', 'bar']);
  });

  it('Max-Forwards 0 is processed normally at a UAS (no 483)', () => {
    const { h } = feedOne({ maxForwards: 0 });
    expect(h.responses()).toHaveLength(0);
    expect(h.eventsOf('incoming-request')).toHaveLength(1);
  });
});

describe('content processing (RFC 3261 §8.2.3)', () => {
  it('a body type we do not take is 415 with Accept and Accept-Encoding', () => {
    const { response } = feedOne({ contentType: 'application/x-unknown', body: 'x' });
    expect(response?.status).toBe(415);
    expect(response?.accept.map((m) => `${m.type}/${m.subtype}`)).toEqual([...DEFAULT_CAPABILITIES.accept]);
    expect(response?.headers.get('accept-encoding')).toBe('identity');
    expect(response?.headers.has('accept-language')).toBe(false);
  });

  it('an unknown Content-Encoding is 415; Accept-Language is announced when configured', () => {
    const h = new Harness({ capabilities: { acceptLanguage: ['en', 'fr'] } });
    const { response } = feedOne({ headers: { 'Content-Encoding': 'gzip' }, body: 'x' }, h);
    expect(response?.status).toBe(415);
    expect(response?.headers.get('accept-language')).toBe('en, fr');
  });

  it('a type we take passes; a body marked handling=optional is never refused', () => {
    expect(feedOne({ body: 'hello' }).h.eventsOf('incoming-request')).toHaveLength(1); // text/plain
    const { h } = feedOne({
      contentType: 'application/x-unknown',
      headers: { 'Content-Disposition': 'render;handling=optional' },
      body: 'x',
    });
    expect(h.eventsOf('incoming-request')).toHaveLength(1);
  });

  it('an Accept naming nothing we can answer an INVITE with is 406', () => {
    expect(feedOne({ method: 'INVITE', headers: { Accept: 'application/x-nothing' } }).response?.status).toBe(
      406,
    );
    expect(feedOne({ method: 'INVITE', headers: { Accept: 'application/sdp;q=0' } }).response?.status).toBe(
      406,
    );
    expect(feedOne({ method: 'INVITE', headers: { Accept: 'application/*' } }).response?.status).not.toBe(
      406,
    );
  });

  it('OPTIONS gets 200 whatever its Accept: the answer carries no body (RFC 3261 §11.2)', () => {
    // Found against SIPp through Kamailio: a monitor's "Accept: text/plain" OPTIONS used to get 406.
    expect(feedOne({ method: 'OPTIONS', headers: { Accept: 'text/plain' } }).response?.status).toBe(200);
    expect(feedOne({ method: 'OPTIONS', headers: { Accept: 'text/x-nothing' } }).response?.status).toBe(200);
    expect(feedOne({ method: 'OPTIONS', headers: { Accept: 'application/sdp;q=0' } }).response?.status).toBe(
      200,
    );
    expect(feedOne({ method: 'OPTIONS', headers: { Accept: 'application/*' } }).response?.status).toBe(200);
  });
});

describe('the order of the checks', () => {
  it('405 before 416 before 420 before 415', () => {
    expect(
      feedOne({ method: 'REGISTER', uri: 'tel:+1555', headers: { Require: 'foo' } }).response?.status,
    ).toBe(405);
    expect(feedOne({ uri: 'tel:+1555', headers: { Require: 'foo' } }).response?.status).toBe(416);
    const both = { headers: { Require: 'foo' }, contentType: 'application/x-unknown', body: 'x' };
    expect(feedOne(both).response?.status).toBe(420);
  });
});

describe('OPTIONS (RFC 3261 §11.2)', () => {
  it('is answered 200 with Allow, Accept, Supported and Allow-Events describing the agent', () => {
    const h = new Harness({
      capabilities: { allow: ['MESSAGE', 'OPTIONS', 'ACK', 'CANCEL'], allowEvents: [], supported: ['path'] },
    });
    const { response } = feedOne({ method: 'OPTIONS' }, h);
    expect(response?.status).toBe(200);
    expect(response?.allow).toEqual(['MESSAGE', 'OPTIONS', 'ACK', 'CANCEL']);
    expect(response?.supported).toEqual(['path']);
    expect(response?.headers.has('allow-events')).toBe(false);
    expect(response?.accept.length).toBe(DEFAULT_CAPABILITIES.accept.length);
    expect(response?.toTag).toBeDefined();
    expect(h.eventsOf('incoming-request')).toHaveLength(0);
  });

  it('can be left to the application', () => {
    const { h } = feedOne({ method: 'OPTIONS' }, new Harness({ answerOptions: false }));
    expect(h.eventsOf('incoming-request')).toHaveLength(1);
  });
});

describe('malformed requests', () => {
  it('are answered with the parser’s status hint when their routing headers can be read', () => {
    const h = new Harness();
    h.feed(
      [
        'MESSAGE sip:bob@biloxi.example.com SIP/2.0',
        'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKbad',
        'Max-Forwards: 70',
        'From: <sip:alice@atlanta.example.com>;tag=1',
        'To: <sip:bob@biloxi.example.com>',
        'Call-ID: bad@atlanta',
        'CSeq: 1 MESSAGE',
        'Expires: soon',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const r = h.lastResponse();
    expect(r.status).toBe(400);
    expect(r.toTag).toBeDefined();
    expect(r.headers.get('warning')).toMatch(/^399 bob-pc\.biloxi\.example\.com "Expires/);
    expect(h.eventsOf('malformed')[0]).toMatchObject({ statusHint: 400, answered: true });
  });

  it('are dropped and reported when they cannot be answered', () => {
    const h = new Harness();
    h.feed('MESSAGE sip:bob@biloxi.example.com SIP/2.0\r\nTo: <sip:bob@biloxi.example.com>\r\n\r\n');
    expect(h.sent).toHaveLength(0);
    expect(h.eventsOf('malformed')[0]).toMatchObject({ answered: false });
    h.feed(new Uint8Array([0, 1, 2, 255, 13, 10, 13, 10]));
    expect(h.sent).toHaveLength(0);
  });
});
