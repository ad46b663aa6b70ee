/**
 * What `grm migrate status` and `grm migrate FROM..TO --estimate` say: a
 * migration's progress from its record and its days' states, and the cost
 * of a span from sampled days, the configured clients and the share.
 */
import type {DayState} from './day-status';
import {formatBytes} from './human-format';
import {MigrationRecord, spanDays} from './migration';
import {monthOf, totalCalls} from './monthly-calls';
import {PLANNER_RESERVE} from './budget';
import {NightlyHold, holdText} from './quiet-window';

export interface MigrationStatus {
  id: string;
  state: MigrationRecord['state'];
  pause?: MigrationRecord['pause'];
  from: string;
  to: string;
  days: {
    total: number;
    success: number;
    failure: number;
    running: number;
    skipped: number;
    /** Before the history horizon: not enumerable, never planned. */
    beyond: number;
    left: number;
  };
  failed: string[];
  /** The days before the history horizon, as a range, and why (absent when none). */
  beyond?: {from: string; to: string; why: string};
  recordings: number;
  bytes: number;
  calls: {thisMonth: number; total: number; monthlyCap?: number};
  /** Days decided per hour and Genesys calls per minute, since the migration started. */
  rate: {daysPerHour: number; callsPerMinute: number};
  /** When the last day is expected to be decided, at the measured rate (absent before a day is). */
  eta?: string;
  current?: MigrationRecord['current'];
  /** Set while it holds for the nightly run (the quiet window before it). */
  quiet?: NightlyHold;
}

/** The status from the record and the states of its planned days. */
export function migrationStatus(
  m: MigrationRecord,
  planned: readonly DayState[],
  nowMs: number,
): MigrationStatus {
  const success = planned.filter(s => s.state === 'success');
  const failure = planned.filter(s => s.state === 'failure');
  const decided = success.length + failure.length;
  let recordings = 0;
  let bytes = 0;
  for (const s of [...success, ...failure])
    for (const t of Object.values(s.totals ?? {})) {
      recordings += t.exported;
      bytes += t.bytes;
    }
  const total = spanDays(m);
  const beyond = [...(m.beyond ?? [])].sort();
  const left = total - planned.length - m.skipped - beyond.length;
  const callsTotal = totalCalls(m.calls);
  const hours = Math.max((nowMs - Date.parse(m.createdAt)) / 3600_000, 1 / 60);
  const daysPerHour = (decided + m.skipped) / hours;
  const remaining = total - decided - m.skipped - beyond.length;
  const eta =
    daysPerHour > 0 && remaining > 0 && (m.state === 'running' || m.state === 'paused')
      ? new Date(nowMs + (remaining / daysPerHour) * 3600_000).toISOString()
      : undefined;
  return {
    id: m.id,
    state: m.state,
    ...(m.pause ? {pause: m.pause} : {}),
    from: m.from,
    to: m.to,
    days: {
      total,
      success: success.length,
      failure: failure.length,
      running: planned.length - decided,
      skipped: m.skipped,
      beyond: beyond.length,
      left,
    },
    failed: failure.map(s => s.day),
    ...(beyond.length > 0
      ? {
          beyond: {
            from: beyond[0]!,
            to: beyond.at(-1)!,
            why: m.horizon ?? 'before the history horizon',
          },
        }
      : {}),
    recordings,
    bytes,
    calls: {
      thisMonth: m.calls[monthOf(nowMs)] ?? 0,
      total: callsTotal,
      ...(m.monthlyCallCap !== undefined ? {monthlyCap: m.monthlyCallCap} : {}),
    },
    rate: {daysPerHour, callsPerMinute: callsTotal / (hours * 60)},
    ...(eta ? {eta} : {}),
    ...(m.current ? {current: m.current} : {}),
    ...(m.quiet && m.state === 'running' ? {quiet: m.quiet} : {}),
  };
}

export function migrationStatusText(s: MigrationStatus): string {
  const d = s.days;
  const lines = [
    `Migration ${s.id}: ${s.from} to ${s.to}, ${s.state}` +
      (s.pause
        ? ` (${s.pause.by === 'monthly-cap' ? `at its monthly call cap; resumes in ${s.pause.untilMonth}` : 'by an operator'} since ${s.pause.at})`
        : ''),
    `Days: ${d.success} _SUCCESS, ${d.failure} _FAILURE, ${d.running} running, ${d.skipped} skipped (_SUCCESS before), ` +
      `${d.beyond > 0 ? `${d.beyond} beyond the history horizon, ` : ''}${d.left} left, of ${d.total}`,
    `Exported: ${s.recordings} recordings, ${formatBytes(s.bytes)}`,
    `Genesys calls: ${s.calls.thisMonth} this month` +
      (s.calls.monthlyCap !== undefined ? ` (cap ${s.calls.monthlyCap})` : '') +
      `, ${s.calls.total} in total`,
    `Rate: ${s.rate.daysPerHour.toFixed(1)} days an hour, ${s.rate.callsPerMinute.toFixed(0)} calls a minute` +
      (s.eta ? `; done about ${s.eta.slice(0, 16).replace('T', ' ')} UTC` : ''),
  ];
  if (s.beyond)
    lines.push(
      `Not enumerable: ${s.days.beyond} days from ${s.beyond.from} to ${s.beyond.to}, never planned nor called complete: ${s.beyond.why}`,
    );
  if (s.quiet) lines.push(`Holding: ${holdText(s.quiet)}`);
  if (s.current)
    lines.push(
      `On: ${s.current.day} (run ${s.current.runId}), ${s.current.published} of ${s.current.batches} batches published`,
    );
  if (s.failed.length > 0)
    lines.push(
      `_FAILURE: ${s.failed.slice(0, 20).join(', ')}${s.failed.length > 20 ? ', …' : ''} (grm gaps DAY)`,
    );
  return lines.join('\n');
}

/** GCS list prices per GiB-month (USD) of a regional bucket; they vary by region. */
export const STORAGE_PRICES = {
  STANDARD: 0.02,
  NEARLINE: 0.01,
  COLDLINE: 0.004,
  ARCHIVE: 0.0012,
} as const;

/** Genesys calls per conversation in full mode (docs/throughput.md): recordingmetadata, details, downloads, polls. */
export const CALLS_PER_CONVERSATION = 1.05;

export interface EstimateInput {
  days: number;
  /** Conversations of sampled days. */
  samples: Array<{day: string; conversations: number}>;
  clients: number;
  perClientPerMinute: number;
  perTokenPerMinute: number;
  workers: number;
  sharePercent: number;
  bytesPerConversation: number;
  /** Where bytesPerConversation came from. */
  bytesBasis: string;
}

export interface Estimate {
  days: number;
  conversationsPerDay: number;
  conversations: number;
  calls: number;
  callsPerMinute: number;
  hours: number;
  bytes: number;
  bytesBasis: string;
  costPerMonth: Record<keyof typeof STORAGE_PRICES, number>;
  samples: EstimateInput['samples'];
}

/**
 * A span's cost: conversations from the sampled days' mean, calls at
 * CALLS_PER_CONVERSATION, the migration's rate (its share of the workers'
 * part of every client's limit, no more than the workers' tokens allow),
 * bytes at the given size a conversation, storage at list prices.
 */
export function estimateMigration(i: EstimateInput): Estimate {
  const perDay =
    i.samples.length === 0
      ? 0
      : i.samples.reduce((a, s) => a + s.conversations, 0) / i.samples.length;
  const conversations = Math.round(perDay * i.days);
  const calls = Math.round(conversations * CALLS_PER_CONVERSATION);
  const workersPool = Math.min(
    i.perClientPerMinute * (1 - PLANNER_RESERVE),
    i.perTokenPerMinute * Math.max(1, i.workers),
  );
  const callsPerMinute = i.clients * workersPool * (i.sharePercent / 100);
  const bytes = conversations * i.bytesPerConversation;
  const gib = bytes / 1024 ** 3;
  const cost = Object.fromEntries(
    Object.entries(STORAGE_PRICES).map(([k, p]) => [k, gib * p]),
  ) as Estimate['costPerMonth'];
  return {
    days: i.days,
    conversationsPerDay: perDay,
    conversations,
    calls,
    callsPerMinute,
    hours: callsPerMinute > 0 ? calls / callsPerMinute / 60 : Infinity,
    bytes,
    bytesBasis: i.bytesBasis,
    costPerMonth: cost,
    samples: i.samples,
  };
}

export function estimateText(e: Estimate): string {
  const usd = (n: number) => `$${n.toFixed(2)}`;
  return [
    `Estimate for ${e.days} days (sampled ${e.samples.map(s => `${s.day}: ${s.conversations}`).join(', ')}):`,
    `  conversations  ${e.conversations} (${e.conversationsPerDay.toFixed(0)} a day)`,
    `  Genesys calls  ${e.calls} (${CALLS_PER_CONVERSATION} a conversation, full metadata mode)`,
    `  time           ${e.hours.toFixed(1)} hours at ${e.callsPerMinute.toFixed(0)} calls a minute (the migration's share, nightly runs aside)`,
    `  bytes          ${formatBytes(e.bytes)} (${e.bytesBasis})`,
    `  storage a month: ${Object.entries(e.costPerMonth)
      .map(([k, v]) => `${k} ${usd(v)}`)
      .join(', ')} (list prices per GiB-month of a regional bucket; they vary by region)`,
  ].join('\n');
}
