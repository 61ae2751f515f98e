import { describe, expect, it } from 'vitest';
import { StreamFramer, type FrameEvent } from '../../../web/src/sip/server.ts';
import { loadTortureCases } from '../../support/conformance.ts';

const enc = new TextEncoder();
const msg = (cseq: number, body = ''): string =>
  [
    'MESSAGE sip:bob@b.example SIP/2.0',
    `Via: SIP/2.0/TCP a.example;branch=z9hG4bK${cseq}`,
    'From: <sip:alice@a.example>;tag=1',
    'To: <sip:bob@b.example>',
    'Call-ID: framer-test',
    `CSeq: ${cseq} MESSAGE`,
    'Content-Type: text/plain',
    `Content-Length: ${enc.encode(body).length}`,
    '',
    body,
  ].join('\r\n');

const stream = enc.encode(
  msg(1, 'hello') + '\r\n\r\n' + msg(2, 'CRLF inside\r\n\r\nthe body ✓') + msg(3) + '\r\n' + msg(4),
);

function kinds(events: FrameEvent[]): string[] {
  return events.map((e) =>
    e.type === 'message'
      ? `message:${e.message.cseq.seq}:${e.message.bodyText}`
      : e.type === 'keepalive'
        ? e.kind
        : e.type,
  );
}

const expected = [
  'message:1:hello',
  'ping',
  'message:2:CRLF inside\r\n\r\nthe body ✓',
  'message:3:',
  'pong',
  'message:4:',
];

describe('StreamFramer', () => {
  it('frames whole input: messages by Content-Length, CRLFCRLF ping, CRLF pong (RFC 5626 §3.5.1)', () => {
    expect(kinds(new StreamFramer().push(stream))).toEqual(expected);
  });

  it('gives the same result split at every offset', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const f = new StreamFramer();
      const events = [...f.push(stream.subarray(0, cut)), ...f.push(stream.subarray(cut))];
      expect(kinds(events), `cut at ${cut}`).toEqual(expected);
      expect(f.buffered).toBe(0);
    }
  });

  it('gives the same result fed one byte at a time', () => {
    const f = new StreamFramer();
    const events: FrameEvent[] = [];
    for (let i = 0; i < stream.length; i++) events.push(...f.push(stream.subarray(i, i + 1)));
    expect(kinds(events)).toEqual(expected);
  });

  it('a server waits for a whole ping; a client reports a trailing CRLF as a pong at once', () => {
    const server = new StreamFramer();
    expect(server.push(enc.encode('\r\n'))).toEqual([]);
    expect(server.push(enc.encode('\r\n'))).toEqual([{ type: 'keepalive', kind: 'ping' }]);
    const client = new StreamFramer({ keepAliveRole: 'client' });
    expect(client.push(enc.encode('\r\n'))).toEqual([{ type: 'keepalive', kind: 'pong' }]);
  });

  it('reports a framed but malformed message as invalid and keeps going', () => {
    const bad = msg(1).replace('CSeq: 1 MESSAGE', 'CSeq: x MESSAGE');
    const events = new StreamFramer().push(enc.encode(bad + msg(2)));
    expect(events.map((e) => e.type)).toEqual(['invalid', 'message']);
  });

  it.each([
    ['ncl.dat', /Content-Length/],
    ['mcl01.dat', /more than one Content-Length/],
  ])('treats %s as a framing error and stops (no loop, no resync)', (file, reason) => {
    const c = loadTortureCases().find((x) => x.file === file)!;
    const f = new StreamFramer();
    const events = f.push(c.bytes);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'error' });
    expect((events[0] as { error: Error }).error.message).toMatch(reason);
    expect(f.failed).toBe(true);
    expect(f.push(enc.encode(msg(1)))).toEqual([]);
  });

  it('requires Content-Length on a stream (RFC 3261 §18.3)', () => {
    const noLength = msg(1).replace(/Content-Length: 0\r\n/, '');
    const events = new StreamFramer().push(enc.encode(noLength));
    expect(events).toMatchObject([{ type: 'error' }]);
  });

  it('bounds the header section and the body', () => {
    const f = new StreamFramer({ maxHeaderBytes: 100 });
    expect(f.push(enc.encode('MESSAGE sip:x SIP/2.0\r\n' + 'X: y\r\n'.repeat(50)))).toMatchObject([
      { type: 'error', error: { statusHint: 413 } },
    ]);
    const g = new StreamFramer({ maxBodyBytes: 10 });
    expect(g.push(enc.encode(msg(1).replace('Content-Length: 0', 'Content-Length: 11')))).toMatchObject([
      { type: 'error', error: { statusHint: 413 } },
    ]);
  });
});
