/**
 * Days in an IANA time zone, as half-open UTC instant ranges that tile time
 * exactly: day D is [start(D), start(D+1)). DST-correct (23- and 25-hour
 * days, midnight gaps, midnight fall-backs) using only Intl.
 *
 * Pure: every function takes the instant it needs; nothing reads the clock.
 */
export type Day = string; // YYYY-MM-DD

export interface Window {
  /** First instant (inclusive), ms since the epoch. */
  startMs: number;
  /** End (exclusive), ms since the epoch. */
  endMs: number;
}

const DAY_MS = 86_400_000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** True for a real calendar date written YYYY-MM-DD. */
export function isValidDay(day: string): boolean {
  const m = DAY_RE.exec(day);
  if (!m) return false;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(t).toISOString().slice(0, 10) === day;
}

export function addDays(day: Day, n: number): Day {
  const m = DAY_RE.exec(day)!;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + n))
    .toISOString()
    .slice(0, 10);
}

/** Whole days from `a` to `b` (b − a). */
export function daysBetween(a: Day, b: Day): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);
}

/** The wall-clock date and time at an instant, as a UTC-based ms number. */
export function wallClockMs(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return (
    Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) +
    (((ms % 1000) + 1000) % 1000)
  );
}

/**
 * The instants whose wall clock in `timeZone` reads `wallMs` (a wall-clock
 * date and time as a UTC-based ms number), earliest first: one, or two where
 * the clocks go back. Where they go forward over it (a time the clock skips)
 * none exists: then both readings, with the offset before the change and
 * with the offset after it.
 */
export function instantsAtWallClock(wallMs: number, timeZone: string): number[] {
  const candidates = new Set<number>();
  for (const probe of [wallMs - DAY_MS, wallMs, wallMs + DAY_MS])
    candidates.add(wallMs - (wallClockMs(probe, timeZone) - probe));
  const all = [...candidates].sort((a, b) => a - b);
  const exact = all.filter(c => wallClockMs(c, timeZone) === wallMs);
  return exact.length > 0 ? exact : all;
}

/** The local time of day at an instant, `HH:MM`. */
export function localTime(ms: number, timeZone: string): string {
  return new Date(wallClockMs(ms, timeZone)).toISOString().slice(11, 16);
}

/** The local calendar date at an instant. */
export function localDate(ms: number, timeZone: string): Day {
  return new Date(wallClockMs(ms, timeZone)).toISOString().slice(0, 10);
}

/**
 * The first instant of `day` in `timeZone`: its local midnight, or, where
 * midnight falls into a DST gap, the first instant after the gap.
 */
export function startOfDay(day: Day, timeZone: string): number {
  const nominal = Date.parse(`${day}T00:00:00Z`);
  // Offsets on Earth lie within ±14 h; try the offsets in force around the day.
  const candidates = new Set<number>();
  for (const probe of [nominal - DAY_MS, nominal, nominal + DAY_MS]) {
    const offset = wallClockMs(probe, timeZone) - probe;
    candidates.add(nominal - offset);
  }
  const exact = [...candidates]
    .filter(c => wallClockMs(c, timeZone) === nominal)
    .sort((a, b) => a - b);
  if (exact.length > 0) return exact[0]!;
  // Midnight does not exist (a gap): the day begins at the end of the gap.
  let lo = nominal - 15 * 3_600_000;
  let hi = nominal + 15 * 3_600_000;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallClockMs(mid, timeZone) >= nominal) hi = mid;
    else lo = mid;
  }
  while (wallClockMs(hi - 1, timeZone) >= nominal) hi -= 1;
  return hi;
}

export function windowOf(day: Day, timeZone: string): Window {
  return {startMs: startOfDay(day, timeZone), endMs: startOfDay(addDays(day, 1), timeZone)};
}

/** The day whose window holds the instant (exactly one does). */
export function dayOf(ms: number, timeZone: string): Day {
  let day = localDate(ms, timeZone);
  // Around a fall-back at midnight the local date can disagree with the windows.
  if (ms >= startOfDay(addDays(day, 1), timeZone)) day = addDays(day, 1);
  else if (ms < startOfDay(day, timeZone)) day = addDays(day, -1);
  return day;
}

/** The day a run at `runMs` exports by default: `lagDays` before the run's own day. */
export function defaultDay(runMs: number, timeZone: string, lagDays: number): Day {
  return addDays(dayOf(runMs, timeZone), -lagDays);
}

/** Days `from`..`to` inclusive. */
export function dayRange(from: Day, to: Day): Day[] {
  const out: Day[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}
