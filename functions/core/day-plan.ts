/**
 * The plan of one run of one day: what the planner discovered and published,
 * and what the checker holds the batch reports against.
 */
import type {PlannedBatch} from './batches';
import {isGenesysId, isToken} from './ids';
import type {Day} from './time-window';

/** Why a plan exists beyond the nightly schedule: check-previous started it. */
export interface AutoRerun {
  /** The run this one replaces. */
  of: string;
  /** The state check-previous found the day in. */
  state: string;
  /** Automatic reruns of this day so far, this one included. */
  count: number;
}

export interface DayPlan {
  kind: 'plan';
  version: 1;
  day: Day;
  runId: string;
  window: {start: string; end: string; timeZone: string};
  createdAt: string;
  trigger: 'schedule' | 'explicit' | 'check-previous';
  discovery: 'jobs' | 'query';
  conversations: number;
  batches: PlannedBatch[];
  /** Present when check-previous planned the day again. */
  autoRerun?: AutoRerun;
}

/**
 * What makes `value` unusable as the plan of `day` (empty when usable): the
 * shape the planner writes, and batches that add up to its conversation
 * count with no conversation twice. A hand-made object gets no verdict.
 */
export function planProblems(value: unknown, day: Day): string[] {
  const p = value as Partial<DayPlan> | null;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return ['not a JSON object'];
  const problems: string[] = [];
  if (p.kind !== 'plan') problems.push('"kind" is not "plan"');
  if (p.day !== day) problems.push(`"day" is not ${day}`);
  if (typeof p.runId !== 'string' || !isToken(p.runId)) problems.push('"runId" is not a run id');
  if (typeof p.createdAt !== 'string' || Number.isNaN(Date.parse(p.createdAt)))
    problems.push('"createdAt" is not a time');
  if (!Array.isArray(p.batches)) return [...problems, '"batches" is not a list'];
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
