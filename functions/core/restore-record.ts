/**
 * The restore record the planner keeps (`_migration/restores.json`) and the
 * inbox files the checker and `grm restore` queue
 * (`_migration/restore-inbox/DAY/…`): their shapes, limits and validation.
 * The decisions over them are core/restores.ts. No I/O.
 */
import {isGenesysId, isToken} from './ids';
import {MAX_CLIENT_INDEX} from './messages';
import {MonthlyCalls, isMonthlyCalls} from './monthly-calls';
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
  /**
   * Genesys calls the restores made, per calendar month (UTC, `YYYY-MM`): a
   * history migration's monthly call cap counts them with its own.
   */
  calls?: MonthlyCalls;
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

/** How many recordings a queue file's batches hold. */
export function inboxRecordings(batches: RestoreInbox['batches']): number {
  return batches.reduce((n, b) => n + b.recordings.length, 0);
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

export const isObject = (v: unknown): v is Record<string, unknown> =>
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
  if (value.calls !== undefined && !isMonthlyCalls(value.calls))
    problems.push('calls are not a map of months to counts');
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
    (['firstRequestedAt', 'requestedAt', 'checkedAt', 'restoredAt', 'expiresAt'] as const).every(
      k => e[k] === undefined || isTime(e[k]),
    ) &&
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
