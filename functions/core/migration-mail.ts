/**
 * The developers' email about a history migration: one per milestone (a
 * quarter of its days decided, then done), and one when its monthly call
 * cap pauses it; never one per day. It names the days that ended
 * `_FAILURE`, each with the command that shows its gaps.
 */
import {escapeHtml} from './html';
import {MigrationRecord, spanDays} from './migration';
import {monthOf, totalCalls} from './monthly-calls';

export interface MigrationMail {
  subject: string;
  text: string;
  html: string;
}

/** Days named in one email at most; the rest are counted. */
export const MAIL_MAX_DAYS = 50;

export function migrationMail(
  m: MigrationRecord,
  event:
    | {kind: 'milestone'; percent: number}
    | {kind: 'capped'; untilMonth: string; reached: boolean; restoreCalls: number},
  where: {env: string; bucket: string},
): MigrationMail {
  const total = spanDays(m);
  const beyond = [...(m.beyond ?? [])].sort();
  const decided = m.counted.length + m.skipped;
  const failed = m.failed ?? [];
  const calls = totalCalls(m.calls);
  const head =
    event.kind === 'milestone'
      ? event.percent >= 100
        ? `History migration ${m.id} is done: ${m.from} to ${m.to}`
        : `History migration ${m.id}: ${event.percent} % of its days decided`
      : `History migration ${m.id} paused at its monthly call cap`;
  const lines = [
    head,
    '',
    `Span: ${m.from} to ${m.to} (${total} days), env ${where.env}, bucket ${where.bucket}.`,
    `Decided: ${decided} of ${total} days (${m.skipped} were _SUCCESS already); ${failed.length} _FAILURE.`,
    `Genesys calls: ${calls} in total` +
      (m.monthlyCallCap !== undefined ? `; cap ${m.monthlyCallCap} a month` : '') +
      '.',
  ];
  if (event.kind === 'capped')
    lines.push(
      `This month it made ${capMonthCalls(m)} calls` +
        (event.restoreCalls > 0
          ? ` and the restores of archived recordings ${event.restoreCalls}`
          : '') +
        `, of its cap of ${m.monthlyCallCap}: ` +
        (event.reached
          ? 'the cap is reached.'
          : `a decided day cost ${perDayText(m, calls)}, so another day would pass it.`),
      `Nothing more is exported until ${event.untilMonth}; it resumes by itself then.`,
      'To go on sooner, raise the cap: grm migrate cancel, then grm migrate FROM..TO with a higher --monthly-calls (days already _SUCCESS are skipped).',
    );
  if (beyond.length > 0)
    lines.push(
      '',
      `Not enumerable: ${beyond.length} days from ${beyond[0]} to ${beyond.at(-1)} lie before the history horizon; they were never planned nor called complete.`,
      `Why: ${m.horizon ?? 'before the history horizon'}`,
    );
  if (failed.length > 0) {
    lines.push(
      '',
      'Days that ended _FAILURE (see each with grm status DAY; fix, then grm rerun DAY):',
    );
    for (const d of failed.slice(0, MAIL_MAX_DAYS)) lines.push(`  ${d}`);
    if (failed.length > MAIL_MAX_DAYS) lines.push(`  … and ${failed.length - MAIL_MAX_DAYS} more`);
  }
  lines.push('', 'Progress at any time: grm migrate status');
  const text = lines.join('\n');
  const html = `<pre style="font-family:monospace">${escapeHtml(text)}</pre>`;
  return {subject: `[grm] ${head}`, text, html};
}

/** The calls of the month the migration was paused in (its pause time, else the latest month). */
function capMonthCalls(m: MigrationRecord): number {
  const at = m.pause?.at ? monthOf(Date.parse(m.pause.at)) : Object.keys(m.calls).sort().at(-1);
  return at === undefined ? 0 : (m.calls[at] ?? 0);
}

function perDayText(m: MigrationRecord, calls: number): string {
  return m.counted.length === 0
    ? 'nothing measured yet'
    : `about ${Math.round(calls / m.counted.length)} calls`;
}
