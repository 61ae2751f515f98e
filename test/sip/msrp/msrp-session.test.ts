import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidStateError,
  MsrpFramer,
  MsrpSession,
  msrpHeader,
  msrpRequest,
  parseByteRange,
  parseMsrpFrame,
  serializeMsrpFrame,
  type MsrpBodySource,
  type MsrpFrame,
  type MsrpHeader,
  type MsrpSessionEvent,
} from '../../../web/src/sip/index.ts';
import type { SansIoCore } from '../../../web/src/drivers/sans-io-core.ts';
import { ALICE, BOB, MsrpPair, bytesOf, text } from '../../support/msrp-pair.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const sends = (pair: MsrpPair, from: 'alice' | 'bob' = 'alice'): MsrpFrame[] =>
  pair.wire.filter((w) => w.from === from && w.frame.method === 'SEND').map((w) => w.frame);
const range = (f: MsrpFrame): string => msrpHeader(f, 'Byte-Range') ?? '';

/** A body of `size` bytes computed from the offset, so no test holds it whole. */
function generated(size: number): MsrpBodySource {
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = (Math.imul(offset + i, 2654435761) >>> 23) & 255;
      return out;
    },
  };
}

function sha256Of(source: MsrpBodySource): string {
  const h = createHash('sha256');
  for (let at = 0; at < source.size; at += 1 << 20)
    h.update(source.read(at, Math.min(1 << 20, source.size - at)));
  return h.digest('hex');
}

describe('MsrpSession: a message from Alice to Bob', () => {
  it('arrives whole and once, with its type; each chunk is answered 200 and Alice learns it was sent', () => {
    const pair = new MsrpPair();
    const id = pair.alice.send({ contentType: 'text/plain;charset=utf-8', body: 'O Romeo, Romeo! ✓' });
    expect(pair.alice.messageState(id)).toBe('queued');
    pair.settle();
    const [message] = pair.of('bob', 'message');
    expect(message).toMatchObject({
      messageId: id,
      contentType: 'text/plain;charset=utf-8',
      streamed: false,
    });
    expect(text(message!.bytes)).toBe('O Romeo, Romeo! ✓');
    expect(pair.wire.map((w) => [w.from, w.frame.method ?? w.frame.status])).toEqual([
      ['alice', 'SEND'],
      ['bob', 200],
    ]);
    expect(pair.of('alice', 'sent')).toEqual([{ type: 'sent', messageId: id }]);
    // §7.1.1: Success-Report defaults to no; the message is forgotten once sent.
    expect(pair.alice.messageState(id)).toBeUndefined();
  });

  it('asks for and gets a success REPORT covering the whole message (§7.1.3)', () => {
    const pair = new MsrpPair({ alice: { chunkSize: 8 } });
    const id = pair.alice.send(
      { contentType: 'text/plain', body: 'Wherefore art thou?' },
      { successReport: true },
    );
    pair.policy = (f) => (f.method === 'REPORT' ? 'hold' : 'deliver');
    pair.settle();
    expect(pair.alice.messageState(id)).toBe('sent');
    pair.release();
    expect(pair.of('alice', 'report')).toMatchObject([
      {
        messageId: id,
        success: true,
        status: 200,
        byteRange: { start: 1, end: 19, total: 19 },
        local: false,
      },
    ]);
    expect(pair.alice.messageState(id)).toBeUndefined();
    expect(sends(pair).map((f) => msrpHeader(f, 'Success-Report'))).toEqual(['yes', 'yes', 'yes']);
  });

  it('cuts a long message into chunkSize SENDs: one Message-ID, exact Byte-Ranges, + then $ (§7.1.1)', () => {
    const pair = new MsrpPair({ alice: { chunkSize: 10, framing: 'message' } });
    const id = pair.alice.send({ contentType: 'text/plain', body: 'a'.repeat(25) });
    pair.settle();
    const chunks = sends(pair);
    expect(chunks.map(range)).toEqual(['1-10/25', '11-20/25', '21-25/25']);
    expect(chunks.map((f) => f.flag)).toEqual(['+', '+', '$']);
    expect(new Set(chunks.map((f) => msrpHeader(f, 'Message-ID')))).toEqual(new Set([id]));
    expect(new Set(chunks.map((f) => f.transactionId)).size).toBe(3);
    expect(pair.of('alice', 'progress').map((p) => p.bytes)).toEqual([10, 20, 25]);
    expect(pair.of('bob', 'progress').map((p) => [p.bytes, p.total])).toEqual([
      [10, 25],
      [20, 25],
      [25, 25],
    ]);
  });

  it('puts chunks that arrive out of order and twice back together, and delivers the message once', () => {
    const pair = new MsrpPair({ alice: { chunkSize: 4, framing: 'message' } });
    pair.policy = (f, from) => (from === 'alice' ? 'hold' : 'deliver');
    pair.alice.send({ contentType: 'text/plain', body: 'But soft, what light!' });
    pair.settle();
    expect(pair.held).toHaveLength(6);
    pair.policy = () => 'deliver';
    pair.release([5, 3, 3, 0, 4, 1, 0, 2, 5]);
    const messages = pair.of('bob', 'message');
    expect(messages.map((m) => text(m.bytes))).toEqual(['But soft, what light!']);
    // Every chunk, duplicates included, was answered 200; Alice counts each of her chunks once.
    expect(pair.wire.filter((w) => w.from === 'bob' && w.frame.status === 200)).toHaveLength(9);
    expect(pair.of('alice', 'sent')).toHaveLength(1);
  });

  it('never delivers a message with a chunk lost; the sender fails it with 408 after 30 s (§7.1.2)', () => {
    const pair = new MsrpPair({ alice: { chunkSize: 5 } });
    let n = 0;
    pair.policy = (f) => (f.method === 'SEND' && ++n === 2 ? 'drop' : 'deliver');
    const id = pair.alice.send({ contentType: 'text/plain', body: 'parting is such sweet sorrow' });
    pair.settle();
    expect(pair.alice.nextDeadline()).toBe(30_000);
    pair.advance(29_999);
    expect(pair.of('alice', 'report')).toEqual([]);
    pair.advance(1);
    expect(pair.of('alice', 'report')).toEqual([
      {
        type: 'report',
        messageId: id,
        success: false,
        status: 408,
        comment: 'Request Timeout',
        byteRange: undefined,
        local: true,
      },
    ]);
    expect(pair.of('bob', 'message')).toEqual([]);
    expect(pair.of('alice', 'sent')).toEqual([]);
  });

  it('lets messages take turns chunk by chunk: a short line is not stuck behind a file', () => {
    const pair = new MsrpPair({ alice: { chunkSize: 100, framing: 'message' } });
    const file = pair.alice.send({ contentType: 'application/octet-stream', body: new Uint8Array(1000) });
    const line = pair.alice.send({ contentType: 'text/plain', body: 'brb' });
    pair.settle();
    const order = sends(pair).map((f) => msrpHeader(f, 'Message-ID'));
    expect(order.indexOf(line)).toBe(1);
    expect(pair.of('bob', 'message').map((m) => m.messageId)).toEqual([line, file]);
  });

  it('keeps at most `window` bytes awaiting their 200s; the 200s let the rest go', () => {
    const pair = new MsrpPair({ alice: { chunkSize: 100, window: 300, framing: 'message' } });
    pair.policy = (f, from) => (from === 'bob' ? 'hold' : 'deliver');
    pair.alice.send({ contentType: 'application/octet-stream', body: new Uint8Array(1000) });
    pair.settle();
    expect(sends(pair)).toHaveLength(3);
    pair.policy = () => 'deliver';
    pair.release();
    expect(sends(pair)).toHaveLength(10);
    expect(pair.of('bob', 'message')).toHaveLength(1);
  });

  it('hands a byte budget to the driver: no more chunk bytes than asked per takeTransmissions', () => {
    const session = new MsrpSession({
      localUri: ALICE,
      remotePath: [BOB],
      random: seededRandom(1),
      chunkSize: 100,
      framing: 'message',
    });
    session.send({ contentType: 'application/octet-stream', body: new Uint8Array(1000) });
    expect(session.takeTransmissions(250)).toHaveLength(3);
    expect(session.takeTransmissions(0)).toHaveLength(0);
    expect(session.wantsToSend).toBe(true);
  });
});

describe('MsrpSession: large transfers', () => {
  it('moves 50 MB in 16 KiB chunks over a stream and the bytes hash the same, streamed to the app', () => {
    const source = generated(50 * 1024 * 1024);
    const pair = new MsrpPair({ raw: true, bob: { bufferLimit: 1 << 20 } });
    const id = pair.alice.send({ contentType: 'application/octet-stream', body: source });
    const hash = createHash('sha256');
    let next = 1;
    let progress = 0;
    for (let round = 0; !pair.events.bob.some((e) => e.type === 'message'); round++) {
      pair.settle();
      for (const e of pair.events.bob.splice(0)) {
        if (e.type === 'data') {
          expect(e.offset).toBe(next);
          next += e.bytes.length;
          hash.update(e.bytes);
        } else if (e.type === 'progress') progress = e.bytes;
        else pair.events.bob.push(e);
      }
      expect(round).toBeLessThan(5);
    }
    expect(pair.of('bob', 'message')).toMatchObject([
      { messageId: id, streamed: true, bytes: new Uint8Array(0) },
    ]);
    expect(progress).toBe(source.size);
    expect(hash.digest('hex')).toBe(sha256Of(source));
    expect(pair.of('alice', 'sent')).toEqual([{ type: 'sent', messageId: id }]);
  });

  it('buffers a message under bufferLimit and delivers it whole (5 MB, chunks out of order)', () => {
    const source = generated(5 * 1024 * 1024);
    const pair = new MsrpPair({ alice: { chunkSize: 64 * 1024, framing: 'message' } });
    pair.policy = (f, from) => (from === 'alice' ? 'hold' : 'deliver');
    pair.alice.send({ contentType: 'application/octet-stream', body: source });
    pair.settle();
    pair.policy = () => 'deliver';
    pair.release(pair.held.map((_, i) => i).reverse());
    const [message] = pair.of('bob', 'message');
    expect(message?.streamed).toBe(false);
    expect(createHash('sha256').update(message!.bytes).digest('hex')).toBe(sha256Of(source));
  });

  it('takes a chunk too big to hold as it streams in (framer start/data/end), and answers it once at its end-line', () => {
    const body = generated(300_000).read(0, 300_000);
    const pair = new MsrpPair({ raw: true, alice: { chunkSize: 300_000 }, bob: { streamAbove: 10_000 } });
    pair.budget = 4096;
    const id = pair.alice.send({ contentType: 'application/octet-stream', body });
    pair.settle();
    expect(pair.of('bob', 'message')).toMatchObject([{ messageId: id, streamed: false }]);
    expect(pair.of('bob', 'message')[0]!.bytes).toEqual(body);
    expect(pair.of('alice', 'sent')).toEqual([{ type: 'sent', messageId: id }]);
  });

  it('resumes a transfer: only the bytes from `from` go, and the receiver completes from `receiveFrom`', () => {
    const body = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    const pair = new MsrpPair({ alice: { chunkSize: 300 }, bob: { receiveFrom: 601 } });
    const id = pair.alice.send(
      { contentType: 'application/octet-stream', body },
      { from: 601, messageId: 'file0001' },
    );
    pair.settle();
    expect(id).toBe('file0001');
    expect(sends(pair).map(range)).toEqual(['601-900/1000', '901-1000/1000']);
    const [message] = pair.of('bob', 'message');
    expect(message!.bytes.subarray(600)).toEqual(body.subarray(600));
    expect(pair.of('alice', 'progress').at(-1)).toMatchObject({ bytes: 1000, total: 1000 });
  });
});

describe('MsrpSession: abort and interruptible chunks', () => {
  it('aborts a message half sent: an empty # chunk tells the peer, which drops what it had', () => {
    const pair = new MsrpPair({ alice: { chunkSize: 100, window: 300, framing: 'message' } });
    pair.policy = (f, from) => (from === 'bob' ? 'hold' : 'deliver');
    const id = pair.alice.send({ contentType: 'application/octet-stream', body: new Uint8Array(1000) });
    pair.settle();
    expect(pair.alice.abort(id, 5)).toBe(true);
    pair.settle();
    const last = sends(pair).at(-1)!;
    expect([last.flag, range(last), last.body?.length]).toEqual(['#', '301-300/1000', 0]);
    expect(pair.of('alice', 'aborted')).toEqual([{ type: 'aborted', messageId: id, by: 'local' }]);
    expect(pair.of('bob', 'aborted')).toEqual([{ type: 'aborted', messageId: id, by: 'peer' }]);
    pair.policy = () => 'deliver';
    pair.release();
    expect(pair.of('bob', 'message')).toEqual([]);
    expect(pair.of('alice', 'report')).toEqual([]);
    expect(pair.alice.abort(id)).toBe(false);
  });

  it('on a stream, cuts a chunk mid-body with # (range end * since it may be cut)', () => {
    const pair = new MsrpPair({ raw: true, alice: { chunkSize: 10_000 } });
    pair.budget = 1000;
    const id = pair.alice.send({ contentType: 'application/octet-stream', body: new Uint8Array(50_000) });
    const out = pair.alice.takeTransmissions(1000);
    for (const t of out) pair.deliver('bob', t.data);
    expect(text(out[0]!.data)).toContain('Byte-Range: 1-*/50000');
    pair.alice.abort(id);
    const end = pair.alice.takeTransmissions(1000);
    expect(text(end[0]!.data)).toMatch(/^\r\n-------\w+#\r\n$/);
    for (const t of end) pair.deliver('bob', t.data);
    pair.settle();
    expect(pair.of('bob', 'aborted')).toMatchObject([{ messageId: id, by: 'peer' }]);
    expect(pair.of('bob', 'message')).toEqual([]);
  });

  it('on a stream, ends an open chunk with + for a waiting message, then goes on from the next byte', () => {
    const pair = new MsrpPair({ raw: true, alice: { chunkSize: 10_000 } });
    pair.budget = 1000;
    const big = pair.alice.send({
      contentType: 'application/octet-stream',
      body: generated(20_000).read(0, 20_000),
    });
    for (const t of pair.alice.takeTransmissions(1000)) pair.deliver('bob', t.data);
    const small = pair.alice.send({ contentType: 'text/plain', body: 'quick!' });
    const wire = pair.alice.takeTransmissions(1000);
    expect(text(wire[0]!.data)).toMatch(/^\r\n-------\w+\+\r\n$/);
    for (const t of wire) pair.deliver('bob', t.data);
    pair.settle();
    expect(pair.of('bob', 'message').map((m) => m.messageId)).toEqual([small, big]);
    expect(pair.of('bob', 'message')[1]!.bytes).toEqual(generated(20_000).read(0, 20_000));
    expect(pair.of('alice', 'sent').map((e) => e.messageId)).toEqual([small, big]);
  });

  it('ends an open chunk with + before a response, so the response never lands inside a body', () => {
    const pair = new MsrpPair({ raw: true, alice: { chunkSize: 10_000 } });
    pair.alice.send({ contentType: 'application/octet-stream', body: new Uint8Array(5000) });
    for (const t of pair.alice.takeTransmissions(100)) pair.deliver('bob', t.data);
    // Bob talks meanwhile: Alice must answer his SEND while her chunk is open.
    pair.bob.send({ contentType: 'text/plain', body: 'hello?' });
    for (const t of pair.bob.takeTransmissions()) pair.deliver('alice', t.data);
    pair.settle();
    expect(pair.of('bob', 'error')).toEqual([]);
    expect(pair.of('bob', 'message')).toHaveLength(1);
    expect(pair.of('alice', 'message')).toHaveLength(1);
    expect(pair.of('bob', 'sent')).toHaveLength(1);
  });
});

describe('MsrpSession: what the receiver refuses (§7.3, §10)', () => {
  const peer = (over: { bob?: object } = {}): MsrpPair => new MsrpPair({ bob: { ...over.bob } });
  /** a SEND from Alice to Bob as a peer might write it */
  function raw(
    headers: MsrpHeader[],
    body: string | undefined,
    init: { to?: string; from?: string; method?: string; flag?: '$' | '+' | '#' } = {},
  ): Uint8Array {
    return serializeMsrpFrame(
      msrpRequest({
        method: init.method ?? 'SEND',
        transactionId: 'tx123456',
        toPath: [init.to ?? BOB],
        fromPath: [init.from ?? ALICE],
        headers,
        body: body === undefined ? undefined : bytesOf(body),
        contentType: body === undefined ? undefined : 'text/plain',
        flag: init.flag ?? '$',
      }),
    );
  }
  function answer(pair: MsrpPair, bytes: Uint8Array, flow?: { flowId: string }): (MsrpFrame | undefined)[] {
    pair.bob.receive(bytes, pair.now, flow);
    pair.events.bob.push(...pair.bob.takeEvents());
    return pair.bob.takeTransmissions().map((t) => parseMsrpFrame(t.data));
  }

  it.each([
    [
      'a bad Byte-Range',
      400,
      [
        ['Message-ID', 'm1234567'],
        ['Byte-Range', '0-4/4'],
      ],
      'hello',
    ],
    ['no Message-ID', 400, [['Byte-Range', '1-5/5']], 'hello'],
    [
      'a body longer than its Byte-Range',
      400,
      [
        ['Message-ID', 'm1234567'],
        ['Byte-Range', '1-3/5'],
      ],
      'hello',
    ],
    [
      'a last chunk shorter than its Byte-Range',
      400,
      [
        ['Message-ID', 'm1234567'],
        ['Byte-Range', '1-9/9'],
      ],
      'hello',
    ],
    [
      'a bad Failure-Report',
      400,
      [
        ['Message-ID', 'm1234567'],
        ['Failure-Report', 'sometimes'],
      ],
      'hello',
    ],
  ] as [string, number, MsrpHeader[], string][])('answers %s with %i', (_, status, headers, body) => {
    const pair = peer();
    expect(answer(pair, raw(headers, body))).toMatchObject([{ transactionId: 'tx123456', status }]);
    expect(pair.of('bob', 'error')).toMatchObject([{ status, fatal: false }]);
    expect(pair.of('bob', 'message')).toEqual([]);
  });

  it('answers a frame missing its To-Path with 400, to its From-Path', () => {
    const pair = peer();
    const bytes = text(raw([['Message-ID', 'm1234567']], 'hi')).replace(/To-Path: [^\r]*\r\n/, '');
    const [response] = answer(pair, bytesOf(bytes));
    expect(response).toMatchObject({ status: 400, comment: 'To-Path is missing' });
    expect(msrpHeader(response!, 'To-Path')).toBe(ALICE);
  });

  it('answers a request for another session 481, from another peer 403, on another connection 506', () => {
    const pair = peer();
    const other = 'msrp://biloxi.example.com:12763/someoneelse;tcp';
    expect(answer(pair, raw([['Message-ID', 'm1234567']], 'hi', { to: other }))).toMatchObject([
      { status: 481 },
    ]);
    const mallory = 'msrp://mallory.example.com:2855/x1y2z3;tcp';
    expect(answer(pair, raw([['Message-ID', 'm1234567']], 'hi', { from: mallory }))).toMatchObject([
      { status: 403 },
    ]);
    pair.bob.flowUp(0, { flowId: 'conn-1' });
    expect(answer(pair, raw([['Message-ID', 'm1234567']], 'hi'), { flowId: 'conn-2' })).toMatchObject([
      { status: 506 },
    ]);
    expect(answer(pair, raw([['Message-ID', 'm1234567']], 'hi'), { flowId: 'conn-1' })).toMatchObject([
      { status: 200 },
    ]);
  });

  it('answers an unknown method 501 and an over-long non-SEND body 413; never answers a REPORT', () => {
    const pair = peer();
    expect(answer(pair, raw([], undefined, { method: 'PING' }))).toMatchObject([{ status: 501 }]);
    expect(answer(pair, raw([], 'x'.repeat(10241), { method: 'NOTE' }))).toMatchObject([{ status: 413 }]);
    const report = raw(
      [
        ['Message-ID', 'nosuch01'],
        ['Status', '000 200 OK'],
      ],
      undefined,
      { method: 'REPORT' },
    );
    expect(answer(pair, report)).toEqual([]);
    expect(pair.of('bob', 'error').at(-1)).toMatchObject({ status: undefined });
  });

  it('answers by Failure-Report: no means no response at all, partial means failures only (§7.1.1)', () => {
    const pair = peer();
    expect(
      answer(
        pair,
        raw(
          [
            ['Message-ID', 'm1234567'],
            ['Failure-Report', 'no'],
          ],
          'hi',
        ),
      ),
    ).toEqual([]);
    expect(
      answer(
        pair,
        raw(
          [
            ['Message-ID', 'm7654321'],
            ['Failure-Report', 'partial'],
          ],
          'hi',
        ),
      ),
    ).toEqual([]);
    expect(pair.of('bob', 'message')).toHaveLength(2);
    expect(
      answer(
        pair,
        raw(
          [
            ['Message-ID', 'm0000001'],
            ['Failure-Report', 'partial'],
            ['Byte-Range', '0-1/2'],
          ],
          'hi',
        ),
      ),
    ).toMatchObject([{ status: 400 }]);
    expect(
      answer(
        pair,
        raw(
          [
            ['Message-ID', 'm0000002'],
            ['Failure-Report', 'no'],
            ['Byte-Range', '0-1/2'],
          ],
          'hi',
        ),
      ),
    ).toEqual([]);
  });

  it('treats a SEND without Byte-Range as the whole message, and an empty SEND as a connection binder', () => {
    const pair = peer();
    expect(answer(pair, raw([['Message-ID', 'm1234567']], 'all of it'))).toMatchObject([{ status: 200 }]);
    expect(
      answer(
        pair,
        raw(
          [
            ['Message-ID', 'm7654321'],
            ['Byte-Range', '1-0/0'],
          ],
          undefined,
        ),
      ),
    ).toMatchObject([{ status: 200 }]);
    expect(pair.of('bob', 'message').map((m) => text(m.bytes))).toEqual(['all of it']);
  });

  it('refuses a message over max-size with 413, and so every later chunk of it; the sender stops (§10.5)', () => {
    const pair = new MsrpPair({
      alice: { chunkSize: 100, window: 100, framing: 'message' },
      bob: { maxSize: 250 },
    });
    const id = pair.alice.send({ contentType: 'text/plain', body: 'x'.repeat(500) });
    pair.settle();
    expect(sends(pair)).toHaveLength(1);
    expect(pair.of('alice', 'report')).toMatchObject([
      { messageId: id, success: false, status: 413, local: false },
    ]);
    expect(pair.of('bob', 'error')).toMatchObject([{ status: 413 }]);
    const late = raw(
      [
        ['Message-ID', id],
        ['Byte-Range', '101-102/500'],
      ],
      'xx',
    );
    expect(answer(pair, late)).toMatchObject([{ status: 413 }]);
  });

  it('refuses with 413 a message of unknown size once its bytes pass max-size', () => {
    const pair = peer({ bob: { maxSize: 5 } });
    expect(
      answer(
        pair,
        raw(
          [
            ['Message-ID', 'm1234567'],
            ['Byte-Range', '1-*/*'],
          ],
          'abc',
          { flag: '+' },
        ),
      ),
    ).toMatchObject([{ status: 200 }]);
    expect(
      answer(
        pair,
        raw(
          [
            ['Message-ID', 'm1234567'],
            ['Byte-Range', '4-*/*'],
          ],
          'defg',
          { flag: '$' },
        ),
      ),
    ).toMatchObject([{ status: 413 }]);
  });

  it('refuses types it does not accept with 415, message/cpim by its wrapped type too (§8.6)', () => {
    const pair = new MsrpPair({
      bob: { acceptTypes: ['text/*', 'message/cpim'], acceptWrappedTypes: ['image/png'] },
    });
    const cpim = (inner: string): string =>
      `From: <sip:alice@atlanta.example.com>\r\nTo: <sip:bob@biloxi.example.com>\r\nDateTime: 2006-05-15T15:02:31-03:00\r\n\r\nContent-Type: ${inner}\r\n\r\nbody`;
    const image = pair.alice.send({ contentType: 'image/png', body: 'png' });
    const html = pair.alice.send({ contentType: 'text/html', body: '<b>hi</b>' });
    const wrappedPng = pair.alice.send({ contentType: 'message/cpim', body: cpim('image/png') });
    const wrappedText = pair.alice.send({
      contentType: 'message/cpim',
      body: cpim('text/plain;charset=utf-8'),
    });
    const wrappedVideo = pair.alice.send({ contentType: 'message/cpim', body: cpim('video/mp4') });
    pair.settle();
    expect(pair.of('bob', 'message').map((m) => m.messageId)).toEqual([html, wrappedPng, wrappedText]);
    expect(pair.of('alice', 'report').map((r) => [r.messageId, r.status])).toEqual([
      [image, 415],
      [wrappedVideo, 415],
    ]);
  });

  it('reports bytes that cannot be framed as a fatal error (the driver closes the connection)', () => {
    const pair = peer();
    expect(answer(pair, bytesOf('HELLO\r\n'))).toEqual([]);
    expect(pair.of('bob', 'error')).toMatchObject([{ status: undefined, fatal: true }]);
  });

  it('reports a failure REPORT from the far end as the message failing (§7.1.2)', () => {
    const pair = new MsrpPair();
    pair.policy = (f) => (f.method === 'REPORT' ? 'drop' : 'deliver');
    const id = pair.alice.send({ contentType: 'text/plain', body: 'hi' }, { successReport: true });
    pair.settle();
    expect(pair.alice.messageState(id)).toBe('sent');
    const report = msrpRequest({
      method: 'REPORT',
      transactionId: 'rep12345',
      toPath: [ALICE],
      fromPath: [BOB],
      headers: [
        ['Message-ID', id],
        ['Byte-Range', '1-2/2'],
        ['Status', '000 408 Request Timeout'],
      ],
    });
    pair.deliver('alice', serializeMsrpFrame(report));
    expect(pair.of('alice', 'report')).toMatchObject([
      {
        messageId: id,
        success: false,
        status: 408,
        comment: 'Request Timeout',
        local: false,
        byteRange: parseByteRange('1-2/2'),
      },
    ]);
    // A REPORT is never answered.
    expect(pair.alice.takeTransmissions()).toEqual([]);
  });
});

describe('MsrpSession: connection and API', () => {
  it('sends an empty SEND on connecting when it is the active side and has nothing to say (§5.4)', () => {
    const pair = new MsrpPair({ alice: { active: true } });
    pair.alice.flowUp(0, { flowId: 'c1' });
    pair.settle();
    expect(sends(pair).map(range)).toEqual(['1-0/0']);
    expect(pair.wire.at(-1)?.frame.status).toBe(200);
    expect(pair.events.bob).toEqual([]);
  });

  it('fails unfinished messages with 408 when the connection drops, and closes', () => {
    const pair = new MsrpPair({ alice: { chunkSize: 10, framing: 'message' } });
    pair.policy = (f, from) => (from === 'bob' ? 'hold' : 'deliver');
    const id = pair.alice.send({ contentType: 'text/plain', body: 'x'.repeat(30) });
    pair.settle();
    pair.alice.flowDown(1);
    expect(pair.alice.takeEvents()).toEqual([
      {
        type: 'report',
        messageId: id,
        success: false,
        status: 408,
        comment: 'Connection lost',
        byteRange: undefined,
        local: true,
      },
      { type: 'closed', reason: 'connection lost' },
    ]);
    expect(pair.alice.closed).toBe(true);
    expect(() => pair.alice.send({ contentType: 'text/plain', body: 'x' })).toThrow(InvalidStateError);
    expect(pair.alice.nextDeadline()).toBeUndefined();
  });

  it('has the shape the drivers run (SansIoCore): receive, timers, transmissions, events, flows', () => {
    const session = new MsrpSession({ localUri: ALICE, remotePath: [BOB], random: seededRandom(5) });
    const core: SansIoCore<MsrpSessionEvent> = session;
    core.flowUp(0, { transport: 'WS', reliable: true, flowId: 'ws-1' });
    core.receive(
      'MSRP abcd1234 SEND\r\nTo-Path: ' +
        ALICE +
        '\r\nFrom-Path: ' +
        BOB +
        '\r\nMessage-ID: m1234567\r\n-------abcd1234$\r\n',
      1,
    );
    expect(core.takeTransmissions().map((t) => parseMsrpFrame(t.data).status)).toEqual([200]);
    expect(core.takeEvents()).toEqual([]);
  });

  it('throws at API misuse, never at the peer', () => {
    const s = new MsrpSession({ localUri: ALICE, random: seededRandom(3) });
    expect(() => s.send({ contentType: 'text', body: 'x' })).toThrow(TypeError);
    expect(() => s.send({ contentType: 'text/plain', body: 'x' }, { from: 5 })).toThrow(TypeError);
    expect(() =>
      s.send({ contentType: 'text/plain', body: 'x', headers: [['Byte-Range', '1-1/1']] }),
    ).toThrow(TypeError);
    s.send({ contentType: 'text/plain', body: 'x' }, { messageId: 'same0001' });
    expect(() => s.send({ contentType: 'text/plain', body: 'y' }, { messageId: 'same0001' })).toThrow(
      TypeError,
    );
    expect(() => new MsrpSession({ localUri: 'msrp://no.session;tcp', random: Math.random })).toThrow(
      TypeError,
    );
    expect(() => s.setRemotePath(['sip:bob@example.com'])).toThrow(TypeError);
    expect(() => s.receive(new Uint8Array(0), Number.NaN)).toThrow(TypeError);
    // Without a remote path nothing is sent yet; once known, the queued message goes.
    expect(s.takeTransmissions()).toEqual([]);
    s.setRemotePath([BOB]);
    expect(s.takeTransmissions()).toHaveLength(3);
    s.close();
    expect(() => s.send({ contentType: 'text/plain', body: 'x' })).toThrow(InvalidStateError);
  });
});

describe('MsrpSession properties: whatever a peer sends', () => {
  const request = fc.record({
    method: fc.constantFrom('SEND', 'SEND', 'SEND', 'REPORT', 'AUTH', 'NOTE'),
    to: fc.constantFrom(BOB, BOB, BOB, 'msrp://biloxi.example.com:12763/other;tcp'),
    from: fc.constantFrom(ALICE, ALICE, ALICE, 'msrp://mallory.example.com/m1;tcp'),
    messageId: fc.option(fc.constantFrom('m1aaaaaa', 'm2bbbbbb', 'bad id')),
    range: fc.option(
      fc.oneof(
        fc
          .tuple(
            fc.integer({ min: 0, max: 40 }),
            fc.option(fc.integer({ min: 0, max: 60 })),
            fc.option(fc.integer({ min: 0, max: 60 })),
          )
          .map(([s, e, t]) => `${s}-${e ?? '*'}/${t ?? '*'}`),
        fc.constantFrom('junk', '1-2'),
      ),
    ),
    failure: fc.option(fc.constantFrom('yes', 'no', 'partial', 'maybe')),
    success: fc.option(fc.constantFrom('yes', 'no')),
    status: fc.option(fc.constantFrom('000 200 OK', '000 413 Too big', 'junk')),
    type: fc.option(fc.constantFrom('text/plain', 'image/png', 'message/cpim')),
    body: fc.uint8Array({ maxLength: 30 }),
    flag: fc.constantFrom<'$' | '+' | '#'>('$', '+', '#'),
  });

  it('never throws, answers every request that asks for it exactly once, and never answers a REPORT', () => {
    fc.assert(
      fc.property(
        fc.array(request, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (reqs, cuts) => {
          const frames = reqs.map((r, i) => {
            const headers: MsrpHeader[] = [];
            if (r.messageId !== null) headers.push(['Message-ID', r.messageId]);
            if (r.range !== null) headers.push(['Byte-Range', r.range]);
            if (r.failure !== null) headers.push(['Failure-Report', r.failure]);
            if (r.success !== null) headers.push(['Success-Report', r.success]);
            if (r.status !== null) headers.push(['Status', r.status]);
            return msrpRequest({
              method: r.method,
              transactionId: `tx${String(i).padStart(6, '0')}`,
              toPath: [r.to],
              fromPath: [r.from],
              headers,
              body: r.type === null ? undefined : r.body,
              contentType: r.type ?? undefined,
              flag: r.flag,
            });
          });
          const bob = new MsrpSession({
            localUri: BOB,
            remotePath: [ALICE],
            random: seededRandom(9),
            maxSize: 40,
            bufferLimit: 20,
            acceptTypes: ['text/plain', 'message/cpim'],
          });
          const bytes = Uint8Array.from(frames.flatMap((f) => [...serializeMsrpFrame(f)]));
          let from = 0;
          for (const p of [...cuts.map((c) => c % (bytes.length + 1)).sort((x, y) => x - y), bytes.length]) {
            bob.receive(bytes.subarray(from, Math.max(from, p)), 0);
            from = Math.max(from, p);
          }
          const answered = new Map<string, number>();
          const framer = new MsrpFramer();
          for (const t of bob.takeTransmissions())
            for (const ev of framer.push(t.data)) {
              expect(ev.type).toBe('frame');
              if (ev.type === 'frame' && ev.frame.status !== undefined)
                answered.set(ev.frame.transactionId, (answered.get(ev.frame.transactionId) ?? 0) + 1);
            }
          frames.forEach((f, i) => {
            const failure = reqs[i]!.failure;
            const expected =
              f.method === 'REPORT' || failure === 'no' ? 0 : failure === 'partial' ? undefined : 1;
            if (expected !== undefined)
              expect(answered.get(f.transactionId) ?? 0, `${i} ${f.method}`).toBe(expected);
          });
          for (const e of bob.takeEvents())
            if (e.type === 'message') expect(e.bytes.length).toBeLessThanOrEqual(40);
        },
      ),
      { numRuns: 400 },
    );
  });
});
