/**
 * `grm` end to end against the local stack (`--local`, the variables
 * `npm run stack` prints): status over a range with a failed, a running and
 * a never-planned day; gaps with their fixes; a replay of only the gapped
 * conversations turning `_FAILURE` into `_SUCCESS`; a rerun through the
 * planner; dead letters listed, left in place, and replayed.
 */
import * as assert from 'node:assert';
import {execFile} from 'node:child_process';
import * as path from 'node:path';
import {promisify} from 'node:util';
import {PubSub} from '@google-cloud/pubsub';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {DayMarker, readJson, runDay, storageFor} from '../../local/run-day';
import type {DayState} from '../../functions/core/day-status';
import type {GapView} from '../../functions/ops/operator';
import {grm} from '../../functions/ops/grm';
import {declareProductDays, eventually, useProductStack} from '../setup/stack';
import {asIdentity, mailAbout} from '../helpers';
import {HeadlessBrowser, computedStyles, requireChromium, rgb} from '../browser';
import {gapGroups} from '../../functions/core/gap-kinds';

const env = LOCAL_EXPORT_ENV;
const FAILED = '2026-10-05';
const RUNNING = '2026-10-06';
const NEVER = '2026-10-07';
const RERUN = '2026-10-08';
const WAIVE = '2026-10-10';
const STALE = '2026-10-11';
declareProductDays('lossy', {[FAILED]: 60, [RERUN]: 6, [WAIVE]: 8});

describe('grm against the local stack', function () {
  this.timeout(300_000);
  let stack: Stack;
  let failure: DayMarker;

  before(async function () {
    this.timeout(240_000);
    stack = await useProductStack('lossy', {[FAILED]: 60, [RERUN]: 6, [WAIVE]: 8});
    failure = (await runDay(stack, {day: FAILED, env, timeoutMs: 150_000})).marker!;
    assert.strictEqual(failure.marker, '_FAILURE');
    // A day whose run is planned but has no report yet.
    await storageFor(stack)
      .bucket(stack.bucket)
      .file(`${env}/${RUNNING}/_manifest/plan.json`)
      .save(
        JSON.stringify({
          kind: 'plan',
          version: 1,
          day: RUNNING,
          runId: 'r20261009t000000-aaaaaa',
          createdAt: '2026-10-09T00:00:00.000Z',
          batches: [{batchId: 'b0001-x', conversationIds: []}],
        }),
      );
  });

  /**
   * Runs grm in-process with the stack's exported environment, as the
   * operator (a member of operator_members); returns exit code and output.
   */
  async function run(...argv: string[]): Promise<{code: number; out: string; err: string}> {
    return runAs('operator', ...argv);
  }

  async function runAs(
    as: string,
    ...argv: string[]
  ): Promise<{code: number; out: string; err: string}> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await asIdentity(stack, as, () =>
      grm([...argv, '--local'], {
        out: l => out.push(l),
        err: l => err.push(l),
        env: {...stack.env, PLANNER_URL: stack.functions.planner!.url},
        now: () => Date.parse('2026-10-12T06:00:00Z'),
        sleep: ms => new Promise(r => setTimeout(r, ms)),
      }),
    );
    return {code, out: out.join('\n'), err: err.join('\n')};
  }

  it('should show a range with a failed, a running and a never-planned day, and exit 1', async () => {
    const table = await run('status', '--from', FAILED, '--to', NEVER);
    assert.strictEqual(table.code, 1, table.err);
    assert.match(table.out, new RegExp(`^${FAILED} +_FAILURE +${failure.runId} +\\d+/\\d+`, 'm'));
    assert.match(
      table.out,
      new RegExp(`^${RUNNING} +running since 2026-10-09T00:00:00.000Z \\(0/1 batches\\)`, 'm'),
    );
    assert.match(table.out, new RegExp(`^${NEVER} +never planned`, 'm'));
    assert.match(table.out, /(KiB|MiB)/, 'sizes in human units');
    assert.match(table.out, new RegExp(`${FAILED} gaps: \\d+ × `));
    const json = await run('status', '--from', FAILED, '--to', NEVER, '--json');
    const states = JSON.parse(json.out) as DayState[];
    assert.deepStrictEqual(
      states.map(s => [s.day, s.state]),
      [
        [FAILED, 'failure'],
        [RUNNING, 'running'],
        [NEVER, 'never planned'],
      ],
    );
    assert.strictEqual(states[0]!.totals!.all!.failed, failure.totals.all.failed);
    assert.match(states[0]!.email!, /^sent\b/, 'the developers were emailed');
    const counted = states[0]!.gapsByReason!.reduce((n, g) => n + g.count, 0);
    assert.strictEqual(counted, failure.gaps.length);
  });

  it('should list every gap with its reason and the action that fixes it', async () => {
    const {code, out} = await run('gaps', FAILED, '--json');
    assert.strictEqual(code, 1, 'the day has gaps');
    const gaps = (JSON.parse(out) as {gaps: GapView[]}).gaps;
    assert.strictEqual(gaps.length, failure.gaps.length);
    for (const g of gaps) {
      assert.ok(g.action.length > 20, g.action);
      // ARCHIVED_POLICY=restore (the default): nothing to do but watch the restores.
      if (/ARCHIVED|RESTORING/.test(g.reason))
        assert.match(g.action, /^nothing: the pipeline exports them .*; see `grm restore status`$/);
      if (/UPLOADING/.test(g.reason)) assert.match(g.action, /wait until the upload/);
      if (/fileState ERROR/.test(g.reason)) assert.match(g.action, /grm waive/);
    }
    const text = await run('gaps', FAILED);
    assert.match(text.out, /why: .*\n {2}fix: /);
  });

  it('should refuse bad input with exit 2 and one line, never a stack trace', async () => {
    for (const argv of [
      ['gaps'],
      ['gaps', '2026-13-01'],
      ['status', '--from'],
      ['status', '--frm', FAILED],
      ['replay', FAILED, 'extra'],
      ['frobnicate'],
    ]) {
      const r = await run(...argv);
      assert.strictEqual(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      assert.ok(!/\n\s+at /.test(r.err), r.err);
    }
    const none = await run('replay', NEVER);
    assert.strictEqual(none.code, 1);
    assert.match(none.err, /has no _FAILURE: nothing to replay/);
    // A _FAILURE of an older run while a newer run is planned: nothing to act on yet.
    const bucket = storageFor(stack).bucket(stack.bucket);
    await bucket
      .file(`${env}/${STALE}/_FAILURE`)
      .save(JSON.stringify({...failure, day: STALE, runId: 'r-old'}));
    await bucket.file(`${env}/${STALE}/_manifest/plan.json`).save(
      JSON.stringify({
        kind: 'plan',
        day: STALE,
        runId: 'r-new',
        createdAt: '2026-10-12T00:00:00Z',
        batches: [],
      }),
    );
    for (const argv of [
      ['replay', STALE],
      ['gaps', STALE],
    ]) {
      const stale = await run(...argv);
      assert.strictEqual(stale.code, 1);
      assert.match(
        stale.err,
        /run r-new of .* has not been decided yet; this _FAILURE is from run r-old/,
      );
    }
    // Emulator variables without --local would send production commands to the emulator.
    const out: string[] = [];
    const leaked = await grm(['status', '--project', 'p', '--bucket', 'b', '--env', 'e'], {
      out: l => out.push(l),
      err: l => out.push(l),
      env: stack.env,
      now: () => 0,
      sleep: () => Promise.resolve(),
    });
    assert.strictEqual(leaked, 2);
    assert.match(
      out.join(''),
      /STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, .*GCE_METADATA_HOST.* are set, so the Google clients would talk to the local stack/,
    );
  });

  it("should render the failure email in a browser: the fixes by kind with their commands, the nights' strip in its colours", async function () {
    await requireChromium(this);
    const mail = (await mailAbout(stack, FAILED)).find(m => m.subject.includes('_FAILURE'))!;
    const browser = await HeadlessBrowser.launch();
    try {
      const opened = await browser.open({html: mail.html}, {width: 900});
      const {page} = opened;
      const kinds = await page
        .locator('li[data-kind]')
        .evaluateAll(els => els.map(e => e.getAttribute('data-kind')));
      assert.deepStrictEqual(
        kinds,
        gapGroups(failure.gaps, FAILED).map(g => g.kind),
        'one item per kind of gap, the largest first',
      );
      // The commands shown are the text part's, one per kind.
      const shown = await page.locator('li[data-kind] > pre').allInnerTexts();
      const inText = [...mail.text.matchAll(/^ {5}(grm .*)$/gm)].map(m => m[1]!);
      assert.deepStrictEqual(shown, inText);
      // The strip: one cell per night, coloured by its state, this day last and failed.
      const cells = page.locator('td[data-state]');
      const states = await cells.evaluateAll(els => els.map(e => e.getAttribute('data-state')!));
      const colours = await computedStyles(cells, 'background-color');
      const colour = {
        success: '#2e7d32',
        failure: '#c62828',
        running: '#f9a825',
        'never planned': '#bdbdbd',
      } as Record<string, string>;
      assert.deepStrictEqual(
        colours,
        states.map(st => rgb(colour[st]!)),
      );
      assert.strictEqual(states.length, 30);
      assert.strictEqual(states.at(-1), 'failure');
      assert.deepStrictEqual(opened.errors, []);
      assert.deepStrictEqual(opened.requests, [], 'an email page asks for nothing');
      const shot = await opened.screenshot('failure-email');
      process.stdout.write(`    (screenshot: ${shot})\n`);
      await opened.close();
    } finally {
      await browser.close();
    }
  });

  it('should replay only the conversations that still have gaps, and turn _FAILURE into _SUCCESS', async () => {
    const dry = await run('replay', FAILED, '--dry-run', '--json');
    assert.strictEqual(dry.code, 0, dry.err);
    const {messages} = JSON.parse(dry.out) as {
      messages: Array<{conversationIds: string[]; batchId: string}>;
    };
    const gapped = new Set(failure.gaps.map(g => g.conversationId));
    const replayed = messages.flatMap(m => m.conversationIds);
    assert.deepStrictEqual(new Set(replayed), gapped, 'exactly the conversations with gaps');
    assert.ok(replayed.length < failure.conversations, 'fewer than the whole batches');
    assert.ok(messages.length >= 2, 'several batches replayed: --wait waits for all of them');
    // The developer email names the grm commands that fix the day, by kind of gap.
    const mail = (await mailAbout(stack, FAILED)).find(m => m.subject.includes('_FAILURE'))!;
    const commands = [...new Set([...mail.text.matchAll(/^ {5}(grm .*)$/gm)].map(m => m[1]!))];
    const argv = (line: string) =>
      [...line.matchAll(/"([^"]*)"|(\S+)/g)].map(m => m[1] ?? m[2]!).slice(1);
    const replay = commands.filter(c => c.startsWith('grm replay'));
    assert.deepStrictEqual(replay, [`grm replay ${FAILED} --wait 600`], mail.text);
    // Broken at the source: the email's waiver, with the case number and who filled in.
    const errors = failure.gaps.filter(g => /fileState ERROR/.test(g.reason));
    assert.ok(errors.length > 0, 'the lossy day has recordings broken at the source');
    const waive = commands.filter(c => c.startsWith('grm waive'));
    assert.strictEqual(waive.length, 1, mail.text);
    for (const c of waive) {
      const w = await run(
        ...argv(c.replace('NUMBER', '00123456').replace('YOUR_EMAIL', 'oncall@example.com')),
      );
      assert.strictEqual(w.code, 0, w.out + w.err);
      assert.match(w.out, new RegExp(`waived ${errors.length} recordings? of ${FAILED}`));
    }
    // The rest once Genesys has them again (restored, uploaded).
    const recovered = await fetch(`${stack.genesysUrl}/_admin/recover?day=${FAILED}`, {
      method: 'POST',
    });
    assert.strictEqual(recovered.status, 200);
    const r = await run(...argv(replay[0]!));
    assert.strictEqual(r.code, 0, r.out + r.err);
    assert.match(r.out, /^published \d+ messages? for /m);
    assert.match(r.out, new RegExp(`${FAILED} is now _SUCCESS`));
    const success = await readJson<DayMarker>(stack, `${env}/${FAILED}/_SUCCESS`);
    assert.strictEqual(success?.totals.all.failed, 0);
    const all = success!.totals.all;
    assert.strictEqual(
      all.exported + all.skipped + (all.waived ?? 0),
      all.expected,
      'each recording exported, skipped or waived (a waived one Genesys repaired is exported)',
    );
    assert.strictEqual(
      success?.totals.all.expected,
      failure.totals.all.expected,
      'nothing dropped',
    );
    const status = await run('status', '--from', FAILED, '--to', FAILED);
    assert.strictEqual(status.code, 0, status.out);
    const range = await run('status', '--from', FAILED, '--to', NEVER, '--json');
    assert.strictEqual(range.code, 1, 'a running and a never-planned day remain');
    assert.deepStrictEqual(
      (JSON.parse(range.out) as DayState[]).map(s => s.state),
      ['success', 'running', 'never planned'],
    );
  });

  it('should rerun a day through the planner and print its answer', async () => {
    const r = await run('rerun', RERUN, '--json');
    assert.strictEqual(r.code, 0, r.out + r.err);
    const res = JSON.parse(r.out) as {status: number; body: unknown};
    assert.strictEqual(res.status, 202);
    assert.match(JSON.stringify(res.body), new RegExp(RERUN));
    const backwards = await run('rerun', `${RERUN}..2026-10-07`);
    assert.strictEqual(backwards.code, 1, 'the planner refuses a range that ends before it starts');
    assert.match(backwards.out, /planner answered 400/);
  });

  it('should refuse an identity outside operator_members: no rerun, no waiver, no bookkeeping', async () => {
    // The planner's front end checks run.invoker as Cloud Run does.
    const rerun = await runAs('outsider', 'rerun', RERUN, '--json');
    assert.strictEqual(rerun.code, 1, rerun.out + rerun.err);
    assert.match(rerun.out + rerun.err, /403/);
    // A waiver is an object only operators may create; grm reads the day's _FAILURE first.
    const waive = await runAs(
      'outsider',
      'waive',
      FAILED,
      '--recording',
      '11111111-2222-4333-8444-555555555555',
      '--reason',
      'broken at the source, Genesys case 00123456',
      '--by',
      'outsider@example.com',
    );
    assert.notStrictEqual(waive.code, 0);
    assert.match(
      waive.err,
      /outsider@demo-project\.iam\.gserviceaccount\.com does not have storage\.objects\.(get|list) access/,
    );
    const status = await runAs('outsider', 'status', '--from', FAILED, '--to', FAILED);
    assert.notStrictEqual(status.code, 0);
    assert.match(status.err + status.out, /does not have storage\.objects\.(get|list) access/);
    // `grm replay` publishes to the batches topic: the Pub/Sub emulator has no
    // authentication, so who publishes is not checked locally (docs/local-stack.md).
  });

  it('should list dead letters without consuming them, and replay the valid ones', async () => {
    const pubsub = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
    const bucket = storageFor(stack).bucket(stack.bucket);
    const ids = failure.gaps.slice(0, 1).map(g => g.conversationId);
    try {
      await pubsub.topic(stack.deadLetterTopic).publishMessage({
        json: {day: FAILED, conversationIds: ids},
        attributes: {CloudPubSubDeadLetterSourceDeliveryCount: '100'},
      });
      await pubsub.topic(stack.deadLetterTopic).publishMessage({data: Buffer.from('not json')});
    } finally {
      await pubsub.close();
    }
    const first = await run('dead-letters', '--json');
    assert.strictEqual(first.code, 1, 'dead letters are waiting: not well');
    const listed = JSON.parse(first.out) as Array<{
      invalid?: string;
      day?: string;
      deliveries?: number;
      why: string;
    }>;
    assert.strictEqual(listed.length, 2);
    const valid = listed.find(v => !v.invalid)!;
    assert.strictEqual(valid.day, FAILED);
    assert.strictEqual(valid.deliveries, 100);
    assert.match(valid.why, /no batch report|report says/);
    assert.strictEqual(
      JSON.parse((await run('dead-letters', '--json')).out).length,
      2,
      'still there',
    );
    const replayed = await run('dead-letters', '--replay');
    assert.strictEqual(replayed.code, 1, 'the invalid one is still there');
    assert.match(replayed.out, /2 dead letters in .*replayed/);
    await eventually(
      'the replayed ad-hoc report',
      async () => {
        const [files] = await bucket.getFiles({prefix: `${env}/${FAILED}/_manifest/adhoc/`});
        return files.length > 0 ? true : undefined;
      },
      60_000,
    );
    const left = JSON.parse((await run('dead-letters', '--json')).out) as Array<{invalid?: string}>;
    assert.strictEqual(left.length, 1);
    assert.ok(left[0]!.invalid, 'the invalid one stays for a person to look at');
  });

  it('should waive gaps that can never be exported: _SUCCESS lists them with reason, who and when, never as exported', async () => {
    const before = (await runDay(stack, {day: WAIVE, env, timeoutMs: 150_000})).marker!;
    assert.strictEqual(before.marker, '_FAILURE');
    const ids = before.gaps.map(g => g.recordingId!);
    assert.ok(ids.length > 0 && ids.every(Boolean), 'recording-level gaps');
    const reason = 'broken at the source, Genesys case 00123456';
    const by = 'oncall@example.com';
    const notAGap = await run(
      'waive',
      WAIVE,
      '--recording',
      '11111111-2222-4333-8444-555555555555',
      '--reason',
      reason,
      '--by',
      by,
    );
    assert.strictEqual(notAGap.code, 1);
    assert.match(notAGap.err, /not gaps of 2026-10-10's _FAILURE/);
    const vague = await run(
      'waive',
      WAIVE,
      '--recording',
      ids[0]!,
      '--reason',
      'x',
      '--by',
      'me',
      '--any-reason',
    );
    assert.strictEqual(vague.code, 1);
    assert.match(vague.err, /the reason must say why.*--by must be the email/);
    const args = ids.flatMap(id => ['--recording', id]);
    const fixable = before.gaps.filter(g => !/fileState ERROR/.test(g.reason));
    if (fixable.length > 0) {
      const refused = await run('waive', WAIVE, ...args, '--reason', reason, '--by', by);
      assert.strictEqual(refused.code, 1);
      assert.match(
        refused.err,
        /these gaps may still be fixed, so they are not waived: .*--any-reason/,
      );
    }
    const r = await run(
      'waive',
      WAIVE,
      ...args,
      '--reason',
      reason,
      '--by',
      by,
      '--any-reason',
      '--wait',
      '120',
    );
    assert.strictEqual(r.code, 0, r.out + r.err);
    assert.match(r.out, new RegExp(`waived ${ids.length} recordings? of ${WAIVE}`));
    assert.match(r.out, new RegExp(`${WAIVE} is now _SUCCESS: .*waived`));
    const success = (await readJson<
      DayMarker & {
        waived: Array<{recordingId: string; waiver: {reason: string; by: string; at: string}}>;
      }
    >(stack, `${env}/${WAIVE}/_SUCCESS`))!;
    assert.deepStrictEqual(success.waived.map(w => w.recordingId).sort(), [...ids].sort());
    for (const w of success.waived) {
      assert.strictEqual(w.waiver.reason, reason);
      assert.strictEqual(w.waiver.by, by);
      assert.ok(Date.parse(w.waiver.at) > 0);
    }
    assert.strictEqual(success.totals.all.waived, ids.length);
    assert.strictEqual(success.totals.all.failed, 0);
    assert.strictEqual(
      success.totals.all.exported,
      before.totals.all.exported,
      'waived is never exported',
    );
    const mails = await mailAbout(stack, WAIVE);
    assert.match(
      mails[mails.length - 1]!.text,
      new RegExp(`${ids.length} recordings? waived by operators`),
    );
    const status = await run('status', '--from', WAIVE, '--to', WAIVE, '--json');
    assert.strictEqual(status.code, 0);
  });

  it('should run as npx grm, with help on every command', async () => {
    const root = path.join(__dirname, '..', '..');
    const bin = path.join(root, 'functions', 'ops', 'grm.cjs');
    const {stdout} = await promisify(execFile)(process.execPath, [bin, 'replay', '--help'], {
      cwd: root,
    });
    assert.match(stdout, /^usage: grm replay DAY \[flags\]/);
    assert.match(stdout, /--dry-run/);
    await assert.rejects(
      promisify(execFile)(process.execPath, [bin, 'status', '--bogus'], {cwd: root}),
      (e: {code: number; stderr: string}) => {
        assert.strictEqual(e.code, 2);
        assert.match(e.stderr, /^grm status: unknown flag --bogus/);
        return true;
      },
    );
  });
});
