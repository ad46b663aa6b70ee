/**
 * A function deployed with a configuration it cannot use says so in its log:
 * one ERROR line with every problem at cold start, and again on each
 * invocation that fails because of it — the planner answering JSON 500 to
 * Cloud Scheduler, the worker failing the delivery so Pub/Sub retries.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {RunningFunction, startFunction} from '../../local/functions/runner';

const SOURCE = path.join(__dirname, '..', '..', 'functions', 'index.ts');

interface Line {
  severity?: string;
  event?: string;
  problems?: string[];
}

describe('a function with an invalid configuration', function () {
  this.timeout(90_000);
  let logDir: string;
  const running: RunningFunction[] = [];
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    METADATA_SERVER_DETECTION: 'none',
    GOOGLE_CLOUD_PROJECT: 'misconfigured-project',
    EXPORT_ENV: 'Not A Folder',
    DEVELOPER_EMAILS: 'dev@example.com, not-an-address',
    WINDOW_LAG_DAYS: '99',
  };

  before(() => {
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'misconfigured-'));
  });
  after(async () => {
    await Promise.all(running.map(f => f.stop()));
    fs.rmSync(logDir, {recursive: true, force: true});
  });

  const configLines = (target: string): Line[] =>
    fs
      .readFileSync(path.join(logDir, `function-${target}.log`), 'utf8')
      .split('\n')
      .filter(l => l.startsWith('{'))
      .map(l => JSON.parse(l) as Line)
      .filter(l => l.event === 'config_invalid');

  async function start(target: string, signature: 'http' | 'cloudevent') {
    const fn = await startFunction({target, signature, source: SOURCE}, {logDir, env});
    running.push(fn);
    return fn;
  }

  // In the order of the settings table (functions/config.ts), which the docs follow.
  const expected = [
    'BUCKET is required',
    'EXPORT_ENV must be lower-case letters, digits, "-" or "_", got "Not A Folder"',
    'WINDOW_LAG_DAYS must be an integer from 0 to 30, got "99"',
    'DEVELOPER_EMAILS holds invalid addresses: not-an-address',
    'MAIL_FROM is required',
  ];

  it('should log every problem as ERROR at cold start and on each planner request, and answer JSON', async () => {
    const planner = await start('planExport', 'http');
    const atStart = configLines('planExport');
    assert.strictEqual(atStart.length, 1, 'one line at cold start, before any request');
    assert.strictEqual(atStart[0]!.severity, 'ERROR');
    assert.deepStrictEqual(atStart[0]!.problems, expected);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(planner.url, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: '{}',
      });
      assert.strictEqual(res.status, 500);
      const body = (await res.json()) as {error: string};
      assert.match(body.error, /BUCKET is required/);
    }
    const lines = configLines('planExport');
    assert.strictEqual(lines.length, 3, 'cold start plus one per request');
    for (const l of lines) assert.deepStrictEqual(l.problems, expected);
  });

  it('should log the problems when the worker fails a delivery because of them', async () => {
    const worker = await start('exportBatch', 'cloudevent');
    assert.strictEqual(configLines('exportBatch').length, 1);
    const res = await fetch(worker.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-id': '1',
        'ce-specversion': '1.0',
        'ce-source': '//pubsub.googleapis.com/projects/p/topics/t',
        'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      },
      body: JSON.stringify({message: {data: Buffer.from('{}').toString('base64'), messageId: '1'}}),
    });
    assert.ok(
      res.status >= 500,
      `a failed delivery (${res.status}) so Pub/Sub retries after the fix`,
    );
    const lines = configLines('exportBatch');
    assert.strictEqual(lines.length, 2);
    assert.strictEqual(lines[1]!.severity, 'ERROR');
    assert.deepStrictEqual(lines[1]!.problems, expected);
  });
});
