/**
 * The real Pub/Sub emulator from the Google Cloud CLI (Java), started and
 * stopped as one process: we run the emulator's own start script (which
 * `exec`s java) rather than `gcloud beta emulators pubsub start`, whose java
 * child outlives the gcloud process.
 */
import {execFileSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {Child, freePort, spawnChild, waitUntil} from '../common/processes';

export class PubsubEmulatorMissingError extends Error {
  override name = 'PubsubEmulatorMissingError' as const;
}

const SCRIPT = path.join('platform', 'pubsub-emulator', 'bin', 'cloud-pubsub-emulator');

/** Where SDK installations usually live when `gcloud` cannot tell us. */
const SDK_ROOTS = [
  '/usr/lib/google-cloud-sdk',
  '/usr/share/google-cloud-sdk',
  '/opt/google-cloud-sdk',
  path.join(process.env.HOME ?? '/root', 'google-cloud-sdk'),
];

const INSTALL_HELP =
  'Install it with `gcloud components install pubsub-emulator` (SDK installed from the archive) ' +
  'or `apt-get install google-cloud-cli-pubsub-emulator` (SDK installed from the Debian/Ubuntu packages); ' +
  'it needs Java 11 or newer (`apt-get install openjdk-17-jre-headless`). ' +
  'Or set PUBSUB_EMULATOR_SCRIPT to the path of cloud-pubsub-emulator.';

function hasCommand(cmd: string, env: NodeJS.ProcessEnv): boolean {
  try {
    execFileSync('/bin/sh', ['-c', `command -v ${cmd}`], {stdio: 'ignore', env});
    return true;
  } catch {
    return false;
  }
}

/** Finds the emulator's start script, or throws with install instructions. */
export function findPubsubEmulator(
  env: NodeJS.ProcessEnv = process.env,
  sdkRoots: readonly string[] = SDK_ROOTS,
): string {
  const candidates: string[] = [];
  if (env.PUBSUB_EMULATOR_SCRIPT) candidates.push(env.PUBSUB_EMULATOR_SCRIPT);
  if (hasCommand('gcloud', env)) {
    try {
      const root = execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        env,
        timeout: 30_000,
      }).trim();
      if (root) candidates.push(path.join(root, SCRIPT));
    } catch {
      // fall through to the usual locations
    }
  }
  candidates.push(...sdkRoots.map(root => path.join(root, SCRIPT)));
  const script = candidates.find(c => fs.existsSync(c));
  if (!script) {
    throw new PubsubEmulatorMissingError(
      `The Pub/Sub emulator (cloud-pubsub-emulator) was not found; looked in: ${candidates.join(', ')}. ${INSTALL_HELP}`,
    );
  }
  if (!hasCommand('java', env) && !env.JAVA_HOME) {
    throw new PubsubEmulatorMissingError(
      `The Pub/Sub emulator needs Java, and no java is on PATH. ${INSTALL_HELP}`,
    );
  }
  return script;
}

export interface PubsubEmulator {
  readonly host: string;
  readonly port: number;
  readonly child: Child;
  stop(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1 and resolves once it answers HTTP. */
export async function startPubsubEmulator(opts: {
  port?: number;
  logDir: string;
}): Promise<PubsubEmulator> {
  const script = findPubsubEmulator();
  const port = opts.port || (await freePort());
  const child = spawnChild({
    name: 'pubsub-emulator',
    command: script,
    args: ['--host=127.0.0.1', `--port=${port}`],
    logDir: opts.logDir,
  });
  // GET / answers "Ok" once the emulator serves.
  await waitUntil(child, async () => (await fetch(`http://127.0.0.1:${port}/`)).ok, 60_000);
  return {host: `127.0.0.1:${port}`, port, child, stop: () => child.stop()};
}
