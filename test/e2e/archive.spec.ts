/**
 * The compliance archive end to end on the local stack: a bucket made as
 * infra/storage.tf makes it with retention on (versioning, object retention
 * enabled), a worker with RETENTION_DAYS. Every recording and metadata object
 * of a day is created retained; the emulator refuses to delete a retained
 * generation; `grm verify` passes the intact day (also `--deep`) and catches
 * each tampering: bytes replaced under the same name, an object deleted, an
 * extra object, a report altered, and bytes changed behind GCS' checksums
 * (only `--deep` can see that).
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {DayMarker, runDay, storageFor} from '../../local/run-day';
import type {BatchReport} from '../../functions/core/report';
import type {DayVerification} from '../../functions/core/verify';
import {grm} from '../../functions/ops/grm';
import {ARCHIVE_RETENTION_DAYS, declareProductDays, useProductStack} from '../setup/stack';

const env = LOCAL_EXPORT_ENV;
const DAY = '2026-09-14';
declareProductDays('archive', {[DAY]: 6});

describe('compliance archive on the local stack (retention, grm verify)', function () {
  this.timeout(300_000);
  let stack: Stack;
  let marker: DayMarker;

  before(async function () {
    this.timeout(240_000);
    stack = await useProductStack('archive', {[DAY]: 6});
    marker = (await runDay(stack, {day: DAY, env, timeoutMs: 150_000})).marker!;
    assert.strictEqual(marker.marker, '_SUCCESS');
  });

  const bucket = () => storageFor(stack).bucket(stack.bucket);
  const exportFolders = ['call', 'chat', 'email', 'message', 'screen', 'metadata'].map(
    f => `${env}/${DAY}/${f}/`,
  );
  async function exported() {
    const lists = await Promise.all(exportFolders.map(prefix => bucket().getFiles({prefix})));
    return lists.flatMap(([files]) => files);
  }

  async function verify(...args: string[]): Promise<{code: number; days: DayVerification[]}> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await grm(['verify', DAY, '--local', '--json', ...args], {
      out: l => out.push(l),
      err: l => err.push(l),
      env: stack.env,
      now: () => Date.now(),
      sleep: ms => new Promise(r => setTimeout(r, ms)),
    });
    assert.deepStrictEqual(err, [], 'no error output');
    return {code, days: JSON.parse(out.join('\n')) as DayVerification[]};
  }

  it('should create every recording and metadata object with the configured retention, recorded in its report', async () => {
    const files = await exported();
    assert.ok(files.length >= 12, `${files.length} objects`);
    for (const f of files) {
      const r = f.metadata.retention;
      assert.ok(r, `${f.name} has a retention`);
      assert.strictEqual(r.mode, 'Locked', f.name);
      const days =
        (Date.parse(r.retainUntilTime!) - Date.parse(f.metadata.timeCreated!)) / 86_400_000;
      assert.ok(Math.abs(days - ARCHIVE_RETENTION_DAYS) < 0.01, `${f.name}: ${days} days`);
    }
    const ref = marker.reports[0]!;
    const [bytes] = await bucket().file(ref.object).download();
    const report = JSON.parse(bytes.toString('utf8')) as BatchReport;
    const rec = report.conversations
      .flatMap(c => c.recordings)
      .find(r => r.outcome === 'exported')!;
    const [md] = await bucket().file(rec.object!).getMetadata();
    assert.deepStrictEqual(rec.retention, {
      mode: md.retention!.mode,
      retainUntilTime: md.retention!.retainUntilTime,
    });
    assert.strictEqual(rec.generation, String(md.generation));
    const meta = report.conversations.find(c => c.metadataStored)!;
    assert.ok(meta.metadataStored!.retention, 'the metadata document is retained too');
  });

  it('should refuse to delete a retained generation, with GCS 403 retentionPolicyNotMet', async () => {
    const [f] = await exported();
    const pinned = bucket().file(f!.name, {generation: Number(f!.metadata.generation)});
    await assert.rejects(
      pinned.delete(),
      (e: {code?: number; errors?: Array<{reason?: string}>}) => {
        assert.strictEqual(e.code, 403);
        assert.strictEqual(e.errors?.[0]?.reason, 'retentionPolicyNotMet');
        return true;
      },
    );
  });

  it('should find the intact day intact, from GCS checksums and from the bytes (--deep)', async () => {
    for (const args of [[], ['--deep']]) {
      const {code, days} = await verify(...args);
      assert.deepStrictEqual(days[0]!.findings, [], args.join(' '));
      assert.strictEqual(code, 0);
      assert.strictEqual(days[0]!.marker, '_SUCCESS');
      assert.strictEqual(days[0]!.objects, (await exported()).length);
      assert.strictEqual(days[0]!.deep, args.length > 0);
    }
  });

  it('should catch bytes changed behind GCS’ checksums only with --deep', async () => {
    const target = (await exported()).find(f => f.name.includes('/call/'))!;
    const file = path.join(stack.dirs.gcsData, stack.bucket, ...target.name.split('/'));
    const original = fs.readFileSync(file);
    const flipped = Buffer.from(original);
    const middle = flipped.length >> 1;
    flipped[middle] = flipped[middle]! ^ 0xff;
    fs.writeFileSync(file, flipped);
    try {
      assert.strictEqual((await verify()).code, 0, 'GCS metadata still vouches for it');
      const {code, days} = await verify('--deep');
      assert.strictEqual(code, 1);
      assert.deepStrictEqual(
        days[0]!.findings.map(f => [f.kind, f.object]),
        [['altered', target.name]],
      );
      assert.match(days[0]!.findings[0]!.detail, /bytes read back differ: MD5 of the bytes/);
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  it('should catch a replaced, a deleted and an extra object, and an altered report', async () => {
    const files = await exported();
    const replaced = files.find(f => f.name.includes('/call/'))!;
    const deleted = files.find(f => f.name.includes('/metadata/'))!;
    const extra = `${env}/${DAY}/chat/00000000-0000-4000-8000-000000000000_forged.json`;
    const report = marker.reports[marker.reports.length - 1]!.object;
    // Versioning is on: the retained generations become noncurrent and stay, as in GCS.
    await bucket().file(replaced.name).save(Buffer.from('not the recording'));
    await bucket().file(deleted.name).delete();
    await bucket().file(extra).save(Buffer.from('[]'));
    const [reportBytes] = await bucket().file(report).download();
    await bucket().file(report).save(reportBytes); // same content, new generation

    const {code, days} = await verify();
    assert.strictEqual(code, 1);
    const found = days[0]!.findings.map(f => `${f.kind} ${f.object}`).sort();
    assert.ok(found.includes(`missing ${deleted.name}`), found.join('\n'));
    assert.ok(found.includes(`extra ${extra}`), found.join('\n'));
    assert.ok(found.includes(`altered ${report}`), found.join('\n'));
    const onReplaced = days[0]!.findings.filter(f => f.object === replaced.name);
    assert.deepStrictEqual(
      onReplaced.map(f => f.kind),
      ['altered', 'altered', 'altered'],
    );
    assert.match(onReplaced[0]!.detail, /content changed: size \d+ recorded, 17 now/);
    assert.match(onReplaced[1]!.detail, /replaced: generation \d+ recorded, \d+ now/);
    assert.match(onReplaced[2]!.detail, /its retention \(Locked until .*\) was removed/);
    assert.strictEqual(found.length, 6, found.join('\n'));

    const text: string[] = [];
    await grm(['verify', DAY, '--local'], {
      out: l => text.push(l),
      err: l => text.push(l),
      env: stack.env,
      now: () => Date.now(),
      sleep: async () => undefined,
    });
    assert.match(
      text.join('\n'),
      new RegExp(`^${DAY} _SUCCESS \\(run \\S+\\): 6 findings \\(1 missing, 4 altered, 1 extra\\)`),
    );
  });
});
