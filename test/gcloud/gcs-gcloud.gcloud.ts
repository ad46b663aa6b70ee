/**
 * `npm run test:gcloud`: the GCS emulator under what the real Google Cloud
 * CLI does beyond the everyday commands (those are
 * test/local/gcs-gcloud.spec.ts, in `npm test`), on the shared stack, as
 * the project owner unless said otherwise. gcloud slices downloads and
 * uploads large files as parallel composite uploads (compose) from 150 MiB,
 * and limits each rewrite call to 100 MiB (rewrite tokens, where a rewrite
 * spans locations or storage classes): its own properties lower those
 * thresholds here, so a 20 MB file takes the paths a 150 MiB one takes by
 * default. Then metadata updates, recursive rm, and the answers gcloud
 * expects on a missing object or bucket (404), a failed precondition (412),
 * an existing object with -n, and a caller without the permission (403).
 * Skipped, saying so, where gcloud is not installed.
 */
import * as assert from 'node:assert';
import type {Bucket} from '@google-cloud/storage';
import {BIG, GcloudBench, crc32c, gs, md5} from '../setup/gcloud';

describe('GCS emulator through the Google Cloud CLI (gcloud storage, beyond the everyday)', function () {
  this.timeout(120_000);
  let bench: GcloudBench;
  let bucket: Bucket;
  /** A bucket in another location: a rewrite into it spans locations. */
  let elsewhere: Bucket;
  const name = `gcloud-x-${Date.now()}`;

  before(async function () {
    this.timeout(180_000);
    bench = await GcloudBench.open(this, 'the gcloud conformance of the GCS emulator');
    [bucket, elsewhere] = await Promise.all([
      bench.bucket(name),
      bench.bucket(`${name}-eu`, '--location=EU'),
    ]);
    await Promise.all([
      bench.ok(['storage', 'cp', 'small.txt', gs(bucket, 'a/small.txt')]),
      bench.ok(['storage', 'cp', 'big.bin', gs(bucket, 'a/big.bin')]),
    ]);
  });

  after(() => bench?.close());

  it('should serve a sliced download with Range requests, byte for byte', async () => {
    const sliced = await bench.ok(
      ['storage', 'cp', gs(bucket, 'a/big.bin'), 'sliced.bin', '--log-http'],
      {
        env: {
          CLOUDSDK_STORAGE_SLICED_OBJECT_DOWNLOAD_THRESHOLD: '4MiB',
          CLOUDSDK_STORAGE_SLICED_OBJECT_DOWNLOAD_COMPONENT_SIZE: '4MiB',
        },
      },
    );
    const slices = [...sliced.stderr.matchAll(/^content-range: bytes \d+-\d+\/20000000$/gim)];
    assert.ok(slices.length >= 4, `slices served: ${slices.length}`);
    assert.ok(bench.local('sliced.bin').equals(bench.big));
  });

  it('should rewrite across locations in steps, one rewrite token per step', async () => {
    const across = await bench.ok(
      ['storage', 'cp', gs(bucket, 'a/big.bin'), gs(elsewhere, 'c/copy.bin'), '--log-http'],
      {env: {CLOUDSDK_STORAGE_COPY_CHUNK_SIZE: '4MiB'}},
    );
    const tokens = [...across.stderr.matchAll(/"rewriteToken":"/g)].length;
    assert.strictEqual(tokens, Math.ceil(BIG / (4 * 1024 * 1024)) - 1);
    assert.match(across.stderr, /"done":true/);
    assert.ok(bench.stored(elsewhere, 'c/copy.bin').equals(bench.big));
    const [md] = await elsewhere.file('c/copy.bin').getMetadata();
    assert.strictEqual(md.md5Hash, md5(bench.big));
  });

  it('should compose a parallel composite upload, keep no MD5 of it, and let gcloud delete its components', async () => {
    // Components of 10 MiB: above gcloud's resumable threshold, the components it tracks and deletes.
    await bench.ok(['storage', 'cp', 'big.bin', gs(bucket, 'composite.bin')], {
      env: {
        CLOUDSDK_STORAGE_PARALLEL_COMPOSITE_UPLOAD_THRESHOLD: '4MiB',
        CLOUDSDK_STORAGE_PARALLEL_COMPOSITE_UPLOAD_COMPONENT_SIZE: '10MiB',
      },
    });
    const [md] = await bucket.file('composite.bin').getMetadata();
    assert.strictEqual(md.componentCount, 2);
    assert.strictEqual(md.md5Hash, undefined, 'Cloud Storage keeps no MD5 of a composite object');
    assert.strictEqual(md.crc32c, crc32c(bench.big));
    const [left] = await bucket.getFiles({prefix: 'gcloud/tmp/'});
    assert.deepStrictEqual(
      left.map(f => f.name),
      [],
    );
    const [, hashed] = await Promise.all([
      bench.ok(['storage', 'cp', gs(bucket, 'composite.bin'), 'composite.bin']),
      bench.ok(['storage', 'hash', gs(bucket, 'composite.bin'), '--format=json']),
    ]);
    assert.ok(bench.local('composite.bin').equals(bench.big), 'checked by gcloud with CRC32C');
    const [h] = JSON.parse(hashed.stdout) as Array<Record<string, string | null>>;
    assert.strictEqual(h!.crc32c_hash, crc32c(bench.big));
    assert.strictEqual(h!.md5_hash, null);
  });

  it('should update metadata with objects update (custom keys merged) and show it in describe and ls -L', async () => {
    const update = (...flags: string[]) =>
      bench.ok(['storage', 'objects', 'update', gs(bucket, 'a/small.txt'), ...flags]);
    await update('--content-type=text/x-note', '--custom-metadata=conversationId=c1,kind=note');
    await update('--update-custom-metadata=kind=reviewed');
    const [md] = await bucket.file('a/small.txt').getMetadata();
    assert.strictEqual(md.contentType, 'text/x-note');
    assert.deepStrictEqual(md.metadata, {conversationId: 'c1', kind: 'reviewed'});
    assert.strictEqual(md.metageneration, '3');
    const [described, long] = await Promise.all([
      bench.ok(['storage', 'objects', 'describe', gs(bucket, 'a/small.txt'), '--format=json']),
      bench.ok(['storage', 'ls', '-L', gs(bucket, 'a/small.txt')]),
    ]);
    const shown = JSON.parse(described.stdout) as Record<string, unknown>;
    assert.deepStrictEqual(shown.custom_fields, {conversationId: 'c1', kind: 'reviewed'});
    assert.strictEqual(shown.content_type, 'text/x-note');
    assert.strictEqual(shown.metageneration, 3);
    assert.match(long.stdout, /Content-Type: +text\/x-note/);
    assert.match(long.stdout, /Metageneration: +3/);
  });

  it('should answer as gcloud expects: 404, 412, an existing object under -n, and 403 naming the caller', async () => {
    const [before] = await bucket.file('a/small.txt').getMetadata();
    const [missing, noBucket, stale, kept, outsider] = await Promise.all([
      bench.gcloud(['storage', 'objects', 'describe', gs(bucket, 'nope')]),
      bench.gcloud(['storage', 'cat', `gs://${name}-none/x`]),
      bench.gcloud([
        'storage',
        'cp',
        '--if-generation-match=1',
        'small.txt',
        gs(bucket, 'a/small.txt'),
      ]),
      bench.ok(['storage', 'cp', '-n', 'big.bin', gs(bucket, 'a/small.txt')]),
      bench.gcloud(['storage', 'cat', gs(bucket, 'a/small.txt')], {identity: 'outsider'}),
    ]);
    assert.strictEqual(missing.code, 1);
    assert.match(missing.stderr, /gs:\/\/\S+\/nope not found: 404/);
    assert.strictEqual(noBucket.code, 1);
    assert.match(noBucket.stderr, new RegExp(`gs://${name}-none not found: 404`));
    assert.strictEqual(stale.code, 1);
    assert.match(
      stale.stderr,
      /HTTPError 412: At least one of the pre-conditions you specified did not hold/,
    );
    assert.match(kept.stderr, /Skipping existing destination item \(no-clobber\)/);
    const [after] = await bucket.file('a/small.txt').getMetadata();
    assert.strictEqual(after.generation, before.generation);
    assert.strictEqual(outsider.code, 1);
    assert.match(
      outsider.stderr,
      /HTTPError 403: outsider@demo-project\.iam\.gserviceaccount\.com does not have storage\.objects\.(get|list) access/,
    );
    assert.strictEqual(outsider.stdout, '');
  });

  it('should remove with rm: a missing object is refused, a folder goes recursively', async () => {
    await bench.ok(['storage', 'cp', gs(bucket, 'a/big.bin'), gs(bucket, 'b/one.bin')]);
    const [missing] = await Promise.all([
      bench.gcloud(['storage', 'rm', gs(bucket, 'b/none.bin')]),
      bench.ok(['storage', 'rm', '-r', gs(bucket, 'b')]),
    ]);
    assert.strictEqual(missing.code, 1);
    assert.match(missing.stderr, /matched no objects/);
    const [files] = await bucket.getFiles();
    assert.deepStrictEqual(files.map(f => f.name).sort(), [
      'a/big.bin',
      'a/small.txt',
      'composite.bin',
    ]);
  });
});
