/**
 * One measurement of bench/scale.ts, in a process of its own so its peak RSS
 * is the checker's: the checker deciding a day of N conversations.
 *
 *   node --import tsx bench/scale-checker.ts N [PARTICIPANTS]
 *
 * PARTICIPANTS (default 0): conversation attributes in every report, as the
 * worker copies them from analytics for the recordings index: a direction, a
 * division, a wrap-up code and that many participants (a customer, then
 * agents with a user and a queue).
 *
 * The bucket is synthetic: every object (the plan and its parts as the
 * planner writes them, N/100 complete batch reports with one exported
 * recording per conversation and its metadata document, each with the
 * generation and checksums the worker records, the listing of the recordings they claim) is
 * generated, as JSON text, when it is read, so the process holds only what the
 * checker itself holds. What the checker writes (ledger, marker) is kept.
 * Prints one JSON line: decideMs, baselineMs, peakBytes, idleBytes, status.
 */
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import {Readable} from 'node:stream';
import {PLAN_PART_CONVERSATIONS} from '../functions/core/day-plan';
import type {DayPlan, PlanIndex, PlanPart} from '../functions/core/day-plan';
import {recordingFolders} from '../functions/core/reports-vs-bucket';
import {
  batchReportsPrefix,
  planObjectName,
  planPartObjectName,
  recordingObjectName,
} from '../functions/core/object-names';
import {BatchReport, ReportConversation, totalsOf} from '../functions/core/report';
import {createLogger} from '../functions/logger';
import {ObjectExistsError, ObjectStore, StoredObject, WriteOptions} from '../functions/ports';
import {Checker} from '../functions/services/checker';
import {mapLimit} from '../functions/services/objects';

const ENV = 'bench';
const DAY = '2023-04-01';
const RUN = 'r20230404t000000-scale0';
const PER_BATCH = 100;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const conversationId = (i: number) => `${hex(i, 8)}-0000-4000-8000-${hex(i * 7919, 12)}`;
const recordingId = (i: number) => `${hex(i, 8)}-1111-4000-8000-${hex(i * 104729, 12)}`;
const batchId = (b: number) => `b${String(b).padStart(4, '0')}-${hex(b * 2654435761, 12)}`;
const objectOf = (i: number) =>
  recordingObjectName(ENV, DAY, 'call', conversationId(i), recordingId(i), 'ogg');
const sizeOf = (i: number) => 150_000 + (i % 100_000);
/** An MD5 (16 bytes) and a CRC32C (4 bytes) in base64, as GCS gives them. */
const hex32 = (n: number) => hex(n >>> 0, 8);
const md5Of = (i: number) =>
  Buffer.from(`${hex32(i)}${hex32(i * 40503)}${hex32(~i)}${hex32(i * 7)}`, 'hex').toString(
    'base64',
  );
const crcOf = (i: number) => Buffer.from(hex32(i * 2654435761), 'hex').toString('base64');

/** A day of `n` conversations as the planner and the workers leave it in the bucket. */
/** A conversation's attributes with `participants` participants (none when 0). */
function attributesOf(i: number, participants: number): ReportConversation['attributes'] {
  if (participants === 0) return undefined;
  const id = (kind: number, k: number) => `${hex(kind, 8)}-2222-4000-8000-${hex(i * 31 + k, 12)}`;
  return {
    direction: i % 3 === 0 ? 'outbound' : 'inbound',
    divisionIds: [id(1, 0)],
    wrapUpCodes: [id(2, i % 50)],
    participants: Array.from({length: participants}, (_, k) =>
      k === 0
        ? {purpose: 'customer'}
        : {purpose: 'agent', userId: id(3, k), queueIds: [id(4, k % 20)]},
    ),
  };
}

class SyntheticDay implements ObjectStore {
  private readonly written = new Map<string, {body: Buffer; object: StoredObject}>();
  /** Bytes of each streamed write (the recordings index). */
  readonly streamed = new Map<string, number>();
  private generation = 1;
  readonly batches: number;
  readonly reportsPrefix = batchReportsPrefix(ENV, DAY, RUN);

  constructor(
    readonly n: number,
    readonly participants = 0,
  ) {
    this.batches = Math.ceil(n / PER_BATCH);
  }

  private idsOf(b: number): number[] {
    const out: number[] = [];
    for (let i = b * PER_BATCH; i < Math.min(this.n, (b + 1) * PER_BATCH); i++) out.push(i);
    return out;
  }

  private header() {
    return {
      kind: 'plan' as const,
      day: DAY,
      runId: RUN,
      window: {start: `${DAY}T00:00:00.000Z`, end: '2023-04-02T00:00:00.000Z', timeZone: 'UTC'},
      createdAt: '2023-04-04T00:00:00.000Z',
      trigger: 'schedule' as const,
      discovery: 'jobs' as const,
      conversations: this.n,
      clients: 4,
    };
  }

  private batch(b: number) {
    return {batchId: batchId(b), client: b % 4, conversationIds: this.idsOf(b).map(conversationId)};
  }

  /** Batches per plan part, as the planner cuts them. */
  private readonly perPart = Math.floor(PLAN_PART_CONVERSATIONS / PER_BATCH);

  private plan(): DayPlan | PlanIndex {
    if (this.n <= PLAN_PART_CONVERSATIONS) {
      return {
        ...this.header(),
        version: 1,
        batches: Array.from({length: this.batches}, (_, b) => this.batch(b)),
      };
    }
    const parts = Math.ceil(this.batches / this.perPart);
    return {
      ...this.header(),
      version: 2,
      batches: Array.from({length: this.batches}, (_, b) => ({
        batchId: batchId(b),
        conversations: this.idsOf(b).length,
        client: b % 4,
      })),
      parts: Array.from({length: parts}, (_, k) => {
        const first = k * this.perPart;
        const last = Math.min(this.batches, first + this.perPart);
        return {
          object: planPartObjectName(ENV, DAY, RUN, k),
          batches: last - first,
          conversations: Math.min(this.n, last * PER_BATCH) - first * PER_BATCH,
        };
      }),
    };
  }

  private part(k: number): PlanPart {
    const first = k * this.perPart;
    const last = Math.min(this.batches, first + this.perPart);
    return {
      kind: 'plan-part',
      version: 2,
      day: DAY,
      runId: RUN,
      part: k,
      batches: Array.from({length: last - first}, (_, j) => this.batch(first + j)),
    };
  }

  private report(b: number): BatchReport {
    const conversations: ReportConversation[] = this.idsOf(b).map(i => ({
      conversationId: conversationId(i),
      conversationStart: `${DAY}T${hex(i % 24, 2).replace(/[a-f]/g, '1')}:00:00.000Z`,
      metadataObject: `${ENV}/${DAY}/metadata/${conversationId(i)}.json`,
      metadataStored: {
        generation: String(2_000_000 + i),
        size: 2_000 + (i % 1_000),
        md5Hash: md5Of(i + 1),
        crc32c: crcOf(i + 1),
      },
      ...(this.participants > 0 ? {attributes: attributesOf(i, this.participants)} : {}),
      recordings: [
        {
          recordingId: recordingId(i),
          type: 'call',
          media: 'audio',
          fileState: 'AVAILABLE',
          outcome: 'exported',
          object: objectOf(i),
          contentType: 'audio/ogg',
          size: sizeOf(i),
          md5Hash: md5Of(i),
          crc32c: crcOf(i),
          generation: String(1_000_000 + i),
        },
      ],
    }));
    return {
      kind: 'batch-report',
      version: 1,
      day: DAY,
      runId: RUN,
      batchId: batchId(b),
      messageId: String(1000 + b),
      attempt: 1,
      status: 'complete',
      oauthClient: b % 4,
      startedAt: '2023-04-04T00:00:01.000Z',
      finishedAt: '2023-04-04T00:10:00.000Z',
      conversations,
      totals: totalsOf(conversations),
    };
  }

  /** The generated object's JSON text, if `name` is one. */
  private generated(name: string): string | undefined {
    if (name === planObjectName(ENV, DAY)) return JSON.stringify(this.plan(), null, 2);
    const part = /\/plan-parts\/(\d+)\.json$/.exec(name);
    if (part && name === planPartObjectName(ENV, DAY, RUN, Number(part[1])))
      return JSON.stringify(this.part(Number(part[1])), null, 2);
    if (name.startsWith(this.reportsPrefix)) {
      const b = Number(/^b(\d{4})-/.exec(name.slice(this.reportsPrefix.length))?.[1]);
      if (Number.isInteger(b) && b < this.batches && name === this.reportName(b))
        return JSON.stringify(this.report(b));
    }
    return undefined;
  }

  reportName(b: number): string {
    return `${this.reportsPrefix}${batchId(b)}.json`;
  }

  private meta(name: string, size: number, generation = '1'): StoredObject {
    return {name, size, md5Hash: 'x', crc32c: 'x', generation, contentType: 'application/json'};
  }

  stat(name: string): Promise<StoredObject | undefined> {
    const w = this.written.get(name);
    if (w) return Promise.resolve(w.object);
    const text = this.generated(name);
    return Promise.resolve(text === undefined ? undefined : this.meta(name, text.length));
  }

  async write(name: string, body: Readable | Buffer, opts: WriteOptions): Promise<StoredObject> {
    if (!Buffer.isBuffer(body)) {
      // A streamed write (the recordings index): counted and hashed, not kept, so the peak is the
      // checker's own, not this bucket's.
      const md5 = createHash('md5');
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        md5.update(chunk as Buffer);
      }
      this.streamed.set(name, size);
      const object = {
        ...this.meta(name, size, String(++this.generation)),
        md5Hash: md5.digest('base64'),
        contentType: opts.contentType,
        ...(opts.metadata ? {metadata: opts.metadata} : {}),
      };
      this.written.set(name, {body: Buffer.alloc(0), object});
      return object;
    }
    const current = this.written.get(name)?.object;
    const want = String(opts.ifGenerationMatch);
    if (want === '0' ? current !== undefined : current?.generation !== want)
      throw new ObjectExistsError(`${name}: precondition failed`);
    const object = {
      ...this.meta(name, body.length, String(++this.generation)),
      contentType: opts.contentType,
      ...(opts.metadata ? {metadata: opts.metadata} : {}),
    };
    this.written.set(name, {body, object});
    return object;
  }

  readJson<T>(name: string, maxBytes = 32 * 1024 * 1024) {
    const w = this.written.get(name);
    const text = w ? w.body.toString('utf8') : this.generated(name);
    if (text === undefined) return Promise.resolve(undefined);
    if (Buffer.byteLength(text) > maxBytes) throw new Error(`${name} is over ${maxBytes} bytes`);
    return Promise.resolve({value: JSON.parse(text) as T, generation: w?.object.generation ?? '1'});
  }

  readBytes(name: string, maxBytes: number) {
    const w = this.written.get(name);
    if (!w) return Promise.resolve(undefined);
    if (w.body.length > maxBytes) throw new Error(`${name} is over ${maxBytes} bytes`);
    return Promise.resolve({bytes: w.body, generation: w.object.generation});
  }

  read(): Readable {
    throw new Error('not used by the checker');
  }

  list(prefix: string): Promise<StoredObject[]> {
    let out: StoredObject[] = [];
    if (prefix === this.reportsPrefix) {
      out = Array.from({length: this.batches}, (_, b) => this.meta(this.reportName(b), 20_000 + b));
    } else if (prefix === `${ENV}/${DAY}/call/`) {
      out = Array.from({length: this.n}, (_, i) => this.recordingObject(i));
    }
    for (const w of this.written.values()) if (w.object.name.startsWith(prefix)) out.push(w.object);
    return Promise.resolve(out);
  }

  /** The listing a page of 1,000 at a time, generated as it is taken (as GCS pages it). */
  async *listPages(prefix: string): AsyncGenerator<StoredObject[]> {
    if (prefix !== `${ENV}/${DAY}/call/`) {
      yield await this.list(prefix);
      return;
    }
    for (let first = 0; first < this.n; first += 1000)
      yield Array.from({length: Math.min(1000, this.n - first)}, (_, k) =>
        this.recordingObject(first + k),
      );
    yield [...this.written.values()]
      .filter(w => w.object.name.startsWith(prefix))
      .map(w => w.object);
  }

  private recordingObject(i: number): StoredObject {
    return {
      name: objectOf(i),
      size: sizeOf(i),
      md5Hash: md5Of(i),
      crc32c: crcOf(i),
      generation: String(1_000_000 + i),
      contentType: 'audio/ogg',
    };
  }

  delete(name: string, generation: string): Promise<boolean> {
    const w = this.written.get(name);
    if (!w) return Promise.resolve(false);
    if (w.object.generation !== generation)
      return Promise.reject(new ObjectExistsError(`${name} changed`));
    this.written.delete(name);
    return Promise.resolve(true);
  }
}

function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function time<T>(fn: () => Promise<T>): Promise<{ms: number; value: T}> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return {ms: Number(process.hrtime.bigint() - start) / 1e6, value};
}

async function main(n: number, participants: number): Promise<void> {
  const store = new SyntheticDay(n, participants);
  const checker = new Checker({
    settings: {
      env: ENV,
      bucket: 'bench',
      developers: ['d@example.com'],
      emailMaxGaps: 25,
      replay: {project: 'p', topic: 't'},
    },
    store,
    mailer: () => Promise.reject(new Error('a clean day sends no email')),
    clock: {now: () => Date.now(), sleep: ms => new Promise(r => setTimeout(r, ms))},
    logger: createLogger({}, () => {}),
  });
  // The first event, on a day not decided yet, loads whatever the checker loads.
  await checker.handle(`${ENV}/2023-03-01/_manifest/plan.json`);
  const idleBytes = peakRss();
  const decide = await time(() => checker.handle(store.reportName(store.batches - 1)));
  const peakBytes = peakRss();
  if (decide.value.action !== 'decided')
    throw new Error(`unexpected: ${JSON.stringify(decide.value).slice(0, 500)}`);
  // Baseline: what deciding cannot do without, through the same store.
  const baseline = await time(async () => {
    const listed = await store.list(store.reportsPrefix);
    // Each report parsed and let go, as deciding needs no more (holding them all is not reading).
    await mapLimit(listed, 16, async o => void (await store.readJson(o.name)));
    // The listing a page at a time and let go, as the checker takes it.
    for (const folder of recordingFolders(ENV, DAY))
      for await (const _page of store.listPages(folder));
  });
  console.log(
    JSON.stringify({
      decideMs: decide.ms,
      baselineMs: baseline.ms,
      peakBytes,
      idleBytes,
      status: decide.value.status,
      indexBytes: [...store.streamed].reduce(
        (a, [n, b]) => a + (n.includes('/_index/') ? b : 0),
        0,
      ),
      recordsBytes: [...store.streamed].reduce(
        (a, [n, b]) => a + (n.endsWith('/decision-records.ndjson') ? b : 0),
        0,
      ),
    }),
  );
}

main(Number(process.argv[2]), Number(process.argv[3] ?? 0)).catch(err => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
