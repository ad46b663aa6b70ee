/**
 * Analytics conversation details, as Genesys Cloud serves them: the
 * synchronous query (lifetime overlap within the start-day indices the
 * interval touches, filters, page-number paging, `conversations` omitted past
 * the end) and the asynchronous jobs (state progression, lifetime overlap with
 * optional start-of-day matching on top, cursor paging, participant
 * attributes, results silently cut at the data-availability watermark).
 */
import {randomUUID} from 'node:crypto';
import {DAY_MS, dayOfNumber} from './random';
import type {Conversation, Organisation} from './org';
import {ApiError} from './errors';

export interface Interval {
  startMs: number;
  endMs: number;
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))$/;

/**
 * The instant of an ISO-8601 date-time with a zone, or undefined when it names
 * no real instant (a 30 February, hour 24, minute 60, offset hour 24…), which
 * Date.parse would quietly roll over.
 */
function parseInstant(text: string): number | undefined {
  const m = ISO_RE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute] = m.slice(1, 6).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const lastDay = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (lastDay === undefined || day < 1 || day > lastDay) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The `interval` of an analytics body: an ISO-8601 `start/end`; anything else is a 400. */
export function parseInterval(value: unknown): Interval {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ApiError(400, 'bad.request', 'interval is required: an ISO-8601 "start/end" string');
  }
  const parts = value.split('/');
  if (parts.length !== 2 || !ISO_RE.test(parts[0]!) || !ISO_RE.test(parts[1]!)) {
    throw new ApiError(
      400,
      'bad.request',
      `Invalid interval "${value}": expected ISO-8601 "start/end"`,
    );
  }
  const [startMs, endMs] = parts.map(parseInstant);
  for (const [i, ms] of [startMs, endMs].entries()) {
    if (ms === undefined) {
      throw new ApiError(
        400,
        'bad.request',
        `Invalid interval "${value}": "${parts[i]}" is not a valid date-time`,
      );
    }
  }
  if (endMs! <= startMs!) {
    throw new ApiError(
      400,
      'bad.request',
      `Invalid interval "${value}": the end must be after the start`,
    );
  }
  return {startMs: startMs!, endMs: endMs!};
}

// ---- filters ----------------------------------------------------------------------

interface Predicate {
  type?: string;
  dimension?: string;
  operator?: 'matches' | 'exists' | 'notExists';
  value?: string;
}

interface Filter {
  type: 'and' | 'or';
  predicates?: Predicate[];
  clauses?: Array<{type: 'and' | 'or'; predicates?: Predicate[]}>;
}

const CONVERSATION_DIMENSIONS = new Set([
  'conversationEnd',
  'conversationId',
  'conversationStart',
  'originatingDirection',
  'divisionId',
]);
const SEGMENT_DIMENSIONS = new Set([
  'mediaType',
  'queueId',
  'userId',
  'wrapUpCode',
  'purpose',
  'direction',
  'recording',
  'screenRecording',
]);

function dimensionValues(
  conv: Conversation,
  dimension: string,
  nowMs: number,
): string[] | undefined {
  switch (dimension) {
    case 'conversationEnd':
      return conv.endMs <= nowMs ? [new Date(conv.endMs).toISOString()] : undefined;
    case 'conversationStart':
      return [new Date(conv.startMs).toISOString()];
    case 'conversationId':
      return [conv.id];
    case 'originatingDirection':
    case 'direction':
      return [conv.direction];
    case 'divisionId':
      return [conv.divisionId];
    case 'mediaType':
      return [conv.channel];
    case 'queueId':
      return [conv.queueId];
    case 'userId':
      return [conv.agent.id, ...(conv.consultAgent ? [conv.consultAgent.id] : [])];
    case 'wrapUpCode':
      return [conv.wrapUpCode];
    case 'purpose':
      return ['customer', 'acd', 'agent'];
    case 'recording':
      return [String(conv.recordings.some(r => r.media === 'audio'))];
    case 'screenRecording':
      return [String(conv.hasScreenRecording)];
    default:
      return undefined;
  }
}

function evalPredicate(conv: Conversation, p: Predicate, nowMs: number): boolean {
  const values = dimensionValues(conv, p.dimension!, nowMs);
  const op = p.operator ?? 'matches';
  if (op === 'exists') return values !== undefined;
  if (op === 'notExists') return values === undefined;
  return values !== undefined && values.includes(String(p.value));
}

function evalGroup(type: 'and' | 'or', results: boolean[]): boolean {
  if (results.length === 0) return true;
  return type === 'or' ? results.some(Boolean) : results.every(Boolean);
}

function evalFilter(conv: Conversation, f: Filter, nowMs: number): boolean {
  const parts = [
    ...(f.predicates ?? []).map(p => evalPredicate(conv, p, nowMs)),
    ...(f.clauses ?? []).map(c =>
      evalGroup(
        c.type,
        (c.predicates ?? []).map(p => evalPredicate(conv, p, nowMs)),
      ),
    ),
  ];
  return evalGroup(f.type, parts);
}

/** Validates the filter arrays of a query body; unsupported dimensions are a 400. */
export function parseFilters(body: Record<string, unknown>): Filter[] {
  const filters: Filter[] = [];
  for (const [key, allowed] of [
    ['conversationFilters', CONVERSATION_DIMENSIONS],
    ['segmentFilters', SEGMENT_DIMENSIONS],
  ] as const) {
    const list = body[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new ApiError(400, 'bad.request', `${key} must be an array`);
    for (const f of list as Filter[]) {
      if (typeof f !== 'object' || f === null || (f.type !== 'and' && f.type !== 'or')) {
        throw new ApiError(400, 'bad.request', `${key}[].type must be "and" or "or"`);
      }
      const preds = [
        ...(f.predicates ?? []),
        ...(f.clauses ?? []).flatMap(c => c.predicates ?? []),
      ];
      for (const p of preds) {
        if (typeof p.dimension !== 'string' || !allowed.has(p.dimension)) {
          throw new ApiError(
            400,
            'bad.request',
            `Unsupported ${key === 'conversationFilters' ? 'conversation' : 'segment'} dimension "${String(p.dimension)}" ` +
              `(the simulator supports ${[...allowed].join(', ')})`,
          );
        }
      }
      filters.push(f);
    }
  }
  return filters;
}

// ---- detail records -----------------------------------------------------------------

/** The analytics detail record of a conversation (jobs add participant attributes). */
export function detailRecord(
  conv: Conversation,
  nowMs: number,
  withAttributes: boolean,
): Record<string, unknown> {
  const ended = conv.endMs <= nowMs;
  const start = new Date(conv.startMs).toISOString();
  const end = ended ? new Date(conv.endMs).toISOString() : undefined;
  const media = conv.channel;
  const queueStart = new Date(conv.startMs + 5_000).toISOString();
  const agentStart = new Date(conv.startMs + 35_000).toISOString();
  const hasAudio = conv.recordings.some(r => r.media === 'audio');
  const customerSession: Record<string, unknown> = {
    sessionId: `${conv.id.slice(0, 24)}c0000001`,
    mediaType: media,
    direction: conv.direction,
    segments: [{segmentStart: start, ...(end ? {segmentEnd: end} : {}), segmentType: 'interact'}],
  };
  if (media === 'voice') {
    customerSession.ani = conv.customer.address;
    customerSession.dnis = 'tel:+18005550199';
    customerSession.recording = hasAudio;
  } else {
    customerSession.addressFrom = conv.customer.address;
    customerSession.addressTo = 'support@bank.example';
  }
  const agentParticipant = (person: {id: string; name: string}, n: number) => ({
    participantId: `${conv.id.slice(0, 24)}a000000${n}`,
    participantName: person.name,
    purpose: 'agent',
    userId: person.id,
    screenRecording: conv.hasScreenRecording && n === 1,
    sessions: [
      {
        sessionId: `${conv.id.slice(0, 24)}s000000${n}`,
        mediaType: media,
        direction: conv.direction,
        ...(media === 'voice' ? {recording: hasAudio} : {}),
        segments: [
          {
            segmentStart: agentStart,
            ...(end ? {segmentEnd: end} : {}),
            segmentType: 'interact',
            queueId: conv.queueId,
          },
          ...(end
            ? [
                {
                  segmentStart: end,
                  segmentEnd: end,
                  segmentType: 'wrapup',
                  wrapUpCode: conv.wrapUpCode,
                },
              ]
            : []),
        ],
      },
    ],
  });
  const customer: Record<string, unknown> = {
    participantId: `${conv.id.slice(0, 24)}p0000001`,
    participantName: conv.customer.name,
    purpose: 'customer',
    sessions: [customerSession],
  };
  if (withAttributes)
    customer.attributes = {crmId: conv.customer.crmId, language: conv.customer.language};
  return {
    conversationId: conv.id,
    conversationStart: start,
    ...(end ? {conversationEnd: end} : {}),
    originatingDirection: conv.direction,
    divisionIds: [conv.divisionId],
    participants: [
      customer,
      {
        participantId: `${conv.id.slice(0, 24)}q0000001`,
        participantName: 'Queue',
        purpose: 'acd',
        sessions: [
          {
            mediaType: media,
            segments: [
              {
                segmentStart: queueStart,
                segmentEnd: agentStart,
                segmentType: 'interact',
                queueId: conv.queueId,
              },
            ],
          },
        ],
      },
      agentParticipant(conv.agent, 1),
      ...(conv.consultAgent ? [agentParticipant(conv.consultAgent, 2)] : []),
    ],
  };
}

// ---- candidate selection ------------------------------------------------------------

interface Candidate {
  day: string;
  index: number;
  startMs: number;
  endMs: number;
}

/** Conversations of whole UTC days `fromDay..toDay` (day numbers), from the skeletons. */
function candidates(
  org: Organisation,
  fromDay: number,
  toDay: number,
  keep: (c: Candidate) => boolean,
): Candidate[] {
  const out: Candidate[] = [];
  for (let d = fromDay; d <= toDay; d++) {
    const day = dayOfNumber(d);
    const sk = org.skeleton(day);
    for (const index of sk.order) {
      const c = {day, index, startMs: sk.startMs[index]!, endMs: sk.endMs[index]!};
      if (keep(c)) out.push(c);
    }
  }
  return out;
}

/**
 * Whether a conversation's lifetime overlaps the interval: it started before
 * the end, and started in the interval or was still running after its start
 * (a live conversation runs until `nowMs`).
 */
function overlaps(c: Candidate, interval: Interval, nowMs: number): boolean {
  return (
    c.startMs < interval.endMs &&
    (c.startMs >= interval.startMs || Math.min(c.endMs, nowMs) > interval.startMs)
  );
}

function sortCandidates(list: Candidate[], order: unknown, orderBy: unknown): void {
  const key = orderBy === 'conversationEnd' ? 'endMs' : 'startMs';
  const dir = order === 'desc' ? -1 : 1;
  list.sort((a, b) => dir * (a[key] - b[key]) || a.index - b.index);
}

// ---- synchronous query ----------------------------------------------------------------

export interface QueryLimits {
  maxPageSize: number;
  /** Deep-paging ceiling (results). */
  maxResults: number;
}

export function runQuery(
  org: Organisation,
  body: Record<string, unknown>,
  nowMs: number,
  limits: QueryLimits,
) {
  const interval = parseInterval(body.interval);
  const filters = parseFilters(body);
  const days = (interval.endMs - interval.startMs) / DAY_MS;
  const maxDays = filters.length > 0 ? 31 : 7;
  if (days > maxDays) {
    throw new ApiError(
      400,
      'bad.request',
      `The interval may not exceed ${maxDays} days${filters.length ? '' : ' without a filter'}.`,
    );
  }
  const paging = (body.paging ?? {pageSize: 25, pageNumber: 1}) as {
    pageSize?: unknown;
    pageNumber?: unknown;
  };
  const pageSize = Number(paging.pageSize ?? 25);
  const pageNumber = Number(paging.pageNumber ?? 1);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > limits.maxPageSize) {
    throw new ApiError(
      400,
      'bad.request',
      `paging.pageSize must be an integer between 1 and ${limits.maxPageSize}`,
    );
  }
  if (!Number.isInteger(pageNumber) || pageNumber < 1) {
    throw new ApiError(400, 'bad.request', 'paging.pageNumber must be an integer of at least 1');
  }
  if (pageNumber * pageSize > limits.maxResults) {
    throw new ApiError(
      400,
      'bad.request',
      `Pagination may not exceed ${limits.maxResults} results. Try querying smaller intervals of time to reduce the number of results.`,
    );
  }
  // Start-day indices: only the daily indices of the UTC days the interval touches are searched
  // (keyed by start day); in them, the conversations whose lifetime overlaps the interval. One
  // that started on a touched day before the window but was still running in it comes back;
  // one that started the day before the first touched day does not.
  const fromDay = Math.floor(interval.startMs / DAY_MS);
  const toDay = Math.floor((interval.endMs - 1) / DAY_MS);
  const list = candidates(
    org,
    fromDay,
    toDay,
    c => c.startMs <= nowMs && overlaps(c, interval, nowMs),
  );
  sortCandidates(list, body.order, body.orderBy);
  const matching =
    filters.length === 0
      ? list
      : list.filter(c => {
          const conv = org.conversation(c.day, c.index);
          return filters.every(f => evalFilter(conv, f, nowMs));
        });
  const page = matching.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
  const response: Record<string, unknown> = {totalHits: matching.length};
  if (page.length > 0) {
    response.conversations = page.map(c =>
      detailRecord(org.conversation(c.day, c.index), nowMs, false),
    );
  }
  return response;
}

// ---- jobs -----------------------------------------------------------------------------

export interface JobTiming {
  queuedMs: number;
  pendingMs: number;
  /** How long results stay readable. */
  expiryMs: number;
  maxPageSize: number;
  defaultPageSize: number;
}

interface Job {
  id: string;
  createdMs: number;
  body: Record<string, unknown>;
  outcome: 'FULFILLED' | 'FAILED' | 'EXPIRED';
  cancelled: boolean;
  results?: Candidate[];
  watermarkMs: number;
}

export class AnalyticsJobs {
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly org: Organisation,
    private readonly timing: () => JobTiming,
  ) {}

  create(
    body: Record<string, unknown>,
    nowMs: number,
    watermarkMs: number,
    outcome: Job['outcome'],
  ): {jobId: string} {
    parseInterval(body.interval);
    parseFilters(body);
    if (body.paging !== undefined)
      throw new ApiError(
        400,
        'bad.request',
        'paging is not supported by jobs; use cursor paging of the results',
      );
    const id = randomUUID();
    this.jobs.set(id, {id, createdMs: nowMs, body, outcome, cancelled: false, watermarkMs});
    return {jobId: id};
  }

  status(id: string, nowMs: number): Record<string, unknown> {
    const job = this.get(id);
    const state = this.state(job, nowMs);
    const t = this.timing();
    const out: Record<string, unknown> = {
      state,
      submissionDate: new Date(job.createdMs).toISOString(),
    };
    if (state === 'FULFILLED' || state === 'EXPIRED') {
      out.completionDate = new Date(job.createdMs + t.queuedMs + t.pendingMs).toISOString();
      out.expirationDate = new Date(
        job.createdMs + t.queuedMs + t.pendingMs + t.expiryMs,
      ).toISOString();
    }
    if (state === 'FAILED')
      out.errorMessage = 'The analytics job failed (injected by the simulator).';
    return out;
  }

  results(id: string, nowMs: number, cursor: string | undefined, pageSizeRaw: string | undefined) {
    const job = this.get(id);
    const state = this.state(job, nowMs);
    if (state !== 'FULFILLED') {
      throw new ApiError(400, 'bad.request', `Results are not available: the job is ${state}.`);
    }
    const t = this.timing();
    const pageSize = pageSizeRaw === undefined ? t.defaultPageSize : Number(pageSizeRaw);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > t.maxPageSize) {
      throw new ApiError(
        400,
        'bad.request',
        `pageSize must be an integer between 1 and ${t.maxPageSize}`,
      );
    }
    let offset = 0;
    if (cursor !== undefined) {
      const m = /^c(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (!m) throw new ApiError(400, 'bad.request', 'Invalid cursor');
      offset = Number(m[1]);
    }
    job.results ??= this.compute(job);
    const page = job.results.slice(offset, offset + pageSize);
    const next = offset + page.length;
    return {
      conversations: page.map(c =>
        detailRecord(this.org.conversation(c.day, c.index), job.watermarkMs, true),
      ),
      ...(next < job.results.length ? {cursor: Buffer.from(`c${next}`).toString('base64url')} : {}),
      dataAvailabilityDate: new Date(job.watermarkMs).toISOString(),
    };
  }

  cancel(id: string): void {
    this.get(id).cancelled = true;
  }

  private get(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new ApiError(404, 'not.found', `Analytics job ${id} was not found.`);
    return job;
  }

  private state(job: Job, nowMs: number): string {
    if (job.cancelled) return 'CANCELLED';
    const t = this.timing();
    const age = nowMs - job.createdMs;
    if (age < t.queuedMs) return 'QUEUED';
    if (age < t.queuedMs + t.pendingMs) return 'PENDING';
    if (job.outcome === 'FAILED') return 'FAILED';
    if (job.outcome === 'EXPIRED' || age > t.queuedMs + t.pendingMs + t.expiryMs) return 'EXPIRED';
    return 'FULFILLED';
  }

  /** The job's matches; data the lake does not hold yet (after the watermark) is silently left out. */
  private compute(job: Job): Candidate[] {
    const interval = parseInterval(job.body.interval);
    const filters = parseFilters(job.body);
    // Lifetime overlap ("had activity during the interval"); start-day matching is a filter on
    // top of it: only conversations that started on or after the start of the interval's first
    // UTC day (no conversation lasts a day, so overlap looks back one day at most).
    const startOfDay = job.body.startOfDayIntervalMatching === true;
    const firstDay = Math.floor(interval.startMs / DAY_MS);
    const fromDay = firstDay - (startOfDay ? 0 : 1);
    const toDay = Math.floor((interval.endMs - 1) / DAY_MS);
    const inLake = (c: Candidate) => c.endMs < job.watermarkMs;
    const matchesInterval = (c: Candidate) =>
      overlaps(c, interval, Infinity) && (!startOfDay || c.startMs >= firstDay * DAY_MS);
    const list = candidates(this.org, fromDay, toDay, c => matchesInterval(c) && inLake(c));
    sortCandidates(list, job.body.order, job.body.orderBy);
    const limit = typeof job.body.limit === 'number' ? job.body.limit : Infinity;
    const out: Candidate[] = [];
    for (const c of list) {
      if (out.length >= limit) break;
      if (filters.length > 0) {
        const conv = this.org.conversation(c.day, c.index);
        if (!filters.every(f => evalFilter(conv, f, job.watermarkMs))) continue;
      }
      out.push(c);
    }
    return out;
  }
}

/** Days (YYYY-MM-DD) touched by an instant range, for ground-truth listings. */
export function utcDaysBetween(startMs: number, endMs: number): string[] {
  const out: string[] = [];
  for (let d = Math.floor(startMs / DAY_MS); d <= Math.floor((endMs - 1) / DAY_MS); d++)
    out.push(dayOfNumber(d));
  return out;
}
