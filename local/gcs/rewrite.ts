/**
 * objects.rewrite and objects.copy: the destination gets the source
 * generation's bytes and checksums (and, for a composite source, its
 * component count and no MD5).
 *
 * As in Cloud Storage, a rewrite may take several calls: when the source and
 * the destination span locations or storage classes and the caller limits a
 * call with `maxBytesRewrittenPerCall` (an integral multiple of 1 MiB), each
 * call copies that many bytes and answers `done: false` with a
 * `rewriteToken`, and the caller repeats the request with the token until
 * `done: true`. A call with a token may leave out the other request fields,
 * but those it gives must match the first call's (a changed
 * `maxBytesRewrittenPerCall` included), else the token is refused as
 * invalid (400). The token pins the source generation it started with. A
 * rewrite within one location and storage class, or one without the limit,
 * completes in one call. Tokens and the bytes copied so far live under
 * META/rewrites, so a rewrite survives a restart of the emulator.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {SessionFiles} from './session-files';
import {randomBytes} from 'node:crypto';
import {pipeline} from 'node:stream/promises';
import {FileStore, ObjectProps, Preconditions, StoreError, StoredObject} from './store';
import {fsyncFile} from './integrity';

/** The unit `maxBytesRewrittenPerCall` must be a multiple of. */
export const REWRITE_UNIT = 1024 * 1024;

export interface RewriteRequest {
  srcBucket: string;
  srcName: string;
  /** `sourceGeneration`, if the request names one. */
  srcGeneration?: string;
  /** The `ifSource…` preconditions. */
  srcPre: Preconditions;
  dstBucket: string;
  dstName: string;
  /** The destination's properties (the request's object resource, or the source's). */
  props: ObjectProps;
  /** The request's object resource as sent (empty when none). */
  body: Record<string, unknown>;
  /** Preconditions on the destination. */
  pre: Preconditions;
  maxBytesPerCall?: number;
  token?: string;
}

export type RewriteResult =
  | {done: false; totalBytesRewritten: number; objectSize: number; rewriteToken: string}
  | {done: true; object: StoredObject};

interface RewriteSession {
  token: string;
  srcBucket: string;
  srcName: string;
  srcGeneration: string;
  dstBucket: string;
  dstName: string;
  props: ObjectProps;
  pre: Preconditions;
  /** What a later call must repeat if it gives it. */
  given: {body: string; pre: string; maxBytesPerCall: number};
  copied: number;
}

/** `maxBytesRewrittenPerCall` as given: absent, or a positive multiple of 1 MiB (else 400). */
export function maxBytesParam(raw: string | null): number | undefined {
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n === 0 || n % REWRITE_UNIT !== 0) {
    throw new StoreError(
      400,
      'invalid',
      `Invalid argument: maxBytesRewrittenPerCall must be an integral multiple of ${REWRITE_UNIT} (1 MiB), got '${raw}'.`,
    );
  }
  return n;
}

export class Rewrites {
  private readonly sessions = new Map<string, RewriteSession>();
  private readonly busy = new Set<string>();
  private readonly files: SessionFiles<RewriteSession>;
  private loaded = false;

  constructor(private readonly store: FileStore) {
    this.files = new SessionFiles(path.join(store.metaDir, 'rewrites'));
  }

  /** objects.copy: always one call. */
  async copy(req: RewriteRequest): Promise<StoredObject> {
    const source = this.source(req, req.srcGeneration);
    this.checkDestination(req);
    const tmpPath = this.store.newTempPath();
    await fs.promises.copyFile(this.store.contentPath(source), tmpPath);
    return this.commit(source, req, tmpPath);
  }

  /** One objects.rewrite call. */
  async rewrite(req: RewriteRequest): Promise<RewriteResult> {
    await this.load();
    if (req.token !== undefined) return this.continueWith(req, req.token);
    const source = this.source(req, req.srcGeneration);
    this.checkDestination(req);
    const max = req.maxBytesPerCall;
    if (max === undefined || source.size <= max || !this.spans(source, req)) {
      return {done: true, object: await this.copy({...req, srcGeneration: source.generation})};
    }
    const session: RewriteSession = {
      token: randomBytes(24).toString('base64url'),
      srcBucket: req.srcBucket,
      srcName: req.srcName,
      srcGeneration: source.generation,
      dstBucket: req.dstBucket,
      dstName: req.dstName,
      props: req.props,
      pre: req.pre,
      given: {body: JSON.stringify(req.body), pre: JSON.stringify(req.pre), maxBytesPerCall: max},
      copied: 0,
    };
    await fs.promises.writeFile(this.files.partPath(session.token), '');
    this.sessions.set(session.token, session);
    return this.step(session, source);
  }

  private async continueWith(req: RewriteRequest, token: string): Promise<RewriteResult> {
    const session = this.sessions.get(token);
    const invalid = (why: string) =>
      new StoreError(400, 'invalid', `Invalid argument: the rewrite token is not valid (${why}).`);
    if (!session) throw invalid('no rewrite has this token');
    const differs: string[] = [];
    if (session.srcBucket !== req.srcBucket || session.srcName !== req.srcName)
      differs.push('source');
    if (session.dstBucket !== req.dstBucket || session.dstName !== req.dstName)
      differs.push('destination');
    if (req.srcGeneration !== undefined && req.srcGeneration !== session.srcGeneration)
      differs.push('sourceGeneration');
    if (req.maxBytesPerCall !== undefined && req.maxBytesPerCall !== session.given.maxBytesPerCall)
      differs.push('maxBytesRewrittenPerCall');
    if (Object.keys(req.body).length > 0 && JSON.stringify(req.body) !== session.given.body)
      differs.push('the object resource');
    if (Object.keys(req.pre).length > 0 && JSON.stringify(req.pre) !== session.given.pre)
      differs.push('the preconditions');
    if (differs.length > 0) throw invalid(`${differs.join(', ')} differ from the first call's`);
    if (this.busy.has(token))
      throw new StoreError(409, 'conflict', 'Another request is continuing this rewrite.');
    // The generation the rewrite started with, whatever is live now (404 once it is gone).
    const source = this.source(req, session.srcGeneration);
    return this.step(session, source);
  }

  private async step(session: RewriteSession, source: StoredObject): Promise<RewriteResult> {
    this.busy.add(session.token);
    try {
      const part = this.files.partPath(session.token);
      const end = Math.min(source.size, session.copied + session.given.maxBytesPerCall);
      await pipeline(
        fs.createReadStream(this.store.contentPath(source), {
          start: session.copied,
          end: end - 1,
        }),
        fs.createWriteStream(part, {flags: 'a'}),
      );
      session.copied = end;
      if (session.copied < source.size) {
        await this.files.save(session.token, session);
        return {
          done: false,
          totalBytesRewritten: session.copied,
          objectSize: source.size,
          rewriteToken: session.token,
        };
      }
      await fsyncFile(part);
      const object = this.commit(source, session, part);
      this.sessions.delete(session.token);
      await fs.promises.rm(this.files.statePath(session.token), {force: true});
      return {done: true, object};
    } finally {
      this.busy.delete(session.token);
    }
  }

  /** The source generation, with the request's `ifSource…` preconditions. */
  private source(req: RewriteRequest, generation: string | undefined): StoredObject {
    return this.store.getObject(req.srcBucket, req.srcName, req.srcPre, generation);
  }

  private checkDestination(req: RewriteRequest): void {
    this.store.getBucket(req.dstBucket);
    this.store.checkWritable(req.dstBucket, req.dstName, req.pre, req.props);
  }

  /** Whether source and destination span locations or storage classes. */
  private spans(source: StoredObject, req: RewriteRequest): boolean {
    const from = this.store.getBucket(source.bucket);
    const to = this.store.getBucket(req.dstBucket);
    return (
      from.location !== to.location ||
      source.storageClass !== (req.props.storageClass ?? to.storageClass)
    );
  }

  /** Makes the copied bytes the destination, with the source's checksums; consumes `tmpPath`. */
  private commit(
    source: StoredObject,
    to: Pick<RewriteRequest, 'dstBucket' | 'dstName' | 'props' | 'pre'>,
    tmpPath: string,
  ): StoredObject {
    try {
      return this.store.commit(
        to.dstBucket,
        to.dstName,
        {
          tmpPath,
          size: source.size,
          crc32c: source.crc32c,
          ...(source.md5Hash !== undefined ? {md5Hash: source.md5Hash} : {}),
          ...(source.componentCount !== undefined ? {componentCount: source.componentCount} : {}),
        },
        to.props,
        to.pre,
      );
    } catch (err) {
      fs.rmSync(tmpPath, {force: true});
      throw err;
    }
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    for (const session of await this.files.readAll()) {
      // The bytes copied so far are what the part file holds (a crash may have cut a step).
      const part = this.files.partPath(session.token);
      const size = fs.existsSync(part) ? fs.statSync(part).size : -1;
      if (size < session.copied) continue; // lost: the caller's token is refused and it starts again
      await fs.promises.truncate(part, session.copied);
      this.sessions.set(session.token, session);
    }
  }
}
