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
import {VERIFIED_KEY} from '../ports';
import type {ObjectRetention, StoredObject} from '../ports';
import {recordingFolders} from './claims';
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
 * Generations of recordings that were checked at export (they carry the
 * `verified` mark) and are no longer live, other than the one the reports
 * record: a recording is written once, so such a generation was replaced or
 * deleted after it was exported, and the reports were made to point past it.
 * (A recorded generation that is no longer live is already missing or altered.)
 */
export function hiddenGenerations(
  noncurrent: StoredObject[],
  expected: Map<string, Expected>,
): Finding[] {
  return noncurrent
    .filter(o => o.metadata?.[VERIFIED_KEY] !== undefined && !o.name.includes('/metadata/'))
    .filter(o => expected.get(o.name)?.copy?.generation !== o.generation)
    .map(o => {
      const recorded = expected.get(o.name)?.copy?.generation;
      return {
        kind: 'altered' as const,
        object: o.name,
        detail:
          `generation ${o.generation}, checked when it was exported, was replaced or deleted` +
          `${o.timeDeleted ? ` at ${o.timeDeleted}` : ''}; ` +
          (recorded
            ? `the reports now record generation ${recorded}`
            : 'no report records this recording any more'),
      };
    });
}

/** The marker's own history: a run decided again after it was `_SUCCESS` had its reports changed. */
export function redecidedAfterSuccess(marker: {
  runId: string;
  fingerprint: string;
  history?: Array<{runId: string; status: string; fingerprint?: string; decidedAt?: string}>;
}): string | undefined {
  const earlier = (marker.history ?? []).find(
    h => h.runId === marker.runId && h.status === 'success' && h.fingerprint !== marker.fingerprint,
  );
  if (!earlier) return undefined;
  return (
    `run ${marker.runId} was already _SUCCESS${earlier.decidedAt ? ` (decided ${earlier.decidedAt})` : ''} ` +
    'and was decided again with a different outcome: its reports changed after the day was complete'
  );
}

/**
 * Whether two generations of a report record the same export: the same
 * conversations with the same outcomes and objects (the attempt, message and
 * times that a rewrite changes are not the record). Order does not matter: a
 * replay's merge puts the replayed conversations last.
 */
export function sameRecord(a: BatchReport, b: BatchReport): boolean {
  const canon = (r: BatchReport) =>
    JSON.stringify([...r.conversations].map(c => JSON.stringify(c)).sort());
  return canon(a) === canon(b);
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
