/**
 * `grm report` end to end: real days on the local stack (a _SUCCESS, a
 * _FAILURE, a _SUCCESS with waived recordings, a running and never-planned
 * days), the page written by `grm report --local`, then opened in headless
 * Chromium: no console error, no request at all, each day's colour on the
 * calendar the one of its state in `grm status --json`, a day opening on its
 * gaps with scripts on and off. A screenshot is kept in test-artifacts/.
 * Also: the default range, a year, usage errors, and a hostile gap reason
 * that stays text in the browser.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {runDay, storageFor} from '../../local/run-day';
import type {DayState} from '../../functions/core/day-status';
import {
  LOOKS,
  ReportModel,
  dayLook,
  lookStyle,
  reportModel,
} from '../../functions/core/report-model';
import {reportPage} from '../../functions/core/report-page';
import {grm} from '../../functions/ops/grm';
import {declareProductDays, useProductStack} from '../setup/stack';
import {asIdentity} from '../helpers';
import {HeadlessBrowser, computedStyles, requireChromium, rgb} from '../browser';

const env = LOCAL_EXPORT_ENV;
const FROM = '2026-03-08';
const SUCCESS = '2026-03-09';
const FAILURE = '2026-03-10';
const WAIVED = '2026-03-11';
const RUNNING = '2026-03-12';
const TO = '2026-03-13';
/** "Now" for grm: the newest nightly window (3 days back) is TO. */
const TODAY = '2026-03-16T06:00:00Z';
const DAYS = {[SUCCESS]: 4, [FAILURE]: 20, [WAIVED]: 8};
declareProductDays('lossy', DAYS);

describe('grm report against the local stack', function () {
  this.timeout(300_000);
  let stack: Stack;
  let dir: string;
  let page: string;
  let states: DayState[];
  let browser: HeadlessBrowser | undefined;

  async function run(...argv: string[]): Promise<{code: number; out: string; err: string}> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await asIdentity(stack, 'operator', () =>
      grm([...argv, '--local'], {
        out: l => out.push(l),
        err: l => err.push(l),
        env: stack.env,
        now: () => Date.parse(TODAY),
        sleep: ms => new Promise(r => setTimeout(r, ms)),
      }),
    );
    return {code, out: out.join('\n'), err: err.join('\n')};
  }

  before(async function () {
    this.timeout(280_000);
    stack = await useProductStack('lossy', DAYS);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-report-'));
    // The source recovers before this day is exported: every recording exportable.
    await fetch(`${stack.genesysUrl}/_admin/recover?day=${SUCCESS}`, {method: 'POST'});
    const [ok, failed, waived] = await Promise.all(
      [SUCCESS, FAILURE, WAIVED].map(day => runDay(stack, {day, env, timeoutMs: 150_000})),
    );
    assert.strictEqual(ok!.marker?.marker, '_SUCCESS');
    assert.strictEqual(failed!.marker?.marker, '_FAILURE');
    assert.strictEqual(waived!.marker?.marker, '_FAILURE');
    const ids = waived!.marker!.gaps.map(g => g.recordingId!);
    const waive = await run(
      'waive',
      WAIVED,
      ...ids.flatMap(id => ['--recording', id]),
      '--reason',
      'broken at the source, Genesys case 00123456',
      '--by',
      'oncall@example.com',
      '--any-reason',
      '--wait',
      '120',
    );
    assert.strictEqual(waive.code, 0, waive.out + waive.err);
    // A day whose run is planned but has no report yet.
    await storageFor(stack)
      .bucket(stack.bucket)
      .file(`${env}/${RUNNING}/_manifest/plan.json`)
      .save(
        JSON.stringify({
          kind: 'plan',
          version: 1,
          day: RUNNING,
          runId: 'r20260315t000000-aaaaaa',
          createdAt: '2026-03-15T00:00:00.000Z',
          batches: [{batchId: 'b0001-x', conversationIds: []}],
        }),
      );
    page = path.join(dir, 'report.html');
    const written = await run('report', `${FROM}..${TO}`, '--out', page);
    assert.strictEqual(written.code, 0, written.err);
    assert.match(
      written.out,
      /^wrote .*report\.html: 2026-03-08 to 2026-03-13, 6 days \(1 _SUCCESS, 1 _SUCCESS with waivers, 1 _FAILURE, 1 running, 2 never planned\)$/,
    );
    const status = await run('status', '--from', FROM, '--to', TO, '--json');
    states = JSON.parse(status.out) as DayState[];
  });

  after(async () => {
    await browser?.close();
    if (dir) fs.rmSync(dir, {recursive: true, force: true});
  });

  it('should print with --json the days as grm status reads them, each with its look and the fix of each gap reason', async () => {
    const r = await run('report', `${FROM}..${TO}`, '--json');
    assert.strictEqual(r.code, 0, r.err);
    const model = JSON.parse(r.out) as ReportModel;
    assert.deepStrictEqual(
      model.days.map(d => [d.day, d.state, d.look]),
      states.map(s => [s.day, s.state, dayLook(s)]),
    );
    assert.deepStrictEqual(
      states.map(s => dayLook(s)),
      ['never planned', 'success', 'failure', 'waived', 'running', 'never planned'],
    );
    const failed = model.days.find(d => d.day === FAILURE)!;
    const expected = states.find(s => s.day === FAILURE)!.gapsByReason!;
    assert.deepStrictEqual(
      failed.gaps.map(g => [g.reason, g.count]),
      expected.map(g => [g.reason, g.count]),
    );
    // Archived recordings: the pipeline restores them (grm restore status shows them).
    for (const g of failed.gaps)
      assert.match(g.action, new RegExp(`grm (replay|waive) ${FAILURE}|grm restore status`));
    assert.strictEqual(
      model.totals.all.exported,
      states.reduce((n, s) => n + (s.totals?.all?.exported ?? 0), 0),
    );
    assert.deepStrictEqual([model.bucket, model.env], [stack.bucket, env]);
  });

  it('should default to the 30 days ending with the newest nightly window, and read a year as grm status does', async () => {
    const r = await run('report', '--json');
    assert.strictEqual(r.code, 0, r.err);
    const model = JSON.parse(r.out) as ReportModel;
    // "Today" is 2026-03-16: the newest window is 3 days back, as grm status picks it.
    assert.deepStrictEqual([model.from, model.to, model.days.length], ['2026-02-12', TO, 30]);
    const started = Date.now();
    const year = await run('report', '2025-03-14..2026-03-13', '--out', path.join(dir, 'y.html'));
    const took = Date.now() - started;
    assert.strictEqual(year.code, 0, year.err);
    // Other specs may decide days of this year on the shared stack: grm status says which.
    const status = await run('status', '--from', '2025-03-14', '--to', TO, '--json');
    const looks = new Map<string, number>();
    for (const s of JSON.parse(status.out) as DayState[])
      looks.set(dayLook(s), (looks.get(dayLook(s)) ?? 0) + 1);
    const counted = LOOKS.filter(l => looks.has(l.look)).map(
      l => `${looks.get(l.look)} ${l.label}`,
    );
    assert.ok(
      year.out.endsWith(`: 2025-03-14 to ${TO}, 365 days (${counted.join(', ')})`),
      year.out,
    );
    process.stdout.write(`      (a year read and written in ${took} ms)\n`);
  });

  it('should refuse a bad range or an unwritable --out with exit 2 and one line, writing nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['report', `${FROM}..${TO}`], /--out FILE\.html is missing/],
      [['report', '2026-13-01..2026-03-13', '--out', page], /FROM "2026-13-01" is not a day/],
      [['report', `${TO}..${FROM}`, '--out', page], /FROM 2026-03-13 is after TO 2026-03-08/],
      [['report', '2024-01-01..2026-01-01', '--out', page], /at most 366 days at once/],
      [
        ['report', `${FROM}..${TO}`, '--out', path.join(dir, 'no', 'such', 'r.html')],
        /cannot write --out .*: the folder .* does not exist/,
      ],
      [
        ['report', `${FROM}..${TO}`, '--out', dir],
        /cannot write --out .*: .* is a directory, not a file/,
      ],
      [['report', FROM, TO, '--out', page], /unexpected argument "2026-03-13"/],
    ];
    const before = fs.readdirSync(dir).sort();
    for (const [argv, message] of cases) {
      const r = await run(...argv);
      assert.strictEqual(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      assert.match(r.err, /^grm report: /);
      assert.match(r.err, message);
      assert.ok(!r.err.includes('\n'), r.err);
    }
    assert.deepStrictEqual(
      fs.readdirSync(dir).sort(),
      before,
      'nothing written, no temporary file left',
    );
    const help = await run('report', '--help');
    assert.match(help.out, /^usage: grm report \[FROM\.\.TO\] \[flags\]/);
    assert.match(help.out, /--out FILE\.html/);
  });

  describe('in headless Chromium', () => {
    before(async function () {
      this.timeout(900_000);
      await requireChromium(this);
      browser = await HeadlessBrowser.launch();
    });

    it('should load with no console error and no request, colour each day by its state in grm status, and open a day on its gaps', async () => {
      const opened = await browser!.open({file: page});
      try {
        const days = opened.page.locator('details.day');
        const shown = await days.evaluateAll(ds => ds.map(d => d.getAttribute('data-day')));
        const colours = await computedStyles(days.locator('summary'), 'background-color');
        assert.deepStrictEqual(
          shown.map((d, i) => [d, colours[i]]),
          states.map(s => [s.day, rgb(lookStyle(dayLook(s)).colour)]),
        );
        // The legend shows each look in the same colour.
        for (const l of LOOKS) {
          const swatch = opened.page.locator(`#legend li[data-look="${l.look}"] .cell`);
          assert.deepStrictEqual(
            await computedStyles(swatch, 'background-color'),
            [rgb(l.colour)],
            l.look,
          );
        }
        const failed = opened.page.locator(`details[data-day="${FAILURE}"]`);
        const gaps = states.find(s => s.day === FAILURE)!.gapsByReason!;
        assert.ok(gaps.length > 0);
        assert.strictEqual(await failed.locator('.gaps').isVisible(), false, 'closed at first');
        await failed.locator('summary').click();
        assert.strictEqual(await failed.locator('.gaps').isVisible(), true);
        const reasons = await failed.locator('.gaps .reason').allInnerTexts();
        assert.deepStrictEqual(
          reasons,
          gaps.map(g => g.reason),
        );
        assert.match(await failed.locator('.gaps .fix').first().innerText(), /^fix: /);
        assert.match(await failed.locator('table.counts').innerText(), /call/);
        // One day open at a time.
        await opened.page.locator(`details[data-day="${SUCCESS}"] summary`).click();
        assert.strictEqual(await failed.locator('.gaps').isVisible(), false);
        await failed.locator('summary').click();
        const shot = await opened.screenshot('grm-report');
        process.stdout.write(`      (screenshot: ${shot})\n`);
        assert.deepStrictEqual(opened.errors, [], 'no console error');
        assert.deepStrictEqual(opened.requests, [], 'no request at all');
      } finally {
        await opened.close();
      }
    });

    it('should open a day with scripts off', async () => {
      const opened = await browser!.open({file: page}, {javaScript: false});
      try {
        const failed = opened.page.locator(`details[data-day="${FAILURE}"]`);
        await failed.locator('summary').click();
        assert.strictEqual(await failed.locator('.gaps').isVisible(), true);
        assert.deepStrictEqual(opened.requests, []);
      } finally {
        await opened.close();
      }
    });
  });
});

describe('grm report page with hostile text, in headless Chromium', function () {
  this.timeout(120_000);
  let browser: HeadlessBrowser | undefined;

  before(async function () {
    this.timeout(900_000);
    await requireChromium(this);
    browser = await HeadlessBrowser.launch();
  });

  after(() => browser?.close());

  it('should show a gap reason full of markup as text: no script runs, no element appears, no request is made', async () => {
    const hostile =
      '<script>window.pwned=1</script><img src="http://192.0.2.1/x.png" onerror="window.pwned=2">';
    const model = reportModel({
      bucket: hostile,
      env: hostile,
      from: '2026-09-15',
      to: '2026-09-15',
      generatedAt: '2026-09-21T06:00:00.000Z',
      states: [
        {
          day: '2026-09-15',
          state: 'failure',
          runId: hostile,
          totals: {all: {expected: 2, exported: 1, skipped: 0, failed: 1, bytes: 10}},
          gapsByReason: [{reason: hostile, count: 1}],
          autoReruns: 0,
          email: hostile,
        },
      ],
    });
    const opened = await browser!.open({html: reportPage(model)});
    try {
      await opened.page.locator('details.day summary').click();
      assert.strictEqual(
        await opened.page.evaluate(() => (globalThis as {pwned?: number}).pwned),
        undefined,
      );
      assert.strictEqual(await opened.page.locator('img').count(), 0);
      assert.strictEqual(await opened.page.locator('.gaps .reason').innerText(), hostile);
      assert.strictEqual(
        await opened.page.locator('h1').innerText(),
        `Recordings export ${hostile}: 2026-09-15 to 2026-09-15`,
      );
      assert.deepStrictEqual(opened.requests, []);
      assert.deepStrictEqual(opened.errors, []);
    } finally {
      await opened.close();
    }
  });
});
