import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { MapReduceJobStatus } from '../../src/api/types.js';
import { computeJobState } from '../../src/controller/jobstate.js';
import type { ControllerOptions, JobState } from '../../src/controller/jobstate.js';
import { makeJob } from '../support/jobbuilder.js';
import type { JobBuilder } from '../support/jobbuilder.js';
import { at, mapPod, reducePod } from '../support/podstates.js';

const OPTIONS: ControllerOptions = { keepFailedPods: 1, retryBackoffBaseMs: 1000, retryBackoffMaxMs: 8000 };

interface Case {
  name: string;
  job: JobBuilder;
  status?: MapReduceJobStatus;
  total: number;
  pods?: V1Pod[];
  now?: Date;
  expect: {
    phase: string;
    create?: string[];
    delete?: string[];
    status?: Partial<MapReduceJobStatus>;
    results?: Record<number, string>;
    events?: string[];
    requeueAfterMs?: number;
  };
}

function describeCreate(state: JobState): string[] {
  return state.create.map((c) => (c.phase === 'map' ? `map ${c.index}/${c.attempt}` : `reduce ${c.attempt}`));
}

const cases: Case[] = [
  {
    name: 'a new job starts the first `parallelism` items',
    job: makeJob('wc').items(['a', 'b', 'c', 'd']).parallelism(2),
    total: 4,
    expect: {
      phase: 'Running',
      create: ['map 0/0', 'map 1/0'],
      status: {
        activeItems: 0,
        succeededItems: 0,
        failedItems: 0,
        completedIndexes: '',
        startTime: at(0).toISOString(),
      },
      events: ['Started'],
    },
  },
  {
    name: 'a succeeded item is recorded with its result and its slot refilled',
    job: makeJob('wc').items(['a', 'b', 'c']).parallelism(2),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 3,
    pods: [mapPod(0).succeeded('"a"').obj(), mapPod(1).running().obj()],
    expect: {
      phase: 'Running',
      create: ['map 2/0'],
      delete: [],
      results: { 0: '"a"' },
      status: { activeItems: 1, succeededItems: 1, completedIndexes: '0' },
    },
  },
  {
    name: 'pods of items recorded in the persisted status are deleted',
    job: makeJob('wc').items(['a', 'b']).parallelism(2),
    status: { phase: 'Running', completedIndexes: '0', succeededItems: 1, startTime: at(0).toISOString() },
    total: 2,
    pods: [mapPod(0).succeeded('"a"').obj(), mapPod(1).running().obj()],
    expect: {
      phase: 'Running',
      create: [],
      delete: ['wc-0-0'],
      results: {},
      status: { activeItems: 1, succeededItems: 1 },
    },
  },
  {
    name: 'a failed attempt is retried once its backoff has passed',
    job: makeJob('wc').items(['a']).backoffLimitPerItem(2),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 1,
    pods: [mapPod(0, 1).failed(1, 'Error', at(10)).obj()],
    now: at(12),
    expect: { phase: 'Running', create: ['map 0/2'], delete: [], events: ['ItemRetried'] },
  },
  {
    name: 'a failed attempt waits out its backoff (base × 2^attempt)',
    job: makeJob('wc').items(['a']).backoffLimitPerItem(2),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 1,
    pods: [mapPod(0, 1).failed(1, 'Error', at(10)).obj()],
    now: at(11),
    expect: { phase: 'Running', create: [], requeueAfterMs: 1000 },
  },
  {
    name: 'an item that exhausts its retries fails the job under the default policy',
    job: makeJob('wc').items(['a', 'b']).backoffLimitPerItem(1),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 2,
    pods: [
      mapPod(0, 0).failed(1).obj(),
      mapPod(0, 1).failed(137, 'OOMKilled').obj(),
      mapPod(1).running().obj(),
    ],
    now: at(5),
    expect: {
      phase: 'Failed',
      create: [],
      delete: ['wc-1-0'],
      status: {
        failedItems: 1,
        failedIndexes: '0',
        retries: 1,
        activeItems: 0,
        completionTime: at(5).toISOString(),
        failedItemDetails: [{ index: 0, id: 'id-0', attempts: 2, reason: 'OOMKilled', exitCode: 137 }],
      },
      events: ['ItemFailed', 'FailedItemsExceeded'],
    },
  },
  {
    name: 'failures within maxFailedItemsPercent let the job go on',
    job: makeJob('wc').items(['a', 'b', 'c', 'd']).backoffLimitPerItem(0).maxFailedItemsPercent(25),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 4,
    pods: [mapPod(0).failed(2).podReason('DeadlineExceeded').obj()],
    expect: {
      phase: 'Running',
      create: ['map 1/0', 'map 2/0', 'map 3/0'],
      status: {
        failedItems: 1,
        failedItemDetails: [{ index: 0, id: 'id-0', attempts: 1, reason: 'DeadlineExceeded', exitCode: 2 }],
      },
    },
  },
  {
    name: 'a suspended job creates nothing; running pods go on',
    job: makeJob('wc').items(['a', 'b', 'c']).suspend(),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 3,
    pods: [mapPod(0).running().obj()],
    expect: { phase: 'Suspended', create: [], delete: [], status: { activeItems: 1 }, events: ['Suspended'] },
  },
  {
    name: 'the map phase done, the reduce pod is created',
    job: makeJob('wc').items(['a', 'b']).reduce(),
    status: { phase: 'Running', completedIndexes: '0', succeededItems: 1, startTime: at(0).toISOString() },
    total: 2,
    pods: [mapPod(1).succeeded('"b"').obj()],
    expect: {
      phase: 'Reducing',
      create: ['reduce 0'],
      results: { 1: '"b"' },
      status: { succeededItems: 2, completedIndexes: '0-1' },
      events: ['Reducing'],
    },
  },
  {
    name: 'the reduce pod’s termination message becomes the result',
    job: makeJob('wc').items(['a', 'b']).reduce(),
    status: { phase: 'Reducing', completedIndexes: '0-1', succeededItems: 2, startTime: at(0).toISOString() },
    total: 2,
    pods: [reducePod().succeeded('a:1 b:1').obj()],
    now: at(3),
    expect: {
      phase: 'Succeeded',
      create: [],
      delete: [], // released by the next reconcile, once this status is written
      status: { result: 'a:1 b:1', completionTime: at(3).toISOString() },
      events: ['Completed'],
    },
  },
  {
    name: 'a reduce that exhausts its retries fails the job',
    job: makeJob('wc').items(['a']).reduce(),
    status: { phase: 'Reducing', completedIndexes: '0', succeededItems: 1, startTime: at(0).toISOString() },
    total: 1,
    pods: [reducePod(2).failed(1).obj()],
    expect: { phase: 'Failed', create: [], events: ['ReduceFailed'] },
  },
  {
    name: 'without a reduce, the job succeeds when the last item is recorded',
    job: makeJob('wc').items(['a']),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 1,
    pods: [mapPod(0).succeeded('"a"').obj()],
    expect: { phase: 'Succeeded', create: [], delete: [], results: { 0: '"a"' }, events: ['Completed'] },
  },
  {
    name: 'a finished job releases its pods but the newest failed ones',
    job: makeJob('wc').items(['a', 'b', 'c']).maxFailedItems(3).backoffLimitPerItem(0),
    status: {
      phase: 'Succeeded',
      completedIndexes: '0',
      failedIndexes: '1-2',
      succeededItems: 1,
      failedItems: 2,
    },
    total: 3,
    pods: [
      mapPod(0).succeeded('"a"').obj(),
      mapPod(1).failed(1, 'Error', at(1)).obj(),
      mapPod(2).failed(1, 'Error', at(2)).obj(),
    ],
    expect: { phase: 'Succeeded', create: [], delete: ['wc-0-0', 'wc-1-0'] },
  },
];

describe('computeJobState', function () {
  for (const tc of cases) {
    it(tc.name, function () {
      const job = tc.job.obj();
      job.metadata = { ...job.metadata, namespace: 'ns', uid: 'uid-1', generation: 1 };
      if (tc.status) job.status = tc.status;
      const state = computeJobState({
        job,
        totalItems: tc.total,
        itemId: (i) => `id-${i}`,
        pods: tc.pods ?? [],
        now: tc.now ?? at(0),
        options: OPTIONS,
      });
      expect(state.status.phase).to.equal(tc.expect.phase);
      if (tc.expect.create) expect(describeCreate(state)).to.deep.equal(tc.expect.create);
      if (tc.expect.delete)
        expect(state.delete.map((p) => p.metadata?.name).sort()).to.deep.equal(tc.expect.delete);
      if (tc.expect.results) expect(Object.fromEntries(state.newResults)).to.deep.equal(tc.expect.results);
      if (tc.expect.status) expect(state.status).to.deep.include(tc.expect.status);
      if (tc.expect.events) expect(state.events.map((e) => e.reason)).to.deep.equal(tc.expect.events);
      if (tc.expect.requeueAfterMs !== undefined)
        expect(state.requeueAfterMs).to.equal(tc.expect.requeueAfterMs);
    });
  }

  it('is pure: the same input gives the same output', function () {
    const job = makeJob('wc').items(['a', 'b']).obj();
    job.metadata.uid = 'u';
    const input = {
      job,
      totalItems: 2,
      itemId: String,
      pods: [mapPod(0).succeeded('"a"').obj()],
      now: at(0),
      options: OPTIONS,
    };
    expect(computeJobState(input).status).to.deep.equal(computeJobState(input).status);
  });
});
