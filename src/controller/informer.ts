// An informer (list + watch + cache) that does not stay down: client-node's stops on any watch error
// other than 410 Gone, so this one restarts it with exponential backoff.
import { makeInformer } from '@kubernetes/client-node';
import type {
  Informer,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isNotFound } from '../apierrors.js';

/** First restart delay after a watch error. */
export const RESTART_BASE_DELAY_MS = 1000;
/** Longest delay between restarts while the API server stays unreachable. */
export const RESTART_MAX_DELAY_MS = 30_000;

/** An informer that ran this long without an error starts its backoff over. */
export const RESTART_RESET_AFTER_MS = 2 * RESTART_MAX_DELAY_MS;

export type Handler<T> = (obj: T) => void;

/**
 * The delay before the next restart: doubling from RESTART_BASE_DELAY_MS up to RESTART_MAX_DELAY_MS, and
 * back to the base once the informer has run RESTART_RESET_AFTER_MS without an error. (client-node emits
 * 'connect' at every start, even one that fails at once, so connecting is no sign of health.)
 */
export function nextRestartDelay(previousMs: number, sinceLastErrorMs: number): number {
  if (previousMs === 0 || sinceLastErrorMs > RESTART_RESET_AFTER_MS) return RESTART_BASE_DELAY_MS;
  return Math.min(previousMs * 2, RESTART_MAX_DELAY_MS);
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly inner: Informer<T> & ObjectCache<T>;
  private delayMs = 0;
  private lastErrorAt = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kc: KubeConfig,
    readonly path: string,
    list: () => Promise<KubernetesListObject<T>>,
    private readonly log: Logger,
    labelSelector?: string,
    private readonly delay: (attempt: number) => number = (ms) => ms,
  ) {
    this.inner = makeInformer<T>(kc, path, list, labelSelector);
    this.inner.on('error', (err: unknown) => this.restart(err));
  }

  on(verb: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    this.inner.on(verb, handler);
  }

  /** Resolves once the first list is in the cache. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.inner.start();
  }

  private restart(err: unknown): void {
    if (this.stopped) return;
    const now = Date.now();
    this.delayMs = nextRestartDelay(this.delayMs, now - this.lastErrorAt);
    this.lastErrorAt = now;
    const wait = this.delay(this.delayMs);
    if (isNotFound(err)) {
      // Nothing to see in a stack trace: the resource is not served (for jobs: the CRD is missing).
      this.log.error(
        { path: this.path, retryInMs: wait },
        `the API server does not serve ${this.path}: is the MapReduceJob CRD installed? (kubectl apply -f crds/)`,
      );
    } else {
      this.log.warn({ err, path: this.path, retryInMs: wait }, 'watch failed; restarting informer');
    }
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.inner.start().catch((e: unknown) => this.restart(e));
    }, wait);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.inner.list(namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inner.stop();
  }
}
