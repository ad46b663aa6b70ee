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
 *
 * Object versioning and per-object retention (Object Retention Lock) follow
 * Cloud Storage: in a bucket with versioning on, an overwritten or deleted
 * live object becomes a noncurrent version (bytes and metadata moved to
 * META/versions, so DATA still holds only live objects); an object whose
 * retention has not expired cannot be deleted or replaced, but can be made
 * noncurrent, and stays protected as such.
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
  /** Absent on a composite object, as in Cloud Storage (its CRC32C is what checks it). */
  md5Hash?: string;
  crc32c: string;
  /** Composite objects: how many components make it up (compose adds them up). */
  componentCount?: number;
  timeCreated: string;
  updated: string;
  storageClass: string;
  contentEncoding?: string;
  contentDisposition?: string;
  cacheControl?: string;
  contentLanguage?: string;
  metadata?: Record<string, string>;
  /** Object Retention Lock: not deleted or replaced before `retainUntilTime`. */
  retention?: ObjectRetention;
  /** Set when the generation became noncurrent (versioned buckets only). */
  timeDeleted?: string;
}

export interface ObjectRetention {
  mode: 'Unlocked' | 'Locked';
  /** RFC 3339, normalised to `Date.toISOString()`. */
  retainUntilTime: string;
}

export interface StoredBucket {
  name: string;
  timeCreated: string;
  updated: string;
  location: string;
  storageClass: string;
  metageneration: string;
  /** `versioning.enabled`; absent when never set (the resource then has no `versioning`). */
  versioning?: boolean;
  /** Object retention enabled at creation (`enableObjectRetention=true`). */
  objectRetention?: boolean;
}

export interface BucketProps {
  location?: string;
  storageClass?: string;
  versioning?: boolean;
  objectRetention?: boolean;
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
  /**
   * The new object's storage class (uploads, copies and rewrites; default the
   * bucket's). A patch cannot change it: in Cloud Storage only a rewrite can.
   */
  storageClass?: string;
  /** As sent: validated against the bucket and the clock by the store. null removes it. */
  retention?: {mode?: string; retainUntilTime?: string} | null;
}

/** How an objects.patch/update may change a retention (the `overrideUnlockedRetention` query parameter). */
export interface PatchOptions {
  /** A particular generation, live or noncurrent; the live one when absent. */
  generation?: string;
  overrideUnlockedRetention?: boolean;
}

/** What an upload computed while it streamed the bytes to the staging file. */
export interface StagedContent {
  tmpPath: string;
  size: number;
  /** Absent for a composite object. */
  md5Hash?: string;
  crc32c: string;
  /** A composite object's component count. */
  componentCount?: number;
}

export type ChangeKind = 'finalized' | 'deleted' | 'archived' | 'metadataUpdated';
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

/** Cloud Storage's storage classes (the last three are legacy names it still takes). */
export const STORAGE_CLASSES: readonly string[] = [
  'STANDARD',
  'NEARLINE',
  'COLDLINE',
  'ARCHIVE',
  'MULTI_REGIONAL',
  'REGIONAL',
  'DURABLE_REDUCED_AVAILABILITY',
];

/** Default and maximum page size of objects.list. */
const MAX_LIST_RESULTS = 1000;

/** What an object without a content type is served as. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

const PRECONDITION_FAILED = 'At least one of the pre-conditions you specified did not hold.';

/** The longest retention Cloud Storage accepts: 3,155,760,000 s (100 years) ahead. */
export const MAX_RETENTION_SECONDS = 3_155_760_000;

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

/** The retention's expiry if it has not passed at `now`. */
function retainedUntil(o: StoredObject, now: Date): string | undefined {
  if (!o.retention) return undefined;
  return Date.parse(o.retention.retainUntilTime) > now.getTime()
    ? o.retention.retainUntilTime
    : undefined;
}

export class FileStore {
  private readonly buckets = new Map<string, StoredBucket>();
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  /** Noncurrent generations per bucket and name, oldest first (versioned buckets). */
  private readonly noncurrent = new Map<string, Map<string, StoredObject[]>>();
  /** Sorted names per bucket, rebuilt lazily after a change. */
  private readonly sortedNames = new Map<string, string[]>();
  /** Sorted names of live and noncurrent objects per bucket, for `versions=true`. */
  private readonly sortedVersionNames = new Map<string, string[]>();
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
      store.versionsDir,
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

  createBucket(name: string, props: BucketProps = {}): StoredBucket {
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
      ...(props.versioning !== undefined ? {versioning: props.versioning} : {}),
      ...(props.objectRetention ? {objectRetention: true} : {}),
    };
    fs.mkdirSync(path.join(this.dataDir, name), {recursive: true});
    fs.mkdirSync(path.join(this.metaDir, 'objects', name), {recursive: true});
    writeJsonAtomic(path.join(this.bucketsDir, `${name}.json`), bucket, this.tmpDir);
    this.buckets.set(name, bucket);
    this.objects.set(name, new Map());
    this.noncurrent.set(name, new Map());
    return bucket;
  }

  /**
   * buckets.patch of what the emulator keeps: versioning. Object retention is
   * set at creation only (as Terraform's ForceNew `enable_object_retention`).
   */
  patchBucket(name: string, props: {versioning?: boolean}): StoredBucket {
    const current = this.getBucket(name);
    const updated: StoredBucket = {
      ...current,
      metageneration: String(Number(current.metageneration) + 1),
      updated: this.now().toISOString(),
      ...(props.versioning !== undefined ? {versioning: props.versioning} : {}),
    };
    writeJsonAtomic(path.join(this.bucketsDir, `${name}.json`), updated, this.tmpDir);
    this.buckets.set(name, updated);
    return updated;
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
    // Noncurrent versions count: Cloud Storage refuses until they are gone too.
    if ((this.objects.get(name)?.size ?? 0) > 0 || (this.noncurrent.get(name)?.size ?? 0) > 0) {
      throw new StoreError(409, 'conflict', 'The bucket you tried to delete is not empty.');
    }
    fs.rmSync(path.join(this.dataDir, name), {recursive: true, force: true});
    fs.rmSync(path.join(this.metaDir, 'objects', name), {recursive: true, force: true});
    fs.rmSync(path.join(this.versionsDir, name), {recursive: true, force: true});
    fs.rmSync(path.join(this.bucketsDir, `${name}.json`), {force: true});
    this.buckets.delete(name);
    this.objects.delete(name);
    this.noncurrent.delete(name);
    this.sortedNames.delete(name);
    this.sortedVersionNames.delete(name);
  }

  // ---- objects -----------------------------------------------------------

  /**
   * The live object, or with `generation` that generation, live or
   * noncurrent; else a 404/412 StoreError. Preconditions are checked against
   * the object addressed.
   */
  getObject(
    bucket: string,
    name: string,
    pre: Preconditions = {},
    generation?: string,
  ): StoredObject {
    const current = this.bucketObjects(bucket).get(name);
    if (generation === undefined) {
      checkPreconditions(current, pre);
      if (!current) throw new StoreError(404, 'notFound', `No such object: ${bucket}/${name}`);
      return current;
    }
    const found =
      current?.generation === generation
        ? current
        : this.versionsOf(bucket, name).find(v => v.generation === generation);
    checkPreconditions(found, pre);
    if (!found) {
      throw new StoreError(404, 'notFound', `No such object: ${bucket}/${name}#${generation}`);
    }
    return found;
  }

  /** The object's bytes on disk (live objects). */
  dataPath(bucket: string, name: string): string {
    return path.join(this.dataDir, bucket, ...name.split('/'));
  }

  /** The bytes of any generation: DATA for the live one, META/versions for a noncurrent one. */
  contentPath(object: StoredObject): string {
    return object.timeDeleted === undefined
      ? this.dataPath(object.bucket, object.name)
      : this.versionPaths(object.bucket, object.name, object.generation).bytes;
  }

  /** A fresh staging file path for an upload. */
  newTempPath(): string {
    return path.join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
  }

  /**
   * Checks everything that can be checked before bytes are streamed: the
   * name, preconditions (against the live object) and, when given, the
   * retention the new object asks for. Whether a retention forbids replacing
   * the live object is decided by `commit` only, as Cloud Storage refuses a
   * resumable upload at its final request.
   */
  checkWritable(bucket: string, name: string, pre: Preconditions, props?: ObjectProps): void {
    checkObjectName(name);
    if (props?.storageClass !== undefined && !STORAGE_CLASSES.includes(props.storageClass)) {
      throw new StoreError(
        400,
        'invalid',
        `Invalid argument: storageClass '${props.storageClass}' is not one of ${STORAGE_CLASSES.join(', ')}.`,
      );
    }
    checkPreconditions(this.bucketObjects(bucket).get(name), pre);
    this.checkNoPathConflict(bucket, name);
    if (props?.retention) this.validRetention(bucket, props.retention);
  }

  /**
   * Makes a staged file the live generation of `bucket/name`. Synchronous
   * from the precondition check to the index update, so racing commits are
   * serialised by the event loop. The staging file is consumed on success and
   * left to the caller on failure.
   *
   * A live object it replaces becomes noncurrent in a versioned bucket (even
   * under retention); otherwise it is removed, which its retention forbids
   * until it expires (403 `retentionPolicyNotMet`, after any 412).
   */
  commit(
    bucket: string,
    name: string,
    staged: StagedContent,
    props: ObjectProps,
    pre: Preconditions,
  ): StoredObject {
    this.checkWritable(bucket, name, pre, props);
    const {versioning} = this.getBucket(bucket);
    const previous = this.bucketObjects(bucket).get(name);
    if (previous && !versioning) this.checkNotRetained(previous);
    const ts = this.now().toISOString();
    const object: StoredObject = {
      bucket,
      name,
      generation: this.nextGeneration(),
      metageneration: '1',
      size: staged.size,
      contentType: DEFAULT_CONTENT_TYPE,
      ...(staged.md5Hash !== undefined ? {md5Hash: staged.md5Hash} : {}),
      crc32c: staged.crc32c,
      ...(staged.componentCount !== undefined ? {componentCount: staged.componentCount} : {}),
      timeCreated: ts,
      updated: ts,
      storageClass: props.storageClass ?? this.getBucket(bucket).storageClass,
    };
    applyProps(object, props);
    if (props.retention) object.retention = this.validRetention(bucket, props.retention);
    const archived = previous && versioning ? this.archive(previous, ts) : undefined;
    const target = this.dataPath(bucket, name);
    fs.mkdirSync(path.dirname(target), {recursive: true});
    moveSync(staged.tmpPath, target);
    writeJsonAtomic(this.metaPath(bucket, name), object, this.tmpDir);
    this.bucketObjects(bucket).set(name, object);
    this.sortedNames.delete(bucket);
    this.sortedVersionNames.delete(bucket);
    // What became of the replaced object, then the new one (Cloud Storage sends both).
    if (archived) this.emit('archived', archived);
    else if (previous) this.emit('deleted', previous);
    this.emit('finalized', object);
    return object;
  }

  /**
   * objects.patch: changes writable properties and bumps the metageneration,
   * of the live object or of the generation named. A retention may be set or
   * extended freely; removing or shortening an Unlocked one, or locking it,
   * needs `overrideUnlockedRetention`; a Locked one can only be extended.
   */
  patch(
    bucket: string,
    name: string,
    props: ObjectProps,
    pre: Preconditions,
    opts: PatchOptions = {},
  ): StoredObject {
    const current = this.getObject(bucket, name, pre, opts.generation);
    const updated: StoredObject = {
      ...current,
      metadata: current.metadata ? {...current.metadata} : undefined,
      metageneration: String(Number(current.metageneration) + 1),
      updated: this.now().toISOString(),
    };
    if (!updated.metadata) delete updated.metadata;
    applyProps(updated, props);
    if (props.retention !== undefined) {
      const next = this.retentionChange(current, props.retention, opts.overrideUnlockedRetention);
      if (next) updated.retention = next;
      else delete updated.retention;
    }
    if (current.timeDeleted !== undefined) {
      const paths = this.versionPaths(bucket, name, current.generation);
      writeJsonAtomic(paths.meta, updated, this.tmpDir);
      const list = this.versionsOf(bucket, name);
      list[list.indexOf(current)] = updated;
      // A noncurrent version's change is not an event of the object (the live one).
      return updated;
    }
    writeJsonAtomic(this.metaPath(bucket, name), updated, this.tmpDir);
    this.bucketObjects(bucket).set(name, updated);
    this.emit('metadataUpdated', updated);
    return updated;
  }

  /**
   * objects.delete. Without `generation`: the live object, made noncurrent
   * in a versioned bucket (allowed under retention, which stays with it),
   * removed otherwise. With `generation`: that generation, live or
   * noncurrent, removed for good. A removal before the retention expires is
   * refused (403 `retentionPolicyNotMet`).
   */
  delete(bucket: string, name: string, pre: Preconditions, generation?: string): void {
    const target = this.getObject(bucket, name, pre, generation);
    if (generation === undefined && this.getBucket(bucket).versioning) {
      const archived = this.archive(target, this.now().toISOString());
      this.removeLive(bucket, name, false);
      this.emit('archived', archived);
      return;
    }
    this.checkNotRetained(target);
    if (target.timeDeleted === undefined) {
      this.removeLive(bucket, name, true);
    } else {
      const paths = this.versionPaths(bucket, name, target.generation);
      fs.rmSync(paths.bytes, {force: true});
      fs.rmSync(paths.meta, {force: true});
      removeDirIfEmpty(path.dirname(paths.meta));
      const byName = this.noncurrent.get(bucket)!;
      const rest = this.versionsOf(bucket, name).filter(v => v !== target);
      if (rest.length > 0) byName.set(name, rest);
      else byName.delete(name);
      this.sortedVersionNames.delete(bucket);
    }
    this.emit('deleted', target);
  }

  /**
   * objects.list. With `versions`, every generation of each name, noncurrent
   * ones (oldest first) before the live one, as Cloud Storage lists them.
   */
  list(bucket: string, opts: ListOptions & {versions?: boolean}): ListResult {
    const versions = opts.versions === true;
    const names = versions ? this.sortedWithVersions(bucket) : this.sorted(bucket);
    const prefix = opts.prefix ?? '';
    const max = Math.min(Math.max(opts.maxResults ?? MAX_LIST_RESULTS, 1), MAX_LIST_RESULTS);
    // Page tokens name the last name listed and, with versions, its last generation.
    let after: string | undefined;
    let afterGeneration: bigint | undefined;
    if (opts.pageToken) {
      const token = Buffer.from(opts.pageToken, 'base64url').toString('utf8');
      const cut = versions ? token.indexOf('\u0000') : -1;
      after = cut >= 0 ? token.slice(0, cut) : token;
      if (cut >= 0 && /^\d+$/.test(token.slice(cut + 1)))
        afterGeneration = BigInt(token.slice(cut + 1));
    }
    let start = lowerBound(
      names,
      opts.startOffset && opts.startOffset > prefix ? opts.startOffset : prefix,
    );
    const objects = this.bucketObjects(bucket);
    const entries = (name: string): StoredObject[] => {
      const live = objects.get(name);
      if (!versions) return live ? [live] : [];
      return [...this.versionsOf(bucket, name), ...(live ? [live] : [])];
    };
    const items: StoredObject[] = [];
    const prefixes: string[] = [];
    const seenPrefixes = new Set<string>();
    let last: string | undefined;
    let lastGeneration: string | undefined;
    const token = () =>
      Buffer.from(
        lastGeneration === undefined ? last! : `${last!}\u0000${lastGeneration}`,
        'utf8',
      ).toString('base64url');
    if (after !== undefined) {
      start = Math.max(
        start,
        afterGeneration === undefined ? upperBound(names, after) : lowerBound(names, after),
      );
    }
    for (let i = start; i < names.length; i++) {
      const name = names[i]!;
      if (!name.startsWith(prefix)) break;
      if (opts.endOffset !== undefined && name >= opts.endOffset) break;
      if (opts.delimiter) {
        const cut = name.indexOf(opts.delimiter, prefix.length);
        if (cut >= 0) {
          if (items.length + prefixes.length >= max)
            return {items, prefixes, nextPageToken: token()};
          const p = name.slice(0, cut + opts.delimiter.length);
          if (!seenPrefixes.has(p)) {
            seenPrefixes.add(p);
            prefixes.push(p);
            if (opts.includeTrailingDelimiter) items.push(...entries(p));
          }
          // Skip every other name under this prefix in one step.
          i = lowerBound(names, p + '\uffff') - 1;
          last = names[i] ?? p;
          lastGeneration = undefined;
          continue;
        }
      }
      for (const object of entries(name)) {
        if (
          name === after &&
          afterGeneration !== undefined &&
          BigInt(object.generation) <= afterGeneration
        ) {
          continue;
        }
        if (items.length + prefixes.length >= max) return {items, prefixes, nextPageToken: token()};
        items.push(object);
        last = name;
        lastGeneration = versions ? object.generation : undefined;
      }
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

  private get versionsDir(): string {
    return path.join(this.metaDir, 'versions');
  }

  /** A noncurrent generation's metadata and bytes: META/versions/{bucket}/{sha256(name)}/{generation}.*. */
  private versionPaths(
    bucket: string,
    name: string,
    generation: string,
  ): {meta: string; bytes: string} {
    const key = createHash('sha256').update(name, 'utf8').digest('hex');
    const dir = path.join(this.versionsDir, bucket, key);
    return {meta: path.join(dir, `${generation}.json`), bytes: path.join(dir, `${generation}.bin`)};
  }

  private versionsOf(bucket: string, name: string): StoredObject[] {
    this.getBucket(bucket);
    return this.noncurrent.get(bucket)!.get(name) ?? [];
  }

  /**
   * Makes the live `object` noncurrent: its metadata (with `timeDeleted`) is
   * written first and its bytes moved after, so a crash between the two
   * leaves the live object intact (and load() drops the half-made version).
   * The caller then replaces or removes the live entry.
   */
  private archive(object: StoredObject, ts: string): StoredObject {
    const archived: StoredObject = {...object, timeDeleted: ts};
    const paths = this.versionPaths(object.bucket, object.name, object.generation);
    fs.mkdirSync(path.dirname(paths.meta), {recursive: true});
    writeJsonAtomic(paths.meta, archived, this.tmpDir);
    moveSync(this.dataPath(object.bucket, object.name), paths.bytes);
    const byName = this.noncurrent.get(object.bucket)!;
    byName.set(object.name, [...(byName.get(object.name) ?? []), archived]);
    this.sortedVersionNames.delete(object.bucket);
    return archived;
  }

  /** Forgets the live object (its bytes too, unless `archive` already moved them). */
  private removeLive(bucket: string, name: string, removeBytes: boolean): void {
    const target = this.dataPath(bucket, name);
    if (removeBytes) fs.rmSync(target, {force: true});
    fs.rmSync(this.metaPath(bucket, name), {force: true});
    this.removeEmptyParents(path.dirname(target), path.join(this.dataDir, bucket));
    this.bucketObjects(bucket).delete(name);
    this.sortedNames.delete(bucket);
    this.sortedVersionNames.delete(bucket);
  }

  /** 403 `retentionPolicyNotMet` while the object's retention has not expired. */
  private checkNotRetained(object: StoredObject): void {
    const until = retainedUntil(object, this.now());
    if (until === undefined) return;
    throw new StoreError(
      403,
      'retentionPolicyNotMet',
      `Object '${object.bucket}/${object.name}' is subject to bucket's retention policy or object retention and cannot be deleted or overwritten until ${until}`,
    );
  }

  /** A retention as given on upload or patch, checked against the bucket and the clock (400). */
  private validRetention(
    bucket: string,
    given: {mode?: string; retainUntilTime?: string},
    keepMode?: ObjectRetention['mode'],
  ): ObjectRetention {
    const bad = (message: string) => new StoreError(400, 'invalid', message);
    if (!this.getBucket(bucket).objectRetention) {
      throw bad(
        `Object retention cannot be set on objects in bucket '${bucket}': object retention is not enabled on the bucket.`,
      );
    }
    const mode = given.mode ?? keepMode;
    if (mode !== 'Unlocked' && mode !== 'Locked') {
      throw bad(`Invalid value for retention.mode: '${String(given.mode)}' (Unlocked or Locked).`);
    }
    const raw = given.retainUntilTime;
    const until = typeof raw === 'string' && RFC3339.test(raw) ? Date.parse(raw) : NaN;
    if (Number.isNaN(until)) {
      throw bad(`Invalid value for retention.retainUntilTime: '${String(raw)}' (RFC 3339).`);
    }
    const now = this.now().getTime();
    if (until <= now) {
      throw bad(`retention.retainUntilTime ${raw} is in the past; it must be in the future.`);
    }
    if (until > now + MAX_RETENTION_SECONDS * 1000) {
      throw bad(
        `retention.retainUntilTime ${raw} is more than ${MAX_RETENTION_SECONDS} seconds (100 years) ahead.`,
      );
    }
    return {mode, retainUntilTime: new Date(until).toISOString()};
  }

  /**
   * The retention an objects.patch leaves, or 403 for a change the current
   * one forbids: removing or shortening an Unlocked retention or locking it
   * needs `overrideUnlockedRetention`; a Locked one may only be extended.
   */
  private retentionChange(
    object: StoredObject,
    given: {mode?: string; retainUntilTime?: string} | null,
    override = false,
  ): ObjectRetention | undefined {
    const current = object.retention;
    const next =
      given === null ? undefined : this.validRetention(object.bucket, given, current?.mode);
    if (!current) return next;
    const refuse = (what: string, how: string) =>
      new StoreError(
        403,
        'forbidden',
        `Cannot ${what} the ${current.mode} retention of object '${object.bucket}/${object.name}' (retained until ${current.retainUntilTime}): ${how}.`,
      );
    const shorter =
      next !== undefined && Date.parse(next.retainUntilTime) < Date.parse(current.retainUntilTime);
    if (current.mode === 'Locked') {
      const how = 'a Locked retention can only be extended';
      if (!next) throw refuse('remove', how);
      if (next.mode !== 'Locked') throw refuse('unlock', how);
      if (shorter) throw refuse('shorten', how);
      return next;
    }
    if (override) return next;
    const how = 'that needs overrideUnlockedRetention=true';
    if (!next) throw refuse('remove', how);
    if (next.mode === 'Locked') throw refuse('lock', how);
    if (shorter) throw refuse('shorten', how);
    return next;
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

  private sortedWithVersions(bucket: string): string[] {
    let names = this.sortedVersionNames.get(bucket);
    if (!names) {
      const all = new Set([
        ...this.bucketObjects(bucket).keys(),
        ...this.noncurrent.get(bucket)!.keys(),
      ]);
      names = [...all].sort(cmp);
      this.sortedVersionNames.set(bucket, names);
    }
    return names;
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

  /** Noncurrent generations of a bucket; a half-archived one (no bytes or no metadata) is dropped. */
  private async loadVersions(bucket: string): Promise<void> {
    const byName = new Map<string, StoredObject[]>();
    this.noncurrent.set(bucket, byName);
    const root = path.join(this.versionsDir, bucket);
    if (!fs.existsSync(root)) return;
    for (const key of await fs.promises.readdir(root)) {
      const dir = path.join(root, key);
      const files = new Set(await fs.promises.readdir(dir));
      for (const file of files) {
        const base = file.replace(/\.(json|bin)$/, '');
        const meta = `${base}.json`;
        const bytes = `${base}.bin`;
        if (files.has(meta) && files.has(bytes)) {
          if (file !== meta) continue;
          const object = JSON.parse(
            await fs.promises.readFile(path.join(dir, meta), 'utf8'),
          ) as StoredObject;
          byName.set(object.name, [...(byName.get(object.name) ?? []), object]);
          this.lastGeneration = Math.max(this.lastGeneration, Number(object.generation));
        } else {
          await fs.promises.rm(path.join(dir, file), {force: true});
        }
      }
      removeDirIfEmpty(dir);
    }
    for (const list of byName.values())
      list.sort((a, b) => (BigInt(a.generation) < BigInt(b.generation) ? -1 : 1));
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
      await this.loadVersions(bucket.name);
    }
    // Staging files of uploads that never finished before the restart.
    for (const file of await fs.promises.readdir(this.tmpDir)) {
      if (file.endsWith('.part')) await fs.promises.rm(path.join(this.tmpDir, file), {force: true});
    }
  }
}

/** RFC 3339 date-time (what the JSON API takes for a time). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function removeDirIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty (or gone): nothing to do
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
