/**
 * The one conversation API (conversations.ts): short texts go pager mode, a body over 1300 bytes, a busy
 * conversation or a file upgrade to a session without the user choosing, an idle session ends, a refused session
 * hands its short texts back to pager mode; message states have one shape for both modes.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationsOptions } from '../../../web/src/sip/index.ts';
import { SessionNet } from '../../support/session-net.ts';

const BOB = 'sip:bob@example.com';
const ALICE = 'sip:alice@example.com';

function net(
  alice: Partial<Omit<ConversationsOptions, 'sessions'>> = {},
  bob: Partial<Omit<ConversationsOptions, 'sessions'>> = {},
): SessionNet {
  return new SessionNet({
    branchTimeout: 60_000,
    endpoints: {
      alice: { user: 'alice', conversations: alice },
      bob: { user: 'bob', conversations: bob },
    },
  });
}

const modes = (n: SessionNet, name: string): string[] =>
  n.events(name, 'mode').map((e) => `${e.mode}: ${e.reason}`);
const shown = (n: SessionNet, name: string): string[] =>
  n.events(name, 'message').map((e) => `${'mode' in e ? e.mode : '?'}: ${e.message.text}`);

describe('automatic mode choice', () => {
  it('short texts go pager mode, with the pager’s states', () => {
    const n = net();
    const { id, mode } = n.conv('alice').send(BOB, 'hi bob', {}, n.now);
    n.settle();
    expect(mode).toBe('pager');
    expect(shown(n, 'bob')).toEqual(['pager: hi bob']);
    expect(n.states('alice', id)).toEqual(['pager:sending', 'pager:sent', 'pager:delivered']);
    expect(n.sent('alice', 'MESSAGE')).toHaveLength(1);
    expect(n.sent('alice', 'INVITE')).toHaveLength(0);
    expect(n.conv('alice').conversation(BOB)).toMatchObject({ mode: 'pager', sessionId: undefined });
  });

  it('a body over 1300 bytes starts a session by itself; the next short texts follow it there', () => {
    const n = net();
    const long = 'Parting is such sweet sorrow. '.repeat(50);
    const first = n.conv('alice').send(BOB, long, {}, n.now);
    n.settle();
    expect(first.mode).toBe('session');
    expect(n.sent('alice', 'MESSAGE')).toHaveLength(0);
    expect(n.sent('alice', 'INVITE')).toHaveLength(1);
    expect(shown(n, 'bob')).toEqual([`session: ${long}`]);
    expect(n.states('alice', first.id)).toEqual(['session:sending', 'session:sent', 'session:delivered']);
    expect(modes(n, 'alice')).toEqual([
      'session: upgrading: a message too big for pager mode',
      'session: session established',
    ]);
    // Bob accepted it without anyone asking him, and answers in it too.
    expect(modes(n, 'bob')).toEqual(['session: session established']);
    const reply = n.conv('bob').send(ALICE, 'good night', {}, n.now);
    const next = n.conv('alice').send(BOB, 'till it be morrow', {}, n.now);
    n.settle();
    expect([reply.mode, next.mode]).toEqual(['session', 'session']);
    expect(shown(n, 'alice')).toEqual(['session: good night']);
    expect(n.sent('bob', 'MESSAGE')).toHaveLength(0);
  });

  it('a busy conversation upgrades: the side whose AOR sorts first INVITEs, the other accepts', () => {
    const n = net({ policy: { busyMessages: 4 } }, { policy: { busyMessages: 4 } });
    const lines: [string, string][] = [
      ['alice', 'o Romeo'],
      ['bob', 'I take thee at thy word'],
      ['alice', 'what man art thou'],
      ['bob', 'by a name I know not'],
    ];
    for (const [who, text] of lines) {
      n.conv(who).send(who === 'alice' ? BOB : ALICE, text, {}, n.now);
      n.settle();
      n.advanceBy(1000);
    }
    expect(n.sent('alice', 'MESSAGE').length + n.sent('bob', 'MESSAGE').length).toBe(4);
    expect(n.sent('alice', 'INVITE')).toHaveLength(1);
    expect(n.sent('bob', 'INVITE')).toHaveLength(0);
    expect(modes(n, 'alice')[0]).toBe('session: upgrading: 4 messages within 60 s');
    const after = n.conv('bob').send(ALICE, 'how camest thou hither?', {}, n.now);
    n.settle();
    expect(after.mode).toBe('session');
    expect(shown(n, 'alice').at(-1)).toBe('session: how camest thou hither?');
  });

  it('a session idle for the idle timeout is ended; the conversation is back in pager mode', () => {
    const n = net({ policy: { idleTimeout: 60_000 } });
    n.conv('alice').send(BOB, 'x'.repeat(2000), {}, n.now);
    n.settle();
    expect(n.conv('alice').conversation(BOB)?.mode).toBe('session');
    n.advanceBy(59_999);
    expect(n.sent('alice', 'BYE')).toHaveLength(0);
    n.advanceBy(1);
    expect(n.sent('alice', 'BYE')).toHaveLength(1);
    expect(modes(n, 'alice').at(-1)).toBe('pager: idle for 60 s');
    expect(modes(n, 'bob').at(-1)).toBe('pager: ended by the peer');
    expect(n.conv('alice').send(BOB, 'back to pager', {}, n.now).mode).toBe('pager');
  });

  it('a refused session (486): the long text fails with the reason, a short one waiting in it goes pager mode', () => {
    const n = net({}, { autoAccept: false });
    n.onEvent = (name, e) => {
      if (name === 'bob' && e.type === 'incoming-session') n.core('bob').reject(e.session.id, 486, n.now);
    };
    const long = n.conv('alice').send(BOB, 'y'.repeat(3000), {}, n.now);
    const short = n.conv('alice').send(BOB, 'are you busy?', {}, n.now);
    expect(short.mode).toBe('session'); // a session is under way: it waits there
    n.settle();
    expect(n.conv('alice').message(long.id)).toMatchObject({
      state: 'failed',
      mode: 'session',
      reason: 'session busy',
    });
    expect(n.conv('alice').message(short.id)).toMatchObject({ state: 'delivered', mode: 'pager' });
    expect(shown(n, 'bob')).toEqual(['pager: are you busy?']);
  });

  it('a file always goes in a session of its own; the app answers file offers', () => {
    const n = net();
    n.onEvent = (name, e) => {
      if (name === 'bob' && e.type === 'incoming-session' && e.session.kind === 'file')
        n.core('bob').accept(e.session.id, n.now);
    };
    const data = new TextEncoder().encode('a rose by any other name');
    const id = n.conv('alice').sendFile(
      BOB,
      {
        name: 'rose.txt',
        type: 'text/plain',
        source: { size: data.length, read: (o, l) => data.subarray(o, o + l) },
      },
      n.now,
    );
    n.settle();
    expect(n.core('alice').session(id)?.file).toMatchObject({ state: 'complete', bytes: data.length });
    const got = n
      .events('bob', 'file-data')
      .map((e) => new TextDecoder().decode(e.bytes))
      .join('');
    expect(got).toBe('a rose by any other name');
    expect(n.conv('alice').conversation(BOB)).toBeDefined();
    expect(n.sent('alice', 'MESSAGE')).toHaveLength(0);
  });

  it('display notifications go back the way the text came, in either mode', () => {
    const n = net();
    const byPager = n.conv('alice').send(BOB, 'short', { imdn: true }, n.now);
    n.settle();
    const bySession = n.conv('alice').send(BOB, 'z'.repeat(1500), { imdn: true }, n.now);
    n.settle();
    n.conv('bob').markDisplayed([byPager.id, bySession.id], n.now);
    n.settle();
    expect(n.conv('alice').message(byPager.id)).toMatchObject({ mode: 'pager', state: 'displayed' });
    expect(n.conv('alice').message(bySession.id)).toMatchObject({ mode: 'session', state: 'displayed' });
  });
});
