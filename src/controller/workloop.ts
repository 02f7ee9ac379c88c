// The worker loop: `concurrency` workers take job keys from the work queue and reconcile them. A success
// forgets the key's failures; a failure is retried with the queue's per-key backoff.
import type { Logger } from 'pino';
import { isConflict, retryAfterMs } from '../apierrors.js';
import type { ControllerHooks, ReconcileOutcome } from './hooks.js';
import { RATE_LIMIT_BASE_MS } from './workqueue.js';
import type { WorkQueue } from './workqueue.js';

/** Reconciles one job; resolves with when to look again, if time alone can change something. */
export type SyncFn = (key: string) => Promise<number | undefined>;

export class WorkLoop {
  private stopping = false;
  private workers: Promise<void>[] = [];

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

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined || this.stopping) return;
      await this.process(key);
    }
  }

  /** One reconcile of one key, with its outcome reported to the hooks. */
  async process(key: string): Promise<void> {
    const waitedMs = this.queue.waitedMs(key);
    const started = performance.now();
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
      // A conflict is a stale cache, routine while the watch catches up.
      this.log[isConflict(err) ? 'debug' : 'error']({ err, job: key }, 'reconcile failed; retrying');
      // Throttled (429) or unavailable (503): wait as long as the API server asks, else back off per key.
      const asked = retryAfterMs(err);
      if (asked !== undefined) this.queue.addAfter(key, Math.max(asked, RATE_LIMIT_BASE_MS));
      else this.queue.addRateLimited(key);
    } finally {
      this.queue.done(key);
      this.hooks.reconciled({ result, durationMs: performance.now() - started, waitedMs });
    }
  }
}
