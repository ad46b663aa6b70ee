/**
 * The environment that points the Google Cloud CLI at the local stack, as
 * one of its identities, and at nothing else:
 *
 * - `CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE` and `…_PUBSUB`: `gcloud
 *   storage` and `gcloud pubsub` reach the GCS and Pub/Sub emulators;
 * - `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`: the identity's access token, which
 *   the stack keeps fresh in a file (local/iam/token-files.ts) and the GCS
 *   emulator checks as Cloud Storage checks Google's; without the stack's
 *   IAM, `CLOUDSDK_AUTH_DISABLE_CREDENTIALS` (the stand-ins then take
 *   anonymous calls);
 * - `CLOUDSDK_CONFIG`: a configuration folder of the stack's own, so a
 *   developer's gcloud accounts, projects and properties are never read or
 *   changed, and gcloud's upload tracker files go with the stack's data;
 * - no prompt, no update check, no usage reporting, no probe of a metadata
 *   server (`CLOUDSDK_CORE_CHECK_GCE_METADATA`): nothing gcloud does leaves
 *   the machine, and nothing waits for a network that is not there.
 */

export interface GcloudTarget {
  project: string;
  /** The GCS emulator's base URL (`http://127.0.0.1:PORT`). */
  gcsUrl: string;
  /** The Pub/Sub emulator's `host:port`. */
  pubsubHost: string;
  /** gcloud's configuration folder for this stack. */
  configDir: string;
  /** A file holding the identity's access token; absent on a stack without IAM. */
  tokenFile?: string;
}

export function gcloudEnv(t: GcloudTarget): Record<string, string> {
  return {
    CLOUDSDK_CONFIG: t.configDir,
    CLOUDSDK_CORE_PROJECT: t.project,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${t.gcsUrl.replace(/\/$/, '')}/`,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB: `http://${t.pubsubHost}/`,
    ...(t.tokenFile
      ? {CLOUDSDK_AUTH_ACCESS_TOKEN_FILE: t.tokenFile}
      : {CLOUDSDK_AUTH_DISABLE_CREDENTIALS: 'true'}),
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
    CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
  };
}
