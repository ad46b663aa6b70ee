/**
 * Retention changes and restores of archived recordings, as
 * `PUT /api/v2/conversations/{cid}/recordings/{rid}` makes them.
 *
 * Genesys Cloud documents the route as "updating and removing both archive
 * and delete dates for eligible recordings. A request to change the archival
 * date of an archived recording will result in a restoration of the recording
 * until the new date set". So a restore is: ARCHIVED, then RESTORING for a
 * while (hours, `restoreDelayMs` here), then RESTORED (downloadable, with
 * `restoreExpirationTime`) until the new archive date, then ARCHIVED again.
 * Permissions: a view permission always, `editRetention` for changing
 * retention dates except for a restoration, `restore` for restoring an
 * archived recording.
 *
 * A recording's state is its seeded (or admin-recovered) state with its
 * {@link Retention} laid over it at the organisation's current time, so
 * states move with the clock without anything running in the background.
 */
import {EDIT_RETENTION, RESTORE} from './clients';
import {ApiError} from './errors';
import type {FileState, Recording} from './org';

/** What a PUT changed on one recording, kept by the organisation. */
export interface Retention {
  /** The archive date a PUT set (ms); null: removed. Absent: the seeded one. */
  archiveMs?: number | null;
  /** The delete date a PUT set (ms); null: removed. Absent: the seeded one. */
  deleteMs?: number | null;
  /** A restore was asked for: RESTORING until then, RESTORED until `archiveMs`. */
  restoreReadyMs?: number;
}

/** The body of one PUT: the dates it asks for (undefined: not given). */
export interface RetentionRequest {
  archiveMs?: number | null;
  deleteMs?: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `rec` (its seeded state) as `retention` makes it at `nowMs`. */
export function withRetention(
  rec: Recording,
  retention: Retention | undefined,
  nowMs: number,
): Recording {
  if (!retention) return rec;
  const out: Recording = {...rec};
  if (retention.deleteMs !== undefined) {
    if (retention.deleteMs === null) delete out.deleteDate;
    else out.deleteDate = iso(retention.deleteMs);
  }
  const {archiveMs, restoreReadyMs} = retention;
  if (archiveMs === null) delete out.archiveDate;
  if (typeof archiveMs !== 'number') return out;
  out.archiveDate = iso(archiveMs);
  delete out.restoreExpirationTime;
  if (nowMs >= archiveMs) {
    // Archived by the date a PUT set: scheduled on an available recording, or a restore that lapsed.
    out.fileState = 'ARCHIVED';
    out.archiveMedium = 'CLOUDARCHIVE';
  } else if (restoreReadyMs !== undefined) {
    out.fileState = nowMs < restoreReadyMs ? 'RESTORING' : 'RESTORED';
    out.archiveMedium = 'CLOUDARCHIVE';
    out.restoreExpirationTime = iso(archiveMs);
  }
  return out;
}

/** Validates a PUT body (a `Recording`; only `archiveDate` and `deleteDate` count). */
export function parseRetentionRequest(body: Record<string, unknown>): RetentionRequest {
  return {archiveMs: date(body, 'archiveDate'), deleteMs: date(body, 'deleteDate')};
}

function date(body: Record<string, unknown>, field: string): number | null | undefined {
  const value = body[field];
  if (value === undefined || value === null) return value;
  const ms =
    typeof value === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)
      ? Date.parse(value)
      : NaN;
  if (!Number.isFinite(ms))
    throw new ApiError(
      400,
      'bad.request',
      `${field} must be an ISO-8601 date-time with a zone, e.g. 2026-05-01T00:00:00.000Z.`,
    );
  return ms;
}

/** What a request does to `rec` (its state now): the permissions it needs, or why it is refused. */
export interface Plan {
  /** The request moves the archive date of an archived (or restoring, restored) recording. */
  restores: boolean;
  /** Permissions the caller needs beyond view. */
  needs: string[];
}

/** States whose retention dates a PUT may change. */
const ELIGIBLE: readonly FileState[] = ['AVAILABLE', 'ARCHIVED', 'RESTORING', 'RESTORED'];
const IN_ARCHIVE: readonly FileState[] = ['ARCHIVED', 'RESTORING', 'RESTORED'];

/**
 * Which permissions `request` needs on `rec`, and the 400s for requests the
 * simulator refuses. Only changes count: a date sent back unchanged (a
 * client PUTting the `Recording` it read) asks for nothing.
 */
export function plan(rec: Recording, request: RetentionRequest, nowMs: number): Plan {
  const archiveChanges = changes(request.archiveMs, rec.archiveDate);
  const deleteChanges = changes(request.deleteMs, rec.deleteDate);
  if (!archiveChanges && !deleteChanges) return {restores: false, needs: []};
  if (!ELIGIBLE.includes(rec.fileState))
    throw new ApiError(
      400,
      'bad.request',
      `Recording ${rec.id} is ${rec.fileState}; its retention dates cannot be changed.`,
    );
  const restores = archiveChanges && IN_ARCHIVE.includes(rec.fileState);
  if (archiveChanges && request.archiveMs === null && restores)
    throw new ApiError(
      400,
      'bad.request',
      `Recording ${rec.id} is ${rec.fileState}: to restore it, set a later archiveDate.`,
    );
  if (archiveChanges && typeof request.archiveMs === 'number' && request.archiveMs <= nowMs)
    throw new ApiError(400, 'bad.request', 'archiveDate must lie in the future.');
  if (deleteChanges && typeof request.deleteMs === 'number' && request.deleteMs <= nowMs)
    throw new ApiError(400, 'bad.request', 'deleteDate must lie in the future.');
  const needs: string[] = [];
  if (restores) needs.push(RESTORE);
  if (deleteChanges || (archiveChanges && !restores)) needs.push(EDIT_RETENTION);
  return {restores, needs};
}

/**
 * The recording's retention after an accepted request. A restore of an
 * ARCHIVED recording starts now and takes `restoreDelayMs`; one already
 * RESTORING or RESTORED keeps its progress (only the date it stays restored
 * until moves). A restored recording the organisation started with (or that
 * `/_admin/recover` restored) has no restore to keep: it counts as restored now.
 */
export function applyRequest(
  rec: Recording,
  previous: Retention | undefined,
  request: RetentionRequest,
  p: Plan,
  nowMs: number,
  restoreDelayMs: number,
): Retention {
  const next: Retention = {...previous};
  if (changes(request.deleteMs, rec.deleteDate)) next.deleteMs = request.deleteMs;
  if (!changes(request.archiveMs, rec.archiveDate)) return next;
  next.archiveMs = request.archiveMs;
  if (!p.restores) {
    delete next.restoreReadyMs;
  } else if (rec.fileState === 'ARCHIVED') {
    next.restoreReadyMs = nowMs + restoreDelayMs;
  } else if (next.restoreReadyMs === undefined) {
    next.restoreReadyMs = rec.fileState === 'RESTORED' ? nowMs : nowMs + restoreDelayMs;
  }
  return next;
}

/** Whether a requested date (undefined: not given, null: remove) differs from the current one. */
function changes(requested: number | null | undefined, current: string | undefined): boolean {
  if (requested === undefined) return false;
  if (requested === null) return current !== undefined;
  return current === undefined || requested !== Date.parse(current);
}
