/**
 * A history migration, run by the planner: `start` writes its record,
 * `control` pauses, resumes or cancels it, and `tick` (Cloud Scheduler,
 * every minute) takes its next step (core/migration.ts decides which):
 * count what finished days cost (services/migration-days.ts), publish a few
 * more batches of the current day, plan the next day, or finish; or hold, in
 * the quiet window before the nightly run (core/quiet-window.ts) and while a
 * priority day is undecided. Every step writes the record with the
 * generation it read, so two ticks at once cannot both advance it; a batch
 * published twice (a tick that died before writing the record) is exported
 * once, as any redelivered message is.
 */
import {randomBytes} from 'node:crypto';
import {BeyondHorizonError, InputError, PermanentError} from '../core/errors';
import {MAX_MIGRATION_BYTES} from '../core/limits';
import type {BatchMessage} from '../core/messages';
import {
  MigrationCurrent,
  MigrationRecord,
  MigrationRequest,
  TickAction,
  controlMigration,
  dayAfter,
  horizonGap,
  decideTick,
  inFlightOf,
  migrationProblems,
  milestoneReached,
  newMigration,
  nextMonth,
  spanDays,
} from '../core/migration';
import {migrationMail} from '../core/migration-mail';
import {addCalls, monthOf} from '../core/monthly-calls';
import {migrationObjectName} from '../core/object-names';
import {QuietSettings, holdText} from '../core/quiet-window';
import type {Day} from '../core/time-window';
import type {Logger} from '../logger';
import {Clock, Mailer, ObjectStore, Publisher} from '../ports';
import {json} from './ledger';
import {swapJson} from './objects';
import {planBatchRange, readRunPlan} from './plan-batches';
import {
  countDecidedDays,
  reportCount,
  restoreCallsIn,
  stalledDay,
  stillFailed,
} from './migration-days';
import {inspectDay} from './previous-days';
import {nightlyYield} from './priority-days';

export interface MigrationSettings {
  env: string;
  bucket: string;
  developers: string[];
  runGraceMinutes: number;
  /** Most migration batches published and unreported at once. */
  outstanding: number;
  /** The nightly run's schedule and the quiet before it; absent: no quiet window. */
  quiet?: QuietSettings;
}

export interface MigrationDeps {
  settings: MigrationSettings;
  store: ObjectStore;
  publisher: Publisher;
  planner: {
    planMigrationDay(
      day: Day,
      meter: {requests: number},
    ): Promise<{runId: string; batches: number; conversations: number}>;
  };
  mailer: () => Promise<Mailer>;
  clock: Clock;
  logger: Logger;
  newId?: (nowMs: number) => string;
}

/** What a request to the migration did, as the planner answers it. */
export interface MigrationAnswer {
  migration?: MigrationRecord;
  /** What the tick did (tick only). */
  step?: string;
}

interface Held {
  record: MigrationRecord;
  generation: string | number;
}

function defaultId(nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().slice(0, 10).replace(/-/g, '');
  return `m${stamp}-${randomBytes(3).toString('hex')}`;
}

export class Migration {
  constructor(private readonly deps: MigrationDeps) {}

  async handle(request: MigrationRequest): Promise<MigrationAnswer> {
    if (request.action === 'start') return {migration: await this.start(request)};
    if (request.action === 'tick') return this.tick();
    return {migration: await this.control(request.action)};
  }

  /** The stored record, or undefined; PermanentError when it is not one the planner wrote. */
  async read(): Promise<Held | undefined> {
    const name = migrationObjectName(this.deps.settings.env);
    const got = await this.deps.store.readJson<MigrationRecord>(name, MAX_MIGRATION_BYTES);
    if (!got) return undefined;
    const problems = migrationProblems(got.value);
    if (problems.length > 0)
      throw new PermanentError(`${name} is not a migration record: ${problems.join('; ')}`);
    return {record: got.value, generation: got.generation};
  }

  /** Writes `record` if the stored one is still `generation`; false when another writer won. */
  private async write(record: MigrationRecord, generation: string | number): Promise<boolean> {
    const name = migrationObjectName(this.deps.settings.env);
    const stamped = {...record, updatedAt: new Date(this.deps.clock.now()).toISOString()};
    return (await swapJson(this.deps.store, name, json(stamped), generation)) !== undefined;
  }

  private async start(
    request: Extract<MigrationRequest, {action: 'start'}>,
  ): Promise<MigrationRecord> {
    const {clock} = this.deps;
    const held = await this.read();
    if (held && (held.record.state === 'running' || held.record.state === 'paused'))
      throw new InputError(
        `migration ${held.record.id} (${held.record.from} to ${held.record.to}) is ${held.record.state}; cancel it first (grm migrate cancel)`,
        409,
      );
    const now = clock.now();
    const record = newMigration(request, (this.deps.newId ?? defaultId)(now), now);
    if (!(await this.write(record, held?.generation ?? 0)))
      throw new InputError('another migration was started at the same time', 409);
    this.deps.logger.info('migration started', {
      event: 'migration_started',
      migration: record.id,
      from: record.from,
      to: record.to,
    });
    return record;
  }

  private async control(action: 'pause' | 'resume' | 'cancel'): Promise<MigrationRecord> {
    const held = await this.read();
    if (!held) throw new InputError('no migration: start one with grm migrate FROM..TO', 404);
    const next = controlMigration(held.record, action, this.deps.clock.now());
    if (!(await this.write(next, held.generation)))
      throw new InputError('the migration changed meanwhile; try again', 409);
    this.deps.logger.info(`migration ${action}`, {
      event: `migration_${action}`,
      migration: next.id,
    });
    return next;
  }

  /** One step of the migration (Cloud Scheduler calls it every minute). */
  async tick(): Promise<MigrationAnswer> {
    const held = await this.read();
    if (!held) return {step: 'no migration'};
    const {settings, clock, store} = this.deps;
    let {record} = held;
    const now = clock.now();
    const graceMs = settings.runGraceMinutes * 60_000;
    record = await countDecidedDays(store, settings.env, record, now);
    const reached = milestoneReached(
      record.counted.length + record.skipped + (record.beyond?.length ?? 0),
      spanDays(record),
      record.milestone,
    );
    if (reached !== undefined) record = {...record, milestone: reached};
    const c = record.current;
    const {priorityDays, hold} =
      record.state === 'running'
        ? await nightlyYield(store, settings.env, now, graceMs, settings.quiet)
        : {priorityDays: [], hold: undefined};
    const p = record.previous;
    const previousInFlight = p
      ? inFlightOf(p, await reportCount(store, settings.env, p), now, graceMs)
      : undefined;
    if (p && previousInFlight === 0) record = {...record, previous: undefined};
    const reported = c ? await reportCount(store, settings.env, c) : undefined;
    // The cap counts the restores' calls of the month with the migration's own.
    const restoreCalls =
      record.monthlyCallCap !== undefined && record.state === 'running'
        ? await restoreCallsIn(store, settings.env, monthOf(now))
        : 0;
    let action: TickAction = decideTick(record, {
      nowMs: now,
      priorityDays,
      reported,
      currentDecided: c ? record.counted.includes(c.day) : undefined,
      outstanding: settings.outstanding,
      ...(previousInFlight ? {previousInFlight} : {}),
      ...(hold ? {hold} : {}),
      ...(restoreCalls > 0 ? {restoreCalls} : {}),
    });
    // Before finishing, a day whose run stalled (planned longer ago than the grace, undecided)
    // is planned once more.
    if (action.do === 'finish' || (action.do === 'nothing' && action.why.startsWith('waiting'))) {
      const stalled = await stalledDay(store, settings.env, record, now, graceMs);
      if (stalled) action = {do: 'plan', day: stalled};
    }
    const {quiet: _q, ...plain} = record;
    const step = await this.act(action.do === 'quiet' ? record : plain, action, now);
    if (!(await this.write(step.record, held.generation))) {
      this.deps.logger.info('migration tick lost a race: another tick or an operator wrote first', {
        migration: record.id,
      });
      return {migration: record, step: 'raced'};
    }
    // Emails go once the record that says they went is written.
    if (reached !== undefined && reached < 100)
      await this.send(step.record, {kind: 'milestone', percent: reached});
    if (step.after) await step.after();
    return {migration: step.record, step: step.what};
  }

  private async act(
    record: MigrationRecord,
    action: TickAction,
    now: number,
  ): Promise<{record: MigrationRecord; what: string; after?: () => Promise<void>}> {
    const {settings, logger} = this.deps;
    const at = new Date(now).toISOString();
    switch (action.do) {
      case 'nothing':
        return {record, what: `waiting: ${action.why}`};
      case 'quiet':
        return {record: {...record, quiet: action.hold}, what: `waiting: ${holdText(action.hold)}`};
      case 'resume-month': {
        const {pause: _p, ...rest} = record;
        logger.info('migration resumes: a new month', {migration: record.id});
        return {record: {...rest, state: 'running'}, what: 'resumed in a new month'};
      }
      case 'pause-cap': {
        const untilMonth = nextMonth(action.month);
        const paused: MigrationRecord = {
          ...record,
          state: 'paused',
          pause: {by: 'monthly-cap', at, untilMonth},
        };
        logger.warn('migration paused at its monthly call cap', {
          event: 'migration_capped',
          migration: record.id,
          untilMonth,
        });
        return {
          record: paused,
          what: `paused until ${untilMonth}: at the monthly call cap`,
          after: () =>
            this.send(paused, {
              kind: 'capped',
              untilMonth,
              reached: action.reached,
              restoreCalls: action.restoreCalls,
            }),
        };
      }
      case 'publish': {
        const c = record.current!;
        const plan = await readRunPlan(this.deps.store, settings.env, c.day, c.runId);
        const batches = await planBatchRange(this.deps.store, plan, c.published, action.count);
        const messages: BatchMessage[] = batches.map(b => ({
          day: c.day,
          conversationIds: b.conversationIds,
          runId: c.runId,
          batchId: b.batchId,
          ...(b.client !== undefined ? {client: b.client} : {}),
          lane: 'migration',
        }));
        // Published before the record says so: a tick that dies here publishes them again,
        // and the worker exports a batch once however often it is delivered.
        await this.deps.publisher.publishJson(messages);
        return {
          record: {...record, current: {...c, published: c.published + messages.length}},
          what: `published ${messages.length} batches of ${c.day}`,
        };
      }
      case 'plan':
        return this.planDay(record, action.day, now);
      case 'finish': {
        logger.info('migration done', {event: 'migration_done', migration: record.id});
        const done: MigrationRecord = {...record, state: 'done', milestone: 100};
        return {
          record: done,
          what: 'done',
          after: () => this.send(done, {kind: 'milestone', percent: 100}),
        };
      }
    }
  }

  /** Plans `day` (or skips it when it is `_SUCCESS` already) and moves the cursor past it. */
  private async planDay(
    record: MigrationRecord,
    day: Day,
    now: number,
  ): Promise<{record: MigrationRecord; what: string}> {
    const {settings, store} = this.deps;
    const again = record.planned.includes(day);
    const next = again ? record.next : dayAfter(record, day);
    const cursor = next === undefined ? {} : {next};
    const {next: _n, ...rest} = record;
    if (!again && (await inspectDay(store, settings.env, day, now)).state === 'success') {
      return {
        record: {...rest, ...cursor, skipped: record.skipped + 1},
        what: `skipped ${day}: _SUCCESS already`,
      };
    }
    const meter = {requests: 0};
    let planned;
    try {
      planned = await this.deps.planner.planMigrationDay(day, meter);
    } catch (err) {
      if (err instanceof BeyondHorizonError) {
        // Nothing can enumerate it, nor any day up to the horizon: reported as such, at once,
        // never planned empty and called complete. A day planned again (its run stalled) is the
        // only one: the days after it were planned or skipped already.
        const days = again ? [day] : horizonGap(record, day, err.oldest);
        this.deps.logger.warn('migration days beyond the history horizon', {
          event: 'migration_days_beyond_horizon',
          migration: record.id,
          from: day,
          days: days.length,
          reason: err.message,
        });
        const after = again ? record.next : dayAfter(record, days.at(-1)!);
        // A stalled day planned again that has since fallen past the horizon is no longer
        // planned, nor waited for: it is beyond, once.
        const {current, previous, ...others} = rest;
        const keep = (d: MigrationCurrent | undefined) => (d && d.day !== day ? d : undefined);
        const kept = {current: keep(current), previous: keep(previous)};
        return {
          record: {
            ...others,
            ...(kept.current ? {current: kept.current} : {}),
            ...(kept.previous ? {previous: kept.previous} : {}),
            ...(after === undefined ? {} : {next: after}),
            planned: record.planned.filter(d => d !== day),
            beyond: [...new Set([...(record.beyond ?? []), ...days])].sort(),
            horizon: err.message,
          },
          what: `beyond the history horizon: ${days.length} day(s) from ${day}`,
        };
      }
      if (err instanceof InputError && err.status === 409)
        return {record, what: `waiting: ${err.message}`};
      throw err;
    }
    const month = monthOf(now);
    const calls = addCalls(record.calls, month, meter.requests);
    const current = {
      day,
      runId: planned.runId,
      batches: planned.batches,
      published: 0,
      plannedAt: new Date(now).toISOString(),
    };
    const updated: MigrationRecord = {
      ...rest,
      ...cursor,
      current,
      ...(record.current ? {previous: record.current} : {}),
      calls,
      planned: again ? record.planned : [...record.planned, day],
      counted: record.counted.filter(d => d !== day),
      failed: (record.failed ?? []).filter(d => d !== day),
      ...(again ? {replanned: [...(record.replanned ?? []), day]} : {}),
    };
    this.deps.logger.info('migration day planned', {
      event: 'migration_day_planned',
      migration: record.id,
      day,
      runId: planned.runId,
      conversations: planned.conversations,
      batches: planned.batches,
      again,
    });
    return {record: updated, what: `planned ${day} (${planned.batches} batches)`};
  }

  /** Emails the developers; a mail failure is logged, never fatal to the migration. */
  private async send(
    record: MigrationRecord,
    event: Parameters<typeof migrationMail>[1],
  ): Promise<void> {
    const {settings, logger} = this.deps;
    try {
      // The days still _FAILURE now: restores and reruns fix some after their first decision.
      const failed = await stillFailed(this.deps.store, settings.env, record.failed ?? []);
      const mail = migrationMail({...record, failed}, event, {
        env: settings.env,
        bucket: settings.bucket,
      });
      await (
        await this.deps.mailer()
      ).send({
        to: settings.developers,
        ...mail,
        tags: {kind: 'migration', migration: record.id},
      });
    } catch (err) {
      logger.error('could not email the migration milestone', {
        migration: record.id,
        reason: err instanceof Error ? err.message : String(err),
      });
    }
  }
}
