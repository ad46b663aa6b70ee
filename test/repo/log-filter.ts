/**
 * A small evaluator of the Cloud Logging query subset infra/monitoring.tf and
 * infra/dashboard.tf use: comparisons joined by AND, each `field="value"`,
 * `field=("a" OR "b")`, `field!="value"` or `severity>=LEVEL`, on a log entry shaped as Cloud Logging stores one
 * (resource.type, resource.labels, severity, jsonPayload). Anything else is a
 * syntax error, so a filter the tests cannot read fails them.
 */
export interface LogEntry {
  resource: {type: string; labels: Record<string, string>};
  severity: string;
  jsonPayload: Record<string, unknown>;
}

const SEVERITIES = [
  'DEFAULT',
  'DEBUG',
  'INFO',
  'NOTICE',
  'WARNING',
  'ERROR',
  'CRITICAL',
  'ALERT',
  'EMERGENCY',
];
const TERM =
  /^([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|!=|=)\s*("(?:[^"\\]|\\.)*"|[A-Z]+|\((?:"[^"\\]*"(?:\s+OR\s+)?)+\))$/;

function field(entry: LogEntry, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (v, k) =>
        typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined,
      entry,
    );
}

export function matches(filter: string, entry: LogEntry): boolean {
  return filter.split(/\s+AND\s+/).every(term => {
    const m = TERM.exec(term.trim());
    if (!m) throw new Error(`unsupported filter term: ${term}`);
    const [, path, op, raw] = m as unknown as [string, string, string, string];
    const have = field(entry, path);
    if (raw.startsWith('(')) {
      if (op !== '=') throw new Error(`a list of values is only supported with =: ${term}`);
      return [...raw.matchAll(/"([^"\\]*)"/g)].some(m => String(have ?? '') === m[1]);
    }
    const want = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (op === '>=') {
      if (path !== 'severity') throw new Error(`>= is only supported on severity: ${term}`);
      return SEVERITIES.indexOf(String(have)) >= SEVERITIES.indexOf(want);
    }
    const equal = String(have ?? '') === want;
    return op === '=' ? equal : !equal;
  });
}

/**
 * What a log-based metric's `EXTRACT(field)` extractor takes from an entry
 * (a label's value, or a distribution's value): the field, as a string; no
 * value when the entry lacks it. Any other extractor is an error.
 */
export function extract(extractor: string, entry: LogEntry): string | undefined {
  const m = /^EXTRACT\(([A-Za-z_][A-Za-z0-9_.]*)\)$/.exec(extractor);
  if (!m) throw new Error(`unsupported extractor: ${extractor}`);
  const v = field(entry, m[1]!);
  return v === undefined || v === null || typeof v === 'object' ? undefined : String(v);
}
