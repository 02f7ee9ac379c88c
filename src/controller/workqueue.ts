// A work queue of job keys (namespace/name), as client-go's: a key is queued at most once, a key being
// processed is not handed out again until done (it is re-queued then if it was added meanwhile), and
// failures back off per key. Latest state wins: the queue holds keys, not events.

/** First retry delay after a failed reconcile. */
export const RATE_LIMIT_BASE_MS = 100;
/** Cap for the per-key exponential backoff: a broken job is retried at least this often. */
export const RATE_LIMIT_MAX_MS = 5 * 60 * 1000;

/**
 * The longest a key waits for a timed look: Node runs a timer of more than 2^31-1 ms at once, so a long TTL or
 * deadline would spin; looking again hourly costs nothing.
 */
export const MAX_DELAY_MS = 60 * 60 * 1000;

/** A pending delayed call that can be called off. */
export interface ScheduledCall {
  cancel(): void;
}

/** Runs fn once after delayMs; injected so tests can see and fire the delays the queue asks for. */
export type Schedule = (fn: () => void, delayMs: number) => ScheduledCall;

/** The real timer, unref'd so a pending retry does not keep the process alive. */
export const scheduleTimeout: Schedule = (fn, delayMs) => {
  const timer = setTimeout(fn, delayMs);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
};

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, ScheduledCall>();
  private readonly addedAt = new Map<string, number>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly schedule: Schedule = scheduleTimeout,
  ) {}

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.addedAt.set(key, this.clock());
    const waiter = this.waiters.shift();
    if (waiter) {
      this.queued.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /**
   * Adds the key after a delay. A later delay for the same key replaces a pending one, even a shorter one;
   * a delay <= 0 adds the key at once and leaves a pending delay in place.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    delayMs = Math.min(delayMs, MAX_DELAY_MS);
    this.timers.get(key)?.cancel();
    this.timers.set(
      key,
      this.schedule(() => {
        this.timers.delete(key);
        this.add(key);
      }, delayMs),
    );
  }

  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, Math.min(RATE_LIMIT_BASE_MS * 2 ** n, RATE_LIMIT_MAX_MS));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key, or undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** How long the key waited in the queue before it was handed out; call when starting work on it. */
  waitedMs(key: string): number {
    const at = this.addedAt.get(key);
    this.addedAt.delete(key);
    return at === undefined ? 0 : this.clock() - at;
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  get length(): number {
    return this.queue.length;
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    for (const w of this.waiters) w(undefined);
    this.waiters = [];
  }
}
