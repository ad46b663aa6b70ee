/**
 * The platform's front end for one local function, as Cloud Run's is for a
 * gen2 function: the function's URL stays served while its instance is
 * replaced. A request that arrives while no process listens is held until one
 * does (or `holdMs` passes: 503). A request whose process dies before it
 * answers gets a 503 JSON answer, as the platform answers when an instance
 * crashes mid-request, so a Pub/Sub push is nacked (and redelivered with the
 * subscription's backoff) instead of seeing a reset or a refused connection.
 * Bodies are streamed both ways, never buffered.
 */
import * as http from 'node:http';

export interface FrontEnd {
  readonly port: number;
  close(): Promise<void>;
}

function unavailable(res: http.ServerResponse, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({error: {code: 503, message}});
  res.writeHead(503, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export async function startFrontEnd(opts: {
  /** The public port (the function's URL). */
  port: number;
  /** Where the current process listens. */
  upstreamPort: number;
  /** How long a request waits for a process to listen, in ms. */
  holdMs: number;
}): Promise<FrontEnd> {
  const server = http.createServer((req, res) => {
    const deadline = Date.now() + opts.holdMs;
    let finished = false;
    let current: http.ClientRequest | undefined;
    res.once('close', () => (finished = true));
    req.once('aborted', () => current?.destroy());
    const attempt = () => {
      if (finished || req.destroyed) return; // its client has gone while it was held
      const up = http.request({
        host: '127.0.0.1',
        port: opts.upstreamPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: false,
      });
      current = up;
      let connected = false;
      let answered = false;
      up.once('socket', socket =>
        socket.once('connect', () => {
          connected = true;
          req.pipe(up);
        }),
      );
      // A process that answers before reading the whole body (a 413) leaves the rest to drain here.
      const drain = () => {
        req.unpipe(up);
        req.resume();
      };
      up.once('response', upRes => {
        answered = true;
        upRes.once('end', drain);
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.once('aborted', () => res.destroy());
        upRes.once('error', () => res.destroy());
      });
      up.once('error', err => {
        if (finished) return;
        const code = (err as NodeJS.ErrnoException).code;
        if (!connected && code === 'ECONNREFUSED' && Date.now() < deadline) {
          setTimeout(attempt, 100); // no process listens yet: hold the request
          return;
        }
        if (answered) return drain(); // it answered, then closed early (e.g. a 413 before the body)
        unavailable(
          res,
          connected
            ? 'the instance handling the request ended before it answered'
            : `no instance listened within ${opts.holdMs} ms`,
        );
      });
    };
    attempt();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  return {
    port: opts.port,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
