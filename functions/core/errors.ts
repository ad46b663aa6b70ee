/**
 * The pipeline's error hierarchy. Every error says what failed, carries the
 * ids it concerns, and keeps its cause. What the platform does with it:
 *
 * - RetryableError: thrown out of an event handler so Pub/Sub or Eventarc
 *   redelivers (429, 5xx, network errors, timeouts).
 * - PermanentError: recorded and acknowledged; retrying cannot help.
 * - InputError: bad input from outside (HTTP body, message); 4xx / ack.
 * - ConfigError: the deployment is misconfigured; every problem at once.
 */
export class PipelineError extends Error {
  override name: string = 'PipelineError';
  constructor(
    message: string,
    readonly context: Record<string, string | number | undefined> = {},
    options?: {cause?: unknown},
  ) {
    super(message, options);
  }
}

export class RetryableError extends PipelineError {
  override name = 'RetryableError' as const;
  constructor(
    message: string,
    context: Record<string, string | number | undefined> = {},
    options?: {cause?: unknown; retryAfterMs?: number},
  ) {
    super(message, context, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
  readonly retryAfterMs?: number;
}

export class PermanentError extends PipelineError {
  override name = 'PermanentError' as const;
}

/**
 * A call the service refused for the caller's identity (401/403): a grant
 * missing from the deployment. Permanent, but not a verdict on the content
 * being read: callers that take an unusable object as "none" rethrow it.
 */
export class PermissionDeniedError extends PermanentError {}

export class InputError extends PipelineError {
  override name = 'InputError' as const;
  constructor(
    message: string,
    /** HTTP status for callers of the planner (400, 405, 409, 413, 415, 422). */
    readonly status = 400,
    context: Record<string, string | number | undefined> = {},
  ) {
    super(message, context);
  }
}

/** A day before the history horizon (core/history-horizon.ts): not planned, reported (422). */
export class BeyondHorizonError extends InputError {
  constructor(
    message: string,
    readonly day: string,
    /** The oldest day enumerable: every day before it is beyond too. */
    readonly oldest: string,
  ) {
    super(message, 422);
  }
}

export class ConfigError extends PipelineError {
  override name = 'ConfigError' as const;
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
  }
}

export const isRetryable = (e: unknown): e is RetryableError => e instanceof RetryableError;
export const isInputError = (e: unknown): e is InputError => e instanceof InputError;

/** A Genesys resource does not exist (HTTP 404). */
export class NotFoundError extends PermanentError {}

/** An analytics job ended FAILED, CANCELLED or EXPIRED, or took too long. */
export class JobFailedError extends RetryableError {}
