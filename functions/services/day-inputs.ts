/**
 * What the checker decides a day from, read from the bucket: the plan (a
 * version-2 plan with its parts), the current run's batch reports, the
 * day's waivers and the listing of its recording folders. Nothing that
 * cannot be read is trusted: an unusable plan is a problem to report, an
 * unreadable report (or a provisional one left stale) a failed batch, an
 * unreadable waiver no waiver. Only a retryable error is thrown.
 */
import {BucketListing} from '../core/bucket-listing';
import type {IdTable} from '../core/compact-ids';
import {recordingFolders} from '../core/reports-vs-bucket';
import type {ReportRef} from '../core/day-outcome';
import {
  DayPlan,
  PlanIndex,
  PlanAssembly,
  StoredPlan,
  isPlanIndex,
  numberedPlan,
  planProblems,
} from '../core/day-plan';
import {RetryableError} from '../core/errors';
import type {StoredName} from '../core/ledger';
import {MAX_PLAN_BYTES, MAX_REPORT_BYTES, MAX_WAIVER_BYTES} from '../core/limits';
import {
  batchReportsPrefix,
  classifyObject,
  planObjectName,
  planPartObjectName,
  waiversPrefix,
} from '../core/object-names';
import {BatchReport, isReport, totalsOf} from '../core/report';
import {WaiverRef, isWaiverOf} from '../core/waivers';
import type {Logger} from '../logger';
import type {Clock, ObjectStore, StoredObject} from '../ports';
import {inOrder, mapLimit} from './objects';

export interface DayInputsDeps {
  settings: {env: string};
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
}

/** A batch report as read: `unreadable` when it is not a report (`problem` says why). */
export interface ReadReport {
  ref: ReportRef;
  state: 'read' | 'unreadable';
  problem?: string;
}

/** The day's plan; `problem` when it is not one a run of ours wrote. */
export type PlanRead = {plan: StoredPlan} | {problem: string};

/** Reports and waivers read at a time. */
const REPORT_READ_CONCURRENCY = 16;
/** Waivers one day's decision reads at most. */
const MAX_WAIVERS = 500;
/** Plan parts read at a time. */
const PART_READ_CONCURRENCY = 8;
/** A provisional report older than this cannot belong to a running attempt (the worker's timeout is 10 min). */
const PROVISIONAL_STALE_MS = 60 * 60_000;

export class DayInputs {
  constructor(private readonly deps: DayInputsDeps) {}

  /** The day's plan, undefined when it has none. */
  async plan(day: string): Promise<PlanRead | undefined> {
    const {settings, store} = this.deps;
    let read: {value: StoredPlan} | undefined;
    try {
      read = await store.readJson<StoredPlan>(planObjectName(settings.env, day), MAX_PLAN_BYTES);
    } catch (err) {
      if (err instanceof RetryableError) throw err;
      return {problem: err instanceof Error ? err.message : String(err)};
    }
    if (!read) return undefined;
    const problems = planProblems(read.value, day);
    return problems.length > 0 ? {problem: problems.join('; ')} : {plan: read.value};
  }

  /** The current run's reports in the bucket, of planned batches only (not read). */
  async reportObjects(plan: StoredPlan): Promise<StoredObject[]> {
    const {settings, store} = this.deps;
    const prefix = batchReportsPrefix(settings.env, plan.day, plan.runId);
    const planned = new Set(plan.batches.map(b => b.batchId));
    return (await store.list(prefix)).filter(o =>
      planned.has(o.name.slice(prefix.length, -'.json'.length)),
    );
  }

  /**
   * The day's waiver objects: names a waiver may have (nothing nested),
   * at most MAX_WAIVER_BYTES each, at most MAX_WAIVERS (the rest is logged).
   */
  async waiverObjects(day: string): Promise<StoredObject[]> {
    const {settings, store, logger} = this.deps;
    const all = await store.list(waiversPrefix(settings.env, day));
    const usable = all.filter(
      o => classifyObject(settings.env, o.name)?.kind === 'waiver' && o.size <= MAX_WAIVER_BYTES,
    );
    if (usable.length < all.length || usable.length > MAX_WAIVERS)
      logger.warn('not every object under waivers/ is read as a waiver', {
        day,
        objects: all.length,
        read: Math.min(usable.length, MAX_WAIVERS),
      });
    return usable.slice(0, MAX_WAIVERS);
  }

  /** The day's valid waivers; anything else under waivers/ is ignored, not trusted. */
  async waivers(day: string): Promise<{refs: WaiverRef[]; basis: StoredName[]}> {
    const {store} = this.deps;
    const listed = await this.waiverObjects(day);
    const read = await mapLimit(listed, REPORT_READ_CONCURRENCY, async o => {
      try {
        const r = await store.readJson<unknown>(o.name);
        return r && isWaiverOf(r.value, day) ? {object: o.name, waiver: r.value} : undefined;
      } catch (err) {
        if (err instanceof RetryableError) throw err;
        return undefined;
      }
    });
    return {
      refs: read.filter(<T>(x: T | undefined): x is T => x !== undefined),
      basis: listed.map(o => ({name: o.name, generation: o.generation})),
    };
  }

  /**
   * The plan with every batch's conversation ids, held as bytes and numbered
   * in plan order (its batches are NumberedBatches): a version-1 plan as it
   * is, a version-2 one put together from its parts (read now, only to
   * decide, in order, each let go once its ids are held).
   */
  async withIds(stored: StoredPlan): Promise<{plan?: DayPlan; ids?: IdTable; problems: string[]}> {
    if (!isPlanIndex(stored)) return {...numberedPlan(stored), problems: []};
    const {settings, store} = this.deps;
    const index: PlanIndex = stored;
    const problems: string[] = [];
    const assembly = new PlanAssembly(index);
    const parts = inOrder(index.parts, PART_READ_CONCURRENCY, async (ref, k) => {
      const name = planPartObjectName(settings.env, index.day, index.runId, k);
      if (ref.object !== name) {
        problems.push(`part ${k} is named ${ref.object.slice(0, 200)}, not ${name}`);
        return null;
      }
      try {
        return (await store.readJson<unknown>(name, MAX_PLAN_BYTES))?.value;
      } catch (err) {
        if (err instanceof RetryableError) throw err;
        problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      }
    });
    for await (const [, part] of parts) if (problems.length === 0) assembly.add(part);
    return problems.length > 0 ? {problems} : assembly.finish();
  }

  /**
   * The day's recording folders as confirmation needs them, listed a page at
   * a time into a compact listing (core/bucket-listing.ts).
   */
  async listing(day: string, ids: IdTable, planned: number): Promise<BucketListing> {
    const {settings, store} = this.deps;
    const listing = new BucketListing(settings.env, day, ids, planned);
    for (const folder of recordingFolders(settings.env, day)) {
      if (store.listPages) {
        for await (const page of store.listPages(folder)) for (const o of page) listing.add(o);
      } else {
        for (const o of await store.list(folder)) listing.add(o);
      }
    }
    return listing;
  }

  /**
   * A planned batch's report: read (at `generation`, when given), or the
   * failed report it counts as; `state` says which.
   */
  async readReport(plan: DayPlan, batchId: string, generation?: string): Promise<ReadReport> {
    const {settings, store} = this.deps;
    const object = `${batchReportsPrefix(settings.env, plan.day, plan.runId)}${batchId}.json`;
    let read: {value: BatchReport; generation: string} | undefined;
    let problem: string | undefined;
    try {
      read = await store.readJson<BatchReport>(object, MAX_REPORT_BYTES, generation);
    } catch (err) {
      if (err instanceof RetryableError) throw err;
      problem = err instanceof Error ? err.message : String(err);
    }
    if (read && isReport(read.value, batchId)) {
      const ref = {object, generation: read.generation, report: read.value};
      return {ref, state: 'read'};
    }
    // An unreadable report is a failed batch: its conversations become gaps, a replay rewrites it.
    return {
      ref: unreadable(plan, batchId, object, read?.generation ?? '0', problem),
      state: 'unreadable',
      problem,
    };
  }

  /**
   * A provisional report that nothing replaced long after any attempt could still run (its
   * message was dead-lettered, say) counts as the failed report it is.
   */
  staleProvisional(ref: ReportRef, force = false): ReportRef {
    const r = ref.report;
    if (!r.provisional) return ref;
    if (!force && this.deps.clock.now() - Date.parse(r.startedAt) < PROVISIONAL_STALE_MS)
      return ref;
    const error =
      "batch failed: the final attempt's provisional report was never replaced (no later delivery came; see grm dead-letters)";
    const {provisional: _p, ...rest} = r;
    return {
      ...ref,
      report: {...rest, error, conversations: r.conversations.map(c => ({...c, error}))},
    };
  }
}

/** The report an unreadable batch report at `generation` counts as (`problem`: why it is). */
export function unreadable(
  plan: DayPlan,
  batchId: string,
  object: string,
  generation: string,
  problem: string | undefined,
): ReportRef {
  const error = `the batch report is unreadable: ${problem ?? 'not a batch report'}`;
  return {object, generation, report: unreadableReport(plan, batchId, error)};
}

function unreadableReport(plan: DayPlan, batchId: string, error: string): BatchReport {
  const now = plan.createdAt;
  return {
    kind: 'batch-report',
    version: 1,
    day: plan.day,
    runId: plan.runId,
    batchId,
    messageId: 'unknown',
    attempt: 0,
    status: 'failed',
    error,
    startedAt: now,
    finishedAt: now,
    conversations: [],
    totals: totalsOf([]),
  };
}
