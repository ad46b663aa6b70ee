/**
 * HTTP function `planExport`, Cloud Scheduler's target: parse the request,
 * plan, answer 202 with a summary; 4xx for bad or premature requests (with a
 * JSON body naming the problem), 500 for anything unexpected (Scheduler retries).
 * Requests the Functions Framework refuses before this handler runs (malformed
 * JSON, an unsupported charset or encoding) are answered in JSON too, and
 * bodies over MAX_PLAN_REQUEST_BYTES are refused before they are read
 * (json-errors.ts). Refusals quote the request only as short excerpts.
 */
import * as functions from '../adapters/functions-framework';
import {container} from '../container';
import {InputError, PermanentError} from '../core/errors';
import {excerpt, parsePlanRequest} from '../core/plan-request';
import {parseMigrationRequest} from '../core/migration';
import {parseRestoreRequest} from '../core/restores';
import {defaultDay} from '../core/time-window';
import {formatBytes} from '../core/human-format';
import {bodyTooLarge, configureRequestBody, installJsonErrors} from './json-errors';
import {createLogger} from '../logger';
import {logConfigProblems} from './startup';

/**
 * The one field of a background request (`{"migration":…}` or
 * `{"restore":…}`), which goes alone; undefined for a plan request.
 */
function aloneField(
  body: unknown,
  fields: readonly string[],
): {field: string; value: unknown} | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const field = fields.find(f => f in body);
  if (!field) return undefined;
  const others = Object.keys(body).filter(f => f !== field);
  if (others.length > 0)
    throw new InputError(
      `"${field}" goes alone; also got ${others.map(f => excerpt(f)).join(', ')}`,
    );
  return {field, value: (body as Record<string, unknown>)[field]};
}

/** The registered name (Terraform's `entry_point`). */
export const PLANNER_FUNCTION = 'planExport';

/** A plan request is a few fields (about 100 bytes); anything bigger is refused before it is read. */
export const MAX_PLAN_REQUEST_BYTES = 8 * 1024;

configureRequestBody(PLANNER_FUNCTION, {
  maxBytes: MAX_PLAN_REQUEST_BYTES,
  example: '{"day":"2023-02-01"}',
});

if (!installJsonErrors()) {
  // Express is not shaped as expected (a Functions Framework upgrade): say so once, loudly.
  createLogger({service: 'genesys-recording-migrator'}).error(
    'could not install JSON error answers: malformed requests may get HTML error pages',
    {event: 'json_errors_not_installed'},
  );
}

functions.http(PLANNER_FUNCTION, async (req, res) => {
  let c;
  try {
    c = container();
  } catch (err) {
    const message = logConfigProblems(err) ? err.message : 'configuration could not be read';
    res.status(500).json({error: message});
    return;
  }
  try {
    const contentType = req.get('content-type') ?? '';
    const limit = formatBytes(MAX_PLAN_REQUEST_BYTES);
    // json-errors.ts has refused these already when a parser read the body; not when none did.
    if (bodyTooLarge(req))
      throw new InputError(`the request body is too large: at most ${limit}`, 413);
    const size = req.rawBody?.length ?? (Number(req.get('content-length')) || 0);
    if (size > MAX_PLAN_REQUEST_BYTES) {
      throw new InputError(`the request body is ${formatBytes(size)}; at most ${limit}`, 413);
    }
    // No parser reads a body without a content type, so look at what the request declares.
    if (!contentType && (size > 0 || req.get('transfer-encoding') !== undefined)) {
      throw new InputError(
        'send JSON (Content-Type: application/json): the request has a body but no content type',
        415,
      );
    }
    const raw = req.body as unknown;
    const hasBody =
      raw !== undefined &&
      !(typeof raw === 'object' && raw !== null && Object.keys(raw).length === 0 && !contentType);
    if (hasBody && !/^application\/json\b/i.test(contentType)) {
      throw new InputError(
        `send JSON (Content-Type: application/json), not ${excerpt(contentType, 60)}`,
        415,
      );
    }
    const body = raw === undefined || raw === '' ? {} : raw;
    const background = aloneField(body, ['migration', 'restore']);
    if (background) {
      if (req.method !== 'POST') throw new InputError(`use POST, not ${req.method}`, 405);
      if (background.field === 'restore') {
        // grm restore DAY: the day's archived recordings queued for the restores.
        const {day} = parseRestoreRequest(background.value);
        res.status(200).json(await (await c.restores()).queueDay(day));
        return;
      }
      // A history migration's request (grm migrate, or the every-minute tick).
      const latest = defaultDay(Date.now(), c.config.timeZone, c.config.windowLagDays);
      const migration = parseMigrationRequest(background.value, latest);
      if (migration.action !== 'tick') {
        res.status(200).json(await (await c.migration()).handle(migration));
        return;
      }
      // The tick advances the restores too; one failing does not stop the other.
      const [restores, advanced] = await Promise.allSettled([
        c.restores().then(r => r.tick()),
        c.migration().then(m => m.handle(migration)),
      ]);
      if (restores.status === 'rejected') throw restores.reason;
      if (advanced.status === 'rejected') throw advanced.reason;
      res.status(200).json({...advanced.value, restores: restores.value});
      return;
    }
    const request = parsePlanRequest(
      {
        method: req.method,
        body,
        scheduleTime: req.get('x-cloudscheduler-scheduletime'),
      },
      Date.now(),
      {
        timeZone: c.config.timeZone,
        windowLagDays: c.config.windowLagDays,
        maxBackfillDays: c.config.maxBackfillDays,
      },
    );
    const summary = await (await c.planner()).plan(request);
    res.status(request.dryRun ? 200 : 202).json(summary);
  } catch (err) {
    if (err instanceof InputError) {
      c.logger.warn('planner request refused', {status: err.status, reason: err.message});
      res.status(err.status).json({error: err.message});
      return;
    }
    c.logger.error('planning failed', {error: err, permanent: err instanceof PermanentError});
    res
      .status(500)
      .json({error: err instanceof PermanentError ? err.message : 'planning failed; see the logs'});
  }
});
