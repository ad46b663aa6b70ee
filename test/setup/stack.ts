/**
 * The local stack shared by every integration suite of a mocha run: started
 * on first use, stopped once after all tests (see root-hooks.ts).
 *
 * Until the pipeline functions exist, the worker and checker roles are played
 * by the recorder probe (test/fixtures/functions/recorder.ts), which writes
 * every event it receives to a JSON-lines file the tests read.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {Stack, startStack} from '../../local/stack';
import {LOCAL_SECRETS} from '../../local/product';

const RECORDER = path.join(__dirname, '..', 'fixtures', 'functions', 'recorder.ts');

export interface TestStack extends Stack {
  /** Events the worker probe received (Pub/Sub push). */
  workerEvents(): RecordedEvent[];
  /** Events the checker probe received (GCS finalize and friends). */
  checkerEvents(): RecordedEvent[];
}

export interface RecordedEvent {
  kind: 'cloudevent';
  id: string;
  type: string;
  source: string;
  subject?: string;
  data: Record<string, unknown> & {
    message?: {data?: string; attributes?: Record<string, string>; messageId?: string};
    name?: string;
    bucket?: string;
    size?: string;
  };
  attempt: number;
  failed: boolean;
}

let starting: Promise<TestStack> | undefined;

function readEvents(file: string): RecordedEvent[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(l => l.trim() !== '')
    .map(l => JSON.parse(l) as RecordedEvent);
}

/** The run's shared stack (started on first call). */
export function useStack(): Promise<TestStack> {
  starting ??= (async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-stack-'));
    const workerFile = path.join(root, 'worker-events.jsonl');
    const checkerFile = path.join(root, 'checker-events.jsonl');
    const stack = await startStack({
      root,
      functions: {
        worker: {
          target: 'recordEvent',
          signature: 'cloudevent',
          source: RECORDER,
          env: {RECORDER_FILE: workerFile},
        },
        checker: {
          target: 'recordEvent',
          signature: 'cloudevent',
          source: RECORDER,
          env: {RECORDER_FILE: checkerFile},
        },
      },
      secrets: {[LOCAL_SECRETS.sendgridKey]: 'SG.test-key', [LOCAL_SECRETS.genesysClients]: '[]'},
      sendgridKey: 'SG.test-key',
      maxDeliveryAttempts: 5,
      gcsNotifyAttempts: 4,
    });
    return {
      ...stack,
      workerEvents: () => readEvents(workerFile),
      checkerEvents: () => readEvents(checkerFile),
    };
  })();
  return starting;
}

/** Stops the shared stack if a suite started it. */
export async function stopStack(): Promise<void> {
  if (!starting) return;
  const stack = await starting.catch(() => undefined);
  starting = undefined;
  await stack?.stop();
}

/** Polls `fn` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, intervalMs));
  }
}

import {productEnv, productFunctions, productSecrets} from '../../local/product';

/**
 * clean and lossy: the e2e organisations. faults: the fault matrix's stack
 * (test/faults/): a lossy organisation whose batch downloads answer some
 * recordings twice, a 2 s media idle timeout and 10-conversation batches.
 * fleet: a clean organisation whose worker runs as FLEET_WORKERS processes,
 * one push at a time each, as in production, with 5-conversation batches.
 * archive: a clean organisation in a bucket with object retention enabled
 * (as infra/storage.tf makes it with retention_days), its worker retaining
 * every recording and metadata object ARCHIVE_RETENTION_DAYS, locked.
 */
export type ProductProfile = 'clean' | 'lossy' | 'faults' | 'fleet' | 'archive';

/** Days the archive profile's worker retains each object (RETENTION_DAYS, locked). */
export const ARCHIVE_RETENTION_DAYS = 7;

/** Worker processes of the fleet profile's stack. */
export const FLEET_WORKERS = 3;

const productStacks = new Map<string, Promise<Stack>>();
const productDays: Record<ProductProfile, Record<string, number>> = {
  clean: {},
  lossy: {},
  faults: {},
  fleet: {},
  archive: {},
};

const PROFILE_ENV: Record<ProductProfile, Record<string, string>> = {
  clean: {},
  // Restores checked every second (the simulator restores in seconds, below).
  lossy: {RESTORE_POLL_SECONDS: '1'},
  faults: {
    BATCH_SIZE: '10',
    MEDIA_IDLE_TIMEOUT_MS: '2000',
    BATCH_POLL_DEADLINE_MS: '10000',
    // Short, so a final attempt that died is known dead (and its report made final) in 30 s.
    BATCH_DEADLINE_MS: '15000',
  },
  fleet: {BATCH_SIZE: '5'},
  archive: {RETENTION_DAYS: String(ARCHIVE_RETENTION_DAYS), RETENTION_MODE: 'locked'},
};

/**
 * Declares the days (and their conversation counts) a spec needs from a
 * product stack. Call it at the top level of the spec file: mocha loads every
 * file before any hook runs, so the stack starts with all of them, whichever
 * spec starts it. Other days hold 5 conversations.
 */
export function declareProductDays(profile: ProductProfile, perDay: Record<string, number>): void {
  Object.assign(productDays[profile], perDay);
}

/**
 * A stack running the real pipeline functions against a simulator with the
 * given organisation; one per profile per run, stopped after all tests.
 */
export function useProductStack(
  profile: ProductProfile,
  perDay: Record<string, number> = {},
): Promise<Stack> {
  const missing = Object.entries(perDay).filter(([d, n]) => productDays[profile][d] !== n);
  if (missing.length > 0) {
    throw new Error(
      `declare ${missing.map(([d]) => d).join(', ')} with declareProductDays() at the top of the spec`,
    );
  }
  let s = productStacks.get(profile);
  if (!s) {
    s = startStack({
      root: fs.mkdtempSync(path.join(os.tmpdir(), `grm-product-${profile}-`)),
      functions: productFunctions(),
      secrets: productSecrets(['demo-client:demo-secret', 'second-client:second-secret']),
      functionEnv: productEnv({MAX_BATCH_ATTEMPTS: '3', BATCH_SIZE: '25', ...PROFILE_ENV[profile]}),
      genesys: {
        seed: `e2e-${profile}`,
        conversationsPerDay: 5,
        perDay: productDays[profile],
        profile: profile === 'lossy' || profile === 'faults' ? 'lossy' : 'clean',
        clients: ['demo-client:demo-secret', 'second-client:second-secret'],
        settings:
          profile === 'faults'
            ? {batchPerResultMs: 1, batchDuplicateRate: 0.2}
            : profile === 'lossy'
              ? {batchPerResultMs: 1, restoreDelayMs: 4000}
              : {batchPerResultMs: 1},
        ...(profile === 'faults' ? {screenBytes: 6 * 1024 * 1024} : {}),
      },
      // As in production (max_delivery_attempts): a worker that is down while it restarts
      // refuses pushes, and those count too.
      maxDeliveryAttempts: profile === 'faults' ? 100 : 5,
      ...(profile === 'fleet' ? {workerInstances: FLEET_WORKERS} : {}),
      ...(profile === 'archive' ? {objectRetention: true} : {}),
    });
    productStacks.set(profile, s);
  }
  return s;
}

export async function stopProductStacks(): Promise<void> {
  for (const s of productStacks.values()) await (await s.catch(() => undefined))?.stop();
  productStacks.clear();
}
