// The gateway in embedded mode (its built-in SIP core), in-process, for interop tests: ephemeral ports, a
// temporary data directory with the given users, short timers; plus digest REGISTER for RawWsUa.
//
//   const gw = await startEmbeddedGateway({ users: { alice: 'secret' } });
//   const alice = await RawWsUa.connect(gw.wsUrl, { user: 'alice', domain: gw.domain });
//   expect((await digestRegister(alice, 'secret')).status).toBe(200);
//   await gw.close();

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pino from 'pino';

import { gatewayConfig, type GatewayConfig } from '../../gateway/config.ts';
import { UsersFile } from '../../gateway/core/users.ts';
import { startGateway, type Gateway } from '../../gateway/gateway.ts';
import { computeDigestResponse, parseChallenges, type SipResponse } from '../../web/src/sip/index.ts';
import type { RawWsUa, RequestOptions } from './raw-ws-ua.ts';

export interface EmbeddedGatewayOptions {
  readonly users?: Readonly<Record<string, string>>;
  readonly domain?: string;
  readonly branchTimeoutMs?: number;
  readonly dataDir?: string;
  readonly config?: Partial<GatewayConfig>;
  readonly wallClock?: () => number;
}

export interface EmbeddedGateway {
  readonly gateway: Gateway;
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly domain: string;
  readonly dataDir: string;
  close(): Promise<void>;
}

export function makeDataDir(users: Readonly<Record<string, string>> = {}, domain = 'localhost'): string {
  const dir = mkdtempSync(join(tmpdir(), 'embedded-gw-'));
  const file = UsersFile.open(dir, domain);
  for (const [name, password] of Object.entries(users)) file.set(name, password);
  return dir;
}

export async function startEmbeddedGateway(options: EmbeddedGatewayOptions = {}): Promise<EmbeddedGateway> {
  const domain = options.domain ?? 'localhost';
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? makeDataDir(options.users, domain);
  const config = gatewayConfig({
    upstream: undefined,
    host: '127.0.0.1',
    port: 0,
    sipUdp: { host: '127.0.0.1', port: 0 },
    sipTcp: { host: '127.0.0.1', port: 0 },
    publicHost: '127.0.0.1',
    allowMissingOrigin: true,
    dataDir,
    domain,
    branchTimeoutMs: options.branchTimeoutMs ?? 1500,
    staticDir: undefined,
    shutdownGraceMs: 0,
    ...options.config,
  });
  const gateway = await startGateway(config, {
    log: pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' }),
    timers: { T1: 100, T2: 400, T4: 500 },
    wallClock: options.wallClock,
  });
  return {
    gateway,
    wsUrl: `ws://127.0.0.1:${gateway.httpPort}`,
    httpUrl: `http://127.0.0.1:${gateway.httpPort}/`,
    domain,
    dataDir,
    async close() {
      await gateway.close(0);
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The Authorization value answering the first challenge (of `algorithm`) of a 401. */
export function digestAnswer(
  challenge: SipResponse,
  username: string,
  password: string,
  method: string,
  uri: string,
  algorithm: 'MD5' | 'SHA-256' = 'SHA-256',
  nc = 1,
): string {
  const challenges = challenge.headers.getAll('www-authenticate').flatMap((v) => parseChallenges(v));
  const c = challenges.find((x) => x.algorithm === algorithm) ?? challenges[0];
  if (c === undefined) throw new Error('no digest challenge');
  const cnonce = Math.random().toString(36).slice(2, 10);
  const response = computeDigestResponse({
    algorithm: c.algorithm as 'MD5' | 'SHA-256',
    username,
    realm: c.realm,
    password,
    method,
    uri,
    nonce: c.nonce,
    cnonce,
    nc,
    qop: 'auth',
  });
  const ncText = nc.toString(16).padStart(8, '0');
  return `Digest username="${username}", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}", response="${response}", algorithm=${c.algorithm}, cnonce="${cnonce}", nc=${ncText}, qop=auth`;
}

/** REGISTER with digest: the 401, then the answer. Resolves with the final response of the second REGISTER. */
export async function digestRegister(
  ua: RawWsUa,
  password: string,
  expires = 300,
  options: RequestOptions & { algorithm?: 'MD5' | 'SHA-256' } = {},
): Promise<SipResponse> {
  const first = await ua.register(expires, options);
  if (first.status !== 401) return first;
  const uri = `sip:${ua.options.domain}`;
  const authorization = digestAnswer(first, ua.options.user, password, 'REGISTER', uri, options.algorithm);
  return ua.register(expires, {
    ...options,
    headers: [...(options.headers ?? []), `Authorization: ${authorization}`],
  });
}
