/**
 * The Genesys request budget of one instance on one OAuth client.
 *
 * Genesys counts requests per token in a sliding minute, when they arrive.
 * A request therefore holds its slot from the moment it is reserved until a
 * minute after its response came back (the response is the earliest moment
 * we know the server has counted it): a slot is never freed early, so the
 * instance never exceeds its share, even at a window boundary with requests
 * in flight. The server's own `inin-ratelimit-*` headers and 429s are the
 * last word: a full window or a Retry-After pauses every request of the
 * client until the server says it has room again.
 *
 * Pure state: time is passed in.
 */

/** How long to wait for a slot when every slot is held by a request still in flight (ms). */
export const IN_FLIGHT_POLL_MS = 50;

/**
 * An instance's share of an OAuth client's budget: the per-token limit, or
 * an equal part of the per-client limit for every instance that may call
 * Genesys on that client at once, whichever is lower.
 */
export function instanceShare(
  perTokenPerMinute: number,
  perClientPerMinute: number,
  fleetSize: number,
): number {
  return Math.max(1, Math.min(perTokenPerMinute, Math.floor(perClientPerMinute / fleetSize)));
}

export class RequestBudget {
  /** Ticket → when its response came back; Infinity while in flight. */
  private readonly held = new Map<number, number>();
  private nextTicket = 1;
  private pausedUntil = 0;
  private limitNow: number;

  constructor(
    limit: number,
    private readonly windowMs = 60_000,
  ) {
    this.limitNow = limit;
  }

  /** Requests per window this budget allows now (lowered by what the server says it allows). */
  get limit(): number {
    return this.limitNow;
  }

  /**
   * A ticket for one request now, or how long to wait before asking again.
   * Every ticket must be settled when its response (or failure) arrives.
   */
  reserve(nowMs: number): {ticket: number} | {waitMs: number} {
    if (nowMs < this.pausedUntil) return {waitMs: this.pausedUntil - nowMs};
    let oldest = Infinity;
    for (const [ticket, at] of this.held) {
      if (at <= nowMs - this.windowMs) this.held.delete(ticket);
      else oldest = Math.min(oldest, at);
    }
    if (this.held.size < this.limitNow) {
      const ticket = this.nextTicket++;
      this.held.set(ticket, Infinity);
      return {ticket};
    }
    return {waitMs: oldest === Infinity ? IN_FLIGHT_POLL_MS : oldest + this.windowMs - nowMs};
  }

  /** The request of `ticket` has its answer: its slot frees a window from now. */
  settle(ticket: number, nowMs: number): void {
    if (this.held.has(ticket)) this.held.set(ticket, nowMs);
  }

  /**
   * What the server said about its window (`inin-ratelimit-allowed`,
   * `-count`, `-reset` in seconds). A full window pauses every request until
   * it resets; a lower allowance than ours lowers ours.
   */
  observe(
    allowed: number | undefined,
    count: number | undefined,
    resetSeconds: number | undefined,
    nowMs: number,
  ): void {
    if (allowed !== undefined && allowed >= 1 && allowed < this.limitNow) this.limitNow = allowed;
    if (
      allowed !== undefined &&
      count !== undefined &&
      resetSeconds !== undefined &&
      count >= allowed
    )
      this.pauseUntil(nowMs + resetSeconds * 1000);
  }

  /** Nothing goes before `atMs` (a 429's Retry-After). */
  pauseUntil(atMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, atMs);
  }
}
