/**
 * Genesys API calls of one batch in full mode (in-process, real clock): a
 * batch of 100 conversations holding more than 100 recordings is one batch
 * download request (its conversations asked for by id), polled once when
 * Genesys completes it as fast as the last one did: about 1.03 calls per
 * conversation, where asking recording by recording took two requests, one
 * after the other, and several polls each.
 */
import * as assert from 'node:assert';
import {GcsStore} from '../../functions/adapters/gcs';
import type {BatchMessage} from '../../functions/core/messages';
import {createLogger} from '../../functions/logger';
import type {TestSimulator} from '../setup/simulator';
import {inProcessWorker, realClock, simulatedDay} from './in-process-worker';

const DAY = '2023-03-09';

interface Truth {
  conversations: Array<{conversationId: string; recordings: unknown[]}>;
}

describe('Genesys calls of a batch (in-process, real clock)', function () {
  this.timeout(120_000);
  let sim: TestSimulator;
  let store: GcsStore;
  let truth: Truth;

  before(async () => {
    ({sim, store, truth} = await simulatedDay<Truth>(DAY, 100, [
      '--audio-bytes',
      '4000',
      '--screen-bytes',
      '4000',
    ]));
  });
  after(async () => {
    await sim?.stop();
  });

  it('should ask for 100 conversations of more than 100 recordings in one request, polled about once', async () => {
    const recordings = truth.conversations.reduce((n, c) => n + c.recordings.length, 0);
    assert.ok(recordings > 100, `the day holds ${recordings} recordings`);
    const worker = inProcessWorker({
      simulatorUrl: sim.url,
      store,
      env: `calls-${Date.now()}`,
      logger: createLogger({service: 'grm'}, () => undefined),
      clock: realClock,
    });
    const message: BatchMessage = {
      day: DAY,
      conversationIds: truth.conversations.map(c => c.conversationId),
    };
    // Twice: a redelivery finds every recording stored and asks Genesys for none.
    for (const round of [1, 2]) {
      await sim.admin('counters', {method: 'DELETE'});
      const report = await worker.handle(
        {...message, ...(round === 2 ? {client: 0} : {})},
        `m-${round}`,
      );
      assert.strictEqual(report.status, 'complete');
      const calls = (await sim.admin<{byEndpoint: Record<string, number>}>('counters')).byEndpoint;
      assert.strictEqual(
        calls['POST /api/v2/recording/batchrequests'],
        round === 1 ? 1 : undefined,
        round === 1 ? 'one request for the whole batch' : 'a redelivery asks for nothing',
      );
      if (round === 1) {
        const polls = calls['GET /api/v2/recording/batchrequests/{jobId}'] ?? 0;
        assert.ok(polls >= 1 && polls <= 2, `polls: ${polls}`);
        const api = Object.entries(calls)
          .filter(([k]) => k.includes('/api/v2/'))
          .reduce((n, [, v]) => n + v, 0);
        assert.ok(api <= 104, `${api} API calls for 100 conversations: ${JSON.stringify(calls)}`);
      }
    }
  });
});
