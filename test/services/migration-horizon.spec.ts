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
import {migrationObjectName} from '../../functions/core/object-names';
import {MemoryStore} from './memory-store';
import {MIGRATION_ENV, memoryMigration} from './migration-harness';

const ENV = MIGRATION_ENV;
const OLDEST = '2021-01-02';

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
});
