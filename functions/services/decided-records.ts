/**
 * Reads and writes the day's decided records (core/decided-records.ts).
 * Every change is a compare-and-swap on the object's generation, and merging
 * only adds, follows or seals, so racing checkers converge on the same
 * records whoever writes last.
 */
import {Readable} from 'node:stream';
import {
  DecidedRecord,
  Decision,
  MapRecords,
  RecordConflict,
  RecordTable,
  RecordsMerge,
  parseRecordLines,
  parseRecords,
  recordsNdjson,
} from '../core/decided-records';
import type {ReportRef} from '../core/day-outcome';
import {PermanentError, RetryableError} from '../core/errors';
import {MAX_RECORDS_BYTES} from '../core/limits';
import type {Logger} from '../logger';
import {ObjectExistsError, ObjectStore} from '../ports';

const ROUNDS = 8;

/** The records and their generation; undefined when the day has none yet. */
export async function readRecords(
  store: ObjectStore,
  name: string,
  generation?: string,
): Promise<{records: Map<string, DecidedRecord>; generation: string} | undefined> {
  const read = await store.readBytes(name, MAX_RECORDS_BYTES, generation);
  if (!read) return undefined;
  try {
    return {records: parseRecords(read.bytes.toString('utf8')), generation: read.generation};
  } catch (err) {
    throw new PermanentError(
      `gs object ${name} is not the checker's records: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * Records what the decision's reports say was written. Records that cannot be
 * read are never replaced (that would launder whatever changed them): the
 * day keeps deciding, and the error is logged for `grm verify` to report.
 * Resolves the conflicts: reports that say otherwise of a recorded object.
 *
 * `reports` gives the decision's reports one at a time (again on every
 * round); `table` holds the records (a compact table for large days).
 */
export async function recordDecision(
  store: ObjectStore,
  logger: Logger,
  name: string,
  reports: () => AsyncIterable<ReportRef>,
  decision: Decision,
  table: () => RecordTable = () => new MapRecords(),
): Promise<RecordConflict[]> {
  for (let round = 0; round < ROUNDS; round++) {
    let records: RecordTable;
    let generation: string | undefined;
    try {
      records = table();
      generation = await readRecordsInto(store, name, records);
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      logger.error('the decided records are unreadable; they are left as they are', {
        object: name,
        reason: err.message,
      });
      return [];
    }
    const merge = new RecordsMerge(records, decision);
    for await (const ref of reports()) merge.add(ref);
    const {changed, conflicts} = merge;
    if (conflicts.length > 0)
      logger.error('reports say otherwise of objects a decision already recorded', {
        object: name,
        runId: decision.runId,
        conflicts: conflicts.length,
        first: conflicts.slice(0, 5).map(c => ({
          object: c.object,
          recorded: c.record.generation,
          reported: c.reported.generation,
          report: c.report,
        })),
      });
    if (!changed) return conflicts;
    try {
      await store.write(name, Readable.from(recordsNdjson(records)), {
        contentType: 'application/x-ndjson',
        ifGenerationMatch: generation ?? 0,
      });
      return conflicts;
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
    }
  }
  throw new RetryableError(`${name} kept changing; retrying later`);
}

/**
 * The records into `table`, a line at a time (the object's text is never one
 * string); resolves their generation, undefined when the day has none yet.
 * @throws PermanentError when they are not the checker's records
 */
async function readRecordsInto(
  store: ObjectStore,
  name: string,
  table: RecordTable,
): Promise<string | undefined> {
  const read = await store.readBytes(name, MAX_RECORDS_BYTES);
  if (!read) return undefined;
  try {
    parseRecordLines(linesOf(read.bytes), table);
  } catch (err) {
    throw new PermanentError(
      `gs object ${name} is not the checker's records: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return read.generation;
}

/** The lines of a UTF-8 text (without a last empty one), each decoded on its own. */
function* linesOf(bytes: Buffer): Generator<string> {
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    yield bytes.toString('utf8', start, end);
    start = end + 1;
  }
}
