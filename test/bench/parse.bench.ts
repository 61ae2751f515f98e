/**
 * `npm run bench:parse` — SIP parsers side by side, in one process.
 *
 *   1. load the adapters (ours may be unavailable: reported, the rest still runs)
 *   2. RFC 4475: classify the 49 torture messages, each parser in its own worker thread with a per-file time
 *      limit, so a parser that loops forever or brings its thread down costs one file, not the run
 *   3. check every adapter × mode on every corpus message (routing fields compared with the corpus's values);
 *      a cell that fails is reported and not timed
 *   4. warm up each cell, then 3 interleaved rounds of fixed-time runs (JsSIP, SIP.js, sip, drachtio-sip, ours,
 *      JsSIP, …) per mode; the median round is the cell's messages per CPU-second
 *   5. retained heap per message: 10,000 full-mode parses kept in an array, gc before and after (fewer, at
 *      least 1,000, for a parser that would need more than 4 s for 10,000 — SIP.js — to keep the run short)
 *   6. print the table, the ratios and the lead's targets; write test/bench/results/parse.json
 *
 * Inputs: the timed modes get `bytes.toString('latin1')` (the corpus is ASCII, so that is also its UTF-8
 * reading). For RFC 4475 the string-based parsers get the file's bytes as a latin1 string — one char per byte,
 * so Content-Length still counts bytes and NUL/non-UTF-8 octets survive — and ours gets the Buffer itself.
 *
 * BENCH_CELL_MS=200 shortens the timed cells for a quick smoke run (the numbers are then rougher).
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { INVOCATIONS, loadAdapter, PARSER_NAMES, type ParserName } from './adapters/index.ts';
import { AdapterUnavailableError, type ParserAdapter, type RoutingFields } from './adapters/types.ts';
import { corpus, type CorpusMessage } from './corpus.ts';
import { printTable } from './support/report.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RFC4475_DIR = path.resolve(REPO_ROOT, '../shared/conformance/rfc4475');
const RESULTS_FILE = path.join(REPO_ROOT, 'test/bench/results/parse.json');

const MODES = ['routing', 'full'] as const;
type Mode = (typeof MODES)[number];

const CELL_MS = Number(process.env.BENCH_CELL_MS ?? 1000) || 1000;
const WARMUP_MS = 400;
const ROUNDS = 5;
const HEAP_MESSAGES = 10_000;
/** A parser too slow to fully parse 10,000 messages in this time is measured over fewer (never under 1,000). */
const HEAP_BUDGET_MS = 4000;
const HEAP_MIN_MESSAGES = 1000;
/** Per RFC 4475 file; a parser that takes longer is classified `hang` and its worker is terminated. */
const FILE_TIMEOUT_MS = 5000;

const TARGETS = [
  { mode: 'full', against: 'JsSIP', atLeast: 10, label: 'full mode ≥ 10× JsSIP' },
  { mode: 'full', against: 'sip', atLeast: 1, label: 'full mode ≥ 1× npm sip' },
  { mode: 'routing', against: 'drachtio-sip', atLeast: 1, label: 'routing mode ≥ 1× drachtio-sip (lazy)' },
] as const satisfies readonly { mode: Mode; against: ParserName; atLeast: number; label: string }[];

// ---------------------------------------------------------------------------------------------------------
// RFC 4475 cases and their classification (runs in worker threads)

type Expectation = 'accept' | 'reject' | 'either';
type Outcome = 'accepted' | 'rejected' | 'hang' | 'crash';

interface TortureCase {
  readonly file: string;
  readonly section: string;
  readonly expected: Expectation;
}

interface FileClassification extends TortureCase {
  readonly outcome: Outcome;
  readonly correct: boolean;
  readonly detail?: string;
}

interface ClassifierData {
  readonly parser: ParserName;
  readonly dir: string;
  readonly files: readonly string[];
  readonly start: number;
}

type ClassifierMessage =
  | { readonly type: 'begin'; readonly index: number }
  | { readonly type: 'result'; readonly index: number; readonly accepted: boolean }
  | { readonly type: 'done' };

function readTortureCases(): TortureCase[] {
  const tsv = readFileSync(path.join(RFC4475_DIR, 'EXPECTED.tsv'), 'utf8');
  const cases: TortureCase[] = [];
  for (const line of tsv.split('\n').slice(1)) {
    if (line.trim() === '') continue;
    const [file, section, expected] = line.split('\t');
    if (
      file === undefined ||
      section === undefined ||
      (expected !== 'accept' && expected !== 'reject' && expected !== 'either')
    ) {
      throw new Error(`EXPECTED.tsv: cannot read line ${JSON.stringify(line)}`);
    }
    cases.push({ file, section, expected });
  }
  return cases;
}

function isCorrect(expected: Expectation, outcome: Outcome): boolean {
  switch (expected) {
    case 'accept':
      return outcome === 'accepted';
    case 'reject':
      return outcome === 'rejected';
    case 'either':
      return outcome === 'accepted' || outcome === 'rejected';
  }
}

/** Worker side: load one adapter, classify files from `start` on, announcing each file before touching it. */
async function classifierWorker(data: ClassifierData): Promise<void> {
  const port = parentPort!;
  const post = (message: ClassifierMessage): void => port.postMessage(message);
  const adapter = await loadAdapter(data.parser);
  for (let index = data.start; index < data.files.length; index++) {
    post({ type: 'begin', index });
    const bytes = readFileSync(path.join(data.dir, data.files[index]!));
    let accepted: boolean;
    try {
      accepted = adapter.accepts(bytes);
    } catch {
      accepted = false;
    }
    post({ type: 'result', index, accepted });
  }
  post({ type: 'done' });
}

/**
 * Node 20 does not carry the main thread's `--import tsx` hooks into worker threads, so each worker loads this
 * file through tsx's API. It runs the `classifierWorker` branch at the bottom of the file.
 */
const WORKER_BOOTSTRAP = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => tsx.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}));`;

/** Runs one worker from `start`; resolves with the index to resume from (files.length when finished). */
function runClassifier(
  parser: ParserName,
  cases: readonly TortureCase[],
  start: number,
  outcomes: Map<number, { outcome: Outcome; detail?: string }>,
): Promise<number> {
  return new Promise((resolve) => {
    const data: ClassifierData = { parser, dir: RFC4475_DIR, files: cases.map((c) => c.file), start };
    // The worker's stdout/stderr are piped to us (and dropped), so a library's logging cannot reach the report.
    const worker = new Worker(WORKER_BOOTSTRAP, {
      eval: true,
      workerData: data,
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    worker.stdout.resume();
    let stderr = '';
    worker.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString('utf8');
    });
    let current: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (next: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(next);
    };
    const died = (detail: string): void => {
      if (current === undefined) {
        // The worker died before its first file: loading failed, so every remaining file would fail alike.
        for (let i = start; i < cases.length; i++)
          outcomes.set(i, { outcome: 'crash', detail: `worker failed to start: ${detail}` });
        finish(cases.length);
      } else {
        if (!outcomes.has(current)) outcomes.set(current, { outcome: 'crash', detail });
        finish(current + 1);
      }
    };
    worker.on('message', (message: ClassifierMessage) => {
      switch (message.type) {
        case 'begin':
          current = message.index;
          clearTimeout(timer);
          timer = setTimeout(() => {
            outcomes.set(message.index, {
              outcome: 'hang',
              detail: `no answer within ${FILE_TIMEOUT_MS} ms; worker terminated`,
            });
            finish(message.index + 1);
          }, FILE_TIMEOUT_MS);
          break;
        case 'result':
          clearTimeout(timer);
          outcomes.set(message.index, { outcome: message.accepted ? 'accepted' : 'rejected' });
          break;
        case 'done':
          finish(cases.length);
          break;
      }
    });
    worker.on('error', (error) => died(String(error)));
    worker.on('exit', (code) => {
      if (!settled)
        died(`worker exited with code ${code}${stderr ? `: ${stderr.trim().split('\n')[0]}` : ''}`);
    });
  });
}

async function classify(parser: ParserName, cases: readonly TortureCase[]): Promise<FileClassification[]> {
  const outcomes = new Map<number, { outcome: Outcome; detail?: string }>();
  for (let next = 0; next < cases.length;) next = await runClassifier(parser, cases, next, outcomes);
  return cases.map((c, i) => {
    const { outcome, detail } = outcomes.get(i) ?? { outcome: 'crash' as const, detail: 'no result' };
    return {
      ...c,
      outcome,
      correct: isCorrect(c.expected, outcome),
      ...(detail === undefined ? {} : { detail }),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Corpus check

type CellStatus =
  | { readonly kind: 'ok' }
  | { readonly kind: 'unavailable'; readonly reason: string }
  | { readonly kind: 'corpus-failure'; readonly failures: readonly string[] };

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function routingMismatches(fields: RoutingFields, message: CorpusMessage): string[] {
  const e = message.expect;
  const pairs: [string, unknown, unknown][] = [
    ['method', fields.method, e.method],
    ['status', fields.status, e.status],
    ['viaBranch', fields.viaBranch, e.viaBranch],
    ['fromTag', fields.fromTag, e.fromTag],
    ['toTag', fields.toTag, e.toTag],
    ['callId', fields.callId, e.callId],
    ['cseq', fields.cseq, e.cseq],
    ['cseqMethod', fields.cseqMethod, e.cseqMethod],
    ['maxForwards', fields.maxForwards, e.maxForwards],
    ['contentLength', fields.contentLength, e.contentLength],
  ];
  if (fields.routeCount !== undefined) pairs.push(['routeCount', fields.routeCount, e.routeCount]);
  return pairs
    .filter(([, actual, expected]) => actual !== expected)
    .map(
      ([key, actual, expected]) => `${key} = ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`,
    );
}

function checkCell(adapter: ParserAdapter, mode: Mode): CellStatus {
  const failures: string[] = [];
  for (const message of corpus) {
    try {
      const result = adapter[mode](message.text);
      if (typeof result !== 'object' || result === null) {
        failures.push(`${message.name}: returned ${String(result)}`);
      } else if (mode === 'routing') {
        const mismatches = routingMismatches(result as RoutingFields, message);
        if (mismatches.length > 0) failures.push(`${message.name}: ${mismatches.join('; ')}`);
      }
    } catch (error) {
      if (error instanceof AdapterUnavailableError) return { kind: 'unavailable', reason: error.message };
      failures.push(`${message.name}: ${errorText(error)}`);
    }
  }
  return failures.length === 0 ? { kind: 'ok' } : { kind: 'corpus-failure', failures };
}

// ---------------------------------------------------------------------------------------------------------
// Timing and memory

/** Written on every call so no parse can be optimised away. */
let sink: unknown;

function gc(): void {
  (globalThis as { gc?: () => void }).gc!();
}

/**
 * Messages per CPU-second of `fn` cycling through `inputs` for about `ms` milliseconds of wall time. Parsing
 * is pure CPU work, so the process's CPU time (user + system, its GC and compiler threads included) is the
 * measure: time the process spent descheduled while other work ran on the machine does not count against
 * whichever parser happened to be running.
 */
function measure(fn: (raw: string) => unknown, inputs: readonly string[], ms: number): number {
  const batch = inputs.length * 2;
  let count = 0;
  let i = 0;
  const deadline = performance.now() + ms;
  const cpu = process.cpuUsage();
  do {
    for (let k = 0; k < batch; k++) {
      sink = fn(inputs[i]!);
      i = i + 1 === inputs.length ? 0 : i + 1;
    }
    count += batch;
  } while (performance.now() < deadline);
  const used = process.cpuUsage(cpu);
  return count / ((used.user + used.system) / 1e6);
}

/** Heap retained per fully parsed message: each input is a fresh string, as it would be off the wire. */
function retainedBytesPerMessage(adapter: ParserAdapter, count: number): number {
  const kept = new Array<unknown>(count).fill(null);
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) kept[i] = adapter.full(corpus[i % corpus.length]!.bytes.toString('latin1'));
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  sink = kept[count - 1];
  return (after - before) / count;
}

function heapMessageCount(fullMsgPerSec: number): number {
  return Math.min(
    HEAP_MESSAGES,
    Math.max(HEAP_MIN_MESSAGES, Math.round((fullMsgPerSec * HEAP_BUDGET_MS) / 1000)),
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------------------------
// Report

interface ParserReport {
  available: boolean;
  unavailableReason?: string;
  invocation: string;
  cells: Record<Mode, CellStatus>;
  rounds: Record<Mode, number[]>;
  msgPerSec: Record<Mode, number | null>;
  heapBytesPerMessage: number | null;
  heapMessages: number | null;
  rfc4475: FileClassification[] | null;
}

function fmtRate(value: number | null): string {
  return value === null ? '—' : Math.round(value).toLocaleString('en-US');
}

function fmtRatio(value: number | null): string {
  if (value === null) return '—';
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

function ratio(reports: Record<ParserName, ParserReport>, mode: Mode, against: ParserName): number | null {
  const ours = reports.ours.msgPerSec[mode];
  const theirs = reports[against].msgPerSec[mode];
  return ours === null || theirs === null ? null : ours / theirs;
}

function correctCount(files: readonly FileClassification[] | null): number | null {
  return files === null ? null : files.filter((f) => f.correct).length;
}

function cellNote(status: CellStatus): string | null {
  switch (status.kind) {
    case 'ok':
      return null;
    case 'unavailable':
      return `unavailable — ${status.reason}`;
    case 'corpus-failure':
      return `fails the corpus, not timed:\n      ${status.failures.join('\n      ')}`;
  }
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    throw new Error('run with --expose-gc: npm run bench:parse');
  }
  const started = performance.now();
  const phase = (what: string): void => {
    console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${what}`);
  };
  const loadBefore = os.loadavg()[0]!;
  const cases = readTortureCases();

  const adapters = new Map<ParserName, ParserAdapter>();
  const reports = {} as Record<ParserName, ParserReport>;
  for (const name of PARSER_NAMES) {
    const report: ParserReport = {
      available: false,
      invocation: INVOCATIONS[name],
      cells: {
        routing: { kind: 'unavailable', reason: 'not loaded' },
        full: { kind: 'unavailable', reason: 'not loaded' },
      },
      rounds: { routing: [], full: [] },
      msgPerSec: { routing: null, full: null },
      heapBytesPerMessage: null,
      heapMessages: null,
      rfc4475: null,
    };
    reports[name] = report;
    try {
      adapters.set(name, await loadAdapter(name));
      report.available = true;
    } catch (error) {
      if (!(error instanceof AdapterUnavailableError)) throw error;
      report.unavailableReason = error.message;
      report.cells = {
        routing: { kind: 'unavailable', reason: error.message },
        full: { kind: 'unavailable', reason: error.message },
      };
      console.log(`${name}: unavailable — ${error.message}`);
    }
  }

  phase(
    `RFC 4475: classifying ${cases.length} files per parser (worker threads, ${FILE_TIMEOUT_MS / 1000} s limit per file)`,
  );
  await Promise.all(
    [...adapters.keys()].map(async (name) => {
      reports[name].rfc4475 = await classify(name, cases);
    }),
  );

  phase(
    `Corpus: ${corpus.length} messages (${corpus.map((m) => m.bytes.length).join('/')} bytes); checking every adapter × mode`,
  );
  const cells: { name: ParserName; mode: Mode; adapter: ParserAdapter }[] = [];
  for (const [name, adapter] of adapters) {
    for (const mode of MODES) {
      const status = checkCell(adapter, mode);
      reports[name].cells[mode] = status;
      if (status.kind === 'ok') cells.push({ name, mode, adapter });
      else console.log(`  ${name} ${mode}: ${status.kind} (details below the table)`);
    }
  }

  const inputs = corpus.map((m) => m.text);
  phase(
    `Timing ${cells.length} cells: ${WARMUP_MS} ms warm-up each, then ${ROUNDS} interleaved rounds of ${CELL_MS} ms`,
  );
  for (const cell of cells) measure(cell.adapter[cell.mode], inputs, WARMUP_MS);
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of MODES) {
      for (const cell of cells.filter((c) => c.mode === mode)) {
        gc();
        reports[cell.name].rounds[mode].push(measure(cell.adapter[mode], inputs, CELL_MS));
      }
    }
  }
  for (const cell of cells)
    reports[cell.name].msgPerSec[cell.mode] = median(reports[cell.name].rounds[cell.mode]);

  phase('Retained heap per message (full mode)');
  for (const cell of cells.filter((c) => c.mode === 'full')) {
    const report = reports[cell.name];
    report.heapMessages = heapMessageCount(report.msgPerSec.full!);
    report.heapBytesPerMessage = retainedBytesPerMessage(cell.adapter, report.heapMessages);
    if (report.heapMessages < HEAP_MESSAGES) {
      console.log(
        `  ${cell.name}: over ${report.heapMessages.toLocaleString('en-US')} messages (${HEAP_MESSAGES.toLocaleString('en-US')} would take over ${HEAP_BUDGET_MS / 1000} s)`,
      );
    }
  }

  // ------------------------------------------------------------------ print
  console.log('');
  const oursCorrect = correctCount(reports.ours.rfc4475);
  printTable(
    [
      'parser',
      'routing msg/cpu-s',
      'full msg/cpu-s',
      'ours/x routing',
      'ours/x full',
      'heap B/msg',
      `RFC 4475 /${cases.length}`,
    ],
    PARSER_NAMES.map((name) => {
      const r = reports[name];
      const correct = correctCount(r.rfc4475);
      return [
        name === 'drachtio-sip' ? 'drachtio-sip (lazy / full)' : name,
        fmtRate(r.msgPerSec.routing),
        fmtRate(r.msgPerSec.full),
        name === 'ours' ? '' : fmtRatio(ratio(reports, 'routing', name)),
        name === 'ours' ? '' : fmtRatio(ratio(reports, 'full', name)),
        r.heapBytesPerMessage === null ? '—' : Math.round(r.heapBytesPerMessage).toLocaleString('en-US'),
        correct === null ? '—' : String(correct),
      ];
    }),
    new Set([1, 2, 3, 4, 5, 6]),
  );
  for (const name of PARSER_NAMES) {
    const r = reports[name];
    if (!r.available) console.log(`${name}: unavailable — ${r.unavailableReason}`);
    else
      for (const mode of MODES) {
        const note = cellNote(r.cells[mode]);
        if (note !== null) console.log(`${name} ${mode}: ${note}`);
      }
  }

  const wrong = cases
    .map((c, i) => ({ c, i }))
    .filter(({ i }) => PARSER_NAMES.some((name) => reports[name].rfc4475?.[i]?.correct === false));
  if (wrong.length > 0) {
    console.log(
      '\nRFC 4475 files some parser gets wrong (A accepted, R rejected, H hang, C crash; * = wrong):',
    );
    const mark = (f: FileClassification | undefined): string =>
      f === undefined ? '—' : `${f.outcome[0]!.toUpperCase()}${f.correct ? ' ' : '*'}`;
    printTable(
      ['file', 'expected', ...PARSER_NAMES],
      wrong.map(({ c, i }) => [
        c.file,
        c.expected,
        ...PARSER_NAMES.map((name) => mark(reports[name].rfc4475?.[i])),
      ]),
      new Set(),
    );
  }

  const fullJs = ratio(reports, 'full', 'JsSIP');
  const fullSip = ratio(reports, 'full', 'sip');
  const routingDrachtio = ratio(reports, 'routing', 'drachtio-sip');
  const headline = `full: ours/JsSIP = ${fmtRatio(fullJs)}, ours/sip = ${fmtRatio(fullSip)}; routing: ours/drachtio(lazy) = ${fmtRatio(routingDrachtio)}`;
  console.log(`\n${'═'.repeat(headline.length)}\n${headline}\n${'═'.repeat(headline.length)}`);
  const notMeasured = (mode: Mode, against: ParserName): string => {
    const missing = (['ours', against] as const).filter((name) => reports[name].msgPerSec[mode] === null);
    return missing.length === 0
      ? ''
      : ` (not measured: ${missing.map((name) => `${name} ${mode}`).join(', ')})`;
  };
  const targets = [
    ...TARGETS.map((t) => {
      const value = ratio(reports, t.mode, t.against);
      return {
        target: t.label,
        value,
        pass: value !== null && value >= t.atLeast,
        shown: fmtRatio(value),
        note: notMeasured(t.mode, t.against),
      };
    }),
    {
      target: `RFC 4475 correctness ${cases.length}/${cases.length}`,
      value: oursCorrect,
      pass: oursCorrect === cases.length,
      shown: oursCorrect === null ? '—' : `${oursCorrect}/${cases.length}`,
      note: oursCorrect === null ? ' (ours unavailable)' : '',
    },
  ];
  for (const t of targets) console.log(`  [${t.pass ? 'PASS' : 'FAIL'}] ${t.target}: ${t.shown}${t.note}`);
  const loadAfter = os.loadavg()[0]!;
  if (Math.max(loadBefore, loadAfter) > os.cpus().length / 2) {
    console.log(
      `\nNote: 1-min load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} on ${os.cpus().length} CPUs; other work competed for the CPU, CPU time is measured, but shared caches still add noise (every round is in the JSON).`,
    );
  }

  // ------------------------------------------------------------------ JSON
  const results = {
    timestamp: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpuCount: os.cpus().length,
    platform: `${os.platform()} ${os.arch()}`,
    loadAverage1m: { before: loadBefore, after: loadAfter },
    method: {
      cellMs: CELL_MS,
      warmupMs: WARMUP_MS,
      rounds: ROUNDS,
      statistic: 'median of the interleaved rounds, in messages per CPU-second of the process',
      heapMessages: `${HEAP_MESSAGES}, or fewer (min ${HEAP_MIN_MESSAGES}) for a parser that would need over ${HEAP_BUDGET_MS} ms; see parsers.*.heapMessages`,
      heapMethod:
        'full mode on fresh latin1 strings, results kept in a preallocated array; (heapUsed after gc − heapUsed before gc) / count',
      input:
        'timed modes: corpus bytes as a latin1 string (ASCII corpus); RFC 4475: latin1 string for the string parsers, the Buffer for ours',
      oursBuild:
        'web/src/sip bundled by esbuild (esm, target node20, not minified), as the app and gateway builds ship it',
      rfc4475Accepts:
        'full-mode parse and decode succeeds (for ours: parseMessage(buffer, { lazy: false }) returns a message)',
      rfc4475Dir: RFC4475_DIR,
      fileTimeoutMs: FILE_TIMEOUT_MS,
    },
    corpus: corpus.map((m) => ({ name: m.name, bytes: m.bytes.length })),
    parsers: Object.fromEntries(
      PARSER_NAMES.map((name) => {
        const r = reports[name];
        const files = r.rfc4475;
        return [
          name,
          {
            available: r.available,
            ...(r.unavailableReason === undefined ? {} : { unavailableReason: r.unavailableReason }),
            invocation: r.invocation,
            routing: { msgPerSec: r.msgPerSec.routing, rounds: r.rounds.routing, status: r.cells.routing },
            full: { msgPerSec: r.msgPerSec.full, rounds: r.rounds.full, status: r.cells.full },
            ratioOursOverThis:
              name === 'ours'
                ? null
                : { routing: ratio(reports, 'routing', name), full: ratio(reports, 'full', name) },
            heapBytesPerMessage: r.heapBytesPerMessage,
            heapMessages: r.heapMessages,
            rfc4475:
              files === null
                ? null
                : {
                    correct: correctCount(files),
                    total: files.length,
                    accepted: files.filter((f) => f.outcome === 'accepted').length,
                    rejected: files.filter((f) => f.outcome === 'rejected').length,
                    hangs: files.filter((f) => f.outcome === 'hang').length,
                    crashes: files.filter((f) => f.outcome === 'crash').length,
                    files,
                  },
          },
        ];
      }),
    ),
    ratios: {
      fullOursOverJsSIP: fullJs,
      fullOursOverSip: fullSip,
      routingOursOverDrachtioLazy: routingDrachtio,
    },
    targets: targets.map(({ target, value, pass, note }) => ({
      target,
      value,
      pass,
      ...(note === '' ? {} : { note: note.trim() }),
    })),
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
  };
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nWrote ${path.relative(REPO_ROOT, RESULTS_FILE)} (${results.durationSeconds} s)`);
  void sink;
}

if (isMainThread) await main();
else await classifierWorker(workerData as ClassifierData);
