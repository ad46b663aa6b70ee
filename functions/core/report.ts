/**
 * The batch report: the product's proof of what a batch did. The checker
 * builds each day's _SUCCESS/_FAILURE from these, so every recording appears
 * with its outcome, object, size and checksums, or its reason.
 */
import type {ObjectRetention, StoredObject} from '../ports';
import {RECORDING_TYPES, RecordingType} from './content-types';
import type {ConversationAttributes} from './conversation-attributes';
import {ordered} from './canonical';

/** An object as the export stored it: what `grm verify` holds the bucket against later. */
export interface StoredCopy {
  generation: string;
  size: number;
  md5Hash: string;
  crc32c: string;
  retention?: ObjectRetention;
}

export function storedCopy(o: StoredObject): StoredCopy {
  return {
    generation: o.generation,
    size: o.size,
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    ...(o.retention ? {retention: o.retention} : {}),
  };
}

export interface ReportRecording {
  recordingId: string;
  type?: RecordingType;
  media?: string;
  fileState?: string;
  outcome: 'exported' | 'skipped' | 'failed';
  reason?: string;
  object?: string;
  contentType?: string;
  size?: number;
  md5Hash?: string;
  crc32c?: string;
  /**
   * The object's generation as exported, what `grm verify` holds the bucket
   * against (absent from reports written before it was recorded).
   */
  generation?: string;
  /** Its retention as written, when retention is on. */
  retention?: ObjectRetention;
}

/**
 * A recording as an export attempt leaves it: the report's fields and one
 * the worker alone reads. `retryable` says whether a later attempt of the
 * same batch could fix its failure (a download or upload error), so the
 * worker asks for a redelivery instead of reporting; it is never written,
 * neither into the report (`reportConversations`) nor into the metadata
 * document.
 */
export interface ExportRecording extends ReportRecording {
  /** A later attempt of the same batch could fix it (download or upload error). */
  retryable?: boolean;
}

/** A conversation as an export attempt leaves it: the report's, its recordings `ExportRecording`s. */
export interface ExportConversation extends Omit<ReportConversation, 'recordings'> {
  recordings: ExportRecording[];
}

export interface ReportConversation {
  conversationId: string;
  conversationStart?: string;
  /** Why the conversation itself could not be read. */
  error?: string;
  metadataObject?: string;
  /**
   * The metadata document as stored, what `grm verify` checks it against
   * (absent from reports written before it was recorded).
   */
  metadataStored?: StoredCopy;
  /**
   * What the analytics record says of the conversation (direction, divisions,
   * wrap-up codes, participants): the recordings index's columns. Absent in
   * reports written before it existed and for conversations Genesys does not know.
   */
  attributes?: ConversationAttributes;
  recordings: ReportRecording[];
}

export interface TypeTotals {
  expected: number;
  exported: number;
  skipped: number;
  failed: number;
  /** Day totals only: failed recordings an operator waived (not in `failed`). */
  waived?: number;
  bytes: number;
}

export interface BatchReport {
  kind: 'batch-report';
  version: 1;
  day: string;
  runId?: string;
  batchId: string;
  messageId: string;
  attempt: number;
  /** complete: every recording accounted for; failed: the batch itself could not run. */
  status: 'complete' | 'failed';
  /**
   * Written by a final attempt before it exports: the batch's outcome if that
   * attempt dies. The checker waits while a report is provisional; the
   * attempt's own report, or the next delivery's, replaces it.
   */
  provisional?: true;
  error?: string;
  oauthClient?: number;
  /** The metadata mode the batch ran in (complete reports): `full` or `lean`. */
  metadataMode?: 'full' | 'lean';
  /** METADATA=lean was configured and the batch ran in full mode: why (core/lean-notes.ts). */
  leanRefused?: string;
  /** Genesys requests the batch's attempt sent (complete reports): what a migration counts. */
  genesysRequests?: number;
  startedAt: string;
  finishedAt: string;
  conversations: ReportConversation[];
  totals: Record<RecordingType, TypeTotals> & {
    conversationsWithoutRecordings: number;
    conversationErrors: number;
  };
}

export function emptyTotals(): TypeTotals {
  return {expected: 0, exported: 0, skipped: 0, failed: 0, bytes: 0};
}

/** Counts one recording into `totals`. */
export function countRecording(
  totals: TypeTotals,
  r: Pick<ReportRecording, 'outcome' | 'size'>,
): void {
  totals.expected++;
  totals[r.outcome]++;
  if (r.outcome === 'exported') totals.bytes += r.size ?? 0;
}

export function totalsOf(conversations: ReportConversation[]): BatchReport['totals'] {
  const totals = Object.fromEntries(RECORDING_TYPES.map(t => [t, emptyTotals()])) as Record<
    RecordingType,
    TypeTotals
  >;
  let empty = 0;
  let errors = 0;
  for (const c of conversations) {
    if (c.error) errors++;
    else if (c.recordings.length === 0) empty++;
    for (const r of c.recordings) countRecording(totals[r.type ?? 'call'], r);
  }
  return {...totals, conversationsWithoutRecordings: empty, conversationErrors: errors};
}

/** Does the export leave anything that a retry of the same batch could fix? */
export function hasRetryableFailures(conversations: readonly ExportConversation[]): boolean {
  return conversations.some(c =>
    c.recordings.some(r => r.outcome === 'failed' && r.retryable === true),
  );
}

/** The export's conversations as the report records them: without what only the worker reads. */
export function reportConversations(
  conversations: readonly ExportConversation[],
): ReportConversation[] {
  return conversations.map(c => ({
    ...c,
    recordings: c.recordings.map(({retryable: _r, ...rest}) => rest),
  }));
}

/**
 * The report a replay of some of a batch's conversations leaves: the fresh
 * outcomes of those conversations over the batch's earlier report of the same
 * run, so a replay of the gaps alone never drops what was already exported.
 */
export function mergeReplayReport(
  existing: BatchReport | undefined,
  fresh: BatchReport,
): BatchReport {
  if (!existing || existing.runId !== fresh.runId || existing.batchId !== fresh.batchId)
    return fresh;
  const replayed = new Set(fresh.conversations.map(c => c.conversationId));
  const kept = existing.conversations.filter(c => !replayed.has(c.conversationId));
  if (kept.length === 0) return fresh;
  const conversations = [...kept, ...fresh.conversations];
  return {...fresh, conversations, totals: totalsOf(conversations)};
}

/** Whether a stored object is a usable report of `batchId` (anything else is not trusted). */
export function isReport(value: unknown, batchId: string): value is BatchReport {
  const r = value as Partial<BatchReport> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.kind === 'batch-report' &&
    r.batchId === batchId &&
    Array.isArray(r.conversations) &&
    (r.status === 'complete' || r.status === 'failed')
  );
}

const REPORT_ORDER: readonly (keyof BatchReport)[] = [
  'kind',
  'version',
  'day',
  'runId',
  'batchId',
  'messageId',
  'attempt',
  'status',
  'provisional',
  'error',
  'oauthClient',
  'metadataMode',
  'leanRefused',
  'genesysRequests',
  'startedAt',
  'finishedAt',
  'conversations',
  'totals',
];
const CONVERSATION_ORDER: readonly (keyof ReportConversation)[] = [
  'conversationId',
  'conversationStart',
  'error',
  'metadataObject',
  'metadataStored',
  'attributes',
  'recordings',
];
const RECORDING_ORDER: readonly (keyof ReportRecording)[] = [
  'recordingId',
  'type',
  'media',
  'fileState',
  'outcome',
  'reason',
  'object',
  'contentType',
  'size',
  'md5Hash',
  'crc32c',
  'generation',
  'retention',
];
const COPY_ORDER: readonly (keyof StoredCopy)[] = [
  'generation',
  'size',
  'md5Hash',
  'crc32c',
  'retention',
];

/**
 * The report with its fields in one fixed order: a report that records the
 * same export is the same text, however its conversations were assembled
 * (a metadata document written or found, a replay merged).
 */
export function canonicalReport(report: BatchReport): BatchReport {
  return ordered(
    {
      ...report,
      conversations: report.conversations.map(c =>
        ordered(
          {
            ...c,
            ...(c.metadataStored ? {metadataStored: ordered(c.metadataStored, COPY_ORDER)} : {}),
            recordings: c.recordings.map(r => ordered(r, RECORDING_ORDER)),
          },
          CONVERSATION_ORDER,
        ),
      ),
    },
    REPORT_ORDER,
  );
}
