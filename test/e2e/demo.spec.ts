/**
 * `npm run demo` as a person runs it (a child process with its own stack).
 * With `--faults lossy` a two-batch day ends in _FAILURE, the source
 * recovers, the email's `grm replay` runs, and the demo exits 0 only once the day
 * is _SUCCESS, without a MaxListenersExceededWarning
 * (googleapis/google-cloud-node#9185). Its progress lines under `--faults
 * flaky` are checked by `npm run test:cli` (test/cli/demo-progress.cli.ts).
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {runDemo} from '../helpers';

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
