/**
 * Exports one batch of conversations: recording metadata, media streamed from
 * Genesys batch downloads into GCS under deterministic names, a metadata JSON
 * per conversation, and a batch report that says, for every recording, whether
 * it was exported (bytes in GCS, checksums verified), skipped (permanently
 * gone at the source) or failed, and why.
 *
 * Idempotent: objects are written only if absent; an existing object with
 * the same bytes counts as exported, a differing one is reported, never
 * overwritten.
 */
import {createHash} from 'node:crypto';
import {Readable, Transform} from 'node:stream';
import {RecordingType, baseContentType, extensionFor, recordingType} from '../core/content-types';
import {filterChatTranscript} from '../core/chat';
import {PermanentError, RetryableError} from '../core/errors';
import type {BatchMessage} from '../core/messages';
import {metadataObjectName, recordingObjectName} from '../core/object-names';
import type {Logger} from '../logger';
import {mapLimit} from './objects';
import {readAll} from '../streams';
import {
  BatchResult,
  Clock,
  Genesys,
  GenesysSession,
  MediaFetcher,
  ObjectExistsError,
  ObjectStore,
  RecordingMeta,
  StoredObject,
} from '../ports';

export type Outcome = 'exported' | 'skipped' | 'failed';

export interface RecordingOutcome {
  recordingId: string;
  type?: RecordingType;
  media?: string;
  fileState?: string;
  outcome: Outcome;
  reason?: string;
  /** A later attempt of the same batch could fix it (download or upload error). */
  retryable?: boolean;
  object?: string;
  contentType?: string;
  size?: number;
  md5Hash?: string;
  crc32c?: string;
}

export interface ConversationOutcome {
  conversationId: string;
  conversationStart?: string;
  recordings: RecordingOutcome[];
  /** Why the conversation itself could not be read. */
  error?: string;
  metadataObject?: string;
}

export interface ExporterSettings {
  env: string;
  archivedPolicy: 'fail' | 'skip';
  batchPollDeadlineMs: number;
  downloadConcurrency: number;
}

export interface ExporterDeps {
  settings: ExporterSettings;
  genesys: Genesys;
  store: ObjectStore;
  media: MediaFetcher;
  clock: Clock;
  logger: Logger;
}

/** Items per batch download request (a Genesys limit). */
const MAX_BATCH_ITEMS = 100;
/** Rounds of re-submission for results whose URLs expired. */
const MAX_RESUBMIT_ROUNDS = 2;
/** Download attempts per result URL. */
const MAX_DOWNLOAD_ATTEMPTS = 3;
/** Largest chat transcript read into memory for filtering. */
const MAX_CHAT_BYTES = 64 * 1024 * 1024;
/** Concurrent recording-metadata requests. */
const METADATA_CONCURRENCY = 8;

/** The outcome a recording gets from its file state alone, or undefined if it should be downloaded. */
export function outcomeFromState(
  meta: RecordingMeta,
  archivedPolicy: 'fail' | 'skip',
): Pick<RecordingOutcome, 'outcome' | 'reason'> | undefined {
  switch (meta.fileState) {
    case 'AVAILABLE':
    case 'RESTORED':
      return undefined;
    case 'DELETED':
      return {outcome: 'skipped', reason: 'deleted at the source (fileState DELETED)'};
    case 'ARCHIVED':
      return archivedPolicy === 'skip'
        ? {outcome: 'skipped', reason: 'archived at the source; skipped by ARCHIVED_POLICY=skip'}
        : {
            outcome: 'failed',
            reason: 'archived at the source (fileState ARCHIVED): restore it, then replay',
          };
    case 'RESTORING':
      return {
        outcome: 'failed',
        reason: 'being restored from the archive (fileState RESTORING): replay later',
      };
    case 'UPLOADING':
      return {
        outcome: 'failed',
        reason: 'still uploading at the source (fileState UPLOADING): replay later',
      };
    case 'ERROR':
      return {outcome: 'failed', reason: 'in an error state at the source (fileState ERROR)'};
    default:
      return {outcome: 'failed', reason: `unexpected fileState ${String(meta.fileState)}`};
  }
}

/** Fails a stream that ends before the announced Content-Length. */
function lengthGuard(expected: number | undefined): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _e, done) {
      seen += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      if (expected !== undefined && seen !== expected) {
        done(new RetryableError(`media body was cut short: ${seen} of ${expected} bytes`));
      } else {
        done();
      }
    },
  });
}

async function md5Of(body: Readable): Promise<{md5: string; size: number}> {
  const hash = createHash('md5');
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return {md5: hash.digest('base64'), size};
}

class UrlExpired extends Error {}

export class Exporter {
  constructor(private readonly deps: ExporterDeps) {}

  /** Exports the batch and returns what happened to every conversation. */
  async export(
    message: BatchMessage,
    clientIndex: number,
  ): Promise<{conversations: ConversationOutcome[]; clientIndex: number}> {
    const {genesys} = this.deps;
    const session = await genesys.session(clientIndex);
    const details = new Map<string, Record<string, unknown>>();
    for (const d of await session.conversationDetails(message.conversationIds)) {
      details.set(String(d.conversationId), d);
    }
    const metas = await mapLimit(message.conversationIds, METADATA_CONCURRENCY, id =>
      session.recordingMetadata(id),
    );
    const conversations: ConversationOutcome[] = message.conversationIds.map(
      (conversationId, i) => {
        const detail = details.get(conversationId);
        const list = metas[i];
        const conv: ConversationOutcome = {
          conversationId,
          conversationStart:
            typeof detail?.conversationStart === 'string' ? detail.conversationStart : undefined,
          recordings: [],
        };
        if (list === undefined) {
          conv.error = 'conversation not found in Genesys Cloud';
          return conv;
        }
        for (const meta of list) {
          const type = recordingType(meta.media);
          const base: RecordingOutcome = {
            recordingId: meta.id,
            type,
            media: meta.media,
            fileState: meta.fileState,
            outcome: 'failed',
          };
          if (!type) {
            conv.recordings.push({
              ...base,
              reason: `unsupported media type "${String(meta.media)}"`,
            });
            continue;
          }
          const fromState = outcomeFromState(meta, this.deps.settings.archivedPolicy);
          conv.recordings.push(
            fromState ? {...base, ...fromState} : {...base, reason: 'pending download'},
          );
        }
        return conv;
      },
    );

    const pending = conversations.flatMap(c =>
      c.recordings.filter(r => r.reason === 'pending download').map(r => ({c, r})),
    );
    await this.download(session, message.day, pending);

    await mapLimit(conversations, METADATA_CONCURRENCY, c =>
      this.writeMetadata(
        message.day,
        c,
        details.get(c.conversationId),
        metas[message.conversationIds.indexOf(c.conversationId)],
      ),
    );
    return {conversations, clientIndex: session.clientIndex};
  }

  private async download(
    session: GenesysSession,
    day: string,
    pending: Array<{c: ConversationOutcome; r: RecordingOutcome}>,
  ): Promise<void> {
    let todo = pending;
    for (let round = 0; todo.length > 0 && round <= MAX_RESUBMIT_ROUNDS; round++) {
      const expired: typeof todo = [];
      for (let i = 0; i < todo.length; i += MAX_BATCH_ITEMS) {
        const chunk = todo.slice(i, i + MAX_BATCH_ITEMS);
        const results = await this.runBatchRequest(
          session,
          chunk.map(({c, r}) => ({conversationId: c.conversationId, recordingId: r.recordingId})),
        );
        await mapLimit(chunk, this.deps.settings.downloadConcurrency, async item => {
          const result = results.get(item.r.recordingId);
          if (!result) {
            Object.assign(item.r, {
              outcome: 'failed',
              retryable: true,
              reason: 'the batch download request returned no result for it in time',
            });
            return;
          }
          if (result.errorMsg || !result.resultUrl) {
            Object.assign(item.r, {
              outcome: 'failed',
              reason: `Genesys batch download error: ${result.errorMsg ?? 'no resultUrl'}`,
            });
            return;
          }
          try {
            await this.store(day, item.c, item.r, result);
          } catch (err) {
            if (err instanceof UrlExpired) expired.push(item);
            else {
              Object.assign(item.r, {
                outcome: 'failed',
                retryable: !(err instanceof PermanentError),
                reason: err instanceof Error ? err.message : String(err),
              });
            }
          }
        });
      }
      todo = expired;
    }
    for (const {r} of todo)
      Object.assign(r, {
        outcome: 'failed',
        retryable: true,
        reason: 'download URL kept expiring before it could be used',
      });
  }

  /** Submits one batch download request and polls it until complete or the deadline. */
  private async runBatchRequest(
    session: GenesysSession,
    items: Array<{conversationId: string; recordingId: string}>,
  ): Promise<Map<string, BatchResult>> {
    const {clock} = this.deps;
    const jobId = await session.submitBatch(items);
    const deadline = clock.now() + this.deps.settings.batchPollDeadlineMs;
    let delay = 200;
    let lastCount = -1;
    let results: BatchResult[] = [];
    for (;;) {
      const status = await session.batchStatus(jobId);
      results = status.results;
      const done =
        status.status === 'Completed' ||
        (status.status === undefined &&
          status.resultCount === status.expectedResultCount &&
          status.resultCount === lastCount);
      if (done) break;
      lastCount = status.resultCount ?? -1;
      if (clock.now() + delay > deadline) {
        this.deps.logger.warn('batch download request did not complete before the deadline', {
          jobId,
          results: results.length,
          expected: status.expectedResultCount,
        });
        break;
      }
      await clock.sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
    const byRecording = new Map<string, BatchResult>();
    for (const r of results) {
      if (!r.recordingId) continue;
      // One recording can have several results; a good one wins over an error.
      const prior = byRecording.get(r.recordingId);
      if (!prior || (!prior.resultUrl && r.resultUrl)) byRecording.set(r.recordingId, r);
    }
    return byRecording;
  }

  /** Downloads one result into GCS (or confirms an identical object is there). */
  private async store(
    day: string,
    c: ConversationOutcome,
    r: RecordingOutcome,
    result: BatchResult,
  ): Promise<void> {
    const {store, media, settings} = this.deps;
    const contentType = result.contentType ?? 'application/octet-stream';
    const ext = extensionFor(contentType) ?? 'bin';
    const name = recordingObjectName(
      settings.env,
      day,
      r.type!,
      c.conversationId,
      r.recordingId,
      ext,
    );
    const isChat = r.type === 'chat';
    const objectType = isChat ? 'application/json' : baseContentType(contentType);

    for (let attempt = 1; ; attempt++) {
      const res = await media.get(result.resultUrl!);
      // A dropped connection must become an ordinary error of this download, never an uncaught one.
      const guarded = lengthGuard(res.contentLength);
      res.body.on('error', err =>
        guarded.destroy(new RetryableError(`media download interrupted: ${err.message}`)),
      );
      res.body.pipe(guarded);
      if (res.status === 403) {
        res.body.resume();
        throw new UrlExpired();
      }
      if (res.status !== 200) {
        res.body.resume();
        if (
          attempt < MAX_DOWNLOAD_ATTEMPTS &&
          (res.status >= 500 || res.status === 429 || res.status === 408)
        )
          continue;
        throw new RetryableError(`media download answered HTTP ${res.status}`);
      }
      try {
        let body: Readable | Buffer;
        if (isChat) {
          const raw = await readAll(guarded, MAX_CHAT_BYTES, 'transcript');
          let json: unknown;
          try {
            json = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new PermanentError('chat recording is not valid JSON');
          }
          body = Buffer.from(JSON.stringify(filterChatTranscript(json).messages, null, 2));
        } else {
          body = guarded;
        }
        const existing = await store.stat(name);
        if (existing) {
          await this.compareExisting(existing, body, r);
        } else {
          try {
            const stored = await store.write(name, body, {
              contentType: objectType,
              metadata: {
                conversationId: c.conversationId,
                recordingId: r.recordingId,
                sourceContentType: contentType,
              },
              ifGenerationMatch: 0,
            });
            Object.assign(r, {
              outcome: 'exported',
              object: name,
              contentType: objectType,
              size: stored.size,
              md5Hash: stored.md5Hash,
              crc32c: stored.crc32c,
            });
          } catch (err) {
            if (!(err instanceof ObjectExistsError)) throw err;
            // Someone (a duplicate delivery) wrote it meanwhile: compare on the next attempt.
            if (attempt < MAX_DOWNLOAD_ATTEMPTS) continue;
            throw err;
          }
        }
        delete r.reason;
        return;
      } catch (err) {
        guarded.destroy();
        res.body.destroy();
        if (err instanceof RetryableError && attempt < MAX_DOWNLOAD_ATTEMPTS) {
          // `downloadAttempt`: the batch's own `attempt` comes with every line of the batch.
          this.deps.logger.warn('recording download will be retried', {
            conversationId: c.conversationId,
            recordingId: r.recordingId,
            downloadAttempt: attempt,
            reason: err.message,
            error: err,
          });
          continue;
        }
        throw err;
      }
    }
  }

  private async compareExisting(
    existing: StoredObject,
    body: Readable | Buffer,
    r: RecordingOutcome,
  ): Promise<void> {
    const {md5, size} = Buffer.isBuffer(body)
      ? {md5: createHash('md5').update(body).digest('base64'), size: body.length}
      : await md5Of(body);
    if (md5 !== existing.md5Hash) {
      throw new PermanentError(
        `gs object ${existing.name} already exists with different content; it was left untouched`,
      );
    }
    Object.assign(r, {
      outcome: 'exported',
      object: existing.name,
      contentType: existing.contentType,
      size,
      md5Hash: existing.md5Hash,
      crc32c: existing.crc32c,
    });
  }

  /** `metadata/{conversationId}.json`: analytics details, recording metadata and what was exported. */
  private async writeMetadata(
    day: string,
    c: ConversationOutcome,
    detail: Record<string, unknown> | undefined,
    metas: RecordingMeta[] | undefined,
  ): Promise<void> {
    if (c.error) return;
    const name = metadataObjectName(this.deps.settings.env, day, c.conversationId);
    const doc = {
      conversationId: c.conversationId,
      day,
      conversation: detail ?? null,
      recordings: (metas ?? []).map(m => ({
        metadata: m,
        export: c.recordings.find(r => r.recordingId === m.id) ?? null,
      })),
    };
    // Deterministic content: a rerun that changes nothing writes nothing.
    const bytes = Buffer.from(
      JSON.stringify(doc, (k, v) => (k === 'retryable' ? undefined : v), 2),
    );
    const md5 = createHash('md5').update(bytes).digest('base64');
    const existing = await this.deps.store.stat(name);
    if (existing?.md5Hash === md5) {
      c.metadataObject = name;
      return;
    }
    try {
      await this.deps.store.write(name, bytes, {
        contentType: 'application/json',
        ifGenerationMatch: existing ? existing.generation : 0,
      });
      if (existing)
        this.deps.logger.info('conversation metadata updated (export outcome changed)', {
          object: name,
        });
      c.metadataObject = name;
    } catch (err) {
      if (err instanceof ObjectExistsError)
        throw new RetryableError(`metadata ${name} changed while writing it`);
      throw err;
    }
  }
}
