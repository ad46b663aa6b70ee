/**
 * Resumable upload sessions, as the JSON API defines them: a POST opens a
 * session, PUTs carry the bytes (in one request or in chunks, each announced
 * with `Content-Range`), a chunk that does not finish the object is answered
 * with 308 and the persisted `Range`, and `Content-Range: bytes *\/N` asks for
 * the status. Sessions and their bytes live on disk under META/uploads, so an
 * upload survives a restart of the emulator.
 *
 * As in Cloud Storage, an upload is finalized only by a request that ends
 * normally and completes it: one that states the total size, or an
 * open-ended one (`bytes X-*\/*`, or no `Content-Range`) whose body ends. A
 * request cut off mid-body (the client killed, the connection dropped) never
 * finalizes anything: its bytes are kept and the session stays open for a
 * status query and a resume.
 *
 * The request that completes the upload is checked against the checksums the
 * client gave (`crc32c`/`md5Hash` in the session's metadata, or `X-Goog-Hash`
 * on that request, which covers the whole object): a mismatch is refused with
 * 400 and creates nothing, and, as in Cloud Storage, it ends the session: its
 * bytes are dropped and every later request to it is answered 410 Gone, so a
 * client starts the upload again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {SessionFiles} from './session-files';
import {randomBytes} from 'node:crypto';
import type {IncomingMessage} from 'node:http';
import {pipeline} from 'node:stream/promises';
import {Transform} from 'node:stream';
import {FileStore, ObjectProps, Preconditions, StoreError, StoredObject} from './store';
import {Checksums, HashingStream, SkipBytes, parseGoogHash} from './streams';
import {fsyncFile, verifyHashes} from './integrity';

interface SessionState {
  id: string;
  bucket: string;
  name: string;
  props: ObjectProps;
  pre: Preconditions;
  declaredSize?: number;
  expected: {md5?: string; crc32c?: string};
  received: number;
  object?: StoredObject;
  /** Why the session ended without an object (a refused finalization); it answers 410 since. */
  terminated?: string;
}

export type PutResult =
  {kind: 'incomplete'; received: number} | {kind: 'complete'; object: StoredObject};

interface ContentRange {
  /** First byte of this request's body, or undefined for a status query. */
  start?: number;
  /** Last byte (inclusive) if stated. */
  end?: number;
  /** Total object size if known. */
  total?: number;
}

/** Parses `Content-Range` of a resumable PUT; absent means "the whole object". */
export function parseContentRange(header: string | undefined): ContentRange | 'invalid' {
  if (header === undefined) return {start: 0};
  const m = /^bytes (?:(\*)|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(header.trim());
  if (!m) return 'invalid';
  const total = m[4] === '*' ? undefined : Number(m[4]);
  if (m[1] === '*') return {total};
  const start = Number(m[2]);
  const end = m[3] === '*' ? undefined : Number(m[3]);
  if (end !== undefined && end < start) return 'invalid';
  return {start, end, total};
}

export class ResumableUploads {
  private readonly sessions = new Map<string, SessionState>();
  /** Running checksums while chunks arrive in order; rebuilt from disk otherwise. */
  private readonly sums = new Map<string, Checksums>();
  private readonly busy = new Set<string>();
  private readonly files: SessionFiles<SessionState>;
  private loaded = false;

  constructor(private readonly store: FileStore) {
    this.files = new SessionFiles(path.join(store.metaDir, 'uploads'));
  }

  async create(init: Omit<SessionState, 'id' | 'received'>): Promise<SessionState> {
    await this.load();
    if (
      init.declaredSize !== undefined &&
      (!Number.isInteger(init.declaredSize) || init.declaredSize < 0)
    ) {
      throw new StoreError(
        400,
        'invalid',
        'X-Upload-Content-Length must be a non-negative integer.',
      );
    }
    const session: SessionState = {...init, id: randomBytes(16).toString('hex'), received: 0};
    await fs.promises.writeFile(this.files.partPath(session.id), '');
    this.sums.set(session.id, new Checksums());
    await this.files.save(session.id, session);
    this.sessions.set(session.id, session);
    return session;
  }

  async cancel(id: string): Promise<void> {
    await this.load();
    this.get(id);
    this.sessions.delete(id);
    this.sums.delete(id);
    await fs.promises.rm(this.files.partPath(id), {force: true});
    await fs.promises.rm(this.files.statePath(id), {force: true});
  }

  async put(id: string, req: IncomingMessage): Promise<PutResult> {
    await this.load();
    let session: SessionState;
    try {
      session = this.get(id);
    } catch (err) {
      req.resume(); // an unknown or ended session reads nothing of the body
      throw err;
    }
    if (this.busy.has(id)) {
      req.resume();
      throw new StoreError(409, 'conflict', 'Another request is writing to this upload session.');
    }
    this.busy.add(id);
    try {
      return await this.putLocked(session, req);
    } finally {
      this.busy.delete(id);
    }
  }

  private async putLocked(session: SessionState, req: IncomingMessage): Promise<PutResult> {
    if (session.object) {
      req.resume();
      return {kind: 'complete', object: session.object};
    }
    const range = parseContentRange(req.headers['content-range'] as string | undefined);
    if (range === 'invalid') {
      req.resume();
      throw new StoreError(
        400,
        'invalid',
        `Invalid Content-Range header: ${req.headers['content-range']}`,
      );
    }
    const total = range.total ?? session.declaredSize;
    if (range.start === undefined) {
      // Status query ("bytes */N" or "bytes */*").
      req.resume();
      if (total !== undefined && total === session.received) return this.finish(session, req);
      return {kind: 'incomplete', received: session.received};
    }
    if (range.start > session.received) {
      req.resume();
      throw new StoreError(
        400,
        'invalid',
        `Invalid request. According to the Content-Range header, the upload offset is ${range.start} byte(s), ` +
          `which exceeds already uploaded size of ${session.received} byte(s).`,
      );
    }
    const whole = await this.append(session, req, session.received - range.start);
    if (!whole) {
      // The connection dropped (client killed, network cut): keep what
      // arrived and leave the session open, whatever the request announced.
      // Only a request that ends normally may finalize an upload; above all
      // an open-ended one (`bytes X-*/*`), whose end is the object's end.
      return {kind: 'incomplete', received: session.received};
    }
    if (range.end !== undefined && session.received < range.end + 1) {
      // The request ended before the bytes it announced: keep what arrived.
      return {kind: 'incomplete', received: session.received};
    }
    const isLast = total !== undefined ? session.received >= total : range.end === undefined;
    if (!isLast) return {kind: 'incomplete', received: session.received};
    if (total !== undefined && session.received !== total) {
      throw new StoreError(
        400,
        'invalid',
        `Upload declared ${total} bytes but ${session.received} bytes were received.`,
      );
    }
    return this.finish(session, req);
  }

  /**
   * Appends the request body to the session's bytes. True when the body
   * arrived whole; false when the request was cut off (what arrived is kept).
   */
  private async append(
    session: SessionState,
    req: IncomingMessage,
    skip: number,
  ): Promise<boolean> {
    const part = this.files.partPath(session.id);
    const running = skip === 0 ? this.sums.get(session.id) : undefined;
    if (!running) this.sums.delete(session.id);
    const hashing: Transform = running ? new HashingStream(running) : new SkipBytes(0);
    let whole = true;
    try {
      await pipeline(req, new SkipBytes(skip), hashing, fs.createWriteStream(part, {flags: 'a'}));
    } catch {
      // Whatever reached the file is kept; the running checksums may be off.
      this.sums.delete(session.id);
      whole = false;
    }
    session.received = (await fs.promises.stat(part)).size;
    await this.files.save(session.id, session);
    return whole && req.complete;
  }

  private async finish(session: SessionState, req: IncomingMessage): Promise<PutResult> {
    const part = this.files.partPath(session.id);
    let sums = this.sums.get(session.id);
    if (!sums || sums.size !== session.received) sums = await checksumFile(part);
    const digests = sums.digests();
    try {
      verifyHashes({...session.expected, ...parseGoogHash(req.headers['x-goog-hash'])}, digests);
    } catch (err) {
      await this.terminate(session, (err as Error).message);
      throw err;
    }
    await fsyncFile(part);
    try {
      session.object = this.store.commit(
        session.bucket,
        session.name,
        {tmpPath: part, size: session.received, ...digests},
        session.props,
        session.pre,
      );
    } catch (err) {
      // A failed finalisation (412 and the like) ends the session.
      await this.cancel(session.id);
      throw err;
    }
    this.sums.delete(session.id);
    // Kept in memory so a status query still answers with the object.
    await fs.promises.rm(this.files.statePath(session.id), {force: true});
    return {kind: 'complete', object: session.object};
  }

  /** Ends a session whose upload was refused: its bytes go, its state stays to answer 410. */
  private async terminate(session: SessionState, reason: string): Promise<void> {
    session.terminated = reason;
    this.sums.delete(session.id);
    await fs.promises.rm(this.files.partPath(session.id), {force: true});
    await this.files.save(session.id, session);
  }

  private get(id: string): SessionState {
    const session = this.sessions.get(id);
    if (!session) throw new StoreError(404, 'notFound', `No such upload session: ${id}`);
    if (session.terminated !== undefined) {
      throw new StoreError(
        410,
        'gone',
        `The upload session was terminated and can no longer be used (${session.terminated}); start a new upload.`,
      );
    }
    return session;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    for (const session of await this.files.readAll()) {
      this.sessions.set(session.id, session);
    }
  }
}

async function checksumFile(file: string): Promise<Checksums> {
  const sums = new Checksums();
  for await (const chunk of fs.createReadStream(file)) sums.update(chunk as Buffer);
  return sums;
}
