/**
 * Pub/Sub's own delivery attempt is a best-effort figure, set only on a
 * subscription with a dead-letter policy, so the worker counts the
 * deliveries of each batch message itself: one small object per message,
 * written under a generation guard (racing deliveries each get their own
 * number). The counter also keeps why the last attempt failed, for
 * the report of the final one.
 */
import type {BatchMessage} from '../core/messages';
import {attemptsObjectName} from '../core/object-names';
import {RetryableError} from '../core/errors';
import type {Logger} from '../logger';
import {ObjectExistsError, ObjectStore} from '../ports';

interface Attempts {
  attempts: number;
  lastError?: unknown;
}

/** One batch message's deliveries, as the worker numbers them. */
export class DeliveryCounter {
  constructor(
    private readonly deps: {env: string; store: ObjectStore; logger: Logger},
    private readonly message: BatchMessage,
    private readonly batchId: string,
    private readonly messageId: string,
  ) {}

  /** Counts this delivery; returns its number and the error the previous one noted. */
  async count(): Promise<{attempt: number; lastError?: string}> {
    const {store} = this.deps;
    const name = this.name();
    for (let i = 0; i < 10; i++) {
      const current = await store.readJson<Attempts>(name);
      const attempt = (current?.value.attempts ?? 0) + 1;
      const lastError =
        typeof current?.value.lastError === 'string' ? current.value.lastError : undefined;
      try {
        await store.write(
          name,
          Buffer.from(JSON.stringify({attempts: attempt, ...(lastError ? {lastError} : {})})),
          {contentType: 'application/json', ifGenerationMatch: current?.generation ?? 0},
        );
        return {attempt, ...(lastError ? {lastError} : {})};
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
      }
    }
    throw new RetryableError(`could not count the attempt of batch ${this.batchId}`);
  }

  /** Remembers why `attempt` failed, for the report of the final one (best effort). */
  async noteError(attempt: number, reason: string): Promise<void> {
    const {store, logger} = this.deps;
    const name = this.name();
    try {
      const current = await store.readJson<Attempts>(name);
      if (current?.value.attempts !== attempt) return; // a later delivery counted meanwhile
      await store.write(
        name,
        Buffer.from(JSON.stringify({attempts: attempt, lastError: reason.slice(0, 500)})),
        {contentType: 'application/json', ifGenerationMatch: current.generation},
      );
    } catch (err) {
      logger.warn('could not note the error of this attempt', {error: err});
    }
  }

  private name(): string {
    const {message} = this;
    return attemptsObjectName(
      this.deps.env,
      message.day,
      message.runId,
      this.batchId,
      this.messageId,
    );
  }
}
