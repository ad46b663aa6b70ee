/**
 * Object retention (write-once): what the worker sets on each recording and
 * metadata object it creates, and whether an object still carries the
 * retention it was given. Pure.
 */
import type {ObjectRetention} from '../ports';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionSettings {
  /** Days from creation; 0: none. */
  days: number;
  mode: 'unlocked' | 'locked';
}

/** The retention a new object gets now, or undefined when retention is off. */
export function retentionFor(
  settings: RetentionSettings | undefined,
  nowMs: number,
): ObjectRetention | undefined {
  if (!settings || settings.days <= 0) return undefined;
  return {
    mode: settings.mode === 'locked' ? 'Locked' : 'Unlocked',
    retainUntilTime: new Date(nowMs + settings.days * DAY_MS).toISOString(),
  };
}

/** The retention a new object gets now, as write options (none when retention is off). */
export function retentionOption(
  settings: RetentionSettings | undefined,
  nowMs: number,
): {retention?: ObjectRetention} {
  const retention = retentionFor(settings, nowMs);
  return retention ? {retention} : {};
}

/**
 * What is wrong with an object's retention against the one recorded when it
 * was written: undefined when it is at least as strong (same mode or locked,
 * and ending no earlier). A retention that ended on its own is not a fault.
 */
export function retentionProblem(
  recorded: ObjectRetention,
  actual: ObjectRetention | undefined,
  nowMs: number,
): string | undefined {
  const until = Date.parse(recorded.retainUntilTime);
  if (!actual) {
    return until > nowMs
      ? `its retention (${recorded.mode} until ${recorded.retainUntilTime}) was removed`
      : undefined;
  }
  if (Date.parse(actual.retainUntilTime) < until)
    return `its retention was shortened from ${recorded.retainUntilTime} to ${actual.retainUntilTime}`;
  if (recorded.mode === 'Locked' && actual.mode !== 'Locked')
    return `its retention was unlocked (recorded Locked, now ${actual.mode})`;
  return undefined;
}
