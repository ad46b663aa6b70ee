/**
 * `grm doctor`'s composition root: the adapters behind its ports, for a
 * deployment (Application Default Credentials, Google's endpoints) or for
 * the local stack (its emulators and stand-ins, from the variables
 * `npm run stack` prints; no Cloud Scheduler, Eventarc or Cloud Run admin
 * API there). Returns the ports and what closes them.
 */
import type {AuthClient} from 'google-auth-library';
import {BucketPolicy, ImpersonatingProbe} from '../adapters/bucket-iam';
import {GoogleDeploymentApis} from '../adapters/deployment-apis';
import {GenesysPermissionProbes} from '../adapters/genesys-permissions';
import {pubsubClient, storageClient} from '../adapters/operator-clients';
import {plannerClient} from '../adapters/planner-client';
import {SecretVersions} from '../adapters/secret-versions';
import {SendGridScopes} from '../adapters/sendgrid-scopes';
import {SubscriptionConfig} from '../adapters/subscription-config';
import type {DoctorPorts, DoctorSettings} from './doctor/ports';

/** Where the local stack's stand-ins are (absent: a deployment). */
export interface LocalEndpoints {
  gcs: string;
  pubsub: string;
  secrets: string;
  /** The Secret Manager stand-in's certificate. */
  secretsCa?: string;
  sendgrid: string;
  genesys: string;
  /** The IAM Credentials stand-in; without it the probes are skipped. */
  iamCredentials?: string;
}

export function doctorPorts(
  s: DoctorSettings,
  genesysEnvironment: string,
  local: LocalEndpoints | undefined,
): {ports: DoctorPorts; close(): Promise<void>} {
  const storage = (authClient?: AuthClient) =>
    storageClient({project: s.project, endpoint: local?.gcs, authClient});
  const pubsub = pubsubClient({project: s.project, endpoint: local?.pubsub});
  const secrets = new SecretVersions(
    s.project,
    local
      ? {host: local.secrets, ...(local.secretsCa ? {caFile: local.secretsCa} : {})}
      : undefined,
  );
  const ports: DoctorPorts = {
    secrets,
    genesys: new GenesysPermissionProbes({
      environment: genesysEnvironment,
      ...(local ? {gatewayUrl: local.genesys} : {}),
      now: () => s.now,
    }),
    sendgrid: new SendGridScopes(local?.sendgrid),
    ...(local ? {} : {deployment: new GoogleDeploymentApis(s.project, s.region)}),
    subscriptions: new SubscriptionConfig(pubsub),
    bucket: new BucketPolicy(storage(), s.bucket, !local),
    ...(!local || local.iamCredentials
      ? {
          probe: new ImpersonatingProbe({
            bucket: s.bucket,
            storage,
            ...(local?.iamCredentials ? {iamCredentialsUrl: local.iamCredentials} : {}),
          }),
        }
      : {}),
    planner: plannerClient,
  };
  return {
    ports,
    close: async () => {
      await Promise.allSettled([secrets.close(), pubsub.close()]);
    },
  };
}
