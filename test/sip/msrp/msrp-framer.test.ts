import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MsrpFramer,
  msrpRequest,
  msrpResponse,
  serializeMsrpFrame,
  type MsrpFrame,
  type MsrpFramerEvent,
} from '../../../web/src/sip/index.ts';
import { bytesOf, text } from '../../support/msrp-pair.ts';

const A = 'msrp://atlanta.example.com:7654/jshA7weztas;tcp';
const B = 'msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp';

function send(tid: string, body: Uint8Array | string | undefined, flag: '$' | '+' | '#' = '$'): MsrpFrame {
  const bytes = typeof body === 'string' ? bytesOf(body) : body;
  return msrpRequest({
    method: 'SEND',
    transactionId: tid,
    toPath: [B],
    fromPath: [A],
    headers: [
      ['Message-ID', 'msg00001'],
      ['Byte-Range', `1-*/*`],
    ],
    body: bytes,
    contentType: bytes === undefined ? undefined : 'text/plain',
    flag,
  });
}

// A stream of frames that tests every way a body can end: look-alike end-lines (another id, eight dashes, no
// flag, no CRLF before them), an empty body, binary bytes with bare CRs, bodyless responses and an empty SEND.
const lookAlike =
  'one\r\n-------abcd1235$\r\n--------abcd1234$\r\n-------abcd1234\r\nx-------abcd1234$\r\n-------abcd1234$x\r\n';
const binary = Uint8Array.from({ length: 120 }, (_, i) => (i * 37 + 13) % 256);
const frames: MsrpFrame[] = [
  send('abcd1234', lookAlike),
  msrpResponse(send('abcd1234', 'x'), 200),
  send('efgh5678', '', '+'),
  send('ijkl9012', binary, '#'),
  send('mnop3456', undefined),
  msrpResponse(send('qrst7890', 'x'), 413, { comment: 'too big' }),
];
const stream = Uint8Array.from(frames.flatMap((f) => [...serializeMsrpFrame(f)]));

function summary(events: MsrpFramerEvent[]): unknown[] {
  return events.map((e) => (e.type === 'frame' ? e.frame : e));
}

describe('MsrpFramer', () => {
  it('frames whole input, bodies ending only at their own end-line', () => {
    const events = new MsrpFramer().push(stream);
    expect(summary(events)).toEqual(frames);
    expect(text((events[0] as { frame: MsrpFrame }).frame.body!)).toBe(lookAlike);
  });

  it('gives the same frames split at every offset', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const f = new MsrpFramer();
      const events = [...f.push(stream.subarray(0, cut)), ...f.push(stream.subarray(cut))];
      expect(summary(events), `cut at ${cut}`).toEqual(frames);
      expect(f.buffered).toBe(0);
    }
  });

  it('gives the same frames fed one byte at a time', () => {
    const f = new MsrpFramer();
    const events: MsrpFramerEvent[] = [];
    for (let i = 0; i < stream.length; i++) events.push(...f.push(stream.slice(i, i + 1)));
    expect(summary(events)).toEqual(frames);
  });

  it('does not copy a body that arrives within one chunk: it is a view of that chunk', () => {
    const input = stream.slice();
    const [first] = new MsrpFramer().push(input);
    expect(first?.type === 'frame' && first.frame.body!.buffer).toBe(input.buffer);
  });

  it('keeps the views it handed out intact while more bytes arrive', () => {
    const f = new MsrpFramer();
    const bytes = serializeMsrpFrame(send('abcd1234', 'first body'));
    const events = [...f.push(bytes.subarray(0, 20)), ...f.push(bytes.subarray(20))];
    const next = serializeMsrpFrame(send('wxyz0987', 'second body, longer than the first one'));
    f.push(next.subarray(0, next.length - 5));
    f.push(next.subarray(next.length - 5));
    expect(text((events[0] as { frame: MsrpFrame }).frame.body!)).toBe('first body');
  });

  it('surfaces a huge body in pieces (start, data, end) and holds only a few bytes meanwhile', () => {
    const body = Uint8Array.from({ length: 50_000 }, (_, i) => (i % 7 === 0 ? 13 : i % 256));
    const bytes = serializeMsrpFrame(send('huge0001', body, '+'));
    const f = new MsrpFramer({ streamAbove: 1000 });
    const events: MsrpFramerEvent[] = [];
    let maxHeld = 0;
    for (let at = 0; at < bytes.length; at += 777) {
      events.push(...f.push(bytes.subarray(at, at + 777)));
      maxHeld = Math.max(maxHeld, f.buffered);
    }
    expect(events[0]).toMatchObject({ type: 'start', frame: { transactionId: 'huge0001', method: 'SEND' } });
    expect(events.at(-1)).toEqual({ type: 'end', transactionId: 'huge0001', flag: '+' });
    const data = events.flatMap((e) => (e.type === 'data' ? [...e.data] : []));
    expect(Uint8Array.from(data)).toEqual(body);
    expect(maxHeld).toBeLessThan(1000 + 777 + 300);
  });

  it('reports a delimited but malformed frame as invalid and keeps framing', () => {
    const bad = text(serializeMsrpFrame(send('abcd1234', 'hi'))).replace(
      'Message-ID: msg00001',
      'Message-ID msg00001',
    );
    const noTo = text(serializeMsrpFrame(send('bcde2345', 'hi'))).replace(/To-Path: [^\r]*\r\n/, '');
    const events = new MsrpFramer().push(
      bytesOf(bad + noTo + text(serializeMsrpFrame(send('cdef3456', 'ok')))),
    );
    expect(events.map((e) => e.type)).toEqual(['invalid', 'invalid', 'frame']);
    expect(events[0]).toMatchObject({
      frame: { transactionId: 'abcd1234', method: 'SEND' },
      error: { statusHint: 400 },
    });
    // What could be read is kept, so the 400 can be addressed.
    expect(events[0]!.type === 'invalid' && events[0]!.frame.headers.map(([n]) => n)).toContain('From-Path');
    expect(events[1]).toMatchObject({ error: { reason: 'To-Path is missing' } });
  });

  it.each([
    ['bytes that are not MSRP', 'GET / HTTP/1.1\r\n\r\n'],
    ['a start line without a transaction id', 'MSRP SEND\r\nTo-Path: x\r\n'],
    ['a header section over the limit', 'MSRP abcd1234 SEND\r\n' + 'X-Pad: yyyyyyyyyy\r\n'.repeat(1000)],
  ])('stops for good at %s (no way to find the next frame)', (_, junk) => {
    const f = new MsrpFramer();
    const events = f.push(bytesOf(junk));
    expect(events).toMatchObject([{ type: 'error' }]);
    expect(f.failed).toBe(true);
    expect(f.push(serializeMsrpFrame(send('abcd1234', 'x')))).toEqual([]);
  });

  it('tells a header section over the limit apart with status hint 413', () => {
    const events = new MsrpFramer({ maxHeadBytes: 200 }).push(
      bytesOf('MSRP abcd1234 SEND\r\n' + 'X-Pad: yyyyyyyyyy\r\n'.repeat(20)),
    );
    expect(events).toMatchObject([{ type: 'error', error: { statusHint: 413 } }]);
  });
});

// ---- properties -------------------------------------------------------------------------------------------------

const idChars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const tid = fc
  .array(fc.constantFrom(...idChars.split('')), { minLength: 8, maxLength: 16 })
  .map((a) => a.join(''));
// Bodies drawn to hit the scanner's corners: CR, LF, dashes, flags, and fragments of real end-lines.
const bodyPiece = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom('\r', '\n', '\r\n', '-------', '$', '+', '#', '\r\n-------', '\r\n--------').map(bytesOf),
);
const body = fc.array(bodyPiece, { maxLength: 8 }).map((ps) => Uint8Array.from(ps.flatMap((p) => [...p])));
const arbitraryFrame: fc.Arbitrary<MsrpFrame> = fc
  .record({
    id: tid,
    kind: fc.constantFrom('send', 'empty-send', 'response', 'report'),
    body,
    flag: fc.constantFrom<'$' | '+' | '#'>('$', '+', '#'),
    status: fc.constantFrom(200, 400, 413, 481),
  })
  .map(({ id, kind, body: b, flag, status }) => {
    if (kind === 'response') return msrpResponse(send(id, 'x'), status);
    if (kind === 'empty-send') return send(id, undefined);
    if (kind === 'report')
      return msrpRequest({
        method: 'REPORT',
        transactionId: id,
        toPath: [A],
        fromPath: [B],
        headers: [['Status', '000 200 OK']],
      });
    return send(id, b, flag);
  });

describe('MsrpFramer properties', () => {
  it('any sequence of frames, split anywhere, frames back to the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryFrame, { minLength: 1, maxLength: 5 }).filter((fs) =>
          // A body holding its own frame's end-line cannot be framed by anyone; senders avoid that (§7.1.1).
          fs.every(
            (f) =>
              !text(serializeMsrpFrame(f))
                .slice(0, -(f.transactionId.length + 10))
                .includes(`\r\n-------${f.transactionId}`),
          ),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        (fs, cuts) => {
          const bytes = Uint8Array.from(fs.flatMap((f) => [...serializeMsrpFrame(f)]));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
          const framer = new MsrpFramer();
          const events: MsrpFramerEvent[] = [];
          let from = 0;
          for (const p of [...points, bytes.length]) {
            events.push(...framer.push(bytes.subarray(from, p)));
            from = p;
          }
          expect(summary(events)).toEqual(fs);
          expect(framer.buffered).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws and never loops on arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.constantFrom(...frames.map(serializeMsrpFrame))),
        ),
        (parts) => {
          const framer = new MsrpFramer({ maxHeadBytes: 512 });
          for (const p of parts) {
            const events = framer.push(p);
            expect(Array.isArray(events)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
