// WebSocket hygiene of the gateway on loopback (RFC 7118 plus the limits of SPEC.md §4), with an auto-answering
// fake PBX on UDP: keep-alives, per-IP and per-connection limits, dead peers, slow consumers, shutdown.

import { createSocket, type Socket } from 'node:dgram';

import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';

import { gatewayConfig, type GatewayLimits } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/gateway.ts';
import { OriginPolicy } from '../../gateway/net/http-server.ts';
import { createResponse, parseMessage, serializeMessage } from '../../web/src/sip/index.ts';
import { RawWsUa } from '../support/raw-ws-ua.ts';
import { sipRequest } from '../support/sip-udp.ts';

/** A PBX that answers every request 200 (after `delayMs`) and remembers the last Path it saw. */
class AutoPbx {
  lastPath: string | undefined;
  delayMs = 0;
  private constructor(
    readonly socket: Socket,
    readonly port: number,
  ) {}

  static async start(): Promise<AutoPbx> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const pbx = new AutoPbx(socket, socket.address().port);
    socket.on('message', (data, from) => {
      const message = parseMessage(data);
      if (message.kind !== 'request' || message.method === 'ACK') return;
      const path = message.headers.get('path');
      if (path !== undefined) pbx.lastPath = path.replace(/^<|>$/g, '');
      const ok = serializeMessage(createResponse(message, 200, { toTag: 'pbx' }));
      setTimeout(() => socket.send(ok, from.port, from.address), pbx.delayMs);
    });
    return pbx;
  }

  send(text: string, port: number): void {
    this.socket.send(Buffer.from(text), port, '127.0.0.1');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const started: { gateway: Gateway; pbx: AutoPbx; uas: RawWsUa[] }[] = [];

async function setup(limits: Partial<GatewayLimits> = {}) {
  const pbx = await AutoPbx.start();
  const gateway = await startGateway(
    gatewayConfig({
      host: '127.0.0.1',
      port: 0,
      sipUdp: { host: '127.0.0.1', port: 0 },
      sipTcp: undefined,
      upstream: { host: '127.0.0.1', port: pbx.port, transport: 'udp' },
      publicHost: '127.0.0.1',
      allowMissingOrigin: true,
      limits: limits as GatewayLimits,
    }),
    { log: pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' }) },
  );
  const entry = { gateway, pbx, uas: [] as RawWsUa[] };
  started.push(entry);
  const connect = async (user = 'u'): Promise<RawWsUa> => {
    const ua = await RawWsUa.connect(`ws://127.0.0.1:${gateway.httpPort}`, { user, domain: '127.0.0.1' });
    entry.uas.push(ua);
    return ua;
  };
  return { gateway, pbx, connect, url: `ws://127.0.0.1:${gateway.httpPort}` };
}

const until = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** The client's TCP socket, to stop reading (a dead or slow peer). */
const rawSocket = (ua: RawWsUa): { pause(): void; resume(): void } =>
  (ua.ws as WebSocket & { _socket: { pause(): void; resume(): void } })._socket;

afterEach(async () => {
  for (const { gateway, pbx, uas } of started.splice(0)) {
    for (const ua of uas) ua.ws.terminate();
    await gateway.close(50);
    await pbx.close();
  }
});

describe('WebSocket hygiene', () => {
  it('answers a CRLF keep-alive ping with a CRLF pong (RFC 5626 §3.5.1)', async () => {
    const { connect } = await setup();
    const ua = await connect();
    ua.sendRaw('\r\n\r\n');
    await until(() => ua.other.includes('\r\n'));
  });

  it('refuses connections over the per-IP limit with HTTP 503, and accepts again when one closes', async () => {
    const { connect, url } = await setup({ maxConnectionsPerIp: 2 });
    const first = await connect();
    await connect();
    await expect(RawWsUa.connect(url, { user: 'x', domain: '127.0.0.1' })).rejects.toThrow(/HTTP 503/);
    await first.close();
    await new Promise((r) => setTimeout(r, 50));
    await connect();
  });

  it('answers requests over the message rate with 503 + Retry-After, and closes a persistent flooder with 1008', async () => {
    const { connect } = await setup({ messageRate: 5, messageBurst: 5 });
    const ua = await connect();
    for (let i = 0; i < 8; i++)
      ua.sendRaw(ua.buildRequest('OPTIONS', 'sip:x@127.0.0.1', { callId: `flood-${i}` }));
    const busy = await ua.waitFor((m) => m.kind === 'response' && m.status === 503);
    expect(busy.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ua.received.filter((m) => m.kind === 'response' && m.status === 200).length).toBeLessThanOrEqual(
      6,
    );
    for (let i = 0; i < 20; i++)
      if (ua.ws.readyState === ua.ws.OPEN) ua.sendRaw(ua.buildRequest('OPTIONS', 'sip:x@127.0.0.1'));
    expect((await ua.closed).code).toBe(1008);
  });

  it('terminates a peer that stops answering WebSocket pings', async () => {
    const { connect, gateway } = await setup({ pingIntervalMs: 100 });
    const ua = await connect();
    await new Promise((r) => setTimeout(r, 300));
    expect(gateway.metrics.connections.get()).toBe(1);
    rawSocket(ua).pause();
    await until(() => gateway.metrics.connections.get() === 0, 3000);
    expect(gateway.metrics.drops.get({ reason: 'dead-peer' })).toBe(1);
  });

  it('closes a slow consumer instead of buffering without bound', async () => {
    const { connect, gateway, pbx } = await setup({ maxBufferedBytes: 64 * 1024 });
    const ua = await connect('slow');
    expect((await ua.register()).status).toBe(200);
    const path = pbx.lastPath;
    expect(path).toBeDefined();
    rawSocket(ua).pause();
    const body = 'y'.repeat(30_000);
    // Loopback TCP buffers take several MB before the gateway's own send buffer starts to grow.
    const message = sipRequest({
      method: 'MESSAGE',
      uri: 'sip:slow@x.invalid',
      local: { port: pbx.port },
      headers: [`Route: <${path}>`],
      body,
    });
    for (let i = 0; i < 3000 && gateway.metrics.drops.get({ reason: 'slow-consumer' }) === 0; i++) {
      // A new branch each time, or the gateway would absorb them as retransmissions.
      pbx.send(message.replace(/branch=z9hG4bK\w+/, `branch=z9hG4bKslow${i}`), gateway.udpPort);
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => gateway.metrics.drops.get({ reason: 'slow-consumer' }) >= 1, 5000);
    await until(() => gateway.metrics.connections.get() === 0, 5000);
  });

  it('at shutdown lets an in-flight request finish, then closes WebSockets with 1001', async () => {
    const { connect, gateway, pbx } = await setup();
    const ua = await connect();
    pbx.delayMs = 300;
    const answer = ua.request('MESSAGE', 'sip:bob@127.0.0.1', { body: 'last words' });
    await new Promise((r) => setTimeout(r, 50));
    const closing = gateway.close(2000);
    expect((await answer).status).toBe(200);
    expect((await ua.closed).code).toBe(1001);
    await closing;
    // No new connections once stopped.
    await expect(
      RawWsUa.connect(`ws://127.0.0.1:${gateway.httpPort}`, { user: 'x', domain: '127.0.0.1' }),
    ).rejects.toThrow();
  });

  it('refuses other subprotocols and disallowed origins at the handshake, never half-opens', async () => {
    const { url } = await setup();
    await expect(RawWsUa.connect(url, { user: 'x', domain: 'd', protocols: ['xmpp'] })).rejects.toThrow(
      /HTTP 400/,
    );
    await expect(
      RawWsUa.connect(url, { user: 'x', domain: 'd', origin: 'https://evil.example' }),
    ).rejects.toThrow(/HTTP 403/);
    // Same origin as the Host is allowed when no allow-list is configured.
    const host = new URL(url).host;
    const same = await RawWsUa.connect(url, { user: 'x', domain: 'd', origin: `http://${host}` });
    await same.close();
  });
});

describe('Origin allow-list (RFC 6455 §10.2)', () => {
  it('allows the gateway’s own pages always, listed sites besides, others never; no Origin only when configured', () => {
    const host = 'chat.example.com:8443';
    const none = new OriginPolicy([], false);
    expect(none.allows('https://chat.example.com:8443', host)).toBe(true);
    expect(none.allows('https://shop.example', host)).toBe(false);
    // Listing the site that embeds the widget does not shut out the app the gateway serves itself.
    const listed = new OriginPolicy(['https://Shop.example/'], false);
    expect(listed.allows('https://shop.example', host)).toBe(true);
    expect(listed.allows('https://chat.example.com:8443', host)).toBe(true);
    expect(listed.allows('https://evil.example', host)).toBe(false);
    expect(listed.allows(undefined, host)).toBe(false);
    expect(new OriginPolicy([], true).allows(undefined, host)).toBe(true);
    expect(new OriginPolicy(['*'], false).allows('https://anyone.example', host)).toBe(true);
  });
});
