/**
 * A run's batches as its plan lists them, a range at a time: a version-1
 * plan holds them, a version-2 plan's parts do (only the parts the range
 * touches are read).
 */
import type {PlannedBatch} from '../core/batches';
import {PlanPart, StoredPlan, isPlanIndex, planProblems} from '../core/day-plan';
import {PermanentError} from '../core/errors';
import {MAX_PLAN_BYTES} from '../core/limits';
import {runPlanObjectName} from '../core/object-names';
import type {Day} from '../core/time-window';
import type {ObjectStore} from '../ports';

/** The run's plan, as the planner wrote it; PermanentError when it is missing or unusable. */
export async function readRunPlan(
  store: ObjectStore,
  env: string,
  day: Day,
  runId: string,
): Promise<StoredPlan> {
  const name = runPlanObjectName(env, day, runId);
  const plan = (await store.readJson<StoredPlan>(name, MAX_PLAN_BYTES))?.value;
  if (!plan) throw new PermanentError(`the plan ${name} is missing`);
  const problems = planProblems(plan, day);
  if (problems.length > 0 || plan.runId !== runId)
    throw new PermanentError(
      `the plan ${name} is unusable: ${problems.join('; ') || 'another run'}`,
    );
  return plan;
}

/** Batches `from` to `from + count - 1` (in plan order) of the run. */
export async function planBatchRange(
  store: ObjectStore,
  plan: StoredPlan,
  from: number,
  count: number,
): Promise<PlannedBatch[]> {
  if (!isPlanIndex(plan)) return plan.batches.slice(from, from + count);
  const out: PlannedBatch[] = [];
  let first = 0;
  for (const ref of plan.parts) {
    const end = first + ref.batches;
    if (end > from && first < from + count) {
      const part = (await store.readJson<PlanPart>(ref.object, MAX_PLAN_BYTES))?.value;
      if (!part || part.runId !== plan.runId || !Array.isArray(part.batches))
        throw new PermanentError(
          `the plan part ${ref.object} is missing or not of run ${plan.runId}`,
        );
      const lo = Math.max(from, first) - first;
      const hi = Math.min(from + count, end) - first;
      out.push(...part.batches.slice(lo, hi));
    }
    first = end;
    if (first >= from + count) break;
  }
  return out;
}
