/**
 * The GCS emulator as a client we did not write uses it: the real Google
 * Cloud CLI (`gcloud storage`), pointed at the shared stack's emulator with
 * the environment the stack gives gcloud, as the project owner (every call
 * is authorized as Cloud Storage authorizes it). The everyday commands, in
 * `npm test`: cp up (a small file, which gcloud sends as a multipart upload
 * with bare LF line ends, and a 20 MB one, sent as a resumable upload on the
 * discovery document's path), ls with a wildcard, cat, objects describe, cp
 * down and cp gs://→gs:// (a rewrite) byte for byte, hash, rm. What gcloud
 * does beyond them (sliced downloads, parallel composite uploads, rewrite
 * tokens, metadata updates, its error paths) is test/gcloud/, `npm run
 * test:gcloud`. Skipped, saying so, where gcloud is not installed.
 */
import * as assert from 'node:assert';
import type {Bucket} from '@google-cloud/storage';
import {BIG, GcloudBench, crc32c, gs, md5} from '../setup/gcloud';

describe('GCS emulator through the Google Cloud CLI (gcloud storage, everyday commands)', function () {
  this.timeout(120_000);
  let bench: GcloudBench;
  let bucket: Bucket;

  before(async function () {
    this.timeout(180_000);
    bench = await GcloudBench.open(this, 'the gcloud conformance of the GCS emulator');
    bucket = await bench.bucket(`gcloud-${Date.now()}`);
  });

  after(() => bench?.close());

  it('should take cp up of a small file (multipart) and a 20 MB file (resumable) byte for byte', async () => {
    const [small, big] = await Promise.all([
      bench.ok(['storage', 'cp', 'small.txt', gs(bucket, 'a/small.txt'), '--log-http']),
      bench.ok(['storage', 'cp', 'big.bin', gs(bucket, 'a/big.bin'), '--log-http']),
    ]);
    assert.match(small.stderr, /uploadType=multipart/);
    assert.match(big.stderr, /\/resumable\/upload\/storage\/v1\/b\/\S+uploadType=resumable/);
    assert.ok(bench.stored(bucket, 'a/small.txt').equals(bench.small), 'its own CR LF kept');
    assert.ok(bench.stored(bucket, 'a/big.bin').equals(bench.big));
    const [md] = await bucket.file('a/big.bin').getMetadata();
    assert.strictEqual(md.md5Hash, md5(bench.big));
    assert.strictEqual(md.crc32c, crc32c(bench.big));
    const [smallMd] = await bucket.file('a/small.txt').getMetadata();
    assert.strictEqual(smallMd.contentType, 'text/plain');
  });

  it('should answer ls with a wildcard, cat and objects describe', async () => {
    const [listed, cat, described] = await Promise.all([
      bench.ok(['storage', 'ls', gs(bucket, 'a/*.bin')]),
      bench.ok(['storage', 'cat', gs(bucket, 'a/small.txt')]),
      bench.ok(['storage', 'objects', 'describe', gs(bucket, 'a/big.bin'), '--format=json']),
    ]);
    assert.deepStrictEqual(listed.stdout.trim().split('\n'), [gs(bucket, 'a/big.bin')]);
    assert.strictEqual(cat.stdout, bench.small.toString());
    const md = JSON.parse(described.stdout) as Record<string, unknown>;
    assert.strictEqual(md.size, BIG);
    assert.strictEqual(md.md5_hash, md5(bench.big));
    assert.strictEqual(md.crc32c_hash, crc32c(bench.big));
  });

  it('should give identical bytes on cp down and cp gs://→gs://, and hash as the local MD5', async () => {
    const [, , hashed] = await Promise.all([
      bench.ok(['storage', 'cp', gs(bucket, 'a/big.bin'), 'down.bin']),
      bench.ok(['storage', 'cp', gs(bucket, 'a/big.bin'), gs(bucket, 'b/copy.bin')]),
      bench.ok(['storage', 'hash', gs(bucket, 'a/big.bin'), '--format=json']),
    ]);
    assert.ok(bench.local('down.bin').equals(bench.big));
    assert.ok(bench.stored(bucket, 'b/copy.bin').equals(bench.big));
    const [h] = JSON.parse(hashed.stdout) as Array<Record<string, string>>;
    assert.strictEqual(h!.md5_hash, md5(bench.big));
    assert.strictEqual(h!.crc32c_hash, crc32c(bench.big));
  });

  it('should remove an object with rm', async () => {
    await bench.ok(['storage', 'rm', gs(bucket, 'b/copy.bin')]);
    const [exists] = await bucket.file('b/copy.bin').exists();
    assert.strictEqual(exists, false);
    const [files] = await bucket.getFiles();
    assert.deepStrictEqual(files.map(f => f.name).sort(), ['a/big.bin', 'a/small.txt']);
  });
});
