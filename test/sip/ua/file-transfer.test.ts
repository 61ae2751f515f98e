/**
 * File transfer over a session (RFC 5547): the file selector in the offer (name, type, size, hash from an injected
 * hasher), progress on both sides, the hash checked on arrival, decline, cancel part-way (RFC 4975 `#`), max-size,
 * and resume with a=file-range after either side's MSRP connection broke (only the rest is sent again).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  FileTransfer,
  formatHash,
  parseSdp,
  readMsrpMedia,
  type FileHasher,
  type MsrpMedia,
  type SipRequest,
  type SipResponse,
} from '../../../web/src/sip/index.ts';
import { SessionNet, type SessionEndpoint } from '../../support/session-net.ts';

const BOB = 'sip:bob@example.com';
const sha1: FileHasher = {
  algorithm: 'sha-1',
  create: () => {
    const h = createHash('sha1');
    return { update: (b) => void h.update(b), digest: () => new Uint8Array(h.digest()) };
  },
};

function bytes(size: number, seed = 7): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function source(data: Uint8Array): { size: number; read: (o: number, l: number) => Uint8Array } {
  return { size: data.length, read: (o, l) => data.subarray(o, o + l) };
}

function media(message: SipRequest | SipResponse): MsrpMedia {
  const parsed = parseSdp(message.bodyText);
  if (!parsed.ok) throw new Error(parsed.reason);
  const m = readMsrpMedia(parsed.sdp, 0);
  if (m === undefined || m instanceof Error) throw new Error('no MSRP line');
  return m;
}

/** Alice and bob; bob's app accepts files (or answers `decide`) and writes what arrives into `received`. */
function net(options: { bob?: Partial<SessionEndpoint>; decide?: number } = {}) {
  const n = new SessionNet({
    branchTimeout: 60_000,
    endpoints: {
      alice: { user: 'alice', chat: { hasher: sha1 } },
      bob: { user: 'bob', ...options.bob, chat: { hasher: sha1, ...options.bob?.chat } },
    },
  });
  const received = new Uint8Array(8 << 20);
  let high = 0;
  n.onEvent = (name, e) => {
    if (name === 'bob' && e.type === 'incoming-session') {
      if (options.decide === undefined) n.core('bob').accept(e.session.id, n.now);
      else n.core('bob').reject(e.session.id, options.decide, n.now);
    }
    if (name === 'bob' && e.type === 'file-data') {
      received.set(e.bytes, e.offset - 1);
      high = Math.max(high, e.offset - 1 + e.bytes.length);
    }
  };
  return { n, received: () => received.subarray(0, high) };
}

describe('pushing a file (RFC 5547 §8)', () => {
  it('the offer describes the file; progress on both sides; the hash matches; the sender BYEs when it is done', () => {
    const { n, received } = net();
    const data = bytes(300_000);
    const a = n.core('alice').invite(BOB, {
      file: { name: 'balcony plan.png', type: 'image/png', source: source(data) },
      now: n.now,
    });
    n.settle();
    const invite = n.sent('alice', 'INVITE')[0] as SipRequest;
    const offer = media(invite);
    const hash = formatHash(new Uint8Array(createHash('sha1').update(data).digest()));
    expect(offer.direction).toBe('sendonly');
    expect(offer.acceptTypes).toEqual(['image/png']);
    expect(offer.file?.selector).toEqual({
      name: 'balcony plan.png',
      type: 'image/png',
      size: 300_000,
      hash: { algorithm: 'sha-1', value: hash },
    });
    expect(offer.file?.transferId).toMatch(/^\w{24}$/);
    expect(invite.bodyText).toContain(
      'a=file-selector:name:"balcony plan.png" type:image/png size:300000 hash:sha-1:',
    );
    const answer = media(n.sent('bob', '200 INVITE')[0] as SipResponse);
    expect(answer.direction).toBe('recvonly');
    expect(answer.file?.transferId).toBe(offer.file?.transferId);
    // Both sides saw it grow and finish; bob's copy is the file, checked against the hash.
    const sent = n.events('alice', 'file').map((e) => e.transfer);
    const got = n.events('bob', 'file').map((e) => e.transfer);
    expect(sent.filter((t) => t.state === 'transferring').length).toBeGreaterThan(5);
    expect(got.filter((t) => t.state === 'transferring').length).toBeGreaterThan(5);
    expect(sent.at(-1)).toMatchObject({ state: 'complete', bytes: 300_000, direction: 'send' });
    expect(got.at(-1)).toMatchObject({
      state: 'complete',
      bytes: 300_000,
      verified: true,
      direction: 'receive',
      name: 'balcony plan.png',
    });
    expect(Buffer.from(received()).equals(Buffer.from(data))).toBe(true);
    expect(n.sent('alice', 'BYE')).toHaveLength(1);
    expect(n.core('alice').session(a)).toMatchObject({ state: 'Terminated', reason: 'transfer complete' });
    expect(n.core('bob').session(n.incoming('bob'))).toMatchObject({ state: 'Terminated', kind: 'file' });
  });

  it('the receiver declines (603): the transfer fails, nothing is sent', () => {
    const { n } = net({ decide: 603 });
    const a = n
      .core('alice')
      .invite(BOB, { file: { name: 'x.bin', source: source(bytes(1000)) }, now: n.now });
    n.settle();
    expect(n.core('alice').session(a)?.file).toMatchObject({ state: 'failed', reason: 'declined' });
    expect(n.relay.frames('alice', 'SEND')).toHaveLength(0);
  });

  it('a file larger than the receiver’s a=max-size is not sent', () => {
    const { n } = net({ bob: { chat: { maxSize: 100_000 } } });
    const a = n
      .core('alice')
      .invite(BOB, { file: { name: 'big.bin', source: source(bytes(200_000)) }, now: n.now });
    n.settle();
    expect(n.core('alice').session(a)?.file).toMatchObject({
      state: 'failed',
      reason: "larger than the peer's max-size (100000 bytes)",
    });
    expect(n.relay.frames('alice', 'SEND').filter((f) => (f.body?.length ?? 0) > 0)).toHaveLength(0);
  });

  it('the sender cancels part-way: the last chunk ends with #, the receiver’s transfer is cancelled', () => {
    const { n, received } = net();
    let a = '';
    let stopped = false;
    const before = n.onEvent;
    n.onEvent = (name, e) => {
      before?.(name, e);
      if (name === 'alice' && e.type === 'file' && !stopped && e.transfer.bytes >= 1 << 20) {
        stopped = true;
        n.core('alice').end(a, n.now);
      }
    };
    a = n
      .core('alice')
      .invite(BOB, { file: { name: 'movie.bin', source: source(bytes(4 << 20)) }, now: n.now });
    n.settle();
    expect(n.core('alice').session(a)?.file).toMatchObject({ state: 'cancelled' });
    const mine = n.core('bob').session(n.incoming('bob'))!;
    expect(mine.state).toBe('Terminated');
    expect(mine.file?.state).toBe('cancelled');
    expect(received().length).toBeLessThan(4 << 20);
    expect(n.relay.frames('alice', 'SEND').some((f) => f.flag === '#')).toBe(true);
  });
});

describe('resuming with a=file-range (RFC 5547 §8) after a broken connection', () => {
  for (const side of ['alice', 'bob'] as const) {
    it(`${side === 'alice' ? 'the sender' : 'the receiver'}'s connection breaks at 60 %: re-INVITE with the range; only the rest is sent; the hash matches`, () => {
      const { n, received } = net();
      const size = 3 << 20;
      const data = bytes(size, 11);
      let cut = false;
      const before = n.onEvent;
      n.onEvent = (name, e) => {
        before?.(name, e);
        if (name === 'alice' && e.type === 'file' && !cut && e.transfer.bytes >= size * 0.6) {
          cut = true;
          n.relay.cut(side, n.relay.connections(side)[0]!);
        }
      };
      const a = n
        .core('alice')
        .invite(BOB, { file: { name: 'resume.bin', source: source(data) }, now: n.now });
      n.settle();
      expect(cut).toBe(true);
      // The re-INVITE names the transfer again, with a range; the receiver's answer (or offer) says where it stands.
      const reinvite = (side === 'alice' ? n.sent('alice', 'INVITE') : n.sent('bob', 'INVITE')).at(
        -1,
      ) as SipRequest;
      expect(reinvite.toTag).toBeDefined();
      const renegotiated = media(reinvite).file!;
      expect(renegotiated.transferId).toBe(
        media(n.sent('alice', 'INVITE')[0] as SipRequest).file?.transferId,
      );
      const got = n.core('bob').session(n.incoming('bob'))!.file!;
      expect(got).toMatchObject({ state: 'complete', bytes: size, verified: true, resumes: 0 });
      const sent = n.core('alice').session(a)!.file!;
      expect(sent).toMatchObject({ state: 'complete', resumes: 1 });
      expect(sent.startedAt).toBeGreaterThan(size * 0.6);
      expect(Buffer.from(received()).equals(Buffer.from(data))).toBe(true);
      // Bytes alice put on the wire: the file once, plus at most the window that was in flight at the break.
      const total = n.relay.bodyBytes.get('alice') ?? 0;
      expect(total).toBeGreaterThanOrEqual(size);
      expect(total).toBeLessThanOrEqual(size + (1 << 20));
      const firstAfter = n.relay
        .frames('alice', 'SEND')
        .find((f) =>
          f.headers.some(([k, v]) => k === 'Byte-Range' && v.startsWith(`${String(sent.startedAt)}-`)),
        );
      expect(firstAfter).toBeDefined();
      expect(n.core('alice').session(a)?.state).toBe('Terminated');
    });
  }
});

describe('FileTransfer: the receiver’s gap-free prefix and hash', () => {
  it('pieces out of order and twice: the prefix grows only over a gap-free run; the hash is of the file', () => {
    const data = bytes(1000, 3);
    const hash = formatHash(new Uint8Array(createHash('sha1').update(data).digest()));
    const t = new FileTransfer({
      transferId: 't1',
      direction: 'receive',
      selector: { size: 1000, hash: { algorithm: 'sha-1', value: hash } },
      hasher: sha1,
    });
    t.received(601, data.subarray(600, 1000));
    expect(t.bytes).toBe(0);
    t.received(1, data.subarray(0, 300));
    t.received(1, data.subarray(0, 300));
    expect(t.resumeFrom).toBe(301);
    t.received(201, data.subarray(200, 650));
    expect(t.bytes).toBe(1000);
    t.finish();
    expect(t.verified).toBe(true);
    expect(t.transition('complete')).toBe(false); // offered → complete is not a move
    const wrong = new FileTransfer({
      transferId: 't2',
      direction: 'receive',
      selector: { size: 4, hash: { algorithm: 'sha-1', value: '00' } },
      hasher: sha1,
    });
    wrong.received(1, new Uint8Array([1, 2, 3, 4]));
    wrong.finish();
    expect(wrong.verified).toBe(false);
  });
});
