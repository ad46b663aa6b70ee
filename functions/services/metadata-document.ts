/**
 * Writes each conversation's metadata document (core/metadata-document.ts
 * makes it) and records on the conversation the copy that is stored. A
 * document already there with the same bytes is kept as it is; one that
 * differs (an outcome changed) is replaced, guarded by its generation.
 */
import {createHash} from 'node:crypto';
import {RetryableError} from '../core/errors';
import {metadataDocument} from '../core/metadata-document';
import {metadataObjectName} from '../core/object-names';
import {type ExportConversation, storedCopy} from '../core/report';
import {retentionOption} from '../core/retention';
import type {Logger} from '../logger';
import {Clock, ObjectExistsError, ObjectStore, RecordingMeta} from '../ports';
import type {ExporterSettings} from './exporter';
import {mapLimit} from './objects';

export interface MetadataDocumentsDeps {
  settings: Pick<ExporterSettings, 'env' | 'retention'>;
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
}

/** Concurrent metadata document writes. */
const WRITE_CONCURRENCY = 8;

export class MetadataDocuments {
  constructor(private readonly deps: MetadataDocumentsDeps) {}

  /**
   * Writes the document of every conversation. `details`: the analytics
   * records; `metas`: the recording metadata read (a conversation without
   * an entry was listed from its batch results alone, in lean mode).
   */
  async writeAll(
    day: string,
    conversations: readonly ExportConversation[],
    details: Map<string, Record<string, unknown>>,
    metas: Map<string, RecordingMeta[] | undefined>,
  ): Promise<void> {
    await mapLimit(conversations, WRITE_CONCURRENCY, c =>
      this.write(
        day,
        c,
        details.get(c.conversationId),
        metas.has(c.conversationId) ? metas.get(c.conversationId) : 'lean',
      ),
    );
  }

  /**
   * Writes the document of `c` (none for a conversation that could not be
   * read) and sets its `metadataObject` and `metadataStored`. `metas`: its
   * recording metadata, or 'lean' when it was listed from its batch results.
   */
  private async write(
    day: string,
    c: ExportConversation,
    detail: Record<string, unknown> | undefined,
    metas: RecordingMeta[] | undefined | 'lean',
  ): Promise<void> {
    if (c.error) return;
    const {store, settings} = this.deps;
    const name = metadataObjectName(settings.env, day, c.conversationId);
    const bytes = metadataDocument(day, c, detail, metas);
    const md5 = createHash('md5').update(bytes).digest('base64');
    // Twice: a duplicate delivery exporting the same batch at the same time may write it between
    // our look and our write; if it wrote what we would, that is done, else ours goes over it.
    for (let attempt = 1; ; attempt++) {
      const existing = await store.stat(name);
      if (existing?.md5Hash === md5) {
        c.metadataObject = name;
        c.metadataStored = storedCopy(existing);
        return;
      }
      try {
        const stored = await store.write(name, bytes, {
          contentType: 'application/json',
          ifGenerationMatch: existing ? existing.generation : 0,
          ...retentionOption(settings.retention, this.deps.clock.now()),
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
