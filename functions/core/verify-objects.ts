/**
 * `grm verify`'s judgement of each object in the day's export folders: an
 * expected object against the bucket's record of it (and its bytes read
 * back), objects nothing expects, noncurrent generations nothing accounts
 * for, and what was written with a retention. Pure.
 */
import {VERIFIED_KEY} from './verified-mark';
import type {ObjectRetention, StoredObject} from '../ports';
import {recordingFolders} from './reports-vs-bucket';
import {metadataFolder} from './object-names';
import {retentionProblem} from './retention';
import type {Day} from './time-window';
import type {Expected, Finding, FindingKind, RetentionSummary} from './verify';

/** Checksums of bytes read back (`--deep`). */
export interface ReadBack {
  size: number;
  md5Hash: string;
  /** Absent where native CRC32C does not load (MD5 and size still compared). */
  crc32c?: string;
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
