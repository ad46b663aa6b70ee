/**
 * Gap kinds (core/gap-kinds.ts): each reason the exporter and the checker
 * write falls into the kind whose fix and command fit it, and the groups
 * come out largest first, their gaps in a stable order.
 */
import * as assert from 'node:assert';
import {gapAction, gapGroups, gapKind} from '../../functions/core/gap-kinds';

const DAY = '2026-03-29';

describe('gap kinds', () => {
  it('should give each reason the exporter and the checker write its kind', () => {
    const cases: Array<[string, string]> = [
      ['archived at the source (fileState ARCHIVED): restore it, then replay', 'archived'],
      ['being restored from the archive (fileState RESTORING): replay later', 'restoring'],
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
      /^restore the recordings from the archive in Genesys Cloud .*, then `grm replay 2026-03-29 --wait 600`$/,
    );
    assert.match(
      gapAction("x, but the day's plan does not hold its conversation", DAY),
      /then `grm rerun 2026-03-29`$/,
    );
    assert.match(
      gapAction('in an error state at the source (fileState ERROR)', DAY),
      /accept them with `grm waive 2026-03-29 --recording ID --reason \.\.\.`$/,
    );
  });

  it('should group the largest kind first, name at most maxNamed recordings to waive, and keep conversation order', () => {
    const gap = (c: string, r: string | undefined, reason: string) => ({
      batchId: 'b1',
      conversationId: c,
      ...(r ? {recordingId: r} : {}),
      reason,
    });
    const groups = gapGroups(
      [
        gap('c3', 'r3', 'fileState ERROR'),
        gap('c1', 'r1', 'fileState ERROR'),
        gap('c2', 'r2', 'fileState ERROR'),
        gap('c9', undefined, 'batch failed: x'),
      ],
      DAY,
      2,
    );
    assert.deepStrictEqual(
      groups.map(g => [g.kind, g.gaps.map(x => x.conversationId)]),
      [
        ['source-error', ['c1', 'c2', 'c3']],
        ['batch-failed', ['c9']],
      ],
    );
    assert.match(
      groups[0]!.command,
      /^grm waive 2026-03-29 --recording r1 --recording r2 --reason /,
    );
    assert.strictEqual(groups[1]!.command, 'grm replay 2026-03-29 --wait 600');
  });
});
