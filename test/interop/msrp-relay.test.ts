// The MSRP relay on loopback (RFC 4976, RFC 7977): our WebSocket client (the core's MsrpSession over `ws`)
// reaches a TCP MSRP endpoint (the core's MsrpSession over node:net) through our gateway's relay, and through
// Kamailio's msrp module, so that a third-party MSRP parser judges our frames. Then malformed MSRP against our
// relay, which keeps serving the others, and a 50 MB message WebSocket → TCP with a matching SHA-256.

import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';

import type { MsrpBodySource, MsrpSessionOptions } from '../../web/src/sip/index.ts';
import { startEmbeddedGateway, type EmbeddedGateway } from '../support/embedded-gateway.ts';
import { startKamailio, type Kamailio } from '../support/kamailio.ts';
import { MsrpTcpPeer } from '../support/msrp-tcp-peer.ts';
import { MsrpWsClient } from '../support/msrp-ws-client.ts';
import { fileURLToPath } from 'node:url';

const KAMAILIO_MSRP_CFG = fileURLToPath(new URL('../support/kamailio/kamailio-msrp.cfg', import.meta.url));

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

async function pair(
  url: string,
  relayUri: string,
  credentials: { username: string; password: string },
  chunkSize?: number,
  sessions: { alice?: Partial<MsrpSessionOptions>; peer?: Partial<MsrpSessionOptions> } = {},
) {
  const session = chunkSize === undefined ? {} : { chunkSize };
  const alice = await MsrpWsClient.connect({ url, session: { ...session, ...sessions.alice } });
  closers.push(() => alice.close());
  const usePath = await alice.authenticate(relayUri, credentials);
  const peer = await MsrpTcpPeer.listen({ session: { ...session, ...sessions.peer } });
  closers.push(() => peer.close());
  alice.session.setRemotePath([peer.uri]);
  peer.session.setRemotePath([...usePath, alice.uri]);
  return { alice, peer, usePath };
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

/** A chat both ways: a short line, then a longer message in several chunks, each with a success report. */
async function chatBothWays(alice: MsrpWsClient, peer: MsrpTcpPeer): Promise<void> {
  const first = alice.send(
    { contentType: 'text/plain', body: 'Wherefore art thou Romeo?' },
    { successReport: true },
  );
  const got = await peer.waitFor('message', (m) => text(m.bytes) === 'Wherefore art thou Romeo?');
  expect(got.contentType).toBe('text/plain');
  await alice.waitFor('report', (r) => r.messageId === first && r.success);

  const long = Array.from({ length: 1200 }, (_, i) => `line ${i}: ${'☆'.repeat(i % 13)}`).join('\n');
  const second = peer.send({ contentType: 'text/plain; charset=utf-8', body: long }, { successReport: true });
  const back = await alice.waitFor('message', (m) => m.messageId === second);
  expect(text(back.bytes)).toBe(long);
  await peer.waitFor('report', (r) => r.messageId === second && r.success);
  expect(alice.of('error')).toEqual([]);
  expect(peer.of('error')).toEqual([]);
}

describe('MSRP through our relay (embedded gateway)', () => {
  let gw: EmbeddedGateway;
  let relayUri: string;

  beforeAll(async () => {
    gw = await startEmbeddedGateway({
      users: { alice: 'secret', mallory: 'evil-but-registered' },
      config: { msrpTcp: { host: '127.0.0.1', port: 0, fallback: false } },
    });
    closers.push(() => gw.close());
    relayUri = `msrp://127.0.0.1:${gw.gateway.httpPort};ws`;
  });

  it('a WebSocket client and a TCP peer chat both ways with success reports', async () => {
    const { alice, peer, usePath } = await pair(gw.wsUrl, relayUri, {
      username: 'alice',
      password: 'secret',
    });
    expect(usePath).toEqual([
      expect.stringMatching(new RegExp(`^msrp://127\\.0\\.0\\.1:${gw.gateway.msrpTcpPort}/\\w+;tcp$`)),
    ]);
    await chatBothWays(alice, peer);
    // The relay opened one connection to the peer and carried both directions on it (RFC 4975 §5.4).
    expect(peer.accepted).toBe(1);
    const metrics = gw.gateway.metrics;
    expect(metrics.msrpSessions.get()).toBeGreaterThanOrEqual(1);
    expect(metrics.msrpBytes.total()).toBeGreaterThan(20_000);
  });

  it('a wrong password is refused and gets no session', async () => {
    const eve = await MsrpWsClient.connect({ url: gw.wsUrl });
    closers.push(() => eve.close());
    await expect(eve.authenticate(relayUri, { username: 'alice', password: 'guess' })).rejects.toThrow(/401/);
  });

  it('malformed MSRP gets the right answer, and the relay keeps serving the others', async () => {
    const { alice, peer, usePath } = await pair(gw.wsUrl, relayUri, {
      username: 'alice',
      password: 'secret',
    });
    // Mallory has an account, so she can AUTH; her raw frames come on her own authenticated connection.
    const mallory = await MsrpWsClient.connect({ url: gw.wsUrl });
    closers.push(() => mallory.close());
    const [malloryPath] = await mallory.authenticate(relayUri, {
      username: 'mallory',
      password: 'evil-but-registered',
    });
    const raw: string[] = [];
    mallory.ws.on('message', (data: RawData) => raw.push(Buffer.from(data as Buffer).toString('latin1')));
    const answer = async (tid: string): Promise<string> => {
      for (let i = 0; i < 100; i++) {
        const hit = raw.find((f) => f.startsWith(`MSRP ${tid} `));
        if (hit !== undefined) return hit.split('\r\n')[0]!;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no answer to ${tid}`);
    };
    const sendRaw = (tid: string, to: string, from: string, range = '1-5/5', body = 'hello'): void =>
      mallory.ws.send(
        Buffer.from(
          `MSRP ${tid} SEND\r\nTo-Path: ${to}\r\nFrom-Path: ${from}\r\nMessage-ID: ${tid}m\r\nByte-Range: ${range}\r\n` +
            `Content-Type: text/plain\r\n\r\n${body}\r\n-------${tid}$\r\n`,
        ),
      );
    // Forged From-Path: Mallory writes as Alice.
    sendRaw('forge1', `${malloryPath} ${peer.uri}`, alice.uri);
    expect(await answer('forge1')).toBe('MSRP forge1 403 From-Path is not the client of this session');
    // Bad Byte-Range.
    sendRaw('range1', `${malloryPath} ${peer.uri}`, mallory.uri, 'one-five/5');
    expect(await answer('range1')).toMatch(/^MSRP range1 400 /);
    // Unknown session.
    const nosuch = usePath[0]!.replace(/\/\w+;tcp$/, '/nosuchsession;tcp');
    sendRaw('nosess1', `${nosuch} ${alice.uri}`, mallory.uri);
    expect(await answer('nosess1')).toBe('MSRP nosess1 481 No Such Session');
    // Alice's session used from Mallory's connection.
    sendRaw('steal1', `${usePath[0]} ${peer.uri}`, alice.uri);
    expect(await answer('steal1')).toMatch(/^MSRP steal1 403 /);
    // An oversized chunk: more than a WebSocket message of the relay takes (1 MiB + head room) → 1009.
    const big = await MsrpWsClient.connect({ url: gw.wsUrl });
    closers.push(() => big.close());
    big.ws.send(Buffer.alloc(2 << 20, 0x41));
    for (let i = 0; i < 100 && big.closeCode === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(big.closeCode).toBe(1009);
    // Garbage: closed with 1007 after three.
    const junk = await MsrpWsClient.connect({ url: gw.wsUrl });
    closers.push(() => junk.close());
    for (let i = 0; i < 3; i++) junk.ws.send('GET / HTTP/1.1\r\n\r\n');
    for (let i = 0; i < 100 && junk.closeCode === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(junk.closeCode).toBe(1007);
    // Nothing of that reached the peer, and Alice still chats.
    expect(peer.of('message')).toEqual([]);
    await chatBothWays(alice, peer);
    expect(gw.gateway.metrics.msrpErrors.get({ reason: 'refused-403' })).toBeGreaterThanOrEqual(2);
  });

  it('a 50 MB message WebSocket → TCP peer arrives whole (SHA-256), streamed with bounded memory', async () => {
    // Large chunks from the browser (the relay takes up to 1 MiB per WebSocket message); the peer hands the
    // message on as it comes (data events), never holding it whole.
    const { alice, peer } = await pair(
      gw.wsUrl,
      relayUri,
      { username: 'alice', password: 'secret' },
      undefined,
      {
        alice: { chunkSize: 512 * 1024, window: 8 << 20 },
        peer: { bufferLimit: 1 << 20 },
      },
    );
    const size = 50 * 1024 * 1024;
    const sent = createHash('sha256');
    let seed = 0x9e3779b9;
    const source: MsrpBodySource = {
      size,
      read(offset, length) {
        const out = Buffer.allocUnsafe(length);
        for (let i = 0; i + 4 <= length; i += 4) {
          seed ^= seed << 13;
          seed ^= seed >>> 17;
          seed ^= seed << 5;
          out.writeInt32LE(seed | 0, i);
        }
        out.fill(offset & 0xff, length - (length % 4));
        sent.update(out);
        return out;
      },
    };
    const received = createHash('sha256');
    let next = 1;
    peer.record = false;
    alice.record = false;
    const off = peer.onEvent((e) => {
      if (e.type !== 'data') return;
      expect(e.offset).toBe(next);
      next += e.bytes.length;
      received.update(e.bytes);
    });
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    const done = peer.waitFor('message', () => true, 55_000);
    const id = alice.send({ contentType: 'application/octet-stream', body: source }, { successReport: true });
    // Not recorded: wait on the listener instead.
    const reported = new Promise<boolean>((resolve) =>
      alice.onEvent((e) => {
        if (e.type === 'report' && e.messageId === id) resolve(e.success);
      }),
    );
    await done;
    expect(await reported).toBe(true);
    clearInterval(sampler);
    off();
    expect(next - 1).toBe(size);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    // One process holds the client, the relay and the peer: a whole copy of the message anywhere would show.
    expect((peak - rss0) / 2 ** 20).toBeLessThan(160);
  }, 60_000);
});

describe("MSRP through Kamailio's msrp module", () => {
  let kamailio: Kamailio;
  let relayUri: string;

  beforeAll(async () => {
    kamailio = await startKamailio({ configFile: KAMAILIO_MSRP_CFG });
    closers.push(() => kamailio.stop());
    relayUri = `msrp://127.0.0.1:${kamailio.wsPort};ws`;
  });

  it('our WebSocket client and our TCP peer chat both ways through it, with success reports', async () => {
    // Kamailio relays frames of at most about 10 KiB of body: 8 KiB chunks on both sides.
    const { alice, peer, usePath } = await pair(
      kamailio.wsUrl,
      relayUri,
      { username: 'alice', password: 'secret' },
      8192,
    );
    expect(usePath).toEqual([
      expect.stringMatching(new RegExp(`^msrp://127\\.0\\.0\\.1:${kamailio.tcpPort}/\\w+;tcp$`)),
    ]);
    try {
      await chatBothWays(alice, peer);
    } catch (error) {
      throw new Error(`${String(error)}\nkamailio log:\n${kamailio.logTail(40)}`, { cause: error });
    }
  });

  it('Kamailio refuses a session it does not know with 481', async () => {
    const client = await MsrpWsClient.connect({ url: kamailio.wsUrl });
    closers.push(() => client.close());
    const answers: string[] = [];
    client.ws.on('message', (data: RawData) => answers.push(Buffer.from(data as Buffer).toString('latin1')));
    client.ws.send(
      `MSRP k481 SEND\r\nTo-Path: msrp://127.0.0.1:${kamailio.tcpPort}/nosuch;tcp msrp://127.0.0.1:9/x;tcp\r\n` +
        `From-Path: ${client.uri}\r\nMessage-ID: m1\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------k481$\r\n`,
    );
    for (let i = 0; i < 100 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(answers[0]).toMatch(/^MSRP k481 481 /);
    expect(WebSocket.OPEN).toBe(client.ws.readyState);
  });
});
