/**
 * The check-previous step (docs/how-it-works.md), as a read-only inspection: in what state is an
 * earlier day? `_SUCCESS` (the checker's verdict on the current run, not
 * merely an object of that name) → nothing to do; `_FAILURE` of its current run, a
 * plan without a marker, or no plan at all → the planner reruns it (within
 * the cap) and tells the developers.
 */
import type {StoredPlan} from '../core/day-plan';
import type {DayOutcome} from '../core/day-outcome';
import {missingPhrase} from '../core/emails';
import {PermanentError} from '../core/errors';
import {FINGERPRINT_KEY, Ledger} from '../core/ledger';
import {MAX_LEDGER_BYTES, MAX_PLAN_BYTES, MAX_SUCCESS_BYTES} from '../core/limits';
import {
  batchReportsPrefix,
  decisionObjectName,
  markerObjectName,
  planObjectName,
} from '../core/object-names';
import type {ObjectStore} from '../ports';

export type DayState =
  | {state: 'success'; runId?: string}
  | {
      state: 'failure' | 'incomplete' | 'not-planned';
      detail: string;
      runId?: string;
      /** Automatic reruns the day has had so far. */
      autoReruns: number;
      /** Age of the current plan, ms (absent when never planned). */
      planAgeMs?: number;
    };

export async function inspectDay(
  store: ObjectStore,
  env: string,
  day: string,
  nowMs: number,
): Promise<DayState> {
  const plan = (await store.readJson<StoredPlan>(planObjectName(env, day), MAX_PLAN_BYTES))?.value;
  if (!plan) {
    return {state: 'not-planned', detail: 'no plan: the day was never exported', autoReruns: 0};
  }
  // The checker's ledger says what a marker must hold: it is read once, and it gives a
  // `_FAILURE`'s counts (that marker lists every gap: tens of MiB on a large day).
  const ledger = await readLedger(store, env, day);
  const success = await provenSuccess(store, env, plan, ledger);
  if (success === true) return {state: 'success', runId: plan.runId};
  const autoReruns = plan.autoRerun?.count ?? 0;
  const planAgeMs = nowMs - Date.parse(plan.createdAt);
  const failure = await store.stat(markerObjectName(env, day, '_FAILURE'));
  if (
    failure &&
    ledger?.runId === plan.runId &&
    ledger.status === 'failure' &&
    failure.metadata?.[FINGERPRINT_KEY] === ledger.fingerprint
  ) {
    return {
      state: 'failure',
      detail: missingPhrase(ledger),
      runId: plan.runId,
      autoReruns,
      planAgeMs,
    };
  }
  const reported = (await store.list(batchReportsPrefix(env, day, plan.runId))).length;
  return {
    state: 'incomplete',
    detail:
      `${reported} of ${plan.batches.length} batch reports written, no marker` +
      (success ? `; ${success}` : ''),
    runId: plan.runId,
    autoReruns,
    planAgeMs,
  };
}

/** The day's ledger, if it is one the checker could have written (unreadable: undefined). */
export async function readLedger(
  store: ObjectStore,
  env: string,
  day: string,
): Promise<Ledger | undefined> {
  try {
    const value = (await store.readJson<Ledger>(decisionObjectName(env, day), MAX_LEDGER_BYTES))
      ?.value;
    // Only a ledger the checker could have written is trusted.
    return typeof value === 'object' &&
      value !== null &&
      typeof value.runId === 'string' &&
      typeof value.fingerprint === 'string' &&
      typeof value.missing === 'object' &&
      value.missing !== null
      ? value
      : undefined;
  } catch (err) {
    if (err instanceof PermanentError) return undefined; // unreadable: no decision to trust
    throw err;
  }
}

/**
 * Whether the day's `_SUCCESS` is the checker's verdict on its current run:
 * a well-formed success marker of this day and run whose fingerprint is the
 * one the ledger decided. True, undefined (no `_SUCCESS`), or what is wrong.
 */
async function provenSuccess(
  store: ObjectStore,
  env: string,
  plan: StoredPlan,
  ledger: Ledger | undefined,
): Promise<true | string | undefined> {
  const name = markerObjectName(env, plan.day, '_SUCCESS');
  if (!(await store.stat(name))) return undefined;
  let marker: Omit<Partial<DayOutcome>, 'kind'> & {kind?: string; marker?: string};
  try {
    marker = (await store.readJson<typeof marker>(name, MAX_SUCCESS_BYTES))?.value ?? {};
  } catch (err) {
    if (err instanceof PermanentError) return `_SUCCESS is unreadable (${err.message})`;
    throw err;
  }
  if (typeof marker !== 'object' || marker === null || marker.kind !== 'day-marker')
    return '_SUCCESS is not a day marker';
  if (marker.marker !== '_SUCCESS' || marker.status !== 'success' || marker.day !== plan.day)
    return '_SUCCESS does not hold a success of this day';
  if (marker.runId !== plan.runId)
    return `_SUCCESS is of run ${String(marker.runId)}, not the current run`;
  if (
    !ledger ||
    ledger.runId !== plan.runId ||
    ledger.status !== 'success' ||
    ledger.fingerprint !== marker.fingerprint
  )
    return "_SUCCESS is not the checker's decision on the current run";
  return true;
}
