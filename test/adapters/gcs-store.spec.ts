/**
 * GcsStore over @google-cloud/storage against the GCS emulator: the
 * guarantees the checker's compare-and-swap relies on.
 */
import * as assert from 'node:assert';
import {createHash, randomBytes} from 'node:crypto';
import {Readable, Writable, finished} from 'node:stream';
import * as sinon from 'sinon';
import {CRC32C, File} from '@google-cloud/storage';
import type {CreateWriteStreamOptions} from '@google-cloud/storage';
import {GcsStore} from '../../functions/adapters/gcs';
import {PermanentError, RetryableError} from '../../functions/core/errors';
import {ObjectExistsError, VERIFIED_KEY} from '../../functions/ports';
import {mapLimit} from '../../functions/services/objects';
import {TestStack, useStack} from '../setup/stack';
import {bytes} from '../helpers';
import {storageFor} from '../../local/run-day';

/**
 * A seam between GcsStore and the storage client: every upload's first chunk
 * is handed to the client changed by `change` (a byte flipped or lost on the
 * way to GCS), the rest as it comes.
 */
function corruptUploads(change: (chunk: Buffer) => Buffer): void {
  const real = File.prototype.createWriteStream;
  sinon.replace(
    File.prototype,
    'createWriteStream',
    function (this: File, options?: CreateWriteStreamOptions): Writable {
      const inner = real.call(this, options);
      let first = true;
      const outer: Writable = new Writable({
        write(chunk: Buffer, _e, done) {
          inner.write(first ? change(Buffer.from(chunk)) : chunk, done);
          first = false;
        },
        final(done) {
          finished(inner, err => done(err ?? null));
          inner.end();
        },
        destroy(err, done) {
          inner.destroy(err ?? undefined);
          done(err);
        },
      });
      inner.on('error', err => outer.destroy(err));
      return outer;
    },
  );
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

  before(async () => {
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
    afterEach(() => sinon.restore());

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
          const data = bytes(6 * 1024 * 1024 + 11, 21); // above the multipart threshold: resumable
          const small = bytes(4_000, 22);
          const expected = [sums(data), sums(small)];
          // A fetch body's 64 KiB chunks, and an odd one.
          const pieces = [data.subarray(0, 7)];
          for (let at = 7; at < data.length; at += 65_536)
            pieces.push(data.subarray(at, at + 65_536));
          const crc = sinon.spy(CRC32C.prototype, 'update');
          const object = name();
          const streamed = await checked.write(object, Readable.from(pieces), {
            contentType: 'audio/ogg',
            ifGenerationMatch: 0,
          });
          const buffered = await checked.write(`${object}.small`, small, {
            contentType: 'audio/ogg',
            ifGenerationMatch: 0,
          });
          assert.strictEqual(crc.callCount, 0, 'CRC32C was computed in JavaScript on the client');
          assert.deepStrictEqual(
            [streamed, buffered].map(o => ({size: o.size, md5Hash: o.md5Hash, crc32c: o.crc32c})),
            [
              {size: data.length, ...expected[0]},
              {size: small.length, ...expected[1]},
            ],
          );
          assert.deepStrictEqual(await checked.stat(object), streamed);
        });

        it('should mark a checked write with the check and the checksum GCS matched, in the form the exporter trusts', async () => {
          const data = bytes(30_000, 24);
          const stored = await checked.write(name(), data, {
            contentType: 'audio/ogg',
            ifGenerationMatch: 0,
            markVerified: true,
          });
          const value = check === 'crc32c' ? stored.crc32c : stored.md5Hash;
          assert.strictEqual(stored.metadata?.[VERIFIED_KEY], `${check}:${value}`);
        });

        const damages: Array<[string, (chunk: Buffer) => Buffer]> = [
          ['a byte changed', c => ((c[c.length >> 1]! ^= 0x20), c)],
          ['a byte lost', c => c.subarray(1)],
        ];
        for (const [what, change] of damages) {
          for (const body of ['streamed', 'buffered'] as const) {
            it(`should detect ${what} on the way to GCS (${body} body), count nothing and leave no object`, async () => {
              const data = bytes(body === 'streamed' ? 1_400_000 : 50_000, 23);
              const source = () =>
                body === 'streamed'
                  ? Readable.from([data.subarray(0, 700_000), data.subarray(700_000)])
                  : data;
              const object = name();
              corruptUploads(change);
              await assert.rejects(
                checked.write(object, source(), {contentType: 'audio/ogg', ifGenerationMatch: 0}),
                (err: Error) =>
                  err instanceof RetryableError &&
                  /^checksum mismatch after writing /.test(err.message),
              );
              sinon.restore();
              assert.strictEqual(
                await checked.stat(object),
                undefined,
                'the damaged object was kept',
              );
              // A retry (ifGenerationMatch 0, as the exporter writes) stores the recording.
              const stored = await checked.write(object, source(), {
                contentType: 'audio/ogg',
                ifGenerationMatch: 0,
              });
              assert.deepStrictEqual(
                {size: stored.size, md5Hash: stored.md5Hash},
                {size: data.length, md5Hash: sums(data).md5Hash},
              );
            });
          }
        }
      });
    }
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
        assert.ok(stored.metadata?.[VERIFIED_KEY], 'the check mark is a metadata patch, allowed');
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
