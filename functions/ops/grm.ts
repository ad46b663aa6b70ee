/**
 * `grm`: the operator's command. Against a deployment with Application
 * Default Credentials (names from flags or GRM_* variables, as Terraform's
 * outputs print them), or against the local stack with `--local` (endpoints
 * from the variables `npm run stack` prints). People get tables, machines
 * `--json`; exit 0 when all is well, 1 when not (or on an error), 2 on a
 * usage error. Expected errors are one line, never a stack trace.
 */
import {randomBytes} from 'node:crypto';
import {Storage} from '@google-cloud/storage';
import {PubSub} from '@google-cloud/pubsub';
import {GcsStore} from '../adapters/gcs';
import {PubsubDeadLetterQueue} from '../adapters/dead-letters';
import {plannerClient} from '../adapters/planner-client';
import {PubsubPublisher} from '../adapters/pubsub';
import {InputError, PipelineError} from '../core/errors';
import {DayState, statusTable, typeBreakdown} from '../core/operations';
import {renderTable} from '../core/tables';
import {addDays, isValidDay} from '../core/time-window';
import {formatBytes, plural} from '../core/units';
import {Operator} from './operator';
import {Verifier} from './verifier';
import {DayVerification, countFindings} from '../core/verify';
import {digestStream} from '../checksums';
import {DOCTOR_FLAGS, doctorCommand} from './doctor-command';

/** The batches topic Terraform creates with the default prefix (test/repo/docs.spec.ts checks). */
export const DEFAULT_TOPIC = 'grm-recording-batches';

export class UsageError extends Error {
  override name = 'UsageError' as const;
}

interface Flag {
  name: string;
  help: string;
  value?: string;
  /** May be given more than once (values are joined with newlines). */
  repeatable?: boolean;
}

const COMMON: Flag[] = [
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

interface Command {
  args: string;
  summary: string;
  flags: Flag[];
}

const COMMANDS: Record<string, Command> = {
  status: {
    args: '',
    summary:
      'one row per day: marker, run, counts, size, reruns, email; exit 1 unless every day is _SUCCESS',
    flags: [
      {name: 'from', value: 'DAY', help: 'first day (default: 6 days before --to)'},
      {name: 'to', value: 'DAY', help: 'last day (default: 3 days ago, the newest nightly window)'},
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
    flags: [
      {
        name: 'planner-url',
        value: 'URL',
        help: 'planner URL (GRM_PLANNER_URL; --local: PLANNER_URL)',
      },
    ],
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
  doctor: {
    args: '',
    summary:
      'check a deployment before its first night: secrets, Genesys permissions, SendGrid, wiring, bucket rights, a planner dry run; exit 1 on any failed check',
    flags: DOCTOR_FLAGS,
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

export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /** Today, for default ranges. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

function help(command?: string): string {
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
function parse(argv: string[], flags: Flag[]): {positional: string[]; flags: Map<string, string>} {
  const known = new Map(flags.map(f => [f.name, f]));
  const positional: string[] = [];
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const flag = known.get(name);
    if (!flag) throw new UsageError(`unknown flag --${name} (grm --help lists them)`);
    if (out.has(name) && !flag.repeatable) throw new UsageError(`--${name} given more than once`);
    if (!flag.value) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      out.set(name, 'true');
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('--'))
        throw new UsageError(`--${name} needs a value (${flag.value})`);
      out.set(name, out.has(name) ? `${out.get(name)}\n${value}` : value);
    }
  }
  return {positional, flags: out};
}

function day(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`${what} is missing (YYYY-MM-DD)`);
  if (!isValidDay(value)) throw new UsageError(`${what} "${value}" is not a day (YYYY-MM-DD)`);
  return value;
}

/** DAY or FROM..TO, both days valid. */
function dayRange(arg: string | undefined): [string, string] {
  if (!arg) throw new UsageError('DAY or FROM..TO is missing');
  const [from, to] = arg.includes('..') ? arg.split('..', 2) : [arg, arg];
  return [day(from, 'FROM'), day(to, 'TO')];
}

function daysBetween(from: string, to: string): string[] {
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) {
    days.push(d);
    if (days.length > 366) throw new UsageError('at most 366 days at once');
  }
  return days;
}

interface Target {
  project: string;
  bucket: string;
  env: string;
  topic: string;
  deadLetterSubscription: string;
  plannerUrl?: string;
  local: boolean;
  gcsEndpoint?: string;
  pubsubEndpoint?: string;
}

function target(flags: Map<string, string>, env: NodeJS.ProcessEnv): Target {
  const local = flags.has('local');
  const pick = (flag: string, variable: string, localDefault?: string, fallback?: string) =>
    flags.get(flag) ?? env[variable] ?? (local ? localDefault : undefined) ?? fallback;
  const project = pick('project', 'GRM_PROJECT', env.GOOGLE_CLOUD_PROJECT ?? 'demo-project');
  const bucket = pick('bucket', 'GRM_BUCKET', 'genesys-recordings-local');
  const folder = pick('env', 'GRM_ENV', 'local');
  const topic = pick('topic', 'GRM_TOPIC', 'recording-batches', DEFAULT_TOPIC)!;
  const missing = [
    ...(project ? [] : ['--project (or GRM_PROJECT)']),
    ...(bucket ? [] : ['--bucket (or GRM_BUCKET)']),
    ...(folder ? [] : ['--env (or GRM_ENV)']),
  ];
  if (missing.length > 0) throw new UsageError(`say which deployment: ${missing.join(', ')}`);
  if (local && (!env.STORAGE_EMULATOR_HOST || !env.PUBSUB_EMULATOR_HOST)) {
    throw new UsageError(
      '--local needs the variables `npm run stack` prints (STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST)',
    );
  }
  if (!local) {
    // What `npm run stack` exports: the emulators, and the local identity's credentials
    // (its metadata server, and the Secret Manager stand-in's certificate).
    const emulators = [
      'STORAGE_EMULATOR_HOST',
      'PUBSUB_EMULATOR_HOST',
      'SECRET_MANAGER_EMULATOR_HOST',
      'GCE_METADATA_HOST',
      'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH',
    ].filter(v => env[v]);
    if (emulators.length > 0)
      throw new UsageError(
        `${listed(emulators)} ${emulators.length > 1 ? 'are' : 'is'} set, so the Google clients would talk to the local stack: add --local, or unset ${emulators.join(' ')} to reach the real deployment`,
      );
  }
  const plannerUrl = pick('planner-url', 'GRM_PLANNER_URL', env.PLANNER_URL);
  return {
    project: project!,
    bucket: bucket!,
    env: folder!,
    topic,
    deadLetterSubscription: pick(
      'subscription',
      'GRM_DEAD_LETTER_SUBSCRIPTION',
      undefined,
      `${topic}-dead-letter-keep`,
    )!,
    ...(plannerUrl ? {plannerUrl} : {}),
    local,
    ...(local
      ? {gcsEndpoint: env.STORAGE_EMULATOR_HOST, pubsubEndpoint: env.PUBSUB_EMULATOR_HOST}
      : {}),
  };
}

function operatorFor(t: Target, io: Io, closers: Array<() => Promise<void>>): Operator {
  const storage = storageOf(t);
  const pubsub = new PubSub({
    projectId: t.project,
    ...(t.pubsubEndpoint ? {apiEndpoint: t.pubsubEndpoint} : {}),
  });
  const deadLetters = new PubsubDeadLetterQueue(t.project, t.deadLetterSubscription, pubsub);
  closers.push(
    () => deadLetters.close(),
    () => pubsub.close(),
  );
  return new Operator({
    env: t.env,
    now: io.now,
    newId: () =>
      `w${new Date(io.now()).toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`,
    store: new GcsStore(t.bucket, storage),
    publisher: new PubsubPublisher(t.topic, pubsub),
    deadLetters,
    ...(t.plannerUrl ? {callPlanner: plannerClient(t.plannerUrl)} : {}),
  });
}

/**
 * Cloud Storage with Application Default Credentials, sent to the local
 * stack's emulator too (which authorizes them as Cloud Storage does).
 */
function storageOf(t: Pick<Target, 'project' | 'gcsEndpoint'>): Storage {
  return new Storage({
    projectId: t.project,
    useAuthWithCustomEndpoint: true,
    ...(t.gcsEndpoint ? {apiEndpoint: t.gcsEndpoint} : {}),
  });
}

export function verifierFor(
  t: Pick<Target, 'bucket' | 'project' | 'env' | 'gcsEndpoint'>,
  io: Pick<Io, 'now'>,
  storage: Storage = storageOf(t),
): Verifier {
  const store = new GcsStore(t.bucket, storage);
  return new Verifier({
    env: t.env,
    store,
    now: io.now,
    readBack: name => digestStream(store.read(name)),
  });
}

/** One day's verification for people: a headline, then one line per finding. */
export function verificationText(v: DayVerification): string {
  const head = `${v.day} ${v.marker ?? 'undecided'}${v.runId ? ` (run ${v.runId})` : ''}`;
  const r = v.retention;
  const retention = !r
    ? ''
    : r.retained === 0
      ? '; no retention recorded'
      : `; ${r.retained} retained (earliest end ${r.earliestUntil})` +
        (r.unretained > 0 ? `, ${r.unretained} without retention` : '');
  const scope =
    `${plural(v.reports, 'report')}, ${plural(v.objects, 'object')} (${formatBytes(v.bytes)}) ` +
    (v.deep ? 'read back and hashed' : "checked against GCS' checksums") +
    retention;
  if (v.intact) return `${head}: intact — ${scope}`;
  const counts = Object.entries(countFindings(v.findings))
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return [
    `${head}: ${plural(v.findings.length, 'finding')} (${counts}) — ${scope}`,
    ...v.findings.map(f => `  ${f.kind.padEnd(12)} ${f.object}\n               ${f.detail}`),
  ].join('\n');
}

function seconds(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 3600)
    throw new UsageError('--wait takes 0 to 3600 seconds');
  return n;
}

/**
 * Polls the day until `decided` says the verdict it waits for is in (or a
 * new run started, or time ran out), printing where it stands on stderr every
 * 10 s and the verdict on stdout; exit 0 on `_SUCCESS`.
 */
export async function waitForVerdict(
  op: Pick<Operator, 'status'>,
  io: Io,
  d: string,
  before: DayState,
  wait: number,
  decided: (now: DayState) => boolean,
  print: (value: unknown, text: () => string) => void,
): Promise<number> {
  const start = io.now();
  const deadline = start + wait * 1000;
  let lastNote = start;
  for (;;) {
    const now = (await op.status([d]))[0]!;
    if (now.runId !== before.runId) {
      print(
        now,
        () => `a new run ${now.runId ?? ''} of ${d} started meanwhile; follow it with grm status`,
      );
      return 1;
    }
    if (decided(now) || io.now() >= deadline) {
      print(now, () =>
        decided(now)
          ? `${d} is now ${now.state === 'success' ? '_SUCCESS' : '_FAILURE'}: ${typeBreakdown(now.totals ?? {})}`
          : `no new verdict for ${d} after ${wait} s (the worker may still be retrying; grm status)`,
      );
      return now.state === 'success' && decided(now) ? 0 : 1;
    }
    // Progress on stderr every 10 s, so a long wait is never silent (stdout stays the result).
    if (io.now() - lastNote >= 10_000) {
      lastNote = io.now();
      io.err(
        `waiting for ${d}: still ${now.state === 'failure' ? '_FAILURE' : now.state}, ` +
          `${now.totals?.all?.failed ?? 0} failed (${Math.round((lastNote - start) / 1000)} s of ${wait} s)`,
      );
    }
    await io.sleep(1000);
  }
}

/** Decided again from new reports of every one of `batchIds`. */
function reportsRewritten(before: DayState, batchIds: string[]): (now: DayState) => boolean {
  const was = new Map((before.reports ?? []).map(r => [r.batchId, r.generation]));
  return now => {
    const is = new Map((now.reports ?? []).map(r => [r.batchId, r.generation]));
    return batchIds.every(b => is.has(b) && is.get(b) !== was.get(b));
  };
}

/** Runs one grm command line; resolves the exit code. */
export async function grm(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    io.out(help());
    return command ? 0 : 2;
  }
  const spec = COMMANDS[command];
  if (!spec) {
    io.err(`grm: unknown command "${command}"\n\n${help()}`);
    return 2;
  }
  const closers: Array<() => Promise<void>> = [];
  try {
    const {positional, flags} = parse(rest, [...spec.flags, ...COMMON]);
    if (flags.has('help')) {
      io.out(help(command));
      return 0;
    }
    const maxArgs = spec.args ? 1 : 0;
    if (positional.length > maxArgs)
      throw new UsageError(`unexpected argument "${positional[maxArgs]}"`);
    const t = target(flags, io.env);
    if (command === 'doctor') return await doctorCommand(t, flags, io, m => new UsageError(m));
    const op = operatorFor(t, io, closers);
    const json = flags.has('json');
    const print = (value: unknown, text: () => string) =>
      io.out(json ? JSON.stringify(value, null, 2) : text());
    switch (command) {
      case 'status': {
        const to = flags.has('to')
          ? day(flags.get('to'), '--to')
          : addDays(new Date(io.now()).toISOString().slice(0, 10), -3);
        const from = flags.has('from') ? day(flags.get('from'), '--from') : addDays(to, -6);
        const states = await op.status(daysBetween(from, to));
        print(states, () =>
          [
            renderTable(statusTable(states, formatBytes)),
            ...states
              .filter(s => s.gapsByReason?.length)
              .map(
                s =>
                  `\n${s.day} gaps: ` +
                  s.gapsByReason!.map(g => `${g.count} × ${g.reason}`).join('; '),
              ),
          ].join('\n'),
        );
        return states.every(s => s.state === 'success') ? 0 : 1;
      }
      case 'gaps': {
        const d = day(positional[0], 'DAY');
        const found = await op.gaps(d);
        if (!found) {
          print({day: d, gaps: []}, () => `${d} has no _FAILURE (grm status ${d} says why)`);
          return 0;
        }
        print({day: d, runId: found.marker.runId, gaps: found.gaps}, () =>
          [
            `${d} (run ${found.marker.runId}): ${plural(found.gaps.length, 'gap')}; ${typeBreakdown(found.marker.totals)}`,
            '',
            ...found.gaps.map(
              g =>
                `${g.conversationId}${g.recordingId ? ` / ${g.recordingId} (${g.type ?? 'call'})` : ''}\n` +
                `  why: ${g.reason}\n  fix: ${g.action}`,
            ),
          ].join('\n'),
        );
        return found.gaps.length > 0 ? 1 : 0;
      }
      case 'replay': {
        const d = day(positional[0], 'DAY');
        const wait = seconds(flags.get('wait'));
        const before = (await op.status([d]))[0]!;
        const result = await op.replay(d, {dryRun: flags.has('dry-run')});
        const verb = flags.has('dry-run') ? 'would publish' : 'published';
        print(result, () =>
          [
            `${verb} ${plural(result.messages.length, 'message')} for ${d} (run ${result.runId}):`,
            ...result.messages.map(
              m =>
                `  ${m.batchId}: ${plural(m.conversationIds.length, 'conversation')}${m.messageId ? ` (message ${m.messageId})` : ''}`,
            ),
          ].join('\n'),
        );
        if (!wait || flags.has('dry-run')) return 0;
        const batches = result.messages.flatMap(m => (m.batchId ? [m.batchId] : []));
        return waitForVerdict(op, io, d, before, wait, reportsRewritten(before, batches), print);
      }
      case 'waive': {
        const d = day(positional[0], 'DAY');
        const recordingIds = flags.get('recording')?.split('\n') ?? [];
        const reason = flags.get('reason');
        const by = flags.get('by');
        if (!recordingIds.length || !reason || !by)
          throw new UsageError('--recording, --reason and --by are required');
        const wait = seconds(flags.get('wait'));
        const before = (await op.status([d]))[0]!;
        const result = await op.waive(d, {
          recordingIds,
          reason,
          by,
          anyReason: flags.has('any-reason'),
        });
        print(
          result,
          () =>
            `waived ${plural(result.waiver.recordingIds.length, 'recording')} of ${d}: ${result.object}`,
        );
        const redecided = (now: DayState) => now.fingerprint !== before.fingerprint;
        return wait ? waitForVerdict(op, io, d, before, wait, redecided, print) : 0;
      }
      case 'verify': {
        const [from, to] = dayRange(positional[0]);
        // (A reversed range is the planner's to refuse for rerun; here it is a usage error.)
        if (from > to) throw new UsageError(`FROM ${from} is after TO ${to}`);
        const verifier = verifierFor(t, io);
        const opts = {deep: flags.has('deep'), requireRetention: flags.has('require-retention')};
        const results: DayVerification[] = [];
        for (const d of daysBetween(from, to)) results.push(await verifier.verifyDay(d, opts));
        print(results, () => results.map(verificationText).join('\n'));
        return results.every(r => r.intact) ? 0 : 1;
      }
      case 'rerun': {
        const [from, to] = dayRange(positional[0]);
        const res = await op.rerun(from, to);
        print(res, () => `planner answered ${res.status}:\n${JSON.stringify(res.body, null, 2)}`);
        return res.status >= 200 && res.status < 300 ? 0 : 1;
      }
      case 'dead-letters': {
        const max = flags.has('max') ? Number(flags.get('max')) : 100;
        if (!Number.isInteger(max) || max < 1 || max > 10_000)
          throw new UsageError('--max takes a count from 1 to 10000');
        const replay = flags.has('replay');
        const views = await op.deadLetters({max, replay});
        print(views, () =>
          views.length === 0
            ? `no dead letters in ${t.deadLetterSubscription}`
            : [
                `${plural(views.length, 'dead letter')} in ${t.deadLetterSubscription}${replay ? ' (valid ones replayed and acknowledged)' : ''}:`,
                ...views.map(
                  v =>
                    `  ${v.messageId}: ${v.invalid ? `invalid (${v.invalid})` : `${v.day} ${v.batchId ?? 'ad-hoc'}, ${plural(v.conversations ?? 0, 'conversation')}`}` +
                    `${v.deliveries ? `, ${plural(v.deliveries, 'delivery')}` : ''} — ${v.why}`,
                ),
              ].join('\n'),
        );
        return views.some(v => !v.replayed) ? 1 : 0;
      }
    }
    return 2;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`grm ${command}: ${err.message}`);
      return 2;
    }
    const message =
      err instanceof InputError || err instanceof PipelineError
        ? err.message
        : err instanceof Error
          ? err.message
          : String(err);
    const cause =
      err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    io.err(`grm ${command}: ${message}${cause}`);
    return 1;
  } finally {
    await Promise.allSettled(closers.map(c => c()));
  }
}

/** `a`, `a and b`, `a, b and c`. */
function listed(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
