/**
 * `npm run demo` as a person runs it (a child process with its own stack).
 * With `--faults lossy` a two-batch day ends in _FAILURE, the source
 * recovers, the email's `grm replay` runs, and the demo exits 0 only once the day
 * is _SUCCESS. With `--faults flaky` (not a terminal) the demo prints plain
 * progress lines while the batches run. Neither prints a
 * MaxListenersExceededWarning (googleapis/google-cloud-node#9185).
 */
import * as assert from 'node:assert';
import {execFile} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** Runs the demo with `args` and `root` as its state directory; its exit code and output. */
function runDemo(
  root: string,
  args: string[],
): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise(resolve =>
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/demo.ts', ...args, '--root', root],
      {cwd: ROOT, timeout: 280_000, maxBuffer: 16 * 1024 * 1024},
      (err, stdout, stderr) => resolve({code: err ? Number(err.code ?? 1) : 0, stdout, stderr}),
    ),
  );
}

describe('npm run demo -- --faults lossy', function () {
  this.timeout(300_000);

  it('should show _FAILURE and its email, replay, and exit 0 on _SUCCESS', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-demo-'));
    const {code, stdout, stderr} = await runDemo(root, [
      '--faults',
      'lossy',
      '--conversations',
      '130',
    ]);
    try {
      assert.strictEqual(code, 0, stdout.slice(-2000));
      assert.match(stdout, /_FAILURE written for .*: .* 2 batches to replay/);
      assert.match(stdout, /email to the developers: ".*: _FAILURE, \d+ recordings? missing"/);
      // The command the developer email names, run as the operator would.
      assert.match(
        stdout,
        /running the command from the developer email: npx grm replay \S+ --wait 600\n/,
      );
      assert.match(stdout, /\n {2}\S+ is now _SUCCESS: /);
      assert.match(stdout, /\ngrm report \S+: .*report\.html/);
      assert.match(
        stdout,
        /email to the developers: ".*: _SUCCESS, the earlier _FAILURE is resolved"/,
      );
      assert.match(
        stdout,
        /\n_SUCCESS: every exportable recording of .* was exported and verified\./,
      );
      const mail = fs.readdirSync(path.join(root, 'mail')).filter(f => f.endsWith('.json'));
      assert.strictEqual(mail.length, 2, 'one failure email, one resolved email');
      assert.doesNotMatch(stderr, /MaxListenersExceededWarning/);
    } finally {
      fs.rmSync(root, {recursive: true, force: true});
    }
  });
});

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
