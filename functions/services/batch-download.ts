/**
 * Downloads a batch's pending recordings through Genesys batch download
 * requests: one round of requests (all submitted at once, each polled to
 * completion or the poll deadline), each recording's result copied into GCS
 * (services/recording-copy.ts), then further rounds, by recording, only for
 * results whose URLs expired. Every recording leaves with an outcome: what
 * its results decide without a download (core/batch-results.ts), its copy,
 * or why the copy failed; at the batch's deadline, a retryable failure.
 *
 * How long completed requests took per item is remembered for the life of
 * the instance: it says when to poll the next (core/polling.ts).
 */
import {PermanentError} from '../core/errors';
import {
  BatchItem,
  BatchResults,
  RequestAnswer,
  batchItems,
  batchRequests,
  gatherResults,
  resultVerdict,
} from '../core/batch-results';
import {firstPollDelay, learnMsPerItem, nextPollDelay} from '../core/polling';
import {ConversationRecording, OUT_OF_TIME, failedWith} from '../core/recording-outcomes';
import type {Logger} from '../logger';
import type {BatchStatus, Clock, GenesysSession, RecordingMeta} from '../ports';
import type {ExporterSettings} from './exporter';
import {mapLimit} from './objects';
import {RecordingCopy, UrlExpired} from './recording-copy';

/** Rounds of re-submission for results whose URLs expired. */
const MAX_RESUBMIT_ROUNDS = 2;

export interface BatchDownloadDeps {
  settings: Pick<ExporterSettings, 'batchPollDeadlineMs' | 'downloadConcurrency'>;
  copy: RecordingCopy;
  clock: Clock;
  logger: Logger;
}

export class BatchDownload {
  /** What completed batch download requests took, per item (ms): when to poll the next. */
  private msPerItem: number | undefined;

  constructor(private readonly deps: BatchDownloadDeps) {}

  /**
   * Downloads every pending recording: one round of batch download requests
   * (a conversation whose every recording is pending is asked for by its id
   * alone, so a batch of 100 conversations is one request however many
   * recordings it holds), then further rounds, by recording, only for results
   * whose URLs expired. `prefetched`: the first round's results, already
   * requested (lean mode's listing).
   */
  async download(
    session: GenesysSession,
    day: string,
    pending: ConversationRecording[],
    metas: Map<string, RecordingMeta[] | undefined>,
    signal: AbortSignal | undefined,
    prefetched: BatchResults | undefined,
  ): Promise<void> {
    const outOfTime = (items: typeof pending) => {
      for (const {r} of items) Object.assign(r, OUT_OF_TIME);
    };
    let todo = pending;
    for (let round = 0; todo.length > 0 && round <= MAX_RESUBMIT_ROUNDS; round++) {
      if (signal?.aborted) {
        outOfTime(todo);
        return;
      }
      // Lean mode's first round already has every result of its conversations.
      const results =
        round === 0 && prefetched
          ? prefetched
          : await this.request(session, batchItems(todo, round === 0 ? metas : undefined), signal);
      const expired: typeof todo = [];
      await mapLimit(todo, this.deps.settings.downloadConcurrency, async item => {
        if (signal?.aborted) {
          outOfTime([item]);
          return;
        }
        const verdict = resultVerdict(results, item.c.conversationId, item.r.recordingId);
        if (verdict.failed) {
          Object.assign(item.r, verdict.failed);
          return;
        }
        try {
          await this.deps.copy.copy(day, item.c, item.r, verdict.download, signal);
        } catch (err) {
          if (err instanceof UrlExpired) expired.push(item);
          else if (signal?.aborted && !(err instanceof PermanentError)) outOfTime([item]);
          else Object.assign(item.r, failedWith(err));
        }
      });
      todo = expired;
    }
    for (const {r} of todo)
      Object.assign(r, {
        outcome: 'failed',
        retryable: true,
        reason: 'download URL kept expiring before it could be used',
      });
  }

  /** Submits the items in requests of at most 100, all at once, and polls them to completion. */
  async request(
    session: GenesysSession,
    items: BatchItem[],
    signal: AbortSignal | undefined,
  ): Promise<BatchResults> {
    const chunks = batchRequests(items);
    const answers = await Promise.allSettled(chunks.map(c => this.run(session, c, signal)));
    return gatherResults(chunks, answers);
  }

  /** Submits one batch download request and polls it until complete or the deadline. */
  private async run(
    session: GenesysSession,
    items: BatchItem[],
    signal: AbortSignal | undefined,
  ): Promise<RequestAnswer> {
    const {clock} = this.deps;
    const jobId = await session.submitBatch(items);
    const submitted = clock.now();
    const deadline = submitted + this.deps.settings.batchPollDeadlineMs;
    let delay = firstPollDelay(items.length, this.msPerItem);
    let lastCount = -1;
    /** When a poll last found it unfinished (ms after submitting): it completed after that. */
    let unfinishedAt = 0;
    let last: BatchStatus | undefined;
    for (;;) {
      if (clock.now() + delay > deadline) {
        this.deps.logger.warn('batch download request did not complete before the deadline', {
          jobId,
          ...(last ? {results: last.results.length, expected: last.expectedResultCount} : {}),
        });
        return {results: last?.results ?? [], completed: false};
      }
      await clock.sleep(delay);
      const status = (last = await session.batchStatus(jobId));
      const done =
        status.status === 'Completed' ||
        // Without a status: the same complete count on two polls (the expected count can grow).
        (status.status === undefined &&
          status.resultCount === status.expectedResultCount &&
          status.resultCount === lastCount);
      if (done) {
        // It completed between the last poll that found it unfinished and this one.
        const tookMs = (unfinishedAt + (clock.now() - submitted)) / 2;
        this.msPerItem = learnMsPerItem(this.msPerItem, items.length, tookMs);
        return {results: status.results, completed: true};
      }
      if (signal?.aborted) return {results: status.results, completed: false};
      lastCount = status.resultCount ?? -1;
      unfinishedAt = clock.now() - submitted;
      delay = nextPollDelay(unfinishedAt, status.expectedResultCount, status.resultCount, delay);
    }
  }
}
