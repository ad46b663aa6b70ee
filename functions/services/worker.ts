/**
 * The batch worker's use case: count the delivery, export the batch, write
 * the batch report. Transient trouble is thrown (Pub/Sub redelivers) until
 * the attempt budget is spent; then the failures are written into the report
 * so the day can still be concluded.
 *
 * The final attempt writes a failed report first, before anything that can
 * crash or time out, and then exports once more (its report replaces the
 * failed one); deliveries past the budget only make sure that report exists.
 * Every attempt stops exporting at its deadline (BATCH_DEADLINE_MS) and reports.
 */
import {InputError, PermanentError, PermissionDeniedError, RetryableError} from '../core/errors';
import {adhocBatchId, clientFor} from '../core/batches';
import type {BatchMessage} from '../core/messages';
import {batchReportObjectName} from '../core/object-names';
import {MAX_REPORT_BYTES} from '../core/limits';
import {
  BatchReport,
  canonicalReport,
  hasRetryableFailures,
  isReport,
  mergeReplayReport,
  reportConversations,
  totalsOf,
} from '../core/report';
import {defaultDay} from '../core/time-window';
import type {BatchMetadataMode, ModeReport} from '../core/lean-notes';
import {Logger, addLogContext, withLogContext} from '../logger';
import {Clock, ObjectExistsError, ObjectStore} from '../ports';
import {DeliveryCounter} from './delivery-count';
import {Exporter} from './exporter';
import {recordRejectedMessage} from './rejected-messages';

export interface WorkerDeps {
  env: string;
  maxBatchAttempts: number;
  /** Each attempt stops exporting after this long and reports (ms). */
  batchDeadlineMs: number;
  /** The day windows: a message's day must be past the lag, as the planner's are. */
  timeZone: string;
  windowLagDays: number;
  clientCount: number;
  exporter: Exporter;
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
}

export class BatchWorker {
  constructor(private readonly deps: WorkerDeps) {}

  /**
   * Handles one delivery. Resolves when the report is written; throws to get a redelivery.
   * Every line logged meanwhile, by any service or adapter, carries the batch's day, run id,
   * batch id, message id and (once counted) attempt.
   */
  handle(message: BatchMessage, messageId: string): Promise<BatchReport> {
    const batchId = message.batchId ?? adhocBatchId(message.day, message.conversationIds);
    return withLogContext({day: message.day, runId: message.runId, batchId, messageId}, () =>
      this.process(message, messageId, batchId),
    );
  }

  private async process(
    message: BatchMessage,
    messageId: string,
    batchId: string,
  ): Promise<BatchReport> {
    const {deps} = this;
    this.refuseUnfinishedDay(message.day);
    const counter = new DeliveryCounter(deps, message, batchId, messageId);
    const {attempt, lastError} = await counter.count();
    addLogContext({attempt});
    const d: Delivery = {
      message,
      batchId,
      messageId,
      attempt,
      startedAt: new Date(deps.clock.now()).toISOString(),
    };
    const log = {day: message.day, runId: message.runId, batchId, messageId, attempt};
    const existing = await this.existingReport(d);
    if (existing?.messageId === messageId && !existing.provisional) {
      // A delivery of a message that a finished delivery already reported: nothing to redo.
      deps.logger.info('batch already reported for this message', {
        ...log,
        status: existing.status,
      });
      return existing;
    }
    if (attempt > deps.maxBatchAttempts) return this.pastBudget(d, lastError, existing);
    const final = attempt === deps.maxBatchAttempts;
    if (final) {
      // Written before anything that can crash or time out, so the day can always be concluded:
      // provisional, so the checker waits for what this attempt does (or the next delivery).
      const failed = await this.writeReport({
        ...this.failedReport(
          d,
          gaveUp(
            attempt - 1,
            lastError,
            'the final delivery is exporting once more and replaces this report when it finishes',
          ),
        ),
        provisional: true,
      });
      deps.logger.info('final attempt: a failed report is written first', {
        ...log,
        status: failed.status,
      });
    }
    const clientIndex = clientFor(message, batchId, deps.clientCount);
    deps.logger.info('exporting batch', {...log, conversations: message.conversationIds.length});
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), deps.batchDeadlineMs);
    let report: BatchReport;
    try {
      const result = await deps.exporter.export(message, clientIndex, {
        signal: deadline.signal,
        ...(message.lane ? {lane: message.lane} : {}),
      });
      if (!final && hasRetryableFailures(result.conversations)) {
        throw new RetryableError('some recordings failed with errors a retry may fix', {batchId});
      }
      const conversations = reportConversations(result.conversations);
      report = this.report(d, 'complete', conversations, result.clientIndex, undefined, {
        metadataMode: result.metadataMode,
        ...(result.leanRefused !== undefined ? {leanRefused: result.leanRefused} : {}),
        genesysRequests: result.requests,
      });
    } catch (err) {
      if (err instanceof InputError) {
        // Refused: recorded and acknowledged by the caller. A final attempt's provisional report
        // must not outlive it (the checker would wait for it forever): it becomes final.
        if (final) await this.writeReport(this.failedReport(d, `batch refused: ${err.message}`));
        throw err;
      }
      if (err instanceof RetryableError && !final) {
        deps.logger.warn('batch will be retried', {...log, reason: err.message, error: err});
        await counter.noteError(attempt, err.message);
        throw err;
      }
      const reason = err instanceof Error ? err.message : String(err);
      deps.logger.error('batch failed; writing a failed report', {
        ...log,
        reason,
        permanent: err instanceof PermanentError,
        error: err,
      });
      report = this.failedReport(d, final ? gaveUp(attempt, reason) : reason);
    } finally {
      clearTimeout(timer);
    }
    report = await this.writeReport(report);
    // `event`, `seconds` and `totals` feed the dashboard's log-based metrics (infra/dashboard.tf).
    deps.logger.info('batch report written', {
      ...log,
      event: 'batch_reported',
      status: report.status,
      seconds: (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000,
      totals: report.totals,
    });
    return report;
  }

  /**
   * A message whose day is not yet past the lag is refused, as the planner
   * refuses it: its conversations may still be changing.
   */
  private refuseUnfinishedDay(day: string): void {
    const {clock, timeZone, windowLagDays} = this.deps;
    const newest = defaultDay(clock.now(), timeZone, windowLagDays);
    if (day > newest) {
      throw new InputError(
        `day ${day} is not yet past the ${windowLagDays}-day lag (the newest day to export is ${newest} in ${timeZone})`,
      );
    }
  }

  /** The batch's report as it stands (anything that is not a usable report counts as none). */
  private async existingReport(d: Delivery): Promise<BatchReport | undefined> {
    const name = batchReportObjectName(this.deps.env, d.message.day, d.message.runId, d.batchId);
    try {
      const value = (await this.deps.store.readJson<unknown>(name, MAX_REPORT_BYTES))?.value;
      return isReport(value, d.batchId) ? value : undefined;
    } catch (err) {
      // Unusable content counts as no report; a refused read is the deployment's fault.
      if (err instanceof PermanentError && !(err instanceof PermissionDeniedError))
        return undefined;
      throw err;
    }
  }

  /**
   * A delivery past the attempt budget (the final attempt crashed or timed
   * out, or a duplicate arrived): exports nothing. The final attempt's
   * provisional report becomes final ("never finished") once that attempt
   * cannot still be running; while it may be, the delivery is retried later.
   * Another message's report, or a report with no part of this one, stands.
   */
  private async pastBudget(
    d: Delivery,
    lastError: string | undefined,
    existing: BatchReport | undefined,
  ): Promise<BatchReport> {
    const {deps} = this;
    const {attempt} = d;
    if (existing && !(existing.provisional && existing.messageId === d.messageId)) {
      deps.logger.info("delivery past the attempt budget; the batch's report stands", {
        attempt,
        reportOf: existing.messageId,
      });
      return existing;
    }
    if (
      existing &&
      deps.clock.now() - Date.parse(existing.startedAt) < liveMs(deps.batchDeadlineMs)
    )
      throw new RetryableError('the final attempt of this message may still be exporting', {
        batchId: d.batchId,
      });
    deps.logger.error('delivery past the attempt budget; writing a failed report', {attempt});
    return this.writeReport(
      this.failedReport(
        d,
        `batch failed: delivery ${attempt - 1}, the last one allowed (MAX_BATCH_ATTEMPTS), ` +
          'never finished (the worker crashed or timed out)' +
          (lastError ? `; an earlier one failed with: ${lastError}` : ''),
      ),
    );
  }

  /** Records a message that could not be parsed, so it is visible, then lets it be acknowledged. */
  reject(messageId: string, reason: string, raw: unknown): Promise<void> {
    return recordRejectedMessage(this.deps, messageId, reason, raw);
  }

  /** The report of a batch that could not run: every conversation of the message, with `reason`. */
  private failedReport(d: Delivery, reason: string): BatchReport {
    return this.report(d, 'failed', [], undefined, reason);
  }

  private report(
    d: Delivery,
    status: BatchReport['status'],
    conversations: BatchReport['conversations'],
    oauthClient?: number,
    error?: string,
    mode: BatchMetadataMode & {genesysRequests?: number} = {},
  ): ModeReport {
    const {message, batchId, messageId, attempt, startedAt} = d;
    return {
      kind: 'batch-report',
      version: 1,
      day: message.day,
      ...(message.runId ? {runId: message.runId} : {}),
      batchId,
      messageId,
      attempt,
      status,
      ...(error ? {error} : {}),
      ...(oauthClient !== undefined ? {oauthClient} : {}),
      // The mode it ran in, and why not lean if lean was asked for: the day's marker says so.
      ...mode,
      startedAt,
      finishedAt: new Date(this.deps.clock.now()).toISOString(),
      conversations:
        status === 'failed'
          ? message.conversationIds.map(conversationId => ({
              conversationId,
              error: error ?? 'batch failed',
              recordings: [],
            }))
          : conversations,
      totals: totalsOf(conversations),
    };
  }

  /**
   * Writes the batch's report. A replay of some of a run's batch (the
   * conversations that still had gaps) is merged over the report it replays,
   * each attempt guarded by the generation just read, so racing writers never
   * drop each other's outcomes.
   */
  private async writeReport(report: BatchReport): Promise<BatchReport> {
    const {store} = this.deps;
    const name = batchReportObjectName(this.deps.env, report.day, report.runId, report.batchId);
    for (let i = 0; i < 5; i++) {
      let existing: {value: unknown; generation: string} | undefined;
      try {
        existing =
          report.runId === undefined
            ? await store.stat(name).then(o => o && {value: undefined, generation: o.generation})
            : await store.readJson<unknown>(name, MAX_REPORT_BYTES);
      } catch (err) {
        if (!(err instanceof PermanentError) || err instanceof PermissionDeniedError) throw err;
        existing = await store
          .stat(name)
          .then(o => o && {value: undefined, generation: o.generation});
      }
      // Merge only over a usable report of the same batch; anything else is replaced whole.
      const previous = isReport(existing?.value, report.batchId) ? existing.value : undefined;
      const merged = mergeReplayReport(previous, report);
      try {
        await store.write(name, Buffer.from(JSON.stringify(canonicalReport(merged), null, 2)), {
          contentType: 'application/json',
          ifGenerationMatch: existing?.generation ?? 0,
        });
        return merged;
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
      }
    }
    throw new RetryableError(`could not write the batch report ${name}: it kept changing`);
  }
}

/** One counted delivery of a batch message: what its reports are made of. */
interface Delivery {
  message: BatchMessage;
  batchId: string;
  messageId: string;
  attempt: number;
  startedAt: string;
}

/**
 * How long after it started a final attempt may still be running: its deadline, then the
 * metadata and report it writes (bounded by their retries).
 */
export function liveMs(batchDeadlineMs: number): number {
  return batchDeadlineMs + Math.min(120_000, batchDeadlineMs);
}

/** The reason of a batch that used its attempt budget. */
function gaveUp(deliveries: number, lastError: string | undefined, then?: string): string {
  const why =
    deliveries === 0
      ? 'batch failed: no delivery was allowed to retry it (MAX_BATCH_ATTEMPTS is 1)'
      : lastError
        ? `batch failed on ${deliveries} deliveries; the last error: ${lastError}`
        : `batch failed on ${deliveries} deliveries that never finished (the worker crashed or timed out)`;
  return then ? `${why}; ${then}` : why;
}
