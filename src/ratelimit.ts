// A token bucket for API requests, as client-go's rest client has (flowcontrol.NewTokenBucketRateLimiter):
// up to `burst` requests at once, then `qps` per second. Every request the operator makes (reads, writes,
// the start of each watch) takes a token, so a burst of work cannot flood the API server.

export interface RateLimiterClock {
  nowMs: () => number;
  sleep: (ms: number) => Promise<void>;
}

const realClock: RateLimiterClock = {
  nowMs: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly clock: RateLimiterClock = realClock,
  ) {
    if (!(qps > 0) || !Number.isFinite(qps))
      throw new RangeError(`qps must be a positive number, not ${qps}`);
    if (!Number.isInteger(burst) || burst < 1)
      throw new RangeError(`burst must be a whole number ≥ 1, not ${burst}`);
    this.tokens = burst;
    this.lastMs = clock.nowMs();
  }

  /**
   * How long the next request must wait, reserving its token now: waiters are served in the order they
   * asked (the balance goes negative by the tokens promised to them). Synchronous, so testable.
   */
  reserve(): number {
    const now = this.clock.nowMs();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastMs) * this.qps) / 1000);
    this.lastMs = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }

  /** Resolves when the caller may make its request. */
  async take(): Promise<void> {
    const waitMs = this.reserve();
    if (waitMs > 0) await this.clock.sleep(waitMs);
  }
}
