/**
 * The day's recordings index (docs/sql.md): one row per recording of the
 * day's decision — exported, skipped, failed or waived, with its reason —
 * plus one row per conversation whose recordings could not be read at all,
 * written as newline-delimited JSON under a Hive-style partition
 * (`day=YYYY-MM-DD`) that a BigQuery external table reads.
 *
 * The rows follow recordings-schema.json, BigQuery's own schema format; the
 * table of infra/bigquery.tf is created from the same file. The `day` column
 * is the table's partition key: BigQuery takes it from the object's path, and
 * a column of the same name in the file is not allowed (its Hive partitioning
 * limitations), so rows never carry it.
 *
 * Built from exactly what the day's verdict was computed from (the reports as
 * the bucket confirmed them, the gaps outside the plan, the waivers), so the
 * index says what the marker says. Rows are generated one at a time and
 * validated against the schema as they are written.
 *
 * Pure.
 */
import {RECORDING_TYPES, RecordingType} from './content-types';
import {ConversationAttributes, sanitizeAttributes} from './conversation-attributes';
import type {DayOutcome, Gap, ReportRef} from './day-outcome';
import type {DayPlan} from './day-plan';
import type {BatchReport, ReportConversation, ReportRecording} from './report';
import schemaFile from './recordings-schema.json';

/** A column of a BigQuery table schema (the JSON format of `bq` and of Terraform's `schema`). */
export interface BigQueryField {
  name: string;
  type: 'STRING' | 'INTEGER' | 'FLOAT' | 'BOOLEAN' | 'TIMESTAMP' | 'DATE' | 'RECORD';
  mode: 'NULLABLE' | 'REQUIRED' | 'REPEATED';
  description?: string;
  fields?: BigQueryField[];
}

/** The Hive partition key of the index's path: the table's `day` column (DATE). */
export const INDEX_PARTITION_KEY = 'day';

const TYPES = new Set(['STRING', 'INTEGER', 'FLOAT', 'BOOLEAN', 'TIMESTAMP', 'DATE', 'RECORD']);
const MODES = new Set(['NULLABLE', 'REQUIRED', 'REPEATED']);

/** The problems of a schema file: what BigQuery would refuse, or this module cannot check. */
export function schemaProblems(value: unknown, path = ''): string[] {
  if (!Array.isArray(value) || value.length === 0)
    return [`${path || 'schema'}: not a list of fields`];
  const problems: string[] = [];
  const names = new Set<string>();
  for (const f of value as Array<Partial<BigQueryField>>) {
    const at = `${path}${String(f?.name)}`;
    if (typeof f?.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,299}$/.test(f.name))
      problems.push(`${at}: not a column name`);
    else if (names.has(f.name.toLowerCase())) problems.push(`${at}: a second column of that name`);
    else names.add(f.name.toLowerCase());
    if (!TYPES.has(String(f?.type)))
      problems.push(`${at}: type ${String(f?.type)} is not supported`);
    if (!MODES.has(String(f?.mode)))
      problems.push(`${at}: mode ${String(f?.mode)} is not given or unknown`);
    if ((f?.type === 'RECORD') !== (f?.fields !== undefined))
      problems.push(`${at}: fields belong to RECORD columns, and every RECORD has some`);
    if (f?.type === 'RECORD') problems.push(...schemaProblems(f.fields, `${at}.`));
  }
  if (!path && names.has(INDEX_PARTITION_KEY))
    problems.push(`${INDEX_PARTITION_KEY}: the partition key must not be a column of the file`);
  return problems;
}

function loadSchema(value: unknown): readonly BigQueryField[] {
  const problems = schemaProblems(value);
  if (problems.length > 0) throw new Error(`recordings-schema.json: ${problems.join('; ')}`);
  return value as BigQueryField[];
}

/** The index's columns (recordings-schema.json). */
export const RECORDINGS_SCHEMA: readonly BigQueryField[] = loadSchema(schemaFile);

export interface IndexParticipant {
  purpose: string;
  user_id?: string;
  queue_ids?: string[];
}

/** One row of the index, as recordings-schema.json describes it. */
export interface IndexRow {
  conversation_id: string;
  conversation_start?: string;
  recording_id?: string;
  media_type?: RecordingType;
  source_media?: string;
  file_state?: string;
  object_name?: string;
  size_bytes?: number;
  content_type?: string;
  md5_hash?: string;
  crc32c?: string;
  outcome: 'exported' | 'skipped' | 'failed' | 'waived';
  reason?: string;
  waiver?: {reason: string; waived_by: string; waived_at: string; object: string};
  direction?: string;
  division_ids?: string[];
  wrap_up_codes?: string[];
  participants?: IndexParticipant[];
  batch_id: string;
  run_id: string;
  decided_at: string;
}

/** BigQuery's JSON TIMESTAMP as written here: ISO 8601 in UTC. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar instant in the written form (2026-02-30 is not one). */
function validInstant(s: string): boolean {
  const iso = s.length === 10 ? `${s}T00:00:00Z` : s;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === iso.slice(0, 19);
}

function valueProblem(f: BigQueryField, v: unknown): string | undefined {
  switch (f.type) {
    case 'STRING':
      return typeof v === 'string' ? undefined : 'not a string';
    case 'INTEGER':
      return Number.isSafeInteger(v) ? undefined : 'not an integer';
    case 'FLOAT':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'not a number';
    case 'BOOLEAN':
      return typeof v === 'boolean' ? undefined : 'not a boolean';
    case 'TIMESTAMP':
      return typeof v === 'string' && TIMESTAMP.test(v) && validInstant(v)
        ? undefined
        : 'not a TIMESTAMP (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)';
    case 'DATE':
      return typeof v === 'string' && DATE.test(v) && validInstant(v)
        ? undefined
        : 'not a DATE (YYYY-MM-DD)';
    case 'RECORD':
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'not an object';
  }
}

/**
 * Why a row does not fit the schema (no problem: it does): unknown columns,
 * REQUIRED columns missing or null, values of the wrong type or form, REPEATED
 * columns that are not lists of values.
 */
export function rowProblems(
  row: unknown,
  fields: readonly BigQueryField[] = RECORDINGS_SCHEMA,
  path = '',
): string[] {
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    return [`${path || 'row'}: not an object`];
  const problems: string[] = [];
  const byName = new Map(fields.map(f => [f.name, f]));
  for (const key of Object.keys(row))
    if (!byName.has(key)) problems.push(`${path}${key}: not a column of the schema`);
  for (const f of fields) {
    const at = `${path}${f.name}`;
    const v = (row as Record<string, unknown>)[f.name];
    if (v === undefined || v === null) {
      if (f.mode === 'REQUIRED') problems.push(`${at}: required`);
      continue;
    }
    const values = f.mode === 'REPEATED' ? v : [v];
    if (!Array.isArray(values)) {
      problems.push(`${at}: REPEATED, not a list`);
      continue;
    }
    values.forEach((x: unknown, i) => {
      const here = f.mode === 'REPEATED' ? `${at}[${i}]` : at;
      const problem = x === null ? 'null in a list' : valueProblem(f, x);
      if (problem) problems.push(`${here}: ${problem}`);
      else if (f.type === 'RECORD') problems.push(...rowProblems(x, f.fields!, `${here}.`));
    });
  }
  return problems;
}

/** What the index is built from: the inputs of the day's verdict, and the verdict. */
export interface IndexSource {
  /** The day's plan with every batch's conversation ids. */
  plan: DayPlan;
  /** One report per planned batch, as decideDay got them (confirmed against the bucket). */
  reports: ReportRef[];
  /** Recordings stored for conversations the plan lacks (confirmClaims). */
  unplanned: Gap[];
  outcome: Pick<DayOutcome, 'runId' | 'waived'>;
  /** When the outcome was decided (the ledger's decidedAt). */
  decidedAt: string;
}

const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;

/** A report's timestamp in BigQuery's form, or undefined when it is none (or out of its range). */
function timestamp(v: unknown): string | undefined {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  const iso = Number.isFinite(ms) ? new Date(ms).toISOString() : '';
  return TIMESTAMP.test(iso) ? iso : undefined;
}

function attributeColumns(a: ConversationAttributes | undefined): Partial<IndexRow> {
  if (!a) return {};
  return {
    direction: a.direction,
    division_ids: a.divisionIds,
    wrap_up_codes: a.wrapUpCodes,
    participants: a.participants?.map(p => ({
      purpose: p.purpose,
      user_id: p.userId,
      queue_ids: p.queueIds,
    })),
  };
}

type Common = Pick<IndexRow, 'run_id' | 'decided_at' | 'batch_id'>;

function conversationColumns(c: ReportConversation, common: Common) {
  return {
    conversation_id: c.conversationId,
    conversation_start: timestamp(c.conversationStart),
    ...attributeColumns(sanitizeAttributes(c.attributes)),
    ...common,
  };
}

const waiverKey = (conversationId: string, recordingId: string) =>
  `${conversationId}/${recordingId}`;

function recordingColumns(
  r: ReportRecording,
  waived: DayOutcome['waived'][number] | undefined,
): Pick<IndexRow, 'outcome'> & Partial<IndexRow> {
  const type = RECORDING_TYPES.find(t => t === r.type);
  const base = {
    recording_id: text(r.recordingId),
    media_type: type,
    source_media: text(r.media),
    file_state: text(r.fileState),
  };
  if (waived) {
    const w = waived.waiver;
    const at = timestamp(w.at);
    return {
      ...base,
      outcome: 'waived',
      reason: waived.reason,
      ...(at ? {waiver: {reason: w.reason, waived_by: w.by, waived_at: at, object: w.object}} : {}),
    };
  }
  if (r.outcome === 'exported')
    return {
      ...base,
      object_name: text(r.object),
      size_bytes: Number.isSafeInteger(r.size) ? r.size : undefined,
      content_type: text(r.contentType),
      md5_hash: text(r.md5Hash),
      crc32c: text(r.crc32c),
      outcome: 'exported',
    };
  // As decideDay counts them: what is not exported or skipped is failed.
  return r.outcome === 'skipped'
    ? {...base, outcome: 'skipped', reason: text(r.reason) ?? 'skipped'}
    : {...base, outcome: 'failed', reason: text(r.reason) ?? 'failed'};
}

/** What every row of a decided day shares, and the waivers its rows look up. */
export interface RowContext {
  run_id: string;
  decided_at: string;
  waived: ReadonlyMap<string, DayOutcome['waived'][number]>;
}

export function rowContext(
  outcome: Pick<DayOutcome, 'runId' | 'waived'>,
  decidedAt: string,
): RowContext {
  return {
    decided_at: timestamp(decidedAt) ?? decidedAt,
    run_id: outcome.runId,
    waived: new Map(outcome.waived.map(w => [waiverKey(w.conversationId, w.recordingId), w])),
  };
}

/**
 * The index rows of a decided day, one at a time, in plan order: every
 * recording of every planned conversation (as decideDay sees it: a
 * conversation once, in its own batch), a row without recording_id for each
 * conversation whose recordings could not be read or that its batch report
 * lacks, and the recordings stored for conversations outside the plan.
 */
export function* indexRows(src: IndexSource): Generator<IndexRow> {
  const ctx = rowContext(src.outcome, src.decidedAt);
  const byBatch = new Map(src.reports.map(r => [r.report.batchId, r.report]));
  for (const batch of src.plan.batches) yield* batchRows(ctx, batch, byBatch.get(batch.batchId));
  yield* unplannedRows(ctx, src.unplanned);
}

/** The rows of one planned batch (see {@link indexRows}). */
export function* batchRows(
  ctx: RowContext,
  batch: DayPlan['batches'][number],
  report: BatchReport | undefined,
): Generator<IndexRow> {
  const {run_id, decided_at, waived} = ctx;
  const common = {batch_id: batch.batchId, run_id, decided_at};
  const planned = new Set(batch.conversationIds);
  const seen = new Set<string>();
  for (const c of report?.conversations ?? []) {
    if (!planned.has(c.conversationId) || seen.has(c.conversationId)) continue;
    seen.add(c.conversationId);
    const conversation = conversationColumns(c, common);
    if (c.error) yield {...conversation, outcome: 'failed', reason: text(c.error) ?? 'failed'};
    for (const r of c.recordings) {
      const w = waived.get(waiverKey(c.conversationId, String(r.recordingId)));
      yield {...conversation, ...recordingColumns(r, r.outcome === 'failed' ? w : undefined)};
    }
  }
  for (const id of batch.conversationIds) {
    if (seen.has(id)) continue;
    yield {
      conversation_id: id,
      ...common,
      outcome: 'failed',
      reason:
        report?.status === 'failed'
          ? `batch failed: ${report.error ?? 'no reason given'}`
          : 'planned but missing from the batch report',
    };
  }
}

/** The rows of the recordings stored for conversations outside the plan. */
export function* unplannedRows(ctx: RowContext, unplanned: readonly Gap[]): Generator<IndexRow> {
  const {run_id, decided_at, waived} = ctx;
  for (const g of unplanned) {
    const w = g.recordingId ? waived.get(waiverKey(g.conversationId, g.recordingId)) : undefined;
    yield {
      conversation_id: g.conversationId,
      batch_id: g.batchId,
      run_id,
      decided_at,
      ...recordingColumns(
        {
          recordingId: g.recordingId,
          type: g.type,
          outcome: 'failed',
          reason: g.reason,
        } as ReportRecording,
        w,
      ),
    };
  }
}
