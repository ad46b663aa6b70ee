/**
 * The Genesys adapter's login (`POST /oauth/token`) through the official SDK
 * against the simulator, with faults injected on the token endpoint: a
 * transient answer (5xx, 408, 429 with Retry-After, a reset connection) is
 * retried with the same policy as every other Genesys call; bad credentials
 * (401/400 invalid_client) fail at once, with a clear message and without the
 * client secret anywhere.
 */
import * as assert from 'node:assert';
import {GenesysCloud} from '../../functions/adapters/genesys';
import {PermanentError, RetryableError} from '../../functions/core/errors';
import {createLogger} from '../../functions/logger';
import type {Clock} from '../../functions/ports';
import {TestSimulator, startSimulator} from '../setup/simulator';
import {withFaults} from '../helpers';

const SECRET = 'demo-secret';
const TOKEN_PATH = '^/oauth/token';

interface Rules {
  rules: Array<{id: number; fired: number; action: string}>;
}

describe('Genesys login retries (SDK against the simulator, faults on oauth/token)', function () {
  this.timeout(60_000);
  let sim: TestSimulator;

  before(async () => {
    sim = await startSimulator(['--conversations-per-day', '0']);
  });
  after(async () => {
    await sim?.stop();
  });

  /** A fresh adapter (no token yet) whose clock records every wait and sleeps at most 5 ms. */
  function adapter(secret = SECRET, maxAttempts = 4, clients = 1) {
    const waits: number[] = [];
    const lines: string[] = [];
    const clock: Clock = {
      now: () => Date.now(),
      sleep: ms => {
        waits.push(ms);
        return new Promise(resolve => setTimeout(resolve, Math.min(ms, 5)));
      },
    };
    const genesys = new GenesysCloud({
      clients: Array.from({length: clients}, () => ({
        clientId: 'demo-client',
        clientSecret: secret,
      })),
      environment: 'mypurecloud.ie',
      gatewayUrl: sim.url,
      tokenRequestsPerMinute: 100_000,
      clientRequestsPerMinute: 1_000_000,
      workers: 1,
      planners: 1,
      role: 'worker',
      maxAttempts,
      clock,
      random: () => 0.5,
      logger: createLogger({service: 'test'}, (_s, line) => lines.push(line)),
    });
    return {genesys, waits, lines};
  }

  /**
   * A pass-through rule listed last: every token request then fires exactly one rule (the
   * first that matches), so the rules' `fired` counts add up to the token requests.
   */
  const counter = {method: 'POST', path: TOKEN_PATH, action: 'delay', delayMs: 0};
  async function tokenRequests(): Promise<number> {
    const {rules} = await sim.admin<Rules>('faults');
    return rules.reduce((n, r) => n + r.fired, 0);
  }

  const transient: Array<{name: string; rule: object; minWaitMs?: number}> = [
    {name: 'a 503', rule: {action: 'status', status: 503, times: 2}},
    {name: 'a 500', rule: {action: 'status', status: 500, times: 1}},
    {name: 'a 408', rule: {action: 'status', status: 408, times: 1}},
    {name: 'a reset connection', rule: {action: 'reset', times: 1}},
    {
      name: 'a 429 with Retry-After',
      rule: {action: 'status', status: 429, headers: {'Retry-After': '2'}, times: 1},
      minWaitMs: 2000,
    },
  ];
  for (const t of transient) {
    it(`should log in after ${t.name} on the token endpoint, and go on to the API call`, async () => {
      const {genesys, waits, lines} = adapter();
      const session = await genesys.session(0);
      const {available, requests} = await withFaults(
        sim.url,
        [{method: 'POST', path: TOKEN_PATH, ...t.rule}, counter],
        async () => ({
          available: await session.dataAvailability(),
          requests: await tokenRequests(),
        }),
      );
      assert.ok(Number.isFinite(available));
      const failures = (t.rule as {times: number}).times;
      assert.strictEqual(requests, failures + 1, 'each failure retried once, then one success');
      const retries = lines
        .map(l => JSON.parse(l) as {message: string; operation?: string; delayMs?: number})
        .filter(l => l.message === 'Genesys request will be retried');
      assert.ok(retries.length >= 1, `no retry logged: ${lines.join('\n')}`);
      assert.ok(retries.every(r => r.operation === 'login'));
      if (t.minWaitMs)
        assert.ok(
          waits.some(w => w >= t.minWaitMs!),
          `waits: ${waits.join(', ')}`,
        );
      else assert.ok(waits.length >= 1, 'backed off before retrying');
      assert.ok(!lines.join('\n').includes(SECRET), 'the secret is not logged');
    });
  }

  it("should renew each client's revoked token once when an unpinned call's retry lands on another client", async () => {
    // Two clients, each with a token; then Genesys revokes both (every token expired at once).
    const {genesys} = adapter(SECRET, 2, 2);
    const none = '00000000-0000-4000-8000-000000000000';
    for (const i of [0, 1]) await (await genesys.session(i)).recordingState(none, none);
    const res = await fetch(`${sim.url}/_admin/tokens/expire`, {method: 'POST'});
    assert.strictEqual(res.status, 200);
    // Unpinned: the first attempt's 401 renews one client's token, the retry goes to the other
    // client, whose 401 renews its own; before, that second 401 failed the call.
    const at = await (await genesys.session(0)).dataAvailability();
    assert.ok(Number.isFinite(at));
  });

  it('should give up after the attempt budget with a retryable error when the token endpoint keeps failing', async () => {
    const {genesys, lines} = adapter(SECRET, 3);
    const session = await genesys.session(0);
    const {err, requests} = await withFaults(
      sim.url,
      [{method: 'POST', path: TOKEN_PATH, action: 'status', status: 503}],
      async () => ({
        err: await session.dataAvailability().then(
          () => undefined,
          (e: unknown) => e,
        ),
        requests: await tokenRequests(),
      }),
    );
    assert.ok(err instanceof RetryableError, `expected a RetryableError, got ${String(err)}`);
    assert.match(err.message, /Genesys login .*failed after 3 attempt\(s\): HTTP 503/);
    assert.strictEqual(requests, 3);
    assert.ok(!lines.join('\n').includes(SECRET));
  });

  const permanent: Array<{name: string; secret: string; rule?: object}> = [
    {name: 'a wrong secret (401 invalid_client)', secret: 'not-the-secret-xyz'},
    {
      name: 'a 400 invalid_client',
      secret: SECRET,
      rule: {
        action: 'status',
        status: 400,
        body: {
          error: 'invalid_client',
          description: 'authentication failed',
          error_description: 'authentication failed',
        },
      },
    },
  ];
  for (const p of permanent) {
    it(`should fail at once on ${p.name}, with a clear message and no secret`, async () => {
      const {genesys, waits, lines} = adapter(p.secret);
      const session = await genesys.session(0);
      const rules = p.rule ? [{method: 'POST', path: TOKEN_PATH, ...p.rule}, counter] : [counter];
      const result = await withFaults(sim.url, rules, async () => {
        const err = await session.dataAvailability().then(
          () => undefined,
          (e: unknown) => e,
        );
        return {err, requests: await tokenRequests()};
      });
      const {err} = result;
      assert.ok(err instanceof PermanentError, `expected a PermanentError, got ${String(err)}`);
      assert.match(
        err.message,
        /Genesys login failed for OAuth client #0 \(HTTP 40[01] invalid_client\)/,
      );
      assert.match(err.message, /check the credentials/);
      assert.strictEqual(result.requests, 1, 'one token request, no retry');
      assert.deepStrictEqual(waits, [], 'no backoff');
      const everything = [err.message, String(err.stack), JSON.stringify(err), ...lines].join('\n');
      assert.ok(!everything.includes(p.secret), 'the secret appears nowhere');
      assert.ok(
        !everything.includes(Buffer.from(`demo-client:${p.secret}`).toString('base64')),
        'nor its Basic header',
      );
    });
  }
});
