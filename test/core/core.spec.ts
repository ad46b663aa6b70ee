/** The pure rules of the export path, table-driven. */
import * as assert from 'node:assert';
import {decodeMessageData, parseBatchMessage} from '../../functions/core/messages';
import {InputError, PermanentError} from '../../functions/core/errors';
import {baseContentType, extensionFor, recordingType} from '../../functions/core/content-types';
import {filterChatTranscript} from '../../functions/core/chat-transcript';
import {adhocBatchId, clientFor, planBatches} from '../../functions/core/batches';
import {
  batchReportObjectName,
  metadataObjectName,
  recordingObjectName,
  rejectedMessageObjectName,
} from '../../functions/core/object-names';

const ID = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;

describe('core rules', () => {
  describe('parseBatchMessage', () => {
    it('should accept the operator format with and without run and batch ids', () => {
      assert.deepStrictEqual(parseBatchMessage({day: '2023-02-01', conversationIds: [ID(1)]}), {
        day: '2023-02-01',
        conversationIds: [ID(1)],
      });
      const full = parseBatchMessage({
        day: '2023-02-01',
        conversationIds: [ID(1), ID(2)],
        runId: 'r-1',
        batchId: 'b0001-abc',
      });
      assert.strictEqual(full.batchId, 'b0001-abc');
      const onClient = parseBatchMessage({day: '2023-02-01', conversationIds: [ID(1)], client: 3});
      assert.strictEqual(onClient.client, 3);
    });

    const bad: Array<[string, unknown, RegExp]> = [
      ['a non-object', [1], /must be a JSON object/],
      [
        'an impossible day',
        {day: '2023-02-30', conversationIds: [ID(1)]},
        /"day" must be a calendar date/,
      ],
      ['no ids', {day: '2023-02-01', conversationIds: []}, /non-empty array/],
      [
        'an id that is a path',
        {day: '2023-02-01', conversationIds: ['../../etc/passwd']},
        /conversationIds\[0\] is not a Genesys conversation id/,
      ],
      ['duplicate ids', {day: '2023-02-01', conversationIds: [ID(1), ID(1)]}, /duplicates/],
      [
        'an unknown field',
        {day: '2023-02-01', conversationIds: [ID(1)], bucket: 'other'},
        /unknown field "bucket"/,
      ],
      [
        'a run id without batch id',
        {day: '2023-02-01', conversationIds: [ID(1)], runId: 'r'},
        /go together/,
      ],
      [
        'a batch id with a slash',
        {day: '2023-02-01', conversationIds: [ID(1)], runId: 'r', batchId: 'a/b'},
        /"batchId" must be/,
      ],
      [
        'a client that is not an index',
        {day: '2023-02-01', conversationIds: [ID(1)], client: 1.5},
        /"client" must be an integer from 0 to 999/,
      ],
      [
        'a negative client',
        {day: '2023-02-01', conversationIds: [ID(1)], client: -1},
        /"client" must be an integer/,
      ],
      [
        'a client given as text',
        {day: '2023-02-01', conversationIds: [ID(1)], client: '0'},
        /"client" must be an integer/,
      ],
      [
        'too many ids',
        {day: '2023-02-01', conversationIds: Array.from({length: 1001}, (_, i) => ID(i))},
        /at most 1000/,
      ],
    ];
    for (const [name, value, message] of bad) {
      it(`should reject ${name}`, () => {
        assert.throws(
          () => parseBatchMessage(value),
          (e: Error) => e instanceof InputError && message.test(e.message),
        );
      });
    }

    it('should decode base64 JSON data and refuse anything else', () => {
      assert.deepStrictEqual(decodeMessageData(Buffer.from('{"a":1}').toString('base64')), {a: 1});
      assert.throws(
        () => decodeMessageData(Buffer.from('not json').toString('base64')),
        InputError,
      );
      assert.throws(() => decodeMessageData(undefined), InputError);
    });
  });

  describe('content types', () => {
    const cases: Array<[string, string | undefined]> = [
      ['audio/ogg', 'ogg'],
      ['audio/wav', 'wav'],
      ['audio/x-wav', 'wav'],
      ['audio/mpeg', 'mp3'],
      ['video/webm', 'webm'],
      ['application/json;charset=UTF-8', 'json'],
      ['Application/ZIP', 'zip'],
      ['message/rfc822', 'eml'],
      ['application/x-unknown', undefined],
    ];
    for (const [type, ext] of cases) {
      it(`should map ${type} to ${ext ?? 'nothing'}`, () =>
        assert.strictEqual(extensionFor(type), ext));
    }
    it('should strip parameters and map Genesys media to folders', () => {
      assert.strictEqual(baseContentType('text/html; charset=utf-8'), 'text/html');
      assert.deepStrictEqual(
        ['audio', 'chat', 'email', 'message', 'screen', 'fax'].map(recordingType),
        ['call', 'chat', 'email', 'message', 'screen', undefined],
      );
    });
  });

  describe('filterChatTranscript', () => {
    const transcript = [
      {bodyType: 'MEMBERJOIN'},
      {bodyType: 'STANDARD', body: 'hi'},
      {bodyType: 'standard', body: 'lower'},
      {bodyType: 'typing'},
      {bodyType: 'NOTICE', body: 'agent joined'},
      {bodyType: 'notice'},
      {bodyType: 'member-leave'},
      {body: 'no type'},
    ];
    it('should keep STANDARD and NOTICE in any case, from an array', () => {
      const {messages, dropped} = filterChatTranscript(transcript);
      assert.strictEqual(messages.length, 4);
      assert.strictEqual(dropped, 4);
    });
    it('should read a Recording object with transcript', () => {
      assert.strictEqual(filterChatTranscript({id: 'r', transcript}).messages.length, 4);
    });
    it('should refuse anything else', () => {
      assert.throws(() => filterChatTranscript({messages: []}), PermanentError);
    });
  });

  describe('batches', () => {
    it('should cut sorted, de-duplicated ids into batches with stable ids', () => {
      const ids = Array.from({length: 250}, (_, i) => ID(250 - i));
      const a = planBatches('2023-02-01', [...ids, ids[0]!], 100);
      const b = planBatches('2023-02-01', [...ids].reverse(), 100);
      assert.deepStrictEqual(
        a.map(x => x.conversationIds.length),
        [100, 100, 50],
      );
      assert.deepStrictEqual(a, b);
      assert.notDeepStrictEqual(planBatches('2023-02-02', ids, 100)[0]!.batchId, a[0]!.batchId);
      assert.strictEqual(
        adhocBatchId('2023-02-01', [ID(2), ID(1)]),
        adhocBatchId('2023-02-01', [ID(1), ID(2)]),
      );
    });

    it("should run a batch on its message's client, modulo the clients configured now", () => {
      const m = {day: '2023-02-01', conversationIds: [ID(1)]};
      assert.strictEqual(clientFor({...m, client: 1}, 'b1', 4), 1);
      assert.strictEqual(clientFor({...m, client: 5}, 'b1', 4), 1);
      assert.strictEqual(clientFor({...m, client: 5}, 'b1', 1), 0);
      // No client named: derived from the batch id, the same on every delivery.
      const derived = clientFor(m, 'adhoc-1', 4);
      assert.strictEqual(clientFor(m, 'adhoc-1', 4), derived);
      assert.ok(derived >= 0 && derived < 4);
    });
  });

  describe('object names', () => {
    it('should follow the SPEC layout', () => {
      assert.strictEqual(
        recordingObjectName('brave', '2023-02-01', 'call', ID(1), ID(2), 'ogg'),
        `brave/2023-02-01/call/${ID(1)}_${ID(2)}.ogg`,
      );
      assert.strictEqual(
        metadataObjectName('brave', '2023-02-01', ID(1)),
        `brave/2023-02-01/metadata/${ID(1)}.json`,
      );
      assert.strictEqual(
        batchReportObjectName('brave', '2023-02-01', 'r1', 'b1'),
        'brave/2023-02-01/_manifest/runs/r1/batches/b1.json',
      );
      assert.strictEqual(
        batchReportObjectName('brave', '2023-02-01', undefined, 'adhoc-1'),
        'brave/2023-02-01/_manifest/adhoc/adhoc-1.json',
      );
      assert.match(
        rejectedMessageObjectName('brave', '../../x'),
        /^brave\/_rejected\/______x-[0-9a-f]{32}\.json$/,
      );
    });
  });
});
