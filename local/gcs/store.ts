/**
 * The emulator's storage: buckets and objects on disk.
 *
 * Object bytes live at `DATA/{bucket}/{object name}` and nothing else lives
 * in that tree, so a person can open an exported recording with any player.
 * Metadata (generations, checksums, content types, custom metadata) and
 * in-flight uploads live under a separate META directory. Both survive a
 * restart: the index is rebuilt from META at start.
 *
 * Every write is staged in META/tmp, flushed to disk, and then committed in
 * one synchronous step (precondition check, rename into place, metadata
 * write, index update), so two racing writers with `ifGenerationMatch=0`
 * cannot both win, and a reader never sees a half-written object.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {createHash, randomBytes} from 'node:crypto';
import {checkBucketName, checkObjectName} from './names';

export interface StoredObject {
  bucket: string;
  name: string;
  generation: string;
  metageneration: string;
  size: number;
  contentType: string;
  md5Hash: string;
  crc32c: string;
  timeCreated: string;
  updated: string;
  storageClass: string;
  contentEncoding?: string;
  contentDisposition?: string;
  cacheControl?: string;
  contentLanguage?: string;
  metadata?: Record<string, string>;
}

export interface StoredBucket {
  name: string;
  timeCreated: string;
  updated: string;
  location: string;
  storageClass: string;
  metageneration: string;
}

/** The precondition query parameters of the JSON API. */
export interface Preconditions {
  ifGenerationMatch?: string;
  ifGenerationNotMatch?: string;
  ifMetagenerationMatch?: string;
  ifMetagenerationNotMatch?: string;
}

/** Writable properties of an object, as given on upload, copy or patch. */
export interface ObjectProps {
  contentType?: string | null;
  contentEncoding?: string | null;
  contentDisposition?: string | null;
  cacheControl?: string | null;
  contentLanguage?: string | null;
  metadata?: Record<string, string | null> | null;
}

/** What an upload computed while it streamed the bytes to the staging file. */
export interface StagedContent {
  tmpPath: string;
  size: number;
  md5Hash: string;
  crc32c: string;
}

export type ChangeKind = 'finalized' | 'deleted' | 'metadataUpdated';
export type ChangeListener = (kind: ChangeKind, object: StoredObject) => void;

/** A failure with the JSON API's status and reason. */
export class StoreError extends Error {
  override name = 'StoreError' as const;
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  maxResults?: number;
  pageToken?: string;
  startOffset?: string;
  endOffset?: string;
  includeTrailingDelimiter?: boolean;
}

export interface ListResult {
  items: StoredObject[];
  prefixes: string[];
  nextPageToken?: string;
}

/** Default and maximum page size of objects.list. */
const MAX_LIST_RESULTS = 1000;

/** What an object without a content type is served as. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

const PRECONDITION_FAILED = 'At least one of the pre-conditions you specified did not hold.';

/** Pure precondition check, shared by reads and writes. */
export function checkPreconditions(current: StoredObject | undefined, pre: Preconditions): void {
  const fail = () => {
    throw new StoreError(412, 'conditionNotMet', PRECONDITION_FAILED);
  };
  if (pre.ifGenerationMatch !== undefined) {
    if (
      pre.ifGenerationMatch === '0'
        ? current !== undefined
        : current?.generation !== pre.ifGenerationMatch
    ) {
      fail();
    }
  }
  if (pre.ifGenerationNotMatch !== undefined) {
    if (
      pre.ifGenerationNotMatch === '0'
        ? current === undefined
        : current?.generation === pre.ifGenerationNotMatch
    ) {
      fail();
    }
  }
  if (
    pre.ifMetagenerationMatch !== undefined &&
    current?.metageneration !== pre.ifMetagenerationMatch
  ) {
    fail();
  }
  if (
    pre.ifMetagenerationNotMatch !== undefined &&
    (current === undefined || current.metageneration === pre.ifMetagenerationNotMatch)
  ) {
    fail();
  }
}

function applyProps(target: StoredObject, props: ObjectProps): void {
  for (const key of [
    'contentType',
    'contentEncoding',
    'contentDisposition',
    'cacheControl',
    'contentLanguage',
  ] as const) {
    const value = props[key];
    if (value === null) {
      if (key === 'contentType') target.contentType = DEFAULT_CONTENT_TYPE;
      else delete target[key];
    } else if (value !== undefined) {
      target[key] = String(value);
    }
  }
  if (props.metadata !== undefined) {
    const merged: Record<string, string> = {...(target.metadata ?? {})};
    for (const [k, v] of Object.entries(props.metadata ?? {})) {
      if (v === null) delete merged[k];
      else merged[k] = String(v);
    }
    if (Object.keys(merged).length > 0) target.metadata = merged;
    else delete target.metadata;
  }
}

export class FileStore {
  private readonly buckets = new Map<string, StoredBucket>();
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  /** Sorted names per bucket, rebuilt lazily after a change. */
  private readonly sortedNames = new Map<string, string[]>();
  private readonly listeners: ChangeListener[] = [];
  private lastGeneration = 0;

  private constructor(
    readonly dataDir: string,
    readonly metaDir: string,
    private readonly now: () => Date,
  ) {}

  /** Opens (creating if needed) a store and rebuilds its index from disk. */
  static async open(
    dataDir: string,
    metaDir: string,
    now: () => Date = () => new Date(),
  ): Promise<FileStore> {
    const store = new FileStore(path.resolve(dataDir), path.resolve(metaDir), now);
    if (isInside(store.metaDir, store.dataDir)) {
      throw new Error(
        `the metadata directory ${metaDir} must not be inside the data directory ${dataDir}`,
      );
    }
    for (const dir of [
      store.dataDir,
      store.bucketsDir,
      store.tmpDir,
      path.join(store.metaDir, 'objects'),
    ]) {
      await fs.promises.mkdir(dir, {recursive: true});
    }
    await store.load();
    return store;
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  // ---- buckets -----------------------------------------------------------

  createBucket(name: string, props: {location?: string; storageClass?: string} = {}): StoredBucket {
    checkBucketName(name);
    if (this.buckets.has(name)) {
      throw new StoreError(
        409,
        'conflict',
        'Your previous request to create the named bucket succeeded and you already own it.',
      );
    }
    const ts = this.now().toISOString();
    const bucket: StoredBucket = {
      name,
      timeCreated: ts,
      updated: ts,
      location: props.location ?? 'US',
      storageClass: props.storageClass ?? 'STANDARD',
      metageneration: '1',
    };
    fs.mkdirSync(path.join(this.dataDir, name), {recursive: true});
    fs.mkdirSync(path.join(this.metaDir, 'objects', name), {recursive: true});
    writeJsonAtomic(path.join(this.bucketsDir, `${name}.json`), bucket, this.tmpDir);
    this.buckets.set(name, bucket);
    this.objects.set(name, new Map());
    return bucket;
  }

  getBucket(name: string): StoredBucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw new StoreError(404, 'notFound', 'The specified bucket does not exist.');
    return bucket;
  }

  listBuckets(): StoredBucket[] {
    return [...this.buckets.values()].sort((a, b) => cmp(a.name, b.name));
  }

  deleteBucket(name: string): void {
    this.getBucket(name);
    if ((this.objects.get(name)?.size ?? 0) > 0) {
      throw new StoreError(409, 'conflict', 'The bucket you tried to delete is not empty.');
    }
    fs.rmSync(path.join(this.dataDir, name), {recursive: true, force: true});
    fs.rmSync(path.join(this.metaDir, 'objects', name), {recursive: true, force: true});
    fs.rmSync(path.join(this.bucketsDir, `${name}.json`), {force: true});
    this.buckets.delete(name);
    this.objects.delete(name);
    this.sortedNames.delete(name);
  }

  // ---- objects -----------------------------------------------------------

  /** The current object, or a 404/412 StoreError. */
  getObject(bucket: string, name: string, pre: Preconditions = {}): StoredObject {
    const current = this.bucketObjects(bucket).get(name);
    checkPreconditions(current, pre);
    if (!current) throw new StoreError(404, 'notFound', `No such object: ${bucket}/${name}`);
    return current;
  }

  /** The object's bytes on disk. */
  dataPath(bucket: string, name: string): string {
    return path.join(this.dataDir, bucket, ...name.split('/'));
  }

  /** A fresh staging file path for an upload. */
  newTempPath(): string {
    return path.join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
  }

  /** Checks everything that can be checked before bytes are streamed. */
  checkWritable(bucket: string, name: string, pre: Preconditions): void {
    checkObjectName(name);
    checkPreconditions(this.bucketObjects(bucket).get(name), pre);
    this.checkNoPathConflict(bucket, name);
  }

  /**
   * Makes a staged file the live generation of `bucket/name`. Synchronous
   * from the precondition check to the index update, so racing commits are
   * serialised by the event loop. The staging file is consumed on success and
   * left to the caller on failure.
   */
  commit(
    bucket: string,
    name: string,
    staged: StagedContent,
    props: ObjectProps,
    pre: Preconditions,
  ): StoredObject {
    this.checkWritable(bucket, name, pre);
    const ts = this.now().toISOString();
    const object: StoredObject = {
      bucket,
      name,
      generation: this.nextGeneration(),
      metageneration: '1',
      size: staged.size,
      contentType: DEFAULT_CONTENT_TYPE,
      md5Hash: staged.md5Hash,
      crc32c: staged.crc32c,
      timeCreated: ts,
      updated: ts,
      storageClass: this.getBucket(bucket).storageClass,
    };
    applyProps(object, props);
    const target = this.dataPath(bucket, name);
    fs.mkdirSync(path.dirname(target), {recursive: true});
    moveSync(staged.tmpPath, target);
    writeJsonAtomic(this.metaPath(bucket, name), object, this.tmpDir);
    this.bucketObjects(bucket).set(name, object);
    this.sortedNames.delete(bucket);
    this.emit('finalized', object);
    return object;
  }

  /** objects.patch: changes writable properties and bumps the metageneration. */
  patch(bucket: string, name: string, props: ObjectProps, pre: Preconditions): StoredObject {
    const current = this.getObject(bucket, name, pre);
    const updated: StoredObject = {
      ...current,
      metadata: current.metadata ? {...current.metadata} : undefined,
      metageneration: String(Number(current.metageneration) + 1),
      updated: this.now().toISOString(),
    };
    if (!updated.metadata) delete updated.metadata;
    applyProps(updated, props);
    writeJsonAtomic(this.metaPath(bucket, name), updated, this.tmpDir);
    this.bucketObjects(bucket).set(name, updated);
    this.emit('metadataUpdated', updated);
    return updated;
  }

  delete(bucket: string, name: string, pre: Preconditions): void {
    const current = this.getObject(bucket, name, pre);
    const target = this.dataPath(bucket, name);
    fs.rmSync(target, {force: true});
    fs.rmSync(this.metaPath(bucket, name), {force: true});
    this.removeEmptyParents(path.dirname(target), path.join(this.dataDir, bucket));
    this.bucketObjects(bucket).delete(name);
    this.sortedNames.delete(bucket);
    this.emit('deleted', current);
  }

  list(bucket: string, opts: ListOptions): ListResult {
    const names = this.sorted(bucket);
    const prefix = opts.prefix ?? '';
    const max = Math.min(Math.max(opts.maxResults ?? MAX_LIST_RESULTS, 1), MAX_LIST_RESULTS);
    const after = opts.pageToken
      ? Buffer.from(opts.pageToken, 'base64url').toString('utf8')
      : undefined;
    let start = lowerBound(
      names,
      opts.startOffset && opts.startOffset > prefix ? opts.startOffset : prefix,
    );
    const objects = this.bucketObjects(bucket);
    const items: StoredObject[] = [];
    const prefixes: string[] = [];
    const seenPrefixes = new Set<string>();
    let last: string | undefined;
    if (after !== undefined) start = Math.max(start, upperBound(names, after));
    for (let i = start; i < names.length; i++) {
      const name = names[i]!;
      if (!name.startsWith(prefix)) break;
      if (opts.endOffset !== undefined && name >= opts.endOffset) break;
      if (items.length + prefixes.length >= max) {
        return {items, prefixes, nextPageToken: Buffer.from(last!, 'utf8').toString('base64url')};
      }
      if (opts.delimiter) {
        const cut = name.indexOf(opts.delimiter, prefix.length);
        if (cut >= 0) {
          const p = name.slice(0, cut + opts.delimiter.length);
          if (!seenPrefixes.has(p)) {
            seenPrefixes.add(p);
            prefixes.push(p);
            if (opts.includeTrailingDelimiter && objects.has(p)) items.push(objects.get(p)!);
          }
          // Skip every other name under this prefix in one step.
          i = lowerBound(names, p + '\uffff') - 1;
          last = names[i] ?? p;
          continue;
        }
      }
      items.push(objects.get(name)!);
      last = name;
    }
    return {items, prefixes};
  }

  // ---- internals ---------------------------------------------------------

  private get bucketsDir(): string {
    return path.join(this.metaDir, 'buckets');
  }

  private get tmpDir(): string {
    return path.join(this.metaDir, 'tmp');
  }

  private metaPath(bucket: string, name: string): string {
    // Hashed so that any legal object name gives a short, safe file name.
    const key = createHash('sha256').update(name, 'utf8').digest('hex');
    return path.join(this.metaDir, 'objects', bucket, `${key}.json`);
  }

  private bucketObjects(bucket: string): Map<string, StoredObject> {
    this.getBucket(bucket);
    return this.objects.get(bucket)!;
  }

  private sorted(bucket: string): string[] {
    let names = this.sortedNames.get(bucket);
    if (!names) {
      names = [...this.bucketObjects(bucket).keys()].sort(cmp);
      this.sortedNames.set(bucket, names);
    }
    return names;
  }

  /** An object "a" and an object "a/b" cannot both be files. */
  private checkNoPathConflict(bucket: string, name: string): void {
    const objects = this.bucketObjects(bucket);
    const segments = name.split('/');
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join('/');
      if (objects.has(parent)) {
        throw new StoreError(
          400,
          'emulatorLimitation',
          `Object '${name}' cannot be stored next to the existing object '${parent}': the emulator keeps objects as plain files.`,
        );
      }
    }
    if (!objects.has(name)) {
      const target = this.dataPath(bucket, name);
      if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
        throw new StoreError(
          400,
          'emulatorLimitation',
          `Object '${name}' cannot be stored: objects named '${name}/…' exist and the emulator keeps objects as plain files.`,
        );
      }
    }
  }

  private nextGeneration(): string {
    // Microseconds since the epoch, strictly increasing, like real generations.
    const candidate = this.now().getTime() * 1000;
    this.lastGeneration = Math.max(candidate, this.lastGeneration + 1);
    return String(this.lastGeneration);
  }

  private emit(kind: ChangeKind, object: StoredObject): void {
    for (const listener of this.listeners) listener(kind, object);
  }

  private removeEmptyParents(dir: string, stopAt: string): void {
    while (dir.startsWith(stopAt + path.sep)) {
      try {
        fs.rmdirSync(dir);
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  private async load(): Promise<void> {
    for (const file of await fs.promises.readdir(this.bucketsDir)) {
      if (!file.endsWith('.json')) continue;
      const bucket = JSON.parse(
        await fs.promises.readFile(path.join(this.bucketsDir, file), 'utf8'),
      ) as StoredBucket;
      this.buckets.set(bucket.name, bucket);
      const objects = new Map<string, StoredObject>();
      this.objects.set(bucket.name, objects);
      const dir = path.join(this.metaDir, 'objects', bucket.name);
      await fs.promises.mkdir(dir, {recursive: true});
      for (const metaFile of await fs.promises.readdir(dir)) {
        const object = JSON.parse(
          await fs.promises.readFile(path.join(dir, metaFile), 'utf8'),
        ) as StoredObject;
        if (!fs.existsSync(this.dataPath(bucket.name, object.name))) {
          // The bytes were removed by hand: forget the object rather than serve nothing.
          await fs.promises.rm(path.join(dir, metaFile), {force: true});
          continue;
        }
        objects.set(object.name, object);
        this.lastGeneration = Math.max(this.lastGeneration, Number(object.generation));
      }
    }
    // Staging files of uploads that never finished before the restart.
    for (const file of await fs.promises.readdir(this.tmpDir)) {
      if (file.endsWith('.part')) await fs.promises.rm(path.join(this.tmpDir, file), {force: true});
    }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First index whose name is >= key. */
function lowerBound(names: string[], key: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose name is > key. */
function upperBound(names: string[], key: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function writeJsonAtomic(file: string, value: unknown, tmpDir: string): void {
  const tmp = path.join(tmpDir, `${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(value));
  fs.renameSync(tmp, file);
}

/** rename, or copy + unlink when META and DATA are on different file systems. */
function moveSync(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    fs.copyFileSync(from, to);
    fs.rmSync(from, {force: true});
  }
}
