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

/** First restart delay after a watch error. */
export const RESTART_BASE_DELAY_MS = 1000;
/** Longest delay between restarts while the API server stays unreachable. */
export const RESTART_MAX_DELAY_MS = 30_000;

export type Handler<T> = (obj: T) => void;

export class ResilientInformer<T extends KubernetesObject> {
  private readonly inner: Informer<T> & ObjectCache<T>;
  private delayMs = 0;
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
    this.inner.on('connect', () => {
      this.delayMs = 0;
    });
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
    this.delayMs =
      this.delayMs === 0 ? RESTART_BASE_DELAY_MS : Math.min(this.delayMs * 2, RESTART_MAX_DELAY_MS);
    const wait = this.delay(this.delayMs);
    this.log.warn({ err, path: this.path, retryInMs: wait }, 'watch failed; restarting informer');
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
