/**
 * A batch message that could not be parsed is kept, not lost: written once
 * per delivery under `ENV/_rejected/`, with the reason and the payload as
 * received, so an operator can see it and publish it again once fixed.
 */
import {rejectedMessageObjectName} from '../core/object-names';
import type {Logger} from '../logger';
import {Clock, ObjectExistsError, ObjectStore} from '../ports';

export interface RejectedMessageDeps {
  env: string;
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
}

/** Records a message that could not be parsed, so it is visible; the caller then acknowledges it. */
export async function recordRejectedMessage(
  deps: RejectedMessageDeps,
  messageId: string,
  reason: string,
  raw: unknown,
): Promise<void> {
  // The payload as received, compact; a value nested too deeply to serialise is left out
  // (JSON.stringify would overflow the stack, and the delivery would never be acknowledged).
  let payload: string | undefined;
  try {
    payload = JSON.stringify(raw) ?? 'null';
  } catch {
    payload = undefined;
  }
  // Its own name per delivery: the id and the payload are hashed into it (a redelivery, the same).
  const name = rejectedMessageObjectName(deps.env, messageId, payload ?? '');
  const recorded = payload !== undefined && payload.length <= 1_000_000;
  const head = JSON.stringify(
    {
      kind: 'rejected-message',
      messageId,
      reason,
      receivedAt: new Date(deps.clock.now()).toISOString(),
      ...(payload === undefined
        ? {rawOmitted: 'too deeply nested to record'}
        : recorded
          ? {}
          : {rawOmitted: `${payload.length} characters`, rawExcerpt: payload.slice(0, 1000)}),
    },
    null,
    2,
  );
  // The payload is spliced in as it is: serialising it again, indented, could be quadratic.
  const text = recorded ? `${head.slice(0, -2)},\n  "raw": ${payload}\n}` : head;
  try {
    await deps.store.write(name, Buffer.from(text), {
      contentType: 'application/json',
      ifGenerationMatch: 0,
    });
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
  }
  deps.logger.error('rejected a malformed batch message', {messageId, reason, object: name});
}
