/**
 * Plan requests with hostile input: refusals name the problem with a short
 * excerpt of the input, never the input itself, and never fail otherwise (a
 * value nested 100,000 deep used to overflow the stack while the refusal was
 * written, which made the planner answer 500, and Cloud Scheduler retry).
 */
import * as assert from 'node:assert';
import {InputError} from '../../functions/core/errors';
import {describeValue, excerpt, parsePlanRequest} from '../../functions/core/plan-request';

const NOW = Date.parse('2023-02-10T12:00:00Z');
const LIMITS = {timeZone: 'UTC', windowLagDays: 3, maxBackfillDays: 31};
const post = (body: unknown, scheduleTime?: string) =>
  parsePlanRequest({method: 'POST', body, scheduleTime}, NOW, LIMITS);

/** The refusal `fn` throws (anything else fails the test). */
function refusal(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    return err;
  }
  assert.fail('the request was accepted');
}

function nested(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('plan requests with hostile input', () => {
  it('should refuse a field nested 100,000 deep by its kind, without serialising it', () => {
    for (const field of ['day', 'from', 'startTime']) {
      const body: Record<string, unknown> = {[field]: nested(100_000)};
      if (field === 'from') body.to = '2023-02-01';
      if (field === 'startTime') body.endTime = '2023-02-02T00:00:00Z';
      const err = refusal(() => post(body));
      assert.match(err.message, new RegExp(`^"${field}" must be .*, got an array$`));
      assert.strictEqual(err.status, 400);
    }
    assert.match(refusal(() => post({day: {a: nested(100_000)}})).message, /got an object$/);
  });

  it('should quote a long value, a long schedule time and many unknown fields only in part', () => {
    const long = 'x'.repeat(1024 * 1024);
    for (const err of [
      refusal(() => post({day: long})),
      refusal(() => post({startTime: long, endTime: long})),
      refusal(() => post({}, long)),
      refusal(() =>
        post(
          Object.fromEntries(Array.from({length: 10_000}, (_, i) => [long.slice(0, 100 + i), 1])),
        ),
      ),
    ]) {
      assert.ok(err.message.length < 400, `a ${err.message.length}-character refusal`);
      assert.ok(err.message.includes('x'.repeat(40) + '…"'), err.message);
      assert.ok(!err.message.includes('x'.repeat(41)), err.message);
    }
    assert.strictEqual(
      refusal(() => post(Object.fromEntries(Array.from({length: 7}, (_, i) => [`k${i}`, 1]))))
        .message,
      'unknown fields: "k0", "k1", "k2", "k3", "k4" and 2 more; known: day, from, to, startTime, endTime, dryRun, checkPrevious',
    );
    assert.match(refusal(() => post({days: 3})).message, /^unknown field: "days"; known: day, /);
  });

  it('should say what a body that is not an object is', () => {
    for (const [body, got] of [
      [null, 'null'],
      ['2023-02-01', '"2023-02-01"'],
      [42, '42'],
      [true, 'true'],
      [['2023-02-01'], 'an array'],
    ] as const) {
      assert.strictEqual(
        refusal(() => post(body)).message,
        `the request body must be a JSON object, e.g. {"day":"2023-02-01"}; got ${got}`,
      );
    }
  });

  it('should keep the values people get wrong readable', () => {
    assert.strictEqual(
      refusal(() => post({day: '2023-02-30'})).message,
      '"day" must be a calendar date YYYY-MM-DD, got "2023-02-30"',
    );
    assert.strictEqual(
      refusal(() => post({day: 20230201})).message,
      '"day" must be a calendar date YYYY-MM-DD, got 20230201',
    );
    assert.strictEqual(excerpt('a"b\n'), '"a\\"b\\n"');
    assert.strictEqual(excerpt('abcdef', 3), '"abc…"');
    assert.strictEqual(describeValue(undefined), 'undefined');
    assert.strictEqual(describeValue({}), 'an object');
  });
});
