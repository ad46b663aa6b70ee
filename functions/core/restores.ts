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
 * This module holds the record's and the inbox's shapes, their validation,
 * what a decided outcome queues, and the decisions of a tick. No I/O.
 */
import type {DayOutcome} from './day-outcome';
import {InputError} from './errors';
import {isGenesysId, isToken} from './ids';
import {BatchMessage, MAX_CLIENT_INDEX} from './messages';
import {Day, isValidDay} from './time-window';

/** A recording's place in a restore: queued, asked for, or restored and waiting for its replay. */
export type RestoreState = 'queued' | 'requested' | 'restored';

export interface RestoreEntry {
  day: Day;
  runId: string;
  batchId: string;
  /** The OAuth client the batch used: its replay stays on it. */
  client?: number;
  conversationId: string;
  recordingId: string;
  state: RestoreState;
  queuedAt: string;
  /** When its first restore was asked for (a restore not done in RESTORE_HOLD_HOURS is given up). */
  firstRequestedAt?: string;
  requestedAt?: string;
  /** When its state was last read from Genesys Cloud. */
  checkedAt?: string;
  restoredAt?: string;
  /** When Genesys Cloud archives the restored copy again. */
  expiresAt?: string;
  /** Restores asked for (a restored copy that lapsed before its export is asked for again). */
  requests: number;
}

/** A recording no restore can bring back: the reason stays a gap of its day. */
export interface RefusedRestore {
  day: Day;
  conversationId: string;
  recordingId: string;
  reason: string;
  at: string;
}

export interface RestoreRecord {
  kind: 'restores';
  version: 1;
  updatedAt: string;
  /** The recordings being restored: at most RESTORE_OUTSTANDING. */
  entries: RestoreEntry[];
  /** The latest refusals (at most {@link MAX_REFUSED_KEPT}), newest last. */
  refused: RefusedRestore[];
  /**
   * Recordings replayed after a restore, and how many times (the latest
   * {@link MAX_CYCLES_KEPT}): one queued again after {@link MAX_RESTORE_CYCLES}
   * replays is refused, so a recording Genesys calls restored but the worker
   * still finds archived cannot go round for ever.
   */
  cycles?: Record<string, number>;
  totals: {requested: number; restored: number; replayed: number; refused: number; lapsed: number};
}

/** One decided outcome's recordings awaiting a restore, per batch: what the tick takes in. */
export interface RestoreInbox {
  kind: 'restore-inbox';
  version: 1;
  day: Day;
  runId: string;
  queuedAt: string;
  batches: Array<{
    batchId: string;
    client?: number;
    recordings: Array<{conversationId: string; recordingId: string}>;
  }>;
}

export const MAX_REFUSED_KEPT = 200;
/** Recordings one queue file holds at most (about 11 MB). */
export const MAX_QUEUED_PER_FILE = 100_000;
export const MAX_CYCLES_KEPT = 5000;
/** Replays after a restore before a recording still not exported is refused. */
export const MAX_RESTORE_CYCLES = 3;
/** Restores asked for one recording (each RESTORE_POLL_SECONDS apart at least) before it is refused. */
export const MAX_RESTORE_REQUESTS = 3;

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

export function emptyRestoreRecord(nowMs: number): RestoreRecord {
  return {
    kind: 'restores',
    version: 1,
    updatedAt: new Date(nowMs).toISOString(),
    entries: [],
    refused: [],
    totals: {requested: 0, restored: 0, replayed: 0, refused: 0, lapsed: 0},
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown) => typeof v === 'string' && Number.isFinite(Date.parse(v));
const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isClient = (v: unknown) => isCount(v) && (v as number) <= MAX_CLIENT_INDEX;

/** Why `value` is not a restore record the planner wrote (empty: it is one). */
export function restoreRecordProblems(value: unknown): string[] {
  if (!isObject(value)) return ['not a JSON object'];
  const problems: string[] = [];
  if (value.kind !== 'restores' || value.version !== 1)
    problems.push('kind/version not restores/1');
  if (!Array.isArray(value.entries)) problems.push('entries is not a list');
  else
    value.entries.forEach((e: unknown, i) => {
      if (!entryOk(e)) problems.push(`entries[${i}] is not a restore entry`);
    });
  if (!Array.isArray(value.refused)) problems.push('refused is not a list');
  if (
    value.cycles !== undefined &&
    (!isObject(value.cycles) || !Object.values(value.cycles).every(isCount))
  )
    problems.push('cycles are not counts');
  const t = value.totals;
  if (
    !isObject(t) ||
    !['requested', 'restored', 'replayed', 'refused', 'lapsed'].every(k => isCount(t[k]))
  )
    problems.push('totals are not counts');
  return problems.slice(0, 5);
}

function entryOk(e: unknown): boolean {
  return (
    isObject(e) &&
    typeof e.day === 'string' &&
    isValidDay(e.day) &&
    isToken(e.runId) &&
    isToken(e.batchId) &&
    isGenesysId(e.conversationId) &&
    isGenesysId(e.recordingId) &&
    (e.state === 'queued' || e.state === 'requested' || e.state === 'restored') &&
    isTime(e.queuedAt) &&
    isCount(e.requests) &&
    (e.client === undefined || isClient(e.client))
  );
}

/** Why `value` is not an inbox file the checker (or `grm restore`) wrote (empty: it is one). */
export function restoreInboxProblems(value: unknown): string[] {
  if (!isObject(value)) return ['not a JSON object'];
  if (value.kind !== 'restore-inbox' || value.version !== 1)
    return ['kind/version not restore-inbox/1'];
  if (typeof value.day !== 'string' || !isValidDay(value.day)) return ['day is not a day'];
  if (!isToken(value.runId) || !isTime(value.queuedAt)) return ['runId or queuedAt missing'];
  if (!Array.isArray(value.batches)) return ['batches is not a list'];
  for (const b of value.batches as unknown[]) {
    if (!isObject(b) || !isToken(b.batchId) || !Array.isArray(b.recordings))
      return ['a batch is not {batchId, recordings}'];
    if (b.client !== undefined && !isClient(b.client)) return ['a batch client is not an index'];
    for (const r of b.recordings as unknown[])
      if (!isObject(r) || !isGenesysId(r.conversationId) || !isGenesysId(r.recordingId))
        return ['a recording is not {conversationId, recordingId}'];
  }
  return [];
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
        // Outstanding already; a newer run of its day (a rerun) gets its replay.
        if (entry.runId !== inbox.runId || entry.batchId !== b.batchId) {
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
 * read, then asked for), then requested ones not checked for `pollMs`, oldest
 * check first; at most `callsPerTick` (a queued entry costs two calls).
 */
export function entriesToVisit(
  record: RestoreRecord,
  nowMs: number,
  pacing: RestorePacing,
): RestoreEntry[] {
  const out: RestoreEntry[] = [];
  let calls = 0;
  for (const e of record.entries) {
    if (e.state !== 'queued' || calls + 2 > pacing.callsPerTick) continue;
    out.push(e);
    calls += 2;
  }
  const due = record.entries
    .filter(
      e =>
        e.state === 'requested' &&
        (e.checkedAt === undefined || nowMs - Date.parse(e.checkedAt) >= pacing.pollMs),
    )
    .sort((a, b) => Date.parse(a.checkedAt ?? a.queuedAt) - Date.parse(b.checkedAt ?? b.queuedAt));
  for (const e of due) {
    if (calls + 1 > pacing.callsPerTick) break;
    out.push(e);
    calls += 1;
  }
  return out;
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
