/**
 * Genesys Cloud over the official SDK, with what the SDK lacks: retries
 * (Retry-After, 408/5xx/network backoff with jitter), pacing to a per-client
 * budget, and token renewal before expiry and on 401. One SDK client per
 * OAuth client; a batch stays on one (batch results are readable only by
 * their submitter).
 */
import platformClient from 'purecloud-platform-client-v2';
import {JobFailedError, NotFoundError, PermanentError, RetryableError} from '../core/errors';
import {RequestBudget, instanceShare} from '../core/budget';
import {
  Decision,
  Failure,
  decide,
  decideLogin,
  isCredentialsRefusal,
  parseRetryAfter,
} from '../core/retry';
import type {Window} from '../core/time-window';
import type {
  BatchStatus,
  Clock,
  DiscoveredConversation,
  Genesys,
  GenesysSession,
  RecordingMeta,
} from '../ports';
import type {Logger} from '../logger';
import type {GenesysCredentials} from '../core/genesys-credentials';

export {parseCredentials} from '../core/genesys-credentials';
export type {GenesysCredentials} from '../core/genesys-credentials';

export interface GenesysOptions {
  clients: GenesysCredentials[];
  /** Region host such as `mypurecloud.ie`. */
  environment: string;
  /** Local development: the simulator's URL. */
  gatewayUrl?: string;
  /** Genesys' limit per token (`token.rate.per.minute`). */
  tokenRequestsPerMinute: number;
  /** Genesys' limit per OAuth client across its tokens (`org.app.user.rate.per.minute`). */
  clientRequestsPerMinute: number;
  /** Most worker and planner instances at once: each paces itself to its share. */
  workers: number;
  planners: number;
  /** Which of them this instance is. */
  role: 'planner' | 'worker';
  maxAttempts: number;
  clock: Clock;
  random?: () => number;
  logger: Logger;
}

/** Renew the token this long before it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;
/** Requests per analytics job results page, and per query page. */
const JOB_PAGE_SIZE = 1000;
const QUERY_PAGE_SIZE = 100;
/** The first wait for an analytics job before asking whether it is done, in ms. */
const JOB_FIRST_POLL_MS = 1000;
/** How long to wait for an analytics job, in ms. */
const JOB_DEADLINE_MS = 30 * 60_000;
/** SDK request timeout, in ms (its default of 16 s is short for big pages). */
const REQUEST_TIMEOUT_MS = 60_000;

type ApiClient = InstanceType<typeof platformClient.ApiClientClass>;

interface Extended<T> {
  status: number;
  headers: Record<string, string>;
  body: T;
}

/** Turns whatever the SDK rejected with into a Failure. */
export function classify(err: unknown, nowMs: number): Failure {
  if (typeof err === 'string') return {kind: 'other', message: err};
  const e = err as {
    status?: number;
    headers?: Record<string, string>;
    body?: {code?: string};
    code?: string;
    response?: {status?: number; headers?: Record<string, string>};
    message?: string;
  };
  const status = e.status ?? e.response?.status;
  if (typeof status === 'number') {
    const headers = e.headers ?? e.response?.headers ?? {};
    return {
      kind: 'http',
      status,
      retryAfterSeconds: parseRetryAfter(headers['retry-after'], nowMs),
      code: e.body?.code,
    };
  }
  if (e.code) return {kind: 'network', code: e.code};
  return {kind: 'other', message: e.message ?? String(err)};
}

/** The OAuth error code of a failed login (`invalid_client`), if it is one; nothing else of the body. */
function oauthErrorCode(err: unknown): string | undefined {
  const code = (err as {response?: {data?: {error?: unknown}}} | null)?.response?.data?.error;
  return typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? code : undefined;
}

function describe(f: Failure): string {
  if (f.kind === 'http') return `HTTP ${f.status}${f.code ? ` (${f.code})` : ''}`;
  if (f.kind === 'network') return `network error ${f.code ?? ''}`.trim();
  return f.message;
}

/** A rate-limit header as a number, if it is one. */
function headerNumber(
  headers: Record<string, string> | undefined,
  name: string,
): number | undefined {
  const v = headers?.[name];
  return v !== undefined && /^\d+$/.test(String(v).trim()) ? Number(v) : undefined;
}

/** Where the next call that any client may make starts looking for room. */
let spreadCursor = 0;

class Session implements GenesysSession {
  private tokenExpiry = 0;
  /** Counts logins: a 401 on a token an earlier login already replaced logs nobody in again. */
  private tokenGeneration = 0;
  /** The login in progress: concurrent calls wait for it instead of each logging in. */
  private loggingIn: Promise<void> | undefined;
  private readonly api: ApiClient;
  private readonly analytics: InstanceType<typeof platformClient.AnalyticsApi>;
  private readonly recording: InstanceType<typeof platformClient.RecordingApi>;
  private readonly authorization: InstanceType<typeof platformClient.AuthorizationApi>;

  constructor(
    readonly clientIndex: number,
    private readonly creds: GenesysCredentials,
    private readonly opts: GenesysOptions,
    /** The instance's share of this client's budget, held to what the server says too. */
    private readonly pacer: RequestBudget,
    /** Every client's session of this instance (this one included), for calls any client may make. */
    private readonly peers: readonly Session[],
  ) {
    this.api = new platformClient.ApiClientClass();
    this.api.config.live_reload_config = false;
    this.api.getHttpClient().setTimeout(REQUEST_TIMEOUT_MS);
    if (opts.gatewayUrl) {
      const url = new URL(opts.gatewayUrl);
      this.api.setGateway({
        host: url.hostname,
        protocol: url.protocol.replace(':', ''),
        port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      });
    } else {
      this.api.setEnvironment(opts.environment);
    }
    this.api.setReturnExtendedResponses(true);
    this.analytics = new platformClient.AnalyticsApi(this.api);
    this.recording = new platformClient.RecordingApi(this.api);
    this.authorization = new platformClient.AuthorizationApi(this.api);
  }

  /** A valid token: the one held, or the login in progress, or a new login. */
  private ensureToken(): Promise<void> {
    if (this.opts.clock.now() <= this.tokenExpiry - TOKEN_MARGIN_MS) return Promise.resolve();
    this.loggingIn ??= this.login().finally(() => (this.loggingIn = undefined));
    return this.loggingIn;
  }

  /**
   * Logs in (`POST /oauth/token`) with the retry policy of every other call:
   * 408, 429, 5xx and network errors are retried with backoff (Retry-After
   * first); bad credentials fail at once. Only the status and the OAuth error
   * code are kept of a failure: the SDK's error holds the request's Basic
   * header, and an OAuth body can echo the request.
   */
  private async login(): Promise<void> {
    const {clock, maxAttempts} = this.opts;
    const random = this.opts.random ?? Math.random;
    const client = `OAuth client #${this.clientIndex}`;
    for (let attempt = 1; ; attempt++) {
      try {
        const auth = await this.api.loginClientCredentialsGrant(
          this.creds.clientId,
          this.creds.clientSecret,
        );
        this.tokenExpiry = auth.tokenExpiryTime;
        this.tokenGeneration++;
        this.opts.logger.info('Genesys login', {clientIndex: this.clientIndex});
        return;
      } catch (err) {
        const failure = classify(err, clock.now());
        const decision = decideLogin(failure, attempt, maxAttempts, random());
        if (decision.action === 'fail') {
          if (failure.kind === 'http' && isCredentialsRefusal(failure.status)) {
            const code = oauthErrorCode(err);
            throw new PermanentError(
              `Genesys login failed for ${client} (HTTP ${failure.status}${code ? ` ${code}` : ''}): check the credentials`,
            );
          }
          const message = `Genesys login for ${client} failed after ${attempt} attempt(s): ${describe(failure)}`;
          throw decision.retryable ? new RetryableError(message) : new PermanentError(message);
        }
        await this.retryAfter('login', attempt, failure, decision.delayMs);
      }
    }
  }

  /**
   * One API call with pacing, token renewal and the retry policy. `pinned`
   * calls go on this session's client (batch download requests and analytics
   * jobs are readable only by their submitter); the others go on whichever
   * client of the instance has room first, so an instance uses its share of
   * every client, and the fleet every client's budget, whatever client a
   * batch was given.
   */
  private async call<T>(
    operation: string,
    fn: (s: Session) => Promise<unknown>,
    pinned = true,
  ): Promise<T> {
    const {clock, maxAttempts} = this.opts;
    const random = this.opts.random ?? Math.random;
    let relogged = false;
    for (let attempt = 1; ; attempt++) {
      const [s, ticket] = await this.slot(pinned ? [this] : this.peers);
      try {
        await s.ensureToken();
      } catch (err) {
        s.pacer.cancel(ticket); // never sent
        throw err;
      }
      const generation = s.tokenGeneration;
      try {
        const res = (await fn(s)) as Extended<T>;
        s.settle(ticket, res.headers);
        return res.body;
      } catch (err) {
        const failure = classify(err, clock.now());
        s.settle(ticket, (err as {headers?: Record<string, string>} | null)?.headers);
        if (
          failure.kind === 'http' &&
          failure.status === 429 &&
          failure.retryAfterSeconds !== undefined
        )
          // The whole client waits, not only this call: the window is the server's.
          s.pacer.pauseUntil(clock.now() + failure.retryAfterSeconds * 1000);
        const decision: Decision = decide(failure, attempt, maxAttempts, random(), relogged);
        if (decision.action === 'relogin') {
          relogged = true;
          // Only a token no other call has replaced meanwhile is dropped.
          if (generation === s.tokenGeneration) s.tokenExpiry = 0;
          continue;
        }
        if (decision.action === 'fail') {
          const message = `Genesys ${operation} failed after ${attempt} attempt(s): ${describe(failure)}`;
          if (failure.kind === 'http' && failure.status === 404) throw new NotFoundError(message);
          throw decision.retryable ? new RetryableError(message) : new PermanentError(message);
        }
        await s.retryAfter(operation, attempt, failure, decision.delayMs);
      }
    }
  }

  /** Waits for a slot of one of these sessions' budgets: the first with room, in turn. */
  private async slot(candidates: readonly Session[]): Promise<[Session, number]> {
    const {clock} = this.opts;
    for (;;) {
      let wait = Infinity;
      const start = spreadCursor++;
      for (let k = 0; k < candidates.length; k++) {
        const s = candidates[(start + k) % candidates.length]!;
        const r = s.pacer.reserve(clock.now());
        if ('ticket' in r) return [s, r.ticket];
        wait = Math.min(wait, r.waitMs);
      }
      await clock.sleep(wait);
    }
  }

  /** The request has its answer: frees its slot a window later and notes what the server said. */
  private settle(ticket: number, headers: Record<string, string> | undefined): void {
    const now = this.opts.clock.now();
    this.pacer.settle(ticket, now);
    this.pacer.observe(
      headerNumber(headers, 'inin-ratelimit-allowed'),
      headerNumber(headers, 'inin-ratelimit-count'),
      headerNumber(headers, 'inin-ratelimit-reset'),
      now,
    );
  }

  /** Logs a retry and waits for it. */
  private async retryAfter(
    operation: string,
    attempt: number,
    failure: Failure,
    delayMs: number,
  ): Promise<void> {
    // `requestAttempt`: a batch's own `attempt` comes with every line logged for it.
    this.opts.logger.warn('Genesys request will be retried', {
      operation,
      clientIndex: this.clientIndex,
      requestAttempt: attempt,
      reason: describe(failure),
      failure,
      delayMs,
    });
    await this.opts.clock.sleep(delayMs);
  }

  async dataAvailability(): Promise<number> {
    const body = await this.call<{dataAvailabilityDate?: string}>(
      'jobs availability',
      s => s.analytics.getAnalyticsConversationsDetailsJobsAvailability(),
      false,
    );
    const at = Date.parse(body.dataAvailabilityDate ?? '');
    if (!Number.isFinite(at)) throw new RetryableError('Genesys returned no dataAvailabilityDate');
    return at;
  }

  async *discoverWithJob(window: Window): AsyncIterable<DiscoveredConversation[]> {
    const interval = `${new Date(window.startMs).toISOString()}/${new Date(window.endMs).toISOString()}`;
    const {jobId} = await this.call<{jobId: string}>('create analytics job', s =>
      s.analytics.postAnalyticsConversationsDetailsJobs({
        interval,
        order: 'asc',
        orderBy: 'conversationStart',
      }),
    );
    const deadline = this.opts.clock.now() + JOB_DEADLINE_MS;
    // A job is never done the moment it is created: every poll costs a request of the budget.
    for (let delay = JOB_FIRST_POLL_MS; ; delay = Math.min(delay * 2, 10_000)) {
      await this.opts.clock.sleep(delay);
      const status = await this.call<{state?: string; errorMessage?: string}>(
        'poll analytics job',
        s => s.analytics.getAnalyticsConversationsDetailsJob(jobId),
      );
      if (status.state === 'FULFILLED') break;
      if (status.state === 'FAILED' || status.state === 'CANCELLED' || status.state === 'EXPIRED') {
        throw new JobFailedError(
          `analytics job ended ${status.state}${status.errorMessage ? `: ${status.errorMessage}` : ''}`,
        );
      }
      if (this.opts.clock.now() > deadline)
        throw new JobFailedError('analytics job did not finish in time');
    }
    let cursor: string | undefined;
    do {
      const page = await this.call<{conversations?: DiscoveredConversation[]; cursor?: string}>(
        'read analytics job results',
        s =>
          s.analytics.getAnalyticsConversationsDetailsJobResults(jobId, {
            pageSize: JOB_PAGE_SIZE,
            ...(cursor ? {cursor} : {}),
          }),
      );
      yield (page.conversations ?? []).map(c => ({
        conversationId: c.conversationId,
        conversationStart: c.conversationStart,
      }));
      cursor = page.cursor;
    } while (cursor);
  }

  async *discoverWithQuery(window: Window): AsyncIterable<DiscoveredConversation[]> {
    const interval = `${new Date(window.startMs).toISOString()}/${new Date(window.endMs).toISOString()}`;
    for (let pageNumber = 1; ; pageNumber++) {
      const page = await this.call<{conversations?: DiscoveredConversation[]}>(
        'analytics query',
        s =>
          s.analytics.postAnalyticsConversationsDetailsQuery({
            interval,
            order: 'asc',
            orderBy: 'conversationStart',
            paging: {pageSize: QUERY_PAGE_SIZE, pageNumber},
          }),
      );
      const conversations = page.conversations ?? [];
      yield conversations.map(c => ({
        conversationId: c.conversationId,
        conversationStart: c.conversationStart,
      }));
      if (conversations.length < QUERY_PAGE_SIZE) return;
    }
  }

  async conversationDetails(ids: string[]): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const body = await this.call<{conversations?: Array<Record<string, unknown>>}>(
        'conversation details',
        s => s.analytics.getAnalyticsConversationsDetails({id: chunk}),
        false,
      );
      out.push(...(body.conversations ?? []));
    }
    return out;
  }

  async recordingMetadata(conversationId: string): Promise<RecordingMeta[] | undefined> {
    try {
      return await this.call<RecordingMeta[]>(
        'recording metadata',
        s => s.recording.getConversationRecordingmetadata(conversationId),
        false,
      );
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async submitBatch(items: Array<{conversationId: string; recordingId?: string}>): Promise<string> {
    const body = await this.call<{id: string}>('submit batch download', s =>
      s.recording.postRecordingBatchrequests({batchDownloadRequestList: items}),
    );
    return body.id;
  }

  async batchStatus(jobId: string): Promise<BatchStatus> {
    const body = await this.call<BatchStatus>('poll batch download', s =>
      s.recording.getRecordingBatchrequest(jobId),
    );
    return {...body, results: body.results ?? []};
  }

  async divisionsPermitted(permission: string): Promise<number> {
    // On this client's own token: the answer is about the client that asks.
    const body = await this.call<{total?: unknown}>('divisions permitted', s =>
      s.authorization.getAuthorizationDivisionspermittedPagedMe(permission, {pageSize: 1}),
    );
    const total = body.total;
    if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0)
      throw new PermanentError('Genesys divisions permitted answered without a total');
    return total;
  }
}

/**
 * The instance's Genesys access: one session (token) per OAuth client, each
 * paced to the instance's share of that client's budget and to what the
 * server says of it; shared by every batch it runs (build it once per
 * instance).
 */
export class GenesysCloud implements Genesys {
  private readonly sessions: Session[] = [];

  constructor(private readonly opts: GenesysOptions) {
    if (opts.clients.length === 0)
      throw new PermanentError('no Genesys OAuth client is configured');
  }

  get clientCount(): number {
    return this.opts.clients.length;
  }

  /** Every client's session (none logs in before its first call). */
  private all(): Session[] {
    if (this.sessions.length === 0) {
      const o = this.opts;
      const share = instanceShare(o.role, {
        perTokenPerMinute: o.tokenRequestsPerMinute,
        perClientPerMinute: o.clientRequestsPerMinute,
        workers: o.workers,
        planners: o.planners,
      });
      o.clients.forEach((creds, i) =>
        this.sessions.push(new Session(i, creds, o, new RequestBudget(share), this.sessions)),
      );
    }
    return this.sessions;
  }

  async session(index: number): Promise<GenesysSession> {
    const n = this.clientCount;
    return this.all()[((index % n) + n) % n]!;
  }
}
