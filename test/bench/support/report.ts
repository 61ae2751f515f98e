/** What the benchmarks share besides /proc (./proc.ts): knobs from the environment, waiting, the console table. */

/** A numeric knob from the environment (BENCH_…), or `fallback` when it is unset, empty or not a number. */
export function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  const v = Number(text);
  return text !== undefined && text !== '' && Number.isFinite(v) ? v : fallback;
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A plain-text table on stdout: columns padded to their widest cell, `rightAlign` columns right-aligned. */
export function printTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  rightAlign: ReadonlySet<number>,
): void {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (rightAlign.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join(' │ ');
  console.log(line(headers));
  console.log(widths.map((w) => '─'.repeat(w)).join('─┼─'));
  for (const row of rows) console.log(line(row));
}
