/**
 * `grm verify`: what a decided day's reports say was exported, held against
 * what the bucket holds now. Pure: ops/verifier.ts reads the objects, core
 * judges them. This module holds what verify expects and its verdict: the
 * findings, the expected objects, the day's verification;
 * core/verify-bookkeeping.ts judges the checker's own bookkeeping and
 * core/verify-objects.ts each object in the bucket.
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
import type {RecordingType} from './content-types';
import type {DecidedRecord} from './decided-records';
import type {BatchReport, StoredCopy} from './report';

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

/** What the reports say about retention: objects with and without one, and the earliest end. */
export interface RetentionSummary {
  retained: number;
  unretained: number;
  /** The earliest `retainUntilTime` recorded. */
  earliestUntil?: string;
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
