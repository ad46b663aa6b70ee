/**
 * Check 1: the Genesys clients secret and the SendGrid key secret each have
 * an enabled latest version, and hold what the functions expect: a non-empty
 * list of `{clientId, clientSecret}` (as the Genesys adapter parses it) and a
 * key of the form SendGrid issues. Reading them needs
 * `secretmanager.versions.access` (roles/secretmanager.secretAccessor, which
 * roles/secretmanager.admin includes): a refusal is a failure naming it.
 * Values never leave this module but as the checks that use them.
 */
import {CheckResult, failed, passed} from '../../core/doctor';
import {GenesysCredentials, parseCredentials} from '../../core/genesys-credentials';
import {sendGridKeyProblem} from '../../core/sendgrid-key';
import type {DoctorSettings, SecretRead, SecretSource} from './ports';

export interface SecretsOutcome {
  results: CheckResult[];
  /** The clients, when the secret is readable and well-formed. */
  clients?: GenesysCredentials[];
  /** The key, when readable and well-formed. */
  sendgridKey?: string;
}

export async function checkSecrets(
  source: SecretSource,
  s: DoctorSettings,
): Promise<SecretsOutcome> {
  const [clientsRead, keyRead] = await Promise.all([
    source.latest(s.secrets.genesysClients),
    source.latest(s.secrets.sendgridKey),
  ]);
  const out: SecretsOutcome = {results: []};

  const clientsId = 'secrets.genesys-clients';
  const clientsTitle = `secret ${s.secrets.genesysClients}`;
  const addClients = `gcloud secrets versions add ${s.secrets.genesysClients} --project=${s.project} --data-file=clients.json   # [{"clientId":"…","clientSecret":"…"}, …]`;
  if (!clientsRead.ok) {
    out.results.push(unreadable(clientsId, clientsTitle, clientsRead, s, addClients));
  } else {
    try {
      const clients = parseCredentials(clientsRead.value);
      out.clients = clients;
      out.results.push(
        passed(
          clientsId,
          clientsTitle,
          `latest version enabled; ${clients.length} OAuth client${clients.length === 1 ? '' : 's'} (${clients.map(c => c.clientId).join(', ')})`,
        ),
      );
    } catch (err) {
      out.results.push(
        failed(
          clientsId,
          clientsTitle,
          `latest version is not what the functions read: ${err instanceof Error ? err.message : 'malformed'}`,
          addClients,
        ),
      );
    }
  }

  const keyId = 'secrets.sendgrid-key';
  const keyTitle = `secret ${s.secrets.sendgridKey}`;
  const addKey = `printf %s "$SENDGRID_API_KEY" | gcloud secrets versions add ${s.secrets.sendgridKey} --project=${s.project} --data-file=-`;
  if (!keyRead.ok) {
    out.results.push(unreadable(keyId, keyTitle, keyRead, s, addKey));
  } else {
    const problem = sendGridKeyProblem(keyRead.value);
    if (problem) {
      out.results.push(
        failed(
          keyId,
          keyTitle,
          `latest version does not look like a SendGrid API key: ${problem}`,
          addKey,
        ),
      );
    } else {
      out.sendgridKey = keyRead.value.trim();
      out.results.push(
        passed(keyId, keyTitle, 'latest version enabled; a SendGrid API key in form'),
      );
    }
  }
  return out;
}

function unreadable(
  id: string,
  title: string,
  read: Exclude<SecretRead, {ok: true}>,
  s: DoctorSettings,
  add: string,
): CheckResult {
  const name = title.replace(/^secret /, '');
  switch (read.reason) {
    case 'not-found':
      return failed(
        id,
        title,
        `no enabled latest version (${read.detail}); the functions cannot start their work without it`,
        `${add}   (if the secret itself is missing: terraform -chdir=infra apply, or check --prefix)`,
      );
    case 'disabled':
      return failed(
        id,
        title,
        `the latest version is disabled or destroyed (${read.detail})`,
        `${add}   (or enable it: gcloud secrets versions enable VERSION --secret=${name} --project=${s.project})`,
      );
    case 'denied':
      return failed(
        id,
        title,
        `you may not read it: roles/secretmanager.secretAccessor is missing (${read.detail})`,
        `run grm doctor as the deployer, or grant yourself the role on the secret: gcloud secrets add-iam-policy-binding ${name} --project=${s.project} --member=user:YOUR_EMAIL --role=roles/secretmanager.secretAccessor`,
      );
    case 'unauthenticated':
      return failed(
        id,
        title,
        `no credentials reached Secret Manager (${read.detail})`,
        'gcloud auth application-default login',
      );
    default:
      return failed(
        id,
        title,
        `could not be read: ${read.detail}`,
        'run grm doctor again; if it persists, check Secret Manager in the console',
      );
  }
}
