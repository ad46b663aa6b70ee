/**
 * The Genesys Cloud simulator, driven over HTTP by the official SDK
 * `purecloud-platform-client-v2`, unmodified, pointed at it with setGateway.
 */
import * as assert from 'node:assert';
import {createHash} from 'node:crypto';
import {
  DAY,
  DAY_INTERVAL,
  SdkClient,
  TestSimulator,
  sdkClient,
  startSimulator,
} from '../setup/simulator';
import {eventually} from '../setup/stack';

interface ErrorBodyLike {
  status?: number;
  code?: string;
  message?: string;
  contextId?: string;
}

interface Extended<T> {
  status: number;
  headers: Record<string, string>;
  body: T;
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Polls `fn` every 20 ms until it returns a value (the simulator's states last a few 100 ms). */
const until = <T>(what: string, fn: () => Promise<T | undefined>) =>
  eventually(what, fn, 15_000, 20);

async function login(
  port: number,
  opts: Parameters<typeof sdkClient>[1] = {},
  id = 'demo-client',
  secret = 'demo-secret',
): Promise<SdkClient> {
  const sdk = sdkClient(port, opts);
  await sdk.client.loginClientCredentialsGrant(id, secret);
  return sdk;
}

interface TruthRecording {
  recordingId: string;
  media: string;
  fileState: string;
  contentType: string;
  exportable: boolean;
  sensitive: boolean;
  size?: number;
  md5Hash?: string;
}

interface Truth {
  conversations: Array<{
    conversationId: string;
    conversationStart: string;
    recordings: TruthRecording[];
  }>;
}

describe('Genesys Cloud simulator (official SDK)', function () {
  this.timeout(60_000);
  let sim: TestSimulator;

  before(async function () {
    this.timeout(60_000);
    sim = await startSimulator([
      '--seed',
      'spec',
      '--conversations-per-day',
      '250',
      '--profile',
      'lossy',
      '--client',
      'demo-client:demo-secret',
      '--client',
      'second-client:second-secret',
    ]);
  });

  after(async () => {
    await sim?.stop();
  });

  afterEach(async () => {
    await sim.admin('faults', {method: 'DELETE'});
  });

  describe('OAuth', () => {
    it('should issue a bearer token for client credentials', async () => {
      const sdk = sdkClient(sim.port);
      const auth = await sdk.client.loginClientCredentialsGrant('demo-client', 'demo-secret');
      assert.ok(auth.accessToken);
      assert.ok(auth.tokenExpiryTime > Date.now() + 86_000_000);
    });

    it('should refuse bad credentials with the OAuth error body', async () => {
      const sdk = sdkClient(sim.port);
      await assert.rejects(
        sdk.client.loginClientCredentialsGrant('demo-client', 'wrong'),
        (err: {response?: {status: number; data: {error: string}}}) => {
          assert.strictEqual(err.response?.status, 401);
          assert.strictEqual(err.response?.data.error, 'invalid_client');
          return true;
        },
      );
    });

    it('should refuse another grant type with 400', async () => {
      const res = await fetch(`${sim.url}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=password',
      });
      assert.strictEqual(res.status, 400);
      assert.strictEqual(((await res.json()) as {error: string}).error, 'unsupported_grant_type');
    });

    it('should answer 401 credentials.expired once a token has expired, and accept a new login', async () => {
      const sdk = await login(sim.port);
      await sdk.recording.getRecordingSettings();
      await sim.admin('tokens/expire', {method: 'POST', body: {}});
      await assert.rejects(
        sdk.recording.getRecordingSettings(),
        (e: ErrorBodyLike) => e.status === 401 && e.code === 'credentials.expired',
      );
      await sdk.client.loginClientCredentialsGrant('demo-client', 'demo-secret');
      await sdk.recording.getRecordingSettings();
    });

    it('should answer 401 without a token', async () => {
      const res = await fetch(`${sim.url}/api/v2/recording/settings`);
      assert.strictEqual(res.status, 401);
      assert.strictEqual(((await res.json()) as ErrorBodyLike).code, 'authentication.required');
    });
  });

  describe('analytics query', () => {
    let sdk: SdkClient;
    before(async () => {
      sdk = await login(sim.port);
    });

    it('should page through a day with conversations omitted past the end', async () => {
      const ids: string[] = [];
      let totalHits = 0;
      for (let pageNumber = 1; ; pageNumber++) {
        const page = await sdk.analytics.postAnalyticsConversationsDetailsQuery({
          interval: DAY_INTERVAL,
          order: 'asc',
          orderBy: 'conversationStart',
          paging: {pageSize: 100, pageNumber},
        });
        totalHits = page.totalHits ?? 0;
        if (!page.conversations) {
          assert.ok(!('conversations' in page), 'past the end the property is omitted');
          assert.strictEqual(pageNumber, 4);
          break;
        }
        ids.push(...page.conversations.map(c => c.conversationId!));
      }
      assert.strictEqual(ids.length, 250);
      assert.strictEqual(totalHits, 250);
      assert.strictEqual(new Set(ids).size, 250);
    });

    it('should default to pages of 25, ascending by start', async () => {
      const page = await sdk.analytics.postAnalyticsConversationsDetailsQuery({
        interval: DAY_INTERVAL,
      });
      assert.strictEqual(page.conversations?.length, 25);
      const starts = page.conversations!.map(c => Date.parse(c.conversationStart!));
      assert.deepStrictEqual(
        starts,
        [...starts].sort((a, b) => a - b),
      );
    });

    // Sub-day intervals (overlap within the touched start days): genesys-fidelity.spec.ts.

    it('should filter on segment mediaType and conversationEnd exists', async () => {
      const page = await sdk.analytics.postAnalyticsConversationsDetailsQuery({
        interval: DAY_INTERVAL,
        paging: {pageSize: 100, pageNumber: 1},
        conversationFilters: [
          {
            type: 'and',
            predicates: [{type: 'dimension', dimension: 'conversationEnd', operator: 'exists'}],
          },
        ],
        segmentFilters: [
          {type: 'or', predicates: [{type: 'dimension', dimension: 'mediaType', value: 'email'}]},
        ],
      });
      assert.ok(page.conversations!.length > 0 && page.conversations!.length < 100);
      for (const c of page.conversations!) {
        assert.ok(c.conversationEnd);
        assert.ok(c.participants!.some(p => p.sessions!.some(s => s.mediaType === 'email')));
      }
    });

    it('should return realistic participants: customer, queue and agent with wrap-up code', async () => {
      const page = await sdk.analytics.postAnalyticsConversationsDetailsQuery({
        interval: DAY_INTERVAL,
        paging: {pageSize: 10, pageNumber: 1},
      });
      const conv = page.conversations![0]!;
      const purposes = conv.participants!.map(p => p.purpose);
      assert.ok(
        purposes.includes('customer') && purposes.includes('agent') && purposes.includes('acd'),
      );
      const agent = conv.participants!.find(p => p.purpose === 'agent')!;
      assert.ok(agent.userId);
      assert.ok(agent.sessions![0]!.segments!.some(s => s.wrapUpCode));
      assert.ok(conv.divisionIds?.length);
    });

    const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a missing interval', {}, /interval is required/],
      ['a malformed interval', {interval: 'yesterday'}, /Invalid interval/],
      [
        'a page size above 100',
        {interval: DAY_INTERVAL, paging: {pageSize: 101, pageNumber: 1}},
        /pageSize/,
      ],
      [
        'more than 7 days without a filter',
        {interval: '2023-02-01T00:00:00Z/2023-02-09T00:00:00Z'},
        /may not exceed 7 days/,
      ],
      [
        'paging past 100000 results',
        {interval: DAY_INTERVAL, paging: {pageSize: 100, pageNumber: 1001}},
        /Pagination may not exceed 100000 results/,
      ],
      [
        'an unsupported dimension',
        {
          interval: DAY_INTERVAL,
          segmentFilters: [{type: 'or', predicates: [{dimension: 'colour', value: 'red'}]}],
        },
        /Unsupported segment dimension/,
      ],
    ];
    for (const [name, body, message] of invalid) {
      it(`should answer 400 to ${name}`, async () => {
        await assert.rejects(
          sdk.analytics.postAnalyticsConversationsDetailsQuery(body as never),
          (e: ErrorBodyLike) => {
            assert.strictEqual(e.status, 400);
            assert.match(e.message ?? '', message);
            assert.ok(e.contextId);
            return true;
          },
        );
      });
    }

    it('should look up conversations by id (multi-get) and answer 404 for an unknown one', async () => {
      const page = await sdk.analytics.postAnalyticsConversationsDetailsQuery({
        interval: DAY_INTERVAL,
        paging: {pageSize: 3, pageNumber: 1},
      });
      const ids = page.conversations!.map(c => c.conversationId!);
      const multi = await sdk.analytics.getAnalyticsConversationsDetails({id: ids});
      assert.deepStrictEqual(
        multi.conversations!.map(c => c.conversationId),
        ids,
      );
      const one = await sdk.analytics.getAnalyticsConversationDetails(ids[0]!);
      assert.strictEqual(one.conversationId, ids[0]);
      await assert.rejects(
        sdk.analytics.getAnalyticsConversationDetails('00000000-0000-4000-8000-000000000000'),
        (e: ErrorBodyLike) => e.status === 404,
      );
    });
  });

  describe('analytics jobs', () => {
    let sdk: SdkClient;
    before(async () => {
      sdk = await login(sim.port);
    });

    async function fulfilled(jobId: string): Promise<string[]> {
      const states: string[] = [];
      for (let i = 0; i < 100; i++) {
        const s = await sdk.analytics.getAnalyticsConversationsDetailsJob(jobId);
        if (states[states.length - 1] !== s.state) states.push(s.state!);
        if (['FULFILLED', 'FAILED', 'EXPIRED', 'CANCELLED'].includes(s.state!)) break;
        await sleep(50);
      }
      return states;
    }

    async function allResults(jobId: string, pageSize: number) {
      const out: Array<{
        conversationId?: string;
        conversationStart?: string;
        conversationEnd?: string;
        participants?: Array<{attributes?: Record<string, string>}>;
      }> = [];
      let cursor: string | undefined;
      let pages = 0;
      let watermark = '';
      do {
        const page = await sdk.analytics.getAnalyticsConversationsDetailsJobResults(jobId, {
          pageSize,
          ...(cursor ? {cursor} : {}),
        });
        out.push(...(page.conversations ?? []));
        cursor = page.cursor;
        watermark = page.dataAvailabilityDate!;
        pages++;
      } while (cursor);
      return {out, pages, watermark};
    }

    it('should progress QUEUED → PENDING → FULFILLED and page results by cursor with attributes', async () => {
      const {jobId} = await sdk.analytics.postAnalyticsConversationsDetailsJobs({
        interval: DAY_INTERVAL,
        startOfDayIntervalMatching: true,
      });
      const states = await fulfilled(jobId!);
      assert.deepStrictEqual(states, ['QUEUED', 'PENDING', 'FULFILLED']);
      const {out, pages} = await allResults(jobId!, 60);
      assert.strictEqual(out.length, 250);
      assert.strictEqual(pages, 5);
      assert.strictEqual(new Set(out.map(c => c.conversationId)).size, 250);
      const customer = out[0]!.participants!.find(p => p.attributes);
      assert.ok(customer?.attributes?.crmId, 'job results carry participant attributes');
    });

    it('should match by lifetime overlap by default, including conversations from the day before', async () => {
      const {jobId} = await sdk.analytics.postAnalyticsConversationsDetailsJobs({
        interval: DAY_INTERVAL,
      });
      await fulfilled(jobId!);
      const {out} = await allResults(jobId!, 1000);
      const before = out.filter(c => c.conversationStart! < `${DAY}T00:00`);
      assert.ok(before.length > 0, 'a conversation spanning midnight is included');
      for (const c of before) assert.ok(c.conversationEnd! > `${DAY}T00:00`);
    });

    it('should silently leave out data past the availability watermark', async () => {
      const now = Date.now();
      const interval = `${new Date(now - 3 * 86_400_000).toISOString()}/${new Date(now - 60_000).toISOString()}`;
      await sim.admin('config', {method: 'PATCH', body: {availabilityLagMinutes: 36 * 60}});
      try {
        const {dataAvailabilityDate} =
          await sdk.analytics.getAnalyticsConversationsDetailsJobsAvailability();
        assert.ok(Math.abs(Date.parse(dataAvailabilityDate!) - (now - 36 * 3_600_000)) < 60_000);
        const {jobId} = await sdk.analytics.postAnalyticsConversationsDetailsJobs({interval});
        assert.deepStrictEqual((await fulfilled(jobId!)).pop(), 'FULFILLED');
        const {out, watermark} = await allResults(jobId!, 1000);
        assert.ok(out.length > 0);
        for (const c of out)
          assert.ok(c.conversationEnd! < watermark, 'nothing after the watermark');
        const maxStart = Math.max(...out.map(c => Date.parse(c.conversationStart!)));
        assert.ok(
          maxStart < now - 30 * 3_600_000,
          'the last day and a half is missing, with no error',
        );
      } finally {
        await sim.admin('config', {method: 'PATCH', body: {availabilityLagMinutes: 360}});
      }
    });

    it('should end injected FAILED and EXPIRED jobs and refuse their results', async () => {
      await sim.admin('config', {method: 'PATCH', body: {jobFailNext: 1, jobExpireNext: 1}});
      const failed = await sdk.analytics.postAnalyticsConversationsDetailsJobs({
        interval: DAY_INTERVAL,
      });
      const expired = await sdk.analytics.postAnalyticsConversationsDetailsJobs({
        interval: DAY_INTERVAL,
      });
      assert.strictEqual((await fulfilled(failed.jobId!)).pop(), 'FAILED');
      assert.strictEqual((await fulfilled(expired.jobId!)).pop(), 'EXPIRED');
      const status = await sdk.analytics.getAnalyticsConversationsDetailsJob(failed.jobId!);
      assert.ok(status.errorMessage);
      await assert.rejects(
        sdk.analytics.getAnalyticsConversationsDetailsJobResults(failed.jobId!, {}),
        (e: ErrorBodyLike) => e.status === 400,
      );
    });

    it('should cancel a job', async () => {
      const {jobId} = await sdk.analytics.postAnalyticsConversationsDetailsJobs({
        interval: DAY_INTERVAL,
      });
      await sdk.analytics.deleteAnalyticsConversationsDetailsJob(jobId!);
      assert.strictEqual(
        (await sdk.analytics.getAnalyticsConversationsDetailsJob(jobId!)).state,
        'CANCELLED',
      );
    });
  });

  describe('recordings', () => {
    let sdk: SdkClient;
    let truth: Truth;
    before(async () => {
      sdk = await login(sim.port);
      truth = await sim.admin<Truth>(`truth?day=${DAY}`);
    });

    const withState = (state: string) =>
      truth.conversations.find(c => c.recordings.some(r => r.fileState === state && !r.sensitive))!;

    it('should hold recordings in every file state of the lossy profile', () => {
      const states = new Set(truth.conversations.flatMap(c => c.recordings.map(r => r.fileState)));
      for (const s of ['AVAILABLE', 'ARCHIVED', 'RESTORING', 'DELETED', 'UPLOADING', 'ERROR'])
        assert.ok(states.has(s), `missing ${s}`);
      const media = new Set(truth.conversations.flatMap(c => c.recordings.map(r => r.media)));
      assert.deepStrictEqual([...media].sort(), ['audio', 'chat', 'email', 'message', 'screen']);
      assert.ok(
        truth.conversations.some(c => c.recordings.length === 0),
        'some conversations have no recording',
      );
      assert.ok(
        truth.conversations.some(c => c.recordings.length >= 2),
        'some have several',
      );
    });

    it('should return recording metadata with file states and archive/delete dates', async () => {
      const conv = withState('ARCHIVED');
      const md = await sdk.recording.getConversationRecordingmetadata(conv.conversationId);
      assert.strictEqual(md.length, conv.recordings.length);
      const archived = md.find(m => m.fileState === 'ARCHIVED')!;
      assert.ok(archived.archiveDate && archived.deleteDate && archived.sessionId);
      const one = await sdk.recording.getConversationRecordingmetadataRecordingId(
        conv.conversationId,
        archived.id!,
      );
      assert.strictEqual(one.id, archived.id);
      await assert.rejects(
        sdk.recording.getConversationRecordingmetadata('00000000-0000-4000-8000-000000000000'),
        (e: ErrorBodyLike) => e.status === 404 && e.code === 'not.found',
      );
    });

    it('should refuse a batch request of more than 100 items', async () => {
      const items = Array.from({length: 101}, () => ({
        conversationId: truth.conversations[0]!.conversationId,
      }));
      await assert.rejects(
        sdk.recording.postRecordingBatchrequests({batchDownloadRequestList: items}),
        (e: ErrorBodyLike) => {
          assert.strictEqual(e.status, 400);
          assert.match(e.message ?? '', /at most 100 items/);
          return true;
        },
      );
    });

    it('should expand a conversation to all its recordings, with error results for the unavailable ones', async () => {
      const convs = truth.conversations.filter(c => c.recordings.length > 0).slice(0, 60);
      const {id} = await sdk.recording.postRecordingBatchrequests({
        batchDownloadRequestList: convs.map(c => ({conversationId: c.conversationId})),
      });
      let status;
      for (let i = 0; i < 100; i++) {
        status = await sdk.recording.getRecordingBatchrequest(id!);
        if (status.status === 'Completed') break;
        await sleep(50);
      }
      const expected = convs.flatMap(c => c.recordings);
      assert.strictEqual(status!.expectedResultCount, expected.length);
      assert.strictEqual(status!.results!.length, expected.length);
      for (const r of status!.results!) {
        const t = expected.find(e => e.recordingId === r.recordingId)!;
        if (t.exportable) {
          assert.ok(r.resultUrl && !r.errorMsg, `recording ${t.fileState} should download`);
          assert.strictEqual(r.contentType, t.contentType);
        } else {
          assert.ok(
            r.errorMsg && !r.resultUrl,
            `recording ${t.fileState} should be an error result`,
          );
        }
      }
      assert.strictEqual(status!.errorCount, expected.filter(e => !e.exportable).length);
    });

    it('should show results progressively while expectedResultCount grows', async () => {
      await sim.admin('config', {
        method: 'PATCH',
        body: {batchDiscoveryMs: 300, batchPerResultMs: 40},
      });
      try {
        const multi = truth.conversations.filter(c => c.recordings.length >= 2).slice(0, 5);
        const {id} = await sdk.recording.postRecordingBatchrequests({
          batchDownloadRequestList: multi.map(c => ({conversationId: c.conversationId})),
        });
        const first = await sdk.recording.getRecordingBatchrequest(id!);
        assert.strictEqual(first.status, 'InProgress');
        assert.strictEqual(first.expectedResultCount, multi.length);
        assert.strictEqual(first.resultCount, 0);
        const total = multi.reduce((n, c) => n + c.recordings.length, 0);
        // The expected count grows to every recording while results are still coming.
        const middle = await until('every recording discovered', async () => {
          const s = await sdk.recording.getRecordingBatchrequest(id!);
          return s.expectedResultCount === total ? s : undefined;
        });
        assert.ok(middle.resultCount! < total);
        const done = await until('the request completed', async () => {
          const s = await sdk.recording.getRecordingBatchrequest(id!);
          return s.status === 'Completed' ? s : undefined;
        });
        assert.strictEqual(done.status, 'Completed');
        assert.strictEqual(done.resultCount, total);
      } finally {
        await sim.admin('config', {
          method: 'PATCH',
          body: {batchDiscoveryMs: 100, batchPerResultMs: 5},
        });
      }
    });

    it('should let only the submitting client read a batch', async () => {
      const other = await login(sim.port, {}, 'second-client', 'second-secret');
      const {id} = await sdk.recording.postRecordingBatchrequests({
        batchDownloadRequestList: [{conversationId: truth.conversations[0]!.conversationId}],
      });
      await assert.rejects(
        other.recording.getRecordingBatchrequest(id!),
        (e: ErrorBodyLike) => e.status === 403,
      );
      await sdk.recording.getRecordingBatchrequest(id!);
    });

    async function completedResults(items: Array<{conversationId: string; recordingId?: string}>) {
      const {id} = await sdk.recording.postRecordingBatchrequests({
        batchDownloadRequestList: items,
      });
      for (let i = 0; i < 100; i++) {
        const s = await sdk.recording.getRecordingBatchrequest(id!);
        if (s.status === 'Completed') return s.results!;
        await sleep(50);
      }
      throw new Error('batch never completed');
    }

    it('should stream media matching the ground truth byte for byte, with Range support', async () => {
      const exportable = truth.conversations
        .flatMap(c => c.recordings.filter(r => r.exportable).map(r => ({c, r})))
        .slice(0, 40);
      const results = await completedResults(
        exportable.map(({c, r}) => ({
          conversationId: c.conversationId,
          recordingId: r.recordingId,
        })),
      );
      const seen = new Set<string>();
      for (const result of results) {
        const t = exportable.find(e => e.r.recordingId === result.recordingId)!.r;
        const res = await fetch(result.resultUrl!);
        assert.strictEqual(res.status, 200);
        assert.strictEqual(res.headers.get('content-type'), t.contentType);
        assert.strictEqual(Number(res.headers.get('content-length')), t.size);
        const bytes = Buffer.from(await res.arrayBuffer());
        assert.strictEqual(createHash('md5').update(bytes).digest('base64'), t.md5Hash);
        seen.add(t.contentType);
        if (t.size! > 2000) {
          const part = await fetch(result.resultUrl!, {headers: {range: 'bytes=1000-1999'}});
          assert.strictEqual(part.status, 206);
          assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1000, 2000)));
        }
      }
      assert.ok(
        seen.has('audio/ogg') && seen.has('application/json') && seen.has('application/zip'),
        [...seen].join(),
      );
    });

    it('should refuse a media URL after its TTL, or with a bad signature, with 403', async () => {
      await sim.admin('config', {method: 'PATCH', body: {urlTtlSeconds: 1}});
      try {
        const conv = withState('AVAILABLE');
        const [result] = await completedResults([
          {
            conversationId: conv.conversationId,
            recordingId: conv.recordings.find(r => r.exportable)!.recordingId,
          },
        ]);
        assert.strictEqual((await fetch(result!.resultUrl!)).status, 200);
        const tampered = result!.resultUrl!.replace(/Signature=./, 'Signature=X');
        assert.strictEqual((await fetch(tampered)).status, 403);
        const expired = await until('the URL past its TTL', async () => {
          const res = await fetch(result!.resultUrl!);
          if (res.status === 200) await res.arrayBuffer();
          return res.status === 200 ? undefined : res;
        });
        assert.strictEqual(expired.status, 403);
        assert.match(await expired.text(), /expired/);
      } finally {
        await sim.admin('config', {method: 'PATCH', body: {urlTtlSeconds: 0}});
      }
    });

    it('should leave sensitive recordings out when configured to', async () => {
      const sensitive = truth.conversations.find(c => c.recordings.some(r => r.sensitive))!;
      await sim.admin('config', {method: 'PATCH', body: {dropSensitive: true}});
      try {
        const results = await completedResults([{conversationId: sensitive.conversationId}]);
        const sensitiveIds = sensitive.recordings.filter(r => r.sensitive).map(r => r.recordingId);
        assert.ok(results.every(r => !sensitiveIds.includes(r.recordingId!)));
      } finally {
        await sim.admin('config', {method: 'PATCH', body: {dropSensitive: false}});
      }
    });

    it('should answer 202 while transcoding, then 200 with mediaUris', async () => {
      const ext = await login(sim.port, {extended: true});
      const conv = truth.conversations.find(c =>
        c.recordings.some(r => r.exportable && r.media === 'audio'),
      )!;
      const rec = conv.recordings.find(r => r.exportable && r.media === 'audio')!;
      const first = (await ext.recording.getConversationRecording(
        conv.conversationId,
        rec.recordingId,
        {formatId: 'WAV'},
      )) as unknown as Extended<{mediaUris?: unknown; estimatedTranscodeTimeMs?: number}>;
      assert.strictEqual(first.status, 202);
      assert.ok(!first.body.mediaUris);
      const second = await until('the transcode done', async () => {
        const r = (await ext.recording.getConversationRecording(
          conv.conversationId,
          rec.recordingId,
          {formatId: 'WAV'},
        )) as unknown as Extended<{mediaUris: Record<string, {mediaUri: string}>}>;
        return r.status === 202 ? undefined : r;
      });
      assert.strictEqual(second.status, 200);
      const media = await fetch(second.body.mediaUris['0']!.mediaUri);
      assert.strictEqual(media.status, 200);
    });

    it('should report the batch URL TTL in the recording settings', async () => {
      const s = await sdk.recording.getRecordingSettings();
      assert.strictEqual(s.recordingBatchDownloadUrlTtl, 60);
    });
  });

  describe('rate limits and platform headers', () => {
    it('should send inin-ratelimit and correlation headers on every API response', async () => {
      const ext = await login(sim.port, {extended: true});
      const res = (await ext.recording.getRecordingSettings()) as unknown as Extended<unknown>;
      assert.strictEqual(res.headers['inin-ratelimit-allowed'], '300');
      assert.match(res.headers['inin-ratelimit-count'] ?? '', /^\d+$/);
      assert.match(res.headers['inin-ratelimit-reset'] ?? '', /^\d+$/);
      assert.match(res.headers['inin-correlation-id'] ?? '', /^[0-9a-f-]{36}$/);
    });

    it('should answer 429 with Retry-After once a token exceeds its per-minute budget', async () => {
      await sim.admin('config', {method: 'PATCH', body: {rateLimitPerMinute: 5}});
      try {
        const ext = await login(sim.port, {extended: true});
        for (let i = 0; i < 5; i++) await ext.recording.getRecordingSettings();
        await assert.rejects(
          ext.recording.getRecordingSettings(),
          (err: Extended<ErrorBodyLike>) => {
            assert.strictEqual(err.status, 429);
            assert.match(err.headers['retry-after'] ?? '', /^\d+$/);
            assert.strictEqual(err.body.code, 'too.many.requests.retry.after');
            assert.match(err.body.message ?? '', /Retry the request in \[\d+\] seconds/);
            assert.strictEqual(err.body.contextId, err.headers['inin-correlation-id']);
            return true;
          },
        );
        // The budget is per token: a fresh token has its own.
        const other = await login(sim.port);
        await other.recording.getRecordingSettings();
        const counters = await sim.admin<{byStatus: Record<string, number>}>('counters');
        assert.ok((counters.byStatus['429'] ?? 0) >= 1);
      } finally {
        await sim.admin('config', {method: 'PATCH', body: {rateLimitPerMinute: 300}});
      }
    });

    it('should count requests per endpoint and per client', async () => {
      await sim.admin('counters', {method: 'DELETE'});
      const sdk = await login(sim.port, {}, 'second-client', 'second-secret');
      await sdk.recording.getRecordingSettings();
      await sdk.recording.getRecordingSettings();
      const counters = await sim.admin<{
        byEndpoint: Record<string, number>;
        byClient: Record<string, number>;
      }>('counters');
      assert.strictEqual(counters.byEndpoint['GET /api/v2/recording/settings'], 2);
      assert.strictEqual(counters.byClient['second-client'], 3);
    });
  });

  describe('fault injection', () => {
    it('should pass injected 503s and 408s to the SDK as error bodies', async () => {
      const sdk = await login(sim.port);
      await sim.admin('faults', {
        body: [
          {path: 'recording/settings', action: 'status', status: 503, times: 1},
          {path: 'recording/settings', action: 'status', status: 408, times: 1},
        ],
      });
      await assert.rejects(
        sdk.recording.getRecordingSettings(),
        (e: ErrorBodyLike) => e.status === 503,
      );
      await assert.rejects(
        sdk.recording.getRecordingSettings(),
        (e: ErrorBodyLike) => e.status === 408,
      );
      await sdk.recording.getRecordingSettings();
    });

    it('should reset connections', async () => {
      const sdk = await login(sim.port);
      await sim.admin('faults', {body: {path: 'recording/settings', action: 'reset', times: 1}});
      await assert.rejects(
        sdk.recording.getRecordingSettings(),
        (e: {code?: string}) =>
          e.code === 'ECONNRESET' ||
          e.code === 'ERR_BAD_RESPONSE' ||
          /socket hang up/.test(String(e)),
      );
    });

    it('should answer slowly enough to trip the SDK timeout', async () => {
      const sdk = await login(sim.port, {timeoutMs: 300});
      await sim.admin('faults', {
        body: {path: 'recording/settings', action: 'delay', delayMs: 800, times: 1},
      });
      await assert.rejects(
        sdk.recording.getRecordingSettings(),
        (e: {code?: string}) => e.code === 'ECONNABORTED',
      );
    });

    it('should truncate media bodies', async () => {
      const sdk = await login(sim.port);
      const truth = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
      const conv = truth.conversations.find(c =>
        c.recordings.some(r => r.exportable && r.media === 'audio'),
      )!;
      const rec = conv.recordings.find(r => r.exportable && r.media === 'audio')!;
      await sim.admin('config', {method: 'PATCH', body: {truncateMediaRate: 1}});
      try {
        const {id} = await sdk.recording.postRecordingBatchrequests({
          batchDownloadRequestList: [
            {conversationId: conv.conversationId, recordingId: rec.recordingId},
          ],
        });
        const s = await until('the result', async () => {
          const r = await sdk.recording.getRecordingBatchrequest(id!);
          return r.results?.length ? r : undefined;
        });
        const res = await fetch(s.results![0]!.resultUrl!);
        assert.strictEqual(Number(res.headers.get('content-length')), rec.size);
        await assert.rejects(res.arrayBuffer());
      } finally {
        await sim.admin('config', {method: 'PATCH', body: {truncateMediaRate: 0}});
      }
    });

    it('should stall batch requests and turn results into errors on demand', async () => {
      const sdk = await login(sim.port);
      const truth = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
      const convs = truth.conversations
        .filter(c => c.recordings.some(r => r.exportable))
        .slice(0, 10);
      await sim.admin('config', {method: 'PATCH', body: {batchStall: true, batchErrorRate: 1}});
      try {
        const {id} = await sdk.recording.postRecordingBatchrequests({
          batchDownloadRequestList: convs.map(c => ({conversationId: c.conversationId})),
        });
        // Error results arrive; the request never completes.
        const s = await until('error results', async () => {
          const r = await sdk.recording.getRecordingBatchrequest(id!);
          return r.resultCount ? r : undefined;
        });
        assert.strictEqual(s.status, 'InProgress');
        assert.ok(s.resultCount! < s.expectedResultCount!);
        assert.ok(s.results!.every(r => r.errorMsg && !r.resultUrl));
      } finally {
        await sim.admin('config', {method: 'PATCH', body: {batchStall: false, batchErrorRate: 0}});
      }
    });

    it('should refuse invalid settings', async () => {
      const res = await fetch(`${sim.url}/_admin/config`, {
        method: 'PATCH',
        body: JSON.stringify({urlTtlMinutes: 90}),
      });
      assert.strictEqual(res.status, 400);
      const res2 = await fetch(`${sim.url}/_admin/config`, {
        method: 'PATCH',
        body: JSON.stringify({warpSpeed: 9}),
      });
      assert.match(((await res2.json()) as {error: string}).error, /unknown setting "warpSpeed"/);
    });
  });
});

interface Usage {
  apiCalls: number;
  tokensIssued: number;
  rejected: {token: number; client: number; tokenCreation: number};
  peakCallsPerMinute: number;
  peakTokensPerMinute: number;
}

interface TokenCounters {
  clientId: string;
  apiCalls: number;
  rejected: {token: number; client: number};
  peakCallsPerMinute: number;
}

interface LimitCounters {
  clients: Record<string, Usage>;
  tokens: Record<string, TokenCounters>;
}

describe('Genesys Cloud simulator: per-client and token-creation limits (official SDK)', function () {
  this.timeout(60_000);
  let sim: TestSimulator;

  before(async function () {
    this.timeout(60_000);
    // Each test uses its own client: the limits' minutes are per client and outlive a test.
    sim = await startSimulator([
      '--conversations-per-day',
      '5',
      '--client',
      'two-tokens:s1',
      '--client',
      'bystander:s2',
      '--client',
      'many-logins:s3',
      '--client',
      'one-token:s4',
      '--client-rate-limit',
      '6',
      '--token-creation-limit',
      '3',
    ]);
  });

  after(async () => {
    await sim?.stop();
  });

  const counters = () => sim.admin<LimitCounters>('counters');

  it('should take the limits from the command line', async () => {
    const {settings} = await sim.admin<{settings: Record<string, number>}>('config');
    assert.strictEqual(settings.clientRateLimitPerMinute, 6);
    assert.strictEqual(settings.tokenCreationPerMinute, 3);
    assert.strictEqual(settings.rateLimitPerMinute, 300);
  });

  it("should answer 429 once a client's tokens together exceed its per-minute budget", async () => {
    const first = await login(sim.port, {extended: true}, 'two-tokens', 's1');
    const second = await login(sim.port, {extended: true}, 'two-tokens', 's1');
    for (let i = 0; i < 3; i++) {
      await first.recording.getRecordingSettings();
      await second.recording.getRecordingSettings();
    }
    // Each token has used 3 of its 300; the client 6 of its 6.
    for (const sdk of [first, second]) {
      await assert.rejects(sdk.recording.getRecordingSettings(), (err: Extended<ErrorBodyLike>) => {
        assert.strictEqual(err.status, 429);
        assert.match(err.headers['retry-after'] ?? '', /^[1-9]\d*$/);
        assert.ok(Number(err.headers['retry-after']) <= 60);
        assert.strictEqual(err.headers['inin-ratelimit-allowed'], '6');
        assert.strictEqual(err.headers['inin-ratelimit-count'], '6');
        assert.strictEqual(err.body.code, 'too.many.requests.retry.after');
        assert.match(err.body.message ?? '', /Retry the request in \[\d+\] seconds/);
        assert.strictEqual(err.body.contextId, err.headers['inin-correlation-id']);
        return true;
      });
    }
    // A new token of the same client shares the client's budget…
    const third = await login(sim.port, {}, 'two-tokens', 's1');
    await assert.rejects(third.recording.getRecordingSettings(), (e: ErrorBodyLike) => {
      assert.strictEqual(e.status, 429);
      return true;
    });
    // …another client has its own.
    const other = await login(sim.port, {}, 'bystander', 's2');
    await other.recording.getRecordingSettings();

    const c = await counters();
    assert.deepStrictEqual(c.clients['two-tokens'], {
      apiCalls: 9,
      tokensIssued: 3,
      rejected: {token: 0, client: 3, tokenCreation: 0},
      peakCallsPerMinute: 9,
      peakTokensPerMinute: 3,
    });
    assert.deepStrictEqual(
      [1, 2, 3].map(n => {
        const t = c.tokens[`two-tokens#${n}`]!;
        return [t.clientId, t.apiCalls, t.rejected.client, t.rejected.token, t.peakCallsPerMinute];
      }),
      [
        ['two-tokens', 4, 1, 0, 4],
        ['two-tokens', 4, 1, 0, 4],
        ['two-tokens', 1, 1, 0, 1],
      ],
    );
    assert.strictEqual(c.clients.bystander!.apiCalls, 1);
    assert.ok(
      Object.keys(c.tokens).every(label => /^[\w-]+#\d+$/.test(label)),
      'tokens are named by client and number, never by the bearer',
    );
  });

  it('should refuse a token past the per-client creation limit with 429, Retry-After and an OAuth error body', async () => {
    for (let i = 0; i < 3; i++) await login(sim.port, {}, 'many-logins', 's3');
    const sdk = sdkClient(sim.port);
    await assert.rejects(
      sdk.client.loginClientCredentialsGrant('many-logins', 's3'),
      (err: {
        response?: {
          status: number;
          headers: Record<string, string>;
          data: {error: string; error_description: string};
        };
      }) => {
        assert.strictEqual(err.response?.status, 429);
        assert.match(err.response.headers['retry-after'] ?? '', /^[1-9]\d*$/);
        assert.strictEqual(err.response.data.error, 'too_many_requests');
        assert.match(err.response.data.error_description, /Retry the request in \[\d+\] seconds/);
        return true;
      },
    );
    // Bad credentials are still refused as such, and another client still logs in.
    await assert.rejects(
      sdk.client.loginClientCredentialsGrant('many-logins', 'wrong'),
      (err: {response?: {status: number}}) => err.response?.status === 401,
    );
    await login(sim.port, {}, 'bystander', 's2');
    const c = await counters();
    assert.strictEqual(c.clients['many-logins']!.tokensIssued, 3);
    assert.strictEqual(c.clients['many-logins']!.peakTokensPerMinute, 3);
    assert.deepStrictEqual(c.clients['many-logins']!.rejected, {
      token: 0,
      client: 0,
      tokenCreation: 1,
    });
  });

  it('should count 429s of the per-token limit per token, and reset counters but not limits', async () => {
    await sim.admin('config', {method: 'PATCH', body: {rateLimitPerMinute: 2}});
    try {
      const sdk = await login(sim.port, {}, 'one-token', 's4');
      await sdk.recording.getRecordingSettings();
      await sdk.recording.getRecordingSettings();
      await assert.rejects(
        sdk.recording.getRecordingSettings(),
        (e: ErrorBodyLike) => e.status === 429,
      );
      let c = await counters();
      assert.deepStrictEqual(c.clients['one-token']!.rejected, {
        token: 1,
        client: 0,
        tokenCreation: 0,
      });
      assert.deepStrictEqual(c.tokens['one-token#1']!.rejected, {token: 1, client: 0});
      assert.strictEqual(c.tokens['one-token#1']!.apiCalls, 3);

      c = await sim.admin<LimitCounters>('counters', {method: 'DELETE'});
      assert.deepStrictEqual(c.clients, {});
      assert.deepStrictEqual(c.tokens, {});
      await assert.rejects(
        sdk.recording.getRecordingSettings(),
        (e: ErrorBodyLike) => e.status === 429,
        'the token has still used its minute',
      );
      c = await counters();
      assert.strictEqual(c.tokens['one-token#1']!.apiCalls, 1);
      assert.strictEqual(c.tokens['one-token#1']!.peakCallsPerMinute, 1);
      // When its calls came (a benchmark's wall time under a binding limit).
      const t = c.tokens['one-token#1'] as unknown as {firstCall: string; lastCall: string};
      assert.ok(Date.parse(t.firstCall) <= Date.parse(t.lastCall), JSON.stringify(t));
    } finally {
      await sim.admin('config', {method: 'PATCH', body: {rateLimitPerMinute: 300}});
    }
  });
});
