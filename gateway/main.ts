/**
 * The gateway's composition root: `npm run gateway -- --upstream sip:PBX:5060 …` (`--help` for every flag).
 * Parses flags and environment, creates the logger, starts the gateway, and stops it gracefully on SIGINT or
 * SIGTERM (a second signal exits at once). The gateway runs as a single process (no node:cluster).
 */
import pino from 'pino';

import { ConfigError, helpText, parseConfig } from './config.ts';
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
  const config = parsed.config;
  const log = pino({ level: config.logLevel, base: { service: 'gateway' } });
  const gateway = await startGateway(config, { log });

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
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return -1;
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
