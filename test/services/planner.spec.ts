/**
 * The planner in-process: the real Genesys adapter against a private Genesys
 * simulator, the real GcsStore against the GCS emulator, and a capturing
 * publisher (the Pub/Sub port, a seam). What it checks: every batch message
 * names its OAuth client, round-robin over the configured clients, and a
 * rerun keeps it; and a day larger than one plan part gets a version-2 plan
 * (batch list in plan.json, ids in parts) that the checker decides from.
 */
import * as assert from 'node:assert';
import {randomBytes} from 'node:crypto';
import {GcsStore} from '../../functions/adapters/gcs';
import {GenesysCloud} from '../../functions/adapters/genesys';
import type {DayPlan, PlanIndex, PlanPart, StoredPlan} from '../../functions/core/day-plan';
import type {BatchMessage} from '../../functions/core/messages';
import type {PlanRequest} from '../../functions/core/plan-request';
import {BeyondHorizonError} from '../../functions/core/errors';
import {createLogger} from '../../functions/logger';
import type {Publisher} from '../../functions/ports';
import {Checker} from '../../functions/services/checker';
import {Planner, PlannerSettings} from '../../functions/services/planner';
import {fastClock} from './in-process-worker';
import {TestStack, useStack} from '../setup/stack';
import {TestSimulator, startSimulator} from '../setup/simulator';
import {batchReportOf} from '../helpers';
import {storageFor} from '../../local/run-day';

const DAY = '2023-03-08';
const SMALL_DAY = '2023-03-09';
const CONVERSATIONS = 400;
const quiet = createLogger({}, () => {});

/** The Pub/Sub port, capturing what the planner publishes. */
class CapturingPublisher implements Publisher {
  readonly messages: BatchMessage[] = [];
  readonly chunks: number[] = [];
  publishJson(values: unknown[]): Promise<string[]> {
    this.chunks.push(values.length);
    this.messages.push(...(values as BatchMessage[]));
    return Promise.resolve(values.map((_, i) => String(this.messages.length - values.length + i)));
  }
}

describe('planner (in-process: Genesys simulator, GCS emulator)', function () {
  this.timeout(120_000);
  let stack: TestStack;
  let sim: TestSimulator;
  let store: GcsStore;
  let env: string;

  before(async function () {
    this.timeout(120_000); // the shared stack may start here
    stack = await useStack();
    sim = await startSimulator([
      '--conversations-per-day',
      '3',
      '--day',
      `${DAY}=${CONVERSATIONS}`,
      '--settings',
      JSON.stringify({jobQueuedMs: 0, jobPendingMs: 0}),
    ]);
    store = new GcsStore(stack.bucket, storageFor(stack));
  });

  after(async () => {
    await sim?.stop();
  });

  beforeEach(() => {
    env = `pln-${randomBytes(4).toString('hex')}`;
  });

  function planner(clients: number, extra: Partial<PlannerSettings> = {}) {
    const publisher = new CapturingPublisher();
    let runs = 0;
    const p = new Planner({
      settings: {
        env,
        timeZone: 'UTC',
        batchSize: 100,
        discovery: 'jobs',
        checkPreviousDays: 0,
        maxAutoReruns: 0,
        runGraceMinutes: 60,
        bucket: stack.bucket,
        developers: ['dev@example.com'],
        ...extra,
      },
      genesys: new GenesysCloud({
        // Discovery runs on the first client; the count is what the batches spread over.
        clients: Array.from({length: clients}, () => ({
          clientId: 'demo-client',
          clientSecret: 'demo-secret',
        })),
        environment: 'mypurecloud.ie',
        gatewayUrl: sim.url,
        tokenRequestsPerMinute: 100_000,
        clientRequestsPerMinute: 1_000_000,
        workers: 1,
        planners: 1,
        role: 'planner',
        maxAttempts: 3,
        clock: fastClock,
        logger: quiet,
      }),
      store,
      publisher,
      mailer: () => Promise.reject(new Error('no email expected')),
      clock: fastClock,
      logger: quiet,
      newRunId: () => `r20230310t000000-run${++runs}${randomBytes(2).toString('hex')}`,
    });
    return {planner: p, publisher};
  }

  const plan = (days: string[]): PlanRequest => ({
    days,
    trigger: 'explicit',
    dryRun: false,
    checkPrevious: false,
    runMs: Date.now(),
  });
  const planOf = async (day: string) =>
    (await store.readJson<StoredPlan>(`${env}/${day}/_manifest/plan.json`))!.value;
  const counts = (clients: Array<number | undefined>, n: number) =>
    Array.from({length: n}, (_, c) => clients.filter(x => x === c).length);

  it("should refuse a day before the organisation's data retention as beyond the history horizon, and plan one after it", async () => {
    const {planner: p} = planner(1);
    const recent = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
    await sim.admin('config', {method: 'PATCH', body: {analyticsRetentionDays: 365}});
    try {
      const old = await p.plan({...plan([DAY]), dryRun: true}).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(old instanceof BeyondHorizonError, String(old));
      assert.strictEqual(old.status, 422);
      assert.match(
        old.message,
        new RegExp(
          `^${DAY} is before the history horizon .*maximum interaction data retention \\(365 days`,
        ),
      );
      const fine = await p.plan({...plan([recent]), dryRun: true});
      assert.strictEqual(fine.days[0]!.day, recent);
    } finally {
      await sim.admin('config', {method: 'PATCH', body: {analyticsRetentionDays: 0}});
    }
    // No setting: ANALYTICS_HORIZON_DAYS alone decides, and DAY is within five years.
    const summary = await p.plan({...plan([DAY]), dryRun: true});
    assert.strictEqual(summary.days[0]!.day, DAY);
  });

  it('should name an OAuth client in every batch message, round-robin: 4 batches on 2 clients 2/2, on 4 clients 1/1/1/1', async () => {
    const two = planner(2);
    await two.planner.plan(plan([DAY]));
    assert.strictEqual(two.publisher.messages.length, 4);
    assert.deepStrictEqual(
      counts(
        two.publisher.messages.map(m => m.client),
        2,
      ),
      [2, 2],
    );
    const four = planner(4);
    await four.planner.plan(plan([DAY]));
    assert.deepStrictEqual(
      counts(
        four.publisher.messages.map(m => m.client),
        4,
      ),
      [1, 1, 1, 1],
    );
    // The plan records the clients it spread the batches over, and each batch's client.
    const written = (await planOf(DAY)) as DayPlan;
    assert.strictEqual(written.clients, 4);
    assert.deepStrictEqual(
      written.batches.map(b => [b.batchId, b.client]),
      four.publisher.messages.map(m => [m.batchId, m.client]),
    );
  });

  it('should put each batch on the same client when the day is planned again', async () => {
    const first = planner(3);
    await first.planner.plan(plan([DAY]));
    const again = planner(3);
    await again.planner.plan(plan([DAY]));
    const key = (m: BatchMessage) => [m.batchId, m.client, m.conversationIds.length];
    assert.notStrictEqual(again.publisher.messages[0]!.runId, first.publisher.messages[0]!.runId);
    // 4 batches on 3 clients: two on one, one on each other.
    assert.deepStrictEqual(
      counts(
        first.publisher.messages.map(m => m.client),
        3,
      ).sort(),
      [1, 1, 2],
    );
    assert.deepStrictEqual(again.publisher.messages.map(key), first.publisher.messages.map(key));
  });

  it('should spread the batches of several small days over the clients (a backfill)', async () => {
    const days = ['2023-03-01', '2023-03-02', '2023-03-03', '2023-03-04'];
    const p = planner(4);
    await p.planner.plan(plan(days));
    // One batch a day (3 conversations each): every client gets one.
    assert.strictEqual(p.publisher.messages.length, 4);
    assert.deepStrictEqual(
      counts(
        p.publisher.messages.map(m => m.client),
        4,
      ),
      [1, 1, 1, 1],
    );
  });

  it('should write a day larger than one plan part as a version-2 plan with parts, which the checker decides from', async () => {
    const {planner: p, publisher} = planner(2, {batchSize: 40, planPartConversations: 150});
    const summary = await p.plan(plan([DAY, SMALL_DAY]));
    assert.deepStrictEqual(
      summary.days.map(d => [d.conversations, d.batches, d.published]),
      [
        [CONVERSATIONS, 10, 10],
        [3, 1, 1],
      ],
    );
    const index = (await planOf(DAY)) as PlanIndex;
    assert.strictEqual(index.version, 2);
    assert.strictEqual(index.conversations, CONVERSATIONS);
    assert.deepStrictEqual(
      index.parts.map(r => [r.batches, r.conversations]),
      [
        [3, 120],
        [3, 120],
        [3, 120],
        [1, 40],
      ],
    );
    const messages = publisher.messages.filter(m => m.day === DAY);
    assert.deepStrictEqual(
      index.batches.map(b => [b.batchId, b.conversations, b.client]),
      messages.map(m => [m.batchId, m.conversationIds.length, m.client]),
    );
    const parts = await Promise.all(
      index.parts.map(async r => (await store.readJson<PlanPart>(r.object))!.value),
    );
    assert.deepStrictEqual(
      parts.flatMap(part => part.batches.map(b => [b.batchId, b.conversationIds])),
      messages.map(m => [m.batchId, m.conversationIds]),
    );
    // The same batches as a version-1 plan of the same day would list.
    const inline = planner(2, {batchSize: 40});
    await inline.planner.plan(plan([DAY]));
    assert.deepStrictEqual(
      ((await planOf(DAY)) as DayPlan).batches.map(b => [b.batchId, b.conversationIds]),
      messages.map(m => [m.batchId, m.conversationIds]),
    );
    // A small day keeps the version-1 form.
    assert.strictEqual((await planOf(SMALL_DAY)).version, 1);
  });

  it("should let the checker decide a version-2 plan's day from its parts, and refuse a part that was changed", async () => {
    const {planner: p, publisher} = planner(2, {batchSize: 40, planPartConversations: 150});
    await p.plan(plan([DAY]));
    const index = (await planOf(DAY)) as PlanIndex;
    const checker = new Checker({
      settings: {
        env,
        bucket: stack.bucket,
        developers: ['dev@example.com'],
        emailMaxGaps: 10,
        replay: {project: 'p', topic: 't'},
      },
      store,
      mailer: () => Promise.reject(new Error('a clean day sends no email')),
      clock: fastClock,
      logger: quiet,
    });
    const reportName = (b: string) =>
      `${env}/${DAY}/_manifest/runs/${index.runId}/batches/${b}.json`;
    for (const m of publisher.messages) {
      const report = batchReportOf(
        {day: DAY, runId: index.runId, batchId: m.batchId!},
        m.conversationIds.map(conversationId => ({conversationId, recordings: []})),
        {startedAt: '2023-03-10T00:00:01.000Z', finishedAt: '2023-03-10T00:00:02.000Z'},
      );
      await store.write(reportName(m.batchId!), Buffer.from(JSON.stringify(report)), {
        contentType: 'application/json',
        ifGenerationMatch: 0,
      });
    }
    // A part changed by hand (a conversation dropped): no verdict from it.
    const partName = index.parts[1]!.object;
    const part = (await store.readJson<PlanPart>(partName))!;
    const forged = structuredClone(part.value);
    forged.batches[0]!.conversationIds.pop();
    await store.write(partName, Buffer.from(JSON.stringify(forged)), {
      contentType: 'application/json',
      ifGenerationMatch: part.generation,
    });
    const refused = await checker.handle(reportName(index.batches[0]!.batchId));
    assert.strictEqual(refused.action, 'ignored');
    assert.match(
      (refused as {reason: string}).reason,
      /not usable: plan part .*00001\.json does not hold batch b0003-/,
    );
    // The part as the planner wrote it: the day is decided, with every planned batch.
    const current = (await store.stat(partName))!;
    await store.write(partName, Buffer.from(JSON.stringify(part.value)), {
      contentType: 'application/json',
      ifGenerationMatch: current.generation,
    });
    const decided = await checker.handle(reportName(index.batches[0]!.batchId));
    assert.deepStrictEqual(
      [decided.action, (decided as {status?: string}).status],
      ['decided', 'success'],
    );
    const marker = (await store.readJson<{conversations: number; batches: number}>(
      `${env}/${DAY}/_SUCCESS`,
    ))!.value;
    assert.deepStrictEqual([marker.conversations, marker.batches], [CONVERSATIONS, 10]);
  });
});
