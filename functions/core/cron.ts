/**
 * The nightly run's schedule as Cloud Scheduler takes it (Terraform's
 * `schedule`): a five-field unix-cron expression, `minute hour
 * day-of-month month day-of-week`, read in the deployment's time zone.
 *
 * Each field is `*`, a number or a name (JAN–DEC, SUN–SAT; 7 is Sunday too),
 * a range `a-b`, a step `*\/n` or `a-b/n`, or a list of those separated by
 * commas: what Cloud Scheduler documents. What could be read more than one
 * way is refused instead of guessed: the legacy App Engine syntax ("every 24
 * hours"), `@daily` and the like, `L`, `W`, `#` and `?`, a step after a
 * single value, a range that wraps around, and a restriction of both the day
 * of the month and the day of the week (cron daemons differ on whether a day
 * must match both or either).
 *
 * Pure.
 */

/** The values each field allows, as sets (a day of the week: 0 is Sunday). */
export interface CronSchedule {
  /** The expression, its fields separated by one space. */
  text: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  daysOfWeek: ReadonlySet<number>;
}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  {name: 'minute', min: 0, max: 59},
  {name: 'hour', min: 0, max: 23},
  {name: 'day of the month', min: 1, max: 31},
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  // 7 is Sunday as well as 0.
  {
    name: 'day of the week',
    min: 0,
    max: 7,
    names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
  },
];

const EXAMPLE = '"30 2 * * *" (02:30 every day)';

/** A value of a field: a number in range, or a name (case-insensitive). */
function value(text: string, f: Field): number {
  const i = f.names?.indexOf(text.toUpperCase()) ?? -1;
  if (i >= 0) return f.min + i;
  if (!/^\d{1,2}$/.test(text)) throw new Error(`"${text}" is not a ${f.name}`);
  const n = Number(text);
  if (n < f.min || n > f.max) throw new Error(`${f.name} ${n} is not from ${f.min} to ${f.max}`);
  return n;
}

function field(text: string, f: Field): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(item);
    if (!m) throw new Error(`"${item}" is not a value, a range or a step of the ${f.name}`);
    const [, span, stepText] = m as unknown as [string, string, string | undefined];
    let lo: number;
    let hi: number;
    if (span === '*') [lo, hi] = [f.min, f.max];
    else if (span.includes('-')) {
      const [a, b, ...rest] = span.split('-');
      if (rest.length > 0 || !a || !b) throw new Error(`"${span}" is not a range of the ${f.name}`);
      [lo, hi] = [value(a, f), value(b, f)];
      if (lo > hi) throw new Error(`the range "${span}" of the ${f.name} wraps around`);
    } else {
      if (stepText !== undefined)
        throw new Error(`"${item}": a step follows a range or "*", not a single ${f.name}`);
      [lo, hi] = [value(span, f), value(span, f)];
    }
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw new Error(`"${item}": the step must be at least 1`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/**
 * The schedule `text` describes; an Error saying what is wrong (and what is
 * taken) when it is not a form this module reads exactly.
 */
export function parseCron(text: string): CronSchedule {
  const fields = text.trim().split(/\s+/);
  if (/^every\b/i.test(text.trim()))
    throw new Error(
      `"${text}" is App Engine cron syntax; give a unix-cron expression, e.g. ${EXAMPLE}`,
    );
  if (fields.length !== 5)
    throw new Error(
      `"${text}" is not five fields (minute hour day-of-month month day-of-week), e.g. ${EXAMPLE}`,
    );
  const sets = fields.map((t, i) => {
    try {
      return field(t, FIELDS[i]!);
    } catch (err) {
      throw new Error(`"${text}": ${(err as Error).message}`);
    }
  }) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (fields[2] !== '*' && fields[4] !== '*')
    throw new Error(
      `"${text}" restricts both the day of the month and the day of the week; cron implementations ` +
        'differ on whether a day must match both or either, so restrict only one of them',
    );
  if (sets[4].delete(7)) sets[4].add(0);
  return {
    text: fields.join(' '),
    minutes: sets[0],
    hours: sets[1],
    daysOfMonth: sets[2],
    months: sets[3],
    daysOfWeek: sets[4],
  };
}

/** What is wrong with `text` as a schedule, or undefined. */
export function cronProblem(text: string): string | undefined {
  try {
    parseCron(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Whether the schedule fires at a wall-clock minute, given as a UTC-based
 * ms number (its UTC fields are the wall clock's).
 */
export function cronFiresAt(c: CronSchedule, wallMs: number): boolean {
  const d = new Date(wallMs);
  return (
    c.minutes.has(d.getUTCMinutes()) &&
    c.hours.has(d.getUTCHours()) &&
    c.daysOfMonth.has(d.getUTCDate()) &&
    c.months.has(d.getUTCMonth() + 1) &&
    c.daysOfWeek.has(d.getUTCDay())
  );
}
