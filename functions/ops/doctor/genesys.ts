/**
 * Check 2: each Genesys Cloud OAuth client of the secret logs in (client
 * credentials) and holds every permission the pipeline uses, each shown by
 * one cheap call of the kind the pipeline makes:
 *
 * - analytics:conversationDetail:view: a conversation detail query over one
 *   millisecond (no result; 403 without the permission);
 * - recording:recording:view (or recording:recordingSegment:view, which the
 *   recording endpoints accept as well): the recording metadata of a
 *   conversation that does not exist (404 with the permission, 403 without);
 * - recording:recording:viewSensitiveData: no call fails without it (batch
 *   downloads silently leave sensitive recordings out), so the only direct
 *   question is the documented one, `divisionspermitted/paged/me`: the
 *   divisions the client holds it in. If Genesys will not answer that route
 *   for a client-credentials token, the check is skipped, saying so. With
 *   METADATA=lean the row also says what the worker will do: it asks the
 *   same question at its first use of each client, and runs a client that
 *   does not prove the permission in full mode (services/lean-gate.ts).
 * - recording:recording:restore, with ARCHIVED_POLICY=restore: the planner
 *   restores archived recordings on the first client, and Genesys refuses a
 *   restore without it; asked the same way (no call can ask without
 *   restoring something).
 */
import {CheckResult, failed, passed, skipped} from '../../core/doctor';
import type {GenesysCredentials} from '../../core/genesys-credentials';
import {VIEW_SENSITIVE_DATA} from '../../core/lean-inference';
import type {CallOutcome, DoctorSettings, GenesysProbes} from './ports';

/** No conversation has this id: the metadata call's answer is about the permission. */
export const NO_CONVERSATION = '00000000-0000-0000-0000-000000000000';

export const SENSITIVE = VIEW_SENSITIVE_DATA;

/** Restoring an archived recording (`PUT …/recordings/{id}` with a later archive date). */
export const RESTORE = 'recording:recording:restore';

type MetadataMode = DoctorSettings['metadataMode'];

/** What the worker does with a client that does not prove viewSensitiveData, in lean mode. */
const LEAN_REFUSED =
  "METADATA=lean: the worker cannot prove it either, so this client's batches run in full mode " +
  "(recording metadata per conversation; an ERROR in the worker's log and a line in the day's marker)";

const ROLE_FIX = (client: string, permission: string) =>
  `Genesys Cloud admin: Admin > OAuth > ${client} > Roles: give it a role holding ${permission} (Admin > Roles / Permissions), in the divisions holding the recordings`;

export async function checkGenesys(
  probes: GenesysProbes,
  clients: readonly GenesysCredentials[] | undefined,
  where: string,
  metadataMode: MetadataMode = 'full',
  archivedPolicy: DoctorSettings['archivedPolicy'] = 'fail',
): Promise<CheckResult[]> {
  if (!clients)
    return [
      skipped(
        'genesys',
        'Genesys OAuth clients',
        'the clients secret could not be read or is malformed (above)',
      ),
    ];
  const results: CheckResult[] = [];
  for (const creds of clients)
    results.push(...(await checkClient(probes, creds, where, metadataMode, archivedPolicy)));
  return results;
}

async function checkClient(
  probes: GenesysProbes,
  creds: GenesysCredentials,
  where: string,
  metadataMode: MetadataMode,
  archivedPolicy: DoctorSettings['archivedPolicy'],
): Promise<CheckResult[]> {
  const name = creds.clientId;
  const id = (what: string) => `genesys.${name}.${what}`;
  const probe = probes.client(creds);
  const refused = await probe.login();
  if (refused)
    return [
      failed(
        id('login'),
        `Genesys client ${name}: login`,
        `client-credentials login at ${where} refused: ${refused}`,
        `check the client's id and secret in Genesys Cloud (Admin > OAuth: Client Credentials grant, active), and that GENESYS_ENVIRONMENT (--genesys-environment) is the organisation's region (${where}); then add a new version of the clients secret`,
      ),
    ];
  const results = [passed(id('login'), `Genesys client ${name}: login`, `logged in at ${where}`)];

  const analytics = 'analytics:conversationDetail:view';
  results.push(
    byStatus(id('analytics'), name, analytics, await probe.analyticsQuery(), {
      ok: s => s >= 200 && s < 300,
      okDetail: 'a conversation detail query is answered',
    }),
  );
  results.push(
    byStatus(
      id('recording-view'),
      name,
      'recording:recording:view',
      await probe.recordingMetadata(NO_CONVERSATION),
      {
        ok: s => s === 404 || (s >= 200 && s < 300),
        okDetail: 'recording metadata is answered (404 for a conversation that does not exist)',
      },
    ),
  );
  results.push(
    sensitive(id('sensitive'), name, await probe.divisionsPermitted(SENSITIVE), metadataMode),
  );
  if (archivedPolicy === 'restore')
    results.push(restore(id('restore'), name, await probe.divisionsPermitted(RESTORE)));
  return results;
}

function byStatus(
  id: string,
  client: string,
  permission: string,
  outcome: CallOutcome,
  how: {ok: (status: number) => boolean; okDetail: string},
): CheckResult {
  const title = `Genesys client ${client}: ${permission}`;
  if ('error' in outcome)
    return skipped(
      id,
      title,
      `the call did not get an answer (${outcome.error}); run doctor again`,
    );
  if (how.ok(outcome.status)) return passed(id, title, how.okDetail);
  if (outcome.status === 403)
    return failed(
      id,
      title,
      `HTTP 403: the client lacks ${permission}; the pipeline's calls would be refused the same way`,
      ROLE_FIX(client, permission),
    );
  if (outcome.status === 429)
    return skipped(id, title, 'Genesys rate-limited the call (HTTP 429); run doctor again later');
  return failed(
    id,
    title,
    `unexpected HTTP ${outcome.status}`,
    'run doctor again; if it persists, check the organisation in Genesys Cloud',
  );
}

function sensitive(
  id: string,
  client: string,
  outcome: CallOutcome,
  metadataMode: MetadataMode,
): CheckResult {
  const lean = metadataMode === 'lean';
  return divisionsRow(id, client, SENSITIVE, outcome, {
    held: divisions =>
      `held in ${divisions} (divisionspermitted/paged/me)` +
      (lean ? '; METADATA=lean runs on this client' : ''),
    none: 'held in no division: batch downloads silently leave out every recording flagged as holding PCI/PII, which become gaps every night',
    fix: ROLE_FIX(client, SENSITIVE),
    unknown: status =>
      `Genesys would not say (divisionspermitted/paged/me answered HTTP ${status} for this client-credentials token), and no call fails without it; check the client's roles in Admin > OAuth`,
    // In lean mode, what the worker will do with a client not proven.
    ...(lean ? {notProven: (detail: string) => `${detail}. ${LEAN_REFUSED}`} : {}),
  });
}

/** The restore permission's row, under ARCHIVED_POLICY=restore. */
function restore(id: string, client: string, outcome: CallOutcome): CheckResult {
  return divisionsRow(id, client, RESTORE, outcome, {
    held: divisions => `held in ${divisions}: archived recordings can be restored`,
    none: 'held in no division: with ARCHIVED_POLICY=restore every restore the planner asks for is refused, and archived recordings stay gaps',
    fix: `${ROLE_FIX(client, `${RESTORE} (and recording:screenRecording:restore)`)}; or set archived_policy = "fail"`,
    unknown: status =>
      `Genesys would not say (divisionspermitted/paged/me answered HTTP ${status}); check the client's roles in Admin > OAuth`,
  });
}

/** What a permission's divisions row says: held, held in none (and the fix), or not told. */
interface DivisionsText {
  held: (divisions: string) => string;
  none: string;
  fix: string;
  unknown: (status: number) => string;
  /** Adds to every detail short of a pass. */
  notProven?: (detail: string) => string;
}

/** A row from divisionspermitted/paged/me: passed when the permission is held in some division. */
function divisionsRow(
  id: string,
  client: string,
  permission: string,
  outcome: CallOutcome,
  text: DivisionsText,
): CheckResult {
  const title = `Genesys client ${client}: ${permission}`;
  const detail = text.notProven ?? ((d: string) => d);
  if ('error' in outcome)
    return skipped(
      id,
      title,
      detail(`the call did not get an answer (${outcome.error}); run doctor again`),
    );
  if (outcome.status >= 200 && outcome.status < 300) {
    const n = outcome.total ?? 0;
    if (n > 0) return passed(id, title, text.held(`${n} division${n === 1 ? '' : 's'}`));
    return failed(id, title, detail(text.none), text.fix);
  }
  return skipped(id, title, detail(text.unknown(outcome.status)));
}
