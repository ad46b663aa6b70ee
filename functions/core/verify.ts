/**
 * `grm verify`: what a decided day's reports say was exported, held against
 * what the bucket holds now. Pure: ops/verifier.ts reads the objects, this
 * judges them.
 *
 * The expected set is every object a referenced batch report records as
 * written: each exported recording (size, MD5, CRC32C, generation, retention)
 * and each conversation's metadata document. The bucket must hold each of
 * them, unchanged, and nothing else in the day's media and metadata folders.
 */
import type {ObjectRetention, StoredObject} from '../ports';
import {RECORDING_TYPES, RecordingType} from './content-types';
import {dayPrefix} from './object-names';
import type {BatchReport, StoredCopy} from './report';
import {retentionProblem} from './retention';
import type {Day} from './time-window';

export type FindingKind = 'missing' | 'altered' | 'extra' | 'unverifiable';

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
): Finding[] {
  if (!stored)
    return [finding(e, 'missing', 'the report says it was written; it is not in the bucket')];
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
          ' (with versioning on, the recorded generation may still be readable as noncurrent)',
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

/** The folders of a day that hold only what exports write: one per recording type, and metadata. */
export function exportFolders(env: string, day: Day): string[] {
  return [...RECORDING_TYPES, 'metadata'].map(f => `${dayPrefix(env, day)}${f}/`);
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
  findings: Finding[];
  intact: boolean;
}

/** Findings counted by kind, for a one-line summary. */
export function countFindings(findings: Finding[]): Record<FindingKind, number> {
  const counts: Record<FindingKind, number> = {missing: 0, altered: 0, extra: 0, unverifiable: 0};
  for (const f of findings) counts[f.kind]++;
  return counts;
}
