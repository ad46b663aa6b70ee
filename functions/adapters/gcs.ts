/**
 * ObjectStore over @google-cloud/storage: streamed writes with generation
 * preconditions (ifGenerationMatch 0 = create only), verified by a native
 * checksum and their size against what GCS stored, JSON reads.
 */
import {createHash} from 'node:crypto';
import type {EventEmitter} from 'node:events';
import {Readable, Transform} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {Bucket, CreateReadStreamOptions, File, Storage} from '@google-cloud/storage';
import {PermanentError, PipelineError, RetryableError} from '../core/errors';
import {
  MAX_JSON_BYTES,
  ObjectExistsError,
  ObjectRetention,
  ObjectStore,
  StoredObject,
  VERIFIED_KEY,
  WriteOptions,
  verifiedMark,
} from '../ports';
import {readAll} from '../streams';
import {crc32cBase64, loadNativeCrc32c} from '../checksums';

/** The JSON API's error reason (`errors[0].reason`), when the client kept it. */
function reasonOf(err: unknown): string | undefined {
  const e = err as {errors?: Array<{reason?: unknown}>};
  const reason = Array.isArray(e.errors) ? e.errors[0]?.reason : undefined;
  return typeof reason === 'string' ? reason : undefined;
}

/**
 * A refusal no retry changes: GCS' 403 `retentionPolicyNotMet` (the object is
 * retained and cannot be replaced or deleted before its retention ends), a
 * retention the bucket does not allow (400: object retention not enabled on
 * the bucket, or a retain-until time it refuses), or a permission the
 * function's identity does not hold (401/403: GCS' message names the
 * identity and the permission, e.g. `storage.objects.list`, which an
 * operator grants in infra/).
 */
function retentionRefusal(
  err: unknown,
  what: string,
  opts?: WriteOptions,
): PermanentError | undefined {
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (status === 403 && reasonOf(err) === 'retentionPolicyNotMet')
    return new PermanentError(
      `${what}: the object is retained and cannot be replaced or deleted yet (${message})`,
    );
  if (status === 401 || status === 403)
    return new PermanentError(`${what}: permission denied: ${message}`);
  if (status === 400 && opts?.retention)
    return new PermanentError(
      `${what}: GCS refused the object retention (${message}); ` +
        'RETENTION_DAYS needs a bucket created with object retention enabled (infra: retention_days)',
    );
  return undefined;
}

function statusOf(err: unknown): number | undefined {
  const e = err as {code?: unknown; status?: unknown; response?: {status?: number}};
  if (typeof e.code === 'number') return e.code;
  if (typeof e.status === 'number') return e.status;
  return e.response?.status;
}

/**
 * A streamed download's HTTP response body (which @google-cloud/storage also
 * hands out as the `response`) legitimately carries 11 'error' and 'close'
 * listeners: node-fetch 3's own pipeline, teeny-request's forwarding and its
 * pipe into the request stream, and storage's pipe into the stream we read.
 * The default limit of 10 makes every download of a body that is still
 * arriving warn "MaxListenersExceededWarning … 11 error listeners added to
 * [PassThrough]", although nothing leaks (the stream lives for one request).
 * Upstream: https://github.com/googleapis/google-cloud-node/issues/9185 (fix
 * proposed in https://github.com/googleapis/google-cloud-node/pull/9254).
 * Until it ships, raise the limit of exactly that short-lived emitter, and
 * nothing else, as soon as the response arrives (before those pipes).
 */
const RESPONSE_BODY_MAX_LISTENERS = 20;

function download(file: File, options?: CreateReadStreamOptions): Readable {
  return file.createReadStream(options).on('response', (res: unknown) => {
    const body = res as Partial<EventEmitter>;
    if (typeof body.setMaxListeners === 'function' && typeof body.getMaxListeners === 'function')
      body.setMaxListeners(Math.max(body.getMaxListeners(), RESPONSE_BODY_MAX_LISTENERS));
  });
}

/** Objects below this size go in one multipart request. */
const RESUMABLE_THRESHOLD_BYTES = 5 * 1024 * 1024;

/**
 * A streamed body reaches the storage client in chunks of at least this size.
 * The client's upload path costs CPU per chunk, and a fetch body comes in
 * chunks of 64 KiB (bench/copy.ts).
 */
const UPLOAD_CHUNK_BYTES = 1024 * 1024;

/**
 * How a write proves that GCS stored what was sent, next to the size: the
 * CRC32C or the MD5 of the bytes handed to the client, held against the one GCS
 * computed over what it stored (GCS computes both for every upload).
 */
export type WriteCheck = 'crc32c' | 'md5';

/** A running checksum of the bytes sent, named by the StoredObject field it is compared with. */
interface SentDigest {
  readonly field: 'crc32c' | 'md5Hash';
  update(chunk: Buffer): void;
  /** Base64, as GCS reports it. */
  value(): string;
}

function sentDigest(check: WriteCheck): SentDigest {
  if (check === 'md5') {
    const md5 = createHash('md5'); // OpenSSL
    return {field: 'md5Hash', update: c => void md5.update(c), value: () => md5.digest('base64')};
  }
  const crc32c = loadNativeCrc32c();
  if (!crc32c) throw new Error('native CRC32C (@node-rs/crc32) does not load on this platform');
  let state = 0;
  return {
    field: 'crc32c',
    update: c => (state = crc32c(c, state)),
    value: () => crc32cBase64(state),
  };
}

export class GcsStore implements ObjectStore {
  private readonly bucket: Bucket;
  private chosenCheck: WriteCheck | undefined;

  /**
   * The client sends its Application Default Credentials to any endpoint,
   * a custom one included (by default it sends none there): in production
   * the endpoint is Cloud Storage's; on the local stack the emulator
   * authorizes each call as Cloud Storage does.
   */
  constructor(
    bucketName: string,
    storage: Storage = new Storage({useAuthWithCustomEndpoint: true}),
    opts: {check?: WriteCheck} = {},
  ) {
    this.bucket = storage.bucket(bucketName);
    this.chosenCheck = opts.check;
  }

  /**
   * The checksum writes are verified with: native CRC32C where its binary
   * loads, else MD5. Settled on first use (a process that never writes never
   * loads the binary).
   */
  get check(): WriteCheck {
    return (this.chosenCheck ??= loadNativeCrc32c() ? 'crc32c' : 'md5');
  }

  async stat(name: string): Promise<StoredObject | undefined> {
    try {
      const [md] = await this.bucket.file(name).getMetadata();
      return toStored(name, md);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw new RetryableError(
        `could not read metadata of gs://${this.bucket.name}/${name}`,
        {object: name},
        {cause: err},
      );
    }
  }

  /**
   * Streams `body` into a new generation of `name` and proves that GCS stored
   * exactly what was sent, where that is cheapest: a checksum of the bytes
   * handed to the client, computed in native code (CRC32C on the CPU's own
   * instructions; MD5 in OpenSSL where that binary does not load), and their
   * count, held against the checksum and size GCS computed over what it
   * stored, from the upload's own response. The client's validation is off:
   * it computes CRC32C in JavaScript, at about 85 MiB/s, slower than the copy.
   * A mismatch deletes the generation it wrote (so nothing ever counts it,
   * not even a later attempt that finds it stored) and is a RetryableError
   * "checksum mismatch". The result is what GCS stored: size, MD5 and CRC32C.
   */
  async write(name: string, body: Readable | Buffer, opts: WriteOptions): Promise<StoredObject> {
    const check = this.check;
    const digest = sentDigest(check);
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const take = (): Buffer => {
      const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      return out;
    };
    const hasher = new Transform({
      transform(chunk: Buffer, _e, done) {
        digest.update(chunk);
        size += chunk.length;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= UPLOAD_CHUNK_BYTES) done(null, take());
        else done();
      },
      flush(done) {
        done(null, pendingBytes > 0 ? take() : undefined);
      },
    });
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    // The body's own failure (a stalled or cut download) is the story, not the upload it aborted.
    let sourceError: unknown;
    source.once('error', err => (sourceError ??= err));
    const file = this.bucket.file(name);
    const resumable = !Buffer.isBuffer(body) || body.length > RESUMABLE_THRESHOLD_BYTES;
    const metadata =
      opts.metadata || opts.retention
        ? {
            ...(opts.metadata ? {metadata: opts.metadata} : {}),
            ...(opts.retention ? {retention: opts.retention} : {}),
          }
        : undefined;
    const preconditionOpts = {ifGenerationMatch: Number(opts.ifGenerationMatch)};
    try {
      // A resumable upload's session is opened first, with createResumableUpload:
      // createWriteStream alone does not send credentials to a custom endpoint
      // (@google-cloud/storage 8 does not pass useAuthWithCustomEndpoint on to
      // the session it opens), so against the local stack's emulator its
      // session would start anonymous. Same requests either way; the session
      // URI is what authorizes the bytes that follow, in Cloud Storage too.
      const uri = resumable
        ? (
            await file.createResumableUpload({
              metadata: {...metadata, contentType: opts.contentType},
              preconditionOpts,
            })
          )[0]
        : undefined;
      await pipeline(
        source,
        hasher,
        file.createWriteStream({
          resumable,
          ...(uri ? {uri} : {}),
          contentType: opts.contentType,
          metadata,
          preconditionOpts,
          validation: false,
        }),
      );
    } catch (err) {
      if (statusOf(err) === 412)
        throw new ObjectExistsError(`gs://${this.bucket.name}/${name} already exists`);
      if (sourceError instanceof PipelineError) throw sourceError;
      const refusal = retentionRefusal(
        err,
        `could not write gs://${this.bucket.name}/${name}`,
        opts,
      );
      if (refusal) throw refusal;
      throw new RetryableError(
        `could not write gs://${this.bucket.name}/${name}`,
        {object: name},
        {cause: err},
      );
    }
    // The object resource the upload answered with: this generation, as GCS stored it.
    const stored = toStored(name, file.metadata);
    const sent = {size, checksum: digest.value()};
    if (stored.size !== sent.size || stored[digest.field] !== sent.checksum) {
      const deleted =
        /^\d+$/.test(stored.generation) &&
        (await this.delete(name, stored.generation).catch(() => false));
      const label = digest.field === 'crc32c' ? 'CRC32C' : 'MD5';
      throw new RetryableError(
        `checksum mismatch after writing gs://${this.bucket.name}/${name}: ` +
          `${sent.size} bytes sent (${label} ${sent.checksum}), ` +
          `GCS stored ${stored.size} (${label} ${stored[digest.field]}); ` +
          (deleted ? 'that generation was deleted' : 'deleting that generation failed'),
        {object: name, generation: stored.generation},
      );
    }
    if (!opts.markVerified) return stored;
    try {
      // Only this generation: a later one was never checked by this write.
      await file.setMetadata(
        {metadata: {[VERIFIED_KEY]: verifiedMark(check, sent.checksum)}},
        {ifGenerationMatch: Number(stored.generation)},
      );
    } catch (err) {
      throw new RetryableError(
        `could not mark gs://${this.bucket.name}/${name} as checked`,
        {object: name},
        {cause: err},
      );
    }
    return toStored(name, file.metadata);
  }

  /**
   * The object's JSON and the generation it belongs to, from one request:
   * the generation comes from the download's own `x-goog-generation` header,
   * so a compare-and-swap on it never acts on content it did not see.
   */
  async readJson<T>(
    name: string,
    maxBytes = MAX_JSON_BYTES,
    wanted?: string,
  ): Promise<{value: T; generation: string} | undefined> {
    let generation: string | undefined;
    let content: Buffer;
    if (wanted !== undefined && !/^\d+$/.test(wanted))
      throw new PermanentError(
        `"${wanted}" is not a generation of gs://${this.bucket.name}/${name}`,
      );
    const file = this.bucket.file(name, wanted === undefined ? {} : {generation: Number(wanted)});
    const stream = download(file).on(
      'response',
      (res: {headers?: Record<string, string | string[] | undefined>}) => {
        const g = res.headers?.['x-goog-generation'];
        generation = Array.isArray(g) ? g[0] : g;
      },
    );
    try {
      content = await readAll(stream, maxBytes, `gs://${this.bucket.name}/${name}`);
    } catch (err) {
      stream.destroy();
      if (err instanceof PermanentError) throw err; // too large: refused, not read whole
      if (statusOf(err) === 404) return undefined;
      const refusal = retentionRefusal(err, `could not read gs://${this.bucket.name}/${name}`);
      if (refusal) throw refusal;
      throw new RetryableError(
        `could not read gs://${this.bucket.name}/${name}`,
        {object: name},
        {cause: err},
      );
    }
    if (!generation || !/^\d+$/.test(generation)) {
      throw new RetryableError(`gs://${this.bucket.name}/${name} came without its generation`, {
        object: name,
      });
    }
    try {
      return {value: JSON.parse(content.toString('utf8')) as T, generation};
    } catch {
      throw new PermanentError(`gs://${this.bucket.name}/${name} is not JSON`);
    }
  }

  read(name: string): Readable {
    return download(this.bucket.file(name), {validation: false});
  }

  async list(prefix: string, opts: {versions?: boolean} = {}): Promise<StoredObject[]> {
    try {
      const [files] = await this.bucket.getFiles({
        prefix,
        autoPaginate: true,
        ...(opts.versions ? {versions: true} : {}),
      });
      return files.map(f => toStored(f.name, f.metadata));
    } catch (err) {
      const refusal = retentionRefusal(err, `could not list gs://${this.bucket.name}/${prefix}`);
      if (refusal) throw refusal;
      throw new RetryableError(
        `could not list gs://${this.bucket.name}/${prefix}`,
        {prefix},
        {cause: err},
      );
    }
  }

  async delete(name: string, generation: string): Promise<boolean> {
    try {
      await this.bucket.file(name).delete({ifGenerationMatch: Number(generation)});
      return true;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return false;
      if (status === 412)
        throw new ObjectExistsError(`gs://${this.bucket.name}/${name} changed before deletion`);
      const refusal = retentionRefusal(
        err,
        `could not delete gs://${this.bucket.name}/${name}`,
        undefined,
      );
      if (refusal) throw refusal;
      throw new RetryableError(
        `could not delete gs://${this.bucket.name}/${name}`,
        {object: name},
        {cause: err},
      );
    }
  }
}

function toStored(
  name: string,
  md: {
    size?: string | number;
    md5Hash?: string;
    crc32c?: string;
    generation?: string | number;
    contentType?: string;
    metadata?: Record<string, unknown>;
    retention?: {mode?: string; retainUntilTime?: string} | null;
    timeDeleted?: string;
  },
): StoredObject {
  const r = md.retention;
  const retention: ObjectRetention | undefined =
    r && (r.mode === 'Unlocked' || r.mode === 'Locked') && typeof r.retainUntilTime === 'string'
      ? {mode: r.mode, retainUntilTime: r.retainUntilTime}
      : undefined;
  const custom = Object.entries(md.metadata ?? {}).filter(
    (e): e is [string, string] => typeof e[1] === 'string',
  );
  return {
    name,
    size: Number(md.size),
    md5Hash: String(md.md5Hash),
    crc32c: String(md.crc32c),
    generation: String(md.generation),
    contentType: md.contentType,
    ...(custom.length > 0 ? {metadata: Object.fromEntries(custom)} : {}),
    ...(retention ? {retention} : {}),
    ...(typeof md.timeDeleted === 'string' ? {timeDeleted: md.timeDeleted} : {}),
  };
}
