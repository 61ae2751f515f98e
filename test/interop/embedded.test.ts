// The gateway in embedded mode (no --upstream): its built-in SIP core as registrar, forking proxy, message
// store and URI-list service, with real peers: raw WebSocket UAs (the seeds' Romeo and Juliet scenario, caller
// preferences), our UA, JsSIP, SIP.js, SIPp over UDP, and the gateway as a child process killed with SIGKILL
// under load.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { createResponse, parseCpim, type SipRequest, type SipResponse } from '../../web/src/sip/index.ts';
import {
  digestAnswer,
  digestRegister,
  makeDataDir,
  startEmbeddedGateway,
  type EmbeddedGateway,
} from '../support/embedded-gateway.ts';
import { startOurUa, type OurUa } from '../support/our-ua.ts';
import { freePort, freeUdpTcpPort } from '../support/ports.ts';
import { RawWsUa } from '../support/raw-ws-ua.ts';
import { requireTool } from '../support/require-tool.ts';
import { describeSipp, runSipp } from '../support/sipp.ts';
import { cpimMessage, imdnOf, recipientView, uriListBody } from '../support/uri-list-builders.ts';

// JsSIP and SIP.js look for a browser WebSocket.
(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
const JsSIP = (await import('jssip')).default;
JsSIP.debug.disable();
const SIPJS = await import('sip.js');

const BRANCH_TIMEOUT = 1200;

let gw: EmbeddedGateway | undefined;
const uas: RawWsUa[] = [];
const ours: OurUa[] = [];

afterEach(async () => {
  for (const ua of uas.splice(0)) await ua.close();
  for (const ua of ours.splice(0)) await ua.stop();
  await gw?.close();
  gw = undefined;
});

async function gateway(
  users: Record<string, string>,
  branchTimeoutMs = BRANCH_TIMEOUT,
): Promise<EmbeddedGateway> {
  gw = await startEmbeddedGateway({ users, branchTimeoutMs });
  return gw;
}

async function rawUa(g: EmbeddedGateway, user: string, contactHeaderParams = ''): Promise<RawWsUa> {
  const instance = `<urn:uuid:${crypto.randomUUID()}>`;
  const ua = await RawWsUa.connect(g.wsUrl, {
    user,
    domain: g.domain,
    contactHeaderParams: `;+sip.instance="${instance}";reg-id=1${contactHeaderParams}`,
  });
  uas.push(ua);
  return ua;
}

const tag = (): string => randomBytes(4).toString('hex');
const parseCpimText = (body: string): string => new TextDecoder().decode(parseCpim(body).content);

/** A device that rings and never answers: 180 to INVITE (an early dialog), silence to MESSAGE, 487 on CANCEL. */
function ringing(ua: RawWsUa, log: { at: number; method: string }[]): void {
  const invites = new Map<string, { request: SipRequest; toTag: string }>();
  ua.onRequest = (request, self) => {
    log.push({ at: Date.now(), method: request.method });
    switch (request.method) {
      case 'INVITE': {
        const toTag = tag();
        invites.set(request.topVia?.branch ?? '', { request, toTag });
        const ringing = createResponse(request, 180, {
          toTag,
          headers: { Contact: `<sip:${self.contactUser}@${self.viaHost};transport=ws>` },
        });
        const rr = request.headers.getAll('record-route');
        if (rr.length > 0) ringing.headers.set('Record-Route', rr);
        self.send(ringing);
        return null;
      }
      case 'CANCEL': {
        self.send(createResponse(request, 200));
        const invite = invites.get(request.topVia?.branch ?? '');
        if (invite !== undefined) self.send(createResponse(invite.request, 487, { toTag: invite.toTag }));
        return null;
      }
      case 'MESSAGE':
      case 'ACK':
        return null;
      default:
        return self.defaultAnswer(request);
    }
  };
}

function answering(ua: RawWsUa, status: number, log: { at: number; method: string }[]): void {
  ua.onRequest = (request, self) => {
    log.push({ at: Date.now(), method: request.method });
    if (request.method === 'ACK') return null;
    if (status === 200 || request.method === 'BYE') return self.defaultAnswer(request);
    return createResponse(request, status, { toTag: tag() });
  };
}

/** Route set and target of requests inside the dialog a 2xx to INVITE made (§12.1.2: reversed Record-Route). */
function dialogOf(ok: SipResponse): { uri: string; headers: string[]; to: string; callId: string } {
  const route = ok.headers
    .getAll('record-route')
    .flatMap((v) => v.split(/,(?=\s*<)/))
    .map((v) => v.trim())
    .reverse();
  const contact = ok.contacts[0];
  if (contact === undefined) throw new Error('2xx without Contact');
  return {
    uri: contact.uri.toString(),
    headers: route.map((r) => `Route: ${r}`),
    to: ok.headers.get('to') ?? '',
    callId: ok.callId,
  };
}

async function registerAll(password: string, ...devices: RawWsUa[]): Promise<void> {
  for (const device of devices) expect((await digestRegister(device, password)).status).toBe(200);
}

describe('embedded mode: the seeds’ scenario (Romeo and Juliet, forking by q-value)', () => {
  async function juliet(g: EmbeddedGateway) {
    const log = {
      balcony: [] as { at: number; method: string }[],
      chamber: [] as { at: number; method: string }[],
      pda: [] as { at: number; method: string }[],
      nurse: [] as { at: number; method: string }[],
    };
    const balcony = await rawUa(g, 'juliet', ';q=1.0');
    const chamber = await rawUa(g, 'juliet', ';q=1.0');
    const pda = await rawUa(g, 'juliet', ';q=0.4');
    const nurse = await rawUa(g, 'juliet', ';q=0.1');
    ringing(balcony, log.balcony);
    ringing(chamber, log.chamber);
    answering(pda, 486, log.pda);
    answering(nurse, 200, log.nurse);
    await registerAll('capulet', balcony, chamber, pda, nurse);
    const romeo = await rawUa(g, 'romeo');
    return { log, balcony, chamber, pda, nurse, romeo };
  }

  it('MESSAGE: balcony and chamber in parallel, after the branch timeout the PDA (486), then the Nurse (200)', async () => {
    const g = await gateway({ juliet: 'capulet', romeo: 'montague' });
    const { log, romeo } = await juliet(g);
    const started = Date.now();
    const answer = await romeo.request('MESSAGE', 'sip:juliet@localhost', { body: 'art thou hither?' });
    expect(answer.status).toBe(200);
    const first = (l: { at: number; method: string }[]) => l.find((e) => e.method === 'MESSAGE')?.at ?? NaN;
    const [b, c, p, n] = [first(log.balcony), first(log.chamber), first(log.pda), first(log.nurse)];
    // Both q=1.0 devices at once, the PDA only after the branch timeout, the Nurse after the PDA's 486.
    expect(Math.abs(b - c)).toBeLessThan(200);
    expect(b - started).toBeLessThan(500);
    expect(p - b).toBeGreaterThanOrEqual(BRANCH_TIMEOUT - 50);
    expect(n).toBeGreaterThanOrEqual(p);
    expect(n - p).toBeLessThan(BRANCH_TIMEOUT);
  });

  it('INVITE: early dialogs with balcony and chamber, CANCEL after the timeout, 486 from the PDA, 200 from the Nurse', async () => {
    const g = await gateway({ juliet: 'capulet', romeo: 'montague' });
    const { log, romeo, balcony, chamber, nurse } = await juliet(g);
    const fromTag = tag();
    const ok = await romeo.request('INVITE', 'sip:juliet@localhost', { fromTag, cseq: 1 });
    expect(ok.status).toBe(200);
    // Two early dialogs: a 180 from each q=1.0 device, with its own To tag.
    const ringingTags = new Set(
      romeo.received
        .filter((m): m is SipResponse => m.kind === 'response' && m.status === 180)
        .map((m) => m.toTag),
    );
    expect(ringingTags.size).toBe(2);
    // The q=1.0 devices were cancelled; the PDA's 486 was not what Romeo got.
    expect(balcony.requests('CANCEL')).toHaveLength(1);
    expect(chamber.requests('CANCEL')).toHaveLength(1);
    expect(log.pda.map((e) => e.method)).toContain('INVITE');
    expect(romeo.received.some((m) => m.kind === 'response' && m.status === 486)).toBe(false);
    // The dialog with the Nurse works through the Record-Routes: ACK and BYE reach her.
    const dialog = dialogOf(ok);
    const inDialog = { headers: dialog.headers, to: dialog.to, callId: dialog.callId, fromTag };
    romeo.sendRaw(romeo.buildRequest('ACK', dialog.uri, { ...inDialog, cseq: 1 }));
    await nurse.waitForRequest((r) => r.method === 'ACK');
    const byeAnswer = await romeo.request('BYE', dialog.uri, { ...inDialog, cseq: 2 });
    expect(byeAnswer.status).toBe(200);
    expect(nurse.requests('BYE')).toHaveLength(1);
  });
});

describe('embedded mode: caller preferences (RFC 3841)', () => {
  it('Accept-Contact with require;explicit reaches only the contacts with the tag; Reject-Contact excludes them', async () => {
    const g = await gateway({ carol: 'c', dave: 'd' });
    const text1 = await rawUa(g, 'carol', ';+sip.text');
    const text2 = await rawUa(g, 'carol', ';+sip.text;video');
    const plain = await rawUa(g, 'carol', ';audio');
    await registerAll('c', text1, text2, plain);
    const dave = await rawUa(g, 'dave');
    const accepted = await dave.request('MESSAGE', 'sip:carol@localhost', {
      body: 'text only',
      headers: ['Accept-Contact: *;+sip.text;require;explicit'],
    });
    expect(accepted.status).toBe(200);
    const got = (ua: RawWsUa, body: string) =>
      ua.requests('MESSAGE').filter((r) => r.bodyText === body).length;
    expect(got(text1, 'text only') + got(text2, 'text only')).toBeGreaterThanOrEqual(1);
    expect(got(plain, 'text only')).toBe(0);

    const rejected = await dave.request('MESSAGE', 'sip:carol@localhost', {
      body: 'no text devices',
      headers: ['Reject-Contact: *;+sip.text'],
    });
    expect(rejected.status).toBe(200);
    expect(got(plain, 'no text devices')).toBe(1);
    expect(got(text1, 'no text devices') + got(text2, 'no text devices')).toBe(0);

    // Nothing left after the preferences: 480.
    const none = await dave.request('MESSAGE', 'sip:carol@localhost', {
      body: 'x',
      headers: ['Accept-Contact: *;+sip.text;require;explicit', 'Reject-Contact: *;+sip.text'],
    });
    expect(none.status).toBe(480);
  });

  it('Request-Disposition: sequential tries equal-q contacts one after the other', async () => {
    const g = await gateway({ carol: 'c', dave: 'd' }, 800);
    const log1: { at: number; method: string }[] = [];
    const log2: { at: number; method: string }[] = [];
    const first = await rawUa(g, 'carol');
    const second = await rawUa(g, 'carol');
    ringing(first, log1);
    ringing(second, log2);
    await registerAll('c', first, second);
    const dave = await rawUa(g, 'dave');
    // Parallel by default: both get it at once; sequential: one, then the other after the branch timeout.
    const pending = dave.request('MESSAGE', 'sip:carol@localhost', {
      body: 'one by one',
      headers: ['Request-Disposition: sequential'],
      timeoutMs: 15_000,
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(log1.length + log2.length).toBe(1);
    await new Promise((r) => setTimeout(r, 800));
    expect(log1.length + log2.length).toBe(2);
    // Neither answers: the fork gives up at 48·T1 (4.8 s with the tests’ T1) and stores the message.
    expect((await pending).status).toBe(202);
  });
});

describe('embedded mode: registrar (RFC 3261 §10, RFC 5626)', () => {
  it('423 below Min-Expires, reg-id replacement, Contact: * removal, bindings gone with their flow', async () => {
    const g = await gateway({ erin: 'e', frank: 'f' });
    const erin = await rawUa(g, 'erin');
    const brief = await digestRegister(erin, 'e', 10);
    expect(brief.status).toBe(423);
    expect(brief.headers.get('min-expires')).toBe('60');
    const ok = await digestRegister(erin, 'e', 120);
    expect(ok.status).toBe(200);
    expect(ok.headers.getAll('contact')).toHaveLength(1);
    expect(ok.headers.getAll('path')).toHaveLength(1);
    // A second connection of the same instance and reg-id replaces the binding (RFC 5626 §6).
    const again = await RawWsUa.connect(g.wsUrl, {
      user: 'erin',
      domain: g.domain,
      contactHeaderParams: `;+sip.instance="<urn:uuid:00000000-0000-4000-8000-000000000001>";reg-id=1`,
    });
    uas.push(again);
    const twin = await RawWsUa.connect(g.wsUrl, {
      user: 'erin',
      domain: g.domain,
      contactHeaderParams: `;+sip.instance="<urn:uuid:00000000-0000-4000-8000-000000000001>";reg-id=1`,
    });
    uas.push(twin);
    expect((await digestRegister(again, 'e')).status).toBe(200);
    const replaced = await digestRegister(twin, 'e');
    expect(replaced.status).toBe(200);
    expect(replaced.headers.getAll('contact')).toHaveLength(2); // erin's first device and the twin
    const frank = await rawUa(g, 'frank');
    expect((await frank.request('MESSAGE', 'sip:erin@localhost', { body: 'to both' })).status).toBe(200);
    expect(again.requests('MESSAGE')).toHaveLength(0);
    expect(twin.requests('MESSAGE')).toHaveLength(1);

    // The flow dies: its binding goes; with no binding left the message is stored (202).
    await twin.close();
    const star = await digestRegister(erin, 'e', 0, { headers: [] });
    expect(star.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect((await frank.request('MESSAGE', 'sip:erin@localhost', { body: 'later' })).status).toBe(202);
    expect(g.gateway.core?.location.lookup('erin@localhost', performance.now())).toHaveLength(0);
  });

  it('Contact: * with Expires: 0 removes every binding; an unknown user gets 404', async () => {
    const g = await gateway({ erin: 'e', frank: 'f' });
    const erin = await rawUa(g, 'erin');
    expect((await digestRegister(erin, 'e')).status).toBe(200);
    const first = await erin.register(0, { headers: [] });
    expect(first.status).toBe(401);
    const auth = digestAnswer(first, 'erin', 'e', 'REGISTER', 'sip:localhost');
    const star = await erin.request('REGISTER', 'sip:localhost', {
      to: '<sip:erin@localhost>',
      headers: ['Contact: *', 'Expires: 0', `Authorization: ${auth}`],
    });
    expect(star.status).toBe(200);
    expect(star.headers.getAll('contact')).toHaveLength(0);
    const frank = await rawUa(g, 'frank');
    expect((await frank.request('MESSAGE', 'sip:nobody@localhost', { body: 'x' })).status).toBe(404);
    expect((await frank.request('MESSAGE', 'sip:erin@elsewhere.example', { body: 'x' })).status).toBe(403);
  });

  it('wrong password: 401, then 403 after repeated failures from that client; the real user still registers', async () => {
    const g = await gateway({ grace: 'right' });
    const attacker = await rawUa(g, 'grace');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await digestRegister(attacker, `guess${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([403, 403]);
    // Even the right password is refused from the blocked client …
    expect((await digestRegister(attacker, 'right')).status).toBe(403);
    // … but the real user, on their own connection, is not locked out.
    const real = await rawUa(g, 'grace');
    expect((await digestRegister(real, 'right')).status).toBe(200);
    expect((await digestRegister(real, 'right', 300, { algorithm: 'MD5' })).status).toBe(200);
  });

  it('challenges SHA-256 then MD5; a nonce that is not ours gets a fresh, non-stale challenge', async () => {
    const g = await gateway({ heidi: 'h' });
    const heidi = await rawUa(g, 'heidi');
    const first = await heidi.register(300);
    expect(first.status).toBe(401);
    expect(first.headers.getAll('www-authenticate').map((v) => /algorithm=([\w-]+)/.exec(v)?.[1])).toEqual([
      'SHA-256',
      'MD5',
    ]);
    // (Stale nonces, nonce lifetime and replay are covered with a controlled clock in digest-guard.test.ts.)
    const auth = digestAnswer(first, 'heidi', 'h', 'REGISTER', 'sip:localhost').replace(
      /nonce="[^"]+"/,
      'nonce="AAAA"',
    );
    const notOurs = await heidi.register(300, { headers: [`Authorization: ${auth}`] });
    expect(notOurs.status).toBe(401);
    expect(notOurs.headers.get('www-authenticate')).not.toMatch(/stale=true/i);
  });
});

describe('embedded mode: clients', () => {
  it('our UA and JsSIP register with digest and exchange MESSAGE', async () => {
    const g = await gateway({ ours: 'pw1', jssip: 'pw2' });
    const ua = startOurUa({ wsUrl: g.wsUrl, aor: 'sip:ours@localhost', password: 'pw1' });
    ours.push(ua);
    await ua.registered();
    const inbox: string[] = [];
    const jssip = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(g.wsUrl)],
      uri: 'sip:jssip@localhost',
      password: 'pw2',
      register: true,
      register_expires: 300,
      session_timers: false,
    });
    jssip.on('newMessage', (event: { originator: string; request: { body: string } }) => {
      if (event.originator === 'remote') inbox.push(event.request.body);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('JsSIP: no registration in 10 s')), 10_000);
        jssip.once('registered', () => {
          clearTimeout(timer);
          resolve();
        });
        jssip.once('registrationFailed', (event: { cause: string }) => {
          clearTimeout(timer);
          reject(new Error(`JsSIP registration failed: ${event.cause}`));
        });
        jssip.start();
      });
      expect(await ua.sendMessage('sip:jssip@localhost', 'hello JsSIP')).toBe(200);
      const status = await new Promise<number>((resolve, reject) => {
        jssip.sendMessage('sip:ours@localhost', 'hello ours', {
          contentType: 'text/plain',
          eventHandlers: {
            succeeded: (event) => resolve(event.response.status_code),
            failed: (event) =>
              (event.response as { status_code?: number } | undefined)?.status_code !== undefined
                ? resolve(event.response.status_code)
                : reject(new Error(`JsSIP MESSAGE failed: ${String(event.cause)}`)),
          },
        });
      });
      expect(status).toBe(200);
      await ua.waitForMessage((m) => m.text === 'hello ours');
      expect(inbox).toContain('hello JsSIP');
    } finally {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        jssip.once('disconnected', () => {
          clearTimeout(timer);
          resolve();
        });
        jssip.stop();
      });
    }
  });

  it('SIP.js registers with digest and exchanges MESSAGE with our UA both ways', async () => {
    const g = await gateway({ ours: 'pw1', sipjs: 'pw3' });
    const ua = startOurUa({ wsUrl: g.wsUrl, aor: 'sip:ours@localhost', password: 'pw1' });
    ours.push(ua);
    await ua.registered();
    const inbox: { from: string; body: string }[] = [];
    let received: (() => void) | undefined;
    const sipjs = new SIPJS.UserAgent({
      uri: SIPJS.UserAgent.makeURI('sip:sipjs@localhost'),
      transportOptions: { server: g.wsUrl },
      authorizationUsername: 'sipjs',
      authorizationPassword: 'pw3',
      logBuiltinEnabled: false,
      delegate: {
        onMessage: (message) => {
          void message.accept();
          inbox.push({ from: message.request.from.uri.toString(), body: message.request.body });
          received?.();
        },
      },
    });
    const registerer = new SIPJS.Registerer(sipjs, { expires: 300 });
    try {
      await sipjs.start();
      // RFC 3261 §10.2: the REGISTER is challenged (401) and retried with MD5 credentials by SIP.js.
      const registered = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('SIP.js: no answer to REGISTER in 10 s')), 10_000);
        void registerer.register({
          requestDelegate: {
            onAccept: (response) => {
              clearTimeout(timer);
              resolve(response.message.statusCode ?? 0);
            },
            onReject: (response) => {
              clearTimeout(timer);
              resolve(response.message.statusCode ?? 0);
            },
          },
        });
      });
      expect(registered).toBe(200);
      expect(registerer.state).toBe(SIPJS.RegistererState.Registered);

      // Our UA → SIP.js
      const arrived = new Promise<void>((resolve) => (received = resolve));
      expect(await ua.sendMessage('sip:sipjs@localhost', 'hello SIP.js')).toBe(200);
      await Promise.race([arrived, new Promise((r) => setTimeout(r, 5000))]);
      expect(inbox).toEqual([{ from: 'sip:ours@localhost', body: 'hello SIP.js' }]);

      // SIP.js → our UA
      const target = SIPJS.UserAgent.makeURI('sip:ours@localhost');
      if (target === undefined) throw new Error('SIP.js: bad target URI');
      const status = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('SIP.js: no answer to MESSAGE in 10 s')), 10_000);
        const messager = new SIPJS.Messager(sipjs, target, 'hello ours, from SIP.js', 'text/plain');
        void messager.message({
          requestDelegate: {
            onAccept: (response) => {
              clearTimeout(timer);
              resolve(response.message.statusCode ?? 0);
            },
            onReject: (response) => {
              clearTimeout(timer);
              resolve(response.message.statusCode ?? 0);
            },
          },
        });
      });
      expect(status).toBe(200);
      const got = await ua.waitForMessage((m) => m.text === 'hello ours, from SIP.js');
      expect(got.from).toBe('sip:sipjs@localhost');
    } finally {
      await registerer.unregister().catch(() => undefined);
      await sipjs.stop().catch(() => undefined);
    }
  });

  it('SIPp over UDP sends MESSAGE to a WebSocket user: 200 online, 202 offline', async () => {
    requireTool('sipp');
    const g = await gateway({ ivan: 'i' });
    const scenario = (status: number) => `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="MESSAGE expecting ${status}">
  <send retrans="500"><![CDATA[
      MESSAGE sip:ivan@localhost SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:ivan@localhost>
      Call-ID: [call_id]
      CSeq: 1 MESSAGE
      Content-Type: text/plain
      Content-Length: [len]

      Hello ivan [call_number]
    ]]></send>
  <recv response="100" optional="true" />
  <recv response="${status}" timeout="8000" />
</scenario>
`;
    const remote = `127.0.0.1:${g.gateway.udpPort}`;
    const offline = await runSipp({ scenarioXml: scenario(202), remote, calls: 2, timeoutSeconds: 15 });
    expect(offline.code, describeSipp(offline)).toBe(0);
    const ivan = await rawUa(g, 'ivan');
    expect((await digestRegister(ivan, 'i')).status).toBe(200);
    await ivan.waitForRequest((r) => r.method === 'MESSAGE' && r.bodyText.includes('Hello ivan 2'));
    const online = await runSipp({ scenarioXml: scenario(200), remote, calls: 2, timeoutSeconds: 15 });
    expect(online.code, describeSipp(online)).toBe(0);
    expect(ivan.requests('MESSAGE')).toHaveLength(4);
  });

  it('serves the app page on the same HTTP port as the WebSocket', async () => {
    const dist = mkdtempSync(join(tmpdir(), 'dist-'));
    try {
      mkdirSync(join(dist, 'assets'));
      writeFileSync(
        join(dist, 'index.html'),
        '<!doctype html><title>simple-chat</title><div id="app"></div>',
      );
      writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)');
      gw = await startEmbeddedGateway({ config: { staticDir: dist } });
      const page = await fetch(gw.httpUrl);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toContain('<title>simple-chat</title>');
      expect((await fetch(`${gw.httpUrl}assets/app.js`)).headers.get('content-type')).toMatch(/javascript/);
      expect(await (await fetch(`${gw.httpUrl}..%2f..%2fetc%2fpasswd`)).text()).not.toContain('root:');
      expect((await fetch(`${gw.httpUrl}healthz`)).status).toBe(200);
    } finally {
      rmSync(dist, { recursive: true, force: true });
    }
  });
});

describe('embedded mode: page-mode groups (RFC 5365 URI-list service) and IMDN from the store (RFC 5438)', () => {
  const LIST = 'sip:uri-list@localhost';

  function user(g: EmbeddedGateway, name: string, password: string): OurUa {
    const ua = startOurUa({ wsUrl: g.wsUrl, aor: `sip:${name}@localhost`, password });
    ours.push(ua);
    return ua;
  }

  it('a 3-recipient list: one copy each, to/cc visible in the history, the offline one stored until it registers', async () => {
    const g = await gateway({ alice: 'a', bob: 'b', carol: 'c', dave: 'd' });
    const [alice, bob, carol] = [user(g, 'alice', 'a'), user(g, 'bob', 'b'), user(g, 'carol', 'c')];
    await Promise.all([alice.registered(), bob.registered(), carol.registered()]);
    const text = 'Capulet party tonight, masks required.';
    const list = uriListBody(
      [
        { uri: 'sip:bob@localhost', displayName: 'Bob', copyControl: 'to' },
        { uri: 'sip:carol@localhost', copyControl: 'cc' },
        { uri: 'sip:dave@localhost', copyControl: 'bcc' },
        { uri: 'sip:bob@localhost', copyControl: 'to' }, // a duplicate: still one copy for Bob
      ],
      { contentType: 'text/plain;charset=utf-8', body: text },
    );
    // The sender is challenged (401) and its UA retries with credentials: the service answers 202 Accepted.
    const answer = await alice.request('MESSAGE', LIST, {
      body: list.body,
      contentType: list.contentType,
      headers: { Require: 'recipient-list' },
    });
    expect(answer.status).toBe(202);
    const fromAlice = (m: { from: string; text: string }) => m.from === 'sip:alice@localhost';
    for (const recipient of [bob, carol]) {
      const copy = await recipient.waitForMessage(fromAlice);
      expect(copy.to).toBe(recipient.aor);
      const seen = recipientView(copy.request);
      expect(seen.text).toBe(text);
      // Each recipient sees the to/cc recipients (RFC 5365 §4) — never Dave, who was bcc.
      expect(seen.history?.map((e) => [e.uri, e.copyControl])).toEqual([
        ['sip:bob@localhost', 'to'],
        ['sip:carol@localhost', 'cc'],
      ]);
    }
    // Dave is offline: his copy is stored, and reaches him when he registers.
    const dave = user(g, 'dave', 'd');
    await dave.registered();
    const late = await dave.waitForMessage(fromAlice);
    expect(recipientView(late.request).text).toBe(text);
    expect(recipientView(late.request).history?.map((e) => e.uri)).toEqual([
      'sip:bob@localhost',
      'sip:carol@localhost',
    ]);
    // Nobody gets a second copy, and the outcomes are in /metrics.
    await new Promise((r) => setTimeout(r, 300));
    for (const ua of [bob, carol, dave]) expect(ua.messages.filter(fromAlice)).toHaveLength(1);
    expect(alice.messages).toHaveLength(0);
    const metrics = await (await fetch(`${g.httpUrl}metrics`)).text();
    expect(metrics).toMatch(/gateway_urilist_recipients_total\{outcome="delivered"\} 2/);
    expect(metrics).toMatch(/gateway_urilist_recipients_total\{outcome="stored"\} 1/);
  });

  it('a list copy that cannot be delivered comes back to the sender as an IMDN "failed" naming the recipient', async () => {
    const g = await gateway({ alice: 'a', bob: 'b' });
    const [alice, bob] = [user(g, 'alice', 'a'), user(g, 'bob', 'b')];
    await Promise.all([alice.registered(), bob.registered()]);
    const cpim = cpimMessage({
      from: 'sip:alice@localhost',
      to: LIST,
      text: 'anyone?',
      messageId: 'grp-42',
      notify: ['positive-delivery', 'negative-delivery'],
    });
    const list = uriListBody([{ uri: 'sip:bob@localhost' }, { uri: 'sip:nobody@localhost' }], {
      contentType: 'message/cpim',
      body: cpim,
    });
    const answer = await alice.request('MESSAGE', LIST, {
      body: list.body,
      contentType: list.contentType,
      headers: { Require: 'recipient-list' },
    });
    expect(answer.status).toBe(202);
    // Bob's copy carries Alice's CPIM unchanged (her imdn.Message-ID), so his own IMDNs correlate at Alice.
    const copy = await bob.waitForMessage((m) => m.from === 'sip:alice@localhost');
    expect(recipientView(copy.request).text).toBe(cpim);
    const failed = await alice.waitForMessage((m) => imdnOf(m.request)?.status === 'failed');
    expect(imdnOf(failed.request)).toMatchObject({
      kind: 'delivery',
      messageId: 'grp-42',
      recipientUri: 'sip:nobody@localhost',
      originalRecipientUri: 'sip:nobody@localhost',
    });
    expect(failed.from).toBe(LIST);
  });

  it('refuses a list request without Require: recipient-list (421) and one naming too many recipients (403)', async () => {
    const g = await gateway({ alice: 'a' });
    const alice = user(g, 'alice', 'a');
    await alice.registered();
    const small = uriListBody([{ uri: 'sip:bob@localhost' }], { contentType: 'text/plain', body: 'x' });
    const noRequire = await alice.request('MESSAGE', LIST, {
      body: small.body,
      contentType: small.contentType,
    });
    expect(noRequire.status).toBe(421);
    expect(noRequire.response.headers.get('require')).toBe('recipient-list');
    const many = uriListBody(
      Array.from({ length: 51 }, (_, i) => ({ uri: `sip:u${i}@localhost` })),
      { contentType: 'text/plain', body: 'x' },
    );
    const tooMany = await alice.request('MESSAGE', LIST, {
      body: many.body,
      contentType: many.contentType,
      headers: { Require: 'recipient-list' },
    });
    expect(tooMany.status).toBe(403);
    expect(tooMany.response.reason).toMatch(/at most 50/);
  });

  it('a CPIM MESSAGE asking for processing notifications to an offline user: 202, then the "stored" IMDN', async () => {
    const g = await gateway({ alice: 'a', erin: 'e' });
    const alice = user(g, 'alice', 'a');
    await alice.registered();
    const sentAt = Date.UTC(2026, 10, 22, 21, 0, 0);
    const cpim = cpimMessage({
      from: 'sip:alice@localhost',
      to: 'sip:erin@localhost',
      text: 'call me when you are back',
      messageId: 'im-stored-1',
      notify: ['positive-delivery', 'processing'],
      dateTime: sentAt,
    });
    expect(await alice.sendMessage('sip:erin@localhost', cpim, 'message/cpim')).toBe(202);
    const notice = await alice.waitForMessage((m) => imdnOf(m.request) !== undefined);
    expect(notice.contentType).toBe('message/cpim');
    expect(imdnOf(notice.request)).toEqual({
      kind: 'processing',
      status: 'stored',
      messageId: 'im-stored-1',
      dateTime: sentAt,
      recipientUri: 'sip:erin@localhost',
      originalRecipientUri: 'sip:erin@localhost',
    });
    // Not asked for: no notice.
    const quiet = cpimMessage({
      from: 'sip:alice@localhost',
      to: 'sip:erin@localhost',
      text: 'no receipt',
      messageId: 'im-2',
    });
    expect(await alice.sendMessage('sip:erin@localhost', quiet, 'message/cpim')).toBe(202);
    await new Promise((r) => setTimeout(r, 300));
    expect(alice.messages.filter((m) => imdnOf(m.request) !== undefined)).toHaveLength(1);
    // Erin gets both when she registers.
    const erin = user(g, 'erin', 'e');
    await erin.registered();
    await erin.waitFor(() => (erin.messages.length >= 2 ? true : undefined), 'two stored messages');
    expect(erin.messages.map((m) => parseCpimText(m.text))).toEqual([
      'call me when you are back',
      'no receipt',
    ]);
  });
});

describe('embedded mode: store-and-forward survives SIGKILL', () => {
  const dataDir = makeDataDir({ judy: 'j' });
  let child: ChildProcess | undefined;
  let httpPort = 0;
  let sipPort = 0;

  async function startChild(): Promise<void> {
    const proc = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'gateway/main.ts',
        '--host',
        '127.0.0.1',
        '--port',
        String(httpPort),
        '--sip-udp',
        `127.0.0.1:${sipPort}`,
        '--sip-tcp',
        `127.0.0.1:${sipPort}`,
        '--public-host',
        '127.0.0.1',
        '--data-dir',
        dataDir,
        '--allow-missing-origin',
        // one sender pushes 1,000 messages as fast as it can: lift the per-connection rate limit
        '--message-rate',
        '100000',
        '--message-burst',
        '100000',
        '--static',
        'off',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`gateway exited: ${output}`);
      try {
        if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`gateway did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function killChild(): Promise<void> {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    httpPort = await freePort('tcp');
    sipPort = await freeUdpTcpPort();
  });
  afterAll(async () => {
    await killChild();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('1,000 messages to an offline user are answered 202 across a SIGKILL and arrive once, in order', async () => {
    await startChild();
    const total = 1000;
    const fromTag = tag();
    const callIds = Array.from({ length: total }, (_, i) => `saf-${i}-${tag()}`);
    let sender = await RawWsUa.connect(`ws://127.0.0.1:${httpPort}`, { user: 'sender', domain: 'localhost' });
    let next = 0;
    let killed = false;
    while (next < total) {
      if (!killed && next === 400) {
        // Kill with the 401st request in flight, then restart and re-send it (same Call-ID/CSeq: its key).
        sender.sendRaw(
          sender.buildRequest('MESSAGE', 'sip:judy@localhost', {
            body: `n=${next}`,
            callId: callIds[next],
            cseq: 1,
            fromTag,
          }),
        );
        await killChild();
        killed = true;
        await sender.close();
        await startChild();
        sender = await RawWsUa.connect(`ws://127.0.0.1:${httpPort}`, { user: 'sender', domain: 'localhost' });
      }
      const answer = await sender.request('MESSAGE', 'sip:judy@localhost', {
        body: `n=${next}`,
        callId: callIds[next],
        cseq: 1,
        fromTag,
      });
      expect(answer.status).toBe(202);
      next++;
    }
    await sender.close();
    // Judy comes online: everything arrives, once, in order.
    const judy = await RawWsUa.connect(`ws://127.0.0.1:${httpPort}`, { user: 'judy', domain: 'localhost' });
    try {
      expect((await digestRegister(judy, 'j')).status).toBe(200);
      await judy.waitForRequest((r) => r.method === 'MESSAGE' && r.bodyText === `n=${total - 1}`, 30_000);
      const bodies = judy.requests('MESSAGE').map((r) => r.bodyText);
      expect(bodies).toEqual(Array.from({ length: total }, (_, i) => `n=${i}`));
      const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as {
        stored: number;
      };
      expect(health.stored).toBe(0);
    } finally {
      await judy.close();
      await killChild();
    }
  }, 120_000);
});
