/**
 * One OAuth client's connection to Genesys Cloud over the official SDK, with
 * what the SDK lacks: its token (renewed before expiry and on 401, one login
 * at a time), pacing to the instance's share of the client's request budget
 * (and to what the server says of it), and retries (Retry-After, 408/5xx and
 * network backoff with jitter). The calls themselves are in genesys.ts.
 */
import platformClient from 'purecloud-platform-client-v2';
import {NotFoundError, PermanentError, RetryableError} from '../core/errors';
import type {RequestBudget} from '../core/budget';
import {
  Decision,
  Failure,
  decide,
  decideLogin,
  isCredentialsRefusal,
  parseRetryAfter,
} from '../core/retry';
import type {Clock, GenesysCallContext} from '../ports';
import type {Logger} from '../logger';
import type {GenesysCredentials} from '../core/genesys-credentials';

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
  /**
   * Percent of the instance's budget on each client that batches of the
   * migration lane may use (MIGRATION_SHARE; default 100).
   */
  migrationSharePercent?: number;
  maxAttempts: number;
  clock: Clock;
  random?: () => number;
  logger: Logger;
}

/** Renew the token this long before it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;
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

/**
 * What a call is made for: the migration lane is paced to its share of the
 * budget on top of the instance's budget, and a meter counts the requests
 * sent (a batch report says how many its batch cost).
 */
export type CallContext = GenesysCallContext;

/** Where the next call that any client may make starts looking for room. */
let spreadCursor = 0;

/** The SDK's APIs a call uses, on one connection's client. */
export interface GenesysApis {
  readonly analytics: InstanceType<typeof platformClient.AnalyticsApi>;
  readonly recording: InstanceType<typeof platformClient.RecordingApi>;
  readonly authorization: InstanceType<typeof platformClient.AuthorizationApi>;
}

/** A request's slot in the instance's budget, and in the lane's when it has one. */
interface Ticket {
  ticket: number;
  lane?: number;
}

export class GenesysConnection {
  private tokenExpiry = 0;
  /** Counts logins: a 401 on a token an earlier login already replaced logs nobody in again. */
  private tokenGeneration = 0;
  /** The login in progress: concurrent calls wait for it instead of each logging in. */
  private loggingIn: Promise<void> | undefined;
  private readonly api: ApiClient;
  private readonly apis: GenesysApis;

  constructor(
    readonly clientIndex: number,
    private readonly creds: GenesysCredentials,
    private readonly opts: GenesysOptions,
    /** The instance's share of this client's budget, held to what the server says too. */
    private readonly pacer: RequestBudget,
    /** Every client's connection of this instance (this one included), for calls any client may make. */
    private readonly peers: readonly GenesysConnection[],
    /** The migration lane's part of `pacer` (reserved from as well as `pacer`). */
    private readonly lanePacer?: RequestBudget,
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
    this.apis = {
      analytics: new platformClient.AnalyticsApi(this.api),
      recording: new platformClient.RecordingApi(this.api),
      authorization: new platformClient.AuthorizationApi(this.api),
    };
  }

  get clock(): Clock {
    return this.opts.clock;
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
   * calls go on this connection's client (batch download requests and analytics
   * jobs are readable only by their submitter); the others go on whichever
   * client of the instance has room first, so an instance uses its share of
   * every client, and the fleet every client's budget, whatever client a
   * batch was given.
   */
  async call<T>(
    operation: string,
    fn: (apis: GenesysApis) => Promise<unknown>,
    pinned = true,
    context: CallContext = {},
  ): Promise<T> {
    const {clock, maxAttempts} = this.opts;
    const random = this.opts.random ?? Math.random;
    const lane = context.lane === 'migration';
    // A 401 renews a client's token once per call; an unpinned retry may land on another
    // client, whose token may be just as stale (revoked together), and gets its own renewal.
    const relogged = new Set<GenesysConnection>();
    for (let attempt = 1; ; attempt++) {
      const [s, ticket] = await this.slot(pinned ? [this] : this.peers, lane);
      try {
        await s.ensureToken();
      } catch (err) {
        s.cancel(ticket); // never sent
        throw err;
      }
      const generation = s.tokenGeneration;
      if (context.meter) context.meter.requests++;
      try {
        const res = (await fn(s.apis)) as Extended<T>;
        s.settle(ticket, res.headers);
        s.answered(operation, res.status);
        return res.body;
      } catch (err) {
        const failure = classify(err, clock.now());
        s.settle(ticket, (err as {headers?: Record<string, string>} | null)?.headers);
        s.answered(operation, failure.kind === 'http' ? failure.status : failure.kind);
        if (
          failure.kind === 'http' &&
          failure.status === 429 &&
          failure.retryAfterSeconds !== undefined
        )
          // The whole client waits, not only this call: the window is the server's.
          s.pacer.pauseUntil(clock.now() + failure.retryAfterSeconds * 1000);
        const decision: Decision = decide(failure, attempt, maxAttempts, random(), relogged.has(s));
        if (decision.action === 'relogin') {
          relogged.add(s);
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

  /**
   * Waits for a slot of one of these connections' budgets: the first with
   * room, in turn. A migration-lane call needs room in the lane's budget and
   * in the instance's.
   */
  private async slot(
    candidates: readonly GenesysConnection[],
    lane: boolean,
  ): Promise<[GenesysConnection, Ticket]> {
    const {clock} = this.opts;
    for (;;) {
      let wait = Infinity;
      const start = spreadCursor++;
      for (let k = 0; k < candidates.length; k++) {
        const s = candidates[(start + k) % candidates.length]!;
        const now = clock.now();
        const l = lane && s.lanePacer ? s.lanePacer.reserve(now) : undefined;
        if (l && !('ticket' in l)) {
          wait = Math.min(wait, l.waitMs);
          continue;
        }
        const r = s.pacer.reserve(now);
        if ('ticket' in r) return [s, {ticket: r.ticket, ...(l ? {lane: l.ticket} : {})}];
        if (l) s.lanePacer!.cancel(l.ticket);
        wait = Math.min(wait, r.waitMs);
      }
      await clock.sleep(wait);
    }
  }

  /** The request was never sent: its slots are free at once. */
  private cancel(t: Ticket): void {
    this.pacer.cancel(t.ticket);
    if (t.lane !== undefined) this.lanePacer?.cancel(t.lane);
  }

  /** The request has its answer: frees its slot a window later and notes what the server said. */
  private settle(t: Ticket, headers: Record<string, string> | undefined): void {
    const now = this.opts.clock.now();
    if (t.lane !== undefined) this.lanePacer?.settle(t.lane, now);
    const ticket = t.ticket;
    this.pacer.settle(ticket, now);
    this.pacer.observe(
      headerNumber(headers, 'inin-ratelimit-allowed'),
      headerNumber(headers, 'inin-ratelimit-count'),
      headerNumber(headers, 'inin-ratelimit-reset'),
      now,
    );
  }

  /**
   * One line per request sent (DEBUG): the dashboard counts Genesys requests
   * per OAuth client and status from it (infra/dashboard.tf), 429s included.
   * `status` is the HTTP status, or `network` / `other` when none came.
   */
  private answered(operation: string, status: number | string): void {
    this.opts.logger.debug('Genesys request', {
      event: 'genesys_request',
      operation,
      clientIndex: this.clientIndex,
      status: String(status),
    });
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
}
