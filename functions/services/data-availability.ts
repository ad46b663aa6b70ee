/**
 * Whether Genesys Cloud can enumerate the days a planner is asked for: their
 * analytics data is complete (the data availability watermark is past each
 * day's window), and no day lies before the history horizon
 * (core/history-horizon.ts), which only days older than the shortest
 * retention Genesys allows need to ask about.
 */
import {BeyondHorizonError, InputError, PermanentError} from '../core/errors';
import {
  DEFAULT_HORIZON_DAYS,
  MIN_RETENTION_DAYS,
  RetentionAnswer,
  beyondHorizon,
  beyondHorizonMessage,
  historyHorizon,
} from '../core/history-horizon';
import {Day, windowOf} from '../core/time-window';
import type {GenesysSession} from '../ports';

export interface DataSettings {
  timeZone: string;
  /** ANALYTICS_HORIZON_DAYS (default {@link DEFAULT_HORIZON_DAYS}). */
  horizonDays?: number;
  nowMs: number;
}

/**
 * InputError (409) unless Genesys' analytics data is complete for every
 * day's window; BeyondHorizonError (422) for a day before the history
 * horizon, which nothing could enumerate.
 */
export async function requireData(
  session: GenesysSession,
  days: readonly Day[],
  settings: DataSettings,
): Promise<void> {
  const {timeZone, horizonDays = DEFAULT_HORIZON_DAYS, nowMs} = settings;
  const watermark = await session.dataAvailability();
  for (const day of days) {
    const window = windowOf(day, timeZone);
    if (watermark < window.endMs) {
      throw new InputError(
        `analytics data for ${day} is not complete yet: Genesys reports data available up to ` +
          `${new Date(watermark).toISOString()}, the window ends ${new Date(window.endMs).toISOString()}`,
        409,
      );
    }
  }
  // Days younger than the shortest retention Genesys allows need no question (the nightly run).
  const recent = historyHorizon(nowMs, timeZone, MIN_RETENTION_DAYS, {none: true});
  if (beyondHorizon(days, recent).length === 0) return;
  let retention: RetentionAnswer;
  try {
    retention = await session.analyticsRetention();
  } catch (err) {
    if (!(err instanceof PermanentError)) throw err;
    retention = {
      unknown: `Genesys would not say: ${(err as Error).message}; the OAuth client may lack analytics:dataRetention:view`,
    };
  }
  const horizon = historyHorizon(nowMs, timeZone, horizonDays, retention);
  const [day] = beyondHorizon(days, horizon);
  if (day) throw new BeyondHorizonError(beyondHorizonMessage(day, horizon), day, horizon.oldest);
}
