import * as assert from 'node:assert';
import {IN_FLIGHT_POLL_MS, RequestBudget, instanceShare} from '../../functions/core/budget';

/** Reserves and returns the ticket, failing if the budget said wait. */
function take(b: RequestBudget, now: number): number {
  const r = b.reserve(now);
  assert.ok('ticket' in r, `expected a slot at ${now}, was told to wait ${JSON.stringify(r)}`);
  return r.ticket;
}

describe('request budget', () => {
  it('should share a client between every instance that may use it, up to the per-token limit', () => {
    const fleet = {perTokenPerMinute: 300, perClientPerMinute: 3000, workers: 20, planners: 2};
    assert.strictEqual(instanceShare('worker', fleet), 135); // 90 % of 3000 / 20
    assert.strictEqual(instanceShare('planner', fleet), 150); // 10 % of 3000 / 2
    // Every worker and planner on one client at once: within its limit, whatever the fleet.
    for (const workers of [1, 2, 3, 7, 20, 33, 100, 999])
      for (const planners of [1, 2, 5]) {
        const f = {...fleet, workers, planners};
        const w = workers * instanceShare('worker', f);
        const p = planners * instanceShare('planner', f);
        const at = `${workers} workers, ${planners} planners: ${w} + ${p} per minute`;
        assert.ok(w + p <= 3000, at);
        // Each side gets its share (90 % and 10 %), less rounding, or its tokens' whole limit.
        assert.ok(w >= Math.min(2700, workers * 300) - workers, at);
        assert.ok(p >= Math.min(300, planners * 300) - planners, at);
      }
    // Few instances: each is held to its token's limit.
    assert.strictEqual(instanceShare('worker', {...fleet, workers: 1}), 300);
    assert.strictEqual(instanceShare('planner', {...fleet, planners: 1}), 300);
    assert.strictEqual(instanceShare('worker', {...fleet, workers: 100_000}), 1);
  });

  it('should allow the limit per sliding minute', () => {
    const b = new RequestBudget(3);
    for (const now of [0, 10, 20]) b.settle(take(b, now), now + 5);
    assert.deepStrictEqual(b.reserve(30), {waitMs: 60_005 - 30});
    take(b, 60_005);
  });

  it('should hold a slot until a minute after the response, not after the reservation', () => {
    // Reserved at 0, answered at 900: the server may have counted it at 899. Freeing it at
    // 60 000 (a minute after the reservation) is what produced a 429 at every window boundary.
    const b = new RequestBudget(1);
    const t = take(b, 0);
    b.settle(t, 900);
    assert.deepStrictEqual(b.reserve(60_000), {waitMs: 900});
    take(b, 60_900);
  });

  it('should count requests still in flight and wait for one to finish', () => {
    const b = new RequestBudget(2);
    take(b, 0);
    take(b, 0);
    assert.deepStrictEqual(b.reserve(120_000), {waitMs: IN_FLIGHT_POLL_MS});
  });

  it("should stop when the server's window is full and lower its limit to the server's", () => {
    const b = new RequestBudget(300);
    b.settle(take(b, 0), 10);
    b.observe(5, 5, 42, 10);
    assert.strictEqual(b.limit, 5);
    assert.deepStrictEqual(b.reserve(20), {waitMs: 42_000 - 10});
    take(b, 42_010);
    // A server with room says nothing that stops us; it never lifts us above our share.
    b.observe(1000, 3, 60, 42_020);
    assert.strictEqual(b.limit, 300);
    take(b, 42_030);
  });

  it('should pause every request of the client until a Retry-After has passed', () => {
    const b = new RequestBudget(100);
    b.pauseUntil(5000);
    assert.deepStrictEqual(b.reserve(1000), {waitMs: 4000});
    b.pauseUntil(2000); // an earlier pause never shortens a later one
    assert.deepStrictEqual(b.reserve(3000), {waitMs: 2000});
    take(b, 5000);
  });
});
