/**
 * A migration at the history horizon, on an in-memory bucket with the
 * planner as a seam (its own refusal is tested against the simulator in
 * planner.spec): the days the planner refuses as beyond the horizon are
 * recorded at once, never planned, and reported by grm migrate status and
 * the developers' email, never counted as decided.
 */
import * as assert from 'node:assert';
import {BeyondHorizonError} from '../../functions/core/errors';
import type {MigrationRecord} from '../../functions/core/migration';
import {migrationMail} from '../../functions/core/migration-mail';
import {migrationStatus, migrationStatusText} from '../../functions/core/migration-status';
import {
  migrationObjectName,
  planObjectName,
  runPlanObjectName,
} from '../../functions/core/object-names';
import {dayPlanOf} from '../helpers';
import {MemoryStore} from './memory-store';
import {MIGRATION_ENV, memoryMigration} from './migration-harness';

const ENV = MIGRATION_ENV;
const OLDEST = '2021-01-02';
const ID = '00000000-0000-4000-8000-000000000001';
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A migration whose planner writes a one-conversation plan, and refuses days
 * before `oldest`; `later(oldest)` moves the clock past the run grace (a
 * planned day's run has stalled) and the horizon to `oldest`.
 */
function stalling() {
  const store = new MemoryStore();
  let now = Date.parse('2026-12-07T12:00:00Z');
  let oldest = '2021-01-01';
  const migration = memoryMigration(
    store,
    day => {
      if (day < oldest)
        return Promise.reject(new BeyondHorizonError(`${day} is before ${oldest}`, day, oldest));
      const plan = dayPlanOf({day, runId: `r-${day}`}, {b1: [ID]}, {createdAt: iso(now)});
      const bytes = Buffer.from(JSON.stringify(plan));
      store.put(runPlanObjectName(ENV, day, plan.runId), bytes);
      store.put(planObjectName(ENV, day), bytes);
      return Promise.resolve({runId: plan.runId, batches: 1, conversations: 1});
    },
    () => now,
  );
  const later = (horizon: string) => {
    now += 13 * 3600_000;
    oldest = horizon;
  };
  return {store, migration, later};
}

describe('a migration at the history horizon', () => {
  it('should record the days before the horizon at once, plan from the horizon on, and report them', async () => {
    const store = new MemoryStore();
    const planned: string[] = [];
    const migration = memoryMigration(
      store,
      day => {
        if (day < OLDEST)
          return Promise.reject(
            new BeyondHorizonError(
              `${day} is before the history horizon (${OLDEST}, set by the test)`,
              day,
              OLDEST,
            ),
          );
        planned.push(day);
        return Promise.resolve({runId: `r-${day}`, batches: 0, conversations: 0});
      },
      () => Date.parse('2026-12-07T12:00:00Z'),
    );
    await migration.handle({action: 'start', from: '2020-12-30', to: '2021-01-03'});
    const first = await migration.tick();
    assert.strictEqual(first.step, 'beyond the history horizon: 3 day(s) from 2020-12-30');
    const record = (await store.readJson<MigrationRecord>(migrationObjectName(ENV)))!.value;
    assert.deepStrictEqual(record.beyond, ['2020-12-30', '2020-12-31', '2021-01-01']);
    assert.strictEqual(record.next, OLDEST);
    assert.deepStrictEqual(record.planned, []);
    await migration.tick();
    assert.deepStrictEqual(planned, [OLDEST], 'planning goes on from the horizon');

    const status = migrationStatus(record, [], Date.parse('2026-12-07T12:00:00Z'));
    assert.strictEqual(status.days.beyond, 3);
    assert.strictEqual(status.days.left, 2);
    assert.match(
      migrationStatusText(status),
      /Not enumerable: 3 days from 2020-12-30 to 2021-01-01, never planned nor called complete: 2020-12-30 is before the history horizon/,
    );
    const mail = migrationMail(record, {kind: 'milestone', percent: 100}, {env: ENV, bucket: 'b'});
    assert.match(
      mail.text,
      /Not enumerable: 3 days from 2020-12-30 to 2021-01-01 lie before the history horizon/,
    );
  });

  it('should record a stalled day that has fallen past the horizon once, and finish', async () => {
    // 2021-01-02 is planned; its run stalls, and by the time it is planned again the horizon
    // has moved past it.
    const {store, migration, later} = stalling();
    await migration.handle({action: 'start', from: '2021-01-02', to: '2021-01-02'});
    assert.strictEqual((await migration.tick()).step, 'planned 2021-01-02 (1 batches)');
    assert.strictEqual((await migration.tick()).step, 'published 1 batches of 2021-01-02');
    later('2021-01-03');
    assert.strictEqual(
      (await migration.tick()).step,
      'beyond the history horizon: 1 day(s) from 2021-01-02',
    );
    for (let i = 0; i < 3; i++) await migration.tick();
    const record = (await store.readJson<MigrationRecord>(migrationObjectName(ENV)))!.value;
    assert.deepStrictEqual(record.beyond, ['2021-01-02'], 'recorded once');
    assert.strictEqual(record.state, 'done');
    const status = migrationStatus(record, [], Date.now());
    assert.strictEqual(status.days.beyond, 1);
    assert.strictEqual(status.days.left, 0);
  });

  it('should record only the stalled day beyond, not a day after it that was _SUCCESS already', async () => {
    const {store, migration, later} = stalling();
    await migration.handle({action: 'start', from: '2021-01-02', to: '2021-01-03'});
    await migration.tick(); // plan 2021-01-02
    await migration.tick(); // publish it
    // 2021-01-03 was _SUCCESS already: skipped, the cursor past the span's end.
    const got = (await store.readJson<MigrationRecord>(migrationObjectName(ENV)))!.value;
    const {next: _n, ...rest} = got;
    store.put(migrationObjectName(ENV), Buffer.from(JSON.stringify({...rest, skipped: 1})));
    later('2021-01-04');
    for (let i = 0; i < 3; i++) await migration.tick();
    const record = (await store.readJson<MigrationRecord>(migrationObjectName(ENV)))!.value;
    assert.deepStrictEqual(
      {
        beyond: record.beyond,
        planned: record.planned,
        skipped: record.skipped,
        state: record.state,
      },
      {beyond: ['2021-01-02'], planned: [], skipped: 1, state: 'done'},
    );
  });
});
