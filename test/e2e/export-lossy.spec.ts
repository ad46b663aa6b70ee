/**
 * A day whose organisation holds archived, uploading and erroring
 * recordings: none of them is exported or silently dropped; each appears in
 * the batch report as failed with its reason; everything exportable still lands.
 */
import {RESTORE_REQUESTED} from '../../functions/core/recording-outcomes';
import * as assert from 'node:assert';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {DayResult, fetchTruth, runDay} from '../../local/run-day';
import {declareProductDays, useProductStack} from '../setup/stack';
import {addDays, defaultDay} from '../../functions/core/time-window';

const DAY = addDays(defaultDay(Date.now(), 'UTC', 0), -4);
declareProductDays('lossy', {[DAY]: 80});

describe('export path with unavailable recordings (lossy organisation)', function () {
  this.timeout(180_000);
  let stack: Stack;
  let result: DayResult;

  before(async function () {
    this.timeout(150_000);
    stack = await useProductStack('lossy', {[DAY]: 80});
    result = await runDay(stack, {day: DAY, env: LOCAL_EXPORT_ENV, timeoutMs: 120_000});
  });

  it('should report every unavailable recording as failed with its reason, and export the rest', async () => {
    const truth = await fetchTruth(stack, DAY);
    const all = truth.conversations.flatMap(c => c.recordings);
    const count = (state: string) => all.filter(r => r.fileState === state).length;
    assert.ok(
      count('ARCHIVED') > 0 && count('UPLOADING') > 0 && count('ERROR') > 0,
      'the organisation holds each state',
    );
    const reasons = result.reasons.failed;
    assert.strictEqual(
      reasons[`archived at the source (fileState ARCHIVED): ${RESTORE_REQUESTED}`],
      count('ARCHIVED'),
    );
    assert.strictEqual(
      reasons['still uploading at the source (fileState UPLOADING): replay later'],
      count('UPLOADING'),
    );
    assert.strictEqual(
      reasons['in an error state at the source (fileState ERROR)'],
      count('ERROR'),
    );
    assert.strictEqual(
      reasons[`being restored from the archive (fileState RESTORING): ${RESTORE_REQUESTED}`],
      count('RESTORING') || undefined,
    );
    const failed = Object.values(result.totals).reduce((n, t) => n + t.failed, 0);
    assert.strictEqual(
      failed,
      count('ARCHIVED') + count('UPLOADING') + count('ERROR') + count('RESTORING'),
    );
    assert.deepStrictEqual(result.verification.missing, []);
    assert.strictEqual(result.verification.exportedAndVerified, result.verification.exportable);
    const expected = Object.values(result.totals).reduce((n, t) => n + t.expected, 0);
    assert.strictEqual(expected, all.length, 'every recording of the day is accounted for');
  });

  it('should spread batches over both OAuth clients, each batch on one client end to end', async () => {
    const counters = (await (await fetch(`${stack.genesysUrl}/_admin/counters`)).json()) as {
      byClient: Record<string, number>;
    };
    assert.ok((counters.byClient['demo-client'] ?? 0) > 0);
    assert.ok((counters.byClient['second-client'] ?? 0) > 0);
    const clients = new Set(result.reports.map(r => r.oauthClient));
    assert.strictEqual(clients.size, 2, `4 batches used clients ${[...clients].join(',')}`);
  });
});
