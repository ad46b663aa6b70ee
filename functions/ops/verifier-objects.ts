/**
 * `grm verify`'s pass over the bucket for a decided day: every generation in
 * the day's export folders listed, each expected object checked against its
 * live generation (with `deep`, its bytes read back), then whatever is there
 * that nothing expects, and generations that came and went.
 * core/verify-objects.ts judges each of them.
 */
import type {Expected, Finding} from '../core/verify';
import {
  ReadBack,
  checkObject,
  exportFolders,
  extraObjects,
  hiddenGenerations,
} from '../core/verify-objects';
import type {ObjectStore, StoredObject} from '../ports';
import {mapLimit} from '../services/objects';
import {CONCURRENCY} from './verifier-reads';

export interface ObjectCheckDeps {
  env: string;
  store: ObjectStore;
  now: () => number;
  /** Size and checksums of an object's bytes, read again (`--deep`). */
  readBack: (name: string) => Promise<ReadBack>;
}

/** The findings of the day's objects, and the bytes the expected objects were recorded with. */
export async function checkObjects(
  deps: ObjectCheckDeps,
  day: string,
  expected: Map<string, Expected>,
  deep: boolean,
): Promise<{findings: Finding[]; bytes: number}> {
  const {env, store} = deps;
  const folders = exportFolders(env, day);
  const versions = (
    await mapLimit(folders, CONCURRENCY, folder => store.list(folder, {versions: true}))
  ).flat();
  const listed = versions.filter(o => o.timeDeleted === undefined);
  const byName = new Map(listed.map(o => [o.name, o]));
  const noncurrent = new Map<string, StoredObject[]>();
  for (const o of versions)
    if (o.timeDeleted !== undefined) noncurrent.set(o.name, [...(noncurrent.get(o.name) ?? []), o]);
  const now = deps.now();
  let bytes = 0;
  const perObject = await mapLimit([...expected.values()], CONCURRENCY, async e => {
    // A report naming an object outside the export folders is still checked, on its own.
    const stored =
      byName.get(e.object) ??
      (folders.some(f => e.object.startsWith(f)) ? undefined : await store.stat(e.object));
    bytes += e.copy?.size ?? 0;
    let readBack: ReadBack | undefined;
    if (deep && stored && stored.generation === e.copy?.generation) {
      try {
        readBack = await deps.readBack(e.object);
      } catch (err) {
        return [
          ...checkObject(e, stored, now, undefined, noncurrent.get(e.object)),
          {
            kind: 'unverifiable' as const,
            object: e.object,
            detail: `could not read its bytes back: ${err instanceof Error ? err.message : String(err)}`,
          },
        ];
      }
    }
    return checkObject(e, stored, now, readBack, noncurrent.get(e.object));
  });
  return {
    findings: [
      ...perObject.flat(),
      ...extraObjects(listed, expected),
      ...hiddenGenerations(
        versions.filter(o => o.timeDeleted !== undefined),
        expected,
      ),
    ],
    bytes,
  };
}
