/**
 * Recording types, folders and file extensions. The extension comes from an
 * explicit map of the content type (parameters such as `;charset` dropped),
 * never from the tutorial's "first four letters" rule.
 */
export type RecordingType = 'call' | 'chat' | 'email' | 'message' | 'screen';

export const RECORDING_TYPES: readonly RecordingType[] = [
  'call',
  'chat',
  'email',
  'message',
  'screen',
];

/** Genesys `media` of a recording → our folder. */
export function recordingType(media: string | undefined): RecordingType | undefined {
  switch ((media ?? '').toLowerCase()) {
    case 'audio':
    case 'call':
      return 'call';
    case 'chat':
      return 'chat';
    case 'email':
      return 'email';
    case 'message':
    case 'messaging':
      return 'message';
    case 'screen':
    case 'screenrecording':
      return 'screen';
    default:
      return undefined;
  }
}

const EXTENSIONS: Record<string, string> = {
  'audio/ogg': 'ogg',
  'audio/opus': 'opus',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/vnd.wave': 'wav',
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'audio/webm': 'webm',
  'audio/mp4': 'm4a',
  'video/webm': 'webm',
  'video/mp4': 'mp4',
  'application/json': 'json',
  'application/zip': 'zip',
  'application/x-zip-compressed': 'zip',
  'message/rfc822': 'eml',
  'text/html': 'html',
  'text/plain': 'txt',
};

/** The extension of a recording whose content type has none known. */
export const FALLBACK_EXTENSION = 'bin';

/** Every content type with a known extension (the lifecycle rules' suffixes derive from them). */
export const KNOWN_CONTENT_TYPES: readonly string[] = Object.keys(EXTENSIONS);

/** The media type without parameters, lower case. */
export function baseContentType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** The file extension for a content type, or undefined when we do not know it. */
export function extensionFor(contentType: string): string | undefined {
  return EXTENSIONS[baseContentType(contentType)];
}
