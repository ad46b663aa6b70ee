/**
 * `grm doctor`'s results: each check passes, fails (with the action that
 * fixes it) or is skipped (with why); rendered as a table for people or
 * JSON for machines. Exit 1 on any failure, else 0.
 */
import {renderTable} from './tables';

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export interface CheckResult {
  /** Stable, for machines: `secrets.genesys-clients`, `bucket.worker`, … */
  id: string;
  /** What is checked, for people. */
  title: string;
  status: CheckStatus;
  /** One line: what was found. */
  detail: string;
  /** For a failure: the exact action that fixes it. */
  fix?: string;
}

export const passed = (id: string, title: string, detail: string): CheckResult => ({
  id,
  title,
  status: 'pass',
  detail,
});

export const failed = (id: string, title: string, detail: string, fix: string): CheckResult => ({
  id,
  title,
  status: 'fail',
  detail,
  fix,
});

export const skipped = (id: string, title: string, why: string): CheckResult => ({
  id,
  title,
  status: 'skipped',
  detail: why,
});

export function doctorExitCode(results: readonly CheckResult[]): 0 | 1 {
  return results.some(r => r.status === 'fail') ? 1 : 0;
}

export function doctorCounts(results: readonly CheckResult[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = {pass: 0, fail: 0, skipped: 0};
  for (const r of results) counts[r.status]++;
  return counts;
}

/** The report for people: one row per check, each failure's fix under the table. */
export function doctorText(results: readonly CheckResult[]): string {
  const label: Record<CheckStatus, string> = {pass: 'pass', fail: 'FAIL', skipped: 'skipped'};
  const table = renderTable([
    ['CHECK', 'RESULT', 'DETAIL'],
    ...results.map(r => [r.title, label[r.status], oneLine(r.detail)]),
  ]);
  const fixes = results
    .filter(r => r.status === 'fail')
    .map(r => `- ${r.title}: ${oneLine(r.detail)}\n  fix: ${r.fix ?? '(none known)'}`);
  const c = doctorCounts(results);
  return [
    table,
    '',
    `${c.pass} passed, ${c.fail} failed, ${c.skipped} skipped`,
    ...(fixes.length ? ['', 'To fix:', ...fixes] : []),
  ].join('\n');
}

/** The report for machines. */
export function doctorJson(results: readonly CheckResult[]): {
  ok: boolean;
  counts: Record<CheckStatus, number>;
  checks: CheckResult[];
} {
  return {ok: doctorExitCode(results) === 0, counts: doctorCounts(results), checks: [...results]};
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
