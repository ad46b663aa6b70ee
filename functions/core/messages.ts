/**
 * The batch message: what the planner publishes and what an operator types
 * into `gcloud pubsub topics publish`. Strictly validated before use, and
 * refused whole, once its conversations' analytics records are read, if any
 * of them started on another day.
 *
 *   {"day":"2023-02-01","conversationIds":["…"],"runId":"…","batchId":"…","client":0}
 */
import {InputError} from './errors';
import {isGenesysId, isToken} from './ids';
import {isValidDay, windowOf} from './time-window';

export interface BatchMessage {
  day: string;
  conversationIds: string[];
  /** Present when the batch belongs to a planned run (replays keep it). */
  runId?: string;
  batchId?: string;
  /**
   * The OAuth client (index into the configured clients, taken modulo their
   * number) the planner assigned, round-robin, so a day's batches spread
   * evenly; replays keep it. Without it the worker derives one from the batch id.
   */
  client?: number;
  /**
   * `migration`: the batch is a history migration's; the worker paces its
   * Genesys calls to the migration's share of its budget (MIGRATION_SHARE).
   */
  lane?: 'migration';
}

/** Largest `client` index a message may name. */
export const MAX_CLIENT_INDEX = 999;

/** Most conversations one message may carry. */
export const MAX_CONVERSATIONS_PER_MESSAGE = 1000;

const FIELDS = new Set(['day', 'conversationIds', 'runId', 'batchId', 'client', 'lane']);

/** Parses and validates a decoded message body; throws InputError naming every problem. */
export function parseBatchMessage(value: unknown): BatchMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(
      'the batch message must be a JSON object {"day":"YYYY-MM-DD","conversationIds":[…]}',
    );
  }
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(v)) {
    if (!FIELDS.has(key)) problems.push(`unknown field "${key.slice(0, 40)}"`);
  }
  if (typeof v.day !== 'string' || !isValidDay(v.day))
    problems.push('"day" must be a calendar date YYYY-MM-DD');
  const ids = v.conversationIds;
  if (!Array.isArray(ids) || ids.length === 0) {
    problems.push('"conversationIds" must be a non-empty array');
  } else {
    if (ids.length > MAX_CONVERSATIONS_PER_MESSAGE) {
      problems.push(
        `"conversationIds" may hold at most ${MAX_CONVERSATIONS_PER_MESSAGE} ids, got ${ids.length}`,
      );
    }
    const bad = ids.findIndex(id => !isGenesysId(id));
    if (bad >= 0)
      problems.push(`conversationIds[${bad}] is not a Genesys conversation id (lower-case UUID)`);
    if (new Set(ids).size !== ids.length) problems.push('"conversationIds" holds duplicates');
  }
  if (v.runId !== undefined && !isToken(v.runId))
    problems.push('"runId" must be 1-64 letters, digits, "-" or "_"');
  if (v.batchId !== undefined && !isToken(v.batchId))
    problems.push('"batchId" must be 1-64 letters, digits, "-" or "_"');
  if (
    v.client !== undefined &&
    !(
      Number.isSafeInteger(v.client) &&
      (v.client as number) >= 0 &&
      (v.client as number) <= MAX_CLIENT_INDEX
    )
  )
    problems.push(`"client" must be an integer from 0 to ${MAX_CLIENT_INDEX}`);
  if (v.lane !== undefined && v.lane !== 'migration')
    problems.push('"lane" must be "migration" when present');
  if ((v.runId === undefined) !== (v.batchId === undefined))
    problems.push('"runId" and "batchId" go together');
  if (problems.length > 0) throw new InputError(`invalid batch message: ${problems.join('; ')}`);
  return {
    day: v.day as string,
    conversationIds: ids as string[],
    ...(v.runId !== undefined ? {runId: v.runId as string, batchId: v.batchId as string} : {}),
    ...(v.client !== undefined ? {client: v.client as number} : {}),
    ...(v.lane === 'migration' ? {lane: 'migration' as const} : {}),
  };
}

/**
 * A batch is exported under its message's day only if every conversation
 * Genesys knows started inside that day's window (in `timeZone`): anything
 * else would file recordings under the wrong day. Refused whole, before
 * anything is written. `details`: the analytics records, by conversation id.
 */
export function refuseOtherDays(
  message: BatchMessage,
  details: Map<string, Record<string, unknown>>,
  timeZone: string,
): void {
  const {startMs, endMs} = windowOf(message.day, timeZone);
  const outside: string[] = [];
  for (const id of message.conversationIds) {
    const start = details.get(id)?.conversationStart;
    if (typeof start !== 'string') continue;
    const ms = Date.parse(start);
    if (!(ms >= startMs && ms < endMs)) outside.push(`${id} started ${start}`);
  }
  if (outside.length > 0) {
    throw new InputError(
      `${outside.length} conversation(s) did not start on ${message.day} ` +
        `(${timeZone}): ${outside.slice(0, 5).join(', ')}` +
        `${outside.length > 5 ? ', …' : ''}; publish them with their own day`,
    );
  }
}

/** Decodes the base64 `data` of a Pub/Sub message into JSON. */
export function decodeMessageData(data: unknown): unknown {
  if (typeof data !== 'string' || data === '')
    throw new InputError('the Pub/Sub message has no data');
  const text = Buffer.from(data, 'base64').toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError('the Pub/Sub message data is not JSON');
  }
}
