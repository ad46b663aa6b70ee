/**
 * The whole local stack, started and wired in one call: the Pub/Sub emulator,
 * the GCS emulator, the Secret Manager stand-in, the SendGrid sink and the
 * Cloud Functions (each in its own Functions Framework process), on free
 * loopback ports. `npm run stack`, `npm run demo` and the integration tests
 * all use this code.
 *
 * Wiring, as in production (see infra/):
 *   batches topic ──push (retry policy, dead-letter topic)──▶ worker function
 *   bucket ──object finalize CloudEvents only (Eventarc-style)──▶ checker function
 *
 * Each function process is supervised (local/functions/runner.ts): one that
 * dies is restarted on the same port, so both wirings stay valid. With
 * `workerInstances` the worker runs as a fleet, as in production: N
 * processes behind its push endpoint, one push at a time each, pushed by the
 * stack's relay (./pubsub/push-relay.ts) because the emulator pushes at most
 * two messages at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {PubSub} from '@google-cloud/pubsub';
import {Child, spawnChild, tsNode, waitForReadyLine} from './common/processes';
import {PubsubEmulator, startPubsubEmulator} from './pubsub/emulator';
import {FunctionSpec, RunningFunction, startFunction} from './functions/runner';
import {PushRelay, startPushRelay} from './pubsub/push-relay';
import {SECRETS_CA_FILE, type SecretFile} from './secrets/server';
import {LocalIam, startLocalIam} from './iam/local-iam';
import {startPushAgent} from './pubsub/push-agent';
import type {Settings as GenesysSettings} from './genesys/settings';
import {gcloudEnv} from './gcloud-env';

/** The synthetic Genesys Cloud organisation the simulator serves. */
export interface GenesysOptions {
  seed?: string;
  conversationsPerDay?: number;
  /** Conversations on particular days (`YYYY-MM-DD` → count). */
  perDay?: Record<string, number>;
  /** clean (exportable or deleted recordings) or lossy (also archived, restoring, uploading, error). */
  profile?: 'clean' | 'lossy';
  /**
   * OAuth clients as `ID:SECRET`, or `ID:SECRET;lacks=recording:recording:viewSensitiveData`
   * (default: the simulator's demo client).
   */
  clients?: string[];
  /** Share of recordings flagged as holding PCI/PII (the simulator's default when absent). */
  sensitiveShare?: number;
  audioBytes?: number;
  screenBytes?: number;
  settings?: Partial<GenesysSettings>;
}

/** The functions of the pipeline, by the role the stack wires them for. */
export interface StackFunctions {
  /** HTTP function Cloud Scheduler calls. */
  planner?: FunctionSpec;
  /** Pushed every message of the batches topic. */
  worker?: FunctionSpec;
  /** Sent every object-finalize event of the bucket. */
  checker?: FunctionSpec;
}

export interface StackOptions {
  /** Directory for all local state (default `.local`). */
  root?: string;
  /** Remove previous GCS data, mail and logs first (default true). */
  fresh?: boolean;
  project?: string;
  bucket?: string;
  topic?: string;
  functions?: StackFunctions;
  /** Secrets served by the Secret Manager stand-in. */
  secrets?: SecretFile;
  /** The only API key the SendGrid sink accepts (default LOCAL_DEFAULTS.sendgridKey). */
  sendgridKey?: string;
  /** Environment added to every function. */
  functionEnv?: Record<string, string>;
  /** Delivery attempts before a batch message is dead-lettered (5..100). */
  maxDeliveryAttempts?: number;
  /** Attempts per finalize event before the GCS emulator gives up. */
  gcsNotifyAttempts?: number;
  /**
   * Create the bucket with object retention enabled (Object Retention Lock,
   * `enable_object_retention` of the Terraform bucket), for a product that sets
   * a retention on what it writes (default false). The bucket always has
   * object versioning on, as infra/storage.tf makes it.
   */
  objectRetention?: boolean;
  genesys?: GenesysOptions;
  /**
   * Run the worker as production runs it: this many processes behind the push
   * endpoint, each taking one push at a time (`max_instance_request_concurrency
   * = 1`, up to `worker_max_instances` in infra/functions.tf); a push that finds
   * every one busy waits for one (up to 60 s, then 429, as Cloud Run). The
   * emulator pushes at most two messages at once, so the stack pushes instead
   * (./pubsub/push-relay.ts), up to twice this many at once. Unset: one worker
   * process that takes every push at once, pushed by the emulator.
   */
  workerInstances?: number;
  /**
   * Production's identities and IAM (default on): each function runs as the
   * service account infra/ creates for it, with Application Default
   * Credentials from a local metadata server, and the stand-ins authorize
   * every request against the grants infra/*.tf declares (read from
   * `infraDir`, a copy of infra/, when given). `false`: every caller may do
   * everything, as the stand-ins started on their own.
   */
  iam?: false | {infraDir?: string};
}

export interface Stack {
  readonly project: string;
  readonly bucket: string;
  readonly topic: string;
  /** The functions' `EXPORT_ENV`: the bucket's top-level folder the days go under. */
  readonly exportEnv: string;
  readonly deadLetterTopic: string;
  readonly subscription: string;
  readonly deadLetterSubscription: string;
  readonly gcsUrl: string;
  readonly pubsubHost: string;
  readonly secretsEndpoint: string;
  /** The certificate the Secret Manager stand-in serves (it speaks TLS). */
  readonly secretsCa: string;
  readonly sendgridUrl: string;
  readonly genesysUrl: string;
  readonly functions: Partial<Record<keyof StackFunctions, RunningFunction>>;
  /** Worker processes behind the push endpoint (0 without a worker; 1 unless `workerInstances` said more). */
  readonly workerInstances: number;
  /** The stack's push delivery to the worker fleet (with `workerInstances` only). */
  readonly pushRelay?: Pick<PushRelay, 'stats'>;
  readonly dirs: {root: string; gcsData: string; mail: string; logs: string};
  /** What a developer exports to reach the stack from another shell. */
  readonly env: Record<string, string>;
  /**
   * The environment that points the Google Cloud CLI at the stack as one of
   * its identities (default the operator, as the printed exports do;
   * ./gcloud-env.ts).
   */
  gcloudEnv(identity?: string): Record<string, string>;
  /** The stack's identities and policy (absent with `iam: false`). */
  readonly iam?: LocalIam;
  stop(): Promise<void>;
}

export const LOCAL_DEFAULTS = {
  project: 'demo-project',
  bucket: 'genesys-recordings-local',
  topic: 'recording-batches',
  /** Stand-in API key for the SendGrid sink (not a secret), in the form SendGrid issues keys. */
  sendgridKey: 'SG.local-sink-key-0000000.not-a-secret-for-the-local-sendgrid-sink-00',
} as const;

interface StandIn {
  child: Child;
  info: Record<string, unknown>;
}

async function startStandIn(
  name: string,
  file: string,
  args: string[],
  logDir: string,
): Promise<StandIn> {
  const {command, args: full} = tsNode(path.join(__dirname, file), ['--port', '0', ...args]);
  const child = spawnChild({name, command, args: full, logDir});
  return {child, info: await waitForReadyLine(child)};
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  // Our own Google clients must not probe the GCE metadata server.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const root = path.resolve(opts.root ?? '.local');
  const project = opts.project ?? LOCAL_DEFAULTS.project;
  const bucket = opts.bucket ?? LOCAL_DEFAULTS.bucket;
  const topic = opts.topic ?? LOCAL_DEFAULTS.topic;
  const dirs = {
    root,
    gcsData: path.join(root, 'gcs'),
    gcsMeta: path.join(root, 'gcs-meta'),
    mail: path.join(root, 'mail'),
    logs: path.join(root, 'logs'),
    secrets: path.join(root, 'secrets.json'),
    tls: path.join(root, 'tls'),
    // gcloud's configuration for the stack: its upload tracker files belong with the GCS data.
    gcloud: path.join(root, 'gcloud'),
  };
  if (opts.fresh ?? true) {
    for (const dir of [dirs.gcsData, dirs.gcsMeta, dirs.mail, dirs.logs, dirs.gcloud])
      fs.rmSync(dir, {recursive: true, force: true});
  }
  fs.mkdirSync(root, {recursive: true});
  fs.mkdirSync(dirs.gcloud, {recursive: true});
  fs.writeFileSync(dirs.secrets, JSON.stringify(opts.secrets ?? {}, null, 2));

  const stoppers: Array<() => Promise<void>> = [];
  const fnEnv = opts.functionEnv ?? {};
  const exportEnv = fnEnv.EXPORT_ENV ?? 'local';
  const stop = async () => {
    // Functions first (they talk to the rest), then the stand-ins.
    for (const s of stoppers.reverse().splice(0)) await s().catch(() => {});
  };
  try {
    const iam =
      opts.iam === false
        ? undefined
        : await startLocalIam({
            dir: path.join(root, 'iam'),
            project,
            bucket,
            env: exportEnv,
            retentionDays: Number(fnEnv.RETENTION_DAYS ?? 0),
            ...(opts.iam?.infraDir ? {infraDir: opts.iam.infraDir} : {}),
          });
    if (iam) stoppers.push(() => iam.close());
    const [pubsub, gcs, secrets, sendgrid, genesys] = await Promise.all([
      startPubsubEmulator({logDir: dirs.logs}).then(p => {
        stoppers.push(() => p.stop());
        return p;
      }),
      startStandIn(
        'gcs-emulator',
        'gcs/main.ts',
        [
          '--data',
          dirs.gcsData,
          '--meta',
          dirs.gcsMeta,
          '--bucket',
          bucket,
          // The bucket as infra/storage.tf makes it: versioning always on.
          '--bucket-versioning',
          ...(opts.objectRetention ? ['--bucket-object-retention'] : []),
          '--notify-attempts',
          String(opts.gcsNotifyAttempts ?? 5),
          ...(iam ? ['--iam', iam.dir] : []),
        ],
        dirs.logs,
      ).then(s => track(s)),
      // Over TLS, as Secret Manager is: the official client then sends its credentials.
      startStandIn(
        'secret-manager',
        'secrets/main.ts',
        ['--file', dirs.secrets, '--tls', dirs.tls, ...(iam ? ['--iam', iam.dir] : [])],
        dirs.logs,
      ).then(s => track(s)),
      startStandIn(
        'sendgrid-sink',
        'sendgrid/main.ts',
        ['--dir', dirs.mail, '--api-key', opts.sendgridKey ?? LOCAL_DEFAULTS.sendgridKey],
        dirs.logs,
      ).then(s => track(s)),
      startStandIn(
        'genesys-simulator',
        'genesys/main.ts',
        genesysArgs(opts.genesys ?? {}),
        dirs.logs,
      ).then(s => track(s)),
    ]);
    function track(s: StandIn): StandIn {
      stoppers.push(() => s.child.stop());
      return s;
    }
    const gcsUrl = String(gcs.info.url);
    const sendgridUrl = String(sendgrid.info.url);
    const secretsEndpoint = String(secrets.info.endpoint);
    const genesysUrl = String(genesys.info.url);

    const env: Record<string, string> = {
      GOOGLE_CLOUD_PROJECT: project,
      PUBSUB_EMULATOR_HOST: pubsub.host,
      STORAGE_EMULATOR_HOST: gcsUrl,
      SECRET_MANAGER_EMULATOR_HOST: secretsEndpoint,
      SENDGRID_API_URL: sendgridUrl,
      GENESYS_SIMULATOR_URL: genesysUrl,
      METADATA_SERVER_DETECTION: 'none',
      // The Secret Manager stand-in's certificate (it speaks TLS), trusted by gRPC clients.
      GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: path.join(dirs.tls, SECRETS_CA_FILE),
      // Another shell acts as the operator (grm, the docs' commands).
      ...(iam ? iam.envFor('operator') : {}),
    };

    const names = {
      deadLetterTopic: `${topic}-dead-letter`,
      subscription: `${topic}-worker`,
      deadLetterSubscription: `${topic}-dead-letter-keep`,
    };
    await createTopics(
      pubsub,
      project,
      [topic, names.deadLetterTopic],
      names.deadLetterSubscription,
    );

    const functions: Stack['functions'] = {};
    const functionEnv = {
      ...process.env,
      ...env,
      BUCKET: bucket,
      BATCHES_TOPIC: topic,
      GENESYS_GATEWAY_URL: genesysUrl,
      LOG_EXECUTION_ID: 'true',
      ...(opts.functionEnv ?? {}),
    };
    const roles = Object.entries(opts.functions ?? {}) as Array<
      [keyof StackFunctions, FunctionSpec | undefined]
    >;
    await Promise.all(
      roles.map(async ([role, spec]) => {
        if (!spec) return;
        const fleet =
          role === 'worker' && opts.workerInstances !== undefined
            ? {instances: opts.workerInstances, concurrency: 1}
            : {};
        const identity = iam ? {env: {...functionEnv, ...iam.envFor(role)}} : {env: functionEnv};
        const fn = await startFunction(spec, {
          logDir: dirs.logs,
          ...identity,
          ...fleet,
          ...(iam ? {authorize: iam.invokerCheck(role)} : {}),
        });
        stoppers.push(() => fn.stop());
        functions[role] = fn;
      }),
    );

    let pushRelay: PushRelay | undefined;
    if (functions.worker) {
      const worker = functions.worker;
      const fleet = opts.workerInstances !== undefined;
      // Pub/Sub signs each push with the push identity's token for the worker's URL.
      const pushToken = iam ? () => iam.idToken(iam.identities.pusher!, worker.url) : undefined;
      let pushOrigin = worker.url;
      if (pushToken && !fleet) {
        const agent = await startPushAgent({target: worker.url, token: pushToken});
        stoppers.push(() => agent.close());
        pushOrigin = agent.url;
      }
      const endpoint = `${pushOrigin}/projects/${project}/topics/${topic}`;
      await createWorkerSubscription(
        pubsub,
        project,
        topic,
        names,
        fleet ? undefined : endpoint,
        opts.maxDeliveryAttempts ?? 5,
      );
      if (fleet) {
        pushRelay = await startPushRelay({
          pubsubHost: pubsub.host,
          project,
          subscription: names.subscription,
          endpoint,
          maxWindow: 2 * functions.worker.instances.length,
          ackDeadlineSeconds: WORKER_ACK_DEADLINE_SECONDS,
          ...(pushToken ? {token: pushToken} : {}),
        });
        const relay = pushRelay;
        stoppers.push(() => relay.close());
      }
    }
    if (functions.checker) {
      // Finalize events only, as the checker's Eventarc trigger (infra/functions.tf).
      const res = await fetch(`${gcsUrl}/_admin/notifications`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({
          url: functions.checker.url,
          bucket,
          eventTypes: ['google.cloud.storage.object.v1.finalized'],
          // The trigger's identity, whose token the checker's front end checks.
          ...(iam ? {serviceAccountEmail: iam.identities.eventarc} : {}),
        }),
      });
      if (!res.ok)
        throw new Error(`could not subscribe the checker to GCS events: HTTP ${res.status}`);
    }
    const stack: Stack = {
      project,
      bucket,
      topic,
      exportEnv,
      ...names,
      gcsUrl,
      pubsubHost: pubsub.host,
      secretsEndpoint,
      secretsCa: path.join(dirs.tls, SECRETS_CA_FILE),
      sendgridUrl,
      genesysUrl,
      functions,
      workerInstances: functions.worker?.instances.length ?? 0,
      ...(pushRelay ? {pushRelay} : {}),
      dirs: {root, gcsData: dirs.gcsData, mail: dirs.mail, logs: dirs.logs},
      env,
      gcloudEnv: (identity = 'operator') =>
        gcloudEnv({
          project,
          gcsUrl,
          pubsubHost: pubsub.host,
          configDir: dirs.gcloud,
          ...(iam ? {tokenFile: iam.tokenFile(identity)} : {}),
        }),
      ...(iam ? {iam} : {}),
      stop,
    };
    return stack;
  } catch (err) {
    await stop();
    throw err;
  }
}

function genesysArgs(g: GenesysOptions): string[] {
  const args: string[] = [];
  if (g.seed !== undefined) args.push('--seed', g.seed);
  if (g.conversationsPerDay !== undefined)
    args.push('--conversations-per-day', String(g.conversationsPerDay));
  for (const [day, n] of Object.entries(g.perDay ?? {})) args.push('--day', `${day}=${n}`);
  if (g.profile) args.push('--profile', g.profile);
  for (const c of g.clients ?? []) args.push('--client', c);
  if (g.audioBytes !== undefined) args.push('--audio-bytes', String(g.audioBytes));
  if (g.screenBytes !== undefined) args.push('--screen-bytes', String(g.screenBytes));
  if (g.sensitiveShare !== undefined) args.push('--sensitive-share', String(g.sensitiveShare));
  if (g.settings) args.push('--settings', JSON.stringify(g.settings));
  return args;
}

function client(pubsub: PubsubEmulator, project: string): PubSub {
  return new PubSub({projectId: project, apiEndpoint: pubsub.host});
}

async function createTopics(
  pubsub: PubsubEmulator,
  project: string,
  topics: string[],
  deadLetterKeep: string,
): Promise<void> {
  const ps = client(pubsub, project);
  try {
    for (const t of topics) await ps.createTopic(t);
    // Dead letters need a subscription to be kept at all.
    await ps.topic(topics[1]!).createSubscription(deadLetterKeep);
  } finally {
    await ps.close();
  }
}

/** The worker subscription's ack deadline (infra/: the worker's 600 s timeout). */
const WORKER_ACK_DEADLINE_SECONDS = 600;

/**
 * The worker's push subscription, configured as infra/ configures it in
 * production: exponential retry backoff and a dead-letter topic. The push
 * endpoint's path makes the Functions Framework report the topic as the
 * CloudEvent source, as Eventarc does. Without a push endpoint it is a pull
 * subscription with the same policies, for the stack's push relay.
 */
async function createWorkerSubscription(
  pubsub: PubsubEmulator,
  project: string,
  topic: string,
  names: {subscription: string; deadLetterTopic: string},
  pushEndpoint: string | undefined,
  maxDeliveryAttempts: number,
): Promise<void> {
  const ps = client(pubsub, project);
  try {
    await ps.topic(topic).createSubscription(names.subscription, {
      ...(pushEndpoint ? {pushConfig: {pushEndpoint}} : {}),
      ackDeadlineSeconds: WORKER_ACK_DEADLINE_SECONDS,
      retryPolicy: {minimumBackoff: {seconds: 1}, maximumBackoff: {seconds: 10}},
      deadLetterPolicy: {
        deadLetterTopic: `projects/${project}/topics/${names.deadLetterTopic}`,
        maxDeliveryAttempts,
      },
    });
  } finally {
    await ps.close();
  }
}
