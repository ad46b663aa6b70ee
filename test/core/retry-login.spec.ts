/** The login's retry policy: transient failures as for every call, a refused login is final. */
import * as assert from 'node:assert';
import {decide, decideLogin} from '../../functions/core/retry';

describe('retry policy of the Genesys login', () => {
  it('should retry what every call retries, with the same delays', () => {
    for (const f of [
      {kind: 'http', status: 408},
      {kind: 'http', status: 500},
      {kind: 'http', status: 503},
      {kind: 'http', status: 429, retryAfterSeconds: 7},
      {kind: 'network', code: 'ECONNRESET'},
      {kind: 'network', code: 'ECONNABORTED'},
    ] as const) {
      assert.deepStrictEqual(decideLogin(f, 1, 4, 0.5), decide(f, 1, 4, 0.5, false));
      assert.strictEqual(decideLogin(f, 1, 4, 0.5).action, 'retry');
    }
    assert.deepStrictEqual(
      decideLogin({kind: 'http', status: 429, retryAfterSeconds: 7}, 1, 4, 0),
      {
        action: 'retry',
        delayMs: 7000,
      },
    );
  });

  it('should give up, retryable, when the attempts are spent', () => {
    assert.deepStrictEqual(decideLogin({kind: 'http', status: 503}, 4, 4, 0), {
      action: 'fail',
      retryable: true,
    });
  });

  it('should never retry or "log in again" on refused credentials or other client errors', () => {
    for (const status of [400, 401, 403])
      assert.deepStrictEqual(decideLogin({kind: 'http', status}, 1, 4, 0), {
        action: 'fail',
        retryable: false,
      });
    assert.deepStrictEqual(decideLogin({kind: 'http', status: 404}, 1, 4, 0), {
      action: 'fail',
      retryable: false,
    });
    assert.deepStrictEqual(decideLogin({kind: 'other', message: 'x'}, 1, 4, 0), {
      action: 'fail',
      retryable: false,
    });
  });
});
