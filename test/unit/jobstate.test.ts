import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { MapReduceJobStatus } from '../../src/api/types.js';
import { computeJobState } from '../../src/controller/jobstate.js';
import type { ControllerOptions, JobState, JobStateInput } from '../../src/controller/jobstate.js';
import { transformPod } from '../../src/controller/podtransform.js';
import { makeJob } from '../support/jobbuilder.js';
import type { JobBuilder } from '../support/jobbuilder.js';
import { at, mapPod, reducePod } from '../support/podstates.js';
import { deepFreeze } from '../support/freeze.js';

const OPTIONS: ControllerOptions = { keepFailedPods: 1, retryBackoffBaseMs: 1000, retryBackoffMaxMs: 8000 };

interface Case {
  name: string;
  job: JobBuilder;
  status?: MapReduceJobStatus;
  total: number;
  /** A re-run's item indexes (default 0..total-1). */
  itemIndexes?: number[];
  pods?: V1Pod[];
  now?: Date;
  expect: {
    phase: string;
    create: string[];
    /** Pod names, sorted. */
    delete: string[];
    /** Pods kept for `kubectl logs`, released from tracking; sorted; default none. */
    release?: string[];
    status?: Partial<MapReduceJobStatus>;
    results: Record<number, string>;
    events: string[];
    /** `<pod> <state>[ final][ endedWithJob]`, in the order the state reports them. */
    finishedAttempts: string[];
    requeueAfterMs?: number;
  };
}

function describeCreate(state: JobState): string[] {
  return state.create.map((c) => (c.phase === 'map' ? `map ${c.index}/${c.attempt}` : `reduce ${c.attempt}`));
}

function describeFinishedAttempts(state: JobState): string[] {
  return state.finishedAttempts.map(
    (f) =>
      `${f.observation.name} ${f.observation.state}${f.final ? ' final' : ''}${f.endedWithJob ? ' endedWithJob' : ''}`,
  );
}

/** A fresh input for the case, sharing nothing with the table or with other inputs. */
function inputFor(tc: Case): JobStateInput {
  const job = tc.job.obj();
  job.metadata = { ...job.metadata, namespace: 'ns', uid: 'uid-1', generation: 1 };
  if (tc.status) job.status = structuredClone(tc.status);
  return {
    job,
    totalItems: tc.total,
    ...(tc.itemIndexes ? { itemIndexes: [...tc.itemIndexes] } : {}),
    itemId: (i) => `id-${i}`,
    pods: structuredClone(tc.pods ?? []),
    now: new Date((tc.now ?? at(0)).getTime()),
    options: { ...OPTIONS },
  };
}

/** The input's data (all but functions such as itemId), deep-copied: Dates, which freezing cannot protect, included. */
function snapshot(input: JobStateInput): unknown {
  return structuredClone(
    Object.fromEntries(Object.entries(input).filter(([, v]) => typeof v !== 'function')),
  );
}

const cases: Case[] = [
  {
    name: 'a re-run starts its items by their original indexes, in order, up to `parallelism`',
    job: makeJob('wc').fromJob('earlier').parallelism(2),
    total: 3,
    itemIndexes: [4, 17, 230],
    expect: {
      phase: 'Running',
      create: ['map 4/0', 'map 17/0'],
      delete: [],
      results: {},
      status: { totalItems: 3, activeItems: 0, succeededItems: 0, completedIndexes: '' },
      events: ['Started'],
      finishedAttempts: [],
    },
  },
  {
    name: 'a re-run stores results under the original indexes and deletes a pod of an index it does not have',
    job: makeJob('wc').fromJob('earlier').parallelism(2),
    status: { phase: 'Running', startTime: at(0).toISOString(), totalItems: 3 },
    total: 3,
    itemIndexes: [4, 17, 230],
    pods: [
      mapPod(4).succeeded('r4').obj(),
      mapPod(17).succeeded('r17').obj(),
      mapPod(230).succeeded('r230').obj(),
      mapPod(5).running().obj(),
    ],
    now: at(2),
    expect: {
      phase: 'Succeeded',
      create: [],
      delete: ['wc-5-0'],
      results: { 4: 'r4', 17: 'r17', 230: 'r230' },
      status: { succeededItems: 3, failedItems: 0, completedIndexes: '4,17,230', resultPieces: '4' },
      events: ['Completed'],
      finishedAttempts: ['wc-4-0 succeeded final', 'wc-17-0 succeeded final', 'wc-230-0 succeeded final'],
    },
  },
  {
    name: 'a job past its activeDeadlineSeconds fails with DeadlineExceeded and cancels what runs',
    job: makeJob('wc').items(['a', 'b', 'c']).parallelism(2).activeDeadlineSeconds(60),
    status: { phase: 'Running', startTime: at(0).toISOString(), completedIndexes: '0', succeededItems: 1 },
    total: 3,
    pods: [mapPod(1).running().obj()],
    now: at(60),
    expect: {
      phase: 'Failed',
      create: [],
      delete: ['wc-1-0'],
      results: {},
      status: {
        completionTime: at(60).toISOString(),
        activeItems: 0,
        succeededItems: 1,
        failedItems: 0,
      },
      events: ['DeadlineExceeded'],
      finishedAttempts: ['wc-1-0 active endedWithJob'],
    },
  },
  {
    name: 'a job within its activeDeadlineSeconds is looked at again when it ends',
    job: makeJob('wc').items(['a', 'b', 'c']).parallelism(2).activeDeadlineSeconds(60),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 3,
    pods: [mapPod(0).running().obj(), mapPod(1).running().obj()],
    now: at(45),
    expect: {
      phase: 'Running',
      create: [],
      delete: [],
      results: {},
      events: [],
      finishedAttempts: [],
      requeueAfterMs: 15_000,
    },
  },
  {
    name: 'a suspended job’s deadline does not run',
    job: makeJob('wc').items(['a']).activeDeadlineSeconds(60).suspend(),
    status: { phase: 'Suspended', startTime: at(0).toISOString() },
    total: 1,
    now: at(600),
    expect: { phase: 'Suspended', create: [], delete: [], results: {}, events: [], finishedAttempts: [] },
  },
  {
    name: 'a new job starts the first `parallelism` items',
    job: makeJob('wc').items(['a', 'b', 'c', 'd']).parallelism(2),
    total: 4,
    expect: {
      phase: 'Running',
      create: ['map 0/0', 'map 1/0'],
      delete: [],
      results: {},
      status: {
        activeItems: 0,
        succeededItems: 0,
        failedItems: 0,
        completedIndexes: '',
        startTime: at(0).toISOString(),
      },
      events: ['Started'],
      finishedAttempts: [],
    },
  },
  {
    name: 'a succeeded item’s result waits in its pod while others run (not counted yet); its slot is refilled',
    job: makeJob('wc').items(['a', 'b', 'c']).parallelism(2),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 3,
    pods: [mapPod(0).succeeded('"a"', at(1)).obj(), mapPod(1).running().obj()],
    now: at(5),
    expect: {
      phase: 'Running',
      create: ['map 2/0'],
      delete: [],
      results: {},
      status: { activeItems: 1, succeededItems: 0, completedIndexes: '' },
      events: [],
      finishedAttempts: [],
      requeueAfterMs: 6000,
    },
  },
  {
    name: 'a result that has waited FLUSH_AFTER_MS (10 s) is stored as a piece and counted',
    job: makeJob('wc').items(['a', 'b', 'c']).parallelism(2),
    status: { phase: 'Running', startTime: at(0).toISOString(), resultPieces: '7' },
    total: 3,
    pods: [mapPod(0).succeeded('"a"', at(1)).obj(), mapPod(1).running().obj()],
    now: at(11),
    expect: {
      phase: 'Running',
      create: ['map 2/0'],
      delete: [],
      results: { 0: '"a"' },
      status: { activeItems: 1, succeededItems: 1, completedIndexes: '0', resultPieces: '0,7' },
      events: [],
      finishedAttempts: ['wc-0-0 succeeded final'],
    },
  },
  {
    name: 'waiting results are stored at once when no attempt is running: nothing else will share their piece',
    job: makeJob('wc').items(['a', 'b', 'c']).parallelism(2),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 3,
    pods: [mapPod(0).succeeded('"a"', at(1)).obj(), mapPod(1).succeeded('"b"', at(1)).obj()],
    now: at(2),
    expect: {
      phase: 'Running',
      create: ['map 2/0'],
      delete: [],
      results: { 0: '"a"', 1: '"b"' },
      status: { activeItems: 0, succeededItems: 2, completedIndexes: '0-1', resultPieces: '0' },
      events: [],
      finishedAttempts: ['wc-0-0 succeeded final', 'wc-1-0 succeeded final'],
    },
  },
  {
    name: 'a result of 4096 bytes or more is flagged: the kubelet may have cut its beginning off',
    job: makeJob('wc').items(['a']),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 1,
    pods: [mapPod(0).succeeded('é'.repeat(2048), at(1)).obj()],
    now: at(2),
    expect: {
      phase: 'Succeeded',
      create: [],
      delete: [],
      results: { 0: 'é'.repeat(2048) },
      status: { succeededItems: 1, resultPieces: '0', truncatedResultIndexes: '0' },
      events: ['ResultTruncated', 'Completed'],
      finishedAttempts: ['wc-0-0 succeeded final'],
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
      events: [],
      finishedAttempts: [],
    },
  },
  {
    name: 'a failed attempt is retried once its backoff has passed',
    job: makeJob('wc').items(['a']).backoffLimitPerItem(2),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 1,
    pods: [mapPod(0, 1).failed(1, 'Error', at(10)).obj()],
    now: at(12),
    expect: {
      phase: 'Running',
      create: ['map 0/2'],
      delete: [],
      results: {},
      events: ['ItemRetried'],
      finishedAttempts: [],
    },
  },
  {
    name: 'a failed attempt waits out its backoff (base × 2^attempt)',
    job: makeJob('wc').items(['a']).backoffLimitPerItem(2),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 1,
    pods: [mapPod(0, 1).failed(1, 'Error', at(10)).obj()],
    now: at(11),
    expect: {
      phase: 'Running',
      create: [],
      delete: [],
      results: {},
      events: [],
      finishedAttempts: [],
      requeueAfterMs: 1000,
    },
  },
  {
    name: 'an item retried after a failure and then succeeded reports both attempts, the success as final; the superseded pod goes',
    job: makeJob('wc').items(['a', 'b']),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 2,
    pods: [
      mapPod(1).running().obj(),
      mapPod(0, 1).succeeded('"a"', at(4)).obj(),
      mapPod(0, 0).failed(1, 'Error', at(2)).obj(),
    ],
    now: at(14),
    expect: {
      phase: 'Running',
      create: [],
      delete: ['wc-0-0'],
      results: { 0: '"a"' },
      status: { activeItems: 1, succeededItems: 1, completedIndexes: '0', retries: 1 },
      events: [],
      finishedAttempts: ['wc-0-0 failed', 'wc-0-1 succeeded final'],
    },
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
      delete: ['wc-0-0', 'wc-1-0'],
      results: {},
      status: {
        failedItems: 1,
        failedIndexes: '0',
        retries: 1,
        activeItems: 0,
        completionTime: at(5).toISOString(),
        failedItemDetails: [{ index: 0, id: 'id-0', attempts: 2, reason: 'OOMKilled', exitCode: 137 }],
      },
      events: ['ItemFailed', 'FailedItemsExceeded'],
      finishedAttempts: ['wc-0-0 failed', 'wc-0-1 failed final', 'wc-1-0 active endedWithJob'],
    },
  },
  {
    name: 'a job failed by its failure policy ends running attempts and waiting retries with it',
    job: makeJob('wc').items(['a', 'b', 'c']).backoffLimitPerItem(1),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 3,
    pods: [
      mapPod(0, 0).failed(1).obj(),
      mapPod(0, 1).failed(1, 'Error', at(3)).obj(),
      mapPod(1, 0).failed(1, 'Error', at(4.5)).obj(), // its retry is due at 5.5 s
      mapPod(2).running().obj(),
    ],
    now: at(5),
    expect: {
      phase: 'Failed',
      create: [],
      delete: ['wc-0-0', 'wc-2-0'],
      results: {},
      status: {
        failedItems: 1,
        failedIndexes: '0',
        retries: 1,
        activeItems: 0,
        completionTime: at(5).toISOString(),
        failedItemDetails: [{ index: 0, id: 'id-0', attempts: 2, reason: 'exit code 1', exitCode: 1 }],
      },
      events: ['ItemFailed', 'FailedItemsExceeded'],
      finishedAttempts: [
        'wc-0-0 failed',
        'wc-0-1 failed final',
        'wc-1-0 failed endedWithJob',
        'wc-2-0 active endedWithJob',
      ],
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
      delete: [],
      results: {},
      status: {
        failedItems: 1,
        failedItemDetails: [{ index: 0, id: 'id-0', attempts: 1, reason: 'DeadlineExceeded', exitCode: 2 }],
      },
      events: ['ItemFailed'],
      finishedAttempts: ['wc-0-0 failed final'],
    },
  },
  {
    name: 'an item failing for good within the policy reports all its failed attempts; the dead-letter list grows',
    job: makeJob('wc').items(['a', 'b', 'c', 'd']).backoffLimitPerItem(2).maxFailedItems(2),
    status: {
      phase: 'Running',
      startTime: at(0).toISOString(),
      failedIndexes: '3',
      failedItems: 1,
      retries: 2,
      failedItemDetails: [{ index: 3, id: 'id-3', attempts: 3, reason: 'Evicted' }],
    },
    total: 4,
    pods: [
      mapPod(0, 0).failed(1).obj(),
      mapPod(0, 1).failed(1).obj(),
      mapPod(0, 2).failed(1).obj(),
      mapPod(3, 2).failed(1).podReason('Evicted').obj(), // recorded; the newest failed pod, kept
    ],
    now: at(5),
    expect: {
      phase: 'Running',
      create: ['map 1/0', 'map 2/0'],
      delete: ['wc-0-0', 'wc-0-1'],
      release: ['wc-3-2'],
      results: {},
      status: {
        failedItems: 2,
        failedIndexes: '0,3',
        retries: 4,
        failedItemDetails: [
          { index: 3, id: 'id-3', attempts: 3, reason: 'Evicted' },
          { index: 0, id: 'id-0', attempts: 3, reason: 'exit code 1', exitCode: 1 },
        ],
      },
      events: ['ItemFailed'],
      finishedAttempts: ['wc-0-0 failed', 'wc-0-1 failed', 'wc-0-2 failed final'],
    },
  },
  {
    name: 'a suspended job creates nothing; running pods go on',
    job: makeJob('wc').items(['a', 'b', 'c']).suspend(),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 3,
    pods: [mapPod(0).running().obj()],
    expect: {
      phase: 'Suspended',
      create: [],
      delete: [],
      results: {},
      status: { activeItems: 1 },
      events: ['Suspended'],
      finishedAttempts: [],
    },
  },
  {
    name: 'a resumed job starts its items and says so',
    job: makeJob('wc').items(['a', 'b']),
    status: {
      phase: 'Suspended',
      conditions: [
        {
          type: 'Suspended',
          status: 'True',
          reason: 'Suspended',
          message: 'job suspended: no new pods are created',
          lastTransitionTime: at(0).toISOString(),
        },
      ],
    },
    total: 2,
    now: at(7),
    expect: {
      phase: 'Running',
      create: ['map 0/0', 'map 1/0'],
      delete: [],
      results: {},
      status: {
        startTime: at(7).toISOString(),
        conditions: [
          {
            type: 'Suspended',
            status: 'False',
            reason: 'Resumed',
            message: 'job resumed',
            lastTransitionTime: at(7).toISOString(),
          },
          {
            type: 'Reconciling',
            status: 'True',
            reason: 'Running',
            message: 'Running: 0/2 items succeeded, 0 failed',
            lastTransitionTime: at(7).toISOString(),
          },
          {
            type: 'Ready',
            status: 'False',
            reason: 'Running',
            message: 'Running: 0/2 items succeeded, 0 failed',
            lastTransitionTime: at(7).toISOString(),
          },
        ],
      },
      events: ['Resumed', 'Started'],
      finishedAttempts: [],
    },
  },
  {
    name: 'the map phase done by this computation: Reducing, the reduce pod waits for that status to be written',
    job: makeJob('wc').items(['a', 'b']).reduce(),
    status: { phase: 'Running', completedIndexes: '0', succeededItems: 1, startTime: at(0).toISOString() },
    total: 2,
    pods: [mapPod(1).succeeded('"b"').obj()],
    expect: {
      phase: 'Reducing',
      create: [],
      delete: [],
      results: { 1: '"b"' },
      status: { succeededItems: 2, completedIndexes: '0-1' },
      events: ['Reducing'],
      finishedAttempts: ['wc-1-0 succeeded final'],
    },
  },
  {
    name: 'the status as written records every item: the reduce pod is created (its pieces are final)',
    job: makeJob('wc').items(['a', 'b']).reduce(),
    status: {
      phase: 'Reducing',
      completedIndexes: '0-1',
      succeededItems: 2,
      resultPieces: '0',
      startTime: at(0).toISOString(),
    },
    total: 2,
    pods: [],
    expect: {
      phase: 'Reducing',
      create: ['reduce 0'],
      delete: [],
      results: {},
      status: {},
      events: [],
      finishedAttempts: [],
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
      results: {},
      status: { result: 'a:1 b:1', completionTime: at(3).toISOString() },
      events: ['Completed'],
      finishedAttempts: ['wc-reduce-0 succeeded final'],
    },
  },
  {
    name: 'a reduce that succeeds on a retry reports the failed attempt as ended with the job',
    job: makeJob('wc').items(['a']).reduce(),
    status: { phase: 'Reducing', completedIndexes: '0', succeededItems: 1, startTime: at(0).toISOString() },
    total: 1,
    pods: [reducePod(0).failed(1).obj(), reducePod(1).succeeded('a:1', at(4)).obj()],
    now: at(5),
    expect: {
      phase: 'Succeeded',
      create: [],
      delete: [],
      results: {},
      status: { result: 'a:1', completionTime: at(5).toISOString() },
      events: ['Completed'],
      finishedAttempts: ['wc-reduce-1 succeeded final', 'wc-reduce-0 failed endedWithJob'],
    },
  },
  {
    name: 'a reduce that exhausts its retries fails the job',
    job: makeJob('wc').items(['a']).reduce(),
    status: { phase: 'Reducing', completedIndexes: '0', succeededItems: 1, startTime: at(0).toISOString() },
    total: 1,
    pods: [reducePod(2).failed(1).obj()],
    expect: {
      phase: 'Failed',
      create: [],
      delete: [],
      results: {},
      events: ['ReduceFailed'],
      finishedAttempts: ['wc-reduce-2 failed final'],
    },
  },
  {
    name: 'a reduce failing for good reports its earlier attempts as ended with the job',
    job: makeJob('wc').items(['a']).reduce(),
    status: { phase: 'Reducing', completedIndexes: '0', succeededItems: 1, startTime: at(0).toISOString() },
    total: 1,
    pods: [
      reducePod(0).failed(1).obj(),
      reducePod(1).failed(1, 'Error', at(2)).obj(),
      reducePod(2).failed(1, 'Error', at(6)).obj(),
    ],
    now: at(7),
    expect: {
      phase: 'Failed',
      create: [],
      delete: [],
      results: {},
      status: { completionTime: at(7).toISOString() },
      events: ['ReduceFailed'],
      finishedAttempts: [
        'wc-reduce-2 failed final',
        'wc-reduce-0 failed endedWithJob',
        'wc-reduce-1 failed endedWithJob',
      ],
    },
  },
  {
    name: 'without a reduce, the job succeeds when the last item is recorded',
    job: makeJob('wc').items(['a']),
    status: { phase: 'Running', startTime: at(0).toISOString() },
    total: 1,
    pods: [mapPod(0).succeeded('"a"').obj()],
    expect: {
      phase: 'Succeeded',
      create: [],
      delete: [],
      results: { 0: '"a"' },
      events: ['Completed'],
      finishedAttempts: ['wc-0-0 succeeded final'],
    },
  },
  {
    name: 'a finished job releases its pods but the newest failed ones, and reports no attempts',
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
    expect: {
      phase: 'Succeeded',
      create: [],
      delete: ['wc-0-0', 'wc-1-0'],
      release: ['wc-2-0'],
      results: {},
      events: [],
      finishedAttempts: [],
    },
  },
];

function expectCase(tc: Case, state: JobState): void {
  expect(state.status.phase).to.equal(tc.expect.phase);
  expect(state.finished).to.equal(tc.expect.phase === 'Succeeded' || tc.expect.phase === 'Failed');
  expect(describeCreate(state)).to.deep.equal(tc.expect.create);
  expect(state.delete.map((p) => p.metadata?.name).sort()).to.deep.equal(tc.expect.delete);
  expect(state.release.map((p) => p.metadata?.name).sort()).to.deep.equal(tc.expect.release ?? []);
  expect(Object.fromEntries(state.newPieces.flatMap((p) => Object.entries(p.data)))).to.deep.equal(
    tc.expect.results,
  );
  if (tc.expect.status) expect(state.status).to.deep.include(tc.expect.status);
  expect(state.events.map((e) => e.reason)).to.deep.equal(tc.expect.events);
  expect(describeFinishedAttempts(state)).to.deep.equal(tc.expect.finishedAttempts);
  expect(state.requeueAfterMs).to.equal(tc.expect.requeueAfterMs);
}

describe('computeJobState', function () {
  for (const tc of cases) {
    it(tc.name, function () {
      expectCase(tc, computeJobState(inputFor(tc)));
    });
  }

  describe('gives the same state from the pods as the informer caches them (transformPod)', function () {
    for (const tc of cases) {
      it(tc.name, function () {
        const input = inputFor(tc);
        expectCase(tc, computeJobState({ ...input, pods: input.pods.map(transformPod) }));
      });
    }
  });

  describe('is pure: it writes nothing of its input, and the same input gives the same output', function () {
    for (const tc of cases) {
      it(tc.name, function () {
        const input = inputFor(tc);
        const before = snapshot(input);
        deepFreeze(input);
        const first = computeJobState(input);
        const second = computeJobState(input);
        expect(snapshot(input)).to.deep.equal(before);
        expect(second).to.deep.equal(first);
      });
    }
  });
});
