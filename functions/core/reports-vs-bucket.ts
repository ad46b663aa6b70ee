/**
 * A verdict is never taken from bookkeeping alone. Before deciding, the
 * checker lists the day's recording folders once and holds the batch reports
 * against what the bucket really has:
 *  - a recording a report calls exported counts only if its object is where
 *    its name must be, with the size, MD5 and CRC32C the report recorded;
 *    otherwise it becomes a failure with the reason;
 *  - a recording object of a planned conversation that its report does not
 *    account for becomes a failure of that conversation (a report that leaves
 *    recordings out cannot make a day look complete), and so does an exported
 *    recording with a second object under another name;
 *  - a recording object of a conversation the plan does not hold is a gap of
 *    the day (a plan that leaves conversations out cannot either);
 *  - a recording that was a gap of the run's previous decision leaves the gaps
 *    only by being exported (and confirmed) or skipped: a report that no
 *    longer mentions it keeps it a gap.
 *
 * Pure: the checker lists, this compares.
 */
import {RECORDING_TYPES, RecordingType} from './content-types';
import type {DayPlan} from './day-plan';
import type {Gap, ReportRef} from './day-outcome';
import {recordingObjectStem} from './object-names';
import type {ReportRecording} from './report';

/** What a listing says about one object. */
export interface StoredFacts {
  name: string;
  size: number;
  md5Hash: string;
  crc32c: string;
}

/** The batch id of gaps no planned batch can replay. */
export const UNPLANNED_BATCH = 'unplanned';

/** The folders of the day that hold recordings: what the checker lists. */
export function recordingFolders(env: string, day: string): string[] {
  return RECORDING_TYPES.map(t => `${env}/${day}/${t}/`);
}

export interface ParsedName {
  name: string;
  type: RecordingType;
  conversationId: string;
  recordingId: string;
}

const NAME_RE = /^([0-9a-f-]{36})_([0-9a-f-]{36})\.[a-z0-9]+$/;

/** The type, conversation and recording a recording object's name says, or undefined for any other name. */
export function parseRecordingName(env: string, day: string, name: string): ParsedName | undefined {
  for (const type of RECORDING_TYPES) {
    const folder = `${env}/${day}/${type}/`;
    if (!name.startsWith(folder)) continue;
    const m = NAME_RE.exec(name.slice(folder.length));
    return m ? {name, type, conversationId: m[1]!, recordingId: m[2]!} : undefined;
  }
  return undefined;
}

/** What confirmation asks of the day's listing. */
export interface ClaimLookup {
  /** The listed object of that name. */
  facts(name: string): StoredFacts | undefined;
  /** The listed recording objects of a planned conversation, in listing order. */
  objectsOf(conversationId: string): readonly ParsedName[];
}

function checkClaim(
  env: string,
  day: string,
  conversationId: string,
  r: ReportRecording,
  stored: ClaimLookup,
): string | undefined {
  const object = r.object ?? '';
  const expected = recordingObjectStem(env, day, r.type ?? 'call', conversationId, r.recordingId);
  if (!object.startsWith(expected) || object.slice(expected.length).includes('/'))
    return `the batch report says exported, but names ${object ? `object ${object}` : 'no object'}, not one under ${expected}*`;
  const o = stored.facts(object);
  if (!o) return `the batch report says exported, but gs object ${object} is not in the bucket`;
  if (o.size !== r.size || o.md5Hash !== r.md5Hash || o.crc32c !== r.crc32c)
    return (
      `the batch report says exported, but gs object ${object} holds ${o.size} bytes ` +
      `(MD5 ${o.md5Hash}, CRC32C ${o.crc32c}), not the ${String(r.size)} bytes ` +
      `(MD5 ${String(r.md5Hash)}, CRC32C ${String(r.crc32c)}) it recorded`
    );
  return undefined;
}

/** The gap of a recording object whose conversation the day's plan does not hold. */
export function unplannedGap(p: ParsedName): Gap {
  return {
    batchId: UNPLANNED_BATCH,
    conversationId: p.conversationId,
    recordingId: p.recordingId,
    type: p.type,
    reason: `gs object ${p.name} is in the bucket, but the day's plan does not hold its conversation`,
  };
}

/**
 * The reports as the bucket confirms them, and the gaps of recordings stored
 * for conversations the plan does not hold (the whole day at once; the
 * checker confirms one report at a time with {@link confirmReport}).
 */
export function confirmClaims(
  env: string,
  plan: DayPlan,
  reports: ReportRef[],
  listing: StoredFacts[],
): {reports: ReportRef[]; unplanned: Gap[]} {
  const stored = new Map(listing.map(o => [o.name, o]));
  const batchOf = new Map<string, string>();
  for (const b of plan.batches) for (const id of b.conversationIds) batchOf.set(id, b.batchId);
  const byConversation = new Map<string, ParsedName[]>();
  const unplanned: Gap[] = [];
  for (const o of listing) {
    const p = parseRecordingName(env, plan.day, o.name);
    if (!p) continue;
    if (!batchOf.has(p.conversationId)) {
      unplanned.push(unplannedGap(p));
      continue;
    }
    byConversation.set(p.conversationId, [...(byConversation.get(p.conversationId) ?? []), p]);
  }
  const lookup: ClaimLookup = {
    facts: name => stored.get(name),
    objectsOf: id => byConversation.get(id) ?? [],
  };
  return {reports: reports.map(ref => confirmReport(env, plan.day, ref, lookup)), unplanned};
}

/** One report as the bucket confirms it. */
export function confirmReport(
  env: string,
  day: string,
  ref: ReportRef,
  stored: ClaimLookup,
): ReportRef {
  const conversations = ref.report.conversations.map(c => {
    const recordings = c.recordings.map(r => {
      if (r.outcome !== 'exported') return r;
      const problem = checkClaim(env, day, c.conversationId, r, stored);
      return problem ? {...r, outcome: 'failed' as const, reason: problem} : r;
    });
    const mentioned = new Set(recordings.map(r => r.recordingId));
    for (const p of stored.objectsOf(c.conversationId)) {
      const i = recordings.findIndex(r => r.recordingId === p.recordingId);
      const r = recordings[i];
      if (r?.outcome === 'exported' && r.object !== p.name) {
        // Two objects for one recording (by hand, or its content type changed between runs):
        // which one is the record is not for the checker to guess.
        recordings[i] = {
          ...r,
          outcome: 'failed',
          reason: `gs object ${p.name} also holds recording ${p.recordingId}, besides ${String(r.object)} that the batch report names`,
        };
        continue;
      }
      if (mentioned.has(p.recordingId)) continue;
      mentioned.add(p.recordingId);
      recordings.push({
        recordingId: p.recordingId,
        type: p.type,
        outcome: 'failed',
        reason: `a recording object is in the bucket, but the batch report does not account for recording ${p.recordingId}`,
      });
    }
    return {...c, recordings};
  });
  return {...ref, report: {...ref.report, conversations}};
}

/** The identity of a gap as the ledger remembers it: `conversationId/recordingId` (or `conversationId/`). */
export function gapId(g: Pick<Gap, 'conversationId' | 'recordingId'>): string {
  return `${g.conversationId}/${g.recordingId ?? ''}`;
}

/** The recordings of the run's previous gaps, by conversation (conversation gaps left out). */
export function openGapsByConversation(previous: readonly string[]): Map<string, string[]> {
  const byConversation = new Map<string, string[]>();
  for (const id of previous) {
    const [conversationId, recordingId] = id.split('/');
    if (!conversationId || !recordingId) continue; // a conversation gap: decideDay sees it again
    byConversation.set(conversationId, [
      ...(byConversation.get(conversationId) ?? []),
      recordingId,
    ]);
  }
  return byConversation;
}

/**
 * Puts back, as failures, the recordings that were gaps of this run's
 * previous decision and that the reports no longer mention at all.
 */
export function keepOpenGaps(reports: ReportRef[], previous: readonly string[]): ReportRef[] {
  const byConversation = openGapsByConversation(previous);
  if (byConversation.size === 0) return reports;
  return reports.map(ref => keepOpenGapsIn(ref, byConversation));
}

/** {@link keepOpenGaps} of one report. */
export function keepOpenGapsIn(
  ref: ReportRef,
  byConversation: ReadonlyMap<string, readonly string[]>,
): ReportRef {
  if (byConversation.size === 0) return ref;
  return {
    ...ref,
    report: {
      ...ref.report,
      conversations: ref.report.conversations.map(c => {
        const open = byConversation.get(c.conversationId);
        if (!open || c.error) return c;
        const mentioned = new Set(c.recordings.map(r => r.recordingId));
        const dropped = open.filter(id => !mentioned.has(id));
        if (dropped.length === 0) return c;
        return {
          ...c,
          recordings: [
            ...c.recordings,
            ...dropped.map(recordingId => ({
              recordingId,
              outcome: 'failed' as const,
              reason: `a gap of this run that the batch report no longer accounts for (recording ${recordingId}): it was neither exported nor skipped`,
            })),
          ],
        };
      }),
    },
  };
}
