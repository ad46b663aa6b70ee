/**
 * What `grm report` shows, as data: each day of a range with the look it
 * gets on the calendar, its counts by recording type and its gaps grouped by
 * reason with the action that fixes them; the range's totals. Built from the
 * days' states as `grm status` reads them (markers and ledgers, never batch
 * reports). `grm report --json` prints it; report-page.ts renders it.
 */
import {RECORDING_TYPES, RecordingType} from './content-types';
import type {DayState} from './day-status';
import {gapAction} from './gap-kinds';
import type {TypeTotals} from './report';

/** How a day looks on the calendar: its state, with a waived `_SUCCESS` apart. */
export type DayLook = 'success' | 'waived' | 'failure' | 'running' | 'never planned';

export interface LookStyle {
  look: DayLook;
  label: string;
  /** The day's background on the calendar (text on it: `ink`). */
  colour: string;
  ink: string;
  /** A sign next to the day's number, so the state does not rest on colour alone. */
  sign: string;
  means: string;
}

/** The calendar's looks, in the legend's order. */
export const LOOKS: readonly LookStyle[] = [
  {
    look: 'success',
    label: '_SUCCESS',
    colour: '#1b7f3b',
    ink: '#ffffff',
    sign: '✓',
    means: 'every exportable recording exported and verified',
  },
  {
    look: 'waived',
    label: '_SUCCESS with waivers',
    colour: '#2a6fb0',
    ink: '#ffffff',
    sign: '✓',
    means: 'complete; operators waived recordings that can never be exported (grm waive)',
  },
  {
    look: 'failure',
    label: '_FAILURE',
    colour: '#c0392b',
    ink: '#ffffff',
    sign: '✗',
    means: 'gaps remain: open the day for each reason and what fixes it',
  },
  {
    look: 'running',
    label: 'running',
    colour: '#f2b807',
    ink: '#222222',
    sign: '…',
    means: 'planned, not decided yet (batch reports still coming in)',
  },
  {
    look: 'never planned',
    label: 'never planned',
    colour: '#d5d8dc',
    ink: '#222222',
    sign: '–',
    means: 'no plan in the bucket: the day was never exported',
  },
];

export function lookStyle(look: DayLook): LookStyle {
  return LOOKS.find(l => l.look === look)!;
}

/** A day's look: a `_SUCCESS` that counts waived recordings is `waived`. */
export function dayLook(s: Pick<DayState, 'state' | 'totals'>): DayLook {
  return s.state === 'success' && (s.totals?.all?.waived ?? 0) > 0 ? 'waived' : s.state;
}

/** A day as the page shows it: its state as `grm status` reads it, its look, its gaps' fixes. */
export interface ReportDay extends Omit<DayState, 'gapsByReason' | 'fingerprint' | 'reports'> {
  look: DayLook;
  /** Gaps by reason, most frequent first, each with what fixes it. */
  gaps: Array<{reason: string; count: number; action: string}>;
}

export interface ReportModel {
  kind: 'grm-report';
  version: 1;
  project?: string;
  bucket: string;
  env: string;
  from: string;
  to: string;
  generatedAt: string;
  /** Days of each look. */
  looks: Record<DayLook, number>;
  /** Sums over the decided days, per type and `all`. */
  totals: Record<RecordingType | 'all', TypeTotals>;
  days: ReportDay[];
}

export function reportModel(
  input: Pick<ReportModel, 'project' | 'bucket' | 'env' | 'from' | 'to' | 'generatedAt'> & {
    states: DayState[];
  },
): ReportModel {
  const days = input.states.map(reportDay);
  const looks = Object.fromEntries(LOOKS.map(l => [l.look, 0])) as Record<DayLook, number>;
  for (const d of days) looks[d.look]++;
  const totals = Object.fromEntries(
    [...RECORDING_TYPES, 'all'].map(t => [t, sumTotals(days.map(d => d.totals?.[t]))]),
  ) as ReportModel['totals'];
  return {
    kind: 'grm-report',
    version: 1,
    ...(input.project ? {project: input.project} : {}),
    bucket: input.bucket,
    env: input.env,
    from: input.from,
    to: input.to,
    generatedAt: input.generatedAt,
    looks,
    totals,
    days,
  };
}

function reportDay(s: DayState): ReportDay {
  return {
    day: s.day,
    look: dayLook(s),
    state: s.state,
    ...(s.runId ? {runId: s.runId} : {}),
    ...(s.since ? {since: s.since} : {}),
    ...(s.state === 'running' ? {reported: s.reported ?? 0, batches: s.batches ?? 0} : {}),
    ...(s.totals ? {totals: s.totals} : {}),
    gaps: (s.gapsByReason ?? []).map(g => ({...g, action: gapAction(g.reason, s.day)})),
    autoReruns: s.autoReruns,
    ...(s.email ? {email: s.email} : {}),
  };
}

function sumTotals(all: Array<TypeTotals | undefined>): TypeTotals {
  const sum: TypeTotals = {expected: 0, exported: 0, skipped: 0, failed: 0, waived: 0, bytes: 0};
  for (const t of all) {
    if (!t) continue;
    sum.expected += t.expected;
    sum.exported += t.exported;
    sum.skipped += t.skipped;
    sum.failed += t.failed;
    sum.waived! += t.waived ?? 0;
    sum.bytes += t.bytes;
  }
  return sum;
}

/**
 * The reasons the gaps chart shows apart: the `max` most frequent over the
 * range; the rest are drawn together as "other reasons".
 */
export function chartedReasons(days: ReportDay[], max = 6): string[] {
  const counts = new Map<string, number>();
  for (const d of days)
    for (const g of d.gaps) counts.set(g.reason, (counts.get(g.reason) ?? 0) + g.count);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, max)
    .map(([reason]) => reason);
}
