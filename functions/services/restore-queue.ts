/**
 * The queue of recordings awaiting a restore (`_migration/restore-inbox/`):
 * the checker, or `grm restore DAY`, queues a decided outcome's archived
 * recordings as one file; the restores' tick takes them in while there is
 * room, and settles the files once its record is written. A file that is not
 * one the pipeline wrote for the day's `_FAILURE` is moved aside, kept.
 */
import {PermanentError} from '../core/errors';
import {FINGERPRINT_KEY, RUN_ID_KEY} from '../core/ledger';
import type {DayOutcome} from '../core/day-outcome';
import {
  markerObjectName,
  rejectedInboxObjectName,
  restoreInboxObjectName,
  restoreInboxPrefix,
} from '../core/object-names';
import {MAX_INBOX_BYTES} from '../core/limits';
import {
  RestoreInbox,
  RestoreRecord,
  inboxRecordings,
  restoreInboxProblems,
} from '../core/restore-record';
import {restoreInbox, takeFromInbox} from '../core/restores';
import type {Logger} from '../logger';
import {Clock, ObjectExistsError, ObjectStore, StoredObject} from '../ports';
import {swapJson} from './objects';

export interface RestoreQueueDeps {
  settings: {env: string; outstanding: number};
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
}

/** Days whose queue files one tick looks at (the oldest first). */
const DAYS_PER_TICK = 50;

/** Queues a decided outcome's recordings awaiting a restore (idempotent: one file per outcome). */
export async function queueRestores(
  store: ObjectStore,
  env: string,
  outcome: DayOutcome,
  nowMs: number,
): Promise<number> {
  const inbox = restoreInbox(outcome, nowMs);
  if (!inbox) return 0;
  // Once per outcome: a file already there is this outcome's, queued before.
  const name = restoreInboxObjectName(env, outcome.day, outcome.fingerprint);
  await swapJson(store, name, Buffer.from(JSON.stringify(inbox)), 0);
  return inboxRecordings(inbox.batches);
}

export class RestoreQueue {
  constructor(private readonly deps: RestoreQueueDeps) {}

  /**
   * The queue files of up to {@link DAYS_PER_TICK} days, oldest day
   * first. A day's current file is the one of the outcome its `_FAILURE`
   * holds (the marker's fingerprint, read from its metadata): that outcome
   * lists every gap of the day still awaiting a restore. The day's other
   * files are superseded, and all of them once the day is no longer
   * `_FAILURE`: they are removed unread. The current file is read only
   * while there is room.
   */
  async intake(record: RestoreRecord): Promise<Inboxes> {
    const {store, settings, clock} = this.deps;
    const out: Inboxes = {taken: [], superseded: []};
    const prefix = restoreInboxPrefix(settings.env);
    const byDay = new Map<string, StoredObject[]>();
    for (const o of await store.list(prefix)) {
      // Only names the pipeline gives (DAY/FINGERPRINT.json); anything else is not a queue file.
      const rest = o.name.slice(prefix.length);
      if (!/^\d{4}-\d{2}-\d{2}\/[A-Za-z0-9_-]+\.json$/.test(rest)) continue;
      const day = rest.slice(0, 10);
      byDay.set(day, [...(byDay.get(day) ?? []), o]);
    }
    for (const day of [...byDay.keys()].sort().slice(0, DAYS_PER_TICK)) {
      const marker = await store.stat(markerObjectName(settings.env, day, '_FAILURE'));
      const fingerprint = marker?.metadata?.[FINGERPRINT_KEY];
      const current = fingerprint ? restoreInboxObjectName(settings.env, day, fingerprint) : '';
      for (const o of byDay.get(day)!) {
        if (o.name !== current) {
          out.superseded.push({name: o.name, generation: o.generation});
          continue;
        }
        if (record.entries.length >= settings.outstanding) continue;
        const got = await this.readInbox(o, day, marker?.metadata?.[RUN_ID_KEY]);
        if (!got) continue;
        const left = takeFromInbox(record, got.inbox, settings.outstanding, clock.now());
        out.taken.push({name: o.name, ...got, left});
      }
    }
    return out;
  }

  /**
   * A queue file of `day` (its `_FAILURE` of run `runId`), or undefined: gone,
   * or not one the pipeline wrote for that outcome, which is moved out of the
   * queue (kept for someone to look at, logged) so it holds no day's place.
   */
  private async readInbox(
    o: StoredObject,
    day: string,
    runId: string | undefined,
  ): Promise<{inbox: RestoreInbox; generation: string} | undefined> {
    let problems: string[];
    try {
      const got = await this.deps.store.readJson<RestoreInbox>(o.name, MAX_INBOX_BYTES);
      if (!got) return undefined;
      problems = restoreInboxProblems(got.value);
      if (problems.length === 0 && got.value.day !== day) problems = [`it names ${got.value.day}`];
      if (problems.length === 0 && runId !== undefined && got.value.runId !== runId)
        problems = [`it names run ${got.value.runId}, the day's _FAILURE run ${runId}`];
      if (problems.length === 0) return {inbox: got.value, generation: got.generation};
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      problems = [(err as Error).message]; // not JSON, or larger than any the checker writes
    }
    const kept = await this.reject(o);
    this.deps.logger.error('a restore queue file is not one the pipeline wrote; moved aside', {
      object: o.name,
      keptAs: kept,
      problems,
    });
    return undefined;
  }

  /**
   * Moves an unusable queue file out of the queue, kept under its name and
   * generation (two files of one name are two copies); its new name.
   */
  private async reject(o: StoredObject): Promise<string> {
    const {store, settings} = this.deps;
    const rest = o.name.slice(restoreInboxPrefix(settings.env).length);
    const kept = rejectedInboxObjectName(
      settings.env,
      rest.replace(/\.json$/, `.${o.generation}.json`),
    );
    try {
      await store.write(kept, store.read(o.name), {
        contentType: 'application/octet-stream',
        ifGenerationMatch: 0,
      });
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err; // this generation was kept already
    }
    await settle(() => store.delete(o.name, o.generation));
    return kept;
  }

  /** Queue files taken in whole, or superseded, go; the others keep what is left. */
  async settle({taken, superseded}: Inboxes): Promise<void> {
    const {store} = this.deps;
    const goes = [...superseded, ...taken.filter(t => t.left.length === 0)];
    const shrinks = taken.filter(
      t => t.left.length > 0 && inboxRecordings(t.left) !== inboxRecordings(t.inbox.batches),
    );
    for (const {name, generation} of goes) await settle(() => store.delete(name, generation));
    // Changed meanwhile: the next tick reads it again.
    for (const {name, generation, left, inbox} of shrinks)
      await swapJson(
        store,
        name,
        Buffer.from(JSON.stringify({...inbox, batches: left})),
        generation,
      );
  }
}

interface InboxFile {
  name: string;
  generation: string;
}

/** What a tick took in from the queue, and the files it found superseded. */
export interface Inboxes {
  taken: Array<InboxFile & {inbox: RestoreInbox; left: RestoreInbox['batches']}>;
  superseded: InboxFile[];
}

/** Changed meanwhile: the next tick reads it again; a recording outstanding is not taken twice. */
async function settle(change: () => Promise<unknown>): Promise<void> {
  try {
    await change();
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
  }
}
