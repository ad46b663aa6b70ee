/**
 * Waivers: an operator accepts recordings that can never be exported (for
 * example `fileState ERROR` at the source), with a reason, who and when.
 * Each waiver is an append-only object under the day's `_manifest/waivers/`;
 * the checker counts waived recordings apart (never as exported) and lists
 * them in `_SUCCESS`.
 */
import {InputError} from './errors';
import {EMAIL_RE, isGenesysId} from './ids';

export interface Waiver {
  kind: 'waiver';
  version: 1;
  day: string;
  recordingIds: string[];
  reason: string;
  by: string;
  at: string;
}

/** A waiver as the checker read it, with the object it came from. */
export interface WaiverRef {
  object: string;
  waiver: Waiver;
}

const MAX_RECORDINGS = 1000;

/** Checks what an operator asks to waive; throws InputError naming what is wrong. */
export function newWaiver(input: {
  day: string;
  recordingIds: string[];
  reason: string;
  by: string;
  at: string;
}): Waiver {
  const problems: string[] = [];
  const ids = [...new Set(input.recordingIds)];
  if (ids.length === 0) problems.push('name at least one recording');
  if (ids.length > MAX_RECORDINGS) problems.push(`at most ${MAX_RECORDINGS} recordings per waiver`);
  const bad = ids.filter(id => !isGenesysId(id));
  if (bad.length > 0) problems.push(`not recording ids: ${bad.slice(0, 5).join(', ')}`);
  const reason = input.reason.trim();
  if (reason.length < 10 || reason.length > 1000)
    problems.push('the reason must say why, in 10 to 1000 characters');
  if (!EMAIL_RE.test(input.by))
    problems.push(`--by must be the email of who waives, got "${input.by}"`);
  if (problems.length > 0) throw new InputError(problems.join('; '));
  return {
    kind: 'waiver',
    version: 1,
    day: input.day,
    recordingIds: ids,
    reason,
    by: input.by,
    at: input.at,
  };
}

/** Whether a stored object is a usable waiver of `day` (anything else is ignored, not trusted). */
export function isWaiverOf(value: unknown, day: string): value is Waiver {
  const w = value as Partial<Waiver> | null;
  return (
    typeof w === 'object' &&
    w !== null &&
    w.kind === 'waiver' &&
    w.day === day &&
    Array.isArray(w.recordingIds) &&
    w.recordingIds.every(isGenesysId) &&
    typeof w.reason === 'string' &&
    typeof w.by === 'string' &&
    typeof w.at === 'string'
  );
}

/** Recording id → the earliest waiver that covers it. */
export function waivedRecordings(refs: WaiverRef[]): Map<string, WaiverRef> {
  const out = new Map<string, WaiverRef>();
  for (const ref of [...refs].sort((a, b) => a.waiver.at.localeCompare(b.waiver.at)))
    for (const id of ref.waiver.recordingIds) if (!out.has(id)) out.set(id, ref);
  return out;
}
