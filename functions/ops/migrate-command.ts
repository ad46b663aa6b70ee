/**
 * `grm migrate`: start a history migration (`grm migrate FROM..TO`), see
 * how it goes (`status`), pause, resume or cancel it, or estimate a span
 * first (`FROM..TO --estimate`). The planner writes the migration's record
 * (the operator asks it, as `grm rerun` does); `status` reads the record
 * and its days from the bucket.
 */
import {SETTINGS} from '../config';
import {MAX_MIGRATION_BYTES} from '../core/limits';
import {MigrationRecord, migrationProblems, spanDays} from '../core/migration';
import {
  estimateMigration,
  estimateText,
  migrationStatus,
  migrationStatusText,
} from '../core/migration-status';
import {migrationObjectName} from '../core/object-names';
import {addDays} from '../core/time-window';
import type {ObjectStore} from '../ports';
import {readDayStates} from './day-states';
import {UsageError, dayRange} from './grm-cli';

export interface MigrateDeps {
  store: ObjectStore;
  env: string;
  now: () => number;
  callPlanner?: (body: unknown) => Promise<{status: number; body: unknown}>;
  out: (text: string) => void;
  json: boolean;
}

/** Days sampled for an estimate, spread over the span. */
export const ESTIMATE_SAMPLES = 5;

/** Sends `body` to the planner (grm's planner URL), or says how to configure one. */
export async function planner(
  d: MigrateDeps,
  body: unknown,
): Promise<{status: number; body: unknown}> {
  if (!d.callPlanner)
    throw new UsageError('no planner URL is configured: give --planner-url or set GRM_PLANNER_URL');
  return d.callPlanner(body);
}

/** Sends a migration request to the planner and prints its answer; 0 when it took it. */
async function ask(
  d: MigrateDeps,
  body: unknown,
  said: (m: MigrationRecord) => string,
): Promise<number> {
  const res = await planner(d, body);
  const ok = res.status >= 200 && res.status < 300;
  const answer = res.body as {migration?: MigrationRecord; error?: string};
  d.out(
    d.json
      ? JSON.stringify(res, null, 2)
      : ok && answer.migration
        ? said(answer.migration)
        : `The planner answered ${res.status}: ${answer.error ?? JSON.stringify(res.body)}`,
  );
  return ok ? 0 : 1;
}

function intFlag(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} takes an integer from ${min} to ${max}`);
  return n;
}

export async function migrateCommand(
  d: MigrateDeps,
  arg: string | undefined,
  flags: Map<string, string>,
): Promise<number> {
  const print = (value: unknown, text: () => string) =>
    d.out(d.json ? JSON.stringify(value, null, 2) : text());
  if (arg === 'status') {
    const got = await d.store.readJson<MigrationRecord>(
      migrationObjectName(d.env),
      MAX_MIGRATION_BYTES,
    );
    if (!got) {
      print({migration: null}, () => 'No migration: start one with grm migrate FROM..TO');
      return 1;
    }
    const problems = migrationProblems(got.value);
    if (problems.length > 0)
      throw new Error(`the migration record is unreadable: ${problems.join('; ')}`);
    const states = await readDayStates(d.store, d.env, got.value.planned);
    const status = migrationStatus(got.value, states, d.now());
    print(status, () => migrationStatusText(status));
    return status.days.failure > 0 ? 1 : 0;
  }
  if (arg === 'pause' || arg === 'resume' || arg === 'cancel') {
    return ask(d, {migration: {action: arg}}, m => `Migration ${m.id} is ${m.state}`);
  }
  const [from, to] = dayRange(arg);
  if (from > to) throw new UsageError(`FROM ${from} is after TO ${to}`);
  if (flags.has('estimate')) {
    const days = spanDays({from, to});
    const step = Math.max(1, Math.floor(days / ESTIMATE_SAMPLES));
    const samples: Array<{day: string; conversations: number}> = [];
    for (let k = 0; k < days && samples.length < ESTIMATE_SAMPLES; k += step) {
      const day = addDays(from, k);
      const res = await planner(d, {day, dryRun: true});
      const body = res.body as {days?: Array<{conversations: number}>; error?: string};
      if (res.status !== 200 || !body.days?.[0])
        throw new Error(
          `the planner's dry run of ${day} answered ${res.status}: ${body.error ?? ''}`,
        );
      samples.push({day, conversations: body.days[0].conversations});
    }
    const bytesPerConversation =
      intFlag(flags.get('bytes-per-conversation'), 'bytes-per-conversation', 1, 10 ** 10) ??
      1_000_000;
    const estimate = estimateMigration({
      days,
      samples,
      clients: intFlag(flags.get('clients'), 'clients', 1, 100) ?? 1,
      perClientPerMinute: SETTINGS.genesysClientRequestsPerMinute.default,
      perTokenPerMinute: SETTINGS.genesysTokenRequestsPerMinute.default,
      workers: intFlag(flags.get('workers'), 'workers', 1, 1000) ?? 10,
      sharePercent: intFlag(flags.get('share'), 'share', 1, 100) ?? SETTINGS.migrationShare.default,
      bytesPerConversation,
      bytesBasis: flags.has('bytes-per-conversation')
        ? `${bytesPerConversation} bytes a conversation, as given`
        : 'assumed 1 MB a conversation; give --bytes-per-conversation from grm status of recent days',
    });
    print(estimate, () => estimateText(estimate));
    return 0;
  }
  const cap = intFlag(flags.get('monthly-calls'), 'monthly-calls', 1, 1_000_000_000);
  return ask(
    d,
    {migration: {action: 'start', from, to, ...(cap !== undefined ? {monthlyCallCap: cap} : {})}},
    m =>
      `Migration ${m.id} started: ${from} to ${to}, ${spanDays({from, to})} days. It runs below the nightly run, a step a minute; see grm migrate status.`,
  );
}
