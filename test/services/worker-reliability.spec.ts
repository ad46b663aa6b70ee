/**
 * The batch worker under crashes, stalls, deadlines and wrong objects
 * in-process: the real Genesys adapter against a private
 * simulator with faults, the real GcsStore against the GCS emulator.
 */
import * as assert from 'node:assert';
import * as sinon from 'sinon';
import {randomBytes} from 'node:crypto';
import {GcsStore} from '../../functions/adapters/gcs';
import type {WriteOptions} from '../../functions/ports';
import {InputError, RetryableError} from '../../functions/core/errors';
import type {BatchMessage} from '../../functions/core/messages';
import {extensionFor, recordingType} from '../../functions/core/content-types';
import {
  attemptsObjectName,
  batchReportObjectName,
  recordingObjectName,
} from '../../functions/core/object-names';
import {gapAction} from '../../functions/core/gap-kinds';
import type {BatchReport} from '../../functions/core/report';
import {Logger, createLogger} from '../../functions/logger';
import {EXPECTED_SIZE_KEY} from '../../functions/core/stored-proof';
import {TestStack, useStack} from '../setup/stack';
import {TestSimulator, startSimulator} from '../setup/simulator';
import {batchReportOf, withFaults} from '../helpers';
import {InProcessWorker, inProcessWorker} from './in-process-worker';
import {storageFor} from '../../local/run-day';

const DAY = '2023-03-07';
const RUN = 'r20230310t000000-feedab';

interface Truth {
  conversations: Array<{
    conversationId: string;
    conversationStart: string;
    recordings: Array<{
      recordingId: string;
      media: string;
      exportable: boolean;
      size?: number;
      md5Hash?: string;
      contentType?: string;
    }>;
  }>;
}

describe('worker reliability (in-process: crashes, stalls, deadlines, wrong objects)', function () {
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
      `${DAY}=3`,
      '--audio-bytes',
      '200000',
      '--screen-bytes',
      '300000',
    ]);
    store = new GcsStore(stack.bucket, storageFor(stack));
    truth = await sim.admin<Truth>(`truth?day=${DAY}`);
  });

  after(async () => {
    await sim?.stop();
  });

  interface Setup {
    env: string;
    lines: Array<Record<string, unknown>>;
    worker: ReturnType<typeof inProcessWorker>;
    message: BatchMessage;
  }

  function setup(opts: Pick<InProcessWorker, 'worker' | 'exporter'> = {}): Setup {
    const env = `wrel-${randomBytes(4).toString('hex')}`;
    const lines: Array<Record<string, unknown>> = [];
    const logger: Logger = createLogger({service: 'grm', env}, (_s, line) =>
      lines.push(JSON.parse(line) as Record<string, unknown>),
    );
    const worker = inProcessWorker({simulatorUrl: sim.url, store, env, logger, ...opts});
    const message: BatchMessage = {
      day: DAY,
      runId: RUN,
      batchId: `b-${randomBytes(3).toString('hex')}`,
      conversationIds: truth.conversations.map(c => c.conversationId),
    };
    return {env, lines, worker, message};
  }

  /** The object name a recording of the truth is exported under. */
  const objectOf = (env: string, x: ReturnType<typeof exportable>[number]) =>
    recordingObjectName(
      env,
      DAY,
      recordingType(x.r.media)!,
      x.c.conversationId,
      x.r.recordingId,
      extensionFor(x.r.contentType!)!,
    );

  const exportable = () =>
    truth.conversations.flatMap(c => c.recordings.filter(r => r.exportable).map(r => ({c, r})));

  function reportName(s: Setup): string {
    return batchReportObjectName(s.env, DAY, RUN, s.message.batchId!);
  }

  it('should write a failed report on the final attempt before exporting, so a crash mid-export still concludes the day', async () => {
    const s = setup({worker: {maxBatchAttempts: 2}});
    // Delivery 1 died without a word (a crash): only its count remains.
    await store.write(
      attemptsObjectName(s.env, DAY, RUN, s.message.batchId!, 'm-1'),
      Buffer.from(JSON.stringify({attempts: 1})),
      {contentType: 'application/json', ifGenerationMatch: 0},
    );
    // Delivery 2 is the final one; its export is slow (it could crash or time out in there).
    const handled = withFaults(
      sim.url,
      {path: '^/api/v2/analytics/conversations/details\\?', action: 'delay', delayMs: 3000},
      () => s.worker.handle(s.message, 'm-1'),
    );
    let early: {value: BatchReport} | undefined;
    for (let i = 0; i < 50 && !early; i++) {
      await new Promise(r => setTimeout(r, 50));
      early = await store.readJson<BatchReport>(reportName(s));
    }
    assert.ok(early, 'no report was written while the final attempt was still exporting');
    assert.strictEqual(early.value.status, 'failed');
    assert.strictEqual(early.value.provisional, true, 'the checker would decide on it');
    assert.match(early.value.error!, /batch failed on 1 deliveries that never finished/);
    assert.deepStrictEqual(
      early.value.conversations.map(c => c.conversationId).sort(),
      [...s.message.conversationIds].sort(),
    );
    const final = await handled;
    assert.strictEqual(final.status, 'complete');
    const stored = (await store.readJson<BatchReport>(reportName(s)))!.value;
    assert.strictEqual(stored.status, 'complete', 'the final export did not replace the report');
    assert.strictEqual(stored.totals.call.exported + stored.totals.screen.exported > 0, true);
  });

  it('should not export again on a delivery past the budget, and make the final failed report', async () => {
    const s = setup({worker: {maxBatchAttempts: 2}});
    await store.write(
      attemptsObjectName(s.env, DAY, RUN, s.message.batchId!, 'm-9'),
      Buffer.from(JSON.stringify({attempts: 2, lastError: 'media download answered HTTP 500'})),
      {contentType: 'application/json', ifGenerationMatch: 0},
    );
    // What the final attempt left before it died: its provisional report.
    await store.write(
      reportName(s),
      Buffer.from(
        JSON.stringify({
          ...batchReportOf(
            {day: DAY, runId: RUN, batchId: s.message.batchId!},
            [],
            {startedAt: '2023-03-10T00:00:00Z', finishedAt: '2023-03-10T00:00:00Z'},
            {messageId: 'm-9', attempt: 2, status: 'failed'},
          ),
          provisional: true,
        }),
      ),
      {contentType: 'application/json', ifGenerationMatch: 0},
    );
    const report = await s.worker.handle(s.message, 'm-9');
    assert.strictEqual(report.status, 'failed');
    assert.strictEqual(report.provisional, undefined);
    assert.match(
      report.error!,
      /delivery 2, the last one allowed \(MAX_BATCH_ATTEMPTS\), never finished .*; an earlier one failed with: media download answered HTTP 500/,
    );
    const messages = s.lines.map(l => l.message);
    assert.ok(!messages.includes('exporting batch'), `it exported again: ${messages.join(' | ')}`);
    // Once reported, later deliveries leave the report alone.
    const before = await store.stat(reportName(s));
    const again = await s.worker.handle(s.message, 'm-9');
    assert.strictEqual(again.status, 'failed');
    assert.strictEqual((await store.stat(reportName(s)))!.generation, before!.generation);
  });

  it('should not export again on a duplicate delivery of a message already reported', async () => {
    const s = setup({worker: {maxBatchAttempts: 3}});
    const first = await s.worker.handle(s.message, 'm-1');
    assert.strictEqual(first.status, 'complete');
    const before = await store.stat(reportName(s));
    s.lines.splice(0);
    const again = await s.worker.handle(s.message, 'm-1');
    assert.deepStrictEqual(again, first);
    assert.strictEqual((await store.stat(reportName(s)))!.generation, before!.generation);
    assert.ok(!s.lines.some(l => l.message === 'exporting batch'), 'it exported again');
  });

  it("should leave a final attempt that may still be running alone, and another message's report as it is", async () => {
    const s = setup({worker: {maxBatchAttempts: 2}});
    const attempts = (id: string) =>
      store.write(
        attemptsObjectName(s.env, DAY, RUN, s.message.batchId!, id),
        Buffer.from(JSON.stringify({attempts: 2})),
        {contentType: 'application/json', ifGenerationMatch: 0},
      );
    const report = (messageId: string, extra: object) =>
      Buffer.from(
        JSON.stringify({
          ...batchReportOf(
            {day: DAY, runId: RUN, batchId: s.message.batchId!},
            [],
            {startedAt: new Date().toISOString(), finishedAt: new Date().toISOString()},
            {messageId, attempt: 2, status: 'failed'},
          ),
          ...extra,
        }),
      );
    // A duplicate of m-1 while m-1's final attempt (provisional, just started) still runs.
    await attempts('m-1');
    await store.write(reportName(s), report('m-1', {provisional: true}), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
    await assert.rejects(
      s.worker.handle(s.message, 'm-1'),
      (err: unknown) => err instanceof RetryableError && /may still be exporting/.test(err.message),
    );
    assert.strictEqual((await store.readJson<BatchReport>(reportName(s)))!.value.provisional, true);
    // m-2's last delivery died; m-3, another message for the batch, reported it meanwhile.
    await attempts('m-2');
    const current = (await store.stat(reportName(s)))!;
    await store.write(reportName(s), report('m-3', {status: 'complete'}), {
      contentType: 'application/json',
      ifGenerationMatch: current.generation,
    });
    const stands = await s.worker.handle(s.message, 'm-2');
    assert.strictEqual(stands.messageId, 'm-3');
    assert.strictEqual((await store.readJson<BatchReport>(reportName(s)))!.value.messageId, 'm-3');
  });

  it('should abandon a media body that stalls half-way and still report', async () => {
    const s = setup({worker: {maxBatchAttempts: 1}, exporter: {mediaIdleTimeoutMs: 1500}});
    const {c, r} = exportable().find(x => x.r.media === 'audio')!;
    const report = await withFaults(
      sim.url,
      {path: `^/media/${c.conversationId}/${r.recordingId}`, action: 'stall', afterBytes: 5000},
      () => s.worker.handle(s.message, 'm-1'),
    );
    const got = report.conversations
      .find(x => x.conversationId === c.conversationId)!
      .recordings.find(x => x.recordingId === r.recordingId)!;
    assert.strictEqual(got.outcome, 'failed');
    assert.match(got.reason!, /media body stalled: no data for 1\.5 s/);
    const objects = await store.list(`${s.env}/${DAY}/`);
    assert.ok(
      !objects.some(o => o.name.includes(r.recordingId)),
      'a partial object of the stalled recording is visible',
    );
    const others = report.conversations.flatMap(x => x.recordings).filter(x => x !== got);
    assert.ok(
      others.some(x => x.outcome === 'exported'),
      'the other recordings were not exported',
    );
  });

  it('should stop at the batch deadline and report every recording not stored as a retryable failure', async () => {
    const s = setup({worker: {maxBatchAttempts: 1, batchDeadlineMs: 2500}});
    const started = Date.now();
    const [first] = exportable();
    const report = await withFaults(
      sim.url,
      [
        // An error answer first: its unread body must not outlive the download (it used to be
        // destroyed by the deadline with nobody listening, an uncaught error).
        {
          path: `^/media/${first!.c.conversationId}/${first!.r.recordingId}`,
          action: 'status',
          status: 502,
          times: 1,
        },
        {path: '^/media/', action: 'delay', delayMs: 20_000},
      ],
      () => s.worker.handle(s.message, 'm-1'),
    );
    const took = Date.now() - started;
    assert.ok(took < 15_000, `the batch took ${took} ms, past its 2.5 s deadline`);
    const recordings = report.conversations.flatMap(x => x.recordings);
    const late = recordings.filter(x =>
      /reached its deadline \(BATCH_DEADLINE_MS\)/.test(x.reason ?? ''),
    );
    assert.strictEqual(late.length, exportable().length);
  });

  it('should count recordings an earlier delivery stored as exported without downloading them again', async () => {
    const s = setup({worker: {maxBatchAttempts: 1}});
    const first = await s.worker.handle(s.message, 'm-1');
    assert.strictEqual(first.totals.call.failed + first.totals.screen.failed, 0);
    // A redelivery (new message id: a fresh budget) while media and batch downloads all fail.
    const second = await withFaults(
      sim.url,
      [
        {path: '^/media/', action: 'status', status: 500},
        {path: '^/api/v2/recording/batchrequests', action: 'status', status: 503},
      ],
      () => s.worker.handle(s.message, 'm-2'),
    );
    const exported = second.conversations
      .flatMap(x => x.recordings)
      .filter(x => x.outcome === 'exported');
    assert.strictEqual(exported.length, exportable().length, JSON.stringify(second.conversations));
    const firstExported = first.conversations.flatMap(x => x.recordings);
    for (const got of exported) {
      const was = firstExported.find(x => x.recordingId === got.recordingId)!;
      assert.deepStrictEqual(
        [got.object, got.size, got.md5Hash, got.crc32c],
        [was.object, was.size, was.md5Hash, was.crc32c],
      );
    }
  });

  it('should report an incomplete or different object under a recording name with an action, never keep it as the record', async () => {
    const s = setup({worker: {maxBatchAttempts: 1}});
    const [a, b] = exportable();
    const name = (x: typeof a) => objectOf(s.env, x!);
    // A: what a cut-off upload would have left, with the size it should have had.
    await store.write(name(a), Buffer.alloc(1000, 1), {
      contentType: 'audio/ogg',
      metadata: {
        conversationId: a!.c.conversationId,
        recordingId: a!.r.recordingId,
        [EXPECTED_SIZE_KEY]: String(a!.r.size),
      },
      ifGenerationMatch: 0,
    });
    // B: a hand-made object with other bytes and no proof of where it came from.
    await store.write(name(b), Buffer.alloc(b!.r.size!, 2), {
      contentType: 'video/webm',
      ifGenerationMatch: 0,
    });
    const report = await s.worker.handle(s.message, 'm-1');
    const all = report.conversations.flatMap(x => x.recordings);
    for (const x of [a!, b!]) {
      const got = all.find(y => y.recordingId === x.r.recordingId)!;
      assert.strictEqual(got.outcome, 'failed', JSON.stringify(got));
      assert.match(got.reason!, /already exists with different content/);
      assert.match(
        gapAction(got.reason!, DAY),
        /remove it, then `grm replay 2023-03-07 --wait 600`/,
      );
    }
  });

  it('should not trust an object of the right size whose write was never checked: read it and compare', async () => {
    const s = setup({worker: {maxBatchAttempts: 1}});
    const [a] = exportable();
    const name = objectOf(s.env, a!);
    // An object with the exporter's own metadata and the right size, other bytes, and no mark of
    // a check GCS made (written by hand, or by a version that marked objects after the upload).
    await store.write(name, Buffer.alloc(a!.r.size!, 7), {
      contentType: 'audio/ogg',
      metadata: {
        conversationId: a!.c.conversationId,
        recordingId: a!.r.recordingId,
        [EXPECTED_SIZE_KEY]: String(a!.r.size),
      },
      ifGenerationMatch: 0,
    });
    const report = await s.worker.handle(s.message, 'm-1');
    const got = report.conversations
      .flatMap(x => x.recordings)
      .find(y => y.recordingId === a!.r.recordingId)!;
    assert.strictEqual(got.outcome, 'failed', JSON.stringify(got));
    assert.match(got.reason!, /already exists with different content/);
    // What the exporter writes itself is created with the mark, and a redelivery trusts it.
    const others = report.conversations
      .flatMap(x => x.recordings)
      .filter(y => y.outcome === 'exported');
    assert.ok(others.length > 0);
    for (const o of others) {
      const stat = await store.stat(o.object!);
      assert.match(String(stat!.metadata?.verified), /^(crc32c|md5)(:|$)/);
    }
  });

  it('should write a metadata document once when a duplicate delivery writes the same one at the same moment', async () => {
    const s = setup({worker: {maxBatchAttempts: 1}});
    const write = store.write.bind(store);
    let raced = 0;
    // A duplicate delivery of the batch writes each conversation's document between our
    // look and our write: the same bytes, a new generation.
    const stub = sinon.stub(store, 'write').callsFake(async (name, body, opts: WriteOptions) => {
      if (name.includes('/metadata/') && Buffer.isBuffer(body)) {
        raced++;
        await write(name, body, {...opts});
      }
      return write(name, body, opts);
    });
    try {
      const report = await s.worker.handle(s.message, 'm-1');
      assert.ok(raced > 0);
      assert.strictEqual(report.status, 'complete', report.error);
      assert.ok(
        report.conversations.every(c => c.metadataObject),
        JSON.stringify(report),
      );
    } finally {
      stub.restore();
    }
  });

  it('should refuse a batch whose conversations did not start on its day, and a day not yet past the lag', async () => {
    const s = setup();
    const start = truth.conversations[0]!.conversationStart;
    const wrong = {...s.message, day: '2023-03-06'};
    await assert.rejects(
      s.worker.handle(wrong, 'm-1'),
      (err: unknown) =>
        err instanceof InputError &&
        err.message.includes('did not start on 2023-03-06 (UTC)') &&
        err.message.includes(start),
    );
    // Only its delivery count is kept (bookkeeping): no recording, metadata or report.
    assert.deepStrictEqual(
      (await store.list(`${s.env}/2023-03-06/`)).filter(o => !o.name.includes('/attempts/')),
      [],
    );
    await assert.rejects(
      s.worker.handle({...s.message, day: '2099-01-01'}, 'm-2'),
      (err: unknown) => err instanceof InputError && /not yet past the 3-day lag/.test(err.message),
    );
    assert.deepStrictEqual(await store.list(`${s.env}/2099-01-01/`), []);
  });

  it('should leave no provisional report behind when a final attempt is refused', async () => {
    const s = setup({worker: {maxBatchAttempts: 1}});
    const wrong = {...s.message, day: '2023-03-06'};
    await assert.rejects(s.worker.handle(wrong, 'm-1'), InputError);
    const name = batchReportObjectName(s.env, '2023-03-06', RUN, s.message.batchId!);
    const left = (await store.readJson<BatchReport>(name))!.value;
    assert.strictEqual(left.provisional, undefined, 'the checker would wait for it forever');
    assert.match(left.error!, /^batch refused: .* did not start on 2023-03-06/);
  });

  it('should name the missing viewSensitiveData permission when a completed batch download leaves recordings out', async () => {
    const lacking = await startSimulator([
      '--conversations-per-day',
      '0',
      '--day',
      `${DAY}=3`,
      '--sensitive-share',
      '1',
      '--client',
      'demo-client:demo-secret;lacks=recording:recording:viewSensitiveData',
    ]);
    try {
      const env = `wrel-${randomBytes(4).toString('hex')}`;
      const logger = createLogger({}, () => {});
      const w = inProcessWorker({
        simulatorUrl: lacking.url,
        store,
        env,
        logger,
        worker: {maxBatchAttempts: 1},
      });
      const ids = (await lacking.admin<Truth>(`truth?day=${DAY}&checksums=false`)).conversations;
      const started = Date.now();
      const report = await w.handle(
        {day: DAY, conversationIds: ids.map(c => c.conversationId)},
        'm-1',
      );
      const took = Date.now() - started;
      const failed = report.conversations
        .flatMap(c => c.recordings)
        .filter(r => r.fileState === 'AVAILABLE');
      assert.ok(failed.length > 0);
      for (const r of failed) {
        assert.strictEqual(r.outcome, 'failed');
        assert.match(
          r.reason!,
          /completed without a result for it: the OAuth client likely lacks recording:recording:viewSensitiveData/,
        );
      }
      assert.ok(took < 15_000, `it waited ${took} ms, as if for the poll deadline`);
    } finally {
      await lacking.stop();
    }
  });
});
