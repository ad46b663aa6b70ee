/**
 * The days a history migration and the restores of archived recordings yield
 * to: every day the planner plans for the schedule, check-previous or an
 * operator is listed (before its batches are published) in a small object of
 * the planner's; neither publishes anything while one of them is undecided. A day counts as decided once the
 * checker's ledger is of its run; one planned longer ago than the run grace
 * no longer holds the migration back (check-previous takes care of it).
 * The quiet window before the nightly run ends when its day is listed.
 */
import {PermanentError} from '../core/errors';
import {MAX_MIGRATION_BYTES} from '../core/limits';
import {priorityDaysObjectName} from '../core/object-names';
import {NightlyHold, QuietSettings, nightlyHold, quietStarts} from '../core/quiet-window';
import type {Day} from '../core/time-window';
import type {ObjectStore} from '../ports';
import {json} from './ledger';
import {swapJson} from './objects';
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
    // Lost to another writer: read again and retry.
    if ((await swapJson(store, priorityDaysObjectName(env), json(body), generation)) !== undefined)
      return;
  }
  throw new Error('the priority days kept changing: another planner writes them at the same time');
}

/** What holds background work back for the nightly run: its undecided days, its quiet window. */
export interface NightlyYield {
  /** Days planned by the schedule, check-previous or an operator, still undecided. */
  priorityDays: Day[];
  /** Inside a quiet window before the nightly run, until its day is listed (core/quiet-window.ts). */
  hold?: NightlyHold;
}

/**
 * What holds a history migration and the restores of archived recordings
 * back at `nowMs`: the listed days planned less than `graceMs` ago whose run
 * the checker has not decided yet, and, with a schedule (`quiet`), the quiet
 * window before the nightly run. The list is read once.
 */
export async function nightlyYield(
  store: ObjectStore,
  env: string,
  nowMs: number,
  graceMs: number,
  quiet: QuietSettings | undefined,
): Promise<NightlyYield> {
  const {days} = await read(store, env);
  const priorityDays: Day[] = [];
  for (const d of days) {
    if (!(nowMs - Date.parse(d.at) < graceMs)) continue;
    if ((await readLedger(store, env, d.day))?.runId !== d.runId) priorityDays.push(d.day);
  }
  const hold =
    quiet && quietStarts(quiet, nowMs).length > 0
      ? nightlyHold(
          quiet,
          nowMs,
          days.map(d => Date.parse(d.at)).filter(ms => !Number.isNaN(ms)),
        )
      : undefined;
  return {priorityDays, ...(hold ? {hold} : {})};
}
