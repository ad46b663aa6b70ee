/**
 * GcsStore over @google-cloud/storage against the GCS emulator: the
 * guarantees the checker's compare-and-swap relies on.
 */
import * as assert from 'node:assert';
import {createHash, randomBytes} from 'node:crypto';
import {Readable} from 'node:stream';
import * as sinon from 'sinon';
import {CRC32C} from '@google-cloud/storage';
import {GcsStore} from '../../functions/adapters/gcs';
import {PermanentError, RetryableError} from '../../functions/core/errors';
import {
  ObjectExistsError,
  StoredObject,
  VERIFIED_KEY,
  hasVerifiedMark,
} from '../../functions/ports';
import {mapLimit} from '../../functions/services/objects';
import {TestStack, useStack} from '../setup/stack';
import {bytes} from '../helpers';
import {storageFor} from '../../local/run-day';

/** Adds a fault rule to the GCS emulator; resolves with its id. */
async function fault(gcsUrl: string, rule: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${gcsUrl}/_admin/faults`, {method: 'POST', body: JSON.stringify(rule)});
  const text = await res.text();
  assert.strictEqual(res.status, 200, text);
  return (JSON.parse(text) as {ids: number[]}).ids[0]!;
}

/** How many times each fault rule fired, by id. */
async function firedById(gcsUrl: string): Promise<Map<number, number>> {
  const res = await fetch(`${gcsUrl}/_admin/faults`);
  const {rules} = (await res.json()) as {rules: Array<{id: number; fired: number}>};
  return new Map(rules.map(r => [r.id, r.fired]));
}

/** The upload requests that carry the bytes of `object` (multipart, or a session's PUTs). */
function uploadsOf(object: string): string {
  const key = object.split('/').pop()!.replace(/\./g, '\\.');
  return `^/upload/storage/v1/b/[^/]+/o\\?(?=.*name=[^&]*${key}(&|$))(?=.*(uploadType=multipart|upload_id=))`;
}

/** Cloud Storage refusing to delete `object`, as it refuses the worker on a recording. */
function deleteRefused(object: string): Record<string, unknown> {
  const message = "Permission 'storage.objects.delete' denied on resource (or it may not exist).";
  return {
    method: 'DELETE',
    path: encodeURIComponent(object).replace(/\./g, '\\.'),
    action: 'status',
    status: 403,
    body: {error: {code: 403, message, errors: [{message, domain: 'global', reason: 'forbidden'}]}},
  };
}

function sums(data: Buffer): {md5Hash: string; crc32c: string} {
  const crc = new CRC32C();
  crc.update(data);
  return {md5Hash: createHash('md5').update(data).digest('base64'), crc32c: crc.toString()};
}

describe('GcsStore (official client, GCS emulator)', () => {
  let stack: TestStack;
  let store: GcsStore;
  const name = () => `store-test/${randomBytes(6).toString('hex')}.json`;

  before(async function () {
    this.timeout(120_000); // the shared stack may start here
    stack = await useStack();
    store = new GcsStore(stack.bucket, storageFor(stack));
  });

  it('should read JSON and its generation as one pair while the object is being replaced', async () => {
    const object = name();
    const written = new Map<string, number>();
    let gen = (
      await store.write(object, Buffer.from(JSON.stringify({seq: 0})), {
        contentType: 'application/json',
        ifGenerationMatch: 0,
      })
    ).generation;
    written.set(gen, 0);
    const writer = (async () => {
      for (let seq = 1; seq <= 40; seq++) {
        const stored = await store.write(object, Buffer.from(JSON.stringify({seq})), {
          contentType: 'application/json',
          ifGenerationMatch: gen,
        });
        gen = stored.generation;
        written.set(gen, seq);
      }
    })();
    const reads: Array<{value: {seq: number}; generation: string}> = [];
    const readers = Array.from({length: 4}, async () => {
      for (let i = 0; i < 30; i++) {
        const r = await store.readJson<{seq: number}>(object);
        if (r) reads.push(r);
      }
    });
    await Promise.all([writer, ...readers]);
    assert.ok(reads.length > 0);
    for (const r of reads) {
      assert.strictEqual(
        written.get(r.generation),
        r.value.seq,
        `generation ${r.generation} came with the content of another one`,
      );
    }
  });

  describe('integrity of writes', () => {
    afterEach(async () => {
      sinon.restore();
      await fetch(`${stack.gcsUrl}/_admin/faults`, {method: 'DELETE'});
    });

    it('should check writes with native CRC32C where its binary loads (here)', () => {
      assert.strictEqual(store.check, 'crc32c');
    });

    for (const check of ['crc32c', 'md5'] as const) {
      describe(`checked by ${check}`, () => {
        let checked: GcsStore;
        before(() => {
          checked = new GcsStore(stack.bucket, storageFor(stack), {check});
        });

        it('should return the size, MD5 and CRC32C GCS computed, with no CRC32C computed in JavaScript', async () => {
          // Resumable: two whole 8 MiB chunks and the rest; and one chunk and the rest.
          const data = bytes(17 * 1024 * 1024 + 11, 21);
          const middle = bytes(6 * 1024 * 1024 + 11, 25);
          const small = bytes(4_000, 22);
          // A fetch body's 64 KiB chunks, and an odd one.
          const pieces = (b: Buffer) => {
            const out = [b.subarray(0, 7)];
            for (let at = 7; at < b.length; at += 65_536) out.push(b.subarray(at, at + 65_536));
            return out;
          };
          const crc = sinon.spy(CRC32C.prototype, 'update');
          const object = name();
          const written = [
            await checked.write(object, Readable.from(pieces(data)), {
              contentType: 'audio/ogg',
              ifGenerationMatch: 0,
            }),
            await checked.write(`${object}.middle`, Readable.from(pieces(middle)), {
              contentType: 'audio/ogg',
              ifGenerationMatch: 0,
            }),
            await checked.write(`${object}.small`, small, {
              contentType: 'audio/ogg',
              ifGenerationMatch: 0,
            }),
          ];
          assert.strictEqual(crc.callCount, 0, 'CRC32C was computed in JavaScript on the client');
          assert.deepStrictEqual(
            written.map(o => ({size: o.size, md5Hash: o.md5Hash, crc32c: o.crc32c})),
            [data, middle, small].map(b => ({size: b.length, ...sums(b)})),
          );
          assert.deepStrictEqual(await checked.stat(object), written[0]);
        });

        it('should create a checked write with the mark of its check, in the form the exporter trusts', async () => {
          const data = bytes(30_000, 24);
          const stored = await checked.write(name(), data, {
            contentType: 'audio/ogg',
            ifGenerationMatch: 0,
            markVerified: true,
          });
          const value = check === 'crc32c' ? stored.crc32c : stored.md5Hash;
          assert.strictEqual(stored.metadata?.[VERIFIED_KEY], `${check}:${value}`, 'multipart');
          assert.ok(hasVerifiedMark(stored));
          // A resumable upload's metadata leaves before its bytes: the mark is the check alone.
          const large = await checked.write(name(), Readable.from([bytes(6 * 1024 * 1024, 26)]), {
            contentType: 'audio/ogg',
            ifGenerationMatch: 0,
            markVerified: true,
          });
          assert.strictEqual(large.metadata?.[VERIFIED_KEY], check, 'resumable');
          assert.ok(hasVerifiedMark(large));
        });

        // Where the byte is flipped: the one multipart request, or a request of a resumable upload.
        const damages: Array<[string, number, {method: string; after?: number}]> = [
          ['a multipart upload', 50_000, {method: 'POST'}],
          ['a resumable upload, in its last request', 6 * 1024 * 1024, {method: 'PUT'}],
          ['a resumable upload, in its first chunk', 9 * 1024 * 1024, {method: 'PUT'}],
          [
            'a resumable upload, in its last request after a chunk',
            9 * 1024 * 1024,
            {method: 'PUT', after: 1},
          ],
        ];
        for (const [what, size, where] of damages) {
          for (const body of ['streamed', 'buffered'] as const) {
            it(`should have GCS refuse ${what} damaged on the way (${body}), store nothing, delete nothing, and store it on a retry`, async () => {
              const data = bytes(size, 23);
              const half = size >> 1;
              const source = () =>
                body === 'streamed'
                  ? Readable.from([data.subarray(0, half), data.subarray(half)])
                  : data;
              const object = name();
              const refusedDelete = await fault(stack.gcsUrl, deleteRefused(object));
              const corrupt = await fault(stack.gcsUrl, {
                ...where,
                path: uploadsOf(object),
                action: 'corrupt',
                atByte: 4096,
                times: 1,
              });
              await assert.rejects(
                checked.write(object, source(), {contentType: 'audio/ogg', ifGenerationMatch: 0}),
                (err: Error) =>
                  err instanceof RetryableError &&
                  new RegExp(
                    '^GCS refused gs://\\S+: the bytes it received do not match the ' +
                      `${check === 'crc32c' ? 'CRC32C' : 'MD5'} \\S+ of the ${size} bytes sent ` +
                      '\\(damaged on the way\\); nothing was stored$',
                  ).test(err.message),
              );
              assert.strictEqual(await checked.stat(object), undefined, 'an object was kept');
              // A retry (ifGenerationMatch 0, as the exporter writes) stores the recording.
              const stored = await checked.write(object, source(), {
                contentType: 'audio/ogg',
                ifGenerationMatch: 0,
                markVerified: true,
              });
              assert.deepStrictEqual(
                {size: stored.size, md5Hash: stored.md5Hash},
                {size: data.length, md5Hash: sums(data).md5Hash},
              );
              assert.ok(hasVerifiedMark(stored));
              const fired = await firedById(stack.gcsUrl);
              assert.strictEqual(fired.get(corrupt), 1, 'the upload was not damaged');
              assert.strictEqual(fired.get(refusedDelete), 0, 'the write tried to delete');
            });
          }
        }
      });
    }

    it('should retry a request of a resumable upload that failed on the way, from what GCS kept', async () => {
      const data = bytes(17 * 1024 * 1024, 27);
      const object = name();
      const ids = [
        // The request of the second chunk fails (503): GCS kept the first chunk only.
        await fault(stack.gcsUrl, {
          method: 'PUT',
          path: uploadsOf(object),
          action: 'status',
          status: 503,
          after: 1,
          times: 1,
        }),
      ];
      const stored = await store.write(object, Readable.from([data]), {
        contentType: 'audio/ogg',
        ifGenerationMatch: 0,
      });
      assert.deepStrictEqual(
        {size: stored.size, md5Hash: stored.md5Hash},
        {size: data.length, md5Hash: sums(data).md5Hash},
      );
      assert.strictEqual((await firedById(stack.gcsUrl)).get(ids[0]!), 1);
    });

    it('should not take an object GCS says it stored with other checksums than were sent: a PermanentError, nothing deleted', async () => {
      const data = bytes(20_000, 28);
      const object = name();
      const refusedDelete = await fault(stack.gcsUrl, deleteRefused(object));
      // An answer of a storage service that verified nothing: another CRC32C than was sent.
      await fault(stack.gcsUrl, {
        method: 'POST',
        path: uploadsOf(object),
        action: 'status',
        status: 200,
        times: 1,
        body: {
          kind: 'storage#object',
          name: object,
          bucket: stack.bucket,
          generation: '1234',
          size: String(data.length),
          md5Hash: sums(data).md5Hash,
          crc32c: 'AAAAAA==',
        },
      });
      await assert.rejects(
        store.write(object, data, {contentType: 'audio/ogg', ifGenerationMatch: 0}),
        (err: Error) =>
          err instanceof PermanentError &&
          /\(generation 1234\) holds 20000 bytes with CRC32C AAAAAA==, though 20000 bytes with CRC32C \S+ were sent and GCS verified them; it was left untouched/.test(
            err.message,
          ),
      );
      assert.strictEqual((await firedById(stack.gcsUrl)).get(refusedDelete), 0);
    });
  });

  it('should list with generations and delete only the generation it was given', async () => {
    const object = name();
    const first = await store.write(object, Buffer.from('{}'), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
      metadata: {'outcome-fingerprint': 'abc'},
    });
    const listed = await store.list(object);
    assert.deepStrictEqual(
      listed.map(o => [o.name, o.generation, o.metadata?.['outcome-fingerprint']]),
      [[object, first.generation, 'abc']],
    );
    const second = await store.write(object, Buffer.from('{"a":1}'), {
      contentType: 'application/json',
      ifGenerationMatch: first.generation,
    });
    await assert.rejects(store.delete(object, first.generation), ObjectExistsError);
    assert.strictEqual(await store.delete(object, second.generation), true);
    assert.strictEqual(await store.stat(object), undefined);
  });
  it('should list a page at a time the same objects as the whole listing, in name order', async () => {
    const prefix = `store-test/pages-${randomBytes(4).toString('hex')}/`;
    for (let i = 0; i < 7; i++)
      await store.write(`${prefix}${i}.json`, Buffer.from(`{"i":${i}}`), {
        contentType: 'application/json',
        ifGenerationMatch: 0,
      });
    const pages: StoredObject[][] = [];
    for await (const page of store.listPages(prefix, 3)) pages.push(page);
    assert.deepStrictEqual(
      pages.map(p => p.length),
      [3, 3, 1],
    );
    assert.deepStrictEqual(pages.flat(), await store.list(prefix));
    assert.deepStrictEqual(
      pages.flat().map(o => o.name),
      Array.from({length: 7}, (_, i) => `${prefix}${i}.json`),
    );
  });

  it('should refuse a second object under a name with ifGenerationMatch 0, multipart or resumable, with ObjectExistsError', async () => {
    for (const [i, body] of [
      () => bytes(1000, 3),
      () => Readable.from([bytes(6 * 1024 * 1024, 4)]),
    ].entries()) {
      const object = `${name()}.${i}`;
      const first = await store.write(object, body(), {
        contentType: 'audio/ogg',
        ifGenerationMatch: 0,
      });
      await assert.rejects(
        store.write(object, body(), {contentType: 'audio/ogg', ifGenerationMatch: 0}),
        ObjectExistsError,
      );
      assert.strictEqual((await store.stat(object))!.generation, first.generation);
    }
  });

  it('should emit no MaxListenersExceededWarning under a concurrent workload of reads, writes, stats and lists', async function () {
    this.timeout(60_000);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const prefix = `store-load/${randomBytes(6).toString('hex')}/`;
      // Batch reports are tens of KB: big enough that the body is still streaming when piped.
      const report = (i: number) =>
        Buffer.from(JSON.stringify({i, conversations: bytes(60_000, i + 1).toString('base64')}));
      const names = Array.from({length: 24}, (_, i) => `${prefix}reports/b${i}.json`);
      await mapLimit(names, 8, n =>
        store.write(n, report(names.indexOf(n)), {
          contentType: 'application/json',
          ifGenerationMatch: 0,
        }),
      );
      const media = Array.from({length: 6}, (_, i) => `${prefix}media/${i}.ogg`);
      await Promise.all([
        // The checker reads reports 8 at a time, several invocations at once.
        ...Array.from({length: 3}, () => mapLimit(names, 8, n => store.readJson(n))),
        mapLimit(names, 8, n => store.stat(n)),
        mapLimit(names, 4, n => store.readJson(n)),
        // The worker streams recordings in (resumable and multipart) and reads them back.
        mapLimit(media, 4, n =>
          store.write(n, Readable.from([bytes(700_000, 7), bytes(700_000, 8)]), {
            contentType: 'audio/ogg',
            ifGenerationMatch: 0,
          }),
        ),
        store.list(prefix),
      ]);
      const read = await mapLimit(media, 6, async n => {
        let size = 0;
        for await (const chunk of store.read(n)) size += (chunk as Buffer).length;
        return size;
      });
      assert.deepStrictEqual(
        read,
        media.map(() => 1_400_000),
      );
      // process.emitWarning reports on a later tick.
      await new Promise(resolve => setTimeout(resolve, 50));
    } finally {
      process.off('warning', onWarning);
    }
    const leaks = warnings.filter(w => w.name === 'MaxListenersExceededWarning');
    assert.deepStrictEqual(
      leaks.map(w => w.message),
      [],
      'the storage client warned about listeners',
    );
  });

  describe('object retention and generations', () => {
    const until = () => new Date(Date.now() + 86_400_000).toISOString();
    let retaining: GcsStore;
    let versioned: GcsStore;
    let plain: GcsStore;

    before(async () => {
      const storage = storageFor(stack);
      const suffix = randomBytes(4).toString('hex');
      const [a] = await storage.createBucket(`retaining-${suffix}`, {enableObjectRetention: true});
      const [b] = await storage.createBucket(`versioned-${suffix}`, {versioning: {enabled: true}});
      const [c] = await storage.createBucket(`plain-${suffix}`);
      retaining = new GcsStore(a.name, storage);
      versioned = new GcsStore(b.name, storage);
      plain = new GcsStore(c.name, storage);
    });

    it('should set a retention in the upload itself, and return it from write, stat and list', async () => {
      const retention = {mode: 'Locked' as const, retainUntilTime: until()};
      for (const [i, body] of [
        Buffer.from('small'),
        Readable.from([bytes(6 * 1024 * 1024)]),
      ].entries()) {
        const object = `kept/${i}.bin`;
        const stored = await retaining.write(object, body, {
          contentType: 'application/octet-stream',
          ifGenerationMatch: 0,
          markVerified: true,
          retention,
        });
        assert.deepStrictEqual(stored.retention, retention, 'multipart and resumable');
        assert.deepStrictEqual((await retaining.stat(object))!.retention, retention);
        assert.ok(stored.metadata?.[VERIFIED_KEY], 'the check mark, in the upload itself');
      }
      assert.deepStrictEqual(
        (await retaining.list('kept/')).map(o => o.retention),
        [retention, retention],
      );
      assert.strictEqual(
        (
          await plain.write('no-retention.json', Buffer.from('{}'), {
            contentType: 'application/json',
            ifGenerationMatch: 0,
          })
        ).retention,
        undefined,
      );
    });

    it('should refuse replacing or deleting a retained object with a PermanentError, never a retry', async () => {
      const object = 'kept/refused.json';
      const stored = await retaining.write(object, Buffer.from('{}'), {
        contentType: 'application/json',
        ifGenerationMatch: 0,
        retention: {mode: 'Unlocked', retainUntilTime: until()},
      });
      await assert.rejects(
        retaining.write(object, Buffer.from('{"x":1}'), {
          contentType: 'application/json',
          ifGenerationMatch: stored.generation,
        }),
        (e: Error) =>
          e instanceof PermanentError &&
          /is retained and cannot be replaced or deleted yet/.test(e.message),
      );
      await assert.rejects(
        retaining.delete(object, stored.generation),
        (e: Error) => e instanceof PermanentError && /retained/.test(e.message),
      );
      assert.strictEqual((await retaining.stat(object))!.generation, stored.generation);
    });

    it('should say what to fix when the bucket was made without object retention', async () => {
      await assert.rejects(
        plain.write('kept.json', Buffer.from('{}'), {
          contentType: 'application/json',
          ifGenerationMatch: 0,
          retention: {mode: 'Locked', retainUntilTime: until()},
        }),
        (e: Error) =>
          e instanceof PermanentError &&
          /RETENTION_DAYS needs a bucket created with object retention enabled/.test(e.message),
      );
      assert.strictEqual(await plain.stat('kept.json'), undefined);
    });

    it('should read the JSON of a given generation, also one that is no longer live', async () => {
      const object = 'report.json';
      const first = await versioned.write(object, Buffer.from('{"v":1}'), {
        contentType: 'application/json',
        ifGenerationMatch: 0,
      });
      const second = await versioned.write(object, Buffer.from('{"v":2}'), {
        contentType: 'application/json',
        ifGenerationMatch: first.generation,
      });
      assert.deepStrictEqual(await versioned.readJson(object, undefined, first.generation), {
        value: {v: 1},
        generation: first.generation,
      });
      assert.deepStrictEqual(await versioned.readJson(object), {
        value: {v: 2},
        generation: second.generation,
      });
      assert.strictEqual(await versioned.readJson(object, undefined, '1'), undefined);
      await assert.rejects(versioned.readJson(object, undefined, 'x'), PermanentError);
    });
  });
});
