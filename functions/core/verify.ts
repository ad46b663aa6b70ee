/**
 * `grm verify`: what a decided day's reports say was exported, held against
 * what the bucket holds now. Pure: ops/verifier.ts reads the objects, this
 * judges them.
 *
 * The expected set is the day's decided records (core/decided-records.ts):
 * each exported recording and each conversation's metadata document as a
 * decision of the checker first accepted it (size, MD5, CRC32C, generation,
 * retention). Reports the worker rewrote later cannot move it: a report that
 * records an object otherwise is itself a finding. Days decided before the
 * checker kept records are verified against the reports their marker pins.
 * The bucket must hold each expected object, unchanged, and nothing else in
 * the day's media and metadata folders; no generation written after an
 * object was recorded may have come and gone; the recordings index must say
 * what the records say.
 */
import {VERIFIED_KEY} from '../ports';
import type {ObjectRetention, StoredObject} from '../ports';
import {sameJson} from './canonical';
import {recordingFolders} from './claims';
import {DecidedRecord, claimsOf} from './decided-records';
import type {ReportRef} from './day-outcome';
import type {IndexRow} from './recordings-index';
import type {RecordingType} from './content-types';
import {metadataFolder} from './object-names';
import type {BatchReport, StoredCopy} from './report';
import {retentionProblem} from './retention';
import type {Day} from './time-window';

export type FindingKind = 'missing' | 'altered' | 'extra' | 'unverifiable' | 'unretained';

export interface Finding {
  kind: FindingKind;
  /** The object (a recording, a metadata document, a report or a marker). */
  object: string;
  detail: string;
  conversationId?: string;
  recordingId?: string;
}

/** An object a report says the export wrote, with what it recorded about it. */
export interface Expected {
  object: string;
  what: 'recording' | 'metadata';
  conversationId: string;
  recordingId?: string;
  type?: RecordingType;
  /** Absent when the report predates recording it: the object is then unverifiable. */
  copy?: Partial<StoredCopy>;
  /** Its decided record, when the day keeps them. */
  record?: DecidedRecord;
}

/** The objects the day's decided records hold, as verify expects them. */
export function expectedFromRecords(
  records: ReadonlyMap<string, DecidedRecord>,
): Map<string, Expected> {
  const expected = new Map<string, Expected>();
  for (const r of records.values())
    expected.set(r.object, {
      object: r.object,
      what: r.what,
      conversationId: r.conversationId,
      ...(r.recordingId ? {recordingId: r.recordingId} : {}),
      ...(r.type ? {type: r.type} : {}),
      copy: {
        generation: r.generation,
        size: r.size,
        md5Hash: r.md5Hash,
        ...(r.crc32c !== undefined ? {crc32c: r.crc32c} : {}),
        ...(r.retention ? {retention: r.retention} : {}),
      },
      record: r,
    });
  return expected;
}

function recordedAs(r: DecidedRecord): string {
  return `generation ${r.generation} (${r.size} bytes, MD5 ${r.md5Hash}), first recorded by run ${r.runId}'s decision of ${r.decidedAt}`;
}

/**
 * What the reports the marker pins say of recorded objects, against the
 * records: a report that records an object otherwise, or one the records do
 * not hold, was rewritten after a decision accepted it.
 */
export function reportsAgainstRecords(
  reports: readonly ReportRef[],
  records: ReadonlyMap<string, DecidedRecord>,
): Finding[] {
  const out: Finding[] = [];
  for (const {claim, report} of claimsOf(reports)) {
    const r = records.get(claim.object);
    const at = {
      object: claim.object,
      conversationId: claim.conversationId,
      ...(claim.recordingId ? {recordingId: claim.recordingId} : {}),
    };
    if (!r)
      out.push({
        kind: 'altered',
        ...at,
        detail: `report ${report} records generation ${claim.generation}; no decision of the day recorded this object`,
      });
    else if (
      r.generation !== claim.generation ||
      r.md5Hash !== claim.md5Hash ||
      r.size !== claim.size
    )
      out.push({
        kind: 'altered',
        ...at,
        detail: `report ${report} records generation ${claim.generation} (${claim.size} bytes, MD5 ${claim.md5Hash}); the day's record is ${recordedAs(r)}`,
      });
  }
  return out;
}

/** Checksums of bytes read back (`--deep`). */
export interface ReadBack {
  size: number;
  md5Hash: string;
  /** Absent where native CRC32C does not load (MD5 and size still compared). */
  crc32c?: string;
}

/**
 * Every object the reports say was written. A recording or document claimed
 * by two reports (a conversation in two batches by hand) is expected once;
 * if they disagree on its content, the later claim is reported.
 */
export function expectedObjects(reports: Array<{object: string; report: BatchReport}>): {
  expected: Map<string, Expected>;
  findings: Finding[];
} {
  const expected = new Map<string, Expected>();
  const findings: Finding[] = [];
  const add = (e: Expected, report: string) => {
    const before = expected.get(e.object);
    if (!before) {
      expected.set(e.object, e);
      return;
    }
    const a = before.copy;
    const b = e.copy;
    if (a && b && (a.md5Hash !== b.md5Hash || a.size !== b.size || a.generation !== b.generation))
      findings.push({
        kind: 'altered',
        object: e.object,
        detail: `${report} records it differently from an earlier report of the day`,
        conversationId: e.conversationId,
        ...(e.recordingId ? {recordingId: e.recordingId} : {}),
      });
  };
  for (const {object, report} of reports) {
    for (const c of report.conversations) {
      if (c.metadataObject) {
        add(
          {
            object: c.metadataObject,
            what: 'metadata',
            conversationId: c.conversationId,
            ...(c.metadataStored ? {copy: c.metadataStored} : {}),
          },
          object,
        );
      }
      for (const r of c.recordings) {
        if (r.outcome !== 'exported' || !r.object) continue;
        const copy: Partial<StoredCopy> = {
          ...(r.generation !== undefined ? {generation: r.generation} : {}),
          ...(r.size !== undefined ? {size: r.size} : {}),
          ...(r.md5Hash !== undefined ? {md5Hash: r.md5Hash} : {}),
          ...(r.crc32c !== undefined ? {crc32c: r.crc32c} : {}),
          ...(r.retention ? {retention: r.retention} : {}),
        };
        add(
          {
            object: r.object,
            what: 'recording',
            conversationId: c.conversationId,
            recordingId: r.recordingId,
            type: r.type ?? 'call',
            copy,
          },
          object,
        );
      }
    }
  }
  return {expected, findings};
}

function finding(e: Expected, kind: FindingKind, detail: string): Finding {
  return {
    kind,
    object: e.object,
    detail,
    conversationId: e.conversationId,
    ...(e.recordingId ? {recordingId: e.recordingId} : {}),
  };
}

/**
 * One expected object against the bucket's own record of it (and, with
 * `readBack`, against checksums of its bytes read again). Every difference
 * is a finding; an object whose export recorded too little to compare is
 * unverifiable.
 */
export function checkObject(
  e: Expected,
  stored: StoredObject | undefined,
  nowMs: number,
  readBack?: ReadBack,
  /** The object's noncurrent generations (versioning keeps them). */
  noncurrent: readonly StoredObject[] = [],
): Finding[] {
  const said = e.record ? 'a decision recorded it' : 'the report says it was written';
  if (!stored)
    return [finding(e, 'missing', `${said}; it is not in the bucket${survives(e, noncurrent)}`)];
  const copy = e.copy;
  const out: Finding[] = [];
  if (!copy || copy.size === undefined || copy.md5Hash === undefined) {
    out.push(finding(e, 'unverifiable', 'its report recorded no size and checksum to compare'));
  } else {
    const diffs: string[] = [];
    if (stored.size !== copy.size) diffs.push(`size ${copy.size} recorded, ${stored.size} now`);
    if (stored.md5Hash !== copy.md5Hash)
      diffs.push(`MD5 ${copy.md5Hash} recorded, ${stored.md5Hash} now`);
    if (copy.crc32c !== undefined && stored.crc32c !== copy.crc32c)
      diffs.push(`CRC32C ${copy.crc32c} recorded, ${stored.crc32c} now`);
    if (diffs.length > 0) out.push(finding(e, 'altered', `content changed: ${diffs.join('; ')}`));
    if (readBack) {
      const read: string[] = [];
      if (readBack.size !== copy.size)
        read.push(`${readBack.size} bytes read, ${copy.size} recorded`);
      if (readBack.md5Hash !== copy.md5Hash)
        read.push(`MD5 of the bytes ${readBack.md5Hash}, ${copy.md5Hash} recorded`);
      if (
        readBack.crc32c !== undefined &&
        copy.crc32c !== undefined &&
        readBack.crc32c !== copy.crc32c
      )
        read.push(`CRC32C of the bytes ${readBack.crc32c}, ${copy.crc32c} recorded`);
      if (read.length > 0)
        out.push(finding(e, 'altered', `bytes read back differ: ${read.join('; ')}`));
    }
  }
  if (copy?.generation === undefined) {
    out.push(
      finding(
        e,
        'unverifiable',
        'its report recorded no generation: a replacement with the same bytes would go unseen',
      ),
    );
  } else if (stored.generation !== copy.generation) {
    out.push(
      finding(
        e,
        'altered',
        `replaced: generation ${copy.generation} recorded, ${stored.generation} now` +
          survives(e, noncurrent),
      ),
    );
  }
  const retained: ObjectRetention | undefined = copy?.retention;
  if (retained) {
    const problem = retentionProblem(retained, stored.retention, nowMs);
    if (problem) out.push(finding(e, 'altered', problem));
  }
  return out;
}

/** Whether the recorded generation is still held, noncurrent, and where to read it. */
function survives(e: Expected, noncurrent: readonly StoredObject[]): string {
  const g = e.copy?.generation;
  if (g === undefined) return '';
  const kept = noncurrent.find(o => o.generation === g);
  if (!kept) return `; the recorded generation ${g} is gone`;
  const same = kept.md5Hash === e.copy?.md5Hash && kept.size === e.copy?.size;
  return (
    `; the recorded generation ${g} is still held as noncurrent` +
    (same ? ', unchanged' : ', but its bytes differ from the record') +
    ` (gs object ${e.object}#${g})`
  );
}

/** Generations compared as numbers (GCS generations are decimal and grow with every write). */
export function laterGeneration(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

/** The folders of a day that hold only what exports write: one per recording type, and metadata. */
export function exportFolders(env: string, day: Day): string[] {
  return [...recordingFolders(env, day), metadataFolder(env, day)];
}

/** Objects in the day's export folders that no report accounts for. */
export function extraObjects(listed: StoredObject[], expected: Map<string, Expected>): Finding[] {
  return listed
    .filter(o => !expected.has(o.name))
    .map(o => ({
      kind: 'extra' as const,
      object: o.name,
      detail: `in the day's export folders, but no report of the day's run says it was written (${o.size} bytes, generation ${o.generation})`,
    }));
}

/**
 * Noncurrent generations the record does not account for:
 * - of a recorded object, one written after its first record (a copy that
 *   came and went after a decision accepted the object, however it was
 *   covered up since); earlier copies a decision accepted are accounted for;
 * - of a recording, one checked at export (it carries the `verified` mark)
 *   other than the one recorded: a recording is written once, so it was
 *   replaced or deleted after it was exported.
 * (A recorded generation that is no longer live is already missing or altered.)
 */
export function hiddenGenerations(
  noncurrent: StoredObject[],
  expected: Map<string, Expected>,
): Finding[] {
  const out: Finding[] = [];
  const deleted = (o: StoredObject) => (o.timeDeleted ? ` at ${o.timeDeleted}` : '');
  for (const o of noncurrent) {
    const e = expected.get(o.name);
    const record = e?.record;
    if (record) {
      const known = [...(record.earlier ?? []).map(x => x.generation), record.generation];
      if (known.includes(o.generation)) continue;
      if (laterGeneration(o.generation, known[0]!)) {
        out.push({
          ...finding(e, 'altered', ''),
          detail:
            `generation ${o.generation} (${o.size} bytes, MD5 ${o.md5Hash}) was written after ` +
            `generation ${known[0]} was recorded, and replaced or deleted${deleted(o)}: ` +
            'the object changed after a decision accepted it',
        });
        continue;
      }
    }
    if (o.metadata?.[VERIFIED_KEY] === undefined || o.name.includes('/metadata/')) continue;
    const recorded = e?.copy?.generation;
    if (recorded === o.generation) continue;
    out.push({
      kind: 'altered',
      object: o.name,
      detail:
        `generation ${o.generation}, checked when it was exported, was replaced or deleted${deleted(o)}; ` +
        (recorded
          ? `the ${record ? 'records' : 'reports'} now record generation ${recorded}`
          : 'no report records this recording any more'),
    });
  }
  return out;
}

/** One decision of the day, as the marker's history (and the marker itself) records it. */
export interface DecisionEntry {
  runId: string;
  status: string;
  fingerprint?: string;
  decidedAt?: string;
  /** The reports whose generation this decision was the first of its run to read. */
  changed?: Array<{object: string; generation: string}>;
}

function described(d: DecisionEntry): string {
  const marker = d.status === 'success' ? '_SUCCESS' : '_FAILURE';
  const when = d.decidedAt ? ` decided ${d.decidedAt}` : '';
  const from = d.changed?.length
    ? ` from ${d.changed.map(c => `${c.object}#${c.generation}`).join(', ')}`
    : '';
  return `${marker}${when}${from}`;
}

/**
 * The marker's own history: once a run is `_SUCCESS`, anything that run
 * decides after it (a `_FAILURE`, another `_SUCCESS`, even one back to the
 * same outcome) means its reports were rewritten after the day was
 * complete. A new run an operator asked for starts its own history.
 */
export function redecidedAfterSuccess(marker: {
  runId: string;
  status?: string;
  fingerprint: string;
  decidedAt?: string;
  changed?: DecisionEntry['changed'];
  history?: DecisionEntry[];
}): string | undefined {
  const current: DecisionEntry = {
    runId: marker.runId,
    status: marker.status ?? 'success',
    fingerprint: marker.fingerprint,
    ...(marker.decidedAt ? {decidedAt: marker.decidedAt} : {}),
    ...(marker.changed ? {changed: marker.changed} : {}),
  };
  const entries = [...(marker.history ?? []), current];
  const first = entries.findIndex(h => h.status === 'success');
  for (let i = first; i >= 0 && i < entries.length; i++) {
    const success = entries[i]!;
    if (success.status !== 'success') continue;
    const after = entries.slice(i + 1).filter(h => h.runId === success.runId);
    if (after.length === 0) continue;
    return (
      `run ${success.runId} was already _SUCCESS (${described(success)}) and was decided again: ` +
      `${after.map(described).join('; then ')}. Its reports were rewritten after the day was complete`
    );
  }
  return undefined;
}

/**
 * Whether two generations of a report record the same export: the same
 * conversations with the same outcomes and objects (the attempt, message and
 * times that a rewrite changes are not the record), compared by meaning: the
 * order of conversations and of any record's fields does not matter (a
 * replay's merge puts the replayed conversations last).
 */
export function sameRecord(a: BatchReport, b: BatchReport): boolean {
  const byId = (r: BatchReport) =>
    [...r.conversations].sort((x, y) =>
      x.conversationId < y.conversationId ? -1 : x.conversationId > y.conversationId ? 1 : 0,
    );
  return sameJson(byId(a), byId(b));
}

/** Where the recordings index disagrees with the records (one finding per disagreement). */
export function indexAgainstRecords(
  indexName: string,
  rows: readonly IndexRow[],
  records: ReadonlyMap<string, DecidedRecord>,
): Finding[] {
  const out: Finding[] = [];
  const exported = new Map<string, IndexRow>();
  for (const row of rows)
    if (row.outcome === 'exported' && row.object_name) exported.set(row.object_name, row);
  for (const r of records.values()) {
    if (r.what !== 'recording') continue;
    const row = exported.get(r.object);
    const at = {object: indexName, conversationId: r.conversationId, recordingId: r.recordingId!};
    if (!row) {
      out.push({
        kind: 'altered',
        ...at,
        detail: `no exported row for ${r.object}, which a decision recorded`,
      });
      continue;
    }
    const diffs: string[] = [];
    if (row.size_bytes !== r.size) diffs.push(`size ${String(row.size_bytes)}`);
    if (row.md5_hash !== r.md5Hash) diffs.push(`MD5 ${String(row.md5_hash)}`);
    if (r.crc32c !== undefined && row.crc32c !== r.crc32c)
      diffs.push(`CRC32C ${String(row.crc32c)}`);
    if (diffs.length > 0)
      out.push({
        kind: 'altered',
        ...at,
        detail: `its row of ${r.object} says ${diffs.join(', ')}; the record is ${recordedAs(r)}`,
      });
  }
  for (const [object, row] of exported)
    if (!records.has(object))
      out.push({
        kind: 'altered',
        object: indexName,
        conversationId: row.conversation_id,
        ...(row.recording_id ? {recordingId: row.recording_id} : {}),
        detail: `an exported row of ${object}, which no decision recorded`,
      });
  return out;
}

/** What the reports say about retention: objects with and without one, and the earliest end. */
export interface RetentionSummary {
  retained: number;
  unretained: number;
  /** The earliest `retainUntilTime` recorded. */
  earliestUntil?: string;
}

export function retentionSummary(expected: Map<string, Expected>): RetentionSummary {
  let retained = 0;
  let earliest: string | undefined;
  for (const e of expected.values()) {
    const until = e.copy?.retention?.retainUntilTime;
    if (!until) continue;
    retained++;
    if (!earliest || Date.parse(until) < Date.parse(earliest)) earliest = until;
  }
  return {
    retained,
    unretained: expected.size - retained,
    ...(earliest ? {earliestUntil: earliest} : {}),
  };
}

/** With `--require-retention`: every object the export wrote without a retention. */
export function unretained(expected: Map<string, Expected>): Finding[] {
  return [...expected.values()]
    .filter(e => !e.copy?.retention)
    .map(e =>
      finding(
        e,
        'unretained',
        'its export recorded no retention (written with RETENTION_DAYS=0, or before retention existed)',
      ),
    );
}

export interface DayVerification {
  day: string;
  /** The marker verified (`_FAILURE` days are verified too, and are a finding). */
  marker?: '_SUCCESS' | '_FAILURE';
  runId?: string;
  deep: boolean;
  reports: number;
  /** Objects checked and their recorded bytes. */
  objects: number;
  bytes: number;
  /** What the reports record about retention. */
  retention?: RetentionSummary;
  /**
   * What the bucket was held against: the day's decided records, or (days
   * decided before the checker kept them) the reports its marker pins.
   */
  proof?: 'decided records' | 'reports';
  findings: Finding[];
  intact: boolean;
}

/** Findings counted by kind, for a one-line summary. */
export function countFindings(findings: Finding[]): Record<FindingKind, number> {
  const counts: Record<FindingKind, number> = {
    missing: 0,
    altered: 0,
    extra: 0,
    unverifiable: 0,
    unretained: 0,
  };
  for (const f of findings) counts[f.kind]++;
  return counts;
}
