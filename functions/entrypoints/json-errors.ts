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
 */
import {createRequire} from 'node:module';
import type {IncomingMessage, ServerResponse} from 'node:http';
import {formatBytes} from '../core/units';
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
 * a path: the message is written here or is the parser's own exposed text.
 */
export function answerFor(err: unknown): ErrorAnswer {
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
    case 'entity.parse.failed':
      return tagged(`the request body is not valid JSON (${detail})`);
    case 'entity.too.large':
      return tagged(
        typeof e.limit === 'number'
          ? `the request body is too large: at most ${formatBytes(e.limit)}`
          : 'the request body is too large',
      );
    case 'charset.unsupported':
      return tagged(`${detail}; send JSON in UTF-8`);
    case 'encoding.unsupported':
      return tagged(`${detail}; send the body uncompressed (or gzip, deflate or br)`);
    case 'request.aborted':
      return tagged('the request was aborted before its body arrived');
    case 'request.size.invalid':
      return tagged('the request body does not match its Content-Length');
  }
  if (typeof type === 'string' && type.startsWith('Z_')) {
    return tagged(`the request body could not be decoded as its Content-Encoding says (${detail})`);
  }
  return tagged(e.expose === true && detail ? detail : `the request was refused (HTTP ${status})`);
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
    const answer = answerFor(err);
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
        error: {name: String(e?.name), message: String(e?.message).split('\n')[0]},
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

type Handle = (
  this: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  callback?: (err?: unknown) => void,
) => void;

const INSTALLED = Symbol.for('genesys-recording-migrator.json-errors');

/**
 * Makes every Express app the Functions Framework creates in this process end
 * in `finalAnswer`. Returns false when Express is not shaped as expected
 * (then nothing changes; the e2e test fails).
 */
export function installJsonErrors(): boolean {
  const fromFramework = createRequire(require.resolve('@google-cloud/functions-framework'));
  const express = fromFramework('express') as {application?: Record<PropertyKey, unknown>};
  const app = express.application;
  if (!app || typeof app.handle !== 'function') return false;
  if (app[INSTALLED]) return true;
  const original = app.handle as Handle;
  const handle: Handle = function (this: unknown, req, res, callback) {
    return original.call(this, req, res, callback ?? finalAnswer(req, res));
  };
  app.handle = handle;
  app[INSTALLED] = true;
  return true;
}
