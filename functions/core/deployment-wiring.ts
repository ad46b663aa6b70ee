/**
 * How the pipeline's pieces reach each other, as infra/ wires them, held
 * against what the deployment says of itself: the Cloud Scheduler job calls
 * the planner's URL with an OIDC token of the scheduler identity for that
 * URL; the worker's push subscription pushes to the worker's URL with an
 * OIDC token of the push identity, dead-lettering after the configured
 * attempts; the checker's Eventarc trigger sends the bucket's finalize
 * events as the trigger identity. Each view holds only the fields checked.
 */
import {CheckResult, failed, passed} from './doctor';

const APPLY = 'terraform -chdir=infra apply (it restores what infra/ declares)';

export interface SchedulerJobView {
  /** ENABLED, PAUSED, DISABLED, UPDATE_FAILED. */
  state?: string;
  uri?: string;
  httpMethod?: string;
  oidcServiceAccount?: string;
  oidcAudience?: string;
}

export interface SchedulerWant {
  project: string;
  region: string;
  job: string;
  plannerUrl: string;
  scheduler: string;
  /** The planner's every-minute tick (migration and restores), not the nightly job. */
  tick?: boolean;
}

export function schedulerJobCheck(
  job: SchedulerJobView | undefined,
  want: SchedulerWant,
): CheckResult {
  const id = want.tick ? 'wiring.tick' : 'wiring.scheduler';
  const title = `Cloud Scheduler job ${want.job}`;
  const stops = want.tick
    ? 'so no history migration or restore of archived recordings advances'
    : 'so no night is planned';
  if (!job)
    return failed(id, title, `no job ${want.job} in ${want.region}`, `${APPLY}; or check --region`);
  if (job.state !== 'ENABLED') {
    const resume = `gcloud scheduler jobs resume ${want.job} --location=${want.region} --project=${want.project}`;
    return failed(
      id,
      title,
      `the job is ${job.state ?? 'in no state'}, ${stops}`,
      job.state !== 'PAUSED'
        ? APPLY
        : want.tick
          ? resume
          : `${resume} (unless a Cloud Composer DAG triggers the nightly run: composer_service_account pauses the job on purpose)`,
    );
  }
  const problems: string[] = [];
  if (job.uri !== want.plannerUrl)
    problems.push(`it calls ${job.uri ?? 'no URL'}, not the planner's ${want.plannerUrl}`);
  if (job.httpMethod !== 'POST')
    problems.push(`its method is ${job.httpMethod ?? 'unset'}, not POST`);
  if (job.oidcServiceAccount !== want.scheduler)
    problems.push(
      `its OIDC token is ${job.oidcServiceAccount ? `of ${job.oidcServiceAccount}` : 'missing'}, not of ${want.scheduler}`,
    );
  else if (job.oidcAudience !== want.plannerUrl)
    problems.push(
      `its OIDC audience is ${job.oidcAudience ?? 'unset'}, not the planner's URL (Cloud Run would answer 401)`,
    );
  if (problems.length) return failed(id, title, problems.join('; '), APPLY);
  return passed(
    id,
    title,
    `enabled; POSTs to the planner with an OIDC token of ${want.scheduler} for its URL`,
  );
}

export interface PushSubscriptionView {
  /** Empty for a pull subscription. */
  pushEndpoint?: string;
  oidcServiceAccount?: string;
  oidcAudience?: string;
  /** `projects/P/topics/T`. */
  deadLetterTopic?: string;
  maxDeliveryAttempts?: number;
}

export interface PushWant {
  subscription: string;
  workerUrl: string;
  pusher: string;
}

export function pushEndpointCheck(
  sub: PushSubscriptionView | undefined,
  want: PushWant,
): CheckResult {
  const id = 'wiring.push';
  const title = `push subscription ${want.subscription} → worker`;
  if (!sub) return failed(id, title, `no subscription ${want.subscription}`, APPLY);
  const problems: string[] = [];
  const base = want.workerUrl.replace(/\/$/, '');
  if (!sub.pushEndpoint) problems.push('it is a pull subscription: nothing pushes to the worker');
  else if (sub.pushEndpoint !== base && !sub.pushEndpoint.startsWith(`${base}/`))
    problems.push(`it pushes to ${sub.pushEndpoint}, not to the worker's ${base}`);
  if (sub.pushEndpoint && sub.oidcServiceAccount !== want.pusher)
    problems.push(
      `its OIDC token is ${sub.oidcServiceAccount ? `of ${sub.oidcServiceAccount}` : 'missing'}, not of ${want.pusher} (the worker would refuse every push)`,
    );
  else if (sub.pushEndpoint && sub.oidcAudience !== base)
    problems.push(
      `its OIDC audience is ${sub.oidcAudience ?? 'unset'}, not the worker's URL (Cloud Run would answer 401)`,
    );
  if (problems.length) return failed(id, title, problems.join('; '), APPLY);
  return passed(id, title, `pushes to the worker with an OIDC token of ${want.pusher} for its URL`);
}

export interface DeadLetterWant {
  project: string;
  subscription: string;
  deadLetterTopic: string;
  maxDeliveryAttempts: number;
}

export function deadLetterCheck(
  sub: PushSubscriptionView | undefined,
  want: DeadLetterWant,
): CheckResult {
  const id = 'wiring.dead-letter';
  const title = `dead letters of ${want.subscription}`;
  if (!sub) return failed(id, title, `no subscription ${want.subscription}`, APPLY);
  const topic = `projects/${want.project}/topics/${want.deadLetterTopic}`;
  const problems: string[] = [];
  if (sub.deadLetterTopic !== topic)
    problems.push(
      `undeliverable batches go to ${sub.deadLetterTopic ?? 'no dead-letter topic'}, not ${topic}`,
    );
  if (sub.maxDeliveryAttempts !== want.maxDeliveryAttempts)
    problems.push(
      `they are dead-lettered after ${sub.maxDeliveryAttempts ?? 'no'} deliveries, not max_delivery_attempts = ${want.maxDeliveryAttempts}`,
    );
  if (problems.length)
    return failed(
      id,
      title,
      problems.join('; '),
      `${APPLY}; if max_delivery_attempts was set on purpose, pass --max-delivery-attempts`,
    );
  return passed(
    id,
    title,
    `to ${want.deadLetterTopic} after ${want.maxDeliveryAttempts} deliveries`,
  );
}

export interface TriggerView {
  name: string;
  eventFilters: Array<{attribute: string; value: string}>;
  serviceAccount?: string;
  /** The Cloud Run service it delivers to. */
  service?: string;
}

export interface TriggerWant {
  checker: string;
  bucket: string;
  eventarc: string;
  region: string;
}

export const FINALIZED_EVENT = 'google.cloud.storage.object.v1.finalized';

export function eventarcTriggerCheck(
  triggers: readonly TriggerView[],
  want: TriggerWant,
): CheckResult {
  const id = 'wiring.eventarc';
  const title = `Eventarc trigger → ${want.checker}`;
  const mine = triggers.filter(t => t.service === want.checker);
  if (mine.length === 0)
    return failed(
      id,
      title,
      `no trigger in ${want.region} delivers to ${want.checker}: no day will ever be decided`,
      APPLY,
    );
  const filter = (t: TriggerView, attribute: string) =>
    t.eventFilters.find(f => f.attribute === attribute)?.value;
  const good = mine.find(
    t =>
      filter(t, 'type') === FINALIZED_EVENT &&
      filter(t, 'bucket') === want.bucket &&
      t.serviceAccount === want.eventarc,
  );
  if (good)
    return passed(id, title, `${want.bucket}'s finalize events, delivered as ${want.eventarc}`);
  const t = mine[0]!;
  const problems: string[] = [];
  if (filter(t, 'type') !== FINALIZED_EVENT)
    problems.push(
      `it filters events of type ${filter(t, 'type') ?? 'any'}, not ${FINALIZED_EVENT}`,
    );
  if (filter(t, 'bucket') !== want.bucket)
    problems.push(`it filters bucket ${filter(t, 'bucket') ?? 'none'}, not ${want.bucket}`);
  if (t.serviceAccount !== want.eventarc)
    problems.push(`it runs as ${t.serviceAccount ?? 'the default identity'}, not ${want.eventarc}`);
  return failed(id, title, problems.join('; '), APPLY);
}
