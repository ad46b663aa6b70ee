/**
 * The migration's tick on an in-memory bucket: in the quiet window before
 * the nightly run it holds (nothing planned, nothing published), says so in
 * its step and its record, and lets go once the night's day is listed (then
 * the priority-day yield holds it) or without a schedule; its batches in
 * flight stay within the outstanding bound across days; and it pauses before
 * a day that would take the month past its call cap.
 */
import * as assert from 'node:assert';
import {parseCron} from '../../functions/core/cron';
import type {MigrationRecord} from '../../functions/core/migration';
import {
  batchReportsPrefix,
  decisionObjectName,
  migrationObjectName,
  planObjectName,
  restoresObjectName,
  runPlanObjectName,
} from '../../functions/core/object-names';
import {emptyRestoreRecord} from '../../functions/core/restore-record';
import type {Mail} from '../../functions/ports';
import type {MigrationSettings} from '../../functions/services/migration';
import {registerPriorityDay} from '../../functions/services/priority-days';
import {dayPlanOf} from '../helpers';
import {MemoryStore} from './memory-store';
import {MIGRATION_ENV, memoryMigration} from './migration-harness';

const ENV = MIGRATION_ENV;
const at = (iso: string) => Date.parse(iso);

function setup(quiet: MigrationSettings['quiet'], empty = true) {
  const store = new MemoryStore();
  let now = at('2026-12-07T01:40:00Z');
  const planned: string[] = [];
  const published: unknown[] = [];
  const mails: Mail[] = [];
  // A day of one batch of one conversation (none with `empty`), its plan written as the
  // planner writes it.
  const migration = memoryMigration(
    store,
    day => {
      planned.push(day);
      const runId = `r-${day}`;
      const id = `00000000-0000-4000-8000-${day.replace(/-/g, '').padStart(12, '0')}`;
      const plan = dayPlanOf({day, runId}, empty ? {} : {[`b-${day}`]: [id]});
      const bytes = Buffer.from(JSON.stringify(plan));
      store.put(runPlanObjectName(ENV, day, runId), bytes);
      store.put(planObjectName(ENV, day), bytes);
      return Promise.resolve({
        runId,
        batches: plan.batches.length,
        conversations: plan.conversations,
      });
    },
    () => now,
    {...(quiet ? {quiet} : {}), published, mails},
  );
  const record = async () =>
    (await store.readJson<MigrationRecord>(migrationObjectName(ENV)))!.value;
  /** The batch of `day` reports. */
  const report = (day: string) =>
    store.write(`${batchReportsPrefix(ENV, day, `r-${day}`)}b-${day}.json`, Buffer.from('{}'), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
  return {
    store,
    migration,
    planned,
    published,
    mails,
    record,
    report,
    setNow: (iso: string) => (now = at(iso)),
  };
}

describe('the migration tick in the quiet window before the nightly run', () => {
  const quiet = {schedule: parseCron('0 2 * * *'), timeZone: 'UTC', quietMinutes: 15};

  it('should hold from Q minutes before the start until the night lists its day', async () => {
    const t = setup(quiet);
    await t.migration.handle({action: 'start', from: '2026-01-01', to: '2026-01-03'});

    t.setNow('2026-12-07T01:50:00Z');
    const held = await t.migration.tick();
    assert.strictEqual(
      held.step,
      'waiting: quiet for the nightly run at 02:00 (UTC): since 01:45, until its day is planned (02:30 at the latest)',
    );
    assert.deepStrictEqual(t.planned, [], 'no day planned in the quiet window');
    assert.strictEqual((await t.record()).quiet?.nightlyAt, '2026-12-07T02:00:00.000Z');

    // Past the start, the night's day not listed yet: still quiet.
    t.setNow('2026-12-07T02:01:00Z');
    assert.match((await t.migration.tick()).step!, /^waiting: quiet for the nightly run at 02:00/);

    // Listed: the priority-day yield takes over, and the record no longer says quiet.
    await registerPriorityDay(
      t.store,
      ENV,
      {day: '2026-12-04', runId: 'night'},
      at('2026-12-07T02:02:00Z'),
    );
    t.setNow('2026-12-07T02:03:00Z');
    assert.strictEqual(
      (await t.migration.tick()).step,
      'waiting: priority days undecided: 2026-12-04',
    );
    assert.strictEqual((await t.record()).quiet, undefined);
    assert.deepStrictEqual(t.planned, []);
    assert.deepStrictEqual(t.published, []);
  });

  it('should plan as usual outside the window, and always without a schedule', async () => {
    const t = setup(quiet);
    await t.migration.handle({action: 'start', from: '2026-01-01', to: '2026-01-03'});
    t.setNow('2026-12-07T01:44:00Z');
    assert.strictEqual((await t.migration.tick()).step, 'planned 2026-01-01 (0 batches)');

    const none = setup(undefined);
    await none.migration.handle({action: 'start', from: '2026-01-01', to: '2026-01-03'});
    none.setNow('2026-12-07T01:55:00Z');
    assert.strictEqual((await none.migration.tick()).step, 'planned 2026-01-01 (0 batches)');
    assert.strictEqual((await none.record()).quiet, undefined);
  });
});

describe('the migration tick: batches in flight across days', () => {
  it('should keep at most MIGRATION_OUTSTANDING_BATCHES unreported, counting the previous day', async () => {
    const t = setup(undefined, false);
    await t.migration.handle({action: 'start', from: '2026-01-01', to: '2026-01-05'});
    const steps: string[] = [];
    const tick = async () => steps.push((await t.migration.tick()).step!);
    await tick(); // plan 01-01
    await tick(); // publish its batch
    await tick(); // plan 01-02, while 01-01's batch runs
    await tick(); // publish 01-02's batch: 2 in flight
    await tick(); // 01-03 waits for 01-01's batch
    assert.deepStrictEqual(steps, [
      'planned 2026-01-01 (1 batches)',
      'published 1 batches of 2026-01-01',
      'planned 2026-01-02 (1 batches)',
      'published 1 batches of 2026-01-02',
      'waiting: 1 batches of 2026-01-01 in flight',
    ]);
    assert.strictEqual((await t.record()).previous?.day, '2026-01-01');
    await t.report('2026-01-01');
    await tick(); // plan 01-03: 01-02 is the previous day now
    await tick(); // publish 01-03's batch beside 01-02's
    await tick();
    assert.deepStrictEqual(steps.slice(5), [
      'planned 2026-01-03 (1 batches)',
      'published 1 batches of 2026-01-03',
      'waiting: 1 batches of 2026-01-02 in flight',
    ]);
    assert.strictEqual(t.published.length, 3);
    // A previous day planned longer ago than the run grace no longer holds it (a stalled run is
    // planned again, not waited for).
    t.setNow('2026-12-07T13:41:00Z');
    await tick();
    assert.strictEqual(steps.at(-1), 'planned 2026-01-04 (1 batches)');
  });
});

/**
 * `day`'s batch reports `requests` Genesys calls and the checker decides it
 * (again, with `status`, once its report is there).
 */
async function decide(
  t: ReturnType<typeof setup>,
  day: string,
  requests: number,
  status: 'success' | 'failure' = 'success',
) {
  const report = `${batchReportsPrefix(ENV, day, `r-${day}`)}b-${day}.json`;
  if (!(await t.store.stat(report)))
    await t.store.write(report, Buffer.from(JSON.stringify({genesysRequests: requests})), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
  const ledger = {runId: `r-${day}`, fingerprint: `f-${status}`, missing: {}, status};
  const name = decisionObjectName(ENV, day);
  await t.store.write(name, Buffer.from(JSON.stringify(ledger)), {
    contentType: 'application/json',
    ifGenerationMatch: (await t.store.stat(name))?.generation ?? 0,
  });
}

describe('the migration tick: the monthly call cap', () => {
  async function twoDaysOut(cap: number) {
    const t = setup(undefined, false);
    await t.migration.handle({
      action: 'start',
      from: '2026-01-01',
      to: '2026-01-05',
      monthlyCallCap: cap,
    });
    for (let i = 0; i < 4; i++) await t.migration.tick(); // plan and publish 01-01 and 01-02
    await decide(t, '2026-01-01', 400);
    return t;
  }

  it('should pause before planning a day the measured calls per day would take past the cap, and go on next month', async () => {
    // 01-01 cost 400 calls; 01-02 is in flight: with the next day, about 1,200 this month.
    const t = await twoDaysOut(1000);
    assert.strictEqual(
      (await t.migration.tick()).step,
      'paused until 2027-01: at the monthly call cap',
    );
    const paused = await t.record();
    assert.strictEqual(paused.state, 'paused');
    assert.deepStrictEqual(paused.calls, {'2026-12': 400});
    assert.deepStrictEqual(t.planned, ['2026-01-01', '2026-01-02'], 'nothing planned past the cap');
    assert.strictEqual((await t.migration.tick()).step, 'waiting: monthly cap');
    // The day in flight finishes meanwhile and is counted; the new month resumes, and its first
    // day goes (this month has no calls yet).
    await decide(t, '2026-01-02', 400);
    assert.strictEqual((await t.migration.tick()).step, 'waiting: monthly cap');
    assert.deepStrictEqual((await t.record()).calls, {'2026-12': 800});
    t.setNow('2027-01-01T00:00:30Z');
    assert.strictEqual((await t.migration.tick()).step, 'resumed in a new month');
    assert.strictEqual((await t.migration.tick()).step, 'planned 2026-01-03 (1 batches)');
  });

  it('should plan on while the month has room for the next day', async () => {
    const t = await twoDaysOut(1500);
    assert.strictEqual((await t.migration.tick()).step, 'planned 2026-01-03 (1 batches)');
  });

  it("should count the restores' calls of the month with its own", async () => {
    const t = await twoDaysOut(1500);
    const restores = {...emptyRestoreRecord(Date.now()), calls: {'2026-12': 400, '2026-11': 9000}};
    t.store.put(restoresObjectName(ENV), Buffer.from(JSON.stringify(restores)));
    assert.strictEqual(
      (await t.migration.tick()).step,
      'paused until 2027-01: at the monthly call cap',
    );
  });
});

describe("the migration's emails", () => {
  it('should name only the days still _FAILURE when it tells, not a day its restores have since fixed', async () => {
    const t = setup(undefined, false);
    await t.migration.handle({action: 'start', from: '2026-01-01', to: '2026-01-03'});
    for (let i = 0; i < 4; i++) await t.migration.tick(); // plan and publish two days
    await decide(t, '2026-01-01', 10, 'failure');
    await decide(t, '2026-01-02', 10);
    // Both counted, 2026-01-01 failed: the 50 % email names it; the third day is planned.
    assert.strictEqual((await t.migration.tick()).step, 'planned 2026-01-03 (1 batches)');
    assert.deepStrictEqual((await t.record()).failed, ['2026-01-01']);
    assert.match(t.mails.at(-1)!.text, /Days that ended _FAILURE[^\n]*\n {2}2026-01-01/);
    await t.migration.tick(); // publish it
    // The first day's archived recordings are restored and exported: it is decided _SUCCESS.
    await decide(t, '2026-01-01', 10, 'success');
    await decide(t, '2026-01-03', 10);
    assert.strictEqual((await t.migration.tick()).step, 'done');
    const done = t.mails.at(-1)!;
    assert.match(done.subject, /is done/);
    assert.match(done.text, /; 0 _FAILURE\./);
    assert.doesNotMatch(done.text, /Days that ended _FAILURE/);
  });
});
