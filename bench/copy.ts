/**
 * Bench: full-speed copies. One large recording (2 GiB;
 * 256 MiB with --quick) streamed from an HTTP source into the GCS emulator
 * two ways, in the same run:
 *
 *   - the product's write path: HttpMediaFetcher → the exporter's bodyGuard →
 *     GcsStore.write (integrity check included);
 *   - the raw pipe (baseline): fetch of the same URL → @google-cloud/storage
 *     createWriteStream into the same emulator, `validation: false`, no hashing.
 *
 * Each copy runs in a child process of its own, which times the copy and
 * reports its CPU time (printed per GiB: less sensitive than wall time to a
 * busy machine) and its peak resident memory (VmHWM of /proc/<pid>/status). The two ways
 * alternate over `rounds` rounds; the best throughput of each is compared
 * (the machine is shared and noisy), and the product path's worst peak memory
 * is held against its target.
 *
 * The source is a plain HTTP server in this process serving incompressible
 * bytes with a Content-Length, as a Genesys media URL does, so that neither
 * way pays for generating media.
 *
 * Standalone: `node --import tsx bench/copy.ts [--quick] [--bytes N] [--rounds N] [--check md5]`
 * (`--check md5`: the product path with the fallback check).
 */
import {spawn} from 'node:child_process';
import {createHash, randomBytes} from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type {AddressInfo} from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {Storage} from '@google-cloud/storage';
import {GcsStore, WriteCheck} from '../functions/adapters/gcs';
import {HttpMediaFetcher} from '../functions/adapters/media';
import {EXPECTED_SIZE_KEY} from '../functions/core/stored-proof';
import {bodyGuard} from '../functions/services/recording-copy';
import {spawnChild, tsNode, waitForReadyLine} from '../local/common/processes';

import type {TextRow as BenchRow} from './rows';
export type {BenchRow};

export interface CopyBenchOptions {
  /** Size of the recording (default 2 GiB). */
  bytes?: number;
  /** Rounds of (raw pipe, product path), alternating which goes first (default 2). */
  rounds?: number;
  /** Working directory for the emulator's files and logs (a temporary one by default). */
  dir?: string;
  /** The product path's write check (default: GcsStore's own choice, native CRC32C here). */
  check?: WriteCheck;
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
}

type Mode = 'raw' | 'product';

interface CopyResult {
  ms: number;
  /** CPU time of the copying process (user + system) during the copy. */
  cpuMs: number;
  size: number;
  md5Hash: string;
  peakRssBytes: number;
}

const MiB = 1024 * 1024;
const BUCKET = 'copy-bench';
const THROUGHPUT_TARGET = 0.9;
const PEAK_RSS_TARGET_BYTES = 256 * MiB;
const MEDIA_IDLE_TIMEOUT_MS = 60_000;

const sizeLabel = (bytes: number) =>
  bytes >= 1024 * MiB ? `${bytes / (1024 * MiB)} GiB` : `${Math.round(bytes / MiB)} MiB`;

/** Rows of the copy bench: throughput vs the raw pipe, and peak memory. */
export async function copyBench(opts: CopyBenchOptions = {}): Promise<BenchRow[]> {
  const size = opts.bytes ?? 2048 * MiB;
  const rounds = Math.max(1, opts.rounds ?? 2);
  const log = opts.log ?? ((line: string) => console.log(line));
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'grm-copy-bench-'));
  const block = randomBytes(MiB);
  const expectedMd5 = md5OfRepeated(block, size);
  const source = await serveMedia(block, size);
  const {command, args} = tsNode(path.join(__dirname, '..', 'local', 'gcs', 'main.ts'), [
    '--port',
    '0',
    '--data',
    path.join(dir, 'gcs-data'),
    '--meta',
    path.join(dir, 'gcs-meta'),
    '--bucket',
    BUCKET,
  ]);
  const gcs = spawnChild({name: 'copy-bench-gcs', command, args, logDir: dir});
  try {
    const gcsUrl = String((await waitForReadyLine(gcs)).url);
    const bucket = new Storage({apiEndpoint: gcsUrl, projectId: 'bench'}).bucket(BUCKET);
    const results: Record<Mode, CopyResult[]> = {raw: [], product: []};
    for (let round = 0; round < rounds; round++) {
      const order: Mode[] = round % 2 === 0 ? ['raw', 'product'] : ['product', 'raw'];
      for (const mode of order) {
        const object = `bench/${mode}-${round}.ogg`;
        const r = await copyInChild(mode, source.url, gcsUrl, object, opts.check);
        if (r.size !== size || r.md5Hash !== expectedMd5)
          throw new Error(`${mode} copy stored ${r.size} bytes, md5 ${r.md5Hash}: not the source`);
        results[mode].push(r);
        log(
          `   ${mode === 'raw' ? 'raw pipe    ' : 'product path'} round ${round + 1}: ` +
            `${mibps(size, r.ms).toFixed(0)} MiB/s, ` +
            `CPU ${(((r.cpuMs / size) * 1024 * MiB) / 1000).toFixed(1)} s/GiB, ` +
            `peak RSS ${(r.peakRssBytes / MiB).toFixed(0)} MiB`,
        );
        await bucket.file(object).delete(); // keeps the disk from holding every copy
      }
    }
    const best = (m: Mode) => Math.max(...results[m].map(r => mibps(size, r.ms)));
    const peak = (m: Mode) => Math.max(...results[m].map(r => r.peakRssBytes));
    const ratio = best('product') / best('raw');
    const label = sizeLabel(size);
    return [
      {
        name: `${label} copy throughput ÷ raw pipe`,
        value: `${best('product').toFixed(0)} MiB/s`,
        target: `≥ ${THROUGHPUT_TARGET} × raw pipe`,
        baseline: `${best('raw').toFixed(0)} MiB/s`,
        ratio: ratio.toFixed(2),
        pass: ratio >= THROUGHPUT_TARGET,
      },
      {
        name: `${label} copy peak RSS (product path process)`,
        value: `${(peak('product') / MiB).toFixed(0)} MiB`,
        target: `≤ ${PEAK_RSS_TARGET_BYTES / MiB} MiB`,
        baseline: `${(peak('raw') / MiB).toFixed(0)} MiB (raw pipe process)`,
        ratio: (peak('product') / peak('raw')).toFixed(2),
        pass: peak('product') <= PEAK_RSS_TARGET_BYTES,
      },
    ];
  } finally {
    await gcs.stop();
    await new Promise(resolve => source.server.close(resolve));
    if (!opts.dir) fs.rmSync(dir, {recursive: true, force: true});
  }
}

function mibps(bytes: number, ms: number): number {
  return bytes / MiB / (ms / 1000);
}

function md5OfRepeated(block: Buffer, size: number): string {
  const hash = createHash('md5');
  for (let done = 0; done < size; done += block.length)
    hash.update(block.subarray(0, Math.min(block.length, size - done)));
  return hash.digest('base64');
}

/** An HTTP source of `size` bytes (the block repeated), with a Content-Length. */
async function serveMedia(
  block: Buffer,
  size: number,
): Promise<{server: http.Server; url: string}> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, {'content-type': 'audio/ogg', 'content-length': size});
    const body = Readable.from(
      (function* () {
        for (let done = 0; done < size; done += block.length)
          yield block.subarray(0, Math.min(block.length, size - done));
      })(),
    );
    pipeline(body, res).catch(() => undefined); // a client that goes away ends its response
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as AddressInfo;
  return {server, url: `http://127.0.0.1:${port}/media/recording.ogg`};
}

/** Runs one copy in a child process of its own and returns what it reports. */
function copyInChild(
  mode: Mode,
  url: string,
  gcsUrl: string,
  object: string,
  check: WriteCheck | undefined,
): Promise<CopyResult> {
  const {command, args} = tsNode(__filename, [
    '--child',
    mode,
    url,
    gcsUrl,
    object,
    ...(check ? [check] : []),
  ]);
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {...process.env, METADATA_SERVER_DETECTION: 'none'},
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', code => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${mode} copy exited with code ${code}: ${line}`));
      try {
        resolve(JSON.parse(line) as CopyResult);
      } catch {
        reject(new Error(`${mode} copy reported no result: ${out}`));
      }
    });
  });
}

/** The child: one copy, timed, then its own peak resident memory. */
async function child(
  mode: Mode,
  url: string,
  gcsUrl: string,
  object: string,
  check: WriteCheck | undefined,
): Promise<void> {
  const storage = new Storage({apiEndpoint: gcsUrl, projectId: 'bench'});
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let stored: {size: number; md5Hash: string};
  if (mode === 'raw') {
    const res = await fetch(url);
    const file = storage.bucket(BUCKET).file(object);
    await pipeline(
      Readable.fromWeb(res.body as never),
      file.createWriteStream({resumable: true, validation: false, contentType: 'audio/ogg'}),
    );
    const md = file.metadata;
    stored = {size: Number(md.size), md5Hash: String(md.md5Hash)};
  } else {
    // The exporter's own sequence (functions/services/recording-copy.ts, the copy of a recording).
    const res = await new HttpMediaFetcher().get(url);
    if (res.status !== 200) throw new Error(`source answered HTTP ${res.status}`);
    const guarded = bodyGuard(res.contentLength, MEDIA_IDLE_TIMEOUT_MS);
    res.body.on('error', err => guarded.destroy(err));
    res.body.pipe(guarded);
    stored = await new GcsStore(BUCKET, storage, {check}).write(object, guarded, {
      contentType: 'audio/ogg',
      metadata: {[EXPECTED_SIZE_KEY]: String(res.contentLength)},
      ifGenerationMatch: 0,
    });
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const status = fs.readFileSync(`/proc/${process.pid}/status`, 'utf8');
  const peakRssBytes = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
  const result: CopyResult = {ms, cpuMs, size: stored.size, md5Hash: stored.md5Hash, peakRssBytes};
  console.log(JSON.stringify(result));
}

function printRows(rows: BenchRow[]): void {
  for (const r of rows) {
    console.log(
      `  ${r.name}: ${r.value} (target ${r.target}; baseline ${r.baseline}), ratio ${r.ratio} — ${r.pass ? 'pass' : 'MISS'}`,
    );
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const valueOf = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const run =
    argv[0] === '--child'
      ? child(argv[1] as Mode, argv[2]!, argv[3]!, argv[4]!, argv[5] as WriteCheck | undefined)
      : (async () => {
          process.env.METADATA_SERVER_DETECTION ??= 'none';
          const bytes = Number(
            valueOf('--bytes') ?? (argv.includes('--quick') ? 256 * MiB : 2048 * MiB),
          );
          const rounds = Number(valueOf('--rounds') ?? 2);
          const check = valueOf('--check') as WriteCheck | undefined;
          console.log(
            `Copy of a ${sizeLabel(bytes)} recording into the GCS emulator: product path vs raw pipe ` +
              `(node ${process.version}, ${os.cpus().length} cores, ${rounds} rounds)`,
          );
          const rows = await copyBench({bytes, rounds, check});
          printRows(rows);
          console.log(JSON.stringify({benchmarks: rows}));
        })();
  run.catch(err => {
    console.error(`bench/copy: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  });
}
