// The embedded core as presence agent over real sockets: two raw WebSocket UAs (test/support/raw-ws-ua.ts)
// through the gateway in embedded mode — alice PUBLISHes (RFC 3903), bob SUBSCRIBEs (RFC 3856/6665) and gets
// NOTIFYs on his own flow, through the edge, as the state changes, until he unsubscribes.

import { afterEach, describe, expect, it } from 'vitest';

import {
  PIDF_CONTENT_TYPE,
  buildPidf,
  parsePidf,
  type SipRequest,
  type SipResponse,
} from '../../web/src/sip/index.ts';
import {
  digestAnswer,
  digestRegister,
  startEmbeddedGateway,
  type EmbeddedGateway,
} from '../support/embedded-gateway.ts';
import { startOurUa, type OurUa } from '../support/our-ua.ts';
import { RawWsUa, type RequestOptions } from '../support/raw-ws-ua.ts';

const PASSWORDS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw' };

let gw: EmbeddedGateway | undefined;
const uas: RawWsUa[] = [];

const ours: OurUa[] = [];

afterEach(async () => {
  for (const ua of uas.splice(0)) await ua.close();
  await Promise.allSettled(ours.splice(0).map((o) => o.stop()));
  await gw?.close();
  gw = undefined;
});

async function ua(g: EmbeddedGateway, user: string): Promise<RawWsUa> {
  const client = await RawWsUa.connect(g.wsUrl, { user, domain: g.domain });
  uas.push(client);
  expect((await digestRegister(client, PASSWORDS[user]!)).status).toBe(200);
  return client;
}

/** A request answered with digest when challenged (the retry keeps Call-ID and From tag, with the next CSeq). */
async function authed(
  client: RawWsUa,
  method: string,
  uri: string,
  options: RequestOptions & { cseq: number; callId: string; fromTag: string },
): Promise<SipResponse> {
  const first = await client.request(method, uri, options);
  if (first.status !== 401) return first;
  const authorization = digestAnswer(
    first,
    client.options.user,
    PASSWORDS[client.options.user]!,
    method,
    uri,
  );
  return client.request(method, uri, {
    ...options,
    cseq: options.cseq + 1,
    headers: [...(options.headers ?? []), `Authorization: ${authorization}`],
  });
}

function document(basic: 'open' | 'closed', activities: string[] = [], note?: string): string {
  return buildPidf({ entity: 'sip:alice@localhost', tuples: [{ id: 'web', basic }], activities, note });
}

describe('presence through the embedded gateway (RFC 3856, RFC 3903, RFC 6665)', () => {
  it('PUBLISH, then SUBSCRIBE: bob’s flow gets NOTIFYs with alice’s state as it changes, until he unsubscribes', async () => {
    gw = await startEmbeddedGateway({ users: PASSWORDS });
    const alice = await ua(gw, 'alice');
    const bob = await ua(gw, 'bob');
    const aliceAor = 'sip:alice@localhost';

    const published = await authed(alice, 'PUBLISH', aliceAor, {
      callId: 'pub-1',
      fromTag: 'p1',
      cseq: 1,
      headers: ['Event: presence', 'Expires: 600'],
      body: document('open', ['away'], 'Back soon'),
      contentType: PIDF_CONTENT_TYPE,
    });
    expect(published.status).toBe(200);
    const etag = published.sipETag;
    expect(etag).toBeDefined();

    const notifyNo = (n: number) => (r: SipRequest) =>
      r.method === 'NOTIFY' && r.callId === 'sub-1' && r.cseq.seq === n;
    const subscribed = await authed(bob, 'SUBSCRIBE', aliceAor, {
      callId: 'sub-1',
      fromTag: 'b1',
      cseq: 1,
      headers: ['Event: presence', 'Accept: application/pidf+xml', 'Expires: 600', `Contact: ${bob.contact}`],
    });
    expect(subscribed.status).toBe(200);
    expect(subscribed.expires).toBe(600);
    const first = await bob.waitForRequest(notifyNo(1), 5000);
    expect(first.subscriptionState?.state).toBe('active');
    const seen = parsePidf(first.body);
    expect([seen.entity, seen.basic, seen.activities, seen.note]).toEqual([
      aliceAor,
      'open',
      ['away'],
      'Back soon',
    ]);

    // alice changes her status: bob hears of it.
    const modified = await authed(alice, 'PUBLISH', aliceAor, {
      callId: 'pub-2',
      fromTag: 'p2',
      cseq: 1,
      headers: ['Event: presence', `SIP-If-Match: ${etag}`],
      body: document('open', ['busy']),
      contentType: PIDF_CONTENT_TYPE,
    });
    expect(modified.status).toBe(200);
    const second = await bob.waitForRequest(notifyNo(2), 5000);
    expect(parsePidf(second.body).activities).toEqual(['busy']);

    // bob unsubscribes in the dialog: along the route set of the 200, to the agent's Contact.
    const target = subscribed.contacts[0]?.uri.toString();
    expect(target).toBeDefined();
    const routes = subscribed.headers.getAll('record-route').reverse();
    const ended = await authed(bob, 'SUBSCRIBE', target!, {
      callId: 'sub-1',
      fromTag: 'b1',
      cseq: 10,
      to: `<${aliceAor}>;tag=${subscribed.toTag}`,
      headers: ['Event: presence', 'Expires: 0', ...routes.map((r) => `Route: ${r}`)],
    });
    expect(ended.status).toBe(200);
    const last = await bob.waitForRequest(notifyNo(3), 5000);
    expect(last.subscriptionState).toMatchObject({ state: 'terminated', reason: 'timeout' });

    // alice goes offline (removes her publication): nobody is told any more.
    const removed = await authed(alice, 'PUBLISH', aliceAor, {
      callId: 'pub-3',
      fromTag: 'p3',
      cseq: 1,
      headers: ['Event: presence', `SIP-If-Match: ${modified.sipETag}`, 'Expires: 0'],
    });
    expect(removed.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(bob.requests('NOTIFY')).toHaveLength(3);
  }, 20_000);
});

/** The embedded gateway, and alice and bob each running our UA with its presence layer, registered. */
async function aliceAndBob(): Promise<{ alice: OurUa; bob: OurUa; ALICE: string }> {
  const g = await startEmbeddedGateway({ users: PASSWORDS });
  gw = g;
  const start = async (user: string): Promise<OurUa> => {
    const o = startOurUa({
      wsUrl: g.wsUrl,
      aor: `sip:${user}@${g.domain}`,
      password: PASSWORDS[user],
      presence: true,
    });
    ours.push(o);
    await o.registered();
    return o;
  };
  const alice = await start('alice');
  const bob = await start('bob');
  return { alice, bob, ALICE: `sip:alice@${g.domain}` };
}

describe('our UA’s presence layer against the embedded presence agent', () => {
  it('bob watches alice: away with a note, available, do-not-disturb, then offline when she unpublishes', async () => {
    const { alice, bob, ALICE } = await aliceAndBob();
    // Nothing published yet: the agent says offline (one closed tuple).
    bob.watch(ALICE);
    expect((await bob.waitForPresence(ALICE, 'offline')).basic).toBe('closed');
    alice.publish('away', 'In a meeting until 3');
    const away = await bob.waitForPresence(ALICE, 'away');
    expect(away).toMatchObject({ basic: 'open', note: 'In a meeting until 3' });
    alice.publish('available');
    expect((await bob.waitForPresence(ALICE, 'available')).basic).toBe('open');
    // RPID has no do-not-disturb: it travels as busy + <rpid:other>, and our side reads it back.
    alice.publish('dnd');
    await bob.waitForPresence(ALICE, 'dnd');
    // Unpublishing (PUBLISH with SIP-If-Match and Expires: 0) leaves nothing: offline again.
    const seen = bob.presenceEvents.length;
    alice.publish('offline');
    expect((await bob.waitForPresence(ALICE, 'offline', seen)).basic).toBe('closed');
    // Every NOTIFY went over bob's own WebSocket, and the watch is active.
    expect(bob.presence?.watching).toEqual([expect.objectContaining({ state: 'active' })]);
  });

  it('alice’s connection dies: bob sees her offline at once, then away again when she is back by herself', async () => {
    const { alice, bob, ALICE } = await aliceAndBob();
    alice.publish('away', 'Back soon');
    bob.watch(ALICE);
    await bob.waitForPresence(ALICE, 'away');
    // A dead WebSocket (no close frame): the gateway's flow closes and the agent drops what it carried.
    const seen = bob.presenceEvents.length;
    alice.killSocket();
    expect((await bob.waitForPresence(ALICE, 'offline', seen)).basic).toBe('closed');
    // Alice's UA reconnects and re-registers; its refresh gets 412 and it publishes afresh.
    const back = await bob.waitForPresence(ALICE, 'away', seen);
    expect(back.note).toBe('Back soon');
  });
});
