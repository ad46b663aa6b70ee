/**
 * grm's command line: its commands and their flags, the help printed from
 * them, argv checked against them (usage errors in grm's words), and the
 * days and numbers its arguments carry.
 */
import {SETTINGS} from '../config';
import {addDays, isValidDay} from '../core/time-window';
import {readWords} from './argv';
import {DOCTOR_FLAGS} from './doctor-command';

export class UsageError extends Error {
  override name = 'UsageError' as const;
}

export interface Flag {
  name: string;
  help: string;
  value?: string;
  /** May be given more than once (values are joined with newlines). */
  repeatable?: boolean;
}

export const COMMON: Flag[] = [
  {
    name: 'local',
    help: 'the local stack (npm run stack): emulator endpoints from its exported variables',
  },
  {name: 'project', value: 'ID', help: 'project (GRM_PROJECT; --local: demo-project)'},
  {name: 'bucket', value: 'NAME', help: 'recordings bucket (GRM_BUCKET; terraform output bucket)'},
  {name: 'env', value: 'NAME', help: 'export_env folder (GRM_ENV)'},
  {name: 'topic', value: 'NAME', help: 'batches topic (GRM_TOPIC; default grm-recording-batches)'},
  {name: 'json', help: 'print JSON instead of a table'},
  {name: 'help', help: 'show this help'},
];

/** Commands that ask the planner take its URL. */
const PLANNER_URL: Flag = {
  name: 'planner-url',
  value: 'URL',
  help: 'planner URL (GRM_PLANNER_URL; --local: PLANNER_URL)',
};

interface Command {
  args: string;
  summary: string;
  flags: Flag[];
}

export const COMMANDS: Record<string, Command> = {
  status: {
    args: '',
    summary:
      'one row per day: marker, run, counts, size, reruns, email; exit 1 unless every day is _SUCCESS',
    flags: [
      {name: 'from', value: 'DAY', help: 'first day (default: 6 days before --to)'},
      {
        name: 'to',
        value: 'DAY',
        help: `last day (default: ${SETTINGS.windowLagDays.default} days ago, the newest nightly window)`,
      },
    ],
  },
  gaps: {
    args: 'DAY',
    summary: 'every gap of the day with its reason and the action that fixes it',
    flags: [],
  },
  replay: {
    args: 'DAY',
    summary: "publish the replay of the day's gaps (only the conversations that still have gaps)",
    flags: [
      {name: 'dry-run', help: 'print the messages without publishing them'},
      {name: 'wait', value: 'SECONDS', help: 'wait that long for the new verdict and print it'},
    ],
  },
  rerun: {
    args: 'DAY|FROM..TO',
    summary: 'ask the planner for a new run of a day or a range (your own identity)',
    flags: [PLANNER_URL],
  },
  waive: {
    args: 'DAY',
    summary:
      "accept recordings of the day's _FAILURE that can never be exported; the day is decided again",
    flags: [
      {
        name: 'recording',
        value: 'ID',
        repeatable: true,
        help: 'a recording id from grm gaps (repeat it)',
      },
      {name: 'reason', value: 'TEXT', help: 'why it can never be exported (kept in _SUCCESS)'},
      {name: 'by', value: 'EMAIL', help: 'who waives it'},
      {name: 'wait', value: 'SECONDS', help: 'wait that long for the new verdict and print it'},
      {
        name: 'any-reason',
        help: 'also waive gaps a fix could still close (archived, uploading, errors): only if they truly never will be',
      },
    ],
  },
  verify: {
    args: 'DAY|FROM..TO',
    summary:
      'prove a decided day intact: every object its reports record present and unchanged, nothing else; exit 1 on any finding',
    flags: [
      {
        name: 'deep',
        help: "read every object's bytes again and recompute MD5 and CRC32C instead of trusting GCS' checksums (needs read access to the recordings)",
      },
      {
        name: 'require-retention',
        help: 'also a finding: every recording or metadata document exported without a retention',
      },
    ],
  },
  report: {
    args: '[FROM..TO]',
    summary:
      'write the days as one HTML page: a calendar coloured by state (each day opens its counts and gaps), charts per day',
    flags: [
      {name: 'out', value: 'FILE.html', help: 'where the page goes (written whole or not at all)'},
    ],
  },
  doctor: {
    args: '',
    summary:
      'check a deployment before its first night: secrets, Genesys permissions, SendGrid, wiring, bucket rights, a planner dry run; exit 1 on any failed check',
    flags: DOCTOR_FLAGS,
  },
  migrate: {
    args: 'FROM..TO|status|pause|resume|cancel',
    summary:
      'move a span of history (months or years) into the archive below the nightly run; status, pause, resume, cancel',
    flags: [
      {
        name: 'monthly-calls',
        value: 'N',
        help: 'pause when the migration has made N Genesys calls this month',
      },
      {
        name: 'estimate',
        help: 'only estimate the span: conversations (sampled dry runs), calls, time, bytes, cost',
      },
      {name: 'clients', value: 'N', help: '--estimate: OAuth clients configured (default 1)'},
      {name: 'workers', value: 'N', help: '--estimate: worker instances (default 10)'},
      {name: 'share', value: 'PERCENT', help: '--estimate: MIGRATION_SHARE (default 50)'},
      {
        name: 'bytes-per-conversation',
        value: 'N',
        help: '--estimate: bytes a conversation (default 1 MB)',
      },
      PLANNER_URL,
    ],
  },
  restore: {
    args: 'DAY|status',
    summary:
      "have the pipeline restore a day's archived recordings from Genesys Cloud, export them and decide the day again; status: where the restores stand",
    flags: [PLANNER_URL],
  },
  'dead-letters': {
    args: '',
    summary: 'list the batch messages in the dead-letter subscription, and replay them on request',
    flags: [
      {name: 'replay', help: 'publish each batch message again and acknowledge it'},
      {name: 'max', value: 'N', help: 'at most N messages (default 100)'},
      {
        name: 'subscription',
        value: 'NAME',
        help: 'dead-letter subscription (GRM_DEAD_LETTER_SUBSCRIPTION; default TOPIC-dead-letter-keep)',
      },
    ],
  },
};

export function help(command?: string): string {
  const flagLines = (flags: Flag[]) =>
    flags.map(f => `  --${f.name}${f.value ? ` ${f.value}` : ''}`.padEnd(30) + f.help);
  if (command && COMMANDS[command]) {
    const c = COMMANDS[command];
    return [
      `usage: grm ${command}${c.args ? ` ${c.args}` : ''} [flags]`,
      '',
      c.summary,
      '',
      ...flagLines([...c.flags, ...COMMON]),
    ].join('\n');
  }
  return [
    'usage: grm COMMAND [ARGS] [flags]',
    '',
    ...Object.entries(COMMANDS).map(
      ([name, c]) => `  ${`${name}${c.args ? ` ${c.args}` : ''}`.padEnd(26)}${c.summary}`,
    ),
    '',
    'Flags of every command:',
    ...flagLines(COMMON),
    '',
    'grm COMMAND --help shows the flags of one command.',
  ].join('\n');
}

/** Splits argv into positionals and flags, checked against the command's flags. */
export function parse(
  argv: string[],
  flags: Flag[],
): {positional: string[]; flags: Map<string, string>} {
  const known = new Map(flags.map(f => [f.name, f]));
  const valued = flags.filter(f => f.value).map(f => f.name);
  const positional: string[] = [];
  const out = new Map<string, string>();
  for (const word of readWords(argv, valued)) {
    if (word.kind === 'positional') {
      positional.push(word.value);
      continue;
    }
    const {name, value} = word;
    const flag = known.get(name);
    if (!flag) throw new UsageError(`unknown flag --${name} (grm --help lists them)`);
    if (out.has(name) && !flag.repeatable) throw new UsageError(`--${name} given more than once`);
    if (!flag.value) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      out.set(name, 'true');
    } else {
      if (value === undefined || value.startsWith('--'))
        throw new UsageError(`--${name} needs a value (${flag.value})`);
      out.set(name, out.has(name) ? `${out.get(name)}\n${value}` : value);
    }
  }
  return {positional, flags: out};
}

/** The newest nightly window's day: `windowLagDays` before today (UTC), as the planner plans. */
export function newestDay(now: number): string {
  return addDays(new Date(now).toISOString().slice(0, 10), -SETTINGS.windowLagDays.default);
}

export function day(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`${what} is missing (YYYY-MM-DD)`);
  if (!isValidDay(value)) throw new UsageError(`${what} "${value}" is not a day (YYYY-MM-DD)`);
  return value;
}

/** DAY or FROM..TO, both days valid. */
export function dayRange(arg: string | undefined): [string, string] {
  if (!arg) throw new UsageError('DAY or FROM..TO is missing');
  const [from, to] = arg.includes('..') ? arg.split('..', 2) : [arg, arg];
  return [day(from, 'FROM'), day(to, 'TO')];
}

export function daysBetween(from: string, to: string): string[] {
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) {
    days.push(d);
    if (days.length > 366) throw new UsageError('at most 366 days at once');
  }
  return days;
}

/** `--wait`'s seconds: 0 (no wait) to an hour. */
export function seconds(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 3600)
    throw new UsageError('--wait takes 0 to 3600 seconds');
  return n;
}
