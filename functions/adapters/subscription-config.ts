/**
 * A Pub/Sub subscription's push and dead-letter configuration, through the
 * official client (`getMetadata`), for `grm doctor`; locally from the
 * Pub/Sub emulator. NOT_FOUND is "there is none", PERMISSION_DENIED an
 * ApiRefusal.
 */
import type {PubSub} from '@google-cloud/pubsub';
import * as grpc from '@grpc/grpc-js';
import type {PushSubscriptionView} from '../core/deployment-wiring';
import {ApiRefusal, SubscriptionSource} from '../ops/doctor/ports';

export class SubscriptionConfig implements SubscriptionSource {
  constructor(private readonly pubsub: PubSub) {}

  async subscription(name: string): Promise<PushSubscriptionView | undefined> {
    try {
      const [meta] = await this.pubsub.subscription(name).getMetadata();
      const push = meta.pushConfig;
      const dl = meta.deadLetterPolicy;
      return {
        ...(push?.pushEndpoint ? {pushEndpoint: push.pushEndpoint} : {}),
        ...(push?.oidcToken?.serviceAccountEmail
          ? {oidcServiceAccount: push.oidcToken.serviceAccountEmail}
          : {}),
        ...(push?.oidcToken?.audience ? {oidcAudience: push.oidcToken.audience} : {}),
        ...(dl?.deadLetterTopic ? {deadLetterTopic: dl.deadLetterTopic} : {}),
        ...(typeof dl?.maxDeliveryAttempts === 'number'
          ? {maxDeliveryAttempts: dl.maxDeliveryAttempts}
          : {}),
      };
    } catch (err) {
      const code = (err as {code?: unknown}).code;
      const details = (err as {details?: unknown}).details;
      const message = typeof details === 'string' ? details.slice(0, 300) : 'refused';
      if (code === grpc.status.NOT_FOUND) return undefined;
      if (code === grpc.status.PERMISSION_DENIED) throw new ApiRefusal(403, message);
      if (code === grpc.status.UNAUTHENTICATED) throw new ApiRefusal(401, message);
      throw err;
    }
  }
}
