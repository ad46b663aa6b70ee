/**
 * Runs one Cloud Function in Functions Framework processes, as Cloud
 * Functions gen2 does in production: each instance one process, one target,
 * one port. By default one instance; `instances: N` runs N, as the platform
 * runs up to `max_instance_count`. The TypeScript source is loaded through
 * tsx, so no build step is needed.
 *
 * Each process is supervised as the platform supervises an instance: when it
 * exits without being asked to (killed, crashed, out of memory), a new one
 * starts on its port after a short backoff. The function's URL belongs to a
 * front end (./front-end.ts) that spreads requests over the instances
 * (`concurrency` at a time each), holds them while none is free or no process
 * listens, and answers 503 for a request whose process died, so the push
 * endpoint and event subscriptions pointing at it stay valid and see what
 * they would see in production. Each restart is logged in the instance's log
 * file. Only stop() ends it for good.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {Child, freePort, spawnChild, tcpOpen, waitUntil} from '../common/processes';
import type * as http from 'node:http';
import {FrontEnd, FrontEndStats, Refusal, startFrontEnd} from './front-end';

export interface FunctionSpec {
  /** The registered function name (`--target`). */
  target: string;
  signature: 'http' | 'cloudevent';
  /** The module that registers it. */
  source: string;
  /** Extra environment for this function only. */
  env?: Record<string, string>;
  /**
   * Extra environment that depends on how many processes run the function
   * (the product's `WORKER_INSTANCES`, see local/product.ts).
   */
  envForInstances?: (instances: number) => Record<string, string>;
}

/** One instance of a function: a supervised process on its own port. */
export interface RunningInstance {
  /** Its place among the function's instances (0 first). */
  readonly index: number;
  /** Where its processes listen, behind the front end. */
  readonly processPort: number;
  /** The current process (a new one after each restart). */
  readonly child: Child;
  readonly pid: number | undefined;
  /** How many times a process of this instance that died was replaced. */
  readonly restarts: number;
  /** Sends `signal` to the current process, e.g. SIGKILL to make it die mid-request. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when a process of this instance accepts requests. */
  serving(timeoutMs?: number): Promise<void>;
}

export interface FunctionStats extends FrontEndStats {
  /** Requests answered by each process that answered any, by pid (restarts give new pids). */
  answeredByPid: Record<string, number>;
}

export interface RunningFunction {
  readonly target: string;
  readonly port: number;
  readonly url: string;
  /** Its instances (one unless started with `instances`). */
  readonly instances: readonly RunningInstance[];
  /** The first instance's current process (a new one after each restart). */
  readonly child: Child;
  /** Its process id. */
  readonly pid: number | undefined;
  /** How many times a process that died was replaced, over all instances. */
  readonly restarts: number;
  /** Sends `signal` to the first instance's process, e.g. SIGKILL to make it die mid-request. */
  kill(signal?: NodeJS.Signals): void;
  /**
   * Resolves when every instance has a process that accepts requests: at
   * once when the current ones do, else once they (or their replacements) do.
   */
  serving(timeoutMs?: number): Promise<void>;
  /**
   * A new revision with `changes` to its environment (a variable given as
   * undefined is removed), as a redeploy with new settings: each instance's
   * process is stopped and a new one started with the new environment.
   * Resolves when every new process serves; the front end holds requests
   * meanwhile. Not while requests are in flight: they would be cut.
   */
  redeploy(changes: Record<string, string | undefined>): Promise<void>;
  /** The front end's figures: requests per instance and per pid, waits, 429s, 503s. */
  stats(): FunctionStats;
  /** Stops the processes for good (no restart). */
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
    /** How many instances (processes) run the function (default 1). */
    instances?: number;
    /** Requests one instance takes at once (default: no limit). */
    concurrency?: number;
    /** Cloud Run's invoker check of each request (see startFrontEnd). */
    authorize?: (req: http.IncomingMessage, url: string) => Refusal | undefined;
  },
): Promise<RunningFunction> {
  const count = opts.instances ?? 1;
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`instances must be a whole number ≥ 1, got ${count}`);
  const port = opts.port || (await freePort());
  const env: NodeJS.ProcessEnv = {
    ...opts.env,
    ...spec.env,
    ...spec.envForInstances?.(count),
    NODE_ENV: opts.env.NODE_ENV ?? 'development',
  };
  const supervision = {...SUPERVISION, ...opts.supervision};
  const instances: Instance[] = [];
  try {
    const taken = new Set([port]);
    for (let i = 0; i < count; i++) {
      let processPort = await freePort();
      while (taken.has(processPort)) processPort = await freePort();
      taken.add(processPort);
      // The first instance's log keeps the single-instance name.
      const name = `function-${spec.target}${i === 0 ? '' : `-${i}`}`;
      instances.push(new Instance(i, name, spec, env, opts.logDir, processPort, port, supervision));
    }
    await Promise.all(instances.map(i => i.start()));
  } catch (err) {
    await Promise.all(instances.map(i => i.stop()));
    throw err;
  }
  const answeredByPid: Record<string, number> = {};
  let front: FrontEnd;
  try {
    front = await startFrontEnd({
      port,
      upstreamPorts: instances.map(i => i.processPort),
      concurrency: opts.concurrency,
      holdMs: START_TIMEOUT_MS,
      ...(opts.authorize
        ? {authorize: req => opts.authorize!(req, `http://127.0.0.1:${port}`)}
        : {}),
      onAnswer: index => {
        const pid = String(instances[index]!.pid);
        answeredByPid[pid] = (answeredByPid[pid] ?? 0) + 1;
      },
    });
  } catch (err) {
    await Promise.all(instances.map(i => i.stop()));
    throw err;
  }
  const first = instances[0]!;
  return {
    target: spec.target,
    port,
    url: `http://127.0.0.1:${port}`,
    instances,
    get child() {
      return first.child;
    },
    get pid() {
      return first.pid;
    },
    get restarts() {
      return instances.reduce((n, i) => n + i.restarts, 0);
    },
    kill: (signal = 'SIGKILL') => first.kill(signal),
    serving: async (timeoutMs = START_TIMEOUT_MS) => {
      await Promise.all(instances.map(i => i.serving(timeoutMs)));
    },
    redeploy: async changes => {
      // Every instance shares `env`: the next process of each starts with the new revision's.
      for (const [name, value] of Object.entries(changes))
        if (value === undefined) delete env[name];
        else env[name] = value;
      await Promise.all(instances.map(i => i.replace()));
    },
    stats: () => ({...front.stats(), answeredByPid: {...answeredByPid}}),
    stop: async () => {
      await Promise.all(instances.map(i => i.stop()));
      await front.close();
    },
  };
}

/** One supervised instance: its process, restarted on its port when it dies. */
class Instance implements RunningInstance {
  private current: Child | undefined;
  private stopped = false;
  restarts = 0;
  private backoff: number;
  private startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  /** Settles when a process listens again (or the instance is stopped). */
  private ready: Promise<void> = Promise.resolve();
  private markReady: (() => void) | undefined;
  /** Processes a redeploy stopped: their exit is no crash. */
  private readonly retired = new WeakSet<Child>();

  constructor(
    readonly index: number,
    private readonly name: string,
    private readonly spec: FunctionSpec,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
    readonly processPort: number,
    /** The function's public port (for the log lines). */
    private readonly port: number,
    private readonly supervision: Required<SupervisionOptions>,
  ) {
    this.backoff = supervision.initialBackoffMs;
  }

  get child(): Child {
    return this.current!;
  }

  get pid(): number | undefined {
    return this.current?.proc.pid;
  }

  /** Starts the first process and waits until it listens. */
  async start(): Promise<void> {
    this.current = this.spawn(false);
    await this.listening(this.current);
    this.supervise(this.current);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.current?.kill(signal);
  }

  async serving(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.ready,
        new Promise<never>((_, reject) => {
          timeout = setTimeout(
            () => reject(new Error(`${this.name} is not serving after ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timeout);
    }
  }

  /** Stops the current process and starts a new one (with the environment as it is now). */
  async replace(): Promise<void> {
    const old = this.current;
    if (!old || this.stopped) return;
    this.retired.add(old);
    this.notReady();
    await old.stop();
    if (this.stopped) return;
    const started = this.spawn(true);
    this.current = started;
    this.startedAt = Date.now();
    this.supervise(started);
    await this.listening(started);
    this.note(`${this.name} redeployed (pid ${started.proc.pid})`);
    this.isReady();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.isReady();
    await this.current?.stop();
  }

  private spawn(appendLog: boolean): Child {
    return spawnChild({
      name: this.name,
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        frameworkMain(),
        `--source=${path.resolve(this.spec.source)}`,
        `--target=${this.spec.target}`,
        `--signature-type=${this.spec.signature}`,
        `--port=${this.processPort}`,
      ],
      logDir: this.logDir,
      env: this.env,
      appendLog,
    });
  }

  // A GET to a CloudEvent target answers 500, so readiness is a TCP check.
  private listening(c: Child): Promise<void> {
    return waitUntil(c, () => tcpOpen(this.processPort), START_TIMEOUT_MS);
  }

  private notReady(): void {
    if (!this.markReady) this.ready = new Promise<void>(resolve => (this.markReady = resolve));
  }

  private isReady(): void {
    this.markReady?.();
    this.markReady = undefined;
  }

  private note(line: string): void {
    // In the instance's own log, where the platform logs an instance's end.
    try {
      fs.appendFileSync(this.child.logFile, `${new Date().toISOString()} [local stack] ${line}\n`);
    } catch {
      process.stderr.write(`local stack: ${line}\n`);
    }
  }

  private nextBackoff(): number {
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.supervision.maxBackoffMs);
    return delay;
  }

  private restartAfter(delay: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      let started: Child;
      try {
        started = this.spawn(true);
      } catch (err) {
        this.note(
          `${this.name} could not be restarted: ${err instanceof Error ? err.message : err}`,
        );
        this.restartAfter(this.nextBackoff());
        return;
      }
      this.restarts++;
      this.startedAt = Date.now();
      this.current = started;
      this.supervise(started);
      this.listening(started).then(
        () => {
          if (started !== this.current) return;
          this.note(`${this.name} restarted (pid ${started.proc.pid}, restart ${this.restarts})`);
          this.isReady();
        },
        () => {
          // Died before listening: its exit schedules the next attempt. Hung
          // without listening: killed, as the platform fails a startup probe.
          if (!this.stopped && started === this.current) started.kill('SIGKILL');
        },
      );
    }, delay);
  }

  private supervise(c: Child): void {
    c.proc.once('exit', (code, signal) => {
      if (this.stopped || c !== this.current || this.retired.has(c)) return;
      if (Date.now() - this.startedAt >= this.supervision.stableAfterMs)
        this.backoff = this.supervision.initialBackoffMs;
      const delay = this.nextBackoff();
      this.notReady();
      this.note(
        `${this.name} (pid ${c.proc.pid}) exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`}); ` +
          `restarting it on port ${this.port} in ${delay} ms`,
      );
      this.restartAfter(delay);
    });
  }
}
