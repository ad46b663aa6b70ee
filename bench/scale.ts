/**
 * Bench: the planner and the checker at 1k, 10k, 100k and 1M conversations a day.
 *
 *   node --import tsx bench/scale.ts [--quick] [--sizes 1000,10000] [--only planner|checker]
 *                                    [--json FILE]
 *
 * `scaleBench()` returns the rows ({name, value, target, baseline, ratio,
 * pass}) for bench/run.ts; run alone, it prints them and their JSON.
 *
 * Planner: the real planner function (its own Functions Framework process, as
 * in production) on the local stack, planning one day of N conversations of
 * the Genesys simulator for real: discovery (analytics job, cursor pages of
 * 1,000), the plan (and its parts) written to the GCS emulator, every batch
 * message published to the Pub/Sub emulator. The planner process is started
 * afresh for each size; its peak RSS is VmHWM from /proc. Target: ≤ 512 MiB at
 * 1M (the planner function has 1 GiB). Time baseline: reading the same
 * analytics job's pages through the SDK and nothing else. The Genesys request
 * budget is lifted (GENESYS_TOKEN_/CLIENT_REQUESTS_PER_MINUTE and the simulator's limits):
 * this measures the planner, not the pacing.
 *
 * Checker: the checker deciding a day of N conversations (N/100 batch reports,
 * one recording per conversation), in a child process of its own, against a
 * synthetic bucket that generates every object when it is read (a 1M day in
 * the GCS emulator would be a million files). Time baseline: listing and
 * reading the same reports, 16 at a time, and listing the day's recording
 * folders through the same store, and nothing else. Memory: the child's peak
 * RSS (VmHWM) while deciding, the child run with a V8 heap of
 * CHECKER_HEAP_MIB; target ≤ 512 MiB, half the checker function's 1 GiB (a
 * function process also holds the Functions Framework and its clients, some
 * 100 MB more than this child). Every size runs without conversation
 * attributes, and the largest again with 6 participants per conversation.
 *
 * `--quick` stops at 10k (well under a minute).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import platformClient from 'purecloud-platform-client-v2';
import {readJobPages as readPages} from './jobs';
import {startStack} from '../local/stack';
import {productEnv, productFunctions, productSecrets} from '../local/product';
import {callPlanner} from '../local/run-day';
import {addDays, defaultDay} from '../functions/core/time-window';
import {spawnChild, tsNode} from '../local/common/processes';

const MiB = 1024 * 1024;
export const SIZES = [1_000, 10_000, 100_000, 1_000_000];
export const QUICK_SIZES = [1_000, 10_000];
/** The planner function's memory is 1 GiB; the target leaves half of it free. */
const PLANNER_TARGET_BYTES = 512 * MiB;
/** Half the checker function's memory (infra/functions.tf): what a large day may take. */
const CHECKER_TARGET_BYTES = 512 * MiB;
/** The checker child's V8 heap limit (--max-old-space-size), within that target. */
const CHECKER_HEAP_MIB = 256;
/** The planner function's timeout (infra/functions.tf). */
const PLANNER_TIMEOUT_MS = 1800_000;
/** The checker function's timeout (infra/functions.tf). */
const CHECKER_TIMEOUT_MS = 540_000;

import type {TextRow as BenchRow} from './rows';
export type {BenchRow};

/** Peak resident memory of a process, from /proc (Linux). */
export function peakRssBytes(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function time<T>(fn: () => Promise<T>): Promise<{ms: number; value: T}> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return {ms: Number(process.hrtime.bigint() - start) / 1e6, value};
}

const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

/** Reads an analytics job's pages through the SDK and nothing else (the planner's time baseline). */
async function readJobPages(genesysUrl: string, day: string): Promise<number> {
  const client = new platformClient.ApiClientClass();
  client.setGateway({host: '127.0.0.1', protocol: 'http', port: Number(new URL(genesysUrl).port)});
  await client.loginClientCredentialsGrant('demo-client', 'demo-secret');
  const analytics = new platformClient.AnalyticsApi(client);
  return (await readPages(analytics, day)).conversations;
}

export async function plannerScale(
  sizes: number[],
  dir: string,
  log: (line: string) => void = console.log,
): Promise<BenchRow[]> {
  const today = defaultDay(Date.now(), 'UTC', 0);
  const days = sizes.map((_, i) => addDays(today, -5 - i));
  const warmDay = addDays(today, -5 - sizes.length);
  const stack = await startStack({
    root: path.join(dir, 'scale-stack'),
    functions: {planner: productFunctions().planner!},
    secrets: productSecrets(),
    functionEnv: productEnv({
      GENESYS_TOKEN_REQUESTS_PER_MINUTE: '100000',
      GENESYS_CLIENT_REQUESTS_PER_MINUTE: '1000000',
    }),
    genesys: {
      seed: 'scale',
      conversationsPerDay: 10,
      perDay: Object.fromEntries(days.map((d, i) => [d, sizes[i]!])),
      settings: {rateLimitPerMinute: 1_000_000, jobQueuedMs: 0, jobPendingMs: 0},
    },
  });
  const rows: BenchRow[] = [];
  try {
    const planner = stack.functions.planner!;
    for (const [i, n] of sizes.entries()) {
      const day = days[i]!;
      // A fresh planner process per size, warmed by planning a 10-conversation day (every
      // client it uses is loaded and connected: the figure is what the day adds).
      const old = planner.pid;
      planner.kill('SIGKILL');
      while (planner.pid === old) await new Promise(r => setTimeout(r, 50));
      await planner.serving();
      const warm = await callPlanner(stack, {day: warmDay});
      if (warm.status >= 300) throw new Error(`warm-up: HTTP ${warm.status}`);
      const idle = peakRssBytes(planner.pid!);
      const planned = await time(() => callPlanner(stack, {day}));
      const peak = peakRssBytes(planner.pid!);
      const body = planned.value.body as {days?: Array<{conversations: number; published: number}>};
      if (planned.value.status !== 202 || body.days?.[0]?.conversations !== n)
        throw new Error(
          `planning ${n}: HTTP ${planned.value.status} ${JSON.stringify(body).slice(0, 300)}`,
        );
      const read = await time(() => readJobPages(stack.genesysUrl, day));
      log(
        `  planner ${label(n)}: ${seconds(planned.ms)} (${body.days[0]!.published} batches published; job pages alone ${seconds(read.ms)}), peak RSS ${mib(peak)} (idle ${mib(idle)})`,
      );
      rows.push({
        name: `planner, ${label(n)} conversations: time`,
        value: seconds(planned.ms),
        target: `≤ ${seconds(PLANNER_TIMEOUT_MS)} (timeout)`,
        baseline: `${seconds(read.ms)} (reading the job's pages)`,
        ratio: (planned.ms / read.ms).toFixed(2),
        pass: planned.ms <= PLANNER_TIMEOUT_MS,
      });
      rows.push({
        name: `planner, ${label(n)} conversations: peak RSS`,
        value: mib(peak),
        target: `≤ ${mib(PLANNER_TARGET_BYTES)}`,
        baseline: `${mib(idle)} (idle, warmed)`,
        ratio: (peak / idle).toFixed(2),
        pass: peak <= PLANNER_TARGET_BYTES,
      });
    }
  } finally {
    await stack.stop();
  }
  return rows;
}

/** Participants per conversation in the checker's realistic-attributes rows (the recordings index's columns). */
const REALISTIC_PARTICIPANTS = 6;

export async function checkerScale(
  sizes: number[],
  dir: string,
  log: (line: string) => void = console.log,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // Every size without conversation attributes (comparable with earlier runs), and the largest
  // again with REALISTIC_PARTICIPANTS participants per conversation.
  const runs = [
    ...sizes.map(n => ({n, participants: 0})),
    {n: Math.max(...sizes), participants: REALISTIC_PARTICIPANTS},
  ];
  for (const {n, participants} of runs) {
    const node = tsNode(path.join(__dirname, 'scale-checker.ts'), [
      String(n),
      String(participants),
    ]);
    const command = node.command;
    const args = [`--max-old-space-size=${CHECKER_HEAP_MIB}`, ...node.args];
    const child = spawnChild({
      name: `scale-checker-${n}-${participants}`,
      command,
      args,
      logDir: dir,
    });
    const out = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.proc.stdout!.on('data', (b: Buffer) => (text += b.toString()));
      child.proc.once('exit', code =>
        code === 0 ? resolve(text) : reject(new Error(`checker child for ${n} exited ${code}`)),
      );
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as {
      decideMs: number;
      baselineMs: number;
      peakBytes: number;
      idleBytes: number;
      status: string;
      indexBytes: number;
      recordsBytes: number;
    };
    const what = participants > 0 ? `${label(n)} (${participants} participants each)` : label(n);
    log(
      `  checker ${what}: ${seconds(r.decideMs)} (${r.status}; reading alone ${seconds(r.baselineMs)}), peak RSS ${mib(r.peakBytes)} (store ready ${mib(r.idleBytes)}), recordings index ${mib(r.indexBytes)} and decided records ${mib(r.recordsBytes)} streamed`,
    );
    rows.push({
      name: `checker deciding ${what} conversations: time`,
      value: seconds(r.decideMs),
      target: `≤ ${seconds(CHECKER_TIMEOUT_MS)} (timeout)`,
      baseline: `${seconds(r.baselineMs)} (reading reports and listing)`,
      ratio: (r.decideMs / r.baselineMs).toFixed(2),
      pass: r.decideMs <= CHECKER_TIMEOUT_MS,
    });
    rows.push({
      name: `checker deciding ${what} conversations: peak RSS`,
      value: mib(r.peakBytes),
      target: `≤ ${mib(CHECKER_TARGET_BYTES)}`,
      baseline: `${mib(r.idleBytes)} (before deciding)`,
      ratio: (r.peakBytes / r.idleBytes).toFixed(2),
      pass: r.peakBytes <= CHECKER_TARGET_BYTES,
    });
  }
  return rows;
}

/** Both parts; `quick` stops at 10k. */
export async function scaleBench(
  opts: {
    quick?: boolean;
    sizes?: number[];
    only?: 'planner' | 'checker';
    dir?: string;
    log?: (line: string) => void;
  } = {},
): Promise<BenchRow[]> {
  const sizes = opts.sizes ?? (opts.quick ? QUICK_SIZES : SIZES);
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'grm-scale-'));
  const log = opts.log ?? console.log;
  log(`Planner and checker at ${sizes.map(label).join(', ')} conversations a day`);
  try {
    return [
      ...(opts.only !== 'checker' ? await plannerScale(sizes, dir, log) : []),
      ...(opts.only !== 'planner' ? await checkerScale(sizes, dir, log) : []),
    ];
  } finally {
    // The stack's bucket holds the plans (a 1M day: ~50 MB); a directory given is the caller's.
    if (!opts.dir) fs.rmSync(dir, {recursive: true, force: true});
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizes = flag('--sizes')?.split(',').map(Number);
  const jsonFile = flag('--json');
  const only = flag('--only');
  if (only !== undefined && only !== 'planner' && only !== 'checker')
    throw new Error('--only must be planner or checker');
  scaleBench({quick: argv.includes('--quick'), ...(sizes ? {sizes} : {}), ...(only ? {only} : {})})
    .then(rows => {
      console.log('');
      for (const r of rows)
        console.log(
          `${r.pass ? 'pass' : 'MISS'}  ${r.name}: ${r.value} (target ${r.target}; baseline ${r.baseline}; ratio ${r.ratio})`,
        );
      const json = JSON.stringify(
        {machine: {node: process.version, cores: os.cpus().length}, benchmarks: rows},
        null,
        2,
      );
      if (jsonFile) fs.writeFileSync(jsonFile, json);
      else console.log(json);
      process.exit(rows.every(r => r.pass) ? 0 : 1);
    })
    .catch(err => {
      console.error(`scale bench: ${err instanceof Error ? err.stack : String(err)}`);
      process.exit(2);
    });
}
