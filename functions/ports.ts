/**
 * What the use cases need from the outside world. Adapters implement these
 * over the SDKs; services see nothing else.
 */
import type {Readable} from 'node:stream';
import type {Window} from './core/time-window';

export interface DiscoveredConversation {
  conversationId: string;
  conversationStart: string;
}

export interface RecordingMeta {
  id: string;
  conversationId?: string;
  media?: string;
  mediaSubtype?: string;
  fileState?: string;
  archiveDate?: string;
  deleteDate?: string;
  sessionId?: string;
  region?: string;
  startTime?: string;
  endTime?: string;
}

export interface BatchResult {
  conversationId?: string;
  recordingId?: string;
  resultUrl?: string;
  contentType?: string;
  errorMsg?: string;
}

export interface BatchStatus {
  status?: string;
  expectedResultCount?: number;
  resultCount?: number;
  results: BatchResult[];
}

/** Genesys Cloud through one OAuth client (batch results are readable only by their submitter). */
export interface GenesysSession {
  readonly clientIndex: number;
  /** The analytics data-lake watermark, ms since the epoch. */
  dataAvailability(): Promise<number>;
  /** Conversations overlapping the window, page by page, from an analytics job. */
  discoverWithJob(window: Window): AsyncIterable<DiscoveredConversation[]>;
  /** The same from the synchronous query (start-day semantics). */
  discoverWithQuery(window: Window): AsyncIterable<DiscoveredConversation[]>;
  conversationDetails(ids: string[]): Promise<Array<Record<string, unknown>>>;
  /** Recording metadata, or undefined for an unknown conversation. */
  recordingMetadata(conversationId: string): Promise<RecordingMeta[] | undefined>;
  submitBatch(items: Array<{conversationId: string; recordingId?: string}>): Promise<string>;
  batchStatus(jobId: string): Promise<BatchStatus>;
  /**
   * In how many divisions this client holds `permission`
   * (`divisionspermitted/paged/me`, the route `grm doctor` asks too); rejects
   * when Genesys will not say (the route refused, or no answer).
   */
  divisionsPermitted(permission: string): Promise<number>;
  /**
   * The organisation's maximum interaction data retention
   * (`analytics/dataretention/settings`): its days, or none set (a 404, or
   * no days in the answer). Rejects when Genesys will not say.
   */
  analyticsRetention(): Promise<{retentionDays: number} | {none: true}>;
  /** One recording's state (recording metadata), or undefined when Genesys does not know it. */
  recordingState(conversationId: string, recordingId: string): Promise<RecordingState | undefined>;
  /**
   * Moves a recording's archive date (`PUT …/recordings/{id}`), keeping its
   * delete date: on an archived recording, a restore that lasts until then.
   * Answers the recording's state after the change.
   */
  setArchiveDate(
    conversationId: string,
    recordingId: string,
    archiveDate: string,
    deleteDate: string | undefined,
  ): Promise<RecordingState>;
}

/** What a restore needs to know of one recording. */
export interface RecordingState {
  fileState?: string;
  /** When it is archived, or was (a restore moves it later). */
  archiveDate?: string;
  deleteDate?: string;
  restoreExpirationTime?: string;
}

/**
 * What a session's calls are made for: `lane: 'migration'` paces them to the
 * migration's share of the budget; a meter counts the requests sent.
 */
export interface GenesysCallContext {
  lane?: 'migration';
  meter?: {requests: number};
}

export interface Genesys {
  readonly clientCount: number;
  session(index: number, context?: GenesysCallContext): Promise<GenesysSession>;
}

export interface MediaResponse {
  status: number;
  contentType?: string;
  contentLength?: number;
  body: Readable;
}

/** Plain GET of a pre-signed media URL (no credentials). */
export interface MediaFetcher {
  /** Rejects with a RetryableError when `signal` fires before the response headers arrive. */
  get(url: string, signal?: AbortSignal): Promise<MediaResponse>;
}

/** A per-object retention (GCS Object Retention Lock): no deletion or replacement before it ends. */
export interface ObjectRetention {
  /** `Unlocked`: an authorised user may shorten or remove it; `Locked`: it may only be extended. */
  mode: 'Unlocked' | 'Locked';
  /** RFC 3339. */
  retainUntilTime: string;
}

export interface StoredObject {
  name: string;
  size: number;
  md5Hash: string;
  crc32c: string;
  generation: string;
  contentType?: string;
  /** Custom metadata. */
  metadata?: Record<string, string>;
  /** The object's retention, when it has one. */
  retention?: ObjectRetention;
  /** When this generation stopped being live (noncurrent generations only, from a versions listing). */
  timeDeleted?: string;
}

/** How an object is written: its content type, custom metadata and generation precondition (0 = create only). */
export interface WriteOptions {
  contentType: string;
  metadata?: Record<string, string>;
  ifGenerationMatch: number | string;
  /**
   * Create the object with the mark of the check GCS made of its bytes
   * against the checksum sent with them (custom metadata {@link VERIFIED_KEY}),
   * so a later attempt may trust it without reading it again.
   */
  markVerified?: boolean;
  /** Set this retention on the new generation, in the same upload (the bucket must allow it). */
  retention?: ObjectRetention;
}

// The mark of a checked write is pure logic (core/verified-mark.ts); adapters take it from here.
export {VERIFIED_KEY, hasVerifiedMark, verifiedMark} from './core/verified-mark';

/** The largest JSON object the pipeline reads by default (plans, reports, ledgers, markers). */
export const MAX_JSON_BYTES = 32 * 1024 * 1024;

export class ObjectExistsError extends Error {
  override name = 'ObjectExistsError' as const;
}

export interface ObjectStore {
  stat(name: string): Promise<StoredObject | undefined>;
  /**
   * Streams `body` into `name`, only if it does not exist yet (or has the
   * given generation). Resolves with what GCS stored; rejects with
   * ObjectExistsError when the precondition fails.
   */
  write(name: string, body: Readable | Buffer, opts: WriteOptions): Promise<StoredObject>;
  /**
   * The object's JSON and its generation. Objects above `maxBytes` (default
   * MAX_JSON_BYTES) are refused with a PermanentError, never read whole.
   * With `generation`, that generation (live or noncurrent) or undefined.
   */
  readJson<T>(
    name: string,
    maxBytes?: number,
    generation?: string,
  ): Promise<{value: T; generation: string} | undefined>;
  /**
   * The object's bytes and generation, as readJson reads them (the same
   * bound, the same generation argument), for objects that are not one JSON
   * value.
   */
  readBytes(
    name: string,
    maxBytes: number,
    generation?: string,
  ): Promise<{bytes: Buffer; generation: string} | undefined>;
  /** Streams an object's bytes (for comparing content). */
  read(name: string): Readable;
  /**
   * Every object whose name starts with `prefix`, all pages. With `versions`,
   * noncurrent generations too (they carry `timeDeleted`).
   */
  list(prefix: string, opts?: {versions?: boolean}): Promise<StoredObject[]>;
  /**
   * The same objects as `list`, a page at a time (of up to `pageSize`, by
   * default 1,000), so that a caller holds one page, not a listing of a
   * million objects.
   */
  listPages?(prefix: string, pageSize?: number): AsyncIterable<StoredObject[]>;
  /**
   * Deletes `name` only if it still has `generation`. Resolves false when it
   * was already gone; rejects with ObjectExistsError when it changed.
   */
  delete(name: string, generation: string): Promise<boolean>;
}

/** One email, ready to send. */
export interface Mail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** Groups related emails in the provider's records (SendGrid custom_args). */
  tags?: Record<string, string>;
}

export interface Mailer {
  /** Sends `mail`, retrying transient provider failures; rejects when it could not. */
  send(mail: Mail): Promise<void>;
}

export interface Publisher {
  /** Publishes every value as a JSON message and waits until all are acknowledged. */
  publishJson(values: unknown[]): Promise<string[]>;
}

/** A message in the dead-letter subscription. */
export interface DeadLetter {
  ackId: string;
  messageId: string;
  publishTime?: string;
  /** Deliveries before Pub/Sub gave up (CloudPubSubDeadLetterSourceDeliveryCount). */
  deliveries?: number;
  data: string;
}

export interface DeadLetterQueue {
  /** Up to `max` messages, held for the ack deadline; they come back unless acknowledged. */
  pull(max: number): Promise<DeadLetter[]>;
  ack(ackIds: string[]): Promise<void>;
  /** Makes pulled messages available again at once. */
  release(ackIds: string[]): Promise<void>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
