/**
 * Every answer of the planner's process is JSON, including the requests the
 * Functions Framework refuses before our handler runs (its body parsers:
 * malformed JSON, a charset or content encoding it cannot decode): a status
 * and `{"error": …}`, never Express' HTML page with a stack trace and the
 * server's file paths. Bodies are bounded before they are buffered or parsed
 * (by Content-Length, and by counting bytes as they arrive), so a huge or
 * deeply nested body costs neither memory nor a 500, and neither answers nor
 * log lines ever echo more than a short excerpt of the input. Run through the
 * real function processes (the planner, and the worker and checker, which
 * share the guard), as Cloud Functions runs them.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {answerFor, functionTarget} from '../../functions/entrypoints/json-errors';
import {RunningFunction, startFunction} from '../../local/functions/runner';
import {productEnv} from '../../local/product';

const SOURCE = path.join(__dirname, '..', '..', 'functions', 'index.ts');

describe('planner error answers', function () {
  this.timeout(90_000);
  let logDir: string;
  let planner: RunningFunction;
  let worker: RunningFunction;
  let checker: RunningFunction;

  before(async () => {
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'planner-errors-'));
    const opts = {
      logDir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        METADATA_SERVER_DETECTION: 'none',
        GOOGLE_CLOUD_PROJECT: 'planner-errors',
        BUCKET: 'planner-errors',
        ...productEnv(),
      },
    };
    [planner, worker, checker] = await Promise.all([
      startFunction({target: 'planExport', signature: 'http', source: SOURCE}, opts),
      startFunction({target: 'exportBatch', signature: 'cloudevent', source: SOURCE}, opts),
      startFunction({target: 'checkDay', signature: 'cloudevent', source: SOURCE}, opts),
    ]);
  });
  after(async () => {
    await Promise.all([planner?.stop(), worker?.stop(), checker?.stop()]);
    fs.rmSync(logDir, {recursive: true, force: true});
  });

  /** Every log line of the function processes so far. */
  const logLines = () =>
    fs
      .readdirSync(logDir)
      .filter(f => f.startsWith('function-'))
      .flatMap(f => fs.readFileSync(path.join(logDir, f), 'utf8').split('\n'));

  /** A body of `total` bytes of `fill` between `head` and `tail`, streamed in 64 KiB chunks with no length. */
  const streamed = (total: number, head = '{"day":"', fill = 'x', tail = '"}') =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        const text = new TextEncoder();
        controller.enqueue(text.encode(head));
        const chunk = text.encode(fill.repeat(64 * 1024));
        for (let sent = 0; sent < total; sent += chunk.length) controller.enqueue(chunk);
        controller.enqueue(text.encode(tail));
        controller.close();
      },
    });

  /** The peak resident memory of a function process so far, in bytes (Linux). */
  const peakRss = (fn: RunningFunction): number => {
    const status = fs.readFileSync(`/proc/${fn.child.proc.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
  };

  /** An answer is a short JSON error: never the input echoed beyond a short excerpt. */
  const MAX_ANSWER_BYTES = 600;
  /** Nor a log line. */
  const MAX_LOG_LINE_BYTES = 1200;

  const json = {'content-type': 'application/json'};

  // First, while the planner's peak memory is still that of its start.
  it('should refuse a 64 MiB body streamed without a length without holding it in memory', async () => {
    const before = peakRss(planner);
    const res = await fetch(planner.url, {
      method: 'POST',
      headers: json,
      body: streamed(64 * 1024 * 1024),
      duplex: 'half',
    } as RequestInit);
    const text = await res.text();
    assert.strictEqual(res.status, 413, text.slice(0, 300));
    assert.match(text, /at most 8\.0 KiB/);
    // Buffered and parsed, it took the peak up by about 250 MiB. Dropped as it arrives, about 35
    // MiB (garbage the collector has not reclaimed yet, the same for 16 times the size).
    const grown = peakRss(planner) - before;
    assert.ok(grown < 64 * 1024 * 1024, `the planner's peak memory grew by ${grown} bytes`);
  });

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
      status: 415,
      message: /uncompressed/,
    },
    {
      name: 'a gzip body',
      init: {
        method: 'POST',
        headers: {...json, 'content-encoding': 'gzip'},
        body: zlib.gzipSync('{"day":"2023-02-01"}'),
      },
      status: 415,
      message: /uncompressed/,
    },
    {
      // 20 KiB on the wire, 20 MiB once inflated: a size limit on the wire alone would not hold.
      name: 'a gzip bomb',
      init: {
        method: 'POST',
        headers: {...json, 'content-encoding': 'gzip'},
        body: zlib.gzipSync(`{"day":"2023-02-01"${' '.repeat(20 * 1024 * 1024)}}`),
      },
      status: 415,
      message: /uncompressed/,
    },
    {
      name: 'a huge JSON body',
      init: {
        method: 'POST',
        headers: json,
        body: JSON.stringify({day: '2023-02-01', padding: 'x'.repeat(2 * 1024 * 1024)}),
      },
      status: 413,
      message: /is 2\.0 MiB; at most 8\.0 KiB/,
    },
    {
      name: 'a huge malformed body',
      init: {method: 'POST', headers: json, body: '{' + 'x'.repeat(2 * 1024 * 1024)},
      status: 413,
      message: /at most 8\.0 KiB/,
    },
    {
      name: 'a huge body that is not JSON',
      init: {
        method: 'POST',
        headers: {'content-type': 'application/octet-stream'},
        body: Buffer.alloc(2 * 1024 * 1024),
      },
      status: 413,
      message: /at most 8\.0 KiB/,
    },
    {
      name: 'a huge body sent without a length (chunked)',
      init: {method: 'POST', headers: json, body: streamed(2 * 1024 * 1024), duplex: 'half'},
      status: 413,
      message: /too large: at most 8\.0 KiB/,
    },
    {
      name: 'a 20 MiB body sent without a length (chunked)',
      init: {method: 'POST', headers: json, body: streamed(20 * 1024 * 1024), duplex: 'half'},
      status: 413,
      message: /at most 8\.0 KiB/,
    },
    {
      name: 'JSON null',
      init: {method: 'POST', headers: json, body: 'null'},
      status: 400,
      message: /must be a JSON object, e\.g\. \{"day":"2023-02-01"\}; got null$/,
    },
    {
      name: 'a bare JSON string',
      init: {method: 'POST', headers: json, body: '"2023-02-01"'},
      status: 400,
      message: /must be a JSON object, e\.g\. \{"day":"2023-02-01"\}; got a string$/,
    },
    {
      name: 'a bare JSON number',
      init: {method: 'POST', headers: json, body: ' 42 '},
      status: 400,
      message: /must be a JSON object, .*; got a number$/,
    },
    {
      name: 'a JSON array',
      init: {method: 'POST', headers: json, body: '["2023-02-01"]'},
      status: 400,
      message: /must be a JSON object, .*; got an array$/,
    },
    {
      name: 'an array nested 100,000 deep',
      init: {method: 'POST', headers: json, body: '['.repeat(100_000) + ']'.repeat(100_000)},
      status: 413,
      message: /at most 8\.0 KiB/,
    },
    {
      name: 'an object nested 100,000 deep',
      init: {
        method: 'POST',
        headers: json,
        body: '{"day":'.repeat(100_000) + '1' + '}'.repeat(100_000),
      },
      status: 413,
      message: /at most 8\.0 KiB/,
    },
    {
      // Small enough for the old 64 KiB limit: its error message overflowed the stack (a 500).
      name: 'a "day" nested 20,000 deep',
      init: {
        method: 'POST',
        headers: json,
        body: '{"day":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}',
      },
      status: 413,
      message: /at most 8\.0 KiB/,
    },
    {
      name: 'a "day" nested as deep as fits',
      init: {
        method: 'POST',
        headers: json,
        body: '{"day":' + '['.repeat(4000) + ']'.repeat(4000) + '}',
      },
      status: 400,
      message: /^"day" must be a calendar date YYYY-MM-DD, got an array$/,
    },
    {
      name: 'a body without a content type',
      init: {method: 'POST', body: new TextEncoder().encode('{"day":"2023-02-01"}')},
      status: 415,
      message: /Content-Type: application\/json/,
    },
    {
      name: 'a body without a content type sent without a length (chunked)',
      init: {method: 'POST', body: streamed(1024 * 1024), duplex: 'half'},
      status: 415,
      message: /Content-Type: application\/json/,
    },
    {
      name: 'a content type of 8 KB',
      init: {
        method: 'POST',
        headers: {'content-type': `text/plain; x=${'y'.repeat(8000)}`},
        body: 'day=2023-02-01',
      },
      status: 415,
      message: /send JSON/,
    },
    {
      name: 'a schedule time of 8 KB',
      init: {
        method: 'POST',
        headers: {...json, 'x-cloudscheduler-scheduletime': 'z'.repeat(8000)},
        body: '{}',
      },
      status: 400,
      message: /X-CloudScheduler-ScheduleTime "z+…" is not a time/,
    },
    {
      name: '500 unknown fields',
      init: {
        method: 'POST',
        headers: json,
        body: JSON.stringify(Object.fromEntries(Array.from({length: 500}, (_, i) => [`k${i}`, 1]))),
      },
      status: 400,
      message: /^unknown fields: "k0", "k1", "k2", "k3", "k4" and 495 more; known: /,
    },
  ];

  for (const c of cases) {
    it(`should answer ${c.status} with a JSON error, no HTML, trace or path, to ${c.name}`, async () => {
      const res = await fetch(planner.url, c.init);
      const text = await res.text();
      assert.strictEqual(res.status, c.status, text.slice(0, 2000));
      assert.ok(
        text.length <= MAX_ANSWER_BYTES,
        `a ${text.length}-byte answer: ${text.slice(0, 300)}…`,
      );
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

  it('should refuse a declared huge body at once, before it is sent', async () => {
    const started = Date.now();
    const {status, text} = await rawRequest(
      planner.port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"day":',
    );
    assert.strictEqual(status, 413, text);
    assert.match(text, /"error":"the request body is 100\.0 MiB; at most 8\.0 KiB"/);
    assert.ok(Date.now() - started < 5000);
  });

  for (const role of ['worker', 'checker'] as const) {
    const fn = () => (role === 'worker' ? worker : checker);
    const cases: Array<{
      name: string;
      init: RequestInit & {duplex?: 'half'};
      status: number;
      message: RegExp;
    }> = [
      {
        name: 'malformed JSON',
        init: {method: 'POST', headers: json, body: '{"message":'},
        status: 400,
        message: /not valid JSON/,
      },
      {
        name: 'a 20 MiB body streamed without a length',
        init: {method: 'POST', headers: json, body: streamed(20 * 1024 * 1024), duplex: 'half'},
        status: 413,
        message: /at most 256\.0 KiB/,
      },
      {
        name: 'a 2 MiB body',
        init: {
          method: 'POST',
          headers: json,
          body: JSON.stringify({x: 'y'.repeat(2 * 1024 * 1024)}),
        },
        status: 413,
        message: /is 2\.0 MiB; at most 256\.0 KiB/,
      },
      {
        name: 'a gzip body',
        init: {
          method: 'POST',
          headers: {...json, 'content-encoding': 'gzip'},
          body: zlib.gzipSync(' '.repeat(20 * 1024 * 1024)),
        },
        status: 415,
        message: /uncompressed/,
      },
    ];
    for (const c of cases) {
      it(`should answer the ${role} ${c.status} with a short JSON error to ${c.name}`, async () => {
        const res = await fetch(fn().url, c.init);
        const text = await res.text();
        assert.strictEqual(res.status, c.status, text.slice(0, 2000));
        assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
        assert.ok(text.length <= MAX_ANSWER_BYTES, `a ${text.length}-byte answer`);
        assert.match((JSON.parse(text) as {error: string}).error, c.message);
      });
    }
  }

  it('should keep every log line short and free of the bodies and stack traces', () => {
    const lines = logLines();
    assert.ok(
      lines.some(l => l.includes('"status":413')),
      'the refusals are logged',
    );
    for (const line of lines) {
      assert.ok(
        line.length <= MAX_LOG_LINE_BYTES,
        `a ${line.length}-byte log line: ${line.slice(0, 300)}…`,
      );
      assert.doesNotMatch(line, /x{100}|y{100}|z{100}|\[{100}/, 'no body echoed');
      assert.doesNotMatch(line, /^\s+at /, 'no stack trace');
    }
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
      error: 'the request body is 2.0 GiB; at most 1.0 GiB',
      type: 'entity.too.large',
    });
    const {length: _unknown, ...streamed} = err;
    assert.deepStrictEqual(
      answerFor(streamed).error,
      'the request body is too large: at most 1.0 GiB',
    );
  });

  it('should read the function this process serves as the framework does', () => {
    const node = ['node', 'main.js'];
    assert.strictEqual(functionTarget([...node, '--target=planExport'], {}), 'planExport');
    assert.strictEqual(
      functionTarget([...node, '--target', 'checkDay', '--port=1'], {}),
      'checkDay',
    );
    assert.strictEqual(functionTarget(node, {FUNCTION_TARGET: 'exportBatch'}), 'exportBatch');
    assert.strictEqual(
      functionTarget([...node, '--target=planExport'], {FUNCTION_TARGET: 'exportBatch'}),
      'planExport',
    );
    assert.strictEqual(functionTarget(node, {}), undefined);
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

/** Sends raw bytes over one connection and reads the answer (status and body) as it comes. */
function rawRequest(port: number, head: string): Promise<{status: number; text: string}> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', chunk => {
      received += chunk;
      const end = received.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(received);
      if (end >= 0 && length && received.length >= end + 4 + Number(length[1])) {
        socket.destroy();
        resolve({
          status: Number(received.slice(9, 12)),
          text: received.slice(end + 4, end + 4 + Number(length[1])),
        });
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed; received: ${received}`)));
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
  });
}
