// Interop tests need real binaries (kamailio, sipp, baresip, chromium). When one is missing the test
// must FAIL and say how to install it: a silently skipped interop suite looks green and proves nothing.

import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

const SETUP = 'bash scripts/setup.sh';

/** The apt-get line for each tool the tests use (scripts/setup.sh runs the same). */
export const INSTALL_HINTS: Readonly<Record<string, string>> = {
  kamailio:
    'apt-get install -y kamailio kamailio-websocket-modules kamailio-presence-modules kamailio-xml-modules',
  kamcmd: 'apt-get install -y kamailio',
  sipp: 'apt-get install -y sip-tester',
  baresip: 'apt-get install -y --no-install-recommends baresip-core',
  chromium: 'apt-get install -y chromium',
};

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of `name` on PATH (or `name` itself when it is an executable path), else null. */
export function findTool(name: string): string | null {
  if (name.includes('/')) return isExecutable(name) ? name : null;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '' && isAbsolute(dir));
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...dirs]) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function installMessage(what: string, installHint: string | undefined): string {
  const hint = installHint ?? 'see scripts/setup.sh';
  return `${what}. Install the test tools with \`${SETUP}\` (as root), or: ${hint}`;
}

/**
 * The absolute path of binary `name`; throws an Error that says how to install it when it is missing.
 * `installHint` defaults to the apt-get line in INSTALL_HINTS.
 */
export function requireTool(name: string, installHint: string | undefined = INSTALL_HINTS[name]): string {
  const path = findTool(name);
  if (path === null)
    throw new Error(installMessage(`Required tool "${name}" is not installed (not on PATH)`, installHint));
  return path;
}

/** Throws the same kind of Error when a file a tool needs (e.g. a Kamailio module) is missing. */
export function requireFile(path: string, installHint: string | undefined): string {
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new Error(installMessage(`Required file ${path} is missing`, installHint));
  }
  return path;
}
