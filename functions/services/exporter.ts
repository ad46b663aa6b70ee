/**
 * Exports one batch of conversations: recording metadata, media streamed from
 * Genesys batch downloads into GCS under deterministic names, a metadata JSON
 * per conversation, and a batch report that says, for every recording, whether
 * it was exported (bytes in GCS, checksums verified), skipped (permanently
 * gone at the source) or failed, and why.
 *
 * Idempotent: objects are written only if absent. An object an earlier
 * delivery stored, with the size it expected (GCS finalizes an upload whole
 * or not at all) and the mark of the check GCS made of its upload, counts
 * as exported without a second download, whatever the recording's file state
 * now (deleted or archived at the source since: the archive holds it); an
 * object without that proof is downloaded again and compared (or, when the
 * source no longer serves the recording, named in its reason); a differing or
 * incomplete one is reported with what to do, never overwritten and never
 * taken as the record.
 *
 * Bounded in time: a media body that sends nothing for `mediaIdleTimeoutMs`
 * is abandoned, and when the batch's deadline signal fires every recording
 * not yet stored fails with a retryable reason, so the batch always reports.
 */
import {createHash} from 'node:crypto';
import {Readable, Transform} from 'node:stream';
import {
  BatchItem,
  BatchResults,
  RequestAnswer,
  batchItems,
  batchRequests,
  gatherResults,
  resultVerdict,
} from '../core/batch-results';
import {baseContentType, extensionFor} from '../core/content-types';
import {filterChatTranscript} from '../core/chat';
import {conversationAttributes} from '../core/conversation-attributes';
import {PermanentError, RetryableError} from '../core/errors';
import {leanListing} from '../core/lean';
import type {BatchMetadataMode} from '../core/lean-notes';
import {type BatchMessage, refuseOtherDays} from '../core/messages';
import {metadataDocument} from '../core/metadata-document';
import {
  metadataObjectName,
  recordingObjectName,
  recordingObjectPrefix,
  recordingObjectStem,
} from '../core/object-names';
import {firstPollDelay, learnMsPerItem, nextPollDelay} from '../core/polling';
import {
  DEADLINE_REASON,
  OUT_OF_TIME,
  PENDING_DOWNLOAD,
  failedWith,
  markExported,
  recordingsFromMetadata,
} from '../core/recording-outcomes';
import {type ExportConversation, type ExportRecording, storedCopy} from '../core/report';
import {RetentionSettings, retentionOption} from '../core/retention';
import {EXPECTED_SIZE_KEY, differentContent, provenState, storedNote} from '../core/stored-proof';
import type {Logger} from '../logger';
import {mapLimit} from './objects';
import {readAll} from '../streams';
import {digestStream} from '../checksums';
import {
  BatchResult,
  BatchStatus,
  Clock,
  Genesys,
  GenesysSession,
  MediaFetcher,
  ObjectExistsError,
  ObjectStore,
  RecordingMeta,
  StoredObject,
} from '../ports';
import {LeanGate} from './lean-gate';

export interface ExporterSettings {
  env: string;
  archivedPolicy: 'fail' | 'skip';
  batchPollDeadlineMs: number;
  downloadConcurrency: number;
  /** Time zone of the day windows: a batch's conversations must start inside its day. */
  timeZone: string;
  /** A media body that sends nothing for this long is abandoned (ms). */
  mediaIdleTimeoutMs: number;
  /** `full`: recording metadata per conversation; `lean`: batch results and analytics only. */
  metadataMode: 'full' | 'lean';
  /** Object retention set on every recording and metadata object created; none when absent. */
  retention?: RetentionSettings;
}

/** What a batch's export did: every conversation's outcome, the client and the mode it ran in. */
export interface ExportResult extends BatchMetadataMode {
  conversations: ExportConversation[];
  clientIndex: number;
  metadataMode: 'full' | 'lean';
}

export interface ExportOptions {
  /** Fires when the batch must stop exporting to report before its function times out. */
  signal?: AbortSignal;
}

export interface ExporterDeps {
  settings: ExporterSettings;
  genesys: Genesys;
  store: ObjectStore;
  media: MediaFetcher;
  clock: Clock;
  logger: Logger;
}

/** Rounds of re-submission for results whose URLs expired. */
const MAX_RESUBMIT_ROUNDS = 2;
/** Download attempts per result URL. */
const MAX_DOWNLOAD_ATTEMPTS = 3;
/** Largest chat transcript read into memory for filtering. */
const MAX_CHAT_BYTES = 64 * 1024 * 1024;
/** Concurrent recording-metadata requests. */
const METADATA_CONCURRENCY = 8;

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

class UrlExpired extends Error {}

export class Exporter {
  /** Lean mode only on clients proven to see sensitive recordings: one check per client. */
  private readonly leanGate: LeanGate;

  constructor(private readonly deps: ExporterDeps) {
    this.leanGate = new LeanGate({clock: deps.clock, logger: deps.logger});
  }

  /** What completed batch download requests took, per item (ms): when to poll the next. */
  private msPerItem: number | undefined;

  /** Exports the batch and returns what happened to every conversation. */
  async export(
    message: BatchMessage,
    clientIndex: number,
    opts: ExportOptions = {},
  ): Promise<ExportResult> {
    const {genesys, settings} = this.deps;
    const session = await genesys.session(clientIndex);
    // Lean mode is blind to what the client may not see: a client not proven runs in full mode.
    const leanRefused =
      settings.metadataMode === 'lean' ? await this.leanGate.refusal(session) : undefined;
    const metadataMode = leanRefused === undefined ? settings.metadataMode : 'full';
    if (leanRefused !== undefined)
      this.deps.logger.warn('METADATA=lean refused for this batch: it runs in full mode', {
        clientIndex: session.clientIndex,
        reason: leanRefused,
      });
    const details = new Map<string, Record<string, unknown>>();
    for (const d of await session.conversationDetails(message.conversationIds)) {
      details.set(String(d.conversationId), d);
    }
    refuseOtherDays(message, details, settings.timeZone);
    const ids = message.conversationIds;
    const metas = new Map<string, RecordingMeta[] | undefined>();
    const conversations = new Map<string, ExportConversation>();
    let prefetched: BatchResults | undefined;
    let metadataFor = ids;
    if (metadataMode === 'lean') {
      // One request by conversation id alone: its results enumerate the recordings.
      prefetched = await this.requestResults(
        session,
        ids.map(conversationId => ({conversationId})),
        opts.signal,
      );
      const lean = leanListing(ids, prefetched, details);
      for (const [id, conv] of lean.listed) conversations.set(id, conv);
      metadataFor = lean.metadataFor;
      if (metadataFor.length > 0)
        this.deps.logger.info('lean metadata: some conversations need their recording metadata', {
          conversations: metadataFor.length,
          reasons: Object.fromEntries(lean.why),
        });
    }
    const fetched = await mapLimit(metadataFor, METADATA_CONCURRENCY, id => {
      // Without its metadata a conversation's recordings are unknown: nothing can be reported.
      if (opts.signal?.aborted) throw new RetryableError(DEADLINE_REASON);
      return session.recordingMetadata(id);
    });
    metadataFor.forEach((id, i) => metas.set(id, fetched[i]));
    for (const id of metadataFor)
      conversations.set(id, recordingsFromMetadata(id, metas.get(id), settings.archivedPolicy));
    const ordered = ids.map(id => {
      const conv = conversations.get(id)!;
      const start = details.get(id)?.conversationStart;
      const attributes = conversationAttributes(details.get(id));
      return {
        ...conv,
        conversationStart: typeof start === 'string' ? start : undefined,
        ...(attributes ? {attributes} : {}),
      };
    });

    // Every recording of a supported type, whatever its file state: what the archive already
    // holds is the record, even of a recording deleted or archived at the source since.
    const typed = ordered.flatMap(c => c.recordings.filter(r => r.type).map(r => ({c, r})));
    const toDownload = await this.findStored(message.day, typed);
    await this.download(session, message.day, toDownload, metas, opts.signal, prefetched);

    await mapLimit(ordered, METADATA_CONCURRENCY, c =>
      this.writeMetadata(
        message.day,
        c,
        details.get(c.conversationId),
        metas.has(c.conversationId) ? metas.get(c.conversationId) : 'lean',
      ),
    );
    return {
      conversations: ordered,
      clientIndex: session.clientIndex,
      metadataMode,
      ...(leanRefused !== undefined ? {leanRefused} : {}),
    };
  }

  /**
   * Settles the recordings an earlier delivery or run already stored (one
   * listing per conversation and type) and returns the pending ones left to
   * download. An object written by the exporter with the size it expected and
   * the mark of its write's passed check is complete (GCS never makes an
   * unfinished upload visible): exported, no second download, whatever the
   * recording's file state now (deleted or archived at the source since, the
   * archive still holds it). For a pending recording, one that holds another
   * size is incomplete: failed, with its action; one without that proof is
   * downloaded and compared. A recording the source no longer serves keeps the
   * outcome of its file state, and its reason says what is stored under its name.
   */
  private async findStored(
    day: string,
    recordings: Array<{c: ExportConversation; r: ExportRecording}>,
  ): Promise<Array<{c: ExportConversation; r: ExportRecording}>> {
    const {store, settings} = this.deps;
    const groups = new Map<string, typeof recordings>();
    for (const item of recordings) {
      const prefix = recordingObjectPrefix(settings.env, day, item.r.type!, item.c.conversationId);
      groups.set(prefix, [...(groups.get(prefix) ?? []), item]);
    }
    const left: typeof recordings = [];
    const heldOnly: Array<Record<string, string | undefined>> = [];
    await mapLimit([...groups], METADATA_CONCURRENCY, async ([prefix, items]) => {
      const objects = await store.list(prefix);
      for (const item of items) {
        const stem = recordingObjectStem(
          settings.env,
          day,
          item.r.type!,
          item.c.conversationId,
          item.r.recordingId,
        );
        const mine = objects.filter(o => o.name.startsWith(stem));
        const state =
          mine.length === 1
            ? provenState(mine[0]!, item.c.conversationId, item.r.recordingId)
            : undefined;
        const pending = item.r.reason === PENDING_DOWNLOAD;
        if (state === 'complete') {
          if (!pending)
            heldOnly.push({
              conversationId: item.c.conversationId,
              recordingId: item.r.recordingId,
              fileState: item.r.fileState,
            });
          markExported(item.r, mine[0]!);
        } else if (!pending) {
          // Not downloadable now: its file state's outcome stands, with what the bucket holds.
          if (mine.length > 0) item.r.reason = `${item.r.reason}; ${storedNote(mine, state)}`;
        } else if (state === 'incomplete') {
          const o = mine[0]!;
          Object.assign(item.r, {
            outcome: 'failed',
            reason: differentContent(
              o.name,
              `${o.size} of the ${o.metadata?.[EXPECTED_SIZE_KEY]} bytes it should hold`,
            ).message,
          });
        } else {
          left.push(item);
        }
      }
    });
    if (heldOnly.length > 0)
      this.deps.logger.info(
        'recordings the source no longer serves count as exported: the archive holds them',
        {recordings: heldOnly.length, first: heldOnly.slice(0, 5)},
      );
    return left;
  }

  /**
   * Downloads every pending recording: one round of batch download requests
   * (all submitted at once; a conversation whose every recording is pending
   * is asked for by its id alone, so a batch of 100 conversations is one
   * request however many recordings it holds), then further rounds, by
   * recording, only for results whose URLs expired.
   */
  private async download(
    session: GenesysSession,
    day: string,
    pending: Array<{c: ExportConversation; r: ExportRecording}>,
    metas: Map<string, RecordingMeta[] | undefined>,
    signal: AbortSignal | undefined,
    prefetched: BatchResults | undefined,
  ): Promise<void> {
    const outOfTime = (items: typeof pending) => {
      for (const {r} of items) Object.assign(r, OUT_OF_TIME);
    };
    let todo = pending;
    for (let round = 0; todo.length > 0 && round <= MAX_RESUBMIT_ROUNDS; round++) {
      if (signal?.aborted) {
        outOfTime(todo);
        return;
      }
      // Lean mode's first round already has every result of its conversations.
      const results =
        round === 0 && prefetched
          ? prefetched
          : await this.requestResults(
              session,
              batchItems(todo, round === 0 ? metas : undefined),
              signal,
            );
      const expired: typeof todo = [];
      await mapLimit(todo, this.deps.settings.downloadConcurrency, async item => {
        if (signal?.aborted) {
          outOfTime([item]);
          return;
        }
        const verdict = resultVerdict(results, item.c.conversationId, item.r.recordingId);
        if (verdict.failed) {
          Object.assign(item.r, verdict.failed);
          return;
        }
        try {
          await this.store(day, item.c, item.r, verdict.download, signal);
        } catch (err) {
          if (err instanceof UrlExpired) expired.push(item);
          else if (signal?.aborted && !(err instanceof PermanentError)) outOfTime([item]);
          else Object.assign(item.r, failedWith(err));
        }
      });
      todo = expired;
    }
    for (const {r} of todo)
      Object.assign(r, {
        outcome: 'failed',
        retryable: true,
        reason: 'download URL kept expiring before it could be used',
      });
  }

  /** Submits the items in requests of at most 100, all at once, and polls them to completion. */
  private async requestResults(
    session: GenesysSession,
    items: BatchItem[],
    signal: AbortSignal | undefined,
  ): Promise<BatchResults> {
    const chunks = batchRequests(items);
    const answers = await Promise.allSettled(
      chunks.map(c => this.runBatchRequest(session, c, signal)),
    );
    return gatherResults(chunks, answers);
  }

  /** Submits one batch download request and polls it until complete or the deadline. */
  private async runBatchRequest(
    session: GenesysSession,
    items: BatchItem[],
    signal: AbortSignal | undefined,
  ): Promise<RequestAnswer> {
    const {clock} = this.deps;
    const jobId = await session.submitBatch(items);
    const submitted = clock.now();
    const deadline = submitted + this.deps.settings.batchPollDeadlineMs;
    let delay = firstPollDelay(items.length, this.msPerItem);
    let lastCount = -1;
    /** When a poll last found it unfinished (ms after submitting): it completed after that. */
    let unfinishedAt = 0;
    let last: BatchStatus | undefined;
    for (;;) {
      if (clock.now() + delay > deadline) {
        this.deps.logger.warn('batch download request did not complete before the deadline', {
          jobId,
          ...(last ? {results: last.results.length, expected: last.expectedResultCount} : {}),
        });
        return {results: last?.results ?? [], completed: false};
      }
      await clock.sleep(delay);
      const status = (last = await session.batchStatus(jobId));
      const done =
        status.status === 'Completed' ||
        // Without a status: the same complete count on two polls (the expected count can grow).
        (status.status === undefined &&
          status.resultCount === status.expectedResultCount &&
          status.resultCount === lastCount);
      if (done) {
        // It completed between the last poll that found it unfinished and this one.
        const tookMs = (unfinishedAt + (clock.now() - submitted)) / 2;
        this.msPerItem = learnMsPerItem(this.msPerItem, items.length, tookMs);
        return {results: status.results, completed: true};
      }
      if (signal?.aborted) return {results: status.results, completed: false};
      lastCount = status.resultCount ?? -1;
      unfinishedAt = clock.now() - submitted;
      delay = nextPollDelay(unfinishedAt, status.expectedResultCount, status.resultCount, delay);
    }
  }

  /** Downloads one result into GCS (or confirms an identical object is there). */
  private async store(
    day: string,
    c: ExportConversation,
    r: ExportRecording,
    result: BatchResult,
    signal: AbortSignal | undefined,
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
              ...retentionOption(this.deps.settings.retention, this.deps.clock.now()),
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

  /**
   * Writes the metadata document of `c` (core/metadata-document.ts makes it);
   * `metas` is its recording metadata, or 'lean' when it was listed from its
   * batch results alone.
   */
  private async writeMetadata(
    day: string,
    c: ExportConversation,
    detail: Record<string, unknown> | undefined,
    metas: RecordingMeta[] | undefined | 'lean',
  ): Promise<void> {
    if (c.error) return;
    const name = metadataObjectName(this.deps.settings.env, day, c.conversationId);
    const bytes = metadataDocument(day, c, detail, metas);
    const md5 = createHash('md5').update(bytes).digest('base64');
    // Twice: a duplicate delivery exporting the same batch at the same time may write it between
    // our look and our write; if it wrote what we would, that is done, else ours goes over it.
    for (let attempt = 1; ; attempt++) {
      const existing = await this.deps.store.stat(name);
      if (existing?.md5Hash === md5) {
        c.metadataObject = name;
        c.metadataStored = storedCopy(existing);
        return;
      }
      try {
        const stored = await this.deps.store.write(name, bytes, {
          contentType: 'application/json',
          ifGenerationMatch: existing ? existing.generation : 0,
          ...retentionOption(this.deps.settings.retention, this.deps.clock.now()),
        });
        c.metadataStored = storedCopy(stored);
        if (existing)
          this.deps.logger.info('conversation metadata updated (export outcome changed)', {
            object: name,
          });
        c.metadataObject = name;
        return;
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
        if (attempt >= 2) throw new RetryableError(`metadata ${name} changed while writing it`);
      }
    }
  }
}
