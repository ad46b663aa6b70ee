/**
 * A day exported, then exported again after the source changed: recordings
 * the archive already holds were deleted or archived in Genesys Cloud since.
 * The archive records what it holds: such a recording stays `exported`, with
 * its original object, and is not downloaded again.
 *
 * The same organisation is served by two simulators (same seed, same day):
 * `clean` (exportable or deleted recordings) for the first export, `lossy`
 * for the second. Conversations, recording ids and media are the same in
 * both; some recordings available in the first are DELETED, ARCHIVED,
 * UPLOADING or RESTORING in the second, as at a source that changed.
 * In-process: the real Genesys adapter, the real GcsStore against the GCS emulator.
 */
import * as assert from 'node:assert';
import {randomBytes} from 'node:crypto';
import type {GcsStore} from '../../functions/adapters/gcs';
import {confirmClaims, recordingFolders} from '../../functions/core/reports-vs-bucket';
import {extensionFor, recordingType} from '../../functions/core/content-types';
import {decideDay} from '../../functions/core/day-outcome';
import type {BatchMessage} from '../../functions/core/messages';
import {metadataObjectName, recordingObjectName} from '../../functions/core/object-names';
import {gapAction} from '../../functions/core/gap-kinds';
import type {BatchReport, ReportRecording} from '../../functions/core/report';
import {createLogger} from '../../functions/logger';
import {EXPECTED_SIZE_KEY} from '../../functions/core/stored-proof';
import {type TestSimulator, startSimulator} from '../setup/simulator';
import {inProcessWorker, simulatedDay} from './in-process-worker';
import type {Truth} from '../../local/run-day';
import {dayPlanOf} from '../helpers';

const DAY = '2023-03-12';
const CONVERSATIONS = 12;
const FIRST_RUN = 'r20230315t000000-5e771e';
const SECOND_RUN = 'r20230401t000000-5e771e';
const BATCH = 'b-0001';
const MEDIA_GET = 'GET /media/{conversationId}/{recordingId}';

interface MetadataDoc {
  recordings: Array<{
    metadata: {id: string; fileState?: string} | null;
    export: ReportRecording | null;
  }>;
}

const SIM_ARGS = ['--audio-bytes', '20000', '--screen-bytes', '30000'];

describe('recordings changed at the source after their export (in-process: one organisation, two simulators)', function () {
  this.timeout(180_000);
  let clean: TestSimulator;
  let changed: TestSimulator;
  let store: GcsStore;
  let truthBefore: Truth;
  let truthAfter: Truth;

  before(async () => {
    ({
      sim: clean,
      store,
      truth: truthBefore,
    } = await simulatedDay<Truth>(DAY, CONVERSATIONS, [...SIM_ARGS, '--profile', 'clean']));
    changed = await startSimulator([
      '--conversations-per-day',
      '0',
      '--day',
      `${DAY}=${CONVERSATIONS}`,
      ...SIM_ARGS,
      '--profile',
      'lossy',
    ]);
    truthAfter = await changed.admin<Truth>(`truth?day=${DAY}`);
  });
  after(async () => {
    await clean?.stop();
    await changed?.stop();
  });

  const ids = () => truthBefore.conversations.map(c => c.conversationId);
  const all = (t: Truth) =>
    t.conversations.flatMap(c => c.recordings.map(r => ({conversationId: c.conversationId, r})));
  const stateAfter = (recordingId: string) =>
    all(truthAfter).find(x => x.r.recordingId === recordingId)!.r.fileState;
  /** Recordings exportable at first and in `state` now. */
  const changedTo = (state: string) =>
    all(truthBefore).filter(x => x.r.exportable && stateAfter(x.r.recordingId) === state);
  const recordingsOf = (report: BatchReport) => report.conversations.flatMap(c => c.recordings);

  function workerOn(sim: TestSimulator, env: string, metadataMode: 'full' | 'lean') {
    return inProcessWorker({
      simulatorUrl: sim.url,
      store,
      env,
      logger: createLogger({service: 'grm', env}, () => undefined),
      worker: {maxBatchAttempts: 1},
      exporter: {metadataMode},
    });
  }
  const message = (runId: string): BatchMessage => ({
    day: DAY,
    runId,
    batchId: BATCH,
    conversationIds: ids(),
  });

  /** The day as the checker decides it from this one batch report and the bucket's listing. */
  async function checkerVerdict(env: string, report: BatchReport) {
    const plan = dayPlanOf(
      {day: DAY, runId: SECOND_RUN},
      {[BATCH]: ids()},
      {createdAt: '2023-04-01T00:00:00.000Z', trigger: 'explicit', discovery: 'query'},
    );
    const listing = (await Promise.all(recordingFolders(env, DAY).map(f => store.list(f)))).flat();
    const confirmed = confirmClaims(
      env,
      plan,
      [{object: 'report', generation: '1', report}],
      listing,
    );
    return decideDay(plan, confirmed.reports, {project: 'p', topic: 't'}, [], confirmed.unplanned);
  }

  it('should keep a recording the archive holds as exported after the source deleted or archived it, with its original object, downloading nothing again (full and lean mode)', async () => {
    // The organisation is the same in both simulators; only file states changed.
    assert.deepStrictEqual(
      ids(),
      truthAfter.conversations.map(c => c.conversationId),
    );
    for (const x of all(truthAfter).filter(y => y.r.exportable)) {
      const was = all(truthBefore).find(y => y.r.recordingId === x.r.recordingId)!.r;
      assert.deepStrictEqual([x.r.size, x.r.md5Hash], [was.size, was.md5Hash]);
    }
    const deleted = changedTo('DELETED');
    const archived = changedTo('ARCHIVED');
    assert.ok(deleted.length > 0 && archived.length > 0, 'the source deleted and archived some');

    const env = `srcchg-${randomBytes(3).toString('hex')}`;
    const first = await workerOn(clean, env, 'full').handle(message(FIRST_RUN), 'm-first');
    const firstExported = recordingsOf(first).filter(r => r.outcome === 'exported');
    assert.strictEqual(
      firstExported.length,
      all(truthBefore).filter(x => x.r.exportable).length,
      'the first run exported every exportable recording',
    );

    for (const mode of ['full', 'lean'] as const) {
      await changed.admin('counters', {method: 'DELETE'});
      const report = await workerOn(changed, env, mode).handle(message(SECOND_RUN), `m-${mode}`);
      const calls = (await changed.admin<{byEndpoint: Record<string, number>}>('counters'))
        .byEndpoint;
      assert.strictEqual(calls[MEDIA_GET], undefined, `${mode}: nothing downloaded again`);
      if (mode === 'full')
        assert.strictEqual(calls['POST /api/v2/recording/batchrequests'], undefined);
      const now = recordingsOf(report);
      for (const was of firstExported) {
        const got = now.find(r => r.recordingId === was.recordingId)!;
        assert.strictEqual(got.outcome, 'exported', `${mode}: ${JSON.stringify(got)}`);
        assert.strictEqual(got.reason, undefined);
        assert.deepStrictEqual(
          [got.object, got.size, got.md5Hash, got.crc32c, got.generation],
          [was.object, was.size, was.md5Hash, was.crc32c, was.generation],
        );
      }
      for (const x of [...deleted, ...archived]) {
        const got = now.find(r => r.recordingId === x.r.recordingId)!;
        // The report still says what the source holds now.
        assert.strictEqual(got.fileState, stateAfter(x.r.recordingId));
        const doc = await store.readJson<MetadataDoc>(
          metadataObjectName(env, DAY, x.conversationId),
        );
        const entry = doc!.value.recordings.find(e => e.export?.recordingId === x.r.recordingId)!;
        assert.strictEqual(entry.metadata?.fileState, stateAfter(x.r.recordingId));
        assert.strictEqual(entry.export!.outcome, 'exported');
        assert.strictEqual(
          entry.export!.generation,
          firstExported.find(r => r.recordingId === x.r.recordingId)!.generation,
        );
      }
      // The checker holds this report against the bucket: every recording is accounted for.
      const verdict = await checkerVerdict(env, report);
      assert.strictEqual(verdict.status, 'success', JSON.stringify(verdict.gaps));
      assert.strictEqual(verdict.totals.all.exported, firstExported.length);
    }
  });

  it('should keep the outcome of its file state for a recording the source no longer serves whose stored object is not a proven copy, and name that object in the reason', async () => {
    const env = `srcchg-${randomBytes(3).toString('hex')}`;
    const [gone] = changedTo('DELETED');
    const [held, twice] = changedTo('ARCHIVED');
    assert.ok(gone && held && twice, 'the source deleted one and archived two');
    const name = (x: typeof gone, ext = extensionFor(x.r.contentType)!) =>
      recordingObjectName(
        env,
        DAY,
        recordingType(x.r.media)!,
        x.conversationId,
        x.r.recordingId,
        ext,
      );
    const mark = (x: typeof gone) => ({
      conversationId: x.conversationId,
      recordingId: x.r.recordingId,
      [EXPECTED_SIZE_KEY]: String(x.r.size),
    });
    // Deleted at the source: what a cut-off upload would leave (fewer bytes than expected).
    await store.write(name(gone), Buffer.alloc(1000, 1), {
      contentType: 'audio/ogg',
      metadata: mark(gone),
      ifGenerationMatch: 0,
    });
    // Archived: the right size, but no mark of a passed check (other bytes).
    await store.write(name(held), Buffer.alloc(held.r.size!, 2), {
      contentType: 'audio/ogg',
      metadata: mark(held),
      ifGenerationMatch: 0,
    });
    // Archived: two objects under its name.
    for (const ext of ['ogg', 'wav'])
      await store.write(name(twice, ext), Buffer.alloc(10, 3), {
        contentType: 'audio/ogg',
        ifGenerationMatch: 0,
      });

    await changed.admin('counters', {method: 'DELETE'});
    const report = await workerOn(changed, env, 'full').handle(message(SECOND_RUN), 'm-1');
    const calls = (await changed.admin<{byEndpoint: Record<string, number>}>('counters'))
      .byEndpoint;
    const outcome = (x: typeof gone) =>
      recordingsOf(report).find(r => r.recordingId === x.r.recordingId)!;

    const g = outcome(gone);
    assert.strictEqual(g.outcome, 'skipped', JSON.stringify(g));
    assert.strictEqual(
      g.reason,
      'deleted at the source (fileState DELETED); an incomplete object is stored under its name: ' +
        `gs object ${name(gone)} holds 1000 of the ${gone.r.size} bytes it should hold; it was left untouched`,
    );
    const h = outcome(held);
    assert.strictEqual(h.outcome, 'failed', JSON.stringify(h));
    assert.strictEqual(
      h.reason,
      'archived at the source (fileState ARCHIVED): restore it, then replay; ' +
        `gs object ${name(held)} (${held.r.size} bytes) is stored under its name, not proven ` +
        'complete (no mark of a passed check by this exporter); it was left untouched',
    );
    // The action is still the file state's: once restored, a replay compares the object.
    assert.match(gapAction(h.reason!, DAY), /^restore the recordings from the archive/);
    const t = outcome(twice);
    assert.strictEqual(t.outcome, 'failed', JSON.stringify(t));
    assert.match(
      t.reason!,
      /^archived at the source \(fileState ARCHIVED\): restore it, then replay; 2 objects are stored under its name \(.*\.ogg, .*\.wav\); they were left untouched$/,
    );
    for (const r of [g, h, t]) assert.strictEqual(r.object, undefined);
    // Only the recordings the source serves were downloaded, and no object was replaced.
    assert.strictEqual(calls[MEDIA_GET] ?? 0, all(truthAfter).filter(x => x.r.exportable).length);
    assert.strictEqual((await store.stat(name(gone)))!.size, 1000);
  });
});
