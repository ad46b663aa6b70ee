/**
 * Lean metadata mode: a conversation's recordings known from its batch
 * download results (a request by conversation id alone returns every
 * recording of the conversation) and its analytics detail record, without
 * the per-conversation `recordingmetadata` call.
 *
 * Lean mode runs only on an OAuth client proven to hold
 * `recording:recording:viewSensitiveData` (services/lean-gate.ts): without
 * it Genesys leaves recordings flagged as sensitive out of batch results,
 * silently, and nothing in the results says so. Even then, the results are
 * taken as the whole truth only where they prove it. A conversation falls
 * back to its `recordingmetadata` (as in full mode) when:
 *
 * 1. it has no result at all (unless analytics says a voice-only
 *    conversation recorded nothing);
 * 2. a result has no recording id, or is an error result (only the
 *    metadata's file state tells deleted from archived);
 * 3. several results name one recording (duplicates, or a good result next
 *    to an error): which of them is the truth cannot be proven;
 * 4. a result's type cannot be told from its content type and the
 *    conversation's media;
 * 5. analytics says a recording was made (a voice session with `recording`,
 *    a participant with `screenRecording`) and no result is of that kind;
 * 6. analytics shows more recorded parties than one result of a kind can
 *    stand for: recorded voice sessions on more than one participant of the
 *    organisation's side (a consult, a transfer, a conference: each may
 *    leave a recording of its own) or of the customer's side, or more than
 *    one participant with `screenRecording`;
 * 7. the conversation has chat, email or message sessions and no result of
 *    that type (a transcript left out while a screen recording is there);
 * 8. it has sessions of a media lean mode does not model (anything but
 *    voice, chat, email and message: video, cobrowse, callback…).
 *
 * `leanListing` applies them to a batch's conversations.
 */
import type {BatchResults} from './batch-results';
import {RecordingType, baseContentType} from './content-types';
import {PENDING_DOWNLOAD} from './recording-outcomes';
import type {ExportConversation} from './report';
import type {BatchResult} from '../ports';

/** Without it, batch downloads leave sensitive recordings out silently: lean mode needs it. */
export const VIEW_SENSITIVE_DATA = 'recording:recording:viewSensitiveData';

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
  purpose?: unknown;
  screenRecording?: unknown;
  sessions?: unknown;
}

/** The session media lean mode models; any other sends the conversation to its metadata. */
const KNOWN_MEDIA: ReadonlySet<string> = new Set(['voice', 'chat', 'email', 'message']);
/** Media whose conversations carry their own transcript or message recording. */
const TRANSCRIPT_MEDIA: readonly RecordingType[] = ['chat', 'email', 'message'];
/** Participant purposes of the customer's side of a conversation. */
const CUSTOMER_SIDE: ReadonlySet<string> = new Set(['customer', 'external']);

export interface AnalyticsFacts {
  /** The media of its sessions (voice, chat, email, message…). */
  media: Set<string>;
  audioRecorded: boolean;
  screenRecorded: boolean;
  /** Participants with a recorded voice session: the organisation's side, the customer's side. */
  recordedParties: {organisation: number; customer: number};
  /** Participants with `screenRecording`. */
  screenRecorders: number;
}

/** What the analytics detail record says a conversation holds. */
export function analyticsFacts(detail: Record<string, unknown> | undefined): AnalyticsFacts {
  const media = new Set<string>();
  let audioRecorded = false;
  let screenRecorders = 0;
  const recordedParties = {organisation: 0, customer: 0};
  const participants = Array.isArray(detail?.participants)
    ? (detail.participants as Participant[])
    : [];
  for (const p of participants) {
    if (p?.screenRecording === true) screenRecorders++;
    let recorded = false;
    for (const s of Array.isArray(p?.sessions) ? (p.sessions as Session[]) : []) {
      if (typeof s?.mediaType === 'string') media.add(s.mediaType.toLowerCase());
      if (s?.mediaType === 'voice' && s.recording === true) recorded = true;
    }
    if (!recorded) continue;
    audioRecorded = true;
    const side =
      typeof p.purpose === 'string' && CUSTOMER_SIDE.has(p.purpose.toLowerCase())
        ? 'customer'
        : 'organisation';
    recordedParties[side]++;
  }
  return {
    media,
    audioRecorded,
    screenRecorded: screenRecorders > 0,
    recordedParties,
    screenRecorders,
  };
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
 * Why analytics alone sends the conversation to its metadata, whatever its
 * results (rules 6 and 8 of the module header), or undefined.
 */
function beyondResults(facts: AnalyticsFacts): string | undefined {
  const unknown = [...facts.media].filter(m => !KNOWN_MEDIA.has(m));
  if (unknown.length > 0)
    return `sessions of media lean mode does not model (${unknown.join(', ')})`;
  const {organisation, customer} = facts.recordedParties;
  if (organisation > 1)
    return `recorded voice sessions on ${organisation} participants of the organisation's side (a consult or transfer may have recordings of its own)`;
  if (customer > 1)
    return `recorded voice sessions on ${customer} participants of the customer's side`;
  if (facts.screenRecorders > 1)
    return `${facts.screenRecorders} participants with screen recording`;
  return undefined;
}

/**
 * The recordings of one conversation from its batch results, or why its
 * recording metadata is needed instead (the module header lists the rules).
 */
export function leanRecordings(
  results: readonly BatchResult[],
  detail: Record<string, unknown> | undefined,
): LeanVerdict {
  const facts = analyticsFacts(detail);
  const beyond = beyondResults(facts);
  if (beyond) return {fallback: beyond};
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
    if (list.length > 1) return {fallback: `${list.length} batch results for one recording`};
    const result = list[0]!;
    if (!result.resultUrl || result.errorMsg) return {fallback: 'an error result'};
    const contentType = result.contentType ?? '';
    const type = leanType(contentType, facts.media);
    if (!type) return {fallback: `a result of content type "${contentType}"`};
    recordings.push({recordingId, type, contentType});
  }
  if (facts.audioRecorded && !recordings.some(r => r.type === 'call'))
    return {fallback: 'analytics says audio was recorded; no audio result'};
  if (facts.screenRecorded && !recordings.some(r => r.type === 'screen'))
    return {fallback: 'analytics says the screen was recorded; no screen result'};
  for (const media of TRANSCRIPT_MEDIA)
    if (facts.media.has(media) && !recordings.some(r => r.type === media))
      return {fallback: `analytics shows ${media} sessions; no ${media} result`};
  return {recordings};
}

/** What lean mode makes of a batch's conversations. */
export interface LeanListing {
  /** The conversations whose batch results prove their recordings, each pending its download. */
  listed: Map<string, ExportConversation>;
  /** The others, in the batch's order: their recording metadata is read, as in full mode. */
  metadataFor: string[];
  /** Why they need it: each reason, with how many conversations it holds for. */
  why: Map<string, number>;
}

/**
 * The recordings of a batch's conversations from one round of batch results
 * (requested by conversation id alone) and their analytics records, where
 * those prove them.
 */
export function leanListing(
  ids: readonly string[],
  results: BatchResults,
  details: Map<string, Record<string, unknown>>,
): LeanListing {
  const listed = new Map<string, ExportConversation>();
  const metadataFor: string[] = [];
  const why = new Map<string, number>();
  for (const id of ids) {
    const verdict = leanRecordings(results.byConversation.get(id) ?? [], details.get(id));
    // An unfinished request may lack results: only the metadata can say what is missing.
    const whole = !results.incomplete.has(id) && !results.refused.has(id) && details.has(id);
    const fallback = !whole
      ? 'its batch request or analytics record is incomplete'
      : verdict.fallback;
    if (fallback !== undefined) why.set(fallback, (why.get(fallback) ?? 0) + 1);
    if (verdict.recordings && whole) {
      listed.set(id, {
        conversationId: id,
        recordings: verdict.recordings.map(r => ({
          recordingId: r.recordingId,
          type: r.type,
          outcome: 'failed',
          reason: PENDING_DOWNLOAD,
        })),
      });
    } else {
      metadataFor.push(id);
    }
  }
  return {listed, metadataFor, why};
}
