/**
 * The export path end to end on the real stack: Cloud Scheduler's call to
 * the planner, batches through the Pub/Sub emulator to the worker function,
 * recordings streamed from the Genesys simulator into the GCS emulator, all
 * compared with the simulator's ground truth byte for byte.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {PubSub} from '@google-cloud/pubsub';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {
  DayResult,
  callPlanner,
  fetchTruth,
  readJson,
  runDay,
  storageFor,
  storeFor,
  waitForMarker,
  invokeHeaders,
} from '../../local/run-day';
import {declareProductDays, eventually, useProductStack} from '../setup/stack';
import {mailAbout, withFaults} from '../helpers';
import {addDays, defaultDay} from '../../functions/core/time-window';
import type {BatchReport} from '../../functions/core/report';
import {indexObjectName, rejectedMessageObjectName} from '../../functions/core/object-names';
import {IndexRow, rowProblems} from '../../functions/core/recordings-index';

const ENV = LOCAL_EXPORT_ENV;
const today = defaultDay(Date.now(), 'UTC', 0);
const DAY = addDays(today, -5);
const DAY_FAULTS = addDays(today, -6);
const DAY_REPLAY = addDays(today, -7);
const PER_DAY = {[DAY]: 60, [DAY_FAULTS]: 30, [DAY_REPLAY]: 12, [addDays(today, -13)]: 4};
declareProductDays('clean', PER_DAY);

const isMarker = (name: string) => /\/_(SUCCESS|FAILURE)$/.test(name);

/** Generations of the exported objects (the bookkeeping and markers excluded). */
async function generations(stack: Stack, prefix: string): Promise<Map<string, string>> {
  const [files] = await storageFor(stack).bucket(stack.bucket).getFiles({prefix});
  return new Map(
    files
      .filter(f => !f.name.includes('/_manifest/') && !isMarker(f.name))
      .map(f => [f.name, String(f.metadata.generation)]),
  );
}

describe('export path (real functions on the local stack)', function () {
  this.timeout(180_000);
  let stack: Stack;
  let first: DayResult;

  /** The day's recordings index, once the checker has written it for `runId` (after the marker). */
  async function indexOf(runId: string): Promise<IndexRow[]> {
    const store = storeFor(stack);
    const name = indexObjectName(ENV, DAY);
    return eventually(
      `the recordings index of ${runId}`,
      async () => {
        if ((await store.stat(name))?.metadata?.['run-id'] !== runId) return undefined;
        const chunks: Buffer[] = [];
        for await (const chunk of store.read(name)) chunks.push(chunk as Buffer);
        const text = Buffer.concat(chunks).toString('utf8');
        assert.ok(text.endsWith('\n'), 'newline-delimited');
        const rows = text
          .trimEnd()
          .split('\n')
          .map(l => JSON.parse(l) as IndexRow);
        return rows.every(r => r.run_id === runId) ? rows : undefined;
      },
      30_000,
    );
  }

  before(async function () {
    this.timeout(120_000);
    stack = await useProductStack('clean', PER_DAY);
    first = await runDay(stack, {day: DAY, env: ENV, timeoutMs: 120_000});
  });

  it('should export every exportable recording of the day with the right bytes', () => {
    const v = first.verification;
    assert.ok(v.exportable > 50, `only ${v.exportable} exportable recordings`);
    assert.deepStrictEqual(v.missing, []);
    assert.deepStrictEqual(v.mismatched, []);
    assert.strictEqual(v.exportedAndVerified, v.exportable);
    assert.strictEqual(first.reports.length, Math.ceil(60 / 25));
    assert.ok(first.reports.every(r => r.status === 'complete'));
  });

  it('should end the day in _SUCCESS: a manifest of what was exported, and no email', async () => {
    const m = first.marker!;
    const v = first.verification;
    assert.strictEqual(m.marker, '_SUCCESS');
    assert.deepStrictEqual([m.day, m.runId, m.env], [DAY, first.runId, ENV]);
    assert.strictEqual(m.totals.all.exported, v.exportable);
    assert.strictEqual(m.totals.all.failed, 0);
    assert.strictEqual(m.skipped.length, m.totals.all.skipped);
    assert.ok(m.skipped.every(r => /DELETED/.test(r.reason)));
    assert.deepStrictEqual(m.gaps, []);
    assert.deepStrictEqual(m.replay, []);
    const types = ['call', 'chat', 'email', 'message', 'screen'] as const;
    let bytes = 0;
    for (const r of first.reports) for (const t of types) bytes += r.totals[t].bytes;
    assert.strictEqual(m.totals.all.bytes, bytes);
    assert.deepStrictEqual(
      m.reports.map(r => r.batchId).sort(),
      first.reports.map(r => r.batchId).sort(),
    );
    assert.strictEqual(first.ledger!.email.state, 'not-needed');
    assert.deepStrictEqual(await mailAbout(stack, DAY), []);
  });

  it('should skip deleted recordings with their reason and fail none', async () => {
    const truth = await fetchTruth(stack, DAY);
    const deleted = truth.conversations
      .flatMap(c => c.recordings)
      .filter(r => r.fileState === 'DELETED').length;
    const totals = Object.values(first.totals);
    assert.strictEqual(
      totals.reduce((n, t) => n + t.skipped, 0),
      deleted,
    );
    assert.strictEqual(
      totals.reduce((n, t) => n + t.failed, 0),
      0,
    );
    if (deleted > 0) assert.ok(first.reasons.skipped['deleted at the source (fileState DELETED)']);
  });

  it('should name objects {env}/{day}/{type}/{conversation}_{recording}.{ext} with the content type kept', async () => {
    const [files] = await storageFor(stack)
      .bucket(stack.bucket)
      .getFiles({prefix: `${ENV}/${DAY}/`});
    const media = files.filter(
      f => !f.name.includes('/_manifest/') && !f.name.includes('/metadata/') && !isMarker(f.name),
    );
    assert.deepStrictEqual(
      files.filter(f => isMarker(f.name)).map(f => f.name),
      [`${ENV}/${DAY}/_SUCCESS`],
    );
    const pattern = new RegExp(
      `^${ENV}/${DAY}/(call|chat|email|message|screen)/[0-9a-f-]{36}_[0-9a-f-]{36}\\.(ogg|wav|json|zip|webm)$`,
    );
    const expectedType: Record<string, string[]> = {
      call: ['audio/ogg', 'audio/wav'],
      chat: ['application/json'],
      email: ['application/zip'],
      message: ['application/json'],
      screen: ['video/webm'],
    };
    for (const f of media) {
      const m = pattern.exec(f.name);
      assert.ok(m, `unexpected object name ${f.name}`);
      assert.ok(
        expectedType[m[1]!]!.includes(String(f.metadata.contentType)),
        `${f.name} is ${f.metadata.contentType}`,
      );
    }
    assert.ok(new Set(media.map(f => f.name.split('/')[2])).size === 5, 'all five types exported');
  });

  it('should keep only STANDARD and NOTICE chat messages', () => {
    const dir = path.join(first.filesDir, 'chat');
    const files = fs.readdirSync(dir);
    assert.ok(files.length > 0);
    let messages = 0;
    for (const f of files) {
      const list = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Array<{
        bodyType: string;
      }>;
      for (const m of list)
        assert.ok(['STANDARD', 'NOTICE'].includes(m.bodyType.toUpperCase()), m.bodyType);
      messages += list.length;
    }
    assert.ok(messages > 0);
  });

  it('should write metadata per conversation with analytics details, recording metadata and export facts', async () => {
    const report = first.reports[0]!;
    const conv = report.conversations.find(c => c.recordings.some(r => r.outcome === 'exported'))!;
    const doc = await readJson<{
      conversation: {conversationId: string; participants: unknown[]};
      recordings: Array<{
        metadata: {id: string; fileState: string};
        export: {outcome: string; object?: string; md5Hash?: string; size?: number};
      }>;
    }>(stack, `${ENV}/${DAY}/metadata/${conv.conversationId}.json`);
    assert.ok(doc);
    assert.strictEqual(doc.conversation.conversationId, conv.conversationId);
    assert.ok(doc.conversation.participants.length > 0);
    const exported = doc.recordings.find(r => r.export.outcome === 'exported')!;
    assert.ok(exported.export.object && exported.export.md5Hash && exported.export.size);
  });

  it("should index the day: a row for every recording of the marker, every row of the table's schema", async () => {
    const rows = await indexOf(first.runId);
    for (const r of rows) assert.deepStrictEqual(rowProblems(r), [], JSON.stringify(r));
    const m = first.marker!;
    const count = (o: string) => rows.filter(r => r.outcome === o).length;
    assert.deepStrictEqual(
      [rows.length, count('exported'), count('skipped'), count('failed')],
      [m.totals.all.expected, m.totals.all.exported, m.totals.all.skipped, 0],
    );
    // Every exported recording as the reports recorded it: object, size, checksums.
    const exported = new Map(
      first.reports
        .flatMap(r => r.conversations.flatMap(c => c.recordings))
        .filter(r => r.outcome === 'exported')
        .map(r => [r.object!, [r.size, r.md5Hash, r.crc32c]]),
    );
    for (const r of rows.filter(r => r.outcome === 'exported'))
      assert.deepStrictEqual(
        [r.size_bytes, r.md5_hash, r.crc32c],
        exported.get(r.object_name!),
        r.object_name,
      );
    // The conversation columns, from the analytics records the worker read.
    assert.ok(rows.every(r => r.direction && r.division_ids?.length && r.conversation_start));
    assert.ok(
      rows.every(r =>
        r.participants?.some(p => p.purpose === 'agent' && p.user_id && p.queue_ids?.length),
      ),
    );
    assert.ok(rows.some(r => r.wrap_up_codes?.length));
    assert.deepStrictEqual(
      new Set(rows.map(r => r.decided_at)),
      new Set([first.ledger!.decidedAt]),
    );
  });

  it('should change nothing when the day is planned and exported again', async () => {
    const before = await generations(stack, `${ENV}/${DAY}/`);
    const indexed = await indexOf(first.runId);
    const again = await callPlanner(stack, {day: DAY});
    assert.strictEqual(again.status, 202);
    const runId = (again.body.days as Array<{runId: string; batches: number}>)[0]!;
    await eventually(
      'the rerun reports',
      async () => {
        const [files] = await storageFor(stack)
          .bucket(stack.bucket)
          .getFiles({prefix: `${ENV}/${DAY}/_manifest/runs/${runId.runId}/batches/`});
        return files.length >= runId.batches ? files : undefined;
      },
      90_000,
    );
    const after = await generations(stack, `${ENV}/${DAY}/`);
    assert.deepStrictEqual(
      [...after.entries()].sort(),
      [...before.entries()].sort(),
      'no object was rewritten or added',
    );
    // The day's marker now describes the new run.
    const {marker} = await waitForMarker(stack, ENV, DAY, {runId: runId.runId});
    assert.deepStrictEqual(
      [marker.marker, marker.totals.all],
      ['_SUCCESS', first.marker!.totals.all],
    );
    // The index is replaced by the new run's decision (every row of the new run): same recordings.
    const key = (r: IndexRow) => `${r.recording_id} ${r.outcome} ${r.object_name ?? ''}`;
    const rows = await indexOf(runId.runId);
    assert.deepStrictEqual(rows.map(key).sort(), indexed.map(key).sort());
  });

  it('should survive a flaky Genesys (errors, resets, 429 with Retry-After, cut media) and still export everything', async () => {
    await fetch(`${stack.genesysUrl}/_admin/faults`, {
      method: 'POST',
      body: JSON.stringify([
        {
          path: '^/api/v2/conversations/.*/recordingmetadata',
          action: 'status',
          status: 503,
          times: 4,
        },
        {
          path: '^/api/v2/recording/batchrequests',
          action: 'status',
          status: 429,
          headers: {'Retry-After': '1'},
          times: 2,
        },
        {path: '^/api/v2/analytics/conversations/details\\?', action: 'reset', times: 1},
        {path: '^/media/', action: 'status', status: 502, times: 3},
      ]),
    });
    await fetch(`${stack.genesysUrl}/_admin/config`, {
      method: 'PATCH',
      body: JSON.stringify({truncateMediaRate: 0.1}),
    });
    try {
      const result = await runDay(stack, {day: DAY_FAULTS, env: ENV, timeoutMs: 150_000});
      assert.deepStrictEqual(result.verification.missing, []);
      assert.deepStrictEqual(result.verification.mismatched, []);
      assert.strictEqual(result.verification.exportedAndVerified, result.verification.exportable);
      const faults = (await (await fetch(`${stack.genesysUrl}/_admin/faults`)).json()) as {
        rules: Array<{fired: number}>;
      };
      assert.ok(
        faults.rules.every(r => r.fired > 0),
        'every injected fault fired',
      );
    } finally {
      await fetch(`${stack.genesysUrl}/_admin/faults`, {method: 'DELETE'});
      await fetch(`${stack.genesysUrl}/_admin/config`, {
        method: 'PATCH',
        body: JSON.stringify({truncateMediaRate: 0}),
      });
    }
  });

  describe('batch messages', () => {
    let pubsub: PubSub;
    before(() => {
      pubsub = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
    });
    after(async () => {
      await pubsub.close();
    });

    it('should export an operator replay, and a duplicate delivery changes nothing', async () => {
      const truth = await fetchTruth(stack, DAY_REPLAY);
      const ids = truth.conversations.map(c => c.conversationId).slice(0, 6);
      const message = {day: DAY_REPLAY, conversationIds: ids};
      await pubsub.topic(stack.topic).publishMessage({json: message});
      const reportName = async () => {
        const [files] = await storageFor(stack)
          .bucket(stack.bucket)
          .getFiles({prefix: `${ENV}/${DAY_REPLAY}/_manifest/adhoc/`});
        return files.find(f => /\/adhoc\/adhoc-[0-9a-f]+\.json$/.test(f.name))?.name;
      };
      const name = await eventually('the ad-hoc report', reportName, 60_000);
      const report = (await readJson<BatchReport>(stack, name))!;
      assert.strictEqual(report.status, 'complete');
      const exported = report.conversations
        .flatMap(c => c.recordings)
        .filter(r => r.outcome === 'exported');
      assert.ok(exported.length > 0);
      const before = await generations(stack, `${ENV}/${DAY_REPLAY}/`);
      await pubsub.topic(stack.topic).publishMessage({json: message});
      await eventually(
        'the duplicate to be handled',
        async () => {
          const r = await readJson<BatchReport>(stack, name);
          return r && r.messageId !== report.messageId ? r : undefined;
        },
        60_000,
      );
      const after = await generations(stack, `${ENV}/${DAY_REPLAY}/`);
      assert.deepStrictEqual([...after.entries()].sort(), [...before.entries()].sort());
    });

    it('should record and acknowledge a malformed message, without turning it into object names', async () => {
      const message = {day: '2023-02-30', conversationIds: ['../../etc/passwd']};
      const id = await pubsub.topic(stack.topic).publishMessage({json: message});
      const name = rejectedMessageObjectName(ENV, id, JSON.stringify(message));
      const rejected = await eventually(
        'the rejection record',
        () => readJson<{reason: string}>(stack, name),
        30_000,
      );
      assert.match(rejected.reason, /"day" must be a calendar date/);
      assert.match(rejected.reason, /not a Genesys conversation id/);
      const [files] = await storageFor(stack)
        .bucket(stack.bucket)
        .getFiles({prefix: `${ENV}/2023-02-30`});
      assert.strictEqual(files.length, 0);
    });
  });

  describe('planner against Genesys', () => {
    const admin = (route: string, body: unknown, method = 'POST') =>
      fetch(`${stack.genesysUrl}/_admin/${route}`, {method, body: JSON.stringify(body)});

    it('should refuse a day past the analytics data-availability watermark with 409', async () => {
      await admin('config', {availabilityLagMinutes: 12 * 24 * 60}, 'PATCH');
      try {
        const res = await callPlanner(stack, {day: addDays(today, -10)});
        assert.strictEqual(res.status, 409);
        assert.match(
          String(res.body.error),
          /not complete yet: Genesys reports data available up to/,
        );
      } finally {
        await admin('config', {availabilityLagMinutes: 360}, 'PATCH');
      }
    });

    it('should fall back to the synchronous query when the analytics job fails', async () => {
      const day = addDays(today, -11);
      await admin('config', {jobFailNext: 1}, 'PATCH');
      const res = await callPlanner(stack, {day, dryRun: false});
      assert.strictEqual(res.status, 202);
      const plan = await readJson<{discovery: string; conversations: number}>(
        stack,
        `${ENV}/${day}/_manifest/plan.json`,
      );
      assert.strictEqual(plan?.discovery, 'query');
      assert.strictEqual(plan?.conversations, 5);
    });

    it('should answer 500 when Genesys fails in a way retrying cannot fix', async () => {
      await admin('faults', {path: 'jobs/availability', action: 'status', status: 400});
      try {
        const res = await callPlanner(stack, {day: addDays(today, -12)});
        assert.strictEqual(res.status, 500);
        assert.match(
          String(res.body.error),
          /jobs availability failed after 1 attempt\(s\): HTTP 400/,
        );
      } finally {
        await admin('faults', {}, 'DELETE');
      }
    });
  });

  describe('a batch that keeps failing', () => {
    it('should write a report with the failures after MAX_BATCH_ATTEMPTS deliveries instead of retrying forever', async () => {
      const day = addDays(today, -13);
      const truth = await fetchTruth(stack, day);
      const ids = truth.conversations
        .filter(c => c.recordings.some(r => r.exportable))
        .map(c => c.conversationId);
      const rule = {path: '^/media/', action: 'status', status: 502};
      await withFaults(stack.genesysUrl, rule, async () => {
        const pubsub = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
        const id = await pubsub
          .topic(stack.topic)
          .publishMessage({json: {day, conversationIds: ids}});
        await pubsub.close();
        // The final attempt's provisional report comes first; its own report replaces it.
        const report = await eventually(
          'the final report',
          async () => {
            const [files] = await storageFor(stack)
              .bucket(stack.bucket)
              .getFiles({prefix: `${ENV}/${day}/_manifest/adhoc/`});
            const name = files.find(f => /\/adhoc\/adhoc-[0-9a-f]+\.json$/.test(f.name))?.name;
            const found = name ? await readJson<BatchReport>(stack, name) : undefined;
            return found && !found.provisional ? found : undefined;
          },
          90_000,
        );
        assert.strictEqual(report.messageId, id);
        assert.strictEqual(report.attempt, 3, 'MAX_BATCH_ATTEMPTS is 3 on this stack');
        const failed = report.conversations
          .flatMap(c => c.recordings)
          .filter(r => r.outcome === 'failed');
        assert.ok(failed.length > 0);
        assert.ok(
          failed.every(r => /HTTP 502/.test(r.reason ?? '')),
          failed.map(r => r.reason).join('; '),
        );
      });
    });
  });

  describe('planner input', () => {
    const cases: Array<{name: string; init: RequestInit; status: number; message: RegExp}> = [
      {name: 'a GET', init: {method: 'GET'}, status: 405, message: /use POST/},
      {
        name: 'a body that is not JSON',
        init: {method: 'POST', headers: {'content-type': 'text/plain'}, body: 'day=2023-02-01'},
        status: 415,
        message: /send JSON/,
      },
      {
        name: 'an impossible day',
        init: {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body: '{"day":"2023-02-30"}',
        },
        status: 400,
        message: /calendar date/,
      },
      {
        name: 'an unknown field',
        init: {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body: '{"day":"2023-02-01","bucket":"x"}',
        },
        status: 400,
        message: /unknown field/,
      },
      {
        name: 'a day inside the lag',
        init: {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body: JSON.stringify({day: today}),
        },
        status: 409,
        message: /too recent/,
      },
      {
        name: 'a range that is too long',
        init: {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body: '{"from":"2023-01-01","to":"2023-03-01"}',
        },
        status: 413,
        message: /at most 31/,
      },
      {
        name: 'times that are not midnights',
        init: {
          method: 'POST',
          headers: {'content-type': 'application/json'},
          body: '{"startTime":"2023-02-01T01:00:00Z","endTime":"2023-02-02T00:00:00Z"}',
        },
        status: 400,
        message: /midnights/,
      },
    ];
    for (const c of cases) {
      it(`should answer ${c.status} to ${c.name}`, async () => {
        const url = stack.functions.planner!.url;
        const res = await fetch(url, {
          ...c.init,
          headers: {
            ...(c.init.headers as Record<string, string>),
            ...invokeHeaders(stack, url, 'scheduler'),
          },
        });
        assert.strictEqual(res.status, c.status);
        assert.match(((await res.json()) as {error: string}).error, c.message);
      });
    }

    it('should plan without publishing on a dry run', async () => {
      const day = addDays(today, -9);
      const res = await callPlanner(stack, {day, dryRun: true});
      assert.strictEqual(res.status, 200);
      const d = (
        res.body.days as Array<{conversations: number; batches: number; published: number}>
      )[0]!;
      assert.strictEqual(d.conversations, 5);
      assert.strictEqual(d.published, 0);
      assert.strictEqual(await readJson(stack, `${ENV}/${day}/_manifest/plan.json`), undefined);
    });
  });
});
