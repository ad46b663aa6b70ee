/**
 * The seed's check_prev step, as a read-only inspection: in what state is an
 * earlier day? `_SUCCESS` → nothing to do; `_FAILURE` of its current run, a
 * plan without a marker, or no plan at all → the planner reruns it (within
 * the cap) and tells the developers.
 */
import type {DayPlan} from '../core/day-plan';
import type {DayOutcome} from '../core/day-outcome';
import {missingPhrase} from '../core/emails';
import {batchReportsPrefix, markerObjectName, planObjectName} from '../core/object-names';
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
  const success = await store.stat(markerObjectName(env, day, '_SUCCESS'));
  if (success) return {state: 'success', runId: success.metadata?.['run-id']};
  const plan = (await store.readJson<DayPlan>(planObjectName(env, day)))?.value;
  if (!plan) {
    return {state: 'not-planned', detail: 'no plan: the day was never exported', autoReruns: 0};
  }
  const autoReruns = plan.autoRerun?.count ?? 0;
  const planAgeMs = nowMs - Date.parse(plan.createdAt);
  const failure = await store.readJson<Pick<DayOutcome, 'runId' | 'missing'>>(
    markerObjectName(env, day, '_FAILURE'),
  );
  if (failure && failure.value.runId === plan.runId) {
    return {
      state: 'failure',
      detail: missingPhrase(failure.value),
      runId: plan.runId,
      autoReruns,
      planAgeMs,
    };
  }
  const reported = (await store.list(batchReportsPrefix(env, day, plan.runId))).length;
  return {
    state: 'incomplete',
    detail: `${reported} of ${plan.batches.length} batch reports written, no marker`,
    runId: plan.runId,
    autoReruns,
    planAgeMs,
  };
}
