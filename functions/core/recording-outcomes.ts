/**
 * The outcome rules of a recording being exported: what its file state alone
 * decides, what its conversation's recording metadata lists, what a failed
 * download or a spent deadline leaves, and what an exported recording
 * records of the object that holds it. Pure: the export's stages apply them.
 */
import {recordingType} from './content-types';
import {PermanentError} from './errors';
import type {ExportConversation, ExportRecording} from './report';
import type {RecordingMeta, StoredObject} from '../ports';

/** A recording of a conversation, as the export's stages pass it along. */
export interface ConversationRecording {
  c: ExportConversation;
  r: ExportRecording;
}

/** What archived recordings may count as (ARCHIVED_POLICY). */
export type ArchivedPolicy = 'restore' | 'fail' | 'skip';

/**
 * What an archived (or restoring) recording's reason says under
 * ARCHIVED_POLICY=restore: the checker queues it for the planner's restores.
 */
export const RESTORE_REQUESTED =
  'restore requested by the pipeline; exported once Genesys Cloud has restored it';

/** The reason a recording carries until a stage settles it. */
export const PENDING_DOWNLOAD = 'pending download';

export const DEADLINE_REASON =
  'the batch reached its deadline (BATCH_DEADLINE_MS) before this recording was stored';

/** The outcome a recording gets from its file state alone, or undefined if it should be downloaded. */
export function outcomeFromState(
  meta: RecordingMeta,
  archivedPolicy: ArchivedPolicy,
): Pick<ExportRecording, 'outcome' | 'reason'> | undefined {
  switch (meta.fileState) {
    case 'AVAILABLE':
    case 'RESTORED':
      return undefined;
    case 'DELETED':
      return {outcome: 'skipped', reason: 'deleted at the source (fileState DELETED)'};
    case 'ARCHIVED':
      if (archivedPolicy === 'skip')
        return {
          outcome: 'skipped',
          reason: 'archived at the source; skipped by ARCHIVED_POLICY=skip',
        };
      return {
        outcome: 'failed',
        reason:
          archivedPolicy === 'restore'
            ? `archived at the source (fileState ARCHIVED): ${RESTORE_REQUESTED}`
            : 'archived at the source (fileState ARCHIVED): restore it, then replay',
      };
    case 'RESTORING':
      return {
        outcome: 'failed',
        reason:
          archivedPolicy === 'restore'
            ? `being restored from the archive (fileState RESTORING): ${RESTORE_REQUESTED}`
            : 'being restored from the archive (fileState RESTORING): replay later',
      };
    case 'UPLOADING':
      return {
        outcome: 'failed',
        reason: 'still uploading at the source (fileState UPLOADING): replay later',
      };
    case 'ERROR':
      return {outcome: 'failed', reason: 'in an error state at the source (fileState ERROR)'};
    default:
      return {outcome: 'failed', reason: `unexpected fileState ${String(meta.fileState)}`};
  }
}

/**
 * A conversation's recordings from its recording metadata (undefined:
 * Genesys does not know it): each pending its download, or with the outcome
 * its media type or file state decides.
 */
export function recordingsFromMetadata(
  conversationId: string,
  list: RecordingMeta[] | undefined,
  archivedPolicy: ArchivedPolicy,
): ExportConversation {
  const conv: ExportConversation = {conversationId, recordings: []};
  if (list === undefined) {
    conv.error = 'conversation not found in Genesys Cloud';
    return conv;
  }
  for (const meta of list) {
    const type = recordingType(meta.media);
    const base: ExportRecording = {
      recordingId: meta.id,
      type,
      media: meta.media,
      fileState: meta.fileState,
      outcome: 'failed',
    };
    if (!type) {
      conv.recordings.push({...base, reason: `unsupported media type "${String(meta.media)}"`});
      continue;
    }
    const fromState = outcomeFromState(meta, archivedPolicy);
    conv.recordings.push(fromState ? {...base, ...fromState} : {...base, reason: PENDING_DOWNLOAD});
  }
  return conv;
}

/** A recording that failed with `err`: a later attempt may fix it unless the error is permanent. */
export function failedWith(
  err: unknown,
  context = '',
): Pick<ExportRecording, 'outcome' | 'retryable' | 'reason'> {
  return {
    outcome: 'failed',
    retryable: !(err instanceof PermanentError),
    reason: `${context}${err instanceof Error ? err.message : String(err)}`,
  };
}

/** A recording the batch's deadline left unstored: the next attempt may store it. */
export const OUT_OF_TIME: Readonly<Pick<ExportRecording, 'outcome' | 'retryable' | 'reason'>> = {
  outcome: 'failed',
  retryable: true,
  reason: DEADLINE_REASON,
};

/** Records on `r` that `o` holds it: exported, with the object's name, size and checksums. */
export function markExported(r: ExportRecording, o: StoredObject): void {
  Object.assign(r, {
    outcome: 'exported',
    object: o.name,
    contentType: o.contentType,
    size: o.size,
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    generation: o.generation,
    ...(o.retention ? {retention: o.retention} : {}),
  });
  delete r.reason;
}
