/**
 * Which deployment a grm command works on: its names from flags, the GRM_*
 * variables or Terraform's defaults, or the local stack's with `--local`
 * (whose endpoints come from the variables `npm run stack` prints). Refuses
 * a command line that would reach the local stack by accident.
 */
import {UsageError} from './grm-cli';

/** The batches topic Terraform creates with the default prefix (test/repo/docs.spec.ts checks). */
export const DEFAULT_TOPIC = 'grm-recording-batches';

export interface Target {
  project: string;
  bucket: string;
  env: string;
  topic: string;
  deadLetterSubscription: string;
  plannerUrl?: string;
  local: boolean;
  gcsEndpoint?: string;
  pubsubEndpoint?: string;
}

export function target(flags: Map<string, string>, env: NodeJS.ProcessEnv): Target {
  const local = flags.has('local');
  const pick = (flag: string, variable: string, localDefault?: string, fallback?: string) =>
    flags.get(flag) ?? env[variable] ?? (local ? localDefault : undefined) ?? fallback;
  const project = pick('project', 'GRM_PROJECT', env.GOOGLE_CLOUD_PROJECT ?? 'demo-project');
  const bucket = pick('bucket', 'GRM_BUCKET', 'genesys-recordings-local');
  const folder = pick('env', 'GRM_ENV', 'local');
  const topic = pick('topic', 'GRM_TOPIC', 'recording-batches', DEFAULT_TOPIC)!;
  const missing = [
    ...(project ? [] : ['--project (or GRM_PROJECT)']),
    ...(bucket ? [] : ['--bucket (or GRM_BUCKET)']),
    ...(folder ? [] : ['--env (or GRM_ENV)']),
  ];
  if (missing.length > 0) throw new UsageError(`say which deployment: ${missing.join(', ')}`);
  if (local && (!env.STORAGE_EMULATOR_HOST || !env.PUBSUB_EMULATOR_HOST)) {
    throw new UsageError(
      '--local needs the variables `npm run stack` prints (STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST)',
    );
  }
  if (!local) {
    // What `npm run stack` exports: the emulators, and the local identity's credentials
    // (its metadata server, and the Secret Manager stand-in's certificate).
    const emulators = [
      'STORAGE_EMULATOR_HOST',
      'PUBSUB_EMULATOR_HOST',
      'SECRET_MANAGER_EMULATOR_HOST',
      'GCE_METADATA_HOST',
      'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH',
    ].filter(v => env[v]);
    if (emulators.length > 0)
      throw new UsageError(
        `${listed(emulators)} ${emulators.length > 1 ? 'are' : 'is'} set, so the Google clients would talk to the local stack: add --local, or unset ${emulators.join(' ')} to reach the real deployment`,
      );
  }
  const plannerUrl = pick('planner-url', 'GRM_PLANNER_URL', env.PLANNER_URL);
  return {
    project: project!,
    bucket: bucket!,
    env: folder!,
    topic,
    deadLetterSubscription: pick(
      'subscription',
      'GRM_DEAD_LETTER_SUBSCRIPTION',
      undefined,
      `${topic}-dead-letter-keep`,
    )!,
    ...(plannerUrl ? {plannerUrl} : {}),
    local,
    ...(local
      ? {gcsEndpoint: env.STORAGE_EMULATOR_HOST, pubsubEndpoint: env.PUBSUB_EMULATOR_HOST}
      : {}),
  };
}

/** `a`, `a and b`, `a, b and c`. */
function listed(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
