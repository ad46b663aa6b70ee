/**
 * `npm run local:gcs -- --port N --data DIR --bucket B [--bucket-versioning] [--bucket-object-retention] --notify URL`
 *
 * Starts the Cloud Storage emulator. Point `@google-cloud/storage` at it with
 * `STORAGE_EMULATOR_HOST=http://127.0.0.1:N` or `apiEndpoint`.
 *
 * The `--bucket` buckets are made as infra/storage.tf makes the recordings
 * bucket when asked: versioning on (`--bucket-versioning` or
 * `GCS_BUCKET_VERSIONING=1`), object retention enabled
 * (`--bucket-object-retention` or `GCS_BUCKET_OBJECT_RETENTION=1`).
 */
import {createGcsServer} from './server';
import {FileStore} from './store';
import {DEFAULT_DELIVERY, EventNotifier} from './events';
import {ParsedFlags, UsageError, flag, numberFlag, portFlag} from '../common/cli';
import {close, listen} from '../common/http';
import {runService} from '../common/service-main';
import {Access, readAccessConfig} from '../iam/authorize';
import {mintToken} from '../iam/tokens';

runService(
  'gcs-emulator',
  'Cloud Storage JSON API emulator (objects as plain files under --data)',
  [
    {name: 'port', help: 'TCP port on 127.0.0.1 (default 0 = any free port)'},
    {name: 'data', help: 'object bytes: DIR/{bucket}/{object} (default .local/gcs)'},
    {name: 'meta', help: 'metadata, generations and uploads (default .local/gcs-meta)'},
    {name: 'bucket', help: 'create this bucket at start if missing', repeatable: true},
    {
      name: 'bucket-versioning',
      help: 'the --bucket buckets have object versioning on (or GCS_BUCKET_VERSIONING=1)',
      boolean: true,
    },
    {
      name: 'bucket-object-retention',
      help: 'the --bucket buckets are created with object retention enabled (or GCS_BUCKET_OBJECT_RETENTION=1)',
      boolean: true,
    },
    {name: 'notify', help: 'POST object CloudEvents to [BUCKET=]URL', repeatable: true},
    {
      name: 'iam',
      help: 'authorize every call against DIR/policy.json (infra/ IAM) with the tokens of DIR/key; without it anyone may do anything',
    },
    {
      name: 'notify-attempts',
      help: `delivery attempts per event (default ${DEFAULT_DELIVERY.maxAttempts})`,
    },
    {
      name: 'notify-backoff-ms',
      help: `first retry delay, doubled each time (default ${DEFAULT_DELIVERY.initialBackoffMs})`,
    },
  ],
  async flags => {
    const store = await FileStore.open(
      flag(flags, 'data', '.local/gcs'),
      flag(flags, 'meta', '.local/gcs-meta'),
    );
    const iamDir = flags.get('iam')?.[0];
    const config = iamDir ? readAccessConfig(iamDir) : undefined;
    const access = config ? new Access(config) : undefined;
    const iamKey = config?.key;
    const versioning = switchOn(flags, 'bucket-versioning', 'GCS_BUCKET_VERSIONING');
    const objectRetention = switchOn(
      flags,
      'bucket-object-retention',
      'GCS_BUCKET_OBJECT_RETENTION',
    );
    for (const bucket of flags.get('bucket') ?? []) {
      const existing = store.listBuckets().find(b => b.name === bucket);
      if (!existing) {
        store.createBucket(bucket, {...(versioning ? {versioning} : {}), objectRetention});
        continue;
      }
      // Kept from an earlier run (--keep-data): versioning can be turned on, as
      // `terraform apply` would; object retention only at creation (ForceNew).
      if (objectRetention && !existing.objectRetention) {
        throw new Error(
          `bucket ${bucket} exists without object retention, which can only be enabled when a bucket is created: start with fresh data`,
        );
      }
      if (versioning && !existing.versioning) store.patchBucket(bucket, {versioning});
    }
    const notifier = new EventNotifier(
      {
        ...DEFAULT_DELIVERY,
        maxAttempts: Math.max(
          1,
          numberFlag(flags, 'notify-attempts', DEFAULT_DELIVERY.maxAttempts),
        ),
        initialBackoffMs: numberFlag(flags, 'notify-backoff-ms', DEFAULT_DELIVERY.initialBackoffMs),
      },
      line => console.error(`gcs-emulator: ${line}`),
      access ? (email, aud) => mintToken(iamKey!, {email, kind: 'id', aud}) : undefined,
    );
    for (const spec of flags.get('notify') ?? []) {
      const eq = spec.indexOf('=');
      const isBucketScoped = eq > 0 && !spec.slice(0, eq).includes(':');
      notifier.subscribe(
        isBucketScoped ? {bucket: spec.slice(0, eq), url: spec.slice(eq + 1)} : {url: spec},
      );
    }
    const server = createGcsServer({store, notifier, ...(access ? {access} : {})});
    const port = await listen(server, portFlag(flags));
    return {
      port,
      info: {url: `http://127.0.0.1:${port}`, dataDir: store.dataDir, metaDir: store.metaDir},
      stop: () => close(server),
    };
  },
);

/** A boolean switch given as a flag or as an environment variable (`1`/`true` or `0`/`false`). */
function switchOn(flags: ParsedFlags, name: string, envName: string): boolean {
  if (flags.has(name)) return true;
  const raw = process.env[envName];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new UsageError(`${envName} must be 1, true, 0 or false, got "${raw}"`);
}
