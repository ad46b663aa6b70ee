/**
 * The functions' composition root: where their SDK clients are built, once
 * per instance and lazily (the first request pays, later ones reuse). The
 * operator's command builds its own, in functions/adapters/operator-clients.ts.
 *
 * Every adapter and service is loaded when it is first needed (`load` below),
 * never at module load: functions/index.ts registers every entry point
 * in every instance, and the SDKs cost about half a second to load (Pub/Sub,
 * Secret Manager, Genesys, Storage, SendGrid). So an instance loads only what
 * its own invocations use: the checker Storage on its first plan or report
 * event (Secret Manager and SendGrid only when it sends an email), the worker
 * Storage, Secret Manager and Genesys, the planner those and Pub/Sub when it
 * publishes. test/e2e/cold-start.spec.ts checks it; bench/cold-start.ts
 * measures it. Only types are imported statically here.
 */
import {Config, parseConfig} from './config';
import {parseCron} from './core/cron';
import {createLogger, Logger} from './logger';
import type {GcsStore} from './adapters/gcs';
import type {GenesysCloud} from './adapters/genesys';
import type {SecretReader} from './adapters/secrets';
import type {Checker} from './services/checker';
import type {Planner} from './services/planner';
import type {Migration} from './services/migration';
import type {Restores} from './services/restores';
import type {BatchWorker} from './services/worker';
import type {Clock, Mailer, Publisher} from './ports';

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: ms => new Promise(resolve => setTimeout(resolve, ms)),
};

export interface Container {
  config: Config;
  logger: Logger;
  planner(): Promise<Planner>;
  /** The history migration, run by the planner's function. */
  migration(): Promise<Migration>;
  /** Restores of archived recordings, run by the planner's function. */
  restores(): Promise<Restores>;
  worker(): Promise<BatchWorker>;
  checker(): Promise<Checker>;
}

let instance: Container | undefined;

export function container(env: NodeJS.ProcessEnv = process.env): Container {
  if (instance) return instance;
  const config = parseConfig(env);
  const logger = createLogger({service: 'genesys-recording-migrator', env: config.env});
  const getSecrets = once(
    async (): Promise<SecretReader> =>
      new (load.secrets().SecretReader)(config.project, config.secretManagerEmulatorHost),
  );
  const getStore = once(async (): Promise<GcsStore> => new (load.gcs().GcsStore)(config.bucket));
  // One per role: a process serves one function, and its role sets its share of the budget.
  const genesysFor = (role: 'planner' | 'worker') =>
    once(async (): Promise<GenesysCloud> => {
      const {GenesysCloud, parseCredentials} = load.genesys();
      return (await getSecrets()).read(config.genesysCredentialsSecret).then(
        text =>
          new GenesysCloud({
            clients: parseCredentials(text),
            environment: config.genesysEnvironment,
            gatewayUrl: config.genesysGatewayUrl,
            tokenRequestsPerMinute: config.genesysTokenRequestsPerMinute,
            clientRequestsPerMinute: config.genesysClientRequestsPerMinute,
            workers: config.workerInstances,
            planners: config.plannerInstances,
            role,
            migrationSharePercent: config.migrationShare,
            maxAttempts: config.genesysMaxAttempts,
            clock: systemClock,
            logger,
          }),
      );
    });
  const getGenesys = {planner: genesysFor('planner'), worker: genesysFor('worker')};
  const getMailer = once(async (): Promise<Mailer> => {
    const {SendGridMailer} = load.sendgrid();
    return (await getSecrets()).read(config.sendgridKeySecret).then(
      key =>
        new SendGridMailer({
          apiKey: key.trim(),
          from: config.mailFrom,
          apiUrl: config.sendgridApiUrl,
          clock: systemClock,
          logger,
        }),
    );
  });
  const getPublisher = once(
    async (): Promise<Publisher> => new (load.pubsub().PubsubPublisher)(config.batchesTopic),
  );
  /** Pub/Sub is loaded when the planner first publishes (a dry run never does). */
  const publisher: Publisher = {
    publishJson: async values => (await getPublisher()).publishJson(values),
  };
  const replayTarget = {
    project: config.project,
    topic: config.batchesTopic,
    emulatorHost: config.pubsubEmulatorHost,
  };
  // The nightly run's schedule and the quiet before it: the migration and the restores hold.
  const quiet = {
    ...(config.schedule ? {schedule: parseCron(config.schedule)} : {}),
    timeZone: config.timeZone,
    quietMinutes: config.migrationQuietMinutes,
  };
  instance = {
    config,
    logger,
    planner: once(async () => {
      const [genesys, store] = await Promise.all([getGenesys.planner(), getStore()]);
      return new (load.planner().Planner)({
        settings: {
          env: config.env,
          timeZone: config.timeZone,
          batchSize: config.batchSize,
          discovery: config.discovery,
          checkPreviousDays: config.checkPreviousDays,
          maxAutoReruns: config.maxAutoReruns,
          runGraceMinutes: config.runGraceMinutes,
          bucket: config.bucket,
          developers: config.developerEmails,
          horizonDays: config.analyticsHorizonDays,
        },
        genesys,
        store,
        publisher,
        mailer: getMailer,
        clock: systemClock,
        logger,
      });
    }),
    migration: once(async () => {
      const [planner, store] = await Promise.all([instance!.planner(), getStore()]);
      return new (load.migration().Migration)({
        settings: {
          env: config.env,
          bucket: config.bucket,
          developers: config.developerEmails,
          runGraceMinutes: config.runGraceMinutes,
          outstanding: config.migrationOutstandingBatches,
          quiet,
        },
        store,
        publisher,
        planner,
        mailer: getMailer,
        clock: systemClock,
        logger,
      });
    }),
    restores: once(async () => {
      const [genesys, store] = await Promise.all([getGenesys.planner(), getStore()]);
      return new (load.restores().Restores)({
        settings: {
          env: config.env,
          outstanding: config.restoreOutstanding,
          holdHours: config.restoreHoldHours,
          pollMs: config.restorePollSeconds * 1000,
          callsPerTick: config.restoreCallsPerTick,
          runGraceMinutes: config.runGraceMinutes,
          quiet,
        },
        store,
        publisher,
        genesys,
        clock: systemClock,
        logger,
      });
    }),
    worker: once(async () => {
      const [g, store] = await Promise.all([getGenesys.worker(), getStore()]);
      const {BatchWorker} = load.worker();
      const {Exporter} = load.exporter();
      const {HttpMediaFetcher} = load.media();
      return new BatchWorker({
        env: config.env,
        maxBatchAttempts: config.maxBatchAttempts,
        batchDeadlineMs: config.batchDeadlineMs,
        timeZone: config.timeZone,
        windowLagDays: config.windowLagDays,
        clientCount: g.clientCount,
        exporter: new Exporter({
          settings: {
            env: config.env,
            archivedPolicy: config.archivedPolicy,
            batchPollDeadlineMs: config.batchPollDeadlineMs,
            downloadConcurrency: config.downloadConcurrency,
            timeZone: config.timeZone,
            mediaIdleTimeoutMs: config.mediaIdleTimeoutMs,
            metadataMode: config.metadataMode,
            retention: {days: config.retentionDays, mode: config.retentionMode},
          },
          genesys: g,
          store,
          media: new HttpMediaFetcher(),
          clock: systemClock,
          logger,
        }),
        store,
        clock: systemClock,
        logger,
      });
    }),
    checker: once(async () => {
      const store = await getStore();
      return new (load.checker().Checker)({
        settings: {
          env: config.env,
          bucket: config.bucket,
          developers: config.developerEmails,
          emailMaxGaps: config.emailMaxGaps,
          replay: replayTarget,
          archivedPolicy: config.archivedPolicy,
        },
        store,
        mailer: getMailer,
        clock: systemClock,
        logger,
      });
    }),
  };
  return instance;
}

/**
 * The modules the container builds from, each loaded on its first call (Node
 * caches it after). `require`, not `await import()`: the functions are
 * compiled to CommonJS, where tsc turns `import()` into this very `require`,
 * but under tsx's CommonJS hook alone (mocha, functions/ops/grm.cjs) an
 * `import()` goes to Node's ESM loader, which cannot resolve TypeScript files.
 */
const load = {
  gcs: (): typeof import('./adapters/gcs') => require('./adapters/gcs'),
  genesys: (): typeof import('./adapters/genesys') => require('./adapters/genesys'),
  media: (): typeof import('./adapters/media') => require('./adapters/media'),
  pubsub: (): typeof import('./adapters/pubsub') => require('./adapters/pubsub'),
  secrets: (): typeof import('./adapters/secrets') => require('./adapters/secrets'),
  sendgrid: (): typeof import('./adapters/sendgrid') => require('./adapters/sendgrid'),
  checker: (): typeof import('./services/checker') => require('./services/checker'),
  exporter: (): typeof import('./services/exporter') => require('./services/exporter'),
  planner: (): typeof import('./services/planner') => require('./services/planner'),
  migration: (): typeof import('./services/migration') => require('./services/migration'),
  restores: (): typeof import('./services/restores') => require('./services/restores'),
  worker: (): typeof import('./services/worker') => require('./services/worker'),
};

/**
 * `build()` run once, on the first call, and its result shared by every
 * call; a build that failed is forgotten, so the next call tries again.
 */
function once<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () =>
    (built ??= build().catch((err: unknown) => {
      built = undefined;
      throw err;
    }));
}

/** Forgets the instance (tests). */
export function resetContainer(): void {
  instance = undefined;
}
