/**
 * The Genesys adapter's use of its budget through the official SDK against
 * the simulator: one token per client and instance however many calls run at
 * once (also when they all meet an expired token), and the server's
 * `inin-ratelimit-*` headers obeyed before it has to answer 429.
 */
import * as assert from 'node:assert';
import {randomUUID} from 'node:crypto';
import {GenesysCloud} from '../../functions/adapters/genesys';
import {createLogger} from '../../functions/logger';
import type {Clock} from '../../functions/ports';
import {TestSimulator, startSimulator} from '../setup/simulator';

interface Counters {
  byEndpoint: Record<string, number>;
}

describe('Genesys budget (SDK against the simulator)', function () {
  this.timeout(60_000);
  let sim: TestSimulator;

  before(async () => {
    sim = await startSimulator(['--conversations-per-day', '0']);
  });
  after(async () => {
    await sim?.stop();
  });

  const tokens = async () =>
    (await sim.admin<Counters>('counters')).byEndpoint['POST /oauth/token'] ?? 0;

  /**
   * A fresh adapter; `events` records its waits and retries in order. Its clock jumps over
   * every wait (a sleep lasts at most 5 ms), so a minute's pause costs the test nothing.
   */
  function adapter(tokenRequestsPerMinute = 100_000, migrationSharePercent?: number) {
    const events: string[] = [];
    let skipped = 0;
    const clock: Clock = {
      now: () => Date.now() + skipped,
      sleep: ms => {
        events.push(`wait ${ms}`);
        skipped += ms;
        return new Promise(resolve => setTimeout(resolve, Math.min(ms, 5)));
      },
    };
    const genesys = new GenesysCloud({
      clients: [{clientId: 'demo-client', clientSecret: 'demo-secret'}],
      environment: 'mypurecloud.ie',
      gatewayUrl: sim.url,
      tokenRequestsPerMinute,
      clientRequestsPerMinute: 1_000_000,
      workers: 1,
      planners: 1,
      role: 'worker',
      ...(migrationSharePercent !== undefined ? {migrationSharePercent} : {}),
      maxAttempts: 4,
      clock,
      random: () => 0.5,
      logger: createLogger({service: 'test'}, (_s, line) => {
        const l = JSON.parse(line) as {message: string; reason?: string};
        if (l.message === 'Genesys request will be retried') events.push(`retry ${l.reason}`);
      }),
    });
    return {genesys, events};
  }

  it('should log in once for calls that start together, not once per call', async () => {
    const before = await tokens();
    const session = await adapter().genesys.session(0);
    const metas = await Promise.all(
      Array.from({length: 8}, () => session.recordingMetadata(randomUUID())),
    );
    assert.deepStrictEqual(metas, Array(8).fill(undefined)); // unknown conversations: 404
    assert.strictEqual((await tokens()) - before, 1);
  });

  it('should log in again once when calls in flight all meet an expired token', async () => {
    const session = await adapter().genesys.session(0);
    await session.dataAvailability();
    const before = await tokens();
    await sim.admin('tokens/expire', {method: 'POST'});
    await Promise.all(Array.from({length: 8}, () => session.recordingMetadata(randomUUID())));
    assert.strictEqual((await tokens()) - before, 1);
  });

  it("should pace the migration lane to its share of the instance's budget, and count its requests", async () => {
    // An instance's budget of 10 a minute, the migration's share 50 %: 5 a minute.
    const {genesys, events} = adapter(10, 50);
    const meter = {requests: 0};
    const lane = await genesys.session(0, {lane: 'migration', meter});
    for (let i = 0; i < 5; i++) await lane.dataAvailability();
    assert.ok(
      !events.some(e => e.startsWith('wait')),
      `waited within the share: ${events.join(' | ')}`,
    );
    assert.strictEqual(meter.requests, 5);
    // The nightly lane still has the other half now.
    const nightly = await genesys.session(0);
    for (let i = 0; i < 5; i++) await nightly.dataAvailability();
    assert.ok(
      !events.some(e => e.startsWith('wait')),
      `the nightly lane waited: ${events.join(' | ')}`,
    );
    assert.strictEqual(meter.requests, 5, 'the nightly calls are not on the migration meter');
    // The sixth migration call waits for the window to move.
    await lane.dataAvailability();
    const waited = events
      .filter(e => e.startsWith('wait'))
      .reduce((n, e) => n + Number(e.slice(5)), 0);
    assert.ok(waited >= 55_000, `the sixth call waited only ${waited} ms`);
    assert.strictEqual(meter.requests, 6);
  });

  it("should stop when the server's headers say its window is full, before any 429", async () => {
    const {settings} = await sim.admin<{settings: {rateLimitPerMinute: number}}>('config');
    await sim.admin('config', {method: 'PATCH', body: {rateLimitPerMinute: 3}});
    try {
      // A fresh token: its window is empty. Our own limit is far above the server's.
      const {genesys, events} = adapter();
      const session = await genesys.session(0);
      for (let i = 0; i < 3; i++) await session.dataAvailability();
      // The fourth goes after the pause; the simulator's real clock has not moved, so it is
      // refused and retried: what matters is that the pause came first.
      await session.dataAvailability().catch(() => undefined);
      const firstLongWait = events.findIndex(
        e => /^wait (\d+)$/.test(e) && Number(e.slice(5)) > 30_000,
      );
      assert.ok(firstLongWait >= 0, `no pause: ${events.join(' | ')}`);
      assert.ok(
        !events.slice(0, firstLongWait).some(e => e.startsWith('retry')),
        `a 429 came before the pause: ${events.join(' | ')}`,
      );
    } finally {
      await sim.admin('config', {
        method: 'PATCH',
        body: {rateLimitPerMinute: settings.rateLimitPerMinute},
      });
    }
  });

  describe('with two OAuth clients', () => {
    let two: TestSimulator;
    before(async () => {
      two = await startSimulator([
        '--conversations-per-day',
        '0',
        '--client',
        'client-a:secret-a',
        '--client',
        'client-b:secret-b',
      ]);
    });
    after(async () => {
      await two?.stop();
    });

    /** A worker alone on two clients; each client allows 5 a minute: a share of 4 on each. */
    function twoClients() {
      const waits: number[] = [];
      let skipped = 0;
      const clock: Clock = {
        now: () => Date.now() + skipped,
        sleep: ms => {
          waits.push(ms);
          skipped += ms;
          return new Promise(resolve => setTimeout(resolve, Math.min(ms, 5)));
        },
      };
      const genesys = new GenesysCloud({
        clients: [
          {clientId: 'client-a', clientSecret: 'secret-a'},
          {clientId: 'client-b', clientSecret: 'secret-b'},
        ],
        environment: 'mypurecloud.ie',
        gatewayUrl: two.url,
        tokenRequestsPerMinute: 100_000,
        clientRequestsPerMinute: 5,
        workers: 1,
        planners: 1,
        role: 'worker',
        maxAttempts: 3,
        clock,
        random: () => 0.5,
        logger: createLogger({service: 'test'}, () => undefined),
      });
      return {genesys, waits};
    }
    const callsOf = async () =>
      Object.fromEntries(
        Object.entries(
          (await two.admin<{clients: Record<string, {apiCalls: number}>}>('counters')).clients,
        ).map(([id, c]) => [id, c.apiCalls]),
      );

    it('should spread the calls any client may make over every client, each to its share', async () => {
      await two.admin('counters', {method: 'DELETE'});
      const {genesys, waits} = twoClients();
      const session = await genesys.session(0);
      for (let i = 0; i < 8; i++) await session.recordingMetadata(randomUUID());
      assert.deepStrictEqual(waits, [], 'eight calls, four on each client, go at once');
      assert.deepStrictEqual(await callsOf(), {'client-a': 4, 'client-b': 4});
      await session.recordingMetadata(randomUUID()); // the ninth: both shares are spent
      assert.ok(
        waits.some(w => w > 50_000),
        `waits: ${waits.join(', ')}`,
      );
    });

    it('should keep a batch download request and its polls on the client that submitted it', async () => {
      const {genesys} = twoClients();
      const session = await genesys.session(1);
      await two.admin('counters', {method: 'DELETE'});
      const jobId = await session.submitBatch([{conversationId: randomUUID()}]);
      // Polled on the submitting client: another client would be refused (403).
      const status = await session.batchStatus(jobId);
      assert.ok(status.results.length <= 1);
      assert.deepStrictEqual(await callsOf(), {'client-b': 2});
    });
  });
});
