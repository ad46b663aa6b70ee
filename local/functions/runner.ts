/**
 * Runs one Cloud Function in its own Functions Framework process, as Cloud
 * Functions gen2 does in production: one process, one target, one port.
 * The TypeScript source is loaded through tsx, so no build step is needed.
 *
 * The process is supervised as the platform supervises an instance: when it
 * exits without being asked to (killed, crashed, out of memory), a new one
 * starts after a short backoff. The function's URL belongs to a front end
 * (./front-end.ts) that holds requests while no process listens and answers
 * 503 for a request whose process died, so the push endpoint and event
 * subscriptions pointing at it stay valid and see what they would see in
 * production. Each restart is logged in the function's log file. Only stop()
 * ends it for good.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {Child, freePort, spawnChild, tcpOpen, waitUntil} from '../common/processes';
import {startFrontEnd} from './front-end';

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
  /** The current process (a new one after each restart). */
  readonly child: Child;
  /** Its process id. */
  readonly pid: number | undefined;
  /** How many times a process that died was replaced. */
  readonly restarts: number;
  /** Sends `signal` to the current process, e.g. SIGKILL to make it die mid-request. */
  kill(signal?: NodeJS.Signals): void;
  /**
   * Resolves when a process accepts requests on the port: at once when the
   * current one does, else once it (or its replacement) does.
   */
  serving(timeoutMs?: number): Promise<void>;
  /** Stops the process for good (no restart). */
  stop(): Promise<void>;
}

export interface SupervisionOptions {
  /** Delay before the first restart after a process died, in ms (default 250). */
  initialBackoffMs?: number;
  /** Largest delay between restarts, in ms (default 10 s); doubled from the first. */
  maxBackoffMs?: number;
  /** A process that served this long resets the backoff, in ms (default 30 s). */
  stableAfterMs?: number;
}

const SUPERVISION = {initialBackoffMs: 250, maxBackoffMs: 10_000, stableAfterMs: 30_000};

/** How long a (re)started process may take to listen, in ms. */
const START_TIMEOUT_MS = 60_000;

/** The framework's CLI; its package exports hide it, so go via the main module. */
function frameworkMain(): string {
  return path.join(path.dirname(require.resolve('@google-cloud/functions-framework')), 'main.js');
}

export async function startFunction(
  spec: FunctionSpec,
  opts: {
    logDir: string;
    env: NodeJS.ProcessEnv;
    port?: number;
    supervision?: SupervisionOptions;
  },
): Promise<RunningFunction> {
  const port = opts.port || (await freePort());
  /** Where the processes listen, behind the front end on `port`. */
  const processPort = await freePort();
  const supervision = {...SUPERVISION, ...opts.supervision};
  const main = frameworkMain();
  const name = `function-${spec.target}`;
  const spawn = (appendLog: boolean): Child =>
    spawnChild({
      name,
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        main,
        `--source=${path.resolve(spec.source)}`,
        `--target=${spec.target}`,
        `--signature-type=${spec.signature}`,
        `--port=${processPort}`,
      ],
      logDir: opts.logDir,
      env: {...opts.env, ...spec.env, NODE_ENV: opts.env.NODE_ENV ?? 'development'},
      appendLog,
    });
  // A GET to a CloudEvent target answers 500, so readiness is a TCP check.
  const listening = (c: Child) => waitUntil(c, () => tcpOpen(processPort), START_TIMEOUT_MS);

  let child = spawn(false);
  await listening(child);
  const front = await startFrontEnd({port, upstreamPort: processPort, holdMs: START_TIMEOUT_MS});

  let stopped = false;
  let restarts = 0;
  let backoff = supervision.initialBackoffMs;
  let startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  /** Settles when a process listens again (or the function is stopped). */
  let ready: Promise<void> = Promise.resolve();
  let markReady: (() => void) | undefined;
  const notReady = () => {
    if (!markReady) ready = new Promise<void>(resolve => (markReady = resolve));
  };
  const isReady = () => {
    markReady?.();
    markReady = undefined;
  };

  const note = (line: string) => {
    // In the function's own log, where the platform logs an instance's end.
    try {
      fs.appendFileSync(child.logFile, `${new Date().toISOString()} [local stack] ${line}\n`);
    } catch {
      process.stderr.write(`local stack: ${line}\n`);
    }
  };

  const restartAfter = (delay: number) => {
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped) return;
      let started: Child;
      try {
        started = spawn(true);
      } catch (err) {
        note(`${name} could not be restarted: ${err instanceof Error ? err.message : err}`);
        restartAfter(nextBackoff());
        return;
      }
      restarts++;
      startedAt = Date.now();
      child = started;
      supervise(started);
      listening(started).then(
        () => {
          if (started !== child) return;
          note(`${name} restarted (pid ${started.proc.pid}, restart ${restarts})`);
          isReady();
        },
        () => {
          // Died before listening: its exit schedules the next attempt. Hung
          // without listening: killed, as the platform fails a startup probe.
          if (!stopped && started === child) started.kill('SIGKILL');
        },
      );
    }, delay);
  };

  const nextBackoff = () => {
    const delay = backoff;
    backoff = Math.min(backoff * 2, supervision.maxBackoffMs);
    return delay;
  };

  const supervise = (c: Child) => {
    c.proc.once('exit', (code, signal) => {
      if (stopped || c !== child) return;
      if (Date.now() - startedAt >= supervision.stableAfterMs)
        backoff = supervision.initialBackoffMs;
      const delay = nextBackoff();
      notReady();
      note(
        `${name} (pid ${c.proc.pid}) exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`}); ` +
          `restarting it on port ${port} in ${delay} ms`,
      );
      restartAfter(delay);
    });
  };
  supervise(child);

  return {
    target: spec.target,
    port,
    url: `http://127.0.0.1:${port}`,
    get child() {
      return child;
    },
    get pid() {
      return child.proc.pid;
    },
    get restarts() {
      return restarts;
    },
    kill: (signal = 'SIGKILL') => child.kill(signal),
    serving: async (timeoutMs = START_TIMEOUT_MS) => {
      let timeout: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          ready,
          new Promise<never>((_, reject) => {
            timeout = setTimeout(
              () => reject(new Error(`${name} is not serving after ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timeout);
      }
    },
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      isReady();
      await child.stop();
      await front.close();
    },
  };
}
