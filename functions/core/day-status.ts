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

/** What fixes a gap with this reason (the exporter's and the checker's reasons). */
export function gapAction(reason: string, day: string): string {
  const replay = `then \`grm replay ${day}\``;
  const rules: Array<[RegExp, string]> = [
    [
      /fileState ARCHIVED/,
      `restore the recording from the archive in Genesys Cloud (or set archived_policy = skip), ${replay}`,
    ],
    [/fileState RESTORING/, `wait until Genesys Cloud has restored it, ${replay}`],
    [/fileState UPLOADING/, `wait until the upload to Genesys Cloud has finished, ${replay}`],
    [
      /fileState ERROR/,
      `the recording is broken at the source; if Genesys support cannot repair it, accept it with \`grm waive ${day} --recording ID --reason ...\``,
    ],
    [
      /returned no result for it in time|completed without a result for it/,
      `if the same recordings keep coming back, the OAuth client probably lacks recording:recording:viewSensitiveData (sensitive recordings are left out of batch downloads); grant it, ${replay}`,
    ],
    [
      /already exists with different content/,
      `another object with other bytes holds this name in the bucket: compare it with the source, have someone with delete rights remove it, ${replay}`,
    ],
    [
      /does not hold its conversation/,
      `the current plan leaves out a conversation the archive holds: plan the day again with \`grm rerun ${day}\``,
    ],
    [
      /also holds recording/,
      `two objects hold one recording: compare both with the source, have someone with delete rights remove the one that is not the record (the bucket keeps it as a noncurrent version), ${replay}`,
    ],
    [
      /the batch report says exported, but|does not account for recording/,
      `the batch report and the bucket disagree (a report written by hand, or an object removed): \`grm replay ${day}\` exports the conversation again and writes its report`,
    ],
    [/unsupported media type/, `a media type this version does not export: upgrade, ${replay}`],
    [
      /batch failed|missing from the batch report/,
      `read the worker's log lines for this batch (jsonPayload.batchId), fix the cause, ${replay}`,
    ],
  ];
  const found = rules.find(([re]) => re.test(reason));
  return found
    ? found[1]
    : `a transient error is likely: \`grm replay ${day}\`; if it comes back, read the worker's log for the batch`;
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
