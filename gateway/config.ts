/**
 * The gateway's configuration: command-line flags and environment variables → one typed GatewayConfig.
 *
 * Every flag has an environment variable: `--sip-udp` ↔ GATEWAY_SIP_UDP, and so on (GATEWAY_ + the flag in upper
 * snake case). A flag wins over its variable. Repeatable flags (`--origin`) take a comma-separated list in the
 * variable; boolean flags take 1/true/yes/on or 0/false/no/off. `helpText()` prints the table.
 */
import { parseArgs } from 'node:util';

import { parseUri } from '../web/src/sip/server.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface UpstreamConfig extends HostPort {
  readonly transport: 'udp' | 'tcp';
}

export interface GatewayLimits {
  readonly maxMessageBytes: number;
  readonly maxConnectionsPerIp: number;
  readonly messageRate: number;
  readonly messageBurst: number;
  readonly maxBufferedBytes: number;
  readonly pingIntervalMs: number;
  readonly maxGarbage: number;
}

export interface GatewayConfig {
  /** HTTP/WebSocket listener (one port: SIP and later MSRP by subprotocol, the app's files, health, metrics) */
  readonly host: string;
  readonly port: number;
  /** the gateway's own SIP listeners toward the PBX; undefined: off */
  readonly sipUdp: HostPort | undefined;
  readonly sipTcp: HostPort | undefined;
  /** the PBX every browser request goes to; undefined: embedded mode (the built-in SIP core, gateway/core/) */
  readonly upstream: UpstreamConfig | undefined;
  /** embedded mode: state (users.json, messages.sqlite) */
  readonly dataDir: string;
  /** embedded mode: the SIP domain of the users and the digest realm */
  readonly domain: string;
  /** embedded mode: how long a group of forked branches rings before the next group (ms) */
  readonly branchTimeoutMs: number;
  /** embedded mode: the shortest registration accepted (423 below it), seconds */
  readonly minExpires: number;
  /** embedded mode: the digest challenges offered, in order of preference (RFC 8760 §2.3) */
  readonly digestAlgorithms: readonly ('SHA-256' | 'MD5')[];
  /** the app's files served on the HTTP port (undefined: none) */
  readonly staticDir: string | undefined;
  /** Origin allow-list besides the gateway's own origin (always allowed); `*`: any */
  readonly origins: readonly string[];
  readonly allowMissingOrigin: boolean;
  /** WSS when both are set (PEM files) */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** what goes into Via, Record-Route and Path; undefined: derived from the listeners */
  readonly publicHost: string | undefined;
  /** advertised ports when they differ from the bound ones (NAT, load balancer) */
  readonly publicPorts: {
    readonly udp?: number | undefined;
    readonly tcp?: number | undefined;
    readonly ws?: number | undefined;
  };
  /** false (`--no-path`): the registrar has no Path support; the flow token rides in the Contact URI */
  readonly usePath: boolean;
  /** HMAC key of the flow tokens; undefined: random at start (a restart invalidates every token) */
  readonly flowSecret: string | undefined;
  readonly logLevel: string;
  readonly limits: GatewayLimits;
  /** how long shutdown waits for in-flight transactions before closing WebSockets */
  readonly shutdownGraceMs: number;
  /** processes beside a PBX (node:cluster, gateway/cluster.ts); 'auto': one per CPU; embedded mode runs one */
  readonly workers: number | 'auto';
  /**
   * The MSRP relay's TCP listener for MSRP peers and relays (gateway/msrp/); undefined: off. `fallback`: the
   * default (`auto`) port 2855 may be taken, then an ephemeral port is used (the relay's Use-Path names it).
   */
  readonly msrpTcp: { readonly host: string; readonly port: number; readonly fallback: boolean } | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Kind = 'string' | 'boolean' | 'list';

interface OptionSpec {
  readonly flag: string;
  readonly kind: Kind;
  readonly arg?: string;
  readonly default?: string;
  readonly help: string;
  readonly short?: string;
}

/** The flags, in the order `--help` lists them. */
export const OPTIONS: readonly OptionSpec[] = [
  { flag: 'host', kind: 'string', arg: 'ADDR', default: '0.0.0.0', help: 'HTTP/WebSocket listen address' },
  {
    flag: 'port',
    kind: 'string',
    arg: 'PORT',
    default: '8080',
    help: 'HTTP/WebSocket port (WebSocket subprotocol `sip`; /healthz, /metrics)',
  },
  {
    flag: 'sip-udp',
    kind: 'string',
    arg: '[HOST:]PORT|off',
    help: "the gateway's own SIP/UDP listener (toward the PBX, or for outside peers in embedded mode) [5070 with --upstream, 5060 embedded]",
  },
  {
    flag: 'sip-tcp',
    kind: 'string',
    arg: '[HOST:]PORT|off',
    help: "the gateway's own SIP/TCP listener (also used for requests over 1300 bytes) [5070 with --upstream, 5060 embedded]",
  },
  {
    flag: 'upstream',
    kind: 'string',
    arg: 'URI',
    help: 'the PBX/proxy every browser request goes to: sip:HOST[:PORT][;transport=udp|tcp]; without it the built-in SIP core runs (embedded mode)',
  },
  {
    flag: 'data-dir',
    kind: 'string',
    arg: 'DIR',
    default: './data',
    help: 'embedded mode: where users.json and the message store live',
  },
  {
    flag: 'domain',
    kind: 'string',
    arg: 'DOMAIN',
    default: 'localhost',
    help: 'embedded mode: the SIP domain of the users (and the digest realm)',
  },
  {
    flag: 'branch-timeout',
    kind: 'string',
    arg: 'MS',
    default: '10000',
    help: 'embedded mode: how long forked branches ring before the next q-value group is tried',
  },
  {
    flag: 'min-expires',
    kind: 'string',
    arg: 'SECONDS',
    default: '60',
    help: 'embedded mode: shortest registration accepted (423 Interval Too Brief below it)',
  },
  {
    flag: 'digest-algorithms',
    kind: 'list',
    arg: 'LIST',
    help: 'embedded mode: digest challenges in order of preference [SHA-256,MD5]; MD5,SHA-256 for clients that only try the first (SIPp 3.6), MD5 alone for clients that fail on any SHA-256 challenge (baresip 1.0)',
  },
  {
    flag: 'static',
    kind: 'string',
    arg: 'DIR|off',
    help: "the app's files served on the HTTP port [dist, when it exists]",
  },
  {
    flag: 'origin',
    kind: 'list',
    arg: 'ORIGIN',
    help: "WebSocket Origins allowed besides the gateway's own, repeatable or comma list; `*` any",
  },
  {
    flag: 'allow-missing-origin',
    kind: 'boolean',
    help: 'accept WebSocket handshakes without an Origin header (non-browser clients)',
  },
  {
    flag: 'tls-cert',
    kind: 'string',
    arg: 'FILE',
    help: 'PEM certificate: serve WSS/HTTPS (with --tls-key)',
  },
  { flag: 'tls-key', kind: 'string', arg: 'FILE', help: 'PEM private key for --tls-cert' },
  {
    flag: 'public-host',
    kind: 'string',
    arg: 'HOST',
    help: 'host put into Via, Record-Route and Path (default: the SIP listen address, or the first non-loopback IPv4)',
  },
  {
    flag: 'public-udp-port',
    kind: 'string',
    arg: 'PORT',
    help: 'advertised SIP/UDP port (default: the bound one)',
  },
  {
    flag: 'public-tcp-port',
    kind: 'string',
    arg: 'PORT',
    help: 'advertised SIP/TCP port (default: the bound one)',
  },
  {
    flag: 'public-ws-port',
    kind: 'string',
    arg: 'PORT',
    help: 'advertised WebSocket port in Record-Route (default: --port)',
  },
  {
    flag: 'no-path',
    kind: 'boolean',
    help: 'registrar without Path support: carry the flow token in the Contact URI instead',
  },
  {
    flag: 'flow-secret',
    kind: 'string',
    arg: 'SECRET',
    help: 'HMAC key for flow tokens, >= 16 chars (default: random; a restart then invalidates all flows)',
  },
  {
    flag: 'log-level',
    kind: 'string',
    arg: 'LEVEL',
    default: 'info',
    help: 'pino level: fatal, error, warn, info, debug, trace, silent',
  },
  {
    flag: 'max-connections-per-ip',
    kind: 'string',
    arg: 'N',
    default: '50',
    help: 'WebSocket connections per client IP',
  },
  {
    flag: 'message-rate',
    kind: 'string',
    arg: 'N',
    default: '50',
    help: 'SIP messages per second per WebSocket (sustained)',
  },
  { flag: 'message-burst', kind: 'string', arg: 'N', default: '100', help: 'burst above --message-rate' },
  {
    flag: 'max-buffered',
    kind: 'string',
    arg: 'BYTES',
    default: '1048576',
    help: 'send buffer per WebSocket before it is closed as a slow consumer',
  },
  {
    flag: 'ping-interval',
    kind: 'string',
    arg: 'SECONDS',
    default: '30',
    help: 'WebSocket ping period (a peer missing one pong is dropped); 0: off',
  },
  {
    flag: 'shutdown-grace',
    kind: 'string',
    arg: 'MS',
    default: '2000',
    help: 'on SIGINT/SIGTERM, time to finish in-flight transactions',
  },
  {
    flag: 'workers',
    kind: 'string',
    arg: 'N|auto',
    default: '1',
    help: 'gateway processes beside a PBX (auto: one per CPU, at most 8); worker i listens for SIP on the port + i; embedded mode runs one',
  },
  {
    flag: 'msrp-tcp',
    kind: 'string',
    arg: '[HOST:]PORT|auto|off',
    default: 'auto',
    help: "the MSRP relay's TCP listener for MSRP peers (browsers use WebSocket subprotocol `msrp` on --port); auto: 0.0.0.0:2855, or an ephemeral port when 2855 is taken",
  },
  { flag: 'help', kind: 'boolean', short: 'h', help: 'print this help and exit' },
];

/** GATEWAY_ + the flag in upper snake case. */
export function envName(flag: string): string {
  return `GATEWAY_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function helpText(): string {
  const rows = OPTIONS.map((o) => {
    const left = `--${o.flag}${o.arg === undefined ? '' : ` ${o.arg}`}`;
    const env = o.flag === 'help' ? '' : envName(o.flag);
    const dflt = o.default === undefined ? '' : ` [${o.default}]`;
    return { left, env, text: `${o.help}${dflt}` };
  });
  const width = Math.max(...rows.map((r) => r.left.length));
  const envWidth = Math.max(...rows.map((r) => r.env.length));
  return [
    "Usage: npm run gateway -- [--upstream 'sip:PBX:5060;transport=udp'] [options]",
    '',
    'SIP-over-WebSocket edge proxy (RFC 7118, RFC 5626) in front of a PBX reached over UDP or TCP, or, without',
    '--upstream, with its built-in SIP core (registrar, forking proxy, message store; embedded mode).',
    'Every option can also be set by its environment variable (flags win; lists comma-separated;',
    'booleans 1/true/yes/on).',
    '',
    ...rows.map((r) => `  ${r.left.padEnd(width)}  ${r.env.padEnd(envWidth)}  ${r.text}`),
    '',
  ].join('\n');
}

type Raw = Record<string, string | boolean | string[] | undefined>;

function parseBoolean(value: string, name: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(`${name}: expected a boolean, got "${value}"`);
}

function parseInteger(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new ConfigError(`${name}: expected an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${name}: ${n} is out of range ${min}–${max}`);
  return n;
}

function parsePort(value: string, name: string): number {
  return parseInteger(value, name, 0, 65535);
}

/** `[HOST:]PORT`, `[v6]:PORT` or `off`; the host defaults to `defaultHost`. */
export function parseListen(value: string, name: string, defaultHost: string): HostPort | undefined {
  const v = value.trim();
  if (v === 'off' || v === 'none') return undefined;
  if (/^\d+$/.test(v)) return { host: defaultHost, port: parsePort(v, name) };
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(v);
  if (m === null) throw new ConfigError(`${name}: expected [HOST:]PORT, got "${value}"`);
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  return { host, port: parsePort(m[2] ?? '', name) };
}

/** `sip:HOST[:PORT][;transport=udp|tcp]` (the scheme may be left out). */
export function parseUpstream(value: string): UpstreamConfig {
  const text = /^sips?:/i.test(value.trim()) ? value.trim() : `sip:${value.trim()}`;
  let uri;
  try {
    uri = parseUri(text);
  } catch (error) {
    throw new ConfigError(
      `--upstream: not a SIP URI: "${value}" (${error instanceof Error ? error.message : ''})`,
    );
  }
  if (uri.scheme !== 'sip') throw new ConfigError('--upstream: only sip: URIs (UDP or TCP) are supported');
  const transport = (uri.param('transport') ?? 'udp').toLowerCase();
  if (transport !== 'udp' && transport !== 'tcp')
    throw new ConfigError(`--upstream: transport must be udp or tcp, not "${transport}"`);
  const host = uri.host.replace(/^\[|\]$/g, '');
  if (host.toLowerCase().endsWith('.invalid'))
    throw new ConfigError('--upstream: an .invalid host is never resolved');
  return { host, port: uri.port ?? 5060, transport };
}

/** `--digest-algorithms`: SHA-256 and/or MD5, each once, in order of preference. */
function parseAlgorithms(items: readonly string[]): ('SHA-256' | 'MD5')[] {
  if (items.length === 0) return ['SHA-256', 'MD5'];
  const out: ('SHA-256' | 'MD5')[] = [];
  for (const item of items) {
    const a = item.toUpperCase();
    if (a !== 'SHA-256' && a !== 'MD5')
      throw new ConfigError(`--digest-algorithms: "${item}" is not SHA-256 or MD5`);
    if (out.includes(a)) throw new ConfigError(`--digest-algorithms: ${a} twice`);
    out.push(a);
  }
  return out;
}

/** The parsed command line, or `{ help: true }` for --help. Throws ConfigError with a message for the user. */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): { help: true } | { help: false; config: GatewayConfig } {
  let values: Raw;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        OPTIONS.map((o) => [
          o.flag,
          {
            type: o.kind === 'boolean' ? ('boolean' as const) : ('string' as const),
            multiple: o.kind === 'list',
            ...(o.short === undefined ? {} : { short: o.short }),
          },
        ]),
      ),
    }).values as Raw;
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return { help: true };

  const str = (flag: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[envName(flag)];
    if (e !== undefined && e !== '') return e;
    return OPTIONS.find((o) => o.flag === flag)?.default;
  };
  const bool = (flag: string): boolean => {
    const v = values[flag];
    if (v === true) return true;
    const e = env[envName(flag)];
    return e === undefined ? false : parseBoolean(e, envName(flag));
  };
  const list = (flag: string): string[] => {
    const v = values[flag];
    const items = Array.isArray(v) ? v : (env[envName(flag)] ?? '').split(',');
    return items
      .flatMap((item) => item.split(','))
      .map((s) => s.trim())
      .filter((s) => s !== '');
  };
  const optionalPort = (flag: string): number | undefined => {
    const v = str(flag);
    return v === undefined ? undefined : parsePort(v, `--${flag}`);
  };

  const host = str('host') ?? '0.0.0.0';
  const upstreamText = str('upstream');
  const certFile = str('tls-cert');
  const keyFile = str('tls-key');
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new ConfigError('--tls-cert and --tls-key go together');
  const flowSecret = str('flow-secret');
  if (flowSecret !== undefined && flowSecret.length < 16)
    throw new ConfigError('--flow-secret must be at least 16 characters');
  const logLevel = str('log-level') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    throw new ConfigError(`--log-level: unknown level "${logLevel}"`);
  // Embedded mode listens where outside SIP peers expect a SIP server (5060); beside a PBX the default stays
  // off the PBX's port.
  const defaultSip = upstreamText === undefined ? '0.0.0.0:5060' : '0.0.0.0:5070';
  const sipUdp = parseListen(str('sip-udp') ?? defaultSip, '--sip-udp', host);
  const sipTcp = parseListen(str('sip-tcp') ?? defaultSip, '--sip-tcp', host);
  const upstream = upstreamText === undefined ? undefined : parseUpstream(upstreamText);
  if (upstream?.transport === 'udp' && sipUdp === undefined)
    throw new ConfigError('a UDP upstream needs --sip-udp (the gateway sends and receives SIP on it)');
  if (upstream?.transport === 'tcp' && sipTcp === undefined)
    throw new ConfigError('a TCP upstream needs --sip-tcp (the PBX connects to it to reach the browsers)');
  const domain = (str('domain') ?? 'localhost').trim().toLowerCase();
  if (!/^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/.test(domain))
    throw new ConfigError(`--domain: not a host name: "${domain}"`);
  const staticText = str('static');
  const msrpText = (str('msrp-tcp') ?? 'auto').trim();
  // RFC 4975 §6: 2855 is MSRP's port; peers learn the real one from the Use-Path, so a taken default is no failure.
  const msrpTcp =
    msrpText === 'auto'
      ? { host: '0.0.0.0', port: 2855, fallback: true }
      : (() => {
          const listen = parseListen(msrpText, '--msrp-tcp', host);
          return listen === undefined ? undefined : { ...listen, fallback: false };
        })();
  const workersText = str('workers') ?? '1';

  const config: GatewayConfig = {
    host,
    port: parsePort(str('port') ?? '8080', '--port'),
    sipUdp,
    sipTcp,
    upstream,
    dataDir: str('data-dir') ?? './data',
    domain,
    branchTimeoutMs: parseInteger(str('branch-timeout') ?? '10000', '--branch-timeout', 1, 3_600_000),
    minExpires: parseInteger(str('min-expires') ?? '60', '--min-expires', 1, 86_400),
    digestAlgorithms: parseAlgorithms(list('digest-algorithms')),
    staticDir: staticText === 'off' ? undefined : (staticText ?? 'dist'),
    origins: list('origin'),
    allowMissingOrigin: bool('allow-missing-origin'),
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
    publicHost: str('public-host'),
    publicPorts: {
      udp: optionalPort('public-udp-port'),
      tcp: optionalPort('public-tcp-port'),
      ws: optionalPort('public-ws-port'),
    },
    usePath: !bool('no-path'),
    flowSecret,
    logLevel,
    limits: {
      maxMessageBytes: 65_536,
      maxConnectionsPerIp: parseInteger(
        str('max-connections-per-ip') ?? '50',
        '--max-connections-per-ip',
        1,
        1_000_000,
      ),
      messageRate: parseInteger(str('message-rate') ?? '50', '--message-rate', 1, 1_000_000),
      messageBurst: parseInteger(str('message-burst') ?? '100', '--message-burst', 1, 1_000_000),
      maxBufferedBytes: parseInteger(str('max-buffered') ?? '1048576', '--max-buffered', 1024, 1 << 30),
      pingIntervalMs: parseInteger(str('ping-interval') ?? '30', '--ping-interval', 0, 86_400) * 1000,
      maxGarbage: 3,
    },
    shutdownGraceMs: parseInteger(str('shutdown-grace') ?? '2000', '--shutdown-grace', 0, 600_000),
    workers: workersText === 'auto' ? 'auto' : parseInteger(workersText, '--workers', 1, 64),
    msrpTcp,
  };
  return { help: false, config };
}

/** A complete configuration from a few fields (tests, embedding): the flag defaults for everything else. */
export function gatewayConfig(
  overrides: Partial<GatewayConfig> & Pick<GatewayConfig, 'upstream'>,
): GatewayConfig {
  // (embedded mode: pass `upstream: undefined`)
  const { config } = parseConfig([], { GATEWAY_UPSTREAM: 'sip:127.0.0.1:5060' }) as { config: GatewayConfig };
  return { ...config, ...overrides, limits: { ...config.limits, ...(overrides.limits ?? {}) } };
}
