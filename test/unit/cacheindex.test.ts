import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_JOB_NAME } from '../../src/api/constants.js';
import { CacheIndex } from '../../src/controller/cacheindex.js';
import type { Handler } from '../../src/controller/informer.js';
import { jobNamesOf } from '../../src/controller/ownership.js';

/** A pod in namespace ns, controlled by job `owner` (if set) and labelled with job name `label` (if set). */
function pod(name: string, opts: { owner?: string; label?: string; ns?: string; rv?: string } = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: opts.ns ?? 'ns',
      resourceVersion: opts.rv ?? '1',
      ...(opts.label ? { labels: { [LABEL_JOB_NAME]: opts.label } } : {}),
      ...(opts.owner
        ? {
            ownerReferences: [
              {
                apiVersion: 'mapreduce.dev/v1alpha1',
                kind: 'MapReduceJob',
                name: opts.owner,
                uid: `uid-${opts.owner}`,
                controller: true,
              },
            ],
          }
        : {}),
    },
  };
}

/** An informer's handler registry, to play its events. */
class Events {
  readonly handlers = {
    add: [] as Handler<V1Pod>[],
    update: [] as Handler<V1Pod>[],
    delete: [] as Handler<V1Pod>[],
  };
  on(verb: 'add' | 'update' | 'delete', handler: Handler<V1Pod>): void {
    this.handlers[verb].push(handler);
  }
  emit(verb: 'add' | 'update' | 'delete', obj: V1Pod): void {
    for (const h of this.handlers[verb]) h(obj);
  }
}

describe('jobNamesOf', function () {
  const rows: [string, V1Pod, string[]][] = [
    ['owned and labelled alike', pod('p', { owner: 'wc', label: 'wc' }), ['wc']],
    ['owned by one job, labelled with another', pod('p', { owner: 'wc', label: 'other' }), ['wc', 'other']],
    ['orphaned: by its label', pod('p', { label: 'wc' }), ['wc']],
    ['neither', pod('p'), []],
  ];
  for (const [name, p, names] of rows) {
    it(name, function () {
      expect(jobNamesOf(p)).to.deep.equal(names);
    });
  }
});

describe('CacheIndex', function () {
  it('finds each pod under its job names, per namespace, as events add, change and delete it', function () {
    const events = new Events();
    const index = new CacheIndex<V1Pod>(jobNamesOf).attach(events);
    const names = (ns: string, job: string): string[] => index.get(ns, job).map((p) => p.metadata!.name!);
    const seen: [string, string[], string[], string[]][] = [];
    const step = (what: string, verb: 'add' | 'update' | 'delete', p: V1Pod): void => {
      events.emit(verb, p);
      seen.push([what, names('ns', 'wc'), names('ns', 'other'), names('ns2', 'wc')]);
    };
    step('wc-0 added', 'add', pod('wc-0', { owner: 'wc', label: 'wc' }));
    step('wc-1 added', 'add', pod('wc-1', { owner: 'wc', label: 'wc' }));
    step('wc-0 in another namespace', 'add', pod('wc-0', { owner: 'wc', label: 'wc', ns: 'ns2' }));
    step('wc-1 changed', 'update', pod('wc-1', { owner: 'wc', label: 'wc', rv: '2' }));
    step('wc-0 relabelled', 'update', pod('wc-0', { owner: 'wc', label: 'other', rv: '2' }));
    step('wc-0 orphaned', 'update', pod('wc-0', { label: 'other', rv: '3' }));
    step('wc-1 deleted', 'delete', pod('wc-1', { owner: 'wc', label: 'wc', rv: '2' }));
    step('wc-0 unlabelled', 'update', pod('wc-0', { rv: '4' }));
    expect(seen).to.deep.equal([
      ['wc-0 added', ['wc-0'], [], []],
      ['wc-1 added', ['wc-0', 'wc-1'], [], []],
      ['wc-0 in another namespace', ['wc-0', 'wc-1'], [], ['wc-0']],
      ['wc-1 changed', ['wc-0', 'wc-1'], [], ['wc-0']],
      ['wc-0 relabelled', ['wc-0', 'wc-1'], ['wc-0'], ['wc-0']],
      ['wc-0 orphaned', ['wc-1'], ['wc-0'], ['wc-0']],
      ['wc-1 deleted', [], ['wc-0'], ['wc-0']],
      ['wc-0 unlabelled', [], [], ['wc-0']],
    ]);
    expect(index.get('ns', 'wc-1')).to.deep.equal([]);
  });

  it('hands out the object of the latest event', function () {
    const events = new Events();
    const index = new CacheIndex<V1Pod>(jobNamesOf).attach(events);
    const latest = pod('wc-0', { owner: 'wc', label: 'wc', rv: '2' });
    events.emit('add', pod('wc-0', { owner: 'wc', label: 'wc' }));
    events.emit('update', latest);
    expect(index.get('ns', 'wc')[0]).to.equal(latest);
  });
});
