import * as assert from 'node:assert';
import {addCalls, isMonthlyCalls, monthOf, totalCalls} from '../../functions/core/monthly-calls';

describe('monthly calls', () => {
  it('should count calls per UTC month and in all', () => {
    assert.strictEqual(monthOf(Date.parse('2026-12-31T23:59:59Z')), '2026-12');
    assert.strictEqual(monthOf(Date.parse('2027-01-01T00:30:00+01:00')), '2026-12');
    const calls = addCalls(addCalls(undefined, '2026-12', 5), '2026-12', 2);
    assert.deepStrictEqual(addCalls(calls, '2027-01', 1), {'2026-12': 7, '2027-01': 1});
    assert.deepStrictEqual(calls, {'2026-12': 7}, 'not changed in place');
    assert.strictEqual(totalCalls({'2026-11': 3, '2026-12': 7}), 10);
    assert.strictEqual(totalCalls(undefined), 0);
  });

  it('should take only a map of YYYY-MM months to counts', () => {
    assert.ok(isMonthlyCalls({}));
    assert.ok(isMonthlyCalls({'2026-12': 0}));
    for (const bad of [
      null,
      [],
      'x',
      {december: 1},
      {'2026-12': -1},
      {'2026-12': 1.5},
      {'2026-12': '3'},
    ])
      assert.ok(!isMonthlyCalls(bad), JSON.stringify(bad));
  });
});
