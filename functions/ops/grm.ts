/**
 * `grm`: the operator's command. Against a deployment with Application
 * Default Credentials (names from flags or GRM_* variables, as Terraform's
 * outputs print them), or against the local stack with `--local` (endpoints
 * from the variables `npm run stack` prints). People get tables, machines
 * `--json`; exit 0 when all is well, 1 when not (or on an error), 2 on a
 * usage error. Expected errors are one line, never a stack trace. This
 * module runs the commands; grm-cli.ts reads the command line,
 * grm-target.ts the deployment, grm-text.ts writes what people read.
 */
import {randomBytes} from 'node:crypto';
import type {Storage} from '@google-cloud/storage';
import {GcsStore} from '../adapters/gcs';
import {operatorClients, storageClient} from '../adapters/operator-clients';
import {InputError, PipelineError} from '../core/errors';
import {DayState, typeBreakdown} from '../core/day-status';
import {addDays} from '../core/time-window';
import {DayVerification} from '../core/verify';
import {digestStream} from '../checksums';
import {doctorCommand} from './doctor-command';
import {
  COMMANDS,
  COMMON,
  UsageError,
  day,
  dayRange,
  daysBetween,
  help,
  newestDay,
  parse,
  seconds,
} from './grm-cli';
import {Target, target} from './grm-target';
import {
  deadLettersText,
  gapsText,
  replayText,
  rerunText,
  statusText,
  verificationText,
  waivedText,
} from './grm-text';
import {Operator} from './operator';
import {reportCommand} from './report-command';
import {migrateCommand} from './migrate-command';
import {restoreCommand} from './restore-command';
import {Verifier} from './verifier';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
  /** Today, for default ranges. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The deployment's clients, closed when the command ends. */
function clientsFor(t: Target, closers: Array<() => Promise<void>>) {
  const clients = operatorClients(t);
  closers.push(() => clients.close());
  return clients;
}

function operatorFor(t: Target, io: Io, closers: Array<() => Promise<void>>): Operator {
  const clients = clientsFor(t, closers);
  return new Operator({
    env: t.env,
    now: io.now,
    newId: () =>
      `w${new Date(io.now()).toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`,
    store: clients.store,
    publisher: clients.publisher,
    deadLetters: clients.deadLetters,
    ...(clients.callPlanner ? {callPlanner: clients.callPlanner} : {}),
  });
}

export function verifierFor(
  t: Pick<Target, 'bucket' | 'project' | 'env' | 'gcsEndpoint'>,
  io: Pick<Io, 'now'>,
  storage: Storage = storageClient({project: t.project, endpoint: t.gcsEndpoint}),
): Verifier {
  const store = new GcsStore(t.bucket, storage);
  return new Verifier({
    env: t.env,
    store,
    now: io.now,
    readBack: name => digestStream(store.read(name)),
  });
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
    if (command === 'report') return await reportCommand(t, flags, positional, io);
    if (command === 'migrate' || command === 'restore') {
      const clients = clientsFor(t, closers);
      const deps = {
        store: clients.store,
        env: t.env,
        now: io.now,
        ...(clients.callPlanner ? {callPlanner: clients.callPlanner} : {}),
        out: io.out,
        json: flags.has('json'),
      };
      return command === 'migrate'
        ? await migrateCommand(deps, positional[0], flags)
        : await restoreCommand(deps, positional[0]);
    }
    const op = operatorFor(t, io, closers);
    const json = flags.has('json');
    const print = (value: unknown, text: () => string) =>
      io.out(json ? JSON.stringify(value, null, 2) : text());
    switch (command) {
      case 'status': {
        const to = flags.has('to') ? day(flags.get('to'), '--to') : newestDay(io.now());
        const from = flags.has('from') ? day(flags.get('from'), '--from') : addDays(to, -6);
        const states = await op.status(daysBetween(from, to));
        print(states, () => statusText(states));
        return states.every(s => s.state === 'success') ? 0 : 1;
      }
      case 'gaps': {
        const d = day(positional[0], 'DAY');
        const found = await op.gaps(d);
        if (!found) {
          print({day: d, gaps: []}, () => `${d} has no _FAILURE (grm status ${d} says why)`);
          return 0;
        }
        print({day: d, runId: found.marker.runId, gaps: found.gaps}, () => gapsText(d, found));
        return found.gaps.length > 0 ? 1 : 0;
      }
      case 'replay': {
        const d = day(positional[0], 'DAY');
        const wait = seconds(flags.get('wait'));
        const before = (await op.status([d]))[0]!;
        const result = await op.replay(d, {dryRun: flags.has('dry-run')});
        print(result, () => replayText(d, result, flags.has('dry-run')));
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
        print(result, () => waivedText(d, result));
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
        print(res, () => rerunText(res));
        return res.status >= 200 && res.status < 300 ? 0 : 1;
      }
      case 'dead-letters': {
        const max = flags.has('max') ? Number(flags.get('max')) : 100;
        if (!Number.isInteger(max) || max < 1 || max > 10_000)
          throw new UsageError('--max takes a count from 1 to 10000');
        const replay = flags.has('replay');
        const views = await op.deadLetters({max, replay});
        print(views, () => deadLettersText(views, t.deadLetterSubscription, replay));
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
