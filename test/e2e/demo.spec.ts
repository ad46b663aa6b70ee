/**
 * `npm run demo -- --faults lossy` as a person runs it (a child process with
 * its own stack): a two-batch day ends in _FAILURE, the source recovers, the
 * replay commands run, and the demo exits 0 only once the day is _SUCCESS.
 */
import * as assert from 'node:assert';
import {execFile} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

describe('npm run demo -- --faults lossy', function () {
  this.timeout(300_000);

  it('should show _FAILURE and its email, replay, and exit 0 on _SUCCESS', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-demo-'));
    const {code, stdout, stderr} = await new Promise<{
      code: number;
      stdout: string;
      stderr: string;
    }>(resolve =>
      execFile(
        process.execPath,
        [
          '--import',
          'tsx',
          'local/demo.ts',
          '--faults',
          'lossy',
          '--conversations',
          '130',
          '--root',
          root,
        ],
        {cwd: ROOT, timeout: 280_000, maxBuffer: 16 * 1024 * 1024},
        (err, stdout, stderr) => resolve({code: err ? Number(err.code ?? 1) : 0, stdout, stderr}),
      ),
    );
    try {
      assert.strictEqual(code, 0, stdout.slice(-2000));
      assert.match(stdout, /_FAILURE written for .*: .* 2 batches to replay/);
      assert.match(stdout, /email to the developers: ".*: _FAILURE, \d+ recordings? missing"/);
      assert.match(
        stdout,
        /\$ CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB=.* gcloud pubsub topics publish/,
      );
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
      // The demo reads through the product's GCS adapter (googleapis/google-cloud-node#9185).
      assert.doesNotMatch(stderr, /MaxListenersExceededWarning/);
    } finally {
      fs.rmSync(root, {recursive: true, force: true});
    }
  });
});
