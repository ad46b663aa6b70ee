/**
 * The local stack's IAM: the grants of infra/*.tf read from the Terraform
 * files, enforced by the stand-ins as Google's services enforce them, for the
 * identities infra/ creates. Driven with the official clients (and plain HTTP
 * where the refusal's exact shape is the point).
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {TestStack, eventually, useStack} from '../setup/stack';
import {secretClient} from '../helpers';
import {invokeHeaders, storageFor} from '../../local/run-day';
import {LOCAL_EXPORT_ENV, LOCAL_SECRETS} from '../../local/product';
import {loadPolicy} from '../../local/iam/policy';
import * as names from '../../functions/core/object-names';
import {TokenFiles} from '../../local/iam/token-files';
import {TOKEN_LIFETIME_S, mintToken, newTokenKey, verifyToken} from '../../local/iam/tokens';

const env = LOCAL_EXPORT_ENV;
const DAY = '2026-01-05';
const CONV = '0a1b2c3d-0000-4000-8000-000000000001';
const REC = '9f8e7d6c-0000-4000-8000-000000000002';

function statusOf(err: unknown): number | undefined {
  return (err as {code?: number}).code;
}

describe('local IAM (infra/ grants enforced by the stand-ins)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  const recording = names.recordingObjectName(env, DAY, 'call', CONV, REC, 'ogg');

  before(async function () {
    this.timeout(120_000);
    stack = await useStack();
    await storageFor(stack).bucket(stack.bucket).file(recording).save('OggS audio');
  });

  describe('the policy, read from infra/', () => {
    it('should name the identities, secrets and functions the stack uses', async () => {
      const policy = await loadPolicy({project: 'p-1', bucket: 'b-1', env: 'brave'});
      assert.strictEqual(policy.identities.worker, 'grm-worker@p-1.iam.gserviceaccount.com');
      assert.deepStrictEqual(Object.values(policy.secrets).sort(), [
        LOCAL_SECRETS.genesysClients,
        LOCAL_SECRETS.sendgridKey,
      ]);
      assert.deepStrictEqual(Object.keys(policy.services).sort(), ['checker', 'planner', 'worker']);
      const bucketGrants = policy.grants.filter(g => g.kind === 'bucket');
      assert.ok(bucketGrants.length >= 9, `${bucketGrants.length} bucket grants`);
      assert.ok(bucketGrants.every(g => g.target === 'b-1'));
      // The functions' grants are all confined by conditions; the unconditional ones are
      // the legacy roles held for the project's own convenience members.
      const functions = Object.values(policy.identities).map(e => `serviceAccount:${e}`);
      const unconditional = bucketGrants.filter(g => !g.condition);
      assert.ok(unconditional.every(g => !functions.includes(g.member)));
      assert.deepStrictEqual(
        unconditional.map(g => g.member),
        ['projectOwner:p-1', 'projectViewer:p-1'],
      );
    });

    it('should follow variables: operators, archive readers and retention add their grants', async () => {
      const policy = await loadPolicy({
        project: 'p-1',
        bucket: 'b-1',
        env: 'brave',
        operatorMembers: ['user:ops@example.com'],
        archiveReaderMembers: ['group:audit@example.com'],
        retentionDays: 30,
      });
      const of = (member: string) => policy.grants.filter(g => g.member === member);
      assert.ok(
        of('user:ops@example.com').some(
          g => g.kind === 'service' && g.role === 'roles/run.invoker',
        ),
      );
      assert.ok(of('group:audit@example.com').some(g => g.kind === 'bucket' && !g.condition));
      const retention = Object.entries(policy.customRoles);
      assert.deepStrictEqual(retention, [
        ['projects/p-1/roles/grm_setObjectRetention', ['storage.objects.setRetention']],
      ]);
    });
  });

  describe('Cloud Storage', () => {
    it('should refuse a call without credentials as Cloud Storage does (401, JSON)', async () => {
      const res = await fetch(`${stack.gcsUrl}/storage/v1/b/${stack.bucket}/o?prefix=${env}/`);
      assert.strictEqual(res.status, 401);
      const body = (await res.json()) as {
        error: {code: number; message: string; errors: Array<{reason: string}>};
      };
      assert.strictEqual(body.error.code, 401);
      assert.match(
        body.error.message,
        /^Anonymous caller does not have storage\.objects\.list access/,
      );
      assert.strictEqual(body.error.errors[0]!.reason, 'required');
    });

    it('should refuse a forged token', async () => {
      const res = await fetch(`${stack.gcsUrl}/storage/v1/b/${stack.bucket}/o`, {
        headers: {authorization: 'Bearer ya29.not-a-token-of-this-stack'},
      });
      assert.strictEqual(res.status, 401);
    });

    it('should let the worker list its folder and read a recording', async () => {
      const bucket = storageFor(stack, 'worker').bucket(stack.bucket);
      const [files] = await bucket.getFiles({prefix: `${env}/${DAY}/call/`});
      assert.deepStrictEqual(
        files.map(f => f.name),
        [recording],
      );
      const [bytes] = await bucket.file(recording).download();
      assert.strictEqual(bytes.toString(), 'OggS audio');
    });

    it('should refuse the worker deleting or replacing a recording (403 naming storage.objects.delete)', async () => {
      const file = storageFor(stack, 'worker').bucket(stack.bucket).file(recording);
      const [md] = await file.getMetadata();
      await assert.rejects(
        file.delete({ifGenerationMatch: Number(md.generation)}),
        (err: Error) =>
          statusOf(err) === 403 &&
          /grm-worker@demo-project\.iam\.gserviceaccount\.com does not have storage\.objects\.delete access/.test(
            err.message,
          ),
      );
      await assert.rejects(
        file.save('other bytes', {resumable: false}),
        (err: Error) => statusOf(err) === 403 && /storage\.objects\.delete/.test(err.message),
      );
      // With the precondition the worker uses, the write is a 412, not an overwrite.
      await assert.rejects(
        file.save('other bytes', {resumable: false, preconditionOpts: {ifGenerationMatch: 0}}),
        (err: Error) => statusOf(err) === 412,
      );
      const [after] = await storageFor(stack).bucket(stack.bucket).file(recording).download();
      assert.strictEqual(after.toString(), 'OggS audio', 'the recording is untouched');
    });

    it('should refuse the worker writing outside its folder or the checker’s markers', async () => {
      const bucket = storageFor(stack, 'worker').bucket(stack.bucket);
      await assert.rejects(
        bucket.file(`other/${DAY}/call/x.ogg`).save('x', {resumable: false}),
        (err: Error) => statusOf(err) === 403 && /storage\.objects\.create/.test(err.message),
      );
      await assert.rejects(
        bucket.file(names.markerObjectName(env, DAY, '_SUCCESS')).save('{}', {resumable: false}),
        (err: Error) => statusOf(err) === 403,
      );
    });

    it('should let an operator read bookkeeping and write a waiver, never a recording', async () => {
      const bucket = storageFor(stack, 'operator').bucket(stack.bucket);
      await assert.rejects(
        bucket.file(recording).download(),
        (err: Error) => statusOf(err) === 403,
      );
      const waiver = names.waiverObjectName(env, DAY, `w20260106000000-${Date.now().toString(16)}`);
      await bucket
        .file(waiver)
        .save('{}', {resumable: false, preconditionOpts: {ifGenerationMatch: 0}});
      await assert.rejects(
        storageFor(stack, 'outsider')
          .bucket(stack.bucket)
          .file(names.waiverObjectName(env, DAY, 'w20260106000000-0badcafe'))
          .save('{}', {resumable: false}),
        (err: Error) =>
          statusOf(err) === 403 &&
          /outsider@demo-project\.iam\.gserviceaccount\.com does not have storage\.objects\.create/.test(
            err.message,
          ),
      );
    });
  });

  describe('Secret Manager', () => {
    const client = (identity: string | null) => secretClient(stack, identity);
    const name = (secret: string) => `projects/${stack.project}/secrets/${secret}/versions/latest`;

    it('should give each function the secrets infra/ lets it read, and refuse the rest', async () => {
      const worker = client('worker');
      const checker = client('checker');
      try {
        const [clients] = await worker.accessSecretVersion({
          name: name(LOCAL_SECRETS.genesysClients),
        });
        assert.strictEqual(clients.payload?.data?.toString(), '[]');
        await assert.rejects(
          worker.accessSecretVersion({name: name(LOCAL_SECRETS.sendgridKey)}),
          (err: Error) =>
            statusOf(err) === grpc.status.PERMISSION_DENIED &&
            /Permission 'secretmanager\.versions\.access' denied for resource 'projects\/demo-project\/secrets\/grm-sendgrid-api-key\/versions\/latest'/.test(
              err.message,
            ),
        );
        await assert.rejects(
          checker.accessSecretVersion({name: name(LOCAL_SECRETS.genesysClients)}),
          (err: Error) => statusOf(err) === grpc.status.PERMISSION_DENIED,
        );
        const anonymous = client(null);
        await assert.rejects(
          anonymous.accessSecretVersion({name: name(LOCAL_SECRETS.genesysClients)}),
          (err: Error) => statusOf(err) === grpc.status.UNAUTHENTICATED,
        );
        await anonymous.close();
        // Refused before it is looked up: no telling a missing secret from a forbidden one.
        await assert.rejects(
          checker.accessSecretVersion({name: name('no-such-secret')}),
          (err: Error) => statusOf(err) === grpc.status.PERMISSION_DENIED,
        );
      } finally {
        await Promise.all([worker.close(), checker.close()]);
      }
    });
  });

  describe('the functions’ front ends (run.invoker)', () => {
    const post = (url: string, headers: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: {'content-type': 'application/json', ...headers},
        body: '{}',
      });

    it('should refuse a push without a token, from another identity, or for another audience', async () => {
      const url = stack.functions.worker!.url;
      assert.strictEqual((await post(url, {})).status, 403);
      assert.strictEqual((await post(url, invokeHeaders(stack, url, 'outsider'))).status, 403);
      // The scheduler may invoke the planner, not the worker.
      assert.strictEqual((await post(url, invokeHeaders(stack, url, 'scheduler'))).status, 403);
      const other = invokeHeaders(stack, stack.functions.checker!.url, 'pusher');
      const res = await post(url, other);
      assert.strictEqual(res.status, 401);
      assert.match(await res.text(), /audience/);
    });

    it('should let only the Eventarc trigger’s identity reach the checker', async () => {
      const url = stack.functions.checker!.url;
      assert.strictEqual((await post(url, invokeHeaders(stack, url, 'pusher'))).status, 403);
      const before = stack.checkerEvents().length;
      const ok = await post(url, {
        ...invokeHeaders(stack, url, 'eventarc'),
        'ce-id': `iam-${Date.now()}`,
        'ce-specversion': '1.0',
        'ce-source': '//storage.googleapis.com/projects/_/buckets/x',
        'ce-type': 'google.cloud.storage.object.v1.finalized',
      });
      assert.ok(ok.status < 300, `HTTP ${ok.status}`);
      assert.strictEqual(stack.checkerEvents().length, before + 1);
    });
  });
});

describe('access tokens in files, for gcloud (local/iam/token-files.ts)', () => {
  const key = newTokenKey();
  const email = 'operator@demo-project.iam.gserviceaccount.com';
  let clock = Date.parse('2026-11-20T00:00:00Z');
  let files: TokenFiles | undefined;
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-tokens-'));
  });

  afterEach(() => {
    files?.close();
    fs.rmSync(dir, {recursive: true, force: true});
  });

  it('should keep a token that verifies in a file only its owner reads, and rewrite it before it expires', async () => {
    files = new TokenFiles({
      dir,
      mint: e => mintToken(key, {email: e, kind: 'access'}, clock),
      identities: {operator: email},
      refreshMs: 20,
    });
    const file = files.file('operator');
    assert.strictEqual(files.file('operator'), file, 'one file per identity');
    assert.strictEqual(fs.statSync(file).mode & 0o077, 0);
    const first = fs.readFileSync(file, 'utf8');
    const verified = verifyToken(key, first, clock);
    assert.ok(verified.ok && verified.claims.email === email);
    // An hour on, the first token has expired; the file holds a fresh one.
    clock += TOKEN_LIFETIME_S * 1000;
    assert.strictEqual(verifyToken(key, first, clock).ok, false);
    const fresh = await eventually('a rewritten token file', () => {
      const now = fs.readFileSync(file, 'utf8');
      return now !== first ? now : undefined;
    });
    assert.ok(verifyToken(key, fresh, clock).ok);
  });

  it('should refuse an identity the stack does not have', () => {
    files = new TokenFiles({dir, mint: () => 'x', identities: {operator: email}});
    assert.throws(() => files!.file('someone'), /no local identity someone/);
  });
});
