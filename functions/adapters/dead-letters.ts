/**
 * The dead-letter subscription over @google-cloud/pubsub's generated
 * SubscriberClient (synchronous pull, acknowledge, release): operators read
 * what is there without consuming it, and replay what they choose.
 */
import {PubSub, v1} from '@google-cloud/pubsub';
import {RetryableError} from '../core/errors';
import type {DeadLetter, DeadLetterQueue} from '../ports';

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

  async pull(max: number): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    try {
      // Pull until the subscription has nothing more to give or `max` is reached.
      while (out.length < max) {
        const [res] = await this.client.pull({
          subscription: this.subscription,
          maxMessages: Math.min(max - out.length, 1000),
          returnImmediately: true,
        });
        const received = res.receivedMessages ?? [];
        if (received.length === 0) break;
        for (const r of received) {
          const m = r.message ?? {};
          const count = m.attributes?.CloudPubSubDeadLetterSourceDeliveryCount;
          out.push({
            ackId: r.ackId ?? '',
            messageId: m.messageId ?? '',
            ...(m.publishTime?.seconds
              ? {publishTime: new Date(Number(m.publishTime.seconds) * 1000).toISOString()}
              : {}),
            ...(count ? {deliveries: Number(count)} : {}),
            data: Buffer.from(m.data ?? '').toString('utf8'),
          });
        }
      }
    } catch (err) {
      throw new RetryableError(`could not pull from ${this.subscription}`, {}, {cause: err});
    }
    return out;
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
