/**
 * `{"error": …}` JSON for the requests the Functions Framework refuses
 * before our handlers run.
 *
 * Why this exists: the framework (5.0.5, the latest) parses every request
 * body with body-parser before calling the function and installs no error
 * middleware. A malformed JSON body, a charset or content encoding it cannot
 * decode, or a body over its 1 GiB limit therefore ends in Express' default
 * final handler (the `finalhandler` package), which answers an HTML page with
 * the error's stack trace and the server's file paths (under
 * NODE_ENV=production only "Bad Request", but still HTML), and prints the
 * stack to stderr as many unstructured lines. The framework has no hook for
 * this (upstream: GoogleCloudPlatform/functions-framework-nodejs issue #686,
 * PR #685, open), and registering the function differently does not help:
 * the parsers run for every signature and every target, before any user code.
 *
 * What it does: Express apps end every request they do not answer in
 * `app.handle(req, res, callback)`, and fall back to `finalhandler` only
 * when no callback is given, which is the case for the framework's app (it
 * is the HTTP server's request listener). We wrap `handle` on the
 * `express.application` prototype, of the very `express` the framework
 * resolves, to pass `finalAnswer` as that callback. Express copies the
 * prototype onto each app when it is created, and the framework creates its
 * app after it has loaded the function's source (functions/index.ts), so
 * importing this module is enough. Nothing else changes: a request one of
 * our handlers answers never gets there. The wrapper is per process and
 * idempotent; test/e2e/planner-errors.spec.ts checks it through the real
 * function process, so an upgrade of the framework or Express that breaks it
 * fails the suite.
 *
 * Body limits, before anything is buffered: the framework's parsers read up
 * to 1 GiB into memory and parse it (a 100 MiB body took the planner from 175
 * to 650 MiB) before a handler can look at its size. So the same wrapper,
 * which runs when the request arrives and before any parser, refuses
 *  - a compressed body (Content-Encoding other than identity), 415: none of
 *    our callers compress, and a few KiB of gzip can inflate to any size;
 *  - a declared Content-Length over the limit, 413, at once;
 * and counts the bytes of every other body as they arrive (it wraps the
 * request's `push`, through which Node's HTTP parser hands over the body):
 * past the limit it keeps no more of them and fails the parser reading them
 * with a 413, so at most the limit is ever held. The limit is per function
 * (`configureRequestBody`, keyed by the framework's `--target` /
 * FUNCTION_TARGET): the planner's is a few KiB; the worker's and checker's
 * (Pub/Sub pushes of at most 1000 ids, about 53 KiB, and storage events of a
 * few KiB) is DEFAULT_MAX_BODY_BYTES.
 */
import {createRequire} from 'node:module';
import type {IncomingMessage, ServerResponse} from 'node:http';
import {formatBytes} from '../core/human-format';
import {createLogger, Logger} from '../logger';

/** What a body-parser (http-errors) error carries. */
interface HttpishError {
  status?: unknown;
  statusCode?: unknown;
  type?: unknown;
  code?: unknown;
  expose?: unknown;
  message?: unknown;
  limit?: unknown;
  length?: unknown;
  charset?: unknown;
  encoding?: unknown;
  /** body-parser's parse errors carry the decoded body (never logged or echoed). */
  body?: unknown;
}

export interface ErrorAnswer {
  status: number;
  error: string;
  /** body-parser's error type (or code), for the log. */
  type?: string;
}

/**
 * The status and the client-facing message for an error that reached the end
 * of Express' chain (`undefined`: no route answered). Never a stack trace or
 * a path: the message is written here or is the parser's own exposed text,
 * and it quotes the input only as a short excerpt.
 * @param example - a well-formed body of this function, for "must be a JSON object"
 */
export function answerFor(err: unknown, example?: string): ErrorAnswer {
  if (err === undefined || err === null || err === 'route' || err === 'router') {
    return {status: 404, error: 'not found'};
  }
  const e = (typeof err === 'object' ? err : {}) as HttpishError;
  const raw = typeof e.status === 'number' ? e.status : e.statusCode;
  const status = typeof raw === 'number' && raw >= 400 && raw < 600 ? raw : 500;
  const type =
    typeof e.type === 'string' ? e.type : typeof e.code === 'string' ? e.code : undefined;
  const detail = typeof e.message === 'string' ? oneLine(e.message) : '';
  const tagged = (error: string): ErrorAnswer => ({status, error, ...(type ? {type} : {})});
  if (status >= 500) return tagged('the request could not be handled; see the logs');
  switch (type) {
    case 'entity.parse.failed': {
      const got = bareJsonValue(e.body);
      return tagged(
        got
          ? `the request body must be a JSON object${example ? `, e.g. ${example}` : ''}; got ${got}`
          : `the request body is not valid JSON (${detail})`,
      );
    }
    case 'entity.too.large': {
      const limit = typeof e.limit === 'number' ? formatBytes(e.limit) : undefined;
      if (!limit) return tagged('the request body is too large');
      return tagged(
        typeof e.length === 'number'
          ? `the request body is ${formatBytes(e.length)}; at most ${limit}`
          : `the request body is too large: at most ${limit}`,
      );
    }
    case 'charset.unsupported':
      return tagged(`${detail}; send JSON in UTF-8`);
    case 'encoding.unsupported':
      return tagged(`${detail}; send the body uncompressed`);
    case 'request.aborted':
      return tagged('the request was aborted before its body arrived');
    case 'request.size.invalid':
      return tagged('the request body does not match its Content-Length');
  }
  return tagged(e.expose === true && detail ? detail : `the request was refused (HTTP ${status})`);
}

/**
 * What a body the JSON parser refused in strict mode is when it is valid JSON
 * all the same ("null", "a string", …); undefined for malformed JSON. The body
 * is at most the function's limit, so parsing it again is cheap.
 */
function bareJsonValue(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  const first = body.trimStart()[0];
  if (first === undefined || first === '{' || first === '[') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (value === null || typeof value === 'boolean') return String(value);
  return typeof value === 'string'
    ? 'a string'
    : typeof value === 'number'
      ? 'a number'
      : undefined;
}

/** Parser messages are one line already; make sure, and keep them short. */
function oneLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 197)}…` : line;
}

let logger: Logger | undefined;

/** Express' final callback for this process: a JSON answer and one log line. */
export function finalAnswer(req: IncomingMessage, res: ServerResponse) {
  return (err?: unknown): void => {
    const answer = answerFor(err, bodyRules().example);
    logger ??= createLogger({service: 'genesys-recording-migrator'});
    const fields = {
      status: answer.status,
      reason: answer.error,
      ...(answer.type ? {type: answer.type} : {}),
      method: req.method,
    };
    if (answer.status >= 500) {
      // The error object itself (name and message, redacted), never the request body.
      const e = err as {name?: unknown; message?: unknown};
      logger.error('request failed before the function ran', {
        ...fields,
        error: {name: String(e?.name), message: oneLine(String(e?.message))},
      });
    } else {
      logger.warn('request refused before the function ran', fields);
    }
    if (res.headersSent) {
      // Too late for an answer: end the connection, as finalhandler does.
      req.socket?.destroy();
      return;
    }
    const body = JSON.stringify({error: answer.error});
    res.statusCode = answer.status;
    // As finalhandler: no content headers of an answer that was under way.
    for (const name of ['Content-Encoding', 'Content-Language', 'Content-Range'])
      res.removeHeader(name);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** The worker's and checker's limit (and that of any function without its own). */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

export interface BodyRules {
  /** The largest request body accepted, in bytes. */
  maxBytes: number;
  /** A well-formed body, quoted when a body is valid JSON but not an object. */
  example?: string;
}

const rules = new Map<string, BodyRules>();
let target: string | undefined;

/** Sets the body rules of one function (by its registered name); call at load time. */
export function configureRequestBody(functionName: string, bodyRules: BodyRules): void {
  rules.set(functionName, bodyRules);
}

/**
 * The function this process serves, read as the framework reads it:
 * `--target NAME` / `--target=NAME`, else FUNCTION_TARGET.
 */
export function functionTarget(
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === '--target') found = argv[i + 1];
    else if (arg.startsWith('--target=')) found = arg.slice('--target='.length);
  }
  return found || env.FUNCTION_TARGET || undefined;
}

/** This process's body rules. */
export function bodyRules(): BodyRules {
  target ??= functionTarget() ?? '';
  return rules.get(target) ?? {maxBytes: DEFAULT_MAX_BODY_BYTES};
}

const TOO_LARGE = Symbol('genesys-recording-migrator.body-too-large');

/** Whether the request's body went past the limit (its excess was dropped). */
export function bodyTooLarge(req: IncomingMessage): boolean {
  return (req as IncomingMessage & {[TOO_LARGE]?: boolean})[TOO_LARGE] === true;
}

/** An error shaped like body-parser's (http-errors), for answerFor. */
function refusal(status: number, type: string, message: string, extra: object = {}) {
  return Object.assign(new Error(message), {status, statusCode: status, expose: true, type}, extra);
}

/**
 * Checks a request as it arrives, before any parser: the refusal to answer at
 * once, or undefined after arranging that its body is counted while it is read.
 */
export function guardBody(req: IncomingMessage, maxBytes: number): Error | undefined {
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    const shown = encoding.length > 40 ? `${encoding.slice(0, 40)}…` : encoding;
    return refusal(415, 'encoding.unsupported', `content encoding "${shown}" is not accepted`);
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return refusal(413, 'entity.too.large', 'request entity too large', {
      limit: maxBytes,
      length: Number(declared),
    });
  }
  countBody(req, maxBytes);
  return undefined;
}

/**
 * Keeps at most `maxBytes` of the body: Node's HTTP parser hands each chunk to
 * `req.push`; past the limit the chunks are dropped (so reading on costs no
 * memory) and whoever reads the body (body-parser) gets a 413 error, reads
 * off the rest and ends in finalAnswer. With no reader, nothing is emitted;
 * the handler sees no parsed body.
 */
function countBody(req: IncomingMessage, maxBytes: number): void {
  let received = req.readableLength;
  let over = false;
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null || chunk === undefined) return push(chunk);
    if (over) return true;
    received +=
      typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : (chunk as Uint8Array).length;
    if (received <= maxBytes) return push(chunk, encoding);
    over = true;
    (req as IncomingMessage & {[TOO_LARGE]?: boolean})[TOO_LARGE] = true;
    // Not from inside the parser's callback: the reader's error handling reads on.
    process.nextTick(() => {
      if (req.listenerCount('error') > 0)
        req.emit(
          'error',
          refusal(413, 'entity.too.large', 'request entity too large', {limit: maxBytes}),
        );
    });
    return true;
  };
}

type Handle = (
  this: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  callback?: (err?: unknown) => void,
) => void;

const INSTALLED = Symbol.for('genesys-recording-migrator.json-errors');

/**
 * Makes every Express app the Functions Framework creates in this process
 * check bodies before its parsers (guardBody) and end in `finalAnswer`.
 * Returns false when Express is not shaped as expected (then nothing changes;
 * the e2e test fails).
 */
export function installJsonErrors(): boolean {
  const fromFramework = createRequire(require.resolve('@google-cloud/functions-framework'));
  const express = fromFramework('express') as {application?: Record<PropertyKey, unknown>};
  const app = express.application;
  if (!app || typeof app.handle !== 'function') return false;
  if (app[INSTALLED]) return true;
  const original = app.handle as Handle;
  const handle: Handle = function (this: unknown, req, res, callback) {
    // A callback: an app mounted in another, whose request this was already.
    if (callback) return original.call(this, req, res, callback);
    const answer = finalAnswer(req, res);
    const refused = guardBody(req, bodyRules().maxBytes);
    if (refused) return answer(refused);
    return original.call(this, req, res, answer);
  };
  app.handle = handle;
  app[INSTALLED] = true;
  return true;
}
