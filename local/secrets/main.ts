/**
 * `npm run local:secrets -- --port N --file FILE`
 *
 * Starts the Secret Manager stand-in (gRPC) serving the secrets in FILE.
 */
import * as grpc from '@grpc/grpc-js';
import {SecretStore, createSecretServer} from './server';
import {flag, portFlag} from '../common/cli';
import {runService} from '../common/service-main';

runService(
  'secret-manager',
  'Secret Manager stand-in (gRPC, official protos)',
  [
    {name: 'port', help: 'TCP port on 127.0.0.1 (default 0 = any free port)'},
    {name: 'file', help: 'JSON file {"NAME": "value" | ["v1", …]} (default .local/secrets.json)'},
  ],
  async flags => {
    const file = flag(flags, 'file', '.local/secrets.json');
    const server = createSecretServer(SecretStore.fromFile(file));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `127.0.0.1:${portFlag(flags)}`,
        grpc.ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    return {
      port,
      info: {endpoint: `127.0.0.1:${port}`, file},
      stop: () => new Promise<void>(resolve => server.tryShutdown(() => resolve())),
    };
  },
);
