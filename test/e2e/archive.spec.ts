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
import {asIdentity} from '../helpers';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {DayMarker, runDay, storageFor} from '../../local/run-day';
import type {BatchReport} from '../../functions/core/report';
import type {DayVerification} from '../../functions/core/verify';
import {grm} from '../../functions/ops/grm';
import {
  ARCHIVE_RETENTION_DAYS,
  declareProductDays,
  eventually,
  useProductStack,
} from '../setup/stack';

const env = LOCAL_EXPORT_ENV;
const DAY = '2026-09-14';
/** Bookkeeping tampered with: reports rewritten, markers and the ledger changed by hand. */
const BOOKS = '2026-09-15';
/** A forgery with the worker's own rights: a report rewritten after the day was _SUCCESS. */
const FORGED = '2026-09-16';
const NEVER = '2026-09-17';
const DAYS = {[DAY]: 6, [BOOKS]: 4, [FORGED]: 4};
declareProductDays('archive', DAYS);

describe('compliance archive on the local stack (retention, grm verify)', function () {
  this.timeout(300_000);
  let stack: Stack;
  let marker: DayMarker;

  before(async function () {
    this.timeout(240_000);
    stack = await useProductStack('archive', DAYS);
    for (const d of [BOOKS, FORGED, DAY]) {
      marker = (await runDay(stack, {day: d, env, timeoutMs: 150_000})).marker!;
      assert.strictEqual(marker.marker, '_SUCCESS', d);
    }
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
    return verifyDays(DAY, ...args);
  }

  async function verifyDays(
    range: string,
    ...args: string[]
  ): Promise<{code: number; days: DayVerification[]}> {
    const out: string[] = [];
    const err: string[] = [];
    // As an auditor (archive_reader_members): --deep reads the recordings themselves.
    const code = await asIdentity(stack, 'auditor', () =>
      grm(['verify', range, '--local', '--json', ...args], {
        out: l => out.push(l),
        err: l => err.push(l),
        env: stack.env,
        now: () => Date.now(),
        sleep: ms => new Promise(r => setTimeout(r, ms)),
      }),
    );
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
    // The report made to record another checksum (same size: the verdict does not change).
    const [reportBytes] = await bucket().file(report).download();
    const altered = JSON.parse(reportBytes.toString('utf8')) as BatchReport;
    const claim = altered.conversations.flatMap(c => c.recordings).find(r => r.md5Hash)!;
    claim.md5Hash = Buffer.alloc(16).toString('base64');
    await bucket().file(report).save(JSON.stringify(altered));
    // The rewritten report is an event the checker acts on: it decides the run again and
    // finds the missing metadata and the replaced recording. Verify once it has (verifying
    // before it had was a race with the checker).
    await eventually(
      'the checker deciding the run again',
      async () => ((await bucket().file(`${env}/${DAY}/_FAILURE`).exists())[0] ? true : undefined),
      60_000,
    );

    const {code, days} = await verify();
    assert.strictEqual(code, 1);
    const found = days[0]!.findings.map(f => `${f.kind} ${f.object}`).sort();
    assert.ok(found.includes(`missing ${deleted.name}`), found.join('\n'));
    assert.ok(found.includes(`extra ${extra}`), found.join('\n'));
    // The altered report is now the one the new marker pins; the marker's history shows it.
    const redecided = days[0]!.findings.filter(f => f.object === `${env}/${DAY}/_FAILURE`);
    assert.ok(
      redecided.some(f =>
        /already _SUCCESS .* decided again with a different outcome/.test(f.detail),
      ),
      redecided.map(f => f.detail).join('\n'),
    );
    const onReplaced = days[0]!.findings.filter(f => f.object === replaced.name);
    assert.deepStrictEqual(
      onReplaced.map(f => f.kind),
      ['altered', 'altered', 'altered'],
    );
    assert.match(onReplaced[0]!.detail, /content changed: size \d+ recorded, 17 now/);
    assert.match(onReplaced[1]!.detail, /replaced: generation \d+ recorded, \d+ now/);
    assert.match(onReplaced[2]!.detail, /its retention \(Locked until .*\) was removed/);
    assert.strictEqual(found.length, 8, found.join('\n'));

    const text: string[] = [];
    await asIdentity(stack, 'auditor', () =>
      grm(['verify', DAY, '--local'], {
        out: l => text.push(l),
        err: l => text.push(l),
        env: stack.env,
        now: () => Date.now(),
        sleep: async () => undefined,
      }),
    );
    assert.match(
      text.join('\n'),
      new RegExp(`^${DAY} _FAILURE \\(run \\S+\\): 8 findings \\(2 missing, 5 altered, 1 extra\\)`),
    );
  });

  describe('bookkeeping and forgeries', () => {
    const report = async (day: string) => {
      const m = JSON.parse(
        (await bucket().file(`${env}/${day}/_SUCCESS`).download())[0].toString('utf8'),
      ) as DayMarker;
      return {marker: m, name: m.reports[0]!.object};
    };
    const kinds = (v: DayVerification) => v.findings.map(f => `${f.kind} ${f.object}`);

    it('should verify every day of a range, a never-decided one as missing', async () => {
      const {code, days} = await verifyDays(`${BOOKS}..${NEVER}`);
      assert.strictEqual(code, 1);
      assert.deepStrictEqual(
        days.map(d => [d.day, d.intact]),
        [
          [BOOKS, true],
          [FORGED, true],
          [NEVER, false],
        ],
      );
      assert.deepStrictEqual(kinds(days[2]!), [`missing ${env}/${NEVER}/_SUCCESS`]);
      assert.match(days[2]!.findings[0]!.detail, /never decided/);
      assert.ok(days[0]!.retention!.retained > 0 && days[0]!.retention!.unretained === 0);
    });

    it('should refuse a reversed range as a usage error', async () => {
      const err: string[] = [];
      const code = await grm(['verify', `${NEVER}..${BOOKS}`, '--local'], {
        out: () => undefined,
        err: l => err.push(l),
        env: stack.env,
        now: () => Date.now(),
        sleep: async () => undefined,
      });
      assert.strictEqual(code, 2);
      assert.deepStrictEqual(err, [`grm verify: FROM ${NEVER} is after TO ${BOOKS}`]);
    });

    it('should find nothing wrong when a report is rewritten with the same record (a redelivery)', async () => {
      const {name} = await report(BOOKS);
      const [bytes] = await bucket().file(name).download();
      const rewritten = JSON.parse(bytes.toString('utf8')) as BatchReport;
      rewritten.attempt += 1;
      rewritten.finishedAt = new Date().toISOString();
      rewritten.conversations.reverse();
      await bucket().file(name).save(JSON.stringify(rewritten));
      const {code, days} = await verifyDays(BOOKS);
      assert.deepStrictEqual(days[0]!.findings, []);
      assert.strictEqual(code, 0);
    });

    it('should call a day whose run was decided again after _SUCCESS altered (a forged report)', async () => {
      const before = await report(FORGED);
      const [bytes] = await bucket().file(before.name).download();
      const forged = JSON.parse(bytes.toString('utf8')) as BatchReport;
      forged.conversations[0]!.recordings.push({
        recordingId: '00000000-0000-4000-8000-0000000000aa',
        type: 'call',
        outcome: 'skipped',
        reason: 'forged',
      });
      await bucket().file(before.name).save(JSON.stringify(forged));
      // The checker decides again from the forged report: a new _SUCCESS, the first in its history.
      const after = await eventually(
        'the day decided again',
        async () => {
          const now = await report(FORGED);
          return now.marker.fingerprint !== before.marker.fingerprint ? now : undefined;
        },
        60_000,
      );
      const {code, days} = await verifyDays(FORGED);
      assert.strictEqual(code, 1);
      const redecided = days[0]!.findings.find(f => f.object === `${env}/${FORGED}/_SUCCESS`);
      assert.ok(redecided, kinds(days[0]!).join('\n'));
      assert.match(redecided.detail, /already _SUCCESS .* decided again with a different outcome/);
      assert.strictEqual(after.marker.history?.[0]?.status, 'success');
    });

    it('should catch a recording replaced and its report made to record the new object', async () => {
      const before = await report(FORGED);
      const [bytes] = await bucket().file(before.name).download();
      const r = JSON.parse(bytes.toString('utf8')) as BatchReport;
      const rec = r.conversations.flatMap(c => c.recordings).find(x => x.outcome === 'exported')!;
      const file = bucket().file(rec.object!);
      // Versioning on: the retained original becomes noncurrent, the forgery is live.
      await file.save(Buffer.from('forged recording'));
      const [md] = await file.getMetadata();
      Object.assign(rec, {
        generation: String(md.generation),
        size: Number(md.size),
        md5Hash: md.md5Hash,
        crc32c: md.crc32c,
      });
      delete rec.retention;
      await bucket().file(before.name).save(JSON.stringify(r));
      // Its size changed the totals: the checker decides again and pins the forged report.
      await eventually(
        'the day decided again',
        async () => {
          const now = await report(FORGED);
          return now.marker.fingerprint !== before.marker.fingerprint ? now : undefined;
        },
        60_000,
      );
      const {days} = await verifyDays(FORGED);
      const onIt = days[0]!.findings.filter(f => f.object === rec.object);
      assert.deepStrictEqual(
        onIt.map(f => f.kind),
        ['altered'],
        onIt.map(f => f.detail).join('\n'),
      );
      assert.match(
        onIt[0]!.detail,
        /generation \d+, checked when it was exported, was replaced or deleted at .*; the reports now record generation/,
      );
    });

    it('should report unreadable or hand-made bookkeeping as findings, never stop', async () => {
      const success = bucket().file(`${env}/${BOOKS}/_SUCCESS`);
      const [bytes] = await success.download();
      const m = JSON.parse(bytes.toString('utf8')) as DayMarker;
      // A _SUCCESS edited by hand: its totals and its reports no longer the checker's.
      m.totals.all.exported += 1;
      m.reports.push({
        batchId: 'b9999',
        object: 'elsewhere.json',
        generation: 'x',
        status: 'complete',
      });
      await success.save(JSON.stringify(m));
      await bucket().file(`${env}/${BOOKS}/_manifest/decision.json`).save('not json');
      const {code, days} = await verifyDays(BOOKS);
      assert.strictEqual(code, 1);
      const details = days[0]!.findings.map(f => `${f.kind} ${f.object}: ${f.detail}`).join('\n');
      assert.match(details, /altered .*decision\.json: unreadable/);
      assert.match(details, /altered .*_SUCCESS: not the checker's decision/);
      assert.match(details, /_SUCCESS: it names \d+ reports \(1 malformed\)/);
      assert.match(details, /_SUCCESS: it says \d+ recordings .* its reports record/);
      // A newer run planned: its writes may still come, so the day says so.
      const plan = bucket().file(`${env}/${BOOKS}/_manifest/plan.json`);
      const [planBytes] = await plan.download();
      await plan.save(
        JSON.stringify({...JSON.parse(planBytes.toString('utf8')), runId: 'r-newer'}),
      );
      const running = (await verifyDays(BOOKS)).days[0]!;
      assert.ok(
        running.findings.some(
          f => f.kind === 'unverifiable' && /run r-newer .* is not decided yet/.test(f.detail),
        ),
      );
      await plan.save(planBytes);
      // Only a _FAILURE left: verified as far as it records, and a finding itself.
      await bucket().file(`${env}/${BOOKS}/_FAILURE`).save(bytes);
      await success.delete();
      const failed = (await verifyDays(BOOKS)).days[0]!;
      assert.strictEqual(failed.marker, '_FAILURE');
      assert.ok(kinds(failed).includes(`missing ${env}/${BOOKS}/_SUCCESS`));
    });

    it('should name every object without a retention with --require-retention', async () => {
      const plain = (await verifyDays(DAY, '--require-retention')).days[0]!;
      assert.strictEqual(
        plain.findings.filter(f => f.kind === 'unretained').length,
        0,
        'every object of the archive day was retained',
      );
      const {name} = await report(FORGED);
      const r = JSON.parse(
        (await bucket().file(name).download())[0].toString('utf8'),
      ) as BatchReport;
      const rec = r.conversations
        .flatMap(c => c.recordings)
        .find(x => x.outcome === 'exported' && x.retention);
      assert.ok(rec);
      const forged = (await verifyDays(FORGED, '--require-retention')).days[0]!;
      assert.ok(
        forged.findings.some(f => f.kind === 'unretained'),
        'the forged report dropped one',
      );
    });
  });
});
