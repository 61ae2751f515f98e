import { describe, expect, it } from 'vitest';
import {
  MsrpFramer,
  MsrpSession,
  ParseError,
  createChallenge,
  framePath,
  integerHeader,
  msrpHeader,
  msrpResponse,
  msrpUriEquals,
  parseAuthorization,
  parseMsrpFrame,
  readMsrpHead,
  rechunk,
  rewritePaths,
  serializeMsrpFrame,
  verifyCredentials,
  type MsrpFrame,
  type MsrpSessionEvent,
} from '../../../web/src/sip/server.ts';
import { bytesOf, text } from '../../support/msrp-pair.ts';
import { seededRandom } from '../../support/seeded-random.ts';

// RFC 4976 §5 / §6, in our own words: Alice reaches Bob through her relay, which she first authenticates with.
const RELAY = 'msrps://relay.atlanta.example.com:2855;tcp';
const ROUTE = 'msrps://relay.atlanta.example.com:2855/hjdhfha;tcp';
const ALICE = 'msrps://alicepc.atlanta.example.com:7777/iau39soe2843z;tcp';
const BOB = 'msrp://bob.biloxi.example.com:8888/9di4ea;tcp';

type Side = 'alice' | 'bob';

/**
 * A relay as RFC 4976 describes it, small enough for a test: AUTH with a digest challenge and bounded Expires,
 * then To-Path/From-Path rewriting, hop-by-hop 200s, re-chunking to `maxChunk`. Responses from downstream end here.
 */
class TestRelay {
  readonly log: { from: Side | 'relay'; frame: MsrpFrame }[] = [];
  readonly out: Record<Side, Uint8Array[]> = { alice: [], bob: [] };
  readonly #framers: Record<Side, MsrpFramer> = { alice: new MsrpFramer(), bob: new MsrpFramer() };
  nonce = 'dcd98b7102dd2f0e8b11d0f600bfb0c093';
  password = 'secret';
  minExpires = 300;
  silent = false;
  #ids = 0;

  constructor(readonly maxChunk = Infinity) {}

  receive(from: Side, bytes: Uint8Array): void {
    for (const ev of this.#framers[from].push(bytes)) {
      if (ev.type !== 'frame') throw new Error(`relay got ${ev.type}`);
      this.log.push({ from, frame: ev.frame });
      if (!this.silent) this.#handle(from, ev.frame);
    }
  }

  #reply(to: Side, frame: MsrpFrame): void {
    this.log.push({ from: 'relay', frame });
    this.out[to].push(serializeMsrpFrame(frame));
  }

  #handle(from: Side, frame: MsrpFrame): void {
    if (frame.method === undefined) return; // hop-by-hop: downstream responses end here
    if (frame.method === 'AUTH') return this.#auth(from, frame);
    const forwarded = rewritePaths(frame, ROUTE);
    if (forwarded instanceof ParseError)
      return this.#reply(from, msrpResponse(frame, forwarded.statusHint, { self: ROUTE }));
    if (frame.method === 'SEND') this.#reply(from, msrpResponse(frame, 200, { self: ROUTE }));
    const next = framePath(forwarded, 'To-Path')[0]!;
    const to: Side = msrpUriEquals(next, ALICE) ? 'alice' : 'bob';
    for (const piece of rechunk(
      forwarded,
      this.maxChunk,
      () => `relay${String(++this.#ids).padStart(4, '0')}`,
    )) {
      this.log.push({ from: 'relay', frame: piece });
      this.out[to].push(serializeMsrpFrame(piece));
    }
  }

  #auth(from: Side, frame: MsrpFrame): void {
    const expires = integerHeader(frame, 'Expires') ?? 900;
    const credentials = msrpHeader(frame, 'Authorization');
    const ok =
      credentials !== undefined &&
      verifyCredentials(parseAuthorization(credentials), { method: 'AUTH', password: this.password });
    if (!ok) {
      const challenge = createChallenge({
        realm: 'atlanta.example.com',
        nonce: this.nonce,
        algorithm: 'SHA-256',
      });
      return this.#reply(
        from,
        msrpResponse(frame, 401, { self: RELAY, headers: [['WWW-Authenticate', challenge]] }),
      );
    }
    if (parseAuthorization(credentials).uri !== RELAY)
      throw new Error('the digest-uri must be the relay URI');
    if (expires < this.minExpires)
      return this.#reply(
        from,
        msrpResponse(frame, 423, { self: RELAY, headers: [['Min-Expires', String(this.minExpires)]] }),
      );
    this.#reply(
      from,
      msrpResponse(frame, 200, {
        self: RELAY,
        headers: [
          ['Use-Path', ROUTE],
          ['Expires', String(expires)],
        ],
      }),
    );
  }
}

class Relayed {
  readonly relay: TestRelay;
  readonly alice: MsrpSession;
  readonly bob: MsrpSession;
  readonly events: Record<Side, MsrpSessionEvent[]> = { alice: [], bob: [] };
  now = 0;

  constructor(maxChunk = Infinity) {
    const random = seededRandom(11);
    this.relay = new TestRelay(maxChunk);
    this.alice = new MsrpSession({ localUri: ALICE, random, chunkSize: 4000 });
    this.bob = new MsrpSession({ localUri: BOB, random, remotePath: [ROUTE, ALICE] });
  }

  settle(): void {
    for (let moved = true; moved;) {
      moved = false;
      for (const side of ['alice', 'bob'] as const) {
        const s = side === 'alice' ? this.alice : this.bob;
        for (const t of s.takeTransmissions()) {
          moved = true;
          this.relay.receive(side, t.data);
        }
        for (const bytes of this.relay.out[side].splice(0)) {
          moved = true;
          s.receive(bytes, this.now);
        }
        this.events[side].push(...s.takeEvents());
      }
    }
  }

  advance(ms: number): void {
    this.now += ms;
    this.alice.handleTimers(this.now);
    this.bob.handleTimers(this.now);
    this.settle();
  }

  auth(side: Side): MsrpSessionEvent[] {
    return this.events[side].filter((e) => e.type === 'auth');
  }
}

describe('MSRP through a relay (RFC 4976)', () => {
  it('authenticates: AUTH, 401 with a digest challenge, AUTH with credentials, 200 with Use-Path and Expires', () => {
    const r = new Relayed();
    r.alice.authenticate(RELAY, { credentials: { username: 'alice', password: 'secret' } });
    expect(r.alice.authState).toBe('Authenticating');
    r.settle();
    expect(r.relay.log.map((l) => [l.from, l.frame.method ?? l.frame.status])).toEqual([
      ['alice', 'AUTH'],
      ['relay', 401],
      ['alice', 'AUTH'],
      ['relay', 200],
    ]);
    const [first, , second] = r.relay.log.map((l) => l.frame);
    expect([msrpHeader(first!, 'To-Path'), msrpHeader(first!, 'From-Path')]).toEqual([RELAY, ALICE]);
    expect(msrpHeader(first!, 'Authorization')).toBeUndefined();
    expect(parseAuthorization(msrpHeader(second!, 'Authorization')!)).toMatchObject({
      username: 'alice',
      uri: RELAY,
      algorithm: 'SHA-256',
    });
    expect(r.auth('alice')).toEqual([{ type: 'auth', ok: true, usePath: [ROUTE], expires: 900 }]);
    expect(r.alice.authState).toBe('Authenticated');
    // RFC 4976 §5: the path Alice puts in her SDP starts with the relay.
    expect(r.alice.localPath).toEqual([ROUTE, ALICE]);
  });

  it('sends through the Use-Path; the relay pops itself off To-Path, pushes itself on From-Path, answers hop by hop', () => {
    const r = new Relayed();
    r.alice.authenticate(RELAY, { credentials: { username: 'alice', password: 'secret' } });
    r.settle();
    r.alice.setRemotePath([BOB]);
    const id = r.alice.send(
      { contentType: 'text/plain', body: 'Is this thing on?' },
      { successReport: true },
    );
    r.settle();
    const [toRelay, toBob] = r.relay.log.filter((l) => l.frame.method === 'SEND').map((l) => l.frame);
    expect([msrpHeader(toRelay!, 'To-Path'), msrpHeader(toRelay!, 'From-Path')]).toEqual([
      `${ROUTE} ${BOB}`,
      ALICE,
    ]);
    expect([msrpHeader(toBob!, 'To-Path'), msrpHeader(toBob!, 'From-Path')]).toEqual([
      BOB,
      `${ROUTE} ${ALICE}`,
    ]);
    // Bob's 200 goes to the relay only; Alice got the relay's own 200; Bob's REPORT reached Alice through the relay.
    const bob200 = r.relay.log.find((l) => l.from === 'bob' && l.frame.status === 200)!.frame;
    expect(msrpHeader(bob200, 'To-Path')).toBe(ROUTE);
    expect(r.events.bob.filter((e) => e.type === 'message')).toMatchObject([{ messageId: id }]);
    expect(r.events.alice.filter((e) => e.type === 'report')).toMatchObject([
      { messageId: id, success: true },
    ]);
    // And back: Bob's SEND to Alice's path.
    r.bob.send({ contentType: 'text/plain', body: 'Loud and clear.' });
    r.settle();
    expect(
      r.events.alice.filter((e) => e.type === 'message').map((e) => e.type === 'message' && text(e.bytes)),
    ).toEqual(['Loud and clear.']);
  });

  it('survives re-chunking by the relay: the receiver reassembles the smaller chunks', () => {
    const r = new Relayed(1000);
    r.alice.authenticate(RELAY, { credentials: { username: 'alice', password: 'secret' } });
    r.settle();
    r.alice.setRemotePath([BOB]);
    const body = Uint8Array.from({ length: 9000 }, (_, i) => (i * 7) % 256);
    r.alice.send({ contentType: 'application/octet-stream', body });
    r.settle();
    const toBob = r.relay.log
      .filter((l) => l.from === 'relay' && l.frame.method === 'SEND')
      .map((l) => msrpHeader(l.frame, 'Byte-Range'));
    expect(toBob).toHaveLength(9);
    expect(toBob.slice(0, 5)).toEqual([
      '1-1000/9000',
      '1001-2000/9000',
      '2001-3000/9000',
      '3001-4000/9000',
      '4001-5000/9000',
    ]);
    const [message] = r.events.bob.filter((e) => e.type === 'message');
    expect(message?.type === 'message' && message.bytes).toEqual(body);
  });

  it('asks again within the bounds after 423 Min-Expires', () => {
    const r = new Relayed();
    r.alice.authenticate(RELAY, { credentials: { username: 'alice', password: 'secret' }, expires: 60 });
    r.settle();
    const auths = r.relay.log.filter((l) => l.from === 'alice').map((l) => integerHeader(l.frame, 'Expires'));
    expect(auths).toEqual([60, 60, 300]);
    expect(r.relay.log.map((l) => l.frame.status).filter(Boolean)).toEqual([401, 423, 200]);
    expect(r.auth('alice')).toEqual([{ type: 'auth', ok: true, usePath: [ROUTE], expires: 300 }]);
  });

  it('refreshes the AUTH before it expires, with credentials at once', () => {
    const r = new Relayed();
    r.alice.authenticate(RELAY, { credentials: { username: 'alice', password: 'secret' }, expires: 600 });
    r.settle();
    expect(r.alice.nextDeadline()).toBe(540_000);
    r.advance(540_000);
    expect(r.alice.authState).toBe('Authenticated');
    const last = r.relay.log.filter((l) => l.from === 'alice').at(-1)!.frame;
    expect(last.method).toBe('AUTH');
    expect(parseAuthorization(msrpHeader(last, 'Authorization')!).nc).toBe('00000002');
    expect(r.auth('alice')).toHaveLength(2);
  });

  it('fails on a wrong password (a second 401) and on a silent relay (408 after 30 s)', () => {
    const r = new Relayed();
    r.relay.password = 'other';
    r.alice.authenticate(RELAY, { credentials: { username: 'alice', password: 'secret' } });
    r.settle();
    expect(r.auth('alice')).toEqual([{ type: 'auth', ok: false, status: 401, comment: 'digest: rejected' }]);
    expect(r.alice.authState).toBe('Failed');
    expect(r.alice.localPath).toEqual([ALICE]);

    const s = new Relayed();
    s.relay.silent = true;
    s.alice.authenticate(RELAY, { credentials: { username: 'alice', password: 'secret' } });
    s.settle();
    s.advance(30_000);
    expect(s.auth('alice')).toEqual([{ type: 'auth', ok: false, status: 408, comment: 'Request Timeout' }]);
    expect(() =>
      s.alice.authenticate('not a uri', { credentials: { username: 'a', password: 'b' } }),
    ).toThrow(TypeError);
  });
});

describe('relay helpers', () => {
  const frame = parseMsrpFrame(
    [
      'MSRP a1b2c3d4 SEND',
      `To-Path: ${ROUTE} ${BOB}`,
      `From-Path: ${ALICE}`,
      'Message-ID: msg9z8y7x',
      'Byte-Range: 11-30/30',
      'Content-Type: text/plain',
      '',
      'klmnopqrstuvwxyz0123',
      '-------a1b2c3d4$',
      '',
    ].join('\r\n'),
  );

  it('reads a head without scanning the body', () => {
    const bytes = serializeMsrpFrame(frame);
    expect(readMsrpHead(bytes.subarray(0, 30))).toBeUndefined();
    expect(readMsrpHead(bytes.subarray(0, bytes.length - 30))).toMatchObject({
      transactionId: 'a1b2c3d4',
      method: 'SEND',
      body: undefined,
    });
    expect(() => readMsrpHead(bytesOf('GARBAGE\r\n'))).toThrow(ParseError);
  });

  it('rewrites the paths, or says why it cannot (not addressed to us: 403; nobody after us: 400)', () => {
    const out = rewritePaths(frame, ROUTE) as MsrpFrame;
    expect([msrpHeader(out, 'To-Path'), msrpHeader(out, 'From-Path')]).toEqual([BOB, `${ROUTE} ${ALICE}`]);
    expect(out.body).toBe(frame.body);
    expect(rewritePaths(frame, 'msrps://elsewhere.example.com;tcp')).toMatchObject({ statusHint: 403 });
    expect(rewritePaths(out, BOB)).toMatchObject({ statusHint: 400 });
  });

  it('re-chunks a SEND into views of its body with exact ranges; the last keeps the flag', () => {
    let n = 0;
    const pieces = rechunk(frame, 8, () => `piece${++n}xx`);
    expect(pieces.map((p) => [p.transactionId, msrpHeader(p, 'Byte-Range'), text(p.body!), p.flag])).toEqual([
      ['piece1xx', '11-18/30', 'klmnopqr', '+'],
      ['piece2xx', '19-26/30', 'stuvwxyz', '+'],
      ['piece3xx', '27-30/30', '0123', '$'],
    ]);
    expect(pieces.every((p) => parseMsrpFrame(serializeMsrpFrame(p)))).toBe(true);
    expect(rechunk(frame, 100, () => 'unused00')).toEqual([frame]);
  });
});
