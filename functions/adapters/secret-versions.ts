/**
 * The latest version of a secret, as `grm doctor` reads it: through the
 * official Secret Manager client with the caller's Application Default
 * Credentials, telling apart a missing version, a disabled one and a
 * refusal (whose message names the permission). Locally the stand-in is
 * reached at SECRET_MANAGER_EMULATOR_HOST over TLS with its certificate
 * (`caFile`). No error or detail ever holds a value.
 */
import * as fs from 'node:fs';
import {SecretManagerServiceClient} from '@google-cloud/secret-manager';
import * as grpc from '@grpc/grpc-js';
import {GoogleAuth} from 'google-auth-library';
import type {SecretRead, SecretSource} from '../ops/doctor/ports';

export class SecretVersions implements SecretSource {
  private client?: SecretManagerServiceClient;

  constructor(
    private readonly project: string,
    private readonly local?: {host: string; caFile?: string},
  ) {}

  private async connect(): Promise<SecretManagerServiceClient> {
    if (this.client) return this.client;
    if (!this.local) return (this.client = new SecretManagerServiceClient());
    const [host, port] = this.local.host.split(':');
    const tls = grpc.credentials.createSsl(
      this.local.caFile ? fs.readFileSync(this.local.caFile) : null,
    );
    const auth = await new GoogleAuth({
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    }).getClient();
    // Given channel credentials, the client adds none of its own: the caller's go with them.
    const callerToken = grpc.credentials.createFromMetadataGenerator((_params, done) => {
      auth.getAccessToken().then(
        ({token}) => {
          const metadata = new grpc.Metadata();
          if (token) metadata.add('authorization', `Bearer ${token}`);
          done(null, metadata);
        },
        (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
      );
    });
    return (this.client = new SecretManagerServiceClient({
      apiEndpoint: host,
      port: Number(port),
      sslCreds: grpc.credentials.combineChannelCredentials(tls, callerToken),
    }));
  }

  async latest(secret: string): Promise<SecretRead> {
    const name = `projects/${this.project}/secrets/${secret}/versions/latest`;
    try {
      const [version] = await (await this.connect()).accessSecretVersion({name});
      const data = version.payload?.data;
      if (!data || data.length === 0)
        return {ok: false, reason: 'not-found', detail: 'the latest version is empty'};
      return {ok: true, value: Buffer.from(data).toString('utf8')};
    } catch (err) {
      const code = (err as {code?: unknown}).code;
      const details = (err as {details?: unknown}).details;
      const detail = typeof details === 'string' ? details.slice(0, 300) : 'no details';
      switch (code) {
        case grpc.status.NOT_FOUND:
          return {ok: false, reason: 'not-found', detail};
        case grpc.status.FAILED_PRECONDITION:
          return {ok: false, reason: 'disabled', detail};
        case grpc.status.PERMISSION_DENIED:
          return {ok: false, reason: 'denied', detail};
        case grpc.status.UNAUTHENTICATED:
          return {ok: false, reason: 'unauthenticated', detail};
        default:
          return {
            ok: false,
            reason: 'error',
            detail: typeof code === 'number' ? `gRPC code ${code}: ${detail}` : 'no answer',
          };
      }
    }
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}
