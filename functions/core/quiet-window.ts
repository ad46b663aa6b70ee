/**
 * The quiet window before the nightly run (docs/migration.md): a history
 * migration publishes nothing from `quietMinutes` before each scheduled
 * start of the nightly run until the planner has listed the night's day as
 * a priority day. By then the migration's batches have finished and its
 * calls have left Genesys' sliding minute, so the nightly day starts with
 * the whole budget; once the day is listed, the priority-day yield holds the
 * migration until it is decided.
 *
 * The schedule is Cloud Scheduler's (core/cron.ts), in the deployment's time
 * zone. Where the clocks go back over a scheduled time it happens twice, and
 * where they skip it, it may be read an hour either way: every instant the
 * scheduled time can mean gets its window.
 *
 * Pure: the instant is passed in.
 */
import {CronSchedule, cronFiresAt} from './cron';
import {instantsAtWallClock, isValidTimeZone, localTime, wallClockMs} from './time-window';

export interface QuietSettings {
  /** The nightly run's schedule; absent: no quiet window. */
  schedule?: CronSchedule;
  timeZone: string;
  /** Minutes of quiet before each scheduled start; 0: none. */
  quietMinutes: number;
}

/**
 * How long after its scheduled start the nightly run has to list its day:
 * the planner's timeout (infra/functions.tf) and the nightly job's attempt
 * deadline (infra/scheduler.tf). A first attempt that has not listed it by
 * then has failed, and the migration goes on (a retry is a priority day like
 * any other when it comes).
 */
export const NIGHTLY_LISTED_WITHIN_MINUTES = 30;

const MINUTE_MS = 60_000;
/** More than any zone's offset changes by in one transition. */
const SHIFT_MS = 3 * 3600_000;

/** What the migration is holding for: the nightly run's scheduled start and its window. */
export interface NightlyHold {
  /** The scheduled start (ISO). */
  nightlyAt: string;
  /** The window's first instant: `quietMinutes` before (ISO). */
  from: string;
  /** The latest the window lasts if the nightly day is never listed (ISO). */
  latest: string;
  timeZone: string;
}

/**
 * The scheduled starts S whose window [S − quietMinutes, S + NIGHTLY_LISTED_WITHIN_MINUTES)
 * holds `nowMs`, earliest first.
 */
export function quietStarts(s: QuietSettings, nowMs: number): number[] {
  if (!s.schedule || s.quietMinutes <= 0) return [];
  const before = s.quietMinutes * MINUTE_MS;
  const after = NIGHTLY_LISTED_WITHIN_MINUTES * MINUTE_MS;
  const wall = wallClockMs(nowMs, s.timeZone);
  const first = Math.floor((wall - after - SHIFT_MS) / MINUTE_MS) * MINUTE_MS;
  const starts = new Set<number>();
  for (let t = first; t <= wall + before + SHIFT_MS; t += MINUTE_MS) {
    if (!cronFiresAt(s.schedule, t)) continue;
    for (const start of instantsAtWallClock(t, s.timeZone))
      if (start - before <= nowMs && nowMs < start + after) starts.add(start);
  }
  return [...starts].sort((a, b) => a - b);
}

/**
 * The hold at `nowMs`, or undefined: inside a window, before its scheduled
 * start, or after it while no priority day has been listed since the start
 * (`listedMs`: when the listed days were listed).
 */
export function nightlyHold(
  s: QuietSettings,
  nowMs: number,
  listedMs: readonly number[],
): NightlyHold | undefined {
  for (const start of quietStarts(s, nowMs)) {
    if (nowMs >= start && listedMs.some(at => at >= start)) continue;
    return {
      nightlyAt: new Date(start).toISOString(),
      from: new Date(start - s.quietMinutes * MINUTE_MS).toISOString(),
      latest: new Date(start + NIGHTLY_LISTED_WITHIN_MINUTES * MINUTE_MS).toISOString(),
      timeZone: s.timeZone,
    };
  }
  return undefined;
}

/** The hold in words, times in its zone: "quiet for the nightly run at 02:00 (Europe/Brussels) …". */
export function holdText(h: NightlyHold): string {
  const at = (iso: string) => localTime(Date.parse(iso), h.timeZone);
  return (
    `quiet for the nightly run at ${at(h.nightlyAt)} (${h.timeZone}): since ${at(h.from)}, ` +
    `until its day is planned (${at(h.latest)} at the latest)`
  );
}

/** The other hold in words: days planned for the nightly run (or a rerun) still undecided. */
export function priorityDaysText(days: readonly string[]): string {
  return `priority days undecided: ${days.join(', ')}`;
}

/** What makes a stored hold unusable (empty when usable). */
export function holdProblems(value: unknown): string[] {
  const h = value as Partial<NightlyHold> | null;
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return ['not an object'];
  const isTime = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
  return isTime(h.nightlyAt) &&
    isTime(h.from) &&
    isTime(h.latest) &&
    typeof h.timeZone === 'string' &&
    isValidTimeZone(h.timeZone)
    ? []
    : ['not a hold for the nightly run'];
}
