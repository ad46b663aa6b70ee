/**
 * grm doctor's pure parts: the report (table, JSON, exit code), the form of
 * a SendGrid key, the wiring checks, and the bucket permission matrix
 * evaluated on infra/'s own policy (read from the Terraform files), on a
 * policy missing a grant and on one granting too much.
 */
import * as assert from 'node:assert';
import {
  CheckResult,
  doctorExitCode,
  doctorJson,
  doctorText,
  failed,
  passed,
  skipped,
} from '../../functions/core/doctor';
import {sendGridKeyProblem} from '../../functions/core/sendgrid-key';
import {
  deadLetterCheck,
  eventarcTriggerCheck,
  FINALIZED_EVENT,
  pushEndpointCheck,
  schedulerJobCheck,
} from '../../functions/core/deployment-wiring';
import {
  bucketOperations,
  PolicyBinding,
  predefinedRolePermissions,
  problemOf,
  verdictOf,
} from '../../functions/core/bucket-access';
import {loadPolicy} from '../../local/iam/policy';
import {bucketBindings} from '../../local/gcs/iam-policy';
import {grm} from '../../functions/ops/grm';

const KEY = `SG.${'a'.repeat(22)}.${'b'.repeat(43)}`;

describe('grm doctor (pure parts)', () => {
  describe('the report', () => {
    const results: CheckResult[] = [
      passed('a', 'first', 'fine'),
      skipped('b', 'second', 'not on the local stack'),
      failed('c', 'third', 'broken\nbadly', 'do this'),
    ];

    it('should exit 1 on any failure, 0 with passes and skips only', () => {
      assert.strictEqual(doctorExitCode(results), 1);
      assert.strictEqual(doctorExitCode(results.slice(0, 2)), 0);
      assert.strictEqual(doctorExitCode([]), 0);
    });

    it('should render one row per check, the counts, and each fix under the table', () => {
      const text = doctorText(results);
      assert.match(text, /^CHECK +RESULT +DETAIL$/m);
      assert.match(text, /^first +pass +fine$/m);
      assert.match(text, /^second +skipped +not on the local stack$/m);
      assert.match(text, /^third +FAIL +broken badly$/m);
      assert.match(text, /^1 passed, 1 failed, 1 skipped$/m);
      assert.match(text, /^- third: broken badly\n {2}fix: do this$/m);
    });

    it('should give machines every check with its status and fix', () => {
      const json = doctorJson(results);
      assert.strictEqual(json.ok, false);
      assert.deepStrictEqual(json.counts, {pass: 1, fail: 1, skipped: 1});
      assert.strictEqual(json.checks[2]!.fix, 'do this');
    });
  });

  describe('the form of a SendGrid key', () => {
    it('should accept SG.<22>.<43>, with surrounding whitespace as the functions trim it', () => {
      assert.strictEqual(sendGridKeyProblem(KEY), undefined);
      assert.strictEqual(sendGridKeyProblem(`${KEY}\n`), undefined);
    });

    it('should say what is wrong without quoting the key', () => {
      const cases = [
        '',
        'xx.aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
        'SG.short',
        `SG.${'a'.repeat(22)} .${'b'.repeat(43)}`,
        `SG.${'a'.repeat(22)}.${'b'.repeat(42)}!`,
      ];
      for (const key of cases) {
        const problem = sendGridKeyProblem(key);
        assert.ok(problem, key);
        if (key.length > 3) assert.ok(!problem.includes(key.slice(3, 10)), problem);
      }
      assert.match(sendGridKeyProblem('SG.short')!, /parts are 2, 5 characters/);
    });
  });

  describe('the wiring', () => {
    const url = 'https://grm-planner-abc-ew.a.run.app';
    const want = {
      project: 'p',
      region: 'europe-west1',
      job: 'grm-nightly-export',
      plannerUrl: url,
      scheduler: 'grm-scheduler@p.iam.gserviceaccount.com',
    };
    const job = {
      state: 'ENABLED',
      uri: url,
      httpMethod: 'POST',
      oidcServiceAccount: want.scheduler,
      oidcAudience: url,
    };

    it('should pass the scheduler job infra/ makes, and name what differs', () => {
      assert.strictEqual(schedulerJobCheck(job, want).status, 'pass');
      const paused = schedulerJobCheck({...job, state: 'PAUSED'}, want);
      assert.strictEqual(paused.status, 'fail');
      assert.match(paused.fix!, /gcloud scheduler jobs resume grm-nightly-export/);
      const audience = schedulerJobCheck({...job, oidcAudience: 'https://x'}, want);
      assert.match(audience.detail, /audience is https:\/\/x, not the planner's URL/);
      assert.match(schedulerJobCheck(undefined, want).fix!, /terraform -chdir=infra apply/);
    });

    it("should pass the worker's push subscription and dead letters, and name what differs", () => {
      const worker = 'https://grm-worker-abc-ew.a.run.app';
      const pusher = 'grm-pusher@p.iam.gserviceaccount.com';
      const sub = {
        pushEndpoint: `${worker}/projects/p/topics/grm-recording-batches`,
        oidcServiceAccount: pusher,
        oidcAudience: worker,
        deadLetterTopic: 'projects/p/topics/grm-recording-batches-dead-letter',
        maxDeliveryAttempts: 100,
      };
      const push = {subscription: 's', workerUrl: worker, pusher};
      assert.strictEqual(pushEndpointCheck(sub, push).status, 'pass');
      assert.match(
        pushEndpointCheck({...sub, oidcServiceAccount: undefined}, push).detail,
        /OIDC token is missing/,
      );
      assert.match(pushEndpointCheck({...sub, pushEndpoint: ''}, push).detail, /pull subscription/);
      const dl = {
        project: 'p',
        subscription: 's',
        deadLetterTopic: 'grm-recording-batches-dead-letter',
        maxDeliveryAttempts: 100,
      };
      assert.strictEqual(deadLetterCheck(sub, dl).status, 'pass');
      const fewer = deadLetterCheck({...sub, maxDeliveryAttempts: 5}, dl);
      assert.strictEqual(fewer.status, 'fail');
      assert.match(fewer.detail, /after 5 deliveries, not max_delivery_attempts = 100/);
    });

    it("should pass the checker's trigger and name what differs", () => {
      const want = {
        checker: 'grm-checker',
        bucket: 'b',
        eventarc: 'grm-eventarc@p.iam.gserviceaccount.com',
        region: 'europe-west1',
      };
      const trigger = {
        name: 'projects/p/locations/europe-west1/triggers/grm-checker-123',
        eventFilters: [
          {attribute: 'type', value: FINALIZED_EVENT},
          {attribute: 'bucket', value: 'b'},
        ],
        serviceAccount: want.eventarc,
        service: 'grm-checker',
      };
      assert.strictEqual(eventarcTriggerCheck([trigger], want).status, 'pass');
      assert.match(eventarcTriggerCheck([], want).detail, /no day will ever be decided/);
      const other = eventarcTriggerCheck(
        [{...trigger, eventFilters: [{attribute: 'type', value: FINALIZED_EVENT}]}],
        want,
      );
      assert.match(other.detail, /filters bucket none, not b/);
    });
  });

  describe('the bucket permission matrix', () => {
    const BUCKET = 'rec';
    const PROJECT = 'p';
    const ids = {
      env: 'brave',
      day: '2026-11-20',
      runId: 'r20261123t000000-abcdef',
      batchId: 'b0001-abcdef',
      conversationId: '0a1b2c3d-0000-4000-8000-000000000001',
      recordingId: '9f8e7d6c-0000-4000-8000-000000000002',
      messageId: '1234567890',
    };
    const member = (sa: string) => `serviceAccount:grm-${sa}@${PROJECT}.iam.gserviceaccount.com`;
    let bindings: PolicyBinding[];

    before(async () => {
      const policy = await loadPolicy({project: PROJECT, bucket: BUCKET, env: ids.env});
      bindings = bucketBindings(policy, BUCKET);
    });

    const problems = (b: readonly PolicyBinding[]) =>
      bucketOperations(ids)
        .map(op => verdictOf(op, member(op.identity), BUCKET, b, predefinedRolePermissions))
        .filter(v => problemOf(v) !== undefined);

    it("should find infra/'s grants exactly as the functions need them", () => {
      assert.deepStrictEqual(
        problems(bindings).map(v => `${v.operation.identity}: ${v.operation.what}`),
        [],
      );
    });

    it('should name the identity, operation, object and permission a missing grant takes away', () => {
      // The worker's read grant without the listing (it shares its binding with the checker's).
      const listing = 'resource.type == "storage.googleapis.com/Bucket" || ';
      const without = bindings.flatMap(b => {
        if (!b.members.includes(member('worker')) || b.role !== 'roles/storage.objectViewer')
          return [b];
        const expression = b.condition!.expression.replace(listing, '');
        assert.notStrictEqual(expression, b.condition!.expression);
        return [
          {...b, members: b.members.filter(m => m !== member('worker'))},
          {...b, members: [member('worker')], condition: {...b.condition!, expression}},
        ];
      });
      const found = problems(without);
      assert.deepStrictEqual(
        found.map(v => [v.operation.identity, v.operation.what, v.missing, v.operation.grant]),
        [['worker', 'list the bucket', ['storage.objects.list'], 'worker_reads']],
      );
    });

    it('should find a grant that lets the worker delete or replace recordings, or write the decided records or the migration record', () => {
      const wide = [...bindings, {role: 'roles/storage.objectUser', members: [member('worker')]}];
      const found = problems(wide);
      assert.ok(found.length >= 12);
      assert.ok(found.every(v => problemOf(v) === 'excess' && v.operation.identity === 'worker'));
      assert.ok(
        found.every(v => /recording|decided records|migration record/.test(v.operation.what)),
      );
      assert.ok(found.some(v => v.operation.what === 'create the decided records'));
      assert.ok(found.some(v => v.operation.what === 'create the migration record'));
      assert.ok(found.some(v => v.grantedBy.some(b => !b.condition)));
    });

    it("should name the checker's restore queue grant when it is missing", () => {
      const without = bindings.filter(b => !b.condition?.title?.startsWith('queue restores'));
      assert.strictEqual(without.length, bindings.length - 1, 'infra/ grants it');
      const found = problems(without);
      assert.deepStrictEqual(
        found.map(v => [v.operation.identity, v.operation.what, v.operation.grant]),
        [['checker', 'queue restores', 'checker_queues_restores']],
      );
    });

    it('should leave an operation open when a role of unknown permissions could grant it', () => {
      const custom = bindings.map(b =>
        b.members.includes(member('checker')) && b.role === 'roles/storage.objectViewer'
          ? {...b, role: `projects/${PROJECT}/roles/grm_reader`}
          : b,
      );
      const list = bucketOperations(ids).find(
        op => op.identity === 'checker' && op.what === 'list the bucket',
      )!;
      const v = verdictOf(list, member('checker'), BUCKET, custom, predefinedRolePermissions);
      assert.strictEqual(v.can, undefined);
      assert.match(v.unknown.join(), /grm_reader are unknown/);
      assert.strictEqual(problemOf(v), undefined);
    });
  });
});

describe('grm doctor: usage', () => {
  async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<{code: number; err: string}> {
    const err: string[] = [];
    const code = await grm(argv, {
      out: () => {},
      err: l => err.push(l),
      env,
      now: () => Date.parse('2026-12-06T12:00:00Z'),
      sleep: async () => {},
    });
    return {code, err: err.join('\n')};
  }
  const local = {STORAGE_EMULATOR_HOST: 'http://127.0.0.1:1', PUBSUB_EMULATOR_HOST: '127.0.0.1:2'};

  it('should list its flags under --help', async () => {
    const out: string[] = [];
    const code = await grm(['doctor', '--help'], {
      out: l => out.push(l),
      err: () => {},
      env: {},
      now: () => 0,
      sleep: async () => {},
    });
    assert.strictEqual(code, 0);
    for (const flag of ['--region', '--prefix', '--genesys-secret', '--max-delivery-attempts'])
      assert.ok(out.join('\n').includes(flag), flag);
  });

  it('should exit 2 when --local lacks the stack variables, or a number is out of range', async () => {
    const missing = await run(['doctor', '--local'], local);
    assert.strictEqual(missing.code, 2);
    assert.match(
      missing.err,
      /SECRET_MANAGER_EMULATOR_HOST, SENDGRID_API_URL, GENESYS_SIMULATOR_URL/,
    );
    const attempts = await run(
      ['doctor', '--project', 'p', '--bucket', 'b', '--env', 'e', '--max-delivery-attempts', '3'],
      {},
    );
    assert.strictEqual(attempts.code, 2);
    assert.match(attempts.err, /--max-delivery-attempts takes a whole number from 5 to 100/);
    const zone = await run(
      ['doctor', '--project', 'p', '--bucket', 'b', '--env', 'e', '--time-zone', 'Mars/Base'],
      {},
    );
    assert.strictEqual(zone.code, 2);
  });
});
