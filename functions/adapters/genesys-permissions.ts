/**
 * One Genesys Cloud OAuth client, logged in with client credentials through
 * the official SDK, making the cheap calls `grm doctor` reads permissions
 * from (functions/ops/doctor/genesys.ts). Answers are kept as their HTTP
 * status (and a listing's total): the SDK's errors carry the request, whose
 * headers hold the client's credentials or token, so nothing else of them
 * is kept. One attempt each, no retries: a check is run again by hand.
 */
import platformClient from 'purecloud-platform-client-v2';
import type {GenesysCredentials} from '../core/genesys-credentials';
import type {CallOutcome, GenesysClientProbe, GenesysProbes} from '../ops/doctor/ports';

const TIMEOUT_MS = 30_000;

type ApiClient = InstanceType<typeof platformClient.ApiClientClass>;

export class GenesysPermissionProbes implements GenesysProbes {
  constructor(
    private readonly opts: {
      /** Region host such as `mypurecloud.ie`. */
      environment: string;
      /** Local development: the simulator's URL. */
      gatewayUrl?: string;
      now: () => number;
    },
  ) {}

  client(creds: GenesysCredentials): GenesysClientProbe {
    const api = new platformClient.ApiClientClass();
    api.config.live_reload_config = false;
    api.getHttpClient().setTimeout(TIMEOUT_MS);
    if (this.opts.gatewayUrl) {
      const url = new URL(this.opts.gatewayUrl);
      api.setGateway({
        host: url.hostname,
        protocol: url.protocol.replace(':', ''),
        port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      });
    } else {
      api.setEnvironment(this.opts.environment);
    }
    api.setReturnExtendedResponses(true);
    return new ClientProbe(api, creds, this.opts.now);
  }
}

class ClientProbe implements GenesysClientProbe {
  private readonly analytics: InstanceType<typeof platformClient.AnalyticsApi>;
  private readonly recording: InstanceType<typeof platformClient.RecordingApi>;
  private readonly authorization: InstanceType<typeof platformClient.AuthorizationApi>;

  constructor(
    private readonly api: ApiClient,
    private readonly creds: GenesysCredentials,
    private readonly now: () => number,
  ) {
    this.analytics = new platformClient.AnalyticsApi(api);
    this.recording = new platformClient.RecordingApi(api);
    this.authorization = new platformClient.AuthorizationApi(api);
  }

  async login(): Promise<string | undefined> {
    try {
      await this.api.loginClientCredentialsGrant(this.creds.clientId, this.creds.clientSecret);
      return undefined;
    } catch (err) {
      const e = err as {response?: {status?: unknown; data?: {error?: unknown}}; code?: unknown};
      const status = e.response?.status;
      const code = e.response?.data?.error;
      if (typeof status === 'number')
        return `HTTP ${status}${typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? ` ${code}` : ''}`;
      return networkError(err);
    }
  }

  analyticsQuery(): Promise<CallOutcome> {
    // One millisecond at the start of yesterday: a valid interval with no conversations.
    const start = Math.floor(this.now() / 86_400_000) * 86_400_000 - 86_400_000;
    const interval = `${new Date(start).toISOString()}/${new Date(start + 1).toISOString()}`;
    return outcome(() =>
      this.analytics.postAnalyticsConversationsDetailsQuery({
        interval,
        paging: {pageSize: 1, pageNumber: 1},
      }),
    );
  }

  recordingMetadata(conversationId: string): Promise<CallOutcome> {
    return outcome(() => this.recording.getConversationRecordingmetadata(conversationId));
  }

  divisionsPermitted(permission: string): Promise<CallOutcome> {
    return outcome(() =>
      this.authorization.getAuthorizationDivisionspermittedPagedMe(permission, {pageSize: 25}),
    );
  }
}

/** The status of an extended SDK response or rejection, and a listing's `total`. */
async function outcome(call: () => Promise<unknown>): Promise<CallOutcome> {
  try {
    const res = (await call()) as {status?: number; body?: {total?: unknown}};
    const total = res.body?.total;
    return {status: res.status ?? 200, ...(typeof total === 'number' ? {total} : {})};
  } catch (err) {
    const status = (err as {status?: unknown} | null)?.status;
    if (typeof status === 'number') return {status};
    return {error: networkError(err)};
  }
}

function networkError(err: unknown): string {
  const code = (err as {code?: unknown} | null)?.code;
  return typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code) ? code : 'no answer';
}
