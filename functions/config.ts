/**
 * The pipeline's settings, each declared once in SETTINGS: its environment
 * variable, type, default, range or values, one line of documentation, and
 * the Terraform variable a deployment sets it from (core/settings.ts says how
 * a setting is declared and read). The configuration is read from the
 * environment by that table, once (Terraform sets it in production; the
 * local stack in development), and every problem is reported at once in a
 * single ConfigError, at cold start. docs/configuration.md's table is written
 * from SETTINGS (`npm run docs:config`), and the Terraform variables are
 * checked against it (test/repo/infra.spec.ts).
 */
import {ConfigError} from './core/errors';
import {EMAIL_RE} from './core/ids';
import {Env, Setting, Value, readSetting} from './core/settings';
import {cronProblem} from './core/cron';
import {DEFAULT_HORIZON_DAYS} from './core/history-horizon';
import {isValidTimeZone} from './core/time-window';

const URL_CHECK = (v: string) =>
  /^https?:\/\/[^/]+\/?$/.test(v) ? undefined : `must look like http://host:port, got "${v}"`;

/** The settings, in the order docs/configuration.md lists them (and problems are reported in). */
export const SETTINGS = {
  project: {
    name: 'GOOGLE_CLOUD_PROJECT',
    type: 'text',
    alias: 'GCP_PROJECT',
    doc: 'project of Secret Manager and Pub/Sub',
    terraform: {variable: 'project_id'},
  },
  bucket: {
    name: 'BUCKET',
    type: 'text',
    doc: 'the bucket everything lands in: `gs://BUCKET/EXPORT_ENV/{day}/…`',
    terraform: {variable: 'bucket_name', as: 'the bucket it creates'},
  },
  env: {
    name: 'EXPORT_ENV',
    type: 'text',
    check: v =>
      /^[a-z0-9][a-z0-9_-]{0,62}$/.test(v)
        ? undefined
        : `must be lower-case letters, digits, "-" or "_", got "${v}"`,
    doc: 'top-level folder in the bucket, e.g. `brave`',
  },
  batchesTopic: {
    name: 'BATCHES_TOPIC',
    type: 'text',
    default: 'recording-batches',
    doc: 'topic the planner publishes to',
    terraform: {variable: 'prefix', as: 'the topic `PREFIX-recording-batches`'},
  },
  timeZone: {
    name: 'TIME_ZONE',
    type: 'text',
    default: 'UTC',
    check: v => (isValidTimeZone(v) ? undefined : `"${v}" is not an IANA time zone`),
    doc: 'IANA zone that defines a day',
  },
  windowLagDays: {
    name: 'WINDOW_LAG_DAYS',
    type: 'int',
    default: 3,
    min: 0,
    max: 30,
    doc: 'a run exports the day this many days before its own',
  },
  schedule: {
    name: 'SCHEDULE',
    type: 'text',
    optional: true,
    check: cronProblem,
    doc: "the nightly run's schedule, the Cloud Scheduler job's cron expression in `TIME_ZONE` (five fields, e.g. `0 2 * * *`): a history migration keeps quiet `MIGRATION_QUIET_MINUTES` before each start. A form read more than one way (App Engine syntax, both the day of the month and of the week restricted) is refused at start. Unset: no quiet window",
  },
  maxBackfillDays: {
    name: 'MAX_BACKFILL_DAYS',
    type: 'int',
    default: 31,
    min: 1,
    max: 366,
    doc: 'days one planner request may cover',
  },
  batchSize: {
    name: 'BATCH_SIZE',
    type: 'int',
    default: 100,
    min: 1,
    max: 1000,
    doc: 'conversations per batch message',
  },
  discovery: {
    name: 'DISCOVERY',
    type: 'choice',
    default: 'auto',
    values: ['jobs', 'query', 'auto'],
    doc: '`jobs`, `query`, or jobs with query fallback',
  },
  genesysCredentialsSecret: {
    name: 'GENESYS_CREDENTIALS_SECRET',
    type: 'text',
    default: 'genesys-clients',
    doc: 'secret holding `[{"clientId","clientSecret"},…]`',
    terraform: {variable: 'prefix', as: 'the secret `PREFIX-genesys-clients`'},
  },
  genesysEnvironment: {
    name: 'GENESYS_ENVIRONMENT',
    type: 'text',
    default: 'mypurecloud.com',
    doc: 'region host, e.g. `mypurecloud.ie`, `euw2.pure.cloud`',
  },
  genesysTokenRequestsPerMinute: {
    name: 'GENESYS_TOKEN_REQUESTS_PER_MINUTE',
    type: 'int',
    default: 300,
    min: 1,
    max: 100_000,
    doc: "Genesys' limit per token and minute (`token.rate.per.minute`)",
  },
  genesysClientRequestsPerMinute: {
    name: 'GENESYS_CLIENT_REQUESTS_PER_MINUTE',
    type: 'int',
    default: 3000,
    min: 1,
    max: 1_000_000,
    doc: "Genesys' limit per OAuth client and minute across its tokens (`org.app.user.rate.per.minute`)",
  },
  workerInstances: {
    name: 'WORKER_INSTANCES',
    type: 'int',
    default: 1,
    min: 1,
    max: 1000,
    doc: "most worker instances at once (Terraform sets their max instance count). On every client, each instance paces itself to `min(per-token limit, its role's part of the per-client limit ÷ these)`: workers share 90 %, planners 10 % — see [throughput](throughput.md)",
    terraform: {variable: 'worker_max_instances', as: "the worker's max instance count"},
  },
  plannerInstances: {
    name: 'PLANNER_INSTANCES',
    type: 'int',
    default: 1,
    min: 1,
    max: 100,
    doc: 'most planner instances at once (Terraform sets their max instance count); see `WORKER_INSTANCES`',
    terraform: {fixed: "the planner's max instance count"},
  },
  migrationShare: {
    name: 'MIGRATION_SHARE',
    type: 'int',
    default: 50,
    min: 1,
    max: 100,
    doc: "percent of each worker instance's budget on every OAuth client that a history migration's batches may use; the nightly run always has the whole budget (see [migration](migration.md))",
  },
  migrationOutstandingBatches: {
    name: 'MIGRATION_OUTSTANDING_BATCHES',
    type: 'int',
    default: 2,
    min: 1,
    max: 1000,
    doc: 'most batches of a history migration published and not yet reported at once: the most a nightly day can find ahead of it in the queue (see [migration](migration.md))',
  },
  restoreOutstanding: {
    name: 'RESTORE_OUTSTANDING',
    type: 'int',
    default: 500,
    min: 1,
    max: 2000,
    doc: 'most archived recordings being restored at once (asked for and not yet exported)',
  },
  restoreHoldHours: {
    name: 'RESTORE_HOLD_HOURS',
    type: 'int',
    default: 72,
    min: 1,
    max: 720,
    doc: "how long a restored recording is asked to stay restored (the archive date a restore sets, from the request): long enough for Genesys Cloud's restore and the export",
  },
  restorePollSeconds: {
    name: 'RESTORE_POLL_SECONDS',
    type: 'int',
    default: 600,
    min: 1,
    max: 86_400,
    doc: 'how soon a requested restore is read again from Genesys Cloud (later as it goes on: a quarter of the time since it was asked for)',
  },
  restoreCallsPerTick: {
    name: 'RESTORE_CALLS_PER_TICK',
    type: 'int',
    default: 60,
    min: 2,
    max: 1000,
    doc: "most Genesys calls the planner's every-minute tick makes for restores (a restore asked for costs two, a check one)",
  },
  analyticsHorizonDays: {
    name: 'ANALYTICS_HORIZON_DAYS',
    type: 'int',
    default: DEFAULT_HORIZON_DAYS,
    min: 90,
    max: 36_600,
    doc: "how far back, in days, the analytics jobs API is relied on to enumerate a day's conversations; older days (and days past the organisation's maximum interaction data retention) are refused and reported, never planned empty (see [migration](migration.md#the-history-horizon))",
  },
  migrationQuietMinutes: {
    name: 'MIGRATION_QUIET_MINUTES',
    type: 'int',
    default: 15,
    min: 0,
    max: 720,
    doc: "minutes before each scheduled nightly run (`SCHEDULE`) in which a history migration publishes and plans nothing, until the night's day is planned: its batches finish and its calls leave Genesys' minute first; 0: off (see [migration](migration.md#how-the-nightly-run-is-protected))",
  },
  metadataMode: {
    name: 'METADATA',
    type: 'choice',
    default: 'full',
    values: ['full', 'lean'],
    doc: "`full` (a `recordingmetadata` call per conversation) or `lean` (analytics details + batch results, `recordingmetadata` only where they cannot prove the whole truth; only on OAuth clients proven to hold `recording:recording:viewSensitiveData`, the others run in full mode, saying so in the log and the day's marker; see [throughput](throughput.md#lean-mode-metadatalean))",
  },
  genesysMaxAttempts: {
    name: 'GENESYS_MAX_ATTEMPTS',
    type: 'int',
    default: 6,
    min: 1,
    max: 20,
    doc: 'attempts per Genesys request',
  },
  batchPollDeadlineMs: {
    name: 'BATCH_POLL_DEADLINE_MS',
    type: 'int',
    default: 300_000,
    min: 1000,
    max: 3_600_000,
    doc: 'how long a batch download request is polled (below `BATCH_DEADLINE_MS`)',
  },
  batchDeadlineMs: {
    name: 'BATCH_DEADLINE_MS',
    type: 'int',
    default: 480_000,
    min: 1000,
    max: 3_600_000,
    doc: "how long one delivery of a batch exports before it stops and reports (inside the worker's 600 s timeout)",
  },
  mediaIdleTimeoutMs: {
    name: 'MEDIA_IDLE_TIMEOUT_MS',
    type: 'int',
    default: 60_000,
    min: 1000,
    max: 600_000,
    doc: 'a media download that sends nothing for this long is abandoned and retried',
  },
  downloadConcurrency: {
    name: 'DOWNLOAD_CONCURRENCY',
    type: 'int',
    default: 8,
    min: 1,
    max: 64,
    doc: 'downloads in flight per batch',
  },
  archivedPolicy: {
    name: 'ARCHIVED_POLICY',
    type: 'choice',
    default: 'restore',
    values: ['restore', 'fail', 'skip'],
    doc: '`restore` archived recordings (the pipeline asks Genesys Cloud to restore them, exports them once restored and decides their day again; the OAuth clients need the `recording:*:restore` permissions), `fail` them (gaps an operator restores by hand or with `grm restore DAY`) or `skip` them (see [migration](migration.md#archived-recordings))',
  },
  maxBatchAttempts: {
    name: 'MAX_BATCH_ATTEMPTS',
    type: 'int',
    default: 4,
    min: 1,
    max: 100,
    doc: 'deliveries of one message before failures are reported instead of retried',
  },
  developerEmails: {
    name: 'DEVELOPER_EMAILS',
    type: 'emails',
    doc: 'who is emailed (comma- or space-separated)',
  },
  mailFrom: {
    name: 'MAIL_FROM',
    type: 'text',
    check: v => (EMAIL_RE.test(v) ? undefined : `must be one email address, got "${v}"`),
    doc: 'sender, a verified SendGrid sender',
  },
  sendgridKeySecret: {
    name: 'SENDGRID_KEY_SECRET',
    type: 'text',
    default: 'sendgrid-api-key',
    doc: 'secret holding the SendGrid API key',
    terraform: {variable: 'prefix', as: 'the secret `PREFIX-sendgrid-api-key`'},
  },
  emailMaxGaps: {
    name: 'EMAIL_MAX_GAPS',
    type: 'int',
    default: 25,
    min: 1,
    max: 1000,
    doc: 'gaps listed in an email (all are in `_FAILURE`)',
  },
  checkPreviousDays: {
    name: 'CHECK_PREVIOUS_DAYS',
    type: 'int',
    default: 1,
    min: 0,
    max: 14,
    doc: 'days before the planned day checked for `_SUCCESS` (0: off)',
  },
  maxAutoReruns: {
    name: 'MAX_AUTO_RERUNS',
    type: 'int',
    default: 2,
    min: 0,
    max: 10,
    doc: 'automatic reruns of one day by check-previous',
  },
  runGraceMinutes: {
    name: 'RUN_GRACE_MINUTES',
    type: 'int',
    default: 720,
    min: 0,
    max: 10_080,
    doc: 'a run younger than this without a marker is still running',
  },
  retentionDays: {
    name: 'RETENTION_DAYS',
    type: 'int',
    default: 0,
    min: 0,
    max: 36_500,
    doc: 'days every recording and metadata object is retained (write-once) from its creation; 0: no retention. Needs a bucket created with object retention enabled, and versioning on ([compliance](compliance.md))',
  },
  retentionMode: {
    name: 'RETENTION_MODE',
    type: 'choice',
    default: 'unlocked',
    values: ['unlocked', 'locked'],
    doc: '`unlocked` (an administrator with `overrideUnlockedRetention` may shorten or remove it) or `locked` (nobody can; it can only be extended)',
  },
  genesysGatewayUrl: {
    name: 'GENESYS_GATEWAY_URL',
    type: 'text',
    optional: true,
    check: URL_CHECK,
    doc: "local stack only: the Genesys simulator's URL (then `GENESYS_ENVIRONMENT` is ignored)",
    terraform: 'local',
  },
  secretManagerEmulatorHost: {
    name: 'SECRET_MANAGER_EMULATOR_HOST',
    type: 'text',
    optional: true,
    doc: "local stack only: the Secret Manager stand-in's `host:port`",
    terraform: 'local',
  },
  sendgridApiUrl: {
    name: 'SENDGRID_API_URL',
    type: 'text',
    optional: true,
    check: URL_CHECK,
    doc: "local stack only: the SendGrid sink's URL",
    terraform: 'local',
  },
  pubsubEmulatorHost: {
    name: 'PUBSUB_EMULATOR_HOST',
    type: 'text',
    optional: true,
    doc: "local stack only: the Pub/Sub emulator's `host:port`; the replay commands then point gcloud at it",
    terraform: 'local',
  },
} as const satisfies Record<string, Setting>;

export type Config = {-readonly [K in keyof typeof SETTINGS]: Value<(typeof SETTINGS)[K]>};

export function parseConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const config = Object.fromEntries(
    Object.entries(SETTINGS).map(([key, s]) => [key, readSetting(s, env, problems)]),
  ) as Config;
  if (config.batchPollDeadlineMs >= config.batchDeadlineMs)
    problems.push(
      `BATCH_POLL_DEADLINE_MS (${config.batchPollDeadlineMs}) must be below BATCH_DEADLINE_MS (${config.batchDeadlineMs})`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
