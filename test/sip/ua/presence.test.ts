/**
 * The presence layer (RFC 3856 / RFC 3903 / RFC 6665 client side) between users of example.com on the in-memory
 * network, with a small presence agent written here that follows the contract the embedded core implements:
 * PUBLISH → 200 with SIP-ETag (412 for an unknown tag, 423 below 60 s), SUBSCRIBE → 200 and a NOTIFY at once
 * (optionally before the 200), a NOTIFY to every watcher on each change, Expires: 0 → terminated;reason=timeout.
 * Time is explicit; NOTIFYs are lost, duplicated and sent ahead of the 2xx.
 */
import { describe, expect, it } from 'vitest';
import {
  Pager,
  PresenceClient,
  SipRequest,
  buildPidf,
  PRESENCE_STATUSES,
  composePresence,
  createResponse,
  presenceStatus,
  statusPresence,
  parsePidf,
  parseUri,
  serializeMessage,
  type PagerEvent,
  type PresenceEvent,
  type PresenceOptions,
  type SipMessage,
  type SipResponse,
  type UserAgent,
} from '../../../web/src/sip/index.ts';
import { isRequest } from '../../support/linked-pair.ts';
import { MiniNetwork, MiniRegistrar, type Delivery } from '../../support/mini-registrar.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { DOMAIN, PASSWORDS, makeUa } from '../../support/ua-builders.ts';

const ALICE = 'sip:alice@example.com';
const BOB = 'sip:bob@example.com';
const PA_HOST = 'pa.example.com';
const START = 1_000_000;

interface Publication {
  body: string;
  expiresAt: number;
}

interface Sub {
  readonly presentity: string;
  readonly endpoint: string;
  readonly callId: string;
  readonly watcherTag: string;
  readonly paTag: string;
  readonly watcher: string;
  readonly contact: string;
  cseq: number;
  expiresAt: number;
}

/** The presence agent of example.com (RFC 3856 §3: in the server), as a test double on the mini registrar. */
class FakePresenceAgent extends MiniRegistrar {
  readonly publications = new Map<string, Map<string, Publication>>();
  readonly subs: Sub[] = [];
  /** answers the watchers sent to our NOTIFYs */
  readonly notifyAnswers: SipResponse[] = [];
  /** send the first NOTIFY ahead of the SUBSCRIBE's 200 (RFC 6665 §4.1.2.4 allows the race) */
  notifyFirst = false;
  /** the next SUBSCRIBEs are answered with this status */
  refuseSubscribe: number[] = [];
  #n = 0;

  constructor() {
    super({ domain: DOMAIN, users: PASSWORDS, random: seededRandom(7) });
  }

  override handle(message: SipMessage, from: string, now: number): Delivery[] {
    if (message.kind === 'response') {
      if (message.topVia?.host === PA_HOST) {
        this.notifyAnswers.push(message);
        if (message.status === 481) this.#drop(message.callId);
        return [];
      }
      return super.handle(message, from, now);
    }
    if (message.method === 'PUBLISH') return this.#publish(message, from, now);
    if (message.method === 'SUBSCRIBE') return this.#subscribe(message, from, now);
    return super.handle(message, from, now);
  }

  /** Forget every publication (an agent restart): the next refresh gets 412. */
  forgetPublications(): void {
    this.publications.clear();
  }

  /** Forget every subscription silently: the next refresh gets 481. */
  forgetSubscriptions(): void {
    this.subs.length = 0;
  }

  /** End a subscription with a terminated NOTIFY (the test delivers what this returns through `push`). */
  terminate(presentity: string, reason: string, now: number): Delivery[] {
    const out: Delivery[] = [];
    for (const sub of this.subs.filter((s) => s.presentity === presentity)) {
      out.push(this.#notify(sub, `terminated;reason=${reason}`, now));
      this.#drop(sub.callId);
    }
    return out;
  }

  livePublications(aor: string, now: number): Publication[] {
    return [...(this.publications.get(aor)?.values() ?? [])].filter((p) => p.expiresAt > now);
  }

  #reply(request: SipRequest, from: string, status: number, headers: Record<string, string> = {}): Delivery {
    return {
      to: from,
      message: createResponse(request, status, { toTag: `pa${String(++this.#n)}`, headers }),
    };
  }

  #publish(request: SipRequest, from: string, now: number): Delivery[] {
    const aor = request.uri.aor;
    const expires = request.expires ?? 3600;
    // RFC 3903 §6 step 5: too short → 423 with Min-Expires.
    if (expires !== 0 && expires < 60) return [this.#reply(request, from, 423, { 'Min-Expires': '60' })];
    const pubs = this.publications.get(aor) ?? new Map<string, Publication>();
    this.publications.set(aor, pubs);
    const ifMatch = request.sipIfMatch;
    let body = request.bodyText;
    if (ifMatch !== undefined) {
      const old = pubs.get(ifMatch);
      if (old === undefined || old.expiresAt <= now) return [this.#reply(request, from, 412)];
      pubs.delete(ifMatch);
      if (expires === 0) return [this.#reply(request, from, 200), ...this.#notifyAll(aor, now)];
      if (body === '') body = old.body;
    } else if (body === '') return [this.#reply(request, from, 400)];
    const etag = `e${String(++this.#n)}`;
    pubs.set(etag, { body, expiresAt: now + expires * 1000 });
    const ok = this.#reply(request, from, 200, { 'SIP-ETag': etag, Expires: String(expires) });
    return [ok, ...this.#notifyAll(aor, now)];
  }

  #subscribe(request: SipRequest, from: string, now: number): Delivery[] {
    const refused = this.refuseSubscribe.shift();
    if (refused !== undefined) return [this.#reply(request, from, refused)];
    if (request.event?.event !== 'presence') return [this.#reply(request, from, 489)];
    const expires = request.expires ?? 3600;
    if (expires !== 0 && expires < 60) return [this.#reply(request, from, 423, { 'Min-Expires': '60' })];
    let sub: Sub | undefined;
    if (request.toTag !== undefined) {
      sub = this.subs.find((s) => s.callId === request.callId && s.paTag === request.toTag);
      if (sub === undefined) return [this.#reply(request, from, 481)];
    } else {
      sub = {
        presentity: request.uri.aor,
        endpoint: from,
        callId: request.callId,
        watcherTag: request.fromTag ?? '',
        paTag: `pa${String(++this.#n)}`,
        watcher: request.from.uri.aor,
        contact: request.contacts[0]?.uri.toString() ?? '',
        cseq: 0,
        expiresAt: 0,
      };
      this.subs.push(sub);
    }
    sub.expiresAt = now + expires * 1000;
    const ok: Delivery = {
      to: from,
      message: createResponse(request, 200, {
        toTag: sub.paTag,
        headers: { Expires: String(expires), Contact: `<sip:pa@${PA_HOST}>` },
      }),
    };
    if (expires === 0) {
      this.#drop(sub.callId);
      return [ok, this.#notify(sub, 'terminated;reason=timeout', now)];
    }
    const notify = this.#notify(sub, `active;expires=${String(expires)}`, now);
    return this.notifyFirst && request.toTag === undefined ? [notify, ok] : [ok, notify];
  }

  #notifyAll(presentity: string, now: number): Delivery[] {
    return this.subs
      .filter((s) => s.presentity === presentity)
      .map((s) => this.#notify(s, `active;expires=${String(Math.round((s.expiresAt - now) / 1000))}`, now));
  }

  /** RFC 3856 §6.6 / RFC 6665 §4.2.2: a NOTIFY in the subscription's dialog with the composed document. */
  notifyWith(
    sub: Sub,
    state: string,
    body: string | undefined,
    headers: Record<string, string> = {},
  ): Delivery {
    const n = ++this.#n;
    const notify = new SipRequest(
      'NOTIFY',
      parseUri(sub.contact),
      [
        ['Via', `SIP/2.0/WS ${PA_HOST};branch=z9hG4bKpa${String(n)}`],
        ['Max-Forwards', '70'],
        ['From', `<${sub.presentity}>;tag=${sub.paTag}`],
        ['To', `<${sub.watcher}>;tag=${sub.watcherTag}`],
        ['Call-ID', sub.callId],
        ['CSeq', `${String(++sub.cseq)} NOTIFY`],
        ['Contact', `<sip:pa@${PA_HOST}>`],
        ['Event', 'presence'],
        ['Subscription-State', state],
        ...(body === undefined ? [] : ([['Content-Type', 'application/pidf+xml']] as [string, string][])),
      ],
      body,
    );
    for (const [name, value] of Object.entries(headers)) notify.headers.set(name, value);
    return { to: sub.endpoint, message: notify };
  }

  #notify(sub: Sub, state: string, now: number): Delivery {
    const docs = this.livePublications(sub.presentity, now).map((p) => parsePidf(p.body));
    return this.notifyWith(sub, state, buildPidf(composePresence(sub.presentity, docs)));
  }

  #drop(callId: string): void {
    const i = this.subs.findIndex((s) => s.callId === callId);
    if (i >= 0) this.subs.splice(i, 1);
  }
}

/** alice and bob (each a PresenceClient over a UserAgent) registered on example.com, with the agent. */
class PresenceNet {
  readonly pa = new FakePresenceAgent();
  readonly net = new MiniNetwork(this.pa, START);
  readonly clients = new Map<string, PresenceClient>();

  constructor(options: Partial<Record<string, Partial<PresenceOptions>>> = {}) {
    let seed = 500;
    for (const name of ['alice', 'bob']) {
      const ua = makeUa(name, { now: this.net.now });
      const client = new PresenceClient({ ua, random: seededRandom(++seed), ...options[name] });
      this.clients.set(name, client);
      this.net.add(name, client as unknown as UserAgent);
      ua.register(this.net.now);
      this.net.connect(name);
    }
    this.net.settle();
  }

  c(name: string): PresenceClient {
    const c = this.clients.get(name);
    if (c === undefined) throw new Error(`no client ${name}`);
    return c;
  }

  get now(): number {
    return this.net.now;
  }

  /** Deliveries the agent makes on its own (a terminated NOTIFY …), through the network. */
  push(deliveries: Delivery[]): void {
    // MiniNetwork delivers only what the registrar returns: these go down the endpoint's link directly.
    for (const d of deliveries)
      this.net.link(d.to, 'down').send(serializeMessage(d.message), d.message, this.now);
    this.net.settle();
  }

  events<T extends PresenceEvent['type']>(name: string, type: T): Extract<PresenceEvent, { type: T }>[] {
    return this.net.events
      .filter((e) => e.name === name)
      .map((e) => e.event as unknown as PresenceEvent)
      .filter((e): e is Extract<PresenceEvent, { type: T }> => e.type === type);
  }

  /** Requests of a method `name` sent. */
  sent(name: string, method: string): SipRequest[] {
    return this.net
      .sent(name, method)
      .map((w) => w.message)
      .filter((m): m is SipRequest => m?.kind === 'request');
  }

  presence(name: string): string[] {
    return this.events(name, 'presence').map(
      (e) => `${e.uri} ${e.status}${e.note === undefined ? '' : ` "${e.note}"`}`,
    );
  }

  watchStates(name: string): string[] {
    return this.events(name, 'watch-state').map(
      (e) => `${e.state}${e.reason === undefined ? '' : `:${e.reason}`}`,
    );
  }
}

describe('publishing our status (RFC 3903)', () => {
  it('publish → PIDF with RPID; the SIP-ETag is kept; a change is a modification; refresh at half the interval; offline removes', () => {
    const n = new PresenceNet();
    const alice = n.c('alice');
    alice.publish({ status: 'away', note: 'lunch' });
    n.net.settle();
    const [first] = n.sent('alice', 'PUBLISH');
    expect(first?.uri.toString()).toBe(ALICE);
    expect(first?.to.uri.aor).toBe(ALICE);
    expect(first?.from.uri.aor).toBe(ALICE);
    expect(first?.headers.get('event')).toBe('presence');
    expect(first?.headers.get('content-type')).toBe('application/pidf+xml');
    expect(first?.expires).toBe(3600);
    expect(first?.headers.has('sip-if-match')).toBe(false);
    const doc = parsePidf(first?.body ?? '');
    expect(doc).toMatchObject({ entity: ALICE, basic: 'open', activities: ['away'], note: 'lunch' });
    const etag = alice.publication.etag;
    expect(alice.publication).toMatchObject({ state: 'Published', status: 'away', note: 'lunch' });
    expect(etag).toMatch(/^e\d+$/);

    // a modification: SIP-If-Match and the new body
    alice.publish({ status: 'dnd' });
    n.net.settle();
    const modify = n.sent('alice', 'PUBLISH')[1];
    expect(modify?.sipIfMatch).toBe(etag);
    expect(parsePidf(modify?.body ?? '').activities).toEqual(['busy', 'do-not-disturb']);
    const etag2 = alice.publication.etag;
    expect(etag2).not.toBe(etag);

    // the same status again sends nothing
    alice.publish({ status: 'dnd' });
    n.net.settle();
    expect(n.sent('alice', 'PUBLISH')).toHaveLength(2);

    // refresh at half of 3600 s: SIP-If-Match, no body, no Content-Type
    const publishedAt = n.now;
    n.net.advanceBy(1800_000 - 1);
    expect(n.sent('alice', 'PUBLISH')).toHaveLength(2);
    n.net.advanceBy(1);
    const refresh = n.sent('alice', 'PUBLISH')[2];
    expect(n.net.sent('alice', 'PUBLISH')[2]?.at).toBe(publishedAt + 1800_000);
    expect(refresh?.sipIfMatch).toBe(etag2);
    expect(refresh?.body.length).toBe(0);
    expect(refresh?.headers.has('content-type')).toBe(false);
    expect(alice.publication.state).toBe('Published');

    // offline: SIP-If-Match + Expires: 0, then nothing published
    alice.publish({ status: 'offline' });
    n.net.settle();
    const remove = n.sent('alice', 'PUBLISH')[3];
    expect(remove?.expires).toBe(0);
    expect(remove?.sipIfMatch).toMatch(/^e\d+$/);
    expect(remove?.sipIfMatch).not.toBe(etag2);
    expect(alice.publication).toMatchObject({ state: 'Unpublished', status: 'offline', etag: undefined });
    expect(n.pa.livePublications(ALICE, n.now)).toHaveLength(0);
    expect(n.events('alice', 'publish-failed')).toHaveLength(0);
  });

  it('412 to a refresh (the agent lost the publication): published afresh without SIP-If-Match', () => {
    const n = new PresenceNet();
    const alice = n.c('alice');
    alice.publish({ status: 'busy', note: 'call' });
    n.net.settle();
    n.pa.forgetPublications();
    n.net.advanceBy(1800_000);
    const [, refresh, fresh] = n.sent('alice', 'PUBLISH');
    expect(refresh?.sipIfMatch).toBeDefined();
    expect(fresh?.headers.has('sip-if-match')).toBe(false);
    expect(parsePidf(fresh?.body ?? '')).toMatchObject({ activities: ['busy'], note: 'call' });
    expect(alice.publication.state).toBe('Published');
    expect(n.pa.livePublications(ALICE, n.now)).toHaveLength(1);
    expect(n.events('alice', 'publish-failed')).toHaveLength(0);
  });

  it("423: again with the agent's Min-Expires, for PUBLISH and for SUBSCRIBE", () => {
    const n = new PresenceNet({ alice: { publishExpires: 30 }, bob: { subscribeExpires: 30 } });
    n.c('alice').publish({ status: 'available' });
    n.c('bob').watch(ALICE);
    n.net.settle();
    expect(n.sent('alice', 'PUBLISH').map((r) => r.expires)).toEqual([30, 60]);
    expect(n.c('alice').publication.state).toBe('Published');
    expect(n.sent('bob', 'SUBSCRIBE').map((r) => r.expires)).toEqual([30, 60]);
    expect(n.watchStates('bob')).toEqual(['pending', 'active']);
    expect(n.presence('bob')).toEqual([`${ALICE} available`]);
  });

  it('a PUBLISH that finds no flow is retried when the connection comes back', () => {
    const n = new PresenceNet();
    n.net.disconnect('alice');
    n.c('alice').publish({ status: 'away' }, n.now);
    n.net.settle();
    expect(n.events('alice', 'publish-failed')).toMatchObject([{ status: 503, local: true, retrying: true }]);
    expect(n.c('alice').publication.state).toBe('Retrying');
    n.net.connect('alice');
    expect(n.c('alice').publication.state).toBe('Published');
    expect(n.pa.livePublications(ALICE, n.now)).toHaveLength(1);
  });

  it('misuse throws TypeError', () => {
    const n = new PresenceNet();
    expect(() => n.c('alice').publish({ status: 'sleepy' as 'away' })).toThrow(TypeError);
    expect(() => n.c('alice').watch('not a uri')).toThrow(TypeError);
    expect(
      () => new PresenceClient({ ua: makeUa('zed'), random: undefined as unknown as () => number }),
    ).toThrow(TypeError);
  });
});

describe('watching a buddy (RFC 3856, RFC 6665)', () => {
  it('SUBSCRIBE with Event and Accept; each NOTIFY is answered 200 and its PIDF reported once per change', () => {
    const n = new PresenceNet();
    n.c('bob').watch(ALICE);
    n.net.settle();
    const [subscribe] = n.sent('bob', 'SUBSCRIBE');
    expect(subscribe?.uri.toString()).toBe(ALICE);
    expect(subscribe?.headers.get('event')).toBe('presence');
    expect(subscribe?.headers.get('accept')).toBe('application/pidf+xml');
    expect(subscribe?.expires).toBe(3600);
    // nothing published yet: the agent's closed tuple
    expect(n.presence('bob')).toEqual([`${ALICE} offline`]);
    expect(n.events('bob', 'presence')[0]).toMatchObject({ basic: 'closed' });
    expect(n.watchStates('bob')).toEqual(['pending', 'active']);
    expect(n.c('bob').watching).toEqual([{ uri: ALICE, state: 'active' }]);

    n.c('alice').publish({ status: 'away', note: 'back at 3' });
    n.net.settle();
    n.c('alice').publish({ status: 'available' });
    n.net.settle();
    n.c('alice').unpublish();
    n.net.settle();
    expect(n.presence('bob')).toEqual([
      `${ALICE} offline`,
      `${ALICE} away "back at 3"`,
      `${ALICE} available`,
      `${ALICE} offline`,
    ]);
    expect(n.pa.notifyAnswers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
  });

  it('a NOTIFY that arrives before the 2xx makes the subscription; the refresh goes in that dialog', () => {
    const n = new PresenceNet();
    n.c('alice').publish({ status: 'busy' });
    n.pa.notifyFirst = true;
    n.c('bob').watch(ALICE);
    n.net.settle();
    expect(n.presence('bob')).toEqual([`${ALICE} busy`]);
    expect(n.pa.notifyAnswers.map((r) => r.status)).toEqual([200]);
    const sub = n.pa.subs[0];
    // refresh at half of the 3600 s granted, in the dialog (To tag = the agent's)
    n.net.advanceBy(1800_000);
    const refresh = n.sent('bob', 'SUBSCRIBE')[1];
    expect(refresh?.toTag).toBe(sub?.paTag);
    expect(refresh?.callId).toBe(sub?.callId);
    expect(n.net.sent('bob', 'SUBSCRIBE')[1]?.at).toBe(START + 1800_000);
    // the NOTIFYs of the refreshes (alice's PUBLISH refresh, bob's SUBSCRIBE refresh) say nothing new:
    // answered, not reported
    expect(n.pa.notifyAnswers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(n.presence('bob')).toEqual([`${ALICE} busy`]);
  });

  it('a duplicated NOTIFY is answered each time and reported once', () => {
    const n = new PresenceNet();
    n.c('bob').watch(ALICE);
    n.net.settle();
    n.net.link('bob', 'down').duplicate(isRequest('NOTIFY'));
    n.c('alice').publish({ status: 'away' });
    n.net.settle();
    expect(n.net.sent('bob', '200 NOTIFY').length).toBe(3);
    expect(n.presence('bob')).toEqual([`${ALICE} offline`, `${ALICE} away`]);
  });

  it('the first NOTIFY lost: after Timer N (64·T1) the watch subscribes again', () => {
    const n = new PresenceNet();
    n.c('alice').publish({ status: 'away' });
    n.net.settle();
    n.net.link('bob', 'down').drop(isRequest('NOTIFY'), 1);
    n.c('bob').watch(ALICE);
    n.net.settle();
    expect(n.presence('bob')).toEqual([]);
    n.net.advanceBy(32_000 - 1);
    expect(n.events('bob', 'watch-state').at(-1)?.reason).toBeUndefined();
    n.net.advanceBy(1);
    // Timer N fired: the attempt failed; a new one (new Call-ID) after the first back-off step (2.5–5 s)
    expect(n.events('bob', 'watch-state').at(-1)).toMatchObject({
      state: 'pending',
      reason: 'no NOTIFY (Timer N)',
    });
    n.net.advanceBy(5_000);
    const subscribes = n.sent('bob', 'SUBSCRIBE');
    expect(subscribes).toHaveLength(2);
    expect(subscribes[1]?.callId).not.toBe(subscribes[0]?.callId);
    expect(n.presence('bob')).toEqual([`${ALICE} away`]);
    expect(n.c('bob').watching).toEqual([{ uri: ALICE, state: 'active' }]);
  });

  it('terminated;reason=timeout → a new SUBSCRIBE at once; reason=rejected → terminated for good', () => {
    const n = new PresenceNet();
    n.c('bob').watch(ALICE);
    n.net.settle();
    n.push(n.pa.terminate(ALICE, 'timeout', n.now));
    const subscribes = n.sent('bob', 'SUBSCRIBE');
    expect(subscribes).toHaveLength(2);
    expect(subscribes[1]?.toTag).toBeUndefined();
    expect(n.watchStates('bob')).toEqual(['pending', 'active', 'pending:timeout', 'active']);
    n.push(n.pa.terminate(ALICE, 'rejected', n.now));
    n.net.advanceBy(3600_000);
    expect(n.sent('bob', 'SUBSCRIBE')).toHaveLength(2);
    expect(n.watchStates('bob').at(-1)).toBe('terminated:rejected');
    expect(n.c('bob').watching).toEqual([]);
    expect(n.pa.notifyAnswers.every((r) => r.status === 200)).toBe(true);
  });

  it('481 to a refresh → a new subscription (new dialog)', () => {
    const n = new PresenceNet();
    n.c('bob').watch(ALICE);
    n.net.settle();
    n.pa.forgetSubscriptions();
    n.net.advanceBy(1800_000);
    const subscribes = n.sent('bob', 'SUBSCRIBE');
    expect(subscribes).toHaveLength(3);
    expect(subscribes[1]?.toTag).toBeDefined();
    expect(subscribes[2]?.toTag).toBeUndefined();
    expect(subscribes[2]?.callId).not.toBe(subscribes[0]?.callId);
    expect(n.c('bob').watching).toEqual([{ uri: ALICE, state: 'active' }]);
    expect(n.pa.subs).toHaveLength(1);
  });

  it('a refused SUBSCRIBE: 503 is retried after a back-off, 403 ends the watch', () => {
    const n = new PresenceNet();
    n.pa.refuseSubscribe = [503];
    n.c('bob').watch(ALICE);
    n.net.settle();
    const waiting = n.events('bob', 'watch-state').at(-1);
    expect(waiting).toMatchObject({ state: 'pending', reason: '503' });
    const retryAt = waiting?.retryAt ?? 0;
    expect(retryAt - n.now).toBeGreaterThanOrEqual(2_500);
    expect(retryAt - n.now).toBeLessThanOrEqual(5_000);
    n.net.advanceTo(retryAt);
    expect(n.sent('bob', 'SUBSCRIBE')).toHaveLength(2);
    expect(n.c('bob').watching).toEqual([{ uri: ALICE, state: 'active' }]);

    n.pa.refuseSubscribe = [403];
    n.c('alice').watch(BOB);
    n.net.advanceBy(600_000);
    expect(n.sent('alice', 'SUBSCRIBE')).toHaveLength(1);
    expect(n.watchStates('alice')).toEqual(['pending', 'terminated:403']);
  });

  it('unwatch: SUBSCRIBE Expires: 0 in the dialog; the terminated NOTIFY is answered, nothing more reported', () => {
    const n = new PresenceNet();
    n.c('bob').watch(ALICE);
    n.net.settle();
    n.c('bob').unwatch(ALICE);
    n.net.settle();
    const last = n.sent('bob', 'SUBSCRIBE').at(-1);
    expect(last?.expires).toBe(0);
    expect(last?.toTag).toBeDefined();
    expect(n.watchStates('bob')).toEqual(['pending', 'active', 'terminated:unwatched']);
    expect(n.pa.notifyAnswers.map((r) => r.status)).toEqual([200, 200]);
    expect(n.pa.subs).toHaveLength(0);
    n.c('alice').publish({ status: 'away' });
    n.net.advanceBy(3600_000);
    expect(n.presence('bob')).toEqual([`${ALICE} offline`]);
    expect(n.sent('bob', 'SUBSCRIBE')).toHaveLength(2);
    expect(n.c('bob').watching).toEqual([]);
  });

  it('a bad PIDF body becomes an event, answered 200; a NOTIFY of another package gets 489', () => {
    const n = new PresenceNet();
    n.c('bob').watch(ALICE);
    n.net.settle();
    const sub = n.pa.subs[0];
    if (sub === undefined) throw new Error('no subscription');
    n.push([n.pa.notifyWith(sub, 'active;expires=3000', '<presence xmlns="urn:ietf:params:xml:ns:pidf">')]);
    expect(n.events('bob', 'presence-error')).toHaveLength(1);
    expect(n.events('bob', 'presence-error')[0]?.uri).toBe(ALICE);
    n.push([n.pa.notifyWith(sub, 'active;expires=3000', undefined, { Event: 'dialog' })]);
    expect(n.pa.notifyAnswers.map((r) => r.status)).toEqual([200, 200, 489]);
    expect(n.presence('bob')).toEqual([`${ALICE} offline`]);
  });
});

describe('the five statuses over PIDF/RPID (im/pidf.ts additions)', () => {
  it('each status survives build → parse, alone and composed with another device; no publication is offline', () => {
    for (const status of PRESENCE_STATUSES) {
      const doc = parsePidf(buildPidf(statusPresence(ALICE, status, 'n', { tupleId: 'd1' })));
      expect(presenceStatus(doc)).toBe(status);
      expect(doc.note).toBe('n');
      const other = parsePidf(buildPidf(statusPresence(ALICE, 'offline', undefined, { tupleId: 'd1' })));
      const composed = parsePidf(buildPidf(composePresence(ALICE, [doc, other])));
      expect(composed.tuples.map((t) => t.id)).toEqual(['d1', 'd1-2']);
      expect(presenceStatus(composed)).toBe(status);
    }
    expect(presenceStatus(parsePidf(buildPidf(composePresence(ALICE, []))))).toBe('offline');
    expect(() => statusPresence(ALICE, 'sleepy' as 'away')).toThrow(TypeError);
  });
});

describe('stacked on a layer of the app’s chain (here the Pager): one driver for chat and presence', () => {
  it('presence works through the layer below, and that layer’s own events (a MESSAGE shown) pass through unchanged', () => {
    const pa = new FakePresenceAgent();
    const net = new MiniNetwork(pa, START);
    const clients = new Map<string, PresenceClient<PagerEvent>>();
    const pagers = new Map<string, Pager>();
    let seed = 900;
    for (const name of ['alice', 'bob']) {
      const ua = makeUa(name, { now: net.now });
      const pager = new Pager({ ua, random: seededRandom(++seed) });
      const client = new PresenceClient({ ua, random: seededRandom(++seed), inner: pager });
      pagers.set(name, pager);
      clients.set(name, client);
      net.add(name, client as unknown as UserAgent);
      ua.register(net.now);
      net.connect(name);
    }
    net.settle();
    const alice = clients.get('alice')!;
    const bob = clients.get('bob')!;
    bob.watch(ALICE, net.now);
    alice.publish({ status: 'busy', note: 'on a call' }, net.now);
    net.settle();
    const bobEvents = net.events
      .filter((e) => e.name === 'bob')
      .map((e) => e.event as unknown as { type: string });
    const reports = bobEvents.filter(
      (e): e is Extract<PresenceEvent, { type: 'presence' }> => e.type === 'presence',
    );
    expect(reports.at(-1)).toMatchObject({ uri: ALICE, status: 'busy', note: 'on a call' });
    // The Pager below still owns MESSAGE: alice's text reaches bob as the Pager's own event, passed through.
    const sent = pagers.get('alice')!.send(BOB, 'are you free?', {}, net.now);
    expect(sent.ok).toBe(true);
    net.settle();
    const shown = net.events
      .filter((e) => e.name === 'bob')
      .map((e) => e.event as unknown as PagerEvent)
      .filter((e): e is Extract<PagerEvent, { type: 'message' }> => e.type === 'message');
    expect(shown.map((e) => e.message.text)).toEqual(['are you free?']);
    // No UA event of presence's own (its PUBLISH/SUBSCRIBE answers, the NOTIFYs) leaks up as a pass-through.
    const passed = bobEvents.filter((e): e is { type: 'ua'; event: { type: string } } => e.type === 'ua');
    expect(passed.some((e) => e.event.type === 'incoming-request')).toBe(false);
  });
});
