// The gateway in front of a real Kamailio (Path-aware registrar, test/support/kamailio/kamailio.cfg), with real
// peers: JsSIP and SIP.js in Node over WebSocket, SIPp over UDP, and a raw WebSocket UA where a browser would
// run INVITE (test/support/raw-ws-ua.ts). Once with the gateway→Kamailio leg over UDP, once over TCP; then with
// a lossy UDP relay between the two.

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { gatewayConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/gateway.ts';
import type { SipRequest } from '../../web/src/sip/index.ts';
import { startKamailio, type Kamailio } from '../support/kamailio.ts';
import { startLossShim, type LossShim } from '../support/loss-shim.ts';
import { RawWsUa } from '../support/raw-ws-ua.ts';
import { SipUdpSocket, sipRequest } from '../support/sip-udp.ts';
import { describeSipp, runSipp, sippScenario } from '../support/sipp.ts';

// JsSIP and SIP.js look for a browser WebSocket.
(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
const JsSIP = (await import('jssip')).default;
const { UserAgent, Registerer, Messager } = await import('sip.js');
JsSIP.debug.disable();

const DOMAIN = '127.0.0.1';
const testLog = pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' });

/**
 * tm timers for the tests: fr_timer 30 s instead of the script's 10 s, and wt_timer (how long a finished
 * transaction absorbs retransmissions) 32 s as RFC 3261 Timer J, instead of Kamailio's 5 s: with loss, a
 * gateway retransmission may come later than 5 s after the final response, and would then be relayed again.
 */
const TM_FOR_LOSS = ['modparam("tm", "fr_timer", 30000)', 'modparam("tm", "wt_timer", 32000)'].join('\n');

/** A SIPp UAC scenario: INVITE → 200 → ACK, re-INVITE → 200 → ACK, BYE → 200, routed by the Record-Route set. */
const INVITE_DIALOG_UAC = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="INVITE dialog through Kamailio and the gateway">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="180" optional="true" />
  <recv response="200" rrs="true" timeout="10000" />
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      [routes]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="100" />
  <send retrans="500">
    <![CDATA[

      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      [routes]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="200" timeout="10000" />
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      [routes]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="100" />
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      [routes]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" timeout="10000" />
</scenario>
`;

interface JsSipPeer {
  ua: InstanceType<typeof JsSIP.UA>;
  inbox: string[];
  stop(): Promise<void>;
}

async function startJsSip(url: string, user: string): Promise<JsSipPeer> {
  const inbox: string[] = [];
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(url)],
    uri: `sip:${user}@${DOMAIN}`,
    password: 'unused',
    register: true,
    register_expires: 300,
    session_timers: false,
    connection_recovery_min_interval: 30,
  });
  ua.on('newMessage', (event: { originator: string; request: { body: string } }) => {
    if (event.originator === 'remote') inbox.push(event.request.body);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`JsSIP ${user}: no registration in 10 s`)), 10_000);
    ua.once('registered', () => {
      clearTimeout(timer);
      resolve();
    });
    ua.once('registrationFailed', (event: { cause: string }) => {
      clearTimeout(timer);
      reject(new Error(`JsSIP ${user}: registration failed: ${event.cause}`));
    });
    ua.start();
  });
  return {
    ua,
    inbox,
    stop: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        ua.once('disconnected', () => {
          clearTimeout(timer);
          resolve();
        });
        ua.stop();
      }),
  };
}

function jsSipMessage(peer: JsSipPeer, target: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    peer.ua.sendMessage(target, body, {
      contentType: 'text/plain',
      eventHandlers: {
        succeeded: (event) => resolve(event.response.status_code),
        failed: (event) =>
          // JsSIP reports a transport failure or timeout without a response.
          (event.response as { status_code?: number } | undefined)?.status_code !== undefined
            ? resolve(event.response.status_code)
            : reject(new Error(`JsSIP MESSAGE failed: ${String(event.cause)}`)),
      },
    });
  });
}

interface SipJsPeer {
  ua: InstanceType<typeof UserAgent>;
  inbox: string[];
  stop(): Promise<void>;
}

async function startSipJs(url: string, user: string): Promise<SipJsPeer> {
  const inbox: string[] = [];
  const uri = UserAgent.makeURI(`sip:${user}@${DOMAIN}`);
  if (uri === undefined) throw new Error('bad SIP.js URI');
  const ua = new UserAgent({
    uri,
    transportOptions: { server: url },
    logLevel: 'error',
    delegate: {
      onMessage: (message) => {
        inbox.push(message.request.body);
        void message.accept();
      },
    },
  });
  await ua.start();
  const registerer = new Registerer(ua, { expires: 300 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`SIP.js ${user}: no registration in 10 s`)), 10_000);
    registerer
      .register({
        requestDelegate: {
          onAccept: () => {
            clearTimeout(timer);
            resolve();
          },
          onReject: (response) => {
            clearTimeout(timer);
            reject(new Error(`SIP.js ${user}: REGISTER got ${response.message.statusCode}`));
          },
        },
      })
      .catch(reject);
  });
  return {
    ua,
    inbox,
    async stop() {
      await registerer.unregister().catch(() => undefined);
      await ua.stop();
    },
  };
}

function sipJsMessage(peer: SipJsPeer, target: string, body: string): Promise<number> {
  const uri = UserAgent.makeURI(target);
  if (uri === undefined) throw new Error('bad target');
  return new Promise((resolve, reject) => {
    new Messager(peer.ua, uri, body)
      .message({
        requestDelegate: {
          onAccept: (response) => resolve(response.message.statusCode ?? 0),
          onReject: (response) => resolve(response.message.statusCode ?? 0),
        },
      })
      .catch(reject);
  });
}

const token = (): string => Math.random().toString(36).slice(2, 10);

/** Starts the gateway in-process, every port ephemeral, toward `upstream`. */
function gatewayToward(
  upstream: { port: number; transport: 'udp' | 'tcp' },
  extra: Parameters<typeof gatewayConfig>[0] | object = {},
): Promise<Gateway> {
  return startGateway(
    gatewayConfig({
      host: '127.0.0.1',
      port: 0,
      sipUdp: { host: '127.0.0.1', port: 0 },
      sipTcp: { host: '127.0.0.1', port: 0 },
      upstream: { host: '127.0.0.1', ...upstream },
      publicHost: '127.0.0.1',
      origins: ['https://app.example'],
      allowMissingOrigin: true,
      ...extra,
    }),
    { log: testLog },
  );
}

describe.each(['udp', 'tcp'] as const)('gateway in front of Kamailio, upstream over %s', (transport) => {
  let kamailio: Kamailio;
  let gateway: Gateway;
  let url: string;
  let jssip: JsSipPeer | undefined;
  let sipjs: SipJsPeer | undefined;
  const uas: RawWsUa[] = [];
  let failed = false;
  const user = (name: string): string => `${name}-${transport}`;

  const rawUa = async (
    name: string,
    extra: Partial<Parameters<typeof RawWsUa.connect>[1]> = {},
  ): Promise<RawWsUa> => {
    const ua = await RawWsUa.connect(url, { user: user(name), domain: DOMAIN, ...extra });
    uas.push(ua);
    return ua;
  };

  beforeAll(async () => {
    kamailio = await startKamailio({ extraGlobals: TM_FOR_LOSS });
    gateway = await gatewayToward({
      port: transport === 'udp' ? kamailio.udpPort : kamailio.tcpPort,
      transport,
    });
    url = `ws://127.0.0.1:${gateway.httpPort}`;
  });

  afterAll(async () => {
    if (failed && kamailio)
      console.log(`--- kamailio log (${kamailio.logFile}) ---\n${kamailio.logTail(80)}`);
    await jssip?.stop();
    await sipjs?.stop();
    for (const ua of uas.splice(0)) await ua.close();
    await gateway?.close(200);
    await kamailio?.stop();
  });

  const step = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      throw error;
    }
  };

  it(
    'JsSIP and SIP.js register through the gateway; Kamailio stores the gateway Path with the flow token',
    step(async () => {
      jssip = await startJsSip(url, user('jssip'));
      sipjs = await startSipJs(url, user('sipjs'));
      const locations = await kamailio.dumpLocations();
      const port = transport === 'udp' ? gateway.udpPort : gateway.tcpPort;
      for (const name of ['jssip', 'sipjs']) {
        const block = locations.slice(locations.indexOf(`AoR: ${user(name)}`));
        expect(block, locations).toMatch(
          new RegExp(`Path: <sip:[A-Za-z0-9_-]{28}@127\\.0\\.0\\.1:${port};transport=${transport};lr(;ob)?>`),
        );
      }
      expect(gateway.metrics.flows.get()).toBe(2);
    }),
  );

  it(
    'MESSAGE both ways between JsSIP and SIP.js gets 200',
    step(async () => {
      if (jssip === undefined || sipjs === undefined) throw new Error('the registration step failed');
      expect(await jsSipMessage(jssip, `sip:${user('sipjs')}@${DOMAIN}`, 'hello SIP.js')).toBe(200);
      expect(await sipJsMessage(sipjs, `sip:${user('jssip')}@${DOMAIN}`, 'hello JsSIP')).toBe(200);
      expect(sipjs.inbox).toContain('hello SIP.js');
      expect(jssip.inbox).toContain('hello JsSIP');
    }),
  );

  it(
    'SIPp over UDP sends MESSAGE to the JsSIP user through Kamailio and the gateway, and gets 200',
    step(async () => {
      const run = await runSipp({
        scenarioFile: sippScenario('message-uac.xml'),
        service: user('jssip'),
        remote: `${kamailio.host}:${kamailio.udpPort}`,
        calls: 3,
        rate: 20,
        timeoutSeconds: 15,
      });
      expect(run.code, describeSipp(run)).toBe(0);
      expect(run.successful).toBe(3);
      expect(jssip?.inbox.filter((body) => body.startsWith('Hello'))).toHaveLength(3);
    }),
  );

  it(
    'INVITE dialog: SIPp calls a WebSocket UA; ACK, re-INVITE, ACK and BYE reach it through the double Record-Route',
    step(async () => {
      const callee = await rawUa('callee');
      expect((await callee.register()).status).toBe(200);
      const run = await runSipp({
        scenarioXml: INVITE_DIALOG_UAC,
        service: user('callee'),
        remote: `${kamailio.host}:${kamailio.udpPort}`,
        calls: 1,
        timeoutSeconds: 20,
      });
      expect(run.code, describeSipp(run)).toBe(0);
      const seen = callee.requests().map((r) => `${r.method} ${r.cseq.seq}`);
      expect(seen).toEqual(['INVITE 1', 'ACK 1', 'INVITE 2', 'ACK 2', 'BYE 3']);
      const [invite] = callee.requests('INVITE') as [SipRequest];
      const ours = invite.recordRoute.filter(
        (rr) =>
          rr.uri.port === gateway.httpPort ||
          rr.uri.port === gateway.udpPort ||
          rr.uri.port === gateway.tcpPort,
      );
      expect(ours.map((rr) => rr.uri.param('transport'))).toEqual(['ws', transport]);
      expect(ours[0]?.uri.user).toBe(ours[1]?.uri.user);
      // In-dialog requests from the far side arrive with our Route values popped and our Via on top.
      for (const request of callee.requests().slice(1)) {
        expect(request.route.some((r) => r.uri.user === ours[0]?.uri.user)).toBe(false);
        expect(request.topVia?.transport).toBe('WS');
        expect(request.topVia?.branch).toMatch(/^z9hG4bKgw\./);
      }
    }),
  );

  it(
    'a request for a browser whose WebSocket closed gets 430 Flow Failed; a forged token sent to the gateway gets 403',
    step(async () => {
      const gone = await rawUa('gone');
      expect((await gone.register()).status).toBe(200);
      await gone.close();
      const sender = await rawUa('sender');
      const answer = await sender.request('MESSAGE', `sip:${user('gone')}@${DOMAIN}`, { body: 'anyone?' });
      expect(answer.status).toBe(430);

      const probe = await SipUdpSocket.open();
      try {
        const forged = sipRequest({
          method: 'MESSAGE',
          uri: `sip:${user('gone')}@ua.invalid;transport=ws`,
          local: { port: probe.port },
          headers: [`Route: <sip:${'A'.repeat(28)}@127.0.0.1:${gateway.udpPort};transport=udp;lr>`],
          body: 'forged',
        });
        expect((await probe.request(forged, gateway.udpPort)).status).toBe(403);
      } finally {
        await probe.close();
      }
    }),
  );

  it(
    'bad input closes or refuses only the offender: garbage 1007, oversized 1009, subprotocol and Origin refused',
    step(async () => {
      const stillServes = async (): Promise<void> => {
        const a = await rawUa('good-a');
        const b = await rawUa('good-b');
        expect((await a.register()).status).toBe(200);
        expect((await b.register()).status).toBe(200);
        expect((await a.request('MESSAGE', b.aor, { body: `ping ${token()}` })).status).toBe(200);
        await a.close();
        await b.close();
      };

      const garbage = await rawUa('garbage');
      for (let i = 0; i < 3; i++) garbage.sendRaw(`\u0001\u0002 this is not SIP ${i}`);
      expect((await garbage.closed).code).toBe(1007);
      await stillServes();

      const big = await rawUa('big');
      big.sendRaw(big.buildRequest('MESSAGE', 'sip:x@127.0.0.1', { body: 'x'.repeat(70 * 1024) }));
      expect((await big.closed).code).toBe(1009);
      await stillServes();

      await expect(RawWsUa.connect(url, { user: 'x', domain: DOMAIN, protocols: ['chat'] })).rejects.toThrow(
        /HTTP 400/,
      );
      await expect(RawWsUa.connect(url, { user: 'x', domain: DOMAIN, protocols: [] })).rejects.toThrow(
        /HTTP 400/,
      );
      await expect(
        RawWsUa.connect(url, { user: 'x', domain: DOMAIN, origin: 'https://evil.example' }),
      ).rejects.toThrow(/HTTP 403/);
      const allowed = await rawUa('allowed', { origin: 'https://app.example' });
      expect((await allowed.register()).status).toBe(200);
      await stillServes();
    }),
  );
});

describe('gateway in front of Kamailio in compatibility mode (--no-path: the flow token rides in the Contact)', () => {
  let kamailio: Kamailio;
  let gateway: Gateway;
  let jssip: JsSipPeer | undefined;
  const uas: RawWsUa[] = [];
  let failed = false;

  beforeAll(async () => {
    kamailio = await startKamailio();
    gateway = await gatewayToward({ port: kamailio.udpPort, transport: 'udp' }, { usePath: false });
  });

  afterAll(async () => {
    if (failed && kamailio)
      console.log(`--- kamailio log (${kamailio.logFile}) ---\n${kamailio.logTail(80)}`);
    await jssip?.stop();
    for (const ua of uas.splice(0)) await ua.close();
    await gateway?.close(200);
    await kamailio?.stop();
  });

  it('JsSIP registers without Path, is reached by a WebSocket UA and by SIPp; a closed flow gets 430', async () => {
    try {
      const url = `ws://127.0.0.1:${gateway.httpPort}`;
      // JsSIP fires `registered` only when it finds its own Contact in the 200: the gateway shows it unchanged.
      jssip = await startJsSip(url, 'compat-jssip');
      const locations = await kamailio.dumpLocations();
      const block = locations.slice(locations.indexOf('AoR: compat-jssip'));
      expect(block).toMatch(
        new RegExp(
          `Address: sip:[^@\\s]+@127\\.0\\.0\\.1:${gateway.udpPort};transport=udp;gw-flow=[A-Za-z0-9_-]{28};gw-ct=`,
        ),
      );
      expect(block).not.toMatch(/Path: <sip:/);

      const sender = await RawWsUa.connect(url, { user: 'compat-sender', domain: DOMAIN });
      uas.push(sender);
      expect(
        (await sender.request('MESSAGE', `sip:compat-jssip@${DOMAIN}`, { body: 'compat hello' })).status,
      ).toBe(200);
      expect(jssip.inbox).toContain('compat hello');

      const run = await runSipp({
        scenarioFile: sippScenario('message-uac.xml'),
        service: 'compat-jssip',
        remote: `${kamailio.host}:${kamailio.udpPort}`,
        calls: 1,
        timeoutSeconds: 15,
      });
      expect(run.code, describeSipp(run)).toBe(0);

      const gone = await RawWsUa.connect(url, { user: 'compat-gone', domain: DOMAIN });
      expect((await gone.register()).status).toBe(200);
      await gone.close();
      expect((await sender.request('MESSAGE', `sip:compat-gone@${DOMAIN}`, { body: 'anyone?' })).status).toBe(
        430,
      );
    } catch (error) {
      failed = true;
      throw error;
    }
  });
});

describe('gateway in front of Kamailio with 20% UDP loss each way between them', () => {
  let kamailio: Kamailio;
  let shim: LossShim;
  let gateway: Gateway;
  const uas: RawWsUa[] = [];
  let failed = false;

  beforeAll(async () => {
    kamailio = await startKamailio({ extraGlobals: TM_FOR_LOSS });
    shim = await startLossShim({ peer: { port: kamailio.udpPort }, upLoss: 0.2, downLoss: 0.2, seed: 5626 });
    gateway = await gatewayToward(
      { port: shim.frontPort, transport: 'udp' },
      { publicPorts: { udp: shim.backPort } },
    );
  });

  afterAll(async () => {
    if (failed && kamailio)
      console.log(`--- kamailio log (${kamailio.logFile}) ---\n${kamailio.logTail(80)}`);
    for (const ua of uas.splice(0)) await ua.close();
    await gateway?.close(200);
    await shim?.close();
    await kamailio?.stop();
  });

  it('50 MESSAGEs from one WebSocket UA to another all get 200, and none reaches the receiver twice', async () => {
    try {
      const url = `ws://127.0.0.1:${gateway.httpPort}`;
      const alice = await RawWsUa.connect(url, { user: 'lossy-alice', domain: DOMAIN });
      const bob = await RawWsUa.connect(url, { user: 'lossy-bob', domain: DOMAIN });
      uas.push(alice, bob);
      expect((await alice.register(300, { timeoutMs: 40_000 })).status).toBe(200);
      expect((await bob.register(300, { timeoutMs: 40_000 })).status).toBe(200);

      const count = 50;
      const answers = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          alice.request('MESSAGE', bob.aor, {
            body: `lossy ${i}`,
            callId: `lossy-${i}-${token()}`,
            timeoutMs: 45_000,
          }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: count }, () => 200));
      const delivered = bob.requests('MESSAGE').map((r) => `${r.callId} ${r.cseq.seq}`);
      expect(new Set(delivered).size).toBe(delivered.length);
      expect(delivered).toHaveLength(count);
      expect(shim.stats.up.dropped + shim.stats.down.dropped).toBeGreaterThan(0);
      expect(gateway.metrics.retransmissions.total()).toBeGreaterThan(0);
    } catch (error) {
      failed = true;
      throw error;
    }
  });
});
