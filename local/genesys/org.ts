/**
 * A deterministic synthetic Genesys Cloud organisation.
 *
 * Every calendar day (UTC) has `conversationsPerDay` conversations (or a
 * per-day override). A day's cheap skeleton (start, end, channel per
 * conversation) is computed and cached once; full conversations, their
 * recordings and their analytics details are derived on demand from the seed,
 * so a day of 100k conversations costs a few megabytes, and any conversation
 * id the simulator ever handed out can be resolved again after a restart.
 */
import {
  DAY_MS,
  Rng,
  dayNumberOf,
  dayOfNumber,
  decodeConversationId,
  encodeConversationId,
  uuid,
} from './random';
import {Retention, withRetention} from './retention';

export type Channel = 'voice' | 'chat' | 'email' | 'message';
export type RecordingMedia = 'audio' | 'chat' | 'email' | 'message' | 'screen';
export type FileState =
  'UPLOADING' | 'AVAILABLE' | 'ARCHIVED' | 'RESTORING' | 'RESTORED' | 'DELETED' | 'ERROR';

/** Which recording states the organisation holds. */
export type StateProfile = 'clean' | 'lossy';

export interface OrgConfig {
  seed: string;
  conversationsPerDay: number;
  /** Conversation counts for particular days (`YYYY-MM-DD`). */
  perDay?: Record<string, number>;
  /**
   * `clean`: only exportable (AVAILABLE, RESTORED) or DELETED recordings.
   * `lossy`: also ARCHIVED, RESTORING, UPLOADING and ERROR ones.
   */
  profile: StateProfile;
  /** Average call-audio size in bytes (each recording is 0.5–1.5 times this). */
  audioBytes: number;
  /** Average screen-recording size in bytes. */
  screenBytes: number;
  /** Share of call recordings delivered as audio/wav instead of audio/ogg. */
  wavShare: number;
  /** Share of recordings flagged as holding sensitive data (PCI/PII). */
  sensitiveShare: number;
}

export const DEFAULT_ORG: OrgConfig = {
  seed: 'demo',
  conversationsPerDay: 200,
  profile: 'clean',
  audioBytes: 200 * 1024,
  screenBytes: 1024 * 1024,
  wavShare: 0.1,
  sensitiveShare: 0.02,
};

export interface Recording {
  id: string;
  conversationId: string;
  media: RecordingMedia;
  mediaSubtype: 'Trunk' | 'Station' | 'Consult' | 'Screen' | undefined;
  mediaSubject?: string;
  fileState: FileState;
  contentType: string;
  /** Exact size in bytes of the media the simulator serves. */
  size: number;
  sensitive: boolean;
  sessionId: string;
  startTime?: string;
  endTime: string;
  /** When it will be, or was, archived: only set for recordings an archive date applies to. */
  archiveDate?: string;
  /** `CLOUDARCHIVE` once archived (also while restoring or restored). */
  archiveMedium?: 'CLOUDARCHIVE';
  /** When a restored recording goes back to the archive. */
  restoreExpirationTime?: string;
  deleteDate?: string;
  region: string;
}

export interface Person {
  id: string;
  name: string;
}

export interface Conversation {
  id: string;
  day: string;
  index: number;
  channel: Channel;
  startMs: number;
  endMs: number;
  direction: 'inbound' | 'outbound';
  divisionId: string;
  queueId: string;
  wrapUpCode: string;
  agent: Person;
  consultAgent?: Person;
  customer: {name: string; address: string; crmId: string; language: string};
  subject?: string;
  hasScreenRecording: boolean;
  recordings: Recording[];
}

/** The cheap facts of one day's conversations, sorted by start. */
export interface DaySkeleton {
  day: string;
  /** Conversation indexes, in order of start time. */
  order: Uint32Array;
  startMs: Float64Array;
  endMs: Float64Array;
  channel: Uint8Array;
}

const CHANNELS: readonly Channel[] = ['voice', 'chat', 'email', 'message'];
const CHANNEL_WEIGHTS = {voice: 50, chat: 20, email: 15, message: 15};
const FIRST = [
  'Ana',
  'Ben',
  'Chloe',
  'Dev',
  'Emil',
  'Farah',
  'Goran',
  'Hana',
  'Ivan',
  'Jia',
  'Kofi',
  'Lena',
];
const LAST = [
  'Novak',
  'Okafor',
  'Silva',
  'Tanaka',
  'Weber',
  'Yilmaz',
  'Haddad',
  'Kowalski',
  'Larsen',
  'Moreau',
];
const SUBJECTS = [
  'Card blocked',
  'Loan question',
  'Statement request',
  'Address change',
  'Fraud report',
  'Fee dispute',
];

export class Organisation {
  readonly config: OrgConfig;
  private readonly skeletons = new Map<string, DaySkeleton>();
  /** File states changed at runtime (a restore finished, an upload completed), by recording id. */
  private readonly changedStates = new Map<string, FileState>();
  /** Archive and delete dates set and restores asked for at runtime, by recording id. */
  private readonly retention = new Map<string, Retention>();
  /** The organisation's clock: retention changes and restores move with it. */
  clock: () => number = () => Date.now();
  readonly users: Person[];
  readonly queues: Person[];
  readonly wrapUpCodes: Person[];
  readonly divisionId: string;

  constructor(config: Partial<OrgConfig> = {}) {
    this.config = {...DEFAULT_ORG, ...config};
    const s = this.config.seed;
    const rng = new Rng(s, 'people');
    this.users = Array.from({length: 24}, (_, i) => ({
      id: uuid(s, 'user', i),
      name: `${rng.pick(FIRST)} ${rng.pick(LAST)}`,
    }));
    this.queues = ['Retail', 'Cards', 'Loans', 'Fraud', 'Premium'].map((name, i) => ({
      id: uuid(s, 'queue', i),
      name,
    }));
    this.wrapUpCodes = ['Resolved', 'Callback', 'Escalated', 'Sale', 'Complaint', 'No answer'].map(
      (name, i) => ({
        id: uuid(s, 'wrapup', i),
        name,
      }),
    );
    this.divisionId = uuid(s, 'division');
  }

  countFor(day: string): number {
    return this.config.perDay?.[day] ?? this.config.conversationsPerDay;
  }

  /** The day's skeleton (computed once, then cached). */
  skeleton(day: string): DaySkeleton {
    let sk = this.skeletons.get(day);
    if (sk) return sk;
    const n = this.countFor(day);
    const dayStart = dayNumberOf(day) * DAY_MS;
    const starts = new Float64Array(n);
    const ends = new Float64Array(n);
    const channel = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const f = this.facts(day, i, dayStart);
      starts[i] = f.startMs;
      ends[i] = f.endMs;
      channel[i] = CHANNELS.indexOf(f.channel);
    }
    const order = Uint32Array.from({length: n}, (_, i) => i).sort(
      (a, b) => starts[a]! - starts[b]! || a - b,
    );
    sk = {day, order, startMs: starts, endMs: ends, channel};
    this.skeletons.set(day, sk);
    return sk;
  }

  conversationId(day: string, index: number): string {
    return encodeConversationId(this.config.seed, dayNumberOf(day), index);
  }

  /** Resolves any conversation id of this organisation. */
  find(conversationId: string): Conversation | undefined {
    const decoded = decodeConversationId(this.config.seed, conversationId.toLowerCase());
    if (!decoded) return undefined;
    const day = dayOfNumber(decoded.dayNumber);
    if (decoded.index >= this.countFor(day)) return undefined;
    return this.conversation(day, decoded.index);
  }

  /**
   * The source recovers for `day`: archived recordings are restored, restores
   * finish, uploads finish and errored recordings become available. Returns how many changed,
   * by their previous state. A recovered recording forgets its runtime restore: it stays
   * restored, without an expiry. With `only`, just recordings in those states recover.
   */
  recoverDay(day: string, only?: readonly FileState[]): Record<string, number> {
    const recovered: Partial<Record<FileState, FileState>> = {
      ARCHIVED: 'RESTORED',
      RESTORING: 'RESTORED',
      UPLOADING: 'AVAILABLE',
      ERROR: 'AVAILABLE',
    };
    const changed: Record<string, number> = {};
    for (let i = 0; i < this.countFor(day); i++) {
      for (const r of this.conversation(day, i).recordings) {
        const to = recovered[r.fileState];
        if (!to || (only && !only.includes(r.fileState))) continue;
        this.changedStates.set(r.id, to);
        const deleteMs = this.retention.get(r.id)?.deleteMs;
        if (deleteMs === undefined) this.retention.delete(r.id);
        else this.retention.set(r.id, {deleteMs});
        changed[r.fileState] = (changed[r.fileState] ?? 0) + 1;
      }
    }
    return changed;
  }

  /** The retention changes made to a recording at runtime, if any. */
  retentionOf(recordingId: string): Retention | undefined {
    return this.retention.get(recordingId);
  }

  setRetention(recordingId: string, retention: Retention): void {
    this.retention.set(recordingId, retention);
  }

  /** The full conversation `index` of `day`. */
  conversation(day: string, index: number): Conversation {
    const s = this.config.seed;
    const dayStart = dayNumberOf(day) * DAY_MS;
    const f = this.facts(day, index, dayStart);
    const id = this.conversationId(day, index);
    const rng = new Rng(s, 'conversation', day, index);
    const agent = rng.pick(this.users);
    const consult = f.channel === 'voice' && rng.chance(0.1) ? rng.pick(this.users) : undefined;
    const hasScreen =
      (f.channel === 'voice' && rng.chance(0.2)) || (f.channel === 'chat' && rng.chance(0.1));
    const customerName = `${rng.pick(FIRST)} ${rng.pick(LAST)}`;
    const address =
      f.channel === 'voice'
        ? `tel:+1555${String(rng.int(0, 9_999_999)).padStart(7, '0')}`
        : `${customerName.toLowerCase().replace(' ', '.')}@example.com`;
    const conv: Conversation = {
      id,
      day,
      index,
      channel: f.channel,
      startMs: f.startMs,
      endMs: f.endMs,
      direction: rng.chance(0.8) ? 'inbound' : 'outbound',
      divisionId: this.divisionId,
      queueId: rng.pick(this.queues).id,
      wrapUpCode: rng.pick(this.wrapUpCodes).id,
      agent,
      consultAgent: consult,
      customer: {
        name: customerName,
        address,
        crmId: String(rng.int(100000, 999999)),
        language: rng.pick(['en', 'de', 'fr', 'es']),
      },
      subject: f.channel === 'email' || f.channel === 'message' ? rng.pick(SUBJECTS) : undefined,
      hasScreenRecording: hasScreen,
      recordings: [],
    };
    const medias: Array<{media: RecordingMedia; subtype: Recording['mediaSubtype']}> = [];
    const none = rng.chance(f.channel === 'voice' ? 0.05 : 0.04);
    if (!none) {
      const main: RecordingMedia = f.channel === 'voice' ? 'audio' : f.channel;
      medias.push({media: main, subtype: f.channel === 'voice' ? 'Trunk' : undefined});
      if (consult) medias.push({media: 'audio', subtype: 'Consult'});
    }
    if (hasScreen) medias.push({media: 'screen', subtype: 'Screen'});
    conv.recordings = medias.map((m, k) => this.recording(conv, k, m.media, m.subtype));
    return conv;
  }

  private recording(
    conv: Conversation,
    k: number,
    media: RecordingMedia,
    subtype: Recording['mediaSubtype'],
  ): Recording {
    const c = this.config;
    const rng = new Rng(c.seed, 'recording', conv.id, k);
    const weights: Record<FileState, number> =
      c.profile === 'clean'
        ? {
            AVAILABLE: 92,
            RESTORED: 3,
            DELETED: 5,
            UPLOADING: 0,
            ARCHIVED: 0,
            RESTORING: 0,
            ERROR: 0,
          }
        : {
            AVAILABLE: 70,
            RESTORED: 3,
            DELETED: 5,
            UPLOADING: 7,
            ARCHIVED: 7,
            RESTORING: 3,
            ERROR: 5,
          };
    const drawn = rng.weighted(weights);
    const id = uuid(c.seed, 'recording-id', conv.id, k);
    const fileState = this.changedStates.get(id) ?? drawn;
    let contentType: string;
    let size: number;
    switch (media) {
      case 'audio':
        contentType = rng.chance(c.wavShare) ? 'audio/wav' : 'audio/ogg';
        size = Math.max(4096, Math.round(c.audioBytes * (0.5 + rng.next())));
        break;
      case 'screen':
        contentType = 'video/webm';
        size = Math.max(4096, Math.round(c.screenBytes * (0.5 + rng.next())));
        break;
      case 'email':
        contentType = 'application/zip';
        size = 0; // computed from the generated archive
        break;
      default:
        contentType = 'application/json';
        size = 0; // computed from the generated transcript
    }
    const start = new Date(conv.startMs).toISOString();
    // The seeded archive facts: an archived recording was archived when its conversation ended
    // (any earlier date could lie before the conversation); restoring and restored ones are in
    // the archive medium too. Others have no archive date until a PUT sets one.
    const archived = fileState === 'ARCHIVED';
    const inArchive = archived || fileState === 'RESTORING' || fileState === 'RESTORED';
    const seeded: Recording = {
      id,
      conversationId: conv.id,
      media,
      mediaSubtype: subtype,
      mediaSubject:
        media === 'email' ? conv.subject : media === 'audio' ? 'Springfield IL' : undefined,
      fileState,
      contentType,
      size,
      sensitive: rng.chance(c.sensitiveShare),
      sessionId: uuid(c.seed, 'session', conv.id, k),
      startTime: media === 'screen' ? start : undefined,
      endTime: new Date(conv.endMs).toISOString(),
      ...(archived ? {archiveDate: new Date(conv.endMs).toISOString()} : {}),
      ...(inArchive ? {archiveMedium: 'CLOUDARCHIVE' as const} : {}),
      deleteDate: new Date(conv.startMs + 730 * DAY_MS).toISOString(),
      region: 'eu-west-1',
    };
    const retention = this.retention.get(id);
    return retention ? withRetention(seeded, retention, this.clock()) : seeded;
  }

  /** Start, end and channel: the part of a conversation the skeleton needs. */
  private facts(
    day: string,
    index: number,
    dayStart: number,
  ): {startMs: number; endMs: number; channel: Channel} {
    const rng = new Rng(this.config.seed, 'facts', day, index);
    const channel = rng.weighted(CHANNEL_WEIGHTS);
    const n = this.countFor(day);
    // Every 50th conversation (or the last of a small day) spans midnight.
    if (index % 50 === 49 || (n < 50 && n >= 5 && index === n - 1)) {
      const lateStart = dayStart + DAY_MS - rng.int(1, 30) * 60_000;
      return {startMs: lateStart, endMs: lateStart + rng.int(40, 120) * 60_000, channel};
    }
    const startMs = dayStart + Math.floor(rng.next() * DAY_MS);
    const minutes =
      channel === 'voice'
        ? rng.int(1, 25)
        : channel === 'chat'
          ? rng.int(2, 40)
          : channel === 'email'
            ? rng.int(1, 10)
            : rng.int(5, 180);
    const endMs = startMs + minutes * 60_000 + rng.int(0, 59_999);
    return {startMs, endMs, channel};
  }
}
