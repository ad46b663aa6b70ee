/**
 * ObjectStore over @google-cloud/storage: streamed writes with generation
 * preconditions (ifGenerationMatch 0 = create only), verified by their MD5
 * and size against what GCS stored, JSON reads.
 */
import {createHash} from 'node:crypto';
import type {EventEmitter} from 'node:events';
import {Readable, Transform} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {Bucket, CreateReadStreamOptions, File, Storage} from '@google-cloud/storage';
import {PermanentError, PipelineError, RetryableError} from '../core/errors';
import {MAX_JSON_BYTES, ObjectExistsError, ObjectStore, StoredObject, WriteOptions} from '../ports';
import {readAll} from '../streams';

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

export class GcsStore implements ObjectStore {
  private readonly bucket: Bucket;

  constructor(bucketName: string, storage: Storage = new Storage()) {
    this.bucket = storage.bucket(bucketName);
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
   * exactly what was sent. Integrity is checked where it is cheapest: MD5 of
   * the bytes handed to the client, in OpenSSL (node:crypto), held against the
   * MD5 and size GCS computed over what it stored (GCS computes both MD5 and
   * CRC32C of every upload itself). The client's own validation is off: it
   * would compute CRC32C in JavaScript on every byte, several times slower than
   * the copy. A mismatch deletes the generation it wrote (so nothing ever
   * counts it, not even a later attempt that finds it stored) and is a
   * RetryableError "checksum mismatch". The result is what GCS stored: size,
   * MD5 and CRC32C from the upload's own response.
   */
  async write(name: string, body: Readable | Buffer, opts: WriteOptions): Promise<StoredObject> {
    const md5 = createHash('md5');
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _e, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    // The body's own failure (a stalled or cut download) is the story, not the upload it aborted.
    let sourceError: unknown;
    source.once('error', err => (sourceError ??= err));
    const file = this.bucket.file(name);
    const resumable = !Buffer.isBuffer(body) || body.length > RESUMABLE_THRESHOLD_BYTES;
    try {
      await pipeline(
        source,
        hasher,
        file.createWriteStream({
          resumable,
          contentType: opts.contentType,
          metadata: opts.metadata ? {metadata: opts.metadata} : undefined,
          preconditionOpts: {ifGenerationMatch: Number(opts.ifGenerationMatch)},
          validation: false,
        }),
      );
    } catch (err) {
      if (statusOf(err) === 412)
        throw new ObjectExistsError(`gs://${this.bucket.name}/${name} already exists`);
      if (sourceError instanceof PipelineError) throw sourceError;
      throw new RetryableError(
        `could not write gs://${this.bucket.name}/${name}`,
        {object: name},
        {cause: err},
      );
    }
    // The object resource the upload answered with: this generation, as GCS stored it.
    const stored = toStored(name, file.metadata);
    const sent = {size, md5Hash: md5.digest('base64')};
    if (stored.size !== sent.size || stored.md5Hash !== sent.md5Hash) {
      const deleted =
        /^\d+$/.test(stored.generation) &&
        (await this.delete(name, stored.generation).catch(() => false));
      throw new RetryableError(
        `checksum mismatch after writing gs://${this.bucket.name}/${name}: ` +
          `${sent.size} bytes sent (MD5 ${sent.md5Hash}), ` +
          `GCS stored ${stored.size} (MD5 ${stored.md5Hash}); ` +
          (deleted ? 'that generation was deleted' : 'deleting that generation failed'),
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
  ): Promise<{value: T; generation: string} | undefined> {
    let generation: string | undefined;
    let content: Buffer;
    const stream = download(this.bucket.file(name)).on(
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

  async list(prefix: string): Promise<StoredObject[]> {
    try {
      const [files] = await this.bucket.getFiles({prefix, autoPaginate: true});
      return files.map(f => toStored(f.name, f.metadata));
    } catch (err) {
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
  },
): StoredObject {
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
  };
}
