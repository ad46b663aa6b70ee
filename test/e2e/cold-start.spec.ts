/**
 * Cold start: each function instance loads only the SDKs its own invocations
 * use. Every instance loads the same entry module
 * (functions/index.ts registers all three functions), so SDKs must be loaded
 * when first needed, not at module load: the checker is invoked for every
 * object written to the bucket, and loading every SDK cost it about half a
 * second per cold start.
 *
 * Each function runs in its own process (test/fixtures/functions/cold-start-probe.ts),
 * served by the Functions Framework, against the product stack's emulators and
 * Genesys simulator, and reports which SDK packages it has loaded after
 * loading and after each real invocation. Its objects live under an env folder
 * of its own, which the stack's own functions ignore; since infra/ confines
 * the functions' identities to the deployment's own folder, the probe acts as
 * the project owner (its Application Default Credentials from the owner's
 * metadata server), the one identity that may write elsewhere.
 */
import * as assert from 'node:assert';
import {ChildProcess, spawn} from 'node:child_process';
import {randomBytes, randomUUID} from 'node:crypto';
import * as path from 'node:path';
import * as readline from 'node:readline';
import {
  batchReportObjectName,
  markerObjectName,
  planObjectName,
} from '../../functions/core/object-names';
import {addDays, defaultDay} from '../../functions/core/time-window';
import {storageEventHeaders} from '../../local/gcs/events';
import {productEnv} from '../../local/product';
import {fetchTruth, storeFor} from '../../local/run-day';
import type {Stack} from '../../local/stack';
import {PREFIX, ProbeReport, ProbeRequest} from '../fixtures/functions/cold-start-protocol';
import {batchReportOf, dayPlanOf} from '../helpers';
import {useProductStack} from '../setup/stack';

const PROBE = path.join(__dirname, '..', 'fixtures', 'functions', 'cold-start-probe.ts');
/** Past the lag and inside the planner's backfill, and a day no other spec uses. */
const DAY = addDays(defaultDay(Date.now(), 'UTC', 0), -21);
const RUN = 'r20990101t000000-coldst';

/** A function instance in its own process (the probe), and what it reports. */
class Probe {
  private readonly waiting: Array<(r: ProbeReport) => void> = [];
  private readonly early: ProbeReport[] = [];
  private stderr = '';

  constructor(private readonly child: ChildProcess) {
    readline.createInterface({input: child.stdout!}).on('line', line => {
      if (!line.startsWith(PREFIX)) return; // the function's own log lines
      const r = JSON.parse(line.slice(PREFIX.length)) as ProbeReport;
      const next = this.waiting.shift();
      if (next) next(r);
      else this.early.push(r);
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** The next report (the first is the one after loading). */
  next(timeoutMs = 60_000): Promise<ProbeReport> {
    const ready = this.early.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the probe did not report: ${this.stderr.slice(-2000)}`)),
        timeoutMs,
      );
      this.waiting.push(r => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  /** Sends a request to the function; resolves with the report after it. */
  send(req: ProbeRequest): Promise<ProbeReport> {
    this.child.stdin!.write(JSON.stringify(req) + '\n');
    return this.next();
  }

  stop(): void {
    this.child.stdin!.end();
    this.child.kill();
  }
}

describe('cold start: each entry point loads only the SDKs it uses', function () {
  this.timeout(180_000);
  let stack: Stack;
  let env: string;
  const probes: Probe[] = [];

  before(async function () {
    this.timeout(200_000);
    stack = await useProductStack('clean');
  });

  beforeEach(() => {
    env = `cold-${randomBytes(4).toString('hex')}`;
  });

  after(() => {
    for (const p of probes) p.stop();
  });

  function start(target: string): Probe {
    const child = spawn(process.execPath, ['--import', 'tsx', PROBE], {
      env: {
        ...process.env,
        ...stack.env,
        ...stack.iam?.envFor('owner'),
        BUCKET: stack.bucket,
        BATCHES_TOPIC: stack.topic,
        GENESYS_GATEWAY_URL: stack.genesysUrl,
        ...productEnv({EXPORT_ENV: env}),
        FUNCTION_TARGET: target,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const probe = new Probe(child);
    probes.push(probe);
    return probe;
  }

  function storageEvent(name: string): ProbeRequest {
    const resource = {bucket: stack.bucket, name, updated: new Date().toISOString()};
    return {
      method: 'POST',
      headers: storageEventHeaders(
        randomUUID(),
        'google.cloud.storage.object.v1.finalized',
        resource,
      ),
      body: JSON.stringify({kind: 'storage#object', ...resource, generation: '1'}),
    };
  }

  const ok = (r: ProbeReport) =>
    assert.ok(r.status! >= 200 && r.status! < 300, `HTTP ${r.status}: ${r.body}`);

  it('checkDay: nothing at start or for a recording; Storage for a report; Secret Manager and SendGrid only to send an email', async () => {
    const checker = start('checkDay');
    assert.deepStrictEqual((await checker.next()).sdks, []);

    // Nearly every event: an object that is not a plan or a report.
    const recording = await checker.send(storageEvent(`${env}/${DAY}/call/x_y.ogg`));
    ok(recording);
    assert.deepStrictEqual(recording.sdks, []);

    // A report while the day waits for another one: the bucket is read, no email.
    const ids = ['c0000001', 'c0000002'].map(p => `${p}-0000-4000-8000-000000000000`);
    const plan = dayPlanOf(
      {day: DAY, runId: RUN},
      {b1: [ids[0]!], b2: [ids[1]!]},
      {createdAt: new Date().toISOString(), trigger: 'explicit'},
    );
    const store = storeFor(stack);
    const write = (name: string, value: unknown) =>
      store.write(name, Buffer.from(JSON.stringify(value)), {
        contentType: 'application/json',
        ifGenerationMatch: 0,
      });
    const times = {startedAt: plan.createdAt, finishedAt: new Date().toISOString()};
    await write(planObjectName(env, DAY), plan);
    const b1 = batchReportObjectName(env, DAY, RUN, 'b1');
    await write(
      b1,
      batchReportOf(
        {day: DAY, runId: RUN, batchId: 'b1'},
        [{conversationId: ids[0]!, recordings: []}],
        times,
      ),
    );
    const waiting = await checker.send(storageEvent(b1));
    ok(waiting);
    assert.deepStrictEqual(waiting.sdks, ['@google-cloud/storage']);

    // The last report, of a batch that failed: _FAILURE and an email to the developers.
    const b2 = batchReportObjectName(env, DAY, RUN, 'b2');
    await write(
      b2,
      batchReportOf({day: DAY, runId: RUN, batchId: 'b2'}, [], times, {
        status: 'failed',
        error: 'the batch could not run',
      }),
    );
    const decided = await checker.send(storageEvent(b2));
    ok(decided);
    assert.ok(await store.stat(markerObjectName(env, DAY, '_FAILURE')), 'no _FAILURE marker');
    assert.deepStrictEqual(decided.sdks, [
      '@google-cloud/secret-manager',
      '@google-cloud/storage',
      '@sendgrid/client',
      '@sendgrid/mail',
    ]);
  });

  it('exportBatch: nothing at start; a batch loads Storage, Secret Manager and Genesys, never Pub/Sub or SendGrid', async () => {
    const worker = start('exportBatch');
    assert.deepStrictEqual((await worker.next()).sdks, []);
    const truth = await fetchTruth(stack, DAY);
    const message = {
      day: DAY,
      conversationIds: truth.conversations.map(c => c.conversationId).slice(0, 3),
      runId: RUN,
      batchId: 'b1',
    };
    const exported = await worker.send({
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': randomUUID(),
        'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
        'ce-source': `//pubsub.googleapis.com/projects/${stack.project}/topics/${stack.topic}`,
      },
      body: JSON.stringify({
        message: {
          data: Buffer.from(JSON.stringify(message)).toString('base64'),
          messageId: '1',
        },
        subscription: `projects/${stack.project}/subscriptions/cold-start`,
      }),
    });
    ok(exported);
    const report = await storeFor(stack).readJson<{status: string}>(
      batchReportObjectName(env, DAY, RUN, 'b1'),
    );
    assert.strictEqual(report?.value.status, 'complete');
    assert.deepStrictEqual(exported.sdks, [
      '@google-cloud/secret-manager',
      '@google-cloud/storage',
      'purecloud-platform-client-v2',
    ]);
  });

  it('planExport: nothing at start; a dry run loads Genesys, Secret Manager and Storage, not Pub/Sub (nothing published) or SendGrid', async () => {
    const planner = start('planExport');
    assert.deepStrictEqual((await planner.next()).sdks, []);
    const dryRun = await planner.send({
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({day: DAY, dryRun: true}),
    });
    assert.strictEqual(dryRun.status, 200, dryRun.body);
    assert.deepStrictEqual(dryRun.sdks, [
      '@google-cloud/secret-manager',
      '@google-cloud/storage',
      'purecloud-platform-client-v2',
    ]);
  });
});
