// The MSRP relay's logic (RFC 4976, RFC 7977) with in-memory links: AUTH, path rewriting, the sender check,
// hop-by-hop responses and failure REPORTs, re-chunking, back-pressure and timeouts. Synchronous, explicit time.

import { describe, expect, it } from 'vitest';

import {
  Client,
  RELAY_TCP,
  RELAY_WS,
  RelayHarness,
  frame,
  header,
  openAuth,
  pump,
  type FakeLink,
} from './relay-harness.ts';

const A = 'msrp://a7x9k2.invalid:2855/sa1;ws';
const B = 'msrp://b3q8w1.invalid:2855/sb1;ws';
const P = 'msrp://127.0.0.1:7000/p1;tcp';

/** A WebSocket client that has AUTHed; returns its Use-Path. */
function authed(h: RelayHarness, uri = A, user = 'alice', password = 'secret'): { c: Client; path: string } {
  const c = new Client(h, h.link('ws'), { localUri: uri });
  c.session.authenticate(RELAY_WS, { credentials: { username: user, password }, now: h.now });
  pump(h, [c]);
  const ok = c.of('auth').find((e) => e.ok);
  if (ok === undefined || !ok.ok) throw new Error(`AUTH failed: ${JSON.stringify(c.events)}`);
  return { c, path: ok.usePath[0]! };
}

const send = (tid: string, to: string, from: string, body = 'hi', extra: [string, string][] = []) =>
  frame(
    tid,
    'SEND',
    [
      ['To-Path', to],
      ['From-Path', from],
      ['Message-ID', `m-${tid}`],
      ...(extra.some(([n]) => n === 'Byte-Range')
        ? []
        : [['Byte-Range', `1-${Buffer.byteLength(body)}/${Buffer.byteLength(body)}`] as [string, string]]),
      ...extra,
      ['Content-Type', 'text/plain'],
    ],
    body,
  );

describe('MSRP relay: AUTH (RFC 4976 §5.1, §6.1)', () => {
  it('challenges, then grants a session with Use-Path and Expires', () => {
    const h = new RelayHarness();
    const link = h.link('ws');
    h.send(
      link,
      frame('t0001', 'AUTH', [
        ['To-Path', RELAY_WS],
        ['From-Path', A],
      ]),
    );
    const [challenge] = link.take();
    expect(challenge?.status).toBe(401);
    expect(header(challenge!, 'To-Path')).toBe(A);
    expect(challenge!.headers.filter(([n]) => n === 'WWW-Authenticate').map(([, v]) => v)).toEqual([
      expect.stringContaining('algorithm=SHA-256'),
      expect.stringContaining('algorithm=MD5'),
    ]);
    expect(h.relay.sessionCount).toBe(0);

    const { c, path } = authed(h);
    expect(path).toMatch(/^msrp:\/\/127\.0\.0\.1:2855\/id\d+;tcp$/);
    expect(c.session.authState).toBe('Authenticated');
    expect(c.session.localPath).toEqual([path, A]);
    expect(h.relay.sessions().map((s) => [s.user, s.client])).toEqual([['alice', A]]);
    expect(h.metrics.msrpSessions.get()).toBe(1);
  });

  it('a wrong password gets 401 again and no session', () => {
    const h = new RelayHarness();
    const c = new Client(h, h.link('ws'), { localUri: A });
    c.session.authenticate(RELAY_WS, { credentials: { username: 'alice', password: 'nope' }, now: h.now });
    pump(h, [c]);
    expect(c.of('auth')).toEqual([expect.objectContaining({ ok: false, status: 401 })]);
    expect(h.relay.sessionCount).toBe(0);
  });

  it('an Expires out of bounds is refused 423 with Min-Expires or Max-Expires, then granted within them', () => {
    const h = new RelayHarness();
    const low = new Client(h, h.link('ws'), { localUri: A });
    low.session.authenticate(RELAY_WS, {
      credentials: { username: 'alice', password: 'secret' },
      expires: 10,
      now: h.now,
    });
    pump(h, [low]);
    expect(low.of('auth')).toEqual([expect.objectContaining({ ok: true, expires: 60 })]);

    const link = h.link('ws');
    h.send(
      link,
      frame('t0002', 'AUTH', [
        ['To-Path', RELAY_WS],
        ['From-Path', B],
        ['Expires', '99999'],
      ]),
    );
    // Credentials are checked first (RFC 4976 §6.1), so the bound comes with the second try; see the session above.
    expect(link.take()[0]?.status).toBe(401);
    const high = new Client(h, h.link('ws'), { localUri: B });
    high.session.authenticate(RELAY_WS, {
      credentials: { username: 'bob', password: 'hunter2' },
      expires: 99999,
      now: h.now,
    });
    const wire: number[] = [];
    for (let i = 0; i < 10; i++) {
      for (const t of high.session.takeTransmissions()) h.send(high.link, t.data);
      for (const f of high.link.take()) {
        if (f.status !== undefined) wire.push(f.status);
        if (f.status === 423) expect(header(f, 'Max-Expires')).toBe('3600');
        high.session.receive(Buffer.from(frameBytes(f)), h.now);
      }
    }
    expect(wire).toEqual([401, 423, 200]);
    expect(high.session.takeEvents()).toContainEqual(
      expect.objectContaining({ type: 'auth', ok: true, expires: 3600 }),
    );
  });

  it('a refresh keeps the session and its Use-Path; the session ends when it expires', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    h.advance(1000);
    c.session.handleTimers(h.now + 1_800_000 - 60_000);
    pump(h, [c]);
    const auths = c.of('auth');
    expect(auths).toHaveLength(2);
    expect(auths[1]).toMatchObject({ ok: true, usePath: [path] });
    expect(h.relay.sessionCount).toBe(1);
    // Not refreshed: gone after its Expires; frames for it get 481.
    h.advance(1_801_000 + 5000);
    expect(h.relay.sessionCount).toBe(0);
    const peer = h.link('tcp');
    h.send(peer, send('t0003', `${path} ${A}`, P));
    expect(peer.take()[0]?.status).toBe(481);
  });

  it('beside a PBX without users: AUTH is granted without a challenge', () => {
    const h = new RelayHarness({ auth: openAuth() });
    const link = h.link('ws');
    h.send(
      link,
      frame('t0004', 'AUTH', [
        ['To-Path', RELAY_WS],
        ['From-Path', A],
      ]),
    );
    const [ok] = link.take();
    expect(ok?.status).toBe(200);
    expect(header(ok!, 'Use-Path')).toMatch(/;tcp$/);
    expect(header(ok!, 'Expires')).toBe('1800');
  });

  it('an AUTH for another relay, or from a path of several URIs, is refused 403', () => {
    const h = new RelayHarness();
    const link = h.link('ws');
    h.send(
      link,
      frame('t0005', 'AUTH', [
        ['To-Path', `${RELAY_WS} msrp://other.example.com;tcp`],
        ['From-Path', A],
      ]),
    );
    h.send(
      link,
      frame('t0006', 'AUTH', [
        ['To-Path', RELAY_WS],
        ['From-Path', `${P} ${A}`],
      ]),
    );
    expect(link.take().map((f) => f.status)).toEqual([403, 403]);
  });
});

describe('MSRP relay: relaying (RFC 4976 §6)', () => {
  it('browser → TCP peer: our URI off To-Path, onto From-Path, body untouched, 200 hop by hop', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    const body = Buffer.from('Wherefore art thou, Romeo?');
    const input = send('t0010', `${path} ${P}`, A, body.toString());
    h.send(c.link, input);
    expect(h.connected.map((x) => x.uri.text)).toEqual([P]);
    const out = h.connected[0]!.link;
    const [fwd] = out.take();
    expect(fwd).toMatchObject({ method: 'SEND', transactionId: 't0010', flag: '$' });
    expect(header(fwd!, 'To-Path')).toBe(P);
    expect(header(fwd!, 'From-Path')).toBe(`${path} ${A}`);
    expect(header(fwd!, 'Message-ID')).toBe('m-t0010');
    expect(Buffer.from(fwd!.body!).equals(body)).toBe(true);
    // Only the head was rewritten: the body went out as a view of the bytes that came in.
    expect(out.writes[0]![1]!.buffer).toBe(input.buffer);
    const [ok] = c.link.take();
    expect(ok).toMatchObject({ status: 200, transactionId: 't0010' });
    expect(header(ok!, 'To-Path')).toBe(A);
    expect(header(ok!, 'From-Path')).toBe(path);
    // The peer's own 200 is the relay's to take: nothing goes back to the browser.
    h.send(
      out,
      frame('t0010', '200 OK', [
        ['To-Path', path],
        ['From-Path', P],
      ]),
    );
    expect(c.link.take()).toEqual([]);
    expect(h.relay.pendingCount).toBe(0);
  });

  it('TCP peer → browser, fed whole, split at every offset and byte by byte', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    const input = send('t0011', `${path} ${A}`, P, 'Good night, good night!');
    const feeds = [
      [input],
      ...Array.from({ length: input.length - 1 }, (_, i) => [
        input.subarray(0, i + 1),
        input.subarray(i + 1),
      ]),
      Array.from(input, (b) => Buffer.from([b])),
    ];
    for (const pieces of feeds) {
      const peer = h.link('tcp');
      for (const p of pieces) h.send(peer, p);
      const [fwd] = c.link.take();
      expect(header(fwd!, 'To-Path')).toBe(A);
      expect(header(fwd!, 'From-Path')).toBe(`${path} ${P}`);
      expect(Buffer.from(fwd!.body!).toString()).toBe('Good night, good night!');
      expect(peer.take().map((f) => f.status)).toEqual([200]);
      h.send(
        c.link,
        frame(fwd!.transactionId, '200 OK', [
          ['To-Path', path],
          ['From-Path', A],
        ]),
      );
    }
  });

  it('two MsrpSessions chat through it both ways, with success reports', () => {
    const h = new RelayHarness();
    const { c: alice, path } = authed(h);
    alice.session.setRemotePath([P]);
    // The peer listens; the relay connects to it for Alice's first SEND.
    alice.session.send({ contentType: 'text/plain', body: 'But soft! what light' }, { successReport: true });
    pump(h, [alice]);
    const peer = new Client(h, h.connected[0]!.link, { localUri: P, remotePath: [path, A] });
    pump(h, [alice, peer]);
    peer.session.send({ contentType: 'text/plain', body: 'It is the east' }, { successReport: true });
    pump(h, [alice, peer]);
    expect(peer.of('message').map((m) => Buffer.from(m.bytes).toString())).toEqual(['But soft! what light']);
    expect(alice.of('message').map((m) => Buffer.from(m.bytes).toString())).toEqual(['It is the east']);
    for (const c of [alice, peer]) {
      expect(c.of('report')).toEqual([expect.objectContaining({ success: true, status: 200 })]);
      expect(c.of('error')).toEqual([]);
    }
  });

  it('browser to browser: through both sessions, each adding itself to From-Path', () => {
    const h = new RelayHarness();
    const { c: a, path: pa } = authed(h, A);
    const { c: b, path: pb } = authed(h, B, 'bob', 'hunter2');
    h.send(a.link, send('t0012', `${pa} ${pb} ${B}`, A));
    const [fwd] = b.link.take();
    expect(header(fwd!, 'To-Path')).toBe(B);
    expect(header(fwd!, 'From-Path')).toBe(`${pb} ${pa} ${A}`);
    expect(a.link.take().map((f) => f.status)).toEqual([200]);
    expect(h.connected).toEqual([]);
  });

  it('a peer that connected first gets the answers on its own connection (RFC 4975 §5.4)', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    const peer = h.link('tcp');
    h.send(peer, send('t0013', `${path} ${A}`, P));
    c.link.take();
    h.send(c.link, send('t0014', `${path} ${P}`, A, 'reply'));
    expect(h.connected).toEqual([]);
    expect(peer.take().map((f) => f.method ?? f.status)).toEqual([200, 'SEND']);
  });

  it('REPORTs are relayed and never answered', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    const peer = h.link('tcp');
    const report = frame('t0015', 'REPORT', [
      ['To-Path', `${path} ${A}`],
      ['From-Path', P],
      ['Message-ID', 'm1'],
      ['Byte-Range', '1-2/2'],
      ['Status', '000 200 OK'],
    ]);
    h.send(peer, report);
    expect(c.link.take().map((f) => [f.method, header(f, 'From-Path')])).toEqual([
      ['REPORT', `${path} ${P}`],
    ]);
    expect(peer.take()).toEqual([]);
  });
});

describe('MSRP relay: refusals', () => {
  it('unknown session → 481; Failure-Report no → nothing; REPORT → nothing', () => {
    const h = new RelayHarness();
    const peer = h.link('tcp');
    h.send(peer, send('t0020', `msrp://127.0.0.1:2855/nosuch;tcp ${A}`, P));
    h.send(peer, send('t0021', `msrp://127.0.0.1:2855/nosuch;tcp ${A}`, P, 'x', [['Failure-Report', 'no']]));
    h.send(peer, send('t0022', `msrp://elsewhere.example.com:2855/s;tcp ${A}`, P));
    expect(peer.take().map((f) => [f.transactionId, f.status, header(f, 'To-Path')])).toEqual([
      ['t0020', 481, P],
      ['t0022', 481, P],
    ]);
  });

  it('a forged From-Path → 403, and nothing is relayed', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    h.send(c.link, send('t0023', `${path} ${P}`, 'msrp://mallory.invalid:2855/x;ws'));
    h.send(c.link, send('t0024', `${path} ${P}`, `${A} msrp://mallory.invalid:2855/x;ws`));
    expect(c.link.take().map((f) => f.status)).toEqual([403, 403]);
    expect(h.connected).toEqual([]);
  });

  it("another client's session, or a next hop other than the session's client → 403 (no open relay)", () => {
    const h = new RelayHarness();
    const { c: a, path: pa } = authed(h, A);
    const { c: b } = authed(h, B, 'bob', 'hunter2');
    h.send(b.link, send('t0025', `${pa} ${P}`, B));
    expect(b.link.take().map((f) => f.status)).toEqual([403]);
    const outsider = h.link('tcp');
    h.send(outsider, send('t0026', `${pa} msrp://10.9.9.9:2855/z;tcp`, P));
    h.send(outsider, send('t0027', `${pa} ${A} ${P}`, P));
    expect(outsider.take().map((f) => f.status)).toEqual([403, 403]);
    expect(a.link.take()).toEqual([]);
    expect(h.connected).toEqual([]);
  });

  it('a bad or inconsistent Byte-Range → 400', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    const to = `${path} ${P}`;
    h.send(c.link, send('t0030', to, A, 'hello', [['Byte-Range', 'ten-twenty/30']]));
    h.send(c.link, send('t0031', to, A, 'hello', [['Byte-Range', '5-3/10']]));
    h.send(
      c.link,
      frame(
        't0032',
        'SEND',
        [
          ['To-Path', to],
          ['From-Path', A],
          ['Message-ID', 'm'],
          ['Byte-Range', '1-3/10'],
          ['Content-Type', 'text/plain'],
        ],
        'hello',
      ),
    );
    h.send(
      c.link,
      frame(
        't0033',
        'SEND',
        [
          ['To-Path', to],
          ['From-Path', A],
          ['Message-ID', 'm'],
          ['Byte-Range', '1-9/9'],
          ['Content-Type', 'text/plain'],
        ],
        'hello',
      ),
    );
    const answers = c.link.take();
    expect(answers.map((f) => [f.transactionId, f.status])).toEqual([
      ['t0030', 400],
      ['t0031', 400],
      ['t0032', 400],
      ['t0033', 400],
    ]);
    expect(h.connected).toEqual([]);
  });

  it('a malformed header section → 400; a request other than SEND with a large body → 413', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    h.send(c.link, Buffer.from(`MSRP t0034 SEND\r\nTo-Path ${path}\r\nFrom-Path: ${A}\r\n-------t0034$\r\n`));
    h.send(
      c.link,
      frame(
        't0035',
        'NICKNAME',
        [
          ['To-Path', `${path} ${P}`],
          ['From-Path', A],
          ['Content-Type', 'text/plain'],
        ],
        'x'.repeat(20000),
      ),
    );
    expect(c.link.take().map((f) => f.status)).toEqual([400, 413]);
  });

  it('WebSocket messages that are not MSRP close the link after three', () => {
    const h = new RelayHarness();
    const link = h.link('ws');
    h.send(link, 'GET / HTTP/1.1\r\n\r\n');
    h.send(link, 'hello');
    expect(link.closedWith).toBeUndefined();
    h.send(link, 'MSRX nope');
    expect(link.closedWith?.cause).toBe('garbage');
    expect(h.metrics.msrpErrors.get({ reason: 'garbage' })).toBe(3);
  });

  it('a stream that cannot be framed closes the TCP link', () => {
    const h = new RelayHarness();
    const link = h.link('tcp');
    h.send(link, 'SIP/2.0 200 OK\r\n\r\n');
    expect(link.closedWith?.cause).toBe('framing');
  });
});

describe('MSRP relay: failures further on become REPORTs (RFC 4976 §6.3)', () => {
  function toPeer(extra: [string, string][] = []) {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    h.send(c.link, send('t0040', `${path} ${P}`, A, 'hello', extra));
    const out = h.connected[0]!.link;
    out.take();
    return { h, c, path, out, first: c.link.take() };
  }

  it("the next hop's error response → REPORT with its status", () => {
    const { h, c, path, out, first } = toPeer();
    expect(first.map((f) => f.status)).toEqual([200]);
    h.send(
      out,
      frame('t0040', '415 Unsupported Media Type', [
        ['To-Path', path],
        ['From-Path', P],
      ]),
    );
    const [report] = c.link.take();
    expect(report).toMatchObject({ method: 'REPORT' });
    expect(header(report!, 'To-Path')).toBe(A);
    expect(header(report!, 'From-Path')).toBe(path);
    expect(header(report!, 'Message-ID')).toBe('m-t0040');
    expect(header(report!, 'Byte-Range')).toBe('1-5/5');
    expect(header(report!, 'Status')).toBe('000 415 Unsupported Media Type');
  });

  it('no response in 30 s → REPORT 408', () => {
    const { h, c } = toPeer();
    h.advance(29_000);
    expect(c.link.take()).toEqual([]);
    h.advance(1_000);
    expect(c.link.take().map((f) => header(f, 'Status'))).toEqual(['000 408 Request Timeout']);
  });

  it('the next hop closes → REPORT 481; further frames for it are refused 481 at once', () => {
    const { h, c, path, out } = toPeer();
    h.relay.closed(out, h.now);
    expect(c.link.take().map((f) => header(f, 'Status'))).toEqual([
      '000 481 Connection to the next hop closed',
    ]);
    h.connectable = false;
    h.send(c.link, send('t0041', `${path} ${P}`, A));
    expect(c.link.take().map((f) => f.status)).toEqual([481]);
  });

  it('Failure-Report partial: no 200, but the failure is reported', () => {
    const { h, c, path, out, first } = toPeer([['Failure-Report', 'partial']]);
    expect(first).toEqual([]);
    h.advance(60_000);
    expect(c.link.take()).toEqual([]);
    h.send(
      out,
      frame('t0040', '481 No Such Session', [
        ['To-Path', path],
        ['From-Path', P],
      ]),
    );
    expect(c.link.take().map((f) => header(f, 'Status'))).toEqual(['000 481 No Such Session']);
  });

  it('Failure-Report no: nothing comes back, ever', () => {
    const { h, c, path, out, first } = toPeer([['Failure-Report', 'no']]);
    expect(first).toEqual([]);
    h.send(
      out,
      frame('t0040', '481 No Such Session', [
        ['To-Path', path],
        ['From-Path', P],
      ]),
    );
    h.advance(60_000);
    expect(c.link.take()).toEqual([]);
  });
});

describe('MSRP relay: chunk sizes', () => {
  it('a chunk bigger than a WebSocket message takes is re-chunked, each piece its own SEND', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    const body = Buffer.alloc(3 * (1 << 20) + 5, 7);
    body.write('start', 0);
    const peer = h.link('tcp');
    h.send(peer, send('t0050', `${path} ${A}`, P, body.toString('latin1')));
    const pieces = c.link.take();
    expect(pieces.map((f) => [header(f, 'Byte-Range'), f.flag])).toEqual([
      ['1-1048576/3145733', '+'],
      ['1048577-2097152/3145733', '+'],
      ['2097153-3145728/3145733', '+'],
      ['3145729-3145733/3145733', '$'],
    ]);
    expect(new Set(pieces.map((f) => f.transactionId)).size).toBe(4);
    expect(
      Buffer.concat(pieces.map((f) => f.body!)).equals(Buffer.from(body.toString('latin1'), 'utf8')),
    ).toBe(true);
    expect(peer.take().map((f) => f.status)).toEqual([200]);
    for (const f of pieces)
      h.send(
        c.link,
        frame(f.transactionId, '200 OK', [
          ['To-Path', path],
          ['From-Path', A],
        ]),
      );
    expect(peer.take()).toEqual([]);
    expect(h.relay.pendingCount).toBe(0);
  });

  it('a long chunk arriving on a stream is relayed piece by piece, and the message arrives whole', () => {
    const h = new RelayHarness();
    const { c: alice, path } = authed(h);
    const peer = h.link('tcp');
    const size = 5 * (1 << 20) + 123;
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) body.writeUInt32BE(i, i);
    const input = frame(
      't0051',
      'SEND',
      [
        ['To-Path', `${path} ${A}`],
        ['From-Path', P],
        ['Message-ID', 'big1'],
        ['Byte-Range', `1-${size}/${size}`],
        ['Content-Type', 'application/octet-stream'],
      ],
      body,
    );
    for (let at = 0; at < input.length; at += 65536) {
      h.send(peer, input.subarray(at, at + 65536));
      pump(h, [alice]);
    }
    const messages = alice.of('message');
    expect(messages).toHaveLength(1);
    expect(Buffer.from(messages[0]!.bytes).equals(body)).toBe(true);
    expect(alice.of('error')).toEqual([]);
    expect(peer.take().map((f) => f.status)).toEqual([200]);
    expect(h.relay.pendingCount).toBe(0);
  });
});

describe('MSRP relay: back-pressure and idle links', () => {
  it("stops reading a sender while the next hop's buffer is full, and resumes once it drained", () => {
    const h = new RelayHarness({ relay: { highWater: 1000 } });
    const { c, path } = authed(h);
    h.send(c.link, send('t0060', `${path} ${P}`, A, 'x'.repeat(600)));
    const out = h.connected[0]!.link;
    out.holding = true;
    h.send(c.link, send('t0061', `${path} ${P}`, A, 'x'.repeat(600)));
    expect(c.link.paused).toBe(false);
    h.send(c.link, send('t0062', `${path} ${P}`, A, 'x'.repeat(600)));
    expect(c.link.paused).toBe(true);
    expect(h.relay.isPaused(c.link.id)).toBe(true);
    out.buffered = 400;
    h.relay.drained(out);
    expect(c.link.paused).toBe(false);
  });

  it('a link that sends nothing is closed after 30 s; one with a session stays', () => {
    const h = new RelayHarness();
    const silent = h.link('tcp');
    const { c } = authed(h);
    h.advance(35_000);
    expect(silent.closedWith?.cause).toBe('idle');
    expect(c.link.closedWith).toBeUndefined();
  });

  it('closing a client link ends its sessions', () => {
    const h = new RelayHarness();
    const { c, path } = authed(h);
    h.relay.closed(c.link, h.now);
    expect(h.relay.sessionCount).toBe(0);
    const peer: FakeLink = h.link('tcp');
    h.send(peer, send('t0063', `${path} ${A}`, P));
    expect(peer.take().map((f) => f.status)).toEqual([481]);
  });

  it('beside a PBX without users, the relay connects only where it may', () => {
    const h = new RelayHarness({ auth: openAuth(), relay: { mayConnect: (uri) => uri.host === '10.0.0.5' } });
    const link = h.link('ws');
    h.send(
      link,
      frame('t0064', 'AUTH', [
        ['To-Path', RELAY_TCP],
        ['From-Path', A],
      ]),
    );
    const path = header(link.take()[0]!, 'Use-Path')!;
    h.send(link, send('t0065', `${path} msrp://192.0.2.1:2855/x;tcp`, A));
    h.send(link, send('t0066', `${path} msrp://10.0.0.5:2855/x;tcp`, A));
    expect(link.take().map((f) => f.status)).toEqual([481, 200]);
    expect(h.connected.map((x) => x.uri.host)).toEqual(['10.0.0.5']);
  });
});

function frameBytes(f: Parameters<typeof header>[0]): Uint8Array {
  return Buffer.from(
    `MSRP ${f.transactionId} ${f.status} ${f.comment ?? ''}\r\n${f.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}-------${f.transactionId}$\r\n`,
  );
}
