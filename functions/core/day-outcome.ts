/**
 * The day's verdict, computed from its plan and one report per planned
 * batch: every recording exported (checksums verified by the worker) or
 * skipped for a permanent reason → success; anything else → failure, with
 * every gap, its reason and the command that replays its batch.
 *
 * Pure: the checker reads the objects, this decides.
 */
import {ModeReport, leanNotes} from './lean-notes';
import {createHash} from 'node:crypto';
import {RECORDING_TYPES, RecordingType} from './content-types';
import type {DayPlan} from './day-plan';
import type {BatchMessage} from './messages';
import {ReplayTarget, replayCommand} from './replay';
import {BatchReport, TypeTotals, countRecording, emptyTotals} from './report';
import {WaiverRef, waivedRecordings} from './waivers';

export interface ReportRef {
  object: string;
  generation: string;
  report: BatchReport;
}

/** A recording (or a whole conversation, when its recordings could not be read) that is not in GCS. */
export interface Gap {
  batchId: string;
  conversationId: string;
  recordingId?: string;
  type?: RecordingType;
  reason: string;
}

/** A recording that failed and that an operator waived: accepted as never exportable. */
export interface Waived {
  conversationId: string;
  recordingId: string;
  type?: RecordingType;
  /** Why it could not be exported. */
  reason: string;
  waiver: {object: string; reason: string; by: string; at: string};
}

export interface Skipped {
  conversationId: string;
  recordingId: string;
  type?: RecordingType;
  reason: string;
}

/** How to replay a batch's gaps: its message with only the conversations that have gaps. */
export interface BatchReplay {
  batchId: string;
  /** Conversations in the replay (those of the batch with a gap). */
  conversations: number;
  gaps: number;
  message: BatchMessage;
  command: string;
}

export interface DayOutcome {
  kind: 'day-outcome';
  version: 1;
  status: 'success' | 'failure';
  day: string;
  runId: string;
  window: DayPlan['window'];
  plannedAt: string;
  /** When the last batch report was written. */
  finishedAt: string;
  /** From the plan to the last report. */
  seconds: number;
  conversations: number;
  batches: number;
  totals: Record<RecordingType | 'all', TypeTotals>;
  missing: {recordings: number; conversations: number};
  gaps: Gap[];
  skipped: Skipped[];
  /** Failed recordings an operator waived (counted as waived in totals, never as exported). */
  waived: Waived[];
  replay: BatchReplay[];
  /** The batch reports this verdict was computed from: the manifest behind the marker. */
  reports: Array<{batchId: string; object: string; generation: string; status: string}>;
  /** Same gaps, counts and run → same fingerprint; identifies one outcome of one run. */
  fingerprint: string;
  /**
   * What the day must say beyond its gaps (batches that ran in another metadata mode than
   * configured, and why). Not part of the fingerprint: it describes how, not what.
   */
  notes?: string[];
}

/**
 * @param reports - exactly one report per planned batch (the caller waits until there is)
 * @throws Error when a planned batch has no report (a caller bug, not a gap)
 */
export function decideDay(
  plan: DayPlan,
  reports: ReportRef[],
  replay: ReplayTarget,
  waivers: WaiverRef[] = [],
  /** Gaps outside every planned batch (recordings stored for conversations the plan lacks). */
  unplanned: Gap[] = [],
): DayOutcome {
  const byBatch = new Map(reports.map(r => [r.report.batchId, r]));
  const decision = new DayDecision(plan, replay, waivers);
  for (const batch of plan.batches) {
    const ref = byBatch.get(batch.batchId);
    if (!ref) throw new Error(`batch ${batch.batchId} has no report yet`);
    decision.add(batch, ref);
  }
  return decision.finish(unplanned);
}

/**
 * {@link decideDay} one batch at a time: `add` every planned batch's report in
 * plan order, then `finish`. What it keeps is the verdict's own (counts, gaps,
 * replays, one line per batch), never the reports.
 */
export class DayDecision {
  private readonly waivedBy: Map<string, WaiverRef>;
  private readonly waived: Waived[] = [];
  private readonly totals = Object.fromEntries(
    [...RECORDING_TYPES, 'all'].map(t => [t, emptyTotals()]),
  ) as DayOutcome['totals'];
  private readonly gaps: Gap[] = [];
  private readonly skipped: Skipped[] = [];
  private readonly replays: BatchReplay[] = [];
  private readonly reports: DayOutcome['reports'] = [];
  private readonly modes: Array<Pick<ModeReport, 'leanRefused'>> = [];
  private finished: number;

  constructor(
    private readonly plan: Omit<DayPlan, 'batches'> & {batches: readonly unknown[]},
    private readonly replay: ReplayTarget,
    waivers: WaiverRef[] = [],
  ) {
    this.waivedBy = waivedRecordings(waivers);
    this.finished = Date.parse(plan.createdAt);
  }

  /** The next planned batch (in plan order) with its report. */
  add(batch: DayPlan['batches'][number], ref: ReportRef): void {
    const {plan, totals, gaps, skipped, waived, waivedBy} = this;
    const report = ref.report;
    this.reports.push({
      batchId: batch.batchId,
      object: ref.object,
      generation: ref.generation,
      status: report.status,
    });
    this.modes.push({leanRefused: (report as ModeReport).leanRefused});
    this.finished = Math.max(this.finished, Date.parse(report.finishedAt) || 0);
    const before = gaps.length;
    const seen = new Set<string>();
    const planned = new Set(batch.conversationIds);
    for (const c of report.conversations) {
      // A report may hold conversations a hand-made message added: not this batch's, not counted.
      if (!planned.has(c.conversationId) || seen.has(c.conversationId)) continue;
      seen.add(c.conversationId);
      if (c.error) {
        gaps.push({batchId: batch.batchId, conversationId: c.conversationId, reason: c.error});
      }
      for (const r of c.recordings) {
        const type = r.type ?? 'call';
        countRecording(totals[type], r);
        countRecording(totals.all, r);
        const where = {conversationId: c.conversationId, recordingId: r.recordingId, type};
        const candidate = r.outcome === 'failed' ? waivedBy.get(r.recordingId) : undefined;
        // A waiver covers the failure it was written for, not a later, different one.
        const waiver =
          candidate && candidate.waiver.reasons[r.recordingId] === (r.reason ?? 'failed')
            ? candidate
            : undefined;
        if (waiver) {
          for (const t of [totals[type], totals.all]) {
            t.failed--;
            t.waived = (t.waived ?? 0) + 1;
          }
          const {reason, by, at} = waiver.waiver;
          waived.push({
            ...where,
            reason: r.reason ?? 'failed',
            waiver: {object: waiver.object, reason, by, at},
          });
        } else if (r.outcome === 'failed') {
          gaps.push({batchId: batch.batchId, ...where, reason: r.reason ?? 'failed'});
        } else if (r.outcome === 'skipped') {
          skipped.push({...where, reason: r.reason ?? 'skipped'});
        }
      }
    }
    for (const id of batch.conversationIds) {
      if (!seen.has(id)) {
        gaps.push({
          batchId: batch.batchId,
          conversationId: id,
          reason:
            report.status === 'failed'
              ? `batch failed: ${report.error ?? 'no reason given'}`
              : 'planned but missing from the batch report',
        });
      }
    }
    if (gaps.length > before || report.status === 'failed') {
      // Only the conversations with a gap: the worker merges their new
      // outcomes over this report, so what was exported stays counted.
      const gapped = new Set(gaps.slice(before).map(g => g.conversationId));
      const ids = batch.conversationIds.filter(id => gapped.has(id));
      const client = report.oauthClient ?? batch.client;
      const message: BatchMessage = {
        day: plan.day,
        conversationIds: ids.length > 0 ? ids : batch.conversationIds,
        runId: plan.runId,
        batchId: batch.batchId,
        // The replay stays on the OAuth client the batch used (its planned one, if any), else
        // on the one the plan assigned it (a batch whose report was never written).
        ...(client !== undefined ? {client} : {}),
      };
      this.replays.push({
        batchId: batch.batchId,
        conversations: message.conversationIds.length,
        gaps: gaps.length - before,
        message,
        command: replayCommand(this.replay, message),
      });
    }
  }

  /** The verdict, once every planned batch was added. */
  finish(
    /** Gaps outside every planned batch (recordings stored for conversations the plan lacks). */
    unplanned: Gap[] = [],
  ): DayOutcome {
    const {plan, totals, gaps, waived, waivedBy, finished} = this;
    if (this.reports.length !== plan.batches.length)
      throw new Error(`${plan.batches.length - this.reports.length} batches have no report yet`);
    for (const g of unplanned) {
      // A waiver covers these as any gap: the recording and the reason it was written for.
      const w = g.recordingId ? waivedBy.get(g.recordingId) : undefined;
      if (g.recordingId && w && w.waiver.reasons[g.recordingId] === g.reason) {
        const type = g.type ?? 'call';
        for (const t of [totals[type], totals.all]) t.waived = (t.waived ?? 0) + 1;
        const {reason, by, at} = w.waiver;
        waived.push({
          conversationId: g.conversationId,
          recordingId: g.recordingId,
          type,
          reason: g.reason,
          waiver: {object: w.object, reason, by, at},
        });
      } else {
        gaps.push(g);
      }
    }
    const status = gaps.length === 0 ? 'success' : 'failure';
    const missing = {
      recordings: gaps.filter(g => g.recordingId !== undefined).length,
      conversations: new Set(
        gaps.filter(g => g.recordingId === undefined).map(g => g.conversationId),
      ).size,
    };
    const notes = leanNotes(this.modes);
    const fingerprint = createHash('sha256')
      .update(
        JSON.stringify({
          runId: plan.runId,
          status,
          totals,
          gaps: gaps.map(g => [g.conversationId, g.recordingId ?? '', g.reason]),
          waived: waived.map(w => [w.recordingId, w.waiver.object]),
        }),
      )
      .digest('hex')
      .slice(0, 32);
    return {
      kind: 'day-outcome',
      version: 1,
      status,
      day: plan.day,
      runId: plan.runId,
      window: plan.window,
      plannedAt: plan.createdAt,
      finishedAt: new Date(finished).toISOString(),
      seconds: Math.max(0, Math.round((finished - Date.parse(plan.createdAt)) / 100) / 10),
      conversations: plan.conversations,
      batches: plan.batches.length,
      totals,
      missing,
      gaps,
      skipped: this.skipped,
      waived,
      replay: this.replays,
      reports: this.reports,
      fingerprint,
      ...(notes.length > 0 ? {notes} : {}),
    };
  }
}
