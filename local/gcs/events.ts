/**
 * Posts Cloud Storage object events to subscribers the way Eventarc does:
 * binary-mode CloudEvents (`ce-*` headers, the object resource as JSON body),
 * retried with exponential backoff when the subscriber does not answer 2xx.
 * A subscription may ask for some event types only, as an Eventarc trigger
 * names its event type (the checker's asks for finalize events only) and a
 * Pub/Sub notification lists its `event_types`.
 */
import {randomUUID} from 'node:crypto';
import type {ChangeKind} from './store';

export interface Subscriber {
  url: string;
  /** Only events of this bucket; all buckets when absent. */
  bucket?: string;
  /** Only events of these types (see OBJECT_EVENT_TYPES); every type when absent. */
  eventTypes?: string[];
  /**
   * The trigger's identity: each delivery carries its OIDC ID token for the
   * subscriber's URL, as Eventarc's does (needs the notifier's `idToken`).
   */
  serviceAccountEmail?: string;
}

export interface DeliveryOptions {
  /** Attempts per event and subscriber, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt, in ms; doubled each time, capped at 30 s. */
  initialBackoffMs: number;
  /** Per-attempt timeout, in ms. */
  timeoutMs: number;
  /** Events in flight at once per subscriber. */
  concurrency: number;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  maxAttempts: 5,
  initialBackoffMs: 1000,
  timeoutMs: 60_000,
  concurrency: 16,
};

export interface DeliveryRecord {
  id: string;
  type: string;
  subject: string;
  url: string;
  attempts: number;
  status: 'pending' | 'delivered' | 'failed';
  lastError?: string;
}

const EVENT_TYPES: Record<ChangeKind, string> = {
  finalized: 'google.cloud.storage.object.v1.finalized',
  deleted: 'google.cloud.storage.object.v1.deleted',
  archived: 'google.cloud.storage.object.v1.archived',
  metadataUpdated: 'google.cloud.storage.object.v1.metadataUpdated',
};

/**
 * The object event types of Cloud Storage, sent as Cloud Storage sends them:
 * `finalized` for each new live generation; `archived` when a live version
 * becomes noncurrent (a versioned bucket's overwrite or delete); `deleted`
 * when a generation is removed for good (in a bucket without versioning also
 * when an object is overwritten; in a versioned one only when a version is
 * deleted by its generation); `metadataUpdated` for a live object's patch.
 */
export const OBJECT_EVENT_TYPES: readonly string[] = [
  EVENT_TYPES.finalized,
  EVENT_TYPES.deleted,
  EVENT_TYPES.archived,
  EVENT_TYPES.metadataUpdated,
];

/** The binary-mode CloudEvent headers Eventarc sends with an object resource. */
export function storageEventHeaders(
  id: string,
  type: string,
  resource: {bucket: string; name: string; updated: string},
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-type': type,
    'ce-source': `//storage.googleapis.com/projects/_/buckets/${resource.bucket}`,
    'ce-subject': `objects/${resource.name}`,
    'ce-time': resource.updated,
  };
}

/** How many finished deliveries are kept for inspection. */
const HISTORY = 1000;

export class EventNotifier {
  private readonly subscribers: Subscriber[] = [];
  private readonly history: DeliveryRecord[] = [];
  private readonly queues = new Map<string, Array<() => Promise<void>>>();
  private readonly running = new Map<string, number>();
  private counters = {delivered: 0, failed: 0, pending: 0};

  constructor(
    private readonly options: DeliveryOptions = DEFAULT_DELIVERY,
    private readonly log: (line: string) => void = () => {},
    /** Mints an ID token of `email` for `audience` (the local stack's identities). */
    private readonly idToken?: (email: string, audience: string) => string,
  ) {}

  subscribe(sub: Subscriber): void {
    const url = new URL(sub.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`subscriber URL must be http(s): ${sub.url}`);
    }
    if (sub.serviceAccountEmail !== undefined && !this.idToken)
      throw new Error('serviceAccountEmail needs an emulator started with --iam');
    if (sub.eventTypes !== undefined) {
      const unknown = sub.eventTypes.filter(t => !OBJECT_EVENT_TYPES.includes(t));
      if (sub.eventTypes.length === 0 || unknown.length > 0) {
        throw new Error(
          `eventTypes must name Cloud Storage object event types (${OBJECT_EVENT_TYPES.join(', ')}); got ${unknown.length > 0 ? unknown.join(', ') : 'none'}`,
        );
      }
    }
    const types = (s: Subscriber) => [...(s.eventTypes ?? [])].sort().join(',');
    if (
      !this.subscribers.some(
        s => s.url === sub.url && s.bucket === sub.bucket && types(s) === types(sub),
      )
    ) {
      this.subscribers.push({...sub, ...(sub.eventTypes ? {eventTypes: [...sub.eventTypes]} : {})});
    }
  }

  listSubscribers(): Subscriber[] {
    return [...this.subscribers];
  }

  /** Queues one event per matching subscriber. */
  publish(kind: ChangeKind, resource: {bucket: string; name: string; updated: string}): void {
    const type = EVENT_TYPES[kind];
    for (const sub of this.subscribers) {
      if (sub.bucket !== undefined && sub.bucket !== resource.bucket) continue;
      if (sub.eventTypes !== undefined && !sub.eventTypes.includes(type)) continue;
      const record: DeliveryRecord = {
        id: randomUUID(),
        type,
        subject: `objects/${resource.name}`,
        url: sub.url,
        attempts: 0,
        status: 'pending',
      };
      this.counters.pending++;
      this.enqueue(sub.url, () => this.deliver(record, resource, sub.serviceAccountEmail));
    }
  }

  stats(): {delivered: number; failed: number; pending: number; recent: DeliveryRecord[]} {
    return {...this.counters, recent: this.history.slice(-100)};
  }

  private enqueue(url: string, task: () => Promise<void>): void {
    const queue = this.queues.get(url) ?? [];
    this.queues.set(url, queue);
    queue.push(task);
    this.pump(url);
  }

  private pump(url: string): void {
    const queue = this.queues.get(url)!;
    while ((this.running.get(url) ?? 0) < this.options.concurrency && queue.length > 0) {
      const task = queue.shift()!;
      this.running.set(url, (this.running.get(url) ?? 0) + 1);
      void task().finally(() => {
        this.running.set(url, this.running.get(url)! - 1);
        this.pump(url);
      });
    }
  }

  private async deliver(
    record: DeliveryRecord,
    resource: {bucket: string; name: string; updated: string},
    identity?: string,
  ): Promise<void> {
    const body = JSON.stringify(resource);
    let backoff = this.options.initialBackoffMs;
    while (record.attempts < this.options.maxAttempts) {
      record.attempts++;
      try {
        const res = await fetch(record.url, {
          method: 'POST',
          headers: {
            ...storageEventHeaders(record.id, record.type, resource),
            ...(identity && this.idToken
              ? {authorization: `Bearer ${this.idToken(identity, new URL(record.url).origin)}`}
              : {}),
          },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        await res.arrayBuffer();
        if (res.ok) {
          this.finish(record, 'delivered');
          return;
        }
        record.lastError = `HTTP ${res.status}`;
      } catch (err) {
        record.lastError = err instanceof Error ? err.message : String(err);
      }
      if (record.attempts < this.options.maxAttempts) {
        await new Promise(r => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
    this.log(
      `event ${record.type} ${record.subject} to ${record.url} failed after ${record.attempts} attempts: ${record.lastError}`,
    );
    this.finish(record, 'failed');
  }

  private finish(record: DeliveryRecord, status: 'delivered' | 'failed'): void {
    record.status = status;
    this.counters.pending--;
    this.counters[status]++;
    this.history.push(record);
    if (this.history.length > HISTORY) this.history.shift();
  }
}
