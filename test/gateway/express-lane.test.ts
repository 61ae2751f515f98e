// The edge proxy's express lane on its own, in memory and with explicit time: what reaches the upstream and the
// browser byte for byte, UDP loss (Timer E), no answer (Timer F → 408), absorbed retransmissions (Timer K), and
// everything it must leave to the full path. The same behaviour end to end is in edge-proxy.test.ts and the
// interop gateway tests (loss shim, Kamailio, SIPp).

import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';

import { ExpressLane, type ExpressFlow } from '../../gateway/edge/express-lane.ts';
import { BRANCH_PREFIX } from '../../gateway/edge/rewrite.ts';
import { GatewayMetrics } from '../../gateway/metrics.ts';
import { parseMessage, type SipRequest, type SipResponse } from '../../web/src/sip/index.ts';

const T1 = 500;
const T2 = 4000;
const T4 = 5000;
const UPSTREAM = { host: '10.0.0.5', port: 5060 };

interface Harness {
  lane: ExpressLane;
  metrics: GatewayMetrics;
  /** datagrams toward the upstream */
  upstream: { at: number; bytes: Buffer }[];
  /** what each browser received */
  browser: Buffer[];
  flows: Map<number, ExpressFlow>;
  flow: ExpressFlow;
  /** wake-ups the lane asked for */
  wakeups: number[];
  /** the harness clock: sends are stamped with it */
  now: number;
  /** runs every wake-up due up to `until` in order, as the driver's timer would */
  runUntil(until: number): void;
}

function harness(options: { maxUdpBytes?: number } = {}): Harness {
  const metrics = new GatewayMetrics();
  const flows = new Map<number, ExpressFlow>();
  let seed = 1;
  const h: Harness = {
    lane: undefined as unknown as ExpressLane,
    metrics,
    upstream: [],
    browser: [],
    flows,
    flow: {
      connectionId: 7,
      token: 'TOKENtoken7',
      remoteHost: '192.0.2.44',
      remotePort: 51234,
      send: (data) => {
        h.browser.push(Buffer.from(data));
        return true;
      },
    },
    wakeups: [],
    now: 0,
    runUntil(until: number) {
      for (;;) {
        const due = h.wakeups.filter((w) => w <= until).sort((a, b) => a - b)[0];
        if (due === undefined) break;
        h.wakeups.splice(h.wakeups.indexOf(due), 1);
        h.now = due;
        h.lane.tick(due);
      }
      h.now = until;
    },
  };
  flows.set(h.flow.connectionId, h.flow);
  h.lane = new ExpressLane({
    upstreamHost: UPSTREAM.host,
    upstreamPort: UPSTREAM.port,
    viaHost: 'gw.example.com',
    viaPort: 5070,
    timers: { T1, T2, T4 },
    maxUdpBytes: options.maxUdpBytes ?? 1300,
    flow: (id) => flows.get(id),
    sendUdp: (data, host, port) => {
      expect({ host, port }).toEqual(UPSTREAM);
      h.upstream.push({ at: h.now, bytes: Buffer.from(data) });
    },
    schedule: (at) => h.wakeups.push(at),
    metrics,
    log: pino({ level: 'silent' }),
    random: () => (seed = (seed * 16807) % 2147483647) / 2147483647,
  });
  return h;
}

interface RequestParts {
  method?: string;
  via?: string;
  headers?: string[];
  body?: string;
  contentLength?: boolean;
}

/** A browser's request as JsSIP or our UA writes it (CRLF line ends). */
function browserRequest(parts: RequestParts = {}): Buffer {
  const method = parts.method ?? 'MESSAGE';
  const body = parts.body ?? 'Hello Bob — ça va?';
  const lines = [
    `${method} sip:bob@example.com SIP/2.0`,
    `Via: ${parts.via ?? 'SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;rport'}`,
    ...(parts.headers ?? [
      'Max-Forwards: 70',
      'To: <sip:bob@example.com>',
      'From: "Alice Ünal" <sip:alice@example.com>;tag=9fxced76sl',
      'Call-ID: 3848276298220188511@atlanta.example.com',
      `CSeq: 1 ${method}`,
      'Content-Type: text/plain;charset=utf-8',
    ]),
  ];
  if (parts.contentLength !== false) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** The upstream's response to what it received (it copies the Vias, adds a To tag). */
function upstreamResponse(received: Buffer, status: number, reason = 'OK'): Buffer {
  const request = parseMessage(received) as SipRequest;
  const vias = request.headers.getAll('via').map((v) => `Via: ${v}`);
  return Buffer.from(
    [
      `SIP/2.0 ${status} ${reason}`,
      ...vias,
      `To: ${request.headers.get('to') ?? ''}${status > 100 ? ';tag=up1' : ''}`,
      `From: ${request.headers.get('from') ?? ''}`,
      `Call-ID: ${request.callId}`,
      `CSeq: ${request.headers.get('cseq') ?? ''}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

const headLines = (bytes: Buffer): string[] => bytes.toString('utf8').split('\r\n\r\n')[0]!.split('\r\n');

describe('express lane: a request from the browser', () => {
  it('goes upstream with our Via on top, received/rport on the browser Via, Max-Forwards − 1, the rest byte for byte', () => {
    const h = harness();
    const sent = browserRequest();
    expect(h.lane.fromWs(h.flow, sent, 0)).toBe(true);
    expect(h.upstream).toHaveLength(1);
    const out = h.upstream[0]!.bytes;
    const request = parseMessage(out) as SipRequest;
    const [ours, browser] = request.via;
    expect(`${ours?.transport} ${ours?.host}:${ours?.port}`).toBe('UDP gw.example.com:5070');
    expect(ours?.branch?.startsWith(`${BRANCH_PREFIX}${h.flow.token}.`)).toBe(true);
    expect(ours?.params.has('rport')).toBe(true);
    // RFC 3581 / RFC 7118 §5.2: a bare rport gets the port; received the address.
    expect(browser?.host).toBe('df7jal23ls0d.invalid');
    expect(browser?.branch).toBe('z9hG4bKnashds7');
    expect(browser?.received).toBe('192.0.2.44');
    expect(browser?.rport).toBe(51234);
    expect(request.maxForwards).toBe(69);
    // Every other line as the browser wrote it, in order; the body (UTF-8) untouched.
    const untouched = (lines: string[]) => lines.filter((l) => !/^(Via|Max-Forwards):/.test(l));
    expect(untouched(headLines(out))).toEqual(untouched(headLines(sent)));
    expect(Buffer.from(request.body).toString('utf8')).toBe('Hello Bob — ça va?');
    expect(h.metrics.messagesIn.total()).toBe(1);
    expect(h.metrics.messagesOut.total()).toBe(1);
  });

  it('writes received and rport when the browser Via has no rport, and adds Max-Forwards and Content-Length when absent', () => {
    const h = harness();
    const sent = browserRequest({
      via: 'SIP/2.0/WS abc.invalid;branch=z9hG4bK776asdhds',
      headers: [
        'To: <sip:bob@example.com>',
        'From: <sip:alice@example.com>;tag=1',
        'Call-ID: c1',
        'CSeq: 5 MESSAGE',
      ],
      contentLength: false,
      body: 'hi',
    });
    expect(h.lane.fromWs(h.flow, sent, 0)).toBe(true);
    const request = parseMessage(h.upstream[0]!.bytes) as SipRequest;
    expect(request.via[1]?.received).toBe('192.0.2.44');
    expect(request.via[1]?.rport).toBe(51234);
    expect(request.maxForwards).toBe(70);
    expect(request.headers.get('content-length')).toBe('2');
    expect(Buffer.from(request.body).toString()).toBe('hi');
  });

  it('reads compact header names and Max-Forwards before the Via', () => {
    const h = harness();
    const sent = Buffer.from(
      'OPTIONS sip:bob@example.com SIP/2.0\r\nMax-Forwards: 10\r\nv: SIP/2.0/WS x.invalid;branch=z9hG4bKc1\r\n' +
        't: <sip:bob@example.com>\r\nf: <sip:alice@example.com>;tag=a\r\ni: cid\r\nCSeq: 2 OPTIONS\r\nl: 0\r\n\r\n',
    );
    expect(h.lane.fromWs(h.flow, sent, 0)).toBe(true);
    const request = parseMessage(h.upstream[0]!.bytes) as SipRequest;
    expect(request.method).toBe('OPTIONS');
    expect(request.maxForwards).toBe(9);
    expect(request.via).toHaveLength(2);
    expect(request.via[1]?.rport).toBe(51234);
  });

  it('sends the same request once: a duplicate from the browser is absorbed', () => {
    const h = harness();
    const sent = browserRequest();
    expect(h.lane.fromWs(h.flow, sent, 0)).toBe(true);
    expect(h.lane.fromWs(h.flow, sent, 5)).toBe(true);
    expect(h.upstream).toHaveLength(1);
    expect(h.metrics.drops.get({ reason: 'duplicate-request' })).toBe(1);
  });

  // Each of these is taken by the full path, which answers errors (400, 483, 420 …) or does what the lane does not.
  const leftAlone: [string, Buffer][] = [
    ['INVITE', browserRequest({ method: 'INVITE' })],
    ['REGISTER', browserRequest({ method: 'REGISTER' })],
    ['SUBSCRIBE (forms a dialog)', browserRequest({ method: 'SUBSCRIBE' })],
    [
      'a lowercase method',
      Buffer.from(
        browserRequest()
          .toString()
          .replace(/^MESSAGE/, 'message'),
      ),
    ],
    [
      'a Route',
      browserRequest({
        headers: [
          'Route: <sip:gw.example.com;lr>',
          'To: <sip:b@x>',
          'From: <sip:a@x>;tag=1',
          'Call-ID: c',
          'CSeq: 1 MESSAGE',
        ],
      }),
    ],
    [
      'Proxy-Require',
      browserRequest({
        headers: [
          'Proxy-Require: foo',
          'To: <sip:b@x>',
          'From: <sip:a@x>;tag=1',
          'Call-ID: c',
          'CSeq: 1 MESSAGE',
        ],
      }),
    ],
    [
      'Max-Forwards 0 (483)',
      browserRequest({
        headers: [
          'Max-Forwards: 0',
          'To: <sip:b@x>',
          'From: <sip:a@x>;tag=1',
          'Call-ID: c',
          'CSeq: 1 MESSAGE',
        ],
      }),
    ],
    [
      'a folded header',
      browserRequest({
        headers: ['To: <sip:b@x>', ' ;foo=bar', 'From: <sip:a@x>;tag=1', 'Call-ID: c', 'CSeq: 1 MESSAGE'],
      }),
    ],
    [
      'two CSeq',
      browserRequest({
        headers: [
          'To: <sip:b@x>',
          'From: <sip:a@x>;tag=1',
          'Call-ID: c',
          'CSeq: 1 MESSAGE',
          'CSeq: 2 MESSAGE',
        ],
      }),
    ],
    [
      'no Call-ID',
      browserRequest({ headers: ['To: <sip:b@x>', 'From: <sip:a@x>;tag=1', 'CSeq: 1 MESSAGE'] }),
    ],
    [
      'a CSeq of another method',
      browserRequest({ headers: ['To: <sip:b@x>', 'From: <sip:a@x>;tag=1', 'Call-ID: c', 'CSeq: 1 INFO'] }),
    ],
    [
      'a wrong Content-Length',
      Buffer.from(
        browserRequest()
          .toString()
          .replace(/Content-Length: \d+/, 'Content-Length: 3'),
      ),
    ],
    ['an RFC 2543 branch', browserRequest({ via: 'SIP/2.0/WS x.invalid;branch=1234' })],
    [
      'a Via with received already',
      browserRequest({ via: 'SIP/2.0/WS x.invalid;branch=z9hG4bKa;received=1.2.3.4' }),
    ],
    [
      'two Via values on one line',
      browserRequest({ via: 'SIP/2.0/WS x.invalid;branch=z9hG4bKa, SIP/2.0/UDP y;branch=z9hG4bKb' }),
    ],
    ['a bare LF', Buffer.from(browserRequest().toString().replace('\r\nTo:', '\nTo:'))],
    [
      'a NUL in a header',
      Buffer.from(browserRequest().toString().replace('Call-ID: 38', 'Call-ID: \u000038')),
    ],
    ['a space in the header name', Buffer.from(browserRequest().toString().replace('Call-ID:', 'Call ID:'))],
    ['no blank line', Buffer.from(browserRequest().toString().replace('\r\n\r\n', '\r\n'))],
    ['a response', Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKa\r\n\r\n')],
  ];
  it.each(leftAlone)('leaves %s to the full path, sending nothing', (_name, bytes) => {
    const h = harness();
    expect(h.lane.fromWs(h.flow, bytes, 0)).toBe(false);
    expect(h.upstream).toHaveLength(0);
    expect(h.lane.size).toBe(0);
  });

  it('leaves a request that would exceed 1300 bytes to the full path (it goes over TCP, RFC 3261 §18.1.1)', () => {
    const h = harness();
    const fits = browserRequest({ body: 'x'.repeat(800) });
    expect(h.lane.fromWs(h.flow, fits, 0)).toBe(true);
    const via = 'SIP/2.0/WSS b.invalid;branch=z9hG4bKbig';
    const big = browserRequest({ body: 'x'.repeat(1250 - browserRequest({ body: '', via }).length), via });
    expect(big.length).toBeLessThan(1300);
    expect(h.lane.fromWs(h.flow, big, 0)).toBe(false);
    expect(h.upstream).toHaveLength(1);
    // Counted once, by whichever path relays it.
    expect(h.metrics.messagesIn.total()).toBe(1);
  });

  it('takes only what the full path would take, forwards what parses, and never throws, whatever the bytes (fuzzed)', () => {
    const base = browserRequest().toString('latin1');
    let taken = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: base.length - 1 }),
        fc.integer({ min: 0, max: 8 }),
        fc.string({ maxLength: 6 }),
        (at, remove, insert) => {
          const h = harness();
          const bytes = Buffer.from(base.slice(0, at) + insert + base.slice(at + remove), 'latin1');
          if (!h.lane.fromWs(h.flow, bytes, 0)) return;
          taken++;
          // The full path parses every frame lazily first and answers 400 to what fails: the lane never takes those.
          const input = parseMessage(bytes, { lazy: true }) as SipRequest;
          const request = parseMessage(h.upstream[0]!.bytes, { lazy: true }) as SipRequest;
          expect(request.via).toHaveLength(2);
          expect(request.via[0]?.branch?.startsWith(BRANCH_PREFIX)).toBe(true);
          expect(request.via[1]?.received).toBe('192.0.2.44');
          expect(request.via[1]?.rport).toBe(51234);
          expect(request.maxForwards).toBe(input.maxForwards === undefined ? 70 : input.maxForwards - 1);
          expect(request.callId).toBe(input.callId);
        },
      ),
      { numRuns: 600, seed: 42 },
    );
    // Most mutations land in places that do not matter (the body, other headers): the lane still takes those.
    expect(taken).toBeGreaterThan(100);
  });
});

describe('express lane: responses from the upstream', () => {
  it('gives the browser the response without our Via, once; retransmissions and 100 Trying are absorbed; 1xx pass', () => {
    const h = harness();
    h.lane.fromWs(h.flow, browserRequest(), 0);
    const out = h.upstream[0]!.bytes;
    expect(h.lane.fromNet(upstreamResponse(out, 100, 'Trying'), 10)).toBe(true);
    expect(h.browser).toHaveLength(0);
    expect(h.lane.fromNet(upstreamResponse(out, 180, 'Ringing'), 20)).toBe(true);
    const ok = upstreamResponse(out, 200);
    expect(h.lane.fromNet(ok, 30)).toBe(true);
    expect(h.lane.fromNet(ok, 40)).toBe(true);
    expect(h.browser.map((b) => (parseMessage(b) as SipResponse).status)).toEqual([180, 200]);
    // Exactly the upstream's bytes minus our Via line.
    const ourVia = headLines(ok)[1]!;
    expect(h.browser[1]!.toString('utf8')).toBe(ok.toString('utf8').replace(`${ourVia}\r\n`, ''));
    const response = parseMessage(h.browser[1]!) as SipResponse;
    expect(response.via).toHaveLength(1);
    expect(response.via[0]?.received).toBe('192.0.2.44');
    expect(h.lane.inFlight).toBe(0);
    expect(h.metrics.relayLatency.render().join('\n')).toContain('method="MESSAGE"');
  });

  it('removes our Via from a Via list on one line', () => {
    const h = harness();
    h.lane.fromWs(h.flow, browserRequest(), 0);
    const ok = upstreamResponse(h.upstream[0]!.bytes, 200).toString('utf8');
    const [ours, browser] = headLines(Buffer.from(ok)).filter((l) => l.startsWith('Via: '));
    const joined = ok.replace(`${ours}\r\n${browser}`, `${ours}, ${browser!.slice(5)}`);
    expect(h.lane.fromNet(Buffer.from(joined), 10)).toBe(true);
    expect(h.browser[0]!.toString('utf8')).toContain(`\r\n${browser}\r\n`);
    expect((parseMessage(h.browser[0]!) as SipResponse).via).toHaveLength(1);
  });

  it('leaves to the full path what is not an answer to one of its requests', () => {
    const h = harness();
    h.lane.fromWs(h.flow, browserRequest(), 0);
    const ok = upstreamResponse(h.upstream[0]!.bytes, 200).toString('utf8');
    const strange = [
      ok.replace(/branch=z9hG4bKgw\.[^;\r\n]+/, 'branch=z9hG4bKgw.other.x'),
      ok.replace('CSeq: 1 MESSAGE', 'CSeq: 1 INFO'),
      ok.replace(/\r\nVia: SIP\/2\.0\/WSS[^\r]*/, ''),
      'MESSAGE sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKx\r\n\r\n',
      'not sip at all',
    ];
    for (const s of strange) expect(h.lane.fromNet(Buffer.from(s), 10)).toBe(false);
    expect(h.browser).toHaveLength(0);
    expect(h.lane.inFlight).toBe(1);
  });

  it('drops a response for a browser whose connection is gone, without throwing', () => {
    const h = harness();
    h.lane.fromWs(h.flow, browserRequest(), 0);
    h.flows.delete(h.flow.connectionId);
    expect(h.lane.fromNet(upstreamResponse(h.upstream[0]!.bytes, 200), 10)).toBe(true);
    expect(h.metrics.drops.get({ reason: 'flow-gone' })).toBe(1);
  });
});

describe('express lane: timers', () => {
  it('Timer E: re-sends at T1, 2·T1, 4·T1, then every T2, and stops at the final response', () => {
    const h = harness();
    h.lane.fromWs(h.flow, browserRequest(), 0);
    h.runUntil(16_000);
    expect(h.upstream.map((u) => u.at)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500]);
    expect(new Set(h.upstream.map((u) => u.bytes.toString())).size).toBe(1);
    expect(h.metrics.retransmissions.total()).toBe(6);
    h.lane.fromNet(upstreamResponse(h.upstream[0]!.bytes, 200), 16_000);
    h.runUntil(30_000);
    expect(h.upstream).toHaveLength(7);
    expect(h.browser).toHaveLength(1);
  });

  it('Timer E after a provisional response: every T2', () => {
    const h = harness();
    h.lane.fromWs(h.flow, browserRequest(), 0);
    h.lane.fromNet(upstreamResponse(h.upstream[0]!.bytes, 100, 'Trying'), 100);
    h.runUntil(10_000);
    expect(h.upstream.map((u) => u.at)).toEqual([0, 500, 4500, 8500]);
  });

  it('Timer F: after 64·T1 without a final response the browser gets 408, and a late 200 is not the lane’s', () => {
    const h = harness();
    const sent = browserRequest();
    h.lane.fromWs(h.flow, sent, 0);
    h.runUntil(64 * T1 - 1);
    expect(h.browser).toHaveLength(0);
    h.runUntil(64 * T1 + 10);
    expect(h.browser).toHaveLength(1);
    const timeout = parseMessage(h.browser[0]!) as SipResponse;
    const original = parseMessage(sent) as SipRequest;
    expect(timeout.status).toBe(408);
    expect(timeout.callId).toBe(original.callId);
    expect(timeout.cseq).toEqual(original.cseq);
    expect(timeout.toTag).toBeDefined();
    expect(timeout.via).toHaveLength(1);
    expect(timeout.via[0]?.branch).toBe('z9hG4bKnashds7');
    expect(h.lane.size).toBe(0);
    expect(h.lane.inFlight).toBe(0);
    expect(h.lane.fromNet(upstreamResponse(h.upstream[0]!.bytes, 200), 64 * T1 + 20)).toBe(false);
  });

  it('Timer K: a completed entry absorbs retransmitted responses for T4, then is forgotten', () => {
    const h = harness();
    h.lane.fromWs(h.flow, browserRequest(), 0);
    const ok = upstreamResponse(h.upstream[0]!.bytes, 200);
    h.lane.fromNet(ok, 100);
    h.runUntil(100 + T4 - 20);
    expect(h.lane.fromNet(ok, h.now)).toBe(true);
    expect(h.lane.size).toBe(1);
    h.runUntil(100 + T4 + 20);
    expect(h.lane.size).toBe(0);
    expect(h.browser).toHaveLength(1);
  });

  it('asks for few wake-ups under load: at most one per 10 ms', () => {
    const h = harness();
    for (let i = 0; i < 1000; i++)
      h.lane.fromWs(h.flow, browserRequest({ via: `SIP/2.0/WS x.invalid;branch=z9hG4bKload${i}` }), i / 10);
    expect(h.upstream).toHaveLength(1000);
    expect(h.wakeups.length).toBeLessThanOrEqual(2);
    for (const u of h.upstream) h.lane.fromNet(upstreamResponse(u.bytes, 200), 150);
    expect(h.browser).toHaveLength(1000);
    h.runUntil(T4 + 1000);
    expect(h.upstream).toHaveLength(1000);
    expect(h.lane.size).toBe(0);
  });
});
