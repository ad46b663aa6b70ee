/**
 * The fleet at the Genesys API limit, on the local stack with the
 * real functions and the simulator enforcing the limits:
 *
 *   - one worker under a binding per-token limit: the wall time of its calls
 *     ÷ the lower bound the limit allows, and the 429s;
 *   - four worker processes on 1, 2 and 4 OAuth clients under a binding
 *     per-client limit: the speed-up each client count gives, and the peak
 *     request rate of the four on one client ÷ that client's limit.
 *
 * Standalone: `node --import tsx bench/fleet.ts [--quick]` (--quick: the
 * binding limit only).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Stack} from '../local/stack';
import {LOCAL_EXPORT_ENV} from '../local/product';
import {runDay} from '../local/run-day';
import {addDays, defaultDay} from '../functions/core/time-window';
import {BenchRow, printRows} from './rows';
import {productStack} from './throughput';

interface Usage {
  apiCalls: number;
  rejected: Record<string, number>;
  peakCallsPerMinute: number;
}
interface TokenUsage extends Usage {
  clientId: string;
  issued: string;
  firstCall?: string;
  lastCall?: string;
}
interface LimitCounters {
  clients: Record<string, Usage & {tokensIssued: number}>;
  tokens: Record<string, TokenUsage>;
}

async function limitCounters(stack: Stack, reset = false): Promise<LimitCounters> {
  const res = await fetch(`${stack.genesysUrl}/_admin/counters`, {
    method: reset ? 'DELETE' : 'GET',
  });
  return (await res.json()) as LimitCounters;
}

const rejectedOf = (c: LimitCounters) =>
  Object.values(c.clients).reduce(
    (n, u) => n + Object.values(u.rejected).reduce((a, b) => a + b, 0),
    0,
  );

/** The tokens of the worker processes: every token but the first one issued (the planner's). */
function workerTokens(c: LimitCounters): TokenUsage[] {
  const byIssue = Object.values(c.tokens).sort((a, b) => a.issued.localeCompare(b.issued));
  return byIssue.slice(1).filter(t => t.firstCall && t.lastCall);
}

/** From the first to the last API call of these tokens, in ms. */
function spanMs(tokens: TokenUsage[]): number {
  const first = Math.min(...tokens.map(t => Date.parse(t.firstCall!)));
  const last = Math.max(...tokens.map(t => Date.parse(t.lastCall!)));
  return last - first;
}

/**
 * The shortest time `calls` requests can take at `perMinute` a sliding
 * minute: the k-th (from 0) cannot go before floor(k / perMinute) minutes.
 */
export function lowerBoundMs(calls: number, perMinute: number): number {
  return Math.floor((calls - 1) / perMinute) * 60_000;
}

/** One worker, a per-token limit of 60/min that binds: ~93 calls need at least a minute. */
async function bindingLimit(dir: string): Promise<BenchRow[]> {
  const day = addDays(defaultDay(Date.now(), 'UTC', 0), -6);
  const perMinute = 60;
  const stack = await productStack(path.join(dir, 'binding'), {
    perDay: {[day]: 90},
    env: {GENESYS_TOKEN_REQUESTS_PER_MINUTE: String(perMinute)},
    simulator: {rateLimitPerMinute: perMinute},
  });
  try {
    await limitCounters(stack, true);
    const result = await runDay(stack, {day, env: LOCAL_EXPORT_ENV, timeoutMs: 600_000});
    const c = await limitCounters(stack);
    const workers = workerTokens(c);
    const calls = workers.reduce((n, t) => n + t.apiCalls, 0);
    const bound = lowerBoundMs(calls, perMinute);
    const span = spanMs(workers);
    const rejected = rejectedOf(c);
    return [
      {
        section: 'fleet',
        name: `wall time ÷ lower bound, one worker, ${perMinute}/min per token (${calls} calls)`,
        value: span / bound,
        unit: '',
        target: '≤ 1.05',
        baseline: `lower bound ${(bound / 1000).toFixed(0)} s; took ${(span / 1000).toFixed(1)} s`,
        ratio: span / bound,
        pass: span / bound <= 1.05 && result.verification.missing.length === 0,
        detail: {counters: c, exported: result.verification},
      },
      {
        section: 'fleet',
        name: '429 answers under that binding limit',
        value: rejected,
        unit: '',
        target: '0',
        ratio: rejected,
        pass: rejected === 0,
      },
    ];
  } finally {
    await stack.stop();
  }
}

const WORKERS = 4;
/** Each client's limit in the client-count runs: the per-client limit binds, not the token's. */
const PER_CLIENT = 120;

/** Four worker processes on `clients` OAuth clients, a per-client limit that binds. */
async function onClients(dir: string, clients: number, day: string, conversations: number) {
  const specs = Array.from({length: clients}, (_, i) => `bench-client-${i}:bench-secret-${i}`);
  const stack = await productStack(path.join(dir, `clients-${clients}`), {
    perDay: {[day]: conversations},
    clients: specs,
    workerInstances: WORKERS,
    env: {
      BATCH_SIZE: '20',
      GENESYS_CLIENT_REQUESTS_PER_MINUTE: String(PER_CLIENT),
    },
    simulator: {clientRateLimitPerMinute: PER_CLIENT},
  });
  try {
    await limitCounters(stack, true);
    const result = await runDay(stack, {day, env: LOCAL_EXPORT_ENV, timeoutMs: 900_000});
    const c = await limitCounters(stack);
    return {
      spanMs: spanMs(workerTokens(c)),
      peak: Math.max(...Object.values(c.clients).map(u => u.peakCallsPerMinute)),
      rejected: rejectedOf(c),
      missing: result.verification.missing.length,
      counters: c,
    };
  } finally {
    await stack.stop();
  }
}

async function clientCounts(dir: string): Promise<BenchRow[]> {
  const day = addDays(defaultDay(Date.now(), 'UTC', 0), -7);
  const conversations = 500;
  const runs = new Map<number, Awaited<ReturnType<typeof onClients>>>();
  for (const n of [1, 2, 4]) runs.set(n, await onClients(dir, n, day, conversations));
  const one = runs.get(1)!;
  const rows: BenchRow[] = [];
  for (const n of [2, 4]) {
    const run = runs.get(n)!;
    const speedUp = one.spanMs / run.spanMs;
    rows.push({
      section: 'fleet',
      name: `speed-up with ${n} clients (${WORKERS} workers, ${PER_CLIENT}/min per client, ${conversations} conversations)`,
      value: speedUp,
      unit: '×',
      target: `≥ ${(0.95 * n).toFixed(2)} (0.95 × ${n})`,
      baseline: `1 client: ${(one.spanMs / 1000).toFixed(0)} s; ${n}: ${(run.spanMs / 1000).toFixed(0)} s`,
      ratio: speedUp / n,
      pass: speedUp >= 0.95 * n && run.missing === 0,
      detail: {peakPerClient: run.peak, rejected: run.rejected, counters: run.counters},
    });
  }
  rows.push({
    section: 'fleet',
    name: `peak request rate of ${WORKERS} worker processes (and the planner) on one client ÷ its limit`,
    value: one.peak / PER_CLIENT,
    unit: '',
    target: '≥ 0.9 and ≤ 1.0',
    baseline: `${one.peak} calls in the busiest minute, limit ${PER_CLIENT}`,
    ratio: one.peak / PER_CLIENT,
    pass: one.peak / PER_CLIENT >= 0.9 && one.peak <= PER_CLIENT && one.missing === 0,
    detail: {rejected: one.rejected, counters: one.counters},
  });
  rows.push({
    section: 'fleet',
    name: `429 answers with ${WORKERS} workers on 1 / 2 / 4 clients`,
    value: one.rejected + runs.get(2)!.rejected + runs.get(4)!.rejected,
    unit: '',
    target: '0',
    baseline: [1, 2, 4].map(n => runs.get(n)!.rejected).join(' / '),
    pass: [1, 2, 4].every(n => runs.get(n)!.rejected === 0),
  });
  return rows;
}

export async function fleetBench(dir: string, quick: boolean): Promise<BenchRow[]> {
  const rows = await bindingLimit(dir);
  if (!quick) rows.push(...(await clientCounts(dir)));
  return rows;
}

if (require.main === module) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-bench-fleet-'));
  fleetBench(dir, process.argv.includes('--quick'))
    .then(rows => printRows(rows))
    .finally(() => fs.rmSync(dir, {recursive: true, force: true}))
    .catch(err => {
      console.error(err);
      process.exit(1);
    });
}
