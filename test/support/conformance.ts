import { readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/conformance beside the project root (see ../shared/conformance/README.md). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const conformanceDir = resolve(repoRoot, '../shared/conformance/rfc4475');

export interface TortureCase {
  file: string;
  section: string;
  parse: 'accept' | 'reject' | 'either';
  uas: string;
  what: string;
  bytes: Uint8Array;
}

/** All RFC 4475 torture messages with their expected outcomes, read as bytes. */
export function loadTortureCases(): TortureCase[] {
  const rows = readFileSync(resolve(conformanceDir, 'EXPECTED.tsv'), 'utf8').trim().split('\n').slice(1);
  const cases = rows.map((row): TortureCase => {
    const [file = '', section = '', parse = '', uas = '', what = ''] = row.split('\t');
    if (parse !== 'accept' && parse !== 'reject' && parse !== 'either')
      throw new Error(`bad EXPECTED.tsv row: ${row}`);
    return {
      file,
      section,
      parse,
      uas,
      what,
      bytes: new Uint8Array(readFileSync(resolve(conformanceDir, file))),
    };
  });
  const onDisk = readdirSync(conformanceDir).filter((f) => f.endsWith('.dat'));
  if (onDisk.length !== cases.length)
    throw new Error(`EXPECTED.tsv lists ${cases.length} files, ${onDisk.length} on disk`);
  return cases;
}
