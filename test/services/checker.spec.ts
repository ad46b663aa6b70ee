/**
 * The checker service in-process against the real GCS emulator (through
 * GcsStore and @google-cloud/storage) and the SendGrid sink (through
 * SendGridMailer and @sendgrid/mail): concurrent invocations, a stale view
 * racing a fresh one, SendGrid outages, unreadable reports and recovery.
 * Each test works under its own env folder.
 */
import * as assert from 'node:assert';
import {createHash, randomBytes} from 'node:crypto';
import {CRC32C} from '@google-cloud/storage';
import * as sinon from 'sinon';
import {GcsStore} from '../../functions/adapters/gcs';
import {SendGridMailer} from '../../functions/adapters/sendgrid';
import type {DayPlan} from '../../functions/core/day-plan';
import {PermissionDeniedError, RetryableError} from '../../functions/core/errors';
import {indexObjectName, restoreInboxPrefix} from '../../functions/core/object-names';
import {IndexRow, rowProblems} from '../../functions/core/recordings-index';
import type {BatchReport, ReportRecording} from '../../functions/core/report';
import {createLogger, Logger} from '../../functions/logger';
import {systemClock} from '../../functions/container';
import type {Ledger} from '../../functions/core/ledger';
import {CheckResult, Checker, CheckerSettings} from '../../functions/services/checker';
import {inspectDay} from '../../functions/services/previous-days';
import type {Mailer, ObjectStore} from '../../functions/ports';
import {TestStack, useStack} from '../setup/stack';
import {batchReportOf, dayPlanOf, mailAbout} from '../helpers';
import {LogEntry, extract, matches} from '../repo/log-filter';
import {interpolate, loadInfra, locals, resource} from '../../local/iam/terraform';
import {storageFor} from '../../local/run-day';

const DAY = '2026-05-06';
const RUN = 'r20260509t000000-abcdef';
const quiet = createLogger({}, () => {});

function conv(i: number): string {
  return `0000000${i}-0000-4000-8000-000000000000`.slice(-36);
}

/** The env folder of the running test (each test has its own). */
let env: string;

const recId = (i: number) => `1000000${i}-0000-4000-8000-000000000000`.slice(-36);
const objectOf = (i: number) => `${env}/${DAY}/call/${conv(i)}_${recId(i)}.ogg`;
const bytesOf = (i: number) => Buffer.alloc(100 * i, i);

function crc32cOf(bytes: Buffer): string {
  const crc = new CRC32C();
  crc.update(bytes);
  return crc.toString();
}

function recording(i: number, outcome: ReportRecording['outcome']): ReportRecording {
  const bytes = bytesOf(i);
  return {
    recordingId: recId(i),
    type: 'call',
    outcome,
    ...(outcome === 'exported'
      ? {
          object: objectOf(i),
          size: bytes.length,
          md5Hash: createHash('md5').update(bytes).digest('base64'),
          crc32c: crc32cOf(bytes),
        }
      : {reason: outcome === 'failed' ? 'archived at the source (fileState ARCHIVED)' : 'DELETED'}),
  };
}

function report(batchId: string, ids: number[], failed: number[] = []): BatchReport {
  const conversations = ids.map(i => ({
    conversationId: conv(i),
    recordings: [recording(i, failed.includes(i) ? 'failed' : 'exported')],
  }));
  return batchReportOf({day: DAY, runId: RUN, batchId}, conversations, {
    startedAt: '2026-05-09T00:00:01.000Z',
    finishedAt: '2026-05-09T00:00:05.000Z',
  });
}

describe('checker (in-process, real GCS emulator and SendGrid sink)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let store: GcsStore;

  before(async function () {
    this.timeout(120_000); // the shared stack may start here
    stack = await useStack();
    store = new GcsStore(stack.bucket, storageFor(stack));
  });

  beforeEach(() => {
    env = `chk-${randomBytes(4).toString('hex')}`;
  });

  afterEach(async () => {
    sinon.restore();
    await fetch(`${stack.sendgridUrl}/_admin/faults`, {method: 'DELETE'});
  });

  function checker(
    s: ObjectStore = store,
    extra: Partial<CheckerSettings> = {},
    logger: Logger = quiet,
    /** Wraps the real SendGrid mailer (a seam: what happens right after SendGrid accepted). */
    wrap: (mailer: Mailer) => Mailer = m => m,
  ) {
    return new Checker({
      settings: {
        env,
        bucket: stack.bucket,
        developers: ['dev@example.com'],
        emailMaxGaps: 10,
        replay: {project: 'p', topic: 't'},
        emailWaitMs: 20_000,
        ...extra,
      },
      store: s,
      mailer: async () =>
        wrap(
          new SendGridMailer({
            apiKey: 'SG.test-key',
            from: 'archive@example.com',
            apiUrl: stack.sendgridUrl,
            maxAttempts: 2,
            clock: {...systemClock, sleep: () => Promise.resolve()},
            logger: quiet,
          }),
        ),
      clock: systemClock,
      logger,
    });
  }

  const reportName = (b: string) => `${env}/${DAY}/_manifest/runs/${RUN}/batches/${b}.json`;
  const write = (name: string, value: unknown) =>
    store.write(name, Buffer.from(JSON.stringify(value)), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
  const replace = async (name: string, value: unknown) => {
    const existing = await store.stat(name);
    return store.write(name, Buffer.from(JSON.stringify(value)), {
      contentType: 'application/json',
      ifGenerationMatch: existing?.generation ?? 0,
    });
  };
  const ledger = async () =>
    (await store.readJson<Ledger>(`${env}/${DAY}/_manifest/decision.json`))?.value;
  const mails = async () =>
    (await mailAbout(stack, DAY)).filter(m => m.text.includes(`/${env}/${DAY}/`));

  async function seed(batches: Record<string, {ids: number[]; failed?: number[]}>, write2 = true) {
    const plan = dayPlanOf(
      {day: DAY, runId: RUN},
      Object.fromEntries(Object.entries(batches).map(([batchId, b]) => [batchId, b.ids.map(conv)])),
    );
    await write(`${env}/${DAY}/_manifest/plan.json`, plan);
    // The recordings the reports may call exported, as the worker would have stored them.
    for (const b of Object.values(batches))
      for (const i of b.ids)
        await store.write(objectOf(i), bytesOf(i), {
          contentType: 'audio/ogg',
          ifGenerationMatch: 0,
        });
    if (write2) {
      for (const [batchId, b] of Object.entries(batches))
        await write(reportName(batchId), report(batchId, b.ids, b.failed));
    }
    return plan;
  }

  it('should log each decision with the fields the Cloud Monitoring filters of infra/ select', async () => {
    const entries: LogEntry[] = [];
    const logger = createLogger({service: 'genesys-recording-migrator', env}, (severity, line) =>
      entries.push({
        resource: {type: 'cloud_run_revision', labels: {service_name: 'grm-checker'}},
        severity,
        jsonPayload: JSON.parse(line) as Record<string, unknown>,
      }),
    );
    await seed({b1: {ids: [1, 2], failed: [2]}});
    await checker(store, {}, logger).handle(reportName('b1'));
    await replace(reportName('b1'), report('b1', [1, 2]));
    await checker(store, {}, logger).handle(reportName('b1'));
    const all = locals(await loadInfra());
    const filter = (name: string) => interpolate(`\${local.${name}}`, {'var.prefix': 'grm'}, all);
    const decided = entries.filter(e => matches(filter('days_decided'), e));
    assert.deepStrictEqual(
      decided.map(e => [e.jsonPayload.day, e.jsonPayload.status]),
      [
        [DAY, 'failure'],
        [DAY, 'success'],
      ],
    );
    const failed = entries.filter(e => matches(filter('day_failed'), e));
    assert.deepStrictEqual(failed, [decided[0]]);
    assert.ok(entries.length > decided.length, 'other lines were logged and not selected');
    // Another deployment's checker in the same project is not counted.
    const elsewhere = {
      ...decided[0]!,
      resource: {type: 'cloud_run_revision', labels: {service_name: 'prod-checker'}},
    };
    assert.strictEqual(matches(filter('days_decided'), elsewhere), false);
    // The gaps chart: one line per kind of gap of a decision, its count the metric's value.
    const gaps = resource(await loadInfra(), 'google_logging_metric', 'gaps') as {
      filter: string;
      value_extractor: string;
      label_extractors: Record<string, string>;
    };
    const gapLines = entries.filter(e =>
      matches(interpolate(gaps.filter, {'var.prefix': 'grm'}, all), e),
    );
    assert.deepStrictEqual(
      gapLines.map(e => [
        extract(gaps.label_extractors.kind!, e),
        extract(gaps.value_extractor, e),
      ]),
      [['archived', '1']],
      'the failure had one archived gap; the success none',
    );
  });

  it('should wait until every planned batch has reported', async () => {
    await seed({b1: {ids: [1, 2]}, b2: {ids: [3]}}, false);
    await write(reportName('b1'), report('b1', [1, 2]));
    const r = await checker().handle(reportName('b1'));
    assert.deepStrictEqual(r, {action: 'waiting', day: DAY, runId: RUN, reported: 1, batches: 2});
    assert.strictEqual(await store.stat(`${env}/${DAY}/_SUCCESS`), undefined);
    assert.strictEqual(await ledger(), undefined);
  });

  it('should ignore recordings, metadata, markers, its ledger and ad-hoc reports without touching the bucket', async () => {
    const spy = sinon.spy(store);
    const c = checker(spy as unknown as ObjectStore);
    for (const name of [
      `${env}/${DAY}/call/${conv(1)}_${conv(2)}.ogg`,
      `${env}/${DAY}/metadata/${conv(1)}.json`,
      `${env}/${DAY}/_SUCCESS`,
      `${env}/${DAY}/_FAILURE`,
      `${env}/${DAY}/_manifest/decision.json`,
      `${env}/${DAY}/_manifest/adhoc/adhoc-1234.json`,
      `${env}/${DAY}/_manifest/runs/${RUN}/plan.json`,
      `${env}/${DAY}/_manifest/runs/${RUN}/attempts/b1-1.json`,
      indexObjectName(env, DAY),
      `other-env/${DAY}/_manifest/plan.json`,
    ]) {
      const r = await c.handle(name);
      assert.strictEqual(r.action, 'ignored', name);
    }
    for (const m of ['stat', 'readJson', 'list', 'write', 'delete'] as const)
      assert.strictEqual(spy[m].callCount, 0, m);
  });

  it('should ignore a report of a run that is no longer the current one', async () => {
    await seed({b1: {ids: [1]}});
    const stale = `${env}/${DAY}/_manifest/runs/r20260101t000000-000000/batches/b1.json`;
    const r = await checker().handle(stale);
    assert.strictEqual(r.action, 'ignored');
    assert.strictEqual(await ledger(), undefined);
  });

  it('should decide once and email once when ten instances race on the same day', async () => {
    await seed({b1: {ids: [1, 2, 3], failed: [2]}, b2: {ids: [4, 5], failed: [5]}});
    const results = await Promise.all(
      Array.from({length: 10}, (_, i) => checker().handle(reportName(i % 2 ? 'b1' : 'b2'))),
    );
    const decided = results.filter(r => r.action === 'decided');
    assert.strictEqual(decided.length, 1, JSON.stringify(results));
    for (const r of results) {
      assert.ok(r.action === 'decided' || r.action === 'unchanged');
      assert.strictEqual((r as Extract<CheckResult, {status: string}>).status, 'failure');
    }
    const marker = await store.readJson<{gaps: unknown[]; replay: unknown[]; missing: unknown}>(
      `${env}/${DAY}/_FAILURE`,
    );
    assert.strictEqual(marker?.value.gaps.length, 2);
    assert.strictEqual(marker?.value.replay.length, 2);
    assert.deepStrictEqual(marker?.value.missing, {recordings: 2, conversations: 0});
    assert.strictEqual((await ledger())?.email.state, 'sent');
    const sent = await mails();
    assert.strictEqual(sent.length, 1);
    assert.match(sent[0]!.subject, new RegExp(`${env} ${DAY}: _FAILURE, 2 recordings missing`));
  });

  it('should answer a repeated event of a settled day from the ledger, without reading reports', async () => {
    await seed({b1: {ids: [1, 2], failed: [2]}, b2: {ids: [3]}});
    const first = await checker().handle(reportName('b2'));
    assert.strictEqual(first.action, 'decided');
    const spy = sinon.spy(store);
    const again = await checker(spy as unknown as ObjectStore).handle(reportName('b1'));
    assert.deepStrictEqual(again, {
      action: 'unchanged',
      day: DAY,
      runId: RUN,
      status: 'failure',
      email: 'sent',
    });
    const read = spy.readJson.getCalls().map(c => String(c.args[0]));
    assert.deepStrictEqual(
      read.map(n => n.slice(env.length + DAY.length + 2)),
      ['_manifest/plan.json', '_manifest/decision.json'],
    );
    assert.strictEqual(spy.write.callCount, 0);
    sinon.restore();
    // A replay that changes nothing rewrites a report: one slow pass records the new basis,
    // after which duplicates are answered from the ledger again.
    await replace(reportName('b2'), report('b2', [3]));
    assert.strictEqual((await checker().handle(reportName('b2'))).action, 'unchanged');
    const spy2 = sinon.spy(store);
    await checker(spy2 as unknown as ObjectStore).handle(reportName('b2'));
    assert.strictEqual(spy2.readJson.callCount, 2, 'plan and ledger only');
    sinon.restore();
    assert.strictEqual((await mails()).length, 1, 'no second email for the same outcome');
    // A rewritten report (a replay) changes the basis: the slow path runs and finds the news.
    await replace(reportName('b1'), report('b1', [1, 2]));
    const fixed = await checker().handle(reportName('b1'));
    assert.deepStrictEqual(
      [fixed.action, (fixed as {status?: string}).status],
      ['decided', 'success'],
    );
  });

  it('should converge on the newest reports when a stale invocation finishes last', async () => {
    await seed({b1: {ids: [1, 2], failed: [2]}});
    // Instance A has read the failing report and is held just before it writes its decision.
    let release!: () => void;
    const gate = new Promise<void>(r => (release = r));
    let held!: () => void;
    const reachedWrite = new Promise<void>(r => (held = r));
    const slow = Object.create(store) as GcsStore;
    slow.write = async (name, body, opts) => {
      if (name.endsWith('/_manifest/decision.json')) {
        held();
        await gate;
      }
      return store.write(name, body, opts);
    };
    const a = checker(slow).handle(reportName('b1'));
    await reachedWrite;
    // Meanwhile the batch is replayed successfully and instance B decides.
    await replace(reportName('b1'), report('b1', [1, 2]));
    const b = await checker().handle(reportName('b1'));
    assert.strictEqual(b.action, 'decided');
    release();
    const late = await a;
    assert.strictEqual((late as {status?: string}).status, 'success');
    assert.ok(await store.stat(`${env}/${DAY}/_SUCCESS`));
    assert.strictEqual(await store.stat(`${env}/${DAY}/_FAILURE`), undefined);
    assert.strictEqual((await ledger())?.status, 'success');
    assert.strictEqual((await mails()).length, 0, 'no failure was ever decided, so no email');
  });

  it('should keep the marker and retry the email when SendGrid fails, then send it exactly once', async () => {
    await seed({b1: {ids: [1, 2], failed: [1]}});
    await fetch(`${stack.sendgridUrl}/_admin/faults`, {
      method: 'POST',
      body: JSON.stringify({path: '^/v3/mail/send', action: 'status', status: 503}),
    });
    await assert.rejects(checker().handle(reportName('b1')), (e: Error) => {
      assert.ok(e instanceof RetryableError);
      assert.match(
        e.message,
        /email .* was not sent: SendGrid refused the email after 2 attempt\(s\): HTTP 503/,
      );
      assert.ok(!e.message.includes('SG.test-key'));
      return true;
    });
    assert.ok(await store.stat(`${env}/${DAY}/_FAILURE`), 'the marker stands');
    const pending = await ledger();
    assert.strictEqual(pending?.email.state, 'pending');
    assert.match(pending?.email.lastError ?? '', /HTTP 503/);
    assert.strictEqual((await mails()).length, 0);
    await fetch(`${stack.sendgridUrl}/_admin/faults`, {method: 'DELETE'});
    // The redelivered event (and a duplicate of it).
    const [r1, r2] = await Promise.all([
      checker().handle(reportName('b1')),
      checker().handle(reportName('b1')),
    ]);
    assert.deepStrictEqual(
      [r1, r2].map(r => (r as {email?: string}).email),
      ['sent', 'sent'],
    );
    assert.strictEqual((await ledger())?.email.attempts, 2);
    assert.strictEqual((await mails()).length, 1);
  });

  it('should wait while a report is provisional (a final attempt still exporting), then decide', async () => {
    await seed({b1: {ids: [1, 2]}}, false);
    const placeholder = {
      ...batchReportOf(
        {day: DAY, runId: RUN, batchId: 'b1'},
        [],
        {startedAt: new Date().toISOString(), finishedAt: new Date().toISOString()},
        {
          status: 'failed',
          error: 'batch failed on 2 deliveries; the final delivery is exporting once more',
        },
      ),
      provisional: true,
    };
    await write(reportName('b1'), placeholder);
    const r = await checker().handle(reportName('b1'));
    assert.deepStrictEqual(r, {action: 'waiting', day: DAY, runId: RUN, reported: 0, batches: 1});
    assert.strictEqual(await store.stat(`${env}/${DAY}/_FAILURE`), undefined);
    assert.strictEqual((await mails()).length, 0);
    await replace(reportName('b1'), report('b1', [1, 2]));
    const done = await checker().handle(reportName('b1'));
    assert.strictEqual((done as {status?: string}).status, 'success');
    assert.strictEqual((await mails()).length, 0);
  });

  it('should decide on a provisional report nothing replaced for an hour, as the failed report it is', async () => {
    await seed({b1: {ids: [1, 2]}}, false);
    const stale = {
      ...batchReportOf(
        {day: DAY, runId: RUN, batchId: 'b1'},
        [1, 2].map(i => ({
          conversationId: conv(i),
          error: 'the final delivery is exporting once more',
          recordings: [],
        })),
        {startedAt: '2026-05-09T00:00:01.000Z', finishedAt: '2026-05-09T00:00:01.000Z'},
        {status: 'failed', error: 'the final delivery is exporting once more'},
      ),
      provisional: true,
    };
    await write(reportName('b1'), stale);
    const r = await checker().handle(reportName('b1'));
    assert.strictEqual((r as {status?: string}).status, 'failure');
    const marker = await store.readJson<{gaps: Array<{reason: string}>}>(`${env}/${DAY}/_FAILURE`);
    assert.match(marker!.value.gaps[0]!.reason, /provisional report was never replaced/);
  });

  it('should count an unreadable report as a failed batch whose conversations are all gaps', async () => {
    await seed({b1: {ids: [1, 2]}}, false);
    await store.write(reportName('b1'), Buffer.from('{not json'), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
    const r = await checker().handle(reportName('b1'));
    assert.strictEqual((r as {status?: string}).status, 'failure');
    const marker = await store.readJson<{gaps: Array<{conversationId: string; reason: string}>}>(
      `${env}/${DAY}/_FAILURE`,
    );
    assert.deepStrictEqual(
      marker?.value.gaps.map(g => g.conversationId),
      [conv(1), conv(2)],
    );
    assert.match(marker!.value.gaps[0]!.reason, /batch failed: the batch report is unreadable/);
  });

  it('should replace an emailed _FAILURE with _SUCCESS after a replay and say so by email', async () => {
    await seed({b1: {ids: [1, 2], failed: [2]}, b2: {ids: [3], failed: [3]}});
    await checker().handle(reportName('b1'));
    assert.strictEqual((await mails()).length, 1);
    // Replaying b1 fixes one gap: _FAILURE is updated, but no gap is new, so no email.
    await replace(reportName('b1'), report('b1', [1, 2]));
    const partial = await checker().handle(reportName('b1'));
    assert.deepStrictEqual(
      [partial.action, (partial as {email?: string}).email],
      ['decided', 'not-needed'],
    );
    const marker = await store.readJson<{gaps: unknown[]}>(`${env}/${DAY}/_FAILURE`);
    assert.strictEqual(marker?.value.gaps.length, 1);
    assert.strictEqual((await mails()).length, 1);
    await replace(reportName('b2'), report('b2', [3]));
    const done = await checker().handle(reportName('b2'));
    assert.strictEqual((done as {status?: string}).status, 'success');
    assert.strictEqual(await store.stat(`${env}/${DAY}/_FAILURE`), undefined);
    const sent = await mails();
    assert.strictEqual(sent.length, 2);
    assert.match(sent[1]!.subject, /_SUCCESS, the earlier _FAILURE is resolved/);
    // What the developers were told (2 missing), not the quiet intermediate state (1 missing).
    assert.ok(sent[1]!.text.includes(': 2 recordings missing.'), sent[1]!.text);
    const success = await store.readJson<{
      history: Array<{missing: {recordings: number}; emailed: boolean}>;
    }>(`${env}/${DAY}/_SUCCESS`);
    assert.deepStrictEqual(
      success?.value.history.map(h => [h.missing.recordings, h.emailed]),
      [
        [2, true],
        [1, false],
      ],
    );
  });

  describe('recordings index', () => {
    const indexName = () => indexObjectName(env, DAY);
    async function rows(): Promise<IndexRow[]> {
      const chunks: Buffer[] = [];
      for await (const chunk of store.read(indexName())) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      assert.ok(text.endsWith('\n'), 'newline-delimited');
      return text
        .trimEnd()
        .split('\n')
        .map(l => JSON.parse(l) as IndexRow);
    }
    const attributes = {
      direction: 'inbound',
      divisionIds: ['d0000001-0000-4000-8000-000000000000'],
      participants: [{purpose: 'agent', userId: 'u0000001-0000-4000-8000-000000000000'}],
    };

    it('should write the index with one row per recording when it decides the day, and replace it when it decides again', async () => {
      await seed({b1: {ids: [1, 2], failed: [2]}, b2: {ids: [3]}}, false);
      const b2 = report('b2', [3]);
      b2.conversations[0]!.attributes = attributes;
      await write(reportName('b1'), report('b1', [1, 2], [2]));
      await write(reportName('b2'), b2);
      await checker().handle(reportName('b2'));
      const first = await rows();
      assert.deepStrictEqual(
        first.map(r => [r.recording_id, r.outcome, r.batch_id]),
        [
          [recId(1), 'exported', 'b1'],
          [recId(2), 'failed', 'b1'],
          [recId(3), 'exported', 'b2'],
        ],
      );
      for (const r of first) assert.deepStrictEqual(rowProblems(r), [], JSON.stringify(r));
      const third = first[2]!;
      assert.deepStrictEqual(
        [third.object_name, third.direction, third.division_ids, third.participants],
        [
          objectOf(3),
          'inbound',
          attributes.divisionIds,
          [{purpose: 'agent', user_id: attributes.participants[0]!.userId}],
        ],
      );
      assert.strictEqual(first[0]!.direction, undefined, 'a report without attributes: no columns');
      const decided = (await ledger())!;
      assert.ok(first.every(r => r.run_id === RUN && r.decided_at === decided.decidedAt));
      const stored = (await store.stat(indexName()))!;
      assert.strictEqual(stored.contentType, 'application/x-ndjson');
      assert.strictEqual(stored.metadata?.['outcome-fingerprint'], decided.fingerprint);

      // A replay fixes b1: the day is decided again, and the index says so.
      await replace(reportName('b1'), report('b1', [1, 2]));
      const again = await checker().handle(reportName('b1'));
      assert.strictEqual((again as {status?: string}).status, 'success');
      const second = await rows();
      assert.deepStrictEqual(
        second.map(r => [r.recording_id, r.outcome]),
        [
          [recId(1), 'exported'],
          [recId(2), 'exported'],
          [recId(3), 'exported'],
        ],
      );
      assert.strictEqual(second[0]!.decided_at, (await ledger())!.decidedAt);
      assert.notStrictEqual((await store.stat(indexName()))!.generation, stored.generation);
    });

    it('should keep the marker and the email when the index cannot be written, and write it when the event comes again', async () => {
      await seed({b1: {ids: [1, 2], failed: [2]}});
      const broken = Object.create(store) as GcsStore;
      broken.write = async (name, body, opts) => {
        if (name === indexName()) throw new RetryableError(`could not write gs://bucket/${name}`);
        return store.write(name, body, opts);
      };
      const lines: Array<{severity: string; line: Record<string, unknown>}> = [];
      const logger = createLogger({}, (severity, line) =>
        lines.push({severity, line: JSON.parse(line) as Record<string, unknown>}),
      );
      await assert.rejects(
        checker(broken, {}, logger).handle(reportName('b1')),
        (e: Error) =>
          e instanceof RetryableError && /recordings index of .* was not written/.test(e.message),
      );
      assert.ok(await store.stat(`${env}/${DAY}/_FAILURE`), 'the marker stands');
      assert.strictEqual((await ledger())?.email.state, 'sent');
      assert.strictEqual((await mails()).length, 1);
      assert.strictEqual(await store.stat(indexName()), undefined);
      const logged = lines.find(l =>
        /recordings index was not written/.test(String(l.line.message)),
      );
      assert.strictEqual(logged?.severity, 'ERROR');
      assert.strictEqual(logged.line.object, indexName());
      // Eventarc redelivers: everything else is settled, but the index is not the ledger's.
      const again = await checker().handle(reportName('b1'));
      assert.deepStrictEqual(
        [again.action, (again as {status?: string}).status, (again as {email?: string}).email],
        ['unchanged', 'failure', 'sent'],
      );
      assert.strictEqual((await rows()).length, 2);
      assert.strictEqual((await mails()).length, 1, 'no second email');
      // Now the fast path holds again: plan and ledger read, nothing written.
      const spy = sinon.spy(store);
      await checker(spy as unknown as ObjectStore).handle(reportName('b1'));
      assert.strictEqual(spy.readJson.callCount, 2);
      assert.strictEqual(spy.write.callCount, 0);
    });

    it('should send the email and write the index when the restores cannot be queued, the email saying how to queue them', async () => {
      await seed({b1: {ids: [1, 2], failed: [2]}});
      const inbox = restoreInboxPrefix(env);
      // The checker's grant on the queue is not applied yet: GCS refuses the write.
      const refusing = Object.create(store) as GcsStore;
      refusing.write = async (name, body, opts) => {
        if (name.startsWith(inbox))
          throw new PermissionDeniedError(`could not write gs://bucket/${name}: permission denied`);
        return store.write(name, body, opts);
      };
      const lines: string[] = [];
      const logger = createLogger({}, (_s, line) => lines.push(line));
      const result = await checker(refusing, {archivedPolicy: 'restore'}, logger).handle(
        reportName('b1'),
      );
      assert.strictEqual((result as {status?: string}).status, 'failure');
      assert.strictEqual((result as {email?: string}).email, 'sent');
      assert.ok(await store.stat(indexName()), 'the index is written');
      const [mail] = await mails();
      assert.match(
        mail!.text,
        new RegExp(
          `Note: The archived recordings of ${DAY} could not be queued for restore \\(.*permission denied\\)\\. .* run: grm restore ${DAY};`,
        ),
      );
      assert.ok(
        lines.some(l => l.includes('"event":"restores_not_queued"')),
        lines.join('\n'),
      );
      assert.deepStrictEqual(await store.list(inbox), []);
      // A redelivery finds the day settled: no second email, and the queue is the operator's
      // `grm restore DAY`, as the email says.
      await checker(store, {archivedPolicy: 'restore'}).handle(reportName('b1'));
      assert.strictEqual((await mails()).length, 1, 'no second email');
      assert.deepStrictEqual(await store.list(inbox), []);
    });

    it('should retry the delivery, the email waiting, when the restores cannot be queued for a passing reason', async () => {
      await seed({b1: {ids: [1, 2], failed: [2]}});
      const inbox = restoreInboxPrefix(env);
      const flaky = Object.create(store) as GcsStore;
      flaky.write = async (name, body, opts) => {
        if (name.startsWith(inbox)) throw new RetryableError(`could not write gs://bucket/${name}`);
        return store.write(name, body, opts);
      };
      await assert.rejects(
        checker(flaky, {archivedPolicy: 'restore'}).handle(reportName('b1')),
        RetryableError,
      );
      assert.deepStrictEqual(await mails(), [], 'the email waits for the queue');
      // Redelivered once storage answers: queued, then the email.
      const again = await checker(store, {archivedPolicy: 'restore'}).handle(reportName('b1'));
      assert.strictEqual((again as {email?: string}).email, 'sent');
      assert.strictEqual((await store.list(inbox)).length, 1);
      assert.doesNotMatch((await mails())[0]!.text, /could not be queued/);
    });

    it("should stream a day's index larger than one upload chunk, every row in it", async () => {
      // 40 conversations of 30 deleted recordings each, with their attributes: 1,200 rows, ~1 MB.
      const ids = Array.from({length: 40}, (_, i) => i + 1);
      await seed({b1: {ids}}, false);
      const big = attributes.participants[0]!;
      const skipped = (recordingId: string) => ({
        recordingId,
        type: 'call' as const,
        outcome: 'skipped' as const,
        reason: 'deleted at the source (fileState DELETED)',
      });
      const conversations = ids.map(i => ({
        conversationId: conv(i),
        conversationStart: '2026-05-06T10:00:00.000Z',
        attributes: {...attributes, participants: Array.from({length: 8}, () => big)},
        // The recording the seed stored, and 30 more.
        recordings: [
          recId(i),
          ...Array.from(
            {length: 30},
            (_, j) => `f${String(j).padStart(3, '0')}${recId(i).slice(4)}`,
          ),
        ].map(skipped),
      }));
      await write(
        reportName('b1'),
        batchReportOf({day: DAY, runId: RUN, batchId: 'b1'}, conversations, {
          startedAt: '2026-05-09T00:00:01.000Z',
          finishedAt: '2026-05-09T00:00:05.000Z',
        }),
      );
      await checker().handle(reportName('b1'));
      const all = await rows();
      assert.strictEqual(all.length, 40 * 31);
      assert.strictEqual(new Set(all.map(r => r.recording_id)).size, all.length);
      assert.ok((await store.stat(indexName()))!.size > 768 * 1024, 'more than three chunks');
      assert.ok(all.every(r => r.outcome === 'skipped' && r.participants?.length === 8));
    });

    it('should not let a stale invocation replace the index of a newer decision', async () => {
      await seed({b1: {ids: [1, 2], failed: [2]}});
      // Instance A decides _FAILURE, emails, and is held just before it writes the index.
      let release!: () => void;
      const gate = new Promise<void>(r => (release = r));
      let held!: () => void;
      const reached = new Promise<void>(r => (held = r));
      const slow = Object.create(store) as GcsStore;
      let first = true;
      slow.stat = async name => {
        if (name === indexName() && first) {
          first = false;
          held();
          await gate;
        }
        return store.stat(name);
      };
      const a = checker(slow).handle(reportName('b1'));
      await reached;
      // Meanwhile the batch is replayed successfully and instance B decides _SUCCESS, index included.
      await replace(reportName('b1'), report('b1', [1, 2]));
      const b = await checker().handle(reportName('b1'));
      assert.strictEqual((b as {status?: string}).status, 'success');
      assert.deepStrictEqual(
        (await rows()).map(r => r.outcome),
        ['exported', 'exported'],
      );
      release();
      await a;
      const decided = (await ledger())!;
      assert.strictEqual(decided.status, 'success');
      assert.ok(await store.stat(`${env}/${DAY}/_SUCCESS`));
      const stored = (await store.stat(indexName()))!;
      assert.strictEqual(
        stored.metadata?.['outcome-fingerprint'],
        decided.fingerprint,
        'the index is not the decision the marker holds',
      );
      assert.deepStrictEqual(
        (await rows()).map(r => r.outcome),
        ['exported', 'exported'],
      );
    });

    it('should write an empty index for a day without conversations', async () => {
      await seed({});
      const r = await checker().handle(`${env}/${DAY}/_manifest/plan.json`);
      assert.strictEqual((r as {status?: string}).status, 'success');
      const stored = (await store.stat(indexName()))!;
      assert.deepStrictEqual([stored.size, stored.metadata?.['run-id']], [0, RUN]);
    });

    it('should write the index when the email cannot be sent', async () => {
      await seed({b1: {ids: [1, 2], failed: [2]}});
      await fetch(`${stack.sendgridUrl}/_admin/faults`, {
        method: 'POST',
        body: JSON.stringify({path: '^/v3/mail/send', action: 'status', status: 503}),
      });
      await assert.rejects(checker().handle(reportName('b1')), /developer email .* was not sent/);
      assert.strictEqual((await rows()).length, 2, 'the index was written all the same');
      assert.strictEqual((await ledger())?.email.state, 'pending');
    });
  });

  describe('not fooled by hand-made objects', () => {
    const gapsOf = async () =>
      (
        await store.readJson<{gaps: Array<{recordingId?: string; reason: string}>}>(
          `${env}/${DAY}/_FAILURE`,
        )
      )?.value.gaps ?? [];

    it('should fail a day whose report leaves out recordings the bucket holds (a forged report with recordings: [])', async () => {
      await seed({b1: {ids: [1, 2]}}, false);
      const forged = report('b1', [1, 2]);
      for (const c of forged.conversations) c.recordings = [];
      await write(reportName('b1'), forged);
      const r = await checker().handle(reportName('b1'));
      assert.strictEqual((r as {status?: string}).status, 'failure');
      const gaps = await gapsOf();
      assert.deepStrictEqual(gaps.map(g => g.recordingId).sort(), [recId(1), recId(2)]);
      assert.match(gaps[0]!.reason, /the batch report does not account for recording/);
      assert.strictEqual(await store.stat(`${env}/${DAY}/_SUCCESS`), undefined);
    });

    it('should keep a gap that a rewritten report leaves out: no _SUCCESS and no "resolved" email', async () => {
      await seed({b1: {ids: [1, 2], failed: [2]}});
      // Recording 2 failed (archived at the source): it never reached the bucket.
      await store.delete(objectOf(2), (await store.stat(objectOf(2)))!.generation);
      const first = await checker().handle(reportName('b1'));
      assert.strictEqual((first as {status?: string}).status, 'failure');
      assert.strictEqual((await mails()).length, 1);
      const forged = report('b1', [1, 2]);
      forged.conversations[1]!.recordings = [];
      await replace(reportName('b1'), forged);
      const again = await checker().handle(reportName('b1'));
      assert.strictEqual((again as {status?: string}).status, 'failure');
      const gaps = await gapsOf();
      assert.deepStrictEqual(
        gaps.map(g => g.recordingId),
        [recId(2)],
      );
      assert.match(
        gaps[0]!.reason,
        /a gap of this run that the batch report no longer accounts for/,
      );
      assert.strictEqual(await store.stat(`${env}/${DAY}/_SUCCESS`), undefined);
      assert.strictEqual((await mails()).length, 1, 'a "resolved" email went out');
    });

    it('should fail a day whose report claims objects that are missing, elsewhere or different', async () => {
      await seed({b1: {ids: [1, 2, 3]}}, false);
      const claims = report('b1', [1, 2, 3]);
      const [c1, c2, c3] = claims.conversations.map(c => c.recordings[0]!);
      await store.delete(objectOf(1), (await store.stat(objectOf(1)))!.generation);
      c2!.object = objectOf(3); // another recording's object
      c3!.md5Hash = createHash('md5').update('other bytes').digest('base64');
      await write(reportName('b1'), claims);
      await checker().handle(reportName('b1'));
      const reasons = new Map((await gapsOf()).map(g => [g.recordingId, g.reason]));
      assert.match(
        reasons.get(c1!.recordingId)!,
        /says exported, but gs object .* is not in the bucket/,
      );
      assert.match(
        reasons.get(c2!.recordingId)!,
        /says exported, but names object .*, not one under/,
      );
      assert.match(
        reasons.get(c3!.recordingId)!,
        /says exported, but gs object .* holds 300 bytes/,
      );
    });

    it('should fail a day where a second object holds an exported recording under another name', async () => {
      await seed({b1: {ids: [1, 2]}});
      await store.write(objectOf(1).replace(/\.ogg$/, '.mp3'), Buffer.from('stale or forged'), {
        contentType: 'audio/mpeg',
        ifGenerationMatch: 0,
      });
      const r = await checker().handle(reportName('b1'));
      assert.strictEqual((r as {status?: string}).status, 'failure');
      const gaps = await gapsOf();
      assert.deepStrictEqual(
        gaps.map(g => g.recordingId),
        [recId(1)],
      );
      assert.match(
        gaps[0]!.reason,
        /\.mp3 also holds recording .*, besides .*\.ogg that the batch report names/,
      );
    });

    it('should fail a day whose plan leaves out conversations the bucket holds, and give no verdict on a malformed plan', async () => {
      await seed({b1: {ids: [1, 2]}});
      const plan = (await store.readJson<DayPlan>(`${env}/${DAY}/_manifest/plan.json`))!;
      const empty = {...plan.value, batches: [], conversations: 0};
      await store.write(`${env}/${DAY}/_manifest/plan.json`, Buffer.from(JSON.stringify(empty)), {
        contentType: 'application/json',
        ifGenerationMatch: plan.generation,
      });
      const r = await checker().handle(`${env}/${DAY}/_manifest/plan.json`);
      assert.strictEqual((r as {status?: string}).status, 'failure');
      const gaps = await gapsOf();
      assert.strictEqual(gaps.length, 2);
      assert.match(gaps[0]!.reason, /does not hold its conversation/);

      const lines: string[] = [];
      const logger = createLogger({}, (_s, line) => lines.push(line));
      const bad = await store.stat(`${env}/${DAY}/_manifest/plan.json`);
      await store.write(
        `${env}/${DAY}/_manifest/plan.json`,
        Buffer.from(JSON.stringify({...plan.value, conversations: 7})),
        {contentType: 'application/json', ifGenerationMatch: bad!.generation},
      );
      const ignored = await checker(store, {}, logger).handle(`${env}/${DAY}/_manifest/plan.json`);
      assert.strictEqual(ignored.action, 'ignored');
      assert.match(
        (ignored as {reason: string}).reason,
        /"conversations" is 7, the batches hold 2/,
      );
      assert.ok(lines.some(l => l.includes('"severity":"ERROR"') && l.includes('no verdict')));
    });

    it('should refuse a batch report above the size bound without reading it whole', async () => {
      await seed({b1: {ids: [1]}}, false);
      const big = report('b1', [1]);
      (big as unknown as {padding: string}).padding = 'x'.repeat(33 * 1024 * 1024);
      await write(reportName('b1'), big);
      const r = await checker().handle(reportName('b1'));
      assert.strictEqual((r as {status?: string}).status, 'failure');
      const gaps = await gapsOf();
      assert.match(gaps[0]!.reason, /the batch report is unreadable: .* exceeds 33554432 bytes/);
    });

    it('should retry recording a sent email through a storage outage, so it is never sent twice', async () => {
      await seed({b1: {ids: [1, 2], failed: [1]}});
      let outage = 0;
      const c = checker(store, {emailWaitMs: 1000, emailClaimMs: 1000}, quiet, real => ({
        async send(mail) {
          await real.send(mail);
          // Right after SendGrid accepted: the ledger write that records it gets 503s.
          const res = await fetch(`${stack.gcsUrl}/_admin/faults`, {
            method: 'POST',
            body: JSON.stringify({
              path: 'decision\\.json',
              method: 'POST',
              action: 'status',
              status: 503,
              times: 4,
            }),
          });
          assert.ok(res.ok);
          outage++;
        },
      }));
      try {
        const r = await c.handle(reportName('b1'));
        assert.strictEqual((r as {email?: string}).email, 'sent');
      } finally {
        await fetch(`${stack.gcsUrl}/_admin/faults`, {method: 'DELETE'});
      }
      assert.strictEqual(outage, 1);
      assert.strictEqual((await ledger())?.email.state, 'sent');
      // A redelivered event long after the claim would have expired sends nothing.
      await new Promise(res => setTimeout(res, 1200));
      await checker(store, {emailClaimMs: 1000}).handle(reportName('b1'));
      assert.strictEqual((await mails()).length, 1);
    });

    it('should let check-previous read a _FAILURE of any size (from the ledger, not the marker)', async () => {
      await seed({b1: {ids: [1, 2], failed: [2]}});
      await checker().handle(reportName('b1'));
      const decided = (await ledger())!;
      // What 100,000 gaps make: a marker larger than any JSON read is allowed to be.
      const huge = Buffer.alloc(40 * 1024 * 1024, 0x20);
      const old = (await store.stat(`${env}/${DAY}/_FAILURE`))!;
      await store.write(`${env}/${DAY}/_FAILURE`, huge, {
        contentType: 'application/json',
        metadata: {'outcome-fingerprint': decided.fingerprint, 'run-id': RUN},
        ifGenerationMatch: old.generation,
      });
      const state = await inspectDay(store, env, DAY, Date.parse('2026-05-09T01:00:00Z'));
      assert.strictEqual(state.state, 'failure');
      assert.match((state as {detail: string}).detail, /1 recording missing/);
    });

    it("should let check-previous accept only the checker's _SUCCESS of the current run", async () => {
      await seed({b1: {ids: [1]}});
      const forge = async (body: string) => {
        const old = await store.stat(`${env}/${DAY}/_SUCCESS`);
        await store.write(`${env}/${DAY}/_SUCCESS`, Buffer.from(body), {
          contentType: 'application/json',
          ifGenerationMatch: old?.generation ?? 0,
        });
      };
      const now = Date.parse('2026-05-09T01:00:00Z');
      await forge('not even JSON');
      const notJson = await inspectDay(store, env, DAY, now);
      assert.strictEqual(notJson.state, 'incomplete');
      assert.match((notJson as {detail: string}).detail, /_SUCCESS is unreadable/);

      await checker().handle(reportName('b1'));
      assert.deepStrictEqual(await inspectDay(store, env, DAY, now), {
        state: 'success',
        runId: RUN,
      });

      const real = (await store.readJson<Record<string, unknown>>(`${env}/${DAY}/_SUCCESS`))!;
      await forge(JSON.stringify({...real.value, runId: 'r20200101t000000-000000'}));
      const otherRun = await inspectDay(store, env, DAY, now);
      assert.strictEqual(otherRun.state, 'incomplete');
      assert.match((otherRun as {detail: string}).detail, /_SUCCESS is of run r2020/);
      await forge(JSON.stringify({...real.value, fingerprint: 'f'.repeat(32)}));
      const notDecided = await inspectDay(store, env, DAY, now);
      assert.match((notDecided as {detail: string}).detail, /not the checker's decision/);
    });
  });
});
