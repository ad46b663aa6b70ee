/**
 * The Genesys Cloud simulator's HTTP server. One origin serves OAuth
 * (`/oauth/token`), the Platform API (`/api/v2/…`) and signed media
 * (`/media/…`), so the official SDK works unchanged once pointed at it with
 * `ApiClient.setGateway({host, port, protocol})`.
 *
 * Platform behaviour: bearer tokens that expire, sliding-minute rate limits
 * per token and per OAuth client across its tokens answered with the
 * documented 429 body and `Retry-After`, a token-creation limit per client
 * (429 with an OAuth error body and `Retry-After`), `inin-ratelimit-*` and
 * `ININ-Correlation-Id` headers on every API response, errors in the
 * ErrorBody shape. Restores of archived recordings by `PUT …/recordings/{id}`
 * move with the clock (retention.ts). Admin API (not Genesys): `/_admin/…`
 * (`recover?day=` turns a day's archived, restoring, uploading and errored
 * recordings into restored or available ones, as if the source had recovered).
 */
import {createHash, randomBytes, randomUUID} from 'node:crypto';
import {createServer as createHttpServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import {createServer as createHttpsServer} from 'node:https';
import {pipeline} from 'node:stream/promises';
import {Transform} from 'node:stream';
import {FileState, Organisation} from './org';
import {AnalyticsJobs, detailRecord, runQuery, utcDaysBetween} from './analytics';
import {BatchRequests, UrlSigner} from './batches';
import {mediaFor, mediaOf, chatTranscript, emailTranscript, messagingTranscript} from './media';
import {ApiError, errorBody} from './errors';
import {OAuthClient, VIEW_SENSITIVE_DATA} from './clients';
import {DATA_RETENTION_VIEW, divisionsPermitted, holds} from './permissions';
import {applyRequest, parseRetentionRequest, plan} from './retention';
import {DEFAULT_SETTINGS, Settings, parseSettings} from './settings';
import {ClientUsage, MinuteWindow, TokenUsage} from './limits';
import {FaultInjector, serveFaultAdmin} from '../common/faults';
import {BodyTooLargeError, readBody, sendJson} from '../common/http';
import {parseRange} from '../gcs/server';
import {Checksums} from '../gcs/streams';
import {Rng} from './random';

/** A `?day=` parameter of the admin API. */
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

export interface SimulatorOptions {
  org: Organisation;
  /** OAuth clients by id: secret and the permissions they lack. */
  clients: Map<string, OAuthClient>;
  settings?: Partial<Settings>;
  /** TLS key and certificate: serve HTTPS instead of HTTP. */
  tls?: {key: string; cert: string};
  /** The clock (tests may move it). */
  now?: () => number;
}

interface Token {
  clientId: string;
  expiresMs: number;
  /** Names the token in the counters (`CLIENT#N`); never the bearer itself. */
  label: string;
  issuedMs: number;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  origin: string;
  clientId: string;
  nowMs: number;
  params: string[];
}

type Route = {
  method: string;
  pattern: RegExp;
  name: string;
  handle: (ctx: Ctx) => Promise<unknown> | unknown;
};

const UUID = '([0-9a-fA-F-]{36})';

export interface Simulator {
  server: Server;
  settings: Settings;
  org: Organisation;
}

export function createSimulator(opts: SimulatorOptions): Simulator {
  const org = opts.org;
  const settings: Settings = {...DEFAULT_SETTINGS, ...opts.settings};
  const now = opts.now ?? (() => Date.now());
  org.clock = now;
  const tokens = new Map<string, Token>();
  // The limits' sliding minutes: accepted API requests per token and per
  // client, tokens created per client. Resetting the counters leaves them be.
  const tokenWindows = new Map<string, MinuteWindow>();
  const clientWindows = new Map<string, MinuteWindow>();
  const creationWindows = new Map<string, MinuteWindow>();
  const issuedPerClient = new Map<string, number>();
  const windowOf = (map: Map<string, MinuteWindow>, key: string): MinuteWindow => {
    let w = map.get(key);
    if (!w) map.set(key, (w = new MinuteWindow()));
    return w;
  };
  const counters = {
    byEndpoint: {} as Record<string, number>,
    byClient: {} as Record<string, number>,
    byStatus: {} as Record<string, number>,
    /** Per OAuth client: API calls, tokens issued, 429s by limit, peaks per minute. */
    clients: {} as Record<string, ClientUsage>,
    /** Per token (by label): its client, API calls, 429s by limit, peak per minute. */
    tokens: {} as Record<string, TokenUsage>,
  };
  const clientUsage = (id: string) => (counters.clients[id] ??= new ClientUsage());
  const tokenUsage = (t: Token) =>
    (counters.tokens[t.label] ??= new TokenUsage(t.clientId, t.issuedMs));
  const transcodes = new Map<string, number>();
  const faults = new FaultInjector(status =>
    errorBody(status, 'injected.fault', `Injected fault: HTTP ${status}`, randomUUID()),
  );
  const signer = new UrlSigner(randomBytes(32));
  const jobs = new AnalyticsJobs(org, () => ({
    queuedMs: settings.jobQueuedMs,
    pendingMs: settings.jobPendingMs,
    expiryMs: settings.jobExpiryMs,
    maxPageSize: settings.jobMaxPageSize,
    defaultPageSize: settings.jobDefaultPageSize,
  }));
  const batches = new BatchRequests(org, () => settings, signer);
  const watermark = (nowMs: number) => nowMs - settings.availabilityLagMinutes * 60_000;
  let mediaServed = 0;

  const count = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);

  const routes: Route[] = [
    {
      method: 'POST',
      pattern: /^\/api\/v2\/analytics\/conversations\/details\/query$/,
      name: 'POST /api/v2/analytics/conversations/details/query',
      handle: async ctx =>
        runQuery(org, await jsonBody(ctx.req), ctx.nowMs, {
          maxPageSize: settings.queryMaxPageSize,
          maxResults: 100_000,
        }),
    },
    {
      method: 'GET',
      pattern: /^\/api\/v2\/analytics\/dataretention\/settings$/,
      name: 'GET /api/v2/analytics/dataretention/settings',
      handle: ctx => {
        if (!holds(opts.clients.get(ctx.clientId), DATA_RETENTION_VIEW, false))
          throw new ApiError(
            403,
            'missing.permissions',
            `Missing permission ${DATA_RETENTION_VIEW}`,
          );
        const days = settings.analyticsRetentionDays;
        if (days === 0)
          throw new ApiError(
            404,
            'not.found',
            'No maximum data retention is set for the organization.',
          );
        const set = new Date(ctx.nowMs - 30 * 86_400_000).toISOString();
        return {retentionDays: days, dateCreated: set, dateModified: set};
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v2\/analytics\/conversations\/details\/jobs\/availability$/,
      name: 'GET /api/v2/analytics/conversations/details/jobs/availability',
      handle: ctx => ({dataAvailabilityDate: new Date(watermark(ctx.nowMs)).toISOString()}),
    },
    {
      method: 'POST',
      pattern: /^\/api\/v2\/analytics\/conversations\/details\/jobs$/,
      name: 'POST /api/v2/analytics/conversations/details/jobs',
      handle: async ctx => {
        const body = await jsonBody(ctx.req);
        let outcome: 'FULFILLED' | 'FAILED' | 'EXPIRED' = 'FULFILLED';
        if (settings.jobFailNext > 0) {
          settings.jobFailNext--;
          outcome = 'FAILED';
        } else if (settings.jobExpireNext > 0) {
          settings.jobExpireNext--;
          outcome = 'EXPIRED';
        }
        ctx.res.statusCode = 202;
        return jobs.create(body, ctx.nowMs, watermark(ctx.nowMs), outcome);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/v2/analytics/conversations/details/jobs/${UUID}$`),
      name: 'GET /api/v2/analytics/conversations/details/jobs/{jobId}',
      handle: ctx => jobs.status(ctx.params[0]!, ctx.nowMs),
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/api/v2/analytics/conversations/details/jobs/${UUID}$`),
      name: 'DELETE /api/v2/analytics/conversations/details/jobs/{jobId}',
      handle: ctx => {
        jobs.cancel(ctx.params[0]!);
        ctx.res.statusCode = 204;
        return undefined;
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/v2/analytics/conversations/details/jobs/${UUID}/results$`),
      name: 'GET /api/v2/analytics/conversations/details/jobs/{jobId}/results',
      handle: ctx =>
        jobs.results(
          ctx.params[0]!,
          ctx.nowMs,
          ctx.url.searchParams.get('cursor') ?? undefined,
          ctx.url.searchParams.get('pageSize') ?? undefined,
        ),
    },
    {
      method: 'GET',
      pattern: /^\/api\/v2\/analytics\/conversations\/details$/,
      name: 'GET /api/v2/analytics/conversations/details',
      handle: ctx => {
        const ids = (ctx.url.searchParams.getAll('id').join(',') || '').split(',').filter(Boolean);
        if (ids.length === 0)
          throw new ApiError(400, 'bad.request', 'At least one id is required.');
        if (ids.length > 100)
          throw new ApiError(400, 'bad.request', 'At most 100 ids may be requested at once.');
        const conversations = ids.flatMap(id => {
          const conv = org.find(id);
          return conv && conv.startMs <= ctx.nowMs ? [detailRecord(conv, ctx.nowMs, false)] : [];
        });
        return {conversations};
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/v2/analytics/conversations/${UUID}/details$`),
      name: 'GET /api/v2/analytics/conversations/{conversationId}/details',
      handle: ctx => detailRecord(conversation(ctx.params[0]!, ctx.nowMs), ctx.nowMs, false),
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/v2/conversations/${UUID}/recordingmetadata$`),
      name: 'GET /api/v2/conversations/{conversationId}/recordingmetadata',
      handle: ctx => {
        const conv = conversation(ctx.params[0]!, ctx.nowMs);
        return conv.recordings.map(r => recordingMetadata(conv.id, r));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/v2/conversations/${UUID}/recordingmetadata/${UUID}$`),
      name: 'GET /api/v2/conversations/{conversationId}/recordingmetadata/{recordingId}',
      handle: ctx => {
        const conv = conversation(ctx.params[0]!, ctx.nowMs);
        return recordingMetadata(conv.id, recording(conv, ctx.params[1]!));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/v2/conversations/${UUID}/recordings/${UUID}$`),
      name: 'GET /api/v2/conversations/{conversationId}/recordings/{recordingId}',
      handle: ctx => singleRecording(ctx),
    },
    {
      method: 'PUT',
      pattern: new RegExp(`^/api/v2/conversations/${UUID}/recordings/${UUID}$`),
      name: 'PUT /api/v2/conversations/{conversationId}/recordings/{recordingId}',
      handle: ctx => putRecording(ctx),
    },
    {
      method: 'POST',
      pattern: /^\/api\/v2\/recording\/batchrequests$/,
      name: 'POST /api/v2/recording/batchrequests',
      handle: async ctx => {
        const body = await jsonBody(ctx.req);
        const viewsSensitive =
          !settings.dropSensitive &&
          !opts.clients.get(ctx.clientId)?.lacks.includes(VIEW_SENSITIVE_DATA);
        ctx.res.statusCode = 202;
        return batches.submit(body, ctx.clientId, viewsSensitive, ctx.nowMs);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/v2/recording/batchrequests/${UUID}$`),
      name: 'GET /api/v2/recording/batchrequests/{jobId}',
      handle: ctx => batches.status(ctx.params[0]!, ctx.clientId, ctx.nowMs, ctx.origin),
    },
    {
      method: 'GET',
      pattern: /^\/api\/v2\/authorization\/divisionspermitted\/paged\/me$/,
      name: 'GET /api/v2/authorization/divisionspermitted/paged/me',
      handle: ctx =>
        divisionsPermitted(
          opts.clients.get(ctx.clientId),
          ctx.url.searchParams,
          settings.dropSensitive,
        ),
    },
    {
      method: 'GET',
      pattern: /^\/api\/v2\/recording\/settings$/,
      name: 'GET /api/v2/recording/settings',
      handle: () => ({
        maxSimultaneousStreams: 5,
        maxConfigurableScreenRecordingStreams: 5,
        regionalRecordingStorageEnabled: false,
        recordingPlaybackUrlTtl: settings.urlTtlMinutes,
        recordingBatchDownloadUrlTtl: settings.urlTtlMinutes,
      }),
    },
  ];

  function conversation(id: string, nowMs: number) {
    const conv = org.find(id);
    if (!conv || conv.startMs > nowMs)
      throw new ApiError(404, 'not.found', `Conversation ${id} was not found.`);
    return conv;
  }

  function recording(conv: NonNullable<ReturnType<Organisation['find']>>, id: string) {
    const rec = conv.recordings.find(r => r.id === id.toLowerCase());
    if (!rec)
      throw new ApiError(
        404,
        'not.found',
        `Recording ${id} was not found in conversation ${conv.id}.`,
      );
    return rec;
  }

  function recordingMetadata(
    conversationId: string,
    r: NonNullable<ReturnType<Organisation['find']>>['recordings'][number],
  ) {
    return {
      id: r.id,
      conversationId,
      ...(r.startTime ? {startTime: r.startTime} : {}),
      endTime: r.endTime,
      media: r.media,
      ...(r.mediaSubtype ? {mediaSubtype: r.mediaSubtype} : {}),
      ...(r.mediaSubject ? {mediaSubject: r.mediaSubject} : {}),
      annotations: [],
      fileState: r.fileState,
      ...(r.restoreExpirationTime ? {restoreExpirationTime: r.restoreExpirationTime} : {}),
      ...(r.archiveDate ? {archiveDate: r.archiveDate} : {}),
      ...(r.archiveMedium ? {archiveMedium: r.archiveMedium} : {}),
      ...(r.deleteDate ? {deleteDate: r.deleteDate} : {}),
      // Documented as deprecated: "Always returns 10000 since the restoration limit is no
      // longer enforced."
      maxAllowedRestorationsForOrg: 10000,
      remainingRestorationsAllowedForOrg: 10000,
      sessionId: r.sessionId,
      region: r.region,
      selfUri: `/api/v2/conversations/${conversationId}/recordingmetadata/${r.id}`,
    };
  }

  /**
   * `PUT …/recordings/{rid}`: changes archive and delete dates; a later
   * archive date on an archived recording restores it (retention.ts).
   * Answers the `Recording` as it stands after the change.
   */
  async function putRecording(ctx: Ctx): Promise<unknown> {
    const conv = conversation(ctx.params[0]!, ctx.nowMs);
    const rec = recording(conv, ctx.params[1]!);
    const clearExport = ctx.url.searchParams.get('clearExport');
    if (clearExport !== null && clearExport !== 'true' && clearExport !== 'false')
      throw new ApiError(400, 'bad.request', 'clearExport must be true or false.');
    const request = parseRetentionRequest(await jsonBody(ctx.req));
    const p = plan(rec, request, ctx.nowMs);
    const client = opts.clients.get(ctx.clientId);
    const missing = p.needs.filter(n => !holds(client, n, settings.dropSensitive));
    if (missing.length)
      throw new ApiError(
        403,
        'missing.permissions',
        `Unable to perform the requested action. You are missing the following permission(s): [${missing.join(', ')}]`,
      );
    org.setRetention(
      rec.id,
      applyRequest(rec, org.retentionOf(rec.id), request, p, ctx.nowMs, settings.restoreDelayMs),
    );
    const after = recording(conversation(conv.id, ctx.nowMs), rec.id);
    return {
      ...recordingMetadata(conv.id, after),
      users: [{id: conv.agent.id, name: conv.agent.name}],
      recordingFileRole: 'CUSTOMER_EXPERIENCE',
    };
  }

  function singleRecording(ctx: Ctx): unknown {
    const conv = conversation(ctx.params[0]!, ctx.nowMs);
    const rec = recording(conv, ctx.params[1]!);
    const q = ctx.url.searchParams;
    const format = q.get('mediaFormats')?.split(',')[0] ?? q.get('formatId') ?? 'WEBM';
    const formats = ['WAV', 'WEBM', 'WAV_ULAW', 'OGG_VORBIS', 'OGG_OPUS', 'MP3', 'NONE'];
    if (!formats.includes(format))
      throw new ApiError(
        400,
        'bad.request',
        `Invalid formatId "${format}"; one of ${formats.join(', ')}`,
      );
    const base = {
      ...recordingMetadata(conv.id, rec),
      users: [{id: conv.agent.id, name: conv.agent.name}],
      recordingFileRole: 'CUSTOMER_EXPERIENCE',
    };
    if (rec.fileState !== 'AVAILABLE' && rec.fileState !== 'RESTORED') return base;
    if (rec.media === 'chat') return {...base, transcript: chatTranscript(conv, rec)};
    if (rec.media === 'message')
      return {...base, messagingTranscript: messagingTranscript(conv, rec)};
    if (rec.media === 'email') return {...base, emailTranscript: emailTranscript(conv, rec)};
    const key = `${conv.id}/${rec.id}/${format}`;
    const firstSeen = transcodes.get(key) ?? ctx.nowMs;
    transcodes.set(key, firstSeen);
    const remaining = firstSeen + settings.transcodeMs - ctx.nowMs;
    if (remaining > 0) {
      ctx.res.statusCode = 202;
      return {...base, estimatedTranscodeTimeMs: remaining};
    }
    const ttlMs =
      settings.urlTtlSeconds > 0 ? settings.urlTtlSeconds * 1000 : settings.urlTtlMinutes * 60_000;
    const url = signer.sign({conversationId: conv.id, recordingId: rec.id}, ctx.nowMs + ttlMs);
    return {
      ...base,
      mediaUris: {'0': {mediaUri: `${ctx.origin}${url}`, waveformData: [0.5, 0.49, 0.51]}},
      actualTranscodeTimeMs: settings.transcodeMs,
      outputSizeInBytes: rec.size,
    };
  }

  // ---- OAuth ---------------------------------------------------------------------

  async function oauth(req: IncomingMessage, res: ServerResponse, nowMs: number): Promise<void> {
    const oauthError = (status: number, error: string, description: string) =>
      sendJson(res, status, {error, description, error_description: description});
    const body = (await readBody(req, 64 * 1024)).toString('utf8');
    const auth = req.headers.authorization ?? '';
    const basic = /^Basic\s+(.+)$/i.exec(auth);
    const decoded = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const id = colon >= 0 ? decoded.slice(0, colon) : '';
    const secret = colon >= 0 ? decoded.slice(colon + 1) : '';
    const grant = new URLSearchParams(body).get('grant_type');
    if (grant !== 'client_credentials') {
      return oauthError(
        400,
        'unsupported_grant_type',
        `grant_type must be client_credentials, got "${grant ?? ''}"`,
      );
    }
    if (!basic || opts.clients.get(id)?.secret !== secret) {
      return oauthError(401, 'invalid_client', 'authentication failed');
    }
    // Token creation per client, a sliding minute (an assumed limit: see settings.ts).
    const created = windowOf(creationWindows, id);
    if (created.size(nowMs) >= settings.tokenCreationPerMinute) {
      clientUsage(id).rejected.tokenCreation++;
      const retry = created.resetSeconds(nowMs);
      const description = `Token creation rate limit exceeded. Retry the request in [${retry}] seconds`;
      return sendJson(
        res,
        429,
        {error: 'too_many_requests', description, error_description: description},
        {'Retry-After': String(retry)},
      );
    }
    created.add(nowMs);
    const token = randomBytes(32).toString('base64url');
    const n = (issuedPerClient.get(id) ?? 0) + 1;
    issuedPerClient.set(id, n);
    tokens.set(token, {
      clientId: id,
      expiresMs: nowMs + settings.tokenTtlSeconds * 1000,
      label: `${id}#${n}`,
      issuedMs: nowMs,
    });
    count(counters.byEndpoint, 'POST /oauth/token');
    count(counters.byClient, id);
    clientUsage(id).issue(nowMs);
    sendJson(res, 200, {
      access_token: token,
      token_type: 'bearer',
      expires_in: settings.tokenTtlSeconds,
    });
  }

  // ---- API dispatch ---------------------------------------------------------------

  async function api(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    nowMs: number,
  ): Promise<void> {
    const contextId = randomUUID();
    res.setHeader('ININ-Correlation-Id', contextId);
    const fail = (e: ApiError) => {
      count(counters.byStatus, String(e.status));
      req.resume();
      sendJson(res, e.status, errorBody(e.status, e.code, e.message, contextId), e.headers);
    };
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer)
      return fail(
        new ApiError(
          401,
          'authentication.required',
          'No authentication bearer token specified in authorization header.',
        ),
      );
    const token = tokens.get(bearer);
    if (!token) return fail(new ApiError(401, 'bad.credentials', 'Invalid login credentials.'));
    if (token.expiresMs <= nowMs)
      return fail(new ApiError(401, 'credentials.expired', 'The access token has expired.'));

    // Every request with a valid token counts as sent, refused or not.
    const byClient = clientUsage(token.clientId);
    const byToken = tokenUsage(token);
    byClient.call(nowMs);
    byToken.call(nowMs);
    // Sliding minutes of accepted requests: per token, then per client across its tokens.
    const tokenWindow = windowOf(tokenWindows, bearer);
    const clientWindow = windowOf(clientWindows, token.clientId);
    const tooMany = (allowed: number, used: number, resetSeconds: number) => {
      res.setHeader('inin-ratelimit-allowed', allowed);
      res.setHeader('inin-ratelimit-count', used);
      res.setHeader('inin-ratelimit-reset', resetSeconds);
      return fail(
        new ApiError(
          429,
          'too.many.requests.retry.after',
          `Rate limit exceeded the maximum. Retry the request in [${resetSeconds}] seconds`,
          {'Retry-After': String(resetSeconds)},
        ),
      );
    };
    const resetSeconds = tokenWindow.resetSeconds(nowMs);
    const usedByToken = tokenWindow.size(nowMs);
    if (usedByToken >= settings.rateLimitPerMinute) {
      byClient.rejected.token++;
      byToken.rejected.token++;
      return tooMany(settings.rateLimitPerMinute, usedByToken, resetSeconds);
    }
    const usedByClient = clientWindow.size(nowMs);
    if (usedByClient >= settings.clientRateLimitPerMinute) {
      byClient.rejected.client++;
      byToken.rejected.client++;
      return tooMany(
        settings.clientRateLimitPerMinute,
        usedByClient,
        clientWindow.resetSeconds(nowMs),
      );
    }
    clientWindow.add(nowMs);
    res.setHeader('inin-ratelimit-allowed', settings.rateLimitPerMinute);
    res.setHeader('inin-ratelimit-count', tokenWindow.add(nowMs));
    res.setHeader('inin-ratelimit-reset', resetSeconds);

    for (const route of routes) {
      if (route.method !== req.method) continue;
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      count(counters.byEndpoint, route.name);
      count(counters.byClient, token.clientId);
      try {
        const origin = `${opts.tls ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}`;
        const result = await route.handle({
          req,
          res,
          url,
          origin,
          clientId: token.clientId,
          nowMs,
          params: m.slice(1),
        });
        count(counters.byStatus, String(res.statusCode));
        if (res.statusCode === 204) return void res.end();
        sendJson(res, res.statusCode, result);
      } catch (e) {
        if (e instanceof ApiError) return fail(e);
        throw e;
      }
      return;
    }
    fail(
      new ApiError(
        404,
        'not.found',
        `No resource for ${req.method} ${url.pathname} in the simulator.`,
      ),
    );
  }

  // ---- media ----------------------------------------------------------------------

  async function media(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    nowMs: number,
  ): Promise<void> {
    const m = new RegExp(`^/media/${UUID}/${UUID}$`).exec(url.pathname);
    const verdict = m ? signer.verify(url.pathname, url.searchParams, nowMs) : 'invalid';
    if (!m || verdict !== 'ok') {
      const message = verdict === 'expired' ? 'Request has expired' : 'Invalid signature';
      const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${message}</Message></Error>`;
      res.writeHead(403, {
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(xml),
      });
      return void res.end(xml);
    }
    const found = mediaOf(org, m[1]!, m[2]!, settings.jsonShape);
    if (!found) {
      res.writeHead(404, {'content-type': 'text/plain'});
      return void res.end('Not Found');
    }
    count(counters.byEndpoint, 'GET /media/{conversationId}/{recordingId}');
    const range = parseRange(req.headers.range, found.size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, {'content-range': `bytes */${found.size}`});
      return void res.end();
    }
    const headers: Record<string, string | number> = {
      'content-type': found.contentType,
      'accept-ranges': 'bytes',
    };
    const [start, end] = range ? [range.start, range.end] : [0, found.size - 1];
    if (range) {
      res.writeHead(206, {
        ...headers,
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${found.size}`,
      });
    } else {
      res.writeHead(200, {...headers, 'content-length': found.size});
    }
    if (req.method === 'HEAD') return void res.end();
    mediaServed++;
    const truncate =
      settings.truncateMediaRate > 0 &&
      new Rng('truncate', mediaServed, m[2]!).chance(settings.truncateMediaRate);
    const source = found.stream(start, end);
    if (!truncate) return pipeline(source, res);
    // Send about half, then cut the connection: the client sees a short body.
    let left = Math.max(1, Math.floor((end - start + 1) / 2));
    const cutter = new Transform({
      transform(chunk: Buffer, _e, done) {
        if (left <= 0) return done();
        const part = chunk.subarray(0, left);
        left -= part.length;
        done(null, part);
        if (left <= 0) setImmediate(() => res.destroy());
      },
    });
    await pipeline(source, cutter, res).catch(() => {});
  }

  // ---- admin ------------------------------------------------------------------------

  async function admin(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    nowMs: number,
  ): Promise<void> {
    if (
      await serveFaultAdmin(req, res, faults, async () =>
        JSON.parse((await readBody(req)).toString('utf8')),
      )
    )
      return;
    const p = url.pathname;
    if (p === '/_admin/config') {
      if (req.method === 'PATCH' || req.method === 'POST') {
        try {
          Object.assign(
            settings,
            parseSettings(JSON.parse((await readBody(req)).toString('utf8'))),
          );
        } catch (e) {
          return sendJson(res, 400, {error: e instanceof Error ? e.message : String(e)});
        }
      }
      return sendJson(res, 200, {settings, org: org.config});
    }
    if (p === '/_admin/counters') {
      if (req.method === 'DELETE') {
        counters.byEndpoint = {};
        counters.byClient = {};
        counters.byStatus = {};
        counters.clients = {};
        counters.tokens = {};
      }
      return sendJson(res, 200, counters);
    }
    if (p === '/_admin/tokens/expire' && req.method === 'POST') {
      for (const t of tokens.values()) t.expiresMs = nowMs;
      return sendJson(res, 200, {expired: tokens.size});
    }
    if (p === '/_admin/truth') return truth(res, url);
    if (p === '/_admin/recover' && req.method === 'POST') {
      const day = url.searchParams.get('day') ?? '';
      if (!DAY_RE.test(day)) return sendJson(res, 400, {error: 'recover needs ?day=YYYY-MM-DD'});
      // ?states=UPLOADING,ERROR: only recordings in those states recover (default: all four).
      const states = url.searchParams.get('states');
      const only = states ? (states.split(',') as FileState[]) : undefined;
      const known = ['ARCHIVED', 'RESTORING', 'UPLOADING', 'ERROR'];
      if (only?.some(s => !known.includes(s)))
        return sendJson(res, 400, {error: `states takes ${known.join(', ')}, comma-separated`});
      return sendJson(res, 200, {day, recovered: org.recoverDay(day, only)});
    }
    sendJson(res, 404, {error: `unknown admin route ${req.method} ${p}`});
  }

  /**
   * Ground truth: every conversation that started in [from, to) (or on a UTC
   * day) with its recordings, whether each is exportable now (a restored one
   * until its `restoreExpirationTime`), and the exact size,
   * MD5 and CRC32C (base64, as GCS reports them) of the bytes served for it.
   */
  async function truth(res: ServerResponse, url: URL): Promise<void> {
    const q = url.searchParams;
    const day = q.get('day');
    let fromMs: number;
    let toMs: number;
    if (day && DAY_RE.test(day)) {
      fromMs = Date.parse(`${day}T00:00:00Z`);
      toMs = fromMs + 86_400_000;
    } else {
      fromMs = Date.parse(q.get('from') ?? '');
      toMs = Date.parse(q.get('to') ?? '');
    }
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || toMs <= fromMs) {
      return sendJson(res, 400, {error: 'give ?day=YYYY-MM-DD or ?from=ISO&to=ISO'});
    }
    const withChecksums = q.get('checksums') !== 'false';
    const conversations: unknown[] = [];
    for (const d of utcDaysBetween(fromMs, toMs)) {
      const sk = org.skeleton(d);
      for (const index of sk.order) {
        const start = sk.startMs[index]!;
        if (start < fromMs || start >= toMs) continue;
        const conv = org.conversation(d, index);
        const recordings = [];
        for (const r of conv.recordings) {
          const exportable = r.fileState === 'AVAILABLE' || r.fileState === 'RESTORED';
          const entry: Record<string, unknown> = {
            recordingId: r.id,
            media: r.media,
            fileState: r.fileState,
            contentType: r.contentType,
            sensitive: r.sensitive,
            exportable,
            ...(r.restoreExpirationTime ? {restoreExpirationTime: r.restoreExpirationTime} : {}),
          };
          if (exportable) {
            const m = mediaFor(conv, r, settings.jsonShape);
            entry.size = m.size;
            if (withChecksums) {
              const sums = new Checksums();
              for await (const chunk of m.stream()) sums.update(chunk as Buffer);
              Object.assign(entry, sums.digests());
            }
          }
          recordings.push(entry);
        }
        conversations.push({
          conversationId: conv.id,
          conversationStart: new Date(conv.startMs).toISOString(),
          conversationEnd: new Date(conv.endMs).toISOString(),
          channel: conv.channel,
          recordings,
        });
      }
    }
    sendJson(res, 200, {
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      conversations,
    });
  }

  // ---- entry ------------------------------------------------------------------------

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const nowMs = now();
    if (url.pathname.startsWith('/_admin/')) return admin(req, res, url, nowMs);
    if (await faults.apply(req, res)) {
      count(counters.byStatus, 'injected');
      return;
    }
    if (url.pathname === '/oauth/token' && req.method === 'POST') return oauth(req, res, nowMs);
    if (url.pathname.startsWith('/api/v2/')) return api(req, res, url, nowMs);
    if (url.pathname.startsWith('/media/') && (req.method === 'GET' || req.method === 'HEAD'))
      return media(req, res, url, nowMs);
    sendJson(
      res,
      404,
      errorBody(404, 'not.found', `Not found: ${req.method} ${url.pathname}`, randomUUID()),
    );
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(e => {
      if (!res.headersSent) {
        const message =
          e instanceof SyntaxError
            ? 'The request body is not valid JSON.'
            : 'Internal simulator error.';
        const status = e instanceof SyntaxError ? 400 : 500;
        sendJson(
          res,
          status,
          errorBody(
            status,
            status === 400 ? 'bad.request' : 'internal.server.error',
            message,
            randomUUID(),
          ),
        );
      } else {
        res.destroy();
      }
    });
  };
  const server = opts.tls ? createHttpsServer(opts.tls, listener) : createHttpServer(listener);
  return {server, settings, org};
}

/** Genesys' `request.bytes.max`. */
const MAX_REQUEST_BYTES = 512_000;

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = (await readBody(req, MAX_REQUEST_BYTES)).toString('utf8');
  } catch (e) {
    if (e instanceof BodyTooLargeError) {
      throw new ApiError(
        413,
        'request.entity.too.large',
        `The request body exceeds ${MAX_REQUEST_BYTES} bytes.`,
      );
    }
    throw e;
  }
  if (text.trim() === '')
    throw new ApiError(400, 'bad.request', 'A JSON request body is required.');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'bad.request', 'The request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(400, 'bad.request', 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

/** A stable fingerprint of the organisation's configuration (for logs). */
export function orgFingerprint(org: Organisation): string {
  return createHash('sha256').update(JSON.stringify(org.config)).digest('hex').slice(0, 12);
}
