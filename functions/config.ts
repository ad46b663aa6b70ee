/**
 * The pipeline's configuration, read once from the environment (Terraform
 * sets it in production; the local stack in development). Every problem is
 * reported at once in a single ConfigError, at cold start.
 */
import {ConfigError} from './core/errors';
import {EMAIL_RE} from './core/ids';
import {isValidTimeZone} from './core/time-window';

export interface Config {
  /** GCP project (Secret Manager names, Pub/Sub topic). */
  project: string;
  /** The bucket everything lands in. */
  bucket: string;
  /** Top-level folder in the bucket, e.g. `brave`. */
  env: string;
  /** Pub/Sub topic of batch messages. */
  batchesTopic: string;
  /** IANA zone that defines a day. */
  timeZone: string;
  /** Days between a run's own day and the day it exports. */
  windowLagDays: number;
  /** Most days one planner request may cover. */
  maxBackfillDays: number;
  /** Conversations per batch message. */
  batchSize: number;
  /** Secret holding the Genesys OAuth clients (JSON). */
  genesysCredentialsSecret: string;
  /** Genesys region host, e.g. `mypurecloud.ie`; ignored with a gateway. */
  genesysEnvironment: string;
  /** Local development only: the simulator's URL (SDK gateway). */
  genesysGatewayUrl?: string;
  /** Genesys' request limit per token and minute (`token.rate.per.minute`). */
  genesysTokenRequestsPerMinute: number;
  /** Genesys' request limit per OAuth client and minute, across its tokens (`org.app.user.rate.per.minute`). */
  genesysClientRequestsPerMinute: number;
  /**
   * Most worker / planner instances at once (Terraform sets their max
   * instance counts): each instance paces itself to its share of a client's limit.
   */
  workerInstances: number;
  plannerInstances: number;
  /** `full`: recording metadata per conversation; `lean`: batch results and analytics only. */
  metadataMode: 'full' | 'lean';
  /** Attempts per Genesys request before giving up. */
  genesysMaxAttempts: number;
  /** How long the worker polls a batch download request, in ms. */
  batchPollDeadlineMs: number;
  /** Concurrent downloads per batch. */
  downloadConcurrency: number;
  /** A batch stops exporting after this long and reports, inside the worker's timeout (ms). */
  batchDeadlineMs: number;
  /** A media body that sends nothing for this long is abandoned and retried (ms). */
  mediaIdleTimeoutMs: number;
  /** What an ARCHIVED recording counts as. */
  archivedPolicy: 'fail' | 'skip';
  /** Deliveries of a batch message after which the worker reports failure instead of retrying. */
  maxBatchAttempts: number;
  /** Discovery through analytics jobs, the synchronous query, or jobs with query fallback. */
  discovery: 'jobs' | 'query' | 'auto';
  /** Secret Manager stand-in `host:port` (local only). */
  secretManagerEmulatorHost?: string;
  /** Who is told about gaps and reruns. */
  developerEmails: string[];
  /** The sender address (a verified SendGrid sender). */
  mailFrom: string;
  /** Secret holding the SendGrid API key. */
  sendgridKeySecret: string;
  /** Local development only: the SendGrid sink's URL. */
  sendgridApiUrl?: string;
  /** Gaps listed in an email body (all of them are in `_FAILURE`). */
  emailMaxGaps: number;
  /** Days before the planned day that the scheduled run checks for `_SUCCESS` (0: none). */
  checkPreviousDays: number;
  /** Automatic reruns of one day by check-previous, at most. */
  maxAutoReruns: number;
  /** A run younger than this without a marker is taken to be still running, in minutes. */
  runGraceMinutes: number;
  /** Pub/Sub emulator `host:port` (local only): replay commands then target it. */
  pubsubEmulatorHost?: string;
  /**
   * Days every recording and metadata object is retained (write-once) from its
   * creation; 0: no object retention. Needs a bucket with object retention enabled.
   */
  retentionDays: number;
  /** `unlocked`: an authorised user may shorten or remove it; `locked`: nobody can, only extend. */
  retentionMode: 'unlocked' | 'locked';
}

const EMAIL = EMAIL_RE;

/** Splits a comma- or space-separated address list; returns the bad entries too. */
export function parseEmailList(raw: string): {emails: string[]; invalid: string[]} {
  const items = raw
    .split(/[\s,;]+/)
    .map(s => s.trim())
    .filter(Boolean);
  return {emails: items.filter(e => EMAIL.test(e)), invalid: items.filter(e => !EMAIL.test(e))};
}

type Env = Record<string, string | undefined>;

export function parseConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string, fallback?: string): string => {
    const v = env[name]?.trim();
    if (v) return v;
    if (fallback !== undefined) return fallback;
    problems.push(`${name} is required`);
    return '';
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    if (!allowed.includes(raw as T)) {
      problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  };
  const project = str('GOOGLE_CLOUD_PROJECT', env.GCP_PROJECT ?? '');
  if (!project) problems.push('GOOGLE_CLOUD_PROJECT is required');
  const envName = str('EXPORT_ENV');
  if (envName && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(envName)) {
    problems.push(`EXPORT_ENV must be lower-case letters, digits, "-" or "_", got "${envName}"`);
  }
  const timeZone = str('TIME_ZONE', 'UTC');
  if (!isValidTimeZone(timeZone)) problems.push(`TIME_ZONE "${timeZone}" is not an IANA time zone`);
  const gateway = env.GENESYS_GATEWAY_URL?.trim();
  if (gateway && !/^https?:\/\/[^/]+\/?$/.test(gateway)) {
    problems.push(`GENESYS_GATEWAY_URL must look like http://host:port, got "${gateway}"`);
  }
  const developers = parseEmailList(str('DEVELOPER_EMAILS'));
  if (developers.invalid.length > 0) {
    problems.push(`DEVELOPER_EMAILS holds invalid addresses: ${developers.invalid.join(', ')}`);
  }
  const mailFrom = str('MAIL_FROM');
  if (mailFrom && !EMAIL.test(mailFrom)) {
    problems.push(`MAIL_FROM must be one email address, got "${mailFrom}"`);
  }
  const sendgridApiUrl = env.SENDGRID_API_URL?.trim();
  if (sendgridApiUrl && !/^https?:\/\/[^/]+\/?$/.test(sendgridApiUrl)) {
    problems.push(`SENDGRID_API_URL must look like http://host:port, got "${sendgridApiUrl}"`);
  }
  const config: Config = {
    project,
    bucket: str('BUCKET'),
    env: envName,
    batchesTopic: str('BATCHES_TOPIC', 'recording-batches'),
    timeZone,
    windowLagDays: int('WINDOW_LAG_DAYS', 3, 0, 30),
    maxBackfillDays: int('MAX_BACKFILL_DAYS', 31, 1, 366),
    batchSize: int('BATCH_SIZE', 100, 1, 1000),
    genesysCredentialsSecret: str('GENESYS_CREDENTIALS_SECRET', 'genesys-clients'),
    genesysEnvironment: str('GENESYS_ENVIRONMENT', 'mypurecloud.com'),
    genesysGatewayUrl: gateway || undefined,
    genesysTokenRequestsPerMinute: int('GENESYS_TOKEN_REQUESTS_PER_MINUTE', 300, 1, 100_000),
    genesysClientRequestsPerMinute: int('GENESYS_CLIENT_REQUESTS_PER_MINUTE', 3000, 1, 1_000_000),
    workerInstances: int('WORKER_INSTANCES', 1, 1, 1000),
    plannerInstances: int('PLANNER_INSTANCES', 1, 1, 100),
    metadataMode: oneOf('METADATA', 'full', ['full', 'lean'] as const),
    genesysMaxAttempts: int('GENESYS_MAX_ATTEMPTS', 6, 1, 20),
    batchPollDeadlineMs: int('BATCH_POLL_DEADLINE_MS', 300_000, 1000, 3_600_000),
    downloadConcurrency: int('DOWNLOAD_CONCURRENCY', 8, 1, 64),
    batchDeadlineMs: int('BATCH_DEADLINE_MS', 480_000, 1000, 3_600_000),
    mediaIdleTimeoutMs: int('MEDIA_IDLE_TIMEOUT_MS', 60_000, 1000, 600_000),
    archivedPolicy: oneOf('ARCHIVED_POLICY', 'fail', ['fail', 'skip'] as const),
    maxBatchAttempts: int('MAX_BATCH_ATTEMPTS', 4, 1, 100),
    discovery: oneOf('DISCOVERY', 'auto', ['jobs', 'query', 'auto'] as const),
    secretManagerEmulatorHost: env.SECRET_MANAGER_EMULATOR_HOST?.trim() || undefined,
    developerEmails: developers.emails,
    mailFrom,
    sendgridKeySecret: str('SENDGRID_KEY_SECRET', 'sendgrid-api-key'),
    sendgridApiUrl: sendgridApiUrl || undefined,
    emailMaxGaps: int('EMAIL_MAX_GAPS', 25, 1, 1000),
    checkPreviousDays: int('CHECK_PREVIOUS_DAYS', 1, 0, 14),
    maxAutoReruns: int('MAX_AUTO_RERUNS', 2, 0, 10),
    runGraceMinutes: int('RUN_GRACE_MINUTES', 720, 0, 10_080),
    pubsubEmulatorHost: env.PUBSUB_EMULATOR_HOST?.trim() || undefined,
    retentionDays: int('RETENTION_DAYS', 0, 0, 36_500),
    retentionMode: oneOf('RETENTION_MODE', 'unlocked', ['unlocked', 'locked'] as const),
  };
  if (config.batchPollDeadlineMs >= config.batchDeadlineMs)
    problems.push(
      `BATCH_POLL_DEADLINE_MS (${config.batchPollDeadlineMs}) must be below BATCH_DEADLINE_MS (${config.batchDeadlineMs})`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
