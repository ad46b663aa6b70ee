/**
 * The platform's front end for one local function, as Cloud Run's is for a
 * gen2 function: the function's URL stays served while its instances are
 * replaced, and requests are spread over its instances.
 *
 * Each request goes to an instance that has a free slot (an instance takes
 * `concurrency` requests at once, Cloud Run's
 * `max_instance_request_concurrency`; the least busy, then the one idle the
 * longest). When every instance is full, the request waits, first come first
 * served; when an instance refuses the connection (its process is being
 * replaced), the request waits for another or for it to listen again. A
 * request that waited `holdMs` in vain is answered as Cloud Run answers:
 * 429 when instances are up but all busy (Cloud Run queues a request for up
 * to 60 s when a service is at its maximum instances, then fails it with
 * 429, "no available instance"), 503 when no process listened. A request
 * whose process dies before it answers gets a 503 JSON answer, as the
 * platform answers when an instance crashes mid-request. Either way a
 * Pub/Sub push is nacked (and redelivered with the subscription's backoff)
 * instead of seeing a reset or a refused connection.
 * Bodies are streamed both ways, never buffered.
 */
import * as http from 'node:http';

export interface FrontEndStats {
  /** Requests received. */
  requests: number;
  /** Requests that had to wait because every instance was busy. */
  queued: number;
  /** The most requests waiting at once. */
  peakWaiting: number;
  /** The most requests at instances at once. */
  peakInFlight: number;
  /** Answered 429: instances were up but none had a free slot within `holdMs`. */
  rejected: number;
  /** Answered 503: no process listened within `holdMs`, or one died before it answered. */
  unavailable: number;
  /** Answered 401/403 by the invoker check: the caller may not invoke the function. */
  refused: number;
  /** Per instance, in the order of the upstream ports. */
  instances: Array<{port: number; busy: number; answered: number}>;
}

export interface Refusal {
  status: 401 | 403;
  message: string;
}

export interface FrontEnd {
  readonly port: number;
  stats(): FrontEndStats;
  close(): Promise<void>;
}

function answer(res: http.ServerResponse, status: 429 | 503, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({error: {code: status, message}});
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** How long an instance that refused a connection is passed over, in ms. */
const REFUSED_RETRY_MS = 100;

interface Upstream {
  port: number;
  busy: number;
  answered: number;
  /** Its last connection attempt was refused (no process listens). */
  refusing: boolean;
  /** Passed over until then (it refused a connection). */
  downUntil: number;
  lastDispatch: number;
}

interface Pending {
  /** Arrival order: the line is kept in it, also for a request sent back to wait. */
  seq: number;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  deadline: number;
  /** Its client has gone or it was answered. */
  finished: boolean;
  /** Whether it is in the waiting line now. */
  waiting: boolean;
  /** Whether it already counts in `queued`. */
  counted: boolean;
  current?: http.ClientRequest;
}

export async function startFrontEnd(opts: {
  /** The public port (the function's URL). */
  port: number;
  /** Where the (one) instance's process listens. */
  upstreamPort?: number;
  /** Where each instance's process listens (instead of `upstreamPort`). */
  upstreamPorts?: readonly number[];
  /** Requests one instance takes at once (default: no limit). */
  concurrency?: number;
  /** How long a request waits for an instance to listen or to have a free slot, in ms. */
  holdMs: number;
  /** Called when instance `index` (of the upstream ports) answers a request. */
  onAnswer?: (index: number) => void;
  /**
   * Cloud Run's invoker check, before a request reaches an instance: a
   * refusal is answered with its status and message, the body discarded.
   */
  authorize?: (req: http.IncomingMessage) => Refusal | undefined;
}): Promise<FrontEnd> {
  const ports = opts.upstreamPorts ?? (opts.upstreamPort === undefined ? [] : [opts.upstreamPort]);
  if (ports.length === 0) throw new Error('the front end needs at least one upstream port');
  const concurrency = opts.concurrency ?? Infinity;
  const upstreams: Upstream[] = ports.map(port => ({
    port,
    busy: 0,
    answered: 0,
    refusing: false,
    downUntil: 0,
    lastDispatch: 0,
  }));
  const stats = {
    requests: 0,
    queued: 0,
    peakWaiting: 0,
    peakInFlight: 0,
    rejected: 0,
    unavailable: 0,
    refused: 0,
  };
  let inFlight = 0;
  const line: Pending[] = [];
  let wakeUp: NodeJS.Timeout | undefined;

  const free = (now: number): Upstream | undefined => {
    let best: Upstream | undefined;
    for (const u of upstreams) {
      if (u.busy >= concurrency || u.downUntil > now) continue;
      if (
        !best ||
        u.busy < best.busy ||
        (u.busy === best.busy && u.lastDispatch < best.lastDispatch)
      )
        best = u;
    }
    return best;
  };

  const leave = (p: Pending) => {
    if (!p.waiting) return;
    p.waiting = false;
    const i = line.indexOf(p);
    if (i >= 0) line.splice(i, 1);
  };

  /** Sends waiting requests to free instances, first come first served. */
  const pump = () => {
    const now = Date.now();
    while (line.length > 0) {
      const u = free(now);
      if (!u) break;
      const p = line.shift()!;
      p.waiting = false;
      dispatch(p, u);
    }
    if (line.length === 0 || wakeUp) return;
    // Instances passed over for a refusal come back by themselves: look again then.
    const down = upstreams.filter(u => u.downUntil > now && u.busy < concurrency);
    if (down.length === 0) return; // a slot that frees up pumps
    const at = Math.min(...down.map(u => u.downUntil));
    wakeUp = setTimeout(
      () => {
        wakeUp = undefined;
        pump();
      },
      Math.max(1, at - now),
    );
  };

  /** The answer to a request that found no instance within `holdMs`. */
  const giveUp = (p: Pending) => {
    if (p.finished) return;
    p.finished = true;
    if (upstreams.every(u => u.refusing)) {
      stats.unavailable++;
      answer(p.res, 503, `no instance listened within ${opts.holdMs} ms`);
    } else {
      stats.rejected++;
      answer(
        p.res,
        429,
        `The request was aborted because there was no available instance (all ${upstreams.length} busy for ${opts.holdMs} ms).`,
      );
    }
  };

  const wait = (p: Pending) => {
    if (Date.now() >= p.deadline) return giveUp(p);
    p.waiting = true;
    let at = line.length;
    while (at > 0 && line[at - 1]!.seq > p.seq) at--;
    line.splice(at, 0, p);
    pump();
    if (!p.waiting) return;
    if (!p.counted && upstreams.some(u => !u.refusing && u.busy >= concurrency)) {
      p.counted = true;
      stats.queued++;
    }
    stats.peakWaiting = Math.max(stats.peakWaiting, line.length);
  };

  const dispatch = (p: Pending, u: Upstream) => {
    const {req, res} = p;
    if (p.finished || req.destroyed) return; // its client has gone while it waited
    u.busy++;
    u.lastDispatch = Date.now();
    let connected = false;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      u.busy--;
      if (connected) inFlight--;
      pump();
    };
    const up = http.request({
      host: '127.0.0.1',
      port: u.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent: false,
    });
    p.current = up;
    let answered = false;
    up.once('close', release);
    up.once('socket', socket =>
      socket.once('connect', () => {
        connected = true;
        stats.peakInFlight = Math.max(stats.peakInFlight, ++inFlight);
        u.refusing = false;
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
      u.answered++;
      opts.onAnswer?.(upstreams.indexOf(u));
      upRes.once('end', drain);
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.once('aborted', () => res.destroy());
      upRes.once('error', () => res.destroy());
    });
    up.once('error', err => {
      const code = (err as NodeJS.ErrnoException).code;
      if (!connected && code === 'ECONNREFUSED') {
        // No process listens there (yet): pass it over for a moment, wait for another.
        u.refusing = true;
        u.downUntil = Date.now() + REFUSED_RETRY_MS;
        release();
        if (!p.finished) wait(p);
        return;
      }
      if (p.finished) return;
      if (answered) return drain(); // it answered, then closed early (e.g. a 413 before the body)
      p.finished = true;
      stats.unavailable++;
      answer(
        res,
        503,
        connected
          ? 'the instance handling the request ended before it answered'
          : `no instance listened within ${opts.holdMs} ms`,
      );
    });
  };

  const server = http.createServer((req, res) => {
    stats.requests++;
    const refusal = opts.authorize?.(req);
    if (refusal) {
      stats.refused++;
      req.resume();
      const body = JSON.stringify({error: {code: refusal.status, message: refusal.message}});
      res.writeHead(refusal.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(refusal.status === 401 ? {'www-authenticate': 'Bearer error="invalid_token"'} : {}),
      });
      res.end(body);
      return;
    }
    const p: Pending = {
      seq: stats.requests,
      req,
      res,
      deadline: Date.now() + opts.holdMs,
      finished: false,
      waiting: false,
      counted: false,
    };
    const timer = setTimeout(() => {
      if (!p.waiting) return; // under way (a refusal past the deadline gives up there)
      leave(p);
      giveUp(p);
    }, opts.holdMs);
    res.once('close', () => {
      p.finished = true;
      clearTimeout(timer);
      leave(p);
    });
    req.once('aborted', () => p.current?.destroy());
    wait(p);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  return {
    port: opts.port,
    stats: () => ({
      ...stats,
      instances: upstreams.map(u => ({port: u.port, busy: u.busy, answered: u.answered})),
    }),
    close: () =>
      new Promise<void>(resolve => {
        if (wakeUp) clearTimeout(wakeUp);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
