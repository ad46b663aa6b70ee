/**
 * Starts a private Genesys simulator process for a suite (suites change its
 * runtime settings, so they do not share one), plus SDK client helpers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import platformClient from 'purecloud-platform-client-v2';
import {Child, spawnChild, tsNode, waitForReadyLine} from '../../local/common/processes';

export interface TestSimulator {
  url: string;
  port: number;
  child: Child;
  dir: string;
  /** Calls the simulator's admin API and returns the parsed JSON. */
  admin<T = unknown>(route: string, init?: {method?: string; body?: unknown}): Promise<T>;
  stop(): Promise<void>;
}

export async function startSimulator(args: string[] = []): Promise<TestSimulator> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-genesys-'));
  const {command, args: full} = tsNode(
    path.join(__dirname, '..', '..', 'local', 'genesys', 'main.ts'),
    ['--port', '0', ...args],
  );
  const child = spawnChild({name: 'genesys-simulator', command, args: full, logDir: dir});
  const info = await waitForReadyLine(child);
  const url = String(info.url);
  return {
    url,
    port: Number(info.port),
    child,
    dir,
    async admin<T>(route: string, init: {method?: string; body?: unknown} = {}): Promise<T> {
      const res = await fetch(`${url}/_admin/${route}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const body = (await res.json()) as T;
      if (!res.ok) throw new Error(`admin ${route}: HTTP ${res.status} ${JSON.stringify(body)}`);
      return body;
    },
    stop: () => child.stop(),
  };
}

export interface SdkClient {
  client: InstanceType<typeof platformClient.ApiClientClass>;
  analytics: InstanceType<typeof platformClient.AnalyticsApi>;
  recording: InstanceType<typeof platformClient.RecordingApi>;
}

/** An independent SDK client (not the process-wide singleton) pointed at the simulator. */
export function sdkClient(
  port: number,
  opts: {extended?: boolean; timeoutMs?: number; protocol?: string} = {},
): SdkClient {
  const client = new platformClient.ApiClientClass();
  if (opts.timeoutMs) client.getHttpClient().setTimeout(opts.timeoutMs);
  client.config.live_reload_config = false;
  client.setGateway({host: '127.0.0.1', protocol: opts.protocol ?? 'http', port});
  if (opts.extended) client.setReturnExtendedResponses(true);
  return {
    client,
    analytics: new platformClient.AnalyticsApi(client),
    recording: new platformClient.RecordingApi(client),
  };
}

export const DAY = '2023-02-01';
export const DAY_INTERVAL = '2023-02-01T00:00:00.000Z/2023-02-02T00:00:00.000Z';
