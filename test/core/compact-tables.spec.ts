/**
 * The compact tables the checker decides large days with: ids packed as
 * bytes (core/compact-ids.ts), the listing of the recording folders
 * (core/bucket-listing.ts) and the decided records (core/compact-records.ts),
 * each held against the plain Map it replaces on the same inputs, canonical
 * and odd values mixed.
 */
import * as assert from 'node:assert';
import {BucketListing} from '../../functions/core/bucket-listing';
import {IdTable, packBase64, packUuid, unpackUuid} from '../../functions/core/compact-ids';
import {CompactRecords} from '../../functions/core/compact-records';
import {
  DecidedRecord,
  MapRecords,
  RecordTable,
  RecordsMerge,
  parseRecordLines,
  recordsNdjson,
} from '../../functions/core/decided-records';
import type {ReportRef} from '../../functions/core/day-outcome';
import {StoredFacts, confirmClaims, confirmReport} from '../../functions/core/reports-vs-bucket';
import {batchReportOf, dayPlanOf} from '../helpers';

const ENV = 'e';
const DAY = '2026-02-03';
const uuid = (i: number, kind = 0) =>
  `${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}-000${kind}-4000-8000-${i.toString(16).padStart(12, '0')}`;
const md5 = (i: number) => Buffer.alloc(16, i).toString('base64');
const crc = (i: number) => Buffer.alloc(4, i).toString('base64');

describe('compact ids', () => {
  it('should pack canonical UUIDs and base64 checksums exactly, and nothing else', () => {
    const b = new Uint8Array(16);
    assert.ok(packUuid(uuid(7), b, 0));
    assert.strictEqual(unpackUuid(b, 0), uuid(7));
    for (const odd of [
      uuid(7).toUpperCase(),
      `${uuid(7)}x`,
      'c1',
      '0000000-00000-4000-8000-000000000000',
    ])
      assert.strictEqual(packUuid(odd, b, 0), false, odd);
    assert.ok(packBase64(md5(3), 16, b, 0));
    assert.strictEqual(packBase64('cmVj', 16, b, 0), false);
    assert.strictEqual(
      packBase64(`${md5(3).slice(0, -2)}A=`, 16, b, 0),
      false,
      'not the canonical text',
    );
  });

  it('should number ids densely, canonical or not, and give them back', () => {
    const t = new IdTable();
    const ids = [...Array.from({length: 5000}, (_, i) => uuid(i)), 'odd-1', 'ODD', uuid(3)];
    const numbers = ids.map(id => t.add(id));
    assert.strictEqual(t.size, 5002);
    assert.strictEqual(numbers.at(-1), numbers[3]);
    ids.forEach((id, k) => {
      assert.strictEqual(t.find(id), numbers[k]);
      assert.strictEqual(t.id(numbers[k]!), id);
    });
    assert.strictEqual(t.find(uuid(99_999)), -1);
    assert.strictEqual(t.find('other'), -1);
  });
});

describe('compact listing', () => {
  it('should answer as a Map of the whole listing: facts, objects per conversation, unplanned gaps', () => {
    const planned = Array.from({length: 50}, (_, i) => uuid(i));
    const plan = dayPlanOf({day: DAY, runId: 'r1'}, {b1: [...planned, 'not-a-uuid']});
    const names: string[] = [];
    for (let i = 0; i < 60; i++) {
      const c = i === 50 ? 'not-a-uuid' : uuid(i);
      names.push(`${ENV}/${DAY}/call/${c}_${uuid(i, 1)}.ogg`);
      if (i % 3 === 0) names.push(`${ENV}/${DAY}/screen/${c}_${uuid(i, 2)}.webm`);
      if (i % 7 === 0) names.push(`${ENV}/${DAY}/call/${c}_${uuid(i, 1)}.wav`);
    }
    names.push(
      `${ENV}/${DAY}/chat/readme.txt`,
      `${ENV}/${DAY}/call/x/${uuid(1)}_${uuid(1, 1)}.ogg`,
    );
    const listing: StoredFacts[] = names.map((name, k) => ({
      name,
      size: k,
      md5Hash: k % 5 === 0 ? 'odd' : md5(k),
      crc32c: k % 6 === 0 ? '' : crc(k),
    }));
    const ids = new IdTable();
    for (const id of plan.batches[0]!.conversationIds) ids.add(id);
    const compact = new BucketListing(ENV, DAY, ids, ids.size);
    for (const o of listing) compact.add(o);
    // Claims of every name, and of names nobody stored.
    const report = batchReportOf(
      {day: DAY, runId: 'r1', batchId: 'b1'},
      [...planned, 'not-a-uuid', uuid(55)].map((c, i) => ({
        conversationId: c,
        recordings: [0, 1, 2].map(k => {
          const object =
            names.find(n => n.includes(`${c}_${uuid(i, k)}`)) ??
            `${ENV}/${DAY}/call/${c}_${uuid(i, k)}.ogg`;
          const o = listing.find(l => l.name === object);
          return {
            recordingId: uuid(i, k),
            type: object.includes('/screen/') ? ('screen' as const) : ('call' as const),
            outcome: 'exported' as const,
            object,
            size: o?.size,
            md5Hash: i % 4 === 0 ? 'other' : o?.md5Hash,
            crc32c: o?.crc32c,
          };
        }),
      })),
      {startedAt: 'a', finishedAt: 'b'},
    );
    const ref: ReportRef = {object: 'r', generation: '1', report};
    const whole = confirmClaims(ENV, plan, [ref], listing);
    assert.ok(whole.unplanned.length > 0);
    assert.deepStrictEqual(compact.unplanned, whole.unplanned);
    const confirmed = confirmReport(ENV, DAY, ref, compact);
    assert.deepStrictEqual(confirmed, whole.reports[0]);
    const failed = confirmed.report.conversations
      .flatMap(c => c.recordings)
      .filter(r => r.outcome === 'failed');
    assert.ok(failed.length > 20 && failed.length < 150, `${failed.length} failed`);
    for (const o of listing) {
      const f = compact.facts(o.name);
      if (f) assert.deepStrictEqual(f, o);
    }
    const viaCompact = plan.batches[0]!.conversationIds.map(c => compact.objectsOf(c));
    assert.ok(viaCompact.some(l => l.length > 1));
  });
});

function recordsOf(n: number): DecidedRecord[] {
  const out: DecidedRecord[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 17 === 0 ? `odd-${i}` : uuid(i);
    out.push({
      object: `${ENV}/${DAY}/metadata/${c}.json`,
      what: 'metadata',
      conversationId: c,
      generation: String(1000 + i),
      size: i,
      md5Hash: md5(i),
      ...(i % 3 ? {crc32c: crc(i)} : {}),
      runId: 'r1',
      decidedAt: 'D1',
      ...(i % 2 ? {sealedBy: 'r1'} : {}),
    });
    out.push({
      object: `${ENV}/${DAY}/${i % 5 ? 'call' : 'screen'}/${c}_${uuid(i, 1)}.${i % 4 ? 'ogg' : 'opus'}`,
      what: 'recording',
      conversationId: c,
      recordingId: uuid(i, 1),
      type: i % 5 ? 'call' : 'screen',
      generation: i % 11 === 0 ? '0012' : String(2000 + i),
      size: i * 10,
      md5Hash: i % 13 === 0 ? 'not-base64-16' : md5(i),
      crc32c: crc(i),
      ...(i % 19 === 0 ? {retention: {mode: 'Locked' as const, retainUntilTime: 'T'}} : {}),
      runId: i % 7 ? 'r1' : 'r0',
      decidedAt: i % 7 ? 'D1' : 'D0',
    });
  }
  return out;
}

describe('compact decided records', () => {
  it('should hold, update and give back the records as a Map does, in the same name order', () => {
    const ids = new IdTable();
    for (let i = 0; i < 100; i += 2) ids.add(uuid(i)); // the plan's, shared
    const compact = new CompactRecords(ENV, DAY, ids, 8);
    const map = new MapRecords();
    const tables: RecordTable[] = [compact, map];
    const records = recordsOf(300);
    for (const t of tables) for (const r of records) t.set(r);
    // Updates: a seal, a follow with an earlier copy (no longer compact), seen marks.
    for (const t of tables) {
      const meta = records[4]!;
      t.set({...t.get(meta.object)!, sealedBy: 'r2'});
      t.set({
        ...t.get(records[6]!.object)!,
        earlier: [{generation: '1', size: 1, md5Hash: 'x', runId: 'r0', decidedAt: 'D0'}],
      });
      t.see(records[6]!.object);
      t.see(records[9]!.object);
    }
    for (const r of records) {
      assert.deepStrictEqual(compact.get(r.object), map.get(r.object), r.object);
      assert.strictEqual(compact.seen(r.object), map.seen(r.object), r.object);
    }
    assert.strictEqual(compact.get(`${ENV}/${DAY}/metadata/${uuid(999)}.json`), undefined);
    const text = (t: RecordTable) => Buffer.concat([...recordsNdjson(t, 1000)]).toString('utf8');
    assert.strictEqual(text(compact), text(map));
    assert.ok(compact.compacted > 400, `${compact.compacted} records compact`);
  });

  it('should merge reports into either table alike', () => {
    const report = batchReportOf(
      {day: DAY, runId: 'r1', batchId: 'b1'},
      Array.from({length: 40}, (_, i) => ({
        conversationId: uuid(i),
        metadataObject: `${ENV}/${DAY}/metadata/${uuid(i)}.json`,
        metadataStored: {generation: String(10 + i), size: i, md5Hash: md5(i), crc32c: crc(i)},
        recordings: [
          {
            recordingId: uuid(i, 1),
            type: 'call' as const,
            outcome: 'exported' as const,
            object: `${ENV}/${DAY}/call/${uuid(i)}_${uuid(i, 1)}.ogg`,
            size: i,
            md5Hash: md5(i),
            crc32c: crc(i),
            generation: String(20 + i),
          },
        ],
      })),
      {startedAt: 'a', finishedAt: 'b'},
    );
    const ref: ReportRef = {object: 'b1', generation: '1', report};
    const moved = structuredClone(ref);
    for (const c of moved.report.conversations) c.metadataStored!.generation += '1';
    const tables = () => [new CompactRecords(ENV, DAY, new IdTable()), new MapRecords()];
    const text = (t: RecordTable) => Buffer.concat([...recordsNdjson(t)]).toString();
    // As the checker does: each decision reads the records into a new table.
    const out = tables().map((first, k) => {
      new RecordsMerge(first, {runId: 'r1', status: 'failure', decidedAt: 'D1'}).add(ref);
      const t = tables()[k]!;
      parseRecordLines(text(first).split('\n').slice(0, -1), t);
      const merge = new RecordsMerge(t, {runId: 'r1', status: 'success', decidedAt: 'D2'});
      merge.add(moved);
      merge.add(moved);
      return {text: text(t), conflicts: merge.conflicts};
    });
    assert.deepStrictEqual(out[0], out[1]);
    assert.match(out[1]!.text, /"earlier":/);
  });
});
