/**
 * The conversation facts the recordings index carries (docs/sql.md): the
 * originating direction, the divisions, the wrap-up codes and who took part
 * (purpose, user, queues). The worker takes them from the analytics detail
 * record it already holds (in full and lean metadata mode alike) and puts them
 * in its batch report, so the checker builds a day's index from the reports it
 * reads anyway, never from one metadata document per conversation.
 *
 * A report is bookkeeping anyone with write access could have made: the
 * checker reads these back through {@link sanitizeAttributes}, which keeps
 * only values of the expected shape, within the same bounds.
 *
 * Pure.
 */

export interface ParticipantAttributes {
  /** customer, agent, acd, ivr, … */
  purpose: string;
  userId?: string;
  /** Queues of the participant's segments, in order of appearance. */
  queueIds?: string[];
}

export interface ConversationAttributes {
  /** `originatingDirection`: inbound or outbound. */
  direction?: string;
  divisionIds?: string[];
  /** Wrap-up codes of every segment of every participant, in order of appearance. */
  wrapUpCodes?: string[];
  participants?: ParticipantAttributes[];
}

/**
 * Bounds that keep a report of 1,000 conversations well under the checker's
 * read limit (core/limits.ts MAX_REPORT_BYTES): what is beyond them is left out.
 */
export const ATTRIBUTE_LIMITS = {participants: 20, ids: 10, queuesPerParticipant: 3} as const;

/** Genesys ids are UUIDs; wrap-up codes may also be system codes (ININ-WRAP-UP-TIMEOUT). */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** Enumerated values: purposes, directions. */
const WORD = /^[a-z][a-z_]{0,31}$/;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
const id = (v: unknown): string | undefined =>
  typeof v === 'string' && ID.test(v) ? v : undefined;
const word = (v: unknown): string | undefined =>
  typeof v === 'string' && WORD.test(v.toLowerCase()) ? v.toLowerCase() : undefined;

/** The distinct valid ids among `values`, in order, at most `max`. */
function ids(values: Iterable<unknown>, max: number = ATTRIBUTE_LIMITS.ids): string[] {
  const out = new Set<string>();
  for (const v of values) {
    const ok = id(v);
    if (ok) out.add(ok);
    if (out.size >= max) break;
  }
  return [...out];
}

const queues = (values: Iterable<unknown>) => ids(values, ATTRIBUTE_LIMITS.queuesPerParticipant);

/** Drops the empty and undefined members (the report stays compact). */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined && !(Array.isArray(v) && !v.length)),
  ) as T;
}

function participant(p: ParticipantAttributes): ParticipantAttributes {
  return compact({purpose: p.purpose, userId: p.userId, queueIds: p.queueIds});
}

function result(a: ConversationAttributes): ConversationAttributes | undefined {
  const out = compact(a);
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * What the analytics detail record of a conversation says about it, or
 * undefined when it says nothing (no record: Genesys does not know the
 * conversation). Participants without a valid purpose are left out.
 */
export function conversationAttributes(
  detail: Record<string, unknown> | undefined,
): ConversationAttributes | undefined {
  if (!detail) return undefined;
  const participants: ParticipantAttributes[] = [];
  const wrapUps: unknown[] = [];
  for (const p of list(detail.participants)) {
    if (!isRecord(p)) continue;
    const segments = list(p.sessions)
      .filter(isRecord)
      .flatMap(s => list(s.segments).filter(isRecord));
    wrapUps.push(...segments.map(s => s.wrapUpCode));
    const purpose = word(p.purpose);
    if (!purpose || participants.length >= ATTRIBUTE_LIMITS.participants) continue;
    participants.push(
      participant({purpose, userId: id(p.userId), queueIds: queues(segments.map(s => s.queueId))}),
    );
  }
  return result({
    direction: word(detail.originatingDirection),
    divisionIds: ids(list(detail.divisionIds)),
    wrapUpCodes: ids(wrapUps),
    participants,
  });
}

/**
 * The attributes a batch report holds, as far as they have the shape
 * conversationAttributes gives them; anything else is dropped.
 */
export function sanitizeAttributes(value: unknown): ConversationAttributes | undefined {
  if (!isRecord(value)) return undefined;
  const participants = list(value.participants)
    .filter(isRecord)
    .flatMap(p => {
      const purpose = word(p.purpose);
      return purpose
        ? [participant({purpose, userId: id(p.userId), queueIds: queues(list(p.queueIds))})]
        : [];
    })
    .slice(0, ATTRIBUTE_LIMITS.participants);
  return result({
    direction: word(value.direction),
    divisionIds: ids(list(value.divisionIds)),
    wrapUpCodes: ids(list(value.wrapUpCodes)),
    participants,
  });
}
