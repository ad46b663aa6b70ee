/**
 * The functions' composition root: where their SDK clients are built, once
 * per instance and lazily (the first request pays, later ones reuse). The
 * operator's command has its own, in functions/ops/grm.ts.
 */
import {Config, parseConfig} from './config';
import {createLogger, Logger} from './logger';
import {GcsStore} from './adapters/gcs';
import {GenesysCloud, parseCredentials} from './adapters/genesys';
import {HttpMediaFetcher} from './adapters/media';
import {PubsubPublisher} from './adapters/pubsub';
import {SecretReader} from './adapters/secrets';
import {SendGridMailer} from './adapters/sendgrid';
import {Checker} from './services/checker';
import {Exporter} from './services/exporter';
import {Planner} from './services/planner';
import {BatchWorker} from './services/worker';
import type {Clock, Mailer} from './ports';

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: ms => new Promise(resolve => setTimeout(resolve, ms)),
};

export interface Container {
  config: Config;
  logger: Logger;
  planner(): Promise<Planner>;
  worker(): Promise<BatchWorker>;
  checker(): Promise<Checker>;
}

let instance: Container | undefined;

export function container(env: NodeJS.ProcessEnv = process.env): Container {
  if (instance) return instance;
  const config = parseConfig(env);
  const logger = createLogger({service: 'genesys-recording-migrator', env: config.env});
  const secrets = new SecretReader(config.project, config.secretManagerEmulatorHost);
  const store = new GcsStore(config.bucket);
  // One per role: a process serves one function, and its role sets its share of the budget.
  const genesys = new Map<'planner' | 'worker', Promise<GenesysCloud>>();
  const getGenesys = (role: 'planner' | 'worker') => {
    let g = genesys.get(role);
    if (!g) {
      g = secrets.read(config.genesysCredentialsSecret).then(
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
            maxAttempts: config.genesysMaxAttempts,
            clock: systemClock,
            logger,
          }),
        err => {
          genesys.delete(role);
          throw err;
        },
      );
      genesys.set(role, g);
    }
    return g;
  };
  let mailer: Promise<Mailer> | undefined;
  const getMailer = () =>
    (mailer ??= secrets.read(config.sendgridKeySecret).then(
      key =>
        new SendGridMailer({
          apiKey: key.trim(),
          from: config.mailFrom,
          apiUrl: config.sendgridApiUrl,
          clock: systemClock,
          logger,
        }),
      err => {
        mailer = undefined;
        throw err;
      },
    ));
  const replayTarget = {
    project: config.project,
    topic: config.batchesTopic,
    emulatorHost: config.pubsubEmulatorHost,
  };
  let planner: Planner | undefined;
  let worker: BatchWorker | undefined;
  let checker: Checker | undefined;
  instance = {
    config,
    logger,
    async planner() {
      planner ??= new Planner({
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
        },
        genesys: await getGenesys('planner'),
        store,
        publisher: new PubsubPublisher(config.batchesTopic),
        mailer: getMailer,
        clock: systemClock,
        logger,
      });
      return planner;
    },
    async worker() {
      if (!worker) {
        const g = await getGenesys('worker');
        worker = new BatchWorker({
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
      }
      return worker;
    },
    async checker() {
      checker ??= new Checker({
        settings: {
          env: config.env,
          bucket: config.bucket,
          developers: config.developerEmails,
          emailMaxGaps: config.emailMaxGaps,
          replay: replayTarget,
        },
        store,
        mailer: getMailer,
        clock: systemClock,
        logger,
      });
      return checker;
    },
  };
  return instance;
}

/** Forgets the instance (tests). */
export function resetContainer(): void {
  instance = undefined;
}
