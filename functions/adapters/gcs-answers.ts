/**
 * What Cloud Storage answers, in the ports' terms: an object resource as a
 * StoredObject, and a refusal as the error the pipeline acts on (permanent
 * when no retry changes it, retryable otherwise).
 */
import {statusOf} from './http-status';
import {PermanentError, PermissionDeniedError, RetryableError} from '../core/errors';
import type {ObjectRetention, StoredObject, WriteOptions} from '../ports';

/** The JSON API's error reason (`errors[0].reason`), when the client kept it. */
function reasonOf(err: unknown): string | undefined {
  const e = err as {errors?: Array<{reason?: unknown}>};
  const reason = Array.isArray(e.errors) ? e.errors[0]?.reason : undefined;
  return typeof reason === 'string' ? reason : undefined;
}

/**
 * A refusal no retry changes: GCS' 403 `retentionPolicyNotMet` (the object is
 * retained and cannot be replaced or deleted before its retention ends), a
 * retention the bucket does not allow (400: object retention not enabled on
 * the bucket, or a retain-until time it refuses), or a permission the
 * function's identity does not hold (401/403: GCS' message names the
 * identity and the permission, e.g. `storage.objects.list`, which an
 * operator grants in infra/).
 */
export function retentionRefusal(
  err: unknown,
  what: string,
  opts?: WriteOptions,
): PermanentError | undefined {
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (status === 403 && reasonOf(err) === 'retentionPolicyNotMet')
    return new PermanentError(
      `${what}: the object is retained and cannot be replaced or deleted yet (${message})`,
    );
  if (status === 401 || status === 403)
    return new PermissionDeniedError(`${what}: permission denied: ${message}`);
  if (status === 400 && opts?.retention)
    return new PermanentError(
      `${what}: GCS refused the object retention (${message}); ` +
        'RETENTION_DAYS needs a bucket created with object retention enabled (infra: retention_days)',
    );
  return undefined;
}

/**
 * The error an operation on an object rejects with: a refusal no retry
 * changes (retentionRefusal), else a RetryableError that says what could not
 * be done (`what`: "could not read gs://…").
 */
export function storeFailure(
  err: unknown,
  what: string,
  context: Record<string, string>,
  opts?: WriteOptions,
): PermanentError | RetryableError {
  return retentionRefusal(err, what, opts) ?? new RetryableError(what, context, {cause: err});
}

/** GCS's refusal of an upload whose bytes do not match the checksum sent with them. */
export function checksumRefused(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return statusOf(err) === 400 && /doesn't match calculated (CRC32C|MD5)/.test(message);
}

/** An object resource (metadata) as the ports' StoredObject. */
export function toStored(
  name: string,
  md: {
    size?: string | number;
    md5Hash?: string;
    crc32c?: string;
    generation?: string | number;
    contentType?: string;
    metadata?: Record<string, unknown>;
    retention?: {mode?: string; retainUntilTime?: string} | null;
    timeDeleted?: string;
  },
): StoredObject {
  const r = md.retention;
  const retention: ObjectRetention | undefined =
    r && (r.mode === 'Unlocked' || r.mode === 'Locked') && typeof r.retainUntilTime === 'string'
      ? {mode: r.mode, retainUntilTime: r.retainUntilTime}
      : undefined;
  const custom = Object.entries(md.metadata ?? {}).filter(
    (e): e is [string, string] => typeof e[1] === 'string',
  );
  return {
    name,
    size: Number(md.size),
    md5Hash: String(md.md5Hash),
    crc32c: String(md.crc32c),
    generation: String(md.generation),
    contentType: md.contentType,
    ...(custom.length > 0 ? {metadata: Object.fromEntries(custom)} : {}),
    ...(retention ? {retention} : {}),
    ...(typeof md.timeDeleted === 'string' ? {timeDeleted: md.timeDeleted} : {}),
  };
}
