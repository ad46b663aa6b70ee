/**
 * A history migration below the nightly run, on the local stack with the
 * real functions and the simulator enforcing a binding per-client limit:
 *
 *   1. a nightly day alone (its time from plan to decision);
 *   2. a 30-day migration started, and, once it is under way, a nightly day
 *      of the same size: its time ÷ the time alone (target ≤ 1.1);
 *   3. the migration alone for the rest: its calls a minute ÷ its share of
 *      the limit (target ≥ 0.9);
 *   4. every migrated day `_SUCCESS`, no 429 anywhere.
 *
 * The tick runs every second here (every minute in production: a tick
 * publishes batches as they are reported, so the interval only bounds how
 * soon the lane refills).
 *
 * Standalone: `node --import tsx bench/migration.ts`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Stack} from '../local/stack';
import {LOCAL_EXPORT_ENV} from '../local/product';
import {callPlanner, readJson, runDay, startMigrationTicker} from '../local/run-day';
import {PLANNER_RESERVE} from '../functions/core/budget';
import type {MigrationRecord} from '../functions/core/migration';
import {addDays, defaultDay} from '../functions/core/time-window';
import {BenchRow, printRows} from './rows';
import {productStack} from './throughput';

const env = LOCAL_EXPORT_ENV;
/** The client's limit a minute: binding, so that every figure is about the budget. */
const PER_CLIENT = 240;
const SHARE = 50;
const MIGRATION_DAYS = 30;
const MIGRATION_CONVERSATIONS = 25;
/** A nightly day of about 1,500 calls: several minutes of the workers' 216 a minute. */
const NIGHTLY_CONVERSATIONS = 1400;

interface Counters {
  clients: Record<string, {apiCalls: number; rejected: Record<string, number>}>;
}

async function counters(stack: Stack): Promise<{calls: number; rejected: number}> {
  const c = (await (await fetch(`${stack.genesysUrl}/_admin/counters`)).json()) as Counters;
  let calls = 0;
  let rejected = 0;
  for (const u of Object.values(c.clients)) {
    calls += u.apiCalls;
    rejected += Object.values(u.rejected).reduce((a, b) => a + b, 0);
  }
  return {calls, rejected};
}

/** From the day's plan to the checker's decision, in ms. */
async function planToDecision(stack: Stack, day: string): Promise<number> {
  const plan = await readJson<{createdAt: string}>(stack, `${env}/${day}/_manifest/plan.json`);
  const ledger = await readJson<{decidedAt: string}>(
    stack,
    `${env}/${day}/_manifest/decision.json`,
  );
  return Date.parse(ledger!.decidedAt) - Date.parse(plan!.createdAt);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 1000));
  }
}

export async function migrationBench(dir: string): Promise<BenchRow[]> {
  const today = defaultDay(Date.now(), 'UTC', 0);
  const alone = addDays(today, -10);
  const during = addDays(today, -9);
  const first = addDays(today, -60);
  const last = addDays(first, MIGRATION_DAYS - 1);
  const perDay: Record<string, number> = {
    [alone]: NIGHTLY_CONVERSATIONS,
    [during]: NIGHTLY_CONVERSATIONS,
  };
  for (let k = 0; k < MIGRATION_DAYS; k++) perDay[addDays(first, k)] = MIGRATION_CONVERSATIONS;
  const stack = await productStack(path.join(dir, 'migration'), {
    perDay,
    env: {
      GENESYS_CLIENT_REQUESTS_PER_MINUTE: String(PER_CLIENT),
      MIGRATION_SHARE: String(SHARE),
    },
    simulator: {clientRateLimitPerMinute: PER_CLIENT},
  });
  const record = () => readJson<MigrationRecord>(stack, `${env}/_migration/migration.json`);
  try {
    const aloneRun = await runDay(stack, {day: alone, env, timeoutMs: 1_800_000});
    const aloneMs = await planToDecision(stack, alone);
    console.log(`migration bench: nightly day alone ${(aloneMs / 1000).toFixed(0)} s`);
    // Wait for the nightly day's calls to leave the sliding minute before the migration starts.
    await new Promise(r => setTimeout(r, 61_000));

    const started = await callPlanner(
      stack,
      {migration: {action: 'start', from: first, to: last}},
      {},
      'operator',
    );
    if (started.status !== 200)
      throw new Error(`migration refused: ${JSON.stringify(started.body)}`);
    const ticker = startMigrationTicker(stack, 1000);
    let duringMs: number;
    let laneRate: number;
    let duringRun;
    try {
      // Under way, its lane full for a minute: then the nightly day comes.
      await until(
        'the migration under way',
        async () => ((await record())!.counted.length >= 2 ? true : undefined),
        600_000,
      );
      await new Promise(r => setTimeout(r, 60_000));
      duringRun = await runDay(stack, {day: during, env, timeoutMs: 1_800_000});
      duringMs = await planToDecision(stack, during);
      console.log(
        `migration bench: nightly day with the migration ${(duringMs / 1000).toFixed(0)} s`,
      );
      // The migration alone again: its rate over the next three minutes (after a minute for
      // the nightly day's calls to leave the window).
      await new Promise(r => setTimeout(r, 60_000));
      const before = await counters(stack);
      const t0 = Date.now();
      await new Promise(r => setTimeout(r, 180_000));
      const after = await counters(stack);
      const stillRunning = (await record())!.state === 'running';
      laneRate = ((after.calls - before.calls) / (Date.now() - t0)) * 60_000;
      if (!stillRunning)
        console.warn('migration bench: the migration ended inside the rate window');
      await until(
        'the migration to finish',
        async () => ((await record())!.state === 'done' ? true : undefined),
        1_800_000,
      );
    } finally {
      await ticker.stop();
    }
    const done = (await record())!;
    const failed = done.failed ?? [];
    const undecided = done.planned.filter(d => !done.counted.includes(d));
    const {rejected} = await counters(stack);
    const share = PER_CLIENT * (1 - PLANNER_RESERVE) * (SHARE / 100);
    const ratio = duringMs / aloneMs;
    return [
      {
        section: 'migration',
        name: `nightly day (${NIGHTLY_CONVERSATIONS} conversations) with a migration ÷ alone, ${PER_CLIENT}/min per client`,
        value: ratio,
        unit: '',
        target: '≤ 1.1',
        baseline: `alone ${(aloneMs / 1000).toFixed(0)} s; with the migration ${(duringMs / 1000).toFixed(0)} s`,
        ratio,
        pass:
          ratio <= 1.1 &&
          aloneRun.verification.missing.length === 0 &&
          duringRun.verification.missing.length === 0,
      },
      {
        section: 'migration',
        // Every Genesys call while only the migration runs: its batches' (paced to the share) and
        // its days' discovery (about 5 a day, on the planner's own reserve).
        name: `migration calls a minute (batches and discovery) ÷ its share (${SHARE} % of the workers' ${PER_CLIENT * (1 - PLANNER_RESERVE)}/min)`,
        value: laneRate / share,
        unit: '',
        target: '≥ 0.9',
        baseline: `${laneRate.toFixed(0)} calls/min; share ${share.toFixed(0)}/min`,
        ratio: laneRate / share,
        pass: laneRate / share >= 0.9,
      },
      {
        section: 'migration',
        name: `${MIGRATION_DAYS} migrated days: _SUCCESS, _FAILURE, undecided; 429 answers`,
        value: rejected,
        unit: '',
        target: `${MIGRATION_DAYS} _SUCCESS, 0 × 429`,
        baseline: `${done.counted.length - failed.length} _SUCCESS, ${failed.length} _FAILURE, ${undecided.length} undecided, ${done.skipped} skipped; ${rejected} × 429`,
        ratio: rejected,
        pass:
          rejected === 0 &&
          done.state === 'done' &&
          failed.length === 0 &&
          undecided.length === 0 &&
          done.counted.length === MIGRATION_DAYS,
        detail: {migration: done},
      },
    ];
  } finally {
    await stack.stop();
  }
}

if (require.main === module) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-bench-migration-'));
  migrationBench(dir)
    .then(rows => printRows(rows))
    .finally(() => fs.rmSync(dir, {recursive: true, force: true}))
    .catch(err => {
      console.error(err);
      process.exit(1);
    });
}
