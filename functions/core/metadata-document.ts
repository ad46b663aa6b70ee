/**
 * The metadata document of a conversation, `metadata/{conversationId}.json`:
 * its analytics details, its recording metadata and what was exported of
 * each recording. In lean mode a conversation read from its batch results
 * alone has no recording metadata: its document says so
 * (`"metadataMode": "lean"`) and lists each recording with `metadata: null`.
 * Deterministic bytes: an export that changes nothing makes the same
 * document. Pure: services/metadata-document.ts writes it.
 */
import type {ExportConversation} from './report';
import type {RecordingMeta} from '../ports';

/** The document's bytes; `metas` is the conversation's recording metadata, or 'lean'. */
export function metadataDocument(
  day: string,
  c: ExportConversation,
  detail: Record<string, unknown> | undefined,
  metas: RecordingMeta[] | undefined | 'lean',
): Buffer {
  const doc =
    metas === 'lean'
      ? {
          conversationId: c.conversationId,
          day,
          metadataMode: 'lean',
          conversation: detail ?? null,
          // In recording id order: a rerun that changes nothing writes the same bytes.
          recordings: [...c.recordings]
            .sort((a, b) => a.recordingId.localeCompare(b.recordingId))
            .map(r => ({metadata: null, export: r})),
        }
      : {
          conversationId: c.conversationId,
          day,
          conversation: detail ?? null,
          recordings: (metas ?? []).map(m => ({
            metadata: m,
            export: c.recordings.find(r => r.recordingId === m.id) ?? null,
          })),
        };
  // Deterministic content: a rerun that changes nothing writes nothing. What only the worker
  // reads (`retryable`, core/report.ts) is left out.
  return Buffer.from(JSON.stringify(doc, (k, v) => (k === 'retryable' ? undefined : v), 2));
}
