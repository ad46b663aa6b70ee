/**
 * The checker's decided records (core/decided-records.ts) and what `grm
 * verify` makes of them (core/verify*.ts): the first record of each object
 * stands whatever reports say later, a metadata document's record follows
 * it only until a `_SUCCESS` of its run, the recordings index is held
 * against the records, and generations written after a record are found.
 */
import * as assert from 'node:assert';
import {mergeRecords, parseRecords, recordsNdjson} from '../../functions/core/decided-records';
import type {ReportRef} from '../../functions/core/day-outcome';
import type {IndexRow} from '../../functions/core/recordings-index';
import {canonicalReport} from '../../functions/core/report';
import {expectedFromRecords} from '../../functions/core/verify';
import {indexAgainstRecords, reportsAgainstRecords} from '../../functions/core/verify-bookkeeping';
import {checkObject, hiddenGenerations} from '../../functions/core/verify-objects';
import type {StoredObject} from '../../functions/ports';
import {sampleNames, sampleReport} from './sample-report';

const {recording: REC, metadata: META} = sampleNames('e');

function ref(
  generation: string,
  copies: {rec?: [string, string]; meta?: [string, string]} = {},
): ReportRef {
  const [recGen, recMd5] = copies.rec ?? ['7', 'cmVj'];
  const [metaGen, metaMd5] = copies.meta ?? ['5', 'bWV0YQ=='];
  const report = sampleReport('e', {
    recording: {generation: recGen, md5Hash: recMd5},
    metadata: {generation: metaGen, md5Hash: metaMd5},
    other: {recordingId: 'r2', type: 'call', outcome: 'failed', reason: 'pending download'},
  });
  return {object: 'e/2026-11-28/_manifest/runs/r1/batches/b0001.json', generation, report};
}

const success = (runId = 'r1', decidedAt = 'D1') => ({
  runId,
  status: 'success' as const,
  decidedAt,
});
const failure = (runId = 'r1', decidedAt = 'D1') => ({
  runId,
  status: 'failure' as const,
  decidedAt,
});

describe('decided records: the first record of each object', () => {
  it('should record every exported recording and metadata document once, sealed by a _SUCCESS', () => {
    const first = mergeRecords(new Map(), [ref('1')], success());
    assert.ok(first.changed);
    assert.deepStrictEqual([...first.records.keys()].sort(), [REC, META].sort());
    const rec = first.records.get(REC)!;
    assert.deepStrictEqual(
      {
        g: rec.generation,
        md5: rec.md5Hash,
        run: rec.runId,
        sealed: rec.sealedBy,
        at: rec.decidedAt,
      },
      {g: '7', md5: 'cmVj', run: 'r1', sealed: 'r1', at: 'D1'},
    );
    const again = mergeRecords(first.records, [ref('2')], success('r1', 'D2'));
    assert.strictEqual(again.changed, false, 'the same copies change nothing');
    assert.deepStrictEqual(again.conflicts, []);
  });

  it('should keep a recording’s first record whatever a later report says', () => {
    const first = mergeRecords(new Map(), [ref('1')], failure()).records;
    const later = mergeRecords(first, [ref('2', {rec: ['9', 'Zm9yZ2Vk']})], success('r1', 'D2'));
    assert.strictEqual(later.records.get(REC)!.generation, '7');
    assert.deepStrictEqual(
      later.conflicts.map(c => [c.object, c.reported.generation, c.report]),
      [[REC, '9', 'e/2026-11-28/_manifest/runs/r1/batches/b0001.json#2']],
    );
  });

  it('should follow a metadata document until its run is _SUCCESS, then only in a new run', () => {
    const failed = mergeRecords(new Map(), [ref('1')], failure()).records;
    const replayed = mergeRecords(failed, [ref('2', {meta: ['6', 'bmV3']})], success('r1', 'D2'));
    assert.deepStrictEqual(replayed.conflicts, [], 'a replay before the _SUCCESS rewrites it');
    const m = replayed.records.get(META)!;
    assert.deepStrictEqual(
      [m.generation, m.sealedBy, m.earlier?.map(e => e.generation)],
      ['6', 'r1', ['5']],
    );
    // The worker rewrites it after the _SUCCESS: the record stays.
    const tampered = mergeRecords(
      replayed.records,
      [ref('3', {meta: ['8', 'eHg=']})],
      success('r1', 'D3'),
    );
    assert.strictEqual(tampered.records.get(META)!.generation, '6');
    assert.deepStrictEqual(
      tampered.conflicts.map(c => c.object),
      [META],
    );
    // A new run an operator asked for records the newer copy.
    const rerun = mergeRecords(
      replayed.records,
      [ref('4', {meta: ['8', 'eHg=']})],
      success('r2', 'D4'),
    );
    assert.deepStrictEqual(rerun.conflicts, []);
    const r = rerun.records.get(META)!;
    assert.deepStrictEqual([r.generation, r.runId, r.earlier?.length], ['8', 'r2', 2]);
  });

  it('should write and read back the same records, and refuse anything else', () => {
    const {records} = mergeRecords(new Map(), [ref('1')], success());
    const text = Buffer.concat([...recordsNdjson(records)]).toString('utf8');
    assert.deepStrictEqual(parseRecords(text), records);
    assert.strictEqual(text.split('\n').length, 3, 'one line per record, name order');
    assert.throws(
      () => parseRecords(`${text}{"object":"x"}\n`),
      /line 3: neither a recording nor metadata/,
    );
    assert.throws(() => parseRecords('not json\n'), /line 1 is not JSON/);
    const line = text.split('\n')[0]!;
    assert.throws(() => parseRecords(`${line}\n${line}\n`), /a second record of/);
  });
});

describe('grm verify against decided records', () => {
  const records = mergeRecords(new Map(), [ref('1')], success()).records;
  const expected = expectedFromRecords(records);
  const stored = (name: string, over: Partial<StoredObject> = {}): StoredObject => {
    const r = records.get(name)!;
    return {
      name,
      size: r.size,
      md5Hash: r.md5Hash,
      crc32c: r.crc32c!,
      generation: r.generation,
      ...over,
    };
  };

  it('should find a report that records an object otherwise than its first record', () => {
    assert.deepStrictEqual(reportsAgainstRecords([ref('1')], records), []);
    const f = reportsAgainstRecords([ref('3', {meta: ['8', 'eHg=']})], records);
    assert.deepStrictEqual(
      f.map(x => [x.kind, x.object]),
      [['altered', META]],
    );
    assert.match(
      f[0]!.detail,
      /#3 records generation 8 .*; the day's record is generation 5 .*first recorded by run r1's decision of D1/,
    );
  });

  it('should say whether the recorded generation survives, noncurrent, when the live one differs', () => {
    const e = expected.get(META)!;
    const live = stored(META, {generation: '8', md5Hash: 'eHg='});
    const kept = stored(META, {timeDeleted: 'T'});
    const withKept = checkObject(e, live, 0, undefined, [kept])
      .map(x => x.detail)
      .join('\n');
    assert.match(
      withKept,
      /generation 5 recorded, 8 now; the recorded generation 5 is still held as noncurrent, unchanged/,
    );
    const gone = checkObject(e, live, 0, undefined, [])
      .map(x => x.detail)
      .join('\n');
    assert.match(gone, /the recorded generation 5 is gone/);
  });

  it('should find a generation written after the record that came and went, not the ones before', () => {
    const later = stored(META, {generation: '6', md5Hash: 'eHg=', timeDeleted: 'T9'});
    const before = stored(META, {generation: '4', md5Hash: 'b2xk', timeDeleted: 'T0'});
    const f = hiddenGenerations([later, before], expected);
    assert.deepStrictEqual(
      f.map(x => [x.kind, x.object]),
      [['altered', META]],
    );
    assert.match(
      f[0]!.detail,
      /generation 6 .* was written after generation 5 was recorded, and replaced or deleted at T9/,
    );
  });

  it('should hold the recordings index against the records, row by row', () => {
    const row = (over: Partial<IndexRow> = {}): IndexRow => ({
      conversation_id: 'c1',
      recording_id: 'r1',
      object_name: REC,
      size_bytes: 100,
      md5_hash: 'cmVj',
      crc32c: 'AAAAAg==',
      outcome: 'exported',
      batch_id: 'b0001',
      run_id: 'r1',
      decided_at: '2026-12-01T00:00:00Z',
      ...over,
    });
    assert.deepStrictEqual(indexAgainstRecords('idx', [row()], records), []);
    const edited = indexAgainstRecords('idx', [row({md5_hash: 'eHh4'})], records);
    assert.match(edited[0]!.detail, /its row of .* says MD5 eHh4; the record is generation 7/);
    assert.match(indexAgainstRecords('idx', [], records)[0]!.detail, /no exported row for/);
    const extra = indexAgainstRecords('idx', [row(), row({object_name: 'e/x.opus'})], records);
    assert.match(extra[0]!.detail, /an exported row of e\/x\.opus, which no decision recorded/);
  });
});

describe('batch reports in one canonical order', () => {
  it('should write the same text for the same record, however its fields were set', () => {
    const a = ref('1').report;
    const b = ref('1').report;
    const {metadataObject, metadataStored, ...rest} = b.conversations[0]!;
    b.conversations[0] = {
      ...rest,
      metadataStored: metadataStored!,
      metadataObject: metadataObject!,
    };
    assert.notStrictEqual(JSON.stringify(a), JSON.stringify(b));
    assert.strictEqual(JSON.stringify(canonicalReport(a)), JSON.stringify(canonicalReport(b)));
    assert.deepStrictEqual(Object.keys(canonicalReport(b).conversations[0]!).slice(0, 3), [
      'conversationId',
      'metadataObject',
      'metadataStored',
    ]);
  });
});
