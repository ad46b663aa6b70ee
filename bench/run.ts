/**
 * `npm run bench`: performance of the local stack's own parts, each figure
 * reported next to a baseline measured in the same run (machines here are
 * shared and noisy, so absolute numbers mean little on their own).
 *
 *   1. Simulator media generation (Ogg Opus) vs the raw AES-CTR keystream it is made from.
 *   2. Simulator media over HTTP vs generating the same bytes in-process.
 *   3. GCS emulator: a 256 MiB resumable upload through @google-cloud/storage vs writing
 *      the same bytes to a local file.
 *   4. Analytics jobs: reading a 100k-conversation day through the SDK (cursor pages of
 *      1000) vs building the same detail records in-process.
 *   5. The export path on the local stack: the planner discovering a 100k-conversation day
 *      (dry run; time and the planner process's peak memory), and exporting a 300-conversation
 *      day end to end vs copying the same recordings' bytes straight from the simulator into
 *      the GCS emulator.
 *   6. The checker deciding a 50k-conversation day from 500 reports vs only reading them;
 *      a duplicate event; ignoring a recording's event (bench/checker.ts).
 *   7. A 40-day history migration, and a nightly day at its scheduled time after the quiet
 *      window, at a binding limit (bench/migration.ts).
 */
import {createCipheriv, randomBytes} from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {Readable, Writable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {Storage} from '@google-cloud/storage';
import platformClient from 'purecloud-platform-client-v2';
import {Organisation} from '../local/genesys/org';
import {mediaFor} from '../local/genesys/media';
import {detailRecord} from '../local/genesys/analytics';
import {spawnChild, tsNode, waitForReadyLine} from '../local/common/processes';
import {startStack} from '../local/stack';
import {LOCAL_EXPORT_ENV, productEnv, productFunctions, productSecrets} from '../local/product';
import {callPlanner, fetchTruth, runDay, storageFor} from '../local/run-day';
import {addDays, defaultDay} from '../functions/core/time-window';
import {checkerBench} from './checker';
import {readJobPages} from './jobs';
import {BenchRow, TextRow, printRows, writeRows} from './rows';
import {throughputBench} from './throughput';
import {fleetBench} from './fleet';
import {migrationBench} from './migration';
import {coldStartBench} from './cold-start';
import {copyBench} from './copy';
import {scaleBench} from './scale';

/** Peak resident memory of a process, from /proc (Linux). */
function peakRssBytes(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function exportPath(dir: string): Promise<void> {
  const today = defaultDay(Date.now(), 'UTC', 0);
  const bigDay = addDays(today, -5);
  const day = addDays(today, -6);
  const stack = await startStack({
    root: path.join(dir, 'stack'),
    functions: productFunctions(),
    secrets: productSecrets(),
    functionEnv: productEnv(),
    genesys: {seed: 'bench', conversationsPerDay: 10, perDay: {[bigDay]: 100_000, [day]: 300}},
  });
  try {
    const plannerPid = stack.functions.planner!.child.proc.pid!;
    const before = peakRssBytes(plannerPid);
    const discovery = await time(() => callPlanner(stack, {day: bigDay, dryRun: true}));
    const conversations = (discovery.value.body.days as Array<{conversations: number}>)[0]!
      .conversations;
    const growth = peakRssBytes(plannerPid) - before;
    console.log(
      `5a. Planner dry run of a ${conversations}-conversation day: ${(discovery.ms / 1000).toFixed(1)} s, planner peak memory +${(growth / MiB).toFixed(0)} MiB`,
    );
    results.push({
      section: 'stack parts',
      name: 'planner discovery, 100k conversations',
      value: discovery.ms / 1000,
      unit: 's',
      baseline: `peak RSS +${(growth / MiB).toFixed(0)} MiB`,
    });

    const exported = await runDay(stack, {day, env: LOCAL_EXPORT_ENV});
    const bytes = Object.values(exported.totals).reduce((n, t) => n + t.bytes, 0);
    const recordings = Object.values(exported.totals).reduce((n, t) => n + t.exported, 0);
    // Baseline: the same bytes copied straight from the simulator into the GCS emulator.
    const truth = await fetchTruth(stack, day);
    const client = new platformClient.ApiClientClass();
    client.setGateway({
      host: '127.0.0.1',
      protocol: 'http',
      port: Number(new URL(stack.genesysUrl).port),
    });
    await client.loginClientCredentialsGrant('demo-client', 'demo-secret');
    const recording = new platformClient.RecordingApi(client);
    const items = truth.conversations.flatMap(c =>
      c.recordings
        .filter(r => r.exportable)
        .map(r => ({conversationId: c.conversationId, recordingId: r.recordingId})),
    );
    const urls: string[] = [];
    for (let i = 0; i < items.length; i += 100) {
      const {id} = await recording.postRecordingBatchrequests({
        batchDownloadRequestList: items.slice(i, i + 100),
      });
      for (;;) {
        const st = await recording.getRecordingBatchrequest(id!);
        if (st.status === 'Completed') {
          urls.push(...st.results!.flatMap(r => (r.resultUrl ? [r.resultUrl] : [])));
          break;
        }
        await new Promise(r => setTimeout(r, 100));
      }
    }
    const bucket = storageFor(stack).bucket(stack.bucket);
    const copy = await time(async () => {
      let next = 0;
      await Promise.all(
        Array.from({length: 8}, async () => {
          while (next < urls.length) {
            const i = next++;
            const res = await fetch(urls[i]!);
            await pipeline(
              Readable.fromWeb(res.body as never),
              bucket.file(`baseline/${i}`).createWriteStream({resumable: true}),
            );
          }
        }),
      );
    });
    console.log(
      `5b. Export of ${recordings} recordings (${(bytes / MiB).toFixed(0)} MiB) through planner, Pub/Sub and worker vs a direct copy of the same media`,
    );
    record(
      'export path, 300 conversations',
      exported.seconds * 1000,
      copy.ms,
      ms => `${(ms / 1000).toFixed(1)} s`,
    );
  } finally {
    await stack.stop();
  }
}

const MiB = 1024 * 1024;
const results: BenchRow[] = [];

async function time<T>(fn: () => Promise<T>): Promise<{ms: number; value: T}> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return {ms: Number(process.hrtime.bigint() - start) / 1e6, value};
}

function drain(onBytes: (n: number) => void = () => {}): Writable {
  return new Writable({
    write(chunk: Buffer, _e, done) {
      onBytes(chunk.length);
      done();
    },
  });
}

function record(name: string, ms: number, baselineMs: number, unit: (ms: number) => string): void {
  results.push({
    section: 'stack parts',
    name,
    value: ms,
    unit: 'ms',
    display: unit(ms),
    baseline: unit(baselineMs),
    ratio: ms / baselineMs,
  });
  console.log(
    `  ${name}: ${unit(ms)} (baseline ${unit(baselineMs)}), ratio ${(ms / baselineMs).toFixed(2)}`,
  );
}

async function startProcess(name: string, file: string, args: string[], dir: string) {
  const {command, args: full} = tsNode(path.join(__dirname, '..', 'local', file), [
    '--port',
    '0',
    ...args,
  ]);
  const child = spawnChild({name, command, args: full, logDir: dir});
  const info = await waitForReadyLine(child);
  return {child, url: String(info.url), port: Number(info.port)};
}

/** The local stack's own parts (sections 1-6 above). */
async function stackParts(dir: string): Promise<void> {
  // 1. media generation
  const org = new Organisation({
    seed: 'bench',
    conversationsPerDay: 300,
    audioBytes: 256 * MiB,
    wavShare: 0,
  });
  const day = '2023-02-01';
  let target:
    | {
        conv: ReturnType<Organisation['conversation']>;
        rec: ReturnType<Organisation['conversation']>['recordings'][number];
      }
    | undefined;
  for (let i = 0; !target; i++) {
    const conv = org.conversation(day, i);
    const rec = conv.recordings.find(r => r.contentType === 'audio/ogg');
    if (rec) target = {conv, rec};
  }
  const media = mediaFor(target.conv, target.rec);
  const mbps = (bytes: number) => (ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
  const perMiB = (bytes: number) => (ms: number) => `${(ms / (bytes / MiB)).toFixed(2)} ms/MiB`;
  const keystream = await time(async () => {
    const cipher = createCipheriv('aes-128-ctr', randomBytes(16), Buffer.alloc(16));
    const zero = Buffer.alloc(MiB);
    for (let done = 0; done < media.size; done += MiB) cipher.update(zero);
  });
  const generated = await time(() => pipeline(media.stream(), drain()));
  console.log(
    `1. Ogg Opus generation, ${(media.size / MiB).toFixed(0)} MiB (${mbps(media.size)(generated.ms)})`,
  );
  record('ogg generation', generated.ms, keystream.ms, perMiB(media.size));

  // 2. media over HTTP
  const sim = await startProcess(
    'bench-genesys',
    'genesys/main.ts',
    [
      '--seed',
      'bench',
      '--conversations-per-day',
      '300',
      '--audio-bytes',
      String(256 * MiB),
      '--day',
      '2023-03-01=100000',
    ],
    dir,
  );
  try {
    const client = new platformClient.ApiClientClass();
    client.setGateway({host: '127.0.0.1', protocol: 'http', port: sim.port});
    await client.loginClientCredentialsGrant('demo-client', 'demo-secret');
    const recording = new platformClient.RecordingApi(client);
    const {id} = await recording.postRecordingBatchrequests({
      batchDownloadRequestList: [{conversationId: target.conv.id, recordingId: target.rec.id}],
    });
    await new Promise(r => setTimeout(r, 300));
    const status = await recording.getRecordingBatchrequest(id!);
    const url = status.results![0]!.resultUrl!;
    const http = await time(async () => {
      const res = await fetch(url);
      await pipeline(Readable.fromWeb(res.body as never), drain());
    });
    console.log('2. The same recording downloaded from the simulator over HTTP');
    record('media over HTTP', http.ms, generated.ms, perMiB(media.size));

    // 4. analytics jobs, 100k conversations
    const analytics = new platformClient.AnalyticsApi(client);
    const bigDay = '2023-03-01';
    const viaSdk = await time(async () => {
      const read = await readJobPages(analytics, bigDay);
      return {n: read.conversations, requests: read.requests};
    });
    const bigOrg = new Organisation({
      seed: 'bench',
      conversationsPerDay: 300,
      perDay: {[bigDay]: 100_000},
    });
    const inProcess = await time(async () => {
      const sk = bigOrg.skeleton(bigDay);
      let bytes = 0;
      for (const i of sk.order)
        bytes += JSON.stringify(
          detailRecord(bigOrg.conversation(bigDay, i), Date.now(), true),
        ).length;
      return bytes;
    });
    console.log(
      `4. Analytics job over a 100k-conversation day: ${viaSdk.value.n} conversations in ${viaSdk.value.requests} requests`,
    );
    record(
      'jobs API, 100k conversations',
      viaSdk.ms,
      inProcess.ms,
      ms => `${(ms / 1000).toFixed(1)} s`,
    );
  } finally {
    await sim.child.stop();
  }

  // 3. GCS emulator upload
  const gcs = await startProcess(
    'bench-gcs',
    'gcs/main.ts',
    ['--data', path.join(dir, 'data'), '--meta', path.join(dir, 'meta'), '--bucket', 'bench'],
    dir,
  );
  try {
    const size = 256 * MiB;
    const block = randomBytes(MiB);
    const source = () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < size / MiB; i++) yield block;
        })(),
      );
    const baseline = await time(() =>
      pipeline(source(), fs.createWriteStream(path.join(dir, 'baseline.bin'))),
    );
    const storage = new Storage({apiEndpoint: gcs.url, projectId: 'bench'});
    const upload = await time(() =>
      pipeline(
        source(),
        storage.bucket('bench').file('big.bin').createWriteStream({resumable: true}),
      ),
    );
    console.log('3. 256 MiB resumable upload to the GCS emulator');
    record('gcs upload', upload.ms, baseline.ms, perMiB(size));
    await checkerBench(gcs.url, 'bench', time, record);
  } finally {
    await gcs.child.stop();
  }
  await exportPath(dir);
}

async function main(): Promise<void> {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const quick = process.argv.includes('--quick');
  const out = argValue('--out') ?? path.join('.local', 'bench', `bench-${Date.now()}.json`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-bench-'));
  const started = Date.now();
  console.log(
    `Benchmarks${quick ? ' (--quick)' : ''} (node ${process.version}, ${os.cpus().length} cores, load ${os
      .loadavg()
      .map(l => l.toFixed(1))
      .join(' ')}).\n`,
  );
  try {
    results.push(...(await throughputBench(dir, quick)));
    // The fleet's figures need minutes of a binding limit: the full run only.
    if (!quick) results.push(...(await fleetBench(dir, false)));
    // A 40-day migration and a nightly day after its quiet window, at a binding limit: about 30
    // minutes.
    if (!quick) results.push(...(await migrationBench(dir)));
    for (const r of await coldStartBench({repetitions: quick ? 3 : 9}))
      results.push({
        section: 'cold start',
        name: r.name,
        value: r.value,
        unit: 'ms',
        ...(r.target !== null ? {target: `≤ ${r.target} ms`} : {}),
        baseline: `${r.baseline.toFixed(0)} ms with every SDK loaded at start (CPU ${r.cpu.toFixed(0)} vs ${r.baselineCpu.toFixed(0)} ms)`,
        ratio: r.ratio,
        ...(r.pass !== null ? {pass: r.pass} : {}),
        detail: {sdks: r.sdks},
      });
    results.push(
      ...(await copyBench({bytes: (quick ? 256 : 2048) * MiB, dir: path.join(dir, 'copy')})).map(
        r => fromTextRow('copies', r),
      ),
    );
    results.push(...(await scaleBench({quick})).map(r => fromTextRow('scale', r)));
    if (!quick) await stackParts(dir);
  } finally {
    fs.rmSync(dir, {recursive: true, force: true});
  }
  console.log('');
  printRows(results);
  const file = writeRows(out, results, {
    quick,
    ...(quick ? {skipped: ['fleet (binding limits, clients, processes)', 'stack parts']} : {}),
    seconds: (Date.now() - started) / 1000,
  });
  console.log(
    `\n${results.filter(r => r.pass === false).length} target(s) missed; figures in ${file}`,
  );
}

/** A row of a bench that reports its figures as text (copy, scale). */
function fromTextRow(section: string, r: TextRow): BenchRow {
  const ratio = Number.parseFloat(r.ratio);
  return {
    section,
    name: r.name,
    value: Number.parseFloat(r.value),
    unit: '',
    display: r.value,
    target: r.target,
    baseline: r.baseline,
    ...(Number.isFinite(ratio) ? {ratio} : {}),
    ...(r.target ? {pass: r.pass} : {}),
  };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

main().catch(err => {
  console.error(`bench: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
