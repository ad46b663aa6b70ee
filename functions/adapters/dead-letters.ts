/**
 * The dead-letter subscription over @google-cloud/pubsub's generated
 * SubscriberClient (synchronous pull, acknowledge, release): operators read
 * what is there without consuming it, and replay what they choose.
 */
import {PubSub, v1} from '@google-cloud/pubsub';
import {RetryableError} from '../core/errors';
import type {DeadLetter, DeadLetterQueue} from '../ports';

/** How long one pull waits for messages (the server holds an empty pull open). */
const PULL_WAIT_MS = 5000;
const DEADLINE_EXCEEDED = 4;

type PulledMessage = {
  messageId?: string | null;
  data?: Uint8Array | string | null;
  attributes?: Record<string, string> | null;
  publishTime?: {seconds?: number | string | Long | null} | null;
};
type Long = {toString(): string};

export class PubsubDeadLetterQueue implements DeadLetterQueue {
  private readonly client: v1.SubscriberClient;
  private readonly subscription: string;

  constructor(
    project: string,
    subscription: string,
    pubsub: PubSub = new PubSub({projectId: project}),
  ) {
    // The PubSub object has resolved the emulator (PUBSUB_EMULATOR_HOST) or the real endpoint.
    this.client = new v1.SubscriberClient({...pubsub.options});
    this.subscription = `projects/${project}/subscriptions/${subscription}`;
  }

  /** One synchronous pull of up to `max`; empty when nothing arrives within a few seconds. */
  async pull(max: number): Promise<DeadLetter[]> {
    let received: Array<{ackId?: string | null; message?: PulledMessage | null}>;
    try {
      const [res] = await this.client.pull(
        {subscription: this.subscription, maxMessages: max},
        {timeout: PULL_WAIT_MS, retry: null},
      );
      received = res.receivedMessages ?? [];
    } catch (err) {
      if ((err as {code?: number}).code === DEADLINE_EXCEEDED) return [];
      throw new RetryableError(`could not pull from ${this.subscription}`, {}, {cause: err});
    }
    return received.map(r => {
      const m = r.message ?? {};
      const count = m.attributes?.CloudPubSubDeadLetterSourceDeliveryCount;
      return {
        ackId: r.ackId ?? '',
        messageId: m.messageId ?? '',
        ...(m.publishTime?.seconds
          ? {publishTime: new Date(Number(m.publishTime.seconds) * 1000).toISOString()}
          : {}),
        ...(count ? {deliveries: Number(count)} : {}),
        data: Buffer.from(m.data ?? '').toString('utf8'),
      };
    });
  }

  async ack(ackIds: string[]): Promise<void> {
    if (ackIds.length === 0) return;
    await this.client.acknowledge({subscription: this.subscription, ackIds});
  }

  async release(ackIds: string[]): Promise<void> {
    if (ackIds.length === 0) return;
    await this.client.modifyAckDeadline({
      subscription: this.subscription,
      ackIds,
      ackDeadlineSeconds: 0,
    });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
