/**
 * Check 6: the planner plans the next night's window without doing it: a
 * dry run (`{"day": …, "dryRun": true}`: nothing written, nothing published)
 * with the caller's own ID token, reporting how many conversations and
 * batches it would export. The next night's run exports the day
 * `window_lag_days` before its own (in `time_zone`). The planner refuses
 * (409) a day before its night has come (too recent for the window lag), or
 * whose analytics data Genesys has not completed yet: then the last
 * night's window is planned instead, and the row says why.
 */
import {CheckResult, failed, passed, skipped} from '../../core/doctor';
import {addDays, dayOf} from '../../core/time-window';
import type {DoctorSettings, PlannerCall} from './ports';

/** The day the next nightly run (at the start of tomorrow, in the zone) exports. */
export function nextNightDay(
  s: Pick<DoctorSettings, 'now' | 'timeZone' | 'windowLagDays'>,
): string {
  return addDays(dayOf(s.now, s.timeZone), 1 - s.windowLagDays);
}

interface PlannedDay {
  day?: string;
  conversations?: number;
  batches?: number;
}

export async function checkPlanner(
  call: ((url: string) => PlannerCall) | undefined,
  url: string | undefined,
  s: DoctorSettings,
): Promise<CheckResult> {
  const id = 'planner.dry-run';
  const title = 'planner dry run of the next night';
  if (!url || !call)
    return skipped(
      id,
      title,
      s.local
        ? 'no planner URL (PLANNER_URL, printed by npm run stack, or --planner-url)'
        : "the planner's URL is unknown (above; or give --planner-url)",
    );
  const plan = call(url);
  const next = nextNightDay(s);
  let day = next;
  let answer: {status: number; body: unknown};
  let refusedNext = '';
  try {
    answer = await plan({day, dryRun: true});
    if (answer.status === 409) {
      refusedNext = errorOf(answer.body);
      day = addDays(next, -1);
      answer = await plan({day, dryRun: true});
    }
  } catch (err) {
    return failed(
      id,
      title,
      `the planner could not be reached at ${url}: ${err instanceof Error ? err.message : String(err)}`,
      'check --planner-url, and that planner_ingress lets you reach it (ALLOW_INTERNAL_ONLY: run doctor from inside the VPC)',
    );
  }
  const error = errorOf(answer.body);
  const said = error ? `: ${error}` : '';
  if (answer.status === 401 || answer.status === 403)
    return failed(
      id,
      title,
      `the planner refused your identity token (HTTP ${answer.status}${said})`,
      'add yourself to operator_members (roles/run.invoker on the planner) and terraform -chdir=infra apply, or run grm doctor as the deployer',
    );
  if (answer.status !== 200)
    return failed(
      id,
      title,
      `the planner answered HTTP ${answer.status}${said}`,
      `read the planner's log: gcloud logging read 'resource.labels.service_name="${s.prefix}-planner" AND severity>=WARNING' --project=${s.project} --limit=20`,
    );
  const planned = ((answer.body as {days?: PlannedDay[]} | null)?.days ?? [])[0];
  if (!planned || planned.day !== day)
    return failed(
      id,
      title,
      `the planner answered 200 without a plan of ${day}${said}`,
      `read the planner's log: gcloud logging read 'resource.labels.service_name="${s.prefix}-planner" AND severity>=WARNING' --project=${s.project} --limit=20`,
    );
  const n = planned.conversations ?? 0;
  const b = planned.batches ?? 0;
  const also =
    day === next
      ? ''
      : ` (the last night's window: the planner does not plan the next night's ${next} yet${refusedNext ? `, "${refusedNext}"` : ''})`;
  return passed(
    id,
    title,
    `${day}: would export ${n} conversation${n === 1 ? '' : 's'} in ${b} batch${b === 1 ? '' : 'es'}${also}; nothing written or published`,
  );
}

/** The planner's refusal text (`{"error": "…"}`), or "". */
function errorOf(body: unknown): string {
  const error = (body as {error?: unknown} | null)?.error;
  return typeof error === 'string' ? error.slice(0, 300) : '';
}
