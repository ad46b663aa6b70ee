/**
 * The local platform front end (local/functions/front-end.ts) over real
 * sockets: requests held while no process listens, a 503 JSON answer when
 * the process dies mid-request, bodies streamed both ways.
 */
import * as assert from 'node:assert';
import * as http from 'node:http';
import {freePort} from '../../local/common/processes';
import {startFrontEnd} from '../../local/functions/front-end';

function listen(port: number, handler: http.RequestListener): Promise<http.Server> {
  const server = http.createServer(handler);
  return new Promise(resolve => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise(resolve => server.close(() => resolve()));
}

describe('local platform front end', () => {
  it('should hold a request while no process listens and deliver it once one does', async () => {
    const [port, upstreamPort] = [await freePort(), await freePort()];
    const front = await startFrontEnd({port, upstreamPort, holdMs: 10_000});
    let upstream: http.Server | undefined;
    try {
      const answer = fetch(`http://127.0.0.1:${port}/x`, {method: 'POST', body: 'hello'});
      await new Promise(r => setTimeout(r, 500)); // nothing listens yet
      upstream = await listen(upstreamPort, (req, res) => {
        let body = '';
        req.on('data', c => (body += String(c)));
        req.on('end', () => res.end(`got ${body} at ${req.url}`));
      });
      const res = await answer;
      assert.strictEqual(res.status, 200);
      assert.strictEqual(await res.text(), 'got hello at /x');
    } finally {
      if (upstream) await close(upstream);
      await front.close();
    }
  });

  it('should answer 503 in JSON when the process dies before it answers, and when none comes', async () => {
    const [port, upstreamPort] = [await freePort(), await freePort()];
    const front = await startFrontEnd({port, upstreamPort, holdMs: 300});
    const upstream = await listen(upstreamPort, req => req.socket.destroy());
    try {
      const died = await fetch(`http://127.0.0.1:${port}/`, {method: 'POST', body: '{}'});
      assert.strictEqual(died.status, 503);
      assert.match(await died.text(), /ended before it answered/);
      await close(upstream);
      const none = await fetch(`http://127.0.0.1:${port}/`);
      assert.strictEqual(none.status, 503);
      assert.match(await none.text(), /no instance listened within 300 ms/);
    } finally {
      await front.close();
    }
  });
});
