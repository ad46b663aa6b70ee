/**
 * When to poll a batch download request: on what Genesys reports, not on a
 * fixed doubling. The first poll goes when a request of its size took to
 * complete last time; a later one when the results still missing should be
 * ready at the rate they have come so far. Every poll costs a request of the
 * client's budget, so a request that completes in one poll is the aim.
 */

export const MIN_POLL_MS = 200;
export const MAX_POLL_MS = 5000;
/** Longest wait before the first poll. */
export const MAX_FIRST_POLL_MS = 10_000;
/** Before anything was measured: ms per item of a request until it completes. */
export const DEFAULT_MS_PER_ITEM = 10;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v)));

/** The wait before the first poll of a request of `items` items. */
export function firstPollDelay(items: number, msPerItem = DEFAULT_MS_PER_ITEM): number {
  return clamp(items * msPerItem, MIN_POLL_MS, MAX_FIRST_POLL_MS);
}

/**
 * The wait after a poll that found the request unfinished: the time the
 * missing results need at the rate seen so far (with a tenth to spare), or
 * twice the last wait while no result has come.
 */
export function nextPollDelay(
  elapsedMs: number,
  expected: number | undefined,
  ready: number | undefined,
  lastDelayMs: number,
): number {
  if (expected !== undefined && ready !== undefined && ready > 0 && ready < expected) {
    return clamp(((elapsedMs * (expected - ready)) / ready) * 1.1, MIN_POLL_MS, MAX_POLL_MS);
  }
  return clamp(lastDelayMs * 2, MIN_POLL_MS, MAX_POLL_MS);
}

/** What a completed request teaches about the next: ms per item (a running mean). */
export function learnMsPerItem(
  previous: number | undefined,
  items: number,
  tookMs: number,
): number {
  const seen = tookMs / Math.max(1, items);
  return previous === undefined ? seen : (previous + seen) / 2;
}
