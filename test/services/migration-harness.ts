/** A migration over an in-memory bucket, as the services tests build it. */
import {createLogger} from '../../functions/logger';
import type {Clock, Mail} from '../../functions/ports';
import {Migration, MigrationDeps, MigrationSettings} from '../../functions/services/migration';
import type {MemoryStore} from './memory-store';

export const MIGRATION_ENV = 'brave';

/**
 * A migration of env {@link MIGRATION_ENV} on `store` that plans with
 * `planMigrationDay`, publishes into `published`, reads the time from `now`
 * and mails into `mails` (without it, nobody: a mail is logged as failed,
 * never fatal).
 */
export function memoryMigration(
  store: MemoryStore,
  planMigrationDay: MigrationDeps['planner']['planMigrationDay'],
  now: () => number,
  opts: {quiet?: MigrationSettings['quiet']; published?: unknown[]; mails?: Mail[]} = {},
): Migration {
  const clock: Clock = {now, sleep: () => Promise.resolve()};
  return new Migration({
    settings: {
      env: MIGRATION_ENV,
      bucket: 'b',
      developers: ['dev@example.com'],
      runGraceMinutes: 720,
      outstanding: 2,
      ...(opts.quiet ? {quiet: opts.quiet} : {}),
    },
    store,
    publisher: {
      publishJson: values => {
        opts.published?.push(...values);
        return Promise.resolve(values.map((_, i) => String(i)));
      },
    },
    planner: {planMigrationDay},
    mailer: () =>
      opts.mails
        ? Promise.resolve({
            send: (mail: Mail) => {
              opts.mails!.push(mail);
              return Promise.resolve();
            },
          })
        : Promise.reject(new Error('no mail here')),
    clock,
    logger: createLogger({}, () => {}),
  });
}
