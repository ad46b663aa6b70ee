/**
 * Runtime fault injection shared by the local stand-ins.
 *
 * A rule matches requests by method and path (a regular expression) and
 * answers them with an error status, a reset connection, a delay before
 * normal handling, or a stall: normal handling whose response body stops
 * after `afterBytes` bytes with the connection left open. Rules fire a number of times (or forever) and optionally
 * with a probability. A `corrupt` rule lets the request through with one byte
 * of its body changed, as a faulty network path or NIC would deliver it.
 * They are managed over each stand-in's admin API:
 * `GET|POST|DELETE /_admin/faults`.
 */
import type {IncomingMessage, ServerResponse} from 'node:http';

export interface FaultRule {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Regular expression matched against the request path and query. */
  path?: string;
  /** What to do. */
  action: 'status' | 'reset' | 'delay' | 'stall' | 'corrupt';
  /** For `status`: the status code. */
  status?: number;
  /** For `status`: the JSON body (a generic one when absent). */
  body?: unknown;
  /** For `status`: extra response headers. */
  headers?: Record<string, string>;
  /** For `delay`: milliseconds to wait before handling normally. */
  delayMs?: number;
  /** For `stall`: bytes of the response body sent before it stops (default 0). */
  afterBytes?: number;
  /**
   * For `corrupt`: the offset in the request body of the byte whose bits are
   * all flipped (default: the middle byte by `Content-Length`, else the first).
   */
  atByte?: number;
  /** Matching requests to let through untouched before the rule starts firing (default 0). */
  after?: number;
  /** How many matching requests to affect; absent or <= 0 means every one. */
  times?: number;
  /** Chance of firing on a matching request, 0..1 (default 1). */
  probability?: number;
}

interface ActiveRule extends FaultRule {
  id: number;
  fired: number;
  /** Matching requests let through because of `after`. */
  passed: number;
  regex?: RegExp;
}

export class FaultRuleError extends Error {
  override name = 'FaultRuleError' as const;
}

const ACTIONS = new Set(['status', 'reset', 'delay', 'stall', 'corrupt']);

/** Validates an untrusted rule from the admin API. */
export function parseFaultRule(input: unknown): FaultRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultRuleError('a fault rule must be a JSON object');
  }
  const r = input as Record<string, unknown>;
  const known = new Set([
    'method',
    'path',
    'action',
    'status',
    'body',
    'headers',
    'delayMs',
    'afterBytes',
    'atByte',
    'after',
    'times',
    'probability',
  ]);
  for (const key of Object.keys(r)) {
    if (!known.has(key)) throw new FaultRuleError(`unknown fault rule field "${key}"`);
  }
  if (typeof r.action !== 'string' || !ACTIONS.has(r.action)) {
    throw new FaultRuleError(
      'fault rule "action" must be one of status, reset, delay, stall, corrupt',
    );
  }
  if (r.path !== undefined) {
    if (typeof r.path !== 'string') throw new FaultRuleError('fault rule "path" must be a string');
    try {
      new RegExp(r.path);
    } catch {
      throw new FaultRuleError(`fault rule "path" is not a valid regular expression: ${r.path}`);
    }
  }
  if (r.method !== undefined && typeof r.method !== 'string') {
    throw new FaultRuleError('fault rule "method" must be a string');
  }
  if (
    r.action === 'status' &&
    (!Number.isInteger(r.status) || (r.status as number) < 100 || (r.status as number) > 599)
  ) {
    throw new FaultRuleError(
      'fault rule with action "status" needs an integer "status" between 100 and 599',
    );
  }
  if (r.action === 'delay' && (typeof r.delayMs !== 'number' || r.delayMs < 0)) {
    throw new FaultRuleError('fault rule with action "delay" needs a non-negative "delayMs"');
  }
  if (
    r.afterBytes !== undefined &&
    (!Number.isInteger(r.afterBytes) || (r.afterBytes as number) < 0)
  ) {
    throw new FaultRuleError('fault rule "afterBytes" must be a non-negative integer');
  }
  if (r.atByte !== undefined && (!Number.isInteger(r.atByte) || (r.atByte as number) < 0)) {
    throw new FaultRuleError('fault rule "atByte" must be a non-negative integer');
  }
  if (r.after !== undefined && (!Number.isInteger(r.after) || (r.after as number) < 0)) {
    throw new FaultRuleError('fault rule "after" must be a non-negative integer');
  }
  if (r.times !== undefined && !Number.isInteger(r.times)) {
    throw new FaultRuleError('fault rule "times" must be an integer');
  }
  if (
    r.probability !== undefined &&
    (typeof r.probability !== 'number' || r.probability < 0 || r.probability > 1)
  ) {
    throw new FaultRuleError('fault rule "probability" must be a number between 0 and 1');
  }
  if (r.headers !== undefined && (typeof r.headers !== 'object' || r.headers === null)) {
    throw new FaultRuleError('fault rule "headers" must be an object');
  }
  return r as unknown as FaultRule;
}

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private nextId = 1;

  constructor(
    /** Body for `status` rules without one. */
    private readonly defaultBody: (status: number) => unknown = status => ({
      error: {code: status, message: `Injected fault: HTTP ${status}`},
    }),
    private readonly random: () => number = Math.random,
  ) {}

  add(rule: FaultRule): number {
    const id = this.nextId++;
    this.rules.push({
      ...rule,
      id,
      fired: 0,
      passed: 0,
      regex: rule.path ? new RegExp(rule.path) : undefined,
    });
    return id;
  }

  clear(): void {
    this.rules = [];
  }

  list(): Array<FaultRule & {id: number; fired: number}> {
    return this.rules.map(({regex: _r, passed: _p, ...rest}) => rest);
  }

  /**
   * Applies the first matching rule. Returns true when the request has been
   * answered (or its connection destroyed) and must not be handled further.
   */
  async apply(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = req.url ?? '/';
    for (const rule of this.rules) {
      if (rule.method && rule.method.toUpperCase() !== req.method) continue;
      if (rule.regex && !rule.regex.test(url)) continue;
      if (rule.times !== undefined && rule.times > 0 && rule.fired >= rule.times) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      if (rule.after !== undefined && rule.passed < rule.after) {
        rule.passed++;
        continue;
      }
      rule.fired++;
      switch (rule.action) {
        case 'delay':
          await new Promise(r => setTimeout(r, rule.delayMs));
          return false;
        case 'reset':
          req.socket.destroy();
          return true;
        case 'stall':
          stallAfter(res, rule.afterBytes ?? 0);
          return false;
        case 'corrupt':
          corruptBody(req, rule.atByte);
          return false;
        case 'status': {
          req.resume();
          const status = rule.status!;
          const text = JSON.stringify(rule.body ?? this.defaultBody(status));
          res.writeHead(status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
            ...(rule.headers ?? {}),
          });
          res.end(text);
          return true;
        }
      }
    }
    return false;
  }
}

type WriteCallback = (err?: Error | null) => void;

/**
 * Flips every bit of one byte of the request body as it arrives (`atByte`, or
 * the middle byte by `Content-Length`), before any handler reads it. The HTTP
 * parser hands each piece of the body to the request's `push`; a piece that
 * arrived with the headers and is already buffered is changed in place.
 */
function corruptBody(req: IncomingMessage, atByte: number | undefined): void {
  const length = Number(req.headers['content-length']);
  const target = atByte ?? (Number.isSafeInteger(length) && length > 0 ? length >> 1 : 0);
  let seen = 0;
  const damage = (piece: Buffer): Buffer => {
    const at = target - seen;
    seen += piece.length;
    if (at < 0 || at >= piece.length) return piece;
    const changed = Buffer.from(piece);
    changed[at] = changed[at]! ^ 0xff;
    return changed;
  };
  if (req.readableLength > 0) {
    const buffered = req.read() as Buffer | null;
    if (buffered) req.unshift(damage(buffered));
  }
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean =>
    push(Buffer.isBuffer(chunk) ? damage(chunk) : chunk, encoding);
}

/**
 * Lets the handler answer as usual, but only the first `limit` bytes of the
 * body reach the client; then the response never ends and the connection
 * stays open, as when a server or a network path hangs mid-body.
 */
function stallAfter(res: ServerResponse, limit: number): void {
  let sent = 0;
  const write = res.write.bind(res) as (chunk: Buffer, cb?: WriteCallback) => boolean;
  const patched = res as unknown as {
    write: (chunk: unknown, ...rest: unknown[]) => boolean;
    end: (...args: unknown[]) => ServerResponse;
  };
  patched.write = (chunk: unknown, ...rest: unknown[]) => {
    const cb = rest.find((x): x is WriteCallback => typeof x === 'function');
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    const part = buf.subarray(0, Math.max(0, limit - sent));
    sent += part.length;
    if (part.length > 0) write(part, cb);
    else cb?.();
    return true;
  };
  patched.end = (...args: unknown[]) => {
    const chunk = args[0];
    if (chunk !== undefined && typeof chunk !== 'function') patched.write(chunk);
    return res; // never ends
  };
}

/**
 * Serves `GET|POST|DELETE /_admin/faults` for a stand-in. Returns false when
 * the request is not for this route.
 */
export async function serveFaultAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  injector: FaultInjector,
  readJson: () => Promise<unknown>,
): Promise<boolean> {
  const {pathname} = new URL(req.url ?? '/', 'http://x');
  if (pathname !== '/_admin/faults') return false;
  const reply = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  if (req.method === 'GET') {
    reply(200, {rules: injector.list()});
  } else if (req.method === 'DELETE') {
    injector.clear();
    reply(200, {rules: []});
  } else if (req.method === 'POST') {
    try {
      const input = await readJson();
      const rules = Array.isArray(input) ? input.map(parseFaultRule) : [parseFaultRule(input)];
      reply(200, {ids: rules.map(r => injector.add(r))});
    } catch (err) {
      reply(400, {error: err instanceof Error ? err.message : String(err)});
    }
  } else {
    reply(405, {error: 'use GET, POST or DELETE'});
  }
  return true;
}
