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
import {DayMarker, readJson, runDay, storageFor} from '../../local/run-day';
import type {DayPlan} from '../../functions/core/day-plan';
import type {Ledger} from '../../functions/core/ledger';
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
/** Tampered with the worker's rights only: a metadata document and its report, twice. */
const TAMPERED = '2026-09-18';
/** Its batches exported again after _SUCCESS (twice), then its recordings index edited. */
const REPLAYED = '2026-09-19';
const DAYS = {[DAY]: 6, [BOOKS]: 4, [FORGED]: 4, [TAMPERED]: 4, [REPLAYED]: 4};
declareProductDays('archive', DAYS);

describe('compliance archive on the local stack (retention, grm verify)', function () {
  this.timeout(300_000);
  let stack: Stack;
  let marker: DayMarker;

  before(async function () {
    this.timeout(240_000);
    stack = await useProductStack('archive', DAYS);
    for (const d of [BOOKS, FORGED, TAMPERED, REPLAYED, DAY]) {
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
    const claimed = claim.object!;
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
        /already _SUCCESS .* decided again: _FAILURE decided .*rewritten after the day was complete/.test(
          f.detail,
        ),
      ),
      redecided.map(f => f.detail).join('\n'),
    );
    const onReplaced = days[0]!.findings.filter(f => f.object === replaced.name);
    const said = onReplaced.map(f => f.detail).join('\n');
    assert.ok(
      onReplaced.every(f => f.kind === 'altered'),
      said,
    );
    assert.match(said, /content changed: size \d+ recorded, 17 now/);
    assert.match(
      said,
      /replaced: generation \d+ recorded, \d+ now; the recorded generation \d+ is still held as noncurrent, unchanged/,
    );
    assert.match(said, /its retention \(Locked until .*\) was removed/);
    // The claim the report was made to record is not the day's record of it.
    const onClaim = days[0]!.findings.filter(f => f.object === claimed);
    assert.ok(
      onClaim.some(f => /records generation \d+ .*; the day's record is generation/.test(f.detail)),
      onClaim.map(f => f.detail).join('\n'),
    );
    assert.strictEqual(found.length, 9, found.join('\n'));

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
      new RegExp(`^${DAY} _FAILURE \\(run \\S+\\): 9 findings \\(2 missing, 6 altered, 1 extra\\)`),
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
      assert.match(
        redecided.detail,
        /already _SUCCESS .* decided again: _SUCCESS decided \S+ from /,
      );
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
      const details = onIt.map(f => f.detail).join('\n');
      assert.ok(
        onIt.every(f => f.kind === 'altered'),
        details,
      );
      // The proof is the first record, not the report the forger rewrote.
      assert.match(
        details,
        /records generation \d+ \(16 bytes.*; the day's record is generation \d+/,
      );
      assert.match(details, /content changed: size \d+ recorded, 16 now/);
      assert.match(details, /the recorded generation \d+ is still held as noncurrent, unchanged/);
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
      // The forged report dropped a retention; the decided record keeps it, and the object
      // it names lost it.
      const forged = (await verifyDays(FORGED, '--require-retention')).days[0]!;
      assert.ok(!forged.findings.some(f => f.kind === 'unretained'), 'the record is retained');
      assert.ok(
        forged.findings.some(
          f => f.kind === 'altered' && /its retention .* was removed/.test(f.detail),
        ),
        forged.findings.map(f => f.detail).join('\n'),
      );
    });
  });

  describe('a worker-level tamperer, and replays that change nothing', () => {
    const worker = () => storageFor(stack, 'worker').bucket(stack.bucket);
    const download = async (name: string) =>
      JSON.parse((await worker().file(name).download())[0].toString('utf8')) as unknown;
    const markerOf = async (day: string, name: '_SUCCESS' | '_FAILURE') =>
      readJson<DayMarker>(stack, `${env}/${day}/${name}`);
    const ledgerOf = (day: string) =>
      readJson<Ledger>(stack, `${env}/${day}/_manifest/decision.json`);
    const settled = async (day: string, want: '_SUCCESS' | '_FAILURE', fingerprint?: string) =>
      eventually(
        `${day} ${want}`,
        async () => {
          const [m, l] = await Promise.all([markerOf(day, want), ledgerOf(day)]);
          const ok =
            m &&
            l?.fingerprint === m.fingerprint &&
            (fingerprint === undefined || m.fingerprint === fingerprint) &&
            (l.email.state === 'sent' || l.email.state === 'not-needed') &&
            l.index !== undefined;
          return ok ? m : undefined;
        },
        90_000,
      );
    const kinds = (v: DayVerification) => v.findings.map(f => `${f.kind} ${f.object}`);

    it('should catch a metadata document rewritten and its report rewritten twice (_SUCCESS, _FAILURE, _SUCCESS, same fingerprint), under locked retention', async () => {
      const first = (await markerOf(TAMPERED, '_SUCCESS'))!;
      const reportName = first.reports[0]!.object;
      const original = (await download(reportName)) as BatchReport;
      const conv = original.conversations.find(c => c.metadataObject && c.metadataStored)!;
      const metaName = conv.metadataObject!;
      // 1. The metadata document rewritten with other content, retained as the original was.
      const doc = (await download(metaName)) as Record<string, unknown>;
      const meta = worker().file(metaName);
      await meta.save(JSON.stringify({...doc, conversation: {forged: true}}, null, 2), {
        resumable: false,
        metadata: {contentType: 'application/json', retention: conv.metadataStored!.retention},
      });
      const [md] = await meta.getMetadata();
      // 2. The report rewritten with one forged failure: the day goes _FAILURE.
      const failing = structuredClone(original);
      const victim = failing.conversations
        .flatMap(c => c.recordings)
        .find(r => r.outcome === 'exported')!;
      for (const k of [
        'object',
        'contentType',
        'size',
        'md5Hash',
        'crc32c',
        'generation',
        'retention',
      ])
        delete (victim as unknown as Record<string, unknown>)[k];
      Object.assign(victim, {outcome: 'failed', reason: 'forged'});
      await worker().file(reportName).save(JSON.stringify(failing), {resumable: false});
      await settled(TAMPERED, '_FAILURE');
      // 3. Rewritten again: the original outcomes, recording the new copy of the document.
      const covering = structuredClone(original);
      covering.conversations.find(c => c.conversationId === conv.conversationId)!.metadataStored = {
        generation: String(md.generation),
        size: Number(md.size),
        md5Hash: md.md5Hash!,
        crc32c: md.crc32c!,
        ...(md.retention
          ? {
              retention: {
                mode: md.retention.mode as 'Locked',
                retainUntilTime: md.retention.retainUntilTime!,
              },
            }
          : {}),
      };
      await worker().file(reportName).save(JSON.stringify(covering), {resumable: false});
      const last = await settled(TAMPERED, '_SUCCESS', first.fingerprint);
      assert.strictEqual(last.fingerprint, first.fingerprint, 'the same outcome as the first');

      const {code, days} = await verifyDays(TAMPERED, '--deep', '--require-retention');
      assert.strictEqual(code, 1);
      const v = days[0]!;
      assert.strictEqual(v.proof, 'decided records');
      const onMeta = v.findings.filter(f => f.object === metaName).map(f => f.detail);
      assert.ok(
        onMeta.some(d =>
          /replaced: generation \d+ recorded, \d+ now; the recorded generation \d+ is still held as noncurrent, unchanged/.test(
            d,
          ),
        ),
        onMeta.join('\n'),
      );
      assert.ok(
        onMeta.some(d => /records generation \d+ .*; the day's record is generation/.test(d)),
        onMeta.join('\n'),
      );
      const history = v.findings.find(f => f.object === `${env}/${TAMPERED}/_SUCCESS`);
      assert.ok(history, kinds(v).join('\n'));
      assert.match(
        history.detail,
        new RegExp(
          `already _SUCCESS .* decided again: _FAILURE decided \\S+ from ${reportName.replace(/[.]/g, '\\.')}#\\d+; then _SUCCESS`,
        ),
      );
    });

    /** Publishes every batch of the day's run again, as new messages, and waits for their reports. */
    async function exportAgain(day: string): Promise<void> {
      const plan = (await readJson<DayPlan>(stack, `${env}/${day}/_manifest/plan.json`))!;
      const before = await ledgerOf(day);
      const generations = async () =>
        Promise.all(
          plan.batches.map(async b => {
            const name = `${env}/${day}/_manifest/runs/${plan.runId}/batches/${b.batchId}.json`;
            return String((await bucket().file(name).getMetadata())[0].generation);
          }),
        );
      const was = await generations();
      const {PubSub} = await import('@google-cloud/pubsub');
      const ps = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
      try {
        for (const b of plan.batches)
          await ps.topic(stack.topic).publishMessage({
            json: {day, runId: plan.runId, batchId: b.batchId, conversationIds: b.conversationIds},
          });
      } finally {
        await ps.close();
      }
      await eventually(
        'every report written again',
        async () => ((await generations()).every((g, i) => g !== was[i]) ? true : undefined),
        90_000,
      );
      // The checker takes the rewritten reports as the same outcome: a new basis, same fingerprint.
      await eventually(
        'the ledger on the new reports',
        async () => {
          const now = await ledgerOf(day);
          const [index] = await bucket()
            .file(`${env}/_index/day=${day}/recordings.ndjson`)
            .getMetadata();
          // The index of the new reports (its basis), and the ledger noting that generation.
          return now &&
            now.basis !== before?.basis &&
            index.metadata?.basis === now.basis &&
            now.index?.generation === String(index.generation)
            ? now
            : undefined;
        },
        90_000,
      );
    }

    it('should leave a _SUCCESS day intact when its batches are exported again, twice', async () => {
      const first = (await markerOf(REPLAYED, '_SUCCESS'))!;
      await exportAgain(REPLAYED);
      await exportAgain(REPLAYED);
      const now = (await markerOf(REPLAYED, '_SUCCESS'))!;
      assert.strictEqual(now.fingerprint, first.fingerprint);
      const {code, days} = await verifyDays(REPLAYED, '--deep');
      assert.deepStrictEqual(days[0]!.findings, []);
      assert.strictEqual(code, 0);
    });

    it('should catch an edited recordings index, and the checker should write its own again', async () => {
      const name = `${env}/_index/day=${REPLAYED}/recordings.ndjson`;
      const index = bucket().file(name);
      const [bytes] = await index.download();
      const [md] = await index.getMetadata();
      const rows = bytes.toString('utf8').trim().split('\n');
      const exported = rows.findIndex(
        r => (JSON.parse(r) as {outcome: string}).outcome === 'exported',
      );
      const edited = rows.filter((_, i) => i !== exported);
      // An administrator's edit that keeps the checker's custom metadata.
      await index.save(`${edited.join('\n')}\n`, {
        resumable: false,
        metadata: {metadata: md.metadata},
      });
      const {code, days} = await verifyDays(REPLAYED);
      assert.strictEqual(code, 1);
      const details = days[0]!.findings.filter(f => f.object === name).map(f => f.detail);
      assert.ok(
        details.some(d => /is not the one the checker wrote/.test(d)),
        details.join('\n'),
      );
      assert.ok(
        details.some(d => /no exported row for .*, which a decision recorded/.test(d)),
        details.join('\n'),
      );
      // The checker's next event of the day finds the index is not its own and writes it again.
      await exportAgain(REPLAYED);
      const again = await verifyDays(REPLAYED);
      assert.deepStrictEqual(again.days[0]!.findings, []);
    });
  });
});
