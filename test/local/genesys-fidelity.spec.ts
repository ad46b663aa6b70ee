/**
 * Fidelity of the Genesys Cloud simulator to Genesys Cloud's published API reference,
 * through the official SDK against a simulator process:
 * any valid analytics interval (1970-01-01 included) answers, invalid ones
 * answer 400 with an ErrorBody; one recording can give several batch results;
 * the lossy profile holds RESTORING recordings; a client without
 * `recording:recording:viewSensitiveData` gets batches that complete without
 * the sensitive recordings; sub-day intervals select by lifetime overlap, and
 * start-day matching is a filter on top of it.
 */
import * as assert from 'node:assert';
import {createHash} from 'node:crypto';
import type {Models} from 'purecloud-platform-client-v2';
import {DAY, SdkClient, TestSimulator, sdkClient, startSimulator} from '../setup/simulator';
import {parseClients} from '../../local/genesys/clients';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

interface ErrorBodyLike {
  status?: number;
  code?: string;
  message?: string;
  contextId?: string;
}

interface TruthRecording {
  recordingId: string;
  media: string;
  fileState: string;
  exportable: boolean;
  sensitive: boolean;
  contentType: string;
  md5Hash?: string;
}

interface TruthConversation {
  conversationId: string;
  conversationStart: string;
  conversationEnd: string;
  recordings: TruthRecording[];
}

interface Truth {
  conversations: TruthConversation[];
}

interface BatchResult {
  conversationId?: string;
  recordingId?: string;
  resultUrl?: string;
  errorMsg?: string;
  contentType?: string;
}

const LIMITED = 'limited-client';
const NO_SENSITIVE = 'recording:recording:viewSensitiveData';

async function login(port: number, id = 'demo-client', secret = 'demo-secret'): Promise<SdkClient> {
  const sdk = sdkClient(port);
  await sdk.client.loginClientCredentialsGrant(id, secret);
  return sdk;
}

const iso = (ms: number) => new Date(ms).toISOString();
const nextDay = (day: string, n = 1) =>
  iso(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).slice(0, 10);

describe('Genesys simulator fidelity', function () {
  this.timeout(60_000);
  let sim: TestSimulator;
  let sdk: SdkClient;

  before(async function () {
    this.timeout(60_000);
    sim = await startSimulator([
      '--seed',
      'fidelity',
      '--conversations-per-day',
      '250',
      '--profile',
      'lossy',
      '--sensitive-share',
      '0.1',
      '--client',
      'demo-client:demo-secret',
      '--client',
      `${LIMITED}:limited-secret;lacks=${NO_SENSITIVE}`,
    ]);
    sdk = await login(sim.port);
  });

  after(async () => {
    await sim?.stop();
  });

  async function jobResults(body: Models.AsyncConversationQuery) {
    const {jobId} = await sdk.analytics.postAnalyticsConversationsDetailsJobs(body);
    for (let i = 0; ; i++) {
      const s = await sdk.analytics.getAnalyticsConversationsDetailsJob(jobId!);
      if (s.state === 'FULFILLED') break;
      assert.ok(['QUEUED', 'PENDING'].includes(s.state!), `job ended ${s.state}`);
      assert.ok(i < 100, 'job never finished');
      await sleep(50);
    }
    const out: Array<{
      conversationId?: string;
      conversationStart?: string;
      conversationEnd?: string;
    }> = [];
    let cursor: string | undefined;
    do {
      const page = await sdk.analytics.getAnalyticsConversationsDetailsJobResults(jobId!, {
        pageSize: 1000,
        ...(cursor ? {cursor} : {}),
      });
      out.push(...(page.conversations ?? []));
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  async function queryAll(interval: string) {
    const out: Array<{conversationId?: string; conversationStart?: string}> = [];
    let totalHits = 0;
    for (let pageNumber = 1; ; pageNumber++) {
      const page = await sdk.analytics.postAnalyticsConversationsDetailsQuery({
        interval,
        paging: {pageSize: 100, pageNumber},
      });
      totalHits = page.totalHits ?? 0;
      if (!page.conversations) break;
      out.push(...page.conversations);
    }
    assert.strictEqual(totalHits, out.length);
    return out;
  }

  async function completed(
    client: SdkClient,
    items: Array<{conversationId: string; recordingId?: string}>,
  ) {
    const {id} = await client.recording.postRecordingBatchrequests({
      batchDownloadRequestList: items,
    });
    for (let i = 0; i < 200; i++) {
      const s = await client.recording.getRecordingBatchrequest(id!);
      if (s.status === 'Completed') return s;
      await sleep(25);
    }
    throw new Error('batch never completed');
  }

  const truthOf = (from: string, to: string) =>
    sim.admin<Truth>(`truth?from=${from}&to=${to}&checksums=false`);

  /** Ids of the truth's conversations whose lifetime overlaps [startMs, endMs). */
  const overlapping = (truth: Truth, startMs: number, endMs: number) =>
    truth.conversations
      .filter(
        c => Date.parse(c.conversationStart) < endMs && Date.parse(c.conversationEnd) > startMs,
      )
      .map(c => c.conversationId)
      .sort();

  const ids = (list: Array<{conversationId?: string}>) => list.map(c => c.conversationId!).sort();

  describe('a) any valid interval, 1970-01-01 included', () => {
    it('should run lifetime-overlap jobs over 1970-01-01, including a conversation from 1969-12-31 that resolves by id', async () => {
      const out = await jobResults({interval: '1970-01-01T00:00:00.000Z/1970-01-02T00:00:00.000Z'});
      const before = out.filter(c => c.conversationStart! < '1970-01-01');
      assert.ok(before.length > 0, 'a conversation spanning the first midnight of 1970');
      for (const c of out)
        assert.ok(
          c.conversationStart!.startsWith('1970-01-01') || c.conversationEnd! > '1970-01-01',
        );
      const one = await sdk.analytics.getAnalyticsConversationDetails(before[0]!.conversationId!);
      assert.strictEqual(one.conversationStart, before[0]!.conversationStart);
      await sdk.recording.getConversationRecordingmetadata(before[0]!.conversationId!);
    });

    it('should run start-day jobs and the sync query over 1970-01-01 and across its first midnight', async () => {
      const day = await jobResults({
        interval: '1970-01-01T00:00:00.000Z/1970-01-02T00:00:00.000Z',
        startOfDayIntervalMatching: true,
      });
      assert.strictEqual(day.length, 250);
      assert.ok(day.every(c => c.conversationStart!.startsWith('1970-01-01')));
      const interval = '1969-12-31T23:00:00.000Z/1970-01-01T01:00:00.000Z';
      const truth = await truthOf('1969-12-31T00:00:00Z', '1970-01-02T00:00:00Z');
      const expected = overlapping(
        truth,
        Date.parse('1969-12-31T23:00:00Z'),
        Date.parse('1970-01-01T01:00:00Z'),
      );
      assert.ok(expected.length > 0);
      assert.deepStrictEqual(ids(await queryAll(interval)), expected);
      assert.deepStrictEqual(ids(await jobResults({interval})), expected);
    });

    it('should serve the recordings of 1970-01-01 by batch download, email ZIPs included', async () => {
      const truth = await sim.admin<Truth>('truth?day=1970-01-01');
      const wanted = truth.conversations
        .flatMap(c => c.recordings.filter(r => r.exportable).map(r => ({c, r})))
        .filter(({r}, i) => r.media === 'email' || i < 10);
      assert.ok(wanted.some(({r}) => r.media === 'email'));
      const s = await completed(
        sdk,
        wanted.map(({c, r}) => ({conversationId: c.conversationId, recordingId: r.recordingId})),
      );
      assert.strictEqual(s.results!.length, wanted.length);
      for (const result of s.results as BatchResult[]) {
        const t = wanted.find(w => w.r.recordingId === result.recordingId)!.r;
        const bytes = Buffer.from(await (await fetch(result.resultUrl!)).arrayBuffer());
        assert.strictEqual(createHash('md5').update(bytes).digest('base64'), t.md5Hash);
        if (t.media === 'email') assert.strictEqual(bytes.readUInt32LE(0), 0x04034b50, 'a ZIP');
      }
    });

    it('should answer intervals at the ends of four-digit years', async () => {
      const first = await jobResults({interval: '0000-01-01T00:00:00Z/0000-01-01T06:00:00Z'});
      assert.ok(first.length > 0);
      const q = await sdk.analytics.postAnalyticsConversationsDetailsQuery({
        interval: '9999-12-31T00:00:00Z/9999-12-31T23:00:00-05:00',
      });
      assert.strictEqual(q.totalHits, 0, 'nothing has started in the future');
    });

    const invalid: Array<[string, string, RegExp]> = [
      [
        'an end before the start',
        '1970-01-02T00:00:00Z/1970-01-01T00:00:00Z',
        /end must be after the start/,
      ],
      [
        'an empty interval',
        '1970-01-01T00:00:00Z/1970-01-01T00:00:00Z',
        /end must be after the start/,
      ],
      [
        'a day that does not exist',
        '1970-02-30T00:00:00Z/1970-03-05T00:00:00Z',
        /"1970-02-30T00:00:00Z" is not a valid date-time/,
      ],
      ['hour 24', '1970-01-01T24:00:00Z/1970-01-02T01:00:00Z', /not a valid date-time/],
      ['month 13', '1970-13-01T00:00:00Z/1970-13-02T00:00:00Z', /not a valid date-time/],
      [
        'an offset of 24 hours',
        '1970-01-01T00:00:00+24:00/1970-01-02T00:00:00Z',
        /not a valid date-time/,
      ],
      ['no time zone', '1970-01-01T00:00:00/1970-01-02T00:00:00', /expected ISO-8601/],
    ];
    for (const [name, interval, message] of invalid) {
      it(`should answer 400 with an ErrorBody to ${name}, from the query and from jobs`, async () => {
        const check = (e: ErrorBodyLike) => {
          assert.strictEqual(e.status, 400);
          assert.strictEqual(e.code, 'bad.request');
          assert.match(e.message ?? '', message);
          assert.ok(e.contextId);
          return true;
        };
        await assert.rejects(
          sdk.analytics.postAnalyticsConversationsDetailsQuery({interval}),
          check,
        );
        await assert.rejects(
          sdk.analytics.postAnalyticsConversationsDetailsJobs({interval}),
          check,
        );
      });
    }
  });

  describe('b) several batch results for one recording', () => {
    it('should be off by default', async () => {
      const {settings} = await sim.admin<{settings: Record<string, unknown>}>('config');
      assert.strictEqual(settings.batchDuplicateRate, 0);
    });

    it('should give duplicates on demand: an error result plus a good one, or two good ones with the same media', async () => {
      const truth = await sim.admin<Truth>(`truth?day=${DAY}`);
      const wanted = truth.conversations
        .flatMap(c => c.recordings.filter(r => r.exportable).map(r => ({c, r})))
        .slice(0, 30);
      await sim.admin('config', {method: 'PATCH', body: {batchDuplicateRate: 1}});
      try {
        const s = await completed(
          sdk,
          wanted.map(({c, r}) => ({conversationId: c.conversationId, recordingId: r.recordingId})),
        );
        const results = s.results as BatchResult[];
        assert.strictEqual(results.length, 2 * wanted.length, 'two results for each recording');
        assert.strictEqual(s.expectedResultCount, results.length);
        assert.strictEqual(s.resultCount, results.length);
        assert.strictEqual(s.errorCount, results.filter(r => r.errorMsg).length);
        let errorPlusGood = 0;
        let twoGood = 0;
        for (const {r} of wanted) {
          const mine = results.filter(x => x.recordingId === r.recordingId);
          assert.strictEqual(mine.length, 2);
          const good = mine.filter(x => x.resultUrl && !x.errorMsg);
          assert.ok(good.length >= 1, 'every recording still has a good result');
          if (good.length === 2) twoGood++;
          else errorPlusGood++;
          for (const g of good) {
            assert.strictEqual(g.contentType, r.contentType);
            const bytes = Buffer.from(await (await fetch(g.resultUrl!)).arrayBuffer());
            assert.strictEqual(createHash('md5').update(bytes).digest('base64'), r.md5Hash);
          }
        }
        assert.ok(
          errorPlusGood > 0 && twoGood > 0,
          `${errorPlusGood} error+good, ${twoGood} good+good`,
        );
      } finally {
        await sim.admin('config', {method: 'PATCH', body: {batchDuplicateRate: 0}});
      }
    });

    it('should refuse a rate above 1', async () => {
      const res = await fetch(`${sim.url}/_admin/config`, {
        method: 'PATCH',
        body: JSON.stringify({batchDuplicateRate: 2}),
      });
      assert.strictEqual(res.status, 400);
    });
  });

  describe('c) RESTORING recordings in the lossy profile', () => {
    it('should hold RESTORING recordings: metadata says so, a batch gives an error result, recovery restores them', async () => {
      const day = '2023-03-01';
      const truth = await sim.admin<Truth>(`truth?day=${day}&checksums=false`);
      const restoring = truth.conversations.flatMap(c =>
        c.recordings.filter(r => r.fileState === 'RESTORING').map(r => ({c, r})),
      );
      assert.ok(restoring.length > 0, 'the lossy profile holds RESTORING recordings');
      const {c, r} = restoring[0]!;
      const md = await sdk.recording.getConversationRecordingmetadataRecordingId(
        c.conversationId,
        r.recordingId,
      );
      assert.strictEqual(md.fileState, 'RESTORING');
      const item = {conversationId: c.conversationId, recordingId: r.recordingId};
      const [result] = (await completed(sdk, [item])).results as BatchResult[];
      assert.ok(result!.errorMsg && !result!.resultUrl);
      assert.match(result!.errorMsg!, /restor/i);
      await sim.admin(`recover?day=${day}`, {method: 'POST'});
      const after = await sdk.recording.getConversationRecordingmetadataRecordingId(
        c.conversationId,
        r.recordingId,
      );
      assert.strictEqual(after.fileState, 'RESTORED');
      const [good] = (await completed(sdk, [item])).results as BatchResult[];
      assert.ok(good!.resultUrl && !good!.errorMsg);
    });
  });

  describe('d) a client without recording:recording:viewSensitiveData', () => {
    it('should parse per-client permissions and refuse ones the simulator does not model', () => {
      const clients = parseClients(['a:s', `b:t;lacks=${NO_SENSITIVE}`]);
      assert.deepStrictEqual(clients.get('a'), {secret: 's', lacks: []});
      assert.deepStrictEqual(clients.get('b'), {secret: 't', lacks: [NO_SENSITIVE]});
      assert.throws(() => parseClients(['c:u;lacks=recording:recording:view']), /lacks/);
      assert.throws(() => parseClients(['c:u;grants=x']), /lacks/);
    });

    it('should complete batches without the sensitive recordings, while the metadata still lists them', async () => {
      const truth = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
      const convs = truth.conversations
        .filter(c => c.recordings.some(r => r.sensitive && r.exportable))
        .slice(0, 10);
      assert.ok(convs.length >= 3, 'the organisation flags some recordings as sensitive');
      const all = convs.flatMap(c => c.recordings);
      const sensitive = all.filter(r => r.sensitive);
      const items = [
        ...convs.map(c => ({conversationId: c.conversationId})),
        ...convs.flatMap(c =>
          c.recordings
            .filter(r => r.sensitive)
            .map(r => ({conversationId: c.conversationId, recordingId: r.recordingId})),
        ),
      ];
      const limited = await login(sim.port, LIMITED, 'limited-secret');
      const s = await completed(limited, items);
      const results = s.results as BatchResult[];
      assert.strictEqual(s.status, 'Completed');
      assert.strictEqual(results.length, all.length - sensitive.length);
      assert.strictEqual(s.expectedResultCount, results.length, 'fewer results than requested');
      assert.ok(s.expectedResultCount! < items.length);
      assert.ok(results.every(r => !sensitive.some(x => x.recordingId === r.recordingId)));
      const md = await limited.recording.getConversationRecordingmetadata(convs[0]!.conversationId);
      assert.strictEqual(md.length, convs[0]!.recordings.length, 'metadata lists every recording');
      for (const m of md)
        assert.ok(
          !Object.keys(m).some(k => /sensitiv|pci|pii/i.test(k)),
          'and, as documented, no field flags the sensitive ones',
        );

      const full = await completed(sdk, items);
      assert.strictEqual(full.results!.length, all.length + sensitive.length);
      for (const r of sensitive)
        assert.ok(
          full.results!.some(
            x => x.recordingId === r.recordingId && (r.exportable ? x.resultUrl : x.errorMsg),
          ),
        );
    });

    it('should include sensitive recordings for every client once redaction is off', async () => {
      const truth = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
      const conv = truth.conversations.find(c =>
        c.recordings.some(r => r.sensitive && r.exportable),
      )!;
      const rec = conv.recordings.find(r => r.sensitive && r.exportable)!;
      const limited = await login(sim.port, LIMITED, 'limited-secret');
      const item = {conversationId: conv.conversationId, recordingId: rec.recordingId};
      assert.strictEqual((await completed(limited, [item])).results!.length, 0);
      await sim.admin('config', {method: 'PATCH', body: {redaction: false}});
      try {
        const [r] = (await completed(limited, [item])).results as BatchResult[];
        assert.ok(r!.resultUrl);
      } finally {
        await sim.admin('config', {method: 'PATCH', body: {redaction: true}});
      }
    });
  });

  describe('e) sub-day intervals', () => {
    const noon = Date.parse(`${DAY}T12:00:00Z`);
    const one = Date.parse(`${DAY}T13:00:00Z`);
    const hour = `${iso(noon)}/${iso(one)}`;
    const midnight = Date.parse(`${DAY}T00:00:00Z`);
    const h1 = midnight + 3_600_000;
    const firstHour = `${iso(midnight)}/${iso(h1)}`;

    /** Conversations running in DAY's first hour: all of them, and those that started on DAY. */
    async function firstHourTruth() {
      const both = await truthOf(`${nextDay(DAY, -1)}T00:00:00Z`, `${nextDay(DAY)}T00:00:00Z`);
      const day = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
      const overlap = overlapping(both, midnight, h1);
      const sameDay = overlapping(day, midnight, h1);
      assert.ok(overlap.length > sameDay.length, 'some conversation spans the midnight');
      return {overlap, sameDay};
    }

    it('should answer the sync query with the conversations of the start days that overlap the interval', async () => {
      const truth = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
      const expected = overlapping(truth, noon, one);
      const got = ids(await queryAll(hour));
      assert.ok(expected.length > 0 && expected.length < 100);
      assert.deepStrictEqual(got, expected);
      assert.ok(
        truth.conversations.some(
          c => got.includes(c.conversationId) && c.conversationStart < `${DAY}T12:00`,
        ),
        'a conversation that started before the window but overlaps it comes back',
      );
      // From midnight: nothing from the day before, though some of its conversations still run.
      assert.deepStrictEqual(ids(await queryAll(firstHour)), (await firstHourTruth()).sameDay);
      // Across midnight: both start days.
      const late = Date.parse(`${DAY}T23:30:00Z`);
      const early = Date.parse(`${nextDay(DAY)}T00:30:00Z`);
      const twoDays = await truthOf(`${DAY}T00:00:00Z`, `${nextDay(DAY, 2)}T00:00:00Z`);
      assert.deepStrictEqual(
        ids(await queryAll(`${iso(late)}/${iso(early)}`)),
        overlapping(twoDays, late, early),
      );
    });

    it('should match start-day jobs by overlap, filtered to conversations that started on or after the first day', async () => {
      const truth = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
      const got = ids(await jobResults({interval: hour, startOfDayIntervalMatching: true}));
      assert.deepStrictEqual(got, overlapping(truth, noon, one));
      // From midnight: start-day matching leaves out the conversations from the day before that
      // are still running; lifetime overlap keeps them.
      const {overlap, sameDay} = await firstHourTruth();
      assert.deepStrictEqual(
        ids(await jobResults({interval: firstHour, startOfDayIntervalMatching: true})),
        sameDay,
      );
      assert.deepStrictEqual(ids(await jobResults({interval: firstHour})), overlap);
    });
  });
});
