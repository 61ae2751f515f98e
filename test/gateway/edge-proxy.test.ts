// The edge proxy end to end on loopback, with a scripted fake PBX on UDP (and TCP) instead of a real one: what
// the gateway puts on the wire toward the PBX and toward the browser, retransmissions, absorption, CANCEL, 2xx
// re-sending, flow failure, forged tokens. No external tools: this runs in the unit project.

import { createServer, type Server, type Socket } from 'node:net';

import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { gatewayConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/gateway.ts';
import {
  StreamFramer,
  createResponse,
  parseMessage,
  serializeMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../web/src/sip/server.ts';
import { RawWsUa } from '../support/raw-ws-ua.ts';
import { SipUdpSocket, sipRequest, type SipUdpMessage } from '../support/sip-udp.ts';

const T1 = 100;

/** The fake PBX's TCP side: collects framed messages, can answer on the same connection. */
class FakeTcpPeer {
  readonly received: { message: SipMessage; socket: Socket }[] = [];
  readonly sockets = new Set<Socket>();
  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async listen(): Promise<FakeTcpPeer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const peer = new FakeTcpPeer(server, typeof address === 'object' && address !== null ? address.port : 0);
    server.on('connection', (socket) => {
      peer.sockets.add(socket);
      socket.on('close', () => peer.sockets.delete(socket));
      const framer = new StreamFramer();
      socket.on('data', (chunk: Buffer) => {
        for (const event of framer.push(chunk))
          if (event.type === 'message') peer.received.push({ message: event.message, socket });
      });
      socket.on('error', () => undefined);
    });
    return peer;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }
}

const parse = (m: SipUdpMessage): SipMessage => parseMessage(m.raw);
const until = async (check: () => boolean, timeoutMs = 3000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('edge proxy against a fake PBX', () => {
  let pbx: SipUdpSocket;
  let pbxTcp: FakeTcpPeer;
  let gateway: Gateway;
  let url: string;
  const uas: RawWsUa[] = [];

  const connect = async (user: string): Promise<RawWsUa> => {
    const ua = await RawWsUa.connect(url, { user, domain: '127.0.0.1' });
    uas.push(ua);
    return ua;
  };

  /** Answers a request received by the fake PBX, from its UDP socket, to where it came from. */
  const answer = async (
    request: SipUdpMessage,
    status: number,
    headers: Record<string, string> = {},
  ): Promise<void> => {
    const parsed = parse(request) as SipRequest;
    const response = createResponse(parsed, status, { toTag: status > 100 ? 'pbx1' : undefined, headers });
    await pbx.send(serializeMessage(response), request.from.port, request.from.address);
  };

  beforeAll(async () => {
    pbx = await SipUdpSocket.open();
    pbxTcp = await FakeTcpPeer.listen();
    gateway = await startGateway(
      gatewayConfig({
        host: '127.0.0.1',
        port: 0,
        sipUdp: { host: '127.0.0.1', port: 0 },
        sipTcp: { host: '127.0.0.1', port: 0 },
        upstream: { host: '127.0.0.1', port: pbx.port, transport: 'udp' },
        publicHost: '127.0.0.1',
        allowMissingOrigin: true,
      }),
      {
        log: pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' }),
        timers: { T1, T2: 4 * T1, T4: 5 * T1 },
      },
    );
    url = `ws://127.0.0.1:${gateway.httpPort}`;
  });

  afterEach(async () => {
    for (const ua of uas.splice(0)) await ua.close();
    pbx.received.length = 0;
    pbxTcp.received.length = 0;
  });

  afterAll(async () => {
    await gateway?.close(100);
    await pbx?.close();
    await pbxTcp?.close();
  });

  it('REGISTER: keeps the client Via with received/rport, pushes its Via, decrements Max-Forwards, adds Path;ob', async () => {
    const alice = await connect('alice');
    const registered = alice.register();
    const seen = await pbx.waitFor((m) => m.method === 'REGISTER', 2000);
    const request = parse(seen) as SipRequest;
    expect(request.uri.toString()).toBe('sip:127.0.0.1');
    const [ours, client] = request.via;
    expect(ours?.transport).toBe('UDP');
    expect(`${ours?.host}:${ours?.port}`).toBe(`127.0.0.1:${gateway.udpPort}`);
    expect(ours?.branch).toMatch(/^z9hG4bKgw\./);
    expect(ours?.params.has('rport')).toBe(true);
    expect(client?.host).toBe(alice.viaHost);
    expect(client?.received).toBe('127.0.0.1');
    expect(typeof client?.rport).toBe('number');
    expect(request.maxForwards).toBe(69);
    const path = request.path;
    expect(path).toHaveLength(1);
    const hop = path[0]!.uri;
    expect(`${hop.host}:${hop.port}`).toBe(`127.0.0.1:${gateway.udpPort}`);
    expect(hop.param('transport')).toBe('udp');
    expect(hop.param('lr')).toBe(null);
    expect(hop.param('ob')).toBe(null);
    expect(hop.user).toMatch(/^[A-Za-z0-9_-]{28}$/);
    // The flow token names the connection in the branch too.
    expect(ours?.branch).toContain(hop.user);

    await answer(seen, 200, { Contact: request.headers.get('contact') ?? '' });
    const response = await registered;
    expect(response.status).toBe(200);
    expect(response.via).toHaveLength(1);
    expect(response.topVia?.host).toBe(alice.viaHost);
  });

  it('retransmits a request toward UDP until answered, and absorbs retransmitted responses', async () => {
    const alice = await connect('alice');
    const sent = alice.request('MESSAGE', 'sip:bob@127.0.0.1', { body: 'hello' });
    // No answer to the first copies: Timer E resends at T1, 2·T1 …
    await until(() => pbx.received.filter((m) => m.method === 'MESSAGE').length >= 3);
    const copies = pbx.received.filter((m) => m.method === 'MESSAGE');
    const branches = new Set(copies.map((m) => (parse(m) as SipRequest).topVia?.branch));
    expect(branches.size).toBe(1);
    await answer(copies[0]!, 200);
    await answer(copies[0]!, 200);
    expect((await sent).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3 * T1));
    expect(alice.received.filter((m) => m.kind === 'response')).toHaveLength(1);
    // Retransmissions stop once the final response came.
    const count = pbx.received.filter((m) => m.method === 'MESSAGE').length;
    await new Promise((r) => setTimeout(r, 4 * T1));
    expect(pbx.received.filter((m) => m.method === 'MESSAGE').length).toBe(count);
    expect(gateway.metrics.retransmissions.total()).toBeGreaterThanOrEqual(2);
  });

  it('answers 408 to the browser when the upstream never answers (Timer F)', async () => {
    const silent = await SipUdpSocket.open();
    const quick = await startGateway(
      gatewayConfig({
        host: '127.0.0.1',
        port: 0,
        sipUdp: { host: '127.0.0.1', port: 0 },
        sipTcp: undefined,
        upstream: { host: '127.0.0.1', port: silent.port, transport: 'udp' },
        publicHost: '127.0.0.1',
        allowMissingOrigin: true,
      }),
      { log: pino({ level: 'silent' }), timers: { T1: 20 } },
    );
    try {
      const alice = await RawWsUa.connect(`ws://127.0.0.1:${quick.httpPort}`, {
        user: 'alice',
        domain: '127.0.0.1',
      });
      uas.push(alice);
      const response = await alice.request('OPTIONS', 'sip:nobody@127.0.0.1', { timeoutMs: 64 * 20 + 2000 });
      expect(response.status).toBe(408);
      expect(silent.received.filter((m) => m.method === 'OPTIONS').length).toBeGreaterThan(3);
    } finally {
      for (const ua of uas.splice(0)) await ua.close();
      await quick.close(50);
      await silent.close();
    }
  });

  /** Registers `user` through the gateway (the fake PBX answers 200) and returns its Path URI. */
  const registerThrough = async (ua: RawWsUa): Promise<string> => {
    const registered = ua.register();
    const seen = await pbx.waitFor((m) => m.method === 'REGISTER' && m.raw.includes(ua.viaHost), 2000);
    await answer(seen, 200);
    await registered;
    const path = (parse(seen) as SipRequest).headers.get('path') ?? '';
    return path.replace(/^<|>$/g, '');
  };

  const requestToBrowser = (method: string, path: string, headers: string[] = [], body = ''): string =>
    sipRequest({
      method,
      uri: 'sip:someone@ua.invalid;transport=ws',
      local: { port: pbx.port },
      headers: [`Route: <${path}>`, ...headers],
      body,
    });

  it('routes a request from the PBX to the browser by the token in the Path, and absorbs its retransmissions', async () => {
    const bob = await connect('bob');
    const path = await registerThrough(bob);
    const message = requestToBrowser('MESSAGE', path, [], 'to bob');
    const final = pbx.request(message, gateway.udpPort, '127.0.0.1', 3000);
    const delivered = await bob.waitForRequest((r) => r.method === 'MESSAGE');
    expect(delivered.headers.has('route')).toBe(false);
    expect(delivered.topVia?.transport).toBe('WS');
    expect(`${delivered.topVia?.host}:${delivered.topVia?.port}`).toBe(`127.0.0.1:${gateway.httpPort}`);
    expect(delivered.via).toHaveLength(2);
    expect(delivered.maxForwards).toBe(69);
    expect((await final).status).toBe(200);
    // The PBX retransmits: the gateway answers again; the browser sees the MESSAGE once.
    await pbx.send(message, gateway.udpPort);
    await pbx.waitFor((m) => m.status === 200, 1000, { onlyNew: true });
    expect(bob.requests('MESSAGE')).toHaveLength(1);
  });

  it('refuses forged tokens (403), tokenless requests from strangers (403), and answers 430 when the flow is gone', async () => {
    const carol = await connect('carol');
    const path = await registerThrough(carol);
    const token = /^sip:([^@]+)@/.exec(path)?.[1] ?? '';
    const forged = path.replace(token, `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`);
    const stranger = await SipUdpSocket.open();
    try {
      const forgedAnswer = await stranger.request(requestToBrowser('MESSAGE', forged), gateway.udpPort);
      expect(forgedAnswer.status).toBe(403);
      const noToken = sipRequest({
        method: 'MESSAGE',
        uri: 'sip:carol@127.0.0.1',
        local: { port: stranger.port },
      });
      expect((await stranger.request(noToken, gateway.udpPort)).status).toBe(403);
    } finally {
      await stranger.close();
    }
    await carol.close();
    await new Promise((r) => setTimeout(r, 50));
    const gone = await pbx.request(requestToBrowser('MESSAGE', path), gateway.udpPort);
    expect(gone.status).toBe(430);
  });

  it('double-record-routes an INVITE toward the browser and re-sends its 2xx over UDP until the ACK', async () => {
    const bob = await connect('bob');
    const path = await registerThrough(bob);
    const invite = requestToBrowser('INVITE', path, ['Contact: <sip:pbx@127.0.0.1>']);
    await pbx.send(invite, gateway.udpPort);
    const delivered = await bob.waitForRequest((r) => r.method === 'INVITE');
    const rr = delivered.recordRoute.map((r) => r.uri);
    expect(rr).toHaveLength(2);
    expect(rr[0]?.param('transport')).toBe('ws');
    expect(rr[0]?.port).toBe(gateway.httpPort);
    expect(rr[1]?.param('transport')).toBe('udp');
    expect(rr[1]?.port).toBe(gateway.udpPort);
    expect(rr[0]?.user).toBe(rr[1]?.user);
    // The browser's one 2xx reaches the PBX several times until the PBX ACKs.
    await until(() => pbx.received.filter((m) => m.status === 200 && m.cseq === '1 INVITE').length >= 3);
    const ok = pbx.received.find((m) => m.status === 200 && m.cseq === '1 INVITE')!;
    const okParsed = parse(ok) as SipResponse;
    expect(okParsed.recordRoute).toHaveLength(2);
    const ack = sipRequest({
      method: 'ACK',
      uri: 'sip:x@ua.invalid;transport=ws',
      local: { port: pbx.port },
      callId: okParsed.callId,
      to: okParsed.headers.get('to') ?? '',
      headers: [...okParsed.recordRoute].reverse().map((r) => `Route: <${r.uri.toString()}>`),
    });
    await pbx.send(
      ack.replace(/^From: .*$/m, `From: ${okParsed.headers.get('from') ?? ''}`),
      gateway.udpPort,
    );
    await bob.waitForRequest((r) => r.method === 'ACK');
    await new Promise((r) => setTimeout(r, 2 * T1));
    const count = pbx.received.filter((m) => m.status === 200 && m.cseq === '1 INVITE').length;
    await new Promise((r) => setTimeout(r, 6 * T1));
    expect(pbx.received.filter((m) => m.status === 200 && m.cseq === '1 INVITE').length).toBe(count);
  });

  it('double-record-routes an INVITE from the browser; CANCEL is answered and forwarded hop by hop', async () => {
    const alice = await connect('alice');
    const invite = alice.buildRequest('INVITE', 'sip:bob@127.0.0.1', {
      headers: [`Contact: <sip:${alice.contactUser}@${alice.viaHost};transport=ws;ob>`],
    });
    alice.sendRaw(invite);
    const seen = await pbx.waitFor((m) => m.method === 'INVITE', 2000);
    const forwarded = parse(seen) as SipRequest;
    const rr = forwarded.recordRoute.map((r) => r.uri);
    expect(rr).toHaveLength(2);
    expect(rr[0]?.param('transport')).toBe('udp');
    expect(rr[1]?.param('transport')).toBe('ws');
    await answer(seen, 180);
    await alice.waitFor((m) => m.kind === 'response' && m.status === 180);
    const original = parseMessage(invite) as SipRequest;
    const cancel = [
      `CANCEL ${original.uri.toString()} SIP/2.0`,
      `Via: ${original.headers.get('via') ?? ''}`,
      'Max-Forwards: 70',
      `From: ${original.headers.get('from') ?? ''}`,
      `To: ${original.headers.get('to') ?? ''}`,
      `Call-ID: ${original.callId}`,
      `CSeq: ${original.cseq.seq} CANCEL`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    alice.sendRaw(cancel);
    const cancelOk = await alice.waitFor((m) => m.kind === 'response' && m.cseq.method === 'CANCEL');
    expect((cancelOk as SipResponse).status).toBe(200);
    const hop = await pbx.waitFor((m) => m.method === 'CANCEL', 2000);
    expect((parse(hop) as SipRequest).topVia?.branch).toBe(forwarded.topVia?.branch);
    await answer(hop, 200);
    await answer(seen, 487);
    const terminated = await alice.waitFor((m) => m.kind === 'response' && m.status === 487);
    expect(terminated).toBeDefined();
    // The gateway ACKs the 487 itself (hop by hop).
    const ack = await pbx.waitFor((m) => m.method === 'ACK', 2000);
    expect((parse(ack) as SipRequest).topVia?.branch).toBe(forwarded.topVia?.branch);
  });

  it('answers 483 to Max-Forwards 0 and 400 to an answerable unparseable request', async () => {
    const alice = await connect('alice');
    alice.sendRaw(
      alice
        .buildRequest('MESSAGE', 'sip:bob@127.0.0.1', { callId: 'mf0' })
        .replace('Max-Forwards: 70', 'Max-Forwards: 0'),
    );
    const tooMany = await alice.waitFor((m) => m.kind === 'response' && m.headers.get('call-id') === 'mf0');
    expect((tooMany as SipResponse).status).toBe(483);
    alice.sendRaw(
      alice
        .buildRequest('MESSAGE', 'sip:bob@127.0.0.1', { callId: 'bad1' })
        .replace('CSeq: 2 MESSAGE', 'CSeq: 2 INVITE'),
    );
    const bad = await alice.waitFor((m) => m.kind === 'response' && m.headers.get('call-id') === 'bad1');
    expect((bad as SipResponse).status).toBe(400);
  });

  it('sends a request over 1300 bytes over TCP even toward a UDP upstream (RFC 3261 §18.1.1)', async () => {
    // A second gateway whose upstream's TCP port is the fake TCP peer (same number not possible: use a TCP upstream port).
    const big = await startGateway(
      gatewayConfig({
        host: '127.0.0.1',
        port: 0,
        sipUdp: { host: '127.0.0.1', port: 0 },
        sipTcp: { host: '127.0.0.1', port: 0 },
        upstream: { host: '127.0.0.1', port: pbxTcp.port, transport: 'udp' },
        publicHost: '127.0.0.1',
        allowMissingOrigin: true,
      }),
      { log: pino({ level: 'silent' }), timers: { T1 } },
    );
    try {
      const alice = await RawWsUa.connect(`ws://127.0.0.1:${big.httpPort}`, {
        user: 'alice',
        domain: '127.0.0.1',
      });
      uas.push(alice);
      const sent = alice.request('MESSAGE', 'sip:bob@127.0.0.1', { body: 'x'.repeat(1400) });
      await until(() => pbxTcp.received.length > 0);
      const { message, socket } = pbxTcp.received[0]!;
      expect((message as SipRequest).topVia?.transport).toBe('TCP');
      expect((message as SipRequest).topVia?.port).toBe(big.tcpPort);
      socket.write(serializeMessage(createResponse(message as SipRequest, 200, { toTag: 'big' })));
      expect((await sent).status).toBe(200);
    } finally {
      for (const ua of uas.splice(0)) await ua.close();
      await big.close(50);
    }
  });

  it('serves /healthz and /metrics', async () => {
    const health = await fetch(`http://127.0.0.1:${gateway.httpPort}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.httpPort}/metrics`)).text();
    expect(metrics).toContain('# TYPE gateway_ws_connections gauge');
    expect(metrics).toMatch(/gateway_sip_messages_in_total\{.*method="REGISTER".*\} \d+/);
    expect(metrics).toMatch(/gateway_relay_latency_seconds_bucket\{method="MESSAGE",le="\+Inf"\} \d+/);
    expect(metrics).toMatch(/gateway_udp_retransmissions_total\{kind="request"\} \d+/);
  });
});
