/**
 * A permission the code needs and infra/ forgets fails on the local stack,
 * loudly, as it would on the first real night: the stack runs with a copy of
 * infra/ whose worker may no longer list the bucket, and the day ends
 * _FAILURE with `storage.objects.list` in the worker's log and in the
 * marker's reason.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {Stack, startStack} from '../../local/stack';
import {LOCAL_EXPORT_ENV, productEnv, productFunctions, productSecrets} from '../../local/product';
import {runDay} from '../../local/run-day';
import {INFRA} from '../../local/iam/terraform';

const DAY = '2026-02-10';

/** infra/ copied to a temporary folder, with `edit` applied to storage.tf. */
function infraCopy(edit: (storageTf: string) => string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-infra-'));
  for (const f of fs.readdirSync(INFRA).filter(f => f.endsWith('.tf')))
    fs.copyFileSync(path.join(INFRA, f), path.join(dir, f));
  const file = path.join(dir, 'storage.tf');
  const before = fs.readFileSync(file, 'utf8');
  const after = edit(before);
  assert.notStrictEqual(after, before, 'the edit changed storage.tf');
  fs.writeFileSync(file, after);
  return dir;
}

describe('a grant missing from infra/ (copy of infra/ without the worker’s bucket listing)', function () {
  this.timeout(240_000);
  let stack: Stack;
  let infraDir: string;

  before(async function () {
    this.timeout(120_000);
    // The worker's read grant as it was before listing was allowed: objects only.
    infraDir = infraCopy(tf =>
      tf.replace(
        /(worker_reads = \{[^}]*?when\s*=\s*)local\.readable/,
        (_m, head: string) => `${head}local.in_env`,
      ),
    );
    stack = await startStack({
      root: fs.mkdtempSync(path.join(os.tmpdir(), 'grm-missing-grant-')),
      functions: productFunctions(),
      secrets: productSecrets(),
      functionEnv: productEnv({MAX_BATCH_ATTEMPTS: '2'}),
      genesys: {seed: 'missing-grant', conversationsPerDay: 4},
      iam: {infraDir},
    });
  });

  after(async () => {
    await stack?.stop();
    if (infraDir) fs.rmSync(infraDir, {recursive: true, force: true});
  });

  it('should end the day _FAILURE naming storage.objects.list in the reason and the log', async () => {
    const {marker} = await runDay(stack, {day: DAY, env: LOCAL_EXPORT_ENV, timeoutMs: 120_000});
    assert.ok(marker);
    assert.strictEqual(marker.marker, '_FAILURE');
    const reasons = JSON.stringify(marker);
    assert.match(
      reasons,
      /grm-worker@demo-project\.iam\.gserviceaccount\.com does not have storage\.objects\.list access/,
    );
    const log = fs.readFileSync(path.join(stack.dirs.logs, 'function-exportBatch.log'), 'utf8');
    assert.match(log, /"severity":"(ERROR|WARNING)".*storage\.objects\.list/);
  });
});
