/**
 * objects.compose, as Cloud Storage does it: 1 to 32 source objects of the
 * destination's bucket, all of one storage class, concatenated in the order
 * given into a composite object of that storage class. Each source may name
 * a generation and an `ifGenerationMatch` of its own (404 and 412 as for a
 * read). The composite object has a CRC32C over its bytes and a
 * `componentCount` (the sum of its sources', a plain object counting one),
 * and no MD5: Cloud Storage keeps none for composite objects and ignores any
 * MD5 sent with the request. The Google Cloud CLI composes what it uploads
 * in parallel (parallel composite uploads, by default from 150 MiB).
 */
import * as fs from 'node:fs';
import {once} from 'node:events';
import {FileStore, ObjectProps, Preconditions, StoreError, StoredObject} from './store';
import {Checksums} from './streams';
import {fsyncFile} from './integrity';

/** Most source objects one compose request may name. */
export const MAX_COMPOSE_SOURCES = 32;

export interface ComposeSource {
  name: string;
  generation?: string;
  ifGenerationMatch?: string;
}

const invalid = (message: string) => new StoreError(400, 'invalid', message);

/** The `sourceObjects` of a compose request, checked (400 for anything malformed). */
export function composeSources(body: Record<string, unknown>): ComposeSource[] {
  const list = body.sourceObjects;
  if (!Array.isArray(list) || list.length === 0)
    throw invalid('Required field "sourceObjects" is missing or empty.');
  if (list.length > MAX_COMPOSE_SOURCES)
    throw invalid(
      `The number of source components provided (${list.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`,
    );
  return list.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null)
      throw invalid(`sourceObjects[${i}] must be an object.`);
    const {name, generation, objectPreconditions} = entry as Record<string, unknown>;
    if (typeof name !== 'string' || name === '')
      throw invalid(`Required field "sourceObjects[${i}].name" is missing.`);
    const whole = (v: unknown, what: string): string | undefined => {
      if (v === undefined || v === null) return undefined;
      const text = String(v);
      if ((typeof v !== 'string' && typeof v !== 'number') || !/^\d+$/.test(text))
        throw invalid(`Invalid value for ${what}: '${text}'.`);
      return text;
    };
    const gen = whole(generation, `sourceObjects[${i}].generation`);
    const match =
      typeof objectPreconditions === 'object' && objectPreconditions !== null
        ? whole(
            (objectPreconditions as Record<string, unknown>).ifGenerationMatch,
            `sourceObjects[${i}].objectPreconditions.ifGenerationMatch`,
          )
        : undefined;
    if (gen !== undefined && match !== undefined && gen !== match)
      throw invalid(
        `sourceObjects[${i}]: generation ${gen} and objectPreconditions.ifGenerationMatch ${match} differ.`,
      );
    return {
      name,
      ...(gen !== undefined ? {generation: gen} : {}),
      ...(match !== undefined ? {ifGenerationMatch: match} : {}),
    };
  });
}

/** Each source generation the request names (404 if gone, 412 if its precondition fails). */
export function resolveSources(
  store: FileStore,
  bucket: string,
  sources: ComposeSource[],
): StoredObject[] {
  const objects = sources.map(s =>
    store.getObject(
      bucket,
      s.name,
      s.ifGenerationMatch !== undefined ? {ifGenerationMatch: s.ifGenerationMatch} : {},
      s.generation,
    ),
  );
  const classes = new Set(objects.map(o => o.storageClass));
  if (classes.size > 1)
    throw invalid(
      `All source objects must have the same storage class; these have ${[...classes].join(', ')}.`,
    );
  return objects;
}

/** Concatenates `sources` into `bucket/name`; `props` from the request's `destination`. */
export async function compose(
  store: FileStore,
  bucket: string,
  name: string,
  sources: StoredObject[],
  props: ObjectProps,
  pre: Preconditions,
): Promise<StoredObject> {
  const storageClass = sources[0]!.storageClass;
  const destination: ObjectProps = {...props, storageClass};
  store.checkWritable(bucket, name, pre, destination);
  // Opened in the same synchronous step that resolved them (the caller's): a source replaced
  // meanwhile still gives the generation named, never the next one's bytes.
  const fds: number[] = [];
  const tmpPath = store.newTempPath();
  const sums = new Checksums();
  try {
    for (const s of sources) fds.push(fs.openSync(store.contentPath(s), 'r'));
    const out = fs.createWriteStream(tmpPath);
    const finished = once(out, 'finish');
    finished.catch(() => {}); // awaited below, unless the copy fails first
    try {
      for (const fd of fds) {
        for await (const chunk of fs.createReadStream('', {fd, autoClose: false})) {
          sums.update(chunk as Buffer);
          if (!out.write(chunk)) await once(out, 'drain');
        }
      }
    } finally {
      out.end();
    }
    await finished;
    await fsyncFile(tmpPath);
    return store.commit(
      bucket,
      name,
      {
        tmpPath,
        size: sums.size,
        crc32c: sums.digests().crc32c,
        componentCount: sources.reduce((n, s) => n + (s.componentCount ?? 1), 0),
      },
      destination,
      pre,
    );
  } catch (err) {
    await fs.promises.rm(tmpPath, {force: true});
    throw err;
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}
