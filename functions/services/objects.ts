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
