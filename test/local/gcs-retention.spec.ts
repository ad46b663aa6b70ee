/**
 * Object versioning and per-object retention (Object Retention Lock) of the
 * GCS emulator, driven over HTTP by the official `@google-cloud/storage`
 * client; raw requests only where the client cannot say what is tested (each
 * says why). One test per answer of Cloud Storage's documentation (object retention,
 * versioning, preconditions) that the emulator implements.
 *
 * Most tests run an emulator in this process, on a FileStore whose clock the
 * test moves forward (the store's clock seam), so "after retainUntilTime" is
 * a step of the clock, not a wait. The stack's bucket and the emulator's
 * command line are checked on real processes.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {Bucket, File, FileMetadata, Storage} from '@google-cloud/storage';
import {createGcsServer} from '../../local/gcs/server';
import {FileStore} from '../../local/gcs/store';
import {DEFAULT_DELIVERY, EventNotifier} from '../../local/gcs/events';
import {close, listen} from '../../local/common/http';
import {spawnChild, tsNode, waitForReadyLine} from '../../local/common/processes';
import {eventually, useStack} from '../setup/stack';
import {bytes} from '../helpers';
import {storageFor} from '../../local/run-day';

interface ApiFailure {
  status?: number;
  reason?: string;
  message: string;
}

/** Status, first reason and message of a client error (ApiError or a resumable upload's error). */
function failureOf(err: unknown): ApiFailure {
  const e = err as {
    code?: unknown;
    status?: unknown;
    message?: string;
    errors?: Array<{reason?: string; message?: string}>;
    response?: {status?: number; data?: unknown};
  };
  const status =
    typeof e.code === 'number'
      ? e.code
      : typeof e.status === 'number'
        ? e.status
        : e.response?.status;
  let reason = e.errors?.[0]?.reason;
  let message = e.errors?.[0]?.message ?? e.message ?? String(err);
  const data = e.response?.data;
  const body =
    typeof data === 'string'
      ? (() => {
          try {
            return JSON.parse(data) as unknown;
          } catch {
            return undefined;
          }
        })()
      : data;
  const apiError = (body as {error?: {message?: string; errors?: Array<{reason?: string}>}})?.error;
  if (reason === undefined && apiError) {
    reason = apiError.errors?.[0]?.reason;
    message = apiError.message ?? message;
  }
  return {status, reason, message};
}

async function refused(
  p: Promise<unknown>,
  status: number,
  reason?: string,
  message?: RegExp,
): Promise<ApiFailure> {
  let failure: ApiFailure | undefined;
  await assert.rejects(p, err => {
    failure = failureOf(err);
    assert.strictEqual(failure.status, status, `expected HTTP ${status}, got ${String(err)}`);
    if (reason !== undefined) assert.strictEqual(failure.reason, reason, failure.message);
    if (message !== undefined) assert.match(failure.message, message);
    return true;
  });
  return failure!;
}

/** GCS' message for a retained object (production-facts §1), for `bucket/name` until `until`. */
function retainedMessage(bucket: string, name: string, until: Date): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^Object '${esc(`${bucket}/${name}`)}' is subject to bucket's retention policy or object retention and cannot be deleted or overwritten until ${esc(until.toISOString())}$`,
  );
}

/** An emulator in this process whose clock the test moves (`advance`). */
interface ClockedEmulator {
  url: string;
  storage: Storage;
  dirs: {data: string; meta: string};
  /** Moves the emulator's clock forward by `ms`. */
  advance(ms: number): void;
  /** The emulator's now. */
  now(): Date;
  stop(): Promise<void>;
}

async function startClockedEmulator(
  dirs?: {data: string; meta: string},
  offsetMs = 0,
): Promise<ClockedEmulator & {offset(): number}> {
  const root = dirs ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'grm-gcs-retention-'));
  const where = dirs ?? {data: path.join(root!, 'data'), meta: path.join(root!, 'meta')};
  let offset = offsetMs;
  const now = () => new Date(Date.now() + offset);
  const store = await FileStore.open(where.data, where.meta, now);
  // One delivery at a time: events arrive in the order the emulator sent them.
  const notifier = new EventNotifier({...DEFAULT_DELIVERY, maxAttempts: 1, concurrency: 1});
  const server = createGcsServer({store, notifier});
  const port = await listen(server, 0);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    storage: new Storage({apiEndpoint: url, projectId: 'demo-project'}),
    dirs: where,
    advance: ms => void (offset += ms),
    now,
    offset: () => offset,
    stop: () => close(server),
  };
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('GCS emulator: object versioning and retention (official client over HTTP)', function () {
  this.timeout(60_000);
  let emu: ClockedEmulator;
  let n = 0;
  const unique = (p: string) => `${p}-${Date.now()}-${n++}`;
  /** A retain-until `ms` after the emulator's now. */
  const ahead = (ms: number) => new Date(emu.now().getTime() + ms);
  const retention = (mode: 'Unlocked' | 'Locked', until: Date) => ({
    mode,
    retainUntilTime: until.toISOString(),
  });

  before(async () => {
    emu = await startClockedEmulator();
  });

  after(async () => {
    await emu?.stop();
  });

  async function retentionBucket(versioning = false): Promise<Bucket> {
    const [bucket] = await emu.storage.createBucket(unique('locked'), {
      enableObjectRetention: true,
      ...(versioning ? {versioning: {enabled: true}} : {}),
    });
    return bucket;
  }

  async function versionedBucket(): Promise<Bucket> {
    const [bucket] = await emu.storage.createBucket(unique('versioned'), {
      versioning: {enabled: true},
    });
    return bucket;
  }

  async function generationOf(file: File): Promise<string> {
    const [md] = await file.getMetadata();
    return String(md.generation);
  }

  describe('buckets', () => {
    it('should enable object retention from the enableObjectRetention query parameter of buckets.insert and read it back as mode Enabled', async () => {
      const bucket = await retentionBucket();
      const [md] = await bucket.getMetadata();
      assert.deepStrictEqual(md.objectRetention, {mode: 'Enabled'});
      const [plain] = await emu.storage.createBucket(unique('plain'));
      const [plainMd] = await plain.getMetadata();
      assert.strictEqual(plainMd.objectRetention, undefined);
      assert.strictEqual(plainMd.versioning, undefined);
    });

    it('should take versioning on insert and on bucket patch (setMetadata), and turn it off again', async () => {
      const bucket = await versionedBucket();
      assert.deepStrictEqual((await bucket.getMetadata())[0].versioning, {enabled: true});
      const [other] = await emu.storage.createBucket(unique('later'));
      const [patched] = await other.setMetadata({versioning: {enabled: true}});
      assert.deepStrictEqual(patched.versioning, {enabled: true});
      assert.strictEqual(patched.metageneration, '2');
      const [off] = await other.setMetadata({versioning: {enabled: false}});
      assert.deepStrictEqual(off.versioning, {enabled: false});
    });

    it('should refuse to turn object retention on by a bucket patch, as it is set at creation only', async () => {
      const [bucket] = await emu.storage.createBucket(unique('no-retention'));
      await refused(
        bucket.setMetadata({objectRetention: {mode: 'Enabled'}}),
        400,
        'emulatorLimitation',
      );
      // Sending back what the bucket already has is no change.
      const locked = await retentionBucket();
      const [md] = await locked.setMetadata({objectRetention: {mode: 'Enabled'}});
      assert.deepStrictEqual(md.objectRetention, {mode: 'Enabled'});
    });

    it('should refuse to delete a bucket that holds only noncurrent versions', async () => {
      const bucket = await versionedBucket();
      const file = bucket.file('a.txt');
      await file.save('x', {resumable: false});
      await file.delete();
      await refused(bucket.delete(), 409);
      const [versions] = await bucket.getFiles({versions: true});
      for (const v of versions) await v.delete();
      await bucket.delete();
    });
  });

  describe('versioning', () => {
    it('should keep an overwritten object as a noncurrent version, readable by its generation, with timeDeleted', async () => {
      const bucket = await versionedBucket();
      const file = bucket.file('calls/rec.ogg');
      const first = bytes(5000, 1);
      await file.save(first, {resumable: false, contentType: 'audio/ogg'});
      const gen1 = await generationOf(file);
      await file.save('second', {resumable: true});
      const gen2 = await generationOf(file);
      assert.ok(BigInt(gen2) > BigInt(gen1));
      const old = bucket.file('calls/rec.ogg', {generation: gen1});
      const [oldMd] = await old.getMetadata();
      assert.strictEqual(oldMd.contentType, 'audio/ogg');
      assert.ok(oldMd.timeDeleted, 'a noncurrent version has timeDeleted');
      const [oldBytes] = await old.download();
      assert.ok(oldBytes.equals(first));
      const [live] = await file.download();
      assert.strictEqual(live.toString(), 'second');
      const [liveMd] = await file.getMetadata();
      assert.strictEqual(liveMd.timeDeleted, undefined);
      // DATA holds the live object only; the noncurrent bytes live under META.
      const onDisk = fs.readFileSync(path.join(emu.dirs.data, bucket.name, 'calls', 'rec.ogg'));
      assert.strictEqual(onDisk.toString(), 'second');
    });

    it('should list noncurrent versions with versions=true only, oldest first, page by page', async () => {
      const bucket = await versionedBucket();
      for (const body of ['a1', 'a2', 'a3']) await bucket.file('a').save(body, {resumable: false});
      await bucket.file('b').save('b1', {resumable: false});
      await bucket.file('c').save('c1', {resumable: false});
      await bucket.file('c').delete();
      const [live] = await bucket.getFiles();
      assert.deepStrictEqual(
        live.map(f => f.name),
        ['a', 'b'],
      );
      const [all] = await bucket.getFiles({versions: true});
      assert.deepStrictEqual(
        all.map(f => [f.name, f.metadata.timeDeleted === undefined ? 'live' : 'noncurrent']),
        [
          ['a', 'noncurrent'],
          ['a', 'noncurrent'],
          ['a', 'live'],
          ['b', 'live'],
          ['c', 'noncurrent'],
        ],
      );
      const aGens = all.filter(f => f.name === 'a').map(f => BigInt(String(f.metadata.generation)));
      assert.deepStrictEqual(
        aGens,
        [...aGens].sort((x, y) => (x < y ? -1 : 1)),
      );
      // Each listed file is scoped to its generation, so it downloads that version.
      const [oldest] = await all[0]!.download();
      assert.strictEqual(oldest.toString(), 'a1');
      type Query = {maxResults: number; autoPaginate: false; versions: true; pageToken?: string};
      const paged: string[] = [];
      let query: Query | null = {maxResults: 2, autoPaginate: false, versions: true};
      let pages = 0;
      while (query) {
        const page = (await bucket.getFiles(query)) as unknown as [File[], Query | null];
        paged.push(...page[0].map(f => `${f.name}#${String(f.metadata.generation)}`));
        query = page[1];
        pages++;
      }
      assert.deepStrictEqual(
        paged,
        all.map(f => `${f.name}#${String(f.metadata.generation)}`),
      );
      assert.strictEqual(pages, 3);
      const [underPrefix] = await bucket.getFiles({versions: true, prefix: 'c'});
      assert.deepStrictEqual(
        underPrefix.map(f => f.name),
        ['c'],
      );
    });

    it('should make the live object noncurrent on a delete without generation, and remove a version for good with generation', async () => {
      const bucket = await versionedBucket();
      const file = bucket.file('gone.txt');
      await file.save('v1', {resumable: false});
      const gen = await generationOf(file);
      await file.delete();
      await refused(file.getMetadata(), 404);
      await refused(file.download(), 404);
      const version = bucket.file('gone.txt', {generation: gen});
      const [kept] = await version.download();
      assert.strictEqual(kept.toString(), 'v1');
      await version.delete();
      await refused(version.getMetadata(), 404);
      const [left] = await bucket.getFiles({versions: true});
      assert.deepStrictEqual(left, []);
      // A generation that never existed.
      await refused(bucket.file('gone.txt', {generation: 1}).delete(), 404);
    });

    it('should remove the live object for good when deleted by its own generation', async () => {
      const bucket = await versionedBucket();
      const file = bucket.file('purge.txt');
      await file.save('v1', {resumable: false});
      const gen = await generationOf(file);
      await bucket.file('purge.txt', {generation: gen}).delete();
      const [left] = await bucket.getFiles({versions: true});
      assert.deepStrictEqual(left, []);
    });

    it('should apply write preconditions to the live object only (ifGenerationMatch 0 succeeds once the live object is deleted)', async () => {
      const bucket = await versionedBucket();
      const file = bucket.file('once.json');
      await file.save('{"v":1}', {resumable: false, preconditionOpts: {ifGenerationMatch: 0}});
      const gen1 = await generationOf(file);
      await refused(
        file.save('{"v":2}', {resumable: false, preconditionOpts: {ifGenerationMatch: 0}}),
        412,
        'conditionNotMet',
      );
      await file.delete({ifGenerationMatch: Number(gen1)});
      // Only a noncurrent version is left: no live object, so "does not exist" holds.
      await file.save('{"v":3}', {resumable: true, preconditionOpts: {ifGenerationMatch: 0}});
      const gen3 = await generationOf(file);
      // A noncurrent generation is not the live one.
      await refused(
        file.save('{"v":4}', {
          resumable: false,
          preconditionOpts: {ifGenerationMatch: Number(gen1)},
        }),
        412,
      );
      await refused(file.delete({ifGenerationMatch: Number(gen1)}), 412);
      await file.save('{"v":5}', {
        resumable: false,
        preconditionOpts: {ifGenerationMatch: Number(gen3)},
      });
      const [versions] = await bucket.getFiles({versions: true});
      assert.strictEqual(versions.length, 3);
    });

    it('should read and patch a noncurrent version by generation, and answer 404 for a live read after its delete', async () => {
      const bucket = await versionedBucket();
      const file = bucket.file('meta.txt');
      await file.save('x', {resumable: false});
      const gen = await generationOf(file);
      await file.save('y', {resumable: false});
      const old = bucket.file('meta.txt', {generation: gen});
      const [patched] = await old.setMetadata({metadata: {note: 'old'}});
      assert.strictEqual(patched.generation, gen);
      assert.deepStrictEqual(patched.metadata, {note: 'old'});
      assert.ok(patched.timeDeleted);
      const [liveMd] = await file.getMetadata();
      assert.strictEqual(liveMd.metadata, undefined);
    });

    it('should copy from a noncurrent generation (restore an old version)', async () => {
      const bucket = await versionedBucket();
      const file = bucket.file('restore.txt');
      await file.save('old', {resumable: false, contentType: 'text/plain'});
      const gen = await generationOf(file);
      await file.save('new', {resumable: false});
      await bucket.file('restore.txt', {generation: gen}).copy(bucket.file('restore.txt'));
      const [now] = await file.download();
      assert.strictEqual(now.toString(), 'old');
      const [versions] = await bucket.getFiles({versions: true});
      assert.strictEqual(versions.length, 3);
    });

    it('should leave a bucket without versioning as it was: overwrites and deletes remove the old object', async () => {
      const [bucket] = await emu.storage.createBucket(unique('unversioned'));
      const file = bucket.file('x.txt');
      await file.save('1', {resumable: false});
      const gen = await generationOf(file);
      await file.save('2', {resumable: false});
      await refused(bucket.file('x.txt', {generation: gen}).getMetadata(), 404);
      await file.delete();
      const [left] = await bucket.getFiles({versions: true});
      assert.deepStrictEqual(left, []);
    });

    it('should send archived (not deleted) events for a versioned overwrite or delete, and deleted for a version removed for good or an unversioned overwrite', async () => {
      const events: Array<{type: string; subject: string; timeDeleted?: string}> = [];
      const receiver = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            timeDeleted?: string;
          };
          events.push({
            type: String(req.headers['ce-type']).replace('google.cloud.storage.object.v1.', ''),
            subject: String(req.headers['ce-subject']),
            ...(body.timeDeleted ? {timeDeleted: 'set'} : {}),
          });
          res.writeHead(204).end();
        });
      });
      const port = await listen(receiver, 0);
      try {
        const versioned = await versionedBucket();
        const [plain] = await emu.storage.createBucket(unique('plain-events'));
        for (const b of [versioned, plain]) {
          // Subscriptions are the emulator's admin API (Eventarc's trigger in production).
          const res = await fetch(`${emu.url}/_admin/notifications`, {
            method: 'POST',
            headers: {'content-type': 'application/json'},
            body: JSON.stringify({url: `http://127.0.0.1:${port}/`, bucket: b.name}),
          });
          assert.strictEqual(res.status, 200);
        }
        const vfile = versioned.file('v.txt');
        await vfile.save('1', {resumable: false});
        const gen1 = await generationOf(vfile);
        await vfile.save('2', {resumable: false});
        await vfile.delete();
        await versioned.file('v.txt', {generation: gen1}).delete();
        const pfile = plain.file('p.txt');
        await pfile.save('1', {resumable: false});
        await pfile.save('2', {resumable: false});
        await eventually('eight events', () => (events.length >= 8 ? true : undefined));
        const of = (subject: string) => events.filter(e => e.subject === subject);
        assert.deepStrictEqual(of('objects/v.txt'), [
          {type: 'finalized', subject: 'objects/v.txt'},
          {type: 'archived', subject: 'objects/v.txt', timeDeleted: 'set'},
          {type: 'finalized', subject: 'objects/v.txt'},
          {type: 'archived', subject: 'objects/v.txt', timeDeleted: 'set'},
          {type: 'deleted', subject: 'objects/v.txt', timeDeleted: 'set'},
        ]);
        assert.deepStrictEqual(of('objects/p.txt'), [
          {type: 'finalized', subject: 'objects/p.txt'},
          {type: 'deleted', subject: 'objects/p.txt'},
          {type: 'finalized', subject: 'objects/p.txt'},
        ]);
      } finally {
        await close(receiver);
      }
    });
  });

  describe('object retention: setting it', () => {
    const kinds: Array<[string, (file: File, metadata: FileMetadata) => Promise<unknown>]> = [
      [
        'multipart (save, resumable: false)',
        (f, metadata) => f.save('x', {resumable: false, metadata}),
      ],
      [
        'resumable (save, resumable: true)',
        (f, metadata) => f.save('x', {resumable: true, metadata}),
      ],
      [
        'resumable in 256 KiB chunks',
        (f, metadata) =>
          f.save(bytes(256 * 1024 + 10, 3), {resumable: true, chunkSize: 256 * 1024, metadata}),
      ],
      [
        'createWriteStream, resumable: false',
        (f, metadata) =>
          pipeline(
            Readable.from([Buffer.from('x')]),
            f.createWriteStream({resumable: false, metadata}),
          ),
      ],
      [
        'createWriteStream, resumable: true',
        (f, metadata) =>
          pipeline(
            Readable.from([Buffer.from('x')]),
            f.createWriteStream({resumable: true, metadata}),
          ),
      ],
    ];
    for (const [kind, upload] of kinds) {
      it(`should store and return the retention of a ${kind} upload, with retentionExpirationTime`, async () => {
        const bucket = await retentionBucket();
        const until = ahead(DAY);
        const file = bucket.file(`kinds/${kind.replace(/\W+/g, '-')}`);
        await upload(file, {retention: retention('Unlocked', until), metadata: {k: 'v'}});
        // The upload's own answer, then a fresh read.
        assert.deepStrictEqual(file.metadata.retention, retention('Unlocked', until));
        const [md] = await bucket.file(file.name).getMetadata();
        assert.deepStrictEqual(md.retention, retention('Unlocked', until));
        assert.strictEqual(md.retentionExpirationTime, until.toISOString());
        assert.deepStrictEqual(md.metadata, {k: 'v'});
      });
    }

    for (const resumable of [false, true]) {
      it(`should take a retention in the worker's call shape: createWriteStream({resumable: ${resumable}, metadata: {metadata, retention}, preconditionOpts: {ifGenerationMatch: 0}, validation: false})`, async () => {
        const bucket = await retentionBucket(true);
        const file = bucket.file(`calls/worker-${resumable}.ogg`);
        const r = retention('Unlocked', ahead(30 * DAY));
        const write = (body: Buffer) =>
          pipeline(
            Readable.from([body]),
            file.createWriteStream({
              resumable,
              contentType: 'audio/ogg',
              metadata: {metadata: {conversationId: 'c1'}, retention: r},
              preconditionOpts: {ifGenerationMatch: 0},
              validation: false,
            }),
          );
        await write(bytes(70_000, 9));
        assert.deepStrictEqual(file.metadata.retention, r);
        assert.deepStrictEqual(file.metadata.metadata, {conversationId: 'c1'});
        assert.strictEqual(file.metadata.contentType, 'audio/ogg');
        // Write-once still holds: the precondition fails before the retention is looked at.
        await refused(write(bytes(10, 1)), 412, 'conditionNotMet');
      });
    }

    it('should set a retention on an existing object with objects.patch', async () => {
      const bucket = await retentionBucket();
      const file = bucket.file('later.txt');
      await file.save('x', {resumable: false});
      const until = ahead(DAY);
      const [md] = await file.setMetadata({retention: retention('Locked', until)});
      assert.deepStrictEqual(md.retention, retention('Locked', until));
      assert.strictEqual(md.retentionExpirationTime, until.toISOString());
    });

    it('should refuse (400) a retention on an object in a bucket without object retention, on upload and on patch', async () => {
      const [bucket] = await emu.storage.createBucket(unique('no-retention'));
      const r = retention('Unlocked', ahead(DAY));
      await refused(bucket.file('a').save('x', {resumable: false, metadata: {retention: r}}), 400);
      await refused(bucket.file('b').save('x', {resumable: true, metadata: {retention: r}}), 400);
      const file = bucket.file('c');
      await file.save('x', {resumable: false});
      await refused(file.setMetadata({retention: r}), 400);
      const [left] = await bucket.getFiles();
      assert.deepStrictEqual(
        left.map(f => f.name),
        ['c'],
      );
    });

    it('should refuse (400) a retainUntilTime in the past', async () => {
      const bucket = await retentionBucket();
      const past = retention('Unlocked', ahead(-60_000));
      await refused(
        bucket.file('a').save('x', {resumable: false, metadata: {retention: past}}),
        400,
      );
      await refused(
        bucket.file('b').save('x', {resumable: true, metadata: {retention: past}}),
        400,
      );
      const file = bucket.file('c');
      await file.save('x', {resumable: false});
      await refused(file.setMetadata({retention: past}), 400);
    });

    it('should refuse (400) a retainUntilTime more than 100 years (3,155,760,000 s) ahead, and take one just inside', async () => {
      const bucket = await retentionBucket();
      const limit = 3_155_760_000 * 1000;
      await refused(
        bucket.file('far').save('x', {
          resumable: false,
          metadata: {retention: retention('Locked', ahead(limit + DAY))},
        }),
        400,
      );
      const inside = ahead(limit - DAY);
      const file = bucket.file('near');
      await file.save('x', {resumable: false, metadata: {retention: retention('Locked', inside)}});
      assert.strictEqual(file.metadata.retentionExpirationTime, inside.toISOString());
    });

    it('should refuse (400) a retention without a valid mode or time', async () => {
      const bucket = await retentionBucket();
      for (const bad of [
        {mode: 'Governance', retainUntilTime: ahead(DAY).toISOString()},
        {retainUntilTime: ahead(DAY).toISOString()},
        {mode: 'Locked', retainUntilTime: 'tomorrow'},
      ]) {
        await refused(
          bucket.file('bad').save('x', {resumable: false, metadata: {retention: bad}}),
          400,
        );
      }
    });
  });

  describe('object retention: what it forbids', () => {
    for (const mode of ['Unlocked', 'Locked'] as const) {
      it(`should refuse (403 retentionPolicyNotMet, with GCS' message) to delete or overwrite a ${mode} retained object by any upload, copy or rewrite`, async () => {
        const bucket = await retentionBucket();
        const until = ahead(DAY);
        const file = bucket.file('kept/rec.ogg');
        await file.save('original', {
          resumable: false,
          metadata: {retention: retention(mode, until)},
        });
        const message = retainedMessage(bucket.name, file.name, until);
        await refused(file.delete(), 403, 'retentionPolicyNotMet', message);
        await refused(
          file.save('other', {resumable: false}),
          403,
          'retentionPolicyNotMet',
          message,
        );
        await refused(file.save('other', {resumable: true}), 403, 'retentionPolicyNotMet', message);
        await bucket.file('src.txt').save('src', {resumable: false});
        // File#copy is a rewrite (rewriteTo) in this client.
        await refused(bucket.file('src.txt').copy(file), 403, 'retentionPolicyNotMet', message);
        // The single-request copy (copyTo) has no call of its own in the client.
        const copyTo = await fetch(
          `${emu.url}/storage/v1/b/${bucket.name}/o/src.txt/copyTo/b/${bucket.name}/o/${encodeURIComponent(file.name)}`,
          {method: 'POST'},
        );
        assert.strictEqual(copyTo.status, 403);
        const body = (await copyTo.json()) as {error: {errors: Array<{reason: string}>}};
        assert.strictEqual(body.error.errors[0]?.reason, 'retentionPolicyNotMet');
        const [still] = await file.download();
        assert.strictEqual(still.toString(), 'original');
      });
    }

    it('should answer a failing precondition (412) before the retention (403)', async () => {
      const bucket = await retentionBucket();
      const file = bucket.file('kept.txt');
      await file.save('x', {
        resumable: false,
        metadata: {retention: retention('Locked', ahead(DAY))},
      });
      for (const resumable of [false, true]) {
        await refused(
          file.save('y', {resumable, preconditionOpts: {ifGenerationMatch: 0}}),
          412,
          'conditionNotMet',
        );
      }
      await refused(file.delete({ifGenerationMatch: 1}), 412);
    });

    it('should accept every byte of a resumable upload over a retained object and refuse it at the final request', async () => {
      const bucket = await retentionBucket();
      const file = bucket.file('kept.bin');
      const until = ahead(DAY);
      await file.save('x', {resumable: false, metadata: {retention: retention('Unlocked', until)}});
      // The session is opened by the client; its chunks are sent by hand because the
      // client does not surface each chunk's answer (the 308s are the point here).
      const [uri] = await file.createResumableUpload();
      const data = bytes(3 * 256 * 1024, 7);
      for (let start = 0; start < data.length; start += 256 * 1024) {
        const end = start + 256 * 1024 - 1;
        const last = end === data.length - 1;
        const res = await fetch(uri, {
          method: 'PUT',
          headers: {'content-range': `bytes ${start}-${end}/${last ? data.length : '*'}`},
          body: data.subarray(start, end + 1),
        });
        if (!last) {
          assert.strictEqual(res.status, 308);
          assert.strictEqual(res.headers.get('range'), `bytes=0-${end}`);
          continue;
        }
        assert.strictEqual(res.status, 403);
        const body = (await res.json()) as {
          error: {message: string; errors: Array<{reason: string}>};
        };
        assert.strictEqual(body.error.errors[0]?.reason, 'retentionPolicyNotMet');
        assert.match(body.error.message, retainedMessage(bucket.name, file.name, until));
      }
      const [still] = await file.download();
      assert.strictEqual(still.toString(), 'x');
    });

    it('should let a metadata-only patch of a retained object succeed', async () => {
      const bucket = await retentionBucket();
      const file = bucket.file('kept.txt');
      const r = retention('Locked', ahead(DAY));
      await file.save('x', {resumable: false, metadata: {retention: r}});
      const [md] = await file.setMetadata({contentType: 'text/plain', metadata: {checked: 'yes'}});
      assert.strictEqual(md.contentType, 'text/plain');
      assert.deepStrictEqual(md.metadata, {checked: 'yes'});
      assert.deepStrictEqual(md.retention, r);
      assert.strictEqual(md.metageneration, '2');
    });

    it('should refuse (403) to shorten, remove or lock an Unlocked retention without overrideUnlockedRetention, and do each with it', async () => {
      const bucket = await retentionBucket();
      const file = bucket.file('unlocked.txt');
      const until = ahead(10 * DAY);
      await file.save('x', {resumable: false, metadata: {retention: retention('Unlocked', until)}});
      const shorter = retention('Unlocked', ahead(DAY));
      const locked = retention('Locked', until);
      await refused(file.setMetadata({retention: shorter}), 403);
      await refused(file.setMetadata({retention: null}), 403);
      await refused(file.setMetadata({retention: locked}), 403);
      // The flag only counts as the query parameter (the 2nd argument), not in the body.
      await refused(
        file.setMetadata({retention: null, overrideUnlockedRetention: true} as never),
        403,
      );
      assert.deepStrictEqual((await file.getMetadata())[0].retention, retention('Unlocked', until));
      const [short] = await file.setMetadata(
        {retention: shorter},
        {overrideUnlockedRetention: true},
      );
      assert.deepStrictEqual(short.retention, shorter);
      const [gone] = await file.setMetadata({retention: null}, {overrideUnlockedRetention: true});
      assert.strictEqual(gone.retention, undefined);
      assert.strictEqual(gone.retentionExpirationTime, undefined);
      await file.setMetadata({retention: retention('Unlocked', until)});
      const [lockedMd] = await file.setMetadata(
        {retention: locked},
        {overrideUnlockedRetention: true},
      );
      assert.deepStrictEqual(lockedMd.retention, locked);
      // Without a retention left, the object can go.
      const other = bucket.file('unlocked-2.txt');
      await other.save('x', {
        resumable: false,
        metadata: {retention: retention('Unlocked', until)},
      });
      await other.setMetadata({retention: null}, {overrideUnlockedRetention: true});
      await other.delete();
    });

    it('should refuse (403) to shorten, remove or unlock a Locked retention, with overrideUnlockedRetention or not', async () => {
      const bucket = await retentionBucket();
      const file = bucket.file('locked.txt');
      const until = ahead(10 * DAY);
      await file.save('x', {resumable: false, metadata: {retention: retention('Locked', until)}});
      for (const override of [{}, {overrideUnlockedRetention: true}]) {
        await refused(
          file.setMetadata({retention: retention('Locked', ahead(DAY))}, override),
          403,
        );
        await refused(file.setMetadata({retention: null}, override), 403);
        await refused(file.setMetadata({retention: retention('Unlocked', until)}, override), 403);
        await refused(
          file.setMetadata({retention: retention('Unlocked', ahead(20 * DAY))}, override),
          403,
        );
      }
      assert.deepStrictEqual((await file.getMetadata())[0].retention, retention('Locked', until));
    });

    it('should extend an Unlocked or a Locked retention without any override', async () => {
      const bucket = await retentionBucket();
      for (const mode of ['Unlocked', 'Locked'] as const) {
        const file = bucket.file(`extend-${mode}.txt`);
        await file.save('x', {
          resumable: false,
          metadata: {retention: retention(mode, ahead(DAY))},
        });
        const later = ahead(30 * DAY);
        const [md] = await file.setMetadata({retention: retention(mode, later)});
        assert.deepStrictEqual(md.retention, retention(mode, later));
        assert.strictEqual(md.retentionExpirationTime, later.toISOString());
        // Only the time given: the mode stays.
        const evenLater = ahead(60 * DAY);
        const [kept] = await file.setMetadata({
          retention: {retainUntilTime: evenLater.toISOString()},
        });
        assert.deepStrictEqual(kept.retention, retention(mode, evenLater));
      }
    });

    it('should let delete and overwrite succeed once retainUntilTime has passed', async () => {
      const bucket = await retentionBucket();
      const a = bucket.file('expires-a.txt');
      const b = bucket.file('expires-b.txt');
      for (const f of [a, b])
        await f.save('x', {
          resumable: false,
          metadata: {retention: retention('Locked', ahead(HOUR))},
        });
      await refused(a.delete(), 403, 'retentionPolicyNotMet');
      emu.advance(HOUR + 1000);
      await a.delete();
      await b.save('replaced', {resumable: true});
      const [md] = await b.getMetadata();
      assert.strictEqual(md.retention, undefined);
      const [names] = await bucket.getFiles();
      assert.deepStrictEqual(
        names.map(f => f.name),
        ['expires-b.txt'],
      );
    });
  });

  describe('object retention with versioning', () => {
    it('should make a retained live object noncurrent on overwrite and delete, keep it protected, and remove it after expiry', async () => {
      const bucket = await retentionBucket(true);
      const file = bucket.file('calls/rec.ogg');
      const until = ahead(2 * HOUR);
      const r = retention('Locked', until);
      await file.save('v1', {resumable: false, metadata: {retention: r}});
      const gen1 = await generationOf(file);
      // Overwrite: succeeds, v1 becomes noncurrent with its retention.
      await file.save('v2', {resumable: true});
      const v1 = bucket.file(file.name, {generation: gen1});
      const [v1Md] = await v1.getMetadata();
      assert.ok(v1Md.timeDeleted);
      assert.deepStrictEqual(v1Md.retention, r);
      const message = retainedMessage(bucket.name, file.name, until);
      await refused(v1.delete(), 403, 'retentionPolicyNotMet', message);
      // Delete of the live object (v2, not retained, and then a retained v3): noncurrent, kept.
      await file.save('v3', {resumable: false, metadata: {retention: r}});
      const gen3 = await generationOf(file);
      await file.delete();
      await refused(file.getMetadata(), 404);
      const v3 = bucket.file(file.name, {generation: gen3});
      await refused(v3.delete(), 403, 'retentionPolicyNotMet');
      // A retained noncurrent version still takes metadata and extensions.
      await v3.setMetadata({metadata: {note: 'kept'}});
      const [versions] = await bucket.getFiles({versions: true});
      assert.strictEqual(versions.length, 3);
      emu.advance(2 * HOUR + 1000);
      await v1.delete();
      await v3.delete();
      const [left] = await bucket.getFiles({versions: true});
      assert.deepStrictEqual(
        left.map(f => f.metadata.retention),
        [undefined],
      );
    });

    it('should refuse to remove a retained live object for good by its generation', async () => {
      const bucket = await retentionBucket(true);
      const file = bucket.file('kept.txt');
      await file.save('x', {
        resumable: false,
        metadata: {retention: retention('Unlocked', ahead(DAY))},
      });
      const gen = await generationOf(file);
      await refused(
        bucket.file(file.name, {generation: gen}).delete(),
        403,
        'retentionPolicyNotMet',
      );
      const [live] = await file.download();
      assert.strictEqual(live.toString(), 'x');
    });
  });

  describe('restarts', () => {
    it('should keep versioning, object retention, retentions and noncurrent versions across a restart', async () => {
      const first = await startClockedEmulator();
      let second: ClockedEmulator | undefined;
      try {
        const [bucket] = await first.storage.createBucket('persist-versions', {
          enableObjectRetention: true,
          versioning: {enabled: true},
        });
        const until = new Date(first.now().getTime() + DAY);
        const file = bucket.file('rec.ogg');
        await file.save('v1', {
          resumable: false,
          metadata: {retention: {mode: 'Locked', retainUntilTime: until.toISOString()}},
        });
        const gen1 = await generationOf(file);
        await file.save('v2', {resumable: false});
        await first.stop();
        second = await startClockedEmulator(first.dirs);
        const again = second.storage.bucket('persist-versions');
        const [md] = await again.getMetadata();
        assert.deepStrictEqual(md.versioning, {enabled: true});
        assert.deepStrictEqual(md.objectRetention, {mode: 'Enabled'});
        const old = again.file('rec.ogg', {generation: gen1});
        const [oldBytes] = await old.download();
        assert.strictEqual(oldBytes.toString(), 'v1');
        assert.deepStrictEqual((await old.getMetadata())[0].retention, {
          mode: 'Locked',
          retainUntilTime: until.toISOString(),
        });
        await refused(old.delete(), 403, 'retentionPolicyNotMet');
        // Generations keep increasing after a restart.
        await again.file('rec.ogg').save('v3', {resumable: false});
        const [versions] = await again.getFiles({versions: true});
        const gens = versions.map(v => BigInt(String(v.metadata.generation)));
        assert.deepStrictEqual(
          gens,
          [...gens].sort((x, y) => (x < y ? -1 : 1)),
        );
        assert.strictEqual(new Set(gens).size, 3);
      } finally {
        await first.stop().catch(() => {});
        await second?.stop();
      }
    });
  });
});

describe('GCS emulator: buckets made at start, as infra/storage.tf makes them', function () {
  this.timeout(120_000);

  async function startMain(
    args: string[],
    env: Record<string, string> = {},
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-gcs-main-')),
  ): Promise<{url: string; stop(): Promise<void>}> {
    const {command, args: full} = tsNode('local/gcs/main.ts', [
      '--port',
      '0',
      '--data',
      path.join(dir, 'data'),
      '--meta',
      path.join(dir, 'meta'),
      ...args,
    ]);
    const child = spawnChild({
      name: 'gcs-main',
      command,
      args: full,
      logDir: dir,
      env: {...process.env, GCS_BUCKET_VERSIONING: '', GCS_BUCKET_OBJECT_RETENTION: '', ...env},
    });
    const info = await waitForReadyLine(child);
    return {url: String(info.url), stop: () => child.stop()};
  }

  it('should create --bucket with versioning and object retention from the flags or the environment, and neither by default', async () => {
    const cases: Array<[string, string[], Record<string, string>, object]> = [
      ['default', [], {}, {versioning: undefined, objectRetention: undefined}],
      [
        'flags',
        ['--bucket-versioning', '--bucket-object-retention'],
        {},
        {versioning: {enabled: true}, objectRetention: {mode: 'Enabled'}},
      ],
      [
        'environment',
        [],
        {GCS_BUCKET_VERSIONING: '1', GCS_BUCKET_OBJECT_RETENTION: 'true'},
        {versioning: {enabled: true}, objectRetention: {mode: 'Enabled'}},
      ],
    ];
    for (const [what, args, env, expected] of cases) {
      const emu = await startMain(['--bucket', 'startup', ...args], env);
      try {
        const storage = new Storage({apiEndpoint: emu.url, projectId: 'demo-project'});
        const [md] = await storage.bucket('startup').getMetadata();
        assert.deepStrictEqual(
          {versioning: md.versioning, objectRetention: md.objectRetention},
          expected,
          what,
        );
      } finally {
        await emu.stop();
      }
    }
  });

  it('should turn versioning on for a bucket kept from an earlier run, and refuse to start when object retention is asked of one made without it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-gcs-kept-'));
    const first = await startMain(['--bucket', 'kept'], {}, dir);
    await first.stop();
    const second = await startMain(['--bucket', 'kept', '--bucket-versioning'], {}, dir);
    try {
      const storage = new Storage({apiEndpoint: second.url, projectId: 'demo-project'});
      const [md] = await storage.bucket('kept').getMetadata();
      assert.deepStrictEqual(md.versioning, {enabled: true});
    } finally {
      await second.stop();
    }
    await assert.rejects(
      startMain(['--bucket', 'kept', '--bucket-object-retention'], {}, dir),
      /bucket kept exists without object retention, which can only be enabled when a bucket is created/,
    );
    await assert.rejects(
      startMain(['--bucket', 'other'], {GCS_BUCKET_VERSIONING: 'yes'}),
      /GCS_BUCKET_VERSIONING must be 1, true, 0 or false/,
    );
  });

  it("should give the stack's bucket versioning and, by default (objectRetention unset), no object retention", async () => {
    const stack = await useStack();
    const storage = storageFor(stack);
    const [md] = await storage.bucket(stack.bucket).getMetadata();
    assert.deepStrictEqual(md.versioning, {enabled: true});
    assert.strictEqual(md.objectRetention, undefined);
  });
});
