/**
 * The simulator's runtime settings: platform limits and fault knobs. All of
 * them can be changed while it runs (`PATCH /_admin/config`).
 */
import type {JsonShape} from './media';

export interface Settings {
  /**
   * Requests per token per minute, a sliding minute (Genesys
   * `client.credentials.token.rate.per.minute` / `token.rate.per.minute`: 300).
   */
  rateLimitPerMinute: number;
  /**
   * Requests per OAuth client per minute across all of its tokens, a sliding
   * minute (Genesys `org.app.user.rate.per.minute`: 3000).
   */
  clientRateLimitPerMinute: number;
  /**
   * Tokens one OAuth client may create per minute, a sliding minute. Genesys
   * documents no value (the reference marks a token-creation limit
   * UNVERIFIED): 60 is an assumption, to be changed when one is known.
   */
  tokenCreationPerMinute: number;
  /** `expires_in` of new tokens, in seconds (Genesys default: 86399). */
  tokenTtlSeconds: number;
  /** `recordingBatchDownloadUrlTtl` in minutes (2..60, default 60). */
  urlTtlMinutes: number;
  /** Overrides the URL TTL in seconds (for tests); 0 = use urlTtlMinutes. */
  urlTtlSeconds: number;
  /** Delay before a batch request has discovered all its recordings, in ms. */
  batchDiscoveryMs: number;
  /** Delay between two results of a batch request becoming available, in ms. */
  batchPerResultMs: number;
  /** Batch requests never complete (results stop at half). */
  batchStall: boolean;
  /** Share of otherwise good batch results turned into error results. */
  batchErrorRate: number;
  /**
   * Share of downloadable recordings that give two batch results instead of
   * one ("one recording can produce more than one result"): half of them an
   * error result and a good one, half two good ones with the same media.
   */
  batchDuplicateRate: number;
  /**
   * The organisation redacts recordings flagged as holding PCI/PII: batch
   * downloads leave them out for a client lacking
   * `recording:recording:viewSensitiveData`.
   */
  redaction: boolean;
  /** Every client lacks `recording:recording:viewSensitiveData` (whatever `--client` says). */
  dropSensitive: boolean;
  /** Share of media downloads cut off half-way. */
  truncateMediaRate: number;
  /** How far the analytics data-availability watermark lags behind now, in minutes. */
  availabilityLagMinutes: number;
  /**
   * The organisation's maximum interaction data retention, in days
   * (`GET /api/v2/analytics/dataretention/settings`); 0: none set, and the
   * route answers 404 (what Genesys answers then is not documented).
   */
  analyticsRetentionDays: number;
  jobQueuedMs: number;
  jobPendingMs: number;
  /** How long analytics job results stay readable, in ms. */
  jobExpiryMs: number;
  /** The next N analytics jobs end FAILED. */
  jobFailNext: number;
  /** The next N analytics jobs end EXPIRED. */
  jobExpireNext: number;
  jobMaxPageSize: number;
  jobDefaultPageSize: number;
  queryMaxPageSize: number;
  /** How long a single-recording GET answers 202 (transcoding), in ms. */
  transcodeMs: number;
  /** Shape of chat/messaging JSON media. */
  jsonShape: JsonShape;
  /**
   * How long a restore of an archived recording stays RESTORING before it is
   * RESTORED, in ms. Genesys documents "several hours" and no figure: 4 hours
   * is an assumption; tests set it to seconds.
   */
  restoreDelayMs: number;
}

export const DEFAULT_SETTINGS: Settings = {
  rateLimitPerMinute: 300,
  clientRateLimitPerMinute: 3000,
  tokenCreationPerMinute: 60,
  tokenTtlSeconds: 86399,
  urlTtlMinutes: 60,
  urlTtlSeconds: 0,
  batchDiscoveryMs: 100,
  batchPerResultMs: 5,
  batchStall: false,
  batchErrorRate: 0,
  batchDuplicateRate: 0,
  redaction: true,
  dropSensitive: false,
  truncateMediaRate: 0,
  availabilityLagMinutes: 360,
  analyticsRetentionDays: 0,
  jobQueuedMs: 100,
  jobPendingMs: 300,
  jobExpiryMs: 2 * 86_400_000,
  jobFailNext: 0,
  jobExpireNext: 0,
  jobMaxPageSize: 1000,
  jobDefaultPageSize: 100,
  queryMaxPageSize: 100,
  transcodeMs: 300,
  jsonShape: 'mixed',
  restoreDelayMs: 4 * 3_600_000,
};

/** Validates a partial settings object from the admin API or the command line. */
export function parseSettings(input: unknown): Partial<Settings> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error('settings must be a JSON object');
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!(key in DEFAULT_SETTINGS)) throw new Error(`unknown setting "${key}"`);
    const expected = typeof DEFAULT_SETTINGS[key as keyof Settings];
    if (typeof value !== expected) throw new Error(`setting "${key}" must be a ${expected}`);
    if (expected === 'number' && (!Number.isFinite(value) || (value as number) < 0)) {
      throw new Error(`setting "${key}" must be a non-negative number`);
    }
    out[key] = value;
  }
  if (
    out.jsonShape !== undefined &&
    !['transcript', 'recording', 'mixed'].includes(out.jsonShape as string)
  ) {
    throw new Error('setting "jsonShape" must be transcript, recording or mixed');
  }
  if (
    out.urlTtlMinutes !== undefined &&
    ((out.urlTtlMinutes as number) < 2 || (out.urlTtlMinutes as number) > 60)
  ) {
    throw new Error('setting "urlTtlMinutes" must be between 2 and 60, as in Genesys Cloud');
  }
  const days = out.analyticsRetentionDays as number | undefined;
  if (days !== undefined && days !== 0 && (!Number.isInteger(days) || days < 90 || days > 1826))
    throw new Error(
      'setting "analyticsRetentionDays" must be 0 (none) or whole days from 90 to 1826, as in Genesys Cloud',
    );
  for (const key of ['batchErrorRate', 'batchDuplicateRate', 'truncateMediaRate'] as const) {
    if (out[key] !== undefined && (out[key] as number) > 1)
      throw new Error(`setting "${key}" must be between 0 and 1`);
  }
  return out as Partial<Settings>;
}
