/**
 * grm doctor's checks on a deployment, behind fake ports (the local stack
 * has no Cloud Scheduler, Cloud Run admin API or Eventarc): the wiring read
 * back with the functions' URLs from Cloud Run, a refusal naming the role
 * that reads it, the planner's dry run falling back to the last night's
 * window, and a Genesys that will not say whether a client holds
 * viewSensitiveData.
 */
import * as assert from 'node:assert';
import {checkWiring} from '../../functions/ops/doctor/wiring';
import {checkPlanner, nextNightDay} from '../../functions/ops/doctor/planner';
import {checkGenesys} from '../../functions/ops/doctor/genesys';
import {
  ApiRefusal,
  DeploymentApis,
  DoctorPorts,
  DoctorSettings,
  GenesysClientProbe,
} from '../../functions/ops/doctor/ports';
import {FINALIZED_EVENT} from '../../functions/core/deployment-wiring';

const P = 'my-project';
const sa = (role: string) => `grm-${role}@${P}.iam.gserviceaccount.com`;
const URLS: Record<string, string> = {
  'grm-planner': 'https://grm-planner-x.a.run.app',
  'grm-worker': 'https://grm-worker-x.a.run.app',
  'grm-checker': 'https://grm-checker-x.a.run.app',
};

const settings: DoctorSettings = {
  project: P,
  region: 'europe-west1',
  prefix: 'grm',
  bucket: 'recordings',
  env: 'brave',
  topic: 'grm-recording-batches',
  local: false,
  secrets: {genesysClients: 'grm-genesys-clients', sendgridKey: 'grm-sendgrid-api-key'},
  genesysAt: 'login.mypurecloud.ie',
  maxDeliveryAttempts: 100,
  windowLagDays: 3,
  timeZone: 'UTC',
  metadataMode: 'full',
  now: Date.parse('2026-12-06T12:00:00Z'),
  probeToken: 'abc123',
};

function deployment(over: Partial<DeploymentApis> = {}): DeploymentApis {
  return {
    schedulerJob: async () => ({
      state: 'ENABLED',
      uri: URLS['grm-planner'],
      httpMethod: 'POST',
      oidcServiceAccount: sa('scheduler'),
      oidcAudience: URLS['grm-planner'],
    }),
    serviceUrl: async s => URLS[s],
    triggers: async () => [
      {
        name: `projects/${P}/locations/europe-west1/triggers/grm-checker-1`,
        eventFilters: [
          {attribute: 'type', value: FINALIZED_EVENT},
          {attribute: 'bucket', value: 'recordings'},
        ],
        serviceAccount: sa('eventarc'),
        service: 'grm-checker',
      },
    ],
    ...over,
  };
}

function ports(d: DeploymentApis): DoctorPorts {
  return {
    deployment: d,
    subscriptions: {
      subscription: async (name: string) =>
        name === 'grm-recording-batches-worker'
          ? {
              pushEndpoint: `${URLS['grm-worker']}/projects/${P}/topics/grm-recording-batches`,
              oidcServiceAccount: sa('pusher'),
              oidcAudience: URLS['grm-worker'],
              deadLetterTopic: `projects/${P}/topics/grm-recording-batches-dead-letter`,
              maxDeliveryAttempts: 100,
            }
          : undefined,
    },
  } as unknown as DoctorPorts;
}

describe('grm doctor checks on a deployment (fake ports)', () => {
  it("should pass infra/'s wiring, with the functions' URLs from Cloud Run", async () => {
    const {results, plannerUrl} = await checkWiring(ports(deployment()), settings);
    assert.deepStrictEqual(
      results.map(r => [r.id, r.status]),
      [
        ['wiring.scheduler', 'pass'],
        ['wiring.tick', 'pass'],
        ['wiring.push', 'pass'],
        ['wiring.dead-letter', 'pass'],
        ['wiring.eventarc', 'pass'],
      ],
    );
    assert.strictEqual(plannerUrl, URLS['grm-planner']);
  });

  it('should fail a paused tick job: no migration or restore would advance', async () => {
    const base = deployment();
    const {results} = await checkWiring(
      ports(
        deployment({
          schedulerJob: async (job: string) => ({
            ...(await base.schedulerJob(job))!,
            ...(job === 'grm-migration-tick' ? {state: 'PAUSED'} : {}),
          }),
        }),
      ),
      settings,
    );
    assert.strictEqual(results.find(r => r.id === 'wiring.scheduler')!.status, 'pass');
    const tick = results.find(r => r.id === 'wiring.tick')!;
    assert.strictEqual(tick.status, 'fail');
    assert.match(
      tick.detail,
      /PAUSED, so no history migration or restore of archived recordings advances/,
    );
    assert.match(
      tick.fix!,
      /^gcloud scheduler jobs resume grm-migration-tick --location=europe-west1/,
    );
  });

  it('should fail a refused lookup naming the role that reads it, and a missing service', async () => {
    const {results} = await checkWiring(
      ports(
        deployment({
          schedulerJob: async () => {
            throw new ApiRefusal(403, "Permission 'cloudscheduler.jobs.get' denied");
          },
          serviceUrl: async s => (s === 'grm-worker' ? undefined : URLS[s]),
        }),
      ),
      settings,
    );
    const scheduler = results.find(r => r.id === 'wiring.scheduler')!;
    assert.strictEqual(scheduler.status, 'fail');
    assert.match(scheduler.detail, /you may not read the job \(HTTP 403/);
    assert.match(scheduler.fix!, /roles\/cloudscheduler\.viewer/);
    const worker = results.find(r => r.id === 'wiring.worker-url')!;
    assert.match(worker.detail, /no service grm-worker in europe-west1/);
    assert.ok(!results.some(r => r.id === 'wiring.push'), 'no push check without its URL');
  });

  it("should dry-run the next night's day, or the last night's when the planner refuses it for now", async () => {
    const asked: unknown[] = [];
    const next = nextNightDay(settings);
    assert.strictEqual(next, '2026-12-04');
    const result = await checkPlanner(
      () => async body => {
        asked.push(body);
        return (body as {day: string}).day === next
          ? {status: 409, body: {error: `${next} is too recent`}}
          : {
              status: 200,
              body: {dryRun: true, days: [{day: '2026-12-03', conversations: 812, batches: 9}]},
            };
      },
      URLS['grm-planner'],
      settings,
    );
    assert.deepStrictEqual(asked, [
      {day: '2026-12-04', dryRun: true},
      {day: '2026-12-03', dryRun: true},
    ]);
    assert.strictEqual(result.status, 'pass');
    assert.match(
      result.detail,
      /^2026-12-03: would export 812 conversations in 9 batches \(the last night's window/,
    );
    const refused = await checkPlanner(
      () => async () => ({status: 403, body: {error: 'Forbidden'}}),
      URLS['grm-planner'],
      settings,
    );
    assert.strictEqual(refused.status, 'fail');
    assert.match(refused.fix!, /operator_members \(roles\/run\.invoker on the planner\)/);
  });

  it('should check the restore permission only under ARCHIVED_POLICY=restore, failing a client without it', async () => {
    const held = (permission: string) => permission !== 'recording:recording:restore';
    const probe: GenesysClientProbe = {
      login: async () => undefined,
      analyticsQuery: async () => ({status: 200}),
      recordingMetadata: async () => ({status: 404}),
      divisionsPermitted: async (permission: string) => ({
        status: 200,
        total: held(permission) ? 1 : 0,
      }),
    };
    const clients = [{clientId: 'c1', clientSecret: 'never-shown'}];
    const restoring = await checkGenesys({client: () => probe}, clients, 'x', 'full', 'restore');
    const row = restoring.find(r => r.id === 'genesys.c1.restore')!;
    assert.strictEqual(row.status, 'fail');
    assert.match(
      row.detail,
      /held in no division: with ARCHIVED_POLICY=restore every restore .* is refused/,
    );
    assert.match(row.fix!, /recording:recording:restore .*; or set archived_policy = "fail"$/);
    const failing = await checkGenesys({client: () => probe}, clients, 'x', 'full', 'fail');
    assert.ok(
      !failing.some(r => r.id === 'genesys.c1.restore'),
      'no row without the restore policy',
    );
    const holding = await checkGenesys(
      {client: () => ({...probe, divisionsPermitted: async () => ({status: 200, total: 1})})},
      clients,
      'x',
      'full',
      'restore',
    );
    assert.strictEqual(holding.find(r => r.id === 'genesys.c1.restore')!.status, 'pass');
  });

  it('should skip viewSensitiveData, saying why, when Genesys will not answer for the client', async () => {
    const probe: GenesysClientProbe = {
      login: async () => undefined,
      analyticsQuery: async () => ({status: 200}),
      recordingMetadata: async () => ({status: 404}),
      divisionsPermitted: async () => ({status: 400}),
    };
    const results = await checkGenesys(
      {client: () => probe},
      [{clientId: 'c1', clientSecret: 'never-shown'}],
      'login.mypurecloud.ie',
    );
    assert.deepStrictEqual(
      results.map(r => r.status),
      ['pass', 'pass', 'pass', 'skipped'],
    );
    assert.match(results[3]!.detail, /Genesys would not say .*HTTP 400.*no call fails without it/);
    const lacking = await checkGenesys(
      {client: () => ({...probe, analyticsQuery: async () => ({status: 403})})},
      [{clientId: 'c1', clientSecret: 'never-shown'}],
      'login.mypurecloud.ie',
    );
    assert.strictEqual(lacking[1]!.status, 'fail');
    assert.match(
      lacking[1]!.detail,
      /HTTP 403: the client lacks analytics:conversationDetail:view/,
    );
    assert.ok(!JSON.stringify([results, lacking]).includes('never-shown'));
  });

  it('should say, with METADATA=lean, that a client not proven to hold viewSensitiveData runs in full mode', async () => {
    const probe = (divisions: GenesysClientProbe['divisionsPermitted']): GenesysClientProbe => ({
      login: async () => undefined,
      analyticsQuery: async () => ({status: 200}),
      recordingMetadata: async () => ({status: 404}),
      divisionsPermitted: divisions,
    });
    const row = async (
      divisions: GenesysClientProbe['divisionsPermitted'],
      mode: 'full' | 'lean',
    ) =>
      (
        await checkGenesys(
          {client: () => probe(divisions)},
          [{clientId: 'c1', clientSecret: 'never-shown'}],
          'login.mypurecloud.ie',
          mode,
        )
      )[3]!;
    const held = await row(async () => ({status: 200, total: 2}), 'lean');
    assert.deepStrictEqual(
      [held.status, held.detail],
      [
        'pass',
        'held in 2 divisions (divisionspermitted/paged/me); METADATA=lean runs on this client',
      ],
    );
    const lacking = await row(async () => ({status: 200, total: 0}), 'lean');
    assert.strictEqual(lacking.status, 'fail');
    assert.match(
      lacking.detail,
      /^held in no division: .*\. METADATA=lean: .*batches run in full mode/,
    );
    const unknown = await row(async () => ({status: 403}), 'lean');
    assert.strictEqual(unknown.status, 'skipped');
    assert.match(unknown.detail, /HTTP 403.*\. METADATA=lean: the worker cannot prove it either/);
    const unanswered = await row(async () => ({error: 'ECONNRESET'}), 'lean');
    assert.match(unanswered.detail, /ECONNRESET.*\. METADATA=lean: .*full mode/);
    // In full mode lean's consequence is not the client's business.
    for (const outcome of [{status: 200, total: 0}, {status: 403}, {status: 200, total: 1}])
      assert.doesNotMatch((await row(async () => outcome, 'full')).detail, /METADATA|full mode/);
    assert.ok(!JSON.stringify([held, lacking, unknown]).includes('never-shown'));
  });
});
