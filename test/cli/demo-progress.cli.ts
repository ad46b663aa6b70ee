/**
 * `npm run demo -- --faults flaky` as a person runs it, not on a terminal: it
 * prints plain progress lines while the batches run, and no
 * MaxListenersExceededWarning. A whole demo with its own stack (about 40 s):
 * in `npm run test:cli`, not `npm test`.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {runDemo} from '../helpers';

describe('npm run demo -- --faults flaky', function () {
  this.timeout(300_000);

  it('should print plain progress lines (batches reported of total, recordings exported, retries) and no MaxListenersExceededWarning', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-demo-'));
    const {code, stdout, stderr} = await runDemo(root, [
      '--faults',
      'flaky',
      '--conversations',
      '130',
    ]);
    try {
      // The summary is there as before (flaky recovers, but the test is about the output).
      assert.match(stdout, /\nDay \S+, run \S+: (\d+) batches in [\d.]+ s\n/, stdout.slice(-2000));
      const total = Number(/\nDay \S+, run \S+: (\d+) batches in/.exec(stdout)![1]);
      const progress = [
        ...stdout.matchAll(
          /^ {2}(\d+) s: (\d+) of (\d+) batch(?:es)? reported · (\d+) recordings? exported · (no retries|(\d+) retr(?:y|ies)(?: \(.*\))?)$/gm,
        ),
      ];
      assert.ok(progress.length >= 2, `progress lines:\n${stdout.slice(0, 4000)}`);
      // Not a terminal: plain lines only, nothing rewritten in place.
      assert.ok(!stdout.includes('\r') && !stdout.includes('\x1b['), 'no in-place rewriting');
      for (const m of progress) assert.strictEqual(Number(m[3]), total);
      const last = progress[progress.length - 1]!;
      assert.strictEqual(Number(last[2]), total, 'the last line has every batch reported');
      assert.ok(Number(last[6] ?? 0) > 0, `retries counted: ${last[0]}`);
      const marker = /(?:_SUCCESS|_FAILURE) written for .*: (\d+) exported/.exec(stdout);
      assert.ok(marker, stdout.slice(-2000));
      assert.strictEqual(Number(last[4]), Number(marker[1]), 'as many exported as the marker says');
      // Seconds go up; lines at most one per few seconds (the last one may follow sooner).
      const seconds = progress.map(m => Number(m[1]));
      for (let i = 1; i < seconds.length - 1; i++) assert.ok(seconds[i]! - seconds[i - 1]! >= 4);
      assert.doesNotMatch(stderr, /MaxListenersExceededWarning/);
      assert.ok(code === 0 || code === 1, `exit ${code}: ${stderr.slice(-2000)}`);
    } finally {
      fs.rmSync(root, {recursive: true, force: true});
    }
  });
});
