/**
 * Lean metadata mode (METADATA=lean) against full mode on the same batch, in
 * process: the real Genesys adapter against a private simulator (lossy
 * organisation: archived, restoring, uploading, erroring, deleted and
 * sensitive recordings, screen recordings), the real GcsStore against the
 * GCS emulator. Lean mode must reach exactly full mode's verdict on every
 * recording with a fraction of the API calls.
 */
import * as assert from 'node:assert';
import {randomBytes} from 'node:crypto';
import {GcsStore} from '../../functions/adapters/gcs';
import type {BatchMessage} from '../../functions/core/messages';
import {metadataObjectName} from '../../functions/core/object-names';
import type {BatchReport} from '../../functions/core/report';
import {createLogger} from '../../functions/logger';
import type {TestSimulator} from '../setup/simulator';
import {inProcessWorker, realClock, simulatedDay} from './in-process-worker';

const DAY = '2023-03-08';
const RUN = 'r20230311t000000-1ea11e';

interface Counters {
  byEndpoint: Record<string, number>;
}

interface Truth {
  conversations: Array<{
    conversationId: string;
    recordings: Array<{recordingId: string; fileState: string}>;
  }>;
}

/** Every recording's verdict, comparable across modes (objects named after the env are not). */
function verdicts(report: BatchReport): string[] {
  return report.conversations
    .flatMap(c =>
      c.recordings.map(r =>
        [
          c.conversationId,
          r.recordingId,
          r.type,
          r.outcome,
          r.reason ?? '',
          r.size ?? '',
          r.md5Hash ?? '',
        ].join(' '),
      ),
    )
    .sort();
}

describe('lean metadata mode (in-process, lossy organisation)', function () {
  this.timeout(180_000);
  let sim: TestSimulator;
  let store: GcsStore;
  let truth: Truth;

  before(async () => {
    ({sim, store, truth} = await simulatedDay<Truth>(DAY, 60, [
      '--profile',
      'lossy',
      '--sensitive-share',
      '0.1',
      '--audio-bytes',
      '20000',
      '--screen-bytes',
      '30000',
      '--client',
      'demo-client:demo-secret;lacks=recording:recording:viewSensitiveData',
    ]));
  });
  after(async () => {
    await sim?.stop();
  });

  async function exportIn(mode: 'full' | 'lean') {
    const env = `lean-${mode}-${randomBytes(3).toString('hex')}`;
    const logger = createLogger({service: 'grm', env}, () => undefined);
    const worker = inProcessWorker({
      simulatorUrl: sim.url,
      store,
      env,
      logger,
      worker: {maxBatchAttempts: 1},
      exporter: {metadataMode: mode},
      // Real waits: polls are counted as production would make them.
      clock: realClock,
    });
    const message: BatchMessage = {
      day: DAY,
      runId: RUN,
      batchId: `b-${mode}`,
      conversationIds: truth.conversations.map(c => c.conversationId).slice(0, 60),
    };
    await sim.admin('counters', {method: 'DELETE'});
    const report = await worker.handle(message, `m-${mode}`);
    const calls = (await sim.admin<Counters>('counters')).byEndpoint;
    return {env, report, calls};
  }

  it("should reach full mode's verdict on every recording (and report the same conversation attributes), with far fewer API calls", async () => {
    const states = new Set(truth.conversations.flatMap(c => c.recordings.map(r => r.fileState)));
    for (const s of ['AVAILABLE', 'ARCHIVED', 'DELETED'])
      assert.ok(states.has(s), `the day holds ${s}`);
    const full = await exportIn('full');
    const lean = await exportIn('lean');
    assert.ok(verdicts(full.report).length > 60, 'the batch holds recordings');
    assert.deepStrictEqual(verdicts(lean.report), verdicts(full.report));
    // The recordings index's conversation columns come from the analytics record in either mode.
    const attributes = (r: BatchReport) =>
      r.conversations.map(c => [c.conversationId, c.attributes]);
    assert.deepStrictEqual(attributes(lean.report), attributes(full.report));
    assert.ok(
      lean.report.conversations.every(c =>
        c.attributes?.participants?.some(p => p.purpose === 'agent' && p.userId),
      ),
    );
    assert.ok(
      full.report.conversations.some(c =>
        c.recordings.some(r => /viewSensitiveData/.test(r.reason ?? '')),
      ),
      'a sensitive recording the client may not see is a gap in both modes',
    );
    const metadataCalls = (c: Record<string, number>) =>
      c['GET /api/v2/conversations/{conversationId}/recordingmetadata'] ?? 0;
    const total = (c: Record<string, number>) =>
      Object.entries(c)
        .filter(([k]) => k.includes('/api/v2/'))
        .reduce((n, [, v]) => n + v, 0);
    assert.strictEqual(metadataCalls(full.calls), 60);
    // Lean reads the metadata only of conversations its results cannot speak for.
    assert.ok(metadataCalls(lean.calls) < 30, JSON.stringify(lean.calls));
    assert.ok(
      total(lean.calls) * 2 < total(full.calls),
      `${total(lean.calls)} vs ${total(full.calls)}`,
    );
  });

  it('should say in the metadata document when a conversation was read in lean mode', async () => {
    const lean = await exportIn('lean');
    const docs = await Promise.all(
      lean.report.conversations.map(c =>
        store.readJson<{metadataMode?: string; recordings: Array<{metadata: unknown}>}>(
          metadataObjectName(lean.env, DAY, c.conversationId),
        ),
      ),
    );
    const leanDocs = docs.filter(d => d?.value.metadataMode === 'lean');
    assert.ok(leanDocs.length > 0, 'some conversations were read from their results alone');
    for (const d of leanDocs)
      for (const r of d!.value.recordings) assert.strictEqual(r.metadata, null);
  });
});
