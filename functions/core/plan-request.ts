/**
 * What the planner is asked to do, from Cloud Scheduler (no body: the default
 * day, with `X-CloudScheduler-ScheduleTime` as the run time) or from an
 * operator (`{"day"}`, `{"from","to"}` or `{"startTime","endTime"}`), with an
 * optional `"dryRun": true` and `"checkPrevious": true|false` (default: true
 * on the schedule, false otherwise). Every malformed or premature request is an
 * InputError naming the problem, quoting the input only as short excerpts.
 */
import {InputError} from './errors';
import {Day, addDays, dayOf, daysBetween, defaultDay, isValidDay, startOfDay} from './time-window';

export interface PlanRequest {
  days: Day[];
  dryRun: boolean;
  /** The run time used for defaults and the lag check. */
  runMs: number;
  trigger: 'schedule' | 'explicit';
  /** Check the days before for `_SUCCESS` first (default: only on the schedule). */
  checkPrevious: boolean;
}

export interface PlanLimits {
  timeZone: string;
  windowLagDays: number;
  maxBackfillDays: number;
}

const FIELDS = new Set(['day', 'from', 'to', 'startTime', 'endTime', 'dryRun', 'checkPrevious']);
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
/** Unknown fields named in a refusal; the rest are counted. */
const NAMED_UNKNOWN = 5;

/**
 * Text from a request as a refusal quotes it: JSON-quoted, at most `max`
 * characters, "…" where it was cut. Refusals are logged and answered, so they
 * never carry more of the input than this.
 */
export function excerpt(text: string, max = 40): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, max)).slice(0, -1)}…"`;
}

/**
 * A value from a request as a refusal names it: a string or number as an
 * excerpt, anything else by its kind. Never serialises the value (a deeply
 * nested one would overflow the stack, and a big one would be echoed).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return excerpt(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

export function parsePlanRequest(
  input: {method: string; body: unknown; scheduleTime?: string},
  nowMs: number,
  limits: PlanLimits,
): PlanRequest {
  if (input.method !== 'POST') throw new InputError(`use POST, not ${input.method}`, 405);
  let runMs = nowMs;
  if (input.scheduleTime !== undefined) {
    const t = Date.parse(input.scheduleTime);
    if (!Number.isFinite(t))
      throw new InputError(
        `X-CloudScheduler-ScheduleTime ${excerpt(input.scheduleTime)} is not a time`,
      );
    runMs = t;
  }
  const body = input.body === undefined ? {} : input.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InputError(
      `the request body must be a JSON object, e.g. {"day":"2023-02-01"}; got ${describeValue(body)}`,
    );
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter(k => !FIELDS.has(k));
  if (unknown.length > 0) {
    const named = unknown.slice(0, NAMED_UNKNOWN).map(k => excerpt(k));
    const more =
      unknown.length > NAMED_UNKNOWN ? ` and ${unknown.length - NAMED_UNKNOWN} more` : '';
    throw new InputError(
      `unknown field${unknown.length > 1 ? 's' : ''}: ${named.join(', ')}${more}; known: ${[...FIELDS].join(', ')}`,
    );
  }
  if (b.dryRun !== undefined && typeof b.dryRun !== 'boolean')
    throw new InputError('"dryRun" must be true or false');
  const dryRun = b.dryRun === true;
  if (b.checkPrevious !== undefined && typeof b.checkPrevious !== 'boolean')
    throw new InputError('"checkPrevious" must be true or false');
  const forms = [
    b.day !== undefined,
    b.from !== undefined || b.to !== undefined,
    b.startTime !== undefined || b.endTime !== undefined,
  ];
  if (forms.filter(Boolean).length > 1)
    throw new InputError('give one of "day", "from"/"to" or "startTime"/"endTime"');

  const day = (name: string, v: unknown): Day => {
    if (typeof v !== 'string' || !isValidDay(v))
      throw new InputError(`"${name}" must be a calendar date YYYY-MM-DD, got ${describeValue(v)}`);
    return v;
  };
  let days: Day[];
  let trigger: PlanRequest['trigger'] = 'explicit';
  if (b.day !== undefined) {
    days = [day('day', b.day)];
  } else if (forms[1]) {
    const from = day('from', b.from);
    const to = day('to', b.to);
    if (to < from) throw new InputError(`"to" (${to}) is before "from" (${from})`);
    const n = daysBetween(from, to) + 1;
    if (n > limits.maxBackfillDays)
      throw new InputError(
        `the range covers ${n} days; at most ${limits.maxBackfillDays} per request`,
        413,
      );
    days = Array.from({length: n}, (_, i) => addDays(from, i));
  } else if (forms[2]) {
    const instant = (name: string, v: unknown): number => {
      if (typeof v !== 'string' || !ISO_INSTANT.test(v) || !Number.isFinite(Date.parse(v))) {
        throw new InputError(
          `"${name}" must be an ISO-8601 instant with a zone, got ${describeValue(v)}`,
        );
      }
      return Date.parse(v);
    };
    const start = instant('startTime', b.startTime);
    const end = instant('endTime', b.endTime);
    if (end <= start) throw new InputError('"endTime" must be after "startTime"');
    const first = dayOf(start, limits.timeZone);
    const afterLast = dayOf(end, limits.timeZone);
    if (
      startOfDay(first, limits.timeZone) !== start ||
      startOfDay(afterLast, limits.timeZone) !== end
    ) {
      throw new InputError(
        `"startTime" and "endTime" must be midnights in ${limits.timeZone} (whole days)`,
      );
    }
    const n = daysBetween(first, afterLast);
    if (n > limits.maxBackfillDays)
      throw new InputError(
        `the range covers ${n} days; at most ${limits.maxBackfillDays} per request`,
        413,
      );
    days = Array.from({length: n}, (_, i) => addDays(first, i));
  } else {
    days = [defaultDay(runMs, limits.timeZone, limits.windowLagDays)];
    trigger =
      input.scheduleTime !== undefined || Object.keys(b).length === 0 ? 'schedule' : 'explicit';
  }
  const latest = defaultDay(nowMs, limits.timeZone, limits.windowLagDays);
  const tooNew = days.filter(d => d > latest);
  if (tooNew.length > 0) {
    throw new InputError(
      `${tooNew[0]} is too recent: with WINDOW_LAG_DAYS=${limits.windowLagDays} the latest day that may be exported now is ${latest}`,
      409,
    );
  }
  const checkPrevious =
    typeof b.checkPrevious === 'boolean' ? b.checkPrevious : trigger === 'schedule';
  return {days, dryRun, runMs, trigger, checkPrevious};
}
