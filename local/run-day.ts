/**
 * Runs one nightly export on a running local stack, the way Cloud Scheduler
 * would, waits for every batch report, and checks what landed in the GCS
 * emulator against the Genesys simulator's ground truth. Shared by the demo
 * and the integration tests.
 */
import {execFile} from 'node:child_process';
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {Storage} from '@google-cloud/storage';
import type {Stack} from './stack';
import {DayProgress, ProgressOutput} from './common/progress';
import {GcsStore} from '../functions/adapters/gcs';
import type {StoredObject} from '../functions/ports';
import {addDays, startOfDay} from '../functions/core/time-window';
import type {BatchReport} from '../functions/core/report';
import type {DayPlan} from '../functions/core/day-plan';
import type {DayOutcome} from '../functions/core/day-outcome';
import type {Ledger} from '../functions/core/ledger';
import {renderTable} from '../functions/core/tables';
import {formatBytes, plural} from '../functions/core/human-format';

/** A `_SUCCESS` or `_FAILURE` as the checker writes it. */
export type DayMarker = Omit<DayOutcome, 'kind'> & {
  kind: 'day-marker';
  marker: '_SUCCESS' | '_FAILURE';
  env: string;
  decidedAt: string;
  history?: Ledger['history'];
};

export interface TruthRecording {
  recordingId: string;
  media: string;
  fileState: string;
  contentType: string;
  exportable: boolean;
  /** Flagged as holding PCI/PII: left out of the batch results of a client lacking viewSensitiveData. */
  sensitive?: boolean;
  size?: number;
  md5Hash?: string;
}

export interface Truth {
  conversations: Array<{conversationId: string; recordings: TruthRecording[]}>;
}

export interface DayResult {
  day: string;
  runId: string;
  plannerStatus: number;
  seconds: number;
  reports: BatchReport[];
  totals: Record<
    string,
    {expected: number; exported: number; skipped: number; failed: number; bytes: number}
  >;
  reasons: {skipped: Record<string, number>; failed: Record<string, number>};
  verification: {
    exportable: number;
    exportedAndVerified: number;
    missing: string[];
    mismatched: string[];
  };
  filesDir: string;
  /** The day's marker for this run, when the stack runs the checker. */
  marker?: DayMarker;
  /** The checker's ledger once the marker's email (if any) is settled. */
  ledger?: Ledger;
}

const TYPES = ['call', 'chat', 'email', 'message', 'screen'] as const;

/**
 * The stack's Cloud Storage as `identity` acts on it (default: the project
 * owner, for ground truth and fault injection; any identity of the stack's
 * IAM, e.g. `worker` or `operator`, to act with only its grants).
 */
export function storageFor(stack: Stack, identity = 'owner'): Storage {
  const iam = stack.iam;
  if (!iam) return new Storage({apiEndpoint: stack.gcsUrl, projectId: stack.project});
  const email = iam.identities[identity];
  if (!email) throw new Error(`the stack has no identity ${identity}`);
  // The emulator's host as the client's universe: @google-cloud/storage 8 sends
  // no credentials when createWriteStream/save open a resumable session at an
  // endpoint outside its universe, whatever useAuthWithCustomEndpoint says
  // (the product's adapter opens its sessions with createResumableUpload).
  const universeDomain = new URL(stack.gcsUrl).hostname;
  return new Storage({
    apiEndpoint: stack.gcsUrl,
    projectId: stack.project,
    useAuthWithCustomEndpoint: true,
    universeDomain,
    authClient: iam.authClient(email, universeDomain),
  });
}

/**
 * Headers that make a request to one of the stack's functions come from
 * `identity` (an ID token for the function's URL), as Cloud Scheduler, a
 * push or an operator's call would; none without the stack's IAM.
 */
export function invokeHeaders(stack: Stack, url: string, identity: string): Record<string, string> {
  const iam = stack.iam;
  if (!iam) return {};
  const email = iam.identities[identity];
  if (!email) throw new Error(`the stack has no identity ${identity}`);
  return {authorization: `Bearer ${iam.idToken(email, new URL(url).origin)}`};
}

/**
 * Calls the planner as Cloud Scheduler does for the run that exports `day`
 * (with the scheduler identity's token; `as` another identity of the stack).
 */
export async function callPlanner(
  stack: Stack,
  body: unknown,
  headers: Record<string, string> = {},
  as = 'scheduler',
) {
  const url = stack.functions.planner?.url;
  if (!url) throw new Error('the stack runs no planner');
  const res = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json', ...invokeHeaders(stack, url, as), ...headers},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json().catch(() => ({}))) as Record<string, unknown>,
  };
}

const stores = new WeakMap<Stack, GcsStore>();

/**
 * The stack's bucket through the product's own GCS adapter, whose downloads
 * carry the workaround for googleapis/google-cloud-node#9185 (a bare
 * `file.download()` makes every JSON read warn MaxListenersExceededWarning).
 */
export function storeFor(stack: Stack): GcsStore {
  let store = stores.get(stack);
  if (!store) {
    store = new GcsStore(stack.bucket, storageFor(stack));
    stores.set(stack, store);
  }
  return store;
}

/** Reads a JSON object from the bucket, or undefined. */
export async function readJson<T>(stack: Stack, name: string): Promise<T | undefined> {
  return (await storeFor(stack).readJson<T>(name))?.value;
}

/**
 * Waits until every batch of the run has a report; with `progress`, shows
 * the reports so far (each read once per generation) as they appear.
 */
export async function waitForReports(
  stack: Stack,
  env: string,
  plan: DayPlan,
  timeoutMs: number,
  progress?: DayProgress,
): Promise<BatchReport[]> {
  const store = storeFor(stack);
  const prefix = `${env}/${plan.day}/_manifest/runs/${plan.runId}/batches/`;
  const deadline = Date.now() + timeoutMs;
  const total = plan.batches.length;
  // Each report is read once per generation (a replay rewrites it).
  const read = new Map<string, {generation: string; report: BatchReport}>();
  const reportsIn = async (objects: StoredObject[]): Promise<BatchReport[]> => {
    const got = await Promise.all(
      objects.map(async o => {
        const known = read.get(o.name);
        if (known?.generation === o.generation) return known.report;
        const fresh = await store.readJson<BatchReport>(o.name);
        if (fresh) read.set(o.name, {generation: fresh.generation, report: fresh.value});
        return fresh?.value;
      }),
    );
    return got.filter((r): r is BatchReport => r !== undefined);
  };
  try {
    for (;;) {
      const objects = await store.list(prefix);
      // Without progress to show, nothing is read before every report is there.
      const reports = progress || objects.length >= total ? await reportsIn(objects) : [];
      const exported = reports.reduce((n, r) => n + exportedIn(r), 0);
      // A provisional report (a final delivery still exporting) is not the batch's last word:
      // the checker waits for it to be replaced, and so does this.
      const final = reports.filter(r => !r.provisional);
      if (objects.length >= total && final.length >= total) {
        progress?.done(final.length, total, exported);
        return final;
      }
      progress?.update(final.length, total, exported);
      if (Date.now() > deadline) {
        throw new Error(
          `only ${objects.length} of ${total} batch reports after ${timeoutMs / 1000} s`,
        );
      }
      await new Promise(r => setTimeout(r, 250));
    }
  } finally {
    progress?.close();
  }
}

function exportedIn(report: BatchReport): number {
  return TYPES.reduce((n, t) => n + (report.totals[t]?.exported ?? 0), 0);
}

/** How long a settled marker waits for its recordings index to be noted in the ledger. */
const INDEX_WAIT_MS = 20_000;

/**
 * Waits until the day's marker belongs to `runId` (and, with `want`, is that
 * marker) and the checker's ledger shows its email sent or not needed.
 */
export async function waitForMarker(
  stack: Stack,
  env: string,
  day: string,
  opts: {runId: string; want?: DayMarker['marker']; timeoutMs?: number},
): Promise<{marker: DayMarker; ledger: Ledger}> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let seen = 'nothing';
  let indexSince: number | undefined;
  for (;;) {
    const ledger = await readJson<Ledger>(stack, `${env}/${day}/_manifest/decision.json`);
    if (ledger && ledger.runId === opts.runId) {
      const name = ledger.status === 'success' ? '_SUCCESS' : '_FAILURE';
      const marker = await readJson<DayMarker>(stack, `${env}/${day}/${name}`);
      const other = await readJson<DayMarker>(
        stack,
        `${env}/${day}/${name === '_SUCCESS' ? '_FAILURE' : '_SUCCESS'}`,
      );
      const settled = ledger.email.state === 'sent' || ledger.email.state === 'not-needed';
      seen = `${name} (email ${ledger.email.state}${other ? `, ${other.marker} still present` : ''})`;
      if (
        marker?.fingerprint === ledger.fingerprint &&
        !other &&
        settled &&
        (!opts.want || opts.want === name)
      ) {
        // The recordings index comes last; its generation noted in the ledger ends the decision.
        // A day whose index cannot be written (a fault a test injects) is returned without it.
        indexSince ??= Date.now();
        if (ledger.index || Date.now() - indexSince > INDEX_WAIT_MS) return {marker, ledger};
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`no settled marker for ${day} run ${opts.runId}: saw ${seen}`);
    }
    await new Promise(r => setTimeout(r, 250));
  }
}

export async function fetchTruth(stack: Stack, day: string): Promise<Truth> {
  const res = await fetch(`${stack.genesysUrl}/_admin/truth?day=${day}`);
  if (!res.ok) throw new Error(`ground truth: HTTP ${res.status}`);
  return (await res.json()) as Truth;
}

/** Plans `day` as Cloud Scheduler would (schedule time = the run that exports it), waits for its reports and marker. */
export function scheduleTimeFor(day: string, lagDays = 3): string {
  return new Date(startOfDay(addDays(day, lagDays), 'UTC')).toISOString();
}

export async function runDay(
  stack: Stack,
  opts: {
    day: string;
    env: string;
    lagDays?: number;
    timeoutMs?: number;
    checkPrevious?: boolean;
    /** Where to show progress while the batches run (none when absent). */
    progress?: ProgressOutput;
    /** Plain (non-TTY) progress: at most one line per this many ms (default 5000). */
    progressIntervalMs?: number;
  },
): Promise<DayResult> {
  const started = Date.now();
  // Created before the planner runs, so no retry logged from here on is missed.
  const progress = opts.progress
    ? new DayProgress(opts.progress, stack.dirs.logs, {plainIntervalMs: opts.progressIntervalMs})
    : undefined;
  const scheduleTime = scheduleTimeFor(opts.day, opts.lagDays);
  // Check-previous is the planner's business, not this day's: it is off unless asked for.
  const planned = await callPlanner(
    stack,
    {checkPrevious: opts.checkPrevious ?? false},
    {'x-cloudscheduler-scheduletime': scheduleTime},
  );
  if (planned.status !== 202)
    throw new Error(`the planner answered ${planned.status}: ${JSON.stringify(planned.body)}`);
  const plan = await readJson<DayPlan>(stack, `${opts.env}/${opts.day}/_manifest/plan.json`);
  if (!plan) throw new Error('the planner wrote no plan');
  const reports = await waitForReports(stack, opts.env, plan, opts.timeoutMs ?? 600_000, progress);
  const decided = stack.functions.checker
    ? await waitForMarker(stack, opts.env, opts.day, {runId: plan.runId})
    : undefined;
  return {
    ...(await summarise(stack, opts.env, opts.day, reports)),
    ...(decided ?? {}),
    runId: plan.runId,
    plannerStatus: planned.status,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Totals, reasons, and a byte-level check of every exportable recording against the truth. */
export async function summarise(
  stack: Stack,
  env: string,
  day: string,
  reports: BatchReport[],
): Promise<Omit<DayResult, 'runId' | 'plannerStatus' | 'seconds'>> {
  const totals = Object.fromEntries(
    TYPES.map(t => [t, {expected: 0, exported: 0, skipped: 0, failed: 0, bytes: 0}]),
  );
  const reasons = {skipped: {} as Record<string, number>, failed: {} as Record<string, number>};
  const exported = new Map<string, {object?: string; md5Hash?: string}>();
  for (const report of reports) {
    for (const t of TYPES) {
      for (const k of ['expected', 'exported', 'skipped', 'failed', 'bytes'] as const)
        totals[t]![k] += report.totals[t][k];
    }
    if (report.status === 'failed')
      reasons.failed[`batch failed: ${report.error}`] =
        (reasons.failed[`batch failed: ${report.error}`] ?? 0) + 1;
    for (const c of report.conversations) {
      for (const r of c.recordings) {
        if (r.outcome === 'exported') exported.set(r.recordingId, r);
        else
          reasons[r.outcome][r.reason ?? 'unknown'] =
            (reasons[r.outcome][r.reason ?? 'unknown'] ?? 0) + 1;
      }
    }
  }
  const truth = await fetchTruth(stack, day);
  const dataDir = path.join(stack.dirs.gcsData, stack.bucket);
  const verification = {
    exportable: 0,
    exportedAndVerified: 0,
    missing: [] as string[],
    mismatched: [] as string[],
  };
  for (const c of truth.conversations) {
    for (const r of c.recordings) {
      if (!r.exportable) continue;
      verification.exportable++;
      const got = exported.get(r.recordingId);
      const file = got?.object ? path.join(dataDir, got.object) : undefined;
      if (!got || !file || !fs.existsSync(file)) {
        verification.missing.push(`${c.conversationId}_${r.recordingId}`);
        continue;
      }
      if (r.media === 'chat') {
        // Chat is filtered (STANDARD/NOTICE only), so its bytes differ from the source by design.
        verification.exportedAndVerified++;
        continue;
      }
      const md5 = createHash('md5').update(fs.readFileSync(file)).digest('base64');
      if (md5 === r.md5Hash && got.md5Hash === r.md5Hash) verification.exportedAndVerified++;
      else verification.mismatched.push(`${c.conversationId}_${r.recordingId}`);
    }
  }
  return {day, reports, totals, reasons, verification, filesDir: path.join(dataDir, env, day)};
}

/** A human summary of a day's export. */
export function describeDay(r: DayResult): string {
  const lines = [
    `Day ${r.day}, run ${r.runId}: ${plural(r.reports.length, 'batch')} in ${r.seconds.toFixed(1)} s`,
    '',
    renderTable(
      [
        ['recordings', 'expected', 'exported', 'skipped', 'failed', 'size'],
        ...Object.entries(r.totals).map(([t, v]) => [
          t,
          ...[v.expected, v.exported, v.skipped, v.failed].map(String),
          formatBytes(v.bytes),
        ]),
      ],
      {indent: '  ', numeric: true},
    ),
  ];
  for (const kind of ['skipped', 'failed'] as const) {
    const entries = Object.entries(r.reasons[kind]);
    if (entries.length) {
      lines.push('', `  ${kind}:`);
      for (const [reason, n] of entries) lines.push(`    ${String(n).padStart(4)} × ${reason}`);
    }
  }
  const v = r.verification;
  lines.push(
    '',
    `  ground truth: ${v.exportedAndVerified} of ${v.exportable} exportable recordings are in GCS with the right bytes` +
      (v.missing.length ? `; ${v.missing.length} missing` : '') +
      (v.mismatched.length ? `; ${v.mismatched.length} with different bytes` : ''),
    `  files: ${r.filesDir}`,
  );
  return lines.join('\n');
}

/** An email the stack's SendGrid sink kept, with its text and HTML bodies. */
export interface KeptMail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  request: Record<string, unknown>;
  files: {json: string; text?: string; html?: string};
}

/** Every email the SendGrid sink kept whose subject names `day`, oldest first. */
export async function mailAbout(stack: {sendgridUrl: string}, day: string): Promise<KeptMail[]> {
  const res = await fetch(`${stack.sendgridUrl}/_admin/mail`);
  const {mail} = (await res.json()) as {mail: Array<Omit<KeptMail, 'text' | 'html'>>};
  return mail
    .filter(m => m.subject.includes(` ${day}:`))
    .map(m => {
      const content = (m.request.content ?? []) as Array<{type: string; value: string}>;
      return {
        ...m,
        text: content.find(c => c.type === 'text/plain')?.value ?? '',
        html: content.find(c => c.type === 'text/html')?.value ?? '',
      };
    });
}

/** The marker in a few lines, with the developer email the sink kept for it (if any). */
export async function describeMarker(stack: Stack, marker: DayMarker): Promise<string> {
  const lines = [
    `${marker.marker} written for ${marker.day} (run ${marker.runId}): ` +
      `${marker.totals.all.exported} exported, ${marker.totals.all.skipped} skipped, ` +
      `${marker.totals.all.failed} failed of ${marker.totals.all.expected}` +
      (marker.gaps.length
        ? `; ${plural(marker.gaps.length, 'gap')}, ${plural(marker.replay.length, 'batch')} to replay`
        : ''),
  ];
  const mine = await mailAbout(stack, marker.day);
  const last = mine[mine.length - 1];
  if (last && (marker.marker === '_FAILURE' || /_SUCCESS/.test(last.subject))) {
    lines.push(`  email to the developers: "${last.subject}"`);
    if (last.files.text) lines.push(`  (in the SendGrid sink: ${last.files.text})`);
  } else {
    lines.push('  no email: nothing for the developers to do');
  }
  return lines.join('\n');
}

function run(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      cmd,
      args,
      {timeout: 120_000, ...(env ? {env: {...process.env, ...env}} : {})},
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  );
}

/** Is the Google Cloud CLI installed? */
export function hasGcloud(): Promise<boolean> {
  return run('gcloud', ['--version']).then(
    () => true,
    () => false,
  );
}

/**
 * Runs the replay commands of a `_FAILURE` exactly as written, through the
 * gcloud CLI, in a shell with the stack's environment (the commands take the
 * emulator's address from `$PUBSUB_EMULATOR_HOST`, as an operator's shell
 * has it after pasting the `export` lines); without gcloud, publishes the
 * same messages with the Pub/Sub client.
 */
export async function replay(stack: Stack, marker: DayMarker): Promise<string[]> {
  const out: string[] = [];
  if (await hasGcloud()) {
    for (const r of marker.replay) {
      await run('bash', ['-c', r.command], stack.env);
      out.push(`$ ${r.command.length > 240 ? r.command.slice(0, 237) + '…' : r.command}`);
    }
    return out;
  }
  const {PubSub} = await import('@google-cloud/pubsub');
  const ps = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
  try {
    for (const r of marker.replay) {
      const message = /--message='(.*)'$/.exec(r.command)?.[1];
      if (!message) throw new Error(`unexpected replay command: ${r.command}`);
      await ps.topic(stack.topic).publishMessage({data: Buffer.from(message)});
      out.push(`published batch ${r.batchId} (gcloud is not installed; same message)`);
    }
  } finally {
    await ps.close();
  }
  return out;
}

/**
 * Runs a `grm` command line as an operator would from another shell of the
 * stack (its exported variables, `--local`): how the demo follows the
 * developer email. Resolves its exit code and output.
 */
export function runGrmLine(
  stack: Stack,
  line: string,
): Promise<{code: number; out: string; err: string}> {
  const argv = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map(m => m[1] ?? m[2]!);
  if (argv.shift() !== 'grm') throw new Error(`not a grm command: ${line}`);
  const main = path.join(__dirname, '..', 'functions', 'ops', 'main.ts');
  return new Promise(resolve =>
    execFile(
      process.execPath,
      ['--import', 'tsx', main, ...argv, '--local'],
      {
        timeout: 700_000,
        env: {
          ...process.env,
          ...stack.env,
          ...(stack.functions.planner ? {PLANNER_URL: stack.functions.planner.url} : {}),
        },
      },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
          out: stdout,
          err: stderr,
        }),
    ),
  );
}

/** Reads the run's reports again (after a replay) and re-checks the bucket against the truth. */
export async function refresh(stack: Stack, result: DayResult): Promise<DayResult> {
  const env = result.marker?.env ?? 'local';
  const plan = await readJson<DayPlan>(stack, `${env}/${result.day}/_manifest/plan.json`);
  if (!plan) throw new Error('the plan disappeared');
  const reports = await waitForReports(stack, env, plan, 60_000);
  return {...result, ...(await summarise(stack, env, result.day, reports))};
}

/**
 * What Cloud Scheduler's migration-tick job does in production (every
 * minute), every `everyMs` here: asks the planner for the migration's next
 * step, one request at a time. Resolves the steps' answers on `stop()`.
 */
export function startMigrationTicker(
  stack: Stack,
  everyMs: number,
): {stop(): Promise<Array<{status: number; step?: string}>>} {
  const steps: Array<{status: number; step?: string}> = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const res = await callPlanner(stack, {migration: {action: 'tick'}}).catch((err: unknown) => ({
        status: 0,
        body: {step: String(err)},
      }));
      steps.push({status: res.status, step: res.body.step as string | undefined});
      await new Promise(r => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return steps;
    },
  };
}
