/**
 * CloudEvent function `exportBatch`, fed by the batches topic: decode and
 * validate the message, export the batch. A malformed message is recorded
 * and acknowledged (never retried forever); a thrown error means "redeliver".
 */
import * as functions from '../adapters/functions-framework';
import type {CloudEvent} from '../adapters/functions-framework';
import type {Container} from '../container';
import {configuredContainer} from './startup';
import {InputError} from '../core/errors';
import {decodeMessageData, parseBatchMessage} from '../core/messages';

interface MessagePublishedData {
  message?: {data?: string; messageId?: string; attributes?: Record<string, string>};
}

functions.cloudEvent('exportBatch', async (event: CloudEvent<MessagePublishedData>) => {
  const c = configuredContainer();
  const messageId = event.data?.message?.messageId ?? event.id ?? 'unknown';
  try {
    await exportBatch(c, event, messageId);
  } catch (err) {
    // The framework prints a thrown error's stack as raw text: throw one structured line instead.
    throw c.logger.failure(err, 'batch not done; Pub/Sub will redeliver the message', {messageId});
  }
});

async function exportBatch(
  c: Container,
  event: CloudEvent<MessagePublishedData>,
  messageId: string,
): Promise<void> {
  const worker = await c.worker();
  let raw: unknown;
  try {
    if (event.type !== 'google.cloud.pubsub.topic.v1.messagePublished') {
      throw new InputError(`unexpected event type "${String(event.type)}"`);
    }
    raw = decodeMessageData(event.data?.message?.data);
    const message = parseBatchMessage(raw);
    await worker.handle(message, messageId);
  } catch (err) {
    if (err instanceof InputError) {
      await worker.reject(messageId, err.message, raw ?? event.data?.message?.data ?? null);
      return; // acknowledged
    }
    throw err;
  }
}
