/**
 * `grm doctor`: the settings from flags and environment (Terraform's
 * defaults, or the local stack's), the checks run, the report printed.
 * Exit 1 on any failed check, else 0.
 */
import {randomBytes} from 'node:crypto';
import {Config, SETTINGS} from '../config';
import {doctorExitCode, doctorJson, doctorText} from '../core/doctor';
import {isValidTimeZone} from '../core/time-window';
import {doctorPorts, LocalEndpoints} from './doctor-wiring';
import {runDoctor} from './doctor/run';
import type {DoctorSettings} from './doctor/ports';

/** What grm already knows of the deployment. */
export interface DoctorTarget {
  project: string;
  bucket: string;
  env: string;
  topic: string;
  plannerUrl?: string;
  local: boolean;
  gcsEndpoint?: string;
  pubsubEndpoint?: string;
}

export const DOCTOR_FLAGS = [
  {
    name: 'region',
    value: 'REGION',
    help: 'region of the deployment (GRM_REGION; default europe-west1)',
  },
  {
    name: 'prefix',
    value: 'PREFIX',
    help: "infra/'s prefix of every name (GRM_PREFIX; default grm)",
  },
  {
    name: 'genesys-secret',
    value: 'NAME',
    help: 'Genesys clients secret (GENESYS_CREDENTIALS_SECRET; default PREFIX-genesys-clients)',
  },
  {
    name: 'sendgrid-secret',
    value: 'NAME',
    help: 'SendGrid key secret (SENDGRID_KEY_SECRET; default PREFIX-sendgrid-api-key)',
  },
  {
    name: 'genesys-environment',
    value: 'HOST',
    help: `Genesys Cloud region host (GENESYS_ENVIRONMENT; default ${SETTINGS.genesysEnvironment.default}; --local: the simulator)`,
  },
  {
    name: 'planner-url',
    value: 'URL',
    help: 'planner URL (GRM_PLANNER_URL; --local: PLANNER_URL; else looked up in Cloud Run)',
  },
  {
    name: 'max-delivery-attempts',
    value: 'N',
    help: 'max_delivery_attempts Terraform set (GRM_MAX_DELIVERY_ATTEMPTS; default 100; --local: 5)',
  },
  {
    name: 'window-lag-days',
    value: 'N',
    help: `window_lag_days (WINDOW_LAG_DAYS; default ${SETTINGS.windowLagDays.default}): which day the next night exports`,
  },
  {
    name: 'time-zone',
    value: 'ZONE',
    help: `time_zone (TIME_ZONE; default ${SETTINGS.timeZone.default})`,
  },
  {
    name: 'metadata',
    value: 'MODE',
    help: `metadata, ${SETTINGS.metadataMode.values.join(' or ')} (METADATA; default ${SETTINGS.metadataMode.default}): lean runs only on clients holding viewSensitiveData`,
  },
  {
    name: 'archived-policy',
    value: 'POLICY',
    help: `${SETTINGS.archivedPolicy.values.join(', ')} (ARCHIVED_POLICY; default ${SETTINGS.archivedPolicy.default}): restore needs the clients to hold recording:recording:restore`,
  },
];

export interface DoctorIo {
  out(line: string): void;
  env: NodeJS.ProcessEnv;
  now(): number;
}

export async function doctorCommand(
  t: DoctorTarget,
  flags: Map<string, string>,
  io: DoctorIo,
  usage: (message: string) => Error,
): Promise<number> {
  const env = io.env;
  const pick = (flag: string, variable: string) => flags.get(flag) ?? env[variable];
  const prefix = pick('prefix', 'GRM_PREFIX') ?? 'grm';
  const int = (flag: string, variable: string, fallback: number, min: number, max: number) => {
    const raw = pick(flag, variable);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw usage(`--${flag} takes a whole number from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const timeZone = pick('time-zone', 'TIME_ZONE') ?? SETTINGS.timeZone.default;
  if (!isValidTimeZone(timeZone)) throw usage(`--time-zone "${timeZone}" is not an IANA time zone`);
  const modes: readonly string[] = SETTINGS.metadataMode.values;
  const metadataMode = pick('metadata', 'METADATA') ?? SETTINGS.metadataMode.default;
  if (!modes.includes(metadataMode))
    throw usage(`--metadata takes ${modes.join(' or ')}, got "${metadataMode}"`);
  const policies: readonly string[] = SETTINGS.archivedPolicy.values;
  const archivedPolicy =
    pick('archived-policy', 'ARCHIVED_POLICY') ?? SETTINGS.archivedPolicy.default;
  if (!policies.includes(archivedPolicy))
    throw usage(`--archived-policy takes ${policies.join(', ')}, got "${archivedPolicy}"`);
  let local: LocalEndpoints | undefined;
  if (t.local) {
    const missing = [
      'SECRET_MANAGER_EMULATOR_HOST',
      'SENDGRID_API_URL',
      'GENESYS_SIMULATOR_URL',
    ].filter(v => !env[v]);
    if (missing.length)
      throw usage(`--local needs the variables npm run stack prints: ${missing.join(', ')}`);
    local = {
      gcs: t.gcsEndpoint!,
      pubsub: t.pubsubEndpoint!,
      secrets: env.SECRET_MANAGER_EMULATOR_HOST!,
      ...(env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH
        ? {secretsCa: env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH}
        : {}),
      sendgrid: env.SENDGRID_API_URL!,
      genesys: env.GENESYS_SIMULATOR_URL!,
      ...(env.GRM_IAM_CREDENTIALS_URL ? {iamCredentials: env.GRM_IAM_CREDENTIALS_URL} : {}),
    };
  }
  const genesysEnvironment =
    pick('genesys-environment', 'GENESYS_ENVIRONMENT') ?? SETTINGS.genesysEnvironment.default;
  const settings: DoctorSettings = {
    project: t.project,
    region: pick('region', 'GRM_REGION') ?? 'europe-west1',
    prefix,
    bucket: t.bucket,
    env: t.env,
    // Another prefix names the topic too, unless the topic was given.
    topic:
      flags.get('topic') ?? env.GRM_TOPIC ?? (t.local ? t.topic : `${prefix}-recording-batches`),
    local: t.local,
    secrets: {
      genesysClients:
        pick('genesys-secret', 'GENESYS_CREDENTIALS_SECRET') ?? `${prefix}-genesys-clients`,
      sendgridKey: pick('sendgrid-secret', 'SENDGRID_KEY_SECRET') ?? `${prefix}-sendgrid-api-key`,
    },
    genesysAt: local ? local.genesys : `login.${genesysEnvironment}`,
    ...(t.plannerUrl ? {plannerUrl: t.plannerUrl} : {}),
    maxDeliveryAttempts: int(
      'max-delivery-attempts',
      'GRM_MAX_DELIVERY_ATTEMPTS',
      t.local ? 5 : 100,
      5,
      100,
    ),
    windowLagDays: int(
      'window-lag-days',
      'WINDOW_LAG_DAYS',
      SETTINGS.windowLagDays.default,
      SETTINGS.windowLagDays.min,
      SETTINGS.windowLagDays.max,
    ),
    timeZone,
    metadataMode: metadataMode as Config['metadataMode'],
    archivedPolicy: archivedPolicy as Config['archivedPolicy'],
    now: io.now(),
    probeToken: randomBytes(3).toString('hex'),
  };
  const {ports, close} = doctorPorts(settings, genesysEnvironment, local);
  try {
    const results = await runDoctor(ports, settings);
    if (flags.has('json')) io.out(JSON.stringify(doctorJson(results), null, 2));
    else
      io.out(
        [
          `grm doctor: project ${settings.project}, bucket ${settings.bucket} (${settings.env}/), ` +
            `region ${settings.region}${t.local ? ', the local stack' : ''}`,
          '',
          doctorText(results),
        ].join('\n'),
      );
    return doctorExitCode(results);
  } finally {
    await close();
  }
}
