import * as assert from 'node:assert';
import {parseConfig} from '../../functions/config';
import {CronSchedule, cronFiresAt, parseCron} from '../../functions/core/cron';
import {ConfigError} from '../../functions/core/errors';
import {
  NIGHTLY_LISTED_WITHIN_MINUTES,
  QuietSettings,
  holdText,
  nightlyHold,
  quietStarts,
} from '../../functions/core/quiet-window';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const settings = (schedule: string, timeZone = 'UTC', quietMinutes = 15): QuietSettings => ({
  schedule: parseCron(schedule),
  timeZone,
  quietMinutes,
});
/** The scheduled start a hold is for at `now` (ISO), or undefined. */
const holdAt = (s: QuietSettings, now: string, listed: string[] = []) =>
  nightlyHold(s, at(now), listed.map(at))?.nightlyAt;

describe('the nightly schedule and the quiet window before it (core)', () => {
  describe('parseCron', () => {
    const fires = (c: CronSchedule, wall: string) => cronFiresAt(c, at(`${wall}Z`));

    it('should read the forms Cloud Scheduler documents: numbers, names, ranges, steps, lists', () => {
      const daily = parseCron(' 30   2 * * * ');
      assert.strictEqual(daily.text, '30 2 * * *');
      assert.ok(fires(daily, '2027-01-05T02:30:00'));
      assert.ok(!fires(daily, '2027-01-05T02:31:00'));
      assert.ok(!fires(daily, '2027-01-05T03:30:00'));

      const weekdays = parseCron('0 2 * * 1-5'); // 2027-01-08 is a Friday, 01-09 a Saturday
      assert.ok(fires(weekdays, '2027-01-08T02:00:00'));
      assert.ok(!fires(weekdays, '2027-01-09T02:00:00'));
      const named = parseCron('0 0 * * mon,THU');
      assert.deepStrictEqual([...named.daysOfWeek].sort(), [1, 4]);
      assert.deepStrictEqual([...parseCron('0 0 * * 7').daysOfWeek], [0], '7 is Sunday');
      assert.deepStrictEqual([...parseCron('0 0 * * 5-7').daysOfWeek].sort(), [0, 5, 6]);
      assert.deepStrictEqual([...parseCron('*/20 0-4/2 * * *').minutes], [0, 20, 40]);
      assert.deepStrictEqual([...parseCron('*/20 0-4/2 * * *').hours], [0, 2, 4]);
      assert.deepStrictEqual([...parseCron('0 0 1,15 JAN-MAR *').months], [1, 2, 3]);
      assert.ok(fires(parseCron('0 0 1,15 JAN-MAR *'), '2027-02-15T00:00:00'));
      assert.ok(!fires(parseCron('0 0 1,15 JAN-MAR *'), '2027-04-15T00:00:00'));
    });

    it('should refuse, saying why, what it cannot read exactly', () => {
      const cases: Array<[string, RegExp]> = [
        ['0 2 * *', /not five fields/],
        ['0 0 * * * ; rm', /not five fields/],
        ['@daily', /not five fields/],
        ['every 24 hours', /App Engine cron syntax/],
        ['60 2 * * *', /minute 60 is not from 0 to 59/],
        ['0 24 * * *', /hour 24 is not from 0 to 23/],
        ['0 2 0 * *', /day of the month 0/],
        ['0 2 * 13 *', /month 13/],
        ['0 2 * * 8', /day of the week 8/],
        ['0 2 L * *', /"L" is not a day of the month/],
        ['0 2 ? * *', /"\?" is not a day of the month/],
        ['0 2 * * 5#3', /"5#3" is not a day of the week/],
        ['5/10 2 * * *', /a step follows a range or "\*"/],
        ['*/0 2 * * *', /step must be at least 1/],
        ['0 2 * * FRI-MON', /wraps around/],
        ['0 2 1 * MON', /restricts both the day of the month and the day of the week/],
        ['0 2 1-2-3 * *', /not a range/],
      ];
      for (const [text, problem] of cases) assert.throws(() => parseCron(text), problem, text);
    });

    it('should make a schedule it cannot read a ConfigError at start, and unset no schedule', () => {
      const base = {
        GOOGLE_CLOUD_PROJECT: 'p',
        BUCKET: 'b',
        EXPORT_ENV: 'brave',
        DEVELOPER_EMAILS: 'dev@example.com',
        MAIL_FROM: 'archive@example.com',
      };
      assert.strictEqual(parseConfig(base).schedule, undefined);
      assert.strictEqual(parseConfig(base).migrationQuietMinutes, 15);
      const c = parseConfig({...base, SCHEDULE: '0 2 * * *', MIGRATION_QUIET_MINUTES: '0'});
      assert.strictEqual(c.schedule, '0 2 * * *');
      assert.strictEqual(c.migrationQuietMinutes, 0);
      assert.throws(
        () => parseConfig({...base, SCHEDULE: 'every day 02:00', MIGRATION_QUIET_MINUTES: '-1'}),
        (e: Error) => {
          assert.ok(e instanceof ConfigError);
          assert.match(e.message, /SCHEDULE "every day 02:00" is App Engine cron syntax/);
          assert.match(e.message, /MIGRATION_QUIET_MINUTES must be an integer from 0 to 720/);
          return true;
        },
      );
    });
  });

  describe('nightlyHold', () => {
    it('should hold from Q minutes before the start until a day is listed after it', () => {
      const s = settings('0 2 * * *');
      assert.strictEqual(holdAt(s, '2027-01-05T01:44:59Z'), undefined);
      assert.strictEqual(holdAt(s, '2027-01-05T01:45:00Z'), '2027-01-05T02:00:00.000Z');
      assert.strictEqual(holdAt(s, '2027-01-05T01:59:59Z'), '2027-01-05T02:00:00.000Z');
      // After the start: until the nightly run lists its day.
      assert.strictEqual(holdAt(s, '2027-01-05T02:03:00Z'), '2027-01-05T02:00:00.000Z');
      assert.strictEqual(holdAt(s, '2027-01-05T02:04:00Z', ['2027-01-05T02:03:10Z']), undefined);
      // A day listed before the start (an operator's rerun) does not end it.
      assert.strictEqual(
        holdAt(s, '2027-01-05T01:55:00Z', ['2027-01-05T01:50:00Z']),
        '2027-01-05T02:00:00.000Z',
      );
      assert.strictEqual(
        holdAt(s, '2027-01-05T02:10:00Z', ['2027-01-05T01:50:00Z']),
        '2027-01-05T02:00:00.000Z',
      );
      // Never listed: the migration goes on once the planner's timeout has passed.
      assert.strictEqual(NIGHTLY_LISTED_WITHIN_MINUTES, 30);
      assert.strictEqual(holdAt(s, '2027-01-05T02:29:59Z'), '2027-01-05T02:00:00.000Z');
      assert.strictEqual(holdAt(s, '2027-01-05T02:30:00Z'), undefined);
      const h = nightlyHold(s, at('2027-01-05T01:50:00Z'), [])!;
      assert.deepStrictEqual(h, {
        nightlyAt: '2027-01-05T02:00:00.000Z',
        from: '2027-01-05T01:45:00.000Z',
        latest: '2027-01-05T02:30:00.000Z',
        timeZone: 'UTC',
      });
    });

    it('should keep a window that crosses midnight (and the new year)', () => {
      const s = settings('5 0 * * *', 'UTC', 15);
      assert.strictEqual(holdAt(s, '2026-12-31T23:49:59Z'), undefined);
      assert.strictEqual(holdAt(s, '2026-12-31T23:50:00Z'), '2027-01-01T00:05:00.000Z');
      assert.strictEqual(holdAt(s, '2027-01-01T00:01:00Z'), '2027-01-01T00:05:00.000Z');
      // And one that starts the evening before in a zone east of UTC.
      const brussels = settings('10 0 * * *', 'Europe/Brussels', 20);
      assert.strictEqual(holdAt(brussels, '2027-01-04T22:49:00Z'), undefined);
      assert.strictEqual(holdAt(brussels, '2027-01-04T22:50:00Z'), '2027-01-04T23:10:00.000Z');
    });

    it('should only hold before the days the schedule runs on', () => {
      const s = settings('0 2 * * 1-5');
      assert.strictEqual(holdAt(s, '2027-01-08T01:50:00Z'), '2027-01-08T02:00:00.000Z'); // Friday
      assert.strictEqual(holdAt(s, '2027-01-09T01:50:00Z'), undefined); // Saturday
    });

    it('should read the schedule in its time zone, summer and winter', () => {
      const s = settings('0 2 * * *', 'Europe/Brussels');
      assert.strictEqual(holdAt(s, '2027-01-05T00:50:00Z'), '2027-01-05T01:00:00.000Z'); // CET
      assert.strictEqual(holdAt(s, '2027-07-05T23:50:00Z'), '2027-07-06T00:00:00.000Z'); // CEST
      assert.strictEqual(holdAt(s, '2027-07-06T00:50:00Z'), undefined);
    });

    it('should hold before both readings of a time the clocks skip (Brussels, 28 March 2027)', () => {
      // 02:30 does not exist that night (02:00 CET → 03:00 CEST): read with the offset before
      // the change it is 01:30Z, with the offset after it 00:30Z.
      const s = settings('30 2 * * *', 'Europe/Brussels');
      assert.deepStrictEqual(quietStarts(s, at('2027-03-28T00:20:00Z')).map(iso), [
        '2027-03-28T00:30:00.000Z',
      ]);
      assert.strictEqual(holdAt(s, '2027-03-28T00:15:00Z'), '2027-03-28T00:30:00.000Z');
      // Listed after the earlier reading: the later one still gets its quiet.
      assert.strictEqual(holdAt(s, '2027-03-28T00:40:00Z', ['2027-03-28T00:31:00Z']), undefined);
      assert.strictEqual(
        holdAt(s, '2027-03-28T01:15:00Z', ['2027-03-28T00:31:00Z']),
        '2027-03-28T01:30:00.000Z',
      );
      // The next day is an ordinary CEST day.
      assert.strictEqual(holdAt(s, '2027-03-29T00:20:00Z'), '2027-03-29T00:30:00.000Z');
    });

    it('should hold before both times a scheduled time happens (Brussels, 31 October 2027)', () => {
      // 02:30 happens twice that night: 00:30Z (CEST) and 01:30Z (CET).
      const s = settings('30 2 * * *', 'Europe/Brussels');
      assert.strictEqual(holdAt(s, '2027-10-31T00:20:00Z'), '2027-10-31T00:30:00.000Z');
      assert.strictEqual(
        holdAt(s, '2027-10-31T01:20:00Z', ['2027-10-31T00:32:00Z']),
        '2027-10-31T01:30:00.000Z',
      );
      assert.strictEqual(
        holdAt(s, '2027-10-31T01:31:00Z', ['2027-10-31T00:32:00Z']),
        '2027-10-31T01:30:00.000Z',
      );
      assert.strictEqual(
        holdAt(s, '2027-10-31T01:31:00Z', ['2027-10-31T00:32:00Z', '2027-10-31T01:30:30Z']),
        undefined,
      );
    });

    it('should never hold with Q = 0 or without a schedule', () => {
      for (const now of ['2027-01-05T01:59:00Z', '2027-01-05T02:00:00Z', '2027-01-05T02:10:00Z']) {
        assert.strictEqual(holdAt(settings('0 2 * * *', 'UTC', 0), now), undefined);
        assert.strictEqual(holdAt({timeZone: 'UTC', quietMinutes: 15}, now), undefined);
      }
    });

    it('should say what it holds for in the time zone of the schedule', () => {
      const h = nightlyHold(
        settings('30 2 * * *', 'Europe/Brussels'),
        at('2027-01-05T01:20:00Z'),
        [],
      )!;
      assert.strictEqual(
        holdText(h),
        'quiet for the nightly run at 02:30 (Europe/Brussels): since 02:15, until its day is planned (03:00 at the latest)',
      );
    });
  });
});
