import { describe, expect, it } from 'vitest';
import { type SipRequest, type RegistrationSnapshot } from '../../../web/src/sip/index.ts';
import { isRequest } from '../../support/linked-pair.ts';
import { instanceOf, makeUa, miniNet, registerAll } from '../../support/ua-builders.ts';

function registrations(net: ReturnType<typeof miniNet>, name: string): RegistrationSnapshot[] {
  return net.eventsOf(name, 'registration').map((e) => e.registration);
}

function registers(net: ReturnType<typeof miniNet>, name = 'alice'): { at: number; request: SipRequest }[] {
  return net.sent(name, 'REGISTER').map((w) => ({ at: w.at, request: w.message as SipRequest }));
}

describe('registration (RFC 3261 §10.2, RFC 5626 §4.2)', () => {
  it('registers with digest: REGISTER, 401, REGISTER with credentials, 200', () => {
    const alice = makeUa('alice');
    const net = miniNet({ alice });
    alice.register(net.now);
    expect(alice.registration.state).toBe('Registering');
    expect(net.sent('alice')).toHaveLength(0); // waits for the flow
    net.connect('alice');

    expect(net.wire.map((w) => `${w.from}>${w.summary}`)).toEqual([
      'alice>REGISTER',
      'registrar>401 REGISTER',
      'alice>REGISTER',
      'registrar>200 REGISTER',
    ]);
    expect(registrations(net, 'alice').map((r) => r.state)).toEqual(['Registering', 'Registered']);
    const [first, second] = registers(net).map((r) => r.request);
    // RFC 5626 §4.2.1: instance, reg-id and ob; RFC 7118 §5: WS Via with an .invalid host and rport.
    expect(first!.headers.get('contact')).toBe(
      `<sip:alice@alice-host.invalid;transport=ws;ob>;+sip.instance="<${instanceOf('alice')}>";reg-id=1;expires=600`,
    );
    expect(first!.headers.get('via')).toMatch(
      /^SIP\/2\.0\/WS alice-host\.invalid;branch=z9hG4bK[0-9a-z]+;rport$/,
    );
    expect(first!.supported).toEqual(expect.arrayContaining(['outbound', 'path']));
    expect(first!.uri.toString()).toBe('sip:example.com');
    expect(first!.to.uri.toString()).toBe('sip:alice@example.com');
    expect(first!.from.uri.toString()).toBe('sip:alice@example.com');
    expect(first!.maxForwards).toBe(70);
    expect(first!.headers.has('authorization')).toBe(false);
    // §10.2: one Call-ID, CSeq one more, a new branch; the retry carries the credentials.
    expect(second!.callId).toBe(first!.callId);
    expect(second!.cseq.seq).toBe(first!.cseq.seq + 1);
    expect(second!.topVia?.branch).not.toBe(first!.topVia?.branch);
    expect(second!.headers.get('authorization')).toMatch(/^Digest username="alice", realm="example.com"/);
    const snapshot = alice.registration;
    expect(snapshot).toMatchObject({ state: 'Registered', status: 200, expires: 600, failures: 0 });
    expect(net.registrar.live('sip:alice@example.com', net.now)).toHaveLength(1);
  });

  it('a device states its preference (q, RFC 3261 §10.2.1.2) and feature tags (RFC 3840); the registrar keeps them', () => {
    const alice = makeUa('alice', {
      registration: { q: 0.4, featureTags: ['+sip.text', ['+sip.methods', '"MESSAGE"']] },
    });
    const net = miniNet({ alice });
    registerAll(net, ['alice']);
    const contact = registers(net).at(-1)!.request.contacts[0]!;
    expect(contact.params.get('q')).toBe('0.4');
    expect(contact.params.has('+sip.text')).toBe(true);
    expect(contact.params.get('+sip.methods')).toBe('"MESSAGE"');
    expect(net.registrar.live('sip:alice@example.com', net.now)).toHaveLength(1);
    expect(() => makeUa('bob', { registration: { q: 1.5 } })).toThrow(TypeError);
  });

  it('423 Interval Too Brief: asks again with Min-Expires', () => {
    const alice = makeUa('alice');
    const net = miniNet({ alice }, { minExpires: 1800 });
    registerAll(net, ['alice']);
    expect(net.wire.map((w) => w.summary)).toEqual([
      'REGISTER',
      '401 REGISTER',
      'REGISTER',
      '423 REGISTER',
      'REGISTER',
      '200 REGISTER',
    ]);
    const last = registers(net).at(-1)!.request;
    expect(last.contacts[0]!.params.get('expires')).toBe('1800');
    // the credentials cached from the challenge go on the 423 retry pre-emptively
    expect(last.headers.has('authorization')).toBe(true);
    expect(alice.registration.expires).toBe(1800);
    expect(registrations(net, 'alice').map((r) => r.state)).toEqual(['Registering', 'Registered']);
  });

  it('refreshes at half the granted interval, with cached credentials, and keeps doing so', () => {
    const alice = makeUa('alice', { registration: { expires: 600 } });
    const net = miniNet({ alice }, { maxExpires: 300 });
    registerAll(net, ['alice']);
    const registeredAt = net.now;
    expect(alice.registration.expires).toBe(300); // the registrar granted less than asked
    expect(alice.registration.refreshAt).toBe(registeredAt + 150_000);
    net.advanceTo(registeredAt + 149_999);
    expect(registers(net)).toHaveLength(2);
    net.advanceTo(registeredAt + 150_000);
    const refresh = registers(net)[2]!;
    expect(refresh.at).toBe(registeredAt + 150_000);
    expect(refresh.at).toBeLessThan(registeredAt + 300_000); // before the binding expires
    // pre-emptive credentials: no second challenge round
    expect(refresh.request.headers.has('authorization')).toBe(true);
    expect(net.sent('registrar', '401 REGISTER')).toHaveLength(1);
    expect(refresh.request.cseq.seq).toBe(registers(net)[1]!.request.cseq.seq + 1);
    net.advanceTo(registeredAt + 600_000);
    expect(registers(net).map((r) => r.at - registeredAt)).toEqual([
      expect.any(Number),
      expect.any(Number),
      150_000,
      300_000,
      450_000,
      600_000,
    ]);
    expect(alice.registration.state).toBe('Registered');
    expect(net.registrar.live('sip:alice@example.com', net.now)).toHaveLength(1);
  });

  it('unregister sends expires=0, ends in Unregistered and stops refreshing', () => {
    const alice = makeUa('alice');
    const net = miniNet({ alice });
    registerAll(net, ['alice']);
    alice.unregister(net.now);
    net.settle();
    const last = registers(net).at(-1)!.request;
    expect(last.contacts[0]!.params.get('expires')).toBe('0');
    expect(last.headers.get('contact')).toContain(`+sip.instance="<${instanceOf('alice')}>"`);
    expect(alice.registration.state).toBe('Unregistered');
    expect(net.registrar.live('sip:alice@example.com', net.now)).toHaveLength(0);
    const count = registers(net).length;
    net.advanceBy(3_600_000);
    expect(registers(net)).toHaveLength(count);
    expect(alice.nextDeadline()).toBeUndefined();
  });

  it('flowDown fails the registration (430) and pending requests (503); flowUp registers again', () => {
    const alice = makeUa('alice');
    const bob = makeUa('bob');
    const net = miniNet({ alice, bob });
    registerAll(net, ['alice', 'bob']);
    net.link('alice', 'up').hold(isRequest('MESSAGE'));
    const message = alice.request('MESSAGE', 'sip:bob@example.com', {
      body: 'lost',
      contentType: 'text/plain',
    });
    net.settle();
    net.disconnect('alice');
    expect(alice.registration).toMatchObject({ state: 'Failed', status: 430 });
    const finals = net.eventsOf('alice', 'final');
    expect(finals).toHaveLength(1);
    expect(finals[0]).toMatchObject({ local: true });
    expect(finals[0]!.response.status).toBe(503);
    expect(finals[0]!.outgoing.id).toBe(message.id);
    // while down, a new request fails at once
    const offline = alice.request('MESSAGE', 'sip:bob@example.com', { body: 'x', contentType: 'text/plain' });
    expect(offline.response?.status).toBe(503);
    // no REGISTER is attempted without a flow, however long we wait
    const before = registers(net).length;
    net.advanceBy(600_000);
    expect(registers(net)).toHaveLength(before);

    const flow = net.connect('alice');
    expect(alice.registration.state).toBe('Registered');
    expect(registers(net)).toHaveLength(before + 1); // cached credentials: no new challenge
    expect(alice.flow).toEqual(flow);
    expect(registrations(net, 'alice').map((r) => r.state)).toEqual([
      'Registering',
      'Registered',
      'Failed',
      'Registering',
      'Registered',
    ]);
  });

  it('a wrong password stops after one challenge round and reports Failed 401', () => {
    const alice = makeUa('alice', { credentials: { username: 'alice', password: 'wrong' } });
    const net = miniNet({ alice });
    alice.register(net.now);
    net.connect('alice');
    expect(net.wire.map((w) => w.summary)).toEqual(['REGISTER', '401 REGISTER', 'REGISTER', '401 REGISTER']);
    expect(alice.registration).toMatchObject({ state: 'Failed', status: 401, authFailure: 'rejected' });
    // terminal: no retry, however long we wait
    net.advanceBy(24 * 3_600_000);
    expect(registers(net)).toHaveLength(2);
    expect(alice.nextDeadline()).toBeUndefined();
  });

  it('a registration that keeps failing backs off (RFC 5626 §4.5) instead of hammering', () => {
    const alice = makeUa('alice');
    const net = miniNet({ alice });
    net.registrar.failNext(500, 5);
    alice.register(net.now);
    net.connect('alice');
    expect(alice.registration).toMatchObject({ state: 'Failed', status: 500, failures: 1 });
    net.advanceBy(1_500_000);
    const times = registers(net).map((r) => r.at);
    expect(times).toHaveLength(7); // five refused, then the one challenged and the one that succeeds
    const gaps = times.slice(1, 6).map((t, i) => t - times[i]!);
    // W = min(1800, 30·2^n) s, waiting between W/2 and W
    gaps.forEach((gap, i) => {
      const w = Math.min(1800, 30 * 2 ** (i + 1)) * 1000;
      expect(gap).toBeGreaterThanOrEqual(w / 2);
      expect(gap).toBeLessThanOrEqual(w);
    });
    expect(alice.registration).toMatchObject({ state: 'Registered', failures: 0 });
  });

  it('Retry-After of a 503 sets the wait', () => {
    const alice = makeUa('alice');
    const net = miniNet({ alice });
    net.registrar.failNext(503, 1, { 'Retry-After': '42' });
    alice.register(net.now);
    net.connect('alice');
    expect(alice.registration.retryAt).toBe(net.now + 42_000);
    net.advanceBy(42_000);
    expect(alice.registration.state).toBe('Registered');
  });

  it('stores Service-Route, Path and the GRUUs, and uses them', () => {
    const alice = makeUa('alice');
    const bob = makeUa('bob');
    const net = miniNet(
      { alice, bob },
      {
        gruu: true,
        serviceRoute: ['<sip:orig@scscf.example.com;lr>'],
        path: ['<sip:edge.example.com;lr;ob>'],
      },
    );
    registerAll(net, ['alice', 'bob']);
    const snap = alice.registration;
    expect(snap.serviceRoute).toEqual(['sip:orig@scscf.example.com;lr']);
    expect(snap.path).toEqual(['sip:edge.example.com;lr;ob']);
    expect(snap.pubGruu).toMatch(/^sip:alice@example\.com;gr=urn:uuid:/);
    expect(snap.tempGruu).toMatch(/;gr$/);
    expect(alice.localContact.toString()).toBe(snap.pubGruu);
    // RFC 3608: requests outside a dialog (not REGISTER) follow the Service-Route
    alice.request('MESSAGE', 'sip:bob@example.com', { body: 'hi', contentType: 'text/plain' });
    net.settle();
    const message = net.sent('alice', 'MESSAGE')[0]!.message as SipRequest;
    expect(message.headers.getAll('route')).toEqual(['<sip:orig@scscf.example.com;lr>']);
    // RFC 5627: the GRUU is the Contact of dialog-forming requests
    alice.request('SUBSCRIBE', 'sip:bob@example.com', { headers: { Event: 'presence', Expires: '0' } });
    net.settle();
    const subscribe = net.sent('alice', 'SUBSCRIBE')[0]!.message as SipRequest;
    expect(subscribe.contacts[0]!.uri.toString()).toBe(snap.pubGruu);
  });

  it('outbound proxy: Route <proxy;lr> on REGISTER and on other requests', () => {
    const alice = makeUa('alice', { outboundProxy: 'sip:proxy.example.com' });
    const net = miniNet({ alice });
    registerAll(net, ['alice']);
    const register = registers(net)[0]!.request;
    expect(register.headers.getAll('route')).toEqual(['<sip:proxy.example.com;lr>']);
  });

  it("keepAlive 'core': keeps the flow alive with CRLF pings at 80–100% of the Flow-Timer (RFC 5626 §4.4.1)", () => {
    const alice = makeUa('alice', { keepAlive: 'core' });
    expect(alice.keepAliveInterval).toBeUndefined(); // nothing asked of the driver: the core pings itself
    const net = miniNet({ alice }, { flowTimer: 30 });
    registerAll(net, ['alice']);
    const t0 = net.now;
    expect(alice.registration.flowTimer).toBe(30);
    net.advanceBy(30_000);
    const pings = net.sent('alice', 'ping');
    expect(pings).toHaveLength(1);
    expect(pings[0]!.at - t0).toBeGreaterThanOrEqual(24_000);
    expect(pings[0]!.at - t0).toBeLessThanOrEqual(30_000);
    expect(net.eventsOf('alice', 'keepalive').map((e) => e.result)).toEqual(['pong']);
  });

  it('over WebSocket the driver keeps the flow alive: the core sends no pings and reports the Flow-Timer', () => {
    const alice = makeUa('alice', { keepAliveInterval: 45_000 });
    const net = miniNet({ alice }, { flowTimer: 30 });
    expect(alice.keepAliveInterval).toBe(45_000); // before a registrar said anything: the option
    registerAll(net, ['alice']);
    expect(alice.registration.flowTimer).toBe(30);
    expect(alice.keepAliveInterval).toBe(30_000); // RFC 5626 §4.4.1: the Flow-Timer, for the driver
    net.advanceBy(120_000);
    expect(net.sent('alice', 'ping')).toHaveLength(0);
    expect(net.eventsOf('alice', 'keepalive')).toHaveLength(0);
    alice.unregister(net.now);
    net.settle();
    expect(alice.registration.state).toBe('Unregistered');
    expect(alice.keepAliveInterval).toBe(45_000);
    // TCP keeps the core's own keep-alive by default; a driver can take it over there too.
    expect(makeUa('bob', { transport: 'TCP', keepAliveInterval: 45_000 }).keepAliveInterval).toBeUndefined();
    expect(makeUa('bob', { transport: 'TCP', keepAlive: 'driver' }).keepAliveInterval).toBeUndefined();
    expect(() => makeUa('bob', { keepAlive: 'both' as 'core' })).toThrow(TypeError);
  });

  it('a lost pong is reported as a keepalive timeout', () => {
    const alice = makeUa('alice', { keepAliveInterval: 20_000 });
    const net = miniNet({ alice });
    registerAll(net, ['alice']);
    alice.ping(net.now);
    // swallow the ping: take the transmission before the network sees it
    const taken = alice.takeTransmissions();
    expect(taken.map((t) => new TextDecoder().decode(t.data))).toEqual(['\r\n\r\n']);
    net.advanceBy(10_000);
    expect(net.eventsOf('alice', 'keepalive').map((e) => e.result)).toEqual(['timeout']);
  });
});
