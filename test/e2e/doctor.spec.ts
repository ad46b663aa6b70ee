/**
 * `grm doctor --local` against the local stack, as the project owner (who
 * reads the secrets and the bucket's policy and may impersonate the function
 * identities, as the deployer or a project owner would in production):
 *
 * - a healthy stack passes, skipping only what the stack does not have
 *   (Cloud Scheduler, the push endpoint's OIDC token, Eventarc);
 * - a stack with a Genesys client that lacks viewSensitiveData, a SendGrid
 *   key the sink does not accept, and a copy of infra/ whose worker may no
 *   longer list the bucket fails exactly those checks, each naming its fix;
 *   pointed at a secret without versions, the secret check fails too;
 * - an operator (no secret access, no policy access) is told which roles
 *   are missing;
 *
 * and no output ever holds a secret.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {Stack, startStack} from '../../local/stack';
import {LOCAL_SECRETS, productEnv, productFunctions, productSecrets} from '../../local/product';
import {INFRA} from '../../local/iam/terraform';
import {grm} from '../../functions/ops/grm';
import type {CheckResult} from '../../functions/core/doctor';
import {useProductStack} from '../setup/stack';
import {asIdentity} from '../helpers';

const SENSITIVE = 'recording:recording:viewSensitiveData';
const WRONG_KEY = 'SG.not-the-sinks-key-0000.well-formed-but-not-accepted-by-the-sink-00';
const EMPTY_SECRET = 'grm-empty-secret';

interface Run {
  code: number;
  out: string;
  err: string;
  checks: CheckResult[];
}

/** grm doctor --local in-process as `identity`, twice: JSON (parsed) and text. */
async function doctor(stack: Stack, identity: string, ...argv: string[]): Promise<Run> {
  const env = {
    ...stack.env,
    PLANNER_URL: stack.functions.planner!.url,
    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: stack.secretsCa,
    GRM_IAM_CREDENTIALS_URL: stack.iam!.iamCredentialsUrl,
  };
  const once = async (json: boolean) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await asIdentity(stack, identity, () =>
      grm(['doctor', '--local', ...argv, ...(json ? ['--json'] : [])], {
        out: l => out.push(l),
        err: l => err.push(l),
        env,
        now: () => Date.now(),
        sleep: ms => new Promise(r => setTimeout(r, ms)),
      }),
    );
    return {code, out: out.join('\n'), err: err.join('\n')};
  };
  const json = await once(true);
  assert.strictEqual(json.err, '', json.err);
  const text = await once(false);
  assert.strictEqual(text.code, json.code);
  return {
    code: json.code,
    out: text.out,
    err: json.err + text.err,
    checks: (JSON.parse(json.out) as {checks: CheckResult[]}).checks,
  };
}

function assertNoSecrets(run: Run, secrets: string[]): void {
  const all = JSON.stringify(run.checks) + run.out + run.err;
  for (const s of secrets) assert.ok(!all.includes(s), 'a secret is in the output');
}

const byStatus = (run: Run, status: CheckResult['status']) =>
  run.checks.filter(c => c.status === status).map(c => c.id);

describe('grm doctor --local', function () {
  this.timeout(300_000);

  describe('a healthy stack', () => {
    let stack: Stack;
    before(async function () {
      this.timeout(240_000);
      stack = await useProductStack('clean');
    });

    it('should pass as the owner, skipping only what the local stack does not have', async () => {
      const run = await doctor(stack, 'owner');
      assert.strictEqual(run.code, 0, run.out);
      assert.deepStrictEqual(byStatus(run, 'fail'), []);
      assert.deepStrictEqual(byStatus(run, 'skipped'), [
        'wiring.scheduler',
        'wiring.tick',
        'wiring.push',
        'wiring.eventarc',
      ]);
      const ids = run.checks.map(c => c.id);
      for (const id of [
        'secrets.genesys-clients',
        'secrets.sendgrid-key',
        'genesys.demo-client.login',
        'genesys.second-client.sensitive',
        'sendgrid.mail-send',
        'wiring.dead-letter',
        'bucket.planner',
        'bucket.worker',
        'bucket.checker',
        'bucket.probe.worker',
        'planner.dry-run',
      ])
        assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
      assert.match(
        run.out,
        /^secret grm-genesys-clients +pass +latest version enabled; 2 OAuth clients/m,
      );
      assert.match(
        run.out,
        /^planner dry run of the next night +pass +\d{4}-\d{2}-\d{2}: would export \d+ conversations? in \d+ batch(es)?( \(the last night's window: the planner does not plan the next night's \d{4}-\d{2}-\d{2} yet, ".*too recent.*"\))?; nothing written or published$/m,
      );
      assert.match(
        run.out,
        /^bucket write as worker +pass +created and read back local\/1970-01-01\/_manifest\/runs\/doctor-[0-9a-f]{6}\/attempts\/doctor-[0-9a-f]{6}\.json as grm-worker@demo-project\.iam\.gserviceaccount\.com, then deleted it$/m,
      );
      assert.match(run.out, /^Cloud Scheduler job +skipped +not on the local stack/m);
      assert.match(run.out, /^\d+ passed, 0 failed, 4 skipped$/m);
      assertNoSecrets(run, ['demo-secret', 'second-secret', 'SG.local-sink-key-0000000']);
    });

    it('should tell an operator which roles it lacks to read the secrets and the policy', async () => {
      const run = await doctor(stack, 'operator');
      assert.strictEqual(run.code, 1);
      const failedIds = byStatus(run, 'fail');
      for (const id of ['secrets.genesys-clients', 'secrets.sendgrid-key', 'bucket.policy'])
        assert.ok(failedIds.includes(id), `${id} in ${failedIds.join(', ')}`);
      const secret = run.checks.find(c => c.id === 'secrets.sendgrid-key')!;
      assert.match(secret.detail, /roles\/secretmanager\.secretAccessor is missing/);
      assert.match(secret.fix!, /gcloud secrets add-iam-policy-binding grm-sendgrid-api-key/);
      const probe = run.checks.find(c => c.id === 'bucket.probe.worker')!;
      assert.strictEqual(probe.status, 'skipped');
      assert.match(probe.detail, /roles\/iam\.serviceAccountTokenCreator/);
      // The operator may invoke the planner: its dry run still passes.
      assert.strictEqual(run.checks.find(c => c.id === 'planner.dry-run')!.status, 'pass');
    });
  });

  describe('a stack with a client lacking viewSensitiveData, a wrong SendGrid key and a worker grant missing', () => {
    let stack: Stack;
    let infraDir: string;

    before(async function () {
      this.timeout(240_000);
      infraDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-doctor-infra-'));
      for (const f of fs.readdirSync(INFRA).filter(f => f.endsWith('.tf')))
        fs.copyFileSync(path.join(INFRA, f), path.join(infraDir, f));
      const storageTf = path.join(infraDir, 'storage.tf');
      const before = fs.readFileSync(storageTf, 'utf8');
      // The worker's read grant without the bucket listing.
      const after = before.replace(
        /(worker_reads = \{[^}]*?when\s*=\s*)local\.readable/,
        (_m, head: string) => `${head}local.in_env`,
      );
      assert.notStrictEqual(after, before);
      fs.writeFileSync(storageTf, after);
      const clients = [
        'demo-client:demo-secret',
        `limited-client:limited-secret;lacks=${SENSITIVE}`,
      ];
      stack = await startStack({
        root: fs.mkdtempSync(path.join(os.tmpdir(), 'grm-doctor-')),
        functions: productFunctions(),
        secrets: {
          ...productSecrets(clients),
          [LOCAL_SECRETS.sendgridKey]: WRONG_KEY,
          [EMPTY_SECRET]: [],
        },
        functionEnv: productEnv(),
        genesys: {seed: 'doctor', conversationsPerDay: 3, clients},
        iam: {infraDir},
      });
    });

    after(async () => {
      await stack?.stop();
      if (infraDir) fs.rmSync(infraDir, {recursive: true, force: true});
    });

    it('should fail exactly those checks, each naming its fix', async () => {
      const run = await doctor(stack, 'owner');
      assert.strictEqual(run.code, 1);
      assert.deepStrictEqual(byStatus(run, 'fail'), [
        'genesys.limited-client.sensitive',
        'sendgrid.mail-send',
        'bucket.worker',
      ]);
      const check = (id: string) => run.checks.find(c => c.id === id)!;
      assert.strictEqual(check('genesys.demo-client.sensitive').status, 'pass');
      assert.strictEqual(check('genesys.limited-client.recording-view').status, 'pass');
      assert.match(check('genesys.limited-client.sensitive').detail, /held in no division/);
      assert.match(
        check('genesys.limited-client.sensitive').fix!,
        /Admin > OAuth > limited-client > Roles: give it a role holding recording:recording:viewSensitiveData/,
      );
      assert.match(check('sendgrid.mail-send').detail, /SendGrid refused the key \(HTTP 401\)/);
      assert.match(check('sendgrid.mail-send').fix!, /Mail Send/);
      const worker = check('bucket.worker');
      assert.match(
        worker.detail,
        /grm-worker@demo-project\.iam\.gserviceaccount\.com cannot list the bucket \(the bucket\): no binding grants storage\.objects\.list there/,
      );
      assert.match(
        worker.fix!,
        /terraform -chdir=infra apply restores google_storage_bucket_iam_member\.functions\["worker_reads"\]/,
      );
      // Writing as the worker does not need the listing: the probe still passes.
      assert.strictEqual(check('bucket.probe.worker').status, 'pass');
      assert.match(run.out, /^To fix:$/m);
      assertNoSecrets(run, ['demo-secret', 'limited-secret', WRONG_KEY]);
    });

    it('should say, with --metadata lean, which client lean mode runs on and which runs in full mode', async () => {
      const run = await doctor(stack, 'owner', '--metadata', 'lean');
      const check = (id: string) => run.checks.find(c => c.id === id)!;
      assert.match(
        check('genesys.demo-client.sensitive').detail,
        /METADATA=lean runs on this client/,
      );
      const limited = check('genesys.limited-client.sensitive');
      assert.strictEqual(limited.status, 'fail');
      assert.match(
        limited.detail,
        /held in no division: .*\. METADATA=lean: the worker cannot prove it either, so this client's batches run in full mode/,
      );
      assert.match(run.out, /METADATA=lean: the worker cannot prove it either/);
      assertNoSecrets(run, ['demo-secret', 'limited-secret', WRONG_KEY]);
    });

    it('should fail a secret without versions, naming the command that adds one', async () => {
      const run = await doctor(stack, 'owner', '--genesys-secret', EMPTY_SECRET);
      assert.strictEqual(run.code, 1);
      const secret = run.checks.find(c => c.id === 'secrets.genesys-clients')!;
      assert.strictEqual(secret.status, 'fail');
      assert.match(secret.detail, /no enabled latest version/);
      assert.match(
        secret.fix!,
        /^gcloud secrets versions add grm-empty-secret --project=demo-project --data-file=clients\.json/,
      );
      assert.strictEqual(run.checks.find(c => c.id === 'genesys')!.status, 'skipped');
      assertNoSecrets(run, ['demo-secret', 'limited-secret', WRONG_KEY]);
    });
  });
});
