/**
 * Verified writes to Cloud Storage: the bytes handed over are checksummed on
 * the way (CRC32C in native code, or MD5), and sent with that checksum, which
 * GCS checks before it creates the object: a small body in one multipart
 * request, a larger one in a resumable upload (gcs-session.ts) whose last
 * request carries it. Also the error a failed write rejects with.
 */
import {createHash} from 'node:crypto';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import type {File, FileMetadata} from '@google-cloud/storage';
import {PipelineError, RetryableError} from '../core/errors';
import {ObjectExistsError, StoredObject, VERIFIED_KEY, WriteOptions, verifiedMark} from '../ports';
import {crc32cBase64, loadNativeCrc32c} from '../checksums';
import {checksumRefused, storeFailure, toStored} from './gcs-answers';
import {ResumableSession} from './gcs-session';
import {statusOf} from './http-status';

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
export interface SentDigest {
  readonly check: WriteCheck;
  readonly field: 'crc32c' | 'md5Hash';
  update(chunk: Buffer): void;
  /** Base64, as GCS reports it. */
  value(): string;
}

export function sentDigest(check: WriteCheck): SentDigest {
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
export const LABEL: Record<WriteCheck, string> = {crc32c: 'CRC32C', md5: 'MD5'};

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

/**
 * Streams `body` into a new generation of `file` with `digest` taken on the
 * way; `sent.size` counts the bytes handed over (also when it fails). The
 * result is the object resource GCS answered with.
 */
export async function upload(
  file: File,
  body: Readable | Buffer,
  digest: SentDigest,
  opts: WriteOptions,
  sent: {size: number},
): Promise<StoredObject> {
  if (Buffer.isBuffer(body) && body.length <= MULTIPART_MAX_BYTES) {
    digest.update(body);
    sent.size = body.length;
    return multipart(file, [body], digest, opts);
  }
  const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
  return chunked(file, source, digest, opts, sent);
}

/**
 * A body read once, checksummed as it is read: up to MULTIPART_MAX_BYTES it
 * goes as one multipart request; beyond, in a resumable upload in chunks of
 * CHUNK_BYTES, each sent while the next fills, the last with the checksum.
 */
async function chunked(
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
        session ??= await openSession(file, opts, digest.check);
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
      session = await openSession(file, opts, digest.check);
    }
  }
  const last = full ?? take();
  if (!session) return multipart(file, last, digest, opts);
  await sending;
  const resource = await session.finish(last, offset, `${digest.check}=${digest.value()}`);
  return toStored(file.name, resource);
}

/** One multipart request: the metadata, with the checksum of `bytes` (already taken), and `bytes`. */
async function multipart(
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
async function openSession(
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
export function writeFailure(
  bucket: string,
  name: string,
  err: unknown,
  digest: SentDigest,
  size: number,
  opts: WriteOptions,
): Error {
  const object = `gs://${bucket}/${name}`;
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
  return storeFailure(err, `could not write ${object}`, {object: name}, opts);
}
