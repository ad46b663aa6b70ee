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
import type {BatchResults} from '../core/batch-results';
import {conversationAttributes} from '../core/conversation-attributes';
import {RetryableError} from '../core/errors';
import {leanListing} from '../core/lean';
import type {BatchMetadataMode} from '../core/lean-notes';
import {type BatchMessage, refuseOtherDays} from '../core/messages';
import {metadataDocument} from '../core/metadata-document';
import {metadataObjectName, recordingObjectPrefix, recordingObjectStem} from '../core/object-names';
import {
  DEADLINE_REASON,
  PENDING_DOWNLOAD,
  markExported,
  recordingsFromMetadata,
} from '../core/recording-outcomes';
import {type ExportConversation, type ExportRecording, storedCopy} from '../core/report';
import {RetentionSettings, retentionOption} from '../core/retention';
import {EXPECTED_SIZE_KEY, differentContent, provenState, storedNote} from '../core/stored-proof';
import type {Logger} from '../logger';
import {mapLimit} from './objects';
import {
  Clock,
  Genesys,
  MediaFetcher,
  ObjectExistsError,
  ObjectStore,
  RecordingMeta,
} from '../ports';
import {BatchDownload} from './batch-download';
import {LeanGate} from './lean-gate';
import {RecordingCopy} from './recording-copy';

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

/** Concurrent recording-metadata requests. */
const METADATA_CONCURRENCY = 8;

export class Exporter {
  /** Lean mode only on clients proven to see sensitive recordings: one check per client. */
  private readonly leanGate: LeanGate;

  /** Batch download requests, each result copied into GCS. */
  private readonly downloads: BatchDownload;

  constructor(private readonly deps: ExporterDeps) {
    const {settings, store, media, clock, logger} = deps;
    this.leanGate = new LeanGate({clock, logger});
    this.downloads = new BatchDownload({
      settings,
      copy: new RecordingCopy({settings, store, media, clock, logger}),
      clock,
      logger,
    });
  }

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
      prefetched = await this.downloads.request(
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
    await this.downloads.download(session, message.day, toDownload, metas, opts.signal, prefetched);

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
