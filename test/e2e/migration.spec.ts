/**
 * A history migration on the real stack: `grm migrate FROM..TO` starts it,
 * the every-minute tick (here every few hundred ms) runs it to the end by
 * itself, a day already `_SUCCESS` is skipped, a nightly day planned
 * mid-way goes first, pause holds it, every migrated day ends `_SUCCESS`
 * with each recording exported once, and the developers get the
 * migration's summary instead of an email a day.
 */
import * as assert from 'node:assert';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {
  callPlanner,
  readJson,
  runDay,
  runGrmLine,
  startMigrationTicker,
  storageFor,
  waitForMarker,
} from '../../local/run-day';
import type {MigrationRecord} from '../../functions/core/migration';
import type {BatchReport} from '../../functions/core/report';
import {migrationObjectName} from '../../functions/core/object-names';
import {declareProductDays, eventually, useProductStack} from '../setup/stack';

const env = LOCAL_EXPORT_ENV;
const SPAN = ['2026-05-01', '2026-05-02', '2026-05-03', '2026-05-04', '2026-05-05'];
const DONE_BEFORE = '2026-05-02';
const NIGHTLY = '2026-05-20';
const PER_DAY = Object.fromEntries([...SPAN.map(d => [d, 12]), [NIGHTLY, 30]]) as Record<
  string,
  number
>;
declareProductDays('clean', PER_DAY);

async function record(stack: Stack): Promise<MigrationRecord | undefined> {
  return readJson<MigrationRecord>(stack, migrationObjectName(env));
}

async function reportsOf(stack: Stack, day: string, runId: string): Promise<BatchReport[]> {
  const [files] = await storageFor(stack)
    .bucket(stack.bucket)
    .getFiles({prefix: `${env}/${day}/_manifest/runs/${runId}/batches/`});
  return Promise.all(
    files.map(async f => JSON.parse((await f.download())[0].toString()) as BatchReport),
  );
}

describe('grm migrate: a span of history below the nightly run', function () {
  this.timeout(300_000);
  let stack: Stack;

  before(async function () {
    this.timeout(200_000);
    stack = await useProductStack('clean', PER_DAY);
    const first = await runDay(stack, {day: DONE_BEFORE, env, timeoutMs: 120_000});
    assert.strictEqual(first.marker?.marker, '_SUCCESS');
  });

  it('should refuse a bad request precisely and keep nothing of it', async () => {
    const res = await callPlanner(
      stack,
      {migration: {action: 'start', from: '2026-05-05', to: '2026-05-01'}},
      {},
      'operator',
    );
    assert.strictEqual(res.status, 400);
    assert.match(
      String(res.body.error),
      /"migration.to" \(2026-05-01\) is before "migration.from"/,
    );
    const mixed = await callPlanner(
      stack,
      {migration: {action: 'tick'}, day: '2026-05-01'},
      {},
      'operator',
    );
    assert.strictEqual(mixed.status, 400);
    assert.match(String(mixed.body.error), /"migration" goes alone/);
    assert.strictEqual(await record(stack), undefined);
  });

  it('should run the span to the end unattended, the nightly day first, each day exported once', async () => {
    const started = await runGrmLine(stack, `grm migrate ${SPAN[0]}..${SPAN.at(-1)}`);
    assert.strictEqual(started.code, 0, started.err);
    assert.match(started.out, /Migration m\S+ started: 2026-05-01 to 2026-05-05, 5 days/);
    const again = await runGrmLine(stack, `grm migrate ${SPAN[0]}..${SPAN.at(-1)}`);
    assert.strictEqual(again.code, 1);
    assert.match(again.out, /is running; cancel it first/);

    // Paused before the first tick: nothing moves.
    assert.strictEqual((await runGrmLine(stack, 'grm migrate pause')).code, 0);
    const paused = startMigrationTicker(stack, 200);
    await eventually('a few ticks', async () =>
      (await record(stack))!.updatedAt ? true : undefined,
    );
    await new Promise(r => setTimeout(r, 1000));
    const heldSteps = await paused.stop();
    assert.ok(heldSteps.length >= 2, `ticks ran: ${JSON.stringify(heldSteps)}`);
    assert.ok(
      heldSteps.every(s => s.status === 200 && s.step === 'waiting: paused'),
      JSON.stringify(heldSteps),
    );
    assert.deepStrictEqual((await record(stack))!.planned, []);
    assert.strictEqual((await runGrmLine(stack, 'grm migrate resume')).code, 0);

    const ticker = startMigrationTicker(stack, 300);
    try {
      // Once the migration is under way, the nightly day is planned: it goes first.
      await eventually(
        'the first migrated day',
        async () => ((await record(stack))!.planned.length >= 1 ? true : undefined),
        30_000,
      );
      const nightly = await runDay(stack, {day: NIGHTLY, env, timeoutMs: 120_000});
      assert.strictEqual(nightly.marker?.marker, '_SUCCESS');
      const done = await eventually(
        'the migration to finish',
        async () => {
          const r = await record(stack);
          return r?.state === 'done' ? r : undefined;
        },
        200_000,
        500,
      );
      assert.deepStrictEqual(
        done.planned.sort(),
        SPAN.filter(d => d !== DONE_BEFORE),
      );
      assert.strictEqual(done.skipped, 1);
      assert.deepStrictEqual(done.failed ?? [], []);
      const calls = Object.values(done.calls).reduce((a, b) => a + b, 0);
      assert.ok(calls > 0, 'the workers counted their Genesys calls');

      // The nightly day's window: no migration batch started while it was undecided, but for
      // those already published (at most MIGRATION_OUTSTANDING_BATCHES, 2).
      const plannedAt = Date.parse(
        (await readJson<{createdAt: string}>(stack, `${env}/${NIGHTLY}/_manifest/plan.json`))!
          .createdAt,
      );
      const decidedAt = Date.parse(
        (await readJson<{decidedAt: string}>(stack, `${env}/${NIGHTLY}/_manifest/decision.json`))!
          .decidedAt,
      );
      let during = 0;
      for (const day of done.planned) {
        const {runId} = (await readJson<{runId: string}>(
          stack,
          `${env}/${day}/_manifest/plan.json`,
        ))!;
        const {marker} = await waitForMarker(stack, env, day, {runId});
        assert.strictEqual(marker.marker, '_SUCCESS', `${day} is _SUCCESS`);
        for (const r of await reportsOf(stack, day, runId)) {
          const t = Date.parse(r.startedAt);
          if (t > plannedAt && t < decidedAt) during++;
          assert.strictEqual(r.attempt, 1, `${day} ${r.batchId} ran once`);
          assert.ok((r.genesysRequests ?? 0) > 0);
        }
        // Exported once: no recording or document has a replaced generation.
        const [versions] = await storageFor(stack)
          .bucket(stack.bucket)
          .getFiles({prefix: `${env}/${day}/call/`, versions: true});
        const names = versions.map(v => v.name);
        assert.strictEqual(
          new Set(names).size,
          names.length,
          `${day}: one generation per recording`,
        );
      }
      assert.ok(
        during <= 2,
        `${during} migration batches started while the nightly day was undecided`,
      );
    } finally {
      await ticker.stop();
    }

    // One summary, no email per migrated day.
    const res = await fetch(`${stack.sendgridUrl}/_admin/mail`);
    const {mail} = (await res.json()) as {mail: Array<{subject: string}>};
    assert.ok(
      mail.some(m => /History migration m\S+ is done: 2026-05-01 to 2026-05-05/.test(m.subject)),
    );
    for (const day of SPAN)
      assert.ok(!mail.some(m => m.subject.includes(` ${day}:`)), `no email about ${day}`);

    const status = await runGrmLine(stack, 'grm migrate status');
    assert.strictEqual(status.code, 0, status.err);
    assert.match(status.out, /, done\n/);
    assert.match(
      status.out,
      /Days: 4 _SUCCESS, 0 _FAILURE, 0 running, 1 skipped \(_SUCCESS before\), 0 left, of 5/,
    );
    assert.match(status.out, /Exported: \d+ recordings/);
  });
});
