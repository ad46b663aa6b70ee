/**
 * The fault matrix: each case perturbs one day of the pipeline on
 * the local stack (real planner, worker and checker processes, the Pub/Sub
 * emulator, the GCS emulator, the Genesys simulator, the SendGrid sink) and
 * ends on the same invariant (./invariant.ts). `npm run faults` runs them all;
 * `npm test` runs the ones marked fast (test/e2e/faults.spec.ts).
 * docs/reliability.md lists them as a table.
 */
import * as assert from 'node:assert';
import {PubSub} from '@google-cloud/pubsub';
import {FAULT_PROFILES} from '../../local/fault-profiles';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {
  DayResult,
  Truth,
  callPlanner,
  fetchTruth,
  mailAbout,
  readJson,
  replay,
  runDay,
  storeFor,
  invokeHeaders,
  startMigrationTicker,
} from '../../local/run-day';
import type {Stack} from '../../local/stack';
import type {DayPlan} from '../../functions/core/day-plan';
import type {BatchReport} from '../../functions/core/report';
import {ModeReport, leanNotes} from '../../functions/core/lean-notes';
import type {Ledger} from '../../functions/core/ledger';
import {declareProductDays, eventually, useProductStack} from '../setup/stack';
import {Expectation, assertDayInvariant, nothing, reportsOf, unavailable} from './invariant';

const env = LOCAL_EXPORT_ENV;

export interface FaultCase {
  /** Short id: `npm run faults -- -g <id>`. */
  id: string;
  /** Which reliability requirement (or which fault profile) it covers. */
  covers: string;
  /** How the fault is produced. */
  how: string;
  /** The result the invariant holds it to. */
  result: string;
  /** Part of `npm test` (a few seconds each). */
  fast?: boolean;
  day: string;
  conversations: number;
  /** Other days the case runs, and their conversations (declared with the case's own). */
  otherDays?: Record<string, number>;
  /** Keep the organisation's unavailable recordings on this day (default: recovered first). */
  lossy?: boolean;
  run(ctx: CaseContext): Promise<string>;
}

export interface CaseContext {
  stack: Stack;
  day: string;
}

async function post(url: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

async function faults(url: string, rules: unknown): Promise<void> {
  await post(`${url}/_admin/faults`, rules);
}

async function clearFaults(stack: Stack): Promise<void> {
  for (const url of [stack.genesysUrl, stack.gcsUrl, stack.sendgridUrl])
    await fetch(`${url}/_admin/faults`, {method: 'DELETE'});
}

async function fired(url: string): Promise<number> {
  const res = await fetch(`${url}/_admin/faults`);
  const {rules} = (await res.json()) as {rules: Array<{fired: number}>};
  return rules.reduce((n, r) => n + r.fired, 0);
}

function run(stack: Stack, day: string, checkPrevious = false): Promise<DayResult> {
  return runDay(stack, {day, env, checkPrevious, timeoutMs: 240_000});
}

function verdict(expect: Expectation) {
  return (ctx: CaseContext) => assertDayInvariant(ctx.stack, env, ctx.day, expect);
}

/** The day's largest exportable recording that is not a (filtered) chat transcript. */
function largest(truth: Truth) {
  const all = truth.conversations.flatMap(c =>
    c.recordings.filter(r => r.exportable && r.media !== 'chat').map(r => ({c, r})),
  );
  all.sort((a, b) => (b.r.size ?? 0) - (a.r.size ?? 0));
  if (!all[0]) throw new Error('the day has no exportable media recording');
  return all[0];
}

/** A recording of the day with the given media, and its conversation. */
function pick(truth: Truth, media: string) {
  for (const c of truth.conversations)
    for (const r of c.recordings) if (r.media === media && r.exportable) return {c, r};
  throw new Error(`the day has no exportable ${media} recording`);
}

async function ledgerOf(stack: Stack, day: string): Promise<Ledger | undefined> {
  return readJson<Ledger>(stack, `${env}/${day}/_manifest/decision.json`);
}

/** Publishes raw JSON to the batches topic, as `gcloud pubsub topics publish` would. */
async function publish(stack: Stack, message: unknown): Promise<void> {
  const ps = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
  try {
    await ps.topic(stack.topic).publishMessage({data: Buffer.from(JSON.stringify(message))});
  } finally {
    await ps.close();
  }
}

/** Every recording of the conversations of the batch that holds `conversationId`. */
async function recordingsOfBatch(stack: Stack, day: string, conversationId: string) {
  const plan = (await readJson<DayPlan>(stack, `${env}/${day}/_manifest/plan.json`))!;
  const batch = plan.batches.find(b => b.conversationIds.includes(conversationId))!;
  const truth = await fetchTruth(stack, day);
  return new Set(
    truth.conversations
      .filter(c => batch.conversationIds.includes(c.conversationId))
      .flatMap(c => c.recordings.map(r => `${c.conversationId}/${r.recordingId}`)),
  );
}

/** The fault rules of a stand-in, with how often each fired. */
async function rulesOf(
  url: string,
): Promise<Array<{action: string; method?: string; fired: number}>> {
  const res = await fetch(`${url}/_admin/faults`);
  return ((await res.json()) as {rules: Array<{action: string; method?: string; fired: number}>})
    .rules;
}

/**
 * Cloud Storage's answer to a request its caller holds no `permission` for
 * (403 `forbidden`, the JSON API's error shape).
 */
function permissionDenied(stack: Stack, permission: string): unknown {
  const message =
    `worker@${stack.project}.iam.gserviceaccount.com does not have ${permission} access to the ` +
    `Google Cloud Storage object. Permission '${permission}' denied on resource (or it may not exist).`;
  return {error: {code: 403, message, errors: [{message, domain: 'global', reason: 'forbidden'}]}};
}

/**
 * The worker's rights on recordings in production (infra/storage.tf): it may
 * create and read them, never delete one (storage.objects.delete) or change
 * one's metadata (storage.objects.update). The emulator refuses both, for the
 * day's recordings, as Cloud Storage refuses them.
 */
function productionRightsOnRecordings(stack: Stack, day: string): unknown[] {
  const path = `^(/storage/v1)?/b/[^/]+/o/${env}%2F${day}%2F(call|chat|email|message|screen)%2F`;
  return [
    {
      method: 'DELETE',
      path,
      action: 'status',
      status: 403,
      body: permissionDenied(stack, 'storage.objects.delete'),
    },
    ...['PATCH', 'PUT'].map(method => ({
      method,
      path,
      action: 'status',
      status: 403,
      body: permissionDenied(stack, 'storage.objects.update'),
    })),
  ];
}

/** The exportable recordings flagged sensitive: what a client lacking viewSensitiveData is not given. */
const sensitive = (truth: Truth) =>
  new Set(
    truth.conversations.flatMap(c =>
      c.recordings
        .filter(r => r.exportable && r.sensitive)
        .map(r => `${c.conversationId}/${r.recordingId}`),
    ),
  );

/** Changes the Genesys simulator's settings. */
async function genesysSettings(stack: Stack, settings: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${stack.genesysUrl}/_admin/config`, {
    method: 'PATCH',
    body: JSON.stringify(settings),
  });
  if (!res.ok) throw new Error(`PATCH /_admin/config: HTTP ${res.status} ${await res.text()}`);
}

/**
 * Runs `fn` with the worker redeployed with METADATA=lean (a new process: no
 * proof of any client yet); afterwards every client holds viewSensitiveData
 * again and the worker is redeployed as the stack started it (full mode).
 */
async function inLeanMode(stack: Stack, fn: () => Promise<string>): Promise<string> {
  const worker = stack.functions.worker!;
  await worker.redeploy({METADATA: 'lean'});
  try {
    return await fn();
  } finally {
    await genesysSettings(stack, {dropSensitive: false});
    await worker.redeploy({METADATA: undefined});
  }
}

/** The day's reports, as the worker wrote them, with the metadata mode each batch ran in. */
async function modeReports(stack: Stack, day: string): Promise<ModeReport[]> {
  const plan = (await readJson<DayPlan>(stack, `${env}/${day}/_manifest/plan.json`))!;
  return reportsOf(stack, env, plan);
}

const exportable = (truth: Truth) =>
  new Set(
    truth.conversations.flatMap(c =>
      c.recordings.filter(r => r.exportable).map(r => `${c.conversationId}/${r.recordingId}`),
    ),
  );

export const FAULT_CASES: FaultCase[] = [
  {
    id: 'baseline',
    covers: 'control; duplicate batch results (item 12)',
    how: 'no fault; the simulator answers a fifth of the recordings twice in batch downloads',
    result: '_SUCCESS, no email',
    day: '2025-03-01',
    conversations: 12,
    async run(ctx) {
      await run(ctx.stack, ctx.day);
      return (await verdict({failed: nothing, emails: 0})(ctx)).summary;
    },
  },
  {
    id: 'flaky',
    covers: 'the flaky profile',
    how: "the demo's flaky fault rules: Genesys API 503 (5%) and 408 (2%), connection resets (2%), media 502 (3%)",
    result: '_SUCCESS, no email',
    day: '2025-03-02',
    conversations: 20,
    async run(ctx) {
      await faults(ctx.stack.genesysUrl, FAULT_PROFILES.flaky!.faults!);
      await run(ctx.stack, ctx.day);
      await clearFaults(ctx.stack);
      return (await verdict({failed: nothing, emails: 0})(ctx)).summary;
    },
  },
  {
    id: 'lossy',
    covers: 'the lossy profile',
    how: 'archived, restoring, uploading and erroring recordings; then the source recovers and the _FAILURE replay commands run',
    result:
      '_FAILURE listing exactly the unavailable recordings, one email; after the replay _SUCCESS and one more email',
    day: '2025-03-03',
    conversations: 20,
    lossy: true,
    async run(ctx) {
      const first = await run(ctx.stack, ctx.day);
      const failed = await verdict({failed: unavailable, emails: 1})(ctx);
      assert.ok(failed.marker.gaps.length > 0, 'the lossy day has gaps');
      await post(`${ctx.stack.genesysUrl}/_admin/recover?day=${ctx.day}`);
      await replay(ctx.stack, failed.marker);
      await eventually(
        'the day to turn _SUCCESS',
        async () => ((await ledgerOf(ctx.stack, ctx.day))?.status === 'success' ? true : undefined),
        120_000,
      );
      const done = await verdict({failed: nothing, emails: 2})(ctx);
      return `${failed.summary}; after the replay (run ${first.runId}): ${done.summary}`;
    },
  },
  {
    id: 'sigkill-upload',
    covers: 'item 1 (partial object), item 2 (supervised worker)',
    how: "the worker process is SIGKILLed while it copies the day's largest recording (an 8 MB screen recording) into GCS, its media held half-way (a resumable upload sends its 8 MiB chunks whole, so none of it has left yet); the stack restarts it and Pub/Sub redelivers",
    result: '_SUCCESS, every object byte-identical, no partial object ever visible',
    day: '2025-03-04',
    conversations: 40,
    async run(ctx) {
      const {c, r} = largest(await fetchTruth(ctx.stack, ctx.day));
      const worker = ctx.stack.functions.worker!;
      const before = worker.restarts;
      await faults(ctx.stack.genesysUrl, {
        path: `^/media/${c.conversationId}/${r.recordingId}`,
        action: 'stall',
        afterBytes: Math.floor(r.size! / 2),
        times: 1,
      });
      const day = run(ctx.stack, ctx.day);
      await eventually(
        'the stall',
        async () => ((await fired(ctx.stack.genesysUrl)) > 0 ? true : undefined),
        120_000,
      );
      await new Promise(res => setTimeout(res, 700)); // the upload is under way
      const type = r.media === 'audio' ? 'call' : r.media;
      const name = `${env}/${ctx.day}/${type}/${c.conversationId}_${r.recordingId}.`;
      worker.kill('SIGKILL');
      await clearFaults(ctx.stack);
      await new Promise(res => setTimeout(res, 500)); // the emulator has seen the connection drop
      const seen = await storeFor(ctx.stack).list(name);
      assert.deepStrictEqual(seen, [], 'an object of the cut upload is visible');
      await worker.serving(60_000);
      await day;
      assert.ok(worker.restarts > before, 'the worker was not restarted');
      return (await verdict({failed: nothing, emails: 0})(ctx)).summary;
    },
  },
  {
    id: 'crash-every-delivery',
    covers: 'item 2 (a batch that crashes on every delivery)',
    how: 'every delivery of one batch is SIGKILLed mid-download (MAX_BATCH_ATTEMPTS 3); deliveries past the budget arrive too',
    result:
      "_FAILURE listing exactly that batch's conversations (the final attempt's provisional report, made final by the next delivery), one email",
    day: '2025-03-05',
    conversations: 15,
    async run(ctx) {
      const {c, r} = pick(await fetchTruth(ctx.stack, ctx.day), 'audio');
      const worker = ctx.stack.functions.worker!;
      await faults(ctx.stack.genesysUrl, {
        path: `^/media/${c.conversationId}/${r.recordingId}`,
        action: 'stall',
        afterBytes: 1000,
      });
      let killed = 0;
      let done = false;
      /**
       * Whether every other batch of the day has its final report: the worker is
       * killed on each delivery of the stalled batch only once the others are
       * through, so that the case is that batch crashing, not the whole day
       * (one worker process serves both, and how far the other batch got by the
       * time the stall fired depended on the machine's speed).
       */
      const othersReported = async () => {
        const plan = await readJson<DayPlan>(ctx.stack, `${env}/${ctx.day}/_manifest/plan.json`);
        if (!plan) return false;
        const others = plan.batches.filter(b => !b.conversationIds.includes(c.conversationId));
        const reports = await reportsOf(ctx.stack, env, plan);
        return others.every(b =>
          reports.some(r => r.batchId === b.batchId && !r.provisional && r.status !== 'failed'),
        );
      };
      const killer = (async () => {
        while (!done) {
          const n = await fired(ctx.stack.genesysUrl);
          if (n > killed && (await othersReported())) {
            killed = n;
            await new Promise(res => setTimeout(res, 200));
            worker.kill('SIGKILL');
          }
          await new Promise(res => setTimeout(res, 100));
        }
      })();
      try {
        const result = await run(ctx.stack, ctx.day);
        // Until Pub/Sub has delivered past the budget (MAX_BATCH_ATTEMPTS 3 on this stack).
        const attempts = `${env}/${ctx.day}/_manifest/runs/${result.runId}/attempts/`;
        await eventually(
          'a delivery past the budget',
          async () => {
            const counts = await Promise.all(
              (await storeFor(ctx.stack).list(attempts)).map(
                async o => (await readJson<{attempts: number}>(ctx.stack, o.name))?.attempts ?? 0,
              ),
            );
            return Math.max(0, ...counts) >= 4 ? true : undefined;
          },
          180_000,
        );
      } finally {
        done = true;
        await killer;
        await clearFaults(ctx.stack);
      }
      const batch = await recordingsOfBatch(ctx.stack, ctx.day, c.conversationId);
      const v = await verdict({failed: () => batch, emails: 1})(ctx);
      assert.ok(killed >= 3, `only ${killed} deliveries were killed`);
      assert.ok(
        v.marker.gaps.some(g => /the last one allowed .* never finished/.test(g.reason)),
        JSON.stringify(v.marker.gaps[0]),
      );
      return `${killed} deliveries killed; ${v.summary}`;
    },
  },
  {
    id: 'ledger-outage',
    covers: 'item 3 (duplicate email)',
    how: 'GCS answers 503 four times (about 8 s) to the ledger write that records "sent", right after SendGrid accepted the _FAILURE email',
    result: '_FAILURE, exactly one email, recorded as sent',
    fast: true,
    day: '2025-03-06',
    conversations: 8,
    lossy: true,
    async run(ctx) {
      await faults(ctx.stack.gcsUrl, {
        method: 'POST',
        path: `${env}%2F${ctx.day}%2F_manifest%2Fdecision\\.json`,
        action: 'status',
        status: 503,
        after: 2, // the decision, then the claim; the third write records "sent"
        times: 4,
      });
      try {
        await run(ctx.stack, ctx.day);
      } finally {
        assert.strictEqual(await fired(ctx.stack.gcsUrl), 4, 'the outage did not happen');
        await clearFaults(ctx.stack);
      }
      const v = await verdict({failed: unavailable, emails: 1})(ctx);
      assert.ok(v.marker.gaps.length > 0);
      assert.strictEqual(v.ledger.email.state, 'sent');
      return v.summary;
    },
  },
  {
    id: 'stalled-body',
    covers: 'item 4 (hang)',
    how: 'one media body stops after 5,000 bytes with the connection open (MEDIA_IDLE_TIMEOUT_MS 2 s on this stack)',
    result: '_SUCCESS (the download is abandoned and retried), no email',
    fast: true,
    day: '2025-03-07',
    conversations: 8,
    async run(ctx) {
      const {c, r} = pick(await fetchTruth(ctx.stack, ctx.day), 'audio');
      await faults(ctx.stack.genesysUrl, {
        path: `^/media/${c.conversationId}/${r.recordingId}`,
        action: 'stall',
        afterBytes: 5000,
        times: 1,
      });
      try {
        await run(ctx.stack, ctx.day);
        assert.strictEqual(await fired(ctx.stack.genesysUrl), 1, 'the stall did not happen');
      } finally {
        await clearFaults(ctx.stack);
      }
      return (await verdict({failed: nothing, emails: 0})(ctx)).summary;
    },
  },
  {
    id: 'token-outage',
    covers: 'item 7 (login not retried)',
    how: 'every token is expired, then the token endpoint answers 503 twice and resets once',
    result: '_SUCCESS, planner 202, no email',
    fast: true,
    day: '2025-03-08',
    conversations: 8,
    async run(ctx) {
      await post(`${ctx.stack.genesysUrl}/_admin/tokens/expire`);
      await faults(ctx.stack.genesysUrl, [
        {method: 'POST', path: '^/oauth/token', action: 'status', status: 503, times: 2},
        {method: 'POST', path: '^/oauth/token', action: 'reset', times: 1},
      ]);
      let result: DayResult;
      try {
        result = await run(ctx.stack, ctx.day);
        assert.strictEqual(await fired(ctx.stack.genesysUrl), 3, 'the token outage did not happen');
      } finally {
        await clearFaults(ctx.stack);
      }
      assert.strictEqual(result.plannerStatus, 202);
      return (await verdict({failed: nothing, emails: 0})(ctx)).summary;
    },
  },
  {
    id: 'forged-report',
    covers: 'item 6 (hand-made report)',
    how: "after the day's _FAILURE, its batch report is rewritten by hand with recordings: [] for every conversation",
    result:
      '_FAILURE stays: the former gaps stay listed and the stored recordings the report no longer accounts for are added; no "resolved" email',
    fast: true,
    day: '2025-03-09',
    conversations: 8,
    lossy: true,
    async run(ctx) {
      await run(ctx.stack, ctx.day);
      const first = await verdict({failed: unavailable, emails: 1})(ctx);
      const plan = (await readJson<DayPlan>(ctx.stack, `${env}/${ctx.day}/_manifest/plan.json`))!;
      const store = storeFor(ctx.stack);
      for (const b of plan.batches) {
        const name = `${env}/${ctx.day}/_manifest/runs/${plan.runId}/batches/${b.batchId}.json`;
        const read = (await store.readJson<BatchReport>(name))!;
        const forged = {
          ...read.value,
          conversations: read.value.conversations.map(c => ({...c, recordings: []})),
        };
        await store.write(name, Buffer.from(JSON.stringify(forged)), {
          contentType: 'application/json',
          ifGenerationMatch: read.generation,
        });
      }
      await eventually(
        'a new decision',
        async () => {
          const l = await ledgerOf(ctx.stack, ctx.day);
          return l && l.fingerprint !== first.ledger.fingerprint ? true : undefined;
        },
        60_000,
      );
      const every = (truth: Truth) => new Set([...unavailable(truth), ...exportable(truth)]);
      const v = await verdict({failed: every, emails: 2})(ctx);
      const mails = await mailAbout(ctx.stack, ctx.day);
      assert.ok(!mails.some(m => /resolved/.test(m.subject)), 'a "resolved" email went out');
      return v.summary;
    },
  },
  {
    id: 'forged-plan',
    covers: 'item 6 (hand-made plan)',
    how: "after the day's _SUCCESS, plan.json is rewritten by hand with no batches; then an operator reruns the day",
    result:
      '_FAILURE listing every stored recording (its conversation is not in the plan), one email; after the rerun _SUCCESS and one more email',
    day: '2025-03-10',
    conversations: 8,
    async run(ctx) {
      await run(ctx.stack, ctx.day);
      await verdict({failed: nothing, emails: 0})(ctx);
      const store = storeFor(ctx.stack);
      const name = `${env}/${ctx.day}/_manifest/plan.json`;
      const plan = (await store.readJson<DayPlan>(name))!;
      await store.write(
        name,
        Buffer.from(JSON.stringify({...plan.value, batches: [], conversations: 0})),
        {contentType: 'application/json', ifGenerationMatch: plan.generation},
      );
      await eventually(
        'the forged plan to be judged',
        async () => ((await ledgerOf(ctx.stack, ctx.day))?.status === 'failure' ? true : undefined),
        60_000,
      );
      const forged = await verdict({failed: exportable, emails: 1})(ctx);
      assert.match(forged.marker.gaps[0]!.reason, /does not hold its conversation/);
      const rerun = await callPlanner(ctx.stack, {day: ctx.day});
      assert.strictEqual(rerun.status, 202, JSON.stringify(rerun.body));
      await eventually(
        'the rerun to decide',
        async () => {
          const l = await ledgerOf(ctx.stack, ctx.day);
          return l && l.runId !== plan.value.runId && l.status === 'success' ? true : undefined;
        },
        120_000,
      );
      const done = await verdict({failed: nothing, emails: 2})(ctx);
      return `${forged.summary}; after the rerun: ${done.summary}`;
    },
  },
  {
    id: 'forged-success',
    covers: 'item 6 (hand-made _SUCCESS)',
    how: 'a _SUCCESS holding "not even JSON" is put next to the day\'s _FAILURE; the next night runs check-previous',
    result:
      'check-previous reruns the day; the rerun ends _FAILURE again and the forged _SUCCESS is gone',
    day: '2025-03-11',
    conversations: 6,
    lossy: true,
    async run(ctx) {
      const first = await run(ctx.stack, ctx.day);
      await verdict({failed: unavailable, emails: 1})(ctx);
      await storeFor(ctx.stack).write(`${env}/${ctx.day}/_SUCCESS`, Buffer.from('not even JSON'), {
        contentType: 'application/json',
        ifGenerationMatch: 0,
      });
      const next = '2025-03-12';
      await run(ctx.stack, next, true);
      await eventually(
        'the rerun of the day',
        async () => {
          const l = await ledgerOf(ctx.stack, ctx.day);
          return l && l.runId !== first.runId ? true : undefined;
        },
        120_000,
      );
      const v = await verdict({failed: unavailable})(ctx);
      const plan = (await readJson<DayPlan>(ctx.stack, `${env}/${ctx.day}/_manifest/plan.json`))!;
      assert.strictEqual(plan.autoRerun?.of, first.runId);
      return `check-previous reran it (${plan.autoRerun?.state}); ${v.summary}`;
    },
  },
  {
    id: 'wrong-day-message',
    covers: 'item 8 (message day vs conversations)',
    how: "a batch message with the day's conversations but the day before, and one for 2099-01-01, are published to the topic; then the day runs",
    result:
      'both refused under _rejected/ with the reason, nothing stored under the wrong days; the day _SUCCESS',
    day: '2025-03-13',
    conversations: 6,
    async run(ctx) {
      const ids = (await fetchTruth(ctx.stack, ctx.day)).conversations.map(c => c.conversationId);
      const store = storeFor(ctx.stack);
      const rejected = async () => (await store.list(`${env}/_rejected/`)).length;
      const before = await rejected();
      await publish(ctx.stack, {day: '2025-03-12', conversationIds: ids});
      await publish(ctx.stack, {day: '2099-01-01', conversationIds: ids});
      await eventually(
        'two rejections',
        async () => ((await rejected()) >= before + 2 ? true : undefined),
        60_000,
      );
      const stray = (await store.list(`${env}/2099-01-01/`)).concat(
        (await store.list(`${env}/2025-03-12/`)).filter(o => o.name.includes(ids[0]!)),
      );
      assert.deepStrictEqual(
        stray.map(o => o.name).filter(n => !n.includes('/attempts/')),
        [],
      );
      await run(ctx.stack, ctx.day);
      return (await verdict({failed: nothing, emails: 0})(ctx)).summary;
    },
  },
  {
    id: 'redelivery-no-redownload',
    covers: 'item 5 (false _FAILURE on a retry)',
    how: "after the day's _SUCCESS its batch messages are delivered again while every media download answers 500 and batch requests 503",
    result: '_SUCCESS unchanged (stored recordings count without a second download), no email',
    day: '2025-03-14',
    conversations: 8,
    async run(ctx) {
      const result = await run(ctx.stack, ctx.day);
      const first = await verdict({failed: nothing, emails: 0})(ctx);
      const plan = (await readJson<DayPlan>(ctx.stack, `${env}/${ctx.day}/_manifest/plan.json`))!;
      const generations = async () =>
        (await storeFor(ctx.stack).list(`${env}/${ctx.day}/_manifest/runs/${plan.runId}/batches/`))
          .map(o => o.generation)
          .join();
      const before = await generations();
      await faults(ctx.stack.genesysUrl, [
        {path: '^/media/', action: 'status', status: 500},
        {path: '^/api/v2/recording/batchrequests', action: 'status', status: 503},
      ]);
      try {
        for (const b of plan.batches)
          await publish(ctx.stack, {
            day: ctx.day,
            runId: plan.runId,
            batchId: b.batchId,
            conversationIds: b.conversationIds,
          });
        await eventually(
          'the redelivered reports',
          async () => ((await generations()) !== before ? true : undefined),
          120_000,
        );
      } finally {
        await clearFaults(ctx.stack);
      }
      const reports = await reportsOf(ctx.stack, env, plan);
      assert.ok(
        reports.every(
          r => r.totals.call.failed + r.totals.screen.failed + r.totals.chat.failed === 0,
        ),
      );
      const v = await verdict({failed: nothing, emails: 0})(ctx);
      assert.strictEqual(v.ledger.fingerprint, first.ledger.fingerprint);
      return `run ${result.runId} delivered again: ${v.summary}`;
    },
  },
  {
    id: 'corrupt-upload',
    covers:
      'an upload damaged on its way into GCS, healed with only the rights the worker holds in production',
    how: "one byte of the day's largest recording (a 9 MB screen recording, a resumable upload in 8 MiB chunks: the first chunk) and of an audio recording (one multipart request) is flipped on the way to GCS, once each; the emulator refuses deleting or updating the day's recordings with Cloud Storage's 403, as the worker's IAM grants do",
    result:
      '_SUCCESS, every recording byte-identical; GCS refused the damaged uploads, nothing was deleted; no email',
    fast: true,
    day: '2025-03-17',
    conversations: 8,
    async run(ctx) {
      const truth = await fetchTruth(ctx.stack, ctx.day);
      const targets = [largest(truth), pick(truth, 'audio')];
      // One rule a request: the GCS emulator's admin API takes a rule, not a list.
      for (const rule of [
        ...productionRightsOnRecordings(ctx.stack, ctx.day),
        // The first request that carries each recording's bytes, past a multipart metadata part.
        ...targets.map(({c, r}) => ({
          path: `^/upload/storage/v1/b/[^/]+/o\\?(?=.*name=[^&]*${c.conversationId}_${r.recordingId})(?=.*(uploadType=multipart|upload_id=))`,
          action: 'corrupt',
          atByte: 4096,
          times: 1,
        })),
      ])
        await faults(ctx.stack.gcsUrl, rule);
      let rules: Awaited<ReturnType<typeof rulesOf>>;
      try {
        await run(ctx.stack, ctx.day);
      } finally {
        rules = await rulesOf(ctx.stack.gcsUrl);
        await clearFaults(ctx.stack);
      }
      assert.deepStrictEqual(
        rules.filter(r => r.action === 'corrupt').map(r => r.fired),
        [1, 1],
        'the uploads were not damaged',
      );
      const v = await verdict({failed: nothing, emails: 0})(ctx);
      const refused = rules.filter(r => r.action === 'status' && r.fired > 0);
      assert.deepStrictEqual(
        refused.map(r => `${r.method} ${r.fired}`),
        [],
        'the worker tried what it has no right to do on recordings',
      );
      return `2 damaged uploads refused and written again; ${v.summary}`;
    },
  },
  {
    id: 'planner-bad-bodies',
    covers: 'item 9 (planner input limits)',
    how: 'the planner is sent malformed JSON, null, a bare string, a 100,000-deep array and a 20 MiB body; then the day runs',
    result: 'a JSON 4xx for each, no stack trace, no echo beyond an excerpt; the day _SUCCESS',
    day: '2025-03-15',
    conversations: 6,
    async run(ctx) {
      const url = ctx.stack.functions.planner!.url;
      const bodies: Array<[string, string]> = [
        ['malformed', '{"day":'],
        ['null', 'null'],
        ['string', '"2025-03-15"'],
        ['deep', '['.repeat(100_000) + ']'.repeat(100_000)],
        ['huge', JSON.stringify({day: ctx.day, pad: 'x'.repeat(20 * 1024 * 1024)})],
      ];
      const seen: string[] = [];
      for (const [what, body] of bodies) {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...invokeHeaders(ctx.stack, url, 'scheduler'),
          },
          body,
        });
        const text = await res.text();
        assert.ok(res.status >= 400 && res.status < 500, `${what}: HTTP ${res.status}`);
        assert.match(res.headers.get('content-type') ?? '', /application\/json/, what);
        assert.ok(text.length < 4096, `${what}: a ${text.length}-character answer`);
        assert.ok(!/\n\s+at /.test(text), `${what}: a stack trace`);
        seen.push(`${what} ${res.status}`);
      }
      await run(ctx.stack, ctx.day);
      return `${seen.join(', ')}; ${(await verdict({failed: nothing, emails: 0})(ctx)).summary}`;
    },
  },
  {
    id: 'lean-unproven',
    covers: 'lean metadata mode (METADATA=lean) with OAuth clients lacking viewSensitiveData',
    how: "the worker is redeployed with METADATA=lean while Genesys gives no client viewSensitiveData (the simulator's dropSensitive): batch downloads leave the day's sensitive recordings out, silently; one is a chat transcript whose only other result is a screen recording, which lean mode's results never showed",
    result:
      '_FAILURE listing exactly the sensitive recordings (never _SUCCESS with one missing), one email; every batch ran in full mode and its report says why',
    day: '2025-03-29',
    conversations: 20,
    async run(ctx) {
      assert.ok(sensitive(await fetchTruth(ctx.stack, ctx.day)).size > 0, 'no sensitive recording');
      return inLeanMode(ctx.stack, async () => {
        await genesysSettings(ctx.stack, {dropSensitive: true});
        await run(ctx.stack, ctx.day);
        const v = await verdict({failed: sensitive, emails: 1})(ctx);
        const reports = await modeReports(ctx.stack, ctx.day);
        for (const r of reports) {
          assert.strictEqual(r.metadataMode, 'full', r.batchId);
          assert.match(r.leanRefused ?? '', /does not hold recording:recording:viewSensitiveData/);
        }
        return `${v.summary}; ${leanNotes(reports).join('; ')}`;
      });
    },
  },
  {
    id: 'lean-revoked',
    covers: 'lean metadata mode when viewSensitiveData is taken away after the clients proved it',
    how: 'the worker is redeployed with METADATA=lean; both clients prove viewSensitiveData on a first day (2025-04-19, which ends _SUCCESS in lean mode); then Genesys takes the permission from every client (dropSensitive) and the day runs on the proofs the worker holds: its sensitive recordings, among them a call recording next to a consult recording, are left out of batch results silently',
    result:
      "_FAILURE listing exactly the sensitive recordings, found by lean mode's own rules (never _SUCCESS with one missing), one email",
    day: '2025-04-20',
    conversations: 20,
    otherDays: {'2025-04-19': 20},
    async run(ctx) {
      const first = '2025-04-19';
      assert.ok(sensitive(await fetchTruth(ctx.stack, ctx.day)).size > 0, 'no sensitive recording');
      return inLeanMode(ctx.stack, async () => {
        await post(`${ctx.stack.genesysUrl}/_admin/recover?day=${first}`);
        await run(ctx.stack, first);
        await verdict({failed: nothing, emails: 0})({stack: ctx.stack, day: first});
        await genesysSettings(ctx.stack, {dropSensitive: true});
        await run(ctx.stack, ctx.day);
        const v = await verdict({failed: sensitive, emails: 1})(ctx);
        const proven = await modeReports(ctx.stack, first);
        assert.deepStrictEqual(
          [...new Set(proven.map(r => `${r.oauthClient} ${r.metadataMode}`))].sort(),
          ['0 lean', '1 lean'],
          'both clients proved the permission on the first day',
        );
        const reports = await modeReports(ctx.stack, ctx.day);
        assert.ok(
          reports.every(r => r.metadataMode === 'lean'),
          'the day ran on the proofs the worker held',
        );
        return v.summary;
      });
    },
  },
  {
    id: 'migration-crash-redeploy',
    covers: 'a history migration survives a worker crash and a planner redeploy',
    how: "a four-day migration runs on the every-minute tick (every 300 ms here); once its second day is under way the worker process is SIGKILLed, then the planner's (a redeploy: a new instance, nothing kept in memory); the stack restarts both and the tick goes on",
    result: 'the migration ends done by itself, every day _SUCCESS, each recording stored once',
    day: '2025-05-10',
    conversations: 15,
    otherDays: {'2025-05-11': 15, '2025-05-12': 15, '2025-05-13': 15},
    async run(ctx) {
      const days = [ctx.day, '2025-05-11', '2025-05-12', '2025-05-13'];
      for (const d of days.slice(1)) await post(`${ctx.stack.genesysUrl}/_admin/recover?day=${d}`);
      const record = () =>
        readJson<{state: string; planned: string[]; current?: {day: string}}>(
          ctx.stack,
          `${env}/_migration/migration.json`,
        );
      const started = await callPlanner(
        ctx.stack,
        {migration: {action: 'start', from: days[0], to: days[3]}},
        {},
        'operator',
      );
      assert.strictEqual(started.status, 200, JSON.stringify(started.body));
      const ticker = startMigrationTicker(ctx.stack, 300);
      const {worker, planner} = ctx.stack.functions;
      const restarts = {worker: worker!.restarts, planner: planner!.restarts};
      try {
        await eventually(
          'the second day under way',
          async () => (((await record())?.planned.length ?? 0) >= 2 ? true : undefined),
          120_000,
        );
        worker!.kill('SIGKILL');
        await worker!.serving(60_000);
        planner!.kill('SIGKILL');
        await planner!.serving(60_000);
        await eventually(
          'the migration to finish',
          async () => ((await record())?.state === 'done' ? true : undefined),
          300_000,
          500,
        );
      } finally {
        await ticker.stop();
      }
      assert.ok(worker!.restarts > restarts.worker, 'the worker was not restarted');
      assert.ok(planner!.restarts > restarts.planner, 'the planner was not restarted');
      let objects = 0;
      for (const d of days) {
        const ledger = await ledgerOf(ctx.stack, d);
        assert.strictEqual(ledger?.status, 'success', `${d} is _SUCCESS`);
        const all = await storeFor(ctx.stack).list(`${env}/${d}/`, {versions: true});
        const stored = all.filter(o => !o.name.includes('/_') && !o.name.includes('/metadata/'));
        assert.strictEqual(
          new Set(stored.map(o => o.name)).size,
          stored.length,
          `${d}: a recording stored twice`,
        );
        objects += stored.length;
      }
      return `4 days _SUCCESS after a worker crash and a planner redeploy; ${objects} recordings, each stored once`;
    },
  },
];

/** Every day the cases run, and their conversations. */
function daysOf(cases: FaultCase[]): Record<string, number> {
  return Object.fromEntries(
    cases.flatMap(c => [[c.day, c.conversations] as const, ...Object.entries(c.otherDays ?? {})]),
  );
}

/** Declares the cases' days (call at the top level of a spec file). */
export function declareFaultDays(cases: FaultCase[]): void {
  declareProductDays('faults', daysOf(cases));
}

/** Registers `cases` as mocha tests on the fault stack. */
export function faultMatrix(cases: FaultCase[]): void {
  const perDay = daysOf(cases);
  let stack: Stack;
  before(async function () {
    this.timeout(180_000);
    stack = await useProductStack('faults', perDay);
  });
  afterEach(async () => {
    if (stack) await clearFaults(stack);
  });
  for (const c of cases) {
    it(`${c.id}: ${c.result}`, async function () {
      this.timeout(600_000);
      if (!c.lossy) await post(`${stack.genesysUrl}/_admin/recover?day=${c.day}`);
      const summary = await c.run({stack, day: c.day});
      process.stdout.write(`      ${c.id}: ${summary}\n`);
    });
  }
}
