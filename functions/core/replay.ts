/**
 * The exact commands an operator runs to replay a batch: `gcloud pubsub
 * topics publish` of the batch's own message. Against the local stack the
 * same command carries the endpoint override that points gcloud at the
 * Pub/Sub emulator.
 */
import type {BatchMessage} from './messages';

export interface ReplayTarget {
  project: string;
  topic: string;
  /** `host:port` of the Pub/Sub emulator when running locally. */
  emulatorHost?: string;
}

/** Quotes `value` for a POSIX shell. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

export function replayCommand(target: ReplayTarget, message: BatchMessage): string {
  const body = JSON.stringify({
    day: message.day,
    conversationIds: message.conversationIds,
    ...(message.runId ? {runId: message.runId} : {}),
    ...(message.batchId ? {batchId: message.batchId} : {}),
  });
  const local = target.emulatorHost
    ? `CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB=${shellQuote(`http://${target.emulatorHost}/`)} ` +
      'CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true '
    : '';
  return (
    `${local}gcloud pubsub topics publish ${shellQuote(target.topic)} ` +
    `--project=${shellQuote(target.project)} --message=${shellQuote(body)}`
  );
}
