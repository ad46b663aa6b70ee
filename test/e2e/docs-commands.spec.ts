/**
 * Every command block of docs/operations.md and docs/local-stack.md, run as
 * written with bash in a shell holding the `export` lines `npm run stack`
 * prints (and nothing else of ours: PATH and HOME), on a stack of its own
 * whose organisation has a lossy 2026-11-20, the day the docs name. The
 * blocks run in the order an operator would take them: where the day
 * stands, its gaps, `grm doctor`, `grm report`, a replay before the source has recovered,
 * a waiver, the source's recovery and the `_FAILURE` replay through
 * `gcloud storage cat … | jq … | bash` (the day turns `_SUCCESS`), `grm
 * verify`, an ad-hoc publish (its conversations are exported), the reruns
 * (the planner answers 202), the dead letters (listed, pulled by gcloud,
 * replayed), and the GCS emulator's fault rule.
 *
 * What the test does to a block, and only this (test/setup/doc-blocks.ts):
 * a block marked `<!-- run with --local -->` (a deployment's `grm`
 * commands) runs each `grm` command with `--local`; the docs' placeholders
 * (`5a8c…`, `9d1e…`: conversations; `7c1f…-…-…`, `9a02…-…-…`: recordings
 * that can never be exported) become ids of the day's gaps; `npx` takes grm
 * from the checkout (grm runs from a checkout) while the commands run in a
 * scratch folder, where the files they write land. A block marked `<!-- not run: REASON -->` is not run;
 * every other block must be, and a command that stops working fails here.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {PubSub} from '@google-cloud/pubsub';
import {Stack, startStack} from '../../local/stack';
import {
  LOCAL_EXPORT_ENV,
  productEnv,
  productFunctions,
  productSecrets,
  shellEnv,
} from '../../local/product';
import {DayMarker, readJson, runDay, storageFor, waitForMarker} from '../../local/run-day';
import type {DayState} from '../../functions/core/day-status';
import {eventually} from '../setup/stack';
import {DocBlock, docBlocks, withLocal} from '../setup/doc-blocks';
import {runCommand, skipWithoutGcloud} from '../helpers';

const DAY = '2026-11-20';
const env = LOCAL_EXPORT_ENV;
const CHECKOUT = path.join(__dirname, '..', '..');
const BLOCKS = [...docBlocks('docs/operations.md'), ...docBlocks('docs/local-stack.md')];

/** One command of a block as it ran: exit status and its share of the output. */
interface Step {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

/** Separates the commands' outputs (ASCII record separator). */
const RS = '\u001e';

describe('the docs’ commands, run against the local stack on a lossy day', function () {
  this.timeout(300_000);
  let stack: Stack;
  let failure: DayMarker;
  let scratch: string;
  const ran = new Set<DocBlock>();
  const placeholders = new Map<string, string>();

  before(async function () {
    this.timeout(300_000);
    await skipWithoutGcloud(this, "the docs' commands");
    const jq = await runCommand('jq', ['--version'], {env: process.env}).catch(() => undefined);
    assert.strictEqual(jq?.code, 0, "jq is missing: the docs' replay command pipes into it");
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-docs-'));
    // The lossy organisation of the e2e suites: on 20 conversations, 2026-11-20 has two
    // recordings in error, one uploading and one archived.
    stack = await startStack({
      root: fs.mkdtempSync(path.join(os.tmpdir(), 'grm-docs-stack-')),
      functions: productFunctions(),
      secrets: productSecrets(['demo-client:demo-secret', 'second-client:second-secret']),
      functionEnv: productEnv({MAX_BATCH_ATTEMPTS: '3', BATCH_SIZE: '25'}),
      genesys: {
        seed: 'e2e-lossy',
        conversationsPerDay: 5,
        perDay: {[DAY]: 20},
        profile: 'lossy',
        clients: ['demo-client:demo-secret', 'second-client:second-secret'],
        settings: {batchPerResultMs: 1},
      },
    });
    failure = (await runDay(stack, {day: DAY, env, timeoutMs: 150_000})).marker!;
    assert.strictEqual(failure.marker, '_FAILURE');
    const broken = failure.gaps.filter(g => /fileState ERROR/.test(g.reason));
    const other = failure.gaps.filter(g => !/fileState ERROR/.test(g.reason));
    assert.ok(broken.length >= 2 && other.length >= 2, JSON.stringify(failure.gaps));
    placeholders.set('7c1f…-…-…', broken[0]!.recordingId!);
    placeholders.set('9a02…-…-…', broken[1]!.recordingId!);
    placeholders.set('5a8c…', other[0]!.conversationId);
    placeholders.set('9d1e…', other[1]!.conversationId);
  });

  after(async () => {
    await stack?.stop();
    if (stack) fs.rmSync(stack.dirs.root, {recursive: true, force: true});
    if (scratch) fs.rmSync(scratch, {recursive: true, force: true});
  });

  /** The one block whose first command starts with `first`. */
  function block(first: string): DocBlock {
    const found = BLOCKS.filter(b => b.commands[0]?.startsWith(first));
    assert.strictEqual(found.length, 1, `blocks starting with ${first}: ${found.length}`);
    return found[0]!;
  }

  /** Runs a block in one bash, as pasted after the stack's exports; one Step per command. */
  async function run(first: string): Promise<Step[]> {
    const b = block(first);
    assert.notStrictEqual(b.mark?.kind, 'not run', `${b.file}:${b.line} is marked not run`);
    ran.add(b);
    const commands = b.commands.map(c => {
      let command = b.mark?.kind === 'with --local' ? withLocal(c) : c;
      for (const [placeholder, value] of placeholders)
        command = command.split(placeholder).join(value);
      assert.ok(
        !command.includes('…'),
        `${b.file}:${b.line}: a placeholder the test does not know: ${command}`,
      );
      return command;
    });
    const script = [
      // grm runs from a checkout: npx finds it there, while the commands run in the scratch
      // folder, so the files they write (> november.json, --out report.html) land there.
      'npx() { command npx --prefix "$DOCS_TEST_CHECKOUT" "$@"; }',
      `mark() { local s=$?; printf '\\n${RS}%s${RS}\\n' "$s"; printf '\\n${RS}%s${RS}\\n' "$s" >&2; }`,
      ...commands.flatMap(c => [c, 'mark']),
    ].join('\n');
    const r = await runCommand('bash', ['-c', script], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...shellEnv(stack),
        DOCS_TEST_CHECKOUT: CHECKOUT,
      },
      cwd: scratch,
      timeoutMs: 280_000,
    });
    const split = (text: string) => text.split(new RegExp(`\\n${RS}\\d+${RS}\\n`));
    const codes = [...r.stdout.matchAll(new RegExp(`${RS}(\\d+)${RS}`, 'g'))].map(m =>
      Number(m[1]),
    );
    assert.strictEqual(
      codes.length,
      commands.length,
      `${b.file}:${b.line} did not run through:\n${r.stderr}`,
    );
    const out = split(r.stdout);
    const err = split(r.stderr);
    return commands.map((command, i) => ({
      command,
      code: codes[i]!,
      stdout: out[i]!.replace(/^\n/, ''),
      stderr: err[i] ?? '',
    }));
  }

  /** Changes the Genesys simulator's settings at run time (its admin API). */
  async function genesysSettings(settings: Record<string, number>): Promise<void> {
    const res = await fetch(`${stack.genesysUrl}/_admin/config`, {
      method: 'PATCH',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify(settings),
    });
    assert.strictEqual(res.status, 200, await res.text());
  }

  function exits(steps: Step[], ...codes: number[]): void {
    assert.deepStrictEqual(
      steps.map(s => s.code),
      codes,
      steps.map(s => `$ ${s.command}\n${s.stdout}\n${s.stderr}`).join('\n'),
    );
  }

  it('should show where the day stands (grm status, gaps: exit 1) and what grm doctor finds, as the operator and as the owner', async () => {
    // Read-only, so side by side (grm doctor's probes as the owner write only under 1970-01-01).
    const [[local], [month], [gaps], asOperator, asOwner, reports] = await Promise.all([
      run('npx grm status --local --from 2026-11-20'),
      run('npx grm status --from 2026-11-01'),
      run('npx grm gaps 2026-11-20'),
      run('npx grm doctor'),
      run('GCE_METADATA_HOST=$GRM_LOCAL_OWNER_METADATA_HOST npx grm doctor --local'),
      run('npx grm report --out'),
    ]);
    exits(reports, 0, 0);
    assert.match(
      reports[1]!.stdout,
      /^wrote 2026\.html: 2026-01-01 to 2026-12-31, 365 days \(.*1 _FAILURE/,
    );
    const year = fs.readFileSync(path.join(scratch, '2026.html'), 'utf8');
    assert.match(year, new RegExp(`data-day="${DAY}" data-look="failure"`));
    assert.ok(fs.existsSync(path.join(scratch, 'report.html')));
    exits([local!, month!, gaps!], 1, 1, 1);
    assert.match(local!.stdout, new RegExp(`^${DAY} +_FAILURE +${failure.runId}`, 'm'));
    const days = JSON.parse(
      fs.readFileSync(path.join(scratch, 'november.json'), 'utf8'),
    ) as DayState[];
    assert.strictEqual(days.length, 30);
    assert.strictEqual(days.find(d => d.day === DAY)?.state, 'failure');
    for (const g of failure.gaps) assert.ok(gaps!.stdout.includes(g.recordingId!), g.recordingId);
    assert.strictEqual(gaps!.stdout.match(/^ {2}fix: /gm)?.length, failure.gaps.length);
    // As the operator, the secret and policy checks fail naming the roles it lacks (the page says so).
    exits(asOperator, 1, 1, 1);
    assert.match(
      asOperator[0]!.stdout,
      /^secret grm-genesys-clients +FAIL +you may not read it: roles\/secretmanager\.secretAccessor is missing/m,
    );
    assert.match(asOperator[0]!.stdout, /^IAM policy of gs:\/\/\S+ +FAIL/m);
    const report = JSON.parse(fs.readFileSync(path.join(scratch, 'doctor.json'), 'utf8')) as {
      checks: Array<{status: string}>;
    };
    assert.strictEqual(report.checks.filter(c => c.status === 'fail').length, 3);
    exits(asOwner, 0);
    assert.doesNotMatch(asOwner[0]!.stdout, /\bFAIL\b/);
  });

  it('should waive the two recordings broken at the source; the day stays _FAILURE for the others', async () => {
    const [waive] = await run('npx grm waive 2026-11-20');
    exits([waive!], 1);
    assert.match(waive!.stdout, new RegExp(`waived 2 recordings of ${DAY}`));
    assert.match(waive!.stdout, new RegExp(`${DAY} is now _FAILURE`));
    const now = await readJson<DayMarker>(stack, `${env}/${DAY}/_FAILURE`);
    const left = new Set(now!.gaps.map(g => g.recordingId));
    assert.ok(!left.has(placeholders.get('7c1f…-…-…')) && !left.has(placeholders.get('9a02…-…-…')));
  });

  it('should turn the day _SUCCESS once the source recovers, by the _FAILURE replay through gcloud storage cat | jq | bash', async () => {
    exits(await run('curl -X POST "$GENESYS_SIMULATOR_URL/_admin/recover'), 0);
    const before = await readJson<DayMarker>(stack, `${env}/${DAY}/_FAILURE`);
    const [replay] = await run('gcloud storage cat');
    exits([replay!], 0);
    assert.strictEqual(replay!.stdout.match(/^messageIds:/gm)?.length, before!.replay.length);
    const {marker} = await waitForMarker(stack, env, DAY, {
      runId: failure.runId,
      want: '_SUCCESS',
      timeoutMs: 120_000,
    });
    assert.strictEqual(marker.gaps.length, 0);
    assert.strictEqual(marker.totals.all.waived, 2);
  });

  it('should verify the day intact, and the month and a deep check as the operator not', async () => {
    const steps = await run('npx grm verify 2026-11-20');
    exits(steps, 0, 1, 1);
    assert.match(steps[0]!.stdout, new RegExp(`^${DAY}\\b.*intact`, 'm'));
    const month = JSON.parse(
      fs.readFileSync(path.join(scratch, 'verify-november.json'), 'utf8'),
    ) as Array<{day: string; intact: boolean}>;
    assert.strictEqual(month.length, 30);
    assert.strictEqual(month.find(d => d.day === DAY)?.intact, true);
    // --deep reads every recording back: an operator may not (archive_reader_members may).
    assert.match(steps[2]!.stdout, /unverifiable/);
  });

  it('should export the conversations an ad-hoc publish names, leaving the markers alone', async () => {
    const bucket = storageFor(stack).bucket(stack.bucket);
    const [success] = await bucket.file(`${env}/${DAY}/_SUCCESS`).getMetadata();
    const [published] = await run('gcloud pubsub topics publish "$GRM_TOPIC"');
    exits([published!], 0);
    assert.match(published!.stdout, /^messageIds:/m);
    const wanted = [placeholders.get('5a8c…')!, placeholders.get('9d1e…')!];
    const report = await eventually(
      'the ad-hoc report',
      async () => {
        const [files] = await bucket.getFiles({prefix: `${env}/${DAY}/_manifest/adhoc/`});
        for (const f of files) {
          const r = await readJson<{conversations: Array<{conversationId: string}>}>(stack, f.name);
          const ids = r?.conversations.map(c => c.conversationId).sort();
          if (JSON.stringify(ids) === JSON.stringify([...wanted].sort())) return r;
        }
        return undefined;
      },
      60_000,
    );
    assert.strictEqual(report.conversations.length, 2);
    const [after] = await bucket.file(`${env}/${DAY}/_SUCCESS`).getMetadata();
    assert.strictEqual(after.generation, success.generation);
  });

  it('should have the planner answer 202 to grm rerun and to the local curl with the metadata server’s ID token, during a Genesys outage', async () => {
    // Test plumbing, not a docs command: the simulator fails every recording of a batch download
    // (an internal error), so the new runs of the day end in _FAILURE.
    await genesysSettings({batchErrorRate: 1});
    const reruns = await run('npx grm rerun 2026-11-20');
    exits(reruns, 0, 0);
    for (const r of reruns) assert.match(r.stdout, /planner answered 202/);
    const curl = await run('TOKEN=$(curl');
    exits(curl, 0, 0);
    const summary = JSON.parse(curl[1]!.stdout) as {
      dryRun: boolean;
      days: Array<{day: string; runId: string}>;
    };
    assert.strictEqual(summary.dryRun, false, 'a run, not a dry run: the planner answers it 202');
    assert.strictEqual(summary.days[0]!.day, DAY);
    const {marker} = await waitForMarker(stack, env, DAY, {
      runId: summary.days[0]!.runId,
      want: '_FAILURE',
      timeoutMs: 120_000,
    });
    assert.ok(
      marker.gaps.every(g => /internal error/.test(g.reason)),
      JSON.stringify(marker.gaps),
    );
  });

  it('should replay with grm once the outage is over: a dry run, then a replay that turns the day _SUCCESS (exit 0)', async () => {
    await genesysSettings({batchErrorRate: 0});
    const [dry, wait] = await run('npx grm replay 2026-11-20 --dry-run');
    exits([dry!, wait!], 0, 0);
    assert.match(dry!.stdout, new RegExp(`would publish \\d+ messages? for ${DAY}`));
    assert.match(wait!.stdout, new RegExp(`${DAY} is now _SUCCESS`));
  });

  it('should list and replay a dead letter with grm, and pull one with gcloud', async () => {
    /** A batch message of the day in the dead-letter topic, as Pub/Sub moves one there. */
    const deadLetter = async (conversationId: string) => {
      const pubsub = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
      try {
        await pubsub.topic(stack.deadLetterTopic).publishMessage({
          json: {day: DAY, conversationIds: [conversationId]},
          attributes: {CloudPubSubDeadLetterSourceDeliveryCount: '5'},
        });
      } finally {
        await pubsub.close();
      }
    };
    await deadLetter(placeholders.get('5a8c…')!);
    const [listed, replayed] = await run('npx grm dead-letters');
    exits([listed!, replayed!], 1, 0);
    assert.match(listed!.stdout, new RegExp(`1 dead letter in ${stack.deadLetterSubscription}:`));
    assert.match(replayed!.stdout, /1 dead letter in \S+ \(valid ones replayed and acknowledged\)/);
    // gcloud's pull shows a dead letter and leaves it (not acknowledged).
    await deadLetter(placeholders.get('9d1e…')!);
    const [pulled] = await run('gcloud pubsub subscriptions pull "$GRM_DEAD_LETTER_SUBSCRIPTION"');
    exits([pulled!], 0);
    assert.ok(pulled!.stdout.includes(placeholders.get('9d1e…')!), pulled!.stdout);
    assert.match(pulled!.stdout, /CloudPubSubDeadLetterSourceDeliveryCount=5/);
  });

  it('should take the fault rule docs/local-stack.md shows at the GCS emulator', async () => {
    try {
      exits(await run('curl -X POST "$STORAGE_EMULATOR_HOST/_admin/faults"'), 0);
      const rules = (await (await fetch(`${stack.gcsUrl}/_admin/faults`)).json()) as unknown;
      assert.match(JSON.stringify(rules), /"path":"upload_id".*"status":503/);
    } finally {
      await fetch(`${stack.gcsUrl}/_admin/faults`, {method: 'DELETE'});
    }
  });

  it('should have run every shell block of the two pages but those marked with why they cannot run', () => {
    for (const b of BLOCKS) {
      if (b.mark?.kind === 'not run') {
        assert.ok(b.mark.reason.length >= 20, `${b.file}:${b.line}: say why it is not run`);
        assert.ok(!ran.has(b));
      } else {
        assert.ok(
          ran.has(b),
          `${b.file}:${b.line} is not run: run it here, or mark why it cannot run`,
        );
      }
    }
  });
});
