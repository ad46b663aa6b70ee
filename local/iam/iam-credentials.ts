/**
 * An IAM Service Account Credentials stand-in for the local stack:
 * `POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken`, as
 * google-auth-library's `Impersonated` client calls it (its `endpoint`
 * option points it here). The caller's access token must be one of the
 * stack's and the caller must hold `iam.serviceAccounts.getAccessToken`
 * (roles/iam.serviceAccountTokenCreator): infra/ grants it to nobody, so on
 * the local stack only the project owner may impersonate. The account must be
 * one of the service accounts infra/ creates. Answers
 * `{accessToken, expireTime}`, or Google's JSON error (401 UNAUTHENTICATED,
 * 403 PERMISSION_DENIED "… (or it may not exist)", 404 NOT_FOUND).
 */
import * as http from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Access} from './authorize';
import {mintToken, TOKEN_LIFETIME_S} from './tokens';

export interface IamCredentials {
  /** `http://127.0.0.1:PORT`, the `endpoint` an Impersonated client is given. */
  url: string;
  close(): Promise<void>;
}

const ROUTE = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/;

export async function startIamCredentials(opts: {
  access: Access;
  key: Buffer;
  project: string;
  /** The service accounts that exist (infra/'s), by email. */
  accounts: readonly string[];
}): Promise<IamCredentials> {
  const accounts = new Set(opts.accounts);
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=UTF-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const error = (code: number, status: string, message: string) =>
      send(code, {error: {code, message, status}});
    req.resume();
    const m = ROUTE.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (!m || req.method !== 'POST')
      return error(404, 'NOT_FOUND', `Not found: ${req.method} ${req.url}`);
    const email = decodeURIComponent(m[1]!);
    const caller = opts.access.caller(req.headers.authorization);
    if (caller.kind !== 'principal')
      return error(
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token.',
      );
    const permitted = opts.access.allowed(caller.email, 'iam.serviceAccounts.getAccessToken', {
      kind: 'project',
      name: opts.project,
    });
    if (!permitted)
      return error(
        403,
        'PERMISSION_DENIED',
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
      );
    if (!accounts.has(email))
      return error(404, 'NOT_FOUND', `Not found; Gaia id not found for email ${email}`);
    return send(200, {
      accessToken: mintToken(opts.key, {email, kind: 'access'}),
      expireTime: new Date(Date.now() + TOKEN_LIFETIME_S * 1000).toISOString(),
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}
