/** The pure parts of the completeness work: verdicts, names, events, commands, emails, ledgers. */
import * as assert from 'node:assert';
import {execFileSync} from 'node:child_process';
import {decideDay, ReportRef} from '../../functions/core/day-outcome';
import type {DayPlan} from '../../functions/core/day-plan';
import {failureMail, previousDayMail, recoveredMail} from '../../functions/core/emails';
import {formatBytes, plural} from '../../functions/core/human-format';
import {isWaiverOf, newWaiver} from '../../functions/core/waivers';
import {waitForVerdict} from '../../functions/ops/grm';
import type {DayState} from '../../functions/core/day-status';
import {classifyObject} from '../../functions/core/object-names';
import {parsePlanRequest} from '../../functions/core/plan-request';
import {replayCommand, shellQuote} from '../../functions/core/replay';
import {mergeReplayReport} from '../../functions/core/report';
import type {BatchReport, ReportConversation} from '../../functions/core/report';
import {batchReportOf, dayPlanOf} from '../helpers';
import {lastEmailed, newLedger} from '../../functions/core/ledger';

const DAY = '2026-03-29';
const RUN = 'r20260401t000000-0a0b0c';
const id = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;

function plan(batches: Record<string, number[]>): DayPlan {
  const ids = Object.fromEntries(Object.entries(batches).map(([b, ns]) => [b, ns.map(id)]));
  return dayPlanOf({day: DAY, runId: RUN}, ids, {
    window: {
      start: '2026-03-28T23:00:00.000Z',
      end: '2026-03-29T22:00:00.000Z',
      timeZone: 'Europe/Brussels',
    },
  });
}

function ref(
  batchId: string,
  conversations: ReportConversation[],
  extra: Partial<BatchReport> = {},
): ReportRef {
  return {
    object: `x/${batchId}.json`,
    generation: '7',
    report: batchReportOf(
      {day: DAY, runId: RUN, batchId},
      conversations,
      {startedAt: '2026-04-01T00:00:01.000Z', finishedAt: '2026-04-01T00:01:30.000Z'},
      extra,
    ),
  };
}

const exported = (n: number, type: 'call' | 'screen' = 'call') => ({
  recordingId: id(100 + n),
  type,
  outcome: 'exported' as const,
  size: 1000,
  object: `o/${n}`,
});
const target = {project: 'acme-archive', topic: 'recording-batches'};

describe('day verdict (decideDay)', () => {
  it('should succeed when everything is exported or skipped, listing the skipped with reasons', () => {
    const o = decideDay(
      plan({b1: [1, 2]}),
      [
        ref('b1', [
          {conversationId: id(1), recordings: [exported(1), exported(2, 'screen')]},
          {
            conversationId: id(2),
            recordings: [{recordingId: id(9), type: 'call', outcome: 'skipped', reason: 'DELETED'}],
          },
        ]),
      ],
      target,
    );
    assert.strictEqual(o.status, 'success');
    assert.deepStrictEqual(o.totals.all, {
      expected: 3,
      exported: 2,
      skipped: 1,
      failed: 0,
      bytes: 2000,
    });
    assert.deepStrictEqual(o.totals.screen, {
      expected: 1,
      exported: 1,
      skipped: 0,
      failed: 0,
      bytes: 1000,
    });
    assert.deepStrictEqual(o.skipped, [
      {conversationId: id(2), recordingId: id(9), type: 'call', reason: 'DELETED'},
    ]);
    assert.deepStrictEqual(o.gaps, []);
    assert.deepStrictEqual(o.replay, []);
    assert.strictEqual(o.seconds, 90);
    assert.strictEqual(o.window.timeZone, 'Europe/Brussels');
    assert.deepStrictEqual(o.reports, [
      {batchId: 'b1', object: 'x/b1.json', generation: '7', status: 'complete'},
    ]);
  });

  it('should list failed recordings, conversation errors, failed batches and conversations a report lacks', () => {
    const o = decideDay(
      plan({b1: [1, 2, 3], b2: [4, 5]}),
      [
        ref('b1', [
          {
            conversationId: id(1),
            recordings: [
              {recordingId: id(11), type: 'chat', outcome: 'failed', reason: 'ARCHIVED'},
            ],
          },
          {conversationId: id(2), error: 'recordingmetadata: HTTP 500', recordings: []},
        ]),
        ref('b2', [], {status: 'failed', error: 'gave up after 4 attempts'}),
      ],
      target,
    );
    assert.strictEqual(o.status, 'failure');
    assert.deepStrictEqual(
      o.gaps.map(g => [g.conversationId, g.recordingId, g.reason]),
      [
        [id(1), id(11), 'ARCHIVED'],
        [id(2), undefined, 'recordingmetadata: HTTP 500'],
        [id(3), undefined, 'planned but missing from the batch report'],
        [id(4), undefined, 'batch failed: gave up after 4 attempts'],
        [id(5), undefined, 'batch failed: gave up after 4 attempts'],
      ],
    );
    assert.deepStrictEqual(o.missing, {recordings: 1, conversations: 4});
    assert.deepStrictEqual(
      o.replay.map(r => [r.batchId, r.gaps, r.conversations]),
      [
        ['b1', 3, 3],
        ['b2', 2, 2],
      ],
    );
    assert.strictEqual(
      o.replay[1]!.command,
      `gcloud pubsub topics publish recording-batches --project=acme-archive --message='{"day":"${DAY}","conversationIds":["${id(4)}","${id(5)}"],"runId":"${RUN}","batchId":"b2"}'`,
    );
  });

  it('should give the same outcome the same fingerprint and a different outcome another', () => {
    const p = plan({b1: [1]});
    const failing = [
      ref('b1', [
        {conversationId: id(1), recordings: [{recordingId: id(2), outcome: 'failed', reason: 'x'}]},
      ]),
    ];
    const a = decideDay(p, failing, target);
    const b = decideDay(p, [{...failing[0]!, generation: '99'}], target);
    const c = decideDay(
      p,
      [ref('b1', [{conversationId: id(1), recordings: [exported(2)]}])],
      target,
    );
    assert.strictEqual(a.fingerprint, b.fingerprint);
    assert.notStrictEqual(a.fingerprint, c.fingerprint);
  });

  it('should refuse to decide while a planned batch has no report', () => {
    assert.throws(
      () => decideDay(plan({b1: [1], b2: [2]}), [ref('b1', [])], target),
      /b2 has no report/,
    );
  });

  it('should decide an empty day (no conversations) as success at once', () => {
    const o = decideDay(plan({}), [], target);
    assert.strictEqual(o.status, 'success');
    assert.strictEqual(o.totals.all.expected, 0);
  });
});

describe('what the checker looks at (classifyObject)', () => {
  it('should recognise plans and run batch reports and nothing else', () => {
    assert.deepStrictEqual(classifyObject('brave', `brave/${DAY}/_manifest/plan.json`), {
      kind: 'plan',
      day: DAY,
    });
    assert.deepStrictEqual(
      classifyObject('brave', `brave/${DAY}/_manifest/runs/${RUN}/batches/b0001-ab.json`),
      {
        kind: 'report',
        day: DAY,
        runId: RUN,
        batchId: 'b0001-ab',
      },
    );
    for (const name of [
      `brave/${DAY}/_SUCCESS`,
      `brave/${DAY}/_FAILURE`,
      `brave/${DAY}/_manifest/decision.json`,
      `brave/${DAY}/_manifest/adhoc/adhoc-1.json`,
      `brave/${DAY}/_manifest/runs/${RUN}/plan.json`,
      `brave/${DAY}/_manifest/runs/${RUN}/batches/../plan.json`,
      `brave/${DAY}/metadata/x.json`,
      'brave/2026-02-30/_manifest/plan.json',
      `bravely/${DAY}/_manifest/plan.json`,
      `other/brave/${DAY}/_manifest/plan.json`,
    ])
      assert.strictEqual(classifyObject('brave', name), undefined, name);
  });
});

describe('replaying only the gaps', () => {
  const failedOne = (n: number) => ({
    recordingId: id(100 + n),
    type: 'call' as const,
    outcome: 'failed' as const,
    reason: 'archived',
  });
  const three = [1, 2, 3].map(n => ({
    conversationId: id(n),
    recordings: [n === 2 ? failedOne(n) : exported(n)],
  }));

  it('should replay a batch with only its conversations that have gaps', () => {
    const o = decideDay(plan({b1: [1, 2, 3]}), [ref('b1', three)], target);
    assert.strictEqual(o.replay.length, 1);
    assert.deepStrictEqual(o.replay[0]!.message, {
      day: DAY,
      conversationIds: [id(2)],
      runId: RUN,
      batchId: 'b1',
    });
    assert.strictEqual(o.replay[0]!.conversations, 1);
    assert.ok(o.replay[0]!.command.includes(id(2)) && !o.replay[0]!.command.includes(id(1)));
  });

  it('should keep a replay on the OAuth client the batch ran on (batch results are per client)', () => {
    const onClient = {...ref('b1', three), report: {...ref('b1', three).report, oauthClient: 2}};
    const o = decideDay(plan({b1: [1, 2, 3]}), [onClient], target);
    assert.strictEqual(o.replay[0]!.message.client, 2);
    assert.ok(o.replay[0]!.command.includes('"client":2'), o.replay[0]!.command);
  });

  it('should merge a replay of some conversations over the batch report of the same run', () => {
    const before = ref('b1', three).report;
    const fresh = ref('b1', [{conversationId: id(2), recordings: [exported(2)]}]).report;
    const merged = mergeReplayReport(before, fresh);
    assert.deepStrictEqual(
      merged.conversations.map(c => [c.conversationId, c.recordings[0]!.outcome]),
      [
        [id(1), 'exported'],
        [id(3), 'exported'],
        [id(2), 'exported'],
      ],
    );
    assert.strictEqual(merged.totals.call.exported, 3);
    assert.strictEqual(merged.totals.call.failed, 0);
    const o = decideDay(plan({b1: [1, 2, 3]}), [{...ref('b1', []), report: merged}], target);
    assert.strictEqual(o.status, 'success');
    // Another run's report, or a whole-batch replay, replaces rather than merges.
    assert.strictEqual(mergeReplayReport({...before, runId: 'r-other'}, fresh), fresh);
    assert.strictEqual(mergeReplayReport(undefined, fresh), fresh);
  });
});

describe('waivers', () => {
  const ERROR_REASON = 'in an error state at the source (fileState ERROR)';
  const failedRec = (n: number, reason = ERROR_REASON) => ({
    recordingId: id(100 + n),
    type: 'call' as const,
    outcome: 'failed' as const,
    reason,
  });
  const convs = [1, 2].map(n => ({
    conversationId: id(n),
    recordings: [n === 1 ? exported(n) : failedRec(n)],
  }));
  const waiver = newWaiver({
    day: DAY,
    reasons: {[id(102)]: ERROR_REASON},
    reason: 'broken at the source, Genesys case 42',
    by: 'ops@example.com',
    at: '2026-04-02T08:00:00.000Z',
  });

  it('should let a waiver cover a recording stored for a conversation the plan does not hold', () => {
    const reason =
      "gs object x is in the bucket, but the day's plan does not hold its conversation";
    const gap = {batchId: 'unplanned', conversationId: id(9), recordingId: id(109), reason};
    const w = newWaiver({
      day: DAY,
      reasons: {[id(109)]: reason},
      reason: 'purged at the source by retention; the archive keeps it',
      by: 'ops@example.com',
      at: '2026-04-02T08:00:00.000Z',
    });
    const without = decideDay(plan({b1: [1]}), [ref('b1', [convs[0]!])], target, [], [gap]);
    assert.strictEqual(without.status, 'failure');
    const o = decideDay(
      plan({b1: [1]}),
      [ref('b1', [convs[0]!])],
      target,
      [{object: 'w/9.json', waiver: w}],
      [gap],
    );
    assert.strictEqual(o.status, 'success');
    assert.deepStrictEqual([o.totals.all.waived, o.waived[0]?.recordingId], [1, id(109)]);
  });

  it('should count a waived recording apart, never as exported, list it, and let the day succeed', () => {
    const o = decideDay(plan({b1: [1, 2]}), [ref('b1', convs)], target, [
      {object: 'w/1.json', waiver},
    ]);
    assert.strictEqual(o.status, 'success');
    assert.deepStrictEqual(
      [o.totals.all.exported, o.totals.all.failed, o.totals.all.waived, o.totals.all.expected],
      [1, 0, 1, 2],
    );
    assert.deepStrictEqual(o.waived, [
      {
        conversationId: id(2),
        recordingId: id(102),
        type: 'call',
        reason: ERROR_REASON,
        waiver: {object: 'w/1.json', reason: waiver.reason, by: waiver.by, at: waiver.at},
      },
    ]);
    const without = decideDay(plan({b1: [1, 2]}), [ref('b1', convs)], target);
    assert.strictEqual(without.status, 'failure');
    assert.notStrictEqual(o.fingerprint, without.fingerprint);
  });

  it('should never waive an exported recording, nor a later failure for another reason', () => {
    const all = newWaiver({...waiver, reasons: {[id(101)]: ERROR_REASON, [id(102)]: ERROR_REASON}});
    const o = decideDay(plan({b1: [1, 2]}), [ref('b1', convs)], target, [
      {object: 'w', waiver: all},
    ]);
    assert.strictEqual(o.totals.all.exported, 1);
    assert.deepStrictEqual(
      o.waived.map(w => w.recordingId),
      [id(102)],
    );
    const later = [
      convs[0]!,
      {conversationId: id(2), recordings: [failedRec(2, 'download failed: HTTP 500')]},
    ];
    const again = decideDay(plan({b1: [1, 2]}), [ref('b1', later)], target, [
      {object: 'w', waiver},
    ]);
    assert.strictEqual(again.status, 'failure', 'the waiver was for the ERROR state, not this');
    assert.deepStrictEqual(again.waived, []);
  });

  it('should refuse a waiver without recordings, with a vague reason, or without who', () => {
    assert.throws(
      () => newWaiver({day: DAY, reasons: {'x/../y': 'r'}, reason: 'bad', by: 'me', at: 'now'}),
      /not recording ids: x\/\.\.\/y; the reason must say why.*--by must be the email.*no valid time/,
    );
    assert.throws(() => newWaiver({...waiver, reasons: {}}), /name at least one recording/);
  });

  it('should trust only valid waivers of the same day, and decide again when one is written', () => {
    const forged = {...waiver, recordingIds: ['../x']};
    const vague = {...waiver, reason: ''};
    const nobody = {...waiver, by: 'x'};
    assert.ok(isWaiverOf(waiver, DAY));
    assert.ok(!isWaiverOf({...waiver}, '2026-03-30'));
    for (const bad of [forged, vague, nobody, 'text', null]) assert.ok(!isWaiverOf(bad, DAY));
    assert.deepStrictEqual(classifyObject('brave', `brave/${DAY}/_manifest/waivers/w1-ab.json`), {
      kind: 'waiver',
      day: DAY,
    });
    assert.strictEqual(
      classifyObject('brave', `brave/${DAY}/_manifest/waivers/x/y.json`),
      undefined,
    );
  });

  it('should not count conversations a hand-made message added to a batch report', () => {
    const extra = [...convs, {conversationId: id(9), recordings: [failedRec(9)]}];
    const o = decideDay(plan({b1: [1, 2]}), [ref('b1', extra)], target);
    assert.strictEqual(o.totals.all.expected, 2);
    assert.ok(!o.gaps.some(g => g.conversationId === id(9)));
  });
});

describe('replay commands', () => {
  it('should quote for the shell so bash hands gcloud the exact message', () => {
    for (const v of ["it's", 'a b', '{"x":["y"]}', '$(rm -rf /)', 'plain-word']) {
      const echoed = execFileSync('bash', ['-c', `printf %s ${shellQuote(v)}`]).toString();
      assert.strictEqual(echoed, v);
    }
  });

  it('should point gcloud at the emulator of $PUBSUB_EMULATOR_HOST when running locally', () => {
    const cmd = replayCommand(
      {...target, emulatorHost: '127.0.0.1:8085'},
      {day: DAY, conversationIds: [id(1)]},
    );
    assert.ok(
      cmd.startsWith(
        'CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB="http://${PUBSUB_EMULATOR_HOST:?set it from npm run stack}/" CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true gcloud ',
      ),
      cmd,
    );
    assert.ok(!cmd.includes('8085'), 'no port of the stack that wrote it');
    assert.ok(cmd.endsWith(`--message='{"day":"${DAY}","conversationIds":["${id(1)}"]}'`));
  });
});

describe('developer emails', () => {
  const failing = decideDay(
    plan({b1: [1, 2, 3]}),
    [
      ref(
        'b1',
        [1, 2, 3].map(n => ({
          conversationId: id(n),
          recordings: [
            {
              recordingId: id(20 + n),
              type: 'call' as const,
              outcome: 'failed' as const,
              reason: `<b>broken</b> ${n}`,
            },
          ],
        })),
      ),
    ],
    target,
  );

  it('should state env, day and the missing count in the subject, list the first gaps and count the rest', () => {
    const m = failureMail(failing, {env: 'brave', bucket: 'acme', maxGaps: 2});
    assert.strictEqual(
      m.subject,
      `[genesys-recording-migrator] brave ${DAY}: _FAILURE, 3 recordings missing`,
    );
    assert.ok(m.text.includes('1. a transient error: 3 gaps'), m.text);
    assert.ok(m.text.includes('… and 1 more, all listed in _FAILURE.'));
    assert.ok(m.text.includes(`grm replay ${DAY} --wait 600`));
    assert.ok(!m.text.includes('gcloud pubsub'), 'the raw gcloud replay stays in _FAILURE');
    assert.ok(m.text.includes(`gs://acme/brave/${DAY}/_FAILURE`));
    assert.ok(!m.html.includes('<b>broken</b>'), 'reasons are escaped in HTML');
    assert.ok(m.html.includes('&lt;b&gt;broken&lt;/b&gt; 1'));
    assert.ok(m.html.includes(`grm replay ${DAY} --wait 600`));
  });

  it('should lead with the gaps grouped by what fixes them, each with its grm command', () => {
    const reasons = [
      'archived at the source (fileState ARCHIVED): restore it, then replay',
      'in an error state at the source (fileState ERROR)',
      'archived at the source (fileState ARCHIVED): restore it, then replay',
      'still uploading at the source (fileState UPLOADING): replay later',
      'in an error state at the source (fileState ERROR)',
      'archived at the source (fileState ARCHIVED): restore it, then replay',
    ];
    const mixed = decideDay(
      plan({b1: reasons.map((_, i) => i + 1)}),
      [
        ref(
          'b1',
          reasons.map((reason, i) => ({
            conversationId: id(i + 1),
            recordings: [
              {recordingId: id(40 + i), type: 'call' as const, outcome: 'failed' as const, reason},
            ],
          })),
        ),
      ],
      target,
    );
    const m = failureMail(mixed, {env: 'brave', bucket: 'acme', maxGaps: 25});
    const headings = [...m.text.matchAll(/^(\d)\. (.*)$/gm)].map(x => x[2]);
    assert.deepStrictEqual(headings, [
      'archived in Genesys Cloud: 3 gaps',
      'broken at the source: 2 gaps',
      'still uploading to Genesys Cloud: 1 gap',
    ]);
    const commands = [...m.text.matchAll(/^ {5}(grm .*)$/gm)].map(x => x[1]);
    assert.deepStrictEqual(commands, [
      `grm replay ${DAY} --wait 600`,
      `grm waive ${DAY} --recording ${id(41)} --recording ${id(44)} --reason "broken at the source (fileState ERROR); Genesys case NUMBER" --by YOUR_EMAIL`,
      `grm replay ${DAY} --wait 600`,
    ]);
    assert.ok(
      m.text.indexOf('1. archived') < m.text.indexOf('recordings  expected'),
      'the groups come before the counts',
    );
    assert.deepStrictEqual(
      [...m.html.matchAll(/<li data-kind="([a-z-]+)">/g)].map(x => x[1]),
      ['archived', 'source-error', 'uploading'],
    );
  });

  it('should list at most EMAIL_MAX_GAPS gaps in all, and say when a waiver names only some of its group', () => {
    const n = 30;
    const broken = decideDay(
      plan({b1: Array.from({length: n}, (_, i) => i + 1)}),
      [
        ref(
          'b1',
          Array.from({length: n}, (_, i) => ({
            conversationId: id(i + 1),
            recordings: [
              {
                recordingId: id(100 + i),
                type: 'call' as const,
                outcome: 'failed' as const,
                reason:
                  i < 3
                    ? 'batch failed: boom'
                    : 'in an error state at the source (fileState ERROR)',
              },
            ],
          })),
        ),
      ],
      target,
    );
    const m = failureMail(broken, {env: 'brave', bucket: 'acme', maxGaps: 5});
    assert.strictEqual([...m.text.matchAll(/^ {3}- /gm)].length, 5, 'five gaps listed in all');
    assert.ok(
      m.text.includes(`(it names the first 25 of 27; \`grm gaps ${DAY}\` lists the others)`),
      m.text,
    );
    assert.ok(
      m.text.includes('… and 24 more, all listed in _FAILURE.'),
      'the larger group shows 3',
    );
    assert.ok(m.text.includes('… and 1 more, all listed in _FAILURE.'), 'the smaller shows 2');
  });

  it("should show the last nights' states and what changed since the previous decision", () => {
    const nights = [
      {day: '2026-03-26', state: 'success' as const},
      {day: '2026-03-27', state: 'never planned' as const},
      {day: '2026-03-28', state: 'failure' as const},
      {day: DAY, state: 'failure' as const},
    ];
    const m = failureMail(
      failing,
      {env: 'brave', bucket: 'acme', maxGaps: 5},
      {
        nights,
        since: {
          previous: {runId: 'r-1', status: 'failure', missing: {recordings: 5, conversations: 0}},
          newGaps: 1,
          stillOpen: 2,
          closed: 3,
        },
      },
    );
    assert.match(m.text, /^ {2}✓·✗✗ {2}\(2 failure, 1 never planned\)$/m);
    assert.match(
      m.text,
      /The previous decision \(run r-1\) was _FAILURE, 5 recordings missing\. Since the last email: 1 new gap, 2 still open, 3 closed\./,
    );
    assert.deepStrictEqual(
      [...m.html.matchAll(/data-day="([^"]+)" data-state="([^"]+)"/g)].map(x => [x[1], x[2]]),
      nights.map(n => [n.day, n.state]),
    );
    const first = failureMail(
      failing,
      {env: 'brave', bucket: 'acme', maxGaps: 5},
      {since: {newGaps: 3, stillOpen: 0, closed: 0}},
    );
    assert.match(first.text, /This is the first decision of this day\.\n/);
  });

  it('should count in English and sizes in human units, and say that the table counts recordings', () => {
    const twoBatches = decideDay(
      plan({b1: [1], b2: [2]}),
      [1, 2].map(n =>
        ref(`b${n}`, [
          {
            conversationId: id(n),
            recordings: [
              {
                recordingId: id(20 + n),
                type: 'call' as const,
                outcome: n === 1 ? ('exported' as const) : ('failed' as const),
                ...(n === 1
                  ? {object: 'x.ogg', size: 18_817_603, md5Hash: 'm', crc32c: 'c'}
                  : {reason: 'archived'}),
              },
            ],
          },
        ]),
      ),
      target,
    );
    const m = failureMail(twoBatches, {env: 'brave', bucket: 'acme', maxGaps: 5});
    assert.match(m.text, /2 conversations in 2 batches,/);
    assert.doesNotMatch(m.text + m.html, /batchs/);
    assert.match(m.text, /^ {2}recordings +expected +exported +skipped +failed +size$/m);
    assert.match(m.text, /^ {2}all types +2 +1 +0 +1 +17\.9 MiB$/m);
    assert.ok(m.html.includes('>17.9 MiB<'));
  });

  it('should pluralise and format sizes like a person would (units)', () => {
    assert.deepStrictEqual(
      [
        plural(1, 'batch'),
        plural(2, 'batch'),
        plural(0, 'recording'),
        plural(3, 'failed batch'),
        plural(2, 'delivery'),
        plural(2, 'day'),
      ],
      ['1 batch', '2 batches', '0 recordings', '3 failed batches', '2 deliveries', '2 days'],
    );
    assert.deepStrictEqual([0, 512, 1536, 18_817_603, 5 * 1024 ** 4].map(formatBytes), [
      '0 B',
      '512 B',
      '1.5 KiB',
      '17.9 MiB',
      '5.0 TiB',
    ]);
  });

  it('should say which day check-previous found, in what state, and what it did', () => {
    const m = previousDayMail(
      {
        day: DAY,
        state: 'incomplete',
        detail: '3 of 40 batch reports written, no marker',
        runId: RUN,
        action: 'rerun',
        newRunId: 'r2',
        autoReruns: 1,
        maxAutoReruns: 2,
      },
      {env: 'brave', bucket: 'acme'},
    );
    assert.strictEqual(
      m.subject,
      `[genesys-recording-migrator] brave ${DAY}: no _SUCCESS (incomplete); rerun started`,
    );
    assert.ok(
      m.text.includes('planned but without a marker (3 of 40 batch reports written, no marker'),
    );
    assert.ok(m.text.includes('run r2 (automatic rerun 1 of at most 2)'));
  });
});

describe('the ledger: which outcomes are emailed', () => {
  const p = plan({b1: [1, 2]});
  const fail = (ids: number[]) =>
    decideDay(
      p,
      [
        ref(
          'b1',
          [1, 2].map(n => ({
            conversationId: id(n),
            recordings: [
              ids.includes(n)
                ? {recordingId: id(30 + n), outcome: 'failed' as const, reason: 'x'}
                : exported(n),
            ],
          })),
        ),
      ],
      target,
    );
  const sent = (l: ReturnType<typeof newLedger>) => ({
    ...l,
    email: {...l.email, state: 'sent' as const},
  });

  it('should email a first failure, not a failure whose gaps were all emailed, and a later new gap', () => {
    const first = newLedger(fail([1, 2]), undefined, 0);
    assert.strictEqual(first.email.kind, 'failure');
    const fewer = newLedger(fail([2]), sent(first), 0);
    assert.strictEqual(fewer.email.state, 'not-needed');
    const other = newLedger(fail([1]), fewer, 0);
    assert.strictEqual(other.email.state, 'not-needed', 'gap 1 was in the first email');
    const firstOnly = newLedger(fail([1]), undefined, 0);
    const grown = newLedger(fail([1, 2]), sent(firstOnly), 0);
    assert.deepStrictEqual([grown.email.kind, grown.email.state], ['failure', 'pending']);
    const success = newLedger(fail([]), other, 0);
    assert.deepStrictEqual([success.email.kind, success.email.state], ['recovered', 'pending']);
  });

  it('should remember every decision in order, and tell the developers what their email said was resolved', () => {
    const emailed = sent(newLedger(fail([1, 2]), undefined, 1000)); // 2 missing, emailed
    const quieter = newLedger(fail([2]), emailed, 2000); // a partial replay: 1 missing, not emailed
    const success = newLedger(fail([]), quieter, 3000);
    assert.deepStrictEqual(
      success.history!.map(h => [h.missing.recordings, h.emailed, h.decidedAt]),
      [
        [2, true, new Date(1000).toISOString()],
        [1, false, new Date(2000).toISOString()],
      ],
    );
    const told = lastEmailed(success)!;
    assert.strictEqual(told.missing.recordings, 2, 'not the intermediate, un-emailed state');
    const mail = recoveredMail(fail([]), {env: 'brave', bucket: 'acme', maxGaps: 5}, told);
    assert.match(mail.text, /Earlier outcome \(run [^)]+\): 2 recordings missing\./);
  });

  it('should not email a success that follows nothing or an un-emailed failure', () => {
    assert.strictEqual(newLedger(fail([]), undefined, 0).email.state, 'not-needed');
    const unsent = newLedger(fail([1]), undefined, 0);
    assert.strictEqual(newLedger(fail([]), unsent, 0).email.state, 'not-needed');
  });
});

describe('plan requests: checkPrevious', () => {
  const limits = {timeZone: 'UTC', windowLagDays: 3, maxBackfillDays: 31};
  const now = Date.parse('2026-04-10T00:00:00Z');
  it('should check previous days on the schedule only, unless told', () => {
    assert.strictEqual(
      parsePlanRequest({method: 'POST', body: {}}, now, limits).checkPrevious,
      true,
    );
    assert.strictEqual(
      parsePlanRequest({method: 'POST', body: {day: DAY}}, now, limits).checkPrevious,
      false,
    );
    assert.strictEqual(
      parsePlanRequest({method: 'POST', body: {day: DAY, checkPrevious: true}}, now, limits)
        .checkPrevious,
      true,
    );
    const off = parsePlanRequest(
      {method: 'POST', body: {checkPrevious: false}, scheduleTime: '2026-04-10T00:00:00Z'},
      now,
      limits,
    );
    assert.deepStrictEqual([off.trigger, off.checkPrevious], ['schedule', false]);
    assert.throws(
      () => parsePlanRequest({method: 'POST', body: {checkPrevious: 'yes'}}, now, limits),
      /"checkPrevious" must be true or false/,
    );
  });
});

describe('grm: waiting for a verdict', () => {
  const failing = {
    day: DAY,
    state: 'failure' as const,
    runId: 'r1',
    autoReruns: 0,
    totals: {all: {expected: 3, exported: 1, skipped: 0, failed: 2, bytes: 0}},
    reports: [
      {batchId: 'b1', generation: '1'},
      {batchId: 'b2', generation: '1'},
    ],
  };
  function io(t: {now: number}, out: string[], err: string[]) {
    return {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      env: {},
      now: () => t.now,
      sleep: async (ms: number) => void (t.now += ms),
    };
  }

  it('should wait until every replayed batch reported again, say where the day stands every 10 s, then print the verdict', async () => {
    const t = {now: 0};
    const out: string[] = [];
    const err: string[] = [];
    let calls = 0;
    const op = {
      status: async () => {
        calls++;
        // b1 reports again first (a decision from a mix of new and old reports), then b2.
        if (calls < 12) return [failing];
        if (calls < 25)
          return [{...failing, reports: [{batchId: 'b1', generation: '2'}, failing.reports[1]!]}];
        return [
          {
            ...failing,
            state: 'success' as const,
            totals: {all: {...failing.totals.all, exported: 3, failed: 0}},
            reports: [
              {batchId: 'b1', generation: '2'},
              {batchId: 'b2', generation: '2'},
            ],
          },
        ];
      },
    };
    const decided = (now: DayState) => (now.reports ?? []).every(r => r.generation === '2');
    const code = await waitForVerdict(
      op,
      io(t, out, err),
      DAY,
      failing,
      60,
      decided,
      (_v: unknown, text: () => string) => out.push(text()),
    );
    assert.strictEqual(code, 0);
    assert.deepStrictEqual(err, [
      `waiting for ${DAY}: still _FAILURE, 2 failed (10 s of 60 s)`,
      `waiting for ${DAY}: still _FAILURE, 2 failed (20 s of 60 s)`,
    ]);
    assert.match(out.join('\n'), new RegExp(`${DAY} is now _SUCCESS`));
  });

  it('should stop, exit 1 and say so when a new run of the day starts meanwhile', async () => {
    const out: string[] = [];
    const op = {
      status: async () => [{day: DAY, state: 'running' as const, runId: 'r2', autoReruns: 0}],
    };
    const code = await waitForVerdict(
      op,
      io({now: 0}, out, []),
      DAY,
      failing,
      60,
      () => false,
      (_v: unknown, text: () => string) => out.push(text()),
    );
    assert.strictEqual(code, 1);
    assert.match(out.join(''), /a new run r2 of .* started meanwhile/);
  });
});
