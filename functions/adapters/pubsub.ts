/** Publisher over @google-cloud/pubsub: JSON messages, every publish awaited. */
import {PubSub, Topic} from '@google-cloud/pubsub';
import {RetryableError} from '../core/errors';
import type {Publisher} from '../ports';

export class PubsubPublisher implements Publisher {
  private readonly topic: Topic;

  constructor(topicName: string, pubsub: PubSub = new PubSub()) {
    this.topic = pubsub.topic(topicName);
  }

  async publishJson(values: unknown[]): Promise<string[]> {
    try {
      return await Promise.all(values.map(json => this.topic.publishMessage({json})));
    } catch (err) {
      throw new RetryableError(`could not publish to ${this.topic.name}`, {}, {cause: err});
    }
  }
}
