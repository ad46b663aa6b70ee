/**
 * The developer emails, rendered as subject, plain text and HTML. Pure: the
 * checker and planner decide when to send, this decides what they say.
 * Nothing here ever holds a credential: only ids, counts, reasons and
 * commands built from configuration.
 */
import {RECORDING_TYPES} from './content-types';
import type {DayOutcome} from './day-outcome';
import {renderTable} from './tables';
import {formatBytes, plural} from './human-format';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MailContext {
  env: string;
  bucket: string;
  /** Gaps listed in the body; the rest are counted. */
  maxGaps: number;
}

const PRODUCT = 'genesys-recording-migrator';

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function missingPhrase(o: Pick<DayOutcome, 'missing'>): string {
  const parts = [`${plural(o.missing.recordings, 'recording')} missing`];
  if (o.missing.conversations > 0)
    parts.push(`${plural(o.missing.conversations, 'conversation')} not read`);
  return parts.join(', ');
}

function summaryRows(o: DayOutcome): string[][] {
  const anyWaived = (o.totals.all.waived ?? 0) > 0;
  const rows = [
    [
      'recordings',
      'expected',
      'exported',
      'skipped',
      'failed',
      ...(anyWaived ? ['waived'] : []),
      'size',
    ],
  ];
  for (const t of [...RECORDING_TYPES, 'all'] as const) {
    const v = o.totals[t];
    if (t !== 'all' && v.expected === 0) continue;
    rows.push([
      t === 'all' ? 'all types' : t,
      ...[v.expected, v.exported, v.skipped, v.failed].map(String),
      ...(anyWaived ? [String(v.waived ?? 0)] : []),
      formatBytes(v.bytes),
    ]);
  }
  return rows;
}

function htmlTable(rows: string[][]): string {
  const [head, ...body] = rows;
  const cell = (tag: string, v: string, i: number) =>
    `<${tag} style="padding:2px 8px;text-align:${i === 0 ? 'left' : 'right'}">${escapeHtml(v)}</${tag}>`;
  return (
    '<table style="border-collapse:collapse;font-family:monospace">' +
    `<tr>${head!.map((v, i) => cell('th', v, i)).join('')}</tr>` +
    body.map(r => `<tr>${r.map((v, i) => cell('td', v, i)).join('')}</tr>`).join('') +
    '</table>'
  );
}

function where(ctx: MailContext, o: DayOutcome, marker: string): string {
  return `gs://${ctx.bucket}/${ctx.env}/${o.day}/${marker}`;
}

function runLine(o: DayOutcome): string {
  return (
    `Run ${o.runId}: window ${o.window.start} – ${o.window.end} (${o.window.timeZone}), ` +
    `${plural(o.conversations, 'conversation')} in ${plural(o.batches, 'batch')}, ` +
    `${o.seconds} s from plan to last report.`
  );
}

/** `_FAILURE` was written: what is missing, why, and how to replay it. */
export function failureMail(o: DayOutcome, ctx: MailContext): RenderedMail {
  const subject = `[${PRODUCT}] ${ctx.env} ${o.day}: _FAILURE, ${missingPhrase(o)}`;
  const shown = o.gaps.slice(0, ctx.maxGaps);
  const more = o.gaps.length - shown.length;
  const gapText = (g: DayOutcome['gaps'][number]) =>
    `${g.conversationId}${g.recordingId ? ` / ${g.recordingId} (${g.type ?? 'call'})` : ''}: ${g.reason}`;
  const rows = summaryRows(o);
  const text = [
    `The export of ${o.day} (${ctx.env}) is not complete: ${missingPhrase(o)}.`,
    `Details: ${where(ctx, o, '_FAILURE')}`,
    runLine(o),
    '',
    renderTable(rows, {indent: '  ', numeric: true}),
    '',
    `Gaps (${shown.length} of ${o.gaps.length}):`,
    ...shown.map(g => `  - ${gapText(g)}`),
    ...(more > 0 ? [`  … and ${more} more, all listed in _FAILURE.`] : []),
    '',
    `To replay the ${plural(o.replay.length, 'failed batch')} (after fixing the cause, e.g. restoring archived recordings):`,
    ...o.replay.map(r => `  ${r.command}`),
    '',
    'A replay rewrites the batch report; the checker then decides the day again and replaces _FAILURE with _SUCCESS once nothing is missing.',
  ].join('\n');
  const html = [
    `<p>The export of <b>${escapeHtml(o.day)}</b> (${escapeHtml(ctx.env)}) is not complete: <b>${escapeHtml(missingPhrase(o))}</b>.</p>`,
    `<p>Details: <code>${escapeHtml(where(ctx, o, '_FAILURE'))}</code><br>${escapeHtml(runLine(o))}</p>`,
    htmlTable(rows),
    `<h3>Gaps (${shown.length} of ${o.gaps.length})</h3>`,
    '<ul>' + shown.map(g => `<li><code>${escapeHtml(gapText(g))}</code></li>`).join('') + '</ul>',
    more > 0 ? `<p>… and ${more} more, all listed in <code>_FAILURE</code>.</p>` : '',
    `<h3>Replay the ${escapeHtml(plural(o.replay.length, 'failed batch'))}</h3>`,
    '<p>After fixing the cause (for example restoring archived recordings), run:</p>',
    o.replay.map(r => `<pre>${escapeHtml(r.command)}</pre>`).join(''),
    '<p>A replay rewrites the batch report; the checker then decides the day again and replaces <code>_FAILURE</code> with <code>_SUCCESS</code> once nothing is missing.</p>',
  ].join('\n');
  return {subject, text, html};
}

/** `_SUCCESS` replaced an earlier `_FAILURE` of the same day. */
export function recoveredMail(
  o: DayOutcome,
  ctx: MailContext,
  previous: {runId: string; missing: DayOutcome['missing']},
): RenderedMail {
  const subject = `[${PRODUCT}] ${ctx.env} ${o.day}: _SUCCESS, the earlier _FAILURE is resolved`;
  const rows = summaryRows(o);
  const before = `Earlier outcome (run ${previous.runId}): ${missingPhrase({missing: previous.missing})}.`;
  const waived = (o.waived ?? []).length
    ? `${plural(o.waived.length, 'recording')} waived by operators (never exported; who, when and why are in _SUCCESS).`
    : '';
  const text = [
    `${o.day} (${ctx.env}) is now complete: _SUCCESS replaced _FAILURE.`,
    before,
    ...(waived ? [waived] : []),
    `Details: ${where(ctx, o, '_SUCCESS')}`,
    runLine(o),
    '',
    renderTable(rows, {indent: '  ', numeric: true}),
  ].join('\n');
  const html = [
    `<p><b>${escapeHtml(o.day)}</b> (${escapeHtml(ctx.env)}) is now complete: <code>_SUCCESS</code> replaced <code>_FAILURE</code>.</p>`,
    `<p>${escapeHtml(before)}${waived ? `<br>${escapeHtml(waived)}` : ''}<br>Details: <code>${escapeHtml(where(ctx, o, '_SUCCESS'))}</code><br>${escapeHtml(runLine(o))}</p>`,
    htmlTable(rows),
  ].join('\n');
  return {subject, text, html};
}

/** What check-previous found for one earlier day and what it did about it. */
export interface PreviousDayFinding {
  day: string;
  /** failure: `_FAILURE` present; incomplete: planned, no marker; not-planned: no plan at all. */
  state: 'failure' | 'incomplete' | 'not-planned';
  /** One sentence describing the state, e.g. "12 recordings missing" or "3 of 40 batches never reported". */
  detail: string;
  runId?: string;
  action: 'rerun' | 'cap-reached';
  /** The new run, when one was started. */
  newRunId?: string;
  autoReruns: number;
  maxAutoReruns: number;
}

export function previousDayMail(
  f: PreviousDayFinding,
  ctx: Pick<MailContext, 'env' | 'bucket'>,
): RenderedMail {
  const found = `${f.day} (${ctx.env}) has no _SUCCESS: it was found ${f.state === 'failure' ? 'with _FAILURE' : f.state === 'incomplete' ? 'planned but without a marker' : 'never planned'} (${f.detail}${f.runId ? `, run ${f.runId}` : ''}).`;
  const did =
    f.action === 'rerun'
      ? `A rerun of the whole day was started: run ${f.newRunId ?? '?'} (automatic rerun ${f.autoReruns} of at most ${f.maxAutoReruns}).`
      : `No rerun was started: the day was already rerun automatically ${plural(f.autoReruns, 'time')} (the limit is ${f.maxAutoReruns}). An operator must look at it; see docs/operations.md (grm status, gaps, replay, waive).`;
  const subject =
    f.action === 'rerun'
      ? `[${PRODUCT}] ${ctx.env} ${f.day}: no _SUCCESS (${f.state}); rerun started`
      : `[${PRODUCT}] ${ctx.env} ${f.day}: no _SUCCESS (${f.state}); automatic reruns exhausted`;
  const text = [found, did, `Bucket: gs://${ctx.bucket}/${ctx.env}/${f.day}/`].join('\n\n');
  const html = [found, did, `Bucket: gs://${ctx.bucket}/${ctx.env}/${f.day}/`]
    .map(p => `<p>${escapeHtml(p)}</p>`)
    .join('\n');
  return {subject, text, html};
}
