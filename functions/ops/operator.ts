/**
 * The operator's use cases behind `grm`: read a day's state, its gaps and
 * what fixes them, replay the gaps, rerun days through the planner, and
 * handle dead letters. I/O goes through ports; the rules are in
 * core/operations.ts.
 */
import {InputError} from '../core/errors';
import type {BatchMessage} from '../core/messages';
import {parseBatchMessage} from '../core/messages';
import {
  batchReportObjectName,
  batchReportsPrefix,
  decisionObjectName,
  markerObjectName,
  planObjectName,
  waiverObjectName,
} from '../core/object-names';
import {DayMarker, DayState, EmailView, dayState, gapAction} from '../core/operations';
import type {DayPlan} from '../core/day-plan';
import type {BatchReport} from '../core/report';
import {Waiver, newWaiver} from '../core/waivers';
import type {DeadLetter, DeadLetterQueue, ObjectStore, Publisher} from '../ports';

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
}

export class Operator {
  constructor(private readonly deps: OperatorDeps) {}

  async status(days: string[]): Promise<DayState[]> {
    return Promise.all(days.map(day => this.dayStatus(day)));
  }

  private async dayStatus(day: string): Promise<DayState> {
    const {env, store} = this.deps;
    const [success, failure, plan, ledger] = await Promise.all([
      store.readJson<DayMarker>(markerObjectName(env, day, '_SUCCESS')),
      store.readJson<DayMarker>(markerObjectName(env, day, '_FAILURE')),
      store.readJson<DayPlan>(planObjectName(env, day)),
      store.readJson<{runId: string; email: EmailView}>(decisionObjectName(env, day)),
    ]);
    const marker = success?.value ?? failure?.value;
    const current = plan?.value;
    const reported =
      current && (!marker || marker.runId !== current.runId)
        ? (await store.list(batchReportsPrefix(env, day, current.runId))).length
        : undefined;
    return dayState({
      day,
      ...(marker ? {marker} : {}),
      ...(current ? {plan: current} : {}),
      ...(reported !== undefined ? {reported} : {}),
      ...(ledger && ledger.value.runId === marker?.runId ? {email: ledger.value.email} : {}),
    });
  }

  /** The day's `_FAILURE` with every gap and its fix; undefined when the day has none. */
  async gaps(day: string): Promise<{marker: DayMarker; gaps: GapView[]} | undefined> {
    const failure = await this.deps.store.readJson<DayMarker>(
      markerObjectName(this.deps.env, day, '_FAILURE'),
    );
    if (!failure) return undefined;
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
    if (!this.deps.callPlanner) throw new InputError('no planner URL is configured', 400);
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
    const pulled = await queue.pull(opts.max ?? 100);
    const views = await Promise.all(pulled.map(m => this.describeDeadLetter(m)));
    if (!opts.replay) {
      await queue.release(pulled.map(m => m.ackId));
      return views;
    }
    const replayable = views.flatMap((v, i) => (v.message ? [{v, m: pulled[i]!}] : []));
    await this.deps.publisher.publishJson(replayable.map(({v}) => v.message));
    await queue.ack(replayable.map(({m}) => m.ackId));
    await queue.release(pulled.filter(m => !replayable.some(r => r.m === m)).map(m => m.ackId));
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
    const batchId = message.batchId;
    const report =
      batchId === undefined
        ? undefined
        : await this.deps.store.readJson<BatchReport>(
            batchReportObjectName(this.deps.env, message.day, message.runId, batchId),
          );
    const why = !report
      ? 'no batch report was written: the worker never finished it (see its logs)'
      : `its report says ${report.value.status}${report.value.error ? `: ${report.value.error}` : ''}`;
    return {
      ...base,
      day: message.day,
      ...(message.runId ? {runId: message.runId} : {}),
      ...(batchId ? {batchId} : {}),
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
    request: {recordingIds: string[]; reason: string; by: string},
  ): Promise<{object: string; waiver: Waiver}> {
    const found = await this.gaps(day);
    if (!found) throw new InputError(`${day} has no _FAILURE: there is nothing to waive`, 404);
    const waiver = newWaiver({day, ...request, at: new Date(this.deps.now()).toISOString()});
    const gapIds = new Set(found.gaps.flatMap(g => (g.recordingId ? [g.recordingId] : [])));
    const unknown = waiver.recordingIds.filter(id => !gapIds.has(id));
    if (unknown.length > 0) {
      throw new InputError(
        `not gaps of ${day}'s _FAILURE (grm gaps ${day} lists them): ${unknown.join(', ')}`,
        409,
      );
    }
    const object = waiverObjectName(this.deps.env, day, this.deps.newId());
    await this.deps.store.write(object, Buffer.from(JSON.stringify(waiver, null, 2)), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
    return {object, waiver};
  }
}
