/**
 * `grm verify`'s judgement of the checker's own bookkeeping: the reports a
 * marker pins and the recordings index against the day's decided records,
 * the marker's history (nothing decided again after a `_SUCCESS`), its
 * totals against its reports, and whether a rewritten report still records
 * the same export. Pure.
 */
import {sameJson} from './canonical';
import {DecidedRecord, claimsOf} from './decided-records';
import type {ReportRef} from './day-outcome';
import type {DayMarker} from './day-status';
import type {IndexRow} from './recordings-index';
import {BatchReport, countRecording, emptyTotals} from './report';
import type {Finding} from './verify';

function recordedAs(r: DecidedRecord): string {
  return `generation ${r.generation} (${r.size} bytes, MD5 ${r.md5Hash}), first recorded by run ${r.runId}'s decision of ${r.decidedAt}`;
}

/**
 * What the reports the marker pins say of recorded objects, against the
 * records: a report that records an object otherwise, or one the records do
 * not hold, was rewritten after a decision accepted it.
 */
export function reportsAgainstRecords(
  reports: readonly ReportRef[],
  records: ReadonlyMap<string, DecidedRecord>,
): Finding[] {
  const out: Finding[] = [];
  for (const {claim, report} of claimsOf(reports)) {
    const r = records.get(claim.object);
    const at = {
      object: claim.object,
      conversationId: claim.conversationId,
      ...(claim.recordingId ? {recordingId: claim.recordingId} : {}),
    };
    if (!r)
      out.push({
        kind: 'altered',
        ...at,
        detail: `report ${report} records generation ${claim.generation}; no decision of the day recorded this object`,
      });
    else if (
      r.generation !== claim.generation ||
      r.md5Hash !== claim.md5Hash ||
      r.size !== claim.size
    )
      out.push({
        kind: 'altered',
        ...at,
        detail: `report ${report} records generation ${claim.generation} (${claim.size} bytes, MD5 ${claim.md5Hash}); the day's record is ${recordedAs(r)}`,
      });
  }
  return out;
}

/** One decision of the day, as the marker's history (and the marker itself) records it. */
export interface DecisionEntry {
  runId: string;
  status: string;
  fingerprint?: string;
  decidedAt?: string;
  /** The reports whose generation this decision was the first of its run to read. */
  changed?: Array<{object: string; generation: string}>;
}

function described(d: DecisionEntry): string {
  const marker = d.status === 'success' ? '_SUCCESS' : '_FAILURE';
  const when = d.decidedAt ? ` decided ${d.decidedAt}` : '';
  const from = d.changed?.length
    ? ` from ${d.changed.map(c => `${c.object}#${c.generation}`).join(', ')}`
    : '';
  return `${marker}${when}${from}`;
}

/**
 * The marker's own history: once a run is `_SUCCESS`, anything that run
 * decides after it (a `_FAILURE`, another `_SUCCESS`, even one back to the
 * same outcome) means its reports were rewritten after the day was
 * complete. A new run an operator asked for starts its own history.
 */
export function redecidedAfterSuccess(marker: {
  runId: string;
  status?: string;
  fingerprint: string;
  decidedAt?: string;
  changed?: DecisionEntry['changed'];
  history?: DecisionEntry[];
}): string | undefined {
  const current: DecisionEntry = {
    runId: marker.runId,
    status: marker.status ?? 'success',
    fingerprint: marker.fingerprint,
    ...(marker.decidedAt ? {decidedAt: marker.decidedAt} : {}),
    ...(marker.changed ? {changed: marker.changed} : {}),
  };
  const entries = [...(marker.history ?? []), current];
  const first = entries.findIndex(h => h.status === 'success');
  for (let i = first; i >= 0 && i < entries.length; i++) {
    const success = entries[i]!;
    if (success.status !== 'success') continue;
    const after = entries.slice(i + 1).filter(h => h.runId === success.runId);
    if (after.length === 0) continue;
    return (
      `run ${success.runId} was already _SUCCESS (${described(success)}) and was decided again: ` +
      `${after.map(described).join('; then ')}. Its reports were rewritten after the day was complete`
    );
  }
  return undefined;
}

/**
 * Whether two generations of a report record the same export: the same
 * conversations with the same outcomes and objects (the attempt, message and
 * times that a rewrite changes are not the record), compared by meaning: the
 * order of conversations and of any record's fields does not matter (a
 * replay's merge puts the replayed conversations last).
 */
export function sameRecord(a: BatchReport, b: BatchReport): boolean {
  const byId = (r: BatchReport) =>
    [...r.conversations].sort((x, y) =>
      x.conversationId < y.conversationId ? -1 : x.conversationId > y.conversationId ? 1 : 0,
    );
  return sameJson(byId(a), byId(b));
}

/** Where the recordings index disagrees with the records (one finding per disagreement). */
export function indexAgainstRecords(
  indexName: string,
  rows: readonly IndexRow[],
  records: ReadonlyMap<string, DecidedRecord>,
): Finding[] {
  const out: Finding[] = [];
  const exported = new Map<string, IndexRow>();
  for (const row of rows)
    if (row.outcome === 'exported' && row.object_name) exported.set(row.object_name, row);
  for (const r of records.values()) {
    if (r.what !== 'recording') continue;
    const row = exported.get(r.object);
    const at = {object: indexName, conversationId: r.conversationId, recordingId: r.recordingId!};
    if (!row) {
      out.push({
        kind: 'altered',
        ...at,
        detail: `no exported row for ${r.object}, which a decision recorded`,
      });
      continue;
    }
    const diffs: string[] = [];
    if (row.size_bytes !== r.size) diffs.push(`size ${String(row.size_bytes)}`);
    if (row.md5_hash !== r.md5Hash) diffs.push(`MD5 ${String(row.md5_hash)}`);
    if (r.crc32c !== undefined && row.crc32c !== r.crc32c)
      diffs.push(`CRC32C ${String(row.crc32c)}`);
    if (diffs.length > 0)
      out.push({
        kind: 'altered',
        ...at,
        detail: `its row of ${r.object} says ${diffs.join(', ')}; the record is ${recordedAs(r)}`,
      });
  }
  for (const [object, row] of exported)
    if (!records.has(object))
      out.push({
        kind: 'altered',
        object: indexName,
        conversationId: row.conversation_id,
        ...(row.recording_id ? {recordingId: row.recording_id} : {}),
        detail: `an exported row of ${object}, which no decision recorded`,
      });
  return out;
}

/** The marker's exported totals against what its reports record. */
export function totalsAgainstReports(
  markerName: string,
  marker: DayMarker,
  reports: Array<{report: BatchReport}>,
): Finding[] {
  // Counted as the checker counts (core/report.ts), each conversation once.
  const all = emptyTotals();
  const seen = new Set<string>();
  for (const {report} of reports)
    for (const c of report.conversations) {
      if (seen.has(c.conversationId)) continue;
      seen.add(c.conversationId);
      for (const r of c.recordings) countRecording(all, r);
    }
  const {exported, bytes} = all;
  const said = marker.totals?.all;
  if (!said || (said.exported === exported && said.bytes === bytes)) return [];
  return [
    {
      kind: 'altered',
      object: markerName,
      detail: `it says ${said.exported} recordings (${said.bytes} bytes) were exported; its reports record ${exported} (${bytes} bytes)`,
    },
  ];
}
