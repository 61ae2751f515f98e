// The interop bench itself: Kamailio as registrar/proxy, SIPp as UAC and UAS, raw UDP and WebSocket
// clients. If this file fails, every other interop test is suspect.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { startKamailio, type Kamailio } from '../support/kamailio.ts';
import { SipUdpSocket, sipRequest, summarizeSip, sipToken } from '../support/sip-udp.ts';
import { describeSipp, runSipp, sippScenario, startSippUas, type SippUas } from '../support/sipp.ts';

describe('interop bench: Kamailio + SIPp on loopback', () => {
  let kamailio: Kamailio;
  let uas: SippUas;
  let client: SipUdpSocket;
  let failed = false;

  beforeAll(async () => {
    kamailio = await startKamailio();
    uas = await startSippUas({ scenarioFile: sippScenario('message-uas.xml') });
    client = await SipUdpSocket.open();
  });

  afterAll(async () => {
    if (failed && kamailio)
      console.log(`--- kamailio log (${kamailio.logFile}) ---\n${kamailio.logTail(60)}`);
    await client?.close();
    const uasRun = await uas?.stop();
    if (failed && uasRun)
      console.log(`--- SIPp UAS ---\n${describeSipp(uasRun)}\n${uasRun.stdout.slice(-3000)}`);
    await kamailio?.stop();
  });

  /** Marks the suite failed (so afterAll prints the peers' logs) when `body` throws. */
  const step = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      throw error;
    }
  };

  it(
    'answers OPTIONS from SIPp with 200',
    step(async () => {
      const run = await runSipp({
        scenarioFile: sippScenario('options-uac.xml'),
        remote: `${kamailio.host}:${kamailio.udpPort}`,
        timeoutSeconds: 10,
      });
      expect(run.code, describeSipp(run)).toBe(0);
      expect(run.successful).toBe(1);
      expect(run.failed).toBe(0);
    }),
  );

  it(
    'registers bob over raw UDP with his Contact at the SIPp UAS',
    step(async () => {
      const register = sipRequest({
        method: 'REGISTER',
        uri: `sip:${kamailio.host}:${kamailio.udpPort}`,
        local: { port: client.port },
        from: `<sip:bob@${kamailio.host}>`,
        to: `<sip:bob@${kamailio.host}>`,
        headers: [`Contact: <sip:bob@${uas.host}:${uas.port}>`, 'Expires: 300'],
      });
      const answer = await client.request(register, kamailio.udpPort);
      expect(answer.startLine).toBe('SIP/2.0 200 OK');
      expect(answer.raw).toContain(`sip:bob@${uas.host}:${uas.port}`);

      const locations = await kamailio.dumpLocations();
      expect(locations).toContain('AoR: bob');
      expect(locations).toContain(`sip:bob@${uas.host}:${uas.port}`);
    }),
  );

  it(
    'relays MESSAGEs from a SIPp UAC (UDP, then TCP) to bob at the SIPp UAS, which answers 200',
    step(async () => {
      const overUdp = await runSipp({
        scenarioFile: sippScenario('message-uac.xml'),
        service: 'bob',
        remote: `${kamailio.host}:${kamailio.udpPort}`,
        calls: 5,
        rate: 50,
        timeoutSeconds: 15,
      });
      expect(overUdp.code, describeSipp(overUdp)).toBe(0);
      expect(overUdp.successful).toBe(5);

      const overTcp = await runSipp({
        scenarioFile: sippScenario('message-uac-inf.xml'),
        injectionCsv: 'SEQUENTIAL\nbob;\n',
        transport: 't1',
        remote: `${kamailio.host}:${kamailio.tcpPort}`,
        calls: 3,
        rate: 50,
        timeoutSeconds: 15,
      });
      expect(overTcp.code, describeSipp(overTcp)).toBe(0);
      expect(overTcp.successful).toBe(3);
    }),
  );

  it(
    'answers 404 for a user nobody registered',
    step(async () => {
      const message = sipRequest({
        method: 'MESSAGE',
        uri: `sip:nobody@${kamailio.host}:${kamailio.udpPort}`,
        local: { port: client.port },
        body: 'hello?',
      });
      const answer = await client.request(message, kamailio.udpPort);
      expect(answer.status).toBe(404);
    }),
  );

  it(
    'honours Path: a registration made through an edge proxy routes requests back through that proxy',
    step(async () => {
      const edge = await SipUdpSocket.open();
      try {
        // The edge proxy's flow lives in its Path URI; the UA's own Contact is unreachable (.invalid).
        const path = `<sip:flow1@${edge.host}:${edge.port};lr>`;
        const register = sipRequest({
          method: 'REGISTER',
          uri: `sip:${kamailio.host}`,
          local: { port: edge.port },
          from: `<sip:carol@${kamailio.host}>`,
          to: `<sip:carol@${kamailio.host}>`,
          headers: [`Path: ${path}`, 'Supported: path', 'Contact: <sip:carol@ua.invalid;transport=ws>'],
        });
        const registered = await edge.request(register, kamailio.udpPort);
        expect(registered.status).toBe(200);
        expect(registered.raw).toMatch(/^Path: <sip:flow1@/m);

        const message = sipRequest({
          method: 'MESSAGE',
          uri: `sip:carol@${kamailio.host}`,
          local: { port: client.port },
          body: 'via the edge',
        });
        const answered = client.request(message, kamailio.udpPort);
        const relayed = await edge.waitFor((m) => m.method === 'MESSAGE', 5000);
        expect(relayed.startLine).toBe('MESSAGE sip:carol@ua.invalid;transport=ws SIP/2.0');
        expect(relayed.raw).toMatch(/^Route: <sip:flow1@/m);
        const head = relayed.raw.slice(0, relayed.raw.indexOf('\r\n\r\n')).split('\r\n');
        const echo = head.filter((line) => /^(via|from|to|call-id|cseq):/i.test(line));
        const ok = echo.map((line) => (/^to:/i.test(line) ? `${line};tag=${sipToken(4)}` : line));
        await edge.send(
          ['SIP/2.0 200 OK', ...ok, 'Content-Length: 0', '', ''].join('\r\n'),
          kamailio.udpPort,
        );
        expect((await answered).status).toBe(200);
      } finally {
        await edge.close();
      }
    }),
  );

  it(
    'registers a WebSocket client (sub-protocol sip) and delivers a SIPp MESSAGE to it over its connection',
    step(async () => {
      const ws = new WebSocket(kamailio.wsUrl, 'sip');
      const inbox: string[] = [];
      const waiters: Array<() => void> = [];
      ws.on('message', (data: Buffer) => {
        inbox.push(data.toString('utf8'));
        for (const wake of waiters.splice(0)) wake();
      });
      const next = async (predicate: (raw: string) => boolean, timeoutMs = 5000): Promise<string> => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const found = inbox.find(predicate);
          if (found !== undefined) return found;
          if (Date.now() > deadline)
            throw new Error(`WebSocket: nothing matching; got ${inbox.length} frames`);
          await new Promise<void>((resolve) => {
            waiters.push(resolve);
            setTimeout(resolve, 100);
          });
        }
      };
      try {
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        expect(ws.protocol).toBe('sip');

        // A browser-style client: its Via and Contact name an .invalid host Kamailio cannot reach.
        const callId = sipToken(12);
        ws.send(
          sipRequest({
            method: 'REGISTER',
            uri: `sip:${kamailio.host}`,
            local: { host: 'df7jal23ls0d.invalid', transport: 'WS' },
            from: `<sip:alice@${kamailio.host}>`,
            to: `<sip:alice@${kamailio.host}>`,
            callId,
            headers: ['Contact: <sip:k3h2l1@df7jal23ls0d.invalid;transport=ws>', 'Expires: 300'],
          }),
        );
        const registered = summarizeSip(await next((raw) => raw.includes(callId)));
        expect(registered.status).toBe(200);
        expect(await kamailio.dumpLocations()).toContain('AoR: alice');

        // SIPp sends to alice through Kamailio; answer each MESSAGE with 200 on the WebSocket.
        ws.on('message', (data: Buffer) => {
          const raw = data.toString('utf8');
          if (!raw.startsWith('MESSAGE ')) return;
          const head = raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n');
          const keep = head.filter((line) => /^(via|from|to|call-id|cseq|v|f|t|i):/i.test(line));
          const withTag = keep.map((line) => (/^(to|t):/i.test(line) ? `${line};tag=${sipToken(4)}` : line));
          ws.send(['SIP/2.0 200 OK', ...withTag, 'Content-Length: 0', '', ''].join('\r\n'));
        });
        const run = await runSipp({
          scenarioFile: sippScenario('message-uac.xml'),
          service: 'alice',
          remote: `${kamailio.host}:${kamailio.udpPort}`,
          calls: 2,
          timeoutSeconds: 15,
        });
        expect(run.code, describeSipp(run)).toBe(0);
        expect(run.successful).toBe(2);
        const delivered = inbox.filter((raw) => raw.startsWith('MESSAGE sip:'));
        expect(delivered).toHaveLength(2);
        expect(delivered[0]).toContain('Hello alice');
      } finally {
        ws.close();
      }
    }),
  );

  it(
    'dumpLocations lists bob at the SIPp UAS',
    step(async () => {
      const locations = await kamailio.dumpLocations();
      expect(locations).toMatch(/AoR: bob/);
      expect(locations).toContain(`sip:bob@127.0.0.1:${uas.port}`);
    }),
  );
});
