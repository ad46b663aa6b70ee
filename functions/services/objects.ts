/** Object-store idioms the use cases share. */
import {ObjectExistsError, ObjectStore} from '../ports';

/**
 * Writes `bytes` to `name` whether it exists or not, each attempt guarded by
 * the generation just read, so a concurrent writer's version is never
 * overwritten unseen. Resolves false if the object kept changing.
 */
export async function replaceObject(
  store: ObjectStore,
  name: string,
  bytes: Buffer,
  contentType: string,
  attempts = 5,
): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const existing = await store.stat(name);
    try {
      await store.write(name, bytes, {contentType, ifGenerationMatch: existing?.generation ?? 0});
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
