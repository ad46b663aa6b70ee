/**
 * The exact commands an operator runs to replay a batch: `gcloud pubsub
 * topics publish` of the batch's own message. Against the local stack the
 * same command carries the endpoint override that points gcloud at the
 * Pub/Sub emulator, read from `$PUBSUB_EMULATOR_HOST` when the command runs
 * (the shell expands it): the emulator's port changes every time the stack
 * starts, so a port written into `_FAILURE` would go stale.
 */
import type {BatchMessage} from './messages';

export interface ReplayTarget {
  project: string;
  topic: string;
  /**
   * `host:port` of the Pub/Sub emulator when running locally. Only whether it
   * is set matters: the command takes the address from `$PUBSUB_EMULATOR_HOST`
   * of the shell that runs it, never this value.
   */
  emulatorHost?: string;
}

/** Quotes `value` for a POSIX shell. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * What points gcloud at the local stack's Pub/Sub emulator, expanded by the
 * shell that runs the command; without `PUBSUB_EMULATOR_HOST` (the `export`
 * lines `npm run stack` prints) the command stops with a message saying so.
 */
export const LOCAL_GCLOUD_ENV =
  'CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB="http://${PUBSUB_EMULATOR_HOST:?set it from npm run stack}/" ' +
  'CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true';

export function replayCommand(target: ReplayTarget, message: BatchMessage): string {
  const body = JSON.stringify({
    day: message.day,
    conversationIds: message.conversationIds,
    ...(message.runId ? {runId: message.runId} : {}),
    ...(message.batchId ? {batchId: message.batchId} : {}),
    ...(message.client !== undefined ? {client: message.client} : {}),
  });
  const local = target.emulatorHost ? `${LOCAL_GCLOUD_ENV} ` : '';
  return (
    `${local}gcloud pubsub topics publish ${shellQuote(target.topic)} ` +
    `--project=${shellQuote(target.project)} --message=${shellQuote(body)}`
  );
}
