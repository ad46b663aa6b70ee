/**
 * The planner's use case: for each requested day, check the analytics data is
 * available for the whole window (services/data-availability.ts), discover the day's conversations (analytics
 * jobs, with the synchronous query as fallback), write the day's plan, and
 * publish its batches, waiting until every publish is acknowledged.
 */
import {randomBytes} from 'node:crypto';
import {PlannedBatch, cutBatches} from '../core/batches';
import {ConversationIdList} from '../core/conversation-ids';
import {
  AutoRerun,
  DayPlan,
  PLAN_PART_CONVERSATIONS,
  PlanHeader,
  PlanIndex,
  PlanPart,
  StoredPlan,
} from '../core/day-plan';
import {PreviousDayFinding, previousDayMail} from '../core/emails';
import {InputError, JobFailedError} from '../core/errors';
import type {BatchMessage} from '../core/messages';
import {planObjectName, planPartObjectName, runPlanObjectName} from '../core/object-names';
import type {PlanRequest} from '../core/plan-request';
import {Day, Window, addDays, windowOf} from '../core/time-window';
import type {Logger} from '../logger';
export type {DayPlan} from '../core/day-plan';
import type {
  Clock,
  DiscoveredConversation,
  Genesys,
  GenesysSession,
  Mailer,
  ObjectStore,
  Publisher,
} from '../ports';
import {DataSettings, requireData} from './data-availability';
import {replaceObject} from './objects';
import {inspectDay} from './previous-days';
import {registerPriorityDay} from './priority-days';

export interface PlannerSettings {
  env: string;
  timeZone: string;
  batchSize: number;
  discovery: 'jobs' | 'query' | 'auto';
  /** Check-previous: days before the planned day to check (0: none). */
  checkPreviousDays: number;
  maxAutoReruns: number;
  /** A plan younger than this without a marker is still running, in minutes. */
  runGraceMinutes: number;
  bucket: string;
  developers: string[];
  /** Most conversations plan.json lists itself, and one plan part holds (default PLAN_PART_CONVERSATIONS). */
  planPartConversations?: number;
  /** ANALYTICS_HORIZON_DAYS: how far back the analytics jobs API is relied on (default five years). */
  horizonDays?: number;
}

/** Batch messages published per acknowledged chunk. */
const PUBLISH_CHUNK = 500;

export interface PlannerDeps {
  settings: PlannerSettings;
  genesys: Genesys;
  store: ObjectStore;
  publisher: Publisher;
  /** Built on first use (the API key comes from Secret Manager). */
  mailer: () => Promise<Mailer>;
  clock: Clock;
  logger: Logger;
  /** Run ids are time plus randomness; injectable for tests. */
  newRunId?: (nowMs: number) => string;
}

/** What check-previous found for an earlier day and did about it. */
export interface PreviousDayResult {
  day: Day;
  state: 'success' | 'failure' | 'incomplete' | 'not-planned';
  detail?: string;
  runId?: string;
  action: 'none' | 'rerun' | 'in-progress' | 'cap-reached';
  newRunId?: string;
  autoReruns?: number;
  email?: 'sent' | 'failed';
}

export interface PlanSummary {
  dryRun: boolean;
  /** Check-previous, when it ran: one entry per earlier day checked. */
  previous?: PreviousDayResult[];
  days: Array<{
    day: Day;
    runId: string;
    window: DayPlan['window'];
    conversations: number;
    batches: number;
    published: number;
  }>;
}

export function defaultRunId(nowMs: number): string {
  const stamp = new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\..*$/, '')
    .replace('T', 't');
  return `r${stamp}-${randomBytes(3).toString('hex')}`;
}

export class Planner {
  constructor(private readonly deps: PlannerDeps) {}

  async plan(request: PlanRequest): Promise<PlanSummary> {
    const session = await this.deps.genesys.session(0);
    await requireData(session, request.days, this.dataSettings());
    const summary: PlanSummary = {dryRun: request.dryRun, days: []};
    const {checkPreviousDays} = this.deps.settings;
    if (request.checkPrevious && !request.dryRun && checkPreviousDays > 0) {
      summary.previous = await this.checkPrevious(session, request);
    }
    for (const day of request.days) summary.days.push(await this.planDay(session, day, request));
    return summary;
  }

  /**
   * Plans a day of a history migration: discovery and the plan, no batch
   * published (the migration publishes them a few at a time). `meter`
   * counts the Genesys requests discovery sent.
   */
  async planMigrationDay(
    day: Day,
    meter: {requests: number},
  ): Promise<{runId: string; batches: number; conversations: number}> {
    const session = await this.deps.genesys.session(0, {meter});
    await requireData(session, [day], this.dataSettings());
    const request: PlanRequest = {
      days: [day],
      dryRun: false,
      runMs: this.deps.clock.now(),
      trigger: 'explicit',
      checkPrevious: false,
    };
    const planned = await this.planDay(session, day, request, undefined, true);
    return {runId: planned.runId, batches: planned.batches, conversations: planned.conversations};
  }

  /** What the data-availability check needs: the zone, the horizon and the time now. */
  private dataSettings(): DataSettings {
    const {timeZone, horizonDays} = this.deps.settings;
    return {timeZone, nowMs: this.deps.clock.now(), ...(horizonDays ? {horizonDays} : {})};
  }

  /**
   * The days before each requested day without `_SUCCESS` are planned again
   * (at most `maxAutoReruns` times each) and the developers told. A run that
   * is younger than the grace period and has no marker yet is left to finish.
   */
  private async checkPrevious(
    session: GenesysSession,
    request: PlanRequest,
  ): Promise<PreviousDayResult[]> {
    const {settings, store, clock, logger} = this.deps;
    const days = new Set<Day>();
    for (const d of request.days)
      for (let k = settings.checkPreviousDays; k >= 1; k--) days.add(addDays(d, -k));
    for (const d of request.days) days.delete(d);
    const results: PreviousDayResult[] = [];
    for (const day of [...days].sort()) {
      const found = await inspectDay(store, settings.env, day, clock.now());
      if (found.state === 'success') {
        results.push({day, state: 'success', runId: found.runId, action: 'none'});
        continue;
      }
      const base = {
        day,
        state: found.state,
        detail: found.detail,
        runId: found.runId,
        autoReruns: found.autoReruns,
      };
      if (
        found.state === 'incomplete' &&
        (found.planAgeMs ?? Infinity) < settings.runGraceMinutes * 60_000
      ) {
        results.push({...base, action: 'in-progress'});
        continue;
      }
      const maxAutoReruns = settings.maxAutoReruns;
      let finding: PreviousDayFinding;
      if (found.autoReruns >= maxAutoReruns) {
        finding = {...base, action: 'cap-reached', maxAutoReruns};
      } else {
        const count = found.autoReruns + 1;
        const rerun = await this.planDay(session, day, request, {
          of: found.runId ?? 'none',
          state: found.state,
          count,
        });
        finding = {
          ...base,
          action: 'rerun',
          newRunId: rerun.runId,
          autoReruns: count,
          maxAutoReruns,
        };
      }
      const {maxAutoReruns: _cap, ...result} = finding;
      logger.warn('previous day has no _SUCCESS', result);
      results.push({...result, email: await this.tell(finding)});
    }
    return results;
  }

  /** Emails a check-previous finding; a mail failure is logged, never fatal to the night's plan. */
  private async tell(finding: PreviousDayFinding): Promise<'sent' | 'failed'> {
    const {settings, logger} = this.deps;
    try {
      const mail = previousDayMail(finding, {env: settings.env, bucket: settings.bucket});
      await (
        await this.deps.mailer()
      ).send({
        to: settings.developers,
        ...mail,
        tags: {day: finding.day, kind: 'check-previous'},
      });
      return 'sent';
    } catch (err) {
      logger.error('could not email the check-previous finding', {
        day: finding.day,
        reason: err instanceof Error ? err.message : String(err),
      });
      return 'failed';
    }
  }

  private async planDay(
    session: GenesysSession,
    day: Day,
    request: PlanRequest,
    autoRerun?: AutoRerun,
    migration = false,
  ): Promise<PlanSummary['days'][number]> {
    const {settings, clock, logger, genesys} = this.deps;
    const window = windowOf(day, settings.timeZone);
    const {ids, discovery} = await this.discover(session, window);
    const runId = (this.deps.newRunId ?? defaultRunId)(clock.now());
    const header: PlanHeader = {
      kind: 'plan',
      day,
      runId,
      window: {
        start: new Date(window.startMs).toISOString(),
        end: new Date(window.endMs).toISOString(),
        timeZone: settings.timeZone,
      },
      createdAt: new Date(clock.now()).toISOString(),
      trigger: migration ? 'migration' : autoRerun ? 'check-previous' : request.trigger,
      discovery,
      conversations: ids.size,
      clients: Math.max(1, genesys.clientCount),
      ...(autoRerun ? {autoRerun} : {}),
    };
    const batches = Math.ceil(ids.size / settings.batchSize);
    const out = {day, runId, window: header.window, conversations: ids.size, batches, published: 0};
    if (request.dryRun) return out;
    await this.writePlan(header, ids);
    if (migration) return out;
    // Registered before its batches go out: a migration publishes nothing while it is undecided.
    await registerPriorityDay(this.deps.store, settings.env, {day, runId}, clock.now());
    out.published = await this.publish(header, ids);
    logger.info('day planned', {day, runId, conversations: ids.size, batches, discovery});
    return out;
  }

  /** The day's batches, as cut from the sorted ids, each with its OAuth client. */
  private batchesOf(plan: PlanHeader, ids: ConversationIdList): Generator<PlannedBatch> {
    return cutBatches(plan.day, ids, this.deps.settings.batchSize, plan.clients);
  }

  /**
   * Publishes every batch message, PUBLISH_CHUNK at a time, each chunk
   * acknowledged before the next is built: the messages of a large day are
   * never all in memory at once.
   */
  private async publish(plan: PlanHeader, ids: ConversationIdList): Promise<number> {
    let published = 0;
    let chunk: BatchMessage[] = [];
    const flush = async () => {
      published += (await this.deps.publisher.publishJson(chunk)).length;
      chunk = [];
    };
    for (const b of this.batchesOf(plan, ids)) {
      chunk.push({
        day: plan.day,
        conversationIds: b.conversationIds,
        runId: plan.runId,
        batchId: b.batchId,
        ...(b.client !== undefined ? {client: b.client} : {}),
      });
      if (chunk.length >= PUBLISH_CHUNK) await flush();
    }
    if (chunk.length > 0) await flush();
    return published;
  }

  /**
   * Conversation ids that started in the window, de-duplicated and sorted,
   * taken page by page into a compact list (16 bytes an id).
   */
  private async discover(
    session: GenesysSession,
    window: Window,
  ): Promise<{ids: ConversationIdList; discovery: 'jobs' | 'query'}> {
    const mode = this.deps.settings.discovery;
    const collect = async (pages: AsyncIterable<DiscoveredConversation[]>) => {
      const ids = new ConversationIdList();
      for await (const page of pages) {
        for (const c of page) {
          const start = Date.parse(c.conversationStart);
          if (start >= window.startMs && start < window.endMs) ids.add(c.conversationId);
        }
      }
      return ids.seal();
    };
    if (mode === 'query')
      return {ids: await collect(session.discoverWithQuery(window)), discovery: 'query'};
    try {
      return {ids: await collect(session.discoverWithJob(window)), discovery: 'jobs'};
    } catch (err) {
      if (mode === 'auto' && err instanceof JobFailedError) {
        this.deps.logger.warn('analytics job failed; falling back to the synchronous query', {
          reason: err.message,
        });
        return {ids: await collect(session.discoverWithQuery(window)), discovery: 'query'};
      }
      throw err;
    }
  }

  /**
   * Writes the run's plan (its own copy, then the day's plan.json). A day of
   * at most `planPartConversations` conversations gets a version-1 plan that
   * lists every batch's ids; a larger one a version-2 plan whose parts, each
   * written before plan.json names it, hold the ids (core/day-plan.ts). Only
   * one part is in memory at a time.
   */
  private async writePlan(header: PlanHeader, ids: ConversationIdList): Promise<void> {
    const {store, settings} = this.deps;
    const {day, runId} = header;
    const partSize = settings.planPartConversations ?? PLAN_PART_CONVERSATIONS;
    let plan: StoredPlan;
    if (ids.size <= partSize) {
      plan = {...header, version: 1, batches: [...this.batchesOf(header, ids)]};
    } else {
      const index: PlanIndex = {...header, version: 2, batches: [], parts: []};
      let part: PlannedBatch[] = [];
      let held = 0;
      const flush = async () => {
        const k = index.parts.length;
        const object = planPartObjectName(settings.env, day, runId, k);
        const body: PlanPart = {kind: 'plan-part', version: 2, day, runId, part: k, batches: part};
        await store.write(object, Buffer.from(JSON.stringify(body, null, 2)), {
          contentType: 'application/json',
          ifGenerationMatch: 0,
        });
        index.parts.push({object, batches: part.length, conversations: held});
        part = [];
        held = 0;
      };
      for (const b of this.batchesOf(header, ids)) {
        if (held > 0 && held + b.conversationIds.length > partSize) await flush();
        part.push(b);
        held += b.conversationIds.length;
        index.batches.push({
          batchId: b.batchId,
          conversations: b.conversationIds.length,
          ...(b.client !== undefined ? {client: b.client} : {}),
        });
      }
      if (part.length > 0) await flush();
      plan = index;
    }
    const bytes = Buffer.from(JSON.stringify(plan, null, 2));
    await store.write(runPlanObjectName(settings.env, day, runId), bytes, {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
    if (
      !(await replaceObject(store, planObjectName(settings.env, day), bytes, 'application/json'))
    ) {
      throw new InputError(`another planner is planning ${day} at the same time`, 409);
    }
  }
}
