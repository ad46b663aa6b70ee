/**
 * `npm run demo`: one nightly export, end to end, on the local stack.
 *
 * The export pipeline (planner, worker, checker) is not built yet, so for now
 * the demo starts the local stack, shows what runs and where, checks that the
 * stand-ins answer, and stops. It says so plainly rather than pretending.
 */
import {parseFlags, UsageError, usage} from './common/cli';
import {startStack} from './stack';
import {describeStack, productFunctions} from './product';
import {DEFAULT_CLIENT} from './genesys/clients';

const SPECS = [
  {name: 'keep', help: 'leave the stack running until Ctrl-C', boolean: true},
  {name: 'help', help: 'print this help', boolean: true},
];

async function main(): Promise<number> {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), SPECS);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`demo: ${err.message}\n\n${usage('npm run demo -- [flags]', SPECS)}`);
      return 2;
    }
    throw err;
  }
  if (flags.has('help')) {
    console.log(usage('npm run demo -- [flags]', SPECS));
    return 0;
  }
  const started = Date.now();
  console.log(
    'Starting the local stack (Pub/Sub emulator, GCS emulator, Secret Manager, SendGrid sink, Genesys simulator)…',
  );
  const stack = await startStack({functions: productFunctions()});
  try {
    console.log(describeStack(stack));
    const checks = await Promise.all([
      fetch(`${stack.gcsUrl}/storage/v1/b/${stack.bucket}`).then(
        r => ['GCS bucket', r.ok] as const,
      ),
      fetch(`http://${stack.pubsubHost}/`).then(r => ['Pub/Sub emulator', r.ok] as const),
      fetch(`${stack.sendgridUrl}/_admin/mail`).then(r => ['SendGrid sink', r.ok] as const),
      fetch(`${stack.genesysUrl}/oauth/token`, {
        method: 'POST',
        headers: {authorization: `Basic ${Buffer.from(DEFAULT_CLIENT).toString('base64')}`},
        body: 'grant_type=client_credentials',
      }).then(r => ['Genesys simulator', r.ok] as const),
    ]);
    console.log('\nHealth:');
    for (const [name, ok] of checks) console.log(`  ${name.padEnd(18)} ${ok ? 'ok' : 'NOT OK'}`);
    console.log(
      `\nStack ready in ${((Date.now() - started) / 1000).toFixed(1)} s.\n` +
        'The export pipeline (planner, batch worker, checker) is not built yet, so nothing was exported.\n' +
        'See README.md, "Status".',
    );
    if (flags.has('keep')) {
      console.log('\n--keep: the stack stays up; press Ctrl-C to stop it.');
      await new Promise<void>(resolve => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

main().then(
  code => process.exit(code),
  err => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
