/**
 * The checker's use case, run for every object-finalize event of the bucket:
 * when the day's current run has a report for every planned batch, decide
 * `_SUCCESS` or `_FAILURE`, write the marker, and email the developers.
 *
 * Exactly one decision and one email per outcome, however invocations race
 * or repeat. The day's ledger (`_manifest/decision.json`) is the single point
 * of agreement, and every change to it is a compare-and-swap on its GCS
 * generation:
 *   1. read the ledger, then the reports; compute the outcome;
 *   2. a new outcome replaces the ledger only if the ledger is unchanged
 *      (a loser starts again from 1, so the last writer saw the newest reports);
 *   3. write the marker (custom metadata carries the outcome's fingerprint) and
 *      delete the other one; then re-read the ledger: if a newer outcome
 *      arrived meanwhile, start again, so markers always converge on it;
 *   4. the email is claimed in the ledger (compare-and-swap) before it is sent,
 *      and recorded as sent after. A failed send leaves the marker in place,
 *      puts the email back to pending and throws, so the event is redelivered;
 *   5. the day's recordings index (`_index/day=…/recordings.ndjson`) is
 *      replaced by the rows of this outcome, last: the marker and the email
 *      never wait for it. An index that could not be written is logged and
 *      the invocation throws (after the email), so the event is redelivered;
 *      a redelivery, or any later event of the day, finds the index is not
 *      the ledger's and writes it again.
 */
import {confirmClaims, keepOpenGaps, recordingFolders} from '../core/claims';
import {DayOutcome, ReportRef, decideDay} from '../core/day-outcome';
import {
  DayPlan,
  PlanIndex,
  StoredPlan,
  assemblePlan,
  isPlanIndex,
  planProblems,
} from '../core/day-plan';
import {RetryableError} from '../core/errors';
import {
  batchReportsPrefix,
  classifyObject,
  decisionObjectName,
  decisionRecordsObjectName,
  indexObjectName,
  markerObjectName,
  planObjectName,
  planPartObjectName,
  waiversPrefix,
} from '../core/object-names';
import {
  EmailState,
  FINGERPRINT_KEY,
  Ledger,
  RUN_ID_KEY,
  StoredName,
  basisOf,
  emailSettled,
  newLedger,
} from '../core/ledger';
import {MAX_PLAN_BYTES, MAX_REPORT_BYTES, MAX_WAIVER_BYTES} from '../core/limits';
import type {ReplayTarget} from '../core/replay';
import {BatchReport, isReport, totalsOf} from '../core/report';
import {WaiverRef, isWaiverOf} from '../core/waivers';
import type {Logger} from '../logger';
import type {Clock, Mailer, ObjectStore, StoredObject} from '../ports';
import {recordDecision} from './decided-records';
import {DeveloperEmail, EmailSettings} from './developer-email';
import {MAX_ROUNDS, json, readLedger, swapLedger} from './ledger';
import {RecordingsIndexWriter, indexIsOf} from './recordings-index';
import {mapLimit, removeObject, replaceObject} from './objects';

export interface CheckerSettings extends EmailSettings {
  replay: ReplayTarget;
}

export interface CheckerDeps {
  settings: CheckerSettings;
  store: ObjectStore;
  /** Built on first use (the API key comes from Secret Manager). */
  mailer: () => Promise<Mailer>;
  clock: Clock;
  logger: Logger;
}

type Marker = '_SUCCESS' | '_FAILURE';

/** The outcome's marker, and the one it replaces. */
function markersFor(status: DayOutcome['status']): [Marker, Marker] {
  return status === 'success' ? ['_SUCCESS', '_FAILURE'] : ['_FAILURE', '_SUCCESS'];
}

export type CheckResult =
  | {action: 'ignored'; reason: string}
  | {action: 'waiting'; day: string; runId: string; reported: number; batches: number}
  | {
      action: 'decided' | 'unchanged';
      day: string;
      runId: string;
      status: DayOutcome['status'];
      email: EmailState['state'];
    };

const REPORT_READ_CONCURRENCY = 16;
/** Waivers one day's decision reads at most. */
const MAX_WAIVERS = 500;
/** Plan parts read at a time. */
const PART_READ_CONCURRENCY = 8;
/** A provisional report older than this cannot belong to a running attempt (the worker's timeout is 10 min). */
const PROVISIONAL_STALE_MS = 60 * 60_000;

export class Checker {
  private readonly email: DeveloperEmail;
  private readonly index: RecordingsIndexWriter;

  constructor(private readonly deps: CheckerDeps) {
    this.email = new DeveloperEmail(deps);
    this.index = new RecordingsIndexWriter(deps);
  }

  async handle(objectName: string): Promise<CheckResult> {
    const {settings, store} = this.deps;
    const target = classifyObject(settings.env, objectName);
    if (!target) return {action: 'ignored', reason: 'not a plan or batch report'};
    let planRead: {value: StoredPlan} | undefined;
    try {
      planRead = await store.readJson<StoredPlan>(
        planObjectName(settings.env, target.day),
        MAX_PLAN_BYTES,
      );
    } catch (err) {
      if (err instanceof RetryableError) throw err;
      return this.badPlan(target.day, err instanceof Error ? err.message : String(err));
    }
    if (!planRead) return {action: 'ignored', reason: `no plan for ${target.day}`};
    const problems = planProblems(planRead.value, target.day);
    if (problems.length > 0) return this.badPlan(target.day, problems.join('; '));
    const plan = planRead.value;
    if (target.kind === 'report' && target.runId !== plan.runId) {
      return {action: 'ignored', reason: `report of run ${target.runId}, not the current run`};
    }
    const prefix = batchReportsPrefix(settings.env, plan.day, plan.runId);
    const planned = new Set(plan.batches.map(b => b.batchId));
    const listed = (await store.list(prefix)).filter(o =>
      planned.has(o.name.slice(prefix.length, -'.json'.length)),
    );
    if (listed.length < planned.size) {
      return {
        action: 'waiting',
        day: plan.day,
        runId: plan.runId,
        reported: listed.length,
        batches: planned.size,
      };
    }
    const waivers = await this.waiverObjects(plan.day);
    const settled = await this.alreadySettled(plan, basisOf([...listed, ...waivers]));
    if (settled) return settled;
    return this.decide(plan);
  }

  /** A plan no run of ours wrote: no verdict from it (the day stays undecided and alerts). */
  private badPlan(day: string, problem: string): CheckResult {
    this.deps.logger.error("the day's plan is not a usable plan; no verdict", {
      day,
      problem: problem.slice(0, 500),
    });
    return {
      action: 'ignored',
      reason: `the plan of ${day} is not usable: ${problem.slice(0, 200)}`,
    };
  }

  /**
   * The day's waiver objects: names a waiver may have (nothing nested),
   * at most MAX_WAIVER_BYTES each, at most MAX_WAIVERS (the rest is logged).
   */
  private async waiverObjects(day: string): Promise<StoredObject[]> {
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
  private async readWaivers(day: string): Promise<{refs: WaiverRef[]; basis: StoredName[]}> {
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
   * The fast path for repeated events: if the ledger was computed from exactly
   * these report generations, its marker is in place, the other marker gone,
   * its email settled and the index its own, there is nothing to do and no
   * report to read.
   */
  private async alreadySettled(plan: StoredPlan, basis: string): Promise<CheckResult | undefined> {
    const {settings, store} = this.deps;
    const ledger = (await readLedger(store, decisionObjectName(settings.env, plan.day)))?.value;
    if (!ledger || ledger.basis !== basis || ledger.runId !== plan.runId) return undefined;
    if (!emailSettled(ledger.email)) return undefined;
    const [mine, other] = markersFor(ledger.status);
    const [m, o, index] = await Promise.all([
      store.stat(markerObjectName(settings.env, plan.day, mine)),
      store.stat(markerObjectName(settings.env, plan.day, other)),
      store.stat(indexObjectName(settings.env, plan.day)),
    ]);
    if (m?.metadata?.[FINGERPRINT_KEY] !== ledger.fingerprint || o) return undefined;
    // An index that is not this outcome's (its write failed), or not the generation the
    // checker wrote (edited since): the slow path writes it.
    if (!indexIsOf(index, ledger.fingerprint, basis)) return undefined;
    if (index?.generation !== ledger.index?.generation) return undefined;
    return {
      action: 'unchanged',
      day: plan.day,
      runId: plan.runId,
      status: ledger.status,
      email: ledger.email.state,
    };
  }

  /**
   * The plan with every batch's conversation ids: a version-1 plan as it is,
   * a version-2 one put together from its parts (read now, only to decide).
   */
  private async withIds(stored: StoredPlan): Promise<{plan?: DayPlan; problems: string[]}> {
    if (!isPlanIndex(stored)) return {plan: stored, problems: []};
    const {settings, store} = this.deps;
    const index: PlanIndex = stored;
    const problems: string[] = [];
    const parts = await mapLimit(
      index.parts.map((ref, k) => ({ref, k})),
      PART_READ_CONCURRENCY,
      async ({ref, k}) => {
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
      },
    );
    return problems.length > 0 ? {problems} : assemblePlan(index, parts);
  }

  private async decide(stored: StoredPlan): Promise<CheckResult> {
    const {settings, store, logger, clock} = this.deps;
    const withIds = await this.withIds(stored);
    if (!withIds.plan) return this.badPlan(stored.day, withIds.problems.join('; '));
    const plan = withIds.plan;
    const ledgerName = decisionObjectName(settings.env, plan.day);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const before = await readLedger(store, ledgerName);
      const reports = (await this.readReports(plan)).map(r => this.staleProvisional(r));
      const provisional = reports.filter(r => r.report.provisional).length;
      if (provisional > 0) {
        // A final attempt is still exporting; its own report, or the next delivery's, follows.
        return {
          action: 'waiting',
          day: plan.day,
          runId: plan.runId,
          reported: reports.length - provisional,
          batches: plan.batches.length,
        };
      }
      const waivers = await this.readWaivers(plan.day);
      // Never from bookkeeping alone: what the reports claim is held against one listing.
      const listing = (
        await Promise.all(recordingFolders(settings.env, plan.day).map(f => store.list(f)))
      ).flat();
      const confirmed = confirmClaims(settings.env, plan, reports, listing);
      const open = before?.value.runId === plan.runId ? (before.value.gapIds ?? []) : [];
      const decidedFrom = keepOpenGaps(confirmed.reports, open);
      const outcome = decideDay(
        plan,
        decidedFrom,
        settings.replay,
        waivers.refs,
        confirmed.unplanned,
      );
      const basis = basisOf([
        ...reports.map(r => ({name: r.object, generation: r.generation})),
        ...waivers.basis,
      ]);
      let ledger = before;
      let action: 'decided' | 'unchanged' = 'unchanged';
      if (before?.value.fingerprint !== outcome.fingerprint) {
        const value = newLedger(outcome, before?.value, clock.now(), basis);
        const generation = await swapLedger(store, ledgerName, value, before?.generation ?? 0);
        if (generation === undefined) continue; // someone decided first: look again
        ledger = {value, generation};
        action = 'decided';
        // The fields Cloud Monitoring filters on (infra/monitoring.tf): event, status, day.
        logger.info('day decided', {
          event: 'day_decided',
          day: plan.day,
          runId: plan.runId,
          status: outcome.status,
          missing: outcome.missing,
          previous: value.previous?.status,
        });
        await this.record(plan.day, decidedFrom, value);
      } else {
        // Recorded before the basis moves: the fast path never skips records not yet written.
        await this.record(plan.day, decidedFrom, before.value);
        if (before.value.basis !== basis && emailSettled(before.value.email)) {
          // Same outcome from rewritten reports (a replay that changed nothing): remember the
          // new basis so later duplicates take the fast path. Losing this race costs nothing.
          // Never while an email is in flight: its "sent" swap must find the claim's generation.
          const value = {...before.value, basis};
          const moved = await swapLedger(store, ledgerName, value, before.generation);
          if (moved) ledger = {value, generation: moved};
        }
      }
      await this.writeMarkers(outcome, ledger!.value);
      const after = await readLedger(store, ledgerName);
      if (after?.value.fingerprint !== outcome.fingerprint) continue; // superseded meanwhile
      // The email does not wait for the index, nor the index for the email: both are tried.
      let email: EmailState['state'] | undefined;
      let emailError: unknown;
      try {
        email = await this.email.send(outcome, after, ledgerName);
      } catch (err) {
        emailError = err;
      }
      const indexed = await this.index.write(
        {
          plan,
          reports: decidedFrom,
          unplanned: confirmed.unplanned,
          outcome,
          decidedAt: after.value.decidedAt,
        },
        outcome.fingerprint,
        basis,
      );
      if (emailError !== undefined) throw emailError;
      if (!indexed)
        throw new RetryableError(
          `the recordings index of ${plan.day} was not written; the marker and the email stand`,
        );
      return {
        action,
        day: plan.day,
        runId: plan.runId,
        status: outcome.status,
        email: email!,
      };
    }
    throw new RetryableError(`the decision for ${plan.day} kept changing; retrying later`);
  }

  /** The decision's objects into the day's decided records (before its markers are written). */
  private async record(day: string, reports: ReportRef[], ledger: Ledger): Promise<void> {
    const {settings, store, logger} = this.deps;
    await recordDecision(store, logger, decisionRecordsObjectName(settings.env, day), reports, {
      runId: ledger.runId,
      status: ledger.status,
      decidedAt: ledger.decidedAt,
    });
  }

  /**
   * A provisional report that nothing replaced long after any attempt could still run (its
   * message was dead-lettered, say) counts as the failed report it is.
   */
  private staleProvisional(ref: ReportRef): ReportRef {
    const r = ref.report;
    if (!r.provisional || this.deps.clock.now() - Date.parse(r.startedAt) < PROVISIONAL_STALE_MS)
      return ref;
    const error =
      "batch failed: the final attempt's provisional report was never replaced (no later delivery came; see grm dead-letters)";
    const {provisional: _p, ...rest} = r;
    return {
      ...ref,
      report: {...rest, error, conversations: r.conversations.map(c => ({...c, error}))},
    };
  }

  private async readReports(plan: DayPlan): Promise<ReportRef[]> {
    const {settings, store} = this.deps;
    const prefix = batchReportsPrefix(settings.env, plan.day, plan.runId);
    return mapLimit(plan.batches, REPORT_READ_CONCURRENCY, async b => {
      const object = `${prefix}${b.batchId}.json`;
      let read: {value: BatchReport; generation: string} | undefined;
      let problem: string | undefined;
      try {
        read = await store.readJson<BatchReport>(object, MAX_REPORT_BYTES);
      } catch (err) {
        if (err instanceof RetryableError) throw err;
        problem = err instanceof Error ? err.message : String(err);
      }
      if (read && isReport(read.value, b.batchId))
        return {object, generation: read.generation, report: read.value};
      // An unreadable report is a failed batch: its conversations become gaps, a replay rewrites it.
      const error = `the batch report is unreadable: ${problem ?? 'not a batch report'}`;
      return {
        object,
        generation: read?.generation ?? '0',
        report: unreadableReport(plan, b.batchId, error),
      };
    });
  }

  /** Writes the outcome's marker (unless it already holds this outcome) and removes the other. */
  private async writeMarkers(outcome: DayOutcome, ledger: Ledger): Promise<void> {
    const {settings, store} = this.deps;
    const [mine, other] = markersFor(outcome.status);
    const name = markerObjectName(settings.env, outcome.day, mine);
    const body = json({
      ...outcome,
      kind: 'day-marker',
      marker: mine,
      env: settings.env,
      decidedAt: ledger.decidedAt,
      ...(ledger.changed?.length ? {changed: ledger.changed} : {}),
      ...(ledger.history?.length ? {history: ledger.history} : {}),
    });
    const written = await replaceObject(store, name, body, 'application/json', {
      metadata: {[FINGERPRINT_KEY]: outcome.fingerprint, [RUN_ID_KEY]: outcome.runId},
      current: existing => existing.metadata?.[FINGERPRINT_KEY] === outcome.fingerprint,
      attempts: MAX_ROUNDS,
    });
    if (!written) throw new RetryableError(`${name} kept changing; retrying later`);
    const otherName = markerObjectName(settings.env, outcome.day, other);
    if (!(await removeObject(store, otherName, MAX_ROUNDS))) {
      throw new RetryableError(`${otherName} kept changing; retrying later`);
    }
  }
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
