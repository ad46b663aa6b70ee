/**
 * What `grm doctor` needs from the outside world. Adapters implement these
 * over the official clients (functions/ops/doctor-wiring.ts builds them);
 * the checks in this folder see nothing else. No port ever hands a secret to
 * an error, a detail or a log line: the values it reads go to the checks
 * that use them, and out of them only as "well-formed" or what is wrong.
 */
import type {GenesysCredentials} from '../../core/genesys-credentials';
import type {PolicyBinding} from '../../core/bucket-access';
import type {
  PushSubscriptionView,
  SchedulerJobView,
  TriggerView,
} from '../../core/deployment-wiring';

/** A Google API's refusal: its HTTP status (or gRPC code name) and its own message. */
export class ApiRefusal extends Error {
  override name = 'ApiRefusal' as const;
  constructor(
    /** 403, 404, 401, … (gRPC: PERMISSION_DENIED → 403, NOT_FOUND → 404, UNAUTHENTICATED → 401). */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type SecretRead =
  | {ok: true; value: string}
  | {
      ok: false;
      /** not-found: no secret or no version; disabled: latest version disabled or destroyed. */
      reason: 'not-found' | 'denied' | 'disabled' | 'unauthenticated' | 'error';
      detail: string;
    };

export interface SecretSource {
  /** The latest version of a secret of the project. */
  latest(secret: string): Promise<SecretRead>;
}

/** An HTTP answer's status, or why there was none. */
export type CallOutcome = {status: number; total?: number} | {error: string};

export interface GenesysClientProbe {
  /** Client-credentials login: undefined on success, else what refused it (status and OAuth code only). */
  login(): Promise<string | undefined>;
  /** A zero-result analytics conversation detail query. */
  analyticsQuery(): Promise<CallOutcome>;
  /** Recording metadata of a conversation that does not exist (404 with the permission). */
  recordingMetadata(conversationId: string): Promise<CallOutcome>;
  /** `divisionspermitted/paged/me` for a permission: `total` divisions. */
  divisionsPermitted(permission: string): Promise<CallOutcome>;
}

export interface GenesysProbes {
  client(credentials: GenesysCredentials): GenesysClientProbe;
}

export interface SendGridProbe {
  /** GET /v3/scopes with the key: 200 and its scopes, or the status. */
  scopes(key: string): Promise<{status: number; scopes?: string[]} | {error: string}>;
}

/** The admin APIs of a deployment (none on the local stack). Throw ApiRefusal when refused. */
export interface DeploymentApis {
  schedulerJob(job: string): Promise<SchedulerJobView | undefined>;
  /** A Cloud Run service's URL (the function's), undefined if there is no such service. */
  serviceUrl(service: string): Promise<string | undefined>;
  /** The region's Eventarc triggers. */
  triggers(): Promise<TriggerView[]>;
}

export interface SubscriptionSource {
  /** Undefined if there is no such subscription; throws ApiRefusal when refused. */
  subscription(name: string): Promise<PushSubscriptionView | undefined>;
}

export interface BucketPolicySource {
  /** The bucket's IAM policy (version 3); throws ApiRefusal when refused. */
  bindings(): Promise<PolicyBinding[]>;
  /** A custom role's permissions, undefined when they cannot be read. */
  customRole(role: string): Promise<string[] | undefined>;
}

export type ProbeOutcome =
  | {ok: true; cleanedUp: true}
  | {ok: true; cleanedUp: false; detail: string}
  | {ok: false; stage: 'impersonate' | 'write' | 'read'; status?: number; detail: string};

export interface BucketProbe {
  /**
   * As `email` (impersonated): create `object` with `content` (only if it
   * does not exist), read it back; then delete that generation with the
   * caller's own rights.
   */
  writeAndRead(email: string, object: string, content: string): Promise<ProbeOutcome>;
}

export type PlannerCall = (body: unknown) => Promise<{status: number; body: unknown}>;

export interface DoctorPorts {
  secrets: SecretSource;
  genesys: GenesysProbes;
  sendgrid: SendGridProbe;
  /** Absent on the local stack. */
  deployment?: DeploymentApis;
  subscriptions: SubscriptionSource;
  bucket: BucketPolicySource;
  /** Absent when nothing can impersonate (then the probes are skipped). */
  probe?: BucketProbe;
  /** Calls the planner with the caller's ID token (absent without a planner URL). */
  planner?: (url: string) => PlannerCall;
}

/** What doctor checks against: the deployment's names and settings. */
export interface DoctorSettings {
  project: string;
  region: string;
  /** infra/'s `prefix`: names every resource and service account. */
  prefix: string;
  bucket: string;
  env: string;
  topic: string;
  local: boolean;
  secrets: {genesysClients: string; sendgridKey: string};
  /** Where the Genesys clients log in, for people: the region host, or the simulator's URL. */
  genesysAt: string;
  /** Given by flag or environment; else looked up (Cloud Run). */
  plannerUrl?: string;
  maxDeliveryAttempts: number;
  windowLagDays: number;
  timeZone: string;
  /** METADATA the worker runs with: lean mode only on clients that prove viewSensitiveData. */
  metadataMode: 'full' | 'lean';
  /** ARCHIVED_POLICY: `restore` needs the clients to hold the restore permission. */
  archivedPolicy?: 'restore' | 'fail' | 'skip';
  now: number;
  /** Makes each probe's object name unique. */
  probeToken: string;
}

/** infra/'s service account of a role: `PREFIX-ROLE@PROJECT.iam.gserviceaccount.com`. */
export function serviceAccount(
  s: Pick<DoctorSettings, 'prefix' | 'project'>,
  role: string,
): string {
  return `${s.prefix}-${role}@${s.project}.iam.gserviceaccount.com`;
}
