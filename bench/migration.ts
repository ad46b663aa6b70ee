/**
 * A history migration below the nightly run, on the local stack with the
 * real functions and the simulator enforcing a binding per-client limit,
 * the way production runs it: the planner knows the nightly schedule
 * (`SCHEDULE`, a daily cron as Terraform passes it) and the migration keeps
 * quiet for `MIGRATION_QUIET_MINUTES` before it.
 *
 *   1. the nightly run's time is fixed before the stack starts, a few
 *      minutes ahead, and given to the planner as `M H * * *`;
 *   2. a 40-day migration starts; once under way, its calls a minute while
 *      it runs alone ÷ its share of the limit (target ≥ 0.9);
 *   3. at the scheduled time (just after its quiet window) a nightly day
 *      runs beside the migration: its time ÷ the time of the same day alone,
 *      measured last, once the migration is done (target ≤ 1.1);
 *   4. every migrated day `_SUCCESS`, no 429 anywhere.
 *
 * The tick runs every second here (every minute in production: a tick
 * publishes batches as they are reported, so the interval only bounds how
 * soon the lane refills). The quiet window is bench-sized (3 minutes for
 * batches of 25 conversations; 15 in production, for batches that may run
 * up to BATCH_DEADLINE_MS).
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
const MIGRATION_DAYS = 40;
const MIGRATION_CONVERSATIONS = 25;
/** A nightly day of about 1,500 calls: several minutes of the workers' 216 a minute. */
const NIGHTLY_CONVERSATIONS = 1400;
/** The quiet window before the nightly run, in minutes. */
const QUIET_MINUTES = 3;
/**
 * How far ahead of the stack's start the nightly run is scheduled: the stack's start, the
 * migration getting under way, its rate measured for up to RATE_MS, and the quiet window.
 */
const LEAD_MS = 9 * 60_000;
const RATE_MS = 180_000;
/** How long before the quiet window the migration starts (its days must outlast the nightly day). */
const MIGRATION_LEAD_MS = 300_000;

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

const sleep = (ms: number) => new Promise(r => setTimeout(r, Math.max(0, ms)));

export async function migrationBench(dir: string): Promise<BenchRow[]> {
  const today = defaultDay(Date.now(), 'UTC', 0);
  const alone = addDays(today, -10);
  const during = addDays(today, -9);
  const first = addDays(today, -70);
  const last = addDays(first, MIGRATION_DAYS - 1);
  const perDay: Record<string, number> = {
    [alone]: NIGHTLY_CONVERSATIONS,
    [during]: NIGHTLY_CONVERSATIONS,
  };
  for (let k = 0; k < MIGRATION_DAYS; k++) perDay[addDays(first, k)] = MIGRATION_CONVERSATIONS;
  // The nightly run at a whole minute (the stack's TIME_ZONE is UTC), as a daily cron.
  const nightlyAt = Math.ceil((Date.now() + LEAD_MS) / 60_000) * 60_000;
  const quietFrom = nightlyAt - QUIET_MINUTES * 60_000;
  const at = new Date(nightlyAt);
  const schedule = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
  console.log(
    `migration bench: nightly run scheduled "${schedule}" (UTC), quiet from ${new Date(quietFrom).toISOString().slice(11, 19)}`,
  );
  const stack = await productStack(path.join(dir, 'migration'), {
    perDay,
    env: {
      GENESYS_CLIENT_REQUESTS_PER_MINUTE: String(PER_CLIENT),
      MIGRATION_SHARE: String(SHARE),
      SCHEDULE: schedule,
      MIGRATION_QUIET_MINUTES: String(QUIET_MINUTES),
    },
    simulator: {clientRateLimitPerMinute: PER_CLIENT},
  });
  const record = () => readJson<MigrationRecord>(stack, `${env}/_migration/migration.json`);
  try {
    // Started so that it runs a few minutes, its rate measured, before the quiet window.
    await sleep(quietFrom - MIGRATION_LEAD_MS - Date.now());
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
    let quiet: {holdAtStart?: string; publishedMeanwhile: number; callsBefore: number};
    let steps: Array<{status: number; step?: string}>;
    try {
      // Under way, its lane full: its rate alone, ended before the quiet window.
      await until(
        'the migration under way',
        async () => ((await record())!.counted.length >= 2 ? true : undefined),
        600_000,
      );
      const before = await counters(stack);
      const t0 = Date.now();
      await sleep(Math.min(RATE_MS, quietFrom - 5000 - t0));
      const after = await counters(stack);
      if (Date.now() - t0 < 90_000)
        throw new Error(
          `the migration got under way too late: ${((Date.now() - t0) / 1000).toFixed(0)} s of its rate before the quiet window`,
        );
      laneRate = ((after.calls - before.calls) / (Date.now() - t0)) * 60_000;

      // The quiet window: nothing more published or planned, the migration's calls stop.
      await sleep(quietFrom - Date.now() + 5000);
      const entering = (await record())!;
      await sleep(nightlyAt - Date.now() - 90_000);
      const late = await counters(stack);
      await sleep(nightlyAt - Date.now());
      const atStart = (await record())!;
      const {calls: callsAtStart} = await counters(stack);
      console.log(
        `migration bench: ${entering.counted.length} days decided when the quiet window began, ${atStart.counted.length} at the nightly start`,
      );
      if (atStart.state !== 'running' || atStart.planned.length === MIGRATION_DAYS)
        throw new Error('the migration is out of days to plan at the nightly start: give it more');
      // Days planned and batches published since the window began (none, if it holds).
      const sameDay = atStart.current?.day === entering.current?.day;
      quiet = {
        ...(atStart.quiet ? {holdAtStart: atStart.quiet.nightlyAt} : {}),
        publishedMeanwhile:
          atStart.planned.length -
          entering.planned.length +
          (atStart.current?.published ?? 0) -
          (sameDay ? (entering.current?.published ?? 0) : 0),
        callsBefore: callsAtStart - late.calls,
      };

      // The nightly day, at its scheduled time.
      duringRun = await runDay(stack, {day: during, env, timeoutMs: 1_800_000});
      duringMs = await planToDecision(stack, during);
      console.log(
        `migration bench: nightly day with the migration ${(duringMs / 1000).toFixed(0)} s`,
      );
      await until(
        'the migration to finish',
        async () => ((await record())!.state === 'done' ? true : undefined),
        1_800_000,
      );
    } finally {
      steps = await ticker.stop();
    }
    const held = steps.filter(t => t.step?.startsWith('waiting: quiet for the nightly run'));
    // The same nightly day alone, once the migration's calls have left the sliding minute.
    await sleep(61_000);
    const aloneRun = await runDay(stack, {day: alone, env, timeoutMs: 1_800_000});
    const aloneMs = await planToDecision(stack, alone);
    console.log(`migration bench: nightly day alone ${(aloneMs / 1000).toFixed(0)} s`);

    const done = (await record())!;
    const failed = done.failed ?? [];
    const undecided = done.planned.filter(d => !done.counted.includes(d));
    const {rejected} = await counters(stack);
    const share = PER_CLIENT * (1 - PLANNER_RESERVE) * (SHARE / 100);
    const ratio = duringMs / aloneMs;
    return [
      {
        section: 'migration',
        name: `nightly day (${NIGHTLY_CONVERSATIONS} conversations) at its scheduled time, after a ${QUIET_MINUTES}-minute quiet window, with a migration ÷ alone, ${PER_CLIENT}/min per client`,
        value: ratio,
        unit: '',
        target: '≤ 1.1',
        baseline: `alone ${(aloneMs / 1000).toFixed(0)} s; with the migration ${(duringMs / 1000).toFixed(0)} s; in the quiet window ${held.length} ticks held, ${quiet.publishedMeanwhile} days planned or batches published, ${quiet.callsBefore} Genesys calls in the 90 s before the start`,
        ratio,
        pass:
          ratio <= 1.1 &&
          quiet.holdAtStart === new Date(nightlyAt).toISOString() &&
          quiet.publishedMeanwhile === 0 &&
          aloneRun.verification.missing.length === 0 &&
          duringRun.verification.missing.length === 0,
        detail: {
          schedule,
          nightlyAt: new Date(nightlyAt).toISOString(),
          quiet,
          held: held[0]?.step,
        },
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
