/**
 * Changing a session under way (RFC 3264 §8): a re-INVITE or an UPDATE (RFC 3311, also in an early dialog) for an
 * accept-types change, a new a=path after the MSRP connection broke, and glare (491, RFC 3261 §14).
 */
import { describe, expect, it } from 'vitest';
import {
  parseSdp,
  readMsrpMedia,
  type MsrpMedia,
  type SipRequest,
  type SipResponse,
} from '../../../web/src/sip/index.ts';
import { SessionNet } from '../../support/session-net.ts';

const BOB = 'sip:bob@example.com';

function net(): SessionNet {
  return new SessionNet({
    branchTimeout: 60_000,
    endpoints: { alice: { user: 'alice' }, bob: { user: 'bob' } },
  });
}

function media(message: SipRequest | SipResponse): MsrpMedia & { version: string } {
  const parsed = parseSdp(message.bodyText);
  if (!parsed.ok) throw new Error(parsed.reason);
  const m = readMsrpMedia(parsed.sdp, 0);
  if (m === undefined || m instanceof Error) throw new Error('no MSRP line');
  return { ...m, version: parsed.sdp.origin.sessionVersion };
}

function establish(n: SessionNet): { a: string; b: string } {
  n.onEvent = (name, e) => {
    if (name === 'bob' && e.type === 'incoming-session') n.core('bob').accept(e.session.id, n.now);
  };
  const a = n.core('alice').invite(BOB, { now: n.now });
  n.settle();
  return { a, b: n.incoming('bob') };
}

describe('re-INVITE and UPDATE (RFC 3264 §8, RFC 3311)', () => {
  it('a re-INVITE narrows our accept-types: the peer stops sending what we no longer take', () => {
    const n = net();
    const { a, b } = establish(n);
    n.core('alice').update(a, { acceptTypes: ['message/cpim', 'text/plain'] }, n.now);
    n.settle();
    const [first, reinvite] = n.sent('alice', 'INVITE') as SipRequest[];
    expect(reinvite?.toTag).toBeDefined();
    expect(reinvite?.callId).toBe(first?.callId);
    const offer = media(reinvite!);
    expect(offer.acceptTypes).toEqual(['message/cpim', 'text/plain']);
    expect(Number(offer.version)).toBe(Number(media(first!).version) + 1);
    const ok = n.sent('bob', '200 INVITE').at(-1) as SipResponse;
    expect(media(ok).acceptTypes).toEqual(['message/cpim', 'text/plain']);
    // Bob's is-composing no longer goes to alice (RFC 3994 needs the type accepted); texts still do.
    n.core('bob').setComposing(b, true, n.now);
    n.core('bob').send(b, 'still here', {}, n.now);
    n.settle();
    expect(n.events('alice', 'composing')).toHaveLength(0);
    expect(n.texts('alice')).toEqual(['still here']);
    expect(n.core('alice').session(a)?.state).toBe('Established');
  });

  it('UPDATE in the early dialog changes the early session before the answer', () => {
    const n = net();
    const a = n.core('alice').invite(BOB, { now: n.now });
    n.settle();
    expect(n.core('alice').session(a)?.state).toBe('Early');
    n.core('alice').update(a, { acceptTypes: ['text/plain'] }, n.now);
    n.settle();
    const update = n.sent('alice', 'UPDATE')[0] as SipRequest;
    expect(media(update).acceptTypes).toEqual(['text/plain']);
    expect(media(n.sent('bob', '200 UPDATE')[0] as SipResponse).acceptTypes).toEqual(['text/plain']);
    const b = n.incoming('bob');
    n.core('bob').send(b, 'early words', { imdn: true }, n.now);
    n.settle();
    expect(n.texts('alice')).toEqual(['early words']);
    // The peer takes text/plain only now: no CPIM, so no notifications asked for.
    expect(
      n.relay
        .frames('bob', 'SEND')
        .some((f) => f.headers.some(([k, v]) => k === 'Content-Type' && v === 'message/cpim')),
    ).toBe(false);
    n.core('bob').accept(b, n.now);
    n.settle();
    expect(n.core('alice').session(a)?.state).toBe('Established');
  });

  it('UPDATE once established when asked for it', () => {
    const n = net();
    const { a } = establish(n);
    n.core('alice').update(a, { method: 'UPDATE' }, n.now);
    n.settle();
    expect(n.sent('alice', 'UPDATE')).toHaveLength(1);
    expect(n.sent('bob', '200 UPDATE')).toHaveLength(1);
    n.core('alice').send(a, 'after the update', {}, n.now);
    n.settle();
    expect(n.texts('bob')).toEqual(['after the update']);
  });
});

describe('a broken MSRP connection', () => {
  it('alice reconnects (new AUTH, new URI), re-INVITEs with the new a=path; the text cut off goes again, once', () => {
    const n = net();
    const { a, b } = establish(n);
    const before = n.core('alice').session(a)!.localPath;
    const id = n.core('alice').send(a, 'are you there?', { imdn: true }, n.now);
    // The connection dies before the text left.
    n.relay.cut('alice', n.relay.connections('alice')[0]!);
    n.settle();
    expect(n.events('alice', 'msrp-connect')).toHaveLength(2);
    const reinvite = n.sent('alice', 'INVITE').at(-1) as SipRequest;
    expect(reinvite.toTag).toBeDefined();
    const path = media(reinvite).path;
    expect(path).not.toEqual(before);
    expect(path[0]).toMatch(/^msrp:\/\/relay\.example\.com:2855\/r\d+;tcp$/);
    expect(n.core('alice').session(a)).toMatchObject({ state: 'Established', msrp: 'up', localPath: path });
    expect(n.core('bob').session(b)?.legs[0]?.remotePath).toEqual(path);
    expect(n.texts('bob')).toEqual(['are you there?']);
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered']);
    n.core('bob').send(b, 'yes', {}, n.now);
    n.settle();
    expect(n.texts('alice')).toEqual(['yes']);
  });

  it('bob’s connection breaks instead: bob re-INVITEs; texts sent meanwhile wait for the new leg', () => {
    const n = net();
    const { a, b } = establish(n);
    n.relay.cut('bob', n.relay.connections('bob')[0]!);
    n.core('bob').send(b, 'sent while reconnecting', {}, n.now);
    n.settle();
    expect(n.sent('bob', 'INVITE')).toHaveLength(1); // bob's re-INVITE in alice's dialog
    expect(n.texts('alice')).toEqual(['sent while reconnecting']);
    n.core('alice').send(a, 'welcome back', {}, n.now);
    n.settle();
    expect(n.texts('bob')).toEqual(['welcome back']);
  });
});

describe('glare (RFC 3261 §14.1)', () => {
  it('both re-INVITE at once: 491 each, then each tries again after its own random wait and succeeds', () => {
    const n = net();
    const { a, b } = establish(n);
    n.core('alice').update(a, {}, n.now);
    n.core('bob').update(b, {}, n.now);
    n.settle();
    expect(n.sent('alice', '491 INVITE')).toHaveLength(1);
    expect(n.sent('bob', '491 INVITE')).toHaveLength(1);
    n.advanceBy(4_000);
    // Each side's second attempt went through (the callee waited 0–2 s, the caller 2.1–4 s).
    expect(n.sent('alice', '200 INVITE')).toHaveLength(1);
    expect(n.sent('bob', '200 INVITE').length).toBeGreaterThanOrEqual(2);
    const retries = n.net
      .sent('alice')
      .filter((w) => w.summary === 'INVITE')
      .map((w) => w.at);
    expect(retries.at(-1)! - retries.at(-2)!).toBeGreaterThanOrEqual(2100);
    n.core('alice').send(a, 'no harm done', {}, n.now);
    n.settle();
    expect(n.texts('bob')).toEqual(['no harm done']);
  });
});
