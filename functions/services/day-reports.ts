/**
 * The current run's batch reports of a day, as the checker decides from
 * them: read in plan order, a few at a time, each confirmed against the
 * day's listing (core/reports-vs-bucket.ts) and with the run's open gaps
 * kept, and let go once used. The verdict takes them once; the decided
 * records and the recordings index take them again, read at the very
 * generations the verdict read (a report rewritten since is a retry, never a
 * record or a row the verdict did not see). So the checker holds a few
 * reports at a time, never the day's.
 */
import type {DayPlan} from '../core/day-plan';
import type {ReportRef} from '../core/day-outcome';
import {RetryableError} from '../core/errors';
import type {StoredName} from '../core/ledger';
import {batchReportsPrefix} from '../core/object-names';
import {
  ClaimLookup,
  confirmReport,
  keepOpenGapsIn,
  openGapsByConversation,
} from '../core/reports-vs-bucket';
import {DayInputs, unreadable} from './day-inputs';
import {inOrder} from './objects';

/** Reports read at a time. */
const REPORT_READ_CONCURRENCY = 16;

type Batch = DayPlan['batches'][number];

interface FirstRead {
  generation: string;
  state: 'read' | 'stale' | 'unreadable';
  problem?: string;
}

export class DayReports {
  private readonly reads: FirstRead[] = [];
  private readonly open: Map<string, string[]>;

  constructor(
    private readonly env: string,
    private readonly inputs: DayInputs,
    private readonly plan: DayPlan,
    private readonly listing: ClaimLookup,
    /** The gaps of the run's previous decision (`conversationId/recordingId`). */
    openGaps: readonly string[],
  ) {
    this.open = openGapsByConversation(openGaps);
  }

  /**
   * Every planned batch's report, read now, in plan order: confirmed, or
   * `provisional` (a final attempt still exporting; not confirmed).
   */
  async *first(): AsyncGenerator<{batch: Batch; ref: ReportRef; provisional: boolean}> {
    const {plan, inputs} = this;
    const reads = inOrder(plan.batches, REPORT_READ_CONCURRENCY, b =>
      inputs.readReport(plan, b.batchId),
    );
    for await (const [batch, read] of reads) {
      const ref = inputs.staleProvisional(read.ref);
      const state = ref !== read.ref ? 'stale' : read.state;
      this.reads.push({generation: ref.generation, state, problem: read.problem});
      if (ref.report.provisional) yield {batch, ref, provisional: true};
      else yield {batch, ref: this.confirmed(ref), provisional: false};
    }
  }

  /** The reports `first` read (after it), at the generations it read. */
  basis(): StoredName[] {
    return this.plan.batches.map((b, i) => ({
      name: this.objectOf(b),
      generation: this.reads[i]!.generation,
    }));
  }

  /**
   * The same reports again, confirmed as `first` gave them.
   * @throws RetryableError when one is no longer at the generation first read
   */
  async *again(): AsyncGenerator<{batch: Batch; ref: ReportRef}> {
    const reads = inOrder(this.plan.batches, REPORT_READ_CONCURRENCY, (b, i) => this.reread(b, i));
    for await (const [batch, ref] of reads) yield {batch, ref: this.confirmed(ref)};
  }

  private async reread(b: Batch, i: number): Promise<ReportRef> {
    const {plan, inputs} = this;
    const first = this.reads[i];
    if (!first) throw new Error(`batch ${b.batchId} was not read before`);
    if (first.state === 'unreadable')
      return unreadable(plan, b.batchId, this.objectOf(b), first.generation, first.problem);
    const read = await inputs.readReport(plan, b.batchId, first.generation);
    if (read.state !== 'read' || read.ref.generation !== first.generation)
      throw new RetryableError(
        `the batch report of ${b.batchId} changed while ${plan.day} was decided; retrying`,
      );
    return first.state === 'stale' ? inputs.staleProvisional(read.ref, true) : read.ref;
  }

  private objectOf(b: Batch): string {
    return `${batchReportsPrefix(this.env, this.plan.day, this.plan.runId)}${b.batchId}.json`;
  }

  private confirmed(ref: ReportRef): ReportRef {
    return keepOpenGapsIn(confirmReport(this.env, this.plan.day, ref, this.listing), this.open);
  }
}
