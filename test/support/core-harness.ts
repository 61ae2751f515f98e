// The embedded SIP core (gateway/core/sip-core.ts) alone, without sockets: a temporary data directory with users
// and a message store, a fake edge link that records what the core sends toward the browsers, a controlled
// monotonic clock and a fixed wall clock. Everything the core does in answer to an input happens synchronously
// inside `fromBrowser`/`answer`, so tests read the results right after.
//
//   const h = coreHarness({ users: { alice: 'a', bob: 'b' } });
//   const answer = h.request('alice', 'MESSAGE', 'sip:bob@localhost', { body: 'hi' });   // → 202 (bob offline)
//   h.register('bob', 'b');                                                             // bob's flow comes up
//   const copy = h.requestsToEdge('MESSAGE').at(-1); h.answer(copy, 200);
//   h.close();

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import pino from 'pino';

import { MessageStore, STORE_FILE } from '../../gateway/core/message-store.ts';
import { SipCore, type SipCoreOptions } from '../../gateway/core/sip-core.ts';
import { UsersFile } from '../../gateway/core/users.ts';
import { OwnAddresses } from '../../gateway/edge/rewrite.ts';
import {
  createResponse,
  parseMessage,
  serializeMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../web/src/sip/index.ts';
import { digestAnswer } from './embedded-gateway.ts';

/** Where the fake edge "is": its Path and Via name this host and port. */
const EDGE_HOST = '127.0.0.1';
const EDGE_PORT = 8080;
const CORE_PORT = 5060;

export interface HarnessRequestOptions {
  body?: string;
  contentType?: string;
  headers?: string[];
  callId?: string;
  fromTag?: string;
  cseq?: number;
  /** add digest credentials for the sender (answering a first 401 the core sends) */
  authenticate?: string;
}

export interface CoreHarness {
  readonly core: SipCore;
  readonly store: MessageStore;
  readonly domain: string;
  /** every message the core handed to the edge, in order (already re-parsed, as the edge would see it) */
  readonly toEdge: SipMessage[];
  /** wall-clock ms the core sees (Date/Expires, IMDN DateTime) */
  wall: number;
  /** advances the core's monotonic clock */
  advance(ms: number): void;
  /** sends raw request text as if a browser sent it through the edge (the edge's Via on top) */
  fromBrowser(text: string): void;
  /** the text of a request from `user`'s browser as the edge hands it to the core */
  requestText(user: string, method: string, uri: string, options?: HarnessRequestOptions): string;
  /** a request from `user`'s browser; returns the core's final response to it (which must come at once) */
  request(user: string, method: string, uri: string, options?: HarnessRequestOptions): SipResponse;
  /** REGISTERs a browser of `user` (digest) whose flow is the fake edge; returns the 200 */
  register(user: string, password: string, options?: { contactParams?: string }): SipResponse;
  /** `user`'s browser connection closes (the gateway tells the core its flow is gone); the next one is new */
  closeFlow(user: string): void;
  /** the requests the core sent toward browsers (optionally of one method) */
  requestsToEdge(method?: string): SipRequest[];
  /** the browser answers a request the core sent it */
  answer(request: SipRequest, status: number): void;
  /** the stored messages of an AOR, oldest first (read without removing them) */
  stored(aor: string): SipRequest[];
  close(): void;
}

let sequence = 0;

export function coreHarness(
  options: {
    users?: Readonly<Record<string, string>>;
    domain?: string;
    core?: Partial<SipCoreOptions>;
  } = {},
): CoreHarness {
  const domain = options.domain ?? 'localhost';
  const dataDir = mkdtempSync(join(tmpdir(), 'core-harness-'));
  const users = UsersFile.open(dataDir, domain);
  for (const [name, password] of Object.entries(options.users ?? {})) users.set(name, password);
  const store = new MessageStore(dataDir);
  const toEdge: SipMessage[] = [];
  let clock = 1_000;
  const edgeOwn = new OwnAddresses([EDGE_HOST], [EDGE_PORT]);
  let random = 0x1234;
  const core = new SipCore({
    domain,
    users,
    store,
    publicHost: EDGE_HOST,
    ports: { udp: CORE_PORT, tcp: CORE_PORT },
    own: new OwnAddresses([EDGE_HOST], [CORE_PORT]),
    localHosts: new Set([EDGE_HOST, domain]),
    link: {
      // The real link serializes and re-parses at each crossing; so does this one.
      send: (message) => toEdge.push(parseMessage(serializeMessage(message))),
      isEdgeUri: (uri) => uri.user !== undefined && edgeOwn.isOurs(uri),
      via: { host: EDGE_HOST, port: CORE_PORT },
    },
    net: { sendUdp: () => undefined, sendTcp: () => undefined, udpAvailable: false, tcpAvailable: false },
    log: pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' }),
    clock: () => clock,
    wallClock: () => harness.wall,
    // a deterministic random source (linear congruential) for tags, Call-IDs and boundaries
    random: () => {
      random = (random * 1103515245 + 12345) % 2147483648;
      return random / 2147483648;
    },
    timers: { T1: 100, T2: 400, T4: 500 },
    branchTimeoutMs: 1000,
    ...options.core,
  });

  const flows = new Map<string, string>();
  const registrations = new Map<string, number>();
  const viaHost = (user: string): string => `${user}.invalid`;

  const finalTo = (callId: string, cseq: number): SipResponse | undefined =>
    toEdge.find(
      (m): m is SipResponse =>
        m.kind === 'response' && m.status >= 200 && m.callId === callId && m.cseq.seq === cseq,
    );

  const harness: CoreHarness = {
    core,
    store,
    domain,
    toEdge,
    wall: Date.UTC(2026, 10, 22, 12, 0, 0),
    advance(ms) {
      clock += ms;
    },
    fromBrowser(text) {
      const message = parseMessage(text);
      core.receiveFromEdge(message);
    },
    requestText(user, method, uri, o = {}) {
      const body = o.body ?? '';
      const lines = [
        `${method} ${uri} SIP/2.0`,
        // The edge's branch names the browser's flow (rewrite.ts branchFromSeed), as the real edge's does.
        `Via: SIP/2.0/TCP ${EDGE_HOST}:${EDGE_PORT};branch=z9hG4bKgw.${flows.get(user) ?? 'noflow'}.${++sequence}`,
        `Via: SIP/2.0/WS ${viaHost(user)};received=${EDGE_HOST};rport=40000;branch=z9hG4bK${++sequence}`,
        'Max-Forwards: 69',
        `From: <sip:${user}@${domain}>;tag=${o.fromTag ?? `t${++sequence}`}`,
        `To: <${uri}>`,
        `Call-ID: ${o.callId ?? `harness-${++sequence}`}`,
        `CSeq: ${o.cseq ?? 1} ${method}`,
        ...(o.headers ?? []),
        ...(body === '' ? [] : [`Content-Type: ${o.contentType ?? 'text/plain'}`]),
        `Content-Length: ${Buffer.byteLength(body)}`,
      ];
      return `${lines.join('\r\n')}\r\n\r\n${body}`;
    },
    request(user, method, uri, o = {}) {
      const callId = o.callId ?? `harness-${++sequence}`;
      const fromTag = o.fromTag ?? `t${++sequence}`;
      const send = (cseq: number, extra: string[]): SipResponse => {
        const headers = [...(o.headers ?? []), ...extra];
        harness.fromBrowser(harness.requestText(user, method, uri, { ...o, callId, fromTag, cseq, headers }));
        const response = finalTo(callId, cseq);
        if (response === undefined) throw new Error(`core harness: no final response to ${method} ${uri}`);
        return response;
      };
      const first = send(1, []);
      if (first.status !== 401 || o.authenticate === undefined) return first;
      const authorization = digestAnswer(first, user, o.authenticate, method, uri);
      return send(2, [`Authorization: ${authorization}`]);
    },
    register(user, password, r = {}) {
      const token = flows.get(user) ?? `flow${++sequence}`;
      flows.set(user, token);
      const callId = `reg-${user}-${token}`;
      const registerOnce = (cseq: number, extra: string[]): SipResponse => {
        const lines = [
          `REGISTER sip:${domain} SIP/2.0`,
          `Via: SIP/2.0/TCP ${EDGE_HOST}:${EDGE_PORT};branch=z9hG4bKgw.${++sequence}`,
          `Via: SIP/2.0/WS ${viaHost(user)};received=${EDGE_HOST};rport=41000;branch=z9hG4bK${++sequence}`,
          'Max-Forwards: 69',
          `From: <sip:${user}@${domain}>;tag=r${sequence}`,
          `To: <sip:${user}@${domain}>`,
          `Call-ID: ${callId}`,
          `CSeq: ${cseq} REGISTER`,
          `Contact: <sip:${user}@${viaHost(user)};transport=ws;ob>${r.contactParams ?? ''};expires=300`,
          `Path: <sip:${token}@${EDGE_HOST}:${EDGE_PORT};transport=tcp;lr;ob>`,
          'Supported: path, outbound',
          ...extra,
          'Content-Length: 0',
        ];
        harness.fromBrowser(`${lines.join('\r\n')}\r\n\r\n`);
        const response = finalTo(callId, cseq);
        if (response === undefined) throw new Error('core harness: no answer to REGISTER');
        return response;
      };
      const cseq = (registrations.get(user) ?? 0) + 1;
      registrations.set(user, cseq + 1);
      const challenge = registerOnce(cseq, []);
      if (challenge.status !== 401) return challenge;
      const authorization = digestAnswer(challenge, user, password, 'REGISTER', `sip:${domain}`);
      return registerOnce(challenge.cseq.seq + 1, [`Authorization: ${authorization}`]);
    },
    closeFlow(user) {
      const token = flows.get(user);
      if (token === undefined) throw new Error(`core harness: ${user} has no flow`);
      flows.delete(user);
      core.flowClosed(token);
    },
    requestsToEdge(method) {
      return toEdge.filter(
        (m): m is SipRequest => m.kind === 'request' && (method === undefined || m.method === method),
      );
    },
    answer(request, status) {
      const response = createResponse(request, status, { toTag: `a${++sequence}` });
      core.receiveFromEdge(response);
    },
    stored(aor) {
      // A second, read-only connection to the store's database (the store itself hands out one row at a time).
      const db = new Database(join(dataDir, STORE_FILE), { readonly: true });
      try {
        return db
          .prepare<{ request: Buffer }>('SELECT request FROM messages WHERE aor = ? ORDER BY id')
          .all(aor)
          .map((row) => parseMessage(new Uint8Array(row.request)) as SipRequest);
      } finally {
        db.close();
      }
    },
    close() {
      core.close();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}
