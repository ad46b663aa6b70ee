/** The pure judgement of `grm verify` and of object retention (core/verify*.ts, core/retention.ts). */
import * as assert from 'node:assert';
import type {BatchReport} from '../../functions/core/report';
import {retentionFor, retentionProblem} from '../../functions/core/retention';
import {countFindings, expectedObjects} from '../../functions/core/verify';
import {redecidedAfterSuccess, sameRecord} from '../../functions/core/verify-bookkeeping';
import {
  checkObject,
  exportFolders,
  extraObjects,
  hiddenGenerations,
  retentionSummary,
  unretained,
} from '../../functions/core/verify-objects';
import type {StoredObject} from '../../functions/ports';
import {sampleNames, sampleReport} from './sample-report';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const {recording: REC, metadata: META} = sampleNames('local');

function report(over: Partial<BatchReport['conversations'][number]> = {}): BatchReport {
  return sampleReport('local', {
    recording: {retention: {mode: 'Locked', retainUntilTime: '2033-11-28T00:00:00.000Z'}},
    other: {recordingId: 'r2', type: 'call', outcome: 'skipped', reason: 'deleted'},
    conversation: over,
  });
}

function stored(name: string, over: Partial<StoredObject> = {}): StoredObject {
  return name === REC
    ? {
        name,
        size: 100,
        md5Hash: 'cmVj',
        crc32c: 'AAAAAg==',
        generation: '7',
        retention: {mode: 'Locked', retainUntilTime: '2033-11-28T00:00:00.000Z'},
        ...over,
      }
    : {name, size: 10, md5Hash: 'bWV0YQ==', crc32c: 'AAAAAQ==', generation: '5', ...over};
}

describe('grm verify: judging a day against its reports', () => {
  const {expected, findings} = expectedObjects([{object: 'rep', report: report()}]);
  const rec = expected.get(REC)!;
  const meta = expected.get(META)!;

  it('should expect each exported recording and each metadata document, nothing skipped', () => {
    assert.deepStrictEqual([...expected.keys()].sort(), [REC, META].sort());
    assert.deepStrictEqual(findings, []);
    assert.strictEqual(rec.what, 'recording');
    assert.strictEqual(meta.what, 'metadata');
  });

  it('should find nothing wrong with an unchanged object, also when its bytes are read back', () => {
    assert.deepStrictEqual(checkObject(rec, stored(REC), NOW), []);
    const back = {size: 100, md5Hash: 'cmVj', crc32c: 'AAAAAg=='};
    assert.deepStrictEqual(checkObject(rec, stored(REC), NOW, back), []);
    assert.deepStrictEqual(checkObject(meta, stored(META), NOW), []);
  });

  it('should call a missing object missing', () => {
    const f = checkObject(rec, undefined, NOW);
    assert.deepStrictEqual(
      f.map(x => [x.kind, x.object, x.recordingId]),
      [['missing', REC, 'r1']],
    );
  });

  it('should call replaced bytes altered, by size, MD5, CRC32C and generation', () => {
    const f = checkObject(
      rec,
      stored(REC, {size: 101, md5Hash: 'eHh4', crc32c: 'AAAAAw==', generation: '9'}),
      NOW,
    );
    assert.deepStrictEqual(
      f.map(x => x.kind),
      ['altered', 'altered'],
    );
    assert.match(f[0]!.detail, /size 100 recorded, 101 now; MD5 .*; CRC32C/);
    assert.match(f[1]!.detail, /replaced: generation 7 recorded, 9 now/);
  });

  it('should call a same-bytes replacement altered by its generation alone', () => {
    const f = checkObject(rec, stored(REC, {generation: '8'}), NOW);
    assert.deepStrictEqual(
      f.map(x => [x.kind, /generation 7 recorded, 8 now/.test(x.detail)]),
      [['altered', true]],
    );
  });

  it('with bytes read back, should catch content GCS metadata still vouches for', () => {
    const f = checkObject(rec, stored(REC), NOW, {size: 100, md5Hash: 'eHh4', crc32c: 'AAAAAw=='});
    assert.strictEqual(f.length, 1);
    assert.match(
      f[0]!.detail,
      /bytes read back differ: MD5 of the bytes eHh4, cmVj recorded; CRC32C/,
    );
  });

  it('should call an object whose export recorded no checksum or generation unverifiable', () => {
    const old = report({
      metadataStored: undefined,
      recordings: [
        {
          recordingId: 'r1',
          type: 'call',
          outcome: 'exported',
          object: REC,
          size: 100,
          md5Hash: 'cmVj',
        },
      ],
    });
    const e = expectedObjects([{object: 'rep', report: old}]).expected;
    assert.deepStrictEqual(
      checkObject(e.get(REC)!, stored(REC), NOW).map(x => x.kind),
      ['unverifiable'],
    );
    const m = checkObject(e.get(META)!, stored(META), NOW);
    assert.deepStrictEqual(
      m.map(x => x.kind),
      ['unverifiable', 'unverifiable'],
    );
  });

  it('should call a removed, shortened or unlocked retention altered, and an ended one fine', () => {
    const removed = checkObject(rec, stored(REC, {retention: undefined}), NOW);
    assert.match(
      removed[0]!.detail,
      /retention \(Locked until 2033-11-28T00:00:00.000Z\) was removed/,
    );
    const shorter = checkObject(
      rec,
      stored(REC, {retention: {mode: 'Locked', retainUntilTime: '2030-01-01T00:00:00.000Z'}}),
      NOW,
    );
    assert.match(shorter[0]!.detail, /shortened from 2033-11-28T00:00:00.000Z to 2030-01-01/);
    const unlocked = checkObject(
      rec,
      stored(REC, {retention: {mode: 'Unlocked', retainUntilTime: '2033-11-28T00:00:00.000Z'}}),
      NOW,
    );
    assert.match(unlocked[0]!.detail, /unlocked \(recorded Locked, now Unlocked\)/);
    const extended = checkObject(
      rec,
      stored(REC, {retention: {mode: 'Locked', retainUntilTime: '2040-01-01T00:00:00.000Z'}}),
      NOW,
    );
    assert.deepStrictEqual(extended, []);
    assert.strictEqual(
      retentionProblem(
        {mode: 'Unlocked', retainUntilTime: '2026-01-01T00:00:00.000Z'},
        undefined,
        NOW,
      ),
      undefined,
      'a retention that ended on its own',
    );
  });

  it('should call objects of the export folders that no report records extra', () => {
    const folders = exportFolders('local', '2026-11-28');
    assert.deepStrictEqual(folders, [
      'local/2026-11-28/call/',
      'local/2026-11-28/chat/',
      'local/2026-11-28/email/',
      'local/2026-11-28/message/',
      'local/2026-11-28/screen/',
      'local/2026-11-28/metadata/',
    ]);
    const extra = stored('local/2026-11-28/call/c9_r9.opus', {generation: '3'});
    const f = extraObjects([stored(REC), stored(META), extra], expected);
    assert.deepStrictEqual(
      f.map(x => [x.kind, x.object]),
      [['extra', extra.name]],
    );
    assert.deepStrictEqual(countFindings(f), {
      missing: 0,
      altered: 0,
      extra: 1,
      unverifiable: 0,
      unretained: 0,
    });
  });

  it('should report two reports that record one object differently', () => {
    const other = report();
    other.conversations[0]!.recordings[0]!.generation = '8';
    const {findings: f} = expectedObjects([
      {object: 'a', report: report()},
      {object: 'b', report: other},
    ]);
    assert.deepStrictEqual(
      f.map(x => [x.kind, x.object]),
      [['altered', REC]],
    );
  });

  it('should give new objects the configured retention, and none when it is off', () => {
    assert.strictEqual(retentionFor({days: 0, mode: 'locked'}, NOW), undefined);
    assert.strictEqual(retentionFor(undefined, NOW), undefined);
    assert.deepStrictEqual(retentionFor({days: 2, mode: 'locked'}, NOW), {
      mode: 'Locked',
      retainUntilTime: '2026-12-04T12:00:00.000Z',
    });
    assert.strictEqual(retentionFor({days: 1, mode: 'unlocked'}, NOW)!.mode, 'Unlocked');
  });

  it('should tell a rewritten report that records the same export from one that records another', () => {
    const a = report();
    const b: BatchReport = {...report(), attempt: 3, finishedAt: '2026-12-01T05:00:00Z'};
    b.conversations = [...b.conversations, {conversationId: 'c0', recordings: []}];
    a.conversations = [{conversationId: 'c0', recordings: []}, ...a.conversations];
    assert.ok(sameRecord(a, b), 'attempt, times and conversation order are not the record');
    // A metadata document found rather than written: the same fields set in another order.
    const found = report();
    const {metadataObject, metadataStored, ...rest} = found.conversations[0]!;
    found.conversations[0] = {
      ...rest,
      metadataStored: metadataStored!,
      metadataObject: metadataObject!,
    };
    assert.notStrictEqual(JSON.stringify(found), JSON.stringify(report()), 'the text differs');
    assert.ok(sameRecord(report(), found), 'the meaning does not');
    const c = report();
    c.conversations[0]!.recordings[0]!.md5Hash = 'eHh4';
    assert.ok(!sameRecord(report(), c));
  });

  it('should see a run decided again after it was _SUCCESS in the marker’s history', () => {
    const marker = {runId: 'r2', fingerprint: 'f3'};
    assert.strictEqual(redecidedAfterSuccess(marker), undefined);
    assert.strictEqual(
      redecidedAfterSuccess({
        ...marker,
        history: [
          {runId: 'r1', status: 'success', fingerprint: 'f1'},
          {runId: 'r2', status: 'failure', fingerprint: 'f2'},
        ],
      }),
      undefined,
      'an earlier run, or a _FAILURE of this run, decided again is the normal course',
    );
    assert.match(
      redecidedAfterSuccess({
        ...marker,
        history: [{runId: 'r2', status: 'success', fingerprint: 'f2', decidedAt: 'T'}],
      })!,
      /run r2 was already _SUCCESS \(_SUCCESS decided T\) and was decided again/,
    );
    // Back to the very same outcome through a _FAILURE: the fingerprint alone cannot show it.
    const roundTrip = redecidedAfterSuccess({
      runId: 'r2',
      status: 'success',
      fingerprint: 'f1',
      decidedAt: 'T3',
      history: [
        {runId: 'r2', status: 'success', fingerprint: 'f1', decidedAt: 'T1'},
        {
          runId: 'r2',
          status: 'failure',
          fingerprint: 'f2',
          decidedAt: 'T2',
          changed: [{object: 'b0001.json', generation: '22'}],
        },
      ],
    });
    assert.match(
      roundTrip!,
      /already _SUCCESS \(_SUCCESS decided T1\) and was decided again: _FAILURE decided T2 from b0001\.json#22; then _SUCCESS decided T3/,
    );
    // A new run an operator asked for is not a rewrite of the old one.
    assert.strictEqual(
      redecidedAfterSuccess({
        runId: 'r3',
        status: 'success',
        fingerprint: 'f9',
        history: [{runId: 'r2', status: 'success', fingerprint: 'f1'}],
      }),
      undefined,
    );
  });

  it('should name checked recording generations that are no longer live and no report records', () => {
    const old = stored(REC, {generation: '6', timeDeleted: 'T', metadata: {verified: 'crc32c:x'}});
    const f = hiddenGenerations([old], expected);
    assert.deepStrictEqual(
      f.map(x => x.kind),
      ['altered'],
    );
    assert.match(
      f[0]!.detail,
      /generation 6, checked when it was exported, was replaced or deleted at T; the reports now record generation 7/,
    );
    const recorded = stored(REC, {timeDeleted: 'T', metadata: {verified: 'crc32c:x'}});
    const unchecked = stored(REC, {generation: '5', timeDeleted: 'T'});
    const metadataVersion = stored(META, {
      generation: '4',
      timeDeleted: 'T',
      metadata: {verified: 'x'},
    });
    assert.deepStrictEqual(
      hiddenGenerations([recorded, unchecked, metadataVersion], expected),
      [],
      'the recorded one (already missing), a write that failed its check, a rewritten metadata document',
    );
  });

  it('should summarise the recorded retention, and name what has none on request', () => {
    assert.deepStrictEqual(retentionSummary(expected), {
      retained: 1,
      unretained: 1,
      earliestUntil: '2033-11-28T00:00:00.000Z',
    });
    assert.deepStrictEqual(
      unretained(expected).map(x => [x.kind, x.object]),
      [['unretained', META]],
    );
  });
});
