/**
 * `grm report`'s page from its data: each day's look (a waived _SUCCESS
 * apart), the range's sums, month grids for any range up to a leap year,
 * counts and gaps with their fix inside each day, the charts, and escaping
 * of everything read from the bucket (a hostile gap reason stays text).
 */
import * as assert from 'node:assert';
import {createHash} from 'node:crypto';
import type {DayState} from '../../functions/core/day-status';
import {dayLook, lookStyle, reportModel} from '../../functions/core/report-model';
import {reportPage} from '../../functions/core/report-page';
import {addDays} from '../../functions/core/time-window';

const totals = (exported: number, failed = 0, waived = 0, bytes = exported * 1000) => {
  const t = {expected: exported + failed + waived, exported, skipped: 0, failed, waived, bytes};
  return {all: t, call: t};
};

function model(states: DayState[], over: Partial<Parameters<typeof reportModel>[0]> = {}) {
  return reportModel({
    bucket: 'recordings',
    env: 'prod',
    project: 'p1',
    from: states[0]!.day,
    to: states[states.length - 1]!.day,
    generatedAt: '2026-10-12T06:00:00.000Z',
    states,
    ...over,
  });
}

/** Every day of a range, never planned unless `pick` says otherwise. */
function range(from: string, to: string, pick: (day: string) => Partial<DayState> = () => ({})) {
  const out: DayState[] = [];
  for (let d = from; d <= to; d = addDays(d, 1))
    out.push({day: d, state: 'never planned', autoReruns: 0, ...pick(d)});
  return out;
}

const HOSTILE = '<script>window.pwned=1</script><img src=x onerror="alert(1)">&amp;\'"';

describe('grm report page', () => {
  it('should give each state its look, a _SUCCESS with waived recordings its own', () => {
    assert.strictEqual(dayLook({state: 'success', totals: totals(3)}), 'success');
    assert.strictEqual(dayLook({state: 'success', totals: totals(3, 0, 1)}), 'waived');
    assert.strictEqual(dayLook({state: 'failure', totals: totals(3, 2, 1)}), 'failure');
    assert.strictEqual(dayLook({state: 'running'}), 'running');
    assert.strictEqual(dayLook({state: 'never planned'}), 'never planned');
    const colours = new Set(
      (['success', 'waived', 'failure', 'running', 'never planned'] as const).map(
        l => lookStyle(l).colour,
      ),
    );
    assert.strictEqual(colours.size, 5, 'five distinct colours');
  });

  it('should count the days of each look, sum the decided days, and give each gap reason its fix', () => {
    const m = model([
      {day: '2026-10-05', state: 'success', totals: totals(10), autoReruns: 0},
      {
        day: '2026-10-06',
        state: 'failure',
        runId: 'r1',
        totals: totals(4, 3),
        gapsByReason: [
          {reason: 'fileState ARCHIVED', count: 2},
          {reason: 'something odd', count: 1},
        ],
        autoReruns: 1,
        email: 'sent 2026-10-09T00:00:00Z',
      },
      {day: '2026-10-07', state: 'success', totals: totals(2, 0, 1), autoReruns: 0},
      {day: '2026-10-08', state: 'running', since: 'x', reported: 1, batches: 3, autoReruns: 0},
      {day: '2026-10-09', state: 'never planned', autoReruns: 0},
    ]);
    assert.deepStrictEqual(m.looks, {
      success: 1,
      waived: 1,
      failure: 1,
      running: 1,
      'never planned': 1,
    });
    assert.strictEqual(m.totals.all.exported, 16);
    assert.strictEqual(m.totals.all.failed, 3);
    assert.strictEqual(m.totals.all.waived, 1);
    assert.strictEqual(m.totals.call.bytes, 16_000);
    const failed = m.days[1]!;
    assert.match(failed.gaps[0]!.action, /restore the recordings from the archive/);
    assert.match(failed.gaps[1]!.action, /grm replay 2026-10-06/);
    assert.deepStrictEqual([m.days[3]!.reported, m.days[3]!.batches], [1, 3]);
  });

  it('should draw one grid per month, weeks from Monday, for a leap year and across a new year', () => {
    const year = reportPage(model(range('2024-01-01', '2024-12-31')));
    assert.strictEqual((year.match(/<section class="month"/g) ?? []).length, 12);
    assert.strictEqual((year.match(/<details class="day/g) ?? []).length, 366);
    assert.ok(year.includes('data-day="2024-02-29"'));
    // 2024-01-01 is a Monday: no blank cell before it; 2024-02-01 is a Thursday: three.
    const jan = /aria-label="January 2024">.*?<\/section>/.exec(year)![0];
    const feb = /aria-label="February 2024">.*?<\/section>/.exec(year)![0];
    assert.strictEqual((jan.match(/class="blank"/g) ?? []).length, 0);
    assert.strictEqual((feb.match(/class="blank"/g) ?? []).length, 3);
    const turn = reportPage(model(range('2025-12-30', '2026-01-02')));
    assert.deepStrictEqual(
      [...turn.matchAll(/<section class="month" aria-label="([^"]+)"/g)].map(m => m[1]),
      ['December 2025', 'January 2026'],
    );
    // Days of those months outside the range are drawn, but not as days of the report.
    assert.strictEqual((turn.match(/<details class="day/g) ?? []).length, 4);
    assert.strictEqual((turn.match(/<div class="cell out">/g) ?? []).length, 31 + 31 - 4);
  });

  it('should open each day on its counts by type, size, and gaps by reason with their fix', () => {
    const page = reportPage(
      model([
        {
          day: '2026-10-06',
          state: 'failure',
          runId: 'r1',
          totals: {
            all: {
              expected: 7,
              exported: 4,
              skipped: 0,
              failed: 3,
              waived: 0,
              bytes: 3 * 1024 * 1024,
            },
            call: {expected: 5, exported: 3, skipped: 0, failed: 2, bytes: 3 * 1024 * 1024},
            chat: {expected: 2, exported: 1, skipped: 0, failed: 1, bytes: 0},
            email: {expected: 0, exported: 0, skipped: 0, failed: 0, bytes: 0},
          },
          gapsByReason: [{reason: 'fileState UPLOADING', count: 3}],
          autoReruns: 0,
        },
      ]),
    );
    const day =
      /<details class="day[^"]*" name="day" id="day-2026-10-06"[^>]*data-look="failure">.*?<\/details>/.exec(
        page,
      )![0];
    assert.match(
      day,
      /<td>call<\/td><td>5<\/td><td>3<\/td><td>0<\/td><td>2<\/td><td>0<\/td><td>3\.0 MiB<\/td>/,
    );
    assert.match(day, /<td>chat<\/td>/);
    assert.doesNotMatch(day, /<td>email<\/td>/, 'types without recordings left out');
    assert.match(day, /3 gaps by reason/);
    assert.match(
      day,
      /3 ×<\/span> <span class="reason">fileState UPLOADING<\/span><div class="fix">fix: wait until the upload/,
    );
  });

  it('should escape every text from the bucket, so a hostile gap reason stays text', () => {
    const page = reportPage(
      model(
        [
          {
            day: '2026-10-06',
            state: 'failure',
            runId: HOSTILE,
            totals: totals(1, 1),
            gapsByReason: [{reason: HOSTILE, count: 1}],
            autoReruns: 0,
            email: HOSTILE,
          },
        ],
        {bucket: HOSTILE, env: HOSTILE, project: HOSTILE},
      ),
    );
    assert.ok(!page.includes('<script>window.pwned'), 'no script from the bucket');
    assert.ok(!page.includes('<img'), 'no element from the bucket');
    assert.ok(!page.includes('onerror="'), 'no attribute from the bucket');
    assert.ok(page.includes('&lt;script&gt;window.pwned=1&lt;/script&gt;'));
    assert.strictEqual((page.match(/<script>/g) ?? []).length, 1, "only the page's own script");
    // The Content-Security-Policy lets that one script run, and nothing else.
    const script = /<script>(.*?)<\/script>/s.exec(page)![1]!;
    const hash = createHash('sha256').update(script).digest('base64');
    assert.ok(page.includes(`script-src 'sha256-${hash}'`));
    assert.ok(page.includes("default-src 'none'"));
  });

  it('should chart recordings and bytes per day by type, and gaps by reason with the rare ones together', () => {
    const reasons = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const page = reportPage(
      model(
        range('2026-10-01', '2026-10-08', d => ({
          state: 'failure',
          totals: totals(Number(d.slice(8)), 1),
          gapsByReason: reasons.map((reason, i) => ({reason: `reason ${reason}`, count: 8 - i})),
        })),
      ),
    );
    assert.match(page, /<title>2026-10-03 call: 3<\/title>/);
    assert.match(page, /<title>2026-10-03 call: 2\.9 KiB<\/title>/);
    assert.match(page, /<title>2026-10-03 reason a: 8<\/title>/);
    assert.match(page, /<title>2026-10-03 other reasons: 3<\/title>/, 'g and h together');
    assert.doesNotMatch(page, /<title>[^<]*reason g: /);
    const empty = reportPage(model(range('2026-10-01', '2026-10-03')));
    assert.strictEqual((empty.match(/nothing in this range/g) ?? []).length, 3);
  });

  it('should list at most 12 reasons in a day, counting the others (reasons naming objects are one per gap)', () => {
    const page = reportPage(
      model(
        range('2026-10-01', '2026-10-01', () => ({
          state: 'failure',
          totals: totals(1, 1),
          gapsByReason: Array.from({length: 20}, (_, i) => ({
            reason: `gs object o${i} already exists with different content`,
            count: 1,
          })),
        })),
      ),
    );
    assert.strictEqual((page.match(/<span class="reason">gs object o\d+/g) ?? []).length, 12);
    assert.match(page, /… and 8 other reasons \(8 gaps\)/);
  });
});
