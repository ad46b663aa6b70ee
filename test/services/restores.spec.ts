/**
 * The restores' tick in-process: the real Genesys adapter against a private
 * simulator (a lossy organisation; one client lacks the restore permission),
 * the real GcsStore against the GCS emulator, and a capturing publisher (the
 * Pub/Sub port, a seam). What the end-to-end run cannot show: a refused
 * restore leaves the record with its reason and no replay; a day's older
 * queue files are superseded by its newest; at most RESTORE_OUTSTANDING are
 * taken, the rest stays queued; a tick that loses the record's race keeps
 * nothing; failing calls wait and are given up; the calls of a tick stay
 * within its count; and the restores wait for the nightly run.
 */
import * as assert from 'node:assert';
import {randomBytes} from 'node:crypto';
import {GcsStore} from '../../functions/adapters/gcs';
import {GenesysCloud} from '../../functions/adapters/genesys';
import type {DayOutcome} from '../../functions/core/day-outcome';
import type {BatchMessage} from '../../functions/core/messages';
import {FINGERPRINT_KEY, RUN_ID_KEY} from '../../functions/core/ledger';
import {
  markerObjectName,
  restoreInboxPrefix,
  restoresObjectName,
} from '../../functions/core/object-names';
import {createLogger} from '../../functions/logger';
import type {Publisher} from '../../functions/ports';
import {registerPriorityDay} from '../../functions/services/priority-days';
import {queueRestores} from '../../functions/services/restore-queue';
import {Restores} from '../../functions/services/restores';
import type {RestoreRecord} from '../../functions/core/restore-record';
import {fastClock} from './in-process-worker';
import {TestStack, useStack} from '../setup/stack';
import {TestSimulator, startSimulator} from '../setup/simulator';
import {storageFor} from '../../local/run-day';

const DAY = '2026-09-03';
const quiet = createLogger({}, () => {});

interface Target {
  conversationId: string;
  recordingId: string;
}

class CapturingPublisher implements Publisher {
  readonly messages: BatchMessage[] = [];
  publishJson(values: unknown[]): Promise<string[]> {
    this.messages.push(...(values as BatchMessage[]));
    return Promise.resolve(values.map(String));
  }
}

/** A decided outcome whose gaps are `targets`, archived, in batch b1. */
function outcomeOf(targets: Target[], fingerprint: string): DayOutcome {
  return {
    day: DAY,
    runId: 'r1',
    fingerprint,
    gaps: targets.map(t => ({batchId: 'b1', ...t, reason: 'archived (fileState ARCHIVED)'})),
    replay: [],
  } as unknown as DayOutcome;
}

describe('restores (in-process: Genesys simulator, GCS emulator)', function () {
  this.timeout(120_000);
  let stack: TestStack;
  let sim: TestSimulator;
  let store: GcsStore;
  let env: string;
  const archived: Target[] = [];

  before(async function () {
    this.timeout(120_000);
    stack = await useStack();
    sim = await startSimulator([
      '--seed',
      'restores',
      '--conversations-per-day',
      '600',
      '--profile',
      'lossy',
      '--client',
      'demo-client:demo-secret',
      '--client',
      'no-restore:no-restore-secret;lacks=recording:recording:restore',
      '--settings',
      JSON.stringify({restoreDelayMs: 60_000}),
    ]);
    store = new GcsStore(stack.bucket, storageFor(stack));
    const truth = await sim.admin<{
      conversations: Array<{
        conversationId: string;
        recordings: Array<{
          recordingId: string;
          fileState: string;
          media: string;
          sensitive?: boolean;
        }>;
      }>;
    }>(`truth?day=${DAY}&checksums=false`);
    for (const c of truth.conversations)
      for (const r of c.recordings)
        if (r.fileState === 'ARCHIVED' && r.media === 'audio' && !r.sensitive)
          archived.push({conversationId: c.conversationId, recordingId: r.recordingId});
    assert.ok(archived.length >= 13, `the lossy day has archived recordings: ${archived.length}`);
  });

  after(async () => {
    await sim?.stop();
  });

  beforeEach(() => {
    env = `rst-${randomBytes(4).toString('hex')}`;
  });

  function restores(
    clientId: string,
    outstanding: number,
    opts: {now?: () => number; callsPerTick?: number} = {},
  ) {
    const publisher = new CapturingPublisher();
    const r = new Restores({
      settings: {
        env,
        outstanding,
        holdHours: 24,
        pollMs: 1000,
        callsPerTick: opts.callsPerTick ?? 100,
        runGraceMinutes: 720,
      },
      store,
      publisher,
      genesys: new GenesysCloud({
        clients: [
          {clientId, clientSecret: `${clientId === 'demo-client' ? 'demo' : 'no-restore'}-secret`},
        ],
        environment: 'mypurecloud.ie',
        gatewayUrl: sim.url,
        tokenRequestsPerMinute: 100_000,
        clientRequestsPerMinute: 1_000_000,
        workers: 1,
        planners: 1,
        role: 'planner',
        maxAttempts: 2,
        clock: fastClock,
        logger: quiet,
      }),
      clock: {now: opts.now ?? (() => Date.now()), sleep: () => Promise.resolve()},
      logger: quiet,
    });
    return {r, publisher};
  }

  /** The day's `_FAILURE` as the checker writes it: its outcome's fingerprint and run in the metadata. */
  async function failure(fingerprint: string): Promise<void> {
    const name = markerObjectName(env, DAY, '_FAILURE');
    const now = await store.stat(name);
    await store.write(name, Buffer.from('{}'), {
      contentType: 'application/json',
      metadata: {[FINGERPRINT_KEY]: fingerprint, [RUN_ID_KEY]: 'r1'},
      ifGenerationMatch: now?.generation ?? 0,
    });
  }

  async function inbox(): Promise<string[]> {
    return (await store.list(restoreInboxPrefix(env))).map(o => o.name);
  }

  it('should refuse a restore the client may not make: the reason kept, no replay, the queue emptied', async () => {
    const targets = archived.slice(0, 2);
    await queueRestores(store, env, outcomeOf(targets, 'fp-refused'), Date.now());
    await failure('fp-refused');
    const {r, publisher} = restores('no-restore', 10);
    const tick = await r.tick();
    assert.deepStrictEqual(
      {
        took: tick.took,
        refused: tick.refused,
        requested: tick.requested,
        outstanding: tick.outstanding,
      },
      {took: 2, refused: 2, requested: 0, outstanding: 0},
    );
    const {record} = await r.read();
    assert.strictEqual(record.refused.length, 2);
    for (const f of record.refused)
      assert.match(f.reason, /restore refused by Genesys Cloud: .*403/);
    assert.deepStrictEqual(publisher.messages, []);
    assert.deepStrictEqual(await inbox(), []);
  });

  it("should take the queue file of the day's _FAILURE only, at most the outstanding cap, and keep the rest queued", async () => {
    const older = archived.slice(2, 6);
    const newer = archived.slice(2, 5); // one was exported meanwhile: the newer outcome lacks it
    // The older outcome's file is written last (a slow checker): the marker says which is current.
    await queueRestores(store, env, outcomeOf(newer, 'fp-newer'), Date.now() - 60_000);
    await queueRestores(store, env, outcomeOf(older, 'fp-older'), Date.now());
    await failure('fp-newer');
    const {r} = restores('demo-client', 2);
    const tick = await r.tick();
    assert.strictEqual(tick.took, 2);
    assert.strictEqual(tick.requested, 2);
    const {record} = await r.read();
    assert.deepStrictEqual(
      record.entries.map(e => e.recordingId),
      newer.slice(0, 2).map(t => t.recordingId),
    );
    // The older file is gone; the newer one keeps the recording there was no room for.
    const left = await inbox();
    assert.deepStrictEqual(left, [`${restoreInboxPrefix(env)}${DAY}/fp-newer.json`]);
    const kept = (await store.readJson<{batches: Array<{recordings: Target[]}>}>(left[0]!))!.value;
    assert.deepStrictEqual(kept.batches[0]!.recordings, [newer[2]]);
    // Restores take a minute at the source: the next tick only waits (nothing taken, nothing new).
    const again = await r.tick();
    assert.deepStrictEqual(
      {took: again.took, requested: again.requested, outstanding: again.outstanding},
      {took: 0, requested: 0, outstanding: 2},
    );
  });

  it('should move a queue file it cannot use out of the queue, keeping it, say so, and remove the files of a day no longer _FAILURE', async () => {
    const lines: string[] = [];
    const {r} = restores('demo-client', 10);
    (r as unknown as {deps: {logger: unknown}}).deps.logger = createLogger({}, (_s, line) =>
      lines.push(line),
    );
    const name = `${restoreInboxPrefix(env)}${DAY}/fp-bad.json`;
    const bad = await store.write(name, Buffer.from('not json'), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
    await failure('fp-bad');
    const tick = await r.tick();
    assert.strictEqual(tick.took, 0);
    // Out of the queue (it holds no day's place), kept byte for byte for someone to look at.
    assert.deepStrictEqual(await inbox(), []);
    const keptAs = (generation: string) =>
      `${env}/_migration/rejected/restore-inbox/${DAY}/fp-bad.${generation}.json`;
    const first = keptAs(bad.generation);
    assert.strictEqual((await store.readBytes(first, 100))?.bytes.toString(), 'not json');
    assert.ok(
      lines.some(l => l.includes('moved aside') && l.includes('fp-bad') && l.includes(first)),
      lines.join('\n'),
    );
    // Another bad file of the same name is kept too, beside the first.
    const again = await store.write(name, Buffer.from('[]'), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
    await r.tick();
    assert.strictEqual(
      (await store.readBytes(keptAs(again.generation), 100))?.bytes.toString(),
      '[]',
    );
    assert.ok(await store.stat(first), 'the first copy stays');
    // A file of the right name and shape for another run than the _FAILURE's is not taken.
    await queueRestores(store, env, {...outcomeOf([archived[0]!], 'fp-run'), runId: 'r0'}, 0);
    await failure('fp-run');
    assert.strictEqual((await r.tick()).took, 0);
    assert.ok(lines.some(l => l.includes("it names run r0, the day's _FAILURE run r1")));
    // The day decided _SUCCESS since: its queue files go, unread.
    await queueRestores(store, env, outcomeOf([archived[0]!], 'fp-old'), Date.now());
    const marker = await store.stat(markerObjectName(env, DAY, '_FAILURE'));
    await store.delete(markerObjectName(env, DAY, '_FAILURE'), marker!.generation);
    await r.tick();
    assert.deepStrictEqual(await inbox(), []);
  });

  it('should keep nothing of a tick that lost the race for the record', async () => {
    await queueRestores(store, env, outcomeOf(archived.slice(0, 1), 'fp-race'), Date.now());
    await failure('fp-race');
    const {r} = restores('demo-client', 10);
    // Another tick writes the record between this one's read and its write.
    const read = r.read.bind(r);
    let raced = false;
    r.read = async () => {
      const got = await read();
      if (!raced) {
        raced = true;
        await store.write(restoresObjectName(env), Buffer.from(JSON.stringify(got.record)), {
          contentType: 'application/json',
          ifGenerationMatch: got.generation,
        });
      }
      return got;
    };
    const tick = await r.tick();
    assert.strictEqual(tick.lost, true);
    const stored = (await store.readJson<RestoreRecord>(restoresObjectName(env)))!.value;
    assert.deepStrictEqual(stored.entries, []);
    assert.strictEqual((await inbox()).length, 1, 'the queue file stays for the next tick');
  });

  it('should ask Genesys nothing and replay nothing while a day of the nightly run is undecided, then go on, counting its calls', async () => {
    assert.ok(archived.length >= 14, 'recordings no other case touches');
    const target = archived[13]!;
    await queueRestores(store, env, outcomeOf([target], 'fp-held'), Date.now());
    await failure('fp-held');
    let now = Date.now();
    await registerPriorityDay(store, env, {day: '2026-12-06', runId: 'night'}, now);
    const {r} = restores('demo-client', 10, {now: () => now});
    const held = await r.tick();
    assert.deepStrictEqual(
      [held.held, held.took, held.requested],
      ['priority days undecided: 2026-12-06', 1, 0],
    );
    assert.strictEqual((await r.read()).record.calls, undefined, 'no Genesys call made');
    // The night's day no longer holds it once older than the run grace (check-previous's).
    now += 13 * 3_600_000;
    const went = await r.tick();
    assert.deepStrictEqual([went.held, went.requested], [undefined, 1]);
    const month = new Date(now).toISOString().slice(0, 7);
    assert.deepStrictEqual((await r.read()).record.calls, {[month]: 2}, 'read and asked for');
  });

  describe('when Genesys will not answer', () => {
    afterEach(() => sim.admin('faults', {method: 'DELETE'}));

    /** Every `method` call on `target`'s recording answers `status`. */
    const fault = (method: 'GET' | 'PUT', target: Target, status: number) =>
      sim.admin('faults', {
        body: {
          method,
          path: `recording(?:metadata)?s?/${target.recordingId}`,
          action: 'status',
          status,
        },
      });

    it('should refuse what the client may not see, wait out outages and conflicts a poll interval, and give them up after the hold time', async () => {
      assert.ok(archived.length >= 9, 'recordings no other case touches');
      const [hidden, outage, conflict] = archived.slice(6, 9) as [Target, Target, Target];
      await fault('GET', hidden, 403);
      await fault('GET', outage, 503);
      await fault('PUT', conflict, 409);
      await queueRestores(store, env, outcomeOf([hidden, outage, conflict], 'fp-no'), Date.now());
      await failure('fp-no');
      let now = Date.now();
      const {r} = restores('demo-client', 10, {now: () => now});
      const first = await r.tick();
      assert.deepStrictEqual([first.refused, first.requested, first.outstanding], [1, 0, 2]);
      let {record} = await r.read();
      assert.match(record.refused[0]!.reason, /would not show its state: .*HTTP 403/);
      assert.strictEqual(record.refused[0]!.recordingId, hidden.recordingId);
      assert.ok(record.entries.every(e => e.state === 'queued' && e.checkedAt !== undefined));
      // Within the poll interval nothing is asked again: the failing ones do not take every tick.
      const checked = record.entries.map(e => e.checkedAt);
      await r.tick();
      ({record} = await r.read());
      assert.deepStrictEqual(
        record.entries.map(e => e.checkedAt),
        checked,
      );
      // Past RESTORE_HOLD_HOURS they are given up, each with what Genesys last said.
      now += 25 * 3_600_000;
      const last = await r.tick();
      assert.deepStrictEqual([last.refused, last.outstanding], [2, 0]);
      ({record} = await r.read());
      const reasons = Object.fromEntries(record.refused.map(f => [f.recordingId, f.reason]));
      assert.match(
        reasons[outage.recordingId]!,
        /did not answer for it within RESTORE_HOLD_HOURS \(24 h\); last: .*503/,
      );
      assert.match(
        reasons[conflict.recordingId]!,
        /did not answer for it within RESTORE_HOLD_HOURS \(24 h\); last: .*409/,
      );
    });
  });

  it('should make no more Genesys calls a tick than RESTORE_CALLS_PER_TICK, and not shorten a restore someone else asked for', async () => {
    assert.ok(archived.length >= 11, 'recordings no other case touches');
    const [a, b] = archived.slice(9, 11) as [Target, Target];
    // Someone restored b for 30 days already: it is RESTORING, its archive date far off.
    const far = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const {r: other} = restores('demo-client', 10);
    const session = await (
      other as unknown as {deps: {genesys: GenesysCloud}}
    ).deps.genesys.session(0);
    await session.setArchiveDate(b.conversationId, b.recordingId, far, undefined);
    await queueRestores(store, env, outcomeOf([a, b], 'fp-budget'), Date.now());
    await failure('fp-budget');
    // a is read and asked for (2 calls); b is read, and adopted as it is (1 call, no PUT).
    const {r} = restores('demo-client', 10, {callsPerTick: 4});
    const tick = await r.tick();
    assert.strictEqual(tick.requested, 2);
    const state = await session.recordingState(b.conversationId, b.recordingId);
    assert.strictEqual(state?.archiveDate, far, 'not shortened to RESTORE_HOLD_HOURS');
  });

  it('should count the restore a poll asks for again within RESTORE_CALLS_PER_TICK', async () => {
    assert.ok(archived.length >= 13, 'recordings no other case touches');
    // Two requested restores whose copies lapsed (ARCHIVED again), due for a poll: two calls
    // pay for both polls, but asking again costs one more each: only one is asked this tick.
    const lapsed = archived.slice(11, 13);
    const long = new Date(Date.now() - 3_600_000).toISOString();
    const record = {
      ...(await restores('demo-client', 10).r.read()).record,
      entries: lapsed.map(t => ({
        day: DAY,
        runId: 'r1',
        batchId: 'b1',
        ...t,
        state: 'requested' as const,
        queuedAt: long,
        firstRequestedAt: long,
        requestedAt: long,
        checkedAt: long,
        requests: 1,
      })),
    };
    await store.write(restoresObjectName(env), Buffer.from(JSON.stringify(record)), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
    const {r} = restores('demo-client', 10, {callsPerTick: 2});
    const tick = await r.tick();
    assert.strictEqual(tick.requested, 1);
    const after = (await r.read()).record.entries;
    assert.deepStrictEqual(
      after.map(e => e.requests),
      [2, 1],
      'the second waits for the next tick',
    );
  });
});
