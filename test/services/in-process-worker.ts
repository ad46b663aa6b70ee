/**
 * A batch worker built in-process from the real adapters: the Genesys
 * adapter against a (private) simulator, GcsStore against the GCS emulator,
 * the real media fetcher. Shared by the worker suites.
 */
import {GcsStore} from '../../functions/adapters/gcs';
import {GenesysCloud} from '../../functions/adapters/genesys';
import {HttpMediaFetcher} from '../../functions/adapters/media';
import type {Logger} from '../../functions/logger';
import {Exporter, ExporterSettings} from '../../functions/services/exporter';
import {BatchWorker, WorkerDeps} from '../../functions/services/worker';
import type {Clock} from '../../functions/ports';
import {useStack} from '../setup/stack';
import {TestSimulator, startSimulator} from '../setup/simulator';
import {storageFor} from '../../local/run-day';

/** Sleeps at most a few ms: retries and Retry-After waits happen, quickly. */
export const fastClock: Clock = {
  now: () => Date.now(),
  sleep: ms => new Promise(resolve => setTimeout(resolve, Math.min(ms, 10))),
};

/** Real waits: what Genesys is asked, and how often, is what production would ask. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: ms => new Promise(resolve => setTimeout(resolve, ms)),
};

export interface InProcessWorker {
  simulatorUrl: string;
  store: GcsStore;
  env: string;
  logger: Logger;
  worker?: Partial<Pick<WorkerDeps, 'maxBatchAttempts' | 'batchDeadlineMs' | 'windowLagDays'>>;
  exporter?: Partial<ExporterSettings>;
  /** The clock of the adapter and the exporter (default: fastClock). */
  clock?: Clock;
  /** The OAuth client it uses (default: the simulator's demo client). */
  client?: {clientId: string; clientSecret: string};
}

export function inProcessWorker(o: InProcessWorker): BatchWorker {
  const genesys = new GenesysCloud({
    clients: [o.client ?? {clientId: 'demo-client', clientSecret: 'demo-secret'}],
    environment: 'mypurecloud.ie',
    gatewayUrl: o.simulatorUrl,
    tokenRequestsPerMinute: 100_000,
    clientRequestsPerMinute: 1_000_000,
    workers: 1,
    planners: 1,
    role: 'worker',
    maxAttempts: 3,
    clock: o.clock ?? fastClock,
    logger: o.logger,
  });
  return new BatchWorker({
    env: o.env,
    maxBatchAttempts: 2,
    batchDeadlineMs: 60_000,
    timeZone: 'UTC',
    windowLagDays: 3,
    ...o.worker,
    clientCount: 1,
    exporter: new Exporter({
      settings: {
        env: o.env,
        archivedPolicy: 'fail',
        batchPollDeadlineMs: 30_000,
        downloadConcurrency: 4,
        timeZone: 'UTC',
        mediaIdleTimeoutMs: 30_000,
        metadataMode: 'full',
        ...o.exporter,
      },
      genesys,
      store: o.store,
      media: new HttpMediaFetcher(),
      clock: o.clock ?? fastClock,
      logger: o.logger,
    }),
    store: o.store,
    clock: fastClock,
    logger: o.logger,
  });
}

/** A private simulator with one day of `conversations`, the shared stack's bucket, and the truth. */
export async function simulatedDay<T>(
  day: string,
  conversations: number,
  args: string[] = [],
): Promise<{sim: TestSimulator; store: GcsStore; truth: T}> {
  const stack = await useStack();
  const sim = await startSimulator([
    '--conversations-per-day',
    '0',
    '--day',
    `${day}=${conversations}`,
    ...args,
  ]);
  const store = new GcsStore(stack.bucket, storageFor(stack));
  return {sim, store, truth: await sim.admin<T>(`truth?day=${day}`)};
}
