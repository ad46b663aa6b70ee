/**
 * A history migration (docs/migration.md): a span of days exported below the
 * nightly run, as a small record in the bucket that the planner advances on
 * every tick. This module holds the record's shape and its validation, the
 * operator's requests, and the pure decision of what a tick does next.
 *
 * The nightly run goes first: while a day planned by the schedule, by
 * check-previous or by an operator (`grm rerun`) is undecided, the migration
 * publishes nothing; otherwise it keeps at most `outstanding` of its batches
 * published and unreported, so a priority day never queues behind more than
 * that many. Its batches carry `lane: "migration"`, and the workers pace them
 * to the migration's share of their budget. Before each scheduled start of
 * the nightly run it keeps quiet (core/quiet-window.ts).
 */
import {InputError} from './errors';
import {MonthlyCalls, isMonthlyCalls, monthOf, totalCalls} from './monthly-calls';
import {isToken} from './ids';
import {NightlyHold, holdProblems, priorityDaysText} from './quiet-window';
import {Day, addDays, daysBetween, isValidDay} from './time-window';

export type MigrationState = 'running' | 'paused' | 'cancelled' | 'done';

/**
 * Why a migration is paused: an operator paused it, or its monthly call cap
 * was reached (or another day would pass it).
 */
export interface MigrationPause {
  by: 'operator' | 'monthly-cap';
  at: string;
  /** A capped migration resumes by itself at the start of this month (UTC, YYYY-MM). */
  untilMonth?: string;
}

/** The day the migration is publishing. */
export interface MigrationCurrent {
  day: Day;
  runId: string;
  batches: number;
  /** Batches published so far (in plan order). */
  published: number;
  plannedAt: string;
}

export interface MigrationRecord {
  kind: 'migration';
  version: 1;
  id: string;
  from: Day;
  to: Day;
  createdAt: string;
  updatedAt: string;
  state: MigrationState;
  pause?: MigrationPause;
  /** At most this many Genesys calls per calendar month (UTC), when set. */
  monthlyCallCap?: number;
  /** The next day to plan; absent once every day has been planned or skipped. */
  next?: Day;
  current?: MigrationCurrent;
  /**
   * The day published before the current one, kept while some of its batches may be
   * unreported: they count towards the outstanding bound.
   */
  previous?: MigrationCurrent;
  /** Days planned, and days skipped because they were `_SUCCESS` already. */
  planned: Day[];
  skipped: number;
  /** Genesys calls per calendar month (UTC, `YYYY-MM`): discovery and the workers' reports. */
  calls: MonthlyCalls;
  /** Planned days decided by the checker (their calls are counted into `calls`). */
  counted: Day[];
  /** Of those, the days that ended `_FAILURE`. */
  failed?: Day[];
  /**
   * Days before the history horizon (core/history-horizon.ts): never
   * planned, reported. `horizon` says why, as the planner last said it.
   */
  beyond?: Day[];
  horizon?: string;
  /** Days planned again because their run stalled (each at most once). */
  replanned?: Day[];
  /** Percent of the span last told to the developers (0, 25, 50, 75, 100). */
  milestone: number;
  /** Set while the last tick held for the nightly run (its quiet window). */
  quiet?: NightlyHold;
}

/** The operator's requests, as the planner takes them: `{"migration":{"action":…}}`. */
export type MigrationRequest =
  | {action: 'start'; from: Day; to: Day; monthlyCallCap?: number}
  | {action: 'pause' | 'resume' | 'cancel' | 'tick'};

/** Longest span one migration may cover (ten years). */
export const MAX_MIGRATION_DAYS = 3660;

/** Largest monthly call cap accepted. */
export const MAX_MONTHLY_CALL_CAP = 1_000_000_000;

/** Milestones told to the developers, in percent of the span's days decided. */
export const MILESTONES = [25, 50, 75, 100] as const;

const ACTIONS = new Set(['start', 'pause', 'resume', 'cancel', 'tick']);

/** The `migration` field of a planner request; every problem is an InputError. */
export function parseMigrationRequest(value: unknown, latest: Day): MigrationRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError('"migration" must be an object, e.g. {"action":"tick"}');
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter(
    k => !['action', 'from', 'to', 'monthlyCallCap'].includes(k),
  );
  if (unknown.length > 0)
    throw new InputError(
      `unknown migration field ${JSON.stringify(unknown[0]!.slice(0, 40))}; known: action, from, to, monthlyCallCap`,
    );
  if (typeof v.action !== 'string' || !ACTIONS.has(v.action))
    throw new InputError(`"migration.action" must be one of ${[...ACTIONS].join(', ')}`);
  if (v.action !== 'start') {
    if (v.from !== undefined || v.to !== undefined || v.monthlyCallCap !== undefined)
      throw new InputError(`"migration.action" ${v.action} takes no other field`);
    return {action: v.action as 'pause' | 'resume' | 'cancel' | 'tick'};
  }
  const day = (name: string, d: unknown): Day => {
    if (typeof d !== 'string' || !isValidDay(d))
      throw new InputError(`"migration.${name}" must be a calendar date YYYY-MM-DD`);
    return d;
  };
  const from = day('from', v.from);
  const to = day('to', v.to);
  if (to < from)
    throw new InputError(`"migration.to" (${to}) is before "migration.from" (${from})`);
  if (to > latest)
    throw new InputError(
      `"migration.to" (${to}) is too recent: the latest day that may be exported now is ${latest}`,
      409,
    );
  const n = daysBetween(from, to) + 1;
  if (n > MAX_MIGRATION_DAYS)
    throw new InputError(`the migration covers ${n} days; at most ${MAX_MIGRATION_DAYS}`, 413);
  const cap = v.monthlyCallCap;
  if (
    cap !== undefined &&
    !(Number.isSafeInteger(cap) && (cap as number) >= 1 && (cap as number) <= MAX_MONTHLY_CALL_CAP)
  )
    throw new InputError(
      `"migration.monthlyCallCap" must be an integer from 1 to ${MAX_MONTHLY_CALL_CAP}`,
    );
  return {action: 'start', from, to, ...(cap !== undefined ? {monthlyCallCap: cap as number} : {})};
}

export function newMigration(
  request: Extract<MigrationRequest, {action: 'start'}>,
  id: string,
  nowMs: number,
): MigrationRecord {
  const at = new Date(nowMs).toISOString();
  return {
    kind: 'migration',
    version: 1,
    id,
    from: request.from,
    to: request.to,
    createdAt: at,
    updatedAt: at,
    state: 'running',
    ...(request.monthlyCallCap !== undefined ? {monthlyCallCap: request.monthlyCallCap} : {}),
    next: request.from,
    planned: [],
    skipped: 0,
    calls: {},
    counted: [],
    milestone: 0,
  };
}

/** The days of the span. */
export function spanDays(m: Pick<MigrationRecord, 'from' | 'to'>): number {
  return daysBetween(m.from, m.to) + 1;
}

/** The month after `month` (`YYYY-MM`). */
export function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

/** The operator's pause, resume or cancel applied to a record; InputError (409) when it cannot be. */
export function controlMigration(
  m: MigrationRecord,
  action: 'pause' | 'resume' | 'cancel',
  nowMs: number,
): MigrationRecord {
  const at = new Date(nowMs).toISOString();
  if (m.state === 'done' || m.state === 'cancelled')
    throw new InputError(`migration ${m.id} is ${m.state}; start a new one with grm migrate`, 409);
  switch (action) {
    case 'pause':
      if (m.state === 'paused' && m.pause?.by === 'operator')
        throw new InputError(`migration ${m.id} is paused already`, 409);
      return {...m, state: 'paused', pause: {by: 'operator', at}, updatedAt: at};
    case 'resume': {
      if (m.state !== 'paused') throw new InputError(`migration ${m.id} is not paused`, 409);
      if (
        m.pause?.by === 'monthly-cap' &&
        m.pause.untilMonth &&
        monthOf(nowMs) < m.pause.untilMonth
      )
        throw new InputError(
          `migration ${m.id} reached its monthly call cap; it resumes by itself in ${m.pause.untilMonth}`,
          409,
        );
      const {pause: _p, ...rest} = m;
      return {...rest, state: 'running', updatedAt: at};
    }
    case 'cancel':
      return {...m, state: 'cancelled', updatedAt: at};
  }
}

/** What the tick knows of the world when it decides. */
export interface TickFacts {
  nowMs: number;
  /** Days planned by the schedule, check-previous or an operator, still undecided. */
  priorityDays: Day[];
  /** Batch reports written for the current day's run (undefined: no current day). */
  reported?: number;
  /** Whether the current day has a marker of its run. */
  currentDecided?: boolean;
  /** Most migration batches published and unreported at once. */
  outstanding: number;
  /** Batches of the previous day published and not yet reported (none when absent). */
  previousInFlight?: number;
  /** Set inside the quiet window before the nightly run, until its day is listed. */
  hold?: NightlyHold;
  /** Genesys calls the restores of archived recordings made this month: the cap counts them. */
  restoreCalls?: number;
}

export type TickAction =
  | {do: 'nothing'; why: string}
  | {do: 'quiet'; hold: NightlyHold}
  | {do: 'resume-month'}
  /** `reached`: the month has reached the cap; else the next day would pass it. */
  | {do: 'pause-cap'; month: string; reached: boolean; restoreCalls: number}
  | {do: 'publish'; count: number}
  | {do: 'plan'; day: Day}
  | {do: 'finish'};

/**
 * The next step of a migration. Only a running migration moves; a
 * cap-paused one resumes in its new month. While a priority day is
 * undecided nothing is published, and in the quiet window before the
 * nightly run nothing is published or planned. The current day's batches go
 * out at most `outstanding` unreported at a time; once all are out, the next
 * day is planned (just in time: its discovery runs while the last batches
 * export), unless it would take the month past its call cap (capWouldPass).
 */
export function decideTick(m: MigrationRecord, f: TickFacts): TickAction {
  const month = monthOf(f.nowMs);
  if (m.state === 'paused' && m.pause?.by === 'monthly-cap' && m.pause.untilMonth) {
    return month >= m.pause.untilMonth ? {do: 'resume-month'} : {do: 'nothing', why: 'monthly cap'};
  }
  if (m.state !== 'running') return {do: 'nothing', why: m.state};
  const restoreCalls = f.restoreCalls ?? 0;
  if (m.monthlyCallCap !== undefined && (m.calls[month] ?? 0) + restoreCalls >= m.monthlyCallCap)
    return {do: 'pause-cap', month, reached: true, restoreCalls};
  if (f.priorityDays.length > 0) return {do: 'nothing', why: priorityDaysText(f.priorityDays)};
  if (f.hold) return {do: 'quiet', hold: f.hold};
  const c = m.current;
  const before = f.previousInFlight ?? 0;
  if (c && c.published < c.batches) {
    const inFlight = c.published - (f.reported ?? 0) + before;
    const room = f.outstanding - inFlight;
    if (room <= 0) return {do: 'nothing', why: `${inFlight} batches in flight`};
    return {do: 'publish', count: Math.min(room, c.batches - c.published)};
  }
  // The next day waits for the previous one's batches: only two days' batches are counted.
  if (m.next !== undefined && before > 0)
    return {do: 'nothing', why: `${before} batches of ${m.previous?.day} in flight`};
  if (m.next !== undefined && capWouldPass(m, month, restoreCalls))
    return {do: 'pause-cap', month, reached: false, restoreCalls};
  if (m.next !== undefined) return {do: 'plan', day: m.next};
  if (c && !f.currentDecided) return {do: 'nothing', why: `waiting for ${c.day} to be decided`};
  return {do: 'finish'};
}

/**
 * Whether planning another day would take `month` past the monthly cap, at
 * the calls a decided day has cost on average (the planned days not yet
 * counted are charged the same). Conservative: the average includes the
 * discovery of days not yet decided. The restores' calls of the month
 * (`restoreCalls`) count too. The migration's first day of a month always
 * goes, so a cap below one day's calls moves one day a month.
 */
export function capWouldPass(m: MigrationRecord, month: string, restoreCalls = 0): boolean {
  const own = m.calls[month] ?? 0;
  if (m.monthlyCallCap === undefined || own === 0 || m.counted.length === 0) return false;
  const used = own + restoreCalls;
  const perDay = totalCalls(m.calls) / m.counted.length;
  // Every planned day not counted yet: its batches may be reported and still undecided.
  const inFlight = m.planned.filter(d => !m.counted.includes(d)).length;
  return used + perDay * (inFlight + 1) > m.monthlyCallCap;
}

/**
 * Batches of a day published and not reported, `reported` of them being;
 * none once it was planned longer ago than the grace (a stalled run is
 * planned again, not waited for).
 */
export function inFlightOf(
  d: MigrationCurrent,
  reported: number,
  nowMs: number,
  graceMs: number,
): number {
  return nowMs - Date.parse(d.plannedAt) > graceMs ? 0 : Math.max(0, d.published - reported);
}

/** The span's days from `day` to the one before `oldest` (at least `day`), not planned before. */
export function horizonGap(record: MigrationRecord, day: Day, oldest: Day): Day[] {
  const days: Day[] = [];
  for (let d: Day | undefined = day; d !== undefined && d < oldest; d = dayAfter(record, d))
    if (!record.planned.includes(d)) days.push(d);
  return days.length > 0 ? days : [day];
}

/** The day after `day` within the span, or undefined past its end. */
export function dayAfter(m: Pick<MigrationRecord, 'to'>, day: Day): Day | undefined {
  const next = addDays(day, 1);
  return next > m.to ? undefined : next;
}

/**
 * The highest milestone short of done (25, 50, 75) reached with `decided` of
 * `total` days decided, above `told`; done is told when the migration finishes.
 */
export function milestoneReached(decided: number, total: number, told: number): number | undefined {
  const percent = total === 0 ? 100 : Math.floor((decided * 100) / total);
  const reached = MILESTONES.filter(p => p < 100 && p <= percent && p > told);
  return reached.length > 0 ? reached[reached.length - 1] : undefined;
}

const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isDayList = (v: unknown) =>
  Array.isArray(v) && v.every(d => typeof d === 'string' && isValidDay(d));

/** What makes a stored record unusable (empty when usable). */
export function migrationProblems(value: unknown): string[] {
  const m = value as Partial<MigrationRecord> | null;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return ['not a JSON object'];
  const p: string[] = [];
  if (m.kind !== 'migration' || m.version !== 1) p.push('not a version-1 migration record');
  if (!isToken(m.id)) p.push('"id" is not a token');
  if (typeof m.from !== 'string' || !isValidDay(m.from)) p.push('"from" is not a day');
  if (typeof m.to !== 'string' || !isValidDay(m.to)) p.push('"to" is not a day');
  if (!['running', 'paused', 'cancelled', 'done'].includes(m.state as string))
    p.push('"state" is not a migration state');
  if (m.next !== undefined && (typeof m.next !== 'string' || !isValidDay(m.next)))
    p.push('"next" is not a day');
  if (!isDayList(m.planned) || !isDayList(m.counted))
    p.push('"planned" or "counted" is not a list of days');
  if (!isCount(m.skipped) || !isCount(m.milestone))
    p.push('"skipped" or "milestone" is not a count');
  if (m.beyond !== undefined && !isDayList(m.beyond)) p.push('"beyond" is not a list of days');
  if (!isMonthlyCalls(m.calls)) p.push('"calls" is not a map of months to counts');
  const isDay = (c: MigrationCurrent | undefined) =>
    c === undefined ||
    (typeof c === 'object' &&
      c !== null &&
      isValidDay(c.day) &&
      isToken(c.runId) &&
      isCount(c.batches) &&
      isCount(c.published) &&
      c.published <= c.batches);
  if (!isDay(m.current)) p.push('"current" is not a day being published');
  if (!isDay(m.previous)) p.push('"previous" is not a day published');
  if (m.quiet !== undefined && holdProblems(m.quiet).length > 0)
    p.push('"quiet" is not a hold for the nightly run');
  return p;
}
