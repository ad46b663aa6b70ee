/**
 * The recordings index, pure parts: the conversation attributes the worker
 * puts in its reports (and the checker reads back), the schema file, the row
 * validator and the rows of a decided day, against decideDay's own counts.
 */
import * as assert from 'node:assert';
import {
  ATTRIBUTE_LIMITS,
  conversationAttributes,
  sanitizeAttributes,
} from '../../functions/core/conversation-attributes';
import {decideDay, Gap, ReportRef} from '../../functions/core/day-outcome';
import {indexObjectName, indexPrefix, classifyObject} from '../../functions/core/object-names';
import {IndexRowError, IndexStats, ndjsonChunks} from '../../functions/core/index-ndjson';
import {
  BigQueryField,
  IndexRow,
  RECORDINGS_SCHEMA,
  indexRows,
  rowProblems,
  schemaProblems,
} from '../../functions/core/recordings-index';
import type {ReportConversation} from '../../functions/core/report';
import {newWaiver} from '../../functions/core/waivers';
import {MAX_REPORT_BYTES} from '../../functions/core/limits';
import {batchReportOf, dayPlanOf} from '../helpers';

const DAY = '2026-03-29';
const RUN = 'r20260401t000000-0a0b0c';
const uuid = (n: number, tag = '0000') =>
  `${String(n).padStart(8, '0')}-${tag}-4000-8000-000000000000`;
const conv = (n: number) => uuid(n, '0000');
const rec = (n: number) => uuid(n, '1111');
const user = (n: number) => uuid(n, '2222');
const queue = (n: number) => uuid(n, '3333');
const wrap = (n: number) => uuid(n, '4444');
const division = (n: number) => uuid(n, '5555');

/** An analytics detail record in the shape of the reference's example (genesys-cloud-api.md §3.1). */
function detail(n: number): Record<string, unknown> {
  return {
    conversationId: conv(n),
    conversationStart: '2026-03-29T16:26:31.252Z',
    originatingDirection: 'inbound',
    divisionIds: [division(1)],
    participants: [
      {
        participantId: 'a1',
        purpose: 'customer',
        sessions: [{mediaType: 'voice', segments: [{segmentType: 'interact'}]}],
      },
      {
        purpose: 'acd',
        sessions: [{mediaType: 'voice', segments: [{segmentType: 'interact', queueId: queue(1)}]}],
      },
      {
        purpose: 'agent',
        userId: user(1),
        sessions: [
          {
            mediaType: 'voice',
            segments: [
              {segmentType: 'interact', queueId: queue(1)},
              {segmentType: 'wrapup', wrapUpCode: wrap(1)},
            ],
          },
        ],
      },
    ],
  };
}

describe('recordings index (pure)', () => {
  describe('conversation attributes', () => {
    it('should take direction, divisions, wrap-up codes and participants from an analytics record', () => {
      assert.deepStrictEqual(conversationAttributes(detail(1)), {
        direction: 'inbound',
        divisionIds: [division(1)],
        wrapUpCodes: [wrap(1)],
        participants: [
          {purpose: 'customer'},
          {purpose: 'acd', queueIds: [queue(1)]},
          {purpose: 'agent', userId: user(1), queueIds: [queue(1)]},
        ],
      });
    });

    it('should say nothing without a record, and leave out what has not the expected shape', () => {
      assert.strictEqual(conversationAttributes(undefined), undefined);
      assert.strictEqual(conversationAttributes({conversationId: conv(1)}), undefined);
      assert.deepStrictEqual(
        conversationAttributes({
          originatingDirection: 'In Bound',
          divisionIds: [division(1), 42, {id: division(2)}, 'x'.repeat(65), division(1), '*'],
          participants: [
            {userId: user(1)}, // no purpose: left out
            {
              purpose: 'Agent',
              userId: 7,
              sessions: [{segments: [{queueId: '../etc', wrapUpCode: wrap(2)}]}],
            },
            'nonsense',
            {purpose: 'external', sessions: 'nope'},
          ],
        }),
        {
          divisionIds: [division(1)],
          wrapUpCodes: [wrap(2)],
          participants: [{purpose: 'agent'}, {purpose: 'external'}],
        },
      );
    });

    it('should keep system wrap-up codes and bound every list', () => {
      const many = {
        originatingDirection: 'outbound',
        divisionIds: Array.from({length: 50}, (_, i) => division(i)),
        participants: Array.from({length: 50}, (_, i) => ({
          purpose: 'agent',
          userId: user(i),
          sessions: [
            {
              segments: Array.from({length: 50}, (_, j) => ({
                queueId: queue(j),
                wrapUpCode: j === 0 ? 'ININ-WRAP-UP-TIMEOUT' : wrap(j),
              })),
            },
          ],
        })),
      };
      const a = conversationAttributes(many)!;
      assert.strictEqual(a.divisionIds!.length, ATTRIBUTE_LIMITS.ids);
      assert.strictEqual(a.participants!.length, ATTRIBUTE_LIMITS.participants);
      assert.ok(
        a.participants!.every(p => p.queueIds!.length === ATTRIBUTE_LIMITS.queuesPerParticipant),
      );
      assert.strictEqual(a.wrapUpCodes!.length, ATTRIBUTE_LIMITS.ids);
      assert.strictEqual(a.wrapUpCodes![0], 'ININ-WRAP-UP-TIMEOUT');
      // What the worker extracts, the checker reads back unchanged.
      assert.deepStrictEqual(sanitizeAttributes(a), a);
      assert.deepStrictEqual(
        sanitizeAttributes(conversationAttributes(detail(1))),
        conversationAttributes(detail(1)),
      );
    });

    it('should read back from a report only values of the expected shape', () => {
      assert.strictEqual(sanitizeAttributes('inbound'), undefined);
      assert.strictEqual(sanitizeAttributes([{direction: 'inbound'}]), undefined);
      assert.deepStrictEqual(
        sanitizeAttributes({
          direction: 'inbound; DROP TABLE',
          divisionIds: 'x',
          wrapUpCodes: [wrap(1), null, ['nested']],
          participants: [
            {purpose: 'agent', userId: user(1), queueIds: [queue(1), {}], extra: 1},
            {},
          ],
          unknown: 'dropped',
        }),
        {
          wrapUpCodes: [wrap(1)],
          participants: [{purpose: 'agent', userId: user(1), queueIds: [queue(1)]}],
        },
      );
    });

    it("should keep a report of the most conversations a message may carry, with bounded attributes, under the checker's read limit", () => {
      const a = conversationAttributes({
        originatingDirection: 'outbound',
        divisionIds: Array.from({length: 50}, (_, i) => division(i)),
        participants: Array.from({length: 50}, (_, i) => ({
          purpose: 'voicesurveyflow',
          userId: user(i),
          sessions: [
            {
              segments: Array.from({length: 50}, (_, j) => ({
                queueId: queue(j),
                wrapUpCode: wrap(j),
              })),
            },
          ],
        })),
      });
      const conversations: ReportConversation[] = Array.from({length: 1000}, (_, i) => ({
        conversationId: conv(i),
        conversationStart: '2026-03-29T16:26:31.252Z',
        metadataObject: `brave/${DAY}/metadata/${conv(i)}.json`,
        attributes: a,
        recordings: Array.from({length: 20}, (_, j) => ({
          recordingId: rec(j),
          type: 'call' as const,
          media: 'audio',
          fileState: 'AVAILABLE',
          outcome: 'exported' as const,
          object: `brave/${DAY}/call/${conv(i)}_${rec(j)}.ogg`,
          contentType: 'audio/ogg',
          size: 123456789,
          md5Hash: 'XrY7u+Ae7tCTyyK7j1rNww==',
          crc32c: 'yZRlqg==',
        })),
      }));
      const report = batchReportOf({day: DAY, runId: RUN, batchId: 'b00001'}, conversations, {
        startedAt: '2026-04-01T00:00:00.000Z',
        finishedAt: '2026-04-01T00:01:00.000Z',
      });
      // As the worker writes it (indented).
      const bytes = Buffer.byteLength(JSON.stringify(report, null, 2));
      assert.ok(bytes < MAX_REPORT_BYTES * 0.75, `${(bytes / 2 ** 20).toFixed(1)} MiB`);
    });
  });

  describe('schema', () => {
    it('should be a valid BigQuery schema without the partition key as a column', () => {
      assert.deepStrictEqual(schemaProblems(RECORDINGS_SCHEMA), []);
      assert.ok(!RECORDINGS_SCHEMA.some(f => f.name === 'day'));
      const participants = RECORDINGS_SCHEMA.find(f => f.name === 'participants')!;
      assert.deepStrictEqual([participants.type, participants.mode], ['RECORD', 'REPEATED']);
      assert.ok(RECORDINGS_SCHEMA.every(f => f.description && f.description.length > 5));
    });

    it('should refuse what BigQuery or the row check cannot take', () => {
      const f = (over: Partial<BigQueryField>): BigQueryField => ({
        name: 'a',
        type: 'STRING',
        mode: 'NULLABLE',
        ...over,
      });
      const cases: Array<[unknown, RegExp]> = [
        [[], /not a list of fields/],
        [[f({}), f({name: 'A'})], /a second column of that name/],
        [[f({name: 'day', type: 'DATE'})], /partition key must not be a column/],
        [[f({type: 'GEOGRAPHY' as BigQueryField['type']})], /type GEOGRAPHY is not supported/],
        [[f({mode: undefined})], /mode undefined/],
        [[f({type: 'RECORD'})], /fields belong to RECORD columns/],
        [[f({type: 'RECORD', fields: [f({name: '1x'})]})], /a\.1x: not a column name/],
      ];
      for (const [schema, expected] of cases)
        assert.match(schemaProblems(schema).join('\n'), expected, JSON.stringify(schema));
    });
  });

  describe('row check', () => {
    const good: IndexRow = {
      conversation_id: conv(1),
      conversation_start: '2026-03-29T16:26:31.252Z',
      recording_id: rec(1),
      media_type: 'call',
      size_bytes: 12,
      outcome: 'exported',
      division_ids: [division(1)],
      participants: [{purpose: 'agent', user_id: user(1), queue_ids: [queue(1)]}],
      waiver: {
        reason: 'gone for good',
        waived_by: 'a@b.c',
        waived_at: '2026-04-02T10:00:00Z',
        object: 'o',
      },
      batch_id: 'b00001',
      run_id: RUN,
      decided_at: '2026-04-01T00:05:00.000Z',
    };

    it('should accept a row that fits the schema, with columns absent or null', () => {
      assert.deepStrictEqual(rowProblems(good), []);
      assert.deepStrictEqual(rowProblems({...good, reason: null, wrap_up_codes: null}), []);
    });

    it('should name every way a row misfits: unknown, required, type, form, lists, nested records', () => {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{day: DAY}, /^day: not a column of the schema$/],
        [{outcome: undefined}, /^outcome: required$/],
        [{run_id: null}, /^run_id: required$/],
        [{size_bytes: 1.5}, /^size_bytes: not an integer$/],
        [{size_bytes: '12'}, /^size_bytes: not an integer$/],
        [{conversation_start: '2026-03-29 16:26:31'}, /^conversation_start: not a TIMESTAMP/],
        [{conversation_start: '2026-02-30T00:00:00Z'}, /^conversation_start: not a TIMESTAMP/],
        [{decided_at: 1774000000000}, /^decided_at: not a TIMESTAMP/],
        [{division_ids: division(1)}, /^division_ids: REPEATED, not a list$/],
        [{division_ids: [division(1), null]}, /^division_ids\[1\]: null in a list$/],
        [{participants: [{user_id: user(1)}]}, /^participants\[0\]\.purpose: required$/],
        [
          {participants: [{purpose: 'agent', queue_ids: [1]}]},
          /^participants\[0\]\.queue_ids\[0\]: not a string$/,
        ],
        [{waiver: {...good.waiver, waived_at: 'yesterday'}}, /^waiver\.waived_at: not a TIMESTAMP/],
        [{waiver: 'x'}, /^waiver: not an object$/],
      ];
      for (const [change, expected] of cases) {
        const problems = rowProblems({...good, ...change});
        assert.ok(
          problems.some(p => expected.test(p)),
          `${JSON.stringify(change)}: ${problems.join('; ')}`,
        );
      }
      assert.deepStrictEqual(rowProblems([good]), ['row: not an object']);
    });
  });

  describe('rows of a decided day', () => {
    const plan = dayPlanOf(
      {day: DAY, runId: RUN},
      {b1: [conv(1), conv(2), conv(3)], b2: [conv(4), conv(5)], b3: [conv(6), conv(7)]},
      {createdAt: '2026-04-01T00:00:00.000Z'},
    );
    const times = {startedAt: '2026-04-01T00:00:01.000Z', finishedAt: '2026-04-01T00:00:09.000Z'};
    const exported = (n: number) => ({
      recordingId: rec(n),
      type: 'call' as const,
      media: 'audio',
      fileState: 'AVAILABLE',
      outcome: 'exported' as const,
      object: `brave/${DAY}/call/${conv(1)}_${rec(n)}.ogg`,
      contentType: 'audio/ogg',
      size: 1000 + n,
      md5Hash: 'md5==',
      crc32c: 'crc==',
    });
    const b1: ReportConversation[] = [
      {
        conversationId: conv(1),
        conversationStart: '2026-03-29T08:00:00.123Z',
        attributes: conversationAttributes(detail(1)),
        recordings: [
          exported(1),
          {
            recordingId: rec(2),
            type: 'screen',
            outcome: 'skipped',
            reason: 'deleted at the source (fileState DELETED)',
          },
          {
            recordingId: rec(3),
            type: 'chat',
            outcome: 'failed',
            reason: 'archived at the source (fileState ARCHIVED)',
          },
          {
            recordingId: rec(4),
            media: 'fax',
            outcome: 'failed',
            reason: 'unsupported media type "fax"',
          },
        ],
      },
      // A report written before attributes existed, and a forged start.
      {conversationId: conv(2), conversationStart: 'yesterday', recordings: [exported(5)]},
      {conversationId: conv(3), error: 'conversation not found in Genesys Cloud', recordings: []},
      // Not of this batch: not counted, no row.
      {conversationId: conv(9), recordings: [exported(9)]},
    ];
    const reports: ReportRef[] = [
      {
        object: 'r1',
        generation: '1',
        report: batchReportOf({day: DAY, runId: RUN, batchId: 'b1'}, b1, times),
      },
      {
        object: 'r2',
        generation: '1',
        report: batchReportOf({day: DAY, runId: RUN, batchId: 'b2'}, [], times, {
          status: 'failed',
          error: 'Genesys said 500',
        }),
      },
      {
        object: 'r3',
        generation: '1',
        report: batchReportOf(
          {day: DAY, runId: RUN, batchId: 'b3'},
          [{conversationId: conv(6), recordings: [exported(6)]}],
          times,
        ),
      },
    ];
    const unplanned: Gap[] = [
      {
        batchId: 'unplanned',
        conversationId: conv(8),
        recordingId: rec(8),
        type: 'email',
        reason: 'the plan does not hold its conversation',
      },
    ];
    const waiver = newWaiver({
      day: DAY,
      reasons: {[rec(3)]: 'archived at the source (fileState ARCHIVED)'},
      reason: 'archived long ago, the customer accepts the loss',
      by: 'ops@example.com',
      at: '2026-04-02T10:00:00.000Z',
    });
    const outcome = decideDay(
      plan,
      reports,
      {project: 'p', topic: 't'},
      [{object: 'w1', waiver}],
      unplanned,
    );
    const rows = [
      ...indexRows({plan, reports, unplanned, outcome, decidedAt: '2026-04-02T11:00:00.000Z'}),
    ];

    it('should give every row the schema accepts', () => {
      for (const r of rows) assert.deepStrictEqual(rowProblems(r), [], JSON.stringify(r));
    });

    it('should write a row, not fail the day, when a report holds a conversation error that is not text', () => {
      const odd = structuredClone(reports);
      for (const ref of odd)
        for (const c of ref.report.conversations)
          if (c.error) (c as {error: unknown}).error = {code: 1};
      const oddRows = [
        ...indexRows({
          plan,
          reports: odd,
          unplanned,
          outcome,
          decidedAt: '2026-04-02T11:00:00.000Z',
        }),
      ];
      for (const r of oddRows) assert.deepStrictEqual(rowProblems(r), [], JSON.stringify(r));
      const row = oddRows.find(r => r.conversation_id === conv(3) && r.recording_id === undefined);
      assert.strictEqual(row?.reason, 'failed');
    });

    it("should have one row per recording the verdict counts, with the marker's outcome", () => {
      // Recordings stored for conversations outside the plan are gaps, not in the totals.
      const recordings = rows.filter(
        r => r.recording_id !== undefined && r.batch_id !== 'unplanned',
      );
      const count = (o: string) => recordings.filter(r => r.outcome === o).length;
      const all = outcome.totals.all;
      assert.deepStrictEqual(
        [count('exported'), count('skipped'), count('failed'), count('waived')],
        [all.exported, all.skipped, all.failed, all.waived ?? 0],
      );
      assert.strictEqual(recordings.length, all.expected);
      const gaps = outcome.gaps
        .filter(g => g.recordingId)
        .map(g => g.recordingId)
        .sort();
      // Every recording gap of the marker is a failed row (stray objects included).
      assert.deepStrictEqual(
        rows
          .filter(r => r.recording_id && r.outcome === 'failed')
          .map(r => r.recording_id)
          .sort(),
        gaps,
      );
      assert.ok(
        !rows.some(r => r.conversation_id === conv(9)),
        'a conversation outside its batch has no row',
      );
    });

    it('should give each conversation whose recordings could not be read one row without a recording id', () => {
      const convRows = rows.filter(r => r.recording_id === undefined);
      assert.deepStrictEqual(
        convRows.map(r => [r.conversation_id, r.batch_id, r.outcome, r.reason]),
        [
          [conv(3), 'b1', 'failed', 'conversation not found in Genesys Cloud'],
          [conv(4), 'b2', 'failed', 'batch failed: Genesys said 500'],
          [conv(5), 'b2', 'failed', 'batch failed: Genesys said 500'],
          [conv(7), 'b3', 'failed', 'planned but missing from the batch report'],
        ],
      );
      assert.strictEqual(convRows.length, outcome.missing.conversations);
    });

    it('should carry the stored facts of exported recordings and the conversation attributes, or leave them out', () => {
      const first = rows.find(r => r.recording_id === rec(1))!;
      assert.deepStrictEqual(first, {
        conversation_id: conv(1),
        conversation_start: '2026-03-29T08:00:00.123Z',
        direction: 'inbound',
        division_ids: [division(1)],
        wrap_up_codes: [wrap(1)],
        participants: [
          {purpose: 'customer', user_id: undefined, queue_ids: undefined},
          {purpose: 'acd', user_id: undefined, queue_ids: [queue(1)]},
          {purpose: 'agent', user_id: user(1), queue_ids: [queue(1)]},
        ],
        batch_id: 'b1',
        run_id: RUN,
        decided_at: '2026-04-02T11:00:00.000Z',
        recording_id: rec(1),
        media_type: 'call',
        source_media: 'audio',
        file_state: 'AVAILABLE',
        object_name: `brave/${DAY}/call/${conv(1)}_${rec(1)}.ogg`,
        size_bytes: 1001,
        content_type: 'audio/ogg',
        md5_hash: 'md5==',
        crc32c: 'crc==',
        outcome: 'exported',
      });
      const old = rows.find(r => r.recording_id === rec(5))!;
      for (const k of [
        'conversation_start',
        'direction',
        'division_ids',
        'wrap_up_codes',
        'participants',
      ] as const)
        assert.strictEqual(old[k], undefined, k);
      const skipped = rows.find(r => r.recording_id === rec(2))!;
      assert.deepStrictEqual(
        [skipped.outcome, skipped.reason, skipped.media_type, skipped.object_name],
        ['skipped', 'deleted at the source (fileState DELETED)', 'screen', undefined],
      );
      const fax = rows.find(r => r.recording_id === rec(4))!;
      assert.deepStrictEqual([fax.media_type, fax.source_media], [undefined, 'fax']);
    });

    it('should mark a waived recording with its waiver, and a stray object as an unplanned failure', () => {
      const waived = rows.find(r => r.recording_id === rec(3))!;
      assert.deepStrictEqual(
        [waived.outcome, waived.reason, waived.waiver],
        [
          'waived',
          'archived at the source (fileState ARCHIVED)',
          {
            reason: waiver.reason,
            waived_by: 'ops@example.com',
            waived_at: '2026-04-02T10:00:00.000Z',
            object: 'w1',
          },
        ],
      );
      const stray = rows.find(r => r.recording_id === rec(8))!;
      assert.deepStrictEqual(
        [stray.conversation_id, stray.batch_id, stray.media_type, stray.outcome, stray.reason],
        [conv(8), 'unplanned', 'email', 'failed', unplanned[0]!.reason],
      );
    });

    it('should write the rows as newline-delimited JSON in chunks, counting rows and bytes', () => {
      const stats: IndexStats = {rows: 0, bytes: 0};
      const chunks = [...ndjsonChunks(rows, stats, 512)];
      assert.ok(chunks.length > 2, `${chunks.length} chunks`);
      const text = Buffer.concat(chunks).toString('utf8');
      assert.ok(text.endsWith('\n'));
      const lines = text.trimEnd().split('\n');
      assert.deepStrictEqual(
        lines.map(l => JSON.parse(l) as unknown),
        JSON.parse(JSON.stringify(rows)),
      );
      assert.deepStrictEqual(stats, {rows: rows.length, bytes: Buffer.byteLength(text)});
      assert.deepStrictEqual([...ndjsonChunks([])], []);
    });

    it('should refuse to write a row that does not fit the schema', () => {
      const bad = {...rows[0]!, size_bytes: -0.5};
      const it = ndjsonChunks([rows[0]!, bad], {rows: 0, bytes: 0}, 1);
      assert.ok(it.next().value instanceof Buffer, 'the good row first');
      assert.throws(
        () => it.next(),
        (e: Error) => e instanceof IndexRowError && /size_bytes: not an integer/.test(e.message),
      );
    });
  });

  describe('object names', () => {
    it('should write each day under a Hive key=value folder that one wildcard after the bucket covers', () => {
      assert.strictEqual(
        indexObjectName('brave', DAY),
        `brave/_index/day=${DAY}/recordings.ndjson`,
      );
      assert.ok(indexObjectName('brave', DAY).startsWith(indexPrefix('brave')));
      // Not a decisive object: the checker ignores its own index at once.
      assert.strictEqual(classifyObject('brave', indexObjectName('brave', DAY)), undefined);
    });
  });
});
