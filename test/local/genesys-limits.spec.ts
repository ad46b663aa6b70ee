/** The simulator's sliding minutes (local/genesys/limits.ts), on a clock the test moves. */
import * as assert from 'node:assert';
import {MinuteWindow} from '../../local/genesys/limits';

describe('Genesys simulator sliding minute', () => {
  it('should count only the last minute and keep the largest count inside any minute', () => {
    const w = new MinuteWindow();
    const s = 1000;
    // 3 inside the first minute, then 2 more that share a minute with only the last 2 of those.
    for (const t of [0, 30 * s, 59 * s]) w.add(t);
    assert.strictEqual(w.peak, 3);
    assert.strictEqual(w.size(59 * s), 3);
    assert.strictEqual(w.size(60 * s), 2, 'an entry a minute old has left');
    w.add(61 * s);
    w.add(62 * s);
    assert.strictEqual(w.size(62 * s), 4);
    assert.strictEqual(w.peak, 4);
    assert.strictEqual(w.size(200 * s), 0);
    assert.strictEqual(w.peak, 4, 'the peak stays');
  });

  it('should say in whole seconds when the oldest entry leaves (60 when empty)', () => {
    const w = new MinuteWindow();
    assert.strictEqual(w.resetSeconds(0), 60);
    w.add(1000);
    assert.strictEqual(w.resetSeconds(1000), 60);
    assert.strictEqual(w.resetSeconds(30_500), 31);
    assert.strictEqual(w.resetSeconds(60_999), 1);
    assert.strictEqual(w.resetSeconds(61_000), 60);
  });

  it('should keep memory bounded by one minute of entries', () => {
    const w = new MinuteWindow();
    // 100 entries per second for 10 minutes.
    for (let t = 0; t < 600_000; t += 10) w.add(t);
    assert.strictEqual(w.size(600_000 - 10), 6000);
    assert.strictEqual(w.peak, 6000);
    const held = (w as unknown as {times: number[]}).times.length;
    assert.ok(held <= 2 * 6000 + 1024, `holds ${held} timestamps`);
  });
});
