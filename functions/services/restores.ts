/**
 * Restores of archived recordings, run by the planner (core/restores.ts holds
 * the decisions). The checker, or `grm restore DAY`, queues a decided day's
 * archived recordings as an inbox file (services/restore-queue.ts); every
 * tick:
 *   1. takes inbox recordings into the record while fewer than
 *      RESTORE_OUTSTANDING are outstanding;
 *   2. reads each queued recording and asks Genesys Cloud to restore it (a
 *      later archive date, its delete date kept), and reads requested ones
 *      again every RESTORE_POLL_SECONDS, at most RESTORE_CALLS_PER_TICK calls,
 *      in the migration's lane and counted per month;
 *   3. replays the conversations whose recordings are restored (in the
 *      migration's lane), so the worker exports them and the checker decides
 *      their day again;
 * Steps 2 and 3 wait, as a migration does, while a day of the nightly run
 * (or a rerun) is undecided and in the quiet window before the nightly run.
 *   4. writes the record with the generation it read (a racing tick loses: its
 *      calls were made twice at worst, and its replays are delivered twice,
 *      which store each recording once), then removes the inbox files it took
 *      in whole and rewrites the rest.
 * A recording no restore can bring back (refused, deleted, unknown) leaves
 * the record with its reason; its day stays `_FAILURE`.
 */
import type {DayOutcome} from '../core/day-outcome';
import {PermanentError} from '../core/errors';
import {MAX_MARKER_BYTES, MAX_RESTORES_BYTES} from '../core/limits';
import {addCalls, monthOf} from '../core/monthly-calls';
import {markerObjectName, restoresObjectName} from '../core/object-names';
import {QuietSettings, holdText, priorityDaysText} from '../core/quiet-window';
import {
  RestoreEntry,
  RestoreRecord,
  emptyRestoreRecord,
  restoreRecordProblems,
} from '../core/restore-record';
import {
  RestorePacing,
  entriesToVisit,
  markRequested,
  markRestored,
  refuse,
  restoreUntil,
  stepFor,
  takeReplays,
} from '../core/restores';
import type {Day} from '../core/time-window';
import type {Logger} from '../logger';
import type {Clock, Genesys, GenesysSession, ObjectStore, Publisher} from '../ports';
import {swapJson} from './objects';
import {RestoreQueue, queueRestores} from './restore-queue';
import {nightlyYield} from './priority-days';

export interface RestoreSettings extends RestorePacing {
  env: string;
  /** Most recordings being restored at once. */
  outstanding: number;
  /** How long a restored copy is asked to last (the archive date set), in hours. */
  holdHours: number;
  /** A priority day planned longer ago than this no longer holds the restores back. */
  runGraceMinutes: number;
  /** The nightly run's schedule and the quiet before it; absent: no quiet window. */
  quiet?: QuietSettings;
}

export interface RestoreDeps {
  settings: RestoreSettings;
  store: ObjectStore;
  publisher: Publisher;
  genesys: Genesys;
  clock: Clock;
  logger: Logger;
}

/** What one tick did. */
export interface RestoreTick {
  took: number;
  requested: number;
  restored: number;
  replayed: number;
  refused: number;
  outstanding: number;
  /** Set when another tick wrote the record first: nothing of this one was kept. */
  lost?: true;
  /** Why no Genesys call was made and nothing replayed: the nightly run goes first. */
  held?: string;
}

export class Restores {
  private readonly queue: RestoreQueue;

  constructor(private readonly deps: RestoreDeps) {
    this.queue = new RestoreQueue(deps);
  }

  /** `grm restore DAY`: queues the archived recordings of a day's `_FAILURE`. */
  async queueDay(day: Day): Promise<{day: Day; queued: number}> {
    const {store, settings, clock} = this.deps;
    const got = await store.readJson<DayOutcome>(
      markerObjectName(settings.env, day, '_FAILURE'),
      MAX_MARKER_BYTES,
    );
    if (!got) return {day, queued: 0};
    const outcome = got.value;
    if (!Array.isArray(outcome.gaps) || !Array.isArray(outcome.replay) || outcome.day !== day)
      throw new PermanentError(`the _FAILURE of ${day} is not a day outcome the checker wrote`);
    return {day, queued: await queueRestores(store, settings.env, outcome, clock.now())};
  }

  /** The record as stored (an empty one when there is none yet), and its generation (0: none). */
  async read(): Promise<{record: RestoreRecord; generation: string | number}> {
    const {store, settings, clock} = this.deps;
    const name = restoresObjectName(settings.env);
    const got = await store.readJson<RestoreRecord>(name, MAX_RESTORES_BYTES);
    if (!got) return {record: emptyRestoreRecord(clock.now()), generation: 0};
    const problems = restoreRecordProblems(got.value);
    if (problems.length > 0)
      throw new PermanentError(`${name} is not a restore record: ${problems.join('; ')}`);
    return {record: got.value, generation: got.generation};
  }

  async tick(): Promise<RestoreTick> {
    const {settings, clock, publisher, logger} = this.deps;
    const {record, generation} = await this.read();
    const before = record.entries.length;
    const inboxes = await this.queue.intake(record);
    const took = record.entries.length - before;
    const counts = {requested: 0, restored: 0, refused: 0};
    // Below the nightly run, as a migration: nothing asked of Genesys, nothing replayed (asked
    // only when there is something to ask or replay).
    const held = record.entries.length > 0 ? await this.nightlyHeld() : undefined;
    const visits = held ? [] : entriesToVisit(record, clock.now(), settings);
    if (visits.length > 0) {
      // In the migration's lane of the planner's budget, each call counted for the month.
      const meter = {requests: 0};
      const session = await this.deps.genesys.session(0, {lane: 'migration', meter});
      // At most RESTORE_CALLS_PER_TICK calls, a poll that finds a lapsed copy asking again included.
      const budget = {calls: settings.callsPerTick};
      try {
        for (const entry of visits) {
          if (budget.calls < 1) break;
          const step = await this.visit(session, record, entry, budget);
          if (step in counts) counts[step as keyof typeof counts]++;
        }
      } finally {
        record.calls = addCalls(record.calls, monthOf(clock.now()), meter.requests);
      }
    }
    const replays = held ? [] : takeReplays(record);
    if (replays.length > 0) await publisher.publishJson(replays);
    const written = await this.write(record, generation);
    const replayed = replays.reduce((n, m) => n + m.conversationIds.length, 0);
    const answer: RestoreTick = {
      took,
      ...counts,
      replayed,
      outstanding: record.entries.length,
      ...(held ? {held} : {}),
    };
    if (!written) return {...answer, lost: true};
    await this.queue.settle(inboxes);
    if (took + counts.requested + counts.restored + counts.refused + replays.length > 0)
      logger.info('restores advanced', {event: 'restores', ...answer});
    return answer;
  }

  /** Why the nightly run holds the restores back now (a priority day undecided, the quiet window). */
  private async nightlyHeld(): Promise<string | undefined> {
    const {store, settings, clock} = this.deps;
    const {priorityDays, hold} = await nightlyYield(
      store,
      settings.env,
      clock.now(),
      settings.runGraceMinutes * 60_000,
      settings.quiet,
    );
    if (priorityDays.length > 0) return priorityDaysText(priorityDays);
    return hold ? holdText(hold) : undefined;
  }

  /**
   * Step 2 for one entry: what Genesys says of it, and the request it needs,
   * each call taken from `budget` (a PUT with none left waits for the next tick).
   */
  private async visit(
    session: GenesysSession,
    record: RestoreRecord,
    entry: RestoreEntry,
    budget: {calls: number},
  ): Promise<'requested' | 'restored' | 'refused' | 'waiting'> {
    const {clock, settings} = this.deps;
    const now = clock.now();
    let state;
    budget.calls--;
    try {
      state = await session.recordingState(entry.conversationId, entry.recordingId);
    } catch (err) {
      // The client may not see it (its division): no retry shows it.
      if (err instanceof PermanentError && /\bHTTP (400|403)\b/.test(err.message)) {
        refuse(record, entry, `Genesys Cloud would not show its state: ${err.message}`, now);
        return 'refused';
      }
      return this.later(record, entry, err);
    }
    const step = stepFor(entry, state, now, settings.holdHours * 3_600_000);
    if (step.step === 'restored') {
      markRestored(record, entry, state!, now);
      return 'restored';
    }
    if (step.step === 'refuse') {
      refuse(record, entry, step.reason, now);
      return 'refused';
    }
    if (step.step === 'wait') {
      entry.checkedAt = new Date(now).toISOString();
      return 'waiting';
    }
    const until = restoreUntil(now, settings.holdHours, state!.deleteDate);
    if (!until) {
      refuse(record, entry, `its delete date ${state!.deleteDate} is too close for a restore`, now);
      return 'refused';
    }
    // Being restored by someone else for longer than this pipeline would ask: never shortened.
    const theirs = state!.archiveDate ? Date.parse(state!.archiveDate) : NaN;
    if (state!.fileState === 'RESTORING' && theirs >= Date.parse(until)) {
      markRequested(record, entry, now);
      return 'requested';
    }
    if (budget.calls < 1) return 'waiting';
    budget.calls--;
    let after;
    try {
      after = await session.setArchiveDate(
        entry.conversationId,
        entry.recordingId,
        until,
        state!.deleteDate,
      );
    } catch (err) {
      // Genesys refused this restore (no restore permission, not eligible): no retry fixes it.
      // A conflict (409) may pass: it is tried again.
      if (err instanceof PermanentError && /\bHTTP (400|403|404|422)\b/.test(err.message)) {
        refuse(record, entry, `restore refused by Genesys Cloud: ${err.message}`, now);
        return 'refused';
      }
      return this.later(record, entry, err);
    }
    markRequested(record, entry, now);
    if (after.fileState === 'RESTORED' || after.fileState === 'AVAILABLE') {
      markRestored(record, entry, after, now);
      return 'restored';
    }
    return 'requested';
  }

  /**
   * A call about `entry` failed for a reason a later try may not meet (rate
   * limit, outage, conflict): it waits RESTORE_POLL_SECONDS, and is given up
   * once RESTORE_HOLD_HOURS have passed since it was queued (or first asked for).
   */
  private later(record: RestoreRecord, entry: RestoreEntry, err: unknown): 'waiting' | 'refused' {
    const {clock, settings, logger} = this.deps;
    const now = clock.now();
    const message = err instanceof Error ? err.message : String(err);
    const since = Date.parse(entry.firstRequestedAt ?? entry.queuedAt);
    if (now - since > settings.holdHours * 3_600_000) {
      refuse(
        record,
        entry,
        `Genesys Cloud did not answer for it within RESTORE_HOLD_HOURS (${settings.holdHours} h); last: ${message}`,
        now,
      );
      return 'refused';
    }
    entry.checkedAt = new Date(now).toISOString();
    logger.warn('a restore step failed; it is tried again after RESTORE_POLL_SECONDS', {
      recordingId: entry.recordingId,
      error: message,
    });
    return 'waiting';
  }

  private async write(record: RestoreRecord, generation: string | number): Promise<boolean> {
    const {store, settings, clock} = this.deps;
    record.updatedAt = new Date(clock.now()).toISOString();
    const bytes = Buffer.from(JSON.stringify(record));
    return (
      (await swapJson(store, restoresObjectName(settings.env), bytes, generation)) !== undefined
    );
  }
}
