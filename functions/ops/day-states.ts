/**
 * A day's state as `grm status` and `grm report` read it from the bucket:
 * its marker (only the one the checker's ledger names), its current plan,
 * the ledger's email state, and for a running day how many batch reports
 * are in. Nothing else is read: never the batch reports themselves.
 */
import {PermanentError} from '../core/errors';
import {MAX_LEDGER_BYTES, MAX_MARKER_BYTES, MAX_PLAN_BYTES} from '../core/limits';
import {
  batchReportsPrefix,
  decisionObjectName,
  markerObjectName,
  planObjectName,
} from '../core/object-names';
import {DayMarker, DayState, EmailView, dayState} from '../core/day-status';
import type {StoredPlan} from '../core/day-plan';
import type {ObjectStore} from '../ports';
import {mapLimit} from '../services/objects';

/** Days read at once (each day's four objects are read together). */
export const DAYS_AT_ONCE = 8;

/** The state of each of `days`, in order, at most DAYS_AT_ONCE days read at a time. */
export function readDayStates(
  store: ObjectStore,
  env: string,
  days: string[],
): Promise<DayState[]> {
  return mapLimit(days, DAYS_AT_ONCE, day => readDayState(store, env, day));
}

async function readDayState(store: ObjectStore, env: string, day: string): Promise<DayState> {
  // A marker counts only as the checker's decision: the one whose fingerprint the ledger holds
  // (an unreadable or hand-made object of that name is no verdict).
  const [success, failure, plan, ledger] = await Promise.all([
    readMarker(store, markerObjectName(env, day, '_SUCCESS')),
    readMarker(store, markerObjectName(env, day, '_FAILURE')),
    store.readJson<StoredPlan>(planObjectName(env, day), MAX_PLAN_BYTES),
    store.readJson<{runId: string; fingerprint?: string; email: EmailView}>(
      decisionObjectName(env, day),
      MAX_LEDGER_BYTES,
    ),
  ]);
  const marker = [success, failure].find(
    m => m && m.fingerprint === ledger?.value.fingerprint && m.runId === ledger?.value.runId,
  );
  const current = plan?.value;
  const reported =
    current && (!marker || marker.runId !== current.runId)
      ? (await store.list(batchReportsPrefix(env, day, current.runId))).length
      : undefined;
  return dayState({
    day,
    ...(marker ? {marker} : {}),
    ...(current ? {plan: current} : {}),
    ...(reported !== undefined ? {reported} : {}),
    ...(ledger && marker ? {email: ledger.value.email} : {}),
  });
}

async function readMarker(store: ObjectStore, name: string): Promise<DayMarker | undefined> {
  try {
    return (await store.readJson<DayMarker>(name, MAX_MARKER_BYTES))?.value;
  } catch (err) {
    if (err instanceof PermanentError) return undefined;
    throw err;
  }
}
