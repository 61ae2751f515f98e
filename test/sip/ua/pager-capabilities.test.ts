/**
 * Per-peer capability learning (SPEC §7): after a 415 or 488 for CPIM, IMDN or is-composing the pager stops
 * sending that kind to that peer, falls back to text/plain, resends the refused message so it still arrives,
 * tells the app why, and remembers it across restarts through the injected store.
 */
import { describe, expect, it } from 'vitest';
import {
  Pager,
  PeerCapabilityTable,
  type PeerCapabilities,
  type PeerCapabilityStore,
  type SipRequest,
} from '../../../web/src/sip/index.ts';
import { PagerNet } from '../../support/pager-net.ts';
import { makeUa } from '../../support/ua-builders.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const BOB = 'sip:bob@example.com';

/** bob as a plain client (baresip-like): its UA core takes text/plain only, so it answers 415 with Accept. */
const plainBob = { uaOptions: { bob: { capabilities: { accept: ['text/plain'] } } } };

function memoryStore(initial: PeerCapabilities[] = []): PeerCapabilityStore & { saved: PeerCapabilities[] } {
  const saved: PeerCapabilities[] = [];
  return { saved, load: () => initial, save: (e) => saved.push(e) };
}

function sendOk(pager: Pager, to: string, text: string, imdn = true): string {
  const r = pager.send(to, text, { imdn });
  if (!r.ok) throw new Error('refused');
  return r.id;
}

describe('learning from 415 / 488', () => {
  it('415 to CPIM: learn it, tell the app, resend as text/plain; the message arrives; later ones go plain', () => {
    const store = memoryStore();
    const n = new PagerNet({
      pagers: ['alice', 'bob'],
      ...plainBob,
      pagerOptions: { alice: { capabilityStore: store } },
    });
    const alice = n.pager('alice');
    const id = sendOk(alice, BOB, 'hello plain world');
    n.settle();
    const types = n.sent('alice', 'MESSAGE').map((m) => m.headers.get('content-type'));
    expect(types).toEqual(['message/cpim', 'text/plain;charset=UTF-8']);
    expect(n.texts('bob')).toEqual(['hello plain world']);
    // never backwards: the refusal is internal, the user sees sent → delivered
    expect(n.states('alice', id)).toEqual(['sending', 'sent', 'delivered']);
    expect(alice.message(id)?.format).toBe('text/plain');
    const learned = n.events('alice', 'capability');
    expect(learned.map((e) => [e.kind, e.support])).toEqual([
      ['composing', 'no'],
      ['cpim', 'no'],
    ]);
    expect(learned[1]!.reason).toBe('415 to a CPIM message');
    expect(alice.peer(BOB)).toMatchObject({ cpim: 'no', composing: 'no', reason: '415 to a CPIM message' });
    expect(store.saved.at(-1)).toMatchObject({ peer: BOB, cpim: 'no' });
    // the next one goes plain at once
    sendOk(alice, BOB, 'second');
    n.settle();
    expect(
      n
        .sent('alice', 'MESSAGE')
        .map((m) => m.headers.get('content-type'))
        .slice(2),
    ).toEqual(['text/plain;charset=UTF-8']);
  });

  it('488 (no Accept) to CPIM from a client that answers itself: same fallback', () => {
    const n = new PagerNet({ pagers: ['alice'], raw: ['bob'] });
    n.onUaEvent = (name, e) => {
      if (name !== 'bob' || e.type !== 'incoming-request') return;
      const cpim = e.incoming.request.headers.get('content-type')?.startsWith('message/cpim');
      if (cpim) e.incoming.reject(488, 'Not Acceptable Here');
      else e.incoming.accept();
    };
    const id = sendOk(n.pager('alice'), BOB, 'try cpim');
    n.settle();
    expect(
      n
        .sent('bob')
        .filter((m) => m.kind === 'response')
        .map((m) => (m.kind === 'response' ? m.status : 0)),
    ).toEqual([488, 200]);
    expect(n.pager('alice').message(id)?.state).toBe('delivered');
    expect(n.pager('alice').peer(BOB).cpim).toBe('no');
  });

  it('a 415 whose Accept still lists CPIM refused the IMDN inside: imdn "no", CPIM kept', () => {
    const n = new PagerNet({ pagers: ['alice'], raw: ['bob'] });
    n.onUaEvent = (name, e) => {
      if (name !== 'bob' || e.type !== 'incoming-request') return;
      if (e.incoming.request.bodyText.includes('Disposition-Notification'))
        e.incoming.reject(415, undefined, { Accept: 'text/plain, message/cpim' });
      else e.incoming.accept();
    };
    sendOk(n.pager('alice'), BOB, 'x');
    n.settle();
    expect(n.pager('alice').peer(BOB)).toMatchObject({ imdn: 'no', cpim: 'unknown', composing: 'no' });
    expect(n.sent('alice', 'MESSAGE')).toHaveLength(2);
  });

  it('a 413 to CPIM is retried once in the shorter plain form; still too large: failed, "use a session"', () => {
    const n = new PagerNet({ pagers: ['alice', 'bob'], pagerOptions: { bob: { maxReceiveBytes: 100 } } });
    const alice = n.pager('alice');
    const fits = sendOk(alice, BOB, 'y'.repeat(90));
    const big = sendOk(alice, BOB, 'z'.repeat(400));
    n.settle();
    expect(alice.message(fits)).toMatchObject({ state: 'delivered', format: 'text/plain' });
    expect(alice.message(big)).toMatchObject({ state: 'failed', status: 413 });
    expect(alice.message(big)?.reason).toMatch(
      /^413 Message Too Large \(at most 100 bytes\): .*use a session$/,
    );
    expect(n.sent('alice', 'MESSAGE').map((m) => m.headers.get('content-type'))).toEqual([
      'message/cpim',
      'text/plain;charset=UTF-8',
      'message/cpim',
      'text/plain;charset=UTF-8',
    ]);
  });

  it('a plain message refused with 415 cannot fall back: failed, with the reason', () => {
    const n = new PagerNet({ pagers: ['alice'], raw: ['bob'] });
    n.onUaEvent = (name, e) => {
      if (name === 'bob' && e.type === 'incoming-request')
        e.incoming.reject(415, undefined, { Accept: 'application/x-other' });
    };
    const id = sendOk(n.pager('alice'), BOB, 'nothing fits', false);
    n.settle();
    expect(n.pager('alice').message(id)).toMatchObject({ state: 'failed', status: 415 });
    expect(n.pager('alice').message(id)?.reason).toContain('takes none of our formats');
  });

  it('an IMDN refused by the IM sender stops further IMDNs to it', () => {
    const n = new PagerNet({ pagers: ['bob'], raw: ['alice'] });
    const alice = n.ua('alice');
    n.onUaEvent = (name, e) => {
      if (name === 'alice' && e.type === 'incoming-request')
        e.incoming.reject(415, undefined, { Accept: 'text/plain' });
    };
    const im = (id: string): string =>
      [
        'From: <sip:alice@example.com>',
        'To: <sip:bob@example.com>',
        'NS: imdn <urn:ietf:params:imdn>',
        `imdn.Message-ID: ${id}`,
        'imdn.Disposition-Notification: positive-delivery',
        '',
        'Content-Type: text/plain',
        '',
        'hi',
      ].join('\r\n');
    alice.request('MESSAGE', BOB, { body: im('m1'), contentType: 'message/cpim', now: n.now });
    n.settle();
    alice.request('MESSAGE', BOB, { body: im('m2'), contentType: 'message/cpim', now: n.now });
    n.settle();
    expect(n.texts('bob')).toEqual(['hi', 'hi']);
    expect(n.messagesOfType('bob', 'message/cpim')).toHaveLength(1);
    expect(n.pager('bob').peer('sip:alice@example.com').cpim).toBe('no');
  });
});

describe('remembered across restarts', () => {
  it('a new pager given the stored entries sends text/plain to that peer from the first message', () => {
    const store = memoryStore();
    {
      const n = new PagerNet({
        pagers: ['alice', 'bob'],
        ...plainBob,
        pagerOptions: { alice: { capabilityStore: store } },
      });
      sendOk(n.pager('alice'), BOB, 'learn');
      n.settle();
    }
    const remembered = [...new Map(store.saved.map((e) => [e.peer, e])).values()];
    const n = new PagerNet({
      pagers: ['alice', 'bob'],
      ...plainBob,
      pagerOptions: { alice: { capabilityStore: memoryStore(remembered) } },
    });
    expect(n.pager('alice').peer(BOB).cpim).toBe('no');
    const id = sendOk(n.pager('alice'), BOB, 'after restart');
    n.settle();
    expect((n.sent('alice', 'MESSAGE') as SipRequest[]).map((m) => m.headers.get('content-type'))).toEqual([
      'text/plain;charset=UTF-8',
    ]);
    expect(n.pager('alice').message(id)?.state).toBe('delivered');
  });

  it('the table: implicit evidence only upgrades unknown, explicit evidence wins, every change is saved', () => {
    const store = memoryStore([{ peer: 'sip:x@y', cpim: 'no', imdn: 'unknown', composing: 'unknown' }]);
    const table = new PeerCapabilityTable(store);
    expect(table.learn('sip:x@y', 'cpim', 'yes', 'it sent CPIM', 1, false)).toBeUndefined();
    expect(table.learn('sip:x@y', 'composing', 'yes', 'it sent is-composing', 2, false)).toMatchObject({
      composing: 'yes',
      cpim: 'no',
      at: 2,
    });
    expect(table.learn('sip:x@y', 'cpim', 'yes', 'OPTIONS Accept lists it', 3, true)?.cpim).toBe('yes');
    expect(store.saved.map((e) => e.reason)).toEqual(['it sent is-composing', 'OPTIONS Accept lists it']);
    expect(table.get('sip:other@y')).toEqual({
      peer: 'sip:other@y',
      cpim: 'unknown',
      imdn: 'unknown',
      composing: 'unknown',
    });
  });

  it('the pager takes its store at construction', () => {
    const pager = new Pager({
      ua: makeUa('alice'),
      random: seededRandom(1),
      capabilityStore: memoryStore([
        { peer: BOB, cpim: 'unknown', imdn: 'no', composing: 'yes', reason: 'x' },
      ]),
    });
    expect(pager.peer(BOB)).toMatchObject({ imdn: 'no', composing: 'yes' });
    expect(pager.peers).toHaveLength(1);
  });
});
