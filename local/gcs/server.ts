/**
 * A Cloud Storage JSON API server for `@google-cloud/storage`, reached through
 * `STORAGE_EMULATOR_HOST` (no `/storage/v1` prefix) or `apiEndpoint` (with it).
 *
 * Implements buckets (insert/get/list/delete, patch of versioning,
 * getStorageLayout), objects (get, media download with Range, patch, delete,
 * list with prefix/delimiter/page tokens/versions, copy, rewrite in steps
 * with rewrite tokens (./rewrite.ts), compose (./compose.ts)), uploads
 * (media, multipart, resumable in one request or in chunks, on `/upload/…`
 * or the discovery document's `/resumable/upload/…`), preconditions, object
 * versioning (`generation=`, noncurrent versions), per-object retention
 * (Object Retention Lock), MD5/CRC32C over the stored bytes, errors in the
 * JSON API's shape, and object-change CloudEvents. The Google Cloud CLI's
 * `gcloud storage` works against it as the official Node client does.
 * Admin API under `/_admin/`.
 */
import * as fs from 'node:fs';
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import {pipeline} from 'node:stream/promises';
import {
  FileStore,
  ObjectProps,
  Preconditions,
  StoreError,
  StoredBucket,
  StoredObject,
} from './store';
import {NameError} from './names';
import {
  HashingStream,
  MultipartError,
  MultipartRelatedParser,
  multipartBoundary,
  parseGoogHash,
} from './streams';
import {EventNotifier} from './events';
import {ResumableUploads} from './uploads';
import {Rewrites, maxBytesParam} from './rewrite';
import {compose, composeSources, resolveSources} from './compose';
import {fsyncFile, verifyHashes} from './integrity';
import {FaultInjector, serveFaultAdmin} from '../common/faults';
import type {Access, Caller} from '../iam/authorize';
import {GcsAccess} from './access';
import {bucketPolicy} from './iam-policy';
import {readBody, sendJson} from '../common/http';

export interface GcsServerOptions {
  store: FileStore;
  notifier: EventNotifier;
  faults?: FaultInjector;
  /** Authorize every call against this policy (./access.ts); absent, anyone may do anything. */
  access?: Access;
}

type Handler = (ctx: Ctx) => Promise<void>;

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Decoded path segments after the API prefix. */
  seg: string[];
  base: string;
  caller: Caller;
}

/** Raised for malformed requests (400). */
class BadRequest extends Error {}

export function createGcsServer(opts: GcsServerOptions): Server {
  const {store, notifier} = opts;
  const faults =
    opts.faults ??
    new FaultInjector(status => errorBody(status, 'injected', `Injected fault: HTTP ${status}`));
  const uploads = new ResumableUploads(store);
  const rewrites = new Rewrites(store);
  const guard = new GcsAccess(opts.access, store);
  store.onChange((kind, object) =>
    notifier.publish(kind, objectResource(object, 'https://www.googleapis.com')),
  );

  const server = createServer((req, res) => {
    handle(req, res).catch(err => {
      if (err instanceof StoreError) return sendError(res, err.status, err.reason, err.message);
      if (err instanceof NameError) return sendError(res, 400, err.reason, err.message);
      if (
        err instanceof BadRequest ||
        err instanceof MultipartError ||
        err instanceof SyntaxError
      ) {
        return sendError(res, 400, 'invalid', err.message);
      }
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) sendError(res, 500, 'backendError', message);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const base = `http://${req.headers.host ?? 'localhost'}`;
    if (url.pathname.startsWith('/_admin/')) return admin(req, res, url);
    if (await faults.apply(req, res)) return;

    let p = url.pathname;
    let upload = false;
    // `/resumable/upload/…` is the resumable upload path of the API's discovery
    // document, which the Google Cloud CLI's generated client uses.
    for (const prefix of [
      '/upload/storage/v1',
      '/resumable/upload/storage/v1',
      '/download/storage/v1',
      '/storage/v1',
    ]) {
      if (p === prefix || p.startsWith(prefix + '/')) {
        upload = prefix.endsWith('/upload/storage/v1');
        p = p.slice(prefix.length);
        break;
      }
    }
    let seg: string[];
    try {
      seg = p
        .split('/')
        .filter(s => s !== '')
        .map(decodeURIComponent);
    } catch {
      throw new BadRequest(`malformed percent-encoding in path ${p}`);
    }
    const ctx: Ctx = {req, res, url, seg, base, caller: guard.caller(req)};
    const route = upload ? uploadRoute(ctx) : apiRoute(ctx);
    if (!route) return sendError(res, 404, 'notFound', `Not Found: ${req.method} ${url.pathname}`);
    await route(ctx);
  }

  function apiRoute({req, seg}: Ctx): Handler | undefined {
    const m = req.method;
    if (seg[0] !== 'b') return undefined;
    if (seg.length === 1)
      return m === 'GET' ? listBuckets : m === 'POST' ? insertBucket : undefined;
    if (seg.length === 2) {
      if (m === 'GET') return getBucket;
      if (m === 'DELETE') return deleteBucket;
      if (m === 'PATCH' || m === 'PUT') return patchBucket;
      return undefined;
    }
    if (seg[2] === 'iam' && seg.length === 3) return m === 'GET' ? getBucketIamPolicy : undefined;
    if (seg[2] === 'storageLayout' && seg.length === 3)
      return m === 'GET' ? getStorageLayout : undefined;
    if (seg[2] !== 'o') return undefined;
    if (seg.length === 3) return m === 'GET' ? listObjects : undefined;
    if (seg.length === 4) {
      if (m === 'GET' || m === 'HEAD') return getObject;
      if (m === 'PATCH' || m === 'PUT') return patchObject;
      if (m === 'DELETE') return deleteObject;
      return undefined;
    }
    if (seg.length === 5 && seg[4] === 'compose') return m === 'POST' ? composeObject : undefined;
    if (
      seg.length === 9 &&
      (seg[4] === 'rewriteTo' || seg[4] === 'copyTo') &&
      seg[5] === 'b' &&
      seg[7] === 'o'
    ) {
      return m === 'POST' ? copyObject : undefined;
    }
    return undefined;
  }

  function uploadRoute({req, url, seg}: Ctx): Handler | undefined {
    if (seg[0] !== 'b' || seg[2] !== 'o' || seg.length !== 3) return undefined;
    if (url.searchParams.has('upload_id')) {
      if (req.method === 'PUT' || req.method === 'POST') return resumableChunk;
      if (req.method === 'DELETE') return resumableCancel;
      return undefined;
    }
    return req.method === 'POST' ? startUpload : undefined;
  }

  // ---- buckets -------------------------------------------------------------

  async function listBuckets({res, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.buckets.list', '');
    sendJson(res, 200, {kind: 'storage#buckets', items: store.listBuckets().map(bucketResource)});
  }

  async function insertBucket({req, res, url, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.buckets.create', '');
    const body = await readJsonObject(req);
    if (typeof body.name !== 'string') throw new BadRequest('Required field "name" is missing.');
    // Object retention is a query parameter of buckets.insert, not a field of the
    // resource (whose output-only `objectRetention` is ignored here, as GCS ignores it).
    const bucket = store.createBucket(body.name, {
      location: typeof body.location === 'string' ? body.location : undefined,
      storageClass: typeof body.storageClass === 'string' ? body.storageClass : undefined,
      versioning: versioningOf(body),
      objectRetention: booleanParam(url, 'enableObjectRetention') ?? false,
    });
    sendJson(res, 200, bucketResource(bucket));
  }

  /** buckets.patch/update of what the emulator keeps: versioning (other fields are ignored). */
  async function patchBucket({req, res, seg, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.buckets.update', seg[1]!);
    const name = seg[1]!;
    const body = await readJsonObject(req);
    const current = store.getBucket(name);
    const retention = body.objectRetention;
    if (retention !== undefined) {
      const wanted =
        typeof retention === 'object' &&
        retention !== null &&
        (retention as {mode?: unknown}).mode === 'Enabled';
      if (wanted !== (current.objectRetention === true)) {
        throw new StoreError(
          400,
          'emulatorLimitation',
          'Object retention is set when a bucket is created (enableObjectRetention=true on buckets.insert); the emulator does not change it afterwards.',
        );
      }
    }
    sendJson(res, 200, bucketResource(store.patchBucket(name, {versioning: versioningOf(body)})));
  }

  async function getBucket({res, seg, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.buckets.get', seg[1]!);
    sendJson(res, 200, bucketResource(store.getBucket(seg[1]!)));
  }

  /** buckets.getIamPolicy: the stack's grants on the bucket (./iam-policy.ts). */
  async function getBucketIamPolicy({res, seg, url, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.buckets.getIamPolicy', seg[1]!);
    store.getBucket(seg[1]!);
    const raw = url.searchParams.get('optionsRequestedPolicyVersion');
    const answer = bucketPolicy(
      opts.access?.policy,
      seg[1]!,
      raw === null ? undefined : Number(raw),
    );
    if (!answer.ok) throw new StoreError(400, 'invalid', answer.message);
    sendJson(res, 200, answer.policy);
  }

  /**
   * buckets.getStorageLayout (the Google Cloud CLI asks before a recursive
   * rm): a flat namespace. Needs storage.objects.list, as in Cloud Storage.
   */
  async function getStorageLayout({res, seg, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.objects.list', seg[1]!);
    const bucket = store.getBucket(seg[1]!);
    sendJson(res, 200, {
      kind: 'storage#storageLayout',
      bucket: bucket.name,
      location: bucket.location,
      locationType: locationType(bucket.location),
      hierarchicalNamespace: {enabled: false},
    });
  }

  async function deleteBucket({res, seg, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.buckets.delete', seg[1]!);
    store.deleteBucket(seg[1]!);
    res.writeHead(204).end();
  }

  // ---- objects -------------------------------------------------------------

  async function listObjects({res, seg, url, base, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.objects.list', seg[1]!);
    const q = url.searchParams;
    const maxRaw = q.get('maxResults');
    const max = maxRaw === null ? undefined : Number(maxRaw);
    if (max !== undefined && (!Number.isInteger(max) || max < 0)) {
      throw new BadRequest(`Invalid value for maxResults: ${maxRaw}`);
    }
    const result = store.list(seg[1]!, {
      prefix: q.get('prefix') ?? undefined,
      delimiter: q.get('delimiter') ?? undefined,
      maxResults: max || undefined,
      pageToken: q.get('pageToken') ?? undefined,
      startOffset: q.get('startOffset') ?? undefined,
      endOffset: q.get('endOffset') ?? undefined,
      includeTrailingDelimiter: q.get('includeTrailingDelimiter') === 'true',
      versions: booleanParam(url, 'versions') ?? false,
    });
    sendJson(res, 200, {
      kind: 'storage#objects',
      ...(result.prefixes.length ? {prefixes: result.prefixes} : {}),
      items: result.items.map(o => objectResource(o, base)),
      ...(result.nextPageToken ? {nextPageToken: result.nextPageToken} : {}),
    });
  }

  async function getObject({req, res, seg, url, base, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.objects.get', seg[1]!, seg[3]!);
    const object = store.getObject(seg[1]!, seg[3]!, preconditions(url), generationParam(url));
    if (url.searchParams.get('alt') !== 'media') {
      return sendJson(res, 200, objectResource(object, base));
    }
    await download(req, res, object);
  }

  async function download(
    req: IncomingMessage,
    res: ServerResponse,
    object: StoredObject,
  ): Promise<void> {
    // Opened now, in the same synchronous step that looked the object up: a write that replaces
    // it meanwhile renames a new file into place, and this download still serves the generation
    // its headers name (as GCS does), never the next one's bytes under this one's hashes.
    const fd =
      req.method === 'HEAD' || object.size === 0
        ? undefined
        : fs.openSync(store.contentPath(object), 'r');
    const headers: Record<string, string | number> = {
      'content-type': object.contentType,
      'accept-ranges': 'bytes',
      'x-goog-hash': googHash(object),
      'x-goog-generation': object.generation,
      'x-goog-metageneration': object.metageneration,
      'x-goog-stored-content-length': object.size,
      'x-goog-stored-content-encoding': object.contentEncoding ?? 'identity',
      'x-goog-storage-class': object.storageClass,
      etag: etag(object),
      'last-modified': new Date(object.updated).toUTCString(),
    };
    if (object.contentEncoding) headers['content-encoding'] = object.contentEncoding;
    if (object.contentDisposition) headers['content-disposition'] = object.contentDisposition;
    if (object.cacheControl) headers['cache-control'] = object.cacheControl;
    if (object.contentLanguage) headers['content-language'] = object.contentLanguage;

    const range = parseRange(req.headers.range, object.size);
    if (range === 'unsatisfiable') {
      if (fd !== undefined) fs.closeSync(fd);
      return sendError(
        res,
        416,
        'requestedRangeNotSatisfiable',
        'The requested range cannot be satisfied.',
        {
          'content-range': `bytes */${object.size}`,
        },
      );
    }
    if (range) {
      res.writeHead(206, {
        ...headers,
        'content-length': range.end - range.start + 1,
        'content-range': `bytes ${range.start}-${range.end}/${object.size}`,
      });
    } else {
      res.writeHead(200, {...headers, 'content-length': object.size});
    }
    if (fd === undefined) return void res.end();
    await pipeline(
      fs.createReadStream('', {
        fd,
        autoClose: true,
        ...(range ? {start: range.start, end: range.end} : {}),
      }),
      res,
    );
  }

  async function patchObject({req, res, seg, url, base, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.objects.update', seg[1]!, seg[3]!);
    const body = await readJsonObject(req);
    if ('retention' in body)
      guard.require(caller, 'storage.objects.setRetention', seg[1]!, seg[3]!);
    if (booleanParam(url, 'overrideUnlockedRetention'))
      guard.require(caller, 'storage.objects.overrideUnlockedRetention', seg[1]!, seg[3]!);
    const object = store.patch(seg[1]!, seg[3]!, objectProps(body), preconditions(url), {
      generation: generationParam(url),
      overrideUnlockedRetention: booleanParam(url, 'overrideUnlockedRetention') ?? false,
    });
    sendJson(res, 200, objectResource(object, base));
  }

  async function deleteObject({res, seg, url, caller}: Ctx): Promise<void> {
    guard.require(caller, 'storage.objects.delete', seg[1]!, seg[3]!);
    store.delete(seg[1]!, seg[3]!, preconditions(url), generationParam(url));
    res.writeHead(204).end();
  }

  /**
   * objects.copy and objects.rewrite (./rewrite.ts): every call needs
   * storage.objects.get on the source and what writing the destination needs.
   */
  async function copyObject({req, res, seg, url, base, caller}: Ctx): Promise<void> {
    const [, srcBucket, , srcName, verb, , dstBucket, , dstName] = seg as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const q = url.searchParams;
    guard.require(caller, 'storage.objects.get', srcBucket, srcName);
    guard.require(caller, 'storage.objects.create', dstBucket, dstName);
    const body = await readJsonObject(req, true);
    const srcGeneration = generationParam(url, 'sourceGeneration');
    const srcPre: Preconditions = {};
    for (const key of [
      'ifGenerationMatch',
      'ifGenerationNotMatch',
      'ifMetagenerationMatch',
      'ifMetagenerationNotMatch',
    ] as const) {
      const v = q.get(`ifSource${key.slice(2)}`);
      if (v !== null) srcPre[key] = v;
    }
    const pre = preconditions(url);
    const given = objectProps(body);
    // Without an object resource the destination takes the source's properties.
    const source = store.getObject(srcBucket, srcName, srcPre, srcGeneration);
    const props: ObjectProps = Object.keys(body).length
      ? given
      : {
          contentType: source.contentType,
          contentEncoding: source.contentEncoding,
          contentDisposition: source.contentDisposition,
          cacheControl: source.cacheControl,
          contentLanguage: source.contentLanguage,
          metadata: source.metadata,
        };
    store.getBucket(dstBucket);
    guard.requireWrite(caller, dstBucket, dstName, pre, props);
    const request = {
      srcBucket,
      srcName,
      ...(srcGeneration !== undefined ? {srcGeneration} : {}),
      srcPre,
      dstBucket,
      dstName,
      props,
      body,
      pre,
    };
    if (verb === 'copyTo') {
      return sendJson(res, 200, objectResource(await rewrites.copy(request), base));
    }
    const maxBytes = maxBytesParam(q.get('maxBytesRewrittenPerCall'));
    const token = q.get('rewriteToken');
    const step = await rewrites.rewrite({
      ...request,
      ...(maxBytes !== undefined ? {maxBytesPerCall: maxBytes} : {}),
      ...(token !== null && token !== '' ? {token} : {}),
    });
    if (!step.done) {
      return sendJson(res, 200, {kind: 'storage#rewriteResponse', ...stringSizes(step)});
    }
    const size = String(step.object.size);
    sendJson(res, 200, {
      kind: 'storage#rewriteResponse',
      totalBytesRewritten: size,
      objectSize: size,
      done: true,
      resource: objectResource(step.object, base),
    });
  }

  /**
   * objects.compose (./compose.ts): storage.objects.get on each source and
   * what writing the destination needs.
   */
  async function composeObject({req, res, seg, url, base, caller}: Ctx): Promise<void> {
    const bucket = seg[1]!;
    const name = seg[3]!;
    const body = await readJsonObject(req);
    const sources = composeSources(body);
    for (const s of sources) guard.require(caller, 'storage.objects.get', bucket, s.name);
    guard.require(caller, 'storage.objects.create', bucket, name);
    const destination = body.destination;
    if (destination !== undefined && (typeof destination !== 'object' || destination === null))
      throw new BadRequest('Invalid value for destination: must be an object resource');
    const props = objectProps((destination ?? {}) as Record<string, unknown>);
    const pre = preconditions(url);
    store.getBucket(bucket);
    guard.requireWrite(caller, bucket, name, pre, props);
    const objects = resolveSources(store, bucket, sources);
    sendJson(
      res,
      200,
      objectResource(await compose(store, bucket, name, objects, props, pre), base),
    );
  }

  // ---- uploads ---------------------------------------------------------------

  async function startUpload(ctx: Ctx): Promise<void> {
    const {req, res, seg, url, base, caller} = ctx;
    const bucket = seg[1]!;
    store.getBucket(bucket);
    const type = url.searchParams.get('uploadType');
    const pre = preconditions(url);
    if (type === 'resumable') {
      const body = await readJsonObject(req, true);
      const name =
        url.searchParams.get('name') ?? (typeof body.name === 'string' ? body.name : undefined);
      if (!name) throw new BadRequest('Required parameter "name" is missing.');
      const props = objectProps(body);
      guard.require(caller, 'storage.objects.create', bucket, name);
      store.checkWritable(bucket, name, pre, props);
      guard.requireWrite(caller, bucket, name, pre, props);
      const declared = req.headers['x-upload-content-type'];
      if (!props.contentType && typeof declared === 'string') props.contentType = declared;
      const lengthHeader = req.headers['x-upload-content-length'];
      const session = await uploads.create({
        bucket,
        name,
        props,
        pre,
        declaredSize: lengthHeader === undefined ? undefined : Number(lengthHeader),
        expected: expectedHashes(body),
      });
      const location = new URL(`${base}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`);
      location.searchParams.set('uploadType', 'resumable');
      location.searchParams.set('name', name);
      location.searchParams.set('upload_id', session.id);
      res.writeHead(200, {
        location: location.toString(),
        'x-guploader-uploadid': session.id,
        'content-length': 0,
      });
      res.end();
      return;
    }
    let name: string | undefined;
    let props: ObjectProps;
    let source: NodeJS.ReadableStream;
    let expected: {md5?: string; crc32c?: string};
    let parser: MultipartRelatedParser | undefined;
    if (type === 'multipart') {
      const boundary = multipartBoundary(req.headers['content-type']);
      if (!boundary)
        throw new BadRequest('uploadType=multipart needs a multipart/related body with a boundary');
      parser = new MultipartRelatedParser(boundary);
      // Parse errors reach us through `metadata` (before the media part) or
      // the upload pipeline (after it); this listener only keeps an early
      // error from being an unhandled 'error' event.
      parser.on('error', () => {});
      req.pipe(parser);
      req.on('error', err => parser!.destroy(err));
      const {json, mediaHeaders} = await parser.metadata.catch(err => {
        req.unpipe(parser);
        req.resume();
        throw err;
      });
      const meta = parseJsonObject(json.toString('utf8'));
      name =
        url.searchParams.get('name') ?? (typeof meta.name === 'string' ? meta.name : undefined);
      props = objectProps(meta);
      if (!props.contentType && mediaHeaders['content-type'])
        props.contentType = mediaHeaders['content-type'];
      expected = expectedHashes(meta);
      source = parser;
    } else if (type === 'media' || type === null) {
      name = url.searchParams.get('name') ?? undefined;
      props = {contentType: req.headers['content-type']};
      expected = {};
      source = req;
    } else {
      throw new BadRequest(`Unsupported uploadType: ${type}`);
    }
    if (!name) {
      req.resume();
      throw new BadRequest('Required parameter "name" is missing.');
    }
    try {
      guard.require(caller, 'storage.objects.create', bucket, name);
      store.checkWritable(bucket, name, pre, props);
      guard.requireWrite(caller, bucket, name, pre, props);
    } catch (err) {
      req.resume();
      throw err;
    }
    const fromHeader = parseGoogHash(req.headers['x-goog-hash']);
    const object = await stageAndCommit(source, bucket, name, props, pre, {
      ...expected,
      ...fromHeader,
    });
    sendJson(res, 200, objectResource(object, base));
  }

  async function stageAndCommit(
    source: NodeJS.ReadableStream,
    bucket: string,
    name: string,
    props: ObjectProps,
    pre: Preconditions,
    expected: {md5?: string; crc32c?: string},
  ): Promise<StoredObject> {
    const tmpPath = store.newTempPath();
    const hasher = new HashingStream();
    try {
      await pipeline(source, hasher, fs.createWriteStream(tmpPath));
      await fsyncFile(tmpPath);
      const sums = hasher.sums.digests();
      verifyHashes(expected, sums);
      return store.commit(bucket, name, {tmpPath, size: hasher.sums.size, ...sums}, props, pre);
    } catch (err) {
      await fs.promises.rm(tmpPath, {force: true});
      throw err;
    }
  }

  async function resumableChunk({req, res, url, base}: Ctx): Promise<void> {
    const result = await uploads.put(url.searchParams.get('upload_id')!, req);
    if (result.kind === 'incomplete') {
      const headers: Record<string, string | number> = {'content-length': 0};
      if (result.received > 0) headers.range = `bytes=0-${result.received - 1}`;
      res.writeHead(308, headers);
      res.end();
      return;
    }
    sendJson(res, 200, objectResource(result.object, base));
  }

  async function resumableCancel({res, url}: Ctx): Promise<void> {
    await uploads.cancel(url.searchParams.get('upload_id')!);
    res.writeHead(499, {'content-length': 0});
    res.end();
  }

  // ---- admin -----------------------------------------------------------------

  async function admin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (await serveFaultAdmin(req, res, faults, () => readJsonObject(req))) return;
    if (url.pathname === '/_admin/events' && req.method === 'GET') {
      return sendJson(res, 200, notifier.stats());
    }
    if (url.pathname === '/_admin/notifications') {
      if (req.method === 'POST') {
        const body = await readJsonObject(req);
        if (typeof body.url !== 'string') throw new BadRequest('"url" is required');
        const types = body.eventTypes;
        if (
          types !== undefined &&
          (!Array.isArray(types) || !types.every((t): t is string => typeof t === 'string'))
        ) {
          throw new BadRequest('"eventTypes" must be a list of event types');
        }
        try {
          notifier.subscribe({
            url: body.url,
            bucket: typeof body.bucket === 'string' ? body.bucket : undefined,
            ...(types !== undefined ? {eventTypes: types} : {}),
            ...(typeof body.serviceAccountEmail === 'string'
              ? {serviceAccountEmail: body.serviceAccountEmail}
              : {}),
          });
        } catch (err) {
          throw new BadRequest((err as Error).message);
        }
      }
      return sendJson(res, 200, {subscribers: notifier.listSubscribers()});
    }
    if (url.pathname === '/_admin/stats' && req.method === 'GET') {
      const usage = process.resourceUsage();
      return sendJson(res, 200, {
        rssBytes: process.memoryUsage().rss,
        maxRssBytes: usage.maxRSS * 1024,
        dataDir: store.dataDir,
        metaDir: store.metaDir,
      });
    }
    sendError(res, 404, 'notFound', `unknown admin route ${req.method} ${url.pathname}`);
  }

  return server;
}

// ---- helpers -------------------------------------------------------------------

function preconditions(url: URL): Preconditions {
  const q = url.searchParams;
  const out: Preconditions = {};
  for (const key of [
    'ifGenerationMatch',
    'ifGenerationNotMatch',
    'ifMetagenerationMatch',
    'ifMetagenerationNotMatch',
  ] as const) {
    const v = q.get(key);
    if (v === null) continue;
    if (!/^\d+$/.test(v)) throw new BadRequest(`Invalid value for ${key}: '${v}'`);
    out[key] = v;
  }
  return out;
}

/** A `generation`-like query parameter: absent, or a whole number (else 400). */
function generationParam(url: URL, key = 'generation'): string | undefined {
  const v = url.searchParams.get(key);
  if (v === null) return undefined;
  if (!/^\d+$/.test(v)) throw new BadRequest(`Invalid value for ${key}: '${v}'`);
  return v;
}

/**
 * A boolean query parameter: absent, or true or false in any case (the Google
 * Cloud CLI sends Python's `True`/`False`, which Google's APIs take); else 400.
 */
function booleanParam(url: URL, key: string): boolean | undefined {
  const raw = url.searchParams.get(key);
  if (raw === null) return undefined;
  const v = raw.toLowerCase();
  if (v === 'true' || v === 'false') return v === 'true';
  throw new BadRequest(`Invalid value for ${key}: '${raw}' (true or false)`);
}

/** `versioning.enabled` of a bucket resource, if it says. */
function versioningOf(body: Record<string, unknown>): boolean | undefined {
  const v = body.versioning;
  if (v === undefined || v === null) return undefined;
  const enabled = typeof v === 'object' ? (v as {enabled?: unknown}).enabled : undefined;
  if (typeof enabled !== 'boolean')
    throw new BadRequest('Invalid value for versioning: {"enabled": true|false} expected.');
  return enabled;
}

function objectProps(body: Record<string, unknown>): ObjectProps {
  const props: ObjectProps = {};
  for (const key of [
    'contentType',
    'contentEncoding',
    'contentDisposition',
    'cacheControl',
    'contentLanguage',
  ] as const) {
    const v = body[key];
    if (v === null || typeof v === 'string') props[key] = v;
    else if (v !== undefined) throw new BadRequest(`Invalid value for ${key}: must be a string`);
  }
  if (typeof body.storageClass === 'string') props.storageClass = body.storageClass;
  else if (body.storageClass !== undefined && body.storageClass !== null)
    throw new BadRequest('Invalid value for storageClass: must be a string');
  const md = body.metadata;
  if (md === null) props.metadata = null;
  else if (md !== undefined) {
    if (typeof md !== 'object' || Array.isArray(md))
      throw new BadRequest('Invalid value for metadata: must be an object');
    const out: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(md as Record<string, unknown>)) {
      out[k] = v === null ? null : typeof v === 'string' ? v : JSON.stringify(v);
    }
    props.metadata = out;
  }
  const retention = body.retention;
  if (retention === null) props.retention = null;
  else if (retention !== undefined) {
    if (typeof retention !== 'object' || Array.isArray(retention))
      throw new BadRequest('Invalid value for retention: must be an object');
    const {mode, retainUntilTime} = retention as Record<string, unknown>;
    if (
      (mode !== undefined && typeof mode !== 'string') ||
      (retainUntilTime !== undefined && typeof retainUntilTime !== 'string')
    ) {
      throw new BadRequest('Invalid value for retention: mode and retainUntilTime are strings');
    }
    props.retention = {
      ...(mode !== undefined ? {mode} : {}),
      ...(retainUntilTime !== undefined ? {retainUntilTime} : {}),
    };
  }
  return props;
}

function expectedHashes(body: Record<string, unknown>): {md5?: string; crc32c?: string} {
  return {
    md5: typeof body.md5Hash === 'string' ? body.md5Hash : undefined,
    crc32c: typeof body.crc32c === 'string' ? body.crc32c : undefined,
  };
}

async function readJsonObject(
  req: IncomingMessage,
  allowEmpty = false,
): Promise<Record<string, unknown>> {
  const text = (await readBody(req, 1024 * 1024)).toString('utf8');
  if (text.trim() === '') {
    if (allowEmpty) return {};
    throw new BadRequest('Request body must be a JSON object.');
  }
  return parseJsonObject(text);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest('Parse Error: the request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequest('Request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

/** Parses a single-range `Range` header against an object size. */
export function parseRange(
  header: string | undefined,
  size: number,
): {start: number; end: number} | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // ignored, as HTTP says
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return {start: Math.max(0, size - suffix), end: size - 1};
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return {start, end};
}

/** `X-Goog-Hash` of a download: both checksums, or only the CRC32C of a composite object. */
function googHash(o: StoredObject): string {
  return o.md5Hash === undefined ? `crc32c=${o.crc32c}` : `crc32c=${o.crc32c},md5=${o.md5Hash}`;
}

/** A rewrite step's sizes as the JSON API writes them (int64 as strings). */
function stringSizes(step: {
  totalBytesRewritten: number;
  objectSize: number;
  rewriteToken: string;
}) {
  return {
    totalBytesRewritten: String(step.totalBytesRewritten),
    objectSize: String(step.objectSize),
    done: false,
    rewriteToken: step.rewriteToken,
  };
}

function etag(o: StoredObject): string {
  return Buffer.from(`${o.generation}/${o.metageneration}`).toString('base64');
}

export function objectResource(o: StoredObject, base: string) {
  const b = encodeURIComponent(o.bucket);
  const n = encodeURIComponent(o.name);
  return {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${base}/storage/v1/b/${b}/o/${n}`,
    mediaLink: `${base}/download/storage/v1/b/${b}/o/${n}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: o.generation,
    metageneration: o.metageneration,
    contentType: o.contentType,
    storageClass: o.storageClass,
    size: String(o.size),
    ...(o.md5Hash !== undefined ? {md5Hash: o.md5Hash} : {}),
    crc32c: o.crc32c,
    ...(o.componentCount !== undefined ? {componentCount: o.componentCount} : {}),
    etag: etag(o),
    timeCreated: o.timeCreated,
    updated: o.updated,
    timeStorageClassUpdated: o.timeCreated,
    ...(o.contentEncoding ? {contentEncoding: o.contentEncoding} : {}),
    ...(o.contentDisposition ? {contentDisposition: o.contentDisposition} : {}),
    ...(o.cacheControl ? {cacheControl: o.cacheControl} : {}),
    ...(o.contentLanguage ? {contentLanguage: o.contentLanguage} : {}),
    ...(o.metadata ? {metadata: o.metadata} : {}),
    ...(o.timeDeleted ? {timeDeleted: o.timeDeleted} : {}),
    ...(o.retention
      ? {
          retention: {mode: o.retention.mode, retainUntilTime: o.retention.retainUntilTime},
          // The later of a bucket retention policy (none in the emulator) and the object's.
          retentionExpirationTime: o.retention.retainUntilTime,
        }
      : {}),
  };
}

/** Cloud Storage's location type of a location name. */
function locationType(location: string): string {
  const upper = location.toUpperCase();
  if (['US', 'EU', 'ASIA'].includes(upper)) return 'multi-region';
  if (['NAM4', 'EUR4', 'EUR5', 'EUR7', 'EUR8', 'ASIA1'].includes(upper)) return 'dual-region';
  return 'region';
}

function bucketResource(b: StoredBucket) {
  return {
    kind: 'storage#bucket',
    id: b.name,
    name: b.name,
    projectNumber: '0',
    metageneration: b.metageneration,
    location: b.location,
    locationType: locationType(b.location),
    storageClass: b.storageClass,
    timeCreated: b.timeCreated,
    updated: b.updated,
    etag: 'CAE=',
    iamConfiguration: {
      uniformBucketLevelAccess: {enabled: true},
      publicAccessPrevention: 'enforced',
    },
    ...(b.versioning !== undefined ? {versioning: {enabled: b.versioning}} : {}),
    ...(b.objectRetention ? {objectRetention: {mode: 'Enabled'}} : {}),
  };
}

function errorBody(code: number, reason: string, message: string) {
  return {error: {code, message, errors: [{message, domain: 'global', reason}]}};
}

function sendError(
  res: ServerResponse,
  status: number,
  reason: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, errorBody(status, reason, message), headers);
}
