/**
 * Lean metadata mode (METADATA=lean) against full mode on the same batch, in
 * process: the real Genesys adapter against a private simulator (lossy
 * organisation: archived, restoring, uploading, erroring, deleted and
 * sensitive recordings, screen recordings, consults), the real GcsStore
 * against the GCS emulator. Lean mode must reach exactly full mode's verdict
 * on every recording, with a fraction of the API calls where its client is
 * proven to hold viewSensitiveData, and by running in full mode where it is
 * not; and where the permission is taken away after the proof, its rules
 * alone must still find every recording the results leave out.
 */
import * as assert from 'node:assert';
import {randomBytes} from 'node:crypto';
import {GcsStore} from '../../functions/adapters/gcs';
import type {BatchMessage} from '../../functions/core/messages';
import {metadataObjectName} from '../../functions/core/object-names';
import type {BatchReport} from '../../functions/core/report';
import type {ModeReport} from '../../functions/core/lean-notes';
import {createLogger} from '../../functions/logger';
import type {Clock} from '../../functions/ports';
import {RECHECK_MS} from '../../functions/services/lean-gate';
import type {BatchWorker} from '../../functions/services/worker';
import type {TestSimulator} from '../setup/simulator';
import {fastClock, inProcessWorker, realClock, simulatedDay} from './in-process-worker';

const DAY = '2023-03-08';
const RUN = 'r20230311t000000-1ea11e';
const SENSITIVE = 'recording:recording:viewSensitiveData';
const PERMITTED = 'GET /api/v2/authorization/divisionspermitted/paged/me';
const METADATA = 'GET /api/v2/conversations/{conversationId}/recordingmetadata';
/** A client holding every permission, and one lacking viewSensitiveData. */
const HOLDS = {clientId: 'demo-client', clientSecret: 'demo-secret'};
const LACKS = {clientId: 'limited-client', clientSecret: 'limited-secret'};
const CLIENTS = [
  '--client',
  'demo-client:demo-secret',
  '--client',
  `limited-client:limited-secret;lacks=${SENSITIVE}`,
];

interface Counters {
  byEndpoint: Record<string, number>;
}

interface Truth {
  conversations: Array<{
    conversationId: string;
    channel: string;
    recordings: Array<{
      recordingId: string;
      media: string;
      fileState: string;
      sensitive: boolean;
      exportable: boolean;
    }>;
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

const metadataCalls = (c: Record<string, number>) => c[METADATA] ?? 0;
const total = (c: Record<string, number>) =>
  Object.entries(c)
    .filter(([k]) => k.includes('/api/v2/'))
    .reduce((n, [, v]) => n + v, 0);

/** A worker of its own (its own lean proofs), the lines it logs, and how to export with it. */
function exporter(
  sim: TestSimulator,
  store: GcsStore,
  mode: 'full' | 'lean',
  client = HOLDS,
  clock: Clock = realClock,
  day = DAY,
) {
  const env = `lean-${mode}-${randomBytes(3).toString('hex')}`;
  const lines: Array<{severity: string; message: string; reason?: string}> = [];
  const logger = createLogger({service: 'grm', env}, (_s, line) => {
    lines.push(JSON.parse(line) as (typeof lines)[number]);
  });
  const worker: BatchWorker = inProcessWorker({
    simulatorUrl: sim.url,
    store,
    env,
    logger,
    client,
    worker: {maxBatchAttempts: 1, batchDeadlineMs: 120_000},
    exporter: {metadataMode: mode, downloadConcurrency: 8},
    // Real waits by default: polls are counted as production would make them.
    clock,
  });
  let n = 0;
  return {
    env,
    lines,
    refusals: () => lines.filter(l => l.severity === 'ERROR' && /lean .* refused/.test(l.message)),
    async export(conversationIds: string[]) {
      const message: BatchMessage = {
        day,
        runId: RUN,
        batchId: `b-${mode}-${++n}`,
        conversationIds,
      };
      await sim.admin('counters', {method: 'DELETE'});
      const report = (await worker.handle(message, `m-${env}-${n}`)) as ModeReport;
      const calls = (await sim.admin<Counters>('counters')).byEndpoint;
      return {report, calls};
    },
  };
}

describe('lean metadata mode (in-process, lossy organisation)', function () {
  this.timeout(180_000);
  let sim: TestSimulator;
  let store: GcsStore;
  let truth: Truth;
  let ids: string[];

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
      ...CLIENTS,
    ]));
    ids = truth.conversations.map(c => c.conversationId).slice(0, 60);
  });
  after(async () => {
    await sim?.stop();
  });

  it("should reach full mode's verdict on every recording (and report the same conversation attributes), with far fewer API calls, on a client proven to hold viewSensitiveData", async () => {
    const states = new Set(truth.conversations.flatMap(c => c.recordings.map(r => r.fileState)));
    for (const s of ['AVAILABLE', 'ARCHIVED', 'DELETED'])
      assert.ok(states.has(s), `the day holds ${s}`);
    const full = await exporter(sim, store, 'full').export(ids);
    const lean = await exporter(sim, store, 'lean').export(ids);
    assert.ok(verdicts(full.report).length > 60, 'the batch holds recordings');
    assert.deepStrictEqual(verdicts(lean.report), verdicts(full.report));
    assert.deepStrictEqual(
      [lean.report.metadataMode, lean.report.leanRefused, full.report.metadataMode],
      ['lean', undefined, 'full'],
    );
    // The recordings index's conversation columns come from the analytics record in either mode.
    const attributes = (r: BatchReport) =>
      r.conversations.map(c => [c.conversationId, c.attributes]);
    assert.deepStrictEqual(attributes(lean.report), attributes(full.report));
    assert.ok(
      lean.report.conversations.every(c =>
        c.attributes?.participants?.some(p => p.purpose === 'agent' && p.userId),
      ),
    );
    assert.strictEqual(metadataCalls(full.calls), 60);
    // Lean reads the metadata only of conversations its results cannot speak for.
    assert.ok(metadataCalls(lean.calls) < 30, JSON.stringify(lean.calls));
    assert.strictEqual(lean.calls[PERMITTED], 1, 'the proof is asked for once');
    assert.strictEqual(full.calls[PERMITTED] ?? 0, 0, 'full mode needs no proof');
    assert.ok(
      total(lean.calls) * 2 < total(full.calls),
      `${total(lean.calls)} vs ${total(full.calls)}`,
    );
  });

  it('should say in the metadata document when a conversation was read in lean mode', async () => {
    const worker = exporter(sim, store, 'lean');
    const lean = await worker.export(ids);
    const docs = await Promise.all(
      lean.report.conversations.map(c =>
        store.readJson<{metadataMode?: string; recordings: Array<{metadata: unknown}>}>(
          metadataObjectName(worker.env, DAY, c.conversationId),
        ),
      ),
    );
    const leanDocs = docs.filter(d => d?.value.metadataMode === 'lean');
    assert.ok(leanDocs.length > 0, 'some conversations were read from their results alone');
    for (const d of leanDocs)
      for (const r of d!.value.recordings) assert.strictEqual(r.metadata, null);
  });

  it('should run in full mode, loudly, on a client lacking viewSensitiveData: every sensitive recording a gap, as in full mode, and the client checked once', async () => {
    const full = await exporter(sim, store, 'full', LACKS).export(ids);
    const worker = exporter(sim, store, 'lean', LACKS);
    const lean = await worker.export(ids);
    assert.deepStrictEqual(verdicts(lean.report), verdicts(full.report));
    assert.ok(
      lean.report.conversations.some(c =>
        c.recordings.some(r => /viewSensitiveData/.test(r.reason ?? '')),
      ),
      'a sensitive recording the client may not see is a gap',
    );
    assert.strictEqual(lean.report.metadataMode, 'full');
    assert.match(
      lean.report.leanRefused ?? '',
      /^OAuth client 0 does not hold recording:recording:viewSensitiveData \(in no division/,
    );
    assert.strictEqual(metadataCalls(lean.calls), 60, 'every conversation read in full mode');
    assert.strictEqual(worker.refusals().length, 1, JSON.stringify(worker.lines.slice(-5)));
    // The next batch of the same instance: the same refusal, remembered, not asked again.
    const next = await worker.export(ids.slice(0, 5));
    assert.strictEqual(next.calls[PERMITTED] ?? 0, 0);
    assert.deepStrictEqual(
      [next.report.metadataMode, next.report.leanRefused],
      ['full', lean.report.leanRefused],
    );
    assert.strictEqual(worker.refusals().length, 1, 'the refusal is logged at ERROR once');
  });

  it('should run in full mode when Genesys will not say whether the client holds viewSensitiveData, and ask again later only when no answer came', async () => {
    const few = ids.slice(0, 4);
    const refused = exporter(sim, store, 'lean', HOLDS, fastClock);
    await sim.admin('faults', {
      body: {path: '^/api/v2/authorization/divisionspermitted', action: 'status', status: 403},
    });
    try {
      const first = await refused.export(few);
      assert.strictEqual(first.report.metadataMode, 'full');
      assert.match(
        first.report.leanRefused ?? '',
        /^whether OAuth client 0 holds recording:recording:viewSensitiveData could not be checked \(.*HTTP 403/,
      );
      assert.doesNotMatch(first.report.leanRefused ?? '', /asked again/);
    } finally {
      await sim.admin('faults', {method: 'DELETE'});
    }
    // A refusal stands for the instance's life, even once the route answers.
    const again = await refused.export(few);
    assert.deepStrictEqual([again.report.metadataMode, again.calls[PERMITTED] ?? 0], ['full', 0]);

    // No answer (503 through every retry): full mode now, asked again after RECHECK_MS.
    let skew = 0;
    const clock: Clock = {now: () => Date.now() + skew, sleep: fastClock.sleep};
    const unanswered = exporter(sim, store, 'lean', HOLDS, clock);
    await sim.admin('faults', {
      body: {path: '^/api/v2/authorization/divisionspermitted', action: 'status', status: 503},
    });
    try {
      const first = await unanswered.export(few);
      assert.strictEqual(first.report.metadataMode, 'full');
      assert.match(first.report.leanRefused ?? '', /could not be checked .*; asked again in 10/);
    } finally {
      await sim.admin('faults', {method: 'DELETE'});
    }
    const soon = await unanswered.export(few);
    assert.deepStrictEqual([soon.report.metadataMode, soon.calls[PERMITTED] ?? 0], ['full', 0]);
    skew = RECHECK_MS + 1000;
    const later = await unanswered.export(few);
    assert.deepStrictEqual(
      [later.report.metadataMode, later.report.leanRefused, later.calls[PERMITTED]],
      ['lean', undefined, 1],
    );
    assert.strictEqual(unanswered.refusals().length, 1);
  });
});

describe('lean metadata mode on a lossy day of 300 conversations, half of the recordings sensitive, a fifth answered twice in batch results', function () {
  this.timeout(600_000);
  const LOSSY_DAY = '2023-01-25';
  let sim: TestSimulator;
  let store: GcsStore;
  let truth: Truth;
  let ids: string[];

  before(async () => {
    ({sim, store, truth} = await simulatedDay<Truth>(LOSSY_DAY, 300, [
      '--profile',
      'lossy',
      '--sensitive-share',
      '0.5',
      '--audio-bytes',
      '8000',
      '--screen-bytes',
      '12000',
      '--settings',
      // Genesys' request limits out of the way: this is about what is exported, not pacing.
      JSON.stringify({
        batchDuplicateRate: 0.2,
        batchPerResultMs: 1,
        rateLimitPerMinute: 100_000,
        clientRateLimitPerMinute: 100_000,
      }),
      ...CLIENTS,
    ]));
    ids = truth.conversations.map(c => c.conversationId);
  });
  after(async () => {
    await sim?.stop();
  });

  /** Each recording of the truth as `conversationId/recordingId`, and of a report. */
  const truthKeys = () =>
    truth.conversations.flatMap(c => c.recordings.map(r => `${c.conversationId}/${r.recordingId}`));
  const reported = (r: BatchReport) =>
    r.conversations.flatMap(c => c.recordings.map(x => `${c.conversationId}/${x.recordingId}`));
  /** The recordings of the truth a report neither exported nor listed as a gap, with their media. */
  function unaccounted(r: BatchReport): string[] {
    const seen = new Set(reported(r));
    return truth.conversations.flatMap(c =>
      c.recordings
        .filter(x => !seen.has(`${c.conversationId}/${x.recordingId}`))
        .map(x => `${c.channel} ${x.media}${x.sensitive ? ' (sensitive)' : ''} ${x.recordingId}`),
    );
  }

  /**
   * What lean mode could miss on this day: sensitive exportable recordings of
   * calls with a consult (two audio recordings), and of chats whose only
   * other recording is a screen recording.
   */
  function blindSpots(): {consults: number; chatsWithScreen: number} {
    let consults = 0;
    let chatsWithScreen = 0;
    for (const c of truth.conversations) {
      const hidden = c.recordings.filter(r => r.sensitive && r.exportable);
      const audio = c.recordings.filter(r => r.media === 'audio');
      if (audio.length > 1 && hidden.some(r => r.media === 'audio')) consults++;
      const others = c.recordings.filter(r => r.media !== 'chat');
      if (
        c.channel === 'chat' &&
        hidden.some(r => r.media === 'chat') &&
        others.length > 0 &&
        others.every(r => r.media === 'screen' && !r.sensitive)
      )
        chatsWithScreen++;
    }
    return {consults, chatsWithScreen};
  }

  it('should hold sensitive consult calls and a sensitive chat transcript next to a screen recording', () => {
    const spots = blindSpots();
    assert.ok(spots.consults >= 4 && spots.chatsWithScreen >= 1, JSON.stringify(spots));
  });

  it('should list every recording, exported or a gap, on a client lacking viewSensitiveData (full mode)', async () => {
    const lean = await exporter(sim, store, 'lean', LACKS, fastClock, LOSSY_DAY).export(ids);
    assert.deepStrictEqual(unaccounted(lean.report), []);
    assert.deepStrictEqual(reported(lean.report).sort(), truthKeys().sort());
    assert.strictEqual(lean.report.metadataMode, 'full');
    const hidden = truth.conversations.flatMap(c =>
      c.recordings
        .filter(r => r.sensitive && r.exportable)
        .map(r => `${c.conversationId}/${r.recordingId}`),
    );
    const gaps = new Set(
      lean.report.conversations.flatMap(c =>
        c.recordings
          .filter(r => r.outcome === 'failed' && /viewSensitiveData/.test(r.reason ?? ''))
          .map(r => `${c.conversationId}/${r.recordingId}`),
      ),
    );
    assert.deepStrictEqual([...gaps].sort(), hidden.sort());
  });

  it("should reach full mode's verdict on every recording when the permission is taken away after the client was proven (lean mode's rules alone)", async () => {
    const worker = exporter(sim, store, 'lean', HOLDS, fastClock, LOSSY_DAY);
    try {
      // Proven on its first batch, before the organisation's role changes.
      const first = await worker.export(ids.slice(0, 2));
      await sim.admin('config', {method: 'PATCH', body: {dropSensitive: true}});
      const lean = await worker.export(ids);
      const full = await exporter(sim, store, 'full', HOLDS, fastClock, LOSSY_DAY).export(ids);
      assert.deepStrictEqual(unaccounted(lean.report), []);
      assert.deepStrictEqual(verdicts(lean.report), verdicts(full.report));
      assert.ok(
        full.report.conversations.some(c =>
          c.recordings.some(r => /viewSensitiveData/.test(r.reason ?? '')),
        ),
        'sensitive recordings were left out of the batch results',
      );
      assert.deepStrictEqual(
        [first.report.metadataMode, lean.report.metadataMode, lean.calls[PERMITTED] ?? 0],
        ['lean', 'lean', 0],
        'proven on the first batch, the proof stands for the instance',
      );
    } finally {
      await sim.admin('config', {method: 'PATCH', body: {dropSensitive: false}});
    }
  });
});
