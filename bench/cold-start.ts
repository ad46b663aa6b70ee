/**
 * Bench: cold start, the module load of each entry point (target for the
 * checker: ≤ 300 ms). Every function instance loads the same module,
 * build/functions/index.js, which registers all three functions; what differs
 * is FUNCTION_TARGET and what each invocation then loads (functions/container.ts
 * loads adapters and SDKs when first needed).
 *
 * Measured on the compiled build, as production runs it (`npm run compile`,
 * here into a temporary directory, so tsx's transpiling does not count), each
 * figure the median of several fresh `node` processes, run round-robin so the
 * machine's noise spreads over all of them. In each process: the time to
 * `require` the entry module (this includes the Functions Framework and the
 * Express it wraps, json-errors.ts; in production the framework has loaded
 * them before the module, so the module's own share is smaller still).
 *
 * Baseline, same run: the entry module plus every adapter and service the
 * container used to import at module load, i.e. every SDK, as every entry
 * point loaded before (what `main` did before entry points loaded
 * their SDKs lazily).
 *
 *   node --import tsx bench/cold-start.ts [--repetitions N] [--build DIR]
 *
 * `--build DIR`: an existing build (the output of `tsc -p tsconfig.build.json`,
 * with functions/ in it) instead of compiling one.
 */
import {spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The target for the checker's module load, in ms. */
export const CHECKER_TARGET_MS = 300;

export interface ColdStartRow {
  name: string;
  /** Median module load, ms. */
  value: number;
  /** ms; null where the issue sets none. */
  target: number | null;
  /** Median of the baseline (every SDK loaded at module load, as before), ms. */
  baseline: number;
  /** value ÷ baseline. */
  ratio: number;
  /** value ≤ target; null without a target. */
  pass: boolean | null;
  unit: 'ms';
  /** Median CPU time (user + system, all threads) of the same loading, ms. */
  cpu: number;
  /** The baseline's, ms. */
  baselineCpu: number;
  /** The SDK packages the measured processes had loaded. */
  sdks: string[];
}

export interface ColdStartOptions {
  /** Processes per figure (default 7). */
  repetitions?: number;
  /** An existing build directory (with functions/index.js); compiled into a temp dir if absent. */
  buildDir?: string;
  log?: (line: string) => void;
}

const ROOT = path.join(__dirname, '..');

/** The SDK packages the adapters use. */
const SDKS = [
  '@google-cloud/pubsub',
  '@google-cloud/secret-manager',
  '@google-cloud/storage',
  '@sendgrid/client',
  '@sendgrid/mail',
  'purecloud-platform-client-v2',
];

/** Every module the container imported at module load before entry points loaded their SDKs lazily (the baseline). */
const EAGER = [
  'adapters/gcs',
  'adapters/genesys',
  'adapters/media',
  'adapters/pubsub',
  'adapters/secrets',
  'adapters/sendgrid',
  'services/checker',
  'services/exporter',
  'services/planner',
  'services/worker',
];

/** A valid configuration, so loading logs no configuration error; nothing is contacted. */
const CONFIG_ENV = {
  GOOGLE_CLOUD_PROJECT: 'bench',
  EXPORT_ENV: 'bench',
  BUCKET: 'bench',
  DEVELOPER_EMAILS: 'developers@example.com',
  MAIL_FROM: 'archive@example.com',
  METADATA_SERVER_DETECTION: 'none',
};

type Mode = 'entry' | 'eager' | 'checker-first' | 'framework';

interface Case {
  key: string;
  mode: Mode;
  target: string;
}

/**
 * What each child process runs: loads what `mode` says, prints
 * {ms, sdks}. `ms` covers only the loading, not node's own start.
 */
const CHILD = `
const path = require('node:path');
const {MODE, DIR, EAGER} = process.env;
const fn = m => path.join(DIR, 'functions', m + '.js');
const now = () => process.hrtime.bigint();
(async () => {
  const start = now();
  const cpu0 = process.cpuUsage();
  if (MODE === 'framework') {
    const {createRequire} = require('node:module');
    require('@google-cloud/functions-framework');
    createRequire(require.resolve('@google-cloud/functions-framework'))('express');
  } else {
    require(fn('index'));
    if (MODE === 'eager') for (const m of EAGER.split(',')) require(fn(m));
    if (MODE === 'checker-first') await require(fn('container')).container().checker();
  }
  const ms = Number(now() - start) / 1e6;
  const used = process.cpuUsage(cpu0);
  const cpuMs = (used.user + used.system) / 1000;
  const files = Object.keys(require.cache);
  const sdks = JSON.parse(process.env.SDKS).filter(p => files.some(f => f.includes('/node_modules/' + p + '/')));
  process.stdout.write('cold-start ' + JSON.stringify({ms, cpuMs, sdks}) + '\\n');
})().catch(err => { console.error(err); process.exit(1); });
`;

interface Sample {
  ms: number;
  cpuMs: number;
  sdks: string[];
}

function runChild(dir: string, c: Case): Sample {
  const res = spawnSync(process.execPath, ['-e', CHILD], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      ...CONFIG_ENV,
      FUNCTION_TARGET: c.target,
      MODE: c.mode,
      DIR: dir,
      EAGER: EAGER.join(','),
      SDKS: JSON.stringify(SDKS),
    },
    encoding: 'utf8',
  });
  const line = res.stdout.split('\n').find(l => l.startsWith('cold-start '));
  if (res.status !== 0 || !line) {
    throw new Error(`cold-start child (${c.key}) failed: ${res.stderr.slice(-2000)}`);
  }
  return JSON.parse(line.slice('cold-start '.length)) as Sample;
}

/** Compiles functions/ into `dir` as `npm run compile` does, with the repo's node_modules linked. */
function compile(dir: string): void {
  const tsc = require.resolve('typescript/bin/tsc');
  const res = spawnSync(
    process.execPath,
    [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', dir],
    {encoding: 'utf8'},
  );
  if (res.status !== 0) throw new Error(`tsc failed: ${res.stdout}${res.stderr}`);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function coldStartBench(opts: ColdStartOptions = {}): Promise<ColdStartRow[]> {
  const repetitions = opts.repetitions ?? 7;
  const log = opts.log ?? (() => {});
  let tmp: string | undefined;
  let dir = opts.buildDir ? path.resolve(opts.buildDir) : undefined;
  if (!dir) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-cold-start-'));
    dir = tmp;
    log('compiling functions/ (tsc -p tsconfig.build.json) into a temporary directory');
    compile(dir);
  }
  if (!fs.existsSync(path.join(dir, 'functions', 'index.js'))) {
    throw new Error(`${dir} holds no functions/index.js: compile first`);
  }
  try {
    const cases: Case[] = [
      {key: 'checkDay', mode: 'entry', target: 'checkDay'},
      {key: 'exportBatch', mode: 'entry', target: 'exportBatch'},
      {key: 'planExport', mode: 'entry', target: 'planExport'},
      {key: 'checker-first', mode: 'checker-first', target: 'checkDay'},
      {key: 'framework', mode: 'framework', target: 'checkDay'},
      {key: 'eager', mode: 'eager', target: 'checkDay'},
    ];
    const samples = new Map<string, Sample[]>(cases.map(c => [c.key, []]));
    runChild(dir, cases[0]!); // warms the file cache, not counted
    for (let r = 0; r < repetitions; r++) {
      for (const c of cases) {
        samples.get(c.key)!.push(runChild(dir, c));
      }
    }
    const wall = (key: string) => median(samples.get(key)!.map(x => x.ms));
    const cpu = (key: string) => median(samples.get(key)!.map(x => x.cpuMs));
    const baseline = wall('eager');
    const row = (key: string, name: string, target: number | null): ColdStartRow => {
      const value = wall(key);
      return {
        name,
        value: Math.round(value),
        target,
        baseline: Math.round(baseline),
        ratio: Number((value / baseline).toFixed(2)),
        pass: target === null ? null : value <= target,
        unit: 'ms',
        cpu: Math.round(cpu(key)),
        baselineCpu: Math.round(cpu('eager')),
        sdks: samples.get(key)!.at(-1)!.sdks,
      };
    };
    return [
      row('checkDay', 'cold start, checker (checkDay): module load', CHECKER_TARGET_MS),
      row('exportBatch', 'cold start, worker (exportBatch): module load', null),
      row('planExport', 'cold start, planner (planExport): module load', null),
      row(
        'checker-first',
        "checker's first plan or report event: module load + Storage and the checker",
        null,
      ),
      row('framework', 'Functions Framework + Express alone (the runtime loads them anyway)', null),
    ];
  } finally {
    if (tmp) fs.rmSync(tmp, {recursive: true, force: true});
  }
}

/** The rows as a table, for a person. */
export function formatColdStart(rows: ColdStartRow[]): string[] {
  const base = rows[0]
    ? `every SDK loaded as before: ${rows[0].baseline} ms, CPU ${rows[0].baselineCpu} ms`
    : '';
  return [
    `Cold start, module load per entry point (median; baseline = ${base})`,
    ...rows.map(
      r =>
        `  ${r.name}: ${r.value} ms (CPU ${r.cpu} ms)` +
        (r.target === null ? '' : ` (target ≤ ${r.target} ms: ${r.pass ? 'pass' : 'MISS'})`) +
        `, ratio ${r.ratio.toFixed(2)}; SDKs loaded: ${r.sdks.length ? r.sdks.join(', ') : 'none'}`,
    ),
  ];
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const reps = arg('--repetitions');
  coldStartBench({
    ...(reps ? {repetitions: Number(reps)} : {}),
    ...(arg('--build') ? {buildDir: arg('--build')!} : {}),
    log: line => console.log(line),
  })
    .then(rows => {
      for (const line of formatColdStart(rows)) console.log(line);
      console.log(
        '\n' +
          JSON.stringify({os: `${os.cpus().length} cores`, node: process.version, coldStart: rows}),
      );
    })
    .catch(err => {
      console.error(`cold-start bench: ${err instanceof Error ? err.stack : String(err)}`);
      process.exitCode = 1;
    });
}
