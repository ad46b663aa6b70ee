/**
 * Genesys Cloud's calls the pipeline makes (analytics discovery, conversation
 * details, recording metadata, batch downloads, divisions permitted), one
 * session per OAuth client, each over its connection (genesys-connection.ts:
 * token, pacing, retries). A batch stays on one client (batch results are
 * readable only by their submitter).
 */
import {JobFailedError, NotFoundError, PermanentError, RetryableError} from '../core/errors';
import {RequestBudget, instanceShare} from '../core/budget';
import type {Window} from '../core/time-window';
import type {
  BatchStatus,
  DiscoveredConversation,
  Genesys,
  GenesysSession,
  RecordingMeta,
  RecordingState,
} from '../ports';
import {CallContext, GenesysConnection, GenesysOptions} from './genesys-connection';

export {parseCredentials} from '../core/genesys-credentials';
export type {GenesysCredentials} from '../core/genesys-credentials';
export type {GenesysOptions} from './genesys-connection';

/** Requests per analytics job results page, and per query page. */
const JOB_PAGE_SIZE = 1000;

/** The fields a restore reads, each only when Genesys answered a string. */
function pickState(body: unknown): RecordingState {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const out: RecordingState = {};
  for (const k of ['fileState', 'archiveDate', 'deleteDate', 'restoreExpirationTime'] as const)
    if (typeof b[k] === 'string') out[k] = b[k];
  return out;
}
const QUERY_PAGE_SIZE = 100;
/** The first wait for an analytics job before asking whether it is done, in ms. */
const JOB_FIRST_POLL_MS = 1000;
/** How long to wait for an analytics job, in ms. */
const JOB_DEADLINE_MS = 30 * 60_000;

/** One OAuth client's Genesys calls, each made on its connection (or, unpinned, on any client's). */
class Session implements GenesysSession {
  constructor(
    private readonly conn: GenesysConnection,
    private readonly context: CallContext = {},
  ) {}

  get clientIndex(): number {
    return this.conn.clientIndex;
  }

  /** This session's calls in another lane, or counted on another meter. */
  within(context: CallContext): Session {
    return new Session(this.conn, context);
  }

  async dataAvailability(): Promise<number> {
    const body = await this.conn.call<{dataAvailabilityDate?: string}>(
      'jobs availability',
      a => a.analytics.getAnalyticsConversationsDetailsJobsAvailability(),
      false,
      this.context,
    );
    const at = Date.parse(body.dataAvailabilityDate ?? '');
    if (!Number.isFinite(at)) throw new RetryableError('Genesys returned no dataAvailabilityDate');
    return at;
  }

  async *discoverWithJob(window: Window): AsyncIterable<DiscoveredConversation[]> {
    const interval = `${new Date(window.startMs).toISOString()}/${new Date(window.endMs).toISOString()}`;
    const {jobId} = await this.conn.call<{jobId: string}>(
      'create analytics job',
      a =>
        a.analytics.postAnalyticsConversationsDetailsJobs({
          interval,
          order: 'asc',
          orderBy: 'conversationStart',
        }),
      true,
      this.context,
    );
    const deadline = this.conn.clock.now() + JOB_DEADLINE_MS;
    // A job is never done the moment it is created: every poll costs a request of the budget.
    for (let delay = JOB_FIRST_POLL_MS; ; delay = Math.min(delay * 2, 10_000)) {
      await this.conn.clock.sleep(delay);
      const status = await this.conn.call<{state?: string; errorMessage?: string}>(
        'poll analytics job',
        a => a.analytics.getAnalyticsConversationsDetailsJob(jobId),
        true,
        this.context,
      );
      if (status.state === 'FULFILLED') break;
      if (status.state === 'FAILED' || status.state === 'CANCELLED' || status.state === 'EXPIRED') {
        throw new JobFailedError(
          `analytics job ended ${status.state}${status.errorMessage ? `: ${status.errorMessage}` : ''}`,
        );
      }
      if (this.conn.clock.now() > deadline)
        throw new JobFailedError('analytics job did not finish in time');
    }
    let cursor: string | undefined;
    do {
      const page = await this.conn.call<{
        conversations?: DiscoveredConversation[];
        cursor?: string;
      }>(
        'read analytics job results',
        a =>
          a.analytics.getAnalyticsConversationsDetailsJobResults(jobId, {
            pageSize: JOB_PAGE_SIZE,
            ...(cursor ? {cursor} : {}),
          }),
        true,
        this.context,
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
      const page = await this.conn.call<{conversations?: DiscoveredConversation[]}>(
        'analytics query',
        a =>
          a.analytics.postAnalyticsConversationsDetailsQuery({
            interval,
            order: 'asc',
            orderBy: 'conversationStart',
            paging: {pageSize: QUERY_PAGE_SIZE, pageNumber},
          }),
        true,
        this.context,
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
      const body = await this.conn.call<{conversations?: Array<Record<string, unknown>>}>(
        'conversation details',
        a => a.analytics.getAnalyticsConversationsDetails({id: chunk}),
        false,
        this.context,
      );
      out.push(...(body.conversations ?? []));
    }
    return out;
  }

  async recordingMetadata(conversationId: string): Promise<RecordingMeta[] | undefined> {
    try {
      return await this.conn.call<RecordingMeta[]>(
        'recording metadata',
        a => a.recording.getConversationRecordingmetadata(conversationId),
        false,
        this.context,
      );
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async submitBatch(items: Array<{conversationId: string; recordingId?: string}>): Promise<string> {
    const body = await this.conn.call<{id: string}>(
      'submit batch download',
      a => a.recording.postRecordingBatchrequests({batchDownloadRequestList: items}),
      true,
      this.context,
    );
    return body.id;
  }

  async batchStatus(jobId: string): Promise<BatchStatus> {
    const body = await this.conn.call<BatchStatus>(
      'poll batch download',
      a => a.recording.getRecordingBatchrequest(jobId),
      true,
      this.context,
    );
    return {...body, results: body.results ?? []};
  }

  async analyticsRetention(): Promise<{retentionDays: number} | {none: true}> {
    try {
      const body = await this.conn.call<{retentionDays?: unknown}>(
        'analytics data retention',
        a => a.analytics.getAnalyticsDataretentionSettings(),
        true, // on the client that asked for the watermark: no second login
        this.context,
      );
      const days = body?.retentionDays;
      return typeof days === 'number' && Number.isSafeInteger(days) && days > 0
        ? {retentionDays: days}
        : {none: true};
    } catch (err) {
      // What Genesys answers an organisation without the setting is not documented: a 404 is none.
      if (err instanceof NotFoundError) return {none: true};
      throw err;
    }
  }

  async recordingState(
    conversationId: string,
    recordingId: string,
  ): Promise<RecordingState | undefined> {
    try {
      const body = await this.conn.call<RecordingState>(
        'recording state',
        a => a.recording.getConversationRecordingmetadataRecordingId(conversationId, recordingId),
        true, // on this session's client: the one whose restore permission counts
        this.context,
      );
      return pickState(body);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async setArchiveDate(
    conversationId: string,
    recordingId: string,
    archiveDate: string,
    deleteDate: string | undefined,
  ): Promise<RecordingState> {
    // The delete date goes back as it was: the body is the recording's retention, not a patch.
    const body = await this.conn.call<RecordingState>(
      'restore recording',
      a =>
        a.recording.putConversationRecording(conversationId, recordingId, {
          archiveDate,
          ...(deleteDate !== undefined ? {deleteDate} : {}),
        }),
      true,
      this.context,
    );
    return pickState(body);
  }

  async divisionsPermitted(permission: string): Promise<number> {
    // On this client's own token: the answer is about the client that asks.
    const body = await this.conn.call<{total?: unknown}>(
      'divisions permitted',
      a => a.authorization.getAuthorizationDivisionspermittedPagedMe(permission, {pageSize: 1}),
      true,
      this.context,
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
      const lane = Math.max(1, Math.floor((share * (o.migrationSharePercent ?? 100)) / 100));
      const connections: GenesysConnection[] = [];
      o.clients.forEach((creds, i) =>
        connections.push(
          new GenesysConnection(
            i,
            creds,
            o,
            new RequestBudget(share),
            connections,
            new RequestBudget(lane),
          ),
        ),
      );
      this.sessions.push(...connections.map(c => new Session(c)));
    }
    return this.sessions;
  }

  /**
   * The session of client `index` (modulo their number); with a context, a
   * view of it whose calls go in that lane and count on that meter.
   */
  async session(index: number, context?: CallContext): Promise<GenesysSession> {
    const n = this.clientCount;
    const session = this.all()[((index % n) + n) % n]!;
    return context ? session.within(context) : session;
  }
}
