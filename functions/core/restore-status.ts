/**
 * `grm restore status`: where the restores of archived recordings stand, from
 * the planner's record and its queue. Pure: the record in, a summary and its
 * text out.
 */
import {monthOf, totalCalls} from './monthly-calls';
import type {RestoreRecord, RefusedRestore} from './restore-record';

export interface RestoreStatus {
  outstanding: {queued: number; requested: number; restored: number};
  /** Recordings queued by decided days and not taken in yet, by day. */
  waiting: Array<{day: string; recordings: number}>;
  /** The oldest restore asked for and not yet restored. */
  oldestRequest?: {recordingId: string; day: string; requestedAt: string; hours: number};
  totals: RestoreRecord['totals'];
  /** The latest refusals, newest first (at most 10). */
  refused: RefusedRestore[];
  /** Genesys calls the restores made this month (UTC) and in all. */
  calls: {thisMonth: number; total: number};
  updatedAt?: string;
}

export function restoreStatus(
  record: RestoreRecord | undefined,
  waiting: Array<{day: string; recordings: number}>,
  nowMs: number,
): RestoreStatus {
  const entries = record?.entries ?? [];
  const count = (s: string) => entries.filter(e => e.state === s).length;
  const requested = entries
    .filter(e => e.state === 'requested' && e.requestedAt)
    .sort((a, b) => Date.parse(a.requestedAt!) - Date.parse(b.requestedAt!))[0];
  return {
    outstanding: {
      queued: count('queued'),
      requested: count('requested'),
      restored: count('restored'),
    },
    waiting,
    ...(requested
      ? {
          oldestRequest: {
            recordingId: requested.recordingId,
            day: requested.day,
            requestedAt: requested.requestedAt!,
            hours: Math.round(((nowMs - Date.parse(requested.requestedAt!)) / 3_600_000) * 10) / 10,
          },
        }
      : {}),
    totals: record?.totals ?? {requested: 0, restored: 0, replayed: 0, refused: 0, lapsed: 0},
    refused: (record?.refused ?? []).slice(-10).reverse(),
    calls: {
      thisMonth: record?.calls?.[monthOf(nowMs)] ?? 0,
      total: totalCalls(record?.calls),
    },
    ...(record ? {updatedAt: record.updatedAt} : {}),
  };
}

export function restoreStatusText(s: RestoreStatus): string {
  const o = s.outstanding;
  const t = s.totals;
  const lines = [
    `Restores of archived recordings${s.updatedAt ? ` (last tick ${s.updatedAt})` : ''}`,
    `  outstanding: ${o.queued} queued, ${o.requested} asked of Genesys Cloud, ${o.restored} restored and being exported`,
    `  waiting to be taken in: ${
      s.waiting.length === 0 ? 'none' : s.waiting.map(w => `${w.day} (${w.recordings})`).join(', ')
    }`,
    `  so far: ${t.requested} restores asked for, ${t.restored} restored, ${t.replayed} exported again, ${t.lapsed} asked again (not restored by an earlier request), ${t.refused} refused`,
    `  Genesys calls: ${s.calls.thisMonth} this month, ${s.calls.total} in all (a migration's monthly cap counts them)`,
  ];
  if (s.oldestRequest)
    lines.push(
      `  oldest request: ${s.oldestRequest.recordingId} of ${s.oldestRequest.day}, asked ${s.oldestRequest.requestedAt} (${s.oldestRequest.hours} h ago)`,
    );
  if (s.refused.length > 0) {
    lines.push('  refused (no restore brings them back; their days stay _FAILURE):');
    for (const r of s.refused)
      lines.push(`    ${r.day} ${r.recordingId} (conversation ${r.conversationId}): ${r.reason}`);
  }
  return lines.join('\n');
}
