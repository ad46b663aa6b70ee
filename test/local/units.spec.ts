/** Pure helpers of the local stand-ins, table-driven. */
import * as assert from 'node:assert';
import {createHash, randomBytes} from 'node:crypto';
import * as http from 'node:http';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {UsageError, parseFlags, portFlag} from '../../local/common/cli';
import {FaultInjector, FaultRuleError, parseFaultRule} from '../../local/common/faults';
import {parseRange} from '../../local/gcs/server';
import {parseContentRange} from '../../local/gcs/uploads';
import {CRC32C} from '@google-cloud/storage';
import {
  Checksums,
  Crc32c,
  MultipartError,
  MultipartRelatedParser,
  multipartBoundary,
  parseGoogHash,
} from '../../local/gcs/streams';
import {StoreError, StoredObject, checkPreconditions} from '../../local/gcs/store';
import {NameError, checkBucketName, checkObjectName} from '../../local/gcs/names';
import {sink} from '../helpers';

describe('local stand-in helpers', () => {
  describe('parseFlags', () => {
    const specs = [
      {name: 'port', help: ''},
      {name: 'notify', help: '', repeatable: true},
      {name: 'keep', help: '', boolean: true},
    ];

    it('should read values, repeated flags, switches and --flag=value', () => {
      const flags = parseFlags(['--port', '80', '--notify=a', '--notify', 'b', '--keep'], specs);
      assert.deepStrictEqual(flags.get('port'), ['80']);
      assert.deepStrictEqual(flags.get('notify'), ['a', 'b']);
      assert.deepStrictEqual(flags.get('keep'), ['true']);
    });

    const bad: Array<[string, string[], RegExp]> = [
      ['an unknown flag', ['--prot', '1'], /unknown flag --prot/],
      ['a missing value', ['--port'], /--port needs a value/],
      ['a repeated single flag', ['--port', '1', '--port', '2'], /more than once/],
      ['a bare argument', ['8080'], /unexpected argument/],
      ['a value on a switch', ['--keep=yes'], /takes no value/],
    ];
    for (const [name, argv, message] of bad) {
      it(`should reject ${name}`, () => {
        assert.throws(
          () => parseFlags(argv, specs),
          (e: Error) => e instanceof UsageError && message.test(e.message),
        );
      });
    }

    it('should reject ports out of range', () => {
      assert.throws(() => portFlag(parseFlags(['--port', '70000'], specs)), /between 0 and 65535/);
      assert.throws(() => portFlag(parseFlags(['--port', 'abc'], specs)), /between 0 and 65535/);
      assert.strictEqual(portFlag(parseFlags([], specs)), 0);
    });
  });

  describe('parseFaultRule', () => {
    it('should accept a well-formed rule', () => {
      const rule = parseFaultRule({
        method: 'GET',
        path: '^/x',
        action: 'status',
        status: 503,
        times: 2,
      });
      assert.strictEqual(rule.status, 503);
    });
    const bad: Array<[string, unknown, RegExp]> = [
      ['a non-object', 'x', /JSON object/],
      ['an unknown field', {action: 'reset', colour: 1}, /unknown fault rule field "colour"/],
      ['an unknown action', {action: 'explode'}, /"action" must be one of/],
      ['a status rule without status', {action: 'status'}, /needs an integer "status"/],
      ['a bad regular expression', {action: 'reset', path: '('}, /not a valid regular expression/],
      ['a negative delay', {action: 'delay', delayMs: -1}, /non-negative "delayMs"/],
      ['a probability above 1', {action: 'reset', probability: 2}, /between 0 and 1/],
      ['a negative after', {action: 'reset', after: -1}, /"after" must be a non-negative integer/],
      ['a fractional afterBytes', {action: 'stall', afterBytes: 1.5}, /"afterBytes" must be/],
    ];
    for (const [name, input, message] of bad) {
      it(`should reject ${name}`, () => {
        assert.throws(
          () => parseFaultRule(input),
          (e: Error) => e instanceof FaultRuleError && message.test(e.message),
        );
      });
    }
  });

  describe('FaultInjector over HTTP', () => {
    async function serve(rule: object, body: string) {
      const injector = new FaultInjector();
      injector.add(parseFaultRule(rule));
      const server = http.createServer((req, res) => {
        void injector.apply(req, res).then(done => {
          if (done) return;
          res.writeHead(200, {'content-length': Buffer.byteLength(body)});
          res.end(body);
        });
      });
      await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
      const {port} = server.address() as {port: number};
      return {url: `http://127.0.0.1:${port}/x`, server};
    }

    it('should let the first `after` matching requests through, then fire `times` times', async () => {
      const {url, server} = await serve({action: 'status', status: 503, after: 2, times: 1}, 'ok');
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 4; i++) statuses.push((await fetch(url)).status);
        assert.deepStrictEqual(statuses, [200, 200, 503, 200]);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('should stall a response body after `afterBytes` bytes with the connection open', async () => {
      const {url, server} = await serve({action: 'stall', afterBytes: 3}, '0123456789');
      try {
        const res = await fetch(url);
        assert.strictEqual(res.headers.get('content-length'), '10');
        const reader = res.body!.getReader();
        const first = await reader.read();
        assert.strictEqual(Buffer.from(first.value!).toString(), '012');
        const next = await Promise.race([
          reader.read().then(() => 'more'),
          new Promise(r => setTimeout(() => r('stalled'), 300)),
        ]);
        assert.strictEqual(next, 'stalled');
        await reader.cancel();
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });
  });

  describe('parseRange', () => {
    const cases: Array<[string | undefined, number, ReturnType<typeof parseRange>]> = [
      [undefined, 10, undefined],
      ['bytes=0-4', 10, {start: 0, end: 4}],
      ['bytes=5-', 10, {start: 5, end: 9}],
      ['bytes=-3', 10, {start: 7, end: 9}],
      ['bytes=8-100', 10, {start: 8, end: 9}],
      ['bytes=10-12', 10, 'unsatisfiable'],
      ['bytes=-0', 10, 'unsatisfiable'],
      ['items=0-1', 10, undefined],
    ];
    for (const [header, size, expected] of cases) {
      it(`should read ${header ?? 'no header'} of ${size} bytes`, () => {
        assert.deepStrictEqual(parseRange(header, size), expected);
      });
    }
  });

  describe('parseContentRange', () => {
    const cases: Array<[string | undefined, ReturnType<typeof parseContentRange>]> = [
      [undefined, {start: 0}],
      ['bytes */*', {total: undefined}],
      ['bytes */100', {total: 100}],
      ['bytes 0-99/*', {start: 0, end: 99, total: undefined}],
      ['bytes 100-199/200', {start: 100, end: 199, total: 200}],
      ['bytes 0-*/*', {start: 0, end: undefined, total: undefined}],
      ['bytes 0-*/42', {start: 0, end: undefined, total: 42}],
      ['bytes 9-3/*', 'invalid'],
      ['octets 0-1/2', 'invalid'],
    ];
    for (const [header, expected] of cases) {
      it(`should read ${header ?? 'no header'}`, () => {
        assert.deepStrictEqual(parseContentRange(header), expected);
      });
    }
  });

  describe("Crc32c and Checksums (the GCS emulator's checksums)", () => {
    const official = (pieces: Buffer[]) => {
      const c = new CRC32C();
      for (const p of pieces) c.update(p);
      return c.toString();
    };

    it('should give the CRC32C the official client computes, whatever the pieces', () => {
      // Known value (RFC 3720 B.4: 32 bytes of zeros -> 0x8a9136aa).
      const zeros = new Crc32c();
      zeros.update(Buffer.alloc(32));
      assert.strictEqual(zeros.toString(), Buffer.from('8a9136aa', 'hex').toString('base64'));
      const empty = new Crc32c();
      assert.strictEqual(empty.toString(), official([]));
      const data = randomBytes(100_003);
      for (const cuts of [[], [1], [7, 8, 9], [3, 5, 17, 64, 4097, 99_999], [100_002]]) {
        const pieces: Buffer[] = [];
        let at = 0;
        for (const cut of [...cuts, data.length]) {
          pieces.push(data.subarray(at, cut));
          at = cut;
        }
        const crc = new Crc32c();
        for (const p of pieces) crc.update(p);
        assert.strictEqual(crc.toString(), official(pieces), `cut at ${cuts.join(',')}`);
      }
      for (let n = 0; n < 40; n++) {
        const crc = new Crc32c();
        crc.update(data.subarray(n, 2 * n + 1));
        assert.strictEqual(crc.toString(), official([data.subarray(n, 2 * n + 1)]), `${n} bytes`);
      }
    });

    it('should report size, MD5 and CRC32C as GCS does, and keep counting after a digest', () => {
      const data = randomBytes(10_000);
      const sums = new Checksums();
      sums.update(data.subarray(0, 4_000));
      sums.digests();
      sums.update(data.subarray(4_000));
      assert.deepStrictEqual(
        {size: sums.size, ...sums.digests()},
        {
          size: data.length,
          md5Hash: createHash('md5').update(data).digest('base64'),
          crc32c: official([data]),
        },
      );
    });
  });

  describe('MultipartRelatedParser', () => {
    const boundary = 'xyzBOUNDARY';
    const media = Buffer.from('binary\r\n--xyzBOUNDAR almost a boundary\r\n-- and more');
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Type: application/json\r\n\r\n{"name":"a.ogg"}\r\n--${boundary}\r\nContent-Type: audio/ogg\r\n\r\n`,
      ),
      media,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);

    for (const size of [1, 3, 7, 64, body.length]) {
      it(`should extract metadata and media when the body arrives in ${size}-byte pieces`, async () => {
        const parser = new MultipartRelatedParser(boundary);
        const pieces: Buffer[] = [];
        for (let i = 0; i < body.length; i += size) pieces.push(body.subarray(i, i + size));
        const out: Buffer[] = [];
        await pipeline(
          Readable.from(pieces),
          parser,
          sink(c => out.push(c)),
        );
        const meta = await parser.metadata;
        assert.strictEqual(meta.json.toString(), '{"name":"a.ogg"}');
        assert.strictEqual(meta.mediaHeaders['content-type'], 'audio/ogg');
        assert.ok(Buffer.concat(out).equals(media));
      });
    }

    it('should fail on a body without its closing boundary', async () => {
      const parser = new MultipartRelatedParser(boundary);
      await assert.rejects(
        pipeline(
          Readable.from([body.subarray(0, body.length - 20)]),
          parser,
          sink(() => {}),
        ),
        MultipartError,
      );
    });

    // The Google Cloud CLI's body (Python's email generator): bare LF line ends, and media
    // that ends in CR LF itself, which must stay in the object.
    const lfMedia = Buffer.from('line one\r\nline two\r\n');
    const lfBody = Buffer.concat([
      Buffer.from(
        `--${boundary}\nContent-Type: application/json\nMIME-Version: 1.0\n\n{"name":"a.txt"}\n--${boundary}\nContent-Type: text/plain\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n`,
      ),
      lfMedia,
      Buffer.from(`\n--${boundary}--\n`),
    ]);
    for (const size of [1, 5, lfBody.length]) {
      it(`should read a body whose lines end in a bare LF, in ${size}-byte pieces, keeping media bytes that end in CR LF`, async () => {
        const parser = new MultipartRelatedParser(boundary);
        const pieces: Buffer[] = [];
        for (let i = 0; i < lfBody.length; i += size) pieces.push(lfBody.subarray(i, i + size));
        const out: Buffer[] = [];
        await pipeline(
          Readable.from(pieces),
          parser,
          sink(c => out.push(c)),
        );
        const meta = await parser.metadata;
        assert.strictEqual(meta.json.toString(), '{"name":"a.txt"}');
        assert.strictEqual(meta.mediaHeaders['content-type'], 'text/plain');
        assert.ok(Buffer.concat(out).equals(lfMedia), Buffer.concat(out).toString('latin1'));
      });
    }

    it('should read an empty media part', async () => {
      const parser = new MultipartRelatedParser(boundary);
      const out: Buffer[] = [];
      await pipeline(
        Readable.from([
          Buffer.from(
            `--${boundary}\n\n{}\n--${boundary}\nContent-Type: text/plain\n\n\n--${boundary}--`,
          ),
        ]),
        parser,
        sink(c => out.push(c)),
      );
      assert.deepStrictEqual((await parser.metadata).mediaHeaders, {'content-type': 'text/plain'});
      assert.strictEqual(Buffer.concat(out).length, 0);
    });

    it('should refuse text after the first boundary on its line', async () => {
      const parser = new MultipartRelatedParser(boundary);
      await assert.rejects(
        pipeline(
          Readable.from([Buffer.from(`--${boundary}junk\r\n\r\n{}`)]),
          parser,
          sink(() => {}),
        ),
        MultipartError,
      );
    });

    it('should read boundaries and hash headers', () => {
      // Python's repr of the boundary, as the Google Cloud CLI writes the header.
      assert.strictEqual(
        multipartBoundary("multipart/related; boundary='===============0376762027072576098=='"),
        '===============0376762027072576098==',
      );
      assert.strictEqual(multipartBoundary('multipart/related; boundary="abc"'), 'abc');
      assert.strictEqual(multipartBoundary('multipart/related; boundary=abc; x=y'), 'abc');
      assert.strictEqual(multipartBoundary('application/json'), undefined);
      assert.deepStrictEqual(parseGoogHash('crc32c=AAAAAA==,md5=BBBB'), {
        crc32c: 'AAAAAA==',
        md5: 'BBBB',
      });
    });
  });

  describe('checkPreconditions', () => {
    const current = {generation: '5', metageneration: '2'} as StoredObject;
    const cases: Array<
      [string, StoredObject | undefined, Parameters<typeof checkPreconditions>[1], boolean]
    > = [
      ['ifGenerationMatch=0 on a missing object', undefined, {ifGenerationMatch: '0'}, true],
      ['ifGenerationMatch=0 on an existing object', current, {ifGenerationMatch: '0'}, false],
      ['a matching generation', current, {ifGenerationMatch: '5'}, true],
      ['a different generation', current, {ifGenerationMatch: '6'}, false],
      [
        'ifGenerationNotMatch on the current generation',
        current,
        {ifGenerationNotMatch: '5'},
        false,
      ],
      ['ifGenerationNotMatch=0 on a missing object', undefined, {ifGenerationNotMatch: '0'}, false],
      ['a matching metageneration', current, {ifMetagenerationMatch: '2'}, true],
      [
        'a metageneration precondition on a missing object',
        undefined,
        {ifMetagenerationMatch: '1'},
        false,
      ],
      [
        'ifMetagenerationNotMatch on another metageneration',
        current,
        {ifMetagenerationNotMatch: '3'},
        true,
      ],
    ];
    for (const [name, obj, pre, passes] of cases) {
      it(`should ${passes ? 'pass' : 'fail with 412'} for ${name}`, () => {
        if (passes) checkPreconditions(obj, pre);
        else
          assert.throws(
            () => checkPreconditions(obj, pre),
            (e: Error) => e instanceof StoreError && e.status === 412,
          );
      });
    }
  });

  describe('names', () => {
    for (const ok of ['abc', 'genesys-recordings-local', 'a.b_c-1']) {
      it(`should accept bucket ${ok}`, () => checkBucketName(ok));
    }
    for (const bad of ['ab', 'UPPER', '-dash', 'a..b', '192.168.0.1', 'x'.repeat(64)]) {
      it(`should reject bucket ${bad.slice(0, 20)}`, () =>
        assert.throws(() => checkBucketName(bad), NameError));
    }
    for (const bad of ['', 'a\nb', '.', 'a//b', '/lead', 'a/../b', 'x'.repeat(1025)]) {
      it(`should reject object name ${JSON.stringify(bad.slice(0, 12))}`, () =>
        assert.throws(() => checkObjectName(bad), NameError));
    }
  });
});
