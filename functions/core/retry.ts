/**
 * What to do after a failed Genesys request. Retry-After is authoritative when
 * present; 408, 5xx and network errors back off exponentially with jitter; a
 * 401 means log in again; any other 4xx will not get better by retrying. The
 * login itself follows the same rules, except that a refused login is final.
 */
export type Failure =
  | {kind: 'http'; status: number; retryAfterSeconds?: number; code?: string}
  | {kind: 'network'; code?: string}
  | {kind: 'other'; message: string};

export type Decision =
  {action: 'retry'; delayMs: number} | {action: 'relogin'} | {action: 'fail'; retryable: boolean};

/** First backoff step and cap, in ms. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;

export function backoffMs(attempt: number, random: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random); // "equal jitter"
}

/**
 * @param attempt - the attempt that just failed, from 1
 * @param random - a number in [0, 1) for jitter (injected for tests)
 */
export function decide(
  failure: Failure,
  attempt: number,
  maxAttempts: number,
  random: number,
  reloggedIn: boolean,
): Decision {
  const transient =
    failure.kind === 'network' ||
    (failure.kind === 'http' &&
      (failure.status === 408 || failure.status === 429 || failure.status >= 500));
  if (failure.kind === 'http' && failure.status === 401) {
    return reloggedIn ? {action: 'fail', retryable: true} : {action: 'relogin'};
  }
  if (!transient) return {action: 'fail', retryable: false};
  if (attempt >= maxAttempts) return {action: 'fail', retryable: true};
  if (
    failure.kind === 'http' &&
    failure.status === 429 &&
    failure.retryAfterSeconds !== undefined
  ) {
    return {action: 'retry', delayMs: failure.retryAfterSeconds * 1000 + Math.round(250 * random)};
  }
  return {action: 'retry', delayMs: backoffMs(attempt, random)};
}

/** What the token endpoint answers to bad credentials (invalid_client, unauthorized_client). */
export function isCredentialsRefusal(status: number): boolean {
  return status === 400 || status === 401 || status === 403;
}

/**
 * What to do after a failed login (`POST /oauth/token`): the same retries as
 * any call for transient failures, but a refusal of the credentials is final
 * (logging in again cannot fix it).
 */
export function decideLogin(
  failure: Failure,
  attempt: number,
  maxAttempts: number,
  random: number,
): Exclude<Decision, {action: 'relogin'}> {
  if (failure.kind === 'http' && isCredentialsRefusal(failure.status)) {
    return {action: 'fail', retryable: false};
  }
  const decision = decide(failure, attempt, maxAttempts, random, true);
  return decision.action === 'relogin' ? {action: 'fail', retryable: false} : decision;
}

/** Reads a Retry-After header (seconds or HTTP date) relative to `nowMs`. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - nowMs) / 1000)) : undefined;
}
