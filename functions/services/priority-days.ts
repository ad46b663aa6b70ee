/**
 * The days a history migration yields to: every day the planner plans for
 * the schedule, check-previous or an operator is listed (before its batches
 * are published) in a small object of the planner's; the migration publishes
 * nothing while one of them is undecided. A day counts as decided once the
 * checker's ledger is of its run; one planned longer ago than the run grace
 * no longer holds the migration back (check-previous takes care of it).
 */
import {PermanentError} from '../core/errors';
import {MAX_MIGRATION_BYTES} from '../core/limits';
import {priorityDaysObjectName} from '../core/object-names';
import type {Day} from '../core/time-window';
import {ObjectExistsError, ObjectStore} from '../ports';
import {readLedger} from './previous-days';

export interface PriorityDay {
  day: Day;
  runId: string;
  /** When it was planned (ISO). */
  at: string;
}

interface PriorityDays {
  kind: 'priority-days';
  days: PriorityDay[];
}

/** How long an entry is kept: a day undecided this long is check-previous's, not the migration's. */
export const PRIORITY_KEEP_MS = 24 * 3600_000;

async function read(
  store: ObjectStore,
  env: string,
): Promise<{days: PriorityDay[]; generation: string | number}> {
  try {
    const got = await store.readJson<PriorityDays>(
      priorityDaysObjectName(env),
      MAX_MIGRATION_BYTES,
    );
    const days =
      got?.value?.kind === 'priority-days' && Array.isArray(got.value.days) ? got.value.days : [];
    return {days, generation: got?.generation ?? 0};
  } catch (err) {
    if (err instanceof PermanentError) return {days: [], generation: 0};
    throw err;
  }
}

/** Lists a planned day (replacing an earlier run of it); entries past PRIORITY_KEEP_MS are dropped. */
export async function registerPriorityDay(
  store: ObjectStore,
  env: string,
  entry: {day: Day; runId: string},
  nowMs: number,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const {days, generation} = await read(store, env);
    const kept = days.filter(
      d =>
        d.day !== entry.day &&
        typeof d.at === 'string' &&
        nowMs - Date.parse(d.at) < PRIORITY_KEEP_MS,
    );
    kept.push({...entry, at: new Date(nowMs).toISOString()});
    const body: PriorityDays = {kind: 'priority-days', days: kept};
    try {
      await store.write(priorityDaysObjectName(env), Buffer.from(JSON.stringify(body, null, 2)), {
        contentType: 'application/json',
        ifGenerationMatch: generation,
      });
      return;
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
    }
  }
  throw new Error('the priority days kept changing: another planner writes them at the same time');
}

/** The listed days planned less than `graceMs` ago whose run the checker has not decided yet. */
export async function undecidedPriorityDays(
  store: ObjectStore,
  env: string,
  nowMs: number,
  graceMs: number,
): Promise<Day[]> {
  const {days} = await read(store, env);
  const undecided: Day[] = [];
  for (const d of days) {
    if (!(nowMs - Date.parse(d.at) < graceMs)) continue;
    if ((await readLedger(store, env, d.day))?.runId !== d.runId) undecided.push(d.day);
  }
  return undecided;
}
