/**
 * Restores of archived recordings (docs/migration.md, "Archived recordings"):
 * the pure half. A recording Genesys Cloud reports ARCHIVED (or RESTORING)
 * is a gap of its day; with ARCHIVED_POLICY=restore the checker queues it
 * (an inbox file per decided outcome), and the planner's every-minute tick
 * works through the queue with at most RESTORE_OUTSTANDING recordings
 * outstanding: it asks Genesys to restore each one (a later archive date),
 * polls until it is RESTORED, then replays the conversations that hold it, so
 * the worker exports them and the checker decides the day again.
 *
 * This module holds what a decided outcome queues, the decisions of a tick
 * and the operator's request; the record's and the inbox's shapes and their
 * validation are core/restore-record.ts. No I/O.
 */
import type {DayOutcome} from './day-outcome';
import {InputError} from './errors';
import type {BatchMessage} from './messages';
import {
  MAX_CYCLES_KEPT,
  MAX_QUEUED_PER_FILE,
  MAX_REFUSED_KEPT,
  MAX_RESTORE_CYCLES,
  MAX_RESTORE_REQUESTS,
  RestoreEntry,
  RestoreInbox,
  RestoreRecord,
  isObject,
} from './restore-record';
import {Day, isValidDay} from './time-window';

/** The archive state a gap's reason names, when a restore can fix it. */
export function awaitsRestore(reason: string): 'ARCHIVED' | 'RESTORING' | undefined {
  return /\(fileState (ARCHIVED|RESTORING)\)/.exec(reason)?.[1] as
    'ARCHIVED' | 'RESTORING' | undefined;
}

/**
 * What a decided outcome queues: its gaps a restore can fix, by batch (at
 * most {@link MAX_QUEUED_PER_FILE}); undefined if none.
 */
export function restoreInbox(outcome: DayOutcome, nowMs: number): RestoreInbox | undefined {
  const byBatch = new Map<string, RestoreInbox['batches'][number]>();
  const clients = new Map(outcome.replay.map(r => [r.batchId, r.message.client]));
  let queued = 0;
  for (const g of outcome.gaps) {
    if (g.recordingId === undefined || !awaitsRestore(g.reason)) continue;
    // The rest are queued by the day's next outcome, once some of these are exported.
    if (++queued > MAX_QUEUED_PER_FILE) break;
    let batch = byBatch.get(g.batchId);
    if (!batch) {
      const client = clients.get(g.batchId);
      batch = {batchId: g.batchId, ...(client !== undefined ? {client} : {}), recordings: []};
      byBatch.set(g.batchId, batch);
    }
    batch.recordings.push({conversationId: g.conversationId, recordingId: g.recordingId});
  }
  if (byBatch.size === 0) return undefined;
  return {
    kind: 'restore-inbox',
    version: 1,
    day: outcome.day,
    runId: outcome.runId,
    queuedAt: new Date(nowMs).toISOString(),
    batches: [...byBatch.values()],
  };
}

/**
 * Takes recordings of `inbox` into `record` while fewer than `capacity` are
 * outstanding (a recording already there is not taken twice). Returns the
 * recordings left in the inbox (empty: all taken).
 */
export function takeFromInbox(
  record: RestoreRecord,
  inbox: RestoreInbox,
  capacity: number,
  nowMs: number,
): RestoreInbox['batches'] {
  const known = new Map(record.entries.map(e => [e.recordingId, e]));
  const left: RestoreInbox['batches'] = [];
  for (const b of inbox.batches) {
    const rest: typeof b.recordings = [];
    for (const r of b.recordings) {
      const entry = known.get(r.recordingId);
      if (entry) {
        // Outstanding already; a newer run of its day (a rerun) gets its replay. Another day's
        // file never moves it: its replay goes to the day whose gap it is.
        if (
          entry.day === inbox.day &&
          (entry.runId !== inbox.runId || entry.batchId !== b.batchId)
        ) {
          entry.runId = inbox.runId;
          entry.batchId = b.batchId;
          if (b.client !== undefined) entry.client = b.client;
          else delete entry.client;
        }
        continue;
      }
      if (record.entries.length >= capacity) {
        rest.push(r);
        continue;
      }
      const fresh: RestoreEntry = {
        day: inbox.day,
        runId: inbox.runId,
        batchId: b.batchId,
        ...(b.client !== undefined ? {client: b.client} : {}),
        conversationId: r.conversationId,
        recordingId: r.recordingId,
        state: 'queued',
        queuedAt: new Date(nowMs).toISOString(),
        requests: 0,
      };
      const cycles = record.cycles?.[r.recordingId] ?? 0;
      if (cycles >= MAX_RESTORE_CYCLES) {
        record.entries.push(fresh);
        refuse(
          record,
          fresh,
          `restored and replayed ${cycles} times, yet still not exported: Genesys Cloud calls it restored while its download finds it archived`,
          nowMs,
        );
        continue;
      }
      known.set(r.recordingId, fresh);
      record.entries.push(fresh);
    }
    if (rest.length > 0) left.push({...b, recordings: rest});
  }
  return left;
}

/** What the tick settings say about pacing. */
export interface RestorePacing {
  /** Most Genesys calls one tick makes for restores. */
  callsPerTick: number;
  /** How long after a check a requested restore is read again. */
  pollMs: number;
}

/**
 * The entries a tick reads from Genesys, in order: queued ones first (each is
 * read, then asked for; one whose read failed waits `pollMs`), then requested
 * ones due again ({@link pollInterval}), oldest check first; at most
 * `callsPerTick` (a queued entry costs two calls).
 */
export function entriesToVisit(
  record: RestoreRecord,
  nowMs: number,
  pacing: RestorePacing,
): RestoreEntry[] {
  const out: RestoreEntry[] = [];
  let calls = 0;
  const due = (e: RestoreEntry) =>
    e.checkedAt === undefined || nowMs - Date.parse(e.checkedAt) >= pollInterval(e, nowMs, pacing);
  for (const e of record.entries) {
    // A queued entry whose read failed waits like a requested one (its checkedAt is set).
    if (e.state !== 'queued' || !due(e) || calls + 2 > pacing.callsPerTick) continue;
    out.push(e);
    calls += 2;
  }
  const polls = record.entries
    .filter(e => e.state === 'requested' && due(e))
    .sort((a, b) => Date.parse(a.checkedAt ?? a.queuedAt) - Date.parse(b.checkedAt ?? b.queuedAt));
  for (const e of polls) {
    if (calls + 1 > pacing.callsPerTick) break;
    out.push(e);
    calls += 1;
  }
  return out;
}

/**
 * How long after its last check an entry is read again: `pollMs`, or a
 * quarter of the time since its restore was first asked for when that is
 * longer. A restore takes hours: the polls thin out as it goes on (about a
 * dozen in four hours rather than 24 at ten minutes), and a restore is seen
 * at most a quarter of its duration late.
 */
export function pollInterval(e: RestoreEntry, nowMs: number, pacing: RestorePacing): number {
  const since = e.firstRequestedAt ? nowMs - Date.parse(e.firstRequestedAt) : 0;
  return Math.max(pacing.pollMs, since / 4);
}

/** A recording's state as Genesys Cloud answers it (recording metadata or the PUT's answer). */
export interface RecordingStateAnswer {
  fileState?: string;
  restoreExpirationTime?: string;
}

/** What to do with an entry given its state: nothing more, ask for a restore, or give up. */
export type EntryStep =
  {step: 'request'} | {step: 'wait'} | {step: 'restored'} | {step: 'refuse'; reason: string};

/**
 * The next step for `entry` from its state now. ARCHIVED: ask for a restore
 * (again, when a restored copy lapsed); RESTORING: wait (asked for by this
 * pipeline, or by someone else, whose archive date is then moved too, so the
 * copy lasts); RESTORED or AVAILABLE: replay; anything else: no restore can
 * fix it.
 */
export function stepFor(
  entry: RestoreEntry,
  answer: RecordingStateAnswer | undefined,
  nowMs: number,
  maxWaitMs: number,
): EntryStep {
  if (!answer) return {step: 'refuse', reason: 'Genesys Cloud no longer knows the recording'};
  const waited = entry.firstRequestedAt ? nowMs - Date.parse(entry.firstRequestedAt) : 0;
  switch (answer.fileState) {
    case 'RESTORED':
    case 'AVAILABLE':
      return {step: 'restored'};
    case 'ARCHIVED':
      if (entry.requests >= MAX_RESTORE_REQUESTS)
        return {
          step: 'refuse',
          reason: `still archived after ${entry.requests} restores asked for: Genesys Cloud does not restore it`,
        };
      return {step: 'request'};
    case 'RESTORING':
      if (entry.requests === 0) return {step: 'request'};
      if (waited > maxWaitMs)
        return {
          step: 'refuse',
          reason: `still being restored ${Math.round(waited / 3_600_000)} h after its restore was asked for (RESTORE_HOLD_HOURS)`,
        };
      return {step: 'wait'};
    case 'DELETED':
      return {
        step: 'refuse',
        reason: 'deleted at the source (fileState DELETED) before its restore',
      };
    default:
      return {
        step: 'refuse',
        reason: `fileState ${String(answer.fileState)} at the source: no restore can bring it back`,
      };
  }
}

/** Marks `entry` restored (its copy lasts until `expiresAt`, when Genesys says). */
export function markRestored(
  record: RestoreRecord,
  entry: RestoreEntry,
  answer: RecordingStateAnswer,
  nowMs: number,
): void {
  const iso = new Date(nowMs).toISOString();
  entry.state = 'restored';
  entry.restoredAt = iso;
  entry.checkedAt = iso;
  if (answer.restoreExpirationTime) entry.expiresAt = answer.restoreExpirationTime;
  record.totals.restored++;
}

/** Marks `entry` requested now (a lapsed copy asked for again counts as lapsed). */
export function markRequested(record: RestoreRecord, entry: RestoreEntry, nowMs: number): void {
  const iso = new Date(nowMs).toISOString();
  if (entry.requests > 0 && entry.state === 'requested') record.totals.lapsed++;
  entry.state = 'requested';
  entry.firstRequestedAt ??= iso;
  entry.requestedAt = iso;
  entry.checkedAt = iso;
  entry.requests++;
  record.totals.requested++;
}

/** Moves `entry` out of the record into its refusals (the newest {@link MAX_REFUSED_KEPT} kept). */
export function refuse(
  record: RestoreRecord,
  entry: RestoreEntry,
  reason: string,
  nowMs: number,
): void {
  record.entries = record.entries.filter(e => e !== entry);
  record.refused.push({
    day: entry.day,
    conversationId: entry.conversationId,
    recordingId: entry.recordingId,
    reason: reason.slice(0, 300),
    at: new Date(nowMs).toISOString(),
  });
  if (record.refused.length > MAX_REFUSED_KEPT)
    record.refused.splice(0, record.refused.length - MAX_REFUSED_KEPT);
  record.totals.refused++;
}

/**
 * The replays of the restored entries, one message per batch with the
 * conversations that hold them (the worker merges their new outcomes over
 * the batch's report); the entries leave the record.
 */
export function takeReplays(record: RestoreRecord): BatchMessage[] {
  const byBatch = new Map<string, {message: BatchMessage; ids: Set<string>}>();
  for (const e of record.entries) {
    if (e.state !== 'restored') continue;
    const key = `${e.day}/${e.runId}/${e.batchId}`;
    let b = byBatch.get(key);
    if (!b) {
      b = {
        message: {
          day: e.day,
          runId: e.runId,
          batchId: e.batchId,
          conversationIds: [],
          ...(e.client !== undefined ? {client: e.client} : {}),
          // Background work: paced to MIGRATION_SHARE like a migration's batches.
          lane: 'migration',
        },
        ids: new Set(),
      };
      byBatch.set(key, b);
    }
    b.ids.add(e.conversationId);
  }
  const restored = record.entries.filter(e => e.state === 'restored');
  const cycles = {...record.cycles};
  for (const e of restored) {
    const n = (cycles[e.recordingId] ?? 0) + 1;
    delete cycles[e.recordingId]; // re-inserted last: the oldest are dropped first
    cycles[e.recordingId] = n;
  }
  const names = Object.keys(cycles);
  for (const name of names.slice(0, Math.max(0, names.length - MAX_CYCLES_KEPT)))
    delete cycles[name];
  if (names.length > 0) record.cycles = cycles;
  const replayed = restored.length;
  record.entries = record.entries.filter(e => e.state !== 'restored');
  record.totals.replayed += replayed;
  return [...byBatch.values()].map(b => ({...b.message, conversationIds: [...b.ids]}));
}

/**
 * The archive date a restore asks for: `holdHours` from now, long enough for
 * the replay, the export and a retry, but an hour before the recording's
 * delete date when that comes first; undefined when the delete date leaves
 * less than two hours (no restore would be exported in time).
 */
export function restoreUntil(
  nowMs: number,
  holdHours: number,
  deleteDate?: string,
): string | undefined {
  let until = nowMs + holdHours * 3_600_000;
  const deleteMs = deleteDate ? Date.parse(deleteDate) : NaN;
  if (Number.isFinite(deleteMs)) until = Math.min(until, deleteMs - 3_600_000);
  return until - nowMs >= 3_600_000 ? new Date(until).toISOString() : undefined;
}

/** An operator's or the tick's request: `{"restore":{"day":"YYYY-MM-DD"}}` queues a decided day. */
export function parseRestoreRequest(value: unknown): {day: Day} {
  if (!isObject(value)) throw new InputError('"restore" must be an object: {"day":"YYYY-MM-DD"}');
  const extra = Object.keys(value).filter(k => k !== 'day');
  if (extra.length > 0)
    throw new InputError(`"restore" takes only "day"; also got ${extra.slice(0, 3).join(', ')}`);
  if (typeof value.day !== 'string' || !isValidDay(value.day))
    throw new InputError('"restore.day" must be a day, YYYY-MM-DD');
  return {day: value.day};
}
