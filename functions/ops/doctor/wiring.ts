/**
 * Check 4: the wiring infra/ sets up, read back from the deployment: the
 * Cloud Scheduler job, the worker's push subscription and its dead letters,
 * the checker's Eventarc trigger (judged by core/deployment-wiring.ts), with
 * the functions' URLs from Cloud Run. The local stack has no Cloud
 * Scheduler, Eventarc or Cloud Run admin API: those checks are skipped,
 * saying so; the subscription's dead letters are read from the Pub/Sub
 * emulator.
 */
import {CheckResult, failed, skipped} from '../../core/doctor';
import {
  deadLetterCheck,
  eventarcTriggerCheck,
  PushSubscriptionView,
  pushEndpointCheck,
  schedulerJobCheck,
} from '../../core/deployment-wiring';
import {ApiRefusal, DoctorPorts, DoctorSettings, serviceAccount} from './ports';

const LOCAL = 'not on the local stack';

export interface WiringOutcome {
  results: CheckResult[];
  /** The planner's URL, given or looked up. */
  plannerUrl?: string;
}

/** A refused or failed lookup as a failure naming the role that reads it. */
export function lookupFailed(
  id: string,
  title: string,
  err: unknown,
  role: string,
  what: string,
): CheckResult {
  if (err instanceof ApiRefusal && (err.status === 403 || err.status === 401))
    return failed(
      id,
      title,
      `you may not read ${what} (HTTP ${err.status}: ${err.message})`,
      `run grm doctor as the deployer, or grant yourself ${role}`,
    );
  return failed(
    id,
    title,
    `could not read ${what}: ${err instanceof Error ? err.message : String(err)}`,
    'check --project and --region, then run grm doctor again',
  );
}

export async function checkWiring(p: DoctorPorts, s: DoctorSettings): Promise<WiringOutcome> {
  const subscriptionName = `${s.topic}-worker`;
  const results: CheckResult[] = [];
  let sub: PushSubscriptionView | undefined;
  let subResult: CheckResult | undefined;
  try {
    sub = await p.subscriptions.subscription(subscriptionName);
  } catch (err) {
    subResult = lookupFailed(
      'wiring.subscription',
      `subscription ${subscriptionName}`,
      err,
      'roles/pubsub.viewer',
      'the subscription',
    );
  }
  const deadLetters = () =>
    subResult ??
    deadLetterCheck(sub, {
      project: s.project,
      subscription: subscriptionName,
      deadLetterTopic: `${s.topic}-dead-letter`,
      maxDeliveryAttempts: s.maxDeliveryAttempts,
    });

  const d = p.deployment;
  if (!d) {
    results.push(
      skipped(
        'wiring.scheduler',
        'Cloud Scheduler job',
        `${LOCAL}: no Cloud Scheduler (npm run demo calls the planner as the job would)`,
      ),
      skipped(
        'wiring.tick',
        'Cloud Scheduler tick job',
        `${LOCAL}: no Cloud Scheduler (the stack's tests call the planner's tick as the job would)`,
      ),
      skipped(
        'wiring.push',
        `push subscription ${subscriptionName} → worker`,
        `${LOCAL}: the emulator pushes without an OIDC token and the stack's push agent signs as the push identity, so there is no endpoint or token to compare`,
      ),
      deadLetters(),
      skipped(
        'wiring.eventarc',
        'Eventarc trigger → checker',
        `${LOCAL}: no Eventarc (the GCS emulator posts finalize events to the checker as the trigger identity)`,
      ),
    );
    return {results, ...(s.plannerUrl ? {plannerUrl: s.plannerUrl} : {})};
  }

  const service = (role: string) => `${s.prefix}-${role}`;
  const url = async (role: string): Promise<string | CheckResult> => {
    try {
      const found = await d.serviceUrl(service(role));
      return (
        found ??
        failed(
          `wiring.${role}-url`,
          `Cloud Run service ${service(role)}`,
          `no service ${service(role)} in ${s.region}`,
          'terraform -chdir=infra apply; or check --prefix and --region',
        )
      );
    } catch (err) {
      return lookupFailed(
        `wiring.${role}-url`,
        `Cloud Run service ${service(role)}`,
        err,
        'roles/run.viewer',
        "the function's Cloud Run service",
      );
    }
  };
  const planner = s.plannerUrl ?? (await url('planner'));
  const worker = await url('worker');

  // The nightly job, then the every-minute tick that runs migrations and restores.
  for (const [job, tick] of [
    [`${s.prefix}-nightly-export`, false],
    [`${s.prefix}-migration-tick`, true],
  ] as const) {
    if (typeof planner !== 'string') {
      if (!tick) results.push(planner);
      continue;
    }
    try {
      results.push(
        schedulerJobCheck(await d.schedulerJob(job), {
          project: s.project,
          region: s.region,
          job,
          plannerUrl: planner,
          scheduler: serviceAccount(s, 'scheduler'),
          tick,
        }),
      );
    } catch (err) {
      results.push(
        lookupFailed(
          tick ? 'wiring.tick' : 'wiring.scheduler',
          `Cloud Scheduler job ${job}`,
          err,
          'roles/cloudscheduler.viewer',
          'the job',
        ),
      );
    }
  }

  if (typeof worker !== 'string') results.push(worker);
  else
    results.push(
      subResult ??
        pushEndpointCheck(sub, {
          subscription: subscriptionName,
          workerUrl: worker,
          pusher: serviceAccount(s, 'pusher'),
        }),
    );
  if (!subResult) results.push(deadLetters());

  try {
    results.push(
      eventarcTriggerCheck(await d.triggers(), {
        checker: service('checker'),
        bucket: s.bucket,
        eventarc: serviceAccount(s, 'eventarc'),
        region: s.region,
      }),
    );
  } catch (err) {
    results.push(
      lookupFailed(
        'wiring.eventarc',
        'Eventarc trigger → checker',
        err,
        'roles/eventarc.viewer',
        "the region's triggers",
      ),
    );
  }
  return {results, ...(typeof planner === 'string' ? {plannerUrl: planner} : {})};
}
