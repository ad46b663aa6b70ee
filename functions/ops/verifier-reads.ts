/**
 * What `grm verify` reads of a decided day's bookkeeping: its markers, the
 * batch reports a marker pins (by the generation it recorded, and the live
 * one when it was rewritten), the decided records and the recordings index.
 * Whatever cannot be read or understood becomes a finding of the day; only
 * an error that is not the object's own (the bucket unreachable) is thrown.
 */
import type {DecidedRecord} from '../core/decided-records';
import {PermanentError} from '../core/errors';
import {MAX_INDEX_BYTES, MAX_MARKER_BYTES, MAX_REPORT_BYTES} from '../core/limits';
import {decisionRecordsObjectName, indexObjectName} from '../core/object-names';
import type {DayMarker} from '../core/day-status';
import type {IndexRow} from '../core/recordings-index';
import type {BatchReport} from '../core/report';
import type {Finding} from '../core/verify';
import {indexAgainstRecords, sameRecord} from '../core/verify-bookkeeping';
import type {ObjectStore} from '../ports';
import {readRecords} from '../services/decided-records';
import {mapLimit} from '../services/objects';

/** Requests in flight against the bucket. */
export const CONCURRENCY = 8;

/** What verify reads of the checker's ledger. */
export interface LedgerView {
  runId?: string;
  fingerprint?: string;
  recordsKept?: boolean;
  index?: {generation?: string};
}

/** A batch report at one generation. */
export interface ReadReport {
  object: string;
  generation: string;
  report: BatchReport;
}

export class BookkeepingReader {
  constructor(private readonly deps: {env: string; store: ObjectStore}) {}

  /** A marker the checker wrote; undefined (after a finding, if it exists) otherwise. */
  async marker(
    name: string,
    findings: Finding[],
  ): Promise<{value: DayMarker; generation: string} | undefined> {
    try {
      const read = await this.deps.store.readJson<DayMarker>(name, MAX_MARKER_BYTES);
      if (read && read.value?.kind !== 'day-marker') {
        findings.push({
          kind: 'altered',
          object: name,
          detail: 'not a day outcome the checker wrote',
        });
        return undefined;
      }
      return read;
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      findings.push({kind: 'altered', object: name, detail: `unreadable: ${err.message}`});
      return undefined;
    }
  }

  /**
   * The reports a marker pins, each at the generation it recorded (those
   * unreadable left out, after a finding), and the live generations that
   * were rewritten to record something else.
   */
  async pinnedReports(
    refs: ReadonlyArray<{object: string; generation: string}>,
    findings: Finding[],
  ): Promise<{reports: ReadReport[]; live: ReadReport[]}> {
    const live: ReadReport[] = [];
    const reports = (
      await mapLimit(refs, CONCURRENCY, ref =>
        this.pinnedReport(ref.object, ref.generation, findings, live),
      )
    ).filter((r): r is ReadReport => r !== undefined);
    return {reports, live};
  }

  /**
   * The report as the marker recorded it (its generation), and whether the
   * live one still records the same export. A report rewritten without
   * changing what it records (a redelivery, a replay that changed nothing) is
   * no finding; one that records something else is, and its recorded
   * generation, which versioning keeps, still says what was exported.
   */
  private async pinnedReport(
    object: string,
    generation: string,
    findings: Finding[],
    liveReports: ReadReport[],
  ): Promise<ReadReport | undefined> {
    const {store} = this.deps;
    const read = (g?: string) =>
      store.readJson<BatchReport>(object, MAX_REPORT_BYTES, g).catch((err: unknown) => {
        if (err instanceof PermanentError) return undefined;
        throw err;
      });
    const isReport = (r: {value: BatchReport} | undefined): r is {value: BatchReport} =>
      r?.value?.kind === 'batch-report' && Array.isArray(r.value.conversations);
    // The live report is read only when it is no longer the generation the marker pinned.
    const [recorded, live] = await Promise.all([read(generation), store.stat(object)]);
    if (!live) {
      findings.push({
        kind: 'missing',
        object,
        detail: `the marker references it (generation ${generation}); it is gone`,
      });
    } else if (live.generation !== generation) {
      const current = await read(live.generation);
      const same =
        isReport(recorded) && isReport(current) && sameRecord(recorded.value, current.value);
      if (!same) {
        findings.push({
          kind: 'altered',
          object,
          detail: `replaced with a different record: the marker references generation ${generation}, the bucket holds ${live.generation}`,
        });
        // What the live one says is held against the records too.
        if (isReport(current))
          liveReports.push({object, generation: live.generation, report: current.value});
      }
    }
    if (!isReport(recorded)) {
      findings.push({
        kind: 'unverifiable',
        object,
        detail: `generation ${generation} is not readable as a report: the objects it recorded cannot be checked`,
      });
      return undefined;
    }
    return {object, generation, report: recorded.value};
  }

  /**
   * The day's decided records; undefined for a day decided before the
   * checker kept them (its ledger says whether it did: then their absence,
   * or a records object that cannot be read, is a finding).
   */
  async records(
    day: string,
    ledger: LedgerView | undefined,
    findings: Finding[],
  ): Promise<Map<string, DecidedRecord> | undefined> {
    const name = decisionRecordsObjectName(this.deps.env, day);
    try {
      const read = await readRecords(this.deps.store, name);
      if (!read && ledger?.recordsKept === true)
        findings.push({
          kind: 'missing',
          object: name,
          detail: "the checker's ledger says the day keeps decided records; they are gone",
        });
      return read?.records;
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      findings.push({kind: 'altered', object: name, detail: `unreadable: ${err.message}`});
      return undefined;
    }
  }

  /** The recordings index: the generation the checker wrote, saying what the records say. */
  async checkIndex(
    day: string,
    records: ReadonlyMap<string, DecidedRecord>,
    ledger: LedgerView | undefined,
  ): Promise<Finding[]> {
    const name = indexObjectName(this.deps.env, day);
    const out: Finding[] = [];
    let read: {bytes: Buffer; generation: string} | undefined;
    try {
      read = await this.deps.store.readBytes(name, MAX_INDEX_BYTES);
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      return [{kind: 'unverifiable', object: name, detail: `unreadable: ${err.message}`}];
    }
    if (!read) return [{kind: 'missing', object: name, detail: 'the day has no recordings index'}];
    const written = ledger?.index?.generation;
    if (written !== undefined && written !== read.generation)
      out.push({
        kind: 'altered',
        object: name,
        detail: `generation ${read.generation} is not the one the checker wrote (${written}); the checker writes it again at its next event of the day`,
      });
    const rows: IndexRow[] = [];
    const lines = read.bytes.toString('utf8').split('\n');
    for (const [i, line] of lines.entries()) {
      if (line.trim() === '') continue;
      try {
        rows.push(JSON.parse(line) as IndexRow);
      } catch {
        out.push({kind: 'altered', object: name, detail: `line ${i + 1} is not JSON`});
      }
    }
    return [...out, ...indexAgainstRecords(name, rows, records)];
  }
}
