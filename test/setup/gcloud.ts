/**
 * The real Google Cloud CLI on the shared stack's GCS emulator, for the
 * gcloud conformance suites (test/local/gcs-gcloud.spec.ts in `npm test`,
 * test/gcloud/ in `npm run test:gcloud`): gcloud runs with the environment
 * the stack gives it (local/gcloud-env.ts: endpoint override, an identity's
 * access token in a file, the stack's own configuration folder) over this
 * process's environment stripped of a developer's gcloud settings, in a
 * folder holding a small text file and a 20 MB binary file.
 */
import * as assert from 'node:assert';
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {Bucket, CRC32C, Storage} from '@google-cloud/storage';
import {TestStack, useStack} from './stack';
import {Ran, bytes, runCommand, skipWithoutGcloud, withoutGcloudSettings} from '../helpers';
import {storageFor} from '../../local/run-day';

/** Size of the large file: above gcloud's resumable threshold (8 MiB). */
export const BIG = 20_000_000;

export function md5(buf: Buffer): string {
  return createHash('md5').update(buf).digest('base64');
}

export function crc32c(buf: Buffer): string {
  const crc = new CRC32C();
  crc.update(buf);
  return crc.toString();
}

export interface GcloudOptions {
  /** The stack identity gcloud acts as (default the project owner). */
  identity?: string;
  /** gcloud properties as CLOUDSDK_* variables. */
  env?: Record<string, string>;
}

export class GcloudBench {
  /** `small.txt`: text whose last line ends in CR LF (kept byte for byte). */
  readonly small = Buffer.from('hello from gcloud\nsecond line\r\n');
  /** `big.bin`: 20 MB of pseudo-random bytes. */
  readonly big = bytes(BIG, 7);
  /** The official client as the project owner, to check what gcloud did. */
  readonly storage: Storage;

  private constructor(
    readonly stack: TestStack,
    /** gcloud's working folder, holding small.txt and big.bin. */
    readonly dir: string,
  ) {
    this.storage = storageFor(stack);
    fs.writeFileSync(path.join(dir, 'small.txt'), this.small);
    fs.writeFileSync(path.join(dir, 'big.bin'), this.big);
  }

  /** Starts (or joins) the shared stack; skips the suite, saying why, without gcloud. */
  static async open(ctx: Mocha.Context, what: string): Promise<GcloudBench> {
    await skipWithoutGcloud(ctx, what);
    const stack = await useStack();
    return new GcloudBench(stack, fs.mkdtempSync(path.join(os.tmpdir(), 'grm-gcloud-')));
  }

  /** gcloud ARGS as one of the stack's identities; never throws on its exit code. */
  gcloud(args: string[], opts: GcloudOptions = {}): Promise<Ran> {
    return runCommand('gcloud', args, {
      env: {
        ...withoutGcloudSettings(),
        ...this.stack.gcloudEnv(opts.identity ?? 'owner'),
        ...(opts.env ?? {}),
      },
      cwd: this.dir,
    });
  }

  /** gcloud ARGS that must succeed. */
  async ok(args: string[], opts: GcloudOptions = {}): Promise<Ran> {
    const r = await this.gcloud(args, opts);
    assert.strictEqual(r.code, 0, `gcloud ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return r;
  }

  /** A bucket gcloud creates (`--location=L` and the like in `flags`). */
  async bucket(name: string, ...flags: string[]): Promise<Bucket> {
    await this.ok(['storage', 'buckets', 'create', `gs://${name}`, ...flags]);
    return this.storage.bucket(name);
  }

  /** A file of the working folder. */
  local(name: string): Buffer {
    return fs.readFileSync(path.join(this.dir, name));
  }

  /** An object's bytes as the emulator keeps them: a plain file under its data directory. */
  stored(bucket: Bucket, name: string): Buffer {
    return fs.readFileSync(path.join(this.stack.dirs.gcsData, bucket.name, name));
  }

  close(): void {
    fs.rmSync(this.dir, {recursive: true, force: true});
  }
}

/** `gs://BUCKET/OBJECT`. */
export function gs(bucket: Bucket, object = ''): string {
  return `gs://${bucket.name}/${object}`;
}
