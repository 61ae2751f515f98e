/**
 * The gateway's composition root: `npm run gateway -- --upstream sip:PBX:5060 …` (`--help` for every flag).
 * Parses flags and environment, creates the logger, starts the gateway, and stops it gracefully on SIGINT or
 * SIGTERM (a second signal exits at once). Beside a PBX `--workers N|auto` runs several worker processes
 * (gateway/cluster.ts); embedded mode is one process.
 */
import { randomBytes } from 'node:crypto';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

import pino from 'pino';

import { clusterConfigProblem, runPrimary, workerConfig, workerRole } from './cluster.ts';
import { ConfigError, helpText, parseConfig, type GatewayConfig } from './config.ts';
import { UsersFileError } from './core/users.ts';
import { startGateway } from './gateway.ts';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`gateway: ${error.message}\n\n${helpText()}`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    console.log(helpText());
    return 0;
  }
  let config = parsed.config;
  const rootLog = pino({ level: config.logLevel, base: { service: 'gateway' } });
  const workers =
    config.upstream === undefined
      ? 1
      : config.workers === 'auto'
        ? Math.min(availableParallelism(), 8)
        : config.workers;
  const problem = clusterConfigProblem(config, workers);
  if (problem !== undefined) {
    console.error(`gateway: ${problem}`);
    return 2;
  }
  if (workers > 1 && cluster.isPrimary) {
    if (config.flowSecret === undefined) {
      // One secret for all workers (inherited through the environment), so that each can tell another worker's
      // token (430) from a forged one (403). It still dies with the primary.
      process.env.GATEWAY_FLOW_SECRET = randomBytes(24).toString('base64url');
      rootLog.warn(
        'no --flow-secret: a random one is used; a restart invalidates every flow token (browsers re-register)',
      );
    }
    runPrimary({ config, workers, log: rootLog });
    return -1;
  }
  const role = workerRole(workers);
  const log = role === undefined ? rootLog : rootLog.child({ worker: role.index });
  if (role !== undefined) config = workerConfig(config, role.index);
  let gateway;
  try {
    gateway = await startGateway(config, { log, worker: role });
  } catch (error) {
    const message = startFailure(error, config);
    if (message === undefined) throw error;
    console.error(`gateway: ${message}`);
    return 1;
  }
  if (config.upstream === undefined) {
    // Embedded mode is what a new user runs (`npm start`): say where to go and what to do first.
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const scheme = config.tls === undefined ? 'http' : 'https';
    const sip = [gateway.udpPort && `UDP ${gateway.udpPort}`, gateway.tcpPort && `TCP ${gateway.tcpPort}`]
      .filter(Boolean)
      .join(', ');
    console.log(
      [
        '',
        `  simple-chat is running: ${scheme}://${host.includes(':') ? `[${host}]` : host}:${gateway.httpPort}/`,
        `  SIP domain ${config.domain}${sip === '' ? '' : ` (SIP for other peers on ${sip})`}, state in ${config.dataDir}`,
        `  add a user:  npm run user -- add alice secret   (then sign in as sip:alice@${config.domain})`,
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'signal received: stopping');
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // A worker stops when its primary says so (SIGTERM); a terminal's Ctrl-C reaches the whole process group,
  // and the primary turns it into that SIGTERM.
  process.on('SIGINT', role === undefined ? stop : () => undefined);
  process.on('SIGTERM', stop);
  return -1;
}

/** A clear sentence for the failures a user can fix (a port in use, a users file for another domain). */
function startFailure(error: unknown, config: GatewayConfig): string | undefined {
  if (error instanceof UsersFileError) return error.message;
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
    const where = `${e.address ?? ''}:${e.port ?? ''}`;
    const sip = [config.sipUdp?.port, config.sipTcp?.port].includes(e.port);
    const msrpBase = config.msrpTcp?.port ?? 0;
    const msrp = msrpBase > 0 && e.port !== undefined && e.port >= msrpBase && e.port < msrpBase + 64;
    const why = e.code === 'EADDRINUSE' ? 'is already in use' : 'needs privileges';
    if (sip)
      return (
        `cannot listen for SIP on ${where}: the port ${why} (another SIP server?). ` +
        'Choose another with --sip-udp PORT --sip-tcp PORT, or turn them off with --sip-udp off --sip-tcp off.'
      );
    if (msrp)
      return `cannot listen for MSRP on ${where}: the port ${why}. Choose another base port with --msrp-tcp PORT (worker i listens on PORT + i).`;
    return `cannot listen on ${where}: the port ${why}. Choose another with --port PORT.`;
  }
  return undefined;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error('gateway: failed to start:', error);
    process.exit(1);
  },
);
