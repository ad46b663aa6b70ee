/**
 * Batch download requests as data: the items that ask for a batch's pending
 * recordings, cut into requests of at most 100; the results of a round of
 * requests gathered per recording and per conversation; and what a
 * recording's results decide, a result to download or the outcome it gets
 * without one. Pure: services/batch-download.ts submits, polls and downloads.
 */
import {ConversationRecording, failedWith} from './recording-outcomes';
import type {ExportRecording} from './report';
import type {BatchResult, RecordingMeta} from '../ports';

/** Items per batch download request (a Genesys limit). */
const MAX_BATCH_ITEMS = 100;

/** One item of a batch download request: a recording, or every recording of a conversation. */
export type BatchItem = {conversationId: string; recordingId?: string};

/** What one request came to: its results so far, and whether it completed. */
export interface RequestAnswer {
  results: BatchResult[];
  completed: boolean;
}

/** The results of a round of batch download requests. */
export interface BatchResults {
  /** The best result per recording (a good one wins over an error). */
  byRecording: Map<string, BatchResult>;
  /** Every result per conversation. */
  byConversation: Map<string, BatchResult[]>;
  /** Conversations whose request did not complete: a missing result may still come. */
  incomplete: Set<string>;
  /** Conversations whose request could not be made, and why. */
  refused: Map<string, unknown>;
}

/**
 * The items that ask for `todo`: a conversation whose recordings (per its
 * metadata) are all to be downloaded is asked for by its id alone, the rest
 * recording by recording.
 */
export function batchItems(
  todo: readonly ConversationRecording[],
  metas: Map<string, RecordingMeta[] | undefined> | undefined,
): BatchItem[] {
  const wanted = new Map<string, string[]>();
  for (const {c, r} of todo)
    wanted.set(c.conversationId, [...(wanted.get(c.conversationId) ?? []), r.recordingId]);
  const items: BatchItem[] = [];
  for (const [conversationId, recordingIds] of wanted) {
    const all = metas?.get(conversationId);
    if (all && all.length === recordingIds.length && all.every(m => recordingIds.includes(m.id)))
      items.push({conversationId});
    else for (const recordingId of recordingIds) items.push({conversationId, recordingId});
  }
  return items;
}

/** The items cut into requests of at most 100. */
export function batchRequests(items: readonly BatchItem[]): BatchItem[][] {
  const chunks: BatchItem[][] = [];
  for (let i = 0; i < items.length; i += MAX_BATCH_ITEMS)
    chunks.push(items.slice(i, i + MAX_BATCH_ITEMS));
  return chunks;
}

/** The answers to the requests `chunks` (in their order) gathered into one round's results. */
export function gatherResults(
  chunks: readonly BatchItem[][],
  answers: readonly PromiseSettledResult<RequestAnswer>[],
): BatchResults {
  const out: BatchResults = {
    byRecording: new Map(),
    byConversation: new Map(),
    incomplete: new Set(),
    refused: new Map(),
  };
  answers.forEach((answer, k) => {
    const chunk = chunks[k]!;
    if (answer.status === 'rejected') {
      // The other requests' results stand; this one's conversations fail with its reason.
      const err: unknown = answer.reason;
      for (const item of chunk) out.refused.set(item.conversationId, err);
      return;
    }
    const {results, completed} = answer.value;
    if (!completed) for (const item of chunk) out.incomplete.add(item.conversationId);
    for (const r of results) {
      if (!r.conversationId) {
        // A result that names no conversation could be any of them: none is known whole.
        for (const item of chunk) out.incomplete.add(item.conversationId);
        continue;
      }
      out.byConversation.set(r.conversationId, [
        ...(out.byConversation.get(r.conversationId) ?? []),
        r,
      ]);
      if (!r.recordingId) continue;
      // One recording can have several results; a good one wins over an error.
      const prior = out.byRecording.get(r.recordingId);
      if (!prior || (!prior.resultUrl && r.resultUrl)) out.byRecording.set(r.recordingId, r);
    }
  });
  return out;
}

/** What a recording's results decide: the result to download, or its outcome without one. */
export type ResultVerdict =
  | {download: BatchResult; failed?: undefined}
  | {failed: Pick<ExportRecording, 'outcome' | 'retryable' | 'reason'>; download?: undefined};

/** What `results` decide for the recording `recordingId` of `conversationId`. */
export function resultVerdict(
  results: BatchResults,
  conversationId: string,
  recordingId: string,
): ResultVerdict {
  const result = results.byRecording.get(recordingId);
  const refusal = results.refused.get(conversationId);
  if (!result && refusal !== undefined) {
    return {failed: failedWith(refusal, 'the batch download request failed: ')};
  }
  const conversationError = results.byConversation
    .get(conversationId)
    ?.find(r => !r.recordingId && r.errorMsg);
  if (!result && conversationError) {
    return {
      failed: {
        outcome: 'failed',
        reason: `Genesys batch download error: ${conversationError.errorMsg}`,
      },
    };
  }
  if (!result) {
    return {
      failed: results.incomplete.has(conversationId)
        ? {
            outcome: 'failed',
            retryable: true,
            reason: 'the batch download request returned no result for it in time',
          }
        : {
            // What Genesys does, silently, when the client may not see sensitive recordings.
            outcome: 'failed',
            reason:
              'the batch download request completed without a result for it: the OAuth ' +
              'client likely lacks recording:recording:viewSensitiveData (recordings ' +
              'flagged as holding PCI/PII are left out without it)',
          },
    };
  }
  if (result.errorMsg || !result.resultUrl) {
    return {
      failed: {
        outcome: 'failed',
        reason: `Genesys batch download error: ${result.errorMsg ?? 'no resultUrl'}`,
      },
    };
  }
  return {download: result};
}
