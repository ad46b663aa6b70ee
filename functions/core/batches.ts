/**
 * Splitting a day's conversations into batches with deterministic ids, so
 * re-planning the same day publishes the same batch ids.
 */
import {createHash} from 'node:crypto';
import {ConversationIdList} from './conversation-ids';
import type {BatchMessage} from './messages';
import {Day, daysBetween} from './time-window';

export interface PlannedBatch {
  batchId: string;
  conversationIds: string[];
  /** The OAuth client the planner assigned (see plannedClient). */
  client?: number;
}

/** Sorted, de-duplicated ids cut into batches of at most `size`. */
export function planBatches(
  day: Day,
  conversationIds: Iterable<string>,
  size: number,
): PlannedBatch[] {
  return [...cutBatches(day, ConversationIdList.from(conversationIds), size)];
}

/**
 * The batches of a sealed id list, one at a time, in order: ids `i·size` to
 * `(i+1)·size − 1` make batch `i`, whose id is its index and a digest of the
 * day and its ids, so re-planning the same day gives the same batch ids.
 * With `clientCount`, each batch names its OAuth client (plannedClient).
 */
export function* cutBatches(
  day: Day,
  ids: ConversationIdList,
  size: number,
  clientCount?: number,
): Generator<PlannedBatch> {
  for (let start = 0, index = 0; start < ids.size; start += size, index++) {
    const chunk = ids.slice(start, start + size);
    const hash = createHash('sha256').update(`${day}\n`);
    for (const [k, id] of chunk.entries()) hash.update(k === 0 ? id : `\n${id}`);
    yield {
      batchId: `b${String(index).padStart(4, '0')}-${hash.digest('hex').slice(0, 12)}`,
      ...(clientCount !== undefined ? {client: plannedClient(day, index, clientCount)} : {}),
      conversationIds: chunk,
    };
  }
}

/**
 * The OAuth client of a day's batch `index`: round-robin, so a day's batches
 * spread evenly over the clients (their counts differ by one at most), from a
 * starting client that moves one on each calendar day, so a backfill of
 * small days does not put every day's first batch on client 0. A function of
 * the day and the batch's index only: a rerun that finds the same
 * conversations puts every batch on the same client again.
 */
export function plannedClient(day: Day, index: number, clientCount: number): number {
  const n = Math.max(1, Math.floor(clientCount));
  const offset = ((daysBetween('1970-01-01', day) % n) + n) % n;
  return (offset + index) % n;
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
