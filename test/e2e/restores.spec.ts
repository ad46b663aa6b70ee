/**
 * Archived recordings restored, not reported, on the real stack: a lossy
 * day's archived (and restoring) recordings end its first decision as
 * `_FAILURE` "restore requested by the pipeline"; the planner's tick asks the
 * simulator to restore them (a later archive date), waits for RESTORED
 * (seconds here, hours in Genesys Cloud), replays their conversations, and
 * the checker decides the day again: `_SUCCESS`, without an operator. A day
 * whose queue is gone (decided under ARCHIVED_POLICY=fail, say) is queued
 * again by `grm restore DAY`.
 */
import * as assert from 'node:assert';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {
  fetchTruth,
  readJson,
  runDay,
  runGrmLine,
  startMigrationTicker,
  storageFor,
  waitForMarker,
} from '../../local/run-day';
import type {RestoreRecord} from '../../functions/core/restore-record';
import {restoreInboxPrefix, restoresObjectName} from '../../functions/core/object-names';
import {declareProductDays, useProductStack} from '../setup/stack';

const env = LOCAL_EXPORT_ENV;
const AUTO = '2026-04-14';
const BY_HAND = '2026-04-15';
const PER_DAY = {[AUTO]: 40, [BY_HAND]: 40};
declareProductDays('lossy', PER_DAY);

/** Recordings of `day` in an archive state at the source now. */
async function archivedAtSource(stack: Stack, day: string): Promise<string[]> {
  const truth = await fetchTruth(stack, day);
  return truth.conversations.flatMap(c =>
    c.recordings
      .filter(r => r.fileState === 'ARCHIVED' || r.fileState === 'RESTORING')
      .map(r => r.recordingId),
  );
}

async function inboxFiles(stack: Stack, day: string): Promise<string[]> {
  const [files] = await storageFor(stack)
    .bucket(stack.bucket)
    .getFiles({prefix: `${restoreInboxPrefix(env)}${day}/`});
  return files.map(f => f.name);
}

describe('archived recordings: restored by the pipeline, exported, the day decided again', function () {
  this.timeout(300_000);
  let stack: Stack;
  const runs: Record<string, string> = {};
  const archived: Record<string, string[]> = {};

  before(async function () {
    this.timeout(240_000);
    stack = await useProductStack('lossy', PER_DAY);
    // Both days at once: the stack's workers take them side by side.
    await Promise.all(
      [AUTO, BY_HAND].map(async day => {
        // Only the archive is in the way: uploads finish and errors clear at the source first.
        const res = await fetch(
          `${stack.genesysUrl}/_admin/recover?day=${day}&states=UPLOADING,ERROR`,
          {method: 'POST'},
        );
        assert.strictEqual(res.status, 200);
        archived[day] = await archivedAtSource(stack, day);
        assert.ok(archived[day].length >= 2, `${day} has archived recordings to restore`);
        const first = await runDay(stack, {day, env, timeoutMs: 120_000});
        runs[day] = first.runId;
        assert.strictEqual(first.marker?.marker, '_FAILURE');
        assert.deepStrictEqual(
          first.marker.gaps.map(g => g.recordingId).sort(),
          [...archived[day]].sort(),
          'the gaps are exactly the archived recordings',
        );
        for (const g of first.marker.gaps)
          assert.match(g.reason, /restore requested by the pipeline/);
      }),
    );
  });

  it('should queue each decided day, and grm restore DAY should queue one again', async () => {
    assert.strictEqual((await inboxFiles(stack, AUTO)).length, 1);
    // As if BY_HAND had been decided under ARCHIVED_POLICY=fail: nothing queued.
    for (const name of await inboxFiles(stack, BY_HAND))
      await storageFor(stack).bucket(stack.bucket).file(name).delete();
    const bad = await runGrmLine(stack, 'grm restore 2026-02-30');
    assert.notStrictEqual(bad.code, 0);
    const queued = await runGrmLine(stack, `grm restore ${BY_HAND} --json`);
    assert.strictEqual(queued.code, 0, queued.err);
    const answer = JSON.parse(queued.out) as {status: number; body: {queued: number}};
    assert.strictEqual(answer.body.queued, archived[BY_HAND]!.length);
    assert.strictEqual((await inboxFiles(stack, BY_HAND)).length, 1);
  });

  it('should restore, export and decide both days _SUCCESS by itself, each recording once', async () => {
    const ticker = startMigrationTicker(stack, 300);
    try {
      for (const day of [AUTO, BY_HAND]) {
        const {marker} = await waitForMarker(stack, env, day, {
          runId: runs[day]!,
          want: '_SUCCESS',
          timeoutMs: 120_000,
        });
        assert.strictEqual(marker.missing.recordings, 0);
      }
    } finally {
      const steps = await ticker.stop();
      assert.ok(
        steps.every(s => s.status === 200),
        JSON.stringify(steps.slice(-3)),
      );
    }
    const record = await readJson<RestoreRecord>(stack, restoresObjectName(env));
    const total = archived[AUTO]!.length + archived[BY_HAND]!.length;
    // Other specs' lossy days on this stack were queued too: only these days' share is exact.
    const ours = (day: string) => day === AUTO || day === BY_HAND;
    assert.deepStrictEqual(
      record?.entries.filter(e => ours(e.day)),
      [],
    );
    assert.deepStrictEqual(
      record.refused.filter(r => ours(r.day)),
      [],
    );
    assert.ok(record.totals.replayed >= total, `${record.totals.replayed} replayed`);
    assert.ok(record.totals.requested >= total);
    for (const day of [AUTO, BY_HAND]) {
      assert.deepStrictEqual(await inboxFiles(stack, day), [], 'the queue is emptied');
      // Restored at the source, and stored once each.
      const truth = await fetchTruth(stack, day);
      const [files] = await storageFor(stack)
        .bucket(stack.bucket)
        .getFiles({prefix: `${env}/${day}/`});
      for (const id of archived[day]!) {
        const rec = truth.conversations.flatMap(c => c.recordings).find(r => r.recordingId === id)!;
        assert.strictEqual(rec.fileState, 'RESTORED');
        assert.strictEqual(files.filter(f => f.name.includes(`_${id}.`)).length, 1, id);
      }
    }
    const status = await runGrmLine(stack, 'grm restore status');
    assert.strictEqual(status.code, 0, status.err);
    assert.match(status.out, /outstanding: \d+ queued, \d+ asked of Genesys Cloud, \d+ restored/);
    assert.match(status.out, new RegExp(`${record.totals.replayed} exported again`));
  });
});
