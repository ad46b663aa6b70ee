/**
 * The GCS emulator's buckets.getIamPolicy, through `@google-cloud/storage`'s
 * `bucket.iam.getPolicy`: the bucket grants infra/ declares, as bindings with
 * their IAM Conditions (version 3), refused without version 3 as Cloud
 * Storage refuses a conditional policy, and readable by the project owner
 * only (storage.buckets.getIamPolicy).
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Server} from 'node:http';
import {OAuth2Client} from 'google-auth-library';
import {Storage} from '@google-cloud/storage';
import {createGcsServer} from '../../local/gcs/server';
import {FileStore} from '../../local/gcs/store';
import {DEFAULT_DELIVERY, EventNotifier} from '../../local/gcs/events';
import {close, listen} from '../../local/common/http';
import {Access, LOCAL_OWNER} from '../../local/iam/authorize';
import {loadPolicy} from '../../local/iam/policy';
import {mintToken, newTokenKey} from '../../local/iam/tokens';

const BUCKET = 'policy-bucket';
const PROJECT = 'demo-project';

describe('GCS emulator: buckets.getIamPolicy (official client)', function () {
  this.timeout(30_000);
  let server: Server;
  let url: string;
  let dir: string;
  const key = newTokenKey();

  function storageAs(email: string): Storage {
    const auth = new OAuth2Client();
    auth.refreshHandler = async () => ({
      access_token: mintToken(key, {email, kind: 'access'}),
      expiry_date: Date.now() + 3_600_000,
    });
    return new Storage({
      apiEndpoint: url,
      projectId: PROJECT,
      useAuthWithCustomEndpoint: true,
      authClient: auth,
    });
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-gcs-iam-'));
    const policy = await loadPolicy({project: PROJECT, bucket: BUCKET, env: 'local'});
    const store = await FileStore.open(path.join(dir, 'data'), path.join(dir, 'meta'));
    store.createBucket(BUCKET, {versioning: true, objectRetention: false});
    server = createGcsServer({
      store,
      notifier: new EventNotifier({...DEFAULT_DELIVERY, maxAttempts: 1}),
      access: new Access({policy, key}),
    });
    url = `http://127.0.0.1:${await listen(server, 0)}`;
  });

  after(async () => {
    await close(server);
    fs.rmSync(dir, {recursive: true, force: true});
  });

  it("should answer version 3 with infra/'s bucket grants as conditional bindings", async () => {
    const [policy] = await storageAs(LOCAL_OWNER)
      .bucket(BUCKET)
      .iam.getPolicy({requestedPolicyVersion: 3});
    assert.strictEqual(policy.version, 3);
    assert.ok(policy.etag);
    const worker = `serviceAccount:grm-worker@${PROJECT}.iam.gserviceaccount.com`;
    const workerBindings = policy.bindings.filter(b => b.members.includes(worker));
    assert.deepStrictEqual(workerBindings.map(b => b.role).sort(), [
      'roles/storage.objectCreator',
      'roles/storage.objectUser',
      'roles/storage.objectViewer',
    ]);
    for (const b of workerBindings) {
      const condition = b.condition as {title?: string; expression?: string} | undefined;
      assert.ok(condition?.title && condition.expression, JSON.stringify(b));
      assert.match(condition.expression, /projects\/_\/buckets\/policy-bucket\/objects\/local\//);
    }
  });

  it('should refuse a conditional policy to a request for an older version', async () => {
    await assert.rejects(
      storageAs(LOCAL_OWNER).bucket(BUCKET).iam.getPolicy(),
      (err: {code?: number; message?: string}) => {
        assert.strictEqual(err.code, 400);
        assert.match(err.message ?? '', /version 3/);
        return true;
      },
    );
  });

  it('should refuse anyone without storage.buckets.getIamPolicy, naming the permission', async () => {
    const worker = `grm-worker@${PROJECT}.iam.gserviceaccount.com`;
    await assert.rejects(
      storageAs(worker).bucket(BUCKET).iam.getPolicy({requestedPolicyVersion: 3}),
      (err: {code?: number; message?: string}) => {
        assert.strictEqual(err.code, 403);
        assert.match(err.message ?? '', /does not have storage\.buckets\.getIamPolicy/);
        return true;
      },
    );
  });
});
