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
 * discovery needs few calls (a page per 1000 conversations), and the workers
 * must not starve it, nor it them, when a backfill plans while batches export.
 */
export const PLANNER_RESERVE = 0.05;

export interface Fleet {
  /** Genesys' limit per token and minute. */
  perTokenPerMinute: number;
  /** Genesys' limit per OAuth client and minute, across its tokens. */
  perClientPerMinute: number;
  /** Most worker instances at once. */
  workers: number;
  /** Most planner instances at once. */
  planners: number;
  /** OAuth clients configured: batches are spread over them round-robin. */
  clients: number;
}

/**
 * An instance's share, per minute across every client it uses: its role's
 * part of the per-client limit (planners {@link PLANNER_RESERVE}, workers the
 * rest) divided by that role's most instances on one client at once, and
 * never above the per-token limit (each instance has its own token). One
 * share across clients, not one per client: a worker that moves to another
 * client leaves its last minute's calls counted on the first.
 *
 * Workers run one batch at a time and the planner spreads batches over the
 * clients round-robin, so at most ceil(workers / clients) of them are on one
 * client when the fleet is full. With one client the share is exact, and
 * with several the fleet's total is; how it splits over the clients rests on
 * the round-robin spread. When batches
 * bunch on a client anyway (replays of one client, batches that take longer
 * than others), the server's `inin-ratelimit-*` headers and Retry-After pause
 * that client's instances: an overshoot is answered, never repeated.
 */
export function instanceShare(role: 'planner' | 'worker', fleet: Fleet): number {
  const pool =
    fleet.perClientPerMinute * (role === 'planner' ? PLANNER_RESERVE : 1 - PLANNER_RESERVE);
  const onOneClient =
    role === 'planner'
      ? Math.max(1, fleet.planners)
      : Math.ceil(Math.max(1, fleet.workers) / Math.max(1, fleet.clients));
  return Math.max(1, Math.min(fleet.perTokenPerMinute, Math.floor(pool / onOneClient)));
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
