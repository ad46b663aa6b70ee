/**
 * A metadata server per identity, as Cloud Run's: a process whose
 * `GCE_METADATA_HOST` names one of these ports gets that service account's
 * access and ID tokens through Application Default Credentials, the code
 * path the functions take in production (google-auth-library's Compute
 * client). Each identity has its own port, since the metadata paths do not
 * say who asks. Requests without `Metadata-Flavor: Google` are refused, as
 * the real server refuses them.
 */
import * as http from 'node:http';
import type {AddressInfo} from 'node:net';
import {PROJECT_NUMBER} from './policy';
import {mintToken, TOKEN_LIFETIME_S} from './tokens';

export interface MetadataServers {
  /** `127.0.0.1:PORT` of each identity's server, by the name it was started with. */
  hosts: Record<string, string>;
  close(): Promise<void>;
}

const BASE = '/computeMetadata/v1';

function serve(
  key: Buffer,
  project: string,
  email: string,
  region: string,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const send = (status: number, body: string, type = 'application/text') => {
      res.writeHead(status, {
        'metadata-flavor': 'Google',
        'content-type': type,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (req.headers['metadata-flavor'] !== 'Google')
      return send(403, 'Missing required header: Metadata-Flavor', 'text/plain');
    const url = new URL(req.url ?? '/', 'http://metadata');
    const account = `${BASE}/instance/service-accounts/default`;
    switch (url.pathname.replace(/\/$/, '')) {
      case BASE:
      case `${BASE}/instance`:
        return send(200, 'instance/\nproject/\n');
      case `${BASE}/project/project-id`:
        return send(200, project);
      case `${BASE}/project/numeric-project-id`:
        return send(200, PROJECT_NUMBER);
      case `${BASE}/instance/region`:
        return send(200, `projects/${PROJECT_NUMBER}/regions/${region}`);
      case `${BASE}/universe/universe-domain`:
        return send(200, 'googleapis.com');
      case `${account}/email`:
        return send(200, email);
      case account:
        return send(
          200,
          JSON.stringify({
            aliases: ['default'],
            email,
            scopes: ['https://www.googleapis.com/auth/cloud-platform'],
          }),
          'application/json',
        );
      case `${account}/token`:
        return send(
          200,
          JSON.stringify({
            access_token: mintToken(key, {email, kind: 'access'}),
            expires_in: TOKEN_LIFETIME_S,
            token_type: 'Bearer',
          }),
          'application/json',
        );
      case `${account}/identity`: {
        const audience = url.searchParams.get('audience');
        if (!audience) return send(400, 'non-empty audience parameter required', 'text/plain');
        return send(200, mintToken(key, {email, kind: 'id', aud: audience}));
      }
      default:
        return send(404, 'Not Found', 'text/plain');
    }
  };
}

/** Starts one metadata server per identity (name → service account email) on loopback. */
export async function startMetadataServers(opts: {
  key: Buffer;
  project: string;
  identities: Record<string, string>;
  region?: string;
}): Promise<MetadataServers> {
  const servers: http.Server[] = [];
  const hosts: Record<string, string> = {};
  const close = async () => {
    await Promise.all(servers.map(s => new Promise<void>(resolve => s.close(() => resolve()))));
  };
  try {
    for (const [name, email] of Object.entries(opts.identities)) {
      const server = http.createServer(
        serve(opts.key, opts.project, email, opts.region ?? 'europe-west1'),
      );
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      server.unref();
      hosts[name] = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {hosts, close};
}

/**
 * The environment that makes a process take its Google credentials from one
 * of these servers and from nothing else: no key file, no gcloud user
 * credentials from the developer's own configuration (CLOUDSDK_CONFIG is
 * pointed at an empty folder), no probing of a real metadata server.
 */
export function credentialEnv(host: string, emptyConfigDir: string): Record<string, string> {
  return {
    GCE_METADATA_HOST: host,
    METADATA_SERVER_DETECTION: 'ping-only',
    CLOUDSDK_CONFIG: emptyConfigDir,
    GOOGLE_APPLICATION_CREDENTIALS: '',
  };
}
