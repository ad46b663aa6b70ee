/**
 * Conformance of the GCS emulator, driven over HTTP by the official
 * `@google-cloud/storage` client (both ways of pointing it at an emulator),
 * plus raw requests where the client hides the protocol.
 */
import * as assert from 'node:assert';
import {createHash} from 'node:crypto';
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {Bucket, CRC32C, Storage} from '@google-cloud/storage';
import * as os from 'node:os';
import * as readline from 'node:readline';
import {TestStack, eventually, useStack} from '../setup/stack';
import {spawnChild, tsNode, waitForReadyLine} from '../../local/common/processes';
import {bytes, sink} from '../helpers';

type Mode = 'STORAGE_EMULATOR_HOST' | 'apiEndpoint';

/**
 * The official client reaching the emulator through `mode`. On the shared
 * stack (whose emulator authorizes every call) it acts as the project owner;
 * an emulator started on its own takes anonymous calls, as before.
 */
function storageVia(mode: Mode, url: string, stack?: TestStack): Storage {
  const universeDomain = new URL(url).hostname;
  const auth = stack?.iam
    ? {
        useAuthWithCustomEndpoint: true,
        universeDomain,
        authClient: stack.iam.authClient(undefined, universeDomain),
      }
    : {};
  if (mode === 'apiEndpoint')
    return new Storage({apiEndpoint: url, projectId: 'demo-project', ...auth});
  const before = process.env.STORAGE_EMULATOR_HOST;
  process.env.STORAGE_EMULATOR_HOST = url;
  try {
    return new Storage({projectId: 'demo-project', ...auth});
  } finally {
    if (before === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = before;
  }
}

function sums(buf: Buffer): {md5Hash: string; crc32c: string} {
  const crc = new CRC32C();
  crc.update(buf);
  return {md5Hash: createHash('md5').update(buf).digest('base64'), crc32c: crc.toString()};
}

function httpStatus(err: unknown): number | undefined {
  const e = err as {code?: unknown; status?: unknown; response?: {status?: number}};
  if (typeof e.code === 'number') return e.code;
  if (typeof e.status === 'number') return e.status;
  return e.response?.status;
}

async function rejectsWith(p: Promise<unknown>, status: number): Promise<void> {
  await assert.rejects(p, err => {
    assert.strictEqual(httpStatus(err), status, `expected HTTP ${status}, got ${String(err)}`);
    return true;
  });
}

describe('GCS emulator (official client over HTTP)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  /** fetch as the project owner: the shared stack's emulator authorizes every call. */
  const ownerFetch = (input: string, init: RequestInit = {}) =>
    fetch(input, {
      ...init,
      headers: {
        ...(init.headers as Record<string, string> | undefined),
        ...(stack.iam
          ? {authorization: `Bearer ${stack.iam.accessToken(stack.iam.identities.owner!)}`}
          : {}),
      },
    });
  let n = 0;
  const unique = (p: string) => `${p}-${Date.now()}-${n++}`;

  before(async function () {
    this.timeout(120_000);
    stack = await useStack();
  });

  for (const mode of ['STORAGE_EMULATOR_HOST', 'apiEndpoint'] as Mode[]) {
    describe(`through ${mode}`, () => {
      let storage: Storage;
      let bucket: Bucket;

      before(async () => {
        storage = storageVia(mode, stack.gcsUrl, stack);
        [bucket] = await storage.createBucket(unique('conformance'));
      });

      it('should create, get, list and delete buckets', async () => {
        const name = unique('tmp-bucket');
        await storage.createBucket(name);
        const [exists] = await storage.bucket(name).exists();
        assert.ok(exists);
        const [buckets] = await storage.getBuckets();
        assert.ok(buckets.some(b => b.name === name));
        await rejectsWith(storage.createBucket(name), 409);
        await storage.bucket(name).delete();
        const [after] = await storage.bucket(name).exists();
        assert.ok(!after);
      });

      it('should refuse to delete a bucket that is not empty', async () => {
        const [b] = await storage.createBucket(unique('full'));
        await b.file('x').save('x', {resumable: false});
        await rejectsWith(b.delete(), 409);
      });

      it('should store a multipart upload with content type, custom metadata and checksums', async () => {
        const data = bytes(10_000);
        const file = bucket.file('call/conv_rec.ogg');
        await file.save(data, {
          resumable: false,
          contentType: 'audio/ogg',
          metadata: {metadata: {conversationId: 'c1'}},
        });
        const [md] = await file.getMetadata();
        assert.strictEqual(md.contentType, 'audio/ogg');
        assert.strictEqual(md.size, String(data.length));
        assert.deepStrictEqual(md.metadata, {conversationId: 'c1'});
        assert.strictEqual(md.md5Hash, sums(data).md5Hash);
        assert.strictEqual(md.crc32c, sums(data).crc32c);
        const [down] = await file.download();
        assert.ok(down.equals(data));
      });

      it('should store a resumable upload sent in one request', async () => {
        const data = bytes(3 * 1024 * 1024 + 17, 2);
        const file = bucket.file('one-shot.bin');
        await file.save(data, {resumable: true, contentType: 'application/octet-stream'});
        const [down] = await file.download();
        assert.ok(down.equals(data));
      });

      it('should store a resumable upload sent in 256 KiB chunks', async () => {
        const data = bytes(5 * 256 * 1024 + 1234, 3);
        const file = bucket.file('chunked.bin');
        await file.save(data, {resumable: true, chunkSize: 256 * 1024});
        const [md] = await file.getMetadata();
        assert.strictEqual(md.size, String(data.length));
        assert.strictEqual(md.crc32c, sums(data).crc32c);
      });

      it('should compute MD5 and CRC32C of uploads that carry no client checksums, as GCS does', async () => {
        // validation: false sends no X-Goog-Hash and no checksums in the metadata; GCS computes
        // both over what it stored and returns them in the upload's response.
        const cases: Array<[string, Buffer, {resumable: boolean; chunkSize?: number}]> = [
          ['multipart', bytes(70_001, 4), {resumable: false}],
          ['resumable, one request', bytes(2 * 1024 * 1024 + 5, 5), {resumable: true}],
          [
            'resumable, chunked',
            bytes(3 * 256 * 1024 + 9, 6),
            {resumable: true, chunkSize: 256 * 1024},
          ],
        ];
        for (const [what, data, opts] of cases) {
          const file = bucket.file(`unvalidated/${what}.bin`);
          await pipeline(
            Readable.from([data]),
            file.createWriteStream({...opts, validation: false, contentType: 'audio/ogg'}),
          );
          const expected = {size: String(data.length), ...sums(data)};
          const answered = file.metadata;
          assert.deepStrictEqual(
            {size: String(answered.size), md5Hash: answered.md5Hash, crc32c: answered.crc32c},
            expected,
            `${what}: upload response`,
          );
          const [md] = await bucket.file(`unvalidated/${what}.bin`).getMetadata();
          assert.deepStrictEqual(
            {size: String(md.size), md5Hash: md.md5Hash, crc32c: md.crc32c},
            expected,
            `${what}: stored metadata`,
          );
        }
      });

      it('should stream a download with validation and serve byte ranges', async () => {
        const data = bytes(100_000, 4);
        const file = bucket.file('ranged.bin');
        await file.save(data, {resumable: false});
        const [part] = await file.download({start: 1000, end: 1999});
        assert.ok(part.equals(data.subarray(1000, 2000)));
        const chunks: Buffer[] = [];
        await pipeline(
          file.createReadStream({validation: 'crc32c'}),
          sink(c => chunks.push(c)),
        );
        assert.ok(Buffer.concat(chunks).equals(data));
      });

      it('should list with prefix, delimiter and page tokens', async () => {
        const [b] = await storage.createBucket(unique('listing'));
        const names = [
          'd/a.json',
          'd/b.json',
          'd/sub/c.json',
          'd/sub/d.json',
          'e/x.json',
          'top.json',
        ];
        await Promise.all(names.map(name => b.file(name).save(name, {resumable: false})));
        const [, , byPrefix] = await b.getFiles({
          prefix: 'd/',
          delimiter: '/',
          autoPaginate: false,
        });
        const res = byPrefix as {items?: Array<{name: string}>; prefixes?: string[]};
        assert.deepStrictEqual(
          res.items?.map(i => i.name),
          ['d/a.json', 'd/b.json'],
        );
        assert.deepStrictEqual(res.prefixes, ['d/sub/']);
        const [top, , topRes] = await b.getFiles({delimiter: '/', autoPaginate: false});
        assert.deepStrictEqual(
          top.map(f => f.name),
          ['top.json'],
        );
        assert.deepStrictEqual((topRes as {prefixes?: string[]}).prefixes, ['d/', 'e/']);
        type Query = {maxResults: number; autoPaginate: false; pageToken?: string};
        const seen: string[] = [];
        let query: Query | null = {maxResults: 2, autoPaginate: false};
        let pages = 0;
        while (query) {
          const page = (await b.getFiles(query)) as unknown as [
            Array<{name: string}>,
            Query | null,
          ];
          seen.push(...page[0].map(f => f.name));
          pages++;
          query = page[1];
        }
        assert.deepStrictEqual(seen, names);
        assert.strictEqual(pages, 3);
      });

      it('should enforce ifGenerationMatch=0 on multipart and resumable uploads', async () => {
        const file = bucket.file('write-once.json');
        await file.save('{"v":1}', {resumable: false, preconditionOpts: {ifGenerationMatch: 0}});
        await rejectsWith(
          file.save('{"v":2}', {resumable: false, preconditionOpts: {ifGenerationMatch: 0}}),
          412,
        );
        await rejectsWith(
          file.save('{"v":3}', {resumable: true, preconditionOpts: {ifGenerationMatch: 0}}),
          412,
        );
        const [down] = await file.download();
        assert.strictEqual(down.toString(), '{"v":1}');
      });

      it('should honour generation and metageneration preconditions', async () => {
        const file = bucket.file('gen.txt');
        await file.save('one', {resumable: false});
        const [md] = await file.getMetadata();
        await file.save('two', {
          resumable: false,
          preconditionOpts: {ifGenerationMatch: Number(md.generation)},
        });
        await rejectsWith(
          file.save('three', {
            resumable: false,
            preconditionOpts: {ifGenerationMatch: Number(md.generation)},
          }),
          412,
        );
        const [md2] = await file.getMetadata();
        assert.ok(BigInt(md2.generation!) > BigInt(md.generation!));
        await rejectsWith(file.setMetadata({metadata: {a: 'b'}}, {ifMetagenerationMatch: 99}), 412);
        await file.setMetadata(
          {metadata: {a: 'b'}},
          {ifMetagenerationMatch: Number(md2.metageneration)},
        );
      });

      it('should patch metadata, bump the metageneration and delete keys set to null', async () => {
        const file = bucket.file('patch.txt');
        await file.save('x', {resumable: false, metadata: {metadata: {keep: '1', drop: '2'}}});
        const [before] = await file.getMetadata();
        const [after] = await file.setMetadata({
          contentType: 'text/plain',
          metadata: {drop: null, added: '3'},
        });
        assert.strictEqual(after.metageneration, String(Number(before.metageneration) + 1));
        assert.strictEqual(after.generation, before.generation);
        assert.deepStrictEqual(after.metadata, {keep: '1', added: '3'});
        assert.strictEqual(after.contentType, 'text/plain');
      });

      it('should copy and rewrite objects with their content type', async () => {
        const data = bytes(4096, 5);
        const src = bucket.file('src/rec.webm');
        await src.save(data, {resumable: false, contentType: 'video/webm'});
        const [copy] = await src.copy(bucket.file('dst/rec.webm'));
        const [md] = await copy.getMetadata();
        assert.strictEqual(md.contentType, 'video/webm');
        assert.strictEqual(md.md5Hash, sums(data).md5Hash);
        await src.move('moved/rec.webm');
        const [srcExists] = await src.exists();
        assert.ok(!srcExists);
        const [moved] = await bucket.file('moved/rec.webm').download();
        assert.ok(moved.equals(data));
      });

      it('should delete objects and answer 404 afterwards in the JSON API error shape', async () => {
        const file = bucket.file('gone.txt');
        await file.save('x', {resumable: false});
        await file.delete();
        await rejectsWith(file.download(), 404);
        await rejectsWith(file.delete(), 404);
        const res = await ownerFetch(`${stack.gcsUrl}/storage/v1/b/${bucket.name}/o/gone.txt`);
        assert.strictEqual(res.status, 404);
        const body = (await res.json()) as {
          error: {code: number; message: string; errors: Array<{reason: string}>};
        };
        assert.strictEqual(body.error.code, 404);
        assert.strictEqual(body.error.errors[0]?.reason, 'notFound');
      });
    });
  }

  describe('protocol details', () => {
    let bucketName: string;
    before(async () => {
      bucketName = unique('raw');
      const res = await ownerFetch(`${stack.gcsUrl}/storage/v1/b?project=demo-project`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({name: bucketName}),
      });
      assert.strictEqual(res.status, 200);
    });

    async function openSession(name: string, extra: Record<string, string> = {}): Promise<string> {
      const res = await ownerFetch(
        `${stack.gcsUrl}/upload/storage/v1/b/${bucketName}/o?uploadType=resumable&name=${name}`,
        {
          method: 'POST',
          headers: {'content-type': 'application/json', ...extra},
          body: '{}',
        },
      );
      assert.strictEqual(res.status, 200);
      return res.headers.get('location')!;
    }

    it('should resume an interrupted resumable upload from the persisted range', async () => {
      const data = bytes(600_000, 6);
      const location = await openSession('resumed.bin');
      const first = await ownerFetch(location, {
        method: 'PUT',
        headers: {'content-range': 'bytes 0-262143/*'},
        body: data.subarray(0, 262_144),
      });
      assert.strictEqual(first.status, 308);
      assert.strictEqual(first.headers.get('range'), 'bytes=0-262143');
      const status = await ownerFetch(location, {
        method: 'PUT',
        headers: {'content-range': 'bytes */*'},
      });
      assert.strictEqual(status.status, 308);
      assert.strictEqual(status.headers.get('range'), 'bytes=0-262143');
      // Re-sending an overlapping chunk is harmless: the overlap is skipped.
      const rest = await ownerFetch(location, {
        method: 'PUT',
        headers: {'content-range': `bytes 200000-${data.length - 1}/${data.length}`},
        body: data.subarray(200_000),
      });
      assert.strictEqual(rest.status, 200);
      const object = (await rest.json()) as {size: string; md5Hash: string};
      assert.strictEqual(object.size, String(data.length));
      assert.strictEqual(object.md5Hash, sums(data).md5Hash);
      const again = await ownerFetch(location, {
        method: 'PUT',
        headers: {'content-range': 'bytes */*'},
      });
      assert.strictEqual(again.status, 200);
    });

    it('should reject a chunk that starts beyond what was received', async () => {
      const location = await openSession('gap.bin');
      const res = await ownerFetch(location, {
        method: 'PUT',
        headers: {'content-range': 'bytes 10-19/20'},
        body: bytes(10),
      });
      assert.strictEqual(res.status, 400);
      assert.match(
        ((await res.json()) as {error: {message: string}}).error.message,
        /exceeds already uploaded size/,
      );
    });

    it('should reject an upload whose bytes do not match the checksum the client sent', async () => {
      const data = Buffer.from('recording bytes');
      const wrong = sums(Buffer.from('other bytes'));
      const boundary = 'b0undary';
      const body = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\ncontent-type: application/json\r\n\r\n${JSON.stringify({name: 'bad-crc', crc32c: wrong.crc32c})}\r\n` +
            `--${boundary}\r\ncontent-type: text/plain\r\n\r\n`,
        ),
        data,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const res = await ownerFetch(
        `${stack.gcsUrl}/upload/storage/v1/b/${bucketName}/o?uploadType=multipart`,
        {
          method: 'POST',
          headers: {'content-type': `multipart/related; boundary=${boundary}`},
          body,
        },
      );
      assert.strictEqual(res.status, 400);
      assert.match(
        ((await res.json()) as {error: {message: string}}).error.message,
        /doesn't match calculated CRC32C/,
      );
      const head = await ownerFetch(`${stack.gcsUrl}/storage/v1/b/${bucketName}/o/bad-crc`);
      assert.strictEqual(head.status, 404);
      const hashHeader = await ownerFetch(await openSession('bad-hash-header'), {
        method: 'PUT',
        headers: {'x-goog-hash': `md5=${wrong.md5Hash}`},
        body: data,
      });
      assert.strictEqual(hashHeader.status, 400);
    });

    it('should send x-goog-hash and generation headers with media', async () => {
      const data = bytes(1000, 7);
      const storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      await storage.bucket(bucketName).file('h.bin').save(data, {resumable: false});
      const res = await ownerFetch(
        `${stack.gcsUrl}/download/storage/v1/b/${bucketName}/o/h.bin?alt=media`,
      );
      const expected = sums(data);
      assert.strictEqual(
        res.headers.get('x-goog-hash'),
        `crc32c=${expected.crc32c},md5=${expected.md5Hash}`,
      );
      assert.match(res.headers.get('x-goog-generation') ?? '', /^\d+$/);
      assert.strictEqual(res.headers.get('x-goog-stored-content-length'), '1000');
      const unsatisfiable = await ownerFetch(
        `${stack.gcsUrl}/storage/v1/b/${bucketName}/o/h.bin?alt=media`,
        {
          headers: {range: 'bytes=5000-6000'},
        },
      );
      assert.strictEqual(unsatisfiable.status, 416);
    });

    const badRequests: Array<{
      name: string;
      method: string;
      path: string;
      body?: string;
      status: number;
      message: RegExp;
    }> = [
      {
        name: 'an invalid bucket name',
        method: 'POST',
        path: '/storage/v1/b',
        body: '{"name":"Bad_Bucket!"}',
        status: 400,
        message: /Invalid bucket name/,
      },
      {
        name: 'a body that is not JSON',
        method: 'POST',
        path: '/storage/v1/b',
        body: '{nope',
        status: 400,
        message: /not valid JSON/,
      },
      {
        name: 'a missing bucket',
        method: 'GET',
        path: '/storage/v1/b/no-such-bucket-xyz/o',
        status: 404,
        message: /bucket does not exist/,
      },
      {
        name: 'an unknown route',
        method: 'GET',
        path: '/storage/v1/nothing',
        status: 404,
        message: /Not Found/,
      },
      {
        name: 'a bad precondition value',
        method: 'DELETE',
        path: '/storage/v1/b/BUCKET/o/x?ifGenerationMatch=abc',
        status: 400,
        message: /ifGenerationMatch/,
      },
      {
        name: 'an unsupported upload type',
        method: 'POST',
        path: '/upload/storage/v1/b/BUCKET/o?uploadType=weird&name=x',
        body: 'x',
        status: 400,
        message: /Unsupported uploadType/,
      },
      {
        name: 'an object name with an empty path segment',
        method: 'POST',
        path: '/upload/storage/v1/b/BUCKET/o?uploadType=media&name=a//b',
        body: 'x',
        status: 400,
        message: /empty, '\.' or '\.\.' path segment/,
      },
      {
        name: 'a malformed multipart body',
        method: 'POST',
        path: '/upload/storage/v1/b/BUCKET/o?uploadType=multipart',
        body: '--x\r\n\r\n{}',
        status: 400,
        message: /closing boundary|multipart/,
      },
    ];
    for (const t of badRequests) {
      it(`should answer ${t.status} to ${t.name}`, async () => {
        const headers: Record<string, string> = {
          'content-type': t.path.includes('multipart')
            ? 'multipart/related; boundary=x'
            : 'application/json',
        };
        const res = await ownerFetch(`${stack.gcsUrl}${t.path.replace('BUCKET', bucketName)}`, {
          method: t.method,
          headers,
          body: t.body,
        });
        assert.strictEqual(res.status, t.status);
        const body = (await res.json()) as {error: {code: number; message: string}};
        assert.strictEqual(body.error.code, t.status);
        assert.match(body.error.message, t.message);
      });
    }

    it('should inject faults at runtime and clear them', async () => {
      const add = await fetch(`${stack.gcsUrl}/_admin/faults`, {
        method: 'POST',
        body: JSON.stringify({
          method: 'GET',
          path: `/b/${bucketName}/o/h\\.bin`,
          action: 'status',
          status: 503,
          times: 1,
        }),
      });
      assert.strictEqual(add.status, 200);
      const failed = await ownerFetch(`${stack.gcsUrl}/storage/v1/b/${bucketName}/o/h.bin`);
      assert.strictEqual(failed.status, 503);
      const ok = await ownerFetch(`${stack.gcsUrl}/storage/v1/b/${bucketName}/o/h.bin`);
      assert.strictEqual(ok.status, 200);
      // The official client retries a 503 by itself.
      await fetch(`${stack.gcsUrl}/_admin/faults`, {
        method: 'POST',
        body: JSON.stringify({
          method: 'GET',
          path: 'h\\.bin',
          action: 'status',
          status: 503,
          times: 2,
        }),
      });
      const [md] = await storageVia('apiEndpoint', stack.gcsUrl, stack)
        .bucket(bucketName)
        .file('h.bin')
        .getMetadata();
      assert.strictEqual(md.size, '1000');
      const bad = await fetch(`${stack.gcsUrl}/_admin/faults`, {
        method: 'POST',
        body: '{"action":"explode"}',
      });
      assert.strictEqual(bad.status, 400);
      await fetch(`${stack.gcsUrl}/_admin/faults`, {method: 'DELETE'});
    });
  });

  describe('compose and rewrite in steps', () => {
    let storage: Storage;
    let bucket: Bucket;
    /** A bucket in another location: a rewrite into it spans locations. */
    let elsewhere: Bucket;
    const data = bytes(3 * 1024 * 1024 + 5, 11);
    const MiB = 1024 * 1024;

    before(async () => {
      storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      [bucket] = await storage.createBucket(unique('compose'));
      [elsewhere] = await storage.createBucket(unique('elsewhere'), {location: 'EU'});
      await bucket.file('whole.bin').save(data, {resumable: false});
    });

    async function rewrite(query: string, body: object = {}): Promise<Response> {
      return ownerFetch(
        `${stack.gcsUrl}/storage/v1/b/${bucket.name}/o/whole.bin/rewriteTo/b/${elsewhere.name}/o/copy.bin?${query}`,
        {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)},
      );
    }

    it('should compose sources into a composite object with a CRC32C, a component count and no MD5', async () => {
      const parts = [data.subarray(0, MiB), data.subarray(MiB, 2 * MiB), data.subarray(2 * MiB)];
      await Promise.all(parts.map((p, i) => bucket.file(`part-${i}`).save(p, {resumable: false})));
      const [first] = await bucket.combine(['part-0', 'part-1'], 'first-two');
      const [all] = await bucket.combine([first, bucket.file('part-2')], 'composite.bin');
      const [md] = await all.getMetadata();
      assert.strictEqual(md.componentCount, 3, 'a composite source counts its components');
      assert.strictEqual(md.md5Hash, undefined);
      assert.strictEqual(md.crc32c, sums(data).crc32c);
      assert.strictEqual(md.size, String(data.length));
      // Read through the client, which checks the composite object's CRC32C.
      const chunks: Buffer[] = [];
      await pipeline(
        all.createReadStream({validation: 'crc32c'}),
        sink(c => chunks.push(c)),
      );
      assert.ok(Buffer.concat(chunks).equals(data));
      const media = await ownerFetch(
        `${stack.gcsUrl}/download/storage/v1/b/${bucket.name}/o/composite.bin?alt=media`,
      );
      assert.strictEqual(media.headers.get('x-goog-hash'), `crc32c=${sums(data).crc32c}`);
      await media.arrayBuffer();
    });

    it('should refuse a compose of more than 32 sources, of a missing source, or across storage classes', async () => {
      const compose = (sourceObjects: object[]) =>
        ownerFetch(`${stack.gcsUrl}/storage/v1/b/${bucket.name}/o/refused/compose`, {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body: JSON.stringify({sourceObjects, destination: {contentType: 'text/plain'}}),
        });
      const tooMany = await compose(Array.from({length: 33}, () => ({name: 'part-0'})));
      assert.strictEqual(tooMany.status, 400);
      assert.match(await tooMany.text(), /exceeds the maximum \(32\)/);
      assert.strictEqual((await compose([{name: 'part-0'}, {name: 'no-such-part'}])).status, 404);
      const stale = await compose([
        {name: 'part-0', objectPreconditions: {ifGenerationMatch: '1'}},
      ]);
      assert.strictEqual(stale.status, 412);
      await bucket.file('cold').save('x', {resumable: false, metadata: {storageClass: 'NEARLINE'}});
      const mixed = await compose([{name: 'part-0'}, {name: 'cold'}]);
      assert.strictEqual(mixed.status, 400);
      assert.match(await mixed.text(), /same storage class/);
      const [exists] = await bucket.file('refused').exists();
      assert.strictEqual(exists, false);
    });

    it('should rewrite across locations in steps of maxBytesRewrittenPerCall, with a rewrite token', async () => {
      type Step = {done: boolean; totalBytesRewritten: string; rewriteToken?: string};
      const first = (await (await rewrite(`maxBytesRewrittenPerCall=${MiB}`)).json()) as Step;
      assert.deepStrictEqual(
        {done: first.done, total: first.totalBytesRewritten},
        {done: false, total: String(MiB)},
      );
      const token = encodeURIComponent(first.rewriteToken!);
      const changed = await rewrite(`maxBytesRewrittenPerCall=${2 * MiB}&rewriteToken=${token}`);
      assert.strictEqual(changed.status, 400, 'a changed maxBytesRewrittenPerCall');
      assert.match(await changed.text(), /rewrite token is not valid/);
      const steps: Step[] = [first];
      while (!steps[steps.length - 1]!.done) {
        const res = await rewrite(`maxBytesRewrittenPerCall=${MiB}&rewriteToken=${token}`);
        assert.strictEqual(res.status, 200);
        steps.push((await res.json()) as Step);
      }
      assert.deepStrictEqual(
        steps.map(s => s.totalBytesRewritten),
        [MiB, 2 * MiB, 3 * MiB, data.length].map(String),
      );
      const [md] = await elsewhere.file('copy.bin').getMetadata();
      assert.strictEqual(md.md5Hash, sums(data).md5Hash);
      const kept = path.join(stack.dirs.gcsData, elsewhere.name, 'copy.bin');
      assert.ok(fs.readFileSync(kept).equals(data), 'the bytes the emulator keeps');
      const spent = await rewrite(`maxBytesRewrittenPerCall=${MiB}&rewriteToken=${token}`);
      assert.strictEqual(spent.status, 400, 'a finished rewrite has no token any more');
    });

    it('should rewrite within a location in one call, and refuse a limit that is not whole MiB', async () => {
      const res = await ownerFetch(
        `${stack.gcsUrl}/storage/v1/b/${bucket.name}/o/whole.bin/rewriteTo/b/${bucket.name}/o/same.bin?maxBytesRewrittenPerCall=${MiB}`,
        {method: 'POST'},
      );
      const step = (await res.json()) as {done: boolean; resource: {size: string}};
      assert.strictEqual(step.done, true);
      assert.strictEqual(step.resource.size, String(data.length));
      const odd = await rewrite('maxBytesRewrittenPerCall=1000');
      assert.strictEqual(odd.status, 400);
      assert.match(await odd.text(), /integral multiple of 1048576/);
    });

    it('should answer getStorageLayout for a lister, as a flat namespace', async () => {
      const res = await ownerFetch(`${stack.gcsUrl}/storage/v1/b/${elsewhere.name}/storageLayout`);
      assert.deepStrictEqual(await res.json(), {
        kind: 'storage#storageLayout',
        bucket: elsewhere.name,
        location: 'EU',
        locationType: 'multi-region',
        hierarchicalNamespace: {enabled: false},
      });
    });
  });

  describe('checksums sent with an upload: verified by the server', () => {
    let storage: Storage;
    let bucket: Bucket;
    const data = bytes(700_000, 31);
    const right = sums(data);
    const wrong = sums(bytes(700_000, 32));

    before(async () => {
      storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      [bucket] = await storage.createBucket(unique('checked'));
    });
    afterEach(() => fetch(`${stack.gcsUrl}/_admin/faults`, {method: 'DELETE'}));

    /** Cloud Storage's refusal: 400, `invalid`, its message, nothing created. */
    async function refused(upload: Promise<unknown>, object: string, what: RegExp): Promise<void> {
      await assert.rejects(upload, (err: {code?: unknown; message?: string; errors?: unknown}) => {
        assert.strictEqual(err.code, 400, String(err));
        assert.match(String(err.message), what);
        const errors = err.errors as Array<{reason?: string}> | undefined;
        assert.strictEqual(errors?.[0]?.reason, 'invalid', JSON.stringify(err.errors));
        return true;
      });
      assert.deepStrictEqual(await bucket.file(object).exists(), [false], 'an object was created');
    }

    /** A status query of a resumable session (`Content-Range: bytes *\/*`). */
    const status = (uri: string) =>
      fetch(uri, {method: 'PUT', headers: {'content-range': 'bytes */*'}});

    /** Flips one byte of the body of the next `method` request of `object`'s upload. */
    async function corruptNext(object: string, method: string, atByte?: number): Promise<void> {
      const res = await fetch(`${stack.gcsUrl}/_admin/faults`, {
        method: 'POST',
        body: JSON.stringify({
          method,
          path: `^/upload/storage/v1/b/[^/]+/o\\?.*name=${object}(&|$)`,
          action: 'corrupt',
          times: 1,
          ...(atByte === undefined ? {} : {atByte}),
        }),
      });
      assert.strictEqual(res.status, 200, await res.text());
    }

    for (const field of ['crc32c', 'md5Hash'] as const) {
      it(`should refuse a multipart upload whose metadata ${field} does not match its bytes`, async () => {
        const object = unique(`multipart-${field}`);
        const label = field === 'crc32c' ? 'CRC32C' : 'MD5 hash';
        await refused(
          bucket.file(object).save(data, {
            resumable: false,
            validation: false,
            metadata: {[field]: wrong[field]},
          }),
          object,
          new RegExp(
            `^Provided ${label} "${wrong[field].replace(/[+/]/g, '\\$&')}" doesn't match calculated ${label} "`,
          ),
        );
        await bucket.file(object).save(data, {
          resumable: false,
          validation: false,
          metadata: {[field]: right[field]},
        });
        const [md] = await bucket.file(object).getMetadata();
        assert.deepStrictEqual([md.crc32c, md.md5Hash], [right.crc32c, right.md5Hash]);
      });
    }

    it('should refuse a multipart upload whose body was changed in transit, when it carries its checksum', async () => {
      const object = unique('multipart-corrupted');
      // The client streams a multipart body without Content-Length: a byte in its media part.
      await corruptNext(object, 'POST', 4096);
      await refused(
        bucket.file(object).save(data, {
          resumable: false,
          validation: false,
          metadata: {crc32c: right.crc32c},
        }),
        object,
        /doesn't match calculated CRC32C/,
      );
      // Without a checksum the damaged bytes are stored: one byte differs.
      await corruptNext(object, 'POST', 4096);
      await bucket.file(object).save(data, {resumable: false, validation: false});
      const res = await ownerFetch(
        `${stack.gcsUrl}/download/storage/v1/b/${bucket.name}/o/${object}?alt=media`,
      );
      const stored = Buffer.from(await res.arrayBuffer());
      assert.strictEqual(stored.length, data.length);
      assert.strictEqual(stored.filter((b, i) => b !== data[i]).length, 1);
    });

    it('should refuse a resumable upload whose bytes do not match the crc32c it was opened with, and end the session (410)', async () => {
      const object = unique('resumable-metadata');
      const [uri] = await bucket.file(object).createResumableUpload({
        metadata: {crc32c: wrong.crc32c},
        preconditionOpts: {ifGenerationMatch: 0},
      });
      await refused(
        pipeline(
          Readable.from([data]),
          bucket.file(object).createWriteStream({uri, validation: false}),
        ),
        object,
        /^Provided CRC32C .* doesn't match calculated CRC32C/,
      );
      const after = await status(uri);
      assert.strictEqual(after.status, 410);
      const body = (await after.json()) as {error: {code: number}};
      assert.strictEqual(body.error.code, 410);
    });

    it('should check X-Goog-Hash on the final request of a chunked resumable upload against the whole object', async () => {
      const first = 262_144;
      // Opened by the client; the chunks are raw requests (the client sends no X-Goog-Hash).
      const chunked = async (object: string, hash: string) => {
        const [uri] = await bucket.file(object).createResumableUpload({
          metadata: {contentType: 'audio/ogg'},
          preconditionOpts: {ifGenerationMatch: 0},
        });
        const head = await fetch(uri, {
          method: 'PUT',
          headers: {'content-range': `bytes 0-${first - 1}/*`},
          body: data.subarray(0, first),
        });
        assert.strictEqual(head.status, 308);
        const last = await fetch(uri, {
          method: 'PUT',
          headers: {
            'content-range': `bytes ${first}-${data.length - 1}/${data.length}`,
            'x-goog-hash': hash,
          },
          body: data.subarray(first),
        });
        return {uri, last};
      };

      const good = unique('resumable-good');
      const ok = await chunked(good, `crc32c=${right.crc32c},md5=${right.md5Hash}`);
      assert.strictEqual(ok.last.status, 200);
      const [md] = await bucket.file(good).getMetadata();
      assert.deepStrictEqual([md.size, md.crc32c], [String(data.length), right.crc32c]);

      for (const hash of [`crc32c=${wrong.crc32c}`, `md5=${wrong.md5Hash}`]) {
        const object = unique('resumable-wrong');
        const {uri, last} = await chunked(object, hash);
        assert.strictEqual(last.status, 400);
        const body = (await last.json()) as {
          error: {code: number; message: string; errors: Array<{reason: string}>};
        };
        assert.strictEqual(body.error.code, 400);
        assert.match(body.error.message, /doesn't match calculated (CRC32C|MD5 hash)/);
        assert.strictEqual(body.error.errors[0]?.reason, 'invalid');
        assert.deepStrictEqual(await bucket.file(object).exists(), [false]);
        assert.strictEqual((await status(uri)).status, 410, 'the session stayed open');
        const resend = await fetch(uri, {
          method: 'PUT',
          headers: {'content-range': `bytes ${first}-${data.length - 1}/${data.length}`},
          body: data.subarray(first),
        });
        assert.strictEqual(resend.status, 410, 'the ended session took more bytes');
      }

      // A byte changed in the first chunk is caught by the hash on the last.
      const damaged = unique('resumable-damaged');
      await corruptNext(damaged, 'PUT', 1000);
      const caught = await chunked(damaged, `crc32c=${right.crc32c}`);
      assert.strictEqual(caught.last.status, 400);
      assert.deepStrictEqual(await bucket.file(damaged).exists(), [false]);
    });

    it('should refuse a checksum that cannot be one with a clear 400', async () => {
      const object = unique('malformed');
      await refused(
        bucket.file(object).save(data, {
          resumable: false,
          validation: false,
          metadata: {crc32c: 'not a crc'},
        }),
        object,
        /^Invalid CRC32C "not a crc": expected the base64 of its 4 bytes/,
      );
    });
  });

  describe('cut-off uploads', () => {
    // Cloud Storage finalizes a resumable upload only when a request that
    // ends normally completes it; a dropped connection leaves the session
    // open (a status query answers 308 with what was persisted) and no
    // object visible. A simple or multipart upload cut off is discarded.
    let bucket: Bucket;
    before(async () => {
      [bucket] = await storageVia('apiEndpoint', stack.gcsUrl, stack).createBucket(unique('cut'));
    });

    /** The session's status (`bytes *\/*`), once the server has let go of the cut request. */
    function uploadStatus(location: string): Promise<Response> {
      return eventually('the upload session to be idle', async () => {
        const res = await ownerFetch(location, {
          method: 'PUT',
          headers: {'content-range': 'bytes */*'},
        });
        return res.status === 409 ? undefined : res;
      });
    }

    function persisted(res: Response): number {
      const range = res.headers.get('range');
      if (range === null) return 0;
      const m = /^bytes=0-(\d+)$/.exec(range);
      assert.ok(m, `Range header ${range}`);
      return Number(m[1]) + 1;
    }

    async function openSession(name: string): Promise<string> {
      const res = await ownerFetch(
        `${stack.gcsUrl}/upload/storage/v1/b/${bucket.name}/o?uploadType=resumable&name=${encodeURIComponent(name)}&ifGenerationMatch=0`,
        {method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'},
      );
      assert.strictEqual(res.status, 200);
      return res.headers.get('location')!;
    }

    it('should keep the session open and make no object when an uploader streaming an object of unknown length is killed', async function () {
      this.timeout(90_000);
      const name = 'screen/killed-mid-upload.webm';
      const {command, args} = tsNode(
        path.join(__dirname, '..', 'fixtures', 'gcs-endless-upload.ts'),
        [stack.gcsUrl, bucket.name, name],
      );
      // As the project owner, through Application Default Credentials from the stack.
      const child = spawn(command, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {...process.env, ...stack.iam?.envFor('owner')},
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      let uri: string | undefined;
      let written = 0;
      for await (const line of readline.createInterface({input: child.stdout})) {
        const msg = JSON.parse(line) as {uri?: string; bytesWritten?: number};
        if (msg.uri) uri = msg.uri;
        written = msg.bytesWritten ?? written;
        // The worker of the report died after 430 MB of 1.07 GB; 8 MiB make the same point.
        if (written >= 8 * 1024 * 1024) {
          assert.ok(child.kill('SIGKILL'));
          break;
        }
      }
      const [code, signal] = await exited;
      assert.strictEqual(signal, 'SIGKILL', `uploader exited with ${code}: ${stderr}`);
      assert.ok(uri, 'the client reported its session URI');

      const status = await uploadStatus(uri);
      assert.strictEqual(status.status, 308, 'the session is still open');
      const received = persisted(status);
      // The child went on sending after the line that made us kill it, so no upper bound.
      assert.ok(received > 0, `${received} bytes persisted after ${written} were sent`);
      const file = bucket.file(name);
      assert.deepStrictEqual(await file.exists(), [false]);
      const listed = await bucket.getFiles({prefix: 'screen/'});
      assert.deepStrictEqual(listed[0], []);

      // The next attempt, with the same precondition as the worker's, succeeds.
      const data = bytes(2 * 1024 * 1024 + 5, 23);
      await file.save(data, {resumable: true, preconditionOpts: {ifGenerationMatch: 0}});
      const [down] = await file.download();
      assert.ok(down.equals(data));
    });

    /** Sends the start of a request body, then drops the connection. */
    async function cutOff(
      url: string,
      method: string,
      headers: Record<string, string>,
      parts: Buffer[],
    ): Promise<void> {
      const req = http.request(url, {method, headers});
      req.on('error', () => {}); // destroyed on purpose below
      req.on('response', res => res.resume());
      for (const part of parts) {
        await new Promise<void>((resolve, reject) =>
          req.write(part, err => (err ? reject(err) : resolve())),
        );
      }
      await new Promise(r => setTimeout(r, 300)); // let the server read what was sent
      req.destroy();
    }

    for (const contentRange of ['bytes 0-*/*', undefined, 'bytes 0-*/1000000']) {
      it(`should keep a resumable upload open, with what arrived, when a PUT with ${contentRange ? `Content-Range: ${contentRange}` : 'no Content-Range'} is cut off`, async () => {
        const name = `cut-${contentRange === undefined ? 'whole' : contentRange.replace(/\W+/g, '_')}.bin`;
        const data = bytes(1_000_000, 29);
        const location = await openSession(name);
        await cutOff(
          location,
          'PUT',
          contentRange === undefined ? {} : {'content-range': contentRange},
          [data.subarray(0, 300_000)],
        );
        const status = await uploadStatus(location);
        assert.strictEqual(status.status, 308);
        const received = persisted(status);
        assert.strictEqual(received, 300_000);
        assert.deepStrictEqual(await bucket.file(name).exists(), [false]);

        // Resuming from the persisted offset with a request that ends normally finalizes it.
        const rest = await ownerFetch(location, {
          method: 'PUT',
          headers: {
            'content-range': `bytes ${received}-*/${contentRange?.endsWith('/*') === false ? data.length : '*'}`,
          },
          body: data.subarray(received),
        });
        assert.strictEqual(rest.status, 200);
        const object = (await rest.json()) as {size: string; md5Hash: string};
        assert.strictEqual(object.size, String(data.length));
        assert.strictEqual(object.md5Hash, sums(data).md5Hash);
      });
    }

    it('should make no object of a media or multipart upload cut off before its end', async () => {
      const data = bytes(1_000_000, 31);
      const boundary = 'cut-boundary';
      const head = Buffer.from(
        `--${boundary}\r\ncontent-type: application/json\r\n\r\n{"name":"cut-multipart.bin"}\r\n` +
          `--${boundary}\r\ncontent-type: application/octet-stream\r\n\r\n`,
      );
      const uploads: Array<{
        name: string;
        url: string;
        headers: Record<string, string>;
        parts: Buffer[];
      }> = [
        {
          name: 'cut-media.bin',
          url: `${stack.gcsUrl}/upload/storage/v1/b/${bucket.name}/o?uploadType=media&name=cut-media.bin`,
          headers: {'content-length': String(data.length)},
          parts: [data.subarray(0, 400_000)],
        },
        {
          name: 'cut-media-chunked.bin',
          url: `${stack.gcsUrl}/upload/storage/v1/b/${bucket.name}/o?uploadType=media&name=cut-media-chunked.bin`,
          headers: {},
          parts: [data.subarray(0, 400_000)],
        },
        {
          name: 'cut-multipart.bin',
          url: `${stack.gcsUrl}/upload/storage/v1/b/${bucket.name}/o?uploadType=multipart`,
          headers: {'content-type': `multipart/related; boundary=${boundary}`},
          parts: [head, data.subarray(0, 400_000)],
        },
      ];
      for (const u of uploads) await cutOff(u.url, 'POST', u.headers, u.parts);
      for (const u of uploads) {
        const file = bucket.file(u.name);
        assert.deepStrictEqual(await file.exists(), [false], u.name);
        await file.save(data, {resumable: false, preconditionOpts: {ifGenerationMatch: 0}});
        const [down] = await file.download();
        assert.ok(down.equals(data), u.name);
      }
    });
  });

  describe('objects on disk', () => {
    it('should keep exactly the objects as plain files under DATA/{bucket}/{name}', async () => {
      const storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      const [b] = await storage.createBucket(unique('disk'));
      const objects: Record<string, Buffer> = {
        'brave/2023-02-01/call/c1_r1.ogg': bytes(5000, 8),
        'brave/2023-02-01/metadata/c1.json': Buffer.from('{"conversationId":"c1"}'),
        'brave/2023-02-01/_SUCCESS': Buffer.from('{}'),
      };
      for (const [name, data] of Object.entries(objects))
        await b.file(name).save(data, {resumable: name.endsWith('.ogg')});
      await b.file('tmp/deleted.txt').save('x', {resumable: false});
      await b.file('tmp/deleted.txt').delete();
      const root = path.join(stack.dirs.gcsData, b.name);
      const found: string[] = [];
      const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
          const full = path.join(dir, entry.name);
          if (entry.isDirectory()) walk(full);
          else found.push(path.relative(root, full).split(path.sep).join('/'));
        }
      };
      walk(root);
      assert.deepStrictEqual(found.sort(), Object.keys(objects).sort());
      for (const [name, data] of Object.entries(objects))
        assert.ok(fs.readFileSync(path.join(root, name)).equals(data));
      assert.ok(
        !fs.existsSync(path.join(root, 'tmp')),
        'empty directories of deleted objects are removed',
      );
    });
  });

  describe('restarts', () => {
    it('should keep objects, metadata and unfinished uploads across a restart', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-gcs-restart-'));
      const start = async () => {
        const {command, args} = tsNode('local/gcs/main.ts', [
          '--port',
          '0',
          '--data',
          path.join(dir, 'data'),
          '--meta',
          path.join(dir, 'meta'),
          '--bucket',
          'persist',
        ]);
        const child = spawnChild({name: 'gcs-restart', command, args, logDir: dir});
        const info = await waitForReadyLine(child);
        return {child, url: String(info.url)};
      };
      const first = await start();
      const data = bytes(300_000, 11);
      await storageVia('apiEndpoint', first.url)
        .bucket('persist')
        .file('kept/rec.ogg')
        .save(data, {resumable: false, contentType: 'audio/ogg', metadata: {metadata: {k: 'v'}}});
      const open = await ownerFetch(
        `${first.url}/upload/storage/v1/b/persist/o?uploadType=resumable&name=half.bin`,
        {
          method: 'POST',
          body: '{}',
        },
      );
      const session = open.headers.get('location')!;
      const half = await ownerFetch(session, {
        method: 'PUT',
        headers: {'content-range': 'bytes 0-99/200'},
        body: data.subarray(0, 100),
      });
      assert.strictEqual(half.status, 308);
      await first.child.stop();

      const second = await start();
      try {
        const file = storageVia('apiEndpoint', second.url).bucket('persist').file('kept/rec.ogg');
        const [md] = await file.getMetadata();
        assert.strictEqual(md.contentType, 'audio/ogg');
        assert.deepStrictEqual(md.metadata, {k: 'v'});
        const [down] = await file.download();
        assert.ok(down.equals(data));
        const resumed = session.replace(first.url, second.url);
        const rest = await ownerFetch(resumed, {
          method: 'PUT',
          headers: {'content-range': 'bytes 100-199/200'},
          body: data.subarray(100, 200),
        });
        assert.strictEqual(rest.status, 200);
        assert.strictEqual(((await rest.json()) as {size: string}).size, '200');
      } finally {
        await second.child.stop();
      }
    });
  });

  describe('large objects', () => {
    it('should stream a 256 MiB upload and download without holding it in memory', async function () {
      this.timeout(180_000);
      const size = 256 * 1024 * 1024;
      const stats = async () =>
        (await (await fetch(`${stack.gcsUrl}/_admin/stats`)).json()) as {maxRssBytes: number};
      const before = await stats();
      const storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      const [b] = await storage.createBucket(unique('large'));
      const file = b.file('screen/big.webm');
      const upHash = createHash('md5');
      let produced = 0;
      const block = bytes(1024 * 1024, 9);
      const source = new Readable({
        read() {
          if (produced >= size) return void this.push(null);
          produced += block.length;
          upHash.update(block);
          this.push(block);
        },
      });
      await pipeline(source, file.createWriteStream({resumable: true, contentType: 'video/webm'}));
      const downHash = createHash('md5');
      let downloaded = 0;
      await pipeline(
        file.createReadStream(),
        sink(c => {
          downloaded += c.length;
          downHash.update(c);
        }),
      );
      assert.strictEqual(downloaded, size);
      assert.strictEqual(downHash.digest('hex'), upHash.digest('hex'));
      const after = await stats();
      const growth = after.maxRssBytes - before.maxRssBytes;
      assert.ok(
        growth < 96 * 1024 * 1024,
        `emulator peak memory grew by ${(growth / 1048576).toFixed(1)} MiB for a 256 MiB object`,
      );
      await file.delete();
    });
  });

  describe('object-change CloudEvents', () => {
    it('should post a finalized CloudEvent in binary mode to the subscribed function', async () => {
      const storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      const name = `events/${unique('obj')}.json`;
      await storage
        .bucket(stack.bucket)
        .file(name)
        .save('{"a":1}', {resumable: false, contentType: 'application/json'});
      const event = await eventually('the finalize event', () =>
        stack
          .checkerEvents()
          .find(e => e.subject === `objects/${name}` && e.type.endsWith('finalized')),
      );
      assert.strictEqual(event.type, 'google.cloud.storage.object.v1.finalized');
      assert.strictEqual(
        event.source,
        `//storage.googleapis.com/projects/_/buckets/${stack.bucket}`,
      );
      assert.strictEqual(event.data.name, name);
      assert.strictEqual(event.data.bucket, stack.bucket);
      assert.strictEqual(event.data.size, '7');
      assert.strictEqual(event.data.contentType, 'application/json');
    });

    /** An HTTP endpoint that acknowledges and keeps every CloudEvent posted to it. */
    async function receiver(): Promise<{
      url: string;
      events: Array<{type: string; subject: string}>;
      close(): Promise<void>;
    }> {
      const events: Array<{type: string; subject: string}> = [];
      const server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          events.push({
            type: String(req.headers['ce-type']),
            subject: String(req.headers['ce-subject']),
          });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
      const {port} = server.address() as {port: number};
      return {
        url: `http://127.0.0.1:${port}/`,
        events,
        close: () => new Promise<void>(resolve => server.close(() => resolve())),
      };
    }

    async function subscribe(body: object): Promise<Response> {
      return fetch(`${stack.gcsUrl}/_admin/notifications`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify(body),
      });
    }

    it('should post deleted and metadataUpdated events only to subscriptions that ask for them, as Eventarc triggers filter on the event type', async () => {
      const storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      const [bucket] = await storage.createBucket(unique('events'));
      const all = await receiver();
      const deletions = await receiver();
      try {
        assert.strictEqual((await subscribe({url: all.url, bucket: bucket.name})).status, 200);
        const res = await subscribe({
          url: deletions.url,
          bucket: bucket.name,
          eventTypes: ['google.cloud.storage.object.v1.deleted'],
        });
        assert.strictEqual(res.status, 200);
        const file = bucket.file('obj.txt');
        await file.save('x', {resumable: false});
        await file.setMetadata({metadata: {k: 'v'}});
        await file.delete();
        const got = await eventually('three events for the unfiltered subscription', () =>
          all.events.length >= 3 ? all.events : undefined,
        );
        assert.deepStrictEqual(
          new Set(got.map(e => e.type)),
          new Set([
            'google.cloud.storage.object.v1.finalized',
            'google.cloud.storage.object.v1.metadataUpdated',
            'google.cloud.storage.object.v1.deleted',
          ]),
        );
        await eventually('the delete event', () =>
          deletions.events.length > 0 ? true : undefined,
        );
        assert.deepStrictEqual(deletions.events, [
          {type: 'google.cloud.storage.object.v1.deleted', subject: 'objects/obj.txt'},
        ]);
      } finally {
        await all.close();
        await deletions.close();
      }
    });

    it('should refuse a subscription to an event type Cloud Storage does not send', async () => {
      const res = await subscribe({
        url: 'http://127.0.0.1:9/',
        eventTypes: ['google.cloud.storage.object.v1.created'],
      });
      assert.strictEqual(res.status, 400);
      assert.match(await res.text(), /google\.cloud\.storage\.object\.v1\.created/);
    });

    it("should send the stack's checker finalize events only, as its Eventarc trigger in infra/functions.tf", async () => {
      const listed = (await (await fetch(`${stack.gcsUrl}/_admin/notifications`)).json()) as {
        subscribers: Array<{url: string; bucket?: string; eventTypes?: string[]}>;
      };
      assert.deepStrictEqual(
        listed.subscribers.filter(s => s.url === stack.functions.checker!.url),
        [
          {
            url: stack.functions.checker!.url,
            bucket: stack.bucket,
            eventTypes: ['google.cloud.storage.object.v1.finalized'],
            // Each event carries the trigger identity's token, as Eventarc's do.
            ...(stack.iam ? {serviceAccountEmail: stack.iam.identities.eventarc} : {}),
          },
        ],
      );
      const storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      const name = `events/${unique('del')}.txt`;
      const file = storage.bucket(stack.bucket).file(name);
      await file.save('x', {resumable: false});
      await file.setMetadata({metadata: {k: 'v'}});
      await file.delete();
      // A later object's finalize event has arrived: any event of the first would have been sent by now.
      const later = `events/${unique('later')}.txt`;
      await storage.bucket(stack.bucket).file(later).save('y', {resumable: false});
      await eventually('the later finalize event', () =>
        stack.checkerEvents().find(e => e.subject === `objects/${later}`),
      );
      const ofFirst = stack.checkerEvents().filter(e => e.subject === `objects/${name}`);
      assert.deepStrictEqual(
        ofFirst.map(e => e.type),
        ['google.cloud.storage.object.v1.finalized'],
      );
      const stats = (await (await fetch(`${stack.gcsUrl}/_admin/events`)).json()) as {
        recent: Array<{subject: string; url: string; type: string}>;
      };
      assert.deepStrictEqual(
        stats.recent
          .filter(r => r.subject === `objects/${name}` && r.url === stack.functions.checker!.url)
          .map(r => r.type),
        ['google.cloud.storage.object.v1.finalized'],
      );
    });

    it('should retry a finalize event the function failed, with the same event id', async function () {
      this.timeout(30_000);
      const storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      const name = `events/${unique('retry')}.txt`;
      await storage
        .bucket(stack.bucket)
        .file(name)
        .save('x', {resumable: false, metadata: {metadata: {failTimes: '2'}}});
      const deliveries = await eventually('three deliveries', () => {
        const got = stack
          .checkerEvents()
          .filter(e => e.subject === `objects/${name}` && e.type.endsWith('finalized'));
        return got.length >= 3 ? got : undefined;
      });
      assert.deepStrictEqual(
        deliveries.map(d => d.failed),
        [true, true, false],
      );
      assert.strictEqual(new Set(deliveries.map(d => d.id)).size, 1);
    });

    it('should give up after the configured attempts and report the failure', async function () {
      this.timeout(40_000);
      const storage = storageVia('apiEndpoint', stack.gcsUrl, stack);
      const name = `events/${unique('poison')}.txt`;
      await storage
        .bucket(stack.bucket)
        .file(name)
        .save('x', {resumable: false, metadata: {metadata: {failTimes: 'always'}}});
      const record = await eventually(
        'the failed delivery record',
        async () => {
          const stats = (await (await fetch(`${stack.gcsUrl}/_admin/events`)).json()) as {
            recent: Array<{subject: string; status: string; attempts: number; type: string}>;
          };
          return stats.recent.find(
            r =>
              r.subject === `objects/${name}` &&
              r.type.endsWith('finalized') &&
              r.status === 'failed',
          );
        },
        35_000,
      );
      assert.strictEqual(record.attempts, 4);
    });
  });
});
