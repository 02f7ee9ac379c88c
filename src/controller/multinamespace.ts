// One cache over several namespaces: an informer per namespace (a Role in each allows its list and watch;
// a cluster-wide list would need a ClusterRole), read through the same ObjectCache as a cluster-wide one.
import type { Handler, Informer } from './informer.js';

export class MultiNamespaceInformer<T> implements Informer<T> {
  private readonly byNamespace: ReadonlyMap<string, Informer<T>>;

  constructor(byNamespace: ReadonlyMap<string, Informer<T>>) {
    if (byNamespace.size === 0) throw new Error('MultiNamespaceInformer needs at least one namespace');
    this.byNamespace = byNamespace;
  }

  on(verb: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    for (const informer of this.byNamespace.values()) informer.on(verb, handler);
  }

  async start(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((i) => i.stop()));
  }

  /** A namespace not watched holds nothing; without a namespace, the first match in any. */
  get(name: string, namespace?: string): T | undefined {
    if (namespace !== undefined) return this.byNamespace.get(namespace)?.get(name, namespace);
    for (const informer of this.byNamespace.values()) {
      const found = informer.get(name);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return this.byNamespace.get(namespace)?.list(namespace) ?? [];
    return [...this.byNamespace.values()].flatMap((i) => i.list());
  }
}
