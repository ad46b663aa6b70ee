/**
 * An ObjectStore in memory with GCS's semantics where the checker relies on
 * them (generation preconditions, live and noncurrent generations, listings
 * in name order, pages of 1,000) and deterministic generations: two runs of
 * the same events leave the same bytes and the same generations, so the
 * outputs of two implementations can be compared byte for byte.
 */
import {createHash} from 'node:crypto';
import {Readable} from 'node:stream';
import type {Mail} from '../../functions/ports';
import {ObjectExistsError, ObjectStore, StoredObject, WriteOptions} from '../../functions/ports';
import {createLogger} from '../../functions/logger';
import {Checker} from '../../functions/services/checker';

interface Version {
  bytes: Buffer;
  object: StoredObject;
}

export class MemoryStore implements ObjectStore {
  private readonly live = new Map<string, Version>();
  private readonly old = new Map<string, Version>();
  private generation = 1000;

  /** Every live object: name → its bytes (for comparing what was written). */
  objects(): Map<string, Version> {
    return new Map([...this.live].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Puts an object as it is (a listing's facts may be given to make them disagree with the bytes). */
  put(name: string, bytes: Buffer, facts: Partial<StoredObject> = {}): StoredObject {
    const prev = this.live.get(name);
    if (prev) this.old.set(`${name}#${prev.object.generation}`, prev);
    const object: StoredObject = {
      name,
      size: bytes.length,
      md5Hash: createHash('md5').update(bytes).digest('base64'),
      crc32c: createHash('sha1').update(bytes).digest().subarray(0, 4).toString('base64'),
      generation: String(++this.generation),
      contentType: 'application/octet-stream',
      ...facts,
    };
    this.live.set(name, {bytes, object});
    return object;
  }

  stat(name: string): Promise<StoredObject | undefined> {
    return Promise.resolve(this.live.get(name)?.object);
  }

  async write(name: string, body: Readable | Buffer, opts: WriteOptions): Promise<StoredObject> {
    let bytes: Buffer;
    if (Buffer.isBuffer(body)) bytes = body;
    else {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(Buffer.from(c as Buffer));
      bytes = Buffer.concat(chunks);
    }
    const current = this.live.get(name)?.object;
    const want = String(opts.ifGenerationMatch);
    if (want === '0' ? current !== undefined : current?.generation !== want)
      throw new ObjectExistsError(`${name}: precondition failed`);
    return this.put(name, bytes, {
      contentType: opts.contentType,
      ...(opts.metadata ? {metadata: {...opts.metadata}} : {}),
    });
  }

  private version(name: string, generation?: string): Version | undefined {
    const live = this.live.get(name);
    if (generation === undefined || live?.object.generation === generation) return live;
    return this.old.get(`${name}#${generation}`);
  }

  async readJson<T>(name: string, maxBytes = 32 * 1024 * 1024, generation?: string) {
    const read = await this.readBytes(name, maxBytes, generation);
    if (!read) return undefined;
    return {value: JSON.parse(read.bytes.toString('utf8')) as T, generation: read.generation};
  }

  readBytes(name: string, maxBytes: number, generation?: string) {
    const v = this.version(name, generation);
    if (!v) return Promise.resolve(undefined);
    if (v.bytes.length > maxBytes)
      return Promise.reject(new Error(`${name} is over ${maxBytes} bytes`));
    return Promise.resolve({bytes: v.bytes, generation: v.object.generation});
  }

  read(name: string): Readable {
    const v = this.live.get(name);
    if (!v) throw new Error(`${name}: no such object`);
    return Readable.from([v.bytes]);
  }

  list(prefix: string): Promise<StoredObject[]> {
    return Promise.resolve(
      [...this.objects().values()].filter(v => v.object.name.startsWith(prefix)).map(v => v.object),
    );
  }

  async *listPages(prefix: string): AsyncGenerator<StoredObject[]> {
    const all = await this.list(prefix);
    for (let i = 0; i < all.length; i += 1000) yield all.slice(i, i + 1000);
  }

  delete(name: string, generation: string): Promise<boolean> {
    const v = this.live.get(name);
    if (!v) return Promise.resolve(false);
    if (v.object.generation !== generation)
      return Promise.reject(new ObjectExistsError(`${name} changed`));
    this.live.delete(name);
    this.old.set(`${name}#${generation}`, v);
    return Promise.resolve(true);
  }
}

/**
 * A checker of export env `env` (in a bucket of that name) over a memory
 * store, whose emails land in `mails` and whose clock moves a second at
 * every reading, from `startMs`.
 */
export function memoryChecker(
  store: MemoryStore,
  env: string,
  mails: Mail[],
  startMs: number,
): () => Checker {
  let now = startMs;
  return () =>
    new Checker({
      settings: {
        env,
        bucket: env,
        developers: ['dev@example.com'],
        emailMaxGaps: 10,
        replay: {project: 'p', topic: 't'},
      },
      store,
      mailer: () =>
        Promise.resolve({
          send: (m: Mail) => {
            mails.push(m);
            return Promise.resolve();
          },
        }),
      clock: {now: () => (now += 1000), sleep: () => Promise.resolve()},
      logger: createLogger({}, () => {}),
    });
}
