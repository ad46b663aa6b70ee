/** Small builders and stream helpers shared by the tests. */
import {execFile, spawn} from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {SecretManagerServiceClient} from '@google-cloud/secret-manager';
import {Writable} from 'node:stream';
import {hasGcloud} from '../local/run-day';
import type {Stack} from '../local/stack';
import {BatchReport, ReportConversation, totalsOf} from '../functions/core/report';
import type {DayPlan, PlanIndex, PlanPart} from '../functions/core/day-plan';
import type {PlannedBatch} from '../functions/core/batches';
import {addDays} from '../functions/core/time-window';

/** A Writable that hands every chunk to `onChunk` (the end of a pipeline). */
export function sink(onChunk: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      onChunk(chunk);
      done();
    },
  });
}

/** Deterministic pseudo-random bytes (a linear congruential generator). */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export {mailAbout} from '../local/run-day';
export type {KeptMail} from '../local/run-day';

/** Fails with instructions when the Google Cloud CLI is not installed. */
export async function requireGcloud(): Promise<void> {
  if (!(await hasGcloud())) {
    throw new Error(
      'the Google Cloud CLI (gcloud) is required for the replay tests: install google-cloud-cli',
    );
  }
}

/**
 * Skips the suite (its `before` hook's context) with the reason when the
 * Google Cloud CLI is not installed: the suite's subject is what gcloud does.
 */
export async function skipWithoutGcloud(ctx: Mocha.Context, what: string): Promise<void> {
  if (await hasGcloud()) return;
  process.stdout.write(
    `    (skipped: ${what} needs the Google Cloud CLI, gcloud: install google-cloud-cli)\n`,
  );
  ctx.skip();
}

/**
 * This process's environment without a developer's gcloud settings
 * (`CLOUDSDK_*`, but the Python gcloud runs on), for a child given the
 * stack's: nothing of the developer's configuration reaches a test's gcloud.
 */
export function withoutGcloudSettings(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([k]) => !/^CLOUDSDK_/.test(k) || /^CLOUDSDK_PYTHON/.test(k)),
  );
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * Runs a command to its end and never throws on its exit code. It runs in a
 * process group of its own: at `timeoutMs` the whole group is killed, the
 * command's own children (a `gcloud` or `npx` under bash) included.
 */
export function runCommand(
  command: string,
  args: string[],
  opts: {env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number},
): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: opts.env,
      ...(opts.cwd ? {cwd: opts.cwd} : {}),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.timeoutMs ?? 120_000);
    child.once('error', err => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', code => {
      clearTimeout(timer);
      resolve({
        code: timedOut ? 124 : (code ?? 1),
        stdout,
        stderr,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

/** A complete batch report of `conversations` (the parts a test cares about given). */
export function batchReportOf(
  ids: {day: string; runId: string; batchId: string},
  conversations: ReportConversation[],
  times: {startedAt: string; finishedAt: string},
  extra: Partial<BatchReport> = {},
): BatchReport {
  return {
    kind: 'batch-report',
    version: 1,
    ...ids,
    messageId: '1',
    attempt: 1,
    status: 'complete',
    ...times,
    conversations,
    totals: totalsOf(conversations),
    ...extra,
  };
}

/**
 * A version-1 plan of `day` as the planner writes one: `batches` maps each batch id to its
 * conversation ids, in order. By default a scheduled, jobs-discovered plan of the UTC day,
 * made three days later; `extra` overrides any field.
 */
export function dayPlanOf(
  ids: {day: string; runId: string},
  batches: Record<string, string[]>,
  extra: Partial<DayPlan> = {},
): DayPlan {
  const {day} = ids;
  const list = Object.entries(batches).map(([batchId, conversationIds]) => ({
    batchId,
    conversationIds,
  }));
  return {
    kind: 'plan',
    version: 1,
    ...ids,
    window: {
      start: `${day}T00:00:00.000Z`,
      end: `${addDays(day, 1)}T00:00:00.000Z`,
      timeZone: 'UTC',
    },
    createdAt: `${addDays(day, 3)}T00:00:00.000Z`,
    trigger: 'schedule',
    discovery: 'jobs',
    conversations: list.reduce((n, b) => n + b.conversationIds.length, 0),
    batches: list,
    ...extra,
  };
}

/**
 * The version-2 form of a version-1 plan, as the planner writes a large day: plan.json lists
 * the batches, each group of `groups` (consecutive batches, in order) is a part named
 * `partName(k)`.
 */
export function planInParts(
  plan: DayPlan,
  groups: PlannedBatch[][],
  partName: (k: number) => string,
): {index: PlanIndex; parts: PlanPart[]} {
  const {batches, version: _version, ...header} = plan;
  const index: PlanIndex = {
    ...header,
    version: 2,
    batches: batches.map(b => ({
      batchId: b.batchId,
      conversations: b.conversationIds.length,
      ...(b.client !== undefined ? {client: b.client} : {}),
    })),
    parts: groups.map((g, k) => ({
      object: partName(k),
      batches: g.length,
      conversations: g.reduce((n, b) => n + b.conversationIds.length, 0),
    })),
  };
  const parts: PlanPart[] = groups.map((g, k) => ({
    kind: 'plan-part',
    version: 2,
    day: plan.day,
    runId: plan.runId,
    part: k,
    batches: g,
  }));
  return {index, parts};
}

/** Runs `fn` with fault `rules` active on a stand-in (its `/_admin/faults`), then clears them. */
export async function withFaults<T>(
  standInUrl: string,
  rules: object | object[],
  fn: () => Promise<T>,
): Promise<T> {
  const res = await fetch(`${standInUrl}/_admin/faults`, {
    method: 'POST',
    body: JSON.stringify(rules),
  });
  if (!res.ok) throw new Error(`fault rules refused: HTTP ${res.status} ${await res.text()}`);
  try {
    return await fn();
  } finally {
    await fetch(`${standInUrl}/_admin/faults`, {method: 'DELETE'});
  }
}

/**
 * Runs `fn` with this process's Google credentials those of one of the
 * stack's identities (`operator`, `auditor`, `outsider`, …), as a shell with
 * that identity's exports would: the official clients built inside `fn` take
 * its tokens from its local metadata server. Restores the environment after.
 */
export async function asIdentity<T>(
  stack: Stack,
  identity: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!stack.iam) return fn();
  const vars = stack.iam.envFor(identity);
  const saved = Object.fromEntries(Object.keys(vars).map(k => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * The official Secret Manager client for the stack's stand-in, over TLS, as
 * one of the stack's identities (default: the project owner); without one,
 * it sends no credentials.
 */
export function secretClient(
  stack: Stack,
  identity: string | null = 'owner',
): SecretManagerServiceClient {
  const tls = grpc.credentials.createSsl(fs.readFileSync(stack.secretsCa));
  const email = identity === null ? undefined : stack.iam?.identities[identity];
  if (identity !== null && stack.iam && !email)
    throw new Error(`the stack has no identity ${identity}`);
  return new SecretManagerServiceClient({
    apiEndpoint: stack.secretsEndpoint.split(':')[0],
    port: Number(stack.secretsEndpoint.split(':')[1]),
    // With its own channel credentials the client adds none: the identity's go with them.
    sslCreds: email
      ? grpc.credentials.combineChannelCredentials(
          tls,
          grpc.credentials.createFromMetadataGenerator((_params, done) => {
            const metadata = new grpc.Metadata();
            metadata.add('authorization', `Bearer ${stack.iam!.accessToken(email)}`);
            done(null, metadata);
          }),
        )
      : tls,
  });
}

/**
 * Whether the GCS emulator has delivered the finalize event of `object` and
 * had it acknowledged (its record of finished deliveries): what a test waits
 * for before it asserts that the event changed nothing.
 */
export async function eventDelivered(stack: Stack, object: string): Promise<boolean> {
  const res = await fetch(`${stack.gcsUrl}/_admin/events`);
  if (!res.ok) throw new Error(`GCS emulator events: HTTP ${res.status}`);
  const {recent} = (await res.json()) as {recent: Array<{subject?: string; status?: string}>};
  return recent.some(r => r.subject === `objects/${object}` && r.status === 'delivered');
}

const DEMO_ROOT = path.join(__dirname, '..');

/** Runs the demo with `args` and `root` as its state directory; its exit code and output. */
export function runDemo(
  root: string,
  args: string[],
): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise(resolve =>
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/demo.ts', ...args, '--root', root],
      {cwd: DEMO_ROOT, timeout: 280_000, maxBuffer: 16 * 1024 * 1024},
      (err, stdout, stderr) => resolve({code: err ? Number(err.code ?? 1) : 0, stdout, stderr}),
    ),
  );
}
