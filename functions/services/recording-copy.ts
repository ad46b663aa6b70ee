/**
 * Copies one recording into GCS from its batch download result: the media
 * body streamed (a chat transcript read and filtered first) into an object
 * under the recording's deterministic name, written only if absent, with the
 * size it expects and the mark of GCS's check of the upload. An object
 * already there is compared with what the source serves and never
 * overwritten: the same bytes count as exported, others fail permanently.
 *
 * Bounded in time: a media body that sends nothing for `mediaIdleTimeoutMs`
 * is abandoned, and the batch's deadline signal stops the copy. A body cut
 * short, a stall, a 5xx, 408 or 429 is retried a few times; an expired URL
 * (HTTP 403) is handed back to the batch download stage to ask for anew.
 */
import {Readable, Transform} from 'node:stream';
import {FALLBACK_EXTENSION, baseContentType, extensionFor} from '../core/content-types';
import {filterChatTranscript} from '../core/chat-transcript';
import {PermanentError, RetryableError} from '../core/errors';
import {recordingObjectName} from '../core/object-names';
import {DEADLINE_REASON, markExported} from '../core/recording-outcomes';
import type {ExportConversation, ExportRecording} from '../core/report';
import {retentionOption} from '../core/retention';
import {EXPECTED_SIZE_KEY, differentContent} from '../core/stored-proof';
import type {Logger} from '../logger';
import {readAll} from '../streams';
import {digestStream} from '../checksums';
import {
  BatchResult,
  Clock,
  MediaFetcher,
  ObjectExistsError,
  ObjectStore,
  StoredObject,
} from '../ports';
import type {ExporterSettings} from './exporter';

/** Download attempts per result URL. */
const MAX_DOWNLOAD_ATTEMPTS = 3;
/** Largest chat transcript read into memory for filtering. */
const MAX_CHAT_BYTES = 64 * 1024 * 1024;

/** The result's URL expired before it was used: its recording must be asked for again. */
export class UrlExpired extends Error {}

/**
 * Passes a media body through, failing it when it ends before the announced
 * Content-Length or sends nothing for `idleMs` (a stalled connection).
 * Exported for bench/copy.ts, which measures the recording write path.
 */
export function bodyGuard(expected: number | undefined, idleMs: number): Transform {
  let seen = 0;
  let timer: NodeJS.Timeout | undefined;
  const guard: Transform = new Transform({
    transform(chunk: Buffer, _e, done) {
      seen += chunk.length;
      arm();
      done(null, chunk);
    },
    flush(done) {
      clearTimeout(timer);
      if (expected !== undefined && seen !== expected) {
        done(new RetryableError(`media body was cut short: ${seen} of ${expected} bytes`));
      } else {
        done();
      }
    },
    destroy(err, done) {
      clearTimeout(timer);
      done(err);
    },
  });
  function arm(): void {
    clearTimeout(timer);
    timer = setTimeout(
      () =>
        guard.destroy(
          new RetryableError(
            `media body stalled: no data for ${idleMs / 1000} s after ${seen} bytes`,
          ),
        ),
      idleMs,
    );
  }
  arm();
  return guard;
}

export interface RecordingCopyDeps {
  settings: Pick<ExporterSettings, 'env' | 'mediaIdleTimeoutMs' | 'retention'>;
  store: ObjectStore;
  media: MediaFetcher;
  clock: Clock;
  logger: Logger;
}

export class RecordingCopy {
  constructor(private readonly deps: RecordingCopyDeps) {}

  /**
   * Downloads one result into GCS (or confirms an identical object is there)
   * and records on `r` the object that holds it. Throws UrlExpired, or why the
   * copy failed (a RetryableError a later attempt may fix).
   */
  async copy(
    day: string,
    c: ExportConversation,
    r: ExportRecording,
    result: BatchResult,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const {store, media, settings} = this.deps;
    const contentType = result.contentType ?? 'application/octet-stream';
    const ext = extensionFor(contentType) ?? FALLBACK_EXTENSION;
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
      if (signal?.aborted) throw new RetryableError(DEADLINE_REASON);
      const res = await media.get(result.resultUrl!, signal);
      // A dropped connection must become an ordinary error of this download, never an uncaught one.
      res.body.on('error', () => undefined);
      if (res.status !== 200) {
        res.body.destroy(); // nothing of an error answer is read
        if (res.status === 403) throw new UrlExpired();
        if (
          attempt < MAX_DOWNLOAD_ATTEMPTS &&
          (res.status >= 500 || res.status === 429 || res.status === 408)
        )
          continue;
        throw new RetryableError(`media download answered HTTP ${res.status}`);
      }
      const guarded = bodyGuard(res.contentLength, settings.mediaIdleTimeoutMs);
      res.body.on('error', err =>
        guarded.destroy(new RetryableError(`media download interrupted: ${err.message}`)),
      );
      // Whoever reads `guarded` gets its errors; this keeps one nobody reads from being uncaught.
      guarded.on('error', () => undefined);
      const onAbort = () => guarded.destroy(new RetryableError(DEADLINE_REASON));
      signal?.addEventListener('abort', onAbort, {once: true});
      guarded.on('close', () => signal?.removeEventListener('abort', onAbort));
      res.body.pipe(guarded);
      try {
        let body: Readable | Buffer;
        let expectedSize = res.contentLength;
        if (isChat) {
          const raw = await readAll(guarded, MAX_CHAT_BYTES, 'transcript');
          let json: unknown;
          try {
            json = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new PermanentError('chat recording is not valid JSON');
          }
          body = Buffer.from(JSON.stringify(filterChatTranscript(json).messages, null, 2));
          expectedSize = body.length;
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
                ...(expectedSize !== undefined ? {[EXPECTED_SIZE_KEY]: String(expectedSize)} : {}),
              },
              ifGenerationMatch: 0,
              markVerified: true,
              ...retentionOption(settings.retention, this.deps.clock.now()),
            });
            markExported(r, {...stored, contentType: objectType});
          } catch (err) {
            if (!(err instanceof ObjectExistsError)) throw err;
            guarded.destroy();
            res.body.destroy();
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
        if (err instanceof RetryableError && attempt < MAX_DOWNLOAD_ATTEMPTS && !signal?.aborted) {
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

  /** An object already under the recording's name: exported if it holds what the source serves. */
  private async compareExisting(
    existing: StoredObject,
    body: Readable | Buffer,
    r: ExportRecording,
  ): Promise<void> {
    const {md5Hash, size} = await digestStream(
      Buffer.isBuffer(body) ? Readable.from([body]) : body,
    );
    if (md5Hash !== existing.md5Hash || size !== existing.size) {
      throw differentContent(
        existing.name,
        `${existing.size} bytes stored, ${size} bytes served by Genesys Cloud`,
      );
    }
    markExported(r, existing);
  }
}
