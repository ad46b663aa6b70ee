/**
 * The Secret Manager stand-in, driven over gRPC by the official
 * `@google-cloud/secret-manager` client: over TLS, as the project owner (the
 * stack's stand-in authorizes every call; test/local/iam.spec.ts has the
 * refusals).
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import {SecretManagerServiceClient} from '@google-cloud/secret-manager';
import {TestStack, useStack} from '../setup/stack';
import {secretClient} from '../helpers';

function grpcCode(err: unknown): number | undefined {
  return (err as {code?: number}).code;
}

describe('Secret Manager stand-in (official client over gRPC)', function () {
  this.timeout(30_000);
  let stack: TestStack;
  let client: SecretManagerServiceClient;

  before(async function () {
    this.timeout(120_000);
    stack = await useStack();
    client = secretClient(stack);
  });

  after(async () => {
    await client?.close();
  });

  it('should return the latest version of a secret from the secrets file', async () => {
    const [version] = await client.accessSecretVersion({
      name: 'projects/demo-project/secrets/grm-sendgrid-api-key/versions/latest',
    });
    assert.strictEqual(version.payload?.data?.toString(), 'SG.test-key');
    assert.strictEqual(
      version.name,
      'projects/demo-project/secrets/grm-sendgrid-api-key/versions/1',
    );
    assert.match(String(version.payload?.dataCrc32c), /^\d+$/);
  });

  it('should answer NOT_FOUND for an unknown secret or version', async () => {
    await assert.rejects(
      client.accessSecretVersion({
        name: 'projects/demo-project/secrets/no-such-secret/versions/latest',
      }),
      err => grpcCode(err) === grpc.status.NOT_FOUND,
    );
    await assert.rejects(
      client.accessSecretVersion({
        name: 'projects/demo-project/secrets/grm-sendgrid-api-key/versions/7',
      }),
      err => grpcCode(err) === grpc.status.NOT_FOUND,
    );
  });

  it('should answer INVALID_ARGUMENT for a malformed resource name', async () => {
    await assert.rejects(
      client.accessSecretVersion({name: 'secrets/grm-sendgrid-api-key'}),
      err => grpcCode(err) === grpc.status.INVALID_ARGUMENT,
    );
  });

  it('should create secrets, add versions and keep them in the secrets file', async () => {
    const id = `rotated-${Date.now()}`;
    await client.createSecret({
      parent: 'projects/demo-project',
      secretId: id,
      secret: {replication: {automatic: {}}},
    });
    await assert.rejects(
      client.createSecret({parent: 'projects/demo-project', secretId: id, secret: {}}),
      err => grpcCode(err) === grpc.status.ALREADY_EXISTS,
    );
    await client.addSecretVersion({
      parent: `projects/demo-project/secrets/${id}`,
      payload: {data: Buffer.from('v1')},
    });
    await client.addSecretVersion({
      parent: `projects/demo-project/secrets/${id}`,
      payload: {data: Buffer.from('v2')},
    });
    const [latest] = await client.accessSecretVersion({
      name: `projects/demo-project/secrets/${id}/versions/latest`,
    });
    const [first] = await client.accessSecretVersion({
      name: `projects/demo-project/secrets/${id}/versions/1`,
    });
    assert.strictEqual(latest.payload?.data?.toString(), 'v2');
    assert.strictEqual(first.payload?.data?.toString(), 'v1');
    const onDisk = JSON.parse(fs.readFileSync(`${stack.dirs.root}/secrets.json`, 'utf8')) as Record<
      string,
      string[]
    >;
    assert.deepStrictEqual(onDisk[id], ['v1', 'v2']);
  });
});
