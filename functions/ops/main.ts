/** `grm` as a process: the real streams, environment and clock. */
import {grm} from './grm';

// Only the local stack has no metadata server to ask; on Google's machines ADC needs it.
if (process.argv.includes('--local')) process.env.METADATA_SERVER_DETECTION ??= 'none';
grm(process.argv.slice(2), {
  out: line => process.stdout.write(line + '\n'),
  err: line => process.stderr.write(line + '\n'),
  env: process.env,
  now: () => Date.now(),
  sleep: ms => new Promise(resolve => setTimeout(resolve, ms)),
}).then(
  code => {
    process.exitCode = code;
  },
  err => {
    process.stderr.write(`grm: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
