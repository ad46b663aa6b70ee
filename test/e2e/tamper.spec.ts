/**
 * `grm verify` against an administrator who replaces a recording's bytes at
 * the same size, deletes the original generation (possible where retention
 * is off) and has the worker's report record the new object: the day's
 * decided records, which only the checker writes, still hold the MD5 first
 * recorded, so the replacement is found (from GCS' checksums, and with
 * `--deep` from the bytes).
 */
import * as assert from 'node:assert';
import {randomBytes} from 'node:crypto';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {readJson, runDay, storageFor} from '../../local/run-day';
import type {BatchReport} from '../../functions/core/report';
import type {DayVerification} from '../../functions/core/verify';
import type {Ledger} from '../../functions/core/ledger';
import {grm} from '../../functions/ops/grm';
import {asIdentity} from '../helpers';
import {declareProductDays, eventually, useProductStack} from '../setup/stack';

const env = LOCAL_EXPORT_ENV;
const DAY = '2026-08-11';
declareProductDays('clean', {[DAY]: 6});

describe('grm verify against a recording replaced at the same size, its original deleted', function () {
  this.timeout(240_000);
  let stack: Stack;

  before(async function () {
    this.timeout(200_000);
    stack = await useProductStack('clean', {[DAY]: 6});
    const {marker} = await runDay(stack, {day: DAY, env, timeoutMs: 150_000});
    assert.strictEqual(marker?.marker, '_SUCCESS');
  });

  async function verify(...args: string[]): Promise<{code: number; day: DayVerification}> {
    const out: string[] = [];
    const code = await asIdentity(stack, 'auditor', () =>
      grm(['verify', DAY, '--local', '--json', ...args], {
        out: l => out.push(l),
        err: l => out.push(l),
        env: stack.env,
        now: () => Date.now(),
        sleep: ms => new Promise(r => setTimeout(r, ms)),
      }),
    );
    return {code, day: (JSON.parse(out.join('\n')) as DayVerification[])[0]!};
  }

  it('should find the replacement although the report was made to record it', async () => {
    assert.strictEqual((await verify('--deep')).code, 0, 'intact before');
    const owner = storageFor(stack).bucket(stack.bucket);
    const worker = storageFor(stack, 'worker').bucket(stack.bucket);
    const marker = (await readJson<{reports: Array<{object: string}>}>(
      stack,
      `${env}/${DAY}/_SUCCESS`,
    ))!;
    const reportName = marker.reports.find(() => true)!.object;
    const report = JSON.parse(
      (await worker.file(reportName).download())[0].toString('utf8'),
    ) as BatchReport;
    const rec = report.conversations
      .flatMap(c => c.recordings)
      .find(r => r.outcome === 'exported' && r.type === 'call')!;
    // The administrator: new bytes of the same size, the original generation deleted.
    const file = owner.file(rec.object!);
    await file.save(randomBytes(rec.size!), {resumable: false});
    await owner.file(rec.object!, {generation: Number(rec.generation)}).delete();
    const [md] = await file.getMetadata();
    assert.strictEqual(Number(md.size), rec.size, 'the same size');
    // The worker's rights suffice to make the marker pin a report that records the new
    // object: a forged failure first (a new decision), then the original outcomes again.
    const decided = (status: Ledger['status']) =>
      eventually(
        `the day ${status}`,
        async () => {
          const now = await readJson<Ledger>(stack, `${env}/${DAY}/_manifest/decision.json`);
          return now?.status === status && now.index ? now : undefined;
        },
        60_000,
      );
    const failing = structuredClone(report);
    const victim = failing.conversations
      .flatMap(c => c.recordings)
      .find(r => r.object === rec.object)!;
    failing.conversations.forEach(c => {
      c.recordings = c.recordings.map(r =>
        r === victim
          ? {recordingId: r.recordingId, type: r.type, outcome: 'failed', reason: 'forged'}
          : r,
      );
    });
    await worker.file(reportName).save(JSON.stringify(failing), {resumable: false});
    await decided('failure');
    Object.assign(rec, {generation: String(md.generation), md5Hash: md.md5Hash, crc32c: md.crc32c});
    await worker.file(reportName).save(JSON.stringify(report), {resumable: false});
    await decided('success');

    for (const args of [[], ['--deep']]) {
      const {code, day} = await verify(...args);
      assert.strictEqual(code, 1, args.join(' '));
      const said = day.findings
        .filter(f => f.object === rec.object)
        .map(f => `${f.kind}: ${f.detail}`)
        .join('\n');
      assert.match(said, /altered: content changed: MD5 \S+ recorded, \S+ now/);
      assert.match(
        said,
        /replaced: generation \d+ recorded, \d+ now; the recorded generation \d+ is gone/,
      );
      assert.match(said, /report \S+ records generation \d+ .*; the day's record is generation/);
    }
  });
});
