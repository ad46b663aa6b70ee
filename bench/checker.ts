/**
 * Bench 6: the checker on a large day. A 50,000-conversation day (500 batch
 * reports of 100 conversations, one recording each) in the GCS emulator; the
 * decisive event costs a list, reading every report, the verdict, the ledger
 * and the marker, and a listing of the day's recording folders to confirm
 * every claim. Baseline: listing and reading the same reports with the same
 * concurrency, and listing the same folders, and nothing else. Also the cost of ignoring an event that
 * is not a plan or report (what nearly every finalize event is).
 */
import {Storage} from '@google-cloud/storage';
import {GcsStore} from '../functions/adapters/gcs';
import {totalsOf} from '../functions/core/report';
import type {BatchReport} from '../functions/core/report';
import type {DayPlan} from '../functions/core/day-plan';
import {createLogger} from '../functions/logger';
import {systemClock} from '../functions/container';
import {Checker} from '../functions/services/checker';
import {mapLimit} from '../functions/services/objects';
import {recordingFolders} from '../functions/core/reports-vs-bucket';

const BATCHES = 500;
const PER_BATCH = 100;
const DAY = '2023-04-01';
const RUN = 'r20230404t000000-bench0';

const uuid = (n: number, tag: string) =>
  `${n.toString(16).padStart(8, '0')}-${tag}-4000-8000-000000000000`;

export async function checkerBench(
  gcsUrl: string,
  bucket: string,
  time: <T>(fn: () => Promise<T>) => Promise<{ms: number; value: T}>,
  record: (name: string, ms: number, baselineMs: number, unit: (ms: number) => string) => void,
): Promise<void> {
  const store = new GcsStore(bucket, new Storage({apiEndpoint: gcsUrl, projectId: 'bench'}));
  const env = 'bench';
  const batches = Array.from({length: BATCHES}, (_, b) => ({
    batchId: `b${String(b).padStart(4, '0')}-bench`,
    conversationIds: Array.from({length: PER_BATCH}, (_, i) => uuid(b * PER_BATCH + i, '0000')),
  }));
  const plan: DayPlan = {
    kind: 'plan',
    version: 1,
    day: DAY,
    runId: RUN,
    window: {start: `${DAY}T00:00:00.000Z`, end: '2023-04-02T00:00:00.000Z', timeZone: 'UTC'},
    createdAt: '2023-04-04T00:00:00.000Z',
    trigger: 'schedule',
    discovery: 'jobs',
    conversations: BATCHES * PER_BATCH,
    batches,
  };
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const opts = {contentType: 'application/json', ifGenerationMatch: 0};
  await store.write(`${env}/${DAY}/_manifest/plan.json`, json(plan), opts);
  const prefix = `${env}/${DAY}/_manifest/runs/${RUN}/batches/`;
  // The recordings the reports claim, small but real: the checker confirms every claim against
  // a listing of the day's recording folders.
  await mapLimit(batches, 16, async b => {
    const conversations = [];
    for (const id of b.conversationIds) {
      const recordingId = id.replace('-0000-', '-1111-');
      const object = `${env}/${DAY}/call/${id}_${recordingId}.ogg`;
      const stored = await store.write(object, Buffer.from(`audio of ${id}`), {
        contentType: 'audio/ogg',
        ifGenerationMatch: 0,
      });
      conversations.push({
        conversationId: id,
        recordings: [
          {
            recordingId,
            type: 'call' as const,
            outcome: 'exported' as const,
            object,
            contentType: 'audio/ogg',
            size: stored.size,
            md5Hash: stored.md5Hash,
            crc32c: stored.crc32c,
          },
        ],
      });
    }
    const report: BatchReport = {
      kind: 'batch-report',
      version: 1,
      day: DAY,
      runId: RUN,
      batchId: b.batchId,
      messageId: '1',
      attempt: 1,
      status: 'complete',
      startedAt: '2023-04-04T00:00:01.000Z',
      finishedAt: '2023-04-04T00:10:00.000Z',
      conversations,
      totals: totalsOf(conversations),
    };
    await store.write(`${prefix}${b.batchId}.json`, json(report), opts);
  });
  const quiet = createLogger({}, () => {});
  const checker = new Checker({
    settings: {
      env,
      bucket,
      developers: ['d@example.com'],
      emailMaxGaps: 25,
      replay: {project: 'p', topic: 't'},
    },
    store,
    mailer: () => Promise.reject(new Error('a clean day sends no email')),
    clock: systemClock,
    logger: quiet,
  });
  const baseline = await time(async () => {
    const listed = await store.list(prefix);
    await mapLimit(listed, 16, o => store.readJson(o.name));
    await Promise.all(recordingFolders(env, DAY).map(f => store.list(f)));
  });
  const decide = await time(() => checker.handle(`${prefix}${batches[BATCHES - 1]!.batchId}.json`));
  if (decide.value.action !== 'decided')
    throw new Error(`unexpected: ${JSON.stringify(decide.value)}`);
  console.log(
    `6. Checker deciding a ${BATCHES * PER_BATCH}-conversation day from ${BATCHES} reports (${decide.value.status})`,
  );
  record('checker decision', decide.ms, baseline.ms, ms => `${(ms / 1000).toFixed(2)} s`);
  const repeat = await time(() => checker.handle(`${prefix}${batches[0]!.batchId}.json`));
  record(
    'checker, duplicate event (unchanged)',
    repeat.ms,
    baseline.ms,
    ms => `${(ms / 1000).toFixed(2)} s`,
  );
  const names = Array.from(
    {length: 100_000},
    (_, i) => `${env}/${DAY}/call/${uuid(i, '0000')}_${uuid(i, '1111')}.ogg`,
  );
  const ignore = await time(async () => {
    for (const n of names) await checker.handle(n);
  });
  const noop = await time(async () => {
    for (const n of names) await Promise.resolve(n);
  });
  console.log(
    '   ignoring 100,000 recording events in-process (vs awaiting a resolved promise each)',
  );
  record(
    'checker, ignored event',
    ignore.ms,
    noop.ms,
    ms => `${((ms * 1000) / names.length).toFixed(2)} µs/event`,
  );
}
