/**
 * The pure parts of planning a large day: the compact id list, batches cut
 * from it, the OAuth client of each batch, and version-2 plans (batch list in
 * plan.json, ids in parts) as the checker validates and assembles them.
 */
import * as assert from 'node:assert';
import {createHash, randomBytes} from 'node:crypto';
import {cutBatches, planBatches, plannedClient} from '../../functions/core/batches';
import {ConversationIdList} from '../../functions/core/conversation-ids';
import {
  DayPlan,
  PlanAssembly,
  PlanPart,
  assemblePlan,
  numberedPlan,
  planProblems,
} from '../../functions/core/day-plan';
import {decideDay} from '../../functions/core/day-outcome';
import {PermanentError} from '../../functions/core/errors';
import {addDays} from '../../functions/core/time-window';
import {batchReportOf, dayPlanOf, planInParts} from '../helpers';

const DAY = '2026-03-29';
const RUN = 'r20260401t000000-0a0b0c';

function randomId(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** What the planner cut before the compact list: a Set of strings, sorted, sliced, hashed. */
function referenceBatches(day: string, ids: string[], size: number) {
  const sorted = [...new Set(ids)].sort();
  const out: Array<{batchId: string; conversationIds: string[]}> = [];
  for (let i = 0; i < sorted.length; i += size) {
    const chunk = sorted.slice(i, i + size);
    const hash = createHash('sha256')
      .update(`${day}\n${chunk.join('\n')}`)
      .digest('hex')
      .slice(0, 12);
    out.push({batchId: `b${String(out.length).padStart(4, '0')}-${hash}`, conversationIds: chunk});
  }
  return out;
}

describe('compact conversation ids (ConversationIdList)', () => {
  it('should sort and de-duplicate exactly as sorting the strings does', () => {
    const ids = Array.from({length: 5000}, randomId);
    // Ids that share their leading bytes, so the later radix passes decide.
    for (let i = 0; i < 300; i++)
      ids.push(`0000${String(i % 97).padStart(4, '0')}-0000-4000-8000-${randomId().slice(24)}`);
    const withDuplicates = [...ids, ...ids.slice(0, 700), ...ids.slice(4990)];
    const list = ConversationIdList.from(withDuplicates);
    const expected = [...new Set(ids)].sort();
    assert.strictEqual(list.size, expected.length);
    assert.deepStrictEqual(list.slice(0, list.size), expected);
  });

  it('should handle no ids, one id, and many copies of one id', () => {
    assert.strictEqual(ConversationIdList.from([]).size, 0);
    const one = randomId();
    assert.deepStrictEqual(ConversationIdList.from([one]).slice(0, 5), [one]);
    const list = ConversationIdList.from(Array.from({length: 3000}, () => one));
    assert.deepStrictEqual(list.slice(0, list.size), [one]);
  });

  it('should refuse an id that is not a lower-case UUID (no batch message could carry it)', () => {
    const list = new ConversationIdList();
    assert.throws(() => list.add(randomId().toUpperCase()), PermanentError);
    assert.throws(() => list.add('not-an-id'), /not a lower-case UUID: "not-an-id"/);
  });

  it('should cut the batches, with the batch ids, that the string algorithm cut', () => {
    const ids = Array.from({length: 2345}, randomId);
    for (const size of [1, 7, 100, 1000, 5000]) {
      const cut = planBatches(DAY, [...ids, ...ids.slice(0, 50)], size);
      assert.deepStrictEqual(cut, referenceBatches(DAY, ids, size), `batch size ${size}`);
    }
  });
});

describe('balanced OAuth clients (plannedClient)', () => {
  const counts = (clients: number[], n: number) =>
    Array.from({length: n}, (_, c) => clients.filter(x => x === c).length);

  it("should spread a day's batches evenly: 4 batches on 2 clients 2/2, on 4 clients 1/1/1/1", () => {
    for (let d = 0; d < 10; d++) {
      const day = addDays(DAY, d);
      const four = (n: number) => Array.from({length: 4}, (_, i) => plannedClient(day, i, n));
      assert.deepStrictEqual(counts(four(2), 2), [2, 2], day);
      assert.deepStrictEqual(counts(four(4), 4), [1, 1, 1, 1], day);
      assert.deepStrictEqual(counts(four(1), 1), [4], day);
      // Any count of batches: the clients' shares differ by one at most.
      const many = counts(
        Array.from({length: 103}, (_, i) => plannedClient(day, i, 3)),
        3,
      );
      assert.ok(Math.max(...many) - Math.min(...many) <= 1, `${day}: ${many.join('/')}`);
    }
  });

  it('should move the first batch on by one client a day, so a backfill of small days spreads too', () => {
    const firsts = Array.from({length: 8}, (_, d) => plannedClient(addDays(DAY, d), 0, 4));
    assert.deepStrictEqual(counts(firsts, 4), [2, 2, 2, 2]);
    for (let d = 1; d < 8; d++) assert.strictEqual(firsts[d], (firsts[d - 1]! + 1) % 4);
  });

  it('should put every batch on the same client again when the same day is planned again', () => {
    const ids = Array.from({length: 950}, randomId);
    const first = [...cutBatches(DAY, ConversationIdList.from(ids), 100, 3)];
    const again = [...cutBatches(DAY, ConversationIdList.from([...ids].reverse()), 100, 3)];
    assert.deepStrictEqual(
      again.map(b => [b.batchId, b.client]),
      first.map(b => [b.batchId, b.client]),
    );
    assert.deepStrictEqual(
      first.map(b => b.client),
      first.map((_, i) => plannedClient(DAY, i, 3)),
    );
  });
});

describe('replaying on the planned client', () => {
  it("should replay a batch whose report names no client on the client the plan assigned it, else on the report's", () => {
    const ids = Array.from({length: 3}, randomId);
    const plan = dayPlanOf(
      {day: DAY, runId: RUN},
      {},
      {
        conversations: 3,
        clients: 4,
        batches: [
          {batchId: 'b0000-a', client: 3, conversationIds: [ids[0]!, ids[1]!]},
          {batchId: 'b0001-b', client: 0, conversationIds: [ids[2]!]},
        ],
      },
    );
    const failed = (batchId: string, oauthClient?: number) => ({
      object: `r/${batchId}`,
      generation: '1',
      report: batchReportOf(
        {day: DAY, runId: RUN, batchId},
        [],
        {startedAt: '2026-04-01T00:00:01.000Z', finishedAt: '2026-04-01T00:00:02.000Z'},
        {status: 'failed', error: 'crashed', ...(oauthClient !== undefined ? {oauthClient} : {})},
      ),
    });
    const outcome = decideDay(plan, [failed('b0000-a'), failed('b0001-b', 2)], {
      project: 'p',
      topic: 't',
    });
    assert.deepStrictEqual(
      outcome.replay.map(r => [r.batchId, r.message.client]),
      [
        ['b0000-a', 3],
        ['b0001-b', 2],
      ],
    );
  });
});

describe('version-2 plans (batch list in plan.json, ids in parts)', () => {
  const header = {
    kind: 'plan' as const,
    day: DAY,
    runId: RUN,
    window: {
      start: `${DAY}T00:00:00.000Z`,
      end: `${addDays(DAY, 1)}T00:00:00.000Z`,
      timeZone: 'UTC',
    },
    createdAt: '2026-04-01T00:00:00.000Z',
    trigger: 'schedule' as const,
    discovery: 'jobs' as const,
    clients: 2,
  };
  const ids = Array.from({length: 250}, randomId);
  const batches = [...cutBatches(DAY, ConversationIdList.from(ids), 40, 2)];
  const v1: DayPlan = {...header, version: 1, conversations: 250, batches};
  /** Parts of 3, 3 and 1 batches. */
  const groups = [batches.slice(0, 3), batches.slice(3, 6), batches.slice(6)];
  const object = (k: number) => `e/${DAY}/_manifest/runs/${RUN}/plan-parts/${k}.json`;
  const {index, parts} = planInParts(v1, groups, object);
  const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

  it('should accept the index and put together the plan a version-1 plan.json holds', () => {
    assert.deepStrictEqual(planProblems(index, DAY), []);
    const {plan, problems} = assemblePlan(index, parts);
    assert.deepStrictEqual(problems, []);
    assert.deepStrictEqual(plan, v1);
    // The verdict from the assembled plan is the verdict from the version-1 plan.
    const reports = batches.map(b => ({
      object: `r/${b.batchId}`,
      generation: '1',
      report: batchReportOf(
        {day: DAY, runId: RUN, batchId: b.batchId},
        b.conversationIds.map(conversationId => ({conversationId, recordings: []})),
        {startedAt: '2026-04-01T00:00:01.000Z', finishedAt: '2026-04-01T00:00:02.000Z'},
      ),
    }));
    const target = {project: 'p', topic: 't'};
    assert.deepStrictEqual(decideDay(plan!, reports, target), decideDay(v1, reports, target));
  });

  it('should refuse an index whose counts do not add up', () => {
    const bad = clone(index);
    bad.parts[1]!.conversations += 1;
    assert.match(
      planProblems(bad, DAY).join(),
      /part .* says 121 conversations, its batches hold 120/,
    );
    const short = clone(index);
    short.parts.pop();
    assert.match(planProblems(short, DAY).join(), /the parts hold 6 batches, the plan lists 7/);
    const twice = clone(index);
    twice.batches[1]!.batchId = twice.batches[0]!.batchId;
    assert.match(planProblems(twice, DAY).join(), /a batch id is listed twice/);
    const total = clone(index);
    total.conversations = 249;
    assert.match(planProblems(total, DAY).join(), /"conversations" is 249, the batches hold 250/);
  });

  it('should refuse parts that are missing, of another run, or not what the index says', () => {
    const problems = (edit: (p: PlanPart[]) => Array<PlanPart | undefined>) =>
      assemblePlan(index, edit(clone(parts))).problems.join();
    assert.match(
      problems(p => [p[0], undefined, p[2]]),
      /plan part .*\/1\.json is missing/,
    );
    assert.match(
      problems(p => [p[0], {...p[1]!, runId: 'r-other'}, p[2]]),
      /is not part 1 of run/,
    );
    assert.match(
      problems(p => [p[1], p[0], p[2]]),
      /is not part 0 of run/,
    );
    assert.match(
      problems(p => {
        p[2]!.batches[0]!.batchId = 'b0006-forged';
        return p;
      }),
      /does not hold batch b0006-/,
    );
    // A conversation moved into another part's batch: each part is fine, the day is not.
    assert.match(
      problems(p => {
        p[2]!.batches[0]!.conversationIds[0] = p[0]!.batches[0]!.conversationIds[0]!;
        return p;
      }),
      /a conversation is in more than one batch/,
    );
    // An id that is not a Genesys id, as a version-1 plan's check says it.
    assert.match(
      problems(p => {
        p[1]!.batches[1]!.conversationIds[3] = 'NOT-AN-ID';
        return p;
      }),
      /a batch is not \{batchId, conversationIds: \[Genesys ids\]\}/,
    );
  });

  it("should hold the day's ids once, numbered in plan order, a part at a time", () => {
    const assembly = new PlanAssembly(index);
    for (const part of parts) assembly.add(clone(part));
    const {plan, ids, problems} = assembly.finish();
    assert.deepStrictEqual(problems, []);
    assert.strictEqual(ids!.size, 250);
    const inPlanOrder = batches.flatMap(b => b.conversationIds);
    assert.deepStrictEqual(
      Array.from({length: ids!.size}, (_, n) => ids!.id(n)),
      inPlanOrder,
    );
    // Each batch gives its ids (a new list each time, so a caller's edit changes nothing).
    for (const [i, b] of plan!.batches.entries()) {
      assert.deepStrictEqual(b.conversationIds, batches[i]!.conversationIds);
      assert.notStrictEqual(b.conversationIds, b.conversationIds);
      assert.strictEqual(b.client, batches[i]!.client);
      assert.strictEqual(b.batchId, batches[i]!.batchId);
    }
    assert.throws(() => new PlanAssembly(index).finish(), /3 parts of the plan were not added/);
  });

  it('should number a version-1 plan the same way', () => {
    const {plan, ids} = numberedPlan(v1);
    assert.deepStrictEqual(
      Array.from({length: ids.size}, (_, n) => ids.id(n)),
      batches.flatMap(b => b.conversationIds),
    );
    assert.deepStrictEqual(
      plan.batches.map(b => ({batchId: b.batchId, ids: b.conversationIds, client: b.client})),
      batches.map(b => ({batchId: b.batchId, ids: b.conversationIds, client: b.client})),
    );
    const target = {project: 'p', topic: 't'};
    const reports = batches.map(b => ({
      object: `r/${b.batchId}`,
      generation: '1',
      report: batchReportOf(
        {day: DAY, runId: RUN, batchId: b.batchId},
        b.conversationIds.slice(1).map(conversationId => ({conversationId, recordings: []})),
        {startedAt: '2026-04-01T00:00:01.000Z', finishedAt: '2026-04-01T00:00:02.000Z'},
      ),
    }));
    // Gaps and replays (built from the batches' ids) are the same from either form.
    assert.deepStrictEqual(decideDay(plan, reports, target), decideDay(v1, reports, target));
  });
});
