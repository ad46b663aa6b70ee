/**
 * The plan of one run of one day: what the planner discovered and published,
 * and what the checker holds the batch reports against.
 *
 * `_manifest/plan.json` takes one of two forms:
 *  - version 1 (a day of at most PLAN_PART_CONVERSATIONS conversations):
 *    every batch with its conversation ids (`DayPlan`);
 *  - version 2 (larger days): every batch with its count of conversations,
 *    and the ids in part objects of at most PLAN_PART_CONVERSATIONS each,
 *    `_manifest/runs/{runId}/plan-parts/{part}.json` (`PlanIndex`). A
 *    million conversations make a plan.json of about 1 MB and 100 parts of
 *    about 500 KB, where one object listing them all would be 45 MB.
 * The checker reads the parts only when it decides, and puts the version-1
 * form together from them (`assemblePlan`).
 */
import type {PlannedBatch} from './batches';
import {IdTable} from './compact-ids';
import {isGenesysId, isToken} from './ids';
import {MAX_CONVERSATIONS_PER_MESSAGE} from './messages';
import type {Day} from './time-window';

/** Conversations listed in plan.json itself at most, and in one plan part at most. */
export const PLAN_PART_CONVERSATIONS = 10_000;

/** Why a plan exists beyond the nightly schedule: check-previous started it. */
export interface AutoRerun {
  /** The run this one replaces. */
  of: string;
  /** The state check-previous found the day in. */
  state: string;
  /** Automatic reruns of this day so far, this one included. */
  count: number;
}

/** What every plan.json says about its run. */
export interface PlanHeader {
  kind: 'plan';
  day: Day;
  runId: string;
  window: {start: string; end: string; timeZone: string};
  createdAt: string;
  /** `migration`: a history migration planned it, and publishes its batches a few at a time. */
  trigger: 'schedule' | 'explicit' | 'check-previous' | 'migration';
  discovery: 'jobs' | 'query';
  conversations: number;
  /** OAuth clients configured when planned: the batches' `client` went round-robin over them. */
  clients?: number;
  /** Present when check-previous planned the day again. */
  autoRerun?: AutoRerun;
}

/**
 * The plan with every batch's conversation ids: a version-1 plan.json, or a
 * version-2 one put together with its parts.
 */
export interface DayPlan extends PlanHeader {
  version: 1;
  batches: PlannedBatch[];
}

/** A batch as a version-2 plan lists it: its ids are in its part. */
export interface IndexedBatch {
  batchId: string;
  conversations: number;
  client?: number;
}

/** One part of a version-2 plan: the next `batches` batches of the list, in order. */
export interface PlanPartRef {
  object: string;
  batches: number;
  conversations: number;
}

/** A version-2 plan.json. */
export interface PlanIndex extends PlanHeader {
  version: 2;
  batches: IndexedBatch[];
  parts: PlanPartRef[];
}

/** A plan part object: the conversation ids of some of a version-2 plan's batches. */
export interface PlanPart {
  kind: 'plan-part';
  version: 2;
  day: Day;
  runId: string;
  part: number;
  batches: PlannedBatch[];
}

/** What plan.json holds. */
export type StoredPlan = DayPlan | PlanIndex;

export function isPlanIndex(plan: StoredPlan): plan is PlanIndex {
  return plan.version === 2;
}

const isCount = (v: unknown, max = Infinity): v is number =>
  Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= max;

/**
 * What makes `value` unusable as the plan of `day` (empty when usable): the
 * shape the planner writes, and batches that add up to its conversation
 * count with no conversation (version 1) or batch (version 2) twice. A
 * hand-made object gets no verdict.
 */
export function planProblems(value: unknown, day: Day): string[] {
  const p = value as Partial<DayPlan> | Partial<PlanIndex> | null;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return ['not a JSON object'];
  const problems: string[] = [];
  if (p.kind !== 'plan') problems.push('"kind" is not "plan"');
  if (p.day !== day) problems.push(`"day" is not ${day}`);
  if (typeof p.runId !== 'string' || !isToken(p.runId)) problems.push('"runId" is not a run id');
  if (typeof p.createdAt !== 'string' || Number.isNaN(Date.parse(p.createdAt)))
    problems.push('"createdAt" is not a time');
  if (!Array.isArray(p.batches)) return [...problems, '"batches" is not a list'];
  if (p.version === 2) return [...problems, ...indexProblems(p)];
  const seen = new Set<string>();
  let total = 0;
  for (const b of p.batches as unknown[]) {
    const batch = b as Partial<PlannedBatch> | null;
    if (
      typeof batch !== 'object' ||
      batch === null ||
      typeof batch.batchId !== 'string' ||
      !isToken(batch.batchId) ||
      !Array.isArray(batch.conversationIds) ||
      batch.conversationIds.length === 0 ||
      !batch.conversationIds.every(isGenesysId)
    ) {
      problems.push('a batch is not {batchId, conversationIds: [Genesys ids]}');
      break;
    }
    for (const id of batch.conversationIds) seen.add(id);
    total += batch.conversationIds.length;
  }
  if (seen.size !== total) problems.push('a conversation is in more than one batch');
  if (p.conversations !== total)
    problems.push(`"conversations" is ${String(p.conversations)}, the batches hold ${total}`);
  return problems;
}

/** The batch list and parts of a version-2 plan: every batch in one part, counts that add up. */
function indexProblems(p: Partial<PlanIndex>): string[] {
  const batches = p.batches as unknown[];
  const ids = new Set<string>();
  let total = 0;
  for (const b of batches) {
    const batch = b as Partial<IndexedBatch> | null;
    if (
      typeof batch !== 'object' ||
      batch === null ||
      !isToken(batch.batchId) ||
      !isCount(batch.conversations, MAX_CONVERSATIONS_PER_MESSAGE)
    )
      return ['a batch is not {batchId, conversations}'];
    ids.add(batch.batchId);
    total += batch.conversations;
  }
  const problems: string[] = [];
  if (ids.size !== batches.length) problems.push('a batch id is listed twice');
  if (p.conversations !== total)
    problems.push(`"conversations" is ${String(p.conversations)}, the batches hold ${total}`);
  if (!Array.isArray(p.parts)) return [...problems, '"parts" is not a list'];
  let next = 0;
  for (const r of p.parts as unknown[]) {
    const part = r as Partial<PlanPartRef> | null;
    if (
      typeof part !== 'object' ||
      part === null ||
      typeof part.object !== 'string' ||
      !isCount(part.batches) ||
      !Number.isSafeInteger(part.conversations)
    )
      return [...problems, 'a part is not {object, batches, conversations}'];
    const held = (batches.slice(next, next + part.batches) as IndexedBatch[]).reduce(
      (n, b) => n + b.conversations,
      0,
    );
    if (held !== part.conversations) {
      problems.push(
        `part ${part.object} says ${String(part.conversations)} conversations, its batches hold ${held}`,
      );
      break;
    }
    next += part.batches;
  }
  if (next !== batches.length)
    problems.push(`the parts hold ${next} batches, the plan lists ${batches.length}`);
  return problems;
}

/**
 * A planned batch whose conversation ids are the numbers `first` to
 * `first + count - 1` of the plan's {@link IdTable} (numbered in plan order):
 * 16 bytes an id, made strings again only while the batch is used.
 */
export class NumberedBatch implements PlannedBatch {
  declare readonly client?: number;

  constructor(
    readonly batchId: string,
    private readonly ids: IdTable,
    readonly first: number,
    readonly count: number,
    client: number | undefined,
  ) {
    if (client !== undefined) this.client = client;
  }

  /** The batch's ids as strings, a new list on every call. */
  get conversationIds(): string[] {
    const out = new Array<string>(this.count);
    for (let k = 0; k < this.count; k++) out[k] = this.ids.id(this.first + k);
    return out;
  }
}

/**
 * A (valid) version-2 plan put together from its parts, one part at a time
 * in order (`add`, undefined for a missing part), into the version-1 form
 * with {@link NumberedBatch}es: the day's ids are held once, as bytes, and a
 * part's text can go as soon as it is added. `finish` says what makes the
 * parts unusable: a part that is not the one the plan names (its run, its
 * index, its batches in order with the counts the plan says), and, over the
 * whole day, an id that is not a Genesys id or a conversation twice.
 */
export class PlanAssembly {
  /** The plan's conversation ids, numbered in plan order. */
  readonly ids = new IdTable();
  private readonly batches: NumberedBatch[] = [];
  private readonly problems: string[] = [];
  private next = 0;
  private k = 0;
  /** Ids of the day as a version-1 plan's check counts them (it stops at a bad batch). */
  private counted = 0;
  private badBatch = false;
  private twice = false;

  constructor(private readonly index: PlanIndex) {}

  /** The next part as read (undefined: missing). */
  add(value: unknown): void {
    const {index, problems} = this;
    const k = this.k++;
    const ref = index.parts[k];
    if (!ref) throw new Error(`the plan has ${index.parts.length} parts, not ${k + 1}`);
    const part = value as Partial<PlanPart> | undefined | null;
    const where = `plan part ${ref.object}`;
    const expected = index.batches.slice(this.next, this.next + ref.batches);
    this.next += ref.batches;
    if (part === undefined) {
      problems.push(`${where} is missing`);
      return;
    }
    if (
      typeof part !== 'object' ||
      part === null ||
      part.kind !== 'plan-part' ||
      part.day !== index.day ||
      part.runId !== index.runId ||
      part.part !== k ||
      !Array.isArray(part.batches)
    ) {
      problems.push(`${where} is not part ${k} of run ${index.runId} of ${index.day}`);
      return;
    }
    if (part.batches.length !== expected.length) {
      problems.push(`${where} holds ${part.batches.length} batches, the plan says ${ref.batches}`);
      return;
    }
    for (const [i, b] of (part.batches as unknown[]).entries()) {
      const batch = b as Partial<PlannedBatch> | null;
      const want = expected[i]!;
      if (
        typeof batch !== 'object' ||
        batch === null ||
        batch.batchId !== want.batchId ||
        !Array.isArray(batch.conversationIds) ||
        batch.conversationIds.length !== want.conversations
      ) {
        problems.push(
          `${where} does not hold batch ${want.batchId} with its ${want.conversations} conversations`,
        );
        break;
      }
      if (problems.length === 0) this.number(want, batch.conversationIds as unknown[]);
    }
  }

  /** Numbers a batch's ids (checked as a version-1 plan checks them). */
  private number(want: IndexedBatch, conversationIds: unknown[]): void {
    if (this.badBatch) return;
    if (!conversationIds.every(isGenesysId)) {
      this.badBatch = true;
      return;
    }
    const first = this.ids.size;
    for (const id of conversationIds) if (this.ids.add(id) < first) this.twice = true;
    this.counted += conversationIds.length;
    this.batches.push(
      new NumberedBatch(want.batchId, this.ids, first, this.ids.size - first, want.client),
    );
  }

  /** The plan, once every part was added; else what makes it unusable. */
  finish(): {plan?: DayPlan; ids?: IdTable; problems: string[]} {
    const {index} = this;
    if (this.k !== index.parts.length)
      throw new Error(`${index.parts.length - this.k} parts of the plan were not added`);
    if (this.problems.length > 0) return {problems: this.problems};
    // What a version-1 plan's check (planProblems) says of the same batches.
    const whole: string[] = [];
    if (this.badBatch) whole.push('a batch is not {batchId, conversationIds: [Genesys ids]}');
    if (this.twice) whole.push('a conversation is in more than one batch');
    if (index.conversations !== this.counted)
      whole.push(
        `"conversations" is ${String(index.conversations)}, the batches hold ${this.counted}`,
      );
    if (whole.length > 0) return {problems: whole};
    const {parts: _parts, batches: _batches, version: _version, ...header} = index;
    return {plan: {...header, version: 1, batches: this.batches}, ids: this.ids, problems: []};
  }
}

/**
 * The version-1 form of a (valid) version-2 plan, from its parts as read
 * (undefined: missing), with what makes them unusable ({@link PlanAssembly},
 * its batches as plain objects).
 */
export function assemblePlan(
  index: PlanIndex,
  parts: Array<unknown>,
): {plan?: DayPlan; problems: string[]} {
  const assembly = new PlanAssembly(index);
  for (const k of index.parts.keys()) assembly.add(parts[k]);
  const {plan, problems} = assembly.finish();
  if (!plan) return {problems};
  const batches = plan.batches.map(b => ({
    batchId: b.batchId,
    conversationIds: b.conversationIds,
    ...(b.client !== undefined ? {client: b.client} : {}),
  }));
  return {plan: {...plan, batches}, problems: []};
}

/**
 * A (valid) version-1 plan with {@link NumberedBatch}es, as {@link PlanAssembly}
 * gives a version-2 one: its ids numbered in plan order.
 */
export function numberedPlan(plan: DayPlan): {plan: DayPlan; ids: IdTable} {
  const ids = new IdTable();
  const batches = plan.batches.map(b => {
    const first = ids.size;
    for (const id of b.conversationIds) ids.add(id);
    return new NumberedBatch(b.batchId, ids, first, ids.size - first, b.client);
  });
  return {plan: {...plan, batches}, ids};
}
