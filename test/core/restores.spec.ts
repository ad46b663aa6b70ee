import assert from 'node:assert/strict';
import type {DayOutcome} from '../../functions/core/day-outcome';
import {
  MAX_RESTORE_CYCLES,
  RestoreRecord,
  emptyRestoreRecord,
  restoreInboxProblems,
  restoreRecordProblems,
} from '../../functions/core/restore-record';
import {
  awaitsRestore,
  entriesToVisit,
  markRequested,
  markRestored,
  pollInterval,
  parseRestoreRequest,
  refuse,
  restoreInbox,
  restoreUntil,
  stepFor,
  takeFromInbox,
  takeReplays,
} from '../../functions/core/restores';
import {restoreStatus, restoreStatusText} from '../../functions/core/restore-status';
import {RESTORE_REQUESTED} from '../../functions/core/recording-outcomes';

const T0 = Date.parse('2026-06-01T00:00:00Z');
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function outcome(gaps: DayOutcome['gaps']): DayOutcome {
  return {
    day: '2026-05-01',
    runId: 'r1',
    fingerprint: 'fp',
    gaps,
    replay: [
      {
        batchId: 'b1',
        conversations: 1,
        gaps: 1,
        message: {day: '2026-05-01', conversationIds: [], client: 2},
        command: '',
      },
    ],
  } as unknown as DayOutcome;
}

/** Batch b1's gap of recording `recording` of conversation `conversation`, archived. */
const archived = (conversation: number, recording: number) => ({
  batchId: 'b1',
  conversationId: id(conversation),
  recordingId: id(recording),
  reason: '(fileState ARCHIVED)',
});

/** A record that took in a decided outcome's `gaps` (at most `capacity` outstanding). */
function recordOf(gaps: DayOutcome['gaps'], capacity = 5): RestoreRecord {
  const record = emptyRestoreRecord(T0);
  takeFromInbox(record, restoreInbox(outcome(gaps), T0)!, capacity, T0);
  return record;
}

describe('restores (pure)', () => {
  it('should tell which gap reasons a restore can fix', () => {
    assert.equal(
      awaitsRestore(`archived at the source (fileState ARCHIVED): ${RESTORE_REQUESTED}`),
      'ARCHIVED',
    );
    assert.equal(
      awaitsRestore('archived at the source (fileState ARCHIVED): restore it, then replay'),
      'ARCHIVED',
    );
    assert.equal(
      awaitsRestore('being restored from the archive (fileState RESTORING): replay later'),
      'RESTORING',
    );
    assert.equal(awaitsRestore('deleted at the source (fileState DELETED)'), undefined);
    assert.equal(awaitsRestore('in an error state at the source (fileState ERROR)'), undefined);
  });

  it('should queue only the recordings a restore can fix, by batch, keeping the batch client', () => {
    const inbox = restoreInbox(
      outcome([
        {
          batchId: 'b1',
          conversationId: id(1),
          recordingId: id(11),
          reason: '(fileState ARCHIVED): x',
        },
        {batchId: 'b1', conversationId: id(1), recordingId: id(12), reason: '(fileState ERROR)'},
        {
          batchId: 'b2',
          conversationId: id(2),
          recordingId: id(21),
          reason: '(fileState RESTORING): x',
        },
        {batchId: 'b2', conversationId: id(3), reason: '(fileState ARCHIVED) conversation-level'},
      ]),
      T0,
    )!;
    assert.deepEqual(restoreInboxProblems(inbox), []);
    assert.deepEqual(inbox.batches, [
      {batchId: 'b1', client: 2, recordings: [{conversationId: id(1), recordingId: id(11)}]},
      {batchId: 'b2', recordings: [{conversationId: id(2), recordingId: id(21)}]},
    ]);
    assert.equal(
      restoreInbox(outcome([{batchId: 'b1', conversationId: id(1), reason: 'x'}]), T0),
      undefined,
    );
  });

  it('should take at most the capacity, never a recording twice, and leave the rest', () => {
    const record = emptyRestoreRecord(T0);
    const inbox = restoreInbox(
      outcome(
        [1, 2, 3].map(n => ({
          batchId: 'b1',
          conversationId: id(n),
          recordingId: id(10 + n),
          reason: '(fileState ARCHIVED)',
        })),
      ),
      T0,
    )!;
    const left = takeFromInbox(record, inbox, 2, T0);
    assert.equal(record.entries.length, 2);
    assert.deepEqual(
      left[0]!.recordings.map(r => r.recordingId),
      [id(13)],
    );
    // The same inbox again: the two outstanding are known, the third waits for room.
    assert.deepEqual(
      takeFromInbox(record, inbox, 2, T0)[0]!.recordings.map(r => r.recordingId),
      [id(13)],
    );
    assert.deepEqual(takeFromInbox(record, inbox, 3, T0), []);
    assert.equal(record.entries.length, 3);
    assert.deepEqual(restoreRecordProblems(record), []);
  });

  it('should visit queued entries first within the calls of a tick, then the oldest due checks', () => {
    const record = recordOf(
      [1, 2, 3, 4].map(n => archived(n, 10 + n)),
      10,
    );
    const [a, b] = record.entries;
    markRequested(record, a!, T0);
    markRequested(record, b!, T0 + 60_000);
    const pacing = {callsPerTick: 5, pollMs: 600_000};
    // Two queued (2 calls each), then one poll fits: none is due yet.
    assert.deepEqual(
      entriesToVisit(record, T0 + 120_000, pacing).map(e => e.recordingId),
      [id(13), id(14)],
    );
    // Later: both requested are due; the older check first, and only one call is left.
    assert.deepEqual(
      entriesToVisit(record, T0 + 700_000, pacing).map(e => e.recordingId),
      [id(13), id(14), id(11)],
    );
  });

  it('should step by state: restore archived, wait on its own restores, replay restored, refuse the rest', () => {
    const record = recordOf([archived(1, 11)]);
    const e = record.entries[0]!;
    const WAIT = 72 * 3_600_000;
    const at = (state: string | undefined, now = T0) =>
      stepFor(e, state === undefined ? undefined : {fileState: state}, now, WAIT);
    assert.deepEqual(at('ARCHIVED'), {step: 'request'});
    // RESTORING by someone else: asked for again, so the copy lasts as long as the pipeline needs.
    assert.deepEqual(at('RESTORING'), {step: 'request'});
    markRequested(record, e, T0);
    assert.deepEqual(at('RESTORING', T0 + WAIT), {step: 'wait'});
    assert.match(
      (at('RESTORING', T0 + WAIT + 1) as {reason: string}).reason,
      /still being restored 72 h after/,
    );
    assert.deepEqual(at('RESTORED'), {step: 'restored'});
    assert.deepEqual(at('AVAILABLE'), {step: 'restored'});
    assert.equal(at('DELETED').step, 'refuse');
    assert.equal(at('ERROR').step, 'refuse');
    assert.equal(at(undefined).step, 'refuse');
    // Not restored by a request (or lapsed before its check): asked again, counted, then given up.
    assert.deepEqual(at('ARCHIVED'), {step: 'request'});
    markRequested(record, e, T0 + 1000);
    markRequested(record, e, T0 + 2000);
    assert.equal(record.totals.lapsed, 2);
    assert.equal(e.requests, 3);
    assert.equal(e.firstRequestedAt, new Date(T0).toISOString());
    assert.match((at('ARCHIVED') as {reason: string}).reason, /still archived after 3 restores/);
  });

  it('should ask for a restore that lasts the hold, an hour short of a sooner delete date, or none', () => {
    const H = 3_600_000;
    assert.equal(restoreUntil(T0, 72), new Date(T0 + 72 * H).toISOString());
    assert.equal(
      restoreUntil(T0, 72, new Date(T0 + 10 * H).toISOString()),
      new Date(T0 + 9 * H).toISOString(),
    );
    assert.equal(restoreUntil(T0, 72, new Date(T0 + 2 * H - 1).toISOString()), undefined);
    assert.equal(restoreUntil(T0, 72, 'not a date'), new Date(T0 + 72 * H).toISOString());
  });

  it('should move an outstanding recording to the newer run that queues it, and refuse one replayed too often', () => {
    const record = emptyRestoreRecord(T0);
    const gap = {
      batchId: 'b1',
      conversationId: id(1),
      recordingId: id(11),
      reason: '(fileState ARCHIVED)',
    };
    takeFromInbox(record, restoreInbox(outcome([gap]), T0)!, 5, T0);
    const rerun = {...restoreInbox(outcome([{...gap, batchId: 'b7'}]), T0)!, runId: 'r2'};
    takeFromInbox(record, rerun, 5, T0);
    assert.equal(record.entries.length, 1);
    assert.deepEqual([record.entries[0]!.runId, record.entries[0]!.batchId], ['r2', 'b7']);
    // Restored and replayed three times, queued a fourth: refused, never taken again.
    for (let k = 0; k < MAX_RESTORE_CYCLES; k++) {
      if (k > 0) takeFromInbox(record, rerun, 5, T0);
      markRestored(record, record.entries[0]!, {fileState: 'RESTORED'}, T0);
      takeReplays(record);
    }
    assert.equal(record.cycles?.[id(11)], MAX_RESTORE_CYCLES);
    assert.deepEqual(takeFromInbox(record, rerun, 5, T0), []);
    assert.equal(record.entries.length, 0);
    assert.match(
      record.refused.at(-1)!.reason,
      /restored and replayed 3 times, yet still not exported/,
    );
  });

  it('should replay restored entries as one message per batch with their conversations, and drop them', () => {
    const record = recordOf([archived(1, 11), archived(1, 12), archived(2, 21)]);
    const [e1, e2, e3] = record.entries;
    markRestored(
      record,
      e1!,
      {fileState: 'RESTORED', restoreExpirationTime: '2026-06-04T00:00:00Z'},
      T0,
    );
    markRestored(record, e2!, {fileState: 'RESTORED'}, T0);
    assert.deepEqual(takeReplays(record), [
      {
        day: '2026-05-01',
        runId: 'r1',
        batchId: 'b1',
        client: 2,
        conversationIds: [id(1)],
        lane: 'migration',
      },
    ]);
    assert.deepEqual(record.entries, [e3]);
    assert.equal(record.totals.replayed, 2);
    assert.deepEqual(takeReplays(record), []);
    refuse(record, e3!, 'restore refused by Genesys Cloud: HTTP 403', T0);
    assert.equal(record.entries.length, 0);
    assert.equal(record.refused[0]!.recordingId, id(21));
    record.calls = {'2026-05': 3, '2026-06': 12};
    assert.deepEqual(restoreRecordProblems(record), []);
    assert.notDeepEqual(restoreRecordProblems({...record, calls: {june: 1}}), []);
    const text = restoreStatusText(restoreStatus(record, [{day: '2026-05-02', recordings: 7}], T0));
    assert.match(text, /Genesys calls: 12 this month, 15 in all/);
    assert.match(text, /2 exported again/);
    assert.match(text, /2026-05-02 \(7\)/);
    assert.match(text, /refused .*\n.*HTTP 403/);
  });

  it("should not move an outstanding recording to another day's file", () => {
    const record = recordOf([archived(1, 11)]);
    const other = {
      ...restoreInbox(outcome([archived(1, 11)]), T0)!,
      day: '2026-05-02',
      runId: 'r9',
    };
    assert.deepEqual(takeFromInbox(record, other, 5, T0), []);
    assert.deepEqual(
      record.entries.map(e => [e.day, e.runId]),
      [['2026-05-01', 'r1']],
    );
  });

  it('should not visit a queued entry whose read failed until a poll interval has passed', () => {
    const record = recordOf([archived(1, 11), archived(2, 21)]);
    record.entries[0]!.checkedAt = new Date(T0).toISOString();
    const pacing = {callsPerTick: 10, pollMs: 600_000};
    assert.deepEqual(
      entriesToVisit(record, T0 + 60_000, pacing).map(e => e.recordingId),
      [id(21)],
    );
    assert.deepEqual(
      entriesToVisit(record, T0 + 600_000, pacing).map(e => e.recordingId),
      [id(11), id(21)],
    );
    // A restore asked for four hours ago is read again an hour after its last check, not ten
    // minutes: the polls thin out as it goes on.
    const e = record.entries[1]!;
    markRequested(record, e, T0);
    e.checkedAt = new Date(T0 + 4 * 3_600_000 - 30 * 60_000).toISOString();
    assert.equal(pollInterval(e, T0 + 4 * 3_600_000, pacing), 3_600_000);
    assert.deepEqual(
      entriesToVisit(record, T0 + 4 * 3_600_000, pacing).map(x => x.recordingId),
      [id(11)],
    );
    assert.deepEqual(
      entriesToVisit(record, T0 + 4 * 3_600_000 + 45 * 60_000, pacing).map(x => x.recordingId),
      [id(11), id(21)],
    );
    // A time the planner could not have written is refused, not read as NaN for ever.
    record.entries[0]!.checkedAt = 'soon';
    assert.match(restoreRecordProblems(record).join(), /entries\[0\] is not a restore entry/);
  });

  it('should refuse records and inboxes it did not write, and bad requests', () => {
    assert.notDeepEqual(
      restoreRecordProblems({kind: 'restores', version: 1, entries: [{}], refused: [], totals: {}}),
      [],
    );
    const bad = {
      ...emptyRestoreRecord(T0),
      entries: [
        {
          day: '2026-05-01',
          runId: 'r',
          batchId: 'b',
          conversationId: '../x',
          recordingId: id(1),
          state: 'queued',
          queuedAt: 'x',
          requests: 0,
        },
      ],
    } as unknown as RestoreRecord;
    assert.notDeepEqual(restoreRecordProblems(bad), []);
    assert.notDeepEqual(
      restoreInboxProblems({
        kind: 'restore-inbox',
        version: 1,
        day: '2026-05-01',
        runId: 'r',
        queuedAt: '2026-05-01T00:00:00Z',
        batches: [{batchId: 'b', recordings: [{conversationId: 'x', recordingId: 'y'}]}],
      }),
      [],
    );
    const inbox = restoreInbox(
      outcome([
        {batchId: 'b1', conversationId: id(1), recordingId: id(11), reason: '(fileState ARCHIVED)'},
      ]),
      T0,
    )!;
    assert.deepEqual(restoreInboxProblems(inbox), []);
    assert.notDeepEqual(restoreInboxProblems({...inbox, runId: 'r/../x'}), []);
    assert.notDeepEqual(
      restoreInboxProblems({...inbox, batches: [{batchId: 'b1', client: 5000, recordings: []}]}),
      [],
    );
    assert.deepEqual(parseRestoreRequest({day: '2026-05-01'}), {day: '2026-05-01'});
    assert.throws(() => parseRestoreRequest({day: '2026-13-01'}), /YYYY-MM-DD/);
    assert.throws(() => parseRestoreRequest({day: '2026-05-01', all: true}), /only "day"/);
    assert.throws(() => parseRestoreRequest('2026-05-01'), /must be an object/);
  });
});
