// Re-runs (spec.input.fromJob): which failed items are taken and every refusal (planRerun, a table), and a
// re-run's reconciles through the real syncJob with a recording client: its snapshot keeps the original
// indexes and ids, it becomes an owner of the earlier results it merges, and its reduce mounts them all.
import { expect } from 'chai';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { LABEL_JOB_NAME, LABEL_STORE } from '../../src/api/constants.js';
import type { FailedItemDetail, MapReduceJob, MapReduceJobStatus } from '../../src/api/types.js';
import { ANNOTATION_TOTAL_ITEMS, shardItems } from '../../src/controller/itemstore.js';
import { ownerReference } from '../../src/controller/ownership.js';
import { MAX_CARRIED_JOBS, planRerun } from '../../src/controller/rerun.js';
import { InputError, resolveItems } from '../../src/input/resolve.js';
import { observePod } from '../../src/controller/podobservation.js';
import { spanId } from '../../src/telemetry/ids.js';
import { agentSpan, jobSpan, jobTraceOf } from '../../src/telemetry/spans.js';
import { ControllerHarness, HARNESS_UID } from '../support/controllerharness.js';
import { makeJob } from '../support/jobbuilder.js';
import type { JobBuilder } from '../support/jobbuilder.js';
import { at, mapPod, reducePod } from '../support/podstates.js';

const SOURCE_UID = 'uid-earlier';
const SOURCE_TRACE = '0af7651916cd43dd8448eb211c80319c';
const SOURCE_SPAN = 'b7ad6b7169203331';

function detail(index: number, reason = 'Error', exitCode = 1): FailedItemDetail {
  return { index, id: `id-${index}`, attempts: 3, reason, exitCode };
}

/** A finished 6-item job "wc" in ns: items 1 and 4 failed (exit 3 and OOMKilled 137), the rest succeeded. */
function earlier(over: Partial<MapReduceJobStatus> = {}, builder?: JobBuilder): MapReduceJob {
  const job = (builder ?? makeJob('wc').items(['a', 'b', 'c', 'd', 'e', 'f']).idPath('$')).obj();
  job.metadata = { ...job.metadata, namespace: 'ns', uid: SOURCE_UID, generation: 1 };
  job.status = {
    phase: 'Failed',
    totalItems: 6,
    succeededItems: 4,
    failedItems: 2,
    completedIndexes: '0,2-3,5',
    failedIndexes: '1,4',
    resultPieces: '0',
    failedItemDetails: [detail(1, 'Error', 3), detail(4, 'OOMKilled', 137)],
    traceID: SOURCE_TRACE,
    trace: { spanID: SOURCE_SPAN, sampled: true },
    ...over,
  };
  return job;
}

function rerunJob(builder: JobBuilder): MapReduceJob {
  const job = builder.obj();
  job.metadata = { ...job.metadata, namespace: 'ns', uid: HARNESS_UID, generation: 1 };
  return job;
}

interface PlanCase {
  name: string;
  job: JobBuilder;
  source: MapReduceJob | undefined;
  expect: { indexes: number[]; carried?: string[] } | { reason: string; message: string };
}

const planCases: PlanCase[] = [
  {
    name: 'takes every failed item of a finished job',
    job: makeJob('rr').fromJob('wc'),
    source: earlier(),
    expect: { indexes: [1, 4] },
  },
  {
    name: 'takes only the failed items with a given reason',
    job: makeJob('rr').fromJob('wc', { reasons: ['OOMKilled'] }),
    source: earlier(),
    expect: { indexes: [4] },
  },
  {
    name: 'takes only the failed items with a given exit code',
    job: makeJob('rr').fromJob('wc', { exitCodes: [3] }),
    source: earlier(),
    expect: { indexes: [1] },
  },
  {
    name: 'with mergeResults, carries the earlier job’s succeeded results',
    job: makeJob('rr').fromJob('wc', { mergeResults: true }),
    source: earlier(),
    expect: { indexes: [1, 4], carried: ['wc 0,2-3,5 pieces 0 (4)'] },
  },
  {
    name: 'a re-run of a merged re-run carries what that one carried, and its own results',
    job: makeJob('rr2').fromJob('rr', { mergeResults: true }),
    source: (() => {
      const rr = earlier(
        {
          phase: 'Failed',
          totalItems: 2,
          succeededItems: 1,
          failedItems: 1,
          completedIndexes: '1',
          failedIndexes: '4',
          resultPieces: '1',
          failedItemDetails: [detail(4, 'OOMKilled', 137)],
          fromJob: {
            name: 'wc',
            uid: SOURCE_UID,
            indexSpace: 6,
            failedAttempt: 2,
            results: [{ job: 'wc', resultPieces: '0', indexes: '0,2-3,5', count: 4 }],
          },
        },
        makeJob('rr').fromJob('wc', { mergeResults: true }),
      );
      rr.metadata.name = 'rr';
      return rr;
    })(),
    expect: { indexes: [4], carried: ['wc 0,2-3,5 pieces 0 (4)', 'rr 1 pieces 1 (1)'] },
  },
  {
    name: 'refuses a job that does not exist: SourceJobNotFound',
    job: makeJob('rr').fromJob('wc'),
    source: undefined,
    expect: { reason: 'SourceJobNotFound', message: 'spec.input.fromJob: MapReduceJob ns/wc not found' },
  },
  {
    name: 'refuses a job being deleted: SourceJobNotFound',
    job: makeJob('rr').fromJob('wc'),
    source: (() => {
      const j = earlier();
      j.metadata.deletionTimestamp = at(0);
      return j;
    })(),
    expect: {
      reason: 'SourceJobNotFound',
      message: 'spec.input.fromJob: MapReduceJob ns/wc not found (it is being deleted)',
    },
  },
  {
    name: 'refuses a job still running: SourceJobNotFinished',
    job: makeJob('rr').fromJob('wc'),
    source: earlier({ phase: 'Running' }),
    expect: {
      reason: 'SourceJobNotFinished',
      message:
        'spec.input.fromJob: MapReduceJob ns/wc is Running; a re-run takes the failed items of a finished job',
    },
  },
  {
    name: 'refuses a job without failed items: SourceJobHasNoFailedItems',
    job: makeJob('rr').fromJob('wc'),
    source: earlier({ phase: 'Succeeded', failedIndexes: '', failedItems: 0, failedItemDetails: [] }),
    expect: {
      reason: 'SourceJobHasNoFailedItems',
      message: 'spec.input.fromJob: MapReduceJob ns/wc has no failed items',
    },
  },
  {
    name: 'refuses filters that match no failed item: SourceJobHasNoFailedItems',
    job: makeJob('rr').fromJob('wc', { reasons: ['DeadlineExceeded'] }),
    source: earlier(),
    expect: {
      reason: 'SourceJobHasNoFailedItems',
      message: 'spec.input.fromJob: MapReduceJob ns/wc has no failed items that match the filters (2 failed)',
    },
  },
  {
    name: 'refuses another namespace: SourceJobInOtherNamespace',
    job: makeJob('rr').fromJob('wc', { namespace: 'team-b' }),
    source: earlier(),
    expect: {
      reason: 'SourceJobInOtherNamespace',
      message:
        'spec.input.fromJob.namespace: "team-b" is not this job\'s namespace "ns"; a re-run takes the failed items of a job in its own namespace',
    },
  },
  {
    name: 'refuses filters when the dead-letter list does not hold every failed item: InputInvalid',
    job: makeJob('rr').fromJob('wc', { exitCodes: [1] }),
    source: earlier({ failedItemDetails: [detail(4)] }),
    expect: {
      reason: 'InputInvalid',
      message:
        "spec.input.fromJob: filtering by reasons or exitCodes needs every failed item's record, and ns/wc's dead-letter list holds 1 of its 2 failed items; leave the filters out to re-run them all",
    },
  },
  {
    name: `refuses to merge the results of more than ${MAX_CARRIED_JOBS} earlier jobs: InputInvalid`,
    job: makeJob('rr').fromJob('wc', { mergeResults: true }),
    source: earlier({
      fromJob: {
        name: 'older',
        uid: 'u',
        indexSpace: 6,
        failedAttempt: 2,
        results: Array.from({ length: MAX_CARRIED_JOBS }, (_, i) => ({
          job: `older-${i}`,
          resultPieces: '0',
          indexes: '0',
          count: 1,
        })),
      },
    }),
    expect: {
      reason: 'InputInvalid',
      message: `spec.input.fromJob: merging would read the results of ${MAX_CARRIED_JOBS + 1} earlier jobs, more than ${MAX_CARRIED_JOBS}; re-run without mergeResults`,
    },
  },
];

describe('planRerun', function () {
  for (const tc of planCases) {
    it(tc.name, function () {
      const run = (): ReturnType<typeof planRerun> => planRerun(rerunJob(tc.job), tc.source);
      if ('reason' in tc.expect) {
        let thrown: unknown;
        try {
          run();
        } catch (err) {
          thrown = err;
        }
        expect(thrown).to.be.instanceOf(InputError);
        expect((thrown as InputError).reason).to.equal(tc.expect.reason);
        expect((thrown as InputError).message).to.equal(tc.expect.message);
        return;
      }
      const plan = run();
      expect(plan.indexes).to.deep.equal(tc.expect.indexes);
      expect(plan.status.uid).to.equal(SOURCE_UID);
      expect(plan.status.indexSpace).to.equal(6);
      expect(plan.status.failedAttempt).to.equal(2);
      expect(plan.status.traceID).to.equal(SOURCE_TRACE);
      expect(plan.status.spanID).to.equal(SOURCE_SPAN);
      expect(
        plan.status.results?.map((c) => `${c.job} ${c.indexes} pieces ${c.resultPieces} (${c.count})`),
      ).to.deep.equal(tc.expect.carried);
    });
  }
});

/** The earlier job's input snapshot and its one result piece, as its reconciles stored them. */
function earlierConfigMaps(source: MapReduceJob): V1ConfigMap[] {
  const items = resolveItems(source.spec.input);
  const shards = shardItems('wc', items).map((s): V1ConfigMap => ({
    metadata: {
      name: s.name,
      namespace: 'ns',
      labels: { [LABEL_JOB_NAME]: 'wc', [LABEL_STORE]: 'items' },
      annotations: { [ANNOTATION_TOTAL_ITEMS]: String(items.length) },
      ownerReferences: [ownerReference(source)],
    },
    data: s.data,
  }));
  const piece: V1ConfigMap = {
    metadata: {
      name: 'wc-results-0',
      namespace: 'ns',
      resourceVersion: '42',
      labels: { [LABEL_JOB_NAME]: 'wc', [LABEL_STORE]: 'results' },
      ownerReferences: [ownerReference(source)],
    },
    data: { '0': 'A', '2': 'C', '3': 'D', '5': 'F' },
  };
  return [...shards, piece];
}

describe('a re-run, reconciled (syncJob with a recording client)', function () {
  function harness(builder: JobBuilder, source = earlier()): ControllerHarness {
    const h = new ControllerHarness(builder.reduce('sum'));
    h.jobs.items.push(source);
    h.client.configMaps.push(...earlierConfigMaps(source));
    return h;
  }

  it('takes the failed items with their indexes and ids, keeps the earlier results, and reduces over all', async function () {
    const h = harness(makeJob('rr').fromJob('wc', { mergeResults: true }).parallelism(5));
    await h.reconcile(at(0));
    expect(h.client.log.filter((l) => /ConfigMap/.test(l))).to.deep.equal([
      `listNamespacedConfigMap ns mapreduce.dev/job-name=wc,mapreduce.dev/store=items`,
      `listNamespacedConfigMap ns mapreduce.dev/job-name=wc,mapreduce.dev/store=results`,
      `patchNamespacedConfigMap ns/wc-results-0 {"metadata":{"ownerReferences":[{"apiVersion":"mapreduce.dev/v1alpha1","kind":"MapReduceJob","name":"wc","uid":"${SOURCE_UID}","controller":true,"blockOwnerDeletion":true},{"apiVersion":"mapreduce.dev/v1alpha1","kind":"MapReduceJob","name":"rr","uid":"${HARNESS_UID}"}],"resourceVersion":"42"}}`,
      `listNamespacedConfigMap ns mapreduce.dev/job-name=rr,mapreduce.dev/store=items`,
      `createNamespacedConfigMap ns/rr-items-0 [1,4,1.id,4.id]`,
    ]);
    expect(h.created().map((p) => [p.env.MAPREDUCE_ITEM_INDEX, p.env.MAPREDUCE_ITEM_ID])).to.deep.equal([
      ['1', 'b'],
      ['4', 'e'],
    ]);
    expect(h.client.createdPods.map((p) => p.metadata?.name)).to.deep.equal(['rr-1-0', 'rr-4-0']);
    const status = h.job.status!;
    expect(status.totalItems).to.equal(2);
    expect(status.fromJob).to.deep.equal({
      name: 'wc',
      uid: SOURCE_UID,
      indexSpace: 6,
      failedAttempt: 2,
      traceID: SOURCE_TRACE,
      spanID: SOURCE_SPAN,
      sampled: true,
      results: [{ job: 'wc', resultPieces: '0', indexes: '0,2-3,5', count: 4 }],
    });

    // The earlier job may go now: the re-run reads its own snapshot from here on (from its ConfigMaps, as a
    // restarted operator would).
    h.jobs.items = h.jobs.items.filter((j) => j.metadata.name !== 'wc');
    h.items.forget(HARNESS_UID);
    await h.reconcile(at(2), [
      mapPod(1, 0, 'rr').succeeded('B').obj(),
      mapPod(4, 0, 'rr').succeeded('E').obj(),
    ]);
    expect(h.job.status?.completedIndexes).to.equal('1,4');
    expect(h.job.status?.phase).to.equal('Reducing');
    await h.reconcile(at(3)); // the status recording every item is written: the reduce pod goes in
    const reduce = h.client.createdPods.find((p) => p.metadata?.name === 'rr-reduce-0')!;
    const env = Object.fromEntries((reduce.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect([
      env.MAPREDUCE_TOTAL_ITEMS,
      env.MAPREDUCE_SUCCEEDED_ITEMS,
      env.MAPREDUCE_FAILED_ITEMS,
    ]).to.deep.equal(['6', '6', '0']);
    const volume = reduce.spec?.volumes?.find((v) => v.name === 'mapreduce-results');
    expect(volume?.projected?.sources?.map((s) => s.configMap?.name)).to.deep.equal([
      'wc-results-0',
      'rr-results-1',
    ]);
    expect(h.client.configMaps.find((c) => c.metadata?.name === 'rr-results-1')?.data).to.deep.equal({
      '1': 'B',
      '4': 'E',
    });

    await h.reconcile(at(4), [reducePod(0, 'rr').succeeded('sum of 6').obj()]);
    expect(h.job.status?.phase).to.equal('Succeeded');
    expect(h.job.status?.result).to.equal('sum of 6');
  });

  it('without mergeResults, its reduce sees its own results only and no earlier piece is touched', async function () {
    const h = harness(makeJob('rr').fromJob('wc').parallelism(5));
    await h.reconcile(at(0));
    expect(h.client.log.some((l) => l.startsWith('patchNamespacedConfigMap'))).to.equal(false);
    await h.reconcile(at(2), [
      mapPod(1, 0, 'rr').succeeded('B').obj(),
      mapPod(4, 0, 'rr').succeeded('E').obj(),
    ]);
    await h.reconcile(at(3)); // the status recording every item is written: the reduce pod goes in
    const reduce = h.client.createdPods.find((p) => p.metadata?.name === 'rr-reduce-0')!;
    const env = Object.fromEntries((reduce.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect([env.MAPREDUCE_TOTAL_ITEMS, env.MAPREDUCE_SUCCEEDED_ITEMS]).to.deep.equal(['2', '2']);
    const volume = reduce.spec?.volumes?.find((v) => v.name === 'mapreduce-results');
    expect(volume?.projected?.sources?.map((s) => s.configMap?.name)).to.deep.equal(['rr-results-1']);
  });

  it('fails with SourceJobNotFinished, a condition and an Event, when the earlier job still runs', async function () {
    const h = harness(makeJob('rr').fromJob('wc'), earlier({ phase: 'Running' }));
    await h.reconcile(at(0));
    expect(h.job.status?.phase).to.equal('Failed');
    expect(h.job.status?.conditions?.find((c) => c.type === 'Failed')?.reason).to.equal(
      'SourceJobNotFinished',
    );
    expect(h.eventReasons()).to.deep.equal(['SourceJobNotFinished']);
    expect(h.client.createdPods).to.deep.equal([]);
  });

  it('fails with InputNotFound when the earlier job’s input snapshot is gone', async function () {
    const h = harness(makeJob('rr').fromJob('wc'));
    h.client.configMaps = h.client.configMaps.filter((c) => c.metadata?.labels?.[LABEL_STORE] !== 'items');
    await h.reconcile(at(0));
    expect(h.job.status?.conditions?.find((c) => c.type === 'Failed')?.message).to.equal(
      'spec.input.fromJob: the input snapshot of ns/wc (ConfigMaps labelled mapreduce.dev/job-name=wc,mapreduce.dev/store=items) is gone or incomplete',
    );
    expect(h.eventReasons()).to.deep.equal(['InputNotFound']);
  });
});

describe('a re-run’s spans link to the earlier trace', function () {
  const env = { resource: resourceFromAttributes({}), version: 'test' };
  const job = rerunJob(makeJob('rr').fromJob('wc'));
  job.status = {
    phase: 'Succeeded',
    totalItems: 2,
    traceID: '4bf92f3577b34da6a3ce929d0e0e4736',
    trace: { spanID: '00f067aa0ba902b7', sampled: true },
    fromJob: {
      name: 'wc',
      uid: SOURCE_UID,
      indexSpace: 6,
      failedAttempt: 2,
      traceID: SOURCE_TRACE,
      spanID: SOURCE_SPAN,
      sampled: true,
    },
  };
  const jt = jobTraceOf(job, { ...job.status.trace!, traceID: job.status.traceID! });

  function links(span: { links: { context: { traceId: string; spanId: string }; attributes?: object }[] }) {
    return span.links.map((l) => ({ trace: l.context.traceId, span: l.context.spanId, ...l.attributes }));
  }

  it('the job span links to the earlier job span (rerun_of)', function () {
    const span = jobSpan(jt, env, job, job.status!, at(0), at(10));
    expect(links(span)).to.deep.equal([
      { trace: SOURCE_TRACE, span: SOURCE_SPAN, 'mapreduce.link.type': 'rerun_of' },
    ]);
  });

  it('an item’s first attempt links to the failed attempt it replaces; a retry to its own previous attempt', function () {
    const first = agentSpan(jt, env, observePod(mapPod(4, 0, 'rr').succeeded('E').obj())!, 'e');
    expect(links(first)).to.deep.equal([
      {
        trace: SOURCE_TRACE,
        span: spanId(SOURCE_TRACE, SOURCE_UID, { kind: 'agent', phase: 'map', index: 4, attempt: 2 }),
        'mapreduce.link.type': 'replaces_failed_attempt',
      },
    ]);
    const retry = agentSpan(jt, env, observePod(mapPod(4, 1, 'rr').succeeded('E').obj())!, 'e');
    expect(links(retry)).to.deep.equal([
      {
        trace: job.status!.traceID,
        span: spanId(job.status!.traceID!, HARNESS_UID, {
          kind: 'agent',
          phase: 'map',
          index: 4,
          attempt: 0,
        }),
        'mapreduce.link.type': 'previous_attempt',
      },
    ]);
  });
});
