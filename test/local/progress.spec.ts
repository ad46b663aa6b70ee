/** The demo's progress line: formatting, TTY vs plain throttling, and the retry count from logs. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  LogTail,
  ProgressFigures,
  ProgressLine,
  RetryTally,
  fit,
  formatProgress,
  terminalLine,
} from '../../local/common/progress';

const figures = (over: Partial<ProgressFigures> = {}): ProgressFigures => ({
  batchesReported: 0,
  batchesTotal: 4,
  exported: 0,
  retries: 0,
  rateLimited: 0,
  ...over,
});

/** A writer that keeps what it is given, as a terminal or as a pipe. */
function capture(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return {writes, out: {isTTY, columns, write: (t: string) => writes.push(t)}};
}

describe('demo progress', () => {
  describe('formatProgress', () => {
    it('should say batches reported of total, recordings exported, and no retries', () => {
      assert.strictEqual(
        formatProgress(figures({batchesReported: 1, exported: 35}), 6400, 0),
        '  6 s: 1 of 4 batches reported · 35 recordings exported · no retries',
      );
    });

    it('should count retries, those after HTTP 429, and the wait still ahead', () => {
      const f = figures({batchesReported: 4, exported: 1, retries: 9, rateLimited: 3});
      assert.strictEqual(
        formatProgress({...f, waitUntilMs: 60_500}, 2000, 1000),
        '  2 s: 4 of 4 batches reported · 1 recording exported · 9 retries (3 after HTTP 429, waiting up to 60 s)',
      );
      // Once the wait is over only the counts remain.
      assert.strictEqual(
        formatProgress({...f, waitUntilMs: 60_500}, 70_000, 61_000),
        '  70 s: 4 of 4 batches reported · 1 recording exported · 9 retries (3 after HTTP 429)',
      );
      assert.match(formatProgress(figures({retries: 1}), 0, 0), /· 1 retry$/);
    });

    it('should have a terse form, and fit a terminal: full, else terse, else cut', () => {
      const f = figures({batchesReported: 7, batchesTotal: 20, exported: 1234});
      const busy = {...f, retries: 35, rateLimited: 35, waitUntilMs: 60_000};
      assert.strictEqual(
        formatProgress(busy, 125_000, 0, true),
        '  125 s  batches 7/20  exported 1234  retries 35 (35 × 429)  wait 60 s',
      );
      assert.strictEqual(
        formatProgress(f, 3000, 0, true),
        '  3 s  batches 7/20  exported 1234  retries 0',
      );
      const full = formatProgress(busy, 125_000, 0);
      assert.strictEqual(terminalLine(busy, 125_000, 0, 200), full);
      assert.strictEqual(terminalLine(busy, 125_000, 0, undefined), full);
      assert.strictEqual(
        terminalLine(busy, 125_000, 0, 80),
        formatProgress(busy, 125_000, 0, true),
      );
      assert.strictEqual(
        terminalLine(busy, 125_000, 0, 40),
        '  125 s  batches 7/20  exported 1234  …',
      );
      assert.strictEqual(fit('abcdefghij', 8), 'abcdef…');
      assert.strictEqual(fit('abcdefghij', 11), 'abcdefghij');
    });
  });

  describe('ProgressLine', () => {
    it('plain: a line when figures changed, at most once per interval, and the last one at the end', () => {
      let now = 0;
      const {writes, out} = capture(false);
      const line = new ProgressLine(out, {plainIntervalMs: 5000, now: () => now});
      line.update(figures()); // the first figures at once
      now = 1000;
      line.update(figures({retries: 2})); // changed, but too soon
      now = 4000;
      line.update(figures({retries: 2}));
      now = 6000;
      line.update(figures({retries: 2})); // changed since the last line and the interval passed
      now = 20_000;
      line.update(figures({retries: 2})); // nothing new: the clock alone is no reason
      now = 21_000;
      line.update(figures({batchesReported: 1, exported: 10, retries: 2}));
      now = 22_000;
      line.done(figures({batchesReported: 4, exported: 40, retries: 3, waitUntilMs: 99_000}));
      assert.deepStrictEqual(writes, [
        '  0 s: 0 of 4 batches reported · 0 recordings exported · no retries\n',
        '  6 s: 0 of 4 batches reported · 0 recordings exported · 2 retries\n',
        '  21 s: 1 of 4 batches reported · 10 recordings exported · 2 retries\n',
        '  22 s: 4 of 4 batches reported · 40 recordings exported · 3 retries\n',
      ]);
    });

    it('plain: no repeated last line when nothing changed since', () => {
      let now = 0;
      const {writes, out} = capture(false);
      const line = new ProgressLine(out, {now: () => now});
      line.update(figures({batchesReported: 4}));
      now = 100;
      line.done(figures({batchesReported: 4}));
      line.close();
      assert.strictEqual(writes.length, 1);
      assert.ok(!writes.join('').includes('\r'));
    });

    it('TTY: one line rewritten in place whenever its text changes, ended by done', () => {
      let now = 0;
      const {writes, out} = capture(true, 120);
      const line = new ProgressLine(out, {now: () => now});
      line.update(figures());
      now = 300;
      line.update(figures()); // same text: nothing written
      now = 1000;
      line.update(figures({retries: 1, rateLimited: 1, waitUntilMs: 31_000}));
      now = 2000;
      line.update(figures({retries: 1, rateLimited: 1, waitUntilMs: 31_000})); // countdown moves
      line.done(figures({batchesReported: 4, exported: 8, retries: 1, rateLimited: 1}));
      assert.deepStrictEqual(writes, [
        '\r\x1b[2K  0 s: 0 of 4 batches reported · 0 recordings exported · no retries',
        '\r\x1b[2K  1 s: 0 of 4 batches reported · 0 recordings exported · 1 retry (1 after HTTP 429, waiting up to 30 s)',
        '\r\x1b[2K  2 s: 0 of 4 batches reported · 0 recordings exported · 1 retry (1 after HTTP 429, waiting up to 29 s)',
        '\r\x1b[2K  2 s: 4 of 4 batches reported · 8 recordings exported · 1 retry (1 after HTTP 429)\n',
      ]);
    });

    it('TTY: a narrow terminal gets the terse form, never a line that wraps', () => {
      const {writes, out} = capture(true, 64);
      const line = new ProgressLine(out, {now: () => 0});
      line.update(figures({retries: 3, rateLimited: 2, waitUntilMs: 9000}));
      line.done(figures({batchesReported: 4, exported: 12, retries: 3, rateLimited: 2}));
      assert.deepStrictEqual(writes, [
        '\r\x1b[2K  0 s  batches 0/4  exported 0  retries 3 (2 × 429)  wait 9 s',
        '\r\x1b[2K  0 s  batches 4/4  exported 12  retries 3 (2 × 429)\n',
      ]);
      assert.ok(writes.every(w => w.slice('\r\x1b[2K'.length).trimEnd().length < 64));
    });

    it('TTY: close ends a line left open (an error comes next), once', () => {
      const {writes, out} = capture(true);
      const line = new ProgressLine(out);
      line.update(figures());
      line.close();
      line.close();
      assert.strictEqual(writes.filter(w => w === '\n').length, 1);
    });
  });

  describe('RetryTally', () => {
    it('should count the retry lines the functions log, 429s apart, and the longest wait', () => {
      const tally = new RetryTally();
      const line = (fields: Record<string, unknown>) =>
        JSON.stringify({severity: 'WARNING', service: 'grm', ...fields});
      tally.add(
        [
          line({
            message: 'Genesys request will be retried',
            failure: {kind: 'http', status: 429},
            delayMs: 60_000,
          }),
          line({message: 'Genesys request will be retried', failure: {status: 503}, delayMs: 800}),
          line({message: 'recording download will be retried', downloadAttempt: 1}),
          line({message: 'batch will be retried', reason: 'x'}),
          line({message: 'SendGrid failed; retrying', delayMs: 1000}),
          line({message: 'batch not done; Pub/Sub will redeliver the message'}),
          line({message: 'exported', note: 'nothing will be retried here'}),
          'Serving function... will be retried',
          '{"message": "will be retried", broken',
          '',
        ],
        1000,
      );
      assert.strictEqual(tally.retries, 5);
      assert.strictEqual(tally.rateLimited, 1);
      assert.strictEqual(tally.waitUntilMs, 61_000);
      tally.add([line({message: 'Genesys request will be retried', delayMs: 10})], 2000);
      assert.strictEqual(tally.retries, 6);
      assert.strictEqual(tally.waitUntilMs, 61_000, 'a shorter later wait ends earlier');
    });
  });

  describe('LogTail', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-progress-'))));
    afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

    it('should return only whole lines appended since it started, in the files it includes', () => {
      const a = path.join(dir, 'function-a.log');
      fs.writeFileSync(a, 'before 1\nbefore 2\n');
      const tail = new LogTail(dir, f => f.startsWith('function-'));
      assert.deepStrictEqual(tail.read(), []);
      fs.appendFileSync(a, 'one\ntw');
      fs.writeFileSync(path.join(dir, 'function-b.log'), 'b1\n');
      fs.writeFileSync(path.join(dir, 'gcs-emulator.log'), 'not mine\n');
      assert.deepStrictEqual(tail.read(), ['one', 'b1']);
      // A character cut between two reads (é is two bytes) comes out whole.
      const e = Buffer.from('é');
      fs.appendFileSync(a, Buffer.concat([Buffer.from('o '), e.subarray(0, 1)]));
      assert.deepStrictEqual(tail.read(), []);
      fs.appendFileSync(a, Buffer.concat([e.subarray(1), Buffer.from('\nthree\n')]));
      assert.deepStrictEqual(tail.read(), ['two é', 'three']);
      assert.deepStrictEqual(tail.read(), []);
    });

    it('should be empty for a directory that does not exist', () => {
      assert.deepStrictEqual(new LogTail(path.join(dir, 'nope')).read(), []);
    });
  });
});
