/**
 * Exports one batch of conversations: recording metadata, media streamed from
 * Genesys batch downloads into GCS under deterministic names, a metadata JSON
 * per conversation, and what happened to every recording: exported (bytes in
 * GCS, checksums verified), skipped (permanently gone at the source) or
 * failed, and why. The worker makes the batch report of it.
 *
 * The exporter runs the stages in order, each in its own module:
 *
 * 1. the metadata mode: lean only on a client proven to see sensitive
 *    recordings (services/lean-gate.ts);
 * 2. which recordings each conversation has (services/recording-listing.ts);
 * 3. what an earlier delivery already stored of them
 *    (services/stored-recordings.ts);
 * 4. the download of the rest through batch download requests
 *    (services/batch-download.ts), each copied into GCS
 *    (services/recording-copy.ts);
 * 5. each conversation's metadata document (services/metadata-document.ts).
 *
 * Idempotent: objects are written only if absent; an object an earlier
 * delivery stored with the proof that it is complete counts as exported
 * without a second download; a differing or incomplete one is reported with
 * what to do, never overwritten and never taken as the record. Bounded in
 * time: when the batch's deadline signal fires every recording not yet
 * stored fails with a retryable reason, so the batch always reports.
 */
import type {ArchivedPolicy} from '../core/recording-outcomes';
import type {BatchMessage} from '../core/messages';
import type {BatchMetadataMode} from '../core/lean-notes';
import type {ExportConversation} from '../core/report';
import type {RetentionSettings} from '../core/retention';
import type {Logger} from '../logger';
import type {Clock, Genesys, GenesysSession, MediaFetcher, ObjectStore} from '../ports';
import {BatchDownload} from './batch-download';
import {LeanGate} from './lean-gate';
import {MetadataDocuments} from './metadata-document';
import {RecordingCopy} from './recording-copy';
import {RecordingListing} from './recording-listing';
import {StoredRecordings} from './stored-recordings';

export interface ExporterSettings {
  env: string;
  archivedPolicy: ArchivedPolicy;
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
  /** Genesys requests the export sent. */
  requests: number;
}

export interface ExportOptions {
  /** Fires when the batch must stop exporting to report before its function times out. */
  signal?: AbortSignal;
  /** The batch is a history migration's: its calls are paced to the migration's share. */
  lane?: 'migration';
}

export interface ExporterDeps {
  settings: ExporterSettings;
  genesys: Genesys;
  store: ObjectStore;
  media: MediaFetcher;
  clock: Clock;
  logger: Logger;
}

export class Exporter {
  /** Lean mode only on clients proven to see sensitive recordings: one check per client. */
  private readonly leanGate: LeanGate;
  private readonly listing: RecordingListing;
  private readonly stored: StoredRecordings;
  private readonly downloads: BatchDownload;
  private readonly documents: MetadataDocuments;

  constructor(private readonly deps: ExporterDeps) {
    const {settings, store, media, clock, logger} = deps;
    this.leanGate = new LeanGate({clock, logger});
    this.downloads = new BatchDownload({
      settings,
      copy: new RecordingCopy({settings, store, media, clock, logger}),
      clock,
      logger,
    });
    this.listing = new RecordingListing({settings, downloads: this.downloads, logger});
    this.stored = new StoredRecordings({env: settings.env, store, logger});
    this.documents = new MetadataDocuments({settings, store, clock, logger});
  }

  /** Exports the batch and returns what happened to every conversation. */
  async export(
    message: BatchMessage,
    clientIndex: number,
    opts: ExportOptions = {},
  ): Promise<ExportResult> {
    const meter = {requests: 0};
    const session = await this.deps.genesys.session(clientIndex, {
      meter,
      ...(opts.lane ? {lane: opts.lane} : {}),
    });
    const {metadataMode, leanRefused} = await this.mode(session);
    const listed = await this.listing.list(session, message, metadataMode, opts.signal);
    const {conversations, details, metas, prefetched} = listed;

    // Every recording of a supported type, whatever its file state: what the archive already
    // holds is the record, even of a recording deleted or archived at the source since.
    const typed = conversations.flatMap(c => c.recordings.filter(r => r.type).map(r => ({c, r})));
    const toDownload = await this.stored.settle(message.day, typed);
    await this.downloads.download(session, message.day, toDownload, metas, opts.signal, prefetched);

    await this.documents.writeAll(message.day, conversations, details, metas);
    return {
      conversations,
      clientIndex: session.clientIndex,
      metadataMode,
      ...(leanRefused !== undefined ? {leanRefused} : {}),
      requests: meter.requests,
    };
  }

  /** The metadata mode the batch runs in: lean mode is blind to what the client may not see. */
  private async mode(
    session: GenesysSession,
  ): Promise<{metadataMode: 'full' | 'lean'; leanRefused?: string}> {
    const {settings} = this.deps;
    // A client not proven runs in full mode.
    const leanRefused =
      settings.metadataMode === 'lean' ? await this.leanGate.refusal(session) : undefined;
    if (leanRefused === undefined) return {metadataMode: settings.metadataMode};
    this.deps.logger.warn('METADATA=lean refused for this batch: it runs in full mode', {
      clientIndex: session.clientIndex,
      reason: leanRefused,
    });
    return {metadataMode: 'full', leanRefused};
  }
}
