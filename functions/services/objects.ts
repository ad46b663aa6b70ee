/** Object-store idioms the use cases share. */
import {ObjectExistsError, ObjectStore, StoredObject} from '../ports';

/**
 * Writes a JSON document to `name` only if it still has `generation` (0:
 * only if it does not exist). Resolves the new generation, or undefined when
 * another writer changed it first.
 */
export async function swapJson(
  store: ObjectStore,
  name: string,
  bytes: Buffer,
  generation: string | number,
): Promise<string | undefined> {
  try {
    const stored = await store.write(name, bytes, {
      contentType: 'application/json',
      ifGenerationMatch: generation,
    });
    return stored.generation;
  } catch (err) {
    if (err instanceof ObjectExistsError) return undefined;
    throw err;
  }
}

/**
 * Writes `bytes` to `name` whether it exists or not, each attempt guarded by
 * the generation just read, so a concurrent writer's version is never
 * overwritten unseen. With `current`, an existing object it accepts is left
 * as it is. Resolves false if the object kept changing.
 */
export async function replaceObject(
  store: ObjectStore,
  name: string,
  bytes: Buffer,
  contentType: string,
  opts: {
    metadata?: Record<string, string>;
    /** True when the existing object already holds what would be written. */
    current?: (existing: StoredObject) => boolean;
    attempts?: number;
  } = {},
): Promise<boolean> {
  for (let i = 0; i < (opts.attempts ?? 5); i++) {
    const existing = await store.stat(name);
    if (existing && opts.current?.(existing)) return true;
    try {
      await store.write(name, bytes, {
        contentType,
        ...(opts.metadata ? {metadata: opts.metadata} : {}),
        ifGenerationMatch: existing?.generation ?? 0,
      });
      return true;
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
    }
  }
  return false;
}

/**
 * Deletes whatever version of `name` exists, each attempt guarded by the
 * generation just read. Resolves true once it is gone (whether or not this
 * call removed it), false if it kept changing.
 */
export async function removeObject(
  store: ObjectStore,
  name: string,
  attempts = 5,
): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const existing = await store.stat(name);
    if (!existing) return true;
    try {
      await store.delete(name, existing.generation);
      return true;
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
    }
  }
  return false;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({length: Math.min(limit, items.length)}, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/**
 * `load` of every item, up to `limit` at a time, yielded in the items' order:
 * at most `limit` results are held, however many items there are.
 */
export async function* inOrder<T, R>(
  items: readonly T[],
  limit: number,
  load: (item: T, index: number) => Promise<R>,
): AsyncGenerator<[T, R]> {
  const pending: Array<Promise<R>> = [];
  let next = 0;
  const fill = () => {
    while (next < items.length && pending.length < limit) {
      const i = next++;
      const p = load(items[i]!, i);
      p.catch(() => undefined); // awaited in turn below; never an unhandled rejection meanwhile
      pending.push(p);
    }
  };
  fill();
  for (let i = 0; i < items.length; i++) {
    const r = await pending.shift()!;
    fill();
    yield [items[i]!, r];
  }
}
