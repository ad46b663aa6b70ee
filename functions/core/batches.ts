/**
 * Splitting a day's conversations into batches with deterministic ids, so
 * re-planning the same day publishes the same batch ids.
 */
import {createHash} from 'node:crypto';
import type {BatchMessage} from './messages';
import type {Day} from './time-window';

export interface PlannedBatch {
  batchId: string;
  conversationIds: string[];
}

/** Sorted, de-duplicated ids cut into batches of at most `size`. */
export function planBatches(
  day: Day,
  conversationIds: Iterable<string>,
  size: number,
): PlannedBatch[] {
  const ids = [...new Set(conversationIds)].sort();
  const out: PlannedBatch[] = [];
  for (let i = 0; i < ids.length; i += size) {
    const chunk = ids.slice(i, i + size);
    const hash = createHash('sha256')
      .update(`${day}\n${chunk.join('\n')}`)
      .digest('hex')
      .slice(0, 12);
    out.push({batchId: `b${String(out.length).padStart(4, '0')}-${hash}`, conversationIds: chunk});
  }
  return out;
}

/** A batch id for an ad-hoc replay (no run): derived from its content. */
export function adhocBatchId(day: Day, conversationIds: string[]): string {
  const hash = createHash('sha256')
    .update(`${day}\n${[...conversationIds].sort().join('\n')}`)
    .digest('hex')
    .slice(0, 16);
  return `adhoc-${hash}`;
}

/**
 * The OAuth client a batch runs on: the one its message names (the planner
 * assigns them round-robin, replays keep theirs), taken modulo the clients
 * configured now; else one derived from the batch id, so an ad-hoc message
 * redelivered stays on one client.
 */
export function clientFor(message: BatchMessage, batchId: string, clientCount: number): number {
  const n = Math.max(1, clientCount);
  if (message.client !== undefined) return message.client % n;
  return createHash('sha256').update(batchId).digest().readUInt32BE(0) % n;
}
