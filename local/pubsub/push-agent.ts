/**
 * What Pub/Sub adds to each push of a subscription with
 * `push_config.oidc_token`: the push identity's OIDC ID token, for the
 * endpoint's service as audience. The Pub/Sub emulator pushes without one,
 * so the stack points the emulator's push at this agent, which forwards each
 * request (streamed both ways) to the real endpoint with the token added.
 */
import * as http from 'node:http';
import type {AddressInfo} from 'node:net';

export interface PushAgent {
  /** Where the emulator pushes instead of the endpoint (same path). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startPushAgent(opts: {
  /** The endpoint's origin, `http://127.0.0.1:PORT`. */
  target: string;
  /** The push identity's ID token for the target. */
  token: () => string;
}): Promise<PushAgent> {
  const target = new URL(opts.target);
  const server = http.createServer((req, res) => {
    const headers = {...req.headers, authorization: `Bearer ${opts.token()}`, host: target.host};
    const upstream = http.request(
      {host: target.hostname, port: target.port, path: req.url, method: req.method, headers},
      up => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', err => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, {'content-type': 'text/plain'});
      res.end(`push agent: ${err.message}`);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
