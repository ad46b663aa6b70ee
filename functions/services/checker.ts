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
 *
 * This module is the orchestration (and the markers); the ledger's model is
 * core/ledger.ts, its reads and swaps services/ledger.ts, the day's inputs
 * services/day-inputs.ts, step 4 services/developer-email.ts and step 5
 * services/recordings-index.ts.
 */
import type {IdTable} from '../core/compact-ids';
import {CompactRecords} from '../core/compact-records';
import {DayDecision, DayOutcome} from '../core/day-outcome';
import {gapKindCounts} from '../core/gap-kinds';
import type {StoredPlan} from '../core/day-plan';
import {PermanentError, RetryableError} from '../core/errors';
import {
  EmailState,
  FINGERPRINT_KEY,
  Ledger,
  RUN_ID_KEY,
  basisOf,
  emailSettled,
  newLedger,
} from '../core/ledger';
import {
  classifyObject,
  decisionObjectName,
  decisionRecordsObjectName,
  indexObjectName,
  markerObjectName,
} from '../core/object-names';
import type {ArchivedPolicy} from '../core/recording-outcomes';
import type {ReplayTarget} from '../core/replay';
import {DayInputs} from './day-inputs';
import {DayReports} from './day-reports';
import {recordDecision} from './decided-records';
import {DeveloperEmail, EmailDeps, EmailSettings} from './developer-email';
import {MAX_ROUNDS, json, readLedger, swapLedger} from './ledger';
import {removeObject, replaceObject} from './objects';
import {RecordingsIndexWriter, indexIsOf} from './recordings-index';
import {queueRestores} from './restore-queue';

export interface CheckerSettings extends EmailSettings {
  replay: ReplayTarget;
  /** `restore`: a decided day's archived recordings are queued for the planner's restores. */
  archivedPolicy?: ArchivedPolicy;
}

/** What the email needs (the mailer built on first use), with the checker's settings. */
export interface CheckerDeps extends EmailDeps {
  settings: CheckerSettings;
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

export class Checker {
  private readonly inputs: DayInputs;
  private readonly email: DeveloperEmail;
  private readonly index: RecordingsIndexWriter;

  constructor(private readonly deps: CheckerDeps) {
    this.inputs = new DayInputs(deps);
    this.email = new DeveloperEmail(deps);
    this.index = new RecordingsIndexWriter(deps);
  }

  async handle(objectName: string): Promise<CheckResult> {
    const {settings} = this.deps;
    const target = classifyObject(settings.env, objectName);
    if (!target) return {action: 'ignored', reason: 'not a plan or batch report'};
    const read = await this.inputs.plan(target.day);
    if (!read) return {action: 'ignored', reason: `no plan for ${target.day}`};
    if ('problem' in read) return this.badPlan(target.day, read.problem);
    const plan = read.plan;
    if (target.kind === 'report' && target.runId !== plan.runId) {
      return {action: 'ignored', reason: `report of run ${target.runId}, not the current run`};
    }
    const listed = await this.inputs.reportObjects(plan);
    if (listed.length < plan.batches.length) {
      return {
        action: 'waiting',
        day: plan.day,
        runId: plan.runId,
        reported: listed.length,
        batches: plan.batches.length,
      };
    }
    const waivers = await this.inputs.waiverObjects(plan.day);
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

  private async decide(stored: StoredPlan): Promise<CheckResult> {
    const {settings, store, logger, clock} = this.deps;
    // The plan's conversation ids, numbered compactly: the listing is held against them.
    const {plan, ids, problems} = await this.inputs.withIds(stored);
    if (!plan || !ids) return this.badPlan(stored.day, problems.join('; '));
    const ledgerName = decisionObjectName(settings.env, plan.day);
    const planned = ids.size;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const before = await readLedger(store, ledgerName);
      // Never from bookkeeping alone: what the reports claim is held against one listing.
      const listing = await this.inputs.listing(plan.day, ids, planned);
      const open = before?.value.runId === plan.runId ? (before.value.gapIds ?? []) : [];
      const day = new DayReports(settings.env, this.inputs, plan, listing, open);
      const waivers = await this.inputs.waivers(plan.day);
      const verdict = new DayDecision(plan, settings.replay, waivers.refs);
      let provisional = 0;
      for await (const {batch, ref, provisional: p} of day.first()) {
        if (p) provisional++;
        else if (provisional === 0) verdict.add(batch, ref);
      }
      if (provisional > 0) {
        // A final attempt is still exporting; its own report, or the next delivery's, follows.
        return {
          action: 'waiting',
          day: plan.day,
          runId: plan.runId,
          reported: plan.batches.length - provisional,
          batches: plan.batches.length,
        };
      }
      const outcome = verdict.finish(listing.unplanned);
      const basis = basisOf([...day.basis(), ...waivers.basis]);
      let ledger = before;
      let action: 'decided' | 'unchanged' = 'unchanged';
      if (before?.value.fingerprint !== outcome.fingerprint) {
        // A history migration's day is told in the migration's summaries, not one email a day.
        const quiet = plan.trigger === 'migration';
        const value = newLedger(outcome, before?.value, clock.now(), basis, quiet);
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
        // One line per kind of gap: the dashboard's gaps chart (infra/dashboard.tf).
        for (const [kind, gaps] of gapKindCounts(outcome.gaps)) {
          logger.info('day gaps', {
            event: 'day_gaps',
            day: plan.day,
            runId: plan.runId,
            kind,
            gaps,
          });
        }
        await this.record(plan.day, day, value, ids);
      } else {
        // Recorded before the basis moves: the fast path never skips records not yet written.
        await this.record(plan.day, day, before.value, ids);
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
      // Queued before the email that says so (once per outcome, whoever gets here first).
      const notes =
        settings.archivedPolicy === 'restore' && outcome.status === 'failure'
          ? await this.queueRestores(outcome)
          : [];
      const after = await readLedger(store, ledgerName);
      if (after?.value.fingerprint !== outcome.fingerprint) continue; // superseded meanwhile
      // The email does not wait for the index, nor the index for the email: both are tried.
      let email: EmailState['state'] | undefined;
      let emailError: unknown;
      try {
        email = await this.email.send(outcome, after, ledgerName, notes);
      } catch (err) {
        emailError = err;
      }
      const indexed = await this.index.write(
        {
          plan,
          batches: () => day.again(),
          unplanned: listing.unplanned,
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

  /**
   * Queues the outcome's archived recordings for the planner's restores. A
   * refusal no retry changes (the checker's grant on the queue not applied
   * yet) holds back neither the email nor the index: it is logged, and the
   * email says how to queue them. A passing failure (an outage) fails the
   * delivery, which is retried: the email waits for the queue, as it says so.
   */
  private async queueRestores(outcome: DayOutcome): Promise<string[]> {
    const {settings, store, clock, logger} = this.deps;
    try {
      await queueRestores(store, settings.env, outcome, clock.now());
      return [];
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      const reason = err.message;
      logger.error('the archived recordings were not queued for restore', {
        event: 'restores_not_queued',
        day: outcome.day,
        runId: outcome.runId,
        reason,
      });
      return [
        `The archived recordings of ${outcome.day} could not be queued for restore (${reason}). Once the checker may create objects under _migration/restore-inbox/ (infra grants it: checker_queues_restores; grm doctor checks it), run: grm restore ${outcome.day}; the log's restores_not_queued events name every such day.`,
      ];
    }
  }

  /** The decision's objects into the day's decided records (before its markers are written). */
  private async record(
    day: string,
    reports: DayReports,
    ledger: Ledger,
    ids: IdTable,
  ): Promise<void> {
    const {settings, store, logger} = this.deps;
    // About a recording per conversation (metadata documents have a row each anyway).
    const capacity = ids.size;
    await recordDecision(
      store,
      logger,
      decisionRecordsObjectName(settings.env, day),
      async function* () {
        for await (const {ref} of reports.again()) yield ref;
      },
      {runId: ledger.runId, status: ledger.status, decidedAt: ledger.decidedAt},
      () => new CompactRecords(settings.env, day, ids, capacity),
    );
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
