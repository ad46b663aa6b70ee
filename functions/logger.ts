/**
 * Structured logs for Cloud Logging: one JSON object per line with
 * `severity` and `message`; ERROR and above go to stderr. Values that look
 * like credentials or signed URLs never reach the output. Errors are logged
 * as fields (name, message, ids, cause chain), never as a raw stack.
 *
 * A log context (withLogContext) adds fields to every line logged while a
 * piece of work runs, by whichever service or adapter logs it: the worker
 * sets a batch's day, run id, batch id and attempt, so the Genesys adapter's
 * retry lines carry them without knowing about batches. It follows the async
 * calls of that work only (AsyncLocalStorage), so concurrent batches in one
 * instance never see each other's fields.
 */
import {AsyncLocalStorage} from 'node:async_hooks';
import {PipelineError, isRetryable} from './core/errors';

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /**
   * What to throw out of a Functions Framework handler to ask for a
   * redelivery. The framework prints a thrown error's `stack` to stderr as
   * it is, so that stack is this logger's one JSON line about `err`
   * (WARNING for a RetryableError, else ERROR), with the fields of the log
   * context `err` escaped from; `err` is its cause.
   */
  failure(err: unknown, message: string, fields?: Record<string, unknown>): Error;
}

const context = new AsyncLocalStorage<Record<string, unknown>>();
/** The log context each error escaped from (the innermost). */
const escapedFrom = new WeakMap<object, Record<string, unknown>>();

/**
 * Runs `fn` with `fields` (over the current context's) on every line logged
 * until it settles. An error it throws remembers them (see Logger.failure).
 */
export function withLogContext<T>(
  fields: Record<string, unknown>,
  fn: () => Promise<T>,
): Promise<T> {
  const store = {...context.getStore(), ...fields};
  return context.run(store, async () => {
    try {
      return await fn();
    } catch (err) {
      if (typeof err === 'object' && err !== null && !escapedFrom.has(err))
        escapedFrom.set(err, store);
      throw err;
    }
  });
}

/** Adds fields to the current log context (e.g. once the attempt is known); none outside one. */
export function addLogContext(fields: Record<string, unknown>): void {
  Object.assign(context.getStore() ?? {}, fields);
}

/** Stack frames kept for an unexpected error (a bug's only clue); expected errors get none. */
const STACK_FRAMES = 8;

/**
 * An error as log fields: name, message, the ids a PipelineError carries,
 * an SDK error's code and status, and the cause chain. The stack (as a list
 * of frames) only for an error none of ours explains (a bug, an SDK
 * surprise), where it is the only clue; `explained` once a PipelineError
 * has wrapped it.
 */
function errorFields(err: Error, depth: number, explained = false): Record<string, unknown> {
  const e = err as Error & {code?: unknown; status?: unknown};
  const out: Record<string, unknown> = {name: err.name, message: redact(err.message, depth + 1)};
  if (err instanceof PipelineError) {
    const ids = Object.entries(err.context).filter(([, v]) => v !== undefined);
    if (ids.length > 0) out.context = redact(Object.fromEntries(ids), depth + 1);
  } else if (!explained && typeof err.stack === 'string') {
    const frames = err.stack
      .split('\n')
      .map(l => l.trim())
      .filter(l => l.startsWith('at '))
      .slice(0, STACK_FRAMES);
    if (frames.length > 0) out.stack = redact(frames, depth + 1);
  }
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (typeof e.status === 'number') out.status = e.status;
  if (err.cause instanceof Error) {
    out.cause =
      depth > 8
        ? '[depth]'
        : errorFields(err.cause, depth + 1, explained || err instanceof PipelineError);
  } else if (err.cause !== undefined) {
    out.cause = redact(err.cause, depth + 1);
  }
  return out;
}

const SECRET_KEY = /secret|token|password|authorization|apikey|api_key|signature|credential/i;

/** Removes secrets: sensitive keys, bearer tokens, SendGrid keys and URL query strings. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') {
    return value
      .replace(/(https?:\/\/[^\s?"']+)\?[^\s"']*/g, '$1?[redacted]')
      .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]')
      .replace(/SG\.[A-Za-z0-9._-]+/g, 'SG.[redacted]');
  }
  if (value instanceof Error) return errorFields(value, depth);
  if (Array.isArray(value)) return value.map(v => redact(v, depth + 1));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
    return out;
  }
  return value;
}

export function createLogger(
  base: Record<string, unknown> = {},
  write: (severity: Severity, line: string) => void = (severity, line) =>
    (severity === 'ERROR' || severity === 'CRITICAL' ? process.stderr : process.stdout).write(
      line + '\n',
    ),
): Logger {
  const format = (
    severity: Severity,
    message: string,
    fields: Record<string, unknown>,
    scope = context.getStore(),
  ): string => {
    const entry = redact({severity, message, ...base, ...scope, ...fields}) as Record<
      string,
      unknown
    >;
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({
        severity,
        message: redact(message),
        note: 'fields were not serialisable',
      });
    }
    return line;
  };
  const log = (severity: Severity, message: string, fields: Record<string, unknown> = {}) =>
    write(severity, format(severity, message, fields));
  return {
    debug: (m, f) => log('DEBUG', m, f),
    info: (m, f) => log('INFO', m, f),
    warn: (m, f) => log('WARNING', m, f),
    error: (m, f) => log('ERROR', m, f),
    failure(err, message, fields = {}) {
      const scope =
        (typeof err === 'object' && err !== null && escapedFrom.get(err)) || context.getStore();
      const severity = isRetryable(err) ? 'WARNING' : 'ERROR';
      const thrown = new Error(message, {cause: err});
      thrown.stack = format(severity, message, {...fields, error: err}, scope);
      return thrown;
    },
  };
}
