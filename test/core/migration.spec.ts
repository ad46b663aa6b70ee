import * as assert from 'node:assert';
import {
  MigrationRecord,
  controlMigration,
  decideTick,
  inFlightOf,
  migrationProblems,
  milestoneReached,
  newMigration,
  nextMonth,
  parseMigrationRequest,
} from '../../functions/core/migration';
import {
  estimateMigration,
  migrationStatus,
  migrationStatusText,
} from '../../functions/core/migration-status';
import {nightlyHold} from '../../functions/core/quiet-window';
import {parseCron} from '../../functions/core/cron';
import {migrationMail} from '../../functions/core/migration-mail';
import type {DayState} from '../../functions/core/day-status';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const LATEST = '2026-12-04';

function started(extra: Partial<MigrationRecord> = {}): MigrationRecord {
  return {
    ...newMigration({action: 'start', from: '2026-01-01', to: '2026-01-10'}, 'm1', NOW),
    ...extra,
  };
}

const facts = (f: Partial<Parameters<typeof decideTick>[1]> = {}) => ({
  nowMs: NOW,
  priorityDays: [],
  outstanding: 2,
  ...f,
});

describe('migration (core)', () => {
  describe('parseMigrationRequest', () => {
    it('should take a start, a control action and a tick', () => {
      assert.deepStrictEqual(
        parseMigrationRequest(
          {action: 'start', from: '2024-01-01', to: '2024-12-31', monthlyCallCap: 5},
          LATEST,
        ),
        {action: 'start', from: '2024-01-01', to: '2024-12-31', monthlyCallCap: 5},
      );
      assert.deepStrictEqual(parseMigrationRequest({action: 'tick'}, LATEST), {action: 'tick'});
    });
    it('should refuse what is wrong, naming it', () => {
      const cases: Array<[unknown, RegExp]> = [
        ['tick', /must be an object/],
        [{action: 'go'}, /must be one of start, pause/],
        [{action: 'tick', from: '2024-01-01'}, /takes no other field/],
        [
          {action: 'start', from: '2024-02-30', to: '2024-03-01'},
          /"migration.from" must be a calendar date/,
        ],
        [{action: 'start', from: '2024-03-01', to: '2024-02-01'}, /is before/],
        [{action: 'start', from: '2024-03-01', to: '2026-12-05'}, /too recent/],
        [{action: 'start', from: '2010-01-01', to: '2024-12-31'}, /at most 3660/],
        [
          {action: 'start', from: '2024-01-01', to: '2024-01-02', monthlyCallCap: 0},
          /monthlyCallCap/,
        ],
        [
          {action: 'start', from: '2024-01-01', to: '2024-01-02', extra: 1},
          /unknown migration field "extra"/,
        ],
      ];
      for (const [value, re] of cases)
        assert.throws(() => parseMigrationRequest(value, LATEST), re);
    });
  });

  describe('decideTick', () => {
    it('should plan the first day, then publish within the outstanding bound', () => {
      const m = started();
      assert.deepStrictEqual(decideTick(m, facts()), {do: 'plan', day: '2026-01-01'});
      const on = {
        ...m,
        next: '2026-01-02',
        current: {day: '2026-01-01', runId: 'r1', batches: 5, published: 0, plannedAt: ''},
      };
      assert.deepStrictEqual(decideTick(on, facts({reported: 0})), {do: 'publish', count: 2});
      const two = {...on, current: {...on.current, published: 2}};
      assert.deepStrictEqual(decideTick(two, facts({reported: 0})).do, 'nothing');
      assert.deepStrictEqual(decideTick(two, facts({reported: 1})), {do: 'publish', count: 1});
      const all = {...on, current: {...on.current, published: 5}};
      assert.deepStrictEqual(decideTick(all, facts({reported: 3})), {
        do: 'plan',
        day: '2026-01-02',
      });
    });
    it("should count the previous day's unreported batches in the bound, and plan a third day only once they are reported", () => {
      const previous = {day: '2026-01-01', runId: 'r1', batches: 1, published: 1, plannedAt: ''};
      const on = started({
        next: '2026-01-03',
        previous,
        current: {day: '2026-01-02', runId: 'r2', batches: 3, published: 0, plannedAt: ''},
      });
      assert.deepStrictEqual(decideTick(on, facts({reported: 0, previousInFlight: 1})), {
        do: 'publish',
        count: 1,
      });
      assert.deepStrictEqual(decideTick(on, facts({reported: 0})), {do: 'publish', count: 2});
      const out = {...on, current: {...on.current!, published: 3}};
      assert.deepStrictEqual(decideTick(out, facts({reported: 2, previousInFlight: 1})), {
        do: 'nothing',
        why: '1 batches of 2026-01-01 in flight',
      });
      assert.deepStrictEqual(decideTick(out, facts({reported: 2})), {
        do: 'plan',
        day: '2026-01-03',
      });
      // In flight: published and not reported, until the run is older than the grace.
      const plannedAt = new Date(NOW - 3600_000).toISOString();
      assert.strictEqual(inFlightOf({...previous, published: 3, plannedAt}, 1, NOW, 7200_000), 2);
      assert.strictEqual(inFlightOf({...previous, published: 3, plannedAt}, 1, NOW, 1800_000), 0);
      assert.deepStrictEqual(migrationProblems(on), []);
      assert.ok(migrationProblems({...on, previous: {day: 'x'}}).length > 0);
    });
    it('should publish nothing while a priority day is undecided', () => {
      const a = decideTick(started(), facts({priorityDays: ['2026-12-01']}));
      assert.strictEqual(a.do, 'nothing');
      assert.match((a as {why: string}).why, /priority days undecided: 2026-12-01/);
    });
    it('should publish and plan nothing in the quiet window before the nightly run', () => {
      // 09:50 UTC, ten minutes before a nightly run at 11:00 in Brussels (10:00 UTC).
      const quiet = {
        schedule: parseCron('0 11 * * *'),
        timeZone: 'Europe/Brussels',
        quietMinutes: 15,
      };
      const hold = nightlyHold(quiet, NOW - 10 * 60_000, [])!;
      assert.strictEqual(hold.nightlyAt, '2026-12-07T10:00:00.000Z');
      const on = started({
        next: '2026-01-02',
        current: {day: '2026-01-01', runId: 'r1', batches: 5, published: 1, plannedAt: ''},
      });
      assert.deepStrictEqual(decideTick(on, facts({reported: 1, hold})), {do: 'quiet', hold});
      assert.deepStrictEqual(decideTick(on, facts({reported: 1})), {do: 'publish', count: 2});
      // Nor is the next day planned (its discovery would run into the nightly run).
      const allOut = {...on, current: {...on.current!, published: 5}};
      assert.deepStrictEqual(decideTick(allOut, facts({reported: 5, hold})), {do: 'quiet', hold});
      assert.strictEqual(decideTick(allOut, facts({reported: 5})).do, 'plan');
      // Once the night's day is listed, the priority-day yield holds it instead.
      assert.strictEqual(
        decideTick(on, facts({reported: 1, hold, priorityDays: ['2026-12-04']})).do,
        'nothing',
      );
      // A migration that is not running is not held for anything.
      assert.deepStrictEqual(decideTick(started({state: 'paused'}), facts({hold})), {
        do: 'nothing',
        why: 'paused',
      });
      // The record keeps the hold, and status says so in the schedule's zone.
      const held = {...on, quiet: hold};
      assert.deepStrictEqual(migrationProblems(held), []);
      assert.ok(migrationProblems({...on, quiet: {...hold, timeZone: 'Mars/Base'}}).length > 0);
      const text = migrationStatusText(migrationStatus(held, [], NOW - 10 * 60_000));
      assert.match(
        text,
        /Holding: quiet for the nightly run at 11:00 \(Europe\/Brussels\): since 10:45, until its day is planned \(11:30 at the latest\)/,
      );
      assert.doesNotMatch(migrationStatusText(migrationStatus(on, [], NOW)), /Holding/);
    });
    it('should finish only once the last day is decided', () => {
      const last = started({
        next: undefined,
        current: {day: '2026-01-10', runId: 'r', batches: 1, published: 1, plannedAt: ''},
      });
      delete last.next;
      assert.strictEqual(decideTick(last, facts({currentDecided: false})).do, 'nothing');
      assert.deepStrictEqual(decideTick(last, facts({currentDecided: true})), {do: 'finish'});
    });
    it('should pause at the monthly cap and resume in the next month', () => {
      const capped = started({monthlyCallCap: 100, calls: {'2026-12': 100}});
      assert.deepStrictEqual(decideTick(capped, facts()), {
        do: 'pause-cap',
        month: '2026-12',
        reached: true,
        restoreCalls: 0,
      });
      const paused = {
        ...capped,
        state: 'paused' as const,
        pause: {by: 'monthly-cap' as const, at: '', untilMonth: '2027-01'},
      };
      assert.strictEqual(decideTick(paused, facts()).do, 'nothing');
      assert.deepStrictEqual(
        decideTick(paused, facts({nowMs: Date.parse('2027-01-01T00:00:01Z')})),
        {do: 'resume-month'},
      );
      assert.strictEqual(nextMonth('2026-12'), '2027-01');
      assert.strictEqual(nextMonth('2027-01'), '2027-02');
    });
    it('should pause before planning a day that the measured calls per day would take past the cap', () => {
      // Four days decided for 4,000 calls in all (1,000 a day, discovery included); the day in
      // flight, 2026-01-05, is not counted yet. This month has 3,000: the day in flight and the
      // next would take it to about 5,000, within a cap of 5,500; a cap of 4,500 would be passed.
      const day = (d: string) => ({day: d, runId: 'r', batches: 2, published: 2, plannedAt: ''});
      const m = started({
        next: '2026-01-06',
        planned: ['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05'],
        counted: ['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04'],
        current: day('2026-01-05'),
      });
      const within = {...m, monthlyCallCap: 5500, calls: {'2026-11': 1000, '2026-12': 3000}};
      assert.deepStrictEqual(decideTick(within, facts({reported: 2})), {
        do: 'plan',
        day: '2026-01-06',
      });
      const past = {...within, monthlyCallCap: 4500};
      assert.deepStrictEqual(decideTick(past, facts({reported: 2})), {
        do: 'pause-cap',
        month: '2026-12',
        reached: false,
        restoreCalls: 0,
      });
      // Without a cap, or before any day is decided (nothing measured), it plans on.
      const {monthlyCallCap: _c, ...uncapped} = past;
      assert.strictEqual(decideTick(uncapped, facts({reported: 2})).do, 'plan');
      assert.strictEqual(decideTick({...past, counted: []}, facts({reported: 2})).do, 'plan');
      // A planned day no longer in flight (its batches reported) but not decided yet is charged
      // too: 3,000 + 1,333 × (2 + 1) = 7,000 > 6,000.
      const undecided = {
        ...within,
        monthlyCallCap: 6000,
        counted: ['2026-01-01', '2026-01-02', '2026-01-03'],
      };
      assert.strictEqual(decideTick(undecided, facts({reported: 2})).do, 'pause-cap');
      // The restores' calls of the month count too: 3,000 + 1,000 of theirs + 2,000 > 5,500.
      assert.deepStrictEqual(decideTick(within, facts({reported: 2, restoreCalls: 1000})), {
        do: 'pause-cap',
        month: '2026-12',
        reached: false,
        restoreCalls: 1000,
      });
      assert.deepStrictEqual(
        decideTick(within, facts({reported: 2, restoreCalls: 2500})),
        {do: 'pause-cap', month: '2026-12', reached: true, restoreCalls: 2500},
        'at the cap with theirs',
      );
      // The first day of a month always goes, even when one day costs more than the cap.
      const small = {...within, monthlyCallCap: 500, calls: {'2026-11': 4000}};
      assert.strictEqual(decideTick(small, facts({reported: 2})).do, 'plan');
    });
    it('should do nothing for a paused, cancelled or done migration', () => {
      for (const state of ['paused', 'cancelled', 'done'] as const)
        assert.strictEqual(decideTick(started({state}), facts()).do, 'nothing');
    });
  });

  it('should pause, resume and cancel, refusing what cannot be', () => {
    const m = started();
    const p = controlMigration(m, 'pause', NOW);
    assert.strictEqual(p.state, 'paused');
    assert.throws(() => controlMigration(p, 'pause', NOW), /paused already/);
    assert.strictEqual(controlMigration(p, 'resume', NOW).state, 'running');
    assert.throws(() => controlMigration(m, 'resume', NOW), /is not paused/);
    const c = controlMigration(m, 'cancel', NOW);
    assert.throws(() => controlMigration(c, 'resume', NOW), /is cancelled/);
    const capped = {
      ...m,
      state: 'paused' as const,
      pause: {by: 'monthly-cap' as const, at: '', untilMonth: '2027-01'},
    };
    assert.throws(() => controlMigration(capped, 'resume', NOW), /resumes by itself in 2027-01/);
  });

  it('should tell each quarter once, and done only when finished', () => {
    assert.strictEqual(milestoneReached(2, 10, 0), undefined);
    assert.strictEqual(milestoneReached(3, 10, 0), 25);
    assert.strictEqual(milestoneReached(8, 10, 25), 75);
    assert.strictEqual(milestoneReached(10, 10, 75), undefined);
  });

  it('should find what is wrong with a stored record', () => {
    assert.deepStrictEqual(migrationProblems(started()), []);
    assert.ok(migrationProblems({...started(), state: 'odd'}).length > 0);
    assert.ok(migrationProblems({...started(), current: {day: 'x'}}).length > 0);
    assert.deepStrictEqual(migrationProblems([]), ['not a JSON object']);
  });

  it('should report progress, rate and an ETA from the days decided', () => {
    const m = started({
      createdAt: new Date(NOW - 2 * 3600_000).toISOString(),
      planned: ['2026-01-01', '2026-01-02', '2026-01-03'],
      skipped: 1,
      calls: {'2026-12': 600, '2026-11': 0},
    });
    const totals = {call: {expected: 2, exported: 2, skipped: 0, failed: 0, bytes: 1000}};
    const states = [
      {day: '2026-01-01', state: 'success', autoReruns: 0, totals},
      {day: '2026-01-02', state: 'failure', autoReruns: 0, totals},
      {day: '2026-01-03', state: 'running', autoReruns: 0},
    ] as DayState[];
    const s = migrationStatus(m, states, NOW);
    assert.deepStrictEqual(s.days, {
      total: 10,
      success: 1,
      failure: 1,
      running: 1,
      skipped: 1,
      beyond: 0,
      left: 6,
    });
    assert.strictEqual(s.recordings, 4);
    assert.strictEqual(s.bytes, 2000);
    assert.deepStrictEqual(s.calls, {thisMonth: 600, total: 600});
    assert.strictEqual(s.rate.daysPerHour, 1.5);
    assert.strictEqual(s.eta, new Date(NOW + (7 / 1.5) * 3600_000).toISOString());
    assert.deepStrictEqual(s.failed, ['2026-01-02']);
  });

  it('should estimate calls, time, bytes and cost from sampled days', () => {
    const e = estimateMigration({
      days: 1095,
      samples: [{day: 'a', conversations: 20_000}],
      clients: 4,
      perClientPerMinute: 3000,
      perTokenPerMinute: 300,
      workers: 10,
      sharePercent: 50,
      bytesPerConversation: 1_000_000,
      bytesBasis: 'given',
    });
    assert.strictEqual(e.conversations, 21_900_000);
    assert.strictEqual(e.calls, Math.round(21_900_000 * 1.05));
    assert.strictEqual(e.callsPerMinute, 4 * 2700 * 0.5);
    assert.ok(Math.abs(e.hours - e.calls / 5400 / 60) < 1e-9);
    assert.ok(Math.abs(e.costPerMonth.STANDARD - ((21_900_000 * 1e6) / 1024 ** 3) * 0.02) < 1e-6);
  });

  it('should name failed days in the summary email and say how to go on when capped', () => {
    const m = started({
      counted: ['2026-01-01', '2026-01-02'],
      failed: ['2026-01-02'],
      calls: {'2026-12': 7},
    });
    const done = migrationMail(m, {kind: 'milestone', percent: 100}, {env: 'e', bucket: 'b'});
    assert.match(done.subject, /is done: 2026-01-01 to 2026-01-10/);
    assert.match(done.text, /Days that ended _FAILURE[^\n]*\n {2}2026-01-02/);
    const paused = {
      ...m,
      monthlyCallCap: 10,
      state: 'paused' as const,
      pause: {
        by: 'monthly-cap' as const,
        at: '2026-12-06T10:00:00.000Z',
        untilMonth: '2027-01',
      },
    };
    const where = {env: 'e', bucket: 'b'};
    const capped = migrationMail(
      paused,
      {kind: 'capped', untilMonth: '2027-01', reached: false, restoreCalls: 0},
      where,
    );
    assert.match(capped.subject, /paused at its monthly call cap/);
    assert.match(
      capped.text,
      /This month it made 7 calls, of its cap of 10: a decided day cost about 4 calls, so another day would pass it/,
    );
    // Reached with the restores' calls: said as such, theirs named.
    const reached = migrationMail(
      paused,
      {kind: 'capped', untilMonth: '2027-01', reached: true, restoreCalls: 3},
      where,
    );
    assert.match(
      reached.text,
      /This month it made 7 calls and the restores of archived recordings 3, of its cap of 10: the cap is reached\./,
    );
    assert.match(capped.text, /until 2027-01; it resumes by itself then/);
    assert.ok(!capped.html.includes('<script'), 'escaped');
  });
});
