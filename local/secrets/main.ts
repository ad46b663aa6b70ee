/**
 * `npm run local:secrets -- --port N --file FILE [--tls DIR] [--iam DIR]`
 *
 * Starts the Secret Manager stand-in (gRPC) serving the secrets in FILE:
 * plaintext, or with `--tls DIR` over TLS as Secret Manager is (a
 * self-signed certificate for 127.0.0.1, written to DIR/secrets-ca.pem for
 * clients to trust, e.g. through GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), so the
 * official client sends its credentials; with `--iam DIR` every call is
 * authorized against DIR's policy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {localCertificate} from '../common/tls';
import {SECRETS_CA_FILE, SecretStore, createSecretServer} from './server';
import {flag, portFlag} from '../common/cli';
import {runService} from '../common/service-main';
import {Access, readAccessConfig} from '../iam/authorize';

async function tlsCredentials(dir: string): Promise<grpc.ServerCredentials> {
  const pems = await localCertificate();
  fs.mkdirSync(dir, {recursive: true});
  fs.writeFileSync(path.join(dir, SECRETS_CA_FILE), pems.cert);
  return grpc.ServerCredentials.createSsl(
    null,
    [{private_key: Buffer.from(pems.key), cert_chain: Buffer.from(pems.cert)}],
    false,
  );
}

runService(
  'secret-manager',
  'Secret Manager stand-in (gRPC, official protos)',
  [
    {name: 'port', help: 'TCP port on 127.0.0.1 (default 0 = any free port)'},
    {name: 'file', help: 'JSON file {"NAME": "value" | ["v1", …]} (default .local/secrets.json)'},
    {name: 'tls', help: `serve TLS; the certificate to trust is written to DIR/${SECRETS_CA_FILE}`},
    {name: 'iam', help: 'authorize every call against DIR/policy.json with the tokens of DIR/key'},
  ],
  async flags => {
    const file = flag(flags, 'file', '.local/secrets.json');
    const iamDir = flag(flags, 'iam');
    const access = iamDir ? new Access(readAccessConfig(iamDir)) : undefined;
    const server = createSecretServer(SecretStore.fromFile(file), access);
    const tlsDir = flag(flags, 'tls');
    const credentials = tlsDir
      ? await tlsCredentials(tlsDir)
      : grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${portFlag(flags)}`, credentials, (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    return {
      port,
      // TLS names the host its certificate is for (an IP address as TLS server name is deprecated).
      info: {endpoint: `${tlsDir ? 'localhost' : '127.0.0.1'}:${port}`, file, tls: Boolean(tlsDir)},
      stop: () => new Promise<void>(resolve => server.tryShutdown(() => resolve())),
    };
  },
);
