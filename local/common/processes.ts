/**
 * Starting and stopping the local stack's child processes.
 *
 * Each child gets its own process group (so a wrapper script and whatever it
 * starts are stopped together), its output goes to a log file, and every
 * child still running when this process exits is killed, so nothing is left
 * behind listening on a port.
 */
import {ChildProcess, spawn} from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {READY_MARKER} from './service-main';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logFile: string;
  /** Sends `signal` to the child's process group now (no waiting, no escalation). */
  kill(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

const live = new Set<Child>();
let exitHookInstalled = false;

const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
};

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroup(child.proc, 'SIGKILL');
  });
  // A signal that kills this process skips 'exit' handlers, and the children
  // live in their own process groups: stop them here unless the program
  // handles the signal itself (npm run stack stops its stack gracefully).
  for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES) as Array<
    [NodeJS.Signals, number]
  >) {
    process.on(signal, () => {
      if (process.listenerCount(signal) > 1) return;
      for (const child of live) killGroup(child.proc, 'SIGTERM');
      // The children are signalled already; exiting now keeps the program's
      // own error paths (its requests to them now fail) from racing the exit code.
      process.exit(code);
    });
  }
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    try {
      proc.kill(signal);
    } catch {
      // already gone
    }
  }
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  logDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append to the log file instead of starting it afresh (a restarted process). */
  appendLog?: boolean;
}

/** Starts a child in its own process group with output to `logDir/name.log`. */
export function spawnChild(opts: SpawnOptions): Child {
  installExitHook();
  fs.mkdirSync(opts.logDir, {recursive: true});
  const logFile = path.join(opts.logDir, `${opts.name}.log`);
  if (!opts.appendLog) fs.writeFileSync(logFile, '');
  // Append mode, so stderr (this descriptor) and stdout (piped below) interleave instead of overwriting.
  const log = fs.openSync(logFile, 'a');
  const proc = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', log],
  });
  fs.closeSync(log);
  const logStream = fs.createWriteStream(logFile, {flags: 'a'});
  proc.stdout!.pipe(logStream);
  const child: Child = {
    name: opts.name,
    proc,
    logFile,
    kill: signal => killGroup(proc, signal),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        live.delete(child);
        return;
      }
      const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()));
      killGroup(proc, 'SIGTERM');
      const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      live.delete(child);
    },
  };
  proc.once('exit', () => live.delete(child));
  live.add(child);
  return child;
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Waits for a stand-in's ready line (`{"ready":true,…}`) on stdout and
 * returns it parsed. Fails with the child's log when it exits or times out.
 */
export function waitForReadyLine(
  child: Child,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const done = (err?: Error, value?: Record<string, unknown>) => {
      clearTimeout(timer);
      child.proc.stdout!.off('data', onData);
      child.proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (const line of buffer.split('\n')) {
        if (line.includes(READY_MARKER)) {
          try {
            return done(undefined, JSON.parse(line) as Record<string, unknown>);
          } catch {
            // not the ready line after all
          }
        }
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    };
    const onExit = (code: number | null) =>
      done(
        new Error(
          `${child.name} exited (code ${code}) before it was ready; log ${child.logFile}:\n${tail(child.logFile)}`,
        ),
      );
    const timer = setTimeout(
      () =>
        done(
          new Error(
            `${child.name} was not ready within ${timeoutMs} ms; log ${child.logFile}:\n${tail(child.logFile)}`,
          ),
        ),
      timeoutMs,
    );
    child.proc.stdout!.on('data', onData);
    child.proc.once('exit', onExit);
  });
}

/** Polls until `probe` resolves true; fails with the child's log on exit or timeout. */
export async function waitUntil(
  child: Child,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(
        `${child.name} exited (code ${child.proc.exitCode}) before it was ready; log ${child.logFile}:\n${tail(child.logFile)}`,
      );
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${child.name} was not ready within ${timeoutMs} ms; log ${child.logFile}:\n${tail(child.logFile)}`,
      );
    }
    await new Promise(r => setTimeout(r, intervalMs));
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect({host: '127.0.0.1', port});
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port that was free a moment ago (for programs that cannot report theirs). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `node --import tsx FILE ARGS…` with the current Node binary. */
export function tsNode(file: string, args: string[]): {command: string; args: string[]} {
  return {command: process.execPath, args: ['--import', 'tsx', file, ...args]};
}
