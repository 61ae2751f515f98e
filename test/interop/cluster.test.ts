// The gateway as an operator runs it beside a PBX: the command line (gateway/main.ts) with two worker processes
// (node:cluster) in front of a real Kamailio. WebSockets are spread over the workers by the shared HTTP port;
// each worker has SIP ports of its own, so what Kamailio sends back for a browser reaches the worker that holds
// its WebSocket. Messages between browsers on different workers must cross Kamailio and arrive.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ConversationsEvent } from '../../web/src/sip/index.ts';
import { startKamailio, type Kamailio } from '../support/kamailio.ts';
import { startOurUa, type OurUa } from '../support/our-ua.ts';
import { isPortFree, freePort } from '../support/ports.ts';
import { startSessionUa, type SessionUa } from '../support/session-ua.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface GatewayProcess {
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly listening: { udp: number[]; tcp: number[] };
  readonly output: () => string;
}

/** `node gateway/main.ts …` with two workers; resolves when the primary logs that every worker listens. */
function startCliGateway(upstream: string, extra: readonly string[] = []): Promise<GatewayProcess> {
  const args = [
    '--import',
    'tsx',
    'gateway/main.ts',
    '--workers',
    '2',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--sip-udp',
    '127.0.0.1:0',
    '--sip-tcp',
    '127.0.0.1:0',
    '--public-host',
    '127.0.0.1',
    '--upstream',
    upstream,
    '--allow-missing-origin',
    '--log-level',
    'info',
    ...extra,
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not listen within 20 s:\n${out}`));
    }, 20_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"gateway listening"')) continue;
        const parsed = JSON.parse(line) as { http: number; udp: number[]; tcp: number[] };
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
        resolve({ child, httpPort: parsed.http, listening: parsed, output: () => out });
        return;
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code}) before listening:\n${out}`));
    });
  });
}

async function metricsText(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

describe('gateway with two workers (node:cluster) beside Kamailio', () => {
  let kamailio: Kamailio;
  let gateway: GatewayProcess;
  const uas: OurUa[] = [];

  beforeAll(async () => {
    kamailio = await startKamailio();
    gateway = await startCliGateway(`sip:127.0.0.1:${kamailio.udpPort};transport=udp`);
  });

  afterAll(async () => {
    await Promise.allSettled(uas.map((ua) => ua.stop()));
    if (gateway !== undefined && gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    await kamailio?.stop();
  });

  it('gives each worker SIP ports of its own, on one shared WebSocket port', () => {
    expect(gateway.listening.udp).toHaveLength(2);
    expect(new Set(gateway.listening.udp).size).toBe(2);
    expect(new Set(gateway.listening.tcp).size).toBe(2);
  });

  it('relays MESSAGE between browsers held by different workers, both ways', async () => {
    const wsUrl = `ws://127.0.0.1:${gateway.httpPort}`;
    for (const user of ['w1', 'w2', 'w3', 'w4']) {
      const ua = startOurUa({ wsUrl, aor: `sip:${user}@127.0.0.1` });
      uas.push(ua);
      await ua.registered();
    }
    // The round robin put two flows on each worker; /metrics shows every worker's series.
    const text = await metricsText(gateway.httpPort);
    const flows = [...text.matchAll(/^gateway_flows\{worker="(\d)"\} (\d+)$/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    expect(flows).toEqual([
      ['0', 2],
      ['1', 2],
    ]);
    // Every UA sends to the next one: at least one pair crosses workers whatever the assignment.
    for (let i = 0; i < uas.length; i++) {
      const from = uas[i]!;
      const to = uas[(i + 1) % uas.length]!;
      const text = `hello ${i}`;
      const arrived = to.waitForMessage((m) => m.text === text);
      expect(await from.sendMessage(`sip:w${((i + 1) % uas.length) + 1}@127.0.0.1`, text)).toBe(200);
      await arrived;
    }
    const after = await metricsText(gateway.httpPort);
    const relayed = [
      ...after.matchAll(
        /^gateway_sip_messages_in_total\{worker="(\d)",[^}]*method="MESSAGE"[^}]*\} (\d+)$/gm,
      ),
    ];
    expect(new Set(relayed.map((m) => m[1]))).toEqual(new Set(['0', '1']));
  });

  it('stops every worker gracefully on SIGTERM', async () => {
    await Promise.allSettled(uas.splice(0).map((ua) => ua.stop()));
    const exited = new Promise<number | null>((resolve) =>
      gateway.child.once('exit', (code) => resolve(code)),
    );
    gateway.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(gateway.output()).toMatch(/"worker":1.*"gateway stopped"/);
  });
});

/** A free TCP port whose successor is free too (the MSRP base port: worker i listens on base + i). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort('tcp');
    if (port < 65535 && (await isPortFree('tcp', port + 1))) return port;
  }
  throw new Error('no two consecutive free TCP ports on 127.0.0.1');
}

describe('MSRP sessions between browsers on different workers', () => {
  let kamailio: Kamailio;
  let gateway: GatewayProcess;
  let msrpBase = 0;
  const uas: SessionUa[] = [];

  beforeAll(async () => {
    kamailio = await startKamailio();
    msrpBase = await freePortPair();
    gateway = await startCliGateway(`sip:127.0.0.1:${kamailio.udpPort};transport=udp`, [
      '--msrp-tcp',
      `127.0.0.1:${msrpBase}`,
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled(uas.map((ua) => ua.stop()));
    if (gateway !== undefined && gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    await kamailio?.stop();
  });

  it('long texts go by session from each browser to the next, through the relays of both workers', async () => {
    const users = ['s1', 's2', 's3', 's4'];
    for (const user of users) {
      const ua = await startSessionUa({
        wsUrl: `ws://127.0.0.1:${gateway.httpPort}`,
        aor: `sip:${user}@127.0.0.1`,
        password: 'unused beside a PBX',
      });
      uas.push(ua);
      await ua.registered();
    }
    // Over 1300 bytes: a session each; the MSRP WebSockets are spread over the workers like the SIP ones.
    const relayPorts = new Set<number>();
    let crossed = 0;
    for (let i = 0; i < uas.length; i++) {
      const from = uas[i]!;
      const to = uas[(i + 1) % uas.length]!;
      const text = `${i}: ${'Parting is such sweet sorrow. '.repeat(60)}`;
      const sent = from.run((c, now) => c.send(to.aor, text, {}, now));
      expect(sent.mode).toBe('session');
      await to.waitForEvent(
        (e: ConversationsEvent): e is Extract<ConversationsEvent, { type: 'message' }> =>
          e.type === 'message' && e.message.text === text,
        `session message ${i}`,
        20_000,
      );
      const conversation = from.conv.conversation(to.aor);
      const session = from.sessions.session(conversation?.sessionId ?? '');
      // The first hop of each side's path is the relay that side reached: its worker's MSRP port.
      const ports = [session?.localPath[0], session?.legs[0]?.remotePath[0]].map((uri) =>
        Number(/^msrp:\/\/127\.0\.0\.1:(\d+)\//.exec(uri ?? '')?.[1]),
      );
      for (const port of ports) {
        expect([msrpBase, msrpBase + 1]).toContain(port);
        relayPorts.add(port);
      }
      if (ports[0] !== ports[1]) crossed++;
    }
    // Both workers' relays carried sessions, and at least one session went from one worker's relay to the other's.
    expect(relayPorts).toEqual(new Set([msrpBase, msrpBase + 1]));
    expect(crossed).toBeGreaterThan(0);
  });
});
