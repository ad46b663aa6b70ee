/**
 * Which recordings each conversation of a batch has, before anything is
 * stored. The conversations' analytics records are read first (a batch with
 * a conversation that started on another day is refused whole). In full
 * mode each conversation's recording metadata lists its recordings, each
 * pending its download or with the outcome its file state decides
 * (core/recording-outcomes.ts). In lean mode one batch download request by
 * conversation id lists them instead, where its results and the analytics
 * record prove them (core/lean-inference.ts); the other conversations fall back to
 * their metadata, and the results serve as the download's first round.
 */
import type {BatchResults} from '../core/batch-results';
import {conversationAttributes} from '../core/conversation-attributes';
import {RetryableError} from '../core/errors';
import {leanListing} from '../core/lean-inference';
import {type BatchMessage, refuseOtherDays} from '../core/messages';
import {DEADLINE_REASON, recordingsFromMetadata} from '../core/recording-outcomes';
import type {ExportConversation} from '../core/report';
import type {Logger} from '../logger';
import type {GenesysSession, RecordingMeta} from '../ports';
import type {BatchDownload} from './batch-download';
import type {ExporterSettings} from './exporter';
import {mapLimit} from './objects';

/** Concurrent recording-metadata requests. */
const METADATA_CONCURRENCY = 8;

/** A batch's conversations as listed, and what the later stages read of the listing. */
export interface Listing {
  /** In the message's order, each with its start and analytics attributes. */
  conversations: ExportConversation[];
  /** The analytics records, by conversation id. */
  details: Map<string, Record<string, unknown>>;
  /**
   * The recording metadata read, by conversation id (undefined: Genesys does
   * not know the conversation); none for a conversation listed in lean mode.
   */
  metas: Map<string, RecordingMeta[] | undefined>;
  /** Lean mode: the batch results the recordings were listed from. */
  prefetched?: BatchResults;
}

export interface RecordingListingDeps {
  settings: Pick<ExporterSettings, 'archivedPolicy' | 'timeZone'>;
  /** Lean mode's request by conversation id. */
  downloads: BatchDownload;
  logger: Logger;
}

export class RecordingListing {
  constructor(private readonly deps: RecordingListingDeps) {}

  /** Lists the recordings of the message's conversations in `metadataMode`. */
  async list(
    session: GenesysSession,
    message: BatchMessage,
    metadataMode: 'full' | 'lean',
    signal: AbortSignal | undefined,
  ): Promise<Listing> {
    const {settings} = this.deps;
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
      prefetched = await this.deps.downloads.request(
        session,
        ids.map(conversationId => ({conversationId})),
        signal,
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
      if (signal?.aborted) throw new RetryableError(DEADLINE_REASON);
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
    return {conversations: ordered, details, metas, prefetched};
  }
}
