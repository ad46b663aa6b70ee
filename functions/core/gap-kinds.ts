/**
 * What fixes a gap, by kind: each gap reason the exporter and the checker
 * write falls into one kind, and each kind has the action that fixes it and
 * the `grm` command an operator runs once that is done. `grm gaps`, the
 * developer email and the dashboard's gaps chart group gaps by these kinds.
 * Pure: reasons in, kinds out.
 */
import type {Gap} from './day-outcome';
import {isGenesysId} from './ids';

export type GapKindKey =
  | 'restore-requested'
  | 'archived'
  | 'restoring'
  | 'uploading'
  | 'source-error'
  | 'unexpected-state'
  | 'left-out'
  | 'name-taken'
  | 'unplanned-conversation'
  | 'two-objects'
  | 'report-disagrees'
  | 'unsupported-media'
  | 'batch-failed'
  | 'transient';

/** The `grm` step that follows the fix of a kind. */
type Step = 'replay' | 'rerun' | 'waive' | 'watch-restores';

interface KindRule {
  key: GapKindKey;
  /** Matches the reasons of this kind. */
  match?: RegExp;
  /** A few words for a heading. */
  title: string;
  /** What to do first; `{day}` is the day. */
  fix: string;
  step: Step;
}

/** In the order they are tried; the last, without a pattern, takes every other reason. */
const KINDS: readonly KindRule[] = [
  {
    key: 'restore-requested',
    match: /restore requested by the pipeline/,
    title: 'archived in Genesys Cloud; the pipeline is restoring them',
    fix: 'nothing: the pipeline exports them once Genesys Cloud has restored them (hours) and decides the day again; if a restore was refused (grant the OAuth clients recording:recording:restore), grm restore {day} asks again',
    step: 'watch-restores',
  },
  {
    key: 'archived',
    match: /fileState ARCHIVED/,
    title: 'archived in Genesys Cloud',
    fix: 'restore the recordings from the archive in Genesys Cloud (grm restore DAY has the pipeline do it, export them and decide the day again; or set archived_policy = skip)',
    step: 'replay',
  },
  {
    key: 'restoring',
    match: /fileState RESTORING/,
    title: 'being restored in Genesys Cloud',
    fix: 'wait until Genesys Cloud has restored them',
    step: 'replay',
  },
  {
    key: 'uploading',
    match: /fileState UPLOADING/,
    title: 'still uploading to Genesys Cloud',
    fix: 'wait until the upload to Genesys Cloud has finished',
    step: 'replay',
  },
  {
    key: 'source-error',
    match: /fileState ERROR/,
    title: 'broken at the source',
    fix: 'the recordings are broken at the source; if Genesys support cannot repair them, accept them',
    step: 'waive',
  },
  {
    key: 'unexpected-state',
    match: /unexpected fileState/,
    title: 'a file state this version does not know',
    fix: 'Genesys reports a file state this version does not export; if it will not change, accept them',
    step: 'waive',
  },
  {
    key: 'left-out',
    match: /returned no result for it in time|completed without a result for it/,
    title: 'left out of the batch download',
    fix: 'if the same recordings keep coming back, the OAuth client probably lacks recording:recording:viewSensitiveData (sensitive recordings are left out of batch downloads); grant it',
    step: 'replay',
  },
  {
    key: 'name-taken',
    match: /already exists with different content/,
    title: 'another object holds the name',
    fix: 'another object with other bytes holds this name in the bucket: compare it with the source, have someone with delete rights remove it',
    step: 'replay',
  },
  {
    key: 'unplanned-conversation',
    match: /does not hold its conversation/,
    title: 'a conversation the plan left out',
    fix: 'the current plan leaves out a conversation the archive holds: plan the day again',
    step: 'rerun',
  },
  {
    key: 'two-objects',
    match: /also holds recording/,
    title: 'two objects hold one recording',
    fix: 'two objects hold one recording: compare both with the source, have someone with delete rights remove the one that is not the record (the bucket keeps it as a noncurrent version)',
    step: 'replay',
  },
  {
    key: 'report-disagrees',
    match:
      /the batch report says exported, but|does not account for recording|no longer accounts for/,
    title: 'report and bucket disagree',
    fix: 'the batch report and the bucket disagree (a report written by hand, or an object removed): a replay exports the conversation again and writes its report',
    step: 'replay',
  },
  {
    key: 'unsupported-media',
    match: /unsupported media type/,
    title: 'a media type this version does not export',
    fix: 'a media type this version does not export: upgrade',
    step: 'replay',
  },
  {
    key: 'batch-failed',
    match: /batch failed|missing from the batch report/,
    title: 'the batch failed',
    fix: "read the worker's log lines for this batch (jsonPayload.batchId), fix the cause",
    step: 'replay',
  },
  {
    key: 'transient',
    title: 'a transient error',
    fix: "a transient error is likely; if it comes back, read the worker's log for the batch",
    step: 'replay',
  },
];

/** How long `grm replay --wait` waits in the commands we print (seconds). */
export const REPLAY_WAIT_SECONDS = 600;

function ruleFor(reason: string): KindRule {
  return KINDS.find(k => !k.match || k.match.test(reason))!;
}

/** The kind of a gap reason. */
export function gapKind(reason: string): GapKindKey {
  return ruleFor(reason).key;
}

/** The `grm` command that follows the fix (the recordings named for a waiver). */
export function gapCommand(key: GapKindKey, day: string, recordingIds: string[] = []): string {
  const rule = KINDS.find(k => k.key === key)!;
  switch (rule.step) {
    case 'rerun':
      return `grm rerun ${day}`;
    case 'watch-restores':
      return 'grm restore status';
    case 'waive': {
      // Only well-formed ids go into a command someone will paste into a shell.
      const safe = recordingIds.filter(isGenesysId);
      const named = safe.length > 0 ? safe : ['ID'];
      return (
        `grm waive ${day} ${named.map(id => `--recording ${id}`).join(' ')} ` +
        '--reason "broken at the source (fileState ERROR); Genesys case NUMBER" --by YOUR_EMAIL'
      );
    }
    default:
      return `grm replay ${day} --wait ${REPLAY_WAIT_SECONDS}`;
  }
}

/** What fixes a gap with this reason, as one sentence ending in its command. */
export function gapAction(reason: string, day: string): string {
  const rule = ruleFor(reason);
  return rule.step === 'waive'
    ? `${rule.fix} with \`grm waive ${day} --recording ID --reason ... --by EMAIL\``
    : `${rule.fix.replace('grm restore DAY', `grm restore ${day}`).replace('{day}', day)}${
        rule.step === 'watch-restores' ? '; see' : ', then'
      } \`${gapCommand(rule.key, day)}\``;
}

/** The gaps of one kind, with what fixes them. */
export interface GapGroup {
  kind: GapKindKey;
  title: string;
  fix: string;
  /** The `grm` command to run once `fix` is done (with the recordings to waive, if any). */
  command: string;
  /** Recordings the command names (a waiver names at most `maxNamed`). */
  named: number;
  gaps: Gap[];
}

/**
 * The gaps grouped by kind, the largest group first; within a group, by
 * conversation and recording. A waiver names at most `maxNamed` recordings.
 */
export function gapGroups(gaps: readonly Gap[], day: string, maxNamed = 25): GapGroup[] {
  const byKind = new Map<GapKindKey, Gap[]>();
  for (const g of gaps) {
    const key = gapKind(g.reason);
    const list = byKind.get(key);
    if (list) list.push(g);
    else byKind.set(key, [g]);
  }
  const order = (k: GapKindKey) => KINDS.findIndex(r => r.key === k);
  return [...byKind.entries()]
    .sort(([a, x], [b, y]) => y.length - x.length || order(a) - order(b))
    .map(([kind, list]) => {
      const rule = KINDS.find(k => k.key === kind)!;
      const sorted = [...list].sort(
        (a, b) =>
          a.conversationId.localeCompare(b.conversationId) ||
          (a.recordingId ?? '').localeCompare(b.recordingId ?? ''),
      );
      const ids = sorted
        .flatMap(g => (g.recordingId && isGenesysId(g.recordingId) ? [g.recordingId] : []))
        .slice(0, maxNamed);
      return {
        kind,
        title: rule.title,
        fix: rule.fix,
        command: gapCommand(kind, day, ids),
        named: rule.step === 'waive' ? ids.length : 0,
        gaps: sorted,
      };
    });
}

/** How many gaps of each kind (the checker's log line for the dashboard), without sorting. */
export function gapKindCounts(gaps: readonly Gap[]): Map<GapKindKey, number> {
  const counts = new Map<GapKindKey, number>();
  for (const g of gaps) {
    const key = gapKind(g.reason);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
