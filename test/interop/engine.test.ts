// The SIP engine against real peers: our user agent (the sans-IO core driven by SipDriver over a `ws`
// WebSocketTransport, test/support/our-ua.ts) registers with Kamailio over WebSocket (RFC 7118, RFC 5626
// instance), exchanges MESSAGEs with JsSIP both ways, takes OPTIONS and MESSAGE from SIPp over UDP relayed by
// Kamailio, survives a dead connection (reconnects and re-registers by itself), and leaves keep-alive to the
// transport (a registrar's Flow-Timer sets its interval; Kamailio answers the CRLF pings).
//
// The steps share one Kamailio and run in order. Every wait is event-driven or polled with a bound; nothing
// sleeps a fixed time, and no assertion depends on how long something took.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { startKamailio, type Kamailio } from '../support/kamailio.ts';
import { startOurUa, type OurUa } from '../support/our-ua.ts';
import { describeSipp, runSipp, sippScenario } from '../support/sipp.ts';

// JsSIP looks for a browser WebSocket: give it ws's before it loads (PEERS.md).
const previousWebSocket = (globalThis as { WebSocket?: unknown }).WebSocket;
(globalThis as { WebSocket?: unknown }).WebSocket = (await import('ws')).WebSocket;
const JsSIP = (await import('jssip')).default;
JsSIP.debug.disable();

const HOST = '127.0.0.1';
const WAIT = { timeout: 10_000, interval: 100 };
/** Kamailio adds this Flow-Timer (RFC 5626 §4.4.1) to carol's REGISTER replies only. */
const FLOW_TIMER = 2;

// ---- Kamailio's location table (kamcmd ul.dump), as plain records

interface Binding {
  readonly address: string;
  readonly received: string | undefined;
  readonly instance: string | undefined;
  readonly callId: string | undefined;
  readonly cseq: number;
  readonly tcpconnId: string | undefined;
}

/** The bindings `ul.dump` lists for `user` (one `Key: value` per line, nested in braces). */
function bindingsOf(dump: string, user: string): Binding[] {
  const contacts: Map<string, string>[] = [];
  let aor: string | undefined;
  let contact: Map<string, string> | undefined;
  for (const raw of dump.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('AoR: ')) aor = line.slice('AoR: '.length);
    else if (line === 'Contact: {') {
      contact = new Map();
      if (aor === user) contacts.push(contact);
    } else if (line === '}') contact = undefined;
    else if (contact !== undefined) {
      const colon = line.indexOf(': ');
      if (colon > 0) contact.set(line.slice(0, colon), line.slice(colon + 2));
    }
  }
  return contacts.map((c) => ({
    address: c.get('Address') ?? '',
    received: c.get('Received'),
    instance: c.get('Instance'),
    callId: c.get('Call-ID'),
    cseq: Number(c.get('CSeq') ?? 'NaN'),
    tcpconnId: c.get('Tcpconn-Id'),
  }));
}

// ---- JsSIP in Node

interface JsSipMessage {
  readonly from: string;
  readonly body: string;
  readonly contentType: string | undefined;
}

interface JsSipPeer {
  readonly ua: InstanceType<typeof JsSIP.UA>;
  readonly inbox: JsSipMessage[];
  stop(): Promise<void>;
}

async function startJsSip(url: string, user: string): Promise<JsSipPeer> {
  const inbox: JsSipMessage[] = [];
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(url)],
    uri: `sip:${user}@${HOST}`,
    password: `${user}-secret`,
    register: true,
    register_expires: 300,
    session_timers: false,
  });
  ua.on(
    'newMessage',
    (event: {
      originator: string;
      request: {
        body: string;
        from: { uri: { toString(): string } };
        getHeader(name: string): string | undefined;
      };
    }) => {
      if (event.originator !== 'remote') return;
      inbox.push({
        from: event.request.from.uri.toString(),
        body: event.request.body,
        contentType: event.request.getHeader('Content-Type'),
      });
    },
  );
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!ua.isConnected()) {
        ua.stop();
        resolve();
        return;
      }
      // JsSIP unregisters, then closes its socket; bounded in case Kamailio is already gone.
      const timer = setTimeout(resolve, 5_000);
      ua.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      ua.stop();
    });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`JsSIP ${user}: not registered within 10 s`)), 10_000);
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
  } catch (error) {
    await stop();
    throw error;
  }
  return { ua, inbox, stop };
}

/** JsSIP sends a MESSAGE; resolves with the final status (rejects when there was no response at all). */
function jsSipMessage(peer: JsSipPeer, target: string, body: string, contentType: string): Promise<number> {
  return new Promise((resolve, reject) => {
    peer.ua.sendMessage(target, body, {
      contentType,
      eventHandlers: {
        succeeded: (event) => resolve(event.response.status_code),
        failed: (event) => {
          const status = (event.response as { status_code?: number } | null | undefined)?.status_code;
          if (status !== undefined) resolve(status);
          else
            reject(new Error(`JsSIP MESSAGE to ${target} failed without a response: ${String(event.cause)}`));
        },
      },
    });
  });
}

// ---- the suite

describe('SIP engine interop: our UA over WebSocket with Kamailio, JsSIP and SIPp', () => {
  let kamailio: Kamailio;
  let alice: OurUa | undefined;
  let carol: OurUa | undefined;
  let bob: JsSipPeer | undefined;
  let failed = false;

  beforeAll(async () => {
    kamailio = await startKamailio({
      defines: ['WITH_EXTRA_REGISTER'],
      extraRoutes: `route[EXTRA_REGISTER] {\n\tif ($tU == "carol") {\n\t\tappend_to_reply("Flow-Timer: ${FLOW_TIMER}\\r\\n");\n\t}\n}\n`,
    });
  });

  afterAll(async () => {
    await alice?.stop();
    await carol?.stop();
    await bob?.stop();
    if (failed) {
      for (const ua of [alice, carol]) if (ua) console.log(`--- our UA ${ua.aor} ---\n${ua.trace(120)}`);
      if (kamailio) console.log(`--- kamailio log (${kamailio.logFile}) ---\n${kamailio.logTail(80)}`);
    }
    await kamailio?.stop();
    (globalThis as { WebSocket?: unknown }).WebSocket = previousWebSocket;
  });

  /** Marks the suite failed (so afterAll prints the logs) when `body` throws. */
  const step = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      throw error;
    }
  };

  const needAlice = (): OurUa => {
    if (alice === undefined) throw new Error('the registration step did not start our UA');
    return alice;
  };
  const needBob = (): JsSipPeer => {
    if (bob === undefined) throw new Error('the registration step did not start JsSIP');
    return bob;
  };

  it(
    'our UA registers over WebSocket with its +sip.instance; JsSIP registers too',
    step(async () => {
      alice = startOurUa({ wsUrl: kamailio.wsUrl, aor: `sip:alice@${HOST}` });
      const registered = await alice.registered();
      expect(registered).toMatchObject({ state: 'Registered', status: 200, expires: 300 });
      expect(alice.transport.state.status).toBe('online');

      const [binding, ...others] = bindingsOf(await kamailio.dumpLocations(), 'alice');
      expect(others).toEqual([]);
      // RFC 5626 §4.2.1: the instance id and reg-id; RFC 7118 §5: an .invalid contact with transport=ws, which
      // Kamailio (fix_nated_register) pairs with the connection it came on.
      expect(binding).toMatchObject({
        instance: `<${alice.instanceId}>`,
        received: `sip:${HOST}:${String(alice.localPort)};transport=ws`,
      });
      expect(binding?.address).toMatch(/^sip:alice@[a-z0-9]+\.invalid;transport=ws;ob$/);

      bob = await startJsSip(kamailio.wsUrl, 'bob');
      expect(bindingsOf(await kamailio.dumpLocations(), 'bob')).toHaveLength(1);
    }),
  );

  it(
    'MESSAGE both ways between our UA and JsSIP: 200, and the text arrives intact',
    step(async () => {
      const ours = needAlice();
      const theirs = needBob();
      // Non-ASCII text: JsSIP decodes binary frames lossily, so this also checks that we send text frames.
      const toBob = `Grüße from our UA ✓ ${Date.now().toString(36)}`;
      expect(await ours.sendMessage(`sip:bob@${HOST}`, toBob)).toBe(200);
      await vi.waitFor(() => {
        expect(theirs.inbox.map((m) => m.body)).toContain(toBob);
      }, WAIT);
      const atBob = theirs.inbox.find((m) => m.body === toBob);
      expect(atBob?.contentType).toBe('text/plain;charset=UTF-8');
      expect(atBob?.from).toBe(`sip:alice@${HOST}`);

      const toAlice = `¡Hola from JsSIP! ${Date.now().toString(36)}`;
      expect(await jsSipMessage(theirs, `sip:alice@${HOST}`, toAlice, 'text/plain; charset=utf-8')).toBe(200);
      const atAlice = await ours.waitForMessage((m) => m.text === toAlice);
      expect(atAlice.from).toBe(`sip:bob@${HOST}`);
      expect(atAlice.contentType).toBe('text/plain; charset=utf-8');
    }),
  );

  it(
    'SIPp over UDP: OPTIONS and MESSAGE to our WebSocket-registered UA, relayed by Kamailio, get 200',
    step(async () => {
      const ours = needAlice();
      const remote = `${kamailio.host}:${kamailio.udpPort}`;
      // OPTIONS to the user (not to the server, which Kamailio answers itself): lookup() relays it to our
      // UA, whose core answers it (RFC 3261 §11.2).
      const optionsBefore = ours.events.filter(
        (e) => e.type === 'auto-response' && e.request.method === 'OPTIONS',
      );
      const options = await runSipp({
        scenarioFile: sippScenario('options-user-uac.xml'),
        service: 'alice',
        remote,
        timeoutSeconds: 15,
      });
      expect(options.code, describeSipp(options)).toBe(0);
      expect(options.successful).toBe(1);
      const answered = ours.events.filter(
        (e) => e.type === 'auto-response' && e.request.method === 'OPTIONS',
      );
      expect(answered.length - optionsBefore.length).toBe(1);
      expect(answered.at(-1)).toMatchObject({ status: 200 });

      const before = ours.messages.length;
      const messages = await runSipp({
        scenarioFile: sippScenario('message-uac.xml'),
        service: 'alice',
        remote,
        calls: 3,
        rate: 50,
        timeoutSeconds: 15,
      });
      expect(messages.code, describeSipp(messages)).toBe(0);
      expect(messages.successful).toBe(3);
      const fromSipp = ours.messages.slice(before).filter((m) => m.text.startsWith('Hello alice: message '));
      expect(fromSipp).toHaveLength(3);
      expect(fromSipp.every((m) => m.from.startsWith('sip:sipp@'))).toBe(true);
    }),
  );

  it(
    'a dead WebSocket: our UA reconnects and re-registers by itself, and MESSAGEs reach it afterwards',
    step(async () => {
      const ours = needAlice();
      const theirs = needBob();
      const [old] = bindingsOf(await kamailio.dumpLocations(), 'alice');
      if (old === undefined) throw new Error('alice is not in the location table before the kill');
      const oldPort = ours.localPort;
      const connections = ours.connections;
      const from = ours.registrations.length;

      ours.killSocket();

      // RFC 5626 §4.4.1: the flow failed (430), a new one came up, the registration was renewed on it.
      const cycle = await ours.waitFor(() => {
        const later = ours.registrations.slice(from).map((r) => r.state);
        const failedAt = later.indexOf('Failed');
        return failedAt >= 0 && later.slice(failedAt + 1).includes('Registered') ? later : undefined;
      }, 'Failed → Registered after the kill');
      expect(cycle.slice(cycle.indexOf('Failed'))).toEqual(['Failed', 'Registering', 'Registered']);
      expect(ours.registrations.slice(from).find((r) => r.state === 'Failed')?.status).toBe(430);
      expect(ours.connections).toBe(connections + 1);
      expect(ours.localPort).toBeDefined();
      expect(ours.localPort).not.toBe(oldPort);

      // Kamailio has one binding for alice, on the new connection, from a later REGISTER of the same Call-ID.
      await vi.waitFor(async () => {
        const bindings = bindingsOf(await kamailio.dumpLocations(), 'alice');
        expect(bindings).toHaveLength(1);
        expect(bindings[0]).toMatchObject({
          instance: `<${ours.instanceId}>`,
          received: `sip:${HOST}:${String(ours.localPort)};transport=ws`,
          callId: old.callId,
        });
        expect(bindings[0]!.cseq).toBeGreaterThan(old.cseq);
        expect(bindings[0]!.tcpconnId).not.toBe(old.tcpconnId);
      }, WAIT);

      const afterKill = `after the reconnection ${Date.now().toString(36)}`;
      expect(await jsSipMessage(theirs, `sip:alice@${HOST}`, afterKill, 'text/plain')).toBe(200);
      await ours.waitForMessage((m) => m.text === afterKill);

      const before = ours.messages.length;
      const sipp = await runSipp({
        scenarioFile: sippScenario('message-uac.xml'),
        service: 'alice',
        remote: `${kamailio.host}:${kamailio.udpPort}`,
        timeoutSeconds: 15,
      });
      expect(sipp.code, describeSipp(sipp)).toBe(0);
      expect(sipp.successful).toBe(1);
      expect(
        ours.messages.slice(before).filter((m) => m.text.startsWith('Hello alice: message ')),
      ).toHaveLength(1);
    }),
  );

  it(
    "keep-alive over WebSocket is the transport's: the registrar's Flow-Timer sets its interval, the core sends none",
    step(async () => {
      carol = startOurUa({ wsUrl: kamailio.wsUrl, aor: `sip:carol@${HOST}` });
      const defaultInterval = carol.transport.keepAliveInterval;
      const registered = await carol.registered();
      // RFC 5626 §4.4.1: the core reports the Flow-Timer; the driver hands it to the transport.
      expect(registered.flowTimer).toBe(FLOW_TIMER);
      expect(carol.ua.keepAliveInterval).toBe(FLOW_TIMER * 1000);
      expect(carol.transport.keepAliveInterval).toBe(FLOW_TIMER * 1000);

      // The transport pings at 80–100 % of it and Kamailio answers each CRLFCRLF with a CRLF.
      await carol.waitFor(() => (carol!.pongs >= 2 ? true : undefined), 'two keep-alive pongs', 15_000);
      expect(carol.errors.map((e) => e.message)).toEqual([]);
      expect(carol.transport.state.status).toBe('online');
      // No pong reached the core: it sent no ping of its own.
      expect(carol.events.filter((e) => e.type === 'keepalive')).toEqual([]);

      // Unregistered, the core asks for nothing more: the transport's own interval is back.
      await carol.stop();
      expect(carol.ua.registration.state).toBe('Unregistered');
      expect(carol.transport.keepAliveInterval).toBe(defaultInterval);
      expect(bindingsOf(await kamailio.dumpLocations(), 'carol')).toEqual([]);
    }),
  );

  it(
    'stop(): our UA unregisters and JsSIP too; Kamailio forgets both bindings',
    step(async () => {
      const ours = needAlice();
      await ours.stop();
      expect(ours.ua.registration.state).toBe('Unregistered');
      expect(ours.transport.state.status).toBe('offline');
      await needBob().stop();
      await vi.waitFor(async () => {
        const dump = await kamailio.dumpLocations();
        expect(bindingsOf(dump, 'alice')).toEqual([]);
        expect(bindingsOf(dump, 'bob')).toEqual([]);
      }, WAIT);
    }),
  );
});
