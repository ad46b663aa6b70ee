/**
 * A version-2 plan (batch list in plan.json, ids in parts) is decided as the
 * version-1 plan of the same batches: the checker holds its ids as bytes
 * (NumberedBatch) and writes the same ledger, marker, decided records, index
 * and email, byte for byte, gaps and replays included. Both days are put in
 * the same order into stores with deterministic generations (the version-1
 * day gets the same part objects, which it never reads), so even generations
 * agree.
 */
import * as assert from 'node:assert';
import type {DayPlan, PlanIndex} from '../../functions/core/day-plan';
import {planObjectName, planPartObjectName} from '../../functions/core/object-names';
import type {ReportConversation} from '../../functions/core/report';
import type {Mail} from '../../functions/ports';
import type {CheckResult} from '../../functions/services/checker';
import {batchReportOf, dayPlanOf, planInParts} from '../helpers';
import {MemoryStore, memoryChecker} from './memory-store';

const ENV = 'parts';
const DAY = '2026-05-06';
const RUN = 'r20260509t000000-parts0';
const BATCHES = 5;
const PER_BATCH = 4;

const hex = (n: number, w: number) => (n >>> 0).toString(16).padStart(w, '0').slice(-w);
const conv = (i: number) => `${hex(i * 2654435761, 8)}-0001-4${hex(i, 3)}-8000-${hex(i, 12)}`;
const rec = (i: number) => `${hex(i * 40503, 8)}-0002-4${hex(i, 3)}-8000-${hex(i, 12)}`;
const batchId = (b: number) => `b${String(b).padStart(4, '0')}-${hex(b * 7919, 6)}`;
const reportName = (b: number) => `${ENV}/${DAY}/_manifest/runs/${RUN}/batches/${batchId(b)}.json`;
const partName = (k: number) => planPartObjectName(ENV, DAY, RUN, k);
const planName = planObjectName(ENV, DAY);

const ids = (b: number) => Array.from({length: PER_BATCH}, (_, j) => conv(b * PER_BATCH + j));
const v1: DayPlan = dayPlanOf(
  {day: DAY, runId: RUN},
  Object.fromEntries(Array.from({length: BATCHES}, (_, b) => [batchId(b), ids(b)])),
  {clients: 2},
);
for (const [b, batch] of v1.batches.entries()) batch.client = b % 2;
/** Parts of 2, 2 and 1 batches. */
const groups = [v1.batches.slice(0, 2), v1.batches.slice(2, 4), v1.batches.slice(4)];
const {index: v2, parts} = planInParts(v1, groups, partName);

/** The day in a store: recordings, reports (one leaves a conversation out), parts, the plan. */
function dayWith(plan: DayPlan | PlanIndex): MemoryStore {
  const store = new MemoryStore();
  for (let b = 0; b < BATCHES; b++) {
    const conversations: ReportConversation[] = ids(b).map((conversationId, j) => {
      const i = b * PER_BATCH + j;
      const object = `${ENV}/${DAY}/call/${conversationId}_${rec(i)}.ogg`;
      const stored = store.put(object, Buffer.from(`media ${i} `.repeat(3 + (i % 5))));
      return {
        conversationId,
        recordings: [
          {
            recordingId: rec(i),
            type: 'call',
            media: 'audio',
            fileState: 'AVAILABLE',
            outcome: 'exported',
            object,
            contentType: 'application/octet-stream',
            size: stored.size,
            md5Hash: stored.md5Hash,
            crc32c: stored.crc32c,
            generation: stored.generation,
          },
        ],
      };
    });
    // Batch 3's report leaves its last conversation out: a gap, and a replay of that batch.
    const reported = b === 3 ? conversations.slice(0, -1) : conversations;
    const report = batchReportOf({day: DAY, runId: RUN, batchId: batchId(b)}, reported, {
      startedAt: '2026-05-09T00:00:01.000Z',
      finishedAt: '2026-05-09T00:05:00.000Z',
    });
    store.put(reportName(b), Buffer.from(JSON.stringify({...report, oauthClient: b % 2})));
  }
  for (const [k, part] of parts.entries())
    store.put(partName(k), Buffer.from(JSON.stringify(part)));
  store.put(planName, Buffer.from(JSON.stringify(plan, null, 2)));
  return store;
}

async function decide(store: MemoryStore): Promise<{result: CheckResult; mails: Mail[]}> {
  const mails: Mail[] = [];
  const checker = memoryChecker(store, ENV, mails, Date.parse('2026-05-09T06:00:00.000Z'))();
  return {result: await checker.handle(reportName(BATCHES - 1)), mails};
}

/** What the checker wrote: every object but the plan, as text, with its generation. */
function written(store: MemoryStore): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of store.objects())
    if (name !== planName) out[`${name}#${v.object.generation}`] = v.bytes.toString('utf8');
  return out;
}

describe('checker, a version-2 plan (ids in parts)', () => {
  it('should decide it as the version-1 plan of the same batches, byte for byte', async () => {
    const one = dayWith(v1);
    const two = dayWith(v2);
    const a = await decide(one);
    const b = await decide(two);
    assert.strictEqual(a.result.action, 'decided');
    assert.deepStrictEqual(b.result, a.result);
    assert.deepStrictEqual(b.mails, a.mails);
    assert.deepStrictEqual(written(two), written(one));
    // The day has what the batches' ids decide: a gap, and a replay of batch 3 on its client.
    const marker = JSON.parse(
      written(two)[Object.keys(written(two)).find(n => n.includes('_FAILURE'))!]!,
    ) as {
      gaps: Array<{conversationId: string}>;
      replay: Array<{batchId: string; message: {conversationIds: string[]; client?: number}}>;
    };
    assert.deepStrictEqual(
      marker.gaps.map(g => g.conversationId),
      [ids(3)[PER_BATCH - 1]],
    );
    assert.deepStrictEqual(
      marker.replay.map(r => [r.batchId, r.message]),
      [
        [
          batchId(3),
          {
            day: DAY,
            conversationIds: [ids(3)[PER_BATCH - 1]],
            runId: RUN,
            batchId: batchId(3),
            client: 1,
          },
        ],
      ],
    );
  });

  it('should give no verdict when a part holds a conversation of another part', async () => {
    const forged = structuredClone(parts);
    forged[2]!.batches[0]!.conversationIds[0] = ids(0)[0]!;
    const store = new MemoryStore();
    for (const [k, part] of forged.entries())
      store.put(partName(k), Buffer.from(JSON.stringify(part)));
    store.put(planName, Buffer.from(JSON.stringify(v2)));
    for (let b = 0; b < BATCHES; b++)
      store.put(
        reportName(b),
        Buffer.from(
          JSON.stringify(
            batchReportOf({day: DAY, runId: RUN, batchId: batchId(b)}, [], {
              startedAt: '2026-05-09T00:00:01.000Z',
              finishedAt: '2026-05-09T00:05:00.000Z',
            }),
          ),
        ),
      );
    const {result} = await decide(store);
    assert.strictEqual(result.action, 'ignored');
    assert.match(
      (result as {reason: string}).reason,
      /not usable: a conversation is in more than one batch/,
    );
    assert.deepStrictEqual(
      [...store.objects().keys()].filter(n => /_manifest\/(decision|_SUCCESS|_FAILURE)/.test(n)),
      [],
    );
  });
});
