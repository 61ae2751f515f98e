// Session-mode chat through `npm start`'s embedded gateway (its SIP core and its MSRP relay), with real sockets on
// loopback: two of our UAs chat in session mode both ways with success reports and IMDN; the seeds' scenario in its
// session flavour (early MSRP sessions on two forked devices, CANCEL after the branch timeout, 486, the Nurse's 200);
// and 50 MB files browser → browser (the WebSocket cut at 60 % and the transfer resumed) and browser → TCP MSRP peer,
// each with a matching hash.

import { createHash } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import type { ConversationsEvent, MsrpBodySource } from '../../web/src/sip/index.ts';
import { startEmbeddedGateway, type EmbeddedGateway } from '../support/embedded-gateway.ts';
import { startSessionUa, type SessionUa } from '../support/session-ua.ts';

const USERS = { alice: 'wherefore', bob: 'artthou', romeo: 'montague', juliet: 'capulet' };
const BRANCH_TIMEOUT = 1500;

let gw: EmbeddedGateway | undefined;
const uas: SessionUa[] = [];

afterEach(async () => {
  for (const ua of uas.splice(0)) await ua.stop();
  await gw?.close();
  gw = undefined;
});

async function gateway(): Promise<EmbeddedGateway> {
  gw = await startEmbeddedGateway({ users: USERS, branchTimeoutMs: BRANCH_TIMEOUT });
  return gw;
}

async function ua(
  g: EmbeddedGateway,
  user: keyof typeof USERS,
  options: Partial<Parameters<typeof startSessionUa>[0]> = {},
): Promise<SessionUa> {
  const u = await startSessionUa({
    wsUrl: g.wsUrl,
    aor: `sip:${user}@${g.domain}`,
    password: USERS[user],
    ...options,
  });
  uas.push(u);
  await u.registered();
  return u;
}

const is =
  <T extends ConversationsEvent['type']>(
    type: T,
    match: (e: Extract<ConversationsEvent, { type: T }>) => boolean = () => true,
  ) =>
  (e: ConversationsEvent): e is Extract<ConversationsEvent, { type: T }> =>
    e.type === type && match(e as Extract<ConversationsEvent, { type: T }>);

describe('session mode through the embedded gateway and its MSRP relay', () => {
  it('two of our UAs chat in a session both ways, with success reports and IMDN', async () => {
    const g = await gateway();
    const alice = await ua(g, 'alice');
    const bob = await ua(g, 'bob');
    const BOB = `sip:bob@${g.domain}`;
    const ALICE = `sip:alice@${g.domain}`;
    // Over 1300 bytes: a session, without anyone choosing it.
    const speech = 'But soft, what light through yonder window breaks? '.repeat(40);
    const first = alice.run((c, now) => c.send(BOB, speech, { imdn: true }, now));
    expect(first.mode).toBe('session');
    const got = await bob.waitForEvent(
      is('message', (e) => e.message.text === speech),
      'the speech',
    );
    expect('mode' in got && got.mode).toBe('session');
    expect(got.message.displayRequested).toBe(true);
    // The success report (RFC 4975 §7.1.2) and the IMDN both say delivered; display once bob shows it.
    await alice.waitFor(
      () => (alice.conv.message(first.id)?.state === 'delivered' ? true : undefined),
      'delivered',
    );
    bob.run((c, now) => {
      c.markDisplayed([first.id], now);
    });
    await alice.waitFor(
      () => (alice.conv.message(first.id)?.state === 'displayed' ? true : undefined),
      'displayed',
    );
    // Short texts follow the session, both ways.
    const reply = bob.run((c, now) =>
      c.send(ALICE, 'It is the east, and Juliet is the sun', { imdn: true }, now),
    );
    expect(reply.mode).toBe('session');
    await alice.waitForEvent(
      is('message', (e) => e.message.text.startsWith('It is the east')),
      'the reply',
    );
    await bob.waitFor(
      () => (bob.conv.message(reply.id)?.state === 'delivered' ? true : undefined),
      'reply delivered',
    );
    expect(alice.conv.conversation(BOB)).toMatchObject({ mode: 'session', sessionState: 'Established' });
    // Through the relay: each side's a=path starts with the relay's Use-Path.
    const session = alice.sessions.session(alice.conv.conversation(BOB)!.sessionId!)!;
    expect(session.localPath[0]).toMatch(/^msrp:\/\/127\.0\.0\.1:\d+\/\w+;(ws|tcp)$/);
    expect(session.localPath.at(-1)).toMatch(/^msrp:\/\/\w+\.invalid\/\w+;ws$/);
    expect(session.legs[0]?.remotePath[0]).toMatch(/^msrp:\/\/127\.0\.0\.1:\d+\/\w+;(ws|tcp)$/);
    // BYE closes it on both sides.
    alice.run((c, now) => {
      c.end(BOB, now);
    });
    await bob.waitFor(
      () =>
        bob.sessions.sessions.some((s) => s.state === 'Terminated' && s.reason === 'ended by the peer')
          ? true
          : undefined,
      'the session ended at bob',
    );
  });

  it('the seeds’ scenario: balcony and chamber ring with early sessions and show "art thou hither?"; CANCEL; 486; the Nurse', async () => {
    const g = await gateway();
    // Juliet's four devices: two at q=1.0 rung at once, the PDA at 0.4, the Nurse at 0.1 (RFC 3261 §16.6).
    const app = (answer: 'ring' | 486 | 200) => (e: ConversationsEvent, self: SessionUa) => {
      if (e.type !== 'incoming-session' || answer === 'ring') return;
      self.run((c, now) => {
        if (answer === 200) c.sessions.accept(e.session.id, now);
        else c.sessions.reject(e.session.id, answer, now);
      });
    };
    const quiet = { conversations: { autoAccept: false } };
    const balcony = await ua(g, 'juliet', { ...quiet, contactQ: 1, onEvent: app('ring') });
    const chamber = await ua(g, 'juliet', { ...quiet, contactQ: 1, onEvent: app('ring') });
    const pda = await ua(g, 'juliet', { ...quiet, contactQ: 0.4, onEvent: app(486) });
    const nurse = await ua(g, 'juliet', { ...quiet, contactQ: 0.1, onEvent: app(200) });
    const romeo = await ua(g, 'romeo');
    const JULIET = `sip:juliet@${g.domain}`;
    const id = romeo.run((c, now) => c.sessions.invite(JULIET, { now }));
    romeo.run((c, now) => c.sessions.send(id, 'art thou hither?', {}, now));
    // Two early sessions (reliable 180s, PRACKed), the text shown on both devices.
    for (const device of [balcony, chamber])
      await device.waitForEvent(
        is('message', (e) => e.message.text === 'art thou hither?'),
        'the early text',
      );
    const early = await romeo.waitFor(() => {
      const s = romeo.sessions.session(id);
      return s !== undefined && s.legs.length === 2 ? s : undefined;
    }, 'two early sessions');
    expect(early.state).toBe('Early');
    expect(new Set(early.legs.map((l) => l.dialog)).size).toBe(2);
    // After the branch timeout both are cancelled; the PDA is busy; the Nurse answers and the chat goes on.
    await romeo.waitFor(
      () => (romeo.sessions.session(id)?.state === 'Established' ? true : undefined),
      'the 200',
      20_000,
    );
    for (const device of [balcony, chamber]) {
      const s = await device.waitFor(
        () => device.sessions.sessions.find((x) => x.state === 'Terminated'),
        'cancelled',
      );
      expect(s).toMatchObject({ status: 487, reason: 'cancelled' });
    }
    expect(pda.sessions.sessions[0]).toMatchObject({ state: 'Terminated', status: 486 });
    expect(romeo.sessions.session(id)?.legs).toHaveLength(1);
    await nurse.waitForEvent(
      is('message', (e) => e.message.text === 'art thou hither?'),
      'the text at the Nurse',
    );
    const nurseSession = nurse.sessions.sessions[0]!.id;
    nurse.run((c, now) =>
      c.sessions.send(
        nurseSession,
        'Hi Romeo, Juliet is with her father now, can i take a message?',
        {},
        now,
      ),
    );
    await romeo.waitForEvent(
      is('message', (e) => e.message.text.startsWith('Hi Romeo')),
      'the Nurse',
    );
    romeo.run((c, now) => c.sessions.send(id, 'Tell her to go to confession tomorrow....', {}, now));
    await nurse.waitForEvent(
      is('message', (e) => e.message.text.startsWith('Tell her')),
      'the message for Juliet',
    );
    expect(balcony.events.filter((e) => e.type === 'message')).toHaveLength(1);
  });
});

/** A 50 MB file as a body source, and its SHA-1 (RFC 5547 hash). */
function bigFile(size: number): { source: MsrpBodySource; sha1: string; bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096)
    bytes.set(
      createHash('sha256')
        .update(String(i))
        .digest()
        .subarray(0, Math.min(32, size - i)),
      i,
    );
  const sha1 = createHash('sha1').update(bytes).digest('hex');
  return { bytes, sha1, source: { size, read: (o, l) => bytes.subarray(o, o + l) } };
}

/** The receiving app: accepts file offers and keeps what arrives; resolves its SHA-1 when complete. */
function receiveFiles(): {
  onEvent: (e: ConversationsEvent, self: SessionUa) => void;
  received: () => Buffer;
} {
  const chunks = new Map<number, Uint8Array>();
  return {
    onEvent: (e, self) => {
      if (e.type === 'incoming-session' && e.session.kind === 'file')
        self.run((c, now) => {
          c.sessions.accept(e.session.id, now);
        });
      if (e.type === 'file-data') chunks.set(e.offset, e.bytes.slice());
    },
    received: () => {
      const sorted = [...chunks].sort((a, b) => a[0] - b[0]);
      const out = Buffer.alloc(sorted.reduce((n, [o, b]) => Math.max(n, o - 1 + b.length), 0));
      for (const [o, b] of sorted) out.set(b, o - 1);
      return out;
    },
  };
}

describe('file transfer (RFC 5547) through the relay: 50 MB, matching hash', () => {
  const SIZE = 50_000_000;

  it('browser → browser: the sender’s WebSocket is cut at 60 %, the transfer resumes and only the rest is sent', async () => {
    const g = await gateway();
    const file = bigFile(SIZE);
    const sink = receiveFiles();
    const bob = await ua(g, 'bob', { onEvent: sink.onEvent });
    let cut = false;
    const alice = await ua(g, 'alice', {
      onEvent: (e, self) => {
        if (e.type === 'file' && !cut && e.transfer.direction === 'send' && e.transfer.bytes >= SIZE * 0.6) {
          cut = true;
          self.cutMsrp();
        }
      },
    });
    const id = alice.run((c, now) =>
      c.sendFile(
        `sip:bob@${g.domain}`,
        { name: 'montague.bin', type: 'application/octet-stream', source: file.source },
        now,
      ),
    );
    const done = await alice.waitFor(
      () => {
        const f = alice.sessions.session(id)?.file;
        return f?.state === 'complete' || f?.state === 'failed' ? f : undefined;
      },
      'the transfer to finish',
      55_000,
    );
    expect(done).toMatchObject({ state: 'complete', resumes: 1 });
    expect(cut).toBe(true);
    const got = await bob.waitFor(
      () => bob.sessions.sessions.find((s) => s.file?.state === 'complete')?.file,
      'the file at bob',
    );
    expect(got).toMatchObject({ bytes: SIZE, verified: true, hash: { algorithm: 'sha-1' } });
    expect(createHash('sha1').update(sink.received()).digest('hex')).toBe(file.sha1);
    // The first connection carried ~60 %; the one after the resume only the rest (plus MSRP headers).
    const [before, after] = alice.msrpWritten;
    expect(before!.bytes).toBeGreaterThan(SIZE * 0.6);
    expect(after!.bytes).toBeLessThan(SIZE * 0.45);
    expect(before!.bytes + after!.bytes).toBeLessThan(SIZE * 1.1);
  });

  it('browser → a TCP MSRP endpoint (our stack over node:net) through the relay', async () => {
    const g = await gateway();
    const file = bigFile(SIZE);
    const sink = receiveFiles();
    const peer = await ua(g, 'bob', { tcp: true, onEvent: sink.onEvent });
    const alice = await ua(g, 'alice');
    const id = alice.run((c, now) =>
      c.sendFile(`sip:bob@${g.domain}`, { name: 'capulet.bin', source: file.source }, now),
    );
    const done = await alice.waitFor(
      () => {
        const f = alice.sessions.session(id)?.file;
        return f?.state === 'complete' || f?.state === 'failed' ? f : undefined;
      },
      'the transfer to finish',
      55_000,
    );
    expect(done.state).toBe('complete');
    const got = await peer.waitFor(
      () => peer.sessions.sessions.find((s) => s.file?.state === 'complete')?.file,
      'the file at the peer',
    );
    expect(got).toMatchObject({ bytes: SIZE, verified: true });
    expect(createHash('sha1').update(sink.received()).digest('hex')).toBe(file.sha1);
    expect(peer.sessions.sessions[0]?.localPath).toEqual([
      expect.stringMatching(/^msrp:\/\/127\.0\.0\.1:\d+\/\w+;tcp$/),
    ]);
  });
});
