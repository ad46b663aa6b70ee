/**
 * `grm verify`'s I/O: reads a decided day's marker, the batch reports it
 * references (by the generation it recorded), lists every generation in the
 * day's export folders and, with `deep`, reads every object back.
 * core/verify.ts judges. Nothing here stops at a bad object: whatever cannot
 * be read or understood becomes a finding of its day.
 */
import {PermanentError} from '../core/errors';
import type {DecidedRecord} from '../core/decided-records';
import {MAX_INDEX_BYTES, MAX_MARKER_BYTES, MAX_REPORT_BYTES} from '../core/limits';
import {
  decisionObjectName,
  decisionRecordsObjectName,
  indexObjectName,
  markerObjectName,
  planObjectName,
} from '../core/object-names';
import type {DayMarker} from '../core/operations';
import {BatchReport, countRecording, emptyTotals} from '../core/report';
import {
  DayVerification,
  Finding,
  ReadBack,
  Expected,
  checkObject,
  expectedFromRecords,
  expectedObjects,
  exportFolders,
  extraObjects,
  hiddenGenerations,
  indexAgainstRecords,
  redecidedAfterSuccess,
  reportsAgainstRecords,
  retentionSummary,
  sameRecord,
  unretained,
} from '../core/verify';
import type {IndexRow} from '../core/recordings-index';
import type {ObjectStore, StoredObject} from '../ports';
import {readRecords} from '../services/decided-records';
import {mapLimit} from '../services/objects';

export interface VerifierDeps {
  env: string;
  store: ObjectStore;
  now: () => number;
  /** Size and checksums of an object's bytes, read again (`--deep`). */
  readBack: (name: string) => Promise<ReadBack>;
}

export interface VerifyOptions {
  /** Read every object back and hash it. */
  deep?: boolean;
  /** Every recording and metadata document must have been written with a retention. */
  requireRetention?: boolean;
}

/** Requests in flight against the bucket. */
const CONCURRENCY = 8;

type ReportRef = {batchId?: unknown; object?: unknown; generation?: unknown};
/** What verify reads of the checker's ledger. */
interface LedgerView {
  runId?: string;
  fingerprint?: string;
  recordsKept?: boolean;
  index?: {generation?: string};
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Verifier {
  constructor(private readonly deps: VerifierDeps) {}

  /**
   * The day's verification. An error that stops it (the bucket unreachable,
   * an object it cannot read) is itself a finding of the day, so a range
   * always reports every day.
   */
  async verifyDay(day: string, opts: VerifyOptions = {}): Promise<DayVerification> {
    const findings: Finding[] = [];
    try {
      return await this.verify(day, opts, findings);
    } catch (err) {
      findings.push({
        kind: 'unverifiable',
        object: `${this.deps.env}/${day}/`,
        detail: `verification stopped: ${messageOf(err)}`,
      });
      return {
        day,
        deep: opts.deep === true,
        reports: 0,
        objects: 0,
        bytes: 0,
        findings,
        intact: false,
      };
    }
  }

  private async verify(
    day: string,
    opts: VerifyOptions,
    findings: Finding[],
  ): Promise<DayVerification> {
    const {env, store} = this.deps;
    const deep = opts.deep === true;
    const result = (rest: Partial<DayVerification>): DayVerification => ({
      day,
      deep,
      reports: 0,
      objects: 0,
      bytes: 0,
      ...rest,
      findings,
      intact: findings.length === 0,
    });
    const successName = markerObjectName(env, day, '_SUCCESS');
    const failureName = markerObjectName(env, day, '_FAILURE');
    const ledgerName = decisionObjectName(env, day);
    const [success, failure, plan, ledger] = await Promise.all([
      this.readMarker(successName, findings),
      this.readMarker(failureName, findings),
      store
        .readJson<{runId?: string; createdAt?: string}>(planObjectName(env, day))
        .catch(() => undefined),
      store.readJson<LedgerView>(ledgerName).catch((err: unknown) => {
        if (!(err instanceof PermanentError)) throw err;
        findings.push({kind: 'altered', object: ledgerName, detail: `unreadable: ${err.message}`});
        return undefined;
      }),
    ]);
    const picked = success ?? failure;
    if (!picked) {
      findings.push({
        kind: 'missing',
        object: successName,
        detail: 'the day has no marker: it was never decided, so there is nothing to verify',
      });
      return result({});
    }
    const marker = picked.value;
    const markerName = success ? successName : failureName;
    if (success && failure)
      findings.push({
        kind: 'extra',
        object: failureName,
        detail: 'both markers exist; only _SUCCESS was verified',
      });
    if (
      !ledger ||
      ledger.value.fingerprint !== marker.fingerprint ||
      ledger.value.runId !== marker.runId
    )
      findings.push({
        kind: 'altered',
        object: markerName,
        detail: `not the checker's decision: its run and fingerprint are not those of ${ledgerName}`,
      });
    if (!success)
      findings.push({
        kind: 'missing',
        object: successName,
        detail: `the day is _FAILURE (${marker.gaps?.length ?? 0} gaps): only what it records as exported was verified`,
      });
    if (plan?.value.runId && plan.value.runId !== marker.runId)
      findings.push({
        kind: 'unverifiable',
        object: planObjectName(env, day),
        detail: `run ${plan.value.runId} (planned ${plan.value.createdAt ?? '?'}) is not decided yet: its writes may show as findings until it is; verify again then`,
      });
    const redecided = redecidedAfterSuccess(marker);
    if (redecided) findings.push({kind: 'altered', object: markerName, detail: redecided});

    const refs: ReportRef[] = Array.isArray(marker.reports) ? marker.reports : [];
    const valid = refs.filter(
      (r): r is {object: string; generation: string} =>
        typeof r.object === 'string' &&
        r.object.startsWith(`${env}/${day}/_manifest/`) &&
        typeof r.generation === 'string' &&
        /^\d+$/.test(r.generation),
    );
    if (valid.length < refs.length || refs.length !== marker.batches)
      findings.push({
        kind: 'altered',
        object: markerName,
        detail: `it names ${refs.length} reports (${refs.length - valid.length} malformed) for ${String(marker.batches)} planned batches`,
      });
    const liveReports: Array<{object: string; generation: string; report: BatchReport}> = [];
    const reports = (
      await mapLimit(valid, CONCURRENCY, ref =>
        this.readReport(ref.object, ref.generation, findings, liveReports),
      )
    ).filter(
      (r): r is {object: string; generation: string; report: BatchReport} => r !== undefined,
    );

    const records = await this.readRecords(day, ledger?.value, findings);
    let expected: Map<string, Expected>;
    if (records) {
      expected = expectedFromRecords(records);
      findings.push(...reportsAgainstRecords([...reports, ...liveReports], records));
      findings.push(...(await this.checkIndex(day, records, ledger?.value)));
    } else {
      const fromReports = expectedObjects(reports);
      expected = fromReports.expected;
      findings.push(...fromReports.findings);
    }
    findings.push(...this.totals(markerName, marker, reports));
    if (opts.requireRetention) findings.push(...unretained(expected));

    const folders = exportFolders(env, day);
    const versions = (
      await mapLimit(folders, CONCURRENCY, folder => store.list(folder, {versions: true}))
    ).flat();
    const listed = versions.filter(o => o.timeDeleted === undefined);
    const byName = new Map(listed.map(o => [o.name, o]));
    const noncurrent = new Map<string, StoredObject[]>();
    for (const o of versions)
      if (o.timeDeleted !== undefined)
        noncurrent.set(o.name, [...(noncurrent.get(o.name) ?? []), o]);
    const now = this.deps.now();
    let bytes = 0;
    const perObject = await mapLimit([...expected.values()], CONCURRENCY, async e => {
      // A report naming an object outside the export folders is still checked, on its own.
      const stored =
        byName.get(e.object) ??
        (folders.some(f => e.object.startsWith(f)) ? undefined : await store.stat(e.object));
      bytes += e.copy?.size ?? 0;
      let readBack: ReadBack | undefined;
      if (deep && stored && stored.generation === e.copy?.generation) {
        try {
          readBack = await this.deps.readBack(e.object);
        } catch (err) {
          return [
            ...checkObject(e, stored, now, undefined, noncurrent.get(e.object)),
            {
              kind: 'unverifiable' as const,
              object: e.object,
              detail: `could not read its bytes back: ${messageOf(err)}`,
            },
          ];
        }
      }
      return checkObject(e, stored, now, readBack, noncurrent.get(e.object));
    });
    findings.push(
      ...perObject.flat(),
      ...extraObjects(listed, expected),
      ...hiddenGenerations(
        versions.filter(o => o.timeDeleted !== undefined),
        expected,
      ),
    );
    return result({
      marker: success ? '_SUCCESS' : '_FAILURE',
      runId: marker.runId,
      reports: reports.length,
      objects: expected.size,
      bytes,
      retention: retentionSummary(expected),
      proof: records ? 'decided records' : 'reports',
    });
  }

  /**
   * The day's decided records; undefined for a day decided before the
   * checker kept them (its ledger says whether it did: then their absence,
   * or a records object that cannot be read, is a finding).
   */
  private async readRecords(
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
  private async checkIndex(
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

  private async readMarker(
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
   * The report as the marker recorded it (its generation), and whether the
   * live one still records the same export. A report rewritten without
   * changing what it records (a redelivery, a replay that changed nothing) is
   * no finding; one that records something else is, and its recorded
   * generation, which versioning keeps, still says what was exported.
   */
  private async readReport(
    object: string,
    generation: string,
    findings: Finding[],
    liveReports: Array<{object: string; generation: string; report: BatchReport}>,
  ): Promise<{object: string; generation: string; report: BatchReport} | undefined> {
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

  /** The marker's exported totals against what its reports record. */
  private totals(
    markerName: string,
    marker: DayMarker,
    reports: Array<{report: BatchReport}>,
  ): Finding[] {
    // Counted as the checker counts (core/report.ts), each conversation once.
    const all = emptyTotals();
    const seen = new Set<string>();
    for (const {report} of reports)
      for (const c of report.conversations) {
        if (seen.has(c.conversationId)) continue;
        seen.add(c.conversationId);
        for (const r of c.recordings) countRecording(all, r);
      }
    const {exported, bytes} = all;
    const said = marker.totals?.all;
    if (!said || (said.exported === exported && said.bytes === bytes)) return [];
    return [
      {
        kind: 'altered',
        object: markerName,
        detail: `it says ${said.exported} recordings (${said.bytes} bytes) were exported; its reports record ${exported} (${bytes} bytes)`,
      },
    ];
  }
}
