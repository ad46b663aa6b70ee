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
  RecordConflict,
  mergeRecords,
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
 */
export async function recordDecision(
  store: ObjectStore,
  logger: Logger,
  name: string,
  reports: readonly ReportRef[],
  decision: Decision,
): Promise<RecordConflict[]> {
  for (let round = 0; round < ROUNDS; round++) {
    let before: Awaited<ReturnType<typeof readRecords>>;
    try {
      before = await readRecords(store, name);
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      logger.error('the decided records are unreadable; they are left as they are', {
        object: name,
        reason: err.message,
      });
      return [];
    }
    const {records, changed, conflicts} = mergeRecords(
      before?.records ?? new Map(),
      reports,
      decision,
    );
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
        ifGenerationMatch: before?.generation ?? 0,
      });
      return conflicts;
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
    }
  }
  throw new RetryableError(`${name} kept changing; retrying later`);
}
