/**
 * The developer emails, rendered as subject, plain text and HTML. Pure: the
 * checker and planner decide when to send, this decides what they say.
 * Nothing here ever holds a credential: only ids, counts, reasons and
 * commands built from configuration.
 */
import {RECORDING_TYPES} from './content-types';
import type {DayOutcome, Gap} from './day-outcome';
import type {DayStateName} from './day-status';
import {GapGroup, gapGroups} from './gap-kinds';
import {renderTable} from './tables';
import {formatBytes, plural} from './human-format';
import {escapeHtml} from './html';
import type {SinceLastDecision} from './ledger';

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

/** One night of the strip of recent nights (oldest first, the day itself last). */
export interface Night {
  day: string;
  state: DayStateName;
}

/** Where the day's history comes from: the checker reads it before it sends. */
export interface MailHistory {
  nights?: Night[];
  since?: SinceLastDecision;
  /** What the checker could not do and how to make up for it (a failure email says so). */
  notes?: string[];
}

const NIGHT_MARK: Record<DayStateName, string> = {
  success: '✓',
  failure: '✗',
  running: '…',
  'never planned': '·',
};
const NIGHT_COLOUR: Record<DayStateName, string> = {
  success: '#2e7d32',
  failure: '#c62828',
  running: '#f9a825',
  'never planned': '#bdbdbd',
};

function nightsText(nights: Night[]): string[] {
  if (nights.length === 0) return [];
  const counts = (['failure', 'running', 'never planned'] as const)
    .map(st => [st, nights.filter(n => n.state === st).length] as const)
    .filter(([, n]) => n > 0)
    .map(([st, n]) => `${n} ${st}`);
  return [
    `The last ${plural(nights.length, 'night')} (${nights[0]!.day} to ${nights.at(-1)!.day}; ✓ success, ✗ failure, … running, · never planned):`,
    `  ${nights.map(n => NIGHT_MARK[n.state]).join('')}${counts.length ? `  (${counts.join(', ')})` : '  (all success)'}`,
  ];
}

function nightsHtml(nights: Night[]): string {
  if (nights.length === 0) return '';
  const cells = nights
    .map(
      n =>
        `<td title="${escapeHtml(`${n.day}: ${n.state}`)}" data-day="${escapeHtml(n.day)}" data-state="${escapeHtml(n.state)}" style="width:14px;height:14px;padding:0;background:${NIGHT_COLOUR[n.state]}"></td>`,
    )
    .join('');
  const legend = (Object.keys(NIGHT_COLOUR) as DayStateName[])
    .map(
      st =>
        `<span style="display:inline-block;width:10px;height:10px;background:${NIGHT_COLOUR[st]}"></span> ${escapeHtml(st)}`,
    )
    .join(' &nbsp; ');
  return (
    `<h3>The last ${escapeHtml(plural(nights.length, 'night'))}</h3>` +
    `<table style="border-collapse:separate;border-spacing:2px"><tr>${cells}</tr></table>` +
    `<p style="font-size:smaller">${escapeHtml(nights[0]!.day)} to ${escapeHtml(nights.at(-1)!.day)}: ${legend}</p>`
  );
}

function sinceText(since: SinceLastDecision | undefined): string | undefined {
  if (!since) return undefined;
  const before = since.previous
    ? `The previous decision (run ${since.previous.runId}) was ${since.previous.status === 'success' ? '_SUCCESS' : `_FAILURE, ${missingPhrase(since.previous)}`}.`
    : 'This is the first decision of this day.';
  const told = since.stillOpen + since.closed > 0;
  const change = told
    ? ` Since the last email: ${since.newGaps} new ${since.newGaps === 1 ? 'gap' : 'gaps'}, ${since.stillOpen} still open, ${since.closed} closed.`
    : '';
  return before + change;
}

function gapText(g: Gap): string {
  return `${g.conversationId}${g.recordingId ? ` / ${g.recordingId} (${g.type ?? 'call'})` : ''}: ${g.reason}`;
}

/** How many gaps of each group to list: `max` in all, dealt out one per group in turn. */
function listed(groups: GapGroup[], max: number): number[] {
  const shown = groups.map(() => 0);
  for (let left = max, dealt = true; left > 0 && dealt;) {
    dealt = false;
    for (let i = 0; i < groups.length && left > 0; i++) {
      if (shown[i]! < groups[i]!.gaps.length) {
        shown[i]!++;
        left--;
        dealt = true;
      }
    }
  }
  return shown;
}

/** What a waiver command leaves out, when the group is larger than the ids it names. */
function unnamed(g: GapGroup, day: string): string | undefined {
  if (!g.command.startsWith('grm waive') || g.named >= g.gaps.length) return undefined;
  return `(it names the first ${g.named} of ${g.gaps.length}; \`grm gaps ${day}\` lists the others)`;
}

const GRM_SETUP =
  'Run grm from a checkout of genesys-recording-migrator as npx grm. It reads the deployment from GRM_PROJECT, GRM_BUCKET and GRM_ENV, and grm rerun the planner from GRM_PLANNER_URL (docs/operations.md, "Setting up grm").';

/** `_FAILURE` was written: the gaps by what fixes them, each with its `grm` command. */
export function failureMail(
  o: DayOutcome,
  ctx: MailContext,
  history: MailHistory = {},
): RenderedMail {
  const subject = `[${PRODUCT}] ${ctx.env} ${o.day}: _FAILURE, ${missingPhrase(o)}`;
  const groups = gapGroups(o.gaps, o.day);
  const shown = listed(groups, ctx.maxGaps);
  const rows = summaryRows(o);
  const since = sinceText(history.since);
  const what = (g: GapGroup) => `${g.title}: ${plural(g.gaps.length, 'gap')}`;
  const text = [
    `The export of ${o.day} (${ctx.env}) is not complete: ${missingPhrase(o)}.`,
    '',
    'What fixes it, by kind:',
    ...groups.flatMap((g, i) => [
      '',
      `${i + 1}. ${what(g)}`,
      `   Fix: ${g.fix}.`,
      '   Then run:',
      `     ${g.command}`,
      ...(unnamed(g, o.day) ? [`   ${unnamed(g, o.day)!}`] : []),
      ...g.gaps.slice(0, shown[i]).map(x => `   - ${gapText(x)}`),
      ...(g.gaps.length > shown[i]!
        ? [`   … and ${g.gaps.length - shown[i]!} more, all listed in _FAILURE.`]
        : []),
    ]),
    ...(history.notes ?? []).flatMap(n => ['', `Note: ${n}`]),
    '',
    GRM_SETUP,
    '',
    ...nightsText(history.nights ?? []),
    ...(since ? [since] : []),
    '',
    renderTable(rows, {indent: '  ', numeric: true}),
    '',
    runLine(o),
    `Details: ${where(ctx, o, '_FAILURE')} (its "replay" field has the same replay as gcloud commands).`,
    'A replay rewrites the batch reports; the checker then decides the day again and replaces _FAILURE with _SUCCESS once nothing is missing.',
  ].join('\n');
  const html = [
    `<p>The export of <b>${escapeHtml(o.day)}</b> (${escapeHtml(ctx.env)}) is not complete: <b>${escapeHtml(missingPhrase(o))}</b>.</p>`,
    '<h3>What fixes it, by kind</h3>',
    '<ol>' +
      groups
        .map(
          (g, i) =>
            `<li data-kind="${escapeHtml(g.kind)}"><b>${escapeHtml(what(g))}</b><br>Fix: ${escapeHtml(g.fix)}.<br>Then run:` +
            `<pre style="background:#f5f5f5;padding:4px 8px;white-space:pre-wrap;overflow-wrap:anywhere">${escapeHtml(g.command)}</pre>` +
            (unnamed(g, o.day) ? `<p>${escapeHtml(unnamed(g, o.day)!)}</p>` : '') +
            '<ul>' +
            g.gaps
              .slice(0, shown[i])
              .map(x => `<li><code>${escapeHtml(gapText(x))}</code></li>`)
              .join('') +
            '</ul>' +
            (g.gaps.length > shown[i]!
              ? `<p>… and ${g.gaps.length - shown[i]!} more, all listed in <code>_FAILURE</code>.</p>`
              : '') +
            '</li>',
        )
        .join('') +
      '</ol>',
    ...(history.notes ?? []).map(n => `<p><b>Note:</b> ${escapeHtml(n)}</p>`),
    `<p style="font-size:smaller">${escapeHtml(GRM_SETUP)}</p>`,
    nightsHtml(history.nights ?? []),
    since ? `<p>${escapeHtml(since)}</p>` : '',
    htmlTable(rows),
    `<p>${escapeHtml(runLine(o))}<br>Details: <code>${escapeHtml(where(ctx, o, '_FAILURE'))}</code> (its <code>replay</code> field has the same replay as <code>gcloud</code> commands).</p>`,
    '<p>A replay rewrites the batch reports; the checker then decides the day again and replaces <code>_FAILURE</code> with <code>_SUCCESS</code> once nothing is missing.</p>',
  ].join('\n');
  return {subject, text, html};
}

/** `_SUCCESS` replaced an earlier `_FAILURE` of the same day. */
export function recoveredMail(
  o: DayOutcome,
  ctx: MailContext,
  previous: {runId: string; missing: DayOutcome['missing']},
  history: MailHistory = {},
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
    ...(history.nights?.length ? ['', ...nightsText(history.nights)] : []),
  ].join('\n');
  const html = [
    `<p><b>${escapeHtml(o.day)}</b> (${escapeHtml(ctx.env)}) is now complete: <code>_SUCCESS</code> replaced <code>_FAILURE</code>.</p>`,
    `<p>${escapeHtml(before)}${waived ? `<br>${escapeHtml(waived)}` : ''}<br>Details: <code>${escapeHtml(where(ctx, o, '_SUCCESS'))}</code><br>${escapeHtml(runLine(o))}</p>`,
    htmlTable(rows),
    nightsHtml(history.nights ?? []),
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
