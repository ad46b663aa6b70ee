/**
 * Where everything lands in the bucket (SPEC §4). Names are built only from
 * configuration (env), validated days and validated Genesys ids.
 */
import type {RecordingType} from './content-types';
import type {Day} from './time-window';

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
  return `${env}/${day}/${type}/${conversationId}_${recordingId}.${ext}`;
}

export function metadataObjectName(env: string, day: Day, conversationId: string): string {
  return `${env}/${day}/metadata/${conversationId}.json`;
}

export function planObjectName(env: string, day: Day): string {
  return `${env}/${day}/_manifest/plan.json`;
}

export function runPlanObjectName(env: string, day: Day, runId: string): string {
  return `${env}/${day}/_manifest/runs/${runId}/plan.json`;
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

export function rejectedMessageObjectName(env: string, messageId: string): string {
  return `${env}/_rejected/${safeMessageId(messageId)}.json`;
}

export function markerObjectName(env: string, day: Day, kind: '_SUCCESS' | '_FAILURE'): string {
  return `${env}/${day}/${kind}`;
}
