/**
 * Secrets from Secret Manager, read once per instance and cached, over TLS
 * with the instance's Application Default Credentials. Locally the stand-in
 * is reached through SECRET_MANAGER_EMULATOR_HOST (host:port), also over TLS
 * (its certificate trusted through GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), and
 * authorizes each read as Secret Manager does.
 */
import {SecretManagerServiceClient} from '@google-cloud/secret-manager';
import * as grpc from '@grpc/grpc-js';
import {PermanentError, RetryableError} from '../core/errors';

export class SecretReader {
  private readonly cache = new Map<string, Promise<string>>();
  private client?: SecretManagerServiceClient;

  constructor(
    private readonly project: string,
    private readonly emulatorHost?: string,
  ) {}

  read(name: string): Promise<string> {
    let value = this.cache.get(name);
    if (!value) {
      value = this.fetch(name);
      value.catch(() => this.cache.delete(name));
      this.cache.set(name, value);
    }
    return value;
  }

  private async fetch(name: string): Promise<string> {
    this.client ??= this.emulatorHost
      ? new SecretManagerServiceClient({
          apiEndpoint: this.emulatorHost.split(':')[0],
          port: Number(this.emulatorHost.split(':')[1]),
        })
      : new SecretManagerServiceClient();
    try {
      const [version] = await this.client.accessSecretVersion({
        name: `projects/${this.project}/secrets/${name}/versions/latest`,
      });
      const data = version.payload?.data;
      if (!data) throw new PermanentError(`secret ${name} is empty`);
      return Buffer.from(data).toString('utf8');
    } catch (err) {
      if (err instanceof PermanentError) throw err;
      const code = (err as {code?: number}).code;
      if (code === grpc.status.NOT_FOUND || code === grpc.status.PERMISSION_DENIED) {
        throw new PermanentError(
          `secret ${name} is missing or not readable (gRPC code ${code}: ${grpcDetails(err)})`,
        );
      }
      throw new RetryableError(`could not read secret ${name}`, {}, {cause: err});
    }
  }
}

/** The details of a gRPC error (Secret Manager's names the permission and resource, never a value). */
function grpcDetails(err: unknown): string {
  const details = (err as {details?: unknown}).details;
  return typeof details === 'string' ? details.slice(0, 300) : 'no details';
}
