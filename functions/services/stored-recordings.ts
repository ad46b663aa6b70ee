/**
 * Finds what an earlier delivery or run already stored of a batch's
 * recordings (one listing per conversation and type) and settles what that
 * proves (core/stored-proof.ts), before anything is downloaded. A complete
 * copy counts as exported, with no second download, whatever the recording's
 * file state now: deleted or archived at the source since, the archive still
 * holds it. The pending recordings left are handed back to download.
 */
import {ConversationRecording, PENDING_DOWNLOAD, markExported} from '../core/recording-outcomes';
import {recordingObjectPrefix, recordingObjectStem} from '../core/object-names';
import {EXPECTED_SIZE_KEY, differentContent, provenState, storedNote} from '../core/stored-proof';
import type {Logger} from '../logger';
import type {ObjectStore} from '../ports';
import {mapLimit} from './objects';

/** Concurrent listings of stored recordings. */
const LISTING_CONCURRENCY = 8;

export interface StoredRecordingsDeps {
  env: string;
  store: ObjectStore;
  logger: Logger;
}

export class StoredRecordings {
  constructor(private readonly deps: StoredRecordingsDeps) {}

  /**
   * Settles the recordings an earlier delivery or run already stored and
   * returns the pending ones left to download. An object written by the
   * exporter with the size it expected and the mark of its write's passed
   * check is complete (GCS never makes an unfinished upload visible):
   * exported. For a pending recording, one that holds another size is
   * incomplete: failed, with its action; one without that proof is
   * downloaded and compared. A recording the source no longer serves keeps
   * the outcome of its file state, and its reason says what is stored under
   * its name.
   */
  async settle(day: string, recordings: ConversationRecording[]): Promise<ConversationRecording[]> {
    const {store, env} = this.deps;
    const groups = new Map<string, typeof recordings>();
    for (const item of recordings) {
      const prefix = recordingObjectPrefix(env, day, item.r.type!, item.c.conversationId);
      groups.set(prefix, [...(groups.get(prefix) ?? []), item]);
    }
    const left: typeof recordings = [];
    const heldOnly: Array<Record<string, string | undefined>> = [];
    await mapLimit([...groups], LISTING_CONCURRENCY, async ([prefix, items]) => {
      const objects = await store.list(prefix);
      for (const item of items) {
        const stem = recordingObjectStem(
          env,
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
}
