/**
 * What the migration's tick reads about its planned days: which the checker
 * has decided (and what their batches cost in Genesys calls), how many batch
 * reports a day's run has, which day's run stalled, which failed days are
 * still `_FAILURE`, and what the restores cost this month.
 */
import {PermanentError} from '../core/errors';
import {MAX_PLAN_BYTES, MAX_REPORT_BYTES, MAX_RESTORES_BYTES} from '../core/limits';
import type {MigrationRecord} from '../core/migration';
import {addCalls, monthOf} from '../core/monthly-calls';
import {batchReportsPrefix, planObjectName, restoresObjectName} from '../core/object-names';
import type {Day} from '../core/time-window';
import type {ObjectStore} from '../ports';
import {inspectDay, readLedger} from './previous-days';

/**
 * Planned days the checker has decided since the last tick: counted (their
 * reports' Genesys requests go into the calls of `nowMs`'s month), and noted
 * when `_FAILURE`.
 */
export async function countDecidedDays(
  store: ObjectStore,
  env: string,
  record: MigrationRecord,
  nowMs: number,
): Promise<MigrationRecord> {
  let out = record;
  const month = monthOf(nowMs);
  for (const day of record.planned) {
    if (out.counted.includes(day)) continue;
    const plan = (await store.readJson<{runId?: string}>(planObjectName(env, day), MAX_PLAN_BYTES))
      ?.value;
    const ledger = await readLedger(store, env, day);
    if (!plan?.runId || ledger?.runId !== plan.runId) continue;
    const requests = await runRequests(store, env, day, plan.runId);
    out = {
      ...out,
      counted: [...out.counted, day],
      calls: addCalls(out.calls, month, requests),
      ...(ledger.status === 'failure' ? {failed: [...(out.failed ?? []), day]} : {}),
    };
  }
  return out;
}

/** The Genesys requests a run's batch reports say they made (an unreadable report: none). */
async function runRequests(
  store: ObjectStore,
  env: string,
  day: Day,
  runId: string,
): Promise<number> {
  let requests = 0;
  for (const o of await store.list(batchReportsPrefix(env, day, runId))) {
    const r = (
      await store.readJson<{genesysRequests?: unknown}>(o.name, MAX_REPORT_BYTES).catch(err => {
        if (err instanceof PermanentError) return undefined;
        throw err;
      })
    )?.value;
    if (typeof r?.genesysRequests === 'number' && Number.isSafeInteger(r.genesysRequests))
      requests += r.genesysRequests;
  }
  return requests;
}

/** How many batch reports a migrated day's run has. */
export async function reportCount(
  store: ObjectStore,
  env: string,
  d: {day: Day; runId: string},
): Promise<number> {
  return (await store.list(batchReportsPrefix(env, d.day, d.runId))).length;
}

/** A planned, undecided day whose plan is older than the grace, not planned again before. */
export async function stalledDay(
  store: ObjectStore,
  env: string,
  record: MigrationRecord,
  nowMs: number,
  graceMs: number,
): Promise<Day | undefined> {
  for (const day of record.planned) {
    if (record.counted.includes(day) || record.replanned?.includes(day)) continue;
    const state = await inspectDay(store, env, day, nowMs);
    if (state.state !== 'success' && (state.planAgeMs ?? 0) > graceMs) return day;
  }
  return undefined;
}

/** Of `days` once decided `_FAILURE`, those still not `_SUCCESS` (a restore or rerun fixes some). */
export async function stillFailed(store: ObjectStore, env: string, days: Day[]): Promise<Day[]> {
  const out: Day[] = [];
  for (const day of days)
    if ((await readLedger(store, env, day))?.status !== 'success') out.push(day);
  return out;
}

/** The Genesys calls the restores made in `month` (none without a readable restore record). */
export async function restoreCallsIn(
  store: ObjectStore,
  env: string,
  month: string,
): Promise<number> {
  const got = await store
    .readJson<{calls?: Record<string, unknown>}>(restoresObjectName(env), MAX_RESTORES_BYTES)
    .catch(err => {
      if (err instanceof PermanentError) return undefined; // the restores' tick says why
      throw err;
    });
  const n = got?.value.calls?.[month];
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : 0;
}
