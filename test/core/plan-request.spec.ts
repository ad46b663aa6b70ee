/** What the planner is asked to do: defaults, explicit forms, and every refusal. */
import * as assert from 'node:assert';
import {parsePlanRequest} from '../../functions/core/plan-request';
import {InputError} from '../../functions/core/errors';

const NOW = Date.parse('2023-02-10T12:00:00Z');
const LIMITS = {timeZone: 'UTC', windowLagDays: 3, maxBackfillDays: 31};
const post = (body: unknown, scheduleTime?: string) =>
  parsePlanRequest({method: 'POST', body, scheduleTime}, NOW, LIMITS);

describe('core/plan-request', () => {
  it('should plan the lagged day for Cloud Scheduler, using its schedule time', () => {
    assert.deepStrictEqual(post(undefined, '2023-02-04T00:00:00Z').days, ['2023-02-01']);
    assert.strictEqual(post(undefined, '2023-02-04T00:00:00Z').trigger, 'schedule');
    assert.deepStrictEqual(post({}).days, ['2023-02-07']);
  });

  it('should read a day, a range and whole-day instants, and dry runs', () => {
    assert.deepStrictEqual(post({day: '2023-02-03'}).days, ['2023-02-03']);
    assert.deepStrictEqual(post({from: '2023-01-30', to: '2023-02-02'}).days, [
      '2023-01-30',
      '2023-01-31',
      '2023-02-01',
      '2023-02-02',
    ]);
    assert.deepStrictEqual(
      post({startTime: '2023-02-01T00:00:00Z', endTime: '2023-02-03T00:00:00.000Z'}).days,
      ['2023-02-01', '2023-02-02'],
    );
    assert.strictEqual(post({day: '2023-02-03', dryRun: true}).dryRun, true);
  });

  it('should read whole days in another zone', () => {
    const r = parsePlanRequest(
      {method: 'POST', body: {startTime: '2023-01-31T23:00:00Z', endTime: '2023-02-01T23:00:00Z'}},
      NOW,
      {...LIMITS, timeZone: 'Europe/Bratislava'},
    );
    assert.deepStrictEqual(r.days, ['2023-02-01']);
  });

  const refusals: Array<[string, () => unknown, number, RegExp]> = [
    ['a GET', () => parsePlanRequest({method: 'GET', body: {}}, NOW, LIMITS), 405, /use POST/],
    ['an array body', () => post([]), 400, /JSON object/],
    ['an unknown field', () => post({days: 3}), 400, /unknown field/],
    [
      'two forms at once',
      () => post({day: '2023-02-01', from: '2023-02-01', to: '2023-02-02'}),
      400,
      /give one of/,
    ],
    ['a malformed day', () => post({day: '01/02/2023'}), 400, /calendar date/],
    ['to before from', () => post({from: '2023-02-02', to: '2023-02-01'}), 400, /before/],
    [
      'a range over the limit',
      () => post({from: '2022-01-01', to: '2022-12-31'}),
      413,
      /at most 31/,
    ],
    [
      'instants without a zone',
      () => post({startTime: '2023-02-01T00:00:00', endTime: '2023-02-02T00:00:00Z'}),
      400,
      /ISO-8601 instant/,
    ],
    [
      'instants that are not midnights',
      () => post({startTime: '2023-02-01T06:00:00Z', endTime: '2023-02-02T00:00:00Z'}),
      400,
      /midnights/,
    ],
    [
      'an end before the start',
      () => post({startTime: '2023-02-02T00:00:00Z', endTime: '2023-02-01T00:00:00Z'}),
      400,
      /after/,
    ],
    ['a day inside the lag', () => post({day: '2023-02-08'}), 409, /too recent/],
    ['a non-boolean dryRun', () => post({day: '2023-02-01', dryRun: 'yes'}), 400, /dryRun/],
    ['a bad schedule header', () => post(undefined, 'yesterday'), 400, /ScheduleTime/],
  ];
  for (const [name, fn, status, message] of refusals) {
    it(`should refuse ${name} with ${status}`, () => {
      assert.throws(
        fn,
        (e: Error) => e instanceof InputError && e.status === status && message.test(e.message),
      );
    });
  }
});
