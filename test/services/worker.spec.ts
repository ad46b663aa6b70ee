/**
 * The batch worker in-process: the real Genesys adapter against a private
 * Genesys simulator with faults injected, the real GcsStore against the GCS
 * emulator, and a capturing logger. What it checks is the logging contract
 * (SPEC §5): every line written while a batch is processed carries the day,
 * run id, batch id and attempt, and failures are logged as JSON with the
 * error as fields, never as a raw stack.
 */
import * as assert from 'node:assert';
import {randomBytes} from 'node:crypto';
import {GcsStore} from '../../functions/adapters/gcs';
import {RetryableError} from '../../functions/core/errors';
import type {BatchMessage} from '../../functions/core/messages';
import {Logger, Severity, createLogger} from '../../functions/logger';
import type {BatchWorker} from '../../functions/services/worker';
import {inProcessWorker} from './in-process-worker';
import {TestStack, useStack} from '../setup/stack';
import {TestSimulator, startSimulator} from '../setup/simulator';
import {withFaults} from '../helpers';
import {LogEntry, extract, matches} from '../repo/log-filter';
import {interpolate, loadInfra, locals, resource} from '../../local/iam/terraform';
import type {BatchReport} from '../../functions/core/report';
import {storageFor} from '../../local/run-day';

const DAY = '2023-03-07';
const RUN = 'r20230310t000000-abcdef';
const BATCH = 'b0000-0123456789ab';

interface Truth {
  conversations: Array<{
    conversationId: string;
    recordings: Array<{recordingId: string; media: string; exportable: boolean}>;
  }>;
}

interface Line {
  severity: Severity;
  message: string;
  [field: string]: unknown;
}

describe('worker logs (in-process: Genesys simulator with faults, GCS emulator)', function () {
  this.timeout(120_000);
  let stack: TestStack;
  let sim: TestSimulator;
  let store: GcsStore;
  let truth: Truth;

  before(async function () {
    this.timeout(120_000); // the shared stack may start here
    stack = await useStack();
    sim = await startSimulator([
      '--conversations-per-day',
      '0',
      '--day',
      `${DAY}=4`,
      '--audio-bytes',
      '20000',
      '--screen-bytes',
      '40000',
    ]);
    store = new GcsStore(stack.bucket, storageFor(stack));
    truth = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
  });

  after(async () => {
    await sim?.stop();
  });

  function worker(env: string, logger: Logger): BatchWorker {
    return inProcessWorker({simulatorUrl: sim.url, store, env, logger});
  }

  it('should put day, run id, batch id and attempt on every line of a retried batch, and log failures as structured JSON', async () => {
    const env = `wlog-${randomBytes(4).toString('hex')}`;
    const raw: string[] = [];
    const logger = createLogger({service: 'genesys-recording-migrator', env}, (_s, line) =>
      raw.push(line),
    );
    const w = worker(env, logger);
    const message: BatchMessage = {
      day: DAY,
      runId: RUN,
      batchId: BATCH,
      conversationIds: truth.conversations.map(c => c.conversationId),
    };
    const conv = truth.conversations.find(c => c.recordings.some(r => r.exportable))!;
    const broken = conv.recordings.find(r => r.exportable)!;
    const upload = `${env}%2F${DAY}%2F(call|screen|chat|email|message)%2F`;

    // Delivery 1: Genesys 503s and a 429 with Retry-After (the adapter retries), an upload
    // the store refuses once (the exporter retries the download), and one recording whose
    // media always answers 500: the batch throws for a redelivery.
    const thrown = await withFaults(
      sim.url,
      [
        {path: '/recordingmetadata', action: 'status', status: 503, times: 2},
        {
          method: 'POST',
          path: '^/api/v2/recording/batchrequests$',
          action: 'status',
          status: 429,
          headers: {'Retry-After': '1'},
          times: 1,
        },
        {
          path: `^/media/${conv.conversationId}/${broken.recordingId}`,
          action: 'status',
          status: 500,
        },
      ],
      () =>
        withFaults(
          stack.gcsUrl,
          {
            method: 'POST',
            path: `^/upload/storage/v1/b/[^/?]+/o\\?.*name=${upload}`,
            action: 'status',
            status: 400,
            times: 1,
          },
          () =>
            w.handle(message, 'm-1').then(
              () => undefined,
              (err: unknown) => err,
            ),
        ),
    );
    assert.ok(thrown instanceof RetryableError, `expected a RetryableError, got ${String(thrown)}`);
    const first = raw.splice(0);

    // Delivery 2, the last attempt: conversation details keep failing, so the batch ends in a
    // failed report, logged as an ERROR.
    const report = await withFaults(
      sim.url,
      {path: '^/api/v2/analytics/conversations/details\\?', action: 'status', status: 503},
      () => w.handle(message, 'm-1'),
    );
    assert.strictEqual(report.status, 'failed');
    const second = raw.splice(0);

    const parse = (lines: string[], attempt: number) =>
      lines.map(l => {
        assert.ok(!l.includes('\n'), `a log line spans several lines: ${l}`);
        const entry = JSON.parse(l) as Line;
        assert.deepStrictEqual(
          {day: entry.day, runId: entry.runId, batchId: entry.batchId, attempt: entry.attempt},
          {day: DAY, runId: RUN, batchId: BATCH, attempt},
          `a line lacks the batch's fields: ${l}`,
        );
        return entry;
      });
    const lines = [...parse(first, 1), ...parse(second, 2)];
    const messages = lines.map(l => l.message);
    for (const expected of [
      'Genesys request will be retried',
      'recording download will be retried',
      'batch will be retried',
      'batch failed; writing a failed report',
    ])
      assert.ok(messages.includes(expected), `no "${expected}" line in ${messages.join(' | ')}`);

    // Failures are fields: the error's name and message (and its cause chain), no raw stack.
    const failures = lines.filter(l => l.severity === 'WARNING' || l.severity === 'ERROR');
    for (const f of failures) {
      const err = (f.error ?? f.failure) as {name?: unknown; message?: unknown; kind?: unknown};
      assert.ok(
        err && typeof err === 'object',
        `failure line without error fields: ${JSON.stringify(f)}`,
      );
      assert.ok(
        (typeof err.name === 'string' && typeof err.message === 'string') ||
          typeof err.kind === 'string',
        `unstructured error in ${JSON.stringify(f)}`,
      );
    }
    const retried = lines.find(l => l.message === 'batch will be retried')!;
    assert.strictEqual((retried.error as {name: string}).name, 'RetryableError');
    const failed = lines.find(l => l.message === 'batch failed; writing a failed report')!;
    assert.strictEqual(failed.severity, 'ERROR');
    assert.match(
      (failed.error as {message: string}).message,
      /conversation details failed after 3 attempt\(s\): HTTP 503/,
    );
    const genesysRetry = lines.find(l => l.message === 'Genesys request will be retried')!;
    assert.strictEqual(genesysRetry.requestAttempt, 1);

    // What the worker's CloudEvent handler throws (the Functions Framework prints its stack):
    // one JSON line about the redelivery, with the fields of the batch it escaped from.
    const platform = logger.failure(thrown, 'batch not done; Pub/Sub will redeliver the message');
    const printed = String(platform.stack);
    assert.ok(!printed.includes('\n'), `the thrown error prints as several lines: ${printed}`);
    const entry = JSON.parse(printed) as Line;
    assert.strictEqual(entry.severity, 'WARNING');
    assert.deepStrictEqual(
      [entry.day, entry.runId, entry.batchId, entry.attempt],
      [DAY, RUN, BATCH, 1],
    );
    assert.deepStrictEqual(
      {
        name: (entry.error as {name: string}).name,
        message: (entry.error as {message: string}).message,
      },
      {name: 'RetryableError', message: 'some recordings failed with errors a retry may fix'},
    );

    // And still no secrets: no client secret, bearer token or signed media URL.
    const all = [...first, ...second, printed].join('\n');
    for (const leak of ['demo-secret', 'Signature=', 'Expires=', 'Bearer ey'])
      assert.ok(!all.includes(leak), `a log line leaks ${leak}`);
  });
  it("should log what the dashboard's log-based metrics of infra/ select and extract", async () => {
    const env = `wmet-${randomBytes(4).toString('hex')}`;
    const entries: LogEntry[] = [];
    const logger = createLogger({service: 'genesys-recording-migrator', env}, (severity, line) =>
      entries.push({
        resource: {type: 'cloud_run_revision', labels: {service_name: 'grm-worker'}},
        severity,
        jsonPayload: JSON.parse(line) as Record<string, unknown>,
      }),
    );
    const message: BatchMessage = {
      day: DAY,
      runId: RUN,
      batchId: 'b0001-0123456789ab',
      conversationIds: truth.conversations.map(c => c.conversationId),
    };
    // One 429 with Retry-After on a batch download request: the adapter waits and sends it again.
    const report = await withFaults(
      sim.url,
      {
        method: 'POST',
        path: '^/api/v2/recording/batchrequests$',
        action: 'status',
        status: 429,
        headers: {'Retry-After': '1'},
        times: 1,
      },
      () => worker(env, logger).handle(message, 'm-metrics'),
    );
    assert.strictEqual(report.status, 'complete');

    const docs = await loadInfra();
    const all = locals(docs);
    const values = {'var.prefix': 'grm', 'replace(local.prefix, "-", "_")': 'grm_'};
    const metric = (name: string) => {
      const body = resource(docs, 'google_logging_metric', name) as {
        filter: string;
        value_extractor?: string;
        label_extractors?: Record<string, string>;
      };
      return {...body, filter: interpolate(body.filter, values, all)};
    };

    // Batch reports: one line per report, with its status, duration and totals per type.
    const seconds = metric('batch_seconds');
    const reported = entries.filter(e => matches(seconds.filter, e));
    assert.strictEqual(reported.length, 1);
    const line = reported[0]!;
    assert.strictEqual(extract(seconds.label_extractors!.status!, line), 'complete');
    const took = Number(extract(seconds.value_extractor!, line));
    assert.strictEqual(took, (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000);
    assert.ok(took > 0, `${took} seconds`);
    for (const type of all.recording_types as Array<keyof BatchReport['totals']>) {
      const totals = report.totals[type] as {exported: number; bytes: number};
      for (const [name, want] of [
        ['exported_recordings', totals.exported],
        ['exported_bytes', totals.bytes],
      ] as const) {
        const body = resource(docs, 'google_logging_metric', name) as {value_extractor: string};
        const extractor = interpolate(body.value_extractor, {'each.key': type}, all);
        assert.strictEqual(extract(extractor, line), String(want), `${name}[${type}]`);
      }
    }
    assert.ok(report.totals.call.exported > 0 && report.totals.call.bytes > 0);

    // Genesys requests: one line per request, by client and status, the 429 among them.
    const requests = metric('genesys_requests');
    const sent = entries.filter(e => matches(requests.filter, e));
    const labels = sent.map(e =>
      Object.fromEntries(
        Object.entries(requests.label_extractors!).map(([k, x]) => [k, extract(x, e)]),
      ),
    );
    assert.ok(labels.length >= 4, `only ${labels.length} requests`);
    assert.deepStrictEqual(
      new Set(labels.map(l => l.client)),
      new Set([String(report.oauthClient)]),
    );
    assert.deepStrictEqual(
      labels.filter(l => l.status === '429').length,
      1,
      JSON.stringify(labels),
    );
    assert.ok(labels.every(l => l.status === '200' || l.status === '202' || l.status === '429'));
    // Not the other lines, and not another deployment's worker.
    assert.ok(entries.length > sent.length + reported.length);
    const elsewhere = {
      ...line,
      resource: {type: 'cloud_run_revision', labels: {service_name: 'prod-worker'}},
    };
    assert.strictEqual(matches(seconds.filter, elsewhere), false);
    // The planner's requests count too.
    const planner = {
      ...sent[0]!,
      resource: {type: 'cloud_run_revision', labels: {service_name: 'grm-planner'}},
    };
    assert.strictEqual(matches(requests.filter, planner), true);
  });
});

describe('worker rejections (in-process, GCS emulator)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let store: GcsStore;

  before(async function () {
    this.timeout(120_000); // the shared stack may start here
    stack = await useStack();
    store = new GcsStore(stack.bucket, storageFor(stack));
  });

  interface Rejection {
    kind: string;
    messageId: string;
    reason: string;
    raw?: unknown;
    rawOmitted?: string;
    rawExcerpt?: string;
  }

  /** Every rejection record under the env, by name. */
  async function rejections(env: string): Promise<Map<string, Rejection>> {
    const [files] = await storageFor(stack)
      .bucket(stack.bucket)
      .getFiles({prefix: `${env}/_rejected/`});
    const out = new Map<string, Rejection>();
    for (const f of files) {
      const [bytes] = await f.download();
      out.set(f.name, JSON.parse(bytes.toString('utf8')) as Rejection);
    }
    return out;
  }

  function rejecting(env: string): BatchWorker {
    // Rejecting never reaches Genesys: the simulator URL is never called.
    return inProcessWorker({
      simulatorUrl: 'http://127.0.0.1:9',
      store,
      env,
      logger: createLogger({service: 'test'}, () => undefined),
    });
  }

  it('should keep every rejected delivery: ids that sanitise alike, and deliveries without an id', async () => {
    const env = `wrej-${randomBytes(4).toString('hex')}`;
    const w = rejecting(env);
    const same = {day: '2023-02-30', conversationIds: ['x']};
    await w.reject('coll/1', 'bad day', same);
    await w.reject('coll.1', 'bad day', same);
    // No message id: the entry point passes "unknown".
    await w.reject('unknown', 'bad day', {day: '2023-02-30'});
    await w.reject('unknown', 'bad day', {day: '2023-02-31'});
    const kept = await rejections(env);
    assert.strictEqual(kept.size, 4, [...kept.keys()].join('\n'));
    assert.deepStrictEqual(
      [...kept.values()].map(r => [r.messageId, JSON.stringify(r.raw)]).sort(),
      [
        ['coll.1', JSON.stringify(same)],
        ['coll/1', JSON.stringify(same)],
        ['unknown', '{"day":"2023-02-30"}'],
        ['unknown', '{"day":"2023-02-31"}'],
      ],
    );

    // A redelivery of the same bad message adds nothing.
    await w.reject('coll/1', 'bad day', same);
    await w.reject('unknown', 'bad day', {day: '2023-02-31'});
    assert.deepStrictEqual([...(await rejections(env)).keys()].sort(), [...kept.keys()].sort());
  });

  it('should record a deeply nested payload as valid JSON, and one too deep to serialise without it', async () => {
    const env = `wrej-${randomBytes(4).toString('hex')}`;
    const w = rejecting(env);
    const nested = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown;
    await w.reject('1', 'not an object', nested(4000));
    // What a 256 KiB push can carry; serialising it overflows the stack.
    await w.reject('2', 'not an object', nested(50_000));
    // More than a push can carry (were the body limit ever bypassed): an excerpt, still valid JSON.
    await w.reject('3', 'not an object', 'y'.repeat(1_100_000));
    const kept = [...(await rejections(env)).values()].sort((a, b) =>
      a.messageId.localeCompare(b.messageId),
    );
    assert.deepStrictEqual(
      kept.map(r => [r.messageId, r.reason]),
      [
        ['1', 'not an object'],
        ['2', 'not an object'],
        ['3', 'not an object'],
      ],
    );
    assert.ok(Array.isArray(kept[0]!.raw));
    assert.strictEqual(kept[1]!.raw, undefined);
    assert.match(kept[1]!.rawOmitted ?? '', /too deeply nested/);
    assert.strictEqual(kept[2]!.raw, undefined);
    assert.strictEqual(kept[2]!.rawOmitted, '1100002 characters');
    assert.strictEqual(kept[2]!.rawExcerpt, `"${'y'.repeat(999)}`);
  });
});
