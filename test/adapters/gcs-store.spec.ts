/**
 * GcsStore over @google-cloud/storage against the GCS emulator: the
 * guarantees the checker's compare-and-swap relies on.
 */
import * as assert from 'node:assert';
import {randomBytes} from 'node:crypto';
import {Storage} from '@google-cloud/storage';
import {GcsStore} from '../../functions/adapters/gcs';
import {ObjectExistsError} from '../../functions/ports';
import {TestStack, useStack} from '../setup/stack';

describe('GcsStore (official client, GCS emulator)', () => {
  let stack: TestStack;
  let store: GcsStore;
  const name = () => `store-test/${randomBytes(6).toString('hex')}.json`;

  before(async () => {
    stack = await useStack();
    store = new GcsStore(stack.bucket, new Storage({apiEndpoint: stack.gcsUrl, projectId: 'p'}));
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
});
