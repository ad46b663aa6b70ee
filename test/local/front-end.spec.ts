/**
 * The local platform front end (local/functions/front-end.ts) over real
 * sockets: requests held while no process listens, a 503 JSON answer when
 * the process dies mid-request, bodies streamed both ways; with several
 * instances, one request at a time each, requests spread over them, held
 * while all are busy and answered 429 when none frees up, as Cloud Run does.
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

  /** `n` upstreams that answer `#index` once the test releases them, counting what they hold. */
  async function instances(n: number) {
    const ports = await Promise.all(Array.from({length: n}, () => freePort()));
    const held: Array<Array<() => void>> = ports.map(() => []);
    const servers = await Promise.all(
      ports.map((port, i) =>
        listen(port, (req, res) => {
          req.resume();
          held[i]!.push(() => res.end(`#${i}`));
        }),
      ),
    );
    return {
      ports,
      held,
      /** Answers every request held so far. */
      releaseAll: () => held.forEach(list => list.splice(0).forEach(f => f())),
      close: () => Promise.all(servers.map(close)),
    };
  }

  const until = async (what: string, ok: () => boolean) => {
    for (const deadline = Date.now() + 5000; !ok();) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise(r => setTimeout(r, 20));
    }
  };

  it('should give each instance one request at a time and hold the next until one is free', async () => {
    const port = await freePort();
    const up = await instances(3);
    const answeredBy: number[] = [];
    const front = await startFrontEnd({
      port,
      upstreamPorts: up.ports,
      concurrency: 1,
      holdMs: 10_000,
      onAnswer: i => answeredBy.push(i),
    });
    try {
      const first = [0, 1, 2].map(() => fetch(`http://127.0.0.1:${port}/`, {method: 'POST'}));
      await until('one request at each instance', () => up.held.every(h => h.length === 1));
      const fourth = fetch(`http://127.0.0.1:${port}/`, {method: 'POST'});
      await until('the fourth to wait', () => front.stats().queued === 1);
      assert.deepStrictEqual(
        up.held.map(h => h.length),
        [1, 1, 1],
        'no instance takes a second request',
      );
      up.held[1]!.shift()!(); // instance 1 answers: the fourth goes there
      await until('the fourth at instance 1', () => up.held[1]!.length === 1);
      up.releaseAll();
      const texts = await Promise.all([...first, fourth].map(async r => (await r).text()));
      assert.deepStrictEqual([...texts].sort(), ['#0', '#1', '#1', '#2']);
      assert.strictEqual(texts[3], '#1');
      assert.deepStrictEqual([...answeredBy].sort(), [0, 1, 1, 2]);
      await until('every slot free', () => front.stats().instances.every(i => i.busy === 0));
      const stats = front.stats();
      assert.deepStrictEqual(
        stats.instances.map(i => i.answered),
        [1, 2, 1],
      );
      assert.strictEqual(stats.requests, 4);
      assert.strictEqual(stats.rejected, 0);
      assert.strictEqual(stats.peakWaiting, 1);
      assert.strictEqual(stats.peakInFlight, 3);
    } finally {
      up.releaseAll();
      await front.close();
      await up.close();
    }
  });

  it('should answer 429 in JSON when every instance stays busy for the hold time', async () => {
    const port = await freePort();
    const up = await instances(2);
    const front = await startFrontEnd({port, upstreamPorts: up.ports, concurrency: 1, holdMs: 300});
    try {
      const busy = [0, 1].map(() => fetch(`http://127.0.0.1:${port}/`, {method: 'POST'}));
      await until('both instances busy', () => up.held.every(h => h.length === 1));
      const res = await fetch(`http://127.0.0.1:${port}/`, {method: 'POST', body: '{}'});
      assert.strictEqual(res.status, 429);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      assert.match(await res.text(), /no available instance/);
      assert.strictEqual(front.stats().rejected, 1);
      up.releaseAll();
      assert.deepStrictEqual(
        (await Promise.all(busy)).map(r => r.status),
        [200, 200],
      );
    } finally {
      up.releaseAll();
      await front.close();
      await up.close();
    }
  });

  it('should pass over an instance whose process does not listen', async () => {
    const port = await freePort();
    const up = await instances(1);
    const gone = await freePort(); // nothing listens there
    const front = await startFrontEnd({
      port,
      upstreamPorts: [gone, up.ports[0]!],
      concurrency: 1,
      holdMs: 5000,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = fetch(`http://127.0.0.1:${port}/`, {method: 'POST'});
        await until('the request at the live instance', () => up.held[0]!.length === 1);
        up.releaseAll();
        assert.strictEqual(await (await res).text(), '#0');
      }
      assert.deepStrictEqual(
        front.stats().instances.map(i => i.answered),
        [0, 3],
      );
    } finally {
      up.releaseAll();
      await front.close();
      await up.close();
    }
  });

  it('should give one instance without a concurrency limit every request at once', async () => {
    const port = await freePort();
    const up = await instances(1);
    const front = await startFrontEnd({port, upstreamPort: up.ports[0]!, holdMs: 1000});
    try {
      const all = [0, 1, 2].map(() => fetch(`http://127.0.0.1:${port}/`, {method: 'POST'}));
      await until('three requests at the instance', () => up.held[0]!.length === 3);
      up.releaseAll();
      assert.deepStrictEqual(await Promise.all(all.map(async r => (await r).text())), [
        '#0',
        '#0',
        '#0',
      ]);
      assert.strictEqual(front.stats().queued, 0);
    } finally {
      up.releaseAll();
      await front.close();
      await up.close();
    }
  });
});
