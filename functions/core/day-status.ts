/**
 * What operators see of a day (`grm status`, `grm gaps`): its state from the
 * objects in the bucket, its counts, its gaps grouped by reason, and for each
 * reason the action that fixes it. Pure: the ops layer reads the objects.
 */
import type {DayOutcome, Gap} from './day-outcome';
import type {StoredPlan} from './day-plan';
import {RECORDING_TYPES} from './content-types';
import type {TypeTotals} from './report';

/** A day's marker as the checker writes it: its outcome plus who decided when. */
export type DayMarker = Omit<DayOutcome, 'kind'> & {
  kind: 'day-marker';
  marker: '_SUCCESS' | '_FAILURE';
  env: string;
  decidedAt: string;
  /** The reports whose generation this decision was the first of its run to read. */
  changed?: Array<{object: string; generation: string}>;
  /** Earlier decisions of the day, oldest first, and whether each was emailed. */
  history?: Array<{
    runId: string;
    status: string;
    fingerprint?: string;
    decidedAt?: string;
    missing: DayOutcome['missing'];
    emailed: boolean;
    /** The reports whose generation that decision was the first of its run to read. */
    changed?: Array<{object: string; generation: string}>;
  }>;
};

/** The email part of the checker's ledger that operators care about. */
export interface EmailView {
  needed: boolean;
  state: string;
  sentAt?: string;
}

export type DayStateName = 'success' | 'failure' | 'running' | 'never planned';

export interface DayState {
  day: string;
  state: DayStateName;
  runId?: string;
  /** When the current run was planned (running days). */
  since?: string;
  /** Batch reports written of the plan's batches (running days). */
  reported?: number;
  batches?: number;
  totals?: Record<string, TypeTotals>;
  /** Gaps by reason, most frequent first. */
  gapsByReason?: Array<{reason: string; count: number}>;
  autoReruns: number;
  email?: string;
  /** The decided outcome's fingerprint and the report generations behind it. */
  fingerprint?: string;
  reports?: Array<{batchId: string; generation: string}>;
}

/** Reads a day's state from what is in the bucket. */
export function dayState(input: {
  day: string;
  marker?: DayMarker;
  plan?: StoredPlan;
  reported?: number;
  email?: EmailView;
}): DayState {
  const {day, marker, plan} = input;
  const autoReruns = plan?.autoRerun?.count ?? 0;
  const email = input.email
    ? input.email.needed
      ? `${input.email.state}${input.email.sentAt ? ` ${input.email.sentAt}` : ''}`
      : 'none needed'
    : undefined;
  if (marker && (!plan || plan.runId === marker.runId)) {
    return {
      day,
      state: marker.status,
      runId: marker.runId,
      batches: marker.batches,
      totals: marker.totals,
      gapsByReason: gapsByReason(marker.gaps),
      autoReruns,
      fingerprint: marker.fingerprint,
      reports: marker.reports.map(r => ({batchId: r.batchId, generation: r.generation})),
      ...(email ? {email} : {}),
    };
  }
  if (!plan) return {day, state: 'never planned', autoReruns};
  return {
    day,
    state: 'running',
    runId: plan.runId,
    since: plan.createdAt,
    reported: input.reported ?? 0,
    batches: plan.batches.length,
    autoReruns,
  };
}

export function gapsByReason(gaps: Gap[]): Array<{reason: string; count: number}> {
  const counts = new Map<string, number>();
  for (const g of gaps) counts.set(g.reason, (counts.get(g.reason) ?? 0) + 1);
  return [...counts.entries()]
    .map(([reason, count]) => ({reason, count}))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

/** The rows of `grm status` as a table for people. */
export function statusTable(states: DayState[], formatBytes: (n: number) => string): string[][] {
  const rows = [
    ['day', 'state', 'run', 'exported', 'skipped', 'failed', 'waived', 'size', 'reruns', 'email'],
  ];
  for (const s of states) {
    const all = s.totals?.all;
    const state =
      s.state === 'success'
        ? '_SUCCESS'
        : s.state === 'failure'
          ? '_FAILURE'
          : s.state === 'running'
            ? `running since ${s.since} (${s.reported}/${s.batches} batches)`
            : 'never planned';
    rows.push([
      s.day,
      state,
      s.runId ?? '',
      all ? `${all.exported}/${all.expected}` : '',
      all ? String(all.skipped) : '',
      all ? String(all.failed) : '',
      all ? String(all.waived ?? 0) : '',
      all ? formatBytes(all.bytes) : '',
      String(s.autoReruns),
      s.email ?? '',
    ]);
  }
  return rows;
}

/** Per type: expected / exported / skipped / failed, for the types that had recordings. */
export function typeBreakdown(totals: Record<string, TypeTotals>): string {
  return RECORDING_TYPES.filter(t => (totals[t]?.expected ?? 0) > 0)
    .map(t => {
      const v = totals[t]!;
      const notes = [
        ...(v.skipped ? [`${v.skipped} skipped`] : []),
        ...(v.failed ? [`${v.failed} failed`] : []),
        ...(v.waived ? [`${v.waived} waived`] : []),
      ];
      return `${t} ${v.exported}/${v.expected}${notes.length ? ` (${notes.join(', ')})` : ''}`;
    })
    .join(', ');
}
