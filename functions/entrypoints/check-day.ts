/**
 * CloudEvent function `checkDay`, fed the bucket's object-finalize events by
 * Eventarc. Everything but plans and batch reports (recordings, metadata, its
 * own markers and ledger) returns at once. A Cloud Storage event of another
 * type (deleted, archived, metadataUpdated: the trigger does not ask for them,
 * but a hand-made trigger or a replay might send one) is acknowledged with an
 * INFO line; a malformed event is logged as an error and acknowledged; a
 * thrown error means "redeliver" (e.g. an email not sent yet).
 */
import * as functions from '../adapters/functions-framework';
import type {CloudEvent} from '../adapters/functions-framework';
import {configuredContainer} from './startup';
import {InputError} from '../core/errors';
import {classifyObject} from '../core/object-names';
import {FINALIZED, parseStorageEvent} from '../core/storage-event';

functions.cloudEvent('checkDay', async (event: CloudEvent<unknown>) => {
  const c = configuredContainer();
  let object;
  try {
    object = parseStorageEvent(event);
  } catch (err) {
    if (err instanceof InputError) {
      c.logger.error('ignored a malformed storage event', {eventId: event.id, reason: err.message});
      return;
    }
    throw err;
  }
  if (object.type !== FINALIZED) {
    c.logger.info('ignored a storage event that is not an object finalization', {
      eventId: event.id,
      type: object.type,
      object: object.name,
    });
    return;
  }
  if (!classifyObject(c.config.env, object.name)) return; // the common case: nothing to do
  if (object.bucket !== c.config.bucket) {
    c.logger.warn('ignored an event of another bucket', {bucket: object.bucket});
    return;
  }
  let result;
  try {
    result = await (await c.checker()).handle(object.name);
  } catch (err) {
    // The framework prints a thrown error's stack as raw text: throw one structured line instead.
    throw c.logger.failure(err, 'check not done; Eventarc will redeliver the event', {
      object: object.name,
    });
  }
  c.logger.info('checked', {object: object.name, ...result});
});
