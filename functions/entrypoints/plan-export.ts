/**
 * HTTP function `planExport`, Cloud Scheduler's target: parse the request,
 * plan, answer 202 with a summary; 4xx for bad or premature requests (with a
 * JSON body naming the problem), 500 for anything unexpected (Scheduler retries).
 * Requests the Functions Framework refuses before this handler runs (malformed
 * JSON, an unsupported charset or encoding) are answered in JSON too (json-errors.ts).
 */
import * as functions from '@google-cloud/functions-framework';
import {container} from '../container';
import {InputError, PermanentError} from '../core/errors';
import {parsePlanRequest} from '../core/plan-request';
import {formatBytes} from '../core/units';
import {installJsonErrors} from './json-errors';
import {createLogger} from '../logger';
import {logConfigProblems} from './startup';

/** A plan request is a few fields; anything bigger is refused before it is looked at. */
export const MAX_PLAN_REQUEST_BYTES = 64 * 1024;

if (!installJsonErrors()) {
  // Express is not shaped as expected (a Functions Framework upgrade): say so once, loudly.
  createLogger({service: 'genesys-recording-migrator'}).error(
    'could not install JSON error answers: malformed requests may get HTML error pages',
    {event: 'json_errors_not_installed'},
  );
}

functions.http('planExport', async (req, res) => {
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
    const size = req.rawBody?.length ?? (Number(req.get('content-length')) || 0);
    if (size > MAX_PLAN_REQUEST_BYTES) {
      throw new InputError(
        `the request body is ${formatBytes(size)}; at most ${MAX_PLAN_REQUEST_BYTES / 1024} KiB`,
        413,
      );
    }
    const raw = req.body as unknown;
    const hasBody =
      raw !== undefined &&
      !(typeof raw === 'object' && raw !== null && Object.keys(raw).length === 0 && !contentType);
    if (hasBody && !/^application\/json\b/i.test(contentType)) {
      throw new InputError(
        `send JSON (Content-Type: application/json), not "${contentType || 'no content type'}"`,
        415,
      );
    }
    const request = parsePlanRequest(
      {
        method: req.method,
        body: raw === undefined || raw === '' ? {} : raw,
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
