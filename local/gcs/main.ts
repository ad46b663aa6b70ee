/**
 * `npm run local:gcs -- --port N --data DIR --notify URL`
 *
 * Starts the Cloud Storage emulator. Point `@google-cloud/storage` at it with
 * `STORAGE_EMULATOR_HOST=http://127.0.0.1:N` or `apiEndpoint`.
 */
import {createGcsServer} from './server';
import {FileStore} from './store';
import {DEFAULT_DELIVERY, EventNotifier} from './events';
import {flag, numberFlag, portFlag} from '../common/cli';
import {close, listen} from '../common/http';
import {runService} from '../common/service-main';

runService(
  'gcs-emulator',
  'Cloud Storage JSON API emulator (objects as plain files under --data)',
  [
    {name: 'port', help: 'TCP port on 127.0.0.1 (default 0 = any free port)'},
    {name: 'data', help: 'object bytes: DIR/{bucket}/{object} (default .local/gcs)'},
    {name: 'meta', help: 'metadata, generations and uploads (default .local/gcs-meta)'},
    {name: 'bucket', help: 'create this bucket at start if missing', repeatable: true},
    {name: 'notify', help: 'POST object CloudEvents to [BUCKET=]URL', repeatable: true},
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
    for (const bucket of flags.get('bucket') ?? []) {
      if (!store.listBuckets().some(b => b.name === bucket)) store.createBucket(bucket);
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
    );
    for (const spec of flags.get('notify') ?? []) {
      const eq = spec.indexOf('=');
      const isBucketScoped = eq > 0 && !spec.slice(0, eq).includes(':');
      notifier.subscribe(
        isBucketScoped ? {bucket: spec.slice(0, eq), url: spec.slice(eq + 1)} : {url: spec},
      );
    }
    const server = createGcsServer({store, notifier});
    const port = await listen(server, portFlag(flags));
    return {
      port,
      info: {url: `http://127.0.0.1:${port}`, dataDir: store.dataDir, metaDir: store.metaDir},
      stop: () => close(server),
    };
  },
);
