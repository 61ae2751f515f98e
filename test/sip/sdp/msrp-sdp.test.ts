import { describe, expect, it } from 'vitest';
import {
  acceptsContent,
  answerMsrpOffer,
  createMsrpOffer,
  intersectTypes,
  parseSdp,
  readMsrpAnswer,
  readMsrpMedia,
  serializeSdp,
  type SessionDescription,
} from '../../../web/src/sip/index.ts';

const crlf = (...lines: string[]): string => lines.map((l) => l + '\r\n').join('');
const parsed = (text: string): SessionDescription => {
  const r = parseSdp(text);
  if (!r.ok) throw new Error(r.reason);
  return r.sdp;
};

const ROMEO = 'msrps://montague.example.net:7777/r0me0s3ss;tcp';
const JULIET = 'msrps://capulet.example.org:8888/ju1i3t5s;tcp';

describe('MSRP offer/answer (RFC 4975 §8, RFC 3264)', () => {
  it('writes an offer as §8.7 shows it: m=message over TLS, c=, accept-types, path, setup, direction', () => {
    const offer = createMsrpOffer({
      sessionId: '2890844526',
      path: [ROMEO],
      acceptTypes: ['message/cpim', 'text/plain'],
      acceptWrappedTypes: ['text/plain', 'image/*'],
      maxSize: 1048576,
    });
    expect(serializeSdp(offer)).toBe(
      crlf(
        'v=0',
        'o=- 2890844526 2890844526 IN IP4 montague.example.net',
        's=-',
        'c=IN IP4 montague.example.net',
        't=0 0',
        'm=message 7777 TCP/TLS/MSRP *',
        'a=accept-types:message/cpim text/plain',
        'a=accept-wrapped-types:text/plain image/*',
        'a=max-size:1048576',
        `a=path:${ROMEO}`,
        'a=setup:actpass',
        'a=sendrecv',
      ),
    );
    // What we write, we read back.
    expect(readMsrpMedia(parsed(serializeSdp(offer)), 0)).toMatchObject({
      proto: 'TCP/TLS/MSRP',
      path: [ROMEO],
      acceptTypes: ['message/cpim', 'text/plain'],
      acceptWrappedTypes: ['text/plain', 'image/*'],
      maxSize: 1048576,
      setup: 'actpass',
      direction: 'sendrecv',
    });
  });

  it('answers the offer: its own path, the types both take, the other setup role, and negotiates both ways', () => {
    const offer = createMsrpOffer({
      sessionId: '1',
      path: [ROMEO],
      acceptTypes: ['text/plain', 'message/cpim'],
    });
    const result = answerMsrpOffer(offer, {
      sessionId: '2',
      local: { path: [JULIET], acceptTypes: ['text/*', 'image/png'], maxSize: 4096 },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const m = readMsrpMedia(parsed(serializeSdp(result.answer)), 0);
    expect(m).toMatchObject({
      path: [JULIET],
      acceptTypes: ['text/plain'],
      maxSize: 4096,
      setup: 'passive',
      port: 8888,
    });
    expect(result.accepted).toEqual([
      {
        index: 0,
        remotePath: [ROMEO],
        localPath: [JULIET],
        remoteAcceptTypes: ['text/plain', 'message/cpim'],
        remoteAcceptWrappedTypes: [],
        remoteMaxSize: undefined,
        active: false,
        direction: 'sendrecv',
        file: undefined,
      },
    ]);
    // The offerer's view: Juliet is passive, so Romeo connects.
    const back = readMsrpAnswer(offer, parsed(serializeSdp(result.answer)));
    expect(back).toMatchObject({
      ok: true,
      media: [{ remotePath: [JULIET], remoteAcceptTypes: ['text/plain'], remoteMaxSize: 4096, active: true }],
    });
  });

  it('declines every other media with port 0, keeping the line (RFC 3264 §6)', () => {
    const offer = parsed(
      crlf(
        'v=0',
        'o=romeo 1 1 IN IP4 montague.example.net',
        's=-',
        'c=IN IP4 montague.example.net',
        't=0 0',
        'm=audio 49170 RTP/AVP 0 8',
        'a=rtpmap:0 PCMU/8000',
        'm=message 7777 TCP/TLS/MSRP *',
        'a=accept-types:text/plain',
        `a=path:${ROMEO}`,
        'm=video 51372 RTP/AVP 31',
      ),
    );
    const result = answerMsrpOffer(offer, {
      sessionId: '9',
      local: { path: [JULIET], acceptTypes: ['text/plain'] },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const text = serializeSdp(result.answer);
    expect(text).toContain('m=audio 0 RTP/AVP 0 8\r\nm=message 8888 TCP/TLS/MSRP *\r\n');
    expect(text.endsWith('m=video 0 RTP/AVP 31\r\n')).toBe(true);
    expect(text).not.toContain('rtpmap');
    expect(result.accepted.map((a) => a.index)).toEqual([1]);
    // RFC 4975 legacy: without a=setup the offerer connects, so the answerer is passive.
    expect(result.accepted[0]!.active).toBe(false);
  });

  it('refuses with 488 and a reason when nothing fits: no common type, audio only, a broken MSRP line', () => {
    const offer = createMsrpOffer({ sessionId: '1', path: [ROMEO], acceptTypes: ['image/jpeg'] });
    expect(
      answerMsrpOffer(offer, { sessionId: '2', local: { path: [JULIET], acceptTypes: ['text/plain'] } }),
    ).toEqual({
      ok: false,
      status: 488,
      reason: 'm= line 1: no accept-types in common',
    });
    const audio = parsed(
      crlf('v=0', 'o=- 1 1 IN IP4 h.example', 's=-', 'c=IN IP4 h.example', 't=0 0', 'm=audio 4000 RTP/AVP 0'),
    );
    expect(
      answerMsrpOffer(audio, { sessionId: '2', local: { path: [JULIET], acceptTypes: ['*'] } }),
    ).toMatchObject({ ok: false, status: 488 });
    const noPath = parsed(
      crlf(
        'v=0',
        'o=- 1 1 IN IP4 h.example',
        's=-',
        'c=IN IP4 h.example',
        't=0 0',
        'm=message 9 TCP/MSRP *',
        'a=accept-types:text/plain',
      ),
    );
    expect(
      answerMsrpOffer(noPath, { sessionId: '2', local: { path: [JULIET], acceptTypes: ['*'] } }),
    ).toMatchObject({
      ok: false,
      reason: 'm= line 1: a=path is missing',
    });
    const badPath = parsed(serializeSdp(offer).replace(ROMEO, 'sip:romeo@montague.example.net'));
    expect(
      answerMsrpOffer(badPath, { sessionId: '2', local: { path: [JULIET], acceptTypes: ['*'] } }),
    ).toMatchObject({ ok: false });
  });

  it('intersects type lists with wildcards, keeping the more specific type', () => {
    expect(intersectTypes(['*'], ['text/plain', 'message/cpim'])).toEqual(['text/plain', 'message/cpim']);
    expect(intersectTypes(['text/*', 'image/png'], ['*'])).toEqual(['text/*', 'image/png']);
    expect(intersectTypes(['text/*'], ['text/plain', 'TEXT/HTML', 'image/png'])).toEqual([
      'text/plain',
      'TEXT/HTML',
    ]);
    expect(intersectTypes(['image/png'], ['image/*'])).toEqual(['image/png']);
    expect(intersectTypes(['audio/ogg'], ['video/ogg'])).toEqual([]);
    // What a peer takes, wrapped or not (RFC 4975 §8.6).
    expect(acceptsContent(['message/cpim'], ['text/plain'], 'message/cpim', 'text/plain')).toBe(true);
    expect(acceptsContent(['message/cpim'], ['text/plain'], 'message/cpim', 'image/png')).toBe(false);
    expect(acceptsContent(['message/cpim'], ['text/plain'], 'text/plain')).toBe(false);
  });

  it('picks the setup role: actpass lets the answerer choose; active and passive get the opposite; holdconn declines', () => {
    const offer = (setup: string): SessionDescription =>
      parsed(
        serializeSdp(createMsrpOffer({ sessionId: '1', path: [ROMEO], acceptTypes: ['*'] })).replace(
          'a=setup:actpass',
          `a=setup:${setup}`,
        ),
      );
    const answer = (setup: string, mine?: 'active' | 'passive') =>
      answerMsrpOffer(offer(setup), {
        sessionId: '2',
        local: { path: [JULIET], acceptTypes: ['*'], setup: mine },
      });
    expect(answer('actpass')).toMatchObject({ accepted: [{ active: false }] });
    expect(answer('actpass', 'active')).toMatchObject({ accepted: [{ active: true }] });
    expect(answer('passive')).toMatchObject({ accepted: [{ active: true }] });
    expect(answer('active', 'active')).toMatchObject({ accepted: [{ active: false }] });
    expect(answer('holdconn')).toMatchObject({ ok: false });
    expect(answer('sometimes')).toMatchObject({ ok: false, reason: 'bad a=setup "sometimes"' });
  });

  it('describes a WebSocket client behind a relay (RFC 7977): TCP/WSS/MSRP, port 9, the relay first in the path', () => {
    const client = 'msrps://df7jal23ls0d.invalid/98cjs;ws';
    const offer = createMsrpOffer({
      sessionId: '3',
      path: ['msrps://relay.example.net:443/kjh32;ws', client],
      acceptTypes: ['text/plain'],
      address: '192.0.2.1',
    });
    const text = serializeSdp(offer);
    expect(text).toContain('c=IN IP4 192.0.2.1\r\n');
    expect(text).toContain('m=message 9 TCP/WSS/MSRP *\r\n');
    expect(text).toContain(`a=path:msrps://relay.example.net:443/kjh32;ws ${client}\r\n`);
    expect(readMsrpMedia(parsed(text), 0)).toMatchObject({
      proto: 'TCP/WSS/MSRP',
      path: ['msrps://relay.example.net:443/kjh32;ws', client],
    });
    expect(() => createMsrpOffer({ sessionId: '3', path: [], acceptTypes: ['*'] })).toThrow(TypeError);
  });

  it('answers every MSRP line through a function, each with its own path', () => {
    const two = parsed(
      serializeSdp(createMsrpOffer({ sessionId: '1', path: [ROMEO], acceptTypes: ['text/plain'] })) +
        crlf(
          'm=message 7777 TCP/TLS/MSRP *',
          'a=accept-types:image/png',
          `a=path:${ROMEO.replace('r0me0s3ss', 'f1l3')}`,
          'a=sendonly',
        ),
    );
    let n = 0;
    const result = answerMsrpOffer(two, {
      sessionId: '5',
      local: (offered) => ({
        path: [JULIET.replace('ju1i3t5s', `s${++n}xyz`)],
        acceptTypes: offered.acceptTypes,
      }),
    });
    expect(result).toMatchObject({
      ok: true,
      accepted: [
        { index: 0, localPath: [JULIET.replace('ju1i3t5s', 's1xyz')], direction: 'sendrecv' },
        { index: 1, localPath: [JULIET.replace('ju1i3t5s', 's2xyz')], direction: 'recvonly' },
      ],
    });
    // With a single init instead, only the first MSRP line is taken.
    const single = answerMsrpOffer(two, { sessionId: '5', local: { path: [JULIET], acceptTypes: ['*'] } });
    expect(single.ok && single.accepted.map((a) => a.index)).toEqual([0]);
  });

  it('finds an answer that does not match its offer', () => {
    const offer = createMsrpOffer({ sessionId: '1', path: [ROMEO], acceptTypes: ['text/plain'] });
    const declined = parsed(serializeSdp(offer).replace('m=message 7777', 'm=message 0'));
    expect(readMsrpAnswer(offer, declined)).toEqual({ ok: false, reason: 'every MSRP line was declined' });
    const extra = parsed(serializeSdp(offer) + 'm=audio 0 RTP/AVP 0\r\n');
    expect(readMsrpAnswer(offer, extra)).toMatchObject({ ok: false });
  });
});
