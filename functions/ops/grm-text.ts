/**
 * What grm prints for people (machines get `--json`): one function per
 * command's result, each a block of text, tables rendered as text.
 */
import {DayState, statusTable, typeBreakdown} from '../core/day-status';
import {renderTable} from '../core/tables';
import {formatBytes, plural} from '../core/human-format';
import {DayVerification, countFindings} from '../core/verify';
import type {Operator} from './operator';

type Result<K extends keyof Operator> = Operator[K] extends (...args: never[]) => Promise<infer R>
  ? R
  : never;

/** `grm status`: the table of days, then each day's gaps by reason. */
export function statusText(states: DayState[]): string {
  return [
    renderTable(statusTable(states, formatBytes)),
    ...states
      .filter(s => s.gapsByReason?.length)
      .map(
        s => `\n${s.day} gaps: ` + s.gapsByReason!.map(g => `${g.count} × ${g.reason}`).join('; '),
      ),
  ].join('\n');
}

/** `grm gaps`: the day's gaps, each with why and the fix. */
export function gapsText(day: string, found: NonNullable<Result<'gaps'>>): string {
  return [
    `${day} (run ${found.marker.runId}): ${plural(found.gaps.length, 'gap')}; ${typeBreakdown(found.marker.totals)}`,
    '',
    ...found.gaps.map(
      g =>
        `${g.conversationId}${g.recordingId ? ` / ${g.recordingId} (${g.type ?? 'call'})` : ''}\n` +
        `  why: ${g.reason}\n  fix: ${g.action}`,
    ),
  ].join('\n');
}

/** `grm replay`: the messages published (or that would be). */
export function replayText(day: string, result: Result<'replay'>, dryRun: boolean): string {
  return [
    `${dryRun ? 'would publish' : 'published'} ${plural(result.messages.length, 'message')} for ${day} (run ${result.runId}):`,
    ...result.messages.map(
      m =>
        `  ${m.batchId}: ${plural(m.conversationIds.length, 'conversation')}${m.messageId ? ` (message ${m.messageId})` : ''}`,
    ),
  ].join('\n');
}

/** `grm waive`: where the waiver was written. */
export function waivedText(day: string, result: Result<'waive'>): string {
  return `waived ${plural(result.waiver.recordingIds.length, 'recording')} of ${day}: ${result.object}`;
}

/** `grm rerun`: the planner's answer. */
export function rerunText(res: Result<'rerun'>): string {
  return `planner answered ${res.status}:\n${JSON.stringify(res.body, null, 2)}`;
}

/** `grm dead-letters`: one line per dead letter. */
export function deadLettersText(
  views: Result<'deadLetters'>,
  subscription: string,
  replayed: boolean,
): string {
  return views.length === 0
    ? `no dead letters in ${subscription}`
    : [
        `${plural(views.length, 'dead letter')} in ${subscription}${replayed ? ' (valid ones replayed and acknowledged)' : ''}:`,
        ...views.map(
          v =>
            `  ${v.messageId}: ${v.invalid ? `invalid (${v.invalid})` : `${v.day} ${v.batchId ?? 'ad-hoc'}, ${plural(v.conversations ?? 0, 'conversation')}`}` +
            `${v.deliveries ? `, ${plural(v.deliveries, 'delivery')}` : ''} — ${v.why}`,
        ),
      ].join('\n');
}

/** One day's verification for people: a headline, then one line per finding. */
export function verificationText(v: DayVerification): string {
  const head = `${v.day} ${v.marker ?? 'undecided'}${v.runId ? ` (run ${v.runId})` : ''}`;
  const r = v.retention;
  const retention = !r
    ? ''
    : r.retained === 0
      ? '; no retention recorded'
      : `; ${r.retained} retained (earliest end ${r.earliestUntil})` +
        (r.unretained > 0 ? `, ${r.unretained} without retention` : '');
  const scope =
    `${plural(v.reports, 'report')}, ${plural(v.objects, 'object')} (${formatBytes(v.bytes)}) ` +
    (v.deep ? 'read back and hashed' : "checked against GCS' checksums") +
    retention;
  if (v.intact) return `${head}: intact — ${scope}`;
  const counts = Object.entries(countFindings(v.findings))
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return [
    `${head}: ${plural(v.findings.length, 'finding')} (${counts}) — ${scope}`,
    ...v.findings.map(f => `  ${f.kind.padEnd(12)} ${f.object}\n               ${f.detail}`),
  ].join('\n');
}
