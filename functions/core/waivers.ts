/**
 * Waivers: an operator accepts recordings that can never be exported (for
 * example `fileState ERROR` at the source), with a reason, who and when.
 * Each waiver is an append-only object under the day's `_manifest/waivers/`;
 * the checker counts waived recordings apart (never as exported) and lists
 * them in `_SUCCESS`. A waiver covers a recording only while it fails for the
 * reason that was waived: a later, different failure is a gap again.
 */
import {InputError} from './errors';
import {EMAIL_RE, isGenesysId} from './ids';

export interface Waiver {
  kind: 'waiver';
  version: 1;
  day: string;
  recordingIds: string[];
  /** Per recording, the gap reason that was waived. */
  reasons: Record<string, string>;
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

/** Gap reasons nothing can fix: the only ones waived without `anyReason`. */
export const PERMANENT_REASON = /fileState ERROR|unexpected fileState|unsupported media type/;

/** Every rule a waiver must meet, as problems (empty: a valid waiver of `day`). */
export function waiverProblems(value: unknown, day: string): string[] {
  const w = value as Partial<Waiver> | null;
  if (typeof w !== 'object' || w === null || w.kind !== 'waiver') return ['not a waiver'];
  const problems: string[] = [];
  if (w.day !== day) problems.push(`a waiver of ${String(w.day)}, not ${day}`);
  const ids = Array.isArray(w.recordingIds) ? w.recordingIds : [];
  if (ids.length === 0) problems.push('name at least one recording');
  if (ids.length > MAX_RECORDINGS) problems.push(`at most ${MAX_RECORDINGS} recordings per waiver`);
  const bad = ids.filter(id => !isGenesysId(id));
  if (bad.length > 0) problems.push(`not recording ids: ${bad.slice(0, 5).map(String).join(', ')}`);
  const reasons = typeof w.reasons === 'object' && w.reasons !== null ? w.reasons : {};
  if (ids.some(id => typeof reasons[id as string] !== 'string'))
    problems.push('every recording needs the gap reason it waives');
  const reason = typeof w.reason === 'string' ? w.reason.trim() : '';
  if (reason.length < 10 || reason.length > 1000)
    problems.push('the reason must say why, in 10 to 1000 characters');
  if (typeof w.by !== 'string' || !EMAIL_RE.test(w.by))
    problems.push(`--by must be the email of who waives, got "${String(w.by)}"`);
  if (typeof w.at !== 'string' || Number.isNaN(Date.parse(w.at))) problems.push('no valid time');
  return problems;
}

/** Builds a waiver from what an operator asks; throws InputError naming every problem. */
export function newWaiver(input: {
  day: string;
  reasons: Record<string, string>;
  reason: string;
  by: string;
  at: string;
}): Waiver {
  const waiver: Waiver = {
    kind: 'waiver',
    version: 1,
    day: input.day,
    recordingIds: Object.keys(input.reasons),
    reasons: input.reasons,
    reason: input.reason.trim(),
    by: input.by,
    at: input.at,
  };
  const problems = waiverProblems(waiver, input.day);
  if (problems.length > 0) throw new InputError(problems.join('; '));
  return waiver;
}

/** Whether a stored object is a valid waiver of `day` (anything else is ignored, not trusted). */
export function isWaiverOf(value: unknown, day: string): value is Waiver {
  return waiverProblems(value, day).length === 0;
}

/** Recording id → the earliest waiver that covers it. */
export function waivedRecordings(refs: WaiverRef[]): Map<string, WaiverRef> {
  const out = new Map<string, WaiverRef>();
  for (const ref of [...refs].sort((a, b) => a.waiver.at.localeCompare(b.waiver.at)))
    for (const id of ref.waiver.recordingIds) if (!out.has(id)) out.set(id, ref);
  return out;
}
