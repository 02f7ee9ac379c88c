import { expect } from 'chai';
import type { Handler, Informer } from '../../src/controller/informer.js';
import { MultiNamespaceInformer } from '../../src/controller/multinamespace.js';

interface Obj {
  metadata: { name: string; namespace: string };
}

const obj = (namespace: string, name: string): Obj => ({ metadata: { name, namespace } });

/** One namespace's informer as plain data: its cached objects, its handlers, whether it runs. */
class ListInformer implements Informer<Obj> {
  readonly handlers: Handler<Obj>[] = [];
  running = false;

  constructor(private readonly objects: Obj[]) {}

  on(_verb: 'add' | 'update' | 'delete', handler: Handler<Obj>): void {
    this.handlers.push(handler);
  }
  start(): Promise<void> {
    this.running = true;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.running = false;
    return Promise.resolve();
  }
  get(name: string, namespace?: string): Obj | undefined {
    return this.objects.find(
      (o) => o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace),
    );
  }
  list(namespace?: string): readonly Obj[] {
    return this.objects.filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  }
}

describe('MultiNamespaceInformer', function () {
  const a = new ListInformer([obj('a', 'wc'), obj('a', 'sort')]);
  const b = new ListInformer([obj('b', 'wc')]);
  const cache = new MultiNamespaceInformer(
    new Map<string, Informer<Obj>>([
      ['a', a],
      ['b', b],
    ]),
  );

  const cases: { name: string; got: () => unknown; want: unknown }[] = [
    { name: 'get in a namespace', got: () => cache.get('wc', 'b'), want: obj('b', 'wc') },
    { name: 'get in a namespace it does not watch', got: () => cache.get('wc', 'c'), want: undefined },
    {
      name: 'get without a namespace: the first match',
      got: () => cache.get('sort'),
      want: obj('a', 'sort'),
    },
    { name: 'get of an absent name', got: () => cache.get('nope', 'a'), want: undefined },
    { name: 'list of one namespace', got: () => cache.list('a'), want: [obj('a', 'wc'), obj('a', 'sort')] },
    { name: 'list of a namespace it does not watch', got: () => cache.list('c'), want: [] },
    {
      name: 'list of all',
      got: () => cache.list(),
      want: [obj('a', 'wc'), obj('a', 'sort'), obj('b', 'wc')],
    },
  ];
  for (const tc of cases)
    it(tc.name, function () {
      expect(tc.got()).to.deep.equal(tc.want);
    });

  it('hands each handler to every namespace’s informer, and starts and stops them all', async function () {
    const seen: Obj[] = [];
    cache.on('add', (o) => seen.push(o));
    for (const informer of [a, b]) informer.handlers.forEach((h) => h(informer.list()[0]!));
    expect(seen).to.deep.equal([obj('a', 'wc'), obj('b', 'wc')]);
    await cache.start();
    expect([a.running, b.running]).to.deep.equal([true, true]);
    await cache.stop();
    expect([a.running, b.running]).to.deep.equal([false, false]);
  });

  it('refuses no namespaces (all namespaces is one cluster-wide informer)', function () {
    expect(() => new MultiNamespaceInformer(new Map())).to.throw('at least one namespace');
  });
});
