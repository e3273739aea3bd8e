// Delays between server restarts after crashes: doubling from `initial` up to
// `max`, back to `initial` once the server has stayed up for `stableAfter`.
// Pure (the clock is passed in), so the policy is unit-tested.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  stableAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, stableAfterMs: 60_000 };

export class Backoff {
  private attempt = 0;
  private startedAt: number | null = null;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The server (re)started at `now`. */
  started(now: number): void {
    this.startedAt = now;
  }

  /** The server stopped at `now`: how long to wait before the next start. */
  nextDelay(now: number): number {
    if (this.startedAt !== null && now - this.startedAt >= this.options.stableAfterMs) {
      this.attempt = 0;
    }
    const delay = Math.min(this.options.initialMs * 2 ** this.attempt, this.options.maxMs);
    this.attempt += 1;
    return delay;
  }
}
