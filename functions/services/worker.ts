/**
 * The batch worker's use case: count the delivery, export the batch, write
 * the batch report. Transient trouble is thrown (Pub/Sub redelivers) until
 * the attempt budget is spent; then the failures are written into the report
 * so the day can still be concluded.
 */
import {createHash} from 'node:crypto';
import {PermanentError, RetryableError} from '../core/errors';
import {adhocBatchId} from '../core/batches';
import type {BatchMessage} from '../core/messages';
import {
  attemptsObjectName,
  batchReportObjectName,
  rejectedMessageObjectName,
} from '../core/object-names';
import {
  BatchReport,
  hasRetryableFailures,
  isReport,
  mergeReplayReport,
  totalsOf,
} from '../core/report';
import {Logger, addLogContext, withLogContext} from '../logger';
import {Clock, ObjectExistsError, ObjectStore} from '../ports';
import {Exporter} from './exporter';

export interface WorkerDeps {
  env: string;
  maxBatchAttempts: number;
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
    const attempt = await this.countAttempt(message, batchId, messageId);
    addLogContext({attempt});
    const final = attempt >= deps.maxBatchAttempts;
    const startedAt = new Date(deps.clock.now()).toISOString();
    const clientIndex =
      createHash('sha256').update(batchId).digest().readUInt32BE(0) % Math.max(1, deps.clientCount);
    const log = {day: message.day, runId: message.runId, batchId, messageId, attempt};
    deps.logger.info('exporting batch', {...log, conversations: message.conversationIds.length});
    let report: BatchReport;
    try {
      const result = await deps.exporter.export(message, clientIndex);
      if (!final && hasRetryableFailures(result.conversations)) {
        throw new RetryableError('some recordings failed with errors a retry may fix', {batchId});
      }
      const conversations = result.conversations.map(c => ({
        ...c,
        recordings: c.recordings.map(({retryable: _r, ...rest}) => rest),
      }));
      report = this.report(
        message,
        batchId,
        messageId,
        attempt,
        startedAt,
        'complete',
        conversations,
        result.clientIndex,
      );
    } catch (err) {
      if (err instanceof RetryableError && !final) {
        deps.logger.warn('batch will be retried', {...log, reason: err.message, error: err});
        throw err;
      }
      const reason = err instanceof Error ? err.message : String(err);
      deps.logger.error('batch failed; writing a failed report', {
        ...log,
        reason,
        permanent: err instanceof PermanentError,
        error: err,
      });
      report = this.report(
        message,
        batchId,
        messageId,
        attempt,
        startedAt,
        'failed',
        [],
        undefined,
        reason,
      );
    }
    report = await this.writeReport(report);
    deps.logger.info('batch report written', {
      ...log,
      status: report.status,
      totals: report.totals,
    });
    return report;
  }

  /** Records a message that could not be parsed, so it is visible, then lets it be acknowledged. */
  async reject(messageId: string, reason: string, raw: unknown): Promise<void> {
    const name = rejectedMessageObjectName(this.deps.env, messageId);
    const text = JSON.stringify(
      {
        kind: 'rejected-message',
        messageId,
        reason,
        receivedAt: new Date(this.deps.clock.now()).toISOString(),
        raw,
      },
      null,
      2,
    );
    try {
      await this.deps.store.write(name, Buffer.from(text.slice(0, 1_000_000)), {
        contentType: 'application/json',
        ifGenerationMatch: 0,
      });
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
    }
    this.deps.logger.error('rejected a malformed batch message', {messageId, reason, object: name});
  }

  private report(
    message: BatchMessage,
    batchId: string,
    messageId: string,
    attempt: number,
    startedAt: string,
    status: BatchReport['status'],
    conversations: BatchReport['conversations'],
    oauthClient?: number,
    error?: string,
  ): BatchReport {
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
            : await store.readJson<unknown>(name);
      } catch (err) {
        if (!(err instanceof PermanentError)) throw err;
        existing = await store
          .stat(name)
          .then(o => o && {value: undefined, generation: o.generation});
      }
      // Merge only over a usable report of the same batch; anything else is replaced whole.
      const previous = isReport(existing?.value, report.batchId) ? existing.value : undefined;
      const merged = mergeReplayReport(previous, report);
      try {
        await store.write(name, Buffer.from(JSON.stringify(merged, null, 2)), {
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

  /** Increments the batch's delivery counter in GCS and returns this attempt's number. */
  private async countAttempt(
    message: BatchMessage,
    batchId: string,
    messageId: string,
  ): Promise<number> {
    const name = attemptsObjectName(this.deps.env, message.day, message.runId, batchId, messageId);
    for (let i = 0; i < 10; i++) {
      const current = await this.deps.store.readJson<{attempts: number}>(name);
      const attempts = (current?.value.attempts ?? 0) + 1;
      try {
        await this.deps.store.write(name, Buffer.from(JSON.stringify({attempts})), {
          contentType: 'application/json',
          ifGenerationMatch: current?.generation ?? 0,
        });
        return attempts;
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
      }
    }
    throw new RetryableError(`could not count the attempt of batch ${batchId}`);
  }
}
