/**
 * Structured logs for Cloud Logging: one JSON object per line with
 * `severity` and `message`; ERROR and above go to stderr. Values that look
 * like credentials or signed URLs never reach the output.
 */
export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
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
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redact(value.message, depth + 1),
      ...(value.cause ? {cause: redact(value.cause, depth + 1)} : {}),
    };
  }
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
  const log = (severity: Severity, message: string, fields: Record<string, unknown> = {}) => {
    const entry = redact({severity, message, ...base, ...fields}) as Record<string, unknown>;
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
    write(severity, line);
  };
  return {
    debug: (m, f) => log('DEBUG', m, f),
    info: (m, f) => log('INFO', m, f),
    warn: (m, f) => log('WARNING', m, f),
    error: (m, f) => log('ERROR', m, f),
  };
}
