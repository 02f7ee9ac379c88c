// syncJob with a recording client: for each case, the exact API calls and hook calls in order, the exact
// status written (or none), and what the reconcile returns or throws. The integration tests keep the real
// API server; these pin the order "results stored -> spans handed over -> pods changed -> status written".
import { expect } from 'chai';
import { ApiException } from '@kubernetes/client-node';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import {
  ANNOTATION_CANCELLED_AT,
  ANNOTATION_RESULTS_FENCE,
  ANNOTATION_WRITTEN_AT_VERSION,
  FINALIZER_TELEMETRY,
  LABEL_ITEM_INDEX,
  LABEL_JOB_NAME,
  LABEL_STORE,
} from '../../src/api/constants.js';
import type { MapReduceJobStatus } from '../../src/api/types.js';
import {
  ACTIVE_ONLY_WRITE_INTERVAL_MS,
  EXPECTATIONS_RECHECK_MARGIN_MS,
} from '../../src/controller/controller.js';
import { EXPECTATIONS_TIMEOUT_MS } from '../../src/controller/expectations.js';
import { itemsSelector } from '../../src/controller/itemstore.js';
import { MAX_POD_CHANGES_PER_SYNC } from '../../src/controller/managepods.js';
import { ownerReference } from '../../src/controller/ownership.js';
import { ControllerHarness } from '../support/controllerharness.js';
import { makeJob } from '../support/jobbuilder.js';
import type { JobBuilder } from '../support/jobbuilder.js';
import { at, mapPod } from '../support/podstates.js';
import type { AgentPodBuilder } from '../support/podstates.js';
import { RecordingHooks } from '../support/recording.js';
import { leftPiece } from '../support/resultpieces.js';

const KEY = 'ns/wc';
const ITEMS_LIST = `listNamespacedConfigMap ns ${itemsSelector('wc')}`;
/** The job's results pieces, listed once the status that ends it is written (unlisted ones go). */
const RESULTS_LIST = 'listNamespacedConfigMap ns mapreduce.dev/job-name=wc,mapreduce.dev/store=results';

function t(seconds: number): string {
  return at(seconds).toISOString();
}

type Conditions = NonNullable<MapReduceJobStatus['conditions']>;

function condition(
  type: Conditions[number]['type'],
  status: 'True' | 'False',
  reason: string,
  message: string,
  since = t(0),
): Conditions[number] {
  return { type, status, reason, message, lastTransitionTime: since };
}

/** The kstatus conditions of a job in `phase` with these counts (what Flux and kpt read). */
function readiness(phase: string, counts: string, since = t(0)): Conditions {
  return [
    condition('Reconciling', 'True', phase, `${phase}: ${counts}`, since),
    condition('Ready', 'False', phase, `${phase}: ${counts}`, since),
  ];
}

/** The status a running 3-item job has after its first write at t(0); fields override. */
function running(over: Partial<MapReduceJobStatus> = {}): MapReduceJobStatus {
  const status: MapReduceJobStatus = {
    observedGeneration: 1,
    totalItems: 3,
    completedIndexes: '',
    failedIndexes: '',
    succeededItems: 0,
    failedItems: 0,
    retries: 0,
    activeItems: 0,
    startTime: t(0),
    phase: 'Running',
    ...over,
  };
  const counts = `${status.succeededItems}/${status.totalItems} items succeeded, ${status.failedItems} failed`;
  status.conditions ??= readiness('Running', counts);
  return status;
}

/** A permanent error on a job with no conditions yet: Failed, with its reason on Failed and Stalled. */
function failedWith(
  reason: string,
  message: string,
  now: Date,
  prev: MapReduceJobStatus = {},
): MapReduceJobStatus {
  const since = now.toISOString();
  return {
    ...prev,
    phase: 'Failed',
    observedGeneration: 1,
    completionTime: since,
    conditions: [
      condition('Failed', 'True', reason, message, since),
      condition('Stalled', 'True', reason, message, since),
      condition('Ready', 'False', reason, message, since),
      condition('Reconciling', 'False', reason, message, since),
    ],
  };
}

type World = ControllerHarness & { hooks: RecordingHooks };

/** A pod as this world's job owns it. */
function owned(w: World, pod: V1Pod): V1Pod {
  pod.metadata!.ownerReferences = [ownerReference(w.job)];
  return pod;
}

/** Item 0 succeeded (its pod finished at 1 s) while item 1 runs. */
function item0DoneItem1Running(): V1Pod[] {
  return [mapPod(0).succeeded('"A"').obj(), mapPod(1).running().obj()];
}
/** When item 0's result has waited FLUSH_AFTER_MS (10 s) and is stored although item 1 still runs. */
const RESULT_DUE = at(11);

/** The job in a harness whose hooks write into the client's call log. */
function world(builder: JobBuilder, status?: MapReduceJobStatus, now?: Date): World {
  let hooks: RecordingHooks | undefined;
  const w = new ControllerHarness(builder, {
    status,
    now,
    hooks: (client) => (hooks = new RecordingHooks(client.log)),
  });
  return Object.assign(w, { hooks: hooks! });
}

interface Case {
  name: string;
  job: JobBuilder;
  status?: MapReduceJobStatus;
  /** The snapshot of the job's items is stored (default: when status.totalItems is set). */
  snapshot?: boolean;
  pods?: V1Pod[];
  now?: Date;
  setup?: (w: World) => void;
  expect: {
    calls: string[];
    /** The one status written; undefined: none. */
    status?: MapReduceJobStatus;
    returns?: number;
    /** The HTTP status code or message of the error syncJob throws. */
    throws?: number | string;
    /** Expectations are met after the reconcile (default: true). */
    satisfied?: boolean;
    /** The job resourceVersion each stored results piece records, by name (checked when given). */
    pieceVersions?: Record<string, string>;
  };
}

/** Item 0's result stored: the piece named by its first index, created once. */
const STORE_RESULT_0 = 'createNamespacedConfigMap ns/wc-results-0 [0]';
/** A job's first reconcile builds the pods of items 0 and 1, hands over (no) spans, then creates them. */
const TRY_ITEMS_0_1 = ['hook decoratePod map 0/0', 'hook decoratePod map 1/0'];
const START_ITEMS_0_1 = [
  ...TRY_ITEMS_0_1,
  'createNamespacedPod ns/wc-0-0',
  'createNamespacedPod ns/wc-1-0',
  'hook attemptsStarted [map 0/0,map 1/0]',
];
/** Item 0's success is recorded: item 2 takes its slot. */
const START_ITEM_2 = [
  'hook decoratePod map 2/0',
  'createNamespacedPod ns/wc-2-0',
  'hook attemptsStarted [map 2/0]',
];
const WRITE_STATUS = ['replaceNamespacedCustomObjectStatus ns/wc', 'hook statusWritten'];

/** A permanent error before any pod: the Failed status, its hooks and one Warning Event. */
function failJobCalls(reason: string): string[] {
  return ['hook decorateStatus', ...WRITE_STATUS, `createNamespacedEvent ns ${reason}`, 'hook deliver []'];
}

const INVALID_POD = 'Pod "wc-0-0" is invalid: spec.containers[0].name: Invalid value: "Bad_Name"';
const REFUSED = `the API server refused the job's pod: ${INVALID_POD}`;

const three = (): JobBuilder => makeJob('wc').items(['a', 'b', 'c']).parallelism(2);
/** Three items of 400 KB each: one shard each (MAX_ITEMS_SHARD_BYTES is 768 KiB). */
const threeShards = (): JobBuilder =>
  makeJob('wc')
    .items(['a', 'b', 'c'].map((c) => c.repeat(400_000)))
    .parallelism(2);
const one = (): JobBuilder => makeJob('wc').items(['a']).parallelism(1);
const NOT_FOUND_MESSAGE = 'spec.input.configMapRef: ConfigMap ns/in not found';
const SNAPSHOT_LOST =
  "the job's input snapshot (ConfigMaps labelled mapreduce.dev/job-name=wc) has 0 items, expected 3; were they deleted?";

/** The status that ends the one-item job: its item succeeded at 1 s, the job completes at 5 s. */
function oneCompleted(): MapReduceJobStatus {
  return running({
    totalItems: 1,
    completedIndexes: '0',
    succeededItems: 1,
    resultPieces: '0',
    phase: 'Succeeded',
    completionTime: t(5),
    conditions: [
      condition('Reconciling', 'False', 'Completed', '1/1 items succeeded, 0 failed', t(5)),
      condition('Ready', 'True', 'Completed', '1/1 items succeeded, 0 failed', t(5)),
      condition('Complete', 'True', 'Completed', 'all 1 items processed', t(5)),
    ],
  });
}

const cases: Case[] = [
  {
    name: 'a job the cache no longer has: nothing to do',
    job: three(),
    setup: (w) => (w.jobs.items = []),
    expect: { calls: [] },
  },
  {
    name: 'pods it created are not in the cache yet: waits, touching nothing, at most until the expectations expire',
    job: three(),
    status: running(),
    setup: (w) => w.expectations.expectCreate(KEY, 'wc-0-0'),
    expect: {
      calls: [],
      satisfied: false,
      returns: EXPECTATIONS_TIMEOUT_MS + EXPECTATIONS_RECHECK_MARGIN_MS,
    },
  },
  {
    name: 'a new job: snapshot written, first `parallelism` pods created, status Running, Event Started',
    job: three(),
    expect: {
      calls: [
        ITEMS_LIST,
        'createNamespacedConfigMap ns/wc-items-0 [0,1,2]',
        'hook decorateStatus',
        ...START_ITEMS_0_1,
        ...WRITE_STATUS,
        'createNamespacedEvent ns Started',
        'hook deliver []',
      ],
      status: running(),
      satisfied: false,
    },
  },
  {
    name: 'a snapshot written by a reconcile whose status write did not land is kept, not rewritten',
    job: three(),
    snapshot: true,
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        ...START_ITEMS_0_1,
        ...WRITE_STATUS,
        'createNamespacedEvent ns Started',
        'hook deliver []',
      ],
      status: running(),
      satisfied: false,
    },
  },
  {
    name: 'a partial snapshot (a crash mid-write) is replaced',
    job: three(),
    setup: (w) => {
      w.withSnapshot();
      w.client.configMaps[0]!.metadata!.annotations = {}; // written before totals were recorded: not known complete
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'deleteNamespacedConfigMap ns/wc-items-0',
        'createNamespacedConfigMap ns/wc-items-0 [0,1,2]',
        'hook decorateStatus',
        ...START_ITEMS_0_1,
        ...WRITE_STATUS,
        'createNamespacedEvent ns Started',
        'hook deliver []',
      ],
      status: running(),
      satisfied: false,
    },
  },
  {
    name: 'a snapshot cut short (a shard request failed) keeps the shards written as planned, writes the rest',
    job: threeShards(),
    setup: (w) => {
      w.withSnapshot();
      w.client.configMaps.splice(2, 1); // wc-items-2 was never written
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'createNamespacedConfigMap ns/wc-items-2 [2]',
        'hook decorateStatus',
        ...START_ITEMS_0_1,
        ...WRITE_STATUS,
        'createNamespacedEvent ns Started',
        'hook deliver []',
      ],
      status: running(),
      satisfied: false,
    },
  },
  {
    name: 'a partial snapshot of another input (it changed since): the shard that differs is replaced',
    job: threeShards(),
    setup: (w) => {
      w.withSnapshot();
      w.client.configMaps.splice(2, 1);
      w.client.configMaps[1]!.data = { '1': '"changed"' };
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'deleteNamespacedConfigMap ns/wc-items-1',
        'createNamespacedConfigMap ns/wc-items-1 [1]',
        'createNamespacedConfigMap ns/wc-items-2 [2]',
        'hook decorateStatus',
        ...START_ITEMS_0_1,
        ...WRITE_STATUS,
        'createNamespacedEvent ns Started',
        'hook deliver []',
      ],
      status: running(),
      satisfied: false,
    },
  },
  {
    name: 'a ConfigMap input that does not exist: the job fails with InputNotFound, no pod',
    job: makeJob('wc').configMapInput('in', 'items.json'),
    expect: {
      calls: ['readNamespacedConfigMap ns/in', ...failJobCalls('InputNotFound')],
      status: failedWith('InputNotFound', NOT_FOUND_MESSAGE, at(0)),
    },
  },
  {
    name: 'a ConfigMap input without the key: InputNotFound naming the key',
    job: makeJob('wc').configMapInput('in', 'items.json'),
    setup: (w) => w.client.configMaps.push({ metadata: { name: 'in' }, data: { other: '[]' } }),
    expect: {
      calls: ['readNamespacedConfigMap ns/in', ...failJobCalls('InputNotFound')],
      status: failedWith(
        'InputNotFound',
        'spec.input.configMapRef: ConfigMap ns/in has no key "items.json"',
        at(0),
      ),
    },
  },
  {
    name: 'two items with one id: the job fails with DuplicateItemId before any snapshot',
    job: makeJob('wc')
      .items([{ id: 'x' }, { id: 'x' }])
      .idPath('$.id'),
    expect: {
      calls: [...failJobCalls('DuplicateItemId')],
      status: failedWith('DuplicateItemId', 'spec.input.idPath: items 0 and 1 have the same id "x"', at(0)),
    },
  },
  {
    name: 'an item too large for the snapshot: InputInvalid, nothing stored',
    job: makeJob('wc').items(['x'.repeat(600 * 1024)]),
    expect: {
      calls: [...failJobCalls('InputInvalid')],
      status: failedWith('InputInvalid', 'item 0 is 614402 bytes as JSON; the limit is 524288', at(0)),
    },
  },
  {
    name: 'the input snapshot was deleted: InputInvalid saying so, not a silent re-run',
    job: three(),
    status: running(),
    snapshot: false,
    now: at(5),
    expect: {
      calls: [ITEMS_LIST, ...failJobCalls('InputInvalid')],
      status: {
        ...running(),
        phase: 'Failed',
        completionTime: t(5),
        conditions: [
          condition('Reconciling', 'False', 'InputInvalid', SNAPSHOT_LOST, t(5)), // was True: moves
          condition('Ready', 'False', 'InputInvalid', SNAPSHOT_LOST, t(0)), // was False: keeps its time
          condition('Failed', 'True', 'InputInvalid', SNAPSHOT_LOST, t(5)),
          condition('Stalled', 'True', 'InputInvalid', SNAPSHOT_LOST, t(5)),
        ],
      },
    },
  },
  {
    name: 'an item succeeds: result stored, then spans, then the next pod, then the status',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        ...START_ITEM_2,
        ...WRITE_STATUS,
        'hook deliver [wc-0-0]',
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1, resultPieces: '0' }),
      satisfied: false,
    },
  },
  {
    name: 'a piece a lost status write left, holding other results, unlisted, its writer outdated: replaced',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    setup: (w) => {
      w.client.configMaps.push(leftPiece(w.job, 0, { 0: '"old"', 1: '"gone"' }, '6'));
      w.client.storedJob = w.job; // resourceVersion 7, its status as cached
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        'readNamespacedConfigMap ns/wc-results-0',
        'getNamespacedCustomObject ns/wc',
        'deleteNamespacedConfigMap ns/wc-results-0',
        STORE_RESULT_0,
        ...START_ITEM_2,
        ...WRITE_STATUS,
        'hook deliver [wc-0-0]',
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1, resultPieces: '0' }),
      satisfied: false,
    },
  },
  {
    name: 'a piece a lost status write left, holding only results stored now: listed as it is, its annotation ours',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    setup: (w) => {
      w.client.configMaps.push(leftPiece(w.job, 0, { 0: '"A"' }, '6'));
      w.client.storedJob = w.job; // read past the cache: the job is at the version this reconcile read
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        'readNamespacedConfigMap ns/wc-results-0',
        'getNamespacedCustomObject ns/wc',
        `patchNamespacedConfigMap ns/wc-results-0 {"metadata":{"resourceVersion":"50","annotations":{"${ANNOTATION_WRITTEN_AT_VERSION}":"7"}}}`,
        ...START_ITEM_2,
        ...WRITE_STATUS,
        'hook deliver [wc-0-0]',
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1, resultPieces: '0' }),
      satisfied: false,
    },
  },
  {
    name: 'a piece a paused replica left at this version, holding fewer results: listed as it is, the rest beside it, both in the status',
    job: three(),
    status: running(),
    pods: [mapPod(0).succeeded('"A"').obj(), mapPod(1).succeeded('"B"').obj()],
    setup: (w) => w.client.configMaps.push(leftPiece(w.job, 0, { 0: '"A"' }, '7')),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        'createNamespacedConfigMap ns/wc-results-0 [0,1]',
        'readNamespacedConfigMap ns/wc-results-0',
        'createNamespacedConfigMap ns/wc-results-1 [1]',
        ...START_ITEM_2,
        ...WRITE_STATUS,
        'hook deliver [wc-0-0,wc-1-0]',
      ],
      status: running({ completedIndexes: '0-1', succeededItems: 2, activeItems: 0, resultPieces: '0-1' }),
      satisfied: false,
    },
  },
  {
    name: 'a piece with other results that the fresh status lists (this cache is behind): kept, retried',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    setup: (w) => {
      w.client.configMaps.push(leftPiece(w.job, 0, { 0: '"A"', 1: '"B"' }, '6'));
      w.client.storedJob = {
        ...w.job,
        metadata: { ...w.job.metadata, resourceVersion: '8' },
        status: running({ completedIndexes: '0-1', succeededItems: 2, resultPieces: '0' }),
      };
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        'readNamespacedConfigMap ns/wc-results-0',
        'getNamespacedCustomObject ns/wc',
      ],
      throws:
        "results piece ConfigMap ns/wc-results-0: it holds other results and the job's status lists it (this replica's cache is behind); retrying",
    },
  },
  {
    name: 'a piece with other results, written at the job’s current resourceVersion (its status write may land): the job is moved past it, retried',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    setup: (w) => {
      w.client.configMaps.push(leftPiece(w.job, 0, { 0: '"A"', 1: '"B"' }, '7'));
      w.client.storedJob = w.job;
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        'readNamespacedConfigMap ns/wc-results-0',
        'getNamespacedCustomObject ns/wc',
        `patchNamespacedCustomObject ns/wc annotations={"${ANNOTATION_RESULTS_FENCE}":"wc-results-0@7"}`,
      ],
      throws: `results piece ConfigMap ns/wc-results-0: it holds other results, written at the job's resourceVersion 7; the job was moved past it (${ANNOTATION_RESULTS_FENCE}), so no status write can list it; retrying`,
    },
  },
  {
    name: 'a sampled job gets its finalizer and stores a piece in one reconcile: the piece records the version after the patch',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    setup: (w) => (w.hooks.holdJob = true),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        'patchNamespacedCustomObject ns/wc finalizers=mapreduce.dev/telemetry',
        STORE_RESULT_0,
        ...START_ITEM_2,
        ...WRITE_STATUS,
        'hook deliver [wc-0-0]',
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1, resultPieces: '0' }),
      pieceVersions: { 'wc-results-0': '101' },
      satisfied: false,
    },
  },
  {
    name: 'a results piece of an earlier job of the same name is never taken as ours: retried',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    setup: (w) => {
      const foreign = leftPiece(w.job, 0, { 0: '"theirs"' });
      foreign.metadata!.ownerReferences![0]!.uid = 'uid-of-the-old-job';
      w.client.configMaps.push(foreign);
    },
    expect: {
      calls: [ITEMS_LIST, 'hook decorateStatus', STORE_RESULT_0, 'readNamespacedConfigMap ns/wc-results-0'],
      throws:
        'ConfigMap ns/wc-results-0 belongs to another owner (an earlier job of this name?); waiting for it to go',
    },
  },
  {
    name: 'results cannot be stored: no spans, no pod change, no status; the error is retried',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    setup: (w) => w.client.fail('createNamespacedConfigMap', 500, 'ns/wc-results-0'),
    expect: {
      calls: [ITEMS_LIST, 'hook decorateStatus', STORE_RESULT_0],
      throws: 500,
    },
  },
  {
    name: 'a recorded pod whose span is not delivered yet: deleted all the same, its finalizer kept; nothing waits',
    job: three(),
    status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1 }),
    pods: [
      mapPod(0).succeeded('"A"').tracked().obj(),
      mapPod(1).running().tracked().obj(),
      mapPod(2).running().obj(),
    ],
    setup: (w) => w.hooks.unsettledPods.add('wc-0-0'),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        // Handed to the background releaser: no release (the pod stays readable until its span is delivered)
        'deleteNamespacedPod ns/wc-0-0',
        'hook attemptsStarted []',
        ...WRITE_STATUS,
        'hook deliver [wc-0-0]', // handed over (again) from what the status says
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 2 }),
      // A finished pod counts for nothing in the job's state: no expectation waits for its deletion.
      satisfied: true,
    },
  },
  {
    name: 'a pod create fails: slow start stops at the first batch, an Event says why, the error is retried',
    job: three(),
    status: running(),
    setup: (w) => w.client.fail('createNamespacedPod', 500),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        ...TRY_ITEMS_0_1,
        'createNamespacedPod ns/wc-0-0',
        'hook attemptsStarted []',
        'hook statusWritten',
        'createNamespacedEvent ns PodCreateFailed',
        'hook deliver []',
      ],
      throws: 500,
    },
  },
  {
    name: 'a pod the API server refuses as invalid (422): Failed, PodTemplateInvalid, its message; no retry',
    job: three(),
    status: running(),
    setup: (w) => w.client.fail('createNamespacedPod', 422, undefined, INVALID_POD),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        ...TRY_ITEMS_0_1,
        'createNamespacedPod ns/wc-0-0',
        'hook attemptsStarted []',
        ...failJobCalls('PodTemplateInvalid').slice(1), // the reconcile's status was decorated already
      ],
      status: {
        ...running(),
        phase: 'Failed',
        completionTime: t(0),
        conditions: [
          condition('Reconciling', 'False', 'PodTemplateInvalid', REFUSED),
          condition('Ready', 'False', 'PodTemplateInvalid', REFUSED),
          condition('Failed', 'True', 'PodTemplateInvalid', REFUSED),
          condition('Stalled', 'True', 'PodTemplateInvalid', REFUSED),
        ],
      },
    },
  },
  {
    name: 'a pod of that name owned by an earlier job of the same name is not ours: retried, with an Event',
    job: three(),
    status: running(),
    setup: (w) => {
      w.client.fail('createNamespacedPod', 409, 'ns/wc-0-0');
      const old = mapPod(0).obj();
      old.metadata!.ownerReferences = [{ ...ownerReference(w.job), uid: 'uid-0' }];
      w.client.pods = [old];
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        ...TRY_ITEMS_0_1,
        'createNamespacedPod ns/wc-0-0',
        'readNamespacedPod ns/wc-0-0',
        'hook attemptsStarted []',
        'hook statusWritten',
        'createNamespacedEvent ns PodCreateFailed',
        'hook deliver []',
      ],
      throws: 'pod ns/wc-0-0 belongs to another owner (an earlier job of this name?); waiting for it to go',
    },
  },
  {
    name: 'a pod that already exists (created by an earlier reconcile) is not counted as started',
    job: three(),
    status: running(),
    setup: (w) => {
      w.client.fail('createNamespacedPod', 409, 'ns/wc-0-0');
      w.client.pods = [owned(w, mapPod(0).obj())];
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        ...TRY_ITEMS_0_1,
        'createNamespacedPod ns/wc-0-0',
        'readNamespacedPod ns/wc-0-0',
        'createNamespacedPod ns/wc-1-0',
        'hook attemptsStarted [map 1/0]',
        'hook statusWritten',
        'hook deliver []',
      ],
      satisfied: false,
    },
  },
  {
    name: 'pods of items the status records are deleted; one already gone (404) is fine',
    job: three(),
    status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1 }),
    pods: [mapPod(0).succeeded('"A"').obj(), mapPod(1).running().obj(), mapPod(2).running().obj()],
    setup: (w) => w.client.fail('deleteNamespacedPod', 404),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        'deleteNamespacedPod ns/wc-0-0', // in the background: the reconcile goes on meanwhile
        'hook attemptsStarted []',
        ...WRITE_STATUS,
        'hook deliver []',
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 2 }),
    },
  },
  {
    name: 'a tracked pod of a recorded item is deleted, then released from its finalizer',
    job: three(),
    status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1 }),
    pods: [
      mapPod(0).succeeded('"A"').tracked().obj(),
      mapPod(1).running().tracked().obj(),
      mapPod(2).running().obj(),
    ],
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        // In the background: a finished pod is deleted, then gone with its release; the reconcile goes on.
        'deleteNamespacedPod ns/wc-0-0',
        'hook attemptsStarted []',
        'replaceNamespacedCustomObjectStatus ns/wc',
        'patchNamespacedPod ns/wc-0-0 release',
        'hook statusWritten',
        'hook released [wc-0-0]',
        'hook deliver []',
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 2 }),
      satisfied: true,
    },
  },
  {
    name: 'a succeeded pod someone deleted before it was counted: its finalizer kept it, its result is stored',
    job: three(),
    status: running(),
    pods: [mapPod(0).succeeded('"A"').tracked().deleting(at(8)).obj(), mapPod(1).running().tracked().obj()],
    now: RESULT_DUE,
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        ...START_ITEM_2,
        ...WRITE_STATUS,
        'hook deliver [wc-0-0]',
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1, resultPieces: '0' }),
      satisfied: false,
    },
  },
  {
    name: 'a counted pod someone already deleted is only released (no second delete)',
    job: three(),
    status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 1 }),
    pods: [
      mapPod(0).succeeded('"A"').tracked().deleting(at(8)).obj(),
      mapPod(1).running().tracked().obj(),
      mapPod(2).running().obj(),
    ],
    now: at(10),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        'patchNamespacedPod ns/wc-0-0 release', // in the background
        'hook attemptsStarted []',
        'replaceNamespacedCustomObjectStatus ns/wc',
        'hook released [wc-0-0]',
        'hook statusWritten',
        'hook deliver []',
      ],
      status: running({ completedIndexes: '0', succeededItems: 1, activeItems: 2 }),
      // Its deletion was seen already (the cache shows the deletionTimestamp): nothing more is awaited.
      satisfied: true,
    },
  },
  {
    name: 'a retried item: the failed attempt is reported and its pod goes once the retry’s pod is seen',
    job: one().backoffLimitPerItem(2),
    status: running({ totalItems: 1 }),
    pods: [mapPod(0).failed(1, 'Error', at(1)).tracked().obj(), mapPod(0, 1).running().tracked().obj()],
    now: at(3),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        'deleteNamespacedPod ns/wc-0-0', // in the background: deleted, then gone with its release
        'hook attemptsStarted []',
        'replaceNamespacedCustomObjectStatus ns/wc',
        'patchNamespacedPod ns/wc-0-0 release',
        'hook statusWritten',
        'hook released [wc-0-0]',
        'hook deliver [wc-0-0]',
      ],
      status: running({ totalItems: 1, activeItems: 1 }),
      satisfied: true,
    },
  },
  {
    name: 'a job being deleted (foreground) creates nothing and releases its pods for the garbage collector',
    job: three(),
    status: running({ activeItems: 1 }),
    pods: [mapPod(0).running().tracked().obj(), mapPod(1).succeeded('"B"').obj()],
    setup: (w) => (w.job.metadata.deletionTimestamp = at(4)),
    expect: { calls: ['patchNamespacedPod ns/wc-0-0 release'] },
  },
  {
    name: 'a job being deleted with the telemetry finalizer: its running pod is marked cancelled and stopped, held for its span',
    job: three(),
    status: running({ activeItems: 1 }),
    pods: [mapPod(0).running().tracked().obj(), mapPod(1).succeeded('"B"').tracked().obj()],
    setup: (w) => {
      w.job.metadata.deletionTimestamp = at(4);
      w.job.metadata.finalizers = [FINALIZER_TELEMETRY];
      w.hooks.unsettledPods.add('wc-0-0');
      w.hooks.holdJob = true;
    },
    expect: {
      calls: [
        `patchNamespacedPod ns/wc-0-0 {"metadata":{"annotations":{"${ANNOTATION_CANCELLED_AT}":"${t(4)}"}}}`,
        'patchNamespacedPod ns/wc-1-0 release', // its span settled: released
        'deleteNamespacedPod ns/wc-0-0',
        'hook released [wc-1-0]',
        'hook decorateStatus',
        'hook statusWritten',
        'hook deliver [wc-0-0]',
      ],
      satisfied: false,
    },
  },
  {
    name: 'a job being deleted whose spans settled: the telemetry finalizer goes, so the job can',
    job: three(),
    status: running({ activeItems: 0 }),
    pods: [mapPod(1).succeeded('"B"').tracked().obj()],
    setup: (w) => {
      w.job.metadata.deletionTimestamp = at(4);
      w.job.metadata.finalizers = ['other.example/keep', FINALIZER_TELEMETRY];
    },
    expect: {
      calls: [
        'patchNamespacedPod ns/wc-1-0 release',
        'hook released [wc-1-0]',
        'hook decorateStatus',
        'hook statusWritten',
        'hook deliver []',
        'patchNamespacedCustomObject ns/wc finalizers=other.example/keep',
      ],
    },
  },
  {
    name: 'a sampled job’s first reconcile adds the telemetry finalizer before any pod exists',
    job: three(),
    setup: (w) => (w.hooks.holdJob = true),
    expect: {
      calls: [
        ITEMS_LIST,
        'createNamespacedConfigMap ns/wc-items-0 [0,1,2]',
        'hook decorateStatus',
        'patchNamespacedCustomObject ns/wc finalizers=mapreduce.dev/telemetry',
        'hook decoratePod map 0/0',
        'hook decoratePod map 1/0',
        'createNamespacedPod ns/wc-0-0',
        'createNamespacedPod ns/wc-1-0',
        'hook attemptsStarted [map 0/0,map 1/0]',
        ...WRITE_STATUS,
        'createNamespacedEvent ns Started',
        'hook deliver []',
      ],
      status: running({ totalItems: 3, activeItems: 0 }),
      satisfied: false,
    },
  },
  {
    name: 'a job that is gone: pods still tracked under its name are released',
    job: three(),
    pods: [mapPod(0).running().tracked().obj(), mapPod(1).succeeded('"B"').obj()],
    setup: (w) => (w.jobs.items = []),
    expect: { calls: ['patchNamespacedPod ns/wc-0-0 release'] },
  },
  {
    name: 'the status write conflicts (stale cache): no statusWritten hook, no Events, retried',
    job: three(),
    status: running(),
    pods: item0DoneItem1Running(),
    now: RESULT_DUE,
    setup: (w) => w.client.fail('replaceNamespacedCustomObjectStatus', 409),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        ...START_ITEM_2,
        'replaceNamespacedCustomObjectStatus ns/wc',
      ],
      throws: 409,
      satisfied: false,
    },
  },
  {
    name: 'a failed item waits out its backoff: nothing written, look again when it ends',
    job: one().backoffLimitPerItem(2),
    status: running({ totalItems: 1 }),
    pods: [mapPod(0).failed(1, 'Error', at(1)).obj()],
    now: at(1.25),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        'hook attemptsStarted []',
        'hook statusWritten',
        'hook deliver []',
      ],
      returns: 750,
    },
  },
  {
    name: 'after its backoff the item is retried as attempt 1, with an Event',
    job: one().backoffLimitPerItem(2),
    status: running({ totalItems: 1 }),
    pods: [mapPod(0).failed(1, 'Error', at(1)).obj()],
    now: at(2),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        'hook decoratePod map 0/1',
        'createNamespacedPod ns/wc-0-1',
        'hook attemptsStarted [map 0/1]',
        'hook statusWritten',
        'createNamespacedEvent ns ItemRetried',
        'hook deliver []',
      ],
      satisfied: false,
    },
  },
  {
    name: 'the last item succeeds: the job completes, and is looked at again when its TTL passes',
    job: one().ttlSecondsAfterFinished(60),
    status: running({ totalItems: 1 }),
    pods: [mapPod(0).succeeded('"A"', at(1)).obj()],
    now: at(5),
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        'hook attemptsStarted []',
        ...WRITE_STATUS,
        'createNamespacedEvent ns Completed',
        RESULTS_LIST,
        'hook deliver [wc-0-0]',
      ],
      status: oneCompleted(),
      returns: 60_000,
    },
  },
  {
    name: "a results piece the status never listed (a leader killed before its status write) goes once the job ends; another owner's stays",
    job: one().ttlSecondsAfterFinished(60),
    status: running({ totalItems: 1 }),
    pods: [mapPod(0).succeeded('"A"', at(1)).obj()],
    now: at(5),
    setup: (w) => {
      const piece = (name: string, uid: string): V1ConfigMap => ({
        metadata: {
          name,
          uid: `cm-${name}`,
          labels: { [LABEL_JOB_NAME]: 'wc', [LABEL_STORE]: 'results' },
          ownerReferences: [{ ...ownerReference(w.job), uid }],
        },
        data: { '0': '"A"' },
      });
      w.client.configMaps.push(piece('wc-results-7', w.job.metadata.uid!), piece('wc-results-8', 'uid-0'));
    },
    expect: {
      calls: [
        ITEMS_LIST,
        'hook decorateStatus',
        STORE_RESULT_0,
        'hook attemptsStarted []',
        ...WRITE_STATUS,
        'createNamespacedEvent ns Completed',
        RESULTS_LIST,
        'deleteNamespacedConfigMap ns/wc-results-7',
        'hook deliver [wc-0-0]',
      ],
      status: oneCompleted(),
      returns: 60_000,
    },
  },
  {
    name: 'a finished job within its TTL: its pods are released, look again when the TTL ends',
    job: one().ttlSecondsAfterFinished(60),
    status: running({
      totalItems: 1,
      completedIndexes: '0',
      succeededItems: 1,
      phase: 'Succeeded',
      completionTime: t(5),
    }),
    pods: [mapPod(0).succeeded('"A"', at(1)).obj()],
    now: at(20),
    expect: {
      calls: [
        'hook decorateStatus',
        'deleteNamespacedPod ns/wc-0-0', // in the background
        'hook statusWritten',
        'hook deliver []',
      ],
      returns: 45_000,
      satisfied: true,
    },
  },
  {
    name: 'a finished job past its TTL is deleted, this very one (uid precondition)',
    job: one().ttlSecondsAfterFinished(60),
    status: running({
      totalItems: 1,
      completedIndexes: '0',
      succeededItems: 1,
      phase: 'Succeeded',
      completionTime: t(5),
    }),
    pods: [mapPod(0).succeeded('"A"', at(1)).obj()],
    now: at(65),
    expect: { calls: ['deleteNamespacedCustomObject ns/wc uid=uid-1'] },
  },
  {
    name: 'a finished job past its TTL that someone else deleted first (404): done',
    job: one().ttlSecondsAfterFinished(60),
    status: running({
      totalItems: 1,
      completedIndexes: '0',
      succeededItems: 1,
      phase: 'Succeeded',
      completionTime: t(5),
    }),
    now: at(65),
    setup: (w) => w.client.fail('deleteNamespacedCustomObject', 404),
    expect: { calls: ['deleteNamespacedCustomObject ns/wc uid=uid-1'] },
  },
  {
    name: 'a spec edit after the job finished is observed, so GitOps waits end',
    job: one(),
    status: running({
      totalItems: 1,
      completedIndexes: '0',
      succeededItems: 1,
      phase: 'Succeeded',
      completionTime: t(5),
      observedGeneration: 0,
    }),
    now: at(30),
    expect: {
      calls: ['hook decorateStatus', ...WRITE_STATUS, 'hook deliver []'],
      status: running({
        totalItems: 1,
        completedIndexes: '0',
        succeededItems: 1,
        phase: 'Succeeded',
        completionTime: t(5),
      }),
    },
  },
  {
    name: 'a failed job without a TTL keeps only its newest failed pod',
    job: makeJob('wc').items(['a', 'b']),
    status: running({
      totalItems: 2,
      failedIndexes: '0-1',
      failedItems: 2,
      phase: 'Failed',
      completionTime: t(5),
    }),
    pods: [mapPod(0, 2).failed(1, 'Error', at(1)).obj(), mapPod(1, 2).failed(1, 'Error', at(2)).obj()],
    now: at(30),
    expect: {
      calls: [
        'hook decorateStatus',
        'deleteNamespacedPod ns/wc-0-2', // in the background
        'hook statusWritten',
        'hook deliver []',
      ],
      satisfied: true,
    },
  },
];

describe('syncJob', function () {
  for (const tc of cases) {
    it(tc.name, async function () {
      const w = world(tc.job, tc.status, tc.now);
      if (tc.snapshot ?? tc.status?.totalItems !== undefined) w.withSnapshot();
      w.withPods(tc.pods ?? []);
      tc.setup?.(w);
      let returned: number | undefined;
      let thrown: unknown;
      try {
        returned = await w.sync();
      } catch (err) {
        thrown = err;
      }
      expect(w.client.log).to.deep.equal(tc.expect.calls);
      expect(w.client.statusWrites.map((j) => j.status)).to.deep.equal(
        tc.expect.status ? [tc.expect.status] : [],
      );
      if (typeof tc.expect.throws === 'number') {
        expect(thrown).to.be.instanceOf(ApiException).with.property('code', tc.expect.throws);
      } else if (tc.expect.throws !== undefined) {
        expect((thrown as Error | undefined)?.message).to.equal(tc.expect.throws);
      } else {
        expect(thrown).to.equal(undefined);
        expect(returned).to.equal(tc.expect.returns);
      }
      expect(w.expectations.satisfied(KEY)).to.equal(tc.expect.satisfied ?? true);
      if (tc.expect.pieceVersions)
        expect(
          Object.fromEntries(
            w.client.configMaps
              .filter((cm) => cm.metadata?.annotations?.[ANNOTATION_WRITTEN_AT_VERSION] !== undefined)
              .map((cm) => [cm.metadata!.name!, cm.metadata!.annotations![ANNOTATION_WRITTEN_AT_VERSION]]),
          ),
        ).to.deep.equal(tc.expect.pieceVersions);
    });
  }

  it('a pod event that never comes (a watch broken by an API server restart) holds the job only until its expectations expire', async function () {
    const w = world(three());
    await w.sync(); // creates wc-0-0 and wc-1-0; the cache never shows them
    const calls = w.client.log.length;
    const wait = await w.sync();
    expect(wait).to.equal(EXPECTATIONS_TIMEOUT_MS + EXPECTATIONS_RECHECK_MARGIN_MS);
    expect(w.client.log.length).to.equal(calls);
    w.now = new Date(w.now.getTime() + wait!);
    await w.sync(); // looked at again when told: the expectations have expired, so it reconciles
    expect(w.client.log.slice(calls, calls + 1)).to.deep.equal([ITEMS_LIST]);
  });

  it('waits for the pods it created to reach the cache, then goes on', async function () {
    const w = world(three());
    await w.sync();
    expect(w.expectations.satisfied(KEY)).to.equal(false);
    expect(w.controller.podChanged(mapPod(0).running().obj(), 'add')).to.equal(undefined); // no owner: not ours
    const [pod0, pod1] = w.withPods([mapPod(0).running().obj(), mapPod(1).running().obj()]).pods.items;
    expect(w.controller.podChanged(pod0!, 'update')).to.equal(KEY); // an update is no sign of the create
    expect(w.expectations.satisfied(KEY)).to.equal(false);
    expect(w.controller.podChanged(pod0!, 'add')).to.equal(KEY);
    expect(w.expectations.satisfied(KEY)).to.equal(false);
    expect(w.controller.podChanged(pod1!, 'add')).to.equal(KEY);
    expect(w.expectations.satisfied(KEY)).to.equal(true);
  });

  it('reconciles the job for a pod event that may change what it decides, not for the others', function () {
    const w = world(three());
    const owned = (b: AgentPodBuilder): V1Pod => {
      const pod = b.obj();
      pod.metadata!.ownerReferences = [ownerReference(w.job)];
      return pod;
    };
    const events: [string, 'add' | 'update' | 'delete', V1Pod][] = [
      ['created', 'add', owned(mapPod(0).tracked())],
      ['bound to a node', 'update', owned(mapPod(0).tracked().scheduled())],
      ['running', 'update', owned(mapPod(0).tracked().scheduled().running())],
      ['succeeded', 'update', owned(mapPod(0).tracked().succeeded('"A"'))],
      ['annotated', 'update', owned(mapPod(0).tracked().succeeded('"A"').annotate('x', 'y'))],
      ['released', 'update', owned(mapPod(0).succeeded('"A"'))],
      ['deleted', 'delete', owned(mapPod(0).succeeded('"A"'))],
      ['item 1 running', 'update', owned(mapPod(1).tracked().running())], // first seen in an update
      ['item 1 running again', 'update', owned(mapPod(1).tracked().running())],
      ['item 1 deleted by someone', 'update', owned(mapPod(1).tracked().running().deleting(at(2)))],
      ['item 2 running', 'add', owned(mapPod(2).tracked().running())],
      ['item 2 orphaned', 'update', mapPod(2).tracked().running().obj()],
      ['item 2 failed', 'update', mapPod(2).tracked().failed(1).obj()],
      ['item 2 failed, other exit code', 'update', mapPod(2).tracked().failed(2).obj()],
      ['item 3 running', 'add', owned(mapPod(3).tracked().running())],
      [
        'item 3 cancelled',
        'update',
        owned(mapPod(3).tracked().running().annotate(ANNOTATION_CANCELLED_AT, at(5).toISOString())),
      ],
      ['item 4 running', 'add', owned(mapPod(4).tracked().running())],
      ['item 4 orphaned and released: no job', 'update', mapPod(4).running().obj()],
      ['item 4 as first added', 'update', owned(mapPod(4).tracked().running())], // forgotten: first sight
    ];
    expect(events.map(([what, verb, pod]) => [what, w.controller.podChanged(pod, verb)])).to.deep.equal([
      ['created', KEY],
      ['bound to a node', undefined],
      ['running', undefined],
      ['succeeded', KEY],
      ['annotated', undefined],
      ['released', KEY],
      ['deleted', KEY],
      ['item 1 running', KEY],
      ['item 1 running again', undefined],
      ['item 1 deleted by someone', KEY],
      ['item 2 running', KEY],
      ['item 2 orphaned', KEY], // found by its job-name label
      ['item 2 failed', KEY],
      ['item 2 failed, other exit code', KEY],
      ['item 3 running', KEY],
      ['item 3 cancelled', KEY],
      ['item 4 running', KEY],
      ['item 4 orphaned and released: no job', undefined],
      ['item 4 as first added', KEY],
    ]);
  });

  it('after its own status write, waits for the cache to show it (at most STATUS_CACHE_WAIT_MS)', async function () {
    const w = world(three());
    await w.sync();
    w.expectations.forget(KEY);
    const calls = w.client.log.length;
    w.now = at(3);
    expect(await w.sync()).to.equal(7_000); // the cache still holds resourceVersion 7
    expect(w.client.log.length).to.equal(calls);
    w.now = at(10);
    await w.sync(); // waited long enough: goes ahead on what the cache has
    expect(w.client.log.slice(calls, calls + 1)).to.deep.equal([ITEMS_LIST]);
  });

  it(`writes a change of activeItems alone at most every ACTIVE_ONLY_WRITE_INTERVAL_MS (${ACTIVE_ONLY_WRITE_INTERVAL_MS} ms); any other change at once`, async function () {
    const w = world(makeJob('wc').items(['a', 'b', 'c']).parallelism(3).backoffLimitPerItem(0));
    const t = (ms: number): Date => new Date(at(0).getTime() + ms);
    const steps: [number | undefined, number | undefined][] = [];
    const step = async (ms: number, pods: V1Pod[] = []): Promise<void> => {
      const writes = w.client.statusWrites.length;
      const again = await w.reconcile(t(ms), pods);
      steps.push([again, w.client.statusWrites.slice(writes)[0]?.status?.activeItems]);
    };
    await step(0); // creates the three pods: the first status (the cache shows none of them yet)
    await step(100, [mapPod(0).running().obj(), mapPod(1).running().obj(), mapPod(2).running().obj()]); // 0 -> 3
    await step(400, [mapPod(0).succeeded('"A"', t(300)).obj()]); // -> 2: still kept
    await step(1_000); // the interval has passed: written
    await step(1_200, [mapPod(1).failed(1, 'Error', t(1_100)).obj()]); // item 1 failed for good: at once
    expect(steps).to.deep.equal([
      [undefined, 0],
      [900, undefined], // kept; looked at again when the interval has passed
      [600, undefined],
      [9_300, 2], // (then when item 0's result is due, at 10.3 s)
      [undefined, 0],
    ]);
    expect(w.job.status?.phase).to.equal('Failed');
  });

  it('releases tracked pods an earlier job of the same name left, and maps an orphan to its job by label', async function () {
    const w = world(three(), running());
    w.withSnapshot();
    const old = mapPod(0).succeeded('"old"').tracked().obj();
    old.metadata!.ownerReferences = [{ ...ownerReference(w.job), uid: 'uid-0' }];
    const orphan = mapPod(1).succeeded('"orphan"').tracked().obj(); // no owner: deleted with propagationPolicy=Orphan
    w.pods.items = [old, orphan];
    expect(w.controller.podChanged(orphan, 'update')).to.equal(KEY);
    await w.sync();
    expect(w.client.log.filter((c) => c.startsWith('patchNamespacedPod'))).to.deep.equal([
      'patchNamespacedPod ns/wc-0-0 release',
      'patchNamespacedPod ns/wc-1-0 release',
    ]);
    expect(w.client.deletedPods).to.deep.equal([]); // not ours to delete: only our finalizer goes
  });

  it('creates, and deletes, at most MAX_POD_CHANGES_PER_SYNC pods in one reconcile; the rest follow', async function () {
    const total = MAX_POD_CHANGES_PER_SYNC + 100;
    const w = world(
      makeJob('wc')
        .items(Array.from({ length: total }, (_, i) => i))
        .parallelism(total)
        .activeDeadlineSeconds(4),
    );
    const running = (): V1Pod[] =>
      w.client.createdPods.map((p) =>
        owned(w, mapPod(Number(p.metadata!.labels![LABEL_ITEM_INDEX])).running().obj()),
      );
    await w.reconcile(at(0));
    const createdFirst = w.client.createdPods.length;
    await w.reconcile(at(1), running());
    const createdThen = w.client.createdPods.length;
    await w.reconcile(at(5), running()); // past the deadline: the job fails and every running pod goes
    const deletedFirst = w.client.deletedPods.length;
    await w.reconcile(at(6));
    expect([
      createdFirst,
      createdThen,
      w.job.status?.phase,
      deletedFirst,
      w.client.deletedPods.length,
    ]).to.deep.equal([MAX_POD_CHANGES_PER_SYNC, total, 'Failed', MAX_POD_CHANGES_PER_SYNC, total]);
  });

  it('frees the item snapshot from memory once the job has finished', async function () {
    const w = world(one());
    await w.reconcile(at(0), []);
    const held = w.items.heldJobs;
    await w.reconcile(at(2), [owned(w, mapPod(0).succeeded('"A"', at(1)).obj())]);
    const phase = w.job.status?.phase;
    await w.reconcile(at(3), []);
    expect([held, phase, w.items.heldJobs]).to.deep.equal([1, 'Succeeded', 0]);
  });

  it('forgets what it kept for a job once the job is deleted', async function () {
    const w = world(three());
    await w.sync();
    expect(w.expectations.satisfied(KEY)).to.equal(false);
    w.controller.jobDeleted(w.job);
    expect(w.expectations.satisfied(KEY)).to.equal(true);
  });
});
