/**
 * Every answer of the planner's process is JSON, including the requests the
 * Functions Framework refuses before our handler runs (its body parsers:
 * malformed JSON, a charset or content encoding it cannot decode): a status
 * and `{"error": …}`, never Express' HTML page with a stack trace and the
 * server's file paths. Run through the real function process, as Cloud
 * Functions runs it.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {answerFor} from '../../functions/entrypoints/json-errors';
import {RunningFunction, startFunction} from '../../local/functions/runner';
import {productEnv} from '../../local/product';

const SOURCE = path.join(__dirname, '..', '..', 'functions', 'index.ts');

describe('planner error answers', function () {
  this.timeout(90_000);
  let logDir: string;
  let planner: RunningFunction;

  before(async () => {
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'planner-errors-'));
    planner = await startFunction(
      {target: 'planExport', signature: 'http', source: SOURCE},
      {
        logDir,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          METADATA_SERVER_DETECTION: 'none',
          GOOGLE_CLOUD_PROJECT: 'planner-errors',
          BUCKET: 'planner-errors',
          ...productEnv(),
        },
      },
    );
  });
  after(async () => {
    await planner?.stop();
    fs.rmSync(logDir, {recursive: true, force: true});
  });

  const json = {'content-type': 'application/json'};
  const cases: Array<{
    name: string;
    init: RequestInit & {duplex?: 'half'};
    status: number;
    message: RegExp;
  }> = [
    {
      name: 'malformed JSON',
      init: {method: 'POST', headers: json, body: '{bad'},
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: 'a JSON body cut short',
      init: {method: 'POST', headers: json, body: '{"day":"2023-02-01"'},
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: 'a body that is not JSON',
      init: {method: 'POST', headers: {'content-type': 'text/plain'}, body: 'day=2023-02-01'},
      status: 415,
      message: /send JSON/,
    },
    {
      name: 'a form',
      init: {
        method: 'POST',
        headers: {'content-type': 'application/x-www-form-urlencoded'},
        body: 'day=2023-02-01',
      },
      status: 415,
      message: /send JSON/,
    },
    {
      name: 'JSON in a charset other than UTF-8',
      init: {
        method: 'POST',
        headers: {'content-type': 'application/json; charset=latin1'},
        body: '{"day":"2023-02-01"}',
      },
      status: 415,
      message: /charset/,
    },
    {
      name: 'an unknown content encoding',
      init: {
        method: 'POST',
        headers: {...json, 'content-encoding': 'x-unknown'},
        body: '{"day":"2023-02-01"}',
      },
      status: 415,
      message: /content encoding/,
    },
    {
      name: 'a body that is not gzip although it says so',
      init: {
        method: 'POST',
        headers: {...json, 'content-encoding': 'gzip'},
        body: '{"day":"2023-02-01"}',
      },
      status: 400,
      message: /could not be decoded/,
    },
    {
      name: 'a huge JSON body',
      init: {
        method: 'POST',
        headers: json,
        body: JSON.stringify({day: '2023-02-01', padding: 'x'.repeat(2 * 1024 * 1024)}),
      },
      status: 413,
      message: /at most 64 KiB/,
    },
    {
      // The framework parses the body before the planner sees its size.
      name: 'a huge malformed body',
      init: {method: 'POST', headers: json, body: '{' + 'x'.repeat(2 * 1024 * 1024)},
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: 'a huge body that is not JSON',
      init: {
        method: 'POST',
        headers: {'content-type': 'application/octet-stream'},
        body: Buffer.alloc(2 * 1024 * 1024),
      },
      status: 413,
      message: /at most 64 KiB/,
    },
    {
      name: 'a huge body sent without a length (chunked)',
      init: {
        method: 'POST',
        headers: json,
        body: new ReadableStream({
          start(controller) {
            const text = new TextEncoder();
            controller.enqueue(text.encode('{"day":"2023-02-01","padding":"'));
            for (let i = 0; i < 32; i++) controller.enqueue(text.encode('x'.repeat(64 * 1024)));
            controller.enqueue(text.encode('"}'));
            controller.close();
          },
        }),
        duplex: 'half',
      },
      status: 413,
      message: /at most 64 KiB/,
    },
  ];

  for (const c of cases) {
    it(`should answer ${c.status} with a JSON error, no HTML, trace or path, to ${c.name}`, async () => {
      const res = await fetch(planner.url, c.init);
      const text = await res.text();
      assert.strictEqual(res.status, c.status, text.slice(0, 2000));
      assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
      assert.doesNotMatch(text, /<html|<pre|<!DOCTYPE/i);
      assert.doesNotMatch(text, /\bat \S+ \(|\bat [^\s]+:\d+:\d+|node_modules|node:internal/);
      assert.doesNotMatch(text, /\/(work|home|tmp|usr|workspace)\//);
      assert.ok(!text.includes(process.cwd()), 'no server path');
      const body = JSON.parse(text) as {error?: unknown};
      assert.deepStrictEqual(Object.keys(body), ['error']);
      assert.strictEqual(typeof body.error, 'string');
      assert.match(body.error as string, c.message);
    });
  }

  it('should log each refusal as one JSON line, without the body or a stack trace', async () => {
    const file = path.join(logDir, 'function-planExport.log');
    const refusals = () =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(l => l.startsWith('{'))
        .map(l => JSON.parse(l) as {severity?: string; message?: string; status?: number})
        .filter(l => l.message === 'request refused before the function ran');
    const before = refusals().length;
    const res = await fetch(planner.url, {method: 'POST', headers: json, body: '{"secret-ish'});
    assert.strictEqual(res.status, 400);
    await res.text();
    for (let i = 0; i < 50 && refusals().length === before; i++)
      await new Promise(r => setTimeout(r, 100));
    const latest = refusals().slice(before);
    assert.strictEqual(latest.length, 1, 'one line for the refusal');
    assert.strictEqual(latest[0]!.severity, 'WARNING');
    assert.strictEqual(latest[0]!.status, 400);
    const log = fs.readFileSync(file, 'utf8');
    assert.doesNotMatch(log, /secret-ish/, 'the body is never logged');
    assert.doesNotMatch(log, /^\s+at /m, 'no stack trace in the log');
  });

  it('should still plan a well-formed request (dry run is refused only for what it says)', async () => {
    const res = await fetch(planner.url, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({day: '2099-01-01', dryRun: true}),
    });
    assert.strictEqual(res.status, 409);
    assert.match(((await res.json()) as {error: string}).error, /too recent/);
  });
});

describe('planner error answers: what the framework refuses, mapped', () => {
  it('should map a body over the framework limit to 413 and its limit', () => {
    const err = Object.assign(new Error('request entity too large'), {
      status: 413,
      expose: true,
      type: 'entity.too.large',
      limit: 1024 * 1024 * 1024,
      length: 2 * 1024 * 1024 * 1024,
    });
    assert.deepStrictEqual(answerFor(err), {
      status: 413,
      error: 'the request body is too large: at most 1.0 GiB',
      type: 'entity.too.large',
    });
  });

  it('should never expose a 5xx message or anything but one line', () => {
    const err = Object.assign(new Error('EACCES: /srv/secret/path\n    at x (/srv/a.js:1:1)'), {
      status: 500,
    });
    assert.deepStrictEqual(answerFor(err), {
      status: 500,
      error: 'the request could not be handled; see the logs',
    });
    assert.strictEqual(answerFor(new Error('no status')).status, 500);
    const weird = Object.assign(new Error('first line\n    at y (/srv/b.js:2:2)'), {
      status: 422,
      expose: true,
    });
    assert.deepStrictEqual(answerFor(weird), {status: 422, error: 'first line'});
    assert.deepStrictEqual(answerFor(undefined), {status: 404, error: 'not found'});
  });
});
