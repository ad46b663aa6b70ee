/**
 * The optional Cloud Composer DAG (infra/composer/). Airflow cannot be
 * installed here, so the DAG file is compiled (`python3 -m py_compile`),
 * never imported, and read as source by its own tests; the HTTP calls live
 * in grm_planner.py, plain Python, whose unittest suite runs here against a
 * scripted server and against the local stack's real planner: the nightly
 * request it makes checks the previous day (never planned: rerun, emailed)
 * and plans the day, and both runs end in `_SUCCESS` in the bucket.
 */
import * as assert from 'node:assert';
import {execFile} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Stack} from '../../local/stack';
import {LOCAL_EXPORT_ENV} from '../../local/product';
import {mailAbout, readJson, scheduleTimeFor, waitForMarker} from '../../local/run-day';
import type {DayPlan} from '../../functions/core/day-plan';
import type {PlanSummary} from '../../functions/services/planner';
import {declareProductDays, useProductStack} from '../setup/stack';

const ROOT = path.join(__dirname, '..', '..');
const COMPOSER = path.join(ROOT, 'infra', 'composer');
const FILES = ['grm_planner.py', 'genesys_recording_migrator_dag.py'];
const PREV = '2026-06-10';
const DAY = '2026-06-11';
declareProductDays('clean', {[PREV]: 3, [DAY]: 4});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs Python (`python3`, or PYTHON) with `args`, never writing bytecode
 * into the repository. A missing interpreter is an error that says so.
 */
function python(
  args: string[],
  env: Record<string, string> = {},
  command = process.env.PYTHON ?? 'python3',
): Promise<Run> {
  return new Promise((resolve, reject) =>
    execFile(
      command,
      args,
      {
        cwd: ROOT,
        timeout: 240_000,
        env: {
          ...process.env,
          PYTHONDONTWRITEBYTECODE: '1',
          PYTHONPYCACHEPREFIX: path.join(os.tmpdir(), 'grm-pycache'),
          ...env,
        },
      },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new Error(
              `${command} is not installed (or not on PATH): the Composer DAG's tests need Python 3 ` +
                '(CI has it: the Google Cloud CLI image brings it). Install python3, or set PYTHON to one.',
            ),
          );
          return;
        }
        resolve({code: err ? Number(err.code ?? 1) : 0, stdout, stderr});
      },
    ),
  );
}

/** What `python3 -m unittest -v` ran, and whether all of it passed without a skip. */
function unittestResult(run: Run): {ran: number; ok: boolean} {
  const ran = Number(/^Ran (\d+) tests? in /m.exec(run.stderr)?.[1] ?? 0);
  return {ran, ok: run.code === 0 && /^OK$/m.test(run.stderr)};
}

describe('Composer DAG (infra/composer)', function () {
  this.timeout(300_000);

  it('should say clearly that python3 is missing when it is', async () => {
    await assert.rejects(
      python(['--version'], {}, 'python3-not-installed-here'),
      /python3-not-installed-here is not installed \(or not on PATH\): the Composer DAG's tests need Python 3/,
    );
  });

  it('should compile the DAG and grm_planner.py (py_compile: the DAG imports Airflow, so it is never imported)', async () => {
    const run = await python(['-m', 'py_compile', ...FILES.map(f => path.join(COMPOSER, f))]);
    assert.strictEqual(run.code, 0, run.stderr);
  });

  describe('against the local planner', () => {
    let stack: Stack;
    let run: Run;
    let answer: PlanSummary;

    before(async function () {
      this.timeout(200_000);
      stack = await useProductStack('clean', {[PREV]: 3, [DAY]: 4});
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'grm-composer-')), 'answer.json');
      run = await python(['-m', 'unittest', 'discover', '-v', '-s', path.join(COMPOSER, 'tests')], {
        GRM_TEST_PLANNER_URL: stack.functions.planner!.url,
        GRM_TEST_ID_TOKEN: stack.iam!.idToken(
          stack.iam!.identities.composer!,
          stack.functions.planner!.url,
        ),
        GRM_TEST_RUN_TIME: scheduleTimeFor(DAY),
        GRM_TEST_DAY: DAY,
        GRM_TEST_PREVIOUS_DAY: PREV,
        GRM_TEST_OUTPUT: out,
      });
      if (fs.existsSync(out)) answer = JSON.parse(fs.readFileSync(out, 'utf8')) as PlanSummary;
    });

    it("should pass grm_planner's unittest suite, none of it skipped", () => {
      const {ran, ok} = unittestResult(run);
      assert.ok(ok, run.stderr.slice(-4000));
      assert.ok(ran >= 30, `only ${ran} tests ran`);
      assert.doesNotMatch(run.stderr, /skipped/);
      assert.match(
        run.stderr,
        /test_the_nightly_request_checks_the_previous_day_and_plans_the_day .* \.\.\. ok/,
      );
    });

    it('should have started both runs it reported, and each ends in _SUCCESS', async () => {
      assert.ok(answer, 'the nightly request wrote its answer');
      const [planned] = answer.days;
      const [checked] = answer.previous!;
      const planOf = async (day: string): Promise<DayPlan> => {
        const plan = await readJson<DayPlan>(
          stack,
          `${LOCAL_EXPORT_ENV}/${day}/_manifest/plan.json`,
        );
        assert.ok(plan, `${day} has a plan`);
        return plan;
      };
      const plan = await planOf(DAY);
      assert.strictEqual(plan.runId, planned!.runId);
      assert.strictEqual(plan.trigger, 'schedule');
      assert.strictEqual(plan.conversations, 4);
      const rerun = await planOf(PREV);
      assert.strictEqual(rerun.runId, checked!.newRunId);
      assert.strictEqual(rerun.trigger, 'check-previous');
      const mails = await mailAbout(stack, PREV);
      assert.strictEqual(mails.filter(m => /rerun started/.test(m.subject)).length, 1);
      for (const [day, runId] of [
        [DAY, planned!.runId],
        [PREV, checked!.newRunId!],
      ] as const) {
        const {marker} = await waitForMarker(stack, LOCAL_EXPORT_ENV, day, {runId});
        assert.strictEqual(marker.marker, '_SUCCESS', `${day}: ${marker.marker}`);
      }
    });
  });
});
