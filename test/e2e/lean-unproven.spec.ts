/**
 * Lean metadata mode (METADATA=lean) with an OAuth client that lacks
 * recording:recording:viewSensitiveData, on the local stack with the real
 * planner, worker and checker: a clean day of 20 conversations, a tenth of
 * the recordings flagged sensitive, one of them the exportable call
 * recording of a conversation that also has a consult recording and a
 * screen recording. Genesys leaves it out of the client's batch results
 * silently; lean mode read the conversation from those results and ended
 * the day _SUCCESS, expecting one recording fewer than full mode, with that
 * one not in the bucket. A client not proven to hold the permission now runs
 * in full mode: the day ends _FAILURE listing every sensitive recording, its
 * reports say why lean mode was refused, and the worker logs it at ERROR.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {Stack, startStack} from '../../local/stack';
import {LOCAL_EXPORT_ENV, productEnv, productFunctions, productSecrets} from '../../local/product';
import {DayResult, Truth, fetchTruth, runDay} from '../../local/run-day';
import {ModeReport, leanNotes} from '../../functions/core/lean-notes';

const DAY = '2024-10-10';
const SENSITIVE = 'recording:recording:viewSensitiveData';
const CLIENT = `limited-client:limited-secret;lacks=${SENSITIVE}`;

describe('lean metadata mode with a client lacking viewSensitiveData (local stack)', function () {
  this.timeout(300_000);
  let stack: Stack;
  let truth: Truth;
  let result: DayResult;

  before(async function () {
    this.timeout(180_000);
    stack = await startStack({
      root: fs.mkdtempSync(path.join(os.tmpdir(), 'grm-lean-unproven-')),
      functions: productFunctions(),
      secrets: productSecrets([CLIENT]),
      functionEnv: productEnv({METADATA: 'lean', MAX_BATCH_ATTEMPTS: '2'}),
      genesys: {
        seed: 'demo',
        conversationsPerDay: 0,
        perDay: {[DAY]: 20},
        profile: 'clean',
        sensitiveShare: 0.1,
        audioBytes: 16 * 1024,
        screenBytes: 32 * 1024,
        clients: [CLIENT],
        settings: {batchPerResultMs: 1},
      },
    });
    truth = await fetchTruth(stack, DAY);
    result = await runDay(stack, {day: DAY, env: LOCAL_EXPORT_ENV, timeoutMs: 180_000});
  });

  after(async () => {
    await stack?.stop();
  });

  const key = (c: {conversationId: string}, r: {recordingId: string}) =>
    `${c.conversationId}/${r.recordingId}`;

  it('should hold a sensitive call recording next to a consult recording and a screen recording', () => {
    const blind = truth.conversations.filter(
      c =>
        c.recordings.filter(r => r.media === 'audio').length > 1 &&
        c.recordings.some(r => r.media === 'screen') &&
        c.recordings.some(r => r.media === 'audio' && r.sensitive && r.exportable),
    );
    assert.strictEqual(blind.length, 1, JSON.stringify(truth.conversations.map(c => c.recordings)));
  });

  it('should end the day _FAILURE listing every sensitive recording, expecting every recording, as full mode does', () => {
    const marker = result.marker;
    assert.ok(marker, 'the day has a marker');
    const all = truth.conversations.flatMap(c => c.recordings.map(r => key(c, r)));
    const hidden = truth.conversations.flatMap(c =>
      c.recordings.filter(r => r.sensitive && r.exportable).map(r => key(c, r)),
    );
    assert.deepStrictEqual(
      [marker.marker, marker.totals.all.expected],
      ['_FAILURE', all.length],
      `${marker.marker}, ${marker.totals.all.expected} recordings expected of ${all.length}`,
    );
    assert.deepStrictEqual(
      marker.gaps.map(g => `${g.conversationId}/${g.recordingId}`).sort(),
      [...hidden].sort(),
    );
    for (const g of marker.gaps) assert.match(g.reason, /viewSensitiveData/);
    // Everything else is in the bucket, byte for byte.
    assert.deepStrictEqual(
      [...result.verification.missing].sort(),
      hidden.map(k => k.replace('/', '_')).sort(),
    );
    assert.deepStrictEqual(result.verification.mismatched, []);
  });

  it("should say in every batch report why lean mode was refused, for the day's marker, and log it at ERROR", () => {
    const reports = result.reports as ModeReport[];
    assert.ok(reports.length > 0);
    for (const r of reports) {
      assert.strictEqual(r.metadataMode, 'full');
      assert.match(
        r.leanRefused ?? '',
        /^OAuth client 0 does not hold recording:recording:viewSensitiveData/,
      );
    }
    const notes = leanNotes(reports);
    assert.strictEqual(notes.length, 1);
    assert.match(notes[0]!, new RegExp(`^METADATA=lean refused for ${reports.length} of `));
    // The day's marker says it: a day in the wrong mode is never silent.
    assert.deepStrictEqual(result.marker!.notes, notes);
    const log = fs.readFileSync(path.join(stack.dirs.logs, 'function-exportBatch.log'), 'utf8');
    const errors = log
      .split('\n')
      .filter(l => l.startsWith('{'))
      .map(l => JSON.parse(l) as {severity?: string; message?: string; reason?: string})
      .filter(l => l.severity === 'ERROR' && /lean metadata mode refused/.test(l.message ?? ''));
    assert.strictEqual(errors.length, 1, 'once per client and worker instance');
    assert.match(errors[0]!.reason ?? '', /does not hold recording:recording:viewSensitiveData/);
  });
});
