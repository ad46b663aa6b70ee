/** The retry policy, the request pacer, configuration parsing and log redaction. */
import * as assert from 'node:assert';
import {backoffMs, decide, parseRetryAfter} from '../../functions/core/retry';
import {parseConfig} from '../../functions/config';
import {ConfigError, RetryableError} from '../../functions/core/errors';
import {createLogger, redact, withLogContext} from '../../functions/logger';
import {parseCredentials} from '../../functions/adapters/genesys';
import {classify} from '../../functions/adapters/genesys-connection';

describe('retry policy', () => {
  it('should wait exactly Retry-After (plus a little jitter) on a 429', () => {
    assert.deepStrictEqual(
      decide({kind: 'http', status: 429, retryAfterSeconds: 42}, 1, 6, 0, false),
      {action: 'retry', delayMs: 42_000},
    );
    assert.deepStrictEqual(
      decide({kind: 'http', status: 429, retryAfterSeconds: 1}, 2, 6, 0.5, false),
      {action: 'retry', delayMs: 1125},
    );
  });

  it('should back off on 408, 5xx and network errors, with equal jitter, capped', () => {
    for (const f of [
      {kind: 'http', status: 408},
      {kind: 'http', status: 503},
      {kind: 'network', code: 'ECONNRESET'},
    ] as const) {
      assert.deepStrictEqual(decide(f, 1, 6, 0, false), {action: 'retry', delayMs: 250});
      assert.deepStrictEqual(decide(f, 3, 6, 0.999, false), {action: 'retry', delayMs: 1999});
    }
    assert.ok(backoffMs(20, 1) <= 30_000);
  });

  it('should log in again once on a 401, then give up', () => {
    assert.deepStrictEqual(decide({kind: 'http', status: 401}, 1, 6, 0, false), {
      action: 'relogin',
    });
    assert.deepStrictEqual(decide({kind: 'http', status: 401}, 2, 6, 0, true), {
      action: 'fail',
      retryable: true,
    });
  });

  it('should not retry other 4xx, and give up transient errors after the last attempt', () => {
    assert.deepStrictEqual(decide({kind: 'http', status: 400}, 1, 6, 0, false), {
      action: 'fail',
      retryable: false,
    });
    assert.deepStrictEqual(decide({kind: 'http', status: 404}, 1, 6, 0, false), {
      action: 'fail',
      retryable: false,
    });
    assert.deepStrictEqual(decide({kind: 'http', status: 503}, 6, 6, 0, false), {
      action: 'fail',
      retryable: true,
    });
    assert.deepStrictEqual(
      decide({kind: 'other', message: 'Missing the required parameter'}, 1, 6, 0, false),
      {action: 'fail', retryable: false},
    );
  });

  it('should read Retry-After as seconds or a date', () => {
    assert.strictEqual(parseRetryAfter('7', 0), 7);
    assert.strictEqual(parseRetryAfter(new Date(10_500).toUTCString(), 0), 10);
    assert.strictEqual(parseRetryAfter(undefined, 0), undefined);
    assert.strictEqual(parseRetryAfter('soon', 0), undefined);
  });

  it('should classify what the SDK rejects with', () => {
    assert.deepStrictEqual(
      classify(
        {status: 429, headers: {'retry-after': '3'}, body: {code: 'too.many.requests.retry.after'}},
        0,
      ),
      {
        kind: 'http',
        status: 429,
        retryAfterSeconds: 3,
        code: 'too.many.requests.retry.after',
      },
    );
    assert.deepStrictEqual(
      classify(Object.assign(new Error('timeout'), {code: 'ECONNABORTED'}), 0),
      {kind: 'network', code: 'ECONNABORTED'},
    );
    assert.deepStrictEqual(classify('Missing the required parameter "jobId"', 0), {
      kind: 'other',
      message: 'Missing the required parameter "jobId"',
    });
  });
});

describe('configuration', () => {
  const base = {
    GOOGLE_CLOUD_PROJECT: 'p',
    BUCKET: 'b',
    EXPORT_ENV: 'brave',
    DEVELOPER_EMAILS: 'dev@example.com',
    MAIL_FROM: 'archive@example.com',
  };

  it('should apply the documented defaults', () => {
    const c = parseConfig(base);
    assert.strictEqual(c.timeZone, 'UTC');
    assert.strictEqual(c.windowLagDays, 3);
    assert.strictEqual(c.batchSize, 100);
    assert.strictEqual(c.archivedPolicy, 'restore');
    assert.strictEqual(c.discovery, 'auto');
    assert.strictEqual(c.checkPreviousDays, 1);
    assert.strictEqual(c.maxAutoReruns, 2);
    assert.strictEqual(c.sendgridKeySecret, 'sendgrid-api-key');
    assert.strictEqual(c.batchDeadlineMs, 480_000);
    assert.strictEqual(c.mediaIdleTimeoutMs, 60_000);
  });

  it('should refuse a batch poll deadline that is not below the batch deadline', () => {
    assert.throws(
      () => parseConfig({...base, BATCH_POLL_DEADLINE_MS: '500000'}),
      /BATCH_POLL_DEADLINE_MS \(500000\) must be below BATCH_DEADLINE_MS \(480000\)/,
    );
    assert.strictEqual(
      parseConfig({...base, BATCH_POLL_DEADLINE_MS: '500000', BATCH_DEADLINE_MS: '540000'})
        .batchDeadlineMs,
      540_000,
    );
  });

  it('should read the developer list in any separator and name every bad address', () => {
    const c = parseConfig({...base, DEVELOPER_EMAILS: ' a@x.io, b@y.org;c@z.com  d@w.net'});
    assert.deepStrictEqual(c.developerEmails, ['a@x.io', 'b@y.org', 'c@z.com', 'd@w.net']);
    assert.throws(
      () => parseConfig({...base, DEVELOPER_EMAILS: 'a@x.io, nobody, <x@y.z>', MAIL_FROM: 'me'}),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /DEVELOPER_EMAILS holds invalid addresses: nobody, <x@y.z>/);
        assert.match(e.message, /MAIL_FROM must be one email address, got "me"/);
        return true;
      },
    );
  });

  it('should report every problem at once', () => {
    assert.throws(
      () =>
        parseConfig({
          BUCKET: '',
          EXPORT_ENV: 'Brave Env',
          TIME_ZONE: 'Mars/Base',
          WINDOW_LAG_DAYS: '-1',
          BATCH_SIZE: 'many',
          ARCHIVED_POLICY: 'maybe',
          GENESYS_GATEWAY_URL: 'ftp://x',
          SENDGRID_API_URL: 'smtp://x',
          CHECK_PREVIOUS_DAYS: '99',
        }),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        for (const p of [
          'GOOGLE_CLOUD_PROJECT',
          'BUCKET',
          'EXPORT_ENV',
          'TIME_ZONE',
          'WINDOW_LAG_DAYS',
          'BATCH_SIZE',
          'ARCHIVED_POLICY',
          'GENESYS_GATEWAY_URL',
          'DEVELOPER_EMAILS',
          'MAIL_FROM',
          'SENDGRID_API_URL',
          'CHECK_PREVIOUS_DAYS',
        ]) {
          assert.ok(
            e.problems.some(x => x.startsWith(p)),
            `missing a problem about ${p}: ${e.problems.join(' | ')}`,
          );
        }
        return true;
      },
    );
  });

  it('should read the Genesys credentials secret and refuse malformed ones without echoing them', () => {
    assert.deepStrictEqual(parseCredentials('[{"clientId":"a","clientSecret":"s"}]'), [
      {clientId: 'a', clientSecret: 's'},
    ]);
    assert.deepStrictEqual(
      parseCredentials('{"clients":[{"clientId":"a","clientSecret":"s"}]}').length,
      1,
    );
    for (const bad of ['nope', '[]', '[{"clientId":"a"}]', '{"clientSecret":"hunter2"}']) {
      assert.throws(
        () => parseCredentials(bad),
        (e: Error) => !e.message.includes('hunter2'),
      );
    }
  });
});

describe('logger', () => {
  it('should write one JSON line with severity, ERROR to stderr', () => {
    const lines: Array<[string, string]> = [];
    const log = createLogger({service: 's'}, (sev, line) => lines.push([sev, line]));
    log.info('hello', {batchId: 'b1'});
    log.error('bad', {batchId: 'b2'});
    assert.deepStrictEqual(JSON.parse(lines[0]![1]), {
      severity: 'INFO',
      message: 'hello',
      service: 's',
      batchId: 'b1',
    });
    assert.strictEqual(lines[1]![0], 'ERROR');
  });

  it('should add the log context to every line of its work only, concurrent work kept apart', async () => {
    const lines: string[] = [];
    const log = createLogger({service: 's'}, (_s, line) => lines.push(line));
    const work = (batchId: string) =>
      withLogContext({batchId}, async () => {
        await new Promise(resolve => setTimeout(resolve, batchId === 'b1' ? 5 : 0));
        log.warn('retrying');
        log.info('done');
      });
    await Promise.all([work('b1'), work('b2')]);
    log.info('outside');
    const seen = lines.map(l => JSON.parse(l) as {message: string; batchId?: string});
    assert.deepStrictEqual(seen.map(l => `${l.message}:${l.batchId ?? '-'}`).sort(), [
      'done:b1',
      'done:b2',
      'outside:-',
      'retrying:b1',
      'retrying:b2',
    ]);
  });

  it('should log errors as fields (name, message, ids, cause chain), a stack only for unexpected ones', async () => {
    const lines: string[] = [];
    const log = createLogger({}, (_s, line) => lines.push(line));
    const io = Object.assign(new Error('socket hang up at https://h/x?Signature=zzz'), {
      code: 'ECONNRESET',
    });
    const err = new RetryableError('could not read gs://b/o', {object: 'o'}, {cause: io});
    log.warn('will retry', {error: err});
    log.error('bug', {error: new TypeError('x is undefined')});
    const [retry, bug] = lines.map(l => JSON.parse(l) as Record<string, Record<string, unknown>>);
    assert.deepStrictEqual(retry!.error, {
      name: 'RetryableError',
      message: 'could not read gs://b/o',
      context: {object: 'o'},
      cause: {
        name: 'Error',
        message: 'socket hang up at https://h/x?[redacted]',
        code: 'ECONNRESET',
      },
    });
    assert.strictEqual(bug!.error!.name, 'TypeError');
    assert.ok(Array.isArray(bug!.error!.stack) && (bug!.error!.stack as string[]).length > 0);
    assert.ok(lines.every(l => !l.includes('\n')));
    // An error thrown out of a context remembers it, for the line the platform prints.
    const thrown = await withLogContext({batchId: 'b9', attempt: 3}, async () => {
      throw err;
    }).catch((e: unknown) => e);
    const printed = JSON.parse(String(log.failure(thrown, 'redeliver').stack)) as Record<
      string,
      unknown
    >;
    assert.deepStrictEqual(
      [printed.severity, printed.message, printed.batchId, printed.attempt],
      ['WARNING', 'redeliver', 'b9', 3],
    );
  });

  it('should never print secrets, tokens or signed URLs', () => {
    const out = JSON.stringify(
      redact({
        clientSecret: 'hunter2',
        authorization: 'Bearer abc.def',
        note: 'sent with Bearer abc.def to https://api.example/media/x?Expires=1&Signature=zzz and key SG.abcdef',
        error: new Error('GET https://h/media/a?Signature=zzz failed'),
      }),
    );
    for (const leak of ['hunter2', 'abc.def', 'Signature=zzz', 'SG.abcdef'])
      assert.ok(!out.includes(leak), `leaked ${leak}: ${out}`);
  });
});
