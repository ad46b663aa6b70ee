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
 * The part of an OAuth client's per-minute limit kept for planner instances:
 * discovery needs few calls (a page per 1000 conversations), and neither the
 * planner nor the workers may starve the other when a backfill plans while
 * batches export.
 */
export const PLANNER_RESERVE = 0.1;

export interface Fleet {
  /** Genesys' limit per token and minute. */
  perTokenPerMinute: number;
  /** Genesys' limit per OAuth client and minute, across its tokens. */
  perClientPerMinute: number;
  /** Most worker instances at once. */
  workers: number;
  /** Most planner instances at once. */
  planners: number;
}

/**
 * An instance's share of each OAuth client's budget, per minute: its role's
 * part of the per-client limit (planners {@link PLANNER_RESERVE}, workers the
 * rest) divided by that role's most instances, and never above the per-token
 * limit (each instance has its own token per client).
 *
 * Every instance of the fleet may be on the same client at once, so the
 * fleet never exceeds a client's limit, however batches are spread; and an
 * instance has this share on every client, and spreads the calls any client
 * may make (recording metadata, analytics details) over all of them, so
 * several clients multiply what each instance, and the fleet, can do.
 */
export function instanceShare(role: 'planner' | 'worker', fleet: Fleet): number {
  const pool =
    fleet.perClientPerMinute * (role === 'planner' ? PLANNER_RESERVE : 1 - PLANNER_RESERVE);
  const instances = Math.max(1, role === 'planner' ? fleet.planners : fleet.workers);
  return Math.max(1, Math.min(fleet.perTokenPerMinute, Math.floor(pool / instances)));
}

export class RequestBudget {
  /** Ticket → when its response came back; Infinity while in flight. */
  private readonly held = new Map<number, number>();
  private nextTicket = 1;
  private pausedUntil = 0;
  private limitNow: number;

  constructor(
    private readonly share: number,
    private readonly windowMs = 60_000,
  ) {
    this.limitNow = share;
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

  /** The request of `ticket` was never sent: its slot is free at once. */
  cancel(ticket: number): void {
    this.held.delete(ticket);
  }

  /** The request of `ticket` has its answer: its slot frees a window from now. */
  settle(ticket: number, nowMs: number): void {
    if (this.held.has(ticket)) this.held.set(ticket, nowMs);
  }

  /**
   * What the server said about its window (`inin-ratelimit-allowed`,
   * `-count`, `-reset` in seconds). A full window pauses every request until
   * it resets; an allowance below our share holds us to it (until the server allows more).
   */
  observe(
    allowed: number | undefined,
    count: number | undefined,
    resetSeconds: number | undefined,
    nowMs: number,
  ): void {
    if (allowed !== undefined && allowed >= 1) this.limitNow = Math.min(this.share, allowed);
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
