/** Days in a time zone tile time exactly: property-style checks over many instants and zones. */
import * as assert from 'node:assert';
import {
  addDays,
  dayOf,
  defaultDay,
  isValidDay,
  isValidTimeZone,
  localDate,
  startOfDay,
  windowOf,
} from '../../functions/core/time-window';

const ZONES = [
  'UTC',
  'Europe/Bratislava',
  'Europe/London',
  'America/New_York',
  'America/Sao_Paulo', // historical DST that began at midnight (00:00 → 01:00)
  'America/Havana', // DST transitions at midnight
  'Asia/Kolkata', // +05:30
  'Asia/Kathmandu', // +05:45
  'Australia/Lord_Howe', // 30-minute DST shift
  'Pacific/Apia', // skipped a whole day (2011-12-30)
  'Pacific/Kiritimati', // +14:00
  'Pacific/Pago_Pago', // −11:00
];

/** A deterministic spread of instants from 2010 to 2030. */
function instants(n: number): number[] {
  const out: number[] = [];
  let x = 12345;
  const from = Date.UTC(2010, 0, 1);
  const span = Date.UTC(2030, 0, 1) - from;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out.push(from + Math.floor((x / 2 ** 32) * span));
  }
  return out;
}

describe('core/time-window', () => {
  it('should export 2023-02-01 from a run at 2023-02-04T00:00Z with the default lag (the seed example)', () => {
    assert.strictEqual(defaultDay(Date.parse('2023-02-04T00:00:00Z'), 'UTC', 3), '2023-02-01');
    assert.deepStrictEqual(windowOf('2023-02-01', 'UTC'), {
      startMs: Date.parse('2023-02-01T00:00:00Z'),
      endMs: Date.parse('2023-02-02T00:00:00Z'),
    });
    assert.strictEqual(defaultDay(Date.parse('2023-02-05T00:00:00Z'), 'UTC', 3), '2023-02-02');
  });

  for (const zone of ZONES) {
    it(`should put every instant in exactly one day of ${zone}, and days end where the next begins`, () => {
      for (const t of instants(400)) {
        const day = dayOf(t, zone);
        const w = windowOf(day, zone);
        assert.ok(w.startMs <= t && t < w.endMs, `${new Date(t).toISOString()} not in ${day}`);
        assert.strictEqual(windowOf(addDays(day, 1), zone).startMs, w.endMs, 'no gap, no overlap');
        const hours = (w.endMs - w.startMs) / 3_600_000;
        assert.ok(hours >= 22 && hours <= 26, `${day} in ${zone} lasts ${hours} h`);
      }
    });
  }

  it('should make DST days 23 and 25 hours long', () => {
    const len = (day: string, zone: string) => {
      const w = windowOf(day, zone);
      return (w.endMs - w.startMs) / 3_600_000;
    };
    assert.strictEqual(len('2024-03-31', 'Europe/Bratislava'), 23);
    assert.strictEqual(len('2024-10-27', 'Europe/Bratislava'), 25);
    assert.strictEqual(len('2024-03-10', 'America/New_York'), 23);
    assert.strictEqual(len('2024-11-03', 'America/New_York'), 25);
    assert.strictEqual(len('2024-04-07', 'Australia/Lord_Howe'), 24.5);
  });

  it('should start a day whose midnight is skipped at the end of the gap', () => {
    // Brazil, 2018-11-04: clocks jumped from 00:00 to 01:00.
    const start = startOfDay('2018-11-04', 'America/Sao_Paulo');
    assert.strictEqual(new Date(start).toISOString(), '2018-11-04T03:00:00.000Z');
    assert.strictEqual(localDate(start - 1, 'America/Sao_Paulo'), '2018-11-03');
  });

  it('should handle a fall-back at midnight: the repeated hour belongs to the earlier day', () => {
    // Brazil, 2019-02-17: at 00:00 clocks went back to 23:00 on the 16th.
    const w16 = windowOf('2019-02-16', 'America/Sao_Paulo');
    const w17 = windowOf('2019-02-17', 'America/Sao_Paulo');
    assert.strictEqual(w16.endMs, w17.startMs);
    assert.strictEqual(new Date(w17.startMs).toISOString(), '2019-02-17T03:00:00.000Z');
    assert.strictEqual(w16.endMs - w16.startMs, 25 * 3_600_000);
    const firstPass = w17.startMs - 90 * 60_000; // 23:30 on the 16th, summer time
    const secondPass = w17.startMs - 30 * 60_000; // 23:30 on the 16th again, standard time
    for (const t of [firstPass, secondPass]) {
      assert.strictEqual(localDate(t, 'America/Sao_Paulo'), '2019-02-16');
      assert.strictEqual(dayOf(t, 'America/Sao_Paulo'), '2019-02-16');
    }
  });

  it('should tile a day that does not exist (Samoa skipped 2011-12-30)', () => {
    const w = windowOf('2011-12-30', 'Pacific/Apia');
    assert.strictEqual(w.endMs - w.startMs, 0, 'an empty window');
    assert.strictEqual(windowOf('2011-12-29', 'Pacific/Apia').endMs, w.startMs);
    assert.strictEqual(windowOf('2011-12-31', 'Pacific/Apia').startMs, w.endMs);
  });

  it('should validate days and zones', () => {
    for (const ok of ['2023-02-28', '2024-02-29', '2000-01-01']) assert.ok(isValidDay(ok), ok);
    for (const bad of ['2023-02-29', '2023-13-01', '2023-2-1', '20230201', '2023-02-01T00:00', ''])
      assert.ok(!isValidDay(bad), bad);
    assert.ok(isValidTimeZone('Europe/Bratislava'));
    assert.ok(!isValidTimeZone('Mars/Olympus'));
  });
});
