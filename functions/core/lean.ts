/**
 * Lean metadata mode: a conversation's recordings known from its batch
 * download results (a request by conversation id alone returns every
 * recording of the conversation) and its analytics detail record, without
 * the per-conversation `recordingmetadata` call.
 *
 * The results enumerate the recordings Genesys serves. A conversation falls
 * back to its `recordingmetadata` (as in full mode) whenever the results
 * cannot be the whole truth: no result at all, an error result (only the
 * metadata's file state tells deleted from archived), a result whose type
 * cannot be told, or a recording its analytics record says was made (a voice
 * session with `recording`, a participant with `screenRecording`) without a
 * result of that kind.
 */
import {RecordingType, baseContentType} from './content-types';
import type {BatchResult} from '../ports';

export interface LeanRecording {
  recordingId: string;
  type: RecordingType;
  contentType: string;
}

export type LeanVerdict =
  {recordings: LeanRecording[]; fallback?: undefined} | {fallback: string; recordings?: undefined};

interface Session {
  mediaType?: unknown;
  recording?: unknown;
}
interface Participant {
  screenRecording?: unknown;
  sessions?: unknown;
}

/** What the analytics detail record says a conversation holds. */
export function analyticsFacts(detail: Record<string, unknown> | undefined): {
  /** The media of its sessions (voice, chat, email, message…). */
  media: Set<string>;
  audioRecorded: boolean;
  screenRecorded: boolean;
} {
  const media = new Set<string>();
  let audioRecorded = false;
  let screenRecorded = false;
  const participants = Array.isArray(detail?.participants)
    ? (detail.participants as Participant[])
    : [];
  for (const p of participants) {
    if (p?.screenRecording === true) screenRecorded = true;
    for (const s of Array.isArray(p?.sessions) ? (p.sessions as Session[]) : []) {
      if (typeof s?.mediaType === 'string') media.add(s.mediaType.toLowerCase());
      if (s?.mediaType === 'voice' && s.recording === true) audioRecorded = true;
    }
  }
  return {media, audioRecorded, screenRecorded};
}

/** The recording type a result's content type shows, given the conversation's media. */
export function leanType(contentType: string, media: Set<string>): RecordingType | undefined {
  const base = baseContentType(contentType);
  // Each kind only where the conversation's own media says it can be (else: its metadata).
  if (base.startsWith('audio/')) return media.has('voice') ? 'call' : undefined;
  if (base.startsWith('video/')) return 'screen'; // a screen recording can come with any media
  if (
    base === 'application/zip' ||
    base === 'application/x-zip-compressed' ||
    base === 'message/rfc822'
  )
    return media.has('email') ? 'email' : undefined;
  if (base === 'application/json') {
    // A transcript: the conversation's own media says which kind, if it has exactly one.
    const kinds = ['chat', 'message'].filter(m => media.has(m));
    return kinds.length === 1 ? (kinds[0] as RecordingType) : undefined;
  }
  return undefined;
}

/**
 * The recordings of one conversation from its batch results (several
 * results for one recording count once), or why its recording metadata is
 * needed instead.
 */
export function leanRecordings(
  results: readonly BatchResult[],
  detail: Record<string, unknown> | undefined,
): LeanVerdict {
  const facts = analyticsFacts(detail);
  if (results.length === 0) {
    // Only a voice conversation says in analytics whether anything was recorded.
    const voiceOnly = facts.media.size === 1 && facts.media.has('voice');
    return voiceOnly && !facts.audioRecorded && !facts.screenRecorded
      ? {recordings: []}
      : {fallback: 'no batch result'};
  }
  const byId = new Map<string, BatchResult[]>();
  for (const r of results) {
    if (!r.recordingId) return {fallback: 'a batch result without a recording id'};
    byId.set(r.recordingId, [...(byId.get(r.recordingId) ?? []), r]);
  }
  const recordings: LeanRecording[] = [];
  for (const [recordingId, list] of byId) {
    const good = list.find(r => r.resultUrl && !r.errorMsg);
    if (!good) return {fallback: 'an error result'};
    const contentType = good.contentType ?? '';
    const type = leanType(contentType, facts.media);
    if (!type) return {fallback: `a result of content type "${contentType}"`};
    recordings.push({recordingId, type, contentType});
  }
  if (facts.audioRecorded && !recordings.some(r => r.type === 'call'))
    return {fallback: 'analytics says audio was recorded; no audio result'};
  if (facts.screenRecorded && !recordings.some(r => r.type === 'screen'))
    return {fallback: 'analytics says the screen was recorded; no screen result'};
  return {recordings};
}
