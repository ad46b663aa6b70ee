/**
 * The seed's check_prev step on the real stack: the scheduled run for day D
 * finds D−1 without `_SUCCESS`, emails the developers, plans D−1 again (the
 * rerun is recorded in the plan), and stops rerunning at the cap.
 */
import * as assert from 'node:assert';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {
  callPlanner,
  readJson,
  runDay,
  scheduleTimeFor,
  storageFor,
  waitForMarker,
} from '../../local/run-day';
import type {DayPlan} from '../../functions/core/day-plan';
import type {PlanSummary} from '../../functions/services/planner';
import {declareProductDays, useProductStack} from '../setup/stack';
import {dayPlanOf, mailAbout, withFaults} from '../helpers';

const env = LOCAL_EXPORT_ENV;
const PREV = '2026-08-03';
const DAY = '2026-08-04';
declareProductDays('lossy', {[PREV]: 20, [DAY]: 3});

async function scheduledRun(stack: Stack): Promise<PlanSummary> {
  const res = await callPlanner(stack, undefined, {
    'x-cloudscheduler-scheduletime': scheduleTimeFor(DAY),
  });
  assert.strictEqual(res.status, 202, JSON.stringify(res.body));
  return res.body as unknown as PlanSummary;
}

async function plan(stack: Stack, day: string): Promise<DayPlan> {
  return (await readJson<DayPlan>(stack, `${env}/${day}/_manifest/plan.json`))!;
}

describe('check-previous: a day without _SUCCESS is emailed about and rerun, up to the cap', function () {
  this.timeout(240_000);
  let stack: Stack;
  let firstRunId: string;

  before(async function () {
    this.timeout(200_000);
    stack = await useProductStack('lossy', {[PREV]: 20, [DAY]: 3});
    const first = await runDay(stack, {day: PREV, env, timeoutMs: 150_000});
    assert.strictEqual(first.marker?.marker, '_FAILURE', 'the previous day failed');
    firstRunId = first.runId;
  });

  it('should email, rerun the previous day and say so in the response', async () => {
    const summary = await scheduledRun(stack);
    assert.strictEqual(summary.days[0]!.day, DAY);
    const [prev] = summary.previous!;
    assert.strictEqual(summary.previous!.length, 1);
    assert.strictEqual(prev!.day, PREV);
    assert.strictEqual(prev!.state, 'failure');
    assert.strictEqual(prev!.runId, firstRunId);
    assert.strictEqual(prev!.action, 'rerun');
    assert.strictEqual(prev!.autoReruns, 1);
    assert.strictEqual(prev!.email, 'sent');
    assert.match(prev!.detail!, /recordings? missing/);
    const rerun = await plan(stack, PREV);
    assert.strictEqual(rerun.runId, prev!.newRunId);
    assert.strictEqual(rerun.trigger, 'check-previous');
    assert.deepStrictEqual(rerun.autoRerun, {of: firstRunId, state: 'failure', count: 1});
    const mails = (await mailAbout(stack, PREV)).filter(m => /rerun started/.test(m.subject));
    assert.strictEqual(mails.length, 1);
    assert.match(
      mails[0]!.subject,
      new RegExp(`${env} ${PREV}: no _SUCCESS \\(failure\\); rerun started`),
    );
    assert.ok(mails[0]!.text.includes(`run ${rerun.runId}`));
    assert.ok(mails[0]!.text.includes('automatic rerun 1 of at most 2'));
    // The rerun is a whole run of its own: it ends with its own marker.
    const {marker} = await waitForMarker(stack, env, PREV, {runId: rerun.runId});
    assert.strictEqual(marker.runId, rerun.runId);
    await waitForMarker(stack, env, DAY, {runId: summary.days[0]!.runId});
  });

  it('should stop rerunning at MAX_AUTO_RERUNS and tell the developers an operator is needed', async () => {
    const second = await scheduledRun(stack);
    assert.strictEqual(second.previous![0]!.action, 'rerun');
    assert.strictEqual(second.previous![0]!.autoReruns, 2);
    const rerun2 = await plan(stack, PREV);
    await waitForMarker(stack, env, PREV, {runId: rerun2.runId});
    await waitForMarker(stack, env, DAY, {runId: second.days[0]!.runId});

    const third = await scheduledRun(stack);
    assert.strictEqual(third.previous![0]!.action, 'cap-reached');
    assert.strictEqual(third.previous![0]!.email, 'sent');
    assert.strictEqual((await plan(stack, PREV)).runId, rerun2.runId, 'no third rerun');
    const capped = (await mailAbout(stack, PREV)).filter(m => /exhausted/.test(m.subject));
    assert.strictEqual(capped.length, 1);
    assert.ok(capped[0]!.text.includes('An operator must look at it'));
    await waitForMarker(stack, env, DAY, {runId: third.days[0]!.runId});
  });

  it('should report a previous day with _SUCCESS and do nothing about it', async () => {
    // The source recovers and DAY is exported again: it ends in _SUCCESS.
    await fetch(`${stack.genesysUrl}/_admin/recover?day=${DAY}`, {method: 'POST'});
    const redo = await runDay(stack, {day: DAY, env, timeoutMs: 60_000});
    assert.strictEqual(redo.marker?.marker, '_SUCCESS');
    const mailsBefore = (await mailAbout(stack, DAY)).length;
    const res = await callPlanner(stack, {day: '2026-08-05', checkPrevious: true});
    assert.strictEqual(res.status, 202, JSON.stringify(res.body));
    const summary = res.body as unknown as PlanSummary;
    assert.deepStrictEqual(summary.previous, [
      {day: DAY, state: 'success', runId: redo.runId, action: 'none'},
    ]);
    assert.strictEqual((await mailAbout(stack, DAY)).length, mailsBefore);
    await waitForMarker(stack, env, '2026-08-05', {runId: summary.days[0]!.runId});
  });

  describe('a previous day that is incomplete or was never planned', () => {
    const conv = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;
    async function writePlan(day: string, createdAt: string): Promise<void> {
      const storage = storageFor(stack);
      const plan = dayPlanOf(
        {day, runId: 'r20260101t000000-aaaaaa'},
        {'b0000-000000000000': [conv(1)]},
        {createdAt},
      );
      await storage
        .bucket(stack.bucket)
        .file(`${env}/${day}/_manifest/plan.json`)
        .save(JSON.stringify(plan), {contentType: 'application/json'});
    }

    it('should leave a run younger than RUN_GRACE_MINUTES alone, without an email', async () => {
      await writePlan('2026-07-01', new Date().toISOString());
      const res = await callPlanner(stack, {day: '2026-07-02', checkPrevious: true});
      assert.strictEqual(res.status, 202, JSON.stringify(res.body));
      assert.deepStrictEqual((res.body as unknown as PlanSummary).previous, [
        {
          day: '2026-07-01',
          state: 'incomplete',
          detail: '0 of 1 batch reports written, no marker',
          runId: 'r20260101t000000-aaaaaa',
          autoReruns: 0,
          action: 'in-progress',
        },
      ]);
      assert.strictEqual((await mailAbout(stack, '2026-07-01')).length, 0);
    });

    it('should rerun a stale incomplete run and a day that was never planned', async () => {
      await writePlan('2026-07-10', '2026-07-11T00:00:00.000Z');
      const res = await callPlanner(stack, {day: '2026-07-11', checkPrevious: true});
      const [stale] = (res.body as unknown as PlanSummary).previous!;
      assert.deepStrictEqual(
        [stale!.state, stale!.action, stale!.email],
        ['incomplete', 'rerun', 'sent'],
      );
      const never = await callPlanner(stack, {day: '2026-07-21', checkPrevious: true});
      const [missing] = (never.body as unknown as PlanSummary).previous!;
      assert.deepStrictEqual(
        [missing!.day, missing!.state, missing!.action],
        ['2026-07-20', 'not-planned', 'rerun'],
      );
      const plan20 = await plan(stack, '2026-07-20');
      assert.deepStrictEqual(plan20.autoRerun, {of: 'none', state: 'not-planned', count: 1});
      const mails = (await mailAbout(stack, '2026-07-20')).filter(m =>
        /no _SUCCESS/.test(m.subject),
      );
      assert.strictEqual(mails.length, 1);
      assert.match(mails[0]!.text, /never planned/);
      for (const [day, runId] of [
        ['2026-07-10', stale!.newRunId!],
        ['2026-07-20', missing!.newRunId!],
      ] as const) {
        await waitForMarker(stack, env, day, {runId});
      }
    });

    it('should still plan the night when the email cannot be sent, and say so', async () => {
      const rule = {path: '^/v3/mail/send', action: 'status', status: 503};
      await withFaults(stack.sendgridUrl, rule, async () => {
        const res = await callPlanner(stack, {day: '2026-07-31', checkPrevious: true});
        assert.strictEqual(res.status, 202, JSON.stringify(res.body));
        const summary = res.body as unknown as PlanSummary;
        assert.deepStrictEqual(
          [summary.previous![0]!.action, summary.previous![0]!.email],
          ['rerun', 'failed'],
        );
        assert.strictEqual(summary.days[0]!.day, '2026-07-31');
        assert.ok(summary.days[0]!.published > 0);
      });
    });
  });
});
