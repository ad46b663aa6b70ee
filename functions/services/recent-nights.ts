/**
 * The states of the nights before a day, for the strip in the developer
 * email: each night's decision as the checker recorded it in its ledger
 * (not a marker's mere presence, which anyone with write access could
 * fake), else whether it was planned; never a report. A night that cannot
 * be read is left out of the strip rather than shown as something it may
 * not be.
 */
import type {Night} from '../core/emails';
import type {DayStateName} from '../core/day-status';
import {decisionObjectName, planObjectName} from '../core/object-names';
import {addDays} from '../core/time-window';
import type {Logger} from '../logger';
import type {ObjectStore} from '../ports';
import {readLedger} from './ledger';

/** Nights in the strip, the day itself included. */
export const RECENT_NIGHTS = 30;

async function stateOf(store: ObjectStore, env: string, day: string): Promise<DayStateName> {
  const decided = await readLedger(store, decisionObjectName(env, day));
  if (decided) return decided.value.status === 'success' ? 'success' : 'failure';
  return (await store.stat(planObjectName(env, day))) ? 'running' : 'never planned';
}

/**
 * The `count` nights ending with `day`, oldest first; `day` itself has the
 * state just decided. Reads at most `parallel` nights at once.
 */
export async function recentNights(
  deps: {store: ObjectStore; logger: Logger},
  env: string,
  day: string,
  decided: 'success' | 'failure',
  count = RECENT_NIGHTS,
  parallel = 10,
): Promise<Night[]> {
  const days = Array.from({length: count - 1}, (_, i) => addDays(day, i - (count - 1)));
  const states = new Array<DayStateName | undefined>(days.length);
  let next = 0;
  const work = async () => {
    for (let i = next++; i < days.length; i = next++) {
      try {
        states[i] = await stateOf(deps.store, env, days[i]!);
      } catch (err) {
        deps.logger.warn('could not read a recent night for the email; left out', {
          night: days[i],
          error: err,
        });
      }
    }
  };
  await Promise.all(Array.from({length: Math.min(parallel, days.length)}, work));
  const nights = days.flatMap((d, i) => (states[i] ? [{day: d, state: states[i]}] : []));
  return [...nights, {day, state: decided}];
}
