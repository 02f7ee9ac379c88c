// The worker loop: `concurrency` workers take job keys from the work queue and reconcile them. A success
// forgets the key's failures; a failure is retried with the queue's per-key backoff.
import type { Logger } from 'pino';
import { isConflict, retryAfterMs, StaleViewError } from '../apierrors.js';
import type { ControllerHooks, ReconcileOutcome } from './hooks.js';
import { RATE_LIMIT_BASE_MS } from './workqueue.js';
import type { WorkQueue } from './workqueue.js';

/** Reconciles one job; resolves with when to look again, if time alone can change something. */
export type SyncFn = (key: string) => Promise<number | undefined>;

/**
 * A reconcile running this long is wedged (a last resort: API requests are aborted after API_REQUEST_TIMEOUT_MS), and
 * /healthz fails so the kubelet restarts the operator. The first reconcile of a 100,000-item job, the
 * longest there is, writes its item snapshot in ~100 ConfigMap creates: seconds, not minutes.
 */
export const RECONCILE_WEDGED_AFTER_MS = 5 * 60_000;

export class WorkLoop {
  private stopping = false;
  private workers: Promise<void>[] = [];
  /** Start times (performance.now()) of the reconciles in flight, by key. */
  private readonly inFlight = new Map<string, number>();
  private exitedWorkers = 0;

  constructor(
    private readonly queue: WorkQueue,
    private readonly sync: SyncFn,
    private readonly hooks: Pick<ControllerHooks, 'reconciled'>,
    private readonly log: Logger,
  ) {}

  start(concurrency: number): void {
    for (let i = 0; i < concurrency; i++) this.workers.push(this.worker());
  }

  /** Stops taking work and waits for in-flight reconciles to finish their writes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.shutdown();
    await Promise.all(this.workers);
  }

  /**
   * Why the loop is wedged, or undefined while it works: a reconcile in flight for over
   * RECONCILE_WEDGED_AFTER_MS, or a worker that stopped although the loop was not stopped.
   */
  wedged(nowMs = performance.now()): string | undefined {
    if (this.exitedWorkers > 0 && !this.stopping)
      return `${this.exitedWorkers} worker(s) stopped unexpectedly`;
    for (const [key, startedMs] of this.inFlight) {
      if (nowMs - startedMs > RECONCILE_WEDGED_AFTER_MS)
        return `the reconcile of ${key} has run for ${Math.round((nowMs - startedMs) / 1000)} s`;
    }
    return undefined;
  }

  private async worker(): Promise<void> {
    try {
      for (;;) {
        const key = await this.queue.get();
        if (key === undefined || this.stopping) return;
        await this.process(key);
      }
    } catch (err) {
      this.log.error({ err }, 'a worker stopped');
    } finally {
      if (!this.stopping) this.exitedWorkers++;
    }
  }

  /** One reconcile of one key, with its outcome reported to the hooks. */
  async process(key: string): Promise<void> {
    const waitedMs = this.queue.waitedMs(key);
    const started = performance.now();
    this.inFlight.set(key, started);
    let result: ReconcileOutcome['result'] = 'success';
    try {
      const requeueAfterMs = await this.sync(key);
      this.queue.forget(key);
      if (requeueAfterMs !== undefined) {
        result = 'requeue';
        this.queue.addAfter(key, requeueAfterMs);
      }
    } catch (err) {
      result = 'error';
      // A conflict is a stale cache, routine while the watch catches up; so is a stale view (StaleViewError).
      this.log[isConflict(err) ? 'debug' : err instanceof StaleViewError ? 'info' : 'error'](
        { err, job: key },
        'reconcile failed; retrying',
      );
      // Throttled (429) or unavailable (503): wait as long as the API server asks, else back off per key.
      const asked = retryAfterMs(err);
      if (asked !== undefined) this.queue.addAfter(key, Math.max(asked, RATE_LIMIT_BASE_MS));
      else this.queue.addRateLimited(key);
    } finally {
      this.inFlight.delete(key);
      this.queue.done(key);
      this.hooks.reconciled({ result, durationMs: performance.now() - started, waitedMs });
    }
  }
}
