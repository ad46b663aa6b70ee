/**
 * The clients the operator's command (grm, grm doctor) reaches a deployment
 * through: Cloud Storage and Pub/Sub with Application Default Credentials,
 * at Google's endpoints or at the local stack's emulators, and the adapters
 * grm's Operator works on, built over them. The functions build theirs in
 * functions/container.ts.
 */
import {PubSub} from '@google-cloud/pubsub';
import {Storage} from '@google-cloud/storage';
import type {AuthClient} from 'google-auth-library';
import {PubsubDeadLetterQueue} from './dead-letters';
import {GcsStore} from './gcs';
import {plannerClient} from './planner-client';
import {PubsubPublisher} from './pubsub';

/**
 * Cloud Storage with Application Default Credentials (or `authClient`'s),
 * sent to the local stack's emulator too (which authorizes them as Cloud
 * Storage does).
 */
export function storageClient(o: {
  project: string;
  endpoint?: string;
  authClient?: AuthClient;
}): Storage {
  return new Storage({
    projectId: o.project,
    useAuthWithCustomEndpoint: true,
    ...(o.endpoint ? {apiEndpoint: o.endpoint} : {}),
    ...(o.authClient ? {authClient: o.authClient} : {}),
  });
}

export function pubsubClient(o: {project: string; endpoint?: string}): PubSub {
  return new PubSub({projectId: o.project, ...(o.endpoint ? {apiEndpoint: o.endpoint} : {})});
}

/** Where one deployment's bucket, topics and planner are (endpoints: the local stack's). */
export interface OperatorTarget {
  project: string;
  bucket: string;
  topic: string;
  deadLetterSubscription: string;
  plannerUrl?: string;
  gcsEndpoint?: string;
  pubsubEndpoint?: string;
}

export interface OperatorClients {
  store: GcsStore;
  publisher: PubsubPublisher;
  deadLetters: PubsubDeadLetterQueue;
  /** POSTs to the planner with the caller's identity (only with a planner URL). */
  callPlanner?: (body: unknown) => Promise<{status: number; body: unknown}>;
  /** Closes the Pub/Sub connections. */
  close(): Promise<void>;
}

export function operatorClients(t: OperatorTarget): OperatorClients {
  const pubsub = pubsubClient({project: t.project, endpoint: t.pubsubEndpoint});
  const deadLetters = new PubsubDeadLetterQueue(t.project, t.deadLetterSubscription, pubsub);
  return {
    store: new GcsStore(t.bucket, storageClient({project: t.project, endpoint: t.gcsEndpoint})),
    publisher: new PubsubPublisher(t.topic, pubsub),
    deadLetters,
    ...(t.plannerUrl ? {callPlanner: plannerClient(t.plannerUrl)} : {}),
    close: async () => {
      await Promise.allSettled([deadLetters.close(), pubsub.close()]);
    },
  };
}
