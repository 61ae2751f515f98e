// The embedded core as presence agent (gateway/core/presence-agent.ts, RFC 3856 §3 with RFC 3903 PUBLISH and
// RFC 6665 SUBSCRIBE/NOTIFY): what a publishing device and a watching browser see, through the core with a fake
// edge (test/support/core-harness.ts: no sockets). Expiry runs on the core's own timer: those tests move the fake
// timers and the core's clock together.

import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  PIDF_CONTENT_TYPE,
  buildPidf,
  parseMessage,
  parsePidf,
  type Presence,
  type SipRequest,
  type SipResponse,
} from '../../../web/src/sip/index.ts';
import { coreHarness, type CoreHarness } from '../../support/core-harness.ts';
import { digestAnswer } from '../../support/embedded-gateway.ts';

const USERS = { alice: 'a', bob: 'b', carol: 'c' } as const;
type User = keyof typeof USERS;
/** The Contact the presence agent gives its dialogs: the core itself (the harness's public host and port). */
const AGENT = 'sip:127.0.0.1:5060';

function pidf(
  user: string,
  basic: 'open' | 'closed',
  options: { activities?: string[]; note?: string; tuple?: string } = {},
): string {
  return buildPidf({
    entity: `sip:${user}@localhost`,
    tuples: [{ id: options.tuple ?? 't1', basic, notes: [] }],
    activities: options.activities,
    note: options.note,
  });
}

interface PublishOptions {
  body?: string;
  ifMatch?: string;
  expires?: number;
  event?: string;
  /** whose presence (default: the publisher's own) */
  target?: string;
}

function publish(h: CoreHarness, user: User, o: PublishOptions = {}): SipResponse {
  const headers = [`Event: ${o.event ?? 'presence'}`];
  if (o.expires !== undefined) headers.push(`Expires: ${o.expires}`);
  if (o.ifMatch !== undefined) headers.push(`SIP-If-Match: ${o.ifMatch}`);
  return h.request(user, 'PUBLISH', `sip:${o.target ?? user}@localhost`, {
    authenticate: USERS[user],
    headers,
    ...(o.body === undefined ? {} : { body: o.body, contentType: PIDF_CONTENT_TYPE }),
  });
}

interface Watch {
  readonly user: User;
  readonly callId: string;
  readonly fromTag: string;
  /** the agent's tag (To of the 200) */
  readonly toTag: string;
  cseq: number;
}

let calls = 0;

/** A browser's SUBSCRIBE as the edge hands it to the core: the edge's Record-Route naming the browser's flow. */
function subscribe(
  h: CoreHarness,
  user: User,
  presentity: string,
  o: { expires?: number; event?: string; recordRoute?: boolean } = {},
): { response: SipResponse; watch: Watch | undefined } {
  const callId = `sub-${++calls}`;
  const fromTag = `w${calls}`;
  const headers = [
    `Event: ${o.event ?? 'presence'}`,
    'Accept: application/pidf+xml',
    `Contact: <sip:${user}@${user}.invalid;transport=ws;ob>`,
  ];
  if (o.expires !== undefined) headers.push(`Expires: ${o.expires}`);
  if (o.recordRoute !== false)
    headers.push(`Record-Route: <sip:flow-${user}@127.0.0.1:8080;transport=tcp;lr;ob>`);
  const response = h.request(user, 'SUBSCRIBE', `sip:${presentity}@localhost`, {
    authenticate: USERS[user],
    callId,
    fromTag,
    headers,
  });
  const toTag = response.toTag;
  const watch =
    response.status === 200 && toTag !== undefined
      ? { user, callId, fromTag, toTag, cseq: response.cseq.seq }
      : undefined;
  return { response, watch };
}

/** A SUBSCRIBE in the watch's dialog (to the agent's Contact), answering the digest challenge. */
function resubscribe(h: CoreHarness, watch: Watch, presentity: string, expires: number): SipResponse {
  const send = (extra: string[]): SipResponse => {
    const cseq = ++watch.cseq;
    const text = h
      .requestText(watch.user, 'SUBSCRIBE', AGENT, {
        callId: watch.callId,
        fromTag: watch.fromTag,
        cseq,
        headers: ['Event: presence', `Expires: ${expires}`, ...extra],
      })
      .replace(`To: <${AGENT}>`, `To: <sip:${presentity}@localhost>;tag=${watch.toTag}`);
    h.fromBrowser(text);
    const response = h.toEdge.find(
      (m): m is SipResponse =>
        m.kind === 'response' && m.status >= 200 && m.callId === watch.callId && m.cseq.seq === cseq,
    );
    if (response === undefined) throw new Error('no answer to the in-dialog SUBSCRIBE');
    return response;
  };
  const first = send([]);
  if (first.status !== 401) return first;
  return send([`Authorization: ${digestAnswer(first, watch.user, USERS[watch.user], 'SUBSCRIBE', AGENT)}`]);
}

/** The NOTIFYs the core sent in a watch's dialog, in order. */
function notifies(h: CoreHarness, watch: Watch): SipRequest[] {
  return h.requestsToEdge('NOTIFY').filter((n) => n.callId === watch.callId);
}

function lastNotify(h: CoreHarness, watch: Watch): SipRequest {
  const all = notifies(h, watch);
  const last = all.at(-1);
  if (last === undefined) throw new Error('no NOTIFY');
  return last;
}

/** The watcher's browser takes the latest NOTIFY (200) and reads it. */
function take(h: CoreHarness, watch: Watch): { notify: SipRequest; presence: Presence } {
  const notify = lastNotify(h, watch);
  h.answer(notify, 200);
  return { notify, presence: parsePidf(notify.body) };
}

describe('PUBLISH: the core keeps each device’s presence (RFC 3903)', () => {
  let h: CoreHarness | undefined;
  afterEach(() => {
    h?.close();
    h = undefined;
  });

  it('answers an initial publication 200 with a SIP-ETag and the granted Expires (3600 by default)', () => {
    h = coreHarness({ users: USERS });
    const response = publish(h, 'alice', { body: pidf('alice', 'open') });
    expect(response.status).toBe(200);
    expect(response.sipETag).toMatch(/^[0-9a-z]{8,}$/);
    expect(response.expires).toBe(3600);
    expect(h.core.presence.publicationCount).toBe(1);
  });

  it('asks for credentials first, and refuses alice publishing bob’s presence (403)', () => {
    h = coreHarness({ users: USERS });
    const challenge = h.request('alice', 'PUBLISH', 'sip:alice@localhost', {
      headers: ['Event: presence'],
      body: pidf('alice', 'open'),
      contentType: PIDF_CONTENT_TYPE,
    });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.getAll('www-authenticate').length).toBeGreaterThan(0);
    const forged = publish(h, 'alice', { target: 'bob', body: pidf('bob', 'open') });
    expect(forged.status).toBe(403);
    expect(h.core.presence.publicationCount).toBe(0);
  });

  it('refreshes (no body), modifies (body) and removes (Expires: 0) by SIP-If-Match, with a new etag each time', () => {
    h = coreHarness({ users: USERS });
    const first = publish(h, 'alice', { body: pidf('alice', 'open'), expires: 600 });
    const refreshed = publish(h, 'alice', { ifMatch: first.sipETag, expires: 600 });
    expect(refreshed.status).toBe(200);
    expect(refreshed.sipETag).toBeDefined();
    expect(refreshed.sipETag).not.toBe(first.sipETag);
    // The old etag is spent.
    expect(publish(h, 'alice', { ifMatch: first.sipETag }).status).toBe(412);
    const modified = publish(h, 'alice', {
      ifMatch: refreshed.sipETag,
      body: pidf('alice', 'open', { activities: ['away'] }),
    });
    expect(modified.status).toBe(200);
    expect(parsePidf(h.core.presence.compose('alice@localhost')).activities).toEqual(['away']);
    const removed = publish(h, 'alice', { ifMatch: modified.sipETag, expires: 0 });
    expect(removed.status).toBe(200);
    expect(removed.expires).toBe(0);
    expect(h.core.presence.publicationCount).toBe(0);
    expect(parsePidf(h.core.presence.compose('alice@localhost')).basic).toBe('closed');
  });

  it('answers 412 to an etag it never gave, 423 with Min-Expires below 60 s, 489 to another event package', () => {
    h = coreHarness({ users: USERS });
    expect(publish(h, 'alice', { ifMatch: 'nosuchetag' }).status).toBe(412);
    const short = publish(h, 'alice', { body: pidf('alice', 'open'), expires: 30 });
    expect(short.status).toBe(423);
    expect(short.minExpires).toBe(60);
    const bad = publish(h, 'alice', { body: pidf('alice', 'open'), event: 'dialog' });
    expect(bad.status).toBe(489);
    expect(bad.allowEvents).toEqual(['presence']);
    expect(h.core.presence.publicationCount).toBe(0);
  });

  it('refuses a body that is not PIDF (415 with Accept) and a PIDF it cannot read (400)', () => {
    h = coreHarness({ users: USERS });
    const text = h.request('alice', 'PUBLISH', 'sip:alice@localhost', {
      authenticate: 'a',
      headers: ['Event: presence'],
      body: 'online',
      contentType: 'text/plain',
    });
    expect(text.status).toBe(415);
    expect(text.headers.get('accept')).toBe(PIDF_CONTENT_TYPE);
    expect(publish(h, 'alice', { body: '<presence xmlns="urn:ietf:params:xml:ns:pidf"/>' }).status).toBe(400);
  });

  it('merges the publications of two devices into one document for the AOR', () => {
    h = coreHarness({ users: USERS });
    publish(h, 'alice', { body: pidf('alice', 'closed', { tuple: 'laptop' }) });
    publish(h, 'alice', {
      body: pidf('alice', 'open', { tuple: 'phone', activities: ['busy'], note: 'Call me' }),
    });
    const composed = parsePidf(h.core.presence.compose('alice@localhost'));
    expect(composed.entity).toBe('sip:alice@localhost');
    expect(composed.tuples.map((t) => [t.id, t.basic])).toEqual([
      ['laptop', 'closed'],
      ['phone', 'open'],
    ]);
    expect(composed.basic).toBe('open');
    expect(composed.activities).toEqual(['busy']);
    expect(composed.note).toBe('Call me');
  });
});

describe('SUBSCRIBE/NOTIFY: watchers learn the presentity’s state (RFC 3856, RFC 6665)', () => {
  let h: CoreHarness | undefined;
  afterEach(() => {
    vi.useRealTimers();
    h?.close();
    h = undefined;
  });

  it('answers 200 and sends a NOTIFY at once: closed when nothing is published', () => {
    h = coreHarness({ users: USERS });
    const { response, watch } = subscribe(h, 'bob', 'alice', { expires: 600 });
    expect(response.status).toBe(200);
    expect(response.expires).toBe(600);
    expect(response.contacts[0]?.uri.toString()).toBe(AGENT);
    // RFC 3261 §12.1.1: the route set goes back to the watcher.
    expect(response.recordRoute[0]?.uri.user).toBe('flow-bob');
    const { notify, presence } = take(h, watch!);
    expect(notify.uri.toString()).toBe('sip:bob@bob.invalid;transport=ws;ob');
    // Along the route set: the edge's Record-Route names bob's flow.
    expect(notify.route[0]?.uri.user).toBe('flow-bob');
    expect(notify.fromTag).toBe(watch!.toTag);
    expect(notify.toTag).toBe(watch!.fromTag);
    expect(notify.event?.event).toBe('presence');
    expect(notify.subscriptionState?.state).toBe('active');
    expect(notify.subscriptionState?.expires).toBe(600);
    expect(notify.contentType?.subtype).toBe('pidf+xml');
    expect(presence.entity).toBe('sip:alice@localhost');
    expect(presence.basic).toBe('closed');
  });

  it('sends the published state in the first NOTIFY, then a NOTIFY to every watcher on each change', () => {
    h = coreHarness({ users: USERS });
    publish(h, 'alice', { body: pidf('alice', 'open', { activities: ['away'], note: 'Lunch' }) });
    const bob = subscribe(h, 'bob', 'alice').watch!;
    const carol = subscribe(h, 'carol', 'alice').watch!;
    for (const w of [bob, carol]) {
      const { presence } = take(h, w);
      expect([presence.basic, presence.activities, presence.note]).toEqual(['open', ['away'], 'Lunch']);
    }
    const etag = publish(h, 'alice', {
      body: pidf('alice', 'open', { tuple: 'phone', activities: ['busy'] }),
    });
    expect(etag.status).toBe(200);
    for (const w of [bob, carol]) {
      expect(notifies(h, w)).toHaveLength(2);
      const { presence } = take(h, w);
      expect(presence.activities).toEqual(['busy']);
      expect(presence.tuples.map((t) => t.id)).toEqual(['t1', 'phone']);
    }
    // A refresh changes nothing: no NOTIFY.
    publish(h, 'alice', { ifMatch: etag.sipETag });
    expect(notifies(h, bob)).toHaveLength(2);
  });

  it('a browser that goes away takes its publication with it: watchers see closed at once, its old etag gets 412', () => {
    h = coreHarness({ users: USERS });
    expect(h.register('alice', USERS.alice).status).toBe(200);
    const published = publish(h, 'alice', { body: pidf('alice', 'open', { activities: ['away'] }) });
    expect(published.status).toBe(200);
    const bob = subscribe(h, 'bob', 'alice').watch!;
    expect(take(h, bob).presence.basic).toBe('open');
    // Alice's WebSocket closes (the tab is gone): no need to wait up to an hour for the soft state to run out.
    h.closeFlow('alice');
    const { presence } = take(h, bob);
    expect(notifies(h, bob)).toHaveLength(2);
    expect(presence.basic).toBe('closed');
    expect(h.core.presence.publicationCount).toBe(0);
    // Back on a new connection, her refresh finds nothing (412) and she publishes afresh.
    h.register('alice', USERS.alice);
    expect(publish(h, 'alice', { ifMatch: published.sipETag }).status).toBe(412);
  });

  it('holds a change back while a NOTIFY is unanswered, then sends only the newest state', () => {
    h = coreHarness({ users: USERS });
    const bob = subscribe(h, 'bob', 'alice').watch!;
    const first = publish(h, 'alice', { body: pidf('alice', 'open', { activities: ['away'] }) });
    publish(h, 'alice', { ifMatch: first.sipETag, body: pidf('alice', 'open', { activities: ['busy'] }) });
    expect(notifies(h, bob)).toHaveLength(1); // the initial one, still unanswered
    take(h, bob);
    expect(notifies(h, bob)).toHaveLength(2);
    const { notify, presence } = take(h, bob);
    expect(presence.activities).toEqual(['busy']);
    expect(notify.cseq.seq).toBe(2);
  });

  it('refreshes in the dialog (200 + NOTIFY) and ends it on Expires: 0 (terminated NOTIFY, then 481)', () => {
    h = coreHarness({ users: USERS });
    const bob = subscribe(h, 'bob', 'alice', { expires: 600 }).watch!;
    take(h, bob);
    h.advance(100_000);
    const refreshed = resubscribe(h, bob, 'alice', 900);
    expect(refreshed.status).toBe(200);
    expect(refreshed.expires).toBe(900);
    const { notify } = take(h, bob);
    expect(notify.subscriptionState).toMatchObject({ state: 'active', expires: 900 });
    const ended = resubscribe(h, bob, 'alice', 0);
    expect(ended.status).toBe(200);
    const last = take(h, bob).notify;
    expect(last.subscriptionState).toMatchObject({ state: 'terminated', reason: 'timeout' });
    expect(h.core.presence.subscriptionCount).toBe(0);
    // The dialog is gone: a later change sends nothing, a later refresh gets 481.
    publish(h, 'alice', { body: pidf('alice', 'open') });
    expect(notifies(h, bob)).toHaveLength(3);
    expect(resubscribe(h, bob, 'alice', 600).status).toBe(481);
  });

  it('reaches a watcher whose SUBSCRIBE had no Record-Route through its registered flow (Path)', () => {
    h = coreHarness({ users: USERS });
    h.register('bob', 'b');
    const bob = subscribe(h, 'bob', 'alice', { recordRoute: false }).watch!;
    const notify = lastNotify(h, bob);
    expect(notify.route[0]?.uri.user).toMatch(/^flow/);
    expect(notify.subscriptionState?.state).toBe('active');
  });

  it('answers 423 below 60 s, 489 to an unknown package, and 403 to a watcher of another domain', () => {
    h = coreHarness({ users: USERS });
    const short = subscribe(h, 'bob', 'alice', { expires: 20 }).response;
    expect(short.status).toBe(423);
    expect(short.minExpires).toBe(60);
    const winfo = subscribe(h, 'bob', 'alice', { event: 'presence.winfo' }).response;
    expect(winfo.status).toBe(489);
    expect(winfo.allowEvents).toEqual(['presence']);
    const foreign = parseMessage(
      h
        .requestText('mallory', 'SUBSCRIBE', 'sip:alice@localhost', {
          callId: 'foreign-1',
          headers: ['Event: presence', 'Contact: <sip:mallory@198.51.100.7>'],
        })
        .replace('<sip:mallory@localhost>', '<sip:mallory@elsewhere.example>'),
    );
    h.core.receiveFromEdge(foreign);
    const refused = h.toEdge.find(
      (m): m is SipResponse => m.kind === 'response' && m.callId === 'foreign-1' && m.status >= 200,
    );
    expect(refused?.status).toBe(403);
    expect(h.requestsToEdge('NOTIFY')).toHaveLength(0);
    expect(h.core.presence.subscriptionCount).toBe(0);
  });

  it('drops a subscription whose watcher answers a NOTIFY with 481', () => {
    h = coreHarness({ users: USERS });
    const bob = subscribe(h, 'bob', 'alice').watch!;
    h.answer(lastNotify(h, bob), 481);
    expect(h.core.presence.subscriptionCount).toBe(0);
    publish(h, 'alice', { body: pidf('alice', 'open') });
    expect(notifies(h, bob)).toHaveLength(1);
  });
});

describe('expiry on the core’s timer (RFC 3903 §4.1, RFC 6665 §4.2.2)', () => {
  let h: CoreHarness | undefined;
  afterEach(() => {
    vi.useRealTimers();
    h?.close();
    h = undefined;
  });

  /** Moves the core's clock and its timers together. */
  function advance(ms: number): void {
    h!.advance(ms);
    vi.advanceTimersByTime(ms);
  }

  it('a publication that is not refreshed runs out: the watchers get closed', () => {
    vi.useFakeTimers();
    h = coreHarness({ users: USERS });
    publish(h, 'alice', { body: pidf('alice', 'open'), expires: 120 });
    const bob = subscribe(h, 'bob', 'alice', { expires: 3600 }).watch!;
    expect(take(h, bob).presence.basic).toBe('open');
    advance(119_000);
    expect(notifies(h, bob)).toHaveLength(1);
    advance(2_000);
    expect(notifies(h, bob)).toHaveLength(2);
    const { notify, presence } = take(h, bob);
    expect(presence.basic).toBe('closed');
    expect(notify.subscriptionState?.state).toBe('active');
    expect(h.core.presence.publicationCount).toBe(0);
  });

  it('a subscription that is not refreshed ends with terminated;reason=timeout', () => {
    vi.useFakeTimers();
    h = coreHarness({ users: USERS });
    const bob = subscribe(h, 'bob', 'alice', { expires: 60 }).watch!;
    take(h, bob);
    advance(59_000);
    expect(notifies(h, bob)).toHaveLength(1);
    advance(2_000);
    const { notify } = take(h, bob);
    expect(notify.subscriptionState).toMatchObject({ state: 'terminated', reason: 'timeout' });
    expect(h.core.presence.subscriptionCount).toBe(0);
  });
});
