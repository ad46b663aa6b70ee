/**
 * ObjectStore over @google-cloud/storage: streamed writes with generation
 * preconditions (ifGenerationMatch 0 = create only) that GCS itself verifies
 * against a native checksum sent with the bytes (gcs-upload.ts), JSON and
 * byte reads that carry the generation they read, listings and
 * generation-checked deletes; GCS' answers mapped in gcs-answers.ts.
 */
import {statusOf} from './http-status';
import type {EventEmitter} from 'node:events';
import type {Readable} from 'node:stream';
import {Bucket, CreateReadStreamOptions, File, Storage} from '@google-cloud/storage';
import {PermanentError, RetryableError} from '../core/errors';
import {MAX_JSON_BYTES, ObjectExistsError, ObjectStore, StoredObject, WriteOptions} from '../ports';
import {readAll} from '../streams';
import {loadNativeCrc32c} from '../checksums';
import {storeFailure, toStored} from './gcs-answers';
import {LABEL, WriteCheck, sentDigest, upload, writeFailure} from './gcs-upload';

export type {WriteCheck} from './gcs-upload';

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
      stored = await upload(file, body, digest, opts, sent);
    } catch (err) {
      throw writeFailure(this.bucket.name, name, err, digest, sent.size, opts);
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
      throw storeFailure(err, `could not read gs://${this.bucket.name}/${name}`, {object: name});
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
      throw storeFailure(err, `could not list gs://${this.bucket.name}/${prefix}`, {prefix});
    }
  }

  async *listPages(prefix: string, pageSize = 1000): AsyncGenerator<StoredObject[]> {
    let pageToken: string | undefined;
    do {
      let files: File[];
      let next: {pageToken?: string} | null | undefined;
      try {
        [files, next] = await this.bucket.getFiles({
          prefix,
          autoPaginate: false,
          maxResults: pageSize,
          ...(pageToken ? {pageToken} : {}),
        });
      } catch (err) {
        throw storeFailure(err, `could not list gs://${this.bucket.name}/${prefix}`, {prefix});
      }
      yield files.map(f => toStored(f.name, f.metadata));
      pageToken = next?.pageToken;
    } while (pageToken);
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
      throw storeFailure(err, `could not delete gs://${this.bucket.name}/${name}`, {object: name});
    }
  }
}
