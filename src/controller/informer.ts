// An informer (list + watch + cache) that does not stay down: client-node's stops on any watch error
// other than 410 Gone, so this one restarts it with exponential backoff. Objects can be transformed before
// they enter the cache (client-go's SetTransform): client-node's ListWatch, given a list and a watch that
// hand it transformed objects, keeps them and passes them to the handlers, with its relist and event logic.
import { ListWatch } from '@kubernetes/client-node';
import type { Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isNotFound } from '../apierrors.js';
import { StreamWatch } from './streamwatch.js';

/** First restart delay after a watch error. */
export const RESTART_BASE_DELAY_MS = 1000;
/** Longest delay between restarts while the API server stays unreachable. */
export const RESTART_MAX_DELAY_MS = 30_000;

/** An informer that ran this long without an error starts its backoff over. */
export const RESTART_RESET_AFTER_MS = 2 * RESTART_MAX_DELAY_MS;

export type Handler<T> = (obj: T) => void;

/** A started informer's cache and events: what the wiring needs of one, or of several behind one. */
export interface Informer<T> {
  on(verb: 'add' | 'update' | 'delete', handler: Handler<T>): void;
  /** Resolves once the first list is in the cache. */
  start(): Promise<void>;
  stop(): Promise<void>;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

/** What the cache keeps of an object; handlers get the same. One that throws keeps the object whole. */
export type Transform<T> = (obj: T) => T;

export interface InformerOptions<T> {
  labelSelector?: string;
  /** Applied to every listed and watched object before it is cached; by default objects are kept whole. */
  transform?: Transform<T>;
  /** Maps a restart delay to the one waited (tests shorten it). */
  delay?: (ms: number) => number;
}

/** Watch events that carry an object (ERROR carries a Status, BOOKMARK only a resourceVersion). */
const OBJECT_EVENTS = new Set(['ADDED', 'MODIFIED', 'DELETED']);

/** The watch (StreamWatch: client-node's, leaner), handing on each event's object transformed. */
class TransformingWatch<T> extends StreamWatch {
  constructor(
    kc: KubeConfig,
    private readonly transform: Transform<T>,
  ) {
    super(kc);
  }

  override watch(...[path, params, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    return super.watch(
      path,
      params,
      (phase, obj) => callback(phase, OBJECT_EVENTS.has(phase) ? this.transform(obj as T) : obj),
      done,
    );
  }
}

/**
 * The delay before the next restart: doubling from RESTART_BASE_DELAY_MS up to RESTART_MAX_DELAY_MS, and
 * back to the base once the informer has run RESTART_RESET_AFTER_MS without an error. (client-node emits
 * 'connect' at every start, even one that fails at once, so connecting is no sign of health.)
 */
export function nextRestartDelay(previousMs: number, sinceLastErrorMs: number): number {
  if (previousMs === 0 || sinceLastErrorMs > RESTART_RESET_AFTER_MS) return RESTART_BASE_DELAY_MS;
  return Math.min(previousMs * 2, RESTART_MAX_DELAY_MS);
}

export class ResilientInformer<T extends KubernetesObject> implements Informer<T> {
  private readonly inner: ListWatch<T>;
  private readonly delay: (ms: number) => number;
  private delayMs = 0;
  private lastErrorAt = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kc: KubeConfig,
    readonly path: string,
    list: () => Promise<KubernetesListObject<T>>,
    private readonly log: Logger,
    options: InformerOptions<T> = {},
  ) {
    this.delay = options.delay ?? ((ms) => ms);
    const transform = options.transform ?? ((obj: T) => obj);
    const cached = (obj: T): T => this.transformed(transform, obj);
    this.inner = new ListWatch<T>(
      path,
      new TransformingWatch(kc, cached),
      async () => {
        const listed = await list();
        return { ...listed, items: listed.items.map(cached) };
      },
      false,
      options.labelSelector,
    );
    this.inner.on('error', (err: unknown) => this.restart(err));
  }

  /** A transform that throws caches the object whole: memory is worth less than a lost event. */
  private transformed(transform: Transform<T>, obj: T): T {
    try {
      return transform(obj);
    } catch (err) {
      this.log.error({ err, path: this.path, name: obj.metadata?.name }, 'informer transform failed');
      return obj;
    }
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
