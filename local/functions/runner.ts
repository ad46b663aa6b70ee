/**
 * Runs one Cloud Function in its own Functions Framework process, as Cloud
 * Functions gen2 does in production: one process, one target, one port.
 * The TypeScript source is loaded through tsx, so no build step is needed.
 */
import * as path from 'node:path';
import {Child, freePort, spawnChild, tcpOpen, waitUntil} from '../common/processes';

export interface FunctionSpec {
  /** The registered function name (`--target`). */
  target: string;
  signature: 'http' | 'cloudevent';
  /** The module that registers it. */
  source: string;
  /** Extra environment for this function only. */
  env?: Record<string, string>;
}

export interface RunningFunction {
  readonly target: string;
  readonly port: number;
  readonly url: string;
  readonly child: Child;
  stop(): Promise<void>;
}

/** The framework's CLI; its package exports hide it, so go via the main module. */
function frameworkMain(): string {
  return path.join(path.dirname(require.resolve('@google-cloud/functions-framework')), 'main.js');
}

export async function startFunction(
  spec: FunctionSpec,
  opts: {logDir: string; env: NodeJS.ProcessEnv; port?: number},
): Promise<RunningFunction> {
  const port = opts.port || (await freePort());
  const main = frameworkMain();
  const child = spawnChild({
    name: `function-${spec.target}`,
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      main,
      `--source=${path.resolve(spec.source)}`,
      `--target=${spec.target}`,
      `--signature-type=${spec.signature}`,
      `--port=${port}`,
    ],
    logDir: opts.logDir,
    env: {...opts.env, ...spec.env, NODE_ENV: opts.env.NODE_ENV ?? 'development'},
  });
  // A GET to a CloudEvent target answers 500, so readiness is a TCP check.
  await waitUntil(child, () => tcpOpen(port), 60_000);
  return {
    target: spec.target,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () => child.stop(),
  };
}
