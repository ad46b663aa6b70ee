/**
 * The day's decided records: every object the export wrote (each recording
 * and each conversation's metadata document) as a decision of the checker
 * first accepted it — generation, size, MD5, CRC32C, retention — kept by the
 * checker in an object only it may write (`_manifest/decision-records.ndjson`).
 *
 * Reports are the worker's and the worker may rewrite them (a replay merges
 * over them); these records are what `grm verify` holds the bucket against,
 * so a report rewritten later, through any number of rewrites, cannot move
 * the proof:
 * - a recording is written once: its first record is final;
 * - a metadata document changes with its conversation's outcome (a replay
 *   that exports a gap rewrites it): its record follows until a `_SUCCESS`
 *   of its run accepts it, and is then sealed for that run. Only a new run,
 *   which an operator asks for, records a newer copy; the earlier ones stay
 *   listed.
 * A report that says anything else of a recorded object is a conflict: the
 * record stays, the checker logs it, and `grm verify` reports it.
 *
 * Pure: services/decided-records.ts reads and writes the object.
 */
import type {ObjectRetention} from '../ports';
import {ordered} from './canonical';
import {RECORDING_TYPES, RecordingType} from './content-types';
import type {ReportRef} from './day-outcome';

export interface RecordedCopy {
  generation: string;
  size: number;
  md5Hash: string;
  crc32c?: string;
  retention?: ObjectRetention;
}

export interface DecidedRecord extends RecordedCopy {
  object: string;
  what: 'recording' | 'metadata';
  conversationId: string;
  recordingId?: string;
  type?: RecordingType;
  /** The run whose decision first accepted this copy, and when it was decided. */
  runId: string;
  decidedAt: string;
  /** The run of the first `_SUCCESS` that accepted this copy: that run never changes it again. */
  sealedBy?: string;
  /** Earlier copies of a metadata document that decisions accepted, oldest first. */
  earlier?: Array<Pick<DecidedRecord, 'generation' | 'size' | 'md5Hash' | 'runId' | 'decidedAt'>>;
}

/** A report that records an object otherwise than its decided record. */
export interface RecordConflict {
  object: string;
  record: DecidedRecord;
  reported: RecordedCopy;
  /** The report (object#generation) that says it. */
  report: string;
}

export interface Decision {
  runId: string;
  status: 'success' | 'failure';
  decidedAt: string;
}

/** What one report claims was written, with a complete copy (anything less cannot be proven). */
interface Claim extends RecordedCopy {
  object: string;
  what: DecidedRecord['what'];
  conversationId: string;
  recordingId?: string;
  type?: RecordingType;
}

function complete(c: Partial<RecordedCopy> | undefined): c is RecordedCopy {
  return (
    c !== undefined &&
    typeof c.generation === 'string' &&
    typeof c.size === 'number' &&
    typeof c.md5Hash === 'string'
  );
}

function copyOf(c: RecordedCopy): RecordedCopy {
  return {
    generation: c.generation,
    size: c.size,
    md5Hash: c.md5Hash,
    ...(c.crc32c !== undefined ? {crc32c: c.crc32c} : {}),
    ...(c.retention ? {retention: c.retention} : {}),
  };
}

/** Every object the reports say was written, with a copy complete enough to prove (one at a time). */
export function* claimsOf(
  reports: readonly ReportRef[],
): Generator<{claim: Claim; report: string}> {
  for (const ref of reports) {
    const report = `${ref.object}#${ref.generation}`;
    for (const c of ref.report.conversations) {
      if (c.metadataObject && complete(c.metadataStored))
        yield {
          report,
          claim: {
            object: c.metadataObject,
            what: 'metadata',
            conversationId: c.conversationId,
            ...copyOf(c.metadataStored),
          },
        };
      for (const r of c.recordings) {
        if (r.outcome !== 'exported' || !r.object || !complete(r)) continue;
        yield {
          report,
          claim: {
            object: r.object,
            what: 'recording',
            conversationId: c.conversationId,
            recordingId: r.recordingId,
            type: r.type ?? 'call',
            ...copyOf(r),
          },
        };
      }
    }
  }
}

function sameCopy(a: RecordedCopy, b: RecordedCopy): boolean {
  return a.generation === b.generation && a.size === b.size && a.md5Hash === b.md5Hash;
}

/** Where a merge keeps the records: a Map, or a compact table for large days. */
export interface RecordTable {
  get(object: string): DecidedRecord | undefined;
  set(record: DecidedRecord): void;
  /** Whether this decision already claimed the object, and noting that it did. */
  seen(object: string): boolean;
  see(object: string): void;
  /** Every record, in name order. */
  inOrder(): Iterable<DecidedRecord>;
}

/** Records in a Map (and the objects this decision claimed in a Set). */
export class MapRecords implements RecordTable {
  private readonly claimed = new Set<string>();
  constructor(readonly records = new Map<string, DecidedRecord>()) {}
  get(object: string) {
    return this.records.get(object);
  }
  set(record: DecidedRecord) {
    this.records.set(record.object, record);
  }
  seen(object: string) {
    return this.claimed.has(object);
  }
  see(object: string) {
    this.claimed.add(object);
  }
  *inOrder() {
    for (const name of [...this.records.keys()].sort()) yield this.records.get(name)!;
  }
}

/**
 * The records after a decision: the previous ones, plus every object the
 * decision's reports record for the first time, a metadata document's newer
 * copy where its record may still follow it, and seals where a `_SUCCESS`
 * accepts a record of its run.
 */
export function mergeRecords(
  previous: ReadonlyMap<string, DecidedRecord>,
  reports: readonly ReportRef[],
  decision: Decision,
): {records: Map<string, DecidedRecord>; changed: boolean; conflicts: RecordConflict[]} {
  const table = new MapRecords(new Map(previous));
  const merge = new RecordsMerge(table, decision);
  for (const ref of reports) merge.add(ref);
  return {records: table.records, changed: merge.changed, conflicts: merge.conflicts};
}

/** {@link mergeRecords} one report at a time, into a {@link RecordTable}. */
export class RecordsMerge {
  changed = false;
  readonly conflicts: RecordConflict[] = [];

  constructor(
    private readonly records: RecordTable,
    private readonly decision: Decision,
  ) {}

  add(ref: ReportRef): void {
    const {records, decision, conflicts} = this;
    const seal = decision.status === 'success' ? {sealedBy: decision.runId} : {};
    for (const {claim, report} of claimsOf([ref])) {
      const {object} = claim;
      const record = records.get(object);
      if (!record) {
        records.set({...claim, runId: decision.runId, decidedAt: decision.decidedAt, ...seal});
        records.see(object);
        this.changed = true;
        continue;
      }
      if (sameCopy(record, claim)) {
        if (decision.status === 'success' && record.sealedBy === undefined) {
          records.set({...record, sealedBy: decision.runId});
          this.changed = true;
        }
        records.see(object);
        continue;
      }
      // A second claim in this decision (a conversation in two batches): the first stands.
      const follows =
        !records.seen(object) &&
        record.what === 'metadata' &&
        claim.what === 'metadata' &&
        record.sealedBy !== decision.runId;
      if (!follows) {
        conflicts.push({object, record, reported: copyOf(claim), report});
        continue;
      }
      const {
        earlier = [],
        sealedBy: _sealed,
        crc32c: _crc32c,
        retention: _retention,
        generation,
        size,
        md5Hash,
        runId,
        decidedAt,
        ...identity
      } = record;
      records.set({
        ...identity,
        ...copyOf(claim),
        runId: decision.runId,
        decidedAt: decision.decidedAt,
        ...seal,
        earlier: [...earlier, {generation, size, md5Hash, runId, decidedAt}],
      });
      records.see(object);
      this.changed = true;
    }
  }
}

const RECORD_ORDER: readonly (keyof DecidedRecord)[] = [
  'object',
  'what',
  'conversationId',
  'recordingId',
  'type',
  'generation',
  'size',
  'md5Hash',
  'crc32c',
  'retention',
  'runId',
  'decidedAt',
  'sealedBy',
  'earlier',
];

/**
 * The records as newline-delimited JSON, one object per line in name order,
 * in chunks of about `chunkBytes` (a large day is never one string).
 */
export function* recordsNdjson(
  records: ReadonlyMap<string, DecidedRecord> | RecordTable,
  chunkBytes = 1024 * 1024,
): Generator<Buffer> {
  const inOrder =
    records instanceof Map
      ? new MapRecords(records as Map<string, DecidedRecord>).inOrder()
      : (records as RecordTable).inOrder();
  let lines: string[] = [];
  let size = 0;
  for (const record of inOrder) {
    const line = `${JSON.stringify(ordered(record, RECORD_ORDER))}\n`;
    lines.push(line);
    size += line.length;
    if (size >= chunkBytes) {
      yield Buffer.from(lines.join(''));
      lines = [];
      size = 0;
    }
  }
  if (lines.length > 0) yield Buffer.from(lines.join(''));
}

const TYPES = new Set<string>(RECORDING_TYPES);

/** Why a parsed line is not a decided record (undefined: it is one). */
function recordProblem(v: unknown): string | undefined {
  const r = v as Partial<DecidedRecord> | null;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'not an object';
  if (typeof r.object !== 'string' || r.object === '') return 'no object name';
  if (r.what !== 'recording' && r.what !== 'metadata') return 'neither a recording nor metadata';
  if (typeof r.conversationId !== 'string') return 'no conversation id';
  if (r.what === 'recording' && (typeof r.recordingId !== 'string' || !TYPES.has(String(r.type))))
    return 'a recording without its id or type';
  if (typeof r.generation !== 'string' || !/^\d+$/.test(r.generation)) return 'no generation';
  if (!Number.isSafeInteger(r.size) || (r.size as number) < 0) return 'no size';
  if (typeof r.md5Hash !== 'string') return 'no MD5';
  if (typeof r.runId !== 'string' || typeof r.decidedAt !== 'string') return 'no run or time';
  if (r.earlier !== undefined && !Array.isArray(r.earlier)) return 'earlier is not a list';
  return undefined;
}

/**
 * The records of an object's text. Anything that is not exactly what
 * recordsNdjson writes is refused with the line that is not: a record that
 * cannot be read is never guessed at.
 */
export function parseRecords(text: string): Map<string, DecidedRecord> {
  const table = new MapRecords();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  parseRecordLines(lines, table);
  return table.records;
}

/** {@link parseRecords} line by line, into a table (empty lines are not records). */
export function parseRecordLines(lines: Iterable<string>, table: RecordTable): void {
  let i = 0;
  for (const line of lines) {
    i++;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`line ${i} is not JSON`);
    }
    const problem = recordProblem(value);
    if (problem) throw new Error(`line ${i}: ${problem}`);
    const r = value as DecidedRecord;
    if (table.get(r.object)) throw new Error(`line ${i}: a second record of ${r.object}`);
    table.set(r);
  }
}
