/**
 * Throughput at the Genesys API limit, on the local stack with the
 * real functions:
 *
 *   - Genesys calls per conversation of a whole day, in full and lean mode,
 *     and the approach of Genesys' recordings-downloader tutorial on the same
 *     day as a peer;
 *   - (with bench/fleet.ts) wall time under a binding limit, 429s, clients
 *     and worker processes.
 *
 * Standalone: `node --import tsx bench/throughput.ts [--quick]`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {Readable, Writable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import platformClient from 'purecloud-platform-client-v2';
import {Stack, startStack} from '../local/stack';
import {LOCAL_EXPORT_ENV, productEnv, productFunctions, productSecrets} from '../local/product';
import {runDay} from '../local/run-day';
import {addDays, defaultDay} from '../functions/core/time-window';
import {BenchRow, printRows} from './rows';

/** Counters the Genesys simulator keeps (`GET /_admin/counters`). */
interface Counters {
  byEndpoint: Record<string, number>;
  byStatus: Record<string, number>;
}

const MEDIA = 'GET /media/{conversationId}/{recordingId}';

/** Every Genesys request but media downloads: logins and Platform API calls. */
export function apiCalls(c: Counters): number {
  return Object.entries(c.byEndpoint)
    .filter(([k]) => k !== MEDIA)
    .reduce((n, [, v]) => n + v, 0);
}

export async function counters(stack: Stack, reset = false): Promise<Counters> {
  const res = await fetch(`${stack.genesysUrl}/_admin/counters`, {
    method: reset ? 'DELETE' : 'GET',
  });
  return (await res.json()) as Counters;
}

/** A stack with the product's functions, the limits out of the way unless given. */
export async function productStack(
  root: string,
  opts: {
    perDay: Record<string, number>;
    env?: Record<string, string>;
    simulator?: Record<string, unknown>;
    clients?: string[];
    workerInstances?: number;
  },
): Promise<Stack> {
  return startStack({
    root,
    ...(opts.workerInstances ? {workerInstances: opts.workerInstances} : {}),
    functions: productFunctions(),
    secrets: productSecrets(opts.clients),
    functionEnv: productEnv({
      GENESYS_TOKEN_REQUESTS_PER_MINUTE: '100000',
      GENESYS_CLIENT_REQUESTS_PER_MINUTE: '1000000',
      ...opts.env,
    }),
    genesys: {
      seed: 'bench',
      conversationsPerDay: 0,
      perDay: opts.perDay,
      audioBytes: 16 * 1024,
      screenBytes: 32 * 1024,
      ...(opts.clients ? {clients: opts.clients} : {}),
      settings: {rateLimitPerMinute: 1_000_000, ...opts.simulator},
    },
  });
}

interface DayCalls {
  calls: number;
  perConversation: number;
  byEndpoint: Record<string, number>;
  exported: number;
  exportable: number;
  seconds: number;
}

/** Exports `day` once and counts its Genesys calls. */
async function exportDay(stack: Stack, day: string, conversations: number): Promise<DayCalls> {
  await counters(stack, true);
  const result = await runDay(stack, {day, env: LOCAL_EXPORT_ENV, timeoutMs: 600_000});
  const c = await counters(stack);
  const calls = apiCalls(c);
  return {
    calls,
    perConversation: calls / conversations,
    byEndpoint: c.byEndpoint,
    exported: result.verification.exportedAndVerified,
    exportable: result.verification.exportable,
    seconds: result.seconds,
  };
}

/**
 * Genesys' recordings-downloader tutorial (developercenter-tutorials,
 * recordings-downloader), step by step: the first page of the synchronous
 * detail query (25 conversations, no paging), `recordingmetadata` per
 * conversation, one batch request for every recording (no chunking to 100),
 * a poll every 5 s until `resultCount === expectedResultCount`, every good
 * `resultUrl` downloaded once. No retries: any error ends it.
 */
export async function tutorialPeer(
  genesysUrl: string,
  day: string,
): Promise<{exported: number; calls: number; error?: string}> {
  const client = new platformClient.ApiClientClass();
  const url = new URL(genesysUrl);
  client.setGateway({host: url.hostname, protocol: 'http', port: Number(url.port)});
  let calls = 0;
  let exported = 0;
  try {
    await client.loginClientCredentialsGrant('demo-client', 'demo-secret');
    calls++;
    const conversationsApi = new platformClient.ConversationsApi(client);
    const recordingApi = new platformClient.RecordingApi(client);
    const next = addDays(day, 1);
    const query = await conversationsApi.postAnalyticsConversationsDetailsQuery({
      interval: `${day}T00:00:00.000Z/${next}T00:00:00.000Z`,
    });
    calls++;
    const items: Array<{conversationId: string; recordingId: string}> = [];
    for (const c of query.conversations ?? []) {
      const metas = await recordingApi.getConversationRecordingmetadata(c.conversationId!);
      calls++;
      for (const m of metas) items.push({conversationId: c.conversationId!, recordingId: m.id!});
    }
    const {id} = await recordingApi.postRecordingBatchrequests({batchDownloadRequestList: items});
    calls++;
    for (;;) {
      await new Promise(r => setTimeout(r, 5000));
      const status = await recordingApi.getRecordingBatchrequest(id!);
      calls++;
      if (status.resultCount === status.expectedResultCount) {
        for (const r of status.results ?? []) {
          if (r.errorMsg || !r.resultUrl) continue;
          const res = await fetch(r.resultUrl);
          await pipeline(
            Readable.fromWeb(res.body as never),
            new Writable({write: (_c, _e, done) => done()}),
          );
          exported++;
        }
        return {exported, calls};
      }
    }
  } catch (err) {
    const e = err as {status?: number; message?: string};
    return {exported, calls, error: e.status ? `HTTP ${e.status}` : String(e.message ?? err)};
  }
}

export async function throughputBench(dir: string, quick: boolean): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const day = addDays(defaultDay(Date.now(), 'UTC', 0), -5);
  const conversations = quick ? 100 : 500;
  const byMode: Partial<Record<'full' | 'lean', DayCalls>> = {};
  for (const mode of ['full', 'lean'] as const) {
    const stack = await productStack(path.join(dir, `calls-${mode}`), {
      perDay: {[day]: conversations},
      env: {METADATA: mode},
    });
    try {
      byMode[mode] = await exportDay(stack, day, conversations);
      if (mode === 'full') {
        const peer = await tutorialPeer(stack.genesysUrl, day);
        const ours = byMode.full!;
        rows.push({
          section: 'calls',
          name: `recordings exported of a ${conversations}-conversation day: Genesys' tutorial`,
          value: peer.exported,
          unit: `of ${ours.exportable}${peer.error ? ` (stopped: ${peer.error})` : ''}`,
          target: 'peer',
          baseline: `${ours.exported} of ${ours.exportable} (ours)`,
          ratio: peer.exported / Math.max(1, ours.exported),
        });
      }
    } finally {
      await stack.stop();
    }
  }
  const full = byMode.full!;
  const lean = byMode.lean!;
  rows.push({
    section: 'calls',
    name: `Genesys calls per conversation, full mode (${conversations} conversations)`,
    value: full.perConversation,
    unit: 'calls',
    target: '≤ 1.04',
    baseline: '1 recordingmetadata call per conversation',
    ratio: full.perConversation,
    pass: full.perConversation <= 1.04,
    detail: full.byEndpoint,
  });
  rows.push({
    section: 'calls',
    name: `Genesys calls per conversation, lean mode (${conversations} conversations)`,
    value: lean.perConversation,
    unit: 'calls',
    target: '≤ 0.06 (about 20× fewer than full)',
    baseline: `full mode ${full.perConversation.toFixed(3)}`,
    ratio: lean.perConversation / full.perConversation,
    pass: lean.perConversation <= 0.06 && lean.exported === full.exported,
    detail: lean.byEndpoint,
  });
  return rows;
}

if (require.main === module) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-bench-throughput-'));
  throughputBench(dir, process.argv.includes('--quick'))
    .then(rows => printRows(rows))
    .finally(() => fs.rmSync(dir, {recursive: true, force: true}))
    .catch(err => {
      console.error(err);
      process.exit(1);
    });
}
