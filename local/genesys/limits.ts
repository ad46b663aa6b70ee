/**
 * Sliding one-minute windows for the simulator's rate limits (per token, per
 * OAuth client across its tokens, token creation per client) and the usage
 * figures `GET /_admin/counters` reports per client and per token.
 */

export const MINUTE_MS = 60_000;

/**
 * Timestamps of the last minute, oldest first. Only what falls in the last
 * minute is kept, so its memory is bounded by one minute of traffic. Also
 * keeps the largest number of entries ever inside one minute: that maximum is
 * reached by a window ending at an entry, so counting at each add finds it.
 */
export class MinuteWindow {
  private times: number[] = [];
  private head = 0;
  /** The largest number of entries inside any window of one minute. */
  peak = 0;

  /** Drops what is a minute old or older; the entries in (now − 60 s, now]. */
  size(nowMs: number): number {
    while (this.head < this.times.length && this.times[this.head]! <= nowMs - MINUTE_MS)
      this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  /** Whole seconds until the oldest entry leaves the window (at least 1); 60 when empty. */
  resetSeconds(nowMs: number): number {
    this.size(nowMs);
    const oldest = this.times[this.head];
    return oldest === undefined ? 60 : Math.max(1, Math.ceil((oldest + MINUTE_MS - nowMs) / 1000));
  }

  /** Adds an entry at `nowMs`; returns the entries now in the window. */
  add(nowMs: number): number {
    const n = this.size(nowMs) + 1;
    this.times.push(nowMs);
    if (n > this.peak) this.peak = n;
    return n;
  }
}

/** The limits a request or a token creation can be refused by. */
export type Limit = 'token' | 'client' | 'tokenCreation';

/** What one OAuth client did since the counters were last reset. */
export class ClientUsage {
  /** API requests made with a valid token of this client, refused ones included. */
  apiCalls = 0;
  tokensIssued = 0;
  /** 429 answers by the limit that refused them. */
  readonly rejected: Record<Limit, number> = {token: 0, client: 0, tokenCreation: 0};
  private readonly calls = new MinuteWindow();
  private readonly issued = new MinuteWindow();

  call(nowMs: number): void {
    this.apiCalls++;
    this.calls.add(nowMs);
  }

  issue(nowMs: number): void {
    this.tokensIssued++;
    this.issued.add(nowMs);
  }

  toJSON() {
    return {
      apiCalls: this.apiCalls,
      tokensIssued: this.tokensIssued,
      rejected: this.rejected,
      peakCallsPerMinute: this.calls.peak,
      peakTokensPerMinute: this.issued.peak,
    };
  }
}

/** What one token did since the counters were last reset. */
export class TokenUsage {
  apiCalls = 0;
  /** When its first and last API calls arrived (ms). */
  firstCallMs: number | undefined;
  lastCallMs: number | undefined;
  readonly rejected: Record<Exclude<Limit, 'tokenCreation'>, number> = {token: 0, client: 0};
  private readonly calls = new MinuteWindow();

  constructor(
    readonly clientId: string,
    readonly issuedMs: number,
  ) {}

  call(nowMs: number): void {
    this.apiCalls++;
    this.calls.add(nowMs);
    this.firstCallMs ??= nowMs;
    this.lastCallMs = nowMs;
  }

  toJSON() {
    return {
      clientId: this.clientId,
      ...(this.firstCallMs !== undefined
        ? {
            firstCall: new Date(this.firstCallMs).toISOString(),
            lastCall: new Date(this.lastCallMs!).toISOString(),
          }
        : {}),
      issued: new Date(this.issuedMs).toISOString(),
      apiCalls: this.apiCalls,
      rejected: this.rejected,
      peakCallsPerMinute: this.calls.peak,
    };
  }
}
