/**
 * The operator's use cases behind `grm`: read a day's state, its gaps and
 * what fixes them, replay the gaps, rerun days through the planner, and
 * handle dead letters. I/O goes through ports; the rules are in
 * core/day-status.ts.
 */
import {adhocBatchId} from '../core/batches';
import {InputError} from '../core/errors';
import {MAX_MARKER_BYTES, MAX_PLAN_BYTES, MAX_REPORT_BYTES} from '../core/limits';
import type {BatchMessage} from '../core/messages';
import {parseBatchMessage} from '../core/messages';
import {
  batchReportObjectName,
  markerObjectName,
  planObjectName,
  waiverObjectName,
} from '../core/object-names';
import type {DayMarker, DayState} from '../core/day-status';
import {gapAction} from '../core/gap-kinds';
import type {StoredPlan} from '../core/day-plan';
import type {BatchReport} from '../core/report';
import {PERMANENT_REASON, Waiver, newWaiver} from '../core/waivers';
import type {DeadLetter, DeadLetterQueue, ObjectStore, Publisher} from '../ports';
import {mapLimit} from '../services/objects';
import {readDayStates} from './day-states';

export interface OperatorDeps {
  env: string;
  now: () => number;
  /** A fresh, unique, path-safe id (for waiver objects). */
  newId: () => string;
  store: ObjectStore;
  publisher: Publisher;
  deadLetters?: DeadLetterQueue;
  /** POSTs a JSON body to the planner with the operator's identity. */
  callPlanner?: (body: unknown) => Promise<{status: number; body: unknown}>;
}

export interface GapView {
  batchId: string;
  conversationId: string;
  recordingId?: string;
  type?: string;
  reason: string;
  action: string;
}

export interface DeadLetterView {
  messageId: string;
  publishTime?: string;
  deliveries?: number;
  day?: string;
  runId?: string;
  batchId?: string;
  conversations?: number;
  /** What the bucket says about the batch: its report's status, or that none was written. */
  why: string;
  /** Set when the message is not a batch message. */
  invalid?: string;
  message?: BatchMessage;
  /** Published again and acknowledged (dead-letters --replay). */
  replayed?: boolean;
}

/** Dead letters handled per pull: far inside the subscription's 60 s ack deadline. */
const DEAD_LETTER_CHUNK = 100;

export class Operator {
  constructor(private readonly deps: OperatorDeps) {}

  /** Each day's state, as `grm status` shows it (day-states.ts reads it). */
  async status(days: string[]): Promise<DayState[]> {
    return readDayStates(this.deps.store, this.deps.env, days);
  }

  /** The day's `_FAILURE` with every gap and its fix; undefined when the day has none. */
  async gaps(day: string): Promise<{marker: DayMarker; gaps: GapView[]} | undefined> {
    const [failure, plan] = await Promise.all([
      this.deps.store.readJson<DayMarker>(
        markerObjectName(this.deps.env, day, '_FAILURE'),
        MAX_MARKER_BYTES,
      ),
      this.deps.store.readJson<StoredPlan>(planObjectName(this.deps.env, day), MAX_PLAN_BYTES),
    ]);
    if (!failure) return undefined;
    if (plan && plan.value.runId !== failure.value.runId) {
      throw new InputError(
        `run ${plan.value.runId} of ${day} (planned ${plan.value.createdAt}) has not been decided yet; ` +
          `this _FAILURE is from run ${failure.value.runId}: wait for the new verdict (grm status)`,
        409,
      );
    }
    return {
      marker: failure.value,
      gaps: failure.value.gaps.map(g => ({...g, action: gapAction(g.reason, day)})),
    };
  }

  /**
   * Publishes the replay of the day's gaps: per failed batch, its message
   * with only the conversations that still have gaps.
   */
  async replay(
    day: string,
    opts: {dryRun?: boolean} = {},
  ): Promise<{runId: string; messages: Array<BatchMessage & {messageId?: string}>}> {
    const found = await this.gaps(day);
    if (!found) throw new InputError(`${day} has no _FAILURE: nothing to replay`, 404);
    const messages = found.marker.replay.map(r => {
      if (!r.message) {
        throw new InputError(
          `the _FAILURE of ${day} predates grm replay; run its .replay[].command lines instead`,
          409,
        );
      }
      return r.message;
    });
    if (opts.dryRun) return {runId: found.marker.runId, messages};
    const ids = await this.deps.publisher.publishJson(messages);
    return {
      runId: found.marker.runId,
      messages: messages.map((m, i) => ({...m, messageId: ids[i]})),
    };
  }

  /** Asks the planner for a new run of a day or an inclusive range of days. */
  async rerun(from: string, to: string = from): Promise<{status: number; body: unknown}> {
    if (!this.deps.callPlanner)
      throw new InputError(
        'no planner URL is configured: give --planner-url or set GRM_PLANNER_URL',
        400,
      );
    return this.deps.callPlanner(from === to ? {day: from} : {from, to});
  }

  /**
   * The dead letters, with what the bucket says about each batch. Listing
   * leaves them in the subscription; `replay` publishes each valid one again
   * and acknowledges it.
   */
  async deadLetters(opts: {max?: number; replay?: boolean} = {}): Promise<DeadLetterView[]> {
    const queue = this.deps.deadLetters;
    if (!queue) throw new InputError('no dead-letter subscription is configured', 400);
    const max = opts.max ?? 100;
    const views: DeadLetterView[] = [];
    const held: string[] = [];
    try {
      // In chunks well inside the subscription's ack deadline: pull, describe, (publish, ack).
      while (views.length < max) {
        const pulled = await queue.pull(Math.min(DEAD_LETTER_CHUNK, max - views.length));
        if (pulled.length === 0) break;
        const described = await mapLimit(pulled, 8, m => this.describeDeadLetter(m));
        views.push(...described);
        if (!opts.replay) {
          held.push(...pulled.map(m => m.ackId));
          continue;
        }
        const replayable = pulled.filter((_, i) => described[i]!.message);
        await this.deps.publisher.publishJson(
          described.flatMap(v => (v.message ? [v.message] : [])),
        );
        await queue.ack(replayable.map(m => m.ackId));
        for (const v of described) if (v.message) v.replayed = true;
        held.push(...pulled.filter((_, i) => !described[i]!.message).map(m => m.ackId));
      }
    } finally {
      // What was listed and not replayed goes back at once, for the next look.
      await queue.release(held);
    }
    return views;
  }

  private async describeDeadLetter(m: DeadLetter): Promise<DeadLetterView> {
    const base = {
      messageId: m.messageId,
      ...(m.publishTime ? {publishTime: m.publishTime} : {}),
      ...(m.deliveries !== undefined ? {deliveries: m.deliveries} : {}),
    };
    let message: BatchMessage;
    try {
      message = parseBatchMessage(JSON.parse(m.data) as unknown);
    } catch (err) {
      const invalid = err instanceof Error ? err.message : String(err);
      return {...base, why: 'not a batch message', invalid};
    }
    const batchId = message.batchId ?? adhocBatchId(message.day, message.conversationIds);
    const report = await this.deps.store
      .readJson<BatchReport>(
        batchReportObjectName(this.deps.env, message.day, message.runId, batchId),
        MAX_REPORT_BYTES,
      )
      .catch(() => undefined);
    const why = !report
      ? 'no batch report was written: the worker never finished it (see its logs)'
      : `its report says ${report.value.status}${report.value.error ? `: ${report.value.error}` : ''}`;
    return {
      ...base,
      day: message.day,
      ...(message.runId ? {runId: message.runId} : {}),
      batchId,
      conversations: message.conversationIds.length,
      why,
      message,
    };
  }

  /**
   * Waives recordings of the day's `_FAILURE` that can never be exported:
   * an append-only waiver object the checker reads to decide the day again.
   * Only recordings that are gaps of the current `_FAILURE` can be waived.
   */
  async waive(
    day: string,
    request: {recordingIds: string[]; reason: string; by: string; anyReason?: boolean},
  ): Promise<{object: string; waiver: Waiver}> {
    const found = await this.gaps(day);
    if (!found) throw new InputError(`${day} has no _FAILURE: there is nothing to waive`, 404);
    const gapReasons = new Map(
      found.gaps.flatMap(g => (g.recordingId ? [[g.recordingId, g.reason] as const] : [])),
    );
    const unknown = request.recordingIds.filter(id => !gapReasons.has(id));
    if (unknown.length > 0) {
      throw new InputError(
        `not gaps of ${day}'s _FAILURE (grm gaps ${day} lists them): ${unknown.join(', ')}`,
        409,
      );
    }
    const fixable = request.anyReason
      ? []
      : request.recordingIds.filter(id => !PERMANENT_REASON.test(gapReasons.get(id)!));
    if (fixable.length > 0) {
      throw new InputError(
        `these gaps may still be fixed, so they are not waived: ${fixable
          .map(id => `${id} (${gapReasons.get(id)})`)
          .join(
            '; ',
          )}. Fix and replay them (grm gaps ${day}), or pass --any-reason if they truly never will be`,
        409,
      );
    }
    const waiver = newWaiver({
      day,
      reasons: Object.fromEntries(request.recordingIds.map(id => [id, gapReasons.get(id)!])),
      reason: request.reason,
      by: request.by,
      at: new Date(this.deps.now()).toISOString(),
    });
    const object = waiverObjectName(this.deps.env, day, this.deps.newId());
    await this.deps.store.write(object, Buffer.from(JSON.stringify(waiver, null, 2)), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
    return {object, waiver};
  }
}
