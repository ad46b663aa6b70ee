/**
 * A deployment's Cloud Scheduler job, Cloud Run services and Eventarc
 * triggers, read over their REST APIs with the caller's Application Default
 * Credentials (google-auth-library's GoogleAuth.request; the project has no
 * SDK dependency for them): Cloud Scheduler v1 `jobs.get`, Cloud Run Admin
 * v2 `services.get`, Eventarc v1 `triggers.list`. A refusal is an
 * ApiRefusal with the API's own message; a 404 is "there is none".
 */
import {GoogleAuth} from 'google-auth-library';
import type {SchedulerJobView, TriggerView} from '../core/deployment-wiring';
import {ApiRefusal, DeploymentApis} from '../ops/doctor/ports';

interface SchedulerJob {
  state?: string;
  httpTarget?: {
    uri?: string;
    httpMethod?: string;
    oidcToken?: {serviceAccountEmail?: string; audience?: string};
  };
}

interface Trigger {
  name?: string;
  eventFilters?: Array<{attribute?: string; value?: string}>;
  serviceAccount?: string;
  destination?: {cloudRun?: {service?: string}};
}

export class GoogleDeploymentApis implements DeploymentApis {
  private readonly auth = new GoogleAuth({
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
  });

  constructor(
    private readonly project: string,
    private readonly region: string,
  ) {}

  private get location(): string {
    return `projects/${this.project}/locations/${this.region}`;
  }

  /** GET `url`: the JSON body, undefined on 404, ApiRefusal on any other refusal. */
  private async get<T>(url: string): Promise<T | undefined> {
    try {
      const res = await this.auth.request<T>({url, method: 'GET', timeout: 30_000});
      return res.data;
    } catch (err) {
      const e = err as {status?: unknown; response?: {status?: unknown; data?: unknown}};
      const status = typeof e.status === 'number' ? e.status : e.response?.status;
      if (status === 404) return undefined;
      if (typeof status === 'number') throw new ApiRefusal(status, apiMessage(e.response?.data));
      throw err;
    }
  }

  async schedulerJob(job: string): Promise<SchedulerJobView | undefined> {
    const found = await this.get<SchedulerJob>(
      `https://cloudscheduler.googleapis.com/v1/${this.location}/jobs/${job}`,
    );
    if (!found) return undefined;
    const t = found.httpTarget;
    return {
      ...(found.state ? {state: found.state} : {}),
      ...(t?.uri ? {uri: t.uri} : {}),
      ...(t?.httpMethod ? {httpMethod: t.httpMethod} : {}),
      ...(t?.oidcToken?.serviceAccountEmail
        ? {oidcServiceAccount: t.oidcToken.serviceAccountEmail}
        : {}),
      ...(t?.oidcToken?.audience ? {oidcAudience: t.oidcToken.audience} : {}),
    };
  }

  async serviceUrl(service: string): Promise<string | undefined> {
    const found = await this.get<{uri?: string}>(
      `https://run.googleapis.com/v2/${this.location}/services/${service}`,
    );
    return found?.uri;
  }

  async triggers(): Promise<TriggerView[]> {
    const out: TriggerView[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.get<{triggers?: Trigger[]; nextPageToken?: string}>(
        `https://eventarc.googleapis.com/v1/${this.location}/triggers${pageToken ? `?pageToken=${encodeURIComponent(pageToken)}` : ''}`,
      );
      for (const t of page?.triggers ?? [])
        out.push({
          name: t.name ?? '',
          eventFilters: (t.eventFilters ?? []).map(f => ({
            attribute: f.attribute ?? '',
            value: f.value ?? '',
          })),
          ...(t.serviceAccount ? {serviceAccount: t.serviceAccount} : {}),
          ...(t.destination?.cloudRun?.service ? {service: t.destination.cloudRun.service} : {}),
        });
      pageToken = page?.nextPageToken || undefined;
    } while (pageToken);
    return out;
  }
}

/** A Google API error's own message (`{"error": {"message": …}}`), short. */
export function apiMessage(data: unknown): string {
  const message = (data as {error?: {message?: unknown}} | null)?.error?.message;
  return typeof message === 'string' ? message.slice(0, 300) : 'refused';
}
