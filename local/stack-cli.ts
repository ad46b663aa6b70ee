/**
 * `npm run stack [-- --keep-data] [--root DIR] [--workers N] [--retention-days N [--retention-mode M]]`
 *
 * Starts the whole local stack, prints the environment to reach it and the
 * function URLs, and on Ctrl-C or SIGTERM stops every process it started.
 */
import {parseFlags, flag, numberFlag, UsageError, usage} from './common/cli';
import {Stack, startStack} from './stack';
import {describeStack, productEnv, productFunctions, productSecrets, retentionEnv} from './product';

const SPECS = [
  {name: 'root', help: 'directory for local state (default .local)'},
  {name: 'keep-data', help: 'keep GCS objects, mail and logs from the last run', boolean: true},
  {name: 'seed', help: 'Genesys organisation seed (default demo)'},
  {name: 'conversations-per-day', help: 'Genesys conversations per day (default 200)'},
  {name: 'profile', help: 'Genesys recording states: clean or lossy (default clean)'},
  {
    name: 'workers',
    help: 'worker processes behind the push subscription, one push at a time each, as in production (default: one process taking every push at once)',
  },
  {
    name: 'retention-days',
    help: 'retain every recording and metadata object N days (RETENTION_DAYS), in a bucket created with object retention enabled, as production with retention_days',
  },
  {name: 'retention-mode', help: 'unlocked or locked (RETENTION_MODE; default unlocked)'},
  {name: 'help', help: 'print this help', boolean: true},
];

function genesysProfile(value: string | undefined): 'clean' | 'lossy' | undefined {
  if (value === undefined || value === 'clean' || value === 'lossy') return value;
  throw new UsageError(`--profile must be clean or lossy, got "${value}"`);
}

function workersFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000)
    throw new UsageError(`--workers must be a whole number from 1 to 1000, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  let flags;
  let workerInstances: number | undefined;
  let retention: Record<string, string>;
  try {
    flags = parseFlags(process.argv.slice(2), SPECS);
    workerInstances = workersFlag(flags.get('workers')?.[0]);
    retention = retentionEnv(flags.get('retention-days')?.[0], flags.get('retention-mode')?.[0]);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`stack: ${err.message}\n\n${usage('npm run stack -- [flags]', SPECS)}`);
      process.exit(2);
    }
    throw err;
  }
  if (flags.has('help')) return void console.log(usage('npm run stack -- [flags]', SPECS));
  console.log('Starting the local stack…');
  const stack: Stack = await startStack({
    root: flag(flags, 'root'),
    fresh: !flags.has('keep-data'),
    functions: productFunctions(),
    secrets: productSecrets(),
    functionEnv: productEnv(retention),
    workerInstances,
    objectRetention: retention.RETENTION_DAYS !== undefined,
    genesys: {
      seed: flag(flags, 'seed'),
      conversationsPerDay: flags.has('conversations-per-day')
        ? numberFlag(flags, 'conversations-per-day', 200)
        : undefined,
      profile: genesysProfile(flag(flags, 'profile')),
    },
  });
  console.log(describeStack(stack));
  console.log('\nPress Ctrl-C to stop every process of the stack.');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the local stack…');
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch(err => {
  console.error(`stack: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
