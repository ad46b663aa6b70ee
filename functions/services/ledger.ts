/**
 * The day's ledger in the bucket (its model is core/ledger.ts): read with
 * its generation, and changed only by a compare-and-swap on that
 * generation, so that racing checkers agree on one decision and one email.
 */
import type {Ledger} from '../core/ledger';
import {MAX_LEDGER_BYTES} from '../core/limits';
import type {ObjectStore} from '../ports';
import {swapJson} from './objects';

/**
 * Rounds of read–decide–swap, and attempts at each object the checker replaces under a
 * generation guard (markers, index), before it asks for a redelivery.
 */
export const MAX_ROUNDS = 8;

/** The ledger and the generation it was read at. */
export interface StoredLedger {
  value: Ledger;
  generation: string;
}

export function readLedger(store: ObjectStore, name: string): Promise<StoredLedger | undefined> {
  return store.readJson<Ledger>(name, MAX_LEDGER_BYTES);
}

/**
 * Compare-and-swap of the ledger (generation 0: only if there is none yet);
 * resolves the new generation, or undefined if it had changed.
 */
export function swapLedger(
  store: ObjectStore,
  name: string,
  value: Ledger,
  generation: string | number,
): Promise<string | undefined> {
  return swapJson(store, name, json(value), generation);
}

/** A bookkeeping object's bytes: indented JSON, as people read it. */
export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2));
}
