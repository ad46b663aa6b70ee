/**
 * Chat transcripts: keep only the messages people wrote or read
 * (bodyType STANDARD or NOTICE, compared case-insensitively, since live chat
 * sends lower-case forms), whether the source is a bare transcript array or a
 * full Recording object with `transcript`.
 */
import {PermanentError} from './errors';

const KEPT = new Set(['STANDARD', 'NOTICE']);

export function isKeptChatMessage(message: unknown): boolean {
  if (typeof message !== 'object' || message === null) return false;
  const bodyType = (message as {bodyType?: unknown}).bodyType;
  return typeof bodyType === 'string' && KEPT.has(bodyType.toUpperCase().replace(/[-_]/g, ''));
}

/** Parses chat JSON (array or Recording) and returns the filtered transcript. */
export function filterChatTranscript(json: unknown): {messages: unknown[]; dropped: number} {
  let transcript: unknown;
  if (Array.isArray(json)) transcript = json;
  else if (
    typeof json === 'object' &&
    json !== null &&
    Array.isArray((json as {transcript?: unknown}).transcript)
  ) {
    transcript = (json as {transcript: unknown[]}).transcript;
  } else {
    throw new PermanentError(
      'chat recording is neither a transcript array nor a Recording with "transcript"',
    );
  }
  const all = transcript as unknown[];
  const messages = all.filter(isKeptChatMessage);
  return {messages, dropped: all.length - messages.length};
}
