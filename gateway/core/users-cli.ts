/**
 * `npm run user -- add alice secret`, `npm run user -- remove alice`, `npm run user -- list`: the users of the
 * embedded core (users.json in the data directory, HA1s only). `--data-dir` and `--domain` (or GATEWAY_DATA_DIR
 * and GATEWAY_DOMAIN) must match what the gateway runs with; the defaults match `npm start` (./data, localhost).
 * A running gateway sees the change at the next REGISTER (it re-reads the file when it changed).
 */
import { parseArgs } from 'node:util';

import { URI_LIST_USER } from './uri-list.ts';
import { UsersFile, UsersFileError, isValidUserName } from './users.ts';

const USAGE = `Usage: npm run user -- <command> [--data-dir DIR] [--domain DOMAIN]

  add NAME PASSWORD   add a user or change their password (the file keeps only hashes)
  remove NAME         remove a user
  list                list the users

  --data-dir DIR      the gateway's data directory [./data]  (GATEWAY_DATA_DIR)
  --domain DOMAIN     the SIP domain (digest realm) [localhost] (GATEWAY_DOMAIN)
`;

export function runUsersCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'data-dir': { type: 'string' },
        domain: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    err(`user: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length === 0) {
    (values.help === true ? out : err)(USAGE);
    return values.help === true ? 0 : 2;
  }
  const dataDir = values['data-dir'] ?? (env.GATEWAY_DATA_DIR || './data');
  const domain = values.domain ?? (env.GATEWAY_DOMAIN || 'localhost');
  let users: UsersFile;
  try {
    users = UsersFile.open(dataDir, domain);
  } catch (error) {
    if (error instanceof UsersFileError) {
      err(`user: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const [command, name, password, ...extra] = positionals;
  switch (command) {
    case 'add': {
      if (name === undefined || password === undefined || extra.length > 0) {
        err(`user: add takes NAME and PASSWORD\n\n${USAGE}`);
        return 2;
      }
      if (!isValidUserName(name)) {
        err(`user: "${name}" is not a valid user name (letters, digits, . _ ~ + -; up to 64 characters)`);
        return 2;
      }
      if (name.toLowerCase() === URI_LIST_USER) {
        err(
          `user: "${name}" is reserved: sip:${URI_LIST_USER}@${domain} is the group-message (URI-list) service`,
        );
        return 2;
      }
      if (password === '') {
        err('user: the password is empty');
        return 2;
      }
      const existed = users.has(name);
      users.set(name, password);
      out(`${existed ? 'changed' : 'added'} sip:${name}@${domain} (${users.path})`);
      return 0;
    }
    case 'remove': {
      if (name === undefined || password !== undefined) {
        err(`user: remove takes NAME\n\n${USAGE}`);
        return 2;
      }
      if (!users.remove(name)) {
        err(`user: no user "${name}"`);
        return 1;
      }
      out(`removed sip:${name}@${domain}`);
      return 0;
    }
    case 'list': {
      for (const user of users.list()) out(`sip:${user}@${domain}`);
      return 0;
    }
    case undefined:
    default:
      err(`user: unknown command "${command ?? ''}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  // A command-line entry point (a composition root): the terminal is its output.
  process.exitCode = runUsersCli(
    process.argv.slice(2),
    process.env,
    (line) => process.stdout.write(`${line}\n`),
    (line) => process.stderr.write(`${line}\n`),
  );
}
