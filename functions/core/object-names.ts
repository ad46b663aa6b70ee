/**
 * Where everything lands in the bucket (docs/how-it-works.md). Names are built only from
 * configuration (env), validated days and validated Genesys ids.
 */
import {createHash} from 'node:crypto';
import type {RecordingType} from './content-types';
import {Day, isValidDay} from './time-window';

export function dayPrefix(env: string, day: Day): string {
  return `${env}/${day}/`;
}

export function recordingObjectName(
  env: string,
  day: Day,
  type: RecordingType,
  conversationId: string,
  recordingId: string,
  ext: string,
): string {
  return `${recordingObjectStem(env, day, type, conversationId, recordingId)}${ext}`;
}

/** Where every recording of one type of a conversation lands: the name up to the recording id. */
export function recordingObjectPrefix(
  env: string,
  day: Day,
  type: RecordingType,
  conversationId: string,
): string {
  return `${env}/${day}/${type}/${conversationId}_`;
}

/** A recording's object name up to its extension: every name it may have starts so. */
export function recordingObjectStem(
  env: string,
  day: Day,
  type: RecordingType,
  conversationId: string,
  recordingId: string,
): string {
  return `${recordingObjectPrefix(env, day, type, conversationId)}${recordingId}.`;
}

/** Where a day's conversation metadata documents land. */
export function metadataFolder(env: string, day: Day): string {
  return `${env}/${day}/metadata/`;
}

export function metadataObjectName(env: string, day: Day, conversationId: string): string {
  return `${metadataFolder(env, day)}${conversationId}.json`;
}

export function planObjectName(env: string, day: Day): string {
  return `${env}/${day}/_manifest/plan.json`;
}

export function runPlanObjectName(env: string, day: Day, runId: string): string {
  return `${env}/${day}/_manifest/runs/${runId}/plan.json`;
}

/** Part `part` of a version-2 plan (core/day-plan.ts): conversation ids of some of its batches. */
export function planPartObjectName(env: string, day: Day, runId: string, part: number): string {
  return `${env}/${day}/_manifest/runs/${runId}/plan-parts/${String(part).padStart(5, '0')}.json`;
}

export function batchReportObjectName(
  env: string,
  day: Day,
  runId: string | undefined,
  batchId: string,
): string {
  return runId === undefined
    ? `${env}/${day}/_manifest/adhoc/${batchId}.json`
    : `${env}/${day}/_manifest/runs/${runId}/batches/${batchId}.json`;
}

/** Deliveries of one Pub/Sub message (a replay is a new message with a fresh budget). */
export function attemptsObjectName(
  env: string,
  day: Day,
  runId: string | undefined,
  batchId: string,
  messageId: string,
): string {
  const id = safeMessageId(messageId);
  return runId === undefined
    ? `${env}/${day}/_manifest/adhoc/attempts/${batchId}-${id}.json`
    : `${env}/${day}/_manifest/runs/${runId}/attempts/${batchId}-${id}.json`;
}

/** Pub/Sub message ids are digits; anything else is neutralised before it nears a name. */
function safeMessageId(messageId: string): string {
  return messageId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'unknown';
}

/**
 * Where a delivery the worker rejected is recorded: the message id made safe
 * (readable, but "coll/1" and "coll.1" both become "coll_1", and deliveries
 * without an id all arrive as "unknown"), then 32 hex digits of a SHA-256 of
 * the exact id and the exact payload as received. So every distinct delivery
 * gets a name of its own, and a redelivery of the same message (same id, same
 * payload) the same name, recorded once. Identical id-less deliveries are, in
 * everything recorded, one delivery.
 * @param payload - the message's payload as text, as recorded
 */
export function rejectedMessageObjectName(env: string, messageId: string, payload = ''): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([messageId, payload]))
    .digest('hex')
    .slice(0, 32);
  return `${env}/_rejected/${safeMessageId(messageId)}-${digest}.json`;
}

export function markerObjectName(env: string, day: Day, kind: '_SUCCESS' | '_FAILURE'): string {
  return `${env}/${day}/${kind}`;
}

/** An operator's waiver of recordings of the day that can never be exported (append-only). */
export function waiverObjectName(env: string, day: Day, waiverId: string): string {
  return `${env}/${day}/_manifest/waivers/${waiverId}.json`;
}

export function waiversPrefix(env: string, day: Day): string {
  return `${env}/${day}/_manifest/waivers/`;
}

/**
 * The day's recordings index (newline-delimited JSON, one row per recording;
 * core/recordings-index.ts), under a Hive-style `day=YYYY-MM-DD` folder of
 * {@link indexPrefix} that the BigQuery external table of infra/bigquery.tf reads.
 */
export function indexObjectName(env: string, day: Day): string {
  return `${indexPrefix(env)}day=${day}/recordings.ndjson`;
}

/** Where every day's index lies: the table's source URI is `gs://BUCKET/{this}*`. */
export function indexPrefix(env: string): string {
  return `${env}/_index/`;
}

/** The checker's ledger of the day's current decision (its outcome and email state). */
export function decisionObjectName(env: string, day: Day): string {
  return `${env}/${day}/_manifest/decision.json`;
}

/**
 * The day's decided records (core/decided-records.ts): every object as a
 * decision first accepted it. Only the checker writes it; its name starts
 * as the ledger's does, so one IAM condition covers both.
 */
export function decisionRecordsObjectName(env: string, day: Day): string {
  return `${env}/${day}/_manifest/decision-records.ndjson`;
}

export function batchReportsPrefix(env: string, day: Day, runId: string): string {
  return `${env}/${day}/_manifest/runs/${runId}/batches/`;
}

/** The objects whose creation can decide a day: its plan, its runs' batch reports, its waivers. */
export type DecisiveObject =
  | {kind: 'plan'; day: Day}
  | {kind: 'waiver'; day: Day}
  | {kind: 'report'; day: Day; runId: string; batchId: string};

const DECISIVE =
  /^(\d{4}-\d{2}-\d{2})\/_manifest\/(?:(plan)\.json|runs\/([A-Za-z0-9_-]{1,64})\/batches\/([A-Za-z0-9_-]{1,64})\.json|(waivers)\/[A-Za-z0-9_-]{1,64}\.json)$/;

/** What an object name means to the checker; undefined for everything it ignores. */
export function classifyObject(env: string, name: string): DecisiveObject | undefined {
  if (!name.startsWith(`${env}/`) || !name.endsWith('.json') || !name.includes('/_manifest/'))
    return undefined;
  const m = DECISIVE.exec(name.slice(env.length + 1));
  if (!m) return undefined;
  const day = m[1]!;
  if (!isValidDay(day)) return undefined;
  if (m[2]) return {kind: 'plan', day};
  if (m[5]) return {kind: 'waiver', day};
  return {kind: 'report', day, runId: m[3]!, batchId: m[4]!};
}

/** A history migration's record (core/migration.ts): one per export env. */
export function migrationObjectName(env: string): string {
  return `${env}/_migration/migration.json`;
}

/** The days planned by the schedule, check-previous or an operator, that a migration yields to. */
export function priorityDaysObjectName(env: string): string {
  return `${env}/_migration/priority-days.json`;
}

/** The restores of archived recordings under way: the planner's record. */
export function restoresObjectName(env: string): string {
  return `${env}/_migration/restores.json`;
}

/** Where decided days' recordings awaiting a restore are queued, a folder per day. */
export function restoreInboxPrefix(env: string): string {
  return `${env}/_migration/restore-inbox/`;
}

/**
 * Where a queue file the planner could not use is kept, out of the queue, for
 * someone to look at (`rest`: its name below the queue's prefix).
 */
export function rejectedInboxObjectName(env: string, rest: string): string {
  return `${env}/_migration/rejected/restore-inbox/${rest}`;
}

/** One decided outcome's queue of recordings awaiting a restore (`fingerprint`: the outcome's). */
export function restoreInboxObjectName(env: string, day: Day, fingerprint: string): string {
  const safe = fingerprint.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  return `${restoreInboxPrefix(env)}${day}/${safe}.json`;
}
