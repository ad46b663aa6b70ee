/**
 * The local stack's identities and IAM, as a deployment of infra/ has them:
 * the policy read from the Terraform files, a token key the stand-ins trust,
 * a metadata server per identity (the functions' service accounts, an
 * operator in `operator_members`, and an outsider who is in nothing), and
 * the project owner for tests and tools that act outside the pipeline's
 * grants (ground truth, fault injection), by name; and an IAM Credentials
 * stand-in through which the owner may impersonate infra/'s service accounts
 * (./iam-credentials.ts, for `grm doctor`'s probes).
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import {OAuth2Client} from 'google-auth-library';
import {Access, LOCAL_OWNER, writeAccessConfig} from './authorize';
import {credentialEnv, MetadataServers, startMetadataServers} from './metadata-server';
import {startIamCredentials} from './iam-credentials';
import {LocalPolicy, loadPolicy} from './policy';
import {mintToken, newTokenKey, TOKEN_LIFETIME_S} from './tokens';
import {TokenFiles} from './token-files';
import type {Refusal} from '../functions/front-end';

export interface LocalIamOptions {
  /** Where the policy and key are written (DIR/policy.json, DIR/key). */
  dir: string;
  project: string;
  bucket: string;
  env: string;
  retentionDays?: number;
  /** A copy of infra/ to read instead (to show what a missing grant does). */
  infraDir?: string;
}

export interface LocalIam {
  readonly dir: string;
  readonly policy: LocalPolicy;
  readonly access: Access;
  /** Emails: infra/'s service accounts (by its keys), `operator`, `auditor`, `composer`, `outsider`, `owner`. */
  readonly identities: Record<string, string>;
  /** Each identity's metadata server, `127.0.0.1:PORT`. */
  readonly metadataHosts: Record<string, string>;
  /** The IAM Credentials stand-in (impersonation of infra/'s service accounts; the owner only). */
  readonly iamCredentialsUrl: string;
  /** The environment that makes a process act as `identity` (see credentialEnv). */
  envFor(identity: string): Record<string, string>;
  accessToken(email: string): string;
  /**
   * A file holding `identity`'s access token, rewritten before the token
   * expires for as long as the stack runs: the Google Cloud CLI's credentials
   * (`CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`, ./token-files.ts).
   */
  tokenFile(identity: string): string;
  idToken(email: string, audience: string): string;
  /**
   * An auth client for the official Google clients, acting as `email`
   * (default: the owner); `universeDomain` as the client using it is told.
   */
  authClient(email?: string, universeDomain?: string): OAuth2Client;
  /** Cloud Run's invoker check for one function of infra/ (`planner`, `worker`, `checker`). */
  invokerCheck(fn: string): (req: http.IncomingMessage, url: string) => Refusal | undefined;
  close(): Promise<void>;
}

export async function startLocalIam(opts: LocalIamOptions): Promise<LocalIam> {
  const policy = await loadPolicy(
    {
      project: opts.project,
      bucket: opts.bucket,
      env: opts.env,
      operatorMembers: [`serviceAccount:${localOperator(opts.project)}`],
      archiveReaderMembers: [`serviceAccount:${localAuditor(opts.project)}`],
      // The optional Composer environment's identity (infra/composer.tf), for the DAG's tests.
      vars: {composer_service_account: localComposer(opts.project)},
      retentionDays: opts.retentionDays ?? 0,
    },
    ...(opts.infraDir ? [opts.infraDir] : []),
  );
  const key = newTokenKey();
  writeAccessConfig(opts.dir, policy, key);
  const access = new Access({policy, key});
  const identities: Record<string, string> = {
    ...policy.identities,
    operator: localOperator(opts.project),
    auditor: localAuditor(opts.project),
    composer: localComposer(opts.project),
    outsider: `outsider@${opts.project}.iam.gserviceaccount.com`,
    owner: LOCAL_OWNER,
  };
  const servers: MetadataServers = await startMetadataServers({
    key,
    project: opts.project,
    identities,
  });
  const credentials = await startIamCredentials({
    access,
    key,
    project: opts.project,
    accounts: Object.values(policy.identities),
  }).catch(async err => {
    await servers.close();
    throw err;
  });
  // An empty gcloud configuration: no process of the stack finds a developer's credentials.
  const configDir = path.join(opts.dir, 'gcloud-config');
  fs.mkdirSync(configDir, {recursive: true});

  const accessToken = (email: string) => mintToken(key, {email, kind: 'access'});
  const idToken = (email: string, aud: string) => mintToken(key, {email, kind: 'id', aud});
  const tokenFiles = new TokenFiles({
    dir: path.join(opts.dir, 'tokens'),
    mint: accessToken,
    identities,
  });
  return {
    dir: opts.dir,
    policy,
    access,
    identities,
    metadataHosts: servers.hosts,
    iamCredentialsUrl: credentials.url,
    envFor: identity => {
      const host = servers.hosts[identity];
      if (!host) throw new Error(`no local identity ${identity}`);
      return credentialEnv(host, configDir);
    },
    accessToken,
    tokenFile: identity => tokenFiles.file(identity),
    idToken,
    authClient: (email = LOCAL_OWNER, universeDomain?: string) =>
      tokenClient(() => accessToken(email), universeDomain),
    invokerCheck: fn => {
      const service = policy.services[fn];
      if (!service) throw new Error(`infra/ declares no function ${fn}`);
      return (req, url) => invoker(access, service, req, url);
    },
    close: async () => {
      tokenFiles.close();
      await Promise.all([servers.close(), credentials.close()]);
    },
  };
}

/** The local operator, the one member of `operator_members`. */
export function localOperator(project: string): string {
  return `operator@${project}.iam.gserviceaccount.com`;
}

/** The local auditor, the one member of `archive_reader_members` (reads the recordings). */
export function localAuditor(project: string): string {
  return `auditor@${project}.iam.gserviceaccount.com`;
}

/** The local Composer environment's service account (`composer_service_account`). */
export function localComposer(project: string): string {
  return `composer@${project}.iam.gserviceaccount.com`;
}

/** Cloud Run's check: an ID token for the service's URL of someone holding run.routes.invoke. */
function invoker(
  access: Access,
  service: string,
  req: http.IncomingMessage,
  url: string,
): Refusal | undefined {
  const caller = access.caller(req.headers.authorization, 'id');
  if (caller.kind === 'anonymous')
    return {
      status: 403,
      message: `Forbidden: ${service} requires authentication, and the request carries no identity token`,
    };
  if (caller.kind === 'invalid')
    return {status: 401, message: `Unauthorized: the identity token is invalid (${caller.why})`};
  if (caller.claims.aud !== url)
    return {
      status: 401,
      message: `Unauthorized: the identity token's audience ${caller.claims.aud ?? '(none)'} is not ${url}`,
    };
  if (!access.allowed(caller.email, 'run.routes.invoke', {kind: 'service', name: service}))
    return {
      status: 403,
      message: `Forbidden: ${caller.email} does not have run.routes.invoke on ${service}`,
    };
  return undefined;
}

/** An OAuth2 client whose tokens are minted for one local identity (refreshed before expiry). */
function tokenClient(mint: () => string, universeDomain?: string): OAuth2Client {
  const client = new OAuth2Client(universeDomain ? {universeDomain} : {});
  client.refreshHandler = async () => ({
    access_token: mint(),
    expiry_date: Date.now() + TOKEN_LIFETIME_S * 1000,
  });
  return client;
}
