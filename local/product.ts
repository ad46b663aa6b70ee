/**
 * What the local stack runs of the product itself, and how the stack is
 * described to a person.
 */
import {LOCAL_DEFAULTS, Stack, StackFunctions} from './stack';
import {UsageError} from './common/cli';

import * as path from 'node:path';
import {shellQuote} from '../functions/core/replay';
import {DEFAULT_CLIENT} from './genesys/clients';

const SOURCE = path.join(__dirname, '..', 'functions', 'index.ts');

/** The `EXPORT_ENV` folder the local stack exports into. */
export const LOCAL_EXPORT_ENV = 'local';

/**
 * The secrets' names, as infra/ names them with its default prefix (the
 * stack's IAM grants access to these names; test/local/iam.spec.ts checks
 * that infra/ still does).
 */
export const LOCAL_SECRETS = {
  genesysClients: 'grm-genesys-clients',
  sendgridKey: 'grm-sendgrid-api-key',
} as const;

/** Where the local stack's developer emails go (the SendGrid sink keeps them). */
export const LOCAL_DEVELOPERS = 'developers@example.com';

/**
 * The pipeline's Cloud Functions, by role, each in its own Functions Framework
 * process. Each worker process is told how many worker processes there are
 * (`WORKER_INSTANCES`, as Terraform tells production its max instance count):
 * each paces itself to its share of the Genesys clients' budgets.
 */
export function productFunctions(): StackFunctions {
  return {
    planner: {target: 'planExport', signature: 'http', source: SOURCE},
    worker: {
      target: 'exportBatch',
      signature: 'cloudevent',
      source: SOURCE,
      envForInstances: workers => ({WORKER_INSTANCES: String(workers)}),
    },
    checker: {target: 'checkDay', signature: 'cloudevent', source: SOURCE},
  };
}

/** Secrets the product reads from Secret Manager, for the local stand-in. */
export function productSecrets(clients: string[] = [DEFAULT_CLIENT]): Record<string, string> {
  const list = clients.map(c => {
    // A simulator client spec may say what the client lacks: `ID:SECRET;lacks=…`.
    const spec = c.split(';')[0]!;
    const colon = spec.indexOf(':');
    return {clientId: spec.slice(0, colon), clientSecret: spec.slice(colon + 1)};
  });
  return {
    [LOCAL_SECRETS.genesysClients]: JSON.stringify(list),
    [LOCAL_SECRETS.sendgridKey]: LOCAL_DEFAULTS.sendgridKey,
  };
}

/** Function configuration for the local stack (production gets the same from Terraform). */
export function productEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    EXPORT_ENV: LOCAL_EXPORT_ENV,
    TIME_ZONE: 'UTC',
    GENESYS_CREDENTIALS_SECRET: LOCAL_SECRETS.genesysClients,
    SENDGRID_KEY_SECRET: LOCAL_SECRETS.sendgridKey,
    DEVELOPER_EMAILS: LOCAL_DEVELOPERS,
    MAIL_FROM: 'genesys-recording-migrator@example.com',
    ...extra,
  };
}

/**
 * The variables that make another shell reach the running stack as its
 * operator: its environment (the emulators, the operator's metadata
 * server), the planner's URL (`PLANNER_URL`), what `grm doctor --local`
 * needs, gcloud pointed at the emulators with the operator's token
 * (./gcloud-env.ts), and the deployment's names as `grm` and the
 * gcloud commands of docs/operations.md take them (`GRM_*`).
 */
export function shellEnv(stack: Stack): Record<string, string> {
  const planner = stack.functions.planner?.url;
  return {
    ...stack.env,
    ...(planner ? {PLANNER_URL: planner} : {}),
    // grm doctor: the Secret Manager stand-in's certificate, the IAM Credentials
    // stand-in, and the project owner's metadata server (doctor runs as the owner).
    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: stack.secretsCa,
    ...(stack.iam
      ? {
          GRM_IAM_CREDENTIALS_URL: stack.iam.iamCredentialsUrl,
          GRM_LOCAL_OWNER_METADATA_HOST: stack.iam.metadataHosts.owner!,
        }
      : {}),
    ...stack.gcloudEnv('operator'),
    GRM_PROJECT: stack.project,
    GRM_BUCKET: stack.bucket,
    GRM_ENV: stack.exportEnv,
    GRM_TOPIC: stack.topic,
    GRM_DEAD_LETTER_SUBSCRIPTION: stack.deadLetterSubscription,
    ...(planner ? {GRM_PLANNER_URL: planner} : {}),
  };
}

/** The `export` lines of shellEnv, to paste into another shell. */
export function shellExports(stack: Stack): string[] {
  return Object.entries(shellEnv(stack)).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
}

/**
 * A human summary: URLs, where files land and, for a stack that stays up
 * (`exports`, the default), the environment to paste into another shell.
 */
export function describeStack(stack: Stack, opts: {exports?: boolean} = {}): string {
  const lines = [
    ...(opts.exports === false
      ? []
      : ['', 'Environment (paste into another shell):', ...shellExports(stack).map(l => `  ${l}`)]),
    '',
    'Services:',
    `  Pub/Sub emulator   ${stack.pubsubHost}  (topic ${stack.topic}, dead letters ${stack.deadLetterTopic})`,
    `  GCS emulator       ${stack.gcsUrl}  (bucket ${stack.bucket}; files under ${stack.dirs.gcsData})`,
    `  Secret Manager     ${stack.secretsEndpoint}  (gRPC)`,
    `  SendGrid sink      ${stack.sendgridUrl}  (emails under ${stack.dirs.mail}; list with npm run local:mail${
      stack.dirs.root === path.resolve('.local') ? '' : ` -- --root ${shellQuote(stack.dirs.root)}`
    })`,
    `  Genesys simulator  ${stack.genesysUrl}  (ground truth: ${stack.genesysUrl}/_admin/truth?day=YYYY-MM-DD)`,
  ];
  const fns = Object.entries(stack.functions);
  lines.push('', 'Functions:');
  if (fns.length === 0) lines.push('  (none)');
  for (const [role, fn] of fns) {
    const n = fn!.instances.length;
    lines.push(
      `  ${role.padEnd(8)} ${fn!.target.padEnd(20)} ${fn!.url}${n > 1 ? `  (${n} processes)` : ''}`,
    );
  }
  lines.push('', `Logs: ${stack.dirs.logs}`);
  return lines.join('\n');
}

/**
 * RETENTION_DAYS and RETENTION_MODE for the functions, from the flags
 * --retention-days and --retention-mode (`npm run stack`, `npm run demo`).
 */
export function retentionEnv(
  days: string | undefined,
  mode: string | undefined,
): Record<string, string> {
  if (days === undefined) {
    if (mode !== undefined) throw new UsageError('--retention-mode needs --retention-days');
    return {};
  }
  if (!/^\d+$/.test(days) || Number(days) < 1 || Number(days) > 36_500)
    throw new UsageError(`--retention-days must be a whole number from 1 to 36500, got "${days}"`);
  if (mode !== undefined && mode !== 'unlocked' && mode !== 'locked')
    throw new UsageError(`--retention-mode must be unlocked or locked, got "${mode}"`);
  return {RETENTION_DAYS: days, ...(mode ? {RETENTION_MODE: mode} : {})};
}
