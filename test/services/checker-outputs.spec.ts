/**
 * The checker's outputs, byte for byte, on a generated day of 3,000
 * conversations: every object it writes (ledger, marker, decided records,
 * recordings index), every email and every result, through three decisions
 * (a first failure, a replay that fixes some gaps and moves metadata
 * documents, a waiver; then a repaired day). The day holds what confirmation
 * and decision must get right: exported, skipped and failed recordings of
 * every type, conversations that could not be read or that a report lacks, an
 * unreadable report, a failed batch, a report with a conversation the plan
 * lacks and one twice, claims the bucket contradicts (missing object, other
 * checksums, another name), recordings the reports leave out, a second object
 * of an exported recording, recordings of conversations outside the plan,
 * stray objects in the recording folders, waivers, lean mode refused.
 *
 * The expected digests are those the checker produced before it decided in
 * bounded memory (reports read and folded one at a time, the listing and the
 * records held compactly): a change to any output is a change of behaviour.
 * `RECORD_CHECKER_OUTPUTS=1` prints the digests instead of comparing them.
 *
 * The store is in memory with deterministic generations (test/services/memory-store.ts):
 * the emulator's generations are times, which two runs never share.
 */
import * as assert from 'node:assert';
import {createHash} from 'node:crypto';
import type {Mail, StoredObject} from '../../functions/ports';
import type {ReportConversation, ReportRecording, StoredCopy} from '../../functions/core/report';
import type {RecordingType} from '../../functions/core/content-types';
import {batchReportOf, dayPlanOf} from '../helpers';
import {MemoryStore, memoryChecker} from './memory-store';

const ENV = 'golden';
const DAY = '2026-03-04';
const RUN = 'r20260307t000000-golden';
const N = 3000;
const PER_BATCH = 100;
const TYPES: RecordingType[] = ['call', 'chat', 'email', 'message', 'screen'];
const EXT: Record<RecordingType, string> = {
  call: 'ogg',
  chat: 'json',
  email: 'json',
  message: 'json',
  screen: 'webm',
};

/** A deterministic pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n: number, w: number) => (n >>> 0).toString(16).padStart(w, '0').slice(-w);
const uuid = (kind: number, i: number) =>
  `${hex(i * 2654435761, 8)}-${hex(kind, 4)}-4${hex(i, 3)}-8${hex(i >> 12, 3)}-${hex(i * 40503, 12)}`;
const conv = (i: number) => uuid(1, i);
const rec = (i: number, k: number) => uuid(2 + k, i);
const batchId = (b: number) => `b${String(b).padStart(4, '0')}-${hex(b * 7919, 6)}`;
const reportName = (b: number) => `${ENV}/${DAY}/_manifest/runs/${RUN}/batches/${batchId(b)}.json`;
const body = (i: number, k: number) => Buffer.from(`media ${i}/${k} `.repeat(3 + (i % 7)));

interface Day {
  store: MemoryStore;
  reports: Map<number, {conversations: ReportConversation[]; extra: Record<string, unknown>}>;
  failedIds: string[];
}

/** The recordings of conversation `i`, stored as the worker stores the exported ones. */
function recordingsOf(store: MemoryStore, i: number, rnd: () => number): ReportRecording[] {
  const n = 1 + Math.floor(rnd() * 3);
  return Array.from({length: n}, (_, k) => {
    const type = TYPES[Math.floor(rnd() * (rnd() < 0.7 ? 1 : TYPES.length))]!;
    const recordingId = rec(i, k);
    const roll = rnd();
    if (roll < 0.04) return {recordingId, type, outcome: 'skipped', reason: 'DELETED'};
    if (roll < 0.07)
      return {
        recordingId,
        type,
        media: 'audio',
        fileState: 'ERROR',
        outcome: 'failed',
        reason: 'fileState ERROR at the source',
      };
    const object = `${ENV}/${DAY}/${type}/${conv(i)}_${recordingId}.${EXT[type]}`;
    const stored = store.put(object, body(i, k));
    const r: ReportRecording = {
      recordingId,
      type,
      media: type === 'call' ? 'audio' : type,
      fileState: 'AVAILABLE',
      outcome: 'exported',
      object,
      contentType: 'application/octet-stream',
      size: stored.size,
      md5Hash: stored.md5Hash,
      crc32c: stored.crc32c,
      generation: stored.generation,
    };
    if (roll < 0.075)
      store.put(object, Buffer.from('tampered')); // other checksums
    else if (roll < 0.08)
      void store.delete(object, stored.generation); // missing
    else if (roll < 0.085) r.object = `${ENV}/${DAY}/${type}/elsewhere.${EXT[type]}`;
    return r;
  });
}

function generate(): Day {
  const rnd = random(42);
  const store = new MemoryStore();
  const batches: Record<string, string[]> = {};
  const reports: Day['reports'] = new Map();
  const failedIds: string[] = [];
  for (let b = 0; b < N / PER_BATCH; b++) {
    const ids = Array.from({length: PER_BATCH}, (_, j) => b * PER_BATCH + j);
    batches[batchId(b)] = ids.map(conv);
    const conversations: ReportConversation[] = [];
    for (const i of ids) {
      if (rnd() < 0.01) continue; // planned but missing from the report
      if (rnd() < 0.01) {
        conversations.push({conversationId: conv(i), error: 'analytics 500', recordings: []});
        continue;
      }
      const metadataObject = `${ENV}/${DAY}/metadata/${conv(i)}.json`;
      const meta = store.put(metadataObject, Buffer.from(`{"conversation":${i}}`));
      const recordings = recordingsOf(store, i, rnd);
      for (const r of recordings) if (r.outcome === 'failed') failedIds.push(r.recordingId);
      if (rnd() < 0.01) {
        // a recording the report leaves out, and a second object of an exported one
        store.put(`${ENV}/${DAY}/call/${conv(i)}_${rec(i, 7)}.ogg`, body(i, 7));
        const exported = recordings.find(r => r.outcome === 'exported' && r.object);
        if (exported)
          store.put(
            `${ENV}/${DAY}/${exported.type}/${conv(i)}_${exported.recordingId}.bin`,
            body(i, 9),
          );
      }
      const attributes =
        rnd() < 0.5
          ? {
              direction: i % 3 === 0 ? 'outbound' : 'inbound',
              divisionIds: [uuid(20, i % 5)],
              wrapUpCodes: [uuid(21, i % 11)],
              participants: [
                {purpose: 'customer'},
                ...Array.from({length: 1 + (i % 5)}, (_, k) => ({
                  purpose: 'agent',
                  userId: uuid(22, (i + k) % 40),
                  queueIds: [uuid(23, k % 4)],
                })),
              ],
            }
          : undefined;
      conversations.push({
        conversationId: conv(i),
        conversationStart: `${DAY}T${String(i % 24).padStart(2, '0')}:00:00.000Z`,
        metadataObject,
        ...(rnd() < 0.95
          ? {
              metadataStored: {
                generation: meta.generation,
                size: meta.size,
                md5Hash: meta.md5Hash,
                crc32c: meta.crc32c,
              },
            }
          : {}),
        ...(attributes ? {attributes} : {}),
        recordings,
      });
    }
    if (b === 3) conversations.push({...conversations[0]!}); // a conversation twice
    if (b === 4) conversations.push({conversationId: conv(N + 5), recordings: []}); // not this batch's
    reports.set(b, {
      conversations,
      extra: {
        oauthClient: b % 3,
        ...(b % 7 === 0 ? {metadataMode: 'full', leanRefused: 'no viewSensitiveData'} : {}),
        ...(b === 9 ? {status: 'failed', error: 'genesys 503'} : {}),
      },
    });
  }
  // Recordings of conversations the plan does not hold, and strays.
  for (let i = N; i < N + 4; i++)
    store.put(`${ENV}/${DAY}/call/${conv(i)}_${rec(i, 0)}.ogg`, body(i, 0));
  store.put(`${ENV}/${DAY}/chat/readme.txt`, Buffer.from('not a recording'));
  store.put(`${ENV}/${DAY}/screen/nested/${conv(1)}_${rec(1, 0)}.webm`, Buffer.from('x'));
  store.put(
    `${ENV}/${DAY}/_manifest/plan.json`,
    Buffer.from(JSON.stringify(dayPlanOf({day: DAY, runId: RUN}, batches), null, 2)),
  );
  for (const b of reports.keys()) writeReport({store, reports, failedIds}, b);
  store.put(reportName(12), Buffer.from('{"kind":"batch-report"')); // unreadable
  return {store, reports, failedIds};
}

function writeReport(day: Day, b: number): void {
  const r = day.reports.get(b)!;
  const report = batchReportOf(
    {day: DAY, runId: RUN, batchId: batchId(b)},
    r.conversations,
    {startedAt: '2026-03-07T00:00:01.000Z', finishedAt: `2026-03-07T00:${hex(10 + b, 2)}:00.000Z`},
    r.extra,
  );
  day.store.put(reportName(b), Buffer.from(JSON.stringify(report)));
}

/** A metadata copy as older workers recorded it: without its CRC32C. */
const withoutCrc = (o: StoredObject) =>
  ({generation: o.generation, size: o.size, md5Hash: o.md5Hash}) as StoredCopy;

const digest = (b: Buffer | string) => createHash('sha256').update(b).digest('hex').slice(0, 24);

/** Every output object and mail, digested. */
function outputs(store: MemoryStore, mails: Mail[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of store.objects()) {
    if (!/\/(_SUCCESS|_FAILURE|_manifest\/decision|_index\/)/.test(name)) continue;
    out[name.slice(ENV.length + 1)] = digest(
      `${JSON.stringify(v.object.metadata ?? {})}\n${v.bytes.toString('utf8')}`,
    );
  }
  mails.forEach((m, i) => (out[`mail ${i}`] = digest(JSON.stringify(m))));
  return out;
}

const EXPECTED: Array<Record<string, string>> = [
  {
    result:
      '{"action":"decided","day":"2026-03-04","runId":"r20260307t000000-golden","status":"failure","email":"sent"}',
    '2026-03-04/_FAILURE': '6f7555a7072abbd074219d90',
    '2026-03-04/_manifest/decision-records.ndjson': '3ac439e471e1dc4cb1877940',
    '2026-03-04/_manifest/decision.json': '7c98eec5609e0f6f244cdc02',
    '_index/day=2026-03-04/recordings.ndjson': '3581f42ada6373a2e724893d',
    'mail 0': '72219388245e577345f0857c',
  },
  {
    result:
      '{"action":"decided","day":"2026-03-04","runId":"r20260307t000000-golden","status":"failure","email":"not-needed"}',
    '2026-03-04/_FAILURE': '37f9a9d9cee06e7976dbc479',
    '2026-03-04/_manifest/decision-records.ndjson': '287380a4456ded0175296d59',
    '2026-03-04/_manifest/decision.json': '6450a9431d90db6226eb37e2',
    '_index/day=2026-03-04/recordings.ndjson': '2301a583d0f8f8b76a65b26b',
    'mail 0': '72219388245e577345f0857c',
  },
  {
    result:
      '{"action":"unchanged","day":"2026-03-04","runId":"r20260307t000000-golden","status":"failure","email":"not-needed"}',
    '2026-03-04/_FAILURE': '37f9a9d9cee06e7976dbc479',
    '2026-03-04/_manifest/decision-records.ndjson': '287380a4456ded0175296d59',
    '2026-03-04/_manifest/decision.json': '6450a9431d90db6226eb37e2',
    '_index/day=2026-03-04/recordings.ndjson': '2301a583d0f8f8b76a65b26b',
    'mail 0': '72219388245e577345f0857c',
  },
  {
    result:
      '{"action":"decided","day":"2026-03-04","runId":"r20260307t000000-golden","status":"success","email":"sent"}',
    '2026-03-04/_SUCCESS': 'e55929657dc65c0d21b44fe1',
    '2026-03-04/_manifest/decision-records.ndjson': '0fb22dbc62fca36eadd7470c',
    '2026-03-04/_manifest/decision.json': '8d3306a88591f8c1ae8db910',
    '_index/day=2026-03-04/recordings.ndjson': 'ba52bf6cf023b52e97251cb0',
    'mail 0': '72219388245e577345f0857c',
    'mail 1': '1ddb765256d9d3c99cb1a0b7',
  },
];

describe('checker outputs (byte for byte, a generated 3,000-conversation day)', function () {
  this.timeout(120_000);

  it('should write the same ledger, markers, records, index and emails as before', async () => {
    const day = generate();
    const mails: Mail[] = [];
    const checker = memoryChecker(day.store, ENV, mails, Date.parse('2026-03-07T06:00:00.000Z'));
    const steps: Array<Record<string, string>> = [];
    const step = async (event: string) => {
      const result = await checker().handle(event);
      steps.push({result: JSON.stringify(result), ...outputs(day.store, mails)});
    };
    await step(reportName(0));
    // A replay: batch 5 exports its gaps (metadata rewritten), batch 12 is readable again;
    // a waiver covers the permanent failures.
    const fix = (b: number) => {
      const r = day.reports.get(b)!;
      const rnd = random(b);
      r.extra = {oauthClient: b % 3};
      r.conversations = r.conversations.map((c, j) => {
        const i = b * PER_BATCH + j;
        const meta = day.store.put(
          c.metadataObject ?? `${ENV}/${DAY}/metadata/${c.conversationId}.json`,
          Buffer.from(`{"v":2,"i":${i}}`),
        );
        return {
          ...c,
          error: undefined,
          metadataStored: withoutCrc(meta),
          recordings: c.error ? recordingsOf(day.store, i, rnd) : c.recordings,
        };
      });
      writeReport(day, b);
    };
    fix(5);
    day.reports.set(12, {conversations: [], extra: {}});
    fix(12);
    const waiver = {
      kind: 'waiver',
      version: 1,
      day: DAY,
      recordingIds: day.failedIds.slice(0, 20),
      reasons: Object.fromEntries(
        day.failedIds.slice(0, 20).map(id => [id, 'fileState ERROR at the source']),
      ),
      reason: 'lost at the source, confirmed with Genesys support',
      by: 'ops@example.com',
      at: '2026-03-08T00:00:00.000Z',
    };
    day.store.put(`${ENV}/${DAY}/_manifest/waivers/w1.json`, Buffer.from(JSON.stringify(waiver)));
    await step(reportName(5));
    await step(reportName(5)); // a duplicate event: unchanged
    // Repaired: every planned conversation exported (new objects, metadata rewritten), strays gone.
    for (const [name, v] of day.store.objects())
      if (/\/(readme\.txt|nested\/)/.test(name) || name.includes(conv(N)))
        await day.store.delete(name, v.object.generation);
    for (let i = N; i < N + 4; i++) {
      const name = `${ENV}/${DAY}/call/${conv(i)}_${rec(i, 0)}.ogg`;
      const o = await day.store.stat(name);
      if (o) await day.store.delete(name, o.generation);
    }
    for (const b of day.reports.keys()) {
      const conversations: ReportConversation[] = [];
      for (let i = b * PER_BATCH; i < (b + 1) * PER_BATCH; i++) {
        const metadataObject = `${ENV}/${DAY}/metadata/${conv(i)}.json`;
        const meta = day.store.put(metadataObject, Buffer.from(`{"v":3,"i":${i}}`));
        const object = `${ENV}/${DAY}/call/${conv(i)}_${rec(i, 5)}.ogg`;
        const o = day.store.put(object, body(i, 5));
        conversations.push({
          conversationId: conv(i),
          metadataObject,
          metadataStored: withoutCrc(meta),
          recordings: [
            {
              recordingId: rec(i, 5),
              type: 'call',
              outcome: 'exported',
              object,
              size: o.size,
              md5Hash: o.md5Hash,
              crc32c: o.crc32c,
              generation: o.generation,
            },
            // The earlier recordings, deleted at the source since: a gap closes only this way.
            ...[0, 1, 2, 7].map(k => ({
              recordingId: rec(i, k),
              type: 'call' as const,
              outcome: 'skipped' as const,
              reason: 'deleted at the source (fileState DELETED)',
            })),
          ],
        });
      }
      day.reports.set(b, {conversations, extra: {}});
    }
    // Every other recording object of the day goes (a clean bucket), then the reports are rewritten.
    const kept = new Set(
      [...day.reports.values()].flatMap(r => r.conversations.map(c => c.recordings[0]!.object)),
    );
    for (const [name, v] of day.store.objects())
      if (/\/(call|chat|email|message|screen)\//.test(name) && !kept.has(name))
        await day.store.delete(name, v.object.generation);
    for (const b of day.reports.keys()) writeReport(day, b);
    await step(reportName(0));
    if (process.env.RECORD_CHECKER_OUTPUTS) {
      // eslint-disable-next-line no-console -- the record mode prints what to paste
      console.log(JSON.stringify(steps, null, 2));
      return;
    }
    assert.deepStrictEqual(steps, EXPECTED);
  });
});
