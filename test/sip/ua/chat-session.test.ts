/**
 * Session-mode chat (RFC 4975 over INVITE, RFC 3264 offer/answer, RFC 3262 PRACK) between users of example.com on
 * the in-memory network: offer and answer both ways, early sessions, the seeds' forking scenario, CANCEL, 486/603,
 * BYE both ways, CPIM/IMDN/is-composing inside the session, and MSRP chunks duplicated and reordered on the way.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidStateError,
  parseSdp,
  readMsrpMedia,
  serializeSdp,
  type ChatSessionsEvent,
  type MsrpMedia,
  type SipRequest,
  type SipResponse,
} from '../../../web/src/sip/index.ts';
import { isRequest, isResponse } from '../../support/linked-pair.ts';
import { RELAY_URI, SessionNet, type SessionEndpoint } from '../../support/session-net.ts';

const BOB = 'sip:bob@example.com';
const ALICE = 'sip:alice@example.com';

function pair(bob: Partial<SessionEndpoint> = {}, alice: Partial<SessionEndpoint> = {}): SessionNet {
  return new SessionNet({
    branchTimeout: 60_000,
    endpoints: { alice: { user: 'alice', ...alice }, bob: { user: 'bob', ...bob } },
  });
}

/** The app of an endpoint that accepts every incoming session. */
function acceptAll(n: SessionNet, ...names: string[]): void {
  const before = n.onEvent;
  n.onEvent = (name, e) => {
    before?.(name, e);
    if (names.includes(name) && e.type === 'incoming-session') n.core(name).accept(e.session.id, n.now);
  };
}

function msrpMedia(message: SipRequest | SipResponse): MsrpMedia {
  const parsed = parseSdp(message.bodyText);
  if (!parsed.ok) throw new Error(`bad SDP: ${parsed.reason}`);
  for (let i = 0; i < parsed.sdp.media.length; i++) {
    const m = readMsrpMedia(parsed.sdp, i);
    if (m !== undefined && !(m instanceof Error)) return m;
  }
  throw new Error('no MSRP media line');
}

/** Establish alice → bob (bob accepts when asked); returns both session ids. */
function establish(n: SessionNet): { a: string; b: string } {
  acceptAll(n, 'bob');
  const a = n.core('alice').invite(BOB, { now: n.now });
  n.settle();
  expect(n.core('alice').session(a)?.state).toBe('Established');
  return { a, b: n.incoming('bob') };
}

describe('offer and answer (RFC 3264, RFC 4975 §8)', () => {
  it('the INVITE offers our path through the relay; bob rings with an early session; 180 and 200 carry one answer', () => {
    const n = pair();
    const a = n.core('alice').invite(BOB, { now: n.now });
    n.settle();
    // The MSRP connection came first, then AUTH (RFC 4976), then the INVITE with Use-Path + our URI in a=path.
    expect(n.events('alice', 'msrp-connect')).toHaveLength(1);
    const invite = n.sent('alice', 'INVITE')[0] as SipRequest;
    expect(invite.supported).toContain('100rel');
    const offer = msrpMedia(invite);
    expect(offer.path).toEqual([
      expect.stringMatching(/^msrp:\/\/relay\.example\.com:2855\/r\d+;tcp$/),
      expect.stringMatching(/^msrp:\/\/alice\.invalid\/\w+;ws$/),
    ]);
    expect(offer.proto).toBe('TCP/WS/MSRP');
    expect(offer.acceptTypes).toEqual(['message/cpim', 'text/plain', 'application/im-iscomposing+xml']);
    expect(offer.acceptWrappedTypes).toEqual([
      'text/plain',
      'message/imdn+xml',
      'application/im-iscomposing+xml',
    ]);
    expect(offer.setup).toBe('active');
    expect(offer.maxSize).toBe(100 << 20);
    // Bob's client rings with an early session (RFC 3262: reliably, PRACKed by alice's core).
    const ringing = n.sent('bob', '180 INVITE')[0] as SipResponse;
    expect(ringing.headers.get('require')).toContain('100rel');
    expect(ringing.headers.get('rseq')).toMatch(/^\d+$/);
    expect(n.sent('alice', 'PRACK')).toHaveLength(1);
    expect(msrpMedia(ringing).path.at(-1)).toMatch(/^msrp:\/\/bob\.invalid\//);
    expect(n.core('alice').session(a)).toMatchObject({ state: 'Early', ringing: true });
    const b = n.incoming('bob');
    expect(n.core('bob').session(b)).toMatchObject({ state: 'Early', direction: 'incoming', peer: ALICE });
    n.core('bob').accept(b, n.now);
    n.settle();
    const ok = n.sent('bob', '200 INVITE')[0] as SipResponse;
    expect(ok.bodyText).toBe(ringing.bodyText);
    expect(n.sessionStates('alice', a)).toEqual(['Connecting', 'Calling', 'Early', 'Established']);
    expect(n.sessionStates('bob', b)).toEqual(['Incoming', 'Early', 'Established']);
    // Texts both ways, each confirmed by the peer's success report (RFC 4975 §7.1.2).
    const m1 = n.core('alice').send(a, 'hello bob', {}, n.now);
    const m2 = n.core('bob').send(b, 'hello alice', {}, n.now);
    n.settle();
    expect(n.texts('bob')).toEqual(['hello bob']);
    expect(n.texts('alice')).toEqual(['hello alice']);
    expect(n.states('alice', m1)).toEqual(['sending', 'sent', 'delivered']);
    expect(n.states('bob', m2)).toEqual(['sending', 'sent', 'delivered']);
    // Plain texts without notifications asked for go as text/plain.
    expect(
      n.relay
        .frames('alice', 'SEND')
        .some((f) => f.headers.some(([k, v]) => k === 'Content-Type' && v === 'text/plain;charset=utf-8')),
    ).toBe(true);
  });

  it('the other way round: bob invites alice, alice answers at once (no 180)', () => {
    const n = pair({}, { chat: { earlySession: false } });
    acceptAll(n, 'alice');
    const b = n.core('bob').invite(ALICE, { now: n.now });
    n.core('bob').send(b, 'typed before the answer', {}, n.now);
    n.settle();
    expect(n.sent('alice', '180 INVITE')).toHaveLength(0);
    expect(n.core('bob').session(b)?.state).toBe('Established');
    expect(n.texts('alice')).toEqual(['typed before the answer']);
    const a = n.incoming('alice');
    n.core('alice').send(a, 'got it', {}, n.now);
    n.settle();
    expect(n.texts('bob')).toEqual(['got it']);
  });

  it('an offer of audio and message: the audio line is declined with port 0, the chat goes on', () => {
    const n = pair();
    acceptAll(n, 'bob');
    const sdp = [
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.1',
      's=-',
      'c=IN IP4 192.0.2.1',
      't=0 0',
      'm=audio 49170 RTP/AVP 0',
      'a=rtpmap:0 PCMU/8000',
      'm=message 9 TCP/WS/MSRP *',
      'a=accept-types:text/plain',
      `a=path:${RELAY_URI.replace(';tcp', '/x1;tcp')} msrp://legacy.invalid/abcd;ws`,
      '',
    ].join('\r\n');
    n.uas.get('alice')!.request('INVITE', BOB, { body: sdp, contentType: 'application/sdp', now: n.now });
    n.settle();
    const ok = n.sent('bob', '200 INVITE')[0] as SipResponse;
    const answer = parseSdp(ok.bodyText);
    if (!answer.ok) throw new Error(answer.reason);
    expect(answer.sdp.media.map((m) => [m.media, m.port === 0])).toEqual([
      ['audio', true],
      ['message', false],
    ]);
    expect(msrpMedia(ok).acceptTypes).toEqual(['text/plain']);
  });

  it('an INVITE without MSRP media is refused 488; one without an offer too', () => {
    const n = pair();
    const sdp =
      'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n';
    n.uas.get('alice')!.request('INVITE', BOB, { body: sdp, contentType: 'application/sdp', now: n.now });
    n.uas.get('alice')!.request('INVITE', BOB, { now: n.now });
    n.settle();
    expect(
      n
        .sent('bob')
        .filter((m) => m.kind === 'response' && m.status >= 300)
        .map((m) => (m as SipResponse).status),
    ).toEqual([488, 488]);
    expect(n.events('bob', 'incoming-session')).toHaveLength(0);
  });
});

describe('reliable provisional responses (RFC 3262)', () => {
  it('the 200 waits for the PRACK of the 180 that carried the answer; the 180 is resent until then', () => {
    const n = pair();
    // Bob accepts as soon as it rings: its 180 carried the answer and is not PRACKed yet.
    n.onEvent = (name, e) => {
      if (name === 'bob' && e.type === 'session' && e.session.state === 'Early')
        n.core('bob').accept(e.session.id, n.now);
    };
    n.net.link('alice', 'up').delay(isRequest('PRACK'), 700, 1);
    const start = n.now;
    const a = n.core('alice').invite(BOB, { now: n.now });
    n.settle();
    expect(n.sent('bob', '180 INVITE')).toHaveLength(1);
    expect(n.sent('bob', '200 INVITE')).toHaveLength(0);
    n.advanceBy(600); // T1 = 500 ms: the 180 again (a retransmission: not PRACKed twice), still no 200
    expect(n.sent('bob', '180 INVITE')).toHaveLength(2);
    expect(n.sent('bob', '200 INVITE')).toHaveLength(0);
    n.advanceBy(200); // the PRACK arrives at 700 ms: its 200, then the INVITE's 200
    expect(n.sent('alice', 'PRACK')).toHaveLength(1);
    const ok = n.net.sent('bob', '200 INVITE')[0]!;
    expect(ok.at - start).toBe(700);
    expect(n.core('alice').session(a)?.state).toBe('Established');
  });
});

describe('a forked INVITE (the seeds’ scenario, session flavour)', () => {
  function juliet(branchTimeout = 4000): SessionNet {
    const n = new SessionNet({
      branchTimeout,
      endpoints: {
        romeo: { user: 'romeo' },
        balcony: { user: 'juliet', q: 1 },
        chamber: { user: 'juliet', q: 1 },
        pda: { user: 'juliet', q: 0.4 },
        nurse: { user: 'juliet', q: 0.1 },
      },
    });
    n.onEvent = (name, e) => {
      if (e.type !== 'incoming-session') return;
      // Her father is talking to her: "Do Not Disturb" on the PDA sends Busy Here; the Nurse answers.
      if (name === 'pda') n.core('pda').reject(e.session.id, 486, n.now);
      if (name === 'nurse') n.core('nurse').accept(e.session.id, n.now);
    };
    return n;
  }

  it('balcony and chamber ring with early sessions; "art thou hither?" on both; CANCEL after the timeout; 486; the Nurse answers', () => {
    const n = juliet();
    const romeo = n.core('romeo');
    const id = romeo.invite('sip:juliet@example.com', { now: n.now });
    const first = romeo.send(id, 'art thou hither?', { imdn: true }, n.now);
    n.settle();
    // Two early dialogs, each with its own MSRP session, and the text shown on both devices.
    const early = romeo.session(id)!;
    expect(early.state).toBe('Early');
    expect(early.legs).toHaveLength(2);
    expect(new Set(early.legs.map((l) => l.dialog)).size).toBe(2);
    expect(early.legs.map((l) => l.remotePath.at(-1))).toEqual([
      expect.stringMatching(/^msrp:\/\/balcony\.invalid\//),
      expect.stringMatching(/^msrp:\/\/chamber\.invalid\//),
    ]);
    expect(n.texts('balcony')).toEqual(['art thou hither?']);
    expect(n.texts('chamber')).toEqual(['art thou hither?']);
    expect(n.sent('romeo', 'PRACK')).toHaveLength(2);
    expect(n.net.sent('registrar').filter((w) => w.to === 'pda' && w.summary === 'INVITE')).toHaveLength(0);
    // Time passes: the proxy CANCELs both, the PDA says Busy Here, the Nurse answers 200.
    n.advanceBy(4000);
    for (const device of ['balcony', 'chamber']) {
      const s = n.core(device).session(n.incoming(device))!;
      expect(s).toMatchObject({ state: 'Terminated', status: 487, reason: 'cancelled', msrp: 'closed' });
      expect(n.events(device, 'msrp-close')).toHaveLength(1);
    }
    expect(n.sent('pda', '486 INVITE')).toHaveLength(1);
    expect(
      n.net.sent('registrar').filter((w) => w.to === 'romeo' && w.summary === '486 INVITE'),
    ).toHaveLength(0);
    const answered = romeo.session(id)!;
    expect(answered.state).toBe('Established');
    expect(answered.legs).toHaveLength(1);
    expect(answered.legs[0]!.remotePath.at(-1)).toMatch(/^msrp:\/\/nurse\.invalid\//);
    expect(n.sessionStates('romeo', id)).toEqual(['Connecting', 'Calling', 'Early', 'Established']);
    // Whoever answers sees what was typed before; the chat goes on with the Nurse.
    expect(n.texts('nurse')).toEqual(['art thou hither?']);
    expect(n.states('romeo', first)).toEqual(['sending', 'sent', 'delivered']);
    const nurse = n.incoming('nurse');
    n.core('nurse').send(nurse, 'Hi Romeo, Juliet is with her father now, can i take a message?', {}, n.now);
    n.settle();
    romeo.send(id, 'Tell her to go to confession tomorrow....', {}, n.now);
    n.settle();
    expect(n.texts('romeo')).toEqual(['Hi Romeo, Juliet is with her father now, can i take a message?']);
    expect(n.texts('nurse')).toEqual(['art thou hither?', 'Tell her to go to confession tomorrow....']);
    expect(n.texts('balcony')).toEqual(['art thou hither?']);
  });

  it('duplicated 18x and 2xx on the way to Romeo change nothing: one session, each text once', () => {
    const n = juliet();
    n.net.link('romeo', 'down').duplicate(isResponse(180, 'INVITE')).duplicate(isResponse(200, 'INVITE'));
    const id = n.core('romeo').invite('sip:juliet@example.com', { now: n.now });
    n.core('romeo').send(id, 'art thou hither?', {}, n.now);
    n.settle();
    expect(n.core('romeo').session(id)?.legs).toHaveLength(2);
    n.advanceBy(4000);
    expect(n.core('romeo').session(id)?.state).toBe('Established');
    expect(
      n.events('romeo', 'session').filter((e) => e.session.state === 'Established' && e.session.id === id)
        .length,
    ).toBeGreaterThan(0);
    expect(n.texts('balcony')).toEqual(['art thou hither?']);
    expect(n.texts('chamber')).toEqual(['art thou hither?']);
    expect(n.texts('nurse')).toEqual(['art thou hither?']);
  });
});

describe('CANCEL, 486 and 603 (RFC 3261 §9, §21.4)', () => {
  it('nobody answers: the caller CANCELs after its ring timeout; both sides end, MSRP closed', () => {
    const n = pair({}, { chat: { ringTimeout: 10_000 } });
    const a = n.core('alice').invite(BOB, { now: n.now });
    n.settle();
    expect(n.core('alice').session(a)?.state).toBe('Early');
    n.advanceBy(9_999);
    expect(n.sent('alice', 'CANCEL')).toHaveLength(0);
    n.advanceBy(1);
    expect(n.sent('alice', 'CANCEL')).toHaveLength(1);
    n.settle();
    expect(n.core('alice').session(a)).toMatchObject({
      state: 'Terminated',
      status: 408,
      reason: 'no answer',
    });
    expect(n.core('bob').session(n.incoming('bob'))).toMatchObject({
      state: 'Terminated',
      status: 487,
      reason: 'cancelled',
    });
    expect(n.events('alice', 'msrp-close')).toHaveLength(1);
    expect(n.events('bob', 'msrp-close')).toHaveLength(1);
    expect(n.relay.connections('alice')).toEqual([]);
  });

  it('486 busy, then 603 decline (do not disturb), then the third INVITE is answered 200', () => {
    const n = pair();
    const answers = [486, 603, 200];
    n.onEvent = (name, e) => {
      if (name !== 'bob' || e.type !== 'incoming-session') return;
      const status = answers.shift();
      if (status === 200) n.core('bob').accept(e.session.id, n.now);
      else n.core('bob').reject(e.session.id, status, n.now);
    };
    const ids = [0, 1, 2].map(() => {
      const id = n.core('alice').invite(BOB, { now: n.now });
      n.settle();
      return id;
    });
    expect(ids.map((id) => n.core('alice').session(id)).map((s) => [s?.state, s?.status, s?.reason])).toEqual(
      [
        ['Terminated', 486, 'busy'],
        ['Terminated', 603, 'declined'],
        ['Established', undefined, undefined],
      ],
    );
    expect(() => n.core('alice').send(ids[0]!, 'x')).toThrow(InvalidStateError);
  });

  it('the caller ends a ringing session: CANCEL; the callee sees it cancelled', () => {
    const n = pair();
    const a = n.core('alice').invite(BOB, { now: n.now });
    n.settle();
    n.core('alice').end(a, n.now);
    n.settle();
    expect(n.sent('alice', 'CANCEL')).toHaveLength(1);
    expect(n.core('alice').session(a)).toMatchObject({
      state: 'Terminated',
      status: 487,
      reason: 'cancelled',
    });
    expect(n.core('bob').session(n.incoming('bob'))).toMatchObject({
      state: 'Terminated',
      reason: 'cancelled',
    });
  });
});

describe('BYE both ways closes the MSRP session', () => {
  for (const ender of ['alice', 'bob'] as const) {
    it(`${ender} ends: BYE, both sessions Terminated, both MSRP connections closed`, () => {
      const n = pair();
      const { a, b } = establish(n);
      const other = ender === 'alice' ? 'bob' : 'alice';
      const mine = ender === 'alice' ? a : b;
      const theirs = ender === 'alice' ? b : a;
      n.core(ender).end(mine, n.now);
      n.settle();
      expect(n.sent(ender, 'BYE')).toHaveLength(1);
      expect(n.sent(other, '200 BYE')).toHaveLength(1);
      expect(n.core(ender).session(mine)).toMatchObject({
        state: 'Terminated',
        reason: 'ended',
        msrp: 'closed',
      });
      expect(n.core(other).session(theirs)).toMatchObject({
        state: 'Terminated',
        reason: 'ended by the peer',
        msrp: 'closed',
      });
      expect(n.relay.connections('alice')).toEqual([]);
      expect(n.relay.connections('bob')).toEqual([]);
      expect(() => n.core(other).send(theirs, 'anyone?')).toThrow(InvalidStateError);
      n.core(ender).end(mine, n.now); // again: nothing
      n.settle();
      expect(n.sent(ender, 'BYE')).toHaveLength(1);
    });
  }
});

describe('CPIM, IMDN and is-composing inside the session (RFC 3862, RFC 5438, RFC 3994)', () => {
  it('typing shows and clears; a CPIM text asks for notifications; delivered, then displayed on markDisplayed', () => {
    const n = pair();
    const { a, b } = establish(n);
    n.core('alice').setComposing(a, true, n.now);
    n.settle();
    expect(n.events('bob', 'composing').map((e) => e.state)).toEqual(['active']);
    expect(n.core('bob').remoteComposing(b)).toBe('active');
    const id = n.core('alice').send(a, 'wherefore art thou?', { imdn: true }, n.now);
    n.settle();
    // The text ends the typing (RFC 3994 §3.3), and arrives once, wanting a display notification.
    expect(n.events('bob', 'composing').map((e) => e.state)).toEqual(['active', 'idle']);
    const shown = n.events('bob', 'message');
    expect(shown.map((e) => e.message)).toEqual([
      expect.objectContaining({ id, from: ALICE, text: 'wherefore art thou?', displayRequested: true }),
    ]);
    const send = n.relay
      .frames('alice', 'SEND')
      .find((f) => f.body !== undefined && new TextDecoder().decode(f.body).includes('wherefore'));
    expect(new TextDecoder().decode(send!.body)).toMatch(
      /imdn\.Disposition-Notification: positive-delivery, negative-delivery, display/,
    );
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered']);
    n.core('bob').markDisplayed(b, [id], n.now);
    n.core('bob').markDisplayed(b, [id], n.now); // once only
    n.settle();
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered', 'displayed']);
    expect(n.core('alice').message(id)).toMatchObject({ state: 'displayed', text: 'wherefore art thou?' });
    // Typing lapses to idle after 15 s without a keystroke.
    n.core('bob').setComposing(b, true, n.now);
    n.advanceBy(15_000);
    expect(n.events('alice', 'composing').map((e) => e.state)).toEqual(['active', 'idle']);
  });

  it('a long text in small chunks, chunks duplicated and reordered by the network: shown once, whole', () => {
    const n = pair({ chat: { msrp: { chunkSize: 64 } } }, { chat: { msrp: { chunkSize: 64 } } });
    const { a } = establish(n);
    let k = 0;
    n.relay.policy = (frame, from) =>
      from === 'alice' && frame.method === 'SEND' ? (++k % 3 === 0 ? 'duplicate' : 'hold') : 'deliver';
    const text = Array.from({ length: 40 }, (_, i) => `line ${String(i)} of a long speech`).join('\n');
    const id = n.core('alice').send(a, text, {}, n.now);
    n.settle();
    expect(n.texts('bob')).toEqual([]);
    const held = n.relay.held.length;
    expect(held).toBeGreaterThan(5);
    n.relay.release(n.relay.held.map((_, i) => held - 1 - i)); // newest first
    n.settle();
    expect(n.texts('bob')).toEqual([text]);
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered']);
  });
});

describe('misuse', () => {
  it('throws for bad arguments and wrong states; a peer mistake never throws', () => {
    const n = pair();
    const alice = n.core('alice');
    expect(() => alice.invite('not a uri')).toThrow(TypeError);
    expect(() => alice.accept('nope')).toThrow(InvalidStateError);
    const a = alice.invite(BOB, { now: n.now });
    expect(() => alice.accept(a)).toThrow(InvalidStateError);
    expect(() => alice.send(a, 'x', { id: 'no spaces allowed' })).toThrow(TypeError);
    expect(() => alice.update(a)).toThrow(InvalidStateError);
    n.settle();
    // A SEND from a stranger on alice's connection is answered, not thrown.
    const conn = n.relay.connections('alice')[0]!;
    const stray =
      'MSRP abcd1234 SEND\r\nTo-Path: msrp://alice.invalid/zzz;ws\r\nFrom-Path: msrp://evil.invalid/1;ws\r\nMessage-ID: m1234\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------abcd1234$\r\n';
    expect(() => alice.msrpReceive(conn, stray, n.now)).not.toThrow();
    expect(() => alice.msrpReceive(conn, 'garbage\r\n\r\n', n.now)).not.toThrow();
    const events: ChatSessionsEvent[] = alice.takeEvents();
    expect(events.some((e) => e.type === 'message')).toBe(false);
    void serializeSdp;
  });
});
