import assert from 'node:assert/strict';
import {
  beyondHorizon,
  beyondHorizonMessage,
  historyHorizon,
} from '../../functions/core/history-horizon';

const NOW = Date.parse('2026-12-07T10:00:00Z');

describe('history horizon (pure)', () => {
  it('should take the nearer of the retention setting and ANALYTICS_HORIZON_DAYS, whole days only', () => {
    const set = historyHorizon(NOW, 'UTC', 1826, {retentionDays: 90});
    // 90 days kept: today and the 89 before it.
    assert.equal(set.oldest, '2026-09-09');
    assert.match(set.basis, /maximum interaction data retention \(90 days/);
    assert.deepEqual(beyondHorizon(['2026-09-08', '2026-09-09', '2026-12-06'], set), [
      '2026-09-08',
    ]);
    const longer = historyHorizon(NOW, 'UTC', 1826, {retentionDays: 3000});
    assert.equal(longer.oldest, '2021-12-08');
    assert.match(longer.basis, /^ANALYTICS_HORIZON_DAYS \(1826 days/);
    assert.equal(historyHorizon(NOW, 'UTC', 1826, {none: true}).oldest, '2021-12-08');
  });

  it("should count days in the zone's calendar", () => {
    // 23:30 in New York on the 6th is already the 7th in UTC.
    const late = Date.parse('2026-12-07T04:30:00Z');
    assert.equal(historyHorizon(late, 'America/New_York', 90, {none: true}).oldest, '2026-09-08');
    assert.equal(historyHorizon(late, 'UTC', 90, {none: true}).oldest, '2026-09-09');
  });

  it('should say when the setting is unknown, and why a day is not planned', () => {
    const h = historyHorizon(NOW, 'UTC', 1826, {unknown: 'HTTP 403'});
    assert.match(h.basis, /data retention setting is unknown \(HTTP 403\)/);
    assert.match(
      beyondHorizonMessage('2020-01-01', h),
      /^2020-01-01 is before the history horizon \(2021-12-08, set by ANALYTICS_HORIZON_DAYS .*\): .*an empty plan would call it complete$/,
    );
  });
});
