/**
 * The typing indicator (RFC 3994) between pagers: the OPTIONS probe that shows the peer takes it, active with
 * refresh, idle after 15 s or when typing stops, the remote state's expiry, the message that clears it, and
 * silence towards peers that do not take it.
 */
import { describe, expect, it } from 'vitest';
import { parseIsComposing, type SipRequest } from '../../../web/src/sip/index.ts';
import { isRequest } from '../../support/linked-pair.ts';
import { PagerNet } from '../../support/pager-net.ts';

const ALICE = 'sip:alice@example.com';
const BOB = 'sip:bob@example.com';

function statuses(n: PagerNet, from: string): string[] {
  return n.messagesOfType(from, 'application/im-iscomposing+xml').map((m) => parseIsComposing(m.body).state);
}

describe('is-composing (RFC 3994)', () => {
  it('first keystroke: one OPTIONS shows bob takes it, then "active"; 15 s after the last keystroke "idle"', () => {
    const n = new PagerNet({ pagers: ['alice', 'bob'] });
    const t0 = n.now;
    n.pager('alice').setComposing(BOB, true, t0);
    n.settle();
    expect(n.sent('alice', 'OPTIONS')).toHaveLength(1);
    expect(n.pager('alice').peer(BOB).composing).toBe('yes');
    expect(statuses(n, 'alice')).toEqual(['active']);
    expect(n.pager('bob').remoteComposing(ALICE)).toBe('active');
    expect(n.events('bob', 'composing').map((e) => [e.peer, e.state, e.at - t0])).toEqual([
      [ALICE, 'active', 0],
    ]);
    // more keystrokes within the refresh interval send nothing
    n.advanceBy(3_000);
    n.pager('alice').setComposing(BOB, true, n.now);
    n.advanceBy(3_000);
    n.pager('alice').setComposing(BOB, true, n.now);
    n.settle();
    expect(statuses(n, 'alice')).toEqual(['active']);
    n.advanceBy(20_000);
    expect(statuses(n, 'alice')).toEqual(['active', 'idle']);
    expect(n.events('bob', 'composing').map((e) => [e.state, e.at - t0])).toEqual([
      ['active', 0],
      ['idle', 6_000 + 15_000],
    ]);
    // no second probe for a peer already known
    n.pager('alice').setComposing(BOB, true, n.now);
    n.settle();
    expect(n.sent('alice', 'OPTIONS')).toHaveLength(1);
  });

  it('typing on and on refreshes "active" before the announced 60 s lapse', () => {
    const n = new PagerNet({ pagers: ['alice', 'bob'] });
    const t0 = n.now;
    for (let t = 0; t <= 120_000; t += 5_000) {
      n.net.advanceTo(t0 + t);
      n.pager('alice').setComposing(BOB, true, n.now);
    }
    n.settle();
    const at = n
      .messagesOfType('alice', 'application/im-iscomposing+xml')
      .map((m) => n.net.wire.find((w) => w.message === m)!.at - t0);
    // a tenth of the 60 s early, from the timer, whether or not a keystroke falls there
    expect(at).toEqual([0, 54_000, 108_000]);
    expect(
      parseIsComposing((n.messagesOfType('alice', 'application/im-iscomposing+xml')[0] as SipRequest).body),
    ).toEqual({
      state: 'active',
      contentType: 'text/plain',
      refresh: 60,
    });
    expect(n.events('bob', 'composing').map((e) => e.state)).toEqual(['active']);
  });

  it('stopping without sending says "idle" at once; sending the message says nothing and clears bob’s indicator', () => {
    const n = new PagerNet({ pagers: ['alice', 'bob'] });
    const alice = n.pager('alice');
    alice.setComposing(BOB, true);
    n.settle();
    alice.setComposing(BOB, false);
    n.settle();
    expect(statuses(n, 'alice')).toEqual(['active', 'idle']);
    alice.setComposing(BOB, true);
    n.settle();
    alice.send(BOB, 'done typing');
    n.advanceBy(30_000);
    expect(statuses(n, 'alice')).toEqual(['active', 'idle', 'active']);
    // bob: active, idle, active, then idle as the message arrives (composing event before the message)
    const bobSaw = n.net.events
      .filter((e) => e.name === 'bob')
      .map((e) => e.event as unknown as { type: string; state?: string })
      .filter((e) => e.type === 'composing' || e.type === 'message')
      .map((e) => (e.type === 'message' ? 'message' : (e.state ?? '')));
    expect(bobSaw).toEqual(['active', 'idle', 'active', 'idle', 'message']);
  });

  it('a lost "idle" does not leave bob watching dots forever: the active state lapses after its refresh', () => {
    const n = new PagerNet({ pagers: ['alice', 'bob'] });
    const t0 = n.now;
    n.pager('alice').setComposing(BOB, true, t0);
    n.settle();
    n.net.link('bob', 'down').drop(isRequest('MESSAGE'));
    n.net.link('alice', 'up').clearRules();
    n.advanceBy(200_000);
    expect(n.events('bob', 'composing').map((e) => [e.state, e.at - t0])).toEqual([
      ['active', 0],
      ['idle', 60_000],
    ]);
  });

  it('nothing goes to a peer that does not take it (its OPTIONS Accept lacks it), however long the typing', () => {
    const n = new PagerNet({
      pagers: ['alice', 'bob'],
      uaOptions: { bob: { capabilities: { accept: ['text/plain'] } } },
    });
    for (let i = 0; i < 5; i++) {
      n.pager('alice').setComposing(BOB, true, n.now);
      n.advanceBy(20_000);
    }
    expect(n.sent('alice', 'OPTIONS')).toHaveLength(1);
    expect(statuses(n, 'alice')).toEqual([]);
    expect(n.pager('alice').peer(BOB)).toMatchObject({ composing: 'no', cpim: 'no', imdn: 'no' });
    expect(n.events('alice', 'capability').map((e) => e.reason)).toContain(
      'OPTIONS lacks application/im-iscomposing+xml',
    );
  });

  it('a peer that refuses is-composing with 415 is not sent any more', () => {
    const n = new PagerNet({ pagers: ['alice'], raw: ['bob'] });
    n.onUaEvent = (name, e) => {
      if (name === 'bob' && e.type === 'incoming-request')
        e.incoming.reject(415, undefined, { Accept: 'text/plain' });
    };
    n.pager('alice').setComposing(BOB, true);
    n.settle();
    n.advanceBy(20_000);
    n.pager('alice').setComposing(BOB, true);
    n.advanceBy(20_000);
    expect(statuses(n, 'alice')).toEqual(['active']);
    expect(n.pager('alice').peer(BOB).composing).toBe('no');
  });

  it('a peer that sent us is-composing is known to take it: no probe', () => {
    const n = new PagerNet({ pagers: ['alice', 'bob'] });
    n.pager('bob').setComposing(ALICE, true);
    n.settle();
    expect(n.pager('alice').peer(BOB).composing).toBe('yes');
    n.pager('alice').setComposing(BOB, true);
    n.settle();
    expect(n.sent('alice', 'OPTIONS')).toHaveLength(0);
    expect(statuses(n, 'alice')).toEqual(['active']);
  });

  it('a queued status is replaced by a newer one, and dropped when a message is queued behind it', () => {
    const n = new PagerNet({ pagers: ['alice', 'bob'] });
    n.pager('bob').setComposing(ALICE, true);
    n.settle();
    n.net.link('alice', 'up').hold(isRequest('MESSAGE'), 1);
    const alice = n.pager('alice');
    alice.send(BOB, 'first'); // held: in flight
    alice.setComposing(BOB, true);
    alice.setComposing(BOB, false);
    alice.setComposing(BOB, true);
    alice.send(BOB, 'second');
    n.settle();
    n.net.link('alice', 'up').release(n.now);
    n.advanceBy(1_000);
    expect(statuses(n, 'alice')).toEqual([]);
    expect(n.texts('bob')).toEqual(['first', 'second']);
  });
});
