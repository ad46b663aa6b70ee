/**
 * The day's ledger (`_manifest/decision.json`): what the checker decided,
 * what became of its email, and what a new outcome's ledger inherits from
 * the one before it (whom to email, which reports changed). Also the digest
 * that tells whether two decisions read the same inputs, and the custom
 * metadata by which a marker or an index names the decision it belongs to.
 * Pure: the checker reads and swaps the ledger.
 */
import {createHash} from 'node:crypto';
import {gapId} from './reports-vs-bucket';
import type {DayOutcome} from './day-outcome';

/** Custom metadata of a marker and of the index: the fingerprint of the outcome they hold. */
export const FINGERPRINT_KEY = 'outcome-fingerprint';
/** Custom metadata of the index: the report basis its rows come from (with FINGERPRINT_KEY). */
export const INDEX_BASIS_KEY = 'basis';
/** Custom metadata of a marker and of the index: the run they were decided from. */
export const RUN_ID_KEY = 'run-id';

/** Nothing left to do about the email: sent, or never needed. */
export function emailSettled(e: EmailState): boolean {
  return e.state === 'sent' || e.state === 'not-needed';
}

export interface EmailState {
  needed: boolean;
  kind?: 'failure' | 'recovered';
  state: 'pending' | 'sending' | 'sent' | 'not-needed';
  attempts: number;
  claimedAt?: string;
  sentAt?: string;
  lastError?: string;
}

/** The day's ledger: the current decision and what became of its email. */
export interface Ledger {
  kind: 'decision';
  version: 1;
  day: string;
  runId: string;
  status: DayOutcome['status'];
  fingerprint: string;
  decidedAt: string;
  missing: DayOutcome['missing'];
  /** The decision this one replaced. */
  previous?: DecisionSummary;
  /**
   * Every earlier decision of the day, oldest first, each with whether the
   * developers were emailed about it: what the markers have said, in order.
   */
  history?: DecisionSummary[];
  email: EmailState;
  /** Short digests of this outcome's gaps. */
  gapKeys: string[];
  /** Gaps of this run that a sent email already told the developers about. */
  notified: string[];
  /**
   * The gaps of this outcome (`conversationId/recordingId`): a later outcome of
   * the same run closes one only by exporting or skipping it, never by leaving it out.
   */
  gapIds?: string[];
  /** Digest of the report generations this outcome was computed from. */
  basis?: string;
  /** The generation of each report (by batch) this outcome was computed from. */
  reports?: Record<string, string>;
  /** Reports whose generation differs from the previous decision's of the same run (at most 20). */
  changed?: ChangedReport[];
  /** The day keeps decided records (`_manifest/decision-records.ndjson`): `grm verify` requires them. */
  recordsKept?: true;
  /** The recordings index this outcome's checker wrote: any other generation is not its index. */
  index?: {generation: string; md5Hash: string};
}

/** A batch report at the generation a decision read. */
export interface ChangedReport {
  object: string;
  generation: string;
}

/** One decision of the day as later ones remember it. */
export interface DecisionSummary {
  runId: string;
  status: DayOutcome['status'];
  fingerprint: string;
  missing: DayOutcome['missing'];
  decidedAt?: string;
  emailed: boolean;
  /** The reports whose generation this decision was the first to read (of its run). */
  changed?: ChangedReport[];
}

/** Decisions a ledger remembers at most. */
const MAX_HISTORY = 100;
/** Changed reports a decision names at most. */
const MAX_CHANGED = 20;

/** The last outcome the developers were emailed about, if any (what they were told). */
export function lastEmailed(ledger: Pick<Ledger, 'history'>): DecisionSummary | undefined {
  return [...(ledger.history ?? [])].reverse().find(h => h.emailed);
}

/** What changed since the decision before this one. */
export interface SinceLastDecision {
  /** The decision this one replaced, if any (undefined: the day's first). */
  previous?: {runId: string; status: 'success' | 'failure'; missing: DayOutcome['missing']};
  /** Gaps no earlier email of this run named. */
  newGaps: number;
  /** Gaps an earlier email named that are still open. */
  stillOpen: number;
  /** Gaps an earlier email named that are closed now. */
  closed: number;
}

/** What changed between the decision before this ledger's and it, for the email. */
export function sinceLastDecision(ledger: Ledger): SinceLastDecision {
  const now = new Set(ledger.gapKeys);
  const told = new Set(ledger.notified);
  const p = ledger.previous;
  return {
    ...(p ? {previous: {runId: p.runId, status: p.status, missing: p.missing}} : {}),
    newGaps: ledger.gapKeys.filter(k => !told.has(k)).length,
    stillOpen: ledger.gapKeys.filter(k => told.has(k)).length,
    closed: ledger.notified.filter(k => !now.has(k)).length,
  };
}

function gapKey(g: DayOutcome['gaps'][number]): string {
  return createHash('sha256')
    .update(`${g.conversationId}/${g.recordingId ?? ''}`)
    .digest('hex')
    .slice(0, 12);
}

function summaryOf(ledger: Ledger): DecisionSummary {
  return {
    runId: ledger.runId,
    status: ledger.status,
    fingerprint: ledger.fingerprint,
    missing: ledger.missing,
    decidedAt: ledger.decidedAt,
    emailed: ledger.email.state === 'sent',
    ...(ledger.changed?.length ? {changed: ledger.changed} : {}),
  };
}

/**
 * The ledger of a new outcome. A failure is emailed when it holds a gap no
 * sent email of this run mentioned (a replay that fixes some gaps updates
 * `_FAILURE` quietly); a success is emailed when it follows an emailed failure.
 * `quiet`: never emailed (a history migration's day: its summaries tell).
 */
export function newLedger(
  outcome: DayOutcome,
  previous: Ledger | undefined,
  nowMs: number,
  basis?: string,
  quiet = false,
): Ledger {
  const gapKeys = outcome.gaps.map(gapKey);
  const previousSent = previous?.email.state === 'sent';
  const notified =
    previous && previous.runId === outcome.runId
      ? [...new Set([...previous.notified, ...(previousSent ? previous.gapKeys : [])])]
      : [];
  const known = new Set(notified);
  const recovered =
    outcome.status === 'success' &&
    previous?.status === 'failure' &&
    (previousSent || previous.notified.length > 0);
  const needed =
    !quiet && ((outcome.status === 'failure' && gapKeys.some(k => !known.has(k))) || recovered);
  const changed = changedReports(outcome, previous);
  return {
    kind: 'decision',
    version: 1,
    day: outcome.day,
    runId: outcome.runId,
    status: outcome.status,
    fingerprint: outcome.fingerprint,
    decidedAt: new Date(nowMs).toISOString(),
    missing: outcome.missing,
    ...(previous
      ? {
          previous: summaryOf(previous),
          history: [...(previous.history ?? []), summaryOf(previous)].slice(-MAX_HISTORY),
        }
      : {}),
    email: needed
      ? {
          needed,
          kind: outcome.status === 'failure' ? 'failure' : 'recovered',
          state: 'pending',
          attempts: 0,
        }
      : {needed, state: 'not-needed', attempts: 0},
    gapKeys,
    notified,
    gapIds: outcome.gaps.map(gapId),
    ...(basis ? {basis} : {}),
    reports: Object.fromEntries(outcome.reports.map(r => [r.batchId, r.generation])),
    ...(changed.length > 0 ? {changed} : {}),
    recordsKept: true,
  };
}

/** Reports whose generation differs from what the previous decision of the same run read. */
function changedReports(outcome: DayOutcome, previous: Ledger | undefined): ChangedReport[] {
  const before = previous?.runId === outcome.runId ? previous.reports : undefined;
  if (!before) return [];
  return outcome.reports
    .filter(r => before[r.batchId] !== r.generation)
    .slice(0, MAX_CHANGED)
    .map(r => ({object: r.object, generation: r.generation}));
}

/** An object at one generation. */
export interface StoredName {
  name: string;
  generation: string;
}

/** Digest of which version of which report and waiver: equal digests, equal inputs. */
export function basisOf(reports: StoredName[]): string {
  const lines = reports.map(r => `${r.name}#${r.generation}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 32);
}
