/**
 * The worker as a fleet, as production runs it: FLEET_WORKERS Functions
 * Framework processes behind the push subscription, one push at a time each,
 * each one supervised, pushed by the stack's relay as many at once as they take. A day exported through them is spread over several
 * processes, and a killed instance is replaced while the others keep serving.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {DayResult, runDay} from '../../local/run-day';
import {FLEET_WORKERS, declareProductDays, eventually, useProductStack} from '../setup/stack';
import {addDays, defaultDay} from '../../functions/core/time-window';

const today = defaultDay(Date.now(), 'UTC', 0);
const DAY = addDays(today, -5);
const DAY_AFTER_KILL = addDays(today, -6);
const PER_DAY = {[DAY]: 40, [DAY_AFTER_KILL]: 15};
declareProductDays('fleet', PER_DAY);

const alive = (pid: number | undefined) => {
  try {
    return pid !== undefined && process.kill(pid, 0);
  } catch {
    return false;
  }
};

/** A process's environment (Linux). */
const environOf = (pid: number): Record<string, string> =>
  Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map(kv => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

function assertExported(result: DayResult, conversations: number): void {
  const v = result.verification;
  assert.ok(v.exportable > 0);
  assert.deepStrictEqual(v.missing, []);
  assert.deepStrictEqual(v.mismatched, []);
  assert.strictEqual(v.exportedAndVerified, v.exportable);
  assert.strictEqual(result.reports.length, Math.ceil(conversations / 5));
  assert.ok(result.reports.every(r => r.status === 'complete'));
  assert.strictEqual(result.marker?.marker, '_SUCCESS');
}

describe(`worker fleet (${FLEET_WORKERS} processes behind the push subscription)`, function () {
  this.timeout(240_000);
  let stack: Stack;

  before(async function () {
    this.timeout(180_000);
    stack = await useProductStack('fleet', PER_DAY);
  });

  it('should run each worker instance in its own process, told the fleet size', () => {
    const worker = stack.functions.worker!;
    assert.strictEqual(stack.workerInstances, FLEET_WORKERS);
    assert.strictEqual(worker.instances.length, FLEET_WORKERS);
    const pids = worker.instances.map(i => i.pid!);
    assert.strictEqual(new Set(pids).size, FLEET_WORKERS);
    for (const pid of pids) {
      assert.ok(alive(pid));
      // Each worker process paces itself to its share of the Genesys clients' budgets.
      assert.strictEqual(environOf(pid).WORKER_INSTANCES, String(FLEET_WORKERS));
    }
    assert.strictEqual(environOf(stack.functions.planner!.pid!).WORKER_INSTANCES, undefined);
  });

  it('should export a day end to end with its batches handled by more than one process', async () => {
    const worker = stack.functions.worker!;
    const result = await runDay(stack, {day: DAY, env: LOCAL_EXPORT_ENV, timeoutMs: 180_000});
    assertExported(result, PER_DAY[DAY]!);
    const stats = worker.stats();
    const pids = worker.instances.map(i => String(i.pid));
    const answering = Object.keys(stats.answeredByPid);
    assert.ok(
      answering.length >= 2,
      `pushes answered by ${answering.length} process(es): ${JSON.stringify(stats)}`,
    );
    assert.ok(answering.every(pid => pids.includes(pid)));
    assert.ok(stats.instances.filter(i => i.answered > 0).length >= 2);
    // Pushed by the stack's relay: every instance busy at once (the emulator pushes two at most).
    assert.strictEqual(stats.peakInFlight, FLEET_WORKERS, JSON.stringify(stats));
    const relay = stack.pushRelay!.stats();
    assert.ok(relay.acked >= result.reports.length, JSON.stringify(relay));
    assert.ok(relay.peakOutstanding > 2, JSON.stringify(relay));
    // One push at a time: the processes' own logs hold the batches they ran.
    const logsWithBatches = worker.instances.filter(i =>
      /"batchId"/.test(fs.readFileSync(i.child.logFile, 'utf8')),
    );
    assert.ok(logsWithBatches.length >= 2, 'batches logged by fewer than two processes');
  });

  it('should restart a killed instance on its own port while the others keep serving', async () => {
    const worker = stack.functions.worker!;
    const killed = worker.instances[1]!;
    const {pid, processPort, restarts} = killed;
    const others = worker.instances.filter(i => i !== killed).map(i => i.pid);
    killed.kill('SIGKILL');
    await eventually('the killed process to be gone', () => (alive(pid) ? undefined : true));
    await eventually(
      'the restart',
      () => (killed.restarts === restarts + 1 ? true : undefined),
      30_000,
    );
    await worker.serving();
    assert.notStrictEqual(killed.pid, pid);
    assert.ok(alive(killed.pid));
    assert.strictEqual(killed.processPort, processPort);
    assert.deepStrictEqual(
      worker.instances.filter(i => i !== killed).map(i => i.pid),
      others,
      'the other instances were left alone',
    );
    assert.strictEqual(environOf(killed.pid!).WORKER_INSTANCES, String(FLEET_WORKERS));
    assert.match(
      fs.readFileSync(killed.child.logFile, 'utf8'),
      new RegExp(`\\(pid ${pid}\\) exited unexpectedly \\(signal SIGKILL\\)`),
    );
    // The fleet still exports a day.
    assertExported(
      await runDay(stack, {day: DAY_AFTER_KILL, env: LOCAL_EXPORT_ENV, timeoutMs: 180_000}),
      PER_DAY[DAY_AFTER_KILL]!,
    );
  });
});
