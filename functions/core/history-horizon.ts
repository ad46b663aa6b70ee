/**
 * How far back the analytics jobs API can enumerate conversations: the
 * history horizon. Older days are not planned (an empty plan would call a
 * day complete that nobody could enumerate); they are reported instead.
 *
 * Two bounds, the nearer wins:
 * - the organisation's maximum interaction data retention
 *   (`GET /api/v2/analytics/dataretention/settings`, `retentionDays`), past
 *   which Genesys Cloud deletes conversations and their recordings; when
 *   none is set, data is kept for the contract's lifetime;
 * - ANALYTICS_HORIZON_DAYS (five years by default), how far back the
 *   analytics jobs API is relied on: Genesys documents other means (recording
 *   bulk jobs' `agedConversationInterval`) for conversations older than five
 *   years. Not verified against a real organisation: what a jobs query for
 *   an older day answers.
 * A day is enumerable when its whole window lies within the horizon: on or
 * after `today - N + 1`. Pure.
 */
import {Day, addDays, dayOf} from './time-window';

export interface HistoryHorizon {
  /** The oldest day enumerable. */
  oldest: Day;
  /** What set it, in a sentence fragment for messages. */
  basis: string;
}

/** What Genesys said of the organisation's retention: days, none set, or no answer (why). */
export type RetentionAnswer = {retentionDays: number} | {none: true} | {unknown: string};

export function historyHorizon(
  nowMs: number,
  timeZone: string,
  horizonDays: number,
  retention: RetentionAnswer,
): HistoryHorizon {
  const today = dayOf(nowMs, timeZone);
  const configured = `ANALYTICS_HORIZON_DAYS (${horizonDays} days: the analytics jobs API is relied on that far back)`;
  if ('retentionDays' in retention && retention.retentionDays < horizonDays)
    return {
      oldest: addDays(today, -retention.retentionDays + 1),
      basis: `the organisation's maximum interaction data retention (${retention.retentionDays} days; older conversations and their recordings are deleted)`,
    };
  const note =
    'unknown' in retention
      ? `; the organisation's data retention setting is unknown (${retention.unknown})`
      : '';
  return {oldest: addDays(today, -horizonDays + 1), basis: `${configured}${note}`};
}

/** The days of `days` before the horizon. */
export function beyondHorizon(days: readonly Day[], horizon: HistoryHorizon): Day[] {
  return days.filter(d => d < horizon.oldest);
}

/** Why `day` is not planned. */
export function beyondHorizonMessage(day: Day, horizon: HistoryHorizon): string {
  return (
    `${day} is before the history horizon (${horizon.oldest}, set by ${horizon.basis}): ` +
    'the analytics jobs API cannot be relied on to enumerate its conversations, so it is not planned: an empty plan would call it complete'
  );
}

/** ANALYTICS_HORIZON_DAYS' default: five years. */
export const DEFAULT_HORIZON_DAYS = 1826;

/** The shortest maximum retention Genesys Cloud allows: days younger than this need no question. */
export const MIN_RETENTION_DAYS = 90;
