/**
 * ObjectStore over @google-cloud/storage: streamed writes with generation
 * preconditions (ifGenerationMatch 0 = create only) that GCS itself verifies
 * against a native checksum sent with the bytes, JSON reads.
 */
import {statusOf} from './http-status';
import {createHash} from 'node:crypto';
import type {EventEmitter} from 'node:events';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {Bucket, CreateReadStreamOptions, File, FileMetadata, Storage} from '@google-cloud/storage';
import {PermanentError, PermissionDeniedError, PipelineError, RetryableError} from '../core/errors';
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
import {ResumableSession} from './gcs-session';

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
    return new PermissionDeniedError(`${what}: permission denied: ${message}`);
  if (status === 400 && opts?.retention)
    return new PermanentError(
      `${what}: GCS refused the object retention (${message}); ` +
        'RETENTION_DAYS needs a bucket created with object retention enabled (infra: retention_days)',
    );
  return undefined;
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

/** A body of at most this many bytes goes in one multipart request, with its checksum. */
const MULTIPART_MAX_BYTES = 5 * 1024 * 1024;

/**
 * A larger one goes in a resumable upload, in requests of this many bytes
 * (a multiple of 256 KiB, as Cloud Storage requires of every request but the
 * last); the last carries the rest and the checksum of the whole object. One
 * chunk is sent while the next fills, so a write holds at most two.
 */
const CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * How a write makes GCS verify what it stores: the CRC32C or the MD5 of the
 * bytes handed over, sent with them (GCS computes both for every upload).
 */
export type WriteCheck = 'crc32c' | 'md5';

/** A running checksum of the bytes sent, named by the StoredObject field GCS reports it in. */
interface SentDigest {
  readonly check: WriteCheck;
  readonly field: 'crc32c' | 'md5Hash';
  update(chunk: Buffer): void;
  /** Base64, as GCS reports it. */
  value(): string;
}

function sentDigest(check: WriteCheck): SentDigest {
  if (check === 'md5') {
    const md5 = createHash('md5'); // OpenSSL
    let digest: string | undefined;
    return {
      check,
      field: 'md5Hash',
      update: c => void md5.update(c),
      value: () => (digest ??= md5.digest('base64')),
    };
  }
  const crc32c = loadNativeCrc32c();
  if (!crc32c) throw new Error('native CRC32C (@node-rs/crc32) does not load on this platform');
  let state = 0;
  return {
    check,
    field: 'crc32c',
    update: c => (state = crc32c(c, state)),
    value: () => crc32cBase64(state),
  };
}

/** The label GCS gives the checksum in its messages. */
const LABEL: Record<WriteCheck, string> = {crc32c: 'CRC32C', md5: 'MD5'};

/** GCS's refusal of an upload whose bytes do not match the checksum sent with them. */
function checksumRefused(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return statusOf(err) === 400 && /doesn't match calculated (CRC32C|MD5)/.test(message);
}

/**
 * What a write sets on the object besides its bytes: custom metadata, with
 * the mark of the check when asked (the checksum too where it goes with the
 * metadata, the check alone where the metadata leaves before the bytes are
 * known), and the retention.
 */
function objectMetadata(
  opts: WriteOptions,
  check: WriteCheck,
  checksum: string | undefined,
): FileMetadata {
  const custom = {
    ...opts.metadata,
    ...(opts.markVerified ? {[VERIFIED_KEY]: verifiedMark(check, checksum)} : {}),
  };
  return {
    ...(Object.keys(custom).length > 0 ? {metadata: custom} : {}),
    ...(opts.retention ? {retention: opts.retention} : {}),
  };
}

/** The headers the storage client adds to its own upload requests (its request interceptors). */
function interceptorHeaders(file: File): Record<string, string> {
  type Options = {headers?: Record<string, string>};
  const options = file
    .getRequestInterceptors()
    .reduce((o: Options, fn) => (fn as (o: Options) => Options)(o), {});
  return {...options.headers};
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
   * Streams `body` into a new generation of `name`, which GCS creates only if
   * the bytes it received match the checksum of the bytes handed to it,
   * computed on the way in native code (CRC32C on the CPU's own instructions;
   * MD5 in OpenSSL where that binary does not load): a body of at most
   * MULTIPART_MAX_BYTES in one multipart request with `crc32c`/`md5Hash` in
   * its metadata, a larger one in a resumable upload whose last request
   * carries `X-Goog-Hash`. A body damaged on the way is refused (400) and
   * never becomes an object: a RetryableError, and nothing to clean up (the
   * worker may not delete a recording). With `markVerified` the object is
   * created with the mark of that check in its custom metadata, in the same
   * upload (the worker may not change a recording's metadata either). The
   * result is what GCS stored: size, MD5 and CRC32C.
   */
  async write(name: string, body: Readable | Buffer, opts: WriteOptions): Promise<StoredObject> {
    const digest = sentDigest(this.check);
    const file = this.bucket.file(name);
    const sent = {size: 0};
    let stored: StoredObject;
    try {
      if (Buffer.isBuffer(body) && body.length <= MULTIPART_MAX_BYTES) {
        digest.update(body);
        sent.size = body.length;
        stored = await this.multipart(file, [body], digest, opts);
      } else {
        const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
        stored = await this.chunked(file, source, digest, opts, sent);
      }
    } catch (err) {
      throw this.writeFailure(name, err, digest, sent.size, opts);
    }
    // GCS verified the bytes against this very checksum: a difference here is not a damaged upload.
    if (stored.size !== sent.size || stored[digest.field] !== digest.value()) {
      const label = LABEL[digest.check];
      throw new PermanentError(
        `gs://${this.bucket.name}/${name} (generation ${stored.generation}) holds ${stored.size} ` +
          `bytes with ${label} ${stored[digest.field]}, though ${sent.size} bytes with ${label} ` +
          `${digest.value()} were sent and GCS verified them; it was left untouched: compare it ` +
          'with its source, and have an administrator remove it before a replay if it differs',
        {object: name, generation: stored.generation},
      );
    }
    return stored;
  }

  /**
   * A body read once, checksummed as it is read: up to MULTIPART_MAX_BYTES it
   * goes as one multipart request; beyond, in a resumable upload in chunks of
   * CHUNK_BYTES, each sent while the next fills, the last with the checksum.
   */
  private async chunked(
    file: File,
    source: Readable,
    digest: SentDigest,
    opts: WriteOptions,
    sent: {size: number},
  ): Promise<StoredObject> {
    // A chunk is the pieces as they came, never copied into one buffer.
    let pieces: Buffer[] = [];
    let filled = 0;
    const take = (): Buffer[] => {
      const out = pieces;
      pieces = [];
      filled = 0;
      return out;
    };
    let session: ResumableSession | undefined;
    let offset = 0; // bytes handed to the session
    let full: Buffer[] | undefined; // a whole chunk not yet known not to be the last
    let sending: Promise<void> = Promise.resolve();
    for await (const piece of source) {
      const bytes = piece as Buffer;
      digest.update(bytes);
      sent.size += bytes.length;
      for (let at = 0; at < bytes.length;) {
        if (full) {
          // More bytes follow that chunk: it goes, once the one before it has.
          session ??= await this.openSession(file, opts, digest.check);
          await sending;
          sending = session.append(full, offset);
          sending.catch(() => undefined); // awaited before the next chunk or the last
          offset += CHUNK_BYTES;
          full = undefined;
        }
        const n = Math.min(CHUNK_BYTES - filled, bytes.length - at);
        pieces.push(bytes.subarray(at, at + n));
        filled += n;
        at += n;
        if (filled === CHUNK_BYTES) full = take();
      }
      if (!session && sent.size > MULTIPART_MAX_BYTES) {
        session = await this.openSession(file, opts, digest.check);
      }
    }
    const last = full ?? take();
    if (!session) return this.multipart(file, last, digest, opts);
    await sending;
    const resource = await session.finish(last, offset, `${digest.check}=${digest.value()}`);
    return toStored(file.name, resource);
  }

  /** One multipart request: the metadata, with the checksum of `bytes` (already taken), and `bytes`. */
  private async multipart(
    file: File,
    bytes: readonly Buffer[],
    digest: SentDigest,
    opts: WriteOptions,
  ): Promise<StoredObject> {
    const metadata: FileMetadata = {
      ...objectMetadata(opts, digest.check, digest.value()),
      [digest.field]: digest.value(),
    };
    await pipeline(
      Readable.from(bytes),
      file.createWriteStream({
        resumable: false,
        contentType: opts.contentType,
        metadata,
        preconditionOpts: {ifGenerationMatch: Number(opts.ifGenerationMatch)},
        validation: false,
      }),
    );
    // The object resource the upload answered with: this generation, as GCS stored it.
    return toStored(file.name, file.metadata);
  }

  /**
   * Opens a resumable session with the object's metadata and precondition
   * (checked again when the upload completes). Its metadata leaves before
   * the bytes, so a verified mark names the check alone.
   */
  private async openSession(
    file: File,
    opts: WriteOptions,
    check: WriteCheck,
  ): Promise<ResumableSession> {
    const [uri] = await file.createResumableUpload({
      metadata: {contentType: opts.contentType, ...objectMetadata(opts, check, undefined)},
      preconditionOpts: {ifGenerationMatch: Number(opts.ifGenerationMatch)},
    });
    return new ResumableSession(uri, interceptorHeaders(file));
  }

  /** The error a failed write rejects with. */
  private writeFailure(
    name: string,
    err: unknown,
    digest: SentDigest,
    size: number,
    opts: WriteOptions,
  ): Error {
    const object = `gs://${this.bucket.name}/${name}`;
    if (statusOf(err) === 412) return new ObjectExistsError(`${object} already exists`);
    // The body's own failure (a stalled or cut download) is the story, not the upload it aborted.
    if (err instanceof PipelineError) return err;
    if (checksumRefused(err)) {
      return new RetryableError(
        `GCS refused ${object}: the bytes it received do not match the ${LABEL[digest.check]} ` +
          `${digest.value()} of the ${size} bytes sent (damaged on the way); nothing was stored`,
        {object: name},
        {cause: err},
      );
    }
    return (
      retentionRefusal(err, `could not write ${object}`, opts) ??
      new RetryableError(`could not write ${object}`, {object: name}, {cause: err})
    );
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
    const read = await this.readBytes(name, maxBytes, wanted);
    if (!read) return undefined;
    try {
      return {value: JSON.parse(read.bytes.toString('utf8')) as T, generation: read.generation};
    } catch {
      throw new PermanentError(`gs://${this.bucket.name}/${name} is not JSON`);
    }
  }

  async readBytes(
    name: string,
    maxBytes: number,
    wanted?: string,
  ): Promise<{bytes: Buffer; generation: string} | undefined> {
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
    return {bytes: content, generation};
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
